/* swim_proto: the SWIM gossip wire format (msgpack), encoders with a byte budget and checked decoders. */
#include "swarmnode/swim_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mp_wire.h"

/* Deepest nesting any version-1 message needs is 4 (packet, msgs, msg, addr). */
#define SWIM_MP_MAX_DEPTH 8

/* Largest packet header: fixarray, version, str8 header + id, array16 header. */
#define PW_HEADER_MAX (1 + 1 + 2 + SWIM_ID_MAX + 3)

void swim_proto_limits_default(struct swim_proto_limits *lim)
{
	lim->max_meta = SWIM_META_DEFAULT_MAX;
	lim->max_members = 65536;
}

const char *swim_msg_type_str(uint8_t type)
{
	static const char *const names[] = {
		[SWIM_MSG_PING] = "ping",       [SWIM_MSG_ACK] = "ack",
		[SWIM_MSG_PING_REQ] = "ping-req", [SWIM_MSG_NACK] = "nack",
		[SWIM_MSG_ALIVE] = "alive",     [SWIM_MSG_SUSPECT] = "suspect",
		[SWIM_MSG_DEAD] = "dead",       [SWIM_MSG_LEFT] = "left",
	};
	if (type >= sizeof(names) / sizeof(names[0]) || names[type] == NULL)
		return "unknown";
	return names[type];
}

/* --- addresses and ids ---------------------------------------------------- */

static size_t addr_ip_len(uint8_t family)
{
	return family == SWIM_AF_INET4 ? 4 : family == SWIM_AF_INET6 ? 16 : 0;
}

bool swim_addr_equal(const struct swim_addr *a, const struct swim_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, addr_ip_len(a->family)) == 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int swim_addr_parse(const char *s, struct swim_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port;
	struct swim_addr a = {0};
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - s - 1);
		port = close + 2;
		a.family = SWIM_AF_INET6;
		s++;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		n = (size_t)(colon - s);
		port = colon + 1;
		a.family = SWIM_AF_INET4;
	}
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(a.family == SWIM_AF_INET4 ? AF_INET : AF_INET6, host, a.ip) != 1)
		return -EINVAL;
	if (parse_port(port, &a.port) != 0)
		return -EINVAL;
	*out = a;
	return 0;
}

const char *swim_addr_format(const struct swim_addr *addr, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	if (addr->family == SWIM_AF_INET4 && inet_ntop(AF_INET, addr->ip, host, sizeof(host)))
		snprintf(buf, len, "%s:%u", host, addr->port);
	else if (addr->family == SWIM_AF_INET6 && inet_ntop(AF_INET6, addr->ip, host, sizeof(host)))
		snprintf(buf, len, "[%s]:%u", host, addr->port);
	else
		snprintf(buf, len, "<no address>");
	return buf;
}

