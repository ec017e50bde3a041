/* stack_tree: libyaml documents -> snode trees with positions, aliases and
 * merge keys (<<) expanded, under a node budget and a depth limit. */
#include "stack_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

void *stack_xalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

char *stack_xstrndup(const char *s, size_t n)
{
	char *p = stack_xalloc(n + 1);
	memcpy(p, s, n);
	return p;
}

char *stack_xstrdup(const char *s)
{
	return stack_xstrndup(s, strlen(s));
}

struct snode *snode_new(enum snode_kind kind, const struct snode *pos)
{
	struct snode *n = stack_xalloc(sizeof(*n));
	n->kind = kind;
	if (pos) {
		n->file = pos->file;
		n->line = pos->line;
		n->col = pos->col;
	}
	return n;
}

void snode_free(struct snode *n)
{
	if (n == NULL)
		return;
	size_t count = n->kind == SNODE_MAP ? 2 * n->len : n->len;
	for (size_t i = 0; i < count; i++)
		snode_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

static void snode_push(struct snode *parent, struct snode *item)
{
	size_t count = parent->kind == SNODE_MAP ? 2 * parent->len : parent->len;
	if (count + 2 > parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->items = realloc(parent->items, parent->cap * sizeof(*parent->items));
		if (parent->items == NULL)
			abort();
	}
	parent->items[count] = item;
}

void snode_append(struct snode *parent, struct snode *item)
{
	snode_push(parent, item);
	parent->len++;
}

static void snode_map_put(struct snode *map, struct snode *key, struct snode *value)
{
	snode_push(map, key);
	map->items[2 * map->len + 1] = value;
	map->len++;
}

long snode_index(const struct snode *map, const char *key)
{
	if (map == NULL || map->kind != SNODE_MAP)
		return -1;
	for (size_t i = 0; i < map->len; i++)
		if (strcmp(map->items[2 * i]->text, key) == 0)
			return (long)i;
	return -1;
}

struct snode *snode_get(const struct snode *map, const char *key)
{
	long i = snode_index(map, key);
	return i < 0 ? NULL : map->items[2 * i + 1];
}

bool snode_is_null(const struct snode *n)
{
	if (n->kind != SNODE_SCALAR || !n->plain)
		return false;
	const char *t = n->text;
	return t[0] == '\0' || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 ||
	       strcmp(t, "NULL") == 0;
}

void snode_describe(const struct snode *n, char *out, size_t len)
{
	if (n->kind == SNODE_MAP)
		snprintf(out, len, "a mapping");
	else if (n->kind == SNODE_SEQ)
		snprintf(out, len, "a list");
	else if (snode_is_null(n))
		snprintf(out, len, "null");
	else
		snprintf(out, len, "\"%.200s\"", n->text);
}

void stack_path_key(char *out, size_t len, const char *path, const char *key)
{
	snprintf(out, len, "%s%s%s", path, *path ? "." : "", key);
}

void stack_path_index(char *out, size_t len, const char *path, size_t index)
{
	snprintf(out, len, "%s[%zu]", path, index);
}

/* ---- diagnostics ---- */

static void report_line(struct stack_report *r, const char *line)
{
	r->errors++;
	struct stack_diag *d = r->diag;
	if (d == NULL)
		return;
	size_t old = d->messages ? strlen(d->messages) : 0, add = strlen(line);
	char *m = realloc(d->messages, old + add + 2);
	if (m == NULL)
		abort();
	memcpy(m + old, line, add);
	m[old + add] = '\n';
	m[old + add + 1] = '\0';
	d->messages = m;
	d->count++;
}

void stack_error_at(struct stack_report *r, const struct snode *n, const char *path, const char *fmt, ...)
{
	char msg[768], line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s:%u:%u: %s%s%s", n->file, n->line, n->col, path ? path : "",
		 path && *path ? ": " : "", msg);
	report_line(r, line);
}

void stack_error_file(struct stack_report *r, const char *file, const char *fmt, ...)
{
	char msg[768], line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s: %s", file, msg);
	report_line(r, line);
}

void stack_warn(struct stack_report *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_object_get(r->warned, msg))
		return; /* once is enough: docker repeats, but nobody reads it twice */
	json_object_set_new(r->warned, msg, json_true());
	json_array_append_new(r->warnings, json_string(msg));
}

/* ---- libyaml document -> snode ---- */

struct builder {
	yaml_document_t *doc;
	const char *file;
	struct stack_report *r;
	size_t nodes; /* created so far, against STACK_MAX_NODES */
};

