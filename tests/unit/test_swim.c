/* Unit tests for swim: 1..10 cores on a tiny in-test fake network and clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/swim.h"

/* --- the fake network ---------------------------------------------------------
 *
 * A plain array of packets in flight, each delivered `latency` ms after it
 * was sent unless its link is cut or an end is down. Push-pull streams are
 * served synchronously. Time jumps to the next delivery or deadline. Every
 * event each core emits is logged with its node index. */

#define MAXN 10
#define T0 1000000 /* start of the clock, ms */

struct pkt {
	int from;       /* sender index */
	int to;         /* receiver index, or -1 for an address nobody has */
	uint64_t at;    /* delivery time */
	uint8_t *data;  /* bytes (owned) */
	size_t len;     /* size */
};

struct logged {
	int node;             /* who emitted it */
	struct swim_event ev; /* what */
};

struct net {
	uint64_t now;                 /* the fake clock */
	uint64_t seed;                /* base seed, printed on failure */
	int n;                        /* nodes */
	struct swim *node[MAXN];      /* cores; NULL when crashed */
	struct swim_config cfg[MAXN]; /* their configs */
	char id[MAXN][32];            /* their ids */
	bool cut[MAXN][MAXN];         /* drop everything from i to j */
	bool streams_fail;            /* every push-pull fails */
	uint32_t latency;             /* one-way delay, ms */
	struct pkt *q;                /* packets in flight */
	size_t nq, capq;
	struct logged *log;           /* every event */
	size_t nlog, caplog;
	size_t max_len;               /* largest packet seen */
	uint64_t packets;             /* packets sent */
	/* optional observer of every sent packet */
	void (*tap)(struct net *t, int from, const uint8_t *data, size_t len);
	void *tap_ctx;
};

static struct swim_addr addr_of(int i)
{
	struct swim_addr a = {.family = SWIM_AF_INET4, .ip = {10, 0, 0, (uint8_t)(i + 1)}, .port = 7946};
	return a;
}

static int index_of(const struct swim_addr *a)
{
	if (a->family != SWIM_AF_INET4 || a->ip[0] != 10 || a->port != 7946)
		return -1;
	int i = a->ip[3] - 1;
	return i >= 0 && i < MAXN ? i : -1;
}

/* Fails the test with the seed in the message, so any run can be replayed. */
#define CHECK(t, cond, ...)                                                        \
	do {                                                                       \
		if (!(cond)) {                                                     \
			print_error("seed %" PRIu64 " t=%" PRIu64 "ms: ", (t)->seed,  \
				    (t)->now - T0);                                 \
			fail_msg(__VA_ARGS__);                                     \
		}                                                                  \
	} while (0)

static void test_config(struct swim_config *c)
{
	swim_config_default(c);
}

static void node_start(struct net *t, int i, uint64_t incarnation)
{
	t->cfg[i].id = t->id[i];
	t->cfg[i].addr = addr_of(i);
	t->cfg[i].seed = t->seed * 1000 + (uint64_t)i + incarnation * 77;
	t->cfg[i].incarnation = incarnation;
	int rc = swim_new(&t->cfg[i], t->now, &t->node[i]);
	CHECK(t, rc == 0, "swim_new(%d) = %d", i, rc);
}

/* n nodes, not joined; base is applied to each config. */
static struct net *net_new(int n, uint64_t seed, const struct swim_config *base)
{
	struct net *t = calloc(1, sizeof(*t));
	t->n = n;
	t->seed = seed;
	t->now = T0;
	t->latency = 2;
	for (int i = 0; i < n; i++) {
		snprintf(t->id[i], sizeof(t->id[i]), "node-%02d", i);
		if (base)
			t->cfg[i] = *base;
		else
			test_config(&t->cfg[i]);
		node_start(t, i, 1);
	}
	return t;
}

static void net_drain(struct net *t, int i);

static void net_free(struct net *t)
{
	for (int i = 0; i < t->n; i++)
		swim_free(t->node[i]);
	for (size_t k = 0; k < t->nq; k++)
		free(t->q[k].data);
	free(t->q);
	free(t->log);
	free(t);
}

static void log_event(struct net *t, int i, const struct swim_event *ev)
{
	/* SWIM_TEST_TRACE=1 prints every event: a regression reads as a diff. */
	if (getenv("SWIM_TEST_TRACE") != NULL)
		print_message("t=%-7" PRIu64 " node=%d %-8s %s inc=%" PRIu64 " alive=%u suspect=%u dead=%u\n",
			      ev->at - T0, i, swim_event_str(ev->type), ev->id, ev->incarnation,
			      ev->counts.alive, ev->counts.suspect, ev->counts.dead);
	if (t->nlog == t->caplog) {
		t->caplog = t->caplog ? t->caplog * 2 : 256;
		t->log = realloc(t->log, t->caplog * sizeof(*t->log));
	}
	t->log[t->nlog++] = (struct logged){.node = i, .ev = *ev};
}

static void serve_stream(struct net *t, int i, struct swim_out_stream *st)
{
	int j = index_of(&st->to);
	if (t->streams_fail || j < 0 || t->node[j] == NULL || t->cut[i][j] || t->cut[j][i]) {
		swim_pushpull_failed(t->node[i], t->now, st->id);
		return;
	}
	uint8_t *reply = NULL;
	size_t rlen = 0;
	struct swim_addr from = addr_of(i);
	int rc = swim_pushpull_serve(t->node[j], t->now, &from, st->data, st->len, &reply, &rlen);
	net_drain(t, j);
	if (rc != 0) {
		swim_pushpull_failed(t->node[i], t->now, st->id);
		return;
	}
	swim_pushpull_response(t->node[i], t->now, st->id, reply, rlen);
	free(reply);
}

/* Moves every output of node i into the network and the log. */
static void net_drain(struct net *t, int i)
{
	struct swim_out_packet p;
	struct swim_out_stream st;
	struct swim_event ev;
	if (t->node[i] == NULL)
		return;
	while (swim_pop_packet(t->node[i], &p)) {
		if (p.len > t->max_len)
			t->max_len = p.len;
		t->packets++;
		if (t->tap)
			t->tap(t, i, p.data, p.len);
		if (t->nq == t->capq) {
			t->capq = t->capq ? t->capq * 2 : 256;
			t->q = realloc(t->q, t->capq * sizeof(*t->q));
		}
		t->q[t->nq++] = (struct pkt){.from = i, .to = index_of(&p.to), .at = t->now + t->latency,
					     .data = p.data, .len = p.len};
	}
	while (swim_pop_stream(t->node[i], &st)) {
		serve_stream(t, i, &st);
		free(st.data);
	}
	while (swim_pop_event(t->node[i], &ev))
		log_event(t, i, &ev);
}

static void deliver(struct net *t, struct pkt *p)
{
	int j = p->to;
	if (j >= 0 && t->node[j] != NULL && t->node[p->from] != NULL && !t->cut[p->from][j]) {
		struct swim_addr from = addr_of(p->from);
		swim_recv(t->node[j], t->now, &from, p->data, p->len);
		net_drain(t, j);
	}
	free(p->data);
}

/* Runs the network until now == until. */
static void net_run(struct net *t, uint64_t until)
{
	for (int steps = 0;; steps++) {
		CHECK(t, steps < 10000000, "no progress");
		uint64_t next = UINT64_MAX;
		for (size_t k = 0; k < t->nq; k++)
			next = t->q[k].at < next ? t->q[k].at : next;
		for (int i = 0; i < t->n; i++) {
			if (t->node[i] != NULL) {
				uint64_t d = swim_next_deadline(t->node[i]);
				next = d < next ? d : next;
			}
		}
		if (next > until) {
			t->now = until;
			return;
		}
		if (next > t->now)
			t->now = next;
		/* take the due packets out first: delivering creates new ones */
		size_t nready = 0, kept = 0;
		struct pkt *ready = malloc((t->nq ? t->nq : 1) * sizeof(*ready));
		for (size_t k = 0; k < t->nq; k++) {
			if (t->q[k].at <= t->now)
				ready[nready++] = t->q[k];
			else
				t->q[kept++] = t->q[k];
		}
		t->nq = kept;
		for (size_t k = 0; k < nready; k++)
			deliver(t, &ready[k]);
		free(ready);
		for (int i = 0; i < t->n; i++) {
			if (t->node[i] != NULL && swim_next_deadline(t->node[i]) <= t->now) {
				swim_tick(t->node[i], t->now);
				net_drain(t, i);
			}
		}
	}
}

static void net_run_for(struct net *t, uint64_t ms)
{
	net_run(t, t->now + ms);
}

/* Every node but 0 joins through node 0. */
static void net_join_all(struct net *t)
{
	struct swim_addr seed = addr_of(0);
	for (int i = 1; i < t->n; i++) {
		int rc = swim_join(t->node[i], t->now, &seed, 1);
		CHECK(t, rc == 1, "join(%d) = %d", i, rc);
		net_drain(t, i);
	}
}

static void crash(struct net *t, int i)
{
	swim_free(t->node[i]);
	t->node[i] = NULL;
}

static void isolate(struct net *t, int i, bool on)
{
	for (int j = 0; j < t->n; j++) {
		if (j != i)
			t->cut[i][j] = t->cut[j][i] = on;
	}
}

/* State of node j in node i's view, or -1 when i does not know j. */
static int view(const struct net *t, int i, int j)
{
	struct swim_member_info mi;
	if (swim_member_find(t->node[i], t->id[j], &mi) != 0)
		return -1;
	return mi.state;
}

/* True when every running node sees every running node alive. */
static bool converged(const struct net *t)
{
	for (int i = 0; i < t->n; i++) {
		if (t->node[i] == NULL)
			continue;
		for (int j = 0; j < t->n; j++)
			if (t->node[j] != NULL && view(t, i, j) != SWIM_ALIVE)
				return false;
	}
	return true;
}

