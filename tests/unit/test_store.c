/* Unit tests for store: transactions, refusals, atomicity, indexes, lookups, snapshots, watchers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/ids.h"
#include "swarmnode/removed_nodes.h"
#include "swarmnode/store.h"

/* 2026-11-24T22:54:25.604293636Z, a time from the Engine API trace. */
#define T0 INT64_C(1795560865604293636)
#define T0_TEXT "2026-11-24T22:54:25.604293636Z"
#define T1 (T0 + 1000000000)
#define T1_TEXT "2026-11-24T22:54:26.604293636Z"

/* ---- Helpers ------------------------------------------------------------------- */

/* Ids that read in test output: the tag, then zeros up to 25 characters. */
static const char *mkid(const char *tag)
{
	static char ring[16][IDS_LEN + 1];
	static unsigned next;
	char *out = ring[next++ % 16];
	size_t n = strlen(tag);
	memcpy(out, tag, n);
	memset(out + n, '0', IDS_LEN - n);
	out[IDS_LEN] = '\0';
	return out;
}

static json_t *service_obj(const char *id, const char *name)
{
	return json_pack("{s:s, s:{s:s, s:{}}, s:{s:I}}", "ID", id, "Spec", "Name", name, "Labels",
			 "Version", "Index", (json_int_t)999);
}

static json_t *task_obj(const char *id, const char *service_id, const char *node_id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "ID", id, "ServiceID", service_id,
			 "NodeID", node_id, "DesiredState", "running", "Status", "State", "new");
}

static json_t *node_obj(const char *id, const char *hostname)
{
	return json_pack("{s:s, s:{s:s, s:s}, s:{s:s}}", "ID", id, "Spec", "Role", "worker",
			 "Availability", "active", "Description", "Hostname", hostname);
}

static json_t *cluster_obj(const char *id)
{
	return json_pack("{s:s, s:{s:s}}", "ID", id, "Spec", "Name", "default");
}

static json_t *network_obj(const char *id, const char *name)
{
	return json_pack("{s:s, s:{s:s, s:s, s:{s:s}}}", "ID", id, "Spec", "Name", name, "Driver", "overlay",
			 "Labels", "com.docker.stack.namespace", "demo");
}

/* One operation for run(); obj is stolen. */
struct op {
	enum store_op_type type;
	enum store_kind kind;
	const char *id;
	uint64_t expect;
	json_t *obj;
};

#define CREATE(k, o) { STORE_OP_CREATE, (k), NULL, 0, (o) }
#define UPDATE(k, id, v, o) { STORE_OP_UPDATE, (k), (id), (v), (o) }
#define DELETE(k, id, v) { STORE_OP_DELETE, (k), (id), (v), NULL }

/* Builds and encodes a transaction at time t; the caller frees *out. */
static void build(int64_t t, const struct op *ops, size_t n, uint8_t **out, size_t *len)
{
	struct store_txn *txn = store_txn_new(t);
	assert_non_null(txn);
	for (size_t i = 0; i < n; i++) {
		char err[STORE_MSG_MAX] = "";
		int rc;
		if (ops[i].type == STORE_OP_CREATE)
			rc = store_txn_create(txn, ops[i].kind, ops[i].obj, err, sizeof(err));
		else if (ops[i].type == STORE_OP_UPDATE)
			rc = store_txn_update(txn, ops[i].kind, ops[i].id, ops[i].expect, ops[i].obj,
					      err, sizeof(err));
		else
			rc = store_txn_delete(txn, ops[i].kind, ops[i].id, ops[i].expect, err,
					      sizeof(err));
		if (rc != 0)
			fail_msg("op %zu refused by the builder: %s", i, err);
		json_decref(ops[i].obj);
	}
	assert_int_equal(store_txn_encode(txn, out, len), 0);
	store_txn_free(txn);
}

/* A store and the next log index to apply at. */
struct fx {
	struct store *s;
	uint64_t next;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->s = store_new();
	f->next = 1;
	*state = f;
	return f->s == NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_free(f->s);
	free(f);
	return 0;
}

static int run_at(struct fx *f, int64_t t, const struct op *ops, size_t n,
		  struct store_result *res)
{
	uint8_t *buf;
	size_t len;
	build(t, ops, n, &buf, &len);
	int rc = store_apply(f->s, f->next++, buf, len, res);
	free(buf);
	return rc;
}

#define OPS(...) (struct op[]){ __VA_ARGS__ }, sizeof((struct op[]){ __VA_ARGS__ }) / sizeof(struct op)
#define RUN(f, res, ...) run_at((f), T0, OPS(__VA_ARGS__), (res))

static int apply_text(struct fx *f, const char *text, struct store_result *res)
{
	return store_apply(f->s, f->next++, (const uint8_t *)text, strlen(text), res);
}

static uint64_t version_of(const json_t *obj)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(obj, "Version"), "Index"));
}

static const char *field(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);
	return json_string_value(b != NULL ? json_object_get(v, b) : v);
}

static void snapshot_of(struct store *s, uint8_t **buf, size_t *len)
{
	assert_int_equal(store_snapshot(s, buf, len), 0);
}

/* The snapshot with its index field cut out, to compare states across indexes. */
static char *state_text(struct store *s)
{
	uint8_t *buf;
	size_t len;
	snapshot_of(s, &buf, &len);
	json_t *doc = json_loadb((const char *)buf, len, 0, NULL);
	assert_non_null(doc);
	free(buf);
	json_object_del(doc, "index");
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

/* A service "web" with two tasks on node n1, and node n1 itself. */
static void preload(struct fx *f)
{
	struct store_result res;
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_CLUSTER, cluster_obj(mkid("c1"))),
			     CREATE(STORE_KIND_NODE, node_obj(mkid("n1"), "host1")),
			     CREATE(STORE_KIND_SERVICE, service_obj(mkid("s1"), "web")),
			     CREATE(STORE_KIND_TASK, task_obj(mkid("t1"), mkid("s1"), mkid("n1"))),
			     CREATE(STORE_KIND_TASK, task_obj(mkid("t2"), mkid("s1"), mkid("n1")))),
			 0);
}

/* ---- Time ---------------------------------------------------------------------- */

static void time_formats_like_docker(void **state)
{
	(void)state;
	char out[STORE_TIME_MAX];
	assert_int_equal(store_time_format(0, out), 0);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	assert_int_equal(store_time_format(T0, out), 0);
	assert_string_equal(out, T0_TEXT);
	/* Trailing zeros of the fraction go, as in Go's RFC3339Nano. */
	assert_int_equal(store_time_format(INT64_C(1795561024320736600), out), 0);
	assert_string_equal(out, "2026-11-24T22:57:04.3207366Z");
	assert_int_equal(store_time_format(INT64_C(1709251199000000005), out), 0);
	assert_string_equal(out, "2024-02-29T23:59:59.000000005Z");
	assert_int_equal(store_time_format(INT64_MAX, out), 0);
	assert_string_equal(out, "2262-04-11T23:47:16.854775807Z");
	assert_int_equal(store_time_format(-1, out), STORE_E_INVALID);
}

