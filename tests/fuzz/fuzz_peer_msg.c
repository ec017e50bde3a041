/* Fuzz target: peer_msg_decode on arbitrary peer stream messages, and down to the keyring messages and their rings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/keyring.h"
#include "swarmnode/peer_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded RING encodes again and decodes to the same fields; its ring
 * either loads or is refused with a reason. */
static void check_ring(const struct peer_keyring_msg *k)
{
	uint8_t msg[PEER_KEYRING_MSG_MAX];
	size_t len = 0;
	struct peer_msg m;
	struct peer_keyring_msg back;
	char err[256] = "";
	if (peer_msg_keyring_ring_encode((enum peer_keyring_step)k->step, k->generation, k->ring, k->ring_len, msg,
					 sizeof(msg), &len) != 0 ||
	    peer_msg_decode(msg, len, &m, err, sizeof(err)) != 0 ||
	    peer_msg_keyring_decode(m.body, m.body_len, &back, err, sizeof(err)) != 0 || back.step != k->step ||
	    back.generation != k->generation || back.ring_len != k->ring_len ||
	    memcmp(back.ring, k->ring, k->ring_len) != 0)
		abort();
	struct keyring *kr = keyring_new();
	err[0] = '\0';
	if (keyring_load(kr, k->ring, k->ring_len, err, sizeof(err)) != KEYRING_OK && err[0] == '\0')
		abort();
	keyring_free(kr);
	uint8_t digest[PEER_KEYRING_DIGEST_LEN], none[PEER_KEYRING_DIGEST_LEN] = {0};
	peer_msg_keyring_digest(k->ring, k->ring_len, digest);
	if (peer_msg_keyring_judge(IDENTITY_ROLE_WORKER, 0, none, k->generation, digest) != PEER_KEYRING_REFUSED ||
	    peer_msg_keyring_judge(IDENTITY_ROLE_MANAGER, k->generation, digest, k->generation, digest) !=
		    PEER_KEYRING_STALE)
		abort();
}

static void check_ack(const struct peer_keyring_msg *k)
{
	uint8_t msg[PEER_KEYRING_MSG_MAX];
	size_t len = 0;
	struct peer_msg m;
	struct peer_keyring_msg back;
	char err[256];
	if (peer_msg_keyring_ack_encode(k->generation, k->digest, msg, sizeof(msg), &len) != 0 ||
	    peer_msg_decode(msg, len, &m, err, sizeof(err)) != 0 ||
	    peer_msg_keyring_decode(m.body, m.body_len, &back, err, sizeof(err)) != 0 ||
	    back.generation != k->generation || memcmp(back.digest, k->digest, sizeof(k->digest)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer_msg m;
	struct peer_keyring_msg k;
	char err[256] = "";
	if (size > 65536)
		return 0;
	int rc = peer_msg_decode(data, size, &m, err, sizeof(err));
	if (rc != 0) {
		if (err[0] == '\0')
			abort(); /* a refusal always says why */
		return 0;
	}
	if (m.kind < PEER_MSG_FIRST_ENVELOPE)
		return 0;
	if (m.body_len > 0 && (m.body < data || m.body + m.body_len > data + size))
		abort();
	if (m.kind != PEER_MSG_KEYRING)
		return 0;
	err[0] = '\0';
	if (peer_msg_keyring_decode(m.body, m.body_len, &k, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || k.ring != NULL)
			abort();
		return 0;
	}
	if (k.op == PEER_KEYRING_RING)
		check_ring(&k);
	else
		check_ack(&k);
	return 0;
}
