/* Unit tests for token: Docker-format join tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "swarmnode/token.h"

/* Root key 00 01 .. 1f and secret 64 65 .. 73; the expected string was
 * computed independently (Python: int.from_bytes(sha256(pk)) in base 36,
 * zero-padded to 50, as swarmkit's GenerateJoinToken does). */
static const char known_token[] =
	"SWMTKN-1-2gvkw4dlq7s3l6qfzyxj2eu973nwjfe0qqm9y3npvv71nfs7od-5xz0vqinf17plc6qqimdt2tf7";
static const char known_digest_hex[] =
	"630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd";

static void known_inputs(uint8_t pk[TOKEN_ROOT_PK_LEN], uint8_t secret[TOKEN_SECRET_LEN])
{
	for (int i = 0; i < TOKEN_ROOT_PK_LEN; i++)
		pk[i] = (uint8_t)i;
	for (int i = 0; i < TOKEN_SECRET_LEN; i++)
		secret[i] = (uint8_t)(100 + i);
}

static void format_matches_known_vector(void **state)
{
	(void)state;
	uint8_t pk[TOKEN_ROOT_PK_LEN], secret[TOKEN_SECRET_LEN];
	known_inputs(pk, secret);
	struct token t;
	token_make(&t, pk, secret);
	char hex[2 * TOKEN_DIGEST_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), t.digest, sizeof(t.digest));
	assert_string_equal(hex, known_digest_hex);
	char s[TOKEN_STR_LEN + 1];
	token_format(&t, s);
	assert_string_equal(s, known_token);
	assert_int_equal(strlen(s), TOKEN_STR_LEN);
}

static void parse_round_trips(void **state)
{
	(void)state;
	uint8_t pk[TOKEN_ROOT_PK_LEN], secret[TOKEN_SECRET_LEN];
	known_inputs(pk, secret);
	struct token t;
	char err[200] = "";
	assert_int_equal(token_parse(known_token, &t, err, sizeof(err)), TOKEN_OK);
	assert_memory_equal(t.secret, secret, TOKEN_SECRET_LEN);
	assert_true(token_matches_root(&t, pk));
	char s[TOKEN_STR_LEN + 1];
	token_format(&t, s);
	assert_string_equal(s, known_token);
}

static void parse_extremes(void **state)
{
	(void)state;
	/* 2^256 - 1 and 2^128 - 1, the largest values that fit. */
	static const char max[] = "SWMTKN-1-6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtof-"
				  "f5lxx1zz5pnorynqglhzmsp33";
	struct token t;
	assert_int_equal(token_parse(max, &t, NULL, 0), TOKEN_OK);
	for (int i = 0; i < TOKEN_DIGEST_LEN; i++)
		assert_int_equal(t.digest[i], 0xff);
	for (int i = 0; i < TOKEN_SECRET_LEN; i++)
		assert_int_equal(t.secret[i], 0xff);
	char s[TOKEN_STR_LEN + 1];
	token_format(&t, s);
	assert_string_equal(s, max);

	static const char zero[] = "SWMTKN-1-00000000000000000000000000000000000000000000000000-"
				   "0000000000000000000000000";
	assert_int_equal(token_parse(zero, &t, NULL, 0), TOKEN_OK);
	for (int i = 0; i < TOKEN_DIGEST_LEN; i++)
		assert_int_equal(t.digest[i], 0);
	token_format(&t, s);
	assert_string_equal(s, zero);
}

/* Tokens printed by a real Docker daemon in the tutorial the project started
 * from: worker and manager token of one swarm share the digest. */
static void parse_real_docker_tokens(void **state)
{
	(void)state;
	static const char worker[] =
		"SWMTKN-1-5r1c0h3puxka6b5f7ehs0j8j6oyzm25n6v4iggjbhpofysu5zs-8nufebu5ua5w1scpjnsmht0ax";
	static const char manager[] =
		"SWMTKN-1-5r1c0h3puxka6b5f7ehs0j8j6oyzm25n6v4iggjbhpofysu5zs-dz7zhitxf8gk8vlo160qnsci1";
	struct token w, m;
	assert_int_equal(token_parse(worker, &w, NULL, 0), TOKEN_OK);
	assert_int_equal(token_parse(manager, &m, NULL, 0), TOKEN_OK);
	assert_memory_equal(w.digest, m.digest, TOKEN_DIGEST_LEN);
	assert_false(token_secret_equal(w.secret, m.secret));
	char s[TOKEN_STR_LEN + 1];
	token_format(&w, s);
	assert_string_equal(s, worker);
	token_format(&m, s);
	assert_string_equal(s, manager);
}