static void time_parse_accepts_only_canonical(void **state)
{
	(void)state;
	int64_t ns = 0;
	assert_int_equal(store_time_parse(T0_TEXT, &ns), 0);
	assert_true(ns == T0);
	assert_int_equal(store_time_parse("2024-02-29T23:59:59.000000005Z", &ns), 0);
	assert_true(ns == INT64_C(1709251199000000005));
	assert_int_equal(store_time_parse("2262-04-11T23:47:16.854775807Z", &ns), 0);
	assert_true(ns == INT64_MAX);
	static const char *const bad[] = {
		"", "2026-11-24", "2026-11-24T22:54:25", "2026-11-24T22:54:25.10Z",
		"2026-11-24T22:54:25.Z", "2026-11-24T22:54:25+01:00", "2026-02-30T00:00:00Z",
		"2026-11-24T24:00:00Z", "2026-11-24T22:60:00Z", "2026-13-01T00:00:00Z",
		"1969-12-31T23:59:59Z", "2262-04-11T23:47:16.854775808Z", "2026-11-24t22:54:25Z",
		"2026-11-24T22:54:25.1234567891Z", "2026-11-24T22:54:25ZZ", "+026-11-24T22:54:25Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (store_time_parse(bad[i], &ns) != STORE_E_INVALID)
			fail_msg("accepted \"%s\"", bad[i]);
}

/* ---- Apply ----------------------------------------------------------------------- */

static void create_stamps_version_and_times(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, service_obj(mkid("s1"), "web"))), 0);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.op, -1);
	json_t *svc = store_get(f->s, STORE_KIND_SERVICE, mkid("s1"));
	assert_non_null(svc);
	/* The proposer's Version (999) is replaced by the entry's index. */
	assert_int_equal(version_of(svc), 1);
	assert_string_equal(field(svc, "CreatedAt", NULL), T0_TEXT);
	assert_string_equal(field(svc, "UpdatedAt", NULL), T0_TEXT);
	assert_string_equal(field(svc, "Spec", "Name"), "web");
	/* Docker's field order: ID, Version, CreatedAt, UpdatedAt, then the rest. */
	static const char *const order[] = { "ID", "Version", "CreatedAt", "UpdatedAt", "Spec" };
	void *it = json_object_iter(svc);
	for (size_t i = 0; i < 5; i++, it = json_object_iter_next(svc, it))
		assert_string_equal(json_object_iter_key(it), order[i]);
	assert_null(it);
	assert_int_equal(store_applied_index(f->s), 1);
	assert_int_equal(store_count(f->s, STORE_KIND_SERVICE), 1);
}

static void update_keeps_created_at_and_bumps_version(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	f->next = 7;
	json_t *obj = service_obj(mkid("s1"), "web");
	json_object_set_new(json_object_get(obj, "Spec"), "Mode", json_pack("{s:{}}", "Global"));
	assert_int_equal(run_at(f, T1, OPS(UPDATE(STORE_KIND_SERVICE, mkid("s1"), 1, obj)), &res), 0);
	json_t *svc = store_get(f->s, STORE_KIND_SERVICE, mkid("s1"));
	assert_int_equal(version_of(svc), 7);
	assert_string_equal(field(svc, "CreatedAt", NULL), T0_TEXT);
	assert_string_equal(field(svc, "UpdatedAt", NULL), T1_TEXT);
	assert_non_null(json_object_get(json_object_get(json_object_get(svc, "Spec"), "Mode"), "Global"));
}

static void stale_update_is_out_of_sequence(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	char *before = state_text(f->s);
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_SERVICE, mkid("s1"), 0, service_obj(mkid("s1"), "x"))),
			 STORE_E_CONFLICT);
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_SERVICE, mkid("s1"), 2, service_obj(mkid("s1"), "x"))),
			 STORE_E_CONFLICT);
	assert_int_equal(res.code, STORE_E_CONFLICT);
	assert_int_equal(res.op, 0);
	assert_string_equal(res.message, "update out of sequence");
	assert_int_equal(store_applied_index(f->s), 3);
	char *after = state_text(f->s);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void delete_checks_version_unless_zero(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_TASK, mkid("t1"), 5)), STORE_E_CONFLICT);
	assert_string_equal(res.message, "update out of sequence");
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_TASK, mkid("t1"), 1)), 0);
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_TASK, mkid("t2"), 0)), 0);
	assert_int_equal(store_count(f->s, STORE_KIND_TASK), 0);
	assert_null(store_get(f->s, STORE_KIND_TASK, mkid("t1")));
}

static void create_of_existing_id_is_refused(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, service_obj(mkid("s1"), "other"))),
			 STORE_E_EXISTS);
	char want[STORE_MSG_MAX];
	snprintf(want, sizeof(want), "service %s already exists", mkid("s1"));
	assert_string_equal(res.message, want);
	/* A second cluster object, even with another id. */
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_CLUSTER, cluster_obj(mkid("c2")))),
			 STORE_E_EXISTS);
	assert_string_equal(res.message, "a cluster object already exists");
}

static void missing_object_is_not_found(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_SERVICE, mkid("nope"), 1,
					     service_obj(mkid("nope"), "x"))),
			 STORE_E_NOT_FOUND);
	char want[STORE_MSG_MAX];
	snprintf(want, sizeof(want), "service %s not found", mkid("nope"));
	assert_string_equal(res.message, want);
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_NODE, mkid("nope"), 0)), STORE_E_NOT_FOUND);
	snprintf(want, sizeof(want), "node %s not found", mkid("nope"));
	assert_string_equal(res.message, want);
	/* The object's kind matters: t1 is a task, not a service. */
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_SERVICE, mkid("t1"), 0)), STORE_E_NOT_FOUND);
}

static void service_names_are_unique(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, service_obj(mkid("s2"), "web"))),
			 STORE_E_NAME_CONFLICT);
	assert_string_equal(res.message,
			    "name conflicts with an existing object: service web already exists");
	/* swarmkit compares names case-insensitively. */
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, service_obj(mkid("s2"), "WEB"))),
			 STORE_E_NAME_CONFLICT);
	assert_string_equal(res.message,
			    "name conflicts with an existing object: service WEB already exists");
	/* Updating a service without renaming it is no conflict with itself. */
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_SERVICE, mkid("s1"), 1,
					     service_obj(mkid("s1"), "Web"))),
			 0);
}

/* A service publishing port (mode "ingress" or "host") on tcp. */
static json_t *publishing(const char *id, const char *name, int port, const char *mode)
{
	json_t *s = service_obj(id, name);
	json_t *p = json_pack("[{s:s, s:i, s:i, s:s}]", "Protocol", "tcp", "TargetPort", 80, "PublishedPort", port,
			      "PublishMode", mode);
	json_object_set_new(json_object_get(s, "Spec"), "EndpointSpec", json_pack("{s:O}", "Ports", p));
	json_object_set_new(s, "Endpoint", json_pack("{s:o}", "Ports", p));
	return s;
}

/* Two creates that each passed the API's check against an older store (on
 * two managers): the one committed second is refused with Docker's text. */
static void published_ports_are_checked_when_applied(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, publishing(mkid("p1"), "a", 8080, "ingress"))), 0);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, publishing(mkid("p2"), "b", 8080, "ingress"))),
			 STORE_E_INVALID);
	char want[STORE_MSG_MAX];
	snprintf(want, sizeof(want), "port '8080' is already in use by service 'a' (%s) as an ingress port", mkid("p1"));
	assert_string_equal(res.message, want);
	/* host-mode ports may be shared (the scheduler keeps them on different nodes) */
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, publishing(mkid("h1"), "c", 9090, "host"))), 0);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, publishing(mkid("h2"), "d", 9090, "host"))), 0);
	/* a service updating itself keeps its own port */
	json_t *p1;
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "a", &p1, NULL, 0), 0);
	uint64_t version = (uint64_t)json_integer_value(json_object_get(json_object_get(p1, "Version"), "Index"));
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_SERVICE, mkid("p1"), version,
					     publishing(mkid("p1"), "a", 8080, "ingress"))),
			 0);
}

