/* mp_wire: bounds-checked msgpack reading and fixed-buffer writing for the core's codecs. */
#ifndef SWARMNODE_CORE_MP_WIRE_H
#define SWARMNODE_CORE_MP_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/ids.h"

/* Writes "printf-style message" into err (errlen bytes; err may be NULL) and
 * returns false, so that a decoder can `return mp_fail(err, errlen, ...)`. */
bool mp_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Walks the msgpack encoding in in[0..len) without allocating and checks that
 * it is exactly one well-formed object: every header and payload lies inside
 * the buffer, no reserved type byte appears, nesting is at most MP_MAX_DEPTH,
 * and no array or map claims more elements than there are bytes left.
 *
 * Why: msgpack-c's unpacker allocates count * sizeof(msgpack_object) as soon
 * as it reads an array or map header, before it knows whether the elements
 * exist, so the five bytes dd ff ff ff ff make it ask for 128 GiB. Checking the
 * counts against the remaining bytes first bounds the allocation by the
 * input's length. */
#define MP_MAX_DEPTH 16
bool mp_check(const uint8_t *in, size_t len, const char *what, char *err, size_t errlen);

/* mp_check, then unpacks the single object into obj; its memory lives in
 * zone, which the caller initialised and destroys. */
bool mp_unpack_exact(msgpack_zone *zone, const uint8_t *in, size_t len, msgpack_object *obj,
		     const char *what, char *err, size_t errlen);

/* Readers: each checks the type and bounds of one decoded object and names
 * the field (what) in the error message when it is wrong. */
bool mp_get_array(const msgpack_object *o, uint32_t n, const char *what, char *err, size_t errlen);
bool mp_get_array_range(const msgpack_object *o, uint32_t min, uint32_t max, const char *what,
			char *err, size_t errlen);
bool mp_get_uint(const msgpack_object *o, uint64_t min, uint64_t max, uint64_t *out,
		 const char *what, char *err, size_t errlen);
bool mp_get_bin_exact(const msgpack_object *o, uint8_t *out, size_t n, const char *what,
		      char *err, size_t errlen);
/* A bin of at most max bytes; *p points into the zone. */
bool mp_get_bin(const msgpack_object *o, size_t max, const uint8_t **p, size_t *n,
		const char *what, char *err, size_t errlen);
/* A str holding a Docker-format id (IDS_LEN characters of [0-9a-z]). */
bool mp_get_id(const msgpack_object *o, char out[IDS_LEN + 1], const char *what, char *err,
	       size_t errlen);

/* A str of printable ASCII (0x20..0x7e) and at most cap - 1 bytes, copied
 * NUL-terminated into out. */
bool mp_get_str(const msgpack_object *o, char *out, size_t cap, const char *what, char *err,
		size_t errlen);

/* Packs a NUL-terminated string. */
void mp_pack_str(msgpack_packer *pk, const char *s);

/* A msgpack writer into a caller-owned fixed buffer. Writes past cap are
 * dropped and remembered in overflow, so encoders check once at the end. */
struct mp_buf {
	uint8_t *data;   /* caller-owned output buffer */
	size_t cap;      /* its size in bytes */
	size_t len;      /* bytes written so far */
	bool overflow;   /* a write did not fit */
};

/* Points b at data[0..cap) and pk at b. */
void mp_buf_init(struct mp_buf *b, msgpack_packer *pk, uint8_t *data, size_t cap);

#endif