/* Runs until converged or the time limit; returns the time it took. */
static uint64_t run_until_converged(struct net *t, uint64_t limit)
{
	uint64_t start = t->now;
	while (!converged(t) && t->now - start < limit)
		net_run_for(t, 100);
	CHECK(t, converged(t), "not converged after %" PRIu64 " ms", t->now - start);
	return t->now - start;
}

/* Events of a type that node i logged about node j (j < 0: any). */
static size_t events(const struct net *t, int i, int j, uint8_t type)
{
	size_t c = 0;
	for (size_t k = 0; k < t->nlog; k++) {
		const struct logged *l = &t->log[k];
		if (l->node == i && l->ev.type == type && (j < 0 || strcmp(l->ev.id, t->id[j]) == 0))
			c++;
	}
	return c;
}

/* Time of the first such event, or 0. */
static uint64_t first_event(const struct net *t, int i, int j, uint8_t type)
{
	for (size_t k = 0; k < t->nlog; k++) {
		const struct logged *l = &t->log[k];
		if (l->node == i && l->ev.type == type && strcmp(l->ev.id, t->id[j]) == 0)
			return l->ev.at;
	}
	return 0;
}

/* --- a single core fed by hand-made packets ------------------------------------- */

/* memberlist's LAN suspicion timing (suspicion_mult 4, k = mult - 2), which
 * the tests of the Lifeguard formula below were worked out with; the
 * defaults are shorter (swim.c says why). */
static struct swim_config memberlist_timing(void)
{
	struct swim_config c;
	swim_config_default(&c);
	c.suspicion_mult = 4;
	c.suspicion_confirmations = 2;
	return c;
}

static struct swim *solo(const struct swim_config *base, const char *id, int idx)
{
	struct swim_config c;
	if (base)
		c = *base;
	else
		swim_config_default(&c);
	c.id = id;
	c.addr = addr_of(idx);
	c.seed = 42;
	struct swim *s;
	assert_int_equal(swim_new(&c, T0, &s), 0);
	return s;
}

/* Delivers msgs to s as a packet from sender at address index from. */
static int inject(struct swim *s, uint64_t now, const char *sender, int from,
		  const struct swim_msg *msgs, size_t n)
{
	struct swim_pw w;
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_pw_init(&w, sender, 65000), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(swim_pw_add(&w, &msgs[i]), 0);
	assert_int_equal(swim_pw_finish(&w, &buf, &len), 0);
	struct swim_addr a = addr_of(from);
	int rc = swim_recv(s, now, &a, buf, len);
	free(buf);
	return rc;
}

static struct swim_msg alive_msg(const char *id, uint64_t inc, int idx)
{
	struct swim_msg m = {.type = SWIM_MSG_ALIVE, .incarnation = inc, .addr = addr_of(idx)};
	snprintf(m.id, sizeof(m.id), "%s", id);
	return m;
}

static struct swim_msg suspect_msg(const char *id, uint64_t inc, const char *from)
{
	struct swim_msg m = {.type = SWIM_MSG_SUSPECT, .incarnation = inc};
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.from, sizeof(m.from), "%s", from);
	return m;
}

static void drop_outputs(struct swim *s)
{
	struct swim_out_packet p;
	struct swim_out_stream st;
	struct swim_event ev;
	while (swim_pop_packet(s, &p))
		free(p.data);
	while (swim_pop_stream(s, &st))
		free(st.data);
	while (swim_pop_event(s, &ev))
		;
}

/* Decodes an output packet (which must decode). */
static void decode_out(const struct swim_out_packet *p, struct swim_packet *pkt)
{
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	char err[SWIM_PROTO_ERR_MAX] = "";
	int rc = swim_proto_decode_packet(p->data, p->len, &lim, pkt, err);
	if (rc != 0)
		fail_msg("own packet does not decode: %s", err);
}

/* ================================================================================
 * Tests
 * ================================================================================ */

static void config_is_checked(void **state)
{
	(void)state;
	struct swim_config c;
	char err[128];
	swim_config_default(&c);
	assert_int_equal(swim_config_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id:"));
	c.id = "node-a";
	assert_int_equal(swim_config_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "addr:"));
	c.addr = addr_of(0);
	assert_int_equal(swim_config_check(&c, err, sizeof(err)), 0);
	c.probe_timeout_ms = c.probe_interval_ms;
	assert_int_equal(swim_config_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "probe_timeout_ms"));
	c.probe_timeout_ms = 500;
	c.meta_len = 600;
	c.meta = (const uint8_t *)"x";
	assert_int_equal(swim_config_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "meta: 600 bytes exceeds max_meta 512"));
	struct swim *s;
	assert_int_equal(swim_new(&c, T0, &s), -EINVAL);
}

static void starts_alone_and_alive(void **state)
{
	(void)state;
	struct swim *s = solo(NULL, "lonely", 0);
	struct swim_counts c;
	swim_counts(s, &c);
	assert_int_equal(c.alive, 1);
	assert_int_equal(swim_member_count(s), 1);
	struct swim_member_info mi;
	assert_int_equal(swim_member_at(s, 0, &mi), 0);
	assert_true(mi.is_self);
	assert_string_equal(mi.id, "lonely");
	assert_string_equal(swim_self_id(s), "lonely");
	assert_true(swim_self_incarnation(s) == 1);
	assert_int_equal(swim_member_at(s, 1, &mi), -ENOENT);
	/* Alone, the next deadline is at most one probe interval away. */
	uint64_t d = swim_next_deadline(s);
	assert_true(d >= T0 && d <= T0 + 1000);
	swim_free(s);
}

static void ping_is_acked_with_same_seq(void **state)
{
	(void)state;
	struct swim *s = solo(NULL, "target", 1);
	drop_outputs(s);
	struct swim_msg ping = {.type = SWIM_MSG_PING, .seq = 4242};
	strcpy(ping.id, "target");
	assert_int_equal(inject(s, T0, "prober", 0, &ping, 1), 0);
	struct swim_out_packet p;
	assert_true(swim_pop_packet(s, &p));
	assert_int_equal(index_of(&p.to), 0);
	struct swim_packet pkt;
	decode_out(&p, &pkt);
	assert_string_equal(pkt.sender, "target");
	assert_int_equal(pkt.msgs[0].type, SWIM_MSG_ACK);
	assert_int_equal(pkt.msgs[0].seq, 4242);
	free(p.data);
	assert_false(swim_pop_packet(s, &p));
	swim_free(s);
}

static void join_converges(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		for (int n = 2; n <= MAXN; n += 4) {
			struct net *t = net_new(n, seed, NULL);
			net_join_all(t);
			uint64_t took = run_until_converged(t, 20000);
			CHECK(t, took <= 5000, "%d nodes took %" PRIu64 " ms", n, took);
			for (int i = 0; i < n; i++) {
				struct swim_counts c;
				swim_counts(t->node[i], &c);
				CHECK(t, c.alive == (uint32_t)n && c.suspect == 0 && c.dead == 0,
				      "node %d counts %u/%u/%u", i, c.alive, c.suspect, c.dead);
				CHECK(t, events(t, i, -1, SWIM_EV_JOINED) == (size_t)n - 1,
				      "node %d saw %zu joins", i, events(t, i, -1, SWIM_EV_JOINED));
			}
			/* and it stays that way */
			net_run_for(t, 30000);
			CHECK(t, converged(t), "diverged");
			for (int i = 0; i < n; i++)
				CHECK(t, events(t, i, -1, SWIM_EV_SUSPECT) == 0, "false suspicion at %d", i);
			net_free(t);
		}
	}
}

static void silent_node_becomes_suspect_then_dead(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct net *t = net_new(5, seed, NULL);
		net_join_all(t);
		run_until_converged(t, 10000);
		uint64_t crashed_at = t->now;
		crash(t, 4);
		net_run_for(t, 60000);
		/* n = 5: min = suspicion_mult * 1 * probe interval, max =
		 * suspicion_max_timeout_mult * min. A node may learn "dead" from
		 * gossip soon after it heard "suspect", but nobody may declare
		 * death sooner than min after the first suspicion. */
		struct swim_config d;
		swim_config_default(&d);
		uint64_t min = (uint64_t)d.suspicion_mult * d.probe_interval_ms;
		uint64_t max = min * d.suspicion_max_timeout_mult;
		uint64_t first_sus = UINT64_MAX, first_dead = UINT64_MAX;
		for (int i = 0; i < 4; i++) {
			uint64_t sus = first_event(t, i, 4, SWIM_EV_SUSPECT);
			uint64_t dead = first_event(t, i, 4, SWIM_EV_DEAD);
			CHECK(t, sus != 0 && dead != 0, "node %d: suspect %" PRIu64 " dead %" PRIu64, i, sus, dead);
			CHECK(t, sus < dead, "node %d: dead before suspect", i);
			first_sus = sus < first_sus ? sus : first_sus;
			first_dead = dead < first_dead ? dead : first_dead;
			CHECK(t, dead - crashed_at <= 30000, "node %d: dead only after %" PRIu64 " ms", i,
			      dead - crashed_at);
			CHECK(t, view(t, i, 4) == SWIM_DEAD, "node %d: view %d", i, view(t, i, 4));
			struct swim_counts c;
			swim_counts(t->node[i], &c);
			CHECK(t, c.alive == 4 && c.dead == 1, "node %d counts %u/%u", i, c.alive, c.dead);
			/* the live ones never doubted each other */
			for (int j = 0; j < 4; j++)
				CHECK(t, events(t, i, j, SWIM_EV_SUSPECT) == 0, "%d suspected %d", i, j);
		}
		CHECK(t, first_dead - first_sus >= min, "declared dead %" PRIu64 " ms after the first suspicion",
		      first_dead - first_sus);
		CHECK(t, first_dead - first_sus <= max, "declared dead %" PRIu64 " ms after the first suspicion",
		      first_dead - first_sus);
		net_free(t);
	}
}

