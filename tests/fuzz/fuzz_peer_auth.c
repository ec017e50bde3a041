/* Fuzz target: both sides of the peer stream fed arbitrary bytes at each stage, authentication and records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input layout: mode byte, chunk byte, then the bytes fed to the side under
 * test, chunk bytes per peer_auth_feed call (0: all at once).
 *   mode 0: a fresh listener               (expects HELLO, then AUTH, then records)
 *   mode 1: a fresh dialer                 (expects HELLO and AUTH, then records)
 *   mode 2: a listener after a real HELLO  (expects AUTH, then records)
 *   mode 3: a dialer, up                   (expects records)
 *   mode 4: a listener, up                 (expects records)
 * Ephemeral keys are fixed, so a recorded real session replays to the end.
 * Whatever the input, the side must not crash, must consume no more than it
 * is given, must fail with a message, and may only deliver what its limits
 * allow. */

static uint64_t nmsgs;

/* Moves all pending output of from into to, handling its events. */
static void pass(struct peer_auth *from, struct peer_auth *to)
{
	const uint8_t *p;
	size_t n = peer_auth_output(from, &p), off = 0;
	while (off < n) {
		size_t used = 0;
		struct peer_auth_event ev;
		if (peer_auth_feed(to, p + off, n - off, FZ_NOW, &used, &ev) != PEER_AUTH_OK)
			abort(); /* an honest exchange never fails */
		off += used;
	}
	peer_auth_output_sent(from, n);
}

static void drain(struct peer_auth *pa)
{
	const uint8_t *p;
	size_t n = peer_auth_output(pa, &p);
	peer_auth_output_sent(pa, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static struct fz_peer fp;
	static int ready;
	if (!ready) {
		fz_init(&f);
		fz_peer_init(&fp, &f);
		ready = 1;
	}
	if (size < 2 || size > 1 << 16)
		return 0;
	int mode = data[0] % 5;
	size_t chunk = data[1];
	data += 2;
	size -= 2;

	struct peer_auth *d = NULL, *l = NULL, *pa, *peer;
	if (peer_auth_new(&d, &fp.dialer, FZ_NOW, NULL, 0) != PEER_AUTH_OK ||
	    peer_auth_new(&l, &fp.listener, FZ_NOW, NULL, 0) != PEER_AUTH_OK)
		abort();
	switch (mode) {
	case 0:
		pa = l, peer = d;
		break;
	case 1:
		pa = d, peer = l;
		break;
	case 2:
		pass(d, l); /* real HELLO */
		pa = l, peer = d;
		break;
	default:
		pass(d, l); /* HELLO */
		pass(l, d); /* HELLO, AUTH */
		pass(d, l); /* AUTH */
		if (peer_auth_state(d) != PEER_AUTH_UP || peer_auth_state(l) != PEER_AUTH_UP)
			abort();
		pa = mode == 3 ? d : l, peer = mode == 3 ? l : d;
		break;
	}
	drain(pa);
	size_t off = 0;
	bool was_up = peer_auth_state(pa) == PEER_AUTH_UP;
	while (off < size) {
		size_t n = chunk == 0 || chunk > size - off ? size - off : chunk;
		size_t used = 0;
		struct peer_auth_event ev;
		int rc = peer_auth_feed(pa, data + off, n, FZ_NOW, &used, &ev);
		if (used > n || (rc != PEER_AUTH_OK && peer_auth_state(pa) != PEER_AUTH_FAILED))
			abort();
		if (rc != PEER_AUTH_OK && ev.type != PEER_AUTH_EV_NONE)
			abort();
		if (ev.type == PEER_AUTH_EV_UP) {
			const struct identity_cert *c = peer_auth_peer_cert(pa);
			/* Up only with a valid certificate of this cluster. */
			if (c == NULL || was_up ||
			    identity_cert_verify(c, f.root.pk, FZ_CLUSTER, FZ_NOW, NULL, 0) != IDENTITY_OK)
				abort();
			was_up = true;
		}
		if (ev.type == PEER_AUTH_EV_MESSAGE) {
			if (!was_up || ev.len > 4096 || (ev.len > 0 && ev.data == NULL))
				abort();
			nmsgs += ev.data != NULL ? ev.data[0] : 0; /* touch the bytes */
			/* Answering is allowed while up. */
			if (peer_auth_send(pa, ev.data, ev.len) != PEER_AUTH_OK)
				abort();
		}
		if (ev.type == PEER_AUTH_EV_CLOSED && !peer_auth_peer_closed(pa))
			abort();
		drain(pa);
		if (rc != PEER_AUTH_OK)
			break;
		if (used == 0 && ev.type == PEER_AUTH_EV_NONE)
			abort(); /* no progress */
		off += used;
	}
	int rc = peer_auth_eof(pa);
	if ((rc == PEER_AUTH_OK) != (peer_auth_state(pa) == PEER_AUTH_UP && peer_auth_peer_closed(pa)))
		abort();
	if (rc != PEER_AUTH_OK && peer_auth_error(pa)[0] == '\0')
		abort();
	peer_auth_free(peer);
	peer_auth_free(pa);
	return 0;
}
