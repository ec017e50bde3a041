/* swim_members: member records, the id hash table, the probe list and the member timer heap. */
#include "swim_members.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct swim_member *swim_member_new(const char *id, uint64_t hash)
{
	size_t len = strlen(id);
	struct swim_member *m = calloc(1, sizeof(*m) + len + 1);
	if (m == NULL)
		return NULL;
	memcpy(m->id, id, len + 1);
	m->id_len = (uint8_t)len;
	m->hash = hash;
	m->heap_idx = SWIM_NO_HEAP;
	m->state = SWIM_ALIVE;
	return m;
}

int swim_member_set_meta(struct swim_member *m, const uint8_t *meta, size_t len)
{
	uint8_t *copy = NULL;
	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, meta, len);
	}
	free(m->meta);
	m->meta = copy;
	m->meta_len = (uint16_t)len;
	return 0;
}

bool swim_member_meta_equal(const struct swim_member *m, const uint8_t *meta, size_t len)
{
	return m->meta_len == len && (len == 0 || memcmp(m->meta, meta, len) == 0);
}

void swim_member_free(struct swim_member *m)
{
	if (m == NULL)
		return;
	free(m->meta);
	free(m->susp);
	free(m);
}

/* --- hash table ------------------------------------------------------------- */

#define SLOTS_MIN 16

int swim_table_init(struct swim_table *t, uint64_t hash_key)
{
	memset(t, 0, sizeof(*t));
	t->slots = calloc(SLOTS_MIN, sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	t->slot_mask = SLOTS_MIN - 1;
	t->hash_key = hash_key;
	return 0;
}

void swim_table_close(struct swim_table *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		swim_member_free(t->list[i]);
	free(t->slots);
	free(t->list);
	free(t->heap);
	memset(t, 0, sizeof(*t));
}

uint64_t swim_table_hash(const struct swim_table *t, const char *id, size_t len)
{
	/* FNV-1a over the bytes, started from the key, then the splitmix64
	 * finaliser so that every input bit reaches the low bits we index with.
	 * Why not SipHash: ids come only from authenticated gossip, so a seeded
	 * fast hash is enough to stop accidental clustering. */
	uint64_t h = 0xcbf29ce484222325ull ^ t->hash_key;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

struct swim_member *swim_table_find(const struct swim_table *t, const char *id)
{
	size_t len = strnlen(id, SWIM_ID_MAX + 1);
	if (len > SWIM_ID_MAX)
		return NULL;
	uint64_t h = swim_table_hash(t, id, len);
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint32_t i = (uint32_t)h & t->slot_mask;; i = (i + 1) & t->slot_mask) {
		const struct swim_slot *sl = &t->slots[i];
		if (sl->m == NULL)
			return NULL;
		if (sl->tag == tag && sl->m->hash == h && sl->m->id_len == len &&
		    memcmp(sl->m->id, id, len) == 0)
			return sl->m;
	}
}

static void slot_insert(struct swim_slot *slots, uint32_t mask, struct swim_member *m)
{
	uint32_t i = (uint32_t)m->hash & mask;
	while (slots[i].m != NULL)
		i = (i + 1) & mask;
	slots[i].m = m;
	slots[i].tag = (uint32_t)(m->hash >> 32);
}

/* Keeps the load factor at or below one half. */
static int slots_reserve(struct swim_table *t, uint32_t n)
{
	uint32_t cap = t->slot_mask + 1;
	if ((uint64_t)n * 2 <= cap)
		return 0;
	uint32_t ncap = cap * 2;
	struct swim_slot *ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < cap; i++)
		if (t->slots[i].m != NULL)
			slot_insert(ns, ncap - 1, t->slots[i].m);
	free(t->slots);
	t->slots = ns;
	t->slot_mask = ncap - 1;
	return 0;
}

