/* handshake: the sans-I/O join handshake a new node runs with a manager over TCP 2377. */
/* No I/O, clock or randomness inside: the caller moves the bytes, passes the
 * wall clock and fresh random seeds, and calls sodium_init() once at startup. */
#ifndef SWARMNODE_HANDSHAKE_H
#define SWARMNODE_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "swarmnode/identity.h"
#include "swarmnode/ids.h"
#include "swarmnode/token.h"

/*
 * The joiner (J) knows a token (root key digest + secret) and a manager
 * address; the manager (M) holds the root key pair, its own node key pair and
 * root-signed certificate, and the current worker and manager secrets.
 *
 *   J                                                        M
 *   | HELLO     [1, version, eJ, nJ]                         |
 *   |------------------------------------------------------->|  eJ: J's ephemeral X25519 pk
 *   |                                                        |  nJ: J's node Ed25519 pk
 *   |           CHALLENGE [2, root_pk, cert_M, eM, sig_M]    |
 *   |<-------------------------------------------------------|  sig_M = Ed25519(M's node key,
 *   | sha256(root_pk) == token digest?  (else: not this      |          "swarmnode-join-v1 manager" || T)
 *   |   cluster, refuse)                                     |
 *   | cert_M root-signed, role manager, in validity window?  |
 *   | sig_M valid under cert_M's node key?                   |
 *   |                                                        |
 *   | PROOF     [3, mac, sig_J]                              |
 *   |------------------------------------------------------->|  mac = BLAKE2b-256(key = secret,
 *   |                                                        |        "swarmnode-join-v1 proof" || T)
 *   |                                                        |  sig_J = Ed25519(J's node key,
 *   |                                                        |        "swarmnode-join-v1 joiner" || T)
 *   |                                                        |  mac checked against the worker AND the
 *   |                                                        |  manager secret, in constant time; the
 *   |                                                        |  one that matches gives the role
 *   |           WELCOME   [4, box]                           |
 *   |<-------------------------------------------------------|  box = XChaCha20-Poly1305(K, nonce 0,
 *   |                                                        |        ad T, [cert_J, payload])
 *   |   or      REJECT    [5, reason]                        |
 *   |<-------------------------------------------------------|
 *
 * T, the transcript hash, is BLAKE2b-256 of
 *   "swarmnode-join-v1" || version (1 byte) || eJ || nJ || root_pk
 *   || len(cert_M) (4 bytes, big-endian) || cert_M || eM
 * (fixed-size fields and one length-prefixed field: unambiguous).
 * K = BLAKE2b-256(key = crypto_kx session key M->J, "swarmnode-join-v1 welcome" || T),
 * where the crypto_kx keys come from eJ (client) and eM (server).
 * cert_J is a root-signed certificate for nJ with a node id and validity the
 * manager's caller picks; payload is opaque bytes from the manager's caller
 * (the gossip keyring, seed members).
 *
 * Why each piece is there:
 * - The manager proves the root key before the joiner reveals anything that
 *   depends on the secret: only a holder of a root-signed manager certificate
 *   can sign T, so an impostor never sees a mac and cannot mount an offline
 *   guessing attack on the secret (which at 128 bits would fail anyway).
 * - The mac binds the secret to this T: it is useless in any other session
 *   (T contains both fresh ephemeral keys) and reveals nothing about the secret.
 * - sig_J (not in the first sketch of this design) proves that the joiner holds
 *   the secret key of nJ, so a token holder cannot get a certificate issued for
 *   a key that is not its own, as a CSR's self-signature proves in swarmkit.
 * - A man in the middle who swaps eJ or nJ changes T: J then rejects sig_M; one
 *   who passes HELLO through untouched cannot compute K (no ephemeral secret),
 *   so the gossip key in the payload is readable by J alone.
 * - The ephemeral public keys are fresh per session and serve as the nonces of
 *   the sketch, so no separate nonce fields are sent.
 * - K is used for exactly one message, so the fixed zero nonce is safe.
 * - REJECT carries a reason code, not text: the joiner prints its own message,
 *   never attacker-chosen bytes. REJECT is unauthenticated, like a TCP reset:
 *   a network attacker can always stop a join, but cannot make one succeed.
 *
 * Framing on the stream: each message is a 4-byte big-endian length n
 * (1 <= n <= the state's limit, at most HANDSHAKE_MAX_FRAME) followed by n
 * bytes of one msgpack array, first element the message type:
 *
 *   HELLO     fixarray(4) [ type=1, version: uint=1, eJ: bin(32), nJ: bin(32) ]
 *   CHALLENGE fixarray(5) [ type=2, root_pk: bin(32), cert_M: bin(<=256),
 *                           eM: bin(32), sig_M: bin(64) ]
 *   PROOF     fixarray(3) [ type=3, mac: bin(32), sig_J: bin(64) ]
 *   WELCOME   fixarray(2) [ type=4, box: bin ], box opening to
 *             fixarray(2) [ cert_J: bin(<=256), payload: bin(<=HANDSHAKE_MAX_PAYLOAD) ]
 *   REJECT    fixarray(2) [ type=5, reason: uint (enum handshake_reject) ]
 *
 * Timeouts belong to the caller: the shell closes a connection whose handshake
 * has not finished within its deadline.
 */

