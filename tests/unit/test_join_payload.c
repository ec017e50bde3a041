/* Unit tests for join_payload: the WELCOME's contents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/join_payload.h"

static struct join_payload sample(bool manager)
{
	struct join_payload p;
	memset(&p, 0, sizeof(p));
	p.keyring_len = 60;
	memset(p.keyring, 7, p.keyring_len);
	strcpy(p.seeds[0], "127.0.0.1:7946");
	strcpy(p.seeds[1], "[::1]:7946");
	p.nseeds = 2;
	p.cluster_created_at_ms = 1795560838790ull;
	p.has_manager = manager;
	if (manager) {
		memset(p.root_seed, 1, sizeof(p.root_seed));
		memset(p.worker_secret, 2, sizeof(p.worker_secret));
		memset(p.manager_secret, 3, sizeof(p.manager_secret));
	}
	return p;
}

static void round_trips(void **state)
{
	(void)state;
	for (int manager = 0; manager < 2; manager++) {
		struct join_payload p = sample(manager), d;
		uint8_t buf[JOIN_PAYLOAD_MAX];
		size_t len;
		char err[128];
		assert_int_equal(join_payload_encode(&p, buf, sizeof(buf), &len), 0);
		assert_int_equal(join_payload_decode(buf, len, &d, err, sizeof(err)), 0);
		assert_memory_equal(&p, &d, sizeof(p));
	}
}

static void the_largest_payload_fits_its_bound(void **state)
{
	(void)state;
	struct join_payload p = sample(true);
	p.keyring_len = KEYRING_SERIALIZED_MAX;
	for (size_t i = 0; i < JOIN_PAYLOAD_MAX_SEEDS; i++)
		memset(p.seeds[i], '9', JOIN_PAYLOAD_ADDR_MAX - 1);
	p.nseeds = JOIN_PAYLOAD_MAX_SEEDS;
	uint8_t buf[JOIN_PAYLOAD_MAX];
	size_t len;
	assert_int_equal(join_payload_encode(&p, buf, sizeof(buf), &len), 0);
	assert_int_equal(join_payload_encode(&p, buf, 100, &len), -90);
}

static void malformed(void **state)
{
	(void)state;
	struct join_payload p = sample(true), d;
	uint8_t buf[JOIN_PAYLOAD_MAX];
	size_t len;
	char err[128];
	assert_int_equal(join_payload_encode(&p, buf, sizeof(buf), &len), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(join_payload_decode(buf, cut, &d, err, sizeof(err)), -74);
	buf[1] = 2; /* version */
	assert_int_equal(join_payload_decode(buf, len, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "payload.version"));
	assert_false(d.has_manager); /* nothing half-decoded is left behind */
	/* a secret one byte short: bin(16) -> bin(15) leaves a trailing byte, and
	 * a manager tuple of 2 elements is refused */
	struct join_payload w = sample(false);
	assert_int_equal(join_payload_encode(&w, buf, sizeof(buf), &len), 0);
	buf[len - 1] = 0x92; /* nil -> fixarray(2) with no elements */
	assert_int_equal(join_payload_decode(buf, len, &d, err, sizeof(err)), -74);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips),
		cmocka_unit_test(the_largest_payload_fits_its_bound),
		cmocka_unit_test(malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
