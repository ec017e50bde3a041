/* store_state: the objects of every kind and the secondary indexes, kept consistent on every write. */
#include <string.h>

#include "store_internal.h"

void store_state_init(struct store_state *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < STORE_INDEX_COUNT; i++)
		st->indexes[i].fold = store_indexes[i].fold;
}

void store_state_release(struct store_state *st)
{
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		for (size_t i = 0; i < st->objects[k].len; i++)
			json_decref(st->objects[k].v[i].obj);
		store_table_release(&st->objects[k]);
	}
	for (int i = 0; i < STORE_INDEX_COUNT; i++)
		store_table_release(&st->indexes[i]);
}

/* Room for obj in every table it goes into, and only those: a put right after
 * a take must find room without growing anything. */
static int reserve_for(struct store_state *st, enum store_kind kind, const json_t *obj)
{
	int rc = store_table_reserve(&st->objects[kind], st->objects[kind].len + 1);
	for (int i = 0; rc == 0 && i < STORE_INDEX_COUNT; i++) {
		if (store_indexes[i].kind == kind && store_index_key(i, obj) != NULL)
			rc = store_table_reserve(&st->indexes[i], st->indexes[i].len + 1);
	}
	return rc;
}

int store_state_put(struct store_state *st, enum store_kind kind, json_t *obj)
{
	int rc = reserve_for(st, kind, obj);
	if (rc != 0)
		return rc;
	const char *id = store_obj_id(obj);
	store_table_insert(&st->objects[kind], (struct store_entry){ id, id, obj });
	for (int i = 0; i < STORE_INDEX_COUNT; i++) {
		const char *key = store_indexes[i].kind == kind ? store_index_key(i, obj) : NULL;
		if (key != NULL)
			store_table_insert(&st->indexes[i], (struct store_entry){ key, id, obj });
	}
	return 0;
}

void store_state_take(struct store_state *st, enum store_kind kind, json_t *obj)
{
	const char *id = store_obj_id(obj);
	store_table_remove(&st->objects[kind], id, id);
	for (int i = 0; i < STORE_INDEX_COUNT; i++) {
		const char *key = store_indexes[i].kind == kind ? store_index_key(i, obj) : NULL;
		if (key != NULL)
			store_table_remove(&st->indexes[i], key, id);
	}
}

json_t *store_state_get(const struct store_state *st, enum store_kind kind, const char *id)
{
	const struct store_table *t = &st->objects[kind];
	size_t pos = store_table_find(t, id, id);
	return pos < t->len ? t->v[pos].obj : NULL;
}

/* The id of another object holding key in a unique index, or NULL. */
static const char *key_holder(const struct store_table *t, const char *key, const char *self)
{
	for (size_t pos = store_table_lower_bound(t, key, NULL);
	     pos < t->len && store_key_cmp(t, t->v[pos].key, key) == 0; pos++) {
		if (strcmp(t->v[pos].id, self) != 0)
			return t->v[pos].id;
	}
	return NULL;
}

int store_state_check_unique(const struct store_state *st, enum store_kind kind,
			     const json_t *obj, char *err, size_t errlen)
{
	const char *id = store_obj_id(obj);
	const struct store_table *objects = &st->objects[kind];
	if (store_kinds[kind].singleton && objects->len > 0 && strcmp(objects->v[0].id, id) != 0) {
		store_errf(err, errlen, "a %s object already exists", store_kinds[kind].name);
		return STORE_E_EXISTS;
	}
	for (int i = 0; i < STORE_INDEX_COUNT; i++) {
		if (store_indexes[i].kind != kind || !store_indexes[i].unique)
			continue;
		const char *key = store_index_key(i, obj);
		if (key != NULL && key_holder(&st->indexes[i], key, id) != NULL) {
			/* Docker's text, from swarmkit's store.ErrNameConflict. */
			store_errf(err, errlen,
				   "name conflicts with an existing object: %s %s already exists",
				   store_kinds[kind].name, key);
			return STORE_E_NAME_CONFLICT;
		}
	}
	return 0;
}
