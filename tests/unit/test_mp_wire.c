/* Unit tests for mp_wire: the bounds-checked msgpack helpers under every core decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "src/core/mp_wire.h"

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* mp_check accepts, and msgpack-c then unpacks exactly the whole buffer. */
static void expect_ok(const uint8_t *in, size_t len)
{
	char err[160] = "";
	if (!mp_check(in, len, "t", err, sizeof(err))) {
		print_error("rejected valid input of %zu bytes: %s\n", len, err);
		fail();
	}
	msgpack_zone zone;
	msgpack_zone_init(&zone, 256);
	msgpack_object o;
	assert_true(mp_unpack_exact(&zone, in, len, &o, "t", err, sizeof(err)));
	msgpack_zone_destroy(&zone);
}

static void expect_bad(const uint8_t *in, size_t len, const char *why)
{
	char err[160] = "";
	if (mp_check(in, len, "t", err, sizeof(err)) || strstr(err, why) == NULL) {
		print_error("input of %zu bytes: got \"%s\", want a rejection containing \"%s\"\n", len,
			    err, why);
		fail();
	}
}

static void check_accepts_every_type(void **state)
{
	(void)state;
	expect_ok(B(0xc0));                                   /* nil */
	expect_ok(B(0xc3));                                   /* true */
	expect_ok(B(0x7f));                                   /* positive fixint */
	expect_ok(B(0xe0));                                   /* negative fixint */
	expect_ok(B(0xcc, 0xff));                             /* uint8 */
	expect_ok(B(0xcf, 1, 2, 3, 4, 5, 6, 7, 8));           /* uint64 */
	expect_ok(B(0xd3, 1, 2, 3, 4, 5, 6, 7, 8));           /* int64 */
	expect_ok(B(0xca, 0, 0, 0, 0));                       /* float32 */
	expect_ok(B(0xcb, 0, 0, 0, 0, 0, 0, 0, 0));           /* float64 */
	expect_ok(B(0xa3, 'a', 'b', 'c'));                    /* fixstr */
	expect_ok(B(0xd9, 2, 'a', 'b'));                      /* str8 */
	expect_ok(B(0xda, 0, 1, 'a'));                        /* str16 */
	expect_ok(B(0xdb, 0, 0, 0, 1, 'a'));                  /* str32 */
	expect_ok(B(0xc4, 2, 1, 2));                          /* bin8 */
	expect_ok(B(0xc5, 0, 0));                             /* bin16, empty */
	expect_ok(B(0xc6, 0, 0, 0, 1, 9));                    /* bin32 */
	expect_ok(B(0xd4, 1, 9));                             /* fixext1 */
	expect_ok(B(0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)); /* fixext16 */
	expect_ok(B(0xc7, 1, 5, 9));                          /* ext8 */
	expect_ok(B(0x90));                                   /* empty fixarray */
	expect_ok(B(0x92, 0x01, 0x92, 0x02, 0x03));           /* nested arrays */
	expect_ok(B(0x81, 0xa1, 'k', 0x01));                  /* fixmap */
	expect_ok(B(0xdc, 0, 2, 1, 2));                       /* array16 */
	expect_ok(B(0xdd, 0, 0, 0, 1, 1));                    /* array32 */
	expect_ok(B(0xde, 0, 1, 1, 2));                       /* map16 */
	expect_ok(B(0xdf, 0, 0, 0, 1, 1, 2));                 /* map32 */
}

static void check_rejects_container_bombs(void **state)
{
	(void)state;
	/* These make msgpack-c allocate count * sizeof(msgpack_object) at once. */
	expect_bad(B(0xdd, 0xff, 0xff, 0xff, 0xff), "claims 4294967295 elements");
	expect_bad(B(0xdf, 0xff, 0xff, 0xff, 0xff), "claims 8589934590 elements");
	expect_bad(B(0xdc, 0xff, 0xff, 1, 2, 3), "claims 65535 elements");
	expect_bad(B(0x92, 0x01, 0xdd, 0x00, 0x01, 0x00, 0x00), "claims 65536 elements");
	/* A map of one entry needs two objects. */
	expect_bad(B(0x81, 0x01), "claims 2 elements, only 1 bytes left");
}

static void check_rejects_truncation_and_junk(void **state)
{
	(void)state;
	expect_bad((const uint8_t *)"", 0, "truncated at byte 0");
	expect_bad(B(0xd9), "truncated length");
	expect_bad(B(0xd9, 5, 'a', 'b'), "runs past the end");
	expect_bad(B(0xc6, 0xff, 0xff, 0xff, 0xff, 1), "runs past the end");
	expect_bad(B(0xcf, 1, 2, 3), "runs past the end");
	expect_bad(B(0xdc, 0), "truncated count");
	expect_bad(B(0x92, 0x01), "claims 2 elements, only 1 bytes left");
	expect_bad(B(0x93, 0x01, 0x92, 0x01, 0x02), "truncated at byte 5");
	expect_bad(B(0xc1), "invalid type byte 0xc1");
	expect_bad(B(0x91, 0xc1), "invalid type byte 0xc1 at byte 1");
	expect_bad(B(0x01, 0x02), "1 trailing bytes");
}

