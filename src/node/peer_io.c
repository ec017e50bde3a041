/* peer_io: authenticated, encrypted TCP streams between nodes with libuv. */
#include "swarmnode/peer_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "swarmnode/log.h"

#define PEER_IO_DEFAULT_QUEUE (8u << 20)
#define PEER_IO_DEFAULT_AUTH_TIMEOUT_MS 10000
#define PEER_IO_DEFAULT_BACKOFF_MIN_MS 100
#define PEER_IO_DEFAULT_BACKOFF_MAX_MS 5000
/* How long an orderly close waits for the last bytes to leave. */
#define PEER_IO_LINGER_MS 2000

/* One TCP connection of a stream: a dial attempt, or an accepted connection.
 * It outlives its stream when it lingers to flush a close. */
struct peer_attempt {
	uv_tcp_t *tcp;            /* malloc'd; data = this */
	uv_timer_t linger;        /* bounds an orderly close; data = this */
	uv_connect_t connect;     /* data = this */
	uv_shutdown_t shutdown;   /* data = this */
	struct peer_io *pio;
	struct peer_conn *c;      /* the stream, or NULL once detached from it */
	struct peer_auth *pa;     /* the protocol state (owned) */
	int handles_open;         /* tcp and linger */
	bool ending;              /* detached and closing */
};

struct peer_conn {
	struct peer_io *pio;
	struct peer_conn *prev, *next;    /* pio->conns */
	uv_timer_t timer;                 /* authentication deadline or reconnect backoff; data = this */
	struct peer_attempt *attempt;     /* the current connection, or NULL */
	struct peer_conn_info info;       /* what the owner reads */
	struct sockaddr_storage sa;       /* dialed: where to */
	unsigned accept_roles;            /* roles the peer may have */
	uint32_t backoff_ms;              /* next reconnect delay (0: the minimum) */
	bool reported;                    /* the owner has heard of this stream */
	bool failing_quietly;             /* dial failures after the first are logged at debug */
	bool released;                    /* peer_conn_close was called, or an accepted stream ended */
	void *data;                       /* the owner's */
};

struct peer_write {
	uv_write_t req;
	uv_buf_t buf;
};

static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

const char *peer_conn_state_name(enum peer_conn_state s)
{
	switch (s) {
	case PEER_CONN_CONNECTING: return "connecting";
	case PEER_CONN_UP: return "up";
	case PEER_CONN_DOWN: return "down";
	}
	return "unknown";
}

const char *peer_conn_dir_name(enum peer_conn_dir d)
{
	return d == PEER_CONN_OUT ? "out" : "in";
}

const char *peer_refusal_name(enum peer_refusal r)
{
	switch (r) {
	case PEER_REFUSED_CLUSTER: return "Cluster";
	case PEER_REFUSED_ROOT: return "Root";
	case PEER_REFUSED_EXPIRED: return "Expired";
	case PEER_REFUSED_ROLE: return "Role";
	case PEER_REFUSED_PROOF: return "Proof";
	case PEER_REFUSED_MALFORMED: return "Malformed";
	case PEER_REFUSED_TIMEOUT: return "Timeout";
	case PEER_REFUSED_CLOSED: return "Closed";
	case PEER_REFUSED_REJECTED: return "RejectedByDialer";
	case PEER_REFUSED__COUNT: break;
	}
	return "Unknown";
}

static enum peer_refusal refusal_of(int code)
{
	switch (code) {
	case PEER_AUTH_E_PEER_CLUSTER: return PEER_REFUSED_CLUSTER;
	case PEER_AUTH_E_PEER_ROOT: return PEER_REFUSED_ROOT;
	case PEER_AUTH_E_PEER_EXPIRED:
	case PEER_AUTH_E_PEER_NOT_YET_VALID: return PEER_REFUSED_EXPIRED;
	case PEER_AUTH_E_PEER_ROLE: return PEER_REFUSED_ROLE;
	case PEER_AUTH_E_PEER_PROOF: return PEER_REFUSED_PROOF;
	case PEER_AUTH_E_CLOSED: return PEER_REFUSED_CLOSED;
	case PEER_AUTH_E_REJECTED: return PEER_REFUSED_REJECTED;
	default: return PEER_REFUSED_MALFORMED;
	}
}

