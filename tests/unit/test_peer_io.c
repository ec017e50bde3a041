/* Unit tests for peer_io and cluster_listener: real streams over loopback in one libuv loop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <sodium.h>
#include <uv.h>

#include "swarmnode/cluster_listener.h"
#include "swarmnode/log.h"
#include "swarmnode/peer_io.h"

#define CLUSTER_ID "1bcdqsiwk2ttt98dkhy0rhn6a"
#define MGR_ID "m0000000000000000000000a1"
#define WRK_ID "w0000000000000000000000b2"
#define DAY (24ull * 3600 * 1000)

/* One side: its peer_io and what its callbacks saw. */
struct side {
	struct peer_io io;
	struct peer_conn *conn;      /* the stream (dialed, or the accepted one once up) */
	int ups, downs, connecting;  /* on_state calls */
	char last_down[256];
	uint64_t msgs;               /* messages received */
	uint64_t next_expected;      /* sequence check: message i carries i in its first 8 bytes */
	bool out_of_order;
	size_t largest;              /* largest message received */
	bool closed;                 /* on_closed ran */
};

struct fx {
	uv_loop_t loop;
	struct cluster_listener cl;
	bool cl_closed;
	struct addr addr;            /* where the listener listens */
	struct side mgr, wrk;
	struct peer_io_config mcfg, wcfg;
	int joins;                   /* connections handed to on_join */
};

static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static struct side *side_of(struct peer_io *pio)
{
	return pio->data;
}

static void on_state(struct peer_io *pio, struct peer_conn *c, enum peer_conn_state state, const char *why)
{
	struct side *s = side_of(pio);
	if (state == PEER_CONN_UP) {
		s->ups++;
		s->conn = c;
	} else if (state == PEER_CONN_DOWN) {
		s->downs++;
		snprintf(s->last_down, sizeof(s->last_down), "%s", why);
		struct peer_conn_info info;
		peer_conn_info(c, &info);
		if (info.dir == PEER_CONN_IN && s->conn == c)
			s->conn = NULL; /* released after this returns */
	} else {
		s->connecting++;
	}
}

static void on_message(struct peer_io *pio, struct peer_conn *c, const uint8_t *msg, size_t len)
{
	struct side *s = side_of(pio);
	uint64_t seq = 0;
	if (len >= 8)
		memcpy(&seq, msg, 8);
	if (seq != s->next_expected)
		s->out_of_order = true;
	s->next_expected = seq + 1;
	s->msgs++;
	if (len > s->largest)
		s->largest = len;
}

static const struct peer_io_ops ops = {
	.on_state = on_state,
	.on_message = on_message,
};

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void on_join(void *data, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes, size_t len)
{
	struct fx *f = data;
	f->joins++;
	uv_close((uv_handle_t *)tcp, free_handle);
}

static void on_peer(void *data, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes, size_t len)
{
	struct fx *f = data;
	peer_io_adopt(&f->mgr.io, tcp, peer, bytes, len);
}

static const struct cluster_listener_ops cl_ops = {.on_join = on_join, .on_peer = on_peer};

static void issue(struct peer_io_config *cfg, const struct identity_keypair *root, uint8_t seed_byte,
		  const char *id, enum identity_role role, uint64_t from, uint64_t to)
{
	uint8_t seed[IDENTITY_SEED_LEN];
	struct identity_cert c;
	memset(seed, seed_byte, sizeof(seed));
	identity_keypair_from_seed(&cfg->node, seed);
	assert_int_equal(identity_cert_issue(&c, id, role, cfg->node.pk, CLUSTER_ID, from, to, root->sk), 0);
	assert_int_equal(identity_cert_encode(&c, cfg->cert, sizeof(cfg->cert), &cfg->cert_len), 0);
	memcpy(cfg->root_pk, root->pk, IDENTITY_PK_LEN);
	memcpy(cfg->cluster_id, CLUSTER_ID, sizeof(CLUSTER_ID));
	cfg->accept_roles = PEER_AUTH_ROLES_ANY;
	cfg->backoff_min_ms = 10;
	cfg->backoff_max_ms = 50;
	cfg->auth_timeout_ms = 2000;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct identity_keypair root;
	uint8_t seed[IDENTITY_SEED_LEN];
	char err[256];
	memset(seed, 1, sizeof(seed));
	identity_keypair_from_seed(&root, seed);
	uint64_t now = wall_ms();
	issue(&f->mcfg, &root, 2, MGR_ID, IDENTITY_ROLE_MANAGER, now - DAY, now + DAY);
	issue(&f->wcfg, &root, 3, WRK_ID, IDENTITY_ROLE_WORKER, now - DAY, now + DAY);
	log_configure(LOG_SILENT, LOG_FORMAT_LOGFMT, NULL);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->addr.host, sizeof(f->addr.host), "127.0.0.1");
	f->addr.family = AF_INET;
	f->addr.port = 0; /* any free port */
	assert_int_equal(cluster_listener_start(&f->cl, &f->loop, &f->addr, &cl_ops, f, err, sizeof(err)), 0);
	struct sockaddr_in sin;
	int len = sizeof(sin);
	assert_int_equal(uv_tcp_getsockname(&f->cl.listener, (struct sockaddr *)&sin, &len), 0);
	f->addr.port = ntohs(sin.sin_port);
	*state = f;
	return 0;
}

