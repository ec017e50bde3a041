/* orchestrator: one reconciling pass: the services' slots, the tasks of removed services, scheduling, and the transaction that records it all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator_internal.h"
#include "rng.h"

void orchestrator_init(struct orchestrator *o, uint64_t seed)
{
	o->rng = seed;
	o->cache = NULL;
}

void orchestrator_close(struct orchestrator *o)
{
	orch_cache_free(o->cache);
	o->cache = NULL;
}

/* splitmix64: small, fast, and good enough to draw ids from a seeded state. */
static uint64_t next_random(struct orchestrator *o)
{
	return rng_splitmix64(&o->rng);
}

/* A fresh task id: drawn again while the store already holds it, since a
 * create of an existing id would refuse the whole pass's transaction (the
 * state came from the log, so nothing stops it holding any id). */
static void new_task_id(const struct orch_pass *p, char out[IDS_LEN + 1])
{
	do {
		uint8_t entropy[IDS_ENTROPY];
		for (size_t i = 0; i < IDS_ENTROPY; i += 8) {
			uint64_t r = next_random(p->o);
			memcpy(entropy + i, &r, 8);
		}
		ids_format(entropy, out);
	} while (store_get(p->s, STORE_KIND_TASK, out) != NULL);
}

static void fail(struct orch_pass *p, int rc)
{
	if (p->rc == 0)
		p->rc = rc;
}

/* Grows *arr to hold one more element of size bytes. */
static bool grow(struct orch_pass *p, void **arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return true;
	size_t next = *cap ? *cap * 2 : 16;
	void *bigger = realloc(*arr, next * size);
	if (bigger == NULL) {
		fail(p, -ENOMEM);
		return false;
	}
	*arr = bigger;
	*cap = next;
	return true;
}

/* ---- operations ---------------------------------------------------------------- */

bool orch_room(struct orch_pass *p)
{
	if (p->rc != 0)
		return false;
	if (p->ops < p->max_ops)
		return true;
	p->full = true;
	return false;
}

void orch_wake_at(struct orch_pass *p, int64_t t)
{
	if (t > p->now && (p->wake == 0 || t < p->wake))
		p->wake = t;
}

static struct orch_edit *find_edit(struct orch_pass *p, const json_t *obj)
{
	size_t i;
	return orch_ptrmap_get(&p->edit_index, obj, &i) ? &p->edits[i] : NULL;
}

const json_t *orch_edit_copy(struct orch_pass *p, const json_t *obj)
{
	struct orch_edit *e = find_edit(p, obj);
	return e ? e->obj : NULL;
}

const json_t *orch_view(struct orch_pass *p, const json_t *obj)
{
	struct orch_edit *e = find_edit(p, obj);
	return e ? e->obj : obj;
}

json_t *orch_edit(struct orch_pass *p, enum store_kind kind, const json_t *obj)
{
	struct orch_edit *e = find_edit(p, obj);
	if (e != NULL)
		return e->obj;
	if (!orch_room(p) || !grow(p, (void **)&p->edits, p->n_edits, &p->cap_edits, sizeof(*p->edits)))
		return NULL;
	json_t *copy = json_deep_copy(obj);
	if (copy == NULL) {
		fail(p, -ENOMEM);
		return NULL;
	}
	e = &p->edits[p->n_edits];
	e->kind = kind;
	e->orig = obj;
	e->id = orch_jstr(obj, "ID", NULL);
	e->expect = orch_version(obj);
	e->obj = copy;
	p->ops++;
	/* A complete edit either way: the pass releases it even when it fails here. */
	if (orch_ptrmap_put(&p->edit_index, obj, p->n_edits) != 0 ||
	    orch_ptrmap_put(&p->edit_index, copy, p->n_edits) != 0)
		fail(p, -ENOMEM);
	p->n_edits++;
	return p->rc == 0 ? copy : NULL;
}

void orch_set(struct orch_pass *p, json_t *obj, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(obj, key, value) != 0)
		fail(p, -ENOMEM);
}

