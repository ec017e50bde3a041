/* Unit tests for scheduler: constraint syntax, each filter, Docker's explanations, spread and its tie-break. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/ids.h"
#include "test_mkid.h"
#include "swarmnode/scheduler.h"

#define GB INT64_C(1073741824)
#define CPU INT64_C(1000000000)

/* A ready, active worker with 2 CPUs and 4 GB. */
static json_t *node(const char *tag)
{
	return json_pack("{s:s, s:{s:s, s:s, s:{}}, s:{s:s, s:{s:s, s:s}, s:{s:I, s:I}, s:{s:{}}}, s:{s:s}}",
			 "ID", mkid(tag), "Spec", "Role", "worker", "Availability", "active", "Labels",
			 "Description", "Hostname", tag, "Platform", "OS", "linux", "Architecture", "x86_64",
			 "Resources", "NanoCPUs", (json_int_t)(2 * CPU), "MemoryBytes", (json_int_t)(4 * GB),
			 "Engine", "Labels", "Status", "State", "ready");
}

static void set_path(json_t *obj, const char *a, const char *b, json_t *value)
{
	json_t *inner = json_object_get(obj, a);
	assert_non_null(inner);
	assert_int_equal(json_object_set_new(inner, b, value), 0);
}

/* A node in the given gossip state and availability. */
static json_t *node_in(const char *tag, const char *state, const char *availability)
{
	json_t *n = node(tag);
	set_path(n, "Status", "State", json_string(state));
	set_path(n, "Spec", "Availability", json_string(availability));
	return n;
}

/* A pending task of service `svc` with the given Spec (stolen, may be NULL). */
static json_t *task(const char *svc, json_t *spec)
{
	return json_pack("{s:s, s:s, s:o, s:s, s:{s:s}}", "ID", mkid("t"), "ServiceID", mkid(svc), "Spec",
			 spec ? spec : json_object(), "DesiredState", "running", "Status", "State", "pending");
}

/* A task of svc already running on node tag. */
static json_t *running_on(const char *svc, const char *tag, json_t *spec)
{
	json_t *t = task(svc, spec);
	json_object_set_new(t, "NodeID", json_string(mkid(tag)));
	set_path(t, "Status", "State", json_string("running"));
	return t;
}

static json_t *constrained(const char *expr)
{
	return json_pack("{s:{s:[s]}}", "Placement", "Constraints", expr);
}

static json_t *reserving(int64_t cpu, int64_t mem)
{
	return json_pack("{s:{s:{s:I, s:I}}}", "Resources", "Reservations", "NanoCPUs", (json_int_t)cpu,
			 "MemoryBytes", (json_int_t)mem);
}

static json_t *host_port(int port, const char *proto)
{
	return json_pack("[{s:s, s:i, s:i, s:s}]", "Protocol", proto, "TargetPort", 80, "PublishedPort", port,
			 "PublishMode", "host");
}

/* A scheduler over nodes (kept in *nodes for the test's lifetime). */
struct fx {
	struct scheduler *s;
	json_t *nodes; /* array owning the node objects */
	json_t *keep;  /* tasks and ports kept alive */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->s = scheduler_new();
	f->nodes = json_array();
	f->keep = json_array();
	*state = f;
	return f->s == NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	scheduler_free(f->s);
	json_decref(f->nodes);
	json_decref(f->keep);
	free(f);
	return 0;
}

static json_t *add_node(struct fx *f, json_t *n)
{
	json_array_append_new(f->nodes, n);
	assert_int_equal(scheduler_add_node(f->s, n), 0);
	return n;
}

static void add_task(struct fx *f, json_t *t, json_t *ports)
{
	assert_int_equal(scheduler_add_task(f->s, t, ports), 0);
	json_array_append_new(f->keep, t);
	if (ports)
		json_array_append_new(f->keep, ports);
}

/* Places t (kept by the fixture); returns the chosen node's tag letter run or the error. */
static int place(struct fx *f, json_t *t, json_t *ports, char *out, size_t len)
{
	const char *node_id = NULL;
	int rc = scheduler_place(f->s, t, ports, &node_id, out, len);
	if (rc == 0)
		snprintf(out, len, "%s", node_id);
	json_array_append_new(f->keep, t);
	if (ports)
		json_array_append_new(f->keep, ports);
	return rc;
}

static void assert_placed_on(struct fx *f, json_t *t, json_t *ports, const char *tag)
{
	char got[SCHEDULER_MSG_MAX];
	int rc = place(f, t, ports, got, sizeof(got));
	if (rc != 0)
		fail_msg("expected node %s, got error %d: %s", tag, rc, got);
	assert_string_equal(got, mkid(tag));
}

