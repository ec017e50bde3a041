/* store_schema: the kinds, their indexed fields and the checks an object must pass before it is stored. */
#include <stdio.h>
#include <string.h>

#include "swarmnode/ids.h"
#include "swarmnode/removed_nodes.h"
#include "store_internal.h"

const struct store_kind_desc store_kinds[STORE_KIND_COUNT] = {
	[STORE_KIND_CLUSTER] = { "cluster", true, STORE_INDEX_CLUSTER_NAME },
	[STORE_KIND_NODE] = { "node", false, STORE_INDEX_NODE_HOSTNAME },
	[STORE_KIND_SERVICE] = { "service", false, STORE_INDEX_SERVICE_NAME },
	[STORE_KIND_TASK] = { "task", false, -1 },
	[STORE_KIND_NETWORK] = { "network", false, STORE_INDEX_NETWORK_NAME },
};

/* Names fold case because swarmkit indexes them lower-cased: "Web" and "web"
 * cannot both exist. */
const struct store_index_desc store_indexes[STORE_INDEX_COUNT] = {
	[STORE_INDEX_CLUSTER_NAME] = { STORE_KIND_CLUSTER, { "Spec", "Name", NULL },
				       STORE_FIELD_NAME, true, true },
	[STORE_INDEX_NODE_HOSTNAME] = { STORE_KIND_NODE, { "Description", "Hostname", NULL },
					STORE_FIELD_TEXT, false, true },
	[STORE_INDEX_SERVICE_NAME] = { STORE_KIND_SERVICE, { "Spec", "Name", NULL },
				       STORE_FIELD_NAME, true, true },
	[STORE_INDEX_TASK_SERVICE] = { STORE_KIND_TASK, { "ServiceID", NULL, NULL },
				       STORE_FIELD_REF, false, false },
	[STORE_INDEX_TASK_NODE] = { STORE_KIND_TASK, { "NodeID", NULL, NULL }, STORE_FIELD_REF,
				    false, false },
	[STORE_INDEX_NETWORK_NAME] = { STORE_KIND_NETWORK, { "Spec", "Name", NULL },
				       STORE_FIELD_NAME, true, true },
};

const char *store_strerror(int err)
{
	switch (err) {
	case STORE_OK:
		return "success";
#define STORE_ERR_CASE(name, val, msg) \
	case STORE_E_##name:           \
		return msg;
		STORE_ERRNO_MAP(STORE_ERR_CASE)
#undef STORE_ERR_CASE
	}
	return "unknown error";
}

const char *store_kind_name(enum store_kind kind)
{
	if ((unsigned)kind >= STORE_KIND_COUNT)
		return NULL;
	return store_kinds[kind].name;
}

int store_kind_parse(const char *name, enum store_kind *kind)
{
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		if (strcmp(store_kinds[k].name, name) == 0) {
			*kind = (enum store_kind)k;
			return 0;
		}
	}
	return STORE_E_INVALID;
}

void store_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool field_allowed(const char *const *fields, const char *key)
{
	for (size_t i = 0; fields[i] != NULL; i++)
		if (strcmp(fields[i], key) == 0)
			return true;
	return false;
}

int store_check_fields(const json_t *obj, const char *const *fields, const char *where,
		       char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		if (!field_allowed(fields, key)) {
			store_errf(err, errlen, "%s.%s: unknown field", where, key);
			return -1;
		}
	}
	for (size_t i = 0; fields[i] != NULL; i++) {
		if (json_object_get(obj, fields[i]) == NULL) {
			store_errf(err, errlen, "%s.%s: missing", where, fields[i]);
			return -1;
		}
	}
	return 0;
}

/* Whether two failed parses of the same bytes failed the same way. */
static bool same_failure(const json_error_t *a, const json_error_t *b)
{
	return json_error_code(a) == json_error_code(b) && a->position == b->position &&
	       strcmp(a->text, b->text) == 0;
}

