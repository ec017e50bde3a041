/* swim_adapter: runs one swim core per simulator node and keeps a compact view of what every node believes. */
#include "swim_adapter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/node_meta.h"

/* Stream message kinds (the first byte of every SIM_STREAM message). */
#define PP_REQUEST 'Q'
#define PP_RESPONSE 'R'
#define PP_HEADER 5

/* Clusters up to this size trace every JOINED and REAPED event too. */
#define TRACE_JOINS_MAX 200

/* The states a view entry counts in, indexed by enum swim_state. */
#define NSTATES 4

/* An outgoing push-pull awaiting its answer. */
struct pending {
	uint32_t id; /* the core's stream id */
	int peer;    /* the node it went to */
};

/* One simulator node: a swim core and what the adapter tracks about it. */
struct swim_sim_node {
	struct swim_sim *c;        /* the cluster */
	int self;                  /* node index */
	struct swim *core;         /* the core; NULL while crashed */
	uint64_t boot_inc;         /* incarnation the current core started with */
	uint64_t last_inc;         /* the core's incarnation when it last went down */
	uint64_t self_inc;         /* highest own incarnation seen in this life */
	bool leaving;              /* swim_leave was called in this life */
	bool settled;              /* counts equal the wanted counts */
	struct pending *pend;      /* outgoing push-pulls without an answer */
	uint32_t n_pend;           /* entries in pend */
	uint32_t cap_pend;         /* entries allocated */
	uint8_t meta[NODE_META_MAX]; /* metadata the core announces */
	size_t meta_len;           /* bytes at meta */
	char id[SWIM_ID_MAX + 1];  /* the node's id */
};

struct swim_sim {
	struct sim *sim;              /* the simulator run */
	int n;                        /* nodes */
	struct swim_config base;      /* config every core starts from */
	struct swim_sim_node *nodes;  /* n nodes */
	uint8_t *view;                /* n * n states: [o * n + m] */
	uint64_t *view_inc;           /* n * n incarnations */
	uint32_t *views;              /* n * NSTATES: observers != m holding m in a state */
	uint64_t total[NSTATES];      /* sums of views per state */
	struct swim_counts want;      /* counts that make a node settled */
	uint32_t settled;             /* up nodes settled */
	uint32_t up;                  /* up nodes */
	uint64_t events[8];           /* events per enum swim_event_type */
	struct swim_stats retired;    /* stats of cores that went down */
	size_t max_packet;            /* largest datagram sent */
	struct swim_sim_traffic traffic; /* bytes handed to the network by every core */
	bool trace_joins;             /* trace JOINED and REAPED events */
	swim_sim_event_fn on_event;   /* scenario hook */
	void *on_event_data;
	swim_sim_dead_ok_fn dead_ok;  /* scenario's exception to the false-death check */
	void *dead_ok_data;
	struct join_call *joins;      /* n slots for swim_sim_join_at */
};

/* A join scheduled with sim_at(): one slot per node, owned by the cluster,
 * so that a run stopped before the call leaks nothing. */