/* Node 0 cannot reach node 1 directly; the others relay. */
static void run_cut_link(uint32_t indirect_checks, size_t *suspicions, uint64_t *indirect)
{
	struct swim_config c;
	swim_config_default(&c);
	c.indirect_checks = indirect_checks;
	struct net *t = net_new(4, 7, &c);
	net_join_all(t);
	run_until_converged(t, 10000);
	t->cut[0][1] = t->cut[1][0] = true;
	t->streams_fail = true;
	net_run_for(t, 60000);
	*suspicions = events(t, 0, 1, SWIM_EV_SUSPECT) + events(t, 1, 0, SWIM_EV_SUSPECT);
	struct swim_stats st;
	swim_stats(t->node[0], &st);
	*indirect = st.indirect_probes;
	if (indirect_checks > 0) {
		CHECK(t, converged(t), "cut link broke membership");
		CHECK(t, swim_health_score(t->node[0]) <= 1, "node 0 blames itself: %u",
		      swim_health_score(t->node[0]));
	}
	net_free(t);
}

static void indirect_probe_saves_node_behind_cut_link(void **state)
{
	(void)state;
	size_t suspicions;
	uint64_t indirect;
	run_cut_link(3, &suspicions, &indirect);
	assert_int_equal(suspicions, 0);
	assert_true(indirect > 10);
	/* the control: without indirect probes the same cut causes suspicion */
	run_cut_link(0, &suspicions, &indirect);
	assert_true(suspicions > 0);
	assert_int_equal(indirect, 0);
}

static void relay_forwards_ack(void **state)
{
	(void)state;
	struct swim *s = solo(NULL, "relay", 1);
	drop_outputs(s);
	struct swim_msg req = {.type = SWIM_MSG_PING_REQ, .seq = 77, .addr = addr_of(2)};
	strcpy(req.id, "target");
	assert_int_equal(inject(s, T0, "asker", 0, &req, 1), 0);
	struct swim_out_packet p;
	struct swim_packet pkt;
	assert_true(swim_pop_packet(s, &p));
	assert_int_equal(index_of(&p.to), 2);
	decode_out(&p, &pkt);
	free(p.data);
	assert_int_equal(pkt.msgs[0].type, SWIM_MSG_PING);
	assert_string_equal(pkt.msgs[0].id, "target");
	uint32_t local = pkt.msgs[0].seq;
	/* the target answers the relay's ping */
	struct swim_msg ack = {.type = SWIM_MSG_ACK, .seq = local};
	assert_int_equal(inject(s, T0 + 5, "target", 2, &ack, 1), 0);
	assert_true(swim_pop_packet(s, &p));
	assert_int_equal(index_of(&p.to), 0);
	decode_out(&p, &pkt);
	free(p.data);
	assert_int_equal(pkt.msgs[0].type, SWIM_MSG_ACK);
	assert_int_equal(pkt.msgs[0].seq, 77);
	/* no nack follows */
	swim_tick(s, T0 + 5000);
	while (swim_pop_packet(s, &p)) {
		decode_out(&p, &pkt);
		for (size_t i = 0; i < pkt.n_msgs; i++)
			assert_int_not_equal(pkt.msgs[i].type, SWIM_MSG_NACK);
		free(p.data);
	}
	swim_free(s);
}

static void relay_sends_nack_when_target_silent(void **state)
{
	(void)state;
	struct swim *s = solo(NULL, "relay", 1);
	drop_outputs(s);
	struct swim_msg req = {.type = SWIM_MSG_PING_REQ, .seq = 78, .addr = addr_of(2)};
	strcpy(req.id, "target");
	assert_int_equal(inject(s, T0, "asker", 0, &req, 1), 0);
	struct swim_out_packet p;
	struct swim_packet pkt;
	assert_true(swim_pop_packet(s, &p));
	decode_out(&p, &pkt);
	free(p.data);
	assert_int_equal(pkt.msgs[0].type, SWIM_MSG_PING);
	uint32_t local = pkt.msgs[0].seq;
	drop_outputs(s);
	/* nack at 80 % of the 500 ms probe timeout */
	assert_true(swim_next_deadline(s) <= T0 + 400);
	bool nacked = false;
	swim_tick(s, T0 + 399);
	while (swim_pop_packet(s, &p)) {
		decode_out(&p, &pkt);
		for (size_t i = 0; i < pkt.n_msgs; i++)
			nacked |= pkt.msgs[i].type == SWIM_MSG_NACK;
		free(p.data);
	}
	assert_false(nacked);
	swim_tick(s, T0 + 400);
	while (swim_pop_packet(s, &p)) {
		decode_out(&p, &pkt);
		if (pkt.msgs[0].type == SWIM_MSG_NACK) {
			assert_int_equal(index_of(&p.to), 0);
			assert_int_equal(pkt.msgs[0].seq, 78);
			nacked = true;
		}
		free(p.data);
	}
	assert_true(nacked);
	struct swim_stats st;
	swim_stats(s, &st);
	assert_int_equal(st.nacks_sent, 1);
	/* a late ack from the target is now stale */
	struct swim_msg ack = {.type = SWIM_MSG_ACK, .seq = local};
	assert_int_equal(inject(s, T0 + 600, "target", 2, &ack, 1), 0);
	assert_int_equal(swim_dropped(s, SWIM_DROP_STALE_ACK), 1);
	swim_free(s);
}

static void suspected_node_refutes(void **state)
{
	(void)state;
	struct swim *s = solo(NULL, "me", 0);
	drop_outputs(s);
	uint64_t inc = swim_self_incarnation(s);
	struct swim_msg m = suspect_msg("me", inc + 5, "other");
	assert_int_equal(inject(s, T0, "other", 1, &m, 1), 0);
	assert_true(swim_self_incarnation(s) == inc + 6);
	assert_int_equal(swim_health_score(s), 1);
	struct swim_event ev;
	assert_true(swim_pop_event(s, &ev));
	assert_int_equal(ev.type, SWIM_EV_REFUTED);
	assert_string_equal(ev.id, "me");
	assert_true(ev.incarnation == inc + 6);
	/* an older claim changes nothing */
	m = suspect_msg("me", inc, "other");
	assert_int_equal(inject(s, T0, "other", 1, &m, 1), 0);
	assert_true(swim_self_incarnation(s) == inc + 6);
	/* and a death claim is refuted the same way */
	m.type = SWIM_MSG_DEAD;
	m.incarnation = inc + 6;
	assert_int_equal(inject(s, T0, "other", 1, &m, 1), 0);
	assert_true(swim_self_incarnation(s) == inc + 7);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(s, "me", &mi), 0);
	assert_int_equal(mi.state, SWIM_ALIVE);
	swim_free(s);
}

static void suspected_node_refutes_in_cluster(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.suspicion_mult = 8; /* 8 s from suspicion to death in a cluster of 5 */
	c.suspicion_confirmations = 0;
	struct net *t = net_new(5, 3, &c);
	net_join_all(t);
	run_until_converged(t, 10000);
	uint64_t inc = swim_self_incarnation(t->node[2]);
	/* Node 2 loses its network until someone suspects it (randomized
	 * round-robin: within two rounds over the 4 others), well before
	 * anyone may declare it dead, then refutes. */
	isolate(t, 2, true);
	size_t suspected = 0;
	for (uint64_t waited = 0; suspected == 0 && waited < 6000; waited += 100) {
		net_run_for(t, 100);
		for (int i = 0; i < 5; i++)
			suspected += i != 2 && view(t, i, 2) == SWIM_SUSPECT;
	}
	CHECK(t, suspected > 0, "nobody suspected node 2 within 6 s");
	isolate(t, 2, false);
	run_until_converged(t, 10000);
	CHECK(t, swim_self_incarnation(t->node[2]) > inc, "node 2 did not refute");
	CHECK(t, events(t, 2, 2, SWIM_EV_REFUTED) > 0, "no refute event");
	for (int i = 0; i < 5; i++) {
		CHECK(t, events(t, i, 2, SWIM_EV_DEAD) == 0, "node %d declared 2 dead", i);
		if (events(t, i, 2, SWIM_EV_SUSPECT) > 0)
			CHECK(t, events(t, i, 2, SWIM_EV_ALIVE) > 0, "node %d: no alive-again", i);
	}
	net_free(t);
}

/* Runs s until its periodic push-pull goes out; returns that request. */
/* Default timing without probes (nobody is suspected meanwhile), syncing
 * every push_pull_ms. */
static struct swim_config syncs_only(uint32_t push_pull_ms)
{
	struct swim_config c;
	swim_config_default(&c);
	c.probe_interval_ms = 1000000;
	c.probe_timeout_ms = 999999;
	c.push_pull_interval_ms = push_pull_ms;
	return c;
}

static struct swim_out_stream next_periodic_sync(struct swim *s, uint64_t *now)
{
	struct swim_out_stream st;
	for (int guard = 0; guard < 100000; guard++) {
		*now = swim_next_deadline(s);
		swim_tick(s, *now);
		if (swim_pop_stream(s, &st))
			return st;
		drop_outputs(s);
	}
	fail_msg("no periodic push-pull");
	return st;
}

/* Serves a's push-pull request st at b and hands b's answer back to a. */
static void sync_through(struct swim *a, struct swim *b, uint64_t now, struct swim_out_stream *st)
{
	struct swim_addr from = addr_of(0);
	uint8_t *reply;
	size_t reply_len;
	assert_int_equal(swim_pushpull_serve(b, now, &from, st->data, st->len, &reply, &reply_len), 0);
	assert_int_equal(swim_pushpull_response(a, now, st->id, reply, reply_len), 0);
	free(st->data);
	free(reply);
	drop_outputs(b);
}

/* The periodic sync sends only a fingerprint of the view: a peer with the
 * same view answers with nothing and starts nothing; a peer whose view
 * differs answers with nothing too but sends its digest back, so that the
 * requester answers with what it knows better. */
