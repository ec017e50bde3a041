/* handshake: the sans-I/O join handshake a new node runs with a manager over TCP 2377. */
#include "swarmnode/handshake.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_common.h"
#include "mp_wire.h"
#include "swarmnode/frame.h"

#define HS_KEY_LEN 32   /* X25519 keys, transcript hash, mac, session key */
#define HS_MAC_LEN 32

_Static_assert(HANDSHAKE_FRAME_HDR == FRAME_HEADER_LEN, "frames as frame.h reads and writes them");
_Static_assert(HANDSHAKE_SEED_LEN == crypto_kx_SEEDBYTES, "kx seed size");
_Static_assert(HS_KEY_LEN == crypto_kx_PUBLICKEYBYTES, "kx public key size");
_Static_assert(HS_KEY_LEN == crypto_kx_SESSIONKEYBYTES, "kx session key size");
_Static_assert(HS_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "aead key size");
_Static_assert(HS_KEY_LEN == AUTH_HASH_LEN && HS_MAC_LEN == AUTH_HASH_LEN, "transcript hash size");
_Static_assert(TOKEN_SECRET_LEN >= crypto_generichash_KEYBYTES_MIN, "secret usable as a BLAKE2b key");
_Static_assert(TOKEN_ROOT_PK_LEN == IDENTITY_PK_LEN, "token digests the identity root key");
_Static_assert(HANDSHAKE_MAX_PAYLOAD + IDENTITY_CERT_MAX + 64 <= HANDSHAKE_MAX_FRAME,
	       "a full WELCOME fits in one frame");

/* Message types, the first element of every message. */
enum hs_msg {
	HS_MSG_HELLO = 1,
	HS_MSG_CHALLENGE = 2,
	HS_MSG_PROOF = 3,
	HS_MSG_WELCOME = 4,
	HS_MSG_REJECT = 5,
};

/* Domain strings: each hash, mac and signature of the protocol has its own. */
static const char dom_transcript[] = "swarmnode-join-v1";
static const char dom_manager_sig[] = "swarmnode-join-v1 manager";
static const char dom_joiner_sig[] = "swarmnode-join-v1 joiner";
static const char dom_proof[] = "swarmnode-join-v1 proof";
static const char dom_welcome[] = "swarmnode-join-v1 welcome";

struct handshake {
	bool manager;                              /* which side this is */
	enum handshake_state state;                /* where the exchange stands */
	int err_code;                              /* HANDSHAKE_E_* once failed, else 0 */
	char err[320];                             /* "what failed: why" once failed */

	/* Own keys and configuration. */
	struct identity_keypair node;              /* our node key pair */
	uint8_t eph_pk[HS_KEY_LEN];                /* our ephemeral X25519 public key */
	uint8_t eph_sk[HS_KEY_LEN];                /* and its secret key */
	struct token token;                        /* joiner: the join token */
	struct identity_keypair root;              /* manager: the cluster root key pair */
	uint8_t worker_secret[TOKEN_SECRET_LEN];   /* manager: current worker secret */
	uint8_t manager_secret[TOKEN_SECRET_LEN];  /* manager: current manager secret */

	/* Learned or fixed during the exchange. */
	uint8_t root_pk[IDENTITY_PK_LEN];          /* the root key (joiner: pinned from CHALLENGE) */
	struct identity_cert mgr_cert;             /* the manager's certificate */
	uint8_t mgr_cert_bytes[IDENTITY_CERT_MAX]; /* and its encoding */
	size_t mgr_cert_len;                       /* its length */
	uint8_t peer_eph_pk[HS_KEY_LEN];           /* the peer's ephemeral public key */
	uint8_t joiner_pk[IDENTITY_PK_LEN];        /* the joiner's node public key */
	uint8_t transcript[HS_KEY_LEN];            /* T */
	uint8_t welcome_key[HS_KEY_LEN];           /* K */
	enum identity_role role;                   /* manager: the role the proof earned */

	/* Results. */
	struct identity_cert issued;               /* the joiner's certificate */
	uint8_t issued_bytes[IDENTITY_CERT_MAX];   /* and its encoding */
	size_t issued_len;                         /* its length */
	uint8_t *payload;                          /* joiner: the payload (owned) */
	size_t payload_len;                        /* its length */

	/* Framing. */
	struct frame_reader in;                    /* the message being read (owned) */
	struct frame_queue out;                    /* frames for the caller to send (owned) */
};

const char *handshake_strerror(int err)
{
	switch (err) {
	case HANDSHAKE_OK:
		return "success";
#define HANDSHAKE_ERR_CASE(name, val, msg) \
	case HANDSHAKE_E_##name:           \
		return msg;
		HANDSHAKE_ERRNO_MAP(HANDSHAKE_ERR_CASE)
#undef HANDSHAKE_ERR_CASE
	}
	return "unknown error";
}

