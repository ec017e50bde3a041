/* peer_mesh: this node's authenticated streams to the managers it knows from gossip (the future Raft mesh and dispatch channels), kept up and measured with heartbeats. */
#ifndef SWARMNODE_PEER_MESH_H
#define SWARMNODE_PEER_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/ids.h"
#include "swarmnode/peer_io.h"

/* Who keeps which stream: a worker dials every live manager (dispatch); of
 * two managers, the one with the smaller node id dials the other (Raft), so
 * that each pair of nodes shares exactly one stream. The dialer of every up
 * stream sends a heartbeat each PEER_MESH_HEARTBEAT_MS and measures the round
 * trip; the other end only answers, so each end hears the other at least that
 * often and an idle stream costs one small record each way per period (Docker's
 * agents heartbeat their dispatcher every 5 s too). A stream that stays silent
 * for PEER_MESH_SILENCE_MS (three periods) is reset (a peer that vanished
 * without closing its TCP connection), and so is one whose peer certificate
 * expires while it is up. Liveness of nodes stays gossip's business: the mesh
 * follows what gossip says. */
#define PEER_MESH_HEARTBEAT_MS 5000
#define PEER_MESH_SILENCE_MS 16000
/* How often the mesh checks its streams and redials the managers it lacks. */
#define PEER_MESH_TICK_MS 1000
/* A peer with no stream, that this node does not dial, stays listed (down) this long. */
#define PEER_MESH_FORGET_MS (10ull * 60 * 1000)

/* How many refused peers the mesh remembers having logged (a removed node is
 * refused on each attempt until it leaves; one warning each is enough). */
#define PEER_MESH_REFUSED_LOGGED 16
/* Largest farewell message ops->allowed may hand over. */
#define PEER_MESH_BYE_MAX 64

/* A live manager gossip knows of. */
struct peer_mesh_target {
	char node_id[IDS_LEN + 1];
	char addr[64];             /* its cluster address, IP:PORT */
};

/* Callbacks run from the loop (never inside a peer_mesh call the owner made,
 * except that peer_mesh_sync and peer_mesh_close may report links down).
 * They may send, but must not call peer_mesh_sync or peer_mesh_close. */
struct peer_mesh_ops {
	/* Fills out with the managers gossip sees alive or suspect (this node
	 * excluded); returns how many (at most cap). */
	size_t (*managers)(void *data, struct peer_mesh_target *out, size_t cap);
	/* A message of a kind the mesh does not handle itself (every kind but
	 * the heartbeats) arrived from from_node_id, whose certificate says
	 * from_role. body (body_len bytes, valid during the call) is the
	 * envelope's body (peer_msg.h). The owner counts the kinds it does not
	 * know in m->unknown_msgs. May be NULL: every such message is then
	 * counted unknown. */
	void (*message)(void *data, const char *from_node_id, enum identity_role from_role, uint64_t kind,
			const uint8_t *body, size_t body_len);
	/* Whether the peer whose certificate names node_id may keep a stream;
	 * the owner refuses nodes removed from the swarm. Asked when an
	 * accepted stream comes up (a refused one never reaches the owner) and
	 * on every tick for each up stream. When refusing, the owner may put in
	 * bye (cap bytes, *bye_len set; 0: nothing) an encoded peer message the
	 * peer receives before its stream closes. May be NULL: every peer may. */
	bool (*allowed)(void *data, const char *node_id, uint8_t *bye, size_t cap, size_t *bye_len);
	/* The stream to node_id came up (up: a new stream; reported again when a
	 * new stream replaces an up one, since the peer may have restarted) or
	 * went down. May be NULL. */
	void (*link_changed)(void *data, const char *node_id, bool up);
};

