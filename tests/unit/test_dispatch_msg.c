/* Unit tests for dispatch_msg: sessions, assignments, status batches and their acks on the wire. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>

#include "swarmnode/dispatch_msg.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_S "sssssssssssssssssssssssss"

static size_t encode(const struct dispatch_msg *m, uint8_t **out)
{
	size_t cap = dispatch_msg_encoded_max(m), len = 0;
	*out = malloc(cap);
	assert_non_null(*out);
	assert_int_equal(dispatch_msg_encode(m, *out, cap, &len), 0);
	assert_true(len <= cap);
	return len;
}

static void decode_ok(const uint8_t *buf, size_t len, struct dispatch_msg *out)
{
	char err[200] = "";
	int rc = dispatch_msg_decode(buf, len, out, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode: %d (%s)", rc, err);
}

static void assert_ports_equal(const struct dispatch_port *a, const struct dispatch_port *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].target, b[i].target);
		assert_int_equal(a[i].published, b[i].published);
		assert_int_equal(a[i].protocol, b[i].protocol);
		assert_int_equal(a[i].mode, b[i].mode);
	}
}

static void test_session_and_ack_round_trip(void **state)
{
	(void)state;
	struct dispatch_msg in = { .type = DISPATCH_SESSION, .session = UINT64_MAX }, out;
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	decode_ok(buf, len, &out);
	assert_int_equal(out.type, DISPATCH_SESSION);
	assert_true(out.session == UINT64_MAX);
	static const uint8_t not_minimal[] = { 0x92, 0xcc, 0x01, 0x01 };
	assert_int_equal(dispatch_msg_peek_type(buf, len), DISPATCH_SESSION);
	assert_int_equal(dispatch_msg_peek_type(buf, 1), 0);
	assert_int_equal(dispatch_msg_peek_type(not_minimal, sizeof(not_minimal)), 0);
	dispatch_msg_release(&out);
	free(buf);

	in = (struct dispatch_msg){ .type = DISPATCH_ACK, .session = 7, .seq = 42, .status = -ETIMEDOUT };
	len = encode(&in, &buf);
	decode_ok(buf, len, &out);
	assert_int_equal(out.type, DISPATCH_ACK);
	assert_int_equal(dispatch_msg_peek_type(buf, len), DISPATCH_ACK);
	assert_int_equal(out.session, 7);
	assert_int_equal(out.seq, 42);
	assert_int_equal(out.status, -ETIMEDOUT);
	dispatch_msg_release(&out);
	free(buf);
}

static void test_assignments_round_trip(void **state)
{
	(void)state;
	static const uint8_t spec[] = "{\"ContainerSpec\":{\"Image\":\"/bin/sleep\",\"Args\":[\"60\"]}}";
	struct dispatch_port ports[2] = { { 80, 30080, 0, 0 }, { 53, 5353, 1, 1 } };
	struct dispatch_task t[2] = {
		{ .id = ID_A, .version = 17, .state = 2, .desired = 6, .service_id = ID_S, .service_name = "web",
		  .slot = 3, .spec = spec, .spec_len = sizeof(spec) - 1, .ports = ports, .nports = 2 },
		{ .id = ID_B, .version = 18, .state = 6, .desired = 8, .service_id = "", .service_name = "",
		  .slot = 0, .spec = spec, .spec_len = 2 },
	};
	char removed[1][IDS_LEN + 1] = { ID_S };
	struct dispatch_msg in = { .type = DISPATCH_ASSIGNMENTS, .session = 5, .seq = 1,
				   .flags = DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, .tasks = t, .ntasks = 2,
				   .removed = removed, .nremoved = 1 };
	struct dispatch_msg out;
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	decode_ok(buf, len, &out);
	assert_int_equal(out.type, DISPATCH_ASSIGNMENTS);
	assert_int_equal(out.flags, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END);
	assert_int_equal(out.ntasks, 2);
	assert_string_equal(out.tasks[0].id, ID_A);
	assert_int_equal(out.tasks[0].version, 17);
	assert_int_equal(out.tasks[0].state, 2);
	assert_int_equal(out.tasks[0].desired, 6);
	assert_string_equal(out.tasks[0].service_id, ID_S);
	assert_string_equal(out.tasks[0].service_name, "web");
	assert_int_equal(out.tasks[0].slot, 3);
	assert_int_equal(out.tasks[0].spec_len, sizeof(spec) - 1);
	assert_memory_equal(out.tasks[0].spec, spec, sizeof(spec) - 1);
	assert_true(out.tasks[0].spec >= buf && out.tasks[0].spec < buf + len);
	assert_int_equal(out.tasks[0].nports, 2);
	assert_ports_equal(out.tasks[0].ports, ports, 2);
	assert_string_equal(out.tasks[1].service_id, "");
	assert_int_equal(out.tasks[1].nports, 0);
	assert_int_equal(out.nremoved, 1);
	assert_string_equal(out.removed[0], ID_S);
	dispatch_msg_release(&out);
	free(buf);
}

static void test_status_round_trip(void **state)
{
	(void)state;
	struct dispatch_port ports[1] = { { 8080, 8080, 0, 1 } };
	struct dispatch_update u[2] = {
		{ .task_id = ID_A, .state = 9, .message = "finished", .err = "task: non-zero exit (3)",
		  .exited = true, .exit_code = 3, .pid = 4242, .timestamp_ms = 1764000000123ull,
		  .ports = ports, .nports = 1 },
		{ .task_id = ID_B, .state = 10, .message = "rejected",
		  .err = "exec: \"caf\xc3\xa9\": executable file not found in $PATH", .exit_code = -1,
		  .container_id = "c0ffee" },
	};
	struct dispatch_msg in = { .type = DISPATCH_STATUS, .session = 2, .seq = 99, .updates = u, .nupdates = 2 };
	struct dispatch_msg out;
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	decode_ok(buf, len, &out);
	assert_int_equal(out.nupdates, 2);
	assert_int_equal(out.seq, 99);
	assert_string_equal(out.updates[0].task_id, ID_A);
	assert_int_equal(out.updates[0].state, 9);
	assert_string_equal(out.updates[0].message, "finished");
	assert_string_equal(out.updates[0].err, "task: non-zero exit (3)");
	assert_true(out.updates[0].exited);
	assert_int_equal(out.updates[0].exit_code, 3);
	assert_int_equal(out.updates[0].pid, 4242);
	assert_true(out.updates[0].timestamp_ms == 1764000000123ull);
	assert_int_equal(out.updates[0].nports, 1);
	assert_ports_equal(out.updates[0].ports, ports, 1);
	assert_false(out.updates[1].exited);
	assert_int_equal(out.updates[1].exit_code, -1);
	assert_string_equal(out.updates[1].container_id, "c0ffee");
	/* Bytes a user's text may hold that the wire does not are replaced. */
	assert_string_equal(out.updates[1].err, "exec: \"caf??\": executable file not found in $PATH");
	dispatch_msg_release(&out);
	free(buf);
}

