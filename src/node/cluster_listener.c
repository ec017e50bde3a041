/* cluster_listener: the TCP listener on the cluster port: classifies each connection by its first frame. */
#include "swarmnode/cluster_listener.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/frame.h"
#include "swarmnode/log.h"
#include "swarmnode/peer_auth.h"

/* Bytes kept per connection until its first frame is whole: the frame, and
 * at most one read's worth after it. */
#define PENDING_READ 16384
#define PENDING_CAP (FRAME_HEADER_LEN + CLUSTER_LISTENER_FIRST_FRAME_MAX + PENDING_READ)

/* A connection whose first frame is being read. */
struct cluster_pending {
	uv_tcp_t *tcp;                    /* malloc'd; data = this; NULL once handed over */
	uv_timer_t timer;                 /* first-frame deadline; data = this */
	struct cluster_listener *cl;
	struct cluster_pending *prev, *next;
	uint8_t buf[PENDING_CAP];         /* everything read so far */
	size_t have;                      /* its length */
	char peer[64];                    /* remote address */
	int handles_open;                 /* tcp (until handed over) and timer */
	bool done;                        /* handed over or being dropped */
};

static void pending_unlink(struct cluster_pending *p)
{
	struct cluster_listener *cl = p->cl;
	cl->npending--;
	if (p->prev)
		p->prev->next = p->next;
	else if (cl->pending == p)
		cl->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void listener_handle_gone(struct cluster_listener *cl)
{
	if (--cl->handles_open == 0 && cl->on_closed)
		cl->on_closed(cl);
}

static void pending_handle_closed(struct cluster_pending *p)
{
	if (--p->handles_open > 0)
		return;
	struct cluster_listener *cl = p->cl;
	free(p);
	listener_handle_gone(cl);
}

static void pending_timer_closed(uv_handle_t *h)
{
	pending_handle_closed(h->data);
}

static void pending_tcp_closed(uv_handle_t *h)
{
	struct cluster_pending *p = h->data;
	free(h);
	pending_handle_closed(p);
}

/* Ends the wait: unlinks, closes the timer, and the connection unless it was handed over. */
static void pending_finish(struct cluster_pending *p)
{
	if (p->done)
		return;
	p->done = true;
	pending_unlink(p);
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, pending_timer_closed);
	if (p->tcp != NULL) {
		uv_close((uv_handle_t *)p->tcp, pending_tcp_closed);
		p->tcp = NULL;
	}
}

static void pending_drop(struct cluster_pending *p, const char *why)
{
	p->cl->stats.dropped++;
	log_debug("cluster", "connection dropped before its first frame", LF_STR("peer", p->peer),
		  LF_STR("reason", why));
	pending_finish(p);
}

/* Gives the connection to a handler: it owns tcp from here on. */
static void pending_hand_over(struct cluster_pending *p, bool peer)
{
	struct cluster_listener *cl = p->cl;
	uv_tcp_t *tcp = p->tcp;
	uv_read_stop((uv_stream_t *)tcp);
	tcp->data = NULL;
	p->tcp = NULL;
	p->handles_open--; /* the handle is the handler's now */
	if (peer)
		cl->stats.peers++;
	else
		cl->stats.joins++;
	/* Copy what the handler needs before the pending memory may go. */
	char who[64];
	memcpy(who, p->peer, sizeof(who));
	size_t have = p->have;
	uint8_t *bytes = malloc(have > 0 ? have : 1);
	if (bytes == NULL) {
		/* Cannot hand the bytes over: drop the connection ourselves. */
		tcp->data = p;
		p->tcp = tcp;
		p->handles_open++;
		pending_drop(p, "out of memory");
		return;
	}
	memcpy(bytes, p->buf, have);
	pending_finish(p);
	if (peer)
		cl->ops->on_peer(cl->data, tcp, who, bytes, have);
	else
		cl->ops->on_join(cl->data, tcp, who, bytes, have);
	free(bytes);
}

static void pending_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct cluster_pending *p = h->data;
	size_t room = PENDING_CAP - p->have;
	*buf = uv_buf_init((char *)p->buf + p->have, (unsigned)room);
}

/* Looks at what has arrived: hands the connection over once the first frame
 * is whole (or is announced too long to be a peer HELLO). */