/* One peer as /swarmnode/peers shows it. */
struct peer_link {
	char node_id[IDS_LEN + 1];
	enum identity_role role;        /* verified once up, else what the dial expects */
	char addr[96];                  /* the peer's address */
	enum peer_conn_dir dir;         /* who dialed */
	enum peer_conn_state state;
	bool dial;                      /* this node keeps dialing it */
	struct peer_conn *conn;         /* the stream, or NULL (an accepted one that ended) */
	uint64_t hb_seq;                /* last heartbeat sent */
	uint64_t hb_sent_at;            /* loop time it was sent */
	uint64_t heartbeats_sent, heartbeats_acked;
	int64_t rtt_us;                 /* last measured round trip, -1 before the first */
	uint64_t rtt_at_ms;             /* wall clock of that measurement */
	uint64_t last_heard;            /* loop time of the last message from the peer */
	uint64_t changed_at_ms;         /* wall clock of the last state change */
	/* Counters of accepted streams that ended (a dialed stream keeps its own). */
	uint64_t old_bytes_in, old_bytes_out, old_msgs_in, old_msgs_out, old_connects;
	char last_error[256];
};

/* The same with the live stream's counters folded in. */
struct peer_link_view {
	const struct peer_link *link;
	uint64_t bytes_in, bytes_out, msgs_in, msgs_out, connects, auth_failures;
	const char *last_error;
};

struct peer_mesh {
	uv_loop_t *loop;
	struct peer_io io;                /* the streams */
	uv_timer_t timer;                 /* heartbeats and membership sync; data = this */
	const struct peer_mesh_ops *ops;
	void *data;                       /* for ops */
	char self_id[IDS_LEN + 1];
	enum identity_role self_role;
	struct peer_link *links;          /* by node id */
	size_t nlinks, cap;
	uint64_t unknown_msgs;            /* messages of kinds this version does not handle */
	uint64_t bad_msgs;                /* messages that did not decode */
	uint64_t duplicates;              /* streams closed because the pair had one already */
	uint64_t refused_removed;         /* streams closed because ops->allowed refused the peer */
	char refused_logged[PEER_MESH_REFUSED_LOGGED][IDS_LEN + 1]; /* last peers refused, logged once each */
	size_t refused_logged_next;       /* the slot the next new one takes */
	int closing_parts;
	void (*on_closed)(struct peer_mesh *m);
	bool closing;
};

/* Starts the streams of this node (cfg: its credentials; incoming streams are
 * accepted from workers and managers) and the heartbeat timer. Returns 0 or a
 * negative errno with the reason in err. */
int peer_mesh_start(struct peer_mesh *m, uv_loop_t *loop, const struct peer_io_config *cfg,
		    const char *self_id, enum identity_role self_role, const struct peer_mesh_ops *ops,
		    void *data, char *err, size_t errlen);

/* Membership changed: dial the managers that should be dialed, stop dialing
 * those gone. Also runs on every heartbeat tick. */
void peer_mesh_sync(struct peer_mesh *m);

/* An incoming stream the cluster listener classified (see peer_io_adopt). */
void peer_mesh_adopt(struct peer_mesh *m, uv_tcp_t *tcp, const char *peer_addr, const uint8_t *bytes,
		     size_t len);

/* Closes every stream; on_closed runs when all is closed. */
void peer_mesh_close(struct peer_mesh *m, void (*on_closed)(struct peer_mesh *m));

/* Queues one encoded peer message (peer_msg_encode; msg copied) on the up
 * stream to node_id. Returns 0, -ENOTCONN (no stream to it is up),
 * -ENOBUFS (its send queue is full: the peer is not reading), -EMSGSIZE
 * or -ENOMEM (peer_send). */
int peer_mesh_send(struct peer_mesh *m, const char *node_id, const uint8_t *msg, size_t len);

/* Queues msg on every up stream whose peer's role is in roles
 * (PEER_AUTH_ROLE_BIT, PEER_AUTH_ROLES_ANY for all). Returns how many
 * streams took it. */
size_t peer_mesh_broadcast(struct peer_mesh *m, unsigned roles, const uint8_t *msg, size_t len);

/* Whether a stream to node_id is up. */
bool peer_mesh_is_up(const struct peer_mesh *m, const char *node_id);

size_t peer_mesh_count(const struct peer_mesh *m);
/* The i-th link with its live counters; -ENOENT past the end. */
int peer_mesh_view(const struct peer_mesh *m, size_t i, struct peer_link_view *out);

#endif