static void test_logs_request_round_trip(void **state)
{
	(void)state;
	struct dispatch_msg in = { .type = DISPATCH_LOGS_REQUEST, .request = 42, .task_id = ID_B, .tail = UINT64_MAX,
				   .since_ns = 1700000000123456789ull, .skip = 3, .streams = DISPATCH_LOGS_STDERR },
			    out;
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	assert_int_equal(dispatch_msg_peek_type(buf, len), DISPATCH_LOGS_REQUEST);
	decode_ok(buf, len, &out);
	assert_int_equal(out.type, DISPATCH_LOGS_REQUEST);
	assert_true(out.request == 42 && out.tail == UINT64_MAX && out.skip == 3);
	assert_true(out.since_ns == 1700000000123456789ull);
	assert_string_equal(out.task_id, ID_B);
	assert_int_equal(out.streams, DISPATCH_LOGS_STDERR);
	assert_int_equal(out.session, 0);
	assert_null(out.port_store);
	dispatch_msg_release(&out);
	free(buf);
}

static void test_logs_round_trip(void **state)
{
	(void)state;
	static uint8_t big[DISPATCH_LOG_TEXT_MAX];
	memset(big, 'x', sizeof(big));
	struct dispatch_log_line lines[] = {
		{ .stream = 1, .time_ns = 1, .text = (const uint8_t *)"hello", .len = 5 },
		{ .stream = 2, .time_ns = UINT64_MAX, .text = (const uint8_t *)"caf\xc3\xa9\0\n", .len = 7 },
		{ .stream = 1, .time_ns = 3, .text = big, .len = sizeof(big), .partial = true },
		{ .stream = 2, .time_ns = 4, .text = NULL, .len = 0 },
	};
	struct dispatch_msg in = { .type = DISPATCH_LOGS, .request = UINT64_MAX, .flags = DISPATCH_LOGS_LAST,
				   .status = -2, .err = "task x: no such task on node y", .dropped = 9, .lines = lines,
				   .nlines = 4 },
			    out;
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	assert_int_equal(dispatch_msg_peek_type(buf, len), DISPATCH_LOGS);
	decode_ok(buf, len, &out);
	assert_int_equal(out.type, DISPATCH_LOGS);
	assert_true(out.request == UINT64_MAX && out.dropped == 9 && out.status == -2);
	assert_int_equal(out.flags, DISPATCH_LOGS_LAST);
	assert_string_equal(out.err, in.err);
	assert_int_equal(out.nlines, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(out.lines[i].stream, lines[i].stream);
		assert_true(out.lines[i].time_ns == lines[i].time_ns);
		assert_int_equal(out.lines[i].len, lines[i].len);
		assert_int_equal(out.lines[i].partial, lines[i].partial);
		if (lines[i].len)
			assert_memory_equal(out.lines[i].text, lines[i].text, lines[i].len);
		/* Texts are views of the input, as specs are. */
		assert_true(lines[i].len == 0 || (out.lines[i].text >= buf && out.lines[i].text < buf + len));
	}
	dispatch_msg_release(&out);
	free(buf);
	/* A message of no lines is one empty final answer. */
	in = (struct dispatch_msg){ .type = DISPATCH_LOGS, .request = 1, .flags = DISPATCH_LOGS_LAST };
	len = encode(&in, &buf);
	decode_ok(buf, len, &out);
	assert_int_equal(out.nlines, 0);
	assert_null(out.lines);
	dispatch_msg_release(&out);
	free(buf);
}

