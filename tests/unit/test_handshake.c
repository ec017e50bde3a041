/* Unit tests for handshake: the join handshake, both sides, honest and attacked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>
#include <sodium.h>

#include "swarmnode/handshake.h"

#define NOW 1700000000000ull
#define DAY (24ull * 3600 * 1000)
#define CLUSTER_ID "1bcdqsiwk2ttt98dkhy0rhn6a"
#define MANAGER_ID "m0000000000000000000000a1"
#define JOINER_ID "j0000000000000000000000b2"
#define PAYLOAD "gossip keyring and seed members"

struct fx {
	struct identity_keypair root;        /* the cluster root key */
	struct identity_keypair other_root;  /* another cluster's root key */
	struct identity_keypair mgr;         /* the manager's node key */
	struct identity_keypair joiner;      /* the joiner's node key */
	uint8_t worker_secret[TOKEN_SECRET_LEN];
	uint8_t manager_secret[TOKEN_SECRET_LEN];
	struct handshake_manager_config mcfg; /* a valid manager configuration */
	struct token worker_token;           /* tokens of this cluster */
	struct token manager_token;
	struct handshake *j;                 /* joiner under test */
	struct handshake *m;                 /* manager under test */
};

static void keypair(struct identity_keypair *kp, uint8_t v)
{
	uint8_t seed[IDENTITY_SEED_LEN];
	memset(seed, v, sizeof(seed));
	identity_keypair_from_seed(kp, seed);
}

static void encode_cert(struct identity_cert *c, uint8_t *out, size_t *len)
{
	assert_int_equal(identity_cert_encode(c, out, IDENTITY_CERT_MAX, len), IDENTITY_OK);
}

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	keypair(&f.root, 1);
	keypair(&f.mgr, 2);
	keypair(&f.joiner, 3);
	keypair(&f.other_root, 4);
	memset(f.worker_secret, 0x11, TOKEN_SECRET_LEN);
	memset(f.manager_secret, 0x22, TOKEN_SECRET_LEN);
	struct identity_cert c;
	assert_int_equal(identity_cert_issue(&c, MANAGER_ID, IDENTITY_ROLE_MANAGER, f.mgr.pk,
					     CLUSTER_ID, NOW - DAY, NOW + 90 * DAY, f.root.sk),
			 IDENTITY_OK);
	f.mcfg.root = f.root;
	f.mcfg.node = f.mgr;
	encode_cert(&c, f.mcfg.cert, &f.mcfg.cert_len);
	memcpy(f.mcfg.worker_secret, f.worker_secret, TOKEN_SECRET_LEN);
	memcpy(f.mcfg.manager_secret, f.manager_secret, TOKEN_SECRET_LEN);
	memset(f.mcfg.ephemeral_seed, 0x33, HANDSHAKE_SEED_LEN);
	token_make(&f.worker_token, f.root.pk, f.worker_secret);
	token_make(&f.manager_token, f.root.pk, f.manager_secret);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	handshake_free(f->j);
	handshake_free(f->m);
	f->j = f->m = NULL;
	return 0;
}

static struct handshake *new_joiner(struct fx *f, const struct token *t)
{
	struct handshake_joiner_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.token = *t;
	cfg.node = f->joiner;
	memset(cfg.ephemeral_seed, 0x44, HANDSHAKE_SEED_LEN);
	struct handshake *hs = NULL;
	assert_int_equal(handshake_joiner_new(&hs, &cfg), HANDSHAKE_OK);
	assert_int_equal(handshake_state(hs), HANDSHAKE_JOINER_WAIT_CHALLENGE);
	return hs;
}

static struct handshake *new_manager(struct fx *f, const struct handshake_manager_config *cfg)
{
	struct handshake *hs = NULL;
	char err[256] = "";
	int rc = handshake_manager_new(&hs, cfg, NOW, err, sizeof(err));
	if (rc != HANDSHAKE_OK) {
		print_error("handshake_manager_new: %s\n", err);
		fail();
	}
	(void)f;
	return hs;
}

/* Takes all of from's output into buf; returns its length. */
static size_t take(struct handshake *from, uint8_t *buf, size_t cap)
{
	const uint8_t *p;
	size_t n = handshake_output(from, &p);
	assert_true(n <= cap);
	if (n > 0)
		memcpy(buf, p, n);
	handshake_output_sent(from, n);
	return n;
}

/* Moves from's output into to, byte flip applied (at < 0: none). Returns the
 * number of bytes moved. */
static size_t deliver_flip(struct handshake *from, struct handshake *to, long at, uint8_t mask)
{
	uint8_t buf[HANDSHAKE_MAX_FRAME + 16];
	size_t n = take(from, buf, sizeof(buf));
	if (n == 0)
		return 0;
	if (at >= 0 && (size_t)at < n)
		buf[at] ^= mask;
	size_t used = 0;
	handshake_feed(to, buf, n, NOW, &used);
	return n;
}

static size_t deliver(struct handshake *from, struct handshake *to)
{
	return deliver_flip(from, to, -1, 0);
}

static void issue(struct handshake *m)
{
	assert_int_equal(handshake_state(m), HANDSHAKE_MANAGER_ISSUE);
	assert_int_equal(handshake_manager_issue(m, JOINER_ID, NOW, NOW + 90 * DAY,
						 (const uint8_t *)PAYLOAD, strlen(PAYLOAD)),
			 HANDSHAKE_OK);
}

/* Runs the whole exchange between f->j and f->m. */
static void run(struct fx *f)
{
	deliver(f->j, f->m);     /* HELLO */
	deliver(f->m, f->j);     /* CHALLENGE or REJECT */
	deliver(f->j, f->m);     /* PROOF */
	if (handshake_state(f->m) == HANDSHAKE_MANAGER_ISSUE)
		issue(f->m);
	deliver(f->m, f->j);     /* WELCOME or REJECT */
}

static void expect_failed(struct handshake *hs, int code, const char *text)
{
	if (handshake_state(hs) != HANDSHAKE_FAILED || handshake_feed(hs, NULL, 0, NOW, NULL) != code ||
	    strstr(handshake_error(hs), text) == NULL) {
		print_error("state %d, error \"%s\"; want code %d (%s) with \"%s\"\n",
			    handshake_state(hs), handshake_error(hs), code, handshake_strerror(code),
			    text);
		fail();
	}
}

