/* exec_argv: what an exec task's process is given: argv with ${PORT} expanded, its environment, the program's path. */
#include "exec_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXEC_PATH_DEFAULT "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void exec_strv_free(struct exec_strv *sv)
{
	if (sv->v != NULL) {
		for (size_t i = 0; i < sv->len; i++)
			free(sv->v[i]);
		free(sv->v);
	}
	sv->v = NULL;
	sv->len = 0;
}

/* Room for cap entries plus the NULL terminator. */
static int strv_alloc(struct exec_strv *sv, size_t cap)
{
	sv->len = 0;
	sv->v = calloc(cap + 1, sizeof(*sv->v));
	return sv->v == NULL ? -ENOMEM : 0;
}

/* The port a task listens on for p: the one the node allocated, else the target. */
static uint32_t port_value(const struct runtime_port *p)
{
	return p->published != 0 ? p->published : p->target;
}

/* A growing string. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static int sbuf_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->s, cap);
		if (p == NULL)
			return -ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

/* The value of ${name} for PORT and PORT_<target>; 0 when name is not one
 * of ours (left literal), -EINVAL when it is but cannot be satisfied. */
static int port_ref(const struct runtime_task_spec *spec, const char *name, size_t len, uint32_t *value)
{
	if (len == 4 && memcmp(name, "PORT", 4) == 0) {
		if (spec->ports_len == 0)
			return -EINVAL;
		*value = port_value(&spec->ports[0]);
		return 1;
	}
	if (len < 6 || len > 10 || memcmp(name, "PORT_", 5) != 0)
		return 0;
	uint32_t target = 0;
	for (size_t i = 5; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		target = target * 10 + (uint32_t)(name[i] - '0');
	}
	for (size_t i = 0; i < spec->ports_len; i++) {
		if (spec->ports[i].target == target) {
			*value = port_value(&spec->ports[i]);
			return 1;
		}
	}
	return -EINVAL;
}

static int expand_arg(const struct runtime_task_spec *spec, size_t idx, struct sbuf *b, char *err, size_t errlen)
{
	const char *s = spec->args[idx];
	while (*s != '\0') {
		if (strncmp(s, "$${", 3) == 0) {
			if (sbuf_put(b, "${", 2) != 0)
				return -ENOMEM;
			s += 3;
			continue;
		}
		const char *close = strncmp(s, "${", 2) == 0 ? strchr(s + 2, '}') : NULL;
		static const char addr_ref[] = "${SWARMNODE_NODE_ADDR}";
		if (strncmp(s, addr_ref, sizeof(addr_ref) - 1) == 0 && spec->node_addr && spec->node_addr[0]) {
			if (sbuf_put(b, spec->node_addr, strlen(spec->node_addr)) != 0)
				return -ENOMEM;
			s += sizeof(addr_ref) - 1;
			continue;
		}
		uint32_t value = 0;
		int rc = close != NULL ? port_ref(spec, s + 2, (size_t)(close - s - 2), &value) : 0;
		if (rc < 0) {
			snprintf(err, errlen, "args[%zu]: %.*s: %s", idx, (int)(close - s + 1), s,
				 spec->ports_len == 0 ? "the service publishes no port"
						      : "no published port has that target");
			return -EINVAL;
		}
		if (rc == 0) {
			if (sbuf_put(b, s, 1) != 0)
				return -ENOMEM;
			s++;
			continue;
		}
		char num[16];
		int n = snprintf(num, sizeof(num), "%" PRIu32, value);
		if (sbuf_put(b, num, (size_t)n) != 0)
			return -ENOMEM;
		s = close + 1;
	}
	return sbuf_put(b, "", 0);
}

int exec_build_argv(const struct runtime_task_spec *spec, struct exec_strv *out, char *err, size_t errlen)
{
	if (strv_alloc(out, spec->args_len + 1) != 0)
		return -ENOMEM;
	out->v[0] = strdup(spec->image);
	if (out->v[0] == NULL)
		goto err_nomem;
	out->len = 1;
	for (size_t i = 0; i < spec->args_len; i++) {
		struct sbuf b = {0};
		int rc = expand_arg(spec, i, &b, err, errlen);
		if (rc != 0) {
			free(b.s);
			exec_strv_free(out);
			return rc;
		}
		out->v[out->len++] = b.s;
	}
	return 0;
err_nomem:
	exec_strv_free(out);
	return -ENOMEM;
}

/* Sets entry (KEY=VALUE, taken over) in env, replacing one with its KEY. */
static void env_put(struct exec_strv *env, char *entry)
{
	size_t klen = strcspn(entry, "=") + 1;
	for (size_t i = 0; i < env->len; i++) {
		if (strncmp(env->v[i], entry, klen) == 0) {
			free(env->v[i]);
			env->v[i] = entry;
			return;
		}
	}
	env->v[env->len++] = entry;
}

