/* dispatch_msg: the codec of dispatch messages (see the drawing in dispatch_msg.h). */
#include "swarmnode/dispatch_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mp_wire.h"

const char *dispatch_msg_type_name(uint64_t type)
{
	switch (type) {
	case DISPATCH_SESSION: return "session";
	case DISPATCH_ASSIGNMENTS: return "assignments";
	case DISPATCH_STATUS: return "status";
	case DISPATCH_ACK: return "ack";
	case DISPATCH_LOGS_REQUEST: return "logs_request";
	case DISPATCH_LOGS: return "logs";
	default: return "unknown";
	}
}

uint8_t dispatch_msg_peek_type(const uint8_t *body, size_t len)
{
	if (len < 2 || (body[0] & 0xf0) != 0x90 || body[1] < DISPATCH_SESSION || body[1] > DISPATCH_LOGS)
		return 0;
	return body[1];
}

/* --- sizes ---------------------------------------------------------------------- */

/* A PORT: fixarray, four uints of at most 3 bytes. */
#define PORT_ENCODED_MAX (1 + 4 * 3)
/* A str or bin header, a uint64, an id string. */
#define HDR_MAX 5
#define U64_MAX_LEN 9
#define ID_ENCODED (1 + IDS_LEN)

size_t dispatch_task_encoded_max(const struct dispatch_task *t)
{
	return 1 + ID_ENCODED + 3 * U64_MAX_LEN + 2 + ID_ENCODED + HDR_MAX + strlen(t->service_name) +
	       HDR_MAX + t->spec_len + HDR_MAX + t->nports * PORT_ENCODED_MAX;
}

size_t dispatch_update_encoded_max(const struct dispatch_update *u)
{
	return 1 + ID_ENCODED + 2 + 2 * HDR_MAX + strlen(u->message) + strlen(u->err) + 1 + U64_MAX_LEN +
	       U64_MAX_LEN + HDR_MAX + strlen(u->container_id) + U64_MAX_LEN + HDR_MAX +
	       u->nports * PORT_ENCODED_MAX;
}

size_t dispatch_log_line_encoded_max(const struct dispatch_log_line *l)
{
	return 1 + 1 + U64_MAX_LEN + HDR_MAX + l->len + 1;
}

size_t dispatch_msg_encoded_max(const struct dispatch_msg *m)
{
	size_t n = 1 + 1 + 6 * U64_MAX_LEN + 3 * HDR_MAX;
	if (m->type == DISPATCH_LOGS_REQUEST)
		n += ID_ENCODED;
	if (m->type == DISPATCH_LOGS)
		n += strlen(m->err);
	for (size_t i = 0; m->type == DISPATCH_LOGS && i < m->nlines; i++)
		n += dispatch_log_line_encoded_max(&m->lines[i]);
	for (size_t i = 0; m->type == DISPATCH_ASSIGNMENTS && i < m->ntasks; i++)
		n += dispatch_task_encoded_max(&m->tasks[i]);
	if (m->type == DISPATCH_ASSIGNMENTS)
		n += m->nremoved * ID_ENCODED;
	for (size_t i = 0; m->type == DISPATCH_STATUS && i < m->nupdates; i++)
		n += dispatch_update_encoded_max(&m->updates[i]);
	return n;
}

/* --- encoding ------------------------------------------------------------------- */

static bool port_ok(const struct dispatch_port *p)
{
	return p->target >= 1 && p->target <= 65535 && p->published <= 65535 && p->protocol <= 1 &&
	       p->mode <= 1;
}

static bool ports_ok(const struct dispatch_port *p, size_t n)
{
	if (n > DISPATCH_PORTS_MAX || (n > 0 && p == NULL))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!port_ok(&p[i]))
			return false;
	return true;
}

static bool optional_id_ok(const char *id)
{
	return id[0] == '\0' || ids_valid(id);
}

static void pack_ports(msgpack_packer *pk, const struct dispatch_port *p, size_t n)
{
	msgpack_pack_array(pk, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(pk, 4);
		msgpack_pack_uint32(pk, p[i].target);
		msgpack_pack_uint32(pk, p[i].published);
		msgpack_pack_uint8(pk, p[i].protocol);
		msgpack_pack_uint8(pk, p[i].mode);
	}
}

