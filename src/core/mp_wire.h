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

/* Deepest nesting mp_scan can follow, and the bound mp_check uses. */
#define MP_MAX_DEPTH 16

/* What mp_scan found wrong, with the offsets a message needs. Decoders word
 * it themselves: mp_check() one way, swim_proto another. */
enum mp_fault_kind {
	MP_FAULT_TRUNCATED,        /* an object should start at pos, but the input ends there */
	MP_FAULT_BAD_TYPE,         /* the type byte at at is reserved (0xc1) */
	MP_FAULT_TRUNCATED_LENGTH, /* the length field of the str, bin or ext at at is cut at pos */
	MP_FAULT_TRUNCATED_COUNT,  /* the count field of the array or map at at is cut at pos */
	MP_FAULT_PAST_END,         /* the payload of the object at at, from pos, runs past the end */
	MP_FAULT_TOO_MANY,         /* the container at at claims count objects, only left bytes follow */
	MP_FAULT_TOO_DEEP,         /* the container at at would nest deeper than the limit */
	MP_FAULT_TRAILING,         /* left bytes follow the object */
};

struct mp_fault {
	enum mp_fault_kind kind; /* what is wrong */
	size_t at;               /* offset of the offending object's type byte */
	size_t pos;              /* offset where reading stopped */
	uint64_t count;          /* MP_FAULT_TOO_MANY: objects claimed, two per map entry */
	size_t left;             /* MP_FAULT_TOO_MANY, MP_FAULT_TRAILING: bytes left */
};

/* Walks the msgpack encoding in in[0..len) without allocating and checks that
 * it is exactly one well-formed object: every header and payload lies inside
 * the buffer, no reserved type byte appears, containers nest at most
 * max_depth (<= MP_MAX_DEPTH) deep, and no array or map claims more elements
 * than there are bytes left. Returns true, or false with *f filled.
 *
 * Why: msgpack-c's unpacker allocates count * sizeof(msgpack_object) as soon
 * as it reads an array or map header, before it knows whether the elements
 * exist, so the five bytes dd ff ff ff ff make it ask for 128 GiB. Checking the
 * counts against the remaining bytes first bounds the allocation by the
 * input's length. */
bool mp_scan(const uint8_t *in, size_t len, int max_depth, struct mp_fault *f);

/* mp_scan to MP_MAX_DEPTH, with the fault written into err as "what: why". */
bool mp_check(const uint8_t *in, size_t len, const char *what, char *err, size_t errlen);

/* Unpacks in[0..len), which mp_scan accepted, into obj; its memory lives in
 * zone, which the caller initialised and destroys. Returns 0, -ENOMEM or
 * -EBADMSG with "what: out of memory" or "what: not valid msgpack" in err. */
int mp_unpack_scanned(msgpack_zone *zone, const uint8_t *in, size_t len, msgpack_object *obj,
		      const char *what, char *err, size_t errlen);

/* mp_check, then mp_unpack_scanned. */
bool mp_unpack_exact(msgpack_zone *zone, const uint8_t *in, size_t len, msgpack_object *obj,
		     const char *what, char *err, size_t errlen);

/* The name of a decoded object's type for error messages, in two spellings:
 * "unsigned integer", "string", "binary" for the codecs that say "expected an
 * unsigned integer, got string", and, with abbrev, "uint", "str", "bin" for
 * swim_proto, which says "expected uint, got str". */
const char *mp_type_name(msgpack_object_type t, bool abbrev);

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

/* Packs a NUL-terminated string; returns msgpack-c's result (0 or -1). */
int mp_pack_str(msgpack_packer *pk, const char *s);

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
