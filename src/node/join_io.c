/* join_io: the join handshake over TCP with libuv: server and client. */
#include "swarmnode/join_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "swarmnode/join_payload.h"
#include "swarmnode/log.h"

/* The handshake checks certificate validity against the wall clock. */
static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

struct join_write {
	uv_write_t req;
	uv_buf_t buf;
};

static void join_write_done(uv_write_t *req, int status)
{
	struct join_write *w = (struct join_write *)req;
	free(w->buf.base);
	free(w);
}

/* Queues whatever the handshake wants to send. Returns 0 or a libuv error. */
static int join_flush(struct handshake *hs, uv_tcp_t *tcp)
{
	const uint8_t *data;
	size_t n = handshake_output(hs, &data);
	if (n == 0)
		return 0;
	struct join_write *w = malloc(sizeof(*w));
	char *copy = malloc(n);
	if (w == NULL || copy == NULL) {
		free(w);
		free(copy);
		return UV_ENOMEM;
	}
	memcpy(copy, data, n);
	w->buf = uv_buf_init(copy, (unsigned)n);
	int rc = uv_write(&w->req, (uv_stream_t *)tcp, &w->buf, 1, join_write_done);
	if (rc != 0) {
		free(copy);
		free(w);
		return rc;
	}
	handshake_output_sent(hs, n);
	return 0;
}

static void join_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[16384];
	*buf = uv_buf_init(slab, sizeof(slab));
}

/* --- server ------------------------------------------------------------------- */

struct join_server_conn {
	uv_tcp_t *tcp;      /* malloc'd by the cluster listener; data = this */
	uv_timer_t timer;   /* data = this */
	uv_shutdown_t shutdown;
	struct join_server *js;
	struct handshake *hs;
	struct join_server_conn *prev, *next;
	char peer[64];
	int handles_open;
	bool closing;
};

static void server_handle_gone(struct join_server *js)
{
	if (--js->handles_open == 0 && js->on_closed)
		js->on_closed(js);
}

static void server_conn_closed(struct join_server_conn *c)
{
	if (--c->handles_open > 0)
		return;
	struct join_server *js = c->js;
	if (c->prev)
		c->prev->next = c->next;
	else
		js->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	handshake_free(c->hs);
	free(c);
	server_handle_gone(js);
}

static void server_timer_closed(uv_handle_t *h)
{
	server_conn_closed(h->data);
}

static void server_tcp_closed(uv_handle_t *h)
{
	struct join_server_conn *c = h->data;
	free(h);
	server_conn_closed(c);
}

static void server_conn_close_now(struct join_server_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, server_timer_closed);
	uv_close((uv_handle_t *)c->tcp, server_tcp_closed);
}

static void server_conn_shut(uv_shutdown_t *req, int status)
{
	server_conn_close_now(req->data);
}

/* Flushes the last message (WELCOME or REJECT) before closing. */
static void server_conn_finish(struct join_server_conn *c)
{
	uv_read_stop((uv_stream_t *)c->tcp);
	c->shutdown.data = c;
	if (join_flush(c->hs, c->tcp) != 0 ||
	    uv_shutdown(&c->shutdown, (uv_stream_t *)c->tcp, server_conn_shut) != 0)
		server_conn_close_now(c);
}

static void server_conn_timeout(uv_timer_t *t)
{
	struct join_server_conn *c = t->data;
	log_info("join", "join attempt timed out", LF_STR("peer", c->peer));
	server_conn_close_now(c);
}

/* A proof was accepted: let the owner pick the id and payload, then WELCOME. */
static void server_conn_issue(struct join_server_conn *c)
{
	struct join_server *js = c->js;
	char node_id[IDS_LEN + 1];
	uint8_t payload[JOIN_PAYLOAD_MAX];
	size_t len = 0;
	enum identity_role role = handshake_joiner_role(c->hs);
	uint64_t now = wall_ms();
	uint64_t expires = now + IDENTITY_CERT_LIFETIME_MS;
	if (js->ops->issue(js->data, role, handshake_joiner_node_pk(c->hs), node_id, payload, sizeof(payload),
			   &len) != 0 ||
	    handshake_manager_issue(c->hs, node_id, now, expires, payload, len) != 0) {
		log_error("join", "cannot issue a node identity", LF_STR("peer", c->peer),
			  LF_STR("error", handshake_error(c->hs)));
		return;
	}
	js->joined++;
	log_info("join", "node admitted", LF_STR("node", node_id), LF_STR("role", identity_role_name(role)),
		 LF_STR("peer", c->peer));
}