static void rename_frees_the_old_name(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, service_obj(mkid("s2"), "api"))), 0);
	/* Onto a taken name: refused. */
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_SERVICE, mkid("s2"), 2,
					     service_obj(mkid("s2"), "web"))),
			 STORE_E_NAME_CONFLICT);
	/* Rename web -> front and reuse "web" in the same transaction. */
	assert_int_equal(RUN(f, &res,
			     UPDATE(STORE_KIND_SERVICE, mkid("s1"), 1, service_obj(mkid("s1"), "front")),
			     CREATE(STORE_KIND_SERVICE, service_obj(mkid("s3"), "web"))),
			 0);
	json_t *got;
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "web", &got, NULL, 0), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("s3"));
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "front", &got, NULL, 0), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("s1"));
	/* Swapping two names in one transaction needs a free name in between. */
	assert_int_equal(RUN(f, &res,
			     UPDATE(STORE_KIND_SERVICE, mkid("s1"), 4, service_obj(mkid("s1"), "tmp")),
			     UPDATE(STORE_KIND_SERVICE, mkid("s3"), 4, service_obj(mkid("s3"), "front")),
			     /* s1 is already at this transaction's index. */
			     UPDATE(STORE_KIND_SERVICE, mkid("s1"), 5, service_obj(mkid("s1"), "web"))),
			 0);
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "web", &got, NULL, 0), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("s1"));
	/* A deleted service's name is free again. */
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_SERVICE, mkid("s1"), 0),
			     CREATE(STORE_KIND_SERVICE, service_obj(mkid("s4"), "web"))),
			 0);
}

/* Networks: a kind of their own, names unique as swarmkit keeps them, found
 * by id, name or prefix, and in snapshots. */
static void networks_are_a_kind_with_unique_names(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	char err[STORE_MSG_MAX];
	json_t *got;
	enum store_kind kind;
	assert_string_equal(store_kind_name(STORE_KIND_NETWORK), "network");
	assert_int_equal(store_kind_parse("network", &kind), 0);
	assert_int_equal(kind, STORE_KIND_NETWORK);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_NETWORK, network_obj(mkid("w1"), "demo_default")),
			     CREATE(STORE_KIND_SERVICE, service_obj(mkid("s1"), "demo_default"))),
			 0);
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_NETWORK, network_obj(mkid("w2"), "Demo_Default"))),
			 STORE_E_NAME_CONFLICT);
	assert_string_equal(res.message,
			    "name conflicts with an existing object: network Demo_Default already exists");
	struct store_txn *txn = store_txn_new(T0);
	json_t *nameless = json_pack("{s:s, s:{}}", "ID", mkid("w3"), "Spec");
	assert_int_equal(store_txn_create(txn, STORE_KIND_NETWORK, nameless, err, sizeof(err)), STORE_E_INVALID);
	assert_string_equal(err, "ops[0].object.Spec.Name: missing");
	json_decref(nameless);
	store_txn_free(txn);
	assert_int_equal(store_resolve(f->s, STORE_KIND_NETWORK, "demo_default", &got, err, sizeof(err)), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("w1"));
	assert_string_equal(field(got, "CreatedAt", NULL), T0_TEXT);
	assert_int_equal(store_resolve(f->s, STORE_KIND_NETWORK, "w", &got, err, sizeof(err)), 0);
	assert_int_equal(store_resolve(f->s, STORE_KIND_NETWORK, "nope", &got, err, sizeof(err)),
			 STORE_E_NOT_FOUND);
	assert_string_equal(err, "network nope not found");
	assert_int_equal(store_find(f->s, STORE_INDEX_NETWORK_NAME, "DEMO_DEFAULT", NULL, 0), 1);
	uint8_t *snap;
	size_t len;
	snapshot_of(f->s, &snap, &len);
	assert_non_null(memmem(snap, len, "\"network\":[{", 12));
	struct store *r = store_new();
	assert_int_equal(store_restore(r, snap, len, err, sizeof(err)), 0);
	assert_int_equal(store_count(r, STORE_KIND_NETWORK), 1);
	store_free(r);
	free(snap);
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_NETWORK, mkid("w1"), 1)), 0);
	assert_int_equal(store_find(f->s, STORE_INDEX_NETWORK_NAME, "demo_default", NULL, 0), 0);
}

