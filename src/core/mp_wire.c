/* mp_wire: bounds-checked msgpack reading and fixed-buffer writing for the core's codecs. */
#include "mp_wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool mp_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Reads a big-endian unsigned integer of n bytes (n <= 8). */
static uint64_t be_read(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The fixed header size of a type byte, and for the variable types the width
 * of the length (lenw) or count (countw, with maps counting two per entry). */
struct mp_type_info {
	size_t head;    /* bytes of the header, type byte included, not counting a length field */
	size_t lenw;    /* width of a payload length field (str, bin, ext), else 0 */
	size_t fixed;   /* payload bytes for fixed-size types */
	size_t countw;  /* width of an element count field (array, map), else 0 */
	int per;        /* objects per counted element: 1 for arrays, 2 for maps */
};

static bool mp_type(uint8_t b, struct mp_type_info *t)
{
	memset(t, 0, sizeof(*t));
	t->head = 1;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return true;
	if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
		/* fixmap / fixarray: the count is in the type byte, handled by the caller */
		t->per = (b & 0xf0) == 0x80 ? 2 : 1;
		return true;
	}
	if ((b & 0xe0) == 0xa0) {
		t->fixed = b & 0x1f;
		return true;
	}
	switch (b) {
	case 0xc4: case 0xd9: t->lenw = 1; return true;
	case 0xc5: case 0xda: t->lenw = 2; return true;
	case 0xc6: case 0xdb: t->lenw = 4; return true;
	case 0xc7: t->lenw = 1; t->fixed = 1; return true; /* ext8: len, type, data */
	case 0xc8: t->lenw = 2; t->fixed = 1; return true;
	case 0xc9: t->lenw = 4; t->fixed = 1; return true;
	case 0xca: t->fixed = 4; return true;
	case 0xcb: t->fixed = 8; return true;
	case 0xcc: case 0xd0: t->fixed = 1; return true;
	case 0xcd: case 0xd1: t->fixed = 2; return true;
	case 0xce: case 0xd2: t->fixed = 4; return true;
	case 0xcf: case 0xd3: t->fixed = 8; return true;
	case 0xd4: t->fixed = 2; return true;
	case 0xd5: t->fixed = 3; return true;
	case 0xd6: t->fixed = 5; return true;
	case 0xd7: t->fixed = 9; return true;
	case 0xd8: t->fixed = 17; return true;
	case 0xdc: t->countw = 2; t->per = 1; return true;
	case 0xdd: t->countw = 4; t->per = 1; return true;
	case 0xde: t->countw = 2; t->per = 2; return true;
	case 0xdf: t->countw = 4; t->per = 2; return true;
	default: return false; /* 0xc1 is reserved */
	}
}

static bool fault(struct mp_fault *f, enum mp_fault_kind kind)
{
	f->kind = kind;
	return false;
}

bool mp_scan(const uint8_t *in, size_t len, int max_depth, struct mp_fault *f)
{
	/* pending[d] is how many objects the container open at depth d still owes. */
	uint64_t pending[MP_MAX_DEPTH + 1];
	int depth = 0;
	size_t pos = 0;
	pending[0] = 1;
	memset(f, 0, sizeof(*f));
	if (max_depth > MP_MAX_DEPTH)
		max_depth = MP_MAX_DEPTH;
	while (depth >= 0) {
		if (pending[depth] == 0) {
			depth--;
			continue;
		}
		pending[depth]--;
		f->at = f->pos = pos;
		if (pos >= len)
			return fault(f, MP_FAULT_TRUNCATED);
		uint8_t b = in[pos];
		struct mp_type_info t;
		if (!mp_type(b, &t))
			return fault(f, MP_FAULT_BAD_TYPE);
		pos += t.head;
		f->pos = pos;
		uint64_t body = t.fixed, count = 0;
		if (t.lenw > 0) {
			if (len - pos < t.lenw)
				return fault(f, MP_FAULT_TRUNCATED_LENGTH);
			body += be_read(in + pos, t.lenw);
			pos += t.lenw;
		}
		if (t.per > 0) {
			if (t.countw > 0) {
				if (len - pos < t.countw)
					return fault(f, MP_FAULT_TRUNCATED_COUNT);
				count = be_read(in + pos, t.countw);
				pos += t.countw;
			} else {
				count = b & 0x0f;
			}
			count *= (uint64_t)t.per;
		}
		f->pos = pos;
		if (body > len - pos)
			return fault(f, MP_FAULT_PAST_END);
		pos += (size_t)body;
		if (count > 0) {
			/* Every element takes at least one byte. */
			if (count > len - pos) {
				f->count = count;
				f->left = len - pos;
				return fault(f, MP_FAULT_TOO_MANY);
			}
			if (depth == max_depth)
				return fault(f, MP_FAULT_TOO_DEEP);
			pending[++depth] = count;
		}
	}
	f->pos = pos;
	f->left = len - pos;
	if (pos != len)
		return fault(f, MP_FAULT_TRAILING);
	return true;
}