struct join_call {
	struct swim_sim *c;
	int node;
	int seed; /* the node to join through */
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

static struct swim_addr node_addr(int i)
{
	uint32_t ip = sim_node_ip(i);
	struct swim_addr a = { .family = SWIM_AF_INET4, .port = SIM_PORT };
	a.ip[0] = (uint8_t)(ip >> 24);
	a.ip[1] = (uint8_t)(ip >> 16);
	a.ip[2] = (uint8_t)(ip >> 8);
	a.ip[3] = (uint8_t)ip;
	return a;
}

static int addr_node(const struct swim_sim *c, const struct swim_addr *a)
{
	if (a->family != SWIM_AF_INET4 || a->port != SIM_PORT)
		return -1;
	uint32_t ip = (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3];
	int i = sim_ip_node(ip);
	return i >= 0 && i < c->n ? i : -1;
}

int swim_sim_node_of(const struct swim_sim *c, const char *id)
{
	if (strncmp(id, "node", 4) != 0)
		return -1;
	int v = 0;
	for (int k = 4; k < 10; k++) {
		if (id[k] < '0' || id[k] > '9')
			return -1;
		v = v * 10 + (id[k] - '0');
	}
	if (v >= c->n || strcmp(id, c->nodes[v].id) != 0)
		return -1;
	return v;
}

/* --- the view ------------------------------------------------------------------ */

static void views_add(struct swim_sim *c, int m, uint8_t state, int delta)
{
	if (state >= NSTATES)
		return;
	c->views[(size_t)m * NSTATES + state] += (uint32_t)delta;
	c->total[state] += (uint64_t)(int64_t)delta;
}

static void view_set(struct swim_sim *c, int o, int m, uint8_t state, uint64_t inc)
{
	size_t k = (size_t)o * (size_t)c->n + (size_t)m;
	if (o != m) {
		views_add(c, m, c->view[k], -1);
		views_add(c, m, state, +1);
	}
	c->view[k] = state;
	c->view_inc[k] = inc;
}

static void view_clear_row(struct swim_sim *c, int o)
{
	for (int m = 0; m < c->n; m++)
		view_set(c, o, m, SWIM_SIM_UNKNOWN, 0);
}

uint8_t swim_sim_view(const struct swim_sim *c, int o, int m)
{
	return c->view[(size_t)o * (size_t)c->n + (size_t)m];
}

uint64_t swim_sim_view_inc(const struct swim_sim *c, int o, int m)
{
	return c->view_inc[(size_t)o * (size_t)c->n + (size_t)m];
}

uint32_t swim_sim_views(const struct swim_sim *c, int m, uint8_t state)
{
	return state < NSTATES ? c->views[(size_t)m * NSTATES + state] : 0;
}

uint64_t swim_sim_total_views(const struct swim_sim *c, uint8_t state)
{
	return state < NSTATES ? c->total[state] : 0;
}

static bool counts_equal(const struct swim_counts *a, const struct swim_counts *b)
{
	return a->alive == b->alive && a->suspect == b->suspect && a->dead == b->dead &&
	       a->left == b->left;
}

/* Recomputes whether node i is settled. */
static void settle(struct swim_sim *c, struct swim_sim_node *n)
{
	bool now = false;
	if (n->core) {
		struct swim_counts k;
		swim_counts(n->core, &k);
		now = counts_equal(&k, &c->want);
	}
	if (now != n->settled) {
		n->settled = now;
		if (now)
			c->settled++;
		else
			c->settled--;
	}
}

uint32_t swim_sim_want(struct swim_sim *c, const struct swim_counts *want)
{
	c->want = *want;
	for (int i = 0; i < c->n; i++)
		settle(c, &c->nodes[i]);
	return c->settled;
}

uint32_t swim_sim_settled(const struct swim_sim *c)
{
	return c->settled;
}

uint32_t swim_sim_up(const struct swim_sim *c)
{
	return c->up;
}

bool swim_sim_all_settled(struct sim *sim, void *data)
{
	const struct swim_sim *c = data;
	(void)sim;
	return c->settled == c->up;
}

/* --- events -------------------------------------------------------------------- */

/* The states an event of each type may follow, as bits of (1 << state), with
 * bit 4 for "unknown"; and the state it must leave the member in. An event
 * is a change of state (swim.h): SUSPECT about a member already suspect (a
 * suspicion renewed at a newer incarnation) breaks the contract. */
#define B(s) (1u << (s))
#define B_UNKNOWN (1u << 4)
static const struct {
	unsigned from; /* allowed previous view states */
	int to;        /* required state after, -1: dead or left */
} event_rules[] = {
	[SWIM_EV_JOINED] = { B_UNKNOWN | B(SWIM_DEAD) | B(SWIM_LEFT), SWIM_ALIVE },
	[SWIM_EV_UPDATED] = { B(SWIM_ALIVE), SWIM_ALIVE },
	[SWIM_EV_SUSPECT] = { B(SWIM_ALIVE), SWIM_SUSPECT },
	[SWIM_EV_ALIVE] = { B(SWIM_SUSPECT), SWIM_ALIVE },
	[SWIM_EV_DEAD] = { B(SWIM_ALIVE) | B(SWIM_SUSPECT), SWIM_DEAD },
	[SWIM_EV_LEFT] = { B(SWIM_ALIVE) | B(SWIM_SUSPECT) | B(SWIM_DEAD), SWIM_LEFT },
	[SWIM_EV_REAPED] = { B(SWIM_DEAD) | B(SWIM_LEFT), -1 },
};

static void trace_event(struct swim_sim *c, int o, int m, const struct swim_event *ev)
{
	if (!c->trace_joins && (ev->type == SWIM_EV_JOINED || ev->type == SWIM_EV_REAPED))
		return;
	sim_tracef(c->sim, o, "%s n%d inc=%" PRIu64 " (alive=%u suspect=%u dead=%u left=%u)",
		   swim_event_str(ev->type), m, ev->incarnation, ev->counts.alive, ev->counts.suspect,
		   ev->counts.dead, ev->counts.left);
}

static void self_event(struct swim_sim *c, struct swim_sim_node *n, const struct swim_event *ev)
{
	if (ev->type != SWIM_EV_REFUTED || ev->state != SWIM_ALIVE) {
		sim_fail(c->sim, n->self, "n%d reports itself %s (event %s, inc %" PRIu64 ")", n->self,
			 swim_state_str(ev->state), swim_event_str(ev->type), ev->incarnation);
		return;
	}
	if (ev->incarnation <= n->self_inc) {
		sim_fail(c->sim, n->self, "n%d refuted with incarnation %" PRIu64 ", not above its %" PRIu64,
			 n->self, ev->incarnation, n->self_inc);
		return;
	}
	n->self_inc = ev->incarnation;
}

static void on_event(struct swim_sim *c, struct swim_sim_node *n, const struct swim_event *ev)
{
	struct sim *sim = c->sim;
	int o = n->self;
	int m = swim_sim_node_of(c, ev->id);
	if (ev->type < 8)
		c->events[ev->type]++;
	if (m < 0) {
		sim_fail(sim, o, "n%d reports an event about an unknown id '%s'", o, ev->id);
		return;
	}
	trace_event(c, o, m, ev);
	if (ev->at != sim_now(sim)) {
		sim_fail(sim, o, "n%d: event %s about n%d stamped %" PRIu64 ", now is %" PRIu64, o,
			 swim_event_str(ev->type), m, ev->at, sim_now(sim));
		return;
	}
	if (m == o) {
		self_event(c, n, ev);
		return;
	}
	if (ev->type >= sizeof(event_rules) / sizeof(event_rules[0])) {
		sim_fail(sim, o, "n%d: event %s about n%d", o, swim_event_str(ev->type), m);
		return;
	}
	int found = addr_node(c, &ev->addr);
	if (found != m) {
		sim_fail(sim, o, "n%d: event %s about n%d carries the address of n%d", o,
			 swim_event_str(ev->type), m, found);
		return;
	}
	uint8_t prev = swim_sim_view(c, o, m);
	uint64_t prev_inc = swim_sim_view_inc(c, o, m);
	unsigned prev_bit = prev == SWIM_SIM_UNKNOWN ? B_UNKNOWN : B(prev);
	int to = event_rules[ev->type].to;
	if (!(event_rules[ev->type].from & prev_bit) ||
	    (to >= 0 ? ev->state != to : ev->state != SWIM_DEAD && ev->state != SWIM_LEFT)) {
		sim_fail(sim, o, "n%d: event %s about n%d (now %s) while its view was %s", o,
			 swim_event_str(ev->type), m, swim_state_str(ev->state),
			 prev == SWIM_SIM_UNKNOWN ? "unknown" : swim_state_str(prev));
		return;
	}
	if (prev != SWIM_SIM_UNKNOWN && ev->incarnation < prev_inc) {
		sim_fail(sim, o, "n%d's view of n%d: incarnation went down from %" PRIu64 " to %" PRIu64
			 " (event %s)", o, m, prev_inc, ev->incarnation, swim_event_str(ev->type));
		return;
	}
	if (ev->type == SWIM_EV_JOINED && prev != SWIM_SIM_UNKNOWN && ev->incarnation <= prev_inc) {
		sim_fail(sim, o, "n%d: n%d came back from %s at incarnation %" PRIu64 ", not above %" PRIu64,
			 o, m, swim_state_str(prev), ev->incarnation, prev_inc);
		return;
	}
	/* The false-death check: a dead claim about a node that is up, about its
	 * current life, and not excused by the scenario (a partition). */
	struct swim_sim_node *mn = &c->nodes[m];
	if (ev->type == SWIM_EV_DEAD && mn->core && !mn->leaving && ev->incarnation >= mn->boot_inc &&
	    !(c->dead_ok && c->dead_ok(c, o, m, c->dead_ok_data))) {
		sim_fail(sim, o, "n%d declared n%d dead (incarnation %" PRIu64 ") while n%d is up "
			 "(booted at incarnation %" PRIu64 ", now %" PRIu64 ")", o, m, ev->incarnation, m,
			 mn->boot_inc, swim_self_incarnation(mn->core));
		return;
	}
	if (ev->type == SWIM_EV_REAPED)
		view_set(c, o, m, SWIM_SIM_UNKNOWN, 0);
	else
		view_set(c, o, m, ev->state, ev->incarnation);
	if (c->on_event)
		c->on_event(c, o, m, ev, prev, c->on_event_data);
}

/* --- moving the core's output into the simulator ---------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Sends kind + id + body on the stream to `to`. */
static void stream_send(struct sim *sim, int from, int to, uint8_t kind, uint32_t id,
			const uint8_t *body, size_t len)
{
	uint8_t *buf = malloc(PP_HEADER + len);
	if (!buf)
		abort();
	buf[0] = kind;
	put_u32(buf + 1, id);
	if (len)
		memcpy(buf + PP_HEADER, body, len);
	sim_send(sim, from, to, SIM_STREAM, buf, PP_HEADER + len);
	free(buf);
}

static void pend_add(struct swim_sim_node *n, uint32_t id, int peer)
{
	if (n->n_pend == n->cap_pend) {
		n->cap_pend = n->cap_pend ? n->cap_pend * 2 : 4;
		n->pend = realloc(n->pend, n->cap_pend * sizeof(*n->pend));
		if (!n->pend)
			abort();
	}
	n->pend[n->n_pend++] = (struct pending){ .id = id, .peer = peer };
}

/* Takes the pending stream id out; false if it is not there. */
static bool pend_take(struct swim_sim_node *n, uint32_t id)
{
	for (uint32_t k = 0; k < n->n_pend; k++) {
		if (n->pend[k].id == id) {
			n->pend[k] = n->pend[--n->n_pend];
			return true;
		}
	}
	return false;
}

static bool pend_to(const struct swim_sim_node *n, int peer)
{
	for (uint32_t k = 0; k < n->n_pend; k++)
		if (n->pend[k].peer == peer)
			return true;
	return false;
}

/* Hands everything the core wants done to the simulator and the view. */
static void flush(struct swim_sim_node *n)
{
	struct swim_sim *c = n->c;
	struct sim *sim = c->sim;
	struct swim_out_packet p;
	struct swim_out_stream st;
	struct swim_event ev;
	if (!n->core)
		return;
	while (swim_pop_event(n->core, &ev))
		if (!sim_failed(sim))
			on_event(c, n, &ev);
	while (swim_pop_packet(n->core, &p)) {
		int to = addr_node(c, &p.to);
		if (to < 0) {
			char a[SWIM_ADDR_STRLEN];
			sim_fail(sim, n->self, "n%d sends a packet to %s, which is no node", n->self,
				 swim_addr_format(&p.to, a, sizeof(a)));
		} else {
			if (p.len > c->max_packet)
				c->max_packet = p.len;
			c->traffic.udp_packets++;
			c->traffic.udp_bytes += p.len;
			sim_send(sim, n->self, to, SIM_DATAGRAM, p.data, p.len);
		}
		free(p.data);
	}
	while (swim_pop_stream(n->core, &st)) {
		int to = addr_node(c, &st.to);
		if (to < 0 || to == n->self) {
			char a[SWIM_ADDR_STRLEN];
			sim_fail(sim, n->self, "n%d opens a push-pull to %s, which is no other node",
				 n->self, swim_addr_format(&st.to, a, sizeof(a)));
		} else {
			pend_add(n, st.id, to);
			c->traffic.streams++;
			c->traffic.stream_bytes += st.len;
			sim_tracef(sim, n->self, "push-pull %" PRIu32 " to n%d, %zu bytes", st.id, to, st.len);
			stream_send(sim, n->self, to, PP_REQUEST, st.id, st.data, st.len);
		}
		free(st.data);
	}
	settle(c, n);
}

/* --- simulator callbacks ------------------------------------------------------------ */

static void serve(struct swim_sim_node *n, struct sim *sim, uint64_t now, int from, uint32_t id,
		  const uint8_t *body, size_t len)
{
	struct swim_addr fa = node_addr(from);
	uint8_t *reply = NULL;
	size_t rlen = 0;
	int rc = swim_pushpull_serve(n->core, now, &fa, body, len, &reply, &rlen);
	if (rc != 0) {
		sim_fail(sim, n->self, "n%d: serving push-pull %" PRIu32 " from n%d: %d (%s)", n->self, id,
			 from, rc, swim_last_error(n->core));
		return;
	}
	n->c->traffic.stream_bytes += rlen;
	stream_send(sim, n->self, from, PP_RESPONSE, id, reply, rlen);
	free(reply);
}

static void answer(struct swim_sim_node *n, struct sim *sim, uint64_t now, int from, uint32_t id,
		   const uint8_t *body, size_t len)
{
	if (!pend_take(n, id)) {
		sim_fail(sim, n->self, "n%d: push-pull answer %" PRIu32 " from n%d matches no request",
			 n->self, id, from);
		return;
	}
	int rc = swim_pushpull_response(n->core, now, id, body, len);
	/* -ENOENT: the core gave up on the stream first (stream_timeout_ms). */
	if (rc != 0 && rc != -ENOENT) {
		sim_fail(sim, n->self, "n%d: push-pull answer %" PRIu32 " from n%d: %d (%s)", n->self, id,
			 from, rc, swim_last_error(n->core));
		return;
	}
	sim_tracef(sim, n->self, "push-pull %" PRIu32 " answered by n%d%s", id, from,
		   rc ? " too late" : "");
	if (!pend_to(n, from))
		sim_stream_close(sim, n->self, from);
}

static void node_deliver(void *p, struct sim *sim, uint64_t now, int from, const void *buf, size_t len,
			 enum sim_channel ch)
{
	struct swim_sim_node *n = p;
	const uint8_t *b = buf;
	if (ch == SIM_DATAGRAM) {
		struct swim_addr fa = node_addr(from);
		int rc = swim_recv(n->core, now, &fa, b, len);
		if (rc != 0)
			sim_fail(sim, n->self, "n%d: packet of %zu bytes from n%d dropped: %d (%s)", n->self,
				 len, from, rc, swim_last_error(n->core));
	} else if (len < PP_HEADER || (b[0] != PP_REQUEST && b[0] != PP_RESPONSE)) {
		sim_fail(sim, n->self, "n%d: malformed stream message from n%d", n->self, from);
	} else if (b[0] == PP_REQUEST) {
		serve(n, sim, now, from, get_u32(b + 1), b + PP_HEADER, len - PP_HEADER);
	} else {
		answer(n, sim, now, from, get_u32(b + 1), b + PP_HEADER, len - PP_HEADER);
	}
	flush(n);
}

static void node_tick(void *p, struct sim *sim, uint64_t now)
{
	struct swim_sim_node *n = p;
	(void)sim;
	swim_tick(n->core, now);
	flush(n);
}

static uint64_t node_deadline(void *p)
{
	const struct swim_sim_node *n = p;
	if (!n->core)
		return SIM_NEVER;
	uint64_t d = swim_next_deadline(n->core);
	return d == UINT64_MAX ? SIM_NEVER : d;
}

static void node_stream_failed(void *p, struct sim *sim, uint64_t now, int to, const void *buf,
			       size_t len)
{
	struct swim_sim_node *n = p;
	const uint8_t *b = buf;
	/* A lost answer is noticed by the requester through its reset. */
	if (len < PP_HEADER || b[0] != PP_REQUEST)
		return;
	uint32_t id = get_u32(b + 1);
	if (pend_take(n, id)) {
		sim_tracef(sim, n->self, "push-pull %" PRIu32 " to n%d failed", id, to);
		swim_pushpull_failed(n->core, now, id);
		flush(n);
	}
}

static void node_stream_reset(void *p, struct sim *sim, uint64_t now, int peer)
{
	struct swim_sim_node *n = p;
	for (uint32_t k = 0; k < n->n_pend;) {
		if (n->pend[k].peer == peer) {
			uint32_t id = n->pend[k].id;
			n->pend[k] = n->pend[--n->n_pend];
			sim_tracef(sim, n->self, "push-pull %" PRIu32 " to n%d reset", id, peer);
			swim_pushpull_failed(n->core, now, id);
		} else {
			k++;
		}
	}
	flush(n);
}

static const struct sim_node_ops swim_node_ops = {
	.deliver = node_deliver,
	.tick = node_tick,
	.next_deadline = node_deadline,
	.stream_failed = node_stream_failed,
	.stream_reset = node_stream_reset,
};

/* --- lifecycle ------------------------------------------------------------------------ */

/* Builds node i's metadata as the daemon would (swarm.c's swarm_meta). */
static void make_meta(struct swim_sim_node *n, uint64_t seed)
{
	struct node_meta m = {
		.role = n->self < 3 ? NODE_ROLE_MANAGER : NODE_ROLE_WORKER,
		.ncpu = 1u << (seed % 6),
		.memory = (seed % 64 + 1) << 30,
		.created_at_ms = 1700000000000ull + seed % 1000000,
	};
	uint32_t ip = sim_node_ip(n->self);
	snprintf(m.hostname, sizeof(m.hostname), "worker-%d.rack%u.example.internal", n->self,
		 (unsigned)(seed % 40));
	snprintf(m.cluster_addr, sizeof(m.cluster_addr), "%u.%u.%u.%u:2377", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255);
	snprintf(m.engine_version, sizeof(m.engine_version), "0.1.0");
	snprintf(m.os, sizeof(m.os), "linux");
	snprintf(m.arch, sizeof(m.arch), "x86_64");
	if (node_meta_encode(&m, n->meta, sizeof(n->meta), &n->meta_len) != 0)
		abort();
}

static void core_start(struct swim_sim *c, struct swim_sim_node *n, uint64_t incarnation)
{
	struct swim_config cfg = c->base;
	uint64_t seed = sim_node_seed(c->sim, n->self);
	make_meta(n, seed);
	cfg.id = n->id;
	cfg.addr = node_addr(n->self);
	cfg.seed = seed;
	cfg.incarnation = incarnation;
	cfg.meta = n->meta;
	cfg.meta_len = n->meta_len;
	char err[128];
	if (swim_config_check(&cfg, err, sizeof(err)) != 0 ||
	    swim_new(&cfg, sim_now(c->sim), &n->core) != 0) {
		fprintf(stderr, "swim_adapter: bad swim config: %s\n", err);
		abort();
	}
	n->boot_inc = incarnation;
	n->self_inc = incarnation;
	n->leaving = false;
	n->n_pend = 0;
	c->up++;
}

struct swim_sim *swim_sim_new(struct sim *sim, int n, const struct swim_config *base)
{
	if (sim_node_count(sim) != 0 || n < 1) {
		sim_fail(sim, -1, "swim_sim_new: needs an empty sim and at least one node");
		return NULL;
	}
	struct swim_sim *c = xcalloc(1, sizeof(*c));
	c->sim = sim;
	c->n = n;
	if (base)
		c->base = *base;
	else
		swim_config_default(&c->base);
	c->trace_joins = n <= TRACE_JOINS_MAX;
	c->nodes = xcalloc((size_t)n, sizeof(*c->nodes));
	c->view = malloc((size_t)n * (size_t)n);
	c->view_inc = xcalloc((size_t)n * (size_t)n, sizeof(*c->view_inc));
	c->views = xcalloc((size_t)n * NSTATES, sizeof(*c->views));
	c->joins = xcalloc((size_t)n, sizeof(*c->joins));
	if (!c->view)
		abort();
	memset(c->view, SWIM_SIM_UNKNOWN, (size_t)n * (size_t)n);
	sim_set_max_datagram(sim, c->base.packet_budget);
	for (int i = 0; i < n; i++) {
		struct swim_sim_node *nd = &c->nodes[i];
		nd->c = c;
		nd->self = i;
		uint64_t h = sim_node_seed(sim, i) & 0xfffffffffffffffull;
		snprintf(nd->id, sizeof(nd->id), "node%06d%015" PRIx64, i, h);
		core_start(c, nd, c->base.incarnation);
		if (sim_add_node(sim, nd, &swim_node_ops) != i)
			abort();
	}
	return c;
}

static void retire_stats(struct swim_sim *c, const struct swim *core)
{
	struct swim_stats s;
	swim_stats(core, &s);
	c->retired.packets_in += s.packets_in;
	c->retired.packets_out += s.packets_out;
	c->retired.bytes_out += s.bytes_out;
	c->retired.updates_sent += s.updates_sent;
	c->retired.probes += s.probes;
	c->retired.probes_failed += s.probes_failed;
	c->retired.indirect_probes += s.indirect_probes;
	c->retired.nacks_sent += s.nacks_sent;
	c->retired.refutes += s.refutes;
	c->retired.pushpull_ok += s.pushpull_ok;
	c->retired.pushpull_failed += s.pushpull_failed;
}

void swim_sim_free(struct swim_sim *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++) {
		swim_free(c->nodes[i].core);
		free(c->nodes[i].pend);
	}
	free(c->nodes);
	free(c->view);
	free(c->view_inc);
	free(c->views);
	free(c->joins);
	free(c);
}

