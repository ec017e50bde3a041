/* Unit tests for manager_msg: forwarded writes, their results, join requests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/manager_msg.h"

static size_t encode(const struct manager_msg *m, uint8_t **out)
{
	size_t cap = manager_msg_encoded_max(m), len = 0;
	*out = malloc(cap);
	assert_non_null(*out);
	assert_int_equal(manager_msg_encode(m, *out, cap, &len), 0);
	assert_true(len <= cap);
	return len;
}

static void test_forward_round_trip(void **state)
{
	(void)state;
	static const uint8_t txn[] = "{\"ops\":[]}";
	struct manager_msg in = { .type = MANAGER_MSG_FORWARD, .req = UINT64_MAX, .txn = txn, .txn_len = sizeof(txn) };
	struct manager_msg out;
	char err[160];
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	assert_int_equal(manager_msg_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.type, MANAGER_MSG_FORWARD);
	assert_true(out.req == UINT64_MAX);
	assert_int_equal(out.txn_len, sizeof(txn));
	/* A view of the input, valid as long as it is. */
	assert_true(out.txn >= buf && out.txn + out.txn_len <= buf + len);
	assert_memory_equal(out.txn, txn, sizeof(txn));
	free(buf);
}

static void test_result_round_trip(void **state)
{
	(void)state;
	struct manager_msg in = { .type = MANAGER_MSG_RESULT, .req = 9, .status = -ETIMEDOUT, .index = 1234 };
	snprintf(in.message, sizeof(in.message), "update out of sequence");
	struct manager_msg out;
	char err[160];
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	assert_int_equal(manager_msg_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.status, -ETIMEDOUT);
	assert_int_equal(out.index, 1234);
	assert_string_equal(out.message, "update out of sequence");
	free(buf);
	in.status = 0;
	len = encode(&in, &buf);
	assert_int_equal(manager_msg_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.status, 0);
	free(buf);
}

static void test_join_round_trip(void **state)
{
	(void)state;
	struct manager_msg in = { .type = MANAGER_MSG_JOIN, .raft_id = 0x1234567890abcdefULL };
	struct manager_msg out;
	char err[160];
	uint8_t *buf;
	size_t len = encode(&in, &buf);
	assert_int_equal(manager_msg_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.type, MANAGER_MSG_JOIN);
	assert_true(out.raft_id == 0x1234567890abcdefULL);
	free(buf);
}

static void test_role_and_removed_round_trip(void **state)
{
	(void)state;
	struct manager_msg promote = { .type = MANAGER_MSG_ROLE, .role = 1, .has_secrets = true };
	struct manager_msg demote = { .type = MANAGER_MSG_ROLE, .role = 0 };
	struct manager_msg removed = { .type = MANAGER_MSG_REMOVED };
	struct manager_msg out;
	char err[160];
	uint8_t *buf;
	for (size_t i = 0; i < MANAGER_MSG_SECRETS_LEN; i++)
		promote.secrets[i] = (uint8_t)(i * 13 + 1);
	size_t len = encode(&promote, &buf);
	assert_int_equal(manager_msg_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.role, 1);
	assert_true(out.has_secrets);
	assert_memory_equal(out.secrets, promote.secrets, MANAGER_MSG_SECRETS_LEN);
	free(buf);
	len = encode(&demote, &buf);
	assert_int_equal(manager_msg_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.role, 0);
	assert_false(out.has_secrets);
	free(buf);
	len = encode(&removed, &buf);
	assert_int_equal(manager_msg_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.type, MANAGER_MSG_REMOVED);
	free(buf);
}

static void test_encode_refuses(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t len;
	struct manager_msg join0 = { .type = MANAGER_MSG_JOIN };
	struct manager_msg empty = { .type = MANAGER_MSG_FORWARD, .txn = buf, .txn_len = 0 };
	struct manager_msg unknown = { .type = 9 };
	struct manager_msg big = { .type = MANAGER_MSG_FORWARD, .txn = buf, .txn_len = 60 };
	assert_int_equal(manager_msg_encode(&join0, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(manager_msg_encode(&empty, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(manager_msg_encode(&unknown, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(manager_msg_encode(&big, buf, 20, &len), -EMSGSIZE);
	struct manager_msg role2 = { .type = MANAGER_MSG_ROLE, .role = 2 };
	struct manager_msg bare_manager = { .type = MANAGER_MSG_ROLE, .role = 1 };
	assert_int_equal(manager_msg_encode(&role2, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(manager_msg_encode(&bare_manager, buf, sizeof(buf), &len), -EINVAL);
}

/* Each malformed body is refused with the field named. */
static void test_decode_refuses(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		const char *why;
	} cases[] = {
		{ "", "truncated" },
		{ "c0", "manager message" },
		{ "91 01", "manager message" },
		{ "92 07 01", "manager message type" },
		{ "93 04 02 c4 00", "role" },
		{ "93 04 01 c4 00", "role secrets: expected 64 bytes" },
		{ "93 04 00 c4 01 00", "role secrets: expected 0 bytes" },
		{ "92 04 00", "at least 3" },
		{ "92 01 01", "at least 3" },
		{ "93 01 01 a1 78", "forward txn" },
		{ "93 01 01 c4 00", "forward txn" },
		{ "95 02 01 05 01 a0", "result status" },
		{ "95 02 01 d1 80 00 01 a0", "result status" },
		{ "95 02 01 00 01 c4 00", "result message" },
		{ "92 03 00", "join raft id" },
		{ "92 03 a1 31", "join raft id" },
		{ "93 03 01", "manager message" }, /* 3 elements announced, 2 present */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[32];
		size_t n = 0;
		for (const char *p = cases[i].hex; *p;) {
			if (*p == ' ') {
				p++;
				continue;
			}
			unsigned v;
			sscanf(p, "%2x", &v);
			buf[n++] = (uint8_t)v;
			p += 2;
		}
		struct manager_msg m;
		char err[160] = "";
		assert_int_equal(manager_msg_decode(buf, n, &m, err, sizeof(err)), -EBADMSG);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu (%s): error \"%s\" does not mention \"%s\"", i, cases[i].hex, err,
				 cases[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_round_trip),
		cmocka_unit_test(test_result_round_trip),
		cmocka_unit_test(test_join_round_trip),
		cmocka_unit_test(test_role_and_removed_round_trip),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
