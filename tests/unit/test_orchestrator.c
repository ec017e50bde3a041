/* Unit tests for orchestrator: passes over a real store, agents simulated by further transactions, time advanced by hand; and a seeded property test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/ids.h"
#include "test_mkid.h"
#include "swarmnode/orchestrator.h"
#include "swarmnode/store.h"

/* 2026-11-24T22:54:25.604293636Z, a time from the Engine API trace. */
#define T0 INT64_C(1795560865604293636)
#define SEC INT64_C(1000000000)

/* ---- the cluster: a store, a clock, the orchestrator, simulated agents ---------------- */

struct cl {
	struct store *s;
	uint64_t index; /* last applied log index */
	int64_t now;
	struct orchestrator o;
	size_t max_ops;           /* 0: the default */
	struct orchestrator_pass last; /* the last pass's summary (txn freed) */
};

static int setup(void **state)
{
	struct cl *c = calloc(1, sizeof(*c));
	c->s = store_new();
	c->now = T0;
	orchestrator_init(&c->o, 42);
	*state = c;
	return c->s == NULL;
}

static int teardown(void **state)
{
	struct cl *c = *state;
	store_free(c->s);
	orchestrator_close(&c->o);
	free(c);
	return 0;
}

static void apply(struct cl *c, struct store_txn *txn)
{
	uint8_t *bytes;
	size_t len;
	struct store_result res;
	assert_int_equal(store_txn_encode(txn, &bytes, &len), 0);
	int rc = store_apply(c->s, ++c->index, bytes, len, &res);
	free(bytes);
	if (rc != 0)
		fail_msg("transaction refused: %s (op %ld): %s", store_strerror(rc), res.op, res.message);
}

static void put(struct cl *c, enum store_kind kind, json_t *obj)
{
	char err[STORE_MSG_MAX];
	struct store_txn *txn = store_txn_new(c->now);
	int rc = store_txn_create(txn, kind, obj, err, sizeof(err));
	if (rc != 0)
		fail_msg("create refused: %s", err);
	apply(c, txn);
	store_txn_free(txn);
	json_decref(obj);
}

/* Replaces a stored object with obj (stolen), as the API would. */
static void replace(struct cl *c, enum store_kind kind, json_t *obj)
{
	char err[STORE_MSG_MAX];
	const char *id = json_string_value(json_object_get(obj, "ID"));
	json_t *cur = store_get(c->s, kind, id);
	assert_non_null(cur);
	uint64_t v = (uint64_t)json_integer_value(json_object_get(json_object_get(cur, "Version"), "Index"));
	struct store_txn *txn = store_txn_new(c->now);
	if (store_txn_update(txn, kind, id, v, obj, err, sizeof(err)) != 0)
		fail_msg("update refused: %s", err);
	apply(c, txn);
	store_txn_free(txn);
	json_decref(obj);
}

/* A private copy of a stored object to change and replace(). */
static json_t *copy_of(struct cl *c, enum store_kind kind, const char *id)
{
	json_t *o = store_get(c->s, kind, id);
	assert_non_null(o);
	return json_deep_copy(o);
}

/* One pass; its transaction applied. Returns whether it changed anything. */
static bool pass(struct cl *c)
{
	char err[ORCHESTRATOR_MSG_MAX];
	int rc = orchestrator_run(&c->o, c->s, c->now, c->max_ops, &c->last, err, sizeof(err));
	if (rc != 0)
		fail_msg("pass failed: %s", err);
	if (c->last.txn == NULL)
		return false;
	if (getenv("ORCH_TRACE")) {
		uint8_t *b;
		size_t l;
		store_txn_encode(c->last.txn, &b, &l);
		fprintf(stderr, "pass: %.*s\n", (int)l, (const char *)b);
		free(b);
	}
	apply(c, c->last.txn);
	store_txn_free(c->last.txn);
	c->last.txn = NULL;
	return true;
}

/* Passes until one changes nothing. */
static void converge(struct cl *c)
{
	for (int i = 0; i < 50; i++)
		if (!pass(c))
			return;
	fail_msg("the orchestrator did not settle in 50 passes");
}

static const char *str(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);
	if (b != NULL)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : "";
}

static bool node_down(struct cl *c, const char *node_id)
{
	json_t *n = store_get(c->s, STORE_KIND_NODE, node_id);
	return n == NULL || strcmp(str(n, "Status", "State"), "down") == 0;
}

/* Sets a task's state as its agent would report it. */
static void task_state(json_t *t, const char *state, int64_t now)
{
	char ts[STORE_TIME_MAX];
	assert_int_equal(store_time_format(now, ts), 0);
	json_t *status = json_object_get(t, "Status");
	json_object_set_new(status, "State", json_string(state));
	json_object_set_new(status, "Timestamp", json_string(ts));
	json_object_set_new(status, "Message", json_string(state));
	json_object_del(status, "Err");
}

static bool terminal(const char *state)
{
	static const char *const names[] = {"complete", "shutdown", "failed", "rejected", "orphaned"};
	for (size_t i = 0; i < 5; i++)
		if (strcmp(state, names[i]) == 0)
			return true;
	return false;
}

/* Agents on live nodes: assigned tasks meant to run start; tasks meant to
 * stop stop. Returns whether anything changed. */
