/* store: the replicated cluster state (cluster, nodes, services, tasks as Docker JSON), a deterministic state machine fed by committed Raft entries. */
#ifndef SWARMNODE_STORE_H
#define SWARMNODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Every committed RAFT_ENTRY_NORMAL entry is one transaction, applied with
 * store_apply on every manager in log order. Apply is a pure function of
 * (state, entry index, entry bytes): ids and the time are chosen by the
 * proposer and travel inside the transaction.
 *
 * Transaction encoding, version 1: UTF-8 JSON (RFC 8259), one object, at most
 * STORE_TXN_MAX bytes. JSON rather than msgpack because every object is a
 * Docker Engine API document that the API serves as it is: one parser
 * (jansson), no lossy conversion, and a log entry reads with `jq`.
 *
 *   { "v": 1,
 *     "time": "2026-11-24T22:54:25.604293636Z",     RFC 3339, UTC, Go's RFC3339Nano
 *     "ops": [                                       0 or more, applied in order
 *       { "op": "create", "kind": K, "object": O },
 *       { "op": "update", "kind": K, "id": ID, "expect": V, "object": O },
 *       { "op": "delete", "kind": K, "id": ID, "expect": V } ] }
 *
 *   K  "cluster" | "node" | "service" | "task" | "network"
 *   ID 25 characters of [0-9a-z] (ids.h)
 *   V  integer >= 0: the Version.Index the proposer read; 0 on delete = any.
 *      An object written earlier in the same transaction is at that
 *      transaction's own index.
 *   O  a JSON object with "ID" (for update: absent or equal to "id"). The
 *      store replaces "Version", "CreatedAt" and "UpdatedAt". Checked fields:
 *        cluster  Spec.Name             non-empty string (unique)
 *                 RemovedNodes          absent, or the list removed_nodes.h draws
 *        node     Description.Hostname  string if present
 *        service  Spec.Name             non-empty string (unique, ASCII case-insensitive)
 *        task     ServiceID, NodeID     absent, "" or an id
 *        network  Spec.Name             non-empty string (unique, ASCII case-insensitive)
 *      Everything else is kept verbatim and not interpreted.
 *
 * Duplicate keys, unknown keys, trailing bytes, NUL in strings, invalid UTF-8
 * and integers outside int64 are refused; the error names the field
 * ("ops[2].object.ServiceID: not an object id").
 *
 * Snapshot encoding, version 1: JSON, objects of each kind in ascending id order,
 * so that two stores that applied the same entries produce identical bytes:
 *
 *   { "format": "swarmnode-store", "v": 1, "index": N,
 *     "objects": { "cluster": [O...], "node": [...], "service": [...], "task": [...],
 *                  "network": [...] } }
 *
 * A kind missing from "objects" is empty (older snapshots restore into a store
 * with more kinds); an unknown kind is refused.
 */

/* Largest transaction store_apply accepts (and store_txn_encode produces). */
#define STORE_TXN_MAX (4u * 1024 * 1024)

/* Transaction format version. */
#define STORE_TXN_VERSION 1

/* Snapshot format version. */
#define STORE_SNAPSHOT_VERSION 1

/* Size of a formatted time, NUL included ("2262-04-11T23:47:16.854775807Z"). */
#define STORE_TIME_MAX 31

/* Size of store_result.message and of the err buffers the calls fill. */
#define STORE_MSG_MAX 256

/* Error codes, all negative; store_strerror names them. */
#define STORE_ERRNO_MAP(X)                                                        \
	X(NOMEM, -1, "out of memory")                                             \
	X(INVALID, -2, "invalid argument")                                        \
	X(MALFORMED, -3, "malformed transaction")                                 \
	X(CONFLICT, -4, "update out of sequence")                                 \
	X(EXISTS, -5, "object already exists")                                    \
	X(NAME_CONFLICT, -6, "name conflicts with an existing object")            \
	X(NOT_FOUND, -7, "object not found")                                      \
	X(AMBIGUOUS, -8, "reference matches more than one object")                \
	X(TOO_BIG, -9, "transaction larger than STORE_TXN_MAX")                   \
	X(BUSY, -10, "the store is delivering changes to its watchers")           \
	X(CORRUPT, -11, "snapshot is corrupt")

enum store_err {
	STORE_OK = 0,
#define STORE_ERR_ENUM(name, val, msg) STORE_E_##name = (val),
	STORE_ERRNO_MAP(STORE_ERR_ENUM)
#undef STORE_ERR_ENUM
};

/* The message of a STORE_* code ("unknown error" for anything else). */
const char *store_strerror(int err);

/* ---- Kinds and indexes ------------------------------------------------------ */

/* Adding a kind: a value here, its name and checked fields in store_schema.c. */
enum store_kind {
	STORE_KIND_CLUSTER,
	STORE_KIND_NODE,
	STORE_KIND_SERVICE,
	STORE_KIND_TASK,
	STORE_KIND_NETWORK, /* a swarm-scope network: {"ID", "Spec": the create request} */
	STORE_KIND_COUNT
};

/* "cluster", "node", "service", "task", "network"; NULL for a value out of range. */
const char *store_kind_name(enum store_kind kind);