/* Text a user may read: printable ASCII, anything else becomes '?'. */
static void pack_text(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	for (size_t i = 0; i < n; i++) {
		char c = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
		msgpack_pack_str_body(pk, &c, 1);
	}
}

static bool task_ok(const struct dispatch_task *t)
{
	return ids_valid(t->id) && t->state <= DISPATCH_STATE_MAX && t->desired <= DISPATCH_STATE_MAX &&
	       optional_id_ok(t->service_id) && strlen(t->service_name) <= DISPATCH_NAME_MAX &&
	       t->spec_len >= 1 && t->spec_len <= DISPATCH_SPEC_MAX && t->spec != NULL &&
	       ports_ok(t->ports, t->nports);
}

static void pack_task(msgpack_packer *pk, const struct dispatch_task *t)
{
	msgpack_pack_array(pk, 9);
	mp_pack_str(pk, t->id);
	msgpack_pack_uint64(pk, t->version);
	msgpack_pack_uint8(pk, t->state);
	msgpack_pack_uint8(pk, t->desired);
	mp_pack_str(pk, t->service_id);
	pack_text(pk, t->service_name);
	msgpack_pack_uint64(pk, t->slot);
	msgpack_pack_bin(pk, t->spec_len);
	msgpack_pack_bin_body(pk, t->spec, t->spec_len);
	pack_ports(pk, t->ports, t->nports);
}

static bool update_ok(const struct dispatch_update *u)
{
	return ids_valid(u->task_id) && u->state <= DISPATCH_STATE_MAX && strlen(u->message) <= DISPATCH_TEXT_MAX &&
	       strlen(u->err) <= DISPATCH_TEXT_MAX && u->pid >= 0 &&
	       strlen(u->container_id) <= DISPATCH_CONTAINER_ID_MAX && ports_ok(u->ports, u->nports);
}

static void pack_update(msgpack_packer *pk, const struct dispatch_update *u)
{
	msgpack_pack_array(pk, 10);
	mp_pack_str(pk, u->task_id);
	msgpack_pack_uint8(pk, u->state);
	pack_text(pk, u->message);
	pack_text(pk, u->err);
	if (u->exited)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	msgpack_pack_int32(pk, u->exit_code);
	msgpack_pack_uint64(pk, (uint64_t)u->pid);
	pack_text(pk, u->container_id);
	msgpack_pack_uint64(pk, u->timestamp_ms);
	pack_ports(pk, u->ports, u->nports);
}

static int encode_assignments(const struct dispatch_msg *m, msgpack_packer *pk)
{
	if (m->seq == 0 || (m->flags & ~(DISPATCH_FULL_BEGIN | DISPATCH_FULL_END)) != 0 ||
	    m->ntasks > DISPATCH_TASKS_MAX || m->nremoved > DISPATCH_REMOVED_MAX)
		return -EINVAL;
	for (size_t i = 0; i < m->ntasks; i++)
		if (!task_ok(&m->tasks[i]))
			return -EINVAL;
	for (size_t i = 0; i < m->nremoved; i++)
		if (!ids_valid(m->removed[i]))
			return -EINVAL;
	msgpack_pack_array(pk, 6);
	msgpack_pack_uint8(pk, m->type);
	msgpack_pack_uint64(pk, m->session);
	msgpack_pack_uint64(pk, m->seq);
	msgpack_pack_uint32(pk, m->flags);
	msgpack_pack_array(pk, (uint32_t)m->ntasks);
	for (size_t i = 0; i < m->ntasks; i++)
		pack_task(pk, &m->tasks[i]);
	msgpack_pack_array(pk, (uint32_t)m->nremoved);
	for (size_t i = 0; i < m->nremoved; i++)
		mp_pack_str(pk, m->removed[i]);
	return 0;
}

static int encode_status(const struct dispatch_msg *m, msgpack_packer *pk)
{
	if (m->seq == 0 || m->nupdates == 0 || m->nupdates > DISPATCH_UPDATES_MAX)
		return -EINVAL;
	for (size_t i = 0; i < m->nupdates; i++)
		if (!update_ok(&m->updates[i]))
			return -EINVAL;
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, m->type);
	msgpack_pack_uint64(pk, m->session);
	msgpack_pack_uint64(pk, m->seq);
	msgpack_pack_array(pk, (uint32_t)m->nupdates);
	for (size_t i = 0; i < m->nupdates; i++)
		pack_update(pk, &m->updates[i]);
	return 0;
}