static const char *state_name(enum handshake_state s)
{
	switch (s) {
	case HANDSHAKE_JOINER_WAIT_CHALLENGE: return "waiting for the manager's challenge";
	case HANDSHAKE_JOINER_WAIT_WELCOME: return "waiting for the manager's welcome";
	case HANDSHAKE_MANAGER_WAIT_HELLO: return "waiting for the joiner's hello";
	case HANDSHAKE_MANAGER_WAIT_PROOF: return "waiting for the joiner's proof";
	case HANDSHAKE_MANAGER_ISSUE: return "issuing the joiner's identity";
	case HANDSHAKE_DONE: return "done";
	case HANDSHAKE_FAILED: return "failed";
	}
	return "unknown";
}

static const char *reject_text(uint64_t reason)
{
	switch (reason) {
	case HANDSHAKE_REJECT_SECRET: return "invalid join token secret";
	case HANDSHAKE_REJECT_VERSION: return "the manager does not support this handshake version";
	case HANDSHAKE_REJECT_MALFORMED: return "the manager could not decode our message";
	case HANDSHAKE_REJECT_PROOF_SIG: return "the manager did not accept our node key signature";
	case HANDSHAKE_REJECT_INTERNAL: return "the manager could not issue our identity";
	}
	return "unknown reason";
}

/* Fails the handshake with code and the message "<short>: <detail>", keeping
 * the first failure. Returns the code. */
static int hs_fail(struct handshake *hs, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int hs_fail(struct handshake *hs, int code, const char *fmt, ...)
{
	if (hs->state == HANDSHAKE_FAILED)
		return hs->err_code;
	hs->state = HANDSHAKE_FAILED;
	hs->err_code = code;
	va_list ap;
	va_start(ap, fmt);
	auth_format_error(hs->err, sizeof(hs->err), handshake_strerror(code), fmt, ap);
	va_end(ap);
	/* What is left is of no use and some of it is secret. */
	sodium_memzero(hs->eph_sk, sizeof(hs->eph_sk));
	sodium_memzero(hs->welcome_key, sizeof(hs->welcome_key));
	return code;
}

/* Fails with code; a manager first queues REJECT with reason for the joiner
 * (a joiner has no REJECT to send). */
static int hs_reject(struct handshake *hs, enum handshake_reject reason, int code, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
static int hs_reject(struct handshake *hs, enum handshake_reject reason, int code, const char *fmt,
		     ...)
{
	if (hs->manager) {
		uint8_t buf[8];
		struct mp_buf b;
		msgpack_packer pk;
		mp_buf_init(&b, &pk, buf, sizeof(buf));
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, HS_MSG_REJECT);
		msgpack_pack_uint8(&pk, (uint8_t)reason);
		frame_queue_push(&hs->out, buf, b.len); /* best effort: on failure the peer sees a close */
	}
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return hs_fail(hs, code, "%s", detail);
}

/* T = BLAKE2b-256(domain || version || eJ || nJ || root_pk || len(cert) || cert || eM),
 * len(cert) 4 bytes big-endian like a frame header. */
static void hs_transcript(struct handshake *hs, const uint8_t eJ[HS_KEY_LEN],
			  const uint8_t nJ[IDENTITY_PK_LEN], const uint8_t eM[HS_KEY_LEN])
{
	crypto_generichash_state st;
	uint8_t ver = HANDSHAKE_VERSION;
	uint8_t len[FRAME_HEADER_LEN];
	frame_header(len, (uint32_t)hs->mgr_cert_len);
	crypto_generichash_init(&st, NULL, 0, HS_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)dom_transcript, sizeof(dom_transcript) - 1);
	crypto_generichash_update(&st, &ver, 1);
	crypto_generichash_update(&st, eJ, HS_KEY_LEN);
	crypto_generichash_update(&st, nJ, IDENTITY_PK_LEN);
	crypto_generichash_update(&st, hs->root_pk, IDENTITY_PK_LEN);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, hs->mgr_cert_bytes, hs->mgr_cert_len);
	crypto_generichash_update(&st, eM, HS_KEY_LEN);
	crypto_generichash_final(&st, hs->transcript, HS_KEY_LEN);
}

/* mac = BLAKE2b-256(key = secret, "swarmnode-join-v1 proof" || T). */
static void hs_mac(const struct handshake *hs, const uint8_t secret[TOKEN_SECRET_LEN],
		   uint8_t mac[HS_MAC_LEN])
{
	auth_keyed_hash(secret, TOKEN_SECRET_LEN, dom_proof, hs->transcript, mac);
}

/* K = BLAKE2b-256(key = kx session key M->J, "swarmnode-join-v1 welcome" || T). */
static void hs_welcome_key(struct handshake *hs, uint8_t kx_key[HS_KEY_LEN])
{
	auth_keyed_hash(kx_key, HS_KEY_LEN, dom_welcome, hs->transcript, hs->welcome_key);
	sodium_memzero(kx_key, HS_KEY_LEN);
}

