/* api_swarm: the /swarm endpoints, /nodes and swarmnode's /swarmnode/members,
 * /swarmnode/gossip and /swarmnode/peers, from this node's swarm membership,
 * its gossip view and its peer streams. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api_internal.h"
#include "swarmnode/log.h"
#include "swarmnode/store.h"
#include "swarmnode/swarm.h"
#include "swarmnode/swarm_nodes.h"

#define MSG_NOT_IN_SWARM "This node is not part of a swarm"
#define MSG_LEAVE_MANAGER                                                                              \
	"You are attempting to leave the swarm on a node that is participating as a manager. Removing "  \
	"the last manager erases all current state of the swarm. Use `--force` to ignore this message."

static const char *local_state_name(enum swarm_local_state s)
{
	switch (s) {
	case SWARM_ACTIVE: return "active";
	case SWARM_PENDING: return "pending";
	case SWARM_LEAVING: return "active";
	default: return "inactive";
	}
}

const char *api_swarm_ping_state(struct api *api)
{
	if (api->swarm->state != SWARM_ACTIVE)
		return api->swarm->state == SWARM_PENDING ? "pending" : "inactive";
	return swarm_is_manager(api->swarm) ? "active/manager" : "active/worker";
}

/* The IP part of "IP:PORT" or "[IP]:PORT". */
static void addr_ip(const char *addr, char *out, size_t len)
{
	struct addr a;
	char why[128];
	if (addr_parse(addr, 1, &a, why, sizeof(why)) == 0)
		snprintf(out, len, "%s", a.host);
	else
		snprintf(out, len, "%s", addr);
}

/* --- JSON objects --------------------------------------------------------------- */

/* The root key as a PEM public key (Ed25519 SubjectPublicKeyInfo), where
 * Docker shows its root CA certificate. */
static void root_key_pem(const uint8_t pk[32], char *pem, size_t pemlen, char *spki_b64, size_t b64len)
{
	static const uint8_t prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
	uint8_t der[44];
	memcpy(der, prefix, sizeof(prefix));
	memcpy(der + sizeof(prefix), pk, 32);
	sodium_bin2base64(spki_b64, b64len, der, sizeof(der), sodium_base64_VARIANT_ORIGINAL);
	snprintf(pem, pemlen, "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", spki_b64);
}

static json_t *tls_info_json(const struct swarm *sw)
{
	char pem[256], b64[128];
	root_key_pem(sw->st.root_pk, pem, sizeof(pem), b64, sizeof(b64));
	return json_pack("{s:s, s:s, s:s}", "TrustRoot", pem, "CertIssuerSubject", "", "CertIssuerPublicKey", b64);
}

/* The spec fields swarmnode honours; the rest arrive with the features. */
static json_t *swarm_spec_json(void)
{
	return json_pack("{s:s, s:{}, s:{s:I}, s:{s:b}}", "Name", "default", "Labels",
			 "CAConfig", "NodeCertExpiry", (json_int_t)(IDENTITY_CERT_LIFETIME_MS * 1000000ull),
			 "EncryptionConfig", "AutoLockManagers", 0);
}

static json_t *cluster_json(const struct swarm *sw)
{
	char created[48], updated[48];
	api_format_time(sw->st.cluster_created_at_ms, created, sizeof(created));
	api_format_time(sw->st.manager.updated_at_ms, updated, sizeof(updated));
	return json_pack("{s:s, s:{s:I}, s:s, s:s, s:o, s:o, s:b, s:n, s:i, s:i}",
		"ID", sw->st.cluster_id, "Version", "Index", (json_int_t)sw->st.manager.version,
		"CreatedAt", created, "UpdatedAt", updated, "Spec", swarm_spec_json(),
		"TLSInfo", tls_info_json(sw), "RootRotationInProgress", 0, "DefaultAddrPool",
		"SubnetSize", 24, "DataPathPort", 4789);
}

/* Docker's ManagerStatus: Leader from Raft, Reachability from what this
 * manager's Raft core knows (a leader hears from every member) and gossip. */
static json_t *manager_status_json(const struct swarm *sw, const struct swarm_node *n)
{
	struct manager_status ms;
	bool leader = false, reachable = n->state == SWIM_ALIVE;
	const char *reach = "unknown";
	if (sw->manager != NULL) {
		manager_status(sw->manager, &ms);
		leader = strcmp(ms.leader, n->id) == 0;
		for (size_t i = 0; i < ms.n; i++)
			if (strcmp(ms.members[i].node_id, n->id) == 0)
				reach = reachable && ms.members[i].reachable ? "reachable" : "unreachable";
	}
	return json_pack("{s:b, s:s, s:s}", "Leader", leader, "Reachability", reach, "Addr", n->meta.cluster_addr);
}

