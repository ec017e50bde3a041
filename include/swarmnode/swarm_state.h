/* swarm_state: this node's membership of a swarm as kept in the data dir
 * (swarm-state.json, mode 0600): identity, keys, addresses, known peers. */
#ifndef SWARMNODE_SWARM_STATE_H
#define SWARMNODE_SWARM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/datadir.h"
#include "swarmnode/identity.h"
#include "swarmnode/ids.h"
#include "swarmnode/keyring.h"
#include "swarmnode/token.h"

#define SWARM_STATE_MAX_SEEDS 16

/* What only managers hold: the cluster's root key and the join secrets. */
struct swarm_manager_secrets {
	uint8_t root_seed[IDENTITY_SEED_LEN];       /* the root key pair derives from it */
	uint8_t worker_secret[TOKEN_SECRET_LEN];
	uint8_t manager_secret[TOKEN_SECRET_LEN];
	uint64_t version;                           /* Docker's Version.Index of the swarm object */
	uint64_t updated_at_ms;                     /* last token rotation */
	uint64_t raft_id;                           /* this manager's id in the Raft configuration */
};

struct swarm_state {
	char cluster_id[IDS_LEN + 1];
	char node_id[IDS_LEN + 1];
	uint8_t role;                               /* enum node_role */
	uint64_t cluster_created_at_ms;             /* wall clock */
	uint64_t joined_at_ms;                      /* when this node joined (wall clock) */
	uint8_t node_seed[IDENTITY_SEED_LEN];       /* this node's Ed25519 key pair derives from it */
	uint8_t cert[IDENTITY_CERT_MAX];            /* root-signed node certificate, encoded */
	size_t cert_len;
	uint8_t root_pk[IDENTITY_PK_LEN];           /* pins the cluster */
	char advertise_addr[64];                    /* cluster address other nodes dial, IP:PORT */
	char gossip_advertise[64];                  /* gossip address other nodes reach, IP:PORT */
	char listen_addr[64];                       /* where this node serves cluster TCP */
	char seeds[SWARM_STATE_MAX_SEEDS][64];      /* gossip addresses to rejoin through after a restart */
	size_t nseeds;
	uint8_t keyring[KEYRING_SERIALIZED_MAX];    /* serialised gossip keyring */
	size_t keyring_len;
	uint64_t keyring_generation;                /* raised by each gossip key rotation step; 0: never rotated */
	bool has_manager;                           /* managers only */
	struct swarm_manager_secrets manager;
};

/* Loads DIR/swarm-state.json. Returns 0, -ENOENT when this node is in no
 * swarm, or -EINVAL with "file: field: why" in err when the file is damaged
 * (it is left untouched). */
int swarm_state_load(struct swarm_state *st, const struct datadir *dd, char *err, size_t errlen);

/* Writes the state atomically (temporary file, fsync, rename). */
int swarm_state_save(const struct swarm_state *st, const struct datadir *dd, char *err, size_t errlen);

/* Removes the state: the node has left. */
int swarm_state_remove(const struct datadir *dd);

/* Overwrites every secret in st with zeros. */
void swarm_state_wipe(struct swarm_state *st);

#endif
