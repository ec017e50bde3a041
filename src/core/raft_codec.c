/* raft_codec: msgpack encoding of Raft messages, log entries, hard state and snapshot metadata, with checked decoders. */
#include "swarmnode/raft_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mp_wire.h"

/* ---- encoding ---------------------------------------------------------------- */

static void pack_conf(msgpack_packer *pk, const struct raft_configuration *c)
{
	msgpack_pack_array(pk, c->n);
	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_member *m = &c->members[i];
		msgpack_pack_array(pk, 3);
		msgpack_pack_uint64(pk, m->id);
		msgpack_pack_uint8(pk, m->role);
		mp_pack_str(pk, m->node_id);
	}
}

static bool conf_encodable(const struct raft_configuration *c)
{
	if (c->n > RAFT_MAX_MEMBERS)
		return false;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_member *m = &c->members[i];
		if (m->id == 0 || (m->role != RAFT_VOTER && m->role != RAFT_LEARNER) ||
		    memchr(m->node_id, '\0', sizeof(m->node_id)) == NULL ||
		    (m->node_id[0] != '\0' && !ids_valid(m->node_id)))
			return false;
	}
	return true;
}

static void pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

static int finish(const struct mp_buf *b, size_t *len)
{
	if (b->overflow)
		return RAFT_E_TOO_BIG;
	*len = b->len;
	return 0;
}

size_t raft_msg_encoded_max(const struct raft_message *m)
{
	size_t n = 64;
	if (m->type == RAFT_MSG_APPEND) {
		for (uint32_t i = 0; i < m->append.n_entries; i++)
			n += 16 + m->append.entries[i].len;
	} else if (m->type == RAFT_MSG_SNAPSHOT) {
		n += RAFT_SNAPSHOT_META_ENCODED_MAX + 32 + m->snapshot.len;
	}
	return n;
}

int raft_msg_encode(const struct raft_message *m, uint8_t *out, size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX)
		return RAFT_E_INVALID;
	if (m->type == RAFT_MSG_SNAPSHOT &&
	    (m->snapshot.meta == NULL || !conf_encodable(&m->snapshot.meta->conf)))
		return RAFT_E_INVALID;
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, RAFT_CODEC_VERSION);
	msgpack_pack_uint8(&pk, m->type);
	msgpack_pack_uint64(&pk, m->term);
	msgpack_pack_uint64(&pk, m->from);
	msgpack_pack_uint64(&pk, m->to);
	switch (m->type) {
	case RAFT_MSG_APPEND: {
		const struct raft_msg_append *a = &m->append;
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint64(&pk, a->prev_index);
		msgpack_pack_uint64(&pk, a->prev_term);
		msgpack_pack_uint64(&pk, a->commit);
		msgpack_pack_array(&pk, a->n_entries);
		for (uint32_t i = 0; i < a->n_entries; i++) {
			const struct raft_entry *e = &a->entries[i];
			msgpack_pack_array(&pk, 3);
			msgpack_pack_uint64(&pk, e->term);
			msgpack_pack_uint8(&pk, e->type);
			pack_bin(&pk, e->data, e->len);
		}
		break;
	}
	case RAFT_MSG_APPEND_RESP:
		msgpack_pack_array(&pk, 4);
		if (m->append_resp.reject)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		msgpack_pack_uint64(&pk, m->append_resp.index);
		msgpack_pack_uint64(&pk, m->append_resp.hint_index);
		msgpack_pack_uint64(&pk, m->append_resp.hint_term);
		break;
	case RAFT_MSG_VOTE:
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint64(&pk, m->vote.last_index);
		msgpack_pack_uint64(&pk, m->vote.last_term);
		msgpack_pack_uint8(&pk, (uint8_t)((m->vote.pre_vote ? 1 : 0) | (m->vote.transfer ? 2 : 0)));
		break;
	case RAFT_MSG_VOTE_RESP:
		msgpack_pack_array(&pk, 2);
		if (m->vote_resp.granted)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		if (m->vote_resp.pre_vote)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		break;
	case RAFT_MSG_SNAPSHOT: {
		const struct raft_msg_snapshot *s = &m->snapshot;
		msgpack_pack_array(&pk, 7);
		msgpack_pack_uint64(&pk, s->meta->index);
		msgpack_pack_uint64(&pk, s->meta->term);
		pack_conf(&pk, &s->meta->conf);
		msgpack_pack_uint64(&pk, s->total);
		msgpack_pack_uint64(&pk, s->offset);
		pack_bin(&pk, s->data, s->len);
		if (s->done)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		break;
	}
	case RAFT_MSG_SNAPSHOT_RESP:
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint64(&pk, m->snapshot_resp.index);
		msgpack_pack_uint64(&pk, m->snapshot_resp.offset);
		msgpack_pack_uint8(&pk, (uint8_t)((m->snapshot_resp.done ? 1 : 0) |
						  (m->snapshot_resp.reject ? 2 : 0)));
		break;
	case RAFT_MSG_HEARTBEAT:
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, m->heartbeat.commit);
		msgpack_pack_uint64(&pk, m->heartbeat.read_seq);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint64(&pk, m->heartbeat_resp.read_seq);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		msgpack_pack_array(&pk, 0);
		break;
	case RAFT_MSG_READ_INDEX:
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint64(&pk, m->read_index.req_id);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint64(&pk, m->read_index_resp.req_id);
		msgpack_pack_uint64(&pk, m->read_index_resp.index);
		if (m->read_index_resp.reject)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		break;
	}
	return finish(&b, len);
}

