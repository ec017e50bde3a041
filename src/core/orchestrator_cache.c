/* orchestrator_cache: what passes read of stored tasks, parsed once per stored object and kept across passes, and the pointer maps a pass looks objects up in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator_internal.h"

/*
 * Why a cache is safe: the store never modifies an object it holds, it
 * replaces it, so what a stored task says is fixed for the life of its
 * json_t. The cache holds a reference on every task it describes, so an
 * address cannot be freed and reused by another object while its entry
 * lives. Entries a pass did not read are dropped (and their references
 * released) at the end of that pass, so the cache never holds more than one
 * pass's worth of tasks. Decisions do not depend on it: a miss parses the
 * object, as every pass did before there was a cache.
 */

/* One stored task's facts. */
struct cache_entry {
	json_t *task;        /* the stored task (a reference held) */
	uint64_t seen;       /* the last pass that read it */
	struct orch_facts f; /* what it says */
	json_t *tmpl;        /* the template `outdated` was computed against (a reference held), or NULL */
	bool outdated;       /* its Spec differs from tmpl */
};

struct orch_cache {
	struct cache_entry *v;   /* n entries, in no order */
	size_t n, cap;
	struct orch_ptrmap index; /* task -> position in v */
	uint64_t pass;           /* passes begun */
};

/* ---- pointer maps ------------------------------------------------------------------- */

static size_t ptr_hash(const void *key, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)key;
	h ^= h >> 29;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 32;
	return (size_t)h & (cap - 1);
}

static int ptrmap_grow(struct orch_ptrmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct orch_ptrmap bigger = {.keys = calloc(cap, sizeof(*bigger.keys)),
				     .vals = malloc(cap * sizeof(*bigger.vals)),
				     .cap = cap};
	if (bigger.keys == NULL || bigger.vals == NULL) {
		orch_ptrmap_free(&bigger);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] != NULL)
			orch_ptrmap_put(&bigger, m->keys[i], m->vals[i]); /* cannot grow: cap doubled */
	orch_ptrmap_free(m);
	*m = bigger;
	return 0;
}

int orch_ptrmap_put(struct orch_ptrmap *m, const void *key, size_t value)
{
	if ((m->n + 1) * 2 > m->cap && ptrmap_grow(m) != 0)
		return -ENOMEM;
	size_t i = ptr_hash(key, m->cap);
	while (m->keys[i] != NULL && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (m->keys[i] == NULL)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = value;
	return 0;
}

bool orch_ptrmap_get(const struct orch_ptrmap *m, const void *key, size_t *value)
{
	if (m->n == 0)
		return false;
	for (size_t i = ptr_hash(key, m->cap); m->keys[i] != NULL; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key) {
			*value = m->vals[i];
			return true;
		}
	return false;
}

void orch_ptrmap_clear(struct orch_ptrmap *m)
{
	if (m->n > 0)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->n = 0;
}

void orch_ptrmap_free(struct orch_ptrmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- facts -------------------------------------------------------------------------- */

void orch_facts_parse(const json_t *task, struct orch_facts *f)
{
	const json_t *reservations = orch_jget(task, "Spec", "Resources", "Reservations", NULL);
	f->id = orch_jstr(task, "ID", NULL);
	f->service = orch_jstr(task, "ServiceID", NULL);
	f->node = orch_jstr(task, "NodeID", NULL);
	f->slot = orch_jint(task, "Slot", NULL);
	f->created = orch_jtime(task, "CreatedAt", NULL);
	f->cpu = orch_jint(reservations, "NanoCPUs", NULL);
	f->mem = orch_jint(reservations, "MemoryBytes", NULL);
	f->state = orch_task_state(task);
	f->wants_running = orch_task_wants_running(task);
}

static void entry_release(struct cache_entry *e)
{
	json_decref(e->task);
	json_decref(e->tmpl);
}

void orch_cache_free(struct orch_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_release(&c->v[i]);
	free(c->v);
	orch_ptrmap_free(&c->index);
	free(c);
}

int orch_cache_begin(struct orch_cache **cp)
{
	if (*cp == NULL && (*cp = calloc(1, sizeof(**cp))) == NULL)
		return -ENOMEM;
	(*cp)->pass++;
	return 0;
}

void orch_cache_end(struct orch_cache *c)
{
	size_t kept = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].seen != c->pass)
			entry_release(&c->v[i]);
		else
			c->v[kept++] = c->v[i];
	}
	if (kept == c->n)
		return;
	c->n = kept;
	orch_ptrmap_clear(&c->index);
	for (size_t i = 0; i < c->n; i++)
		if (orch_ptrmap_put(&c->index, c->v[i].task, i) != 0) {
			/* Cannot happen (the map only shrank); if it did, start afresh. */
			for (size_t j = 0; j < c->n; j++)
				entry_release(&c->v[j]);
			c->n = 0;
			orch_ptrmap_clear(&c->index);
			return;
		}
}

/* The entry of a stored task, added when new; NULL when memory ran out. */
static struct cache_entry *entry_of(struct orch_cache *c, const json_t *task)
{
	size_t i;
	if (orch_ptrmap_get(&c->index, task, &i)) {
		c->v[i].seen = c->pass;
		return &c->v[i];
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct cache_entry *bigger = realloc(c->v, cap * sizeof(*bigger));
		if (bigger == NULL)
			return NULL;
		c->v = bigger;
		c->cap = cap;
	}
	if (orch_ptrmap_put(&c->index, task, c->n) != 0)
		return NULL;
	struct cache_entry *e = &c->v[c->n++];
	*e = (struct cache_entry){.task = json_incref((json_t *)task), .seen = c->pass};
	orch_facts_parse(task, &e->f);
	return e;
}

struct orch_facts orch_facts_stored(struct orch_pass *p, const json_t *task)
{
	struct orch_facts f;
	struct cache_entry *e = entry_of(p->o->cache, task);
	if (e != NULL)
		return e->f;
	orch_facts_parse(task, &f);
	return f;
}

struct orch_facts orch_facts_of(struct orch_pass *p, const json_t *task)
{
	struct orch_facts f;
	const json_t *copy = orch_edit_copy(p, task);
	struct cache_entry *e = copy == NULL ? entry_of(p->o->cache, task) : NULL;
	if (e != NULL)
		return e->f;
	orch_facts_parse(copy ? copy : task, &f);
	return f;
}

static bool spec_differs(const json_t *tmpl, const json_t *task)
{
	const json_t *spec = json_object_get(task, "Spec");
	if (tmpl == NULL)
		return json_object_size(spec) > 0;
	return !json_equal(spec, tmpl);
}

bool orch_task_outdated(struct orch_pass *p, const struct orch_service *svc, const json_t *task)
{
	const json_t *copy = orch_edit_copy(p, task);
	struct cache_entry *e = copy == NULL && svc->template != NULL ? entry_of(p->o->cache, task) : NULL;
	if (e == NULL)
		return spec_differs(svc->template, copy ? copy : task);
	if (e->tmpl != svc->template) {
		json_decref(e->tmpl);
		e->tmpl = json_incref((json_t *)svc->template);
		e->outdated = spec_differs(svc->template, task);
	}
	return e->outdated;
}
