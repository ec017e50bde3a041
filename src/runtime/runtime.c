/* runtime: what every task runtime shares: state names, task spec validation and copy. */
#include "swarmnode/runtime.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[RUNTIME_STATE__COUNT] = {
	[RUNTIME_STATE_NEW] = "new",
	[RUNTIME_STATE_PENDING] = "pending",
	[RUNTIME_STATE_ASSIGNED] = "assigned",
	[RUNTIME_STATE_ACCEPTED] = "accepted",
	[RUNTIME_STATE_PREPARING] = "preparing",
	[RUNTIME_STATE_STARTING] = "starting",
	[RUNTIME_STATE_RUNNING] = "running",
	[RUNTIME_STATE_COMPLETE] = "complete",
	[RUNTIME_STATE_SHUTDOWN] = "shutdown",
	[RUNTIME_STATE_FAILED] = "failed",
	[RUNTIME_STATE_REJECTED] = "rejected",
	[RUNTIME_STATE_ORPHANED] = "orphaned",
};

const char *runtime_state_name(enum runtime_state s)
{
	if ((unsigned)s >= RUNTIME_STATE__COUNT)
		return "unknown";
	return state_names[s];
}

bool runtime_state_is_terminal(enum runtime_state s)
{
	return s >= RUNTIME_STATE_COMPLETE && s < RUNTIME_STATE__COUNT;
}

const char *runtime_protocol_name(enum runtime_protocol p)
{
	return p == RUNTIME_PROTO_UDP ? "udp" : "tcp";
}

const char *runtime_publish_mode_name(enum runtime_publish_mode m)
{
	return m == RUNTIME_PUBLISH_HOST ? "host" : "ingress";
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '.';
}

/* The task id names a directory: it must stay one plain path component. */
int runtime_task_id_check(const char *id, char *err, size_t errlen)
{
	if (id == NULL || id[0] == '\0') {
		snprintf(err, errlen, "task id: empty");
		return -EINVAL;
	}
	size_t len = strnlen(id, RUNTIME_ID_MAX + 1);
	if (len > RUNTIME_ID_MAX) {
		snprintf(err, errlen, "task id: longer than %d bytes", RUNTIME_ID_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!id_char(id[i])) {
			snprintf(err, errlen, "task id \"%s\": byte %zu is not a letter, digit, '_', '-' or '.'", id, i);
			return -EINVAL;
		}
	}
	if (id[0] == '.') {
		snprintf(err, errlen, "task id \"%s\": starts with '.'", id);
		return -EINVAL;
	}
	return 0;
}