/* --- handles and memory ---------------------------------------------------------- */

static void pio_handle_gone(struct peer_io *pio)
{
	if (--pio->handles_open == 0 && pio->on_closed) {
		void (*cb)(struct peer_io *) = pio->on_closed;
		pio->on_closed = NULL;
		sodium_memzero(&pio->cfg, sizeof(pio->cfg));
		cb(pio);
	}
}

static void attempt_handle_closed(struct peer_attempt *a)
{
	if (--a->handles_open > 0)
		return;
	struct peer_io *pio = a->pio;
	peer_auth_free(a->pa);
	free(a);
	pio_handle_gone(pio);
}

static void attempt_tcp_closed(uv_handle_t *h)
{
	struct peer_attempt *a = h->data;
	free(h);
	attempt_handle_closed(a);
}

static void attempt_linger_closed(uv_handle_t *h)
{
	attempt_handle_closed(h->data);
}

static void attempt_close_handles(struct peer_attempt *a)
{
	if (uv_is_closing((uv_handle_t *)a->tcp))
		return;
	uv_timer_stop(&a->linger);
	uv_close((uv_handle_t *)&a->linger, attempt_linger_closed);
	uv_close((uv_handle_t *)a->tcp, attempt_tcp_closed);
}

static void attempt_shut(uv_shutdown_t *req, int status)
{
	attempt_close_handles(req->data);
}

static void attempt_linger_expired(uv_timer_t *t)
{
	attempt_close_handles(t->data);
}

/* A new connection for c around tcp (malloc'd and initialised). */
static struct peer_attempt *attempt_new(struct peer_conn *c, uv_tcp_t *tcp)
{
	struct peer_io *pio = c->pio;
	struct peer_attempt *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->pio = pio;
	a->c = c;
	a->tcp = tcp;
	uv_timer_init(pio->loop, &a->linger);
	tcp->data = a->linger.data = a->connect.data = a->shutdown.data = a;
	a->handles_open = 2;
	pio->handles_open++; /* given back when the attempt is freed */
	c->attempt = a;
	return a;
}

static void write_done(uv_write_t *req, int status)
{
	free(req); /* struct peer_write, its bytes after it */
}

/* Queues what the protocol wants to send. Returns 0 or a libuv error. */
static int attempt_flush(struct peer_attempt *a)
{
	const uint8_t *data;
	size_t n = peer_auth_output(a->pa, &data);
	if (n == 0)
		return 0;
	struct peer_write *w = malloc(sizeof(*w) + n);
	if (w == NULL)
		return UV_ENOMEM;
	memcpy(w + 1, data, n);
	w->buf = uv_buf_init((char *)(w + 1), (unsigned)n);
	int rc = uv_write(&w->req, (uv_stream_t *)a->tcp, &w->buf, 1, write_done);
	if (rc != 0) {
		free(w);
		return rc;
	}
	peer_auth_output_sent(a->pa, n);
	if (a->c != NULL)
		a->c->info.bytes_out += n;
	return 0;
}

/* Detaches the current connection from its stream and closes it: in good
 * order (a close record where up, the queue flushed, bounded by the linger
 * timer) or at once. */
static void attempt_end(struct peer_conn *c, bool orderly)
{
	struct peer_attempt *a = c->attempt;
	if (a == NULL)
		return;
	uv_timer_stop(&c->timer);
	uv_read_stop((uv_stream_t *)a->tcp);
	if (orderly && peer_auth_state(a->pa) == PEER_AUTH_UP)
		peer_auth_close(a->pa);
	bool flushed = orderly && attempt_flush(a) == 0;
	c->attempt = NULL;
	a->c = NULL;
	a->ending = true;
	if (flushed && uv_shutdown(&a->shutdown, (uv_stream_t *)a->tcp, attempt_shut) == 0) {
		uv_timer_start(&a->linger, attempt_linger_expired, PEER_IO_LINGER_MS, 0);
		return;
	}
	attempt_close_handles(a);
}

