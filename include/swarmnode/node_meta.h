/* node_meta: what each node tells the cluster about itself, carried as its gossip metadata. */
#ifndef SWARMNODE_NODE_META_H
#define SWARMNODE_NODE_META_H

#include <stddef.h>
#include <stdint.h>

#define NODE_META_VERSION 1
/* Upper bound of an encoding: the gossip metadata bound. */
#define NODE_META_MAX 512
#define NODE_META_MAX_LABELS 8
#define NODE_META_LABEL_MAX 64

enum node_role {
	NODE_ROLE_WORKER = 0,
	NODE_ROLE_MANAGER = 1,
};

enum node_availability {
	NODE_AVAILABILITY_ACTIVE = 0,
	NODE_AVAILABILITY_PAUSE = 1,
	NODE_AVAILABILITY_DRAIN = 2,
};

/*
 * Encoding (msgpack):
 *
 *   fixarray(11) [ version: uint = 1, role: uint (0 worker, 1 manager),
 *                  availability: uint (0..2), hostname: str(<=63),
 *                  cluster_addr: str(<=63) "IP:PORT" the node's cluster (TCP) address,
 *                  engine_version: str(<=31), os: str(<=15), arch: str(<=31),
 *                  ncpu: uint32, memory: uint64 bytes, created_at: uint64 ms since the epoch,
 *                  labels: array(<=8) of str(<=63) "key=value" (engine labels; absent in
 *                          encodings by the first release, which had 11 fields) ]
 *
 * Strings are printable ASCII. A newer version may append fields; decoders of
 * this version accept a longer array and ignore what follows.
 */
struct node_meta {
	uint8_t role;              /* enum node_role */
	uint8_t availability;      /* enum node_availability */
	char hostname[64];
	char cluster_addr[64];     /* where managers serve Raft, dispatch and joins */
	char engine_version[32];   /* swarmnode's version */
	char os[16];               /* "linux" */
	char arch[32];             /* uname -m */
	uint32_t ncpu;
	uint64_t memory;           /* bytes */
	uint64_t created_at_ms;    /* when the node joined the swarm (wall clock) */
	char labels[NODE_META_MAX_LABELS][NODE_META_LABEL_MAX]; /* "key=value" */
	size_t nlabels;
};

/* Encodes into out (cap bytes). Returns 0 or -EMSGSIZE. */
int node_meta_encode(const struct node_meta *m, uint8_t *out, size_t cap, size_t *len);

/* Decodes, checking every type and bound; err names the bad field. Returns 0
 * or -EBADMSG. */
int node_meta_decode(const uint8_t *in, size_t len, struct node_meta *out, char *err, size_t errlen);

const char *node_role_name(uint8_t role);
const char *node_availability_name(uint8_t availability);

#endif
