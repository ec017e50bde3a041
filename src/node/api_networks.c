/* api_networks: /networks kept in the replicated store (names and ids only:
 * no data plane yet), and what stack deploy and rm ask of /secrets, /configs
 * and /distribution, which swarmnode does not have. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "api_internal.h"
#include "swarmnode/ids.h"
#include "swarmnode/manager.h"
#include "swarmnode/swarm.h"

/* swarmkit's limit on object names (a DNS label). */
#define NETWORK_NAME_MAX 63

#define MSG_NO_REGISTRY                                                                                \
	"swarmnode does not contact registries: image %s is not pinned to a digest, and each node runs " \
	"it as named"

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* --- ?filters= ------------------------------------------------------------------------ */

/* Docker's filter document {"key":{"value":true}} (or the older
 * {"key":["value"]}) as an object of key -> {value: true}, keys limited to
 * allowed. A new reference, or NULL after answering 400. */
static json_t *query_filters(struct http_request *req, const char *const *allowed)
{
	char text[4096];
	json_error_t jerr;
	json_t *doc = NULL, *out = json_object(), *values, *v;
	const char *key;
	if (!api_query(req, "filters", text, sizeof(text)) || text[0] == '\0')
		return out;
	doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		api_reply_error(req, 400, "invalid filter: %s", doc ? "expected a JSON object" : jerr.text);
		goto refused;
	}
	json_object_foreach(doc, key, values) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, key) != 0)
			a++;
		if (*a == NULL) {
			api_reply_error(req, 400, "invalid filter '%s'", key);
			goto refused;
		}
		if (!json_is_object(values) && !json_is_array(values)) {
			api_reply_error(req, 400, "invalid filter '%s': expected an object of values", key);
			goto refused;
		}
		json_t *set = json_object();
		json_object_set_new(out, key, set);
		size_t i;
		if (json_is_object(values))
			json_object_update(set, values);
		json_array_foreach(values, i, v)
			if (json_is_string(v))
				json_object_set_new(set, json_string_value(v), json_true());
	}
	json_decref(doc);
	return out;
refused:
	json_decref(doc);
	json_decref(out);
	return NULL;
}

/* Docker's filters.Match: equal, or the value as a regular expression found
 * in s (a value that does not compile matches nothing). */
static bool value_matches(const char *value, const char *s)
{
	regex_t re;
	if (strcmp(value, s) == 0)
		return true;
	if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	bool hit = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return hit;
}

/* No value given under key, or one that matches s (exactly, or as Match does). */
static bool filter_accepts(const json_t *filters, const char *key, const char *s, bool exact)
{
	json_t *set = json_object_get(filters, key), *v;
	const char *value;
	if (json_object_size(set) == 0)
		return true;
	json_object_foreach(set, value, v)
		if (exact ? strcmp(value, s) == 0 : value_matches(value, s))
			return true;
	return false;
}

/* Every "label" value ("key" or "key=value") holds in labels. */
static bool labels_accept(const json_t *filters, const json_t *labels)
{
	json_t *v;
	const char *want;
	json_object_foreach(json_object_get(filters, "label"), want, v) {
		size_t klen = strcspn(want, "=");
		char key[512];
		snprintf(key, sizeof(key), "%.*s", (int)klen, want);
		const char *have = json_string_value(json_object_get(labels, key));
		if (have == NULL || (want[klen] == '=' && strcmp(have, want + klen + 1) != 0))
			return false;
	}
	return true;
}

/* --- the Network object ------------------------------------------------------------------ */

static json_t *object_or_empty(const json_t *v)
{
	return json_is_object(v) ? json_deep_copy(v) : json_object();
}