static struct snode *build(struct builder *b, yaml_node_t *yn, unsigned depth);

static struct snode *build_at(struct builder *b, const yaml_node_t *yn, enum snode_kind kind)
{
	struct snode *n = stack_xalloc(sizeof(*n));
	n->kind = kind;
	n->file = b->file;
	n->line = (unsigned)yn->start_mark.line + 1;
	n->col = (unsigned)yn->start_mark.column + 1;
	return n;
}

static struct snode *build_scalar(struct builder *b, yaml_node_t *yn)
{
	struct snode *n = build_at(b, yn, SNODE_SCALAR);
	const char *v = (const char *)yn->data.scalar.value;
	size_t len = yn->data.scalar.length;
	if (memchr(v, '\0', len)) {
		stack_error_at(b->r, n, NULL, "a NUL character is not allowed in a value");
		snode_free(n);
		return NULL;
	}
	b->r->value_bytes += len;
	if (b->r->value_bytes > STACK_MAX_BYTES) {
		stack_error_at(b->r, n, NULL, "more than %u MiB of values once aliases are expanded", STACK_MAX_BYTES >> 20);
		snode_free(n);
		return NULL;
	}
	n->text = stack_xstrndup(v, len);
	n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return n;
}

static struct snode *build_seq(struct builder *b, yaml_node_t *yn, unsigned depth)
{
	struct snode *n = build_at(b, yn, SNODE_SEQ);
	if (yn->data.sequence.items.top - yn->data.sequence.items.start > (ptrdiff_t)STACK_MAX_ENTRIES) {
		stack_error_at(b->r, n, NULL, "more than %u entries in one list", STACK_MAX_ENTRIES);
		snode_free(n);
		return NULL;
	}
	for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++) {
		struct snode *item = build(b, yaml_document_get_node(b->doc, *it), depth + 1);
		if (item == NULL) {
			snode_free(n);
			return NULL;
		}
		snode_append(n, item);
	}
	return n;
}

/* Adds the keys of a merge source (a mapping, or a list of mappings) that
 * map lacks: explicit keys win over merged ones, earlier sources over later. */
static int merge_into(struct builder *b, struct snode *map, struct snode *src)
{
	if (src->kind == SNODE_SEQ) {
		for (size_t i = 0; i < src->len; i++)
			if (src->items[i]->kind != SNODE_MAP || merge_into(b, map, src->items[i]) != 0)
				goto bad;
		return 0;
	}
	if (src->kind != SNODE_MAP)
		goto bad;
	for (size_t i = 0; i < src->len; i++) {
		if (snode_index(map, src->items[2 * i]->text) >= 0)
			continue;
		if (map->len >= STACK_MAX_ENTRIES) {
			stack_error_at(b->r, src, NULL, "more than %u entries in one mapping", STACK_MAX_ENTRIES);
			return -1;
		}
		snode_map_put(map, src->items[2 * i], src->items[2 * i + 1]);
		src->items[2 * i] = src->items[2 * i + 1] = NULL;
	}
	return 0;
bad:
	stack_error_at(b->r, src, NULL, "a merge key (<<) needs a mapping or a list of mappings");
	return -1;
}

static int build_pair(struct builder *b, struct snode *map, struct snode *merges, yaml_node_pair_t *pair,
		      unsigned depth)
{
	yaml_node_t *yk = yaml_document_get_node(b->doc, pair->key);
	struct snode *key = build(b, yk, depth + 1);
	if (key == NULL)
		return -1;
	if (key->kind != SNODE_SCALAR) {
		stack_error_at(b->r, key, NULL, "a mapping key must be a string, not %s",
			       key->kind == SNODE_MAP ? "a mapping" : "a list");
		snode_free(key);
		return -1;
	}
	struct snode *value = build(b, yaml_document_get_node(b->doc, pair->value), depth + 1);
	if (value == NULL) {
		snode_free(key);
		return -1;
	}
	if (key->plain && strcmp(key->text, "<<") == 0) {
		snode_append(merges, value);
		snode_free(key);
		return 0;
	}
	long dup = snode_index(map, key->text);
	if (dup >= 0) {
		stack_error_at(b->r, key, NULL, "mapping key \"%s\" already defined at line %u", key->text,
			       map->items[2 * dup]->line);
		snode_free(key);
		snode_free(value);
		return -1;
	}
	snode_map_put(map, key, value);
	return 0;
}

