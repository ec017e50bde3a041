/* toy: a push-gossip broadcast node, the simulator's own test protocol and a worked adapter example. */
#include "toy.h"

#include <string.h>

#define TOY_MSG_LEN 9

static void toy_encode(uint8_t out[TOY_MSG_LEN], uint64_t value)
{
	out[0] = 'R';
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(value >> (8 * i));
}

static void toy_push(struct toy_node *t, struct sim *sim)
{
	uint8_t msg[TOY_MSG_LEN];
	toy_encode(msg, t->value);
	int n = t->cl->n;
	if (n < 2)
		return;
	for (int k = 0; k < t->cl->fanout; k++) {
		/* A random peer other than self. */
		int peer = (int)sim_rng_below(&t->rng, (uint64_t)n - 1);
		if (peer >= t->self)
			peer++;
		sim_send(sim, t->self, peer, SIM_DATAGRAM, msg, sizeof(msg));
	}
	t->pushes++;
}

static void toy_learn(struct toy_node *t, struct sim *sim, uint64_t now, uint64_t value)
{
	t->informed = true;
	t->value = value;
	t->informed_at = now;
	t->cl->informed++;
	toy_push(t, sim);
	t->next_push = now + t->cl->period_ms;
}

static void toy_deliver(void *node, struct sim *sim, uint64_t now, int from, const void *buf,
			size_t len, enum sim_channel ch)
{
	struct toy_node *t = node;
	const uint8_t *p = buf;
	if (ch != SIM_DATAGRAM || len != TOY_MSG_LEN || p[0] != 'R') {
		t->cl->bad++;
		sim_tracef(sim, t->self, "bad packet from n%d: %zu bytes", from, len);
		return;
	}
	uint64_t value = 0;
	for (int i = 0; i < 8; i++)
		value |= (uint64_t)p[1 + i] << (8 * i);
	t->received++;
	if (t->informed) {
		if (value != t->value)
			sim_fail(sim, t->self, "rumor %llu from n%d differs from known %llu",
				 (unsigned long long)value, from, (unsigned long long)t->value);
		return;
	}
	sim_tracef(sim, t->self, "informed by n%d", from);
	toy_learn(t, sim, now, value);
}

static void toy_tick(void *node, struct sim *sim, uint64_t now)
{
	struct toy_node *t = node;
	if (!t->informed || now < t->next_push)
		return;
	toy_push(t, sim);
	t->next_push = now + t->cl->period_ms;
}

static uint64_t toy_next_deadline(void *node)
{
	const struct toy_node *t = node;
	return t->informed ? t->next_push : SIM_NEVER;
}

const struct sim_node_ops toy_ops = {
	.deliver = toy_deliver,
	.tick = toy_tick,
	.next_deadline = toy_next_deadline,
};

void toy_init(struct toy_node *t, struct toy_cluster *cl, int self, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->cl = cl;
	t->self = self;
	sim_rng_seed(&t->rng, seed);
}

void toy_start_rumor(struct toy_node *t, struct sim *sim, uint64_t value)
{
	sim_tracef(sim, t->self, "starts rumor %llu", (unsigned long long)value);
	toy_learn(t, sim, sim_now(sim), value);
}

bool toy_all_informed(struct sim *sim, void *data)
{
	const struct toy_cluster *cl = data;
	return cl->informed == cl->n;
}
