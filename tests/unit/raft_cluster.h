/* raft_cluster: a fake network, fake disks and a fake clock for unit tests of the raft core. */
#ifndef SWARMNODE_TEST_RAFT_CLUSTER_H
#define SWARMNODE_TEST_RAFT_CLUSTER_H

/*
 * Up to RC_MAXN raft cores, ids 1..n (node i has id i + 1). Every message is
 * encoded with raft_codec, queued with a delivery time (latency ms later), and
 * decoded on arrival, so the codec is exercised by every test. A directed link
 * can be cut; a node can be crashed and restarted from its disk.
 *
 * Each node has a disk that honours raft.h's persistence contract: a write is
 * kept pending until it is "fsynced" (at once, or when the test calls
 * rc_persist for a node in manual mode), then applied to the disk and
 * acknowledged with RAFT_EV_PERSISTED. A crash loses pending writes.
 *
 * Each node has a state machine: a hash chain over the NORMAL entries applied
 * (and the index it stands at). Snapshots carry it. After every update the
 * harness checks: at most one leader per term; every node that applies index i
 * ends up with the same state hash there as every other node.
 *
 * Assertions print the seed so that a failing run can be replayed.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/raft.h"
#include "swarmnode/raft_codec.h"

#define RC_MAXN 9
#define RC_MAX_TERMS 4096
#define RC_MAX_INDEX 100000
#define RC_TRACE_LINES 4096

struct rc_entry {
	uint64_t index, term;
	uint8_t type;
	uint8_t *data;
	size_t len;
};

struct rc_write {
	uint64_t seq;
	bool hs_changed;
	struct raft_hard_state hs;
	bool has_snap;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	size_t snap_len;
	struct rc_entry *entries;
	size_t n;
};

struct rc_msg {
	int from, to;     /* node indexes */
	uint64_t at;      /* delivery time */
	uint64_t seq;     /* queue order */
	uint8_t *buf;
	size_t len;
	uint8_t type;     /* for filters */
};

struct rc_node {
	struct raft *r;               /* NULL while down */
	raft_id id;
	bool manual_persist;          /* writes wait for rc_persist */
	struct raft_config cfg;       /* used at every (re)start */
	/* disk */
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	size_t snap_len;
	struct rc_entry *log;
	size_t n_log, cap_log;
	struct rc_write *pw;          /* pending writes */
	size_t n_pw, cap_pw;
	/* state machine */
	uint64_t sm_index;            /* last applied index */
	uint64_t sm_hash;             /* hash chain of applied commands */
	uint64_t sm_count;            /* commands applied */
	uint64_t sm_last;             /* last command's value (first 8 bytes) */
	/* outputs seen */
	struct raft_read_result reads[256];
	uint64_t read_sm_count[256];  /* commands applied when the read was answered */
	size_t n_reads;
	struct raft_note notes[64];
	size_t n_notes;
	uint64_t restores;            /* snapshots restored */
	uint64_t deadline;
	uint64_t last_proposed_index, last_proposed_term;
	int last_rc;
	/* counters */
	uint64_t sent[RAFT_MSG_TYPE_MAX + 1];
	uint64_t writes;
};

struct rc_cluster {
	uint64_t seed;
	uint64_t now;
	int n;
	struct rc_node nodes[RC_MAXN];
	struct rc_msg *q;
	size_t n_q, cap_q;
	uint64_t qseq;
	bool cut[RC_MAXN][RC_MAXN];
	uint64_t latency;
	double loss;                  /* probability a message is lost */
	uint64_t rng;                 /* for loss */
	bool hold;                    /* queue messages without delivering them */
	/* checks */
	raft_id leader_of[RC_MAX_TERMS];
	uint64_t *hash_at;            /* state hash after applying index (0: unknown) */
	uint64_t max_commit;          /* highest commit index any node reached */
	uint64_t *term_at;            /* term of committed entry index, 0 unknown */
	/* trace */
	char (*trace)[200];
	int *trace_node;
	size_t n_trace, trace_total;
	bool echo;
	const struct raft_heap *heap; /* given to every core */
	uint64_t leaders_elected;
};

#define RC_FAIL(c, ...)                                                                  \
	do {                                                                             \
		print_error("seed %" PRIu64 " t=%" PRIu64 ": ", (c)->seed, (c)->now);  \
		rc_dump_trace(c, 40);                                                     \
		fail_msg(__VA_ARGS__);                                                   \
	} while (0)