static bool agents(struct cl *c)
{
	struct store_txn *txn = store_txn_new(c->now);
	char err[STORE_MSG_MAX];
	for (size_t i = 0; i < store_count(c->s, STORE_KIND_TASK); i++) {
		json_t *t = store_at(c->s, STORE_KIND_TASK, i);
		const char *st = str(t, "Status", "State"), *node = str(t, "NodeID", NULL);
		bool run = strcmp(str(t, "DesiredState", NULL), "running") == 0;
		if (node[0] == '\0' || node_down(c, node) || terminal(st) || strcmp(st, "pending") == 0)
			continue;
		if (run && strcmp(st, "running") == 0)
			continue;
		json_t *u = json_deep_copy(t);
		task_state(u, run ? "running" : "shutdown", c->now);
		uint64_t v = (uint64_t)json_integer_value(json_object_get(json_object_get(t, "Version"), "Index"));
		assert_int_equal(store_txn_update(txn, STORE_KIND_TASK, str(t, "ID", NULL), v, u, err, sizeof(err)), 0);
		json_decref(u);
	}
	bool changed = store_txn_count(txn) > 0;
	if (changed)
		apply(c, txn);
	store_txn_free(txn);
	return changed;
}

/* Orchestrator and agents until neither changes anything. */
static void settle(struct cl *c)
{
	for (int i = 0; i < 50; i++) {
		converge(c);
		if (!agents(c))
			return;
	}
	fail_msg("the cluster did not settle");
}

/* ---- objects ------------------------------------------------------------------------------ */

static json_t *node(const char *tag, const char *state, const char *availability)
{
	return json_pack("{s:s, s:{s:s, s:s, s:{}}, s:{s:s, s:{s:I, s:I}}, s:{s:s}}", "ID", mkid(tag), "Spec",
			 "Role", "worker", "Availability", availability, "Labels", "Description", "Hostname", tag,
			 "Resources", "NanoCPUs", (json_int_t)4 * SEC, "MemoryBytes", (json_int_t)1 << 33, "Status",
			 "State", state);
}

static void add_nodes(struct cl *c, int n)
{
	char tag[8];
	for (int i = 0; i < n; i++) {
		snprintf(tag, sizeof(tag), "n%d", i);
		put(c, STORE_KIND_NODE, node(tag, "ready", "active"));
	}
}

static void set_node(struct cl *c, const char *tag, const char *state, const char *availability)
{
	json_t *n = copy_of(c, STORE_KIND_NODE, mkid(tag));
	if (state)
		json_object_set_new(json_object_get(n, "Status"), "State", json_string(state));
	if (availability)
		json_object_set_new(json_object_get(n, "Spec"), "Availability", json_string(availability));
	replace(c, STORE_KIND_NODE, n);
}

/* A service as the API stores it (defaults filled); replicas < 0: global. */
static json_t *service(const char *tag, int replicas, const char *image)
{
	json_t *mode = replicas < 0 ? json_pack("{s:{}}", "Global")
				    : json_pack("{s:{s:i}}", "Replicated", "Replicas", replicas);
	json_t *update = json_pack("{s:i, s:I, s:s, s:I, s:f, s:s}", "Parallelism", 1, "Delay", (json_int_t)0,
				   "FailureAction", "pause", "Monitor", (json_int_t)5 * SEC, "MaxFailureRatio", 0.0,
				   "Order", "stop-first");
	return json_pack("{s:s, s:{s:s, s:{s:{s:s}, s:{s:s, s:I, s:i}}, s:o, s:O, s:o}}", "ID", mkid(tag), "Spec",
			 "Name", tag, "TaskTemplate", "ContainerSpec", "Image", image, "RestartPolicy", "Condition",
			 "any", "Delay", (json_int_t)5 * SEC, "MaxAttempts", 0, "Mode", mode, "UpdateConfig", update,
			 "RollbackConfig", update);
}

static json_t *spec_path(json_t *svc, const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(svc, "Spec"), a);
	return b ? json_object_get(v, b) : v;
}

/* The API's `service update`: PreviousSpec = Spec, then fn changes Spec; UpdateStatus cleared. */
static void update_service(struct cl *c, const char *tag, void (*fn)(json_t *spec, const void *arg), const void *arg)
{
	json_t *s = copy_of(c, STORE_KIND_SERVICE, mkid(tag));
	json_object_set_new(s, "PreviousSpec", json_deep_copy(json_object_get(s, "Spec")));
	json_object_del(s, "UpdateStatus");
	fn(json_object_get(s, "Spec"), arg);
	replace(c, STORE_KIND_SERVICE, s);
}

static void set_image(json_t *spec, const void *image)
{
	json_object_set_new(json_object_get(json_object_get(spec, "TaskTemplate"), "ContainerSpec"), "Image",
			    json_string(image));
}

static void set_replicas(json_t *spec, const void *n)
{
	json_object_set_new(json_object_get(json_object_get(spec, "Mode"), "Replicated"), "Replicas",
			    json_integer(*(const int *)n));
}

static void scale(struct cl *c, const char *tag, int n)
{
	json_t *s = copy_of(c, STORE_KIND_SERVICE, mkid(tag));
	set_replicas(json_object_get(s, "Spec"), &n);
	replace(c, STORE_KIND_SERVICE, s);
}

/* Sets a key of the update config (or restart policy). */
static void service_set(struct cl *c, const char *tag, const char *section, const char *sub, const char *key,
			json_t *value)
{
	json_t *s = copy_of(c, STORE_KIND_SERVICE, mkid(tag));
	json_t *obj = spec_path(s, section, sub);
	assert_non_null(obj);
	json_object_set_new(obj, key, value);
	replace(c, STORE_KIND_SERVICE, s);
}

/* ---- queries ------------------------------------------------------------------------------ */

static size_t tasks_of(struct cl *c, const char *svc_tag, json_t **out, size_t cap)
{
	return store_tasks_by_service(c->s, mkid(svc_tag), out, cap);
}