static void check_limits_depth(void **state)
{
	(void)state;
	uint8_t buf[MP_MAX_DEPTH + 2];
	memset(buf, 0x91, sizeof(buf));
	/* MP_MAX_DEPTH nested arrays around one integer: accepted. */
	buf[MP_MAX_DEPTH] = 0x01;
	expect_ok(buf, MP_MAX_DEPTH + 1);
	/* One more: refused. */
	buf[MP_MAX_DEPTH] = 0x91;
	buf[MP_MAX_DEPTH + 1] = 0x01;
	expect_bad(buf, MP_MAX_DEPTH + 2, "nested deeper than 16");
}

/* mp_scan reports where and what, for callers that word it themselves, and
 * follows a caller's lower nesting bound. */
static void scan_reports_the_fault(void **state)
{
	(void)state;
	struct mp_fault f;
	assert_false(mp_scan(B(0x93, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x02), 16, &f));
	assert_int_equal(f.kind, MP_FAULT_TOO_MANY);
	assert_int_equal(f.at, 2);
	assert_int_equal(f.count, 4294967295u);
	assert_int_equal(f.left, 1);
	assert_false(mp_scan(B(0xc6, 0, 0, 0, 9, 1), 16, &f));
	assert_int_equal(f.kind, MP_FAULT_PAST_END);
	assert_int_equal(f.at, 0);
	assert_int_equal(f.pos, 5);
	assert_false(mp_scan(B(0x91, 0xd9), 16, &f));
	assert_int_equal(f.kind, MP_FAULT_TRUNCATED_LENGTH);
	assert_int_equal(f.at, 1);
	assert_int_equal(f.pos, 2);
	assert_true(mp_scan(B(0x91, 0x91, 0x01), 2, &f));
	assert_false(mp_scan(B(0x91, 0x91, 0x91, 0x01), 2, &f));
	assert_int_equal(f.kind, MP_FAULT_TOO_DEEP);
	assert_int_equal(f.at, 2);
	assert_string_equal(mp_type_name(MSGPACK_OBJECT_POSITIVE_INTEGER, false), "unsigned integer");
	assert_string_equal(mp_type_name(MSGPACK_OBJECT_POSITIVE_INTEGER, true), "uint");
	assert_string_equal(mp_type_name(MSGPACK_OBJECT_FLOAT32, true), "float32");
}

/* Whatever mp_check accepts, msgpack-c unpacks completely: over many
 * pseudo-random inputs (a fixed xorshift sequence, so runs are repeatable). */
static void check_agrees_with_msgpack_c(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int accepted = 0;
	for (int round = 0; round < 200000; round++) {
		uint8_t buf[12];
		size_t len = 1 + (size_t)(round % (int)sizeof(buf));
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Bias towards small containers and fixints so that nesting happens. */
			uint8_t r = (uint8_t)x;
			buf[i] = (x >> 8) % 3 == 0 ? (uint8_t)(0x90 | (r & 3)) : r;
		}
		if (!mp_check(buf, len, "t", NULL, 0))
			continue;
		accepted++;
		msgpack_zone zone;
		msgpack_zone_init(&zone, 256);
		msgpack_object o;
		size_t off = 0;
		int rc = msgpack_unpack((const char *)buf, len, &off, &zone, &o);
		msgpack_zone_destroy(&zone);
		if (rc != MSGPACK_UNPACK_SUCCESS || off != len) {
			print_error("round %d: mp_check accepted %zu bytes, msgpack-c said %d at %zu\n",
				    round, len, rc, off);
			fail();
		}
	}
	assert_true(accepted > 1000);
}

