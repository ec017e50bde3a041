/* sim: a deterministic discrete-event simulator that drives sans-I/O cores over a virtual network. */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/*
 * Everything that happens is an event in one binary heap keyed on (time, seq):
 * seq is a counter stamped when the event is queued, so two events of the same
 * millisecond always run in the order they were scheduled and a run depends only
 * on its seed and the calls made into it. Events know their heap position, so a
 * node's timer or a stream message can be taken out in O(log n) when a deadline
 * moves or a connection breaks. Datagrams are not tracked per node: a crash bumps
 * the node's epoch and a datagram whose ends' epochs no longer match the ones it
 * was sent with is dropped when it comes up. Per-link overrides, cuts and stream
 * connections live in hash maps keyed by the node pair, so no event costs O(N).
 */

/* What an event does when it comes up. */
enum ev_kind {
	EV_TICK,         /* a node's deadline; one per node, reused */
	EV_DGRAM,        /* a datagram arrives at `to` */
	EV_STREAM,       /* a stream message arrives at `to` */
	EV_STREAM_FAIL,  /* tell `to` that its message to `from` is lost */
	EV_STREAM_RESET, /* tell `to` that its connection with `from` broke */
	EV_CALL,         /* a harness callback from sim_at() */
};

/* Why a message was not delivered. */
enum drop_reason {
	DROP_NONE,
	DROP_LOSS,
	DROP_PARTITION,
	DROP_CUT,
	DROP_CRASH,
};

static const char *const drop_names[] = {
	[DROP_NONE] = "none",
	[DROP_LOSS] = "loss",
	[DROP_PARTITION] = "partition",
	[DROP_CUT] = "cut",
	[DROP_CRASH] = "crash",
};

/* heap_idx of an event that is not queued. */
#define NOT_QUEUED SIZE_MAX

struct conn;

/* One queued happening. Messages carry their bytes after the struct. */
struct event {
	uint64_t time;         /* when it happens */
	uint64_t seq;          /* tie-break: the order it was queued in */
	size_t heap_idx;       /* position in the heap, NOT_QUEUED when out of it */
	enum ev_kind kind;     /* what happens */
	enum sim_channel ch;   /* the channel of a message */
	int from;              /* sender of a message; the peer for FAIL and RESET */
	int to;                /* the node the event is for (-1 for EV_CALL) */
	uint32_t from_epoch;   /* sender's epoch when sent */
	uint32_t to_epoch;     /* receiver's epoch when sent (or when queued, for FAIL/RESET) */
	struct conn *conn;     /* the connection an in-flight stream message rides */
	struct event *cprev;   /* neighbours in the connection's in-flight list */
	struct event *cnext;
	void (*fn)(struct sim *sim, void *data); /* EV_CALL callback */
	void *data;            /* its argument */
	size_t len;            /* payload length */
	unsigned char payload[];
};

/* A stream connection between two nodes; both directions share it. */
struct conn {
	int end[2];               /* end[0] opened it */
	uint64_t established_at;  /* when the connect delay is over */
	uint64_t last_arrival[2]; /* latest arrival queued from end[k], to keep order */
	struct event *head;       /* messages in flight, in send order */
	struct event *tail;
	size_t inflight;          /* length of that list */
	bool in_map;              /* false once closed gracefully (it only drains) */
	struct conn *prev[2];     /* neighbours in the connection list of end[k] */
	struct conn *next[2];
};

/* Per directed link state that differs from the default. */
struct link_state {
	bool has_params;        /* an override of latency, jitter, extra loss and dup */
	struct sim_link params; /* the override */
	bool cut;               /* the link drops everything */
};

/* One node slot. */
struct node {
	void *ptr;                       /* the caller's node */
	const struct sim_node_ops *ops;  /* how to call it */
	bool up;                         /* false between sim_crash() and sim_restart() */
	uint32_t epoch;                  /* crashes so far */
	int group;                       /* partition group */
	struct event *tick;              /* its timer event, queued when a deadline is set */
	struct conn *conns;              /* connections with this node at one end */
	struct sim_counters c[SIM_CHANNELS];
};

/* One line of the trace ring. */
struct trace_line {
	uint64_t time;
	int node;
	char text[SIM_TRACE_WIDTH];
};

/* Open-addressing hash map from a 64-bit key (never MAP_EMPTY) to a pointer. */
#define MAP_EMPTY UINT64_MAX
struct map_slot {
	uint64_t key;
	void *val;
};
struct map {
	struct map_slot *slots; /* cap slots, cap a power of two (or 0) */
	size_t cap;
	size_t len;             /* keys present */
};

struct sim {
	uint64_t seed;              /* the run's seed */
	uint64_t now;               /* virtual time, ms */
	uint64_t seq;               /* next event sequence number */
	struct event **heap;        /* min-heap on (time, seq) */
	size_t heap_len;
	size_t heap_cap;
	struct node *nodes;         /* node slots */
	int n_nodes;
	int cap_nodes;
	struct sim_rng net_rng;     /* every random network decision */
	struct sim_rng user_rng;    /* sim_rand() for the harness */
	struct sim_link dflt;       /* the default link; its loss/dup are global */
	struct map links;           /* (from << 32 | to) -> struct link_state */
	struct map conns;           /* (min << 32 | max) -> struct conn */
	uint64_t connect_extra_ms;  /* added to the round trip for a connect */
	uint64_t fail_ms;           /* delay before a sender hears of a broken stream */
	size_t max_datagram;        /* longer datagrams fail the run */
	struct sim_counters total[SIM_CHANNELS]; /* the whole network */

	uint64_t events;            /* processed */
	int current;                /* node of the event being processed */
	bool in_step;               /* guards against running the sim from a callback */
	uint64_t stall_limit;       /* events allowed at one time stamp */
	uint64_t stall_count;       /* events at stall_time so far */
	uint64_t stall_time;
	bool (*check)(struct sim *sim, void *data); /* invariant hook */
	void *check_data;

	bool failed;                /* the run is stopped */
	uint64_t fail_time;
	int fail_node;
	char fail_msg[512];         /* what the failing party said */
	char failure[640];          /* "seed S t=T node=N: msg" */

