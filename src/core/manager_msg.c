/* manager_msg: the codec of what managers ask of each other besides Raft. */
#include "swarmnode/manager_msg.h"

#include <errno.h>
#include <string.h>

#include "mp_wire.h"

size_t manager_msg_encoded_max(const struct manager_msg *m)
{
	/* array header, type, req, a 64-bit field, a str header */
	size_t fixed = 1 + 1 + 9 + 9 + 9 + 5;
	if (m->type == MANAGER_MSG_FORWARD)
		return fixed + m->txn_len;
	return fixed + MANAGER_MSG_TEXT_MAX;
}

int manager_msg_encode(const struct manager_msg *m, uint8_t *out, size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	switch (m->type) {
	case MANAGER_MSG_FORWARD:
		if (m->txn_len == 0 || m->txn_len > MANAGER_MSG_TXN_MAX)
			return -EINVAL;
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, m->type);
		msgpack_pack_uint64(&pk, m->req);
		msgpack_pack_bin(&pk, m->txn_len);
		msgpack_pack_bin_body(&pk, m->txn, m->txn_len);
		break;
	case MANAGER_MSG_RESULT:
		if (strlen(m->message) > MANAGER_MSG_TEXT_MAX)
			return -EINVAL;
		msgpack_pack_array(&pk, 5);
		msgpack_pack_uint8(&pk, m->type);
		msgpack_pack_uint64(&pk, m->req);
		msgpack_pack_int64(&pk, m->status);
		msgpack_pack_uint64(&pk, m->index);
		mp_pack_str(&pk, m->message);
		break;
	case MANAGER_MSG_JOIN:
		if (m->raft_id == 0)
			return -EINVAL;
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, m->type);
		msgpack_pack_uint64(&pk, m->raft_id);
		break;
	case MANAGER_MSG_ROLE:
		if (m->role > 1 || m->has_secrets != (m->role == 1))
			return -EINVAL;
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, m->type);
		msgpack_pack_uint8(&pk, m->role);
		msgpack_pack_bin(&pk, m->has_secrets ? MANAGER_MSG_SECRETS_LEN : 0);
		if (m->has_secrets)
			msgpack_pack_bin_body(&pk, m->secrets, MANAGER_MSG_SECRETS_LEN);
		break;
	case MANAGER_MSG_REMOVED:
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint8(&pk, m->type);
		break;
	default:
		return -EINVAL;
	}
	if (b.overflow)
		return -EMSGSIZE;
	*len = b.len;
	return 0;
}

/* A RESULT's status is a negative error code or 0. */
static bool get_status(const msgpack_object *o, int64_t *out, char *err, size_t errlen)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 == 0) {
		*out = 0;
		return true;
	}
	if (o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER || o->via.i64 < -4095)
		return mp_fail(err, errlen, "result status: expected 0 or an error code");
	*out = o->via.i64;
	return true;
}

static bool decode_fields(const msgpack_object *o, const uint8_t *in, size_t len, struct manager_msg *m,
			  char *err, size_t errlen)
{
	const msgpack_object *f = o->via.array.ptr;
	uint32_t n = o->via.array.size;
	uint64_t type;
	if (!mp_get_uint(&f[0], MANAGER_MSG_FORWARD, MANAGER_MSG_REMOVED, &type, "manager message type", err,
			 errlen))
		return false;
	m->type = (uint8_t)type;
	static const uint32_t want[] = { [MANAGER_MSG_FORWARD] = 3, [MANAGER_MSG_RESULT] = 5,
					 [MANAGER_MSG_JOIN] = 2, [MANAGER_MSG_ROLE] = 3,
					 [MANAGER_MSG_REMOVED] = 1 };
	if (n < want[type])
		return mp_fail(err, errlen, "manager message: %u elements, at least %u expected", n, want[type]);
	switch (m->type) {
	case MANAGER_MSG_FORWARD:
		if (!mp_get_uint(&f[1], 0, UINT64_MAX, &m->req, "forward req", err, errlen) ||
		    !mp_get_bin(&f[2], MANAGER_MSG_TXN_MAX, &m->txn, &m->txn_len, "forward txn", err, errlen))
			return false;
		/* The bin must be a view of in (msgpack-c does not copy it), so
		 * that m->txn outlives the decoder's zone. */
		if (m->txn_len == 0 || m->txn < in || m->txn + m->txn_len > in + len)
			return mp_fail(err, errlen, "forward txn: empty");
		return true;
	case MANAGER_MSG_RESULT:
		return mp_get_uint(&f[1], 0, UINT64_MAX, &m->req, "result req", err, errlen) &&
		       get_status(&f[2], &m->status, err, errlen) &&
		       mp_get_uint(&f[3], 0, UINT64_MAX, &m->index, "result index", err, errlen) &&
		       mp_get_str(&f[4], m->message, sizeof(m->message), "result message", err, errlen);
	case MANAGER_MSG_JOIN:
		return mp_get_uint(&f[1], 1, UINT64_MAX, &m->raft_id, "join raft id", err, errlen);
	case MANAGER_MSG_ROLE: {
		uint64_t role;
		if (!mp_get_uint(&f[1], 0, 1, &role, "role", err, errlen))
			return false;
		m->role = (uint8_t)role;
		m->has_secrets = role == 1;
		if (!mp_get_bin_exact(&f[2], m->secrets, m->has_secrets ? MANAGER_MSG_SECRETS_LEN : 0, "role secrets",
				      err, errlen))
			return false;
		return true;
	}
	default:
		return true;
	}
}

int manager_msg_decode(const uint8_t *in, size_t len, struct manager_msg *m, char *err, size_t errlen)
{
	msgpack_zone zone;
	msgpack_object o;
	memset(m, 0, sizeof(*m));
	if (!msgpack_zone_init(&zone, 256))
		return -ENOMEM;
	bool ok = mp_unpack_exact(&zone, in, len, &o, "manager message", err, errlen) &&
		  mp_get_array_range(&o, 1, 16, "manager message", err, errlen) &&
		  decode_fields(&o, in, len, m, err, errlen);
	msgpack_zone_destroy(&zone);
	if (!ok) {
		memset(m, 0, sizeof(*m));
		return -EBADMSG;
	}
	return 0;
}