static struct snode *build_map(struct builder *b, yaml_node_t *yn, unsigned depth)
{
	struct snode *n = build_at(b, yn, SNODE_MAP);
	struct snode *merges = build_at(b, yn, SNODE_SEQ);
	int rc = 0;
	if (yn->data.mapping.pairs.top - yn->data.mapping.pairs.start > (ptrdiff_t)STACK_MAX_ENTRIES) {
		stack_error_at(b->r, n, NULL, "more than %u entries in one mapping", STACK_MAX_ENTRIES);
		rc = -1;
	}
	for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top && rc == 0; p++)
		rc = build_pair(b, n, merges, p, depth);
	for (size_t i = 0; i < merges->len && rc == 0; i++)
		rc = merge_into(b, n, merges->items[i]);
	snode_free(merges);
	if (rc != 0) {
		snode_free(n);
		return NULL;
	}
	return n;
}

static struct snode *build(struct builder *b, yaml_node_t *yn, unsigned depth)
{
	if (depth > STACK_MAX_DEPTH || ++b->nodes > STACK_MAX_NODES) {
		struct snode at = {.file = b->file, .line = (unsigned)yn->start_mark.line + 1,
				   .col = (unsigned)yn->start_mark.column + 1};
		stack_error_at(b->r, &at, NULL, depth > STACK_MAX_DEPTH
			? "nested more than %u levels deep" : "more than %u values once aliases are expanded",
			depth > STACK_MAX_DEPTH ? STACK_MAX_DEPTH : STACK_MAX_NODES);
		return NULL;
	}
	switch (yn->type) {
	case YAML_SCALAR_NODE:
		return build_scalar(b, yn);
	case YAML_SEQUENCE_NODE:
		return build_seq(b, yn, depth);
	case YAML_MAPPING_NODE:
		return build_map(b, yn, depth);
	default:
		break;
	}
	struct snode at = {.file = b->file, .line = (unsigned)yn->start_mark.line + 1,
			   .col = (unsigned)yn->start_mark.column + 1};
	stack_error_at(b->r, &at, NULL, "unexpected YAML node");
	return NULL;
}

/* libyaml's reader errors carry a byte offset instead of a mark. */
static void offset_position(const char *data, size_t len, size_t offset, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static void report_yaml_error(const yaml_parser_t *p, const char *file, const char *data, size_t len,
			      struct stack_report *r)
{
	struct snode at = {.file = file};
	if (p->error == YAML_READER_ERROR) {
		offset_position(data, len, p->problem_offset, &at.line, &at.col);
		stack_error_at(r, &at, NULL, "%s", p->problem ? p->problem : "invalid input");
		return;
	}
	if (p->error == YAML_MEMORY_ERROR)
		abort();
	at.line = (unsigned)p->problem_mark.line + 1;
	at.col = (unsigned)p->problem_mark.column + 1;
	if (p->context)
		stack_error_at(r, &at, NULL, "%s (%s at line %u, column %u)", p->problem ? p->problem : "syntax error",
			       p->context, (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
	else
		stack_error_at(r, &at, NULL, "%s", p->problem ? p->problem : "syntax error");
}

static int load_document(yaml_parser_t *parser, yaml_document_t *doc, const char *file, const char *data,
			 size_t len, struct stack_report *r)
{
	if (!yaml_parser_load(parser, doc)) {
		report_yaml_error(parser, file, data, len, r);
		return -1;
	}
	return 0;
}

int snode_parse(const char *file, const char *data, size_t len, struct snode **out, struct stack_report *r)
{
	yaml_parser_t parser;
	yaml_document_t doc, next;
	int rc = -1;
	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (load_document(&parser, &doc, file, data, len, r) != 0)
		goto out_parser;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		struct snode at = {.file = file, .line = root ? (unsigned)root->start_mark.line + 1 : 1,
				   .col = root ? (unsigned)root->start_mark.column + 1 : 1};
		stack_error_at(r, &at, NULL, "the top-level object must be a mapping");
		goto out_doc;
	}
	if (load_document(&parser, &next, file, data, len, r) != 0)
		goto out_doc;
	yaml_node_t *extra = yaml_document_get_root_node(&next);
	if (extra) {
		struct snode at = {.file = file, .line = (unsigned)extra->start_mark.line + 1,
				   .col = (unsigned)extra->start_mark.column + 1};
		stack_error_at(r, &at, NULL, "a stack file holds one YAML document, this is a second one");
	} else {
		struct builder b = {.doc = &doc, .file = file, .r = r};
		*out = build(&b, root, 0);
		rc = *out ? 0 : -1;
	}
	yaml_document_delete(&next);
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return rc;
}
