/* Unit tests for raft_codec: round trips of every message and record, and one test per malformed field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include "swarmnode/raft_codec.h"

static struct raft_configuration conf3(void)
{
	struct raft_configuration c = { .n = 3 };
	c.members[0] = (struct raft_member){ .id = 1, .role = RAFT_VOTER, .node_id = "0000000000000000000000001" };
	c.members[1] = (struct raft_member){ .id = 2, .role = RAFT_VOTER, .node_id = "" };
	c.members[2] = (struct raft_member){ .id = 0xffffffffffffull, .role = RAFT_LEARNER,
					     .node_id = "zzzzzzzzzzzzzzzzzzzzzzzzz" };
	return c;
}

/* Encodes m, decodes it back into d (released by the caller). */
static void roundtrip(const struct raft_message *m, struct raft_msg_decoded *d, uint8_t *buf, size_t cap)
{
	size_t len;
	assert_true(raft_msg_encoded_max(m) <= cap);
	assert_int_equal(raft_msg_encode(m, buf, cap, &len), 0);
	assert_true(len <= raft_msg_encoded_max(m));
	char err[RAFT_CODEC_ERR_MAX] = "";
	int rc = raft_msg_decode(buf, len, d, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode: %s", err);
	assert_int_equal(d->msg.type, m->type);
	assert_int_equal(d->msg.term, m->term);
	assert_int_equal(d->msg.from, m->from);
	assert_int_equal(d->msg.to, m->to);
	/* Truncated at every length, it never decodes. */
	for (size_t k = 0; k < len; k++) {
		struct raft_msg_decoded x;
		assert_int_equal(raft_msg_decode(buf, k, &x, NULL, 0), RAFT_E_MALFORMED);
	}
}

static struct raft_message base(uint8_t type)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.term = 7;
	m.from = 3;
	m.to = 0x123456789ull;
	return m;
}