/* Parses a kind name. Returns 0 or STORE_E_INVALID. */
int store_kind_parse(const char *name, enum store_kind *kind);

/* Secondary indexes, kept on every apply. Name indexes compare keys ASCII
 * case-insensitively (as swarmkit lower-cases names); id references exactly. */
enum store_index {
	STORE_INDEX_CLUSTER_NAME,  /* cluster Spec.Name (unique) */
	STORE_INDEX_NODE_HOSTNAME, /* node Description.Hostname */
	STORE_INDEX_SERVICE_NAME,  /* service Spec.Name (unique) */
	STORE_INDEX_TASK_SERVICE,  /* task ServiceID */
	STORE_INDEX_TASK_NODE,     /* task NodeID */
	STORE_INDEX_NETWORK_NAME,  /* network Spec.Name (unique) */
	STORE_INDEX_COUNT
};

/* ---- Time ------------------------------------------------------------------- */

/* Formats nanoseconds since the Unix epoch as Docker does (Go's RFC3339Nano:
 * UTC, "Z", trailing zeros of the fraction dropped). Returns 0, or
 * STORE_E_INVALID for a negative time. */
int store_time_format(int64_t unix_ns, char out[STORE_TIME_MAX]);

/* Parses exactly what store_time_format produces (anything else, e.g. an
 * offset, a trailing zero or 30 February, is STORE_E_INVALID). */
int store_time_parse(const char *s, int64_t *unix_ns);

/* ---- Transactions: builder -------------------------------------------------- */

/* A transaction being built by a proposer. */
struct store_txn;

/* A new empty transaction stamped with the proposer's wall-clock time.
 * Returns NULL on a negative time or out of memory. Free with store_txn_free. */
struct store_txn *store_txn_new(int64_t unix_ns);

void store_txn_free(struct store_txn *txn);

/* Number of operations added so far. */
size_t store_txn_count(const struct store_txn *txn);

/* Add one operation. obj is deep-copied (the caller keeps its reference) and
 * checked as the decoder will; the transaction is unchanged on error. Return 0,
 * STORE_E_INVALID with "field: reason" in err (errlen bytes, err may be NULL),
 * or STORE_E_NOMEM. */
int store_txn_create(struct store_txn *txn, enum store_kind kind, const json_t *obj,
		     char *err, size_t errlen);
int store_txn_update(struct store_txn *txn, enum store_kind kind, const char *id,
		     uint64_t expect, const json_t *obj, char *err, size_t errlen);
int store_txn_delete(struct store_txn *txn, enum store_kind kind, const char *id,
		     uint64_t expect, char *err, size_t errlen);

/* Encodes txn for the log into a malloc'd buffer *out (the caller frees it)
 * of *len bytes. Returns 0, STORE_E_TOO_BIG or STORE_E_NOMEM. */
int store_txn_encode(const struct store_txn *txn, uint8_t **out, size_t *len);

/* ---- Transactions: decoder -------------------------------------------------- */

enum store_op_type {
	STORE_OP_CREATE = 1,
	STORE_OP_UPDATE = 2,
	STORE_OP_DELETE = 3,
};

/* One decoded operation; strings and the object point into the decoded root. */
struct store_op {
	enum store_op_type type;
	enum store_kind kind;
	const char *id;  /* the object's id (create: the object's "ID") */
	uint64_t expect; /* expected Version.Index (create: 0) */
	json_t *object;  /* create and update: the object; delete: NULL */
};

/* A decoded transaction; owns root, which everything else points into. */
struct store_txn_decoded {
	int64_t time_ns;        /* the proposer's time */
	const char *time;       /* the same as the text that was sent */
	struct store_op *ops;   /* n_ops operations (malloc'd) */
	size_t n_ops;
	json_t *root;           /* the parsed document */
};

/* Decodes and checks a transaction (see the format above). Returns 0 (release
 * out with store_txn_decoded_release), STORE_E_MALFORMED with "field: reason"
 * in err (nothing to release), or STORE_E_NOMEM. */
int store_txn_decode(const uint8_t *in, size_t len, struct store_txn_decoded *out,
		     char *err, size_t errlen);

/* Frees what store_txn_decode allocated. Safe on a zeroed struct. */
void store_txn_decoded_release(struct store_txn_decoded *d);

/* ---- The store ---------------------------------------------------------------- */

struct store;

/* An empty store at applied index 0. NULL when out of memory. */
struct store *store_new(void);

/* Frees the store and every object it holds (objects a caller took a reference
 * on with json_incref stay alive for that caller). */
void store_free(struct store *s);

/* What store_apply did. */
struct store_result {
	int code;                     /* 0 or the STORE_E_* code returned */
	long op;                      /* index of the refused operation, or -1 */
	char message[STORE_MSG_MAX];  /* Docker's wording for refusals, else "" */
};