void orch_set_status(struct orch_pass *p, json_t *task, enum orch_state state, const char *message)
{
	json_t *status = json_object_get(task, "Status");
	if (!json_is_object(status)) {
		status = json_object();
		orch_set(p, task, "Status", status);
		if (status == NULL)
			return;
	}
	orch_set(p, status, "Timestamp", json_string(p->now_text));
	orch_set(p, status, "State", json_string(orch_state_name(state)));
	orch_set(p, status, "Message", json_string(message));
	json_object_del(status, "Err");
}

void orch_shutdown(struct orch_pass *p, const json_t *task)
{
	const json_t *view = orch_view(p, task);
	enum orch_state st = orch_task_state(view);
	bool unassigned = st < ORCH_STATE_ASSIGNED;
	if (!orch_task_wants_running(view) && !(unassigned && !orch_state_terminal(st)))
		return;
	json_t *t = orch_edit(p, STORE_KIND_TASK, task);
	if (t == NULL)
		return;
	orch_set(p, t, "DesiredState", json_string("shutdown"));
	if (unassigned) /* no agent will ever report on it */
		orch_set_status(p, t, ORCH_STATE_SHUTDOWN, "shutdown");
}

void orch_delete(struct orch_pass *p, const json_t *task)
{
	if (find_edit(p, task) != NULL || !orch_room(p))
		return;
	if (!grow(p, (void **)&p->deletes, p->n_deletes, &p->cap_deletes, sizeof(*p->deletes)))
		return;
	size_t cap = p->cap_deletes;
	uint64_t *bigger = realloc(p->delete_expect, cap * sizeof(*bigger));
	if (bigger == NULL) {
		fail(p, -ENOMEM);
		return;
	}
	p->delete_expect = bigger;
	snprintf(p->deletes[p->n_deletes], IDS_LEN + 1, "%s", orch_jstr(task, "ID", NULL));
	p->delete_expect[p->n_deletes++] = orch_version(task);
	p->ops++;
}

void orch_create_task(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slot)
{
	if (!orch_room(p) || !grow(p, (void **)&p->creates, p->n_creates, &p->cap_creates, sizeof(*p->creates)))
		return;
	char id[IDS_LEN + 1];
	new_task_id(p, id);
	json_t *spec = svc->template ? json_deep_copy(svc->template) : json_object();
	json_t *t = json_pack("{s:s, s:{}, s:o, s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:{s:s}, s:{s:I}}",
			      "ID", id, "Labels", "Spec", spec, "ServiceID", svc->id,
			      "NodeID", slot->node ? slot->node : "",
			      "Status", "Timestamp", p->now_text, "State", "pending", "Message", "pending task scheduling",
			      "DesiredState", "running", "ServiceAnnotations", "Name", svc->name,
			      "SpecVersion", "Index", (json_int_t)orch_version(svc->obj));
	if (t == NULL) {
		fail(p, -ENOMEM);
		return;
	}
	if (!svc->global)
		orch_set(p, t, "Slot", json_integer(slot->num));
	p->creates[p->n_creates].obj = t;
	p->creates[p->n_creates++].ports = svc->ports;
	p->ops++;
}

/* ---- nodes ------------------------------------------------------------------------------ */

static bool read_nodes(struct orch_pass *p)
{
	p->n_nodes = store_count(p->s, STORE_KIND_NODE);
	p->nodes = p->n_nodes ? malloc(p->n_nodes * sizeof(*p->nodes)) : NULL;
	if (p->n_nodes && p->nodes == NULL)
		return false;
	for (size_t i = 0; i < p->n_nodes; i++) {
		const json_t *n = store_at(p->s, STORE_KIND_NODE, i);
		p->nodes[i] = (struct orch_node){
			.id = orch_jstr(n, "ID", NULL),
			.down = strcmp(orch_jstr(n, "Status", "State", NULL), "down") == 0,
			.drained = strcmp(orch_jstr(n, "Spec", "Availability", NULL), "drain") == 0,
		};
		orch_fingerprint_add(&p->nodes_print, orch_version(n));
	}
	return true;
}