static struct handshake *hs_alloc(bool manager, const uint8_t seed[HANDSHAKE_SEED_LEN])
{
	struct handshake *hs = calloc(1, sizeof(*hs));
	if (hs == NULL)
		return NULL;
	hs->manager = manager;
	crypto_kx_seed_keypair(hs->eph_pk, hs->eph_sk, seed);
	return hs;
}

int handshake_joiner_new(struct handshake **out, const struct handshake_joiner_config *cfg)
{
	struct handshake *hs = hs_alloc(false, cfg->ephemeral_seed);
	if (hs == NULL)
		return HANDSHAKE_E_NOMEM;
	hs->token = cfg->token;
	hs->node = cfg->node;
	memcpy(hs->joiner_pk, cfg->node.pk, IDENTITY_PK_LEN);
	hs->state = HANDSHAKE_JOINER_WAIT_CHALLENGE;

	uint8_t buf[96];
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, buf, sizeof(buf));
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, HS_MSG_HELLO);
	msgpack_pack_uint8(&pk, HANDSHAKE_VERSION);
	msgpack_pack_bin_with_body(&pk, hs->eph_pk, HS_KEY_LEN);
	msgpack_pack_bin_with_body(&pk, hs->node.pk, IDENTITY_PK_LEN);
	if (b.overflow || frame_queue_push(&hs->out, buf, b.len) != 0) {
		handshake_free(hs);
		return HANDSHAKE_E_NOMEM;
	}
	*out = hs;
	return HANDSHAKE_OK;
}

int handshake_manager_new(struct handshake **out, const struct handshake_manager_config *cfg,
			  uint64_t now_ms, char *err, size_t errlen)
{
	struct identity_cert cert;
	char why[256];
	uint8_t pk[IDENTITY_PK_LEN];
	if (cfg->cert_len > IDENTITY_CERT_MAX ||
	    identity_cert_decode(&cert, cfg->cert, cfg->cert_len, why, sizeof(why)) != IDENTITY_OK) {
		if (cfg->cert_len > IDENTITY_CERT_MAX)
			snprintf(why, sizeof(why), "certificate of %zu bytes", cfg->cert_len);
		mp_fail(err, errlen, "manager certificate: %s", why);
		return HANDSHAKE_E_CONFIG;
	}
	if (identity_cert_verify(&cert, cfg->root.pk, NULL, now_ms, why, sizeof(why)) != IDENTITY_OK) {
		mp_fail(err, errlen, "manager certificate: %s", why);
		return HANDSHAKE_E_CONFIG;
	}
	if (cert.role != IDENTITY_ROLE_MANAGER) {
		mp_fail(err, errlen, "manager certificate: node %s has role worker", cert.node_id);
		return HANDSHAKE_E_CONFIG;
	}
	crypto_sign_ed25519_sk_to_pk(pk, cfg->node.sk);
	if (sodium_memcmp(pk, cfg->node.pk, IDENTITY_PK_LEN) != 0 ||
	    sodium_memcmp(cert.node_pk, cfg->node.pk, IDENTITY_PK_LEN) != 0) {
		mp_fail(err, errlen, "manager certificate: it is not for this node's key");
		return HANDSHAKE_E_CONFIG;
	}
	crypto_sign_ed25519_sk_to_pk(pk, cfg->root.sk);
	if (sodium_memcmp(pk, cfg->root.pk, IDENTITY_PK_LEN) != 0) {
		mp_fail(err, errlen, "root key pair: secret and public key do not match");
		return HANDSHAKE_E_CONFIG;
	}
	if (sodium_memcmp(cfg->worker_secret, cfg->manager_secret, TOKEN_SECRET_LEN) == 0) {
		mp_fail(err, errlen, "worker and manager token secrets are the same");
		return HANDSHAKE_E_CONFIG;
	}
	struct handshake *hs = hs_alloc(true, cfg->ephemeral_seed);
	if (hs == NULL)
		return HANDSHAKE_E_NOMEM;
	hs->root = cfg->root;
	hs->node = cfg->node;
	memcpy(hs->root_pk, cfg->root.pk, IDENTITY_PK_LEN);
	hs->mgr_cert = cert;
	memcpy(hs->mgr_cert_bytes, cfg->cert, cfg->cert_len);
	hs->mgr_cert_len = cfg->cert_len;
	memcpy(hs->worker_secret, cfg->worker_secret, TOKEN_SECRET_LEN);
	memcpy(hs->manager_secret, cfg->manager_secret, TOKEN_SECRET_LEN);
	hs->state = HANDSHAKE_MANAGER_WAIT_HELLO;
	*out = hs;
	return HANDSHAKE_OK;
}

void handshake_free(struct handshake *hs)
{
	if (hs == NULL)
		return;
	if (hs->payload != NULL) {
		sodium_memzero(hs->payload, hs->payload_len);
		free(hs->payload);
	}
	frame_reader_close(&hs->in);
	frame_queue_close(&hs->out);
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
}

/* The first element of a message: its type. The array's size is checked by
 * each message's decoder. */
