/* peer_io: authenticated, encrypted TCP streams between nodes (peer_auth.c's protocol) with libuv: dial with reconnects, accept, send with a bound, deliver messages. */
#ifndef SWARMNODE_PEER_IO_H
#define SWARMNODE_PEER_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/addr.h"
#include "swarmnode/identity.h"
#include "swarmnode/peer_auth.h"

/* The transport Raft and dispatch use between nodes. One struct peer_io per
 * node holds its credentials; each struct peer_conn is one stream to one
 * peer: dialed (peer_dial: kept up, reconnecting with backoff, until
 * peer_conn_close) or accepted (peer_io_adopt, from the cluster listener:
 * lives while its connection does).
 *
 * Callbacks run from the loop, never inside a call the owner made, with one
 * exception: peer_conn_reset reports DOWN before it returns. Memory is
 * released in libuv close callbacks, never inside a callback chain of the
 * stream concerned. */

enum peer_conn_state {
	PEER_CONN_CONNECTING, /* connecting or authenticating */
	PEER_CONN_UP,         /* authenticated: messages flow */
	PEER_CONN_DOWN,       /* no connection (a dialed stream waits to reconnect) */
};

enum peer_conn_dir {
	PEER_CONN_OUT, /* this node dialed */
	PEER_CONN_IN,  /* the peer dialed this node */
};

const char *peer_conn_state_name(enum peer_conn_state s); /* "connecting", "up", "down" */
const char *peer_conn_dir_name(enum peer_conn_dir d);     /* "out", "in" */

struct peer_io;
struct peer_conn;

struct peer_io_ops {
	/* A stream changed state; why says what ended it for DOWN ("" otherwise).
	 * An accepted stream is reported first when UP (its node id is known
	 * only then) and is released after its DOWN callback returns: forget
	 * the pointer there. */
	void (*on_state)(struct peer_io *pio, struct peer_conn *c, enum peer_conn_state state,
			 const char *why);
	/* A message arrived on an up stream (msg valid during the call). */
	void (*on_message)(struct peer_io *pio, struct peer_conn *c, const uint8_t *msg, size_t len);
};

struct peer_io_config {
	struct identity_keypair node;        /* this node's key pair (copied, wiped at close) */
	uint8_t cert[IDENTITY_CERT_MAX];     /* its encoded certificate */
	size_t cert_len;
	uint8_t root_pk[IDENTITY_PK_LEN];    /* the cluster's root public key */
	char cluster_id[IDS_LEN + 1];        /* the cluster's id */
	unsigned accept_roles;               /* roles accepted on incoming streams (PEER_AUTH_ROLE_BIT) */
	size_t max_message;                  /* largest message either way; 0: the default */
	size_t send_queue_max;               /* bytes queued per stream before peer_send refuses; 0: 8 MiB */
	uint32_t auth_timeout_ms;            /* connect + authenticate deadline; 0: 10 s */
	uint32_t backoff_min_ms;             /* first reconnect delay; 0: 100 ms */
	uint32_t backoff_max_ms;             /* longest reconnect delay; 0: 5 s */
};

/* Why incoming streams were refused, by cause. */
enum peer_refusal {
	PEER_REFUSED_CLUSTER,     /* certificate of another cluster */
	PEER_REFUSED_ROOT,        /* not signed by the cluster root */
	PEER_REFUSED_EXPIRED,     /* expired or not yet valid */
	PEER_REFUSED_ROLE,        /* role not accepted */
	PEER_REFUSED_PROOF,       /* failed to prove its node key */
	PEER_REFUSED_MALFORMED,   /* undecodable, bad framing, unexpected, other version, itself */
	PEER_REFUSED_TIMEOUT,     /* did not finish in time */
	PEER_REFUSED_CLOSED,      /* hung up (or the connection failed) during authentication */
	PEER_REFUSED_REJECTED,    /* the dialer refused this node (e.g. not the node it meant) */
	PEER_REFUSED__COUNT,
};

/* The JSON name of a refusal cause ("Cluster", "Expired", ...). */
const char *peer_refusal_name(enum peer_refusal r);