static int node_id_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct orch_node *)elem)->id);
}

const struct orch_node *orch_node_find(struct orch_pass *p, const char *id)
{
	return p->n_nodes ? bsearch(id, p->nodes, p->n_nodes, sizeof(*p->nodes), node_id_cmp) : NULL;
}

/* ---- a service's slots ------------------------------------------------------------- */

static const json_t *service_ports(const json_t *svc)
{
	const json_t *ports = orch_jget(svc, "Endpoint", "Ports", NULL);
	if (!json_is_array(ports))
		ports = orch_jget(svc, "Spec", "EndpointSpec", "Ports", NULL);
	return json_is_array(ports) ? ports : NULL;
}

static void service_view(json_t *obj, struct orch_service *svc)
{
	memset(svc, 0, sizeof(*svc));
	svc->obj = obj;
	svc->id = orch_jstr(obj, "ID", NULL);
	svc->name = orch_jstr(obj, "Spec", "Name", NULL);
	svc->template = orch_jget(obj, "Spec", "TaskTemplate", NULL);
	svc->ports = service_ports(obj);
	svc->global = orch_jget(obj, "Spec", "Mode", "Global", NULL) != NULL;
	json_t *replicas = orch_jget(obj, "Spec", "Mode", "Replicated", "Replicas", NULL);
	svc->replicas = json_is_integer(replicas) ? json_integer_value(replicas) : 1;
	svc->update_state = orch_jstr(obj, "UpdateStatus", "State", NULL);
	svc->update_started = orch_jtime(obj, "UpdateStatus", "StartedAt", NULL);
}

/* A task with the fields it is sorted by, read once. */
struct sort_key {
	json_t *task;
	int64_t slot;
	char node[IDS_LEN + 1];
	int64_t created;
	const char *id;
};

