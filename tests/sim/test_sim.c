/* Tests of the simulator itself: clock, network faults, streams, crashes, checks, trace, runner, scale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "toy.h"

/* ---- A recording node ---------------------------------------------------------------- */

/* One thing a recorder saw. */
struct rec_msg {
	uint64_t t;          /* when */
	int from;            /* sender (or peer of a failure) */
	enum sim_channel ch; /* channel */
	uint32_t seq;        /* first four payload bytes, little endian */
	size_t len;          /* payload length */
};

/* A node that records what reaches it, ticks every `period` ms if set, and can
 * echo every stream message back to its sender. */
struct recorder {
	int self;
	struct rec_msg *msgs;  /* deliveries */
	size_t n, cap;
	struct rec_msg *fails; /* stream_failed calls */
	size_t nfails, capf;
	int resets;            /* stream_reset calls */
	int reset_peer;        /* peer of the last one */
	uint64_t reset_at;     /* time of the last one */
	uint64_t period;       /* tick period, 0 for none */
	uint64_t next;         /* next deadline when ticking */
	uint64_t ticks;        /* tick calls */
	bool echo;             /* reply to stream messages with the same bytes */
};

static void rec_push(struct rec_msg **arr, size_t *n, size_t *cap, struct rec_msg m)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*arr = realloc(*arr, *cap * sizeof(**arr));
		assert_non_null(*arr);
	}
	(*arr)[(*n)++] = m;
}

static uint32_t get_seq(const void *buf, size_t len)
{
	uint32_t v = 0;
	const uint8_t *p = buf;
	for (size_t i = 0; i < 4 && i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_seq(uint8_t *buf, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		buf[i] = (uint8_t)(v >> (8 * i));
}

static void rec_deliver(void *node, struct sim *sim, uint64_t now, int from, const void *buf,
			size_t len, enum sim_channel ch)
{
	struct recorder *r = node;
	rec_push(&r->msgs, &r->n, &r->cap,
		 (struct rec_msg){ .t = now, .from = from, .ch = ch, .seq = get_seq(buf, len), .len = len });
	if (r->echo && ch == SIM_STREAM)
		sim_send(sim, r->self, from, SIM_STREAM, buf, len);
}

static void rec_tick(void *node, struct sim *sim, uint64_t now)
{
	struct recorder *r = node;
	r->ticks++;
	r->next = now + r->period;
}

static uint64_t rec_deadline(void *node)
{
	struct recorder *r = node;
	return r->period ? r->next : SIM_NEVER;
}

static void rec_failed(void *node, struct sim *sim, uint64_t now, int to, const void *buf, size_t len)
{
	struct recorder *r = node;
	rec_push(&r->fails, &r->nfails, &r->capf,
		 (struct rec_msg){ .t = now, .from = to, .ch = SIM_STREAM, .seq = get_seq(buf, len), .len = len });
}

static void rec_reset(void *node, struct sim *sim, uint64_t now, int peer)
{
	struct recorder *r = node;
	r->resets++;
	r->reset_peer = peer;
	r->reset_at = now;
}

static const struct sim_node_ops rec_ops = {
	.deliver = rec_deliver,
	.tick = rec_tick,
	.next_deadline = rec_deadline,
	.stream_failed = rec_failed,
	.stream_reset = rec_reset,
};

static void rec_free(struct recorder *r)
{
	free(r->msgs);
	free(r->fails);
	memset(r, 0, sizeof(*r));
}

/* Adds n recorders to sim. */
static void add_recorders(struct sim *sim, struct recorder *r, int n)
{
	for (int i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].self = i;
		assert_int_equal(sim_add_node(sim, &r[i], &rec_ops), i);
	}
}

static void send_seq(struct sim *sim, int from, int to, enum sim_channel ch, uint32_t seq)
{
	uint8_t buf[16] = { 0 };
	put_seq(buf, seq);
	sim_send(sim, from, to, ch, buf, sizeof(buf));
}

/* Fails the test, with the run's report, if the run has failed. */
static void assert_sim_ok(const struct sim *sim)
{
	if (sim_failed(sim)) {
		sim_report(sim, stderr, true);
		fail_msg("the run failed: %s", sim_failure(sim));
	}
}

static double wall_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- Addresses and randomness ------------------------------------------------------------ */

static void addresses_round_trip(void **state)
{
	(void)state;
	char addr[SIM_ADDR_LEN];
	sim_node_addr(0, addr);
	assert_string_equal(addr, "10.0.0.1:7946");
	sim_node_addr(999, addr);
	assert_string_equal(addr, "10.0.3.232:7946");
	assert_int_equal(sim_node_ip(0), 0x0a000001u);
	for (int i = 0; i < 70000; i += 7) {
		sim_node_addr(i, addr);
		assert_int_equal(sim_addr_node(addr), i);
		assert_int_equal(sim_ip_node(sim_node_ip(i)), i);
	}
	assert_int_equal(sim_addr_node("10.0.0.1"), 0);
	assert_int_equal(sim_addr_node("10.0.1.0"), 255);
	assert_int_equal(sim_addr_node("10.0.0.0"), -1);
	assert_int_equal(sim_addr_node("11.0.0.1:7946"), -1);
	assert_int_equal(sim_addr_node("10.0.0.1:80"), -1);
	assert_int_equal(sim_addr_node("10.0.0.256"), -1);
	assert_int_equal(sim_addr_node("10.0.0"), -1);
	assert_int_equal(sim_addr_node("10.0.0.1:"), -1);
	assert_int_equal(sim_addr_node("10.0.0.1:7946x"), -1);
	assert_int_equal(sim_addr_node(""), -1);
	assert_int_equal(sim_ip_node(0x0b000001u), -1);
}

static void rng_is_seeded_and_uniform(void **state)
{
	(void)state;
	struct sim_rng a, b, c;
	sim_rng_seed(&a, 42);
	sim_rng_seed(&b, 42);
	sim_rng_seed(&c, 43);
	int same_c = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = sim_rng_next(&a);
		assert_int_equal(x, sim_rng_next(&b));
		same_c += x == sim_rng_next(&c);
	}
	assert_int_equal(same_c, 0);

	/* Ten buckets, 100,000 draws: each within 5 % of 10,000. */
	int bucket[10] = { 0 };
	for (int i = 0; i < 100000; i++) {
		uint64_t v = sim_rng_below(&a, 10);
		assert_true(v < 10);
		bucket[v]++;
	}
	for (int i = 0; i < 10; i++)
		assert_in_range(bucket[i], 9500, 10500);
	for (int i = 0; i < 1000; i++) {
		double d = sim_rng_double(&a);
		assert_true(d >= 0.0 && d < 1.0);
	}
	assert_int_equal(sim_rng_below(&a, 1), 0);
}

