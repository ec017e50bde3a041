/* Unit tests for keyring: the gossip keyring and its AEAD envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>
#include <sodium.h>

#include "swarmnode/keyring.h"

static void key_of(uint8_t key[KEYRING_KEY_LEN], uint8_t v)
{
	for (int i = 0; i < KEYRING_KEY_LEN; i++)
		key[i] = (uint8_t)(v + i * 3);
}

static void nonce_of(uint8_t nonce[KEYRING_NONCE_LEN], uint8_t v)
{
	memset(nonce, v, KEYRING_NONCE_LEN);
}

static const char msg[] = "alive node=ldpj7owgrf12irfxg3hi9i3r3 incarnation=7";
#define MSG_LEN (sizeof(msg) - 1)

/* A keyring holding the keys key_of(v) for each v given, the first primary. */
static struct keyring *ring_of(int n, const uint8_t *vs)
{
	struct keyring *kr = keyring_new();
	assert_non_null(kr);
	for (int i = 0; i < n; i++) {
		uint8_t k[KEYRING_KEY_LEN];
		key_of(k, vs[i]);
		assert_int_equal(keyring_install(kr, k), KEYRING_OK);
	}
	return kr;
}

static size_t seal_msg(const struct keyring *kr, uint8_t nonce_v, uint8_t *out, size_t cap)
{
	uint8_t nonce[KEYRING_NONCE_LEN];
	nonce_of(nonce, nonce_v);
	size_t n = 0;
	assert_int_equal(keyring_seal(kr, nonce, (const uint8_t *)msg, MSG_LEN, out, cap, &n),
			 KEYRING_OK);
	return n;
}

static void expect_opens(const struct keyring *kr, const uint8_t *pkt, size_t n)
{
	uint8_t out[256];
	size_t m = 0;
	int rc = keyring_open(kr, pkt, n, out, sizeof(out), &m);
	if (rc != KEYRING_OK) {
		print_error("open: %s\n", keyring_strerror(rc));
		fail();
	}
	assert_int_equal(m, MSG_LEN);
	assert_memory_equal(out, msg, MSG_LEN);
}

static int open_rc(const struct keyring *kr, const uint8_t *pkt, size_t n)
{
	uint8_t out[256];
	size_t m = 0;
	return keyring_open(kr, pkt, n, out, sizeof(out), &m);
}

static void seal_then_open(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(1, (const uint8_t[]){1});
	uint8_t pkt[256];
	size_t n = seal_msg(kr, 7, pkt, sizeof(pkt));
	assert_int_equal(n, MSG_LEN + KEYRING_OVERHEAD);
	assert_int_equal(KEYRING_OVERHEAD, 45);
	/* The header as drawn: version, key id, nonce. */
	uint8_t key[KEYRING_KEY_LEN], id[KEYRING_KEY_ID_LEN], nonce[KEYRING_NONCE_LEN];
	key_of(key, 1);
	keyring_key_id(key, id);
	nonce_of(nonce, 7);
	assert_int_equal(pkt[0], KEYRING_VERSION);
	assert_memory_equal(pkt + 1, id, KEYRING_KEY_ID_LEN);
	assert_memory_equal(pkt + 5, nonce, KEYRING_NONCE_LEN);
	/* Not the plaintext on the wire. */
	assert_null(memmem(pkt, n, "ldpj7owgrf12", 12));
	expect_opens(kr, pkt, n);
	/* Independently: libsodium with the header as associated data. */
	uint8_t out[256];
	unsigned long long m = 0;
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(out, &m, NULL, pkt + 29, n - 29,
								    pkt, 29, nonce, key),
			 0);
	assert_int_equal(m, MSG_LEN);
	keyring_free(kr);
}

static void empty_plaintext_round_trips(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(1, (const uint8_t[]){1});
	uint8_t pkt[KEYRING_OVERHEAD], nonce[KEYRING_NONCE_LEN], out[1];
	nonce_of(nonce, 1);
	size_t n = 0, m = 99;
	assert_int_equal(keyring_seal(kr, nonce, NULL, 0, pkt, sizeof(pkt), &n), KEYRING_OK);
	assert_int_equal(n, KEYRING_OVERHEAD);
	assert_int_equal(keyring_open(kr, pkt, n, out, 0, &m), KEYRING_OK);
	assert_int_equal(m, 0);
	keyring_free(kr);
}