bool mp_check(const uint8_t *in, size_t len, const char *what, char *err, size_t errlen)
{
	struct mp_fault f;
	if (mp_scan(in, len, MP_MAX_DEPTH, &f))
		return true;
	switch (f.kind) {
	case MP_FAULT_TRUNCATED:
		return mp_fail(err, errlen, "%s: truncated at byte %zu", what, f.pos);
	case MP_FAULT_BAD_TYPE:
		return mp_fail(err, errlen, "%s: invalid type byte 0x%02x at byte %zu", what, in[f.at], f.at);
	case MP_FAULT_TRUNCATED_LENGTH:
		return mp_fail(err, errlen, "%s: truncated length at byte %zu", what, f.at);
	case MP_FAULT_TRUNCATED_COUNT:
		return mp_fail(err, errlen, "%s: truncated count at byte %zu", what, f.at);
	case MP_FAULT_PAST_END:
		return mp_fail(err, errlen, "%s: object at byte %zu runs past the end", what, f.at);
	case MP_FAULT_TOO_MANY:
		return mp_fail(err, errlen, "%s: container at byte %zu claims %llu elements, only %zu bytes left",
			       what, f.at, (unsigned long long)f.count, f.left);
	case MP_FAULT_TOO_DEEP:
		return mp_fail(err, errlen, "%s: nested deeper than %d at byte %zu", what, MP_MAX_DEPTH, f.at);
	case MP_FAULT_TRAILING:
		break;
	}
	return mp_fail(err, errlen, "%s: %zu trailing bytes after the message", what, f.left);
}

int mp_unpack_scanned(msgpack_zone *zone, const uint8_t *in, size_t len, msgpack_object *obj,
		      const char *what, char *err, size_t errlen)
{
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack((const char *)in, len, &off, zone, obj);
	if (r == MSGPACK_UNPACK_SUCCESS && off == len)
		return 0;
	if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
		mp_fail(err, errlen, "%s: out of memory", what);
		return -ENOMEM;
	}
	mp_fail(err, errlen, "%s: not valid msgpack", what);
	return -EBADMSG;
}

bool mp_unpack_exact(msgpack_zone *zone, const uint8_t *in, size_t len, msgpack_object *obj,
		     const char *what, char *err, size_t errlen)
{
	return mp_check(in, len, what, err, errlen) &&
	       mp_unpack_scanned(zone, in, len, obj, what, err, errlen) == 0;
}

const char *mp_type_name(msgpack_object_type t, bool abbrev)
{
	static const char *const names[][2] = {
		[MSGPACK_OBJECT_NIL] = {"nil", "nil"},
		[MSGPACK_OBJECT_BOOLEAN] = {"boolean", "bool"},
		[MSGPACK_OBJECT_POSITIVE_INTEGER] = {"unsigned integer", "uint"},
		[MSGPACK_OBJECT_NEGATIVE_INTEGER] = {"negative integer", "negative int"},
		[MSGPACK_OBJECT_FLOAT32] = {"float", "float32"},
		[MSGPACK_OBJECT_FLOAT64] = {"float", "float64"},
		[MSGPACK_OBJECT_STR] = {"string", "str"},
		[MSGPACK_OBJECT_ARRAY] = {"array", "array"},
		[MSGPACK_OBJECT_MAP] = {"map", "map"},
		[MSGPACK_OBJECT_BIN] = {"binary", "bin"},
		[MSGPACK_OBJECT_EXT] = {"extension", "ext"},
	};
	if ((size_t)t >= sizeof(names) / sizeof(names[0]) || names[t][0] == NULL)
		return abbrev ? "ext" : "unknown";
	return names[t][abbrev];
}

bool mp_get_array(const msgpack_object *o, uint32_t n, const char *what, char *err, size_t errlen)
{
	return mp_get_array_range(o, n, n, what, err, errlen);
}

