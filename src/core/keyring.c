/* keyring: the gossip keyring and the XChaCha20-Poly1305 envelope of every gossip packet. */
#include "swarmnode/keyring.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp_wire.h"

_Static_assert(KEYRING_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(KEYRING_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(KEYRING_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(KEYRING_OVERHEAD == 45, "envelope overhead");
_Static_assert(KEYRING_MAX_KEYS < 128, "primary index packs as a fixint");

static const char key_id_domain[] = "swarmnode-gossip-key-id";
static const char check_domain[] = "swarmnode-keyring-v1";
#define KEYRING_CHECK_LEN 16

/* One installed key. */
struct keyring_slot {
	uint8_t key[KEYRING_KEY_LEN];   /* the secret key */
	uint8_t id[KEYRING_KEY_ID_LEN]; /* its envelope key id */
};

struct keyring {
	struct keyring_slot slots[KEYRING_MAX_KEYS]; /* slots[0..count) are in use, oldest first */
	size_t count;                                /* keys installed */
	size_t primary;                              /* index of the sealing key; valid when count > 0 */
};

const char *keyring_strerror(int err)
{
	switch (err) {
	case KEYRING_OK:
		return "success";
#define KEYRING_ERR_CASE(name, val, msg) \
	case KEYRING_E_##name:           \
		return msg;
		KEYRING_ERRNO_MAP(KEYRING_ERR_CASE)
#undef KEYRING_ERR_CASE
	}
	return "unknown error";
}

struct keyring *keyring_new(void)
{
	return calloc(1, sizeof(struct keyring));
}

void keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	sodium_memzero(kr, sizeof(*kr));
	free(kr);
}

void keyring_key_id(const uint8_t key[KEYRING_KEY_LEN], uint8_t id[KEYRING_KEY_ID_LEN])
{
	uint8_t h[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)key_id_domain, sizeof(key_id_domain) - 1);
	crypto_generichash_update(&st, key, KEYRING_KEY_LEN);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(id, h, KEYRING_KEY_ID_LEN);
}

/* Index of key in kr, or -1. */
static int keyring_find(const struct keyring *kr, const uint8_t key[KEYRING_KEY_LEN])
{
	for (size_t i = 0; i < kr->count; i++)
		if (sodium_memcmp(kr->slots[i].key, key, KEYRING_KEY_LEN) == 0)
			return (int)i;
	return -1;
}

int keyring_install(struct keyring *kr, const uint8_t key[KEYRING_KEY_LEN])
{
	if (keyring_find(kr, key) >= 0)
		return KEYRING_OK;
	if (kr->count == KEYRING_MAX_KEYS)
		return KEYRING_E_FULL;
	struct keyring_slot *s = &kr->slots[kr->count];
	memcpy(s->key, key, KEYRING_KEY_LEN);
	keyring_key_id(key, s->id);
	if (kr->count == 0)
		kr->primary = 0;
	kr->count++;
	return KEYRING_OK;
}

int keyring_use(struct keyring *kr, const uint8_t key[KEYRING_KEY_LEN])
{
	int i = keyring_find(kr, key);
	if (i < 0)
		return KEYRING_E_NOT_FOUND;
	kr->primary = (size_t)i;
	return KEYRING_OK;
}

int keyring_remove(struct keyring *kr, const uint8_t key[KEYRING_KEY_LEN])
{
	int found = keyring_find(kr, key);
	if (found < 0)
		return KEYRING_E_NOT_FOUND;
	size_t i = (size_t)found;
	if (i == kr->primary)
		return KEYRING_E_IS_PRIMARY;
	memmove(&kr->slots[i], &kr->slots[i + 1], (kr->count - i - 1) * sizeof(kr->slots[0]));
	kr->count--;
	sodium_memzero(&kr->slots[kr->count], sizeof(kr->slots[0]));
	if (kr->primary > i)
		kr->primary--;
	return KEYRING_OK;
}

size_t keyring_count(const struct keyring *kr)
{
	return kr->count;
}

int keyring_get(const struct keyring *kr, size_t i, uint8_t key[KEYRING_KEY_LEN], bool *primary)
{
	if (i >= kr->count)
		return KEYRING_E_NOT_FOUND;
	memcpy(key, kr->slots[i].key, KEYRING_KEY_LEN);
	if (primary != NULL)
		*primary = i == kr->primary;
	return KEYRING_OK;
}

int keyring_seal(const struct keyring *kr, const uint8_t nonce[KEYRING_NONCE_LEN],
		 const uint8_t *plain, size_t plain_len, uint8_t *out, size_t out_cap,
		 size_t *out_len)
{
	if (kr->count == 0)
		return KEYRING_E_NO_PRIMARY;
	if (plain_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
	    plain_len > SIZE_MAX - KEYRING_OVERHEAD)
		return KEYRING_E_TOO_LONG;
	if (out_cap < plain_len + KEYRING_OVERHEAD)
		return KEYRING_E_NO_SPACE;
	const struct keyring_slot *s = &kr->slots[kr->primary];
	out[0] = KEYRING_VERSION;
	memcpy(out + 1, s->id, KEYRING_KEY_ID_LEN);
	memcpy(out + 1 + KEYRING_KEY_ID_LEN, nonce, KEYRING_NONCE_LEN);
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + KEYRING_HEADER_LEN, &clen, plain, plain_len,
						   out, KEYRING_HEADER_LEN, NULL, nonce, s->key);
	*out_len = KEYRING_HEADER_LEN + (size_t)clen;
	return KEYRING_OK;
}