static void test_logs_encode_refuses(void **state)
{
	(void)state;
	uint8_t buf[4096];
	size_t len;
	struct dispatch_log_line line = { .stream = 1, .text = (const uint8_t *)"a", .len = 1 };
	struct dispatch_msg m = { .type = DISPATCH_LOGS_REQUEST, .request = 0, .task_id = ID_A, .streams = 1 };
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.request = 1;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), 0);
	m.streams = 0;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.streams = 4;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.streams = 3;
	snprintf(m.task_id, sizeof(m.task_id), "nope");
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m = (struct dispatch_msg){ .type = DISPATCH_LOGS, .request = 1, .lines = &line, .nlines = 1 };
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), 0);
	m.flags = 2;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.flags = 0;
	m.status = 1;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.status = 0;
	line.stream = 0;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	line.stream = 2;
	line.len = DISPATCH_LOG_TEXT_MAX + 1;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	line.len = 1;
	m.nlines = DISPATCH_LOG_LINES_MAX + 1;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
}

static void test_encode_refuses(void **state)
{
	(void)state;
	uint8_t buf[4096];
	size_t len;
	static const uint8_t spec[] = "{}";
	struct dispatch_task t = { .id = ID_A, .spec = spec, .spec_len = 2 };
	struct dispatch_update u = { .task_id = ID_A };
	struct dispatch_port bad_port = { 0, 1, 0, 0 };
	struct dispatch_msg m = { .type = DISPATCH_SESSION, .session = 0 };
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m = (struct dispatch_msg){ .type = 9, .session = 1 };
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m = (struct dispatch_msg){ .type = DISPATCH_ASSIGNMENTS, .session = 1, .seq = 0, .tasks = &t, .ntasks = 1 };
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.seq = 1;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), 0);
	m.flags = 4;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.flags = 0;
	t.spec_len = 0;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	t.spec_len = 2;
	t.ports = &bad_port;
	t.nports = 1;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	t.nports = 0;
	snprintf(t.service_id, sizeof(t.service_id), "not-an-id");
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	t.service_id[0] = '\0';
	assert_int_equal(dispatch_msg_encode(&m, buf, 8, &len), -EMSGSIZE);
	m = (struct dispatch_msg){ .type = DISPATCH_STATUS, .session = 1, .seq = 1, .updates = &u, .nupdates = 0 };
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.nupdates = 1;
	u.pid = -1;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	u.pid = 0;
	u.state = 12;
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m = (struct dispatch_msg){ .type = DISPATCH_ACK, .session = 1, .seq = 1, .status = 1 };
	assert_int_equal(dispatch_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
}

