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

/* A real serialised ring of two keys, the second primary. */
static size_t sample_ring(uint8_t *out, size_t cap)
{
	uint8_t a[KEYRING_KEY_LEN], b[KEYRING_KEY_LEN];
	size_t len = 0;
	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	struct keyring *kr = keyring_new();
	assert_non_null(kr);
	assert_int_equal(keyring_install(kr, a), 0);
	assert_int_equal(keyring_install(kr, b), 0);
	assert_int_equal(keyring_use(kr, b), 0);
	assert_int_equal(keyring_serialize(kr, out, cap, &len), 0);
	keyring_free(kr);
	return len;
}

/* Decodes a whole peer message down to its keyring body. */
static int decode_keyring(const uint8_t *msg, size_t len, struct peer_keyring_msg *k, char *err, size_t errlen)
{
	struct peer_msg m;
	int rc = peer_msg_decode(msg, len, &m, err, errlen);
	if (rc != 0)
		return rc;
	assert_int_equal(m.kind, PEER_MSG_KEYRING);
	return peer_msg_keyring_decode(m.body, m.body_len, k, err, errlen);
}

static void test_keyring_ring_round_trip(void **state)
{
	(void)state;
	uint8_t ring[KEYRING_SERIALIZED_MAX], msg[PEER_KEYRING_MSG_MAX];
	size_t ring_len = sample_ring(ring, sizeof(ring)), len;
	struct peer_keyring_msg k;
	char err[160] = "";
	static const uint64_t gens[] = {1, 255, 65536, UINT64_MAX};
	for (int step = PEER_KEYRING_INSTALL; step <= PEER_KEYRING_SYNC; step++) {
		for (size_t g = 0; g < sizeof(gens) / sizeof(gens[0]); g++) {
			assert_int_equal(peer_msg_keyring_ring_encode((enum peer_keyring_step)step, gens[g], ring,
								      ring_len, msg, sizeof(msg), &len), 0);
			if (decode_keyring(msg, len, &k, err, sizeof(err)) != 0)
				fail_msg("step %d generation %llu: %s", step, (unsigned long long)gens[g], err);
			assert_int_equal(k.op, PEER_KEYRING_RING);
			assert_int_equal(k.step, step);
			assert_true(k.generation == gens[g]);
			assert_int_equal(k.ring_len, ring_len);
			assert_memory_equal(k.ring, ring, ring_len);
		}
	}
	/* The largest ring fits the bound. */
	static uint8_t big[KEYRING_SERIALIZED_MAX];
	memset(big, 0xee, sizeof(big));
	assert_int_equal(peer_msg_keyring_ring_encode(PEER_KEYRING_SYNC, UINT64_MAX, big, sizeof(big), msg,
						      sizeof(msg), &len), 0);
	assert_int_equal(decode_keyring(msg, len, &k, err, sizeof(err)), 0);
	assert_int_equal(peer_msg_keyring_ring_encode(PEER_KEYRING_SYNC, UINT64_MAX, big, sizeof(big), msg, len - 1,
						      &len), -EMSGSIZE);
	/* What the encoder refuses to write. */
	assert_int_equal(peer_msg_keyring_ring_encode(PEER_KEYRING_USE, 0, ring, ring_len, msg, sizeof(msg), &len),
			 -EINVAL);
	assert_int_equal(peer_msg_keyring_ring_encode((enum peer_keyring_step)0, 1, ring, ring_len, msg, sizeof(msg),
						      &len), -EINVAL);
	assert_int_equal(peer_msg_keyring_ring_encode((enum peer_keyring_step)5, 1, ring, ring_len, msg, sizeof(msg),
						      &len), -EINVAL);
	assert_int_equal(peer_msg_keyring_ring_encode(PEER_KEYRING_USE, 1, ring, 0, msg, sizeof(msg), &len), -EINVAL);
	assert_int_equal(peer_msg_keyring_ring_encode(PEER_KEYRING_USE, 1, big, sizeof(big) + 1, msg, sizeof(msg),
						      &len), -EINVAL);
}

static void test_keyring_ack_round_trip(void **state)
{
	(void)state;
	uint8_t ring[KEYRING_SERIALIZED_MAX], msg[PEER_KEYRING_MSG_MAX], digest[PEER_KEYRING_DIGEST_LEN];
	size_t ring_len = sample_ring(ring, sizeof(ring)), len;
	struct peer_keyring_msg k;
	char err[160] = "";
	peer_msg_keyring_digest(ring, ring_len, digest);
	for (uint64_t g = 0; g < 3; g++) {
		assert_int_equal(peer_msg_keyring_ack_encode(g * 1000, digest, msg, sizeof(msg), &len), 0);
		assert_int_equal(decode_keyring(msg, len, &k, err, sizeof(err)), 0);
		assert_int_equal(k.op, PEER_KEYRING_ACK);
		assert_int_equal(k.generation, g * 1000);
		assert_memory_equal(k.digest, digest, sizeof(digest));
		assert_null(k.ring);
	}
	assert_int_equal(peer_msg_keyring_ack_encode(1, digest, msg, 8, &len), -EMSGSIZE);
	/* The digest names the ring: one changed byte changes it. */
	uint8_t other[PEER_KEYRING_DIGEST_LEN];
	ring[ring_len - 1] ^= 1;
	peer_msg_keyring_digest(ring, ring_len, other);
	assert_memory_not_equal(digest, other, sizeof(digest));
}

