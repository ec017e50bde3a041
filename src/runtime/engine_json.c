/* engine_json: the JSON the engine runtime sends (container create) and the answers it decodes (create, wait, inspect, list, errors). */
#include "engine_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* --- what is sent -------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.';
}

void engine_container_name(const struct runtime_task_spec *spec, char *out, size_t len)
{
	const char *service = spec->service_name && spec->service_name[0] ? spec->service_name
			      : spec->service_id && spec->service_id[0] ? spec->service_id
									  : "task";
	char slot[32];
	if (spec->slot != 0 || spec->node_id == NULL || spec->node_id[0] == '\0')
		snprintf(slot, sizeof(slot), "%" PRIu64, spec->slot);
	int n = snprintf(out, len, "swarmnode.%s.%s.%s", service,
			 spec->slot != 0 || spec->node_id == NULL || spec->node_id[0] == '\0' ? slot : spec->node_id,
			 spec->task_id);
	for (int i = 0; i < n && (size_t)i < len - 1; i++) {
		if (!name_char(out[i]))
			out[i] = '_';
	}
}

int engine_image_check(const char *image, char *err, size_t errlen)
{
	for (const char *p = image; *p != '\0'; p++) {
		if (!name_char(*p) && *p != '/' && *p != ':' && *p != '@') {
			snprintf(err, errlen, "image \"%.128s\": invalid reference format (byte %zu)", image,
				 (size_t)(p - image));
			return -EINVAL;
		}
	}
	if (image[0] == '/' || image[0] == '.' || image[0] == '-' || image[0] == ':' || strstr(image, "..") != NULL) {
		snprintf(err, errlen, "image \"%.128s\": invalid reference format", image);
		return -EINVAL;
	}
	return 0;
}

/* json_object_set_new and friends fail only when out of memory; one flag
 * collects it for the whole body. */
static void put(json_t *obj, const char *key, json_t *value, bool *oom)
{
	if (value == NULL || json_object_set_new(obj, key, value) != 0)
		*oom = true;
}

static json_t *string_array(const char *const *v, size_t n, bool *oom)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) != 0)
			*oom = true;
	}
	if (a == NULL)
		*oom = true;
	return a;
}

static json_t *labels_object(const struct runtime_task_spec *spec, bool *oom)
{
	json_t *l = json_object();
	if (l == NULL) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < spec->labels_len; i++)
		put(l, spec->labels[i].key, json_string(spec->labels[i].value), oom);
	put(l, "com.docker.swarm.task.id", json_string(spec->task_id), oom);
	put(l, "com.docker.swarm.service.id", json_string(spec->service_id ? spec->service_id : ""), oom);
	put(l, "com.docker.swarm.service.name", json_string(spec->service_name ? spec->service_name : ""), oom);
	put(l, "com.docker.swarm.node.id", json_string(spec->node_id ? spec->node_id : ""), oom);
	put(l, "swarmnode.managed", json_string("1"), oom);
	return l;
}

/* ExposedPorts and HostConfig.PortBindings: every port is bound on the
 * host; the node's ingress forwards to the published port later. */
static void put_ports(json_t *body, json_t *host, const struct runtime_task_spec *spec, bool *oom)
{
	json_t *exposed = json_object(), *bindings = json_object();
	for (size_t i = 0; exposed && bindings && i < spec->ports_len; i++) {
		const struct runtime_port *p = &spec->ports[i];
		char key[32], host_port[12] = "";
		snprintf(key, sizeof(key), "%u/%s", p->target, runtime_protocol_name(p->protocol));
		if (p->published != 0)
			snprintf(host_port, sizeof(host_port), "%u", p->published);
		put(exposed, key, json_object(), oom);
		json_t *binding = json_pack("[{s:s, s:s}]", "HostIp", "", "HostPort", host_port);
		put(bindings, key, binding, oom);
	}
	put(body, "ExposedPorts", exposed, oom);
	put(host, "PortBindings", bindings, oom);
}

char *engine_json_create_body(const struct runtime_task_spec *spec)
{
	bool oom = false;
	json_t *body = json_object(), *host = json_object();
	if (body == NULL || host == NULL) {
		json_decref(body);
		json_decref(host);
		return NULL;
	}
	uint64_t grace_ms = spec->stop_grace_ms ? spec->stop_grace_ms : RUNTIME_STOP_GRACE_DEFAULT_MS;
	put(body, "Image", json_string(spec->image), &oom);
	if (spec->args_len > 0)
		put(body, "Cmd", string_array(spec->args, spec->args_len, &oom), &oom);
	put(body, "Env", string_array(spec->env, spec->env_len, &oom), &oom);
	put(body, "Labels", labels_object(spec, &oom), &oom);
	put(body, "StopTimeout", json_integer((json_int_t)((grace_ms + 999) / 1000)), &oom);
	put_ports(body, host, spec, &oom);
	if (spec->memory_bytes > 0)
		put(host, "Memory", json_integer(spec->memory_bytes), &oom);
	if (spec->nano_cpus > 0)
		put(host, "NanoCpus", json_integer(spec->nano_cpus), &oom);
	put(body, "HostConfig", host, &oom);
	char *out = oom ? NULL : json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return out;
}