/* --- malformed input, each built with msgpack-c ------------------------------ */

static void pack_port(msgpack_packer *pk, uint64_t target, uint64_t published, uint64_t proto, uint64_t mode)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint64(pk, target);
	msgpack_pack_uint64(pk, published);
	msgpack_pack_uint64(pk, proto);
	msgpack_pack_uint64(pk, mode);
}

/* A TASK whose field `bad` (0..8) is replaced by something wrong. */
static void pack_task(msgpack_packer *pk, int bad)
{
	msgpack_pack_array(pk, 9);
	msgpack_pack_str_with_body(pk, bad == 0 ? "short" : ID_A, bad == 0 ? 5 : IDS_LEN);
	if (bad == 1)
		msgpack_pack_int64(pk, -1);
	else
		msgpack_pack_uint64(pk, 3);
	msgpack_pack_uint64(pk, bad == 2 ? 12 : 2);
	msgpack_pack_uint64(pk, bad == 3 ? 200 : 6);
	msgpack_pack_str_with_body(pk, bad == 4 ? "x" : "", bad == 4 ? 1 : 0);
	msgpack_pack_str_with_body(pk, bad == 5 ? "we\tb" : "web", bad == 5 ? 4 : 3);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_bin_with_body(pk, "{}", bad == 7 ? 0 : 2);
	if (bad == 8) {
		msgpack_pack_array(pk, 1);
		pack_port(pk, 70000, 1, 0, 0);
	} else {
		msgpack_pack_array(pk, 0);
	}
}

static void pack_update(msgpack_packer *pk, int bad)
{
	msgpack_pack_array(pk, 10);
	msgpack_pack_str_with_body(pk, ID_A, IDS_LEN);
	msgpack_pack_uint64(pk, bad == 1 ? 99 : 6);
	msgpack_pack_str_with_body(pk, "started", 7);
	msgpack_pack_str_with_body(pk, "", 0);
	if (bad == 4)
		msgpack_pack_uint64(pk, 1);
	else
		msgpack_pack_false(pk);
	msgpack_pack_int64(pk, bad == 5 ? (int64_t)INT32_MAX + 1 : 0);
	msgpack_pack_int64(pk, bad == 6 ? -5 : 100);
	msgpack_pack_str_with_body(pk, "", 0);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_array(pk, 1);
	pack_port(pk, 80, 80, bad == 9 ? 2 : 0, 1);
}

struct bad_case {
	int kind; /* what to build */
	int bad;
	const char *why;
};