static void key_id_is_blake2b_of_domain_and_key(void **state)
{
	(void)state;
	uint8_t key[KEYRING_KEY_LEN], id[KEYRING_KEY_ID_LEN], h[32], in[23 + KEYRING_KEY_LEN];
	key_of(key, 5);
	keyring_key_id(key, id);
	memcpy(in, "swarmnode-gossip-key-id", 23);
	memcpy(in + 23, key, KEYRING_KEY_LEN);
	crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
	assert_memory_equal(id, h, KEYRING_KEY_ID_LEN);
}

/* Every single-bit change to a sealed packet is refused, with the error that
 * names the part it hit. */
static void every_bit_flip_is_refused(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(1, (const uint8_t[]){1});
	uint8_t pkt[256];
	size_t n = seal_msg(kr, 3, pkt, sizeof(pkt));
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			pkt[i] ^= (uint8_t)(1u << bit);
			int want = i == 0                        ? KEYRING_E_BAD_VERSION
				   : i < 1 + KEYRING_KEY_ID_LEN  ? KEYRING_E_UNKNOWN_KEY
								 : KEYRING_E_AUTH; /* nonce, ciphertext, tag */
			int rc = open_rc(kr, pkt, n);
			if (rc != want) {
				print_error("byte %zu bit %d: got %s, want %s\n", i, bit,
					    keyring_strerror(rc), keyring_strerror(want));
				fail();
			}
			pkt[i] ^= (uint8_t)(1u << bit);
		}
	}
	expect_opens(kr, pkt, n);
	keyring_free(kr);
}

static void truncation_is_refused(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(1, (const uint8_t[]){1});
	uint8_t pkt[256];
	size_t n = seal_msg(kr, 3, pkt, sizeof(pkt));
	for (size_t len = 0; len < n; len++) {
		int want = len < KEYRING_OVERHEAD ? KEYRING_E_TOO_SHORT : KEYRING_E_AUTH;
		assert_int_equal(open_rc(kr, pkt, len), want);
	}
	/* An extra byte breaks the tag as well. */
	pkt[n] = 0;
	assert_int_equal(open_rc(kr, pkt, n + 1), KEYRING_E_AUTH);
	keyring_free(kr);
}

static void failed_open_leaves_no_plaintext(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(1, (const uint8_t[]){1});
	uint8_t pkt[256];
	size_t n = seal_msg(kr, 3, pkt, sizeof(pkt));
	pkt[n - 1] ^= 1;
	uint8_t out[256];
	memset(out, 0x77, sizeof(out));
	size_t m = 0;
	assert_int_equal(keyring_open(kr, pkt, n, out, sizeof(out), &m), KEYRING_E_AUTH);
	assert_null(memmem(out, sizeof(out), "ldpj7owgrf12", 12));
	keyring_free(kr);
}

static void wrong_key_is_unknown(void **state)
{
	(void)state;
	struct keyring *a = ring_of(1, (const uint8_t[]){1});
	struct keyring *b = ring_of(2, (const uint8_t[]){2, 3});
	uint8_t pkt[256];
	size_t n = seal_msg(a, 3, pkt, sizeof(pkt));
	assert_int_equal(open_rc(b, pkt, n), KEYRING_E_UNKNOWN_KEY);
	struct keyring *empty = keyring_new();
	assert_int_equal(open_rc(empty, pkt, n), KEYRING_E_UNKNOWN_KEY);
	keyring_free(empty);
	keyring_free(a);
	keyring_free(b);
}

/* The rotation a cluster runs without downtime: install the new key
 * everywhere, make it primary, remove the old one. */
