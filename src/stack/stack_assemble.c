/* stack_assemble: puts a converted service together as Docker's Go types
 * marshal it (field order, omitempty), and the stack's networks. */
#include "stack_convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new object with src's members named in order, in that order. */
static json_t *ordered(json_t *src, const char *const *order)
{
	json_t *out = json_object();
	for (size_t i = 0; order[i]; i++) {
		json_t *v = json_object_get(src, order[i]);
		if (v)
			json_object_set(out, order[i], v);
	}
	return out;
}

static void scoped_name(const struct stack_conv *c, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s_%s", c->in->stack_name, name);
}

/* labels plus the stack namespace label, as docker's AddStackLabel. */
static json_t *stack_labels(const struct stack_conv *c, json_t *labels)
{
	json_t *out = json_deep_copy(labels);
	json_object_set_new(out, STACK_NAMESPACE_LABEL, json_string(c->in->stack_name));
	return out;
}

static int string_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* A new array of items[0..n) (their references taken) sorted by cmp; frees items. */
static json_t *sorted_array(json_t **items, size_t n, int (*cmp)(const void *, const void *))
{
	qsort(items, n, sizeof(*items), cmp);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, items[i]);
	free(items);
	return list;
}

/* env_file variables, then environment over them; a variable without a
 * value (or an empty one) takes the caller's environment's value if it has
 * one, as docker/cli's resolveEnvironment does. Sorted. */
static json_t *env_list(const struct stack_conv *c, const struct stack_svc *s)
{
	json_t *merged = json_deep_copy(s->file_env);
	json_object_update(merged, s->env);
	size_t n = json_object_size(merged), i = 0;
	json_t **items = stack_xalloc((n + 1) * sizeof(*items));
	const char *key;
	json_t *value;
	json_object_foreach(merged, key, value) {
		const char *v = json_string_value(value);
		const char *from_env = (v == NULL || *v == '\0') ? stack_env_lookup(c->in->env, key) : NULL;
		if (from_env)
			v = from_env;
		size_t len = strlen(key) + (v ? strlen(v) + 1 : 0) + 1;
		char *line = stack_xalloc(len);
		snprintf(line, len, v ? "%s=%s" : "%s", key, v);
		items[i++] = json_string(line);
		free(line);
	}
	json_decref(merged);
	return sorted_array(items, n, string_cmp);
}

static const char *network_target(const struct stack_conv *c, const char *key, char *buf, size_t len)
{
	json_t *def = json_object_get(c->netdefs, key);
	const char *target = json_string_value(json_object_get(def, "target"));
	if (target)
		return target;
	scoped_name(c, key, buf, len);
	return buf;
}

/* Docker adds the service name as an alias on user-defined networks only. */
static bool user_defined(const char *target)
{
	return strcmp(target, "default") != 0 && strcmp(target, "bridge") != 0 && strcmp(target, "host") != 0 &&
	       strcmp(target, "none") != 0 && strncmp(target, "container:", 10) != 0;
}

static int target_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(json_object_get(x, "Target")), json_string_value(json_object_get(y, "Target")));
}

static json_t *attachments(const struct stack_conv *c, const struct stack_svc *s)
{
	json_t *nets = json_object_size(s->networks) ? json_incref(s->networks) : json_pack("{s:[]}", "default");
	size_t n = json_object_size(nets), i = 0;
	json_t **items = stack_xalloc((n + 1) * sizeof(*items));
	const char *key;
	json_t *aliases;
	json_object_foreach(nets, key, aliases) {
		char buf[512];
		const char *target = network_target(c, key, buf, sizeof(buf));
		json_t *all = json_deep_copy(aliases);
		if (user_defined(target))
			json_array_append_new(all, json_string(s->name));
		items[i] = json_pack("{s:s}", "Target", target);
		if (json_array_size(all))
			json_object_set(items[i], "Aliases", all);
		json_decref(all);
		json_object_set_new(c->used_nets, key, json_true());
		i++;
	}
	json_decref(nets);
	return sorted_array(items, n, target_cmp);
}

static json_int_t published(json_t *port)
{
	return json_integer_value(json_object_get(port, "PublishedPort"));
}

/* Sorted by published port (docker sorts so), stable for equal ones. */
static json_t *sorted_ports(json_t *ports)
{
	size_t n = json_array_size(ports);
	json_t **items = stack_xalloc((n + 1) * sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(ports, i);
		size_t j = i;
		for (; j > 0 && published(items[j - 1]) > published(p); j--)
			items[j] = items[j - 1];
		items[j] = p;
	}
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(out, items[i]);
	free(items);
	return out;
}

