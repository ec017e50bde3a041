/* Unit tests for swim_proto: round trips of every message and one test per malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include "swarmnode/swim_proto.h"

static const char ID_A[] = "ldpj7owgrf12irfxg3hi9i3r3";
static const char ID_B[] = "b0000000000000000000000001";

static struct swim_addr v4(const char *s)
{
	struct swim_addr a;
	assert_int_equal(swim_addr_parse(s, &a), 0);
	return a;
}

/* Encodes the given messages as one packet with a generous budget. */
static void encode(const struct swim_msg *msgs, size_t n, uint8_t **out, size_t *len)
{
	struct swim_pw w;
	assert_int_equal(swim_pw_init(&w, ID_A, 65536), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(swim_pw_add(&w, &msgs[i]), 0);
	assert_int_equal(swim_pw_finish(&w, out, len), 0);
}

static int decode(const uint8_t *buf, size_t len, struct swim_packet *p, char *err)
{
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	return swim_proto_decode_packet(buf, len, &lim, p, err);
}

/* --- a tiny msgpack writer for hand-made (malformed) inputs ------------------ */

struct mk {
	msgpack_sbuffer sb; /* bytes written so far */
	msgpack_packer pk;  /* packer into sb */
};

static void mk_init(struct mk *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mk_str(struct mk *m, const char *s)
{
	msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

/* Packet header for n messages, as a valid sender would write it. */
static void mk_header(struct mk *m, size_t n)
{
	msgpack_pack_array(&m->pk, 3);
	msgpack_pack_uint8(&m->pk, 1);
	mk_str(m, ID_A);
	msgpack_pack_array(&m->pk, n);
}

static void mk_addr4(struct mk *m, uint64_t family, size_t iplen, uint64_t port)
{
	static const uint8_t ip[16] = {10, 0, 0, 1};
	msgpack_pack_array(&m->pk, 3);
	msgpack_pack_uint64(&m->pk, family);
	msgpack_pack_bin_with_body(&m->pk, ip, iplen);
	msgpack_pack_uint64(&m->pk, port);
}

/* Starts an alive message: [5, id, inc, ...] with `fields` elements. */
static void mk_alive_prefix(struct mk *m, const char *id)
{
	msgpack_pack_array(&m->pk, 5);
	msgpack_pack_uint8(&m->pk, SWIM_MSG_ALIVE);
	mk_str(m, id);
	msgpack_pack_uint64(&m->pk, 7);
}

/* Decodes m's bytes, expects rc, and that err contains want; frees m. */
static void expect_bad(struct mk *m, int rc, const char *want)
{
	struct swim_packet p;
	char err[SWIM_PROTO_ERR_MAX] = "";
	int got = decode((const uint8_t *)m->sb.data, m->sb.size, &p, err);
	if (got != rc || strstr(err, want) == NULL)
		fail_msg("rc %d (want %d), err \"%s\" (want \"%s\")", got, rc, err, want);
	assert_int_equal(p.n_msgs, 0);
	msgpack_sbuffer_destroy(&m->sb);
}

/* --- round trips ------------------------------------------------------------ */

static void roundtrip_every_message(void **state)
{
	(void)state;
	static const uint8_t meta[] = {1, 2, 3, 0, 255};
	struct swim_msg in[8];
	memset(in, 0, sizeof(in));
	in[0] = (struct swim_msg){.type = SWIM_MSG_PING, .seq = 42};
	strcpy(in[0].id, ID_B);
	in[1] = (struct swim_msg){.type = SWIM_MSG_ACK, .seq = UINT32_MAX};
	in[2] = (struct swim_msg){.type = SWIM_MSG_PING_REQ, .seq = 7, .addr = v4("10.1.2.3:7946")};
	strcpy(in[2].id, ID_B);
	in[3] = (struct swim_msg){.type = SWIM_MSG_NACK, .seq = 0};
	in[4] = (struct swim_msg){.type = SWIM_MSG_ALIVE, .incarnation = UINT64_MAX,
				  .addr = v4("[fe80::1:2]:65535"), .meta = meta, .meta_len = sizeof(meta)};
	strcpy(in[4].id, ID_A);
	in[5] = (struct swim_msg){.type = SWIM_MSG_SUSPECT, .incarnation = 3};
	strcpy(in[5].id, ID_B);
	strcpy(in[5].from, ID_A);
	in[6] = (struct swim_msg){.type = SWIM_MSG_DEAD, .incarnation = 4};
	strcpy(in[6].id, "x");
	strcpy(in[6].from, "y");
	in[7] = (struct swim_msg){.type = SWIM_MSG_LEFT, .incarnation = 5};
	strcpy(in[7].id, ID_B);

	uint8_t *buf;
	size_t len;
	encode(in, 8, &buf, &len);
	struct swim_packet p;
	char err[SWIM_PROTO_ERR_MAX] = "";
	assert_int_equal(decode(buf, len, &p, err), 0);
	assert_string_equal(p.sender, ID_A);
	assert_int_equal(p.n_msgs, 8);
	for (size_t i = 0; i < 8; i++) {
		const struct swim_msg *a = &in[i], *b = &p.msgs[i];
		assert_int_equal(a->type, b->type);
		assert_int_equal(a->seq, b->seq);
		assert_true(a->incarnation == b->incarnation);
		assert_string_equal(a->id, b->id);
		assert_string_equal(a->from, b->from);
		if (a->addr.family != 0)
			assert_true(swim_addr_equal(&a->addr, &b->addr));
		assert_int_equal(a->meta_len, b->meta_len);
		if (a->meta_len)
			assert_memory_equal(a->meta, b->meta, a->meta_len);
	}
	/* meta points into the decoded buffer, not into a copy */
	assert_true(p.msgs[4].meta > buf && p.msgs[4].meta < buf + len);
	free(buf);
}

static void msg_size_is_exact(void **state)
{
	(void)state;
	static const uint8_t meta[300];
	const uint64_t values[] = {0, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
				   UINT64_MAX};
	const char *ids[] = {"a", "1234567890123456789012345678901", "12345678901234567890123456789012",
			     "ldpj7owgrf12irfxg3hi9i3r3"};
	const size_t metas[] = {0, 1, 255, 256, 300};
	for (uint8_t type = SWIM_MSG_PING; type <= SWIM_MSG_LEFT; type++) {
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			for (size_t i = 0; i < 4; i++) {
				struct swim_msg m = {.type = type, .seq = (uint32_t)values[v], .incarnation = values[v],
						     .addr = v4(i % 2 ? "10.0.0.1:1" : "[::1]:65535"),
						     .meta = meta, .meta_len = metas[(v + i) % 5]};
				strcpy(m.id, ids[i]);
				strcpy(m.from, ids[3 - i]);
				struct swim_pw w;
				assert_int_equal(swim_pw_init(&w, "s", 4096), 0);
				size_t before = swim_pw_size(&w);
				assert_int_equal(swim_pw_add(&w, &m), 0);
				assert_int_equal(swim_pw_size(&w) - before, swim_proto_msg_size(&m));
				swim_pw_close(&w);
			}
		}
	}
	struct swim_msg bad = {.type = 42};
	assert_int_equal(swim_proto_msg_size(&bad), 0);
	assert_int_equal(swim_proto_update_size(SWIM_MSG_PING, 3, 1, NULL, 0, 0), 0);
}

static void roundtrip_alive_without_meta(void **state)
{
	(void)state;
	struct swim_msg m = {.type = SWIM_MSG_ALIVE, .incarnation = 1, .addr = v4("127.0.0.1:1")};
	strcpy(m.id, ID_A);
	uint8_t *buf;
	size_t len;
	encode(&m, 1, &buf, &len);
	struct swim_packet p;
	assert_int_equal(decode(buf, len, &p, NULL), 0);
	assert_int_equal(p.msgs[0].meta_len, 0);
	assert_null(p.msgs[0].meta);
	assert_int_equal(p.msgs[0].addr.port, 1);
	free(buf);
}

static void roundtrip_pushpull(void **state)
{
	(void)state;
	static const uint8_t meta[300] = {9};
	struct swim_ppw w;
	assert_int_equal(swim_ppw_init(&w, ID_A, SWIM_PP_RESPONSE | SWIM_PP_JOIN, 1 << 20), 0);
	for (int i = 0; i < 20; i++) {
		struct swim_pp_member m = {.incarnation = (uint64_t)i * 1000003u, .state = (uint8_t)(i % 4),
					   .addr = v4(i % 2 ? "10.0.0.1:7946" : "[::1]:7946"),
					   .meta = meta, .meta_len = (size_t)i * 15};
		snprintf(m.id, sizeof(m.id), "node-%02d", i);
		assert_int_equal(swim_ppw_add(&w, &m), 0);
	}
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_ppw_finish(&w, &buf, &len), 0);

	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	struct swim_pushpull pp;
	char err[SWIM_PROTO_ERR_MAX] = "";
	assert_int_equal(swim_proto_decode_pushpull(buf, len, &lim, &pp, err), 0);
	assert_string_equal(pp.sender, ID_A);
	assert_int_equal(pp.flags, SWIM_PP_RESPONSE | SWIM_PP_JOIN);
	assert_int_equal(pp.n_members, 20);
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "node-%02d", i);
		assert_string_equal(pp.members[i].id, id);
		assert_true(pp.members[i].incarnation == (uint64_t)i * 1000003u);
		assert_int_equal(pp.members[i].state, i % 4);
		assert_int_equal(pp.members[i].addr.family, i % 2 ? SWIM_AF_INET4 : SWIM_AF_INET6);
		assert_int_equal(pp.members[i].meta_len, (size_t)i * 15);
	}
	swim_proto_pushpull_free(&pp);

	/* A push-pull message is not a packet. */
	struct swim_packet p;
	assert_int_equal(decode(buf, len, &p, err), -EBADMSG);
	free(buf);
}

