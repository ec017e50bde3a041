/* sim_orch: one leader's orchestrator and scheduler over a store on the simulator, with simulated agents on 50 nodes running 2,000 tasks under node deaths, task failures, scaling and rolling updates. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "swarmnode/ids.h"
#include "swarmnode/orchestrator.h"
#include "swarmnode/scheduler.h"
#include "swarmnode/store.h"

/*
 * Sim slots 0 .. NODES-1 are the agents of the cluster's nodes; slot NODES is
 * the leader. Nothing travels over the simulated network: the store is the
 * leader's, and every write is applied to it at the next log index (Raft is
 * sim_raft's business). What is modelled is who writes what, when:
 *
 *   leader   as src/node/orchestrate.c: a store change asks for a pass
 *            ORCHESTRATE_COALESCE_MS later, a heartbeat every
 *            ORCHESTRATE_HEARTBEAT_MS runs one if the store changed or the
 *            pass's wake-up time has come; one transaction in flight, applied
 *            1-6 ms after the pass (the commit), while agents and the chaos
 *            keep writing, so it may be refused (update out of sequence) and
 *            is then recomputed 100 ms later.
 *   agents   see assignments through a store watch: assigned -> accepted
 *            (5-50 ms) -> running (100-1500 ms), or failed for an image named
 *            app:broken*; DesiredState shutdown -> shutdown (10-300 ms).
 *            Reports are written with the fresh Version and never move a
 *            State backwards. A dead node's agent stops reporting; a node
 *            that returns has lost its processes and reports them failed.
 *   chaos    node deaths (the node's Status.State becomes "down" 2-8 s later,
 *            as the leader's gossip reconciler writes it) and returns, drains,
 *            task failures, scaling, rolling updates (some to a broken image
 *            on services whose FailureAction is rollback), as the API writes
 *            them (PreviousSpec = Spec, UpdateStatus cleared).
 *
 * Checked after every write, on the services it touched: no slot (a global
 * service: no node) has two live tasks (not terminal) desired running, except
 * two of different specs while a start-first update or rollback hands over.
 * Checked after every orchestrator pass that was not cut short, on every
 * service touched since the last such check: at most 5 ended tasks kept per
 * slot (not counting those that ended after the pass read the store), and no
 * task desired running on a node that was down or drained in the store the
 * pass read. At the end (chaos stopped, within SETTLE_MS): every
 * replicated slot and every eligible node of a global service has one running
 * task of the current spec (unless an update is paused) on a ready, active
 * node, or the slot's restart policy explains its end, or its task is pending
 * with "no suitable node" and an independent count of resources, constraints
 * and host ports confirms that no node fits; then 5 quiet seconds in which
 * the orchestrator writes nothing.
 */

#define NODES 50
#define LEADER NODES
#define MAX_SERVICES 64
#define T0 INT64_C(1795560865604293636) /* 2026-11-24T22:54:25Z */
#define MS INT64_C(1000000)
#define SEC (1000 * MS)
#define WORLD_TICK_MS 100
#define SETTLE_MS 120000
#define QUIET_MS 5000
#define HISTORY ORCHESTRATOR_HISTORY_LIMIT
#define HOST_PORT 8080
/* orchestrate.h's timing (that header pulls in libuv): a pass this long after a
 * store change, and one every heartbeat if something is due. */
#define ORCHESTRATE_COALESCE_MS 10
#define ORCHESTRATE_HEARTBEAT_MS 1000

/* ---- scenario parameters ------------------------------------------------------------ */

struct scen {
	uint64_t chaos_ms;    /* how long the chaos lasts */
	uint64_t every_ms;    /* mean time between chaos actions */
	int max_dead, max_drained;
	/* relative weights of the chaos actions */
	int w_kill, w_revive, w_drain, w_fail, w_scale, w_update;
};

/* ---- the run -------------------------------------------------------------------------- */

struct report {
	char id[IDS_LEN + 1];
	const char *state; /* a static state name */
	const char *message;
	uint64_t due;
};

struct orun;

struct agent {
	struct orun *run;
	int node;
	struct report *q; /* reports not yet written */
	size_t n, cap;
};

struct leader {
	struct orun *run;
	struct orchestrator core;
	uint64_t timer_due;     /* SIM_NEVER when idle */
	int64_t wake_ns;        /* wake-up time the last pass asked for, 0 none */
	bool dirty, writing;
	uint8_t *txn;           /* the pass in flight, encoded */
	size_t txn_len;
	uint64_t commit_at;     /* when it applies */
	uint64_t read_index;    /* the store index the pass read */
	bool more;              /* the pass was cut short by the batch limit */
};

struct svc_info {
	char id[IDS_LEN + 1];
	int64_t base;           /* initial replicas (scaling stays within base/2 .. 3*base/2); -1 global */
	bool rollback;          /* FailureAction rollback: may be given broken images */
	bool dirty_quick, dirty_full;
};

struct figures {
	uint64_t passes, txns, refused, ops_total, ops_max, bytes_max, reports, actions;
	uint64_t kills, revives, drains, fails, scales, updates, broken;
	double pass_ms_total, pass_ms_max; /* CPU time of orchestrator_run */
	double idle_ms_total;              /* of the passes that wrote nothing */
	uint64_t idle_passes;
};

struct orun {
	struct sim *sim;
	const struct scen *sc;
	struct store *s;
	uint64_t index;
	struct leader leader;
	struct agent agents[NODES];
	char node_ids[NODES][IDS_LEN + 1];
	bool dead[NODES];          /* the agent crashed */
	uint64_t down_due[NODES];  /* dead, "down" not yet written: write it then (0: none) */
	uint64_t gone_index[NODES];/* index at which the node became down or drained (0: neither) */
	struct svc_info svcs[MAX_SERVICES];
	int n_svcs;
	int image_seq;
	bool chaos;
	uint64_t next_action, chaos_end, last_down, converged_at, setup_done, quiet_txns;
	json_t **buf;              /* scratch for store_find */
	size_t cap_buf;
	char why[512];             /* why the end state is not reached yet */
	struct figures f;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static int64_t ns_at(uint64_t ms)
{
	return T0 + (int64_t)ms * MS;
}

static uint64_t rnd(struct orun *run, uint64_t lo, uint64_t hi)
{
	return lo + sim_rand_below(run->sim, hi - lo + 1);
}

static const char *jstr(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);
	if (b != NULL)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : "";
}

static int64_t jint(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);
	if (b != NULL)
		v = json_object_get(v, b);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const json_t *jpath(const json_t *o, const char *const *path)
{
	for (; *path && o; path++)
		o = json_object_get(o, *path);
	return o;
}

static uint64_t version(const json_t *o)
{
	return (uint64_t)jint(json_object_get(o, "Version"), "Index", NULL);
}

static const char *const terminal_states[] = {"complete", "shutdown", "failed", "rejected", "orphaned"};
static const char *const live_states[] = {"new", "pending", "assigned", "accepted", "preparing", "starting", "running"};

/* Docker's order of states: a report never moves a task backwards. */
static int state_rank(const char *st)
{
	for (int i = 0; i < 7; i++)
		if (strcmp(st, live_states[i]) == 0)
			return i;
	for (int i = 0; i < 5; i++)
		if (strcmp(st, terminal_states[i]) == 0)
			return 7 + i;
	return 0;
}

static bool terminal(const json_t *t)
{
	return state_rank(jstr(t, "Status", "State")) >= 7;
}

static bool wants_running(const json_t *t)
{
	return strcmp(jstr(t, "DesiredState", NULL), "running") == 0;
}

/* "node07" then zeros: readable in traces, and the index reads back. */
static void node_id(int i, char out[IDS_LEN + 1])
{
	snprintf(out, IDS_LEN + 1, "node%02d%019d", i, 0);
}

