/* manager: this node's part as a swarm manager: the Raft core driven on the loop, its log on disk, the replicated store it applies, writes forwarded to the leader, and new managers added to the configuration. */
#ifndef SWARMNODE_MANAGER_H
#define SWARMNODE_MANAGER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/ids.h"
#include "swarmnode/peer_msg.h"
#include "swarmnode/raft.h"
#include "swarmnode/store.h"

/*
 * One manager per manager node, owned by swarm.c. It is the host of a raft
 * core (raft.h): it keeps the core's writes on disk with wal.h and reports
 * them durable, sends the core's messages to other managers through the
 * transport the node gives it (ops->send: the peer streams), applies
 * committed entries to the store, and serves:
 *
 *   writes  a store transaction (store.h) proposed on the leader; a manager
 *           that is not the leader forwards it (manager_msg.h FORWARD) and
 *           relays the leader's RESULT. The callback says whether the
 *           transaction applied, with the store's refusal if it did not.
 *   reads   manager_read() is a ReadIndex barrier: when its callback runs with
 *           status 0 the store holds every write acknowledged before the call.
 *
 * Raft ids: a manager's raft id is drawn once (by swarm.c) and kept in its
 * state file. `init` bootstraps a configuration of one voter; a manager that
 * joined with the manager token starts with an empty log and sends JOIN to the
 * managers it knows every second until the leader's log shows it a member: the
 * leader adds it as a learner, then promotes it once it has caught up.
 */

/* A write or read gives up after this long without an answer. */
#define MANAGER_REQUEST_TIMEOUT_MS 10000
/* A snapshot of the store is taken every this many applied entries. */
#define MANAGER_SNAPSHOT_EVERY 2048

/* Error codes of writes and reads besides the store's own (store.h). */
#define MANAGER_E_NO_LEADER (-EHOSTUNREACH) /* no leader known: quorum lost or an election */
#define MANAGER_E_TIMEDOUT (-ETIMEDOUT)     /* no answer in MANAGER_REQUEST_TIMEOUT_MS */
#define MANAGER_E_LOST (-ECANCELED)         /* leadership changed: the write may or may not apply */
#define MANAGER_E_STOPPED (-ESHUTDOWN)      /* the manager stopped or its disk failed */

/* Docker's text for a write without a leader. */
#define MANAGER_MSG_NO_LEADER                                                                          \
	"The swarm does not have a leader. It's possible that too few managers are online. Make sure " \
	"more than half of the managers are online."

struct manager_ops {
	/* Sends one encoded peer message (peer_msg.h envelope of kind
	 * PEER_MSG_RAFT or PEER_MSG_MANAGER) to node_id over the authenticated
	 * peer stream. Returns 0, or a negative errno when it cannot be queued
	 * (no stream): it is then lost, as Raft allows. */
	int (*send)(void *data, const char *node_id, const uint8_t *msg, size_t len);
	/* Fills out with the node ids of the other managers gossip sees alive;
	 * returns how many (at most cap). A joining manager asks them to add it. */
	size_t (*managers)(void *data, char (*out)[IDS_LEN + 1], size_t cap);
	/* The known leader changed (leader_node is "" when there is none). */
	void (*leader_changed)(void *data, const char *leader_node, uint64_t term);
};

struct manager_config {
	const char *dir;                /* DATA/raft: the log and snapshots */
	char node_id[IDS_LEN + 1];      /* this node */
	raft_id id;                     /* this manager's raft id, non-zero */
	bool bootstrap;                 /* `init`: a new cluster with this node as its one voter */
	bool force_new_cluster;         /* `init --force-new-cluster`: keep the log, make this node its
					 * only voter (a new configuration entry in a new term) */
	uint64_t seed;                  /* randomness of election timeouts */
	uint32_t election_timeout_ms;   /* 0: raft's default */
	uint32_t heartbeat_interval_ms; /* 0: raft's default */
};

struct manager;

