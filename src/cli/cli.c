/* cli: a table of nested commands, options with generated help, exit codes. */
#include "swarmnode/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/config.h"

void cli_errorf(const char *fmt, ...)
{
	va_list ap;
	fputs("swarmnode: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_format_bytes(double bytes, char *buf, size_t len)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;
	while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%.4g%s", bytes, units[u]);
}

static void cli_print_path(struct cli *cli, FILE *out)
{
	fputs("swarmnode", out);
	for (int i = 0; i < cli->depth; i++)
		fprintf(out, " %s", cli->path[i]);
}

static void cli_group_usage(struct cli *cli, const struct cli_command *group, FILE *out)
{
	fputs("Usage: ", out);
	cli_print_path(cli, out);
	fprintf(out, "%s COMMAND\n\n%s\n\nCommands:\n", cli->depth == 0 ? " [OPTIONS]" : "", group->summary);
	for (const struct cli_command *const *c = group->sub; *c; c++)
		fprintf(out, "  %-12s %s\n", (*c)->name, (*c)->summary);
	if (cli->depth == 0)
		fputs("\nOptions:\n"
		      "  -H, --host string   daemon socket (unix:///PATH); default $SWARMNODE_HOST, then\n"
		      "                      $DOCKER_HOST, then the daemon's default socket\n"
		      "  -h, --help          print this help\n", out);
	fputs("\nRun '", out);
	cli_print_path(cli, out);
	fputs(" COMMAND --help' for more information on a command.\n", out);
}

static void cli_leaf_usage(struct cli *cli, const struct cli_command *cmd, FILE *out)
{
	fputs("Usage: ", out);
	cli_print_path(cli, out);
	fprintf(out, "%s%s%s\n\n%s\n", cmd->options ? " [OPTIONS]" : "", *cmd->args ? " " : "", cmd->args,
		cmd->summary);
	fputs("\nOptions:\n", out);
	for (const struct cli_option *o = cmd->options; o && o->name; o++) {
		char lhs[48];
		snprintf(lhs, sizeof(lhs), "%s%c%s--%s %s", o->short_name ? "-" : "   ",
			 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "", o->name,
			 o->arg ? o->arg : "");
		fprintf(out, "  %-28s %s\n", lhs, o->help);
	}
	fprintf(out, "  %-28s %s\n", "-h, --help", "print this help");
}

static const struct cli_option *cli_find_option(const struct cli_command *cmd, const char *arg,
						int *index)
{
	for (int i = 0; cmd->options && cmd->options[i].name; i++) {
		const struct cli_option *o = &cmd->options[i];
		bool hit = arg[1] == '-' ? strcmp(arg + 2, o->name) == 0
					 : (o->short_name && arg[1] == o->short_name && arg[2] == '\0');
		if (hit) {
			*index = i;
			return o;
		}
	}
	return NULL;
}

/* Appends the value just parsed to the option's list. */
static void cli_keep_value(struct cli_args *out, int idx)
{
	const char **list = realloc(out->values[idx], (out->nvalues[idx] + 2) * sizeof(*list));
	if (list == NULL)
		abort();
	list[out->nvalues[idx]++] = out->value[idx];
	list[out->nvalues[idx]] = NULL;
	out->values[idx] = list;
}

static void cli_args_release(struct cli_args *args)
{
	for (int i = 0; i < CLI_MAX_OPTIONS; i++)
		free(args->values[i]);
	free(args->argv);
}

/* Parses options and positionals of a leaf command. Returns -1 after
 * printing help, CLI_USAGE on a usage error, 0 on success. */
static int cli_parse_leaf(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
			  struct cli_args *out)
{
	memset(out, 0, sizeof(*out));
	out->argv = calloc((size_t)argc + 1, sizeof(char *));
	if (out->argv == NULL)
		abort();
	bool only_positional = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (only_positional || a[0] != '-' || a[1] == '\0') {
			out->argv[out->argc++] = a;
			only_positional = only_positional || cmd->options_first;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_positional = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_leaf_usage(cli, cmd, stdout);
			return -1;
		}
		char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
		if (eq)
			*eq = '\0';
		int idx;
		const struct cli_option *o = cli_find_option(cmd, a, &idx);
		if (o == NULL) {
			cli_errorf("unknown flag: %s", a);
			goto usage;
		}
		if (o->arg == NULL) {
			out->value[idx] = eq ? eq + 1 : "";
		} else if (eq) {
			out->value[idx] = eq + 1;
		} else if (i + 1 < argc) {
			out->value[idx] = argv[++i];
		} else {
			cli_errorf("flag needs an argument: %s", a);
			goto usage;
		}
		cli_keep_value(out, idx);
	}
	if (out->argc < cmd->min_args || (cmd->max_args >= 0 && out->argc > cmd->max_args)) {
		cli_errorf("\"%s\" requires %s%d argument%s", cmd->name,
			   out->argc < cmd->min_args ? "at least " : "at most ",
			   out->argc < cmd->min_args ? cmd->min_args : cmd->max_args,
			   (out->argc < cmd->min_args ? cmd->min_args : cmd->max_args) == 1 ? "" : "s");
		goto usage;
	}
	return 0;
usage:
	fputs("See '", stderr);
	cli_print_path(cli, stderr);
	fputs(" --help'.\n", stderr);
	return CLI_USAGE;
}

