/* dispatcher: the manager side of dispatch: serves agents their task assignments from the store and writes the task states they report into it. */
#ifndef SWARMNODE_DISPATCHER_H
#define SWARMNODE_DISPATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/ids.h"
#include "swarmnode/manager.h"
#include "swarmnode/store.h"

/*
 * Every manager runs one, over its own copy of the store (protocol in
 * dispatch_msg.h). An agent opens a session with SESSION; the dispatcher
 * answers with the full set of tasks whose NodeID is the agent's node and
 * whose State is ASSIGNED or later (the scheduler's tasks and their history,
 * until the orchestrator deletes them), then watches the store and sends
 * what changes for that node: a task newly there, a new DesiredState, a task
 * gone (deleted, or moved to another node). Each task carries its Spec, its
 * service's id and name, its slot and the ports its service publishes
 * (Endpoint.Ports, else Spec.EndpointSpec.Ports).
 *
 * STATUS batches become store transactions: for each task that is on the
 * agent's node, an update of its Status (Timestamp, State, Message, Err,
 * ContainerStatus, PortStatus with the host-mode ports) expecting the version
 * this manager's store holds, skipped when it would move State backwards or
 * change nothing. One write per session is in flight at a time; batches that
 * arrive meanwhile are merged (the latest status per task) into the next,
 * which takes at most DISPATCHER_TXN_TASKS tasks. A write refused as out of
 * sequence (another write changed a task first) is rebuilt after a read
 * barrier, at most DISPATCHER_RETRIES times. The ACK of a batch goes out once
 * everything up to it is in the store (status 0), or with the error that
 * stopped it (the agent sends it again).
 */

#define DISPATCHER_TXN_TASKS 32
#define DISPATCHER_RETRIES 5

struct dispatcher_ops {
	/* Sends one dispatch message body to node_id. Returns 0 or a negative
	 * errno. Must not call back into the dispatcher. */
	int (*send)(void *data, const char *node_id, const uint8_t *body, size_t len);
	/* manager_write and manager_read's contracts (manager.h). */
	int (*write)(void *data, const uint8_t *txn, size_t len, manager_write_fn done, void *done_data);
	int (*read)(void *data, manager_read_fn done, void *done_data);
	/* Wall clock in nanoseconds since the epoch, for transaction times. */
	int64_t (*now_ns)(void *data);
};

struct dispatcher_info {
	size_t sessions;          /* agents served */
	uint64_t writes;          /* transactions proposed */
	uint64_t conflicts;       /* of which refused out of sequence and rebuilt */
	uint64_t updates_written; /* task updates in applied transactions */
	uint64_t updates_dropped; /* not this node's task, a state backwards, nothing new */
	uint64_t bad_msgs;        /* undecodable, unexpected or from a stale session */
};

struct dispatcher;

/* Starts serving over store (watched from now on; not owned). Returns 0
 * with *out, or a negative errno with err. */
int dispatcher_start(struct store *store, const struct dispatcher_ops *ops, void *data, struct dispatcher **out,
		     char *err, size_t errlen);

/* A PEER_MSG_DISPATCH body from node from_node (its stream authenticated it). */
void dispatcher_receive(struct dispatcher *d, const char *from_node, const uint8_t *body, size_t len);

/* The stream to node_id went down: its session ends. */
void dispatcher_link_down(struct dispatcher *d, const char *node_id);

/* Stops watching and frees d; writes still in flight are forgotten (their
 * completions find nothing to do). */
void dispatcher_close(struct dispatcher *d);

void dispatcher_get_info(const struct dispatcher *d, struct dispatcher_info *out);

/* DesiredState and Status.State strings as enum runtime_state values
 * ("remove" counts as shutdown); -1 for anything else. */
int dispatcher_state_parse(const char *name);

#endif