/* Tasks of the service in slot (0: any) with DesiredState desired (NULL: any) and state (NULL: any). */
static size_t count(struct cl *c, const char *svc_tag, int64_t slot, const char *desired, const char *state)
{
	json_t *t[1024];
	size_t n = tasks_of(c, svc_tag, t, 1024), k = 0;
	for (size_t i = 0; i < n; i++) {
		if (slot && json_integer_value(json_object_get(t[i], "Slot")) != slot)
			continue;
		if (desired && strcmp(str(t[i], "DesiredState", NULL), desired) != 0)
			continue;
		if (state && strcmp(str(t[i], "Status", "State"), state) != 0)
			continue;
		k++;
	}
	return k;
}

/* The one task of the service in slot with DesiredState running. */
static json_t *slot_task(struct cl *c, const char *svc_tag, int64_t slot)
{
	json_t *t[1024], *found = NULL;
	size_t n = tasks_of(c, svc_tag, t, 1024);
	for (size_t i = 0; i < n; i++)
		if (json_integer_value(json_object_get(t[i], "Slot")) == slot &&
		    strcmp(str(t[i], "DesiredState", NULL), "running") == 0) {
			assert_null(found);
			found = t[i];
		}
	return found;
}

static const char *image_of(const json_t *task)
{
	return str(json_object_get(json_object_get(task, "Spec"), "ContainerSpec"), "Image", NULL);
}

static const char *update_state(struct cl *c, const char *tag)
{
	return str(store_get(c->s, STORE_KIND_SERVICE, mkid(tag)), "UpdateStatus", "State");
}

static const char *update_message(struct cl *c, const char *tag)
{
	return str(store_get(c->s, STORE_KIND_SERVICE, mkid(tag)), "UpdateStatus", "Message");
}

/* Makes a stored task end in state (as its agent reports). */
static void end_task(struct cl *c, json_t *t, const char *state)
{
	json_t *u = json_deep_copy(t);
	task_state(u, state, c->now);
	replace(c, STORE_KIND_TASK, u);
}

/* ---- replicated services and scaling ------------------------------------------------------ */

static void replicated_service_gets_one_task_per_slot(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 3);
	put(c, STORE_KIND_SERVICE, service("web", 3, "nginx"));
	assert_true(pass(c));
	assert_int_equal(c->last.created, 3);
	const char *seen[3];
	for (int64_t k = 1; k <= 3; k++) {
		json_t *t = slot_task(c, "web", k);
		assert_non_null(t);
		assert_string_equal(str(t, "Status", "State"), "assigned");
		assert_string_equal(str(t, "Status", "Message"), "scheduler assigned task to node");
		assert_string_equal(str(t, "ServiceAnnotations", "Name"), "web");
		assert_string_equal(image_of(t), "nginx");
		seen[k - 1] = str(t, "NodeID", NULL);
		for (int64_t j = 1; j < k; j++)
			assert_string_not_equal(seen[j - 1], seen[k - 1]); /* spread over the three nodes */
	}
	assert_false(pass(c)); /* nothing left to do */
	settle(c);
	assert_int_equal(count(c, "web", 0, "running", "running"), 3);
}

static void unschedulable_tasks_wait_with_docker_error(void **state)
{
	struct cl *c = *state;
	put(c, STORE_KIND_SERVICE, service("web", 2, "nginx"));
	assert_true(pass(c));
	json_t *t = slot_task(c, "web", 1);
	assert_string_equal(str(t, "Status", "State"), "pending");
	assert_string_equal(str(t, "Status", "Err"), "no suitable node");
	assert_false(pass(c)); /* the same error is not written again */
	put(c, STORE_KIND_NODE, node("a", "ready", "drain"));
	assert_true(pass(c));
	assert_string_equal(str(slot_task(c, "web", 1), "Status", "Err"),
			    "no suitable node (1 node not available for new tasks)");
	set_node(c, "a", NULL, "active");
	assert_true(pass(c));
	assert_string_equal(str(slot_task(c, "web", 2), "Status", "State"), "assigned");
	assert_string_equal(str(slot_task(c, "web", 2), "NodeID", NULL), mkid("a"));
	assert_string_equal(str(slot_task(c, "web", 2), "Status", "Err"), "");
}

static void scaling_adds_and_removes_the_highest_slots(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	put(c, STORE_KIND_SERVICE, service("web", 2, "nginx"));
	settle(c);
	json_t *one = slot_task(c, "web", 1);
	const char *one_id = str(one, "ID", NULL);
	char keep[IDS_LEN + 1];
	snprintf(keep, sizeof(keep), "%s", one_id);
	scale(c, "web", 5);
	settle(c);
	assert_int_equal(count(c, "web", 0, "running", "running"), 5);
	for (int64_t k = 1; k <= 5; k++)
		assert_non_null(slot_task(c, "web", k));
	scale(c, "web", 2);
	assert_true(pass(c));
	for (int64_t k = 3; k <= 5; k++)
		assert_int_equal(count(c, "web", k, "shutdown", "running"), 1);
	settle(c);
	assert_int_equal(count(c, "web", 0, "running", "running"), 2);
	/* once stopped, the removed slots' tasks are deleted (Docker's task reaper) */
	assert_int_equal(count(c, "web", 0, NULL, NULL), 2);
	assert_string_equal(str(slot_task(c, "web", 1), "ID", NULL), keep); /* untouched */
}

/* ---- global services ------------------------------------------------------------------------ */

