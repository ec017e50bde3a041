/* peer_auth: the sans-I/O peer stream between two nodes of a cluster: mutual authentication with root-signed certificates, then sealed, ordered messages. */
#include "swarmnode/peer_auth.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_common.h"
#include "mp_wire.h"
#include "swarmnode/frame.h"

#define PA_KEY_LEN 32 /* X25519 keys, transcript hash, session keys */
#define PA_TAG_LEN crypto_aead_chacha20poly1305_ietf_ABYTES
#define PA_NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES

/* Record kinds, the first plaintext byte of every sealed record. */
enum pa_kind {
	PA_KIND_MESSAGE = 0,
	PA_KIND_CLOSE = 1,
};

_Static_assert(PEER_AUTH_FRAME_HDR == FRAME_HEADER_LEN, "frames as frame.h reads and writes them");
_Static_assert(PEER_AUTH_SEED_LEN == crypto_kx_SEEDBYTES, "kx seed size");
_Static_assert(PA_KEY_LEN == crypto_kx_PUBLICKEYBYTES, "kx public key size");
_Static_assert(PA_KEY_LEN == crypto_kx_SESSIONKEYBYTES, "kx session key size");
_Static_assert(PA_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "aead key size");
_Static_assert(PA_KEY_LEN == AUTH_HASH_LEN, "transcript hash size");
_Static_assert(PA_TAG_LEN + 1 == PEER_AUTH_RECORD_OVERHEAD, "record overhead");
_Static_assert(PA_NONCE_LEN == 12, "IETF nonce: 4 zero bytes and a 64-bit counter");
_Static_assert(IDENTITY_CERT_MAX + 64 <= PEER_AUTH_MAX_HS_FRAME, "a HELLO fits in a frame");

/* Domain strings: each hash and signature of the protocol has its own. */
static const char dom_transcript[] = "swarmnode-peer-v1";
static const char dom_listener_sig[] = "swarmnode-peer-v1 listener";
static const char dom_dialer_sig[] = "swarmnode-peer-v1 dialer";
static const char dom_key_dl[] = "swarmnode-peer-v1 dialer->listener";
static const char dom_key_ld[] = "swarmnode-peer-v1 listener->dialer";

struct peer_auth {
	bool dialer;                               /* which side this is */
	enum peer_auth_state state;                /* where the stream stands */
	int err_code;                              /* PEER_AUTH_E_* once failed, else 0 */
	char err[384];                             /* "what failed: why" once failed */
	enum peer_auth_reject reject_sent;         /* the REJECT reason this side sent, or 0 */

	/* Own keys and configuration. */
	struct identity_keypair node;              /* our node key pair */
	struct identity_cert cert;                 /* our certificate, decoded */
	uint8_t cert_bytes[IDENTITY_CERT_MAX];     /* and encoded */
	size_t cert_len;                           /* its length */
	uint8_t root_pk[IDENTITY_PK_LEN];          /* the pinned root key */
	char cluster_id[IDS_LEN + 1];              /* our cluster */
	unsigned accept_roles;                     /* roles the peer may have */
	char expect_id[IDS_LEN + 1];               /* dialer: the node meant, or "" */
	size_t max_message;                        /* largest message either way */
	uint8_t eph_pk[PA_KEY_LEN];                /* our ephemeral X25519 public key */
	uint8_t eph_sk[PA_KEY_LEN];                /* and its secret key (wiped once used) */

	/* Learned during authentication. */
	uint8_t hello[PEER_AUTH_MAX_HS_FRAME];     /* dialer: our HELLO body, for T */
	size_t hello_len;                          /* its length */
	struct identity_cert peer;                 /* the peer's certificate (trusted once up) */
	char claimed_id[IDS_LEN + 1];              /* the id its HELLO claimed, for logs */
	uint8_t transcript[PA_KEY_LEN];            /* T */

	/* Records. */
	uint8_t tx_key[PA_KEY_LEN];                /* our direction's key */
	uint8_t rx_key[PA_KEY_LEN];                /* the peer's direction's key */
	uint64_t tx_seq;                           /* number of the next record we seal */
	uint64_t rx_seq;                           /* number of the next record we expect */
	bool sent_close;                           /* our close record is queued */
	bool peer_closed;                          /* the peer's close record arrived */
	bool authenticated;                        /* the stream reached UP (perhaps failed since) */

	/* Framing: one frame at a time into a buffer reused across frames. */
	struct frame_reader in;                    /* the frame being read (owned) */
	uint8_t *plain;                            /* the last opened record (owned) */
	size_t plain_cap;                          /* allocated size of plain */
	struct frame_queue out;                    /* frames for the caller to send (owned) */
};