static void conn_timer_closed(uv_handle_t *h)
{
	struct peer_conn *c = h->data;
	struct peer_io *pio = c->pio;
	free(c);
	pio_handle_gone(pio);
}

/* Forgets a stream: unlinks it, ends its connection, releases it later. */
static void conn_release(struct peer_conn *c, bool orderly)
{
	if (c->released)
		return;
	c->released = true;
	struct peer_io *pio = c->pio;
	attempt_end(c, orderly);
	if (c->prev)
		c->prev->next = c->next;
	else if (pio->conns == c)
		pio->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_timer_closed);
}

static void conn_set_state(struct peer_conn *c, enum peer_conn_state s)
{
	c->info.state = s;
	c->info.state_since_ms = uv_now(c->pio->loop);
}

/* --- dialing and reconnecting ----------------------------------------------------- */

static void conn_start_attempt(struct peer_conn *c);

static void free_handle(uv_handle_t *h)
{
	free(h);
}

/* A dial's first attempt starts from the loop, so that its callbacks never
 * run inside peer_dial. */
static void conn_first_attempt(uv_timer_t *t)
{
	struct peer_conn *c = t->data;
	if (!c->released && c->attempt == NULL)
		conn_start_attempt(c);
}

static void conn_backoff_expired(uv_timer_t *t)
{
	struct peer_conn *c = t->data;
	conn_set_state(c, PEER_CONN_CONNECTING);
	if (c->reported && c->pio->ops->on_state)
		c->pio->ops->on_state(c->pio, c, PEER_CONN_CONNECTING, "");
	if (!c->released && c->attempt == NULL && c->info.state == PEER_CONN_CONNECTING)
		conn_start_attempt(c);
}

/* A dialed stream waits, then tries again: exponential backoff with jitter
 * (so that many nodes that lost the same manager do not come back in step). */
static void conn_schedule_reconnect(struct peer_conn *c)
{
	const struct peer_io_config *cfg = &c->pio->cfg;
	uint32_t base = c->backoff_ms ? c->backoff_ms : cfg->backoff_min_ms;
	uint32_t jitter = base / 4 ? randombytes_uniform(base / 2 + 1) : 0;
	uint32_t delay = base - base / 4 + jitter;
	c->backoff_ms = base >= cfg->backoff_max_ms / 2 ? cfg->backoff_max_ms : base * 2;
	uv_timer_start(&c->timer, conn_backoff_expired, delay, 0);
}

/* The current connection of c is gone (why): report it and move on. */
static void conn_down(struct peer_conn *c, const char *why, bool orderly)
{
	struct peer_io *pio = c->pio;
	bool was_up = c->info.state == PEER_CONN_UP;
	attempt_end(c, orderly);
	snprintf(c->info.last_error, sizeof(c->info.last_error), "%s", why);
	if (c->info.state != PEER_CONN_DOWN) {
		conn_set_state(c, PEER_CONN_DOWN);
		if (was_up)
			log_info("peer", "peer stream down", LF_STR("node", c->info.node_id),
				 LF_STR("addr", c->info.addr), LF_STR("dir", peer_conn_dir_name(c->info.dir)),
				 LF_STR("reason", why));
		if (c->reported && pio->ops->on_state)
			pio->ops->on_state(pio, c, PEER_CONN_DOWN, why);
	}
	if (c->released)
		return;
	if (c->info.dir == PEER_CONN_IN)
		conn_release(c, false);
	else if (!pio->closing)
		conn_schedule_reconnect(c);
}