/* A stored network as dockerd shows a swarm-scope network (new reference). */
static json_t *network_json(const json_t *stored)
{
	const json_t *spec = json_object_get(stored, "Spec"), *ipam = json_object_get(spec, "IPAM");
	json_t *ipam_out = json_is_object(ipam) ? json_deep_copy(ipam)
						 : json_pack("{s:s, s:n, s:[]}", "Driver", "default", "Options", "Config");
	if (jstr(ipam_out, "Driver")[0] == '\0')
		json_object_set_new(ipam_out, "Driver", json_string("default"));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:b, s:b, s:b, s:{s:s}, s:b, s:{}, s:o, s:o}",
			 "Name", jstr(spec, "Name"), "Id", jstr(stored, "ID"), "Created", jstr(stored, "CreatedAt"),
			 "Scope", "swarm", "Driver", jstr(spec, "Driver"), "EnableIPv6",
			 json_is_true(json_object_get(spec, "EnableIPv6")), "IPAM", ipam_out, "Internal",
			 json_is_true(json_object_get(spec, "Internal")), "Attachable",
			 json_is_true(json_object_get(spec, "Attachable")), "Ingress", 0, "ConfigFrom", "Network", "",
			 "ConfigOnly", 0, "Containers", "Options", object_or_empty(json_object_get(spec, "Options")),
			 "Labels", object_or_empty(json_object_get(spec, "Labels")));
}

static const struct store *api_store(struct api *api)
{
	return manager_store(api->swarm->manager);
}

/* --- GET /networks, GET /networks/{id} ----------------------------------------------------- */

static bool network_matches(const json_t *filters, const json_t *stored)
{
	const json_t *spec = json_object_get(stored, "Spec");
	return filter_accepts(filters, "name", jstr(spec, "Name"), false) &&
	       filter_accepts(filters, "id", jstr(stored, "ID"), false) &&
	       filter_accepts(filters, "driver", jstr(spec, "Driver"), true) &&
	       filter_accepts(filters, "scope", "swarm", true) &&
	       filter_accepts(filters, "type", "custom", true) && labels_accept(filters, json_object_get(spec, "Labels"));
}

static void networks_list(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	static const char *const allowed[] = {"name", "id", "label", "driver", "scope", "type", NULL};
	const struct store *st = api_store(api);
	json_t *filters = query_filters(req, allowed);
	(void)body;
	(void)ref;
	if (filters == NULL)
		return;
	json_t *list = json_array();
	for (size_t i = 0; i < store_count(st, STORE_KIND_NETWORK); i++) {
		json_t *n = store_at(st, STORE_KIND_NETWORK, i);
		if (network_matches(filters, n))
			json_array_append_new(list, network_json(n));
	}
	json_decref(filters);
	api_reply_json(req, 200, list);
}

static void h_networks_list(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, networks_list);
}

/* Resolves a network reference (id, name, id prefix) or answers 404/400. */
static json_t *find_network(struct api *api, struct http_request *req, const char *ref)
{
	char err[STORE_MSG_MAX];
	json_t *n;
	int rc = store_resolve(api_store(api), STORE_KIND_NETWORK, ref, &n, err, sizeof(err));
	if (rc == 0)
		return n;
	api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
	return NULL;
}

static void network_inspect(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	json_t *n = find_network(api, req, ref);
	(void)body;
	if (n != NULL)
		api_reply_json(req, 200, network_json(n));
}

static void h_network_inspect(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, network_inspect);
}

/* --- POST /networks/create ----------------------------------------------------------------- */

/* swarmkit's name rule: a DNS label, [a-zA-Z0-9] with - or _ inside. */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > NETWORK_NAME_MAX || name[n - 1] == '-' || name[n - 1] == '_')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '-' && c != '_')))
			return false;
	}
	return true;
}

/* body[key] is absent, null or of the type; "what" names the type in err. */
static bool field_typed(const json_t *body, const char *key, json_type type, const char *what, char *err, size_t len)
{
	const json_t *v = json_object_get(body, key);
	if (v == NULL || json_is_null(v) || json_typeof(v) == type ||
	    (type == JSON_TRUE && json_is_boolean(v)))
		return true;
	snprintf(err, len, "%s: expected %s", key, what);
	return false;
}