const char *peer_auth_strerror(int err)
{
	switch (err) {
	case PEER_AUTH_OK:
		return "success";
#define PEER_AUTH_ERR_CASE(name, val, msg) \
	case PEER_AUTH_E_##name:           \
		return msg;
		PEER_AUTH_ERRNO_MAP(PEER_AUTH_ERR_CASE)
#undef PEER_AUTH_ERR_CASE
	}
	return "unknown error";
}

const char *peer_auth_reject_text(uint64_t reason)
{
	switch (reason) {
	case PEER_AUTH_REJECT_VERSION: return "it does not speak our protocol version";
	case PEER_AUTH_REJECT_MALFORMED: return "it could not decode our message";
	case PEER_AUTH_REJECT_CLUSTER: return "our certificate belongs to another cluster";
	case PEER_AUTH_REJECT_ROOT: return "our certificate is not signed by its cluster's root key";
	case PEER_AUTH_REJECT_EXPIRED: return "our certificate has expired";
	case PEER_AUTH_REJECT_NOT_YET_VALID: return "our certificate is not valid yet (clock skew?)";
	case PEER_AUTH_REJECT_ROLE: return "our role is not accepted on this stream";
	case PEER_AUTH_REJECT_IDENTITY: return "we are not the node it meant to reach";
	case PEER_AUTH_REJECT_PROOF: return "our signature did not verify";
	case PEER_AUTH_REJECT_SELF: return "it is ourselves";
	case PEER_AUTH_REJECT_INTERNAL: return "it could not go on";
	}
	return "unknown reason";
}

static const char *state_name(enum peer_auth_state s)
{
	switch (s) {
	case PEER_AUTH_DIALER_WAIT_HELLO: return "waiting for the listener's hello";
	case PEER_AUTH_DIALER_WAIT_AUTH: return "waiting for the listener's signature";
	case PEER_AUTH_LISTENER_WAIT_HELLO: return "waiting for the dialer's hello";
	case PEER_AUTH_LISTENER_WAIT_AUTH: return "waiting for the dialer's signature";
	case PEER_AUTH_UP: return "up";
	case PEER_AUTH_FAILED: return "failed";
	}
	return "unknown";
}

static bool authenticating(const struct peer_auth *pa)
{
	return pa->state == PEER_AUTH_DIALER_WAIT_HELLO || pa->state == PEER_AUTH_DIALER_WAIT_AUTH ||
	       pa->state == PEER_AUTH_LISTENER_WAIT_HELLO || pa->state == PEER_AUTH_LISTENER_WAIT_AUTH;
}

/* Fails the stream with code and "<short>: <detail>", keeping the first
 * failure, and wipes every key. Returns the code. */
static int pa_fail(struct peer_auth *pa, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int pa_fail(struct peer_auth *pa, int code, const char *fmt, ...)
{
	if (pa->state == PEER_AUTH_FAILED)
		return pa->err_code;
	pa->state = PEER_AUTH_FAILED;
	pa->err_code = code;
	va_list ap;
	va_start(ap, fmt);
	auth_format_error(pa->err, sizeof(pa->err), peer_auth_strerror(code), fmt, ap);
	va_end(ap);
	sodium_memzero(pa->eph_sk, sizeof(pa->eph_sk));
	sodium_memzero(pa->tx_key, sizeof(pa->tx_key));
	sodium_memzero(pa->rx_key, sizeof(pa->rx_key));
	return code;
}

/* Queues REJECT (while authenticating) and fails with code. */
static int pa_reject(struct peer_auth *pa, enum peer_auth_reject reason, int code, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
static int pa_reject(struct peer_auth *pa, enum peer_auth_reject reason, int code, const char *fmt,
		     ...)
{
	if (pa->state == PEER_AUTH_FAILED)
		return pa->err_code;
	if (authenticating(pa)) {
		uint8_t buf[8];
		struct mp_buf b;
		msgpack_packer pk;
		mp_buf_init(&b, &pk, buf, sizeof(buf));
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, PEER_AUTH_MSG_REJECT);
		msgpack_pack_uint8(&pk, (uint8_t)reason);
		if (frame_queue_push(&pa->out, buf, b.len) == 0) /* best effort: else the peer sees a close */
			pa->reject_sent = reason;
	}
	char detail[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return pa_fail(pa, code, "%s", detail);
}

/* Encodes our HELLO into buf (PEER_AUTH_MAX_HS_FRAME bytes); returns its length. */
static size_t pa_hello(const struct peer_auth *pa, uint8_t *buf)
{
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, buf, PEER_AUTH_MAX_HS_FRAME);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, PEER_AUTH_MSG_HELLO);
	msgpack_pack_uint8(&pk, PEER_AUTH_VERSION);
	msgpack_pack_bin_with_body(&pk, pa->cert_bytes, pa->cert_len);
	msgpack_pack_bin_with_body(&pk, pa->eph_pk, PA_KEY_LEN);
	return b.overflow ? 0 : b.len; /* cannot overflow: see the static assertion */
}