static bool msg_type(const msgpack_object *o, uint64_t *type, char *err, size_t errlen)
{
	return mp_get_array_range(o, 1, 16, "message", err, errlen) &&
	       mp_get_uint(&o->via.array.ptr[0], 1, 255, type, "message type", err, errlen);
}

/* Manager: HELLO arrived. Answers with CHALLENGE. */
static int on_hello(struct handshake *hs, const msgpack_object *o)
{
	char why[160];
	uint64_t v;
	const msgpack_object *f = o->via.array.ptr;
	/* The version comes before the shape: another version may shape HELLO differently. */
	if (o->via.array.size < 2 ||
	    !mp_get_uint(&f[1], 0, UINT64_MAX, &v, "hello version", why, sizeof(why)))
		return hs_reject(hs, HANDSHAKE_REJECT_MALFORMED, HANDSHAKE_E_MALFORMED, "%s",
				 o->via.array.size < 2 ? "hello: no version" : why);
	if (v != HANDSHAKE_VERSION)
		return hs_reject(hs, HANDSHAKE_REJECT_VERSION, HANDSHAKE_E_VERSION,
				 "joiner speaks version %llu, this manager %d", (unsigned long long)v,
				 HANDSHAKE_VERSION);
	if (!mp_get_array(o, 4, "hello", why, sizeof(why)) ||
	    !mp_get_bin_exact(&f[2], hs->peer_eph_pk, HS_KEY_LEN, "hello ephemeral key", why,
			      sizeof(why)) ||
	    !mp_get_bin_exact(&f[3], hs->joiner_pk, IDENTITY_PK_LEN, "hello node key", why, sizeof(why)))
		return hs_reject(hs, HANDSHAKE_REJECT_MALFORMED, HANDSHAKE_E_MALFORMED, "%s", why);

	uint8_t rx[HS_KEY_LEN], tx[HS_KEY_LEN];
	if (crypto_kx_server_session_keys(rx, tx, hs->eph_pk, hs->eph_sk, hs->peer_eph_pk) != 0)
		return hs_reject(hs, HANDSHAKE_REJECT_MALFORMED, HANDSHAKE_E_MALFORMED,
				 "hello ephemeral key: not a usable X25519 public key");
	sodium_memzero(rx, sizeof(rx));
	hs_transcript(hs, hs->peer_eph_pk, hs->joiner_pk, hs->eph_pk);
	hs_welcome_key(hs, tx);
	sodium_memzero(hs->eph_sk, sizeof(hs->eph_sk));

	uint8_t msg[64], sig[IDENTITY_SIG_LEN];
	size_t n = auth_signed_bytes(dom_manager_sig, hs->transcript, msg);
	crypto_sign_detached(sig, NULL, msg, n, hs->node.sk);

	uint8_t buf[HANDSHAKE_MAX_SMALL_FRAME];
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, buf, sizeof(buf));
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint8(&pk, HS_MSG_CHALLENGE);
	msgpack_pack_bin_with_body(&pk, hs->root_pk, IDENTITY_PK_LEN);
	msgpack_pack_bin_with_body(&pk, hs->mgr_cert_bytes, hs->mgr_cert_len);
	msgpack_pack_bin_with_body(&pk, hs->eph_pk, HS_KEY_LEN);
	msgpack_pack_bin_with_body(&pk, sig, sizeof(sig));
	if (b.overflow)
		return hs_reject(hs, HANDSHAKE_REJECT_INTERNAL, HANDSHAKE_E_CONFIG,
				 "challenge does not fit in a frame");
	if (frame_queue_push(&hs->out, buf, b.len) != 0)
		return hs_fail(hs, HANDSHAKE_E_NOMEM, "queueing the challenge");
	hs->state = HANDSHAKE_MANAGER_WAIT_PROOF;
	return HANDSHAKE_OK;
}