static void global_service_runs_once_per_eligible_node(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 3);
	put(c, STORE_KIND_NODE, node("dr", "ready", "drain"));
	json_t *svc = service("mon", -1, "agent");
	json_object_set_new(spec_path(svc, "TaskTemplate", NULL), "Placement",
			    json_pack("{s:[s]}", "Constraints", "node.hostname!=n2"));
	put(c, STORE_KIND_SERVICE, svc);
	settle(c);
	json_t *t[16];
	size_t n = tasks_of(c, "mon", t, 16);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_null(json_object_get(t[i], "Slot"));
		assert_string_equal(str(t[i], "Status", "State"), "running");
	}
	assert_int_equal(store_tasks_by_node(c->s, mkid("n2"), NULL, 0), 0);
	put(c, STORE_KIND_NODE, node("n9", "ready", "active"));
	settle(c);
	assert_int_equal(count(c, "mon", 0, "running", "running"), 3);
	set_node(c, "n0", NULL, "drain");
	settle(c);
	assert_int_equal(count(c, "mon", 0, "running", "running"), 2);
	assert_int_equal(count(c, "mon", 0, "shutdown", "shutdown"), 1);
	set_node(c, "n1", "down", NULL);
	assert_true(pass(c));
	assert_int_equal(count(c, "mon", 0, "shutdown", "orphaned"), 1);
	settle(c);
	assert_int_equal(count(c, "mon", 0, "running", "running"), 1); /* n9 only */
	set_node(c, "n1", "ready", NULL);
	settle(c);
	assert_int_equal(count(c, "mon", 0, "running", "running"), 2);
}

/* ---- restart policy ----------------------------------------------------------------------------- */

static void failed_task_is_replaced_after_the_restart_delay(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	put(c, STORE_KIND_SERVICE, service("web", 1, "nginx"));
	settle(c);
	end_task(c, slot_task(c, "web", 1), "failed");
	int64_t failed_at = c->now;
	assert_false(pass(c));
	assert_int_equal(c->last.wake_ns, failed_at + 5 * SEC);
	c->now += 4 * SEC;
	assert_false(pass(c));
	c->now += SEC;
	assert_true(pass(c));
	assert_int_equal(count(c, "web", 1, "shutdown", "failed"), 1);
	json_t *t = slot_task(c, "web", 1);
	assert_string_equal(str(t, "Status", "State"), "assigned");
	settle(c);
	assert_int_equal(count(c, "web", 1, "running", "running"), 1);
}

static void restart_condition_is_honoured(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 1);
	put(c, STORE_KIND_SERVICE, service("job", 1, "batch"));
	service_set(c, "job", "TaskTemplate", "RestartPolicy", "Condition", json_string("on-failure"));
	settle(c);
	end_task(c, slot_task(c, "job", 1), "complete");
	c->now += 60 * SEC;
	assert_false(pass(c)); /* on-failure: a complete task stays complete */
	assert_int_equal(c->last.wake_ns, 0);
	service_set(c, "job", "TaskTemplate", "RestartPolicy", "Condition", json_string("none"));
	settle(c); /* the spec changed: the update replaces the ended task once */
	c->now += 10 * SEC;
	settle(c);
	assert_string_equal(update_state(c, "job"), "completed");
	end_task(c, slot_task(c, "job", 1), "failed");
	c->now += 60 * SEC;
	assert_false(pass(c)); /* none: never */
	assert_int_equal(count(c, "job", 1, "running", "failed"), 1);
}

/* Found by sim_orch (deaths, seed 30): a task that ended and may not restart
 * kept DesiredState running on a node that went down. It stops being meant to
 * run there, and its slot still stays empty. */
static void ended_task_of_a_lost_node_is_no_longer_meant_to_run(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	json_t *svc = service("job", 2, "batch");
	json_object_set_new(json_object_get(spec_path(svc, "TaskTemplate", NULL), "RestartPolicy"), "Condition",
			    json_string("none"));
	put(c, STORE_KIND_SERVICE, svc);
	settle(c);
	json_t *t = slot_task(c, "job", 1);
	const char *tag = strcmp(str(t, "NodeID", NULL), mkid("n0")) == 0 ? "n0" : "n1";
	end_task(c, t, "failed");
	c->now += 60 * SEC;
	assert_false(pass(c)); /* none: the slot stays as it is */
	set_node(c, tag, "down", NULL);
	assert_true(pass(c));
	assert_int_equal(count(c, "job", 1, "shutdown", "failed"), 1);
	assert_int_equal(count(c, "job", 1, NULL, NULL), 1); /* not refilled */
	c->now += 60 * SEC;
	settle(c);
	assert_int_equal(count(c, "job", 1, NULL, NULL), 1);
	set_node(c, tag, "ready", NULL); /* back: still not refilled */
	c->now += 60 * SEC;
	settle(c);
	assert_int_equal(count(c, "job", 1, NULL, NULL), 1);
	assert_int_equal(count(c, "job", 2, "running", "running"), 1);
}

static void max_attempts_count_within_the_window(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 1);
	json_t *svc = service("web", 1, "crash");
	json_t *rp = json_object_get(spec_path(svc, "TaskTemplate", NULL), "RestartPolicy");
	json_object_set_new(rp, "MaxAttempts", json_integer(2));
	json_object_set_new(rp, "Window", json_integer(60 * SEC));
	json_object_set_new(rp, "Delay", json_integer(0));
	put(c, STORE_KIND_SERVICE, svc);
	settle(c);
	for (int i = 0; i < 2; i++) { /* two failures: two restarts */
		end_task(c, slot_task(c, "web", 1), "failed");
		c->now += SEC;
		settle(c);
		assert_string_equal(str(slot_task(c, "web", 1), "Status", "State"), "running");
	}
	end_task(c, slot_task(c, "web", 1), "failed"); /* third within the window: no more */
	c->now += SEC;
	settle(c);
	assert_string_equal(str(slot_task(c, "web", 1), "Status", "State"), "failed");
	assert_int_equal(count(c, "web", 0, NULL, NULL), 3);
}