int raft_configuration_encode(const struct raft_configuration *c, uint8_t *out, size_t cap,
			      size_t *len)
{
	if (!conf_encodable(c))
		return RAFT_E_INVALID;
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	pack_conf(&pk, c);
	return finish(&b, len);
}

size_t raft_entry_encoded_size(const struct raft_entry *e)
{
	return 1 + 9 + 9 + 2 + 5 + e->len;
}

int raft_entry_encode(const struct raft_entry *e, uint8_t *out, size_t cap, size_t *len)
{
	if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP || (e->len > 0 && e->data == NULL))
		return RAFT_E_INVALID;
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, e->index);
	msgpack_pack_uint64(&pk, e->term);
	msgpack_pack_uint8(&pk, e->type);
	pack_bin(&pk, e->data, e->len);
	return finish(&b, len);
}

int raft_hard_state_encode(const struct raft_hard_state *hs, uint8_t *out, size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, hs->term);
	msgpack_pack_uint64(&pk, hs->vote);
	return finish(&b, len);
}

int raft_snapshot_meta_encode(const struct raft_snapshot_meta *m, uint8_t *out, size_t cap,
			      size_t *len)
{
	if (!conf_encodable(&m->conf))
		return RAFT_E_INVALID;
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, m->index);
	msgpack_pack_uint64(&pk, m->term);
	pack_conf(&pk, &m->conf);
	return finish(&b, len);
}

/* ---- decoding ------------------------------------------------------------------- */

#define ERR_ARGS err, errlen

static bool get_bool(const msgpack_object *o, bool *out, const char *what, char *err, size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return mp_fail(ERR_ARGS, "%s: expected a boolean", what);
	*out = o->via.boolean;
	return true;
}