/* Runs the loop until pred holds; fails after timeout_ms of loop time. */
static void timeout_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static bool run_until(struct fx *f, bool (*pred)(struct fx *), uint64_t timeout_ms)
{
	uv_timer_t guard;
	bool expired = false;
	uv_timer_init(&f->loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, timeout_cb, timeout_ms, 0);
	while (!pred(f) && !expired)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	return pred(f);
}

static void mgr_closed(struct peer_io *pio)
{
	side_of(pio)->closed = true;
}

static void cl_closed(struct cluster_listener *cl)
{
	((struct fx *)cl->data)->cl_closed = true;
}

static bool all_closed(struct fx *f)
{
	return f->mgr.closed && f->wrk.closed && f->cl_closed;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	cluster_listener_close(&f->cl, cl_closed);
	peer_io_close(&f->mgr.io, mgr_closed);
	peer_io_close(&f->wrk.io, mgr_closed);
	assert_true(run_until(f, all_closed, 5000));
	/* Every handle is gone: the loop closes. */
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void start_sides(struct fx *f)
{
	assert_int_equal(peer_io_start(&f->mgr.io, &f->loop, &f->mcfg, &ops, &f->mgr), 0);
	assert_int_equal(peer_io_start(&f->wrk.io, &f->loop, &f->wcfg, &ops, &f->wrk), 0);
}

static bool both_up(struct fx *f)
{
	return f->mgr.ups >= 1 && f->wrk.ups >= 1 && f->mgr.conn != NULL;
}

static void dial(struct fx *f, const char *id, unsigned roles)
{
	struct peer_conn *c = NULL;
	assert_int_equal(peer_dial(&f->wrk.io, id, &f->addr, roles, &c), 0);
	assert_non_null(c);
	f->wrk.conn = c;
	/* Nothing is reported inside peer_dial. */
	assert_int_equal(f->wrk.ups + f->wrk.downs + f->wrk.connecting, 0);
}

static void send_seq(struct peer_conn *c, uint64_t seq, size_t len, int expect)
{
	uint8_t *buf = calloc(1, len < 8 ? 8 : len);
	memcpy(buf, &seq, 8);
	assert_int_equal(peer_send(c, buf, len), expect);
	free(buf);
}

static bool mgr_has_3(struct fx *f)
{
	return f->mgr.msgs >= 3 && f->wrk.msgs >= 1;
}

static void test_dial_up_and_messages(void **state)
{
	struct fx *f = *state;
	start_sides(f);
	dial(f, MGR_ID, PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER));
	assert_int_equal(peer_send(f->wrk.conn, (const uint8_t *)"x", 1), -ENOTCONN);
	assert_true(run_until(f, both_up, 5000));
	struct peer_conn_info wi, mi;
	peer_conn_info(f->wrk.conn, &wi);
	peer_conn_info(f->mgr.conn, &mi);
	assert_int_equal(wi.state, PEER_CONN_UP);
	assert_int_equal(wi.dir, PEER_CONN_OUT);
	assert_string_equal(wi.node_id, MGR_ID);
	assert_int_equal(mi.dir, PEER_CONN_IN);
	assert_string_equal(mi.node_id, WRK_ID);
	assert_int_equal(mi.role, IDENTITY_ROLE_WORKER);
	assert_non_null(peer_conn_cert(f->mgr.conn));
	assert_int_equal(f->cl.stats.peers, 1);
	assert_int_equal(f->mgr.io.accepted, 1);

	send_seq(f->wrk.conn, 0, 8, 0);
	send_seq(f->wrk.conn, 1, 100000, 0);
	send_seq(f->wrk.conn, 2, PEER_AUTH_DEFAULT_MAX_MESSAGE, 0);
	send_seq(f->wrk.conn, 3, PEER_AUTH_DEFAULT_MAX_MESSAGE + 1, -EMSGSIZE);
	send_seq(f->mgr.conn, 0, 16, 0);
	assert_true(run_until(f, mgr_has_3, 5000));
	assert_false(f->mgr.out_of_order);
	assert_int_equal(f->mgr.largest, PEER_AUTH_DEFAULT_MAX_MESSAGE);
	peer_conn_info(f->wrk.conn, &wi);
	assert_int_equal(wi.msgs_out, 3);
	assert_true(wi.bytes_out > PEER_AUTH_DEFAULT_MAX_MESSAGE);
}

