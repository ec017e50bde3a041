/* join_io: the join handshake over TCP with libuv: a manager's server for the
 * joins its cluster listener hands over, and the joining node's client. The
 * protocol is handshake.c's. */
#ifndef SWARMNODE_JOIN_IO_H
#define SWARMNODE_JOIN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/addr.h"
#include "swarmnode/handshake.h"

#define JOIN_IO_TIMEOUT_MS 10000

/* What the server asks of its owner (the swarm layer). */
struct join_server_ops {
	/* Fills the manager side's keys, certificate and current secrets. */
	int (*config)(void *data, struct handshake_manager_config *cfg);
	/* A proof was accepted: choose the node id and build the payload for a
	 * node of this role with this key. Returns 0 or a negative errno. */
	int (*issue)(void *data, enum identity_role role, const uint8_t *node_pk, char node_id[IDS_LEN + 1],
		     uint8_t *payload, size_t cap, size_t *payload_len);
};

struct join_server_conn;

/* The manager side of joins. It owns no socket: the cluster listener
 * (cluster_listener.h) accepts connections on the cluster port and hands over
 * those that are joins. */
struct join_server {
	uv_loop_t *loop;
	const struct join_server_ops *ops;
	void *data;
	struct join_server_conn *conns;  /* handshakes in progress */
	uint64_t joined, refused;        /* counters */
	void (*on_closed)(struct join_server *js);
	int handles_open;                /* 1 while open, plus the connections' handles */
	bool closing;
};

/* Prepares the server. */
void join_server_init(struct join_server *js, uv_loop_t *loop, const struct join_server_ops *ops,
		      void *data);

/* Runs the manager side of the handshake on an accepted connection. Takes
 * ownership of tcp (malloc'd, not reading; freed after it is closed) and
 * feeds it bytes (len of them, already read from it, copied) first. */
void join_server_adopt(struct join_server *js, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes,
		       size_t len);

/* Closes the connections in progress; on_closed runs once every handle is
 * closed, after which js may be freed. */
void join_server_close(struct join_server *js, void (*on_closed)(struct join_server *js));

struct join_client;

/* Called once: status 0 with the handshake DONE (read its results from
 * join_client_handshake), or with a sentence in message: -EACCES when the
 * manager refused or failed to prove itself, -EHOSTUNREACH when it could not
 * be reached, -ETIMEDOUT, -ECANCELED. The client
 * is freed by the caller with join_client_free, from the callback or later. */
typedef void (*join_client_done_fn)(struct join_client *jc, int status, const char *message, void *data);

/* Connects to a manager and runs the joiner side. cfg is copied. Returns 0 or
 * a negative code (nothing started). */
int join_client_start(struct join_client **out, uv_loop_t *loop, const struct addr *manager,
		      const struct handshake_joiner_config *cfg, join_client_done_fn done, void *data);

/* The finished handshake (results valid until join_client_free). */
const struct handshake *join_client_handshake(const struct join_client *jc);

/* Stops a client in progress (done is called with -ECANCELED) or frees a
 * finished one; its memory is released once its handles are closed. */
void join_client_free(struct join_client *jc);

#endif
