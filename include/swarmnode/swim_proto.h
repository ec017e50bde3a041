/* swim_proto: the SWIM gossip wire format (msgpack), encoders with a byte budget and checked decoders. */
#ifndef SWARMNODE_SWIM_PROTO_H
#define SWARMNODE_SWIM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Wire format, version 1. Every value is msgpack; "u" is a non-negative msgpack
 * integer, "str" a msgpack str, "bin" a msgpack bin. Arrays are positional, so a
 * field is named by its index in the error strings of the decoders.
 *
 * UDP packet (the plaintext inside the shell's AEAD envelope). Every packet is a
 * compound packet: one or more messages behind one header.
 *
 *   +--------------------------------------------------------------------+
 *   | array(3)                                                           |
 *   |  [0] version  u       == SWIM_PROTO_VERSION                        |
 *   |  [1] sender   str     1..SWIM_ID_MAX printable bytes, sender's id  |
 *   |  [2] msgs     array   1..SWIM_PROTO_MAX_MSGS of msg                |
 *   +--------------------------------------------------------------------+
 *
 *   msg is an array whose first element is its type:
 *
 *   type        [0]  [1]          [2]             [3]              [4]
 *   ping         1   seq u32      target str
 *   ack          2   seq u32
 *   ping-req     3   seq u32      target str      target addr
 *   nack         4   seq u32
 *   alive        5   id str       incarnation u64 addr             meta bin(0..max_meta)
 *   suspect      6   id str       incarnation u64 from str
 *   dead         7   id str       incarnation u64 from str
 *   left         8   id str       incarnation u64
 *
 *   addr := array(3) [ family u (4 or 6), ip bin (4 or 16 bytes, network
 *           order, matching the family), port u16 (1..65535) ]
 *
 * TCP push-pull message (request or response; the shell frames it):
 *
 *   +--------------------------------------------------------------------+
 *   | array(4), or array(5) with the summary bit                         |
 *   |  [0] version  u       == SWIM_PROTO_VERSION                        |
 *   |  [1] sender   str     sender's id                                  |
 *   |  [2] flags    u8      bit 0 response, bit 1 join, bit 2 digest,    |
 *   |                       bit 3 summary; others zero; digest and       |
 *   |                       summary only alone (a plain request)         |
 *   |  [3] members  array   0..max_members of member (digest: of digest; |
 *   |                       summary: empty)                              |
 *   |  [4] summary  bin(16) only with the summary bit                    |
 *   +--------------------------------------------------------------------+
 *
 *   member := array(5) [ id str, incarnation u64, state u (0 alive,
 *             1 suspect, 2 dead, 3 left), addr, meta bin(0..max_meta) ]
 *   digest := array(3) [ id str, incarnation u64, state u ]
 *
 * A digest request (the periodic sync) lists what the sender knows without
 * addresses or metadata; the response carries full members, only those the
 * responder knows newer (higher incarnation, or the same with a later state
 * in the order alive < suspect < dead < left) or that the request lacks.
 * A summary request (the periodic sync) carries only a 16-byte fingerprint
 * of the sender's whole view; the response is empty, and a responder whose
 * fingerprint differs then starts a digest exchange with the sender.
 *
 * Sizes: an alive message for a 25-character id, an IPv4 address and no
 * metadata takes 49..57 bytes, so a 1400-byte packet carries about 25 of them.
 */

#define SWIM_PROTO_VERSION 1

/* Longest node id in bytes, without the terminating NUL. */
#define SWIM_ID_MAX 64

/* Most messages one packet may carry; encoders never exceed it either. */
#define SWIM_PROTO_MAX_MSGS 64

/* Size of the buffer the decoders write their error message into. */
#define SWIM_PROTO_ERR_MAX 128

/* Default bound on node metadata, in bytes. */
#define SWIM_META_DEFAULT_MAX 512

/* Hard ceiling for any metadata bound (it must fit the member record). */
#define SWIM_META_HARD_MAX 65535

/* Address families as they appear on the wire. */
enum swim_family {
	SWIM_AF_INET4 = 4,
	SWIM_AF_INET6 = 6,
};

/* A gossip address: IPv4 or IPv6 plus port, in a plain comparable struct. */
struct swim_addr {
	uint8_t family;  /* SWIM_AF_INET4 or SWIM_AF_INET6; 0 means unset */
	uint8_t ip[16];  /* network byte order; only the first 4 used for IPv4 */
	uint16_t port;   /* host byte order */
};

/* Message types (element [0] of a msg). */
enum swim_msg_type {
	SWIM_MSG_PING = 1,
	SWIM_MSG_ACK = 2,
	SWIM_MSG_PING_REQ = 3,
	SWIM_MSG_NACK = 4,
	SWIM_MSG_ALIVE = 5,
	SWIM_MSG_SUSPECT = 6,
	SWIM_MSG_DEAD = 7,
	SWIM_MSG_LEFT = 8,
};

/* One decoded (or to-be-encoded) message. Which fields matter depends on type,
 * as drawn above; the others are zero after decoding. */
struct swim_msg {
	uint8_t type;                  /* enum swim_msg_type */
	uint32_t seq;                  /* ping, ack, ping-req, nack: probe sequence number */
	uint64_t incarnation;          /* alive, suspect, dead, left */
	char id[SWIM_ID_MAX + 1];      /* alive..left: the member; ping, ping-req: the target */
	char from[SWIM_ID_MAX + 1];    /* suspect, dead: the node that declared it */
	struct swim_addr addr;         /* alive: the member's address; ping-req: the target's */
	const uint8_t *meta;           /* alive: metadata, pointing into the decoded buffer */
	size_t meta_len;               /* alive: bytes at meta */
};

/* A decoded packet. Meta pointers point into the buffer that was decoded. */
struct swim_packet {
	char sender[SWIM_ID_MAX + 1];            /* sender's id */
	size_t n_msgs;                           /* messages in msgs */
	struct swim_msg msgs[SWIM_PROTO_MAX_MSGS]; /* in wire order */
};

/* Member states as they appear in push-pull messages and in the API. */
enum swim_state {
	SWIM_ALIVE = 0,
	SWIM_SUSPECT = 1,
	SWIM_DEAD = 2,
	SWIM_LEFT = 3,
};

/* Push-pull flag bits. */
#define SWIM_PP_RESPONSE 0x01u /* this message answers a request */
#define SWIM_PP_JOIN 0x02u     /* the request is part of a join */
#define SWIM_PP_DIGEST 0x04u   /* a request whose members are digests (id, incarnation, state) */
#define SWIM_PP_SUMMARY 0x08u  /* a request with no members and the sender's view fingerprint */

/* Bytes of a view fingerprint (swim.c says how it is computed). */
#define SWIM_PP_SUMMARY_LEN 16

/* True for a valid combination of SWIM_PP_* bits (see the diagram above). */
bool swim_pp_flags_valid(uint8_t flags);

/* One member's state in a push-pull message (in a digest, addr and meta are
 * neither encoded nor decoded: zero). */
struct swim_pp_member {
	char id[SWIM_ID_MAX + 1]; /* member id */
	uint64_t incarnation;     /* its incarnation */
	uint8_t state;            /* enum swim_state */
	struct swim_addr addr;    /* its gossip address */
	const uint8_t *meta;      /* metadata, pointing into the decoded buffer */
	size_t meta_len;          /* bytes at meta */
};

/* A decoded push-pull message. members is heap memory owned by the struct:
 * release it with swim_proto_pushpull_free(). */
struct swim_pushpull {
	char sender[SWIM_ID_MAX + 1];    /* sender's id */
	uint8_t flags;                   /* SWIM_PP_* bits */
	size_t n_members;                /* entries in members */
	struct swim_pp_member *members;  /* n_members entries, or NULL when 0 */
	uint8_t summary[SWIM_PP_SUMMARY_LEN]; /* with SWIM_PP_SUMMARY */
};

/* Bounds the decoders enforce. */
struct swim_proto_limits {
	size_t max_meta;    /* longest metadata accepted, <= SWIM_META_HARD_MAX */
	size_t max_members; /* most members in one push-pull message */
};

/* Fills limits with the defaults (512 bytes of metadata, 65536 members). */
void swim_proto_limits_default(struct swim_proto_limits *lim);

/* --- addresses ------------------------------------------------------------ */

/* True when a and b are the same family, ip and port. */
bool swim_addr_equal(const struct swim_addr *a, const struct swim_addr *b);

/* Parses "1.2.3.4:7946" or "[::1]:7946" into out. Returns 0, or -EINVAL. */
int swim_addr_parse(const char *s, struct swim_addr *out);

/* Formats addr as above into buf (at least SWIM_ADDR_STRLEN bytes); returns buf. */
#define SWIM_ADDR_STRLEN 56
const char *swim_addr_format(const struct swim_addr *addr, char *buf, size_t len);

/* True when id is 1..SWIM_ID_MAX bytes of printable ASCII (0x21..0x7e). */
bool swim_id_valid(const char *id);

/* --- packet encoder ------------------------------------------------------- */

/* A growable byte buffer with a hard capacity limit. */
struct swim_buf {
	uint8_t *data; /* heap memory, NULL until the first write */
	size_t len;    /* bytes written */
	size_t cap;    /* bytes allocated */
	size_t limit;  /* writes that would grow len past this fail */
	int err;       /* why the last write failed: -ENOSPC (limit) or -ENOMEM */
};

/* Builds one packet message by message, never growing past its byte budget.
 * Embed it, swim_pw_init() it, and end with swim_pw_finish() or swim_pw_close(). */
struct swim_pw {
	struct swim_buf body;       /* the encoded msgs, without the header */
	size_t budget;              /* most bytes the finished packet may take */
	size_t header_base;         /* header bytes without the msgs array header */
	size_t n_msgs;              /* messages added so far */
	char sender[SWIM_ID_MAX + 1]; /* sender id written in the header */
};

/* Starts a packet from sender that will fit in budget bytes. Returns 0,
 * -EINVAL for a bad sender id, -EMSGSIZE when not even a minimal packet fits,
 * -ENOMEM. On error nothing needs closing. */
int swim_pw_init(struct swim_pw *w, const char *sender, size_t budget);

/* Exact bytes m takes inside a packet, so a caller can skip what does not
 * fit without encoding it; 0 for an unknown type. The ids are not checked
 * (swim_pw_add does that). */
size_t swim_proto_msg_size(const struct swim_msg *m);

/* The same for a member update (alive, suspect, dead, left) given its parts:
 * id_len and from_len bytes of ids, addr and meta_len used by alive only,
 * from_len by suspect and dead only. Cheaper than building the message. */
size_t swim_proto_update_size(uint8_t type, size_t id_len, uint64_t incarnation,
			      const struct swim_addr *addr, size_t meta_len, size_t from_len);

/* Appends m. Returns 0; -ENOSPC when it would exceed the budget or
 * SWIM_PROTO_MAX_MSGS (the packet is unchanged and later, smaller messages may
 * still fit); -EINVAL when m is malformed (bad type, id, address); -ENOMEM. */
int swim_pw_add(struct swim_pw *w, const struct swim_msg *m);

/* Bytes the finished packet would take now. */
size_t swim_pw_size(const struct swim_pw *w);

/* Bytes left under the budget for further messages (approximate by at most
 * the 2 bytes the msgs array header may grow). */
size_t swim_pw_room(const struct swim_pw *w);

/* Finishes the packet: on success *out is a malloc'd buffer the caller owns
 * (free()) of *len bytes and w is closed. Returns 0, -ENODATA when no message
 * was added, -ENOMEM. w is closed in every case. */
int swim_pw_finish(struct swim_pw *w, uint8_t **out, size_t *len);

/* Releases w without producing a packet. */
void swim_pw_close(struct swim_pw *w);

/* --- packet decoder ------------------------------------------------------- */

/* Decodes one packet of len bytes. Returns 0 and fills out; or -EBADMSG
 * (malformed, out of bounds), -EPROTONOSUPPORT (other version), -ENOMEM, with
 * "field: reason" written into err (SWIM_PROTO_ERR_MAX bytes, may be NULL).
 * out->msgs[i].meta points into buf. */
int swim_proto_decode_packet(const uint8_t *buf, size_t len,
			     const struct swim_proto_limits *lim,
			     struct swim_packet *out, char *err);

/* --- push-pull ------------------------------------------------------------ */

/* Streams a push-pull message out member by member. */
struct swim_ppw {
	struct swim_buf body; /* the encoded members, without the header */
	size_t max_bytes; /* most bytes the finished message may take */
	size_t n;         /* members added */
	uint8_t flags;    /* SWIM_PP_* */
	char sender[SWIM_ID_MAX + 1]; /* sender id */
	uint8_t summary[SWIM_PP_SUMMARY_LEN]; /* written with SWIM_PP_SUMMARY */
};

/* Starts a push-pull message; with SWIM_PP_DIGEST in flags members are
 * written as digests; with SWIM_PP_SUMMARY none may be added and the caller
 * fills w->summary before swim_ppw_finish. Returns 0, -EINVAL (bad sender or flags), -ENOMEM. */
int swim_ppw_init(struct swim_ppw *w, const char *sender, uint8_t flags, size_t max_bytes);

/* Appends one member. Returns 0, -EINVAL (malformed member), -EMSGSIZE (the
 * message would exceed max_bytes; w unchanged), -ENOMEM. */
int swim_ppw_add(struct swim_ppw *w, const struct swim_pp_member *m);

/* Finishes: *out is malloc'd (caller frees). Returns 0, -EMSGSIZE, -ENOMEM;
 * w is closed in every case. */
int swim_ppw_finish(struct swim_ppw *w, uint8_t **out, size_t *len);

/* Releases w without producing a message. */
void swim_ppw_close(struct swim_ppw *w);

/* Decodes a push-pull message. Returns 0 (release out with
 * swim_proto_pushpull_free), -EBADMSG, -EPROTONOSUPPORT or -ENOMEM with err
 * filled as for packets; on error out holds nothing to free. */
int swim_proto_decode_pushpull(const uint8_t *buf, size_t len,
			       const struct swim_proto_limits *lim,
			       struct swim_pushpull *out, char *err);

/* Releases the members array of a decoded push-pull message. */
void swim_proto_pushpull_free(struct swim_pushpull *pp);

/* Name of a message type ("ping", ...), or "unknown". */
const char *swim_msg_type_str(uint8_t type);

#endif
