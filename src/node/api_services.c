/* api_services: /services and /tasks from the replicated store: reads behind a
 * ReadIndex barrier, writes as store transactions through the Raft leader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api_internal.h"
#include "swarmnode/ids.h"
#include "swarmnode/manager.h"
#include "swarmnode/service_spec.h"
#include "swarmnode/swarm.h"

/* A service name dockerd would generate is tried this many times before giving up. */
#define RANDOM_NAME_TRIES 16

static const struct store *api_store(struct api *api)
{
	return manager_store(api->swarm->manager);
}

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* --- filters ------------------------------------------------------------------------- */

/* Parses ?filters= (Docker's {"key":{"value":true}} or the older {"key":["value"]})
 * into an object of key -> array of strings (new reference), refusing keys
 * not in allowed. NULL after answering 400. */
static json_t *parse_filters(struct http_request *req, const char *const *allowed)
{
	char raw[4096];
	json_error_t jerr;
	json_t *out = json_object(), *in, *vals, *v;
	const char *key, *name;
	if (!api_query(req, "filters", raw, sizeof(raw)) || raw[0] == '\0')
		return out;
	if ((in = json_loads(raw, 0, &jerr)) == NULL || !json_is_object(in)) {
		api_reply_error(req, 400, "invalid filter: %s", in ? "expected a JSON object" : jerr.text);
		goto refused;
	}
	json_object_foreach(in, key, vals) {
		bool known = false;
		for (const char *const *a = allowed; *a && !known; a++)
			known = strcmp(*a, key) == 0;
		if (!known) {
			api_reply_error(req, 400, "invalid filter '%s'", key);
			goto refused;
		}
		json_t *list = json_array();
		json_object_set_new(out, key, list);
		if (json_is_object(vals)) {
			json_object_foreach(vals, name, v)
				json_array_append_new(list, json_string(name));
		} else if (json_is_array(vals)) {
			size_t i;
			json_array_foreach(vals, i, v)
				if (json_is_string(v))
					json_array_append(list, v);
		} else {
			api_reply_error(req, 400, "invalid filter '%s': expected an object of values", key);
			goto refused;
		}
	}
	json_decref(in);
	return out;
refused:
	json_decref(in);
	json_decref(out);
	return NULL;
}

/* True when no value is given for key, or s starts with one of them. */
static bool match_prefix(const json_t *filters, const char *key, const char *s)
{
	json_t *vals = json_object_get(filters, key), *v;
	size_t i;
	if (json_array_size(vals) == 0)
		return true;
	json_array_foreach(vals, i, v)
		if (strncmp(s, json_string_value(v), strlen(json_string_value(v))) == 0)
			return true;
	return false;
}

/* True when no value is given for key, or s equals one of them. */
static bool match_exact(const json_t *filters, const char *key, const char *s)
{
	json_t *vals = json_object_get(filters, key), *v;
	size_t i;
	if (json_array_size(vals) == 0)
		return true;
	json_array_foreach(vals, i, v)
		if (strcmp(s, json_string_value(v)) == 0)
			return true;
	return false;
}

/* Every "label" filter ("key" or "key=value") holds in labels. */
static bool match_labels(const json_t *filters, const json_t *labels)
{
	json_t *vals = json_object_get(filters, "label"), *v;
	size_t i;
	json_array_foreach(vals, i, v) {
		const char *f = json_string_value(v), *eq = strchr(f, '=');
		char key[512];
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - f) : (int)strlen(f), f);
		json_t *have = json_object_get(labels, key);
		if (have == NULL || (eq && strcmp(json_string_value(have) ? json_string_value(have) : "", eq + 1) != 0))
			return false;
	}
	return true;
}

/* --- /services reads ------------------------------------------------------------------- */

static bool is_global(const json_t *service)
{
	return service_spec_is_global(json_object_get(service, "Spec"));
}

/* Docker's ServiceStatus, counted as swarmkit does: running tasks whatever
 * their desired state; desired = replicas, or for a global service the tasks
 * meant to run. CompletedTasks counts jobs' tasks, and swarmnode has no jobs. */
static json_t *service_status(const struct store *st, const json_t *service)
{
	const char *id = jstr(service, "ID");
	size_t n = store_tasks_by_service(st, id, NULL, 0);
	json_t **tasks = calloc(n + 1, sizeof(*tasks));
	json_int_t running = 0, desired = 0;
	bool global = is_global(service);
	if (tasks == NULL)
		return NULL;
	store_tasks_by_service(st, id, tasks, n);
	for (size_t i = 0; i < n; i++) {
		running += strcmp(jstr(json_object_get(tasks[i], "Status"), "State"), "running") == 0;
		desired += global && strcmp(jstr(tasks[i], "DesiredState"), "running") == 0;
	}
	free(tasks);
	if (!global)
		desired = json_integer_value(json_object_get(json_object_get(json_object_get(json_object_get(service,
			"Spec"), "Mode"), "Replicated"), "Replicas"));
	return json_pack("{s:I, s:I, s:I}", "RunningTasks", running, "DesiredTasks", desired, "CompletedTasks",
			 (json_int_t)0);
}

