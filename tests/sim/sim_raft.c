/* sim_raft: Raft clusters of 3, 5 and 7 nodes on the simulator under crashes, partitions, loss, duplication and reordering, with a linearizability check of client operations. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "swarmnode/raft.h"
#include "swarmnode/raft_codec.h"

/*
 * Each node slot holds a struct rnode: one raft core, its fake disk and its
 * state machine. The adapter honours raft.h's persistence contract: every
 * write of an update is queued and becomes durable after a random fsync delay
 * (in order), after which the core is told with RAFT_EV_PERSISTED. A crash
 * keeps the disk plus a random prefix of the writes still queued (fsyncs that
 * finished but were not yet acknowledged), never more. A restart builds a new
 * core from that disk alone.
 *
 * The state machine is NKEYS registers. A command is (key u8, value u64);
 * values are unique per run, so a read names the write it saw.
 *
 * Checked after every event: at most one leader per term; every applied entry
 * equals what any other node applied at that index (so committed entries never
 * change, and every node applies the same sequence); a restored snapshot equals
 * the state the others had at its index; a new leader's log holds every entry
 * applied anywhere (leader completeness). At the end: faults stop, the cluster
 * must converge (every member applies the leader's whole log, same state), no
 * acknowledged write may be missing, and the history of client writes and
 * ReadIndex reads must be linearizable.
 */

#define MAXN 7
#define NKEYS 2
#define CMD_LEN 9

/* ---- scenario parameters ------------------------------------------------------- */

struct scen {
	int n;                  /* nodes */
	int voters;             /* nodes bootstrapped as voters; the others join later */
	enum sim_channel ch;    /* how Raft messages travel */
	double loss, dup;       /* datagram loss and duplication */
	uint64_t latency, jitter;
	bool crashes, partitions, transfers, membership;
	uint64_t snap_every;    /* applied entries between snapshots (0: none) */
	uint64_t trailing;      /* entries kept behind a snapshot */
	size_t snap_pad;        /* snapshot size in bytes */
	size_t chunk;           /* snapshot chunk size */
	uint64_t chaos_ms;      /* faults and client load last this long */
	uint64_t fsync_max;     /* fsync takes 1 .. fsync_max ms (default 5) */
	uint64_t chaos_every;   /* mean ms between fault actions (default 900) */
	uint64_t down_min;      /* a crashed node stays down at least this long (default 200) */
	uint32_t election_ms;   /* election timeout (default 1000) */
	bool crash_in_window;   /* crash nodes between a vote and its fsync, now and then */
};

/* ---- disk ---------------------------------------------------------------------- */

struct dentry {
	uint64_t index, term;
	uint8_t type;
	uint8_t *data;
	size_t len;
};

struct disk {
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	size_t snap_len;
	struct dentry *log;
	size_t n, cap;
};

struct wr {
	uint64_t seq;
	uint64_t done_at;              /* its fsync completes then */
	bool has_hs;
	struct raft_hard_state hs;
	bool has_snap;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	size_t snap_len;
	struct dentry *e;
	size_t n;
};

/* ---- client history --------------------------------------------------------------- */

enum { OP_WRITE = 1, OP_READ = 2 };
enum { ST_PENDING = 0, ST_OK = 1, ST_FAILED = 2 };

struct op {
	uint8_t kind;       /* OP_WRITE or OP_READ */
	uint8_t key;
	uint8_t status;     /* ST_*; a pending write has an unknown outcome */
	uint64_t value;     /* written, or read */
	uint64_t inv, resp; /* logical times (resp 0 while pending) */
	uint64_t index;     /* write: its log index once committed (0: not seen) */
};

struct prop {
	uint64_t op;        /* index into ops */
	uint64_t index, term;
};

struct pread {
	uint64_t req;       /* req id given to raft */
	uint64_t op;
};

struct sm {
	uint64_t index;
	uint64_t hash;
	uint64_t vals[NKEYS];
};

struct run;

struct rnode {
	struct run *run;
	int slot;
	raft_id id;
	struct raft *r;          /* NULL while down */
	struct disk disk;
	struct wr *pw;           /* queued writes */
	size_t n_pw, cap_pw;
	struct sm sm;
	uint64_t last_snap;      /* index of the last snapshot taken */
	struct prop *props;      /* proposals awaiting their outcome */
	size_t n_props, cap_props;
	struct pread *reads;     /* reads awaiting their result */
	size_t n_reads, cap_reads;
	uint64_t raft_deadline;
	uint64_t down_since;
	bool wiped_pending;      /* removed from the configuration: to be wiped */
};

struct committed {
	uint64_t term;
	uint64_t hash;           /* state hash after applying it */
	uint8_t type;
	uint8_t key;
	uint64_t value;
};

struct run {
	struct sim *sim;
	const struct scen *sc;
	int n;
	struct rnode nodes[MAXN];
	uint32_t gen[MAXN];      /* raft id generation of each slot */
	raft_id *leader_of;      /* by term */
	size_t n_terms;
	struct committed *com;   /* com[i - 1] for index i */
	size_t n_com, cap_com;
	struct op *ops;
	size_t n_ops, cap_ops;
	uint64_t *op_of_value;   /* value -> op index + 1 */
	size_t cap_values;
	uint64_t lclock;
	uint64_t next_value;
	uint64_t next_req;
	bool chaos;
	uint64_t chaos_end;
	/* counters for the summary in the trace */
	uint64_t writes_ok, reads_ok, crashes, installs, changes, promotions, transfers;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n > 0 ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n > 0 ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

#define GROW(arr, n, cap)                                                   \
	do {                                                                \
		if ((n) == (cap)) {                                         \
			(cap) = (cap) ? (cap) * 2 : 16;                     \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));    \
		}                                                           \
	} while (0)

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	if (n == 0)
		return NULL;
	uint8_t *q = xmalloc(n);
	memcpy(q, p, n);
	return q;
}

static raft_id id_of(const struct run *run, int slot)
{
	return ((raft_id)run->gen[slot] << 8) | (raft_id)(slot + 1);
}

static int slot_of(const struct run *run, raft_id id)
{
	int slot = (int)(id & 0xff) - 1;
	if (slot < 0 || slot >= run->n)
		return -1;
	return slot;
}

