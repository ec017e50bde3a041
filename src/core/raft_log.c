/* raft_log: the in-memory Raft log after the snapshot boundary. */
#include "raft_log.h"

#include <string.h>

void raft_log_init(struct raft_log *l, const struct raft_heap *heap)
{
	memset(l, 0, sizeof(*l));
	l->heap = heap;
}

static void entry_free(struct raft_log *l, struct raft_entry *e)
{
	if (e->data != NULL)
		rh_free(l->heap, (void *)e->data);
	e->data = NULL;
}

void raft_log_close(struct raft_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(l, &l->e[l->off + i]);
	rh_free(l->heap, l->e);
	l->e = NULL;
	l->off = l->n = l->cap = 0;
}

int raft_log_reserve(struct raft_log *l, size_t more)
{
	if (l->off + l->n + more <= l->cap)
		return 0;
	/* Slide down when at least half of the array is free in front. */
	if (l->off > 0 && l->n + more <= l->cap && l->off >= l->cap / 2) {
		memmove(l->e, l->e + l->off, l->n * sizeof(*l->e));
		l->off = 0;
		return 0;
	}
	size_t cap = l->cap > 0 ? l->cap : 16;
	while (cap < l->off + l->n + more)
		cap *= 2;
	struct raft_entry *e = rh_realloc(l->heap, l->e, cap * sizeof(*e));
	if (e == NULL)
		return RAFT_E_NOMEM;
	l->e = e;
	l->cap = cap;
	return 0;
}

int raft_log_append(struct raft_log *l, uint64_t term, uint8_t type, const uint8_t *data,
		    size_t len)
{
	if (raft_log_reserve(l, 1) != 0)
		return RAFT_E_NOMEM;
	uint8_t *copy = NULL;
	if (len > 0) {
		copy = rh_malloc(l->heap, len);
		if (copy == NULL)
			return RAFT_E_NOMEM;
		memcpy(copy, data, len);
	}
	struct raft_entry *e = &l->e[l->off + l->n];
	e->term = term;
	e->index = raft_log_last(l) + 1;
	e->type = type;
	e->data = copy;
	e->len = len;
	l->n++;
	return 0;
}

void raft_log_truncate(struct raft_log *l, uint64_t from)
{
	if (from <= l->boundary)
		from = l->boundary + 1;
	while (raft_log_last(l) >= from && l->n > 0) {
		entry_free(l, &l->e[l->off + l->n - 1]);
		l->n--;
	}
	if (l->n == 0)
		l->off = 0;
}

void raft_log_compact(struct raft_log *l, uint64_t upto)
{
	if (upto <= l->boundary)
		return;
	if (upto > raft_log_last(l))
		upto = raft_log_last(l);
	uint64_t term = raft_log_term(l, upto);
	size_t k = (size_t)(upto - l->boundary);
	for (size_t i = 0; i < k; i++)
		entry_free(l, &l->e[l->off + i]);
	l->off += k;
	l->n -= k;
	if (l->n == 0)
		l->off = 0;
	l->boundary = upto;
	l->boundary_term = term;
}

void raft_log_reset(struct raft_log *l, uint64_t index, uint64_t term)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(l, &l->e[l->off + i]);
	l->off = l->n = 0;
	l->boundary = index;
	l->boundary_term = term;
}

size_t raft_log_bytes(const struct raft_log *l, uint64_t from, uint64_t to)
{
	size_t sum = 0;
	for (uint64_t i = from; i <= to; i++) {
		const struct raft_entry *e = raft_log_get(l, i);
		if (e != NULL)
			sum += e->len;
	}
	return sum;
}