/* --- what is received ---------------------------------------------------- */

static json_t *parse(const char *body, size_t len, const char *what, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		snprintf(err, errlen, "%s: not JSON: %.100s", what, je.text);
	return root;
}

void engine_json_error(const char *body, size_t len, char *out, size_t outlen)
{
	char why[160];
	json_t *root = parse(body, len, "error", why, sizeof(why));
	json_t *msg = json_is_object(root) ? json_object_get(root, "message") : NULL;
	if (json_is_string(msg) && json_string_length(msg) > 0) {
		snprintf(out, outlen, "%s", json_string_value(msg));
	} else {
		/* Not the engine's JSON: a proxy's page, say. Quote its start. */
		size_t n = len < 120 ? len : 120;
		int w = snprintf(out, outlen, "%.*s", (int)n, body);
		for (int i = 0; i < w && (size_t)i < outlen - 1; i++) {
			if ((unsigned char)out[i] < 0x20)
				out[i] = ' ';
		}
		if (n == 0)
			snprintf(out, outlen, "no message");
	}
	json_decref(root);
}

static bool is_container_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 12 || n > ENGINE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* Reads the container id in field key of obj into id. */
static int get_id(json_t *obj, const char *key, const char *what, char id[ENGINE_ID_MAX + 1], char *err,
		  size_t errlen)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!json_is_string(v) || !is_container_id(json_string_value(v))) {
		snprintf(err, errlen, "%s: %s is not a container id (12 to 64 hex digits)", what, key);
		return -EINVAL;
	}
	snprintf(id, ENGINE_ID_MAX + 1, "%s", json_string_value(v));
	return 0;
}

int engine_json_created(const char *body, size_t len, char id[ENGINE_ID_MAX + 1], char *err, size_t errlen)
{
	json_t *root = parse(body, len, "create answer", err, errlen);
	if (root == NULL)
		return -EINVAL;
	int rc = get_id(root, "Id", "create answer", id, err, errlen);
	json_decref(root);
	return rc;
}

int engine_json_waited(const char *body, size_t len, int *code, char *engine_err, size_t engine_errlen, char *err,
		       size_t errlen)
{
	json_t *root = parse(body, len, "wait answer", err, errlen);
	if (root == NULL)
		return -EINVAL;
	int rc = 0;
	json_t *sc = json_is_object(root) ? json_object_get(root, "StatusCode") : NULL;
	json_t *e = json_is_object(root) ? json_object_get(root, "Error") : NULL;
	json_t *msg = json_is_object(e) ? json_object_get(e, "Message") : NULL;
	engine_err[0] = '\0';
	if (!json_is_integer(sc) || json_integer_value(sc) < 0 || json_integer_value(sc) > 255) {
		snprintf(err, errlen, "wait answer: StatusCode is not an integer in 0-255");
		rc = -EINVAL;
	} else if (e != NULL && !json_is_null(e) && !json_is_string(msg)) {
		snprintf(err, errlen, "wait answer: Error is neither null nor {\"Message\": string}");
		rc = -EINVAL;
	} else {
		*code = (int)json_integer_value(sc);
		if (json_is_string(msg))
			snprintf(engine_err, engine_errlen, "%s", json_string_value(msg));
	}
	json_decref(root);
	return rc;
}

/* A string member that may be absent (""), else must be a string that fits. */
static int get_opt_str(json_t *obj, const char *key, const char *what, char *out, size_t outlen, bool cut_ok,
		       char *err, size_t errlen)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || (!cut_ok && json_string_length(v) >= outlen)) {
		snprintf(err, errlen, "%s: %s is not a string of at most %zu bytes", what, key, outlen - 1);
		return -EINVAL;
	}
	snprintf(out, outlen, "%s", json_string_value(v));
	return 0;
}

static int inspect_state(json_t *root, struct engine_inspect *out, char *err, size_t errlen)
{
	json_t *state = json_object_get(root, "State");
	json_t *running = json_object_get(state, "Running"), *pid = json_object_get(state, "Pid");
	json_t *code = json_object_get(state, "ExitCode");
	if (!json_is_object(state) || !json_is_boolean(running) || !json_is_integer(pid) || !json_is_integer(code) ||
	    json_integer_value(pid) < 0) {
		snprintf(err, errlen, "inspect answer: State lacks Running, Pid or ExitCode");
		return -EINVAL;
	}
	out->running = json_is_true(running);
	out->pid = json_integer_value(pid);
	out->exit_code = (int)json_integer_value(code);
	return get_opt_str(state, "Status", "inspect answer: State", out->state, sizeof(out->state), true, err, errlen);
}

