/* store_snapshot: the whole state as one JSON document (format in store.h), and its checked decoding. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define SNAPSHOT_FORMAT "swarmnode-store"

/* ---- Encode ------------------------------------------------------------------- */

/* The document shares the stored objects (references, not copies). */
static json_t *snapshot_document(const struct store_state *st, uint64_t index)
{
	json_t *objects = json_object();
	json_t *root = json_pack("{s:s, s:i, s:I, s:o}", "format", SNAPSHOT_FORMAT, "v",
				 STORE_SNAPSHOT_VERSION, "index", (json_int_t)index, "objects",
				 objects);
	if (root == NULL)
		return NULL;
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		json_t *arr = json_array();
		if (json_object_set_new(objects, store_kinds[k].name, arr) != 0)
			goto err_after_root;
		for (size_t i = 0; i < st->objects[k].len; i++)
			if (json_array_append(arr, st->objects[k].v[i].obj) != 0)
				goto err_after_root;
	}
	return root;

err_after_root:
	json_decref(root);
	return NULL;
}

int store_state_encode(const struct store_state *st, uint64_t index, uint8_t **out, size_t *len)
{
	json_t *doc = snapshot_document(st, index);
	if (doc == NULL)
		return STORE_E_NOMEM;
	int rc = STORE_E_NOMEM;
	size_t n = json_dumpb(doc, NULL, 0, JSON_COMPACT);
	uint8_t *buf = n > 0 ? malloc(n) : NULL;
	if (buf != NULL && json_dumpb(doc, (char *)buf, n, JSON_COMPACT) == n) {
		*out = buf;
		*len = n;
		buf = NULL;
		rc = 0;
	}
	free(buf);
	json_decref(doc);
	return rc;
}

/* ---- Decode ------------------------------------------------------------------- */

static int check_header(const json_t *root, uint64_t *index, char *err, size_t errlen)
{
	static const char *const fields[] = { "format", "v", "index", "objects", NULL };
	if (!json_is_object(root)) {
		store_errf(err, errlen, "snapshot: not an object");
		return -1;
	}
	if (store_check_fields(root, fields, "snapshot", err, errlen) != 0)
		return -1;
	const char *format = json_string_value(json_object_get(root, "format"));
	if (format == NULL || strcmp(format, SNAPSHOT_FORMAT) != 0) {
		store_errf(err, errlen, "snapshot.format: not \"" SNAPSHOT_FORMAT "\"");
		return -1;
	}
	const json_t *v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != STORE_SNAPSHOT_VERSION) {
		store_errf(err, errlen, "snapshot.v: unsupported version (want %d)",
			   STORE_SNAPSHOT_VERSION);
		return -1;
	}
	const json_t *idx = json_object_get(root, "index");
	if (!json_is_integer(idx) || json_integer_value(idx) < 0) {
		store_errf(err, errlen, "snapshot.index: must be an integer >= 0");
		return -1;
	}
	*index = (uint64_t)json_integer_value(idx);
	if (!json_is_object(json_object_get(root, "objects"))) {
		store_errf(err, errlen, "snapshot.objects: not an object");
		return -1;
	}
	return 0;
}

/* What the store stamps: a version no later than the snapshot, and two times. */
static int check_stamps(const json_t *obj, uint64_t index, const char *where, char *err,
			size_t errlen)
{
	const json_t *v = json_object_get(json_object_get(obj, "Version"), "Index");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    (uint64_t)json_integer_value(v) > index) {
		store_errf(err, errlen, "%s.Version.Index: must be an integer in 1..%" PRIu64,
			   where, index);
		return -1;
	}
	static const char *const times[] = { "CreatedAt", "UpdatedAt" };
	for (size_t i = 0; i < 2; i++) {
		const char *t = json_string_value(json_object_get(obj, times[i]));
		int64_t ns;
		if (t == NULL || store_time_parse(t, &ns) != 0) {
			store_errf(err, errlen, "%s.%s: not an RFC 3339 UTC time", where, times[i]);
			return -1;
		}
	}
	return 0;
}

/* Checks and adds the i-th object of an array of kind. */
static int load_object(struct store_state *st, enum store_kind kind, json_t *obj, size_t i,
		       uint64_t index, char *err, size_t errlen)
{
	char where[48];
	snprintf(where, sizeof(where), "objects.%s[%zu]", store_kinds[kind].name, i);
	if (store_schema_check(kind, obj, where, err, errlen) != 0 ||
	    check_stamps(obj, index, where, err, errlen) != 0)
		return STORE_E_CORRUPT;
	const struct store_table *t = &st->objects[kind];
	if (t->len > 0 && strcmp(t->v[t->len - 1].id, store_obj_id(obj)) >= 0) {
		store_errf(err, errlen, "%s.ID: not after the previous id (duplicate or unsorted)",
			   where);
		return STORE_E_CORRUPT;
	}
	char why[STORE_MSG_MAX];
	if (store_state_check_unique(st, kind, obj, why, sizeof(why)) != 0) {
		store_errf(err, errlen, "%s: %s", where, why);
		return STORE_E_CORRUPT;
	}
	json_incref(obj);
	int rc = store_state_put(st, kind, obj);
	if (rc != 0)
		json_decref(obj);
	return rc;
}

static int load_objects(struct store_state *st, json_t *objects, uint64_t index, char *err,
			size_t errlen)
{
	const char *name;
	json_t *arr;
	json_object_foreach(objects, name, arr) {
		enum store_kind kind;
		if (store_kind_parse(name, &kind) != 0) {
			store_errf(err, errlen, "snapshot.objects.%s: unknown kind", name);
			return STORE_E_CORRUPT;
		}
		if (!json_is_array(arr)) {
			store_errf(err, errlen, "snapshot.objects.%s: not an array", name);
			return STORE_E_CORRUPT;
		}
		for (size_t i = 0; i < json_array_size(arr); i++) {
			int rc = load_object(st, kind, json_array_get(arr, i), i, index, err,
					     errlen);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

int store_state_decode(const uint8_t *in, size_t len, struct store_state *st, uint64_t *index,
		       char *err, size_t errlen)
{
	store_state_init(st);
	json_t *root;
	int rc = store_json_load(in, len, "snapshot", &root, err, errlen);
	if (rc != 0)
		return rc == STORE_E_MALFORMED ? STORE_E_CORRUPT : rc;
	rc = STORE_E_CORRUPT;
	if (check_header(root, index, err, errlen) == 0)
		rc = load_objects(st, json_object_get(root, "objects"), *index, err, errlen);
	if (rc != 0)
		store_state_release(st);
	json_decref(root);
	return rc;
}
