/* sim_swim: SWIM + Lifeguard scenarios on the deterministic simulator: join, crash, loss, partition, leave. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "swim_adapter.h"

/*
 * Every scenario builds a cluster of swim cores with the default (memberlist
 * LAN) timing on a network of 2 ms + 0..6 ms jitter, lets it form by joining
 * through node 0, and then breaks something. The adapter checks on every event
 * that no live node is declared dead (outside a partition), that no node holds
 * itself suspect or dead, that incarnations never go down in any view and that
 * each event fits the view it changes; swim_sim_check() runs after every step.
 *
 * Bounds on simulated time are measured over many seeds and asserted with
 * headroom; each seed prints one line of figures, and the end of the run prints
 * min / mean / max per figure (see README.md for the measured values).
 */

/* --- bounds (simulated ms), measured, then given headroom: see README.md ------
 *
 * Most are at least twice the worst seed measured. Three cover a rare tail in
 * which one node missed one gossip epidemic (a join, a refutation, a leave)
 * and only the periodic push-pull (first 30-60 s after start, then every 90 s
 * at 100 nodes) or its next probe round repairs it: they are that interval
 * plus margin. */

#define JOIN_WINDOW_MS 5000           /* nodes join at random times in this window */
#define FORM_100_BOUND_MS 90000       /* 100 nodes settled after the last join (worst 52 s) */
#define JOIN_1000_BOUND_MS 120000     /* 1,000 nodes settled after the last join (worst 55 s) */
#define DETECT_BOUND_MS 20000         /* a crash seen dead by all others (worst 9.3 s) */
#define REJOIN_BOUND_MS 5000          /* a restarted node alive everywhere (worst 0.8 s) */
#define LOSS_RUN_MS (10 * 60 * 1000)  /* the lossy run */
#define LOSS_KNOW_BOUND_MS 120000     /* under loss, every node knows all 100 (worst 55 s) */
#define LOSS_SETTLE_BOUND_MS 30000    /* after the loss stops, no suspicion left (worst 4 s) */
#define PARTITION_MS 60000            /* how long the halves are apart */
#define HEAL_BOUND_MS 120000          /* after healing, all 100 alive everywhere (worst 38 s) */
#define LEAVE_DONE_BOUND_MS 5000      /* swim_leave_done after swim_leave (worst 0.6 s) */
#define LEAVE_SEEN_BOUND_MS 150000    /* every other node holds the leaver left (worst 33 s) */
#define QUIET_MS 60000                /* a calm period after a scenario's end state */

static const struct sim_link lan = { .latency_ms = 2, .jitter_ms = 6 };

/* --- figures: one line per seed, min / mean / max per scenario at the end ------- */

#define MAX_FIGURES 64

struct figure {
	const char *scenario; /* scenario name */
	const char *name;     /* what was measured */
	const char *unit;     /* "s", "" */
	uint64_t n;           /* samples */
	double min, max, sum;
};

static struct figure figures[MAX_FIGURES];
static size_t n_figures;

static void figure(const char *scenario, const char *name, const char *unit, double v)
{
	struct figure *f = NULL;
	for (size_t k = 0; k < n_figures; k++)
		if (figures[k].scenario == scenario && strcmp(figures[k].name, name) == 0)
			f = &figures[k];
	if (!f) {
		if (n_figures == MAX_FIGURES)
			return;
		f = &figures[n_figures++];
		*f = (struct figure){ .scenario = scenario, .name = name, .unit = unit, .min = v, .max = v };
	}
	f->n++;
	f->sum += v;
	if (v < f->min)
		f->min = v;
	if (v > f->max)
		f->max = v;
}

static void print_figures(void)
{
	if (!n_figures)
		return;
	printf("\nfigures over the seeds run (simulated time unless noted):\n");
	for (size_t k = 0; k < n_figures; k++) {
		const struct figure *f = &figures[k];
		printf("  %-14s %-38s n=%-4" PRIu64 " min %9.2f%-2s mean %9.2f%-2s max %9.2f%s\n", f->scenario,
		       f->name, f->n, f->min, f->unit, f->sum / (double)f->n, f->unit, f->max, f->unit);
	}
}

