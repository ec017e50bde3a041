/* toy: a push-gossip broadcast node, the simulator's own test protocol and a worked adapter example. */
#ifndef SWARMNODE_SIM_TOY_H
#define SWARMNODE_SIM_TOY_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

/*
 * A rumor starts at one node. A node that learns it forwards it at once to
 * `fanout` random peers, then keeps pushing it to `fanout` random peers every
 * `period_ms` (so it survives loss), over datagrams. The whole protocol state is
 * in struct toy_node and changes only in the ops below: this is the shape a
 * sans-I/O core's adapter has (see README.md), with the "core" inlined.
 *
 * Wire format, 9 bytes:
 *   0      1                               9
 *   +------+-------------------------------+
 *   | 'R'  | rumor value, u64 little endian |
 *   +------+-------------------------------+
 */

/* State shared by all toy nodes of one run. */
struct toy_cluster {
	int n;              /* nodes in the run */
	int informed;       /* live nodes that know the rumor */
	int fanout;         /* peers pushed to per round */
	uint64_t period_ms; /* push interval of an informed node */
	uint64_t bad;       /* malformed packets received */
};

/* One node. */
struct toy_node {
	struct toy_cluster *cl; /* shared run state */
	int self;               /* this node's index */
	struct sim_rng rng;     /* the node's own random source */
	bool informed;          /* knows the rumor */
	uint64_t value;         /* the rumor, once informed */
	uint64_t informed_at;   /* when it learned it */
	uint64_t next_push;     /* deadline of the next push round */
	uint64_t received;      /* rumor packets received, duplicates included */
	uint64_t pushes;        /* push rounds done */
};

extern const struct sim_node_ops toy_ops;

/* Sets up node t as index `self`, seeded for its own choices. */
void toy_init(struct toy_node *t, struct toy_cluster *cl, int self, uint64_t seed);

/* Gives node t the rumor at the current time and starts its pushes; call
 * sim_wake() afterwards, as for any call into a node from outside the sim. */
void toy_start_rumor(struct toy_node *t, struct sim *sim, uint64_t value);

/* sim_run_until_pred() predicate: every node of the cluster (data) is informed. */
bool toy_all_informed(struct sim *sim, void *data);

#endif
