/* swim_suspicion: Lifeguard's suspicion timer that shrinks with independent confirmations. */
#include "swim_suspicion.h"

#include <stdio.h>

void swim_suspicion_init(struct swim_suspicion *s, uint64_t now, uint32_t k,
			 uint64_t min_ms, uint64_t max_ms, uint64_t from_hash, const char *from)
{
	s->start = now;
	s->min_ms = min_ms;
	s->max_ms = max_ms < min_ms ? min_ms : max_ms;
	s->k = k > SWIM_SUSPICION_MAX_K ? SWIM_SUSPICION_MAX_K : k;
	s->n = 0;
	s->seen[0] = from_hash;
	s->n_seen = 1;
	snprintf(s->from, sizeof(s->from), "%s", from);
}

bool swim_suspicion_confirm(struct swim_suspicion *s, uint64_t from_hash)
{
	if (s->n >= s->k)
		return false;
	for (uint32_t i = 0; i < s->n_seen; i++)
		if (s->seen[i] == from_hash)
			return false;
	s->seen[s->n_seen++] = from_hash;
	s->n++;
	return true;
}

/* log10(x) for x >= 1, to ~1e-6, by the digit-by-squaring method: the
 * integer part counts divisions by 10, each further binary digit is 1 when
 * squaring the remainder reaches 10. Why not libm: these two formulas are
 * the daemon's only use of it, and mapping the shared libm costs every
 * process ~350 kB of resident pages. */
static double log10_of(double x)
{
	double result = 0;
	while (x >= 10) {
		x /= 10;
		result += 1;
	}
	double bit = 0.5;
	for (int i = 0; i < 24; i++, bit /= 2) {
		x *= x;
		if (x >= 10) {
			x /= 10;
			result += bit;
		}
	}
	return result;
}

uint64_t swim_suspicion_timeout(uint32_t n, uint32_t k, uint64_t min_ms, uint64_t max_ms)
{
	if (k == 0)
		return min_ms;
	double frac = log10_of((double)n + 1.0) / log10_of((double)k + 1.0);
	double raw = (double)max_ms - frac * (double)(max_ms - min_ms);
	uint64_t t = raw <= (double)min_ms ? min_ms : (uint64_t)raw;
	return t < min_ms ? min_ms : t;
}

uint64_t swim_suspicion_deadline(const struct swim_suspicion *s)
{
	return s->start + swim_suspicion_timeout(s->n, s->k, s->min_ms, s->max_ms);
}

uint64_t swim_suspicion_min(uint32_t mult, uint32_t nodes, uint64_t probe_interval_ms)
{
	/* Why max(1, ...): the plain mult * log10(N) * interval of the Lifeguard
	 * paper is 0 for a single node and under one interval for N < 3, so
	 * small clusters would declare members dead almost at once. memberlist
	 * floors the scale at 1 for the same reason. */
	double scale = nodes > 10 ? log10_of((double)nodes) : 1.0;
	return (uint64_t)((double)mult * scale * (double)probe_interval_ms);
}
