/* identity: the cluster's Ed25519 root key and root-signed node certificates. */
#include "swarmnode/identity.h"

#include <sodium.h>
#include <string.h>

#include "mp_wire.h"

_Static_assert(IDENTITY_PK_LEN == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key size");
_Static_assert(IDENTITY_SK_LEN == crypto_sign_SECRETKEYBYTES, "Ed25519 secret key size");
_Static_assert(IDENTITY_SEED_LEN == crypto_sign_SEEDBYTES, "Ed25519 seed size");
_Static_assert(IDENTITY_SIG_LEN == crypto_sign_BYTES, "Ed25519 signature size");

/* Domain string prefixed to the signed bytes of a certificate. */
static const char cert_domain[] = "swarmnode-cert-v1";
#define CERT_DOMAIN_LEN (sizeof(cert_domain) - 1)

const char *identity_strerror(int err)
{
	switch (err) {
	case IDENTITY_OK:
		return "success";
#define IDENTITY_ERR_CASE(name, val, msg) \
	case IDENTITY_E_##name:           \
		return msg;
		IDENTITY_ERRNO_MAP(IDENTITY_ERR_CASE)
#undef IDENTITY_ERR_CASE
	}
	return "unknown error";
}

void identity_keypair_from_seed(struct identity_keypair *kp, const uint8_t seed[IDENTITY_SEED_LEN])
{
	crypto_sign_seed_keypair(kp->pk, kp->sk, seed);
}

void identity_keypair_wipe(struct identity_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

const char *identity_role_name(enum identity_role role)
{
	switch (role) {
	case IDENTITY_ROLE_WORKER:
		return "worker";
	case IDENTITY_ROLE_MANAGER:
		return "manager";
	}
	return "unknown";
}

/* The fields an issuer controls must round-trip through the decoder. */
static bool cert_fields_valid(const struct identity_cert *c)
{
	return ids_valid(c->node_id) && ids_valid(c->cluster_id) &&
	       (c->role == IDENTITY_ROLE_WORKER || c->role == IDENTITY_ROLE_MANAGER) &&
	       c->expires_at_ms > c->issued_at_ms;
}

/* Packs the seven signed fields after an array header of n elements (7 for the
 * signed bytes, 8 for the full encoding, which then appends the signature). */
static void cert_pack_fields(msgpack_packer *pk, const struct identity_cert *c, size_t n)
{
	msgpack_pack_array(pk, n);
	msgpack_pack_uint8(pk, IDENTITY_CERT_VERSION);
	msgpack_pack_str_with_body(pk, c->node_id, IDS_LEN);
	msgpack_pack_uint8(pk, (uint8_t)c->role);
	msgpack_pack_bin_with_body(pk, c->node_pk, IDENTITY_PK_LEN);
	msgpack_pack_str_with_body(pk, c->cluster_id, IDS_LEN);
	msgpack_pack_uint64(pk, c->issued_at_ms);
	msgpack_pack_uint64(pk, c->expires_at_ms);
}

/* Writes the bytes the root key signs (domain || seven-field array) into out
 * and returns their length, or 0 if they do not fit. */
static size_t cert_signed_bytes(const struct identity_cert *c, uint8_t *out, size_t cap)
{
	if (cap < CERT_DOMAIN_LEN)
		return 0;
	memcpy(out, cert_domain, CERT_DOMAIN_LEN);
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out + CERT_DOMAIN_LEN, cap - CERT_DOMAIN_LEN);
	cert_pack_fields(&pk, c, 7);
	if (b.overflow)
		return 0;
	return CERT_DOMAIN_LEN + b.len;
}

int identity_cert_issue(struct identity_cert *c, const char *node_id, enum identity_role role,
			const uint8_t node_pk[IDENTITY_PK_LEN], const char *cluster_id,
			uint64_t issued_at_ms, uint64_t expires_at_ms,
			const uint8_t root_sk[IDENTITY_SK_LEN])
{
	if (!ids_valid(node_id) || !ids_valid(cluster_id))
		return IDENTITY_E_INVALID;
	memset(c, 0, sizeof(*c));
	memcpy(c->node_id, node_id, IDS_LEN + 1);
	c->role = role;
	memcpy(c->node_pk, node_pk, IDENTITY_PK_LEN);
	memcpy(c->cluster_id, cluster_id, IDS_LEN + 1);
	c->issued_at_ms = issued_at_ms;
	c->expires_at_ms = expires_at_ms;
	if (!cert_fields_valid(c))
		return IDENTITY_E_INVALID;
	uint8_t msg[IDENTITY_CERT_MAX];
	size_t n = cert_signed_bytes(c, msg, sizeof(msg));
	if (n == 0)
		return IDENTITY_E_INVALID;
	crypto_sign_detached(c->sig, NULL, msg, n, root_sk);
	return IDENTITY_OK;
}

int identity_cert_encode(const struct identity_cert *c, uint8_t *out, size_t cap, size_t *len)
{
	if (!cert_fields_valid(c))
		return IDENTITY_E_INVALID;
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	cert_pack_fields(&pk, c, 8);
	msgpack_pack_bin_with_body(&pk, c->sig, IDENTITY_SIG_LEN);
	if (b.overflow)
		return IDENTITY_E_NO_SPACE;
	*len = b.len;
	return IDENTITY_OK;
}

/* Decodes into c; false with err set on the first bad field. */
static bool cert_decode(struct identity_cert *c, const uint8_t *in, size_t len, char *err,
			size_t errlen)
{
	if (len > IDENTITY_CERT_MAX)
		return mp_fail(err, errlen, "certificate: %zu bytes, at most %d allowed", len,
			       IDENTITY_CERT_MAX);
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024))
		return mp_fail(err, errlen, "certificate: out of memory");
	bool ok = false;
	msgpack_object o;
	uint64_t v;
	if (!mp_unpack_exact(&zone, in, len, &o, "certificate", err, errlen) ||
	    !mp_get_array(&o, 8, "certificate", err, errlen))
		goto err_after_zone;
	const msgpack_object *f = o.via.array.ptr;
	if (!mp_get_uint(&f[0], IDENTITY_CERT_VERSION, IDENTITY_CERT_VERSION, &v,
			 "certificate version", err, errlen) ||
	    !mp_get_id(&f[1], c->node_id, "certificate node_id", err, errlen) ||
	    !mp_get_uint(&f[2], IDENTITY_ROLE_WORKER, IDENTITY_ROLE_MANAGER, &v, "certificate role",
			 err, errlen))
		goto err_after_zone;
	c->role = (enum identity_role)v;
	if (!mp_get_bin_exact(&f[3], c->node_pk, IDENTITY_PK_LEN, "certificate node_pk", err, errlen) ||
	    !mp_get_id(&f[4], c->cluster_id, "certificate cluster_id", err, errlen) ||
	    !mp_get_uint(&f[5], 0, UINT64_MAX, &c->issued_at_ms, "certificate issued_at", err, errlen) ||
	    !mp_get_uint(&f[6], 0, UINT64_MAX, &c->expires_at_ms, "certificate expires_at", err,
			 errlen) ||
	    !mp_get_bin_exact(&f[7], c->sig, IDENTITY_SIG_LEN, "certificate signature", err, errlen))
		goto err_after_zone;
	if (c->expires_at_ms <= c->issued_at_ms) {
		mp_fail(err, errlen, "certificate expires_at: %llu is not after issued_at %llu",
			(unsigned long long)c->expires_at_ms, (unsigned long long)c->issued_at_ms);
		goto err_after_zone;
	}
	/* One certificate, one encoding: re-encode and compare, so that nobody can
	 * present a differently-encoded twin of a valid certificate. */
	uint8_t again[IDENTITY_CERT_MAX];
	size_t again_len;
	if (identity_cert_encode(c, again, sizeof(again), &again_len) != IDENTITY_OK ||
	    again_len != len || memcmp(again, in, len) != 0) {
		mp_fail(err, errlen, "certificate: not in canonical encoding");
		goto err_after_zone;
	}
	ok = true;