static void roundtrip_digest_pushpull(void **state)
{
	(void)state;
	struct swim_ppw w;
	assert_int_equal(swim_ppw_init(&w, ID_A, SWIM_PP_DIGEST | SWIM_PP_RESPONSE, 4096), -EINVAL);
	assert_int_equal(swim_ppw_init(&w, ID_A, SWIM_PP_DIGEST | SWIM_PP_JOIN, 4096), -EINVAL);
	assert_int_equal(swim_ppw_init(&w, ID_A, SWIM_PP_DIGEST, 4096), 0);
	for (int i = 0; i < 10; i++) {
		/* no address: a digest does not carry one */
		struct swim_pp_member m = {.incarnation = (uint64_t)i + 7, .state = (uint8_t)(i % 4)};
		snprintf(m.id, sizeof(m.id), "node-%02d", i);
		assert_int_equal(swim_ppw_add(&w, &m), 0);
	}
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_ppw_finish(&w, &buf, &len), 0);
	/* header, then id (8), incarnation (1), state (1) and the array byte */
	assert_int_equal(len, 1 + 1 + 1 + strlen(ID_A) + 1 + 1 + 10 * 11);

	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	struct swim_pushpull pp;
	char err[SWIM_PROTO_ERR_MAX] = "";
	assert_int_equal(swim_proto_decode_pushpull(buf, len, &lim, &pp, err), 0);
	assert_int_equal(pp.flags, SWIM_PP_DIGEST);
	assert_int_equal(pp.n_members, 10);
	for (int i = 0; i < 10; i++) {
		assert_true(pp.members[i].incarnation == (uint64_t)i + 7);
		assert_int_equal(pp.members[i].state, i % 4);
		assert_int_equal(pp.members[i].addr.family, 0);
		assert_int_equal(pp.members[i].meta_len, 0);
	}
	swim_proto_pushpull_free(&pp);
	free(buf);
}