/* Joiner: CHALLENGE arrived. Checks the manager and answers with PROOF. */
static int on_challenge(struct handshake *hs, const msgpack_object *o, uint64_t now_ms)
{
	char why[256];
	const msgpack_object *f = o->via.array.ptr;
	const uint8_t *cert;
	size_t cert_len;
	uint8_t sig[IDENTITY_SIG_LEN];
	if (!mp_get_array(o, 5, "challenge", why, sizeof(why)) ||
	    !mp_get_bin_exact(&f[1], hs->root_pk, IDENTITY_PK_LEN, "challenge root key", why,
			      sizeof(why)) ||
	    !mp_get_bin(&f[2], IDENTITY_CERT_MAX, &cert, &cert_len, "challenge certificate", why,
			sizeof(why)) ||
	    !mp_get_bin_exact(&f[3], hs->peer_eph_pk, HS_KEY_LEN, "challenge ephemeral key", why,
			      sizeof(why)) ||
	    !mp_get_bin_exact(&f[4], sig, sizeof(sig), "challenge signature", why, sizeof(why)))
		return hs_fail(hs, HANDSHAKE_E_MALFORMED, "%s", why);

	/* Pin the cluster first: nothing this manager says counts unless its root
	 * key is the one the token names. */
	if (!token_matches_root(&hs->token, hs->root_pk))
		return hs_fail(hs, HANDSHAKE_E_DIGEST,
			       "the manager's root key is not the one the token names; the token belongs to another cluster, or the manager is an impostor");
	if (identity_cert_decode(&hs->mgr_cert, cert, cert_len, why, sizeof(why)) != IDENTITY_OK ||
	    identity_cert_verify(&hs->mgr_cert, hs->root_pk, NULL, now_ms, why, sizeof(why)) !=
		    IDENTITY_OK)
		return hs_fail(hs, HANDSHAKE_E_MANAGER_CERT, "%s", why);
	if (hs->mgr_cert.role != IDENTITY_ROLE_MANAGER)
		return hs_fail(hs, HANDSHAKE_E_MANAGER_CERT, "node %s is not a manager",
			       hs->mgr_cert.node_id);
	memcpy(hs->mgr_cert_bytes, cert, cert_len);
	hs->mgr_cert_len = cert_len;

	hs_transcript(hs, hs->eph_pk, hs->node.pk, hs->peer_eph_pk);
	uint8_t msg[64];
	size_t n = auth_signed_bytes(dom_manager_sig, hs->transcript, msg);
	if (crypto_sign_verify_detached(sig, msg, n, hs->mgr_cert.node_pk) != 0)
		return hs_fail(hs, HANDSHAKE_E_MANAGER_SIG,
			       "node %s holds a valid certificate but not its key, or the exchange was tampered with",
			       hs->mgr_cert.node_id);

	uint8_t rx[HS_KEY_LEN], tx[HS_KEY_LEN];
	if (crypto_kx_client_session_keys(rx, tx, hs->eph_pk, hs->eph_sk, hs->peer_eph_pk) != 0)
		return hs_fail(hs, HANDSHAKE_E_MALFORMED,
			       "challenge ephemeral key: not a usable X25519 public key");
	sodium_memzero(tx, sizeof(tx));
	hs_welcome_key(hs, rx);
	sodium_memzero(hs->eph_sk, sizeof(hs->eph_sk));

	uint8_t mac[HS_MAC_LEN], jsig[IDENTITY_SIG_LEN];
	hs_mac(hs, hs->token.secret, mac);
	n = auth_signed_bytes(dom_joiner_sig, hs->transcript, msg);
	crypto_sign_detached(jsig, NULL, msg, n, hs->node.sk);

	uint8_t buf[128];
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, buf, sizeof(buf));
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, HS_MSG_PROOF);
	msgpack_pack_bin_with_body(&pk, mac, sizeof(mac));
	msgpack_pack_bin_with_body(&pk, jsig, sizeof(jsig));
	if (b.overflow || frame_queue_push(&hs->out, buf, b.len) != 0)
		return hs_fail(hs, HANDSHAKE_E_NOMEM, "queueing the proof");
	hs->state = HANDSHAKE_JOINER_WAIT_WELCOME;
	return HANDSHAKE_OK;
}

/* Manager: PROOF arrived. Checks the mac against both secrets. */
static int on_proof(struct handshake *hs, const msgpack_object *o)
{
	char why[160];
	const msgpack_object *f = o->via.array.ptr;
	uint8_t mac[HS_MAC_LEN], sig[IDENTITY_SIG_LEN];
	if (!mp_get_array(o, 3, "proof", why, sizeof(why)) ||
	    !mp_get_bin_exact(&f[1], mac, sizeof(mac), "proof mac", why, sizeof(why)) ||
	    !mp_get_bin_exact(&f[2], sig, sizeof(sig), "proof signature", why, sizeof(why)))
		return hs_reject(hs, HANDSHAKE_REJECT_MALFORMED, HANDSHAKE_E_MALFORMED, "%s", why);

	/* Both candidates are computed and compared in full whatever the outcome,
	 * so the time taken says nothing about which secret, if any, matched. */
	uint8_t want_w[HS_MAC_LEN], want_m[HS_MAC_LEN];
	hs_mac(hs, hs->worker_secret, want_w);
	hs_mac(hs, hs->manager_secret, want_m);
	int is_w = sodium_memcmp(mac, want_w, HS_MAC_LEN) == 0;
	int is_m = sodium_memcmp(mac, want_m, HS_MAC_LEN) == 0;
	sodium_memzero(want_w, sizeof(want_w));
	sodium_memzero(want_m, sizeof(want_m));
	if (!(is_w | is_m))
		return hs_reject(hs, HANDSHAKE_REJECT_SECRET, HANDSHAKE_E_SECRET,
				 "the proof matches neither the current worker nor the current manager token");

	uint8_t msg[64];
	size_t n = auth_signed_bytes(dom_joiner_sig, hs->transcript, msg);
	if (crypto_sign_verify_detached(sig, msg, n, hs->joiner_pk) != 0)
		return hs_reject(hs, HANDSHAKE_REJECT_PROOF_SIG, HANDSHAKE_E_PROOF_SIG,
				 "signature does not verify under the node key of the hello");
	hs->role = is_m ? IDENTITY_ROLE_MANAGER : IDENTITY_ROLE_WORKER;
	hs->state = HANDSHAKE_MANAGER_ISSUE;
	return HANDSHAKE_OK;
}

