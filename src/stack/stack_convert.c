/* stack_convert: the merged tree -> ServiceSpec and network-create JSON, as
 * docker/cli's compose/convert package builds them for API v1.41. */
#include "stack_convert.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/stack_units.h"

#define SPEC(w) ((struct stack_conv *)(w)->data)

/* Service keys docker accepts and reports ("Ignoring unsupported options: ..."). */
static const char *const unsupported_keys[] = {
	"build", "cap_add", "cap_drop", "cgroup_parent", "devices", "domainname", "external_links", "ipc",
	"links", "mac_address", "network_mode", "pid", "privileged", "restart", "security_opt", "shm_size",
	"sysctls", "ulimits", "userns_mode", NULL,
};

/* Service keys docker reports as deprecated, with its explanation. */
static const char *const deprecated_keys[][2] = {
	{"container_name", "Setting the container name is not supported."},
	{"expose", "Exposing ports is unnecessary - services on the same network can access each other's containers on any port."},
	{NULL, NULL},
};

/* Service keys docker refuses, with its explanation. */
static const char *const forbidden_keys[][2] = {
	{"extends", "Support for `extends` is not implemented yet."},
	{"volume_driver", "Instead of setting the volume driver on the service, define a volume using the top-level `volumes` option and specify the driver there."},
	{"volumes_from", "To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option."},
	{"cpu_quota", "Set resource limits using deploy.resources"},
	{"cpu_shares", "Set resource limits using deploy.resources"},
	{"cpuset", "Set resource limits using deploy.resources"},
	{"mem_limit", "Set resource limits using deploy.resources"},
	{"memswap_limit", "Set resource limits using deploy.resources"},
	{NULL, NULL},
};

/* Service keys docker deploys but swarmnode does not implement yet: refused
 * rather than dropped, so that nothing the user asked for is silently lost. */
static const char *const unimplemented_keys[] = {
	"configs", "credential_spec", "dns", "dns_opt", "dns_search", "extra_hosts", "init", "isolation",
	"logging", "read_only", "secrets", "stdin_open", "stop_signal", "tmpfs", "tty", "volumes", NULL,
};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static int service_unknown(struct stack_walk *w, const struct snode *key, const char *path)
{
	const char *k = key->text;
	if (in_list(unsupported_keys, k)) {
		json_object_set_new(SPEC(w)->ignored, k, json_true());
		return 0;
	}
	for (size_t i = 0; deprecated_keys[i][0]; i++)
		if (strcmp(deprecated_keys[i][0], k) == 0) {
			json_object_set_new(SPEC(w)->deprecated, k, json_string(deprecated_keys[i][1]));
			return 0;
		}
	for (size_t i = 0; forbidden_keys[i][0]; i++)
		if (strcmp(forbidden_keys[i][0], k) == 0) {
			stack_error_at(w->r, key, path, "unsupported option \"%s\": %s", k, forbidden_keys[i][1]);
			return -1;
		}
	if (in_list(unimplemented_keys, k))
		stack_error_at(w->r, key, path, "\"%s\" is not supported by swarmnode", k);
	else
		stack_error_at(w->r, key, path, "unknown key \"%s\"", k);
	return -1;
}

/* ---- simple ContainerSpec fields ---- */

static int set_string(struct stack_walk *w, const struct snode *v, const char *path, json_t *obj, const char *field)
{
	const char *s;
	if (stack_read_string(w, v, path, &s) != 0)
		return -1;
	if (*s)
		json_object_set_new(obj, field, json_string(s));
	return 0;
}

#define CONTAINER_STRING(fn, field)                                                               \
	static int fn(struct stack_walk *w, const struct snode *v, const char *path, void *svc) \
	{                                                                                         \
		return set_string(w, v, path, ((struct stack_svc *)svc)->container, field);      \
	}

CONTAINER_STRING(s_image, "Image")
CONTAINER_STRING(s_hostname, "Hostname")
CONTAINER_STRING(s_working_dir, "Dir")
CONTAINER_STRING(s_user, "User")

