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
 *   (kind 3: Raft, kind 4: dispatch; reserved)
 *
 * seq numbers a side's heartbeats; stamp is the sender's monotonic clock in
 * microseconds, echoed unchanged in the ACK, so that the sender measures the
 * round trip on its own clock. A receiver counts and skips a kind it does
 * not know (a newer node may send more kinds), and accepts a longer array
 * than it knows (a newer version may append fields).
 */

enum peer_msg_kind {
	PEER_MSG_HEARTBEAT = 1,
	PEER_MSG_HEARTBEAT_ACK = 2,
	PEER_MSG_RAFT = 3,     /* reserved */
	PEER_MSG_DISPATCH = 4, /* reserved */
};

/* Upper bound of an encoded heartbeat. */
#define PEER_MSG_HEARTBEAT_MAX 32

struct peer_msg {
	uint64_t kind;   /* enum peer_msg_kind, or an unknown value */
	uint64_t seq;    /* heartbeats */
	uint64_t stamp;  /* heartbeats */
};

/* Encodes a HEARTBEAT or HEARTBEAT_ACK (kind) into out (cap bytes). Returns 0
 * or -EMSGSIZE. */
int peer_msg_heartbeat_encode(enum peer_msg_kind kind, uint64_t seq, uint64_t stamp, uint8_t *out,
			      size_t cap, size_t *len);

/* Decodes a message's kind and, for heartbeats, their fields. Returns 0,
 * -ENOTSUP for a well-formed message of a kind this version does not decode
 * (m->kind says which), or -EBADMSG with the bad field named in err. */
int peer_msg_decode(const uint8_t *in, size_t len, struct peer_msg *m, char *err, size_t errlen);

#endif
