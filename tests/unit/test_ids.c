/* Unit tests for ids: Docker-format object ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/ids.h"

static void format_zero_is_all_zero_digits(void **state)
{
	(void)state;
	uint8_t e[IDS_ENTROPY] = {0};
	char id[IDS_LEN + 1];
	ids_format(e, id);
	assert_string_equal(id, "0000000000000000000000000");
}

static void format_max_fits_in_25_digits(void **state)
{
	(void)state;
	uint8_t e[IDS_ENTROPY];
	memset(e, 0xff, sizeof(e));
	char id[IDS_LEN + 1];
	ids_format(e, id);
	/* 2^128 - 1 in base 36 */
	assert_string_equal(id, "f5lxx1zz5pnorynqglhzmsp33");
	assert_true(ids_valid(id));
}

static void format_small_value(void **state)
{
	(void)state;
	uint8_t e[IDS_ENTROPY] = {0};
	e[15] = 37; /* "11" in base 36 */
	char id[IDS_LEN + 1];
	ids_format(e, id);
	assert_string_equal(id + IDS_LEN - 3, "011");
}

static void valid_rejects_bad_ids(void **state)
{
	(void)state;
	assert_true(ids_valid("ldpj7owgrf12irfxg3hi9i3r3"));
	assert_false(ids_valid("ldpj7owgrf12irfxg3hi9i3r"));   /* short */
	assert_false(ids_valid("ldpj7owgrf12irfxg3hi9i3r3x")); /* long */
	assert_false(ids_valid("LDPJ7OWGRF12IRFXG3HI9I3R3"));  /* upper case */
	assert_false(ids_valid("ldpj7owgrf12irfxg3hi9i3r-"));
	assert_false(ids_valid(""));
}

static void prefix_matching(void **state)
{
	(void)state;
	assert_true(ids_has_prefix("ldpj7owgrf12irfxg3hi9i3r3", "ldpj"));
	assert_false(ids_has_prefix("ldpj7owgrf12irfxg3hi9i3r3", ""));
	assert_false(ids_has_prefix("ldpj7owgrf12irfxg3hi9i3r3", "ldpx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_zero_is_all_zero_digits),
		cmocka_unit_test(format_max_fits_in_25_digits),
		cmocka_unit_test(format_small_value),
		cmocka_unit_test(valid_rejects_bad_ids),
		cmocka_unit_test(prefix_matching),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