static void rotation(void **state)
{
	(void)state;
	uint8_t k1[KEYRING_KEY_LEN], k2[KEYRING_KEY_LEN];
	key_of(k1, 1);
	key_of(k2, 2);
	struct keyring *sender = ring_of(1, (const uint8_t[]){1});
	struct keyring *receiver = ring_of(1, (const uint8_t[]){1});
	uint8_t old_pkt[256], new_pkt[256];
	size_t old_n = seal_msg(sender, 1, old_pkt, sizeof(old_pkt));

	/* Step 1: every node installs k2; k1 still seals. */
	assert_int_equal(keyring_install(receiver, k2), KEYRING_OK);
	assert_int_equal(keyring_install(sender, k2), KEYRING_OK);
	expect_opens(receiver, old_pkt, old_n);
	/* Step 2: k2 becomes primary; both old and new packets open. */
	assert_int_equal(keyring_use(sender, k2), KEYRING_OK);
	size_t new_n = seal_msg(sender, 2, new_pkt, sizeof(new_pkt));
	assert_memory_not_equal(old_pkt + 1, new_pkt + 1, KEYRING_KEY_ID_LEN);
	expect_opens(receiver, old_pkt, old_n);
	expect_opens(receiver, new_pkt, new_n);
	/* A node that missed step 1 cannot read the new packets. */
	struct keyring *late = ring_of(1, (const uint8_t[]){1});
	assert_int_equal(open_rc(late, new_pkt, new_n), KEYRING_E_UNKNOWN_KEY);
	/* Step 3: k1 removed; its packets no longer open. */
	assert_int_equal(keyring_use(receiver, k2), KEYRING_OK);
	assert_int_equal(keyring_remove(receiver, k1), KEYRING_OK);
	assert_int_equal(open_rc(receiver, old_pkt, old_n), KEYRING_E_UNKNOWN_KEY);
	expect_opens(receiver, new_pkt, new_n);
	keyring_free(sender);
	keyring_free(receiver);
	keyring_free(late);
}

static void management_rules(void **state)
{
	(void)state;
	struct keyring *kr = keyring_new();
	uint8_t k[KEYRING_KEY_LEN], got[KEYRING_KEY_LEN], nonce[KEYRING_NONCE_LEN] = {0};
	uint8_t pkt[256];
	size_t n;
	bool primary;
	assert_int_equal(keyring_count(kr), 0);
	assert_int_equal(keyring_seal(kr, nonce, (const uint8_t *)msg, MSG_LEN, pkt, sizeof(pkt), &n),
			 KEYRING_E_NO_PRIMARY);
	for (uint8_t v = 1; v <= KEYRING_MAX_KEYS; v++) {
		key_of(k, v);
		assert_int_equal(keyring_install(kr, k), KEYRING_OK);
	}
	assert_int_equal(keyring_count(kr), KEYRING_MAX_KEYS);
	key_of(k, 3);
	assert_int_equal(keyring_install(kr, k), KEYRING_OK); /* already there: no-op */
	assert_int_equal(keyring_count(kr), KEYRING_MAX_KEYS);
	key_of(k, 100);
	assert_int_equal(keyring_install(kr, k), KEYRING_E_FULL);
	assert_int_equal(keyring_use(kr, k), KEYRING_E_NOT_FOUND);
	assert_int_equal(keyring_remove(kr, k), KEYRING_E_NOT_FOUND);
	/* The first installed is primary and cannot be removed. */
	key_of(k, 1);
	assert_int_equal(keyring_get(kr, 0, got, &primary), KEYRING_OK);
	assert_memory_equal(got, k, KEYRING_KEY_LEN);
	assert_true(primary);
	assert_int_equal(keyring_remove(kr, k), KEYRING_E_IS_PRIMARY);
	/* Make key 5 primary, remove keys before it: it stays primary. */
	key_of(k, 5);
	assert_int_equal(keyring_use(kr, k), KEYRING_OK);
	for (uint8_t v = 1; v <= 4; v++) {
		uint8_t r[KEYRING_KEY_LEN];
		key_of(r, v);
		assert_int_equal(keyring_remove(kr, r), KEYRING_OK);
	}
	assert_int_equal(keyring_count(kr), KEYRING_MAX_KEYS - 4);
	assert_int_equal(keyring_get(kr, 0, got, &primary), KEYRING_OK);
	assert_memory_equal(got, k, KEYRING_KEY_LEN);
	assert_true(primary);
	assert_int_equal(keyring_get(kr, 1, got, &primary), KEYRING_OK);
	assert_false(primary);
	assert_int_equal(keyring_get(kr, KEYRING_MAX_KEYS - 4, got, &primary), KEYRING_E_NOT_FOUND);
	assert_int_equal(keyring_remove(kr, k), KEYRING_E_IS_PRIMARY);
	/* Packets now seal under key 5: a ring holding only key 5 opens them. */
	n = seal_msg(kr, 9, pkt, sizeof(pkt));
	struct keyring *only5 = ring_of(1, (const uint8_t[]){5});
	expect_opens(only5, pkt, n);
	/* Room again after removals. */
	key_of(k, 100);
	assert_int_equal(keyring_install(kr, k), KEYRING_OK);
	keyring_free(only5);
	keyring_free(kr);
	keyring_free(NULL);
}