static int cli_dispatch(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	if (cmd->run_raw)
		return cmd->run_raw(cli, argc, argv);
	if (cmd->sub == NULL) {
		struct cli_args args;
		int rc = cli_parse_leaf(cli, cmd, argc, argv, &args);
		if (rc == 0)
			rc = cmd->run(cli, &args);
		else if (rc < 0)
			rc = CLI_OK;
		cli_args_release(&args);
		return rc;
	}
	if (argc < 2) {
		cli_group_usage(cli, cmd, stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		cli_group_usage(cli, cmd, stdout);
		return CLI_OK;
	}
	for (const struct cli_command *const *c = cmd->sub; *c; c++) {
		if (strcmp((*c)->name, argv[1]) != 0)
			continue;
		if (cli->depth < 4)
			cli->path[cli->depth++] = (*c)->name;
		return cli_dispatch(cli, *c, argc - 1, argv + 1);
	}
	fputs("swarmnode: unknown command \"", stderr);
	fputs(argv[1], stderr);
	fputs("\" for \"", stderr);
	cli_print_path(cli, stderr);
	fputs("\"\nSee '", stderr);
	cli_print_path(cli, stderr);
	fputs(" --help'.\n", stderr);
	return CLI_USAGE;
}

/* -H value or environment: "unix:///path" or "/path". */
static int cli_set_host(struct cli *cli, const char *host, const char *from)
{
	const char *path = host;
	if (strncmp(host, "unix://", 7) == 0)
		path = host + 7;
	else if (strstr(host, "://")) {
		cli_errorf("unsupported host \"%s\" (from %s): swarmnode's daemon listens on a unix:// socket",
			   host, from);
		return CLI_USAGE;
	}
	if (*path == '\0' || strlen(path) >= sizeof(cli->socket_path)) {
		cli_errorf("invalid host \"%s\" (from %s)", host, from);
		return CLI_USAGE;
	}
	strcpy(cli->socket_path, path);
	return CLI_OK;
}

static int cli_resolve_host(struct cli *cli, const char *flag)
{
	const char *env;
	if (flag)
		return cli_set_host(cli, flag, "-H");
	if ((env = getenv("SWARMNODE_HOST")) && *env)
		return cli_set_host(cli, env, "SWARMNODE_HOST");
	if ((env = getenv("DOCKER_HOST")) && *env)
		return cli_set_host(cli, env, "DOCKER_HOST");
	config_default_socket(cli->socket_path, sizeof(cli->socket_path));
	return CLI_OK;
}

int cli_main(const struct cli_command *root, int argc, char **argv)
{
	struct cli cli = {0};
	const char *host = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-H") == 0 || strcmp(argv[i], "--host") == 0) {
			if (i + 1 >= argc) {
				cli_errorf("flag needs an argument: %s", argv[i]);
				return CLI_USAGE;
			}
			host = argv[++i];
		} else if (strncmp(argv[i], "--host=", 7) == 0) {
			host = argv[i] + 7;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_group_usage(&cli, root, stdout);
			return CLI_OK;
		} else {
			cli_errorf("unknown flag: %s\nSee 'swarmnode --help'.", argv[i]);
			return CLI_USAGE;
		}
	}
	int rc = cli_resolve_host(&cli, host);
	if (rc != CLI_OK)
		return rc;
	/* argv[i-1] stands in for the program name of the root group. */
	rc = cli_dispatch(&cli, root, argc - i + 1, argv + i - 1);
	if (cli.client_ready)
		client_close(&cli.client);
	return rc;
}

struct client *cli_client(struct cli *cli)
{
	if (!cli->client_ready) {
		if (client_init(&cli->client, cli->socket_path) != 0) {
			cli_errorf("%s", cli->client.error);
			exit(CLI_ERROR);
		}
		cli->client_ready = true;
	}
	return &cli->client;
}

int cli_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out)
{
	return cli_report(cli, client_call(cli_client(cli), method, path, body, out));
}

int cli_report(struct cli *cli, long rc)
{
	struct client *c = cli_client(cli);
	if (rc == CLIENT_ECONNECT) {
		fprintf(stderr, "%s\n", c->error);
		return CLI_ERROR;
	}
	if (rc < 0) {
		fprintf(stderr, "swarmnode: %s\n", c->error);
		return CLI_ERROR;
	}
	if (rc >= 400) {
		fprintf(stderr, "Error response from daemon: %s\n", c->error);
		return CLI_ERROR;
	}
	return CLI_OK;
}