static void conn_up(struct peer_conn *c)
{
	struct peer_io *pio = c->pio;
	const struct identity_cert *cert = peer_auth_peer_cert(c->attempt->pa);
	uv_timer_stop(&c->timer);
	c->backoff_ms = 0;
	c->failing_quietly = false;
	c->info.connects++;
	c->info.last_error[0] = '\0';
	memcpy(c->info.node_id, cert->node_id, sizeof(c->info.node_id));
	c->info.role = cert->role;
	c->info.role_known = true;
	conn_set_state(c, PEER_CONN_UP);
	if (c->info.dir == PEER_CONN_IN)
		pio->accepted++;
	log_info("peer", "peer stream up", LF_STR("node", c->info.node_id),
		 LF_STR("role", identity_role_name(cert->role)), LF_STR("addr", c->info.addr),
		 LF_STR("dir", peer_conn_dir_name(c->info.dir)));
	c->reported = true;
	if (pio->ops->on_state)
		pio->ops->on_state(pio, c, PEER_CONN_UP, "");
}

/* conn_failed's code for a connection that ran out of time; 0 stands for
 * any other failure below the protocol (connect, write, memory). */
#define CONN_TIMED_OUT 1

/* The current connection failed before or after authentication: code is a
 * PEER_AUTH_E_* code, CONN_TIMED_OUT or 0. */
static void conn_failed(struct peer_conn *c, int code, const char *why)
{
	struct peer_io *pio = c->pio;
	struct peer_attempt *a = c->attempt;
	bool authenticating = c->info.state != PEER_CONN_UP;
	bool auth_failure = authenticating && code < 0 && code != PEER_AUTH_E_CLOSED;
	if (auth_failure)
		c->info.auth_failures++;
	if (c->info.dir == PEER_CONN_IN && authenticating) {
		/* A refusal: nobody above heard of this stream; count it, say why. */
		enum peer_refusal r = code == CONN_TIMED_OUT ? PEER_REFUSED_TIMEOUT
				      : code == 0 ? PEER_REFUSED_CLOSED : refusal_of(code);
		pio->refused[r]++;
		const char *claimed = a ? peer_auth_claimed_id(a->pa) : "";
		log_warn("peer", "peer refused", LF_STR("peer", c->info.addr),
			 LF_STR("node", claimed[0] ? claimed : NULL), LF_STR("reason", why));
		snprintf(c->info.last_error, sizeof(c->info.last_error), "%s", why);
		conn_release(c, true); /* orderly: the REJECT, if any, goes out first */
		return;
	}
	if (authenticating) {
		if (!c->failing_quietly)
			log_warn("peer", auth_failure ? "peer stream failed to authenticate" : "cannot reach peer",
				 LF_STR("node", c->info.node_id), LF_STR("addr", c->info.addr),
				 LF_STR("reason", why));
		else
			log_debug("peer", "cannot reach peer", LF_STR("node", c->info.node_id),
				  LF_STR("addr", c->info.addr), LF_STR("reason", why));
		c->failing_quietly = true;
	}
	conn_down(c, why, auth_failure);
}

/* Feeds received bytes to the protocol and acts on each event. */
static void conn_input(struct peer_conn *c, const uint8_t *data, size_t n)
{
	struct peer_io *pio = c->pio;
	struct peer_attempt *a = c->attempt;
	size_t off = 0;
	c->info.bytes_in += n;
	while (off < n) {
		size_t used = 0;
		struct peer_auth_event ev;
		int rc = peer_auth_feed(a->pa, data + off, n - off, wall_ms(), &used, &ev);
		off += used;
		if (rc != PEER_AUTH_OK) {
			conn_failed(c, rc, peer_auth_error(a->pa));
			return;
		}
		if (attempt_flush(a) != 0) {
			conn_failed(c, 0, "cannot send");
			return;
		}
		switch (ev.type) {
		case PEER_AUTH_EV_UP:
			conn_up(c);
			break;
		case PEER_AUTH_EV_MESSAGE:
			c->info.msgs_in++;
			if (pio->ops->on_message)
				pio->ops->on_message(pio, c, ev.data, ev.len);
			break;
		case PEER_AUTH_EV_CLOSED:
			conn_down(c, "the peer closed the stream", true);
			return;
		case PEER_AUTH_EV_NONE:
			break;
		}
		/* A callback may have closed or reset the stream. */
		if (c->released || c->attempt != a)
			return;
	}
}