/* body[key] is absent, null or an object of strings. */
static bool string_map(const json_t *body, const char *key, char *err, size_t len)
{
	const char *k;
	json_t *v;
	if (!field_typed(body, key, JSON_OBJECT, "an object of strings", err, len))
		return false;
	json_object_foreach((json_t *)json_object_get(body, key), k, v) {
		if (!json_is_string(v)) {
			snprintf(err, len, "%s.%s: expected a string", key, k);
			return false;
		}
	}
	return true;
}

static bool ipam_valid(const json_t *ipam, char *err, size_t len)
{
	static const char *const keys[] = {"Subnet", "IPRange", "Gateway"};
	json_t *c;
	size_t i;
	if (!json_is_object(ipam))
		return true;
	if (!field_typed(ipam, "Driver", JSON_STRING, "a string", err, len) || !string_map(ipam, "Options", err, len) ||
	    !field_typed(ipam, "Config", JSON_ARRAY, "an array", err, len))
		return false;
	json_array_foreach(json_object_get(ipam, "Config"), i, c) {
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (!json_is_object(c) || !field_typed(c, keys[k], JSON_STRING, "a string", err, len)) {
				snprintf(err, len, "IPAM.Config[%zu]: expected an object of Subnet, IPRange and Gateway strings",
					 i);
				return false;
			}
		}
	}
	return true;
}

/* What swarmnode cannot honour is refused by name rather than ignored. */
static bool create_supported(const json_t *body, char *err, size_t len)
{
	const char *driver = jstr(body, "Driver"), *scope = jstr(body, "Scope");
	if (*driver != '\0' && strcmp(driver, "overlay") != 0)
		snprintf(err, len, "swarmnode creates overlay networks only: driver \"%s\" is not supported", driver);
	else if (*scope != '\0' && strcmp(scope, "swarm") != 0)
		snprintf(err, len, "swarmnode's networks are swarm-scoped: scope \"%s\" is not supported", scope);
	else if (json_is_true(json_object_get(body, "Ingress")))
		snprintf(err, len, "swarmnode's routing mesh needs no ingress network: Ingress is not supported");
	else if (json_is_true(json_object_get(body, "ConfigOnly")) || *jstr(json_object_get(body, "ConfigFrom"),
										 "Network") != '\0')
		snprintf(err, len, "configuration-only networks (ConfigOnly, ConfigFrom) are not supported");
	else
		return true;
	return false;
}

/* Checks a network create request; 0, or -1 with Docker's or a field-named reason. */
static int create_check(const json_t *body, char *err, size_t len)
{
	static const char *const flags[] = {"CheckDuplicate", "Internal", "Attachable", "Ingress", "EnableIPv6",
					    "ConfigOnly"};
	const char *name = jstr(body, "Name");
	if (!json_is_object(body))
		return snprintf(err, len, "a network create request (JSON object) is required"), -1;
	if (!field_typed(body, "Name", JSON_STRING, "a string", err, len))
		return -1;
	if (*name == '\0')
		return snprintf(err, len, "meta: name must be provided"), -1;
	if (strlen(name) > NETWORK_NAME_MAX)
		return snprintf(err, len, "name must be %d characters or fewer", NETWORK_NAME_MAX), -1;
	if (!valid_name(name))
		return snprintf(err, len, "name must be valid as a DNS name component"), -1;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!field_typed(body, flags[i], JSON_TRUE, "a boolean", err, len))
			return -1;
	if (!field_typed(body, "Driver", JSON_STRING, "a string", err, len) ||
	    !field_typed(body, "Scope", JSON_STRING, "a string", err, len) ||
	    !field_typed(body, "ConfigFrom", JSON_OBJECT, "an object", err, len) ||
	    !field_typed(body, "IPAM", JSON_OBJECT, "an object", err, len) || !string_map(body, "Labels", err, len) ||
	    !string_map(body, "Options", err, len) || !ipam_valid(json_object_get(body, "IPAM"), err, len) ||
	    !create_supported(body, err, len))
		return -1;
	return 0;
}

