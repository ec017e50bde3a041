/* stack: stack_load (read, interpolate, merge, convert) and the loaded stack's accessors. */
#include "stack_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct stack {
	char *name;                /* the stack's name */
	json_t *services;          /* array of ServiceSpec */
	json_t *networks;          /* array of network create requests */
	json_t *external_networks; /* array of names */
	json_t *ignored;           /* array of option names */
	json_t *warnings;          /* array of lines */
};

int stack_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	int rc = 0;
	*data = NULL;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return -EINVAL;
	}
	char *buf = stack_xalloc(STACK_MAX_FILE_BYTES + 2);
	size_t n = 0;
	for (;;) {
		ssize_t got = read(fd, buf + n, STACK_MAX_FILE_BYTES + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s", strerror(errno));
			break;
		}
		n += (size_t)got;
		if (got == 0 || n > STACK_MAX_FILE_BYTES)
			break;
	}
	close(fd);
	if (rc == 0 && n > STACK_MAX_FILE_BYTES) {
		snprintf(err, errlen, "larger than %u MiB", STACK_MAX_FILE_BYTES >> 20);
		rc = -EINVAL;
	}
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*data = buf;
	*len = n;
	return 0;
}

/* The bytes of one source: its data, or the file read whole (*owned set). */
static int source_bytes(const struct stack_source *src, const char **data, size_t *len, char **owned,
			struct stack_report *r)
{
	char err[256];
	*owned = NULL;
	if (src->data) {
		*data = src->data;
		*len = src->len;
		return 0;
	}
	int rc = stack_read_file(src->path, owned, len, err, sizeof(err));
	if (rc != 0) {
		stack_error_file(r, src->path, "%s", err);
		return rc == -ENOENT ? -ENOENT : rc == -EINVAL ? -EINVAL : -EIO;
	}
	*data = *owned;
	return 0;
}

static void dir_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

/* The variables of WORKDIR/.env, if there is one. */
static int load_dotenv(const char *workdir, json_t *vars, struct stack_report *r)
{
	char path[4200], err[256];
	snprintf(path, sizeof(path), "%s/.env", workdir);
	char *data;
	size_t len;
	int rc = stack_read_file(path, &data, &len, err, sizeof(err));
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0; /* .env is optional */
	if (rc != 0) {
		stack_error_file(r, path, "%s", err);
		return rc == -EINVAL ? -EINVAL : -EIO;
	}
	if (stack_parse_env_lines(data, len, true, vars, err, sizeof(err)) != 0) {
		stack_error_file(r, path, "%s", err);
		rc = -EINVAL;
	}
	free(data);
	return rc;
}

/* Reads, interpolates and normalizes one file into *tree. */
static int load_tree(const struct stack_source *src, const struct stack_env *env, struct snode **tree,
		     struct stack_report *r)
{
	const char *data;
	size_t len;
	char *owned;
	int rc = source_bytes(src, &data, &len, &owned, r);
	if (rc != 0)
		return rc;
	if (snode_parse(src->path, data, len, tree, r) != 0 || stack_interpolate(*tree, env, r) != 0 ||
	    stack_normalize(*tree, r) != 0)
		rc = -EINVAL;
	free(owned);
	return rc;
}