static bool streams_ok(uint64_t streams)
{
	return streams >= 1 && streams <= (DISPATCH_LOGS_STDOUT | DISPATCH_LOGS_STDERR);
}

static int encode_logs_request(const struct dispatch_msg *m, msgpack_packer *pk)
{
	if (!ids_valid(m->task_id) || !streams_ok(m->streams))
		return -EINVAL;
	msgpack_pack_array(pk, 7);
	msgpack_pack_uint8(pk, m->type);
	msgpack_pack_uint64(pk, m->request);
	mp_pack_str(pk, m->task_id);
	msgpack_pack_uint64(pk, m->tail);
	msgpack_pack_uint64(pk, m->since_ns);
	msgpack_pack_uint64(pk, m->skip);
	msgpack_pack_uint8(pk, m->streams);
	return 0;
}

static bool log_line_ok(const struct dispatch_log_line *l)
{
	return (l->stream == 1 || l->stream == 2) && l->len <= DISPATCH_LOG_TEXT_MAX && (l->text != NULL || l->len == 0);
}

static int encode_logs(const struct dispatch_msg *m, msgpack_packer *pk)
{
	if ((m->flags & ~DISPATCH_LOGS_LAST) != 0 || m->status > 0 || m->status < -4095 ||
	    strlen(m->err) > DISPATCH_TEXT_MAX || m->nlines > DISPATCH_LOG_LINES_MAX || (m->nlines && !m->lines))
		return -EINVAL;
	for (size_t i = 0; i < m->nlines; i++)
		if (!log_line_ok(&m->lines[i]))
			return -EINVAL;
	msgpack_pack_array(pk, 7);
	msgpack_pack_uint8(pk, m->type);
	msgpack_pack_uint64(pk, m->request);
	msgpack_pack_uint32(pk, m->flags);
	msgpack_pack_int64(pk, m->status);
	pack_text(pk, m->err);
	msgpack_pack_uint64(pk, m->dropped);
	msgpack_pack_array(pk, (uint32_t)m->nlines);
	for (size_t i = 0; i < m->nlines; i++) {
		const struct dispatch_log_line *l = &m->lines[i];
		msgpack_pack_array(pk, 4);
		msgpack_pack_uint8(pk, l->stream);
		msgpack_pack_uint64(pk, l->time_ns);
		msgpack_pack_bin(pk, l->len);
		msgpack_pack_bin_body(pk, l->text, l->len);
		if (l->partial)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
	return 0;
}

static int encode_body(const struct dispatch_msg *m, msgpack_packer *pk)
{
	if (m->type == DISPATCH_LOGS_REQUEST || m->type == DISPATCH_LOGS) {
		if (m->request == 0)
			return -EINVAL;
		return m->type == DISPATCH_LOGS ? encode_logs(m, pk) : encode_logs_request(m, pk);
	}
	if (m->session == 0)
		return -EINVAL;
	switch (m->type) {
	case DISPATCH_SESSION:
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint8(pk, m->type);
		msgpack_pack_uint64(pk, m->session);
		return 0;
	case DISPATCH_ASSIGNMENTS:
		return encode_assignments(m, pk);
	case DISPATCH_STATUS:
		return encode_status(m, pk);
	case DISPATCH_ACK:
		if (m->status > 0 || m->status < -4095)
			return -EINVAL;
		msgpack_pack_array(pk, 4);
		msgpack_pack_uint8(pk, m->type);
		msgpack_pack_uint64(pk, m->session);
		msgpack_pack_uint64(pk, m->seq);
		msgpack_pack_int64(pk, m->status);
		return 0;
	default:
		return -EINVAL;
	}
}

int dispatch_msg_encode(const struct dispatch_msg *m, uint8_t *out, size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	int rc = encode_body(m, &pk);
	if (rc != 0)
		return rc;
	if (b.overflow || b.len > DISPATCH_MSG_MAX)
		return -EMSGSIZE;
	*len = b.len;
	return 0;
}

/* --- decoding ------------------------------------------------------------------- */

/* What the decoder works with: the input, the error buffer and a counter of
 * ports handed out of m->port_store. */
struct dec {
	const uint8_t *in;
	size_t len;
	char *err;
	size_t errlen;
	size_t ports_used;
	size_t ports_cap;
	bool nomem;              /* an allocation failed */
	struct dispatch_msg *m;
};

static bool out_of_memory(struct dec *d, const char *what)
{
	d->nomem = true;
	return mp_fail(d->err, d->errlen, "%s: out of memory", what);
}

static bool get_fields(const msgpack_object *o, uint32_t n, const char *what, struct dec *d)
{
	return mp_get_array_range(o, n, 64, what, d->err, d->errlen);
}

static bool get_u8(const msgpack_object *o, uint64_t max, uint8_t *out, const char *what, struct dec *d)
{
	uint64_t v;
	if (!mp_get_uint(o, 0, max, &v, what, d->err, d->errlen))
		return false;
	*out = (uint8_t)v;
	return true;
}

static bool get_bool(const msgpack_object *o, bool *out, const char *what, struct dec *d)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return mp_fail(d->err, d->errlen, "%s: expected a boolean, got %s", what,
			       mp_type_name(o->type, false));
	*out = o->via.boolean;
	return true;
}