/* Feeds received bytes to the handshake and acts on where it stands. */
static void server_conn_input(struct join_server_conn *c, const uint8_t *data, size_t n)
{
	size_t used;
	int rc = handshake_feed(c->hs, data, n, wall_ms(), &used);
	if (rc == 0 && handshake_state(c->hs) == HANDSHAKE_MANAGER_ISSUE)
		server_conn_issue(c);
	enum handshake_state state = handshake_state(c->hs);
	if (state == HANDSHAKE_FAILED) {
		c->js->refused++;
		log_warn("join", "join refused", LF_STR("peer", c->peer), LF_STR("reason", handshake_error(c->hs)));
		server_conn_finish(c);
	} else if (state == HANDSHAKE_DONE) {
		server_conn_finish(c);
	} else if (join_flush(c->hs, c->tcp) != 0) {
		server_conn_close_now(c);
	}
}

static void server_conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct join_server_conn *c = s->data;
	if (nread < 0) {
		handshake_eof(c->hs);
		server_conn_close_now(c);
		return;
	}
	server_conn_input(c, (const uint8_t *)buf->base, (size_t)nread);
}

void join_server_init(struct join_server *js, uv_loop_t *loop, const struct join_server_ops *ops,
		      void *data)
{
	memset(js, 0, sizeof(*js));
	js->loop = loop;
	js->ops = ops;
	js->data = data;
	js->handles_open = 1; /* released by join_server_close */
}

static void server_tcp_closed_alone(uv_handle_t *h)
{
	free(h);
}

void join_server_adopt(struct join_server *js, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes,
		       size_t len)
{
	struct handshake_manager_config cfg;
	char err[256];
	struct join_server_conn *c = js->closing ? NULL : calloc(1, sizeof(*c));
	if (c == NULL) {
		uv_close((uv_handle_t *)tcp, server_tcp_closed_alone);
		return;
	}
	c->js = js;
	c->tcp = tcp;
	uv_timer_init(js->loop, &c->timer);
	c->tcp->data = c->timer.data = c;
	c->handles_open = 2;
	js->handles_open++;
	c->next = js->conns;
	if (js->conns)
		js->conns->prev = c;
	js->conns = c;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	memset(&cfg, 0, sizeof(cfg));
	int rc = js->ops->config(js->data, &cfg);
	randombytes_buf(cfg.ephemeral_seed, sizeof(cfg.ephemeral_seed));
	if (rc == 0)
		rc = handshake_manager_new(&c->hs, &cfg, wall_ms(), err, sizeof(err));
	sodium_memzero(&cfg, sizeof(cfg));
	if (rc != 0) {
		log_error("join", "cannot serve joins", LF_STR("error", rc == HANDSHAKE_E_CONFIG ? err : "no keys"));
		server_conn_close_now(c);
		return;
	}
	uv_timer_start(&c->timer, server_conn_timeout, JOIN_IO_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)c->tcp, join_alloc, server_conn_read) != 0) {
		server_conn_close_now(c);
		return;
	}
	if (len > 0)
		server_conn_input(c, bytes, len);
}

void join_server_close(struct join_server *js, void (*on_closed)(struct join_server *js))
{
	if (js->closing)
		return;
	js->closing = true;
	js->on_closed = on_closed;
	for (struct join_server_conn *c = js->conns; c; c = c->next)
		server_conn_close_now(c);
	server_handle_gone(js);
}

/* --- client ------------------------------------------------------------------- */

struct join_client {
	uv_tcp_t tcp;           /* data = this; first member */
	uv_timer_t timer;       /* data = this */
	uv_connect_t connect;
	struct handshake *hs;
	join_client_done_fn done;
	void *data;
	char manager[96];
	int handles_open;
	bool finished;          /* done was called */
	bool freed;             /* the owner let go */
};

static void client_handle_closed(uv_handle_t *h)
{
	struct join_client *jc = h->data;
	if (--jc->handles_open > 0)
		return;
	handshake_free(jc->hs);
	free(jc);
}

