/* main: the swarmnode binary: the daemon and the command line in one. */
#include "commands.h"

static const struct cli_command *const root_commands[] = {
	&cmd_daemon_def,
	&cmd_init_def,
	&cmd_join_def,
	&cmd_join_token_def,
	&cmd_leave_def,
	&cmd_node_def,
	&cmd_service_def,
	&cmd_swarm_def,
	&cmd_stack_def,
	&cmd_deploy_def,
	&cmd_info_def,
	&cmd_version_def,
	&cmd_system_def,
	NULL,
};

static const struct cli_command root = {
	.name = "swarmnode",
	.summary = "A gossip-first Docker Swarm mode node: one binary for the daemon and its command line.",
	.sub = root_commands,
};

int main(int argc, char **argv)
{
	return cli_main(&root, argc, argv);
}
