/* agent_spec: turns an assigned task (its Docker Spec JSON and ports) into what a runtime starts. */
#include "agent_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t agent_spec_host_port(const struct dispatch_port *p)
{
	return p->published != 0 ? p->published : p->target;
}

static int bad(char *err, size_t errlen, const char *field, const char *why)
{
	snprintf(err, errlen, "task spec: %s: %s", field, why);
	return -EINVAL;
}

/* An optional object member: NULL when absent, -EINVAL when not an object. */
static int get_object(json_t *parent, const char *key, const char *field, json_t **out, char *err, size_t errlen)
{
	json_t *v = parent ? json_object_get(parent, key) : NULL;
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return bad(err, errlen, field, "not an object");
	*out = v;
	return 0;
}

static int get_int(json_t *parent, const char *key, const char *field, int64_t *out, char *err, size_t errlen)
{
	json_t *v = parent ? json_object_get(parent, key) : NULL;
	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(err, errlen, field, "not a non-negative integer");
	*out = json_integer_value(v);
	return 0;
}

/* Appends the strings of the optional array parent[key] to list at *n. */
static int add_strings(json_t *parent, const char *key, const char **list, size_t *n, char *err, size_t errlen)
{
	char field[64];
	json_t *arr = json_object_get(parent, key), *v;
	size_t i;
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		snprintf(field, sizeof(field), "ContainerSpec.%s", key);
		return bad(err, errlen, field, "not an array");
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v)) {
			snprintf(field, sizeof(field), "ContainerSpec.%s[%zu]", key, i);
			return bad(err, errlen, field, "not a string");
		}
		list[(*n)++] = json_string_value(v);
	}
	return 0;
}

static size_t array_len(json_t *parent, const char *key)
{
	json_t *arr = json_object_get(parent, key);
	return json_is_array(arr) ? json_array_size(arr) : 0;
}

static int build_labels(struct agent_spec *s, json_t *cs, char *err, size_t errlen)
{
	json_t *labels, *v;
	const char *key;
	int rc = get_object(cs, "Labels", "ContainerSpec.Labels", &labels, err, errlen);
	if (rc != 0 || labels == NULL)
		return rc;
	s->labels = calloc(json_object_size(labels) + 1, sizeof(*s->labels));
	if (s->labels == NULL)
		return -ENOMEM;
	json_object_foreach(labels, key, v) {
		if (!json_is_string(v))
			return bad(err, errlen, "ContainerSpec.Labels", "a value is not a string");
		s->labels[s->spec.labels_len].key = key;
		s->labels[s->spec.labels_len++].value = json_string_value(v);
	}
	s->spec.labels = s->labels;
	return 0;
}

static int build_container(struct agent_spec *s, json_t *cs, char *err, size_t errlen)
{
	json_t *image = json_object_get(cs, "Image");
	int64_t grace;
	if (!json_is_string(image) || json_string_length(image) == 0)
		return bad(err, errlen, "ContainerSpec.Image", "missing or not a string");
	s->spec.image = json_string_value(image);
	s->args = calloc(array_len(cs, "Command") + array_len(cs, "Args") + 1, sizeof(*s->args));
	s->env = calloc(array_len(cs, "Env") + 1, sizeof(*s->env));
	if (s->args == NULL || s->env == NULL)
		return -ENOMEM;
	int rc;
	if ((rc = add_strings(cs, "Command", s->args, &s->spec.args_len, err, errlen)) != 0 ||
	    (rc = add_strings(cs, "Args", s->args, &s->spec.args_len, err, errlen)) != 0 ||
	    (rc = add_strings(cs, "Env", s->env, &s->spec.env_len, err, errlen)) != 0 ||
	    (rc = get_int(cs, "StopGracePeriod", "ContainerSpec.StopGracePeriod", &grace, err, errlen)) != 0)
		return rc;
	s->spec.args = s->args;
	s->spec.env = s->env;
	s->spec.stop_grace_ms = (uint64_t)grace / 1000000u;
	if (grace > 0 && s->spec.stop_grace_ms == 0)
		s->spec.stop_grace_ms = 1; /* under a millisecond is not "the default" */
	return build_labels(s, cs, err, errlen);
}

static int build_limits(struct agent_spec *s, json_t *spec, char *err, size_t errlen)
{
	json_t *res, *limits;
	int rc = get_object(spec, "Resources", "Resources", &res, err, errlen);
	if (rc == 0)
		rc = get_object(res, "Limits", "Resources.Limits", &limits, err, errlen);
	if (rc == 0)
		rc = get_int(limits, "MemoryBytes", "Resources.Limits.MemoryBytes", &s->spec.memory_bytes, err, errlen);
	if (rc == 0)
		rc = get_int(limits, "NanoCPUs", "Resources.Limits.NanoCPUs", &s->spec.nano_cpus, err, errlen);
	return rc;
}

static int build_ports(struct agent_spec *s, const struct dispatch_task *t)
{
	if (t->nports == 0)
		return 0;
	s->ports = calloc(t->nports, sizeof(*s->ports));
	if (s->ports == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->nports; i++) {
		s->ports[i].target = t->ports[i].target;
		s->ports[i].published = agent_spec_host_port(&t->ports[i]);
		s->ports[i].protocol = t->ports[i].protocol ? RUNTIME_PROTO_UDP : RUNTIME_PROTO_TCP;
		s->ports[i].mode = t->ports[i].mode ? RUNTIME_PUBLISH_HOST : RUNTIME_PUBLISH_INGRESS;
	}
	s->spec.ports = s->ports;
	s->spec.ports_len = t->nports;
	return 0;
}

int agent_spec_build(const struct dispatch_task *t, const char *node_id, const char *node_addr, struct agent_spec *s,
		     char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *cs;
	memset(s, 0, sizeof(*s));
	s->root = json_loadb((const char *)t->spec, t->spec_len, JSON_REJECT_DUPLICATES, &jerr);
	if (s->root == NULL) {
		snprintf(err, errlen, "task spec: not JSON: %s", jerr.text);
		return -EINVAL;
	}
	int rc = -EINVAL;
	if (!json_is_object(s->root))
		rc = bad(err, errlen, "Spec", "not an object");
	else if ((rc = get_object(s->root, "ContainerSpec", "ContainerSpec", &cs, err, errlen)) == 0 && cs == NULL)
		rc = bad(err, errlen, "ContainerSpec", "missing");
	if (rc == 0 && (rc = build_container(s, cs, err, errlen)) == 0 &&
	    (rc = build_limits(s, s->root, err, errlen)) == 0)
		rc = build_ports(s, t);
	if (rc != 0) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "task spec: out of memory");
		agent_spec_release(s);
		return rc;
	}
	s->spec.task_id = t->id;
	s->spec.service_id = t->service_id;
	s->spec.service_name = t->service_name;
	s->spec.slot = t->slot;
	s->spec.node_id = node_id;
	s->spec.node_addr = node_addr;
	return 0;
}

uint64_t agent_spec_grace_ms(const struct agent_spec *s)
{
	return s->spec.stop_grace_ms;
}

void agent_spec_release(struct agent_spec *s)
{
	json_decref(s->root);
	free(s->args);
	free(s->env);
	free(s->labels);
	free(s->ports);
	memset(s, 0, sizeof(*s));
}
