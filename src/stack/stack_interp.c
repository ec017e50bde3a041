/* stack_interp: ${VAR} interpolation (docker/cli's template rules) and KEY=VALUE env files. */
#include "stack_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *stack_env_lookup(const struct stack_env *env, const char *name)
{
	size_t n = strlen(name);
	for (const char *const *e = env->environ; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return env->dotenv ? json_string_value(json_object_get(env->dotenv, name)) : NULL;
}

/* A growing output string. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 64;
		b->s = realloc(b->s, b->cap);
		if (b->s == NULL)
			abort();
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static bool name_start(char c)
{
	return c == '_' || isalpha((unsigned char)c);
}

static bool name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

/* The end of a ${...} that starts at open (the '{'), nested ${} counted;
 * NULL if unterminated. */
static const char *brace_end(const char *open)
{
	int depth = 0;
	for (const char *p = open; *p; p++) {
		if (*p == '$' && p[1] == '{') {
			depth++;
			p++;
		} else if (*p == '{' && p == open) {
			depth++;
		} else if (*p == '}' && --depth == 0) {
			return p;
		}
	}
	return NULL;
}

struct interp {
	const struct stack_env *env;
	size_t limit;      /* bytes the result may still take (STACK_MAX_BYTES overall) */
	struct stack_report *r;
	char *err;
	size_t errlen;
	const char *whole; /* the value being interpolated, for messages */
	unsigned depth;
};

static int interp_string(struct interp *in, const char *s, size_t len, struct sbuf *out);

static int invalid(struct interp *in)
{
	snprintf(in->err, in->errlen, "invalid interpolation format \"%.200s\": you may need to escape any $ with another $",
		 in->whole);
	return -1;
}

static void lookup_plain(struct interp *in, const char *name, struct sbuf *out)
{
	const char *v = stack_env_lookup(in->env, name);
	if (v == NULL)
		stack_warn(in->r, "The \"%s\" variable is not set. Defaulting to a blank string.", name);
	else
		sbuf_add(out, v, strlen(v));
}

/* The inside of ${...}: NAME, NAME:-default, NAME-default, NAME:?msg, NAME?msg. */
static int interp_braced(struct interp *in, const char *s, size_t len, struct sbuf *out)
{
	size_t n = 0;
	if (len == 0 || !name_start(s[0]))
		return invalid(in);
	while (n < len && name_char(s[n]))
		n++;
	char name[256];
	if (n >= sizeof(name))
		return invalid(in);
	memcpy(name, s, n);
	name[n] = '\0';
	if (n == len) {
		lookup_plain(in, name, out);
		return 0;
	}
	bool colon = s[n] == ':';
	size_t op = n + (colon ? 1 : 0);
	if (op >= len || (s[op] != '-' && s[op] != '?'))
		return invalid(in);
	const char *arg = s + op + 1;
	size_t arglen = len - op - 1;
	const char *v = stack_env_lookup(in->env, name);
	bool missing = v == NULL || (colon && *v == '\0');
	if (!missing) {
		sbuf_add(out, v, strlen(v));
		return 0;
	}
	if (s[op] == '-')
		return interp_string(in, arg, arglen, out);
	struct sbuf msg = {0};
	int rc = interp_string(in, arg, arglen, &msg);
	if (rc == 0)
		snprintf(in->err, in->errlen, "required variable %s is missing a value%s%.300s", name,
			 msg.len ? ": " : "", msg.len ? msg.s : "");
	free(msg.s);
	return -1;
}

static int interp_string(struct interp *in, const char *s, size_t len, struct sbuf *out)
{
	if (++in->depth > 16) {
		snprintf(in->err, in->errlen, "interpolation nested too deeply in \"%.200s\"", in->whole);
		return -1;
	}
	sbuf_add(out, "", 0);
	size_t i = 0;
	int rc = 0;
	while (i < len && rc == 0) {
		if (out->len > in->limit) {
			snprintf(in->err, in->errlen, "more than %u MiB of values once variables are expanded",
				 STACK_MAX_BYTES >> 20);
			return -1;
		}
		const char *dollar = memchr(s + i, '$', len - i);
		size_t plain = dollar ? (size_t)(dollar - (s + i)) : len - i;
		sbuf_add(out, s + i, plain);
		i += plain;
		if (i >= len)
			break;
		char next = i + 1 < len ? s[i + 1] : '\0';
		if (next == '$') {
			sbuf_add(out, "$", 1);
			i += 2;
		} else if (name_start(next)) {
			size_t n = 1;
			while (i + 1 + n < len && name_char(s[i + 1 + n]))
				n++;
			char name[256];
			if (n >= sizeof(name))
				return invalid(in);
			memcpy(name, s + i + 1, n);
			name[n] = '\0';
			lookup_plain(in, name, out);
			i += 1 + n;
		} else if (next == '{') {
			const char *end = brace_end(s + i + 1);
			if (end == NULL || end >= s + len)
				return invalid(in);
			rc = interp_braced(in, s + i + 2, (size_t)(end - (s + i + 2)), out);
			i = (size_t)(end - s) + 1;
		} else {
			sbuf_add(out, "$", 1); /* not a substitution: docker keeps it */
			i++;
		}
	}
	in->depth--;
	if (rc == 0 && out->len > in->limit) {
		snprintf(in->err, in->errlen, "more than %u MiB of values once variables are expanded", STACK_MAX_BYTES >> 20);
		return -1;
	}
	return rc;
}

int stack_interpolate_text(const char *text, const struct stack_env *env, struct stack_report *r, char **out,
			   char *err, size_t errlen)
{
	size_t used = r->value_bytes < STACK_MAX_BYTES ? r->value_bytes : STACK_MAX_BYTES;
	struct interp in = {.env = env, .limit = STACK_MAX_BYTES - used, .r = r, .err = err, .errlen = errlen,
			    .whole = text};
	struct sbuf b = {0};
	if (interp_string(&in, text, strlen(text), &b) != 0) {
		free(b.s);
		*out = NULL;
		return -1;
	}
	r->value_bytes += b.len;
	*out = b.s;
	return 0;
}

static int interpolate_node(struct snode *n, const char *path, const struct stack_env *env, struct stack_report *r)
{
	char sub[512], err[512];
	int rc = 0;
	if (n->kind == SNODE_SCALAR) {
		if (strchr(n->text, '$') == NULL)
			return 0;
		char *v;
		if (stack_interpolate_text(n->text, env, r, &v, err, sizeof(err)) != 0) {
			stack_error_at(r, n, path, "%s", err);
			return -1;
		}
		json_t *check = json_string(v);
		if (check == NULL) {
			stack_error_at(r, n, path, "the interpolated value is not valid UTF-8");
			free(v);
			return -1;
		}
		json_decref(check);
		free(n->text);
		n->text = v;
		n->plain = false; /* an interpolated value is a string, never null */
		return 0;
	}
	for (size_t i = 0; i < n->len; i++) {
		if (n->kind == SNODE_SEQ) {
			stack_path_index(sub, sizeof(sub), path, i);
			rc |= interpolate_node(n->items[i], sub, env, r);
			continue;
		}
		const char *key = n->items[2 * i]->text;
		if (strncmp(key, "x-", 2) == 0)
			continue;
		stack_path_key(sub, sizeof(sub), path, key);
		rc |= interpolate_node(n->items[2 * i + 1], sub, env, r);
	}
	return rc;
}

int stack_interpolate(struct snode *root, const struct stack_env *env, struct stack_report *r)
{
	static const char *const sections[] = {"services", "networks"};
	int rc = 0;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		struct snode *s = snode_get(root, sections[i]);
		if (s)
			rc |= interpolate_node(s, sections[i], env, r);
	}
	return rc;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int env_line(const char *line, size_t len, bool quotes, json_t *obj, unsigned lineno, char *err,
		    size_t errlen)
{
	while (len > 0 && is_space(*line)) {
		line++;
		len--;
	}
	if (len == 0 || line[0] == '#')
		return 0;
	const char *eq = memchr(line, '=', len);
	size_t klen = eq ? (size_t)(eq - line) : len;
	while (!eq && klen > 0 && is_space(line[klen - 1]))
		klen--; /* a bare KEY may carry trailing blanks */
	if (klen == 0) {
		snprintf(err, errlen, "line %u: no variable name", lineno);
		return -1;
	}
	for (size_t i = 0; i < klen; i++)
		if (is_space(line[i])) {
			snprintf(err, errlen, "line %u: variable '%.*s' contains whitespaces", lineno, (int)klen, line);
			return -1;
		}
	char *key = stack_xstrndup(line, klen);
	json_t *value = json_null();
	if (eq) {
		const char *v = eq + 1;
		size_t vlen = len - klen - 1;
		if (quotes && vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
			v++;
			vlen -= 2;
		}
		value = json_stringn(v, vlen);
	}
	int rc = 0;
	if (value == NULL || json_object_set_new(obj, key, value) != 0) {
		snprintf(err, errlen, "line %u: invalid UTF-8", lineno);
		rc = -1;
	}
	free(key);
	return rc;
}

int stack_parse_env_lines(const char *text, size_t len, bool quotes, json_t *obj, char *err, size_t errlen)
{
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "contains a NUL byte");
		return -1;
	}
	unsigned lineno = 1;
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		size_t content = n > 0 && text[n - 1] == '\r' ? n - 1 : n;
		if (env_line(text, content, quotes, obj, lineno, err, errlen) != 0)
			return -1;
		text += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
		lineno++;
	}
	return 0;
}