static int inspect_labels(json_t *root, struct engine_inspect *out, char *err, size_t errlen)
{
	json_t *config = json_object_get(root, "Config");
	json_t *labels = json_object_get(config, "Labels");
	const char *what = "inspect answer: Config.Labels";
	int rc;
	if (!json_is_object(config)) {
		snprintf(err, errlen, "inspect answer: Config is not an object");
		return -EINVAL;
	}
	if ((rc = get_opt_str(config, "Image", "inspect answer: Config", out->image, sizeof(out->image), true, err,
			      errlen)) != 0)
		return rc;
	if (labels != NULL && !json_is_null(labels) && !json_is_object(labels)) {
		snprintf(err, errlen, "%s is not an object", what);
		return -EINVAL;
	}
	if ((rc = get_opt_str(labels, "com.docker.swarm.task.id", what, out->task_id, sizeof(out->task_id), false, err,
			      errlen)) != 0 ||
	    (rc = get_opt_str(labels, "com.docker.swarm.service.id", what, out->service_id, sizeof(out->service_id),
			      false, err, errlen)) != 0 ||
	    (rc = get_opt_str(labels, "com.docker.swarm.service.name", what, out->service_name,
			      sizeof(out->service_name), false, err, errlen)) != 0)
		return rc;
	return get_opt_str(labels, "com.docker.swarm.node.id", what, out->node_id, sizeof(out->node_id), false, err,
			   errlen);
}

/* "8080/tcp" -> 8080, TCP. */
static int port_key(const char *key, uint32_t *target, enum runtime_protocol *proto)
{
	char *end;
	unsigned long v = strtoul(key, &end, 10);
	if (end == key || v == 0 || v > 65535 || *end != '/')
		return -EINVAL;
	if (strcmp(end, "/tcp") == 0)
		*proto = RUNTIME_PROTO_TCP;
	else if (strcmp(end, "/udp") == 0)
		*proto = RUNTIME_PROTO_UDP;
	else
		return -EINVAL;
	*target = (uint32_t)v;
	return 0;
}

/* NetworkSettings.Ports: {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "41409"}] or null}.
 * The first binding with a port counts (IPv4 and IPv6 bindings repeat it). */
static int inspect_ports(json_t *root, struct engine_inspect *out, char *err, size_t errlen)
{
	json_t *ns = json_object_get(root, "NetworkSettings");
	json_t *ports = json_is_object(ns) ? json_object_get(ns, "Ports") : NULL;
	const char *key;
	json_t *list;
	if (ports == NULL || json_is_null(ports))
		return 0;
	if (!json_is_object(ports)) {
		snprintf(err, errlen, "inspect answer: NetworkSettings.Ports is not an object");
		return -EINVAL;
	}
	json_object_foreach(ports, key, list) {
		struct runtime_port p = {.mode = RUNTIME_PUBLISH_HOST};
		if (port_key(key, &p.target, &p.protocol) != 0 || (!json_is_array(list) && !json_is_null(list))) {
			snprintf(err, errlen, "inspect answer: NetworkSettings.Ports: bad entry \"%.32s\"", key);
			return -EINVAL;
		}
		for (size_t i = 0; json_is_array(list) && i < json_array_size(list) && p.published == 0; i++) {
			json_t *hp = json_object_get(json_array_get(list, i), "HostPort");
			char *end;
			unsigned long v = json_is_string(hp) ? strtoul(json_string_value(hp), &end, 10) : 0;
			if (!json_is_string(hp) || *end != '\0' || v > 65535) {
				snprintf(err, errlen, "inspect answer: NetworkSettings.Ports[\"%.32s\"]: bad HostPort", key);
				return -EINVAL;
			}
			p.published = (uint32_t)v;
		}
		if (p.published != 0 && out->nports < RUNTIME_PORTS_MAX)
			out->ports[out->nports++] = p;
	}
	return 0;
}

int engine_json_inspect(const char *body, size_t len, struct engine_inspect *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *root = parse(body, len, "inspect answer", err, errlen);
	if (root == NULL)
		return -EINVAL;
	int rc = -EINVAL;
	if (!json_is_object(root))
		snprintf(err, errlen, "inspect answer: not an object");
	else if ((rc = get_id(root, "Id", "inspect answer", out->id, err, errlen)) == 0 &&
		 (rc = inspect_state(root, out, err, errlen)) == 0 && (rc = inspect_labels(root, out, err, errlen)) == 0)
		rc = inspect_ports(root, out, err, errlen);
	json_decref(root);
	return rc;
}

int engine_json_list(const char *body, size_t len, char (**ids)[ENGINE_ID_MAX + 1], size_t *n, char *err,
		     size_t errlen)
{
	json_t *root = parse(body, len, "container list", err, errlen);
	*ids = NULL;
	*n = 0;
	if (root == NULL)
		return -EINVAL;
	int rc = 0;
	if (!json_is_array(root)) {
		snprintf(err, errlen, "container list: not an array");
		rc = -EINVAL;
	} else if (json_array_size(root) > 0 && (*ids = calloc(json_array_size(root), sizeof(**ids))) == NULL) {
		rc = -ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < json_array_size(root); i++) {
		char what[48];
		snprintf(what, sizeof(what), "container list[%zu]", i);
		rc = get_id(json_array_get(root, i), "Id", what, (*ids)[i], err, errlen);
		*n = i + 1;
	}
	if (rc != 0) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	json_decref(root);
	return rc;
}