static void roundtrip_empty_pushpull(void **state)
{
	(void)state;
	struct swim_ppw w;
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_ppw_init(&w, ID_A, 0, 4096), 0);
	assert_int_equal(swim_ppw_finish(&w, &buf, &len), 0);
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	struct swim_pushpull pp;
	assert_int_equal(swim_proto_decode_pushpull(buf, len, &lim, &pp, NULL), 0);
	assert_int_equal(pp.n_members, 0);
	assert_null(pp.members);
	swim_proto_pushpull_free(&pp);
	free(buf);
}

static void addr_parse_and_format(void **state)
{
	(void)state;
	char buf[SWIM_ADDR_STRLEN];
	struct swim_addr a;
	assert_int_equal(swim_addr_parse("192.168.1.20:7946", &a), 0);
	assert_string_equal(swim_addr_format(&a, buf, sizeof(buf)), "192.168.1.20:7946");
	assert_int_equal(swim_addr_parse("[2001:db8::7]:2377", &a), 0);
	assert_string_equal(swim_addr_format(&a, buf, sizeof(buf)), "[2001:db8::7]:2377");
	assert_int_equal(swim_addr_parse("1.2.3.4", &a), -EINVAL);
	assert_int_equal(swim_addr_parse("1.2.3.4:0", &a), -EINVAL);
	assert_int_equal(swim_addr_parse("1.2.3.4:65536", &a), -EINVAL);
	assert_int_equal(swim_addr_parse("1.2.3.4:x", &a), -EINVAL);
	assert_int_equal(swim_addr_parse("::1:80", &a), -EINVAL);
	assert_int_equal(swim_addr_parse("[::1]80", &a), -EINVAL);
	assert_int_equal(swim_addr_parse("host:80", &a), -EINVAL);
}

/* --- encoder bounds --------------------------------------------------------- */

static void encoder_respects_budget(void **state)
{
	(void)state;
	static const uint8_t meta[100];
	for (size_t budget = 40; budget <= 1400; budget += 37) {
		struct swim_pw w;
		if (swim_pw_init(&w, ID_A, budget) != 0)
			continue;
		size_t added = 0;
		for (int i = 0; i < 200; i++) {
			struct swim_msg m = {.type = SWIM_MSG_ALIVE, .incarnation = (uint64_t)i,
					     .addr = v4("10.0.0.1:7946"), .meta = meta, .meta_len = (size_t)(i % 3) * 40};
			snprintf(m.id, sizeof(m.id), "member-%d", i);
			int rc = swim_pw_add(&w, &m);
			assert_true(rc == 0 || rc == -ENOSPC);
			added += rc == 0;
			assert_true(swim_pw_size(&w) <= budget);
		}
		size_t want = swim_pw_size(&w);
		uint8_t *buf;
		size_t len;
		int rc = swim_pw_finish(&w, &buf, &len);
		if (added == 0) {
			assert_int_equal(rc, -ENODATA);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(len, want);
		assert_true(len <= budget);
		struct swim_packet p;
		assert_int_equal(decode(buf, len, &p, NULL), 0);
		assert_int_equal(p.n_msgs, added);
		free(buf);
	}
}

static void encoder_skips_big_then_fits_small(void **state)
{
	(void)state;
	static const uint8_t meta[400];
	struct swim_pw w;
	assert_int_equal(swim_pw_init(&w, ID_A, 300), 0);
	struct swim_msg big = {.type = SWIM_MSG_ALIVE, .incarnation = 1, .addr = v4("10.0.0.1:7946"),
			       .meta = meta, .meta_len = sizeof(meta)};
	strcpy(big.id, ID_B);
	size_t before = swim_pw_size(&w);
	assert_int_equal(swim_pw_add(&w, &big), -ENOSPC);
	assert_int_equal(swim_pw_size(&w), before);
	struct swim_msg ack = {.type = SWIM_MSG_ACK, .seq = 9};
	assert_int_equal(swim_pw_add(&w, &ack), 0);
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_pw_finish(&w, &buf, &len), 0);
	struct swim_packet p;
	assert_int_equal(decode(buf, len, &p, NULL), 0);
	assert_int_equal(p.n_msgs, 1);
	assert_int_equal(p.msgs[0].seq, 9);
	free(buf);
}