static void matches_root_only_for_its_key(void **state)
{
	(void)state;
	uint8_t pk[TOKEN_ROOT_PK_LEN], secret[TOKEN_SECRET_LEN];
	known_inputs(pk, secret);
	struct token t;
	token_make(&t, pk, secret);
	assert_true(token_matches_root(&t, pk));
	for (int i = 0; i < TOKEN_ROOT_PK_LEN; i++) {
		pk[i] ^= 0x01;
		assert_false(token_matches_root(&t, pk));
		pk[i] ^= 0x01;
	}
}

static void worker_and_manager_tokens_differ_in_secret_only(void **state)
{
	(void)state;
	uint8_t pk[TOKEN_ROOT_PK_LEN], ws[TOKEN_SECRET_LEN], ms[TOKEN_SECRET_LEN];
	known_inputs(pk, ws);
	memcpy(ms, ws, sizeof(ms));
	ms[0] ^= 0x80;
	struct token w, m;
	token_make(&w, pk, ws);
	token_make(&m, pk, ms);
	char a[TOKEN_STR_LEN + 1], b[TOKEN_STR_LEN + 1];
	token_format(&w, a);
	token_format(&m, b);
	size_t secret_at = TOKEN_STR_LEN - TOKEN_SECRET_CHARS;
	assert_memory_equal(a, b, secret_at);
	assert_string_not_equal(a + secret_at, b + secret_at);
}

static void secret_equal_compares_every_byte(void **state)
{
	(void)state;
	uint8_t a[TOKEN_SECRET_LEN], b[TOKEN_SECRET_LEN];
	for (int i = 0; i < TOKEN_SECRET_LEN; i++)
		a[i] = b[i] = (uint8_t)(i * 7);
	assert_true(token_secret_equal(a, b));
	for (int i = 0; i < TOKEN_SECRET_LEN; i++) {
		b[i] ^= 0x40;
		assert_false(token_secret_equal(a, b));
		b[i] ^= 0x40;
	}
}

struct bad_case {
	const char *token;    /* input */
	int code;             /* expected TOKEN_E_* */
	const char *message;  /* expected part of the message */
};

#define D50 "5r1c0h3puxka6b5f7ehs0j8j6oyzm25n6v4iggjbhpofysu5zs"
#define S25 "8nufebu5ua5w1scpjnsmht0ax"