static void assert_refused(struct fx *f, json_t *t, json_t *ports, const char *message)
{
	char got[SCHEDULER_MSG_MAX];
	int rc = place(f, t, ports, got, sizeof(got));
	if (rc == 0)
		fail_msg("expected \"%s\", but the task went to %s", message, got);
	assert_int_equal(rc, SCHEDULER_E_NO_NODE);
	assert_string_equal(got, message);
}

/* ---- constraint syntax ------------------------------------------------------------- */

static void parse_err(const char *expr, const char *message)
{
	struct scheduler_constraint c;
	char err[SCHEDULER_MSG_MAX] = "";
	assert_int_equal(scheduler_constraint_parse(expr, &c, err, sizeof(err)), SCHEDULER_E_INVALID);
	assert_string_equal(err, message);
}

static void constraint_syntax_follows_docker(void **state)
{
	(void)state;
	struct scheduler_constraint c;
	char err[SCHEDULER_MSG_MAX];
	assert_int_equal(scheduler_constraint_parse("node.role==manager", &c, err, sizeof(err)), 0);
	assert_string_equal(c.key, "node.role");
	assert_string_equal(c.value, "manager");
	assert_true(c.equal);
	assert_int_equal(scheduler_constraint_parse("  node.labels.zone !=  eu west  ", &c, err, sizeof(err)), 0);
	assert_string_equal(c.key, "node.labels.zone");
	assert_string_equal(c.value, "eu west");
	assert_false(c.equal);
	parse_err("node.role=manager", "constraint expected one operator from ==, !=");
	parse_err("node.role", "constraint expected one operator from ==, !=");
	parse_err("no de==x", "key 'no de' is invalid");
	parse_err("==x", "key '' is invalid");
	parse_err("1node==x", "key '1node' is invalid");
	parse_err("node.role==", "value '' is invalid");
	parse_err("node.role==man>ager", "value 'man>ager' is invalid");
	parse_err("node.role==a==b", "value 'a==b' is invalid");
}

static void constraint_lists_are_checked_whole(void **state)
{
	(void)state;
	char err[SCHEDULER_MSG_MAX] = "";
	json_t *ok = json_pack("[s, s]", "node.role==worker", "engine.labels.os!=windows");
	json_t *bad = json_pack("[s, s]", "node.role==worker", "node.labels.x~y");
	json_t *not_strings = json_pack("[s, i]", "node.role==worker", 3);
	json_t *not_array = json_string("node.role==worker");
	assert_int_equal(scheduler_constraints_check(ok, err, sizeof(err)), 0);
	assert_int_equal(scheduler_constraints_check(NULL, err, sizeof(err)), 0);
	assert_int_equal(scheduler_constraints_check(bad, err, sizeof(err)), SCHEDULER_E_INVALID);
	assert_string_equal(err, "constraint expected one operator from ==, !=");
	assert_int_equal(scheduler_constraints_check(not_strings, err, sizeof(err)), SCHEDULER_E_INVALID);
	assert_string_equal(err, "Placement.Constraints[1]: not a string");
	assert_int_equal(scheduler_constraints_check(not_array, err, sizeof(err)), SCHEDULER_E_INVALID);
	assert_string_equal(err, "Placement.Constraints: not an array of strings");
	json_decref(ok);
	json_decref(bad);
	json_decref(not_strings);
	json_decref(not_array);
}

static bool matches(const json_t *n, const char *expr)
{
	struct scheduler_constraint c;
	char err[SCHEDULER_MSG_MAX];
	assert_int_equal(scheduler_constraint_parse(expr, &c, err, sizeof(err)), 0);
	return scheduler_node_matches(&c, 1, n);
}

static void constraint_keys_match_node_fields(void **state)
{
	(void)state;
	json_t *n = node("alpha");
	set_path(json_object_get(n, "Spec"), "Labels", "zone", json_string("eu-1"));
	json_object_set_new(json_object_get(n, "Description"), "Engine", json_pack("{s:{s:s}}", "Labels", "disk", "ssd"));
	char expr[64];
	snprintf(expr, sizeof(expr), "node.id==%s", mkid("alpha"));
	assert_true(matches(n, expr));
	assert_false(matches(n, "node.id==other"));
	assert_true(matches(n, "node.hostname==alpha"));
	assert_true(matches(n, "node.hostname==ALPHA")); /* values compare case-insensitively */
	assert_true(matches(n, "NODE.HOSTNAME!=beta"));  /* so do the fixed keys */
	assert_true(matches(n, "node.role==worker"));
	assert_false(matches(n, "node.role==manager"));
	assert_true(matches(n, "node.platform.os==linux"));
	assert_true(matches(n, "node.platform.arch==x86_64"));
	assert_true(matches(n, "node.labels.zone==eu-1"));
	assert_false(matches(n, "node.labels.ZONE==eu-1")); /* label names are exact */
	assert_false(matches(n, "node.labels.rack==r1"));
	assert_true(matches(n, "node.labels.rack!=r1")); /* a missing label is "" */
	assert_true(matches(n, "engine.labels.disk==ssd"));
	assert_false(matches(n, "engine.labels.disk!=ssd"));
	assert_false(matches(n, "node.color==blue")); /* unknown keys match nothing */
	assert_false(matches(n, "node.color!=blue"));
	json_decref(n);
}