err_after_zone:
	msgpack_zone_destroy(&zone);
	return ok;
}

int identity_cert_decode(struct identity_cert *c, const uint8_t *in, size_t len, char *err,
			 size_t errlen)
{
	struct identity_cert tmp;
	memset(&tmp, 0, sizeof(tmp));
	if (!cert_decode(&tmp, in, len, err, errlen))
		return IDENTITY_E_MALFORMED;
	*c = tmp;
	return IDENTITY_OK;
}

int identity_cert_verify(const struct identity_cert *c, const uint8_t root_pk[IDENTITY_PK_LEN],
			 const char *cluster_id, uint64_t now_ms, char *err, size_t errlen)
{
	uint8_t msg[IDENTITY_CERT_MAX];
	size_t n = cert_fields_valid(c) ? cert_signed_bytes(c, msg, sizeof(msg)) : 0;
	if (n == 0) {
		mp_fail(err, errlen, "certificate has invalid fields");
		return IDENTITY_E_INVALID;
	}
	if (crypto_sign_verify_detached(c->sig, msg, n, root_pk) != 0) {
		mp_fail(err, errlen, "certificate of node %s: signature does not verify against the root key",
			c->node_id);
		return IDENTITY_E_SIGNATURE;
	}
	if (cluster_id != NULL && strcmp(cluster_id, c->cluster_id) != 0) {
		mp_fail(err, errlen, "certificate of node %s: issued for cluster %s, not %s", c->node_id,
			c->cluster_id, cluster_id);
		return IDENTITY_E_CLUSTER;
	}
	uint64_t skew = IDENTITY_CLOCK_SKEW_MS;
	if (c->issued_at_ms > skew && now_ms < c->issued_at_ms - skew) {
		mp_fail(err, errlen,
			"certificate of node %s: not valid until %llu ms, now is %llu ms (clock skew?)",
			c->node_id, (unsigned long long)c->issued_at_ms, (unsigned long long)now_ms);
		return IDENTITY_E_NOT_YET_VALID;
	}
	if (now_ms >= c->expires_at_ms) {
		mp_fail(err, errlen, "certificate of node %s: expired at %llu ms, now is %llu ms",
			c->node_id, (unsigned long long)c->expires_at_ms, (unsigned long long)now_ms);
		return IDENTITY_E_EXPIRED;
	}
	return IDENTITY_OK;
}