static void buffers_are_bounds_checked(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(1, (const uint8_t[]){1});
	uint8_t pkt[256], out[256], nonce[KEYRING_NONCE_LEN] = {0};
	size_t n = 0, m = 0;
	assert_int_equal(keyring_seal(kr, nonce, (const uint8_t *)msg, MSG_LEN, pkt,
				      MSG_LEN + KEYRING_OVERHEAD - 1, &n),
			 KEYRING_E_NO_SPACE);
	assert_int_equal(keyring_seal(kr, nonce, (const uint8_t *)msg, SIZE_MAX, pkt, sizeof(pkt), &n),
			 KEYRING_E_TOO_LONG);
	assert_int_equal(keyring_seal(kr, nonce, (const uint8_t *)msg, MSG_LEN, pkt,
				      MSG_LEN + KEYRING_OVERHEAD, &n),
			 KEYRING_OK);
	assert_int_equal(keyring_open(kr, pkt, n, out, MSG_LEN - 1, &m), KEYRING_E_NO_SPACE);
	assert_int_equal(keyring_open(kr, pkt, n, out, MSG_LEN, &m), KEYRING_OK);
	keyring_free(kr);
}

/* Two keys whose 4-byte ids collide: found by a birthday search over derived
 * keys (about 2^16 tries). */
static void find_colliding_keys(uint8_t a[KEYRING_KEY_LEN], uint8_t b[KEYRING_KEY_LEN])
{
	enum { SLOTS = 1 << 20 };
	uint32_t *slot_seed = calloc(SLOTS, sizeof(uint32_t));
	uint32_t *slot_id = calloc(SLOTS, sizeof(uint32_t));
	assert_non_null(slot_seed);
	assert_non_null(slot_id);
	for (uint32_t s = 1; s < 50u * 1000 * 1000; s++) {
		uint8_t k[KEYRING_KEY_LEN], id[KEYRING_KEY_ID_LEN];
		crypto_generichash(k, sizeof(k), (const uint8_t *)&s, sizeof(s), NULL, 0);
		keyring_key_id(k, id);
		uint32_t v = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
		uint32_t h = v & (SLOTS - 1);
		if (slot_seed[h] != 0 && slot_id[h] == v) {
			uint32_t o = slot_seed[h];
			crypto_generichash(a, KEYRING_KEY_LEN, (const uint8_t *)&o, sizeof(o), NULL, 0);
			memcpy(b, k, KEYRING_KEY_LEN);
			free(slot_seed);
			free(slot_id);
			return;
		}
		slot_seed[h] = s;
		slot_id[h] = v;
	}
	fail_msg("no key id collision found");
}

static void colliding_key_ids_fall_back_to_trying(void **state)
{
	(void)state;
	uint8_t a[KEYRING_KEY_LEN], b[KEYRING_KEY_LEN], ida[4], idb[4];
	find_colliding_keys(a, b);
	keyring_key_id(a, ida);
	keyring_key_id(b, idb);
	assert_memory_equal(ida, idb, 4);
	assert_memory_not_equal(a, b, KEYRING_KEY_LEN);

	struct keyring *both = keyring_new(), *only_b = keyring_new(), *only_a = keyring_new();
	assert_int_equal(keyring_install(both, a), KEYRING_OK); /* a first: tried first */
	assert_int_equal(keyring_install(both, b), KEYRING_OK);
	assert_int_equal(keyring_install(only_b, b), KEYRING_OK);
	assert_int_equal(keyring_install(only_a, a), KEYRING_OK);
	uint8_t pkt[256];
	size_t n = seal_msg(only_b, 4, pkt, sizeof(pkt));
	expect_opens(both, pkt, n);
	/* Same id, wrong key: authentication, not unknown key. */
	assert_int_equal(open_rc(only_a, pkt, n), KEYRING_E_AUTH);
	pkt[n - 1] ^= 1;
	assert_int_equal(open_rc(both, pkt, n), KEYRING_E_AUTH);
	keyring_free(both);
	keyring_free(only_a);
	keyring_free(only_b);
}

