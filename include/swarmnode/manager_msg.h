/* manager_msg: what managers ask of each other besides Raft itself: a write forwarded to the leader, its result, and a new manager asking to be added to the Raft configuration. */
#ifndef SWARMNODE_MANAGER_MSG_H
#define SWARMNODE_MANAGER_MSG_H

#include <stdbool.h>
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
 *            member of the Raft configuration under this raft id; only the
 *            leader acts on it. The sender's node id is the authenticated
 *            peer's, never a field.
 *   ROLE     [ type=4, role: uint (0 worker, 1 manager), secrets: bin(0 or 64) ]
 *            the leader tells a node its role changed (node promote/demote):
 *            to manager with the cluster's root key seed (32 bytes), worker and
 *            manager join secrets (16 each), from which the node issues its own
 *            manager certificate; to worker with no secrets, after Raft no
 *            longer counts it
 *   REMOVED  [ type=5 ]
 *            the node was removed from the swarm (node rm): it leaves. Sent
 *            while gossip says a removed node is alive, and on each stream of
 *            a removed node just before a manager closes it
 *
 * Who may send these is checked by the receiver (a manager's certificate);
 * the decoders only check shape and bounds.
 */

enum manager_msg_type {
	MANAGER_MSG_FORWARD = 1,
	MANAGER_MSG_RESULT = 2,
	MANAGER_MSG_JOIN = 3,
	MANAGER_MSG_ROLE = 4,
	MANAGER_MSG_REMOVED = 5,
};

/* ROLE's secrets: root key seed, worker secret, manager secret. */
#define MANAGER_MSG_SECRETS_LEN (32 + 16 + 16)

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
	uint8_t role;          /* ROLE: 0 worker, 1 manager (node_meta.h's enum node_role) */
	bool has_secrets;      /* ROLE: secrets is set (required for manager, absent for worker) */
	uint8_t secrets[MANAGER_MSG_SECRETS_LEN];
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