static bool service_matches(const json_t *filters, const json_t *service)
{
	const json_t *spec = json_object_get(service, "Spec");
	if (!match_prefix(filters, "id", jstr(service, "ID")) || !match_prefix(filters, "name", jstr(spec, "Name")) ||
	    !match_labels(filters, json_object_get(spec, "Labels")))
		return false;
	return match_exact(filters, "mode", is_global(service) ? "global" : "replicated");
}

static void services_list(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	static const char *const allowed[] = {"id", "name", "label", "mode", NULL};
	const struct store *st = api_store(api);
	json_t *filters = parse_filters(req, allowed), *v;
	size_t i;
	(void)body;
	(void)ref;
	if (filters == NULL)
		return;
	json_array_foreach(json_object_get(filters, "mode"), i, v)
		if (strcmp(json_string_value(v), "replicated") != 0 && strcmp(json_string_value(v), "global") != 0) {
			api_reply_error(req, 400, "Invalid filter: 'mode'='%s'", json_string_value(v));
			json_decref(filters);
			return;
		}
	bool status = api_query_bool(req, "status");
	json_t *list = json_array();
	for (i = 0; i < store_count(st, STORE_KIND_SERVICE); i++) {
		json_t *s = store_at(st, STORE_KIND_SERVICE, i);
		if (!service_matches(filters, s))
			continue;
		json_t *copy = json_deep_copy(s);
		if (status)
			json_object_set_new(copy, "ServiceStatus", service_status(st, s));
		json_array_append_new(list, copy);
	}
	json_decref(filters);
	api_reply_json(req, 200, list);
}

static void h_services_list(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, services_list);
}

/* Resolves a service reference (id, name, id prefix) or answers 404/400. */
static json_t *find_service(struct api *api, struct http_request *req, const char *ref)
{
	char err[STORE_MSG_MAX];
	json_t *s;
	int rc = store_resolve(api_store(api), STORE_KIND_SERVICE, ref, &s, err, sizeof(err));
	if (rc == 0)
		return s;
	api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
	return NULL;
}

static void service_inspect(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	json_t *s = find_service(api, req, ref);
	(void)body;
	if (s == NULL)
		return;
	json_t *copy = json_deep_copy(s);
	if (api_query_bool(req, "insertDefaults"))
		json_object_set_new(copy, "Spec", service_spec_with_defaults(json_object_get(s, "Spec")));
	api_reply_json(req, 200, copy);
}

static void h_service_inspect(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, service_inspect);
}

/* --- /services writes ------------------------------------------------------------------ */

/* Checks spec and returns it with the defaults filled (new reference), or
 * NULL after answering 400. */
static json_t *checked_spec(struct http_request *req, const json_t *spec)
{
	char err[SERVICE_SPEC_ERR_MAX];
	if (service_spec_check(spec, err, sizeof(err)) != 0) {
		api_reply_error(req, 400, "%s", err);
		return NULL;
	}
	json_t *full = service_spec_with_defaults(spec);
	if (full == NULL)
		api_reply_error(req, 500, "out of memory");
	return full;
}

/* Refuses published ports other services hold and builds the Endpoint
 * (ingress ports allocated); self is the service being updated or NULL.
 * NULL after answering. */
static json_t *endpoint_for(struct api *api, struct http_request *req, const json_t *spec, const json_t *self)
{
	const struct store *st = api_store(api);
	char err[SERVICE_SPEC_ERR_MAX];
	struct service_port_set *used = malloc(sizeof(*used));
	json_t *endpoint = NULL;
	if (used == NULL) {
		api_reply_error(req, 500, "out of memory");
		return NULL;
	}
	service_port_set_clear(used);
	/* Only a spec that publishes ports needs the others' ports: skip the walk
	 * over every service otherwise (it made creates O(services)). */
	json_t *ports = json_object_get(json_object_get(spec, "EndpointSpec"), "Ports");
	size_t n = json_array_size(ports) > 0 ? store_count(st, STORE_KIND_SERVICE) : 0;
	for (size_t i = 0; i < n; i++) {
		json_t *other = store_at(st, STORE_KIND_SERVICE, i);
		if (other == self)
			continue;
		if (service_ports_conflict(spec, other, err, sizeof(err)) != 0) {
			api_reply_error(req, 400, "%s", err);
			goto out;
		}
		service_port_set_add_service(used, other);
	}
	int rc = service_endpoint_build(spec, self ? json_object_get(self, "Endpoint") : NULL, used, &endpoint, err,
					sizeof(err));
	if (rc != 0)
		api_reply_error(req, rc == -ENOMEM ? 500 : 400, "%s", err);
out:
	free(used);
	return endpoint;
}