static bool get_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out, const char *what,
		    struct dec *d)
{
	int64_t v;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX)
		v = (int64_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		v = o->via.i64;
	else
		return mp_fail(d->err, d->errlen, "%s: expected an integer, got %s", what,
			       o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? "one over 2^63"
									  : mp_type_name(o->type, false));
	if (v < min || v > max)
		return mp_fail(d->err, d->errlen, "%s: %lld out of range %lld..%lld", what, (long long)v,
			       (long long)min, (long long)max);
	*out = v;
	return true;
}

/* A str that is "" or an id. */
static bool get_optional_id(const msgpack_object *o, char out[IDS_LEN + 1], const char *what, struct dec *d)
{
	if (o->type == MSGPACK_OBJECT_STR && o->via.str.size == 0) {
		out[0] = '\0';
		return true;
	}
	return mp_get_id(o, out, what, d->err, d->errlen);
}

/* A bin that must be a view of the input (msgpack-c does not copy bins), so
 * that it outlives the decoder's zone. */
static bool get_spec(const msgpack_object *o, struct dispatch_task *t, const char *what, struct dec *d)
{
	if (!mp_get_bin(o, DISPATCH_SPEC_MAX, &t->spec, &t->spec_len, what, d->err, d->errlen))
		return false;
	if (t->spec_len == 0)
		return mp_fail(d->err, d->errlen, "%s: empty", what);
	if (t->spec < d->in || t->spec + t->spec_len > d->in + d->len)
		return mp_fail(d->err, d->errlen, "%s: not inside the message", what);
	return true;
}

static bool get_ports(const msgpack_object *o, const struct dispatch_port **out, size_t *n, const char *what,
		      struct dec *d)
{
	char f[96];
	if (!mp_get_array_range(o, 0, DISPATCH_PORTS_MAX, what, d->err, d->errlen))
		return false;
	uint32_t count = o->via.array.size;
	/* ports_cap counts every PORT header in the input, so this cannot run out. */
	if (count > d->ports_cap - d->ports_used)
		return mp_fail(d->err, d->errlen, "%s: more ports than the message holds", what);
	struct dispatch_port *p = d->m->port_store + d->ports_used;
	for (uint32_t i = 0; i < count; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		snprintf(f, sizeof(f), "%s[%u]", what, i);
		if (!mp_get_array_range(e, 4, 64, f, d->err, d->errlen))
			return false;
		const msgpack_object *v = e->via.array.ptr;
		uint64_t target, published;
		snprintf(f, sizeof(f), "%s[%u] target", what, i);
		if (!mp_get_uint(&v[0], 1, 65535, &target, f, d->err, d->errlen))
			return false;
		snprintf(f, sizeof(f), "%s[%u] published", what, i);
		if (!mp_get_uint(&v[1], 0, 65535, &published, f, d->err, d->errlen))
			return false;
		snprintf(f, sizeof(f), "%s[%u] protocol", what, i);
		if (!get_u8(&v[2], 1, &p[i].protocol, f, d))
			return false;
		snprintf(f, sizeof(f), "%s[%u] mode", what, i);
		if (!get_u8(&v[3], 1, &p[i].mode, f, d))
			return false;
		p[i].target = (uint32_t)target;
		p[i].published = (uint32_t)published;
	}
	d->ports_used += count;
	*out = count ? p : NULL;
	*n = count;
	return true;
}

