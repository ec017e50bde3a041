/* Unit tests for removed_nodes: the cluster object's list of removed nodes (adding, expiring, looking up, checking). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/removed_nodes.h"
#include "swarmnode/store.h"

#define SEC INT64_C(1000000000)
/* 2026-11-24T22:54:25.604293636Z */
#define T0 INT64_C(1795560865604293636)

static const char *const CLUSTER = "c00000000000000000000000a";
static const char *const N1 = "n00000000000000000000000a";
static const char *const N2 = "n00000000000000000000000b";
static const char *const N3 = "n00000000000000000000000c";

/* The list's ids in order, joined by spaces. */
static void ids_of(const json_t *cluster, char *out, size_t cap)
{
	const json_t *list = json_object_get(cluster, REMOVED_NODES_FIELD);
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(list); i++) {
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%s%s", n ? " " : "",
			 json_string_value(json_object_get(json_array_get(list, i), "ID")));
	}
}

static json_t *added(const json_t *cluster, const char *node_id, int64_t now, int64_t expiry)
{
	json_t *out = NULL;
	assert_int_equal(removed_nodes_add(cluster, CLUSTER, node_id, now, expiry, &out), 0);
	char err[256] = "";
	if (removed_nodes_check(out, "cluster", err, sizeof(err)) != 0)
		fail_msg("removed_nodes_add wrote what the check refuses: %s", err);
	return out;
}

static void first_removal_creates_the_cluster_object(void **state)
{
	(void)state;
	json_t *c = added(NULL, N1, T0, T0 + 10 * SEC);
	assert_string_equal(json_string_value(json_object_get(c, "ID")), CLUSTER);
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Spec"), "Name")), "default");
	json_t *e = json_array_get(json_object_get(c, REMOVED_NODES_FIELD), 0);
	assert_string_equal(json_string_value(json_object_get(e, "ID")), N1);
	assert_string_equal(json_string_value(json_object_get(e, "Expiry")), "2026-11-24T22:54:35.604293636Z");
	assert_true(removed_nodes_contains(c, N1, T0));
	assert_true(removed_nodes_contains(c, N1, T0 + 10 * SEC - 1));
	assert_false(removed_nodes_contains(c, N1, T0 + 10 * SEC));
	assert_false(removed_nodes_contains(c, N2, T0));
	assert_false(removed_nodes_contains(NULL, N1, T0));
	json_decref(c);
}

static void adding_drops_expired_entries_and_keeps_the_rest(void **state)
{
	(void)state;
	json_t *c1 = added(NULL, N1, T0, T0 + 5 * SEC);
	json_object_set_new(c1, "Spec", json_pack("{s:s, s:{s:s}}", "Name", "default", "Labels", "k", "v"));
	json_t *c2 = added(c1, N2, T0, T0 + 100 * SEC);
	json_t *c3 = added(c2, N3, T0 + 5 * SEC, T0 + 100 * SEC); /* N1 expired by now */
	char ids[256];
	ids_of(c3, ids, sizeof(ids));
	assert_string_equal(ids, "n00000000000000000000000b n00000000000000000000000c");
	/* The rest of the object is kept, and the input is not modified. */
	assert_true(json_equal(json_object_get(c3, "Spec"), json_object_get(c1, "Spec")));
	ids_of(c2, ids, sizeof(ids));
	assert_string_equal(ids, "n00000000000000000000000a n00000000000000000000000b");
	/* A node removed again (say, its entry was about to expire) is listed once, with the later end. */
	json_t *c4 = added(c3, N2, T0 + 6 * SEC, T0 + 200 * SEC);
	ids_of(c4, ids, sizeof(ids));
	assert_string_equal(ids, "n00000000000000000000000c n00000000000000000000000b");
	assert_true(removed_nodes_contains(c4, N2, T0 + 150 * SEC));
	json_decref(c1);
	json_decref(c2);
	json_decref(c3);
	json_decref(c4);
}

