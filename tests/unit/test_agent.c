/* Unit tests for the agent: a fake transport to two managers, the real exec runtime on a real loop. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <uv.h>

#include "loop_wait.h"
#include "swarmnode/agent.h"
#include "swarmnode/dispatch_msg.h"
#include "swarmnode/log.h"
#include "swarmnode/runtime_exec.h"

#define NODE "nnnnnnnnnnnnnnnnnnnnnnnnn"
#define M1 "m1m1m1m1m1m1m1m1m1m1m1m1m"
#define M2 "m2m2m2m2m2m2m2m2m2m2m2m2m"
#define TASK_A "aaaaaaaaaaaaaaaaaaaaaaaaa"
#define TASK_B "bbbbbbbbbbbbbbbbbbbbbbbbb"
#define MAX_SENT 256

/* One message the agent sent, decoded. */
struct sent {
	char to[IDS_LEN + 1];
	struct dispatch_msg m;
	uint8_t *bytes;          /* m's arrays point into these */
};

struct fx {
	uv_loop_t loop;
	uv_timer_t wake;              /* keeps run_until looking */
	char dir[64];
	struct agent *a;
	char managers[2][IDS_LEN + 1];
	size_t nmanagers;
	struct sent sent[MAX_SENT];
	size_t nsent;
	size_t seen;                  /* sent[0..seen) already looked at by next_sent */
	bool closed;
};

static int fake_send(void *data, const char *to, const uint8_t *body, size_t len)
{
	struct fx *f = data;
	char err[200];
	bool up = false;
	for (size_t i = 0; i < f->nmanagers; i++)
		up |= strcmp(f->managers[i], to) == 0;
	if (!up)
		return -ENOTCONN;
	assert_true(f->nsent < MAX_SENT);
	struct sent *s = &f->sent[f->nsent++];
	snprintf(s->to, sizeof(s->to), "%s", to);
	s->bytes = malloc(len);
	assert_non_null(s->bytes);
	memcpy(s->bytes, body, len);
	if (dispatch_msg_decode(s->bytes, len, &s->m, err, sizeof(err)) != 0)
		fail_msg("the agent sent an undecodable message: %s", err);
	return 0;
}

static size_t fake_managers(void *data, char (*out)[IDS_LEN + 1], size_t cap)
{
	struct fx *f = data;
	size_t n = 0;
	for (; n < f->nmanagers && n < cap; n++)
		memcpy(out[n], f->managers[n], IDS_LEN + 1);
	return n;
}

static const struct agent_ops fake_ops = { .send = fake_send, .managers = fake_managers };

static int exec_runtime(void *data, uv_loop_t *loop, runtime_state_cb on_state, void *cb_data, struct runtime **out,
			char *err, size_t errlen)
{
	struct fx *f = data;
	struct runtime_exec_config cfg = { .data_dir = f->dir };
	return runtime_exec_new(loop, &cfg, on_state, cb_data, out, err, errlen);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	log_set_min_level(LOG_ERROR);
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sn-agent-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->wake);
	snprintf(f->managers[0], sizeof(f->managers[0]), M1);
	snprintf(f->managers[1], sizeof(f->managers[1]), M2);
	f->nmanagers = 1;
	struct agent_config cfg = { .node_id = NODE, .first_session = 100, .runtime_new = exec_runtime,
				    .runtime_data = f };
	int rc = agent_start(&f->loop, &cfg, &fake_ops, f, &f->a, err, sizeof(err));
	if (rc != 0)
		fail_msg("agent_start: %d %s", rc, err);
	*state = f;
	return 0;
}