static void expect_joined(struct fx *f, enum identity_role role)
{
	assert_int_equal(handshake_state(f->m), HANDSHAKE_DONE);
	if (handshake_state(f->j) != HANDSHAKE_DONE) {
		print_error("joiner: %s\n", handshake_error(f->j));
		fail();
	}
	const struct identity_cert *c = handshake_issued_cert(f->j);
	assert_non_null(c);
	assert_string_equal(c->node_id, JOINER_ID);
	assert_string_equal(c->cluster_id, CLUSTER_ID);
	assert_int_equal(c->role, role);
	assert_memory_equal(c->node_pk, f->joiner.pk, IDENTITY_PK_LEN);
	char err[200];
	assert_int_equal(identity_cert_verify(c, f->root.pk, CLUSTER_ID, NOW, err, sizeof(err)),
			 IDENTITY_OK);
	size_t jl = 0, ml = 0, pl = 0;
	const uint8_t *jb = handshake_issued_cert_bytes(f->j, &jl);
	const uint8_t *mb = handshake_issued_cert_bytes(f->m, &ml);
	assert_int_equal(jl, ml);
	assert_memory_equal(jb, mb, jl);
	assert_int_equal(handshake_issued_cert(f->m)->role, role);
	const uint8_t *p = handshake_payload(f->j, &pl);
	assert_int_equal(pl, strlen(PAYLOAD));
	assert_memory_equal(p, PAYLOAD, pl);
	assert_memory_equal(handshake_root_pk(f->j), f->root.pk, IDENTITY_PK_LEN);
	assert_string_equal(handshake_manager_cert(f->j)->node_id, MANAGER_ID);
	const uint8_t *none;
	assert_int_equal(handshake_output(f->j, &none), 0);
	assert_int_equal(handshake_output(f->m, &none), 0);
	assert_int_equal(handshake_eof(f->j), HANDSHAKE_OK);
	assert_int_equal(handshake_eof(f->m), HANDSHAKE_OK);
}

static void worker_token_joins_as_worker(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	assert_int_equal(handshake_state(f->m), HANDSHAKE_MANAGER_WAIT_PROOF);
	deliver(f->m, f->j);
	assert_int_equal(handshake_state(f->j), HANDSHAKE_JOINER_WAIT_WELCOME);
	deliver(f->j, f->m);
	assert_int_equal(handshake_state(f->m), HANDSHAKE_MANAGER_ISSUE);
	assert_int_equal(handshake_joiner_role(f->m), IDENTITY_ROLE_WORKER);
	assert_memory_equal(handshake_joiner_node_pk(f->m), f->joiner.pk, IDENTITY_PK_LEN);
	assert_null(handshake_issued_cert(f->m));
	issue(f->m);
	deliver(f->m, f->j);
	expect_joined(f, IDENTITY_ROLE_WORKER);
}

static void manager_token_joins_as_manager(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->manager_token);
	f->m = new_manager(f, &f->mcfg);
	run(f);
	expect_joined(f, IDENTITY_ROLE_MANAGER);
}

/* The stream may arrive one byte at a time, and whatever follows the last
 * message is left for the caller. */
static void byte_at_a_time_and_trailing_bytes(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	uint8_t buf[HANDSHAKE_MAX_FRAME];
	for (int step = 0; step < 4; step++) {
		struct handshake *from = step % 2 == 0 ? f->j : f->m;
		struct handshake *to = step % 2 == 0 ? f->m : f->j;
		if (step == 3)
			issue(f->m);
		size_t n = take(from, buf, sizeof(buf));
		assert_true(n > 0);
		if (step == 3) {
			/* WELCOME plus the first bytes of the next protocol, in one read. */
			memcpy(buf + n, "NEXT", 4);
			size_t used = 0;
			assert_int_equal(handshake_feed(to, buf, n + 4, NOW, &used), HANDSHAKE_OK);
			assert_int_equal(used, n);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			size_t used = 0;
			assert_int_equal(handshake_feed(to, buf + i, 1, NOW, &used), HANDSHAKE_OK);
			assert_int_equal(used, 1);
		}
	}
	expect_joined(f, IDENTITY_ROLE_WORKER);
	size_t used = 9;
	assert_int_equal(handshake_feed(f->j, (const uint8_t *)"x", 1, NOW, &used), HANDSHAKE_OK);
	assert_int_equal(used, 0);
}

static void wrong_secret_is_refused(void **state)
{
	struct fx *f = *state;
	uint8_t secret[TOKEN_SECRET_LEN];
	memset(secret, 0x99, sizeof(secret));
	struct token t;
	token_make(&t, f->root.pk, secret);
	f->j = new_joiner(f, &t);
	f->m = new_manager(f, &f->mcfg);
	run(f);
	expect_failed(f->m, HANDSHAKE_E_SECRET, "invalid join token secret");
	expect_failed(f->j, HANDSHAKE_E_SECRET, "invalid join token secret");
	assert_null(handshake_issued_cert(f->j));
	size_t pl;
	assert_null(handshake_payload(f->j, &pl));
}

/* join-token --rotate: the old secret stops working, the new one works. */
static void rotated_secret_is_refused(void **state)
{
	struct fx *f = *state;
	struct handshake_manager_config rotated = f->mcfg;
	memset(rotated.worker_secret, 0x55, TOKEN_SECRET_LEN);
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &rotated);
	run(f);
	expect_failed(f->m, HANDSHAKE_E_SECRET, "neither the current worker nor the current manager");
	expect_failed(f->j, HANDSHAKE_E_SECRET, "rotated");
	handshake_free(f->j);
	handshake_free(f->m);

	struct token fresh;
	token_make(&fresh, f->root.pk, rotated.worker_secret);
	f->j = new_joiner(f, &fresh);
	f->m = new_manager(f, &rotated);
	run(f);
	expect_joined(f, IDENTITY_ROLE_WORKER);
	/* The manager token was not rotated and still works. */
	handshake_free(f->j);
	handshake_free(f->m);
	f->j = new_joiner(f, &f->manager_token);
	f->m = new_manager(f, &rotated);
	run(f);
	expect_joined(f, IDENTITY_ROLE_MANAGER);
}