	struct trace_line *ring;    /* allocated on the first line */
	size_t ring_cap;
	size_t ring_len;
	size_t ring_head;           /* slot the next line goes to */
	uint64_t trace_total;
	FILE *echo;                 /* prints lines as they come when set */
	bool trace_net;             /* trace drops and connects too */

	uint64_t hash;              /* sim_trace_hash() */
};

static void conn_unlink(struct sim *s, struct conn *c);

/* ---- Small helpers ---------------------------------------------------------- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "sim: out of memory allocating %zu bytes\n", n);
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "sim: out of memory growing to %zu bytes\n", n);
		abort();
	}
	return q;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mix64(uint64_t x)
{
	return splitmix64(&x);
}

/* ---- PRNG ------------------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void sim_rng_seed(struct sim_rng *rng, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
	/* splitmix64 never yields four zeros in a row, but be explicit. */
	if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
		rng->s[0] = 1;
}

uint64_t sim_rng_next(struct sim_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sim_rng_below(struct sim_rng *rng, uint64_t n)
{
	if (n <= 1)
		return 0;
	/* Reject the top partial range so every value is equally likely. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = sim_rng_next(rng);
	while (x >= limit);
	return x % n;
}

double sim_rng_double(struct sim_rng *rng)
{
	return (double)(sim_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t sim_rand(struct sim *sim)
{
	return sim_rng_next(&sim->user_rng);
}

uint64_t sim_rand_below(struct sim *sim, uint64_t n)
{
	return sim_rng_below(&sim->user_rng, n);
}

double sim_rand_double(struct sim *sim)
{
	return sim_rng_double(&sim->user_rng);
}

/* ---- Hash map ----------------------------------------------------------------- */

static void *map_get(const struct map *m, uint64_t key)
{
	if (m->len == 0)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
		if (m->slots[i].key == key)
			return m->slots[i].val;
		if (m->slots[i].key == MAP_EMPTY)
			return NULL;
	}
}

static void map_insert_slot(struct map *m, uint64_t key, void *val)
{
	size_t mask = m->cap - 1;
	size_t i = mix64(key) & mask;
	while (m->slots[i].key != MAP_EMPTY && m->slots[i].key != key)
		i = (i + 1) & mask;
	if (m->slots[i].key == MAP_EMPTY)
		m->len++;
	m->slots[i].key = key;
	m->slots[i].val = val;
}

static void map_put(struct map *m, uint64_t key, void *val)
{
	if ((m->len + 1) * 4 > m->cap * 3) {
		struct map old = *m;
		m->cap = old.cap ? old.cap * 2 : 64;
		m->slots = xmalloc(m->cap * sizeof(*m->slots));
		for (size_t i = 0; i < m->cap; i++)
			m->slots[i].key = MAP_EMPTY;
		m->len = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].key != MAP_EMPTY)
				map_insert_slot(m, old.slots[i].key, old.slots[i].val);
		free(old.slots);
	}
	map_insert_slot(m, key, val);
}

static void map_del(struct map *m, uint64_t key)
{
	if (m->len == 0)
		return;
	size_t mask = m->cap - 1;
	size_t i = mix64(key) & mask;
	while (m->slots[i].key != key) {
		if (m->slots[i].key == MAP_EMPTY)
			return;
		i = (i + 1) & mask;
	}
	/* Backward-shift deletion: pull later entries of the probe run into the hole
	 * unless their home slot lies cyclically in (hole, their slot]. */
	for (size_t j = i;;) {
		j = (j + 1) & mask;
		if (m->slots[j].key == MAP_EMPTY)
			break;
		size_t home = mix64(m->slots[j].key) & mask;
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = MAP_EMPTY;
	m->slots[i].val = NULL;
	m->len--;
}

static void map_free_all(struct map *m, bool free_vals)
{
	if (free_vals)
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key != MAP_EMPTY)
				free(m->slots[i].val);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}

static uint64_t link_key(int from, int to)
{
	return ((uint64_t)(uint32_t)from << 32) | (uint32_t)to;
}

static uint64_t pair_key(int a, int b)
{
	return a < b ? link_key(a, b) : link_key(b, a);
}

/* ---- Event heap ------------------------------------------------------------------- */

static bool ev_before(const struct event *a, const struct event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void heap_place(struct sim *s, size_t i, struct event *e)
{
	s->heap[i] = e;
	e->heap_idx = i;
}

static void heap_up(struct sim *s, size_t i)
{
	struct event *e = s->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!ev_before(e, s->heap[parent]))
			break;
		heap_place(s, i, s->heap[parent]);
		i = parent;
	}
	heap_place(s, i, e);
}

static void heap_down(struct sim *s, size_t i)
{
	struct event *e = s->heap[i];
	for (;;) {
		size_t l = 2 * i + 1;
		if (l >= s->heap_len)
			break;
		size_t c = l;
		if (l + 1 < s->heap_len && ev_before(s->heap[l + 1], s->heap[l]))
			c = l + 1;
		if (!ev_before(s->heap[c], e))
			break;
		heap_place(s, i, s->heap[c]);
		i = c;
	}
	heap_place(s, i, e);
}

/* Queues e at e->time, stamping its sequence number. */
static void heap_push(struct sim *s, struct event *e)
{
	if (s->heap_len == s->heap_cap) {
		s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
		s->heap = xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
	}
	e->seq = s->seq++;
	heap_place(s, s->heap_len++, e);
	heap_up(s, e->heap_idx);
}

/* Takes e out of the heap wherever it is. */
static void heap_remove(struct sim *s, struct event *e)
{
	size_t i = e->heap_idx;
	struct event *last = s->heap[--s->heap_len];
	if (i != s->heap_len) {
		heap_place(s, i, last);
		heap_up(s, i);
		heap_down(s, last->heap_idx);
	}
	e->heap_idx = NOT_QUEUED;
}

static struct event *heap_pop(struct sim *s)
{
	struct event *e = s->heap[0];
	heap_remove(s, e);
	return e;
}