static void history_keeps_five_ended_tasks_per_slot(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 1);
	json_t *svc = service("web", 1, "crash");
	json_object_set_new(json_object_get(spec_path(svc, "TaskTemplate", NULL), "RestartPolicy"), "Delay",
			    json_integer(0));
	put(c, STORE_KIND_SERVICE, svc);
	settle(c);
	for (int i = 0; i < 9; i++) {
		end_task(c, slot_task(c, "web", 1), "failed");
		c->now += SEC;
		settle(c);
		assert_true(count(c, "web", 1, "shutdown", NULL) <= ORCHESTRATOR_HISTORY_LIMIT);
	}
	assert_int_equal(count(c, "web", 1, "shutdown", "failed"), ORCHESTRATOR_HISTORY_LIMIT);
	assert_int_equal(count(c, "web", 1, "running", "running"), 1);
}

/* ---- nodes lost and drained -------------------------------------------------------------------- */

static void tasks_of_a_down_node_are_orphaned_and_replaced(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 3);
	put(c, STORE_KIND_SERVICE, service("web", 3, "nginx"));
	settle(c);
	json_t *t[8];
	size_t n = store_tasks_by_node(c->s, mkid("n1"), t, 8);
	assert_int_equal(n, 1);
	int64_t slot = json_integer_value(json_object_get(t[0], "Slot"));
	set_node(c, "n1", "down", NULL);
	assert_true(pass(c));
	assert_int_equal(count(c, "web", slot, "shutdown", "orphaned"), 1);
	json_t *repl = slot_task(c, "web", slot);
	assert_string_equal(str(repl, "Status", "State"), "assigned"); /* same pass, another node */
	assert_string_not_equal(str(repl, "NodeID", NULL), mkid("n1"));
	settle(c);
	assert_int_equal(count(c, "web", 0, "running", "running"), 3);
}

static void drained_node_is_emptied(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	put(c, STORE_KIND_SERVICE, service("web", 4, "nginx"));
	settle(c);
	set_node(c, "n0", NULL, "drain");
	assert_true(pass(c));
	/* the replacements do not wait for the drained tasks to stop */
	assert_int_equal(count(c, "web", 0, "shutdown", "running"), 2);
	assert_int_equal(count(c, "web", 0, "running", "assigned"), 2);
	settle(c);
	assert_int_equal(count(c, "web", 0, "running", "running"), 4);
	json_t *t[16];
	size_t n = store_tasks_by_node(c->s, mkid("n0"), t, 16);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(str(t[i], "DesiredState", NULL), "shutdown");
}

static void removed_service_tasks_stop_then_go(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	put(c, STORE_KIND_SERVICE, service("web", 2, "nginx"));
	put(c, STORE_KIND_SERVICE, service("api", 1, "api"));
	settle(c);
	json_t *svc = store_get(c->s, STORE_KIND_SERVICE, mkid("web"));
	struct store_txn *txn = store_txn_new(c->now);
	assert_int_equal(store_txn_delete(txn, STORE_KIND_SERVICE, mkid("web"),
					  (uint64_t)json_integer_value(json_object_get(json_object_get(svc, "Version"), "Index")),
					  NULL, 0),
			 0);
	apply(c, txn);
	store_txn_free(txn);
	set_node(c, "n1", "down", NULL);
	assert_true(pass(c));
	assert_int_equal(count(c, "web", 0, "shutdown", "running"), 1); /* n0's; n1's is gone */
	settle(c);
	assert_int_equal(count(c, "web", 0, NULL, NULL), 0);
	assert_int_equal(count(c, "api", 0, "running", "running"), 1);
}

/* ---- rolling updates ---------------------------------------------------------------------------- */

/* Settles the cluster, then returns how many slots run each image. */
static size_t running_image(struct cl *c, const char *tag, const char *image)
{
	json_t *t[1024];
	size_t n = tasks_of(c, tag, t, 1024), k = 0;
	for (size_t i = 0; i < n; i++)
		k += strcmp(str(t[i], "DesiredState", NULL), "running") == 0 &&
		     strcmp(str(t[i], "Status", "State"), "running") == 0 && strcmp(image_of(t[i]), image) == 0;
	return k;
}

/* Slots not running the given image, or not running at all. */
static size_t slots_in_flight(struct cl *c, const char *tag, int replicas, const char *image)
{
	size_t k = 0;
	for (int64_t s = 1; s <= replicas; s++) {
		json_t *t = slot_task(c, tag, s);
		k += t == NULL || strcmp(str(t, "Status", "State"), "running") != 0 ||
		     strcmp(image_of(t), image) != 0;
	}
	return k;
}

static void rolling_update_stop_first_one_at_a_time(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 3);
	put(c, STORE_KIND_SERVICE, service("web", 3, "v1"));
	settle(c);
	assert_string_equal(update_state(c, "web"), ""); /* absent until an update */
	update_service(c, "web", set_image, "v2");
	assert_true(pass(c));
	assert_string_equal(update_state(c, "web"), "updating");
	assert_string_equal(update_message(c, "web"), "update in progress");
	assert_int_equal(count(c, "web", 0, "shutdown", "running"), 1); /* stop first: nothing new yet */
	assert_int_equal(count(c, "web", 0, NULL, NULL), 3);
	for (int round = 0; round < 20 && running_image(c, "web", "v2") < 3; round++) {
		converge(c);
		assert_true(slots_in_flight(c, "web", 3, "v2") <= 3 - running_image(c, "web", "v2"));
		assert_true(count(c, "web", 0, "running", NULL) + count(c, "web", 0, "shutdown", "running") <= 3);
		agents(c);
		assert_true(running_image(c, "web", "v1") + running_image(c, "web", "v2") >= 2); /* one down at most */
	}
	settle(c);
	assert_int_equal(running_image(c, "web", "v2"), 3);
	assert_string_equal(update_state(c, "web"), "updating"); /* monitoring the last one */
	assert_true(c->last.wake_ns > c->now);
	c->now = c->last.wake_ns;
	settle(c);
	assert_string_equal(update_state(c, "web"), "completed");
	assert_string_equal(update_message(c, "web"), "update completed");
	assert_string_not_equal(str(store_get(c->s, STORE_KIND_SERVICE, mkid("web")), "UpdateStatus", "CompletedAt"), "");
}