#define RC_CHECK(c, cond, ...)                   \
	do {                                     \
		if (!(cond))                     \
			RC_FAIL(c, __VA_ARGS__); \
	} while (0)

static inline void rc_dump_trace(struct rc_cluster *c, size_t last)
{
	size_t n = c->n_trace < last ? c->n_trace : last;
	for (size_t i = c->n_trace - n; i < c->n_trace; i++)
		print_error("  n%d %s\n", c->trace_node[i % RC_TRACE_LINES], c->trace[i % RC_TRACE_LINES]);
}

struct rc_trace_ctx {
	struct rc_cluster *c;
	int node;
};
static struct rc_trace_ctx rc_trace_ctxs[RC_MAXN];

static inline void rc_trace_cb(void *data, uint64_t now, const char *line)
{
	struct rc_trace_ctx *t = data;
	struct rc_cluster *c = t->c;
	size_t slot = c->n_trace % RC_TRACE_LINES;
	snprintf(c->trace[slot], sizeof(c->trace[slot]), "%6" PRIu64 " %s", now, line);
	c->trace_node[slot] = t->node;
	c->n_trace++;
	if (c->n_trace > RC_TRACE_LINES) {
		/* keep n_trace as the count of lines in the ring */
	}
	c->trace_total++;
	if (c->echo)
		fprintf(stderr, "n%d %6" PRIu64 " %s\n", t->node, now, line);
}

/* True if node i traced a line containing s since the trace was last cleared. */
static inline bool rc_traced(const struct rc_cluster *c, int i, const char *s)
{
	size_t n = c->n_trace < RC_TRACE_LINES ? c->n_trace : RC_TRACE_LINES;
	for (size_t k = 0; k < n; k++) {
		size_t slot = (c->n_trace - n + k) % RC_TRACE_LINES;
		if ((i < 0 || c->trace_node[slot] == i) && strstr(c->trace[slot], s) != NULL)
			return true;
	}
	return false;
}

static inline void rc_trace_clear(struct rc_cluster *c)
{
	c->n_trace = 0;
}

static inline uint64_t rc_rand(struct rc_cluster *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void *rc_xmalloc(size_t n)
{
	void *p = malloc(n > 0 ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static inline uint8_t *rc_dup(const uint8_t *p, size_t n)
{
	if (n == 0)
		return NULL;
	uint8_t *q = rc_xmalloc(n);
	memcpy(q, p, n);
	return q;
}

/* ---- the state machine ------------------------------------------------------- */

static inline uint64_t rc_hash_step(uint64_t h, const uint8_t *p, size_t n)
{
	h ^= 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* Snapshot bytes: index, hash, count, last, then padding up to pad bytes. */
static inline size_t rc_sm_encode(const struct rc_node *nd, uint8_t *buf, size_t pad)
{
	uint64_t v[4] = { nd->sm_index, nd->sm_hash, nd->sm_count, nd->sm_last };
	memcpy(buf, v, sizeof(v));
	size_t len = sizeof(v) > pad ? sizeof(v) : pad;
	for (size_t i = sizeof(v); i < len; i++)
		buf[i] = (uint8_t)(i * 7 + nd->sm_index);
	return len;
}

static inline void rc_check_hash(struct rc_cluster *c, int i)
{
	struct rc_node *nd = &c->nodes[i];
	if (nd->sm_index == 0 || nd->sm_index >= RC_MAX_INDEX)
		return;
	uint64_t *h = &c->hash_at[nd->sm_index];
	if (*h == 0)
		*h = nd->sm_hash;
	RC_CHECK(c, *h == nd->sm_hash, "node %d state at index %" PRIu64 " differs from another node's",
		 i, nd->sm_index);
}

/* ---- disk ---------------------------------------------------------------------- */

static inline void rc_entries_free(struct rc_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].data);
}

static inline void rc_disk_append(struct rc_node *nd, const struct rc_entry *e)
{
	if (nd->n_log == nd->cap_log) {
		nd->cap_log = nd->cap_log ? nd->cap_log * 2 : 64;
		nd->log = realloc(nd->log, nd->cap_log * sizeof(*nd->log));
		if (nd->log == NULL)
			abort();
	}
	nd->log[nd->n_log++] = *e;
}

/* Applies one pending write to the disk (takes its memory). */
static inline void rc_disk_apply(struct rc_node *nd, struct rc_write *w)
{
	if (w->hs_changed)
		nd->hs = w->hs;
	if (w->has_snap) {
		free(nd->snap_data);
		nd->snap = w->snap;
		nd->snap_data = w->snap_data;
		nd->snap_len = w->snap_len;
		w->snap_data = NULL;
		rc_entries_free(nd->log, nd->n_log);
		nd->n_log = 0;
	}
	if (w->n > 0) {
		uint64_t from = w->entries[0].index;
		size_t keep = 0;
		while (keep < nd->n_log && nd->log[keep].index < from)
			keep++;
		rc_entries_free(nd->log + keep, nd->n_log - keep);
		nd->n_log = keep;
		for (size_t i = 0; i < w->n; i++)
			rc_disk_append(nd, &w->entries[i]);
	}
	free(w->entries);
	w->entries = NULL;
	nd->writes++;
}

static inline void rc_write_free(struct rc_write *w)
{
	rc_entries_free(w->entries, w->n);
	free(w->entries);
	free(w->snap_data);
}

/* ---- stepping ---------------------------------------------------------------------- */

static inline void rc_step(struct rc_cluster *c, int i, const struct raft_event *ev);

static inline int rc_index_of(const struct rc_cluster *c, raft_id id)
{
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].id == id)
			return i;
	return -1;
}