int keyring_open(const struct keyring *kr, const uint8_t *in, size_t in_len, uint8_t *out,
		 size_t out_cap, size_t *out_len)
{
	if (in_len < KEYRING_OVERHEAD)
		return KEYRING_E_TOO_SHORT;
	if (in[0] != KEYRING_VERSION)
		return KEYRING_E_BAD_VERSION;
	size_t plain_len = in_len - KEYRING_OVERHEAD;
	if (out_cap < plain_len)
		return KEYRING_E_NO_SPACE;
	const uint8_t *id = in + 1;
	const uint8_t *nonce = in + 1 + KEYRING_KEY_ID_LEN;
	bool known = false;
	/* Ids are 32 bits, so two keys of one ring may share one; then each is
	 * tried in turn and a wrong one simply fails authentication. */
	for (size_t i = 0; i < kr->count; i++) {
		const struct keyring_slot *s = &kr->slots[i];
		if (memcmp(s->id, id, KEYRING_KEY_ID_LEN) != 0)
			continue;
		known = true;
		unsigned long long mlen = 0;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, in + KEYRING_HEADER_LEN,
							       in_len - KEYRING_HEADER_LEN, in,
							       KEYRING_HEADER_LEN, nonce, s->key) == 0) {
			*out_len = (size_t)mlen;
			return KEYRING_OK;
		}
	}
	return known ? KEYRING_E_AUTH : KEYRING_E_UNKNOWN_KEY;
}

/* The check value stored with a serialised keyring. */
static void keyring_check(const struct keyring_slot *slots, size_t count, size_t primary,
			  uint8_t check[KEYRING_CHECK_LEN])
{
	crypto_generichash_state st;
	uint8_t p = (uint8_t)primary;
	crypto_generichash_init(&st, NULL, 0, KEYRING_CHECK_LEN);
	crypto_generichash_update(&st, (const uint8_t *)check_domain, sizeof(check_domain) - 1);
	crypto_generichash_update(&st, &p, 1);
	for (size_t i = 0; i < count; i++)
		crypto_generichash_update(&st, slots[i].key, KEYRING_KEY_LEN);
	crypto_generichash_final(&st, check, KEYRING_CHECK_LEN);
	sodium_memzero(&st, sizeof(st));
}