static int node_index(const char *id)
{
	if (strncmp(id, "node", 4) != 0 || strlen(id) != IDS_LEN)
		return -1;
	int i = (id[4] - '0') * 10 + (id[5] - '0');
	return i >= 0 && i < NODES ? i : -1;
}

static int service_index(struct orun *run, const char *id)
{
	for (int i = 0; i < run->n_svcs; i++)
		if (strcmp(run->svcs[i].id, id) == 0)
			return i;
	return -1;
}

static json_t *node_obj(struct orun *run, int i)
{
	return store_get(run->s, STORE_KIND_NODE, run->node_ids[i]);
}

static bool node_usable(const json_t *n)
{
	return strcmp(jstr(n, "Status", "State"), "ready") == 0 && strcmp(jstr(n, "Spec", "Availability"), "active") == 0;
}

static size_t find(struct orun *run, enum store_index idx, const char *key)
{
	size_t n = store_find(run->s, idx, key, NULL, 0);
	if (n > run->cap_buf) {
		run->cap_buf = n * 2;
		run->buf = xrealloc(run->buf, run->cap_buf * sizeof(*run->buf));
	}
	return store_find(run->s, idx, key, run->buf, n);
}

/* ---- writes ----------------------------------------------------------------------------- */

static void leader_kick(struct orun *run, uint64_t delay_ms);
static void check_writes(struct orun *run, bool full);

/* Applies an encoded transaction at the next index. Returns the store's code. */
static int apply_bytes(struct orun *run, const uint8_t *bytes, size_t len, struct store_result *res)
{
	return store_apply(run->s, ++run->index, bytes, len, res);
}

/* A write by the API, the gossip reconciler or an agent: it must apply. */
static void write_txn(struct orun *run, struct store_txn *txn, const char *who)
{
	uint8_t *bytes;
	size_t len;
	struct store_result res;
	if (store_txn_encode(txn, &bytes, &len) != 0)
		abort();
	if (apply_bytes(run, bytes, len, &res) != 0)
		sim_fail(run->sim, -1, "%s: write refused: %s (op %ld) %s", who, store_strerror(res.code), res.op,
			 res.message);
	free(bytes);
	store_txn_free(txn);
	/* agents only end tasks and never touch DesiredState: their writes cannot
	 * put two tasks in a slot, so the next other write checks what they touched */
	if (strcmp(who, "agent") != 0)
		check_writes(run, false);
}

/* Replaces a stored object with obj (stolen) in a write of its own. */
static void replace(struct orun *run, enum store_kind kind, json_t *obj, const char *who)
{
	char err[STORE_MSG_MAX];
	const char *id = jstr(obj, "ID", NULL);
	struct store_txn *txn = store_txn_new(ns_at(sim_now(run->sim)));
	if (store_txn_update(txn, kind, id, version(store_get(run->s, kind, id)), obj, err, sizeof(err)) != 0)
		sim_fail(run->sim, -1, "%s: %s", who, err);
	json_decref(obj);
	write_txn(run, txn, who);
}

static void set_node(struct orun *run, int i, const char *state, const char *availability)
{
	json_t *n = json_deep_copy(node_obj(run, i));
	if (state)
		json_object_set_new(json_object_get(n, "Status"), "State", json_string(state));
	if (availability)
		json_object_set_new(json_object_get(n, "Spec"), "Availability", json_string(availability));
	bool gone = !node_usable(n) && strcmp(jstr(n, "Status", "State"), "ready") != 0;
	gone = gone || strcmp(jstr(n, "Spec", "Availability"), "drain") == 0;
	replace(run, STORE_KIND_NODE, n, "node");
	run->gone_index[i] = gone ? run->index : 0;
	sim_tracef(run->sim, i, "node %s %s", jstr(node_obj(run, i), "Status", "State"),
		   jstr(node_obj(run, i), "Spec", "Availability"));
}

/* ---- invariants after every write ------------------------------------------------------------ */

struct slot_key {
	json_t *t;
	int64_t slot;
	const char *node;
};

static int by_slot(const void *a, const void *b)
{
	const struct slot_key *x = a, *y = b;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return strcmp(x->node, y->node);
}

/* The service's tasks grouped by slot (global: node): sorted keys in *out. */
static size_t slot_keys(struct orun *run, const json_t *svc, struct slot_key **out)
{
	bool global = json_object_get(json_object_get(json_object_get(svc, "Spec"), "Mode"), "Global") != NULL;
	size_t n = find(run, STORE_INDEX_TASK_SERVICE, jstr(svc, "ID", NULL));
	struct slot_key *k = xrealloc(NULL, n * sizeof(*k));
	for (size_t i = 0; i < n; i++)
		k[i] = (struct slot_key){.t = run->buf[i], .slot = global ? 0 : jint(run->buf[i], "Slot", NULL),
					 .node = global ? jstr(run->buf[i], "NodeID", NULL) : ""};
	qsort(k, n, sizeof(*k), by_slot);
	*out = k;
	return n;
}

static bool same_slot(const struct slot_key *a, const struct slot_key *b)
{
	return a->slot == b->slot && strcmp(a->node, b->node) == 0;
}

/* The update order in effect: RollbackConfig's during a rollback. */
static bool start_first(const json_t *svc)
{
	bool rb = strncmp(jstr(svc, "UpdateStatus", "State"), "rollback", 8) == 0;
	const json_t *cfg = json_object_get(json_object_get(svc, "Spec"), rb ? "RollbackConfig" : "UpdateConfig");
	return strcmp(jstr(cfg, "Order", NULL), "start-first") == 0;
}

/* Checks one slot's tasks k[0..n). full: also history and lost nodes (after a whole pass). */
static bool check_slot(struct orun *run, const json_t *svc, const struct slot_key *k, size_t n, bool full)
{
	const json_t *live[3] = {0};
	size_t n_live = 0, ended = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *t = k[i].t;
		bool run_wanted = wants_running(t), done = terminal(t);
		if (run_wanted && !done && n_live < 3)
			live[n_live++] = t;
		/* A task an agent wrote after the pass read the store (mixed, seed
		 * 95: its stop reported between the read and the commit) ended
		 * where the pass could not see it: the next pass trims it. */
		uint64_t v = version(t);
		bool unseen = v > run->leader.read_index && v < run->index;
		ended += !run_wanted && done && !unseen;
		int ni = node_index(jstr(t, "NodeID", NULL));
		if (full && run_wanted && ni >= 0 && run->gone_index[ni] != 0 &&
		    run->gone_index[ni] <= run->leader.read_index) {
			sim_fail(run->sim, ni, "task %s of %s desired running on node %d, down or drained since index %" PRIu64
				 " (pass read %" PRIu64 ")", jstr(t, "ID", NULL), jstr(svc, "Spec", "Name"), ni,
				 run->gone_index[ni], run->leader.read_index);
			return false;
		}
	}
	bool handover = n_live == 2 && start_first(svc) &&
			!json_equal(json_object_get(live[0], "Spec"), json_object_get(live[1], "Spec"));
	if (n_live > 1 && !handover) {
		sim_fail(run->sim, -1, "service %s slot %" PRId64 "%s: %zu live tasks desired running (%s, %s)",
			 jstr(svc, "Spec", "Name"), k[0].slot, k[0].node, n_live, jstr(live[0], "ID", NULL),
			 jstr(live[1], "ID", NULL));
		return false;
	}
	if (full && ended > HISTORY) {
		sim_fail(run->sim, -1, "service %s slot %" PRId64 "%s keeps %zu ended tasks", jstr(svc, "Spec", "Name"),
			 k[0].slot, k[0].node, ended);
		return false;
	}
	return true;
}

