/* swarm_nodes: the node objects of the replicated store (Docker's Node), kept in line with gossip by the leader, and the node views the API serves. */
#ifndef SWARMNODE_SWARM_NODES_H
#define SWARMNODE_SWARM_NODES_H

#include <jansson.h>

#include "swarmnode/swarm.h"

/*
 * Who writes node objects: the Raft leader, every SWARM_NODES_RECONCILE_MS,
 * from what gossip says: a live member the store does not hold yet becomes
 * a node object (Spec from its metadata: role, availability "active"), and a
 * node whose state (ready/down), address or description changed is updated.
 * Users change Spec (labels, availability) with POST /nodes/{id}/update.
 * One reconciling write is in flight at a time; a refused one (a user's
 * update raced it) is simply redone from the new state on the next round.
 */
#define SWARM_NODES_RECONCILE_MS 1000

/* A Docker Node object built from gossip alone: ID, Spec, Description,
 * Status (new reference). The store adds Version, CreatedAt, UpdatedAt. */
json_t *swarm_nodes_from_gossip(const struct swarm *sw, const struct swarm_node *n);

/* One reconciling round (swarm.c runs one every SWARM_NODES_RECONCILE_MS);
 * it does something only while this manager leads. */
void swarm_nodes_reconcile(struct swarm *sw);

/* Docker's state name for a gossip state: ready, disconnected or down. */
const char *swarm_nodes_state_name(uint8_t swim_state);

#endif