static void attempt_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct peer_attempt *a = h->data;
	*buf = uv_buf_init((char *)a->pio->rbuf, sizeof(a->pio->rbuf));
}

static void attempt_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct peer_attempt *a = s->data;
	struct peer_conn *c = a->c;
	if (c == NULL || nread == 0)
		return;
	if (nread < 0) {
		int rc = peer_auth_eof(a->pa);
		if (rc == PEER_AUTH_OK) {
			conn_down(c, "the peer closed the stream", false);
			return;
		}
		char why[512];
		if (nread != UV_EOF && rc == PEER_AUTH_E_TRUNCATED)
			snprintf(why, sizeof(why), "%s (%s)", peer_auth_error(a->pa), uv_strerror((int)nread));
		else
			snprintf(why, sizeof(why), "%s", peer_auth_error(a->pa));
		conn_failed(c, rc, why);
		return;
	}
	conn_input(c, (const uint8_t *)buf->base, (size_t)nread);
}

static void conn_auth_timeout(uv_timer_t *t)
{
	struct peer_conn *c = t->data;
	char why[128];
	snprintf(why, sizeof(why), "did not connect and authenticate within %u ms",
		 c->pio->cfg.auth_timeout_ms);
	conn_failed(c, CONN_TIMED_OUT, why);
}

static void attempt_connected(uv_connect_t *req, int status)
{
	struct peer_attempt *a = req->data;
	struct peer_conn *c = a->c;
	if (c == NULL)
		return; /* abandoned */
	if (status < 0) {
		char why[160];
		snprintf(why, sizeof(why), "cannot connect: %s", uv_strerror(status));
		conn_failed(c, 0, why);
		return;
	}
	uv_tcp_nodelay(a->tcp, 1);
	int rc = attempt_flush(a);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)a->tcp, attempt_alloc, attempt_read);
	if (rc != 0) {
		char why[160];
		snprintf(why, sizeof(why), "cannot talk: %s", uv_strerror(rc));
		conn_failed(c, 0, why);
	}
}

/* Fills a protocol configuration from pio's credentials. */
static void auth_config(const struct peer_io *pio, struct peer_auth_config *ac, bool dialer,
			unsigned roles, const char *expect)
{
	memset(ac, 0, sizeof(*ac));
	ac->dialer = dialer;
	ac->node = pio->cfg.node;
	memcpy(ac->cert, pio->cfg.cert, pio->cfg.cert_len);
	ac->cert_len = pio->cfg.cert_len;
	memcpy(ac->root_pk, pio->cfg.root_pk, sizeof(ac->root_pk));
	memcpy(ac->cluster_id, pio->cfg.cluster_id, sizeof(ac->cluster_id));
	ac->accept_roles = roles;
	if (expect != NULL)
		snprintf(ac->expect_node_id, sizeof(ac->expect_node_id), "%s", expect);
	ac->max_message = pio->cfg.max_message;
	randombytes_buf(ac->ephemeral_seed, sizeof(ac->ephemeral_seed));
}