static void update_delay_spaces_the_slots(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	put(c, STORE_KIND_SERVICE, service("web", 2, "v1"));
	service_set(c, "web", "UpdateConfig", NULL, "Delay", json_integer(10 * SEC));
	settle(c);
	update_service(c, "web", set_image, "v2");
	settle(c);
	assert_int_equal(running_image(c, "web", "v2"), 1);
	assert_int_equal(running_image(c, "web", "v1"), 1);
	int64_t want = c->now + 10 * SEC;
	assert_int_equal(c->last.wake_ns, want);
	c->now += 9 * SEC;
	settle(c);
	assert_int_equal(running_image(c, "web", "v1"), 1);
	c->now = want;
	settle(c);
	assert_int_equal(running_image(c, "web", "v2"), 2);
}

static void start_first_overlaps_old_and_new(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	put(c, STORE_KIND_SERVICE, service("web", 1, "v1"));
	service_set(c, "web", "UpdateConfig", NULL, "Order", json_string("start-first"));
	settle(c);
	update_service(c, "web", set_image, "v2");
	assert_true(pass(c));
	assert_int_equal(count(c, "web", 1, "running", NULL), 2); /* old still running, new assigned */
	assert_int_equal(running_image(c, "web", "v1"), 1);
	agents(c); /* the new one runs */
	assert_true(pass(c));
	assert_int_equal(count(c, "web", 1, "shutdown", "running"), 1);
	settle(c);
	assert_int_equal(running_image(c, "web", "v2"), 1);
	assert_int_equal(count(c, "web", 1, "running", NULL), 1);
}

static void failed_update_pauses(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 3);
	put(c, STORE_KIND_SERVICE, service("web", 3, "v1"));
	settle(c);
	update_service(c, "web", set_image, "bad");
	converge(c);
	agents(c); /* the old task of slot 1 stops */
	converge(c);
	json_t *fresh = NULL;
	for (int64_t s = 1; s <= 3 && fresh == NULL; s++)
		if (strcmp(image_of(slot_task(c, "web", s)), "bad") == 0)
			fresh = slot_task(c, "web", s);
	assert_non_null(fresh);
	char id[IDS_LEN + 1], want[128];
	snprintf(id, sizeof(id), "%s", str(fresh, "ID", NULL));
	end_task(c, fresh, "rejected");
	assert_true(pass(c));
	assert_string_equal(update_state(c, "web"), "paused");
	snprintf(want, sizeof(want), "update paused due to failure or early termination of task %s", id);
	assert_string_equal(update_message(c, "web"), want);
	c->now += 60 * SEC;
	settle(c);
	assert_int_equal(running_image(c, "web", "v1"), 2); /* nothing more was replaced */
	assert_string_equal(update_state(c, "web"), "paused");
}

static void failed_update_rolls_back(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 2);
	put(c, STORE_KIND_SERVICE, service("web", 2, "v1"));
	service_set(c, "web", "UpdateConfig", NULL, "FailureAction", json_string("rollback"));
	settle(c);
	update_service(c, "web", set_image, "bad");
	converge(c);
	agents(c);
	converge(c);
	json_t *fresh = slot_task(c, "web", 1);
	assert_string_equal(image_of(fresh), "bad");
	end_task(c, fresh, "failed");
	assert_true(pass(c));
	json_t *svc = store_get(c->s, STORE_KIND_SERVICE, mkid("web"));
	assert_string_equal(update_state(c, "web"), "rollback_started");
	assert_non_null(strstr(update_message(c, "web"), "update rolled back due to failure or early termination of task "));
	assert_string_equal(str(json_object_get(spec_path(svc, "TaskTemplate", NULL), "ContainerSpec"), "Image", NULL), "v1");
	assert_null(json_object_get(svc, "PreviousSpec"));
	c->now += 10 * SEC;
	settle(c);
	c->now += 10 * SEC;
	settle(c);
	assert_int_equal(running_image(c, "web", "v1"), 2);
	assert_string_equal(update_state(c, "web"), "rollback_completed");
	assert_string_equal(update_message(c, "web"), "rollback completed");
}

/* `service rollback`: the API puts PreviousSpec back and marks the rollback started. */
static void manual_rollback_uses_rollback_config(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 3);
	put(c, STORE_KIND_SERVICE, service("web", 3, "v1"));
	settle(c);
	update_service(c, "web", set_image, "v2");
	settle(c);
	c->now += 10 * SEC;
	settle(c);
	assert_string_equal(update_state(c, "web"), "completed");
	json_t *s = copy_of(c, STORE_KIND_SERVICE, mkid("web"));
	json_object_set(s, "Spec", json_object_get(s, "PreviousSpec"));
	json_object_del(s, "PreviousSpec");
	json_object_set_new(json_object_get(json_object_get(s, "Spec"), "RollbackConfig"), "Parallelism",
			    json_integer(0));
	char ts[STORE_TIME_MAX];
	store_time_format(c->now, ts);
	json_object_set_new(s, "UpdateStatus", json_pack("{s:s, s:s, s:s}", "State", "rollback_started", "StartedAt", ts,
							 "Message", "manually requested rollback"));
	replace(c, STORE_KIND_SERVICE, s);
	assert_true(pass(c));
	assert_int_equal(count(c, "web", 0, "shutdown", "running"), 3); /* Parallelism 0: all at once */
	settle(c);
	c->now += 10 * SEC;
	settle(c);
	assert_int_equal(running_image(c, "web", "v1"), 3);
	assert_string_equal(update_state(c, "web"), "rollback_completed");
}