struct sim *swim_sim_sim(const struct swim_sim *c)
{
	return c->sim;
}

int swim_sim_n(const struct swim_sim *c)
{
	return c->n;
}

struct swim *swim_sim_core(const struct swim_sim *c, int i)
{
	return c->nodes[i].core;
}

const char *swim_sim_id(const struct swim_sim *c, int i)
{
	return c->nodes[i].id;
}

uint64_t swim_sim_boot_inc(const struct swim_sim *c, int i)
{
	return c->nodes[i].boot_inc;
}

uint64_t swim_sim_last_inc(const struct swim_sim *c, int i)
{
	return c->nodes[i].last_inc;
}

void swim_sim_join(struct swim_sim *c, int i, int seed)
{
	struct swim_sim_node *n = &c->nodes[i];
	if (!n->core) {
		sim_fail(c->sim, i, "swim_sim_join: n%d is down", i);
		return;
	}
	struct swim_addr a = node_addr(seed);
	int rc = swim_join(n->core, sim_now(c->sim), &a, 1);
	if (rc != (seed == i ? 0 : 1)) {
		sim_fail(c->sim, i, "swim_join(n%d via n%d) = %d", i, seed, rc);
		return;
	}
	sim_tracef(c->sim, i, "joins through n%d", seed);
	flush(n);
	sim_wake(c->sim, i);
}