/* ---- Clock and timers ------------------------------------------------------------------ */

/* A node that wants ticks at a scripted list of deadlines. */
struct scripted {
	const uint64_t *deadlines; /* wanted, in order */
	size_t n;
	size_t next;               /* index of the next wanted one */
	uint64_t seen[16];         /* times tick was called */
	size_t nseen;
};

static void scripted_tick(void *node, struct sim *sim, uint64_t now)
{
	struct scripted *s = node;
	assert_true(s->nseen < 16);
	s->seen[s->nseen++] = now;
	s->next++;
}

static uint64_t scripted_deadline(void *node)
{
	struct scripted *s = node;
	return s->next < s->n ? s->deadlines[s->next] : SIM_NEVER;
}

static void scripted_deliver(void *node, struct sim *sim, uint64_t now, int from, const void *buf,
			     size_t len, enum sim_channel ch)
{
}

static const struct sim_node_ops scripted_ops = {
	.deliver = scripted_deliver,
	.tick = scripted_tick,
	.next_deadline = scripted_deadline,
};

static void timers_fire_at_deadlines(void **state)
{
	(void)state;
	struct sim *sim = sim_new(1);
	const uint64_t want[] = { 5, 17, 17, 3, 40, 1000 };
	struct scripted s = { .deadlines = want, .n = 6 };
	sim_add_node(sim, &s, &scripted_ops);
	assert_true(sim_run_until(sim, 500));
	assert_int_equal(sim_now(sim), 500);
	/* 17 twice: a deadline equal to now ticks again at once; 3 is in the past
	 * when asked (now is 17), so it means "now". */
	assert_int_equal(s.nseen, 5);
	assert_int_equal(s.seen[0], 5);
	assert_int_equal(s.seen[1], 17);
	assert_int_equal(s.seen[2], 17);
	assert_int_equal(s.seen[3], 17);
	assert_int_equal(s.seen[4], 40);
	assert_int_equal(sim_events(sim), 5);
	/* The clock jumps: one event to get from 500 to 1000. */
	assert_true(sim_step(sim));
	assert_int_equal(sim_now(sim), 1000);
	assert_int_equal(s.nseen, 6);
	assert_false(sim_step(sim)); /* nothing left */
	assert_false(sim_failed(sim));

	/* The harness changes the node's wishes from outside: sim_wake re-asks. */
	const uint64_t later[] = { 1200 };
	s.deadlines = later;
	s.n = 1;
	s.next = 0;
	assert_int_equal(sim_pending(sim), 0);
	sim_wake(sim, 0);
	assert_int_equal(sim_pending(sim), 1);
	assert_true(sim_run_until(sim, 2000));
	assert_int_equal(s.nseen, 7);
	assert_int_equal(s.seen[6], 1200);
	sim_free(sim);
}

/* sim_at callbacks record their order here. */
static char call_order[16];

static void call_a(struct sim *sim, void *data) { strcat(call_order, "a"); }
static void call_b(struct sim *sim, void *data) { strcat(call_order, "b"); }
static void call_c(struct sim *sim, void *data)
{
	strcat(call_order, "c");
	*(uint64_t *)data = sim_now(sim);
}

static void scheduled_calls_run_in_order(void **state)
{
	(void)state;
	struct sim *sim = sim_new(1);
	uint64_t c_time = 0;
	call_order[0] = '\0';
	sim_at(sim, 10, call_c, &c_time);
	sim_at(sim, 10, call_a, NULL);
	sim_at(sim, 5, call_b, NULL);
	sim_at(sim, 10, call_b, NULL);
	assert_true(sim_run_until(sim, 9));
	assert_string_equal(call_order, "b");
	assert_true(sim_run_until(sim, 10));
	/* Same time: in the order they were scheduled. */
	assert_string_equal(call_order, "bcab");
	assert_int_equal(c_time, 10);
	/* A time in the past means now. */
	sim_at(sim, 3, call_a, NULL);
	assert_true(sim_step(sim));
	assert_int_equal(sim_now(sim), 10);
	assert_string_equal(call_order, "bcaba");
	sim_free(sim);
}

/* A node whose deadline never moves. */
static uint64_t stuck_deadline(void *node) { return 0; }
static void stuck_tick(void *node, struct sim *sim, uint64_t now) { }
static const struct sim_node_ops stuck_ops = {
	.deliver = scripted_deliver,
	.tick = stuck_tick,
	.next_deadline = stuck_deadline,
};

static void stalled_time_fails_the_run(void **state)
{
	(void)state;
	struct sim *sim = sim_new(5);
	sim_set_trace_capacity(sim, 16);
	sim_set_stall_limit(sim, 1000);
	sim_add_node(sim, NULL, &stuck_ops);
	assert_false(sim_run_until(sim, 10));
	assert_true(sim_failed(sim));
	assert_non_null(strstr(sim_failure(sim), "time stalled"));
	assert_non_null(strstr(sim_failure(sim), "node=0"));
	assert_int_equal(sim_events(sim), 1001);
	assert_int_equal(sim_now(sim), 0);
	sim_free(sim);
}

/* ---- Determinism ------------------------------------------------------------------------- */

struct flood_result {
	uint64_t hash;
	uint64_t events;
	uint64_t done_at;
	uint64_t informed_at_sum;
	bool complete;
};

static struct flood_result run_flood(uint64_t seed, int n, double loss, double dup, uint64_t jitter,
				     uint64_t deadline)
{
	struct sim *sim = sim_new(seed);
	struct toy_cluster cl = { .n = n, .fanout = 3, .period_ms = 200 };
	struct toy_node *nodes = calloc((size_t)n, sizeof(*nodes));
	assert_non_null(nodes);
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 2, .jitter_ms = jitter,
						      .loss = loss, .dup = dup });
	for (int i = 0; i < n; i++) {
		toy_init(&nodes[i], &cl, i, sim_node_seed(sim, i));
		sim_add_node(sim, &nodes[i], &toy_ops);
	}
	toy_start_rumor(&nodes[0], sim, 77);
	sim_wake(sim, 0);
	struct flood_result r = { 0 };
	r.complete = sim_run_until_pred(sim, toy_all_informed, &cl, deadline);
	assert_sim_ok(sim);
	r.hash = sim_trace_hash(sim);
	r.events = sim_events(sim);
	r.done_at = sim_now(sim);
	for (int i = 0; i < n; i++)
		r.informed_at_sum = r.informed_at_sum * 31 + nodes[i].informed_at;
	assert_int_equal(cl.bad, 0);
	free(nodes);
	sim_free(sim);
	return r;
}