/* A token of another cluster: the joiner stops at the digest and never sends
 * anything that depends on its secret. */
static void token_of_another_cluster(void **state)
{
	struct fx *f = *state;
	struct token t;
	token_make(&t, f->other_root.pk, f->worker_secret);
	f->j = new_joiner(f, &t);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	expect_failed(f->j, HANDSHAKE_E_DIGEST, "token does not match this cluster (digest mismatch)");
	const uint8_t *p;
	assert_int_equal(handshake_output(f->j, &p), 0);
}

/* Builds a CHALLENGE frame from its parts. */
static size_t challenge_frame(uint8_t *out, const uint8_t *root_pk, const uint8_t *cert,
			      size_t cert_len, const uint8_t *eM, const uint8_t *sig)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_bin_with_body(&pk, root_pk, 32);
	msgpack_pack_bin_with_body(&pk, cert, cert_len);
	msgpack_pack_bin_with_body(&pk, eM, 32);
	msgpack_pack_bin_with_body(&pk, sig, 64);
	size_t n = sb.size;
	out[0] = (uint8_t)(n >> 24);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	memcpy(out + 4, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return n + 4;
}

/* T as the header specifies it, computed here independently. */
static void spec_transcript(uint8_t T[32], const uint8_t eJ[32], const uint8_t nJ[32],
			    const uint8_t root_pk[32], const uint8_t *cert, size_t cert_len,
			    const uint8_t eM[32])
{
	uint8_t buf[17 + 1 + 32 * 3 + 4 + IDENTITY_CERT_MAX + 32];
	size_t n = 0;
	memcpy(buf, "swarmnode-join-v1", 17);
	n = 17;
	buf[n++] = 1;
	memcpy(buf + n, eJ, 32), n += 32;
	memcpy(buf + n, nJ, 32), n += 32;
	memcpy(buf + n, root_pk, 32), n += 32;
	buf[n++] = (uint8_t)(cert_len >> 24);
	buf[n++] = (uint8_t)(cert_len >> 16);
	buf[n++] = (uint8_t)(cert_len >> 8);
	buf[n++] = (uint8_t)cert_len;
	memcpy(buf + n, cert, cert_len), n += cert_len;
	memcpy(buf + n, eM, 32), n += 32;
	crypto_generichash(T, 32, buf, n, NULL, 0);
}

static void sign_T(uint8_t sig[64], const char *domain, const uint8_t T[32], const uint8_t *sk)
{
	uint8_t msg[64];
	size_t d = strlen(domain);
	memcpy(msg, domain, d);
	memcpy(msg + d, T, 32);
	crypto_sign_detached(sig, NULL, msg, d + 32, sk);
}

/* The joiner's HELLO fields, read back from its first frame. */
static void hello_fields(const uint8_t *frame, uint8_t eJ[32], uint8_t nJ[32])
{
	/* 4-byte length, fixarray(4), 01, 01, c4 20 eJ, c4 20 nJ */
	assert_int_equal(frame[4], 0x94);
	assert_int_equal(frame[5], 1);
	assert_int_equal(frame[6], 1);
	assert_int_equal(frame[7], 0xc4);
	memcpy(eJ, frame + 9, 32);
	assert_int_equal(frame[41], 0xc4);
	memcpy(nJ, frame + 43, 32);
}

/* A challenge built from the header's description by the test is accepted,
 * and the joiner's PROOF carries the mac and signature the header describes. */
static void joiner_follows_the_spec(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->worker_token);
	uint8_t hello[128], eJ[32], nJ[32];
	size_t hn = take(f->j, hello, sizeof(hello));
	assert_int_equal(hn, 4 + 71);
	hello_fields(hello, eJ, nJ);
	assert_memory_equal(nJ, f->joiner.pk, 32);

	uint8_t eM[32], eMs[32], seed[32], T[32], sig[64];
	memset(seed, 0x66, sizeof(seed));
	crypto_kx_seed_keypair(eM, eMs, seed);
	spec_transcript(T, eJ, nJ, f->root.pk, f->mcfg.cert, f->mcfg.cert_len, eM);
	sign_T(sig, "swarmnode-join-v1 manager", T, f->mgr.sk);
	uint8_t frame[1024];
	size_t n = challenge_frame(frame, f->root.pk, f->mcfg.cert, f->mcfg.cert_len, eM, sig);
	size_t used = 0;
	assert_int_equal(handshake_feed(f->j, frame, n, NOW, &used), HANDSHAKE_OK);
	assert_int_equal(used, n);
	assert_int_equal(handshake_state(f->j), HANDSHAKE_JOINER_WAIT_WELCOME);

	uint8_t proof[256];
	size_t pn = take(f->j, proof, sizeof(proof));
	/* length, fixarray(3), 03, c4 20 mac, c4 40 sig */
	assert_int_equal(pn, 4 + 1 + 1 + 34 + 66);
	assert_int_equal(proof[4], 0x93);
	assert_int_equal(proof[5], 3);
	uint8_t mac[32], in[23 + 32];
	memcpy(in, "swarmnode-join-v1 proof", 23);
	memcpy(in + 23, T, 32);
	crypto_generichash(mac, 32, in, sizeof(in), f->worker_secret, TOKEN_SECRET_LEN);
	assert_memory_equal(proof + 8, mac, 32);
	uint8_t msg[64];
	memcpy(msg, "swarmnode-join-v1 joiner", 24);
	memcpy(msg + 24, T, 32);
	assert_int_equal(crypto_sign_verify_detached(proof + 42, msg, 56, f->joiner.pk), 0);
	/* The secret itself is nowhere in what the joiner sent. */
	assert_null(memmem(hello, hn, f->worker_secret, TOKEN_SECRET_LEN));
	assert_null(memmem(proof, pn, f->worker_secret, TOKEN_SECRET_LEN));
}

/* The manager's CHALLENGE signs the transcript the header describes, and its
 * WELCOME opens with the key the header describes. */