static bool decode_task(const msgpack_object *o, uint32_t i, struct dispatch_task *t, struct dec *d)
{
	char w[64];
#define F(name) (snprintf(w, sizeof(w), "tasks[%u] " name, i), w)
	if (!get_fields(o, 9, F(""), d))
		return false;
	const msgpack_object *v = o->via.array.ptr;
	uint64_t version, slot;
	return mp_get_id(&v[0], t->id, F("id"), d->err, d->errlen) &&
	       mp_get_uint(&v[1], 0, UINT64_MAX, &version, F("version"), d->err, d->errlen) &&
	       (t->version = version, true) && get_u8(&v[2], DISPATCH_STATE_MAX, &t->state, F("state"), d) &&
	       get_u8(&v[3], DISPATCH_STATE_MAX, &t->desired, F("desired"), d) &&
	       get_optional_id(&v[4], t->service_id, F("service_id"), d) &&
	       mp_get_str(&v[5], t->service_name, sizeof(t->service_name), F("service_name"), d->err,
			  d->errlen) &&
	       mp_get_uint(&v[6], 0, UINT64_MAX, &slot, F("slot"), d->err, d->errlen) && (t->slot = slot, true) &&
	       get_spec(&v[7], t, F("spec"), d) && get_ports(&v[8], &t->ports, &t->nports, F("ports"), d);
#undef F
}

static bool decode_update(const msgpack_object *o, uint32_t i, struct dispatch_update *u, struct dec *d)
{
	char w[64];
	int64_t exit_code, pid;
	uint64_t ts;
#define F(name) (snprintf(w, sizeof(w), "updates[%u] " name, i), w)
	if (!get_fields(o, 10, F(""), d))
		return false;
	const msgpack_object *v = o->via.array.ptr;
	if (!mp_get_id(&v[0], u->task_id, F("task"), d->err, d->errlen) ||
	    !get_u8(&v[1], DISPATCH_STATE_MAX, &u->state, F("state"), d) ||
	    !mp_get_str(&v[2], u->message, sizeof(u->message), F("message"), d->err, d->errlen) ||
	    !mp_get_str(&v[3], u->err, sizeof(u->err), F("err"), d->err, d->errlen) ||
	    !get_bool(&v[4], &u->exited, F("exited"), d) ||
	    !get_int(&v[5], INT32_MIN, INT32_MAX, &exit_code, F("exit_code"), d) ||
	    !get_int(&v[6], 0, INT64_MAX, &pid, F("pid"), d) ||
	    !mp_get_str(&v[7], u->container_id, sizeof(u->container_id), F("container_id"), d->err,
			d->errlen) ||
	    !mp_get_uint(&v[8], 0, UINT64_MAX, &ts, F("timestamp_ms"), d->err, d->errlen) ||
	    !get_ports(&v[9], &u->ports, &u->nports, F("ports"), d))
		return false;
#undef F
	u->exit_code = (int32_t)exit_code;
	u->pid = pid;
	u->timestamp_ms = ts;
	return true;
}

/* Every PORT is a fixarray of at least 4 elements, 5 bytes or more: the
 * input cannot describe more ports than this. */
static size_t ports_bound(size_t len)
{
	return len / 5;
}

/* The ports of every TASK or UPDATE, in one allocation (only the types
 * that carry ports need it). */
static bool alloc_ports(struct dec *d, const char *what)
{
	d->ports_cap = ports_bound(d->len);
	d->m->port_store = d->ports_cap ? calloc(d->ports_cap, sizeof(*d->m->port_store)) : NULL;
	if (d->ports_cap != 0 && d->m->port_store == NULL)
		return out_of_memory(d, what);
	return true;
}