static bool wrk_refused(struct fx *f)
{
	return f->wrk.connecting >= 1 && f->wrk.downs >= 1;
}

static bool mgr_has_all(struct fx *f)
{
	return f->mgr.msgs >= f->wrk.next_expected && f->wrk.next_expected > 0;
}

static void test_backpressure_bound(void **state)
{
	struct fx *f = *state;
	f->wcfg.send_queue_max = 1 << 20;
	start_sides(f);
	dial(f, MGR_ID, PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER));
	assert_true(run_until(f, both_up, 5000));
	/* Without the loop running the receiver cannot read: the queue fills. */
	static uint8_t buf[65536];
	uint64_t sent = 0;
	int rc = 0;
	for (; sent < 10000; sent++) {
		memcpy(buf, &sent, 8);
		if ((rc = peer_send(f->wrk.conn, buf, sizeof(buf))) != 0)
			break;
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_true(sent > 10);
	struct peer_conn_info wi;
	peer_conn_info(f->wrk.conn, &wi);
	assert_int_equal(wi.send_refused, 1);
	/* Once the loop runs, everything accepted arrives, in order. */
	f->wrk.next_expected = sent; /* what the manager must reach */
	assert_true(run_until(f, mgr_has_all, 10000));
	assert_int_equal(f->mgr.msgs, sent);
	assert_false(f->mgr.out_of_order);
}

static bool wrk_reconnected(struct fx *f)
{
	return f->wrk.ups >= 2 && f->mgr.ups >= 2 && f->mgr.conn != NULL;
}

static void test_reset_and_reconnect(void **state)
{
	struct fx *f = *state;
	start_sides(f);
	dial(f, MGR_ID, PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER));
	assert_true(run_until(f, both_up, 5000));
	/* The manager ends the accepted stream: DOWN on both sides, then the
	 * dialer comes back by itself. */
	peer_conn_reset(f->mgr.conn, "test says so");
	assert_int_equal(f->mgr.downs, 1); /* reported before reset returned */
	assert_string_equal(f->mgr.last_down, "test says so");
	assert_null(f->mgr.conn);
	assert_true(run_until(f, wrk_reconnected, 5000));
	assert_int_equal(f->wrk.downs, 1);
	assert_string_equal(f->wrk.last_down, "the peer closed the stream");
	assert_true(f->wrk.connecting >= 1);
	struct peer_conn_info wi;
	peer_conn_info(f->wrk.conn, &wi);
	assert_int_equal(wi.connects, 2);
	assert_int_equal(wi.auth_failures, 0);
}

static void test_dialed_node_is_someone_else(void **state)
{
	/* The address now belongs to another node: refused on both ends, counted. */
	struct fx *f = *state;
	start_sides(f);
	dial(f, "m0000000000000000000000zz", PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER));
	assert_true(run_until(f, wrk_refused, 5000));
	struct peer_conn_info wi;
	peer_conn_info(f->wrk.conn, &wi);
	assert_true(wi.auth_failures >= 1);
	assert_non_null(strstr(wi.last_error, "reached node " MGR_ID));
	assert_int_equal(f->wrk.ups, 0);
	assert_int_equal(f->mgr.ups, 0); /* never reported on the listener side */
	assert_true(f->mgr.io.refused[PEER_REFUSED_REJECTED] >= 1);
}

static bool mgr_refused_role(struct fx *f)
{
	return f->mgr.io.refused[PEER_REFUSED_ROLE] >= 1 && f->wrk.downs >= 1;
}

static void test_listener_refuses_role(void **state)
{
	struct fx *f = *state;
	f->mcfg.accept_roles = PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER); /* a Raft-only listener */
	start_sides(f);
	dial(f, MGR_ID, PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER));
	assert_true(run_until(f, mgr_refused_role, 5000));
	assert_non_null(strstr(f->wrk.last_down, "our role is not accepted"));
}

/* A server that accepts and never speaks. */
struct mute {
	uv_tcp_t server;
	uv_tcp_t *accepted[16];
	int n;
};

static void mute_accept(uv_stream_t *s, int status)
{
	struct mute *m = s->data;
	uv_tcp_t *c = malloc(sizeof(*c));
	uv_tcp_init(s->loop, c);
	uv_accept(s, (uv_stream_t *)c);
	if (m->n < 16)
		m->accepted[m->n++] = c;
	else
		uv_close((uv_handle_t *)c, free_handle);
}

