/* Unit tests for table: docker-style column alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "swarmnode/table.h"

static void aligns_like_docker_node_ls(void **state)
{
	(void)state;
	static const char *const headers[] = {"ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS",
					      "ENGINE VERSION"};
	static const char *const row[] = {"ldpj7owgrf12irfxg3hi9i3r3 *", "vm", "Ready", "Active", "Leader",
					  "20.10.24+dfsg1"};
	struct table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	table_init(&t, 6, headers);
	table_add_row(&t, row);
	table_print(&t, out);
	fclose(out);
	/* byte for byte what docker 28.2.2 printed (engine-api/raw/07a_node_ls.log) */
	assert_string_equal(buf,
		"ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n"
		"ldpj7owgrf12irfxg3hi9i3r3 *   vm         Ready     Active         Leader           20.10.24+dfsg1\n");
	free(buf);
}

static void null_cells_and_many_rows(void **state)
{
	(void)state;
	static const char *const headers[] = {"A", "B"};
	struct table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	table_init(&t, 2, headers);
	for (int i = 0; i < 40; i++) {
		const char *row[] = {i == 39 ? "a-much-longer-cell" : "x", NULL};
		table_add_row(&t, row);
	}
	table_print(&t, out);
	fclose(out);
	assert_memory_equal(buf, "A" "                    " "B\n" "x" "                    " "\n", 45);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aligns_like_docker_node_ls),
		cmocka_unit_test(null_cells_and_many_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