/* A node the store does not hold yet, from gossip alone: its state is
 * Docker's "unknown" until the leader has registered it (within a second). */
static json_t *node_json(const struct swarm *sw, const struct swarm_node *n)
{
	char created[48], updated[48];
	json_t *j = swarm_nodes_from_gossip(sw, n);
	if (sw->manager != NULL)
		json_object_set_new(json_object_get(j, "Status"), "State", json_string("unknown"));
	api_format_time(n->meta.created_at_ms, created, sizeof(created));
	api_format_time(n->changed_at_ms, updated, sizeof(updated));
	json_object_set_new(j, "Version", json_pack("{s:I}", "Index", (json_int_t)n->incarnation));
	json_object_set_new(j, "CreatedAt", json_string(created));
	json_object_set_new(j, "UpdatedAt", json_string(updated));
	json_object_set_new(json_object_get(j, "Description"), "TLSInfo", tls_info_json(sw));
	if (n->meta.role == NODE_ROLE_MANAGER)
		json_object_set_new(j, "ManagerStatus", manager_status_json(sw, n));
	return j;
}

/* The gossip keyring: its generation and each key's fingerprint, primary first. */
static json_t *keyring_json(const struct swarm *sw)
{
	uint8_t key[KEYRING_KEY_LEN];
	char fp[GOSSIP_KEYS_FINGERPRINT_LEN + 1];
	bool primary = false;
	json_t *keys = json_array();
	for (size_t i = 0; sw->keyring != NULL && keyring_get(sw->keyring, i, key, &primary) == 0; i++) {
		gossip_keys_fingerprint(key, fp);
		json_t *k = json_pack("{s:s, s:b}", "Fingerprint", fp, "Primary", primary);
		if (primary)
			json_array_insert_new(keys, 0, k);
		else
			json_array_append_new(keys, k);
	}
	sodium_memzero(key, sizeof(key));
	return json_pack("{s:I, s:o}", "Generation", (json_int_t)sw->st.keyring_generation, "Keys", keys);
}

/* Not in Docker's Info: what swarmnode's `info` shows about Raft. */
static json_t *raft_info_json(const struct manager *m)
{
	struct manager_status ms;
	manager_status(m, &ms);
	int voters = 0;
	for (size_t i = 0; i < ms.n; i++)
		voters += ms.members[i].voter;
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:i, s:i}", "Role", raft_role_str(ms.role), "Leader",
			 ms.leader, "Term", (json_int_t)ms.term, "Commit", (json_int_t)ms.commit, "Applied",
			 (json_int_t)ms.applied, "Quorum", ms.quorum, "Members", (int)ms.n, "Voters", voters);
}

json_t *api_swarm_info(struct api *api)
{
	struct swarm *sw = api->swarm;
	if (sw->state != SWARM_ACTIVE && sw->state != SWARM_LEAVING)
		return json_pack("{s:s, s:s, s:s, s:b, s:s, s:n}", "NodeID", "", "NodeAddr", "", "LocalNodeState",
				 local_state_name(sw->state), "ControlAvailable", 0, "Error", "", "RemoteManagers");
	json_t *remotes = json_array();
	int nodes = 0, managers = 0;
	struct swarm_node n;
	for (size_t i = 0; swarm_node_at(sw, i, &n) == 0; i++) {
		if (!n.has_meta || n.state == SWIM_LEFT || n.state == SWIM_DEAD)
			continue;
		nodes++;
		if (n.meta.role == NODE_ROLE_MANAGER) {
			managers++;
			json_array_append_new(remotes, json_pack("{s:s, s:s}", "NodeID", n.id, "Addr", n.meta.cluster_addr));
		}
	}
	char ip[64];
	addr_ip(sw->st.advertise_addr, ip, sizeof(ip));
	json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s, s:o, s:i, s:i}", "NodeID", sw->st.node_id, "NodeAddr", ip,
			      "LocalNodeState", local_state_name(sw->state), "ControlAvailable",
			      swarm_is_manager(sw), "Error", "", "RemoteManagers", remotes, "Nodes", nodes,
			      "Managers", managers);
	if (swarm_is_manager(sw))
		json_object_set_new(j, "Cluster", cluster_json(sw));
	json_object_set_new(j, "GossipKeyring", keyring_json(sw));
	if (sw->manager != NULL)
		json_object_set_new(j, "Raft", raft_info_json(sw->manager));
	return j;
}

