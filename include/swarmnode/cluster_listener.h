/* cluster_listener: the TCP listener on the cluster port (2377): reads each connection's first frame and hands the connection to the join server or to the peer streams. */
#ifndef SWARMNODE_CLUSTER_LISTENER_H
#define SWARMNODE_CLUSTER_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/addr.h"

/* How long a new connection may take to send its first frame. */
#define CLUSTER_LISTENER_FIRST_FRAME_MS 10000

/* The largest first frame the listener reads to classify it: the join
 * handshake's bound for a HELLO (a peer HELLO is smaller). A longer one is
 * handed to the join server unread, which refuses it as it always has. */
#define CLUSTER_LISTENER_FIRST_FRAME_MAX 1024

/* At most this many connections may wait for their first frame at once;
 * more are closed as they come (each waiting one holds a read buffer). */
#define CLUSTER_LISTENER_MAX_PENDING 256

/* Where a classified connection goes. Both handlers take ownership of tcp:
 * it was malloc'd, is reading nothing, has data unset, and must be closed
 * with uv_close by its new owner, whose close callback frees it. bytes (len
 * of them, valid during the call) are everything read from it so far: the
 * first frame with its length prefix, and whatever followed in the same
 * read. peer is the remote address as text. */
struct cluster_listener_ops {
	/* A join HELLO, or anything that is not a peer HELLO. */
	void (*on_join)(void *data, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes, size_t len);
	/* A peer HELLO (peer_auth.h). */
	void (*on_peer)(void *data, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes, size_t len);
};

/* What the listener saw. */
struct cluster_listener_stats {
	uint64_t accepted;   /* connections accepted */
	uint64_t joins;      /* handed to the join server */
	uint64_t peers;      /* handed to the peer streams */
	uint64_t dropped;    /* closed, timed out or failed before a first frame */
};

struct cluster_pending;

struct cluster_listener {
	uv_loop_t *loop;
	uv_tcp_t listener;                     /* data = this */
	const struct cluster_listener_ops *ops;
	void *data;                            /* for the handlers */
	struct cluster_pending *pending;       /* connections whose first frame is awaited */
	size_t npending;                       /* how many */
	struct cluster_listener_stats stats;
	char addr[96];                         /* where it listens, as text */
	int handles_open;                      /* listener + pending connections' handles */
	void (*on_closed)(struct cluster_listener *cl);
	bool closing;
};

/* Listens on addr. Returns 0 or a negative libuv code with the reason in err;
 * nothing is left open on error. */
int cluster_listener_start(struct cluster_listener *cl, uv_loop_t *loop, const struct addr *addr,
			   const struct cluster_listener_ops *ops, void *data, char *err, size_t errlen);

/* Stops listening and drops connections not yet handed over; on_closed (may
 * be NULL) runs once every handle is closed, after which cl may be freed.
 * Connections already handed over belong to their handlers. */
void cluster_listener_close(struct cluster_listener *cl, void (*on_closed)(struct cluster_listener *cl));

#endif
