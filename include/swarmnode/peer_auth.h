/* peer_auth: the sans-I/O peer stream between two nodes of a cluster: mutual authentication with root-signed certificates, then sealed, ordered messages. */
/* No I/O, clock or randomness inside: the caller moves the bytes, passes the
 * wall clock and a fresh random seed, and calls sodium_init() once at startup. */
#ifndef SWARMNODE_PEER_AUTH_H
#define SWARMNODE_PEER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/identity.h"
#include "swarmnode/ids.h"

/*
 * Both nodes hold a node key pair, a certificate for it signed by the
 * cluster's root key (identity.h), the root public key and the cluster id.
 * The dialer (D) opened the TCP connection; the listener (L) accepted it on
 * the cluster port, where the first frame tells a peer HELLO (type 16) from a
 * join HELLO (type 1, handshake.h).
 *
 *   D                                                          L
 *   | HELLO  [16, version, cert_D, eD]                         |
 *   |--------------------------------------------------------->|  eD, eL: fresh X25519 public keys
 *   |                                                          |  L checks cert_D: this cluster, signed
 *   |                                                          |  by the pinned root, valid now, a role
 *   |                                                          |  L accepts, not L itself
 *   |                        HELLO  [16, version, cert_L, eL]  |
 *   |                        AUTH   [17, sig_L]                |  sig_L = Ed25519(L's node key,
 *   |<---------------------------------------------------------|    "swarmnode-peer-v1 listener" || T)
 *   | D checks cert_L the same way (and that it names the      |
 *   | node D meant to reach), then sig_L under cert_L's key    |
 *   | AUTH   [17, sig_D]                                       |
 *   |--------------------------------------------------------->|  sig_D = Ed25519(D's node key,
 *   | up: may send records at once                             |    "swarmnode-peer-v1 dialer" || T)
 *   |                                                          |  L checks sig_D under cert_D's key: up
 *   | RECORD ... (sealed, either direction, any time)          |
 *   |<========================================================>|
 *   | RECORD close                                             |
 *   |--------------------------------------------------------->|
 *
 *   or, from either side instead of its next message:
 *   | REJECT [18, reason]                                      |  reason: enum peer_auth_reject
 *
 * T, the transcript hash, is BLAKE2b-256 of
 *   "swarmnode-peer-v1" || len(HELLO_D) (4 bytes, big-endian) || HELLO_D
 *                       || len(HELLO_L) (4 bytes, big-endian) || HELLO_L
 * over the two HELLO bodies exactly as they crossed the wire.
 *
 * Session keys: crypto_kx session keys from eD (client) and eL (server), then
 *   K_DL = BLAKE2b-256(key = kx key D->L, "swarmnode-peer-v1 dialer->listener" || T)
 *   K_LD = BLAKE2b-256(key = kx key L->D, "swarmnode-peer-v1 listener->dialer" || T)
 *
 * Framing on the stream: every message is a 4-byte big-endian length n, then
 * n bytes. During authentication the n bytes are one msgpack array
 * (1 <= n <= PEER_AUTH_MAX_HS_FRAME):
 *
 *   HELLO   fixarray(4) [ type=16, version: uint=1, cert: bin(<=256), e: bin(32) ]
 *   AUTH    fixarray(2) [ type=17, sig: bin(64) ]
 *   REJECT  fixarray(2) [ type=18, reason: uint ]
 *
 * After AUTH the n bytes are one sealed record (17 <= n <= max message + 17):
 *
 *   +-------------------------------------------+------------------+
 *   | ChaCha20-Poly1305-IETF ciphertext of      | Poly1305 tag     |
 *   |   kind (1 byte: 0 message, 1 close)       | (16 bytes)       |
 *   |   || message bytes (none for close)       |                  |
 *   +-------------------------------------------+------------------+
 *   key: K_DL or K_LD by direction; nonce: 4 zero bytes || the record's
 *   number in its direction (0, 1, 2, ...; 64-bit little-endian); associated
 *   data: the 4-byte length prefix.
 *
 * Why each piece is there:
 * - Each signature covers T, which holds both certificates and both fresh
 *   ephemeral keys: it proves the signer holds the node key of its
 *   certificate (a stolen certificate alone is useless), binds both
 *   identities to this session's keys (no identity misbinding, as SIGMA and
 *   TLS 1.3 bind them), and cannot be replayed into another session. The two
 *   sides sign under different domain strings, so a signature cannot be
 *   reflected back to the side that made it.
 * - L speaks second and signs first: it authenticates itself in its first
 *   flight (1.5 round trips in all), and D, which chose whom to call, learns
 *   that it reached the right node before it proves anything itself.
 * - A man in the middle who changes any byte of either HELLO changes T and
 *   the signatures fail; one who relays them untouched holds no ephemeral
 *   secret and cannot compute the keys.
 * - Records use counter nonces and a key per direction, as WireGuard's and
 *   Noise's transports do, instead of libsodium's secretstream that the first
 *   sketch of this design named: secretstream's push side draws its header
 *   from the system random source inside the call, which a sans-I/O core must
 *   not do (and which would keep the fuzzer and the tests from replaying a
 *   recorded session); the keys here are fresh per session, so a random
 *   header would add nothing. The counter gives what secretstream's did: a
 *   record that is tampered with, dropped, replayed or reordered fails
 *   authentication, because its number is not the one the receiver expects.
 * - The close record is sealed like any other, so a stream that ends without
 *   one was cut (peer_auth_eof says so) and nobody can forge an orderly end;
 *   nothing may follow a close.
 * - The cluster id of a certificate is compared before its signature is
 *   checked: a node of another cluster is refused either way, and "belongs to
 *   another cluster" is what its operator needs to read.
 * - REJECT carries a reason code, not text, and is unauthenticated like a TCP
 *   reset: a network attacker can always stop a stream, never open one.
 * - Certificates cross the wire in the clear: node ids and roles are no
 *   secret inside a cluster (gossip carries them).
 *
 * Timeouts belong to the caller: the shell closes a stream whose
 * authentication has not finished within its deadline.
 */