static void test_roundtrip_all_messages(void **state)
{
	(void)state;
	uint8_t buf[8192];
	struct raft_msg_decoded d;
	struct raft_configuration c = conf3();
	uint8_t cbuf[RAFT_CONF_ENCODED_MAX];
	size_t clen;
	assert_int_equal(raft_configuration_encode(&c, cbuf, sizeof(cbuf), &clen), 0);
	assert_true(clen <= RAFT_CONF_ENCODED_MAX);

	struct raft_entry es[3] = {
		{ .term = 5, .index = 11, .type = RAFT_ENTRY_NORMAL, .data = (const uint8_t *)"hello", .len = 5 },
		{ .term = 6, .index = 12, .type = RAFT_ENTRY_CONFIG, .data = cbuf, .len = clen },
		{ .term = 7, .index = 13, .type = RAFT_ENTRY_NOOP },
	};
	struct raft_message m = base(RAFT_MSG_APPEND);
	m.append = (struct raft_msg_append){ .prev_index = 10, .prev_term = 4, .commit = 9, .n_entries = 3,
					     .entries = es };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.append.prev_index, 10);
	assert_int_equal(d.msg.append.prev_term, 4);
	assert_int_equal(d.msg.append.commit, 9);
	assert_int_equal(d.msg.append.n_entries, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d.msg.append.entries[i].index, es[i].index);
		assert_int_equal(d.msg.append.entries[i].term, es[i].term);
		assert_int_equal(d.msg.append.entries[i].type, es[i].type);
		assert_int_equal(d.msg.append.entries[i].len, es[i].len);
		if (es[i].len > 0)
			assert_memory_equal(d.msg.append.entries[i].data, es[i].data, es[i].len);
	}
	raft_msg_decoded_release(&d);
	m.append.n_entries = 0;
	m.append.entries = NULL;
	m.append.prev_index = 0;
	m.append.prev_term = 0;
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.append.n_entries, 0);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_APPEND_RESP);
	m.append_resp = (struct raft_msg_append_resp){ .reject = true, .index = 100, .hint_index = 50, .hint_term = 3 };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_true(d.msg.append_resp.reject);
	assert_int_equal(d.msg.append_resp.index, 100);
	assert_int_equal(d.msg.append_resp.hint_index, 50);
	assert_int_equal(d.msg.append_resp.hint_term, 3);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_VOTE);
	m.vote = (struct raft_msg_vote){ .last_index = 99, .last_term = 6, .pre_vote = true, .transfer = true };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.vote.last_index, 99);
	assert_int_equal(d.msg.vote.last_term, 6);
	assert_true(d.msg.vote.pre_vote);
	assert_true(d.msg.vote.transfer);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_VOTE_RESP);
	m.vote_resp = (struct raft_msg_vote_resp){ .granted = true, .pre_vote = false };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_true(d.msg.vote_resp.granted);
	assert_false(d.msg.vote_resp.pre_vote);
	raft_msg_decoded_release(&d);

	struct raft_snapshot_meta meta = { .index = 500, .term = 7, .conf = c };
	uint8_t chunk[1000];
	memset(chunk, 0xab, sizeof(chunk));
	m = base(RAFT_MSG_SNAPSHOT);
	m.snapshot = (struct raft_msg_snapshot){ .meta = &meta, .total = 3000, .offset = 2000, .data = chunk,
						 .len = 1000, .done = true };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.snapshot.meta->index, 500);
	assert_int_equal(d.msg.snapshot.meta->term, 7);
	assert_memory_equal(&d.msg.snapshot.meta->conf, &c, sizeof(c));
	assert_int_equal(d.msg.snapshot.total, 3000);
	assert_int_equal(d.msg.snapshot.offset, 2000);
	assert_int_equal(d.msg.snapshot.len, 1000);
	assert_true(d.msg.snapshot.done);
	assert_memory_equal(d.msg.snapshot.data, chunk, 1000);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_SNAPSHOT_RESP);
	m.snapshot_resp = (struct raft_msg_snapshot_resp){ .index = 500, .offset = 1024, .done = false, .reject = true };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.snapshot_resp.index, 500);
	assert_int_equal(d.msg.snapshot_resp.offset, 1024);
	assert_false(d.msg.snapshot_resp.done);
	assert_true(d.msg.snapshot_resp.reject);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_HEARTBEAT);
	m.heartbeat = (struct raft_msg_heartbeat){ .commit = 77, .read_seq = 12 };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.heartbeat.commit, 77);
	assert_int_equal(d.msg.heartbeat.read_seq, 12);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_HEARTBEAT_RESP);
	m.heartbeat_resp.read_seq = UINT64_MAX;
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_true(d.msg.heartbeat_resp.read_seq == UINT64_MAX);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_TIMEOUT_NOW);
	roundtrip(&m, &d, buf, sizeof(buf));
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_READ_INDEX);
	m.read_index.req_id = 42;
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.read_index.req_id, 42);
	raft_msg_decoded_release(&d);

	m = base(RAFT_MSG_READ_INDEX_RESP);
	m.read_index_resp = (struct raft_msg_read_index_resp){ .req_id = 42, .index = 9, .reject = false };
	roundtrip(&m, &d, buf, sizeof(buf));
	assert_int_equal(d.msg.read_index_resp.req_id, 42);
	assert_int_equal(d.msg.read_index_resp.index, 9);
	raft_msg_decoded_release(&d);
}

static void test_encode_limits(void **state)
{
	(void)state;
	uint8_t buf[16];
	size_t len;
	struct raft_message m = base(RAFT_MSG_HEARTBEAT);
	assert_int_equal(raft_msg_encode(&m, buf, 8, &len), RAFT_E_TOO_BIG);
	m.type = 0;
	assert_int_equal(raft_msg_encode(&m, buf, sizeof(buf), &len), RAFT_E_INVALID);
	struct raft_configuration c = conf3();
	uint8_t cbuf[RAFT_CONF_ENCODED_MAX];
	c.members[1].id = 0;
	assert_int_equal(raft_configuration_encode(&c, cbuf, sizeof(cbuf), &len), RAFT_E_INVALID);
	c = conf3();
	c.members[0].role = 9;
	assert_int_equal(raft_configuration_encode(&c, cbuf, sizeof(cbuf), &len), RAFT_E_INVALID);
	c = conf3();
	memcpy(c.members[0].node_id, "UPPERCASE", 10);
	assert_int_equal(raft_configuration_encode(&c, cbuf, sizeof(cbuf), &len), RAFT_E_INVALID);
	c.n = RAFT_MAX_MEMBERS;
	for (uint32_t i = 0; i < c.n; i++)
		c.members[i] = (struct raft_member){ .id = i + 1, .role = RAFT_VOTER,
						     .node_id = "abcdefghijklmnopqrstuvwxy" };
	assert_int_equal(raft_configuration_encode(&c, cbuf, sizeof(cbuf), &len), 0);
	assert_true(len <= RAFT_CONF_ENCODED_MAX);
	c.n = RAFT_MAX_MEMBERS + 1;
	assert_int_equal(raft_configuration_encode(&c, cbuf, sizeof(cbuf), &len), RAFT_E_INVALID);
}

