/* peer_probe: dials a node's cluster port as a peer with a data dir's identity (or a forged one) and says how it went; a tool for the multi-process tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "swarmnode/addr.h"
#include "swarmnode/peer_auth.h"
#include "swarmnode/peer_msg.h"
#include "swarmnode/swarm_state.h"

/*
 * peer_probe [--expired | --forge-keyring] DATA_DIR IP:PORT
 *
 * Runs the dialer side of a peer stream against IP:PORT with the identity in
 * DATA_DIR/swarm-state.json. With --expired, DATA_DIR must be a manager's: the
 * probe makes a fresh node key and has the cluster's root key sign a worker
 * certificate for it that expired yesterday. Prints one line:
 *   up NODE_ID rtt_us=N      (authenticated, one heartbeat answered, closed in good order)
 *   refused: WHY             (the stream failed; WHY is peer_auth's message)
 * and exits 0 when up, 1 otherwise, 2 on bad usage. With --forge-keyring,
 * once up it also sends a gossip keyring RING of a fresh random key at a
 * generation far above the node's and prints, before the line above,
 *   keyring: acked generation=N   or   keyring: no ack
 * (a node must refuse it, without an ACK, unless DATA_DIR is a manager's).
 */

#define PROBE_TIMEOUT_MS 5000

static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static int send_all(int fd, struct peer_auth *pa)
{
	const uint8_t *p;
	size_t n = peer_auth_output(pa, &p);
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0)
			return -errno;
		peer_auth_output_sent(pa, (size_t)w);
		n = peer_auth_output(pa, &p);
	}
	return 0;
}

/* Reads and feeds until an event of type want, a failure or the deadline. */
static int wait_event(int fd, struct peer_auth *pa, enum peer_auth_event_type want, uint64_t deadline,
		      struct peer_auth_event *out, uint8_t *buf, size_t cap, size_t *have, size_t *off)
{
	for (;;) {
		while (*off < *have) {
			size_t used = 0;
			int rc = peer_auth_feed(pa, buf + *off, *have - *off, wall_ms(), &used, out);
			*off += used;
			send_all(fd, pa);
			if (rc != 0)
				return rc;
			if (out->type == want)
				return 0;
		}
		uint64_t now = wall_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return -ETIMEDOUT;
		ssize_t r = recv(fd, buf, cap, 0);
		if (r <= 0)
			return peer_auth_eof(pa);
		*have = (size_t)r;
		*off = 0;
	}
}

/* Sends a RING of one fresh key and reports whether an ACK comes back. */
static void forge_keyring(int fd, struct peer_auth *pa, uint64_t generation, uint8_t *buf, size_t cap,
			  size_t *have, size_t *off)
{
	uint8_t key[KEYRING_KEY_LEN], ring[KEYRING_SERIALIZED_MAX], msg[PEER_KEYRING_MSG_MAX];
	size_t ring_len = 0, len = 0;
	struct keyring *kr = keyring_new();
	randombytes_buf(key, sizeof(key));
	keyring_install(kr, key);
	keyring_serialize(kr, ring, sizeof(ring), &ring_len);
	keyring_free(kr);
	peer_msg_keyring_ring_encode(PEER_KEYRING_USE, generation, ring, ring_len, msg, sizeof(msg), &len);
	peer_auth_send(pa, msg, len);
	send_all(fd, pa);
	uint64_t deadline = wall_ms() + 1500;
	struct peer_auth_event ev;
	while (wait_event(fd, pa, PEER_AUTH_EV_MESSAGE, deadline, &ev, buf, cap, have, off) == 0) {
		struct peer_msg m;
		struct peer_keyring_msg k;
		if (peer_msg_decode(ev.data, ev.len, &m, NULL, 0) == 0 && m.kind == PEER_MSG_KEYRING &&
		    peer_msg_keyring_decode(m.body, m.body_len, &k, NULL, 0) == 0 && k.op == PEER_KEYRING_ACK) {
			printf("keyring: acked generation=%llu\n", (unsigned long long)k.generation);
			return;
		}
	}
	printf("keyring: no ack\n");
}