static void periodic_sync_is_a_summary(void **state)
{
	(void)state;
	struct swim_config c = syncs_only(1000);
	struct swim *a = solo(&c, "a", 0), *b = solo(&c, "b", 1);
	struct swim_msg m = alive_msg("b", 1, 1);
	assert_int_equal(inject(a, T0, "b", 1, &m, 1), 0);
	m = alive_msg("a", 1, 0);
	assert_int_equal(inject(b, T0, "a", 0, &m, 1), 0);
	drop_outputs(a);
	drop_outputs(b);
	uint64_t now = T0;
	struct swim_out_stream req = next_periodic_sync(a, &now);
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	struct swim_pushpull pp;
	char err[SWIM_PROTO_ERR_MAX];
	assert_int_equal(swim_proto_decode_pushpull(req.data, req.len, &lim, &pp, err), 0);
	assert_int_equal(pp.flags, SWIM_PP_SUMMARY);
	assert_true(req.len < 64);
	swim_proto_pushpull_free(&pp);

	struct swim_addr from = addr_of(0);
	uint8_t *reply;
	size_t reply_len;
	struct swim_out_stream back;
	assert_int_equal(swim_pushpull_serve(b, now, &from, req.data, req.len, &reply, &reply_len), 0);
	assert_int_equal(swim_proto_decode_pushpull(reply, reply_len, &lim, &pp, err), 0);
	assert_int_equal(pp.flags, SWIM_PP_RESPONSE);
	assert_int_equal(pp.n_members, 0);
	assert_int_equal(swim_pushpull_response(a, now, req.id, reply, reply_len), 0);
	free(reply);
	assert_false(swim_pop_stream(b, &back)); /* same view: nothing more */

	m = alive_msg("c", 1, 2); /* b learns of c, a does not */
	assert_int_equal(inject(b, now, "c", 2, &m, 1), 0);
	drop_outputs(b);
	assert_int_equal(swim_pushpull_serve(b, now, &from, req.data, req.len, &reply, &reply_len), 0);
	free(reply);
	free(req.data);
	assert_true(swim_pop_stream(b, &back));
	assert_int_equal(swim_proto_decode_pushpull(back.data, back.len, &lim, &pp, err), 0);
	assert_int_equal(pp.flags, SWIM_PP_DIGEST);
	assert_int_equal(pp.n_members, 3);
	swim_proto_pushpull_free(&pp);
	/* a has nothing b lacks; seeing b list a member it does not know, it
	 * sends its own digest, which b answers with c's full record. */
	struct swim_addr bfrom = addr_of(1);
	assert_int_equal(swim_pushpull_serve(a, now, &bfrom, back.data, back.len, &reply, &reply_len), 0);
	free(back.data);
	assert_int_equal(swim_proto_decode_pushpull(reply, reply_len, &lim, &pp, err), 0);
	assert_int_equal(pp.n_members, 0);
	swim_proto_pushpull_free(&pp);
	free(reply);
	struct swim_out_stream again;
	assert_true(swim_pop_stream(a, &again));
	sync_through(a, b, now, &again);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(a, "c", &mi), 0);
	assert_int_equal(mi.state, SWIM_ALIVE);
	swim_free(a);
	swim_free(b);
}

/* After a join the periodic sync comes 1, 2, 4, 8, 16 and 32 s later, then
 * every period: nodes joining at the same moment reach each other sooner. */
static void syncs_back_off_after_a_join(void **state)
{
	(void)state;
	struct swim_config c = syncs_only(30000);
	struct swim *a = solo(&c, "a", 0), *b = solo(&c, "b", 1);
	struct swim_msg m = alive_msg("a", 1, 0);
	assert_int_equal(inject(b, T0, "a", 0, &m, 1), 0);
	drop_outputs(b);
	struct swim_addr seed = addr_of(1);
	assert_int_equal(swim_join(a, T0, &seed, 1), 1);
	struct swim_out_stream st;
	assert_true(swim_pop_stream(a, &st));
	sync_through(a, b, T0, &st); /* the join's push-pull */
	drop_outputs(a);
	static const uint64_t expect_s[] = {1, 2, 4, 8, 16, 32, 62, 92};
	uint64_t now = T0;
	for (size_t i = 0; i < sizeof(expect_s) / sizeof(expect_s[0]); i++) {
		st = next_periodic_sync(a, &now);
		if (now - T0 != expect_s[i] * 1000)
			fail_msg("sync %zu at %" PRIu64 " ms after the join, expected %" PRIu64 " s", i,
				 now - T0, expect_s[i]);
		sync_through(a, b, now, &st);
	}
	swim_free(a);
	swim_free(b);
}

static void suspicion_timeout_shrinks_with_confirmations(void **state)
{
	(void)state;
	struct swim_config cfg = memberlist_timing();
	struct swim *s = solo(&cfg, "n0", 0);
	/* seven members: k = 2 confirmations expected */
	for (int i = 1; i < 7; i++) {
		char id[8];
		snprintf(id, sizeof(id), "n%d", i);
		struct swim_msg a = alive_msg(id, 1, i);
		assert_int_equal(inject(s, T0, id, i, &a, 1), 0);
	}
	struct swim_counts c;
	swim_counts(s, &c);
	assert_int_equal(c.alive, 7);
	/* min = 4 * max(1, log10 7) * 1000 = 4000 ms; max = 6 * min = 24000 ms */
	uint64_t t0 = T0 + 100;
	struct swim_msg m = suspect_msg("n6", 1, "n1");
	assert_int_equal(inject(s, t0, "n1", 1, &m, 1), 0);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_int_equal(mi.state, SWIM_SUSPECT);
	assert_true(mi.suspect_deadline_ms == t0 + 24000);
	/* the accuser again: not independent */
	assert_int_equal(inject(s, t0 + 10, "n1", 1, &m, 1), 0);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_true(mi.suspect_deadline_ms == t0 + 24000);
	/* first confirmation: max - (max - min) * ln 2 / ln 3 = 11381 ms */
	m = suspect_msg("n6", 1, "n2");
	assert_int_equal(inject(s, t0 + 20, "n2", 2, &m, 1), 0);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_true(mi.suspect_deadline_ms == t0 + 11381);
	/* a repeat of it changes nothing */
	assert_int_equal(inject(s, t0 + 30, "n2", 2, &m, 1), 0);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_true(mi.suspect_deadline_ms == t0 + 11381);
	/* second: the minimum */
	m = suspect_msg("n6", 1, "n3");
	assert_int_equal(inject(s, t0 + 40, "n3", 3, &m, 1), 0);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_true(mi.suspect_deadline_ms == t0 + 4000);
	/* beyond k: still the minimum */
	m = suspect_msg("n6", 1, "n4");
	assert_int_equal(inject(s, t0 + 50, "n4", 4, &m, 1), 0);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_true(mi.suspect_deadline_ms == t0 + 4000);
	/* and the timer really fires there */
	drop_outputs(s);
	swim_tick(s, t0 + 3999);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_int_equal(mi.state, SWIM_SUSPECT);
	swim_tick(s, t0 + 4000);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_int_equal(mi.state, SWIM_DEAD);
	swim_free(s);
}

static void small_cluster_suspicion_uses_min(void **state)
{
	(void)state;
	/* three members: fewer than k + 2, so no confirmation is expected */
	struct swim_config c = memberlist_timing();
	struct swim *s = solo(&c, "n0", 0);
	struct swim_msg a = alive_msg("n1", 1, 1);
	assert_int_equal(inject(s, T0, "n1", 1, &a, 1), 0);
	a = alive_msg("n2", 1, 2);
	assert_int_equal(inject(s, T0, "n2", 2, &a, 1), 0);
	struct swim_msg m = suspect_msg("n2", 1, "n1");
	assert_int_equal(inject(s, T0, "n1", 1, &m, 1), 0);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(s, "n2", &mi), 0);
	assert_true(mi.suspect_deadline_ms == T0 + 4000);
	swim_free(s);
}

static void awareness_rises_on_missed_acks_and_falls(void **state)
{
	(void)state;
	struct net *t = net_new(5, 11, NULL);
	net_join_all(t);
	run_until_converged(t, 10000);
	net_run_for(t, 5000);
	CHECK(t, swim_health_score(t->node[0]) == 0, "unhealthy before: %u", swim_health_score(t->node[0]));
	struct swim_stats before, after;
	swim_stats(t->node[0], &before);
	isolate(t, 0, true);
	net_run_for(t, 8000);
	swim_stats(t->node[0], &after);
	uint32_t score = swim_health_score(t->node[0]);
	CHECK(t, score >= 5, "score only %u after 8 s cut off", score);
	/* Its probe interval stretched: healthy it would start 8 probes. */
	CHECK(t, after.probes - before.probes <= 4, "%" PRIu64 " probes while unhealthy",
	      after.probes - before.probes);
	/* The others got nacks from the relays: not their fault. */
	for (int i = 1; i < 5; i++)
		CHECK(t, swim_health_score(t->node[i]) <= 1, "node %d score %u", i,
		      swim_health_score(t->node[i]));
	/* Healed, its probes succeed again and each success lowers the score.
	 * (Whoever was declared dead meanwhile refutes and rejoins.) */
	isolate(t, 0, false);
	net_run_for(t, 60000);
	CHECK(t, swim_health_score(t->node[0]) == 0, "score still %u", swim_health_score(t->node[0]));
	CHECK(t, converged(t), "not converged after the cut healed");
	net_free(t);
}

static void leave_is_seen_as_left(void **state)
{
	(void)state;
	struct net *t = net_new(5, 5, NULL);
	net_join_all(t);
	run_until_converged(t, 10000);
	assert_int_equal(swim_leave(t->node[4], t->now), 0);
	assert_int_equal(swim_leave(t->node[4], t->now), -EALREADY);
	net_drain(t, 4);
	CHECK(t, !swim_leave_done(t->node[4]), "done before sending anything");
	uint64_t start = t->now;
	while (!swim_leave_done(t->node[4]) && t->now - start < 10000)
		net_run_for(t, 50);
	CHECK(t, swim_leave_done(t->node[4]), "leave never finished");
	for (int i = 0; i < 4; i++)
		CHECK(t, view(t, i, 4) == SWIM_LEFT, "node %d sees %d", i, view(t, i, 4));
	/* the leaver still answers while it runs; then it stops for good */
	net_run_for(t, 5000);
	crash(t, 4);
	net_run_for(t, 60000);
	for (int i = 0; i < 4; i++) {
		CHECK(t, view(t, i, 4) == SWIM_LEFT, "node %d sees %d", i, view(t, i, 4));
		CHECK(t, events(t, i, 4, SWIM_EV_LEFT) == 1, "node %d: left events", i);
		CHECK(t, events(t, i, 4, SWIM_EV_SUSPECT) == 0, "node %d suspected the leaver", i);
		CHECK(t, events(t, i, 4, SWIM_EV_DEAD) == 0, "node %d: leaver dead", i);
		struct swim_counts c;
		swim_counts(t->node[i], &c);
		CHECK(t, c.alive == 4 && c.left == 1, "node %d counts", i);
	}
	net_free(t);
}

