/* swarm: this node's part in a swarm: init, join and leave, the persisted
 * identity, gossip membership, and (on managers) admitting new nodes. */
#ifndef SWARMNODE_SWARM_H
#define SWARMNODE_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/cluster_listener.h"
#include "swarmnode/config.h"
#include "swarmnode/datadir.h"
#include "swarmnode/gossip_io.h"
#include "swarmnode/gossip_keys.h"
#include "swarmnode/join_io.h"
#include "swarmnode/manager.h"
#include "swarmnode/node_meta.h"
#include "swarmnode/orchestrate.h"
#include "swarmnode/peer_mesh.h"
#include "swarmnode/swarm_state.h"

/* Docker's LocalNodeState. */
enum swarm_local_state {
	SWARM_INACTIVE,
	SWARM_PENDING,   /* a join is in progress */
	SWARM_ACTIVE,
	SWARM_LEAVING,
};

/* Facts about this machine that go into the node's metadata. */
struct swarm_host {
	const char *hostname;
	const char *os;
	const char *arch;
	unsigned ncpu;
	uint64_t memory;
};

/* Completion of an asynchronous operation (join, leave): status 0 or a
 * negative errno, with a sentence for the user in message. */
typedef void (*swarm_done_fn)(void *data, int status, const char *message);

struct swarm {
	uv_loop_t *loop;
	const struct config *config;      /* not owned */
	const struct datadir *datadir;    /* not owned */
	struct swarm_host host;
	enum swarm_local_state state;
	struct swarm_state st;            /* valid when active */
	struct identity_keypair node_key; /* derived from st.node_seed */
	struct keyring *keyring;          /* gossip keys, when active */
	struct gossip_io gossip;
	bool gossip_open;
	struct cluster_listener listener; /* managers: TCP on the cluster address, joins and peers */
	bool listener_open;
	struct join_server join_server;   /* managers: admits new nodes */
	bool join_server_open;
	struct peer_mesh mesh;            /* authenticated streams to managers */
	bool mesh_open;
	struct gossip_keys keys;          /* gossip key rotation; lives from swarm_start to swarm_close */
	struct manager *manager;          /* managers: Raft and the store */
	struct swarm_dispatch *dispatch;  /* the agent (and on managers the dispatcher): swarm_dispatch.h */
	struct orchestrate *orchestrate;  /* managers: services -> tasks while this one leads */
	bool bootstrapping;               /* `init`: the manager starts a new Raft cluster */
	uv_timer_t nodes_timer;           /* managers, every second: node reconciling (swarm_nodes.h), ready wait */
	bool nodes_writing;               /* a reconciling write is in flight */
	swarm_done_fn ready_done;         /* waits until Raft counts this manager (init, join) */
	void *ready_data;
	uint64_t ready_deadline;          /* loop time when the wait gives up */
	swarm_done_fn forcing_done;       /* --force-new-cluster: the manager is restarting */
	void *forcing_data;
	struct join_client *join_client;  /* a join in progress */
	struct swarm_join_pending *join;  /* what the join needs when it ends */
	uv_timer_t save_timer;            /* debounces saving seeds; data = this */
	uv_timer_t leave_timer;           /* waits for the leave to spread; data = this */
	uint64_t leave_deadline;
	swarm_done_fn leave_done;
	void *leave_data;
	int closing;                      /* components still closing */
	void (*on_closed)(struct swarm *sw);
	bool shutting_down;
};

/* Resumes the swarm recorded in the data dir, if any. Returns 0, or a negative
 * errno when the recorded state is damaged (logged; the daemon must stop). */
int swarm_start(struct swarm *sw, uv_loop_t *loop, const struct config *config,
		const struct datadir *datadir, const struct swarm_host *host);

/* Stops gossip, the peer streams and the cluster port (a shutdown, not a leave: the node stays
 * in the swarm and resumes at its next start). */
void swarm_close(struct swarm *sw, void (*on_closed)(struct swarm *sw));