/* --- /swarm ---------------------------------------------------------------------- */

static const char *body_str(struct api_call *call, const char *key)
{
	return call->body ? json_string_value(json_object_get(call->body, key)) : NULL;
}

struct init_wait {
	struct http_request *req;
	char node_id[IDS_LEN + 1];
};

/* Docker answers init once the new manager leads its Raft cluster. */
static void init_ready(void *data, int status, const char *message)
{
	struct init_wait *w = data;
	if (status == 0)
		api_reply_json(w->req, 200, json_string(w->node_id));
	else
		api_reply_error(w->req, 500, "%s", message);
	free(w);
}

static void h_swarm_init(struct api *api, struct http_request *req, struct api_call *call)
{
	char err[512];
	if (call->body == NULL || !json_is_object(call->body)) {
		api_reply_error(req, 400, "a JSON object with the swarm's settings is required");
		return;
	}
	struct init_wait *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		api_reply_error(req, 500, "out of memory");
		return;
	}
	w->req = req;
	int rc;
	if (json_is_true(json_object_get(call->body, "ForceNewCluster")) && api->swarm->state == SWARM_ACTIVE) {
		rc = swarm_force_new_cluster(api->swarm, w->node_id, init_ready, w, err, sizeof(err));
		if (rc != 0) {
			free(w);
			api_reply_error(req, rc == -EBUSY ? 503 : 400, "%s", err);
		}
		return;
	}
	rc = swarm_init(api->swarm, body_str(call, "ListenAddr"), body_str(call, "AdvertiseAddr"), w->node_id,
			    init_ready, w, err, sizeof(err));
	if (rc != 0) {
		free(w);
		api_reply_error(req, rc == -EALREADY || rc == -ENOTCONN ? 503 : rc == -EINVAL ? 400 : 500, "%s", err);
	}
}

static void join_done(void *data, int status, const char *message)
{
	struct http_request *req = data;
	if (status == 0) {
		http_respond(req, 200, "application/json", NULL, 0, "", 0);
		return;
	}
	int code = status == -EACCES ? 403 : status == -EHOSTUNREACH || status == -ETIMEDOUT ? 503 : 500;
	api_reply_error(req, code, "%s", message);
}

static void h_swarm_join(struct api *api, struct http_request *req, struct api_call *call)
{
	const char *remotes[8];
	size_t n = 0;
	char err[512];
	json_t *r = call->body ? json_object_get(call->body, "RemoteAddrs") : NULL;
	if (!json_is_array(r) || json_array_size(r) == 0 || json_array_size(r) > 8) {
		api_reply_error(req, 400, "RemoteAddrs: give between 1 and 8 manager addresses");
		return;
	}
	for (; n < json_array_size(r); n++) {
		remotes[n] = json_string_value(json_array_get(r, n));
		if (remotes[n] == NULL) {
			api_reply_error(req, 400, "RemoteAddrs[%zu]: expected a string", n);
			return;
		}
	}
	int rc = swarm_join(api->swarm, body_str(call, "JoinToken"), remotes, n, body_str(call, "ListenAddr"),
			    body_str(call, "AdvertiseAddr"), join_done, req, err, sizeof(err));
	if (rc != 0)
		api_reply_error(req, rc == -EALREADY || rc == -EHOSTUNREACH || rc == -ENOTCONN ? 503 : 400, "%s", err);
}

static void leave_done(void *data, int status, const char *message)
{
	struct http_request *req = data;
	if (status == 0)
		http_respond(req, 200, "application/json", NULL, 0, "", 0);
	else
		api_reply_error(req, 500, "%s", message);
}

static void h_swarm_leave(struct api *api, struct http_request *req, struct api_call *call)
{
	int rc = swarm_leave(api->swarm, api_query_bool(req, "force"), leave_done, req);
	if (rc == -ENOTCONN)
		http_respond_error(req, 503, MSG_NOT_IN_SWARM);
	else if (rc == -EPERM)
		http_respond_error(req, 503, MSG_LEAVE_MANAGER);
	else if (rc != 0)
		api_reply_error(req, 500, "cannot leave: %s", strerror(-rc));
}

