/* Unit tests for orchestrate: a one-manager swarm on a real loop and disk; a service written through Raft gets its tasks placed by the driver, which stops cleanly mid-reconciliation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/ids.h"
#include "swarmnode/manager.h"
#include "swarmnode/orchestrate.h"

#define NODE_ID "n00000000000000000000000a"
#define SERVICE_ID "s00000000000000000000000a"

struct fx {
	uv_loop_t loop;
	char dir[64];
	struct manager *m;
	struct orchestrate *o;
	int closed;     /* components closed */
	int writes;     /* writes answered */
	int write_status;
};

static int no_send(void *data, const char *node_id, const uint8_t *msg, size_t len)
{
	return -ENOTCONN;
}

static size_t no_managers(void *data, char (*out)[IDS_LEN + 1], size_t cap)
{
	return 0;
}

static void no_leader_news(void *data, const char *leader, uint64_t term)
{
}

static const struct manager_ops ops = {.send = no_send, .managers = no_managers, .leader_changed = no_leader_news};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sn-orchestrate-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	struct manager_config cfg = {.dir = f->dir, .id = 1, .bootstrap = true, .seed = 9,
				     .election_timeout_ms = 100, .heartbeat_interval_ms = 20};
	snprintf(cfg.node_id, sizeof(cfg.node_id), "%s", NODE_ID);
	char err[256] = "";
	if (manager_start(&f->loop, &cfg, &ops, f, &f->m, err, sizeof(err)) != 0)
		fail_msg("manager_start: %s", err);
	assert_int_equal(orchestrate_start(&f->loop, f->m, 5, &f->o), 0);
	*state = f;
	return 0;
}

static void on_closed(void *data)
{
	struct fx *f = data;
	f->closed++;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	orchestrate_stop(f->o, on_closed, f);
	manager_close(f->m, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->closed, 2);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_int_equal(manager_wipe(f->dir), 0);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The guard only wakes the loop up so that the deadline is looked at. */
static void guard_fired(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until cond(f) holds, for at most timeout_ms of loop time. */
static bool run_until(struct fx *f, bool (*cond)(struct fx *f), uint64_t timeout_ms)
{
	uv_timer_t guard;
	uv_timer_init(&f->loop, &guard);
	uv_timer_start(&guard, guard_fired, timeout_ms, 0);
	uint64_t deadline = uv_now(&f->loop) + timeout_ms;
	bool ok;
	while (!(ok = cond(f)) && uv_now(&f->loop) < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	return ok;
}

static bool leading(struct fx *f)
{
	struct manager_status ms;
	manager_status(f->m, &ms);
	return ms.role == RAFT_LEADER;
}

static void write_done(void *data, int status, const char *message, uint64_t index)
{
	struct fx *f = data;
	f->writes++;
	f->write_status = status;
	if (status != 0)
		print_message("write refused: %s\n", message);
}

static bool written(struct fx *f)
{
	return f->writes > 0;
}

static void write_cluster(struct fx *f)
{
	struct store_txn *txn = store_txn_new(1795560865604293636);
	json_t *node = json_pack("{s:s, s:{s:s, s:s}, s:{s:s}, s:{s:s}}", "ID", NODE_ID, "Spec", "Role", "manager",
				 "Availability", "active", "Description", "Hostname", "solo", "Status", "State", "ready");
	json_t *svc = json_pack("{s:s, s:{s:s, s:{s:{s:s}}, s:{s:{s:i}}}}", "ID", SERVICE_ID, "Spec", "Name", "web",
				"TaskTemplate", "ContainerSpec", "Image", "nginx", "Mode", "Replicated", "Replicas", 3);
	assert_int_equal(store_txn_create(txn, STORE_KIND_NODE, node, NULL, 0), 0);
	assert_int_equal(store_txn_create(txn, STORE_KIND_SERVICE, svc, NULL, 0), 0);
	uint8_t *bytes;
	size_t len;
	assert_int_equal(store_txn_encode(txn, &bytes, &len), 0);
	assert_int_equal(manager_write(f->m, bytes, len, write_done, f), 0);
	free(bytes);
	store_txn_free(txn);
	json_decref(node);
	json_decref(svc);
	assert_true(run_until(f, written, 5000));
	assert_int_equal(f->write_status, 0);
}

static bool three_assigned(struct fx *f)
{
	json_t *t[8];
	size_t n = store_tasks_by_service(manager_store(f->m), SERVICE_ID, t, 8);
	size_t assigned = 0;
	for (size_t i = 0; i < n && i < 8; i++)
		assigned += strcmp(json_string_value(json_object_get(json_object_get(t[i], "Status"), "State")),
				   "assigned") == 0 &&
			    strcmp(json_string_value(json_object_get(t[i], "NodeID")), NODE_ID) == 0;
	return assigned == 3;
}

static void leader_places_the_tasks_of_a_new_service(void **state)
{
	struct fx *f = *state;
	assert_true(run_until(f, leading, 5000));
	write_cluster(f);
	assert_true(run_until(f, three_assigned, 5000));
	assert_int_equal(store_tasks_by_service(manager_store(f->m), SERVICE_ID, NULL, 0), 3);
}

/* Stops one loop turn after the service landed, when the driver's first
 * write may be in flight: teardown checks that every handle closes and
 * nothing leaks. */
static void stops_cleanly_mid_reconciliation(void **state)
{
	struct fx *f = *state;
	assert_true(run_until(f, leading, 5000));
	write_cluster(f);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(leader_places_the_tasks_of_a_new_service, setup, teardown),
		cmocka_unit_test_setup_teardown(stops_cleanly_mid_reconciliation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