static void pending_classify(struct cluster_pending *p)
{
	if (p->have < FRAME_HEADER_LEN)
		return;
	size_t n = (size_t)p->buf[0] << 24 | (size_t)p->buf[1] << 16 | (size_t)p->buf[2] << 8 | p->buf[3];
	if (n == 0 || n > CLUSTER_LISTENER_FIRST_FRAME_MAX) {
		pending_hand_over(p, false);
		return;
	}
	if (p->have < FRAME_HEADER_LEN + n)
		return;
	pending_hand_over(p, peer_auth_is_hello(p->buf + FRAME_HEADER_LEN, n));
}

static void pending_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct cluster_pending *p = s->data;
	if (nread < 0) {
		pending_drop(p, nread == UV_EOF ? "closed" : uv_strerror((int)nread));
		return;
	}
	p->have += (size_t)nread;
	pending_classify(p);
}

static void pending_timeout(uv_timer_t *t)
{
	pending_drop(t->data, "no first frame in time");
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void listener_accept(uv_stream_t *server, int status)
{
	struct cluster_listener *cl = server->data;
	if (status < 0 || cl->closing)
		return;
	bool full = cl->npending >= CLUSTER_LISTENER_MAX_PENDING;
	struct cluster_pending *p = full ? NULL : calloc(1, sizeof(*p));
	uv_tcp_t *tcp = full ? NULL : malloc(sizeof(*tcp));
	if (p == NULL || tcp == NULL) {
		free(p);
		free(tcp);
		/* Accept and close at once, or libuv keeps signalling the connection. */
		uv_tcp_t *tmp = malloc(sizeof(*tmp));
		if (tmp != NULL) {
			uv_tcp_init(cl->loop, tmp);
			if (uv_accept(server, (uv_stream_t *)tmp) == 0) {
				cl->stats.dropped++;
				log_warn("cluster", "connection dropped",
					 LF_STR("reason", full ? "too many connections waiting for their first frame" : "out of memory"));
			}
			uv_close((uv_handle_t *)tmp, free_handle);
		}
		return;
	}
	p->cl = cl;
	p->tcp = tcp;
	uv_tcp_init(cl->loop, tcp);
	uv_timer_init(cl->loop, &p->timer);
	tcp->data = p->timer.data = p;
	p->handles_open = 2;
	cl->handles_open++;
	p->next = cl->pending;
	if (cl->pending)
		cl->pending->prev = p;
	cl->pending = p;
	cl->npending++;
	if (uv_accept(server, (uv_stream_t *)tcp) != 0) {
		pending_drop(p, "accept failed");
		return;
	}
	cl->stats.accepted++;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
		char host[64];
		uv_ip_name((struct sockaddr *)&ss, host, sizeof(host));
		int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
		snprintf(p->peer, sizeof(p->peer), ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
	}
	uv_tcp_nodelay(tcp, 1);
	uv_timer_start(&p->timer, pending_timeout, CLUSTER_LISTENER_FIRST_FRAME_MS, 0);
	if (uv_read_start((uv_stream_t *)tcp, pending_alloc, pending_read) != 0)
		pending_drop(p, "cannot read");
}

static void listener_closed(uv_handle_t *h)
{
	listener_handle_gone(h->data);
}

int cluster_listener_start(struct cluster_listener *cl, uv_loop_t *loop, const struct addr *addr,
			   const struct cluster_listener_ops *ops, void *data, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int rc;
	memset(cl, 0, sizeof(*cl));
	cl->loop = loop;
	cl->ops = ops;
	cl->data = data;
	addr_format(addr, cl->addr, sizeof(cl->addr));
	rc = addr->family == AF_INET6 ? uv_ip6_addr(addr->host, addr->port, (struct sockaddr_in6 *)&ss)
				      : uv_ip4_addr(addr->host, addr->port, (struct sockaddr_in *)&ss);
	if (rc != 0) {
		snprintf(err, errlen, "listen address %s: %s", cl->addr, uv_strerror(rc));
		return rc;
	}
	uv_tcp_init(loop, &cl->listener);
	cl->listener.data = cl;
	cl->handles_open = 1;
	if ((rc = uv_tcp_bind(&cl->listener, (struct sockaddr *)&ss, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&cl->listener, 128, listener_accept)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", cl->addr, uv_strerror(rc));
		cl->closing = true;
		uv_close((uv_handle_t *)&cl->listener, NULL);
		return rc;
	}
	return 0;
}

void cluster_listener_close(struct cluster_listener *cl, void (*on_closed)(struct cluster_listener *cl))
{
	if (cl->closing)
		return;
	cl->closing = true;
	cl->on_closed = on_closed;
	while (cl->pending != NULL)
		pending_finish(cl->pending);
	uv_close((uv_handle_t *)&cl->listener, listener_closed);
}