static void conn_start_attempt(struct peer_conn *c)
{
	struct peer_io *pio = c->pio;
	struct peer_auth_config ac;
	char err[320];
	uv_tcp_t *tcp = malloc(sizeof(*tcp));
	if (tcp == NULL) {
		conn_failed(c, 0, "out of memory");
		return;
	}
	uv_tcp_init(pio->loop, tcp);
	struct peer_attempt *a = attempt_new(c, tcp);
	if (a == NULL) {
		uv_close((uv_handle_t *)tcp, free_handle);
		conn_failed(c, 0, "out of memory");
		return;
	}
	auth_config(pio, &ac, true, c->accept_roles, c->info.node_id);
	int rc = peer_auth_new(&a->pa, &ac, wall_ms(), err, sizeof(err));
	sodium_memzero(&ac, sizeof(ac));
	if (rc != PEER_AUTH_OK) {
		conn_failed(c, 0, rc == PEER_AUTH_E_CONFIG ? err : "out of memory");
		return;
	}
	uv_timer_start(&c->timer, conn_auth_timeout, pio->cfg.auth_timeout_ms, 0);
	rc = uv_tcp_connect(&a->connect, tcp, (const struct sockaddr *)&c->sa, attempt_connected);
	if (rc != 0) {
		snprintf(err, sizeof(err), "cannot connect: %s", uv_strerror(rc));
		conn_failed(c, 0, err);
	}
}

static struct peer_conn *conn_new(struct peer_io *pio, enum peer_conn_dir dir)
{
	struct peer_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->pio = pio;
	c->info.dir = dir;
	uv_timer_init(pio->loop, &c->timer);
	c->timer.data = c;
	pio->handles_open++;
	c->next = pio->conns;
	if (pio->conns)
		pio->conns->prev = c;
	pio->conns = c;
	conn_set_state(c, PEER_CONN_CONNECTING);
	return c;
}

int peer_dial(struct peer_io *pio, const char *node_id, const struct addr *addr,
	      unsigned accept_roles, struct peer_conn **out)
{
	struct sockaddr_storage ss;
	if (pio->closing)
		return -ESHUTDOWN;
	if (!ids_valid(node_id) || (accept_roles & PEER_AUTH_ROLES_ANY) == 0)
		return -EINVAL;
	int rc = addr->family == AF_INET6 ? uv_ip6_addr(addr->host, addr->port, (struct sockaddr_in6 *)&ss)
					  : uv_ip4_addr(addr->host, addr->port, (struct sockaddr_in *)&ss);
	if (rc != 0)
		return -EINVAL;
	struct peer_conn *c = conn_new(pio, PEER_CONN_OUT);
	if (c == NULL)
		return -ENOMEM;
	c->sa = ss;
	c->accept_roles = accept_roles;
	c->reported = true; /* the owner holds it from now on */
	snprintf(c->info.node_id, sizeof(c->info.node_id), "%s", node_id);
	c->info.role = accept_roles == PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER) ? IDENTITY_ROLE_MANAGER
										 : IDENTITY_ROLE_WORKER;
	addr_format(addr, c->info.addr, sizeof(c->info.addr));
	*out = c;
	uv_timer_start(&c->timer, conn_first_attempt, 0, 0);
	return 0;
}

void peer_io_adopt(struct peer_io *pio, uv_tcp_t *tcp, const char *peer_addr, const uint8_t *bytes,
		   size_t len)
{
	struct peer_auth_config ac;
	char err[320];
	struct peer_conn *c = pio->closing ? NULL : conn_new(pio, PEER_CONN_IN);
	if (c == NULL) {
		uv_close((uv_handle_t *)tcp, free_handle);
		return;
	}
	c->accept_roles = pio->cfg.accept_roles;
	snprintf(c->info.addr, sizeof(c->info.addr), "%s", peer_addr);
	struct peer_attempt *a = attempt_new(c, tcp);
	if (a == NULL) {
		uv_close((uv_handle_t *)tcp, free_handle);
		conn_release(c, false);
		return;
	}
	auth_config(pio, &ac, false, c->accept_roles, NULL);
	int rc = peer_auth_new(&a->pa, &ac, wall_ms(), err, sizeof(err));
	sodium_memzero(&ac, sizeof(ac));
	if (rc != PEER_AUTH_OK) {
		log_error("peer", "cannot serve peer streams", LF_STR("error", rc == PEER_AUTH_E_CONFIG ? err : "out of memory"));
		conn_release(c, false);
		return;
	}
	uv_timer_start(&c->timer, conn_auth_timeout, pio->cfg.auth_timeout_ms, 0);
	if (uv_read_start((uv_stream_t *)tcp, attempt_alloc, attempt_read) != 0) {
		conn_release(c, false);
		return;
	}
	if (len > 0)
		conn_input(c, bytes, len);
}

