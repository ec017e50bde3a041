/* Unit tests for the CLI framework: every value of an option given several times, options ending at the first positional. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/cli.h"

/* What the command under test received, copied out of the framework's args. */
static struct {
	int runs;
	size_t n_env;
	char env[4][32];
	char name[32];
	int argc;
	char argv[6][32];
} seen;

enum { OPT_ENV, OPT_NAME, OPT_DETACH };

static const struct cli_option options[] = {
	[OPT_ENV] = {"env", 'e', "list", "an environment variable"},
	[OPT_NAME] = {"name", 0, "string", "a name"},
	[OPT_DETACH] = {"detach", 'd', NULL, "a flag"},
	{0},
};

static int record(struct cli *cli, const struct cli_args *args)
{
	(void)cli;
	memset(&seen, 0, sizeof(seen));
	seen.runs = 1;
	seen.n_env = args->nvalues[OPT_ENV];
	for (size_t i = 0; i < seen.n_env && i < 4; i++)
		strcpy(seen.env[i], args->values[OPT_ENV][i]);
	if (args->values[OPT_ENV] != NULL && args->values[OPT_ENV][seen.n_env] != NULL)
		seen.n_env = 99; /* not NULL-terminated */
	strcpy(seen.name, args->value[OPT_NAME] ? args->value[OPT_NAME] : "(none)");
	seen.argc = args->argc;
	for (int i = 0; i < args->argc && i < 6; i++)
		strcpy(seen.argv[i], args->argv[i]);
	return CLI_OK;
}

static const struct cli_command leaf = {
	.name = "create", .args = "IMAGE [ARG...]", .summary = "test", .min_args = 1, .max_args = -1,
	.options = options, .options_first = true, .run = record,
};
static const struct cli_command loose = {
	.name = "loose", .args = "X...", .summary = "test", .min_args = 0, .max_args = -1,
	.options = options, .run = record,
};
static const struct cli_command *const subs[] = {&leaf, &loose, NULL};
static const struct cli_command root = {.name = "swarmnode", .summary = "test", .sub = subs};

/* Runs the command line on writable copies (the framework cuts "--flag=value" in place). */
static int run(int argc, char **argv)
{
	char *copy[16];
	for (int i = 0; i < argc; i++)
		copy[i] = strdup(argv[i]);
	copy[argc] = NULL;
	memset(&seen, 0, sizeof(seen));
	int rc = cli_main(&root, argc, copy);
	for (int i = 0; i < argc; i++)
		free(copy[i]);
	return rc;
}

static void repeated_option_keeps_every_value_in_order(void **state)
{
	(void)state;
	char *argv[] = {"swarmnode", "create", "-e", "A=1", "--env", "B=2", "--env=C=3", "--name", "x",
			"--name", "web", "img", NULL};
	assert_int_equal(run(12, argv), CLI_OK);
	assert_int_equal(seen.runs, 1);
	assert_int_equal(seen.n_env, 3);
	assert_string_equal(seen.env[0], "A=1");
	assert_string_equal(seen.env[1], "B=2");
	assert_string_equal(seen.env[2], "C=3");
	assert_string_equal(seen.name, "web"); /* value[] keeps the last one */
	assert_int_equal(seen.argc, 1);
}

static void absent_option_has_no_values(void **state)
{
	(void)state;
	char *argv[] = {"swarmnode", "create", "img", NULL};
	assert_int_equal(run(3, argv), CLI_OK);
	assert_int_equal(seen.n_env, 0);
	assert_string_equal(seen.name, "(none)");
}

static void options_end_at_the_first_positional_when_asked(void **state)
{
	(void)state;
	char *argv[] = {"swarmnode", "create", "-d", "img", "ls", "-l", "--env", "X", NULL};
	assert_int_equal(run(8, argv), CLI_OK);
	assert_int_equal(seen.argc, 5);
	assert_string_equal(seen.argv[0], "img");
	assert_string_equal(seen.argv[2], "-l");
	assert_string_equal(seen.argv[4], "X");
	assert_int_equal(seen.n_env, 0);
	char *argv2[] = {"swarmnode", "loose", "a", "-e", "X=1", "b", NULL};
	assert_int_equal(run(6, argv2), CLI_OK);
	assert_int_equal(seen.argc, 2);
	assert_int_equal(seen.n_env, 1);
	char *argv3[] = {"swarmnode", "loose", "a", "--nope", NULL};
	assert_int_equal(run(4, argv3), CLI_USAGE);
	assert_int_equal(seen.runs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(repeated_option_keeps_every_value_in_order),
		cmocka_unit_test(absent_option_has_no_values),
		cmocka_unit_test(options_end_at_the_first_positional_when_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