static bool check_service(struct orun *run, int si, bool full)
{
	const json_t *svc = store_get(run->s, STORE_KIND_SERVICE, run->svcs[si].id);
	struct slot_key *k;
	size_t n = slot_keys(run, svc, &k);
	bool ok = true;
	for (size_t i = 0, j; i < n && ok; i = j) {
		for (j = i + 1; j < n && same_slot(&k[i], &k[j]); j++)
			;
		ok = check_slot(run, svc, &k[i], j - i, full);
	}
	free(k);
	return ok;
}

/* After a pass that was not cut short: tasks on nodes it saw down or drained. */
static bool check_lost_nodes(struct orun *run)
{
	for (int i = 0; i < NODES; i++) {
		if (run->gone_index[i] == 0 || run->gone_index[i] > run->leader.read_index)
			continue;
		size_t n = find(run, STORE_INDEX_TASK_NODE, run->node_ids[i]);
		for (size_t j = 0; j < n; j++)
			if (wants_running(run->buf[j]) && !terminal(run->buf[j])) {
				sim_fail(run->sim, i, "task %s still desired running on node %d, gone since index %" PRIu64,
					 jstr(run->buf[j], "ID", NULL), i, run->gone_index[i]);
				return false;
			}
	}
	return true;
}

static void check_writes(struct orun *run, bool full)
{
	for (int i = 0; i < run->n_svcs && !sim_failed(run->sim); i++) {
		struct svc_info *si = &run->svcs[i];
		if (si->dirty_quick || (full && si->dirty_full))
			check_service(run, i, full);
		si->dirty_quick = false;
		if (full)
			si->dirty_full = false;
	}
	if (full && !sim_failed(run->sim))
		check_lost_nodes(run);
}

/* ---- agents ---------------------------------------------------------------------------------- */

static void queue_report(struct orun *run, int node, const char *id, const char *state, const char *msg,
			 uint64_t delay)
{
	struct agent *a = &run->agents[node];
	if (run->dead[node])
		return;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->q = xrealloc(a->q, a->cap * sizeof(*a->q));
	}
	struct report *r = &a->q[a->n++];
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->state = state;
	r->message = msg;
	r->due = sim_now(run->sim) + delay;
	sim_wake(run->sim, node);
}

static bool broken_image(const json_t *t)
{
	const json_t *img = jpath(t, (const char *const[]){"Spec", "ContainerSpec", "Image", NULL});
	return json_is_string(img) && strncmp(json_string_value(img), "app:broken", 10) == 0;
}

/* The agent starts an assigned task. */
static void agent_start(struct orun *run, int node, const json_t *t)
{
	const char *id = jstr(t, "ID", NULL);
	queue_report(run, node, id, "accepted", "accepted", rnd(run, 5, 50));
	if (broken_image(t))
		queue_report(run, node, id, "failed", "starting container failed: no such image", rnd(run, 100, 800));
	else
		queue_report(run, node, id, "running", "started", rnd(run, 100, 1500));
}

/* What an agent does when a task of its node changes. */
static void agent_watch(struct orun *run, const json_t *old, const json_t *t)
{
	int node = node_index(jstr(t, "NodeID", NULL));
	if (node < 0 || run->dead[node])
		return;
	const char *st = jstr(t, "Status", "State");
	bool was_assigned = old && strcmp(jstr(old, "Status", "State"), "assigned") == 0 &&
			    strcmp(jstr(old, "NodeID", NULL), jstr(t, "NodeID", NULL)) == 0;
	if (strcmp(st, "assigned") == 0 && wants_running(t) && !was_assigned)
		agent_start(run, node, t);
	bool was_wanted = old == NULL || wants_running(old);
	if (!wants_running(t) && was_wanted && state_rank(st) >= 2 && !terminal(t))
		queue_report(run, node, jstr(t, "ID", NULL), "shutdown", "shutdown", rnd(run, 10, 300));
}

/* A report still makes sense: the task is this node's, not ended, and it moves forward. */
static bool report_applies(const struct report *r, const json_t *t, const char *node)
{
	if (t == NULL || strcmp(jstr(t, "NodeID", NULL), node) != 0 || terminal(t))
		return false;
	if (state_rank(r->state) <= state_rank(jstr(t, "Status", "State")))
		return false;
	return strcmp(r->state, "running") != 0 || wants_running(t);
}

/* Whether id is among the n tasks in written. */
static bool written_in(char (*written)[IDS_LEN + 1], size_t n, const char *id)
{
	for (size_t j = 0; j < n; j++)
		if (strcmp(written[j], id) == 0)
			return true;
	return false;
}

static void agent_tick(void *p, struct sim *sim, uint64_t now)
{
	struct agent *a = p;
	struct orun *run = a->run;
	char ts[STORE_TIME_MAX], err[STORE_MSG_MAX];
	store_time_format(ns_at(now), ts);
	struct store_txn *txn = store_txn_new(ns_at(now));
	char (*written)[IDS_LEN + 1] = malloc(a->n * sizeof(*written) + 1);
	size_t kept = 0, n_written = 0;
	if (txn == NULL || written == NULL)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		struct report *r = &a->q[i];
		if (r->due > now) {
			a->q[kept++] = *r;
			continue;
		}
		const json_t *t = store_get(run->s, STORE_KIND_TASK, r->id);
		if (!report_applies(r, t, run->node_ids[a->node]))
			continue;
		if (written_in(written, n_written, r->id)) {
			/* A second report of the task due now (mixed, seed 16: both
			 * expected the same Version): the agent sends it next, once
			 * the first is in the store. */
			r->due = now + 1;
			a->q[kept++] = *r;
			continue;
		}
		json_t *u = json_deep_copy(t);
		json_t *status = json_object_get(u, "Status");
		json_object_set_new(status, "State", json_string(r->state));
		json_object_set_new(status, "Message", json_string(r->message));
		json_object_set_new(status, "Timestamp", json_string(ts));
		json_object_del(status, "Err");
		if (strcmp(r->state, "failed") == 0)
			json_object_set_new(status, "Err", json_string(r->message));
		if (store_txn_update(txn, STORE_KIND_TASK, r->id, version(t), u, err, sizeof(err)) != 0)
			sim_fail(sim, a->node, "agent report: %s", err);
		json_decref(u);
		memcpy(written[n_written++], r->id, sizeof(written[0]));
	}
	free(written);
	a->n = kept;
	size_t n = store_txn_count(txn);
	if (n == 0) {
		store_txn_free(txn);
		return;
	}
	run->f.reports += n;
	sim_tracef(sim, a->node, "agent reports %zu task states", n);
	write_txn(run, txn, "agent");
}

static uint64_t agent_deadline(void *p)
{
	struct agent *a = p;
	uint64_t d = SIM_NEVER;
	for (size_t i = 0; i < a->n; i++)
		if (a->q[i].due < d)
			d = a->q[i].due;
	return d;
}

static void agent_deliver(void *p, struct sim *sim, uint64_t now, int from, const void *buf, size_t len,
			  enum sim_channel ch)
{
	(void)p, (void)now, (void)from, (void)buf, (void)len, (void)ch;
	sim_fail(sim, -1, "agents receive no messages");
}

static const struct sim_node_ops agent_ops = {
	.deliver = agent_deliver,
	.tick = agent_tick,
	.next_deadline = agent_deadline,
};

/* ---- the leader ------------------------------------------------------------------------------ */

