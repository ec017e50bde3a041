/* cmd_stack: `stack config`: the ServiceSpecs a stack file would deploy, without a daemon. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/stack.h"

extern char **environ;

#define STACK_MAX_FILES 32

static void stack_config_usage(FILE *out)
{
	fputs("Usage: swarmnode stack config -c FILE [-c FILE...] [NAME]\n\n"
	      "Print the service specs and networks a stack would deploy (no daemon needed).\n"
	      "Later files override earlier ones; NAME defaults to the files' name: key,\n"
	      "else the first file's folder name.\n\n"
	      "Options:\n"
	      "  -c, --compose-file FILE      a stack file (repeat to merge several)\n"
	      "  -h, --help                   print this help\n",
	      out);
}

/* Options and positionals; returns CLI_OK, CLI_USAGE, or -1 after --help. */
static int stack_config_args(int argc, char **argv, struct stack_source *files, size_t *n, const char **name)
{
	*n = 0;
	*name = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *file = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			stack_config_usage(stdout);
			return -1;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--compose-file") == 0) {
			if (i + 1 >= argc) {
				cli_errorf("flag needs an argument: %s", a);
				return CLI_USAGE;
			}
			file = argv[++i];
		} else if (strncmp(a, "--compose-file=", 15) == 0) {
			file = a + 15;
		} else if (a[0] == '-' && a[1] != '\0') {
			cli_errorf("unknown flag: %s", a);
			return CLI_USAGE;
		} else if (*name == NULL) {
			*name = a;
		} else {
			cli_errorf("\"config\" requires at most 1 argument");
			return CLI_USAGE;
		}
		if (file && *n == STACK_MAX_FILES) {
			cli_errorf("at most %d stack files", STACK_MAX_FILES);
			return CLI_USAGE;
		}
		if (file)
			files[(*n)++] = (struct stack_source){.path = file};
	}
	if (*n == 0) {
		cli_errorf("please specify a stack file (-c FILE)");
		return CLI_USAGE;
	}
	return CLI_OK;
}

static int cmd_stack_config(struct cli *cli, int argc, char **argv)
{
	struct stack_source files[STACK_MAX_FILES];
	size_t n;
	const char *name;
	int rc = stack_config_args(argc, argv, files, &n, &name);
	if (rc != CLI_OK) {
		if (rc == CLI_USAGE)
			fputs("See 'swarmnode stack config --help'.\n", stderr);
		return rc < 0 ? CLI_OK : rc;
	}
	struct stack *stack;
	struct stack_diag diag;
	if (stack_load(files, n, (const char *const *)environ, name, &stack, &diag) != 0) {
		fputs(diag.messages ? diag.messages : "swarmnode: cannot load the stack\n", stderr);
		stack_diag_free(&diag);
		return CLI_ERROR;
	}
	json_t *warnings = stack_warnings(stack);
	for (size_t i = 0; i < json_array_size(warnings); i++)
		fprintf(stderr, "%s\n\n", json_string_value(json_array_get(warnings, i)));
	json_t *doc = stack_to_json(stack);
	char *text = json_dumps(doc, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(doc);
	stack_free(stack);
	return text ? CLI_OK : CLI_ERROR;
}

static const struct cli_command cmd_stack_config_def = {
	.name = "config", .args = "", .summary = "Print the service specs a stack file would deploy",
	.run_raw = cmd_stack_config,
};

static const struct cli_command *const stack_commands[] = {
	&cmd_stack_config_def,
	NULL,
};

const struct cli_command cmd_stack_def = {
	.name = "stack", .summary = "Manage stacks of services from compose files", .sub = stack_commands,
};