static struct event *ev_new(enum ev_kind kind, const void *buf, size_t len)
{
	struct event *e = xmalloc(sizeof(*e) + len);
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->heap_idx = NOT_QUEUED;
	e->to = -1;
	e->from = -1;
	e->len = len;
	if (len)
		memcpy(e->payload, buf, len);
	return e;
}

/* ---- Trace, hash, failure ------------------------------------------------------------ */

static void hash_word(struct sim *s, uint64_t v)
{
	uint64_t h = (s->hash ^ v) * 0x9e3779b97f4a7c15ULL;
	s->hash = h ^ (h >> 32);
}

static void hash_event(struct sim *s, const struct event *e)
{
	hash_word(s, ((uint64_t)e->kind << 32) | (uint32_t)e->ch);
	hash_word(s, e->time);
	hash_word(s, link_key(e->from, e->to));
	hash_word(s, e->len);
	size_t i = 0;
	for (; i + 8 <= e->len; i += 8) {
		uint64_t w;
		memcpy(&w, e->payload + i, 8);
		hash_word(s, w);
	}
	if (i < e->len) {
		uint64_t w = 0;
		memcpy(&w, e->payload + i, e->len - i);
		hash_word(s, w);
	}
}

static void node_label(int node, char out[16])
{
	if (node < 0)
		snprintf(out, 16, "sim");
	else
		snprintf(out, 16, "n%d", node);
}

static void trace_v(struct sim *s, int node, const char *fmt, va_list ap)
{
	s->trace_total++;
	if (s->ring_cap == 0 && !s->echo)
		return;
	struct trace_line tmp;
	struct trace_line *line = &tmp;
	if (s->ring_cap) {
		if (!s->ring)
			s->ring = xmalloc(s->ring_cap * sizeof(*s->ring));
		line = &s->ring[s->ring_head];
		s->ring_head = (s->ring_head + 1) % s->ring_cap;
		if (s->ring_len < s->ring_cap)
			s->ring_len++;
	}
	line->time = s->now;
	line->node = node;
	vsnprintf(line->text, sizeof(line->text), fmt, ap);
	if (s->echo) {
		char label[16];
		node_label(node, label);
		fprintf(s->echo, "%10" PRIu64 " ms  %-6s %s\n", line->time, label, line->text);
	}
}

void sim_tracef(struct sim *sim, int node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	trace_v(sim, node, fmt, ap);
	va_end(ap);
}

void sim_fail(struct sim *sim, int node, const char *fmt, ...)
{
	if (sim->failed)
		return;
	sim->failed = true;
	sim->fail_time = sim->now;
	sim->fail_node = node;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sim->fail_msg, sizeof(sim->fail_msg), fmt, ap);
	va_end(ap);
	snprintf(sim->failure, sizeof(sim->failure), "seed %" PRIu64 " t=%" PRIu64 " node=%d: %s",
		 sim->seed, sim->fail_time, node, sim->fail_msg);
	sim_tracef(sim, node, "FAIL: %s", sim->fail_msg);
}

bool sim_failed(const struct sim *sim)
{
	return sim->failed;
}

const char *sim_failure(const struct sim *sim)
{
	return sim->failed ? sim->failure : NULL;
}

void sim_set_trace_capacity(struct sim *sim, size_t lines)
{
	free(sim->ring);
	sim->ring = NULL;
	sim->ring_cap = lines;
	sim->ring_len = sim->ring_head = 0;
}

void sim_set_trace_echo(struct sim *sim, FILE *out)
{
	sim->echo = out;
}

void sim_set_trace_net(struct sim *sim, bool on)
{
	sim->trace_net = on;
}

size_t sim_trace_count(const struct sim *sim)
{
	return sim->ring_len;
}

const char *sim_trace_line(const struct sim *sim, size_t i, uint64_t *time, int *node)
{
	if (i >= sim->ring_len)
		return NULL;
	size_t oldest = (sim->ring_head + sim->ring_cap - sim->ring_len) % sim->ring_cap;
	const struct trace_line *line = &sim->ring[(oldest + i) % sim->ring_cap];
	if (time)
		*time = line->time;
	if (node)
		*node = line->node;
	return line->text;
}

uint64_t sim_trace_total(const struct sim *sim)
{
	return sim->trace_total;
}

void sim_trace_dump(const struct sim *sim, FILE *out)
{
	fprintf(out, "--- trace of seed %" PRIu64 ": last %zu of %" PRIu64 " lines ---\n",
		sim->seed, sim->ring_len, sim->trace_total);
	for (size_t i = 0; i < sim->ring_len; i++) {
		uint64_t t;
		int node;
		const char *text = sim_trace_line(sim, i, &t, &node);
		char label[16];
		node_label(node, label);
		fprintf(out, "%10" PRIu64 " ms  %-6s %s\n", t, label, text);
	}
	fprintf(out, "--- end of trace ---\n");
}

uint64_t sim_trace_hash(const struct sim *sim)
{
	return sim->hash;
}

void sim_report(const struct sim *sim, FILE *out, bool with_trace)
{
	if (!sim->failed)
		return;
	fprintf(out, "seed %" PRIu64 ": FAIL t=%" PRIu64 " node=%d: %s\n", sim->seed,
		sim->fail_time, sim->fail_node, sim->fail_msg);
	if (with_trace)
		sim_trace_dump(sim, out);
}

/* ---- Lifecycle ------------------------------------------------------------------------ */

struct sim *sim_new(uint64_t seed)
{
	struct sim *s = xmalloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	/* Two independent streams from one seed: the network's and the harness's. */
	uint64_t x = seed;
	sim_rng_seed(&s->net_rng, splitmix64(&x));
	sim_rng_seed(&s->user_rng, splitmix64(&x));
	s->dflt = (struct sim_link){ .latency_ms = 1 };
	s->fail_ms = 200;
	s->max_datagram = SIM_MAX_DATAGRAM;
	s->current = -1;
	s->stall_limit = 1000000;
	s->stall_time = UINT64_MAX;
	s->ring_cap = SIM_TRACE_DEFAULT_LINES;
	s->hash = 0xcbf29ce484222325ULL;
	return s;
}