static void h_swarm_inspect(struct api *api, struct http_request *req, struct api_call *call)
{
	char worker[TOKEN_STR_LEN + 1], manager[TOKEN_STR_LEN + 1];
	if (!api_require_manager(api, req))
		return;
	json_t *j = cluster_json(api->swarm);
	swarm_tokens(api->swarm, worker, manager);
	json_object_set_new(j, "JoinTokens", json_pack("{s:s, s:s}", "Worker", worker, "Manager", manager));
	sodium_memzero(worker, sizeof(worker));
	sodium_memzero(manager, sizeof(manager));
	api_reply_json(req, 200, j);
}

static void h_swarm_update(struct api *api, struct http_request *req, struct api_call *call)
{
	char v[32];
	if (!api_require_manager(api, req))
		return;
	if (!api_query(req, "version", v, sizeof(v)) || *v == '\0') {
		api_reply_error(req, 400, "version is required: the Version.Index of the swarm being updated");
		return;
	}
	char *end;
	unsigned long long version = strtoull(v, &end, 10);
	if (*end != '\0') {
		api_reply_error(req, 400, "invalid version \"%s\"", v);
		return;
	}
	if (version != api->swarm->st.manager.version) {
		api_reply_error(req, 409, "update out of sequence");
		return;
	}
	if (call->body && !json_is_object(call->body)) {
		api_reply_error(req, 400, "the swarm spec must be a JSON object");
		return;
	}
	int rc = swarm_rotate_tokens(api->swarm, api_query_bool(req, "rotateWorkerToken"),
				     api_query_bool(req, "rotateManagerToken"));
	if (rc != 0)
		api_reply_error(req, 500, "cannot save the swarm: %s", strerror(-rc));
	else
		http_respond(req, 200, "application/json", NULL, 0, "", 0);
}

/* --- /nodes ---------------------------------------------------------------------- */

/* A stored node as the API shows it: the cluster's TLS info and, for a
 * manager, its live Raft status added (new reference). */
static json_t *stored_node_json(const struct swarm *sw, json_t *stored)
{
	struct swarm_node n;
	json_t *j = json_deep_copy(stored);
	json_object_set_new(json_object_get(j, "Description"), "TLSInfo", tls_info_json(sw));
	if (swarm_node_find(sw, json_string_value(json_object_get(stored, "ID")), &n) == 0 && n.has_meta &&
	    n.meta.role == NODE_ROLE_MANAGER)
		json_object_set_new(j, "ManagerStatus", manager_status_json(sw, &n));
	return j;
}

static bool in_store(const struct swarm *sw, const char *id)
{
	return sw->manager != NULL && store_get(manager_store(sw->manager), STORE_KIND_NODE, id) != NULL;
}

static void nodes_list(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	const struct swarm *sw = api->swarm;
	const struct store *st = manager_store(sw->manager);
	struct swarm_node n;
	json_t *list = json_array();
	for (size_t i = 0; i < store_count(st, STORE_KIND_NODE); i++)
		json_array_append_new(list, stored_node_json(sw, store_at(st, STORE_KIND_NODE, i)));
	/* Members the leader has not written yet (a node that joined this second). */
	for (size_t i = 0; swarm_node_at(sw, i, &n) == 0; i++)
		if (n.has_meta && n.state == SWIM_ALIVE && !in_store(sw, n.id))
			json_array_append_new(list, node_json(sw, &n));
	api_reply_json(req, 200, list);
}

static void h_nodes_list(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, nodes_list);
}

static void node_inspect(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	const struct swarm *sw = api->swarm;
	struct swarm_node n;
	json_t *stored;
	char err[STORE_MSG_MAX];
	int rc = store_resolve(manager_store(sw->manager), STORE_KIND_NODE, ref, &stored, err, sizeof(err));
	if (rc == 0) {
		api_reply_json(req, 200, stored_node_json(sw, stored));
		return;
	}
	if (rc == STORE_E_AMBIGUOUS) {
		api_reply_error(req, 400, "%s", err);
		return;
	}
	rc = swarm_node_find(sw, ref, &n);
	if (rc == 0 && n.has_meta && n.state == SWIM_ALIVE)
		api_reply_json(req, 200, node_json(sw, &n));
	else
		api_reply_error(req, 404, "node %s not found", ref);
}

static void h_node_inspect(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, node_inspect);
}

