/* fuzz_fixture: the deterministic cluster (keys, certificate, token) the handshake fuzzer and its seeds share. */
#ifndef SWARMNODE_FUZZ_FIXTURE_H
#define SWARMNODE_FUZZ_FIXTURE_H

#include <string.h>

#include "swarmnode/handshake.h"
#include "swarmnode/peer_auth.h"

#define FZ_NOW 1700000000000ull
#define FZ_DAY (24ull * 3600 * 1000)
#define FZ_CLUSTER "1bcdqsiwk2ttt98dkhy0rhn6a"

/* Everything fixed, so that a recorded session replays exactly. */
struct fz {
	struct identity_keypair root;          /* cluster root key */
	struct handshake_manager_config mcfg;  /* the manager */
	struct handshake_joiner_config jcfg;   /* a joiner holding the worker token */
};

static inline void fz_init(struct fz *f)
{
	uint8_t seed[IDENTITY_SEED_LEN];
	struct identity_cert c;
	memset(f, 0, sizeof(*f));
	memset(seed, 1, sizeof(seed));
	identity_keypair_from_seed(&f->root, seed);
	memset(seed, 2, sizeof(seed));
	identity_keypair_from_seed(&f->mcfg.node, seed);
	f->mcfg.root = f->root;
	identity_cert_issue(&c, "m0000000000000000000000a1", IDENTITY_ROLE_MANAGER, f->mcfg.node.pk,
			    FZ_CLUSTER, FZ_NOW - FZ_DAY, FZ_NOW + 90 * FZ_DAY, f->root.sk);
	identity_cert_encode(&c, f->mcfg.cert, sizeof(f->mcfg.cert), &f->mcfg.cert_len);
	memset(f->mcfg.worker_secret, 0x11, TOKEN_SECRET_LEN);
	memset(f->mcfg.manager_secret, 0x22, TOKEN_SECRET_LEN);
	memset(f->mcfg.ephemeral_seed, 0x33, HANDSHAKE_SEED_LEN);
	token_make(&f->jcfg.token, f->root.pk, f->mcfg.worker_secret);
	memset(seed, 3, sizeof(seed));
	identity_keypair_from_seed(&f->jcfg.node, seed);
	memset(f->jcfg.ephemeral_seed, 0x44, HANDSHAKE_SEED_LEN);
}

/* The two ends of a peer stream in the same cluster: a worker dialing the
 * manager of struct fz. Everything fixed, as above. */
struct fz_peer {
	struct peer_auth_config dialer;   /* the worker */
	struct peer_auth_config listener; /* the manager */
};

static inline void fz_peer_init(struct fz_peer *p, const struct fz *f)
{
	uint8_t seed[IDENTITY_SEED_LEN];
	struct identity_cert c;
	memset(p, 0, sizeof(*p));
	p->listener.dialer = false;
	p->listener.node = f->mcfg.node;
	memcpy(p->listener.cert, f->mcfg.cert, f->mcfg.cert_len);
	p->listener.cert_len = f->mcfg.cert_len;
	memcpy(p->listener.root_pk, f->root.pk, IDENTITY_PK_LEN);
	memcpy(p->listener.cluster_id, FZ_CLUSTER, sizeof(FZ_CLUSTER));
	p->listener.accept_roles = PEER_AUTH_ROLES_ANY;
	p->listener.max_message = 4096;
	memset(p->listener.ephemeral_seed, 0x55, PEER_AUTH_SEED_LEN);
	p->dialer = p->listener;
	p->dialer.dialer = true;
	memset(seed, 6, sizeof(seed));
	identity_keypair_from_seed(&p->dialer.node, seed);
	identity_cert_issue(&c, "w0000000000000000000000b2", IDENTITY_ROLE_WORKER, p->dialer.node.pk,
			    FZ_CLUSTER, FZ_NOW - FZ_DAY, FZ_NOW + 90 * FZ_DAY, f->root.sk);
	identity_cert_encode(&c, p->dialer.cert, sizeof(p->dialer.cert), &p->dialer.cert_len);
	memcpy(p->dialer.expect_node_id, "m0000000000000000000000a1", IDS_LEN + 1);
	memset(p->dialer.ephemeral_seed, 0x66, PEER_AUTH_SEED_LEN);
}

#endif