/* Each malformed entry: refused the same way, state unchanged, index advanced. */
static void malformed_entries_are_refused(void **state)
{
	struct fx *f = *state;
	preload(f);
	char *before = state_text(f->s);
	static const char *const cases[][2] = {
		{ "", "transaction: not JSON" },
		{ "{\"v\":1", "transaction: not JSON" },
		{ "[]", "transaction: not an object" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[]} x", "transaction: not JSON" },
		{ "{\"v\":1,\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[]}", "duplicate" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[],\"x\":0}", "transaction.x: unknown field" },
		{ "{\"v\":2,\"time\":\"" T0_TEXT "\",\"ops\":[]}", "transaction.v: unsupported version" },
		{ "{\"time\":\"" T0_TEXT "\",\"ops\":[]}", "transaction.v: missing" },
		{ "{\"v\":1,\"time\":\"2026-11-24 22:54:25Z\",\"ops\":[]}", "transaction.time:" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":{}}", "transaction.ops: not an array" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[1]}", "ops[0]: not an object" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"upsert\"}]}", "ops[0].op: must be" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"delete\",\"kind\":\"secret\",\"id\":\"a\",\"expect\":0}]}",
		  "ops[0].kind: not a known kind" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"delete\",\"kind\":\"task\",\"id\":\"a\",\"expect\":0}]}",
		  "ops[0].id: not an object id" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"delete\",\"kind\":\"task\",\"id\":\"t100000000000000000000000\",\"expect\":-1}]}",
		  "ops[0].expect: must be an integer >= 0" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"delete\",\"kind\":\"task\",\"id\":\"t100000000000000000000000\"}]}",
		  "ops[0].expect: missing" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"task\",\"object\":{}}]}",
		  "ops[0].object.ID: missing" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"task\",\"object\":{\"ID\":\"x\"}}]}",
		  "ops[0].object.ID: not an object id" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"task\",\"object\":{\"ID\":\"t900000000000000000000000\",\"ServiceID\":\"web\"}}]}",
		  "ops[0].object.ServiceID: not an object id" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"service\",\"object\":{\"ID\":\"s900000000000000000000000\"}}]}",
		  "ops[0].object.Spec.Name: missing" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"service\",\"object\":{\"ID\":\"s900000000000000000000000\",\"Spec\":{\"Name\":\"\"}}}]}",
		  "ops[0].object.Spec.Name: must be a non-empty string" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"node\",\"object\":{\"ID\":\"n900000000000000000000000\",\"Description\":[]}}]}",
		  "ops[0].object.Description: not an object" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"update\",\"kind\":\"task\",\"id\":\"t100000000000000000000000\",\"expect\":1,\"object\":{\"ID\":\"t200000000000000000000000\"}}]}",
		  "ops[0].object.ID: differs from ops[0].id" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"task\",\"object\":{\"ID\":\"t900000000000000000000000\"},\"id\":\"t900000000000000000000000\"}]}",
		  "ops[0].id: unknown field" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"create\",\"kind\":\"task\",\"object\":{\"ID\":\"t900000000000000000000000\",\"x\":\"a\\u0000b\"}}]}",
		  "transaction: not JSON" },
		{ "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[],\"n\":99999999999999999999}", "transaction: not JSON" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_result res;
		uint64_t index = f->next;
		if (apply_text(f, cases[i][0], &res) != STORE_E_MALFORMED)
			fail_msg("case %zu accepted: %s", i, cases[i][0]);
		assert_int_equal(res.code, STORE_E_MALFORMED);
		assert_int_equal(res.op, -1);
		if (strstr(res.message, cases[i][1]) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, res.message, cases[i][1]);
		assert_int_equal(store_applied_index(f->s), index);
	}
	/* Larger than STORE_TXN_MAX, whatever it holds. */
	size_t big = STORE_TXN_MAX + 1;
	uint8_t *buf = calloc(1, big);
	struct store_result res;
	assert_int_equal(store_apply(f->s, f->next++, buf, big, &res), STORE_E_MALFORMED);
	assert_non_null(strstr(res.message, "more than 4194304"));
	free(buf);
	char *after = state_text(f->s);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void index_must_move_forward(void **state)
{
	struct fx *f = *state;
	preload(f);
	uint8_t *buf;
	size_t len;
	build(T0, OPS(DELETE(STORE_KIND_TASK, mkid("t1"), 0)), &buf, &len);
	struct store_result res;
	assert_int_equal(store_apply(f->s, 1, buf, len, &res), STORE_E_INVALID);
	assert_non_null(strstr(res.message, "is not after the applied index 1"));
	assert_int_equal(store_apply(f->s, (uint64_t)INT64_MAX + 1, buf, len, &res), STORE_E_INVALID);
	assert_int_equal(store_applied_index(f->s), 1);
	assert_non_null(store_get(f->s, STORE_KIND_TASK, mkid("t1")));
	/* Gaps are fine: Raft's configuration entries take indexes too. */
	assert_int_equal(store_apply(f->s, 10, buf, len, &res), 0);
	assert_int_equal(store_applied_index(f->s), 10);
	free(buf);
}

/* The third operation conflicts: the first two leave no trace. */
static void failing_op_rolls_back_the_whole_transaction(void **state)
{
	struct fx *f = *state;
	preload(f);
	char *before = state_text(f->s);
	struct store_result res;
	assert_int_equal(
		RUN(f, &res, CREATE(STORE_KIND_TASK, task_obj(mkid("t3"), mkid("s1"), mkid("n1"))),
		    UPDATE(STORE_KIND_TASK, mkid("t1"), 1, task_obj(mkid("t1"), mkid("s1"), mkid("n2"))),
		    UPDATE(STORE_KIND_TASK, mkid("t2"), 9, task_obj(mkid("t2"), mkid("s1"), mkid("n2")))),
		STORE_E_CONFLICT);
	assert_int_equal(res.op, 2);
	/* Every kind of write undone at once: rename, delete, create, move. */
	assert_int_equal(
		RUN(f, &res, UPDATE(STORE_KIND_SERVICE, mkid("s1"), 1, service_obj(mkid("s1"), "api")),
		    DELETE(STORE_KIND_TASK, mkid("t1"), 0),
		    CREATE(STORE_KIND_SERVICE, service_obj(mkid("s2"), "web")),
		    UPDATE(STORE_KIND_TASK, mkid("t2"), 1, task_obj(mkid("t2"), "", mkid("n3"))),
		    CREATE(STORE_KIND_NODE, node_obj(mkid("n2"), "host2")),
		    DELETE(STORE_KIND_NODE, mkid("n1"), 1),
		    CREATE(STORE_KIND_SERVICE, service_obj(mkid("s3"), "API"))),
		STORE_E_NAME_CONFLICT);
	assert_int_equal(res.op, 6);
	char *after = state_text(f->s);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_t *got[4];
	assert_int_equal(store_tasks_by_service(f->s, mkid("s1"), got, 4), 2);
	assert_int_equal(store_tasks_by_node(f->s, mkid("n1"), got, 4), 2);
	assert_int_equal(store_tasks_by_node(f->s, mkid("n3"), got, 4), 0);
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "web", &got[0], NULL, 0), 0);
	assert_string_equal(field(got[0], "ID", NULL), mkid("s1"));
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "api", &got[0], NULL, 0),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_resolve(f->s, STORE_KIND_NODE, "host1", &got[0], NULL, 0), 0);
	assert_int_equal(store_resolve(f->s, STORE_KIND_NODE, "host2", &got[0], NULL, 0),
			 STORE_E_NOT_FOUND);
}

/* Two stores fed the same entries, refusals included, snapshot to the same bytes. */
static void same_entries_give_identical_snapshots(void **state)
{
	(void)state;
	struct fx a = { store_new(), 1 }, b = { store_new(), 1 };
	struct fx *both[] = { &a, &b };
	for (size_t i = 0; i < 2; i++) {
		struct fx *f = both[i];
		struct store_result res;
		preload(f);
		RUN(f, &res, UPDATE(STORE_KIND_TASK, mkid("t1"), 1, task_obj(mkid("t1"), mkid("s1"), mkid("n2"))));
		RUN(f, &res, CREATE(STORE_KIND_SERVICE, service_obj(mkid("s2"), "web")));
		apply_text(f, "garbage", &res);
		run_at(f, T1, OPS(CREATE(STORE_KIND_SERVICE, service_obj(mkid("s3"), "db")),
				  DELETE(STORE_KIND_TASK, mkid("t2"), 0)), &res);
	}
	uint8_t *sa, *sb;
	size_t la, lb;
	snapshot_of(a.s, &sa, &la);
	snapshot_of(b.s, &sb, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(sa, sb, la);
	free(sa);
	free(sb);
	store_free(a.s);
	store_free(b.s);
}

/* ---- Indexes and lookups ------------------------------------------------------------ */

static void task_indexes_follow_moves_and_deletes(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	json_t *got[4];
	assert_int_equal(store_tasks_by_node(f->s, mkid("n1"), got, 4), 2);
	assert_string_equal(field(got[0], "ID", NULL), mkid("t1"));
	assert_string_equal(field(got[1], "ID", NULL), mkid("t2"));
	/* Move t1 to n2. */
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_TASK, mkid("t1"), 1,
					     task_obj(mkid("t1"), mkid("s1"), mkid("n2")))),
			 0);
	assert_int_equal(store_tasks_by_node(f->s, mkid("n1"), got, 4), 1);
	assert_string_equal(field(got[0], "ID", NULL), mkid("t2"));
	assert_int_equal(store_tasks_by_node(f->s, mkid("n2"), got, 4), 1);
	assert_string_equal(field(got[0], "ID", NULL), mkid("t1"));
	assert_int_equal(version_of(got[0]), 2);
	/* Unassign t2 (NodeID ""): no longer under any node. */
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_TASK, mkid("t2"), 1,
					     task_obj(mkid("t2"), mkid("s1"), ""))),
			 0);
	assert_int_equal(store_tasks_by_node(f->s, mkid("n1"), NULL, 0), 0);
	assert_int_equal(store_tasks_by_node(f->s, "", NULL, 0), 0);
	assert_int_equal(store_tasks_by_service(f->s, mkid("s1"), got, 1), 2);
	/* Delete t1: gone from both indexes. */
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_TASK, mkid("t1"), 2)), 0);
	assert_int_equal(store_tasks_by_node(f->s, mkid("n2"), NULL, 0), 0);
	assert_int_equal(store_tasks_by_service(f->s, mkid("s1"), got, 4), 1);
	assert_string_equal(field(got[0], "ID", NULL), mkid("t2"));
	assert_int_equal(store_find(f->s, STORE_INDEX_SERVICE_NAME, "WEB", got, 4), 1);
	assert_int_equal(store_find(f->s, STORE_INDEX_COUNT, "web", got, 4), 0);
}