static void on_agent_closed(void *data)
{
	((struct fx *)data)->closed = true;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->a != NULL) {
		agent_close(f->a, on_agent_closed, f);
		while (!f->closed)
			uv_run(&f->loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&f->wake, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	for (size_t i = 0; i < f->nsent; i++) {
		dispatch_msg_release(&f->sent[i].m);
		free(f->sent[i].bytes);
	}
	loop_wait_rm_tree(f->dir);
	free(f);
	return 0;
}

static void run_until(struct fx *f, bool (*pred)(void *, const void *), const void *arg, const char *what)
{
	loop_wait_until(&f->loop, &f->wake, pred, f, arg, what);
}

/* The next message sent that the test has not looked at, or NULL. */
static struct sent *next_sent(struct fx *f)
{
	return f->seen < f->nsent ? &f->sent[f->seen++] : NULL;
}

static bool has_unseen(void *ctx, const void *arg)
{
	struct fx *f = ctx;
	(void)arg;
	return f->seen < f->nsent;
}

static struct sent *wait_sent(struct fx *f, uint8_t type, const char *to)
{
	for (;;) {
		run_until(f, has_unseen, NULL, dispatch_msg_type_name(type));
		struct sent *s = next_sent(f);
		if (s->m.type == type) {
			assert_string_equal(s->to, to);
			return s;
		}
	}
}

static void deliver(struct fx *f, const char *from, const struct dispatch_msg *m)
{
	uint8_t *buf = malloc(dispatch_msg_encoded_max(m));
	size_t len;
	assert_non_null(buf);
	assert_int_equal(dispatch_msg_encode(m, buf, dispatch_msg_encoded_max(m), &len), 0);
	agent_receive(f->a, from, buf, len);
	free(buf);
}

static void ack(struct fx *f, const char *from, const struct sent *status)
{
	struct dispatch_msg m = { .type = DISPATCH_ACK, .session = status->m.session, .seq = status->m.seq };
	deliver(f, from, &m);
}

static void assign(struct fx *f, const char *from, uint64_t session, uint64_t seq, uint32_t flags,
		   const char *task_id, uint64_t version, uint8_t desired, const char *spec)
{
	struct dispatch_port port = { 8080, 0, 0, 1 };
	struct dispatch_task t = { .version = version, .state = 2, .desired = desired, .service_name = "svc",
				   .slot = 1, .spec = (const uint8_t *)spec, .spec_len = strlen(spec), .ports = &port,
				   .nports = 1 };
	snprintf(t.id, sizeof(t.id), "%s", task_id);
	struct dispatch_msg m = { .type = DISPATCH_ASSIGNMENTS, .session = session, .seq = seq, .flags = flags,
				  .tasks = &t, .ntasks = task_id ? 1 : 0 };
	deliver(f, from, &m);
}

/* The update for task in a STATUS, or NULL. */
static const struct dispatch_update *update_of(const struct sent *s, const char *task)
{
	for (size_t i = 0; i < s->m.nupdates; i++)
		if (strcmp(s->m.updates[i].task_id, task) == 0)
			return &s->m.updates[i];
	return NULL;
}

/* Waits for STATUS batches to `to` (ACKing each) until task reaches state;
 * checks that its states never go back. Returns the last batch. */
static const struct dispatch_update *wait_state(struct fx *f, const char *to, const char *task, uint8_t state,
						uint8_t *first_state)
{
	uint8_t last = 0;
	bool any = false;
	for (;;) {
		struct sent *s = wait_sent(f, DISPATCH_STATUS, to);
		const struct dispatch_update *u = update_of(s, task);
		ack(f, to, s);
		if (u == NULL)
			continue;
		if (!any && first_state)
			*first_state = u->state;
		if (any && u->state < last)
			fail_msg("state went back from %u to %u", last, u->state);
		any = true;
		last = u->state;
		if (u->state == state)
			return u;
		if (runtime_state_is_terminal(u->state))
			fail_msg("task ended %s (%s), %s expected", runtime_state_name(u->state), u->err,
				 runtime_state_name(state));
	}
}

static uint64_t open_session(struct fx *f, const char *manager)
{
	struct sent *s = wait_sent(f, DISPATCH_SESSION, manager);
	return s->m.session;
}

#define SH_EXIT3 "{\"ContainerSpec\":{\"Image\":\"/bin/sh\",\"Args\":[\"-c\",\"exit 3\"]}}"
#define SLEEPER                                                                                            \
	"{\"ContainerSpec\":{\"Image\":\"/bin/sh\",\"Args\":[\"-c\",\"echo $PORT; exec sleep 60\"],"        \
	"\"StopGracePeriod\":2000000000}}"

static void exit3_walks_to_failed(void **state)
{
	struct fx *f = *state;
	uint64_t session = open_session(f, M1);
	assert_true(session >= 100);
	assign(f, M1, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, TASK_A, 5, RUNTIME_STATE_RUNNING,
	       SH_EXIT3);
	uint8_t first;
	const struct dispatch_update *u = wait_state(f, M1, TASK_A, RUNTIME_STATE_FAILED, &first);
	assert_int_equal(first, RUNTIME_STATE_ACCEPTED);
	assert_true(u->exited);
	assert_int_equal(u->exit_code, 3);
	assert_string_equal(u->err, "task: non-zero exit (3)");
	assert_true(u->timestamp_ms > 0);
	/* The host port the agent chose: host mode without a published port is the target. */
	assert_int_equal(u->nports, 1);
	assert_int_equal(u->ports[0].published, 8080);
	struct agent_info info;
	agent_get_info(f->a, &info);
	assert_string_equal(info.manager, M1);
	assert_true(info.full_set);
	assert_int_equal(info.unacked, 0);
}

static bool task_gone(void *ctx, const void *arg)
{
	struct fx *f = ctx;
	struct agent_info info;
	agent_get_info(f->a, &info);
	return info.tasks == *(const size_t *)arg;
}

static void desired_shutdown_stops_then_removal_forgets(void **state)
{
	struct fx *f = *state;
	uint64_t session = open_session(f, M1);
	assign(f, M1, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, TASK_A, 5, RUNTIME_STATE_RUNNING, SLEEPER);
	const struct dispatch_update *u = wait_state(f, M1, TASK_A, RUNTIME_STATE_RUNNING, NULL);
	int64_t pid = u->pid;
	assert_true(pid > 0);
	assert_int_equal(kill((pid_t)pid, 0), 0);
	/* The same version again changes nothing; a new one with desired shutdown stops it. */
	assign(f, M1, session, 2, 0, TASK_A, 5, RUNTIME_STATE_RUNNING, SLEEPER);
	assign(f, M1, session, 3, 0, TASK_A, 6, RUNTIME_STATE_SHUTDOWN, SLEEPER);
	u = wait_state(f, M1, TASK_A, RUNTIME_STATE_SHUTDOWN, NULL);
	assert_int_equal(kill((pid_t)pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	/* A full set without it: the agent forgets it and the runtime deletes its files. */
	assign(f, M1, session, 4, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, NULL, 0, 0, "{}");
	size_t none = 0;
	run_until(f, task_gone, &none, "the task to be forgotten");
	struct runtime_status rs;
	assert_int_equal(runtime_inspect(agent_runtime(f->a), TASK_A, &rs), -ENOENT);
	struct agent_info info;
	agent_get_info(f->a, &info);
	assert_int_equal(info.bad_msgs, 0);
}

static void reconnect_resends_status_and_keeps_running(void **state)
{
	struct fx *f = *state;
	uint64_t session = open_session(f, M1);
	assign(f, M1, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, TASK_A, 5, RUNTIME_STATE_RUNNING, SLEEPER);
	const struct dispatch_update *u = wait_state(f, M1, TASK_A, RUNTIME_STATE_RUNNING, NULL);
	int64_t pid = u->pid;
	/* M1's stream goes down; M2 is up. */
	snprintf(f->managers[0], sizeof(f->managers[0]), M2);
	agent_link_changed(f->a, M1, false);
	uint64_t s2 = open_session(f, M2);
	assert_true(s2 > session);
	/* Without waiting for assignments, M2 hears the last known status. */
	struct sent *st = wait_sent(f, DISPATCH_STATUS, M2);
	u = update_of(st, TASK_A);
	assert_non_null(u);
	assert_int_equal(u->state, RUNTIME_STATE_RUNNING);
	assert_int_equal(u->pid, pid);
	assert_int_equal(kill((pid_t)pid, 0), 0);
	/* An answer for the old session is dropped. */
	assign(f, M2, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, NULL, 0, 0, "{}");
	struct agent_info info;
	agent_get_info(f->a, &info);
	assert_int_equal(info.bad_msgs, 1);
	assert_int_equal(info.tasks, 1);
	/* M2's full set still names it: it keeps running, nothing is re-sent. */
	ack(f, M2, st);
	assign(f, M2, s2, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, TASK_A, 7, RUNTIME_STATE_RUNNING, SLEEPER);
	agent_get_info(f->a, &info);
	assert_int_equal(info.unacked, 0);
	assert_true(info.full_set);
	assert_int_equal(kill((pid_t)pid, 0), 0);
}

static void unacked_status_is_sent_again(void **state)
{
	struct fx *f = *state;
	uint64_t session = open_session(f, M1);
	assign(f, M1, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, TASK_A, 5, RUNTIME_STATE_RUNNING,
	       SH_EXIT3);
	wait_state(f, M1, TASK_A, RUNTIME_STATE_FAILED, NULL);
	/* A refused ACK: the batch comes again, still FAILED. */
	struct sent *again;
	struct dispatch_msg nack = { .type = DISPATCH_ACK, .session = session, .seq = 0, .status = -ETIMEDOUT };
	struct agent_info info;
	agent_get_info(f->a, &info);
	assert_int_equal(info.unacked, 0);
	/* Refuse a batch by hand: make the agent report something new first. */
	assign(f, M1, session, 2, 0, TASK_B, 1, RUNTIME_STATE_SHUTDOWN, SH_EXIT3);
	again = wait_sent(f, DISPATCH_STATUS, M1);
	assert_non_null(update_of(again, TASK_B));
	assert_int_equal(update_of(again, TASK_B)->state, RUNTIME_STATE_SHUTDOWN);
	nack.seq = again->m.seq;
	deliver(f, M1, &nack);
	again = wait_sent(f, DISPATCH_STATUS, M1);
	assert_non_null(update_of(again, TASK_B));
	assert_null(update_of(again, TASK_A));
	ack(f, M1, again);
	agent_get_info(f->a, &info);
	assert_int_equal(info.unacked, 0);
}

static void bad_specs_are_rejected(void **state)
{
	struct fx *f = *state;
	uint64_t session = open_session(f, M1);
	assign(f, M1, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, TASK_A, 5, RUNTIME_STATE_RUNNING,
	       "{\"ContainerSpec\":{\"Args\":[\"x\"]}}");
	const struct dispatch_update *u = wait_state(f, M1, TASK_A, RUNTIME_STATE_REJECTED, NULL);
	assert_string_equal(u->err, "task spec: ContainerSpec.Image: missing or not a string");
	assign(f, M1, session, 2, 0, TASK_B, 5, RUNTIME_STATE_RUNNING,
	       "{\"ContainerSpec\":{\"Image\":\"/nonexistent/prog\"}}");
	u = wait_state(f, M1, TASK_B, RUNTIME_STATE_REJECTED, NULL);
	assert_non_null(strstr(u->err, "/nonexistent/prog"));
	/* Garbage from a manager is counted, not obeyed. */
	static const uint8_t junk[] = { 0x93, 0x02, 0x01 };
	agent_receive(f->a, M1, junk, sizeof(junk));
	struct agent_info info;
	agent_get_info(f->a, &info);
	assert_int_equal(info.bad_msgs, 1);
}

/* --- a fake runtime whose recover finds one task of an earlier run ------------------- */

#define FAKE_PICKED_PORT 41409

struct fake_rt {
	struct runtime base;
	uv_timer_t timer;                       /* runs recover from the loop */
	uv_timer_t run;                         /* reports the started task RUNNING from the loop */
	int open_timers;
	void (*recovered)(struct runtime *rt, int status);
	void (*on_closed)(struct runtime *rt);
	char removed[IDS_LEN + 1];              /* the last task removed */
	char started[IDS_LEN + 1];              /* the last task started, "" when none */
	uint32_t handed_published;              /* its first port's host port as the agent handed it */
};

static void fake_run_now(uv_timer_t *t)
{
	struct fake_rt *f = t->data;
	struct runtime_status st = { .state = RUNTIME_STATE_RUNNING, .pid = 7, .timestamp_ms = 2 };
	snprintf(st.message, sizeof(st.message), "started");
	f->base.on_state(f->base.data, f->started, &st);
}

/* Only a task publishing a port runs (see the port test); others are refused. */
static int fake_start(struct runtime *rt, const struct runtime_task_spec *spec, char *err, size_t errlen)
{
	struct fake_rt *f = (struct fake_rt *)rt;
	if (spec->ports_len == 0) {
		snprintf(err, errlen, "the fake runtime runs nothing");
		return -EINVAL;
	}
	snprintf(f->started, sizeof(f->started), "%s", spec->task_id);
	f->handed_published = spec->ports[0].published;
	uv_timer_start(&f->run, fake_run_now, 0, 0);
	return 0;
}

/* The engine's read-back, faked: it picked FAKE_PICKED_PORT for every port. */
static int fake_ports(struct runtime *rt, const char *task_id, struct runtime_port *out, size_t cap, size_t *n)
{
	struct fake_rt *f = (struct fake_rt *)rt;
	if (strcmp(task_id, f->started) != 0)
		return -ENOENT;
	assert_true(cap >= 1);
	out[0] = (struct runtime_port){ 8080, FAKE_PICKED_PORT, RUNTIME_PROTO_TCP, RUNTIME_PUBLISH_HOST };
	*n = 1;
	return 0;
}

static int fake_stop(struct runtime *rt, const char *task_id, uint64_t grace_ms)
{
	return -ENOENT;
}

static int fake_remove(struct runtime *rt, const char *task_id)
{
	struct fake_rt *f = (struct fake_rt *)rt;
	snprintf(f->removed, sizeof(f->removed), "%s", task_id);
	return 0;
}

static int fake_logs(struct runtime *rt, const char *task_id, size_t tail, runtime_logs_cb cb, void *data)
{
	return -ENOENT;
}

static int fake_inspect(struct runtime *rt, const char *task_id, struct runtime_status *out)
{
	return -ENOENT;
}

static void fake_recover_now(uv_timer_t *t)
{
	struct fake_rt *f = t->data;
	struct runtime_status st = { .state = RUNTIME_STATE_FAILED, .pid = 99, .timestamp_ms = 1 };
	snprintf(st.message, sizeof(st.message), "recovered");
	snprintf(st.err, sizeof(st.err), "task: killed at daemon restart");
	f->base.on_state(f->base.data, TASK_B, &st);
	f->recovered(&f->base, 0);
}

static int fake_recover(struct runtime *rt, void (*on_done)(struct runtime *rt, int status))
{
	struct fake_rt *f = (struct fake_rt *)rt;
	f->recovered = on_done;
	uv_timer_start(&f->timer, fake_recover_now, 0, 0);
	return 0;
}

static void fake_timer_closed(uv_handle_t *h)
{
	struct fake_rt *f = h->data;
	if (--f->open_timers > 0)
		return;
	if (f->on_closed)
		f->on_closed(&f->base);
	free(f);
}

static void fake_close(struct runtime *rt, void (*on_closed)(struct runtime *rt))
{
	struct fake_rt *f = (struct fake_rt *)rt;
	f->on_closed = on_closed;
	f->open_timers = 2;
	uv_close((uv_handle_t *)&f->timer, fake_timer_closed);
	uv_close((uv_handle_t *)&f->run, fake_timer_closed);
}

static const struct runtime_ops fake_rt_ops = { fake_start, fake_stop, fake_remove, fake_logs, fake_inspect,
						fake_recover, fake_close };

static struct fake_rt *last_fake;

static int fake_runtime(void *data, uv_loop_t *loop, runtime_state_cb on_state, void *cb_data, struct runtime **out,
			char *err, size_t errlen)
{
	struct fake_rt *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->base = (struct runtime){ .ops = &fake_rt_ops, .name = "fake", .loop = loop, .on_state = on_state,
				    .data = cb_data };
	uv_timer_init(loop, &f->timer);
	uv_timer_init(loop, &f->run);
	f->timer.data = f->run.data = f;
	last_fake = f;
	*out = &f->base;
	return 0;
}

static int setup_fake_with(void **state, agent_runtime_ports_fn ports)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	log_set_min_level(LOG_ERROR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sn-agent-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->wake);
	snprintf(f->managers[0], sizeof(f->managers[0]), M1);
	f->nmanagers = 1;
	struct agent_config cfg = { .node_id = NODE, .first_session = 100, .runtime_new = fake_runtime,
				    .runtime_ports = ports };
	assert_int_equal(agent_start(&f->loop, &cfg, &fake_ops, f, &f->a, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int setup_fake(void **state)
{
	return setup_fake_with(state, NULL);
}

static int setup_fake_ports(void **state)
{
	return setup_fake_with(state, fake_ports);
}

/* A runtime that reads its ports back (the engine) picks the host port of a
 * host-mode port published as 0, and the agent reports the one it picked. */
static void picked_host_ports_are_read_back(void **state)
{
	struct fx *f = *state;
	uint64_t session = open_session(f, M1);
	assign(f, M1, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, TASK_A, 5, RUNTIME_STATE_RUNNING,
	       SLEEPER);
	uint8_t first;
	const struct dispatch_update *u = wait_state(f, M1, TASK_A, RUNTIME_STATE_RUNNING, &first);
	assert_int_equal(first, RUNTIME_STATE_ACCEPTED);
	assert_int_equal(last_fake->handed_published, 0);
	assert_int_equal(u->nports, 1);
	assert_int_equal(u->ports[0].target, 8080);
	assert_int_equal(u->ports[0].published, FAKE_PICKED_PORT);
}

static void recovered_tasks_are_reported_then_removed(void **state)
{
	struct fx *f = *state;
	/* No session before recover is done; then its verdict is reported. */
	uint64_t session = open_session(f, M1);
	const struct dispatch_update *u = wait_state(f, M1, TASK_B, RUNTIME_STATE_FAILED, NULL);
	assert_string_equal(u->err, "task: killed at daemon restart");
	assert_int_equal(u->pid, 99);
	/* The first full set does not name it: the runtime removes it. */
	assign(f, M1, session, 1, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, NULL, 0, 0, "{}");
	assert_string_equal(last_fake->removed, TASK_B);
	struct agent_info info;
	agent_get_info(f->a, &info);
	assert_int_equal(info.tasks, 0);
	/* A history task (terminal in the store) is only remembered; when the
	 * orchestrator deletes it, its leftover files are removed too. */
	struct dispatch_port none = { 1, 0, 0, 0 };
	struct dispatch_task t = { .id = TASK_A, .version = 3, .state = RUNTIME_STATE_COMPLETE,
				   .desired = RUNTIME_STATE_SHUTDOWN, .spec = (const uint8_t *)"{}", .spec_len = 2,
				   .ports = &none, .nports = 0 };
	struct dispatch_msg m = { .type = DISPATCH_ASSIGNMENTS, .session = session, .seq = 2, .tasks = &t, .ntasks = 1 };
	deliver(f, M1, &m);
	agent_get_info(f->a, &info);
	assert_int_equal(info.tasks, 1);
	assert_int_equal(info.unacked, 0);
	char removed[1][IDS_LEN + 1] = { TASK_A };
	m = (struct dispatch_msg){ .type = DISPATCH_ASSIGNMENTS, .session = session, .seq = 3, .removed = removed,
				   .nremoved = 1 };
	deliver(f, M1, &m);
	assert_string_equal(last_fake->removed, TASK_A);
	agent_get_info(f->a, &info);
	assert_int_equal(info.tasks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(exit3_walks_to_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(desired_shutdown_stops_then_removal_forgets, setup, teardown),
		cmocka_unit_test_setup_teardown(reconnect_resends_status_and_keeps_running, setup, teardown),
		cmocka_unit_test_setup_teardown(unacked_status_is_sent_again, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_specs_are_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(recovered_tasks_are_reported_then_removed, setup_fake, teardown),
		cmocka_unit_test_setup_teardown(picked_host_ports_are_read_back, setup_fake_ports, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
