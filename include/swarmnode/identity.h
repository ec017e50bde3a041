/* identity: the cluster's Ed25519 root key and root-signed node certificates. */
#ifndef SWARMNODE_IDENTITY_H
#define SWARMNODE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "swarmnode/ids.h"

#define IDENTITY_PK_LEN 32   /* Ed25519 public key */
#define IDENTITY_SK_LEN 64   /* Ed25519 secret key (libsodium's seed || public key form) */
#define IDENTITY_SEED_LEN 32 /* random bytes a keypair is derived from */
#define IDENTITY_SIG_LEN 64  /* Ed25519 signature */

/* How long the certificates a swarm issues last. Docker issues 90-day node
 * certificates and renews them automatically; swarmnode has no renewal yet (it
 * needs the managers' Raft store), so certificates last as long as Docker's
 * root CA does, 20 years, rather than expire under a running cluster. */
#define IDENTITY_CERT_LIFETIME_MS (20ull * 365 * 24 * 3600 * 1000)

/* Version of the certificate layout below. */
#define IDENTITY_CERT_VERSION 1

/* Upper bound of an encoded certificate (the encoding is 173 bytes today). */
#define IDENTITY_CERT_MAX 256

/* How far a certificate's issued-at may lie in the verifier's future: clocks of
 * the issuing manager and of the verifying node are not synchronised. */
#define IDENTITY_CLOCK_SKEW_MS (5ull * 60 * 1000)

/* Error codes, all negative; identity_strerror names them. */
#define IDENTITY_ERRNO_MAP(X)                                                      \
	X(MALFORMED, -1, "certificate is malformed")                                \
	X(NO_SPACE, -2, "output buffer too small")                                  \
	X(INVALID, -3, "invalid argument")                                          \
	X(SIGNATURE, -4, "certificate signature does not verify against the root key") \
	X(CLUSTER, -5, "certificate belongs to another cluster")                    \
	X(NOT_YET_VALID, -6, "certificate is not yet valid")                        \
	X(EXPIRED, -7, "certificate has expired")

enum identity_err {
	IDENTITY_OK = 0,
#define IDENTITY_ERR_ENUM(name, val, msg) IDENTITY_E_##name = (val),
	IDENTITY_ERRNO_MAP(IDENTITY_ERR_ENUM)
#undef IDENTITY_ERR_ENUM
};

/* The message of an IDENTITY_* code ("unknown error" for anything else). */
const char *identity_strerror(int err);

/* An Ed25519 keypair: the cluster root key, or a node's own key. */
struct identity_keypair {
	uint8_t pk[IDENTITY_PK_LEN]; /* public key */
	uint8_t sk[IDENTITY_SK_LEN]; /* secret key; wipe with identity_keypair_wipe */
};

/* Derives a keypair from 32 caller-supplied random bytes (from randombytes_buf
 * in the daemon, from a seeded source in tests). The seed is the secret: keep
 * it, or the sk, in the data dir with mode 0600. */
void identity_keypair_from_seed(struct identity_keypair *kp, const uint8_t seed[IDENTITY_SEED_LEN]);

/* Overwrites the keypair with zeros. */
void identity_keypair_wipe(struct identity_keypair *kp);

enum identity_role {
	IDENTITY_ROLE_WORKER = 0,
	IDENTITY_ROLE_MANAGER = 1,
};

/* "worker" or "manager". */
const char *identity_role_name(enum identity_role role);

/* A node certificate: the root key's statement that node_pk speaks for node_id
 * in role within cluster_id between issued_at_ms and expires_at_ms.
 *
 * Encoding (msgpack, canonical: every integer, string and binary in its
 * shortest form, as msgpack-c packs them):
 *
 *   fixarray(8)
 *   +-----+----------+------+----------+------------+-----------+------------+-----------+
 *   | ver | node_id  | role | node_pk  | cluster_id | issued_at | expires_at | signature |
 *   | uint| str(25)  | uint | bin(32)  | str(25)    | uint64 ms | uint64 ms  | bin(64)   |
 *   | = 1 | [0-9a-z] | 0, 1 | Ed25519  | [0-9a-z]   |           | > issued_at| Ed25519   |
 *   +-----+----------+------+----------+------------+-----------+------------+-----------+
 *
 * The signature is Ed25519 by the root secret key over
 *   "swarmnode-cert-v1" || fixarray(7) [ver .. expires_at]
 * that is, the same seven fields as they are encoded, under a seven-element
 * array header, after a domain string that keeps a certificate signature from
 * ever being mistaken for any other signature the root key makes. */
struct identity_cert {
	char node_id[IDS_LEN + 1];           /* the node's id, NUL-terminated */
	enum identity_role role;             /* worker or manager */
	uint8_t node_pk[IDENTITY_PK_LEN];    /* the node's own Ed25519 public key */
	char cluster_id[IDS_LEN + 1];        /* the cluster's id, NUL-terminated */
	uint64_t issued_at_ms;               /* not valid before (ms since the Unix epoch) */
	uint64_t expires_at_ms;              /* not valid from this instant on */
	uint8_t sig[IDENTITY_SIG_LEN];       /* root signature over the fields above */
};

/* Fills c with the given fields and signs it with the root secret key.
 * Returns 0, or IDENTITY_E_INVALID when an id is not a valid id, the role is
 * unknown or expires_at_ms <= issued_at_ms. */
int identity_cert_issue(struct identity_cert *c, const char *node_id, enum identity_role role,
			const uint8_t node_pk[IDENTITY_PK_LEN], const char *cluster_id,
			uint64_t issued_at_ms, uint64_t expires_at_ms,
			const uint8_t root_sk[IDENTITY_SK_LEN]);

/* Encodes c into out (cap bytes) and sets *len. Returns 0, IDENTITY_E_NO_SPACE,
 * or IDENTITY_E_INVALID when c holds fields that could not be decoded again. */
int identity_cert_encode(const struct identity_cert *c, uint8_t *out, size_t cap, size_t *len);

/* Decodes a certificate, checking every type and bound and that the encoding
 * is canonical (one certificate has exactly one encoding). It does not check
 * the signature: call identity_cert_verify. Returns 0 or IDENTITY_E_MALFORMED
 * with a message naming the bad field in err (errlen bytes; may be NULL). */
int identity_cert_decode(struct identity_cert *c, const uint8_t *in, size_t len, char *err,
			 size_t errlen);

/* Checks the root signature, that the certificate belongs to cluster_id (NULL
 * accepts any cluster: a joiner learns the cluster id from the certificate it
 * has just verified), and that now_ms lies in
 * [issued_at_ms - IDENTITY_CLOCK_SKEW_MS, expires_at_ms). Returns 0 or
 * IDENTITY_E_SIGNATURE, _CLUSTER, _NOT_YET_VALID, _EXPIRED (or _INVALID for
 * a certificate that cannot be encoded), with the details in err. */
int identity_cert_verify(const struct identity_cert *c, const uint8_t root_pk[IDENTITY_PK_LEN],
			 const char *cluster_id, uint64_t now_ms, char *err, size_t errlen);

#endif