/* ---- malformed messages, built field by field ---------------------------------------- */

struct pk {
	msgpack_sbuffer sb;
	msgpack_packer p;
};

static void pk_init(struct pk *k)
{
	msgpack_sbuffer_init(&k->sb);
	msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
}

/* The header of a message with the given version, type, term, from, to. */
static void header(struct pk *k, uint64_t version, uint64_t type, uint64_t term, uint64_t from, uint64_t to)
{
	msgpack_pack_array(&k->p, 6);
	msgpack_pack_uint64(&k->p, version);
	msgpack_pack_uint64(&k->p, type);
	msgpack_pack_uint64(&k->p, term);
	msgpack_pack_uint64(&k->p, from);
	msgpack_pack_uint64(&k->p, to);
}

static void u64s(struct pk *k, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		msgpack_pack_uint64(&k->p, va_arg(ap, uint64_t));
	va_end(ap);
}

/* Decodes k's bytes, expects failure with `field` in the message. */
static void expect_bad(struct pk *k, const char *field)
{
	struct raft_msg_decoded d;
	char err[RAFT_CODEC_ERR_MAX] = "";
	int rc = raft_msg_decode((const uint8_t *)k->sb.data, k->sb.size, &d, err, sizeof(err));
	if (rc != RAFT_E_MALFORMED)
		fail_msg("expected failure naming %s, got %d", field, rc);
	if (strstr(err, field) == NULL)
		fail_msg("error \"%s\" does not name %s", err, field);
	msgpack_sbuffer_destroy(&k->sb);
}

static void pack_member(struct pk *k, uint64_t id, uint64_t role, const char *node_id)
{
	msgpack_pack_array(&k->p, 3);
	msgpack_pack_uint64(&k->p, id);
	msgpack_pack_uint64(&k->p, role);
	msgpack_pack_str(&k->p, strlen(node_id));
	msgpack_pack_str_body(&k->p, node_id, strlen(node_id));
}

static void test_malformed_header(void **state)
{
	(void)state;
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 0);
	expect_bad(&k, "message: expected an array");
	pk_init(&k);
	msgpack_pack_array(&k.p, 5);
	u64s(&k, 5, 1ull, 7ull, 1ull, 1ull, 2ull);
	expect_bad(&k, "message: expected 6 elements");
	pk_init(&k);
	header(&k, 2, 7, 1, 1, 2);
	msgpack_pack_array(&k.p, 2);
	u64s(&k, 2, 0ull, 0ull);
	expect_bad(&k, "version");
	pk_init(&k);
	header(&k, 1, 12, 1, 1, 2);
	msgpack_pack_array(&k.p, 0);
	expect_bad(&k, "type");
	pk_init(&k);
	header(&k, 1, 0, 1, 1, 2);
	msgpack_pack_array(&k.p, 0);
	expect_bad(&k, "type");
	pk_init(&k);
	header(&k, 1, 7, 0, 1, 2);
	msgpack_pack_array(&k.p, 2);
	u64s(&k, 2, 0ull, 0ull);
	expect_bad(&k, "term");
	pk_init(&k);
	header(&k, 1, 7, 1, 0, 2);
	msgpack_pack_array(&k.p, 2);
	u64s(&k, 2, 0ull, 0ull);
	expect_bad(&k, "from");
	pk_init(&k);
	header(&k, 1, 7, 1, 2, 0);
	msgpack_pack_array(&k.p, 2);
	u64s(&k, 2, 0ull, 0ull);
	expect_bad(&k, "to");
	pk_init(&k);
	header(&k, 1, 7, 1, 2, 2);
	msgpack_pack_array(&k.p, 2);
	u64s(&k, 2, 0ull, 0ull);
	expect_bad(&k, "to: 2 is the sender");
	/* Trailing bytes, and an array claiming more elements than bytes. */
	pk_init(&k);
	header(&k, 1, 9, 1, 1, 2);
	msgpack_pack_array(&k.p, 0);
	msgpack_pack_nil(&k.p);
	expect_bad(&k, "trailing");
	static const uint8_t huge[] = { 0x96, 0x01, 0x01, 0x01, 0x01, 0x02, 0xdd, 0xff, 0xff, 0xff, 0xff };
	struct raft_msg_decoded d;
	char err[RAFT_CODEC_ERR_MAX];
	assert_int_equal(raft_msg_decode(huge, sizeof(huge), &d, err, sizeof(err)), RAFT_E_MALFORMED);
	assert_non_null(strstr(err, "claims"));
	/* A body of the wrong shape. */
	pk_init(&k);
	header(&k, 1, 8, 1, 1, 2);
	msgpack_pack_uint64(&k.p, 5);
	expect_bad(&k, "heartbeat_resp: expected an array");
}