/* T = BLAKE2b-256(domain || len(HELLO_D) || HELLO_D || len(HELLO_L) || HELLO_L),
 * each len 4 bytes big-endian like a frame header. */
static void pa_transcript(struct peer_auth *pa, const uint8_t *hd, size_t hd_len, const uint8_t *hl,
			  size_t hl_len)
{
	crypto_generichash_state st;
	uint8_t len[4];
	crypto_generichash_init(&st, NULL, 0, PA_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)dom_transcript, sizeof(dom_transcript) - 1);
	frame_header(len, (uint32_t)hd_len);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, hd, hd_len);
	frame_header(len, (uint32_t)hl_len);
	crypto_generichash_update(&st, len, sizeof(len));
	crypto_generichash_update(&st, hl, hl_len);
	crypto_generichash_final(&st, pa->transcript, PA_KEY_LEN);
}

/* key = BLAKE2b-256(key = kx key, domain || T); wipes kx_key. */
static void pa_derive(const struct peer_auth *pa, uint8_t kx_key[PA_KEY_LEN], const char *domain,
		      uint8_t out[PA_KEY_LEN])
{
	auth_keyed_hash(kx_key, PA_KEY_LEN, domain, pa->transcript, out);
	sodium_memzero(kx_key, PA_KEY_LEN);
}

/* The record keys from the peer's ephemeral key and T. Returns false when
 * the peer's key is not a usable X25519 public key. */
static bool pa_keys(struct peer_auth *pa, const uint8_t peer_eph[PA_KEY_LEN])
{
	uint8_t rx[PA_KEY_LEN], tx[PA_KEY_LEN];
	int rc = pa->dialer ? crypto_kx_client_session_keys(rx, tx, pa->eph_pk, pa->eph_sk, peer_eph)
			    : crypto_kx_server_session_keys(rx, tx, pa->eph_pk, pa->eph_sk, peer_eph);
	sodium_memzero(pa->eph_sk, sizeof(pa->eph_sk));
	if (rc != 0)
		return false;
	pa_derive(pa, tx, pa->dialer ? dom_key_dl : dom_key_ld, pa->tx_key);
	pa_derive(pa, rx, pa->dialer ? dom_key_ld : dom_key_dl, pa->rx_key);
	return true;
}

/* Signs T on our side's domain and queues AUTH. */
static int pa_queue_auth(struct peer_auth *pa)
{
	uint8_t msg[64], sig[IDENTITY_SIG_LEN], buf[80];
	size_t n = auth_signed_bytes(pa->dialer ? dom_dialer_sig : dom_listener_sig, pa->transcript, msg);
	crypto_sign_detached(sig, NULL, msg, n, pa->node.sk);
	struct mp_buf b;
	msgpack_packer pk;
	mp_buf_init(&b, &pk, buf, sizeof(buf));
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, PEER_AUTH_MSG_AUTH);
	msgpack_pack_bin_with_body(&pk, sig, sizeof(sig));
	if (b.overflow || frame_queue_push(&pa->out, buf, b.len) != 0)
		return pa_fail(pa, PEER_AUTH_E_NOMEM, "queueing our signature");
	return PEER_AUTH_OK;
}