/* Slot (or node), then oldest first, then id. */
static int by_slot_then_age(const void *a, const void *b)
{
	const struct sort_key *x = *(const struct sort_key *const *)a, *y = *(const struct sort_key *const *)b;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	int c = strcmp(x->node, y->node);
	if (c != 0)
		return c;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Sorts tasks into slot order, oldest first in each slot; *order gets their
 * sort keys in that order (pointers into the returned block, which the
 * caller frees). NULL when out of memory (or there are none). */
static struct sort_key *sorted_tasks(struct orch_pass *p, json_t **tasks, size_t n, struct sort_key ***order)
{
	struct sort_key *keys = n > 0 ? malloc(n * (sizeof(*keys) + sizeof(**order))) : NULL;
	if (keys == NULL) {
		if (n > 0)
			fail(p, -ENOMEM);
		return NULL;
	}
	*order = (struct sort_key **)(keys + n); /* pointers sort faster than the keys */
	for (size_t i = 0; i < n; i++) {
		struct orch_facts f = orch_facts_stored(p, tasks[i]);
		keys[i] = (struct sort_key){.task = tasks[i], .slot = f.slot, .created = f.created, .id = f.id};
		memcpy(keys[i].node, f.node, sizeof(f.node));
		(*order)[i] = &keys[i];
	}
	qsort(*order, n, sizeof(**order), by_slot_then_age);
	for (size_t i = 0; i < n; i++)
		tasks[i] = (*order)[i]->task;
	return keys;
}

static bool same_slot(const struct orch_service *svc, const struct sort_key *a, const struct sort_key *b)
{
	if (svc->global)
		return strcmp(a->node, b->node) == 0;
	return a->slot == b->slot;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct orch_slot *x = a, *y = b;
	if (x->node != NULL && y->node != NULL)
		return strcmp(x->node, y->node);
	return x->num < y->num ? -1 : x->num > y->num;
}

/* Global services: whether the node keeps (and may get) the service's task. */
static void global_eligibility(const json_t *node, const struct scheduler_constraint *c, size_t nc, bool *keep,
			       bool *create)
{
	const char *state = orch_jstr(node, "Status", "State", NULL);
	const char *avail = orch_jstr(node, "Spec", "Availability", NULL);
	*keep = node != NULL && strcmp(state, "down") != 0 && strcmp(avail, "drain") != 0 &&
		scheduler_node_matches(c, nc, node);
	*create = *keep && strcmp(state, "ready") == 0 && strcmp(avail, "active") == 0;
}

/* Slots with no task yet: replicated 1..Replicas (no more than the batch can
 * fill: a huge Replicas costs one batch per pass, not a huge array), global
 * every node. The slots built from tasks are in ascending order. */
static size_t add_empty_slots(struct orch_pass *p, const struct orch_service *svc, struct orch_slot **slots,
			      size_t n, size_t *cap)
{
	size_t have = n, room = p->max_ops - p->ops, j = 0;
	if (!svc->global) {
		for (int64_t k = 1; k <= svc->replicas && room > 0; k++) {
			while (j < have && (*slots)[j].num < k)
				j++;
			if (j < have && (*slots)[j].num == k)
				continue;
			if (!grow(p, (void **)slots, n, cap, sizeof(**slots)))
				break;
			(*slots)[n++] = (struct orch_slot){.num = k};
			if (--room == 0 && k < svc->replicas)
				p->full = true; /* the rest next pass */
		}
		return n;
	}
	for (size_t i = 0; i < store_count(p->s, STORE_KIND_NODE); i++) {
		const char *id = orch_jstr(store_at(p->s, STORE_KIND_NODE, i), "ID", NULL);
		bool found = false;
		for (j = 0; j < have && !found; j++)
			found = strcmp((*slots)[j].node, id) == 0;
		if (!found && grow(p, (void **)slots, n, cap, sizeof(**slots)))
			(*slots)[n++] = (struct orch_slot){.node = id};
	}
	return n;
}

static void mark_wanted(struct orch_pass *p, const struct orch_service *svc, struct orch_slot *slots, size_t n)
{
	struct scheduler_constraint *c = NULL;
	size_t nc = 0;
	char why[SCHEDULER_MSG_MAX];
	bool bad = false;
	if (svc->global) {
		int rc = scheduler_constraints_parse(orch_jget(svc->template, "Placement", "Constraints", NULL), &c,
						     &nc, why, sizeof(why));
		if (rc == SCHEDULER_E_NOMEM)
			fail(p, rc);
		bad = rc != 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct orch_slot *sl = &slots[i];
		if (!svc->global) {
			sl->wanted = sl->may_create = sl->num >= 1 && sl->num <= svc->replicas;
			continue;
		}
		const json_t *node = sl->node[0] ? store_get(p->s, STORE_KIND_NODE, sl->node) : NULL;
		global_eligibility(node, c, nc, &sl->wanted, &sl->may_create);
		if (bad)
			sl->wanted = sl->may_create = false;
	}
	free(c);
}

/* Reconciles the service's slots and its update over its tasks. */
static void reconcile_slots(struct orch_pass *p, const struct orch_service *svc, json_t **tasks, size_t n_tasks)
{
	struct orch_slot *slots = NULL;
	size_t n = 0, cap = 0;
	struct sort_key **order = NULL, *keys = sorted_tasks(p, tasks, n_tasks, &order);
	if (n_tasks > 0 && keys == NULL)
		return;
	for (size_t i = 0; i < n_tasks; i++) {
		if (n > 0 && same_slot(svc, order[i], order[i - 1])) {
			slots[n - 1].n++;
			continue;
		}
		if (!grow(p, (void **)&slots, n, &cap, sizeof(*slots)))
			break;
		slots[n++] = (struct orch_slot){.num = svc->global ? 0 : order[i]->slot,
						.node = svc->global ? orch_jstr(tasks[i], "NodeID", NULL) : NULL,
						.tasks = &tasks[i],
						.n = 1};
	}
	free(keys);
	n = add_empty_slots(p, svc, &slots, n, &cap);
	if (n > 1)
		qsort(slots, n, sizeof(*slots), slot_cmp);
	mark_wanted(p, svc, slots, n);
	for (size_t i = 0; i < n && p->rc == 0; i++)
		orch_slot_reconcile(p, svc, &slots[i]);
	if (p->rc == 0)
		orch_update_step(p, svc, slots, n);
	free(slots);
}

/* A service whose last reconcile found nothing to do, and whose object,
 * tasks and nodes have not changed since, is skipped until the time it asked
 * to be run at: after an agent's report most services are in that case. */
static void reconcile_service(struct orch_pass *p, json_t *obj)
{
	const char *id = orch_jstr(obj, "ID", NULL);
	size_t n_tasks = store_tasks_by_service(p->s, id, NULL, 0);
	json_t **tasks = n_tasks ? malloc(2 * n_tasks * sizeof(*tasks)) : NULL; /* in the store's order, then sorted */
	if (n_tasks && tasks == NULL) {
		fail(p, -ENOMEM);
		return;
	}
	store_tasks_by_service(p->s, id, tasks, n_tasks);
	p->n_service_tasks += n_tasks;
	bool room = p->ops < p->max_ops; /* a reconcile with no room may stop the pass: never skip it */
	int64_t wake, outer_wake = p->wake;
	size_t ops = p->ops;
	if (room && orch_cache_idle(p, obj, tasks, n_tasks, &wake)) {
		orch_wake_at(p, wake);
		free(tasks);
		return;
	}
	struct orch_service svc;
	service_view(obj, &svc);
	p->wake = 0;
	json_t **work = NULL; /* the second half: reconcile_slots reorders it (tasks is NULL without any) */
	if (n_tasks > 0) {
		work = tasks + n_tasks;
		memcpy(work, tasks, n_tasks * sizeof(*tasks));
	}
	reconcile_slots(p, &svc, work, n_tasks);
	wake = p->wake;
	p->wake = outer_wake;
	orch_wake_at(p, wake);
	if (room && p->ops == ops && !p->full && p->rc == 0)
		orch_cache_set_idle(p, obj, tasks, n_tasks, wake);
	free(tasks);
}

/* Tasks whose service is gone: stop them, then delete them once stopped (at
 * once when no agent will report on them). */
static void reap_orphan_tasks(struct orch_pass *p, bool every_service)
{
	size_t n = store_count(p->s, STORE_KIND_TASK);
	if (every_service && p->n_service_tasks == n) {
		/* Every task belongs to a service that exists: nothing to reap. The
		 * loop below would still have asked for room once. */
		if (n > 0)
			orch_room(p);
		return;
	}
	for (size_t i = 0; i < n && orch_room(p); i++) {
		const json_t *t = store_at(p->s, STORE_KIND_TASK, i);
		struct orch_facts f = orch_facts_stored(p, t);
		if (store_get(p->s, STORE_KIND_SERVICE, f.service) != NULL)
			continue;
		enum orch_state st = f.state;
		const json_t *node = store_get(p->s, STORE_KIND_NODE, f.node);
		bool lost = node == NULL || strcmp(orch_jstr(node, "Status", "State", NULL), "down") == 0;
		if (orch_state_terminal(st) || st < ORCH_STATE_ASSIGNED || lost) /* nothing left to stop */
			orch_delete(p, t);
		else
			orch_shutdown(p, t);
	}
}

/* ---- scheduling -------------------------------------------------------------------- */

/* A service's host-mode ports, looked up by id (services in ascending id order). */
struct service_ports {
	const char *id;
	const json_t *ports;
};

static int service_ports_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct service_ports *)elem)->id);
}