/* A spec without a name gets one as dockerd gives it ("eager_turing"). */
static int name_if_missing(const struct store *st, json_t *spec)
{
	const char *name = json_string_value(json_object_get(spec, "Name"));
	if (name != NULL && *name != '\0')
		return 0;
	char generated[SERVICE_NAME_MAX + 1];
	for (int i = 0; i < RANDOM_NAME_TRIES; i++) {
		service_spec_random_name(randombytes_random(), generated);
		if (store_find(st, STORE_INDEX_SERVICE_NAME, generated, NULL, 0) == 0)
			return json_object_set_new(spec, "Name", json_string(generated));
	}
	return -EEXIST;
}

/* Proposes txn unless building it failed (rc, with err); frees txn. */
static void propose_one(struct api *api, struct http_request *req, struct store_txn *txn, int rc, const char *err,
			int ok_status, json_t *ok_body)
{
	if (txn == NULL || rc != 0) {
		api_reply_error(req, txn == NULL || rc == STORE_E_NOMEM ? 500 : 400, "%s",
				txn == NULL || rc == STORE_E_NOMEM ? "out of memory" : err);
		json_decref(ok_body);
	} else {
		api_propose(api, req, txn, ok_status, ok_body);
	}
	store_txn_free(txn);
}

static void service_create(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	char id[IDS_LEN + 1], err[STORE_MSG_MAX] = "";
	uint8_t entropy[IDS_ENTROPY];
	(void)ref;
	if (!json_is_object(body)) {
		api_reply_error(req, 400, "a ServiceSpec JSON object is required");
		return;
	}
	json_t *raw = json_deep_copy(body);
	if (name_if_missing(api_store(api), raw) != 0) {
		api_reply_error(req, 500, "cannot generate a free service name; give one with Name");
		json_decref(raw);
		return;
	}
	json_t *spec = checked_spec(req, raw);
	json_decref(raw);
	if (spec == NULL)
		return;
	json_t *endpoint = api_networks_resolve_spec(api, req, spec) ? endpoint_for(api, req, spec, NULL) : NULL;
	if (endpoint == NULL) {
		json_decref(spec);
		return;
	}
	randombytes_buf(entropy, sizeof(entropy));
	ids_format(entropy, id);
	json_t *obj = json_pack("{s:s, s:o, s:o}", "ID", id, "Spec", spec, "Endpoint", endpoint);
	struct store_txn *txn = store_txn_new(api_now_ns());
	int rc = txn ? store_txn_create(txn, STORE_KIND_SERVICE, obj, err, sizeof(err)) : STORE_E_NOMEM;
	json_decref(obj);
	propose_one(api, req, txn, rc, err, 201, json_pack("{s:s, s:n}", "ID", id, "Warnings"));
}

static void h_service_create(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, service_create);
}

/* ?version=N. false after answering 400. */
static bool version_param(struct http_request *req, uint64_t *out)
{
	char v[32], *end;
	if (!api_query(req, "version", v, sizeof(v)) || *v == '\0') {
		api_reply_error(req, 400, "version is required: the Version.Index of the service being updated");
		return false;
	}
	*out = strtoull(v, &end, 10);
	if (*end != '\0' || v[0] == '-') {
		api_reply_error(req, 400, "invalid version \"%s\"", v);
		return false;
	}
	return true;
}

/* The spec an update asks for: the body, or with ?rollback=previous the
 * service's PreviousSpec. NULL after answering. */
static json_t *requested_spec(struct http_request *req, const json_t *stored, json_t *body, bool *rollback)
{
	char mode[32];
	api_query(req, "rollback", mode, sizeof(mode));
	*rollback = strcmp(mode, "previous") == 0;
	if (mode[0] != '\0' && !*rollback) {
		api_reply_error(req, 400, "invalid rollback \"%s\": the only value is \"previous\"", mode);
		return NULL;
	}
	json_t *spec = *rollback ? json_object_get(stored, "PreviousSpec") : body;
	if (*rollback && !json_is_object(spec)) {
		api_reply_error(req, 400, "service %s does not have a previous spec", jstr(stored, "ID"));
		return NULL;
	}
	if (!json_is_object(spec)) {
		api_reply_error(req, 400, "a ServiceSpec JSON object is required");
		return NULL;
	}
	return checked_spec(req, spec);
}