static void readers_check_type_and_bounds(void **state)
{
	(void)state;
	msgpack_zone zone;
	msgpack_zone_init(&zone, 256);
	msgpack_object o;
	char err[160];
	/* [7, "ldpj7owgrf12irfxg3hi9i3r3", bin(2), "x"] */
	static const uint8_t in[] = {0x94, 0x07, 0xb9, 'l', 'd', 'p', 'j', '7', 'o', 'w', 'g', 'r',
				     'f', '1', '2', 'i', 'r', 'f', 'x', 'g', '3', 'h', 'i', '9',
				     'i', '3', 'r', '3', 0xc4, 0x02, 0xaa, 0xbb, 0xa1, 'x'};
	assert_true(mp_unpack_exact(&zone, in, sizeof(in), &o, "t", err, sizeof(err)));
	assert_true(mp_get_array(&o, 4, "t", err, sizeof(err)));
	assert_false(mp_get_array(&o, 3, "msg", err, sizeof(err)));
	assert_string_equal(err, "msg: expected 3 elements, got 4");
	assert_false(mp_get_array_range(&o, 5, 9, "msg", err, sizeof(err)));
	assert_string_equal(err, "msg: expected 5 to 9 elements, got 4");
	const msgpack_object *f = o.via.array.ptr;
	uint64_t v;
	assert_true(mp_get_uint(&f[0], 7, 7, &v, "n", err, sizeof(err)));
	assert_int_equal(v, 7);
	assert_false(mp_get_uint(&f[0], 8, 9, &v, "n", err, sizeof(err)));
	assert_string_equal(err, "n: 7 out of range [8, 9]");
	assert_false(mp_get_uint(&f[1], 0, 9, &v, "n", err, sizeof(err)));
	assert_string_equal(err, "n: expected an unsigned integer, got string");
	char id[IDS_LEN + 1];
	assert_true(mp_get_id(&f[1], id, "id", err, sizeof(err)));
	assert_string_equal(id, "ldpj7owgrf12irfxg3hi9i3r3");
	assert_false(mp_get_id(&f[3], id, "id", err, sizeof(err)));
	assert_string_equal(err, "id: expected 25 characters, got 1");
	assert_false(mp_get_id(&f[2], id, "id", err, sizeof(err)));
	assert_string_equal(err, "id: expected a string, got binary");
	uint8_t two[2];
	assert_true(mp_get_bin_exact(&f[2], two, 2, "b", err, sizeof(err)));
	assert_int_equal(two[1], 0xbb);
	assert_false(mp_get_bin_exact(&f[2], two, 1, "b", err, sizeof(err)));
	assert_string_equal(err, "b: expected 1 bytes, got 2");
	const uint8_t *p;
	size_t n;
	assert_true(mp_get_bin(&f[2], 2, &p, &n, "b", err, sizeof(err)));
	assert_int_equal(n, 2);
	assert_false(mp_get_bin(&f[2], 1, &p, &n, "b", err, sizeof(err)));
	assert_string_equal(err, "b: 2 bytes, at most 1 allowed");
	msgpack_zone_destroy(&zone);
}

static void id_reader_rejects_non_base36(void **state)
{
	(void)state;
	msgpack_zone zone;
	msgpack_zone_init(&zone, 256);
	msgpack_object o;
	char err[160];
	static const uint8_t in[] = {0xb9, 'L', 'd', 'p', 'j', '7', 'o', 'w', 'g', 'r', 'f', '1',
				     '2', 'i', 'r', 'f', 'x', 'g', '3', 'h', 'i', '9', 'i', '3',
				     'r', '3'};
	assert_true(mp_unpack_exact(&zone, in, sizeof(in), &o, "t", err, sizeof(err)));
	char id[IDS_LEN + 1];
	assert_false(mp_get_id(&o, id, "id", err, sizeof(err)));
	assert_string_equal(err, "id: not a base-36 id");
	msgpack_zone_destroy(&zone);
}

static void buf_writer_marks_overflow(void **state)
{
	(void)state;
	uint8_t out[4];
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, sizeof(out));
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint8(&pk, 200); /* cc c8: 3 bytes in all */
	assert_false(b.overflow);
	assert_int_equal(b.len, 3);
	msgpack_pack_uint16(&pk, 1000); /* cd 03 e8: does not fit */
	assert_true(b.overflow);
	assert_int_equal(b.len, 3);
	msgpack_pack_nil(&pk); /* would fit, but the buffer stays failed */
	assert_int_equal(b.len, 3);
	/* An empty bin with no body pointer: the writer gets (NULL, 0). */
	mp_buf_init(&b, &pk, out, sizeof(out));
	msgpack_pack_bin_with_body(&pk, NULL, 0);
	assert_false(b.overflow);
	assert_int_equal(b.len, 2);
	assert_int_equal(out[0], 0xc4);
	assert_int_equal(out[1], 0x00);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_accepts_every_type),
		cmocka_unit_test(check_rejects_container_bombs),
		cmocka_unit_test(check_rejects_truncation_and_junk),
		cmocka_unit_test(check_limits_depth),
		cmocka_unit_test(scan_reports_the_fault),
		cmocka_unit_test(check_agrees_with_msgpack_c),
		cmocka_unit_test(readers_check_type_and_bounds),
		cmocka_unit_test(id_reader_rejects_non_base36),
		cmocka_unit_test(buf_writer_marks_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
