/* auth_common: what the join handshake and the peer stream share besides framing: the failure text, and the keyed hashes and signed bytes over a transcript. */
#include "auth_common.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void auth_format_error(char *err, size_t cap, const char *head, const char *fmt, va_list ap)
{
	int n = snprintf(err, cap, "%s", head);
	if (fmt != NULL && n >= 0 && (size_t)n < cap - 2) {
		err[n++] = ':';
		err[n++] = ' ';
		vsnprintf(err + n, cap - (size_t)n, fmt, ap);
	}
}

void auth_keyed_hash(const uint8_t *key, size_t keylen, const char *domain,
		     const uint8_t t[AUTH_HASH_LEN], uint8_t out[AUTH_HASH_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, keylen, AUTH_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain));
	crypto_generichash_update(&st, t, AUTH_HASH_LEN);
	crypto_generichash_final(&st, out, AUTH_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

size_t auth_signed_bytes(const char *domain, const uint8_t t[AUTH_HASH_LEN], uint8_t *out)
{
	size_t d = strlen(domain);
	memcpy(out, domain, d);
	memcpy(out + d, t, AUTH_HASH_LEN);
	return d + AUTH_HASH_LEN;
}