#define PEER_AUTH_VERSION 1
#define PEER_AUTH_SEED_LEN 32              /* random bytes for the ephemeral X25519 key */
#define PEER_AUTH_FRAME_HDR 4              /* big-endian length prefix */
#define PEER_AUTH_MAX_HS_FRAME 512         /* largest HELLO, AUTH or REJECT body */
#define PEER_AUTH_RECORD_OVERHEAD 17       /* kind byte + Poly1305 tag */
#define PEER_AUTH_DEFAULT_MAX_MESSAGE (1u << 20) /* largest message unless configured */
#define PEER_AUTH_MAX_MESSAGE (16u << 20)  /* largest max_message a configuration may ask for */

/* Message types, the first element of HELLO, AUTH and REJECT. Distinct from
 * the join handshake's 1..5, so the cluster port can serve both. */
enum peer_auth_msg {
	PEER_AUTH_MSG_HELLO = 16,
	PEER_AUTH_MSG_AUTH = 17,
	PEER_AUTH_MSG_REJECT = 18,
};

/* Which roles a side accepts its peer in (a bit set). */
#define PEER_AUTH_ROLE_BIT(role) (1u << (role))
#define PEER_AUTH_ROLES_ANY (PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_WORKER) | PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER))

/* Why a side refused; sent in REJECT. */
enum peer_auth_reject {
	PEER_AUTH_REJECT_VERSION = 1,       /* the HELLO's version is not spoken here */
	PEER_AUTH_REJECT_MALFORMED = 2,     /* a message did not decode */
	PEER_AUTH_REJECT_CLUSTER = 3,       /* the certificate belongs to another cluster */
	PEER_AUTH_REJECT_ROOT = 4,          /* the certificate is not signed by the cluster root */
	PEER_AUTH_REJECT_EXPIRED = 5,       /* the certificate has expired */
	PEER_AUTH_REJECT_NOT_YET_VALID = 6, /* the certificate is not valid yet */
	PEER_AUTH_REJECT_ROLE = 7,          /* the role is not accepted on this stream */
	PEER_AUTH_REJECT_IDENTITY = 8,      /* not the node the dialer meant to reach */
	PEER_AUTH_REJECT_PROOF = 9,         /* the AUTH signature did not verify */
	PEER_AUTH_REJECT_SELF = 10,         /* a node reached itself */
	PEER_AUTH_REJECT_INTERNAL = 11,     /* the refusing side could not go on */
};

/* Error codes, all negative. peer_auth_error gives the full message with
 * details; peer_auth_strerror the short one. */