static inline void rc_send(struct rc_cluster *c, int from, const struct raft_message *m)
{
	int to = rc_index_of(c, m->to);
	c->nodes[from].sent[m->type]++;
	size_t cap = raft_msg_encoded_max(m);
	uint8_t *buf = rc_xmalloc(cap);
	size_t len;
	int rc = raft_msg_encode(m, buf, cap, &len);
	RC_CHECK(c, rc == 0, "encode %s: %s", raft_msg_type_str(m->type), raft_strerror(rc));
	if (to < 0 || c->cut[from][to] || (c->loss > 0 && (double)(rc_rand(c) >> 11) / 9007199254740992.0 < c->loss)) {
		free(buf);
		return;
	}
	if (c->n_q == c->cap_q) {
		c->cap_q = c->cap_q ? c->cap_q * 2 : 256;
		c->q = realloc(c->q, c->cap_q * sizeof(*c->q));
		if (c->q == NULL)
			abort();
	}
	c->q[c->n_q++] = (struct rc_msg){ .from = from, .to = to, .at = c->now + c->latency,
					   .seq = c->qseq++, .buf = buf, .len = len, .type = m->type };
}

/* Makes node i's pending writes durable and acknowledges them. */
static inline void rc_persist(struct rc_cluster *c, int i)
{
	struct rc_node *nd = &c->nodes[i];
	if (nd->r == NULL || nd->n_pw == 0)
		return;
	uint64_t seq = 0;
	for (size_t k = 0; k < nd->n_pw; k++) {
		rc_disk_apply(nd, &nd->pw[k]);
		seq = nd->pw[k].seq;
	}
	nd->n_pw = 0;
	struct raft_event ev = { .type = RAFT_EV_PERSISTED, .now = c->now };
	ev.persisted.seq = seq;
	rc_step(c, i, &ev);
}

