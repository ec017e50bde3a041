/* Unit tests for agent_logs: which lines an answer keeps, how they are cut into LOGS messages, and refusals naming the task, with a fake runtime. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent_logs.h"

#define TASK "ttttttttttttttttttttttttt"
#define NODE "nnnnnnnnnnnnnnnnnnnnnnnnn"
#define MANAGER "mmmmmmmmmmmmmmmmmmmmmmmmm"

static struct runtime_log_line line(enum runtime_log_stream s, uint64_t t, const char *text)
{
	return (struct runtime_log_line){ .stream = s, .time_ns = t, .text = text, .len = strlen(text) };
}

static struct dispatch_msg request(uint64_t tail, uint64_t since, uint64_t skip, uint8_t streams)
{
	return (struct dispatch_msg){ .type = DISPATCH_LOGS_REQUEST, .request = 1, .task_id = TASK, .tail = tail,
				      .since_ns = since, .skip = skip, .streams = streams };
}

static void test_select(void **state)
{
	(void)state;
	struct runtime_log_line l[] = {
		line(RUNTIME_LOG_STDOUT, 10, "a"), line(RUNTIME_LOG_STDERR, 20, "b"), line(RUNTIME_LOG_STDOUT, 20, "c"),
		line(RUNTIME_LOG_STDOUT, 20, "d"), line(RUNTIME_LOG_STDERR, 30, "e"),
	};
	size_t keep[5], n;
	uint64_t dropped;
	struct dispatch_msg r = request(UINT64_MAX, 0, 0, 3);
	n = agent_logs_select(l, 5, &r, keep, &dropped);
	assert_int_equal(n, 5);
	assert_int_equal(dropped, 0);
	r = request(2, 0, 0, 3);
	n = agent_logs_select(l, 5, &r, keep, &dropped);
	assert_int_equal(n, 2);
	assert_int_equal(keep[0], 3);
	assert_int_equal(keep[1], 4);
	/* The stream filter comes before tail. */
	r = request(2, 0, 0, DISPATCH_LOGS_STDERR);
	n = agent_logs_select(l, 5, &r, keep, &dropped);
	assert_int_equal(n, 2);
	assert_int_equal(keep[0], 1);
	assert_int_equal(keep[1], 4);
	/* since is inclusive; skip leaves out lines a follower has, stamped exactly since. */
	r = request(UINT64_MAX, 20, 2, 3);
	n = agent_logs_select(l, 5, &r, keep, &dropped);
	assert_int_equal(n, 2);
	assert_int_equal(keep[0], 3);
	assert_int_equal(keep[1], 4);
	r = request(0, 0, 0, 3);
	assert_int_equal(agent_logs_select(l, 5, &r, keep, &dropped), 0);
}

static void test_select_byte_bound(void **state)
{
	(void)state;
	/* Five lines of 1 MiB: only the newest fit the answer's bound. */
	static char big[1u << 20];
	struct runtime_log_line l[5];
	for (size_t i = 0; i < 5; i++)
		l[i] = (struct runtime_log_line){ .stream = RUNTIME_LOG_STDOUT, .time_ns = i, .text = big,
						  .len = sizeof(big) };
	size_t keep[5];
	uint64_t dropped;
	struct dispatch_msg r = request(UINT64_MAX, 0, 0, 3);
	size_t n = agent_logs_select(l, 5, &r, keep, &dropped);
	assert_int_equal(n, DISPATCH_LOGS_ANSWER_MAX / sizeof(big));
	assert_int_equal(dropped, 5 - n);
	assert_int_equal(keep[n - 1], 4);
}

/* --- answers through a fake runtime -------------------------------------------------- */

/* The runtime's answer the fake gives, and what was sent. */
static struct {
	int logs_rc;                     /* what logs() returns */
	int cb_status;                   /* what it then reports */
	const struct runtime_log_line *lines;
	size_t n;
	size_t asked_tail;               /* of the last call */
	size_t calls;
	struct dispatch_msg sent[64];
	size_t nsent;
	size_t text_bytes;               /* of every line sent */
} fake;

static int fake_logs(struct runtime *rt, const char *task_id, size_t tail, runtime_logs_cb cb, void *data)
{
	(void)rt;
	assert_string_equal(task_id, TASK);
	fake.asked_tail = tail;
	fake.calls++;
	if (fake.logs_rc != 0)
		return fake.logs_rc;
	cb(data, fake.cb_status, fake.lines, fake.n);
	return 0;
}

static const struct runtime_ops fake_ops = { .logs = fake_logs };

static int fake_send(void *data, const char *to, const uint8_t *body, size_t len)
{
	char err[128];
	(void)data;
	assert_string_equal(to, MANAGER);
	assert_true(len <= DISPATCH_MSG_MAX);
	assert_true(fake.nsent < 64);
	struct dispatch_msg *m = &fake.sent[fake.nsent++];
	assert_int_equal(dispatch_msg_decode(body, len, m, err, sizeof(err)), 0);
	for (size_t i = 0; i < m->nlines; i++)
		fake.text_bytes += m->lines[i].len;
	/* The texts point into body, which goes away: forget them. */
	free(m->lines);
	m->lines = NULL;
	return 0;
}

