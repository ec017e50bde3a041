/* removed_nodes: the cluster object's list of removed nodes (swarmkit's Cluster.RemovedNodes): its shape, lookups and additions. */
#ifndef SWARMNODE_REMOVED_NODES_H
#define SWARMNODE_REMOVED_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * A node removed with `node rm` keeps a certificate signed by the root key
 * that stays valid for years. Every manager refuses that identity while it is
 * listed here, in the replicated cluster object (store kind "cluster"):
 *
 *   "RemovedNodes": [ { "ID": ID, "Expiry": TIME }, ... ]    optional, at most
 *                                                             REMOVED_NODES_MAX
 *
 *   ID    the removed node's id (ids.h)
 *   TIME  RFC 3339 as store_time_format writes it: the entry's end, no earlier
 *         than the end of any certificate the node may hold
 *
 * The list is not part of Docker's GET /swarm answer (nor is it in swarmkit's
 * API Cluster object as the Engine shows it), so the API never serves it.
 */

/* The key in the cluster object. */
#define REMOVED_NODES_FIELD "RemovedNodes"

/* Most entries a list may hold: far more than a cluster removes in a
 * certificate's lifetime, and a bound on every lookup's cost (~4 MB of
 * transaction at most, STORE_TXN_MAX). */
#define REMOVED_NODES_MAX 32768

/* Checks the list of a cluster object (absent is fine), naming a bad field
 * after where ("ops[1].object.RemovedNodes[2].Expiry: not an RFC 3339 UTC
 * time"). Returns 0, or -1 with the message in err (errlen bytes; err may be
 * NULL). */
int removed_nodes_check(const json_t *cluster, const char *where, char *err, size_t errlen);

/* Whether node_id is listed in cluster (which may be NULL) with an Expiry
 * after now_ns. The cluster object must have passed removed_nodes_check. */
bool removed_nodes_contains(const json_t *cluster, const char *node_id, int64_t now_ns);

/* The cluster object to write so that node_id is removed until expiry_ns: a
 * copy of cluster, or {"ID": cluster_id, "Spec": {"Name": "default"}} when
 * cluster is NULL, whose list has lost its entries expired at now_ns and any
 * entry of node_id, and gained {node_id, expiry_ns} at its end. Returns 0 and
 * a new object in *out (the caller owns it), -EINVAL (a negative time),
 * -ENOSPC (REMOVED_NODES_MAX live entries already) or -ENOMEM. */
int removed_nodes_add(const json_t *cluster, const char *cluster_id, const char *node_id, int64_t now_ns,
		      int64_t expiry_ns, json_t **out);

#endif
