/* raft_log: the in-memory Raft log after the snapshot boundary, and the core's allocator wrappers. */
#ifndef SWARMNODE_RAFT_LOG_H
#define SWARMNODE_RAFT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "swarmnode/raft.h"

/* Allocation through a struct raft_heap; a NULL heap or function means libc. */
static inline void *rh_malloc(const struct raft_heap *h, size_t n)
{
	return h != NULL && h->malloc != NULL ? h->malloc(h->data, n) : malloc(n);
}

static inline void *rh_realloc(const struct raft_heap *h, void *p, size_t n)
{
	return h != NULL && h->realloc != NULL ? h->realloc(h->data, p, n) : realloc(p, n);
}

static inline void rh_free(const struct raft_heap *h, void *p)
{
	if (h != NULL && h->free != NULL)
		h->free(h->data, p);
	else
		free(p);
}

/*
 * The log holds entries boundary+1 .. boundary+n in one array, e[off .. off+n),
 * so that any range of it is contiguous and can be handed out as a pointer.
 * Entries before the boundary were compacted into a snapshot; the boundary's
 * own term is kept so that an append right after it can name its predecessor.
 * Each entry's data is a separate allocation owned by the log.
 */
struct raft_log {
	const struct raft_heap *heap; /* allocator */
	struct raft_entry *e;         /* the array */
	size_t off;                   /* first used slot */
	size_t n;                     /* entries held */
	size_t cap;                   /* slots allocated */
	uint64_t boundary;            /* index of the last compacted entry (0: none) */
	uint64_t boundary_term;       /* its term (0 when boundary is 0) */
};

void raft_log_init(struct raft_log *l, const struct raft_heap *heap);
/* Frees every entry and the array. */
void raft_log_close(struct raft_log *l);

static inline uint64_t raft_log_last(const struct raft_log *l)
{
	return l->boundary + l->n;
}

/* The entry at index, or NULL when it is compacted or beyond the end. */
static inline const struct raft_entry *raft_log_get(const struct raft_log *l, uint64_t index)
{
	if (index <= l->boundary || index > l->boundary + l->n)
		return NULL;
	return &l->e[l->off + (index - l->boundary - 1)];
}

/* The term at index: the boundary's for the boundary, 0 when unknown. */
static inline uint64_t raft_log_term(const struct raft_log *l, uint64_t index)
{
	if (index == l->boundary)
		return l->boundary_term;
	const struct raft_entry *e = raft_log_get(l, index);
	return e != NULL ? e->term : 0;
}

/* Appends an entry at index last + 1, copying data. Returns 0 or RAFT_E_NOMEM
 * (the log is unchanged). */
int raft_log_append(struct raft_log *l, uint64_t term, uint8_t type, const uint8_t *data,
		    size_t len);

/* Makes room for n more entries so that the next n appends of empty entries
 * cannot fail on the array. Returns 0 or RAFT_E_NOMEM. */
int raft_log_reserve(struct raft_log *l, size_t n);

/* Removes entries with index >= from (from > boundary). */
void raft_log_truncate(struct raft_log *l, uint64_t from);

/* Removes entries with index <= upto (boundary <= upto <= last); the
 * boundary becomes upto. */
void raft_log_compact(struct raft_log *l, uint64_t upto);

/* Removes every entry; the boundary becomes (index, term). */
void raft_log_reset(struct raft_log *l, uint64_t index, uint64_t term);

/* Bytes of entry data in entries from .. to (inclusive). */
size_t raft_log_bytes(const struct raft_log *l, uint64_t from, uint64_t to);

#endif