int peer_auth_new(struct peer_auth **out, const struct peer_auth_config *cfg, uint64_t now_ms,
		  char *err, size_t errlen)
{
	struct identity_cert cert;
	char why[256];
	uint8_t pk[IDENTITY_PK_LEN];
	if (cfg->cert_len > IDENTITY_CERT_MAX ||
	    identity_cert_decode(&cert, cfg->cert, cfg->cert_len, why, sizeof(why)) != IDENTITY_OK) {
		if (cfg->cert_len > IDENTITY_CERT_MAX)
			snprintf(why, sizeof(why), "certificate of %zu bytes", cfg->cert_len);
		mp_fail(err, errlen, "this node's certificate: %s", why);
		return PEER_AUTH_E_CONFIG;
	}
	if (identity_cert_verify(&cert, cfg->root_pk, cfg->cluster_id, now_ms, why, sizeof(why)) !=
	    IDENTITY_OK) {
		mp_fail(err, errlen, "this node's certificate: %s", why);
		return PEER_AUTH_E_CONFIG;
	}
	crypto_sign_ed25519_sk_to_pk(pk, cfg->node.sk);
	if (sodium_memcmp(pk, cfg->node.pk, IDENTITY_PK_LEN) != 0 ||
	    sodium_memcmp(cert.node_pk, cfg->node.pk, IDENTITY_PK_LEN) != 0) {
		mp_fail(err, errlen, "this node's certificate: it is not for this node's key");
		return PEER_AUTH_E_CONFIG;
	}
	if ((cfg->accept_roles & PEER_AUTH_ROLES_ANY) == 0) {
		mp_fail(err, errlen, "no peer role is accepted");
		return PEER_AUTH_E_CONFIG;
	}
	if (cfg->max_message > PEER_AUTH_MAX_MESSAGE) {
		mp_fail(err, errlen, "largest message of %zu bytes, more than %u", cfg->max_message,
			PEER_AUTH_MAX_MESSAGE);
		return PEER_AUTH_E_CONFIG;
	}
	if (cfg->dialer && cfg->expect_node_id[0] != '\0' && !ids_valid(cfg->expect_node_id)) {
		mp_fail(err, errlen, "expected node id \"%.32s\" is not a node id", cfg->expect_node_id);
		return PEER_AUTH_E_CONFIG;
	}
	struct peer_auth *pa = calloc(1, sizeof(*pa));
	if (pa == NULL)
		return PEER_AUTH_E_NOMEM;
	pa->dialer = cfg->dialer;
	pa->node = cfg->node;
	pa->cert = cert;
	memcpy(pa->cert_bytes, cfg->cert, cfg->cert_len);
	pa->cert_len = cfg->cert_len;
	memcpy(pa->root_pk, cfg->root_pk, IDENTITY_PK_LEN);
	memcpy(pa->cluster_id, cert.cluster_id, sizeof(pa->cluster_id));
	pa->accept_roles = cfg->accept_roles;
	if (cfg->dialer)
		memcpy(pa->expect_id, cfg->expect_node_id, sizeof(pa->expect_id));
	pa->expect_id[IDS_LEN] = '\0';
	pa->max_message = cfg->max_message ? cfg->max_message : PEER_AUTH_DEFAULT_MAX_MESSAGE;
	crypto_kx_seed_keypair(pa->eph_pk, pa->eph_sk, cfg->ephemeral_seed);
	if (pa->dialer) {
		pa->hello_len = pa_hello(pa, pa->hello);
		if (pa->hello_len == 0 || frame_queue_push(&pa->out, pa->hello, pa->hello_len) != 0) {
			peer_auth_free(pa);
			return PEER_AUTH_E_NOMEM;
		}
		pa->state = PEER_AUTH_DIALER_WAIT_HELLO;
	} else {
		pa->state = PEER_AUTH_LISTENER_WAIT_HELLO;
	}
	*out = pa;
	return PEER_AUTH_OK;
}

void peer_auth_free(struct peer_auth *pa)
{
	if (pa == NULL)
		return;
	frame_reader_close(&pa->in);
	if (pa->plain != NULL) {
		sodium_memzero(pa->plain, pa->plain_cap);
		free(pa->plain);
	}
	frame_queue_close(&pa->out);
	sodium_memzero(pa, sizeof(*pa));
	free(pa);
}

/* Maps identity_cert_verify's verdict on the peer's certificate to ours. */
static int pa_cert_refused(struct peer_auth *pa, int rc, const char *why)
{
	switch (rc) {
	case IDENTITY_E_SIGNATURE:
		return pa_reject(pa, PEER_AUTH_REJECT_ROOT, PEER_AUTH_E_PEER_ROOT, "%s", why);
	case IDENTITY_E_CLUSTER:
		return pa_reject(pa, PEER_AUTH_REJECT_CLUSTER, PEER_AUTH_E_PEER_CLUSTER, "%s", why);
	case IDENTITY_E_NOT_YET_VALID:
		return pa_reject(pa, PEER_AUTH_REJECT_NOT_YET_VALID, PEER_AUTH_E_PEER_NOT_YET_VALID, "%s",
				 why);
	case IDENTITY_E_EXPIRED:
		return pa_reject(pa, PEER_AUTH_REJECT_EXPIRED, PEER_AUTH_E_PEER_EXPIRED, "%s", why);
	default:
		return pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED, "%s", why);
	}
}

/* Either side: the peer's HELLO arrived. Checks it; on success peer_eph
 * holds its ephemeral key and pa->peer its certificate. */
