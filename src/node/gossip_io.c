/* gossip_io: drives the swim core with libuv: UDP packets and TCP push-pull on
 * the gossip address, every byte sealed under the cluster's gossip keyring. */
#include "swarmnode/gossip_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "swarmnode/frame.h"
#include "swarmnode/log.h"

/* Largest UDP datagram; what arrives beyond the core's budget is still read
 * whole so that it can be authenticated and counted. */
#define GOSSIP_DATAGRAM_MAX 65536

/* One TCP push-pull exchange, either direction. */
struct gossip_stream {
	uv_tcp_t tcp;                 /* data = this; first member for the close callback */
	uv_timer_t timer;             /* gives up on a silent peer; data = this */
	uv_connect_t connect;
	struct gossip_io *g;
	struct frame_reader reader;
	struct gossip_stream *prev, *next;
	uint32_t swim_stream;         /* outgoing: the core's stream id */
	uint8_t request_key_id[KEYRING_KEY_ID_LEN]; /* incoming: the key the request was sealed with */
	bool outgoing;
	bool reported;                /* outgoing: the core was told the outcome */
	bool closing;
	int handles_open;
};

struct gossip_write {
	uv_write_t req;
	uv_buf_t buf;
};

static void gossip_flush(struct gossip_io *g);

/* --- addresses ------------------------------------------------------------ */

void gossip_addr_from_sockaddr(const struct sockaddr *sa, struct swim_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		out->family = SWIM_AF_INET4;
		memcpy(out->ip, &in->sin_addr, 4);
		out->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		out->family = SWIM_AF_INET6;
		memcpy(out->ip, &in6->sin6_addr, 16);
		out->port = ntohs(in6->sin6_port);
	}
}