static inline void rc_handle(struct rc_cluster *c, int i, const struct raft_update *up)
{
	struct rc_node *nd = &c->nodes[i];
	/* Safety: one leader per term. */
	if (up->role == RAFT_LEADER && up->term < RC_MAX_TERMS) {
		raft_id *l = &c->leader_of[up->term];
		if (*l == RAFT_NONE) {
			*l = nd->id;
			c->leaders_elected++;
		}
		RC_CHECK(c, *l == nd->id, "two leaders in term %" PRIu64 ": %" PRIu64 " and %" PRIu64,
			 up->term, *l, nd->id);
	}
	if (up->commit > c->max_commit)
		c->max_commit = up->commit;
	/* The write. */
	if (up->persist.seq != 0) {
		struct rc_write w = { .seq = up->persist.seq, .hs_changed = up->persist.hard_state_changed,
				      .hs = up->persist.hard_state };
		if (up->persist.snapshot != NULL) {
			w.has_snap = true;
			w.snap = *up->persist.snapshot;
			w.snap_data = rc_dup(up->persist.snapshot_data, up->persist.snapshot_len);
			w.snap_len = up->persist.snapshot_len;
		}
		w.n = up->persist.n_entries;
		w.entries = rc_xmalloc(w.n * sizeof(*w.entries));
		for (size_t k = 0; k < w.n; k++) {
			const struct raft_entry *e = &up->persist.entries[k];
			w.entries[k] = (struct rc_entry){ .index = e->index, .term = e->term, .type = e->type,
							  .data = rc_dup(e->data, e->len), .len = e->len };
		}
		if (nd->n_pw == nd->cap_pw) {
			nd->cap_pw = nd->cap_pw ? nd->cap_pw * 2 : 16;
			nd->pw = realloc(nd->pw, nd->cap_pw * sizeof(*nd->pw));
			if (nd->pw == NULL)
				abort();
		}
		nd->pw[nd->n_pw++] = w;
	}
	if (up->compacted > 0) {
		size_t k = 0;
		while (k < nd->n_log && nd->log[k].index <= up->compacted)
			k++;
		if (k > 0) {
			rc_entries_free(nd->log, k);
			memmove(nd->log, nd->log + k, (nd->n_log - k) * sizeof(*nd->log));
			nd->n_log -= k;
		}
	}
	for (size_t k = 0; k < up->n_messages; k++)
		rc_send(c, i, &up->messages[k]);
	/* Apply. */
	if (up->restore != NULL) {
		uint64_t v[4];
		RC_CHECK(c, up->restore_len >= sizeof(v), "restore of %zu bytes", up->restore_len);
		memcpy(v, up->restore_data, sizeof(v));
		RC_CHECK(c, v[0] == up->restore->index, "snapshot data is for %" PRIu64 ", meta says %" PRIu64,
			 v[0], up->restore->index);
		nd->sm_index = v[0];
		nd->sm_hash = v[1];
		nd->sm_count = v[2];
		nd->sm_last = v[3];
		nd->restores++;
		rc_check_hash(c, i);
	}
	for (size_t k = 0; k < up->n_committed; k++) {
		const struct raft_entry *e = &up->committed[k];
		RC_CHECK(c, e->index == nd->sm_index + 1, "node %d applies %" PRIu64 " after %" PRIu64, i,
			 e->index, nd->sm_index);
		if (e->index < RC_MAX_INDEX) {
			uint64_t *t = &c->term_at[e->index];
			if (*t == 0)
				*t = e->term;
			RC_CHECK(c, *t == e->term, "committed entry %" PRIu64 " has term %" PRIu64
				 " on node %d, %" PRIu64 " elsewhere", e->index, e->term, i, *t);
		}
		nd->sm_index = e->index;
		if (e->type == RAFT_ENTRY_NORMAL) {
			nd->sm_hash = rc_hash_step(nd->sm_hash, e->data, e->len);
			nd->sm_count++;
			nd->sm_last = 0;
			memcpy(&nd->sm_last, e->data, e->len < 8 ? e->len : 8);
		}
		rc_check_hash(c, i);
	}
	for (size_t k = 0; k < up->n_reads && nd->n_reads < 256; k++) {
		nd->read_sm_count[nd->n_reads] = nd->sm_count;
		nd->reads[nd->n_reads++] = up->reads[k];
	}
	for (size_t k = 0; k < up->n_notes && nd->n_notes < 64; k++)
		nd->notes[nd->n_notes++] = up->notes[k];
	nd->deadline = up->deadline;
	if (up->proposed_index != 0) {
		nd->last_proposed_index = up->proposed_index;
		nd->last_proposed_term = up->proposed_term;
	}
	if (!nd->manual_persist)
		rc_persist(c, i);
}

static inline void rc_step(struct rc_cluster *c, int i, const struct raft_event *ev)
{
	struct rc_node *nd = &c->nodes[i];
	struct raft_update up;
	nd->last_rc = raft_step(nd->r, ev, &up);
	rc_handle(c, i, &up);
}

/* ---- lifecycle --------------------------------------------------------------------- */

