/* peer_msg: the envelope of every message on a peer stream, and the heartbeat that measures a stream's round trip. */
#ifndef SWARMNODE_PEER_MSG_H
#define SWARMNODE_PEER_MSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each message a peer stream carries (peer_auth.h seals it) is one msgpack
 * array whose first element names its kind, so that Raft, dispatch and the
 * stream's own heartbeat share one stream per pair of nodes:
 *
 *   HEARTBEAT      fixarray(3) [ kind=1, seq: uint64, stamp: uint64 ]
 *   HEARTBEAT_ACK  fixarray(3) [ kind=2, seq: uint64, stamp: uint64 ]
 *   kind >= 3      fixarray(2) [ kind: uint64, body: bin ]
 *
 *     +------+----------------------+------------------+-----------------+
 *     | 0x92 | kind (positive fixint | bin8/16/32 header | body bytes ...  |
 *     |      |  or uint8..uint64)    | (2, 3 or 5 bytes) |                 |
 *     +------+----------------------+------------------+-----------------+
 *
 * seq numbers a side's heartbeats; stamp is the sender's monotonic clock in
 * microseconds, echoed unchanged in the ACK, so that the sender measures the
 * round trip on its own clock. The heartbeats are the stream's own business
 * (peer_mesh answers them); every other kind is an envelope whose body is
 * opaque here and decoded by the module that owns the kind (Raft: 3,
 * dispatch: 4, gossip keyring: 5, see gossip_keys; managers: 6). Keeping the body a bin
 * lets the mesh route a message by its kind without knowing its layout.
 * A receiver counts and skips a kind it does not know (a newer node may send
 * more kinds), and accepts a longer array than it knows (a newer version may
 * append fields).
 */

enum peer_msg_kind {
	PEER_MSG_HEARTBEAT = 1,
	PEER_MSG_HEARTBEAT_ACK = 2,
	PEER_MSG_RAFT = 3,     /* body: raft_codec */
	PEER_MSG_DISPATCH = 4, /* reserved */
	PEER_MSG_KEYRING = 5,  /* body: a keyring message below */
	PEER_MSG_MANAGER = 6,  /* body: manager_msg (writes forwarded to the leader, joins) */
};

/* The first kind that is an envelope [kind, bin body]. */
#define PEER_MSG_FIRST_ENVELOPE PEER_MSG_RAFT

/* Upper bound of an encoded heartbeat. */
#define PEER_MSG_HEARTBEAT_MAX 32

/* Bytes an envelope adds to its body, at most: fixarray, uint64 kind, bin32 header. */
#define PEER_MSG_ENVELOPE_OVERHEAD 15

struct peer_msg {
	uint64_t kind;        /* enum peer_msg_kind, or an unknown value */
	uint64_t seq;         /* heartbeats */
	uint64_t stamp;       /* heartbeats */
	const uint8_t *body;  /* envelopes: the body, pointing into the decoded input */
	size_t body_len;      /* envelopes: its length */
};

/* Encodes a HEARTBEAT or HEARTBEAT_ACK (kind) into out (cap bytes). Returns 0
 * or -EMSGSIZE. */
int peer_msg_heartbeat_encode(enum peer_msg_kind kind, uint64_t seq, uint64_t stamp, uint8_t *out,
			      size_t cap, size_t *len);

/* Writes the envelope header of a message of kind (>= PEER_MSG_FIRST_ENVELOPE)
 * whose body is body_len bytes into out (cap bytes; PEER_MSG_ENVELOPE_OVERHEAD
 * always suffice), so that the body can be encoded in place right after it.
 * Returns 0 with *len the header's size, -EINVAL (a heartbeat kind, or a body
 * over 4 GiB) or -EMSGSIZE. */
int peer_msg_header_encode(uint64_t kind, size_t body_len, uint8_t *out, size_t cap, size_t *len);

/* Encodes a whole envelope: the header, then body copied. Same returns. */
int peer_msg_encode(uint64_t kind, const uint8_t *body, size_t body_len, uint8_t *out, size_t cap,
		    size_t *len);

/* Decodes a message's kind and, for heartbeats, their fields, for the other
 * kinds the body (m->body points into in: valid as long as in is). Returns 0
 * or -EBADMSG with the bad field named in err. */
int peer_msg_decode(const uint8_t *in, size_t len, struct peer_msg *m, char *err, size_t errlen);

#endif