static void manager_follows_the_spec(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->manager_token);
	f->m = new_manager(f, &f->mcfg);
	uint8_t hello[128], eJ[32], nJ[32];
	size_t hn = take(f->j, hello, sizeof(hello));
	hello_fields(hello, eJ, nJ);
	size_t used;
	handshake_feed(f->m, hello, hn, NOW, &used);
	uint8_t ch[1024];
	size_t cn = take(f->m, ch, sizeof(ch));
	/* length, fixarray(5), 02, c4 20 root, c4 <len> cert, c4 20 eM, c4 40 sig */
	assert_int_equal(ch[4], 0x95);
	assert_int_equal(ch[5], 2);
	assert_memory_equal(ch + 8, f->root.pk, 32);
	size_t cl = ch[41];
	assert_int_equal(cl, f->mcfg.cert_len);
	assert_memory_equal(ch + 42, f->mcfg.cert, cl);
	const uint8_t *eM = ch + 42 + cl + 2;
	const uint8_t *sig = eM + 32 + 2;
	assert_int_equal(cn, (size_t)(sig + 64 - ch));
	uint8_t T[32], msg[64];
	spec_transcript(T, eJ, nJ, f->root.pk, f->mcfg.cert, f->mcfg.cert_len, eM);
	memcpy(msg, "swarmnode-join-v1 manager", 25);
	memcpy(msg + 25, T, 32);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, 57, f->mgr.pk), 0);

	handshake_feed(f->j, ch, cn, NOW, &used);
	deliver(f->j, f->m);
	issue(f->m);
	uint8_t w[1024];
	size_t wn = take(f->m, w, sizeof(w));
	/* length, fixarray(2), 04, c4 <len> box */
	assert_int_equal(w[4], 0x92);
	assert_int_equal(w[5], 4);
	assert_int_equal(w[6], 0xc4);
	size_t bl = w[7];
	assert_int_equal(wn, 8 + bl);
	/* K from crypto_kx (the joiner is the client) and T. */
	uint8_t eJs[32], eJp[32], seed[32], rx[32], tx[32], K[32], in[25 + 32];
	memset(seed, 0x44, sizeof(seed));
	crypto_kx_seed_keypair(eJp, eJs, seed);
	assert_memory_equal(eJp, eJ, 32);
	assert_int_equal(crypto_kx_client_session_keys(rx, tx, eJp, eJs, eM), 0);
	memcpy(in, "swarmnode-join-v1 welcome", 25);
	memcpy(in + 25, T, 32);
	crypto_generichash(K, 32, in, sizeof(in), rx, 32);
	uint8_t plain[1024], nonce[24] = {0};
	unsigned long long pl = 0;
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &pl, NULL, w + 8, bl, T, 32,
								    nonce, K),
			 0);
	/* fixarray(2) [ bin cert, bin payload ] */
	assert_int_equal(plain[0], 0x92);
	assert_non_null(memmem(plain, pl, PAYLOAD, strlen(PAYLOAD)));
	/* Nothing of the payload travels in clear. */
	assert_null(memmem(w, wn, PAYLOAD, 8));
}

/* Plays the manager by the header's description (the test holds the manager's
 * keys and picks eM) up to WELCOME, whose box holds cert and payload as given.
 * Returns the joiner's state afterwards. */
static enum handshake_state spec_manager_welcome(struct fx *f, const uint8_t *cert, size_t cert_len,
						 const uint8_t *payload, size_t payload_len)
{
	f->j = new_joiner(f, &f->worker_token);
	uint8_t hello[128], eJ[32], nJ[32];
	take(f->j, hello, sizeof(hello));
	hello_fields(hello, eJ, nJ);
	uint8_t eM[32], eMs[32], seed[32], T[32], sig[64];
	memset(seed, 0x66, sizeof(seed));
	crypto_kx_seed_keypair(eM, eMs, seed);
	spec_transcript(T, eJ, nJ, f->root.pk, f->mcfg.cert, f->mcfg.cert_len, eM);
	sign_T(sig, "swarmnode-join-v1 manager", T, f->mgr.sk);
	uint8_t frame[1024];
	size_t n = challenge_frame(frame, f->root.pk, f->mcfg.cert, f->mcfg.cert_len, eM, sig);
	size_t used;
	handshake_feed(f->j, frame, n, NOW, &used);
	assert_int_equal(handshake_state(f->j), HANDSHAKE_JOINER_WAIT_WELCOME);
	take(f->j, frame, sizeof(frame)); /* the PROOF, not needed here */

	uint8_t rx[32], tx[32], K[32], in[25 + 32];
	assert_int_equal(crypto_kx_server_session_keys(rx, tx, eM, eMs, eJ), 0);
	memcpy(in, "swarmnode-join-v1 welcome", 25);
	memcpy(in + 25, T, 32);
	crypto_generichash(K, 32, in, sizeof(in), tx, 32);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, cert, cert_len);
	msgpack_pack_bin_with_body(&pk, payload, payload_len);
	uint8_t box[1024], nonce[24] = {0};
	unsigned long long bl = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(box, &bl, (const uint8_t *)sb.data, sb.size, T, 32,
						   NULL, nonce, K);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, 4);
	msgpack_pack_bin_with_body(&pk, box, (size_t)bl);
	frame[0] = frame[1] = 0;
	frame[2] = (uint8_t)(sb.size >> 8);
	frame[3] = (uint8_t)sb.size;
	memcpy(frame + 4, sb.data, sb.size);
	handshake_feed(f->j, frame, sb.size + 4, NOW, &used);
	msgpack_sbuffer_destroy(&sb);
	return handshake_state(f->j);
}

static void joiner_accepts_a_welcome_built_from_the_spec(void **state)
{
	struct fx *f = *state;
	struct identity_cert c;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	identity_cert_issue(&c, JOINER_ID, IDENTITY_ROLE_WORKER, f->joiner.pk, CLUSTER_ID, NOW,
			    NOW + DAY, f->root.sk);
	encode_cert(&c, cert, &len);
	assert_int_equal(spec_manager_welcome(f, cert, len, (const uint8_t *)"seed", 4),
			 HANDSHAKE_DONE);
	size_t pl;
	assert_memory_equal(handshake_payload(f->j, &pl), "seed", 4);
	assert_string_equal(handshake_issued_cert(f->j)->node_id, JOINER_ID);
}

