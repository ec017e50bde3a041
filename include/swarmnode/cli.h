/* cli: the swarmnode command line: a table of nested commands, options with
 * generated help, and the exit codes (0 ok, 1 error, 2 usage). */
#ifndef SWARMNODE_CLI_H
#define SWARMNODE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "swarmnode/client.h"

enum cli_exit {
	CLI_OK = 0,
	CLI_ERROR = 1,
	CLI_USAGE = 2,
};

#define CLI_MAX_OPTIONS 48

struct cli_option {
	const char *name;   /* long name without dashes */
	char short_name;    /* 0 for none */
	const char *arg;    /* value placeholder, NULL for a boolean flag */
	const char *help;
};

/* What the framework parsed for a leaf command. */
struct cli_args {
	const char *value[CLI_MAX_OPTIONS]; /* per option: its (last) value, "" for a set flag, NULL if absent */
	const char **values[CLI_MAX_OPTIONS]; /* per option given several times (-e A=1 -e B=2): every value
					       * in order, NULL-terminated; NULL if absent (owned by the framework) */
	size_t nvalues[CLI_MAX_OPTIONS];    /* how many values[i] holds */
	int argc;                           /* positional arguments */
	char **argv;
};

struct cli;

struct cli_command {
	const char *name;
	const char *args;      /* synopsis of positional arguments, "" for none */
	const char *summary;
	int min_args, max_args;        /* positional bounds; max -1 for any */
	const struct cli_option *options; /* terminated by {0}; NULL for none */
	bool options_first;    /* options end at the first positional (IMAGE [COMMAND ARG...]) */
	int (*run)(struct cli *cli, const struct cli_args *args);
	/* A command that parses its own arguments (daemon): gets argv as typed. */
	int (*run_raw)(struct cli *cli, int argc, char **argv);
	const struct cli_command *const *sub; /* a group: its commands, NULL-terminated */
};

struct cli {
	char socket_path[108];  /* the daemon's socket, from -H, SWARMNODE_HOST, DOCKER_HOST or the default */
	struct client client;
	bool client_ready;
	const char *path[4];    /* command words typed so far, for messages */
	int depth;
};

/* Runs the command line; returns the exit status. */
int cli_main(const struct cli_command *root, int argc, char **argv);

/* The client for the daemon, connected on first use. */
struct client *cli_client(struct cli *cli);

/* Calls the daemon; on failure prints the error the way docker does and
 * returns CLI_ERROR, else CLI_OK with *out (if given) set. */
int cli_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out);

/* What cli_call does with client_call's result rc: prints the error, if any,
 * and returns CLI_OK or CLI_ERROR (for callers that look at the status
 * first, e.g. to retry a 409). */
int cli_report(struct cli *cli, long rc);

/* Prints "swarmnode: message" on stderr. */
__attribute__((format(printf, 1, 2)))
void cli_errorf(const char *fmt, ...);

/* 23.54GiB, as Docker prints sizes. */
void cli_format_bytes(double bytes, char *buf, size_t len);

#endif