/* The ports of every service, in the store's order; NULL when out of memory
 * (or there is no service). */
static struct service_ports *all_service_ports(struct orch_pass *p, size_t *n)
{
	*n = store_count(p->s, STORE_KIND_SERVICE);
	struct service_ports *sp = *n ? malloc(*n * sizeof(*sp)) : NULL;
	if (*n && sp == NULL)
		fail(p, -ENOMEM);
	for (size_t i = 0; sp && i < *n; i++) {
		const json_t *svc = store_at(p->s, STORE_KIND_SERVICE, i);
		sp[i] = (struct service_ports){.id = orch_jstr(svc, "ID", NULL), .ports = service_ports(svc)};
	}
	return sp;
}

/* The ports of the service with this id, or NULL (no such service, or no ports). */
static const json_t *ports_of(const struct service_ports *sp, size_t n, const char *service)
{
	const struct service_ports *found = n ? bsearch(service, sp, n, sizeof(*sp), service_ports_cmp) : NULL;
	return found ? found->ports : NULL;
}

static bool service_exists(const struct service_ports *sp, size_t n, const char *service)
{
	return n && bsearch(service, sp, n, sizeof(*sp), service_ports_cmp) != NULL;
}

static bool waits_for_node(const struct orch_facts *f)
{
	return f->wants_running && f->state < ORCH_STATE_ASSIGNED;
}