/* The stored Spec: the request's fields that describe the network. */
static json_t *network_spec(const json_t *body)
{
	json_t *spec = json_pack("{s:s, s:s, s:o, s:o, s:b, s:b, s:b}", "Name", jstr(body, "Name"), "Driver", "overlay",
				 "Labels", object_or_empty(json_object_get(body, "Labels")), "Options",
				 object_or_empty(json_object_get(body, "Options")), "Internal",
				 json_is_true(json_object_get(body, "Internal")), "Attachable",
				 json_is_true(json_object_get(body, "Attachable")), "EnableIPv6",
				 json_is_true(json_object_get(body, "EnableIPv6")));
	if (spec != NULL && json_is_object(json_object_get(body, "IPAM")))
		json_object_set(spec, "IPAM", json_object_get(body, "IPAM"));
	return spec;
}

static void network_create(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	char err[STORE_MSG_MAX] = "", id[IDS_LEN + 1];
	uint8_t entropy[IDS_ENTROPY];
	(void)ref;
	if (create_check(body, err, sizeof(err)) != 0) {
		api_reply_error(req, 400, "%s", err);
		return;
	}
	const char *name = jstr(body, "Name");
	if (json_is_true(json_object_get(body, "CheckDuplicate")) &&
	    store_find(api_store(api), STORE_INDEX_NETWORK_NAME, name, NULL, 0) > 0) {
		api_reply_error(req, 409, "network with name %s already exists", name);
		return;
	}
	randombytes_buf(entropy, sizeof(entropy));
	ids_format(entropy, id);
	json_t *obj = json_pack("{s:s, s:o}", "ID", id, "Spec", network_spec(body));
	struct store_txn *txn = store_txn_new(api_now_ns());
	int rc = txn && obj ? store_txn_create(txn, STORE_KIND_NETWORK, obj, err, sizeof(err)) : STORE_E_NOMEM;
	json_decref(obj);
	if (rc == 0)
		api_propose(api, req, txn, 201, json_pack("{s:s, s:s}", "Id", id, "Warning", ""));
	else
		api_reply_error(req, rc == STORE_E_NOMEM ? 500 : 400, "%s", rc == STORE_E_NOMEM ? "out of memory" : err);
	store_txn_free(txn);
}

static void h_network_create(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, network_create);
}

/* --- DELETE /networks/{id} ----------------------------------------------------------------- */

/* Whether a service's Networks name this network (by id, or by a name
 * written before the services API resolved names). */
static bool service_uses(const json_t *service, const json_t *network)
{
	json_t *tt = json_object_get(json_object_get(service, "Spec"), "TaskTemplate"), *att;
	size_t i;
	json_array_foreach(json_object_get(tt, "Networks"), i, att) {
		const char *target = jstr(att, "Target");
		if (strcmp(target, jstr(network, "ID")) == 0 ||
		    strcasecmp(target, jstr(json_object_get(network, "Spec"), "Name")) == 0)
			return true;
	}
	return false;
}

static void network_delete(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	const struct store *st = api_store(api);
	char err[STORE_MSG_MAX] = "";
	json_t *n = find_network(api, req, ref);
	(void)body;
	if (n == NULL)
		return;
	for (size_t i = 0; i < store_count(st, STORE_KIND_SERVICE); i++) {
		json_t *s = store_at(st, STORE_KIND_SERVICE, i);
		if (service_uses(s, n)) {
			api_reply_error(req, 400, "network %s is in use by service %s", jstr(n, "ID"), jstr(s, "ID"));
			return;
		}
	}
	struct store_txn *txn = store_txn_new(api_now_ns());
	int rc = txn ? store_txn_delete(txn, STORE_KIND_NETWORK, jstr(n, "ID"), 0, err, sizeof(err)) : STORE_E_NOMEM;
	if (rc == 0)
		api_propose(api, req, txn, 204, NULL);
	else
		api_reply_error(req, 500, "%s", rc == STORE_E_NOMEM ? "out of memory" : err);
	store_txn_free(txn);
}

