/* Fuzz target: both sides of the join handshake fed arbitrary bytes at each stage. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input layout: mode byte, chunk byte, then the bytes fed to the side under
 * test, chunk bytes per handshake_feed call (0: all at once).
 *   mode 0: a fresh manager              (expects HELLO, then PROOF)
 *   mode 1: a fresh joiner               (expects CHALLENGE, then WELCOME or REJECT)
 *   mode 2: a manager after a real HELLO (expects PROOF)
 *   mode 3: a joiner after a real CHALLENGE (expects WELCOME or REJECT)
 * Ephemeral keys are fixed, so a recorded real session replays to the end. */

/* Moves all pending output of from into to. */
static void pass(struct handshake *from, struct handshake *to)
{
	const uint8_t *p;
	size_t n = handshake_output(from, &p), used;
	handshake_feed(to, p, n, FZ_NOW, &used);
	handshake_output_sent(from, n);
}

static void drain(struct handshake *hs)
{
	const uint8_t *p;
	size_t n = handshake_output(hs, &p);
	if (n > HANDSHAKE_FRAME_HDR + HANDSHAKE_MAX_FRAME)
		abort();
	handshake_output_sent(hs, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static int ready;
	if (!ready) {
		fz_init(&f);
		ready = 1;
	}
	if (size < 2 || size > 2 * HANDSHAKE_MAX_FRAME)
		return 0;
	int mode = data[0] % 4;
	size_t chunk = data[1];
	data += 2;
	size -= 2;

	struct handshake *m = NULL, *j = NULL, *peer = NULL, *hs;
	if (handshake_manager_new(&m, &f.mcfg, FZ_NOW, NULL, 0) != HANDSHAKE_OK ||
	    handshake_joiner_new(&j, &f.jcfg) != HANDSHAKE_OK)
		abort();
	switch (mode) {
	case 0:
		hs = m, peer = j;
		break;
	case 1:
		hs = j, peer = m;
		break;
	case 2:
		pass(j, m); /* real HELLO */
		hs = m, peer = j;
		break;
	default:
		pass(j, m); /* real HELLO */
		pass(m, j); /* real CHALLENGE */
		hs = j, peer = m;
		break;
	}
	drain(hs);
	size_t off = 0;
	while (off < size) {
		size_t n = chunk == 0 || chunk > size - off ? size - off : chunk;
		size_t used = 0;
		int rc = handshake_feed(hs, data + off, n, FZ_NOW, &used);
		if (used > n || (rc != HANDSHAKE_OK && handshake_state(hs) != HANDSHAKE_FAILED))
			abort();
		if (handshake_state(hs) == HANDSHAKE_MANAGER_ISSUE &&
		    handshake_manager_issue(hs, "j0000000000000000000000b2", FZ_NOW, FZ_NOW + FZ_DAY,
					    (const uint8_t *)"payload", 7) != HANDSHAKE_OK)
			abort();
		drain(hs);
		if (used < n)
			break; /* done or failed: the rest is not for the handshake */
		off += n;
	}
	int rc = handshake_eof(hs);
	if ((rc == HANDSHAKE_OK) != (handshake_state(hs) == HANDSHAKE_DONE))
		abort();
	if (rc != HANDSHAKE_OK && handshake_error(hs)[0] == '\0')
		abort();
	if (hs == j && handshake_state(j) == HANDSHAKE_DONE) {
		/* Joined: what the joiner accepted must really be valid for it. */
		const struct identity_cert *c = handshake_issued_cert(j);
		if (identity_cert_verify(c, f.root.pk, FZ_CLUSTER, FZ_NOW, NULL, 0) != IDENTITY_OK ||
		    memcmp(c->node_pk, f.jcfg.node.pk, IDENTITY_PK_LEN) != 0)
			abort();
	}
	handshake_free(peer);
	handshake_free(hs);
	return 0;
}