static void assign(struct orch_pass *p, json_t *t, const char *node_id)
{
	orch_set(p, t, "NodeID", json_string(node_id));
	orch_set_status(p, t, ORCH_STATE_ASSIGNED, "scheduler assigned task to node");
}

/* A task the scheduler could not place: pending, with why. */
static void leave_pending(struct orch_pass *p, json_t *t, const char *why)
{
	orch_set_status(p, t, ORCH_STATE_PENDING, "pending task scheduling");
	json_t *status = json_object_get(t, "Status");
	if (status != NULL)
		orch_set(p, status, "Err", json_string(why));
}

static void place_existing(struct orch_pass *p, struct scheduler *sc, const json_t *t, const json_t *ports)
{
	char why[SCHEDULER_MSG_MAX];
	const char *node = NULL;
	const json_t *view = orch_view(p, t);
	int rc = scheduler_place(sc, view, ports, &node, why, sizeof(why));
	if (rc == SCHEDULER_E_NOMEM) {
		fail(p, rc);
		return;
	}
	if (rc != 0 && strcmp(orch_jstr(view, "Status", "Err", NULL), why) == 0 &&
	    orch_task_state(view) == ORCH_STATE_PENDING)
		return; /* already says so */
	json_t *e = orch_edit(p, STORE_KIND_TASK, t);
	if (e == NULL)
		return;
	if (rc == 0)
		assign(p, e, node);
	else
		leave_pending(p, e, why);
}

static void place_created(struct orch_pass *p, struct scheduler *sc, struct orch_create *c)
{
	char why[SCHEDULER_MSG_MAX];
	const char *node = NULL;
	int rc = scheduler_place(sc, c->obj, c->ports, &node, why, sizeof(why));
	if (rc == 0)
		assign(p, c->obj, node);
	else if (rc == SCHEDULER_E_NO_NODE)
		leave_pending(p, c->obj, why);
	else
		fail(p, rc);
}

/* What one scan of the tasks (as this pass left them) found for scheduling. */
struct task_scan {
	struct placed *placed; /* tasks on a node, not ended: the load */
	size_t n_placed, cap_placed;
	json_t **waiting;      /* stored tasks of existing services waiting for a node */
	size_t n_waiting, cap_waiting;
};

/* A task's load on its node, with the ids copied in. */
struct placed {
	char node[IDS_LEN + 1], service[IDS_LEN + 1];
	int64_t cpu, mem;
	const json_t *ports; /* its service's */
	bool wants_running;
};