static void join_call(struct sim *sim, void *data)
{
	struct join_call *j = data;
	(void)sim;
	if (j->c->nodes[j->node].core)
		swim_sim_join(j->c, j->node, j->seed);
}

void swim_sim_join_at(struct swim_sim *c, int i, int seed, uint64_t t)
{
	c->joins[i] = (struct join_call){ .c = c, .node = i, .seed = seed };
	sim_at(c->sim, t, join_call, &c->joins[i]);
}

void swim_sim_crash(struct swim_sim *c, int i)
{
	struct swim_sim_node *n = &c->nodes[i];
	if (!n->core)
		return;
	sim_crash(c->sim, i);
	n->last_inc = swim_self_incarnation(n->core);
	retire_stats(c, n->core);
	swim_free(n->core);
	n->core = NULL;
	n->n_pend = 0;
	c->up--;
	view_clear_row(c, i);
	settle(c, n);
}

void swim_sim_restart(struct swim_sim *c, int i, uint64_t incarnation)
{
	struct swim_sim_node *n = &c->nodes[i];
	if (n->core) {
		sim_fail(c->sim, i, "swim_sim_restart: n%d is up", i);
		return;
	}
	core_start(c, n, incarnation);
	sim_tracef(c->sim, i, "restarts at incarnation %" PRIu64, incarnation);
	sim_restart(c->sim, i, n);
	settle(c, n);
}