static void dead_and_left_are_reaped(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.reap_timeout_ms = 20000;
	struct net *t = net_new(5, 9, &c);
	net_join_all(t);
	run_until_converged(t, 10000);
	swim_leave(t->node[3], t->now);
	net_drain(t, 3);
	net_run_for(t, 3000);
	crash(t, 3);
	crash(t, 4);
	net_run_for(t, 80000);
	for (int i = 0; i < 3; i++) {
		uint64_t left = first_event(t, i, 3, SWIM_EV_LEFT);
		uint64_t dead = first_event(t, i, 4, SWIM_EV_DEAD);
		uint64_t gone3 = first_event(t, i, 3, SWIM_EV_REAPED);
		uint64_t gone4 = first_event(t, i, 4, SWIM_EV_REAPED);
		CHECK(t, left && dead && gone3 && gone4, "node %d: missing events", i);
		CHECK(t, gone3 - left == 20000 && gone4 - dead == 20000,
		      "node %d: reaped %" PRIu64 " and %" PRIu64 " ms after", i, gone3 - left, gone4 - dead);
		CHECK(t, view(t, i, 3) == -1 && view(t, i, 4) == -1, "node %d still knows them", i);
		CHECK(t, swim_member_count(t->node[i]) == 3, "node %d knows %zu", i,
		      swim_member_count(t->node[i]));
		struct swim_counts cnt;
		swim_counts(t->node[i], &cnt);
		CHECK(t, cnt.alive == 3 && cnt.dead == 0 && cnt.left == 0, "node %d counts", i);
	}
	CHECK(t, converged(t), "the rest diverged");
	net_free(t);
}

static void restart(struct net *t, int i, uint64_t incarnation)
{
	node_start(t, i, incarnation);
	struct swim_addr seed = addr_of(0);
	CHECK(t, swim_join(t->node[i], t->now, &seed, 1) == 1, "rejoin");
	net_drain(t, i);
}

static void restart_with_higher_incarnation_rejoins(void **state)
{
	(void)state;
	struct net *t = net_new(5, 13, NULL);
	net_join_all(t);
	run_until_converged(t, 10000);
	crash(t, 4);
	net_run_for(t, 40000);
	for (int i = 0; i < 4; i++)
		CHECK(t, view(t, i, 4) == SWIM_DEAD, "node %d sees %d", i, view(t, i, 4));
	restart(t, 4, 100);
	uint64_t took = run_until_converged(t, 10000);
	CHECK(t, took <= 3000, "rejoin took %" PRIu64 " ms", took);
	for (int i = 0; i < 4; i++) {
		struct swim_member_info mi;
		swim_member_find(t->node[i], t->id[4], &mi);
		CHECK(t, mi.incarnation == 100, "node %d: incarnation %" PRIu64, i, mi.incarnation);
		CHECK(t, events(t, i, 4, SWIM_EV_JOINED) == 2, "node %d: joined events", i);
	}
	net_free(t);
}

static void restart_with_stale_incarnation_refutes(void **state)
{
	(void)state;
	struct net *t = net_new(5, 17, NULL);
	net_join_all(t);
	run_until_converged(t, 10000);
	/* bump node 4 so that a restart at 1 is behind what the cluster knows */
	assert_int_equal(swim_set_meta(t->node[4], t->now, (const uint8_t *)"v1", 2), 0);
	run_until_converged(t, 10000);
	net_run_for(t, 3000);
	crash(t, 4);
	net_run_for(t, 40000);
	restart(t, 4, 1);
	run_until_converged(t, 15000);
	CHECK(t, swim_self_incarnation(t->node[4]) > 2, "incarnation %" PRIu64,
	      swim_self_incarnation(t->node[4]));
	CHECK(t, events(t, 4, 4, SWIM_EV_REFUTED) > 0, "the restarted node never refuted");
	net_free(t);
}