static void same_seed_same_run(void **state)
{
	(void)state;
	struct flood_result a = run_flood(1234, 200, 0.1, 0.05, 10, 60000);
	struct flood_result b = run_flood(1234, 200, 0.1, 0.05, 10, 60000);
	struct flood_result c = run_flood(1235, 200, 0.1, 0.05, 10, 60000);
	assert_true(a.complete && b.complete && c.complete);
	assert_int_equal(a.hash, b.hash);
	assert_int_equal(a.events, b.events);
	assert_int_equal(a.done_at, b.done_at);
	assert_int_equal(a.informed_at_sum, b.informed_at_sum);
	assert_int_not_equal(a.hash, c.hash);
	assert_int_not_equal(a.informed_at_sum, c.informed_at_sum);
}

/* The hash of a run in which node 0 sends text to node 1 once. */
static uint64_t one_message_hash(const char *text)
{
	struct sim *sim = sim_new(5);
	struct recorder r[2];
	add_recorders(sim, r, 2);
	sim_send(sim, 0, 1, SIM_DATAGRAM, text, strlen(text));
	assert_true(sim_run_for(sim, 10));
	assert_int_equal(r[1].n, 1);
	uint64_t h = sim_trace_hash(sim);
	rec_free(&r[0]);
	rec_free(&r[1]);
	sim_free(sim);
	return h;
}

static void trace_hash_covers_the_bytes(void **state)
{
	(void)state;
	assert_int_equal(one_message_hash("abcdefgh-ijk"), one_message_hash("abcdefgh-ijk"));
	/* A change in a whole word, in the tail, or in the length shows. */
	assert_int_not_equal(one_message_hash("abcdefgh-ijk"), one_message_hash("abcdefgX-ijk"));
	assert_int_not_equal(one_message_hash("abcdefgh-ijk"), one_message_hash("abcdefgh-ijX"));
	assert_int_not_equal(one_message_hash("abcdefgh-ijk"), one_message_hash("abcdefgh-ij"));
}

/* ---- Datagram faults ------------------------------------------------------------------------- */

static void loss_matches_configuration(void **state)
{
	(void)state;
	struct sim *sim = sim_new(99);
	struct recorder r[3];
	add_recorders(sim, r, 3);
	sim_set_loss(sim, 0.25);
	/* 0 -> 2 loses another 50 % on top: 1 - 0.75 * 0.5 = 0.625 in all. */
	sim_set_link(sim, 0, 2, &(struct sim_link){ .latency_ms = 3, .loss = 0.5 });
	assert_true(sim_link_of(sim, 0, 2).loss > 0.6249 && sim_link_of(sim, 0, 2).loss < 0.6251);
	assert_int_equal(sim_link_of(sim, 0, 2).latency_ms, 3);
	assert_int_equal(sim_link_of(sim, 2, 0).latency_ms, 1);
	const uint32_t n = 100000;
	for (uint32_t i = 0; i < n; i++) {
		send_seq(sim, 0, 1, SIM_DATAGRAM, i);
		send_seq(sim, 0, 2, SIM_DATAGRAM, i);
	}
	assert_true(sim_run_until(sim, 100));
	double lost1 = 1.0 - (double)r[1].n / n;
	double lost2 = 1.0 - (double)r[2].n / n;
	/* The standard deviation is about 0.0015: a 0.01 tolerance is over 6 of them. */
	assert_true(lost1 > 0.24 && lost1 < 0.26);
	assert_true(lost2 > 0.615 && lost2 < 0.635);
	for (size_t i = 0; i < r[2].n; i++)
		assert_int_equal(r[2].msgs[i].t, 3);

	struct sim_counters c = sim_counters(sim, 0, SIM_DATAGRAM);
	assert_int_equal(c.sent, 2 * n);
	assert_int_equal(c.bytes_sent, 2 * n * 16);
	assert_int_equal(c.dropped_loss + r[1].n + r[2].n, 2 * n);
	assert_int_equal(sim_counters(sim, 1, -1).delivered, r[1].n);
	assert_int_equal(sim_counters(sim, 2, SIM_DATAGRAM).bytes_delivered, r[2].n * 16);
	assert_int_equal(sim_counters(sim, -1, -1).delivered, r[1].n + r[2].n);

	/* No loss delivers everything; certain loss delivers nothing. */
	sim_clear_link(sim, 0, 2);
	sim_set_loss(sim, 0.0);
	size_t before = r[1].n;
	for (uint32_t i = 0; i < 1000; i++)
		send_seq(sim, 0, 1, SIM_DATAGRAM, i);
	sim_set_loss(sim, 1.0);
	for (uint32_t i = 0; i < 1000; i++)
		send_seq(sim, 0, 1, SIM_DATAGRAM, i);
	assert_true(sim_run_for(sim, 100));
	assert_int_equal(r[1].n - before, 1000);
	assert_false(sim_failed(sim));
	for (int i = 0; i < 3; i++)
		rec_free(&r[i]);
	sim_free(sim);
}

static void duplication_matches_configuration(void **state)
{
	(void)state;
	struct sim *sim = sim_new(7);
	struct recorder r[2];
	add_recorders(sim, r, 2);
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 5, .jitter_ms = 5, .dup = 0.1 });
	const uint32_t n = 100000;
	for (uint32_t i = 0; i < n; i++)
		send_seq(sim, 0, 1, SIM_DATAGRAM, i);
	assert_true(sim_run_until(sim, 100));
	uint8_t *seen = calloc(n, 1);
	assert_non_null(seen);
	for (size_t i = 0; i < r[1].n; i++) {
		uint32_t s = r[1].msgs[i].seq;
		assert_true(s < n);
		seen[s]++;
		assert_true(seen[s] <= 2);
	}
	size_t twice = 0;
	for (uint32_t i = 0; i < n; i++) {
		assert_true(seen[i] >= 1); /* no loss configured */
		twice += seen[i] == 2;
	}
	free(seen);
	double rate = (double)twice / n;
	assert_true(rate > 0.09 && rate < 0.11);
	assert_int_equal(r[1].n, n + twice);
	assert_int_equal(sim_counters(sim, -1, SIM_DATAGRAM).duplicated, twice);
	rec_free(&r[0]);
	rec_free(&r[1]);
	sim_free(sim);
}

/* Counts pairs of deliveries in the wrong order. */
static size_t inversions(const struct recorder *r)
{
	size_t inv = 0;
	for (size_t i = 1; i < r->n; i++)
		inv += r->msgs[i].seq < r->msgs[i - 1].seq;
	return inv;
}