/* ---- batches and determinism ------------------------------------------------------------------- */

static void a_pass_is_bounded(void **state)
{
	struct cl *c = *state;
	add_nodes(c, 4);
	put(c, STORE_KIND_SERVICE, service("web", 250, "nginx"));
	c->max_ops = 100;
	assert_true(pass(c));
	assert_int_equal(c->last.created, 100);
	assert_true(c->last.more);
	assert_true(pass(c));
	assert_true(pass(c));
	assert_int_equal(c->last.created, 50);
	assert_false(c->last.more);
	assert_int_equal(count(c, "web", 0, "running", "assigned"), 250);
	for (int i = 0; i < 4; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "n%d", i);
		assert_int_equal(store_tasks_by_node(c->s, mkid(tag), NULL, 0), 250 / 4 + (i < 250 % 4));
	}
}

static void passes_are_deterministic(void **state)
{
	(void)state;
	uint8_t *bytes[2];
	size_t len[2];
	for (int r = 0; r < 2; r++) {
		struct cl *c;
		setup((void **)&c);
		add_nodes(c, 3);
		put(c, STORE_KIND_SERVICE, service("web", 5, "nginx"));
		put(c, STORE_KIND_SERVICE, service("mon", -1, "agent"));
		char err[ORCHESTRATOR_MSG_MAX];
		struct orchestrator_pass out;
		assert_int_equal(orchestrator_run(&c->o, c->s, c->now, 0, &out, err, sizeof(err)), 0);
		assert_non_null(out.txn);
		assert_int_equal(store_txn_encode(out.txn, &bytes[r], &len[r]), 0);
		store_txn_free(out.txn);
		void *p = c;
		teardown(&p);
	}
	assert_int_equal(len[0], len[1]);
	assert_memory_equal(bytes[0], bytes[1], len[0]);
	free(bytes[0]);
	free(bytes[1]);
}

/* The store comes from the log, so it may already hold the id the next draw
 * gives (the fuzzer found one); the pass must draw again, not write a create
 * the store refuses. */
static void a_new_task_never_reuses_a_stored_id(void **state)
{
	(void)state;
	struct cl *first, *second;
	setup((void **)&first);
	add_nodes(first, 3);
	put(first, STORE_KIND_SERVICE, service("web", 1, "nginx"));
	assert_true(pass(first));
	json_t *drawn = json_deep_copy(slot_task(first, "web", 1));
	void *p = first;
	teardown(&p);

	setup((void **)&second); /* the same seed: its first draw is the same id */
	add_nodes(second, 3);
	json_object_set_new(drawn, "ServiceID", json_string("0000000000000000000000000"));
	char taken[IDS_LEN + 1];
	snprintf(taken, sizeof(taken), "%s", str(drawn, "ID", NULL));
	put(second, STORE_KIND_TASK, drawn);
	put(second, STORE_KIND_SERVICE, service("web", 1, "nginx"));
	assert_true(pass(second));
	json_t *t = slot_task(second, "web", 1);
	assert_non_null(t);
	assert_string_not_equal(str(t, "ID", NULL), taken);
	p = second;
	teardown(&p);
}

/* ---- property test: random scale, update, node loss, drain, failures and time ------------------ */

#define PROP_NODES 6
#define PROP_SEEDS 40
#define PROP_STEPS 60

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static bool node_takes_tasks(struct cl *c, const char *node_id)
{
	json_t *n = store_get(c->s, STORE_KIND_NODE, node_id);
	return n && strcmp(str(n, "Status", "State"), "down") != 0 && strcmp(str(n, "Spec", "Availability"), "drain") != 0;
}

/* The invariants, after the orchestrator has converged. */
static void check_invariants(struct cl *c, uint64_t seed, int step)
{
	json_t *t[1024];
	static const char *const services[] = {"r1", "r2", "g"};
	for (size_t s = 0; s < 3; s++) {
		size_t n = tasks_of(c, services[s], t, 1024);
		assert_true(n < 1024);
		for (size_t i = 0; i < n; i++) {
			size_t live_same = 0, ended_old = 0;
			const char *node = str(t[i], "NodeID", NULL);
			bool run = strcmp(str(t[i], "DesiredState", NULL), "running") == 0;
			if (run && node[0] && !node_takes_tasks(c, node) && !terminal(str(t[i], "Status", "State")))
				fail_msg("seed %llu step %d: task %s meant to run on drained or down node %s",
					 (unsigned long long)seed, step, str(t[i], "ID", NULL), node);
			for (size_t j = 0; j < n; j++) {
				bool same = s == 2 ? strcmp(node, str(t[j], "NodeID", NULL)) == 0
						   : json_integer_value(json_object_get(t[i], "Slot")) ==
							     json_integer_value(json_object_get(t[j], "Slot"));
				if (!same)
					continue;
				live_same += strcmp(str(t[j], "DesiredState", NULL), "running") == 0;
				ended_old += strcmp(str(t[j], "DesiredState", NULL), "running") != 0 &&
					     terminal(str(t[j], "Status", "State"));
			}
			/* r2 updates start-first: old and new overlap in a slot */
			size_t max_live = strcmp(services[s], "r2") == 0 ? 2 : 1;
			if (s == 2 && node[0] == '\0')
				fail_msg("seed %llu step %d: global task without a node", (unsigned long long)seed, step);
			if (live_same > max_live)
				fail_msg("seed %llu step %d: %zu tasks of %s meant to run in one slot",
					 (unsigned long long)seed, step, live_same, services[s]);
			if (ended_old > ORCHESTRATOR_HISTORY_LIMIT)
				fail_msg("seed %llu step %d: %zu old tasks in a slot of %s", (unsigned long long)seed,
					 step, ended_old, services[s]);
		}
	}
}

