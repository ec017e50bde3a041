/* Dispatch end to end in one process: a real single-manager Raft cluster and store, its dispatcher, an agent with the exec runtime, wired by a loopback as a manager's own agent is. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <uv.h>

#include "loop_wait.h"
#include "swarmnode/agent.h"
#include "swarmnode/dispatcher.h"
#include "swarmnode/log.h"
#include "swarmnode/manager.h"
#include "swarmnode/runtime_exec.h"

#define NODE "nnnnnnnnnnnnnnnnnnnnnnnnn"
#define SVC "sssssssssssssssssssssssss"
#define TASK_A "aaaaaaaaaaaaaaaaaaaaaaaaa"
#define TASK_B "bbbbbbbbbbbbbbbbbbbbbbbbb"

/* A message on its way between the agent and the dispatcher. */
struct hop {
	struct hop *next;
	bool to_agent;
	size_t len;
	uint8_t body[];
};

struct fx {
	uv_loop_t loop;
	uv_timer_t hops_timer;      /* delivers hops from the loop */
	uv_timer_t wake;            /* keeps run_until looking */
	struct hop *hops;
	char dir[64];
	char raft_dir[96];
	struct manager *manager;
	struct dispatcher *d;
	struct agent *a;
	int closing;
	int writes_done;
	int write_status;
};

static void deliver_hops(uv_timer_t *t)
{
	struct fx *f = t->data;
	while (f->hops) {
		/* In order: take the oldest (the list is newest first). */
		struct hop **pp = &f->hops;
		while ((*pp)->next)
			pp = &(*pp)->next;
		struct hop *h = *pp;
		*pp = NULL;
		if (h->to_agent && f->a)
			agent_receive(f->a, NODE, h->body, h->len);
		else if (!h->to_agent && f->d)
			dispatcher_receive(f->d, NODE, h->body, h->len);
		free(h);
	}
}

static int hop(struct fx *f, bool to_agent, const uint8_t *body, size_t len)
{
	struct hop *h = malloc(sizeof(*h) + len);
	assert_non_null(h);
	h->to_agent = to_agent;
	h->len = len;
	memcpy(h->body, body, len);
	h->next = f->hops;
	f->hops = h;
	uv_timer_start(&f->hops_timer, deliver_hops, 0, 0);
	return 0;
}

static int agent_send(void *data, const char *to, const uint8_t *body, size_t len)
{
	assert_string_equal(to, NODE);
	return hop(data, false, body, len);
}

static size_t agent_managers(void *data, char (*out)[IDS_LEN + 1], size_t cap)
{
	struct fx *f = data;
	if (f->d == NULL || cap == 0)
		return 0;
	snprintf(out[0], IDS_LEN + 1, "%s", NODE);
	return 1;
}

static const struct agent_ops a_ops = { agent_send, agent_managers };

static int exec_runtime(void *data, uv_loop_t *loop, runtime_state_cb on_state, void *cb_data, struct runtime **out,
			char *err, size_t errlen)
{
	struct fx *f = data;
	struct runtime_exec_config cfg = { .data_dir = f->dir };
	return runtime_exec_new(loop, &cfg, on_state, cb_data, out, err, errlen);
}

static int d_send(void *data, const char *to, const uint8_t *body, size_t len)
{
	assert_string_equal(to, NODE);
	return hop(data, true, body, len);
}

static int d_write(void *data, const uint8_t *txn, size_t len, manager_write_fn done, void *done_data)
{
	struct fx *f = data;
	return manager_write(f->manager, txn, len, done, done_data);
}

static int d_read(void *data, manager_read_fn done, void *done_data)
{
	struct fx *f = data;
	return manager_read(f->manager, done, done_data);
}