static int set_command(struct stack_walk *w, const struct snode *v, const char *path, json_t *obj, const char *field)
{
	json_t *argv = json_array();
	int rc = snode_is_null(v) ? 0 : stack_read_command(w, v, path, argv);
	if (rc == 0 && json_array_size(argv))
		json_object_set(obj, field, argv);
	json_decref(argv);
	return rc;
}

static int s_command(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	return set_command(w, v, path, ((struct stack_svc *)svc)->container, "Args");
}

static int s_entrypoint(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	return set_command(w, v, path, ((struct stack_svc *)svc)->container, "Command");
}

static int s_stop_grace_period(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	int64_t ns;
	if (stack_read_duration(w, v, path, &ns) != 0)
		return -1;
	json_object_set_new(((struct stack_svc *)svc)->container, "StopGracePeriod", json_integer(ns));
	return 0;
}

static int s_labels(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	return snode_is_null(v) ? 0 : stack_read_string_map(w, v, path, false, ((struct stack_svc *)svc)->labels);
}

static int s_environment(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	return snode_is_null(v) ? 0 : stack_read_string_map(w, v, path, true, ((struct stack_svc *)svc)->env);
}

static int s_restart(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	((struct stack_svc *)svc)->restart = v;
	json_object_set_new(SPEC(w)->ignored, "restart", json_true());
	return 0;
}

/* ---- env_file ---- */

static int env_file_one(struct stack_walk *w, const struct snode *v, const char *path, struct stack_svc *s)
{
	const struct stack_convert_in *in = SPEC(w)->in;
	const char *name;
	char full[8400], err[256], *text;
	size_t len;
	if (stack_read_string(w, v, path, &name) != 0)
		return -1;
	snprintf(full, sizeof(full), "%s%s%s", name[0] == '/' ? "" : in->workdir, name[0] == '/' ? "" : "/", name);
	if (stack_read_file(full, &text, &len, err, sizeof(err)) != 0) {
		stack_error_at(w->r, v, path, "cannot read env file %s: %s", full, err);
		return -1;
	}
	json_t *vars = json_object();
	int rc = stack_parse_env_lines(text, len, false, vars, err, sizeof(err));
	if (rc != 0)
		stack_error_at(w->r, v, path, "env file %s: %s", full, err);
	const char *key;
	json_t *value;
	json_object_foreach(vars, key, value) {
		const char *from_env = json_is_null(value) ? stack_env_lookup(in->env, key) : NULL;
		if (!json_is_null(value))
			json_object_set(s->file_env, key, value);
		else if (from_env) /* a bare KEY passes the caller's value through, or nothing */
			json_object_set_new(s->file_env, key, json_string(from_env));
	}
	json_decref(vars);
	free(text);
	return rc;
}

static int s_env_file(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	if (v->kind == SNODE_SCALAR)
		return env_file_one(w, v, path, svc);
	if (v->kind != SNODE_SEQ)
		return stack_expected(w, v, path, "a file name or a list of file names");
	int rc = 0;
	for (size_t i = 0; i < v->len; i++) {
		char sub[512];
		stack_path_index(sub, sizeof(sub), path, i);
		rc |= env_file_one(w, v->items[i], sub, svc);
	}
	return rc;
}

/* ---- ports ---- */

static int port_int(struct stack_walk *w, const struct snode *v, const char *path, void *port, const char *field,
		    int64_t min)
{
	int64_t n;
	if (stack_read_int(w, v, path, min, 65535, &n) != 0)
		return -1;
	if (n)
		json_object_set_new(port, field, json_integer(n));
	return 0;
}

static int p_target(struct stack_walk *w, const struct snode *v, const char *path, void *port)
{
	return port_int(w, v, path, port, "TargetPort", 1);
}

static int p_published(struct stack_walk *w, const struct snode *v, const char *path, void *port)
{
	return port_int(w, v, path, port, "PublishedPort", 0);
}

static int p_protocol(struct stack_walk *w, const struct snode *v, const char *path, void *port)
{
	static const char *const choices[] = {"tcp", "udp", "sctp", NULL};
	const char *c;
	if (stack_read_choice(w, v, path, choices, &c) != 0)
		return -1;
	json_object_set_new(port, "Protocol", json_string(c));
	return 0;
}

