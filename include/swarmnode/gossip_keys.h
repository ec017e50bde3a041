/* gossip_keys: rotating the cluster's gossip key over the peer streams: a manager runs the install, use and remove steps, every node applies the rings managers send. */
#ifndef SWARMNODE_GOSSIP_KEYS_H
#define SWARMNODE_GOSSIP_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/identity.h"
#include "swarmnode/ids.h"
#include "swarmnode/keyring.h"
#include "swarmnode/peer_msg.h"

/*
 * What `swarmnode swarm rotate-gossip-key` does, Serf's `keys -install`,
 * `-use` and `-remove` in one go. The manager asked:
 *
 *   1. install: makes a new random key, adds it to its ring beside the
 *      primary (generation g+1), persists, sends the ring to every node with
 *      an up peer stream (each node has one to every manager) and waits for
 *      an ACK from every node gossip sees alive or suspect, at most
 *      GOSSIP_KEYS_STEP_TIMEOUT_MS;
 *   2. use: the same with the new key primary (g+2): nodes seal with it,
 *      and every node can open it since step 1;
 *   3. remove: the same without the keys older than the GOSSIP_KEYS_KEEP_OLDER
 *      most recent ones (g+3), skipped when there are none.
 *
 * A step that times out is reported and the next one runs anyway: each
 * message carries the whole ring, so a node that missed a step catches up
 * with the next, and a node whose stream comes up later (down during the
 * rotation, or restarted) gets the current ring from every manager it
 * reaches (SYNC). Keeping the two previous keys, as Docker does, lets a
 * node that was stopped through a rotation rejoin gossip with its old key;
 * three rotations in a row evict a key for good.
 *
 * Every node, managers included, applies a ring only from a peer whose
 * certificate says manager, only when newer (peer_msg_keyring_judge), and
 * persists it in swarm-state.json before it uses it and ACKs.
 */
#define GOSSIP_KEYS_STEP_TIMEOUT_MS 10000
#define GOSSIP_KEYS_KEEP_OLDER 2
#define GOSSIP_KEYS_FINGERPRINT_LEN 8   /* hex digits of SHA-256(key) shown */
#define GOSSIP_KEYS_MAX_NODES 1024      /* nodes one rotation waits for */

struct swarm;

/* A node the running rotation waits for. */
struct gossip_keys_node {
	char node_id[IDS_LEN + 1];
	uint64_t generation;                        /* of its last ACK (0: none) */
	uint8_t digest[PEER_KEYRING_DIGEST_LEN];    /* of its last ACK */
};

/* How a rotation ended. */
struct gossip_keys_result {
	int status;                 /* 0, or -ECANCELED (shutdown, leave), -ESTALE (another manager's ring won), -EIO (not persisted) */
	const char *message;        /* a sentence for the user when status != 0 */
	uint64_t generation;        /* of the final ring */
	char fingerprint[GOSSIP_KEYS_FINGERPRINT_LEN + 1]; /* of the new primary key */
	size_t expected;            /* nodes, this one included */
	size_t confirmed;           /* of them, holding the final ring */
	const struct gossip_keys_node *missing; /* the others (nmissing of them), valid during the call */
	size_t nmissing;
};

typedef void (*gossip_keys_done_fn)(void *data, const struct gossip_keys_result *r);

/* One stored ring of a rotation step. */
struct gossip_keys_ring {
	uint8_t bytes[KEYRING_SERIALIZED_MAX];
	size_t len;
};

struct gossip_keys {
	struct swarm *sw;                  /* the node it works for; not owned */
	uv_timer_t timer;                  /* the running step's deadline; data = this */
	bool running;                      /* a rotation this node coordinates */
	int step;                          /* its step: index into rings */
	size_t nsteps;                     /* 2 or 3 */
	struct gossip_keys_ring rings[3];  /* install, use, remove */
	uint64_t generation;               /* of rings[step] */
	uint8_t digest[PEER_KEYRING_DIGEST_LEN]; /* of rings[step] */
	struct gossip_keys_node *nodes;    /* waited for (owned) */
	size_t nnodes;
	gossip_keys_done_fn done;
	void *done_data;
	uint64_t rotations;                /* rotations this node coordinated */
	uint64_t applied;                  /* rings this node adopted */
	uint64_t refused;                  /* rings from peers that are not managers */
	uint64_t bad;                      /* keyring messages that did not decode or load */
	void (*on_closed)(struct gossip_keys *gk);
};

/* Prepares gk (its timer on loop) for sw. */
void gossip_keys_init(struct gossip_keys *gk, uv_loop_t *loop, struct swarm *sw);

/* Ends a running rotation with -ECANCELED and why. */
void gossip_keys_abort(struct gossip_keys *gk, const char *why);

/* Aborts a running rotation and closes the timer; on_closed runs after. */
void gossip_keys_close(struct gossip_keys *gk, void (*on_closed)(struct gossip_keys *gk));

/* Starts a rotation on an active manager; done runs once it ends (never
 * before this returns). Returns 0, -EPERM (not an active manager), -EBUSY
 * (one is running) or -EIO (the new ring cannot be made or persisted), with
 * a sentence in err. */
int gossip_keys_rotate(struct gossip_keys *gk, gossip_keys_done_fn done, void *data, char *err, size_t errlen);

/* A KEYRING message arrived on the peer stream of from (role: its certificate's). */
void gossip_keys_on_message(struct gossip_keys *gk, const char *from, enum identity_role from_role,
			    const uint8_t *body, size_t len);

/* A peer stream came up or went down: a manager sends the ring it holds. */
void gossip_keys_on_link(struct gossip_keys *gk, const char *node_id, bool up);

/* The first GOSSIP_KEYS_FINGERPRINT_LEN hex digits of SHA-256(key). */
void gossip_keys_fingerprint(const uint8_t key[KEYRING_KEY_LEN], char out[GOSSIP_KEYS_FINGERPRINT_LEN + 1]);

/* The name of the running step ("install", "use", "remove"), or NULL. */
const char *gossip_keys_step_name(const struct gossip_keys *gk);

#endif