static int env_putf(struct exec_strv *env, const char *key, const char *value)
{
	size_t len = strlen(key) + strlen(value) + 2;
	char *e = malloc(len);
	if (e == NULL)
		return -ENOMEM;
	snprintf(e, len, "%s=%s", key, value);
	env_put(env, e);
	return 0;
}

static int env_put_ports(struct exec_strv *env, const struct runtime_task_spec *spec)
{
	char key[32], value[16];
	if (spec->ports_len > 0) {
		snprintf(value, sizeof(value), "%" PRIu32, port_value(&spec->ports[0]));
		if (env_putf(env, "PORT", value) != 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < spec->ports_len; i++) {
		snprintf(key, sizeof(key), "PORT_%" PRIu32, spec->ports[i].target);
		snprintf(value, sizeof(value), "%" PRIu32, port_value(&spec->ports[i]));
		if (env_putf(env, key, value) != 0)
			return -ENOMEM;
	}
	return 0;
}

static int env_put_task(struct exec_strv *env, const struct runtime_task_spec *spec)
{
	char slot[24];
	snprintf(slot, sizeof(slot), "%" PRIu64, spec->slot);
	if (env_putf(env, "SWARMNODE_TASK_ID", spec->task_id) != 0 ||
	    env_putf(env, "SWARMNODE_SERVICE_ID", spec->service_id ? spec->service_id : "") != 0 ||
	    env_putf(env, "SWARMNODE_SERVICE_NAME", spec->service_name ? spec->service_name : "") != 0 ||
	    env_putf(env, "SWARMNODE_SLOT", slot) != 0 ||
	    env_putf(env, "SWARMNODE_NODE_ID", spec->node_id ? spec->node_id : "") != 0 ||
	    env_putf(env, "SWARMNODE_NODE_ADDR", spec->node_addr ? spec->node_addr : "") != 0)
		return -ENOMEM;
	return 0;
}

int exec_build_env(const struct runtime_task_spec *spec, const char *path_default, struct exec_strv *out)
{
	/* PATH, the spec's entries, PORT, PORT_<target> each, six SWARMNODE_*. */
	if (strv_alloc(out, 1 + spec->env_len + 1 + spec->ports_len + 6) != 0)
		return -ENOMEM;
	if (env_putf(out, "PATH", path_default ? path_default : EXEC_PATH_DEFAULT) != 0)
		goto err_nomem;
	for (size_t i = 0; i < spec->env_len; i++) {
		char *e = strdup(spec->env[i]);
		if (e == NULL)
			goto err_nomem;
		env_put(out, e);
	}
	if (env_put_ports(out, spec) != 0 || env_put_task(out, spec) != 0)
		goto err_nomem;
	return 0;
err_nomem:
	exec_strv_free(out);
	return -ENOMEM;
}

const char *exec_env_get(const struct exec_strv *env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < env->len; i++) {
		if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=')
			return env->v[i] + n + 1;
	}
	return NULL;
}

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int find_absolute(const char *image, char *out, size_t outlen, char *err, size_t errlen)
{
	struct stat st;
	if (image[0] != '/') {
		snprintf(err, errlen, "exec: \"%s\": not an absolute path (give a path from / or a name looked up in $PATH)",
			 image);
		return -EINVAL;
	}
	if (stat(image, &st) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "exec: \"%s\": stat %s: %s", image, image, strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode) || access(image, X_OK) != 0) {
		snprintf(err, errlen, "exec: \"%s\": permission denied", image);
		return -EACCES;
	}
	if (snprintf(out, outlen, "%s", image) >= (int)outlen) {
		snprintf(err, errlen, "exec: \"%s\": path too long", image);
		return -ENAMETOOLONG;
	}
	return 0;
}

int exec_find_program(const char *image, const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	if (strchr(image, '/') != NULL)
		return find_absolute(image, out, outlen, err, errlen);
	for (const char *p = path ? path : ""; *p != '\0';) {
		size_t n = strcspn(p, ":");
		/* Relative entries (and empty ones, meaning ".") would resolve in
		 * the task's directory: skipped, as Go's exec.LookPath refuses them. */
		if (n > 0 && p[0] == '/' && snprintf(out, outlen, "%.*s/%s", (int)n, p, image) < (int)outlen &&
		    is_executable_file(out))
			return 0;
		p += n;
		if (*p == ':')
			p++;
	}
	snprintf(err, errlen, "exec: \"%s\": executable file not found in $PATH", image);
	return -ENOENT;
}