/* A manager (or a bug) handing out a certificate that does not fit the joiner. */
static void joiner_refuses_an_unfitting_identity(void **state)
{
	struct fx *f = *state;
	struct identity_cert c;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	/* For another node key. */
	identity_cert_issue(&c, JOINER_ID, IDENTITY_ROLE_WORKER, f->mgr.pk, CLUSTER_ID, NOW,
			    NOW + DAY, f->root.sk);
	encode_cert(&c, cert, &len);
	assert_int_equal(spec_manager_welcome(f, cert, len, NULL, 0), HANDSHAKE_FAILED);
	expect_failed(f->j, HANDSHAKE_E_ISSUED_CERT, "issued for another node key");
	teardown(state);
	/* In another cluster than the manager's. */
	identity_cert_issue(&c, JOINER_ID, IDENTITY_ROLE_WORKER, f->joiner.pk,
			    "0000000000000000000000000", NOW, NOW + DAY, f->root.sk);
	encode_cert(&c, cert, &len);
	assert_int_equal(spec_manager_welcome(f, cert, len, NULL, 0), HANDSHAKE_FAILED);
	expect_failed(f->j, HANDSHAKE_E_ISSUED_CERT, "issued for cluster 0000000000000000000000000");
	teardown(state);
	/* Not signed by the root. */
	identity_cert_issue(&c, JOINER_ID, IDENTITY_ROLE_WORKER, f->joiner.pk, CLUSTER_ID, NOW,
			    NOW + DAY, f->mgr.sk);
	encode_cert(&c, cert, &len);
	assert_int_equal(spec_manager_welcome(f, cert, len, NULL, 0), HANDSHAKE_FAILED);
	expect_failed(f->j, HANDSHAKE_E_ISSUED_CERT, "signature does not verify");
	teardown(state);
	/* Not a certificate. */
	assert_int_equal(spec_manager_welcome(f, (const uint8_t *)"\x01", 1, NULL, 0), HANDSHAKE_FAILED);
	expect_failed(f->j, HANDSHAKE_E_ISSUED_CERT, "certificate: expected an array");
}

/* Impostor managers: each lacks one thing a real manager has. */
static void impostor_with_another_root_key(void **state)
{
	struct fx *f = *state;
	/* A complete, self-consistent cluster of its own. */
	struct handshake_manager_config imp = f->mcfg;
	struct identity_cert c;
	imp.root = f->other_root;
	assert_int_equal(identity_cert_issue(&c, MANAGER_ID, IDENTITY_ROLE_MANAGER, f->mgr.pk,
					     CLUSTER_ID, NOW - DAY, NOW + DAY, f->other_root.sk),
			 IDENTITY_OK);
	encode_cert(&c, imp.cert, &imp.cert_len);
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &imp);
	run(f);
	expect_failed(f->j, HANDSHAKE_E_DIGEST, "digest mismatch");
	assert_int_equal(handshake_state(f->m), HANDSHAKE_MANAGER_WAIT_PROOF); /* no proof came */
}

/* Runs the joiner against a crafted challenge; checks it fails with code and
 * sends no PROOF. */
static void expect_challenge_refused(struct fx *f, const uint8_t *root_pk, const uint8_t *cert,
				     size_t cert_len, const uint8_t *signer_sk, int code,
				     const char *text)
{
	f->j = new_joiner(f, &f->worker_token);
	uint8_t hello[128], eJ[32], nJ[32];
	take(f->j, hello, sizeof(hello));
	hello_fields(hello, eJ, nJ);
	uint8_t eM[32], eMs[32], seed[32], T[32], sig[64];
	memset(seed, 0x77, sizeof(seed));
	crypto_kx_seed_keypair(eM, eMs, seed);
	spec_transcript(T, eJ, nJ, root_pk, cert, cert_len, eM);
	sign_T(sig, "swarmnode-join-v1 manager", T, signer_sk);
	uint8_t frame[1024];
	size_t n = challenge_frame(frame, root_pk, cert, cert_len, eM, sig);
	size_t used;
	handshake_feed(f->j, frame, n, NOW, &used);
	expect_failed(f->j, code, text);
	const uint8_t *p;
	assert_int_equal(handshake_output(f->j, &p), 0);
	handshake_free(f->j);
	f->j = NULL;
}

static void impostor_without_a_valid_manager_certificate(void **state)
{
	struct fx *f = *state;
	struct identity_keypair imp;
	keypair(&imp, 9);
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	struct identity_cert c;

	/* The real root public key, a certificate signed by some other key. */
	identity_cert_issue(&c, MANAGER_ID, IDENTITY_ROLE_MANAGER, imp.pk, CLUSTER_ID, NOW - DAY,
			    NOW + DAY, f->other_root.sk);
	encode_cert(&c, cert, &len);
	expect_challenge_refused(f, f->root.pk, cert, len, imp.sk, HANDSHAKE_E_MANAGER_CERT,
				 "manager certificate invalid: certificate of node " MANAGER_ID
				 ": signature does not verify");

	/* A real worker certificate: a compromised worker posing as a manager. */
	identity_cert_issue(&c, "w0000000000000000000000c3", IDENTITY_ROLE_WORKER, imp.pk,
			    CLUSTER_ID, NOW - DAY, NOW + DAY, f->root.sk);
	encode_cert(&c, cert, &len);
	expect_challenge_refused(f, f->root.pk, cert, len, imp.sk, HANDSHAKE_E_MANAGER_CERT,
				 "node w0000000000000000000000c3 is not a manager");

	/* A real manager certificate that has expired. */
	identity_cert_issue(&c, MANAGER_ID, IDENTITY_ROLE_MANAGER, f->mgr.pk, CLUSTER_ID,
			    NOW - 2 * DAY, NOW - DAY, f->root.sk);
	encode_cert(&c, cert, &len);
	expect_challenge_refused(f, f->root.pk, cert, len, f->mgr.sk, HANDSHAKE_E_MANAGER_CERT,
				 "expired");

	/* Garbage where the certificate goes. */
	memset(cert, 0xc1, 10);
	expect_challenge_refused(f, f->root.pk, cert, 10, f->mgr.sk, HANDSHAKE_E_MANAGER_CERT,
				 "invalid type byte 0xc1");
}