/* POST /nodes/{id}/update?version=N with a NodeSpec: labels and availability. */
static int node_spec_check(json_t *spec, json_t *stored, char *err, size_t errlen)
{
	json_t *labels = json_object_get(spec, "Labels"), *v;
	const char *key, *role = json_string_value(json_object_get(spec, "Role")),
			 *avail = json_string_value(json_object_get(spec, "Availability"));
	if (!json_is_object(spec))
		return snprintf(err, errlen, "the node spec must be a JSON object"), -EINVAL;
	if (labels != NULL && !json_is_null(labels)) {
		if (!json_is_object(labels))
			return snprintf(err, errlen, "Labels: expected an object of strings"), -EINVAL;
		json_object_foreach(labels, key, v)
			if (!json_is_string(v))
				return snprintf(err, errlen, "Labels.%s: expected a string", key), -EINVAL;
	}
	if (avail == NULL || (strcmp(avail, "active") != 0 && strcmp(avail, "pause") != 0 &&
			      strcmp(avail, "drain") != 0))
		return snprintf(err, errlen, "invalid availability \"%s\": expected active, pause or drain",
				avail ? avail : ""), -EINVAL;
	if (role == NULL || (strcmp(role, "worker") != 0 && strcmp(role, "manager") != 0))
		return snprintf(err, errlen, "invalid role \"%s\": expected worker or manager", role ? role : ""),
		       -EINVAL;
	return 0;
}

static bool is_manager_spec(json_t *node)
{
	const char *role = json_string_value(json_object_get(json_object_get(node, "Spec"), "Role"));
	return role != NULL && strcmp(role, "manager") == 0;
}

/* Docker refuses to demote the last manager: the swarm would have none. */
static bool last_manager(const struct store *st, json_t *node)
{
	size_t managers = 0;
	for (size_t i = 0; i < store_count(st, STORE_KIND_NODE); i++)
		managers += is_manager_spec(store_at(st, STORE_KIND_NODE, i));
	return managers <= 1 && is_manager_spec(node);
}

static void node_update(struct api *api, struct http_request *req, json_t *spec, const char *ref)
{
	char v[32], err[STORE_MSG_MAX];
	json_t *stored;
	char *end;
	if (!api_query(req, "version", v, sizeof(v)) || *v == '\0') {
		api_reply_error(req, 400, "version is required: the Version.Index of the node being updated");
		return;
	}
	unsigned long long version = strtoull(v, &end, 10);
	if (*end != '\0') {
		api_reply_error(req, 400, "invalid version \"%s\"", v);
		return;
	}
	json_t *fresh = NULL; /* a node gossip knows that the leader has not written yet */
	struct swarm_node n;
	int rc = store_resolve(manager_store(api->swarm->manager), STORE_KIND_NODE, ref, &stored, err, sizeof(err));
	if (rc == STORE_E_NOT_FOUND && swarm_node_find(api->swarm, ref, &n) == 0 && n.has_meta &&
	    n.state == SWIM_ALIVE) {
		stored = fresh = swarm_nodes_from_gossip(api->swarm, &n);
		rc = 0;
	}
	if (rc != 0) {
		api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
		return;
	}
	if ((rc = node_spec_check(spec, stored, err, sizeof(err))) != 0) {
		api_reply_error(req, 400, "%s", err);
		json_decref(fresh);
		return;
	}
	if (strcmp(json_string_value(json_object_get(spec, "Role")), "worker") == 0 &&
	    last_manager(manager_store(api->swarm->manager), stored)) {
		api_reply_error(req, 400, "attempting to demote the last manager of the swarm");
		json_decref(fresh);
		return;
	}
	json_t *obj = json_deep_copy(stored);
	json_t *labels = json_object_get(spec, "Labels");
	json_t *newspec = json_pack("{s:o, s:O, s:O}", "Labels",
				    json_is_object(labels) ? json_deep_copy(labels) : json_object(), "Role",
				    json_object_get(spec, "Role"), "Availability", json_object_get(spec, "Availability"));
	json_t *name = json_object_get(spec, "Name");
	if (json_is_string(name) && *json_string_value(name))
		json_object_set(newspec, "Name", name);
	json_object_set_new(obj, "Spec", newspec);
	struct store_txn *txn = store_txn_new(api_now_ns());
	if (txn == NULL)
		rc = STORE_E_NOMEM;
	else if (fresh != NULL) /* the reconciler's create may win: then this one is refused (409) */
		rc = store_txn_create(txn, STORE_KIND_NODE, obj, err, sizeof(err));
	else
		rc = store_txn_update(txn, STORE_KIND_NODE, json_string_value(json_object_get(stored, "ID")), version,
				      obj, err, sizeof(err));
	json_decref(obj);
	json_decref(fresh);
	if (rc != 0)
		api_reply_error(req, 400, "%s", rc == STORE_E_NOMEM ? "out of memory" : err);
	else
		api_propose(api, req, txn, 200, NULL);
	store_txn_free(txn);
}

