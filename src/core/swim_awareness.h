/* swim_awareness: Lifeguard's local health multiplier (memberlist awareness.go). */
#ifndef SWARMNODE_SWIM_AWARENESS_H
#define SWARMNODE_SWIM_AWARENESS_H

#include <stdint.h>

/* A node's view of its own health: 0 is healthy; each missed ack, missed nack
 * or refutation raises it, each successful probe lowers it. Timeouts are
 * multiplied by score + 1, so a node that is slow itself (overloaded, losing
 * packets) waits longer before it accuses others. */
struct swim_awareness {
	uint32_t score; /* current score, 0 .. max_mult - 1 */
	uint32_t max;   /* largest multiplier (score + 1) allowed, >= 1 */
};

void swim_awareness_init(struct swim_awareness *a, uint32_t max_mult);

/* Adds delta and clamps the score into 0 .. max - 1. */
void swim_awareness_apply(struct swim_awareness *a, int delta);

/* ms scaled by the health multiplier (score + 1). */
uint64_t swim_awareness_scale(const struct swim_awareness *a, uint64_t ms);

#endif