static int check_name(const char *field, const char *s, char *err, size_t errlen)
{
	if (s != NULL && strnlen(s, RUNTIME_NAME_MAX + 1) > RUNTIME_NAME_MAX) {
		snprintf(err, errlen, "%s: longer than %d bytes", field, RUNTIME_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

static int check_image(const char *image, char *err, size_t errlen)
{
	if (image == NULL || image[0] == '\0') {
		snprintf(err, errlen, "image: empty");
		return -EINVAL;
	}
	if (strnlen(image, RUNTIME_IMAGE_MAX + 1) > RUNTIME_IMAGE_MAX) {
		snprintf(err, errlen, "image: longer than %d bytes", RUNTIME_IMAGE_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Adds the bytes of list's strings to *total, failing on a NULL entry or
 * beyond RUNTIME_STRINGS_BYTES_MAX. */
static int check_strings(const char *field, const char *const *list, size_t n, size_t max, size_t *total, char *err,
			 size_t errlen)
{
	if (n > max) {
		snprintf(err, errlen, "%s: %zu entries, at most %zu", field, n, max);
		return -EINVAL;
	}
	if (n > 0 && list == NULL) {
		snprintf(err, errlen, "%s: %zu entries but no array", field, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i] == NULL) {
			snprintf(err, errlen, "%s[%zu]: missing", field, i);
			return -EINVAL;
		}
		*total += strnlen(list[i], RUNTIME_STRINGS_BYTES_MAX + 1) + 1;
		if (*total > RUNTIME_STRINGS_BYTES_MAX) {
			snprintf(err, errlen, "args and env: more than %u bytes", RUNTIME_STRINGS_BYTES_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_env(const char *const *env, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(env[i], '=');
		if (eq == NULL) {
			snprintf(err, errlen, "env[%zu]: \"%.64s\" has no '=' (KEY=VALUE)", i, env[i]);
			return -EINVAL;
		}
		if (eq == env[i]) {
			snprintf(err, errlen, "env[%zu]: \"%.64s\" has an empty name", i, env[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_port(const struct runtime_port *p, size_t i, char *err, size_t errlen)
{
	if (p->target == 0 || p->target > 65535) {
		snprintf(err, errlen, "ports[%zu]: target port %u is not in 1-65535", i, p->target);
		return -EINVAL;
	}
	if (p->published > 65535) {
		snprintf(err, errlen, "ports[%zu]: published port %u is not in 0-65535", i, p->published);
		return -EINVAL;
	}
	if (p->protocol != RUNTIME_PROTO_TCP && p->protocol != RUNTIME_PROTO_UDP) {
		snprintf(err, errlen, "ports[%zu]: protocol %d is neither tcp nor udp", i, (int)p->protocol);
		return -EINVAL;
	}
	if (p->mode != RUNTIME_PUBLISH_INGRESS && p->mode != RUNTIME_PUBLISH_HOST) {
		snprintf(err, errlen, "ports[%zu]: publish mode %d is neither ingress nor host", i, (int)p->mode);
		return -EINVAL;
	}
	return 0;
}

static int check_ports(const struct runtime_port *ports, size_t n, char *err, size_t errlen)
{
	if (n > RUNTIME_PORTS_MAX) {
		snprintf(err, errlen, "ports: %zu entries, at most %d", n, RUNTIME_PORTS_MAX);
		return -EINVAL;
	}
	if (n > 0 && ports == NULL) {
		snprintf(err, errlen, "ports: %zu entries but no array", n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = check_port(&ports[i], i, err, errlen);
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (ports[j].target == ports[i].target && ports[j].protocol == ports[i].protocol) {
				snprintf(err, errlen, "ports[%zu]: target %u/%s repeats ports[%zu]", i, ports[i].target,
					 runtime_protocol_name(ports[i].protocol), j);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_labels(const struct runtime_label *labels, size_t n, char *err, size_t errlen)
{
	if (n > RUNTIME_LABELS_MAX) {
		snprintf(err, errlen, "labels: %zu entries, at most %d", n, RUNTIME_LABELS_MAX);
		return -EINVAL;
	}
	if (n > 0 && labels == NULL) {
		snprintf(err, errlen, "labels: %zu entries but no array", n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (labels[i].key == NULL || labels[i].key[0] == '\0' || labels[i].value == NULL) {
			snprintf(err, errlen, "labels[%zu]: empty key or missing value", i);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_limits(const struct runtime_task_spec *spec, char *err, size_t errlen)
{
	if (spec->memory_bytes < 0 || (spec->memory_bytes > 0 && spec->memory_bytes < RUNTIME_MEMORY_MIN)) {
		snprintf(err, errlen, "memory limit %lld: Minimum memory limit allowed is 6MB",
			 (long long)spec->memory_bytes);
		return -EINVAL;
	}
	if (spec->nano_cpus < 0) {
		snprintf(err, errlen, "CPU limit %lld: negative", (long long)spec->nano_cpus);
		return -EINVAL;
	}
	return 0;
}

int runtime_task_spec_validate(const struct runtime_task_spec *spec, char *err, size_t errlen)
{
	size_t total = 0;
	int rc;
	if ((rc = runtime_task_id_check(spec->task_id, err, errlen)) != 0 ||
	    (rc = check_name("service id", spec->service_id, err, errlen)) != 0 ||
	    (rc = check_name("service name", spec->service_name, err, errlen)) != 0 ||
	    (rc = check_name("node id", spec->node_id, err, errlen)) != 0 ||
	    (rc = check_name("node address", spec->node_addr, err, errlen)) != 0 ||
	    (rc = check_image(spec->image, err, errlen)) != 0 ||
	    (rc = check_strings("args", spec->args, spec->args_len, RUNTIME_ARGS_MAX, &total, err, errlen)) != 0 ||
	    (rc = check_strings("env", spec->env, spec->env_len, RUNTIME_ENV_MAX, &total, err, errlen)) != 0 ||
	    (rc = check_env(spec->env, spec->env_len, err, errlen)) != 0 ||
	    (rc = check_ports(spec->ports, spec->ports_len, err, errlen)) != 0 ||
	    (rc = check_labels(spec->labels, spec->labels_len, err, errlen)) != 0 ||
	    (rc = check_limits(spec, err, errlen)) != 0)
		return rc;
	return 0;
}

/* A bump allocator over one block: the first pass (base NULL) only counts. */
struct bump {
	char *base;
	size_t used;
};

static void *bump_take(struct bump *b, size_t size, size_t align)
{
	b->used = (b->used + align - 1) / align * align;
	void *p = b->base ? b->base + b->used : NULL;
	b->used += size;
	return p;
}

static const char *bump_str(struct bump *b, const char *s)
{
	if (s == NULL)
		s = "";
	size_t len = strlen(s) + 1;
	char *p = bump_take(b, len, 1);
	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

static const char *const *bump_strv(struct bump *b, const char *const *v, size_t n)
{
	const char **out = bump_take(b, n * sizeof(*out), alignof(const char *));
	for (size_t i = 0; i < n; i++) {
		const char *s = bump_str(b, v[i]);
		if (out != NULL)
			out[i] = s;
	}
	return out;
}

/* Lays spec out in b; with b->base NULL it only measures. */
static struct runtime_task_spec *spec_layout(struct bump *b, const struct runtime_task_spec *spec)
{
	struct runtime_task_spec *copy = bump_take(b, sizeof(*copy), alignof(struct runtime_task_spec));
	struct runtime_task_spec tmp = *spec;
	tmp.task_id = bump_str(b, spec->task_id);
	tmp.service_id = bump_str(b, spec->service_id);
	tmp.service_name = bump_str(b, spec->service_name);
	tmp.node_id = bump_str(b, spec->node_id);
	tmp.node_addr = bump_str(b, spec->node_addr);
	tmp.image = bump_str(b, spec->image);
	tmp.args = bump_strv(b, spec->args, spec->args_len);
	tmp.env = bump_strv(b, spec->env, spec->env_len);
	struct runtime_port *ports = bump_take(b, spec->ports_len * sizeof(*ports), alignof(struct runtime_port));
	if (ports != NULL && spec->ports_len > 0)
		memcpy(ports, spec->ports, spec->ports_len * sizeof(*ports));
	tmp.ports = ports;
	struct runtime_label *labels =
		bump_take(b, spec->labels_len * sizeof(*labels), alignof(struct runtime_label));
	for (size_t i = 0; i < spec->labels_len; i++) {
		const char *k = bump_str(b, spec->labels[i].key);
		const char *v = bump_str(b, spec->labels[i].value);
		if (labels != NULL)
			labels[i] = (struct runtime_label){.key = k, .value = v};
	}
	tmp.labels = labels;
	if (copy != NULL)
		*copy = tmp;
	return copy;
}

struct runtime_task_spec *runtime_task_spec_copy(const struct runtime_task_spec *spec)
{
	struct bump measure = {.base = NULL, .used = 0};
	spec_layout(&measure, spec);
	char *block = malloc(measure.used);
	if (block == NULL)
		return NULL;
	struct bump fill = {.base = block, .used = 0};
	return spec_layout(&fill, spec);
}