static uint64_t hash_step(uint64_t h, const uint8_t *p, size_t n)
{
	h ^= 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* ---- disk operations ------------------------------------------------------------- */

static void dentries_free(struct dentry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].data);
}

static void wr_free(struct wr *w)
{
	dentries_free(w->e, w->n);
	free(w->e);
	free(w->snap_data);
}

static void disk_apply(struct disk *d, struct wr *w)
{
	if (w->has_hs)
		d->hs = w->hs;
	if (w->has_snap) {
		free(d->snap_data);
		d->snap = w->snap;
		d->snap_data = w->snap_data;
		d->snap_len = w->snap_len;
		w->snap_data = NULL;
		dentries_free(d->log, d->n);
		d->n = 0;
	}
	if (w->n > 0) {
		size_t keep = 0;
		while (keep < d->n && d->log[keep].index < w->e[0].index)
			keep++;
		dentries_free(d->log + keep, d->n - keep);
		d->n = keep;
		for (size_t i = 0; i < w->n; i++) {
			GROW(d->log, d->n, d->cap);
			d->log[d->n++] = w->e[i];
		}
		w->n = 0;
	}
	wr_free(w);
}

static void disk_free(struct disk *d)
{
	dentries_free(d->log, d->n);
	free(d->log);
	free(d->snap_data);
	memset(d, 0, sizeof(*d));
}

/* ---- state machine ------------------------------------------------------------------ */

static size_t sm_encode(const struct sm *sm, uint8_t *buf, size_t pad)
{
	uint64_t v[2 + NKEYS] = { sm->index, sm->hash };
	memcpy(v + 2, sm->vals, sizeof(sm->vals));
	memcpy(buf, v, sizeof(v));
	size_t len = pad > sizeof(v) ? pad : sizeof(v);
	for (size_t i = sizeof(v); i < len; i++)
		buf[i] = (uint8_t)(i ^ sm->index);
	return len;
}

static bool sm_decode(struct sm *sm, const uint8_t *buf, size_t len)
{
	uint64_t v[2 + NKEYS];
	if (len < sizeof(v))
		return false;
	memcpy(v, buf, sizeof(v));
	sm->index = v[0];
	sm->hash = v[1];
	memcpy(sm->vals, v + 2, sizeof(sm->vals));
	return true;
}

/* ---- history ---------------------------------------------------------------------- */

static uint64_t op_new(struct run *run, uint8_t kind, uint8_t key, uint64_t value)
{
	GROW(run->ops, run->n_ops, run->cap_ops);
	run->ops[run->n_ops] = (struct op){ .kind = kind, .key = key, .value = value, .inv = ++run->lclock };
	if (kind == OP_WRITE) {
		while (value >= run->cap_values) {
			size_t nc = run->cap_values ? run->cap_values * 2 : 1024;
			run->op_of_value = xrealloc(run->op_of_value, nc * sizeof(uint64_t));
			memset(run->op_of_value + run->cap_values, 0, (nc - run->cap_values) * sizeof(uint64_t));
			run->cap_values = nc;
		}
		run->op_of_value[value] = run->n_ops + 1;
	}
	return run->n_ops++;
}

static struct op *op_by_value(struct run *run, uint64_t value)
{
	if (value >= run->cap_values || run->op_of_value[value] == 0)
		return NULL;
	return &run->ops[run->op_of_value[value] - 1];
}

/* ---- the adapter ---------------------------------------------------------------------- */

static void node_step(struct rnode *nd, const struct raft_event *ev);

static void trace_cb(void *data, uint64_t now, const char *line)
{
	(void)now;
	struct rnode *nd = data;
	sim_tracef(nd->run->sim, nd->slot, "%s", line);
}

static struct raft_config node_config(struct run *run, int slot)
{
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = id_of(run, slot);
	cfg.seed = sim_node_seed(run->sim, slot);
	cfg.election_timeout_ms = run->sc->election_ms ? run->sc->election_ms : 1000;
	cfg.heartbeat_interval_ms = cfg.election_timeout_ms / 10;
	cfg.max_inflight = 32;
	cfg.max_append_bytes = 16 << 10;
	cfg.snapshot_chunk_bytes = run->sc->chunk;
	cfg.snapshot_window = 2;
	cfg.trace = trace_cb;
	cfg.trace_data = &run->nodes[slot];
	return cfg;
}

/* Builds node slot's core from its disk. */
static void node_boot(struct run *run, int slot)
{
	struct rnode *nd = &run->nodes[slot];
	struct disk *d = &nd->disk;
	struct raft_entry *es = xmalloc(d->n * sizeof(*es));
	for (size_t i = 0; i < d->n; i++)
		es[i] = (struct raft_entry){ .index = d->log[i].index, .term = d->log[i].term,
					     .type = d->log[i].type, .data = d->log[i].data, .len = d->log[i].len };
	struct raft_boot boot = { .hs = d->hs, .snap = d->snap.index > 0 ? &d->snap : NULL,
				  .snap_data = d->snap_data, .snap_len = d->snap_len, .entries = es,
				  .n_entries = d->n };
	struct raft_config cfg = node_config(run, slot);
	char err[200] = "";
	int rc = raft_new(&cfg, &boot, sim_now(run->sim), &nd->r, err, sizeof(err));
	free(es);
	if (rc != 0) {
		sim_fail(run->sim, slot, "raft_new: %s: %s", raft_strerror(rc), err);
		nd->r = NULL;
		return;
	}
	memset(&nd->sm, 0, sizeof(nd->sm));
	if (d->snap.index > 0 && !sm_decode(&nd->sm, d->snap_data, d->snap_len))
		sim_fail(run->sim, slot, "snapshot on disk is unreadable");
	nd->last_snap = d->snap.index;
	nd->raft_deadline = raft_deadline(nd->r);
}

static void send_msg(struct rnode *nd, const struct raft_message *m)
{
	struct run *run = nd->run;
	int to = slot_of(run, m->to);
	if (to < 0) {
		sim_fail(run->sim, nd->slot, "message to unknown raft id %" PRIu64, m->to);
		return;
	}
	size_t cap = raft_msg_encoded_max(m);
	uint8_t *buf = xmalloc(cap);
	size_t len;
	int rc = raft_msg_encode(m, buf, cap, &len);
	if (rc != 0)
		sim_fail(run->sim, nd->slot, "encode %s: %s", raft_msg_type_str(m->type), raft_strerror(rc));
	else
		sim_send(run->sim, nd->slot, to, run->sc->ch, buf, len);
	free(buf);
}