static void resolve_by_id_name_and_prefix(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_SERVICE, service_obj(mkid("abc1"), "web")),
			     CREATE(STORE_KIND_SERVICE, service_obj(mkid("abc2"), "db")),
			     CREATE(STORE_KIND_SERVICE, service_obj(mkid("x"), mkid("abc1"))),
			     CREATE(STORE_KIND_NODE, node_obj(mkid("n1"), "h")),
			     CREATE(STORE_KIND_NODE, node_obj(mkid("n2"), "h")),
			     CREATE(STORE_KIND_NODE, node_obj(mkid("n3"), "solo"))),
			 0);
	json_t *got = NULL;
	char err[STORE_MSG_MAX];
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "abc1", &got, err, sizeof(err)), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("abc1"));
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "abc", &got, err, sizeof(err)),
			 STORE_E_AMBIGUOUS);
	assert_string_equal(err, "service abc is ambiguous (2 matches found)");
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "db", &got, err, sizeof(err)), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("abc2"));
	/* Names match exactly; "DB" falls through to the id prefix and fails. */
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "DB", &got, err, sizeof(err)),
			 STORE_E_NOT_FOUND);
	assert_string_equal(err, "service DB not found");
	/* A full id wins over a service named like it. */
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, mkid("abc1"), &got, err, sizeof(err)), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("abc1"));
	assert_int_equal(store_resolve(f->s, STORE_KIND_SERVICE, "", &got, err, sizeof(err)),
			 STORE_E_NOT_FOUND);
	assert_int_equal(store_resolve(f->s, STORE_KIND_NODE, "h", &got, err, sizeof(err)),
			 STORE_E_AMBIGUOUS);
	assert_string_equal(err, "node h is ambiguous (2 matches found)");
	assert_int_equal(store_resolve(f->s, STORE_KIND_NODE, "solo", &got, err, sizeof(err)), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("n3"));
	assert_int_equal(store_resolve(f->s, STORE_KIND_NODE, "n2", &got, err, sizeof(err)), 0);
	assert_string_equal(field(got, "ID", NULL), mkid("n2"));
	assert_int_equal(store_resolve(f->s, STORE_KIND_TASK, "n2", &got, err, sizeof(err)),
			 STORE_E_NOT_FOUND);
	assert_string_equal(err, "task n2 not found");
	/* Iteration is in id order. */
	assert_int_equal(store_count(f->s, STORE_KIND_NODE), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(field(store_at(f->s, STORE_KIND_NODE, i), "ID", NULL),
				    mkid(i == 0 ? "n1" : i == 1 ? "n2" : "n3"));
	assert_null(store_at(f->s, STORE_KIND_NODE, 3));
	assert_null(store_get(f->s, STORE_KIND_COUNT, mkid("n1")));
}

/* ---- Snapshot ---------------------------------------------------------------------- */