static void h_node_update(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, node_update);
}

/* DELETE /nodes/{id}[?force=1]: Docker's rules: a manager must be demoted
 * first, a node that is not down needs force (and is then told to leave). */
static void node_remove(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	struct swarm *sw = api->swarm;
	char err[STORE_MSG_MAX];
	json_t *stored;
	int rc = store_resolve(manager_store(sw->manager), STORE_KIND_NODE, ref, &stored, err, sizeof(err));
	if (rc != 0) {
		api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
		return;
	}
	const char *id = json_string_value(json_object_get(stored, "ID"));
	const char *state = json_string_value(json_object_get(json_object_get(stored, "Status"), "State"));
	struct swarm_node n;
	bool alive = swarm_node_find(sw, id, &n) == 0 && n.state == SWIM_ALIVE;
	if (is_manager_spec(stored) || (alive && n.has_meta && n.meta.role == NODE_ROLE_MANAGER)) {
		api_reply_error(req, 400, "node %s is a cluster manager and is a member of the raft cluster. It must be "
			       "demoted to worker before removal", id);
		return;
	}
	if (!api_query_bool(req, "force") && (alive || (state != NULL && strcmp(state, "down") != 0))) {
		api_reply_error(req, 400, "node %s is not down and can't be removed", id);
		return;
	}
	/* One transaction: the object goes and the identity is revoked on every
	 * manager at the same log index, so no manager can re-create the node
	 * from gossip in between, and the refusal survives restarts and leader
	 * changes. */
	struct store_txn *txn = store_txn_new(api_now_ns());
	if (txn == NULL || store_txn_delete(txn, STORE_KIND_NODE, id, 0, err, sizeof(err)) != 0 ||
	    (rc = swarm_revoke_node(sw, txn, id, err, sizeof(err))) != 0) {
		api_reply_error(req, 500, "cannot remove node %s: %s", id, txn == NULL ? "out of memory" : err);
		store_txn_free(txn);
		return;
	}
	log_info("swarm", "removing node", LF_STR("node", id), LF_BOOL("alive", alive));
	api_propose(api, req, txn, 200, NULL);
	store_txn_free(txn);
}

static void h_node_remove(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, node_remove);
}

/* --- /swarmnode/members: the raw gossip view ---------------------------------------- */

static void h_members(struct api *api, struct http_request *req, struct api_call *call)
{
	struct swarm *sw = api->swarm;
	struct swarm_node n;
	char changed[48];
	if (sw->state != SWARM_ACTIVE && sw->state != SWARM_LEAVING) {
		http_respond_error(req, 503, MSG_NOT_IN_SWARM);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; swarm_node_at(sw, i, &n) == 0; i++) {
		api_format_time(n.changed_at_ms, changed, sizeof(changed));
		json_t *m = json_pack("{s:s, s:s, s:I, s:s, s:b, s:s}", "ID", n.id, "State", swim_state_str(n.state),
				      "Incarnation", (json_int_t)n.incarnation, "Addr", n.gossip_addr, "Self", n.self,
				      "StateChangedAt", changed);
		if (n.has_meta)
			json_object_set_new(m, "Meta", json_pack("{s:s, s:s, s:s, s:s}", "Role", node_role_name(n.meta.role),
				"Hostname", n.meta.hostname, "ClusterAddr", n.meta.cluster_addr,
				"EngineVersion", n.meta.engine_version));
		json_array_append_new(list, m);
	}
	api_reply_json(req, 200, list);
}

