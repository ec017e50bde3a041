/* swim_broadcast: the transmit-limited queue of member updates waiting to be piggybacked. */
#ifndef SWARMNODE_SWIM_BROADCAST_H
#define SWARMNODE_SWIM_BROADCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Buckets by transmit count; a limit above this is clamped to it. */
#define SWIM_BQ_BUCKETS 64

/* One queued update, embedded in the member it is about: a member has at
 * most one pending update, so a newer update replaces the older one simply
 * by requeueing the node (memberlist's invalidation by name). */
struct swim_bnode {
	struct swim_bnode *prev; /* neighbour towards the bucket head (newer) */
	struct swim_bnode *next; /* neighbour towards the bucket tail (older) */
	uint32_t seq;            /* queue order: larger is newer */
	uint8_t transmits;       /* times sent so far; also the bucket index */
	bool queued;             /* linked into a bucket */
};

/* Updates grouped by transmit count; each bucket is sorted newest first, so
 * walking bucket 0, 1, 2... yields least-transmitted, then newest, first. */
struct swim_bq {
	struct swim_bnode *head[SWIM_BQ_BUCKETS]; /* newest entry of each bucket */
	struct swim_bnode *tail[SWIM_BQ_BUCKETS]; /* oldest entry of each bucket */
	uint32_t next_seq;                        /* seq for the next push */
	size_t len;                               /* entries queued */
};

void swim_bq_init(struct swim_bq *q);

/* Queues b as a fresh update (transmits 0, newest), replacing its old entry. */
void swim_bq_push(struct swim_bq *q, struct swim_bnode *b);

/* Unlinks b if queued. */
void swim_bq_remove(struct swim_bq *q, struct swim_bnode *b);

/* Records one more transmission of b: moves it to the next bucket, or drops
 * it once it has been sent `limit` times. */
void swim_bq_sent(struct swim_bq *q, struct swim_bnode *b, uint32_t limit);

#endif
