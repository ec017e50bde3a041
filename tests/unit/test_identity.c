/* Unit tests for identity: the root key and root-signed node certificates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>
#include <sodium.h>

#include "swarmnode/identity.h"

#define NODE_ID "ldpj7owgrf12irfxg3hi9i3r3"
#define CLUSTER_ID "1bcdqsiwk2ttt98dkhy0rhn6a"
#define ISSUED 1700000000000ull
#define EXPIRES (ISSUED + 90ull * 24 * 3600 * 1000)

struct fixture {
	struct identity_keypair root;  /* the cluster root key */
	struct identity_keypair node;  /* a node's own key */
	struct identity_cert cert;     /* a valid worker certificate for node */
	uint8_t enc[IDENTITY_CERT_MAX];/* its encoding */
	size_t enc_len;
};

static void seed_of(uint8_t seed[IDENTITY_SEED_LEN], uint8_t v)
{
	memset(seed, v, IDENTITY_SEED_LEN);
}

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	uint8_t seed[IDENTITY_SEED_LEN];
	seed_of(seed, 1);
	identity_keypair_from_seed(&f.root, seed);
	seed_of(seed, 2);
	identity_keypair_from_seed(&f.node, seed);
	assert_int_equal(identity_cert_issue(&f.cert, NODE_ID, IDENTITY_ROLE_WORKER, f.node.pk,
					     CLUSTER_ID, ISSUED, EXPIRES, f.root.sk),
			 IDENTITY_OK);
	assert_int_equal(identity_cert_encode(&f.cert, f.enc, sizeof(f.enc), &f.enc_len), IDENTITY_OK);
	*state = &f;
	return 0;
}

static void keypair_from_seed_is_libsodiums(void **state)
{
	(void)state;
	uint8_t seed[IDENTITY_SEED_LEN], pk[32], sk[64];
	seed_of(seed, 9);
	crypto_sign_seed_keypair(pk, sk, seed);
	struct identity_keypair kp;
	identity_keypair_from_seed(&kp, seed);
	assert_memory_equal(kp.pk, pk, 32);
	assert_memory_equal(kp.sk, sk, 64);
	seed[0] ^= 1;
	struct identity_keypair other;
	identity_keypair_from_seed(&other, seed);
	assert_memory_not_equal(kp.pk, other.pk, 32);
	identity_keypair_wipe(&kp);
	uint8_t zero[sizeof(kp)] = {0};
	assert_memory_equal(&kp, zero, sizeof(kp));
}

static void cert_round_trips(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->enc_len, 173);
	struct identity_cert d;
	char err[200] = "";
	assert_int_equal(identity_cert_decode(&d, f->enc, f->enc_len, err, sizeof(err)), IDENTITY_OK);
	assert_string_equal(d.node_id, NODE_ID);
	assert_string_equal(d.cluster_id, CLUSTER_ID);
	assert_int_equal(d.role, IDENTITY_ROLE_WORKER);
	assert_memory_equal(d.node_pk, f->node.pk, IDENTITY_PK_LEN);
	assert_int_equal(d.issued_at_ms, ISSUED);
	assert_int_equal(d.expires_at_ms, EXPIRES);
	assert_memory_equal(d.sig, f->cert.sig, IDENTITY_SIG_LEN);
	assert_int_equal(identity_cert_verify(&d, f->root.pk, CLUSTER_ID, ISSUED, err, sizeof(err)),
			 IDENTITY_OK);
	assert_int_equal(identity_cert_verify(&d, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_OK);
}

static void signature_is_ed25519_over_domain_and_fields(void **state)
{
	/* Recompute the signed bytes independently of identity.c: the domain
	 * string, then the encoding's first 7 elements under a fixarray(7). */
	struct fixture *f = *state;
	uint8_t msg[256];
	size_t d = strlen("swarmnode-cert-v1");
	memcpy(msg, "swarmnode-cert-v1", d);
	msg[d] = 0x97;
	size_t fields = f->enc_len - 1 - (2 + IDENTITY_SIG_LEN);
	memcpy(msg + d + 1, f->enc + 1, fields);
	assert_int_equal(f->enc[0], 0x98);
	assert_int_equal(crypto_sign_verify_detached(f->cert.sig, msg, d + 1 + fields, f->root.pk), 0);
}

