/* Unit tests for log_broker: requests out, answers in (split, refused, from the wrong node), silence, cancel and close, on a real loop with a fake transport. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <uv.h>

#include "swarmnode/log_broker.h"

#define NODE_A "aaaaaaaaaaaaaaaaaaaaaaaaa"
#define NODE_B "bbbbbbbbbbbbbbbbbbbbbbbbb"
#define TASK "ttttttttttttttttttttttttt"

/* What the fake transport and the callbacks saw. */
struct fixture {
	uv_loop_t loop;
	struct log_broker *b;
	int send_rc;                 /* what send answers */
	struct dispatch_msg sent;    /* the last request sent (decoded) */
	char sent_to[32];
	size_t lines;                /* lines delivered */
	char text[256];              /* their texts, concatenated */
	int done_calls;
	int status;
	char err[256];
	uint64_t dropped;
	bool closed;
};

static int fake_send(void *data, const char *node_id, const uint8_t *body, size_t len)
{
	struct fixture *f = data;
	char err[128];
	if (f->send_rc != 0)
		return f->send_rc;
	snprintf(f->sent_to, sizeof(f->sent_to), "%s", node_id);
	dispatch_msg_release(&f->sent);
	assert_int_equal(dispatch_msg_decode(body, len, &f->sent, err, sizeof(err)), 0);
	return 0;
}

static const struct log_broker_ops ops = { .send = fake_send };

static void on_lines(void *data, const struct dispatch_log_line *lines, size_t n)
{
	struct fixture *f = data;
	for (size_t i = 0; i < n; i++, f->lines++)
		strncat(f->text, (const char *)lines[i].text, lines[i].len);
}

static void on_done(void *data, int status, const char *err, uint64_t dropped)
{
	struct fixture *f = data;
	f->done_calls++;
	f->status = status;
	snprintf(f->err, sizeof(f->err), "%s", err);
	f->dropped = dropped;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	assert_int_equal(log_broker_new(&f->loop, &ops, f, &f->b), 0);
	*state = f;
	return 0;
}

static void broker_closed(void *data)
{
	((struct fixture *)data)->closed = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->b)
		log_broker_close(f->b, broker_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->b == NULL || f->closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	dispatch_msg_release(&f->sent);
	free(f);
	return 0;
}

static uint64_t fetch(struct fixture *f, const char *node)
{
	struct log_broker_query q = { .node_id = node, .task_id = TASK, .tail = 5, .since_ns = 9, .skip = 1,
				      .streams = DISPATCH_LOGS_STDOUT };
	uint64_t request = 0;
	assert_int_equal(log_broker_fetch(f->b, &q, on_lines, on_done, f, &request), 0);
	return request;
}

/* An answer as the agent encodes it. */
static bool answer(struct fixture *f, const char *from, uint64_t request, uint32_t flags, int status,
		   const char *text)
{
	struct dispatch_log_line line = { .stream = 1, .time_ns = 10, .text = (const uint8_t *)text,
					  .len = text ? strlen(text) : 0 };
	struct dispatch_msg m = { .type = DISPATCH_LOGS, .request = request, .flags = flags, .status = status,
				  .lines = &line, .nlines = text ? 1 : 0, .dropped = 2 };
	if (status != 0)
		snprintf(m.err, sizeof(m.err), "task %s: no such task on node %s", TASK, from);
	uint8_t buf[1024];
	size_t len;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), 0);
	return log_broker_receive(f->b, from, buf, len);
}

static void test_request_and_answer(void **state)
{
	struct fixture *f = *state;
	uint64_t r = fetch(f, NODE_A);
	assert_string_equal(f->sent_to, NODE_A);
	assert_int_equal(f->sent.type, DISPATCH_LOGS_REQUEST);
	assert_true(f->sent.request == r && f->sent.tail == 5 && f->sent.since_ns == 9 && f->sent.skip == 1);
	assert_string_equal(f->sent.task_id, TASK);
	assert_int_equal(f->sent.streams, DISPATCH_LOGS_STDOUT);
	assert_true(answer(f, NODE_A, r, 0, 0, "one "));
	assert_int_equal(f->done_calls, 0);
	assert_true(answer(f, NODE_A, r, DISPATCH_LOGS_LAST, 0, "two"));
	assert_int_equal(f->done_calls, 1);
	assert_int_equal(f->status, 0);
	assert_int_equal(f->lines, 2);
	assert_string_equal(f->text, "one two");
	assert_int_equal(f->dropped, 2);
	/* Over: a late answer for it is dropped. */
	assert_false(answer(f, NODE_A, r, DISPATCH_LOGS_LAST, 0, "late"));
	assert_int_equal(f->done_calls, 1);
	/* Each request has its own number. */
	assert_true(fetch(f, NODE_A) != r);
}