static void jitter_reorders_datagrams(void **state)
{
	(void)state;
	for (int jittered = 0; jittered < 2; jittered++) {
		struct sim *sim = sim_new(3);
		struct recorder r[2];
		add_recorders(sim, r, 2);
		sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 10, .jitter_ms = jittered ? 50 : 0 });
		/* One packet a millisecond, sequence number = send time. */
		for (uint32_t i = 0; i < 1000; i++) {
			assert_int_equal(sim_now(sim), i);
			send_seq(sim, 0, 1, SIM_DATAGRAM, i);
			assert_true(sim_run_for(sim, 1));
		}
		assert_true(sim_run_for(sim, 100));
		assert_int_equal(r[1].n, 1000);
		uint64_t lo = UINT64_MAX, hi = 0;
		for (size_t i = 0; i < r[1].n; i++) {
			uint64_t d = r[1].msgs[i].t - r[1].msgs[i].seq;
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		if (jittered) {
			assert_int_equal(lo, 10);
			assert_int_equal(hi, 60);
			assert_true(inversions(&r[1]) > 100);
		} else {
			assert_int_equal(lo, 10);
			assert_int_equal(hi, 10);
			assert_int_equal(inversions(&r[1]), 0);
		}
		rec_free(&r[0]);
		rec_free(&r[1]);
		sim_free(sim);
	}
}

/* Sends one datagram between every ordered pair of n nodes; returns a bitmap
 * (bit from * n + to) of those delivered after running 50 ms. */
static uint64_t all_to_all(struct sim *sim, struct recorder *r, int n)
{
	size_t before[8];
	for (int i = 0; i < n; i++)
		before[i] = r[i].n;
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++)
			if (a != b)
				send_seq(sim, a, b, SIM_DATAGRAM, (uint32_t)a);
	assert_true(sim_run_for(sim, 50));
	uint64_t got = 0;
	for (int b = 0; b < n; b++)
		for (size_t k = before[b]; k < r[b].n; k++)
			got |= 1ull << (r[b].msgs[k].from * n + b);
	return got;
}

static void partitions_block_and_heal(void **state)
{
	(void)state;
	struct sim *sim = sim_new(11);
	struct recorder r[4];
	add_recorders(sim, r, 4);
	uint64_t everyone = 0;
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			if (a != b)
				everyone |= 1ull << (a * 4 + b);
	assert_int_equal(all_to_all(sim, r, 4), everyone);

	const int groups[] = { 0, 0, 1, 1 };
	sim_partition(sim, groups, 4);
	assert_int_equal(sim_group(sim, 2), 1);
	uint64_t inside = (1ull << (0 * 4 + 1)) | (1ull << (1 * 4 + 0)) | (1ull << (2 * 4 + 3)) |
			  (1ull << (3 * 4 + 2));
	assert_int_equal(all_to_all(sim, r, 4), inside);
	assert_int_equal(sim_counters(sim, -1, -1).dropped_partition, 8);

	/* Moving one node: 3 joins 0 and 1. */
	sim_set_group(sim, 3, 0);
	uint64_t moved = 0;
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			if (a != b && (a == 2) == (b == 2))
				moved |= 1ull << (a * 4 + b);
	assert_int_equal(all_to_all(sim, r, 4), moved);

	sim_heal(sim);
	assert_int_equal(all_to_all(sim, r, 4), everyone);

	/* A packet in flight when the partition starts is lost. */
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 10 });
	size_t before = r[2].n;
	uint64_t dropped = sim_counters(sim, 0, SIM_DATAGRAM).dropped_partition;
	send_seq(sim, 0, 2, SIM_DATAGRAM, 5);
	assert_true(sim_run_for(sim, 5));
	sim_partition(sim, groups, 4);
	assert_true(sim_run_for(sim, 20));
	assert_int_equal(r[2].n, before);
	assert_int_equal(sim_counters(sim, 0, SIM_DATAGRAM).dropped_partition, dropped + 1);

	/* A cut is one way only. */
	sim_heal(sim);
	sim_cut(sim, 0, 1);
	assert_true(sim_is_cut(sim, 0, 1));
	assert_false(sim_is_cut(sim, 1, 0));
	uint64_t got = all_to_all(sim, r, 4);
	assert_int_equal(got, everyone & ~(1ull << (0 * 4 + 1)));
	assert_int_equal(sim_counters(sim, 0, -1).dropped_cut, 1);
	sim_uncut(sim, 0, 1);
	assert_int_equal(all_to_all(sim, r, 4), everyone);
	for (int i = 0; i < 4; i++)
		rec_free(&r[i]);
	sim_free(sim);
}

/* ---- Crash and restart ---------------------------------------------------------------------- */

static void crashed_nodes_are_silent_and_restart(void **state)
{
	(void)state;
	struct sim *sim = sim_new(21);
	struct recorder r[3];
	add_recorders(sim, r, 3);
	for (int i = 0; i < 3; i++) {
		r[i].period = 10;
		sim_wake(sim, i);
	}
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 10 });
	assert_true(sim_run_until(sim, 100));
	assert_int_equal(r[1].ticks, 11); /* 0, 10, ..., 100 */

	uint64_t seed_before = sim_node_seed(sim, 1);
	send_seq(sim, 1, 0, SIM_DATAGRAM, 1); /* from the node about to crash */
	send_seq(sim, 0, 1, SIM_DATAGRAM, 2); /* to it */
	assert_true(sim_run_until(sim, 105));
	sim_crash(sim, 1);
	assert_false(sim_node_up(sim, 1));
	assert_int_equal(sim_node_epoch(sim, 1), 1);
	assert_int_not_equal(sim_node_seed(sim, 1), seed_before);
	send_seq(sim, 0, 1, SIM_DATAGRAM, 3); /* to a node that is down */
	size_t got0 = r[0].n, got1 = r[1].n;
	uint64_t ticks1 = r[1].ticks;
	assert_true(sim_run_until(sim, 300));
	assert_int_equal(r[0].n, got0);
	assert_int_equal(r[1].n, got1);
	assert_int_equal(r[1].ticks, ticks1);
	assert_int_equal(r[0].ticks, 31);
	assert_int_equal(sim_counters(sim, 1, SIM_DATAGRAM).dropped_crash, 1);
	assert_int_equal(sim_counters(sim, 0, SIM_DATAGRAM).dropped_crash, 2);
	assert_int_equal(sim_counters(sim, -1, -1).dropped_crash, 3);
	sim_crash(sim, 1); /* crashing a crashed node does nothing */
	assert_int_equal(sim_node_epoch(sim, 1), 1);

	/* The harness rebuilds the node; the old object is not called again. */
	struct recorder fresh = { .self = 1, .period = 25, .next = 310 };
	sim_restart(sim, 1, &fresh);
	assert_true(sim_node_up(sim, 1));
	assert_ptr_equal(sim_node(sim, 1), &fresh);
	send_seq(sim, 0, 1, SIM_DATAGRAM, 4);
	send_seq(sim, 1, 2, SIM_DATAGRAM, 5);
	assert_true(sim_run_until(sim, 400));
	assert_int_equal(fresh.n, 1);
	assert_int_equal(fresh.msgs[0].seq, 4);
	assert_int_equal(fresh.msgs[0].t, 310);
	assert_int_equal(fresh.ticks, 4); /* 310, 335, 360, 385 */
	assert_int_equal(r[1].ticks, ticks1);
	assert_int_equal(r[2].msgs[r[2].n - 1].seq, 5);
	assert_false(sim_failed(sim));

	/* A crashed node that sends is a harness bug: the run fails. */
	sim_crash(sim, 2);
	send_seq(sim, 2, 0, SIM_DATAGRAM, 6);
	assert_true(sim_failed(sim));
	assert_non_null(strstr(sim_failure(sim), "node 2 is down"));
	for (int i = 0; i < 3; i++)
		rec_free(&r[i]);
	rec_free(&fresh);
	sim_free(sim);
}

