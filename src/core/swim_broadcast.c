/* swim_broadcast: the transmit-limited queue of member updates waiting to be piggybacked. */
#include "swim_broadcast.h"

#include <string.h>

void swim_bq_init(struct swim_bq *q)
{
	memset(q, 0, sizeof(*q));
}

/* a is newer than b; wrap-safe while fewer than 2^31 pushes separate them. */
static bool newer(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static void link_between(struct swim_bq *q, struct swim_bnode *b, struct swim_bnode *prev,
			 struct swim_bnode *next)
{
	unsigned k = b->transmits;
	b->prev = prev;
	b->next = next;
	if (prev != NULL)
		prev->next = b;
	else
		q->head[k] = b;
	if (next != NULL)
		next->prev = b;
	else
		q->tail[k] = b;
	b->queued = true;
	q->len++;
}

/* Links b into bucket b->transmits at its place by seq (newest first). An
 * entry is usually newer than everything in its new bucket (fresh news) or
 * older than everything (news that waited while fresher news went first),
 * so both ends are O(1); only an entry that belongs in the middle walks,
 * from the tail. */
static void link_sorted(struct swim_bq *q, struct swim_bnode *b)
{
	unsigned k = b->transmits;
	struct swim_bnode *head = q->head[k], *cur = q->tail[k];
	if (head == NULL || newer(b->seq, head->seq)) {
		link_between(q, b, NULL, head);
		return;
	}
	while (newer(b->seq, cur->seq))
		cur = cur->prev; /* stops at head at the latest: b is not newer than it */
	link_between(q, b, cur, cur->next);
}

void swim_bq_remove(struct swim_bq *q, struct swim_bnode *b)
{
	if (!b->queued)
		return;
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		q->head[b->transmits] = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	else
		q->tail[b->transmits] = b->prev;
	b->prev = b->next = NULL;
	b->queued = false;
	q->len--;
}

void swim_bq_push(struct swim_bq *q, struct swim_bnode *b)
{
	swim_bq_remove(q, b);
	b->transmits = 0;
	b->seq = q->next_seq++;
	link_sorted(q, b);
}

void swim_bq_sent(struct swim_bq *q, struct swim_bnode *b, uint32_t limit)
{
	swim_bq_remove(q, b);
	if (limit > SWIM_BQ_BUCKETS)
		limit = SWIM_BQ_BUCKETS;
	if ((uint32_t)b->transmits + 1 >= limit) {
		b->transmits = (uint8_t)limit;
		return;
	}
	b->transmits++;
	link_sorted(q, b);
}