static void test_refusal_and_impostor(void **state)
{
	struct fixture *f = *state;
	uint64_t r = fetch(f, NODE_A);
	/* Another node cannot answer for A's request. */
	assert_false(answer(f, NODE_B, r, DISPATCH_LOGS_LAST, 0, "forged"));
	assert_int_equal(f->lines, 0);
	assert_int_equal(f->done_calls, 0);
	assert_true(answer(f, NODE_A, r, DISPATCH_LOGS_LAST, -ENOENT, NULL));
	assert_int_equal(f->done_calls, 1);
	assert_int_equal(f->status, -ENOENT);
	assert_string_equal(f->err, "task " TASK ": no such task on node " NODE_A);
	/* Garbage and other types are dropped. */
	static const uint8_t junk[] = { 0x92, 0x06, 0xc0 };
	assert_false(log_broker_receive(f->b, NODE_A, junk, sizeof(junk)));
}

static void test_send_failure_and_bad_query(void **state)
{
	struct fixture *f = *state;
	struct log_broker_query q = { .node_id = NODE_A, .task_id = TASK, .tail = 1, .streams = 3 };
	uint64_t r;
	f->send_rc = -ENOTCONN;
	assert_int_equal(log_broker_fetch(f->b, &q, on_lines, on_done, f, &r), -ENOTCONN);
	f->send_rc = 0;
	q.task_id = "nope";
	assert_int_equal(log_broker_fetch(f->b, &q, on_lines, on_done, f, &r), -EINVAL);
	q.task_id = TASK;
	q.streams = 0;
	assert_int_equal(log_broker_fetch(f->b, &q, on_lines, on_done, f, &r), -EINVAL);
	assert_int_equal(f->done_calls, 0);
}

static void test_silence_times_out(void **state)
{
	struct fixture *f = *state;
	uv_update_time(&f->loop);
	uint64_t started = uv_now(&f->loop);
	fetch(f, NODE_A);
	/* The broker's own timer keeps the loop turning until the request ends. */
	while (f->done_calls == 0) {
		if (uv_now(&f->loop) - started > 4 * LOG_BROKER_SILENCE_MS)
			fail_msg("the silent request did not end");
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	assert_int_equal(f->status, -ETIMEDOUT);
	assert_true(uv_now(&f->loop) - started >= LOG_BROKER_SILENCE_MS);
}

static void test_wait_ends_in_time_or_with_the_broker(void **state)
{
	struct fixture *f = *state;
	uint64_t r, r2;
	uv_update_time(&f->loop);
	uint64_t started = uv_now(&f->loop);
	assert_int_equal(log_broker_wait(f->b, 300, on_done, f, &r), 0);
	/* A pause is no request: an answer naming it is dropped. */
	assert_false(answer(f, NODE_A, r, DISPATCH_LOGS_LAST, 0, "x"));
	while (f->done_calls == 0) {
		if (uv_now(&f->loop) - started > 5000)
			fail_msg("the pause did not end");
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	assert_int_equal(f->status, 0);
	assert_true(uv_now(&f->loop) - started >= 300);
	assert_int_equal(log_broker_wait(f->b, 60000, on_done, f, &r2), 0);
	log_broker_close(f->b, broker_closed, f);
	assert_int_equal(f->done_calls, 2);
	assert_int_equal(f->status, -ECANCELED);
	assert_int_equal(log_broker_wait(f->b, 1, on_done, f, &r2), -ESHUTDOWN);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	f->b = NULL;
}

static void test_cancel_and_close(void **state)
{
	struct fixture *f = *state;
	uint64_t r = fetch(f, NODE_A);
	log_broker_cancel(f->b, r);
	assert_false(answer(f, NODE_A, r, DISPATCH_LOGS_LAST, 0, "x"));
	assert_int_equal(f->done_calls, 0);
	fetch(f, NODE_B);
	log_broker_close(f->b, broker_closed, f);
	assert_int_equal(f->done_calls, 1);
	assert_int_equal(f->status, -ECANCELED);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	f->b = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_and_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_and_impostor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_failure_and_bad_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silence_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_ends_in_time_or_with_the_broker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_close, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
