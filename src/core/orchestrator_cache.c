/* orchestrator_cache: what passes read of stored tasks, parsed once per stored object and kept across passes, and the pointer maps a pass looks objects up in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator_internal.h"

/*
 * Why a cache is safe: the store never modifies an object it holds, it
 * replaces it, so what a stored task says is fixed for the life of its
 * json_t. The cache holds a reference on every object it describes, so an
 * address cannot be freed and reused by another object while its entry
 * lives. Entries a pass did not use are dropped (and their references
 * released) at the end of that pass, so the cache never holds more than one
 * pass's worth of objects. Decisions do not depend on it: a miss parses the
 * object, as every pass did before there was a cache.
 */

/* The head of every entry of a keyed table. */
struct keyed_head {
	json_t *obj;   /* the stored object it is about (a reference held) */
	uint64_t seen; /* the last pass that used it */
};

/* Entries about stored objects, found by the object's address. */
struct keyed_table {
	unsigned char *v;          /* n entries of `size` bytes, each starting with a keyed_head, in no order */
	size_t n, cap, size;
	struct orch_ptrmap index;  /* object -> position in v */
	void (*release)(void *entry); /* drops what an entry holds besides its head's reference, or NULL */
};

/* One stored task's facts. */
struct cache_entry {
	struct keyed_head h; /* h.obj: the task */
	struct orch_facts f; /* what it says */
	json_t *tmpl;        /* the template `outdated` was computed against (a reference held), or NULL */
	bool outdated;       /* its Spec differs from tmpl */
};

/* A service whose last reconcile wrote nothing and wanted nothing before wake. */
struct idle_entry {
	struct keyed_head h;          /* h.obj: the service */
	json_t **tasks;               /* its tasks then, in the store's order (references held) */
	size_t n_tasks;
	struct orch_fingerprint nodes; /* the nodes then */
	int64_t at;                   /* the pass's time then */
	int64_t wake;                 /* the earliest time it asked to be run at, 0 none */
};

struct orch_cache {
	struct keyed_table facts; /* of tasks */
	struct keyed_table idle;  /* of services */
	uint64_t pass;            /* passes begun */
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
	snprintf(f->service, sizeof(f->service), "%s", orch_jstr(task, "ServiceID", NULL));
	snprintf(f->node, sizeof(f->node), "%s", orch_jstr(task, "NodeID", NULL));
	f->slot = orch_jint(task, "Slot", NULL);
	f->created = orch_jtime(task, "CreatedAt", NULL);
	f->status_at = orch_jtime(task, "Status", "Timestamp", NULL);
	f->cpu = orch_jint(reservations, "NanoCPUs", NULL);
	f->mem = orch_jint(reservations, "MemoryBytes", NULL);
	f->state = orch_task_state(task);
	f->wants_running = orch_task_wants_running(task);
}

static struct keyed_head *keyed_at(const struct keyed_table *t, size_t i)
{
	return (struct keyed_head *)(t->v + i * t->size);
}

static void keyed_drop(struct keyed_table *t, size_t i)
{
	struct keyed_head *h = keyed_at(t, i);
	if (t->release != NULL)
		t->release(h);
	json_decref(h->obj);
}

static void keyed_free(struct keyed_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		keyed_drop(t, i);
	free(t->v);
	orch_ptrmap_free(&t->index);
}

/* Drops the entries pass `pass` did not use. */
static void keyed_sweep(struct keyed_table *t, uint64_t pass)
{
	size_t kept = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (keyed_at(t, i)->seen != pass)
			keyed_drop(t, i);
		else if (kept++ != i)
			memcpy(keyed_at(t, kept - 1), keyed_at(t, i), t->size);
	}
	if (kept == t->n)
		return;
	t->n = kept;
	orch_ptrmap_clear(&t->index);
	for (size_t i = 0; i < t->n; i++)
		if (orch_ptrmap_put(&t->index, keyed_at(t, i)->obj, i) != 0) {
			/* Cannot happen (the map only shrank); if it did, start afresh. */
			for (size_t j = 0; j < t->n; j++)
				keyed_drop(t, j);
			t->n = 0;
			orch_ptrmap_clear(&t->index);
			return;
		}
}