#define HANDSHAKE_VERSION 1
#define HANDSHAKE_SEED_LEN 32          /* random bytes for the ephemeral X25519 key */
#define HANDSHAKE_FRAME_HDR 4          /* big-endian length prefix */
#define HANDSHAKE_MAX_FRAME 65536      /* largest message body (a WELCOME) */
#define HANDSHAKE_MAX_SMALL_FRAME 1024 /* largest HELLO, CHALLENGE, PROOF or REJECT body */
#define HANDSHAKE_MAX_PAYLOAD 60000    /* largest opaque payload in a WELCOME */

/* Why a manager refused; sent in REJECT. */
enum handshake_reject {
	HANDSHAKE_REJECT_SECRET = 1,    /* the mac matched neither current secret */
	HANDSHAKE_REJECT_VERSION = 2,   /* the manager does not speak the joiner's version */
	HANDSHAKE_REJECT_MALFORMED = 3, /* a message did not decode */
	HANDSHAKE_REJECT_PROOF_SIG = 4, /* sig_J did not verify under nJ */
	HANDSHAKE_REJECT_INTERNAL = 5,  /* the manager could not issue the identity */
};

/* Error codes, all negative. handshake_error gives the full message with
 * details; handshake_strerror the short one. */
#define HANDSHAKE_ERRNO_MAP(X)                                                          \
	X(NOMEM, -1, "out of memory")                                                   \
	X(CONFIG, -2, "invalid handshake configuration")                                \
	X(STATE, -3, "operation not allowed in this handshake state")                   \
	X(FRAME, -4, "bad message framing")                                             \
	X(MALFORMED, -5, "malformed handshake message")                                 \
	X(UNEXPECTED, -6, "unexpected handshake message")                               \
	X(VERSION, -7, "unsupported handshake version")                                 \
	X(DIGEST, -8, "token does not match this cluster (digest mismatch)")            \
	X(MANAGER_CERT, -9, "manager certificate invalid")                              \
	X(MANAGER_SIG, -10, "manager failed to prove its identity (bad transcript signature)") \
	X(SECRET, -11, "invalid join token secret")                                     \
	X(PROOF_SIG, -12, "joiner failed to prove its node key (bad transcript signature)") \
	X(WELCOME_AUTH, -13, "welcome message failed authentication")                  \
	X(ISSUED_CERT, -14, "issued node certificate invalid")                          \
	X(REJECTED, -15, "manager refused the join")                                    \
	X(CLOSED, -16, "connection closed before the handshake finished")               \
	X(PAYLOAD, -17, "payload too large")

enum handshake_err {
	HANDSHAKE_OK = 0,
#define HANDSHAKE_ERR_ENUM(name, val, msg) HANDSHAKE_E_##name = (val),
	HANDSHAKE_ERRNO_MAP(HANDSHAKE_ERR_ENUM)
#undef HANDSHAKE_ERR_ENUM
};

/* The short message of a HANDSHAKE_* code ("unknown error" otherwise). */
const char *handshake_strerror(int err);

enum handshake_state {
	HANDSHAKE_JOINER_WAIT_CHALLENGE, /* HELLO queued; waiting for CHALLENGE */
	HANDSHAKE_JOINER_WAIT_WELCOME,   /* PROOF queued; waiting for WELCOME or REJECT */
	HANDSHAKE_MANAGER_WAIT_HELLO,    /* waiting for HELLO */
	HANDSHAKE_MANAGER_WAIT_PROOF,    /* CHALLENGE queued; waiting for PROOF */
	HANDSHAKE_MANAGER_ISSUE,         /* proof accepted: call handshake_manager_issue */
	HANDSHAKE_DONE,                  /* finished; results available */
	HANDSHAKE_FAILED,                /* failed; handshake_error says why */
};

/* One handshake, either side. Opaque; wipes its secrets when freed. */
struct handshake;

struct handshake_joiner_config {
	struct token token;                       /* the parsed join token */
	struct identity_keypair node;             /* the joiner's own node key pair */
	uint8_t ephemeral_seed[HANDSHAKE_SEED_LEN]; /* fresh random bytes, never reused */
};