static void snapshot_round_trips(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	preload(f);
	RUN(f, &res, UPDATE(STORE_KIND_TASK, mkid("t1"), 1, task_obj(mkid("t1"), mkid("s1"), mkid("n2"))));
	uint8_t *snap, *again;
	size_t len, len2;
	snapshot_of(f->s, &snap, &len);
	struct store *r = store_new();
	char err[STORE_MSG_MAX] = "";
	assert_int_equal(store_restore(r, snap, len, err, sizeof(err)), 0);
	assert_int_equal(store_applied_index(r), 2);
	snapshot_of(r, &again, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(snap, again, len);
	json_t *got;
	assert_int_equal(store_resolve(r, STORE_KIND_SERVICE, "web", &got, NULL, 0), 0);
	assert_int_equal(store_tasks_by_node(r, mkid("n2"), NULL, 0), 1);
	assert_int_equal(store_tasks_by_service(r, mkid("s1"), NULL, 0), 2);
	/* Restoring over a non-empty store replaces everything; an empty store too. */
	struct store *empty = store_new();
	uint8_t *esnap;
	size_t elen;
	snapshot_of(empty, &esnap, &elen);
	assert_int_equal(store_restore(r, esnap, elen, err, sizeof(err)), 0);
	assert_int_equal(store_count(r, STORE_KIND_TASK), 0);
	assert_int_equal(store_applied_index(r), 0);
	/* The restored store goes on applying like the original. */
	assert_int_equal(store_restore(r, snap, len, err, sizeof(err)), 0);
	uint8_t *buf;
	size_t blen;
	build(T1, OPS(DELETE(STORE_KIND_TASK, mkid("t2"), 0)), &buf, &blen);
	assert_int_equal(store_apply(r, 3, buf, blen, NULL), 0);
	assert_int_equal(store_apply(f->s, 3, buf, blen, NULL), 0);
	free(again);
	snapshot_of(r, &again, &len2);
	free(snap);
	snapshot_of(f->s, &snap, &len);
	assert_int_equal(len, len2);
	assert_memory_equal(snap, again, len);
	free(buf);
	free(esnap);
	free(snap);
	free(again);
	store_free(empty);
	store_free(r);
}

/* Replaces the first occurrence of from in s (which must contain it). */
static char *replaced(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	if (at == NULL)
		fail_msg("\"%s\" not in the snapshot", from);
	size_t head = (size_t)(at - s), n = strlen(s) - strlen(from) + strlen(to);
	char *out = malloc(n + 1);
	memcpy(out, s, head);
	strcpy(out + head, to);
	strcat(out, at + strlen(from));
	return out;
}

static void corrupt_snapshot_leaves_store_unchanged(void **state)
{
	struct fx *f = *state;
	preload(f);
	uint8_t *snap;
	size_t len;
	snapshot_of(f->s, &snap, &len);
	char *good = strndup((const char *)snap, len);
	free(snap);
	char *before = state_text(f->s);
	char t1[64], t2[64];
	snprintf(t1, sizeof(t1), "\"ID\":\"%s\"", mkid("t1"));
	snprintf(t2, sizeof(t2), "\"ID\":\"%s\"", mkid("t2"));
	struct { const char *from, *to, *want; } cases[] = {
		{ "\"format\":\"swarmnode-store\"", "\"format\":\"other\"", "snapshot.format" },
		{ "\"v\":1", "\"v\":9", "snapshot.v: unsupported version" },
		{ "\"index\":1", "\"index\":-1", "snapshot.index" },
		{ "\"task\":[", "\"secret\":[],\"task\":[", "snapshot.objects.secret: unknown kind" },
		{ "\"cluster\":[", "\"cluster\":{},\"x\":[", "snapshot.objects.cluster: not an array" },
		{ t2, t1, "objects.task[1].ID: not after the previous id" },
		{ "\"Version\":{\"Index\":1}", "\"Version\":{\"Index\":2}", "Version.Index: must be an integer in 1..1" },
		{ "\"Version\":{\"Index\":1}", "\"Version\":{}", "Version.Index" },
		{ "\"CreatedAt\":\"" T0_TEXT "\"", "\"CreatedAt\":\"yesterday\"", "objects.cluster[0].CreatedAt" },
		{ "\"Hostname\":\"host1\"", "\"Hostname\":7", "objects.node[0].Description.Hostname: must be a string" },
		{ "\"format\"", "\"format\":1,\"format\"", "not JSON" },
		{ "\"index\"", "\"extra\":0,\"index\"", "snapshot.extra: unknown field" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *bad = replaced(good, cases[i].from, cases[i].to);
		char err[STORE_MSG_MAX] = "";
		if (store_restore(f->s, (const uint8_t *)bad, strlen(bad), err, sizeof(err)) !=
		    STORE_E_CORRUPT)
			fail_msg("case %zu accepted: %s", i, bad);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
		free(bad);
	}
	/* Two services with one name; two clusters; truncated bytes. */
	json_t *doc = json_loads(good, 0, NULL);
	json_t *services = json_object_get(json_object_get(doc, "objects"), "service");
	json_t *twin = json_deep_copy(json_array_get(services, 0));
	json_object_set_new(twin, "ID", json_string(mkid("s2")));
	json_array_append_new(services, twin);
	json_t *clusters = json_object_get(json_object_get(doc, "objects"), "cluster");
	char *text = json_dumps(doc, JSON_COMPACT);
	char err[STORE_MSG_MAX] = "";
	assert_int_equal(store_restore(f->s, (const uint8_t *)text, strlen(text), err, sizeof(err)),
			 STORE_E_CORRUPT);
	assert_non_null(strstr(err, "objects.service[1]: name conflicts with an existing object: service web already exists"));
	free(text);
	json_array_remove(services, 1);
	twin = json_deep_copy(json_array_get(clusters, 0));
	json_object_set_new(twin, "ID", json_string(mkid("z")));
	json_object_set_new(json_object_get(twin, "Spec"), "Name", json_string("other"));
	json_array_append_new(clusters, twin);
	text = json_dumps(doc, JSON_COMPACT);
	assert_int_equal(store_restore(f->s, (const uint8_t *)text, strlen(text), err, sizeof(err)),
			 STORE_E_CORRUPT);
	assert_non_null(strstr(err, "a cluster object already exists"));
	free(text);
	json_decref(doc);
	assert_int_equal(store_restore(f->s, (const uint8_t *)good, strlen(good) - 1, err, sizeof(err)),
			 STORE_E_CORRUPT);
	assert_non_null(strstr(err, "snapshot: not JSON"));
	char *after = state_text(f->s);
	assert_string_equal(before, after);
	assert_int_equal(store_applied_index(f->s), 1);
	free(before);
	free(after);
	free(good);
}

/* ---- The cluster object's removed nodes ----------------------------------------------- */

#define REMOVED_N1 "{\"ID\":\"n100000000000000000000000\",\"Expiry\":\"" T1_TEXT "\"}"

/* A cluster object whose RemovedNodes is the JSON text list. */
static json_t *cluster_with_removed(const char *id, const char *list)
{
	json_t *obj = cluster_obj(id);
	json_t *v = json_loads(list, JSON_DECODE_ANY, NULL);
	assert_non_null(v);
	json_object_set_new(obj, REMOVED_NODES_FIELD, v);
	return obj;
}

static void removed_nodes_round_trip_through_snapshots(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	const char *n1 = "n100000000000000000000000";
	assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_CLUSTER, cluster_with_removed(mkid("c1"), "[" REMOVED_N1 "]"))),
			 0);
	uint8_t *snap;
	size_t len;
	snapshot_of(f->s, &snap, &len);
	struct store *r = store_new();
	char err[STORE_MSG_MAX] = "";
	if (store_restore(r, snap, len, err, sizeof(err)) != 0)
		fail_msg("restore refused: %s", err);
	json_t *before = store_at(f->s, STORE_KIND_CLUSTER, 0), *after = store_at(r, STORE_KIND_CLUSTER, 0);
	assert_non_null(after);
	assert_true(json_equal(json_object_get(before, REMOVED_NODES_FIELD), json_object_get(after, REMOVED_NODES_FIELD)));
	assert_true(removed_nodes_contains(after, n1, T0));
	assert_false(removed_nodes_contains(after, n1, T1)); /* expired at its Expiry */
	assert_false(removed_nodes_contains(after, mkid("n2"), T0));
	/* The restored store's snapshot is byte for byte the original's. */
	uint8_t *again;
	size_t len2;
	snapshot_of(r, &again, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(snap, again, len);
	free(again);
	free(snap);
	store_free(r);
}

/* A malformed list is refused by apply (nothing applied) and by restore
 * (the store unchanged), and the message names the list's bad field. */
static void malformed_removed_nodes_are_refused(void **state)
{
	struct fx *f = *state;
	preload(f);
	char *before = state_text(f->s);
	static const char *const cases[][2] = {
		{ "{}", "RemovedNodes: not an array" },
		{ "[7]", "RemovedNodes[0]: not an object" },
		{ "[" REMOVED_N1 ",{\"Expiry\":\"" T1_TEXT "\"}]", "RemovedNodes[1].ID: missing" },
		{ "[{\"ID\":\"x\",\"Expiry\":\"" T1_TEXT "\"}]", "RemovedNodes[0].ID: not a node id" },
		{ "[{\"ID\":\"n100000000000000000000000\"}]", "RemovedNodes[0].Expiry: missing" },
		{ "[{\"ID\":\"n100000000000000000000000\",\"Expiry\":\"tomorrow\"}]",
		  "RemovedNodes[0].Expiry: not an RFC 3339 UTC time" },
		{ "[{\"ID\":\"n100000000000000000000000\",\"Expiry\":7}]", "RemovedNodes[0].Expiry: not an RFC 3339" },
		{ "[{\"ID\":\"n100000000000000000000000\",\"Expiry\":\"" T1_TEXT "\",\"Why\":\"\"}]",
		  "RemovedNodes[0].Why: unknown field" },
	};
	uint8_t *snap;
	size_t len;
	snapshot_of(f->s, &snap, &len);
	json_t *good = json_loadb((const char *)snap, len, 0, NULL);
	free(snap);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
			 "{\"v\":1,\"time\":\"" T0_TEXT "\",\"ops\":[{\"op\":\"update\",\"kind\":\"cluster\",\"id\":\"%s\","
			 "\"expect\":1,\"object\":{\"ID\":\"%s\",\"Spec\":{\"Name\":\"default\"},\"RemovedNodes\":%s}}]}",
			 mkid("c1"), mkid("c1"), cases[i][0]);
		struct store_result res;
		if (apply_text(f, text, &res) != STORE_E_MALFORMED)
			fail_msg("case %zu applied: %s", i, text);
		if (strstr(res.message, cases[i][1]) == NULL || strstr(res.message, "ops[0].object.") == NULL)
			fail_msg("case %zu: apply's error \"%s\" lacks \"%s\"", i, res.message, cases[i][1]);
		/* The same list in a snapshot. */
		json_t *doc = json_deep_copy(good);
		json_t *cluster = json_array_get(json_object_get(json_object_get(doc, "objects"), "cluster"), 0);
		json_object_set_new(cluster, REMOVED_NODES_FIELD, json_loads(cases[i][0], JSON_DECODE_ANY, NULL));
		char *bad = json_dumps(doc, JSON_COMPACT);
		char err[STORE_MSG_MAX] = "";
		if (store_restore(f->s, (const uint8_t *)bad, strlen(bad), err, sizeof(err)) != STORE_E_CORRUPT)
			fail_msg("case %zu restored: %s", i, bad);
		if (strstr(err, cases[i][1]) == NULL || strstr(err, "objects.cluster[0].") == NULL)
			fail_msg("case %zu: restore's error \"%s\" lacks \"%s\"", i, err, cases[i][1]);
		free(bad);
		json_decref(doc);
	}
	json_decref(good);
	/* The builder refuses what the decoder would. */
	struct store_txn *txn = store_txn_new(T0);
	char err[STORE_MSG_MAX] = "";
	json_t *obj = cluster_with_removed(mkid("c1"), "[{\"ID\":\"x\",\"Expiry\":\"" T1_TEXT "\"}]");
	assert_int_equal(store_txn_update(txn, STORE_KIND_CLUSTER, mkid("c1"), 1, obj, err, sizeof(err)),
			 STORE_E_INVALID);
	assert_non_null(strstr(err, "RemovedNodes[0].ID: not a node id"));
	json_decref(obj);
	store_txn_free(txn);
	char *after = state_text(f->s);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* ---- Watch ------------------------------------------------------------------------- */