static void metadata_update_propagates(void **state)
{
	(void)state;
	struct net *t = net_new(6, 19, NULL);
	net_join_all(t);
	run_until_converged(t, 10000);
	static const char meta[] = "role=manager;labels=zone:a";
	uint64_t inc = swim_self_incarnation(t->node[2]);
	assert_int_equal(swim_set_meta(t->node[2], t->now, (const uint8_t *)meta, sizeof(meta)), 0);
	assert_true(swim_self_incarnation(t->node[2]) == inc + 1);
	net_drain(t, 2);
	net_run_for(t, 3000);
	for (int i = 0; i < 6; i++) {
		struct swim_member_info mi;
		CHECK(t, swim_member_find(t->node[i], t->id[2], &mi) == 0, "lost");
		CHECK(t, mi.meta_len == sizeof(meta) && memcmp(mi.meta, meta, sizeof(meta)) == 0,
		      "node %d has old metadata", i);
		CHECK(t, mi.incarnation == inc + 1, "node %d: incarnation", i);
		if (i != 2)
			CHECK(t, events(t, i, 2, SWIM_EV_UPDATED) == 1, "node %d: updated events", i);
	}
	uint8_t big[SWIM_META_DEFAULT_MAX + 1] = {0};
	assert_int_equal(swim_set_meta(t->node[2], t->now, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(swim_set_meta(t->node[2], t->now, big, sizeof(big) - 1), 0);
	net_free(t);
}

static void piggyback_budget_honoured(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.packet_budget = 300;
	static uint8_t meta[150];
	memset(meta, 'm', sizeof(meta));
	c.meta = meta;
	c.meta_len = sizeof(meta);
	struct net *t = net_new(10, 23, &c);
	net_join_all(t);
	run_until_converged(t, 20000);
	net_run_for(t, 10000);
	CHECK(t, t->max_len <= 300, "a %zu byte packet", t->max_len);
	/* an alive with 150 bytes of metadata did ride along somewhere */
	CHECK(t, t->max_len >= 170, "packets were never filled: %zu", t->max_len);
	net_free(t);
}

/* Counts, per id, how often a solo core sent an alive for it at inc. */
struct counter {
	char ids[128][16];      /* ids watched */
	uint64_t inc[128];      /* incarnation watched */
	uint32_t count[128];    /* copies seen */
	int n;                  /* ids */
	char order[64][16];     /* first updates in order (for order tests) */
	int norder;
};

static void count_packet(struct counter *k, const struct swim_out_packet *p)
{
	struct swim_packet pkt;
	decode_out(p, &pkt);
	for (size_t i = 0; i < pkt.n_msgs; i++) {
		const struct swim_msg *m = &pkt.msgs[i];
		if (m->type != SWIM_MSG_ALIVE)
			continue;
		if (k->norder < 64)
			snprintf(k->order[k->norder++], 16, "%s", m->id);
		for (int j = 0; j < k->n; j++)
			if (strcmp(k->ids[j], m->id) == 0 && k->inc[j] == m->incarnation)
				k->count[j]++;
	}
}

/* Ticks s for ms, sending nothing back, counting alive updates. */
static void run_solo(struct swim *s, uint64_t from, uint64_t ms, struct counter *k)
{
	uint64_t now = from;
	while (now < from + ms) {
		uint64_t d = swim_next_deadline(s);
		now = d > now ? d : now;
		swim_tick(s, now);
		struct swim_out_packet p;
		while (swim_pop_packet(s, &p)) {
			count_packet(k, &p);
			free(p.data);
		}
		drop_outputs(s);
	}
}

/* log10_ceil: ceil(log10(members + 1)), worked out by hand for each case. */
static void check_retransmit_limit(int members, uint32_t log10_ceil)
{
	struct swim_config c;
	swim_config_default(&c);
	uint32_t want = c.retransmit_mult * log10_ceil;
	c.probe_interval_ms = 1000000; /* only gossip rounds send in this window */
	c.probe_timeout_ms = 999999;
	struct swim *s = solo(&c, "n0", 0);
	struct counter *k = calloc(1, sizeof(*k));
	for (int i = 1; i < members; i++) {
		snprintf(k->ids[k->n], 16, "m%d", i);
		k->inc[k->n++] = 1;
		struct swim_msg a = alive_msg(k->ids[k->n - 1], 1, i % 9);
		assert_int_equal(inject(s, T0, k->ids[k->n - 1], i % 9, &a, 1), 0);
	}
	snprintf(k->ids[k->n], 16, "n0");
	k->inc[k->n++] = 1;
	drop_outputs(s);
	run_solo(s, T0, 60000, k);
	for (int j = 0; j < k->n; j++)
		if (k->count[j] != want)
			fail_msg("%d members: %s sent %u times, limit %u", members, k->ids[j], k->count[j], want);
	free(k);
	swim_free(s);
}

static void retransmit_limit_honoured(void **state)
{
	(void)state;
	/* 4 * ceil(log10(N + 1)) */
	check_retransmit_limit(5, 1);
	check_retransmit_limit(10, 2);
	check_retransmit_limit(99, 2);
	check_retransmit_limit(100, 3);
}

static void broadcast_order_least_sent_newest_first(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.probe_interval_ms = 1000000;
	c.probe_timeout_ms = 999999;
	c.packet_budget = 256;
	c.gossip_nodes = 1;
	struct swim *s = solo(&c, "n0", 0);
	static uint8_t meta[150];
	const char *ids[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++) {
		struct swim_msg m = alive_msg(ids[i], 1, i + 1);
		m.meta = meta;
		m.meta_len = sizeof(meta); /* one per packet */
		assert_int_equal(inject(s, T0, ids[i], i + 1, &m, 1), 0);
	}
	drop_outputs(s);
	struct counter *k = calloc(1, sizeof(*k));
	run_solo(s, T0, 3000, k);
	/* Our own alive (small) rides along; look at the big ones only. */
	char seq[16] = "";
	for (int i = 0; i < k->norder && strlen(seq) < 9; i++)
		if (strcmp(k->order[i], "n0") != 0)
			strcat(seq, k->order[i]);
	assert_string_equal(seq, "cbacbacba");
	free(k);
	swim_free(s);
}

static void newer_update_replaces_older(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.probe_interval_ms = 1000000;
	c.probe_timeout_ms = 999999;
	struct swim *s = solo(&c, "n0", 0);
	struct swim_msg a = alive_msg("x", 1, 1);
	assert_int_equal(inject(s, T0, "x", 1, &a, 1), 0);
	a.incarnation = 2;
	a.meta = (const uint8_t *)"new";
	a.meta_len = 3;
	assert_int_equal(inject(s, T0, "x", 1, &a, 1), 0);
	struct counter *k = calloc(1, sizeof(*k));
	strcpy(k->ids[0], "x");
	k->inc[0] = 1;
	strcpy(k->ids[1], "x");
	k->inc[1] = 2;
	k->n = 2;
	drop_outputs(s);
	run_solo(s, T0, 30000, k);
	assert_int_equal(k->count[0], 0);
	assert_int_equal(k->count[1], c.retransmit_mult); /* N = 2: mult * ceil(log10 3) */
	free(k);
	swim_free(s);
}

static void bad_packets_counted_not_crashing(void **state)
{
	(void)state;
	struct net *t = net_new(3, 29, NULL);
	net_join_all(t);
	run_until_converged(t, 10000);
	struct swim *s = t->node[0];
	struct swim_addr from = addr_of(1);
	static const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef};
	static const uint8_t v2[] = {0x93, 0x02, 0xa1, 'x', 0x90};
	assert_int_equal(swim_recv(s, t->now, &from, garbage, sizeof(garbage)), -EBADMSG);
	assert_int_equal(swim_recv(s, t->now, &from, garbage, 0), -EBADMSG);
	assert_int_equal(swim_recv(s, t->now, &from, v2, sizeof(v2)), -EPROTONOSUPPORT);
	assert_int_equal(swim_dropped(s, SWIM_DROP_DECODE), 2);
	assert_int_equal(swim_dropped(s, SWIM_DROP_VERSION), 1);
	assert_non_null(strstr(swim_last_error(s), "packet.version"));
	/* our own id as sender */
	struct swim_msg ack = {.type = SWIM_MSG_ACK, .seq = 1};
	assert_int_equal(inject(s, t->now, t->id[0], 1, &ack, 1), -ELOOP);
	assert_int_equal(swim_dropped(s, SWIM_DROP_FROM_SELF), 1);
	/* a ping for someone else */
	struct swim_msg ping = {.type = SWIM_MSG_PING, .seq = 5};
	strcpy(ping.id, "not-me");
	assert_int_equal(inject(s, t->now, t->id[1], 1, &ping, 1), 0);
	assert_int_equal(swim_dropped(s, SWIM_DROP_WRONG_TARGET), 1);
	/* an ack nobody asked for */
	ack.seq = 999999;
	uint64_t stale = swim_dropped(s, SWIM_DROP_STALE_ACK);
	assert_int_equal(inject(s, t->now, t->id[1], 1, &ack, 1), 0);
	assert_int_equal(swim_dropped(s, SWIM_DROP_STALE_ACK), stale + 1);
	/* push-pull garbage and replies to nothing */
	uint8_t *reply = NULL;
	size_t rlen;
	assert_int_equal(swim_pushpull_serve(s, t->now, &from, garbage, sizeof(garbage), &reply, &rlen),
			 -EBADMSG);
	assert_null(reply);
	assert_int_equal(swim_dropped(s, SWIM_DROP_PP_DECODE), 1);
	assert_int_equal(swim_pushpull_response(s, t->now, 12345, garbage, sizeof(garbage)), -ENOENT);
	assert_int_equal(swim_dropped(s, SWIM_DROP_PP_UNEXPECTED), 1);
	/* a response sent as a request */
	struct swim_ppw w;
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_ppw_init(&w, "node-01", SWIM_PP_RESPONSE, 4096), 0);
	assert_int_equal(swim_ppw_finish(&w, &buf, &len), 0);
	assert_int_equal(swim_pushpull_serve(s, t->now, &from, buf, len, &reply, &rlen), -EBADMSG);
	assert_int_equal(swim_dropped(s, SWIM_DROP_PP_UNEXPECTED), 2);
	free(buf);
	/* random bytes: never a crash, never a state change */
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 2000; i++) {
		uint8_t junk[64];
		size_t n = (size_t)(x % sizeof(junk));
		for (size_t j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			junk[j] = (uint8_t)x;
		}
		junk[0] = 0x93; /* look like a packet header to get further in */
		swim_recv(s, t->now, &from, junk, n);
	}
	net_drain(t, 0);
	net_run_for(t, 10000);
	CHECK(t, converged(t), "bad packets broke the cluster");
	for (int d = 0; d < SWIM_DROP__COUNT; d++)
		assert_non_null(swim_drop_str((enum swim_drop)d));
	assert_string_equal(swim_drop_str(SWIM_DROP_WRONG_TARGET), "wrong_target");
	net_free(t);
}

static void pushpull_heals_partition(void **state)
{
	(void)state;
	struct net *t = net_new(6, 31, NULL);
	net_join_all(t);
	run_until_converged(t, 10000);
	for (int i = 0; i < 3; i++)
		for (int j = 3; j < 6; j++)
			t->cut[i][j] = t->cut[j][i] = true;
	net_run_for(t, 90000);
	/* each half holds the other dead */
	for (int i = 0; i < 3; i++)
		CHECK(t, view(t, i, 4) == SWIM_DEAD && view(t, 4, i) == SWIM_DEAD, "partition not seen");
	for (int i = 0; i < 3; i++)
		for (int j = 3; j < 6; j++)
			t->cut[i][j] = t->cut[j][i] = false;
	uint64_t took = run_until_converged(t, 120000);
	print_message("partition healed in %" PRIu64 " ms\n", took);
	net_free(t);
}

static void late_joiner_catches_up(void **state)
{
	(void)state;
	struct net *t = net_new(6, 37, NULL);
	/* 0..4 form the cluster, 5 joins through 3 once it is settled */
	crash(t, 5);
	struct swim_addr seed = addr_of(0);
	for (int i = 1; i < 5; i++) {
		swim_join(t->node[i], t->now, &seed, 1);
		net_drain(t, i);
	}
	run_until_converged(t, 10000);
	net_run_for(t, 20000);
	node_start(t, 5, 1);
	seed = addr_of(3);
	CHECK(t, swim_join(t->node[5], t->now, &seed, 1) == 1, "join");
	net_drain(t, 5);
	/* the push-pull alone tells it everyone */
	CHECK(t, swim_member_count(t->node[5]) == 6, "knows %zu after the sync",
	      swim_member_count(t->node[5]));
	uint64_t took = run_until_converged(t, 10000);
	CHECK(t, took <= 3000, "took %" PRIu64 " ms", took);
	net_free(t);
}

static void deterministic_given_seed(void **state)
{
	(void)state;
	uint64_t packets[2], bytes[2];
	for (int r = 0; r < 2; r++) {
		struct net *t = net_new(6, 41, NULL);
		net_join_all(t);
		net_run_for(t, 20000);
		crash(t, 5);
		net_run_for(t, 20000);
		packets[r] = t->packets;
		struct swim_stats st;
		swim_stats(t->node[0], &st);
		bytes[r] = st.bytes_out;
		net_free(t);
	}
	assert_true(packets[0] == packets[1]);
	assert_true(bytes[0] == bytes[1]);
}

/* Runs a solo core for ms, acking every ping it sends as the target would;
 * records the ping targets (and every decoded packet through cb). */
static size_t run_acking(struct swim *s, uint64_t from, uint64_t ms, char (*targets)[16], size_t max,
			 void (*cb)(const struct swim_out_packet *p, const struct swim_packet *pkt, void *ctx),
			 void *ctx)
{
	size_t n = 0;
	uint64_t now = from;
	while (now < from + ms) {
		uint64_t d = swim_next_deadline(s);
		now = d > now ? d : now;
		swim_tick(s, now);
		struct swim_out_packet p;
		while (swim_pop_packet(s, &p)) {
			struct swim_packet pkt;
			decode_out(&p, &pkt);
			if (cb)
				cb(&p, &pkt, ctx);
			for (size_t i = 0; i < pkt.n_msgs; i++) {
				if (pkt.msgs[i].type != SWIM_MSG_PING)
					continue;
				if (n < max)
					snprintf(targets[n++], 16, "%s", pkt.msgs[i].id);
				struct swim_msg ack = {.type = SWIM_MSG_ACK, .seq = pkt.msgs[i].seq};
				inject(s, now + 1, pkt.msgs[i].id, index_of(&p.to), &ack, 1);
			}
			free(p.data);
		}
		drop_outputs(s);
	}
	return n;
}