/* Starts the joiner side and queues HELLO (see handshake_output). The
 * configuration is copied; the caller may wipe it. Sets *out to a handshake
 * the caller owns. Returns 0 or HANDSHAKE_E_NOMEM. */
int handshake_joiner_new(struct handshake **out, const struct handshake_joiner_config *cfg);

struct handshake_manager_config {
	struct identity_keypair root;             /* cluster root key pair: signs issued certificates */
	struct identity_keypair node;             /* this manager's node key pair */
	uint8_t cert[IDENTITY_CERT_MAX];          /* this manager's encoded certificate */
	size_t cert_len;                          /* its length */
	uint8_t worker_secret[TOKEN_SECRET_LEN];  /* current worker token secret */
	uint8_t manager_secret[TOKEN_SECRET_LEN]; /* current manager token secret */
	uint8_t ephemeral_seed[HANDSHAKE_SEED_LEN]; /* fresh random bytes, never reused */
};

/* Starts the manager side, after checking the configuration: the certificate
 * decodes, is a manager certificate for cfg->node.pk, verifies against
 * cfg->root.pk and is valid at now_ms, and the two secrets differ. The
 * configuration is copied. Returns 0 with *out set, HANDSHAKE_E_NOMEM, or
 * HANDSHAKE_E_CONFIG with the reason in err (errlen bytes; may be NULL). */
int handshake_manager_new(struct handshake **out, const struct handshake_manager_config *cfg,
			  uint64_t now_ms, char *err, size_t errlen);

/* Wipes and frees. NULL is a no-op. */
void handshake_free(struct handshake *hs);

/* Feeds bytes received from the peer; now_ms is the wall clock (ms since the
 * Unix epoch) for certificate validity. Consumes bytes only up to the end of
 * the last message the handshake expects and sets *consumed: whatever follows
 * belongs to the next protocol on the stream. Returns 0 while the handshake
 * progresses or once it is done (see handshake_state), or a negative
 * HANDSHAKE_E_* once it has failed; from then on every call returns that code.
 * After a failure the output may still hold a REJECT for the peer: flush it,
 * then close. */
int handshake_feed(struct handshake *hs, const uint8_t *data, size_t len, uint64_t now_ms,
		   size_t *consumed);

/* The peer closed the stream. Returns 0 if the handshake is done, else fails
 * it (HANDSHAKE_E_CLOSED, saying whether a message was cut short) and returns
 * the failure code. */
int handshake_eof(struct handshake *hs);

/* Bytes waiting to be sent: returns their number and points *data at them
 * (valid until the next call on hs). */
size_t handshake_output(const struct handshake *hs, const uint8_t **data);

/* Marks the first n bytes of the output as sent (n <= handshake_output's). */
void handshake_output_sent(struct handshake *hs, size_t n);

enum handshake_state handshake_state(const struct handshake *hs);

/* The failure as "what failed: why", or "" while there is none. */
const char *handshake_error(const struct handshake *hs);

/* Manager, in HANDSHAKE_MANAGER_ISSUE: the role the matching secret grants
 * and the joiner's node key, so the caller can pick the node id and payload. */
enum identity_role handshake_joiner_role(const struct handshake *hs);
const uint8_t *handshake_joiner_node_pk(const struct handshake *hs);

/* Manager, in HANDSHAKE_MANAGER_ISSUE: issues the joiner's certificate (in the
 * manager's cluster, with the role the proof earned) for node_id, valid in
 * [issued_at_ms, expires_at_ms), and queues WELCOME with it and payload
 * (at most HANDSHAKE_MAX_PAYLOAD bytes, copied). Returns 0 (state DONE),
 * HANDSHAKE_E_STATE, HANDSHAKE_E_PAYLOAD or HANDSHAKE_E_CONFIG (bad id or
 * times; the handshake then fails and a REJECT is queued). */
int handshake_manager_issue(struct handshake *hs, const char *node_id, uint64_t issued_at_ms,
			    uint64_t expires_at_ms, const uint8_t *payload, size_t payload_len);

/* Results, valid in HANDSHAKE_DONE (NULL before). Both sides: the issued
 * certificate, decoded and as encoded (to store in the data dir). Joiner: the
 * pinned root public key, the verified manager certificate and the payload. */
const struct identity_cert *handshake_issued_cert(const struct handshake *hs);
const uint8_t *handshake_issued_cert_bytes(const struct handshake *hs, size_t *len);
const uint8_t *handshake_root_pk(const struct handshake *hs);
const struct identity_cert *handshake_manager_cert(const struct handshake *hs);
const uint8_t *handshake_payload(const struct handshake *hs, size_t *len);

#endif
