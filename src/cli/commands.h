/* commands: the command definitions each cmd_*.c file exports to main.c. */
#ifndef SWARMNODE_COMMANDS_H
#define SWARMNODE_COMMANDS_H

#include "swarmnode/cli.h"

extern const struct cli_command cmd_daemon_def;
extern const struct cli_command cmd_version_def;
extern const struct cli_command cmd_info_def;
extern const struct cli_command cmd_log_level_def;
extern const struct cli_command cmd_system_def;
extern const struct cli_command cmd_init_def;
extern const struct cli_command cmd_join_def;
extern const struct cli_command cmd_join_token_def;
extern const struct cli_command cmd_leave_def;
extern const struct cli_command cmd_swarm_def;
extern const struct cli_command cmd_node_def;
extern const struct cli_command cmd_stack_def;
extern const struct cli_command cmd_deploy_def;
extern const struct cli_command cmd_service_def;

#endif