/* The entry of obj, used by pass `pass`, or NULL. */
static void *keyed_find(struct keyed_table *t, const json_t *obj, uint64_t pass)
{
	size_t i;
	if (!orch_ptrmap_get(&t->index, obj, &i))
		return NULL;
	struct keyed_head *h = keyed_at(t, i);
	h->seen = pass;
	return h;
}

/* A new zeroed entry for obj (not in the table yet), or NULL when memory ran out. */
static void *keyed_add(struct keyed_table *t, const json_t *obj, uint64_t pass)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		unsigned char *bigger = realloc(t->v, cap * t->size);
		if (bigger == NULL)
			return NULL;
		t->v = bigger;
		t->cap = cap;
	}
	if (orch_ptrmap_put(&t->index, obj, t->n) != 0)
		return NULL;
	struct keyed_head *h = keyed_at(t, t->n++);
	memset(h, 0, t->size);
	h->obj = json_incref((json_t *)obj);
	h->seen = pass;
	return h;
}

static void facts_release(void *entry)
{
	json_decref(((struct cache_entry *)entry)->tmpl);
}

static void idle_release(void *entry)
{
	struct idle_entry *e = entry;
	for (size_t i = 0; i < e->n_tasks; i++)
		json_decref(e->tasks[i]);
	free(e->tasks);
	e->tasks = NULL;
	e->n_tasks = 0;
}

void orch_cache_free(struct orch_cache *c)
{
	if (c == NULL)
		return;
	keyed_free(&c->facts);
	keyed_free(&c->idle);
	free(c);
}

int orch_cache_begin(struct orch_cache **cp)
{
	if (*cp == NULL) {
		*cp = calloc(1, sizeof(**cp));
		if (*cp == NULL)
			return -ENOMEM;
		(*cp)->facts = (struct keyed_table){.size = sizeof(struct cache_entry), .release = facts_release};
		(*cp)->idle = (struct keyed_table){.size = sizeof(struct idle_entry), .release = idle_release};
	}
	(*cp)->pass++;
	return 0;
}

void orch_cache_end(struct orch_cache *c)
{
	keyed_sweep(&c->facts, c->pass);
	keyed_sweep(&c->idle, c->pass);
}

/* The entry of a stored task, added when new; NULL when memory ran out. */
static struct cache_entry *entry_of(struct orch_cache *c, const json_t *task)
{
	struct cache_entry *e = keyed_find(&c->facts, task, c->pass);
	if (e == NULL && (e = keyed_add(&c->facts, task, c->pass)) != NULL)
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

/* ---- idle services ---------------------------------------------------------------------- */

static bool same_print(struct orch_fingerprint a, struct orch_fingerprint b)
{
	return a.n == b.n && a.max_version == b.max_version;
}

void orch_fingerprint_add(struct orch_fingerprint *fp, uint64_t version)
{
	fp->n++;
	if (version > fp->max_version)
		fp->max_version = version;
}

bool orch_cache_idle(struct orch_pass *p, const json_t *svc, json_t *const *tasks, size_t n, int64_t *wake)
{
	struct orch_cache *c = p->o->cache;
	const struct idle_entry *e = keyed_find(&c->idle, svc, c->pass);
	if (e == NULL || e->n_tasks != n || (n > 0 && memcmp(e->tasks, tasks, n * sizeof(*tasks)) != 0) ||
	    !same_print(e->nodes, p->nodes_print) || p->now < e->at || (e->wake != 0 && p->now >= e->wake))
		return false;
	*wake = e->wake;
	return true;
}

void orch_cache_set_idle(struct orch_pass *p, const json_t *svc, json_t *const *tasks, size_t n, int64_t wake)
{
	struct orch_cache *c = p->o->cache;
	json_t **copy = NULL;
	if (n > 0 && (copy = malloc(n * sizeof(*copy))) == NULL)
		return; /* not remembered: reconciled again next pass */
	struct idle_entry *e = keyed_find(&c->idle, svc, c->pass);
	if (e == NULL && (e = keyed_add(&c->idle, svc, c->pass)) == NULL) {
		free(copy);
		return;
	}
	idle_release(e);
	for (size_t i = 0; i < n; i++)
		copy[i] = json_incref(tasks[i]);
	e->tasks = copy;
	e->n_tasks = n;
	e->nodes = p->nodes_print;
	e->at = p->now;
	e->wake = wake;
}