struct seen {
	int who;                 /* which watcher */
	uint64_t index;
	bool restored;
	enum store_kind kind;
	enum store_action action;
	char old_id[IDS_LEN + 1];
	char new_id[IDS_LEN + 1];
	uint64_t old_version;
	uint64_t new_version;
};

struct watch_log {
	struct seen v[32];
	size_t n;
	struct store *s;
	int busy_rc; /* what a write from inside the callback returned */
};

struct watcher_ctx {
	int who;
	struct watch_log *log;
};

static void record(void *data, const struct store_event *ev)
{
	struct watcher_ctx *w = data;
	struct watch_log *log = w->log;
	log->busy_rc = store_apply(log->s, 1000, (const uint8_t *)"{}", 2, NULL);
	if (ev->n_changes == 0)
		log->v[log->n++] = (struct seen){ .who = w->who, .index = ev->index,
						  .restored = ev->restored };
	for (size_t i = 0; i < ev->n_changes && log->n < 32; i++) {
		const struct store_change *c = &ev->changes[i];
		struct seen *e = &log->v[log->n++];
		*e = (struct seen){ .who = w->who, .index = ev->index, .restored = ev->restored,
				    .kind = c->kind, .action = c->action };
		if (c->old_obj != NULL) {
			strcpy(e->old_id, field(c->old_obj, "ID", NULL));
			e->old_version = version_of(c->old_obj);
		}
		if (c->new_obj != NULL) {
			strcpy(e->new_id, field(c->new_obj, "ID", NULL));
			e->new_version = version_of(c->new_obj);
		}
	}
}

static void watchers_see_changes_in_order(void **state)
{
	struct fx *f = *state;
	struct watch_log log = { .s = f->s };
	struct watcher_ctx a = { 1, &log }, b = { 2, &log };
	assert_int_equal(store_watch(f->s, record, &a), 0);
	assert_int_equal(store_watch(f->s, record, &b), 0);
	assert_int_equal(store_watch(f->s, record, &a), STORE_E_EXISTS);
	preload(f);
	assert_int_equal(log.n, 10); /* 5 changes, each to both watchers */
	assert_int_equal(log.busy_rc, STORE_E_BUSY);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(log.v[i].who, 1);
		assert_int_equal(log.v[5 + i].who, 2);
		assert_int_equal(log.v[i].action, STORE_CREATED);
		assert_int_equal(log.v[i].index, 1);
	}
	assert_int_equal(log.v[0].kind, STORE_KIND_CLUSTER);
	assert_int_equal(log.v[4].kind, STORE_KIND_TASK);
	assert_string_equal(log.v[4].new_id, mkid("t2"));
	assert_int_equal(store_unwatch(f->s, record, &b), 0);
	assert_int_equal(store_unwatch(f->s, record, &b), STORE_E_NOT_FOUND);
	/* Update then delete of one object in one transaction: both changes, in order. */
	log.n = 0;
	struct store_result res;
	assert_int_equal(RUN(f, &res, UPDATE(STORE_KIND_TASK, mkid("t1"), 1,
					     task_obj(mkid("t1"), mkid("s1"), mkid("n2"))),
			     DELETE(STORE_KIND_TASK, mkid("t1"), 2)),
			 0);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.v[0].action, STORE_UPDATED);
	assert_int_equal(log.v[0].old_version, 1);
	assert_int_equal(log.v[0].new_version, 2);
	assert_int_equal(log.v[1].action, STORE_REMOVED);
	assert_string_equal(log.v[1].old_id, mkid("t1"));
	assert_int_equal(log.v[1].old_version, 2);
	assert_string_equal(log.v[1].new_id, "");
	/* Refused transactions tell nobody. */
	log.n = 0;
	assert_int_equal(RUN(f, &res, DELETE(STORE_KIND_TASK, mkid("t1"), 0)), STORE_E_NOT_FOUND);
	apply_text(f, "junk", &res);
	assert_int_equal(log.n, 0);
	/* A restore is one event that says so. */
	uint8_t *snap;
	size_t len;
	snapshot_of(f->s, &snap, &len);
	assert_int_equal(store_restore(f->s, snap, len, NULL, 0), 0);
	assert_int_equal(log.n, 1);
	assert_true(log.v[0].restored);
	assert_int_equal(log.v[0].index, 4);
	free(snap);
}

/* ---- Builder ------------------------------------------------------------------------ */

