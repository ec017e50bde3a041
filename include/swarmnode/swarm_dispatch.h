/* swarm_dispatch: this node's agent and, on a manager, its dispatcher, wired to the peer streams, the Raft manager and the exec runtime. */
#ifndef SWARMNODE_SWARM_DISPATCH_H
#define SWARMNODE_SWARM_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/identity.h"

struct swarm;

/*
 * Every active node runs an agent (agent.h) with the exec runtime, its tasks
 * under DATA/tasks/. A manager also runs a dispatcher (dispatcher.h) over its
 * store, and its own agent talks to that dispatcher directly (a loopback
 * queue delivers their messages from the loop, never inside the sender's
 * call); a worker's agent talks to the managers it has an up stream to.
 * PEER_MSG_DISPATCH bodies are routed by type: SESSION and STATUS to the
 * dispatcher, ASSIGNMENTS, ACK and LOGS_REQUEST (only from a manager's
 * stream) to the agent, LOGS to this node's log broker (log_broker.h),
 * whose requests go to the agents over the same streams.
 */

/* Starts the agent (gossip and the peer streams are up). Returns 0 or a
 * negative errno with err. */
int swarm_dispatch_start(struct swarm *sw, char *err, size_t errlen);

/* The manager started: serve agents from its store once a read barrier says
 * the store is current (retried every 200 ms while there is no leader).
 * Returns 0; a dispatcher that cannot start is logged. */
int swarm_dispatch_manager_started(struct swarm *sw, char *err, size_t errlen);

/* The manager is about to stop (shutdown, demotion, --force-new-cluster):
 * the dispatcher stops at once; the agent keeps its tasks. */
void swarm_dispatch_manager_stopping(struct swarm *sw);

/* A PEER_MSG_DISPATCH body from a peer. */
void swarm_dispatch_message(struct swarm *sw, const char *from, enum identity_role from_role, const uint8_t *body,
			    size_t len);

/* A peer stream came up or went down. */
void swarm_dispatch_link_changed(struct swarm *sw, const char *node_id, bool up);

/* This node's log broker, or NULL when the agent is not running. */
struct log_broker *swarm_dispatch_logs(struct swarm *sw);

/* Stops the dispatcher at once (before the manager closes) and the agent,
 * whose runtime stops every task; done(sw) runs when all is released.
 * Returns false (done not called) when nothing was running. */
bool swarm_dispatch_stop(struct swarm *sw, void (*done)(struct swarm *sw));

#endif