/* swarmkit refuses what its orchestrator cannot do in place (501, as dockerd). */
static bool update_allowed(struct http_request *req, const json_t *old_spec, const json_t *new_spec)
{
	if (service_spec_is_global(old_spec) != service_spec_is_global(new_spec)) {
		api_reply_error(req, 501, "service mode change is not allowed");
		return false;
	}
	if (strcmp(jstr(old_spec, "Name"), jstr(new_spec, "Name")) != 0) {
		api_reply_error(req, 501, "renaming services is not supported");
		return false;
	}
	return true;
}

/* The service after the update: Spec replaced, the old one kept as
 * PreviousSpec; a rollback swaps them and starts a rollback as swarmkit does. */
static json_t *updated_service(const json_t *stored, json_t *spec, json_t *endpoint, bool rollback)
{
	json_t *obj = json_deep_copy(stored);
	json_object_set(obj, "PreviousSpec", json_object_get(stored, "Spec"));
	json_object_set_new(obj, "Spec", spec);
	json_object_set_new(obj, "Endpoint", endpoint);
	json_object_del(obj, "UpdateStatus");
	if (rollback) {
		char now[STORE_TIME_MAX];
		store_time_format(api_now_ns(), now);
		json_object_set_new(obj, "UpdateStatus", json_pack("{s:s, s:s, s:s}", "State", "rollback_started",
			"StartedAt", now, "Message", "manually requested rollback"));
	}
	return obj;
}

static void service_update(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	char err[STORE_MSG_MAX] = "";
	uint64_t version;
	bool rollback;
	json_t *stored, *spec, *endpoint;
	if (!version_param(req, &version) || (stored = find_service(api, req, ref)) == NULL ||
	    (spec = requested_spec(req, stored, body, &rollback)) == NULL)
		return;
	if (!update_allowed(req, json_object_get(stored, "Spec"), spec) || !api_networks_resolve_spec(api, req, spec) ||
	    (endpoint = endpoint_for(api, req, spec, stored)) == NULL) {
		json_decref(spec);
		return;
	}
	json_t *obj = updated_service(stored, spec, endpoint, rollback);
	struct store_txn *txn = store_txn_new(api_now_ns());
	int rc = txn ? store_txn_update(txn, STORE_KIND_SERVICE, jstr(stored, "ID"), version, obj, err, sizeof(err))
		     : STORE_E_NOMEM;
	json_decref(obj);
	propose_one(api, req, txn, rc, err, 200, json_pack("{s:n}", "Warnings"));
}

static void h_service_update(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, service_update);
}

/* The service goes; the orchestrator on the leader then stops and removes its tasks. */
static void service_delete(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	char err[STORE_MSG_MAX] = "";
	json_t *stored = find_service(api, req, ref);
	(void)body;
	if (stored == NULL)
		return;
	struct store_txn *txn = store_txn_new(api_now_ns());
	int rc = txn ? store_txn_delete(txn, STORE_KIND_SERVICE, jstr(stored, "ID"), 0, err, sizeof(err))
		     : STORE_E_NOMEM;
	propose_one(api, req, txn, rc, err, 200, NULL);
}

static void h_service_delete(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, service_delete);
}

/* --- /tasks ------------------------------------------------------------------------------ */

/* Replaces each reference of filter key (names, prefixes) by the full id it
 * resolves to, as dockerd does for "service" and "node". false after answering. */
static bool resolve_filter_refs(struct api *api, struct http_request *req, json_t *filters, const char *key,
				enum store_kind kind)
{
	json_t *vals = json_object_get(filters, key), *v;
	size_t i;
	char err[STORE_MSG_MAX];
	json_array_foreach(vals, i, v) {
		json_t *obj;
		int rc = store_resolve(api_store(api), kind, json_string_value(v), &obj, err, sizeof(err));
		if (rc == STORE_E_NOT_FOUND && kind == STORE_KIND_NODE && ids_valid(json_string_value(v)))
			continue; /* a node gossip knows that the leader has not written yet */
		if (rc != 0) {
			api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
			return false;
		}
		json_array_set_new(vals, i, json_string(jstr(obj, "ID")));
	}
	return true;
}

static const char *const task_states[] = {"new", "pending", "assigned", "accepted", "preparing", "ready",
					  "starting", "running", "complete", "shutdown", "failed", "rejected",
					  "remove", "orphaned", NULL};

