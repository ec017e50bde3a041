/* Unit tests for wal_record: CRC32C, record round trips, every kind of damage, and segment image scans. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/wal_record.h"

static struct raft_entry entry(uint64_t index, uint64_t term, const char *data)
{
	return (struct raft_entry){ .index = index, .term = term, .type = RAFT_ENTRY_NORMAL,
				    .data = (const uint8_t *)data, .len = strlen(data) };
}

/* A segment image of n entries (index 1..n, data of growing length). */
static size_t build_image(uint8_t *img, size_t cap, size_t n, size_t *offsets)
{
	static const char text[] = "the quick brown fox jumps over the lazy dog, twice over";
	size_t off = 0, used;
	for (size_t i = 0; i < n; i++) {
		char data[64];
		memcpy(data, text, 8 + i);
		data[8 + i] = '\0';
		struct raft_entry e = entry(i + 1, 1 + i / 2, data);
		if (offsets != NULL)
			offsets[i] = off;
		assert_int_equal(wal_record_put_entry(&e, img + off, cap - off, &used), 0);
		off += used;
	}
	return off;
}

static void test_crc32c(void **state)
{
	/* The check value of CRC-32C (RFC 3720, iSCSI). */
	assert_int_equal(wal_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(wal_crc32c(0, "", 0), 0);
	/* Incremental equals one shot. */
	assert_int_equal(wal_crc32c(wal_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
	uint8_t zeros[32] = { 0 };
	assert_int_equal(wal_crc32c(0, zeros, 32), 0x8a9136aau);
}

static void test_entry_roundtrip(void **state)
{
	uint8_t buf[256];
	size_t used, used2;
	struct raft_entry in = entry(42, 7, "hello"), out;
	assert_int_equal(wal_record_put_entry(&in, buf, sizeof(buf), &used), 0);
	assert_true(used <= wal_record_entry_max(&in));
	struct wal_record rec;
	char err[160] = "";
	assert_int_equal(wal_record_decode(buf, used, &rec, &used2, err, sizeof(err)), 0);
	assert_int_equal(used2, used);
	assert_int_equal(rec.type, WAL_REC_ENTRY);
	assert_int_equal(wal_record_entry(&rec, &out, err, sizeof(err)), 0);
	assert_int_equal(out.index, 42);
	assert_int_equal(out.term, 7);
	assert_int_equal(out.type, RAFT_ENTRY_NORMAL);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "hello", 5);
	/* An empty entry, a no-op. */
	struct raft_entry noop = { .index = 1, .term = 1, .type = RAFT_ENTRY_NOOP };
	assert_int_equal(wal_record_put_entry(&noop, buf, sizeof(buf), &used), 0);
	assert_int_equal(wal_record_decode(buf, used, &rec, &used2, err, sizeof(err)), 0);
	assert_int_equal(wal_record_entry(&rec, &out, err, sizeof(err)), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(out.type, RAFT_ENTRY_NOOP);
	/* Refused on encode: a bad type, a buffer too small. */
	struct raft_entry bad = in;
	bad.type = 9;
	assert_int_equal(wal_record_put_entry(&bad, buf, sizeof(buf), &used), -EINVAL);
	assert_int_equal(wal_record_put_entry(&in, buf, 10, &used), -ENOBUFS);
	assert_int_equal(wal_record_put_entry(&in, buf, 20, &used), -ENOBUFS);
}

static void test_partial_record(void **state)
{
	uint8_t buf[256];
	size_t used, used2;
	struct raft_entry in = entry(1, 1, "partial");
	assert_int_equal(wal_record_put_entry(&in, buf, sizeof(buf), &used), 0);
	struct wal_record rec;
	char err[160];
	for (size_t k = 0; k < used; k++) {
		err[0] = '\0';
		assert_int_equal(wal_record_decode(buf, k, &rec, &used2, err, sizeof(err)), -ENODATA);
		assert_true(strlen(err) > 0);
	}
}

/* Decodes buf and expects -EBADMSG with what in the message. */
static void expect_bad(const uint8_t *buf, size_t len, const char *what)
{
	struct wal_record rec;
	size_t used;
	char err[160] = "";
	assert_int_equal(wal_record_decode(buf, len, &rec, &used, err, sizeof(err)), -EBADMSG);
	if (strstr(err, what) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", what, err);
}

static void test_every_damage(void **state)
{
	uint8_t good[256], buf[256];
	size_t used;
	struct raft_entry in = entry(3, 2, "damage me");
	assert_int_equal(wal_record_put_entry(&in, good, sizeof(good), &used), 0);
	memcpy(buf, good, used);
	buf[0] = 'X';
	expect_bad(buf, used, "bad magic");
	memcpy(buf, good, used);
	buf[1] = 'X';
	expect_bad(buf, used, "bad magic");
	memcpy(buf, good, used);
	buf[2] = 0;
	expect_bad(buf, used, "unknown record type 0");
	buf[2] = 5;
	expect_bad(buf, used, "unknown record type 5");
	memcpy(buf, good, used);
	buf[3] = 1;
	expect_bad(buf, used, "flags 0x01");
	memcpy(buf, good, used);
	buf[7] = 0xff;
	expect_bad(buf, used, "above the maximum");
	memcpy(buf, good, used);
	buf[8] ^= 1;
	expect_bad(buf, used, "CRC mismatch");
	/* Every single bit flipped anywhere is caught: as damage, or as a record
	 * longer than the bytes present. */
	for (size_t i = 0; i < used; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, good, used);
			buf[i] ^= (uint8_t)(1u << bit);
			struct wal_record rec;
			size_t u;
			int rc = wal_record_decode(buf, used, &rec, &u, NULL, 0);
			if (rc != -EBADMSG && rc != -ENODATA)
				fail_msg("byte %zu bit %d: rc %d", i, bit, rc);
		}
	}
	/* A valid record whose payload is not an entry. */
	struct raft_hard_state hs = { 3, 1 };
	assert_int_equal(wal_record_put_hard_state(&hs, buf, sizeof(buf), &used), 0);
	struct wal_record rec;
	struct raft_entry e;
	size_t u;
	char err[160] = "";
	assert_int_equal(wal_record_decode(buf, used, &rec, &u, err, sizeof(err)), 0);
	assert_int_equal(wal_record_entry(&rec, &e, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "record type 2"));
	/* An entry record whose msgpack is wrong, with a correct CRC. */
	buf[WAL_RECORD_HEADER] = 0x93; /* array(3) where array(4) belongs */
	wal_record_seal(buf, WAL_REC_ENTRY, used - WAL_RECORD_HEADER);
	assert_int_equal(wal_record_decode(buf, used, &rec, &u, err, sizeof(err)), 0);
	assert_int_equal(wal_record_entry(&rec, &e, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "entry:"));
}

static void test_hard_state_image(void **state)
{
	uint8_t buf[64];
	size_t used;
	struct raft_hard_state in = { .term = 0x123456789ull, .vote = 77 }, out;
	char err[160] = "";
	assert_int_equal(wal_record_put_hard_state(&in, buf, sizeof(buf), &used), 0);
	assert_int_equal(wal_hard_state_image_decode(buf, used, &out, err, sizeof(err)), 0);
	assert_int_equal(out.term, in.term);
	assert_int_equal(out.vote, in.vote);
	for (size_t k = 0; k < used; k++)
		assert_int_equal(wal_hard_state_image_decode(buf, k, &out, err, sizeof(err)), -ENODATA);
	buf[used] = 0;
	assert_int_equal(wal_hard_state_image_decode(buf, used + 1, &out, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "unexpected bytes"));
	buf[used - 1] ^= 0x40;
	assert_int_equal(wal_hard_state_image_decode(buf, used, &out, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "CRC mismatch"));
	struct raft_entry e = entry(1, 1, "x");
	assert_int_equal(wal_record_put_entry(&e, buf, sizeof(buf), &used), 0);
	assert_int_equal(wal_hard_state_image_decode(buf, used, &out, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "where the hard state was expected"));
}

static void test_snapshot_image(void **state)
{
	struct raft_snapshot_meta meta = { .index = 100, .term = 4, .conf = { .n = 2 } }, out;
	meta.conf.members[0] = (struct raft_member){ .id = 1, .role = RAFT_VOTER };
	meta.conf.members[1] = (struct raft_member){ .id = 9, .role = RAFT_LEARNER };
	uint8_t data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	uint8_t *img;
	size_t len, dlen;
	const uint8_t *d;
	char err[160] = "";
	assert_int_equal(wal_snapshot_image(&meta, data, sizeof(data), &img, &len), 0);
	assert_int_equal(wal_snapshot_image_decode(img, len, &out, &d, &dlen, err, sizeof(err)), 0);
	assert_int_equal(out.index, 100);
	assert_int_equal(out.term, 4);
	assert_int_equal(out.conf.n, 2);
	assert_int_equal(out.conf.members[1].id, 9);
	assert_int_equal(dlen, sizeof(data));
	assert_memory_equal(d, data, sizeof(data));
	/* Cut anywhere: never accepted. */
	for (size_t k = 0; k < len; k++)
		assert_true(wal_snapshot_image_decode(img, k, &out, &d, &dlen, err, sizeof(err)) < 0);
	/* A flipped byte anywhere: never accepted. */
	for (size_t i = 0; i < len; i++) {
		img[i] ^= 0x10;
		assert_true(wal_snapshot_image_decode(img, len, &out, &d, &dlen, err, sizeof(err)) < 0);
		img[i] ^= 0x10;
	}
	free(img);
	/* Index 0 is not a snapshot. */
	meta.index = 0;
	meta.term = 0;
	assert_int_equal(wal_snapshot_image(&meta, data, 1, &img, &len), 0);
	assert_int_equal(wal_snapshot_image_decode(img, len, &out, &d, &dlen, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "both must be >= 1"));
	free(img);
	/* A configuration that does not encode. */
	meta.index = 1;
	meta.term = 1;
	meta.conf.members[0].id = 0;
	assert_int_equal(wal_snapshot_image(&meta, data, 1, &img, &len), -EINVAL);
}

static void test_scan_clean_and_zeros(void **state)
{
	uint8_t img[4096] = { 0 };
	size_t offs[10];
	size_t len = build_image(img, sizeof(img), 10, offs);
	struct wal_scan scan;
	char err[160];
	assert_int_equal(wal_scan_image(img, len, NULL, NULL, &scan, err, sizeof(err)), 0);
	assert_int_equal(scan.tail, WAL_TAIL_CLEAN);
	assert_int_equal(scan.end, len);
	assert_int_equal(scan.n_records, 10);
	assert_int_equal(wal_scan_image(img, len + 1000, NULL, NULL, &scan, err, sizeof(err)), 0);
	assert_int_equal(scan.tail, WAL_TAIL_ZEROS);
	assert_int_equal(scan.end, len);
	assert_int_equal(wal_scan_image(img, 0, NULL, NULL, &scan, err, sizeof(err)), 0);
	assert_int_equal(scan.tail, WAL_TAIL_CLEAN);
	assert_int_equal(scan.n_records, 0);
	assert_string_equal(wal_tail_str(WAL_TAIL_ZEROS), "zeros");
	assert_string_equal(wal_tail_str(9), "unknown");
}

static void test_scan_torn_last_record(void **state)
{
	uint8_t img[4096] = { 0 };
	size_t offs[10];
	size_t len = build_image(img, sizeof(img), 10, offs);
	struct wal_scan scan;
	char err[160];
	/* Cut inside the last record at every byte: 9 records and a torn tail. */
	for (size_t k = offs[9] + 1; k < len; k++) {
		assert_int_equal(wal_scan_image(img, k, NULL, NULL, &scan, err, sizeof(err)), 0);
		assert_int_equal(scan.tail, WAL_TAIL_TORN);
		assert_int_equal(scan.end, offs[9]);
		assert_int_equal(scan.bad_offset, offs[9]);
		assert_int_equal(scan.n_records, 9);
	}
	/* The last record's bytes damaged one at a time. */
	for (size_t i = offs[9]; i < len; i++) {
		img[i] ^= 0x5a;
		assert_int_equal(wal_scan_image(img, len, NULL, NULL, &scan, err, sizeof(err)), 0);
		assert_int_equal(scan.tail, WAL_TAIL_TORN);
		assert_int_equal(scan.end, offs[9]);
		img[i] ^= 0x5a;
	}
}

static void test_scan_corrupt_middle(void **state)
{
	uint8_t img[4096] = { 0 };
	size_t offs[10];
	size_t len = build_image(img, sizeof(img), 10, offs);
	struct wal_scan scan;
	char err[160];
	/* Damage in record 4, whole records after it: corruption, never cut. */
	for (size_t i = offs[4]; i < offs[5]; i++) {
		img[i] ^= 0xa5;
		assert_int_equal(wal_scan_image(img, len, NULL, NULL, &scan, err, sizeof(err)), 0);
		assert_int_equal(scan.tail, WAL_TAIL_CORRUPT);
		assert_int_equal(scan.bad_offset, offs[4]);
		assert_int_equal(scan.n_records, 4);
		assert_true(strlen(scan.why) > 0);
		img[i] ^= 0xa5;
	}
}

static void test_scan_zeroed_sector(void **state)
{
	/* An unsynced batch whose middle page never reached the disk: the
	 * damage holds a zero sector, so the rest is taken for a torn tail. */
	static uint8_t img[8192];
	size_t offs[40];
	memset(img, 0, sizeof(img));
	size_t len = build_image(img, sizeof(img), 40, offs);
	assert_true(len > 2 * WAL_SECTOR + 200);
	size_t i = 0;
	while (offs[i] < WAL_SECTOR)
		i++;
	memset(img + WAL_SECTOR, 0, WAL_SECTOR);
	struct wal_scan scan;
	char err[160];
	assert_int_equal(wal_scan_image(img, len, NULL, NULL, &scan, err, sizeof(err)), 0);
	assert_int_equal(scan.tail, WAL_TAIL_TORN);
	assert_int_equal(scan.end, offs[i - 1]);
	assert_true(scan.dropped_valid > 0);
	/* The same length of non-zero junk: corruption. */
	len = build_image(img, sizeof(img), 40, offs);
	memset(img + WAL_SECTOR, 0x33, WAL_SECTOR);
	assert_int_equal(wal_scan_image(img, len, NULL, NULL, &scan, err, sizeof(err)), 0);
	assert_int_equal(scan.tail, WAL_TAIL_CORRUPT);
}

/* Stops at the record at offset *(size_t *)data. */
static int refuse_at(void *data, const struct wal_record *rec, size_t offset, char *err, size_t errlen)
{
	if (offset == *(size_t *)data) {
		snprintf(err, errlen, "not wanted");
		return -EBADMSG;
	}
	return 0;
}

static void test_scan_visitor_error(void **state)
{
	uint8_t img[4096] = { 0 };
	size_t offs[10];
	size_t len = build_image(img, sizeof(img), 10, offs);
	struct wal_scan scan;
	char err[160] = "";
	assert_int_equal(wal_scan_image(img, len, refuse_at, &offs[6], &scan, err, sizeof(err)), -EBADMSG);
	assert_int_equal(scan.bad_offset, offs[6]);
	assert_int_equal(scan.n_records, 6);
	assert_string_equal(err, "not wanted");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_entry_roundtrip),
		cmocka_unit_test(test_partial_record),
		cmocka_unit_test(test_every_damage),
		cmocka_unit_test(test_hard_state_image),
		cmocka_unit_test(test_snapshot_image),
		cmocka_unit_test(test_scan_clean_and_zeros),
		cmocka_unit_test(test_scan_torn_last_record),
		cmocka_unit_test(test_scan_corrupt_middle),
		cmocka_unit_test(test_scan_zeroed_sector),
		cmocka_unit_test(test_scan_visitor_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