/* Counters of the gossip layer: what was dropped and why, traffic, health. */
static void h_gossip(struct api *api, struct http_request *req, struct api_call *call)
{
	struct swarm *sw = api->swarm;
	if (!sw->gossip_open) {
		http_respond_error(req, 503, MSG_NOT_IN_SWARM);
		return;
	}
	const struct swim *s = sw->gossip.swim;
	const struct gossip_drops *d = &sw->gossip.drops;
	struct swim_counts c;
	struct swim_stats st;
	swim_counts(s, &c);
	swim_stats(s, &st);
	json_t *dropped = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "Envelope", (json_int_t)d->envelope,
		"UnknownKey", (json_int_t)d->unknown_key, "Authentication", (json_int_t)d->auth,
		"Oversize", (json_int_t)d->oversize, "SendFailed", (json_int_t)d->send_failed,
		"StreamFailed", (json_int_t)d->stream_failed);
	json_t *core = json_object();
	for (int why = 0; why < SWIM_DROP__COUNT; why++)
		json_object_set_new(core, swim_drop_str((enum swim_drop)why),
				    json_integer((json_int_t)swim_dropped(s, (enum swim_drop)why)));
	json_object_set_new(dropped, "Protocol", core);
	json_t *keyring = keyring_json(sw);
	const char *step = gossip_keys_step_name(&sw->keys);
	json_object_set_new(keyring, "Rotation", step ? json_pack("{s:s, s:I}", "Step", step, "Generation",
		(json_int_t)sw->keys.generation) : json_null());
	json_object_set_new(keyring, "Messages", json_pack("{s:I, s:I, s:I, s:I}", "Rotations",
		(json_int_t)sw->keys.rotations, "Applied", (json_int_t)sw->keys.applied, "Refused",
		(json_int_t)sw->keys.refused, "Invalid", (json_int_t)sw->keys.bad));
	json_t *traffic = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"PacketsIn", (json_int_t)st.packets_in, "PacketsOut", (json_int_t)st.packets_out,
		"BytesOut", (json_int_t)st.bytes_out, "UpdatesSent", (json_int_t)st.updates_sent,
		"Probes", (json_int_t)st.probes, "ProbesFailed", (json_int_t)st.probes_failed,
		"IndirectProbes", (json_int_t)st.indirect_probes, "NacksSent", (json_int_t)st.nacks_sent,
		"Refutes", (json_int_t)st.refutes, "PushPullOK", (json_int_t)st.pushpull_ok,
		"PushPullFailed", (json_int_t)st.pushpull_failed);
	api_reply_json(req, 200, json_pack("{s:s, s:I, s:i, s:{s:i, s:i, s:i, s:i}, s:o, s:o, s:s, s:o}",
		"NodeID", swim_self_id(s), "Incarnation", (json_int_t)swim_self_incarnation(s),
		"Health", (int)swim_health_score(s), "Members", "Alive", (int)c.alive, "Suspect", (int)c.suspect,
		"Dead", (int)c.dead, "Left", (int)c.left, "Dropped", dropped, "Traffic", traffic,
		"LastError", swim_last_error(s), "Keyring", keyring));
}

/* POST /swarmnode/gossip/rotate answers once the rotation has ended: 200
 * with how many nodes hold the new ring, and which do not, even when some
 * do not (the key is rotated; the CLI exits 1 and names them). */
static void rotate_done(void *data, const struct gossip_keys_result *r)
{
	struct http_request *req = data;
	if (r->status != 0) {
		api_reply_error(req, r->status == -ESTALE ? 409 : r->status == -ECANCELED ? 503 : 500, "%s",
				r->message);
		return;
	}
	json_t *missing = json_array();
	for (size_t i = 0; i < r->nmissing; i++)
		json_array_append_new(missing, json_string(r->missing[i].node_id));
	api_reply_json(req, 200, json_pack("{s:I, s:s, s:I, s:I, s:o}", "Generation", (json_int_t)r->generation,
		"Fingerprint", r->fingerprint, "Nodes", (json_int_t)r->expected, "Confirmed",
		(json_int_t)r->confirmed, "Unconfirmed", missing));
}

static void h_gossip_rotate(struct api *api, struct http_request *req, struct api_call *call)
{
	char err[256];
	if (!api_require_manager(api, req))
		return;
	int rc = gossip_keys_rotate(&api->swarm->keys, rotate_done, req, err, sizeof(err));
	if (rc != 0)
		api_reply_error(req, rc == -EBUSY ? 409 : rc == -EPERM ? 503 : 500, "%s", err);
}

/* --- /swarmnode/peers: the authenticated streams between nodes --------------------- */