int swim_sim_leave(struct swim_sim *c, int i)
{
	struct swim_sim_node *n = &c->nodes[i];
	if (!n->core)
		return -1;
	n->leaving = true;
	int rc = swim_leave(n->core, sim_now(c->sim));
	sim_tracef(c->sim, i, "leaves: %d", rc);
	flush(n);
	sim_wake(c->sim, i);
	return rc;
}

bool swim_sim_leave_done(const struct swim_sim *c, int i)
{
	return c->nodes[i].core && swim_leave_done(c->nodes[i].core);
}

bool swim_sim_leaving(const struct swim_sim *c, int i)
{
	return c->nodes[i].leaving;
}

void swim_sim_on_event(struct swim_sim *c, swim_sim_event_fn fn, void *data)
{
	c->on_event = fn;
	c->on_event_data = data;
}

void swim_sim_set_dead_ok(struct swim_sim *c, swim_sim_dead_ok_fn fn, void *data)
{
	c->dead_ok = fn;
	c->dead_ok_data = data;
}

/* --- checks ---------------------------------------------------------------------------- */

bool swim_sim_check(struct sim *sim, void *data)
{
	struct swim_sim *c = data;
	int i = sim_current_node(sim);
	if (i < 0 || i >= c->n || !c->nodes[i].core)
		return true;
	struct swim_sim_node *n = &c->nodes[i];
	struct swim_member_info me;
	if (swim_member_find(n->core, n->id, &me) != 0 || !me.is_self) {
		sim_fail(sim, i, "n%d does not find itself among its members", i);
		return false;
	}
	if (me.state == SWIM_SUSPECT || me.state == SWIM_DEAD ||
	    (me.state == SWIM_LEFT && !n->leaving)) {
		sim_fail(sim, i, "n%d holds itself %s", i, swim_state_str(me.state));
		return false;
	}
	if (me.incarnation < n->self_inc) {
		sim_fail(sim, i, "n%d's own incarnation went down from %" PRIu64 " to %" PRIu64, i,
			 n->self_inc, me.incarnation);
		return false;
	}
	n->self_inc = me.incarnation;
	return true;
}