/* Files one task; service is NULL for a task whose service is gone. */
static void scan_task(struct orch_pass *p, struct task_scan *scan, json_t *t, const struct service_ports *service)
{
	struct orch_facts f = orch_facts_of(p, t);
	if (service != NULL && waits_for_node(&f)) {
		if (grow(p, (void **)&scan->waiting, scan->n_waiting, &scan->cap_waiting, sizeof(*scan->waiting)))
			scan->waiting[scan->n_waiting++] = t;
		return;
	}
	if (f.node[0] == '\0' || f.state < ORCH_STATE_ASSIGNED || orch_state_terminal(f.state))
		return;
	if (!grow(p, (void **)&scan->placed, scan->n_placed, &scan->cap_placed, sizeof(*scan->placed)))
		return;
	struct placed *pl = &scan->placed[scan->n_placed++];
	*pl = (struct placed){.cpu = f.cpu, .mem = f.mem, .ports = service ? service->ports : NULL,
			      .wants_running = f.wants_running};
	memcpy(pl->node, f.node, sizeof(pl->node));
	memcpy(pl->service, f.service, sizeof(pl->service));
}

static int by_task_id(const void *a, const void *b)
{
	return strcmp(orch_jstr(*(json_t *const *)a, "ID", NULL), orch_jstr(*(json_t *const *)b, "ID", NULL));
}

/* Scans the tasks service by service (through the index; the load is a sum,
 * so order does not matter), then, if some task has no service, all tasks
 * for those. The waiting tasks end up in id order, the store's. */
static void scan_tasks(struct orch_pass *p, const struct service_ports *sp, size_t n_sp, struct task_scan *scan)
{
	json_t **tasks = NULL;
	size_t cap = 0, counted = 0, n_tasks = store_count(p->s, STORE_KIND_TASK);
	for (size_t i = 0; i < n_sp && p->rc == 0; i++) {
		size_t n = store_tasks_by_service(p->s, sp[i].id, NULL, 0);
		if (n > cap) {
			json_t **bigger = realloc(tasks, n * sizeof(*tasks));
			if (bigger == NULL) {
				fail(p, -ENOMEM);
				break;
			}
			tasks = bigger;
			cap = n;
		}
		store_tasks_by_service(p->s, sp[i].id, tasks, n);
		for (size_t j = 0; j < n; j++)
			scan_task(p, scan, tasks[j], &sp[i]);
		counted += n;
	}
	free(tasks);
	for (size_t i = 0; counted < n_tasks && i < n_tasks && p->rc == 0; i++) {
		json_t *t = store_at(p->s, STORE_KIND_TASK, i);
		struct orch_facts f = orch_facts_stored(p, t);
		if (!service_exists(sp, n_sp, f.service))
			scan_task(p, scan, t, NULL);
	}
	if (scan->n_waiting > 1)
		qsort(scan->waiting, scan->n_waiting, sizeof(*scan->waiting), by_task_id);
}

/* The nodes and the load on them. */
static struct scheduler *load_scheduler(struct orch_pass *p, const struct task_scan *scan)
{
	struct scheduler *sc = scheduler_new();
	size_t n_nodes = store_count(p->s, STORE_KIND_NODE);
	if (sc == NULL) {
		fail(p, -ENOMEM);
		return NULL;
	}
	for (size_t i = 0; i < n_nodes && p->rc == 0; i++)
		if (scheduler_add_node(sc, store_at(p->s, STORE_KIND_NODE, i)) == SCHEDULER_E_NOMEM)
			fail(p, -ENOMEM);
	for (size_t i = 0; i < scan->n_placed && p->rc == 0; i++) {
		const struct placed *pl = &scan->placed[i];
		struct scheduler_load load = {.node_id = pl->node, .service_id = pl->service, .cpu = pl->cpu,
					      .mem = pl->mem, .ports = pl->ports, .wants_running = pl->wants_running};
		if (scheduler_add_load(sc, &load) != 0)
			fail(p, -ENOMEM);
	}
	return sc;
}

/* Places the tasks waiting for a node, in id order, then the new ones. With
 * none, the scheduler is not even built: most passes place nothing. */
