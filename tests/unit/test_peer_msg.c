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

static void test_unknown_kind_and_longer_arrays(void **state)
{
	(void)state;
	struct peer_msg m;
	char err[128];
	/* [3, "raft"]: well formed, a kind this version leaves to others. */
	assert_int_equal(peer_msg_decode((const uint8_t *)"\x92\x03\xa4raft", 7, &m, err, sizeof(err)), -ENOTSUP);
	assert_int_equal(m.kind, 3);
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
		cmocka_unit_test(test_unknown_kind_and_longer_arrays),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