static void impostor_replaying_a_real_certificate(void **state)
{
	struct fx *f = *state;
	/* The real manager's certificate is public; its key is not. */
	struct identity_keypair imp;
	keypair(&imp, 9);
	expect_challenge_refused(f, f->root.pk, f->mcfg.cert, f->mcfg.cert_len, imp.sk,
				 HANDSHAKE_E_MANAGER_SIG, "manager failed to prove its identity");
}

/* A man in the middle changes HELLO's keys: the transcripts then differ and
 * the joiner refuses the manager's signature. */
static void tampered_hello_breaks_the_transcript(void **state)
{
	struct fx *f = *state;
	static const long offsets[] = {9, 40, 43, 74}; /* first and last bytes of eJ and nJ */
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		f->j = new_joiner(f, &f->worker_token);
		f->m = new_manager(f, &f->mcfg);
		deliver_flip(f->j, f->m, offsets[i], 0x01);
		deliver(f->m, f->j);
		expect_failed(f->j, HANDSHAKE_E_MANAGER_SIG, "bad transcript signature");
		teardown(state);
	}
}

static void tampered_challenge_proof_and_welcome(void **state)
{
	struct fx *f = *state;
	/* CHALLENGE: flip a byte of eM (after length 4, header 2, root 34, cert). */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver_flip(f->m, f->j, (long)(4 + 2 + 34 + 2 + f->mcfg.cert_len + 2 + 5), 0x20);
	expect_failed(f->j, HANDSHAKE_E_MANAGER_SIG, "bad transcript signature");
	teardown(state);

	/* PROOF mac. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	deliver_flip(f->j, f->m, 4 + 2 + 2 + 7, 0x01);
	expect_failed(f->m, HANDSHAKE_E_SECRET, "invalid join token secret");
	deliver(f->m, f->j);
	expect_failed(f->j, HANDSHAKE_E_SECRET, "invalid join token secret");
	teardown(state);

	/* PROOF signature. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	deliver_flip(f->j, f->m, 4 + 2 + 34 + 2 + 10, 0x01);
	expect_failed(f->m, HANDSHAKE_E_PROOF_SIG, "joiner failed to prove its node key");
	deliver(f->m, f->j);
	expect_failed(f->j, HANDSHAKE_E_REJECTED, "did not accept our node key signature");
	teardown(state);

	/* WELCOME box. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	deliver(f->j, f->m);
	issue(f->m);
	deliver_flip(f->m, f->j, 20, 0x01);
	expect_failed(f->j, HANDSHAKE_E_WELCOME_AUTH, "welcome message failed authentication");
}

/* Exhaustive: any single flipped bit in any message, length prefixes
 * included, and the joiner never ends up joined. */
static void no_bit_flip_lets_a_join_succeed(void **state)
{
	struct fx *f = *state;
	int runs = 0;
	for (int msg = 0; msg < 4; msg++) {
		for (long at = 0;; at++) {
			bool beyond = false;
			for (int bit = 0; bit < 8; bit++) {
				f->j = new_joiner(f, &f->worker_token);
				f->m = new_manager(f, &f->mcfg);
				size_t moved = 0;
				for (int step = 0; step < 4; step++) {
					struct handshake *from = step % 2 == 0 ? f->j : f->m;
					struct handshake *to = step % 2 == 0 ? f->m : f->j;
					if (step == 3 && handshake_state(f->m) == HANDSHAKE_MANAGER_ISSUE)
						issue(f->m);
					size_t n = deliver_flip(from, to, step == msg ? at : -1,
								(uint8_t)(1u << bit));
					if (step == msg)
						moved = n;
				}
				if ((size_t)at >= moved) {
					/* Past the end of this message: nothing was flipped. */
					teardown(state);
					beyond = true;
					break;
				}
				handshake_eof(f->j);
				if (handshake_state(f->j) == HANDSHAKE_DONE) {
					print_error("message %d byte %ld bit %d: joined anyway\n", msg, at, bit);
					fail();
				}
				assert_true(handshake_error(f->j)[0] != '\0');
				teardown(state);
				runs++;
			}
			if (beyond)
				break;
		}
	}
	assert_true(runs > 4000);
}

static void truncated_messages(void **state)
{
	struct fx *f = *state;
	/* Cut HELLO short and close. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	uint8_t buf[1024];
	size_t n = take(f->j, buf, sizeof(buf));
	size_t used;
	assert_int_equal(handshake_feed(f->m, buf, n - 1, NOW, &used), HANDSHAKE_OK);
	assert_int_equal(handshake_eof(f->m), HANDSHAKE_E_CLOSED);
	expect_failed(f->m, HANDSHAKE_E_CLOSED, "cut short (70 of 71 bytes) while waiting for the joiner's hello");
	teardown(state);

	/* Cut inside the length prefix. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	n = take(f->j, buf, sizeof(buf));
	handshake_feed(f->m, buf, 2, NOW, &used);
	assert_int_equal(handshake_eof(f->m), HANDSHAKE_E_CLOSED);
	expect_failed(f->m, HANDSHAKE_E_CLOSED, "length prefix was cut short (2 of 4 bytes)");
	teardown(state);

	/* A frame whose msgpack is cut short inside a correct length. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	n = take(f->j, buf, sizeof(buf));
	buf[3] -= 10;
	handshake_feed(f->m, buf, n - 10, NOW, &used);
	expect_failed(f->m, HANDSHAKE_E_MALFORMED, "message: object at byte 37 runs past the end");
	deliver(f->m, f->j);
	expect_failed(f->j, HANDSHAKE_E_REJECTED, "could not decode our message");
	teardown(state);

	/* CHALLENGE cut short, then the manager goes away. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	n = take(f->m, buf, sizeof(buf));
	handshake_feed(f->j, buf, n / 2, NOW, &used);
	assert_int_equal(handshake_eof(f->j), HANDSHAKE_E_CLOSED);
	expect_failed(f->j, HANDSHAKE_E_CLOSED, "while waiting for the manager's challenge");
	teardown(state);

	/* The joiner goes away while the manager is issuing. */
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	deliver(f->j, f->m);
	assert_int_equal(handshake_eof(f->m), HANDSHAKE_E_CLOSED);
	assert_int_equal(handshake_manager_issue(f->m, JOINER_ID, NOW, NOW + DAY, NULL, 0),
			 HANDSHAKE_E_STATE);
}

static void bad_framing(void **state)
{
	struct fx *f = *state;
	size_t used;
	/* Zero-length frame. */
	f->m = new_manager(f, &f->mcfg);
	assert_int_equal(handshake_feed(f->m, (const uint8_t[]){0, 0, 0, 0}, 4, NOW, &used),
			 HANDSHAKE_E_FRAME);
	expect_failed(f->m, HANDSHAKE_E_FRAME, "message of 0 bytes");
	const uint8_t *p;
	assert_true(handshake_output(f->m, &p) > 0); /* a REJECT for the peer */
	teardown(state);
	/* A frame over the limit of the state: nothing is allocated for it. */
	f->m = new_manager(f, &f->mcfg);
	assert_int_equal(handshake_feed(f->m, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 1}, 5, NOW,
					&used),
			 HANDSHAKE_E_FRAME);
	assert_int_equal(used, 4);
	expect_failed(f->m, HANDSHAKE_E_FRAME, "message of 4294967295 bytes while waiting for the joiner's hello (1 to 1024 allowed)");
	teardown(state);
	f->j = new_joiner(f, &f->worker_token);
	assert_int_equal(handshake_feed(f->j, (const uint8_t[]){0, 0, 4, 1}, 4, NOW, &used),
			 HANDSHAKE_E_FRAME);
	expect_failed(f->j, HANDSHAKE_E_FRAME, "1025 bytes while waiting for the manager's challenge");
}