static bool id_bytes_valid(const char *p, size_t n)
{
	if (n == 0 || n > SWIM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return false;
	return true;
}

bool swim_id_valid(const char *id)
{
	return id_bytes_valid(id, strnlen(id, SWIM_ID_MAX + 1));
}

static bool addr_valid(const struct swim_addr *a)
{
	return addr_ip_len(a->family) != 0 && a->port != 0;
}

/* --- bounded buffer used as the msgpack write target ---------------------- */

static int buf_write(void *data, const char *p, size_t n)
{
	struct swim_buf *b = data;
	if (n > b->limit - b->len) {
		b->err = -ENOSPC;
		return -1;
	}
	if (b->len + n > b->cap) {
		/* a packet body is allocated once at its full budget */
		size_t cap = b->cap ? b->cap : b->limit <= 65536 ? b->limit : 4096;
		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->limit)
			cap = b->limit;
		uint8_t *grown = realloc(b->data, cap);
		if (grown == NULL) {
			b->err = -ENOMEM;
			return -1;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static void buf_free(struct swim_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Prepends hdr to the bytes of b and hands the result to the caller. */
static int buf_take_with_header(struct swim_buf *b, const uint8_t *hdr, size_t hlen,
				uint8_t **out, size_t *len)
{
	uint8_t *p = realloc(b->data, hlen + b->len);
	if (p == NULL)
		return -ENOMEM;
	memmove(p + hlen, p, b->len);
	memcpy(p, hdr, hlen);
	*out = p;
	*len = hlen + b->len;
	b->data = NULL;
	buf_free(b);
	return 0;
}

/* --- encoding --------------------------------------------------------------- */

static size_t mp_arr_hdr(size_t n)
{
	return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

static size_t mp_str_hdr(size_t n)
{
	return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/* Header bytes (version and sender) in front of the trailing array. */
static size_t header_base(const char *sender, size_t fixed)
{
	size_t n = strlen(sender);
	return fixed + mp_str_hdr(n) + n;
}

static size_t mp_uint_size(uint64_t v)
{
	return v < 128 ? 1 : v <= UINT8_MAX ? 2 : v <= UINT16_MAX ? 3 : v <= UINT32_MAX ? 5 : 9;
}

static size_t mp_bin_hdr(size_t n)
{
	return n <= UINT8_MAX ? 2 : n <= UINT16_MAX ? 3 : 5;
}

static size_t addr_size(const struct swim_addr *a)
{
	size_t ip = addr_ip_len(a->family);
	return 1 + 1 + mp_bin_hdr(ip) + ip + mp_uint_size(a->port);
}

static int pack_addr(msgpack_packer *pk, const struct swim_addr *a)
{
	if (msgpack_pack_array(pk, 3) != 0 || msgpack_pack_uint8(pk, a->family) != 0 ||
	    msgpack_pack_bin_with_body(pk, a->ip, addr_ip_len(a->family)) != 0)
		return -1;
	return msgpack_pack_uint16(pk, a->port);
}

static bool msg_valid(const struct swim_msg *m)
{
	switch (m->type) {
	case SWIM_MSG_PING:
		return swim_id_valid(m->id);
	case SWIM_MSG_ACK:
	case SWIM_MSG_NACK:
		return true;
	case SWIM_MSG_PING_REQ:
		return swim_id_valid(m->id) && addr_valid(&m->addr);
	case SWIM_MSG_ALIVE:
		return swim_id_valid(m->id) && addr_valid(&m->addr) &&
		       m->meta_len <= SWIM_META_HARD_MAX && (m->meta_len == 0 || m->meta != NULL);
	case SWIM_MSG_SUSPECT:
	case SWIM_MSG_DEAD:
		return swim_id_valid(m->id) && swim_id_valid(m->from);
	case SWIM_MSG_LEFT:
		return swim_id_valid(m->id);
	default:
		return false;
	}
}

static int pack_msg(msgpack_packer *pk, const struct swim_msg *m)
{
	int rc;
	switch (m->type) {
	case SWIM_MSG_PING:
		rc = msgpack_pack_array(pk, 3) || msgpack_pack_uint8(pk, m->type) ||
		     msgpack_pack_uint32(pk, m->seq) || mp_pack_str(pk, m->id);
		break;
	case SWIM_MSG_ACK:
	case SWIM_MSG_NACK:
		rc = msgpack_pack_array(pk, 2) || msgpack_pack_uint8(pk, m->type) ||
		     msgpack_pack_uint32(pk, m->seq);
		break;
	case SWIM_MSG_PING_REQ:
		rc = msgpack_pack_array(pk, 4) || msgpack_pack_uint8(pk, m->type) ||
		     msgpack_pack_uint32(pk, m->seq) || mp_pack_str(pk, m->id) ||
		     pack_addr(pk, &m->addr);
		break;
	case SWIM_MSG_ALIVE:
		rc = msgpack_pack_array(pk, 5) || msgpack_pack_uint8(pk, m->type) ||
		     mp_pack_str(pk, m->id) || msgpack_pack_uint64(pk, m->incarnation) ||
		     pack_addr(pk, &m->addr) ||
		     msgpack_pack_bin_with_body(pk, m->meta_len ? m->meta : (const uint8_t *)"", m->meta_len);
		break;
	case SWIM_MSG_SUSPECT:
	case SWIM_MSG_DEAD:
		rc = msgpack_pack_array(pk, 4) || msgpack_pack_uint8(pk, m->type) ||
		     mp_pack_str(pk, m->id) || msgpack_pack_uint64(pk, m->incarnation) ||
		     mp_pack_str(pk, m->from);
		break;
	default: /* SWIM_MSG_LEFT; msg_valid() ruled out the rest */
		rc = msgpack_pack_array(pk, 3) || msgpack_pack_uint8(pk, m->type) ||
		     mp_pack_str(pk, m->id) || msgpack_pack_uint64(pk, m->incarnation);
		break;
	}
	return rc ? -1 : 0;
}

static size_t id_size(size_t n)
{
	return mp_str_hdr(n) + n;
}

size_t swim_proto_update_size(uint8_t type, size_t id_len, uint64_t incarnation,
			      const struct swim_addr *addr, size_t meta_len, size_t from_len)
{
	size_t n = 1 + 1 + id_size(id_len) + mp_uint_size(incarnation); /* fixarray, type, id, inc */
	switch (type) {
	case SWIM_MSG_ALIVE:
		return n + addr_size(addr) + mp_bin_hdr(meta_len) + meta_len;
	case SWIM_MSG_SUSPECT:
	case SWIM_MSG_DEAD:
		return n + id_size(from_len);
	case SWIM_MSG_LEFT:
		return n;
	default:
		return 0;
	}
}

size_t swim_proto_msg_size(const struct swim_msg *m)
{
	size_t id = strnlen(m->id, SWIM_ID_MAX);
	switch (m->type) {
	case SWIM_MSG_PING:
		return 2 + mp_uint_size(m->seq) + id_size(id);
	case SWIM_MSG_ACK:
	case SWIM_MSG_NACK:
		return 2 + mp_uint_size(m->seq);
	case SWIM_MSG_PING_REQ:
		return 2 + mp_uint_size(m->seq) + id_size(id) + addr_size(&m->addr);
	default:
		return swim_proto_update_size(m->type, id, m->incarnation, &m->addr, m->meta_len,
					      strnlen(m->from, SWIM_ID_MAX));
	}
}

int swim_pw_init(struct swim_pw *w, const char *sender, size_t budget)
{
	memset(w, 0, sizeof(*w));
	if (!swim_id_valid(sender))
		return -EINVAL;
	w->header_base = header_base(sender, 2);
	/* The smallest message (an ack) takes 3 bytes. */
	if (budget < w->header_base + 1 + 3)
		return -EMSGSIZE;
	w->budget = budget;
	w->body.limit = budget - w->header_base - 1;
	snprintf(w->sender, sizeof(w->sender), "%s", sender);
	return 0;
}

size_t swim_pw_size(const struct swim_pw *w)
{
	return w->header_base + mp_arr_hdr(w->n_msgs) + w->body.len;
}

size_t swim_pw_room(const struct swim_pw *w)
{
	size_t used = w->header_base + mp_arr_hdr(w->n_msgs + 1) + w->body.len;
	return used >= w->budget ? 0 : w->budget - used;
}

int swim_pw_add(struct swim_pw *w, const struct swim_msg *m)
{
	if (!msg_valid(m))
		return -EINVAL;
	if (w->n_msgs >= SWIM_PROTO_MAX_MSGS)
		return -ENOSPC;
	size_t mark = w->body.len;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &w->body, buf_write);
	if (pack_msg(&pk, m) != 0) {
		w->body.len = mark;
		return w->body.err;
	}
	if (w->header_base + mp_arr_hdr(w->n_msgs + 1) + w->body.len > w->budget) {
		w->body.len = mark;
		return -ENOSPC;
	}
	w->n_msgs++;
	return 0;
}

void swim_pw_close(struct swim_pw *w)
{
	buf_free(&w->body);
	w->n_msgs = 0;
}

/* Writes a header: fixarray(nfields), version, sender, [flags], array(n). */
static size_t write_header(uint8_t *hdr, size_t nfields, const char *sender,
			   int flags, size_t n)
{
	size_t pos = 0, idlen = strlen(sender);
	hdr[pos++] = (uint8_t)(0x90 | nfields);
	hdr[pos++] = SWIM_PROTO_VERSION;
	if (idlen < 32) {
		hdr[pos++] = (uint8_t)(0xa0 | idlen);
	} else {
		hdr[pos++] = 0xd9;
		hdr[pos++] = (uint8_t)idlen;
	}
	memcpy(hdr + pos, sender, idlen);
	pos += idlen;
	if (flags >= 0)
		hdr[pos++] = (uint8_t)flags;
	if (n < 16) {
		hdr[pos++] = (uint8_t)(0x90 | n);
	} else if (n < 65536) {
		hdr[pos++] = 0xdc;
		hdr[pos++] = (uint8_t)(n >> 8);
		hdr[pos++] = (uint8_t)n;
	} else {
		hdr[pos++] = 0xdd;
		for (int shift = 24; shift >= 0; shift -= 8)
			hdr[pos++] = (uint8_t)(n >> shift);
	}
	return pos;
}

int swim_pw_finish(struct swim_pw *w, uint8_t **out, size_t *len)
{
	uint8_t hdr[PW_HEADER_MAX + 2];
	int rc = -ENODATA;
	if (w->n_msgs > 0) {
		size_t hlen = write_header(hdr, 3, w->sender, -1, w->n_msgs);
		rc = buf_take_with_header(&w->body, hdr, hlen, out, len);
	}
	swim_pw_close(w);
	return rc;
}

int swim_ppw_init(struct swim_ppw *w, const char *sender, uint8_t flags, size_t max_bytes)
{
	memset(w, 0, sizeof(*w));
	if (!swim_id_valid(sender) || !swim_pp_flags_valid(flags))
		return -EINVAL;
	size_t base = header_base(sender, 3);
	if (max_bytes < base + 1)
		return -EMSGSIZE;
	w->max_bytes = max_bytes;
	w->body.limit = max_bytes - base - 1;
	w->flags = flags;
	snprintf(w->sender, sizeof(w->sender), "%s", sender);
	return 0;
}

bool swim_pp_flags_valid(uint8_t flags)
{
	if ((flags & ~(SWIM_PP_RESPONSE | SWIM_PP_JOIN | SWIM_PP_DIGEST | SWIM_PP_SUMMARY)) != 0)
		return false;
	if (flags & (SWIM_PP_DIGEST | SWIM_PP_SUMMARY))
		return flags == SWIM_PP_DIGEST || flags == SWIM_PP_SUMMARY;
	return true;
}

static int pack_pp_member(msgpack_packer *pk, const struct swim_pp_member *m, bool digest)
{
	if (msgpack_pack_array(pk, digest ? 3 : 5) || mp_pack_str(pk, m->id) ||
	    msgpack_pack_uint64(pk, m->incarnation) || msgpack_pack_uint8(pk, m->state))
		return -1;
	if (digest)
		return 0;
	if (pack_addr(pk, &m->addr))
		return -1;
	return msgpack_pack_bin_with_body(pk, m->meta_len ? m->meta : (const uint8_t *)"",
					  m->meta_len);
}

int swim_ppw_add(struct swim_ppw *w, const struct swim_pp_member *m)
{
	bool digest = (w->flags & SWIM_PP_DIGEST) != 0;
	if ((w->flags & SWIM_PP_SUMMARY) || !swim_id_valid(m->id) || m->state > SWIM_LEFT ||
	    (!digest && (!addr_valid(&m->addr) || m->meta_len > SWIM_META_HARD_MAX ||
			 (m->meta_len > 0 && m->meta == NULL))))
		return -EINVAL;
	size_t mark = w->body.len;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &w->body, buf_write);
	if (pack_pp_member(&pk, m, digest) != 0) {
		w->body.len = mark;
		return w->body.err == -ENOSPC ? -EMSGSIZE : w->body.err;
	}
	if (header_base(w->sender, 3) + mp_arr_hdr(w->n + 1) + w->body.len > w->max_bytes) {
		w->body.len = mark;
		return -EMSGSIZE;
	}
	w->n++;
	return 0;
}

void swim_ppw_close(struct swim_ppw *w)
{
	buf_free(&w->body);
	w->n = 0;
}

int swim_ppw_finish(struct swim_ppw *w, uint8_t **out, size_t *len)
{
	uint8_t hdr[PW_HEADER_MAX + 8];
	bool summary = (w->flags & SWIM_PP_SUMMARY) != 0;
	if (summary) {
		/* After the empty members array: it is the last field. */
		msgpack_packer pk;
		msgpack_packer_init(&pk, &w->body, buf_write);
		w->body.limit = SIZE_MAX;
		if (msgpack_pack_bin_with_body(&pk, w->summary, sizeof(w->summary)) != 0) {
			int rc = w->body.err;
			swim_ppw_close(w);
			return rc;
		}
	}
	size_t hlen = write_header(hdr, summary ? 5 : 4, w->sender, w->flags, w->n);
	int rc = buf_take_with_header(&w->body, hdr, hlen, out, len);
	swim_ppw_close(w);
	return rc;
}

/* --- decoding: structural pre-scan ------------------------------------------ */

/* mp_scan (mp_wire.h says why it comes before msgpack-c) with this decoder's
 * nesting bound and wording, which its tests pin. */
static int scan_fail(const struct mp_fault *f, const uint8_t *buf, const char *what, char *err)
{
	switch (f->kind) {
	case MP_FAULT_BAD_TYPE:
		mp_fail(err, SWIM_PROTO_ERR_MAX, "%s: byte 0x%02x at %zu is not msgpack", what, buf[f->at],
			f->at);
		break;
	case MP_FAULT_TOO_MANY:
		mp_fail(err, SWIM_PROTO_ERR_MAX,
			"%s: truncated: container at byte %zu declares %" PRIu64 " elements but %zu bytes remain",
			what, f->at, f->count, f->left);
		break;
	case MP_FAULT_TOO_DEEP:
		mp_fail(err, SWIM_PROTO_ERR_MAX, "%s: nested deeper than %d at byte %zu", what,
			SWIM_MP_MAX_DEPTH, f->at);
		break;
	case MP_FAULT_TRAILING:
		mp_fail(err, SWIM_PROTO_ERR_MAX, "%s: %zu trailing bytes after the message", what, f->left);
		break;
	default: /* cut inside an object: where the missing bytes start */
		mp_fail(err, SWIM_PROTO_ERR_MAX, "%s: truncated at byte %zu", what, f->pos);
		break;
	}
	return -EBADMSG;
}

/* Runs the pre-scan and msgpack-c on buf. On success *root lives in zone,
 * which the caller destroys; on error there is nothing to destroy. */
static int mp_parse(const uint8_t *buf, size_t len, const char *what, msgpack_zone *zone,
		    msgpack_object *root, char *err)
{
	struct mp_fault f;
	if (!mp_scan(buf, len, SWIM_MP_MAX_DEPTH, &f))
		return scan_fail(&f, buf, what, err);
	if (!msgpack_zone_init(zone, MSGPACK_ZONE_CHUNK_SIZE)) {
		mp_fail(err, SWIM_PROTO_ERR_MAX, "%s: out of memory", what);
		return -ENOMEM;
	}
	int rc = mp_unpack_scanned(zone, buf, len, root, what, err, SWIM_PROTO_ERR_MAX);
	if (rc != 0)
		msgpack_zone_destroy(zone);
	return rc;
}

/* --- decoding: typed fields ------------------------------------------------- */

/* Where a field sits: list[idx].field.sub. It is only formatted when the
 * field is bad, so a good packet costs no string work. */
struct fpath {
	const char *list;  /* "msgs" or "members"; NULL at the top level */
	size_t idx;        /* index in list */
	const char *field; /* field name, or NULL for the list element itself */
	const char *sub;   /* subfield of an address, or NULL */
};

static struct fpath at(const struct fpath *base, const char *field)
{
	struct fpath p = *base;
	if (p.field == NULL)
		p.field = field;
	else
		p.sub = field;
	return p;
}

static size_t clamp_add(size_t used, int n)
{
	used += n > 0 ? (size_t)n : 0;
	return used < SWIM_PROTO_ERR_MAX ? used : SWIM_PROTO_ERR_MAX - 1;
}

static int bad(char *err, const struct fpath *p, const char *fmt, ...)
{
	if (err != NULL) {
		size_t n = 0;
		if (p->list != NULL)
			n = clamp_add(n, snprintf(err, SWIM_PROTO_ERR_MAX, "%s[%zu]", p->list, p->idx));
		if (p->field != NULL)
			n = clamp_add(n, snprintf(err + n, SWIM_PROTO_ERR_MAX - n, "%s%s",
						  p->list ? "." : "", p->field));
		if (p->sub != NULL)
			n = clamp_add(n, snprintf(err + n, SWIM_PROTO_ERR_MAX - n, ".%s", p->sub));
		n = clamp_add(n, snprintf(err + n, SWIM_PROTO_ERR_MAX - n, ": "));
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err + n, SWIM_PROTO_ERR_MAX - n, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static int want_type(const msgpack_object *o, msgpack_object_type t, const struct fpath *p, char *err)
{
	if (o->type != t)
		return bad(err, p, "expected %s, got %s", mp_type_name(t, true), mp_type_name(o->type, true));
	return 0;
}

static int want_uint(const msgpack_object *o, uint64_t max, uint64_t *v, const struct fpath *p, char *err)
{
	int rc = want_type(o, MSGPACK_OBJECT_POSITIVE_INTEGER, p, err);
	if (rc != 0)
		return rc;
	if (o->via.u64 > max)
		return bad(err, p, "%" PRIu64 " exceeds %" PRIu64, o->via.u64, max);
	*v = o->via.u64;
	return 0;
}

/* Checks that o is an array of exactly n elements. */
static int want_tuple(const msgpack_object *o, uint32_t n, const struct fpath *p, char *err)
{
	int rc = want_type(o, MSGPACK_OBJECT_ARRAY, p, err);
	if (rc != 0)
		return rc;
	if (o->via.array.size != n)
		return bad(err, p, "%" PRIu32 " elements, expected %" PRIu32, o->via.array.size, n);
	return 0;
}

static int want_id(const msgpack_object *o, char out[SWIM_ID_MAX + 1], const struct fpath *p, char *err)
{
	int rc = want_type(o, MSGPACK_OBJECT_STR, p, err);
	if (rc != 0)
		return rc;
	uint32_t n = o->via.str.size;
	if (n == 0)
		return bad(err, p, "empty id");
	if (n > SWIM_ID_MAX)
		return bad(err, p, "id of %" PRIu32 " bytes exceeds %d", n, SWIM_ID_MAX);
	if (!id_bytes_valid(o->via.str.ptr, n))
		return bad(err, p, "id has a byte outside printable ASCII");
	memcpy(out, o->via.str.ptr, n);
	out[n] = '\0';
	return 0;
}

static int want_meta(const msgpack_object *o, size_t max, const uint8_t **m, size_t *n,
		     const struct fpath *p, char *err)
{
	int rc = want_type(o, MSGPACK_OBJECT_BIN, p, err);
	if (rc != 0)
		return rc;
	if (o->via.bin.size > max)
		return bad(err, p, "%" PRIu32 " bytes exceeds the limit of %zu", o->via.bin.size, max);
	*m = o->via.bin.size ? (const uint8_t *)o->via.bin.ptr : NULL;
	*n = o->via.bin.size;
	return 0;
}

static int want_addr(const msgpack_object *o, struct swim_addr *a, const struct fpath *p, char *err)
{
	uint64_t v = 0;
	int rc = want_tuple(o, 3, p, err);
	if (rc != 0)
		return rc;
	const msgpack_object *f = o->via.array.ptr;
	memset(a, 0, sizeof(*a));

	struct fpath family = at(p, "family"), ip = at(p, "ip"), port = at(p, "port");
	if ((rc = want_uint(&f[0], 255, &v, &family, err)) != 0)
		return rc;
	if (v != SWIM_AF_INET4 && v != SWIM_AF_INET6)
		return bad(err, &family, "%" PRIu64 " is not 4 or 6", v);
	a->family = (uint8_t)v;

	if ((rc = want_type(&f[1], MSGPACK_OBJECT_BIN, &ip, err)) != 0)
		return rc;
	if (f[1].via.bin.size != addr_ip_len(a->family))
		return bad(err, &ip, "%" PRIu32 " bytes for IPv%u", f[1].via.bin.size, a->family);
	memcpy(a->ip, f[1].via.bin.ptr, f[1].via.bin.size);

	if ((rc = want_uint(&f[2], UINT16_MAX, &v, &port, err)) != 0)
		return rc;
	if (v == 0)
		return bad(err, &port, "zero");
	a->port = (uint16_t)v;
	return 0;
}

/* Element count each message type has on the wire. */
static uint32_t msg_arity(uint64_t type)
{
	static const uint8_t arity[] = {
		[SWIM_MSG_PING] = 3, [SWIM_MSG_ACK] = 2, [SWIM_MSG_PING_REQ] = 4,
		[SWIM_MSG_NACK] = 2, [SWIM_MSG_ALIVE] = 5, [SWIM_MSG_SUSPECT] = 4,
		[SWIM_MSG_DEAD] = 4, [SWIM_MSG_LEFT] = 3,
	};
	return type < sizeof(arity) ? arity[type] : 0;
}

static int want_seq(const msgpack_object *o, struct swim_msg *m, const struct fpath *p, char *err)
{
	uint64_t v = 0;
	struct fpath seq = at(p, "seq");
	int rc = want_uint(o, UINT32_MAX, &v, &seq, err);
	m->seq = (uint32_t)v;
	return rc;
}

/* Decodes the fields after the type; f points at element [1]. */
static int decode_msg_fields(const msgpack_object *f, struct swim_msg *m,
			     const struct swim_proto_limits *lim, const struct fpath *p, char *err)
{
	int rc;
	switch (m->type) {
	case SWIM_MSG_ACK:
	case SWIM_MSG_NACK:
		return want_seq(&f[0], m, p, err);
	case SWIM_MSG_PING:
	case SWIM_MSG_PING_REQ: {
		struct fpath target = at(p, "target"), taddr = at(p, "target_addr");
		if ((rc = want_seq(&f[0], m, p, err)) != 0 ||
		    (rc = want_id(&f[1], m->id, &target, err)) != 0)
			return rc;
		return m->type == SWIM_MSG_PING ? 0 : want_addr(&f[2], &m->addr, &taddr, err);
	}
	default:
		break;
	}
	/* alive, suspect, dead, left: id and incarnation first */
	struct fpath id = at(p, "id"), inc = at(p, "incarnation");
	if ((rc = want_id(&f[0], m->id, &id, err)) != 0 ||
	    (rc = want_uint(&f[1], UINT64_MAX, &m->incarnation, &inc, err)) != 0)
		return rc;
	if (m->type == SWIM_MSG_ALIVE) {
		struct fpath addr = at(p, "addr"), meta = at(p, "meta");
		if ((rc = want_addr(&f[2], &m->addr, &addr, err)) != 0)
			return rc;
		return want_meta(&f[3], lim->max_meta, &m->meta, &m->meta_len, &meta, err);
	}
	if (m->type == SWIM_MSG_SUSPECT || m->type == SWIM_MSG_DEAD) {
		struct fpath from = at(p, "from");
		return want_id(&f[2], m->from, &from, err);
	}
	return 0;
}

static int decode_msg(const msgpack_object *o, size_t idx, struct swim_msg *m,
		      const struct swim_proto_limits *lim, char *err)
{
	struct fpath p = {.list = "msgs", .idx = idx};
	struct fpath tp = at(&p, "type");
	uint64_t type = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = want_type(o, MSGPACK_OBJECT_ARRAY, &p, err)) != 0)
		return rc;
	if (o->via.array.size == 0)
		return bad(err, &p, "empty message");
	if ((rc = want_uint(&o->via.array.ptr[0], 255, &type, &tp, err)) != 0)
		return rc;
	if (msg_arity(type) == 0)
		return bad(err, &tp, "unknown message type %" PRIu64, type);
	m->type = (uint8_t)type;
	if ((rc = want_tuple(o, msg_arity(type), &p, err)) != 0)
		return rc;
	return decode_msg_fields(o->via.array.ptr + 1, m, lim, &p, err);
}

/* Checks the outer array and version of a packet or push-pull message. */
static int decode_envelope(const msgpack_object *root, uint32_t nfields, const char *what,
			   char sender[SWIM_ID_MAX + 1], char *err)
{
	struct fpath top = {.field = what}, ver = at(&top, "version"), snd = {.field = "sender"};
	uint64_t version;
	int rc = want_type(root, MSGPACK_OBJECT_ARRAY, &top, err);
	if (rc != 0)
		return rc;
	if (root->via.array.size == 0)
		return bad(err, &top, "empty array");
	if ((rc = want_uint(&root->via.array.ptr[0], UINT64_MAX, &version, &ver, err)) != 0)
		return rc;
	if (version != SWIM_PROTO_VERSION) {
		bad(err, &ver, "%" PRIu64 " is not supported (want %d)", version, SWIM_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	if ((rc = want_tuple(root, nfields, &top, err)) != 0)
		return rc;
	return want_id(&root->via.array.ptr[1], sender, &snd, err);
}

int swim_proto_decode_packet(const uint8_t *buf, size_t len,
			     const struct swim_proto_limits *lim,
			     struct swim_packet *out, char *err)
{
	const struct fpath mp = {.field = "msgs"};
	msgpack_zone zone;
	msgpack_object root;
	out->n_msgs = 0;
	int rc = mp_parse(buf, len, "packet", &zone, &root, err);
	if (rc != 0)
		return rc;
	if ((rc = decode_envelope(&root, 3, "packet", out->sender, err)) != 0)
		goto out_zone;
	const msgpack_object *msgs = &root.via.array.ptr[2];
	if ((rc = want_type(msgs, MSGPACK_OBJECT_ARRAY, &mp, err)) != 0)
		goto out_zone;
	if (msgs->via.array.size == 0 || msgs->via.array.size > SWIM_PROTO_MAX_MSGS) {
		rc = bad(err, &mp, "%" PRIu32 " messages, expected 1..%d", msgs->via.array.size,
			 SWIM_PROTO_MAX_MSGS);
		goto out_zone;
	}
	for (uint32_t i = 0; i < msgs->via.array.size; i++) {
		rc = decode_msg(&msgs->via.array.ptr[i], i, &out->msgs[i], lim, err);
		if (rc != 0)
			goto out_zone;
	}
	out->n_msgs = msgs->via.array.size;
out_zone:
	if (rc != 0)
		out->n_msgs = 0;
	msgpack_zone_destroy(&zone);
	return rc;
}

static int decode_pp_member(const msgpack_object *o, size_t idx, struct swim_pp_member *m,
			    const struct swim_proto_limits *lim, bool digest, char *err)
{
	struct fpath p = {.list = "members", .idx = idx};
	struct fpath id = at(&p, "id"), inc = at(&p, "incarnation"), st = at(&p, "state"),
		     addr = at(&p, "addr"), meta = at(&p, "meta");
	uint64_t v = 0;
	int rc;

	if ((rc = want_tuple(o, digest ? 3 : 5, &p, err)) != 0)
		return rc;
	const msgpack_object *f = o->via.array.ptr;
	memset(m, 0, sizeof(*m));
	if ((rc = want_id(&f[0], m->id, &id, err)) != 0 ||
	    (rc = want_uint(&f[1], UINT64_MAX, &m->incarnation, &inc, err)) != 0 ||
	    (rc = want_uint(&f[2], SWIM_LEFT, &v, &st, err)) != 0)
		return rc;
	m->state = (uint8_t)v;
	if (digest)
		return 0;
	if ((rc = want_addr(&f[3], &m->addr, &addr, err)) != 0 ||
	    (rc = want_meta(&f[4], lim->max_meta, &m->meta, &m->meta_len, &meta, err)) != 0)
		return rc;
	return 0;
}

static int decode_pp_members(const msgpack_object *arr, const struct swim_proto_limits *lim,
			     struct swim_pushpull *out, char *err)
{
	const struct fpath mp = {.field = "members"};
	int rc = want_type(arr, MSGPACK_OBJECT_ARRAY, &mp, err);
	if (rc != 0)
		return rc;
	uint32_t n = arr->via.array.size;
	if (n > lim->max_members)
		return bad(err, &mp, "%" PRIu32 " exceeds the limit of %zu", n, lim->max_members);
	if (n == 0)
		return 0;
	out->members = calloc(n, sizeof(*out->members));
	if (out->members == NULL) {
		mp_fail(err, SWIM_PROTO_ERR_MAX, "members: out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		rc = decode_pp_member(&arr->via.array.ptr[i], i, &out->members[i], lim,
				      (out->flags & SWIM_PP_DIGEST) != 0, err);
		if (rc != 0)
			return rc;
	}
	out->n_members = n;
	return 0;
}

/* The fingerprint of a summary request, whose members must be empty. */
static int decode_summary(const msgpack_object *root, struct swim_pushpull *out, char *err)
{
	const struct fpath sp = {.field = "summary"}, mp = {.field = "members"};
	if (root->via.array.size != 5)
		return bad(err, &sp, "missing (the summary flag needs a fifth field)");
	const msgpack_object *members = &root->via.array.ptr[3], *sum = &root->via.array.ptr[4];
	int rc = want_type(members, MSGPACK_OBJECT_ARRAY, &mp, err);
	if (rc != 0)
		return rc;
	if (members->via.array.size != 0)
		return bad(err, &mp, "%" PRIu32 " entries in a summary request, expected none",
			   members->via.array.size);
	if ((rc = want_type(sum, MSGPACK_OBJECT_BIN, &sp, err)) != 0)
		return rc;
	if (sum->via.bin.size != SWIM_PP_SUMMARY_LEN)
		return bad(err, &sp, "%" PRIu32 " bytes, expected %d", sum->via.bin.size, SWIM_PP_SUMMARY_LEN);
	memcpy(out->summary, sum->via.bin.ptr, SWIM_PP_SUMMARY_LEN);
	return 0;
}

int swim_proto_decode_pushpull(const uint8_t *buf, size_t len,
			       const struct swim_proto_limits *lim,
			       struct swim_pushpull *out, char *err)
{
	const struct fpath fp = {.field = "flags"};
	msgpack_zone zone;
	msgpack_object root;
	uint64_t flags = 0;
	memset(out, 0, sizeof(*out));
	int rc = mp_parse(buf, len, "pushpull", &zone, &root, err);
	if (rc != 0)
		return rc;
	/* A summary request has a fifth field; the flags say whether it must. */
	uint32_t nfields = root.type == MSGPACK_OBJECT_ARRAY && root.via.array.size == 5 ? 5 : 4;
	if ((rc = decode_envelope(&root, nfields, "pushpull", out->sender, err)) != 0)
		goto out_zone;
	if ((rc = want_uint(&root.via.array.ptr[2], 0xff, &flags, &fp, err)) != 0)
		goto out_zone;
	if (!swim_pp_flags_valid((uint8_t)flags)) {
		rc = bad(err, &fp, "0x%02" PRIx64 " is not a valid combination", flags);
		goto out_zone;
	}
	out->flags = (uint8_t)flags;
	if ((flags & SWIM_PP_SUMMARY) != 0 && (rc = decode_summary(&root, out, err)) != 0)
		goto out_zone;
	if ((flags & SWIM_PP_SUMMARY) == 0 && nfields != 4) {
		rc = bad(err, &(struct fpath){.field = "pushpull"}, "5 fields without the summary flag");
		goto out_zone;
	}
	rc = decode_pp_members(&root.via.array.ptr[3], lim, out, err);
out_zone:
	if (rc != 0)
		swim_proto_pushpull_free(out);
	msgpack_zone_destroy(&zone);
	return rc;
}

void swim_proto_pushpull_free(struct swim_pushpull *pp)
{
	free(pp->members);
	pp->members = NULL;
	pp->n_members = 0;
}
