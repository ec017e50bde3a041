/* peer_msg: the envelope of every message on a peer stream, and the heartbeat that measures a stream's round trip. */
#ifndef SWARMNODE_PEER_MSG_H
#define SWARMNODE_PEER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/identity.h"
#include "swarmnode/keyring.h"

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
 * dispatch: 4, gossip keyring: 5 below, managers: 6 (manager_msg.h)). Keeping the body a bin
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

/*
 * Gossip keyring messages: the body of a KEYRING envelope. Managers send
 * rings, every node answers with what it holds (gossip_keys.c runs the
 * rotation):
 *
 *   RING  fixarray(4) [ op=1, step: uint 1..4, generation: uint64 >= 1,
 *                       ring: bin(1..KEYRING_SERIALIZED_MAX), keyring_serialize's layout ]
 *   ACK   fixarray(3) [ op=2, generation: uint64, digest: bin(16) ]
 *
 * A RING carries the whole keyring at a generation, which every rotation
 * step raises by one: install adds the new key beside the primary, use makes
 * it primary, remove drops the keys past the older ones kept, sync resends
 * the current ring when a stream comes up. Sending the whole ring, not a
 * delta, makes every step idempotent and lets a node that missed steps jump
 * to the latest at once. The ACK answers every RING with the generation and
 * the digest (peer_msg_keyring_digest) of the ring the node holds once the
 * RING is applied and persisted, so the sender sees whether its ring, or
 * another manager's, won.
 */
enum peer_keyring_op {
	PEER_KEYRING_RING = 1,
	PEER_KEYRING_ACK = 2,
};

enum peer_keyring_step {
	PEER_KEYRING_INSTALL = 1, /* a new key joins the ring, the primary stays */
	PEER_KEYRING_USE = 2,     /* the new key becomes primary */
	PEER_KEYRING_REMOVE = 3,  /* keys past the kept older ones leave the ring */
	PEER_KEYRING_SYNC = 4,    /* the current ring, sent when a stream comes up */
};

#define PEER_KEYRING_DIGEST_LEN 16
/* Upper bound of a whole encoded keyring message, envelope included. */
#define PEER_KEYRING_MSG_MAX (KEYRING_SERIALIZED_MAX + 48 + PEER_MSG_ENVELOPE_OVERHEAD)

struct peer_keyring_msg {
	uint64_t op;                                /* enum peer_keyring_op */
	uint64_t step;                              /* RING: enum peer_keyring_step */
	uint64_t generation;                        /* RING: the ring's; ACK: the node's */
	const uint8_t *ring;                        /* RING: points into the decoded body */
	size_t ring_len;
	uint8_t digest[PEER_KEYRING_DIGEST_LEN];    /* ACK: of the ring the node holds */
};

/* The name of a step ("install", "use", "remove", "sync"; "unknown"). */
const char *peer_keyring_step_name(uint64_t step);

/* BLAKE2b-128 of a serialised ring: what an ACK names. */
void peer_msg_keyring_digest(const uint8_t *ring, size_t ring_len, uint8_t digest[PEER_KEYRING_DIGEST_LEN]);

/* Encode a whole peer message (envelope and body) into out (cap bytes;
 * PEER_KEYRING_MSG_MAX suffice). Return 0, -EINVAL (a step out of range, a
 * generation of 0, an empty or oversized ring) or -EMSGSIZE. */
int peer_msg_keyring_ring_encode(enum peer_keyring_step step, uint64_t generation, const uint8_t *ring,
				 size_t ring_len, uint8_t *out, size_t cap, size_t *len);
int peer_msg_keyring_ack_encode(uint64_t generation, const uint8_t digest[PEER_KEYRING_DIGEST_LEN],
				uint8_t *out, size_t cap, size_t *len);

/* Decodes the body of a KEYRING envelope (peer_msg_decode's m->body). Checks
 * every type and bound (op, step 1..4, generation >= 1 in a RING, ring
 * 1..KEYRING_SERIALIZED_MAX bytes, digest exactly 16) but not the ring's own
 * layout: keyring_load does, when the ring is applied. Returns 0 or -EBADMSG
 * with the bad field named in err. */
int peer_msg_keyring_decode(const uint8_t *body, size_t len, struct peer_keyring_msg *m, char *err,
			    size_t errlen);

/* What a node does with a RING, given who sent it and the ring it holds. */
enum peer_keyring_verdict {
	PEER_KEYRING_ADOPT,   /* newer: persist it, use it, then ACK */
	PEER_KEYRING_STALE,   /* not newer: keep ours, ACK what we hold */
	PEER_KEYRING_REFUSED, /* not sent by a manager: drop it, no ACK */
};

/* Only a peer whose certificate says manager may send rings. A ring is
 * newer when its generation is above ours or, at the same generation, when
 * its digest is greater than ours and differs: two managers that rotate at
 * once both send generation g+1, and every node then settles on the same
 * one of the two instead of splitting the cluster between two keys. */
enum peer_keyring_verdict peer_msg_keyring_judge(enum identity_role from_role, uint64_t have_generation,
						 const uint8_t have_digest[PEER_KEYRING_DIGEST_LEN],
						 uint64_t generation,
						 const uint8_t digest[PEER_KEYRING_DIGEST_LEN]);

#endif