/* Joiner: WELCOME arrived. Opens it and checks the issued certificate. */
static int on_welcome(struct handshake *hs, const msgpack_object *o, uint64_t now_ms)
{
	char why[256];
	const msgpack_object *f = o->via.array.ptr;
	const uint8_t *box;
	size_t box_len;
	if (!mp_get_array(o, 2, "welcome", why, sizeof(why)) ||
	    !mp_get_bin(&f[1], HANDSHAKE_MAX_FRAME, &box, &box_len, "welcome box", why, sizeof(why)))
		return hs_fail(hs, HANDSHAKE_E_MALFORMED, "%s", why);
	if (box_len < crypto_aead_xchacha20poly1305_ietf_ABYTES)
		return hs_fail(hs, HANDSHAKE_E_MALFORMED, "welcome box: %zu bytes, shorter than its tag",
			       box_len);
	size_t plain_cap = box_len - crypto_aead_xchacha20poly1305_ietf_ABYTES;
	uint8_t *plain = malloc(plain_cap > 0 ? plain_cap : 1);
	if (plain == NULL)
		return hs_fail(hs, HANDSHAKE_E_NOMEM, "opening the welcome");
	static const uint8_t zero_nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long plain_len = 0;
	int rc = HANDSHAKE_OK;
	msgpack_zone zone;
	bool zone_ready = false;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plain_len, NULL, box, box_len,
						       hs->transcript, HS_KEY_LEN, zero_nonce,
						       hs->welcome_key) != 0) {
		rc = hs_fail(hs, HANDSHAKE_E_WELCOME_AUTH,
			     "it was not sealed for this session (tampered with, or not from the manager that signed the challenge)");
		goto err_after_plain;
	}
	if (!msgpack_zone_init(&zone, 1024)) {
		rc = hs_fail(hs, HANDSHAKE_E_NOMEM, "opening the welcome");
		goto err_after_plain;
	}
	zone_ready = true;
	msgpack_object in;
	const uint8_t *cert, *payload;
	size_t cert_len, payload_len;
	if (!mp_unpack_exact(&zone, plain, (size_t)plain_len, &in, "welcome contents", why,
			     sizeof(why)) ||
	    !mp_get_array(&in, 2, "welcome contents", why, sizeof(why)) ||
	    !mp_get_bin(&in.via.array.ptr[0], IDENTITY_CERT_MAX, &cert, &cert_len,
			"welcome certificate", why, sizeof(why)) ||
	    !mp_get_bin(&in.via.array.ptr[1], HANDSHAKE_MAX_PAYLOAD, &payload, &payload_len,
			"welcome payload", why, sizeof(why))) {
		rc = hs_fail(hs, HANDSHAKE_E_MALFORMED, "%s", why);
		goto err_after_zone;
	}
	if (identity_cert_decode(&hs->issued, cert, cert_len, why, sizeof(why)) != IDENTITY_OK ||
	    identity_cert_verify(&hs->issued, hs->root_pk, hs->mgr_cert.cluster_id, now_ms, why,
				 sizeof(why)) != IDENTITY_OK) {
		rc = hs_fail(hs, HANDSHAKE_E_ISSUED_CERT, "%s", why);
		goto err_after_zone;
	}
	if (sodium_memcmp(hs->issued.node_pk, hs->node.pk, IDENTITY_PK_LEN) != 0) {
		rc = hs_fail(hs, HANDSHAKE_E_ISSUED_CERT, "it was issued for another node key");
		goto err_after_zone;
	}
	hs->payload = malloc(payload_len > 0 ? payload_len : 1);
	if (hs->payload == NULL) {
		rc = hs_fail(hs, HANDSHAKE_E_NOMEM, "copying the payload");
		goto err_after_zone;
	}
	if (payload_len > 0)
		memcpy(hs->payload, payload, payload_len);
	hs->payload_len = payload_len;
	memcpy(hs->issued_bytes, cert, cert_len);
	hs->issued_len = cert_len;
	sodium_memzero(hs->welcome_key, sizeof(hs->welcome_key));
	hs->state = HANDSHAKE_DONE;
err_after_zone:
	if (zone_ready)
		msgpack_zone_destroy(&zone);
err_after_plain:
	sodium_memzero(plain, plain_cap > 0 ? plain_cap : 1);
	free(plain);
	return rc;
}

/* Joiner: REJECT arrived. */
static int on_reject(struct handshake *hs, const msgpack_object *o)
{
	char why[160];
	uint64_t reason;
	if (!mp_get_array(o, 2, "reject", why, sizeof(why)) ||
	    !mp_get_uint(&o->via.array.ptr[1], 0, UINT64_MAX, &reason, "reject reason", why,
			 sizeof(why)))
		return hs_fail(hs, HANDSHAKE_E_MALFORMED, "%s", why);
	if (reason == HANDSHAKE_REJECT_SECRET)
		return hs_fail(hs, HANDSHAKE_E_SECRET,
			       "the manager refused the proof (wrong token, or one rotated since)");
	return hs_fail(hs, HANDSHAKE_E_REJECTED, "%s (reason %llu)", reject_text(reason),
		       (unsigned long long)reason);
}

