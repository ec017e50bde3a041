/* Unit tests for `swarmnode stack config`: what it prints and its exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "swarmnode/stack.h"
#include "commands.h"

/* Runs `stack config ARGS...` with stdout and stderr captured into out/err (malloc'd). */
static int run_config(char **out, char **err, int argc, char **argv)
{
	const struct cli_command *config = cmd_stack_def.sub[0];
	assert_string_equal(config->name, "config");
	FILE *o = tmpfile(), *e = tmpfile();
	assert_non_null(o);
	assert_non_null(e);
	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
	dup2(fileno(o), STDOUT_FILENO);
	dup2(fileno(e), STDERR_FILENO);
	int rc = config->run_raw(NULL, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	FILE *files[2] = {o, e};
	char **texts[2] = {out, err};
	for (int i = 0; i < 2; i++) {
		long n = ftell(files[i]);
		rewind(files[i]);
		*texts[i] = calloc(1, (size_t)n + 1);
		assert_int_equal(fread(*texts[i], 1, (size_t)n, files[i]), (size_t)n);
		fclose(files[i]);
	}
	return rc;
}

static void prints_the_specs_stack_load_makes(void **state)
{
	(void)state;
	char base[1024], over[1024];
	snprintf(base, sizeof(base), "%s/base.yml", STACK_FILES_DIR);
	snprintf(over, sizeof(over), "%s/override.yml", STACK_FILES_DIR);
	char *argv[] = {"config", "-c", base, "--compose-file", over, "shop", NULL};
	char *out, *err;
	assert_int_equal(run_config(&out, &err, 6, argv), CLI_OK);
	assert_string_equal(err, "");
	json_t *printed = json_loads(out, 0, NULL);
	assert_non_null(printed);
	struct stack_source files[] = {{.path = base}, {.path = over}};
	struct stack *s;
	struct stack_diag diag;
	assert_int_equal(stack_load(files, 2, NULL, "shop", &s, &diag), 0);
	json_t *expected = stack_to_json(s);
	assert_true(json_equal(printed, expected));
	json_decref(expected);
	json_decref(printed);
	stack_free(s);
	free(out);
	free(err);
}

static void warnings_go_to_stderr(void **state)
{
	(void)state;
	const char *yaml = "services:\n  web:\n    image: x\n    build: .\n";
	char path[] = "/tmp/test_stack_cli_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	char *argv[] = {"config", "-c", path, "w", NULL};
	char *out, *err;
	assert_int_equal(run_config(&out, &err, 4, argv), CLI_OK);
	assert_string_equal(err, "Ignoring unsupported options: build\n\n");
	assert_non_null(strstr(out, "\"Name\": \"w_web\""));
	free(out);
	free(err);
	unlink(path);
}

static void bad_file_exits_1_with_its_error(void **state)
{
	(void)state;
	char bad[1024];
	snprintf(bad, sizeof(bad), "%s/syntax.yml", STACK_FILES_DIR);
	char *argv[] = {"config", "-c", bad, NULL};
	char *out, *err;
	assert_int_equal(run_config(&out, &err, 3, argv), CLI_ERROR);
	assert_string_equal(out, "");
	char expected[1200];
	snprintf(expected, sizeof(expected),
		 "%s:5:3: did not find expected ',' or ']' (while parsing a flow sequence at line 4, column 12)\n", bad);
	assert_string_equal(err, expected);
	free(out);
	free(err);
}

static void usage_errors_exit_2(void **state)
{
	(void)state;
	char *no_file[] = {"config", NULL};
	char *two_names[] = {"config", "-c", "x.yml", "a", "b", NULL};
	char *dangling[] = {"config", "-c", NULL};
	char *unknown[] = {"config", "--prune", NULL};
	struct {
		int argc;
		char **argv;
		const char *err;
	} cases[] = {
		{1, no_file, "swarmnode: please specify a stack file (-c FILE)\n"},
		{5, two_names, "swarmnode: \"config\" requires at most 1 argument\n"},
		{2, dangling, "swarmnode: flag needs an argument: -c\n"},
		{2, unknown, "swarmnode: unknown flag: --prune\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err, expected[256];
		assert_int_equal(run_config(&out, &err, cases[i].argc, cases[i].argv), CLI_USAGE);
		snprintf(expected, sizeof(expected), "%sSee 'swarmnode stack config --help'.\n", cases[i].err);
		assert_string_equal(err, expected);
		free(out);
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prints_the_specs_stack_load_makes),
		cmocka_unit_test(warnings_go_to_stderr),
		cmocka_unit_test(bad_file_exits_1_with_its_error),
		cmocka_unit_test(usage_errors_exit_2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