#define PEER_AUTH_ERRNO_MAP(X)                                                           \
	X(NOMEM, -1, "out of memory")                                                    \
	X(CONFIG, -2, "invalid peer stream configuration")                               \
	X(STATE, -3, "operation not allowed in this stream state")                       \
	X(FRAME, -4, "bad message framing")                                              \
	X(MALFORMED, -5, "malformed peer message")                                       \
	X(UNEXPECTED, -6, "unexpected peer message")                                     \
	X(VERSION, -7, "unsupported peer protocol version")                              \
	X(PEER_CLUSTER, -8, "peer certificate belongs to another cluster")               \
	X(PEER_ROOT, -9, "peer certificate is not signed by this cluster's root key")    \
	X(PEER_EXPIRED, -10, "peer certificate expired")                                 \
	X(PEER_NOT_YET_VALID, -11, "peer certificate is not yet valid")                  \
	X(PEER_ROLE, -12, "peer role not accepted on this stream")                       \
	X(PEER_IDENTITY, -13, "peer is not the node that was dialed")                    \
	X(SELF, -14, "peer is this node itself")                                         \
	X(PEER_PROOF, -15, "peer failed to prove its node key")                          \
	X(REJECTED, -16, "peer refused the stream")                                      \
	X(AUTH, -17, "message failed authentication")                                    \
	X(CLOSED, -18, "connection closed during authentication")                        \
	X(TRUNCATED, -19, "stream ended without a close record")                         \
	X(AFTER_CLOSE, -20, "message after close")                                       \
	X(TOO_BIG, -21, "message too large")

enum peer_auth_err {
	PEER_AUTH_OK = 0,
#define PEER_AUTH_ERR_ENUM(name, val, msg) PEER_AUTH_E_##name = (val),
	PEER_AUTH_ERRNO_MAP(PEER_AUTH_ERR_ENUM)
#undef PEER_AUTH_ERR_ENUM
};

/* The short message of a PEER_AUTH_* code ("unknown error" otherwise). */
const char *peer_auth_strerror(int err);

/* A sentence for a REJECT reason ("unknown reason" otherwise). */
const char *peer_auth_reject_text(uint64_t reason);

enum peer_auth_state {
	PEER_AUTH_DIALER_WAIT_HELLO,   /* HELLO queued; waiting for the listener's HELLO */
	PEER_AUTH_DIALER_WAIT_AUTH,    /* waiting for the listener's AUTH */
	PEER_AUTH_LISTENER_WAIT_HELLO, /* waiting for the dialer's HELLO */
	PEER_AUTH_LISTENER_WAIT_AUTH,  /* HELLO and AUTH queued; waiting for the dialer's AUTH */
	PEER_AUTH_UP,                  /* authenticated: records flow */
	PEER_AUTH_FAILED,              /* failed; peer_auth_error says why */
};

/* One stream, either side. Opaque; wipes its keys when freed. */
struct peer_auth;

struct peer_auth_config {
	bool dialer;                                  /* true: this side opened the connection */
	struct identity_keypair node;                 /* this node's key pair */
	uint8_t cert[IDENTITY_CERT_MAX];              /* this node's encoded certificate */
	size_t cert_len;                              /* its length */
	uint8_t root_pk[IDENTITY_PK_LEN];             /* the cluster's root public key (pinned) */
	char cluster_id[IDS_LEN + 1];                 /* the cluster's id */
	unsigned accept_roles;                        /* PEER_AUTH_ROLE_BIT set the peer must be in */
	char expect_node_id[IDS_LEN + 1];             /* dialer: the node it means to reach, or "" */
	size_t max_message;                           /* largest message either way; 0: the default */
	uint8_t ephemeral_seed[PEER_AUTH_SEED_LEN];   /* fresh random bytes, never reused */
};

/* Starts a side after checking the configuration: the certificate decodes,
 * is for cfg->node's key, verifies against root_pk and cluster_id and is
 * valid at now_ms; accept_roles is not empty; max_message is at most
 * PEER_AUTH_MAX_MESSAGE. A dialer queues its HELLO (see peer_auth_output).
 * The configuration is copied; the caller may wipe it. Returns 0 with *out
 * set (the caller owns it), PEER_AUTH_E_NOMEM, or PEER_AUTH_E_CONFIG with the
 * reason in err (errlen bytes; may be NULL). */