void sim_free(struct sim *sim)
{
	if (!sim)
		return;
	for (size_t i = 0; i < sim->heap_len; i++)
		if (sim->heap[i]->kind != EV_TICK)
			free(sim->heap[i]);
	free(sim->heap);
	for (int i = 0; i < sim->n_nodes; i++) {
		struct node *n = &sim->nodes[i];
		free(n->tick);
		/* Each connection is in the lists of both ends: unlink it from both. */
		while (n->conns) {
			struct conn *c = n->conns;
			conn_unlink(sim, c);
			free(c);
		}
	}
	free(sim->nodes);
	map_free_all(&sim->links, true);
	map_free_all(&sim->conns, false);
	free(sim->ring);
	free(sim);
}

uint64_t sim_seed(const struct sim *sim)
{
	return sim->seed;
}

uint64_t sim_now(const struct sim *sim)
{
	return sim->now;
}

uint64_t sim_events(const struct sim *sim)
{
	return sim->events;
}

size_t sim_pending(const struct sim *sim)
{
	return sim->heap_len;
}

int sim_current_node(const struct sim *sim)
{
	return sim->current;
}

void sim_set_stall_limit(struct sim *sim, uint64_t limit)
{
	sim->stall_limit = limit;
}

void sim_set_check(struct sim *sim, bool (*fn)(struct sim *sim, void *data), void *data)
{
	sim->check = fn;
	sim->check_data = data;
}

/* ---- Counters ---------------------------------------------------------------------------- */

#define COUNT(s, node, ch, field, v)                   \
	do {                                           \
		(s)->nodes[(node)].c[(ch)].field += (v); \
		(s)->total[(ch)].field += (v);           \
	} while (0)

static void count_drop(struct sim *s, int sender, enum sim_channel ch, enum drop_reason r)
{
	switch (r) {
	case DROP_LOSS: COUNT(s, sender, ch, dropped_loss, 1); break;
	case DROP_PARTITION: COUNT(s, sender, ch, dropped_partition, 1); break;
	case DROP_CUT: COUNT(s, sender, ch, dropped_cut, 1); break;
	case DROP_CRASH: COUNT(s, sender, ch, dropped_crash, 1); break;
	case DROP_NONE: break;
	}
}

static void counters_add(struct sim_counters *a, const struct sim_counters *b)
{
	a->sent += b->sent;
	a->bytes_sent += b->bytes_sent;
	a->delivered += b->delivered;
	a->bytes_delivered += b->bytes_delivered;
	a->duplicated += b->duplicated;
	a->dropped_loss += b->dropped_loss;
	a->dropped_partition += b->dropped_partition;
	a->dropped_cut += b->dropped_cut;
	a->dropped_crash += b->dropped_crash;
	a->stream_failed += b->stream_failed;
	a->connects += b->connects;
}

struct sim_counters sim_counters(const struct sim *sim, int node, int ch)
{
	struct sim_counters out = { 0 };
	if (node >= sim->n_nodes || ch >= SIM_CHANNELS)
		return out;
	const struct sim_counters *src = node < 0 ? sim->total : sim->nodes[node].c;
	for (int c = 0; c < SIM_CHANNELS; c++)
		if (ch < 0 || ch == c)
			counters_add(&out, &src[c]);
	return out;
}

/* ---- Nodes ----------------------------------------------------------------------------- */

static bool valid_node(const struct sim *s, int i)
{
	return i >= 0 && i < s->n_nodes;
}

/* Asks node i for its deadline and (re)queues its timer. */
static void update_deadline(struct sim *s, int i)
{
	struct node *n = &s->nodes[i];
	if (!n->up || !n->ops->next_deadline)
		return;
	uint64_t d = n->ops->next_deadline(n->ptr);
	n = &s->nodes[i]; /* the call may have added nodes */
	struct event *t = n->tick;
	if (d == SIM_NEVER) {
		if (t->heap_idx != NOT_QUEUED)
			heap_remove(s, t);
		return;
	}
	if (d < s->now)
		d = s->now;
	if (t->heap_idx != NOT_QUEUED) {
		if (t->time == d)
			return;
		heap_remove(s, t);
	}
	t->time = d;
	heap_push(s, t);
}

int sim_add_node(struct sim *sim, void *node, const struct sim_node_ops *ops)
{
	if (sim->n_nodes == sim->cap_nodes) {
		sim->cap_nodes = sim->cap_nodes ? sim->cap_nodes * 2 : 16;
		sim->nodes = xrealloc(sim->nodes, (size_t)sim->cap_nodes * sizeof(*sim->nodes));
	}
	int i = sim->n_nodes++;
	struct node *n = &sim->nodes[i];
	memset(n, 0, sizeof(*n));
	n->ptr = node;
	n->ops = ops;
	n->up = true;
	n->tick = ev_new(EV_TICK, NULL, 0);
	n->tick->to = i;
	update_deadline(sim, i);
	return i;
}

int sim_node_count(const struct sim *sim)
{
	return sim->n_nodes;
}

void *sim_node(const struct sim *sim, int i)
{
	return valid_node(sim, i) ? sim->nodes[i].ptr : NULL;
}

bool sim_node_up(const struct sim *sim, int i)
{
	return valid_node(sim, i) && sim->nodes[i].up;
}

uint32_t sim_node_epoch(const struct sim *sim, int i)
{
	return valid_node(sim, i) ? sim->nodes[i].epoch : 0;
}

uint64_t sim_node_seed(const struct sim *sim, int i)
{
	uint64_t x = sim->seed ^ 0x6a09e667f3bcc909ULL;
	x = splitmix64(&x) ^ (uint64_t)(uint32_t)i;
	x = splitmix64(&x) ^ sim_node_epoch(sim, i);
	return splitmix64(&x);
}

void sim_wake(struct sim *sim, int i)
{
	if (valid_node(sim, i))
		update_deadline(sim, i);
}

/* ---- Links and paths ---------------------------------------------------------------------- */

