/* swim_awareness: Lifeguard's local health multiplier (memberlist awareness.go). */
#include "swim_awareness.h"

void swim_awareness_init(struct swim_awareness *a, uint32_t max_mult)
{
	a->score = 0;
	a->max = max_mult ? max_mult : 1;
}

void swim_awareness_apply(struct swim_awareness *a, int delta)
{
	int64_t v = (int64_t)a->score + delta;
	if (v < 0)
		v = 0;
	if (v > (int64_t)a->max - 1)
		v = (int64_t)a->max - 1;
	a->score = (uint32_t)v;
}

uint64_t swim_awareness_scale(const struct swim_awareness *a, uint64_t ms)
{
	return ms * ((uint64_t)a->score + 1);
}
