/* stack_deploy: a service's deploy: section -> Mode, Resources, RestartPolicy,
 * Placement, UpdateConfig, RollbackConfig, EndpointSpec.Mode (docker/cli convert/service.go). */
#include "stack_convert.h"

#include <stdio.h>
#include <string.h>

#include "swarmnode/stack_units.h"

/* Keys of docker's compose schema that swarmnode's services do not have. */
static int docker_only(struct stack_walk *w, const struct snode *key, const char *path)
{
	static const char *const keys[] = {"preferences", "max_replicas_per_node", "pids", "generic_resources",
					   "devices", NULL};
	for (size_t i = 0; keys[i]; i++)
		if (strcmp(key->text, keys[i]) == 0) {
			stack_error_at(w->r, key, path, "\"%s\" is not supported by swarmnode", key->text);
			return -1;
		}
	stack_error_at(w->r, key, path, "unknown key \"%s\"", key->text);
	return -1;
}

static int set_duration(struct stack_walk *w, const struct snode *v, const char *path, json_t *obj,
			const char *field)
{
	int64_t ns;
	if (stack_read_duration(w, v, path, &ns) != 0)
		return -1;
	json_object_set_new(obj, field, json_integer(ns));
	return 0;
}

/* ---- resources ---- */

static int res_cpus(struct stack_walk *w, const struct snode *v, const char *path, void *obj)
{
	int64_t nano;
	char err[256];
	if (v->kind != SNODE_SCALAR || snode_is_null(v))
		return stack_expected(w, v, path, "a CPU count such as \"0.5\"");
	if (stack_parse_cpus(v->text, &nano, err, sizeof(err)) != 0) {
		stack_error_at(w->r, v, path, "%s", err);
		return -1;
	}
	if (nano)
		json_object_set_new(obj, "NanoCPUs", json_integer(nano));
	return 0;
}

static int res_memory(struct stack_walk *w, const struct snode *v, const char *path, void *obj)
{
	int64_t bytes;
	if (stack_read_bytes(w, v, path, &bytes) != 0)
		return -1;
	if (bytes)
		json_object_set_new(obj, "MemoryBytes", json_integer(bytes));
	return 0;
}

static const struct stack_key_rule resource_rules[] = {
	{"cpus", res_cpus},
	{"memory", res_memory},
	{NULL, NULL},
};

/* Sets obj[field] to given's members in order (Go's struct field order:
 * the keys a merge brings may come in any order). */
static void set_ordered(json_t *obj, const char *field, json_t *given, const char *const *order)
{
	json_t *out = json_object();
	for (size_t i = 0; order[i]; i++)
		if (json_object_get(given, order[i]))
			json_object_set(out, order[i], json_object_get(given, order[i]));
	json_object_set_new(obj, field, out);
}

static int res_part(struct stack_walk *w, const struct snode *v, const char *path, json_t *resources,
		    const char *field)
{
	static const char *const order[] = {"NanoCPUs", "MemoryBytes", NULL};
	json_t *given = json_object();
	int rc = snode_is_null(v) ? 0 : stack_walk_map(w, v, path, resource_rules, docker_only, given);
	set_ordered(resources, field, given, order);
	json_decref(given);
	return rc;
}

static int res_limits(struct stack_walk *w, const struct snode *v, const char *path, void *resources)
{
	return res_part(w, v, path, resources, "Limits");
}

static int res_reservations(struct stack_walk *w, const struct snode *v, const char *path, void *resources)
{
	return res_part(w, v, path, resources, "Reservations");
}

static const struct stack_key_rule resources_rules[] = {
	{"limits", res_limits},
	{"reservations", res_reservations},
	{NULL, NULL},
};

/* ---- restart_policy ---- */

static int rp_condition(struct stack_walk *w, const struct snode *v, const char *path, void *rp)
{
	static const char *const choices[] = {"none", "on-failure", "any", NULL};
	const char *c;
	if (stack_read_choice(w, v, path, choices, &c) != 0)
		return -1;
	json_object_set_new(rp, "Condition", json_string(c));
	return 0;
}

static int rp_delay(struct stack_walk *w, const struct snode *v, const char *path, void *rp)
{
	return set_duration(w, v, path, rp, "Delay");
}

