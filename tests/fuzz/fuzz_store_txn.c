/* Fuzz target: store transactions (decode + apply) and snapshots (restore) from arbitrary bytes; a refusal changes nothing but the index, and the final store must snapshot, restore elsewhere and snapshot again to the same bytes, with every read and index agreeing with a brute-force scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return an == bn && memcmp(a, b, an) == 0;
}

/* s is self-consistent: its snapshot restores and re-encodes identically, with
 * the same counts. Returns the snapshot (malloc'd) in *out. */
static void check_consistent(struct store *s, uint8_t **out, size_t *len)
{
	if (store_snapshot(s, out, len) != 0)
		abort();
	struct store *copy = store_new();
	char err[STORE_MSG_MAX] = "";
	if (copy == NULL || store_restore(copy, *out, *len, err, sizeof(err)) != 0)
		abort();
	uint8_t *again;
	size_t again_len;
	if (store_snapshot(copy, &again, &again_len) != 0 || !same_bytes(*out, *len, again, again_len))
		abort();
	for (int k = 0; k < STORE_KIND_COUNT; k++)
		if (store_count(copy, (enum store_kind)k) != store_count(s, (enum store_kind)k))
			abort();
	if (store_applied_index(copy) != store_applied_index(s))
		abort();
	free(again);
	store_free(copy);
}

/* The indexed fields, as store.h lists them. */
static const struct {
	enum store_index index;
	enum store_kind kind;
	const char *a, *b; /* the field's path */
	bool fold;         /* names compare ASCII case-insensitively */
	bool unique;
} indexed[] = {
	{ STORE_INDEX_CLUSTER_NAME, STORE_KIND_CLUSTER, "Spec", "Name", true, true },
	{ STORE_INDEX_NODE_HOSTNAME, STORE_KIND_NODE, "Description", "Hostname", true, false },
	{ STORE_INDEX_SERVICE_NAME, STORE_KIND_SERVICE, "Spec", "Name", true, true },
	{ STORE_INDEX_TASK_SERVICE, STORE_KIND_TASK, "ServiceID", NULL, false, false },
	{ STORE_INDEX_TASK_NODE, STORE_KIND_TASK, "NodeID", NULL, false, false },
};

static const char *key_of(size_t x, const json_t *obj)
{
	const json_t *v = json_object_get(obj, indexed[x].a);
	if (indexed[x].b != NULL)
		v = json_object_get(v, indexed[x].b);
	const char *key = json_string_value(v);
	return key != NULL && key[0] != '\0' ? key : NULL;
}

static bool same_key(size_t x, const char *a, const char *b)
{
	return indexed[x].fold ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* An index agrees with a brute-force scan of its kind. */
static void check_index(struct store *s, size_t x)
{
	enum store_kind kind = indexed[x].kind;
	size_t n = store_count(s, kind);
	for (size_t i = 0; i < n; i++) {
		json_t *obj = store_at(s, kind, i);
		const char *key = key_of(x, obj);
		if (key == NULL)
			continue;
		size_t want = 0;
		for (size_t j = 0; j < n; j++) {
			const char *other = key_of(x, store_at(s, kind, j));
			want += other != NULL && same_key(x, key, other);
		}
		json_t *found[64];
		size_t got = store_find(s, indexed[x].index, key, found, 64);
		if (got != want || (indexed[x].unique && got != 1))
			abort();
		bool self = false;
		for (size_t j = 0; j < got && j < 64; j++) {
			self |= found[j] == obj;
			if (!same_key(x, key, key_of(x, found[j])))
				abort();
		}
		if (!self && got <= 64)
			abort();
	}
}

/* Every object is found by id, by resolve and in id order; indexes agree. */
static void check_reads(struct store *s)
{
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		const char *prev = "";
		for (size_t i = 0; i < store_count(s, (enum store_kind)k); i++) {
			json_t *obj = store_at(s, (enum store_kind)k, i), *got = NULL;
			const char *id = json_string_value(json_object_get(obj, "ID"));
			if (id == NULL || strcmp(prev, id) >= 0 || store_get(s, (enum store_kind)k, id) != obj ||
			    store_resolve(s, (enum store_kind)k, id, &got, NULL, 0) != 0 || got != obj)
				abort();
			prev = id;
		}
	}
	if (store_count(s, STORE_KIND_CLUSTER) > 1)
		abort();
	for (size_t x = 0; x < sizeof(indexed) / sizeof(indexed[0]); x++)
		check_index(s, x);
}

/* The part of a snapshot after its index: equal for equal states. */
static const uint8_t *state_part(const uint8_t *snap, size_t len, size_t *rest)
{
	static const char mark[] = ",\"objects\":";
	const uint8_t *at = memmem(snap, len, mark, sizeof(mark) - 1);
	if (at == NULL)
		abort();
	*rest = len - (size_t)(at - snap);
	return at;
}

/* Applies one entry to s, whose snapshot is *snap (replaced by the new one).
 * A refusal must say why and change nothing but the applied index. */
static void apply_one(struct store *s, uint64_t index, const uint8_t *p, size_t n, uint8_t **snap,
		      size_t *snap_len)
{
	struct store_result res;
	int rc = store_apply(s, index, p, n, &res);
	if (rc != res.code || store_applied_index(s) != index)
		abort();
	uint8_t *after;
	size_t after_len;
	if (store_snapshot(s, &after, &after_len) != 0)
		abort();
	if (rc != 0) {
		size_t a, b;
		const uint8_t *was = state_part(*snap, *snap_len, &a);
		const uint8_t *now = state_part(after, after_len, &b);
		if (res.message[0] == '\0' || !same_bytes(was, a, now, b))
			abort();
	}
	free(*snap);
	*snap = after;
	*snap_len = after_len;
}

static void fuzz_transactions(const uint8_t *p, size_t n)
{
	struct store *s = fzs_store();
	if (s == NULL)
		abort();
	uint8_t *snap;
	size_t snap_len;
	if (store_snapshot(s, &snap, &snap_len) != 0)
		abort();
	uint64_t index = 2;
	for (;;) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t part = nl != NULL ? (size_t)(nl - p) : n;
		apply_one(s, index++, p, part, &snap, &snap_len);
		if (nl == NULL)
			break;
		p += part + 1;
		n -= part + 1;
	}
	free(snap);
	check_consistent(s, &snap, &snap_len);
	check_reads(s);
	free(snap);
	store_free(s);
}

static void fuzz_restore(const uint8_t *p, size_t n)
{
	struct store *s = fzs_store();
	if (s == NULL)
		abort();
	uint8_t *before, *after;
	size_t before_len, after_len;
	check_consistent(s, &before, &before_len);
	char err[STORE_MSG_MAX] = "";
	int rc = store_restore(s, p, n, err, sizeof(err));
	check_consistent(s, &after, &after_len);
	if (rc != 0 && (err[0] == '\0' || !same_bytes(before, before_len, after, after_len)))
		abort();
	check_reads(s);
	free(before);
	free(after);
	store_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_restore(data + 1, size - 1);
	else
		fuzz_transactions(data + 1, size - 1);
	return 0;
}
