/* peer_msg: the envelope of every message on a peer stream, and the heartbeat that measures a stream's round trip. */
#include "swarmnode/peer_msg.h"

#include <errno.h>
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
	if (m->kind != PEER_MSG_HEARTBEAT && m->kind != PEER_MSG_HEARTBEAT_ACK) {
		rc = -ENOTSUP;
		goto out;
	}
	const msgpack_object *f = o.via.array.ptr;
	if (o.via.array.size < 3) {
		mp_fail(err, errlen, "heartbeat: %u elements, at least 3 expected", o.via.array.size);
		goto out;
	}
	if (!mp_get_uint(&f[1], 0, UINT64_MAX, &m->seq, "heartbeat seq", err, errlen) ||
	    !mp_get_uint(&f[2], 0, UINT64_MAX, &m->stamp, "heartbeat stamp", err, errlen))
		goto out;
	rc = 0;
out:
	msgpack_zone_destroy(&zone);
	return rc;
}