static void builder_refuses_what_the_decoder_would(void **state)
{
	(void)state;
	assert_null(store_txn_new(-1));
	struct store_txn *txn = store_txn_new(T0);
	char err[STORE_MSG_MAX] = "";
	json_t *bad = json_pack("{s:s}", "ID", "short");
	assert_int_equal(store_txn_create(txn, STORE_KIND_TASK, bad, err, sizeof(err)), STORE_E_INVALID);
	assert_string_equal(err, "ops[0].object.ID: not an object id");
	json_decref(bad);
	json_t *svc = service_obj(mkid("s1"), "web");
	assert_int_equal(store_txn_create(txn, STORE_KIND_COUNT, svc, err, sizeof(err)), STORE_E_INVALID);
	assert_string_equal(err, "ops[0].kind: not a known kind");
	assert_int_equal(store_txn_update(txn, STORE_KIND_SERVICE, mkid("s2"), 1, svc, err, sizeof(err)),
			 STORE_E_INVALID);
	assert_string_equal(err, "ops[0].object.ID: differs from ops[0].id");
	assert_int_equal(store_txn_delete(txn, STORE_KIND_SERVICE, "nope", 0, err, sizeof(err)),
			 STORE_E_INVALID);
	assert_int_equal(store_txn_create(txn, STORE_KIND_SERVICE, NULL, err, sizeof(err)), STORE_E_INVALID);
	assert_int_equal(store_txn_count(txn), 0);
	assert_int_equal(store_txn_create(txn, STORE_KIND_SERVICE, svc, err, sizeof(err)), 0);
	/* The builder copied svc: changing it now changes nothing that was added. */
	json_object_set_new(json_object_get(svc, "Spec"), "Name", json_string("changed"));
	uint8_t *buf;
	size_t len;
	assert_int_equal(store_txn_encode(txn, &buf, &len), 0);
	struct store_txn_decoded d;
	assert_int_equal(store_txn_decode(buf, len, &d, err, sizeof(err)), 0);
	assert_int_equal(d.n_ops, 1);
	assert_int_equal(d.ops[0].type, STORE_OP_CREATE);
	assert_int_equal(d.ops[0].kind, STORE_KIND_SERVICE);
	assert_string_equal(d.ops[0].id, mkid("s1"));
	assert_string_equal(d.time, T0_TEXT);
	assert_true(d.time_ns == T0);
	assert_string_equal(field(d.ops[0].object, "Spec", "Name"), "web");
	store_txn_decoded_release(&d);
	free(buf);
	/* Too big for the log. */
	json_t *huge = service_obj(mkid("s9"), "big");
	char *blob = malloc(STORE_TXN_MAX);
	memset(blob, 'a', STORE_TXN_MAX - 1);
	blob[STORE_TXN_MAX - 1] = '\0';
	json_object_set_new(huge, "Blob", json_string(blob));
	free(blob);
	assert_int_equal(store_txn_create(txn, STORE_KIND_SERVICE, huge, err, sizeof(err)), 0);
	assert_int_equal(store_txn_encode(txn, &buf, &len), STORE_E_TOO_BIG);
	json_decref(huge);
	json_decref(svc);
	store_txn_free(txn);
	assert_string_equal(store_strerror(STORE_E_CONFLICT), "update out of sequence");
	assert_string_equal(store_strerror(1), "unknown error");
	assert_string_equal(store_kind_name(STORE_KIND_TASK), "task");
	assert_null(store_kind_name(STORE_KIND_COUNT));
}

/* ---- Failing allocator ---------------------------------------------------------------- */

static long allocs_left = -1; /* jansson allocations before one fails; -1 = never */

static void *failing_malloc(size_t n)
{
	if (allocs_left == 0)
		return NULL;
	if (allocs_left > 0)
		allocs_left--;
	return malloc(n);
}

/* Fills the task tables to their first capacity (16), so that the next
 * creation must grow them. */
static void preload_full_tables(struct fx *f)
{
	preload(f);
	struct store_result res;
	for (int i = 3; i <= 16; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "u%02d", i);
		assert_int_equal(RUN(f, &res, CREATE(STORE_KIND_TASK, task_obj(mkid(tag), mkid("s1"),
										 mkid("n1")))),
				 0);
	}
}

/* Every allocation of an apply (jansson's and the store's own, which go
 * through jansson's allocator) fails in turn: each time the store reports
 * STORE_E_NOMEM and is exactly as before, applied index included. */
static void out_of_memory_changes_nothing(void **state)
{
	struct fx *f = *state;
	preload_full_tables(f);
	uint64_t index = f->next, applied = store_applied_index(f->s);
	uint8_t *buf;
	size_t len;
	build(T1, OPS(UPDATE(STORE_KIND_SERVICE, mkid("s1"), 1, service_obj(mkid("s1"), "api")),
		      DELETE(STORE_KIND_TASK, mkid("t1"), 0),
		      CREATE(STORE_KIND_TASK, task_obj(mkid("u17"), mkid("s1"), mkid("n2"))),
		      CREATE(STORE_KIND_TASK, task_obj(mkid("u18"), mkid("s1"), mkid("n2"))),
		      UPDATE(STORE_KIND_TASK, mkid("t2"), 1, task_obj(mkid("t2"), mkid("s1"), mkid("n2")))),
	      &buf, &len);
	char *before = state_text(f->s);
	json_set_alloc_funcs(failing_malloc, free);
	int rc = STORE_E_NOMEM;
	long fail_at;
	for (fail_at = 0; rc == STORE_E_NOMEM && fail_at < 100000; fail_at++) {
		allocs_left = fail_at;
		struct store_result res;
		rc = store_apply(f->s, index, buf, len, &res);
		allocs_left = -1;
		if (rc != 0 && rc != STORE_E_NOMEM)
			fail_msg("allocation %ld failing gave %d: %s", fail_at, rc, res.message);
		if (rc == STORE_E_NOMEM) {
			assert_int_equal(store_applied_index(f->s), applied);
			char *now = state_text(f->s);
			assert_string_equal(before, now);
			free(now);
		}
	}
	json_set_alloc_funcs(malloc, free);
	assert_int_equal(rc, 0);
	assert_true(fail_at > 10);
	assert_int_equal(store_count(f->s, STORE_KIND_TASK), 17);
	assert_int_equal(store_tasks_by_node(f->s, mkid("n2"), NULL, 0), 3);
	assert_int_equal(store_tasks_by_service(f->s, mkid("s1"), NULL, 0), 17);
	free(before);
	free(buf);
}

/* The same for restore: NOMEM, and the store as it was. */
static void out_of_memory_in_restore_changes_nothing(void **state)
{
	struct fx *f = *state;
	preload_full_tables(f);
	uint8_t *snap;
	size_t len;
	snapshot_of(f->s, &snap, &len);
	struct store *r = store_new();
	struct fx g = { r, 1 };
	preload(&g);
	char *before = state_text(r);
	json_set_alloc_funcs(failing_malloc, free);
	int rc = STORE_E_NOMEM;
	long fail_at;
	for (fail_at = 0; rc == STORE_E_NOMEM && fail_at < 100000; fail_at++) {
		allocs_left = fail_at;
		rc = store_restore(r, snap, len, NULL, 0);
		allocs_left = -1;
		if (rc == STORE_E_NOMEM) {
			char *now = state_text(r);
			assert_string_equal(before, now);
			free(now);
		}
	}
	json_set_alloc_funcs(malloc, free);
	assert_int_equal(rc, 0);
	assert_true(fail_at > 10);
	assert_int_equal(store_count(r, STORE_KIND_TASK), 16);
	free(before);
	free(snap);
	store_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_formats_like_docker),
		cmocka_unit_test(time_parse_accepts_only_canonical),
		cmocka_unit_test_setup_teardown(create_stamps_version_and_times, setup, teardown),
		cmocka_unit_test_setup_teardown(update_keeps_created_at_and_bumps_version, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_update_is_out_of_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(delete_checks_version_unless_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(create_of_existing_id_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_object_is_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(service_names_are_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(published_ports_are_checked_when_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(rename_frees_the_old_name, setup, teardown),
		cmocka_unit_test_setup_teardown(networks_are_a_kind_with_unique_names, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_entries_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(index_must_move_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(failing_op_rolls_back_the_whole_transaction, setup, teardown),
		cmocka_unit_test(same_entries_give_identical_snapshots),
		cmocka_unit_test_setup_teardown(task_indexes_follow_moves_and_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(resolve_by_id_name_and_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(snapshot_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_snapshot_leaves_store_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(removed_nodes_round_trip_through_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_removed_nodes_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(watchers_see_changes_in_order, setup, teardown),
		cmocka_unit_test(builder_refuses_what_the_decoder_would),
		cmocka_unit_test_setup_teardown(out_of_memory_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(out_of_memory_in_restore_changes_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
