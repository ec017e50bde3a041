/* sim_toy: toy push-gossip scenarios over many seeds, showing how a scenario executable uses the runner. */
#include <inttypes.h>
#include <stdlib.h>

#include "sim.h"
#include "toy.h"

/* One run's nodes. */
struct run {
	struct toy_cluster cl;
	struct toy_node *nodes;  /* node i's object (rebuilt in place on restart) */
	int live;                /* nodes up */
	int partitioned_from;    /* nodes >= this are cut off (partition scenario), else n */
};

static void run_init(struct run *r, struct sim *sim, int n, const struct sim_link *link)
{
	r->cl = (struct toy_cluster){ .n = n, .fanout = 3, .period_ms = 200 };
	r->nodes = calloc((size_t)n, sizeof(*r->nodes));
	if (!r->nodes)
		abort();
	r->live = n;
	r->partitioned_from = n;
	sim_set_default_link(sim, link);
	for (int i = 0; i < n; i++) {
		toy_init(&r->nodes[i], &r->cl, i, sim_node_seed(sim, i));
		sim_add_node(sim, &r->nodes[i], &toy_ops);
	}
}

static void run_free(struct run *r)
{
	free(r->nodes);
}

static bool all_live_informed(struct sim *sim, void *data)
{
	const struct run *r = data;
	return r->cl.informed == r->live;
}

/* Invariant: every rumor packet is well formed and nobody is informed twice. */
static bool check_counts(struct sim *sim, void *data)
{
	const struct run *r = data;
	if (r->cl.bad) {
		sim_fail(sim, sim_current_node(sim), "%" PRIu64 " malformed packets", r->cl.bad);
		return false;
	}
	if (r->cl.informed > r->live) {
		sim_fail(sim, sim_current_node(sim), "%d informed but only %d nodes are up",
			 r->cl.informed, r->live);
		return false;
	}
	return true;
}

/* 300 nodes, 10 % loss, 2 % duplication, jitter: everyone learns the rumor. */
static void scenario_flood(struct sim *sim, void *data)
{
	struct run r;
	run_init(&r, sim, 300, &(struct sim_link){ .latency_ms = 2, .jitter_ms = 10, .loss = 0.1, .dup = 0.02 });
	sim_set_check(sim, check_counts, &r);
	int origin = (int)sim_rand_below(sim, 300);
	toy_start_rumor(&r.nodes[origin], sim, 1);
	sim_wake(sim, origin);
	if (!sim_run_until_pred(sim, all_live_informed, &r, 30000) && !sim_failed(sim))
		sim_fail(sim, -1, "only %d of %d informed after 30 s", r.cl.informed, r.live);
	run_free(&r);
}

/* Invariant while partitioned: the cut-off side learns nothing. */
static bool check_partition(struct sim *sim, void *data)
{
	const struct run *r = data;
	int i = sim_current_node(sim);
	if (i >= r->partitioned_from && r->nodes[i].informed) {
		sim_fail(sim, i, "informed across the partition");
		return false;
	}
	return check_counts(sim, data);
}

static void heal(struct sim *sim, void *data)
{
	struct run *r = data;
	sim_heal(sim);
	r->partitioned_from = r->cl.n;
}

/* 100 nodes split 50/50 for 20 s: the rumor stays on its side, then spreads. */
static void scenario_partition(struct sim *sim, void *data)
{
	struct run r;
	run_init(&r, sim, 100, &(struct sim_link){ .latency_ms = 1, .jitter_ms = 5, .loss = 0.05 });
	int groups[100];
	for (int i = 0; i < 100; i++)
		groups[i] = i >= 50;
	sim_partition(sim, groups, 100);
	r.partitioned_from = 50;
	sim_set_check(sim, check_partition, &r);
	int origin = (int)sim_rand_below(sim, 50);
	toy_start_rumor(&r.nodes[origin], sim, 2);
	sim_wake(sim, origin);
	sim_at(sim, 20000, heal, &r);
	if (!sim_run_until(sim, 20000)) {
		run_free(&r);
		return;
	}
	if (r.cl.informed != 50)
		sim_fail(sim, -1, "%d informed before the heal, want the 50 of one side", r.cl.informed);
	else if (!sim_run_until_pred(sim, all_live_informed, &r, 40000) && !sim_failed(sim))
		sim_fail(sim, -1, "only %d of 100 informed 20 s after the heal", r.cl.informed);
	run_free(&r);
}

struct crash_ctx {
	struct run *r;
	int node;
};

static void crash_one(struct sim *sim, void *data)
{
	struct crash_ctx *c = data;
	struct run *r = c->r;
	if (!sim_node_up(sim, c->node))
		return;
	if (r->nodes[c->node].informed)
		r->cl.informed--;
	r->live--;
	sim_crash(sim, c->node);
}

static void restart_one(struct sim *sim, void *data)
{
	struct crash_ctx *c = data;
	struct run *r = c->r;
	if (sim_node_up(sim, c->node))
		return;
	/* Nothing survives a crash in this protocol: the harness rebuilds the node
	 * from scratch (the sim never calls the old object after sim_crash). */
	toy_init(&r->nodes[c->node], &r->cl, c->node, sim_node_seed(sim, c->node));
	r->live++;
	sim_restart(sim, c->node, &r->nodes[c->node]);
}

/* 100 nodes, 20 crash at random times during the spread and half come back:
 * every live node ends informed, restarted ones included. */
static void scenario_crash(struct sim *sim, void *data)
{
	struct run r;
	run_init(&r, sim, 100, &(struct sim_link){ .latency_ms = 2, .jitter_ms = 6, .loss = 0.05 });
	sim_set_check(sim, check_counts, &r);
	struct crash_ctx ctx[20];
	for (int k = 0; k < 20; k++) {
		ctx[k] = (struct crash_ctx){ .r = &r, .node = 1 + (int)sim_rand_below(sim, 99) };
		uint64_t at = sim_rand_below(sim, 2000);
		sim_at(sim, at, crash_one, &ctx[k]);
		if (k % 2 == 0)
			sim_at(sim, at + 500 + sim_rand_below(sim, 3000), restart_one, &ctx[k]);
	}
	toy_start_rumor(&r.nodes[0], sim, 3);
	sim_wake(sim, 0);
	if (!sim_run_until(sim, 6000)) {
		run_free(&r);
		return;
	}
	if (!sim_run_until_pred(sim, all_live_informed, &r, 30000) && !sim_failed(sim))
		sim_fail(sim, -1, "only %d of %d live nodes informed", r.cl.informed, r.live);
	run_free(&r);
}

int main(int argc, char **argv)
{
	static const struct sim_scenario scenarios[] = {
		{ .name = "flood", .run = scenario_flood, .seeds = 50 },
		{ .name = "partition", .run = scenario_partition, .seeds = 50 },
		{ .name = "crash", .run = scenario_crash, .seeds = 50 },
	};
	return sim_main(argc, argv, scenarios, sizeof(scenarios) / sizeof(scenarios[0]));
}