bool swim_sim_sweep(struct swim_sim *c)
{
	static const enum swim_drop impossible[] = {
		SWIM_DROP_DECODE, SWIM_DROP_VERSION, SWIM_DROP_FROM_SELF, SWIM_DROP_TABLE_FULL,
		SWIM_DROP_PP_DECODE, SWIM_DROP_NOMEM,
	};
	struct sim *sim = c->sim;
	uint8_t *seen = xcalloc((size_t)c->n, 1);
	bool ok = true;
	for (int o = 0; o < c->n && ok; o++) {
		struct swim *core = c->nodes[o].core;
		if (!core)
			continue;
		for (size_t k = 0; k < sizeof(impossible) / sizeof(impossible[0]); k++) {
			if (swim_dropped(core, impossible[k])) {
				sim_fail(sim, o, "n%d dropped %" PRIu64 " inputs as %s", o,
					 swim_dropped(core, impossible[k]), swim_drop_str(impossible[k]));
				ok = false;
			}
		}
		memset(seen, 0, (size_t)c->n);
		size_t count = swim_member_count(core);
		for (size_t k = 0; k < count && ok; k++) {
			struct swim_member_info mi;
			swim_member_at(core, k, &mi);
			int m = swim_sim_node_of(c, mi.id);
			if (m < 0 || seen[m]) {
				sim_fail(sim, o, "n%d's table holds %s '%s'", o, m < 0 ? "an unknown id" : "twice",
					 mi.id);
				ok = false;
				break;
			}
			seen[m] = 1;
			if (m == o)
				continue;
			uint8_t v = swim_sim_view(c, o, m);
			uint64_t vi = swim_sim_view_inc(c, o, m);
			if (v != mi.state || mi.incarnation < vi) {
				sim_fail(sim, o, "n%d holds n%d %s at incarnation %" PRIu64 " but its events said %s at %"
					 PRIu64, o, m, swim_state_str(mi.state), mi.incarnation,
					 v == SWIM_SIM_UNKNOWN ? "unknown" : swim_state_str(v), vi);
				ok = false;
			}
		}
		for (int m = 0; m < c->n && ok; m++) {
			if (m != o && !seen[m] && swim_sim_view(c, o, m) != SWIM_SIM_UNKNOWN) {
				sim_fail(sim, o, "n%d's events say it knows n%d, its table does not", o, m);
				ok = false;
			}
		}
	}
	free(seen);
	return ok;
}

uint64_t swim_sim_events(const struct swim_sim *c, uint8_t type)
{
	return type < 8 ? c->events[type] : 0;
}

void swim_sim_stats(const struct swim_sim *c, struct swim_stats *out)
{
	*out = c->retired;
	for (int i = 0; i < c->n; i++) {
		if (!c->nodes[i].core)
			continue;
		struct swim_stats s;
		swim_stats(c->nodes[i].core, &s);
		out->packets_in += s.packets_in;
		out->packets_out += s.packets_out;
		out->bytes_out += s.bytes_out;
		out->updates_sent += s.updates_sent;
		out->probes += s.probes;
		out->probes_failed += s.probes_failed;
		out->indirect_probes += s.indirect_probes;
		out->nacks_sent += s.nacks_sent;
		out->refutes += s.refutes;
		out->pushpull_ok += s.pushpull_ok;
		out->pushpull_failed += s.pushpull_failed;
	}
}

size_t swim_sim_max_packet(const struct swim_sim *c)
{
	return c->max_packet;
}

void swim_sim_traffic(const struct swim_sim *c, struct swim_sim_traffic *out)
{
	*out = c->traffic;
}