static int pa_check_hello(struct peer_auth *pa, const msgpack_object *o, uint64_t now_ms,
			  uint8_t peer_eph[PA_KEY_LEN])
{
	char why[256];
	uint64_t v;
	const msgpack_object *f = o->via.array.ptr;
	const uint8_t *cert;
	size_t cert_len;
	/* The version comes before the shape: another version may shape HELLO differently. */
	if (o->via.array.size < 2 ||
	    !mp_get_uint(&f[1], 0, UINT64_MAX, &v, "hello version", why, sizeof(why)))
		return pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED, "%s",
				 o->via.array.size < 2 ? "hello: no version" : why);
	if (v != PEER_AUTH_VERSION)
		return pa_reject(pa, PEER_AUTH_REJECT_VERSION, PEER_AUTH_E_VERSION,
				 "peer speaks version %llu, this node %d", (unsigned long long)v,
				 PEER_AUTH_VERSION);
	if (!mp_get_array(o, 4, "hello", why, sizeof(why)) ||
	    !mp_get_bin(&f[2], IDENTITY_CERT_MAX, &cert, &cert_len, "hello certificate", why,
			sizeof(why)) ||
	    !mp_get_bin_exact(&f[3], peer_eph, PA_KEY_LEN, "hello ephemeral key", why, sizeof(why)))
		return pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED, "%s", why);
	struct identity_cert *c = &pa->peer;
	if (identity_cert_decode(c, cert, cert_len, why, sizeof(why)) != IDENTITY_OK)
		return pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED, "hello %s", why);
	memcpy(pa->claimed_id, c->node_id, sizeof(pa->claimed_id));
	if (strcmp(c->cluster_id, pa->cluster_id) != 0)
		return pa_reject(pa, PEER_AUTH_REJECT_CLUSTER, PEER_AUTH_E_PEER_CLUSTER,
				 "node %s presents a certificate of cluster %s; this is cluster %s",
				 c->node_id, c->cluster_id, pa->cluster_id);
	int rc = identity_cert_verify(c, pa->root_pk, pa->cluster_id, now_ms, why, sizeof(why));
	if (rc != IDENTITY_OK)
		return pa_cert_refused(pa, rc, why);
	if (strcmp(c->node_id, pa->cert.node_id) == 0 ||
	    sodium_memcmp(c->node_pk, pa->node.pk, IDENTITY_PK_LEN) == 0)
		return pa_reject(pa, PEER_AUTH_REJECT_SELF, PEER_AUTH_E_SELF,
				 "node %s reached itself (its own address among its peers?)", c->node_id);
	if (pa->dialer && pa->expect_id[0] != '\0' && strcmp(pa->expect_id, c->node_id) != 0)
		return pa_reject(pa, PEER_AUTH_REJECT_IDENTITY, PEER_AUTH_E_PEER_IDENTITY,
				 "dialed node %s, reached node %s", pa->expect_id, c->node_id);
	if ((pa->accept_roles & PEER_AUTH_ROLE_BIT(c->role)) == 0)
		return pa_reject(pa, PEER_AUTH_REJECT_ROLE, PEER_AUTH_E_PEER_ROLE,
				 "node %s is a %s; this stream accepts %s only", c->node_id,
				 identity_role_name(c->role),
				 c->role == IDENTITY_ROLE_MANAGER ? "workers" : "managers");
	return PEER_AUTH_OK;
}

/* Listener: the dialer's HELLO arrived. Answers with HELLO and AUTH. */
static int on_dialer_hello(struct peer_auth *pa, const msgpack_object *o, const uint8_t *body,
			   size_t n, uint64_t now_ms)
{
	uint8_t peer_eph[PA_KEY_LEN], hello[PEER_AUTH_MAX_HS_FRAME];
	int rc = pa_check_hello(pa, o, now_ms, peer_eph);
	if (rc != PEER_AUTH_OK)
		return rc;
	size_t hello_len = pa_hello(pa, hello);
	pa_transcript(pa, body, n, hello, hello_len);
	if (!pa_keys(pa, peer_eph))
		return pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED,
				 "hello ephemeral key: not a usable X25519 public key");
	if (hello_len == 0 || frame_queue_push(&pa->out, hello, hello_len) != 0)
		return pa_fail(pa, PEER_AUTH_E_NOMEM, "queueing our hello");
	rc = pa_queue_auth(pa);
	if (rc != PEER_AUTH_OK)
		return rc;
	pa->state = PEER_AUTH_LISTENER_WAIT_AUTH;
	return PEER_AUTH_OK;
}

/* Dialer: the listener's HELLO arrived. */
static int on_listener_hello(struct peer_auth *pa, const msgpack_object *o, const uint8_t *body,
			     size_t n, uint64_t now_ms)
{
	uint8_t peer_eph[PA_KEY_LEN];
	int rc = pa_check_hello(pa, o, now_ms, peer_eph);
	if (rc != PEER_AUTH_OK)
		return rc;
	pa_transcript(pa, pa->hello, pa->hello_len, body, n);
	if (!pa_keys(pa, peer_eph))
		return pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED,
				 "hello ephemeral key: not a usable X25519 public key");
	pa->state = PEER_AUTH_DIALER_WAIT_AUTH;
	return PEER_AUTH_OK;
}

/* Either side: the peer's AUTH arrived. Checks its signature; the dialer
 * then signs in turn. */
