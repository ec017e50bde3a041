/* gossip_io: drives the swim core with libuv: UDP packets and TCP push-pull on
 * the gossip address, every byte sealed under the cluster's gossip keyring. */
#ifndef SWARMNODE_GOSSIP_IO_H
#define SWARMNODE_GOSSIP_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/addr.h"
#include "swarmnode/keyring.h"
#include "swarmnode/swim.h"

struct gossip_io;
struct gossip_stream;

/* Called for every membership event, after it has been logged. */
typedef void (*gossip_event_cb)(struct gossip_io *g, const struct swim_event *ev);

/* Packets and streams the shell dropped before the core saw them. */
struct gossip_drops {
	uint64_t envelope;     /* too short, unknown version */
	uint64_t unknown_key;  /* sealed under a key we do not hold */
	uint64_t auth;         /* failed authentication: forged or corrupted */
	uint64_t oversize;     /* push-pull frame beyond the bound */
	uint64_t send_failed;  /* UDP sends the kernel refused */
	uint64_t stream_failed;/* push-pull connections that failed or timed out */
};

struct gossip_io {
	uv_loop_t *loop;
	uv_udp_t udp;                    /* data = this */
	uv_tcp_t listener;               /* push-pull server; data = this */
	uv_timer_t timer;                /* the core's next deadline; data = this */
	struct swim *swim;               /* owned */
	const struct keyring *keyring;   /* not owned: the swarm layer rotates keys in it */
	size_t max_frame;                /* largest sealed push-pull frame accepted */
	uint32_t stream_timeout_ms;
	gossip_event_cb on_event;
	void *data;                      /* for the owner */
	struct gossip_stream *streams;   /* open push-pull connections */
	struct gossip_drops drops;
	int handles_open;
	void (*on_closed)(struct gossip_io *g);
	bool closing;
};

/* Binds UDP and TCP on bind_addr and starts a swim core with cfg (whose addr
 * is the advertised gossip address). Returns 0, or a negative libuv/errno code
 * with the reason in err; nothing is left open on error. */
int gossip_io_start(struct gossip_io *g, uv_loop_t *loop, const struct addr *bind_addr,
		    const struct swim_config *cfg, const struct keyring *kr, gossip_event_cb on_event,
		    void *data, char *err, size_t errlen);

/* Contacts seeds with a push-pull join. Returns how many were contacted. */
int gossip_io_join(struct gossip_io *g, const struct swim_addr *seeds, size_t n);

/* Announces a graceful leave; keep the loop running until
 * swim_leave_done(g->swim) (or a deadline) before closing. */
int gossip_io_leave(struct gossip_io *g);

/* Replaces this node's metadata and gossips it. */
int gossip_io_set_meta(struct gossip_io *g, const uint8_t *meta, size_t len);

/* Closes sockets and streams; on_closed runs when every handle is closed,
 * after which g may be freed. */
void gossip_io_close(struct gossip_io *g, void (*on_closed)(struct gossip_io *g));

/* Converts between libuv socket addresses and the core's addresses. */
void gossip_addr_from_sockaddr(const struct sockaddr *sa, struct swim_addr *out);
int gossip_addr_to_sockaddr(const struct swim_addr *a, struct sockaddr_storage *out);
int gossip_addr_from_addr(const struct addr *a, struct swim_addr *out);

#endif