static size_t build(const struct bad_case *c, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	switch (c->kind) {
	case 0: /* header problems */
		if (c->bad == 0) {
			msgpack_pack_uint8(&pk, 1);
		} else if (c->bad == 1) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint8(&pk, 7);
			msgpack_pack_uint8(&pk, 1);
		} else if (c->bad == 2) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 0);
		} else if (c->bad == 3) {
			msgpack_pack_array(&pk, 3);
			msgpack_pack_uint8(&pk, DISPATCH_ACK);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 1);
		} else if (c->bad == 4) {
			msgpack_pack_array(&pk, 4);
			msgpack_pack_uint8(&pk, DISPATCH_ACK);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 5);
		} else {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 1);
			msgpack_pack_uint8(&pk, 1); /* trailing */
		}
		break;
	case 1: /* ASSIGNMENTS with one bad task, or bad header fields */
		msgpack_pack_array(&pk, 6);
		msgpack_pack_uint8(&pk, DISPATCH_ASSIGNMENTS);
		msgpack_pack_uint8(&pk, 1);
		msgpack_pack_uint8(&pk, c->bad == 20 ? 0 : 1);
		msgpack_pack_uint8(&pk, c->bad == 21 ? 4 : 3);
		msgpack_pack_array(&pk, 1);
		pack_task(&pk, c->bad);
		msgpack_pack_array(&pk, 1);
		msgpack_pack_str_with_body(&pk, c->bad == 22 ? "AAAAAAAAAAAAAAAAAAAAAAAAA" : ID_B, IDS_LEN);
		break;
	case 3: /* LOGS_REQUEST with one bad field */
		msgpack_pack_array(&pk, c->bad == 9 ? 6 : 7);
		msgpack_pack_uint8(&pk, DISPATCH_LOGS_REQUEST);
		msgpack_pack_uint8(&pk, c->bad == 1 ? 0 : 7);
		msgpack_pack_str_with_body(&pk, c->bad == 2 ? "AAAAAAAAAAAAAAAAAAAAAAAAA" : ID_A, IDS_LEN);
		if (c->bad == 3)
			msgpack_pack_int64(&pk, -1);
		else
			msgpack_pack_uint64(&pk, UINT64_MAX);
		if (c->bad == 4)
			msgpack_pack_str_with_body(&pk, "1", 1);
		else
			msgpack_pack_uint64(&pk, 0);
		msgpack_pack_uint64(&pk, 0);
		if (c->bad != 9)
			msgpack_pack_uint8(&pk, c->bad == 6 ? 4 : c->bad == 7 ? 0 : 3);
		break;
	case 4: /* LOGS with one bad field or line */
		msgpack_pack_array(&pk, 7);
		msgpack_pack_uint8(&pk, DISPATCH_LOGS);
		msgpack_pack_uint8(&pk, 7);
		msgpack_pack_uint8(&pk, c->bad == 2 ? 2 : 1);
		msgpack_pack_int64(&pk, c->bad == 3 ? 1 : c->bad == 13 ? -5000 : -2);
		msgpack_pack_str_with_body(&pk, c->bad == 4 ? "no\nline" : "no such task", c->bad == 4 ? 7 : 12);
		if (c->bad == 5)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_uint64(&pk, 3);
		msgpack_pack_array(&pk, 1);
		msgpack_pack_array(&pk, c->bad == 6 ? 3 : 4);
		msgpack_pack_uint8(&pk, c->bad == 7 ? 3 : 1);
		msgpack_pack_uint64(&pk, 5);
		if (c->bad == 8) {
			msgpack_pack_str_with_body(&pk, "hello", 5);
		} else if (c->bad == 9) {
			static uint8_t big[DISPATCH_LOG_TEXT_MAX + 1];
			msgpack_pack_bin_with_body(&pk, big, sizeof(big));
		} else {
			msgpack_pack_bin_with_body(&pk, "hello", 5);
		}
		if (c->bad == 10)
			msgpack_pack_uint8(&pk, 0);
		else if (c->bad != 6)
			msgpack_pack_false(&pk);
		break;
	default: /* STATUS with one bad update */
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint8(&pk, DISPATCH_STATUS);
		msgpack_pack_uint8(&pk, 1);
		msgpack_pack_uint8(&pk, 1);
		if (c->bad == 20) {
			msgpack_pack_array(&pk, 0);
		} else {
			msgpack_pack_array(&pk, 1);
			pack_update(&pk, c->bad);
		}
		break;
	}
	return sb->size;
}

