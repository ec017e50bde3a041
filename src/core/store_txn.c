/* store_txn: the transaction builder and its strict decoder (format in store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/ids.h"
#include "store_internal.h"

struct store_txn {
	json_t *root; /* {"v", "time", "ops"} */
	json_t *ops;  /* borrowed from root */
	size_t n_ops;
};

static const char *const op_names[] = {
	[STORE_OP_CREATE] = "create",
	[STORE_OP_UPDATE] = "update",
	[STORE_OP_DELETE] = "delete",
};

/* The fields each operation has, all required. */
static const char *const op_fields[][6] = {
	[STORE_OP_CREATE] = { "op", "kind", "object", NULL },
	[STORE_OP_UPDATE] = { "op", "kind", "id", "expect", "object", NULL },
	[STORE_OP_DELETE] = { "op", "kind", "id", "expect", NULL },
};

static int decode_op_type(const json_t *op, const char *where, enum store_op_type *type,
			  char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(op, "op"));
	for (int t = STORE_OP_CREATE; name != NULL && t <= STORE_OP_DELETE; t++) {
		if (strcmp(op_names[t], name) == 0) {
			*type = (enum store_op_type)t;
			return 0;
		}
	}
	store_errf(err, errlen, "%s.op: must be \"create\", \"update\" or \"delete\"", where);
	return -1;
}

static int decode_op_kind(const json_t *op, const char *where, enum store_kind *kind, char *err,
			  size_t errlen)
{
	const char *name = json_string_value(json_object_get(op, "kind"));
	if (name == NULL || store_kind_parse(name, kind) != 0) {
		store_errf(err, errlen, "%s.kind: not a known kind", where);
		return -1;
	}
	return 0;
}

/* The "id" and "expect" of an update or delete. */
static int decode_op_target(const json_t *op, const char *where, struct store_op *out, char *err,
			    size_t errlen)
{
	out->id = json_string_value(json_object_get(op, "id"));
	if (out->id == NULL || !ids_valid(out->id)) {
		store_errf(err, errlen, "%s.id: not an object id", where);
		return -1;
	}
	const json_t *expect = json_object_get(op, "expect");
	if (!json_is_integer(expect) || json_integer_value(expect) < 0) {
		store_errf(err, errlen, "%s.expect: must be an integer >= 0", where);
		return -1;
	}
	out->expect = (uint64_t)json_integer_value(expect);
	return 0;
}

/* Checks one operation and fills out, pointing into op. */
static int decode_op(json_t *op, const char *where, struct store_op *out, char *err,
		     size_t errlen)
{
	if (!json_is_object(op)) {
		store_errf(err, errlen, "%s: not an object", where);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (decode_op_type(op, where, &out->type, err, errlen) != 0 ||
	    store_check_fields(op, op_fields[out->type], where, err, errlen) != 0 ||
	    decode_op_kind(op, where, &out->kind, err, errlen) != 0)
		return -1;
	if (out->type != STORE_OP_CREATE && decode_op_target(op, where, out, err, errlen) != 0)
		return -1;
	if (out->type == STORE_OP_DELETE)
		return 0;
	char obj_where[64];
	snprintf(obj_where, sizeof(obj_where), "%s.object", where);
	out->object = json_object_get(op, "object");
	if (store_schema_check(out->kind, out->object, obj_where, err, errlen) != 0)
		return -1;
	if (out->type == STORE_OP_CREATE) {
		out->id = store_obj_id(out->object);
	} else if (strcmp(store_obj_id(out->object), out->id) != 0) {
		store_errf(err, errlen, "%s.ID: differs from %s.id", obj_where, where);
		return -1;
	}
	return 0;
}

/* ---- Decoder ------------------------------------------------------------------ */

static int decode_header(const json_t *root, struct store_txn_decoded *out, char *err,
			 size_t errlen)
{
	static const char *const fields[] = { "v", "time", "ops", NULL };
	if (!json_is_object(root)) {
		store_errf(err, errlen, "transaction: not an object");
		return -1;
	}
	if (store_check_fields(root, fields, "transaction", err, errlen) != 0)
		return -1;
	const json_t *v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != STORE_TXN_VERSION) {
		store_errf(err, errlen, "transaction.v: unsupported version (want %d)",
			   STORE_TXN_VERSION);
		return -1;
	}
	out->time = json_string_value(json_object_get(root, "time"));
	if (out->time == NULL || store_time_parse(out->time, &out->time_ns) != 0) {
		store_errf(err, errlen,
			   "transaction.time: not an RFC 3339 UTC time as Docker writes it");
		return -1;
	}
	if (!json_is_array(json_object_get(root, "ops"))) {
		store_errf(err, errlen, "transaction.ops: not an array");
		return -1;
	}
	return 0;
}

static int decode_ops(json_t *ops, struct store_txn_decoded *out, char *err, size_t errlen)
{
	size_t n = json_array_size(ops);
	if (n == 0)
		return 0;
	out->ops = store_mem_calloc(n, sizeof(*out->ops));
	if (out->ops == NULL)
		return STORE_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		char where[32];
		snprintf(where, sizeof(where), "ops[%zu]", i);
		if (decode_op(json_array_get(ops, i), where, &out->ops[i], err, errlen) != 0)
			return STORE_E_MALFORMED;
	}
	out->n_ops = n;
	return 0;
}

