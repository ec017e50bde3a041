/* swarm_nodes: node objects in the store, written by the leader from gossip. */
#include "swarmnode/swarm_nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "swarmnode/log.h"
#include "swarmnode/manager_msg.h"
#include "swarmnode/store.h"

/* Most node writes in one reconciling transaction. */
#define SWARM_NODES_BATCH 128

const char *swarm_nodes_state_name(uint8_t swim_state)
{
	switch (swim_state) {
	case SWIM_ALIVE: return "ready";
	case SWIM_SUSPECT: return "disconnected"; /* Docker's state for "not heard from lately" */
	default: return "down";
	}
}

/* The IP of "IP:PORT" or "[IP]:PORT". */
static void gossip_ip(const char *addr, char *out, size_t len)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	snprintf(out, len, "%.*s", (int)n, addr);
}

static json_t *engine_labels(const struct node_meta *m)
{
	json_t *labels = json_object();
	for (size_t i = 0; i < m->nlabels; i++) {
		const char *eq = strchr(m->labels[i], '=');
		if (eq == NULL)
			continue;
		char key[NODE_META_LABEL_MAX];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - m->labels[i]), m->labels[i]);
		json_object_set_new(labels, key, json_string(eq + 1));
	}
	return labels;
}

json_t *swarm_nodes_from_gossip(const struct swarm *sw, const struct swarm_node *n)
{
	const struct node_meta *m = &n->meta;
	char ip[64];
	(void)sw;
	gossip_ip(n->gossip_addr, ip, sizeof(ip));
	return json_pack("{s:s, s:{s:{}, s:s, s:s}, s:{s:s, s:{s:s, s:s}, s:{s:I, s:I}, s:{s:s, s:o}},"
			 " s:{s:s, s:s}}",
		"ID", n->id,
		"Spec", "Labels", "Role", node_role_name(m->role), "Availability", "active",
		"Description", "Hostname", m->hostname, "Platform", "Architecture", m->arch, "OS", m->os,
		"Resources", "NanoCPUs", (json_int_t)m->ncpu * 1000000000, "MemoryBytes", (json_int_t)m->memory,
		"Engine", "EngineVersion", m->engine_version, "Labels", engine_labels(m),
		"Status", "State", swarm_nodes_state_name(n->state), "Addr", ip);
}

/* --- the leader's reconciling round ----------------------------------------------- */

static int64_t wall_ns(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static uint64_t version_of(json_t *obj)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(obj, "Version"), "Index"));
}

/* Adds to txn what changes the stored node (or NULL) to match gossip's n. */
static int reconcile_one(const struct swarm *sw, struct store_txn *txn, json_t *stored,
			 const struct swarm_node *n)
{
	char err[STORE_MSG_MAX];
	json_t *want = swarm_nodes_from_gossip(sw, n);
	int rc = 0;
	if (want == NULL)
		return STORE_E_NOMEM;
	if (stored == NULL) {
		if (n->state == SWIM_ALIVE)
			rc = store_txn_create(txn, STORE_KIND_NODE, want, err, sizeof(err)) == 0 ? 1 : -1;
		json_decref(want);
		return rc;
	}
	json_t *status = json_object_get(want, "Status"), *desc = json_object_get(want, "Description");
	if (!json_equal(status, json_object_get(stored, "Status")) ||
	    !json_equal(desc, json_object_get(stored, "Description"))) {
		json_t *obj = json_deep_copy(stored);
		json_object_set(obj, "Status", status);
		json_object_set(obj, "Description", desc);
		rc = store_txn_update(txn, STORE_KIND_NODE, n->id, version_of(stored), obj, err, sizeof(err)) == 0
			     ? 1
			     : -1;
		json_decref(obj);
	}
	json_decref(want);
	if (rc < 0)
		log_debug("nodes", "cannot describe a node for the store", LF_STR("node", n->id), LF_STR("error", err));
	return rc;
}

