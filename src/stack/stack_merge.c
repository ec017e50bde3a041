/* stack_merge: list-or-mapping normalization and docker/cli's multi-file merge rules.
 *
 * What a later file does to an earlier one (docker/cli loader/merge.go):
 *  - services are merged by name; a new service is added whole;
 *  - within a service, mappings merge key by key (environment, labels,
 *    deploy.*, networks: list and mapping forms alike, since both are
 *    normalized to mappings first), scalars are replaced (a null does not
 *    replace), command and entrypoint are replaced, ports are the union of
 *    both lists without duplicates, other lists (constraints, env_file,
 *    ...) are appended;
 *  - healthcheck.test and a network's aliases are replaced (docker appends
 *    the test as a side effect of its generic slice rule; a concatenated
 *    command is never what the user meant);
 *  - top-level networks and every other top-level key are replaced per key. */
#include "stack_internal.h"

#include <string.h>

static struct snode *scalar_like(const struct snode *pos, const char *s, size_t n, bool plain)
{
	struct snode *v = snode_new(SNODE_SCALAR, pos);
	v->text = stack_xstrndup(s, n);
	v->plain = plain;
	return v;
}

/* Puts key -> value into map, replacing an earlier value of the same key. */
static void map_set(struct snode *map, struct snode *key, struct snode *value)
{
	long i = snode_index(map, key->text);
	if (i >= 0) {
		snode_free(key);
		snode_free(map->items[2 * i + 1]);
		map->items[2 * i + 1] = value;
		return;
	}
	snode_append(map, key);
	map->items[2 * map->len - 1] = value;
}

/* ["A=1", "B"] -> {A: "1", B: null or ""}, in place of *slot. */
static int list_to_map(struct snode **slot, const char *path, bool bare_is_null, struct stack_report *r)
{
	struct snode *list = *slot;
	if (list->kind != SNODE_SEQ)
		return 0;
	struct snode *map = snode_new(SNODE_MAP, list);
	int rc = 0;
	for (size_t i = 0; i < list->len; i++) {
		const struct snode *item = list->items[i];
		char sub[512], desc[256];
		stack_path_index(sub, sizeof(sub), path, i);
		if (item->kind != SNODE_SCALAR || snode_is_null(item)) {
			snode_describe(item, desc, sizeof(desc));
			stack_error_at(r, item, sub, "expected a \"KEY=VALUE\" string, got %s", desc);
			rc = -1;
			continue;
		}
		const char *eq = strchr(item->text, '=');
		size_t klen = eq ? (size_t)(eq - item->text) : strlen(item->text);
		struct snode *key = scalar_like(item, item->text, klen, false);
		struct snode *value = eq ? scalar_like(item, eq + 1, strlen(eq + 1), false)
					 : scalar_like(item, "", 0, bare_is_null);
		map_set(map, key, value);
	}
	snode_free(list);
	*slot = map;
	return rc;
}

static struct snode **slot_of(struct snode *map, const char *key)
{
	long i = snode_index(map, key);
	return i < 0 ? NULL : &map->items[2 * i + 1];
}

static int normalize_service(struct snode *svc, const char *path, struct stack_report *r)
{
	char sub[512];
	int rc = 0;
	struct snode **s;
	if ((s = slot_of(svc, "environment"))) {
		stack_path_key(sub, sizeof(sub), path, "environment");
		rc |= list_to_map(s, sub, true, r);
	}
	if ((s = slot_of(svc, "labels"))) {
		stack_path_key(sub, sizeof(sub), path, "labels");
		rc |= list_to_map(s, sub, false, r);
	}
	struct snode *deploy = snode_get(svc, "deploy");
	if (deploy && (s = slot_of(deploy, "labels"))) {
		stack_path_key(sub, sizeof(sub), path, "deploy.labels");
		rc |= list_to_map(s, sub, false, r);
	}
	if ((s = slot_of(svc, "networks")) && (*s)->kind == SNODE_SEQ) {
		struct snode *list = *s, *map = snode_new(SNODE_MAP, list);
		for (size_t i = 0; i < list->len; i++) {
			struct snode *item = list->items[i];
			stack_path_index(sub, sizeof(sub), path, i);
			if (item->kind != SNODE_SCALAR || snode_is_null(item)) {
				char desc[256];
				snode_describe(item, desc, sizeof(desc));
				stack_error_at(r, item, sub, "expected a network name, got %s", desc);
				rc = -1;
				continue;
			}
			map_set(map, scalar_like(item, item->text, strlen(item->text), false),
				scalar_like(item, "", 0, true));
		}
		snode_free(list);
		*s = map;
	}
	return rc;
}