static int on_auth(struct peer_auth *pa, const msgpack_object *o)
{
	char why[160];
	uint8_t sig[IDENTITY_SIG_LEN], msg[64];
	if (!mp_get_array(o, 2, "auth", why, sizeof(why)) ||
	    !mp_get_bin_exact(&o->via.array.ptr[1], sig, sizeof(sig), "auth signature", why,
			      sizeof(why)))
		return pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED, "%s", why);
	size_t n = auth_signed_bytes(pa->dialer ? dom_listener_sig : dom_dialer_sig, pa->transcript, msg);
	if (crypto_sign_verify_detached(sig, msg, n, pa->peer.node_pk) != 0)
		return pa_reject(pa, PEER_AUTH_REJECT_PROOF, PEER_AUTH_E_PEER_PROOF,
				 "node %s holds a valid certificate but its signature does not verify under the certificate's key (not the key's holder, or the exchange was tampered with)",
				 pa->peer.node_id);
	if (pa->dialer) {
		int rc = pa_queue_auth(pa);
		if (rc != PEER_AUTH_OK)
			return rc;
	}
	pa->state = PEER_AUTH_UP;
	pa->authenticated = true;
	return PEER_AUTH_OK;
}

/* Either side: a REJECT arrived instead of the next message. */
static int on_reject(struct peer_auth *pa, const msgpack_object *o)
{
	char why[160];
	uint64_t reason;
	if (!mp_get_array(o, 2, "reject", why, sizeof(why)) ||
	    !mp_get_uint(&o->via.array.ptr[1], 0, UINT64_MAX, &reason, "reject reason", why,
			 sizeof(why)))
		return pa_fail(pa, PEER_AUTH_E_MALFORMED, "%s", why);
	if (pa->claimed_id[0] != '\0')
		return pa_fail(pa, PEER_AUTH_E_REJECTED, "node %s: %s (reason %llu)", pa->claimed_id,
			       peer_auth_reject_text(reason), (unsigned long long)reason);
	return pa_fail(pa, PEER_AUTH_E_REJECTED, "%s (reason %llu)", peer_auth_reject_text(reason),
		       (unsigned long long)reason);
}

/* One complete authentication message. Returns the event it makes. */
static enum peer_auth_event_type on_hs_message(struct peer_auth *pa, const uint8_t *body, size_t n,
					       uint64_t now_ms)
{
	char why[160];
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024)) {
		pa_fail(pa, PEER_AUTH_E_NOMEM, "decoding a message");
		return PEER_AUTH_EV_NONE;
	}
	msgpack_object o;
	uint64_t type;
	enum peer_auth_state before = pa->state;
	if (!mp_unpack_exact(&zone, body, n, &o, "message", why, sizeof(why)) ||
	    !mp_get_array_range(&o, 1, 16, "message", why, sizeof(why)) ||
	    !mp_get_uint(&o.via.array.ptr[0], 0, 255, &type, "message type", why, sizeof(why))) {
		pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_MALFORMED, "%s while %s", why,
			  state_name(before));
		goto out;
	}
	if (type == PEER_AUTH_MSG_REJECT) {
		on_reject(pa, &o);
		goto out;
	}
	if (before == PEER_AUTH_LISTENER_WAIT_HELLO && type == PEER_AUTH_MSG_HELLO)
		on_dialer_hello(pa, &o, body, n, now_ms);
	else if (before == PEER_AUTH_DIALER_WAIT_HELLO && type == PEER_AUTH_MSG_HELLO)
		on_listener_hello(pa, &o, body, n, now_ms);
	else if ((before == PEER_AUTH_DIALER_WAIT_AUTH || before == PEER_AUTH_LISTENER_WAIT_AUTH) &&
		 type == PEER_AUTH_MSG_AUTH)
		on_auth(pa, &o);
	else
		pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_UNEXPECTED,
			  "message type %llu while %s", (unsigned long long)type, state_name(before));
out:
	msgpack_zone_destroy(&zone);
	return pa->state == PEER_AUTH_UP ? PEER_AUTH_EV_UP : PEER_AUTH_EV_NONE;
}

static void pa_nonce(uint8_t nonce[PA_NONCE_LEN], uint64_t seq)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(seq >> (8 * i));
}