static void probing_is_randomized_round_robin(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.gossip_interval_ms = 0;
	struct swim *s = solo(&c, "n0", 0);
	for (int i = 1; i <= 8; i++) {
		char id[8];
		snprintf(id, sizeof(id), "n%d", i);
		struct swim_msg a = alive_msg(id, 1, i);
		assert_int_equal(inject(s, T0, id, i, &a, 1), 0);
	}
	drop_outputs(s);
	char (*targets)[16] = calloc(64, 16);
	size_t n = run_acking(s, T0, 40500, targets, 64, NULL, NULL);
	assert_true(n >= 40);
	/* skip the first, partial round: find where a full round begins by
	 * checking rounds of 8 from each offset until all 8 ids appear */
	int distinct_orders = 0;
	char first[8 * 16] = "";
	for (size_t r = 0; r + 8 <= n && r < 40; r += 8) {
		char seen[9] = {0};
		char order[8 * 16] = "";
		for (size_t i = r; i < r + 8; i++) {
			int k = targets[i][1] - '0';
			assert_true(k >= 1 && k <= 8);
			strcat(order, targets[i]);
			seen[k]++;
		}
		for (int k = 1; k <= 8; k++)
			if (seen[k] != 1)
				fail_msg("round at %zu probes n%d %d times", r, k, seen[k]);
		if (r == 0)
			strcpy(first, order);
		else if (strcmp(first, order) != 0)
			distinct_orders++;
	}
	assert_true(distinct_orders >= 3);
	struct swim_counts cnt;
	swim_counts(s, &cnt);
	assert_int_equal(cnt.alive, 9);
	assert_int_equal(swim_health_score(s), 0);
	free(targets);
	swim_free(s);
}

struct suspect_seen {
	bool ping_to_x;          /* a ping to x went out */
	bool suspect_before_ping; /* and it was preceded by a suspect message about x */
};

static void look_for_suspect(const struct swim_out_packet *p, const struct swim_packet *pkt, void *ctx)
{
	struct suspect_seen *seen = ctx;
	(void)p;
	bool suspect = false;
	for (size_t i = 0; i < pkt->n_msgs; i++) {
		if (pkt->msgs[i].type == SWIM_MSG_SUSPECT && strcmp(pkt->msgs[i].id, "x") == 0)
			suspect = true;
		if (pkt->msgs[i].type == SWIM_MSG_PING && strcmp(pkt->msgs[i].id, "x") == 0) {
			seen->ping_to_x = true;
			seen->suspect_before_ping |= suspect && i == 1;
		}
	}
}

static void probe_carries_suspicion_to_the_suspect(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.gossip_interval_ms = 0;
	c.suspicion_mult = 18; /* keep x suspect for the whole test */
	struct swim *s = solo(&c, "n0", 0);
	struct swim_msg a = alive_msg("x", 1, 1);
	assert_int_equal(inject(s, T0, "x", 1, &a, 1), 0);
	a = alive_msg("y", 1, 2);
	assert_int_equal(inject(s, T0, "y", 2, &a, 1), 0);
	struct swim_msg m = suspect_msg("x", 1, "y");
	assert_int_equal(inject(s, T0, "y", 2, &m, 1), 0);
	drop_outputs(s);
	struct suspect_seen seen = {0};
	char targets[16][16];
	/* The ack from x proves nothing about its incarnation: x stays suspect
	 * until it refutes, and every probe of it says so first. */
	run_acking(s, T0, 5000, targets, 16, look_for_suspect, &seen);
	assert_true(seen.ping_to_x);
	assert_true(seen.suspect_before_ping);
	swim_free(s);
}

static void dead_sender_is_told(void **state)
{
	(void)state;
	struct swim *s = solo(NULL, "n0", 0);
	struct swim_msg a = alive_msg("x", 3, 1);
	assert_int_equal(inject(s, T0, "x", 1, &a, 1), 0);
	struct swim_msg d = {.type = SWIM_MSG_DEAD, .incarnation = 3};
	strcpy(d.id, "x");
	strcpy(d.from, "y");
	assert_int_equal(inject(s, T0, "y", 2, &d, 1), 0);
	/* let the gossip about x run out, so nothing piggybacks it any more */
	struct counter *k = calloc(1, sizeof(*k));
	run_solo(s, T0, 60000, k);
	free(k);
	/* x, which we hold dead, pings us: it gets its ack and the news */
	struct swim_msg ping = {.type = SWIM_MSG_PING, .seq = 1};
	strcpy(ping.id, "n0");
	assert_int_equal(inject(s, T0 + 60000, "x", 1, &ping, 1), 0);
	struct swim_out_packet p;
	bool told = false, acked = false;
	while (swim_pop_packet(s, &p)) {
		struct swim_packet pkt;
		decode_out(&p, &pkt);
		assert_int_equal(index_of(&p.to), 1);
		for (size_t i = 0; i < pkt.n_msgs; i++) {
			acked |= pkt.msgs[i].type == SWIM_MSG_ACK;
			told |= pkt.msgs[i].type == SWIM_MSG_DEAD && strcmp(pkt.msgs[i].id, "x") == 0 &&
				pkt.msgs[i].incarnation == 3;
		}
		free(p.data);
	}
	assert_true(acked);
	assert_true(told);
	/* a live sender is not bothered */
	a = alive_msg("z", 1, 3);
	assert_int_equal(inject(s, T0 + 60000, "z", 3, &a, 1), 0);
	drop_outputs(s);
	assert_int_equal(inject(s, T0 + 60020, "z", 3, &ping, 1), 0);
	while (swim_pop_packet(s, &p)) {
		struct swim_packet pkt;
		decode_out(&p, &pkt);
		for (size_t i = 0; i < pkt.n_msgs; i++)
			assert_false(pkt.msgs[i].type == SWIM_MSG_DEAD && strcmp(pkt.msgs[i].id, "z") == 0);
		free(p.data);
	}
	swim_free(s);
}

static void address_change_needs_newer_incarnation(void **state)
{
	(void)state;
	struct swim *s = solo(NULL, "n0", 0);
	struct swim_msg a = alive_msg("x", 1, 1);
	assert_int_equal(inject(s, T0, "x", 1, &a, 1), 0);
	drop_outputs(s);
	/* same incarnation, other address: ignored */
	a = alive_msg("x", 1, 5);
	assert_int_equal(inject(s, T0, "x", 5, &a, 1), 0);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(s, "x", &mi), 0);
	assert_int_equal(index_of(&mi.addr), 1);
	/* newer: taken, and reported */
	a = alive_msg("x", 2, 5);
	assert_int_equal(inject(s, T0 + 5, "x", 5, &a, 1), 0);
	assert_int_equal(swim_member_find(s, "x", &mi), 0);
	assert_int_equal(index_of(&mi.addr), 5);
	assert_true(mi.incarnation == 2);
	struct swim_event ev;
	assert_true(swim_pop_event(s, &ev));
	assert_int_equal(ev.type, SWIM_EV_UPDATED);
	assert_int_equal(index_of(&ev.addr), 5);
	assert_false(swim_pop_event(s, &ev));
	swim_free(s);
}

/* n0 plus n1..n6, all alive at incarnation 1. */
static struct swim *solo_with_six(const struct swim_config *c)
{
	struct swim *s = solo(c, "n0", 0);
	for (int i = 1; i < 7; i++) {
		char id[8];
		snprintf(id, sizeof(id), "n%d", i);
		struct swim_msg a = alive_msg(id, 1, i);
		assert_int_equal(inject(s, T0, id, i, &a, 1), 0);
	}
	drop_outputs(s);
	return s;
}

static void suspicion_at_newer_incarnation_starts_over(void **state)
{
	(void)state;
	struct swim_config c = memberlist_timing();
	struct swim *s = solo_with_six(&c);
	uint64_t t0 = T0 + 100;
	struct swim_msg m = suspect_msg("n6", 1, "n1");
	assert_int_equal(inject(s, t0, "n1", 1, &m, 1), 0);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_true(mi.suspect_deadline_ms == t0 + 24000);
	/* n6 refuted (we missed it) and is suspected again at 2: that is a new
	 * suspicion with its own full timeout, not a confirmation of the old */
	drop_outputs(s);
	m = suspect_msg("n6", 2, "n2");
	assert_int_equal(inject(s, t0 + 20000, "n2", 2, &m, 1), 0);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_int_equal(mi.state, SWIM_SUSPECT);
	assert_true(mi.incarnation == 2);
	assert_true(mi.suspect_deadline_ms == t0 + 20000 + 24000);
	/* the state did not change, so there is no second SUSPECT event */
	struct swim_event ev;
	while (swim_pop_event(s, &ev))
		assert_int_not_equal(ev.type, SWIM_EV_SUSPECT);
	drop_outputs(s);
	swim_tick(s, t0 + 24000);
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_int_equal(mi.state, SWIM_SUSPECT);
	swim_free(s);
}

static void stale_suspicion_sender_is_corrected(void **state)
{
	(void)state;
	struct swim *s = solo_with_six(NULL);
	struct swim_msg a = alive_msg("n6", 5, 6);
	assert_int_equal(inject(s, T0, "n6", 6, &a, 1), 0);
	drop_outputs(s);
	for (int type = SWIM_MSG_SUSPECT; type <= SWIM_MSG_DEAD; type++) {
		struct swim_msg m = suspect_msg("n6", 4, "n1");
		m.type = (uint8_t)type;
		assert_int_equal(inject(s, T0 + 10, "n2", 2, &m, 1), 0);
		struct swim_out_packet p;
		bool corrected = false;
		while (swim_pop_packet(s, &p)) {
			struct swim_packet pkt;
			decode_out(&p, &pkt);
			for (size_t i = 0; i < pkt.n_msgs; i++)
				corrected |= index_of(&p.to) == 2 && pkt.msgs[i].type == SWIM_MSG_ALIVE &&
					     strcmp(pkt.msgs[i].id, "n6") == 0 && pkt.msgs[i].incarnation == 5;
			free(p.data);
		}
		assert_true(corrected);
		struct swim_member_info mi;
		assert_int_equal(swim_member_find(s, "n6", &mi), 0);
		assert_int_equal(mi.state, SWIM_ALIVE);
	}
	struct swim_stats st;
	swim_stats(s, &st);
	assert_int_equal(st.corrections, 2);
	/* current news is not "corrected" */
	struct swim_msg m = suspect_msg("n5", 1, "n1");
	assert_int_equal(inject(s, T0 + 20, "n2", 2, &m, 1), 0);
	swim_stats(s, &st);
	assert_int_equal(st.corrections, 2);
	swim_free(s);
}