static void encoder_caps_message_count(void **state)
{
	(void)state;
	struct swim_pw w;
	assert_int_equal(swim_pw_init(&w, ID_A, 1 << 16), 0);
	struct swim_msg ack = {.type = SWIM_MSG_ACK};
	for (int i = 0; i < SWIM_PROTO_MAX_MSGS; i++)
		assert_int_equal(swim_pw_add(&w, &ack), 0);
	assert_int_equal(swim_pw_add(&w, &ack), -ENOSPC);
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_pw_finish(&w, &buf, &len), 0);
	struct swim_packet p;
	assert_int_equal(decode(buf, len, &p, NULL), 0);
	assert_int_equal(p.n_msgs, SWIM_PROTO_MAX_MSGS);
	free(buf);
}

static void encoder_rejects_bad_input(void **state)
{
	(void)state;
	struct swim_pw w;
	char long_id[SWIM_ID_MAX + 2];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[SWIM_ID_MAX + 1] = '\0';
	assert_int_equal(swim_pw_init(&w, long_id, 1400), -EINVAL);
	assert_int_equal(swim_pw_init(&w, "", 1400), -EINVAL);
	assert_int_equal(swim_pw_init(&w, "has space", 1400), -EINVAL);
	assert_int_equal(swim_pw_init(&w, ID_A, 20), -EMSGSIZE);

	assert_int_equal(swim_pw_init(&w, ID_A, 1400), 0);
	struct swim_msg m = {.type = 0};
	assert_int_equal(swim_pw_add(&w, &m), -EINVAL);
	m = (struct swim_msg){.type = SWIM_MSG_ALIVE, .incarnation = 1}; /* no address */
	strcpy(m.id, ID_B);
	assert_int_equal(swim_pw_add(&w, &m), -EINVAL);
	m.addr = v4("10.0.0.1:7946");
	m.meta_len = 3; /* meta NULL */
	assert_int_equal(swim_pw_add(&w, &m), -EINVAL);
	m = (struct swim_msg){.type = SWIM_MSG_SUSPECT, .incarnation = 1};
	strcpy(m.id, ID_B); /* from missing */
	assert_int_equal(swim_pw_add(&w, &m), -EINVAL);
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_pw_finish(&w, &buf, &len), -ENODATA);

	struct swim_ppw pw;
	assert_int_equal(swim_ppw_init(&pw, ID_A, 0x80, 4096), -EINVAL);
	assert_int_equal(swim_ppw_init(&pw, ID_A, 0, 100), 0);
	struct swim_pp_member pm = {.state = 4, .addr = v4("10.0.0.1:7946")};
	strcpy(pm.id, ID_B);
	assert_int_equal(swim_ppw_add(&pw, &pm), -EINVAL);
	pm.state = SWIM_ALIVE;
	static const uint8_t meta[200];
	pm.meta = meta;
	pm.meta_len = sizeof(meta);
	assert_int_equal(swim_ppw_add(&pw, &pm), -EMSGSIZE);
	pm.meta_len = 0;
	assert_int_equal(swim_ppw_add(&pw, &pm), 0);
	swim_ppw_close(&pw);
}

/* --- malformed packets: one test per case ------------------------------------ */

static void bad_empty_input(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	expect_bad(&m, -EBADMSG, "packet: truncated at byte 0");
}

static void bad_truncated_everywhere(void **state)
{
	(void)state;
	static const uint8_t meta[20] = {1};
	struct swim_msg in[2] = {{.type = SWIM_MSG_ALIVE, .incarnation = 300,
				  .addr = v4("10.0.0.9:7946"), .meta = meta, .meta_len = sizeof(meta)},
				 {.type = SWIM_MSG_PING, .seq = 70000}};
	strcpy(in[0].id, ID_B);
	strcpy(in[1].id, ID_B);
	uint8_t *buf;
	size_t len;
	encode(in, 2, &buf, &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* a heap copy of exactly cut bytes so ASan sees any overread */
		uint8_t *part = malloc(cut ? cut : 1);
		memcpy(part, buf, cut);
		struct swim_packet p;
		char err[SWIM_PROTO_ERR_MAX] = "";
		assert_int_equal(decode(part, cut, &p, err), -EBADMSG);
		assert_non_null(strstr(err, "truncated"));
		free(part);
	}
	free(buf);
}

static void bad_root_not_array(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_map(&m.pk, 1);
	mk_str(&m, "a");
	mk_str(&m, "b");
	expect_bad(&m, -EBADMSG, "packet: expected array, got map");
}

static void bad_version(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, 2);
	mk_str(&m, ID_A);
	msgpack_pack_array(&m.pk, 0);
	expect_bad(&m, -EPROTONOSUPPORT, "packet.version: 2 is not supported");
}