static void test_malformed_append(void **state)
{
	(void)state;
	struct pk k;
	/* prev_term above the message's term */
	pk_init(&k);
	header(&k, 1, 1, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 3ull, 6ull, 0ull);
	msgpack_pack_array(&k.p, 0);
	expect_bad(&k, "append.prev_term");
	/* prev_index 0 with a term */
	pk_init(&k);
	header(&k, 1, 1, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 0ull, 2ull, 0ull);
	msgpack_pack_array(&k.p, 0);
	expect_bad(&k, "append.prev_term");
	/* entries not an array */
	pk_init(&k);
	header(&k, 1, 1, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 4, 3ull, 2ull, 0ull, 1ull);
	expect_bad(&k, "append.entries: expected an array");
	/* entry term below prev_term, above the message's term, zero */
	static const uint64_t bad_terms[] = { 1, 6 };
	for (int i = 0; i < 2; i++) {
		pk_init(&k);
		header(&k, 1, 1, 5, 1, 2);
		msgpack_pack_array(&k.p, 4);
		u64s(&k, 3, 3ull, 2ull, 0ull);
		msgpack_pack_array(&k.p, 1);
		msgpack_pack_array(&k.p, 3);
		u64s(&k, 2, bad_terms[i], 1ull);
		msgpack_pack_bin(&k.p, 0);
		expect_bad(&k, "append.entries[0].term");
	}
	/* terms going down within the entries */
	pk_init(&k);
	header(&k, 1, 1, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 3ull, 2ull, 0ull);
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 2, 4ull, 1ull);
	msgpack_pack_bin(&k.p, 0);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 2, 3ull, 1ull);
	msgpack_pack_bin(&k.p, 0);
	expect_bad(&k, "append.entries[1].term");
	/* entry type */
	pk_init(&k);
	header(&k, 1, 1, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 3ull, 2ull, 0ull);
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 2, 3ull, 4ull);
	msgpack_pack_bin(&k.p, 0);
	expect_bad(&k, "append.entries[0].type");
	/* entry data a str instead of bin */
	pk_init(&k);
	header(&k, 1, 1, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 3ull, 2ull, 0ull);
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 2, 3ull, 1ull);
	msgpack_pack_str(&k.p, 1);
	msgpack_pack_str_body(&k.p, "x", 1);
	expect_bad(&k, "append.entries[0].data");
	/* a config entry whose data is not a configuration */
	pk_init(&k);
	header(&k, 1, 1, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 3ull, 2ull, 0ull);
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 2, 3ull, 2ull);
	msgpack_pack_bin(&k.p, 1);
	msgpack_pack_bin_body(&k.p, "\x05", 1);
	expect_bad(&k, "append.entries[0].data: conf");
}