static const struct link_state *link_state_of(const struct sim *s, int from, int to)
{
	return s->links.len ? map_get(&s->links, link_key(from, to)) : NULL;
}

static struct link_state *link_state_make(struct sim *s, int from, int to)
{
	struct link_state *ls = map_get(&s->links, link_key(from, to));
	if (!ls) {
		ls = xmalloc(sizeof(*ls));
		memset(ls, 0, sizeof(*ls));
		map_put(&s->links, link_key(from, to), ls);
	}
	return ls;
}

static void link_state_maybe_drop(struct sim *s, int from, int to)
{
	struct link_state *ls = map_get(&s->links, link_key(from, to));
	if (ls && !ls->has_params && !ls->cut) {
		map_del(&s->links, link_key(from, to));
		free(ls);
	}
}

static double either(double p, double q)
{
	return 1.0 - (1.0 - p) * (1.0 - q);
}

struct sim_link sim_link_of(const struct sim *sim, int from, int to)
{
	struct sim_link l = sim->dflt;
	const struct link_state *ls = link_state_of(sim, from, to);
	if (ls && ls->has_params) {
		l.latency_ms = ls->params.latency_ms;
		l.jitter_ms = ls->params.jitter_ms;
		l.loss = either(sim->dflt.loss, ls->params.loss);
		l.dup = either(sim->dflt.dup, ls->params.dup);
	}
	return l;
}

static bool is_cut(const struct sim *s, int from, int to)
{
	const struct link_state *ls = link_state_of(s, from, to);
	return ls && ls->cut;
}

/* Whether a message from -> to can pass now; both directions for a stream. */
static enum drop_reason path_check(const struct sim *s, int from, int to, bool both_ways)
{
	if (!s->nodes[to].up)
		return DROP_CRASH;
	if (is_cut(s, from, to) || (both_ways && is_cut(s, to, from)))
		return DROP_CUT;
	if (s->nodes[from].group != s->nodes[to].group)
		return DROP_PARTITION;
	return DROP_NONE;
}

static uint64_t draw_delay(struct sim *s, const struct sim_link *l)
{
	uint64_t d = l->latency_ms;
	if (l->jitter_ms)
		d += sim_rng_below(&s->net_rng, l->jitter_ms + 1);
	return d;
}

void sim_set_default_link(struct sim *sim, const struct sim_link *link)
{
	sim->dflt = *link;
	sim_tracef(sim, -1, "default link: latency %" PRIu64 " ms, jitter %" PRIu64 " ms, loss %.4f, dup %.4f",
		   link->latency_ms, link->jitter_ms, link->loss, link->dup);
}

struct sim_link sim_default_link(const struct sim *sim)
{
	return sim->dflt;
}

void sim_set_loss(struct sim *sim, double loss)
{
	sim->dflt.loss = loss;
	sim_tracef(sim, -1, "global loss %.4f", loss);
}

void sim_set_dup(struct sim *sim, double dup)
{
	sim->dflt.dup = dup;
	sim_tracef(sim, -1, "global duplication %.4f", dup);
}

void sim_set_link(struct sim *sim, int from, int to, const struct sim_link *link)
{
	if (!valid_node(sim, from) || !valid_node(sim, to)) {
		sim_fail(sim, -1, "sim_set_link: no link %d -> %d", from, to);
		return;
	}
	struct link_state *ls = link_state_make(sim, from, to);
	ls->has_params = true;
	ls->params = *link;
	sim_tracef(sim, -1, "link n%d->n%d: latency %" PRIu64 " ms, jitter %" PRIu64 " ms, loss %.4f, dup %.4f",
		   from, to, link->latency_ms, link->jitter_ms, link->loss, link->dup);
}

void sim_clear_link(struct sim *sim, int from, int to)
{
	struct link_state *ls = map_get(&sim->links, link_key(from, to));
	if (!ls)
		return;
	ls->has_params = false;
	link_state_maybe_drop(sim, from, to);
}

void sim_set_stream_timing(struct sim *sim, uint64_t connect_extra_ms, uint64_t fail_ms)
{
	sim->connect_extra_ms = connect_extra_ms;
	sim->fail_ms = fail_ms;
}

void sim_set_max_datagram(struct sim *sim, size_t max)
{
	sim->max_datagram = max;
}

/* ---- Stream connections ------------------------------------------------------------------- */

static int conn_side(const struct conn *c, int node)
{
	return c->end[0] == node ? 0 : 1;
}

static void conn_link(struct sim *s, struct conn *c)
{
	for (int k = 0; k < 2; k++) {
		struct node *n = &s->nodes[c->end[k]];
		c->prev[k] = NULL;
		c->next[k] = n->conns;
		if (n->conns)
			n->conns->prev[conn_side(n->conns, c->end[k])] = c;
		n->conns = c;
	}
}

static void conn_unlink(struct sim *s, struct conn *c)
{
	for (int k = 0; k < 2; k++) {
		int node = c->end[k];
		if (c->prev[k])
			c->prev[k]->next[conn_side(c->prev[k], node)] = c->next[k];
		else
			s->nodes[node].conns = c->next[k];
		if (c->next[k])
			c->next[k]->prev[conn_side(c->next[k], node)] = c->prev[k];
	}
}

static void conn_remove_msg(struct conn *c, struct event *e)
{
	if (e->cprev)
		e->cprev->cnext = e->cnext;
	else
		c->head = e->cnext;
	if (e->cnext)
		e->cnext->cprev = e->cprev;
	else
		c->tail = e->cprev;
	e->cprev = e->cnext = NULL;
	e->conn = NULL;
	c->inflight--;
}

static void notify_later(struct sim *s, struct event *e, enum ev_kind kind, int node, int peer)
{
	e->kind = kind;
	e->to = node;
	e->from = peer;
	e->to_epoch = s->nodes[node].epoch;
	e->conn = NULL;
	e->time = s->now + s->fail_ms;
	heap_push(s, e);
}

/* Breaks c: every message in flight is lost and its live sender told, then each
 * live end that knew of the connection is told it broke. */
