/* rng: the seeded PRNG (xoshiro256**, seeded by splitmix64) that gives the cores their randomness: swim's probe order, raft's election timeouts, the orchestrator's ids. */
#ifndef SWARMNODE_RNG_H
#define SWARMNODE_RNG_H

#include <stdint.h>

/* PRNG state; seed it with rng_seed. The cores never read a clock or rand():
 * given the same seed and inputs they make the same choices. */
struct rng {
	uint64_t s[4]; /* xoshiro256** state, never all zero */
};

/* One splitmix64 step: advances *state and returns the next value (also a
 * small generator of its own, for a core that needs only a few draws). */
uint64_t rng_splitmix64(uint64_t *state);

/* Expands a 64-bit seed into a full state (splitmix64). */
void rng_seed(struct rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t rng_next(struct rng *r);

/* Uniform in [0, n) without modulo bias; n > 0 (Lemire's multiply-shift). */
uint32_t rng_below(struct rng *r, uint32_t n);

/* Uniform in [0, n) for 64-bit n (rejection sampling); 0 when n <= 1. */
uint64_t rng_below64(struct rng *r, uint64_t n);

#endif