static int64_t d_now(void *data)
{
	(void)data;
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static const struct dispatcher_ops d_ops = { d_send, d_write, d_read, d_now };

static int m_send(void *data, const char *node_id, const uint8_t *msg, size_t len)
{
	return -ENOTCONN; /* a cluster of one */
}

static size_t m_managers(void *data, char (*out)[IDS_LEN + 1], size_t cap)
{
	return 0;
}

static void m_leader(void *data, const char *leader, uint64_t term)
{
}

static const struct manager_ops m_ops = { m_send, m_managers, m_leader };

static void run_until(struct fx *f, bool (*pred)(void *, const void *), const void *arg, const char *what)
{
	loop_wait_until(&f->loop, &f->wake, pred, f, arg, what);
}

static bool leads(void *ctx, const void *arg)
{
	struct fx *f = ctx;
	struct manager_status ms;
	(void)arg;
	manager_status(f->manager, &ms);
	return ms.quorum && strcmp(ms.leader, NODE) == 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	log_set_min_level(LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sn-dispatch-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->raft_dir, sizeof(f->raft_dir), "%s/raft", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->hops_timer);
	uv_timer_init(&f->loop, &f->wake);
	f->hops_timer.data = f;
	struct manager_config mc = { .dir = f->raft_dir, .node_id = NODE, .id = 1, .bootstrap = true, .seed = 42,
				     .election_timeout_ms = 200, .heartbeat_interval_ms = 50 };
	int rc = manager_start(&f->loop, &mc, &m_ops, f, &f->manager, err, sizeof(err));
	if (rc != 0)
		fail_msg("manager_start: %s", err);
	run_until(f, leads, NULL, "the manager to lead");
	assert_int_equal(dispatcher_start(manager_store_watchable(f->manager), &d_ops, f, &f->d, err, sizeof(err)), 0);
	struct agent_config ac = { .node_id = NODE, .first_session = 1, .runtime_new = exec_runtime, .runtime_data = f };
	if (agent_start(&f->loop, &ac, &a_ops, f, &f->a, err, sizeof(err)) != 0)
		fail_msg("agent_start: %s", err);
	*state = f;
	return 0;
}

static void part_closed(void *data)
{
	((struct fx *)data)->closing--;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	f->closing = 2;
	agent_close(f->a, part_closed, f);
	f->a = NULL;
	dispatcher_close(f->d);
	f->d = NULL;
	manager_close(f->manager, part_closed, f);
	while (f->closing > 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	deliver_hops(&f->hops_timer);
	uv_close((uv_handle_t *)&f->hops_timer, NULL);
	uv_close((uv_handle_t *)&f->wake, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	loop_wait_rm_tree(f->dir);
	free(f);
	return 0;
}

static void write_done(void *data, int status, const char *message, uint64_t index)
{
	struct fx *f = data;
	f->write_status = status;
	f->writes_done++;
	if (status != 0)
		fail_msg("write refused: %d %s", status, message);
}

static bool write_finished(void *ctx, const void *arg)
{
	struct fx *f = ctx;
	return f->writes_done == *(const int *)arg;
}

/* Proposes a transaction as the orchestrator would, and waits for it. */
static void propose(struct fx *f, const char *ops)
{
	char txn[4096];
	snprintf(txn, sizeof(txn), "{\"v\":1,\"time\":\"2026-11-25T00:00:00Z\",\"ops\":[%s]}", ops);
	int want = f->writes_done + 1;
	assert_int_equal(manager_write(f->manager, (const uint8_t *)txn, strlen(txn), write_done, f), 0);
	run_until(f, write_finished, &want, "a write");
}

static const json_t *task_status(struct fx *f, const char *id)
{
	return json_object_get(store_get(manager_store(f->manager), STORE_KIND_TASK, id), "Status");
}

static bool task_in_state(void *ctx, const void *arg)
{
	struct fx *f = ctx;
	const char *const *want = arg;
	const char *state = json_string_value(json_object_get(task_status(f, want[0]), "State"));
	return state && strcmp(state, want[1]) == 0;
}

static uint64_t task_version(struct fx *f, const char *id)
{
	return (uint64_t)json_integer_value(
		json_object_get(json_object_get(store_get(manager_store(f->manager), STORE_KIND_TASK, id), "Version"),
				"Index"));
}

#define TASK(id, desired, args)                                                                              \
	"{\"ID\":\"" id "\",\"ServiceID\":\"" SVC "\",\"NodeID\":\"" NODE "\",\"Slot\":1,"                     \
	"\"Spec\":{\"ContainerSpec\":{\"Image\":\"/bin/sh\",\"Args\":" args ",\"StopGracePeriod\":1000000000}}," \
	"\"Status\":{\"State\":\"assigned\",\"Message\":\"scheduler assigned task to node\"},"                 \
	"\"DesiredState\":\"" desired "\",\"ServiceAnnotations\":{\"Name\":\"web\"}}"

static void failing_task_reaches_the_store(void **state)
{
	struct fx *f = *state;
	propose(f, "{\"op\":\"create\",\"kind\":\"service\",\"object\":{\"ID\":\"" SVC "\",\"Spec\":{\"Name\":\"web\"}}},"
		   "{\"op\":\"create\",\"kind\":\"task\",\"object\":" TASK(TASK_A, "running", "[\"-c\",\"exit 3\"]") "}");
	const char *want[] = { TASK_A, "failed" };
	run_until(f, task_in_state, want, "task A failed in the store");
	const json_t *st = task_status(f, TASK_A);
	assert_string_equal(json_string_value(json_object_get(st, "Err")), "task: non-zero exit (3)");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "ContainerStatus"), "ExitCode")), 3);
	struct dispatcher_info info;
	dispatcher_get_info(f->d, &info);
	assert_int_equal(info.sessions, 1);
	assert_true(info.updates_written >= 2); /* accepted, then at least the end */
}

static void desired_shutdown_reaches_the_process(void **state)
{
	struct fx *f = *state;
	propose(f, "{\"op\":\"create\",\"kind\":\"service\",\"object\":{\"ID\":\"" SVC "\",\"Spec\":{\"Name\":\"web\"}}},"
		   "{\"op\":\"create\",\"kind\":\"task\",\"object\":" TASK(TASK_B, "running", "[\"-c\",\"exec sleep 60\"]") "}");
	const char *running[] = { TASK_B, "running" };
	run_until(f, task_in_state, running, "task B running in the store");
	json_int_t pid = json_integer_value(json_object_get(json_object_get(task_status(f, TASK_B), "ContainerStatus"), "PID"));
	assert_true(pid > 0);
	/* The orchestrator's shutdown: a copy with DesiredState shutdown, expecting the current version. */
	json_t *copy = json_deep_copy(store_get(manager_store(f->manager), STORE_KIND_TASK, TASK_B));
	json_object_set_new(copy, "DesiredState", json_string("shutdown"));
	char *obj = json_dumps(copy, JSON_COMPACT);
	char ops[4096];
	snprintf(ops, sizeof(ops), "{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" TASK_B "\",\"expect\":%llu,\"object\":%s}",
		 (unsigned long long)task_version(f, TASK_B), obj);
	free(obj);
	json_decref(copy);
	propose(f, ops);
	const char *shutdown[] = { TASK_B, "shutdown" };
	run_until(f, task_in_state, shutdown, "task B shut down in the store");
	assert_int_equal(kill((pid_t)pid, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(failing_task_reaches_the_store, setup, teardown),
		cmocka_unit_test_setup_teardown(desired_shutdown_reaches_the_process, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