static bool get_conf(const msgpack_object *o, struct raft_configuration *c, const char *what,
		     char *err, size_t errlen)
{
	char f[96];
	memset(c, 0, sizeof(*c));
	if (!mp_get_array_range(o, 0, RAFT_MAX_MEMBERS, what, ERR_ARGS))
		return false;
	c->n = o->via.array.size;
	for (uint32_t i = 0; i < c->n; i++) {
		const msgpack_object *mo = &o->via.array.ptr[i];
		struct raft_member *m = &c->members[i];
		uint64_t role;
		snprintf(f, sizeof(f), "%s[%u]", what, i);
		if (!mp_get_array(mo, 3, f, ERR_ARGS))
			return false;
		snprintf(f, sizeof(f), "%s[%u].id", what, i);
		if (!mp_get_uint(&mo->via.array.ptr[0], 1, UINT64_MAX, &m->id, f, ERR_ARGS))
			return false;
		snprintf(f, sizeof(f), "%s[%u].role", what, i);
		if (!mp_get_uint(&mo->via.array.ptr[1], RAFT_VOTER, RAFT_LEARNER, &role, f, ERR_ARGS))
			return false;
		m->role = (uint8_t)role;
		snprintf(f, sizeof(f), "%s[%u].node_id", what, i);
		const msgpack_object *s = &mo->via.array.ptr[2];
		if (s->type == MSGPACK_OBJECT_STR && s->via.str.size == 0) {
			m->node_id[0] = '\0';
		} else if (!mp_get_id(s, m->node_id, f, ERR_ARGS)) {
			return false;
		}
		for (uint32_t j = 0; j < i; j++)
			if (c->members[j].id == m->id)
				return mp_fail(ERR_ARGS, "%s[%u].id: %" PRIu64 " repeats member %u", what, i,
					       m->id, j);
	}
	return true;
}

static int malformed(void)
{
	return RAFT_E_MALFORMED;
}

static bool decode_append(const msgpack_object *b, struct raft_msg_decoded *d, char *err,
			  size_t errlen)
{
	struct raft_msg_append *a = &d->msg.append;
	char f[96];
	if (!mp_get_array(b, 4, "append", ERR_ARGS) ||
	    !mp_get_uint(&b->via.array.ptr[0], 0, UINT64_MAX, &a->prev_index, "append.prev_index", ERR_ARGS) ||
	    !mp_get_uint(&b->via.array.ptr[1], 0, d->msg.term, &a->prev_term, "append.prev_term", ERR_ARGS) ||
	    !mp_get_uint(&b->via.array.ptr[2], 0, UINT64_MAX, &a->commit, "append.commit", ERR_ARGS))
		return false;
	if ((a->prev_index == 0) != (a->prev_term == 0))
		return mp_fail(ERR_ARGS, "append.prev_term: %" PRIu64 " with prev_index %" PRIu64,
			       a->prev_term, a->prev_index);
	const msgpack_object *es = &b->via.array.ptr[3];
	if (es->type != MSGPACK_OBJECT_ARRAY)
		return mp_fail(ERR_ARGS, "append.entries: expected an array");
	uint32_t n = es->via.array.size;
	if (n > UINT64_MAX - a->prev_index)
		return mp_fail(ERR_ARGS, "append.entries: %u entries overflow the index", n);
	if (n > 0) {
		d->entries = calloc(n, sizeof(*d->entries));
		if (d->entries == NULL)
			return mp_fail(ERR_ARGS, "append.entries: out of memory");
	}
	uint64_t prev_term = a->prev_term;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *eo = &es->via.array.ptr[i];
		struct raft_entry *e = &d->entries[i];
		uint64_t type;
		snprintf(f, sizeof(f), "append.entries[%u]", i);
		if (!mp_get_array(eo, 3, f, ERR_ARGS))
			return false;
		snprintf(f, sizeof(f), "append.entries[%u].term", i);
		if (!mp_get_uint(&eo->via.array.ptr[0], prev_term > 0 ? prev_term : 1, d->msg.term,
				 &e->term, f, ERR_ARGS))
			return false;
		snprintf(f, sizeof(f), "append.entries[%u].type", i);
		if (!mp_get_uint(&eo->via.array.ptr[1], RAFT_ENTRY_NORMAL, RAFT_ENTRY_NOOP, &type, f, ERR_ARGS))
			return false;
		e->type = (uint8_t)type;
		snprintf(f, sizeof(f), "append.entries[%u].data", i);
		if (!mp_get_bin(&eo->via.array.ptr[2], SIZE_MAX, &e->data, &e->len, f, ERR_ARGS))
			return false;
		if (e->len == 0)
			e->data = NULL;
		e->index = a->prev_index + 1 + i;
		prev_term = e->term;
		if (e->type == RAFT_ENTRY_CONFIG) {
			struct raft_configuration c;
			char why[RAFT_CODEC_ERR_MAX];
			if (raft_configuration_decode(e->data, e->len, &c, why, sizeof(why)) != 0)
				return mp_fail(ERR_ARGS, "%s: %s", f, why);
		}
	}
	a->n_entries = n;
	a->entries = d->entries;
	return true;
}