/* The committed table: what index i holds, as first applied anywhere. */
static void check_applied(struct rnode *nd, const struct raft_entry *e)
{
	struct run *run = nd->run;
	struct committed c = { .term = e->term, .hash = nd->sm.hash, .type = e->type };
	if (e->type == RAFT_ENTRY_NORMAL && e->len == CMD_LEN) {
		c.key = e->data[0];
		memcpy(&c.value, e->data + 1, 8);
	}
	if (e->index <= run->n_com) {
		const struct committed *k = &run->com[e->index - 1];
		if (k->term != c.term || k->type != c.type || k->key != c.key || k->value != c.value ||
		    k->hash != c.hash)
			sim_fail(run->sim, nd->slot, "applied entry %" PRIu64 " (term %" PRIu64 ", value %" PRIu64
				 ") differs from the committed one (term %" PRIu64 ", value %" PRIu64 ")",
				 e->index, c.term, c.value, k->term, k->value);
		return;
	}
	if (e->index != run->n_com + 1) {
		sim_fail(run->sim, nd->slot, "applied %" PRIu64 " but only %zu entries are known committed",
			 e->index, run->n_com);
		return;
	}
	GROW(run->com, run->n_com, run->cap_com);
	run->com[run->n_com++] = c;
	if (c.type == RAFT_ENTRY_NORMAL) {
		struct op *op = op_by_value(run, c.value);
		if (op == NULL)
			sim_fail(run->sim, nd->slot, "committed value %" PRIu64 " was never proposed", c.value);
		else
			op->index = e->index;
	}
}

static void apply_entry(struct rnode *nd, const struct raft_entry *e)
{
	struct run *run = nd->run;
	if (e->index != nd->sm.index + 1) {
		sim_fail(run->sim, nd->slot, "applies %" PRIu64 " after %" PRIu64, e->index, nd->sm.index);
		return;
	}
	nd->sm.index = e->index;
	if (e->type == RAFT_ENTRY_NORMAL) {
		if (e->len != CMD_LEN || e->data[0] >= NKEYS) {
			sim_fail(run->sim, nd->slot, "entry %" PRIu64 " is not a command", e->index);
			return;
		}
		uint64_t v;
		memcpy(&v, e->data + 1, 8);
		nd->sm.vals[e->data[0]] = v;
		nd->sm.hash = hash_step(nd->sm.hash, e->data, e->len);
	}
	check_applied(nd, e);
	/* The outcome of our own proposal at this index. */
	for (size_t i = 0; i < nd->n_props; i++) {
		struct prop *p = &nd->props[i];
		if (p->index != e->index)
			continue;
		struct op *op = &run->ops[p->op];
		op->status = p->term == e->term ? ST_OK : ST_FAILED;
		op->resp = ++run->lclock;
		if (op->status == ST_OK)
			run->writes_ok++;
		nd->props[i] = nd->props[--nd->n_props];
		break;
	}
}

/* Leader completeness: a new leader holds every entry applied anywhere. */
static void check_new_leader(struct rnode *nd)
{
	struct run *run = nd->run;
	struct raft *r = nd->r;
	uint64_t last = raft_last_index(r);
	if (last < run->n_com) {
		sim_fail(run->sim, nd->slot, "new leader's log ends at %" PRIu64 ", %zu entries are committed",
			 last, run->n_com);
		return;
	}
	for (uint64_t i = run->n_com; i >= 1; i--) {
		uint64_t t = raft_term_at(r, i);
		if (t == 0)
			break; /* compacted: covered by its snapshot */
		if (t != run->com[i - 1].term) {
			sim_fail(run->sim, nd->slot, "new leader has term %" PRIu64 " at committed index %" PRIu64
				 " (committed with term %" PRIu64 ")", t, i, run->com[i - 1].term);
			return;
		}
	}
}

static void take_snapshot(struct rnode *nd)
{
	struct run *run = nd->run;
	uint8_t *buf = xmalloc(run->sc->snap_pad + 64);
	size_t len = sm_encode(&nd->sm, buf, run->sc->snap_pad);
	/* Durable first (temp file, fsync, rename), then the core is told. */
	struct disk *d = &nd->disk;
	struct raft_snapshot_meta meta;
	if (raft_snapshot_meta_at(nd->r, nd->sm.index, &meta) != 0) {
		free(buf);
		return;
	}
	free(d->snap_data);
	d->snap = meta;
	d->snap_data = dup_bytes(buf, len);
	d->snap_len = len;
	nd->last_snap = nd->sm.index;
	struct raft_event ev = { .type = RAFT_EV_SNAPSHOT, .now = sim_now(run->sim) };
	ev.snapshot.index = nd->sm.index;
	ev.snapshot.data = buf;
	ev.snapshot.len = len;
	ev.snapshot.trailing = run->sc->trailing;
	node_step(nd, &ev);
	free(buf);
}

static void node_crash(struct run *run, int slot);

/* A crash aimed at the window between a write and its fsync. */
static void targeted_crash(struct sim *sim, void *data)
{
	struct rnode *nd = data;
	if (nd->r != NULL && nd->run->chaos && !sim_failed(sim)) {
		sim_tracef(sim, nd->slot, "targeted crash with %zu writes in flight", nd->n_pw);
		node_crash(nd->run, nd->slot);
	}
}