int store_txn_decode(const uint8_t *in, size_t len, struct store_txn_decoded *out, char *err,
		     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (len > STORE_TXN_MAX) {
		store_errf(err, errlen, "transaction: %zu bytes, more than %u", len,
			   STORE_TXN_MAX);
		return STORE_E_MALFORMED;
	}
	int rc = store_json_load(in, len, "transaction", &out->root, err, errlen);
	if (rc != 0)
		return rc;
	rc = STORE_E_MALFORMED;
	if (decode_header(out->root, out, err, errlen) == 0)
		rc = decode_ops(json_object_get(out->root, "ops"), out, err, errlen);
	if (rc != 0)
		store_txn_decoded_release(out);
	return rc;
}

void store_txn_decoded_release(struct store_txn_decoded *d)
{
	store_mem_free(d->ops);
	json_decref(d->root);
	memset(d, 0, sizeof(*d));
}

/* ---- Builder ------------------------------------------------------------------- */

struct store_txn *store_txn_new(int64_t unix_ns)
{
	char time[STORE_TIME_MAX];
	if (store_time_format(unix_ns, time) != 0)
		return NULL;
	struct store_txn *txn = calloc(1, sizeof(*txn));
	if (txn == NULL)
		return NULL;
	txn->root = json_pack("{s:i, s:s, s:[]}", "v", STORE_TXN_VERSION, "time", time, "ops");
	if (txn->root == NULL) {
		free(txn);
		return NULL;
	}
	txn->ops = json_object_get(txn->root, "ops");
	return txn;
}

void store_txn_free(struct store_txn *txn)
{
	if (txn == NULL)
		return;
	json_decref(txn->root);
	free(txn);
}

size_t store_txn_count(const struct store_txn *txn)
{
	return txn->n_ops;
}

/* Checks op with the decoder's rules and appends it; takes the reference on op. */
static int add_op(struct store_txn *txn, json_t *op, char *err, size_t errlen)
{
	if (op == NULL)
		return STORE_E_NOMEM;
	struct store_op decoded;
	char where[32];
	snprintf(where, sizeof(where), "ops[%zu]", txn->n_ops);
	if (decode_op(op, where, &decoded, err, errlen) != 0) {
		json_decref(op);
		return STORE_E_INVALID;
	}
	if (json_array_append_new(txn->ops, op) != 0)
		return STORE_E_NOMEM;
	txn->n_ops++;
	return 0;
}

/* A kind out of range still makes an op the decoder refuses with a message. */
static const char *kind_text(enum store_kind kind)
{
	const char *name = store_kind_name(kind);
	return name != NULL ? name : "?";
}

int store_txn_create(struct store_txn *txn, enum store_kind kind, const json_t *obj, char *err,
		     size_t errlen)
{
	json_t *copy = json_deep_copy(obj);
	if (copy == NULL)
		return obj == NULL ? STORE_E_INVALID : STORE_E_NOMEM;
	return add_op(txn, json_pack("{s:s, s:s, s:o}", "op", "create", "kind", kind_text(kind),
				     "object", copy),
		      err, errlen);
}

int store_txn_update(struct store_txn *txn, enum store_kind kind, const char *id,
		     uint64_t expect, const json_t *obj, char *err, size_t errlen)
{
	if (id == NULL || expect > INT64_MAX)
		return STORE_E_INVALID;
	json_t *copy = json_deep_copy(obj);
	if (copy == NULL)
		return obj == NULL ? STORE_E_INVALID : STORE_E_NOMEM;
	return add_op(txn, json_pack("{s:s, s:s, s:s, s:I, s:o}", "op", "update", "kind",
				     kind_text(kind), "id", id, "expect", (json_int_t)expect,
				     "object", copy),
		      err, errlen);
}

int store_txn_delete(struct store_txn *txn, enum store_kind kind, const char *id,
		     uint64_t expect, char *err, size_t errlen)
{
	if (id == NULL || expect > INT64_MAX)
		return STORE_E_INVALID;
	return add_op(txn, json_pack("{s:s, s:s, s:s, s:I}", "op", "delete", "kind",
				     kind_text(kind), "id", id, "expect", (json_int_t)expect),
		      err, errlen);
}

int store_txn_encode(const struct store_txn *txn, uint8_t **out, size_t *len)
{
	size_t n = json_dumpb(txn->root, NULL, 0, JSON_COMPACT);
	if (n == 0)
		return STORE_E_NOMEM;
	if (n > STORE_TXN_MAX)
		return STORE_E_TOO_BIG;
	uint8_t *buf = malloc(n);
	if (buf == NULL)
		return STORE_E_NOMEM;
	if (json_dumpb(txn->root, (char *)buf, n, JSON_COMPACT) != n) {
		free(buf);
		return STORE_E_NOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}