int store_json_load(const uint8_t *in, size_t len, const char *what, json_t **out, char *err,
		    size_t errlen)
{
	json_error_t first, again;
	*out = json_loadb((const char *)in, len, JSON_REJECT_DUPLICATES, &first);
	if (*out != NULL)
		return 0;
	if (json_error_code(&first) == json_error_out_of_memory || first.text[0] == '\0')
		return STORE_E_NOMEM;
	/* jansson's lexer reports running out of memory as a syntax error. Only
	 * a failure that repeats exactly is the input's fault. */
	*out = json_loadb((const char *)in, len, JSON_REJECT_DUPLICATES, &again);
	if (*out != NULL) {
		json_decref(*out);
		*out = NULL;
		return STORE_E_NOMEM;
	}
	if (!same_failure(&first, &again))
		return STORE_E_NOMEM;
	store_errf(err, errlen, "%s: not JSON: %s at byte %d", what, first.text, first.position);
	return STORE_E_MALFORMED;
}

const char *store_obj_id(const json_t *obj)
{
	return json_string_value(json_object_get(obj, "ID"));
}

/* The leaf of an index's path, or NULL when a level is missing; sets *bad to
 * the first level that exists but is not an object. */
static const json_t *index_leaf(const struct store_index_desc *d, const json_t *obj,
				const char **bad)
{
	const json_t *cur = obj;
	*bad = NULL;
	for (size_t i = 0; d->path[i] != NULL; i++) {
		if (i > 0 && !json_is_object(cur)) {
			*bad = d->path[i - 1];
			return NULL;
		}
		cur = json_object_get(cur, d->path[i]);
		if (cur == NULL)
			return NULL;
	}
	return cur;
}

/* "Spec.Name" for the messages. */
static void index_label(const struct store_index_desc *d, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", d->path[0], d->path[1] ? "." : "",
		 d->path[1] ? d->path[1] : "");
}

static int check_field(const struct store_index_desc *d, const json_t *obj, const char *where,
		       char *err, size_t errlen)
{
	char label[64];
	index_label(d, label, sizeof(label));
	const char *bad;
	const json_t *v = index_leaf(d, obj, &bad);
	if (bad != NULL) {
		store_errf(err, errlen, "%s.%s: not an object", where, bad);
		return -1;
	}
	if (v == NULL) {
		if (d->rule != STORE_FIELD_NAME)
			return 0;
		store_errf(err, errlen, "%s.%s: missing", where, label);
		return -1;
	}
	const char *s = json_string_value(v);
	if (s == NULL || (d->rule == STORE_FIELD_NAME && s[0] == '\0')) {
		store_errf(err, errlen, "%s.%s: %s", where, label,
			   d->rule == STORE_FIELD_NAME ? "must be a non-empty string"
						       : "must be a string");
		return -1;
	}
	if (d->rule == STORE_FIELD_REF && s[0] != '\0' && !ids_valid(s)) {
		store_errf(err, errlen, "%s.%s: not an object id", where, label);
		return -1;
	}
	return 0;
}

int store_schema_check(enum store_kind kind, const json_t *obj, const char *where, char *err,
		       size_t errlen)
{
	if (!json_is_object(obj)) {
		store_errf(err, errlen, "%s: not an object", where);
		return -1;
	}
	const json_t *id = json_object_get(obj, "ID");
	if (id == NULL) {
		store_errf(err, errlen, "%s.ID: missing", where);
		return -1;
	}
	if (!json_is_string(id) || !ids_valid(json_string_value(id))) {
		store_errf(err, errlen, "%s.ID: not an object id", where);
		return -1;
	}
	for (int i = 0; i < STORE_INDEX_COUNT; i++) {
		if (store_indexes[i].kind == kind &&
		    check_field(&store_indexes[i], obj, where, err, errlen) != 0)
			return -1;
	}
	/* Every manager refuses the identities listed there: a list some managers
	 * read differently from others would let a removed node back in. */
	if (kind == STORE_KIND_CLUSTER && removed_nodes_check(obj, where, err, errlen) != 0)
		return -1;
	return 0;
}

const char *store_index_key(enum store_index index, const json_t *obj)
{
	const char *bad;
	const char *s = json_string_value(index_leaf(&store_indexes[index], obj, &bad));
	return (s == NULL || s[0] == '\0') ? NULL : s;
}