static void handle(struct rnode *nd, const struct raft_update *up)
{
	struct run *run = nd->run;
	struct sim *sim = run->sim;
	uint64_t now = sim_now(sim);
	/* One leader per term. */
	if (up->role == RAFT_LEADER) {
		while (up->term >= run->n_terms) {
			size_t nt = run->n_terms ? run->n_terms * 2 : 64;
			run->leader_of = xrealloc(run->leader_of, nt * sizeof(raft_id));
			memset(run->leader_of + run->n_terms, 0, (nt - run->n_terms) * sizeof(raft_id));
			run->n_terms = nt;
		}
		raft_id *l = &run->leader_of[up->term];
		if (*l == RAFT_NONE)
			*l = nd->id;
		else if (*l != nd->id)
			sim_fail(sim, nd->slot, "two leaders in term %" PRIu64 ": %" PRIu64 " and %" PRIu64,
				 up->term, *l, nd->id);
		if (up->changed & RAFT_UPDATE_ROLE)
			check_new_leader(nd);
	}
	/* The write: durable after a random fsync delay, in order. */
	if (up->persist.seq != 0) {
		GROW(nd->pw, nd->n_pw, nd->cap_pw);
		struct wr *w = &nd->pw[nd->n_pw];
		memset(w, 0, sizeof(*w));
		w->seq = up->persist.seq;
		uint64_t at = now + 1 + sim_rand_below(sim, run->sc->fsync_max ? run->sc->fsync_max : 5);
		if (nd->n_pw > 0 && nd->pw[nd->n_pw - 1].done_at > at)
			at = nd->pw[nd->n_pw - 1].done_at;
		w->done_at = at;
		w->has_hs = up->persist.hard_state_changed;
		w->hs = up->persist.hard_state;
		if (up->persist.snapshot != NULL) {
			w->has_snap = true;
			w->snap = *up->persist.snapshot;
			w->snap_data = dup_bytes(up->persist.snapshot_data, up->persist.snapshot_len);
			w->snap_len = up->persist.snapshot_len;
		}
		/* A new vote (ours or for someone else) is the write whose loss
		 * matters most: crash before its fsync now and then. */
		if (run->sc->crash_in_window && run->chaos && w->has_hs && w->hs.vote != RAFT_NONE &&
		    sim_rand_below(sim, 4) == 0)
			sim_at(sim, now + sim_rand_below(sim, at - now + 1), targeted_crash, nd);
		w->n = up->persist.n_entries;
		w->e = xmalloc(w->n * sizeof(*w->e));
		for (size_t i = 0; i < w->n; i++) {
			const struct raft_entry *e = &up->persist.entries[i];
			w->e[i] = (struct dentry){ .index = e->index, .term = e->term, .type = e->type,
						   .data = dup_bytes(e->data, e->len), .len = e->len };
		}
		nd->n_pw++;
	}
	if (up->compacted > 0) {
		struct disk *d = &nd->disk;
		size_t k = 0;
		while (k < d->n && d->log[k].index <= up->compacted)
			k++;
		if (k > 0) {
			dentries_free(d->log, k);
			memmove(d->log, d->log + k, (d->n - k) * sizeof(*d->log));
			d->n -= k;
		}
	}
	for (size_t i = 0; i < up->n_messages; i++)
		send_msg(nd, &up->messages[i]);
	/* Apply. */
	if (up->restore != NULL) {
		struct sm sm;
		if (!sm_decode(&sm, up->restore_data, up->restore_len) || sm.index != up->restore->index) {
			sim_fail(sim, nd->slot, "restored snapshot is not for index %" PRIu64, up->restore->index);
			return;
		}
		if (sm.index > run->n_com || run->com[sm.index - 1].hash != sm.hash)
			sim_fail(sim, nd->slot, "restored snapshot at %" PRIu64 " differs from the committed state",
				 sm.index);
		nd->sm = sm;
		if (sm.index > nd->last_snap)
			nd->last_snap = sm.index;
		run->installs++;
		/* Proposals covered by the snapshot: their outcome stays unknown
		 * to this node (the checker treats them as never answered). */
		size_t w = 0;
		for (size_t i = 0; i < nd->n_props; i++)
			if (nd->props[i].index > sm.index)
				nd->props[w++] = nd->props[i];
		nd->n_props = w;
	}
	for (size_t i = 0; i < up->n_committed; i++)
		apply_entry(nd, &up->committed[i]);
	for (size_t i = 0; i < up->n_reads; i++) {
		const struct raft_read_result *rr = &up->reads[i];
		for (size_t k = 0; k < nd->n_reads; k++) {
			if (nd->reads[k].req != rr->req_id)
				continue;
			struct op *op = &run->ops[nd->reads[k].op];
			if (rr->status == 0) {
				if (rr->index > nd->sm.index)
					sim_fail(sim, nd->slot, "read at index %" PRIu64 " answered at applied %" PRIu64,
						 rr->index, nd->sm.index);
				op->status = ST_OK;
				op->value = nd->sm.vals[op->key];
				op->resp = ++run->lclock;
				run->reads_ok++;
			} else {
				op->status = ST_FAILED;
			}
			nd->reads[k] = nd->reads[--nd->n_reads];
			break;
		}
	}
	for (size_t i = 0; i < up->n_notes; i++)
		if (up->notes[i].kind == RAFT_NOTE_PROMOTING)
			run->promotions++;
	nd->raft_deadline = up->deadline;
	/* The host snapshots now and then (after using up: its pointers die). */
	if (run->sc->snap_every > 0 && nd->r != NULL && nd->sm.index >= nd->last_snap + run->sc->snap_every &&
	    !sim_failed(sim))
		take_snapshot(nd);
}

static void node_step(struct rnode *nd, const struct raft_event *ev)
{
	struct raft_update up;
	raft_step(nd->r, ev, &up);
	handle(nd, &up);
}

static void node_deliver(void *p, struct sim *sim, uint64_t now, int from, const void *buf, size_t len,
			 enum sim_channel ch)
{
	(void)from;
	(void)ch;
	struct rnode *nd = p;
	struct raft_msg_decoded d;
	char err[RAFT_CODEC_ERR_MAX];
	int rc = raft_msg_decode(buf, len, &d, err, sizeof(err));
	if (rc != 0) {
		sim_fail(sim, nd->slot, "undecodable message from n%d: %s", from, err);
		return;
	}
	struct raft_event ev = { .type = RAFT_EV_RECEIVE, .now = now };
	ev.receive.msg = &d.msg;
	node_step(nd, &ev);
	raft_msg_decoded_release(&d);
}

static void node_tick(void *p, struct sim *sim, uint64_t now)
{
	(void)sim;
	struct rnode *nd = p;
	/* Finished fsyncs first, in order. */
	size_t k = 0;
	while (k < nd->n_pw && nd->pw[k].done_at <= now) {
		disk_apply(&nd->disk, &nd->pw[k]);
		k++;
	}
	if (k > 0) {
		uint64_t seq = nd->pw[k - 1].seq;
		memmove(nd->pw, nd->pw + k, (nd->n_pw - k) * sizeof(*nd->pw));
		nd->n_pw -= k;
		struct raft_event ev = { .type = RAFT_EV_PERSISTED, .now = now };
		ev.persisted.seq = seq;
		node_step(nd, &ev);
	}
	if (nd->r != NULL && now >= nd->raft_deadline) {
		struct raft_event ev = { .type = RAFT_EV_TICK, .now = now };
		node_step(nd, &ev);
	}
}