static void verify_rejects_bad_signature(void **state)
{
	struct fixture *f = *state;
	char err[200] = "";
	for (int i = 0; i < IDENTITY_SIG_LEN; i++) {
		struct identity_cert c = f->cert;
		c.sig[i] ^= 0x10;
		assert_int_equal(identity_cert_verify(&c, f->root.pk, CLUSTER_ID, ISSUED, err, sizeof(err)),
				 IDENTITY_E_SIGNATURE);
	}
	assert_non_null(strstr(err, "signature does not verify against the root key"));
}

static void verify_rejects_every_changed_field(void **state)
{
	struct fixture *f = *state;
	char err[200];
	struct identity_cert c;
	c = f->cert;
	c.role = IDENTITY_ROLE_MANAGER; /* a worker promoting itself */
	assert_int_equal(identity_cert_verify(&c, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
	c = f->cert;
	c.node_id[0] = 'm';
	assert_int_equal(identity_cert_verify(&c, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
	c = f->cert;
	c.node_pk[31] ^= 1;
	assert_int_equal(identity_cert_verify(&c, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
	c = f->cert;
	c.cluster_id[3] = 'z';
	assert_int_equal(identity_cert_verify(&c, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
	c = f->cert;
	c.issued_at_ms -= 1;
	assert_int_equal(identity_cert_verify(&c, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
	c = f->cert;
	c.expires_at_ms += 1; /* an extended lifetime */
	assert_int_equal(identity_cert_verify(&c, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
	c = f->cert;
	c.role = (enum identity_role)7;
	assert_int_equal(identity_cert_verify(&c, f->root.pk, NULL, ISSUED, err, sizeof(err)),
			 IDENTITY_E_INVALID);
}

static void verify_rejects_other_root(void **state)
{
	struct fixture *f = *state;
	uint8_t seed[IDENTITY_SEED_LEN];
	seed_of(seed, 3);
	struct identity_keypair other;
	identity_keypair_from_seed(&other, seed);
	char err[200] = "";
	assert_int_equal(identity_cert_verify(&f->cert, other.pk, CLUSTER_ID, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
	/* And a certificate the other key signed does not verify under ours. */
	struct identity_cert c;
	assert_int_equal(identity_cert_issue(&c, NODE_ID, IDENTITY_ROLE_MANAGER, f->node.pk,
					     CLUSTER_ID, ISSUED, EXPIRES, other.sk),
			 IDENTITY_OK);
	assert_int_equal(identity_cert_verify(&c, other.pk, CLUSTER_ID, ISSUED, err, sizeof(err)),
			 IDENTITY_OK);
	assert_int_equal(identity_cert_verify(&c, f->root.pk, CLUSTER_ID, ISSUED, err, sizeof(err)),
			 IDENTITY_E_SIGNATURE);
}

static void verify_rejects_wrong_cluster(void **state)
{
	struct fixture *f = *state;
	char err[200] = "";
	assert_int_equal(identity_cert_verify(&f->cert, f->root.pk, "0000000000000000000000000",
					      ISSUED, err, sizeof(err)),
			 IDENTITY_E_CLUSTER);
	assert_non_null(strstr(err, "issued for cluster " CLUSTER_ID ", not 0000000000000000000000000"));
}

static void verify_checks_validity_window(void **state)
{
	struct fixture *f = *state;
	char err[200] = "";
	const struct identity_cert *c = &f->cert;
	/* Clock skew allowance before issued_at. */
	assert_int_equal(identity_cert_verify(c, f->root.pk, NULL, ISSUED - IDENTITY_CLOCK_SKEW_MS,
					      err, sizeof(err)),
			 IDENTITY_OK);
	assert_int_equal(identity_cert_verify(c, f->root.pk, NULL,
					      ISSUED - IDENTITY_CLOCK_SKEW_MS - 1, err, sizeof(err)),
			 IDENTITY_E_NOT_YET_VALID);
	assert_non_null(strstr(err, "not valid until"));
	assert_int_equal(identity_cert_verify(c, f->root.pk, NULL, 0, err, sizeof(err)),
			 IDENTITY_E_NOT_YET_VALID);
	assert_int_equal(identity_cert_verify(c, f->root.pk, NULL, EXPIRES - 1, err, sizeof(err)),
			 IDENTITY_OK);
	assert_int_equal(identity_cert_verify(c, f->root.pk, NULL, EXPIRES, err, sizeof(err)),
			 IDENTITY_E_EXPIRED);
	assert_non_null(strstr(err, "expired at"));
	assert_int_equal(identity_cert_verify(c, f->root.pk, NULL, UINT64_MAX, err, sizeof(err)),
			 IDENTITY_E_EXPIRED);
}

static void issue_rejects_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct identity_cert c;
	assert_int_equal(identity_cert_issue(&c, "short", IDENTITY_ROLE_WORKER, f->node.pk,
					     CLUSTER_ID, ISSUED, EXPIRES, f->root.sk),
			 IDENTITY_E_INVALID);
	assert_int_equal(identity_cert_issue(&c, NODE_ID, IDENTITY_ROLE_WORKER, f->node.pk,
					     "1BCDQSIWK2TTT98DKHY0RHN6A", ISSUED, EXPIRES, f->root.sk),
			 IDENTITY_E_INVALID);
	assert_int_equal(identity_cert_issue(&c, NODE_ID, (enum identity_role)2, f->node.pk,
					     CLUSTER_ID, ISSUED, EXPIRES, f->root.sk),
			 IDENTITY_E_INVALID);
	assert_int_equal(identity_cert_issue(&c, NODE_ID, IDENTITY_ROLE_WORKER, f->node.pk,
					     CLUSTER_ID, ISSUED, ISSUED, f->root.sk),
			 IDENTITY_E_INVALID);
}

static void encode_reports_no_space(void **state)
{
	struct fixture *f = *state;
	uint8_t out[IDENTITY_CERT_MAX];
	size_t len = 0;
	assert_int_equal(identity_cert_encode(&f->cert, out, f->enc_len - 1, &len),
			 IDENTITY_E_NO_SPACE);
	assert_int_equal(identity_cert_encode(&f->cert, out, f->enc_len, &len), IDENTITY_OK);
	assert_int_equal(len, f->enc_len);
}

/* Ways to encode a broken certificate; each names the message it must cause. */
enum mutation {
	MUT_NOT_ARRAY, MUT_SEVEN, MUT_NINE, MUT_VERSION_2, MUT_VERSION_STR, MUT_NODE_ID_SHORT,
	MUT_NODE_ID_UPPER, MUT_NODE_ID_BIN, MUT_ROLE_2, MUT_ROLE_NEG, MUT_PK_31, MUT_PK_STR,
	MUT_CLUSTER_BAD, MUT_ISSUED_STR, MUT_EXPIRES_NEG, MUT_EXPIRES_EQ, MUT_SIG_63, MUT_SIG_NIL,
	MUT_NONCANON_VERSION, MUT_NONCANON_BIN, MUT_COUNT
};

static const char *const mutation_msg[MUT_COUNT] = {
	[MUT_NOT_ARRAY] = "certificate: expected an array, got map",
	[MUT_SEVEN] = "certificate: expected 8 elements, got 7",
	[MUT_NINE] = "certificate: expected 8 elements, got 9",
	[MUT_VERSION_2] = "certificate version: 2 out of range [1, 1]",
	[MUT_VERSION_STR] = "certificate version: expected an unsigned integer, got string",
	[MUT_NODE_ID_SHORT] = "certificate node_id: expected 25 characters, got 24",
	[MUT_NODE_ID_UPPER] = "certificate node_id: not a base-36 id",
	[MUT_NODE_ID_BIN] = "certificate node_id: expected a string, got binary",
	[MUT_ROLE_2] = "certificate role: 2 out of range [0, 1]",
	[MUT_ROLE_NEG] = "certificate role: expected an unsigned integer, got negative integer",
	[MUT_PK_31] = "certificate node_pk: expected 32 bytes, got 31",
	[MUT_PK_STR] = "certificate node_pk: expected binary, got string",
	[MUT_CLUSTER_BAD] = "certificate cluster_id: not a base-36 id",
	[MUT_ISSUED_STR] = "certificate issued_at: expected an unsigned integer, got string",
	[MUT_EXPIRES_NEG] = "certificate expires_at: expected an unsigned integer, got negative integer",
	[MUT_EXPIRES_EQ] = "certificate expires_at: 1700000000000 is not after issued_at 1700000000000",
	[MUT_SIG_63] = "certificate signature: expected 64 bytes, got 63",
	[MUT_SIG_NIL] = "certificate signature: expected binary, got nil",
	[MUT_NONCANON_VERSION] = "certificate: not in canonical encoding",
	[MUT_NONCANON_BIN] = "certificate: not in canonical encoding",
};

static size_t encode_mutated(const struct identity_cert *c, enum mutation m, uint8_t *out,
			     size_t cap)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (m == MUT_NOT_ARRAY)
		msgpack_pack_map(&pk, 4);
	else
		msgpack_pack_array(&pk, m == MUT_SEVEN ? 7 : m == MUT_NINE ? 9 : 8);
	if (m == MUT_VERSION_STR)
		msgpack_pack_str_with_body(&pk, "1", 1);
	else if (m == MUT_NONCANON_VERSION)
		msgpack_pack_fix_uint16(&pk, 1);
	else
		msgpack_pack_uint8(&pk, m == MUT_VERSION_2 ? 2 : 1);
	if (m == MUT_NODE_ID_SHORT)
		msgpack_pack_str_with_body(&pk, c->node_id, 24);
	else if (m == MUT_NODE_ID_UPPER)
		msgpack_pack_str_with_body(&pk, "LDPJ7OWGRF12IRFXG3HI9I3R3", 25);
	else if (m == MUT_NODE_ID_BIN)
		msgpack_pack_bin_with_body(&pk, c->node_id, 25);
	else
		msgpack_pack_str_with_body(&pk, c->node_id, 25);
	if (m == MUT_ROLE_2)
		msgpack_pack_uint8(&pk, 2);
	else if (m == MUT_ROLE_NEG)
		msgpack_pack_int8(&pk, -1);
	else
		msgpack_pack_uint8(&pk, (uint8_t)c->role);
	if (m == MUT_PK_31)
		msgpack_pack_bin_with_body(&pk, c->node_pk, 31);
	else if (m == MUT_PK_STR)
		msgpack_pack_str_with_body(&pk, c->node_pk, 32);
	else if (m == MUT_NONCANON_BIN) {
		msgpack_pack_bin(&pk, 32);
		/* bin8 rewritten below as bin16 */
	} else
		msgpack_pack_bin_with_body(&pk, c->node_pk, 32);
	if (m == MUT_NONCANON_BIN) {
		/* Replace the bin8 header c4 20 just written with bin16 c5 00 20. */
		sb.size -= 2;
		msgpack_sbuffer_write(&sb, "\xc5\x00\x20", 3);
		msgpack_sbuffer_write(&sb, (const char *)c->node_pk, 32);
	}
	msgpack_pack_str_with_body(&pk, m == MUT_CLUSTER_BAD ? "1bcdqsiwk2ttt98dkhy0rhn6-" : c->cluster_id,
				   25);
	if (m == MUT_ISSUED_STR)
		msgpack_pack_str_with_body(&pk, "now", 3);
	else
		msgpack_pack_uint64(&pk, c->issued_at_ms);
	if (m == MUT_EXPIRES_NEG)
		msgpack_pack_int64(&pk, -5);
	else
		msgpack_pack_uint64(&pk, m == MUT_EXPIRES_EQ ? c->issued_at_ms : c->expires_at_ms);
	if (m == MUT_SEVEN)
		; /* the signature left out */
	else if (m == MUT_SIG_63)
		msgpack_pack_bin_with_body(&pk, c->sig, 63);
	else if (m == MUT_SIG_NIL)
		msgpack_pack_nil(&pk);
	else
		msgpack_pack_bin_with_body(&pk, c->sig, 64);
	if (m == MUT_NINE)
		msgpack_pack_nil(&pk);
	assert_true(sb.size <= cap);
	size_t n = sb.size;
	memcpy(out, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static void decode_names_each_bad_field(void **state)
{
	struct fixture *f = *state;
	for (int m = 0; m < MUT_COUNT; m++) {
		uint8_t buf[512];
		size_t n = encode_mutated(&f->cert, (enum mutation)m, buf, sizeof(buf));
		struct identity_cert d;
		char err[200] = "";
		int rc = identity_cert_decode(&d, buf, n, err, sizeof(err));
		if (rc != IDENTITY_E_MALFORMED || strcmp(err, mutation_msg[m]) != 0) {
			print_error("mutation %d: got %d \"%s\", want \"%s\"\n", m, rc, err,
				    mutation_msg[m]);
			fail();
		}
	}
}

static void decode_rejects_truncation_and_trailing_bytes(void **state)
{
	struct fixture *f = *state;
	struct identity_cert d;
	char err[200];
	for (size_t n = 0; n < f->enc_len; n++)
		assert_int_equal(identity_cert_decode(&d, f->enc, n, err, sizeof(err)),
				 IDENTITY_E_MALFORMED);
	uint8_t longer[IDENTITY_CERT_MAX];
	memcpy(longer, f->enc, f->enc_len);
	longer[f->enc_len] = 0xc0;
	assert_int_equal(identity_cert_decode(&d, longer, f->enc_len + 1, err, sizeof(err)),
			 IDENTITY_E_MALFORMED);
	assert_string_equal(err, "certificate: 1 trailing bytes after the message");
	uint8_t big[IDENTITY_CERT_MAX + 1] = {0};
	assert_int_equal(identity_cert_decode(&d, big, sizeof(big), err, sizeof(err)),
			 IDENTITY_E_MALFORMED);
	assert_string_equal(err, "certificate: 257 bytes, at most 256 allowed");
}

/* No single flipped bit anywhere in an encoded certificate yields a
 * certificate that decodes and verifies. */
static void no_bit_flip_survives(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < f->enc_len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			uint8_t buf[IDENTITY_CERT_MAX];
			memcpy(buf, f->enc, f->enc_len);
			buf[i] ^= (uint8_t)(1u << bit);
			struct identity_cert d;
			char err[200];
			if (identity_cert_decode(&d, buf, f->enc_len, err, sizeof(err)) != IDENTITY_OK)
				continue;
			if (identity_cert_verify(&d, f->root.pk, CLUSTER_ID, ISSUED, err, sizeof(err)) ==
			    IDENTITY_OK) {
				print_error("byte %zu bit %d: still verifies\n", i, bit);
				fail();
			}
		}
	}
}

static void decode_leaves_output_untouched_on_error(void **state)
{
	struct fixture *f = *state;
	struct identity_cert d;
	memset(&d, 0x5a, sizeof(d));
	char err[200];
	assert_int_equal(identity_cert_decode(&d, f->enc, f->enc_len - 1, err, sizeof(err)),
			 IDENTITY_E_MALFORMED);
	for (size_t k = 0; k < sizeof(d); k++)
		assert_int_equal(((uint8_t *)&d)[k], 0x5a);
}

static void role_names_and_strerror(void **state)
{
	(void)state;
	assert_string_equal(identity_role_name(IDENTITY_ROLE_WORKER), "worker");
	assert_string_equal(identity_role_name(IDENTITY_ROLE_MANAGER), "manager");
	static const int codes[] = {IDENTITY_E_MALFORMED, IDENTITY_E_NO_SPACE, IDENTITY_E_INVALID,
				    IDENTITY_E_SIGNATURE, IDENTITY_E_CLUSTER,
				    IDENTITY_E_NOT_YET_VALID, IDENTITY_E_EXPIRED};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(identity_strerror(codes[i]), "unknown error");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(identity_strerror(codes[i]), identity_strerror(codes[j]));
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keypair_from_seed_is_libsodiums),
		cmocka_unit_test_setup(cert_round_trips, setup),
		cmocka_unit_test_setup(signature_is_ed25519_over_domain_and_fields, setup),
		cmocka_unit_test_setup(verify_rejects_bad_signature, setup),
		cmocka_unit_test_setup(verify_rejects_every_changed_field, setup),
		cmocka_unit_test_setup(verify_rejects_other_root, setup),
		cmocka_unit_test_setup(verify_rejects_wrong_cluster, setup),
		cmocka_unit_test_setup(verify_checks_validity_window, setup),
		cmocka_unit_test_setup(issue_rejects_bad_arguments, setup),
		cmocka_unit_test_setup(encode_reports_no_space, setup),
		cmocka_unit_test_setup(decode_names_each_bad_field, setup),
		cmocka_unit_test_setup(decode_rejects_truncation_and_trailing_bytes, setup),
		cmocka_unit_test_setup(no_bit_flip_survives, setup),
		cmocka_unit_test_setup(decode_leaves_output_untouched_on_error, setup),
		cmocka_unit_test(role_names_and_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