static int p_mode(struct stack_walk *w, const struct snode *v, const char *path, void *port)
{
	static const char *const choices[] = {"ingress", "host", NULL};
	const char *c;
	if (stack_read_choice(w, v, path, choices, &c) != 0)
		return -1;
	json_object_set_new(port, "PublishMode", json_string(c));
	return 0;
}

static const struct stack_key_rule port_rules[] = {
	{"target", p_target},
	{"published", p_published},
	{"protocol", p_protocol},
	{"mode", p_mode},
	{NULL, NULL},
};

/* The long syntax: docker passes the fields as written, unset ones absent. */
static int port_long(struct stack_walk *w, const struct snode *v, const char *path, json_t *ports)
{
	json_t *given = json_object();
	int rc = stack_walk_map(w, v, path, port_rules, NULL, given);
	if (rc == 0 && json_object_get(given, "TargetPort") == NULL) {
		stack_error_at(w->r, v, path, "a port needs a \"target\"");
		rc = -1;
	}
	if (rc == 0) {
		static const char *const order[] = {"Protocol", "TargetPort", "PublishedPort", "PublishMode", NULL};
		json_t *port = json_object();
		for (size_t i = 0; order[i]; i++)
			if (json_object_get(given, order[i]))
				json_object_set(port, order[i], json_object_get(given, order[i]));
		json_array_append_new(ports, port);
	}
	json_decref(given);
	return rc;
}

static int s_ports(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	json_t *ports = ((struct stack_svc *)svc)->ports;
	if (v->kind != SNODE_SEQ)
		return stack_expected(w, v, path, "a list of ports");
	int rc = 0;
	for (size_t i = 0; i < v->len; i++) {
		const struct snode *item = v->items[i];
		char sub[512], warn[256], err[256];
		stack_path_index(sub, sizeof(sub), path, i);
		if (item->kind == SNODE_MAP) {
			rc |= port_long(w, item, sub, ports);
		} else if (item->kind != SNODE_SCALAR || snode_is_null(item)) {
			rc = stack_expected(w, item, sub, "a port such as \"8080:80\" or a mapping with target");
		} else if (stack_parse_port(item->text, ports, warn, sizeof(warn), err, sizeof(err)) != 0) {
			stack_error_at(w->r, item, sub, "%s", err);
			rc = -1;
		} else if (warn[0]) {
			stack_warn(w->r, "%s", warn);
		}
		if (json_array_size(ports) > STACK_MAX_PORTS) {
			stack_error_at(w->r, item, sub, "more than %u ports in one service", STACK_MAX_PORTS);
			return -1;
		}
	}
	return rc;
}

/* ---- healthcheck ---- */

struct health {
	json_t *obj;
	const struct snode *disable; /* the disable: node when true */
	const struct snode *test;
};

static int h_test(struct stack_walk *w, const struct snode *v, const char *path, void *hc)
{
	struct health *h = hc;
	json_t *test = json_array();
	int rc = 0;
	if (v->kind == SNODE_SCALAR && !snode_is_null(v)) {
		json_array_append_new(test, json_string("CMD-SHELL"));
		json_array_append_new(test, json_string(v->text));
	} else {
		rc = v->kind == SNODE_SEQ ? stack_read_string_list(w, v, path, test)
					  : stack_expected(w, v, path, "a command string or a list");
	}
	if (json_array_size(test)) {
		json_object_set(h->obj, "Test", test);
		h->test = v;
	}
	json_decref(test);
	return rc;
}

static int h_duration(struct stack_walk *w, const struct snode *v, const char *path, json_t *obj, const char *field)
{
	int64_t ns;
	if (stack_read_duration(w, v, path, &ns) != 0)
		return -1;
	if (ns)
		json_object_set_new(obj, field, json_integer(ns));
	return 0;
}

static int h_interval(struct stack_walk *w, const struct snode *v, const char *path, void *hc)
{
	return h_duration(w, v, path, ((struct health *)hc)->obj, "Interval");
}

static int h_timeout(struct stack_walk *w, const struct snode *v, const char *path, void *hc)
{
	return h_duration(w, v, path, ((struct health *)hc)->obj, "Timeout");
}