/* POST /swarm/init. listen_addr and advertise_addr may be NULL or "". On
 * success node_id receives this node's id and done runs once this node leads
 * its new Raft cluster (as Docker answers init only then). Returns 0,
 * -EALREADY (already in a swarm), -EINVAL (bad address; err says which) or
 * another negative errno (done is then not called). */
int swarm_init(struct swarm *sw, const char *listen_addr, const char *advertise_addr,
	       char node_id[IDS_LEN + 1], swarm_done_fn done, void *data, char *err, size_t errlen);

/* POST /swarm/init with ForceNewCluster on a manager of an existing swarm
 * (Docker's recovery when a majority of managers is lost): the manager
 * restarts from its own log as the only voter of a new configuration; done
 * runs once it leads. Returns 0, -EPERM (not a manager) or -EBUSY. */
int swarm_force_new_cluster(struct swarm *sw, char node_id[IDS_LEN + 1], swarm_done_fn done, void *data,
			    char *err, size_t errlen);

/* Sends a manager message (manager_msg.h) to node_id over its peer stream.
 * Returns 0 or a negative errno (-ENOTCONN: no stream up). */
struct manager_msg;
int swarm_send_manager_msg(struct swarm *sw, const char *node_id, const struct manager_msg *mm);

/* Whether node_id was removed from the swarm (node rm) and its identity is
 * refused: listed in the cluster object's RemovedNodes (removed_nodes.h) of
 * this manager's store and not expired. Always false on a worker, which has
 * no store: managers enforce it. */
bool swarm_node_revoked(const struct swarm *sw, const char *node_id);

/* Adds to txn (the one that deletes node_id's object) the cluster object's
 * write that lists node_id as removed until no certificate of it can still
 * be valid, dropping expired entries. Returns 0, or a STORE_E_* code with
 * the reason in err (errlen bytes). */
struct store_txn;
int swarm_revoke_node(const struct swarm *sw, struct store_txn *txn, const char *node_id, char *err,
		      size_t errlen);

/* How long init and a manager's join wait for Raft to count the node. */
#define SWARM_READY_TIMEOUT_MS 20000

/* POST /swarm/join: runs the join handshake with the first reachable manager
 * of remotes and then joins gossip; a manager also waits until it is a voter
 * of the Raft configuration. done is called once unless this returns an error
 * first (-EALREADY, -EINVAL with err set). */
int swarm_join(struct swarm *sw, const char *token, const char *const *remotes, size_t nremotes,
	       const char *listen_addr, const char *advertise_addr, swarm_done_fn done, void *data,
	       char *err, size_t errlen);

/* POST /swarm/leave: announces the leave, waits (bounded) for it to spread,
 * then forgets the swarm. A manager must pass force. Returns -ENOTCONN (not
 * in a swarm), -EPERM (a manager without force), or 0 and calls done later. */
int swarm_leave(struct swarm *sw, bool force, swarm_done_fn done, void *data);

/* Replaces the worker and/or manager secret: old tokens stop admitting. */
int swarm_rotate_tokens(struct swarm *sw, bool worker, bool manager);

/* The current join tokens (managers only). */
int swarm_tokens(const struct swarm *sw, char worker[TOKEN_STR_LEN + 1], char manager[TOKEN_STR_LEN + 1]);

bool swarm_is_manager(const struct swarm *sw);

/* Sends one message of kind (an envelope, peer_msg.h) with body to node_id
 * over its up peer stream. Returns 0 or peer_mesh_send's error. */
int swarm_peer_send(struct swarm *sw, const char *node_id, uint64_t kind, const uint8_t *body, size_t len);

/* One member as the API shows it. */
struct swarm_node {
	const char *id;
	bool self;
	uint8_t state;              /* enum swim_state */
	uint64_t incarnation;
	bool has_meta;              /* meta decoded */
	struct node_meta meta;
	char gossip_addr[64];
	uint64_t changed_at_ms;     /* wall clock of the last state change */
};

size_t swarm_node_count(const struct swarm *sw);
int swarm_node_at(const struct swarm *sw, size_t i, struct swarm_node *out);
int swarm_node_find(const struct swarm *sw, const char *id_or_name, struct swarm_node *out);

#endif