int stack_normalize(struct snode *root, struct stack_report *r)
{
	struct snode *services = snode_get(root, "services");
	int rc = 0;
	if (services == NULL || services->kind != SNODE_MAP)
		return 0;
	for (size_t i = 0; i < services->len; i++) {
		struct snode *svc = services->items[2 * i + 1];
		char path[512];
		stack_path_key(path, sizeof(path), "services", services->items[2 * i]->text);
		if (svc->kind == SNODE_MAP)
			rc |= normalize_service(svc, path, r);
	}
	return rc;
}

static bool snode_equal(const struct snode *a, const struct snode *b)
{
	if (a->kind != b->kind || a->len != b->len)
		return false;
	if (a->kind == SNODE_SCALAR)
		return strcmp(a->text, b->text) == 0;
	size_t count = a->kind == SNODE_MAP ? 2 * a->len : a->len;
	for (size_t i = 0; i < count; i++)
		if (!snode_equal(a->items[i], b->items[i]))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Lists a later file replaces instead of extending (paths within a service). */
static bool replaced_list(const char *path)
{
	return strcmp(path, "command") == 0 || strcmp(path, "entrypoint") == 0 ||
	       strcmp(path, "healthcheck.test") == 0 || (strncmp(path, "networks.", 9) == 0 && ends_with(path, ".aliases"));
}

/* Moves the items of over into base: appended, or (ports) only those base lacks. */
static void merge_list(struct snode *base, struct snode *over, bool unique)
{
	for (size_t i = 0; i < over->len; i++) {
		bool seen = false;
		for (size_t j = 0; unique && j < base->len && !seen; j++)
			seen = snode_equal(base->items[j], over->items[i]);
		if (seen) {
			snode_free(over->items[i]);
		} else {
			snode_append(base, over->items[i]);
		}
		over->items[i] = NULL;
	}
}

/* What to do with a key both files have: merge over into *slot (both
 * owned; over is consumed). path names the slot, relative to the service. */
typedef void (*merge_fn)(struct snode **slot, struct snode *over, const char *path);

/* Moves over's entries into base, keys base lacks appended, the others
 * given to merge; consumes over. */
static void merge_map(struct snode *base, struct snode *over, const char *path, merge_fn merge)
{
	for (size_t i = 0; i < over->len; i++) {
		struct snode *key = over->items[2 * i], *value = over->items[2 * i + 1];
		struct snode **target = slot_of(base, key->text);
		over->items[2 * i] = over->items[2 * i + 1] = NULL;
		if (target == NULL) {
			snode_append(base, key);
			base->items[2 * base->len - 1] = value;
			continue;
		}
		char sub[512];
		stack_path_key(sub, sizeof(sub), path, key->text);
		merge(target, value, sub);
		snode_free(key);
	}
	snode_free(over);
}

static void replace_value(struct snode **slot, struct snode *over, const char *path)
{
	snode_free(*slot);
	*slot = over;
}

/* The service rules, within one service. */
static void merge_value(struct snode **slot, struct snode *over, const char *path)
{
	struct snode *base = *slot;
	if (snode_is_null(over)) {
		snode_free(over);
	} else if (base->kind == SNODE_MAP && over->kind == SNODE_MAP) {
		merge_map(base, over, path, merge_value);
	} else if (base->kind == SNODE_SEQ && over->kind == SNODE_SEQ && !replaced_list(path)) {
		merge_list(base, over, strcmp(path, "ports") == 0);
		snode_free(over);
	} else {
		replace_value(slot, over, path);
	}
}

/* A service both files define: merged from its top (paths relative to it). */
static void merge_service(struct snode **slot, struct snode *over, const char *path)
{
	merge_value(slot, over, "");
}

/* services: merged by name; networks: each replaced whole; the rest replaced. */
static void merge_top(struct snode **slot, struct snode *over, const char *key)
{
	bool services = strcmp(key, "services") == 0;
	if ((services || strcmp(key, "networks") == 0) && (*slot)->kind == SNODE_MAP && over->kind == SNODE_MAP)
		merge_map(*slot, over, "", services ? merge_service : replace_value);
	else
		replace_value(slot, over, key);
}

void stack_merge(struct snode *base, struct snode *over)
{
	merge_map(base, over, "", merge_top);
}
