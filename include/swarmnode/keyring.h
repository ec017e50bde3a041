/* keyring: the gossip keyring and the XChaCha20-Poly1305 envelope of every gossip packet. */
/* Like every crypto module of the core it uses libsodium and no randomness of
 * its own; the process calls sodium_init() once at startup so that libsodium
 * picks its fast implementations (without it the portable ones run). */
#ifndef SWARMNODE_KEYRING_H
#define SWARMNODE_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYRING_KEY_LEN 32     /* XChaCha20-Poly1305-IETF key */
#define KEYRING_MAX_KEYS 8     /* keys held at once: the primary and older ones */
#define KEYRING_VERSION 1      /* envelope version byte */
#define KEYRING_KEY_ID_LEN 4   /* key id carried in the envelope */
#define KEYRING_NONCE_LEN 24   /* XChaCha20 nonce, random per packet */
#define KEYRING_TAG_LEN 16     /* Poly1305 tag */

/* Envelope of a sealed packet:
 *
 *    0        1                5                              29
 *   +--------+----------------+------------------------------+----------------+-------+
 *   | ver=1  | key id (4)     | nonce (24)                   | ciphertext (n) | tag   |
 *   +--------+----------------+------------------------------+----------------+-(16)--+
 *   \________________ header: associated data _______________/
 *
 * The key id is the first 4 bytes of BLAKE2b-256("swarmnode-gossip-key-id" ||
 * key): the receiver picks the key without trial decryption (and tries every
 * key with that id in the rare case two ids collide). The header is
 * authenticated, so a packet cannot be moved to another version or key id. */
#define KEYRING_HEADER_LEN (1 + KEYRING_KEY_ID_LEN + KEYRING_NONCE_LEN)
/* Bytes a sealed packet adds to its plaintext: 45. Subtract it from the UDP
 * packet budget before filling a packet. */
#define KEYRING_OVERHEAD (KEYRING_HEADER_LEN + KEYRING_TAG_LEN)

/* Upper bound of keyring_serialize's output. */
#define KEYRING_SERIALIZED_MAX (16 + KEYRING_MAX_KEYS * (KEYRING_KEY_LEN + 2) + 32)

/* Error codes, all negative; keyring_strerror names them. */
#define KEYRING_ERRNO_MAP(X)                                                         \
	X(TOO_SHORT, -1, "packet too short for the gossip envelope")                 \
	X(BAD_VERSION, -2, "unknown gossip envelope version")                        \
	X(UNKNOWN_KEY, -3, "packet sealed with a key not in the keyring")           \
	X(AUTH, -4, "packet failed authentication")                                  \
	X(NO_SPACE, -5, "output buffer too small")                                   \
	X(NO_PRIMARY, -6, "keyring has no key to seal with")                         \
	X(FULL, -7, "keyring is full")                                               \
	X(NOT_FOUND, -8, "key is not in the keyring")                                \
	X(IS_PRIMARY, -9, "the primary key cannot be removed; make another key primary first") \
	X(CORRUPT, -10, "keyring data is corrupt")                                   \
	X(TOO_LONG, -11, "message too long")

enum keyring_err {
	KEYRING_OK = 0,
#define KEYRING_ERR_ENUM(name, val, msg) KEYRING_E_##name = (val),
	KEYRING_ERRNO_MAP(KEYRING_ERR_ENUM)
#undef KEYRING_ERR_ENUM
};

/* The message of a KEYRING_* code ("unknown error" for anything else). */
const char *keyring_strerror(int err);

/* A set of at most KEYRING_MAX_KEYS keys, one of them primary. Opaque. */
struct keyring;

/* An empty keyring, or NULL when out of memory. The caller owns it. */
struct keyring *keyring_new(void);

/* Wipes every key and frees the keyring. NULL is a no-op. */
void keyring_free(struct keyring *kr);

/* Adds a key that packets may be opened with. The first key installed becomes
 * primary. Installing a key that is already there changes nothing and
 * succeeds. Returns 0 or KEYRING_E_FULL. */
int keyring_install(struct keyring *kr, const uint8_t key[KEYRING_KEY_LEN]);

/* Makes an installed key the primary, the one packets are sealed with.
 * Returns 0 or KEYRING_E_NOT_FOUND. */
int keyring_use(struct keyring *kr, const uint8_t key[KEYRING_KEY_LEN]);

/* Removes and wipes a key. Returns 0, KEYRING_E_NOT_FOUND, or
 * KEYRING_E_IS_PRIMARY (the primary key is never removed). */
int keyring_remove(struct keyring *kr, const uint8_t key[KEYRING_KEY_LEN]);

/* Number of installed keys. */
size_t keyring_count(const struct keyring *kr);

/* Copies key i (0 <= i < keyring_count) into key and says whether it is the
 * primary (primary may be NULL). Returns 0 or KEYRING_E_NOT_FOUND. Order is
 * installation order. The copy is the caller's to wipe (sodium_memzero). */
int keyring_get(const struct keyring *kr, size_t i, uint8_t key[KEYRING_KEY_LEN], bool *primary);

/* The envelope key id of a key. */
void keyring_key_id(const uint8_t key[KEYRING_KEY_LEN], uint8_t id[KEYRING_KEY_ID_LEN]);

/* Seals plain[0..plain_len) with the primary key into out (out_cap bytes),
 * setting *out_len = plain_len + KEYRING_OVERHEAD. The caller passes 24 fresh
 * random bytes (randombytes_buf) as the nonce. plain and out must not overlap.
 * Returns 0, KEYRING_E_NO_PRIMARY, KEYRING_E_TOO_LONG or KEYRING_E_NO_SPACE. */
int keyring_seal(const struct keyring *kr, const uint8_t nonce[KEYRING_NONCE_LEN],
		 const uint8_t *plain, size_t plain_len, uint8_t *out, size_t out_cap,
		 size_t *out_len);

/* Opens a sealed packet in[0..in_len) into out (out_cap bytes, at least
 * in_len - KEYRING_OVERHEAD), setting *out_len. in and out must not overlap.
 * Returns 0, KEYRING_E_TOO_SHORT, KEYRING_E_BAD_VERSION, KEYRING_E_UNKNOWN_KEY,
 * KEYRING_E_AUTH or KEYRING_E_NO_SPACE; on error out holds no plaintext. */
int keyring_open(const struct keyring *kr, const uint8_t *in, size_t in_len, uint8_t *out,
		 size_t out_cap, size_t *out_len);

/* Serialises the keyring for the data dir (the caller writes it with mode
 * 0600) or for the join handshake's payload, into out (KEYRING_SERIALIZED_MAX
 * bytes suffice). Layout, msgpack:
 *
 *   fixarray(4) [ version: uint = 1,
 *                 primary: uint, index into keys,
 *                 keys: array(1..8) of bin(32),
 *                 check: bin(16) = BLAKE2b-128("swarmnode-keyring-v1" || primary || keys) ]
 *
 * Returns 0, KEYRING_E_NO_PRIMARY (an empty keyring is not worth storing) or
 * KEYRING_E_NO_SPACE. */
int keyring_serialize(const struct keyring *kr, uint8_t *out, size_t cap, size_t *len);

/* Replaces the keys of kr with those serialised in in[0..len), after checking
 * the layout, every bound, that no key appears twice and the check value.
 * Returns 0, or KEYRING_E_CORRUPT with a message naming what is wrong in err
 * (errlen bytes; may be NULL) and kr unchanged. */
int keyring_load(struct keyring *kr, const uint8_t *in, size_t len, char *err, size_t errlen);

#endif
