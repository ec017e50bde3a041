/* stack_read: typed reads of YAML nodes with "expected X, got Y" errors, and the key walker. */
#include "stack_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/stack_units.h"

int stack_expected(struct stack_walk *w, const struct snode *n, const char *path, const char *what)
{
	char desc[256];
	snode_describe(n, desc, sizeof(desc));
	stack_error_at(w->r, n, path, "expected %s, got %s", what, desc);
	return -1;
}

int stack_walk_map(struct stack_walk *w, const struct snode *map, const char *path,
		   const struct stack_key_rule *rules, stack_unknown_fn unknown, void *target)
{
	if (map->kind != SNODE_MAP)
		return stack_expected(w, map, path, "a mapping");
	int rc = 0;
	for (size_t i = 0; i < map->len; i++) {
		const struct snode *key = map->items[2 * i];
		if (strncmp(key->text, "x-", 2) == 0)
			continue;
		const struct stack_key_rule *rule = rules;
		while (rule->key && strcmp(rule->key, key->text) != 0)
			rule++;
		char sub[512];
		stack_path_key(sub, sizeof(sub), path, key->text);
		if (rule->key == NULL) {
			if (unknown)
				rc |= unknown(w, key, path);
			else {
				stack_error_at(w->r, key, path, "unknown key \"%s\"", key->text);
				rc = -1;
			}
			continue;
		}
		if (rule->fn && rule->fn(w, map->items[2 * i + 1], sub, target) != 0)
			rc = -1;
	}
	return rc;
}

int stack_read_string(struct stack_walk *w, const struct snode *n, const char *path, const char **out)
{
	if (n->kind != SNODE_SCALAR || snode_is_null(n))
		return stack_expected(w, n, path, "a string");
	*out = n->text;
	return 0;
}

int stack_read_int(struct stack_walk *w, const struct snode *n, const char *path, int64_t min, int64_t max,
		   int64_t *out)
{
	if (n->kind != SNODE_SCALAR || snode_is_null(n))
		return stack_expected(w, n, path, "an integer");
	const char *t = n->text;
	char *end;
	errno = 0;
	long long v = strtoll(t, &end, 10);
	if (t[0] == '\0' || *end != '\0' || t[0] == ' ' || t[0] == '\t')
		return stack_expected(w, n, path, "an integer");
	if (errno == ERANGE || v < min || v > max) {
		stack_error_at(w->r, n, path, "%s is out of range (%lld to %lld)", t, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int stack_read_bool(struct stack_walk *w, const struct snode *n, const char *path, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
	if (n->kind == SNODE_SCALAR) {
		for (size_t i = 0; yes[i]; i++) {
			if (strcmp(n->text, yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcmp(n->text, no[i]) == 0) {
				*out = false;
				return 0;
			}
		}
	}
	return stack_expected(w, n, path, "a boolean");
}

int stack_read_float(struct stack_walk *w, const struct snode *n, const char *path, double min, double max,
		     double *out)
{
	if (n->kind != SNODE_SCALAR || snode_is_null(n))
		return stack_expected(w, n, path, "a number");
	char *end;
	double v = strtod(n->text, &end);
	if (n->text[0] == '\0' || *end != '\0' || !isfinite(v))
		return stack_expected(w, n, path, "a number");
	if (v < min || v > max) {
		stack_error_at(w->r, n, path, "%s is out of range (%g to %g)", n->text, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int stack_read_duration(struct stack_walk *w, const struct snode *n, const char *path, int64_t *ns)
{
	char err[256];
	if (n->kind != SNODE_SCALAR || snode_is_null(n))
		return stack_expected(w, n, path, "a duration such as \"10s\" or \"1m30s\"");
	if (stack_parse_duration(n->text, ns, err, sizeof(err)) != 0) {
		stack_error_at(w->r, n, path, "%s", err);
		return -1;
	}
	return 0;
}

int stack_read_bytes(struct stack_walk *w, const struct snode *n, const char *path, int64_t *bytes)
{
	char err[256];
	if (n->kind != SNODE_SCALAR || snode_is_null(n))
		return stack_expected(w, n, path, "a size such as \"512M\" or \"1gb\"");
	if (stack_parse_bytes(n->text, bytes, err, sizeof(err)) != 0) {
		stack_error_at(w->r, n, path, "%s", err);
		return -1;
	}
	return 0;
}

int stack_read_string_list(struct stack_walk *w, const struct snode *n, const char *path, json_t *arr)
{
	if (n->kind != SNODE_SEQ)
		return stack_expected(w, n, path, "a list of strings");
	int rc = 0;
	for (size_t i = 0; i < n->len; i++) {
		char sub[512];
		const char *s;
		stack_path_index(sub, sizeof(sub), path, i);
		if (stack_read_string(w, n->items[i], sub, &s) != 0)
			rc = -1;
		else
			json_array_append_new(arr, json_string(s));
	}
	return rc;
}

int stack_read_command(struct stack_walk *w, const struct snode *n, const char *path, json_t *arr)
{
	if (n->kind == SNODE_SEQ)
		return stack_read_string_list(w, n, path, arr);
	if (n->kind != SNODE_SCALAR || snode_is_null(n))
		return stack_expected(w, n, path, "a string or a list of strings");
	char err[256];
	if (stack_split_command(n->text, arr, err, sizeof(err)) != 0) {
		stack_error_at(w->r, n, path, "%s", err);
		return -1;
	}
	return 0;
}

int stack_read_string_map(struct stack_walk *w, const struct snode *n, const char *path, bool null_as_json_null,
			  json_t *obj)
{
	if (n->kind != SNODE_MAP)
		return stack_expected(w, n, path, "a mapping or a list of \"KEY=VALUE\" strings");
	int rc = 0;
	for (size_t i = 0; i < n->len; i++) {
		const struct snode *key = n->items[2 * i], *value = n->items[2 * i + 1];
		char sub[512];
		stack_path_key(sub, sizeof(sub), path, key->text);
		if (value->kind != SNODE_SCALAR) {
			rc = stack_expected(w, value, sub, "a string, a number or null");
			continue;
		}
		bool null = snode_is_null(value);
		json_object_set_new(obj, key->text,
				    null && null_as_json_null ? json_null() : json_string(null ? "" : value->text));
	}
	return rc;
}

int stack_read_choice(struct stack_walk *w, const struct snode *n, const char *path, const char *const *choices,
		      const char **out)
{
	const char *s;
	if (stack_read_string(w, n, path, &s) != 0)
		return -1;
	char list[256] = "";
	for (size_t i = 0; choices[i]; i++) {
		if (strcmp(s, choices[i]) == 0) {
			*out = choices[i];
			return 0;
		}
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", choices[i]);
	}
	stack_error_at(w->r, n, path, "invalid value \"%.200s\" (expected one of: %s)", s, list);
	return -1;
}