static bool decode_body(const msgpack_object *b, struct raft_msg_decoded *d, char *err, size_t errlen)
{
	struct raft_message *m = &d->msg;
	const msgpack_object *p = b->type == MSGPACK_OBJECT_ARRAY ? b->via.array.ptr : NULL;
	uint64_t flags;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		return decode_append(b, d, ERR_ARGS);
	case RAFT_MSG_APPEND_RESP:
		return mp_get_array(b, 4, "append_resp", ERR_ARGS) &&
		       get_bool(&p[0], &m->append_resp.reject, "append_resp.reject", ERR_ARGS) &&
		       mp_get_uint(&p[1], 0, UINT64_MAX, &m->append_resp.index, "append_resp.index", ERR_ARGS) &&
		       mp_get_uint(&p[2], 0, UINT64_MAX, &m->append_resp.hint_index, "append_resp.hint_index", ERR_ARGS) &&
		       mp_get_uint(&p[3], 0, m->term, &m->append_resp.hint_term, "append_resp.hint_term", ERR_ARGS);
	case RAFT_MSG_VOTE:
		if (!mp_get_array(b, 3, "vote", ERR_ARGS) ||
		    !mp_get_uint(&p[0], 0, UINT64_MAX, &m->vote.last_index, "vote.last_index", ERR_ARGS) ||
		    !mp_get_uint(&p[1], 0, m->term, &m->vote.last_term, "vote.last_term", ERR_ARGS) ||
		    !mp_get_uint(&p[2], 0, 3, &flags, "vote.flags", ERR_ARGS))
			return false;
		if ((m->vote.last_index == 0) != (m->vote.last_term == 0))
			return mp_fail(ERR_ARGS, "vote.last_term: %" PRIu64 " with last_index %" PRIu64,
				       m->vote.last_term, m->vote.last_index);
		m->vote.pre_vote = flags & 1;
		m->vote.transfer = flags & 2;
		return true;
	case RAFT_MSG_VOTE_RESP:
		return mp_get_array(b, 2, "vote_resp", ERR_ARGS) &&
		       get_bool(&p[0], &m->vote_resp.granted, "vote_resp.granted", ERR_ARGS) &&
		       get_bool(&p[1], &m->vote_resp.pre_vote, "vote_resp.pre_vote", ERR_ARGS);
	case RAFT_MSG_SNAPSHOT: {
		struct raft_msg_snapshot *s = &m->snapshot;
		if (!mp_get_array(b, 7, "snapshot", ERR_ARGS) ||
		    !mp_get_uint(&p[0], 1, UINT64_MAX, &d->meta.index, "snapshot.index", ERR_ARGS) ||
		    !mp_get_uint(&p[1], 1, m->term, &d->meta.term, "snapshot.term", ERR_ARGS) ||
		    !get_conf(&p[2], &d->meta.conf, "snapshot.conf", ERR_ARGS) ||
		    !mp_get_uint(&p[3], 0, RAFT_CODEC_MAX_SNAPSHOT, &s->total, "snapshot.total", ERR_ARGS) ||
		    !mp_get_uint(&p[4], 0, s->total, &s->offset, "snapshot.offset", ERR_ARGS) ||
		    !mp_get_bin(&p[5], (size_t)(s->total - s->offset), &s->data, &s->len, "snapshot.data", ERR_ARGS) ||
		    !get_bool(&p[6], &s->done, "snapshot.done", ERR_ARGS))
			return false;
		if (s->done != (s->offset + s->len == s->total))
			return mp_fail(ERR_ARGS, "snapshot.done: %s but the chunk ends at %" PRIu64 " of %" PRIu64,
				       s->done ? "true" : "false", s->offset + s->len, s->total);
		if (s->len == 0)
			s->data = NULL;
		s->meta = &d->meta;
		return true;
	}
	case RAFT_MSG_SNAPSHOT_RESP:
		if (!mp_get_array(b, 3, "snapshot_resp", ERR_ARGS) ||
		    !mp_get_uint(&p[0], 0, UINT64_MAX, &m->snapshot_resp.index, "snapshot_resp.index", ERR_ARGS) ||
		    !mp_get_uint(&p[1], 0, UINT64_MAX, &m->snapshot_resp.offset, "snapshot_resp.offset", ERR_ARGS) ||
		    !mp_get_uint(&p[2], 0, 3, &flags, "snapshot_resp.flags", ERR_ARGS))
			return false;
		m->snapshot_resp.done = flags & 1;
		m->snapshot_resp.reject = flags & 2;
		return true;
	case RAFT_MSG_HEARTBEAT:
		return mp_get_array(b, 2, "heartbeat", ERR_ARGS) &&
		       mp_get_uint(&p[0], 0, UINT64_MAX, &m->heartbeat.commit, "heartbeat.commit", ERR_ARGS) &&
		       mp_get_uint(&p[1], 0, UINT64_MAX, &m->heartbeat.read_seq, "heartbeat.read_seq", ERR_ARGS);
	case RAFT_MSG_HEARTBEAT_RESP:
		return mp_get_array(b, 1, "heartbeat_resp", ERR_ARGS) &&
		       mp_get_uint(&p[0], 0, UINT64_MAX, &m->heartbeat_resp.read_seq, "heartbeat_resp.read_seq", ERR_ARGS);
	case RAFT_MSG_TIMEOUT_NOW:
		return mp_get_array(b, 0, "timeout_now", ERR_ARGS);
	case RAFT_MSG_READ_INDEX:
		return mp_get_array(b, 1, "read_index", ERR_ARGS) &&
		       mp_get_uint(&p[0], 0, UINT64_MAX, &m->read_index.req_id, "read_index.req_id", ERR_ARGS);
	case RAFT_MSG_READ_INDEX_RESP:
		return mp_get_array(b, 3, "read_index_resp", ERR_ARGS) &&
		       mp_get_uint(&p[0], 0, UINT64_MAX, &m->read_index_resp.req_id, "read_index_resp.req_id", ERR_ARGS) &&
		       mp_get_uint(&p[1], 0, UINT64_MAX, &m->read_index_resp.index, "read_index_resp.index", ERR_ARGS) &&
		       get_bool(&p[2], &m->read_index_resp.reject, "read_index_resp.reject", ERR_ARGS);
	}
	return mp_fail(ERR_ARGS, "type: %u unknown", m->type);
}