static void serialize_round_trips(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(3, (const uint8_t[]){1, 2, 3});
	uint8_t k2[KEYRING_KEY_LEN];
	key_of(k2, 2);
	assert_int_equal(keyring_use(kr, k2), KEYRING_OK);
	uint8_t buf[KEYRING_SERIALIZED_MAX];
	size_t len = 0;
	assert_int_equal(keyring_serialize(kr, buf, sizeof(buf), &len), KEYRING_OK);
	struct keyring *back = keyring_new();
	char err[200] = "";
	assert_int_equal(keyring_load(back, buf, len, err, sizeof(err)), KEYRING_OK);
	assert_int_equal(keyring_count(back), 3);
	for (size_t i = 0; i < 3; i++) {
		uint8_t x[KEYRING_KEY_LEN], y[KEYRING_KEY_LEN];
		bool px, py;
		assert_int_equal(keyring_get(kr, i, x, &px), KEYRING_OK);
		assert_int_equal(keyring_get(back, i, y, &py), KEYRING_OK);
		assert_memory_equal(x, y, KEYRING_KEY_LEN);
		assert_int_equal(px, py);
	}
	uint8_t pkt[256];
	size_t n = seal_msg(back, 1, pkt, sizeof(pkt));
	struct keyring *only2 = ring_of(1, (const uint8_t[]){2});
	expect_opens(only2, pkt, n);
	/* A full ring fits the documented bound. */
	struct keyring *full = ring_of(8, (const uint8_t[]){1, 2, 3, 4, 5, 6, 7, 8});
	assert_int_equal(keyring_serialize(full, buf, sizeof(buf), &len), KEYRING_OK);
	assert_int_equal(keyring_serialize(full, buf, len - 1, &len), KEYRING_E_NO_SPACE);
	struct keyring *empty = keyring_new();
	assert_int_equal(keyring_serialize(empty, buf, sizeof(buf), &len), KEYRING_E_NO_PRIMARY);
	keyring_free(empty);
	keyring_free(full);
	keyring_free(only2);
	keyring_free(back);
	keyring_free(kr);
}

