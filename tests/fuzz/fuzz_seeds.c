/* fuzz_seeds: writes seed corpora of valid inputs for every fuzz target into a directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "swarmnode/keyring.h"
#include "fuzz_fixture.h"

static const char *root_dir;

static void put(const char *target, const char *name, const uint8_t *a, size_t an,
		const uint8_t *b, size_t bn)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root_dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root_dir, target, name);
	FILE *fp = fopen(path, "wb");
	if (fp == NULL || fwrite(a, 1, an, fp) != an || (bn > 0 && fwrite(b, 1, bn, fp) != bn) ||
	    fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

/* Takes hs's pending output into buf at *len. */
static void take(struct handshake *hs, uint8_t *buf, size_t *len)
{
	const uint8_t *p;
	size_t n = handshake_output(hs, &p);
	memcpy(buf + *len, p, n);
	*len += n;
	handshake_output_sent(hs, n);
}

static void feed(struct handshake *hs, const uint8_t *p, size_t n)
{
	size_t used;
	handshake_feed(hs, p, n, FZ_NOW, &used);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	root_dir = argv[1];
	if (mkdir(root_dir, 0755) != 0 && errno != EEXIST) {
		perror(root_dir);
		return 1;
	}
	struct fz f;
	fz_init(&f);

	/* Tokens. */
	char tok[TOKEN_STR_LEN + 1];
	token_format(&f.jcfg.token, tok);
	put("fuzz_token_parse", "worker", (const uint8_t *)tok, strlen(tok), NULL, 0);

	/* A certificate. */
	put("fuzz_identity_decode", "manager", f.mcfg.cert, f.mcfg.cert_len, NULL, 0);
	put("fuzz_mp_check", "cert", f.mcfg.cert, f.mcfg.cert_len, NULL, 0);

	/* A sealed packet and a stored keyring, under the target's fixed ring. */
	struct keyring *kr = keyring_new();
	uint8_t k[KEYRING_KEY_LEN], nonce[KEYRING_NONCE_LEN] = {7};
	memset(k, 1, sizeof(k));
	keyring_install(kr, k);
	memset(k, 2, sizeof(k));
	keyring_install(kr, k);
	keyring_use(kr, k);
	uint8_t pkt[256], ring[KEYRING_SERIALIZED_MAX];
	size_t pkt_len = 0, ring_len = 0;
	static const char msg[] = "ping seq=1 from=ldpj7owgrf12irfxg3hi9i3r3";
	keyring_seal(kr, nonce, (const uint8_t *)msg, sizeof(msg) - 1, pkt, sizeof(pkt), &pkt_len);
	keyring_serialize(kr, ring, sizeof(ring), &ring_len);
	put("fuzz_keyring_open", "packet", (const uint8_t[]){0}, 1, pkt, pkt_len);
	put("fuzz_keyring_open", "ring", (const uint8_t[]){1}, 1, ring, ring_len);
	put("fuzz_mp_check", "ring", ring, ring_len, NULL, 0);
	keyring_free(kr);

	/* A recorded session: HELLO, CHALLENGE, PROOF, WELCOME. */
	struct handshake *m, *j;
	handshake_manager_new(&m, &f.mcfg, FZ_NOW, NULL, 0);
	handshake_joiner_new(&j, &f.jcfg);
	static uint8_t hello[1024], challenge[1024], proof[1024], welcome[4096];
	size_t hn = 0, cn = 0, pn = 0, wn = 0;
	take(j, hello, &hn);
	feed(m, hello, hn);
	take(m, challenge, &cn);
	feed(j, challenge, cn);
	take(j, proof, &pn);
	feed(m, proof, pn);
	handshake_manager_issue(m, "j0000000000000000000000b2", FZ_NOW, FZ_NOW + FZ_DAY,
				(const uint8_t *)"payload", 7);
	take(m, welcome, &wn);
	feed(j, welcome, wn);
	if (handshake_state(j) != HANDSHAKE_DONE) {
		fprintf(stderr, "recorded session did not complete: %s\n", handshake_error(j));
		return 1;
	}
	put("fuzz_mp_check", "hello", hello + 4, hn - 4, NULL, 0);
	static uint8_t buf[8192];
	memcpy(buf, hello, hn);
	memcpy(buf + hn, proof, pn);
	put("fuzz_handshake", "mode0-hello-proof", (const uint8_t[]){0, 0}, 2, buf, hn + pn);
	put("fuzz_handshake", "mode0-bytewise", (const uint8_t[]){0, 1}, 2, buf, hn + pn);
	memcpy(buf, challenge, cn);
	memcpy(buf + cn, welcome, wn);
	put("fuzz_handshake", "mode1-challenge-welcome", (const uint8_t[]){1, 0}, 2, buf, cn + wn);
	put("fuzz_handshake", "mode1-chunks", (const uint8_t[]){1, 7}, 2, buf, cn + wn);
	put("fuzz_handshake", "mode2-proof", (const uint8_t[]){2, 0}, 2, proof, pn);
	put("fuzz_handshake", "mode3-welcome", (const uint8_t[]){3, 0}, 2, welcome, wn);
	put("fuzz_handshake", "mode3-reject", (const uint8_t[]){3, 0, 0, 0, 0, 3, 0x92, 5, 1}, 9,
	    NULL, 0);
	handshake_free(m);
	handshake_free(j);
	printf("seed corpora written under %s\n", root_dir);
	return 0;
}