int raft_msg_decode(const uint8_t *in, size_t len, struct raft_msg_decoded *out, char *err,
		    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024))
		return RAFT_E_NOMEM;
	msgpack_object o;
	int rc = 0;
	uint64_t version, type;
	struct raft_message *m = &out->msg;
	if (!mp_unpack_exact(&zone, in, len, &o, "message", ERR_ARGS) ||
	    !mp_get_array(&o, 6, "message", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[0], RAFT_CODEC_VERSION, RAFT_CODEC_VERSION, &version, "version", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[1], 1, RAFT_MSG_TYPE_MAX, &type, "type", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[2], 1, UINT64_MAX, &m->term, "term", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[3], 1, UINT64_MAX, &m->from, "from", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[4], 1, UINT64_MAX, &m->to, "to", ERR_ARGS)) {
		rc = malformed();
		goto out;
	}
	if (m->to == m->from) {
		mp_fail(ERR_ARGS, "to: %" PRIu64 " is the sender", m->to);
		rc = malformed();
		goto out;
	}
	m->type = (uint8_t)type;
	if (!decode_body(&o.via.array.ptr[5], out, ERR_ARGS))
		rc = malformed();
out:
	/* Bins point into in, not into the zone: the zone can go now. */
	msgpack_zone_destroy(&zone);
	if (rc != 0)
		raft_msg_decoded_release(out);
	return rc;
}

