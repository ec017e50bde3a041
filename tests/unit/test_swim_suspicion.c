/* Unit tests for swim_suspicion: Lifeguard's timeout formulas, computed
 * without libm, against libm's log and log10. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "swim_suspicion.h"

/* Lifeguard: max - (max - min) * log(n + 1) / log(k + 1), floored at min. */
static void timeout_shrinks_with_confirmations_as_lifeguard_says(void **state)
{
	(void)state;
	const uint64_t min = 4000, max = 24000;
	for (uint32_t k = 1; k <= SWIM_SUSPICION_MAX_K; k++) {
		uint64_t previous = max + 1;
		for (uint32_t n = 0; n <= k; n++) {
			double exact = (double)max - log(n + 1.0) / log(k + 1.0) * (double)(max - min);
			uint64_t got = swim_suspicion_timeout(n, k, min, max);
			/* within a millisecond of the real-valued formula */
			assert_true(fabs((double)got - exact) <= 1.0);
			assert_true(got < previous);
			previous = got;
		}
		assert_int_equal(swim_suspicion_timeout(0, k, min, max), max);
		assert_int_equal(swim_suspicion_timeout(k, k, min, max), min);
	}
	assert_int_equal(swim_suspicion_timeout(3, 0, min, max), min);
}

/* memberlist's suspicion minimum: mult * max(1, log10(N)) * probe interval. */
static void minimum_scales_with_log10_of_the_cluster_size(void **state)
{
	(void)state;
	assert_int_equal(swim_suspicion_min(4, 1, 1000), 4000);
	assert_int_equal(swim_suspicion_min(4, 10, 1000), 4000);
	assert_int_equal(swim_suspicion_min(4, 100, 1000), 8000);
	assert_int_equal(swim_suspicion_min(4, 1000, 1000), 12000);
	static const uint32_t sizes[] = {11, 16, 64, 128, 999, 5000, 65535, 1000000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double exact = 4.0 * log10((double)sizes[i]) * 1000.0;
		uint64_t got = swim_suspicion_min(4, sizes[i], 1000);
		assert_true(fabs((double)got - exact) <= 1.0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timeout_shrinks_with_confirmations_as_lifeguard_says),
		cmocka_unit_test(minimum_scales_with_log10_of_the_cluster_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