bool mp_get_array_range(const msgpack_object *o, uint32_t min, uint32_t max, const char *what,
			char *err, size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return mp_fail(err, errlen, "%s: expected an array, got %s", what, mp_type_name(o->type, false));
	uint32_t n = o->via.array.size;
	if (n < min || n > max) {
		if (min == max)
			return mp_fail(err, errlen, "%s: expected %u elements, got %u", what, min, n);
		return mp_fail(err, errlen, "%s: expected %u to %u elements, got %u", what, min, max, n);
	}
	return true;
}

bool mp_get_uint(const msgpack_object *o, uint64_t min, uint64_t max, uint64_t *out,
		 const char *what, char *err, size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return mp_fail(err, errlen, "%s: expected an unsigned integer, got %s", what,
			       mp_type_name(o->type, false));
	uint64_t v = o->via.u64;
	if (v < min || v > max)
		return mp_fail(err, errlen, "%s: %llu out of range [%llu, %llu]", what,
			       (unsigned long long)v, (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return true;
}

bool mp_get_bin_exact(const msgpack_object *o, uint8_t *out, size_t n, const char *what,
		      char *err, size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return mp_fail(err, errlen, "%s: expected binary, got %s", what, mp_type_name(o->type, false));
	if (o->via.bin.size != n)
		return mp_fail(err, errlen, "%s: expected %zu bytes, got %u", what, n, o->via.bin.size);
	if (n > 0) /* an empty bin's pointer may be NULL */
		memcpy(out, o->via.bin.ptr, n);
	return true;
}

bool mp_get_bin(const msgpack_object *o, size_t max, const uint8_t **p, size_t *n,
		const char *what, char *err, size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return mp_fail(err, errlen, "%s: expected binary, got %s", what, mp_type_name(o->type, false));
	if (o->via.bin.size > max)
		return mp_fail(err, errlen, "%s: %u bytes, at most %zu allowed", what, o->via.bin.size, max);
	*p = (const uint8_t *)o->via.bin.ptr;
	*n = o->via.bin.size;
	return true;
}

bool mp_get_id(const msgpack_object *o, char out[IDS_LEN + 1], const char *what, char *err,
	       size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return mp_fail(err, errlen, "%s: expected a string, got %s", what, mp_type_name(o->type, false));
	if (o->via.str.size != IDS_LEN)
		return mp_fail(err, errlen, "%s: expected %d characters, got %u", what, IDS_LEN,
			       o->via.str.size);
	memcpy(out, o->via.str.ptr, IDS_LEN);
	out[IDS_LEN] = '\0';
	if (!ids_valid(out))
		return mp_fail(err, errlen, "%s: not a base-36 id", what);
	return true;
}

bool mp_get_str(const msgpack_object *o, char *out, size_t cap, const char *what, char *err,
		size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return mp_fail(err, errlen, "%s: expected a string, got %s", what, mp_type_name(o->type, false));
	if (o->via.str.size >= cap)
		return mp_fail(err, errlen, "%s: %u bytes exceeds the limit of %zu", what, o->via.str.size,
			       cap - 1);
	for (uint32_t i = 0; i < o->via.str.size; i++)
		if (o->via.str.ptr[i] < 0x20 || o->via.str.ptr[i] > 0x7e)
			return mp_fail(err, errlen, "%s: byte %u is not printable ASCII", what, i);
	if (o->via.str.size > 0) /* msgpack-c gives an empty str a NULL pointer */
		memcpy(out, o->via.str.ptr, o->via.str.size);
	out[o->via.str.size] = '\0';
	return true;
}

int mp_pack_str(msgpack_packer *pk, const char *s)
{
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* msgpack_packer write callback: appends to the fixed buffer or marks overflow. */
static int mp_buf_write(void *data, const char *buf, size_t len)
{
	struct mp_buf *b = data;
	if (len == 0)
		return b->overflow ? -1 : 0; /* buf may be NULL: an empty bin or str */
	if (b->overflow || len > b->cap - b->len) {
		b->overflow = true;
		return -1;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return 0;
}

void mp_buf_init(struct mp_buf *b, msgpack_packer *pk, uint8_t *data, size_t cap)
{
	b->data = data;
	b->cap = cap;
	b->len = 0;
	b->overflow = false;
	msgpack_packer_init(pk, b, mp_buf_write);
}