static bool valid_stack_name(const char *s)
{
	if (!isalnum((unsigned char)s[0]) || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* Docker compose's default project name: the folder's name, lower-cased,
 * keeping [a-z0-9_-]. */
static void name_from_dir(const char *workdir, char *out, size_t len)
{
	char abs[4096];
	const char *dir = realpath(workdir, abs) ? abs : workdir;
	const char *base = strrchr(dir, '/');
	base = base ? base + 1 : dir;
	size_t n = 0;
	for (; *base && n + 1 < len; base++) {
		char c = (char)tolower((unsigned char)*base);
		if (isalnum((unsigned char)c) || c == '_' || c == '-')
			out[n++] = c;
	}
	out[n] = '\0';
}

static int resolve_name(const char *given, const struct snode *root, const char *workdir, char **out,
			struct stack_report *r)
{
	char buf[256];
	const struct snode *key = snode_get(root, "name");
	const char *name = given;
	if (name == NULL && key && key->kind == SNODE_SCALAR && !snode_is_null(key))
		name = key->text;
	if (name == NULL) {
		name_from_dir(workdir, buf, sizeof(buf));
		name = buf;
	}
	if (!valid_stack_name(name)) {
		if (given == NULL && key && name == key->text)
			stack_error_at(r, key, "name", "invalid stack name \"%s\" (letters, digits, '_', '-', '.'; at most 63)", name);
		else
			stack_error_file(r, given ? "stack name" : workdir,
					 "invalid stack name \"%s\" (letters, digits, '_', '-', '.'; at most 63)", name);
		return -EINVAL;
	}
	*out = stack_xstrdup(name);
	return 0;
}

static int load_all(const struct stack_source *files, size_t n, const struct stack_env *env, struct snode **merged,
		    struct stack_report *r)
{
	int rc = 0;
	*merged = NULL;
	for (size_t i = 0; i < n; i++) {
		struct snode *tree = NULL;
		int one = load_tree(&files[i], env, &tree, r);
		if (one != 0) {
			rc = rc ? rc : one;
			snode_free(tree);
		} else if (*merged == NULL) {
			*merged = tree;
		} else {
			stack_merge(*merged, tree);
		}
	}
	if (rc != 0) {
		snode_free(*merged);
		*merged = NULL;
	}
	return rc;
}

int stack_load(const struct stack_source *files, size_t n, const char *const *envp, const char *name,
	       struct stack **out, struct stack_diag *diag)
{
	struct stack_report r = {.diag = diag, .warnings = json_array(), .warned = json_object()};
	struct snode *root = NULL;
	char workdir[4096];
	json_t *dotenv = json_object();
	struct stack_env env = {.environ = envp, .dotenv = dotenv};
	struct stack_convert_out conv = {0};
	char *stack_name = NULL;
	memset(diag, 0, sizeof(*diag));
	*out = NULL;
	if (n == 0 || files == NULL) {
		stack_error_file(&r, "stack", "no stack file given");
		json_decref(r.warnings);
		json_decref(r.warned);
		json_decref(dotenv);
		return -EINVAL;
	}
	dir_of(files[0].path, workdir, sizeof(workdir));
	int rc = load_dotenv(workdir, dotenv, &r);
	if (rc == 0)
		rc = load_all(files, n, &env, &root, &r);
	if (rc == 0)
		rc = resolve_name(name, root, workdir, &stack_name, &r);
	if (rc == 0) {
		struct stack_convert_in in = {.root = root, .stack_name = stack_name, .workdir = workdir, .env = &env};
		rc = stack_convert(&in, &conv, &r) == 0 ? 0 : -EINVAL;
	}
	if (rc == 0) {
		struct stack *s = stack_xalloc(sizeof(*s));
		s->name = stack_name;
		s->services = conv.services;
		s->networks = conv.networks;
		s->external_networks = conv.external_networks;
		s->ignored = conv.ignored;
		s->warnings = json_incref(r.warnings);
		*out = s;
	} else {
		free(stack_name);
	}
	snode_free(root);
	json_decref(r.warnings);
	json_decref(r.warned);
	json_decref(dotenv);
	return rc;
}

void stack_free(struct stack *s)
{
	if (s == NULL)
		return;
	free(s->name);
	json_decref(s->services);
	json_decref(s->networks);
	json_decref(s->external_networks);
	json_decref(s->ignored);
	json_decref(s->warnings);
	free(s);
}

void stack_diag_free(struct stack_diag *diag)
{
	free(diag->messages);
	diag->messages = NULL;
	diag->count = 0;
}

const char *stack_name(const struct stack *s)
{
	return s->name;
}

json_t *stack_services(const struct stack *s)
{
	return s->services;
}

json_t *stack_networks(const struct stack *s)
{
	return s->networks;
}

json_t *stack_external_networks(const struct stack *s)
{
	return s->external_networks;
}

json_t *stack_ignored_options(const struct stack *s)
{
	return s->ignored;
}

json_t *stack_warnings(const struct stack *s)
{
	return s->warnings;
}

json_t *stack_to_json(const struct stack *s)
{
	return json_pack("{s:s,s:O,s:O,s:O}", "Name", s->name, "Networks", s->networks, "ExternalNetworks",
			 s->external_networks, "Services", s->services);
}

/* ---- spec comparison ---- */

static bool spec_equal(const json_t *a, const json_t *b, const char *key);

/* Whether v says nothing: null, "", false, 0, and containers of only those. */
static bool spec_empty(const json_t *v, const char *key)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_INTEGER:
	case JSON_REAL:
		/* Replicas 0 is not the daemon's default of 1. */
		return json_number_value(v) == 0 && !(key && strcmp(key, "Replicas") == 0);
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	case JSON_OBJECT: {
		const char *k;
		json_t *m;
		json_object_foreach((json_t *)v, k, m)
			if (!spec_empty(m, k))
				return false;
		return true;
	}
	default:
		return false;
	}
}

static bool object_covers(const json_t *a, const json_t *b)
{
	const char *k;
	json_t *m;
	json_object_foreach((json_t *)a, k, m) {
		json_t *other = json_object_get(b, k);
		if (spec_empty(m, k) ? other && !spec_empty(other, k) : !other || !spec_equal(m, other, k))
			return false;
	}
	return true;
}

static bool spec_equal(const json_t *a, const json_t *b, const char *key)
{
	bool ea = spec_empty(a, key), eb = spec_empty(b, key);
	if (ea || eb)
		return ea && eb;
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a))
		return object_covers(a, b) && object_covers(b, a);
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!spec_equal(json_array_get(a, i), json_array_get(b, i), NULL))
				return false;
		return true;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

bool stack_spec_equal(const json_t *a, const json_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return spec_equal(a, b, NULL);
}