static int h_start_period(struct stack_walk *w, const struct snode *v, const char *path, void *hc)
{
	return h_duration(w, v, path, ((struct health *)hc)->obj, "StartPeriod");
}

static int h_retries(struct stack_walk *w, const struct snode *v, const char *path, void *hc)
{
	int64_t n;
	if (stack_read_int(w, v, path, 0, INT32_MAX, &n) != 0)
		return -1;
	if (n)
		json_object_set_new(((struct health *)hc)->obj, "Retries", json_integer(n));
	return 0;
}

static int h_disable(struct stack_walk *w, const struct snode *v, const char *path, void *hc)
{
	bool b;
	if (stack_read_bool(w, v, path, &b) != 0)
		return -1;
	((struct health *)hc)->disable = b ? v : NULL;
	return 0;
}

static const struct stack_key_rule health_rules[] = {
	{"test", h_test},
	{"interval", h_interval},
	{"timeout", h_timeout},
	{"start_period", h_start_period},
	{"retries", h_retries},
	{"disable", h_disable},
	{NULL, NULL},
};

static int s_healthcheck(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	struct health h = {.obj = json_object()};
	int rc = snode_is_null(v) ? 0 : stack_walk_map(w, v, path, health_rules, NULL, &h);
	if (rc == 0 && h.disable && h.test) {
		stack_error_at(w->r, h.disable, path, "test and disable can't be set at the same time");
		rc = -1;
	}
	static const char *const order[] = {"Test", "Interval", "Timeout", "StartPeriod", "Retries", NULL};
	json_t *hc = json_object();
	if (h.disable)
		json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
	for (size_t i = 0; !h.disable && order[i]; i++)
		if (json_object_get(h.obj, order[i]))
			json_object_set(hc, order[i], json_object_get(h.obj, order[i]));
	json_object_set_new(((struct stack_svc *)svc)->container, "Healthcheck", hc);
	json_decref(h.obj);
	return rc;
}

/* ---- networks a service attaches to ---- */

static int sn_aliases(struct stack_walk *w, const struct snode *v, const char *path, void *aliases)
{
	return snode_is_null(v) ? 0 : stack_read_string_list(w, v, path, aliases);
}

static int sn_docker_only(struct stack_walk *w, const struct snode *key, const char *path)
{
	if (strcmp(key->text, "ipv4_address") == 0 || strcmp(key->text, "ipv6_address") == 0) {
		stack_error_at(w->r, key, path, "\"%s\" is not supported by swarmnode", key->text);
		return -1;
	}
	stack_error_at(w->r, key, path, "unknown key \"%s\"", key->text);
	return -1;
}

static const struct stack_key_rule service_network_rules[] = {
	{"aliases", sn_aliases},
	{NULL, NULL},
};

static int s_networks(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	struct stack_svc *s = svc;
	struct stack_conv *c = SPEC(w);
	if (v->kind != SNODE_MAP)
		return stack_expected(w, v, path, "a list of network names or a mapping");
	int rc = 0;
	for (size_t i = 0; i < v->len; i++) {
		const struct snode *key = v->items[2 * i], *value = v->items[2 * i + 1];
		char sub[512];
		stack_path_key(sub, sizeof(sub), path, key->text);
		if (strcmp(key->text, "default") != 0 && json_object_get(c->netdefs, key->text) == NULL) {
			stack_error_at(w->r, key, sub, "service \"%s\" references network \"%s\", which is not declared",
				       s->name, key->text);
			rc = -1;
			continue;
		}
		json_t *aliases = json_array();
		if (!snode_is_null(value))
			rc |= stack_walk_map(w, value, sub, service_network_rules, sn_docker_only, aliases);
		json_object_set_new(s->networks, key->text, aliases);
	}
	return rc;
}

static const struct stack_key_rule service_rules[] = {
	{"image", s_image},
	{"command", s_command},
	{"entrypoint", s_entrypoint},
	{"environment", s_environment},
	{"env_file", s_env_file},
	{"ports", s_ports},
	{"deploy", stack_convert_deploy},
	{"labels", s_labels},
	{"networks", s_networks},
	{"healthcheck", s_healthcheck},
	{"stop_grace_period", s_stop_grace_period},
	{"hostname", s_hostname},
	{"working_dir", s_working_dir},
	{"user", s_user},
	{"restart", s_restart},
	{"depends_on", NULL}, /* docker/cli ignores it without a word; so do we */
	{NULL, NULL},
};

