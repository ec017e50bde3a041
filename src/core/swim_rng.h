/* swim_rng: the seeded PRNG (xoshiro256**) that gives the swim core its randomness. */
#ifndef SWARMNODE_SWIM_RNG_H
#define SWARMNODE_SWIM_RNG_H

#include <stdint.h>

/* PRNG state; seed it with swim_rng_seed. */
struct swim_rng {
	uint64_t s[4]; /* xoshiro256** state, never all zero */
};

/* Expands a 64-bit seed into a full state (splitmix64). */
void swim_rng_seed(struct swim_rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t swim_rng_next(struct swim_rng *r);

/* A uniform integer in [0, n); n must be > 0. */
uint32_t swim_rng_below(struct swim_rng *r, uint32_t n);

#endif