static void conn_break(struct sim *s, struct conn *c, enum drop_reason why)
{
	if (c->in_map)
		map_del(&s->conns, pair_key(c->end[0], c->end[1]));
	conn_unlink(s, c);
	bool established = s->now >= c->established_at;
	size_t lost = c->inflight;
	sim_tracef(s, -1, "stream n%d<->n%d broken (%s), %zu message%s in flight lost",
		   c->end[0], c->end[1], drop_names[why], lost, lost == 1 ? "" : "s");
	while (c->head) {
		struct event *e = c->head;
		conn_remove_msg(c, e);
		heap_remove(s, e);
		int sender = e->from, peer = e->to;
		count_drop(s, sender, SIM_STREAM, why);
		COUNT(s, sender, SIM_STREAM, stream_failed, 1);
		if (s->nodes[sender].up && s->nodes[sender].epoch == e->from_epoch)
			notify_later(s, e, EV_STREAM_FAIL, sender, peer);
		else
			free(e);
	}
	for (int k = 0; k < 2; k++) {
		int node = c->end[k];
		if (s->nodes[node].up && (k == 0 || established))
			notify_later(s, ev_new(EV_STREAM_RESET, NULL, 0), EV_STREAM_RESET, node,
				     c->end[1 - k]);
	}
	free(c);
}

static void conn_break_crossing(struct sim *s, int node)
{
	struct conn *c = s->nodes[node].conns;
	while (c) {
		struct conn *next = c->next[conn_side(c, node)];
		int other = c->end[1 - conn_side(c, node)];
		if (s->nodes[other].group != s->nodes[node].group)
			conn_break(s, c, DROP_PARTITION);
		c = next;
	}
}

bool sim_stream_open(const struct sim *sim, int a, int b)
{
	return sim->conns.len && map_get(&sim->conns, pair_key(a, b)) != NULL;
}

void sim_stream_close(struct sim *sim, int a, int b)
{
	struct conn *c = sim->conns.len ? map_get(&sim->conns, pair_key(a, b)) : NULL;
	if (!c)
		return;
	map_del(&sim->conns, pair_key(a, b));
	c->in_map = false;
	sim_tracef(sim, -1, "stream n%d<->n%d closed, %zu in flight", a, b, c->inflight);
	if (c->inflight == 0) {
		conn_unlink(sim, c);
		free(c);
	}
}

static void stream_send(struct sim *s, int from, int to, const void *buf, size_t len)
{
	struct conn *c = s->conns.len ? map_get(&s->conns, pair_key(from, to)) : NULL;
	if (!c) {
		enum drop_reason why = path_check(s, from, to, true);
		if (why != DROP_NONE) {
			/* The connect fails: the sender hears of it after the timeout. */
			count_drop(s, from, SIM_STREAM, why);
			COUNT(s, from, SIM_STREAM, stream_failed, 1);
			if (s->trace_net)
				sim_tracef(s, from, "stream connect to n%d failed (%s)", to, drop_names[why]);
			notify_later(s, ev_new(EV_STREAM_FAIL, buf, len), EV_STREAM_FAIL, from, to);
			return;
		}
		c = xmalloc(sizeof(*c));
		memset(c, 0, sizeof(*c));
		c->end[0] = from;
		c->end[1] = to;
		c->established_at = s->now + sim_link_of(s, from, to).latency_ms +
				    sim_link_of(s, to, from).latency_ms + s->connect_extra_ms;
		c->in_map = true;
		map_put(&s->conns, pair_key(from, to), c);
		conn_link(s, c);
		COUNT(s, from, SIM_STREAM, connects, 1);
		if (s->trace_net)
			sim_tracef(s, from, "stream connect to n%d, up at %" PRIu64, to, c->established_at);
	}
	int dir = conn_side(c, from);
	struct sim_link l = sim_link_of(s, from, to);
	uint64_t start = s->now > c->established_at ? s->now : c->established_at;
	uint64_t t = start + draw_delay(s, &l);
	if (t < c->last_arrival[dir])
		t = c->last_arrival[dir];
	c->last_arrival[dir] = t;

	struct event *e = ev_new(EV_STREAM, buf, len);
	e->ch = SIM_STREAM;
	e->from = from;
	e->to = to;
	e->from_epoch = s->nodes[from].epoch;
	e->to_epoch = s->nodes[to].epoch;
	e->time = t;
	e->conn = c;
	e->cprev = c->tail;
	if (c->tail)
		c->tail->cnext = e;
	else
		c->head = e;
	c->tail = e;
	c->inflight++;
	heap_push(s, e);
}

/* ---- Sending ------------------------------------------------------------------------------ */

static void dgram_queue(struct sim *s, int from, int to, const void *buf, size_t len, uint64_t delay)
{
	struct event *e = ev_new(EV_DGRAM, buf, len);
	e->ch = SIM_DATAGRAM;
	e->from = from;
	e->to = to;
	e->from_epoch = s->nodes[from].epoch;
	e->to_epoch = s->nodes[to].epoch;
	e->time = s->now + delay;
	heap_push(s, e);
}

