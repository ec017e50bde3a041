/* store_internal: the store's tables, schema and live state, shared by its source files. */
#ifndef SWARMNODE_STORE_INTERNAL_H
#define SWARMNODE_STORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "swarmnode/store.h"

/* ---- Memory (store_table.c) ---------------------------------------------------
 * What apply and restore allocate goes through jansson's allocator, like the
 * objects themselves: one json_set_alloc_funcs covers the whole store (and
 * lets the tests fail every allocation in turn). */

/* n zeroed elements of size bytes, or NULL (also when n * size overflows). */
void *store_mem_calloc(size_t n, size_t size);

/* Frees what store_mem_calloc returned; NULL is fine. */
void store_mem_free(void *p);

/* ---- Sorted tables (store_table.c) -------------------------------------------
 * One sorted array serves both the objects of a kind (key = id) and each
 * secondary index (key = the indexed field). Keys and ids point into the
 * object itself, which the store never modifies while it is stored. Tables
 * never shrink, so an insertion after a removal cannot fail: rollback relies
 * on it. */

struct store_entry {
	const char *key; /* sort key: the id, or the indexed field's value */
	const char *id;  /* the object's ID: breaks ties between equal keys */
	json_t *obj;     /* the object (the store's reference is held by the kind table) */
};

struct store_table {
	struct store_entry *v; /* len entries sorted by (key, id) */
	size_t len;
	size_t cap;            /* allocated entries; never decreases */
	bool fold;             /* keys compare ASCII case-insensitively */
};

/* Compares keys under the table's rule (ASCII case folding when fold). */
int store_key_cmp(const struct store_table *t, const char *a, const char *b);

/* Grows capacity to at least n entries. Returns 0 or STORE_E_NOMEM (unchanged). */
int store_table_reserve(struct store_table *t, size_t n);

/* First position whose entry is >= (key, id); id NULL means before every id. */
size_t store_table_lower_bound(const struct store_table *t, const char *key, const char *id);

/* First position whose key is > key (every id of key before it). */
size_t store_table_upper_bound(const struct store_table *t, const char *key);

/* Inserts e; the caller reserved room for it. */
void store_table_insert(struct store_table *t, struct store_entry e);

/* Removes the entry (key, id). Returns whether it was there. */
bool store_table_remove(struct store_table *t, const char *key, const char *id);

/* Position of (key, id), or t->len when absent. */
size_t store_table_find(const struct store_table *t, const char *key, const char *id);

/* Frees the array (not the objects). */
void store_table_release(struct store_table *t);

/* ---- Schema (store_schema.c) ------------------------------------------------- */

/* How an indexed field is checked. */
enum store_field_rule {
	STORE_FIELD_NAME, /* required non-empty string */
	STORE_FIELD_TEXT, /* optional string; "" is not indexed */
	STORE_FIELD_REF,  /* optional object id; "" is not indexed */
};

struct store_index_desc {
	enum store_kind kind;     /* whose objects it indexes */
	const char *path[3];      /* the field, NULL-terminated (at most two levels) */
	enum store_field_rule rule;
	bool unique;              /* two objects may not share a key */
	bool fold;                /* keys compare ASCII case-insensitively */
};

struct store_kind_desc {
	const char *name;         /* "service" */
	bool singleton;           /* at most one object of this kind */
	int name_index;           /* enum store_index resolving names, or -1 */
};

extern const struct store_kind_desc store_kinds[STORE_KIND_COUNT];
extern const struct store_index_desc store_indexes[STORE_INDEX_COUNT];

/* Checks obj as an object of kind (a valid "ID" and the indexed fields), naming
 * a bad field after where ("ops[1].object"). Returns 0 or -1 with err. */
int store_schema_check(enum store_kind kind, const json_t *obj, const char *where, char *err,
		       size_t errlen);

/* The indexed value of a checked object, or NULL when it is absent or "". */
const char *store_index_key(enum store_index index, const json_t *obj);

/* Checks that obj has exactly the NULL-terminated fields (all required, no
 * other). Returns 0 or -1 with "where.field: unknown field" / "missing". */
int store_check_fields(const json_t *obj, const char *const *fields, const char *where,
		       char *err, size_t errlen);

/* Parses in (what names it in err) into a new *out. Returns 0,
 * STORE_E_MALFORMED with "what: not JSON: ..." in err, or STORE_E_NOMEM.
 * Running out of memory must never pass for bad input: a manager that refused
 * an entry for want of memory while the others applied it would diverge. */
int store_json_load(const uint8_t *in, size_t len, const char *what, json_t **out, char *err,
		    size_t errlen);

/* The object's "ID" (a checked object has one). */
const char *store_obj_id(const json_t *obj);

/* snprintf into err when err is not NULL. */
void store_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Live state (store_state.c) ---------------------------------------------- */

/* Every object, by kind, and every secondary index. */
struct store_state {
	struct store_table objects[STORE_KIND_COUNT];
	struct store_table indexes[STORE_INDEX_COUNT];
};

/* Sets up an empty state. */
void store_state_init(struct store_state *st);

/* Drops the state's reference on every object and frees the tables. */
void store_state_release(struct store_state *st);

/* Adds a checked object, taking the caller's reference on success. Returns 0
 * or STORE_E_NOMEM with the state unchanged. The caller checked that its id
 * is new and its unique keys free. */
int store_state_put(struct store_state *st, enum store_kind kind, json_t *obj);

/* Removes a stored object; its reference passes to the caller. Never fails,
 * and a store_state_put right after it cannot fail either. */
void store_state_take(struct store_state *st, enum store_kind kind, json_t *obj);

/* The stored object of kind with exactly this id, or NULL. */
json_t *store_state_get(const struct store_state *st, enum store_kind kind, const char *id);

/* Refuses a second singleton or a unique key another object holds, with
 * Docker's message in err. Returns 0, STORE_E_EXISTS or STORE_E_NAME_CONFLICT. */
int store_state_check_unique(const struct store_state *st, enum store_kind kind,
			     const json_t *obj, char *err, size_t errlen);

/* ---- Snapshot encoding (store_snapshot.c) --------------------------------------- */

/* Encodes st and the applied index (format in store.h) into a malloc'd buffer.
 * Returns 0 or STORE_E_NOMEM. */
int store_state_encode(const struct store_state *st, uint64_t index, uint8_t **out,
		       size_t *len);

/* Decodes and fully checks a snapshot into a fresh *st (release it with
 * store_state_release). Returns 0, STORE_E_CORRUPT with err, or STORE_E_NOMEM;
 * on error there is nothing to release. */
int store_state_decode(const uint8_t *in, size_t len, struct store_state *st, uint64_t *index,
		       char *err, size_t errlen);

#endif