static inline void rc_config(struct rc_cluster *c, int i, struct raft_config *cfg)
{
	raft_config_default(cfg);
	cfg->id = (raft_id)(i + 1);
	cfg->seed = c->seed * 1000 + (uint64_t)i;
	cfg->election_timeout_ms = 1000;
	cfg->heartbeat_interval_ms = 100;
	cfg->trace = rc_trace_cb;
	cfg->trace_data = &rc_trace_ctxs[i];
	cfg->heap = c->heap;
}

static inline void rc_start(struct rc_cluster *c, int i)
{
	struct rc_node *nd = &c->nodes[i];
	struct raft_entry *es = rc_xmalloc(nd->n_log * sizeof(*es));
	for (size_t k = 0; k < nd->n_log; k++)
		es[k] = (struct raft_entry){ .index = nd->log[k].index, .term = nd->log[k].term,
					     .type = nd->log[k].type, .data = nd->log[k].data,
					     .len = nd->log[k].len };
	struct raft_boot boot = { .hs = nd->hs, .snap = nd->snap.index > 0 ? &nd->snap : NULL,
				  .snap_data = nd->snap_data, .snap_len = nd->snap_len,
				  .entries = es, .n_entries = nd->n_log };
	char err[200] = "";
	int rc;
	/* With a failing heap, raft_new may fail: retry as a host would. */
	for (int tries = 0;; tries++) {
		rc = raft_new(&nd->cfg, &boot, c->now, &nd->r, err, sizeof(err));
		if (rc != RAFT_E_NOMEM || tries > 1000)
			break;
	}
	free(es);
	RC_CHECK(c, rc == 0, "raft_new node %d: %s: %s", i, raft_strerror(rc), err);
	/* The state machine comes back from the snapshot; the log is re-applied. */
	if (nd->snap.index > 0) {
		uint64_t v[4];
		memcpy(v, nd->snap_data, sizeof(v));
		nd->sm_index = v[0];
		nd->sm_hash = v[1];
		nd->sm_count = v[2];
		nd->sm_last = v[3];
	} else {
		nd->sm_index = 0;
		nd->sm_hash = 0;
		nd->sm_count = 0;
		nd->sm_last = 0;
	}
	nd->deadline = raft_deadline(nd->r);
}

/* Sets up n nodes; the first `voters` bootstrap a cluster of voters (the
 * others start empty, to be added later). Does not start them: call
 * rc_start_all after adjusting configs. */
static inline void rc_init(struct rc_cluster *c, int n, int voters, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->seed = seed;
	c->rng = seed;
	c->n = n;
	c->latency = 5;
	c->now = 0;
	c->hash_at = calloc(RC_MAX_INDEX, sizeof(uint64_t));
	c->term_at = calloc(RC_MAX_INDEX, sizeof(uint64_t));
	c->trace = calloc(RC_TRACE_LINES, sizeof(*c->trace));
	c->trace_node = calloc(RC_TRACE_LINES, sizeof(int));
	if (!c->hash_at || !c->term_at || !c->trace || !c->trace_node)
		abort();
	c->echo = getenv("RC_ECHO") != NULL;
	struct raft_configuration conf = { .n = 0 };
	for (int i = 0; i < voters; i++) {
		conf.members[conf.n].id = (raft_id)(i + 1);
		conf.members[conf.n].role = RAFT_VOTER;
		conf.n++;
	}
	for (int i = 0; i < n; i++) {
		struct rc_node *nd = &c->nodes[i];
		rc_trace_ctxs[i] = (struct rc_trace_ctx){ .c = c, .node = i };
		nd->id = (raft_id)(i + 1);
		rc_config(c, i, &nd->cfg);
		if (i < voters) {
			uint8_t buf[RAFT_CONF_ENCODED_MAX];
			struct raft_entry e;
			if (raft_bootstrap(&conf, &nd->hs, &e, buf, sizeof(buf)) != 0)
				abort();
			struct rc_entry re = { .index = 1, .term = 1, .type = e.type,
					       .data = rc_dup(e.data, e.len), .len = e.len };
			rc_disk_append(nd, &re);
		}
	}
}

static inline void rc_start_all(struct rc_cluster *c)
{
	for (int i = 0; i < c->n; i++)
		rc_start(c, i);
}

