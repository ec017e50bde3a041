/* daemon: the long-running node process; wires the loop, the control socket and (later) the cluster planes. */
#ifndef SWARMNODE_DAEMON_H
#define SWARMNODE_DAEMON_H

#include "swarmnode/config.h"

/* Runs until SIGINT or SIGTERM. Returns the process exit status: 0 after a
 * clean shutdown, 1 when it could not start (the reason is logged). */
int daemon_run(const struct config *config);

#endif
