/* cmd_daemon: `swarmnode daemon`, the long-running node process. */
#include "commands.h"

#include <stdio.h>

#include "swarmnode/config.h"
#include "swarmnode/daemon.h"

static int cmd_daemon(struct cli *cli, int argc, char **argv)
{
	struct config config;
	char err[512];
	config_defaults(&config);
	int rc = config_from_args(&config, argc, argv, err, sizeof(err));
	if (rc == 1)
		return CLI_OK;
	if (rc != 0) {
		fprintf(stderr, "swarmnode daemon: %s\nSee 'swarmnode daemon --help'.\n", err);
		return CLI_USAGE;
	}
	return daemon_run(&config) == 0 ? CLI_OK : CLI_ERROR;
}

const struct cli_command cmd_daemon_def = {
	.name = "daemon", .args = "", .summary = "Run the swarmnode daemon on this machine",
	.run_raw = cmd_daemon,
};