static void load_detects_every_changed_byte(void **state)
{
	(void)state;
	struct keyring *kr = ring_of(2, (const uint8_t[]){1, 2});
	uint8_t buf[KEYRING_SERIALIZED_MAX];
	size_t len = 0;
	assert_int_equal(keyring_serialize(kr, buf, sizeof(buf), &len), KEYRING_OK);
	struct keyring *dst = ring_of(1, (const uint8_t[]){9});
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			char err[200] = "";
			int rc = keyring_load(dst, buf, len, err, sizeof(err));
			if (rc != KEYRING_E_CORRUPT || err[0] == '\0') {
				print_error("byte %zu bit %d: got %d \"%s\"\n", i, bit, rc, err);
				fail();
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (size_t n = 0; n < len; n++)
		assert_int_equal(keyring_load(dst, buf, n, NULL, 0), KEYRING_E_CORRUPT);
	/* dst unchanged through all of it. */
	uint8_t k[KEYRING_KEY_LEN], k9[KEYRING_KEY_LEN];
	key_of(k9, 9);
	assert_int_equal(keyring_count(dst), 1);
	assert_int_equal(keyring_get(dst, 0, k, NULL), KEYRING_OK);
	assert_memory_equal(k, k9, KEYRING_KEY_LEN);
	keyring_free(dst);
	keyring_free(kr);
}

/* Serialised keyrings with one thing wrong, check value made valid so that
 * the structural check is what fires. */
static size_t pack_ring(uint8_t *out, uint64_t version, uint64_t primary, int nkeys,
			const uint8_t (*keys)[KEYRING_KEY_LEN], size_t keylen, bool good_check,
			bool trailing)
{
	uint8_t check[16];
	crypto_generichash_state st;
	uint8_t p = (uint8_t)primary;
	crypto_generichash_init(&st, NULL, 0, sizeof(check));
	crypto_generichash_update(&st, (const uint8_t *)"swarmnode-keyring-v1", 20);
	crypto_generichash_update(&st, &p, 1);
	for (int i = 0; i < nkeys; i++)
		crypto_generichash_update(&st, keys[i], KEYRING_KEY_LEN);
	crypto_generichash_final(&st, check, sizeof(check));
	if (!good_check)
		check[0] ^= 1;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, version);
	msgpack_pack_uint64(&pk, primary);
	msgpack_pack_array(&pk, (size_t)nkeys);
	for (int i = 0; i < nkeys; i++)
		msgpack_pack_bin_with_body(&pk, keys[i], keylen);
	msgpack_pack_bin_with_body(&pk, check, sizeof(check));
	if (trailing)
		msgpack_pack_nil(&pk);
	size_t n = sb.size;
	memcpy(out, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static void load_names_what_is_wrong(void **state)
{
	(void)state;
	uint8_t keys[9][KEYRING_KEY_LEN];
	for (int i = 0; i < 9; i++)
		key_of(keys[i], (uint8_t)(i + 1));
	struct {
		size_t len;
		const char *want;
	} cases[12];
	uint8_t bufs[12][512];
	int c = 0;
	cases[c].len = pack_ring(bufs[c], 1, 0, 2, keys, 32, true, false);
	cases[c++].want = NULL; /* valid, the control */
	cases[c].len = pack_ring(bufs[c], 2, 0, 2, keys, 32, true, false);
	cases[c++].want = "keyring version: 2 out of range [1, 1]";
	cases[c].len = pack_ring(bufs[c], 1, 2, 2, keys, 32, true, false);
	cases[c++].want = "keyring primary: 2 out of range [0, 1]";
	cases[c].len = pack_ring(bufs[c], 1, 0, 0, keys, 32, true, false);
	cases[c++].want = "keyring keys: expected 1 to 8 elements, got 0";
	cases[c].len = pack_ring(bufs[c], 1, 0, 9, keys, 32, true, false);
	cases[c++].want = "bytes, at most 320 expected";
	cases[c].len = pack_ring(bufs[c], 1, 0, 2, keys, 31, true, false);
	cases[c++].want = "keyring key 0: expected 32 bytes, got 31";
	cases[c].len = pack_ring(bufs[c], 1, 0, 2, keys, 32, false, false);
	cases[c++].want = "keyring check: mismatch, the keyring data is damaged";
	cases[c].len = pack_ring(bufs[c], 1, 0, 2, keys, 32, true, true);
	cases[c++].want = "keyring: 1 trailing bytes after the message";
	uint8_t dup[2][KEYRING_KEY_LEN];
	memcpy(dup[0], keys[0], KEYRING_KEY_LEN);
	memcpy(dup[1], keys[0], KEYRING_KEY_LEN);
	cases[c].len = pack_ring(bufs[c], 1, 0, 2, dup, 32, true, false);
	cases[c++].want = "keyring key 1: same as key 0";
	bufs[c][0] = 0x93;
	bufs[c][1] = 0x01;
	bufs[c][2] = 0x00;
	bufs[c][3] = 0x90;
	cases[c].len = 4;
	cases[c++].want = "keyring: expected 4 elements, got 3";
	bufs[c][0] = 0xdd;
	memset(bufs[c] + 1, 0xff, 4);
	cases[c].len = 5;
	cases[c++].want = "keyring: container at byte 0 claims 4294967295 elements";
	for (int i = 0; i < c; i++) {
		struct keyring *kr = keyring_new();
		char err[200] = "";
		int rc = keyring_load(kr, bufs[i], cases[i].len, err, sizeof(err));
		if (cases[i].want == NULL) {
			assert_int_equal(rc, KEYRING_OK);
		} else if (rc != KEYRING_E_CORRUPT || strstr(err, cases[i].want) == NULL) {
			print_error("case %d: got %d \"%s\", want \"%s\"\n", i, rc, err, cases[i].want);
			fail();
		}
		keyring_free(kr);
	}
}

static void strerror_is_distinct(void **state)
{
	(void)state;
	for (int a = -1; a >= -11; a--) {
		assert_string_not_equal(keyring_strerror(a), "unknown error");
		for (int b = -1; b > a; b--)
			assert_string_not_equal(keyring_strerror(a), keyring_strerror(b));
	}
	assert_string_equal(keyring_strerror(-12), "unknown error");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_then_open),
		cmocka_unit_test(empty_plaintext_round_trips),
		cmocka_unit_test(key_id_is_blake2b_of_domain_and_key),
		cmocka_unit_test(every_bit_flip_is_refused),
		cmocka_unit_test(truncation_is_refused),
		cmocka_unit_test(failed_open_leaves_no_plaintext),
		cmocka_unit_test(wrong_key_is_unknown),
		cmocka_unit_test(rotation),
		cmocka_unit_test(management_rules),
		cmocka_unit_test(buffers_are_bounds_checked),
		cmocka_unit_test(colliding_key_ids_fall_back_to_trying),
		cmocka_unit_test(serialize_round_trips),
		cmocka_unit_test(load_detects_every_changed_byte),
		cmocka_unit_test(load_names_what_is_wrong),
		cmocka_unit_test(strerror_is_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