/* ---- one service ---- */

static bool valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static void svc_init(struct stack_svc *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	stack_path_key(s->path, sizeof(s->path), "services", name);
	s->container = json_object();
	/* docker always sends Resources and Placement, empty or not. */
	s->task = json_pack("{s:{},s:{}}", "Resources", "Placement");
	s->spec = json_object();
	s->deploy_labels = json_object();
	s->labels = json_object();
	s->env = json_object();
	s->file_env = json_object();
	s->ports = json_array();
	s->networks = json_object();
}

static void svc_close(struct stack_svc *s)
{
	json_decref(s->container);
	json_decref(s->task);
	json_decref(s->spec);
	json_decref(s->deploy_labels);
	json_decref(s->labels);
	json_decref(s->env);
	json_decref(s->file_env);
	json_decref(s->ports);
	json_decref(s->networks);
}

/* Checks across keys, once the whole service is read. */
static int service_checks(struct stack_walk *w, const struct snode *key, const struct stack_svc *s)
{
	int rc = 0;
	if (s->mode && strcmp(s->mode, "global") == 0 && s->replicas) {
		stack_error_at(w->r, s->replicas, s->path, "deploy.replicas can only be used with replicated mode");
		rc = -1;
	}
	if (json_object_get(s->container, "Image") == NULL) {
		stack_error_at(w->r, key, s->path, "\"image\" is required");
		rc = -1;
	}
	return rc;
}

static int convert_service(struct stack_walk *w, const struct snode *key, const struct snode *value, json_t *out)
{
	struct stack_svc s;
	svc_init(&s, key->text);
	int rc = 0;
	if (!valid_name(key->text)) {
		stack_error_at(w->r, key, "services", "invalid service name \"%s\" (letters, digits, '.', '_', '-')",
			       key->text);
		rc = -1;
	} else if (stack_walk_map(w, value, s.path, service_rules, service_unknown, &s) != 0) {
		rc = -1;
	} else if (stack_convert_restart(w, &s) != 0 || service_checks(w, key, &s) != 0) {
		rc = -1;
	} else {
		json_array_append_new(out, stack_assemble_service(SPEC(w), &s));
	}
	svc_close(&s);
	return rc;
}

/* ---- top-level networks ---- */

struct netdef {
	json_t *create;       /* NetworkCreate fields */
	const char *name;     /* name: or external.name, NULL if unset */
	bool external;
};

static int n_driver(struct stack_walk *w, const struct snode *v, const char *path, void *nd)
{
	return set_string(w, v, path, ((struct netdef *)nd)->create, "Driver");
}

static int n_driver_opts(struct stack_walk *w, const struct snode *v, const char *path, void *nd)
{
	json_t *opts = json_object();
	int rc = snode_is_null(v) ? 0 : stack_read_string_map(w, v, path, false, opts);
	json_object_set_new(((struct netdef *)nd)->create, "Options", opts);
	return rc;
}

static int n_labels(struct stack_walk *w, const struct snode *v, const char *path, void *nd)
{
	json_t *labels = json_object();
	const struct snode *map = v;
	int rc = 0;
	if (v->kind == SNODE_SEQ) { /* the list form, as services' labels */
		for (size_t i = 0; i < v->len && rc == 0; i++) {
			const char *item;
			char sub[512];
			stack_path_index(sub, sizeof(sub), path, i);
			if ((rc = stack_read_string(w, v->items[i], sub, &item)) == 0) {
				const char *eq = strchr(item, '=');
				char *k = stack_xstrndup(item, eq ? (size_t)(eq - item) : strlen(item));
				json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
				free(k);
			}
		}
	} else if (!snode_is_null(map)) {
		rc = stack_read_string_map(w, map, path, false, labels);
	}
	json_object_set_new(((struct netdef *)nd)->create, "Labels", labels);
	return rc;
}

