/* Unit tests for peer_msg: the peer stream envelope and heartbeats. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/peer_msg.h"

static void test_heartbeat_round_trip(void **state)
{
	(void)state;
	uint8_t buf[PEER_MSG_HEARTBEAT_MAX];
	size_t len;
	struct peer_msg m;
	char err[128];
	assert_int_equal(peer_msg_heartbeat_encode(PEER_MSG_HEARTBEAT, 7, UINT64_MAX, buf, sizeof(buf), &len), 0);
	assert_int_equal(peer_msg_decode(buf, len, &m, err, sizeof(err)), 0);
	assert_int_equal(m.kind, PEER_MSG_HEARTBEAT);
	assert_int_equal(m.seq, 7);
	assert_true(m.stamp == UINT64_MAX);
	assert_int_equal(peer_msg_heartbeat_encode(PEER_MSG_HEARTBEAT_ACK, 0, 12345, buf, sizeof(buf), &len), 0);
	assert_int_equal(peer_msg_decode(buf, len, &m, err, sizeof(err)), 0);
	assert_int_equal(m.kind, PEER_MSG_HEARTBEAT_ACK);
	assert_int_equal(m.stamp, 12345);
	assert_int_equal(peer_msg_heartbeat_encode(PEER_MSG_HEARTBEAT, 1, 2, buf, 3, &len), -EMSGSIZE);
}

static void test_envelope_round_trip(void **state)
{
	(void)state;
	static const uint64_t kinds[] = {PEER_MSG_RAFT, PEER_MSG_KEYRING, 127, 128, 65536, UINT64_MAX};
	static const size_t sizes[] = {0, 1, 255, 256, 65535, 65536, 70000};
	static uint8_t body[70000], buf[70000 + PEER_MSG_ENVELOPE_OVERHEAD];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 3);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t len;
			struct peer_msg m;
			char err[128] = "";
			assert_int_equal(peer_msg_encode(kinds[k], body, sizes[s], buf, sizeof(buf), &len), 0);
			assert_true(len <= sizes[s] + PEER_MSG_ENVELOPE_OVERHEAD);
			if (peer_msg_decode(buf, len, &m, err, sizeof(err)) != 0)
				fail_msg("kind %llu, %zu bytes: %s", (unsigned long long)kinds[k], sizes[s], err);
			assert_true(m.kind == kinds[k]);
			assert_int_equal(m.body_len, sizes[s]);
			if (sizes[s] > 0) {
				assert_ptr_equal(m.body, buf + len - sizes[s]);
				assert_memory_equal(m.body, body, sizes[s]);
			}
			/* One byte short of room: refused, never truncated. */
			assert_int_equal(peer_msg_encode(kinds[k], body, sizes[s], buf, len - 1, &len), -EMSGSIZE);
		}
	}
}

static void test_header_in_place(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t head, len;
	struct peer_msg m;
	char err[128];
	assert_int_equal(peer_msg_header_encode(PEER_MSG_RAFT, 5, buf, sizeof(buf), &head), 0);
	memcpy(buf + head, "hello", 5);
	assert_int_equal(peer_msg_decode(buf, head + 5, &m, err, sizeof(err)), 0);
	assert_int_equal(m.kind, PEER_MSG_RAFT);
	assert_memory_equal(m.body, "hello", 5);
	/* The same bytes as peer_msg_encode. */
	uint8_t whole[64];
	assert_int_equal(peer_msg_encode(PEER_MSG_RAFT, (const uint8_t *)"hello", 5, whole, sizeof(whole), &len), 0);
	assert_int_equal(len, head + 5);
	assert_memory_equal(whole, buf, len);
	/* Heartbeat kinds are not envelopes. */
	assert_int_equal(peer_msg_header_encode(PEER_MSG_HEARTBEAT, 0, buf, sizeof(buf), &head), -EINVAL);
	assert_int_equal(peer_msg_header_encode(PEER_MSG_HEARTBEAT_ACK, 0, buf, sizeof(buf), &head), -EINVAL);
	assert_int_equal(peer_msg_header_encode(0, 0, buf, sizeof(buf), &head), -EINVAL);
	assert_int_equal(peer_msg_header_encode(PEER_MSG_RAFT, 1, buf, 2, &head), -EMSGSIZE);
}

static void test_unknown_kind_and_longer_arrays(void **state)
{
	(void)state;
	struct peer_msg m;
	char err[128];
	/* [9, bin "raft"]: a kind this version leaves to others, body intact. */
	assert_int_equal(peer_msg_decode((const uint8_t *)"\x92\x09\xc4\x04raft", 8, &m, err, sizeof(err)), 0);
	assert_int_equal(m.kind, 9);
	assert_int_equal(m.body_len, 4);
	assert_memory_equal(m.body, "raft", 4);
	/* An envelope with a field appended by a newer version. */
	assert_int_equal(peer_msg_decode((const uint8_t *)"\x93\x03\xc4\x01x\x07", 6, &m, err, sizeof(err)), 0);
	assert_int_equal(m.body_len, 1);
	/* A heartbeat with a field appended by a newer version. */
	assert_int_equal(peer_msg_decode((const uint8_t *)"\x94\x01\x05\x06\xc0", 5, &m, err, sizeof(err)), 0);
	assert_int_equal(m.seq, 5);
	assert_int_equal(m.stamp, 6);
}

static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t n;
		const char *needle;
	} cases[] = {
		{"", 0, "peer message"},
		{"\xc1", 1, "peer message"},
		{"\x90", 1, "peer message"},
		{"\x91\x00", 2, "peer message kind"},
		{"\x91\xa1x", 3, "peer message kind"},
		{"\x92\x01\x05", 3, "heartbeat: 2 elements"},
		{"\x93\x01\xa1x\x05", 5, "heartbeat seq"},
		{"\x93\x02\x05\xcb\x00\x00\x00\x00\x00\x00\x00\x00", 12, "heartbeat stamp"},
		{"\xdd\xff\xff\xff\xff", 5, "peer message"},
		{"\x93\x01\x05\x06\x07", 5, "peer message"}, /* trailing byte */
		{"\x91\x03", 2, "kind 3: 1 element"},
		{"\x92\x03\xa4raft", 7, "peer message body: expected binary, got string"},
		{"\x92\x05\xc0", 3, "peer message body: expected binary, got nil"},
		{"\x92\x03\x90", 3, "peer message body: expected binary, got array"},
		{"\x92\x03\xc4\x05raft", 8, "peer message"}, /* bin runs past the end */
		{"\x92\xd0\xfd\xc4\x00", 5, "peer message kind"}, /* negative kind */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peer_msg m;
		char err[128] = "";
		assert_int_equal(peer_msg_decode((const uint8_t *)cases[i].bytes, cases[i].n, &m, err, sizeof(err)),
				 -EBADMSG);
		if (strstr(err, cases[i].needle) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].needle);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heartbeat_round_trip),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_header_in_place),
		cmocka_unit_test(test_unknown_kind_and_longer_arrays),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