int peer_auth_new(struct peer_auth **out, const struct peer_auth_config *cfg, uint64_t now_ms,
		  char *err, size_t errlen);

/* Wipes and frees. NULL is a no-op. */
void peer_auth_free(struct peer_auth *pa);

enum peer_auth_event_type {
	PEER_AUTH_EV_NONE,    /* nothing yet: all bytes consumed, more are needed */
	PEER_AUTH_EV_UP,      /* authentication finished; peer_auth_peer_cert is valid */
	PEER_AUTH_EV_MESSAGE, /* a message arrived: data, len */
	PEER_AUTH_EV_CLOSED,  /* the peer closed its direction in good order */
};

struct peer_auth_event {
	enum peer_auth_event_type type;
	const uint8_t *data;  /* EV_MESSAGE: the message, valid until the next call on the stream */
	size_t len;           /* its length (may be 0) */
};

/* Feeds bytes received from the peer; now_ms is the wall clock (ms since the
 * Unix epoch) for certificate validity. Consumes bytes up to the end of the
 * first message that produces an event and stops there, setting *consumed
 * and *ev: call again with the rest. Returns 0, or a negative PEER_AUTH_E_*
 * once the stream has failed; from then on every call returns that code.
 * After a failure the output may still hold a REJECT for the peer: flush
 * it, then close. */
int peer_auth_feed(struct peer_auth *pa, const uint8_t *data, size_t len, uint64_t now_ms,
		   size_t *consumed, struct peer_auth_event *ev);

/* The connection ended. Returns 0 if the peer had closed in good order, else
 * fails the stream (PEER_AUTH_E_CLOSED during authentication, saying whether
 * a message was cut short; PEER_AUTH_E_TRUNCATED once up) and returns the
 * failure code. */
int peer_auth_eof(struct peer_auth *pa);

/* Seals one message of len bytes (0 allowed, at most the configured maximum)
 * into the output. Returns 0, PEER_AUTH_E_STATE (not up, or failed),
 * PEER_AUTH_E_AFTER_CLOSE (this side has closed), PEER_AUTH_E_TOO_BIG or
 * PEER_AUTH_E_NOMEM. A refused send leaves the stream as it was. */
int peer_auth_send(struct peer_auth *pa, const uint8_t *msg, size_t len);

/* Queues the close record: this side sends nothing more. Messages from the
 * peer are still delivered until its own close. Returns 0, PEER_AUTH_E_STATE
 * (not up) or PEER_AUTH_E_NOMEM; closing twice is a no-op. */
int peer_auth_close(struct peer_auth *pa);

/* Bytes waiting to be sent: returns their number and points *data at them
 * (valid until the next call on pa). */
size_t peer_auth_output(const struct peer_auth *pa, const uint8_t **data);

/* Marks the first n bytes of the output as sent (n <= peer_auth_output's). */
void peer_auth_output_sent(struct peer_auth *pa, size_t n);

enum peer_auth_state peer_auth_state(const struct peer_auth *pa);

/* The failure code (0 while there is none) and the failure as "what failed:
 * why" ("" while there is none). */
int peer_auth_error_code(const struct peer_auth *pa);
const char *peer_auth_error(const struct peer_auth *pa);

/* The REJECT reason this side sent (0 if it sent none). */
enum peer_auth_reject peer_auth_reject_sent(const struct peer_auth *pa);

/* The peer's certificate, verified, once the stream is up (NULL before, and
 * after a failure during authentication). */
const struct identity_cert *peer_auth_peer_cert(const struct peer_auth *pa);

/* The node id the peer's HELLO claimed, verified or not ("" before its HELLO
 * decoded): for log lines about refused peers. */
const char *peer_auth_claimed_id(const struct peer_auth *pa);

/* Whether this side queued its close, and whether the peer's close arrived. */
bool peer_auth_sent_close(const struct peer_auth *pa);
bool peer_auth_peer_closed(const struct peer_auth *pa);

/* Classifies the first frame body a listener read on the cluster port:
 * true if it is a msgpack array whose first element is PEER_AUTH_MSG_HELLO,
 * that is, a peer stream and not a join. Checks bounds before reading. */
bool peer_auth_is_hello(const uint8_t *body, size_t len);

#endif