int main(int argc, char **argv)
{
	bool expired = argc == 4 && strcmp(argv[1], "--expired") == 0;
	bool forge = argc == 4 && strcmp(argv[1], "--forge-keyring") == 0;
	if (argc != 3 && !expired && !forge) {
		fprintf(stderr, "usage: %s [--expired | --forge-keyring] DATA_DIR IP:PORT\n", argv[0]);
		return 2;
	}
	const char *dir = argv[argc - 2], *target = argv[argc - 1];
	if (sodium_init() < 0)
		return 2;
	struct datadir dd = {.lock_fd = -1};
	snprintf(dd.path, sizeof(dd.path), "%s", dir);
	static struct swarm_state st;
	char err[512];
	if (swarm_state_load(&st, &dd, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", dir, err);
		return 2;
	}
	struct addr a;
	if (addr_parse(target, 2377, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	struct peer_auth_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.dialer = true;
	memcpy(cfg.root_pk, st.root_pk, sizeof(cfg.root_pk));
	memcpy(cfg.cluster_id, st.cluster_id, sizeof(cfg.cluster_id));
	cfg.accept_roles = PEER_AUTH_ROLES_ANY;
	randombytes_buf(cfg.ephemeral_seed, sizeof(cfg.ephemeral_seed));
	uint64_t now = wall_ms(), clock = now;
	if (expired) {
		if (!st.has_manager) {
			fprintf(stderr, "--expired needs a manager's data dir (the root key)\n");
			return 2;
		}
		struct identity_keypair root;
		uint8_t seed[IDENTITY_SEED_LEN], e[IDS_ENTROPY];
		char id[IDS_LEN + 1];
		struct identity_cert c;
		identity_keypair_from_seed(&root, st.manager.root_seed);
		randombytes_buf(seed, sizeof(seed));
		identity_keypair_from_seed(&cfg.node, seed);
		randombytes_buf(e, sizeof(e));
		ids_format(e, id);
		uint64_t day = 24ull * 3600 * 1000;
		identity_cert_issue(&c, id, IDENTITY_ROLE_WORKER, cfg.node.pk, st.cluster_id, now - 2 * day,
				    now - day, root.sk);
		identity_cert_encode(&c, cfg.cert, sizeof(cfg.cert), &cfg.cert_len);
		identity_keypair_wipe(&root);
		clock = now - day - day / 2; /* so that our own side starts at all */
	} else {
		identity_keypair_from_seed(&cfg.node, st.node_seed);
		memcpy(cfg.cert, st.cert, st.cert_len);
		cfg.cert_len = st.cert_len;
	}
	struct peer_auth *pa;
	if (peer_auth_new(&pa, &cfg, clock, err, sizeof(err)) != 0) {
		fprintf(stderr, "cannot start: %s\n", err);
		return 2;
	}
	int fd = socket(a.family, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	if (a.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a.port);
		inet_pton(AF_INET6, a.host, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a.port);
		inet_pton(AF_INET, a.host, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	int status = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		printf("refused: cannot connect: %s\n", strerror(errno));
		goto out;
	}
	static uint8_t buf[1 << 16];
	size_t have = 0, off = 0;
	struct peer_auth_event ev;
	uint64_t deadline = wall_ms() + PROBE_TIMEOUT_MS;
	send_all(fd, pa);
	int rc = wait_event(fd, pa, PEER_AUTH_EV_UP, deadline, &ev, buf, sizeof(buf), &have, &off);
	if (rc != 0) {
		printf("refused: %s\n", rc == -ETIMEDOUT ? "timed out" : peer_auth_error(pa));
		goto out;
	}
	char peer_id[IDS_LEN + 1];
	snprintf(peer_id, sizeof(peer_id), "%s", peer_auth_peer_cert(pa)->node_id);
	/* One heartbeat, answered: messages flow both ways. */
	uint8_t hb[PEER_MSG_HEARTBEAT_MAX];
	size_t hn;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t0 = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	peer_msg_heartbeat_encode(PEER_MSG_HEARTBEAT, 1, t0, hb, sizeof(hb), &hn);
	peer_auth_send(pa, hb, hn);
	send_all(fd, pa);
	for (;;) {
		rc = wait_event(fd, pa, PEER_AUTH_EV_MESSAGE, deadline, &ev, buf, sizeof(buf), &have, &off);
		struct peer_msg m;
		if (rc != 0) {
			printf("refused: after authentication: %s\n", rc == -ETIMEDOUT ? "no heartbeat answer" : peer_auth_error(pa));
			goto out;
		}
		if (peer_msg_decode(ev.data, ev.len, &m, NULL, 0) == 0 && m.kind == PEER_MSG_HEARTBEAT_ACK &&
		    m.seq == 1 && m.stamp == t0)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t1 = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	if (forge)
		forge_keyring(fd, pa, st.keyring_generation + 100, buf, sizeof(buf), &have, &off);
	peer_auth_close(pa);
	send_all(fd, pa);
	shutdown(fd, SHUT_WR);
	rc = wait_event(fd, pa, PEER_AUTH_EV_CLOSED, deadline, &ev, buf, sizeof(buf), &have, &off);
	printf("up %s rtt_us=%llu closed=%s\n", peer_id, (unsigned long long)(t1 - t0),
	       rc == 0 ? "orderly" : peer_auth_error(pa));
	status = 0;
out:
	if (fd >= 0)
		close(fd);
	peer_auth_free(pa);
	swarm_state_wipe(&st);
	sodium_memzero(&cfg, sizeof(cfg));
	return status;
}