static bool mute_is_closed;

static void mute_closed(uv_handle_t *h)
{
	mute_is_closed = true;
}

static bool mute_done(struct fx *f)
{
	return mute_is_closed;
}

static bool timed_out_twice(struct fx *f)
{
	return f->wrk.downs >= 1 && f->wrk.connecting >= 2;
}

static void test_authentication_timeout(void **state)
{
	struct fx *f = *state;
	f->wcfg.auth_timeout_ms = 100;
	start_sides(f);
	struct mute m = {0};
	struct addr a = f->addr;
	struct sockaddr_in sin;
	uv_tcp_init(&f->loop, &m.server);
	m.server.data = &m;
	uv_ip4_addr("127.0.0.1", 0, &sin);
	assert_int_equal(uv_tcp_bind(&m.server, (struct sockaddr *)&sin, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&m.server, 16, mute_accept), 0);
	int len = sizeof(sin);
	uv_tcp_getsockname(&m.server, (struct sockaddr *)&sin, &len);
	a.port = ntohs(sin.sin_port);
	struct peer_conn *c;
	assert_int_equal(peer_dial(&f->wrk.io, MGR_ID, &a, PEER_AUTH_ROLES_ANY, &c), 0);
	assert_true(run_until(f, timed_out_twice, 5000));
	assert_non_null(strstr(f->wrk.last_down, "within 100 ms"));
	peer_conn_close(c);
	for (int i = 0; i < m.n; i++)
		uv_close((uv_handle_t *)m.accepted[i], free_handle);
	uv_close((uv_handle_t *)&m.server, mute_closed);
	/* m lives on this stack frame: wait for its close callback. */
	mute_is_closed = false;
	assert_true(run_until(f, mute_done, 1000));
}

static bool unreachable_retried(struct fx *f)
{
	return f->wrk.connecting >= 3;
}

static void test_unreachable_retries_with_backoff(void **state)
{
	struct fx *f = *state;
	start_sides(f);
	struct addr a = f->addr;
	a.port = 1; /* nothing listens there */
	struct peer_conn *c;
	assert_int_equal(peer_dial(&f->wrk.io, MGR_ID, &a, PEER_AUTH_ROLES_ANY, &c), 0);
	uint64_t t0 = uv_now(&f->loop);
	assert_true(run_until(f, unreachable_retried, 5000));
	/* 10, 20, 40 ms (minus jitter) at least between the attempts. */
	assert_true(uv_now(&f->loop) - t0 >= 20);
	struct peer_conn_info wi;
	peer_conn_info(c, &wi);
	assert_int_equal(wi.auth_failures, 0);
	assert_non_null(strstr(wi.last_error, "cannot connect"));
	/* Closing while it waits: no callback afterwards. */
	int before = f->wrk.downs + f->wrk.connecting;
	peer_conn_close(c);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->wrk.downs + f->wrk.connecting, before);
}

static void connected(uv_connect_t *req, int status)
{
	(void)req;
	(void)status;
}

static void written(uv_write_t *req, int status)
{
	(void)req;
	(void)status;
}

static bool got_join(struct fx *f)
{
	return f->joins == 1;
}

static void test_listener_hands_joins_over(void **state)
{
	struct fx *f = *state;
	start_sides(f);
	/* A join HELLO's shape: [1, 1, bin32, bin32]; the listener only looks at the type. */
	uv_tcp_t client;
	uv_connect_t req;
	struct sockaddr_in sin;
	uv_ip4_addr("127.0.0.1", f->addr.port, &sin);
	uv_tcp_init(&f->loop, &client);
	assert_int_equal(uv_tcp_connect(&req, &client, (struct sockaddr *)&sin, connected), 0);
	static char hello[] = "\x00\x00\x00\x02\x91\x01";
	uv_buf_t b = uv_buf_init(hello, 6);
	uv_write_t w;
	assert_int_equal(uv_write(&w, (uv_stream_t *)&client, &b, 1, written), 0);
	assert_true(run_until(f, got_join, 5000));
	assert_int_equal(f->cl.stats.joins, 1);
	assert_int_equal(f->cl.stats.peers, 0);
	uv_close((uv_handle_t *)&client, mute_closed);
	mute_is_closed = false;
	assert_true(run_until(f, mute_done, 1000));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		T(test_dial_up_and_messages),
		T(test_backpressure_bound),
		T(test_reset_and_reconnect),
		T(test_dialed_node_is_someone_else),
		T(test_listener_refuses_role),
		T(test_authentication_timeout),
		T(test_unreachable_retries_with_backoff),
		T(test_listener_hands_joins_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