static bool desired_states_valid(struct http_request *req, const json_t *filters)
{
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(filters, "desired-state"), i, v) {
		bool known = false;
		for (const char *const *s = task_states; *s && !known; s++)
			known = strcmp(*s, json_string_value(v)) == 0;
		if (!known) {
			api_reply_error(req, 400, "Invalid desired-state filter value \"%s\": expected a task state "
					"(running, shutdown, accepted, ...)", json_string_value(v));
			return false;
		}
	}
	return true;
}

/* Docker's task name: <service>.<slot>, or <service>.<node id> for a global task. */
static void task_name(const json_t *task, const json_t *service, char *out, size_t len)
{
	const char *svc = jstr(json_object_get(task, "ServiceAnnotations"), "Name");
	if (*svc == '\0')
		svc = jstr(json_object_get(service, "Spec"), "Name");
	json_t *slot = json_object_get(task, "Slot");
	if (json_is_integer(slot) && json_integer_value(slot) > 0)
		snprintf(out, len, "%s.%lld.%s", svc, (long long)json_integer_value(slot), jstr(task, "ID"));
	else
		snprintf(out, len, "%s.%s.%s", svc, jstr(task, "NodeID"), jstr(task, "ID"));
}

/* A task is up to date when it runs the service's current task template. */
static bool task_up_to_date(const json_t *task, const json_t *service)
{
	return service != NULL &&
	       json_equal(json_object_get(task, "Spec"), json_object_get(json_object_get(service, "Spec"), "TaskTemplate"));
}

static bool task_matches(const struct store *st, const json_t *filters, const json_t *task)
{
	json_t *service = store_get(st, STORE_KIND_SERVICE, jstr(task, "ServiceID"));
	char name[256];
	task_name(task, service, name, sizeof(name));
	if (!match_prefix(filters, "id", jstr(task, "ID")) || !match_prefix(filters, "name", name) ||
	    !match_exact(filters, "service", jstr(task, "ServiceID")) ||
	    !match_exact(filters, "node", jstr(task, "NodeID")) ||
	    !match_exact(filters, "desired-state", jstr(task, "DesiredState")))
		return false;
	if (json_array_size(json_object_get(filters, "label")) > 0 &&
	    !match_labels(filters, json_object_get(task, "Labels")) &&
	    !match_labels(filters, json_object_get(json_object_get(task, "ServiceAnnotations"), "Labels")) &&
	    !(service && match_labels(filters, json_object_get(json_object_get(service, "Spec"), "Labels"))))
		return false;
	return json_array_size(json_object_get(filters, "_up-to-date")) == 0 || task_up_to_date(task, service);
}

static void tasks_list(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	static const char *const allowed[] = {"id", "name", "label", "service", "node", "desired-state",
					      "_up-to-date", NULL};
	const struct store *st = api_store(api);
	json_t *filters = parse_filters(req, allowed);
	(void)body;
	(void)ref;
	if (filters == NULL)
		return;
	if (!desired_states_valid(req, filters) ||
	    !resolve_filter_refs(api, req, filters, "service", STORE_KIND_SERVICE) ||
	    !resolve_filter_refs(api, req, filters, "node", STORE_KIND_NODE)) {
		json_decref(filters);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < store_count(st, STORE_KIND_TASK); i++) {
		json_t *t = store_at(st, STORE_KIND_TASK, i);
		if (task_matches(st, filters, t))
			json_array_append_new(list, json_deep_copy(t));
	}
	json_decref(filters);
	api_reply_json(req, 200, list);
}

static void h_tasks_list(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, tasks_list);
}

static void task_inspect(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	char err[STORE_MSG_MAX];
	json_t *t;
	(void)body;
	int rc = store_resolve(api_store(api), STORE_KIND_TASK, ref, &t, err, sizeof(err));
	if (rc == 0)
		api_reply_json(req, 200, json_deep_copy(t));
	else
		api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
}

static void h_task_inspect(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, task_inspect);
}

const struct api_route api_services_routes[] = {
	{"POST", "/services/create", h_service_create, API_JSON_BODY},
	{"GET", "/services", h_services_list, 0},
	{"GET", "/services/{id}", h_service_inspect, 0},
	{"DELETE", "/services/{id}", h_service_delete, 0},
	{"POST", "/services/{id}/update", h_service_update, API_JSON_BODY},
	{"GET", "/tasks", h_tasks_list, 0},
	{"GET", "/tasks/{id}", h_task_inspect, 0},
};
const size_t api_services_nroutes = sizeof(api_services_routes) / sizeof(api_services_routes[0]);