static void random_event(struct cl *c, uint64_t *r, int *replicas)
{
	char tag[8];
	static const char *const images[] = {"v1", "v2", "v3"};
	static const char *const replicated[] = {"r1", "r2"};
	snprintf(tag, sizeof(tag), "n%d", (int)(rnd(r) % PROP_NODES));
	switch (rnd(r) % 9) {
	case 0: {
		size_t which = rnd(r) % 2;
		replicas[which] = (int)(rnd(r) % 8);
		scale(c, replicated[which], replicas[which]);
		break;
	}
	case 1: update_service(c, (const char *[]){"r1", "r2", "g"}[rnd(r) % 3], set_image, images[rnd(r) % 3]); break;
	case 2: set_node(c, tag, "down", NULL); break;
	case 3: set_node(c, tag, "ready", NULL); break;
	case 4: set_node(c, tag, NULL, "drain"); break;
	case 5: set_node(c, tag, NULL, "active"); break;
	case 6: {
		size_t n = store_count(c->s, STORE_KIND_TASK);
		json_t *t = n ? store_at(c->s, STORE_KIND_TASK, rnd(r) % n) : NULL;
		if (t && strcmp(str(t, "Status", "State"), "running") == 0)
			end_task(c, t, rnd(r) % 2 ? "failed" : "complete");
		break;
	}
	case 7: c->now += (int64_t)(rnd(r) % 6) * SEC; break;
	default: agents(c); break;
	}
}

static void converges_to_desired(struct cl *c, const int *replicas, uint64_t seed)
{
	for (int i = 0; i < PROP_NODES; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "n%d", i);
		set_node(c, tag, "ready", "active");
	}
	for (int i = 0; i < 10; i++) {
		settle(c);
		c->now += 10 * SEC;
	}
	settle(c);
	size_t want[3] = {(size_t)replicas[0], (size_t)replicas[1], PROP_NODES};
	static const char *const services[] = {"r1", "r2", "g"};
	for (size_t s = 0; s < 3; s++)
		if (count(c, services[s], 0, "running", "running") != want[s])
			fail_msg("seed %llu: %s runs %zu tasks, wants %zu", (unsigned long long)seed, services[s],
				 count(c, services[s], 0, "running", "running"), want[s]);
}

static void random_histories_keep_the_invariants(void **state)
{
	(void)state;
	const char *more = getenv("ORCH_PROP_SEEDS"); /* a longer run on demand */
	uint64_t seeds = more ? strtoull(more, NULL, 10) : PROP_SEEDS;
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		struct cl *c;
		setup((void **)&c);
		orchestrator_init(&c->o, seed);
		uint64_t r = seed * 7919;
		int replicas[2] = {3, 2};
		add_nodes(c, PROP_NODES);
		put(c, STORE_KIND_SERVICE, service("r1", replicas[0], "v1"));
		put(c, STORE_KIND_SERVICE, service("r2", replicas[1], "v1"));
		put(c, STORE_KIND_SERVICE, service("g", -1, "v1"));
		static const char *const all[] = {"r1", "r2", "g"};
		for (size_t s = 0; s < 3; s++) {
			service_set(c, all[s], "TaskTemplate", "RestartPolicy", "Delay", json_integer(SEC));
			service_set(c, all[s], "UpdateConfig", NULL, "FailureAction", json_string("continue"));
		}
		service_set(c, "r2", "UpdateConfig", NULL, "Order", json_string("start-first"));
		settle(c);
		for (int step = 0; step < PROP_STEPS; step++) {
			random_event(c, &r, replicas);
			converge(c);
			check_invariants(c, seed, step);
		}
		converges_to_desired(c, replicas, seed);
		check_invariants(c, seed, PROP_STEPS);
		void *p = c;
		teardown(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(replicated_service_gets_one_task_per_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(unschedulable_tasks_wait_with_docker_error, setup, teardown),
		cmocka_unit_test_setup_teardown(scaling_adds_and_removes_the_highest_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(global_service_runs_once_per_eligible_node, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_task_is_replaced_after_the_restart_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(restart_condition_is_honoured, setup, teardown),
		cmocka_unit_test_setup_teardown(max_attempts_count_within_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(ended_task_of_a_lost_node_is_no_longer_meant_to_run, setup, teardown),
		cmocka_unit_test_setup_teardown(history_keeps_five_ended_tasks_per_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(tasks_of_a_down_node_are_orphaned_and_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(drained_node_is_emptied, setup, teardown),
		cmocka_unit_test_setup_teardown(removed_service_tasks_stop_then_go, setup, teardown),
		cmocka_unit_test_setup_teardown(rolling_update_stop_first_one_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(update_delay_spaces_the_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(start_first_overlaps_old_and_new, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_update_pauses, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_update_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(manual_rollback_uses_rollback_config, setup, teardown),
		cmocka_unit_test_setup_teardown(a_pass_is_bounded, setup, teardown),
		cmocka_unit_test(passes_are_deterministic),
		cmocka_unit_test(a_new_task_never_reuses_a_stored_id),
		cmocka_unit_test(random_histories_keep_the_invariants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