static void bad_version_type(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 3);
	mk_str(&m, "1");
	mk_str(&m, ID_A);
	msgpack_pack_array(&m.pk, 0);
	expect_bad(&m, -EBADMSG, "packet.version: expected uint, got str");
}

static void bad_header_arity(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, ID_A);
	expect_bad(&m, -EBADMSG, "packet: 2 elements, expected 3");
}

static void bad_sender_type(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_bin_with_body(&m.pk, "abc", 3);
	msgpack_pack_array(&m.pk, 0);
	expect_bad(&m, -EBADMSG, "sender: expected str, got bin");
}

static void bad_oversize_sender(void **state)
{
	(void)state;
	char id[SWIM_ID_MAX + 2];
	memset(id, 'a', SWIM_ID_MAX + 1);
	id[SWIM_ID_MAX + 1] = '\0';
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, id);
	msgpack_pack_array(&m.pk, 0);
	expect_bad(&m, -EBADMSG, "sender: id of 65 bytes exceeds 64");
}

static void bad_empty_sender(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, "");
	msgpack_pack_array(&m.pk, 0);
	expect_bad(&m, -EBADMSG, "sender: empty id");
}

static void bad_sender_bytes(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_str_with_body(&m.pk, "a\nb", 3);
	msgpack_pack_array(&m.pk, 0);
	expect_bad(&m, -EBADMSG, "sender: id has a byte outside printable ASCII");
}

static void bad_no_messages(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 0);
	expect_bad(&m, -EBADMSG, "msgs: 0 messages, expected 1..64");
}

static void bad_too_many_messages(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, SWIM_PROTO_MAX_MSGS + 1);
	for (int i = 0; i <= SWIM_PROTO_MAX_MSGS; i++) {
		msgpack_pack_array(&m.pk, 2);
		msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
		msgpack_pack_uint8(&m.pk, 1);
	}
	expect_bad(&m, -EBADMSG, "msgs: 65 messages");
}

static void bad_msgs_not_array(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, ID_A);
	msgpack_pack_nil(&m.pk);
	expect_bad(&m, -EBADMSG, "msgs: expected array, got nil");
}

static void bad_message_not_array(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
	expect_bad(&m, -EBADMSG, "msgs[0]: expected array, got uint");
}

static void bad_empty_message(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 0);
	expect_bad(&m, -EBADMSG, "msgs[0]: empty message");
}

static void bad_unknown_type(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, 9);
	msgpack_pack_uint8(&m.pk, 1);
	expect_bad(&m, -EBADMSG, "msgs[0].type: unknown message type 9");
}

static void bad_message_arity(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 2);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_array(&m.pk, 3); /* an ack with an extra element */
	msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 1);
	expect_bad(&m, -EBADMSG, "msgs[1]: 3 elements, expected 2");
}

static void bad_seq_too_big(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_NACK);
	msgpack_pack_uint64(&m.pk, (uint64_t)UINT32_MAX + 1);
	expect_bad(&m, -EBADMSG, "msgs[0].seq: 4294967296 exceeds 4294967295");
}

static void bad_seq_negative(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
	msgpack_pack_int8(&m.pk, -1);
	expect_bad(&m, -EBADMSG, "msgs[0].seq: expected uint, got negative int");
}

static void bad_oversize_target(void **state)
{
	(void)state;
	char id[SWIM_ID_MAX + 2];
	memset(id, 'z', SWIM_ID_MAX + 1);
	id[SWIM_ID_MAX + 1] = '\0';
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_PING);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, id);
	expect_bad(&m, -EBADMSG, "msgs[0].target: id of 65 bytes exceeds 64");
}

static void bad_oversize_metadata(void **state)
{
	(void)state;
	static const uint8_t meta[SWIM_META_DEFAULT_MAX + 1];
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	mk_alive_prefix(&m, ID_B);
	mk_addr4(&m, 4, 4, 7946);
	msgpack_pack_bin_with_body(&m.pk, meta, sizeof(meta));
	expect_bad(&m, -EBADMSG, "msgs[0].meta: 513 bytes exceeds the limit of 512");
}

static void bad_metadata_over_custom_limit(void **state)
{
	(void)state;
	static const uint8_t meta[17];
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	mk_alive_prefix(&m, ID_B);
	mk_addr4(&m, 4, 4, 7946);
	msgpack_pack_bin_with_body(&m.pk, meta, sizeof(meta));
	struct swim_proto_limits lim = {.max_meta = 16, .max_members = 10};
	struct swim_packet p;
	char err[SWIM_PROTO_ERR_MAX] = "";
	assert_int_equal(swim_proto_decode_packet((const uint8_t *)m.sb.data, m.sb.size, &lim, &p, err),
			 -EBADMSG);
	assert_string_equal(err, "msgs[0].meta: 17 bytes exceeds the limit of 16");
	lim.max_meta = 17;
	assert_int_equal(swim_proto_decode_packet((const uint8_t *)m.sb.data, m.sb.size, &lim, &p, err), 0);
	msgpack_sbuffer_destroy(&m.sb);
}

