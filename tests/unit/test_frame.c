/* Unit tests for frame: length-prefixed stream messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/frame.h"

static size_t build(uint8_t *buf, const char *payload)
{
	size_t n = strlen(payload);
	frame_header(buf, (uint32_t)n);
	memcpy(buf + FRAME_HEADER_LEN, payload, n);
	return FRAME_HEADER_LEN + n;
}

static void two_frames_in_one_read(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = build(buf, "hello");
	n += build(buf + n, "");
	n += build(buf + n, "world");
	struct frame_reader fr;
	frame_reader_init(&fr, 16);
	const char *expect[] = {"hello", "", "world"};
	size_t pos = 0;
	for (int i = 0; i < 3; i++) {
		uint8_t *out;
		size_t len, used;
		assert_int_equal(frame_reader_feed(&fr, buf + pos, n - pos, &used, &out, &len), 1);
		pos += used;
		assert_int_equal(len, strlen(expect[i]));
		assert_memory_equal(out, expect[i], len);
		free(out);
	}
	assert_int_equal(pos, n);
	frame_reader_close(&fr);
}

static void byte_at_a_time(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = build(buf, "fragmented");
	struct frame_reader fr;
	frame_reader_init(&fr, 16);
	int frames = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *out;
		size_t len, used;
		int rc = frame_reader_feed(&fr, buf + i, 1, &used, &out, &len);
		assert_int_equal(used, 1);
		if (rc == 1) {
			assert_int_equal(i, n - 1);
			assert_memory_equal(out, "fragmented", len);
			free(out);
			frames++;
		} else {
			assert_int_equal(rc, 0);
		}
	}
	assert_int_equal(frames, 1);
	frame_reader_close(&fr);
}

static void oversized_is_refused_before_allocation(void **state)
{
	(void)state;
	uint8_t hdr[FRAME_HEADER_LEN];
	frame_header(hdr, 0xffffffffu);
	struct frame_reader fr;
	frame_reader_init(&fr, 1024);
	uint8_t *out;
	size_t len, used;
	assert_int_equal(frame_reader_feed(&fr, hdr, sizeof(hdr), &used, &out, &len), -90 /* EMSGSIZE */);
	assert_null(fr.payload);
	frame_reader_close(&fr);
}

static void partial_frame_is_freed_on_close(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = build(buf, "partial");
	struct frame_reader fr;
	frame_reader_init(&fr, 16);
	uint8_t *out;
	size_t len, used;
	assert_int_equal(frame_reader_feed(&fr, buf, n - 2, &used, &out, &len), 0);
	frame_reader_close(&fr); /* LeakSanitizer checks the buffer is released */
}

/* Step reading: the caller judges each length, and one buffer serves every
 * frame no larger than the largest so far. */
static void step_reader_reuses_its_buffer(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = build(buf, "longer one");
	n += build(buf + n, "short");
	struct frame_reader fr;
	memset(&fr, 0, sizeof(fr));
	const char *expect[] = {"longer one", "short"};
	size_t pos = 0, used;
	uint8_t *first = NULL;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(frame_reader_step(&fr, buf + pos, n - pos, &used), FRAME_STEP_LENGTH);
		pos += used;
		assert_int_equal(fr.payload_len, strlen(expect[i]));
		assert_int_equal(frame_reader_expect(&fr), 0);
		if (i == 0)
			first = fr.payload;
		assert_ptr_equal(fr.payload, first);
		assert_int_equal(frame_reader_step(&fr, buf + pos, 3, &used), FRAME_STEP_MORE);
		pos += used;
		assert_int_equal(frame_reader_step(&fr, buf + pos, n - pos, &used), FRAME_STEP_PAYLOAD);
		pos += used;
		assert_memory_equal(fr.payload, expect[i], fr.payload_len);
		frame_reader_next(&fr);
	}
	assert_int_equal(pos, n);
	assert_int_equal(fr.payload_cap, strlen(expect[0]));
	frame_reader_close(&fr);
}

/* The queue frames what it is given, hands it out in pieces, and starts
 * over once all is sent. */
static void queue_frames_and_drains(void **state)
{
	(void)state;
	struct frame_queue q;
	memset(&q, 0, sizeof(q));
	const uint8_t *p;
	assert_int_equal(frame_queue_pending(&q, &p), 0);
	assert_null(p);
	assert_int_equal(frame_queue_push(&q, (const uint8_t *)"abc", 3), 0);
	uint8_t *w = frame_queue_add(&q, 2);
	assert_non_null(w);
	memcpy(w + FRAME_HEADER_LEN, "de", 2);
	static const uint8_t want[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 2, 'd', 'e'};
	assert_int_equal(frame_queue_pending(&q, &p), sizeof(want));
	assert_memory_equal(p, want, sizeof(want));
	frame_queue_sent(&q, 5);
	assert_int_equal(frame_queue_pending(&q, &p), sizeof(want) - 5);
	assert_memory_equal(p, want + 5, sizeof(want) - 5);
	frame_queue_sent(&q, 100);
	assert_int_equal(frame_queue_pending(&q, &p), 0);
	assert_int_equal(q.len, 0);
	frame_queue_close(&q);
	assert_null(q.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_frames_in_one_read),
		cmocka_unit_test(byte_at_a_time),
		cmocka_unit_test(oversized_is_refused_before_allocation),
		cmocka_unit_test(partial_frame_is_freed_on_close),
		cmocka_unit_test(step_reader_reuses_its_buffer),
		cmocka_unit_test(queue_frames_and_drains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