static void leader_kick(struct orun *run, uint64_t delay_ms)
{
	struct leader *l = &run->leader;
	uint64_t due = sim_now(run->sim) + delay_ms;
	if (l->timer_due <= due)
		return;
	l->timer_due = due;
	sim_wake(run->sim, LEADER);
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Times one pass in CPU time (what the leader spends on it, whatever else
 * the machine runs). */
static int timed_pass(struct orun *run, uint64_t now, struct orchestrator_pass *out, char *err, size_t errlen)
{
	struct figures *f = &run->f;
	double t0 = cpu_now();
	int rc = orchestrator_run(&run->leader.core, run->s, ns_at(now), 0, out, err, errlen);
	double ms = (cpu_now() - t0) * 1000.0;
	f->pass_ms_total += ms;
	f->pass_ms_max = ms > f->pass_ms_max ? ms : f->pass_ms_max;
	if (rc == 0 && out->txn == NULL) {
		f->idle_ms_total += ms;
		f->idle_passes++;
	}
	return rc;
}

static void leader_pass(struct orun *run, uint64_t now)
{
	struct leader *l = &run->leader;
	char err[ORCHESTRATOR_MSG_MAX];
	struct orchestrator_pass out;
	bool due = l->wake_ns != 0 && ns_at(now) >= l->wake_ns;
	if (l->writing || !(l->dirty || due))
		return;
	l->dirty = false;
	run->f.passes++;
	if (timed_pass(run, now, &out, err, sizeof(err)) != 0) {
		sim_fail(run->sim, LEADER, "pass failed: %s", err);
		return;
	}
	l->wake_ns = out.wake_ns;
	if (out.txn == NULL)
		return;
	size_t ops = store_txn_count(out.txn);
	int rc = store_txn_encode(out.txn, &l->txn, &l->txn_len);
	store_txn_free(out.txn);
	if (rc != 0) {
		sim_fail(run->sim, LEADER, "pass of %zu ops cannot be encoded: %s", ops, store_strerror(rc));
		return;
	}
	run->f.txns++;
	run->f.ops_total += ops;
	if (ops > run->f.ops_max)
		run->f.ops_max = ops;
	if (l->txn_len > run->f.bytes_max)
		run->f.bytes_max = l->txn_len;
	if (run->converged_at)
		run->quiet_txns++;
	l->writing = true;
	l->more = out.more;
	l->read_index = store_applied_index(run->s);
	l->commit_at = now + rnd(run, 1, 6);
	sim_tracef(run->sim, LEADER, "pass at index %" PRIu64 ": %zu created, %zu updated, %zu deleted, %zu bytes%s",
		   l->read_index, out.created, out.updated, out.deleted, l->txn_len, out.more ? ", more" : "");
}

static void leader_commit(struct orun *run)
{
	struct leader *l = &run->leader;
	struct store_result res;
	int rc = apply_bytes(run, l->txn, l->txn_len, &res);
	free(l->txn);
	l->txn = NULL;
	l->writing = false;
	l->commit_at = SIM_NEVER;
	if (rc == STORE_E_CONFLICT) {
		run->f.refused++;
		sim_tracef(run->sim, LEADER, "pass refused at index %" PRIu64 " (op %ld): recomputed", run->index, res.op);
		l->dirty = true;
		leader_kick(run, 100);
		return;
	}
	if (rc != 0) {
		sim_fail(run->sim, LEADER, "pass refused: %s (op %ld) %s", store_strerror(rc), res.op, res.message);
		return;
	}
	check_writes(run, !l->more);
	leader_kick(run, 0);
}

static void leader_tick(void *p, struct sim *sim, uint64_t now)
{
	struct leader *l = p;
	struct orun *run = l->run;
	if (l->writing && l->commit_at <= now)
		leader_commit(run);
	if (l->timer_due > now || sim_failed(sim))
		return;
	l->timer_due = SIM_NEVER;
	leader_pass(run, now);
	uint64_t next = ORCHESTRATE_HEARTBEAT_MS;
	if (l->wake_ns != 0) {
		int64_t ms = (l->wake_ns - ns_at(now)) / MS + 1;
		if (ms < (int64_t)next)
			next = ms > 0 ? (uint64_t)ms : 1;
	}
	leader_kick(run, next);
}

static uint64_t leader_deadline(void *p)
{
	struct leader *l = p;
	return l->writing && l->commit_at < l->timer_due ? l->commit_at : l->timer_due;
}

static const struct sim_node_ops leader_ops = {
	.deliver = agent_deliver,
	.tick = leader_tick,
	.next_deadline = leader_deadline,
};

/* The store watch: the leader's dirty flag, the agents' assignments, the services to check. */
static void on_change(void *data, const struct store_event *ev)
{
	struct orun *run = data;
	run->leader.dirty = true;
	leader_kick(run, ORCHESTRATE_COALESCE_MS);
	for (size_t i = 0; i < ev->n_changes; i++) {
		const struct store_change *c = &ev->changes[i];
		const json_t *obj = c->new_obj ? c->new_obj : c->old_obj;
		if (c->kind != STORE_KIND_TASK)
			continue;
		int si = service_index(run, jstr(obj, "ServiceID", NULL));
		if (si >= 0)
			run->svcs[si].dirty_quick = run->svcs[si].dirty_full = true;
		if (c->new_obj)
			agent_watch(run, c->old_obj, c->new_obj);
	}
}

/* ---- the cluster ------------------------------------------------------------------------------- */

static json_t *make_node(int i, const char *id)
{
	char host[16];
	snprintf(host, sizeof(host), "host%02d", i);
	bool gpu = i % 12 == 7;
	json_t *labels = json_pack("{s:s}", "zone", (const char *[]){"a", "b", "c"}[i % 3]);
	if (gpu)
		json_object_set_new(labels, "gpu", json_string("true"));
	return json_pack("{s:s, s:{s:s, s:s, s:o}, s:{s:s, s:{s:s, s:s}, s:{s:I, s:I}}, s:{s:s, s:s}}", "ID", id,
			 "Spec", "Role", i < 5 ? "manager" : "worker", "Availability", "active", "Labels", labels,
			 "Description", "Hostname", host, "Platform", "OS", "linux", "Architecture", "x86_64",
			 "Resources", "NanoCPUs", (json_int_t)(gpu ? 4 : 8) * SEC, "MemoryBytes", (json_int_t)16 << 30,
			 "Status", "State", "ready", "Addr", "10.0.0.1");
}

/* A kind of service: count of them, replicas each (-1: global), and its settings. */
struct svc_def {
	const char *name;
	int count, replicas;
	const char *constraint;         /* NULL: none */
	int64_t cpu, mem;               /* reservations */
	bool host_port;                 /* publishes HOST_PORT in host mode */
	const char *restart;            /* Condition */
	int64_t restart_delay_ms;       /* -1: absent (Docker's 5 s) */
	int max_attempts;
	const char *order, *failure_action;
	int parallelism;
};

/* 2,000 tasks: 1,928 replicated, 72 global (50 + 17 in zone a + 5 managers). */
static const struct svc_def svc_defs[] = {
	{"big", 1, 400, NULL, 0, 0, false, "any", 500, 0, "stop-first", "pause", 50},
	{"web", 2, 200, NULL, 0, 64 << 20, false, "any", 500, 0, "start-first", "rollback", 25},
	{"api", 4, 100, NULL, SEC / 10, 0, false, "any", -1, 0, "stop-first", "pause", 20},
	{"worker", 10, 40, "node.role==worker", 0, 128 << 20, false, "on-failure", 300, 0, "start-first", "continue", 8},
	{"cron", 8, 16, NULL, 0, 0, false, "none", 0, 0, "stop-first", "continue", 4},
	{"batch", 10, 10, NULL, 0, 0, false, "on-failure", 100, 2, "stop-first", "pause", 2},
	{"misc", 9, 8, "node.labels.zone!=c", 0, 0, false, "any", 200, 0, "start-first", "rollback", 2},
	{"edge", 1, 20, NULL, 0, 0, true, "any", 500, 0, "stop-first", "pause", 2},
	{"gpu", 1, 8, "node.labels.gpu==true", 2 * SEC, 0, false, "any", 500, 0, "stop-first", "pause", 1},
	{"monitor", 1, -1, NULL, 0, 0, false, "any", 500, 0, "stop-first", "pause", 5},
	{"zonal", 1, -1, "node.labels.zone==a", 0, 0, false, "any", 500, 0, "stop-first", "rollback", 3},
	{"mgr", 1, -1, "node.role==manager", 0, 0, false, "any", 500, 0, "stop-first", "pause", 1},
};

static json_t *update_config(const struct svc_def *d)
{
	return json_pack("{s:i, s:I, s:s, s:I, s:f, s:s}", "Parallelism", d->parallelism, "Delay",
			 (json_int_t)(100 * MS), "FailureAction", d->failure_action, "Monitor", (json_int_t)SEC,
			 "MaxFailureRatio", 0.0, "Order", d->order);
}

static json_t *make_service(const struct svc_def *d, const char *id, const char *name)
{
	json_t *restart = json_pack("{s:s, s:i}", "Condition", d->restart, "MaxAttempts", d->max_attempts);
	if (d->restart_delay_ms >= 0)
		json_object_set_new(restart, "Delay", json_integer(d->restart_delay_ms * MS));
	json_t *tmpl = json_pack("{s:{s:s}, s:o, s:{s:{s:I, s:I}}, s:i}", "ContainerSpec", "Image", "app:v0",
				 "RestartPolicy", restart, "Resources", "Reservations", "NanoCPUs", (json_int_t)d->cpu,
				 "MemoryBytes", (json_int_t)d->mem, "ForceUpdate", 0);
	if (d->constraint)
		json_object_set_new(tmpl, "Placement", json_pack("{s:[s]}", "Constraints", d->constraint));
	json_t *mode = d->replicas < 0 ? json_pack("{s:{}}", "Global")
				       : json_pack("{s:{s:i}}", "Replicated", "Replicas", d->replicas);
	json_t *ports = d->host_port ? json_pack("[{s:s, s:i, s:i, s:s}]", "Protocol", "tcp", "TargetPort", 80,
						 "PublishedPort", HOST_PORT, "PublishMode", "host")
				     : json_array();
	json_t *endpoint = json_pack("{s:s, s:o}", "Mode", "vip", "Ports", ports);
	return json_pack("{s:s, s:{s:s, s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o}}", "ID", id, "Spec", "Name", name,
			 "TaskTemplate", tmpl, "Mode", mode, "UpdateConfig", update_config(d), "RollbackConfig",
			 update_config(d), "EndpointSpec", endpoint, "Endpoint", "Spec", json_deep_copy(endpoint), "Ports",
			 json_deep_copy(ports));
}

static void build_cluster(struct orun *run)
{
	char err[STORE_MSG_MAX], name[32];
	struct store_txn *txn = store_txn_new(ns_at(0));
	for (int i = 0; i < NODES; i++) {
		node_id(i, run->node_ids[i]);
		json_t *n = make_node(i, run->node_ids[i]);
		if (store_txn_create(txn, STORE_KIND_NODE, n, err, sizeof(err)) != 0)
			sim_fail(run->sim, -1, "node: %s", err);
		json_decref(n);
	}
	for (size_t d = 0; d < sizeof(svc_defs) / sizeof(svc_defs[0]); d++)
		for (int k = 0; k < svc_defs[d].count; k++) {
			struct svc_info *si = &run->svcs[run->n_svcs];
			snprintf(si->id, sizeof(si->id), "svc%03d%019d", run->n_svcs++, 0);
			snprintf(name, sizeof(name), "%s-%d", svc_defs[d].name, k);
			si->base = svc_defs[d].replicas;
			si->rollback = strcmp(svc_defs[d].failure_action, "rollback") == 0 && si->base > 0;
			json_t *s = make_service(&svc_defs[d], si->id, name);
			if (store_txn_create(txn, STORE_KIND_SERVICE, s, err, sizeof(err)) != 0)
				sim_fail(run->sim, -1, "service: %s", err);
			json_decref(s);
		}
	write_txn(run, txn, "setup");
}

/* ---- chaos --------------------------------------------------------------------------------------- */

static int count_dead(struct orun *run, bool drained)
{
	int n = 0;
	for (int i = 0; i < NODES; i++)
		n += drained ? strcmp(jstr(node_obj(run, i), "Spec", "Availability"), "drain") == 0 : run->dead[i];
	return n;
}

static void kill_node(struct orun *run)
{
	if (count_dead(run, false) >= run->sc->max_dead)
		return;
	int i = (int)sim_rand_below(run->sim, NODES);
	if (run->dead[i])
		return;
	run->dead[i] = true;
	run->agents[i].n = 0;
	sim_crash(run->sim, i);
	run->down_due[i] = sim_now(run->sim) + rnd(run, 2000, 8000);
	run->f.kills++;
	sim_tracef(run->sim, i, "chaos: node %d dies", i);
}

/* A node comes back with no process left: its agent reports what it held as failed. */
static void revive_node(struct orun *run, int i)
{
	run->dead[i] = false;
	sim_restart(run->sim, i, &run->agents[i]);
	set_node(run, i, "ready", NULL);
	size_t n = find(run, STORE_INDEX_TASK_NODE, run->node_ids[i]);
	for (size_t j = 0; j < n; j++) {
		const json_t *t = run->buf[j];
		int rank = state_rank(jstr(t, "Status", "State"));
		if (terminal(t) || rank < 2)
			continue;
		if (rank > 2)
			queue_report(run, i, jstr(t, "ID", NULL), "failed", "task lost in a node restart", rnd(run, 10, 100));
		else if (wants_running(t))
			agent_start(run, i, t);
		else
			queue_report(run, i, jstr(t, "ID", NULL), "shutdown", "shutdown", rnd(run, 10, 100));
	}
	run->f.revives++;
	sim_tracef(run->sim, i, "chaos: node %d returns", i);
}

static void revive_some(struct orun *run)
{
	int i = (int)sim_rand_below(run->sim, NODES);
	if (run->dead[i] && run->down_due[i] == 0)
		revive_node(run, i);
}

static void drain_or_activate(struct orun *run)
{
	int i = (int)sim_rand_below(run->sim, NODES);
	bool drained = strcmp(jstr(node_obj(run, i), "Spec", "Availability"), "drain") == 0;
	if (!drained && count_dead(run, true) >= run->sc->max_drained)
		return;
	set_node(run, i, NULL, drained ? "active" : "drain");
	run->f.drains++;
}

/* A running task on a live node exits with an error. */
static void fail_task(struct orun *run)
{
	int i = (int)sim_rand_below(run->sim, NODES);
	if (run->dead[i])
		return;
	size_t n = find(run, STORE_INDEX_TASK_NODE, run->node_ids[i]), running = 0;
	for (size_t j = 0; j < n; j++)
		running += strcmp(jstr(run->buf[j], "Status", "State"), "running") == 0;
	if (running == 0)
		return;
	size_t pick = sim_rand_below(run->sim, running);
	for (size_t j = 0; j < n; j++)
		if (strcmp(jstr(run->buf[j], "Status", "State"), "running") == 0 && pick-- == 0) {
			queue_report(run, i, jstr(run->buf[j], "ID", NULL), "failed", "task: non-zero exit (1)", 0);
			sim_tracef(run->sim, i, "chaos: task %s fails", jstr(run->buf[j], "ID", NULL));
		}
	run->f.fails++;
}

/* The API's service update: PreviousSpec = Spec, UpdateStatus cleared, then the change. */
static json_t *api_update(struct orun *run, int si)
{
	json_t *s = json_deep_copy(store_get(run->s, STORE_KIND_SERVICE, run->svcs[si].id));
	json_object_set_new(s, "PreviousSpec", json_deep_copy(json_object_get(s, "Spec")));
	json_object_del(s, "UpdateStatus");
	return s;
}

static void scale_service(struct orun *run)
{
	int si = (int)sim_rand_below(run->sim, (uint64_t)run->n_svcs);
	int64_t base = run->svcs[si].base;
	if (base < 0)
		return;
	int64_t replicas = (int64_t)rnd(run, (uint64_t)(base / 2 > 0 ? base / 2 : 1), (uint64_t)(base * 3 / 2));
	json_t *s = api_update(run, si);
	json_t *rep = json_object_get(json_object_get(json_object_get(s, "Spec"), "Mode"), "Replicated");
	json_object_set_new(rep, "Replicas", json_integer(replicas));
	sim_tracef(run->sim, -1, "chaos: %s scaled to %" PRId64, jstr(s, "Spec", "Name"), replicas);
	replace(run, STORE_KIND_SERVICE, s, "scale");
	run->f.scales++;
}

/* A new image; a broken one now and then on services that roll back. */
static void update_service(struct orun *run)
{
	int si = (int)sim_rand_below(run->sim, (uint64_t)run->n_svcs);
	json_t *s = api_update(run, si);
	json_t *cs = json_object_get(json_object_get(json_object_get(s, "Spec"), "TaskTemplate"), "ContainerSpec");
	bool broken = run->svcs[si].rollback && strncmp(jstr(cs, "Image", NULL), "app:broken", 10) != 0 &&
		      sim_rand_below(run->sim, 3) == 0;
	char image[32];
	snprintf(image, sizeof(image), "app:%s%d", broken ? "broken" : "v", ++run->image_seq);
	json_object_set_new(cs, "Image", json_string(image));
	sim_tracef(run->sim, -1, "chaos: %s updated to %s", jstr(s, "Spec", "Name"), image);
	replace(run, STORE_KIND_SERVICE, s, "update");
	run->f.updates++;
	run->f.broken += broken;
}

static void chaos_action(struct orun *run)
{
	const struct scen *sc = run->sc;
	int total = sc->w_kill + sc->w_revive + sc->w_drain + sc->w_fail + sc->w_scale + sc->w_update;
	int r = (int)sim_rand_below(run->sim, (uint64_t)total);
	run->f.actions++;
	if ((r -= sc->w_kill) < 0)
		kill_node(run);
	else if ((r -= sc->w_revive) < 0)
		revive_some(run);
	else if ((r -= sc->w_drain) < 0)
		drain_or_activate(run);
	else if ((r -= sc->w_fail) < 0)
		fail_task(run);
	else if ((r -= sc->w_scale) < 0)
		scale_service(run);
	else
		update_service(run);
}

/* The gossip reconciler's writes: a dead node becomes "down" once detected. */
static void detect_deaths(struct orun *run, uint64_t now)
{
	for (int i = 0; i < NODES; i++)
		if (run->down_due[i] != 0 && run->down_due[i] <= now) {
			run->down_due[i] = 0;
			set_node(run, i, "down", NULL);
			run->last_down = now;
		}
}

/* The chaos ends: drained nodes are activated, about half the dead nodes return. */
static void end_chaos(struct orun *run)
{
	run->chaos = false;
	run->chaos_end = sim_now(run->sim);
	for (int i = 0; i < NODES; i++) {
		if (strcmp(jstr(node_obj(run, i), "Spec", "Availability"), "drain") == 0)
			set_node(run, i, NULL, "active");
		if (run->dead[i] && run->down_due[i] == 0 && sim_rand_below(run->sim, 2) == 0)
			revive_node(run, i);
	}
	sim_tracef(run->sim, -1, "chaos ends: %d nodes stay dead", count_dead(run, false));
}

/* ---- the end state ----------------------------------------------------------------------------------- */

/* What the tasks not yet ended hold on each node, counted here rather than by the scheduler. */
struct usage {
	int64_t cpu[NODES], mem[NODES];
	bool port[NODES];
};

static bool publishes_host_port(struct orun *run, const json_t *t)
{
	const json_t *svc = store_get(run->s, STORE_KIND_SERVICE, jstr(t, "ServiceID", NULL));
	const json_t *ports = json_object_get(json_object_get(svc, "Endpoint"), "Ports");
	return json_array_size(ports) > 0 && strcmp(jstr(json_array_get(ports, 0), "PublishMode", NULL), "host") == 0;
}

static const json_t *reservations(const json_t *t)
{
	return jpath(t, (const char *const[]){"Spec", "Resources", "Reservations", NULL});
}

static void count_usage(struct orun *run, struct usage *u)
{
	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < store_count(run->s, STORE_KIND_TASK); i++) {
		const json_t *t = store_at(run->s, STORE_KIND_TASK, i);
		int ni = node_index(jstr(t, "NodeID", NULL));
		if (ni < 0 || terminal(t) || state_rank(jstr(t, "Status", "State")) < 2)
			continue;
		u->cpu[ni] += jint(reservations(t), "NanoCPUs", NULL);
		u->mem[ni] += jint(reservations(t), "MemoryBytes", NULL);
		u->port[ni] |= publishes_host_port(run, t);
	}
}