static void test_malformed_bodies(void **state)
{
	(void)state;
	struct pk k;
	pk_init(&k);
	header(&k, 1, 2, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	msgpack_pack_uint64(&k.p, 1);
	u64s(&k, 3, 1ull, 1ull, 1ull);
	expect_bad(&k, "append_resp.reject");
	pk_init(&k);
	header(&k, 1, 2, 5, 1, 2);
	msgpack_pack_array(&k.p, 4);
	msgpack_pack_true(&k.p);
	u64s(&k, 3, 1ull, 1ull, 9ull);
	expect_bad(&k, "append_resp.hint_term");
	pk_init(&k);
	header(&k, 1, 3, 5, 1, 2);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 3, 1ull, 1ull, 4ull);
	expect_bad(&k, "vote.flags");
	pk_init(&k);
	header(&k, 1, 3, 5, 1, 2);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 3, 1ull, 6ull, 0ull);
	expect_bad(&k, "vote.last_term");
	pk_init(&k);
	header(&k, 1, 3, 5, 1, 2);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 3, 3ull, 0ull, 0ull);
	expect_bad(&k, "vote.last_term");
	pk_init(&k);
	header(&k, 1, 4, 5, 1, 2);
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_true(&k.p);
	msgpack_pack_nil(&k.p);
	expect_bad(&k, "vote_resp.pre_vote");
	pk_init(&k);
	header(&k, 1, 6, 5, 1, 2);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 3, 1ull, 1ull, 8ull);
	expect_bad(&k, "snapshot_resp.flags");
	pk_init(&k);
	header(&k, 1, 9, 5, 1, 2);
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_uint64(&k.p, 1);
	expect_bad(&k, "timeout_now: expected 0 elements");
	pk_init(&k);
	header(&k, 1, 10, 5, 1, 2);
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_int64(&k.p, -1);
	expect_bad(&k, "read_index.req_id");
	pk_init(&k);
	header(&k, 1, 11, 5, 1, 2);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 2, 1ull, 1ull);
	msgpack_pack_uint64(&k.p, 1);
	expect_bad(&k, "read_index_resp.reject");
	pk_init(&k);
	header(&k, 1, 7, 5, 1, 2);
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_double(&k.p, 1.5);
	expect_bad(&k, "heartbeat.read_seq");
}

/* A snapshot chunk with every field right except one. */
static void snapshot_msg(struct pk *k, int bad)
{
	pk_init(k);
	header(k, 1, 5, 5, 1, 2);
	msgpack_pack_array(&k->p, 7);
	msgpack_pack_uint64(&k->p, bad == 0 ? 0 : 10);     /* index */
	msgpack_pack_uint64(&k->p, bad == 1 ? 6 : 5);      /* term */
	msgpack_pack_array(&k->p, 2);                       /* conf */
	pack_member(k, bad == 2 ? 0 : 1, 1, "");
	pack_member(k, bad == 3 ? 1 : 2, bad == 4 ? 3 : 2, bad == 5 ? "short" : "");
	msgpack_pack_uint64(&k->p, 10);                     /* total */
	msgpack_pack_uint64(&k->p, bad == 6 ? 11 : 4);      /* offset */
	size_t n = bad == 7 ? 7 : 6;
	msgpack_pack_bin(&k->p, n);
	msgpack_pack_bin_body(&k->p, "abcdefg", n);
	if (bad == 8)
		msgpack_pack_false(&k->p);
	else
		msgpack_pack_true(&k->p);
}

static void test_malformed_snapshot(void **state)
{
	(void)state;
	static const char *const fields[] = {
		"snapshot.index", "snapshot.term", "snapshot.conf[0].id", "snapshot.conf[1].id: 1 repeats",
		"snapshot.conf[1].role", "snapshot.conf[1].node_id", "snapshot.offset", "snapshot.data",
		"snapshot.done",
	};
	struct pk k;
	snapshot_msg(&k, -1);
	struct raft_msg_decoded d;
	char err[RAFT_CODEC_ERR_MAX] = "";
	int rc = raft_msg_decode((const uint8_t *)k.sb.data, k.sb.size, &d, err, sizeof(err));
	if (rc != 0)
		fail_msg("the good snapshot chunk does not decode: %s", err);
	assert_int_equal(d.msg.snapshot.meta->conf.n, 2);
	msgpack_sbuffer_destroy(&k.sb);
	for (int bad = 0; bad < 9; bad++) {
		snapshot_msg(&k, bad);
		expect_bad(&k, fields[bad]);
	}
}