/* Deletes by backward shift so that no tombstones accumulate. */
static void slot_delete(struct swim_table *t, struct swim_member *m)
{
	uint32_t mask = t->slot_mask;
	uint32_t i = (uint32_t)m->hash & mask;
	while (t->slots[i].m != m)
		i = (i + 1) & mask;
	for (uint32_t j = (i + 1) & mask; t->slots[j].m != NULL; j = (j + 1) & mask) {
		uint32_t home = (uint32_t)t->slots[j].m->hash & mask;
		/* slots[j] may move back to i unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].m = NULL;
	t->slots[i].tag = 0;
}

/* --- probe list --------------------------------------------------------------- */

static void list_place(struct swim_table *t, uint32_t i, struct swim_member *m)
{
	t->list[i] = m;
	m->list_idx = i;
}

void swim_table_swap(struct swim_table *t, uint32_t i, uint32_t j)
{
	struct swim_member *a = t->list[i];
	list_place(t, i, t->list[j]);
	list_place(t, j, a);
}

int swim_table_add(struct swim_table *t, struct swim_member *m, uint32_t pos)
{
	if (t->n == t->list_cap) {
		uint32_t ncap = t->list_cap ? t->list_cap * 2 : 16;
		struct swim_member **nl = realloc(t->list, ncap * sizeof(*nl));
		if (nl == NULL)
			return -ENOMEM;
		t->list = nl;
		t->list_cap = ncap;
	}
	if (t->heap_cap < t->list_cap) {
		struct swim_member **nh = realloc(t->heap, t->list_cap * sizeof(*nh));
		if (nh == NULL)
			return -ENOMEM;
		t->heap = nh;
		t->heap_cap = t->list_cap;
	}
	if (slots_reserve(t, t->n + 1) != 0)
		return -ENOMEM;
	slot_insert(t->slots, t->slot_mask, m);
	list_place(t, t->n, m);
	t->n++;
	if (pos < t->n - 1)
		swim_table_swap(t, pos, t->n - 1);
	return 0;
}

void swim_table_del(struct swim_table *t, struct swim_member *m)
{
	uint32_t idx = m->list_idx, last = t->n - 1;
	swim_timer_clear(t, m);
	slot_delete(t, m);
	if (idx < t->probe_idx) {
		/* Fill the hole from the probed part and that slot from the end, so
		 * the unprobed members stay together after probe_idx. */
		uint32_t p = t->probe_idx - 1;
		list_place(t, idx, t->list[p]);
		if (p != last)
			list_place(t, p, t->list[last]);
		t->probe_idx--;
	} else if (idx != last) {
		list_place(t, idx, t->list[last]);
	}
	t->n--;
}

/* --- timer heap ----------------------------------------------------------------- */

static void heap_place(struct swim_table *t, uint32_t i, struct swim_member *m)
{
	t->heap[i] = m;
	m->heap_idx = i;
}

static void heap_up(struct swim_table *t, uint32_t i)
{
	struct swim_member *m = t->heap[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (t->heap[parent]->timer_at <= m->timer_at)
			break;
		heap_place(t, i, t->heap[parent]);
		i = parent;
	}
	heap_place(t, i, m);
}

static void heap_down(struct swim_table *t, uint32_t i)
{
	struct swim_member *m = t->heap[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= t->heap_n)
			break;
		if (c + 1 < t->heap_n && t->heap[c + 1]->timer_at < t->heap[c]->timer_at)
			c++;
		if (m->timer_at <= t->heap[c]->timer_at)
			break;
		heap_place(t, i, t->heap[c]);
		i = c;
	}
	heap_place(t, i, m);
}

void swim_timer_set(struct swim_table *t, struct swim_member *m, uint64_t at)
{
	m->timer_at = at;
	if (m->heap_idx == SWIM_NO_HEAP) {
		heap_place(t, t->heap_n++, m);
		heap_up(t, m->heap_idx);
		return;
	}
	heap_up(t, m->heap_idx);
	heap_down(t, m->heap_idx);
}

void swim_timer_clear(struct swim_table *t, struct swim_member *m)
{
	uint32_t i = m->heap_idx;
	if (i == SWIM_NO_HEAP)
		return;
	m->heap_idx = SWIM_NO_HEAP;
	m->timer_at = 0;
	struct swim_member *last = t->heap[--t->heap_n];
	if (i == t->heap_n)
		return;
	heap_place(t, i, last);
	heap_up(t, i);
	heap_down(t, last->heap_idx);
}

struct swim_member *swim_timer_min(const struct swim_table *t)
{
	return t->heap_n ? t->heap[0] : NULL;
}