static void schedule(struct orch_pass *p)
{
	size_t n_sp;
	struct service_ports *sp = all_service_ports(p, &n_sp);
	struct task_scan scan = {0};
	struct scheduler *sc = NULL;
	if (p->rc == 0)
		scan_tasks(p, sp, n_sp, &scan);
	if (p->rc == 0 && (scan.n_waiting > 0 || p->n_creates > 0))
		sc = load_scheduler(p, &scan);
	for (size_t i = 0; i < scan.n_waiting && p->rc == 0; i++) {
		struct orch_facts f = orch_facts_of(p, scan.waiting[i]);
		place_existing(p, sc, scan.waiting[i], ports_of(sp, n_sp, f.service));
	}
	for (size_t i = 0; i < p->n_creates && p->rc == 0; i++)
		place_created(p, sc, &p->creates[i]);
	scheduler_free(sc);
	free(scan.placed);
	free(scan.waiting);
	free(sp);
}

/* ---- the pass ------------------------------------------------------------------------ */

static int write_txn(struct orch_pass *p, struct store_txn *txn, char *err, size_t errlen)
{
	int rc = 0;
	for (size_t i = 0; i < p->n_edits && rc == 0; i++)
		rc = store_txn_update(txn, p->edits[i].kind, p->edits[i].id, p->edits[i].expect, p->edits[i].obj, err,
				      errlen);
	for (size_t i = 0; i < p->n_creates && rc == 0; i++)
		rc = store_txn_create(txn, STORE_KIND_TASK, p->creates[i].obj, err, errlen);
	for (size_t i = 0; i < p->n_deletes && rc == 0; i++)
		rc = store_txn_delete(txn, STORE_KIND_TASK, p->deletes[i], p->delete_expect[i], err, errlen);
	return rc == STORE_E_NOMEM ? -ENOMEM : rc == 0 ? 0 : -EINVAL;
}

static void pass_release(struct orch_pass *p)
{
	for (size_t i = 0; i < p->n_edits; i++)
		json_decref(p->edits[i].obj);
	for (size_t i = 0; i < p->n_creates; i++)
		json_decref(p->creates[i].obj);
	free(p->edits);
	free(p->creates);
	free(p->deletes);
	free(p->delete_expect);
	orch_ptrmap_free(&p->edit_index);
	free(p->nodes);
}

static int pass_finish(struct orch_pass *p, struct orchestrator_pass *out, char *err, size_t errlen)
{
	out->wake_ns = p->wake;
	out->more = p->full;
	out->created = p->n_creates;
	out->updated = p->n_edits;
	out->deleted = p->n_deletes;
	if (p->ops == 0)
		return 0;
	struct store_txn *txn = store_txn_new(p->now);
	if (txn == NULL) {
		snprintf(err, errlen, "orchestrator: out of memory");
		return -ENOMEM;
	}
	int rc = write_txn(p, txn, err, errlen);
	if (rc != 0) {
		store_txn_free(txn);
		return rc;
	}
	out->txn = txn;
	return 0;
}

int orchestrator_run(struct orchestrator *o, const struct store *s, int64_t now_ns, size_t max_ops,
		     struct orchestrator_pass *out, char *err, size_t errlen)
{
	struct orch_pass p = {.o = o, .s = s, .now = now_ns, .max_ops = max_ops ? max_ops : ORCHESTRATOR_BATCH};
	memset(out, 0, sizeof(*out));
	if (store_time_format(now_ns, p.now_text) != 0) {
		snprintf(err, errlen, "orchestrator: the time is before 1970");
		return -EINVAL;
	}
	if (!read_nodes(&p) || orch_cache_begin(&o->cache) != 0) {
		free(p.nodes);
		snprintf(err, errlen, "orchestrator: out of memory");
		return -ENOMEM;
	}
	size_t n_services = store_count(s, STORE_KIND_SERVICE), i = 0;
	for (; i < n_services && p.rc == 0 && !p.full; i++)
		reconcile_service(&p, store_at(s, STORE_KIND_SERVICE, i));
	reap_orphan_tasks(&p, i == n_services);
	if (p.rc == 0)
		schedule(&p);
	int rc = p.rc;
	if (rc != 0)
		snprintf(err, errlen, "orchestrator: out of memory");
	else
		rc = pass_finish(&p, out, err, errlen);
	pass_release(&p);
	orch_cache_end(o->cache);
	return rc;
}