static int n_bool(struct stack_walk *w, const struct snode *v, const char *path, json_t *obj, const char *field)
{
	bool b;
	if (stack_read_bool(w, v, path, &b) != 0)
		return -1;
	json_object_set_new(obj, field, json_boolean(b));
	return 0;
}

static int n_attachable(struct stack_walk *w, const struct snode *v, const char *path, void *nd)
{
	return n_bool(w, v, path, ((struct netdef *)nd)->create, "Attachable");
}

static int n_internal(struct stack_walk *w, const struct snode *v, const char *path, void *nd)
{
	return n_bool(w, v, path, ((struct netdef *)nd)->create, "Internal");
}

static int n_name(struct stack_walk *w, const struct snode *v, const char *path, void *nd)
{
	return stack_read_string(w, v, path, &((struct netdef *)nd)->name);
}

static const struct stack_key_rule external_rules[] = {
	{"name", n_name},
	{NULL, NULL},
};

/* external: true, or the legacy external: {name: X}. */
static int n_external(struct stack_walk *w, const struct snode *v, const char *path, void *nd)
{
	struct netdef *d = nd;
	if (v->kind == SNODE_MAP) {
		d->external = true;
		return stack_walk_map(w, v, path, external_rules, NULL, d);
	}
	return stack_read_bool(w, v, path, &d->external);
}

static int network_docker_only(struct stack_walk *w, const struct snode *key, const char *path)
{
	if (strcmp(key->text, "ipam") == 0 || strcmp(key->text, "enable_ipv6") == 0) {
		stack_error_at(w->r, key, path, "\"%s\" is not supported by swarmnode", key->text);
		return -1;
	}
	stack_error_at(w->r, key, path, "unknown key \"%s\"", key->text);
	return -1;
}

static const struct stack_key_rule network_rules[] = {
	{"driver", n_driver},
	{"driver_opts", n_driver_opts},
	{"external", n_external},
	{"name", n_name},
	{"labels", n_labels},
	{"attachable", n_attachable},
	{"internal", n_internal},
	{NULL, NULL},
};

static int convert_network(struct stack_walk *w, const struct snode *key, const struct snode *value)
{
	struct stack_conv *c = SPEC(w);
	struct netdef d = {.create = json_object()};
	char path[512];
	int rc = 0;
	stack_path_key(path, sizeof(path), "networks", key->text);
	if (!valid_name(key->text)) {
		stack_error_at(w->r, key, "networks", "invalid network name \"%s\"", key->text);
		rc = -1;
	} else if (!snode_is_null(value)) {
		rc = stack_walk_map(w, value, path, network_rules, network_docker_only, &d);
	}
	if (rc == 0 && d.external && json_object_size(d.create)) {
		stack_error_at(w->r, key, path, "an external network takes no other settings than its name");
		rc = -1;
	}
	char scoped[512];
	snprintf(scoped, sizeof(scoped), "%s_%s", c->in->stack_name, key->text);
	const char *target = d.name ? d.name : d.external ? key->text : scoped;
	json_object_set_new(c->netdefs, key->text,
			    json_pack("{s:s,s:b,s:o}", "target", target, "external", d.external, "create", d.create));
	return rc;
}

/* ---- top level ---- */

static int t_version(struct stack_walk *w, const struct snode *v, const char *path, void *unused)
{
	const char *s;
	if (stack_read_string(w, v, path, &s) != 0)
		return -1;
	if (!(s[0] == '3' && (s[1] == '\0' || s[1] == '.'))) {
		stack_error_at(w->r, v, path, "unsupported Compose file version: %s (swarm mode needs 3.x)", s);
		return -1;
	}
	return 0;
}

static int t_name(struct stack_walk *w, const struct snode *v, const char *path, void *unused)
{
	const char *s;
	return stack_read_string(w, v, path, &s);
}

static int t_networks(struct stack_walk *w, const struct snode *v, const char *path, void *unused)
{
	if (snode_is_null(v))
		return 0;
	if (v->kind != SNODE_MAP)
		return stack_expected(w, v, path, "a mapping of networks");
	int rc = 0;
	for (size_t i = 0; i < v->len; i++)
		if (strncmp(v->items[2 * i]->text, "x-", 2) != 0)
			rc |= convert_network(w, v->items[2 * i], v->items[2 * i + 1]);
	return rc;
}

