/* manager_msg: what managers ask of each other besides Raft itself: a write forwarded to the leader, its result, and a new manager asking to be added to the Raft configuration. */
#ifndef SWARMNODE_MANAGER_MSG_H
#define SWARMNODE_MANAGER_MSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * The body of a PEER_MSG_MANAGER peer message, one msgpack array:
 *
 *   FORWARD  [ type=1, req: uint64, txn: bin ]
 *            a manager that is not the leader hands a client's write (a store
 *            transaction) to the leader, which proposes it
 *   RESULT   [ type=2, req: uint64, status: int, index: uint64, message: str ]
 *            the leader's answer once the write was applied (status 0, the
 *            log index it got) or refused (a negative code and the sentence
 *            for the user)
 *   JOIN     [ type=3, raft_id: uint64 ]
 *            a manager that joined with the manager token asks to become a
 *            member of the Raft configuration under this raft id; whoever
 *            receives it forwards it to the leader. The sender's node id is the
 *            authenticated peer's, never a field.
 *
 * Who may send these is checked by the receiver (a manager's certificate);
 * the decoders only check shape and bounds.
 */

enum manager_msg_type {
	MANAGER_MSG_FORWARD = 1,
	MANAGER_MSG_RESULT = 2,
	MANAGER_MSG_JOIN = 3,
};

/* Largest transaction a FORWARD carries (the store's own bound). */
#define MANAGER_MSG_TXN_MAX (4u << 20)
/* Longest RESULT message. */
#define MANAGER_MSG_TEXT_MAX 512

struct manager_msg {
	uint8_t type;          /* enum manager_msg_type */
	uint64_t req;          /* FORWARD, RESULT: the forwarding manager's request number */
	const uint8_t *txn;    /* FORWARD: points into the decoded buffer */
	size_t txn_len;
	int64_t status;        /* RESULT */
	uint64_t index;        /* RESULT */
	char message[MANAGER_MSG_TEXT_MAX + 1]; /* RESULT */
	uint64_t raft_id;      /* JOIN: non-zero */
};

/* Bytes needed to encode m. */
size_t manager_msg_encoded_max(const struct manager_msg *m);

/* Encodes m into out (cap bytes). Returns 0, -EMSGSIZE, or -EINVAL (unknown
 * type, a JOIN without raft id, a transaction over the bound). */
int manager_msg_encode(const struct manager_msg *m, uint8_t *out, size_t cap, size_t *len);

/* Decodes in (len bytes) into *m; m->txn points into in. Returns 0, or
 * -EBADMSG with the bad field named in err. */
int manager_msg_decode(const uint8_t *in, size_t len, struct manager_msg *m, char *err, size_t errlen);

#endif