/* ---- filters ------------------------------------------------------------------------- */

static void only_ready_active_nodes_take_tasks(void **state)
{
	struct fx *f = *state;
	add_node(f, node_in("a", "down", "active"));
	add_node(f, node_in("b", "ready", "drain"));
	add_node(f, node_in("c", "ready", "pause"));
	assert_refused(f, task("s", NULL), NULL, "no suitable node (3 nodes not available for new tasks)");
	add_node(f, node_in("d", "disconnected", "active"));
	assert_refused(f, task("s", NULL), NULL, "no suitable node (4 nodes not available for new tasks)");
	add_node(f, node("e"));
	assert_placed_on(f, task("s", NULL), NULL, "e");
}

static void no_node_at_all(void **state)
{
	struct fx *f = *state;
	assert_refused(f, task("s", NULL), NULL, "no suitable node");
}

static void reservations_must_fit(void **state)
{
	struct fx *f = *state;
	add_node(f, node("a"));
	add_node(f, node("b"));
	assert_refused(f, task("s", reserving(3 * CPU, 0)), NULL, "no suitable node (insufficient resources on 2 nodes)");
	assert_refused(f, task("s", reserving(0, 5 * GB)), NULL, "no suitable node (insufficient resources on 2 nodes)");
	/* a holds 1.5 CPUs already; a failed task holds nothing; b is free */
	add_task(f, running_on("x", "a", reserving(3 * CPU / 2, GB)), NULL);
	json_t *failed = running_on("x", "b", reserving(2 * CPU, GB));
	set_path(failed, "Status", "State", json_string("failed"));
	add_task(f, failed, NULL);
	assert_placed_on(f, task("s", reserving(CPU, GB)), NULL, "b");
	/* now b holds 1 CPU and a 1.5: a third CPU fits on b only */
	assert_placed_on(f, task("s", reserving(CPU, GB)), NULL, "b");
	assert_refused(f, task("s", reserving(CPU, 0)), NULL, "no suitable node (insufficient resources on 2 nodes)");
	assert_refused(f, task("s", reserving(CPU, 0)), NULL, "no suitable node (insufficient resources on 2 nodes)");
	/* no reservation: resources are not looked at */
	assert_placed_on(f, task("s", NULL), NULL, "a");
}

static void constraints_filter_nodes(void **state)
{
	struct fx *f = *state;
	json_t *a = add_node(f, node("a"));
	add_node(f, node("b"));
	add_node(f, node("c"));
	set_path(json_object_get(a, "Spec"), "Labels", "zone", json_string("eu"));
	assert_placed_on(f, task("s", constrained("node.labels.zone==eu")), NULL, "a");
	assert_placed_on(f, task("s", constrained("node.labels.zone==eu")), NULL, "a");
	assert_refused(f, task("s", constrained("node.labels.zone==us")), NULL,
		       "no suitable node (scheduling constraints not satisfied on 3 nodes)");
	/* a constraint stored malformed satisfies no node */
	assert_refused(f, task("s", constrained("node.labels.zone=us")), NULL,
		       "no suitable node (scheduling constraints not satisfied on 3 nodes)");
}

static void host_mode_ports_conflict(void **state)
{
	struct fx *f = *state;
	add_node(f, node("a"));
	add_node(f, node("b"));
	add_task(f, running_on("x", "a", NULL), host_port(8080, "tcp"));
	/* a task being stopped still holds its port */
	json_t *stopping = running_on("y", "b", NULL);
	json_object_set_new(stopping, "DesiredState", json_string("shutdown"));
	add_task(f, stopping, host_port(8080, "tcp"));
	assert_refused(f, task("s", NULL), host_port(8080, "tcp"),
		       "no suitable node (host-mode port already in use on 2 nodes)");
	/* b: the stopping task does not count for spreading */
	assert_placed_on(f, task("s", NULL), host_port(8080, "udp"), "b");
	assert_placed_on(f, task("s", NULL), host_port(9090, "tcp"), "a");
	assert_placed_on(f, task("s", NULL), host_port(9090, "tcp"), "b");
	assert_refused(f, task("s", NULL), host_port(9090, "tcp"),
		       "no suitable node (host-mode port already in use on 2 nodes)");
	/* ingress ports are the routing mesh's: no conflict */
	json_t *ingress = host_port(8080, "tcp");
	json_object_set_new(json_array_get(ingress, 0), "PublishMode", json_string("ingress"));
	assert_placed_on(f, task("s", NULL), ingress, "a");
}

