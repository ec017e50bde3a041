/* token: Docker-format join tokens, SWMTKN-1-<root key digest>-<secret>. */
#include "swarmnode/token.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(TOKEN_DIGEST_LEN == crypto_hash_sha256_BYTES, "SHA-256 digest size");
_Static_assert(TOKEN_SECRET_LEN == IDS_ENTROPY, "a secret is formatted as an id");
_Static_assert(TOKEN_STR_LEN == 85, "SWMTKN-1- + 50 + - + 25");

static const char b36_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

const char *token_strerror(int err)
{
	switch (err) {
	case TOKEN_OK:
		return "success";
#define TOKEN_ERR_CASE(name, val, msg) \
	case TOKEN_E_##name:           \
		return msg;
		TOKEN_ERRNO_MAP(TOKEN_ERR_CASE)
#undef TOKEN_ERR_CASE
	}
	return "unknown error";
}

/* Sets the message and returns the code. */
static int token_fail(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int token_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Writes the big-endian number num[0..n) as exactly digits base-36 characters,
 * zero-padded on the left, by repeated long division. digits must be enough
 * for the number (36^digits > 256^n). */
static void b36_encode(const uint8_t *num_in, size_t n, char *out, size_t digits)
{
	uint8_t num[TOKEN_DIGEST_LEN];
	memcpy(num, num_in, n);
	for (size_t pos = digits; pos-- > 0;) {
		unsigned rem = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned cur = (rem << 8) | num[i];
			num[i] = (uint8_t)(cur / 36);
			rem = cur % 36;
		}
		out[pos] = b36_alphabet[rem];
	}
}

/* Value of a base-36 digit, or -1. Only lower case: tokens are written so. */
static int b36_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	return -1;
}

/* Decodes digits characters (already checked to be digits) into the big-endian
 * num[0..n). Returns false when the value does not fit in n bytes. */
static bool b36_decode(const char *s, size_t digits, uint8_t *num, size_t n)
{
	memset(num, 0, n);
	for (size_t k = 0; k < digits; k++) {
		unsigned carry = (unsigned)b36_digit(s[k]);
		for (size_t i = n; i-- > 0;) {
			unsigned cur = num[i] * 36u + carry;
			num[i] = (uint8_t)(cur & 0xff);
			carry = cur >> 8;
		}
		if (carry != 0)
			return false;
	}
	return true;
}

void token_digest(const uint8_t root_pk[TOKEN_ROOT_PK_LEN], uint8_t digest[TOKEN_DIGEST_LEN])
{
	crypto_hash_sha256(digest, root_pk, TOKEN_ROOT_PK_LEN);
}

void token_make(struct token *t, const uint8_t root_pk[TOKEN_ROOT_PK_LEN],
		const uint8_t secret[TOKEN_SECRET_LEN])
{
	token_digest(root_pk, t->digest);
	memcpy(t->secret, secret, TOKEN_SECRET_LEN);
}

void token_format(const struct token *t, char out[TOKEN_STR_LEN + 1])
{
	char *p = out;
	memcpy(p, TOKEN_PREFIX "-1-", 9);
	p += 9;
	b36_encode(t->digest, TOKEN_DIGEST_LEN, p, TOKEN_DIGEST_CHARS);
	p += TOKEN_DIGEST_CHARS;
	*p++ = '-';
	ids_format(t->secret, p);
	/* ids_format wrote the terminating NUL at out[TOKEN_STR_LEN]. */
}

/* Checks that the span s[0..n) is made of base-36 digits; returns the index of
 * the first bad character, or n. */
static size_t b36_first_bad(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b36_digit(s[i]) < 0)
			return i;
	return n;
}