static uint64_t node_deadline(void *p)
{
	struct rnode *nd = p;
	if (nd->r == NULL)
		return SIM_NEVER;
	uint64_t d = nd->raft_deadline;
	if (nd->n_pw > 0 && nd->pw[0].done_at < d)
		d = nd->pw[0].done_at;
	return d;
}

static void node_stream_failed(void *p, struct sim *sim, uint64_t now, int to, const void *buf, size_t len)
{
	(void)sim;
	(void)buf;
	(void)len;
	struct rnode *nd = p;
	struct raft_event ev = { .type = RAFT_EV_UNREACHABLE, .now = now };
	ev.unreachable.peer = id_of(nd->run, to);
	node_step(nd, &ev);
}

static const struct sim_node_ops raft_ops = {
	.deliver = node_deliver,
	.tick = node_tick,
	.next_deadline = node_deadline,
	.stream_failed = node_stream_failed,
};

/* ---- faults ------------------------------------------------------------------------------ */

static void node_crash(struct run *run, int slot)
{
	struct rnode *nd = &run->nodes[slot];
	if (nd->r == NULL)
		return;
	sim_crash(run->sim, slot);
	/* Some fsyncs may have completed without their acknowledgement. */
	size_t survive = (size_t)sim_rand_below(run->sim, nd->n_pw + 1);
	for (size_t i = 0; i < nd->n_pw; i++) {
		if (i < survive)
			disk_apply(&nd->disk, &nd->pw[i]);
		else
			wr_free(&nd->pw[i]);
	}
	sim_tracef(run->sim, slot, "crash: %zu of %zu unacknowledged writes reached the disk", survive, nd->n_pw);
	nd->n_pw = 0;
	raft_free(nd->r);
	nd->r = NULL;
	nd->n_props = 0; /* outcomes unknown */
	for (size_t i = 0; i < nd->n_reads; i++)
		run->ops[nd->reads[i].op].status = ST_FAILED; /* never answered: no constraint */
	nd->n_reads = 0;
	nd->down_since = sim_now(run->sim);
	run->crashes++;
}

static int live_leader(struct run *run);

/* 1 if a live leader has committed a configuration without slot's member, -1
 * if its latest configuration still has it (the removal was truncated), 0 if
 * it cannot tell yet. */
static int removal_committed(struct run *run, int slot)
{
	int l = live_leader(run);
	if (l < 0)
		return 0;
	uint64_t ci;
	const struct raft_configuration *conf = raft_configuration(run->nodes[l].r, &ci);
	if (raft_configuration_find(conf, run->nodes[slot].id) != NULL)
		return -1;
	return raft_commit_index(run->nodes[l].r) >= ci ? 1 : 0;
}

static void node_restart(struct run *run, int slot)
{
	struct rnode *nd = &run->nodes[slot];
	if (nd->r != NULL)
		return;
	if (nd->wiped_pending && removal_committed(run, slot) < 0)
		nd->wiped_pending = false;
	if (nd->wiped_pending && removal_committed(run, slot) > 0) {
		/* Removed from the cluster: it comes back as a new, empty member
		 * with a new raft id, as a manager that joins again would. */
		disk_free(&nd->disk);
		run->gen[slot]++;
		nd->id = id_of(run, slot);
		nd->wiped_pending = false;
	}
	node_boot(run, slot);
	if (nd->r != NULL)
		sim_restart(run->sim, slot, nd);
}

static int live_leader(struct run *run)
{
	int best = -1;
	uint64_t term = 0;
	for (int i = 0; i < run->n; i++) {
		struct rnode *nd = &run->nodes[i];
		if (nd->r != NULL && raft_role(nd->r) == RAFT_LEADER && raft_term(nd->r) >= term) {
			best = i;
			term = raft_term(nd->r);
		}
	}
	return best;
}

static int random_live(struct run *run)
{
	int live[MAXN], n = 0;
	for (int i = 0; i < run->n; i++)
		if (run->nodes[i].r != NULL)
			live[n++] = i;
	return n > 0 ? live[sim_rand_below(run->sim, (uint64_t)n)] : -1;
}

static int change(struct run *run, struct rnode *ld, const struct raft_event *ev)
{
	struct raft_update up;
	int rc = raft_step(ld->r, ev, &up);
	if (rc == 0)
		run->changes++;
	handle(ld, &up);
	return rc;
}

static void membership_action(struct run *run, int l)
{
	struct rnode *ld = &run->nodes[l];
	const struct raft_configuration *conf = raft_configuration(ld->r, NULL);
	struct raft_event ev = { .type = RAFT_EV_CHANGE, .now = sim_now(run->sim) };
	/* A learner to promote, a node to add, or a voter to remove. */
	for (uint32_t i = 0; i < conf->n; i++) {
		if (conf->members[i].role == RAFT_LEARNER) {
			ev.change.kind = RAFT_CHANGE_PROMOTE;
			ev.change.id = conf->members[i].id;
			change(run, ld, &ev);
			return;
		}
	}
	uint32_t voters = raft_configuration_voters(conf);
	uint64_t dice = sim_rand_below(run->sim, 3);
	if (dice > 0 || voters <= 3) {
		for (int s = 0; s < run->n; s++) {
			struct rnode *nd = &run->nodes[s];
			if (nd->r == NULL || nd->wiped_pending || raft_configuration_find(conf, nd->id) != NULL)
				continue;
			ev.change.kind = RAFT_CHANGE_ADD_LEARNER;
			ev.change.id = nd->id;
			change(run, ld, &ev);
			return;
		}
	}
	if (voters <= 3)
		return;
	/* Remove (or demote) a random voter, the leader included. */
	uint32_t pick = (uint32_t)sim_rand_below(run->sim, voters);
	for (uint32_t i = 0; i < conf->n; i++) {
		if (conf->members[i].role != RAFT_VOTER || pick-- != 0)
			continue;
		raft_id victim = conf->members[i].id;
		ev.change.kind = sim_rand_below(run->sim, 4) == 0 ? RAFT_CHANGE_DEMOTE : RAFT_CHANGE_REMOVE;
		ev.change.id = victim;
		int rc = change(run, ld, &ev);
		if (rc == 0 && ev.change.kind == RAFT_CHANGE_REMOVE) {
			int s = slot_of(run, victim);
			run->nodes[s].wiped_pending = true; /* crashed and wiped at the next chaos step */
		}
		return;
	}
}