static inline void rc_crash(struct rc_cluster *c, int i)
{
	struct rc_node *nd = &c->nodes[i];
	raft_free(nd->r);
	nd->r = NULL;
	for (size_t k = 0; k < nd->n_pw; k++)
		rc_write_free(&nd->pw[k]);
	nd->n_pw = 0;
	/* Messages to it in flight are lost. */
	size_t w = 0;
	for (size_t k = 0; k < c->n_q; k++) {
		if (c->q[k].to == i || c->q[k].from == i)
			free(c->q[k].buf);
		else
			c->q[w++] = c->q[k];
	}
	c->n_q = w;
}

static inline void rc_free(struct rc_cluster *c)
{
	for (int i = 0; i < c->n; i++) {
		rc_crash(c, i);
		struct rc_node *nd = &c->nodes[i];
		free(nd->pw);
		rc_entries_free(nd->log, nd->n_log);
		free(nd->log);
		free(nd->snap_data);
	}
	for (size_t k = 0; k < c->n_q; k++)
		free(c->q[k].buf);
	free(c->q);
	free(c->hash_at);
	free(c->term_at);
	free(c->trace);
	free(c->trace_node);
}

/* ---- the network ----------------------------------------------------------------------- */

static inline void rc_isolate(struct rc_cluster *c, int i, bool cut)
{
	for (int j = 0; j < c->n; j++) {
		if (j == i)
			continue;
		c->cut[i][j] = cut;
		c->cut[j][i] = cut;
	}
}

static inline void rc_deliver(struct rc_cluster *c, size_t k)
{
	struct rc_msg m = c->q[k];
	memmove(c->q + k, c->q + k + 1, (c->n_q - k - 1) * sizeof(*c->q));
	c->n_q--;
	if (c->nodes[m.to].r != NULL && !c->cut[m.from][m.to]) {
		struct raft_msg_decoded d;
		char err[RAFT_CODEC_ERR_MAX];
		int rc = raft_msg_decode(m.buf, m.len, &d, err, sizeof(err));
		RC_CHECK(c, rc == 0, "decode: %s", err);
		struct raft_event ev = { .type = RAFT_EV_RECEIVE, .now = c->now };
		ev.receive.msg = &d.msg;
		rc_step(c, m.to, &ev);
		raft_msg_decoded_release(&d);
	}
	free(m.buf);
}

/* Processes the next event at or before `until`; false when none. */
static inline bool rc_next(struct rc_cluster *c, uint64_t until)
{
	size_t best = SIZE_MAX;
	uint64_t t = UINT64_MAX;
	if (!c->hold) {
		for (size_t k = 0; k < c->n_q; k++)
			if (c->q[k].at < t || (c->q[k].at == t && c->q[k].seq < c->q[best].seq)) {
				t = c->q[k].at;
				best = k;
			}
	}
	int tick = -1;
	for (int i = 0; i < c->n; i++) {
		struct rc_node *nd = &c->nodes[i];
		if (nd->r != NULL && nd->deadline < t) {
			t = nd->deadline;
			tick = i;
		}
	}
	if (t > until || t == UINT64_MAX)
		return false;
	if (t > c->now)
		c->now = t;
	if (tick >= 0) {
		struct raft_event ev = { .type = RAFT_EV_TICK, .now = c->now };
		rc_step(c, tick, &ev);
	} else {
		rc_deliver(c, best);
	}
	return true;
}

static inline void rc_run_until(struct rc_cluster *c, uint64_t until)
{
	uint64_t guard = 0;
	while (rc_next(c, until))
		RC_CHECK(c, ++guard < 50000000, "event storm");
	if (c->now < until)
		c->now = until;
}

static inline void rc_run(struct rc_cluster *c, uint64_t ms)
{
	rc_run_until(c, c->now + ms);
}

/* Delivers every queued message now (time does not move). */
static inline void rc_flush(struct rc_cluster *c)
{
	bool h = c->hold;
	c->hold = false;
	while (c->n_q > 0)
		rc_deliver(c, 0);
	c->hold = h;
}

/* Drops every queued message. */
static inline void rc_drop_all(struct rc_cluster *c)
{
	for (size_t k = 0; k < c->n_q; k++)
		free(c->q[k].buf);
	c->n_q = 0;
}