static void h_network_delete(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, network_delete);
}

/* --- services' networks --------------------------------------------------------------------- */

int api_networks_resolve(struct api *api, json_t *task_template, char *err, size_t errlen)
{
	json_t *att, *network;
	size_t i;
	json_array_foreach(json_object_get(task_template, "Networks"), i, att) {
		const char *target = json_string_value(json_object_get(att, "Target"));
		if (target == NULL)
			continue;
		int rc = store_resolve(api_store(api), STORE_KIND_NETWORK, target, &network, err, errlen);
		if (rc != 0)
			return rc;
		if (json_object_set_new(att, "Target", json_string(jstr(network, "ID"))) != 0)
			return STORE_E_NOMEM;
	}
	return 0;
}

bool api_networks_resolve_spec(struct api *api, struct http_request *req, json_t *spec)
{
	char err[STORE_MSG_MAX];
	int rc = api_networks_resolve(api, json_object_get(spec, "TaskTemplate"), err, sizeof(err));
	if (rc != 0)
		api_reply_error(req, rc == STORE_E_NOMEM ? 500 : api_write_status(rc), "%s",
				rc == STORE_E_NOMEM ? "out of memory" : err);
	return rc == 0;
}

/* --- /secrets, /configs: none; /distribution: no registry ----------------------------------- */

static const char *const secret_filters[] = {"id", "label", "name", "names", NULL};

/* An empty list for valid filters: stack rm lists a stack's secrets and configs. */
static void h_none_list(struct api *api, struct http_request *req, struct api_call *call)
{
	(void)call;
	if (!api_require_manager(api, req))
		return;
	json_t *filters = query_filters(req, secret_filters);
	if (filters != NULL)
		api_reply_json(req, 200, json_array());
	json_decref(filters);
}

/* "secret" or "config", from the path the request came in on. */
static const char *object_kind(const struct http_request *req)
{
	return strstr(req->path, "/configs") ? "config" : "secret";
}

static void h_none_create(struct api *api, struct http_request *req, struct api_call *call)
{
	(void)call;
	if (api_require_manager(api, req))
		api_reply_error(req, 501, "swarmnode does not store %ss yet: a stack or service cannot use them", object_kind(req));
}

static void h_none_inspect(struct api *api, struct http_request *req, struct api_call *call)
{
	if (api_require_manager(api, req))
		api_reply_error(req, 404, "%s %s not found", object_kind(req), call->params[0]);
}

/* The docker CLI asks before each service create or update; on an error it
 * warns that the image is not pinned and goes on, as with an offline dockerd. */
static void h_distribution(struct api *api, struct http_request *req, struct api_call *call)
{
	(void)api;
	api_reply_error(req, 404, MSG_NO_REGISTRY, call->params[0]);
}

const struct api_route api_networks_routes[] = {
	{"GET", "/networks", h_networks_list, 0},
	{"POST", "/networks/create", h_network_create, API_JSON_BODY},
	{"GET", "/networks/{id}", h_network_inspect, 0},
	{"DELETE", "/networks/{id}", h_network_delete, 0},
	{"GET", "/secrets", h_none_list, 0},
	{"POST", "/secrets/create", h_none_create, 0},
	{"GET", "/secrets/{id}", h_none_inspect, 0},
	{"GET", "/configs", h_none_list, 0},
	{"POST", "/configs/create", h_none_create, 0},
	{"GET", "/configs/{id}", h_none_inspect, 0},
	{"GET", "/distribution/{name*}/json", h_distribution, 0},
};
const size_t api_networks_nroutes = sizeof(api_networks_routes) / sizeof(api_networks_routes[0]);