static void adding_refuses_bad_times_and_a_full_list(void **state)
{
	(void)state;
	json_t *out = NULL;
	assert_int_equal(removed_nodes_add(NULL, CLUSTER, N1, -1, T0, &out), -EINVAL);
	assert_int_equal(removed_nodes_add(NULL, CLUSTER, N1, T0, -1, &out), -EINVAL);
	assert_null(out);
	json_t *list = json_array();
	for (int i = 0; i < REMOVED_NODES_MAX; i++) {
		char id[32];
		snprintf(id, sizeof(id), "n%024d", i);
		json_array_append_new(list, json_pack("{s:s, s:s}", "ID", id, "Expiry", "2046-01-01T00:00:00Z"));
	}
	json_t *full = json_pack("{s:s, s:{s:s}, s:o}", "ID", CLUSTER, "Spec", "Name", "default", REMOVED_NODES_FIELD,
				 list);
	char err[256] = "";
	assert_int_equal(removed_nodes_check(full, "cluster", err, sizeof(err)), 0);
	assert_int_equal(removed_nodes_add(full, CLUSTER, N1, T0, T0 + SEC, &out), -ENOSPC);
	/* Entries that expired make room again. */
	json_t *c = NULL;
	assert_int_equal(removed_nodes_add(full, CLUSTER, N1, INT64_C(2400000000) * SEC, INT64_C(2400000001) * SEC, &c), 0);
	assert_int_equal(json_array_size(json_object_get(c, REMOVED_NODES_FIELD)), 1);
	/* One more than the bound is refused by the check. */
	json_array_append_new(list, json_pack("{s:s, s:s}", "ID", N1, "Expiry", "2046-01-01T00:00:00Z"));
	assert_int_equal(removed_nodes_check(full, "cluster", err, sizeof(err)), -1);
	assert_string_equal(err, "cluster.RemovedNodes: more than 32768 entries");
	json_decref(c);
	json_decref(full);
}

static void check_names_the_bad_field(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{ "\"x\"", "c.RemovedNodes: not an array" },
		{ "[null]", "c.RemovedNodes[0]: not an object" },
		{ "[{\"ID\":\"n00000000000000000000000a\",\"Expiry\":\"2030-01-01T00:00:00Z\"},{}]",
		  "c.RemovedNodes[1].ID: missing" },
		{ "[{\"ID\":\"N00000000000000000000000A\",\"Expiry\":\"2030-01-01T00:00:00Z\"}]",
		  "c.RemovedNodes[0].ID: not a node id" },
		{ "[{\"ID\":\"n00000000000000000000000a\"}]", "c.RemovedNodes[0].Expiry: missing" },
		{ "[{\"ID\":\"n00000000000000000000000a\",\"Expiry\":\"2030-01-01T00:00:00+01:00\"}]",
		  "c.RemovedNodes[0].Expiry: not an RFC 3339 UTC time" },
		{ "[{\"ID\":\"n00000000000000000000000a\",\"Expiry\":\"2030-01-01T00:00:00Z\",\"At\":1}]",
		  "c.RemovedNodes[0].At: unknown field" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *c = json_pack("{s:s, s:o}", "ID", CLUSTER, REMOVED_NODES_FIELD, json_loads(cases[i][0], JSON_DECODE_ANY, NULL));
		char err[256] = "";
		if (removed_nodes_check(c, "c", err, sizeof(err)) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i][0]);
		if (strcmp(err, cases[i][1]) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, err, cases[i][1]);
		json_decref(c);
	}
	json_t *none = json_pack("{s:s}", "ID", CLUSTER);
	assert_int_equal(removed_nodes_check(none, "c", NULL, 0), 0);
	json_decref(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_removal_creates_the_cluster_object),
		cmocka_unit_test(adding_drops_expired_entries_and_keeps_the_rest),
		cmocka_unit_test(adding_refuses_bad_times_and_a_full_list),
		cmocka_unit_test(check_names_the_bad_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
