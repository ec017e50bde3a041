/* store: applies committed transactions atomically, serves reads, and tells watchers what changed. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/ids.h"
#include "swarmnode/service_spec.h"
#include "store_internal.h"

struct store_watcher {
	store_watch_fn fn; /* called after each successful apply or restore */
	void *data;        /* its first argument */
};

struct store {
	struct store_state st;          /* every object and index */
	uint64_t applied;               /* index of the last entry applied or restored */
	struct store_watcher *watchers; /* in registration order */
	size_t n_watchers;
	bool delivering;                /* inside a watcher callback: writes are refused */
};

struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof(*s));
	if (s != NULL)
		store_state_init(&s->st);
	return s;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_state_release(&s->st);
	free(s->watchers);
	free(s);
}

uint64_t store_applied_index(const struct store *s)
{
	return s->applied;
}

/* ---- Apply --------------------------------------------------------------------- */

static int refuse(struct store_result *res, int code, long op)
{
	res->code = code;
	res->op = op;
	return code;
}

static uint64_t obj_version(const json_t *obj)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(obj, "Version"), "Index"));
}

static bool is_stamped_field(const char *key)
{
	return strcmp(key, "ID") == 0 || strcmp(key, "Version") == 0 ||
	       strcmp(key, "CreatedAt") == 0 || strcmp(key, "UpdatedAt") == 0;
}

/* The object to store: the stamped fields first, as Docker orders them, then
 * the proposer's fields, shared with the decoded transaction (never copied,
 * never modified). Returns NULL when out of memory. */