static bool decode_assignments(const msgpack_object *o, struct dec *d)
{
	struct dispatch_msg *m = d->m;
	const msgpack_object *f = o->via.array.ptr;
	uint64_t flags;
	if (!get_fields(o, 6, "assignments", d) || !alloc_ports(d, "assignments") ||
	    !mp_get_uint(&f[2], 1, UINT64_MAX, &m->seq, "assignments seq", d->err, d->errlen) ||
	    !mp_get_uint(&f[3], 0, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END, &flags, "assignments flags", d->err,
			 d->errlen) ||
	    !mp_get_array_range(&f[4], 0, DISPATCH_TASKS_MAX, "assignments tasks", d->err, d->errlen) ||
	    !mp_get_array_range(&f[5], 0, DISPATCH_REMOVED_MAX, "assignments removed", d->err, d->errlen))
		return false;
	m->flags = (uint32_t)flags;
	uint32_t nt = f[4].via.array.size, nr = f[5].via.array.size;
	m->tasks = nt ? calloc(nt, sizeof(*m->tasks)) : NULL;
	m->removed = nr ? calloc(nr, sizeof(*m->removed)) : NULL;
	if ((nt && m->tasks == NULL) || (nr && m->removed == NULL))
		return out_of_memory(d, "assignments");
	for (uint32_t i = 0; i < nt; i++, m->ntasks++)
		if (!decode_task(&f[4].via.array.ptr[i], i, &m->tasks[i], d))
			return false;
	for (uint32_t i = 0; i < nr; i++, m->nremoved++) {
		char w[48];
		snprintf(w, sizeof(w), "removed[%u]", i);
		if (!mp_get_id(&f[5].via.array.ptr[i], m->removed[i], w, d->err, d->errlen))
			return false;
	}
	return true;
}

static bool decode_status(const msgpack_object *o, struct dec *d)
{
	struct dispatch_msg *m = d->m;
	const msgpack_object *f = o->via.array.ptr;
	if (!get_fields(o, 4, "status", d) || !alloc_ports(d, "status") ||
	    !mp_get_uint(&f[2], 1, UINT64_MAX, &m->seq, "status seq", d->err, d->errlen) ||
	    !mp_get_array_range(&f[3], 1, DISPATCH_UPDATES_MAX, "status updates", d->err, d->errlen))
		return false;
	uint32_t n = f[3].via.array.size;
	m->updates = calloc(n, sizeof(*m->updates));
	if (m->updates == NULL)
		return out_of_memory(d, "status");
	for (uint32_t i = 0; i < n; i++, m->nupdates++)
		if (!decode_update(&f[3].via.array.ptr[i], i, &m->updates[i], d))
			return false;
	return true;
}

static bool decode_logs_request(const msgpack_object *o, struct dec *d)
{
	struct dispatch_msg *m = d->m;
	const msgpack_object *f = o->via.array.ptr;
	return get_fields(o, 7, "logs_request", d) &&
	       mp_get_id(&f[2], m->task_id, "logs_request task", d->err, d->errlen) &&
	       mp_get_uint(&f[3], 0, UINT64_MAX, &m->tail, "logs_request tail", d->err, d->errlen) &&
	       mp_get_uint(&f[4], 0, UINT64_MAX, &m->since_ns, "logs_request since_ns", d->err, d->errlen) &&
	       mp_get_uint(&f[5], 0, UINT64_MAX, &m->skip, "logs_request skip", d->err, d->errlen) &&
	       get_u8(&f[6], DISPATCH_LOGS_STDOUT | DISPATCH_LOGS_STDERR, &m->streams, "logs_request streams", d) &&
	       (m->streams != 0 || mp_fail(d->err, d->errlen, "logs_request streams: none selected"));
}

/* A line's text must be a view of the input, as a task's spec. */
static bool decode_log_line(const msgpack_object *o, uint32_t i, struct dispatch_log_line *l, struct dec *d)
{
	char w[64];
	uint64_t stream;
#define F(name) (snprintf(w, sizeof(w), "lines[%u] " name, i), w)
	if (!get_fields(o, 4, F(""), d))
		return false;
	const msgpack_object *v = o->via.array.ptr;
	if (!mp_get_uint(&v[0], 1, 2, &stream, F("stream"), d->err,
			 d->errlen) ||
	    !mp_get_uint(&v[1], 0, UINT64_MAX, &l->time_ns, F("time_ns"), d->err, d->errlen) ||
	    !mp_get_bin(&v[2], DISPATCH_LOG_TEXT_MAX, &l->text, &l->len, F("text"), d->err, d->errlen) ||
	    !get_bool(&v[3], &l->partial, F("partial"), d))
		return false;
	if (l->len > 0 && (l->text < d->in || l->text + l->len > d->in + d->len))
		return mp_fail(d->err, d->errlen, "%s: not inside the message", F("text"));
#undef F
	l->stream = (uint8_t)stream;
	return true;
}

