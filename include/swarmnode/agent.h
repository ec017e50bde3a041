/* agent: the node side of dispatch: receives this node's task assignments from one manager, runs them with a runtime, and reports their states back in batches. */
#ifndef SWARMNODE_AGENT_H
#define SWARMNODE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/ids.h"
#include "swarmnode/runtime.h"

/*
 * Every node runs one agent (managers too: a drained node simply gets no
 * tasks). The protocol is drawn in dispatch_msg.h.
 *
 * Manager: the agent serves itself from ONE manager among those the node has
 * an up stream to (ops->managers), chosen by the node id so that workers
 * spread over the managers, and keeps it while its stream stays up. When the
 * stream goes down it opens a session with another one at once (and retries
 * every AGENT_TICK_MS while there is none). Each session starts with the full
 * assignment set.
 *
 * Tasks: a task new to the agent whose state in the store is ASSIGNED and
 * whose desired state is RUNNING or earlier is reported ACCEPTED and given to
 * the runtime, whose states are then reported as it walks them; a desired
 * state past RUNNING stops it (grace: the Spec's StopGracePeriod); a task no
 * longer assigned is stopped if it runs and removed from the runtime (its
 * logs with it). A task new to the agent that the store says went past
 * ASSIGNED was lost by this node (a wiped data dir): it is reported FAILED.
 * One whose desired state is already past RUNNING is reported SHUTDOWN
 * without running.
 *
 * Status: every change is reported, batched every AGENT_FLUSH_MS, until an
 * ACK says the batch is in the store; a batch without an ACK after
 * AGENT_RESEND_MS, or refused, is sent again. A new session re-sends the last
 * known status of every task. Tasks keep running while the agent has no
 * manager.
 *
 * Host ports: each published port is handed to the runtime with the node's
 * port agent_spec chose; with cfg->runtime_ports (the engine) a host-mode
 * port published as 0 is handed as 0 and the port the runtime bound is read
 * back when the task runs, for Status.PortStatus.
 *
 * Logs: a LOGS_REQUEST from any manager is answered from the runtime
 * (agent_logs.h), whatever the session.
 *
 * Restart: agent_start runs the runtime's recover first; what the runtime
 * reports for an earlier run's tasks is reported like any other state.
 */

#define AGENT_FLUSH_MS 100
#define AGENT_RESEND_MS 5000
#define AGENT_TICK_MS 1000
/* Managers the agent chooses among, at most. */
#define AGENT_MANAGERS_MAX 16

struct agent_ops {
	/* Sends one dispatch message body (dispatch_msg.h) to manager_id over
	 * the peer streams (or to this node's own dispatcher). Returns 0 or a
	 * negative errno (-ENOTCONN: no stream). Must not call back into the
	 * agent. */
	int (*send)(void *data, const char *manager_id, const uint8_t *body, size_t len);
	/* Fills out with the managers the node can talk to now; returns how
	 * many (at most cap). */
	size_t (*managers)(void *data, char (*out)[IDS_LEN + 1], size_t cap);
};

/* Creates the runtime the agent drives: on_state(cb_data, ...) receives its
 * states. Returns 0 with *out, or a negative errno with err. */
typedef int (*agent_runtime_new_fn)(void *data, uv_loop_t *loop, runtime_state_cb on_state, void *cb_data,
				    struct runtime **out, char *err, size_t errlen);

/* The host ports a runtime bound for a task, read back (runtime_engine_ports
 * has this shape): up to cap in out, their number in *n; 0 or a negative
 * errno. A runtime that binds exactly the ports it is handed (exec, which
 * shares the node's network) needs none. With one, the agent hands a
 * host-mode port published as 0 to the runtime as 0, so that it picks a free
 * port as Docker does, and when the task is RUNNING the ports read back
 * replace the ones the agent reports (the task's Status.PortStatus). */
typedef int (*agent_runtime_ports_fn)(struct runtime *rt, const char *task_id, struct runtime_port *out, size_t cap,
				      size_t *n);

struct agent_config {
	const char *node_id;              /* this node (copied) */
	const char *node_addr;            /* its advertised IP, handed to tasks (copied; may be NULL) */
	uint64_t first_session;           /* >= 1: session numbers count from here; make it
					   * grow across restarts (the wall clock in ms) */
	agent_runtime_new_fn runtime_new; /* the runtime to drive */
	void *runtime_data;               /* for runtime_new */
	agent_runtime_ports_fn runtime_ports; /* may be NULL; see agent_runtime_ports_fn */
};

/* What the agent is doing, for logs and tests. */
struct agent_info {
	char manager[IDS_LEN + 1]; /* the manager serving it, "" when none */
	uint64_t session;          /* the current session, 0 when none */
	bool recovered;            /* the runtime's recover finished */
	bool full_set;             /* the session's full assignment set arrived */
	size_t tasks;              /* tasks the agent knows */
	size_t unacked;            /* tasks whose last status is not acknowledged */
	uint64_t batches_sent;     /* STATUS messages sent */
	uint64_t sessions;         /* sessions opened */
	uint64_t bad_msgs;         /* messages dropped: undecodable, wrong sender or stale session */
};

struct agent;

/* Creates the agent and its runtime, and starts the runtime's recover; the
 * agent opens its first session once recover is done. Returns 0 with *out,
 * or a negative errno with err (nothing is left allocated). */
int agent_start(uv_loop_t *loop, const struct agent_config *cfg, const struct agent_ops *ops, void *data,
		struct agent **out, char *err, size_t errlen);

/* A PEER_MSG_DISPATCH body from from_node (authenticated by its stream). */
void agent_receive(struct agent *a, const char *from_node, const uint8_t *body, size_t len);

/* The stream to node_id came up or went down (peer_mesh's link_changed). */
void agent_link_changed(struct agent *a, const char *node_id, bool up);

/* Closes the runtime (which stops every task, each with its grace period)
 * and frees the agent; closed(data) runs once all is released. */
void agent_close(struct agent *a, void (*closed)(void *data), void *data);

void agent_get_info(const struct agent *a, struct agent_info *out);

/* The runtime the agent drives (for logs and inspect). */
struct runtime *agent_runtime(struct agent *a);

#endif