static int rp_max_attempts(struct stack_walk *w, const struct snode *v, const char *path, void *rp)
{
	int64_t n;
	if (stack_read_int(w, v, path, 0, INT64_MAX, &n) != 0)
		return -1;
	json_object_set_new(rp, "MaxAttempts", json_integer(n));
	return 0;
}

static int rp_window(struct stack_walk *w, const struct snode *v, const char *path, void *rp)
{
	return set_duration(w, v, path, rp, "Window");
}

static const struct stack_key_rule restart_rules[] = {
	{"condition", rp_condition},
	{"delay", rp_delay},
	{"max_attempts", rp_max_attempts},
	{"window", rp_window},
	{NULL, NULL},
};

int stack_convert_restart(struct stack_walk *w, struct stack_svc *s)
{
	const struct snode *v = s->restart;
	const char *policy;
	char path[512];
	if (v == NULL || s->has_restart_policy)
		return 0;
	stack_path_key(path, sizeof(path), s->path, "restart");
	if (stack_read_string(w, v, path, &policy) != 0)
		return -1;
	json_t *rp = json_object();
	if (strcmp(policy, "always") == 0 || strcmp(policy, "unless-stopped") == 0) {
		json_object_set_new(rp, "Condition", json_string("any"));
	} else if (strncmp(policy, "on-failure", 10) == 0 && (policy[10] == '\0' || policy[10] == ':')) {
		long long attempts = 0;
		char extra;
		if (policy[10] == ':' && sscanf(policy + 11, "%lld%c", &attempts, &extra) != 1)
			attempts = -1;
		if (attempts < 0) {
			json_decref(rp);
			stack_error_at(w->r, v, path, "invalid restart policy \"%s\": the retry count must be a non-negative integer",
				       policy);
			return -1;
		}
		json_object_set_new(rp, "Condition", json_string("on-failure"));
		json_object_set_new(rp, "MaxAttempts", json_integer(attempts));
	} else if (strcmp(policy, "no") != 0 && policy[0] != '\0') {
		json_decref(rp);
		stack_error_at(w->r, v, path, "unknown restart policy \"%s\"", policy);
		return -1;
	} else {
		json_decref(rp); /* "no": no policy, as docker sends none */
		return 0;
	}
	json_object_set_new(s->task, "RestartPolicy", rp);
	return 0;
}

/* ---- update_config, rollback_config ---- */

static int uc_parallelism(struct stack_walk *w, const struct snode *v, const char *path, void *uc)
{
	int64_t n;
	if (stack_read_int(w, v, path, 0, INT64_MAX, &n) != 0)
		return -1;
	json_object_set_new(uc, "Parallelism", json_integer(n));
	return 0;
}

static int uc_delay(struct stack_walk *w, const struct snode *v, const char *path, void *uc)
{
	return set_duration(w, v, path, uc, "Delay");
}

static int uc_monitor(struct stack_walk *w, const struct snode *v, const char *path, void *uc)
{
	return set_duration(w, v, path, uc, "Monitor");
}

static int uc_failure_action(struct stack_walk *w, const struct snode *v, const char *path, void *uc)
{
	static const char *const choices[] = {"continue", "rollback", "pause", NULL};
	const char *c;
	if (stack_read_choice(w, v, path, choices, &c) != 0)
		return -1;
	json_object_set_new(uc, "FailureAction", json_string(c));
	return 0;
}

static int uc_max_failure_ratio(struct stack_walk *w, const struct snode *v, const char *path, void *uc)
{
	double ratio;
	if (stack_read_float(w, v, path, 0, 1, &ratio) != 0)
		return -1;
	json_object_set_new(uc, "MaxFailureRatio", json_real(ratio));
	return 0;
}

static int uc_order(struct stack_walk *w, const struct snode *v, const char *path, void *uc)
{
	static const char *const choices[] = {"stop-first", "start-first", NULL};
	const char *c;
	if (stack_read_choice(w, v, path, choices, &c) != 0)
		return -1;
	json_object_set_new(uc, "Order", json_string(c));
	return 0;
}

static const struct stack_key_rule update_rules[] = {
	{"parallelism", uc_parallelism},
	{"delay", uc_delay},
	{"failure_action", uc_failure_action},
	{"monitor", uc_monitor},
	{"max_failure_ratio", uc_max_failure_ratio},
	{"order", uc_order},
	{NULL, NULL},
};

/* Docker's UpdateConfig: Parallelism defaults to 1 and it, MaxFailureRatio
 * and Order are always sent; the rest only when set. */