void sim_send(struct sim *sim, int from, int to, enum sim_channel ch, const void *buf, size_t len)
{
	if (sim->failed)
		return;
	if (!valid_node(sim, from) || !valid_node(sim, to) || (ch != SIM_DATAGRAM && ch != SIM_STREAM)) {
		sim_fail(sim, valid_node(sim, from) ? from : -1,
			 "sim_send: bad arguments from=%d to=%d channel=%d (%d nodes)", from, to, (int)ch,
			 sim->n_nodes);
		return;
	}
	if (!sim->nodes[from].up) {
		sim_fail(sim, from, "sim_send: node %d is down and cannot send", from);
		return;
	}
	if (ch == SIM_STREAM && from == to) {
		sim_fail(sim, from, "sim_send: a stream from node %d to itself", from);
		return;
	}
	if (ch == SIM_DATAGRAM && len > sim->max_datagram) {
		sim_fail(sim, from, "sim_send: datagram of %zu bytes to n%d exceeds the limit of %zu",
			 len, to, sim->max_datagram);
		return;
	}
	COUNT(sim, from, ch, sent, 1);
	COUNT(sim, from, ch, bytes_sent, len);
	if (ch == SIM_STREAM) {
		stream_send(sim, from, to, buf, len);
		return;
	}

	enum drop_reason why = path_check(sim, from, to, false);
	struct sim_link l = sim_link_of(sim, from, to);
	if (why == DROP_NONE && l.loss > 0 && sim_rng_double(&sim->net_rng) < l.loss)
		why = DROP_LOSS;
	if (why != DROP_NONE) {
		count_drop(sim, from, SIM_DATAGRAM, why);
		if (sim->trace_net)
			sim_tracef(sim, from, "dgram to n%d of %zu bytes dropped (%s)", to, len, drop_names[why]);
		return;
	}
	dgram_queue(sim, from, to, buf, len, draw_delay(sim, &l));
	if (l.dup > 0 && sim_rng_double(&sim->net_rng) < l.dup) {
		COUNT(sim, from, SIM_DATAGRAM, duplicated, 1);
		uint64_t delay = draw_delay(sim, &l);
		if (sim->trace_net)
			sim_tracef(sim, from, "dgram to n%d of %zu bytes duplicated, copy in %" PRIu64 " ms",
				   to, len, delay);
		dgram_queue(sim, from, to, buf, len, delay);
	}
}

/* ---- Crashes, cuts, partitions --------------------------------------------------------------- */

void sim_crash(struct sim *sim, int i)
{
	if (!valid_node(sim, i)) {
		sim_fail(sim, -1, "sim_crash: no node %d", i);
		return;
	}
	struct node *n = &sim->nodes[i];
	if (!n->up)
		return;
	n->up = false;
	n->epoch++;
	if (n->tick->heap_idx != NOT_QUEUED)
		heap_remove(sim, n->tick);
	sim_tracef(sim, i, "crash (epoch %" PRIu32 ")", n->epoch);
	while (sim->nodes[i].conns)
		conn_break(sim, sim->nodes[i].conns, DROP_CRASH);
}

void sim_restart(struct sim *sim, int i, void *node)
{
	if (!valid_node(sim, i) || sim->nodes[i].up) {
		sim_fail(sim, i, "sim_restart: node %d is not a crashed node", i);
		return;
	}
	struct node *n = &sim->nodes[i];
	n->ptr = node;
	n->up = true;
	sim_tracef(sim, i, "restart (epoch %" PRIu32 ")", n->epoch);
	update_deadline(sim, i);
}

void sim_cut(struct sim *sim, int from, int to)
{
	if (!valid_node(sim, from) || !valid_node(sim, to)) {
		sim_fail(sim, -1, "sim_cut: no link %d -> %d", from, to);
		return;
	}
	link_state_make(sim, from, to)->cut = true;
	sim_tracef(sim, -1, "cut n%d->n%d", from, to);
	struct conn *c = sim->conns.len ? map_get(&sim->conns, pair_key(from, to)) : NULL;
	if (c)
		conn_break(sim, c, DROP_CUT);
	/* A closing connection is out of the map but may still carry messages. */
	for (c = sim->nodes[from].conns; c;) {
		struct conn *next = c->next[conn_side(c, from)];
		if (c->end[1 - conn_side(c, from)] == to)
			conn_break(sim, c, DROP_CUT);
		c = next;
	}
}

void sim_uncut(struct sim *sim, int from, int to)
{
	struct link_state *ls = sim->links.len ? map_get(&sim->links, link_key(from, to)) : NULL;
	if (!ls || !ls->cut)
		return;
	ls->cut = false;
	sim_tracef(sim, -1, "uncut n%d->n%d", from, to);
	link_state_maybe_drop(sim, from, to);
}

bool sim_is_cut(const struct sim *sim, int from, int to)
{
	return is_cut(sim, from, to);
}

void sim_partition(struct sim *sim, const int *groups, int n)
{
	/* Assign every group first, then break what crosses: moving nodes one by one
	 * would break connections between two nodes that move together. */
	bool *moved = xmalloc((size_t)sim->n_nodes * sizeof(*moved));
	for (int i = 0; i < sim->n_nodes; i++) {
		int g = i < n ? groups[i] : 0;
		moved[i] = sim->nodes[i].group != g;
		sim->nodes[i].group = g;
	}
	sim_tracef(sim, -1, "partition into groups (%d nodes given)", n);
	for (int i = 0; i < sim->n_nodes; i++)
		if (moved[i])
			conn_break_crossing(sim, i);
	free(moved);
}

void sim_set_group(struct sim *sim, int node, int group)
{
	if (!valid_node(sim, node)) {
		sim_fail(sim, -1, "sim_set_group: no node %d", node);
		return;
	}
	if (sim->nodes[node].group == group)
		return;
	sim->nodes[node].group = group;
	sim_tracef(sim, node, "moved to partition group %d", group);
	conn_break_crossing(sim, node);
}

void sim_heal(struct sim *sim)
{
	for (int i = 0; i < sim->n_nodes; i++)
		sim->nodes[i].group = 0;
	sim_tracef(sim, -1, "partition healed");
}

int sim_group(const struct sim *sim, int node)
{
	return valid_node(sim, node) ? sim->nodes[node].group : -1;
}

/* ---- Fake addresses -------------------------------------------------------------------------- */

uint32_t sim_node_ip(int node)
{
	return (10u << 24) | (((uint32_t)node + 1) & 0xffffffu);
}

int sim_ip_node(uint32_t ip)
{
	if ((ip >> 24) != 10 || (ip & 0xffffffu) == 0)
		return -1;
	return (int)(ip & 0xffffffu) - 1;
}

void sim_node_addr(int node, char out[SIM_ADDR_LEN])
{
	uint32_t ip = sim_node_ip(node);
	snprintf(out, SIM_ADDR_LEN, "%u.%u.%u.%u:%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
		 ip & 255, SIM_PORT);
}