static bool decode_logs(const msgpack_object *o, struct dec *d)
{
	struct dispatch_msg *m = d->m;
	const msgpack_object *f = o->via.array.ptr;
	uint64_t flags;
	if (!get_fields(o, 7, "logs", d) ||
	    !mp_get_uint(&f[2], 0, DISPATCH_LOGS_LAST, &flags, "logs flags", d->err, d->errlen) ||
	    !get_int(&f[3], -4095, 0, &m->status, "logs status", d) ||
	    !mp_get_str(&f[4], m->err, sizeof(m->err), "logs err", d->err, d->errlen) ||
	    !mp_get_uint(&f[5], 0, UINT64_MAX, &m->dropped, "logs dropped", d->err, d->errlen) ||
	    !mp_get_array_range(&f[6], 0, DISPATCH_LOG_LINES_MAX, "logs lines", d->err, d->errlen))
		return false;
	m->flags = (uint32_t)flags;
	uint32_t n = f[6].via.array.size;
	m->lines = n ? calloc(n, sizeof(*m->lines)) : NULL;
	if (n && m->lines == NULL)
		return out_of_memory(d, "logs");
	for (uint32_t i = 0; i < n; i++, m->nlines++)
		if (!decode_log_line(&f[6].via.array.ptr[i], i, &m->lines[i], d))
			return false;
	return true;
}

static bool decode_fields(const msgpack_object *o, struct dec *d)
{
	struct dispatch_msg *m = d->m;
	const msgpack_object *f = o->via.array.ptr;
	uint64_t type;
	int64_t status;
	if (!mp_get_array_range(o, 2, 64, "dispatch message", d->err, d->errlen) ||
	    !mp_get_uint(&f[0], DISPATCH_SESSION, DISPATCH_LOGS, &type, "dispatch message type", d->err, d->errlen))
		return false;
	m->type = (uint8_t)type;
	if (m->type == DISPATCH_LOGS_REQUEST || m->type == DISPATCH_LOGS) {
		if (!mp_get_uint(&f[1], 1, UINT64_MAX, &m->request, "dispatch message request", d->err, d->errlen))
			return false;
		return m->type == DISPATCH_LOGS ? decode_logs(o, d) : decode_logs_request(o, d);
	}
	if (!mp_get_uint(&f[1], 1, UINT64_MAX, &m->session, "dispatch message session", d->err, d->errlen))
		return false;
	switch (m->type) {
	case DISPATCH_SESSION:
		return true;
	case DISPATCH_ASSIGNMENTS:
		return decode_assignments(o, d);
	case DISPATCH_STATUS:
		return decode_status(o, d);
	default:
		if (!get_fields(o, 4, "ack", d) ||
		    !mp_get_uint(&f[2], 0, UINT64_MAX, &m->seq, "ack seq", d->err, d->errlen) ||
		    !get_int(&f[3], -4095, 0, &status, "ack status", d))
			return false;
		m->status = status;
		return true;
	}
}

int dispatch_msg_decode(const uint8_t *in, size_t len, struct dispatch_msg *m, char *err, size_t errlen)
{
	msgpack_zone zone;
	msgpack_object o;
	struct dec d = { .in = in, .len = len, .err = err, .errlen = errlen, .m = m };
	memset(m, 0, sizeof(*m));
	if (len > DISPATCH_MSG_MAX) {
		mp_fail(err, errlen, "dispatch message: %zu bytes, at most %u allowed", len, DISPATCH_MSG_MAX);
		return -EBADMSG;
	}
	if (!msgpack_zone_init(&zone, 1024))
		return -ENOMEM;
	bool ok = mp_unpack_exact(&zone, in, len, &o, "dispatch message", err, errlen);
	if (ok)
		ok = decode_fields(&o, &d);
	msgpack_zone_destroy(&zone);
	if (!ok) {
		dispatch_msg_release(m);
		return d.nomem ? -ENOMEM : -EBADMSG;
	}
	return 0;
}

void dispatch_msg_release(struct dispatch_msg *m)
{
	free(m->tasks);
	free(m->removed);
	free(m->updates);
	free(m->lines);
	free(m->port_store);
	memset(m, 0, sizeof(*m));
}