static void reconcile_done(void *data, int status, const char *message, uint64_t index)
{
	struct swarm *sw = data;
	sw->nodes_writing = false;
	if (status != 0)
		log_debug("nodes", "node update not applied; retried next round", LF_INT("status", status),
			  LF_STR("error", message));
}

/* The leader carries out node promote / demote: the store's Spec.Role is
 * what the user wants, the node's gossip metadata what it is. */
static void reconcile_role(struct swarm *sw, const struct manager_status *ms, json_t *stored,
			   const struct swarm_node *n)
{
	const char *want = json_string_value(json_object_get(json_object_get(stored, "Spec"), "Role"));
	if (want == NULL || !n->has_meta || n->state != SWIM_ALIVE)
		return;
	struct manager_msg mm = { .type = MANAGER_MSG_ROLE };
	if (strcmp(want, "manager") == 0 && n->meta.role == NODE_ROLE_WORKER) {
		mm.role = NODE_ROLE_MANAGER;
		mm.has_secrets = true;
		memcpy(mm.secrets, sw->st.manager.root_seed, IDENTITY_SEED_LEN);
		memcpy(mm.secrets + IDENTITY_SEED_LEN, sw->st.manager.worker_secret, TOKEN_SECRET_LEN);
		memcpy(mm.secrets + IDENTITY_SEED_LEN + TOKEN_SECRET_LEN, sw->st.manager.manager_secret,
		       TOKEN_SECRET_LEN);
		swarm_send_manager_msg(sw, n->id, &mm);
		sodium_memzero(mm.secrets, sizeof(mm.secrets));
		return;
	}
	if (strcmp(want, "worker") != 0 || n->meta.role != NODE_ROLE_MANAGER)
		return;
	/* Out of the Raft configuration first (leadership moves away first), then
	 * the node is told. */
	for (size_t i = 0; i < ms->n; i++) {
		if (strcmp(ms->members[i].node_id, n->id) != 0)
			continue;
		if (n->self)
			manager_transfer(sw->manager);
		else
			manager_remove(sw->manager, n->id);
		return;
	}
	mm.role = NODE_ROLE_WORKER;
	swarm_send_manager_msg(sw, n->id, &mm);
}

void swarm_nodes_reconcile(struct swarm *sw)
{
	struct manager_status ms;
	struct swarm_node n;
	if (sw->manager == NULL || sw->nodes_writing)
		return;
	manager_status(sw->manager, &ms);
	if (ms.role != RAFT_LEADER)
		return;
	const struct store *st = manager_store(sw->manager);
	struct store_txn *txn = store_txn_new(wall_ns());
	if (txn == NULL)
		return;
	size_t ops = 0;
	for (size_t i = 0; swarm_node_at(sw, i, &n) == 0 && ops < SWARM_NODES_BATCH; i++) {
		if (!n.has_meta)
			continue;
		if (swarm_node_revoked(sw, n.id)) {
			/* Never described again; told to leave for as long as gossip
			 * says it is alive (its stream, if any, is cut by the mesh). */
			struct manager_msg mm = { .type = MANAGER_MSG_REMOVED };
			if (n.state == SWIM_ALIVE)
				swarm_send_manager_msg(sw, n.id, &mm);
			continue;
		}
		json_t *stored = store_get(st, STORE_KIND_NODE, n.id);
		if (reconcile_one(sw, txn, stored, &n) > 0)
			ops++;
		if (stored != NULL)
			reconcile_role(sw, &ms, stored, &n);
	}
	uint8_t *bytes = NULL;
	size_t len = 0;
	if (ops > 0 && store_txn_encode(txn, &bytes, &len) == 0 &&
	    manager_write(sw->manager, bytes, len, reconcile_done, sw) == 0) {
		sw->nodes_writing = true;
		log_debug("nodes", "writing what gossip says about nodes", LF_UINT("changes", ops));
	}
	free(bytes);
	store_txn_free(txn);
}