/* ---- Streams ------------------------------------------------------------------------------- */

static void stream_is_ordered_reliable_and_connects(void **state)
{
	(void)state;
	struct sim *sim = sim_new(31);
	struct recorder r[2];
	add_recorders(sim, r, 2);
	r[1].echo = true;
	/* Loss and duplication are for datagrams: streams ignore them. */
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 5, .jitter_ms = 40, .loss = 0.5, .dup = 0.5 });
	assert_false(sim_stream_open(sim, 0, 1));
	for (uint32_t i = 0; i < 500; i++) {
		send_seq(sim, 0, 1, SIM_STREAM, i);
		if (i == 0)
			assert_true(sim_stream_open(sim, 1, 0));
		assert_true(sim_run_for(sim, 1));
	}
	assert_true(sim_run_for(sim, 1000));
	assert_int_equal(r[1].n, 500);
	assert_int_equal(r[0].n, 500);
	for (uint32_t i = 0; i < 500; i++) {
		assert_int_equal(r[1].msgs[i].seq, i);
		assert_int_equal(r[1].msgs[i].ch, SIM_STREAM);
		assert_int_equal(r[0].msgs[i].seq, i);
		/* A reply leaves when the request arrives and takes at least the latency. */
		assert_true(r[0].msgs[i].t >= r[1].msgs[i].t + 5);
	}
	/* The first message waits for the connect: a round trip of 10 ms. */
	assert_true(r[1].msgs[0].t >= 10 + 5);
	assert_true(r[1].msgs[0].t <= 10 + 45);
	struct sim_counters c = sim_counters(sim, -1, SIM_STREAM);
	assert_int_equal(c.sent, 1000);
	assert_int_equal(c.delivered, 1000);
	assert_int_equal(c.connects, 1); /* the reply rides the same connection */
	assert_int_equal(c.dropped_loss + c.duplicated + c.stream_failed, 0);
	assert_int_equal(r[0].nfails + r[1].nfails, 0);
	assert_int_equal(r[0].resets + r[1].resets, 0);

	/* A graceful close still delivers what was sent; the next send reconnects. */
	r[1].echo = false;
	size_t before = r[1].n;
	send_seq(sim, 0, 1, SIM_STREAM, 1000);
	send_seq(sim, 0, 1, SIM_STREAM, 1001);
	sim_stream_close(sim, 0, 1);
	assert_false(sim_stream_open(sim, 0, 1));
	send_seq(sim, 0, 1, SIM_STREAM, 1002);
	assert_true(sim_run_for(sim, 1000));
	assert_int_equal(r[1].n, before + 3);
	/* 1000 and 1001 keep their order on the closed connection; 1002 rides a new
	 * one and may overtake them. */
	size_t at[3] = { 0 };
	for (size_t k = before; k < r[1].n; k++) {
		assert_true(r[1].msgs[k].seq >= 1000 && r[1].msgs[k].seq <= 1002);
		at[r[1].msgs[k].seq - 1000] = k;
	}
	assert_true(at[0] < at[1]);
	assert_true(at[2] >= before);
	assert_int_equal(sim_counters(sim, 0, SIM_STREAM).connects, 2);
	assert_int_equal(r[0].nfails + r[0].resets + r[1].resets, 0);
	assert_false(sim_failed(sim));
	rec_free(&r[0]);
	rec_free(&r[1]);
	sim_free(sim);
}

static void stream_reports_failure_across_a_cut(void **state)
{
	(void)state;
	struct sim *sim = sim_new(41);
	struct recorder r[2];
	add_recorders(sim, r, 2);
	sim_set_stream_timing(sim, 0, 200);
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 50 });
	for (uint32_t i = 0; i < 10; i++)
		send_seq(sim, 0, 1, SIM_STREAM, 100 + i);
	assert_true(sim_run_until(sim, 20));
	/* Cutting the reverse direction breaks the connection too. */
	sim_cut(sim, 1, 0);
	assert_false(sim_stream_open(sim, 0, 1));
	assert_true(sim_run_until(sim, 1000));
	assert_int_equal(r[1].n, 0);
	assert_int_equal(r[0].nfails, 10);
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(r[0].fails[i].seq, 100 + i);
		assert_int_equal(r[0].fails[i].from, 1);
		assert_int_equal(r[0].fails[i].len, 16);
		assert_int_equal(r[0].fails[i].t, 220);
	}
	assert_int_equal(r[0].resets, 1);
	assert_int_equal(r[0].reset_peer, 1);
	assert_int_equal(r[0].reset_at, 220);
	/* The connect (a 100 ms round trip) had not finished: node 1 never knew. */
	assert_int_equal(r[1].resets, 0);
	assert_int_equal(sim_counters(sim, 0, SIM_STREAM).dropped_cut, 10);
	assert_int_equal(sim_counters(sim, 0, SIM_STREAM).stream_failed, 10);

	/* While cut, a connect fails and the message is reported. */
	send_seq(sim, 0, 1, SIM_STREAM, 200);
	assert_true(sim_run_for(sim, 1000));
	assert_int_equal(r[0].nfails, 11);
	assert_int_equal(r[0].fails[10].seq, 200);
	assert_int_equal(r[0].fails[10].t, 1200);

	/* Healed: messages flow again over a new connection. */
	sim_uncut(sim, 1, 0);
	send_seq(sim, 0, 1, SIM_STREAM, 300);
	assert_true(sim_run_for(sim, 1000));
	assert_int_equal(r[1].n, 1);
	assert_int_equal(r[1].msgs[0].seq, 300);
	assert_int_equal(r[1].msgs[0].t, 2000 + 100 + 50);
	assert_int_equal(sim_counters(sim, 0, SIM_STREAM).connects, 2);

	/* An established connection broken by a partition: both ends hear of it. */
	send_seq(sim, 0, 1, SIM_STREAM, 400);
	send_seq(sim, 1, 0, SIM_STREAM, 401);
	assert_true(sim_run_for(sim, 20));
	const int groups[] = { 0, 1 };
	sim_partition(sim, groups, 2);
	assert_true(sim_run_for(sim, 1000));
	assert_int_equal(r[0].nfails, 12);
	assert_int_equal(r[0].fails[11].seq, 400);
	assert_int_equal(r[1].nfails, 1);
	assert_int_equal(r[1].fails[0].seq, 401);
	assert_int_equal(r[0].resets, 2);
	assert_int_equal(r[1].resets, 1);
	assert_int_equal(r[1].reset_peer, 0);
	assert_int_equal(sim_counters(sim, -1, SIM_STREAM).dropped_partition, 2);
	assert_false(sim_failed(sim));
	rec_free(&r[0]);
	rec_free(&r[1]);
	sim_free(sim);
}