static json_t *stamp(const json_t *src, uint64_t index, const char *created, const char *updated)
{
	json_t *o = json_pack("{s:O, s:{s:I}, s:s, s:s}", "ID", json_object_get(src, "ID"),
			      "Version", "Index", (json_int_t)index, "CreatedAt", created,
			      "UpdatedAt", updated);
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)src, key, v) {
		if (o != NULL && !is_stamped_field(key) && json_object_set(o, key, v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* Refuses op against the current state (Docker's wording), or returns 0. */
static int check_target(const struct store_op *op, const json_t *old, char *msg, size_t msglen)
{
	const char *kind = store_kinds[op->kind].name;
	if (op->type == STORE_OP_CREATE) {
		if (old == NULL)
			return 0;
		store_errf(msg, msglen, "%s %s already exists", kind, op->id);
		return STORE_E_EXISTS;
	}
	if (old == NULL) {
		store_errf(msg, msglen, "%s %s not found", kind, op->id);
		return STORE_E_NOT_FOUND;
	}
	bool any = op->type == STORE_OP_DELETE && op->expect == 0;
	if (!any && obj_version(old) != op->expect) {
		store_errf(msg, msglen, "update out of sequence");
		return STORE_E_CONFLICT;
	}
	return 0;
}

/* Swaps old for obj in the state; on failure puts old back (which cannot fail:
 * its room is still reserved) and leaves obj to the caller. */
static int replace(struct store_state *st, enum store_kind kind, json_t *old, json_t *obj)
{
	if (old != NULL)
		store_state_take(st, kind, old);
	int rc = obj != NULL ? store_state_put(st, kind, obj) : 0;
	if (rc != 0 && old != NULL)
		store_state_put(st, kind, old);
	return rc;
}

/* Applies one operation and records it in *ch, which also serves to undo it. */
/* Why ports are checked again here, when the API checked them: two creates
 * (or updates) on different managers can each pass the API's check against
 * the store as it was, and each allocate the same free ingress port; the
 * log orders them, and the second to commit is refused here with Docker's
 * message, so no two services ever hold one port. Only a write that
 * changes the ports is checked: a store that already holds a conflict (from
 * before this check) must not refuse the orchestrator's status writes. */
static int check_published_ports(const struct store_state *st, const json_t *old, const json_t *obj, char *msg,
				 size_t msglen)
{
	json_t *ports = json_object_get(json_object_get(obj, "Endpoint"), "Ports");
	if (json_array_size(ports) == 0 ||
	    (old != NULL && json_equal(ports, json_object_get(json_object_get(old, "Endpoint"), "Ports"))))
		return 0;
	json_t *mine = json_pack("{s:{s:O}}", "EndpointSpec", "Ports", ports);
	if (mine == NULL)
		return STORE_E_NOMEM;
	const struct store_table *services = &st->objects[STORE_KIND_SERVICE];
	const char *id = store_obj_id(obj);
	int rc = 0;
	for (size_t i = 0; i < services->len && rc == 0; i++) {
		if (strcmp(services->v[i].id, id) != 0 &&
		    service_ports_conflict(mine, services->v[i].obj, msg, msglen) != 0)
			rc = STORE_E_INVALID;
	}
	json_decref(mine);
	return rc;
}

static int apply_op(struct store *s, uint64_t index, const struct store_txn_decoded *txn,
		    const struct store_op *op, struct store_change *ch, char *msg, size_t msglen)
{
	json_t *old = store_state_get(&s->st, op->kind, op->id);
	int rc = check_target(op, old, msg, msglen);
	if (rc != 0)
		return rc;
	json_t *obj = NULL;
	if (op->type != STORE_OP_DELETE) {
		const char *created = old != NULL
			? json_string_value(json_object_get(old, "CreatedAt")) : txn->time;
		obj = stamp(op->object, index, created, txn->time);
		if (obj == NULL)
			return STORE_E_NOMEM;
		rc = store_state_check_unique(&s->st, op->kind, obj, msg, msglen);
		if (rc == 0 && op->kind == STORE_KIND_SERVICE)
			rc = check_published_ports(&s->st, old, obj, msg, msglen);
	}
	if (rc == 0)
		rc = replace(&s->st, op->kind, old, obj);
	if (rc != 0) {
		json_decref(obj);
		return rc;
	}
	*ch = (struct store_change){
		.kind = op->kind,
		.action = old == NULL ? STORE_CREATED : obj == NULL ? STORE_REMOVED : STORE_UPDATED,
		.old_obj = old,
		.new_obj = obj,
	};
	return 0;
}

/* Undoes changes[0..n) in reverse order. Every put finds the room its object
 * left when it was taken, so nothing here can fail. */
static void rollback(struct store_state *st, struct store_change *changes, size_t n)
{
	while (n-- > 0) {
		struct store_change *ch = &changes[n];
		if (ch->new_obj != NULL)
			store_state_take(st, ch->kind, ch->new_obj);
		if (ch->old_obj != NULL)
			store_state_put(st, ch->kind, ch->old_obj);
		json_decref(ch->new_obj);
	}
}

static void notify(struct store *s, const struct store_event *ev)
{
	s->delivering = true;
	for (size_t i = 0; i < s->n_watchers; i++)
		s->watchers[i].fn(s->watchers[i].data, ev);
	s->delivering = false;
}

static int apply_txn(struct store *s, uint64_t index, const struct store_txn_decoded *txn,
		     struct store_result *res)
{
	struct store_change *changes = store_mem_calloc(txn->n_ops + 1, sizeof(*changes));
	if (changes == NULL)
		return refuse(res, STORE_E_NOMEM, -1);
	size_t done = 0;
	int rc = 0;
	for (; rc == 0 && done < txn->n_ops; done++)
		rc = apply_op(s, index, txn, &txn->ops[done], &changes[done], res->message,
			      sizeof(res->message));
	if (rc != 0) {
		rollback(&s->st, changes, done - 1);
		store_mem_free(changes);
		if (rc != STORE_E_NOMEM)
			s->applied = index;
		return refuse(res, rc, (long)done - 1);
	}
	s->applied = index;
	if (txn->n_ops > 0)
		notify(s, &(struct store_event){ index, false, changes, txn->n_ops });
	/* The replaced and removed objects were the changes' to show; now release them. */
	for (size_t i = 0; i < txn->n_ops; i++)
		json_decref(changes[i].old_obj);
	store_mem_free(changes);
	return 0;
}

int store_apply(struct store *s, uint64_t index, const uint8_t *bytes, size_t len,
		struct store_result *res)
{
	struct store_result scratch;
	if (res == NULL)
		res = &scratch;
	*res = (struct store_result){ .code = 0, .op = -1 };
	if (s->delivering) {
		store_errf(res->message, sizeof(res->message), "apply from a watcher callback");
		return refuse(res, STORE_E_BUSY, -1);
	}
	if (index <= s->applied || index > INT64_MAX) {
		store_errf(res->message, sizeof(res->message),
			   "index %" PRIu64 " is not after the applied index %" PRIu64, index,
			   s->applied);
		return refuse(res, STORE_E_INVALID, -1);
	}
	struct store_txn_decoded txn;
	int rc = store_txn_decode(bytes, len, &txn, res->message, sizeof(res->message));
	if (rc != 0) {
		if (rc == STORE_E_MALFORMED)
			s->applied = index;
		return refuse(res, rc, -1);
	}
	rc = apply_txn(s, index, &txn, res);
	store_txn_decoded_release(&txn);
	return rc;
}

/* ---- Snapshot and restore --------------------------------------------------------- */

int store_snapshot(const struct store *s, uint8_t **out, size_t *len)
{
	return store_state_encode(&s->st, s->applied, out, len);
}

int store_restore(struct store *s, const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
	if (s->delivering) {
		store_errf(err, errlen, "restore from a watcher callback");
		return STORE_E_BUSY;
	}
	struct store_state fresh;
	uint64_t index;
	int rc = store_state_decode(bytes, len, &fresh, &index, err, errlen);
	if (rc != 0)
		return rc;
	store_state_release(&s->st);
	s->st = fresh;
	s->applied = index;
	notify(s, &(struct store_event){ index, true, NULL, 0 });
	return 0;
}

/* ---- Reads ------------------------------------------------------------------------ */

static bool kind_ok(enum store_kind kind)
{
	return (unsigned)kind < STORE_KIND_COUNT;
}

json_t *store_get(const struct store *s, enum store_kind kind, const char *id)
{
	if (!kind_ok(kind) || id == NULL)
		return NULL;
	return store_state_get(&s->st, kind, id);
}

size_t store_count(const struct store *s, enum store_kind kind)
{
	return kind_ok(kind) ? s->st.objects[kind].len : 0;
}

json_t *store_at(const struct store *s, enum store_kind kind, size_t i)
{
	if (!kind_ok(kind) || i >= s->st.objects[kind].len)
		return NULL;
	return s->st.objects[kind].v[i].obj;
}

size_t store_find(const struct store *s, enum store_index index, const char *key, json_t **out,
		  size_t cap)
{
	if ((unsigned)index >= STORE_INDEX_COUNT || key == NULL)
		return 0;
	const struct store_table *t = &s->st.indexes[index];
	size_t first = store_table_lower_bound(t, key, NULL);
	size_t n = store_table_upper_bound(t, key) - first; /* two searches, not a compare per match */
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = t->v[first + i].obj;
	return n;
}

size_t store_tasks_by_service(const struct store *s, const char *service_id, json_t **out,
			      size_t cap)
{
	return store_find(s, STORE_INDEX_TASK_SERVICE, service_id, out, cap);
}

size_t store_tasks_by_node(const struct store *s, const char *node_id, json_t **out, size_t cap)
{
	return store_find(s, STORE_INDEX_TASK_NODE, node_id, out, cap);
}

/* Objects whose name is exactly ref (the index folds case; Docker's lookup
 * does not). Sets *first to one of them. */
static size_t by_exact_name(const struct store *s, enum store_kind kind, const char *ref,
			    json_t **first)
{
	int idx = store_kinds[kind].name_index;
	if (idx < 0)
		return 0;
	const struct store_table *t = &s->st.indexes[idx];
	size_t n = 0;
	for (size_t pos = store_table_lower_bound(t, ref, NULL);
	     pos < t->len && store_key_cmp(t, t->v[pos].key, ref) == 0; pos++) {
		if (strcmp(t->v[pos].key, ref) == 0 && n++ == 0)
			*first = t->v[pos].obj;
	}
	return n;
}

/* Objects whose id starts with ref: they sit together from ref's position. */
static size_t by_id_prefix(const struct store *s, enum store_kind kind, const char *ref,
			   json_t **first)
{
	const struct store_table *t = &s->st.objects[kind];
	size_t n = 0;
	for (size_t pos = store_table_lower_bound(t, ref, NULL);
	     pos < t->len && ids_has_prefix(t->v[pos].id, ref); pos++) {
		if (n++ == 0)
			*first = t->v[pos].obj;
	}
	return n;
}

int store_resolve(const struct store *s, enum store_kind kind, const char *ref, json_t **out,
		  char *err, size_t errlen)
{
	if (!kind_ok(kind) || ref == NULL)
		return STORE_E_INVALID;
	const char *name = store_kinds[kind].name;
	json_t *found = store_state_get(&s->st, kind, ref);
	size_t n = found != NULL ? 1 : by_exact_name(s, kind, ref, &found);
	if (n == 0)
		n = by_id_prefix(s, kind, ref, &found);
	if (n == 0) {
		store_errf(err, errlen, "%s %s not found", name, ref);
		return STORE_E_NOT_FOUND;
	}
	if (n > 1) {
		store_errf(err, errlen, "%s %s is ambiguous (%zu matches found)", name, ref, n);
		return STORE_E_AMBIGUOUS;
	}
	*out = found;
	return 0;
}

/* ---- Watch ------------------------------------------------------------------------- */

static size_t find_watcher(const struct store *s, store_watch_fn fn, void *data)
{
	size_t i = 0;
	while (i < s->n_watchers && !(s->watchers[i].fn == fn && s->watchers[i].data == data))
		i++;
	return i;
}

int store_watch(struct store *s, store_watch_fn fn, void *data)
{
	if (fn == NULL)
		return STORE_E_INVALID;
	if (s->delivering)
		return STORE_E_BUSY;
	if (find_watcher(s, fn, data) < s->n_watchers)
		return STORE_E_EXISTS;
	struct store_watcher *w = realloc(s->watchers, (s->n_watchers + 1) * sizeof(*w));
	if (w == NULL)
		return STORE_E_NOMEM;
	w[s->n_watchers++] = (struct store_watcher){ fn, data };
	s->watchers = w;
	return 0;
}

int store_unwatch(struct store *s, store_watch_fn fn, void *data)
{
	if (s->delivering)
		return STORE_E_BUSY;
	size_t i = find_watcher(s, fn, data);
	if (i == s->n_watchers)
		return STORE_E_NOT_FOUND;
	memmove(&s->watchers[i], &s->watchers[i + 1], (s->n_watchers - i - 1) * sizeof(*s->watchers));
	s->n_watchers--;
	return 0;
}