static double secs(uint64_t ms)
{
	return (double)ms / 1000.0;
}

/* Wall and CPU time of the seed being run (the CPU time does not depend on
 * what else the machine is doing). */
static struct timespec wall_start, cpu_start;

static void wall_begin(void)
{
	clock_gettime(CLOCK_MONOTONIC, &wall_start);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
}

static double since(clockid_t clk, const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(clk, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Prints "  NAME seed S: ..." and records the seed's wall time. */
static void seed_line(struct sim *sim, const char *scenario, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seed_line(struct sim *sim, const char *scenario, const char *fmt, ...)
{
	double w = since(CLOCK_MONOTONIC, &wall_start);
	double cpu = since(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
	figure(scenario, "wall time per seed (real)", "s", w);
	figure(scenario, "cpu time per seed (real)", "s", cpu);
	printf("  %s seed %" PRIu64 ": ", scenario, sim_seed(sim));
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(", %" PRIu64 " events, wall %.2f s, cpu %.2f s\n", sim_events(sim), w, cpu);
	fflush(stdout);
}

/* --- helpers ------------------------------------------------------------------------ */

/* Runs until pred or the deadline; on a timeout fails the run saying what was
 * awaited. True when pred became true. */
static bool await(struct sim *sim, bool (*pred)(struct sim *, void *), void *data, uint64_t deadline,
		  const char *what, struct swim_sim *c)
{
	if (sim_run_until_pred(sim, pred, data, deadline))
		return true;
	if (!sim_failed(sim))
		sim_fail(sim, -1, "%s: not reached by t=%" PRIu64 " ms (%u of %u up nodes settled)", what,
			 deadline, swim_sim_settled(c), swim_sim_up(c));
	return false;
}

static void want_alive(struct swim_sim *c, uint32_t alive, uint32_t left)
{
	struct swim_counts w = { .alive = alive, .left = left };
	swim_sim_want(c, &w);
}

/* Node 0 is the seed; the others join through it at random times within
 * JOIN_WINDOW_MS of now. Runs until every node sees all n alive. Returns the
 * time from the last join to that point, or UINT64_MAX on failure. */
static uint64_t form(struct sim *sim, struct swim_sim *c, uint64_t bound_ms, uint64_t *last_join)
{
	int n = swim_sim_n(c);
	uint64_t t0 = sim_now(sim), last = t0;
	for (int i = 1; i < n; i++) {
		uint64_t t = t0 + sim_rand_below(sim, JOIN_WINDOW_MS);
		if (t > last)
			last = t;
		swim_sim_join_at(c, i, 0, t);
	}
	want_alive(c, (uint32_t)n, 0);
	if (!await(sim, swim_sim_all_settled, c, last + bound_ms, "every node sees all alive", c))
		return UINT64_MAX;
	if (last_join)
		*last_join = last;
	return sim_now(sim) - last;
}

static struct swim_sim *cluster(struct sim *sim, int n)
{
	sim_set_default_link(sim, &lan);
	struct swim_sim *c = swim_sim_new(sim, n, NULL);
	sim_set_check(sim, swim_sim_check, c);
	return c;
}

static void finish(struct sim *sim, struct swim_sim *c)
{
	if (!sim_failed(sim))
		swim_sim_sweep(c);
	swim_sim_free(c);
}

/* Views of member m in a state reach a count. */
struct views_at {
	struct swim_sim *c;
	int m;
	uint8_t state;
	uint32_t count;
};

static bool views_reached(struct sim *sim, void *data)
{
	const struct views_at *v = data;
	(void)sim;
	return swim_sim_views(v->c, v->m, v->state) >= v->count;
}

/* --- join-1000 ---------------------------------------------------------------------- */

static const char join_name[] = "join-1000";

/* 1,000 nodes join through node 0 within 5 s: every node sees 1,000 alive,
 * nobody is ever declared dead. */
static void scenario_join(struct sim *sim, void *data)
{
	(void)data;
	wall_begin();
	struct swim_sim *c = cluster(sim, 1000);
	uint64_t last;
	uint64_t t = form(sim, c, JOIN_1000_BOUND_MS, &last);
	if (t != UINT64_MAX) {
		struct swim_stats st;
		swim_sim_stats(c, &st);
		figure(join_name, "settled after the last join", "s", secs(t));
		figure(join_name, "settled after the first node", "s", secs(sim_now(sim)));
		figure(join_name, "suspicions raised", "", (double)swim_sim_events(c, SWIM_EV_SUSPECT));
		seed_line(sim, join_name, "last join %.2f s, all 1000 see 1000 alive %.2f s later; "
			  "%" PRIu64 " suspicions, %" PRIu64 " packets, largest %zu bytes",
			  secs(last), secs(t), swim_sim_events(c, SWIM_EV_SUSPECT), st.packets_out,
			  swim_sim_max_packet(c));
	}
	finish(sim, c);
}

/* --- crash / restart -------------------------------------------------------------------- */

static const char crash_name[] = "crash-restart";
static const char stale_name[] = "crash-stale";
static const char crash16_name[] = "crash-16";

struct crash_run {
	int victim;           /* the node that crashes */
	uint64_t crashed_at;  /* when */
	uint64_t first_dead;  /* first DEAD event about it, 0 before */
	uint64_t first_suspect; /* first SUSPECT event about it after the crash */
};

static void crash_event(struct swim_sim *c, int o, int m, const struct swim_event *ev, uint8_t prev,
			void *data)
{
	struct crash_run *r = data;
	(void)c;
	(void)o;
	(void)prev;
	if (m != r->victim || !r->crashed_at)
		return;
	if (ev->type == SWIM_EV_DEAD && !r->first_dead)
		r->first_dead = ev->at;
	if (ev->type == SWIM_EV_SUSPECT && !r->first_suspect)
		r->first_suspect = ev->at;
}

/* n nodes; a random one crashes: all n - 1 others see it dead (none before it
 * crashed); it restarts with the same id and joins through a random other
 * node: all others see it alive again and it sees all n alive. With `stale`, it
 * restarts at incarnation 1, below what the others hold it dead at (a node
 * that lost its state): refutation alone must bring it back. */
static void crash_common(struct sim *sim, const char *name, int n, bool stale)
{
	wall_begin();
	struct swim_sim *c = cluster(sim, n);
	struct crash_run r = { .victim = (int)sim_rand_below(sim, n) };
	swim_sim_on_event(c, crash_event, &r);
	uint64_t formed = form(sim, c, FORM_100_BOUND_MS, NULL);
	if (formed == UINT64_MAX)
		goto out;
	figure(name, "all see all alive after the last join", "s", secs(formed));
	/* Let the cluster run a while before the crash. */
	if (!sim_run_for(sim, 10000 + sim_rand_below(sim, 10000)))
		goto out;
	r.crashed_at = sim_now(sim);
	swim_sim_crash(c, r.victim);
	struct views_at dead = { c, r.victim, SWIM_DEAD, (uint32_t)n - 1 };
	if (!await(sim, views_reached, &dead, r.crashed_at + DETECT_BOUND_MS,
		   "the crashed node is seen dead by all others", c))
		goto out;
	uint64_t detect_all = sim_now(sim) - r.crashed_at;
	if (!r.first_suspect || r.first_suspect > r.first_dead) {
		sim_fail(sim, r.victim, "n%d was declared dead before anyone suspected it", r.victim);
		goto out;
	}
	/* It stays down a while, then comes back. */
	if (!sim_run_for(sim, 5000 + sim_rand_below(sim, 5000)))
		goto out;
	uint64_t old_inc = swim_sim_last_inc(c, r.victim);
	uint64_t inc = stale ? 1 : old_inc + 1;
	swim_sim_restart(c, r.victim, inc);
	uint64_t restarted = sim_now(sim);
	int seed = (r.victim + 1 + (int)sim_rand_below(sim, n - 1)) % n;
	swim_sim_join(c, r.victim, seed);
	struct views_at alive = { c, r.victim, SWIM_ALIVE, (uint32_t)n - 1 };
	if (!await(sim, views_reached, &alive, restarted + REJOIN_BOUND_MS,
		   "the restarted node is seen alive by all others", c))
		goto out;
	uint64_t rejoin_all = sim_now(sim) - restarted;
	if (!await(sim, swim_sim_all_settled, c, restarted + REJOIN_BOUND_MS,
		   "after the restart every node sees all alive", c))
		goto out;
	uint64_t settled = sim_now(sim) - restarted;
	uint64_t now_inc = swim_self_incarnation(swim_sim_core(c, r.victim));
	if (!stale && now_inc != inc) {
		sim_fail(sim, r.victim, "n%d restarted above its old incarnation %" PRIu64
			 " but had to refute (now %" PRIu64 ")", r.victim, old_inc, now_inc);
		goto out;
	}
	if (stale && now_inc <= old_inc) {
		sim_fail(sim, r.victim, "n%d is alive everywhere at incarnation %" PRIu64
			 ", not above the %" PRIu64 " it died at", r.victim, now_inc, old_inc);
		goto out;
	}
	/* A calm period: nothing regresses; its traffic is the idle cost. */
	struct swim_sim_traffic before, after;
	swim_sim_traffic(c, &before);
	if (!sim_run_for(sim, QUIET_MS))
		goto out;
	swim_sim_traffic(c, &after);
	if (swim_sim_settled(c) != (uint32_t)n) {
		sim_fail(sim, -1, "only %u of %d nodes settled %d s after the rejoin", swim_sim_settled(c), n,
			 QUIET_MS / 1000);
		goto out;
	}
	figure(name, "first suspicion after the crash", "s", secs(r.first_suspect - r.crashed_at));
	figure(name, "first dead after the crash", "s", secs(r.first_dead - r.crashed_at));
	figure(name, "dead at all others after the crash", "s", secs(detect_all));
	figure(name, "alive at all others after the restart", "s", secs(rejoin_all));
	figure(name, "all settled after the restart", "s", secs(settled));
	double per_node_s = (double)n * secs(QUIET_MS);
	double udp = (double)(after.udp_bytes - before.udp_bytes) / per_node_s;
	double dgrams = (double)(after.udp_packets - before.udp_packets) / per_node_s;
	double pp = (double)(after.stream_bytes - before.stream_bytes) / per_node_s;
	figure(name, "idle UDP bytes per node per second", "", udp);
	figure(name, "idle datagrams per node per second", "", dgrams);
	figure(name, "idle push-pull bytes per node per second", "", pp);
	seed_line(sim, name, "n%d crashed: suspect %.2f s, first dead %.2f s, dead at all %.2f s; "
		  "restarted at inc %" PRIu64 " (died at %" PRIu64 ", now %" PRIu64 "): alive at all %.2f s, "
		  "settled %.2f s",
		  r.victim, secs(r.first_suspect - r.crashed_at), secs(r.first_dead - r.crashed_at),
		  secs(detect_all), inc, old_inc, now_inc, secs(rejoin_all), secs(settled));
out:
	finish(sim, c);
}

static void scenario_crash(struct sim *sim, void *data)
{
	(void)data;
	crash_common(sim, crash_name, 100, false);
}

static void scenario_crash_stale(struct sim *sim, void *data)
{
	(void)data;
	crash_common(sim, stale_name, 100, true);
}

/* crash-restart in a cluster of 16: detection with the shortest suspicion
 * timeout (max(1, log10 16) = 1.2 intervals) and the fewest probers. */
static void scenario_crash16(struct sim *sim, void *data)
{
	(void)data;
	crash_common(sim, crash16_name, 16, false);
}

/* --- loss --------------------------------------------------------------------------- */

static const char loss10_name[] = "loss-10";
static const char loss30_name[] = "loss-30";

/* Every node knows every other as alive or suspect. */
static bool all_known(struct sim *sim, void *data)
{
	const struct swim_sim *c = data;
	(void)sim;
	uint64_t n = (uint64_t)swim_sim_n(c);
	return swim_sim_total_views(c, SWIM_ALIVE) + swim_sim_total_views(c, SWIM_SUSPECT) == n * (n - 1);
}

/* 100 nodes on a network that loses `loss` of all datagrams from the start,
 * for 10 simulated minutes: the adapter fails the run on the first DEAD event
 * about any node (all are up). Suspicions may happen and must be refuted: once
 * the loss stops, every node sees all 100 alive with no suspicion left. */
static void loss_common(struct sim *sim, const char *name, double loss, double max_failed_pct)
{
	wall_begin();
	const int n = 100;
	struct swim_sim *c = cluster(sim, n);
	sim_set_loss(sim, loss);
	for (int i = 1; i < n; i++)
		swim_sim_join_at(c, i, 0, sim_rand_below(sim, JOIN_WINDOW_MS));
	if (!await(sim, all_known, c, JOIN_WINDOW_MS + LOSS_KNOW_BOUND_MS,
		   "under loss, every node knows all 100", c))
		goto out;
	uint64_t known = sim_now(sim);
	if (!sim_run_until(sim, LOSS_RUN_MS))
		goto out;
	if (!all_known(sim, c)) {
		sim_fail(sim, -1, "after %d min of loss not every node knows all %d", LOSS_RUN_MS / 60000, n);
		goto out;
	}
	struct swim_stats st;
	swim_sim_stats(c, &st);
	/* Indirect probes are what keep a lossy link from failing a probe: a
	 * probe fails only if the direct round trip and all k relayed ones are
	 * lost (at 10 % loss 0.19 * 0.34^3 = 0.8 %, at 30 % 0.51 * 0.76^3 = 22 %;
	 * without relays 19 % and 51 %). */
	double failed_pct = 100.0 * (double)st.probes_failed / (double)(st.probes ? st.probes : 1);
	if (failed_pct > max_failed_pct) {
		sim_fail(sim, -1, "%.2f %% of probes failed at %.0f %% loss, more than %.1f %%", failed_pct,
			 loss * 100, max_failed_pct);
		goto out;
	}
	uint64_t suspects = swim_sim_events(c, SWIM_EV_SUSPECT);
	uint64_t refutes = swim_sim_events(c, SWIM_EV_REFUTED);
	sim_set_loss(sim, 0);
	want_alive(c, (uint32_t)n, 0);
	uint64_t stop = sim_now(sim);
	if (!await(sim, swim_sim_all_settled, c, stop + LOSS_SETTLE_BOUND_MS,
		   "after the loss stops, every node sees all alive", c))
		goto out;
	uint64_t settled = sim_now(sim) - stop;
	double minutes = (double)LOSS_RUN_MS / 60000.0;
	figure(name, "all known after the first node", "s", secs(known));
	figure(name, "UDP bytes sent per node per second", "", (double)st.bytes_out / n / secs(LOSS_RUN_MS));
	figure(name, "failed probes per node per minute", "", (double)st.probes_failed / n / minutes);
	figure(name, "failed probes, % of probes", "", failed_pct);
	figure(name, "suspect events per node per minute", "", (double)suspects / n / minutes);
	figure(name, "refutations per node per minute", "", (double)refutes / n / minutes);
	figure(name, "settled after the loss stops", "s", secs(settled));
	seed_line(sim, name, "all known at %.2f s; in %.0f min: %" PRIu64 " suspect events, %" PRIu64
		  " refutations, %" PRIu64 " of %" PRIu64 " probes failed, 0 dead; settled %.2f s after the "
		  "loss stopped",
		  secs(known), minutes, suspects, refutes, st.probes_failed, st.probes, secs(settled));
out:
	finish(sim, c);
}

static void scenario_loss10(struct sim *sim, void *data)
{
	(void)data;
	loss_common(sim, loss10_name, 0.10, 2.5);
}

static void scenario_loss30(struct sim *sim, void *data)
{
	(void)data;
	loss_common(sim, loss30_name, 0.30, 28.0);
}

/* --- partition ---------------------------------------------------------------------- */

static const char part_name[] = "partition";

struct part_run {
	int side[100];      /* the half each node was put in */
	bool split;         /* the partition is on, or was and has not converged yet */
};

/* While the halves are apart, and until everyone has converged after the heal,
 * a node may be declared dead by the other half only. */
static bool part_dead_ok(struct swim_sim *c, int o, int m, void *data)
{
	const struct part_run *r = data;
	(void)c;
	return r->split && r->side[o] != r->side[m];
}

/* Each half holds every node of the other half dead. */
static bool halves_dead(struct sim *sim, void *data)
{
	const struct swim_sim *c = data;
	(void)sim;
	uint64_t half = (uint64_t)swim_sim_n(c) / 2;
	return swim_sim_total_views(c, SWIM_DEAD) == 2 * half * half;
}

/* 100 nodes split into two random halves of 50 for 60 s: each half declares
 * the other dead and nobody a node of its own half; after healing, push-pull
 * and refutation bring every node to see all 100 alive. */
static void scenario_partition(struct sim *sim, void *data)
{
	(void)data;
	wall_begin();
	const int n = 100;
	struct swim_sim *c = cluster(sim, n);
	struct part_run r = { 0 };
	swim_sim_set_dead_ok(c, part_dead_ok, &r);
	uint64_t formed = form(sim, c, FORM_100_BOUND_MS, NULL);
	if (formed == UINT64_MAX)
		goto out;
	figure(part_name, "100 see 100 alive after the last join", "s", secs(formed));
	if (!sim_run_for(sim, 5000 + sim_rand_below(sim, 5000)))
		goto out;
	/* Random halves: a shuffled half of the nodes goes to group 1. */
	int order[100];
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)sim_rand_below(sim, (uint64_t)i + 1);
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < n; k++)
		r.side[order[k]] = k < n / 2;
	r.split = true;
	sim_partition(sim, r.side, n);
	uint64_t cut = sim_now(sim);
	if (!await(sim, halves_dead, c, cut + PARTITION_MS,
		   "during the partition each half holds the other dead", c))
		goto out;
	uint64_t detected = sim_now(sim) - cut;
	if (!sim_run_until(sim, cut + PARTITION_MS))
		goto out;
	if (!halves_dead(sim, c)) {
		sim_fail(sim, -1, "at the heal %" PRIu64 " views are dead, want %d", swim_sim_total_views(c, SWIM_DEAD),
			 2 * (n / 2) * (n / 2));
		goto out;
	}
	sim_heal(sim);
	uint64_t healed = sim_now(sim);
	want_alive(c, (uint32_t)n, 0);
	if (!await(sim, swim_sim_all_settled, c, healed + HEAL_BOUND_MS,
		   "after the heal every node sees all 100 alive", c))
		goto out;
	uint64_t converged = sim_now(sim) - healed;
	/* From now on no death is excused. */
	r.split = false;
	if (!sim_run_for(sim, QUIET_MS))
		goto out;
	if (swim_sim_settled(c) != (uint32_t)n) {
		sim_fail(sim, -1, "only %u of %d nodes settled %d s after converging", swim_sim_settled(c), n,
			 QUIET_MS / 1000);
		goto out;
	}
	struct swim_stats st;
	swim_sim_stats(c, &st);
	figure(part_name, "halves dead to each other after cut", "s", secs(detected));
	figure(part_name, "all 100 alive everywhere after heal", "s", secs(converged));
	seed_line(sim, part_name, "each half holds the other dead %.2f s after the cut; all see 100 alive "
		  "%.2f s after the heal; %" PRIu64 " refutations, %" PRIu64 " push-pulls",
		  secs(detected), secs(converged), swim_sim_events(c, SWIM_EV_REFUTED), st.pushpull_ok);
out:
	finish(sim, c);
}

/* --- leave ---------------------------------------------------------------------------- */

static const char leave_name[] = "leave";

#define LEAVERS 3

struct leave_run {
	int who[LEAVERS];  /* the leaving nodes */
	int n_left;        /* how many have started leaving */
	uint64_t suspects; /* suspicions of a leaver by a node that missed its leave */
};

/* A leaver is never declared dead, before or after it is gone. A node that
 * missed the leave may suspect it once its probes go unanswered; it must
 * then learn that it left. */
static void leave_event(struct swim_sim *c, int o, int m, const struct swim_event *ev, uint8_t prev,
			void *data)
{
	struct leave_run *r = data;
	(void)prev;
	for (int k = 0; k < r->n_left; k++) {
		if (r->who[k] != m)
			continue;
		if (ev->type == SWIM_EV_DEAD) {
			sim_fail(swim_sim_sim(c), o, "n%d declared n%d dead after n%d left", o, m, m);
			return;
		}
		if (ev->type == SWIM_EV_SUSPECT) {
			r->suspects++;
			sim_tracef(swim_sim_sim(c), o, "missed the leave of n%d", m);
		}
	}
}

struct leave_done {
	struct swim_sim *c;
	int node;
};

static bool leave_is_done(struct sim *sim, void *data)
{
	const struct leave_done *d = data;
	(void)sim;
	return swim_sim_leave_done(d->c, d->node);
}

/* 100 nodes; three random nodes leave gracefully one after the other, each
 * exiting once its leave is out: every other node holds each of them left,
 * nobody ever suspects or declares them dead, also long after they are gone. */
static void scenario_leave(struct sim *sim, void *data)
{
	(void)data;
	wall_begin();
	const int n = 100;
	struct swim_sim *c = cluster(sim, n);
	struct leave_run r = { { 0 }, 0, 0 };
	swim_sim_on_event(c, leave_event, &r);
	uint64_t formed = form(sim, c, FORM_100_BOUND_MS, NULL);
	if (formed == UINT64_MAX)
		goto out;
	figure(leave_name, "100 see 100 alive after the last join", "s", secs(formed));
	for (int k = 0; k < LEAVERS; k++) {
		int w;
		bool again;
		do {
			w = (int)sim_rand_below(sim, n);
			again = false;
			for (int j = 0; j < k; j++)
				again |= r.who[j] == w;
		} while (again);
		r.who[k] = w;
	}
	double done_max = 0, seen_max = 0;
	for (int k = 0; k < LEAVERS; k++) {
		if (!sim_run_for(sim, 2000 + sim_rand_below(sim, 3000)))
			goto out;
		int w = r.who[k];
		r.n_left = k + 1;
		uint64_t t0 = sim_now(sim);
		if (swim_sim_leave(c, w) != 0) {
			sim_fail(sim, w, "swim_leave failed");
			goto out;
		}
		struct leave_done d = { c, w };
		if (!await(sim, leave_is_done, &d, t0 + LEAVE_DONE_BOUND_MS, "the leave message is out", c))
			goto out;
		uint64_t done = sim_now(sim) - t0;
		/* The daemon exits once its leave is out. */
		swim_sim_crash(c, w);
		/* Every node still up (earlier leavers believe nothing any more). */
		struct views_at left = { c, w, SWIM_LEFT, swim_sim_up(c) };
		if (!await(sim, views_reached, &left, t0 + LEAVE_SEEN_BOUND_MS,
			   "every other node holds the leaver left", c))
			goto out;
		uint64_t seen = sim_now(sim) - t0;
		figure(leave_name, "leave done after swim_leave", "s", secs(done));
		figure(leave_name, "left at all others after swim_leave", "s", secs(seen));
		if (secs(done) > done_max)
			done_max = secs(done);
		if (secs(seen) > seen_max)
			seen_max = secs(seen);
	}
	want_alive(c, (uint32_t)(n - LEAVERS), LEAVERS);
	if (!sim_run_for(sim, QUIET_MS))
		goto out;
	if (swim_sim_settled(c) != (uint32_t)(n - LEAVERS)) {
		sim_fail(sim, -1, "%u of %d remaining nodes see %d alive and %d left", swim_sim_settled(c),
			 n - LEAVERS, n - LEAVERS, LEAVERS);
		goto out;
	}
	figure(leave_name, "suspicions of a leaver, per leave", "", (double)r.suspects / LEAVERS);
	seed_line(sim, leave_name, "n%d, n%d, n%d left: leave done within %.2f s, seen left by all within "
		  "%.2f s (%" PRIu64 " suspicions by nodes that missed a leave), none dead %d s later",
		  r.who[0], r.who[1], r.who[2], done_max, seen_max, r.suspects, QUIET_MS / 1000);
out:
	finish(sim, c);
}

/* --- main ------------------------------------------------------------------------------- */

/* The runner takes $SIM_SEEDS as the seed count of every scenario; here it
 * only raises a scenario's default (scripts/test.sh --long sets it to ask
 * for more seeds, never fewer). --seeds N still sets the count exactly. */
static void raise_to_env_seeds(int argc, char **argv, struct sim_runner_opts *opts,
			       struct sim_scenario *scenarios, size_t count)
{
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--seeds", 7) == 0)
			return;
	if (opts->one || opts->seeds == 0 || getenv("SIM_SEEDS") == NULL)
		return;
	for (size_t k = 0; k < count; k++)
		if (scenarios[k].seeds < opts->seeds)
			scenarios[k].seeds = opts->seeds;
	opts->seeds = 0;
}

int main(int argc, char **argv)
{
	/* Default seed counts, from the time of each scenario under ASan (see
	 * README.md): about 240 CPU seconds in all, about two minutes on two
	 * cores (meson runs each scenario as its own test), leaving room for
	 * the Raft scenarios in the sim suite. Run more with --seeds N or
	 * SIM_SEEDS. */
	struct sim_scenario scenarios[] = {
		{ .name = join_name, .run = scenario_join, .seeds = 1 },
		{ .name = crash_name, .run = scenario_crash, .seeds = 25 },
		{ .name = stale_name, .run = scenario_crash_stale, .seeds = 25 },
		{ .name = crash16_name, .run = scenario_crash16, .seeds = 50 },
		{ .name = loss10_name, .run = scenario_loss10, .seeds = 2 },
		{ .name = loss30_name, .run = scenario_loss30, .seeds = 1 },
		{ .name = part_name, .run = scenario_partition, .seeds = 6 },
		{ .name = leave_name, .run = scenario_leave, .seeds = 25 },
	};
	struct sim_runner_opts opts;
	int r = sim_runner_parse(argc, argv, &opts, stderr);
	if (r < 0)
		return 2;
	if (r > 0)
		return 0;
	size_t count = sizeof(scenarios) / sizeof(scenarios[0]);
	raise_to_env_seeds(argc, argv, &opts, scenarios, count);
	uint64_t failed = sim_runner_run(&opts, scenarios, count, argv[0], stdout);
	print_figures();
	return failed ? 1 : 0;
}