/* One complete sealed record: opens it with the next expected number. */
static int on_record(struct peer_auth *pa, size_t n, struct peer_auth_event *ev)
{
	uint8_t nonce[PA_NONCE_LEN];
	size_t clen = n - PA_TAG_LEN;
	if (clen > pa->plain_cap) {
		uint8_t *p = realloc(pa->plain, clen);
		if (p == NULL)
			return pa_fail(pa, PEER_AUTH_E_NOMEM, "record of %zu bytes", n);
		pa->plain = p;
		pa->plain_cap = clen;
	}
	if (pa->rx_seq == UINT64_MAX)
		return pa_fail(pa, PEER_AUTH_E_AUTH, "record numbers exhausted");
	pa_nonce(nonce, pa->rx_seq);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(pa->plain, NULL, pa->in.payload, clen,
							       pa->in.payload + clen, pa->in.header,
							       sizeof(pa->in.header), nonce,
							       pa->rx_key) != 0)
		return pa_fail(pa, PEER_AUTH_E_AUTH,
			       "record %llu of %zu bytes from node %s (tampered with, reordered, replayed or not from this session)",
			       (unsigned long long)pa->rx_seq, n, pa->peer.node_id);
	pa->rx_seq++;
	switch (pa->plain[0]) {
	case PA_KIND_MESSAGE:
		ev->type = PEER_AUTH_EV_MESSAGE;
		ev->data = pa->plain + 1;
		ev->len = clen - 1;
		return PEER_AUTH_OK;
	case PA_KIND_CLOSE:
		if (clen != 1)
			return pa_fail(pa, PEER_AUTH_E_MALFORMED, "close record with %zu bytes of contents",
				       clen - 1);
		pa->peer_closed = true;
		ev->type = PEER_AUTH_EV_CLOSED;
		return PEER_AUTH_OK;
	default:
		return pa_fail(pa, PEER_AUTH_E_MALFORMED, "record of unknown kind %u", pa->plain[0]);
	}
}

/* Checks a frame length announced in the current state. */
static bool frame_len_ok(struct peer_auth *pa, size_t n)
{
	if (pa->state == PEER_AUTH_UP) {
		size_t max = pa->max_message + PEER_AUTH_RECORD_OVERHEAD;
		if (n >= PEER_AUTH_RECORD_OVERHEAD && n <= max)
			return true;
		pa_fail(pa, PEER_AUTH_E_FRAME, "record of %zu bytes from node %s (%d to %zu allowed)", n,
			pa->peer.node_id, PEER_AUTH_RECORD_OVERHEAD, max);
		return false;
	}
	if (n >= 1 && n <= PEER_AUTH_MAX_HS_FRAME)
		return true;
	pa_reject(pa, PEER_AUTH_REJECT_MALFORMED, PEER_AUTH_E_FRAME,
		  "message of %zu bytes while %s (1 to %d allowed)", n, state_name(pa->state),
		  PEER_AUTH_MAX_HS_FRAME);
	return false;
}

int peer_auth_feed(struct peer_auth *pa, const uint8_t *data, size_t len, uint64_t now_ms,
		   size_t *consumed, struct peer_auth_event *ev)
{
	size_t used = 0;
	memset(ev, 0, sizeof(*ev));
	if (pa->state == PEER_AUTH_UP && pa->peer_closed && len > 0)
		pa_fail(pa, PEER_AUTH_E_AFTER_CLOSE, "%zu bytes from node %s after its close", len,
			pa->peer.node_id);
	while (used < len && pa->state != PEER_AUTH_FAILED && ev->type == PEER_AUTH_EV_NONE) {
		size_t k;
		enum frame_step step = frame_reader_step(&pa->in, data + used, len - used, &k);
		used += k;
		if (step == FRAME_STEP_MORE)
			break;
		if (step == FRAME_STEP_LENGTH) {
			if (frame_len_ok(pa, pa->in.payload_len) && frame_reader_expect(&pa->in) != 0)
				pa_fail(pa, PEER_AUTH_E_NOMEM, "message of %zu bytes", pa->in.payload_len);
			continue;
		}
		if (pa->state == PEER_AUTH_UP)
			on_record(pa, pa->in.payload_len, ev);
		else
			ev->type = on_hs_message(pa, pa->in.payload, pa->in.payload_len, now_ms);
		frame_reader_next(&pa->in);
	}
	if (pa->state == PEER_AUTH_FAILED)
		memset(ev, 0, sizeof(*ev));
	if (consumed != NULL)
		*consumed = used;
	return pa->state == PEER_AUTH_FAILED ? pa->err_code : PEER_AUTH_OK;
}

int peer_auth_eof(struct peer_auth *pa)
{
	if (pa->state == PEER_AUTH_FAILED)
		return pa->err_code;
	bool partial = pa->in.header_have > 0;
	if (pa->state == PEER_AUTH_UP) {
		if (pa->peer_closed)
			return PEER_AUTH_OK;
		if (partial)
			return pa_fail(pa, PEER_AUTH_E_TRUNCATED,
				       "node %s: cut inside record %llu (%zu of %zu bytes)",
				       pa->peer.node_id, (unsigned long long)pa->rx_seq,
				       pa->in.header_have < PEER_AUTH_FRAME_HDR ? pa->in.header_have : PEER_AUTH_FRAME_HDR + pa->in.payload_have,
				       pa->in.header_have < PEER_AUTH_FRAME_HDR ? (size_t)PEER_AUTH_FRAME_HDR : PEER_AUTH_FRAME_HDR + pa->in.payload_len);
		return pa_fail(pa, PEER_AUTH_E_TRUNCATED, "node %s after %llu records",
			       pa->peer.node_id, (unsigned long long)pa->rx_seq);
	}
	if (partial && pa->in.header_have == PEER_AUTH_FRAME_HDR)
		return pa_fail(pa, PEER_AUTH_E_CLOSED, "a message was cut short (%zu of %zu bytes) while %s",
			       pa->in.payload_have, pa->in.payload_len, state_name(pa->state));
	if (partial)
		return pa_fail(pa, PEER_AUTH_E_CLOSED,
			       "a length prefix was cut short (%zu of %d bytes) while %s", pa->in.header_have,
			       PEER_AUTH_FRAME_HDR, state_name(pa->state));
	return pa_fail(pa, PEER_AUTH_E_CLOSED, "while %s", state_name(pa->state));
}