static void bad_metadata_type(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	mk_alive_prefix(&m, ID_B);
	mk_addr4(&m, 4, 4, 7946);
	mk_str(&m, "role=manager");
	expect_bad(&m, -EBADMSG, "msgs[0].meta: expected bin, got str");
}

static void bad_address_family(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	mk_alive_prefix(&m, ID_B);
	mk_addr4(&m, 5, 4, 7946);
	msgpack_pack_bin_with_body(&m.pk, "", 0);
	expect_bad(&m, -EBADMSG, "msgs[0].addr.family: 5 is not 4 or 6");
}

static void bad_address_length(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	mk_alive_prefix(&m, ID_B);
	mk_addr4(&m, 6, 4, 7946); /* IPv6 with 4 bytes */
	msgpack_pack_bin_with_body(&m.pk, "", 0);
	expect_bad(&m, -EBADMSG, "msgs[0].addr.ip: 4 bytes for IPv6");
}

static void bad_address_port_zero(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 4);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_PING_REQ);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, ID_B);
	mk_addr4(&m, 4, 4, 0);
	expect_bad(&m, -EBADMSG, "msgs[0].target_addr.port: zero");
}

static void bad_address_port_range(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	mk_alive_prefix(&m, ID_B);
	mk_addr4(&m, 4, 4, 70000);
	msgpack_pack_bin_with_body(&m.pk, "", 0);
	expect_bad(&m, -EBADMSG, "msgs[0].addr.port: 70000 exceeds 65535");
}

static void bad_address_shape(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	mk_alive_prefix(&m, ID_B);
	mk_str(&m, "10.0.0.1:7946");
	msgpack_pack_bin_with_body(&m.pk, "", 0);
	expect_bad(&m, -EBADMSG, "msgs[0].addr: expected array, got str");
}

static void bad_incarnation_type(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_LEFT);
	mk_str(&m, ID_B);
	msgpack_pack_double(&m.pk, 1.5);
	expect_bad(&m, -EBADMSG, "msgs[0].incarnation: expected uint, got float64");
}

static void bad_suspect_from(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 4);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_SUSPECT);
	mk_str(&m, ID_B);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_nil(&m.pk);
	expect_bad(&m, -EBADMSG, "msgs[0].from: expected str, got nil");
}

static void bad_later_message_rejects_whole_packet(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 2);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
	msgpack_pack_true(&m.pk);
	expect_bad(&m, -EBADMSG, "msgs[1].seq: expected uint, got bool");
}

static void bad_trailing_garbage(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	mk_header(&m, 1);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, SWIM_MSG_ACK);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_sbuffer_write(&m.sb, "\x00\x01", 2);
	expect_bad(&m, -EBADMSG, "packet: 2 trailing bytes after the message");
}

static void bad_huge_declared_array(void **state)
{
	(void)state;
	/* array32 of 4 billion elements: must fail before anything allocates for it */
	struct mk m;
	mk_init(&m);
	msgpack_sbuffer_write(&m.sb, "\xdd\xff\xff\xff\xff\x01", 6);
	expect_bad(&m, -EBADMSG, "declares 4294967295 elements but 1 bytes remain");
}

static void bad_huge_declared_map(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_sbuffer_write(&m.sb, "\x93\x01\xa1x\xdf\x80\x00\x00\x00", 9);
	expect_bad(&m, -EBADMSG, "declares 4294967296 elements but 0 bytes remain");
}

static void bad_huge_declared_bin(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_sbuffer_write(&m.sb, "\xc6\xff\xff\xff\xff", 5);
	expect_bad(&m, -EBADMSG, "packet: truncated at byte 5");
}

static void bad_deep_nesting(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	for (int i = 0; i < 40; i++)
		msgpack_pack_array(&m.pk, 1);
	msgpack_pack_nil(&m.pk);
	expect_bad(&m, -EBADMSG, "packet: nested deeper than 8");
}

static void bad_reserved_byte(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	msgpack_sbuffer_write(&m.sb, "\x92\x01\xc1", 3);
	expect_bad(&m, -EBADMSG, "packet: byte 0xc1 at 2 is not msgpack");
}

/* --- malformed push-pull ------------------------------------------------------ */

static void pp_header(struct mk *m, uint64_t flags, size_t n)
{
	msgpack_pack_array(&m->pk, 4);
	msgpack_pack_uint8(&m->pk, 1);
	mk_str(m, ID_A);
	msgpack_pack_uint64(&m->pk, flags);
	msgpack_pack_array(&m->pk, n);
}

static void pp_member(struct mk *m, uint64_t state, size_t metalen)
{
	static const uint8_t meta[1024];
	msgpack_pack_array(&m->pk, 5);
	mk_str(m, ID_B);
	msgpack_pack_uint8(&m->pk, 1);
	msgpack_pack_uint64(&m->pk, state);
	mk_addr4(m, 4, 4, 7946);
	msgpack_pack_bin_with_body(&m->pk, meta, metalen);
}

