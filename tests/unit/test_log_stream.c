/* Unit tests for log_stream: Docker's multiplexed log frames written and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/log_stream.h"

#define DETAILS "com.docker.swarm.node.id=n,com.docker.swarm.service.id=s,com.docker.swarm.task.id=t"

static void test_time_has_nine_digits(void **state)
{
	(void)state;
	char t[LOG_STREAM_TIME_LEN + 1];
	log_stream_format_time(1764025024238799507ull, t);
	assert_string_equal(t, "2025-11-24T22:57:04.238799507Z");
	log_stream_format_time(1764025024000000000ull, t);
	assert_string_equal(t, "2025-11-24T22:57:04.000000000Z");
	log_stream_format_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000000000Z");
}

static void test_frame_bytes(void **state)
{
	(void)state;
	uint8_t out[256];
	/* The first frame dockerd sent in the trace: stream 2, details, text, newline. */
	size_t n = log_stream_frame(2, NULL, DETAILS, (const uint8_t *)"hello-stderr", 12, true, out);
	const char *payload = DETAILS " hello-stderr\n";
	assert_int_equal(n, 8 + strlen(payload));
	assert_int_equal(n, log_stream_frame_len(NULL, DETAILS, 12, true));
	static const uint8_t header[4] = { 2, 0, 0, 0 };
	assert_memory_equal(out, header, 4);
	assert_int_equal((out[4] << 24) | (out[5] << 16) | (out[6] << 8) | out[7], strlen(payload));
	assert_memory_equal(out + 8, payload, strlen(payload));
	/* Time first, then details; a partial piece has no newline; nothing but the text without options. */
	n = log_stream_frame(1, "2025-11-24T22:57:04.238799507Z", DETAILS, (const uint8_t *)"abc", 3, false, out);
	assert_int_equal(n, 8 + 31 + strlen(DETAILS) + 1 + 3);
	assert_memory_equal(out + 8, "2025-11-24T22:57:04.238799507Z " DETAILS " abc", n - 8);
	n = log_stream_frame(1, NULL, NULL, (const uint8_t *)"x", 1, true, out);
	assert_int_equal(n, 10);
	assert_memory_equal(out + 8, "x\n", 2);
	n = log_stream_frame(1, NULL, NULL, NULL, 0, true, out);
	assert_int_equal(n, 9);
}

static void test_read_back(void **state)
{
	(void)state;
	uint8_t buf[256];
	size_t len = log_stream_frame(1, NULL, NULL, (const uint8_t *)"one", 3, true, buf);
	len += log_stream_frame(2, NULL, NULL, (const uint8_t *)"two", 3, false, buf + len);
	size_t off = 0, plen;
	uint8_t stream;
	const uint8_t *p;
	char err[128];
	assert_int_equal(log_stream_next(buf, len, &off, &stream, &p, &plen, err, sizeof(err)), 1);
	assert_int_equal(stream, 1);
	assert_int_equal(plen, 4);
	assert_memory_equal(p, "one\n", 4);
	assert_int_equal(log_stream_next(buf, len, &off, &stream, &p, &plen, err, sizeof(err)), 1);
	assert_int_equal(stream, 2);
	assert_memory_equal(p, "two", 3);
	assert_int_equal(log_stream_next(buf, len, &off, &stream, &p, &plen, err, sizeof(err)), 0);
	assert_int_equal(off, len);
}

static void test_cut_and_malformed(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t len = log_stream_frame(1, NULL, NULL, (const uint8_t *)"hello", 5, true, buf), off, plen;
	uint8_t stream;
	const uint8_t *p;
	char err[160];
	/* A frame cut short needs more bytes: nothing is consumed. */
	for (size_t cut = 0; cut < len; cut++) {
		off = 0;
		assert_int_equal(log_stream_next(buf, cut, &off, &stream, &p, &plen, err, sizeof(err)), 0);
		assert_int_equal(off, 0);
	}
	buf[0] = 3;
	off = 0;
	assert_int_equal(log_stream_next(buf, len, &off, &stream, &p, &plen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad frame header at byte 0 (stream 3)"));
	buf[0] = 1;
	buf[2] = 1;
	assert_int_equal(log_stream_next(buf, len, &off, &stream, &p, &plen, err, sizeof(err)), -1);
	buf[2] = 0;
	buf[4] = 0x7f;
	assert_int_equal(log_stream_next(buf, len, &off, &stream, &p, &plen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_has_nine_digits),
		cmocka_unit_test(test_frame_bytes),
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_cut_and_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