static void test_keyring_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t n;
		const char *needle;
	} cases[] = {
		{"", 0, "keyring message"},
		{"\x01", 1, "keyring message: expected an array"},
		{"\x90", 1, "keyring message"},
		{"\x91\x00", 2, "keyring message op"},
		{"\x91\x03", 2, "keyring message op"},
		{"\x91\xa1r", 3, "keyring message op"},
		{"\x93\x01\x01\x01", 4, "keyring ring: 3 elements"},
		{"\x94\x01\x00\x01\xc4\x01x", 7, "keyring ring step"},
		{"\x94\x01\x05\x01\xc4\x01x", 7, "keyring ring step"},
		{"\x94\x01\xa1i\x01\xc4\x01x", 8, "keyring ring step"},
		{"\x94\x01\x01\x00\xc4\x01x", 7, "keyring ring generation"},
		{"\x94\x01\x01\xff\xc4\x01x", 7, "keyring ring generation"}, /* negative */
		{"\x94\x01\x01\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xc4\x01x", 15, "keyring ring generation"},
		{"\x94\x01\x01\x01\xa1x", 6, "keyring ring keys: expected binary, got string"},
		{"\x94\x01\x01\x01\xc4\x00", 6, "keyring ring keys: empty"},
		{"\x94\x01\x01\x01\xc5\x01\x20", 7, "keyring message"}, /* bin runs past the end */
		{"\x92\x02\x01", 3, "keyring ack: 2 elements"},
		{"\x93\x02\xa1g\xc4\x10" "0123456789abcdef", 22, "keyring ack generation"},
		{"\x93\x02\x01\xc4\x0f" "0123456789abcde", 20, "keyring ack digest: expected 16 bytes, got 15"},
		{"\x93\x02\x01\xc4\x11" "0123456789abcdefg", 22, "keyring ack digest: expected 16 bytes, got 17"},
		{"\x93\x02\x01\xc0", 4, "keyring ack digest: expected binary, got nil"},
		{"\x93\x02\x01\xc4\x10" "0123456789abcdef\x00", 22, "keyring message"}, /* trailing byte */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peer_keyring_msg k;
		char err[160] = "";
		assert_int_equal(peer_msg_keyring_decode((const uint8_t *)cases[i].bytes, cases[i].n, &k, err,
							 sizeof(err)), -EBADMSG);
		if (strstr(err, cases[i].needle) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].needle);
		assert_null(k.ring);
	}
	/* A newer version may append fields to both. */
	struct peer_keyring_msg k;
	char err[160] = "";
	assert_int_equal(peer_msg_keyring_decode((const uint8_t *)"\x95\x01\x04\x07\xc4\x01x\xc0", 8, &k, err,
						 sizeof(err)), 0);
	assert_int_equal(k.generation, 7);
	assert_int_equal(k.step, PEER_KEYRING_SYNC);
}

static void test_keyring_judge(void **state)
{
	(void)state;
	uint8_t low[PEER_KEYRING_DIGEST_LEN], high[PEER_KEYRING_DIGEST_LEN];
	memset(low, 0x10, sizeof(low));
	memset(high, 0x10, sizeof(high));
	high[15] = 0x11;
	/* Only managers send rings, whatever the generation. */
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_WORKER, 0, low, 1, high), PEER_KEYRING_REFUSED);
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_WORKER, 5, low, UINT64_MAX, high), PEER_KEYRING_REFUSED);
	assert_int_equal(peer_msg_keyring_judge((enum identity_role)7, 0, low, 1, high), PEER_KEYRING_REFUSED);
	/* Newer generations are adopted, older and equal ones are not. */
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, 0, low, 1, low), PEER_KEYRING_ADOPT);
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, 5, high, 6, low), PEER_KEYRING_ADOPT);
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, 5, low, 4, high), PEER_KEYRING_STALE);
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, 5, low, 5, low), PEER_KEYRING_STALE);
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, UINT64_MAX, low, 1, high), PEER_KEYRING_STALE);
	/* Two rings of one generation: the greater digest wins on every node. */
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, 5, low, 5, high), PEER_KEYRING_ADOPT);
	assert_int_equal(peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, 5, high, 5, low), PEER_KEYRING_STALE);
}

static void test_keyring_step_names(void **state)
{
	(void)state;
	assert_string_equal(peer_keyring_step_name(PEER_KEYRING_INSTALL), "install");
	assert_string_equal(peer_keyring_step_name(PEER_KEYRING_USE), "use");
	assert_string_equal(peer_keyring_step_name(PEER_KEYRING_REMOVE), "remove");
	assert_string_equal(peer_keyring_step_name(PEER_KEYRING_SYNC), "sync");
	assert_string_equal(peer_keyring_step_name(0), "unknown");
	assert_string_equal(peer_keyring_step_name(99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heartbeat_round_trip),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_header_in_place),
		cmocka_unit_test(test_unknown_kind_and_longer_arrays),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_keyring_ring_round_trip),
		cmocka_unit_test(test_keyring_ack_round_trip),
		cmocka_unit_test(test_keyring_malformed),
		cmocka_unit_test(test_keyring_judge),
		cmocka_unit_test(test_keyring_step_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