/* ---- spread ---------------------------------------------------------------------------- */

static void spread_prefers_fewest_of_the_service_then_fewest_overall(void **state)
{
	struct fx *f = *state;
	add_node(f, node("c"));
	add_node(f, node("a"));
	add_node(f, node("b"));
	/* a holds 2 tasks of another service, b one of ours */
	add_task(f, running_on("x", "a", NULL), NULL);
	add_task(f, running_on("x", "a", NULL), NULL);
	add_task(f, running_on("s", "b", NULL), NULL);
	assert_placed_on(f, task("s", NULL), NULL, "c"); /* 0 of s, 0 overall */
	assert_placed_on(f, task("s", NULL), NULL, "a"); /* 0 of s, though 2 overall */
	/* all hold one of s now: fewest overall wins, b and c tie at 1: smaller id */
	assert_placed_on(f, task("s", NULL), NULL, "b");
	assert_placed_on(f, task("s", NULL), NULL, "c");
	assert_placed_on(f, task("s", NULL), NULL, "a");
}

static void batches_spread_evenly_and_deterministically(void **state)
{
	struct fx *f = *state;
	static const char *tags[] = {"n3", "n1", "n4", "n2"};
	for (size_t i = 0; i < 4; i++)
		add_node(f, node(tags[i]));
	static const char *order[] = {"n1", "n2", "n3", "n4", "n1", "n2", "n3", "n4"};
	for (size_t i = 0; i < 8; i++)
		assert_placed_on(f, task("s", NULL), NULL, order[i]);
}

static void tasks_that_do_not_hold_a_node_are_ignored(void **state)
{
	struct fx *f = *state;
	add_node(f, node("a"));
	add_node(f, node("b"));
	json_t *pending = running_on("s", "a", NULL);
	set_path(pending, "Status", "State", json_string("pending"));
	add_task(f, pending, host_port(80, "tcp"));
	json_t *elsewhere = running_on("s", "zz", NULL); /* unknown node */
	add_task(f, elsewhere, NULL);
	add_task(f, running_on("s", "b", NULL), NULL);
	assert_placed_on(f, task("s", NULL), host_port(80, "tcp"), "a");
}

static void pinned_task_tries_its_node_only(void **state)
{
	struct fx *f = *state;
	add_node(f, node_in("a", "down", "active"));
	add_node(f, node("b"));
	json_t *t = task("g", NULL);
	json_object_set_new(t, "NodeID", json_string(mkid("b")));
	assert_placed_on(f, t, NULL, "b");
	t = task("g", NULL);
	json_object_set_new(t, "NodeID", json_string(mkid("a")));
	assert_refused(f, t, NULL, "no suitable node (1 node not available for new tasks)");
}

static void explanations_put_the_most_common_reason_first(void **state)
{
	struct fx *f = *state;
	json_t *b = node("b");
	set_path(json_object_get(b, "Spec"), "Labels", "zone", json_string("eu"));
	add_node(f, node_in("a", "down", "active"));
	add_node(f, b);
	add_node(f, node("c"));
	add_node(f, node("d"));
	assert_refused(f, task("s", constrained("node.labels.zone==us")), NULL,
		       "no suitable node (scheduling constraints not satisfied on 3 nodes; "
		       "1 node not available for new tasks)");
}

static void explanation_ties_keep_pipeline_order(void **state)
{
	struct fx *f = *state;
	json_t *b = node("b");
	set_path(json_object_get(b, "Spec"), "Labels", "zone", json_string("us"));
	add_node(f, node_in("a", "down", "active"));
	add_node(f, b);
	add_node(f, node("c"));
	add_task(f, running_on("x", "c", NULL), host_port(443, "tcp"));
	assert_refused(f, task("s", constrained("node.labels.zone!=us")), host_port(443, "tcp"),
		       "no suitable node (1 node not available for new tasks; "
		       "scheduling constraints not satisfied on 1 node; host-mode port already in use on 1 node)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(constraint_syntax_follows_docker),
		cmocka_unit_test(constraint_lists_are_checked_whole),
		cmocka_unit_test(constraint_keys_match_node_fields),
		cmocka_unit_test_setup_teardown(only_ready_active_nodes_take_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(no_node_at_all, setup, teardown),
		cmocka_unit_test_setup_teardown(reservations_must_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(constraints_filter_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(host_mode_ports_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(spread_prefers_fewest_of_the_service_then_fewest_overall, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batches_spread_evenly_and_deterministically, setup, teardown),
		cmocka_unit_test_setup_teardown(tasks_that_do_not_hold_a_node_are_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(pinned_task_tries_its_node_only, setup, teardown),
		cmocka_unit_test_setup_teardown(explanations_put_the_most_common_reason_first, setup, teardown),
		cmocka_unit_test_setup_teardown(explanation_ties_keep_pipeline_order, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