int gossip_addr_to_sockaddr(const struct swim_addr *a, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == SWIM_AF_INET4) {
		struct sockaddr_in *in = (struct sockaddr_in *)out;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a->ip, 4);
		in->sin_port = htons(a->port);
		return 0;
	}
	if (a->family == SWIM_AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a->ip, 16);
		in6->sin6_port = htons(a->port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int gossip_addr_from_addr(const struct addr *a, struct swim_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->port = a->port;
	if (inet_pton(AF_INET, a->host, out->ip) == 1) {
		out->family = SWIM_AF_INET4;
		return 0;
	}
	if (inet_pton(AF_INET6, a->host, out->ip) == 1) {
		out->family = SWIM_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static const char *addr_text(const struct swim_addr *a, char *buf, size_t len)
{
	return swim_addr_format(a, buf, len);
}

/* --- sealing ---------------------------------------------------------------- */

/* Seals plain into a new buffer with kr's primary key, optionally behind a
 * frame header. Returns NULL when the keyring has no primary key (logged
 * once by the caller). */
static uint8_t *gossip_seal_with(const struct keyring *kr, const uint8_t *plain, size_t len, bool framed,
				 size_t *out_len)
{
	size_t hdr = framed ? FRAME_HEADER_LEN : 0;
	size_t cap = hdr + len + KEYRING_OVERHEAD;
	uint8_t nonce[KEYRING_NONCE_LEN];
	uint8_t *buf = malloc(cap);
	size_t sealed;
	if (buf == NULL)
		return NULL;
	randombytes_buf(nonce, sizeof(nonce));
	int rc = keyring_seal(kr, nonce, plain, len, buf + hdr, cap - hdr, &sealed);
	if (rc != 0) {
		log_error("gossip", "cannot seal", LF_STR("error", keyring_strerror(rc)));
		free(buf);
		return NULL;
	}
	if (framed)
		frame_header(buf, (uint32_t)sealed);
	*out_len = hdr + sealed;
	return buf;
}

static uint8_t *gossip_seal(struct gossip_io *g, const uint8_t *plain, size_t len, bool framed,
			    size_t *out_len)
{
	return gossip_seal_with(g->keyring, plain, len, framed, out_len);
}

/* A ring holding only the key with envelope id id, when that key is in kr
 * but not its primary; NULL otherwise (the caller frees it).
 *
 * Why: a push-pull request sealed with an older key of the ring comes from a
 * node that missed a key rotation (it was down). Answering with the primary
 * would leave it unable to read any member list, so it would never find a
 * manager to fetch the current ring from (gossip_keys.h); answering with the
 * key it sealed with, which this node still accepts, lets it rejoin. */
static struct keyring *keyring_of_id(const struct keyring *kr, const uint8_t id[KEYRING_KEY_ID_LEN])
{
	uint8_t key[KEYRING_KEY_LEN], kid[KEYRING_KEY_ID_LEN];
	bool primary = false;
	struct keyring *one = NULL;
	for (size_t i = 0; keyring_get(kr, i, key, &primary) == 0; i++) {
		keyring_key_id(key, kid);
		if (memcmp(kid, id, sizeof(kid)) != 0)
			continue;
		if (!primary && (one = keyring_new()) != NULL && keyring_install(one, key) != 0) {
			keyring_free(one);
			one = NULL;
		}
		break;
	}
	sodium_memzero(key, sizeof(key));
	return one;
}

/* Opens a sealed message into a new buffer, counting what fails. */
static uint8_t *gossip_open(struct gossip_io *g, const uint8_t *in, size_t len, size_t *out_len,
			    const char *what)
{
	uint8_t *plain = malloc(len > KEYRING_OVERHEAD ? len - KEYRING_OVERHEAD : 1);
	if (plain == NULL)
		return NULL;
	int rc = keyring_open(g->keyring, in, len, plain, len, out_len);
	if (rc == 0)
		return plain;
	free(plain);
	if (rc == KEYRING_E_AUTH)
		g->drops.auth++;
	else if (rc == KEYRING_E_UNKNOWN_KEY)
		g->drops.unknown_key++;
	else
		g->drops.envelope++;
	log_debug("gossip", "dropped a message that does not open", LF_STR("kind", what),
		  LF_STR("error", keyring_strerror(rc)));
	return NULL;
}

/* --- UDP ---------------------------------------------------------------------- */

static void udp_sent(uv_udp_send_t *req, int status)
{
	struct gossip_io *g = req->data;
	if (status < 0 && status != UV_ECANCELED) {
		g->drops.send_failed++;
		log_debug("gossip", "udp send failed", LF_STR("error", uv_strerror(status)));
	}
	free(req);
}

static void gossip_send_packet(struct gossip_io *g, const struct swim_out_packet *p)
{
	struct sockaddr_storage ss;
	size_t len;
	if (gossip_addr_to_sockaddr(&p->to, &ss) != 0)
		return;
	uint8_t *sealed = gossip_seal(g, p->data, p->len, false, &len);
	if (sealed == NULL)
		return;
	/* One allocation for the request and its bytes, freed in udp_sent. */
	uv_udp_send_t *req = malloc(sizeof(*req) + len);
	if (req == NULL) {
		free(sealed);
		return;
	}
	memcpy(req + 1, sealed, len);
	free(sealed);
	req->data = g;
	uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)len);
	int rc = uv_udp_send(req, &g->udp, &b, 1, (const struct sockaddr *)&ss, udp_sent);
	if (rc != 0) {
		g->drops.send_failed++;
		free(req);
	}
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[GOSSIP_DATAGRAM_MAX];
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void udp_recv(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
		     unsigned flags)
{
	struct gossip_io *g = udp->data;
	if (nread <= 0 || from == NULL || g->closing)
		return;
	if (flags & UV_UDP_PARTIAL) {
		g->drops.envelope++;
		return;
	}
	size_t len;
	uint8_t *plain = gossip_open(g, (const uint8_t *)buf->base, (size_t)nread, &len, "packet");
	if (plain == NULL)
		return;
	struct swim_addr sender;
	gossip_addr_from_sockaddr(from, &sender);
	swim_recv(g->swim, uv_now(g->loop), &sender, plain, len);
	free(plain);
	gossip_flush(g);
}

/* --- TCP push-pull ------------------------------------------------------------- */

static void stream_handle_closed(uv_handle_t *h)
{
	struct gossip_stream *st = h->data;
	if (--st->handles_open > 0)
		return;
	struct gossip_io *g = st->g;
	if (st->prev)
		st->prev->next = st->next;
	else
		g->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	frame_reader_close(&st->reader);
	free(st);
	if (--g->handles_open == 0 && g->on_closed)
		g->on_closed(g);
}

/* Ends a stream; an outgoing one that never got its answer reports failure. */
static void stream_close(struct gossip_stream *st)
{
	if (st->closing)
		return;
	st->closing = true;
	struct gossip_io *g = st->g;
	if (st->outgoing && !st->reported) {
		st->reported = true;
		g->drops.stream_failed++;
		if (!g->closing) {
			swim_pushpull_failed(g->swim, uv_now(g->loop), st->swim_stream);
			gossip_flush(g);
		}
	}
	uv_timer_stop(&st->timer);
	uv_close((uv_handle_t *)&st->timer, stream_handle_closed);
	uv_close((uv_handle_t *)&st->tcp, stream_handle_closed);
}

static void stream_timed_out(uv_timer_t *t)
{
	struct gossip_stream *st = t->data;
	log_debug("gossip", "push-pull timed out", LF_BOOL("outgoing", st->outgoing));
	stream_close(st);
}

static struct gossip_stream *stream_new(struct gossip_io *g, bool outgoing)
{
	struct gossip_stream *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->g = g;
	st->outgoing = outgoing;
	uv_tcp_init(g->loop, &st->tcp);
	uv_timer_init(g->loop, &st->timer);
	st->tcp.data = st->timer.data = st;
	st->handles_open = 2;
	frame_reader_init(&st->reader, g->max_frame);
	st->next = g->streams;
	if (g->streams)
		g->streams->prev = st;
	g->streams = st;
	g->handles_open++;
	uv_timer_start(&st->timer, stream_timed_out, g->stream_timeout_ms, 0);
	return st;
}

static void stream_written(uv_write_t *req, int status)
{
	struct gossip_write *w = (struct gossip_write *)req;
	struct gossip_stream *st = req->data;
	free(w->buf.base);
	free(w);
	/* The server side is done once its reply is out. */
	if (status < 0 || !st->outgoing)
		stream_close(st);
}

static void stream_send(struct gossip_stream *st, const uint8_t *plain, size_t len)
{
	size_t flen;
	struct keyring *older = st->outgoing ? NULL : keyring_of_id(st->g->keyring, st->request_key_id);
	uint8_t *framed = gossip_seal_with(older ? older : st->g->keyring, plain, len, true, &flen);
	keyring_free(older);
	struct gossip_write *w = framed ? malloc(sizeof(*w)) : NULL;
	if (w == NULL) {
		free(framed);
		stream_close(st);
		return;
	}
	w->buf = uv_buf_init((char *)framed, (unsigned)flen);
	w->req.data = st;
	if (uv_write(&w->req, (uv_stream_t *)&st->tcp, &w->buf, 1, stream_written) != 0) {
		free(framed);
		free(w);
		stream_close(st);
	}
}

/* A whole frame arrived: a request to serve, or the reply we waited for. */
static void stream_frame(struct gossip_stream *st, const uint8_t *sealed, size_t len)
{
	struct gossip_io *g = st->g;
	size_t plen;
	uint8_t *plain = gossip_open(g, sealed, len, &plen, "push-pull");
	if (plain == NULL) {
		stream_close(st);
		return;
	}
	memcpy(st->request_key_id, sealed + 1, KEYRING_KEY_ID_LEN); /* opened: the header is there */
	uint64_t now = uv_now(g->loop);
	if (st->outgoing) {
		st->reported = true;
		swim_pushpull_response(g->swim, now, st->swim_stream, plain, plen);
		free(plain);
		gossip_flush(g);
		stream_close(st);
		return;
	}
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct swim_addr from = {0};
	if (uv_tcp_getpeername(&st->tcp, (struct sockaddr *)&ss, &sslen) == 0)
		gossip_addr_from_sockaddr((struct sockaddr *)&ss, &from);
	uint8_t *reply = NULL;
	size_t reply_len = 0;
	int rc = swim_pushpull_serve(g->swim, now, &from, plain, plen, &reply, &reply_len);
	free(plain);
	gossip_flush(g);
	if (rc != 0) {
		stream_close(st);
		return;
	}
	uv_read_stop((uv_stream_t *)&st->tcp);
	stream_send(st, reply, reply_len);
	free(reply);
}

static void stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct gossip_stream *st = s->data;
	if (nread < 0) {
		stream_close(st);
		return;
	}
	size_t pos = 0;
	while (pos < (size_t)nread && !st->closing) {
		uint8_t *frame;
		size_t flen, used;
		int rc = frame_reader_feed(&st->reader, (const uint8_t *)buf->base + pos, (size_t)nread - pos,
					   &used, &frame, &flen);
		pos += used;
		if (rc < 0) {
			st->g->drops.oversize++;
			stream_close(st);
			return;
		}
		if (rc == 1) {
			stream_frame(st, frame, flen);
			free(frame);
			return; /* one frame per stream in each direction */
		}
	}
}

static void stream_connected(uv_connect_t *req, int status)
{
	struct gossip_stream *st = req->data;
	if (status < 0 || st->closing) {
		log_debug("gossip", "push-pull connect failed", LF_STR("error", uv_strerror(status)));
		stream_close(st);
		return;
	}
	uv_read_start((uv_stream_t *)&st->tcp, stream_alloc, stream_read);
}

static void gossip_open_stream(struct gossip_io *g, struct swim_out_stream *out)
{
	struct sockaddr_storage ss;
	struct gossip_stream *st = stream_new(g, true);
	if (st == NULL) {
		swim_pushpull_failed(g->swim, uv_now(g->loop), out->id);
		return;
	}
	st->swim_stream = out->id;
	st->connect.data = st;
	if (gossip_addr_to_sockaddr(&out->to, &ss) != 0 ||
	    uv_tcp_connect(&st->connect, &st->tcp, (struct sockaddr *)&ss, stream_connected) != 0) {
		stream_close(st);
		return;
	}
	/* Queued writes go out once connected; libuv keeps the order. */
	stream_send(st, out->data, out->len);
}

static void listener_accept(uv_stream_t *server, int status)
{
	struct gossip_io *g = server->data;
	if (status < 0 || g->closing)
		return;
	struct gossip_stream *st = stream_new(g, false);
	if (st == NULL)
		return;
	if (uv_accept(server, (uv_stream_t *)&st->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&st->tcp, stream_alloc, stream_read) != 0)
		stream_close(st);
}

/* --- the core's outputs ------------------------------------------------------- */

static const char *event_message(uint8_t type)
{
	switch (type) {
	case SWIM_EV_JOINED: return "member joined";
	case SWIM_EV_UPDATED: return "member updated";
	case SWIM_EV_SUSPECT: return "member suspect";
	case SWIM_EV_ALIVE: return "member alive again";
	case SWIM_EV_DEAD: return "member dead";
	case SWIM_EV_LEFT: return "member left";
	case SWIM_EV_REAPED: return "member forgotten";
	case SWIM_EV_REFUTED: return "refuted a suspicion about this node";
	default: return "member event";
	}
}

static void gossip_log_event(const struct swim_event *ev)
{
	char addr[64];
	enum log_level level = ev->type == SWIM_EV_UPDATED || ev->type == SWIM_EV_REAPED ? LOG_DEBUG : LOG_INFO;
	log_at(level, "swim", event_message(ev->type), LF_STR("node", ev->id),
	       LF_STR("addr", addr_text(&ev->addr, addr, sizeof(addr))), LF_UINT("incarnation", ev->incarnation),
	       LF_UINT("alive", ev->counts.alive), LF_UINT("suspect", ev->counts.suspect),
	       LF_UINT("dead", ev->counts.dead), LF_UINT("left", ev->counts.left));
}

static void gossip_timer_fired(uv_timer_t *t)
{
	struct gossip_io *g = t->data;
	swim_tick(g->swim, uv_now(g->loop));
	gossip_flush(g);
}

/* Sends what the core queued, reports its events and re-arms its timer. */
static void gossip_flush(struct gossip_io *g)
{
	struct swim_out_packet p;
	struct swim_out_stream s;
	struct swim_event ev;
	if (g->closing)
		return;
	while (swim_pop_packet(g->swim, &p)) {
		gossip_send_packet(g, &p);
		free(p.data);
	}
	while (swim_pop_stream(g->swim, &s)) {
		gossip_open_stream(g, &s);
		free(s.data);
	}
	while (swim_pop_event(g->swim, &ev)) {
		gossip_log_event(&ev);
		if (g->on_event)
			g->on_event(g, &ev);
	}
	uint64_t next = swim_next_deadline(g->swim);
	if (next == UINT64_MAX) {
		uv_timer_stop(&g->timer);
		return;
	}
	uint64_t now = uv_now(g->loop);
	uv_timer_start(&g->timer, gossip_timer_fired, next > now ? next - now : 0, 0);
}

/* --- lifecycle ------------------------------------------------------------------ */

static void gossip_handle_closed(uv_handle_t *h)
{
	struct gossip_io *g = h->data;
	if (--g->handles_open == 0 && g->on_closed)
		g->on_closed(g);
}

int gossip_io_start(struct gossip_io *g, uv_loop_t *loop, const struct addr *bind_addr,
		    const struct swim_config *cfg, const struct keyring *kr, gossip_event_cb on_event,
		    void *data, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct swim_addr bind_swim;
	int rc;
	memset(g, 0, sizeof(*g));
	g->loop = loop;
	g->keyring = kr;
	g->on_event = on_event;
	g->data = data;
	g->max_frame = cfg->max_pushpull_bytes + KEYRING_OVERHEAD;
	g->stream_timeout_ms = cfg->stream_timeout_ms;
	if (gossip_addr_from_addr(bind_addr, &bind_swim) != 0 || gossip_addr_to_sockaddr(&bind_swim, &ss) != 0) {
		snprintf(err, errlen, "invalid gossip address %s", bind_addr->host);
		return -EINVAL;
	}
	if ((rc = swim_new(cfg, uv_now(loop), &g->swim)) != 0) {
		swim_config_check(cfg, err, errlen);
		return rc;
	}
	uv_udp_init(loop, &g->udp);
	uv_tcp_init(loop, &g->listener);
	uv_timer_init(loop, &g->timer);
	g->udp.data = g->listener.data = g->timer.data = g;
	g->handles_open = 3;
	const char *what = "udp bind";
	if ((rc = uv_udp_bind(&g->udp, (struct sockaddr *)&ss, 0)) == 0 &&
	    (what = "udp receive", rc = uv_udp_recv_start(&g->udp, udp_alloc, udp_recv)) == 0 &&
	    (what = "tcp bind", rc = uv_tcp_bind(&g->listener, (struct sockaddr *)&ss, 0)) == 0 &&
	    (what = "tcp listen", rc = uv_listen((uv_stream_t *)&g->listener, 128, listener_accept)) == 0) {
		gossip_flush(g);
		return 0;
	}
	char a[96];
	addr_format(bind_addr, a, sizeof(a));
	snprintf(err, errlen, "gossip address %s: %s: %s", a, what, uv_strerror(rc));
	g->closing = true;
	uv_close((uv_handle_t *)&g->udp, NULL);
	uv_close((uv_handle_t *)&g->listener, NULL);
	uv_close((uv_handle_t *)&g->timer, NULL);
	swim_free(g->swim);
	g->swim = NULL;
	return rc;
}

int gossip_io_join(struct gossip_io *g, const struct swim_addr *seeds, size_t n)
{
	int rc = swim_join(g->swim, uv_now(g->loop), seeds, n);
	gossip_flush(g);
	return rc;
}

int gossip_io_leave(struct gossip_io *g)
{
	int rc = swim_leave(g->swim, uv_now(g->loop));
	gossip_flush(g);
	return rc;
}

int gossip_io_set_meta(struct gossip_io *g, const uint8_t *meta, size_t len)
{
	int rc = swim_set_meta(g->swim, uv_now(g->loop), meta, len);
	gossip_flush(g);
	return rc;
}

void gossip_io_close(struct gossip_io *g, void (*on_closed)(struct gossip_io *g))
{
	if (g->closing)
		return;
	g->closing = true;
	g->on_closed = on_closed;
	for (struct gossip_stream *st = g->streams; st; st = st->next)
		stream_close(st);
	uv_timer_stop(&g->timer);
	uv_close((uv_handle_t *)&g->udp, gossip_handle_closed);
	uv_close((uv_handle_t *)&g->listener, gossip_handle_closed);
	uv_close((uv_handle_t *)&g->timer, gossip_handle_closed);
	swim_free(g->swim);
	g->swim = NULL;
}