static void test_decode_refuses(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ 0, 0, "dispatch message: expected an array" },
		{ 0, 1, "dispatch message type" },
		{ 0, 2, "dispatch message session" },
		{ 0, 3, "ack: expected 4" },
		{ 0, 4, "ack status" },
		{ 0, 5, "trailing" },
		{ 1, 0, "tasks[0] id" },
		{ 1, 1, "tasks[0] version" },
		{ 1, 2, "tasks[0] state" },
		{ 1, 3, "tasks[0] desired" },
		{ 1, 4, "tasks[0] service_id" },
		{ 1, 5, "tasks[0] service_name" },
		{ 1, 7, "tasks[0] spec: empty" },
		{ 1, 8, "tasks[0] ports[0] target" },
		{ 1, 20, "assignments seq" },
		{ 1, 21, "assignments flags" },
		{ 1, 22, "removed[0]" },
		{ 2, 1, "updates[0] state" },
		{ 2, 4, "updates[0] exited" },
		{ 2, 5, "updates[0] exit_code" },
		{ 2, 6, "updates[0] pid" },
		{ 2, 9, "updates[0] ports[0] protocol" },
		{ 2, 20, "status updates" },
		{ 3, 1, "dispatch message request" },
		{ 3, 2, "logs_request task" },
		{ 3, 3, "logs_request tail" },
		{ 3, 4, "logs_request since_ns" },
		{ 3, 6, "logs_request streams" },
		{ 3, 7, "logs_request streams: none selected" },
		{ 3, 9, "logs_request: expected 7" },
		{ 4, 2, "logs flags" },
		{ 4, 3, "logs status" },
		{ 4, 13, "logs status" },
		{ 4, 4, "logs err" },
		{ 4, 5, "logs dropped" },
		{ 4, 6, "lines[0] : expected 4" },
		{ 4, 7, "lines[0] stream" },
		{ 4, 8, "lines[0] text" },
		{ 4, 9, "lines[0] text" },
		{ 4, 10, "lines[0] partial" },
	};
	/* Sanity: the builders make valid messages when nothing is bad. */
	static const struct bad_case good[] = { { 1, -1, "" }, { 2, -1, "" }, { 3, -1, "" }, { 4, -1, "" } };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		msgpack_sbuffer sb;
		struct dispatch_msg m;
		msgpack_sbuffer_init(&sb);
		size_t n = build(&good[i], &sb);
		decode_ok((const uint8_t *)sb.data, n, &m);
		dispatch_msg_release(&m);
		msgpack_sbuffer_destroy(&sb);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msgpack_sbuffer sb;
		struct dispatch_msg m;
		char err[200] = "";
		msgpack_sbuffer_init(&sb);
		size_t n = build(&cases[i], &sb);
		int rc = dispatch_msg_decode((const uint8_t *)sb.data, n, &m, err, sizeof(err));
		if (rc != -EBADMSG)
			fail_msg("case %zu: decode returned %d, -EBADMSG expected", i, rc);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: error \"%s\" does not mention \"%s\"", i, err, cases[i].why);
		assert_null(m.tasks);
		assert_null(m.port_store);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_truncations_refused(void **state)
{
	(void)state;
	static const uint8_t spec[] = "{}";
	struct dispatch_port port = { 80, 80, 0, 1 };
	struct dispatch_task t = { .id = ID_A, .state = 2, .desired = 6, .service_name = "web", .spec = spec,
				   .spec_len = 2, .ports = &port, .nports = 1 };
	struct dispatch_msg in = { .type = DISPATCH_ASSIGNMENTS, .session = 1, .seq = 1, .tasks = &t, .ntasks = 1 };
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	for (size_t cut = 0; cut < len; cut++) {
		struct dispatch_msg m;
		char err[200] = "";
		assert_int_equal(dispatch_msg_decode(buf, cut, &m, err, sizeof(err)), -EBADMSG);
		assert_true(err[0] != '\0');
	}
	free(buf);
	struct dispatch_log_line line = { .stream = 2, .time_ns = 77, .text = (const uint8_t *)"oops", .len = 4 };
	struct dispatch_msg logs = { .type = DISPATCH_LOGS, .request = 5, .err = "e", .lines = &line, .nlines = 1 };
	len = encode(&logs, &buf);
	for (size_t cut = 0; cut < len; cut++) {
		struct dispatch_msg m;
		char err[200] = "";
		assert_int_equal(dispatch_msg_decode(buf, cut, &m, err, sizeof(err)), -EBADMSG);
		assert_true(err[0] != '\0');
		assert_null(m.lines);
	}
	free(buf);
}

static void test_oversized_refused(void **state)
{
	(void)state;
	size_t len = DISPATCH_MSG_MAX + 1;
	uint8_t *buf = calloc(1, len);
	struct dispatch_msg m;
	char err[200] = "";
	assert_non_null(buf);
	assert_int_equal(dispatch_msg_decode(buf, len, &m, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "at most"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_and_ack_round_trip),
		cmocka_unit_test(test_assignments_round_trip),
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_logs_request_round_trip),
		cmocka_unit_test(test_logs_round_trip),
		cmocka_unit_test(test_logs_encode_refuses),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_truncations_refused),
		cmocka_unit_test(test_oversized_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
