/* join_payload: what a manager hands a new node in the join handshake's
 * encrypted WELCOME: the gossip keyring, seed members and, for managers, the
 * cluster's root key and join secrets. */
#ifndef SWARMNODE_JOIN_PAYLOAD_H
#define SWARMNODE_JOIN_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/identity.h"
#include "swarmnode/keyring.h"
#include "swarmnode/token.h"

#define JOIN_PAYLOAD_VERSION 1
#define JOIN_PAYLOAD_MAX_SEEDS 16
#define JOIN_PAYLOAD_ADDR_MAX 64
#define JOIN_PAYLOAD_MAX 2048

/*
 * Encoding (msgpack):
 *
 *   fixarray(5) [ version: uint = 1,
 *                 keyring: bin (keyring_serialize's bytes),
 *                 seeds: array(<= 16) of str(<= 63) "IP:PORT" gossip addresses,
 *                 cluster_created_at: uint64 ms since the epoch,
 *                 manager: nil for workers, or
 *                          fixarray(3) [ root_seed: bin(32), worker_secret: bin(16),
 *                                        manager_secret: bin(16) ] ]
 */
struct join_payload {
	uint8_t keyring[KEYRING_SERIALIZED_MAX];
	size_t keyring_len;
	char seeds[JOIN_PAYLOAD_MAX_SEEDS][JOIN_PAYLOAD_ADDR_MAX];
	size_t nseeds;
	uint64_t cluster_created_at_ms;
	bool has_manager;
	uint8_t root_seed[IDENTITY_SEED_LEN];
	uint8_t worker_secret[TOKEN_SECRET_LEN];
	uint8_t manager_secret[TOKEN_SECRET_LEN];
};

/* Encodes into out (cap bytes). Returns 0 or -EMSGSIZE. */
int join_payload_encode(const struct join_payload *p, uint8_t *out, size_t cap, size_t *len);

/* Decodes with every type and bound checked. Returns 0, or -EBADMSG with the
 * bad field named in err. */
int join_payload_decode(const uint8_t *in, size_t len, struct join_payload *out, char *err, size_t errlen);

#endif