static void expect_bad_pp(struct mk *m, size_t max_members, const char *want)
{
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	lim.max_members = max_members;
	struct swim_pushpull pp;
	char err[SWIM_PROTO_ERR_MAX] = "";
	int rc = swim_proto_decode_pushpull((const uint8_t *)m->sb.data, m->sb.size, &lim, &pp, err);
	if (rc != -EBADMSG || strstr(err, want) == NULL)
		fail_msg("rc %d, err \"%s\" (want \"%s\")", rc, err, want);
	assert_null(pp.members);
	msgpack_sbuffer_destroy(&m->sb);
}

static void bad_pp_flags(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	pp_header(&m, 0x10, 0);
	expect_bad_pp(&m, 10, "flags: 0x10 is not a valid combination");
	mk_init(&m);
	pp_header(&m, SWIM_PP_SUMMARY | SWIM_PP_RESPONSE, 0);
	expect_bad_pp(&m, 10, "flags: 0x09 is not a valid combination");
	mk_init(&m);
	pp_header(&m, SWIM_PP_SUMMARY | SWIM_PP_DIGEST, 0);
	expect_bad_pp(&m, 10, "flags: 0x0c is not a valid combination");
	mk_init(&m);
	pp_header(&m, SWIM_PP_DIGEST | SWIM_PP_RESPONSE, 0);
	expect_bad_pp(&m, 10, "flags: 0x05 is not a valid combination");
	mk_init(&m);
	pp_header(&m, SWIM_PP_DIGEST | SWIM_PP_JOIN, 0);
	expect_bad_pp(&m, 10, "flags: 0x06 is not a valid combination");
	mk_init(&m);
	pp_header(&m, 256, 0);
	expect_bad_pp(&m, 10, "flags: 256 exceeds 255");
}

/* A summary request: the flag, an empty members array and 16 bytes; each
 * part missing or wrong is named. */
static void summary_pushpull(void **state)
{
	(void)state;
	struct swim_ppw w;
	assert_int_equal(swim_ppw_init(&w, ID_A, SWIM_PP_SUMMARY, 4096), 0);
	struct swim_pp_member one = {.incarnation = 1, .addr = {.family = 4, .port = 7946}};
	strcpy(one.id, ID_B);
	assert_int_equal(swim_ppw_add(&w, &one), -EINVAL); /* a summary lists no one */
	for (int i = 0; i < SWIM_PP_SUMMARY_LEN; i++)
		w.summary[i] = (uint8_t)(0xa0 + i);
	uint8_t *buf;
	size_t len;
	assert_int_equal(swim_ppw_finish(&w, &buf, &len), 0);
	/* header (array, version, id, flags), empty members, bin8 of 16 */
	assert_int_equal(len, 1 + 1 + 1 + strlen(ID_A) + 1 + 1 + 2 + SWIM_PP_SUMMARY_LEN);
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	struct swim_pushpull pp;
	char err[SWIM_PROTO_ERR_MAX] = "";
	assert_int_equal(swim_proto_decode_pushpull(buf, len, &lim, &pp, err), 0);
	assert_int_equal(pp.flags, SWIM_PP_SUMMARY);
	assert_int_equal(pp.n_members, 0);
	for (int i = 0; i < SWIM_PP_SUMMARY_LEN; i++)
		assert_int_equal(pp.summary[i], 0xa0 + i);
	swim_proto_pushpull_free(&pp);
	free(buf);

	static const uint8_t sum[SWIM_PP_SUMMARY_LEN + 1];
	struct mk m;
	mk_init(&m); /* the flag without the field */
	pp_header(&m, SWIM_PP_SUMMARY, 0);
	expect_bad_pp(&m, 10, "summary: missing (the summary flag needs a fifth field)");
	mk_init(&m); /* the field without the flag */
	msgpack_pack_array(&m.pk, 5);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, ID_A);
	msgpack_pack_uint8(&m.pk, 0);
	msgpack_pack_array(&m.pk, 0);
	msgpack_pack_bin_with_body(&m.pk, sum, SWIM_PP_SUMMARY_LEN);
	expect_bad_pp(&m, 10, "5 fields without the summary flag");
	mk_init(&m); /* a fingerprint of the wrong size */
	msgpack_pack_array(&m.pk, 5);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, ID_A);
	msgpack_pack_uint8(&m.pk, SWIM_PP_SUMMARY);
	msgpack_pack_array(&m.pk, 0);
	msgpack_pack_bin_with_body(&m.pk, sum, SWIM_PP_SUMMARY_LEN + 1);
	expect_bad_pp(&m, 10, "summary: 17 bytes, expected 16");
	mk_init(&m); /* members in a summary */
	msgpack_pack_array(&m.pk, 5);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, ID_A);
	msgpack_pack_uint8(&m.pk, SWIM_PP_SUMMARY);
	msgpack_pack_array(&m.pk, 1);
	pp_member(&m, 0, 0);
	msgpack_pack_bin_with_body(&m.pk, sum, SWIM_PP_SUMMARY_LEN);
	expect_bad_pp(&m, 10, "members: 1 entries in a summary request, expected none");
	mk_init(&m); /* a fingerprint that is not bin */
	msgpack_pack_array(&m.pk, 5);
	msgpack_pack_uint8(&m.pk, 1);
	mk_str(&m, ID_A);
	msgpack_pack_uint8(&m.pk, SWIM_PP_SUMMARY);
	msgpack_pack_array(&m.pk, 0);
	msgpack_pack_uint8(&m.pk, 3);
	expect_bad_pp(&m, 10, "summary: expected bin");
}