static void stream_reports_failure_when_an_end_crashes(void **state)
{
	(void)state;
	struct sim *sim = sim_new(51);
	struct recorder r[3];
	add_recorders(sim, r, 3);
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 5 });
	sim_set_stream_timing(sim, 2, 100);
	send_seq(sim, 0, 1, SIM_STREAM, 1);
	assert_true(sim_run_until(sim, 100));
	assert_int_equal(r[1].n, 1);
	assert_int_equal(r[1].msgs[0].t, 5 + 5 + 2 + 5); /* round trip + extra + latency */

	/* The receiver crashes with two messages in flight. */
	send_seq(sim, 0, 1, SIM_STREAM, 2);
	send_seq(sim, 0, 1, SIM_STREAM, 3);
	assert_true(sim_run_for(sim, 2));
	sim_crash(sim, 1);
	assert_true(sim_run_for(sim, 500));
	assert_int_equal(r[1].n, 1);
	assert_int_equal(r[0].nfails, 2);
	assert_int_equal(r[0].fails[0].seq, 2);
	assert_int_equal(r[0].fails[1].seq, 3);
	assert_int_equal(r[0].fails[0].t, 102 + 100);
	assert_int_equal(r[0].resets, 1);
	assert_int_equal(r[1].resets, 0); /* it is down */
	assert_int_equal(sim_counters(sim, 0, SIM_STREAM).dropped_crash, 2);

	/* Connecting to a node that is down fails after the timeout. */
	send_seq(sim, 0, 1, SIM_STREAM, 4);
	uint64_t sent_at = sim_now(sim);
	assert_true(sim_run_for(sim, 500));
	assert_int_equal(r[0].nfails, 3);
	assert_int_equal(r[0].fails[2].seq, 4);
	assert_int_equal(r[0].fails[2].t, sent_at + 100);

	/* Back up: a new connection works. */
	struct recorder fresh = { .self = 1 };
	sim_restart(sim, 1, &fresh);
	send_seq(sim, 0, 1, SIM_STREAM, 5);
	assert_true(sim_run_for(sim, 100));
	assert_int_equal(fresh.n, 1);
	assert_int_equal(fresh.msgs[0].seq, 5);

	/* The sender crashes: its messages vanish, the live end is told the
	 * connection broke, nobody tells the crashed one anything. */
	send_seq(sim, 2, 1, SIM_STREAM, 6);
	assert_true(sim_run_for(sim, 100)); /* established and delivered */
	send_seq(sim, 2, 1, SIM_STREAM, 7);
	sim_crash(sim, 2);
	assert_true(sim_run_for(sim, 500));
	assert_int_equal(fresh.n, 2);
	assert_int_equal(fresh.msgs[1].seq, 6);
	assert_int_equal(fresh.resets, 1);
	assert_int_equal(fresh.reset_peer, 2);
	assert_int_equal(r[2].nfails + r[2].resets, 0);
	assert_int_equal(sim_counters(sim, 2, SIM_STREAM).dropped_crash, 1);
	assert_false(sim_failed(sim));
	for (int i = 0; i < 3; i++)
		rec_free(&r[i]);
	rec_free(&fresh);
	sim_free(sim);
}

static void counters_measure_bytes_per_node(void **state)
{
	(void)state;
	struct sim *sim = sim_new(61);
	struct recorder r[2];
	add_recorders(sim, r, 2);
	uint8_t buf[1000] = { 0 };
	for (int i = 0; i < 10; i++)
		sim_send(sim, 0, 1, SIM_DATAGRAM, buf, 100);
	for (int i = 0; i < 5; i++)
		sim_send(sim, 1, 0, SIM_STREAM, buf, 1000);
	assert_true(sim_run_for(sim, 100));
	assert_int_equal(sim_counters(sim, 0, SIM_DATAGRAM).bytes_sent, 1000);
	assert_int_equal(sim_counters(sim, 0, SIM_STREAM).bytes_sent, 0);
	assert_int_equal(sim_counters(sim, 0, SIM_STREAM).bytes_delivered, 5000);
	assert_int_equal(sim_counters(sim, 1, -1).bytes_sent, 5000);
	assert_int_equal(sim_counters(sim, 1, -1).bytes_delivered, 1000);
	assert_int_equal(sim_counters(sim, -1, -1).bytes_delivered, 6000);
	assert_int_equal(sim_counters(sim, -1, -1).sent, 15);

	/* An oversized datagram is a bug in the core: the run fails. */
	sim_set_max_datagram(sim, 100);
	sim_send(sim, 0, 1, SIM_DATAGRAM, buf, 101);
	assert_true(sim_failed(sim));
	assert_non_null(strstr(sim_failure(sim), "101 bytes"));
	rec_free(&r[0]);
	rec_free(&r[1]);
	sim_free(sim);
}

/* ---- Invariant hook, trace, report ------------------------------------------------------------ */

struct check_ctx {
	struct toy_node *nodes;
	uint64_t calls;   /* check calls */
	bool quiet_fail;  /* fail without calling sim_fail */
};

