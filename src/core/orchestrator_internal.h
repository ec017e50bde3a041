/* orchestrator_internal: the state of one pass shared by the orchestrator's files (pass and operations, slots, rolling updates). */
#ifndef SWARMNODE_ORCHESTRATOR_INTERNAL_H
#define SWARMNODE_ORCHESTRATOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "swarmnode/ids.h"
#include "swarmnode/orchestrator.h"
#include "swarmnode/scheduler.h"
#include "swarmnode/store.h"

#include "orchestrator_json.h"

#define NS_PER_SEC INT64_C(1000000000)

/* An object changed by this pass: a private copy, written as one update. */
struct orch_edit {
	enum store_kind kind;
	const char *id;     /* points into orig */
	uint64_t expect;    /* orig's Version.Index */
	const json_t *orig; /* the stored object (borrowed) */
	json_t *obj;        /* the new object (owned) */
};

/* A task to create, placed by the scheduler before it is written. */
struct orch_create {
	json_t *obj;         /* owned */
	const json_t *ports; /* its service's ports (borrowed) */
};

/* A map from object addresses to positions (open addressing; NULL keys are free). */
struct orch_ptrmap {
	const void **keys; /* cap slots */
	size_t *vals;
	size_t cap, n;     /* cap: 0 or a power of two */
};

/* What a pass reads of a task, parsed once. The ids the scheduler compares
 * for every task are copied in: reading them in 2,000 scattered documents
 * was a cache miss each. */
struct orch_facts {
	const char *id;                  /* ID (points into the task) */
	char service[IDS_LEN + 1];       /* ServiceID ("" when absent; the store allows only ids) */
	char node[IDS_LEN + 1];          /* NodeID (likewise) */
	int64_t slot;                    /* Slot (0 when absent) */
	int64_t created;                 /* CreatedAt, ns (0 when absent) */
	int64_t status_at;               /* Status.Timestamp, ns (0 when absent) */
	int64_t cpu, mem;                /* Spec.Resources.Reservations */
	enum orch_state state;           /* Status.State */
	bool wants_running;              /* DesiredState running (or absent) */
};

/* A set of stored objects (the nodes), told apart from any other set the
 * store held: every write gives its object a Version.Index above all before
 * it, so a create or an update raises the maximum and a delete alone lowers
 * the count. */
struct orch_fingerprint {
	size_t n;             /* objects */
	uint64_t max_version; /* their highest Version.Index */
};

/* A node as a pass sees it. */
struct orch_node {
	const char *id; /* ID (points into the store's node) */
	bool down;      /* Status.State "down" */
	bool drained;   /* Spec.Availability "drain" */
};

struct orch_pass {
	struct orchestrator *o;
	const struct store *s;
	int64_t now;
	char now_text[STORE_TIME_MAX];
	size_t max_ops, ops;  /* operations allowed and used */
	size_t n_service_tasks; /* tasks of the services reconciled */
	struct orch_node *nodes; /* the store's nodes, in its (id) order */
	size_t n_nodes;
	struct orch_fingerprint nodes_print; /* of the nodes */
	bool full;            /* an operation was refused for lack of room */
	int64_t wake;         /* earliest future time wanted, 0 none */
	int rc;               /* first failure (out of memory) */
	struct orch_edit *edits;
	size_t n_edits, cap_edits;
	struct orch_ptrmap edit_index; /* an edit's orig and copy -> its position in edits */
	struct orch_create *creates;
	size_t n_creates, cap_creates;
	char (*deletes)[IDS_LEN + 1];
	uint64_t *delete_expect;
	size_t n_deletes, cap_deletes;
};

/* Restart policy of a task spec, defaults filled. */
struct orch_restart {
	enum { RESTART_NONE, RESTART_ON_FAILURE, RESTART_ANY } condition;
	int64_t delay, window; /* ns */
	uint64_t max_attempts; /* 0: no limit */
};

/* Update or rollback configuration, defaults filled. */
struct orch_update_config {
	uint64_t parallelism; /* 0: every slot at once */
	int64_t delay, monitor;
	double max_failure_ratio;
	enum { FAILURE_PAUSE, FAILURE_CONTINUE, FAILURE_ROLLBACK } failure_action;
	bool start_first;
};

/* A service as a pass sees it. */
struct orch_service {
	json_t *obj;
	const char *id, *name;
	const json_t *template; /* Spec.TaskTemplate */
	const json_t *ports;    /* Endpoint.Ports (or Spec.EndpointSpec.Ports) */
	bool global;
	int64_t replicas;
	const char *update_state; /* UpdateStatus.State, "" when absent */
	int64_t update_started;   /* UpdateStatus.StartedAt */
};

/* One slot of a service: a replicated slot number or a global service's node. */
struct orch_slot {
	int64_t num;         /* replicated: 1-based slot; global: 0 */
	const char *node;    /* global: the node id; replicated: NULL */
	json_t **tasks;      /* oldest first (borrowed store objects) */
	size_t n;
	bool wanted;         /* the slot should have a running task */
	bool may_create;     /* a new task may be created for it */
	bool outdated;       /* its running task is not from the template: the update replaces it */
};