/* ---- records -------------------------------------------------------------------------- */

static void test_records(void **state)
{
	(void)state;
	uint8_t buf[4096];
	size_t len;
	char err[RAFT_CODEC_ERR_MAX] = "";
	struct raft_entry e = { .index = 5, .term = 3, .type = RAFT_ENTRY_NORMAL,
				.data = (const uint8_t *)"abc", .len = 3 };
	assert_true(raft_entry_encoded_size(&e) >= 3);
	assert_int_equal(raft_entry_encode(&e, buf, sizeof(buf), &len), 0);
	assert_true(len <= raft_entry_encoded_size(&e));
	struct raft_entry e2;
	assert_int_equal(raft_entry_decode(buf, len, &e2, err, sizeof(err)), 0);
	assert_int_equal(e2.index, 5);
	assert_int_equal(e2.term, 3);
	assert_int_equal(e2.len, 3);
	assert_memory_equal(e2.data, "abc", 3);
	assert_int_equal(raft_entry_encode(&e, buf, 4, &len), RAFT_E_TOO_BIG);
	e.type = 0;
	assert_int_equal(raft_entry_encode(&e, buf, sizeof(buf), &len), RAFT_E_INVALID);

	struct raft_hard_state hs = { .term = 9, .vote = 4 }, hs2;
	assert_int_equal(raft_hard_state_encode(&hs, buf, sizeof(buf), &len), 0);
	assert_true(len <= RAFT_HARD_STATE_ENCODED_MAX);
	assert_int_equal(raft_hard_state_decode(buf, len, &hs2, err, sizeof(err)), 0);
	assert_int_equal(hs2.term, 9);
	assert_int_equal(hs2.vote, 4);

	struct raft_snapshot_meta m = { .index = 100, .term = 4, .conf = conf3() }, m2;
	assert_int_equal(raft_snapshot_meta_encode(&m, buf, sizeof(buf), &len), 0);
	assert_true(len <= RAFT_SNAPSHOT_META_ENCODED_MAX);
	assert_int_equal(raft_snapshot_meta_decode(buf, len, &m2, err, sizeof(err)), 0);
	assert_memory_equal(&m, &m2, sizeof(m));

	struct pk k;
	pk_init(&k);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 0ull, 1ull, 1ull);
	msgpack_pack_bin(&k.p, 0);
	assert_int_equal(raft_entry_decode((uint8_t *)k.sb.data, k.sb.size, &e2, err, sizeof(err)),
			 RAFT_E_MALFORMED);
	assert_non_null(strstr(err, "entry.index"));
	msgpack_sbuffer_destroy(&k.sb);
	pk_init(&k);
	msgpack_pack_array(&k.p, 4);
	u64s(&k, 3, 1ull, 1ull, 2ull);
	msgpack_pack_bin(&k.p, 1);
	msgpack_pack_bin_body(&k.p, "\x01", 1);
	assert_int_equal(raft_entry_decode((uint8_t *)k.sb.data, k.sb.size, &e2, err, sizeof(err)),
			 RAFT_E_MALFORMED);
	assert_non_null(strstr(err, "entry.data"));
	msgpack_sbuffer_destroy(&k.sb);
	pk_init(&k);
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_str(&k.p, 0);
	assert_int_equal(raft_hard_state_decode((uint8_t *)k.sb.data, k.sb.size, &hs2, err, sizeof(err)),
			 RAFT_E_MALFORMED);
	assert_non_null(strstr(err, "hard_state.vote"));
	msgpack_sbuffer_destroy(&k.sb);
	pk_init(&k);
	msgpack_pack_array(&k.p, 3);
	u64s(&k, 2, 5ull, 0ull);
	msgpack_pack_array(&k.p, 0);
	assert_int_equal(raft_snapshot_meta_decode((uint8_t *)k.sb.data, k.sb.size, &m2, err, sizeof(err)),
			 RAFT_E_MALFORMED);
	assert_non_null(strstr(err, "snapshot_meta.term"));
	msgpack_sbuffer_destroy(&k.sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all_messages),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_malformed_append),
		cmocka_unit_test(test_malformed_bodies),
		cmocka_unit_test(test_malformed_snapshot),
		cmocka_unit_test(test_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