static void chaos(struct sim *sim, void *data)
{
	struct run *run = data;
	const struct scen *sc = run->sc;
	if (!run->chaos || sim_failed(sim))
		return;
	int l = live_leader(run);
	/* Removed nodes are crashed and wiped once their removal is committed. */
	for (int s = 0; s < run->n; s++) {
		if (!run->nodes[s].wiped_pending || run->nodes[s].r == NULL)
			continue;
		int removed = removal_committed(run, s);
		if (removed < 0)
			run->nodes[s].wiped_pending = false; /* the removal was undone */
		else if (removed > 0)
			node_crash(run, s);
	}
	enum { A_CRASH, A_RESTART, A_PARTITION, A_HEAL, A_TRANSFER, A_MEMBERSHIP, A_COUNT };
	uint64_t weight[A_COUNT] = {
		[A_CRASH] = sc->crashes ? 25 : 0,
		[A_RESTART] = 25,
		[A_PARTITION] = sc->partitions ? 12 : 0,
		[A_HEAL] = 12,
		[A_TRANSFER] = sc->transfers ? 6 : 0,
		[A_MEMBERSHIP] = sc->membership ? 25 : 0,
	};
	uint64_t total = 0;
	for (int a = 0; a < A_COUNT; a++)
		total += weight[a];
	uint64_t dice = sim_rand_below(sim, total);
	int action = 0;
	while (dice >= weight[action])
		dice -= weight[action++];
	switch (action) {
	case A_CRASH: {
		/* Losing the majority happens, but not most of the time. */
		int down = 0;
		for (int i = 0; i < run->n; i++)
			down += run->nodes[i].r == NULL;
		if (down + 1 > (run->n - 1) / 2 && sim_rand_below(sim, 5) != 0)
			break;
		int victim = random_live(run);
		if (victim >= 0)
			node_crash(run, victim);
		break;
	}
	case A_RESTART: {
		int down[MAXN], nd = 0;
		for (int i = 0; i < run->n; i++)
			if (run->nodes[i].r == NULL &&
			    sim_now(sim) - run->nodes[i].down_since >= (sc->down_min ? sc->down_min : 200))
				down[nd++] = i;
		if (nd > 0)
			node_restart(run, down[sim_rand_below(sim, (uint64_t)nd)]);
		break;
	}
	case A_PARTITION: {
		int groups[MAXN];
		for (int i = 0; i < run->n; i++)
			groups[i] = (int)sim_rand_below(sim, 2);
		sim_partition(sim, groups, run->n);
		break;
	}
	case A_HEAL:
		sim_heal(sim);
		break;
	case A_TRANSFER:
		if (l >= 0) {
			struct raft_event ev = { .type = RAFT_EV_TRANSFER, .now = sim_now(sim) };
			ev.transfer.to = RAFT_NONE;
			struct raft_update up;
			if (raft_step(run->nodes[l].r, &ev, &up) == 0)
				run->transfers++;
			handle(&run->nodes[l], &up);
		}
		break;
	case A_MEMBERSHIP:
		if (l >= 0)
			membership_action(run, l);
		break;
	}
	for (int i = 0; i < run->n; i++)
		sim_wake(sim, i);
	uint64_t every = sc->chaos_every ? sc->chaos_every : 900;
	sim_at(sim, sim_now(sim) + every / 3 + sim_rand_below(sim, every * 4 / 3), chaos, run);
}

/* ---- clients --------------------------------------------------------------------------------- */

static void client(struct sim *sim, void *data)
{
	struct run *run = data;
	if (!run->chaos || sim_failed(sim))
		return;
	uint8_t key = (uint8_t)sim_rand_below(sim, NKEYS);
	if (sim_rand_below(sim, 100) < 60) {
		int l = live_leader(run);
		int slot = l >= 0 && sim_rand_below(sim, 10) < 9 ? l : random_live(run);
		if (slot >= 0) {
			struct rnode *nd = &run->nodes[slot];
			uint64_t value = ++run->next_value;
			uint8_t cmd[CMD_LEN];
			cmd[0] = key;
			memcpy(cmd + 1, &value, 8);
			uint64_t op = op_new(run, OP_WRITE, key, value);
			struct raft_buf b = { .data = cmd, .len = CMD_LEN };
			struct raft_event ev = { .type = RAFT_EV_PROPOSE, .now = sim_now(sim) };
			ev.propose.bufs = &b;
			ev.propose.n = 1;
			struct raft_update up;
			int rc = raft_step(nd->r, &ev, &up);
			if (rc == 0) {
				GROW(nd->props, nd->n_props, nd->cap_props);
				nd->props[nd->n_props++] = (struct prop){ .op = op, .index = up.proposed_index,
									  .term = up.proposed_term };
			} else {
				run->ops[op].status = ST_FAILED;
				run->ops[op].resp = ++run->lclock;
			}
			handle(nd, &up);
			sim_wake(sim, slot);
		}
	} else {
		int slot = random_live(run);
		if (slot >= 0) {
			struct rnode *nd = &run->nodes[slot];
			uint64_t op = op_new(run, OP_READ, key, 0);
			GROW(nd->reads, nd->n_reads, nd->cap_reads);
			nd->reads[nd->n_reads++] = (struct pread){ .req = ++run->next_req, .op = op };
			struct raft_event ev = { .type = RAFT_EV_READ, .now = sim_now(sim) };
			ev.read.req_id = run->next_req;
			node_step(nd, &ev);
			sim_wake(sim, slot);
		}
	}
	sim_at(sim, sim_now(sim) + 5 + sim_rand_below(sim, 60), client, run);
}

/* ---- the linearizability check ----------------------------------------------------------------- */