static bool why(struct orun *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool why(struct orun *run, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(run->why, sizeof(run->why), fmt, ap);
	va_end(ap);
	return false;
}

/* A pending task says no node fits, and no node does. */
static bool pending_explained(struct orun *run, const json_t *t, const struct usage *u)
{
	const char *err = jstr(t, "Status", "Err");
	if (strncmp(err, "no suitable node", 16) != 0)
		return why(run, "task %s pending without a reason (Err \"%s\")", jstr(t, "ID", NULL), err);
	struct scheduler_constraint *c = NULL;
	size_t nc = 0;
	char e[SCHEDULER_MSG_MAX];
	if (scheduler_constraints_parse(jpath(t, (const char *const[]){"Spec", "Placement", "Constraints", NULL}), &c,
					&nc, e, sizeof(e)) != 0)
		return why(run, "task %s: %s", jstr(t, "ID", NULL), e);
	bool host_port = publishes_host_port(run, t);
	int fits = -1;
	for (int i = 0; i < NODES && fits < 0; i++) {
		const json_t *n = node_obj(run, i), *res = jpath(n, (const char *const[]){"Description", "Resources", NULL});
		if (!node_usable(n) || !scheduler_node_matches(c, nc, n) || (host_port && u->port[i]))
			continue;
		if (u->cpu[i] + jint(reservations(t), "NanoCPUs", NULL) > jint(res, "NanoCPUs", NULL) ||
		    u->mem[i] + jint(reservations(t), "MemoryBytes", NULL) > jint(res, "MemoryBytes", NULL))
			continue;
		fits = i;
	}
	free(c);
	if (fits >= 0)
		return why(run, "task %s pending (%s) but node %d fits it", jstr(t, "ID", NULL), err, fits);
	return true;
}

/* A slot without a task meant to run: its newest task ended and its restart policy says so. */
static bool restart_forbidden(const struct slot_key *k, size_t n)
{
	const json_t *newest = NULL;
	for (size_t i = 0; i < n; i++)
		if (newest == NULL || strcmp(jstr(k[i].t, "CreatedAt", NULL), jstr(newest, "CreatedAt", NULL)) >= 0)
			newest = k[i].t;
	const char *st = jstr(newest, "Status", "State");
	if (newest == NULL || (strcmp(st, "failed") != 0 && strcmp(st, "complete") != 0))
		return false;
	const json_t *rp = jpath(newest, (const char *const[]){"Spec", "RestartPolicy", NULL});
	const char *cond = jstr(rp, "Condition", NULL);
	if (strcmp(cond, "none") == 0 || (strcmp(cond, "on-failure") == 0 && strcmp(st, "complete") == 0))
		return true;
	int64_t max = jint(rp, "MaxAttempts", NULL), failures = 0;
	for (size_t i = 0; i < n; i++)
		failures += strcmp(jstr(k[i].t, "Status", "State"), "failed") == 0 &&
			    json_equal(json_object_get(k[i].t, "Spec"), json_object_get(newest, "Spec"));
	return max > 0 && failures > max;
}

/* One slot at the end: its live task (if any) runs the right spec on a good node, or waits explained. */
static bool slot_done(struct orun *run, const json_t *svc, const struct slot_key *k, size_t n, bool wanted,
		      const struct usage *u)
{
	const json_t *cur = NULL;
	const char *name = jstr(svc, "Spec", "Name");
	for (size_t i = 0; i < n; i++) {
		if (terminal(k[i].t))
			continue;
		if (!wants_running(k[i].t) || cur != NULL)
			return why(run, "%s slot %" PRId64 "%s: task %s still %s", name, k[0].slot, k[0].node,
				   jstr(k[i].t, "ID", NULL), jstr(k[i].t, "Status", "State"));
		cur = k[i].t;
	}
	if (!wanted)
		return cur == NULL || why(run, "%s slot %" PRId64 "%s not wanted, task %s", name, k[0].slot, k[0].node,
					  jstr(cur, "ID", NULL));
	if (cur == NULL)
		return restart_forbidden(k, n) ||
		       why(run, "%s slot %" PRId64 "%s has no task and may restart", name, k[0].slot, k[0].node);
	const char *st = jstr(cur, "Status", "State");
	if (strcmp(st, "pending") == 0)
		return pending_explained(run, cur, u);
	int ni = node_index(jstr(cur, "NodeID", NULL));
	if (strcmp(st, "running") != 0 || ni < 0 || run->dead[ni] || !node_usable(node_obj(run, ni)))
		return why(run, "%s slot %" PRId64 "%s: task %s %s on node %d", name, k[0].slot, k[0].node,
			   jstr(cur, "ID", NULL), st, ni);
	const char *us = jstr(svc, "UpdateStatus", "State");
	bool paused = strcmp(us, "paused") == 0 || strcmp(us, "rollback_paused") == 0 ||
		      strcmp(us, "updating") == 0 || strcmp(us, "rollback_started") == 0; /* held by a pending task */
	const json_t *tmpl = json_object_get(json_object_get(svc, "Spec"), "TaskTemplate");
	if (!paused && !json_equal(json_object_get(cur, "Spec"), tmpl))
		return why(run, "%s slot %" PRId64 "%s: task %s runs an old spec (update %s)", name, k[0].slot,
			   k[0].node, jstr(cur, "ID", NULL), us);
	return true;
}

/* A task of the service waits for a node: an update waits for it too (as in
 * swarmkit, it stays "updating" while a new task cannot be placed). */
static bool has_pending(struct orun *run, const json_t *svc)
{
	size_t n = find(run, STORE_INDEX_TASK_SERVICE, jstr(svc, "ID", NULL));
	for (size_t i = 0; i < n; i++)
		if (wants_running(run->buf[i]) && strcmp(jstr(run->buf[i], "Status", "State"), "pending") == 0)
			return true;
	return false;
}

/* Whether global service svc wants a task on node i. */
static bool global_wants(struct orun *run, const json_t *svc, int i)
{
	const json_t *cons = jpath(svc, (const char *const[]){"Spec", "TaskTemplate", "Placement", "Constraints", NULL});
	struct scheduler_constraint *c = NULL;
	size_t nc = 0;
	char e[SCHEDULER_MSG_MAX];
	bool ok = i >= 0 && node_usable(node_obj(run, i)) &&
		  scheduler_constraints_parse(cons, &c, &nc, e, sizeof(e)) == 0 &&
		  scheduler_node_matches(c, nc, node_obj(run, i));
	free(c);
	return ok;
}

static bool service_done(struct orun *run, const json_t *svc, const struct usage *u)
{
	const char *us = jstr(svc, "UpdateStatus", "State"), *name = jstr(svc, "Spec", "Name");
	bool rolling = strcmp(us, "updating") == 0 || strcmp(us, "rollback_started") == 0;
	if (rolling && !has_pending(run, svc))
		return why(run, "%s: update %s", name, us);
	bool global = jpath(svc, (const char *const[]){"Spec", "Mode", "Global", NULL}) != NULL;
	int64_t replicas = jint(jpath(svc, (const char *const[]){"Spec", "Mode", "Replicated", NULL}), "Replicas", NULL);
	struct slot_key *k;
	size_t n = slot_keys(run, svc, &k);
	int64_t covered = 0;
	bool ok = true;
	for (size_t i = 0, j; i < n && ok; i = j) {
		for (j = i + 1; j < n && same_slot(&k[i], &k[j]); j++)
			;
		bool wanted = global ? global_wants(run, svc, node_index(k[i].node)) : k[i].slot >= 1 && k[i].slot <= replicas;
		covered += wanted;
		ok = slot_done(run, svc, &k[i], j - i, wanted, u);
	}
	free(k);
	if (!ok)
		return false;
	int64_t expected = global ? 0 : replicas;
	for (int i = 0; global && i < NODES; i++)
		expected += global_wants(run, svc, i);
	return covered == expected || why(run, "%s: %" PRId64 " of %" PRId64 " slots have tasks", name, covered, expected);
}

static bool idle(struct orun *run)
{
	if (run->leader.writing || run->leader.dirty)
		return why(run, "the leader is busy");
	for (int i = 0; i < NODES; i++)
		if (run->down_due[i] != 0 || (!run->dead[i] && run->agents[i].n > 0))
			return why(run, "node %d has writes to make", i);
	return true;
}

static bool end_state(struct orun *run)
{
	if (!idle(run))
		return false;
	struct usage u;
	count_usage(run, &u);
	for (int i = 0; i < run->n_svcs; i++)
		if (!service_done(run, store_get(run->s, STORE_KIND_SERVICE, run->svcs[i].id), &u))
			return false;
	return true;
}

/* ---- the run -------------------------------------------------------------------------------------------- */

enum phase { PHASE_SETUP, PHASE_CHAOS, PHASE_SETTLE, PHASE_QUIET, PHASE_DONE };

struct world {
	struct orun *run;
	enum phase phase;
	uint64_t until; /* the phase's deadline or end */
};

static void next_action(struct orun *run)
{
	run->next_action = sim_now(run->sim) + rnd(run, 1, 2 * run->sc->every_ms);
}

static void world_tick(struct sim *sim, void *data)
{
	struct world *w = data;
	struct orun *run = w->run;
	uint64_t now = sim_now(sim);
	detect_deaths(run, now);
	switch (w->phase) {
	case PHASE_SETUP:
		if (end_state(run)) {
			run->setup_done = now;
			sim_tracef(sim, -1, "setup converged: chaos starts");
			w->phase = PHASE_CHAOS;
			w->until = now + run->sc->chaos_ms;
			run->chaos = true;
			next_action(run);
		} else if (now >= w->until) {
			sim_fail(sim, -1, "the services never started: %s", run->why);
		}
		break;
	case PHASE_CHAOS:
		while (now >= run->next_action && !sim_failed(sim)) {
			chaos_action(run);
			next_action(run);
		}
		if (now >= w->until) {
			end_chaos(run);
			w->phase = PHASE_SETTLE;
			w->until = now + SETTLE_MS;
		}
		break;
	case PHASE_SETTLE:
		if (end_state(run)) {
			run->converged_at = now;
			sim_tracef(sim, -1, "converged");
			w->phase = PHASE_QUIET;
			w->until = now + QUIET_MS;
		} else if (now >= w->until) {
			sim_fail(sim, -1, "no convergence %d s after the chaos: %s", SETTLE_MS / 1000, run->why);
		}
		break;
	case PHASE_QUIET:
		if (run->quiet_txns > 0)
			sim_fail(sim, LEADER, "the orchestrator wrote %" PRIu64 " passes after converging", run->quiet_txns);
		else if (now >= w->until && !end_state(run))
			sim_fail(sim, -1, "converged, then not: %s", run->why);
		else if (now >= w->until)
			w->phase = PHASE_DONE;
		break;
	case PHASE_DONE:
		break;
	}
	if (w->phase != PHASE_DONE && !sim_failed(sim))
		sim_at(sim, now + WORLD_TICK_MS, world_tick, w);
}

static bool done(struct sim *sim, void *data)
{
	struct world *w = data;
	return w->phase == PHASE_DONE || sim_failed(sim);
}

/* ---- figures over the seeds ------------------------------------------------------------------------------- */

#define MAX_FIGURES 64

static struct figure {
	const char *scenario, *name;
	uint64_t n;
	double min, max, sum;
} figures[MAX_FIGURES];
static size_t n_figures;

static void figure(const char *scenario, const char *name, double v)
{
	struct figure *f = NULL;
	for (size_t k = 0; k < n_figures && f == NULL; k++)
		if (figures[k].scenario == scenario && figures[k].name == name)
			f = &figures[k];
	if (f == NULL && n_figures == MAX_FIGURES)
		return;
	if (f == NULL) {
		f = &figures[n_figures++];
		*f = (struct figure){.scenario = scenario, .name = name, .min = v, .max = v};
	}
	f->n++;
	f->sum += v;
	f->min = v < f->min ? v : f->min;
	f->max = v > f->max ? v : f->max;
}

static void print_figures(void)
{
	if (n_figures > 0)
		printf("\nfigures over the seeds that passed:\n");
	for (size_t k = 0; k < n_figures; k++) {
		const struct figure *f = &figures[k];
		printf("  %-8s %-40s n=%-4" PRIu64 " min %10.2f  mean %10.2f  max %10.2f\n", f->scenario, f->name, f->n,
		       f->min, f->sum / (double)f->n, f->max);
	}
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void record(struct orun *run, const char *scenario, double wall)
{
	const struct figures *f = &run->f;
	uint64_t last = run->last_down > run->chaos_end ? run->last_down : run->chaos_end;
	double after_death = (double)(run->converged_at - (run->last_down ? run->last_down : run->chaos_end)) / 1000.0;
	figure(scenario, "setup: all 2,000 tasks running (s)", (double)run->setup_done / 1000.0);
	figure(scenario, "converged after the last down node (s)", after_death);
	figure(scenario, "converged after the chaos and downs (s)", (double)(run->converged_at - last) / 1000.0);
	figure(scenario, "passes", (double)f->passes);
	figure(scenario, "transactions written", (double)f->txns);
	figure(scenario, "transactions refused (conflict)", (double)f->refused);
	figure(scenario, "ops per transaction (mean)", f->txns ? (double)f->ops_total / (double)f->txns : 0);
	figure(scenario, "ops per transaction (max)", (double)f->ops_max);
	figure(scenario, "bytes per transaction (max)", (double)f->bytes_max);
	figure(scenario, "tasks in the store at the end", (double)store_count(run->s, STORE_KIND_TASK));
	figure(scenario, "pass (ms CPU, mean)", f->passes ? f->pass_ms_total / (double)f->passes : 0);
	figure(scenario, "pass (ms CPU, max)", f->pass_ms_max);
	figure(scenario, "pass writing nothing (ms CPU, mean)",
	       f->idle_passes ? f->idle_ms_total / (double)f->idle_passes : 0);
	figure(scenario, "wall time per seed (s, real)", wall);
	printf("  %s seed %" PRIu64 ": setup %.1f s, %" PRIu64 " kills %" PRIu64 " returns %" PRIu64 " drains %" PRIu64
	       " failures %" PRIu64 " scales %" PRIu64 " updates (%" PRIu64 " broken); converged %.1f s after the last"
	       " down node; %" PRIu64 " passes, %" PRIu64 " txns (%" PRIu64 " refused), ops mean %.1f max %" PRIu64
	       ", max %" PRIu64 " bytes; wall %.2f s\n",
	       scenario, sim_seed(run->sim), (double)run->setup_done / 1000.0, f->kills, f->revives, f->drains, f->fails,
	       f->scales, f->updates, f->broken, after_death, f->passes, f->txns, f->refused,
	       f->txns ? (double)f->ops_total / (double)f->txns : 0, f->ops_max, f->bytes_max, wall);
	fflush(stdout);
}

static void run_scenario(struct sim *sim, const struct scen *sc, const char *name)
{
	double t0 = wall_now();
	struct orun *run = calloc(1, sizeof(*run));
	if (run == NULL)
		abort();
	run->sim = sim;
	run->sc = sc;
	run->s = store_new();
	if (run->s == NULL || store_watch(run->s, on_change, run) != 0)
		abort();
	for (int i = 0; i < NODES; i++) {
		run->agents[i] = (struct agent){.run = run, .node = i};
		sim_add_node(sim, &run->agents[i], &agent_ops);
	}
	run->leader = (struct leader){.run = run, .timer_due = SIM_NEVER, .commit_at = SIM_NEVER};
	orchestrator_init(&run->leader.core, sim_node_seed(sim, LEADER));
	sim_add_node(sim, &run->leader, &leader_ops);
	build_cluster(run);
	struct world w = {.run = run, .phase = PHASE_SETUP, .until = 120000};
	sim_at(sim, WORLD_TICK_MS, world_tick, &w);
	sim_run_until_pred(sim, done, &w, UINT64_MAX - 1);
	if (!sim_failed(sim))
		record(run, name, wall_now() - t0);
	for (int i = 0; i < NODES; i++)
		free(run->agents[i].q);
	free(run->leader.txn);
	orchestrator_close(&run->leader.core);
	free(run->buf);
	store_free(run->s);
	free(run);
}

/* Node deaths and returns with task failures: the replacement path. */
static const struct scen deaths = {
	.chaos_ms = 30000, .every_ms = 300, .max_dead = 6, .max_drained = 0,
	.w_kill = 4, .w_revive = 3, .w_fail = 3,
};

/* Scaling and rolling updates (some to broken images that roll back), a few deaths. */
static const struct scen updates = {
	.chaos_ms = 30000, .every_ms = 500, .max_dead = 3, .max_drained = 1,
	.w_kill = 1, .w_revive = 1, .w_drain = 1, .w_fail = 2, .w_scale = 3, .w_update = 4,
};

/* Everything at once, drains included, for longer. */
static const struct scen mixed = {
	.chaos_ms = 40000, .every_ms = 300, .max_dead = 6, .max_drained = 2,
	.w_kill = 3, .w_revive = 2, .w_drain = 1, .w_fail = 3, .w_scale = 2, .w_update = 3,
};

static void run_deaths(struct sim *sim, void *data)
{
	run_scenario(sim, data, "deaths");
}

static void run_updates(struct sim *sim, void *data)
{
	run_scenario(sim, data, "updates");
}

static void run_mixed(struct sim *sim, void *data)
{
	run_scenario(sim, data, "mixed");
}

int main(int argc, char **argv)
{
	static const struct sim_scenario scenarios[] = {
		{.name = "deaths", .run = run_deaths, .data = (void *)&deaths, .seeds = 1},
		{.name = "updates", .run = run_updates, .data = (void *)&updates, .seeds = 1},
		{.name = "mixed", .run = run_mixed, .data = (void *)&mixed, .seeds = 1},
	};
	struct sim_runner_opts opts;
	int r = sim_runner_parse(argc, argv, &opts, stderr);
	if (r != 0)
		return r < 0 ? 2 : 0;
	uint64_t failed = sim_runner_run(&opts, scenarios, sizeof(scenarios) / sizeof(scenarios[0]), argv[0], stdout);
	print_figures();
	return failed ? 1 : 0;
}
