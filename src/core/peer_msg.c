/* peer_msg: the envelope of every message on a peer stream, and the heartbeat that measures a stream's round trip. */
#include "swarmnode/peer_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

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

/* --- gossip keyring messages --------------------------------------------------- */

const char *peer_keyring_step_name(uint64_t step)
{
	switch (step) {
	case PEER_KEYRING_INSTALL: return "install";
	case PEER_KEYRING_USE: return "use";
	case PEER_KEYRING_REMOVE: return "remove";
	case PEER_KEYRING_SYNC: return "sync";
	default: return "unknown";
	}
}

void peer_msg_keyring_digest(const uint8_t *ring, size_t ring_len, uint8_t digest[PEER_KEYRING_DIGEST_LEN])
{
	crypto_generichash(digest, PEER_KEYRING_DIGEST_LEN, ring, ring_len, NULL, 0);
}

/* Wraps a body written by pk into a KEYRING envelope in out. */
static int keyring_envelope(const struct mp_buf *body, uint8_t *out, size_t cap, size_t *len)
{
	if (body->overflow)
		return -EMSGSIZE;
	return peer_msg_encode(PEER_MSG_KEYRING, body->data, body->len, out, cap, len);
}

int peer_msg_keyring_ring_encode(enum peer_keyring_step step, uint64_t generation, const uint8_t *ring,
				 size_t ring_len, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t buf[PEER_KEYRING_MSG_MAX];
	struct mp_buf b;
	msgpack_packer pk;
	if (step < PEER_KEYRING_INSTALL || step > PEER_KEYRING_SYNC || generation == 0 || ring_len == 0 ||
	    ring_len > KEYRING_SERIALIZED_MAX)
		return -EINVAL;
	mp_buf_init(&b, &pk, buf, sizeof(buf));
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, PEER_KEYRING_RING);
	msgpack_pack_uint8(&pk, (uint8_t)step);
	msgpack_pack_uint64(&pk, generation);
	msgpack_pack_bin(&pk, ring_len);
	msgpack_pack_bin_body(&pk, ring, ring_len);
	return keyring_envelope(&b, out, cap, len);
}

int peer_msg_keyring_ack_encode(uint64_t generation, const uint8_t digest[PEER_KEYRING_DIGEST_LEN],
				uint8_t *out, size_t cap, size_t *len)
{
	uint8_t buf[64];
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, buf, sizeof(buf));
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, PEER_KEYRING_ACK);
	msgpack_pack_uint64(&pk, generation);
	msgpack_pack_bin(&pk, PEER_KEYRING_DIGEST_LEN);
	msgpack_pack_bin_body(&pk, digest, PEER_KEYRING_DIGEST_LEN);
	return keyring_envelope(&b, out, cap, len);
}

static bool decode_ring(const msgpack_object *o, struct peer_keyring_msg *m, char *err, size_t errlen)
{
	const msgpack_object *f = o->via.array.ptr;
	if (o->via.array.size < 4)
		return mp_fail(err, errlen, "keyring ring: %u elements, at least 4 expected", o->via.array.size);
	if (!mp_get_uint(&f[1], PEER_KEYRING_INSTALL, PEER_KEYRING_SYNC, &m->step, "keyring ring step", err,
			 errlen) ||
	    !mp_get_uint(&f[2], 1, UINT64_MAX, &m->generation, "keyring ring generation", err, errlen) ||
	    !mp_get_bin(&f[3], KEYRING_SERIALIZED_MAX, &m->ring, &m->ring_len, "keyring ring keys", err, errlen))
		return false;
	if (m->ring_len == 0)
		return mp_fail(err, errlen, "keyring ring keys: empty");
	return true;
}

static bool decode_ack(const msgpack_object *o, struct peer_keyring_msg *m, char *err, size_t errlen)
{
	const msgpack_object *f = o->via.array.ptr;
	if (o->via.array.size < 3)
		return mp_fail(err, errlen, "keyring ack: %u elements, at least 3 expected", o->via.array.size);
	return mp_get_uint(&f[1], 0, UINT64_MAX, &m->generation, "keyring ack generation", err, errlen) &&
	       mp_get_bin_exact(&f[2], m->digest, PEER_KEYRING_DIGEST_LEN, "keyring ack digest", err, errlen);
}

int peer_msg_keyring_decode(const uint8_t *body, size_t len, struct peer_keyring_msg *m, char *err,
			    size_t errlen)
{
	msgpack_zone zone;
	msgpack_object o;
	int rc = -EBADMSG;
	memset(m, 0, sizeof(*m));
	if (!msgpack_zone_init(&zone, 256))
		return -ENOMEM;
	if (!mp_unpack_exact(&zone, body, len, &o, "keyring message", err, errlen) ||
	    !mp_get_array_range(&o, 1, 16, "keyring message", err, errlen) ||
	    !mp_get_uint(&o.via.array.ptr[0], PEER_KEYRING_RING, PEER_KEYRING_ACK, &m->op, "keyring message op",
			 err, errlen))
		goto out;
	if (m->op == PEER_KEYRING_RING ? decode_ring(&o, m, err, errlen) : decode_ack(&o, m, err, errlen))
		rc = 0;
out:
	if (rc != 0) {
		m->ring = NULL;
		m->ring_len = 0;
	}
	msgpack_zone_destroy(&zone);
	return rc;
}

enum peer_keyring_verdict peer_msg_keyring_judge(enum identity_role from_role, uint64_t have_generation,
						 const uint8_t have_digest[PEER_KEYRING_DIGEST_LEN],
						 uint64_t generation,
						 const uint8_t digest[PEER_KEYRING_DIGEST_LEN])
{
	if (from_role != IDENTITY_ROLE_MANAGER)
		return PEER_KEYRING_REFUSED;
	if (generation > have_generation)
		return PEER_KEYRING_ADOPT;
	if (generation == have_generation && memcmp(digest, have_digest, PEER_KEYRING_DIGEST_LEN) > 0)
		return PEER_KEYRING_ADOPT;
	return PEER_KEYRING_STALE;
}