/*
 * Applies the entry at log index `index` (> store_applied_index) atomically:
 * every operation or none. Written objects get Version.Index = index,
 * UpdatedAt = the transaction's time and, when created, CreatedAt = that time.
 * Refusals (the state is unchanged, the applied index still becomes index, as
 * on every other manager):
 *   STORE_E_MALFORMED      the bytes do not decode (message names the field)
 *   STORE_E_CONFLICT       expected version != current: "update out of sequence"
 *   STORE_E_EXISTS         create of an existing id, or of a second cluster
 *   STORE_E_NAME_CONFLICT  "name conflicts with an existing object: service web already exists"
 *   STORE_E_NOT_FOUND      update or delete of a missing object: "service ID not found"
 * Not refusals (nothing changes, not even the applied index, so the host may
 * retry): STORE_E_INVALID (index not after the applied one), STORE_E_BUSY
 * (called from a watcher), STORE_E_NOMEM. The host must not skip an entry
 * that ran out of memory (retry or stop): the other managers applied it.
 * Everything apply allocates goes through jansson's allocator
 * (json_set_alloc_funcs).
 * After a successful apply the watchers are called, in registration order.
 * Objects returned by the reads below are invalidated by a successful apply.
 * res may be NULL. Returns res->code.
 */
int store_apply(struct store *s, uint64_t index, const uint8_t *bytes, size_t len,
		struct store_result *res);

/* Index of the last entry handed to store_apply (or restored). */
uint64_t store_applied_index(const struct store *s);

/* ---- Reads ---------------------------------------------------------------------
 * Returned objects are borrowed: never modify them; they are valid until the
 * next successful store_apply, store_restore or store_free. To keep one longer,
 * take a reference with json_incref (the store never modifies an object once
 * stored, it replaces it). */

/* The object of this kind with exactly this id, or NULL. */
json_t *store_get(const struct store *s, enum store_kind kind, const char *id);

/* Resolves a user's reference as Docker does: full id, then name (cluster and
 * service and network Spec.Name, node Description.Hostname; exact case), then unique id
 * prefix. Returns 0 and *out, STORE_E_NOT_FOUND ("service web not found") or
 * STORE_E_AMBIGUOUS ("node h is ambiguous (2 matches found)") with the message
 * in err (errlen bytes, may be NULL). */
int store_resolve(const struct store *s, enum store_kind kind, const char *ref, json_t **out,
		  char *err, size_t errlen);

/* Number of objects of a kind. */
size_t store_count(const struct store *s, enum store_kind kind);

/* The i-th object of a kind in ascending id order (i < store_count), else NULL. */
json_t *store_at(const struct store *s, enum store_kind kind, size_t i);

/* Objects whose indexed field equals key (see enum store_index), in ascending
 * id order: fills out[0..min(cap, total)) and returns the total, so a call with
 * cap 0 sizes the array. */
size_t store_find(const struct store *s, enum store_index index, const char *key, json_t **out,
		  size_t cap);

/* store_find on STORE_INDEX_TASK_SERVICE / STORE_INDEX_TASK_NODE. */
size_t store_tasks_by_service(const struct store *s, const char *service_id, json_t **out,
			      size_t cap);
size_t store_tasks_by_node(const struct store *s, const char *node_id, json_t **out, size_t cap);

/* ---- Snapshot and restore ---------------------------------------------------------- */

/* Serializes every object and the applied index into a malloc'd buffer *out of
 * *len bytes (the caller frees it). Returns 0 or STORE_E_NOMEM. */
int store_snapshot(const struct store *s, uint8_t **out, size_t *len);

/* Replaces the whole state with a snapshot, after checking all of it: on any
 * error the store is unchanged. Returns 0, STORE_E_CORRUPT with "field: reason"
 * in err, STORE_E_BUSY (called from a watcher) or STORE_E_NOMEM. Watchers are
 * then called once with restored = true and no changes. */
int store_restore(struct store *s, const uint8_t *bytes, size_t len, char *err, size_t errlen);

/* ---- Watch ------------------------------------------------------------------------- */

enum store_action {
	STORE_CREATED = 1,
	STORE_UPDATED = 2,
	STORE_REMOVED = 3,
};

/* One object written by a transaction. */
struct store_change {
	enum store_kind kind;
	enum store_action action;
	json_t *old_obj; /* before (NULL when created); borrowed, read-only */
	json_t *new_obj; /* after (NULL when removed); borrowed, read-only */
};

/* What a watcher receives after each successful apply or restore. */
struct store_event {
	uint64_t index;                     /* the entry applied (or snapshot index) */
	bool restored;                      /* the state was replaced wholesale: re-read it */
	const struct store_change *changes; /* in operation order; an object changed twice appears twice */
	size_t n_changes;
};

/* Called with the store already in its new state. It may read the store; it
 * must not apply, restore, watch or unwatch (those return STORE_E_BUSY). The
 * event and its objects are valid during the call only (json_incref to keep). */
typedef void (*store_watch_fn)(void *data, const struct store_event *ev);

/* Registers fn(data). Returns 0, STORE_E_EXISTS (already registered),
 * STORE_E_BUSY or STORE_E_NOMEM. */
int store_watch(struct store *s, store_watch_fn fn, void *data);

/* Removes fn(data). Returns 0, STORE_E_NOT_FOUND or STORE_E_BUSY. */
int store_unwatch(struct store *s, store_watch_fn fn, void *data);

#endif
