/* Unit tests for addr: parsing host:port as users type it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "swarmnode/addr.h"

static void parses_forms(void **state)
{
	(void)state;
	struct addr a;
	char err[128], buf[96];
	assert_int_equal(addr_parse("10.0.0.1", 2377, &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "10.0.0.1");
	assert_int_equal(a.port, 2377);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(addr_parse("10.0.0.1:4000", 2377, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port, 4000);
	assert_int_equal(addr_parse(":7946", 1, &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "0.0.0.0");
	assert_int_equal(addr_parse("[::1]:80", 2377, &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.family, AF_INET6);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:80");
	assert_int_equal(addr_parse("fe80::1", 7946, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port, 7946);
}

static void rejects_bad_input(void **state)
{
	(void)state;
	struct addr a = {.port = 9};
	char err[128];
	assert_int_equal(addr_parse("10.0.0.1:0", 2377, &a, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "invalid port"));
	assert_int_equal(addr_parse("10.0.0.1:65536", 2377, &a, err, sizeof(err)), -22);
	assert_int_equal(addr_parse("10.0.0.1:-5", 2377, &a, err, sizeof(err)), -22);
	assert_int_equal(addr_parse("10.0.0.1:12ab", 2377, &a, err, sizeof(err)), -22);
	assert_int_equal(addr_parse("example.com:80", 2377, &a, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "is not an IPv4 or IPv6 address"));
	assert_int_equal(addr_parse("[::1", 2377, &a, err, sizeof(err)), -22);
	assert_int_equal(addr_parse("[::1]x", 2377, &a, err, sizeof(err)), -22);
	assert_int_equal(addr_parse("10.0.0.1", 0, &a, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "a port is required"));
	assert_int_equal(a.port, 9); /* untouched on error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_forms),
		cmocka_unit_test(rejects_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