/* ---- orchestrator_cache.c ---- */

/* Maps key to value (replacing). Returns 0 or -ENOMEM (the map unchanged). */
int orch_ptrmap_put(struct orch_ptrmap *m, const void *key, size_t value);

/* Whether key is mapped; its value in *value. */
bool orch_ptrmap_get(const struct orch_ptrmap *m, const void *key, size_t *value);

/* Forgets every key (keeps the memory). */
void orch_ptrmap_clear(struct orch_ptrmap *m);

void orch_ptrmap_free(struct orch_ptrmap *m);

/* The facts cache kept in struct orchestrator between passes. */
struct orch_cache;

/* Creates *c when NULL, and starts a pass. Returns 0 or -ENOMEM. */
int orch_cache_begin(struct orch_cache **c);

/* Ends a pass: drops the tasks it did not read. */
void orch_cache_end(struct orch_cache *c);

/* Frees the cache and releases its references (NULL is fine). */
void orch_cache_free(struct orch_cache *c);

/* Counts one object of a set into fp. */
void orch_fingerprint_add(struct orch_fingerprint *fp, uint64_t version);

/* Whether an earlier reconcile of this very service object, over the very
 * same task objects (the cache holds references, so an address cannot have
 * been reused) and the same nodes, at a time no later than now, wrote
 * nothing and asked to run again at *wake (0: never), which has not come:
 * reconciling it again would do the same. The caller also makes sure there
 * is room for an operation, as there was then. */
bool orch_cache_idle(struct orch_pass *p, const json_t *svc, json_t *const *tasks, size_t n, int64_t *wake);

/* Remembers that reconciling svc over these tasks now wrote nothing and
 * asked for wake. */
void orch_cache_set_idle(struct orch_pass *p, const json_t *svc, json_t *const *tasks, size_t n, int64_t wake);

/* Reads a task's facts from the document. */
void orch_facts_parse(const json_t *task, struct orch_facts *f);

/* The facts of a stored task as the store holds it (edits ignored). */
struct orch_facts orch_facts_stored(struct orch_pass *p, const json_t *task);

/* The facts of a task as this pass left it (stored task or edit copy). */
struct orch_facts orch_facts_of(struct orch_pass *p, const json_t *task);

/* Whether a task's Spec (as this pass left it) differs from the service's template. */
bool orch_task_outdated(struct orch_pass *p, const struct orch_service *svc, const json_t *task);

/* ---- orchestrator.c: operations ---- */

/* The node with this id, or NULL. */
const struct orch_node *orch_node_find(struct orch_pass *p, const char *id);

/* The copy of the edit of obj (its orig or its copy), or NULL when not edited. */
const json_t *orch_edit_copy(struct orch_pass *p, const json_t *obj);

/* The task as this pass left it (its edit, or the stored object). */
const json_t *orch_view(struct orch_pass *p, const json_t *obj);

/* A private copy of a stored object to change, or NULL when the batch is full
 * or memory ran out (the pass stops adding work either way). */
json_t *orch_edit(struct orch_pass *p, enum store_kind kind, const json_t *obj);

/* Whether one more operation fits. */
bool orch_room(struct orch_pass *p);

/* Queues a new task of the service for the slot (node for global ones). */
void orch_create_task(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slot);

/* Queues the deletion of a stored task. */
void orch_delete(struct orch_pass *p, const json_t *task);

/* Wants a pass at time t (ignored when t <= now). */
void orch_wake_at(struct orch_pass *p, int64_t t);

/* Sets obj[key] = value (stolen); out of memory fails the pass. */
void orch_set(struct orch_pass *p, json_t *obj, const char *key, json_t *value);

/* Sets a task's Status (State, Message, Timestamp now; Err removed) in an edit. */
void orch_set_status(struct orch_pass *p, json_t *task, enum orch_state state, const char *message);

/* DesiredState shutdown; a task no node took is also marked shut down. */
void orch_shutdown(struct orch_pass *p, const json_t *task);

/* ---- orchestrator_slots.c ---- */

/* Reconciles one slot; sets slot->outdated for the update to act on. */
void orch_slot_reconcile(struct orch_pass *p, const struct orch_service *svc, struct orch_slot *slot);

/* The slot's task meant to run (as this pass left it): the newest from the
 * template if any (tasks created at the same time are not ordered by age),
 * else the newest; when none is meant to run, its newest task if that ended
 * on its own and may not restart (it holds the slot); else NULL. */
const json_t *orch_slot_current(struct orch_pass *p, const struct orch_service *svc,
				const struct orch_slot *slot);

/* The task's restart policy with Docker's defaults. */
void orch_restart_policy(const json_t *task, struct orch_restart *out);

/* ---- orchestrator_update.c ---- */

/* Advances the service's rolling update (or rollback) over its slots. */
void orch_update_step(struct orch_pass *p, const struct orch_service *svc, struct orch_slot *slots, size_t n);

#endif