static void fake_reset(void)
{
	for (size_t i = 0; i < fake.nsent; i++)
		dispatch_msg_release(&fake.sent[i]);
	memset(&fake, 0, sizeof(fake));
}

static void answer(uint64_t tail, uint8_t streams)
{
	struct runtime rt = { .ops = &fake_ops, .name = "fake" };
	struct dispatch_msg r = request(tail, 0, 0, streams);
	agent_logs_answer(&rt, NODE, MANAGER, &r, fake_send, NULL);
}

static void test_answer_split_over_messages(void **state)
{
	(void)state;
	/* 200 lines of 16 KiB and one of 40 KiB: more than one message, the long one in pieces. */
	static char text[40u << 10];
	static struct runtime_log_line l[201];
	memset(text, 'x', sizeof(text));
	for (size_t i = 0; i < 200; i++)
		l[i] = (struct runtime_log_line){ .stream = 1, .time_ns = i, .text = text, .len = 16u << 10 };
	l[200] = (struct runtime_log_line){ .stream = 2, .time_ns = 200, .text = text, .len = sizeof(text) };
	fake_reset();
	fake.lines = l;
	fake.n = 201;
	answer(UINT64_MAX, 3);
	assert_true(fake.asked_tail == RUNTIME_LOGS_ALL);
	assert_true(fake.nsent >= 4);
	size_t pieces = 0;
	for (size_t i = 0; i < fake.nsent; i++) {
		assert_int_equal(fake.sent[i].type, DISPATCH_LOGS);
		assert_int_equal(fake.sent[i].request, 1);
		assert_int_equal(fake.sent[i].flags, i + 1 == fake.nsent ? DISPATCH_LOGS_LAST : 0);
		pieces += fake.sent[i].nlines;
	}
	assert_int_equal(pieces, 200 + 3); /* 40 KiB = 16 + 16 + 8 */
	assert_int_equal(fake.text_bytes, 200 * (16u << 10) + sizeof(text));
	assert_int_equal(fake.sent[fake.nsent - 1].status, 0);
	fake_reset();
}

static void answer_since(uint64_t tail, uint64_t since, uint8_t streams)
{
	struct runtime rt = { .ops = &fake_ops, .name = "fake" };
	struct dispatch_msg r = request(tail, since, 0, streams);
	agent_logs_answer(&rt, NODE, MANAGER, &r, fake_send, NULL);
}

static void test_answer_asks_the_runtime_for_tail(void **state)
{
	(void)state;
	static struct runtime_log_line l[2048];
	for (size_t i = 0; i < 2048; i++)
		l[i] = line(i % 2 ? RUNTIME_LOG_STDERR : RUNTIME_LOG_STDOUT, 100 + i, "x");
	fake_reset();
	fake.lines = l;
	fake.n = 1;
	answer(7, 3);
	assert_int_equal(fake.asked_tail, 7);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.nsent, 1);
	/* A filter: a window of the log first, enough when the log is shorter. */
	fake_reset();
	fake.lines = l;
	fake.n = 1;
	answer(7, DISPATCH_LOGS_STDOUT);
	assert_int_equal(fake.calls, 1);
	assert_true(fake.asked_tail != RUNTIME_LOGS_ALL && fake.asked_tail >= 7);
	size_t window = fake.asked_tail;
	/* Enough too when it reaches back before since ... */
	fake_reset();
	fake.lines = l + 2048 - window;
	fake.n = window;
	answer_since(UINT64_MAX, 100 + 2048 - 5, 3);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.sent[0].nlines, 5);
	/* ... or when it holds tail lines of the stream. */
	fake_reset();
	fake.lines = l + 2048 - window;
	fake.n = window;
	answer(3, DISPATCH_LOGS_STDERR);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.sent[0].nlines, 3);
	/* Otherwise every line is read again. */
	fake_reset();
	fake.lines = l + 2048 - window;
	fake.n = window;
	answer_since(UINT64_MAX, 50, 3);
	assert_int_equal(fake.calls, 2);
	assert_true(fake.asked_tail == RUNTIME_LOGS_ALL);
	fake_reset();
}

static void test_refusals_name_the_task(void **state)
{
	(void)state;
	fake_reset();
	fake.logs_rc = -ENOENT;
	answer(1, 3);
	assert_int_equal(fake.nsent, 1);
	assert_int_equal(fake.sent[0].flags, DISPATCH_LOGS_LAST);
	assert_int_equal(fake.sent[0].status, -ENOENT);
	assert_string_equal(fake.sent[0].err, "task " TASK ": no such task on node " NODE);
	fake_reset();
	fake.cb_status = UV_EIO;
	answer(1, 3);
	assert_int_equal(fake.nsent, 1);
	assert_int_equal(fake.sent[0].status, UV_EIO);
	assert_non_null(strstr(fake.sent[0].err, "cannot read its logs on node " NODE));
	/* A runtime closing first: nothing is sent. */
	fake_reset();
	fake.cb_status = UV_ECANCELED;
	answer(1, 3);
	assert_int_equal(fake.nsent, 0);
	fake_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_select_byte_bound),
		cmocka_unit_test(test_answer_split_over_messages),
		cmocka_unit_test(test_answer_asks_the_runtime_for_tail),
		cmocka_unit_test(test_refusals_name_the_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
