/* token: Docker-format join tokens, SWMTKN-1-<root key digest>-<secret>. */
#ifndef SWARMNODE_TOKEN_H
#define SWARMNODE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/ids.h"

#define TOKEN_PREFIX "SWMTKN"
#define TOKEN_VERSION 1
#define TOKEN_DIGEST_LEN 32          /* SHA-256 of the root public key */
#define TOKEN_DIGEST_CHARS 50        /* the digest in base 36, zero-padded (36^50 > 2^256) */
#define TOKEN_SECRET_LEN 16          /* 128 random bits */
#define TOKEN_SECRET_CHARS IDS_LEN   /* the secret in base 36, zero-padded (ids_format) */
#define TOKEN_ROOT_PK_LEN 32         /* Ed25519 public key the digest is taken of */

/* "SWMTKN-1-" + digest + "-" + secret, without the terminating NUL: 85. */
#define TOKEN_STR_LEN (sizeof(TOKEN_PREFIX) - 1 + 3 + TOKEN_DIGEST_CHARS + 1 + TOKEN_SECRET_CHARS)

/* Parse errors, all negative; token_strerror names them, and token_parse's
 * message buffer adds where. */
#define TOKEN_ERRNO_MAP(X)                                                       \
	X(PREFIX, -1, "not a join token (it must start with SWMTKN-)")            \
	X(VERSION, -2, "unsupported join token version")                          \
	X(FORMAT, -3, "join token must have the form SWMTKN-1-<digest>-<secret>") \
	X(DIGEST_LEN, -4, "join token digest has the wrong length")               \
	X(DIGEST_CHAR, -5, "join token digest has a character outside [0-9a-z]")  \
	X(DIGEST_RANGE, -6, "join token digest is larger than 256 bits")          \
	X(SECRET_LEN, -7, "join token secret has the wrong length")               \
	X(SECRET_CHAR, -8, "join token secret has a character outside [0-9a-z]")  \
	X(SECRET_RANGE, -9, "join token secret is larger than 128 bits")

enum token_err {
	TOKEN_OK = 0,
#define TOKEN_ERR_ENUM(name, val, msg) TOKEN_E_##name = (val),
	TOKEN_ERRNO_MAP(TOKEN_ERR_ENUM)
#undef TOKEN_ERR_ENUM
};

/* The message of a TOKEN_* code ("unknown error" for anything else). */
const char *token_strerror(int err);

/* A parsed join token. Worker and manager tokens of one cluster share the
 * digest and differ only in the secret. */
struct token {
	uint8_t digest[TOKEN_DIGEST_LEN]; /* SHA-256 of the cluster's root public key */
	uint8_t secret[TOKEN_SECRET_LEN]; /* the 128-bit secret, big-endian as written */
};

/* The digest a token carries for a root public key: SHA-256 of its 32 bytes. */
void token_digest(const uint8_t root_pk[TOKEN_ROOT_PK_LEN], uint8_t digest[TOKEN_DIGEST_LEN]);

/* Fills t for a cluster root key and a secret of 16 caller-supplied random bytes. */
void token_make(struct token *t, const uint8_t root_pk[TOKEN_ROOT_PK_LEN],
		const uint8_t secret[TOKEN_SECRET_LEN]);

/* Writes "SWMTKN-1-<50 base-36 digits>-<25 base-36 digits>" into out. */
void token_format(const struct token *t, char out[TOKEN_STR_LEN + 1]);

/* Parses a token exactly as token_format writes it (lower-case base 36, no
 * surrounding white space: the CLI trims what a user pasted). Returns 0 and
 * fills t, or a TOKEN_E_* code with a message naming what is wrong in err
 * (errlen bytes; may be NULL). t is untouched on error. */
int token_parse(const char *s, struct token *t, char *err, size_t errlen);

/* True when the token's digest is the digest of root_pk: the token belongs to
 * the cluster whose root key this is. */
bool token_matches_root(const struct token *t, const uint8_t root_pk[TOKEN_ROOT_PK_LEN]);

/* Compares two secrets in constant time. */
bool token_secret_equal(const uint8_t a[TOKEN_SECRET_LEN], const uint8_t b[TOKEN_SECRET_LEN]);

#endif
