/* peer_msg: the envelope of every message on a peer stream, and the heartbeat that measures a stream's round trip. */
#include "swarmnode/peer_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "mp_wire.h"

int peer_msg_heartbeat_encode(enum peer_msg_kind kind, uint64_t seq, uint64_t stamp, uint8_t *out,
			      size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, (uint8_t)kind);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_uint64(&pk, stamp);
	if (b.overflow)
		return -EMSGSIZE;
	*len = b.len;
	return 0;
}

int peer_msg_header_encode(uint64_t kind, size_t body_len, uint8_t *out, size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	if (kind < PEER_MSG_FIRST_ENVELOPE || body_len > UINT32_MAX)
		return -EINVAL;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, kind);
	msgpack_pack_bin(&pk, body_len);
	if (b.overflow)
		return -EMSGSIZE;
	*len = b.len;
	return 0;
}

int peer_msg_encode(uint64_t kind, const uint8_t *body, size_t body_len, uint8_t *out, size_t cap,
		    size_t *len)
{
	size_t head;
	int rc = peer_msg_header_encode(kind, body_len, out, cap, &head);
	if (rc != 0)
		return rc;
	if (cap - head < body_len)
		return -EMSGSIZE;
	if (body_len > 0)
		memcpy(out + head, body, body_len);
	*len = head + body_len;
	return 0;
}

static bool decode_heartbeat(const msgpack_object *o, struct peer_msg *m, char *err, size_t errlen)
{
	const msgpack_object *f = o->via.array.ptr;
	if (o->via.array.size < 3)
		return mp_fail(err, errlen, "heartbeat: %u elements, at least 3 expected", o->via.array.size);
	return mp_get_uint(&f[1], 0, UINT64_MAX, &m->seq, "heartbeat seq", err, errlen) &&
	       mp_get_uint(&f[2], 0, UINT64_MAX, &m->stamp, "heartbeat stamp", err, errlen);
}

static bool decode_envelope(const msgpack_object *o, const uint8_t *in, size_t len, struct peer_msg *m,
			    char *err, size_t errlen)
{
	if (o->via.array.size < 2)
		return mp_fail(err, errlen, "peer message of kind %llu: %u element, at least 2 expected",
			       (unsigned long long)m->kind, o->via.array.size);
	if (!mp_get_bin(&o->via.array.ptr[1], len, &m->body, &m->body_len, "peer message body", err, errlen))
		return false;
	/* msgpack-c references bin payloads in the input; the body must lie there. */
	if (m->body_len > 0 && (m->body < in || m->body + m->body_len > in + len))
		return mp_fail(err, errlen, "peer message body: not inside the message");
	return true;
}

int peer_msg_decode(const uint8_t *in, size_t len, struct peer_msg *m, char *err, size_t errlen)
{
	msgpack_zone zone;
	msgpack_object o;
	int rc = -EBADMSG;
	memset(m, 0, sizeof(*m));
	if (!msgpack_zone_init(&zone, 256))
		return -ENOMEM;
	if (!mp_unpack_exact(&zone, in, len, &o, "peer message", err, errlen) ||
	    !mp_get_array_range(&o, 1, 64, "peer message", err, errlen) ||
	    !mp_get_uint(&o.via.array.ptr[0], 1, UINT64_MAX, &m->kind, "peer message kind", err, errlen))
		goto out;
	bool ok = m->kind < PEER_MSG_FIRST_ENVELOPE ? decode_heartbeat(&o, m, err, errlen)
						     : decode_envelope(&o, in, len, m, err, errlen);
	if (ok) {
		rc = 0;
	} else {
		m->body = NULL;
		m->body_len = 0;
	}
out:
	msgpack_zone_destroy(&zone);
	return rc;
}