int token_parse(const char *s, struct token *t, char *err, size_t errlen)
{
	static const char prefix[] = TOKEN_PREFIX "-";
	const size_t plen = sizeof(prefix) - 1;
	if (strncmp(s, prefix, plen) != 0)
		return token_fail(TOKEN_E_PREFIX, err, errlen,
				  "invalid join token: it must start with \"SWMTKN-\"");
	const char *ver = s + plen;
	const char *dash = strchr(ver, '-');
	size_t vlen = dash != NULL ? (size_t)(dash - ver) : strlen(ver);
	if (vlen == 0)
		return token_fail(TOKEN_E_VERSION, err, errlen,
				  "invalid join token: missing version after \"SWMTKN-\"");
	if (vlen != 1 || ver[0] != '0' + TOKEN_VERSION) {
		if (vlen == 1 && ver[0] == '2')
			return token_fail(TOKEN_E_VERSION, err, errlen,
					  "invalid join token: version 2 (FIPS) tokens are not supported, only version 1");
		return token_fail(TOKEN_E_VERSION, err, errlen,
				  "invalid join token: unsupported version \"%.*s\", expected 1",
				  vlen > 8 ? 8 : (int)vlen, ver);
	}
	if (dash == NULL)
		return token_fail(TOKEN_E_FORMAT, err, errlen,
				  "invalid join token: missing digest and secret after \"SWMTKN-1-\"");
	const char *digest = dash + 1;
	const char *dash2 = strchr(digest, '-');
	if (dash2 == NULL)
		return token_fail(TOKEN_E_FORMAT, err, errlen,
				  "invalid join token: missing \"-<secret>\" after the digest");
	size_t dlen = (size_t)(dash2 - digest);
	const char *secret = dash2 + 1;
	if (strchr(secret, '-') != NULL)
		return token_fail(TOKEN_E_FORMAT, err, errlen,
				  "invalid join token: too many \"-\"-separated parts, expected SWMTKN-1-<digest>-<secret>");
	size_t slen = strlen(secret);
	if (dlen != TOKEN_DIGEST_CHARS)
		return token_fail(TOKEN_E_DIGEST_LEN, err, errlen,
				  "invalid join token: digest is %zu characters, expected %d", dlen,
				  TOKEN_DIGEST_CHARS);
	size_t bad = b36_first_bad(digest, dlen);
	if (bad < dlen)
		return token_fail(TOKEN_E_DIGEST_CHAR, err, errlen,
				  "invalid join token: digest character %zu is not in [0-9a-z]", bad + 1);
	struct token tmp;
	if (!b36_decode(digest, dlen, tmp.digest, TOKEN_DIGEST_LEN))
		return token_fail(TOKEN_E_DIGEST_RANGE, err, errlen,
				  "invalid join token: digest is larger than 256 bits");
	if (slen != TOKEN_SECRET_CHARS)
		return token_fail(TOKEN_E_SECRET_LEN, err, errlen,
				  "invalid join token: secret is %zu characters, expected %d", slen,
				  TOKEN_SECRET_CHARS);
	bad = b36_first_bad(secret, slen);
	if (bad < slen)
		return token_fail(TOKEN_E_SECRET_CHAR, err, errlen,
				  "invalid join token: secret character %zu is not in [0-9a-z]", bad + 1);
	if (!b36_decode(secret, slen, tmp.secret, TOKEN_SECRET_LEN)) {
		sodium_memzero(&tmp, sizeof(tmp));
		return token_fail(TOKEN_E_SECRET_RANGE, err, errlen,
				  "invalid join token: secret is larger than 128 bits");
	}
	*t = tmp;
	sodium_memzero(&tmp, sizeof(tmp));
	return TOKEN_OK;
}

bool token_matches_root(const struct token *t, const uint8_t root_pk[TOKEN_ROOT_PK_LEN])
{
	uint8_t d[TOKEN_DIGEST_LEN];
	token_digest(root_pk, d);
	return sodium_memcmp(d, t->digest, TOKEN_DIGEST_LEN) == 0;
}

bool token_secret_equal(const uint8_t a[TOKEN_SECRET_LEN], const uint8_t b[TOKEN_SECRET_LEN])
{
	return sodium_memcmp(a, b, TOKEN_SECRET_LEN) == 0;
}
