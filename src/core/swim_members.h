/* swim_members: member records, the id hash table, the probe list and the member timer heap. */
#ifndef SWARMNODE_SWIM_MEMBERS_H
#define SWARMNODE_SWIM_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/swim_proto.h"
#include "swim_broadcast.h"
#include "swim_suspicion.h"

/* Marks a member that is in no heap position. */
#define SWIM_NO_HEAP UINT32_MAX

/* Everything known about one member. Allocated with its id inline: 112
 * bytes plus the id and metadata; with its hash slot, list and heap entries
 * about 200 bytes. 1,000 nodes that each know 1,000 members measured 270 MB
 * RSS in one process, packets in flight included. */
struct swim_member {
	struct swim_bnode bcast;      /* our pending update about it; first, so a bnode casts back */
	struct swim_addr addr;        /* its gossip address */
	uint64_t incarnation;         /* its incarnation as we know it */
	uint64_t state_change;        /* when its state last changed, ms */
	uint64_t timer_at;            /* suspicion deadline (suspect) or reap time (dead, left) */
	uint64_t hash;                /* keyed hash of id */
	struct swim_suspicion *susp;  /* the running suspicion while suspect, else NULL */
	uint8_t *meta;                /* metadata copy, NULL when meta_len is 0 */
	uint32_t list_idx;            /* position in the probe list */
	uint32_t heap_idx;            /* position in the timer heap, or SWIM_NO_HEAP */
	uint16_t meta_len;            /* bytes at meta */
	uint8_t state;                /* enum swim_state */
	uint8_t id_len;               /* strlen(id) */
	char id[];                    /* NUL-terminated id */
};

/* Allocates a member (state alive, no metadata, not in any structure).
 * Returns NULL on allocation failure. */
struct swim_member *swim_member_new(const char *id, uint64_t hash);

/* Replaces m's metadata with a copy of len bytes. Returns 0 or -ENOMEM. */
int swim_member_set_meta(struct swim_member *m, const uint8_t *meta, size_t len);

/* True when m's metadata equals (meta, len). */
bool swim_member_meta_equal(const struct swim_member *m, const uint8_t *meta, size_t len);

/* Frees m, its metadata and suspicion. m must be out of every structure. */
void swim_member_free(struct swim_member *m);

/* One hash slot: the member and the high half of its hash, so that probing
 * past other members compares tags in the slot array instead of following
 * pointers into member records that are likely not in cache. */
struct swim_slot {
	struct swim_member *m; /* NULL when the slot is free */
	uint32_t tag;          /* high 32 bits of m->hash */
};

/* All members: an open-addressing hash table for lookup by id, a dense array
 * for probing in shuffled round-robin order and for iteration, and a binary
 * min-heap of per-member deadlines. Every operation is O(1) or O(log N). */
struct swim_table {
	struct swim_slot *slots;      /* hash slots (linear probing) */
	uint32_t slot_mask;           /* slot count - 1; the count is a power of two */
	struct swim_member **list;    /* members in probe order */
	uint32_t n;                   /* members in list (and in slots) */
	uint32_t list_cap;            /* allocated entries of list */
	uint32_t probe_idx;           /* next list position to probe; before it: probed this round */
	struct swim_member **heap;    /* members with a deadline, min-heap on timer_at */
	uint32_t heap_n;              /* entries in heap */
	uint32_t heap_cap;            /* allocated entries of heap */
	uint64_t hash_key;            /* seeds the hash so ids cannot be chosen to collide */
};

/* Initialises an empty table. Returns 0 or -ENOMEM. */
int swim_table_init(struct swim_table *t, uint64_t hash_key);

/* Frees every member and the table's arrays. */
void swim_table_close(struct swim_table *t);

/* Keyed hash of an id of len bytes. */
uint64_t swim_table_hash(const struct swim_table *t, const char *id, size_t len);

/* The member with this id, or NULL. */
struct swim_member *swim_table_find(const struct swim_table *t, const char *id);

/* Adds m (not yet in the table) and places it at list position pos
 * (0 <= pos <= n): the member there moves to the end. Returns 0 or -ENOMEM. */
int swim_table_add(struct swim_table *t, struct swim_member *m, uint32_t pos);

/* Removes m from the hash, the list and the heap; the caller frees it. The
 * list keeps its probed/unprobed split, so no member skips a probe round. */
void swim_table_del(struct swim_table *t, struct swim_member *m);

/* Swaps list positions i and j. */
void swim_table_swap(struct swim_table *t, uint32_t i, uint32_t j);

/* Sets or moves m's deadline to at. Cannot fail: swim_table_add reserved
 * a heap entry for every member. */
void swim_timer_set(struct swim_table *t, struct swim_member *m, uint64_t at);

/* Removes m's deadline if it has one. */
void swim_timer_clear(struct swim_table *t, struct swim_member *m);

/* The member with the earliest deadline, or NULL. */
struct swim_member *swim_timer_min(const struct swim_table *t);

#endif