/* One complete message body. */
static int on_message(struct handshake *hs, const uint8_t *body, size_t n, uint64_t now_ms)
{
	char why[160];
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024))
		return hs_fail(hs, HANDSHAKE_E_NOMEM, "decoding a message");
	msgpack_object o;
	uint64_t type;
	int rc;
	if (!mp_unpack_exact(&zone, body, n, &o, "message", why, sizeof(why)) ||
	    !msg_type(&o, &type, why, sizeof(why)))
		rc = hs_reject(hs, HANDSHAKE_REJECT_MALFORMED, HANDSHAKE_E_MALFORMED, "%s", why);
	else if (hs->state == HANDSHAKE_MANAGER_WAIT_HELLO && type == HS_MSG_HELLO)
		rc = on_hello(hs, &o);
	else if (hs->state == HANDSHAKE_MANAGER_WAIT_PROOF && type == HS_MSG_PROOF)
		rc = on_proof(hs, &o);
	else if (hs->state == HANDSHAKE_JOINER_WAIT_CHALLENGE && type == HS_MSG_CHALLENGE)
		rc = on_challenge(hs, &o, now_ms);
	else if (hs->state == HANDSHAKE_JOINER_WAIT_WELCOME && type == HS_MSG_WELCOME)
		rc = on_welcome(hs, &o, now_ms);
	else if ((hs->state == HANDSHAKE_JOINER_WAIT_CHALLENGE ||
		  hs->state == HANDSHAKE_JOINER_WAIT_WELCOME) && type == HS_MSG_REJECT)
		rc = on_reject(hs, &o);
	else
		rc = hs_reject(hs, HANDSHAKE_REJECT_MALFORMED, HANDSHAKE_E_UNEXPECTED,
			       "message type %llu while %s", (unsigned long long)type,
			       state_name(hs->state));
	msgpack_zone_destroy(&zone);
	return rc;
}

static bool hs_wants_input(const struct handshake *hs)
{
	return hs->state == HANDSHAKE_JOINER_WAIT_CHALLENGE ||
	       hs->state == HANDSHAKE_JOINER_WAIT_WELCOME ||
	       hs->state == HANDSHAKE_MANAGER_WAIT_HELLO || hs->state == HANDSHAKE_MANAGER_WAIT_PROOF;
}

int handshake_feed(struct handshake *hs, const uint8_t *data, size_t len, uint64_t now_ms,
		   size_t *consumed)
{
	size_t used = 0, k;
	while (used < len && hs_wants_input(hs)) {
		enum frame_step step = frame_reader_step(&hs->in, data + used, len - used, &k);
		used += k;
		if (step == FRAME_STEP_MORE)
			break;
		if (step == FRAME_STEP_LENGTH) {
			size_t n = hs->in.payload_len;
			size_t limit = hs->state == HANDSHAKE_JOINER_WAIT_WELCOME ? HANDSHAKE_MAX_FRAME
										  : HANDSHAKE_MAX_SMALL_FRAME;
			if (n == 0 || n > limit) {
				hs_reject(hs, HANDSHAKE_REJECT_MALFORMED, HANDSHAKE_E_FRAME,
					  "message of %zu bytes while %s (1 to %zu allowed)", n,
					  state_name(hs->state), limit);
				break;
			}
			if (frame_reader_expect(&hs->in) != 0) {
				hs_fail(hs, HANDSHAKE_E_NOMEM, "message of %zu bytes", n);
				break;
			}
			continue;
		}
		on_message(hs, hs->in.payload, hs->in.payload_len, now_ms);
		sodium_memzero(hs->in.payload, hs->in.payload_len);
		frame_reader_next(&hs->in);
	}
	if (consumed != NULL)
		*consumed = used;
	return hs->state == HANDSHAKE_FAILED ? hs->err_code : HANDSHAKE_OK;
}

int handshake_eof(struct handshake *hs)
{
	if (hs->state == HANDSHAKE_DONE)
		return HANDSHAKE_OK;
	if (hs->state == HANDSHAKE_FAILED)
		return hs->err_code;
	if (hs->in.header_have == FRAME_HEADER_LEN)
		return hs_fail(hs, HANDSHAKE_E_CLOSED, "a message was cut short (%zu of %zu bytes) while %s",
			       hs->in.payload_have, hs->in.payload_len, state_name(hs->state));
	if (hs->in.header_have > 0)
		return hs_fail(hs, HANDSHAKE_E_CLOSED,
			       "a length prefix was cut short (%zu of %d bytes) while %s", hs->in.header_have,
			       HANDSHAKE_FRAME_HDR, state_name(hs->state));
	return hs_fail(hs, HANDSHAKE_E_CLOSED, "while %s", state_name(hs->state));
}