/* Builds one frame holding a msgpack array of small unsigned integers. */
static size_t uint_frame(uint8_t *out, const uint8_t *vals, size_t n)
{
	out[0] = out[1] = out[2] = 0;
	out[3] = (uint8_t)(n + 1);
	out[4] = (uint8_t)(0x90 | n);
	memcpy(out + 5, vals, n);
	return n + 5;
}

static void unexpected_messages(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	size_t used, n;
	/* The joiner speaks first with a PROOF. */
	f->m = new_manager(f, &f->mcfg);
	n = uint_frame(buf, (const uint8_t[]){3, 0, 0}, 3);
	handshake_feed(f->m, buf, n, NOW, &used);
	expect_failed(f->m, HANDSHAKE_E_UNEXPECTED, "message type 3 while waiting for the joiner's hello");
	teardown(state);
	/* The manager sends a WELCOME before any CHALLENGE. */
	f->j = new_joiner(f, &f->worker_token);
	n = uint_frame(buf, (const uint8_t[]){4, 0}, 2);
	handshake_feed(f->j, buf, n, NOW, &used);
	expect_failed(f->j, HANDSHAKE_E_UNEXPECTED, "message type 4 while waiting for the manager's challenge");
	teardown(state);
	/* An unknown type, and type 0. */
	f->m = new_manager(f, &f->mcfg);
	n = uint_frame(buf, (const uint8_t[]){9}, 1);
	handshake_feed(f->m, buf, n, NOW, &used);
	expect_failed(f->m, HANDSHAKE_E_UNEXPECTED, "message type 9");
	teardown(state);
	f->m = new_manager(f, &f->mcfg);
	n = uint_frame(buf, (const uint8_t[]){0}, 1);
	handshake_feed(f->m, buf, n, NOW, &used);
	expect_failed(f->m, HANDSHAKE_E_MALFORMED, "message type: 0 out of range [1, 255]");
	teardown(state);
	/* Not an array at all. */
	f->m = new_manager(f, &f->mcfg);
	handshake_feed(f->m, (const uint8_t[]){0, 0, 0, 1, 0x01}, 5, NOW, &used);
	expect_failed(f->m, HANDSHAKE_E_MALFORMED, "message: expected an array, got unsigned integer");
}

static void version_mismatch(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	size_t used;
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	/* A future joiner: HELLO version 2, shaped differently. */
	size_t n = uint_frame(buf, (const uint8_t[]){1, 2, 7, 7, 7, 7, 7}, 7);
	handshake_feed(f->m, buf, n, NOW, &used);
	expect_failed(f->m, HANDSHAKE_E_VERSION, "joiner speaks version 2, this manager 1");
	deliver(f->m, f->j);
	expect_failed(f->j, HANDSHAKE_E_REJECTED, "does not support this handshake version");
	teardown(state);
	/* A HELLO of the right version but the wrong shape. */
	f->m = new_manager(f, &f->mcfg);
	n = uint_frame(buf, (const uint8_t[]){1, 1, 7}, 3);
	handshake_feed(f->m, buf, n, NOW, &used);
	expect_failed(f->m, HANDSHAKE_E_MALFORMED, "hello: expected 4 elements, got 3");
}

static void manager_config_is_checked(void **state)
{
	struct fx *f = *state;
	struct handshake *hs = NULL;
	char err[256];
	struct handshake_manager_config c;
	struct identity_cert cert;

	c = f->mcfg;
	identity_cert_issue(&cert, MANAGER_ID, IDENTITY_ROLE_WORKER, f->mgr.pk, CLUSTER_ID,
			    NOW - DAY, NOW + DAY, f->root.sk);
	encode_cert(&cert, c.cert, &c.cert_len);
	assert_int_equal(handshake_manager_new(&hs, &c, NOW, err, sizeof(err)), HANDSHAKE_E_CONFIG);
	assert_non_null(strstr(err, "has role worker"));

	c = f->mcfg;
	c.node = f->joiner; /* certificate is for another key */
	assert_int_equal(handshake_manager_new(&hs, &c, NOW, err, sizeof(err)), HANDSHAKE_E_CONFIG);
	assert_non_null(strstr(err, "not for this node's key"));

	c = f->mcfg;
	assert_int_equal(handshake_manager_new(&hs, &c, NOW + 91 * DAY, err, sizeof(err)),
			 HANDSHAKE_E_CONFIG);
	assert_non_null(strstr(err, "expired"));

	c = f->mcfg;
	c.root = f->other_root;
	assert_int_equal(handshake_manager_new(&hs, &c, NOW, err, sizeof(err)), HANDSHAKE_E_CONFIG);
	assert_non_null(strstr(err, "signature does not verify"));

	c = f->mcfg;
	memcpy(c.root.sk, f->other_root.sk, IDENTITY_SK_LEN);
	assert_int_equal(handshake_manager_new(&hs, &c, NOW, err, sizeof(err)), HANDSHAKE_E_CONFIG);
	assert_non_null(strstr(err, "root key pair"));

	c = f->mcfg;
	memcpy(c.manager_secret, c.worker_secret, TOKEN_SECRET_LEN);
	assert_int_equal(handshake_manager_new(&hs, &c, NOW, err, sizeof(err)), HANDSHAKE_E_CONFIG);
	assert_non_null(strstr(err, "secrets are the same"));

	c = f->mcfg;
	c.cert_len = IDENTITY_CERT_MAX + 1;
	assert_int_equal(handshake_manager_new(&hs, &c, NOW, err, sizeof(err)), HANDSHAKE_E_CONFIG);
	c.cert_len = 5;
	assert_int_equal(handshake_manager_new(&hs, &c, NOW, err, sizeof(err)), HANDSHAKE_E_CONFIG);
	assert_null(hs);
}

