/* swim_suspicion: Lifeguard's suspicion timer that shrinks with independent confirmations. */
#ifndef SWARMNODE_SWIM_SUSPICION_H
#define SWARMNODE_SWIM_SUSPICION_H

#include <stdbool.h>
#include <stdint.h>

#include "swarmnode/swim_proto.h"

/* Most confirmations a suspicion can wait for (suspicion_mult - 2 <= this). */
#define SWIM_SUSPICION_MAX_K 16

/* One suspicion about one member. The timeout starts at max and, as k
 * independent nodes confirm the suspicion, falls logarithmically to min:
 *
 *     timeout(n) = max(min, max - (max - min) * ln(n + 1) / ln(k + 1))
 *
 * measured from start, as memberlist's suspicion.go does. With k == 0 (too
 * few members to expect confirmations) the timeout is min from the start. */
struct swim_suspicion {
	uint64_t start;        /* when we began suspecting, ms */
	uint64_t min_ms;       /* shortest timeout, reached after k confirmations */
	uint64_t max_ms;       /* timeout with no confirmation */
	uint32_t k;            /* confirmations that drive the timeout to min */
	uint32_t n;            /* independent confirmations so far */
	uint64_t seen[SWIM_SUSPICION_MAX_K + 1]; /* id hashes counted: the accuser, then confirmers */
	uint32_t n_seen;       /* entries used in seen */
	char from[SWIM_ID_MAX + 1]; /* accuser named when we gossip the suspicion */
	uint64_t next_ask;     /* when to next ask other members about it (swim_state.c) */
};

/* Starts a suspicion raised by `from` (whose hash is from_hash) at now. */
void swim_suspicion_init(struct swim_suspicion *s, uint64_t now, uint32_t k,
			 uint64_t min_ms, uint64_t max_ms, uint64_t from_hash, const char *from);

/* Counts a confirmation from another node. Returns true when it was new
 * (not a repeat, not the accuser, and fewer than k so far): the deadline moved
 * and the confirmation is worth gossiping. */
bool swim_suspicion_confirm(struct swim_suspicion *s, uint64_t from_hash);

/* When the member is to be declared dead. */
uint64_t swim_suspicion_deadline(const struct swim_suspicion *s);

/* Total timeout (from start) after n of k confirmations. */
uint64_t swim_suspicion_timeout(uint32_t n, uint32_t k, uint64_t min_ms, uint64_t max_ms);

/* Minimum suspicion timeout for a cluster of `nodes`:
 * mult * max(1, log10(nodes)) * probe_interval. */
uint64_t swim_suspicion_min(uint32_t mult, uint32_t nodes, uint64_t probe_interval_ms);

#endif