/* At most three rumor packets per node: fails quickly in a flood. Looks only at
 * the node the last event touched. */
static bool check_few_packets(struct sim *sim, void *data)
{
	struct check_ctx *ctx = data;
	ctx->calls++;
	int i = sim_current_node(sim);
	if (i < 0 || ctx->nodes[i].received <= 3)
		return true;
	if (!ctx->quiet_fail)
		sim_fail(sim, i, "node received %" PRIu64 " packets, more than 3", ctx->nodes[i].received);
	return false;
}

static void check_hook_stops_the_run(void **state)
{
	(void)state;
	for (int quiet = 0; quiet < 2; quiet++) {
		struct sim *sim = sim_new(1234);
		struct toy_cluster cl = { .n = 50, .fanout = 3, .period_ms = 100 };
		struct toy_node nodes[50];
		struct check_ctx ctx = { .nodes = nodes, .quiet_fail = quiet };
		sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 1, .jitter_ms = 5 });
		for (int i = 0; i < 50; i++) {
			toy_init(&nodes[i], &cl, i, sim_node_seed(sim, i));
			sim_add_node(sim, &nodes[i], &toy_ops);
		}
		sim_set_check(sim, check_few_packets, &ctx);
		toy_start_rumor(&nodes[0], sim, 1);
		sim_wake(sim, 0);
		assert_false(sim_run_until(sim, 60000));
		assert_true(sim_failed(sim));
		assert_int_equal(ctx.calls, sim_events(sim));
		assert_true(sim_now(sim) < 60000);
		int culprit = sim_current_node(sim);
		assert_true(culprit >= 0 && nodes[culprit].received == 4);

		char want[64];
		snprintf(want, sizeof(want), "seed 1234 t=%" PRIu64 " node=%d: ", sim_now(sim), culprit);
		const char *msg = sim_failure(sim);
		assert_non_null(strstr(msg, want));
		assert_non_null(strstr(msg, quiet ? "invariant check failed" : "more than 3"));

		/* The run stays stopped. */
		uint64_t events = sim_events(sim);
		assert_false(sim_step(sim));
		assert_false(sim_run_for(sim, 1000));
		assert_int_equal(sim_events(sim), events);

		/* The report names the seed and carries the trace. */
		char *out = NULL;
		size_t outlen = 0;
		FILE *f = open_memstream(&out, &outlen);
		assert_non_null(f);
		sim_report(sim, f, true);
		fclose(f);
		assert_non_null(strstr(out, "seed 1234: FAIL t="));
		assert_non_null(strstr(out, "starts rumor 1"));
		assert_non_null(strstr(out, "--- end of trace ---"));
		free(out);
		sim_free(sim);
	}
}

static void trace_ring_keeps_the_last_lines(void **state)
{
	(void)state;
	struct sim *sim = sim_new(8);
	sim_set_trace_capacity(sim, 4);
	for (int i = 0; i < 10; i++) {
		sim_run_until(sim, (uint64_t)i * 10);
		sim_tracef(sim, i % 3, "line %d", i);
	}
	assert_int_equal(sim_trace_count(sim), 4);
	assert_int_equal(sim_trace_total(sim), 10);
	for (size_t k = 0; k < 4; k++) {
		uint64_t t;
		int node;
		char want[16];
		snprintf(want, sizeof(want), "line %zu", k + 6);
		assert_string_equal(sim_trace_line(sim, k, &t, &node), want);
		assert_int_equal(t, (k + 6) * 10);
		assert_int_equal(node, (int)(k + 6) % 3);
	}
	assert_null(sim_trace_line(sim, 4, NULL, NULL));

	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	sim_trace_dump(sim, f);
	fclose(f);
	assert_non_null(strstr(out, "last 4 of 10 lines"));
	assert_non_null(strstr(out, "        90 ms  n0     line 9\n"));
	assert_null(strstr(out, "line 5"));
	free(out);

	/* Echo prints as lines come; a sim that has not failed reports nothing. */
	out = NULL;
	f = open_memstream(&out, &outlen);
	sim_set_trace_echo(sim, f);
	sim_tracef(sim, -1, "echoed %s", "here");
	sim_set_trace_echo(sim, NULL);
	sim_report(sim, f, true);
	fclose(f);
	assert_string_equal(out, "        90 ms  sim    echoed here\n");
	free(out);

	/* Network tracing names drops. */
	struct recorder r[2];
	add_recorders(sim, r, 2);
	sim_set_trace_capacity(sim, 8);
	sim_set_trace_net(sim, true);
	sim_set_loss(sim, 1.0);
	send_seq(sim, 0, 1, SIM_DATAGRAM, 1);
	assert_non_null(strstr(sim_trace_line(sim, sim_trace_count(sim) - 1, NULL, NULL),
			       "dgram to n1 of 16 bytes dropped (loss)"));
	rec_free(&r[0]);
	rec_free(&r[1]);
	sim_free(sim);
}

/* ---- Runner ------------------------------------------------------------------------------- */

/* Fails on seeds 3, 10, 17, ... */
static void scenario_sevens(struct sim *sim, void *data)
{
	int *runs = data;
	(*runs)++;
	sim_tracef(sim, 2, "thinking about seed %" PRIu64, sim_seed(sim));
	if (sim_seed(sim) % 7 == 3)
		sim_fail(sim, 2, "boom on %" PRIu64, sim_seed(sim));
}

static void scenario_pass(struct sim *sim, void *data)
{
	int *runs = data;
	(*runs)++;
}

static int parse(struct sim_runner_opts *o, int argc, const char **argv)
{
	FILE *err = fopen("/dev/null", "w");
	assert_non_null(err);
	int r = sim_runner_parse(argc, (char **)argv, o, err);
	fclose(err);
	return r;
}