/* A digest holds id, incarnation and state only: a full member is refused. */
static void bad_pp_digest_arity(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	pp_header(&m, SWIM_PP_DIGEST, 1);
	pp_member(&m, SWIM_ALIVE, 0);
	expect_bad_pp(&m, 10, "members[0]: 5 elements, expected 3");
}

static void bad_pp_state(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	pp_header(&m, 0, 2);
	pp_member(&m, SWIM_ALIVE, 0);
	pp_member(&m, 4, 0);
	expect_bad_pp(&m, 10, "members[1].state: 4 exceeds 3");
}

static void bad_pp_too_many_members(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	pp_header(&m, 0, 3);
	for (int i = 0; i < 3; i++)
		pp_member(&m, SWIM_ALIVE, 0);
	expect_bad_pp(&m, 2, "members: 3 exceeds the limit of 2");
}

static void bad_pp_member_meta(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	pp_header(&m, 0, 1);
	pp_member(&m, SWIM_DEAD, 600);
	expect_bad_pp(&m, 10, "members[0].meta: 600 bytes exceeds the limit of 512");
}

static void bad_pp_member_arity(void **state)
{
	(void)state;
	struct mk m;
	mk_init(&m);
	pp_header(&m, 0, 1);
	msgpack_pack_array(&m.pk, 2);
	mk_str(&m, ID_B);
	msgpack_pack_uint8(&m.pk, 1);
	expect_bad_pp(&m, 10, "members[0]: 2 elements, expected 5");
}

static void bad_pp_packet_given(void **state)
{
	(void)state;
	struct swim_msg ack = {.type = SWIM_MSG_ACK, .seq = 1};
	uint8_t *buf;
	size_t len;
	encode(&ack, 1, &buf, &len);
	struct mk m;
	mk_init(&m);
	msgpack_sbuffer_write(&m.sb, (const char *)buf, len);
	free(buf);
	expect_bad_pp(&m, 10, "pushpull: 3 elements, expected 4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip_every_message),
		cmocka_unit_test(roundtrip_alive_without_meta),
		cmocka_unit_test(msg_size_is_exact),
		cmocka_unit_test(roundtrip_pushpull),
		cmocka_unit_test(roundtrip_digest_pushpull),
		cmocka_unit_test(roundtrip_empty_pushpull),
		cmocka_unit_test(addr_parse_and_format),
		cmocka_unit_test(encoder_respects_budget),
		cmocka_unit_test(encoder_skips_big_then_fits_small),
		cmocka_unit_test(encoder_caps_message_count),
		cmocka_unit_test(encoder_rejects_bad_input),
		cmocka_unit_test(bad_empty_input),
		cmocka_unit_test(bad_truncated_everywhere),
		cmocka_unit_test(bad_root_not_array),
		cmocka_unit_test(bad_version),
		cmocka_unit_test(bad_version_type),
		cmocka_unit_test(bad_header_arity),
		cmocka_unit_test(bad_sender_type),
		cmocka_unit_test(bad_oversize_sender),
		cmocka_unit_test(bad_empty_sender),
		cmocka_unit_test(bad_sender_bytes),
		cmocka_unit_test(bad_no_messages),
		cmocka_unit_test(bad_too_many_messages),
		cmocka_unit_test(bad_msgs_not_array),
		cmocka_unit_test(bad_message_not_array),
		cmocka_unit_test(bad_empty_message),
		cmocka_unit_test(bad_unknown_type),
		cmocka_unit_test(bad_message_arity),
		cmocka_unit_test(bad_seq_too_big),
		cmocka_unit_test(bad_seq_negative),
		cmocka_unit_test(bad_oversize_target),
		cmocka_unit_test(bad_oversize_metadata),
		cmocka_unit_test(bad_metadata_over_custom_limit),
		cmocka_unit_test(bad_metadata_type),
		cmocka_unit_test(bad_address_family),
		cmocka_unit_test(bad_address_length),
		cmocka_unit_test(bad_address_port_zero),
		cmocka_unit_test(bad_address_port_range),
		cmocka_unit_test(bad_address_shape),
		cmocka_unit_test(bad_incarnation_type),
		cmocka_unit_test(bad_suspect_from),
		cmocka_unit_test(bad_later_message_rejects_whole_packet),
		cmocka_unit_test(bad_trailing_garbage),
		cmocka_unit_test(bad_huge_declared_array),
		cmocka_unit_test(bad_huge_declared_map),
		cmocka_unit_test(bad_huge_declared_bin),
		cmocka_unit_test(bad_deep_nesting),
		cmocka_unit_test(bad_reserved_byte),
		cmocka_unit_test(bad_pp_flags),
		cmocka_unit_test(summary_pushpull),
		cmocka_unit_test(bad_pp_digest_arity),
		cmocka_unit_test(bad_pp_state),
		cmocka_unit_test(bad_pp_too_many_members),
		cmocka_unit_test(bad_pp_member_meta),
		cmocka_unit_test(bad_pp_member_arity),
		cmocka_unit_test(bad_pp_packet_given),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
