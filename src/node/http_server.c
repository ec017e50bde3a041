/* http_server: serves http_conn connections on a Unix socket with libuv. */
#include "swarmnode/http_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swarmnode/log.h"

struct http_server_conn {
	uv_pipe_t pipe;                    /* data = this */
	uv_timer_t idle;                   /* data = this */
	uv_shutdown_t shutdown;
	struct http_conn http;             /* http.data = this */
	struct http_server *srv;
	struct http_server_conn *prev, *next;
	int handles_open;                  /* pipe and timer; freed at zero */
	int closing;
};

struct server_write {
	uv_write_t req;
	char *buf;
};

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void server_conn_unlink(struct http_server_conn *c)
{
	struct http_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
}

static void server_maybe_done(struct http_server *srv)
{
	if (srv->on_closed && srv->closing == 0 && srv->nconns == 0) {
		void (*cb)(struct http_server *) = srv->on_closed;
		srv->on_closed = NULL;
		cb(srv);
	}
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct http_server_conn *c = h->data;
	if (--c->handles_open > 0)
		return;
	struct http_server *srv = c->srv;
	server_conn_unlink(c);
	http_conn_release(&c->http);
	free(c);
	server_maybe_done(srv);
}

static void conn_close_handles(struct http_server_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_timer_stop(&c->idle);
	uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
	uv_close((uv_handle_t *)&c->pipe, conn_handle_closed);
}

static void conn_shutdown_done(uv_shutdown_t *req, int status)
{
	(void)status; /* the connection goes either way */
	conn_close_handles(req->data);
}

/* http_transport.close: flush queued writes, then close. */
static void transport_close(struct http_conn *http)
{
	struct http_server_conn *c = http->data;
	if (c->closing)
		return;
	uv_read_stop((uv_stream_t *)&c->pipe);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, conn_shutdown_done) != 0)
		conn_close_handles(c);
}

static void write_done(uv_write_t *req, int status)
{
	struct server_write *w = (struct server_write *)req;
	struct http_server_conn *c = req->data;
	free(w->buf);
	free(w);
	if (status < 0 && status != UV_ECANCELED) {
		log_debug("http", "write failed", LF_STR("error", uv_strerror(status)));
		http_conn_eof(&c->http);
	}
}

static void transport_write(struct http_conn *http, char *buf, size_t len)
{
	struct http_server_conn *c = http->data;
	if (c->closing) {
		free(buf);
		return;
	}
	struct server_write *w = malloc(sizeof(*w));
	if (w == NULL)
		abort();
	w->buf = buf;
	w->req.data = c;
	uv_buf_t b = uv_buf_init(buf, (unsigned)len);
	int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, write_done);
	if (rc != 0) {
		free(buf);
		free(w);
		http_conn_eof(http);
	}
}

static const struct http_transport server_transport = {
	.write = transport_write,
	.close = transport_close,
};

static void conn_idle_expired(uv_timer_t *t)
{
	struct http_server_conn *c = t->data;
	if (http_conn_busy(&c->http))
		return;
	log_debug("http", "closing idle connection");
	http_conn_eof(&c->http);
}

static void conn_arm_idle(struct http_server_conn *c)
{
	if (!c->closing && !http_conn_busy(&c->http))
		uv_timer_start(&c->idle, conn_idle_expired, c->srv->idle_timeout_ms, 0);
	else
		uv_timer_stop(&c->idle);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	/* Read into a fixed 16 KiB buffer; http_conn copies what it keeps. */
	static char slab[16384];
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct http_server_conn *c = s->data;
	if (nread < 0) {
		uv_read_stop(s);
		http_conn_eof(&c->http);
		return;
	}
	http_conn_feed(&c->http, buf->base, (size_t)nread);
	conn_arm_idle(c);
}

static void server_refuse(struct http_server *srv, uv_pipe_t *p);

static void server_accept(uv_stream_t *listener, int status)
{
	struct http_server *srv = listener->data;
	if (status < 0) {
		log_warn("http", "accept failed", LF_STR("error", uv_strerror(status)));
		return;
	}
	struct http_server_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		abort();
	uv_pipe_init(srv->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0) {
		uv_close((uv_handle_t *)&c->pipe, free_handle);
		return;
	}
	if (srv->nconns >= srv->max_conns) {
		server_refuse(srv, &c->pipe);
		return;
	}
	uv_timer_init(srv->loop, &c->idle);
	c->idle.data = c;
	c->srv = srv;
	c->handles_open = 2;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	srv->accepted++;
	http_conn_init(&c->http, &srv->config, &server_transport, srv->handler, srv->handler_data);
	c->http.data = c;
	uv_read_start((uv_stream_t *)&c->pipe, conn_alloc, conn_read);
	conn_arm_idle(c);
}

/* Too many connections: close this one at once; the client sees EOF. */
static void server_refuse(struct http_server *srv, uv_pipe_t *p)
{
	srv->refused++;
	log_warn("http", "too many connections, closing a new one",
		 LF_UINT("open", srv->nconns), LF_UINT("limit", srv->max_conns));
	uv_close((uv_handle_t *)p, free_handle);
}

void http_server_init(struct http_server *srv, uv_loop_t *loop, http_handler_fn handler,
		      void *handler_data)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->handler = handler;
	srv->handler_data = handler_data;
	srv->config.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
	srv->config.max_body_bytes = HTTP_DEFAULT_MAX_BODY_BYTES;
	srv->max_conns = HTTP_SERVER_MAX_CONNS;
	srv->idle_timeout_ms = HTTP_SERVER_IDLE_TIMEOUT_MS;
}

int http_server_listen(struct http_server *srv, const char *path, int mode)
{
	int rc;
	if (strlen(path) >= sizeof(srv->path))
		return UV_ENAMETOOLONG;
	strcpy(srv->path, path);
	uv_pipe_init(srv->loop, &srv->listener, 0);
	srv->listener.data = srv;
	if ((rc = uv_pipe_bind(&srv->listener, path)) != 0)
		goto err_after_init;
	if (chmod(path, (mode_t)mode) != 0) {
		rc = uv_translate_sys_error(errno);
		goto err_after_bind;
	}
	if ((rc = uv_listen((uv_stream_t *)&srv->listener, 511, server_accept)) != 0)
		goto err_after_bind;
	return 0;

err_after_bind:
	unlink(path);
err_after_init:
	srv->path[0] = '\0';
	uv_close((uv_handle_t *)&srv->listener, NULL);
	return rc;
}

static void listener_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;
	srv->closing--;
	server_maybe_done(srv);
}

void http_server_close(struct http_server *srv, void (*on_closed)(struct http_server *srv))
{
	srv->on_closed = on_closed;
	if (srv->path[0]) {
		unlink(srv->path);
		srv->path[0] = '\0';
		srv->closing++;
		uv_close((uv_handle_t *)&srv->listener, listener_closed);
	}
	for (struct http_server_conn *c = srv->conns; c; c = c->next) {
		if (c->closing)
			continue;
		if (http_conn_busy(&c->http)) {
			/* Let the answer in flight finish, then close. */
			http_conn_eof(&c->http);
			continue;
		}
		c->http.closed = true;
		conn_close_handles(c);
	}
	server_maybe_done(srv);
}
