/* raft_codec: msgpack encoding of Raft messages, log entries, hard state and snapshot metadata, with checked decoders. */
#ifndef SWARMNODE_RAFT_CODEC_H
#define SWARMNODE_RAFT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/raft.h"

/*
 * Wire format, version 1. Every value is msgpack; "u" is a non-negative msgpack
 * integer (u64 unless said), "bin" a msgpack bin, "str" a msgpack str, "bool" a
 * msgpack boolean. Arrays are positional; the decoders name a bad field by its
 * path ("append.entries[3].term: 0 out of range ...").
 *
 * Message (one per stream frame; the peer stream authenticates and frames it):
 *
 *   +----------------------------------------------------------------------+
 *   | array(6)                                                             |
 *   |  [0] version  u     == RAFT_CODEC_VERSION                            |
 *   |  [1] type     u     1..11 (enum raft_msg_type)                       |
 *   |  [2] term     u     sender's term (>= 1)                             |
 *   |  [3] from     u     sender's raft id, non-zero                       |
 *   |  [4] to       u     receiver's raft id, non-zero, != from            |
 *   |  [5] body     array by type, below                                   |
 *   +----------------------------------------------------------------------+
 *
 *   type             body
 *   1 append         [ prev_index u, prev_term u, commit u, entries array(0..) of entry ]
 *                      entry := array(3) [ term u (>= 1), type u (1..3), data bin ]
 *                      entry i has index prev_index + 1 + i; terms never go down,
 *                      are >= prev_term and <= the message's term; a config
 *                      entry's data must decode as a conf
 *   2 append-resp    [ reject bool, index u, hint_index u, hint_term u ]
 *   3 vote           [ last_index u, last_term u, flags u8 (bit 0 pre-vote, bit 1 transfer) ]
 *   4 vote-resp      [ granted bool, pre_vote bool ]
 *   5 snapshot       [ index u (>= 1), term u (>= 1), conf, total u, offset u, data bin, done bool ]
 *                      offset + len(data) <= total <= RAFT_CODEC_MAX_SNAPSHOT;
 *                      done iff offset + len(data) == total
 *   6 snapshot-resp  [ index u, offset u, flags u8 (bit 0 done, bit 1 reject) ]
 *   7 heartbeat      [ commit u, read_seq u ]
 *   8 heartbeat-resp [ read_seq u ]
 *   9 timeout-now    [ ]
 *   10 read-index    [ req_id u ]
 *   11 read-index-resp [ req_id u, index u, reject bool ]
 *
 *   conf := array(0..RAFT_MAX_MEMBERS) of member, ids distinct
 *   member := array(3) [ id u (non-zero), role u (1 voter, 2 learner),
 *                        node_id str ("" or IDS_LEN characters of [0-9a-z]) ]
 *
 * Records for the log on disk (the WAL frames and checksums them):
 *
 *   entry record    array(4) [ index u (>= 1), term u (>= 1), type u (1..3), data bin ]
 *   hard state      array(2) [ term u, vote u ]
 *   snapshot meta   array(3) [ index u, term u, conf ]
 *
 * A configuration entry's data is the conf encoding alone.
 *
 * Sizes: an append of one 100-byte entry is about 130 bytes; a heartbeat about
 * 30; a member about 40, so a conf of 32 members fits RAFT_CONF_ENCODED_MAX.
 */

#define RAFT_CODEC_VERSION 1

/* Upper bound of a configuration's encoding. */
#define RAFT_CONF_ENCODED_MAX (3 + RAFT_MAX_MEMBERS * (1 + 9 + 1 + 2 + IDS_LEN))

/* Upper bound of a hard state record. */
#define RAFT_HARD_STATE_ENCODED_MAX (1 + 9 + 9)

/* Upper bound of a snapshot meta record. */
#define RAFT_SNAPSHOT_META_ENCODED_MAX (1 + 9 + 9 + RAFT_CONF_ENCODED_MAX)

/* Largest snapshot a message may announce (the core's own bound is cfg.max_snapshot_bytes). */
#define RAFT_CODEC_MAX_SNAPSHOT (UINT64_C(1) << 40)

/* Size of the buffer the decoders write their error message into. */
#define RAFT_CODEC_ERR_MAX 160

/* ---- Messages ------------------------------------------------------------- */

/* The largest encoding m can have: size a buffer for raft_msg_encode with it. */
size_t raft_msg_encoded_max(const struct raft_message *m);

/* Encodes m into buf (cap bytes) and sets *len. Returns 0, RAFT_E_TOO_BIG
 * (cap too small), or RAFT_E_INVALID (an unknown type or a conf that does not
 * encode). The message's fields are not otherwise checked. */
int raft_msg_encode(const struct raft_message *m, uint8_t *buf, size_t cap, size_t *len);

/* A decoded message and the storage it points into. */
struct raft_msg_decoded {
	struct raft_message msg;         /* the message */
	struct raft_snapshot_meta meta;  /* SNAPSHOT: msg.snapshot.meta points here */
	struct raft_entry *entries;      /* APPEND: msg.append.entries (malloc'd), or NULL */
};

/* Decodes one message from in[0..len). Entry data and snapshot chunks point
 * into in, which must outlive out; release out with raft_msg_decoded_release.
 * Returns 0, RAFT_E_MALFORMED with "field: reason" in err (errlen bytes, may be
 * NULL; nothing to release), or RAFT_E_NOMEM. */
int raft_msg_decode(const uint8_t *in, size_t len, struct raft_msg_decoded *out,
		    char *err, size_t errlen);

/* Frees what raft_msg_decode allocated. Safe on a zeroed struct. */
void raft_msg_decoded_release(struct raft_msg_decoded *d);

/* ---- Configurations ---------------------------------------------------------- */

/* Encodes c (the data of a RAFT_ENTRY_CONFIG entry). Returns 0, RAFT_E_TOO_BIG,
 * or RAFT_E_INVALID (more than RAFT_MAX_MEMBERS, a zero id, a bad role or node id). */
int raft_configuration_encode(const struct raft_configuration *c, uint8_t *buf, size_t cap,
			      size_t *len);

/* Decodes a configuration. Returns 0 or RAFT_E_MALFORMED (with err). */
int raft_configuration_decode(const uint8_t *in, size_t len, struct raft_configuration *c,
			      char *err, size_t errlen);

/* ---- Records for disk ---------------------------------------------------------- */

/* Encoded size of an entry record. */
size_t raft_entry_encoded_size(const struct raft_entry *e);

/* Encodes an entry record. Returns 0, RAFT_E_TOO_BIG or RAFT_E_INVALID. */
int raft_entry_encode(const struct raft_entry *e, uint8_t *buf, size_t cap, size_t *len);

/* Decodes an entry record; e->data points into in. Returns 0 or RAFT_E_MALFORMED. */
int raft_entry_decode(const uint8_t *in, size_t len, struct raft_entry *e, char *err,
		      size_t errlen);

int raft_hard_state_encode(const struct raft_hard_state *hs, uint8_t *buf, size_t cap,
			   size_t *len);
int raft_hard_state_decode(const uint8_t *in, size_t len, struct raft_hard_state *hs,
			   char *err, size_t errlen);

int raft_snapshot_meta_encode(const struct raft_snapshot_meta *m, uint8_t *buf, size_t cap,
			      size_t *len);
int raft_snapshot_meta_decode(const uint8_t *in, size_t len, struct raft_snapshot_meta *m,
			      char *err, size_t errlen);

#endif