static void client_close_handles(struct join_client *jc)
{
	if (uv_is_closing((uv_handle_t *)&jc->tcp))
		return;
	uv_timer_stop(&jc->timer);
	uv_read_stop((uv_stream_t *)&jc->tcp);
	uv_close((uv_handle_t *)&jc->timer, client_handle_closed);
	uv_close((uv_handle_t *)&jc->tcp, client_handle_closed);
}

static void client_finish(struct join_client *jc, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void client_finish(struct join_client *jc, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (jc->finished)
		return;
	jc->finished = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uv_timer_stop(&jc->timer);
	uv_read_stop((uv_stream_t *)&jc->tcp);
	jc->done(jc, status, msg, jc->data);
}

/* The manager answered but the handshake failed: refused, not unreachable. */
static void client_failed(struct join_client *jc, int rc)
{
	client_finish(jc, -EACCES, "%s", handshake_error(jc->hs));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct join_client *jc = s->data;
	size_t used;
	if (nread < 0) {
		int rc = handshake_eof(jc->hs);
		if (rc != 0)
			client_failed(jc, rc);
		else
			client_finish(jc, 0, "joined");
		return;
	}
	int rc = handshake_feed(jc->hs, (const uint8_t *)buf->base, (size_t)nread, wall_ms(), &used);
	if (rc != 0) {
		client_failed(jc, rc);
		return;
	}
	if (handshake_state(jc->hs) == HANDSHAKE_DONE) {
		client_finish(jc, 0, "joined");
		return;
	}
	if ((rc = join_flush(jc->hs, &jc->tcp)) != 0)
		client_finish(jc, -EHOSTUNREACH, "cannot send to manager at %s: %s", jc->manager, uv_strerror(rc));
}

static void client_connected(uv_connect_t *req, int status)
{
	struct join_client *jc = req->data;
	if (jc->finished)
		return;
	if (status < 0) {
		client_finish(jc, -EHOSTUNREACH, "cannot reach manager at %s: %s", jc->manager, uv_strerror(status));
		return;
	}
	int rc = join_flush(jc->hs, &jc->tcp);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&jc->tcp, join_alloc, client_read);
	if (rc != 0)
		client_finish(jc, -EHOSTUNREACH, "cannot talk to manager at %s: %s", jc->manager, uv_strerror(rc));
}

static void client_timeout(uv_timer_t *t)
{
	struct join_client *jc = t->data;
	client_finish(jc, -ETIMEDOUT, "timed out after %d s joining through manager at %s",
		      JOIN_IO_TIMEOUT_MS / 1000, jc->manager);
}

int join_client_start(struct join_client **out, uv_loop_t *loop, const struct addr *manager,
		      const struct handshake_joiner_config *cfg, join_client_done_fn done, void *data)
{
	struct sockaddr_storage ss;
	struct join_client *jc = calloc(1, sizeof(*jc));
	if (jc == NULL)
		return UV_ENOMEM;
	int rc = manager->family == AF_INET6 ? uv_ip6_addr(manager->host, manager->port, (struct sockaddr_in6 *)&ss)
					     : uv_ip4_addr(manager->host, manager->port, (struct sockaddr_in *)&ss);
	if (rc != 0 || handshake_joiner_new(&jc->hs, cfg) != 0) {
		free(jc);
		return rc ? rc : UV_ENOMEM;
	}
	addr_format(manager, jc->manager, sizeof(jc->manager));
	jc->done = done;
	jc->data = data;
	uv_tcp_init(loop, &jc->tcp);
	uv_timer_init(loop, &jc->timer);
	jc->tcp.data = jc->timer.data = jc->connect.data = jc;
	jc->handles_open = 2;
	uv_timer_start(&jc->timer, client_timeout, JOIN_IO_TIMEOUT_MS, 0);
	if ((rc = uv_tcp_connect(&jc->connect, &jc->tcp, (struct sockaddr *)&ss, client_connected)) != 0) {
		jc->finished = true; /* the caller learns it from the return code */
		client_close_handles(jc);
		return rc;
	}
	*out = jc;
	return 0;
}

const struct handshake *join_client_handshake(const struct join_client *jc)
{
	return jc->hs;
}

void join_client_free(struct join_client *jc)
{
	if (!jc->finished)
		client_finish(jc, -ECANCELED, "join cancelled");
	client_close_handles(jc);
}