int keyring_serialize(const struct keyring *kr, uint8_t *out, size_t cap, size_t *len)
{
	if (kr->count == 0)
		return KEYRING_E_NO_PRIMARY;
	uint8_t check[KEYRING_CHECK_LEN];
	keyring_check(kr->slots, kr->count, kr->primary, check);
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, KEYRING_VERSION);
	msgpack_pack_uint8(&pk, (uint8_t)kr->primary);
	msgpack_pack_array(&pk, kr->count);
	for (size_t i = 0; i < kr->count; i++)
		msgpack_pack_bin_with_body(&pk, kr->slots[i].key, KEYRING_KEY_LEN);
	msgpack_pack_bin_with_body(&pk, check, sizeof(check));
	if (b.overflow) {
		sodium_memzero(out, cap);
		return KEYRING_E_NO_SPACE;
	}
	*len = b.len;
	return KEYRING_OK;
}

/* Parses into tmp; false with err set on the first problem. */
static bool keyring_parse(struct keyring *tmp, const uint8_t *in, size_t len, char *err,
			  size_t errlen)
{
	if (len > KEYRING_SERIALIZED_MAX)
		return mp_fail(err, errlen, "keyring: %zu bytes, at most %d expected", len,
			       KEYRING_SERIALIZED_MAX);
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024))
		return mp_fail(err, errlen, "keyring: out of memory");
	bool ok = false;
	msgpack_object o;
	uint64_t v, primary;
	if (!mp_unpack_exact(&zone, in, len, &o, "keyring", err, errlen) ||
	    !mp_get_array(&o, 4, "keyring", err, errlen))
		goto err_after_zone;
	const msgpack_object *f = o.via.array.ptr;
	if (!mp_get_uint(&f[0], KEYRING_VERSION, KEYRING_VERSION, &v, "keyring version", err, errlen) ||
	    !mp_get_array_range(&f[2], 1, KEYRING_MAX_KEYS, "keyring keys", err, errlen) ||
	    !mp_get_uint(&f[1], 0, f[2].via.array.size - 1, &primary, "keyring primary", err, errlen))
		goto err_after_zone;
	tmp->count = f[2].via.array.size;
	tmp->primary = (size_t)primary;
	for (size_t i = 0; i < tmp->count; i++) {
		char what[48];
		snprintf(what, sizeof(what), "keyring key %zu", i);
		struct keyring_slot *s = &tmp->slots[i];
		if (!mp_get_bin_exact(&f[2].via.array.ptr[i], s->key, KEYRING_KEY_LEN, what, err, errlen))
			goto err_after_zone;
		for (size_t j = 0; j < i; j++) {
			if (sodium_memcmp(tmp->slots[j].key, s->key, KEYRING_KEY_LEN) == 0) {
				mp_fail(err, errlen, "keyring key %zu: same as key %zu", i, j);
				goto err_after_zone;
			}
		}
		keyring_key_id(s->key, s->id);
	}
	uint8_t want[KEYRING_CHECK_LEN], got[KEYRING_CHECK_LEN];
	if (!mp_get_bin_exact(&f[3], got, sizeof(got), "keyring check", err, errlen))
		goto err_after_zone;
	keyring_check(tmp->slots, tmp->count, tmp->primary, want);
	if (sodium_memcmp(want, got, sizeof(want)) != 0) {
		mp_fail(err, errlen, "keyring check: mismatch, the keyring data is damaged");
		goto err_after_zone;
	}
	ok = true;
err_after_zone:
	/* Binaries point into in, so the zone holds no key material. */
	msgpack_zone_destroy(&zone);
	return ok;
}

int keyring_load(struct keyring *kr, const uint8_t *in, size_t len, char *err, size_t errlen)
{
	struct keyring tmp;
	memset(&tmp, 0, sizeof(tmp));
	bool ok = keyring_parse(&tmp, in, len, err, errlen);
	if (ok) {
		sodium_memzero(kr, sizeof(*kr));
		*kr = tmp;
	}
	sodium_memzero(&tmp, sizeof(tmp));
	return ok ? KEYRING_OK : KEYRING_E_CORRUPT;
}