static json_t *peer_stream_json(const struct peer_link_view *v)
{
	const struct peer_link *l = v->link;
	char changed[48], measured[48];
	api_format_time(l->changed_at_ms, changed, sizeof(changed));
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
		"NodeID", l->node_id, "Role", identity_role_name(l->role), "Addr", l->addr,
		"Direction", peer_conn_dir_name(l->dir), "State", peer_conn_state_name(l->state),
		"StateChangedAt", changed, "BytesIn", (json_int_t)v->bytes_in, "BytesOut", (json_int_t)v->bytes_out,
		"MessagesIn", (json_int_t)v->msgs_in, "MessagesOut", (json_int_t)v->msgs_out,
		"HeartbeatsSent", (json_int_t)l->heartbeats_sent, "HeartbeatsAcked", (json_int_t)l->heartbeats_acked,
		"Connects", (json_int_t)v->connects, "AuthFailures", (json_int_t)v->auth_failures,
		"LastError", v->last_error);
	if (l->rtt_us >= 0) {
		api_format_time(l->rtt_at_ms, measured, sizeof(measured));
		json_object_set_new(j, "RTTMicroseconds", json_integer((json_int_t)l->rtt_us));
		json_object_set_new(j, "RTTMeasuredAt", json_string(measured));
	} else {
		json_object_set_new(j, "RTTMicroseconds", json_null());
	}
	return j;
}

static void h_peers(struct api *api, struct http_request *req, struct api_call *call)
{
	struct swarm *sw = api->swarm;
	struct peer_link_view v;
	if (!sw->mesh_open) {
		http_respond_error(req, 503, MSG_NOT_IN_SWARM);
		return;
	}
	json_t *streams = json_array();
	for (size_t i = 0; peer_mesh_view(&sw->mesh, i, &v) == 0; i++)
		json_array_append_new(streams, peer_stream_json(&v));
	json_t *refused = json_object();
	uint64_t total = 0;
	for (int r = 0; r < PEER_REFUSED__COUNT; r++) {
		total += sw->mesh.io.refused[r];
		json_object_set_new(refused, peer_refusal_name((enum peer_refusal)r),
				    json_integer((json_int_t)sw->mesh.io.refused[r]));
	}
	/* Authenticated, but a node removed from the swarm (RemovedNodes). */
	json_object_set_new(refused, "RemovedNode", json_integer((json_int_t)sw->mesh.refused_removed));
	total += sw->mesh.refused_removed;
	json_object_set_new(refused, "Total", json_integer((json_int_t)total));
	json_t *out = json_pack("{s:s, s:o, s:I, s:o, s:{s:I, s:I, s:I}}", "NodeID", sw->st.node_id,
		"Streams", streams, "Accepted", (json_int_t)sw->mesh.io.accepted, "Refused", refused,
		"Messages", "UnknownKind", (json_int_t)sw->mesh.unknown_msgs, "Undecodable",
		(json_int_t)sw->mesh.bad_msgs, "DuplicateStreams", (json_int_t)sw->mesh.duplicates);
	if (sw->listener_open) {
		const struct cluster_listener_stats *ls = &sw->listener.stats;
		json_object_set_new(out, "Listener", json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			"Addr", sw->listener.addr, "Accepted", (json_int_t)ls->accepted, "Joins", (json_int_t)ls->joins,
			"Peers", (json_int_t)ls->peers, "Dropped", (json_int_t)ls->dropped,
			"JoinsAdmitted", (json_int_t)sw->join_server.joined,
			"JoinsRefused", (json_int_t)sw->join_server.refused));
	} else {
		json_object_set_new(out, "Listener", json_null());
	}
	api_reply_json(req, 200, out);
}

const struct api_route api_swarm_routes[] = {
	{"GET", "/swarmnode/gossip", h_gossip, 0},
	{"POST", "/swarmnode/gossip/rotate", h_gossip_rotate, 0},
	{"POST", "/swarm/init", h_swarm_init, API_JSON_BODY},
	{"POST", "/swarm/join", h_swarm_join, API_JSON_BODY},
	{"POST", "/swarm/leave", h_swarm_leave, 0},
	{"GET", "/swarm", h_swarm_inspect, 0},
	{"POST", "/swarm/update", h_swarm_update, API_JSON_BODY},
	{"GET", "/nodes", h_nodes_list, 0},
	{"GET", "/nodes/{id}", h_node_inspect, 0},
	{"POST", "/nodes/{id}/update", h_node_update, API_JSON_BODY},
	{"DELETE", "/nodes/{id}", h_node_remove, 0},
	{"GET", "/swarmnode/members", h_members, 0},
	{"GET", "/swarmnode/peers", h_peers, 0},
};
const size_t api_swarm_nroutes = sizeof(api_swarm_routes) / sizeof(api_swarm_routes[0]);