static void runner_reports_failing_seeds(void **state)
{
	(void)state;
	int runs_sevens = 0, runs_pass = 0;
	const struct sim_scenario sc[] = {
		{ .name = "sevens", .run = scenario_sevens, .data = &runs_sevens, .seeds = 5 },
		{ .name = "pass", .run = scenario_pass, .data = &runs_pass },
	};
	unsetenv("SIM_SEEDS");
	struct sim_runner_opts o;

	const char *a1[] = { "prog", "--seeds", "20" };
	assert_int_equal(parse(&o, 3, a1), 0);
	assert_int_equal(o.seeds, 20);
	assert_int_equal(o.first, 1);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	assert_int_equal(sim_runner_run(&o, sc, 2, "prog", f), 3);
	fclose(f);
	assert_int_equal(runs_sevens, 20);
	assert_int_equal(runs_pass, 20);
	assert_non_null(strstr(out, "seed 3: FAIL t=0 node=2: boom on 3\n"));
	assert_non_null(strstr(out, "seed 10: FAIL"));
	assert_non_null(strstr(out, "seed 17: FAIL"));
	assert_null(strstr(out, "seed 4: FAIL"));
	assert_non_null(strstr(out, "thinking about seed 3"));
	assert_non_null(strstr(out, "reproduce: prog --only sevens --seed 17 --verbose\n"));
	assert_non_null(strstr(out, "sevens: 20 seeds from 1, 3 failed"));
	assert_non_null(strstr(out, "sevens: failed seeds: 3 10 17\n"));
	assert_non_null(strstr(out, "pass: 20 seeds from 1, 0 failed"));
	free(out);

	/* Reproducing one seed; the scenario's own default count; --only. */
	const char *a2[] = { "prog", "--seed", "10", "--only", "sevens" };
	assert_int_equal(parse(&o, 5, a2), 0);
	assert_true(o.one);
	out = NULL;
	f = open_memstream(&out, &outlen);
	assert_int_equal(sim_runner_run(&o, sc, 2, "prog", f), 1);
	fclose(f);
	assert_non_null(strstr(out, "sevens: 1 seed from 10, 1 failed"));
	assert_null(strstr(out, "pass:"));
	free(out);

	const char *a3[] = { "prog", "--first=4" };
	assert_int_equal(parse(&o, 2, a3), 0);
	runs_sevens = 0;
	out = NULL;
	f = open_memstream(&out, &outlen);
	assert_int_equal(sim_runner_run(&o, sc, 1, "prog", f), 0); /* seeds 4..8 */
	fclose(f);
	assert_int_equal(runs_sevens, 5);
	free(out);

	/* $SIM_SEEDS raises the count; --seeds wins over it. */
	setenv("SIM_SEEDS", "10000", 1);
	const char *a4[] = { "prog" };
	assert_int_equal(parse(&o, 1, a4), 0);
	assert_int_equal(o.seeds, 10000);
	assert_int_equal(parse(&o, 3, a1), 0);
	assert_int_equal(o.seeds, 20);
	setenv("SIM_SEEDS", "lots", 1);
	assert_int_equal(parse(&o, 1, a4), -1);
	unsetenv("SIM_SEEDS");

	/* Usage errors. */
	const char *b1[] = { "prog", "--seeds", "x" };
	assert_int_equal(parse(&o, 3, b1), -1);
	const char *b2[] = { "prog", "--seeds" };
	assert_int_equal(parse(&o, 2, b2), -1);
	const char *b3[] = { "prog", "--bogus" };
	assert_int_equal(parse(&o, 2, b3), -1);
	const char *b4[] = { "prog", "--seeds", "0" };
	assert_int_equal(parse(&o, 3, b4), -1);
	const char *b5[] = { "prog", "--help" };
	assert_int_equal(parse(&o, 2, b5), 1);

	const char *b6[] = { "prog", "--only", "nosuch" };
	assert_int_equal(parse(&o, 3, b6), 0);
	out = NULL;
	f = open_memstream(&out, &outlen);
	assert_int_equal(sim_runner_run(&o, sc, 2, "prog", f), 1);
	fclose(f);
	assert_non_null(strstr(out, "no scenario named 'nosuch'"));
	free(out);
}

/* ---- Scale ---------------------------------------------------------------------------------- */

static void flood_of_1000_nodes_completes_quickly(void **state)
{
	(void)state;
	double t0 = wall_seconds();
	struct flood_result r = run_flood(2024, 1000, 0.05, 0.01, 8, 60000);
	double secs = wall_seconds() - t0;
	print_message("flood of 1000 nodes: complete at t=%" PRIu64 " ms, %" PRIu64 " events, %.3f s\n",
		      r.done_at, r.events, secs);
	assert_true(r.complete);
	assert_true(r.done_at < 10000);
	assert_true(secs < 10.0);
}

static void millions_of_events_in_seconds(void **state)
{
	(void)state;
	const int n = 1000;
	struct sim *sim = sim_new(77);
	sim_set_trace_capacity(sim, 1024);
	struct toy_cluster cl = { .n = n, .fanout = 3, .period_ms = 100 };
	struct toy_node *nodes = calloc((size_t)n, sizeof(*nodes));
	assert_non_null(nodes);
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = 1, .jitter_ms = 4, .loss = 0.02 });
	for (int i = 0; i < n; i++) {
		toy_init(&nodes[i], &cl, i, sim_node_seed(sim, i));
		sim_add_node(sim, &nodes[i], &toy_ops);
	}
	toy_start_rumor(&nodes[0], sim, 5);
	sim_wake(sim, 0);
	double t0 = wall_seconds();
	assert_true(sim_run_until(sim, 60000));
	double secs = wall_seconds() - t0;
	uint64_t ev = sim_events(sim);
	print_message("1000 nodes, 60 s simulated: %" PRIu64 " events in %.3f s (%.2f M events/s)\n",
		      ev, secs, (double)ev / secs / 1e6);
	assert_int_equal(cl.informed, n);
	assert_true(ev > 2000000);
	assert_true(secs < 30.0);
	free(nodes);
	sim_free(sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_round_trip),
		cmocka_unit_test(rng_is_seeded_and_uniform),
		cmocka_unit_test(timers_fire_at_deadlines),
		cmocka_unit_test(scheduled_calls_run_in_order),
		cmocka_unit_test(stalled_time_fails_the_run),
		cmocka_unit_test(same_seed_same_run),
		cmocka_unit_test(trace_hash_covers_the_bytes),
		cmocka_unit_test(loss_matches_configuration),
		cmocka_unit_test(duplication_matches_configuration),
		cmocka_unit_test(jitter_reorders_datagrams),
		cmocka_unit_test(partitions_block_and_heal),
		cmocka_unit_test(crashed_nodes_are_silent_and_restart),
		cmocka_unit_test(stream_is_ordered_reliable_and_connects),
		cmocka_unit_test(stream_reports_failure_across_a_cut),
		cmocka_unit_test(stream_reports_failure_when_an_end_crashes),
		cmocka_unit_test(counters_measure_bytes_per_node),
		cmocka_unit_test(check_hook_stops_the_run),
		cmocka_unit_test(trace_ring_keeps_the_last_lines),
		cmocka_unit_test(runner_reports_failing_seeds),
		cmocka_unit_test(flood_of_1000_nodes_completes_quickly),
		cmocka_unit_test(millions_of_events_in_seconds),
	};
	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