/* Seals one record of the given kind into the output. */
static int pa_seal(struct peer_auth *pa, uint8_t kind, const uint8_t *msg, size_t len)
{
	uint8_t nonce[PA_NONCE_LEN];
	size_t n = 1 + len + PA_TAG_LEN;
	uint8_t *w = frame_queue_add(&pa->out, n);
	if (w == NULL)
		return PEER_AUTH_E_NOMEM;
	w[PEER_AUTH_FRAME_HDR] = kind;
	if (len > 0)
		memcpy(w + PEER_AUTH_FRAME_HDR + 1, msg, len);
	pa_nonce(nonce, pa->tx_seq);
	/* In place: libsodium's AEADs accept the same buffer as input and output. */
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		w + PEER_AUTH_FRAME_HDR, w + PEER_AUTH_FRAME_HDR + 1 + len, NULL,
		w + PEER_AUTH_FRAME_HDR, 1 + len, w, PEER_AUTH_FRAME_HDR, NULL, nonce, pa->tx_key);
	pa->tx_seq++;
	return PEER_AUTH_OK;
}

int peer_auth_send(struct peer_auth *pa, const uint8_t *msg, size_t len)
{
	if (pa->state != PEER_AUTH_UP)
		return PEER_AUTH_E_STATE;
	if (pa->sent_close)
		return PEER_AUTH_E_AFTER_CLOSE;
	if (len > pa->max_message)
		return PEER_AUTH_E_TOO_BIG;
	if (pa->tx_seq == UINT64_MAX - 1) /* the last number is kept for the close record */
		return PEER_AUTH_E_STATE;
	return pa_seal(pa, PA_KIND_MESSAGE, msg, len);
}

int peer_auth_close(struct peer_auth *pa)
{
	if (pa->state != PEER_AUTH_UP)
		return PEER_AUTH_E_STATE;
	if (pa->sent_close)
		return PEER_AUTH_OK;
	int rc = pa_seal(pa, PA_KIND_CLOSE, NULL, 0);
	if (rc == PEER_AUTH_OK)
		pa->sent_close = true;
	return rc;
}

size_t peer_auth_output(const struct peer_auth *pa, const uint8_t **data)
{
	return frame_queue_pending(&pa->out, data);
}

void peer_auth_output_sent(struct peer_auth *pa, size_t n)
{
	frame_queue_sent(&pa->out, n);
}

enum peer_auth_state peer_auth_state(const struct peer_auth *pa)
{
	return pa->state;
}

int peer_auth_error_code(const struct peer_auth *pa)
{
	return pa->err_code;
}

const char *peer_auth_error(const struct peer_auth *pa)
{
	return pa->err;
}

enum peer_auth_reject peer_auth_reject_sent(const struct peer_auth *pa)
{
	return pa->reject_sent;
}

const struct identity_cert *peer_auth_peer_cert(const struct peer_auth *pa)
{
	/* Once up the certificate stays trusted through a later failure: it says
	 * whom the stream was with. */
	return pa->authenticated ? &pa->peer : NULL;
}

const char *peer_auth_claimed_id(const struct peer_auth *pa)
{
	return pa->claimed_id;
}

bool peer_auth_sent_close(const struct peer_auth *pa)
{
	return pa->sent_close;
}

bool peer_auth_peer_closed(const struct peer_auth *pa)
{
	return pa->peer_closed;
}

bool peer_auth_is_hello(const uint8_t *body, size_t len)
{
	msgpack_zone zone;
	msgpack_object o;
	uint64_t type;
	bool yes = false;
	if (!msgpack_zone_init(&zone, 512))
		return false;
	if (mp_unpack_exact(&zone, body, len, &o, "message", NULL, 0) &&
	    mp_get_array_range(&o, 1, 16, "message", NULL, 0) &&
	    mp_get_uint(&o.via.array.ptr[0], 0, 255, &type, "message type", NULL, 0))
		yes = type == PEER_AUTH_MSG_HELLO;
	msgpack_zone_destroy(&zone);
	return yes;
}