void raft_msg_decoded_release(struct raft_msg_decoded *d)
{
	free(d->entries);
	d->entries = NULL;
	d->msg.append.entries = NULL;
}

int raft_configuration_decode(const uint8_t *in, size_t len, struct raft_configuration *c,
			      char *err, size_t errlen)
{
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024))
		return RAFT_E_NOMEM;
	msgpack_object o;
	int rc = 0;
	if (!mp_unpack_exact(&zone, in, len, &o, "conf", ERR_ARGS) || !get_conf(&o, c, "conf", ERR_ARGS))
		rc = malformed();
	msgpack_zone_destroy(&zone);
	return rc;
}

int raft_entry_decode(const uint8_t *in, size_t len, struct raft_entry *e, char *err, size_t errlen)
{
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 256))
		return RAFT_E_NOMEM;
	msgpack_object o;
	uint64_t type;
	int rc = 0;
	if (!mp_unpack_exact(&zone, in, len, &o, "entry", ERR_ARGS) ||
	    !mp_get_array(&o, 4, "entry", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[0], 1, UINT64_MAX, &e->index, "entry.index", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[1], 1, UINT64_MAX, &e->term, "entry.term", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[2], RAFT_ENTRY_NORMAL, RAFT_ENTRY_NOOP, &type, "entry.type", ERR_ARGS) ||
	    !mp_get_bin(&o.via.array.ptr[3], SIZE_MAX, &e->data, &e->len, "entry.data", ERR_ARGS)) {
		rc = malformed();
	} else {
		e->type = (uint8_t)type;
		if (e->len == 0)
			e->data = NULL;
		if (e->type == RAFT_ENTRY_CONFIG) {
			struct raft_configuration c;
			char why[RAFT_CODEC_ERR_MAX];
			if (raft_configuration_decode(e->data, e->len, &c, why, sizeof(why)) != 0) {
				mp_fail(ERR_ARGS, "entry.data: %s", why);
				rc = malformed();
			}
		}
	}
	msgpack_zone_destroy(&zone);
	return rc;
}

int raft_hard_state_decode(const uint8_t *in, size_t len, struct raft_hard_state *hs, char *err,
			   size_t errlen)
{
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 128))
		return RAFT_E_NOMEM;
	msgpack_object o;
	int rc = 0;
	if (!mp_unpack_exact(&zone, in, len, &o, "hard_state", ERR_ARGS) ||
	    !mp_get_array(&o, 2, "hard_state", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[0], 0, UINT64_MAX, &hs->term, "hard_state.term", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[1], 0, UINT64_MAX, &hs->vote, "hard_state.vote", ERR_ARGS))
		rc = malformed();
	msgpack_zone_destroy(&zone);
	return rc;
}

int raft_snapshot_meta_decode(const uint8_t *in, size_t len, struct raft_snapshot_meta *m,
			      char *err, size_t errlen)
{
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024))
		return RAFT_E_NOMEM;
	msgpack_object o;
	int rc = 0;
	if (!mp_unpack_exact(&zone, in, len, &o, "snapshot_meta", ERR_ARGS) ||
	    !mp_get_array(&o, 3, "snapshot_meta", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[0], 0, UINT64_MAX, &m->index, "snapshot_meta.index", ERR_ARGS) ||
	    !mp_get_uint(&o.via.array.ptr[1], 0, UINT64_MAX, &m->term, "snapshot_meta.term", ERR_ARGS) ||
	    !get_conf(&o.via.array.ptr[2], &m->conf, "snapshot_meta.conf", ERR_ARGS))
		rc = malformed();
	else if ((m->index == 0) != (m->term == 0)) {
		mp_fail(ERR_ARGS, "snapshot_meta.term: %" PRIu64 " with index %" PRIu64, m->term, m->index);
		rc = malformed();
	}
	msgpack_zone_destroy(&zone);
	return rc;
}