int sim_addr_node(const char *addr)
{
	unsigned part[4];
	const char *p = addr;
	for (int k = 0; k < 4; k++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned v = 0;
		int digits = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned)(*p++ - '0');
			if (++digits > 3 || v > 255)
				return -1;
		}
		part[k] = v;
		if (k < 3 && *p++ != '.')
			return -1;
	}
	if (*p == ':') {
		p++;
		unsigned port = 0;
		int digits = 0;
		while (*p >= '0' && *p <= '9') {
			port = port * 10 + (unsigned)(*p++ - '0');
			if (++digits > 5)
				return -1;
		}
		if (digits == 0 || port != SIM_PORT)
			return -1;
	}
	if (*p != '\0')
		return -1;
	return sim_ip_node((part[0] << 24) | (part[1] << 16) | (part[2] << 8) | part[3]);
}

/* ---- Running ------------------------------------------------------------------------------- */

void sim_at(struct sim *sim, uint64_t t, void (*fn)(struct sim *sim, void *data), void *data)
{
	struct event *e = ev_new(EV_CALL, NULL, 0);
	e->time = t < sim->now ? sim->now : t;
	e->fn = fn;
	e->data = data;
	heap_push(sim, e);
}

/* Why a datagram coming up now cannot be delivered, or DROP_NONE. */
static enum drop_reason dgram_fate(const struct sim *s, const struct event *e)
{
	const struct node *from = &s->nodes[e->from], *to = &s->nodes[e->to];
	if (from->epoch != e->from_epoch || !to->up || to->epoch != e->to_epoch)
		return DROP_CRASH;
	return path_check(s, e->from, e->to, false);
}

static void process(struct sim *s, struct event *e)
{
	int i = e->to;
	struct node *n = i >= 0 ? &s->nodes[i] : NULL;
	switch (e->kind) {
	case EV_TICK:
		/* Only live nodes have a queued timer: sim_crash() dequeues it. */
		hash_event(s, e);
		if (n->ops->tick)
			n->ops->tick(n->ptr, s, s->now);
		update_deadline(s, i);
		return; /* the tick event belongs to the node */
	case EV_DGRAM: {
		enum drop_reason why = dgram_fate(s, e);
		if (why != DROP_NONE) {
			count_drop(s, e->from, SIM_DATAGRAM, why);
			if (s->trace_net)
				sim_tracef(s, e->from, "dgram to n%d of %zu bytes dropped in flight (%s)",
					   i, e->len, drop_names[why]);
			break;
		}
		hash_event(s, e);
		COUNT(s, i, SIM_DATAGRAM, delivered, 1);
		COUNT(s, i, SIM_DATAGRAM, bytes_delivered, e->len);
		n->ops->deliver(n->ptr, s, s->now, e->from, e->payload, e->len, SIM_DATAGRAM);
		update_deadline(s, i);
		break;
	}
	case EV_STREAM: {
		/* A connection with messages in flight is never freed, and breaking one
		 * takes its messages out of the heap, so e->conn is live here. */
		struct conn *c = e->conn;
		conn_remove_msg(c, e);
		if (!c->in_map && c->inflight == 0) {
			conn_unlink(s, c);
			free(c);
		}
		hash_event(s, e);
		COUNT(s, i, SIM_STREAM, delivered, 1);
		COUNT(s, i, SIM_STREAM, bytes_delivered, e->len);
		n->ops->deliver(n->ptr, s, s->now, e->from, e->payload, e->len, SIM_STREAM);
		update_deadline(s, i);
		break;
	}
	case EV_STREAM_FAIL:
	case EV_STREAM_RESET:
		if (!n->up || n->epoch != e->to_epoch)
			break;
		hash_event(s, e);
		if (e->kind == EV_STREAM_FAIL && n->ops->stream_failed)
			n->ops->stream_failed(n->ptr, s, s->now, e->from, e->payload, e->len);
		else if (e->kind == EV_STREAM_RESET && n->ops->stream_reset)
			n->ops->stream_reset(n->ptr, s, s->now, e->from);
		update_deadline(s, i);
		break;
	case EV_CALL:
		hash_event(s, e);
		e->fn(s, e->data);
		break;
	}
	free(e);
}

bool sim_step(struct sim *sim)
{
	if (sim->failed)
		return false;
	if (sim->in_step) {
		sim_fail(sim, sim->current, "the simulator was run from inside one of its callbacks");
		return false;
	}
	if (sim->heap_len == 0)
		return false;
	struct event *e = heap_pop(sim);
	sim->now = e->time;
	sim->current = e->to;
	sim->in_step = true;
	process(sim, e);
	sim->in_step = false;
	sim->events++;

	if (sim->now == sim->stall_time) {
		if (sim->stall_limit && ++sim->stall_count > sim->stall_limit)
			sim_fail(sim, sim->current,
				 "time stalled: more than %" PRIu64 " events at t=%" PRIu64
				 " (a deadline that never moves?)",
				 sim->stall_limit, sim->now);
	} else {
		sim->stall_time = sim->now;
		sim->stall_count = 1;
	}
	if (!sim->failed && sim->check && !sim->check(sim, sim->check_data))
		sim_fail(sim, sim->current, "invariant check failed");
	return !sim->failed;
}

bool sim_run_until(struct sim *sim, uint64_t t)
{
	while (!sim->failed && sim->heap_len && sim->heap[0]->time <= t)
		sim_step(sim);
	if (!sim->failed && sim->now < t)
		sim->now = t;
	return !sim->failed;
}

bool sim_run_for(struct sim *sim, uint64_t ms)
{
	uint64_t t = sim->now + ms < sim->now ? UINT64_MAX : sim->now + ms;
	return sim_run_until(sim, t);
}

bool sim_run_until_pred(struct sim *sim, bool (*pred)(struct sim *sim, void *data), void *data,
			uint64_t deadline)
{
	if (sim->failed)
		return false;
	if (pred(sim, data))
		return true;
	while (sim->heap_len && sim->heap[0]->time <= deadline) {
		if (!sim_step(sim))
			return false;
		if (pred(sim, data))
			return true;
	}
	if (sim->now < deadline)
		sim->now = deadline;
	return false;
}
