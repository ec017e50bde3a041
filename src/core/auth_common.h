/* auth_common: what the join handshake and the peer stream share besides framing: the failure text, and the keyed hashes and signed bytes over a transcript. */
#ifndef SWARMNODE_CORE_AUTH_COMMON_H
#define SWARMNODE_CORE_AUTH_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a transcript hash T and of each key and mac hashed from it. */
#define AUTH_HASH_LEN 32

/* Writes "head: detail" into err (cap bytes), the detail formatted from fmt
 * and ap; only head when fmt is NULL or no room is left after it. */
void auth_format_error(char *err, size_t cap, const char *head, const char *fmt, va_list ap);

/* out = BLAKE2b-256(key = key[0..keylen), domain || t). */
void auth_keyed_hash(const uint8_t *key, size_t keylen, const char *domain,
		     const uint8_t t[AUTH_HASH_LEN], uint8_t out[AUTH_HASH_LEN]);

/* Writes domain || t, the bytes a side signs, into out; returns their length. */
size_t auth_signed_bytes(const char *domain, const uint8_t t[AUTH_HASH_LEN], uint8_t *out);

#endif