static json_t *container_spec(const struct stack_conv *c, const struct stack_svc *s)
{
	static const char *const order[] = {"Image", "Labels", "Command", "Args", "Hostname", "Env", "Dir", "User",
					    "StopGracePeriod", "Healthcheck", NULL};
	json_t *all = json_deep_copy(s->container);
	json_object_set_new(all, "Labels", stack_labels(c, s->labels));
	json_t *env = env_list(c, s);
	if (json_array_size(env))
		json_object_set(all, "Env", env);
	json_decref(env);
	json_t *out = ordered(all, order);
	json_decref(all);
	return out;
}

static json_t *mode(const struct stack_svc *s)
{
	if (s->mode && strcmp(s->mode, "global") == 0)
		return json_pack("{s:{}}", "Global");
	if (s->replicas)
		return json_pack("{s:{s:I}}", "Replicated", "Replicas", (json_int_t)s->replica_count);
	return json_pack("{s:{}}", "Replicated");
}

static json_t *endpoint(const struct stack_svc *s)
{
	json_t *e = json_object();
	if (s->endpoint_mode)
		json_object_set_new(e, "Mode", json_string(s->endpoint_mode));
	if (json_array_size(s->ports))
		json_object_set_new(e, "Ports", sorted_ports(s->ports));
	return e;
}

json_t *stack_assemble_service(const struct stack_conv *c, const struct stack_svc *s)
{
	static const char *const task_order[] = {"ContainerSpec", "Resources", "RestartPolicy", "Placement",
						 "Networks", "ForceUpdate", NULL};
	static const char *const spec_order[] = {"Name", "Labels", "TaskTemplate", "Mode", "UpdateConfig",
						 "RollbackConfig", "EndpointSpec", NULL};
	char name[512];
	json_t *task = json_deep_copy(s->task);
	json_object_set_new(task, "ContainerSpec", container_spec(c, s));
	json_object_set_new(task, "Networks", attachments(c, s));
	json_object_set_new(task, "ForceUpdate", json_integer(0));
	json_t *spec = json_deep_copy(s->spec);
	scoped_name(c, s->name, name, sizeof(name));
	json_object_set_new(spec, "Name", json_string(name));
	json_object_set_new(spec, "Labels", stack_labels(c, s->deploy_labels));
	json_object_set_new(spec, "TaskTemplate", ordered(task, task_order));
	json_object_set_new(spec, "Mode", mode(s));
	json_object_set_new(spec, "EndpointSpec", endpoint(s));
	json_t *out = ordered(spec, spec_order);
	json_decref(task);
	json_decref(spec);
	return out;
}

void stack_assemble_networks(const struct stack_conv *c, json_t *create, json_t *external)
{
	const char *key;
	json_t *used;
	/* jansson iterates in insertion order; networks are created by name. */
	size_t n = json_object_size(c->used_nets), i = 0;
	json_t **items = stack_xalloc((n + 1) * sizeof(*items));
	json_object_foreach(c->used_nets, key, used)
		items[i++] = json_string(key);
	json_t *names = sorted_array(items, n, string_cmp);
	for (i = 0; i < n; i++) {
		key = json_string_value(json_array_get(names, i));
		json_t *def = json_object_get(c->netdefs, key);
		char buf[512];
		const char *target = network_target(c, key, buf, sizeof(buf));
		if (json_is_true(json_object_get(def, "external"))) {
			json_array_append_new(external, json_string(target));
			continue;
		}
		json_t *req = json_pack("{s:s}", "Name", target);
		json_t *given = json_object_get(def, "create");
		const char *driver = json_string_value(json_object_get(given, "Driver"));
		json_object_set_new(req, "Driver", json_string(driver ? driver : "overlay"));
		json_object_set_new(req, "Internal", json_boolean(json_is_true(json_object_get(given, "Internal"))));
		json_object_set_new(req, "Attachable", json_boolean(json_is_true(json_object_get(given, "Attachable"))));
		if (json_object_get(given, "Options"))
			json_object_set(req, "Options", json_object_get(given, "Options"));
		json_t *labels = json_object_get(given, "Labels");
		json_t *none = json_object();
		json_object_set_new(req, "Labels", stack_labels(c, labels ? labels : none));
		json_decref(none);
		json_array_append_new(create, req);
	}
	json_decref(names);
}