static void issue_checks_its_arguments(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	assert_int_equal(handshake_manager_issue(f->m, JOINER_ID, NOW, NOW + DAY, NULL, 0),
			 HANDSHAKE_E_STATE);
	assert_int_equal(handshake_manager_issue(f->j, JOINER_ID, NOW, NOW + DAY, NULL, 0),
			 HANDSHAKE_E_STATE);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	deliver(f->j, f->m);
	static uint8_t big[HANDSHAKE_MAX_PAYLOAD + 1];
	assert_int_equal(handshake_manager_issue(f->m, JOINER_ID, NOW, NOW + DAY, big, sizeof(big)),
			 HANDSHAKE_E_PAYLOAD);
	assert_int_equal(handshake_state(f->m), HANDSHAKE_MANAGER_ISSUE); /* may retry */
	assert_int_equal(handshake_manager_issue(f->m, "NOT-AN-ID", NOW, NOW + DAY, NULL, 0),
			 HANDSHAKE_E_CONFIG);
	expect_failed(f->m, HANDSHAKE_E_CONFIG, "cannot issue a certificate for node id \"NOT-AN-ID\"");
	deliver(f->m, f->j);
	expect_failed(f->j, HANDSHAKE_E_REJECTED, "could not issue our identity");
}

static void largest_payload_arrives(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	deliver(f->j, f->m);
	static uint8_t big[HANDSHAKE_MAX_PAYLOAD];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31);
	assert_int_equal(handshake_manager_issue(f->m, JOINER_ID, NOW, NOW + DAY, big, sizeof(big)),
			 HANDSHAKE_OK);
	deliver(f->m, f->j);
	assert_int_equal(handshake_state(f->j), HANDSHAKE_DONE);
	size_t pl = 0;
	const uint8_t *p = handshake_payload(f->j, &pl);
	assert_int_equal(pl, sizeof(big));
	assert_memory_equal(p, big, pl);
}

/* The joiner's clock is far behind the manager's: the issued certificate is
 * not yet valid there, and the joiner says so rather than storing it. */
static void issued_certificate_checked_against_joiner_clock(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->worker_token);
	f->m = new_manager(f, &f->mcfg);
	deliver(f->j, f->m);
	deliver(f->m, f->j);
	deliver(f->j, f->m);
	assert_int_equal(handshake_manager_issue(f->m, JOINER_ID, NOW + DAY, NOW + 2 * DAY, NULL, 0),
			 HANDSHAKE_OK);
	deliver(f->m, f->j);
	expect_failed(f->j, HANDSHAKE_E_ISSUED_CERT, "issued node certificate invalid: certificate of node " JOINER_ID ": not valid until");
}

static void output_is_consumed_in_parts(void **state)
{
	struct fx *f = *state;
	f->j = new_joiner(f, &f->worker_token);
	const uint8_t *p;
	size_t n = handshake_output(f->j, &p);
	assert_int_equal(n, 75);
	uint8_t copy[75];
	memcpy(copy, p, n);
	handshake_output_sent(f->j, 10);
	assert_int_equal(handshake_output(f->j, &p), 65);
	assert_memory_equal(p, copy + 10, 65);
	handshake_output_sent(f->j, 1000);
	assert_int_equal(handshake_output(f->j, &p), 0);
}

static void strerror_is_distinct(void **state)
{
	(void)state;
	for (int a = -1; a >= -17; a--) {
		assert_string_not_equal(handshake_strerror(a), "unknown error");
		for (int b = -1; b > a; b--)
			assert_string_not_equal(handshake_strerror(a), handshake_strerror(b));
	}
	assert_string_equal(handshake_strerror(-18), "unknown error");
	assert_string_equal(handshake_strerror(HANDSHAKE_E_DIGEST),
			    "token does not match this cluster (digest mismatch)");
	assert_string_equal(handshake_strerror(HANDSHAKE_E_SECRET), "invalid join token secret");
	assert_string_equal(handshake_strerror(HANDSHAKE_E_MANAGER_CERT), "manager certificate invalid");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		T(worker_token_joins_as_worker),
		T(manager_token_joins_as_manager),
		T(byte_at_a_time_and_trailing_bytes),
		T(wrong_secret_is_refused),
		T(rotated_secret_is_refused),
		T(token_of_another_cluster),
		T(joiner_follows_the_spec),
		T(manager_follows_the_spec),
		T(joiner_accepts_a_welcome_built_from_the_spec),
		T(joiner_refuses_an_unfitting_identity),
		T(impostor_with_another_root_key),
		T(impostor_without_a_valid_manager_certificate),
		T(impostor_replaying_a_real_certificate),
		T(tampered_hello_breaks_the_transcript),
		T(tampered_challenge_proof_and_welcome),
		T(no_bit_flip_lets_a_join_succeed),
		T(truncated_messages),
		T(bad_framing),
		T(unexpected_messages),
		T(version_mismatch),
		T(manager_config_is_checked),
		T(issue_checks_its_arguments),
		T(largest_payload_arrives),
		T(issued_certificate_checked_against_joiner_clock),
		T(output_is_consumed_in_parts),
		T(strerror_is_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