/* --- the owner's calls -------------------------------------------------------------- */

int peer_io_start(struct peer_io *pio, uv_loop_t *loop, const struct peer_io_config *cfg,
		  const struct peer_io_ops *ops, void *data)
{
	if (cfg->cert_len == 0 || cfg->cert_len > IDENTITY_CERT_MAX ||
	    (cfg->accept_roles & PEER_AUTH_ROLES_ANY) == 0)
		return -EINVAL;
	memset(pio, 0, sizeof(*pio));
	pio->loop = loop;
	pio->cfg = *cfg;
	pio->ops = ops;
	pio->data = data;
	if (pio->cfg.send_queue_max == 0)
		pio->cfg.send_queue_max = PEER_IO_DEFAULT_QUEUE;
	if (pio->cfg.auth_timeout_ms == 0)
		pio->cfg.auth_timeout_ms = PEER_IO_DEFAULT_AUTH_TIMEOUT_MS;
	if (pio->cfg.backoff_min_ms == 0)
		pio->cfg.backoff_min_ms = PEER_IO_DEFAULT_BACKOFF_MIN_MS;
	if (pio->cfg.backoff_max_ms == 0)
		pio->cfg.backoff_max_ms = PEER_IO_DEFAULT_BACKOFF_MAX_MS;
	if (pio->cfg.backoff_max_ms < pio->cfg.backoff_min_ms)
		pio->cfg.backoff_max_ms = pio->cfg.backoff_min_ms;
	pio->handles_open = 1; /* released by peer_io_close */
	return 0;
}

void peer_io_close(struct peer_io *pio, void (*on_closed)(struct peer_io *pio))
{
	if (pio->closing)
		return;
	pio->closing = true;
	pio->on_closed = on_closed;
	while (pio->conns != NULL)
		conn_release(pio->conns, true);
	pio_handle_gone(pio);
}

int peer_send(struct peer_conn *c, const uint8_t *msg, size_t len)
{
	struct peer_attempt *a = c->attempt;
	if (a == NULL || c->released || c->info.state != PEER_CONN_UP)
		return -ENOTCONN;
	if (len > (c->pio->cfg.max_message ? c->pio->cfg.max_message : PEER_AUTH_DEFAULT_MAX_MESSAGE))
		return -EMSGSIZE;
	size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)a->tcp);
	if (queued + len > c->pio->cfg.send_queue_max) {
		c->info.send_refused++;
		return -ENOBUFS;
	}
	int rc = peer_auth_send(a->pa, msg, len);
	if (rc == PEER_AUTH_E_NOMEM)
		return -ENOMEM;
	if (rc != PEER_AUTH_OK)
		return -ENOTCONN;
	c->info.msgs_out++;
	rc = attempt_flush(a);
	return rc == 0 ? 0 : rc == UV_ENOMEM ? -ENOMEM : -ENOTCONN;
}

void peer_conn_reset(struct peer_conn *c, const char *why)
{
	if (c->released || c->attempt == NULL)
		return;
	log_info("peer", "peer stream reset", LF_STR("node", c->info.node_id), LF_STR("addr", c->info.addr),
		 LF_STR("reason", why));
	conn_down(c, why, true);
}

void peer_conn_close(struct peer_conn *c)
{
	conn_release(c, true);
}

void peer_conn_info(const struct peer_conn *c, struct peer_conn_info *out)
{
	*out = c->info;
}

const struct identity_cert *peer_conn_cert(const struct peer_conn *c)
{
	if (c->attempt == NULL || c->info.state != PEER_CONN_UP)
		return NULL;
	return peer_auth_peer_cert(c->attempt->pa);
}

void peer_conn_set_data(struct peer_conn *c, void *data)
{
	c->data = data;
}

void *peer_conn_data(const struct peer_conn *c)
{
	return c->data;
}