/* True when one of the packets queued for node `to` says `type` about id at inc. */
static bool answered_with(struct swim *s, int to, uint8_t type, const char *id, uint64_t inc)
{
	struct swim_out_packet p;
	bool found = false;
	while (swim_pop_packet(s, &p)) {
		struct swim_packet pkt;
		decode_out(&p, &pkt);
		for (size_t i = 0; i < pkt.n_msgs; i++)
			found |= index_of(&p.to) == to && pkt.msgs[i].type == type &&
				 strcmp(pkt.msgs[i].id, id) == 0 && pkt.msgs[i].incarnation == inc;
		free(p.data);
	}
	return found;
}

static void claim_about_left_member_is_answered_with_the_leave(void **state)
{
	(void)state;
	struct swim *s = solo_with_six(NULL);
	struct swim_msg left = {.type = SWIM_MSG_LEFT, .incarnation = 1};
	snprintf(left.id, sizeof(left.id), "n6");
	assert_int_equal(inject(s, T0 + 10, "n6", 6, &left, 1), 0);
	drop_outputs(s);
	/* n2 missed the leave and suspects n6 when its probes go unanswered */
	struct swim_msg m = suspect_msg("n6", 1, "n2");
	assert_int_equal(inject(s, T0 + 20, "n2", 2, &m, 1), 0);
	assert_true(answered_with(s, 2, SWIM_MSG_LEFT, "n6", 1));
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_int_equal(mi.state, SWIM_LEFT);
	swim_free(s);
}

static void older_suspicion_is_answered_with_the_newer(void **state)
{
	(void)state;
	struct swim *s = solo_with_six(NULL);
	struct swim_msg m = suspect_msg("n6", 3, "n1");
	assert_int_equal(inject(s, T0 + 10, "n1", 1, &m, 1), 0);
	drop_outputs(s);
	/* n2 missed the refutation of incarnation 2 and still suspects n6 at 2 */
	m = suspect_msg("n6", 2, "n2");
	assert_int_equal(inject(s, T0 + 20, "n2", 2, &m, 1), 0);
	assert_true(answered_with(s, 2, SWIM_MSG_SUSPECT, "n6", 3));
	swim_free(s);
}

static struct swim_pushpull decode_pp(const uint8_t *data, size_t len)
{
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	struct swim_pushpull pp;
	char err[SWIM_PROTO_ERR_MAX] = "";
	assert_int_equal(swim_proto_decode_pushpull(data, len, &lim, &pp, err), 0);
	return pp;
}

static void digest_pushpull_gets_only_what_it_lacks(void **state)
{
	(void)state;
	struct swim *s = solo_with_six(NULL);
	/* n1 knows n0..n5 as we do, n6 not at all, and n9, which we do not know */
	struct swim_ppw w;
	assert_int_equal(swim_ppw_init(&w, "n1", SWIM_PP_DIGEST, 1 << 16), 0);
	for (int i = 0; i <= 6; i++) {
		struct swim_pp_member m = {.incarnation = i ? 1 : swim_self_incarnation(s)};
		snprintf(m.id, sizeof(m.id), "n%d", i == 6 ? 9 : i);
		assert_int_equal(swim_ppw_add(&w, &m), 0);
	}
	uint8_t *req, *reply;
	size_t req_len, reply_len;
	assert_int_equal(swim_ppw_finish(&w, &req, &req_len), 0);
	struct swim_addr from = addr_of(1);
	assert_int_equal(swim_pushpull_serve(s, T0 + 10, &from, req, req_len, &reply, &reply_len), 0);
	struct swim_pushpull pp = decode_pp(reply, reply_len);
	assert_int_equal(pp.flags, SWIM_PP_RESPONSE);
	assert_int_equal(pp.n_members, 1);
	assert_string_equal(pp.members[0].id, "n6");
	assert_int_equal(pp.members[0].addr.family, SWIM_AF_INET4);
	swim_proto_pushpull_free(&pp);
	/* n9 is news only a full record can tell: we ask n1 back by digest */
	struct swim_out_stream st;
	assert_true(swim_pop_stream(s, &st));
	assert_int_equal(index_of(&st.to), 1);
	pp = decode_pp(st.data, st.len);
	assert_int_equal(pp.flags, SWIM_PP_DIGEST);
	assert_int_equal(pp.n_members, 7);
	swim_proto_pushpull_free(&pp);
	free(st.data);
	free(req);
	free(reply);
	swim_free(s);
}

static void remote_dead_record_is_passed_to_the_member(void **state)
{
	(void)state;
	struct swim *s = solo_with_six(NULL);
	/* n1 holds n6 dead at the incarnation we hold it alive at, n5 dead at
	 * a newer one: n6 is told (only it can refute), n5 is suspected */
	struct swim_ppw w;
	assert_int_equal(swim_ppw_init(&w, "n1", SWIM_PP_DIGEST, 1 << 16), 0);
	struct swim_pp_member d6 = {.id = "n6", .incarnation = 1, .state = SWIM_DEAD};
	struct swim_pp_member d5 = {.id = "n5", .incarnation = 2, .state = SWIM_DEAD};
	assert_int_equal(swim_ppw_add(&w, &d6), 0);
	assert_int_equal(swim_ppw_add(&w, &d5), 0);
	uint8_t *req, *reply;
	size_t req_len, reply_len;
	assert_int_equal(swim_ppw_finish(&w, &req, &req_len), 0);
	struct swim_addr from = addr_of(1);
	assert_int_equal(swim_pushpull_serve(s, T0 + 10, &from, req, req_len, &reply, &reply_len), 0);
	struct swim_member_info mi;
	assert_int_equal(swim_member_find(s, "n6", &mi), 0);
	assert_int_equal(mi.state, SWIM_ALIVE);
	assert_int_equal(swim_member_find(s, "n5", &mi), 0);
	assert_int_equal(mi.state, SWIM_SUSPECT);
	assert_true(answered_with(s, 6, SWIM_MSG_SUSPECT, "n6", 1));
	free(req);
	free(reply);
	swim_free(s);
}

static void new_suspect_is_probed_early(void **state)
{
	(void)state;
	struct swim_config c;
	swim_config_default(&c);
	c.gossip_interval_ms = 0;
	struct swim *s = solo(&c, "n0", 0);
	for (int i = 1; i <= 12; i++) {
		char id[8];
		snprintf(id, sizeof(id), "n%d", i);
		struct swim_msg a = alive_msg(id, 1, i % 9);
		assert_int_equal(inject(s, T0, id, i % 9, &a, 1), 0);
	}
	drop_outputs(s);
	char (*targets)[16] = calloc(64, 16);
	/* The member probed last would wait most of a round for its next
	 * probe; once suspected it is probed within two. */
	size_t before = run_acking(s, T0, 5500, targets, 64, NULL, NULL);
	assert_true(before >= 4);
	char victim[16];
	snprintf(victim, sizeof(victim), "%s", targets[before - 1]);
	struct swim_msg m = suspect_msg(victim, 1, "n1");
	assert_int_equal(inject(s, T0 + 5500, "n1", 1, &m, 1), 0);
	drop_outputs(s);
	size_t after = run_acking(s, T0 + 5500, 2100, targets + before, 64 - before, NULL, NULL);
	assert_true(after >= 2);
	if (strcmp(targets[before], victim) != 0 && strcmp(targets[before + 1], victim) != 0)
		fail_msg("suspect %s; probes after it: %s, %s", victim, targets[before], targets[before + 1]);
	free(targets);
	swim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_is_checked),
		cmocka_unit_test(starts_alone_and_alive),
		cmocka_unit_test(ping_is_acked_with_same_seq),
		cmocka_unit_test(join_converges),
		cmocka_unit_test(silent_node_becomes_suspect_then_dead),
		cmocka_unit_test(indirect_probe_saves_node_behind_cut_link),
		cmocka_unit_test(relay_forwards_ack),
		cmocka_unit_test(relay_sends_nack_when_target_silent),
		cmocka_unit_test(suspected_node_refutes),
		cmocka_unit_test(suspected_node_refutes_in_cluster),
		cmocka_unit_test(suspicion_timeout_shrinks_with_confirmations),
		cmocka_unit_test(periodic_sync_is_a_summary),
		cmocka_unit_test(syncs_back_off_after_a_join),
		cmocka_unit_test(small_cluster_suspicion_uses_min),
		cmocka_unit_test(awareness_rises_on_missed_acks_and_falls),
		cmocka_unit_test(leave_is_seen_as_left),
		cmocka_unit_test(dead_and_left_are_reaped),
		cmocka_unit_test(restart_with_higher_incarnation_rejoins),
		cmocka_unit_test(restart_with_stale_incarnation_refutes),
		cmocka_unit_test(metadata_update_propagates),
		cmocka_unit_test(piggyback_budget_honoured),
		cmocka_unit_test(retransmit_limit_honoured),
		cmocka_unit_test(broadcast_order_least_sent_newest_first),
		cmocka_unit_test(newer_update_replaces_older),
		cmocka_unit_test(bad_packets_counted_not_crashing),
		cmocka_unit_test(pushpull_heals_partition),
		cmocka_unit_test(late_joiner_catches_up),
		cmocka_unit_test(deterministic_given_seed),
		cmocka_unit_test(probing_is_randomized_round_robin),
		cmocka_unit_test(probe_carries_suspicion_to_the_suspect),
		cmocka_unit_test(dead_sender_is_told),
		cmocka_unit_test(address_change_needs_newer_incarnation),
		cmocka_unit_test(suspicion_at_newer_incarnation_starts_over),
		cmocka_unit_test(claim_about_left_member_is_answered_with_the_leave),
		cmocka_unit_test(older_suspicion_is_answered_with_the_newer),
		cmocka_unit_test(digest_pushpull_gets_only_what_it_lacks),
		cmocka_unit_test(remote_dead_record_is_passed_to_the_member),
		cmocka_unit_test(stale_suspicion_sender_is_corrected),
		cmocka_unit_test(new_suspect_is_probed_early),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