/* Top-level sections docker deploys and swarmnode does not: allowed empty. */
static int t_unimplemented(struct stack_walk *w, const struct snode *v, const char *path, void *unused)
{
	if (snode_is_null(v) || (v->kind == SNODE_MAP && v->len == 0))
		return 0;
	stack_error_at(w->r, v, path, "top-level %s are not supported by swarmnode", path);
	return -1;
}

static const struct stack_key_rule top_rules[] = {
	{"version", t_version},
	{"name", t_name},
	{"services", NULL}, /* converted after the networks they refer to */
	{"networks", t_networks},
	{"volumes", t_unimplemented},
	{"secrets", t_unimplemented},
	{"configs", t_unimplemented},
	{NULL, NULL},
};

static int convert_services(struct stack_walk *w, const struct snode *root, json_t *out)
{
	const struct snode *services = snode_get(root, "services");
	size_t defined = 0;
	for (size_t i = 0; services && services->kind == SNODE_MAP && i < services->len; i++)
		defined += strncmp(services->items[2 * i]->text, "x-", 2) != 0;
	if (services == NULL || snode_is_null(services) || (services->kind == SNODE_MAP && defined == 0)) {
		stack_error_at(w->r, services ? services : root, "services", "the stack defines no services");
		return -1;
	}
	if (services->kind != SNODE_MAP)
		return stack_expected(w, services, "services", "a mapping of services");
	/* Sorted by name, as docker/cli orders them. */
	size_t n = services->len;
	size_t *order = stack_xalloc((n + 1) * sizeof(*order));
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		for (; j > 0 && strcmp(services->items[2 * order[j - 1]]->text, services->items[2 * i]->text) > 0; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct snode *key = services->items[2 * order[i]];
		if (strncmp(key->text, "x-", 2) != 0)
			rc |= convert_service(w, key, services->items[2 * order[i] + 1], out);
	}
	free(order);
	return rc;
}

static void ignored_warnings(struct stack_walk *w, const struct stack_conv *c)
{
	char line[1024] = "";
	if (json_object_size(c->ignored)) {
		/* jansson keeps insertion order; docker prints them sorted. */
		size_t used = 0;
		for (size_t i = 0; unsupported_keys[i]; i++)
			if (json_object_get(c->ignored, unsupported_keys[i]))
				used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", used ? ", " : "",
							 unsupported_keys[i]);
		stack_warn(w->r, "Ignoring unsupported options: %s", line);
	}
	if (json_object_size(c->deprecated)) {
		size_t used = 0;
		for (size_t i = 0; deprecated_keys[i][0]; i++)
			if (json_object_get(c->deprecated, deprecated_keys[i][0]))
				used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s: %s", used ? "\n\n" : "",
							 deprecated_keys[i][0], deprecated_keys[i][1]);
		stack_warn(w->r, "Ignoring deprecated options:\n\n%s", line);
	}
}

int stack_convert(const struct stack_convert_in *in, struct stack_convert_out *out, struct stack_report *r)
{
	struct stack_conv c = {.in = in, .ignored = json_object(), .deprecated = json_object(),
			       .netdefs = json_object(), .used_nets = json_object()};
	struct stack_walk w = {.r = r, .data = &c};
	json_t *services = json_array();
	int rc = stack_walk_map(&w, in->root, "", top_rules, NULL, NULL);
	rc |= convert_services(&w, in->root, services);
	if (rc == 0) {
		ignored_warnings(&w, &c);
		out->services = services;
		out->networks = json_array();
		out->external_networks = json_array();
		stack_assemble_networks(&c, out->networks, out->external_networks);
		out->ignored = json_array();
		for (size_t i = 0; unsupported_keys[i]; i++)
			if (json_object_get(c.ignored, unsupported_keys[i]))
				json_array_append_new(out->ignored, json_string(unsupported_keys[i]));
	} else {
		json_decref(services);
	}
	json_decref(c.ignored);
	json_decref(c.deprecated);
	json_decref(c.netdefs);
	json_decref(c.used_nets);
	return rc == 0 ? 0 : -1;
}