struct peer_io {
	uv_loop_t *loop;
	struct peer_io_config cfg;           /* with defaults filled in */
	const struct peer_io_ops *ops;
	void *data;                          /* for the owner */
	struct peer_conn *conns;             /* every stream, dialed or accepted */
	uint8_t rbuf[65536];                 /* read buffer shared by all streams */
	uint64_t refused[PEER_REFUSED__COUNT]; /* incoming streams refused, by cause */
	uint64_t accepted;                   /* incoming streams that came up */
	int handles_open;                    /* 1 while open, plus the streams' handles */
	void (*on_closed)(struct peer_io *pio);
	bool closing;
};

/* Prepares pio with a copy of cfg. Returns 0 or -EINVAL (no certificate, or
 * a role set that accepts nobody). */
int peer_io_start(struct peer_io *pio, uv_loop_t *loop, const struct peer_io_config *cfg,
		  const struct peer_io_ops *ops, void *data);

/* Closes every stream in good order (a close record where up), without
 * further callbacks; on_closed (may be NULL) runs once every handle is
 * closed, after which pio may be freed. */
void peer_io_close(struct peer_io *pio, void (*on_closed)(struct peer_io *pio));

/* Starts a dialed stream to node_id at addr, accepting the peer only in
 * accept_roles and only if its certificate names node_id. It connects at
 * once and after any loss reconnects with exponential backoff (with
 * jitter) until peer_conn_close. Returns 0 with *out set, or -EINVAL
 * (bad id or address), -ENOMEM, -ESHUTDOWN (closing). */
int peer_dial(struct peer_io *pio, const char *node_id, const struct addr *addr,
	      unsigned accept_roles, struct peer_conn **out);

/* Runs the listener side on a connection the cluster listener accepted: takes
 * ownership of tcp (malloc'd, not reading; freed after it is closed) and feeds
 * it bytes (len of them, already read, copied) first. */
void peer_io_adopt(struct peer_io *pio, uv_tcp_t *tcp, const char *peer_addr, const uint8_t *bytes,
		   size_t len);

/* Queues one message on an up stream. Returns 0, -ENOTCONN (not up),
 * -EMSGSIZE (beyond max_message), -ENOBUFS (the stream's queue is over
 * send_queue_max: the peer is not reading; try later or drop) or -ENOMEM. */
int peer_send(struct peer_conn *c, const uint8_t *msg, size_t len);

/* Ends the current connection of a stream with why (logged and passed to
 * on_state DOWN); a dialed stream reconnects after its backoff. For a stream
 * that is alive at TCP level but silent, for instance. */
void peer_conn_reset(struct peer_conn *c, const char *why);

/* Closes a stream in good order and releases it; no callback for it runs
 * after this returns. */
void peer_conn_close(struct peer_conn *c);

/* What the owner reads of a stream. */
struct peer_conn_info {
	enum peer_conn_state state;
	enum peer_conn_dir dir;
	char node_id[IDS_LEN + 1];       /* dialed: the node meant; accepted: verified once up */
	enum identity_role role;         /* verified role, once up (else the dial's expectation) */
	bool role_known;                 /* role has been verified */
	char addr[96];                   /* the peer's address, IP:PORT */
	uint64_t bytes_in, bytes_out;    /* on the wire, all connections of the stream */
	uint64_t msgs_in, msgs_out;      /* messages delivered and queued */
	uint64_t connects;               /* times it came up */
	uint64_t auth_failures;          /* connections that failed authentication */
	uint64_t send_refused;           /* peer_send calls refused for backpressure */
	uint64_t state_since_ms;         /* loop time of the last state change */
	char last_error[256];            /* why it last went down or failed ("" if never) */
};

void peer_conn_info(const struct peer_conn *c, struct peer_conn_info *out);

/* The verified certificate of the peer while up (NULL otherwise). */
const struct identity_cert *peer_conn_cert(const struct peer_conn *c);

/* An owner's pointer carried by the stream. */
void peer_conn_set_data(struct peer_conn *c, void *data);
void *peer_conn_data(const struct peer_conn *c);

#endif