size_t handshake_output(const struct handshake *hs, const uint8_t **data)
{
	return frame_queue_pending(&hs->out, data);
}

void handshake_output_sent(struct handshake *hs, size_t n)
{
	frame_queue_sent(&hs->out, n);
}

enum handshake_state handshake_state(const struct handshake *hs)
{
	return hs->state;
}

const char *handshake_error(const struct handshake *hs)
{
	return hs->err;
}

enum identity_role handshake_joiner_role(const struct handshake *hs)
{
	return hs->role;
}

const uint8_t *handshake_joiner_node_pk(const struct handshake *hs)
{
	return hs->manager && hs->state == HANDSHAKE_MANAGER_ISSUE ? hs->joiner_pk : NULL;
}

int handshake_manager_issue(struct handshake *hs, const char *node_id, uint64_t issued_at_ms,
			    uint64_t expires_at_ms, const uint8_t *payload, size_t payload_len)
{
	if (!hs->manager || hs->state != HANDSHAKE_MANAGER_ISSUE)
		return HANDSHAKE_E_STATE;
	if (payload_len > HANDSHAKE_MAX_PAYLOAD)
		return HANDSHAKE_E_PAYLOAD;
	if (identity_cert_issue(&hs->issued, node_id, hs->role, hs->joiner_pk,
				hs->mgr_cert.cluster_id, issued_at_ms, expires_at_ms,
				hs->root.sk) != IDENTITY_OK ||
	    identity_cert_encode(&hs->issued, hs->issued_bytes, sizeof(hs->issued_bytes),
				 &hs->issued_len) != IDENTITY_OK)
		return hs_reject(hs, HANDSHAKE_REJECT_INTERNAL, HANDSHAKE_E_CONFIG,
				 "cannot issue a certificate for node id \"%.32s\" valid [%llu, %llu)",
				 node_id, (unsigned long long)issued_at_ms,
				 (unsigned long long)expires_at_ms);

	size_t plain_cap = hs->issued_len + payload_len + 16;
	size_t body_cap = plain_cap + crypto_aead_xchacha20poly1305_ietf_ABYTES + 16;
	uint8_t *plain = malloc(plain_cap);
	uint8_t *body = malloc(body_cap);
	int rc = HANDSHAKE_OK;
	if (plain == NULL || body == NULL) {
		rc = hs_fail(hs, HANDSHAKE_E_NOMEM, "building the welcome");
		goto out;
	}
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, plain, plain_cap);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, hs->issued_bytes, hs->issued_len);
	msgpack_pack_bin_with_body(&pk, payload, payload_len);
	size_t plain_len = b.len;
	size_t box_len = plain_len + crypto_aead_xchacha20poly1305_ietf_ABYTES;

	/* WELCOME = fixarray(2) [4, bin32-or-smaller header, box]; the box is
	 * sealed straight into place after the bin header. */
	mp_buf_init(&b, &pk, body, body_cap);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, HS_MSG_WELCOME);
	msgpack_pack_bin(&pk, box_len);
	if (b.overflow || box_len > body_cap - b.len) {
		rc = hs_fail(hs, HANDSHAKE_E_NOMEM, "welcome buffer too small");
		goto out;
	}
	static const uint8_t zero_nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(body + b.len, &clen, plain, plain_len,
						   hs->transcript, HS_KEY_LEN, NULL, zero_nonce,
						   hs->welcome_key);
	if (frame_queue_push(&hs->out, body, b.len + (size_t)clen) != 0) {
		rc = hs_fail(hs, HANDSHAKE_E_NOMEM, "queueing the welcome");
		goto out;
	}
	sodium_memzero(hs->welcome_key, sizeof(hs->welcome_key));
	hs->state = HANDSHAKE_DONE;
out:
	if (plain != NULL) {
		sodium_memzero(plain, plain_cap);
		free(plain);
	}
	free(body);
	return rc;
}

const struct identity_cert *handshake_issued_cert(const struct handshake *hs)
{
	return hs->state == HANDSHAKE_DONE ? &hs->issued : NULL;
}

const uint8_t *handshake_issued_cert_bytes(const struct handshake *hs, size_t *len)
{
	if (hs->state != HANDSHAKE_DONE)
		return NULL;
	*len = hs->issued_len;
	return hs->issued_bytes;
}

const uint8_t *handshake_root_pk(const struct handshake *hs)
{
	return hs->state == HANDSHAKE_DONE ? hs->root_pk : NULL;
}

const struct identity_cert *handshake_manager_cert(const struct handshake *hs)
{
	return hs->state == HANDSHAKE_DONE ? &hs->mgr_cert : NULL;
}

const uint8_t *handshake_payload(const struct handshake *hs, size_t *len)
{
	if (hs->manager || hs->state != HANDSHAKE_DONE)
		return NULL;
	*len = hs->payload_len;
	return hs->payload;
}