/* Opens the log in cfg->dir (bootstrapping it first when cfg->bootstrap and
 * it is empty), rebuilds the store from the snapshot and the log, and starts
 * the raft core. Returns 0 and *out, or a negative errno with the reason in
 * err (a corrupt log: the node must not start). */
int manager_start(uv_loop_t *loop, const struct manager_config *cfg, const struct manager_ops *ops, void *data,
		  struct manager **out, char *err, size_t errlen);

/* Stops: every waiting write and read is answered MANAGER_E_STOPPED, the log
 * is closed, and closed(data) runs when m is freed. */
void manager_close(struct manager *m, void (*closed)(void *data), void *data);

/* A message of kind (PEER_MSG_RAFT or PEER_MSG_MANAGER) from the manager node from, whose
 * certificate the peer stream verified. Bad messages are counted and dropped. */
void manager_receive(struct manager *m, const char *from, uint64_t kind, const uint8_t *body, size_t len);

/* The peer stream to node_id went down: raft learns its messages were lost. */
void manager_link_down(struct manager *m, const char *node_id);

/* Completion of a write: status 0 and the log index it applied at, or a
 * negative code (MANAGER_E_*, or the store's refusal) with a sentence for the
 * user in message. */
typedef void (*manager_write_fn)(void *data, int status, const char *message, uint64_t index);

/* Proposes the store transaction txn (copied). done runs exactly once, never
 * before this returns. Returns 0, or an error when it cannot even be tried
 * (STORE_E_TOO_BIG, MANAGER_E_STOPPED, -ENOMEM): done is then not called.
 * Codes: the store's (-1..-11, store.h) and MANAGER_E_* (errno values) never
 * overlap. */
int manager_write(struct manager *m, const uint8_t *txn, size_t len, manager_write_fn done, void *data);

/* Completion of a read barrier: status 0 (the store is up to date) or a
 * MANAGER_E_* code. */
typedef void (*manager_read_fn)(void *data, int status);

/* A linearizable read: done runs once the store holds every write committed
 * before this call. Same calling rules as manager_write. */
int manager_read(struct manager *m, manager_read_fn done, void *data);

/* On the leader: hand leadership to the most up-to-date other voter (before
 * this manager is demoted). Returns 0 or a RAFT_E_* code (NOT_LEADER, BUSY). */
int manager_transfer(struct manager *m);

/* On the leader: remove node_id's member from the Raft configuration (node
 * demote). Returns 0, RAFT_E_NOT_FOUND (not a member), RAFT_E_BUSY (another
 * change is not committed yet: retry), RAFT_E_NOT_LEADER, RAFT_E_LAST_VOTER. */
int manager_remove(struct manager *m, const char *node_id);

/* The replicated store (read it after a manager_read barrier). */
const struct store *manager_store(const struct manager *m);

/* The same, for store_watch/store_unwatch only (the dispatcher's and the orchestrator's watches):
 * never apply or restore through it, the manager does. */
struct store *manager_store_watchable(struct manager *m);

/* One member of the Raft configuration as `node ls` and `info` show it. */
struct manager_member {
	raft_id id;
	char node_id[IDS_LEN + 1];
	bool voter;
	bool leader;
	bool reachable; /* as far as this manager knows (the leader knows best) */
};

struct manager_status {
	uint8_t role;                 /* enum raft_role */
	uint64_t term;
	uint64_t commit;
	uint64_t applied;
	char leader[IDS_LEN + 1];     /* the leader's node id, "" if none is known */
	bool quorum;                  /* a leader is known (this manager can write) */
	size_t n;                     /* members[0..n) */
	struct manager_member members[RAFT_MAX_MEMBERS];
	uint64_t bad_msgs;            /* undecodable or unauthorised messages dropped */
};

void manager_status(const struct manager *m, struct manager_status *out);

/* Deletes a stopped manager's log directory and everything in it (a node
 * that left the swarm, or a new swarm in an old data dir). Returns 0 (also
 * when there is nothing to delete) or a negative errno. */
int manager_wipe(const char *dir);

#endif