/* The single leader among live nodes, or -1. */
static inline int rc_leader(const struct rc_cluster *c)
{
	int l = -1;
	uint64_t term = 0;
	for (int i = 0; i < c->n; i++) {
		const struct rc_node *nd = &c->nodes[i];
		if (nd->r != NULL && raft_role(nd->r) == RAFT_LEADER && raft_term(nd->r) >= term) {
			l = i;
			term = raft_term(nd->r);
		}
	}
	return l;
}

/* Runs until some live node is leader (max ms); returns it or -1. */
static inline int rc_wait_leader(struct rc_cluster *c, uint64_t max)
{
	uint64_t end = c->now + max;
	while (c->now < end) {
		int l = rc_leader(c);
		if (l >= 0)
			return l;
		if (!rc_next(c, end))
			break;
	}
	return rc_leader(c);
}

/* ---- client operations ---------------------------------------------------------------------- */

static inline int rc_propose(struct rc_cluster *c, int i, uint64_t value)
{
	uint8_t buf[8];
	memcpy(buf, &value, 8);
	struct raft_buf b = { .data = buf, .len = 8 };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .now = c->now };
	ev.propose.bufs = &b;
	ev.propose.n = 1;
	rc_step(c, i, &ev);
	return c->nodes[i].last_rc;
}

static inline int rc_event(struct rc_cluster *c, int i, struct raft_event ev)
{
	ev.now = c->now;
	rc_step(c, i, &ev);
	return c->nodes[i].last_rc;
}

/* True when the leader has committed its whole log and every live member of
 * its configuration has applied all of it. */
static inline bool rc_converged(const struct rc_cluster *c)
{
	int l = rc_leader(c);
	if (l < 0)
		return false;
	uint64_t commit = raft_commit_index(c->nodes[l].r);
	if (commit != raft_last_index(c->nodes[l].r))
		return false;
	const struct raft_configuration *conf = raft_configuration(c->nodes[l].r, NULL);
	for (int i = 0; i < c->n; i++) {
		const struct rc_node *nd = &c->nodes[i];
		if (nd->r != NULL && raft_configuration_find(conf, nd->id) != NULL && nd->sm_index != commit)
			return false;
	}
	return true;
}

static inline bool rc_run_until_converged(struct rc_cluster *c, uint64_t max)
{
	uint64_t end = c->now + max;
	while (!rc_converged(c))
		if (!rc_next(c, end))
			return rc_converged(c);
	return true;
}

/* Checks log matching over every pair of live nodes: if two logs have an
 * entry with the same index and term, all entries before it are identical. */
static inline void rc_check_log_matching(struct rc_cluster *c)
{
	for (int a = 0; a < c->n; a++) {
		for (int b = a + 1; b < c->n; b++) {
			struct raft *ra = c->nodes[a].r, *rb = c->nodes[b].r;
			if (ra == NULL || rb == NULL)
				continue;
			uint64_t last = raft_last_index(ra) < raft_last_index(rb) ? raft_last_index(ra)
										  : raft_last_index(rb);
			bool matched = false;
			for (uint64_t i = last; i >= 1; i--) {
				uint64_t ta = raft_term_at(ra, i), tb = raft_term_at(rb, i);
				if (ta == 0 || tb == 0)
					break; /* compacted */
				if (matched)
					RC_CHECK(c, ta == tb, "log matching: nodes %d and %d agree after %" PRIu64
						 " but differ at it", a, b, i);
				else if (ta == tb)
					matched = true;
			}
		}
	}
}

/* Leader completeness: the leader's log holds every entry committed anywhere. */
static inline void rc_check_leader_complete(struct rc_cluster *c)
{
	int l = rc_leader(c);
	if (l < 0)
		return;
	struct raft *r = c->nodes[l].r;
	for (uint64_t i = 1; i <= c->max_commit && i < RC_MAX_INDEX; i++) {
		uint64_t t = raft_term_at(r, i);
		if (t == 0 || c->term_at[i] == 0)
			continue;
		RC_CHECK(c, t == c->term_at[i], "leader %d has term %" PRIu64 " at committed index %" PRIu64
			 " (committed with term %" PRIu64 ")", l, t, i, c->term_at[i]);
	}
	RC_CHECK(c, raft_last_index(r) >= c->max_commit || c->max_commit >= RC_MAX_INDEX,
		 "leader %d's log ends at %" PRIu64 ", before committed %" PRIu64, l, raft_last_index(r),
		 c->max_commit);
}

#endif