static const struct bad_case bad_cases[] = {
	{"", TOKEN_E_PREFIX, "must start with \"SWMTKN-\""},
	{"SWMTKX-1-" D50 "-" S25, TOKEN_E_PREFIX, "must start with"},
	{"swmtkn-1-" D50 "-" S25, TOKEN_E_PREFIX, "must start with"},
	{" SWMTKN-1-" D50 "-" S25, TOKEN_E_PREFIX, "must start with"},
	{"SWMTKN", TOKEN_E_PREFIX, "must start with"},
	{"SWMTKN-", TOKEN_E_VERSION, "missing version"},
	{"SWMTKN--" D50 "-" S25, TOKEN_E_VERSION, "missing version"},
	{"SWMTKN-2-" D50 "-" S25 "-abc", TOKEN_E_VERSION, "version 2 (FIPS)"},
	{"SWMTKN-0-" D50 "-" S25, TOKEN_E_VERSION, "unsupported version \"0\""},
	{"SWMTKN-10-" D50 "-" S25, TOKEN_E_VERSION, "unsupported version \"10\""},
	{"SWMTKN-x-" D50 "-" S25, TOKEN_E_VERSION, "unsupported version \"x\""},
	{"SWMTKN-1", TOKEN_E_FORMAT, "missing digest and secret"},
	{"SWMTKN-1-" D50, TOKEN_E_FORMAT, "missing \"-<secret>\""},
	{"SWMTKN-1-" D50 "-" S25 "-" S25, TOKEN_E_FORMAT, "too many"},
	{"SWMTKN-1-" D50 "-" S25 "-", TOKEN_E_FORMAT, "too many"},
	{"SWMTKN-1--" S25, TOKEN_E_DIGEST_LEN, "digest is 0 characters, expected 50"},
	{"SWMTKN-1-5r1c0h3puxka6b5f7ehs0j8j6oyzm25n6v4iggjbhpofysu5z-" S25, TOKEN_E_DIGEST_LEN,
	 "digest is 49 characters, expected 50"},
	{"SWMTKN-1-" D50 "0-" S25, TOKEN_E_DIGEST_LEN, "digest is 51 characters"},
	{"SWMTKN-1-5r1c0H3puxka6b5f7ehs0j8j6oyzm25n6v4iggjbhpofysu5zs-" S25, TOKEN_E_DIGEST_CHAR,
	 "digest character 6 is not in [0-9a-z]"},
	{"SWMTKN-1-5r1c0h3puxka6b5f7ehs0j8j6oyzm25n6v4iggjbhpofysu5z_-" S25, TOKEN_E_DIGEST_CHAR,
	 "digest character 50"},
	{"SWMTKN-1-6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtog-" S25, TOKEN_E_DIGEST_RANGE,
	 "larger than 256 bits"},
	{"SWMTKN-1-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-" S25, TOKEN_E_DIGEST_RANGE,
	 "larger than 256 bits"},
	{"SWMTKN-1-" D50 "-", TOKEN_E_SECRET_LEN, "secret is 0 characters, expected 25"},
	{"SWMTKN-1-" D50 "-8nufebu5ua5w1scpjnsmht0a", TOKEN_E_SECRET_LEN,
	 "secret is 24 characters, expected 25"},
	{"SWMTKN-1-" D50 "-" S25 "x", TOKEN_E_SECRET_LEN, "secret is 26 characters"},
	{"SWMTKN-1-" D50 "-" S25 "\n", TOKEN_E_SECRET_LEN, "secret is 26 characters"},
	{"SWMTKN-1-" D50 "-8nufebu5ua5w1scpjnsmht0a!", TOKEN_E_SECRET_CHAR,
	 "secret character 25 is not in [0-9a-z]"},
	{"SWMTKN-1-" D50 "-8NUFEBU5UA5W1SCPJNSMHT0AX", TOKEN_E_SECRET_CHAR, "secret character 2 "},
	{"SWMTKN-1-" D50 "-f5lxx1zz5pnorynqglhzmsp34", TOKEN_E_SECRET_RANGE, "larger than 128 bits"},
	{"SWMTKN-1-" D50 "-zzzzzzzzzzzzzzzzzzzzzzzzz", TOKEN_E_SECRET_RANGE, "larger than 128 bits"},
};

static void parse_rejects_each_malformed_token(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct token t;
		memset(&t, 0xaa, sizeof(t));
		char err[200] = "";
		int rc = token_parse(c->token, &t, err, sizeof(err));
		if (rc != c->code || strstr(err, c->message) == NULL) {
			print_error("case %zu \"%s\": got %d \"%s\", want %d containing \"%s\"\n", i,
				    c->token, rc, err, c->code, c->message);
			fail();
		}
		/* Untouched on error. */
		for (size_t k = 0; k < sizeof(t); k++)
			assert_int_equal(((uint8_t *)&t)[k], 0xaa);
		assert_string_not_equal(token_strerror(rc), "unknown error");
	}
}

static void strerror_is_distinct_per_code(void **state)
{
	(void)state;
	static const int codes[] = {TOKEN_E_PREFIX, TOKEN_E_VERSION, TOKEN_E_FORMAT,
				    TOKEN_E_DIGEST_LEN, TOKEN_E_DIGEST_CHAR, TOKEN_E_DIGEST_RANGE,
				    TOKEN_E_SECRET_LEN, TOKEN_E_SECRET_CHAR, TOKEN_E_SECRET_RANGE};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		assert_true(codes[i] < 0);
		for (size_t j = 0; j < i; j++) {
			assert_int_not_equal(codes[i], codes[j]);
			assert_string_not_equal(token_strerror(codes[i]), token_strerror(codes[j]));
		}
	}
	assert_string_equal(token_strerror(12345), "unknown error");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_matches_known_vector),
		cmocka_unit_test(parse_round_trips),
		cmocka_unit_test(parse_extremes),
		cmocka_unit_test(parse_real_docker_tokens),
		cmocka_unit_test(matches_root_only_for_its_key),
		cmocka_unit_test(worker_and_manager_tokens_differ_in_secret_only),
		cmocka_unit_test(secret_equal_compares_every_byte),
		cmocka_unit_test(parse_rejects_each_malformed_token),
		cmocka_unit_test(strerror_is_distinct_per_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