/*
 * Writes of a key are ordered by their index in the committed log (the order
 * every node applied them in). Given that order, a history of writes and reads
 * of a register with unique values is linearizable iff points p_1 < p_2 < ...
 * can be chosen with p_k inside write k's interval, and every read of write k's
 * value inside an interval that overlaps (p_k, p_k+1): p_k < resp(read) and
 * inv(read) < p_k+1. Taking each p_k as early as its lower bounds allow is
 * optimal, so one greedy pass decides it. A write never answered (its node
 * crashed) has resp = infinity; a write that failed or never committed does
 * not take part, and a read may not return it.
 */
static bool check_history(struct run *run)
{
	struct sim *sim = run->sim;
	/* Acknowledged writes are committed; failed ones are not. */
	for (size_t i = 0; i < run->n_ops; i++) {
		struct op *op = &run->ops[i];
		if (op->kind != OP_WRITE)
			continue;
		if (op->status == ST_OK && op->index == 0) {
			sim_fail(sim, -1, "acknowledged write %" PRIu64 " is not in the committed log", op->value);
			return false;
		}
		if (op->status == ST_FAILED && op->index != 0) {
			sim_fail(sim, -1, "write %" PRIu64 " reported failed but committed at %" PRIu64, op->value,
				 op->index);
			return false;
		}
	}
	for (uint8_t key = 0; key < NKEYS; key++) {
		/* The committed writes of key, in log order: w_1 .. w_m. */
		size_t m = 0;
		uint64_t *wop = xmalloc((run->n_com + 1) * sizeof(uint64_t));
		for (size_t i = 0; i < run->n_com; i++)
			if (run->com[i].type == RAFT_ENTRY_NORMAL && run->com[i].key == key)
				wop[++m] = run->op_of_value[run->com[i].value] - 1;
		/* Position of each value among them. */
		uint64_t *lo = xmalloc((m + 2) * sizeof(uint64_t)); /* max inv of reads of w_k */
		uint64_t *hi = xmalloc((m + 2) * sizeof(uint64_t)); /* min resp of reads of w_k */
		for (size_t k = 0; k <= m + 1; k++) {
			lo[k] = 0;
			hi[k] = UINT64_MAX;
		}
		bool ok = true;
		for (size_t i = 0; i < run->n_ops && ok; i++) {
			struct op *op = &run->ops[i];
			if (op->kind != OP_READ || op->status != ST_OK || op->key != key)
				continue;
			size_t k = 0;
			if (op->value != 0) {
				struct op *w = op_by_value(run, op->value);
				if (w == NULL || w->index == 0 || w->key != key) {
					sim_fail(sim, -1, "read of key %u returned %" PRIu64 ", never committed to it", key,
						 op->value);
					ok = false;
					break;
				}
				for (k = 1; k <= m && run->ops[wop[k]].value != op->value; k++)
					;
			}
			if (op->inv > lo[k])
				lo[k] = op->inv;
			if (op->resp < hi[k])
				hi[k] = op->resp;
		}
		/* Greedy: points as early as allowed, doubled to fit halves. */
		uint64_t p = 0;
		for (size_t k = 1; k <= m && ok; k++) {
			const struct op *w = &run->ops[wop[k]];
			uint64_t lower = w->inv > lo[k - 1] ? w->inv : lo[k - 1];
			uint64_t cand = (p > 2 * lower ? p : 2 * lower) + 1;
			uint64_t wresp = w->status == ST_OK ? w->resp : UINT64_MAX;
			uint64_t upper = wresp < hi[k] ? wresp : hi[k];
			if (upper != UINT64_MAX && cand >= 2 * upper) {
				sim_fail(sim, -1, "not linearizable: key %u, write %" PRIu64 " (#%zu of %zu, [%" PRIu64
					 ", %" PRIu64 "]) must follow time %" PRIu64 " but precede %" PRIu64,
					 key, w->value, k, m, w->inv, w->resp, lower, upper);
				ok = false;
			}
			p = cand;
		}
		/* Reads of the initial value must come before w_1 (lo[0] in the
		 * loop); with no writes, any read of 0 is fine. */
		free(wop);
		free(lo);
		free(hi);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- runs ------------------------------------------------------------------------------------------ */

static bool converged(struct sim *sim, void *data)
{
	(void)sim;
	struct run *run = data;
	int l = live_leader(run);
	if (l < 0)
		return false;
	struct raft *lr = run->nodes[l].r;
	uint64_t commit = raft_commit_index(lr);
	if (commit != raft_last_index(lr))
		return false;
	const struct raft_configuration *conf = raft_configuration(lr, NULL);
	for (int i = 0; i < run->n; i++) {
		struct rnode *nd = &run->nodes[i];
		if (raft_configuration_find(conf, nd->id) == NULL)
			continue;
		if (nd->r == NULL || nd->sm.index != commit || raft_commit_index(nd->r) != commit)
			return false;
	}
	return true;
}

static bool check_always(struct sim *sim, void *data)
{
	(void)data;
	return !sim_failed(sim);
}

static void run_scenario(struct sim *sim, void *data)
{
	const struct scen *sc = data;
	struct run *run = xmalloc(sizeof(*run));
	memset(run, 0, sizeof(*run));
	run->sim = sim;
	run->sc = sc;
	run->n = sc->n;
	sim_set_default_link(sim, &(struct sim_link){ .latency_ms = sc->latency, .jitter_ms = sc->jitter,
						      .loss = sc->loss, .dup = sc->dup });
	struct raft_configuration conf = { .n = 0 };
	for (int i = 0; i < sc->n; i++) {
		run->gen[i] = 1;
		if (i < sc->voters)
			conf.members[conf.n++] = (struct raft_member){ .id = id_of(run, i), .role = RAFT_VOTER };
	}
	for (int i = 0; i < sc->n; i++) {
		struct rnode *nd = &run->nodes[i];
		nd->run = run;
		nd->slot = i;
		nd->id = id_of(run, i);
		if (i < sc->voters) {
			uint8_t buf[RAFT_CONF_ENCODED_MAX];
			struct raft_entry e;
			if (raft_bootstrap(&conf, &nd->disk.hs, &e, buf, sizeof(buf)) != 0)
				abort();
			GROW(nd->disk.log, nd->disk.n, nd->disk.cap);
			nd->disk.log[nd->disk.n++] = (struct dentry){ .index = 1, .term = 1, .type = e.type,
								      .data = dup_bytes(e.data, e.len), .len = e.len };
		}
		node_boot(run, i);
		sim_add_node(sim, nd, &raft_ops);
	}
	sim_set_check(sim, check_always, run);
	run->chaos = true;
	sim_at(sim, 500 + sim_rand_below(sim, 1000), chaos, run);
	sim_at(sim, 100, client, run);
	sim_run_until(sim, sc->chaos_ms);
	/* Faults stop: everyone back, network whole. */
	run->chaos = false;
	if (!sim_failed(sim)) {
		sim_heal(sim);
		sim_set_loss(sim, 0);
		sim_set_dup(sim, 0);
		for (int i = 0; i < sc->n; i++)
			if (run->nodes[i].r == NULL)
				node_restart(run, i);
		if (!sim_run_until_pred(sim, converged, run, sim_now(sim) + 60000) && !sim_failed(sim))
			sim_fail(sim, -1, "no convergence within 60 s after the faults stopped");
	}
	if (!sim_failed(sim)) {
		/* Every member applied the same state. */
		uint64_t h = 0;
		for (int i = 0; i < sc->n; i++) {
			struct rnode *nd = &run->nodes[i];
			if (nd->r == NULL || nd->sm.index == 0)
				continue;
			if (nd->sm.index == run->n_com && h == 0)
				h = nd->sm.hash;
		}
		for (int i = 0; i < sc->n; i++) {
			struct rnode *nd = &run->nodes[i];
			if (nd->r != NULL && nd->sm.index == run->n_com && nd->sm.hash != h)
				sim_fail(sim, i, "final state differs");
		}
	}
	if (!sim_failed(sim))
		check_history(run);
	sim_tracef(sim, -1, "summary: %zu committed, %" PRIu64 " writes ok, %" PRIu64 " reads ok, %" PRIu64
		   " crashes, %" PRIu64 " snapshots installed, %" PRIu64 " membership changes, %" PRIu64
		   " promotions, %" PRIu64 " transfers", run->n_com, run->writes_ok, run->reads_ok, run->crashes,
		   run->installs, run->changes, run->promotions, run->transfers);
	for (int i = 0; i < sc->n; i++) {
		struct rnode *nd = &run->nodes[i];
		raft_free(nd->r);
		for (size_t k = 0; k < nd->n_pw; k++)
			wr_free(&nd->pw[k]);
		free(nd->pw);
		disk_free(&nd->disk);
		free(nd->props);
		free(nd->reads);
	}
	free(run->leader_of);
	free(run->com);
	free(run->ops);
	free(run->op_of_value);
	free(run);
}

static const struct scen s3_stream = {
	.n = 3, .voters = 3, .ch = SIM_STREAM, .latency = 2, .jitter = 3, .crashes = true,
	.snap_every = 50, .trailing = 10, .snap_pad = 600, .chunk = 256, .chaos_ms = 60000,
};
static const struct scen s3_snapshot_lossy = {
	.n = 3, .voters = 3, .ch = SIM_DATAGRAM, .loss = 0.2, .dup = 0.1, .latency = 2, .jitter = 15,
	.crashes = true, .snap_every = 10, .trailing = 2, .snap_pad = 6000, .chunk = 512, .chaos_ms = 60000,
};
static const struct scen s5_partitions = {
	.n = 5, .voters = 5, .ch = SIM_DATAGRAM, .loss = 0.05, .dup = 0.03, .latency = 2, .jitter = 10,
	.crashes = true, .partitions = true, .snap_every = 40, .trailing = 5, .snap_pad = 1000,
	.chunk = 256, .chaos_ms = 60000,
};
static const struct scen s5_membership = {
	.n = 5, .voters = 3, .ch = SIM_DATAGRAM, .loss = 0.02, .dup = 0.02, .latency = 2, .jitter = 5,
	.crashes = true, .partitions = true, .membership = true, .transfers = true, .snap_every = 30,
	.trailing = 5, .snap_pad = 800, .chunk = 256, .chaos_ms = 60000,
};
static const struct scen s7_chaos = {
	.n = 7, .voters = 7, .ch = SIM_DATAGRAM, .loss = 0.1, .dup = 0.05, .latency = 3, .jitter = 20,
	.crashes = true, .partitions = true, .transfers = true, .snap_every = 40, .trailing = 5,
	.snap_pad = 1500, .chunk = 512, .chaos_ms = 60000,
};
static const struct scen s7_membership_stream = {
	.n = 7, .voters = 3, .ch = SIM_STREAM, .latency = 2, .jitter = 4, .crashes = true,
	.partitions = true, .membership = true, .transfers = true, .snap_every = 50, .trailing = 10,
	.snap_pad = 1000, .chunk = 256, .chaos_ms = 60000,
};

static const struct scen s5_crash_slow_disk = {
	.n = 5, .voters = 5, .ch = SIM_DATAGRAM, .loss = 0.05, .dup = 0.02, .latency = 2, .jitter = 6,
	.crashes = true, .partitions = true, .snap_every = 25, .trailing = 3, .snap_pad = 500, .chunk = 256,
	.chaos_ms = 60000, .fsync_max = 40, .chaos_every = 150, .down_min = 20, .election_ms = 300,
	.crash_in_window = true,
};

static const struct sim_scenario scenarios[] = {
	{ .name = "3-crash-stream", .run = run_scenario, .data = (void *)&s3_stream, .seeds = 100 },
	{ .name = "3-snapshot-lossy", .run = run_scenario, .data = (void *)&s3_snapshot_lossy, .seeds = 100 },
	{ .name = "5-partition-datagram", .run = run_scenario, .data = (void *)&s5_partitions, .seeds = 100 },
	{ .name = "5-crash-slow-disk", .run = run_scenario, .data = (void *)&s5_crash_slow_disk, .seeds = 100 },
	{ .name = "5-membership", .run = run_scenario, .data = (void *)&s5_membership, .seeds = 100 },
	{ .name = "7-chaos-datagram", .run = run_scenario, .data = (void *)&s7_chaos, .seeds = 100 },
	{ .name = "7-membership-stream", .run = run_scenario, .data = (void *)&s7_membership_stream, .seeds = 100 },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, scenarios, sizeof(scenarios) / sizeof(scenarios[0]));
}