static int update_config(struct stack_walk *w, const struct snode *v, const char *path, json_t *spec,
			 const char *field)
{
	json_t *given = json_object();
	int rc = snode_is_null(v) ? 0 : stack_walk_map(w, v, path, update_rules, NULL, given);
	json_t *uc = json_object();
	json_t *parallelism = json_object_get(given, "Parallelism");
	json_object_set_new(uc, "Parallelism", parallelism ? json_incref(parallelism) : json_integer(1));
	static const char *const optional[] = {"Delay", "FailureAction", "Monitor", NULL};
	for (size_t i = 0; optional[i]; i++)
		if (json_object_get(given, optional[i]))
			json_object_set(uc, optional[i], json_object_get(given, optional[i]));
	json_t *ratio = json_object_get(given, "MaxFailureRatio");
	json_object_set_new(uc, "MaxFailureRatio", ratio ? json_incref(ratio) : json_integer(0));
	json_t *order = json_object_get(given, "Order");
	json_object_set_new(uc, "Order", order ? json_incref(order) : json_string(""));
	json_object_set_new(spec, field, uc);
	json_decref(given);
	return rc;
}

/* ---- deploy ---- */

static int d_mode(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	static const char *const choices[] = {"replicated", "global", NULL};
	return stack_read_choice(w, v, path, choices, &((struct stack_svc *)svc)->mode);
}

static int d_replicas(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	struct stack_svc *s = svc;
	if (stack_read_int(w, v, path, 0, INT64_MAX, &s->replica_count) != 0)
		return -1;
	s->replicas = v;
	return 0;
}

static int pl_constraints(struct stack_walk *w, const struct snode *v, const char *path, void *placement)
{
	json_t *list = json_array();
	int rc = stack_read_string_list(w, v, path, list);
	if (json_array_size(list))
		json_object_set(placement, "Constraints", list);
	json_decref(list);
	return rc;
}

static const struct stack_key_rule placement_rules[] = {
	{"constraints", pl_constraints},
	{NULL, NULL},
};

static int d_placement(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	if (snode_is_null(v))
		return 0;
	json_t *placement = json_object_get(((struct stack_svc *)svc)->task, "Placement");
	return stack_walk_map(w, v, path, placement_rules, docker_only, placement);
}

static int d_resources(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	if (snode_is_null(v))
		return 0;
	json_t *resources = json_object_get(((struct stack_svc *)svc)->task, "Resources");
	return stack_walk_map(w, v, path, resources_rules, docker_only, resources);
}

static int d_restart_policy(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	static const char *const order[] = {"Condition", "Delay", "MaxAttempts", "Window", NULL};
	struct stack_svc *s = svc;
	json_t *given = json_object();
	s->has_restart_policy = true;
	int rc = snode_is_null(v) ? 0 : stack_walk_map(w, v, path, restart_rules, NULL, given);
	set_ordered(s->task, "RestartPolicy", given, order);
	json_decref(given);
	return rc;
}

static int d_update_config(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	return update_config(w, v, path, ((struct stack_svc *)svc)->spec, "UpdateConfig");
}

static int d_rollback_config(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	return update_config(w, v, path, ((struct stack_svc *)svc)->spec, "RollbackConfig");
}

static int d_labels(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	if (snode_is_null(v))
		return 0;
	return stack_read_string_map(w, v, path, false, ((struct stack_svc *)svc)->deploy_labels);
}

static int d_endpoint_mode(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	static const char *const choices[] = {"vip", "dnsrr", NULL};
	return stack_read_choice(w, v, path, choices, &((struct stack_svc *)svc)->endpoint_mode);
}

static const struct stack_key_rule deploy_rules[] = {
	{"mode", d_mode},
	{"replicas", d_replicas},
	{"placement", d_placement},
	{"resources", d_resources},
	{"restart_policy", d_restart_policy},
	{"update_config", d_update_config},
	{"rollback_config", d_rollback_config},
	{"labels", d_labels},
	{"endpoint_mode", d_endpoint_mode},
	{NULL, NULL},
};

int stack_convert_deploy(struct stack_walk *w, const struct snode *v, const char *path, void *svc)
{
	if (snode_is_null(v))
		return 0;
	return stack_walk_map(w, v, path, deploy_rules, docker_only, svc);
}
