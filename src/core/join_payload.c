/* join_payload: what a manager hands a new node in the join handshake's WELCOME. */
#include "swarmnode/join_payload.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "mp_wire.h"

int join_payload_encode(const struct join_payload *p, uint8_t *out, size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint8(&pk, JOIN_PAYLOAD_VERSION);
	msgpack_pack_bin(&pk, p->keyring_len);
	msgpack_pack_bin_body(&pk, p->keyring, p->keyring_len);
	msgpack_pack_array(&pk, p->nseeds);
	for (size_t i = 0; i < p->nseeds; i++)
		mp_pack_str(&pk, p->seeds[i]);
	msgpack_pack_uint64(&pk, p->cluster_created_at_ms);
	if (p->has_manager) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_bin(&pk, sizeof(p->root_seed));
		msgpack_pack_bin_body(&pk, p->root_seed, sizeof(p->root_seed));
		msgpack_pack_bin(&pk, sizeof(p->worker_secret));
		msgpack_pack_bin_body(&pk, p->worker_secret, sizeof(p->worker_secret));
		msgpack_pack_bin(&pk, sizeof(p->manager_secret));
		msgpack_pack_bin_body(&pk, p->manager_secret, sizeof(p->manager_secret));
	} else {
		msgpack_pack_nil(&pk);
	}
	if (b.overflow)
		return -EMSGSIZE;
	*len = b.len;
	return 0;
}

static bool decode_seeds(const msgpack_object *o, struct join_payload *p, char *err, size_t errlen)
{
	if (!mp_get_array_range(o, 0, JOIN_PAYLOAD_MAX_SEEDS, "payload.seeds", err, errlen))
		return false;
	p->nseeds = o->via.array.size;
	for (size_t i = 0; i < p->nseeds; i++)
		if (!mp_get_str(&o->via.array.ptr[i], p->seeds[i], JOIN_PAYLOAD_ADDR_MAX, "payload.seeds[]", err,
				errlen))
			return false;
	return true;
}

static bool decode_manager(const msgpack_object *o, struct join_payload *p, char *err, size_t errlen)
{
	p->has_manager = o->type != MSGPACK_OBJECT_NIL;
	if (!p->has_manager)
		return true;
	if (!mp_get_array(o, 3, "payload.manager", err, errlen))
		return false;
	const msgpack_object *f = o->via.array.ptr;
	return mp_get_bin_exact(&f[0], p->root_seed, sizeof(p->root_seed), "payload.manager.root_seed", err,
				errlen) &&
	       mp_get_bin_exact(&f[1], p->worker_secret, sizeof(p->worker_secret),
				"payload.manager.worker_secret", err, errlen) &&
	       mp_get_bin_exact(&f[2], p->manager_secret, sizeof(p->manager_secret),
				"payload.manager.manager_secret", err, errlen);
}

static bool decode_fields(const msgpack_object *o, struct join_payload *p, char *err, size_t errlen)
{
	const msgpack_object *f = o->via.array.ptr;
	const uint8_t *kr;
	uint64_t version;
	if (!mp_get_uint(&f[0], JOIN_PAYLOAD_VERSION, JOIN_PAYLOAD_VERSION, &version, "payload.version", err,
			 errlen) ||
	    !mp_get_bin(&f[1], sizeof(p->keyring), &kr, &p->keyring_len, "payload.keyring", err, errlen) ||
	    !decode_seeds(&f[2], p, err, errlen) ||
	    !mp_get_uint(&f[3], 0, UINT64_MAX, &p->cluster_created_at_ms, "payload.cluster_created_at", err,
			 errlen) ||
	    !decode_manager(&f[4], p, err, errlen))
		return false;
	memcpy(p->keyring, kr, p->keyring_len);
	return true;
}

int join_payload_decode(const uint8_t *in, size_t len, struct join_payload *out, char *err, size_t errlen)
{
	msgpack_zone zone;
	msgpack_object obj;
	int rc = -EBADMSG;
	memset(out, 0, sizeof(*out));
	msgpack_zone_init(&zone, 1024);
	if (mp_unpack_exact(&zone, in, len, &obj, "payload", err, errlen) &&
	    mp_get_array(&obj, 5, "payload", err, errlen) && decode_fields(&obj, out, err, errlen))
		rc = 0;
	msgpack_zone_destroy(&zone);
	if (rc != 0)
		sodium_memzero(out, sizeof(*out));
	return rc;
}
