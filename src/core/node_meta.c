/* node_meta: what each node tells the cluster about itself, carried as its gossip metadata. */
#include "swarmnode/node_meta.h"

#include <errno.h>
#include <string.h>

#include "mp_wire.h"

/* Fields written; decoders accept the 11 of the first release and more. */
#define NODE_META_FIELDS 12
#define NODE_META_MIN_FIELDS 11

int node_meta_encode(const struct node_meta *m, uint8_t *out, size_t cap, size_t *len)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, out, cap);
	msgpack_pack_array(&pk, NODE_META_FIELDS);
	msgpack_pack_uint8(&pk, NODE_META_VERSION);
	msgpack_pack_uint8(&pk, m->role);
	msgpack_pack_uint8(&pk, m->availability);
	mp_pack_str(&pk, m->hostname);
	mp_pack_str(&pk, m->cluster_addr);
	mp_pack_str(&pk, m->engine_version);
	mp_pack_str(&pk, m->os);
	mp_pack_str(&pk, m->arch);
	msgpack_pack_uint32(&pk, m->ncpu);
	msgpack_pack_uint64(&pk, m->memory);
	msgpack_pack_uint64(&pk, m->created_at_ms);
	msgpack_pack_array(&pk, m->nlabels);
	for (size_t i = 0; i < m->nlabels && i < NODE_META_MAX_LABELS; i++)
		mp_pack_str(&pk, m->labels[i]);
	if (b.overflow || m->nlabels > NODE_META_MAX_LABELS)
		return -EMSGSIZE;
	*len = b.len;
	return 0;
}

static bool node_meta_fields(const msgpack_object *a, struct node_meta *m, char *err, size_t errlen)
{
	const msgpack_object *f = a->via.array.ptr;
	uint64_t version, role, avail, ncpu;
	if (!mp_get_uint(&f[0], NODE_META_VERSION, NODE_META_VERSION, &version, "meta.version", err, errlen) ||
	    !mp_get_uint(&f[1], 0, 1, &role, "meta.role", err, errlen) ||
	    !mp_get_uint(&f[2], 0, 2, &avail, "meta.availability", err, errlen) ||
	    !mp_get_str(&f[3], m->hostname, sizeof(m->hostname), "meta.hostname", err, errlen) ||
	    !mp_get_str(&f[4], m->cluster_addr, sizeof(m->cluster_addr), "meta.cluster_addr", err, errlen) ||
	    !mp_get_str(&f[5], m->engine_version, sizeof(m->engine_version), "meta.engine_version", err,
			errlen) ||
	    !mp_get_str(&f[6], m->os, sizeof(m->os), "meta.os", err, errlen) ||
	    !mp_get_str(&f[7], m->arch, sizeof(m->arch), "meta.arch", err, errlen) ||
	    !mp_get_uint(&f[8], 0, UINT32_MAX, &ncpu, "meta.ncpu", err, errlen) ||
	    !mp_get_uint(&f[9], 0, UINT64_MAX, &m->memory, "meta.memory", err, errlen) ||
	    !mp_get_uint(&f[10], 0, UINT64_MAX, &m->created_at_ms, "meta.created_at", err, errlen))
		return false;
	if (a->via.array.size > 11) {
		const msgpack_object *l = &f[11];
		if (!mp_get_array_range(l, 0, NODE_META_MAX_LABELS, "meta.labels", err, errlen))
			return false;
		for (uint32_t i = 0; i < l->via.array.size; i++)
			if (!mp_get_str(&l->via.array.ptr[i], m->labels[i], sizeof(m->labels[i]), "meta.labels[]", err,
					errlen))
				return false;
		m->nlabels = l->via.array.size;
	}
	m->role = (uint8_t)role;
	m->availability = (uint8_t)avail;
	m->ncpu = (uint32_t)ncpu;
	return true;
}

int node_meta_decode(const uint8_t *in, size_t len, struct node_meta *out, char *err, size_t errlen)
{
	msgpack_zone zone;
	msgpack_object obj;
	struct node_meta m;
	int rc = -EBADMSG;
	memset(&m, 0, sizeof(m));
	msgpack_zone_init(&zone, 512);
	if (mp_unpack_exact(&zone, in, len, &obj, "meta", err, errlen) &&
	    mp_get_array_range(&obj, NODE_META_MIN_FIELDS, 64, "meta", err, errlen) &&
	    node_meta_fields(&obj, &m, err, errlen)) {
		*out = m;
		rc = 0;
	}
	msgpack_zone_destroy(&zone);
	return rc;
}

const char *node_role_name(uint8_t role)
{
	return role == NODE_ROLE_MANAGER ? "manager" : "worker";
}

const char *node_availability_name(uint8_t availability)
{
	switch (availability) {
	case NODE_AVAILABILITY_PAUSE: return "pause";
	case NODE_AVAILABILITY_DRAIN: return "drain";
	default: return "active";
	}
}
