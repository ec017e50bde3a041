/* wal_record: the checksummed record format of the Raft log on disk (segments, hard state, snapshots), without I/O. */
#ifndef SWARMNODE_WAL_RECORD_H
#define SWARMNODE_WAL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/raft.h"

/*
 * Every file the wal writes is a sequence of records:
 *
 *    0       1       2       3       4               8              12
 *   +-------+-------+-------+-------+---------------+---------------+------------------+
 *   | 'W'   | 'L'   | type  | flags | length u32 LE | crc u32 LE    | payload (length) |
 *   +-------+-------+-------+-------+---------------+---------------+------------------+
 *
 *   type     1 entry          payload: raft_entry_encode (msgpack [index, term, type, data])
 *            2 hard state     payload: raft_hard_state_encode ([term, vote])
 *            3 snapshot meta  payload: raft_snapshot_meta_encode ([index, term, conf])
 *            4 snapshot data  payload: the state machine's bytes, opaque
 *   flags    0 (reserved: a reader refuses anything else)
 *   length   payload bytes, at most WAL_RECORD_MAX_PAYLOAD
 *   crc      CRC32C (Castagnoli) of header bytes 0..8 followed by the payload,
 *            so that a damaged type or length is caught as surely as a damaged
 *            payload
 *
 * Files:
 *   segment    NNNNNNNNNNNNNNNN.seg (16 decimal digits: the index of its first
 *              entry): entry records with consecutive indexes, nothing else
 *   hardstate  one hard state record
 *   snapshot   snapshot-TTTTTTTTTTTTTTTT-IIIIIIIIIIIIIIII (term, index): one
 *              snapshot meta record, then one snapshot data record
 *
 * Why the magic: a segment's tail after a crash holds zeros or old junk; two
 * fixed bytes let a reader tell "no record starts here" from "a record starts
 * here but is damaged" cheaply, and let the scanner below look for whole
 * records after a damaged one.
 */

#define WAL_RECORD_HEADER 12
#define WAL_RECORD_MAGIC0 0x57 /* 'W' */
#define WAL_RECORD_MAGIC1 0x4c /* 'L' */
/* Largest payload: bounds what a reader allocates or believes. */
#define WAL_RECORD_MAX_PAYLOAD (UINT32_C(1) << 31)

enum wal_record_type {
	WAL_REC_ENTRY = 1,
	WAL_REC_HARD_STATE = 2,
	WAL_REC_SNAPSHOT_META = 3,
	WAL_REC_SNAPSHOT_DATA = 4,
};

/* One decoded record: payload points into the decoded bytes. */
struct wal_record {
	uint8_t type;           /* enum wal_record_type */
	const uint8_t *payload; /* length bytes */
	uint32_t length;
};

/* CRC32C of len bytes at p, continuing from crc (start with 0). */
uint32_t wal_crc32c(uint32_t crc, const void *p, size_t len);

/* ---- Encoding ------------------------------------------------------------ */

/* Fills the header of a record whose payload of length bytes already sits at
 * rec + WAL_RECORD_HEADER (length <= WAL_RECORD_MAX_PAYLOAD). */
void wal_record_seal(uint8_t *rec, uint8_t type, size_t length);

/* Upper bound of the record of entry e. */
size_t wal_record_entry_max(const struct raft_entry *e);

/* Encodes e as a record into out (cap bytes) and sets *used. Returns 0,
 * -ENOBUFS (cap too small) or -EINVAL (a bad entry type, data missing, or too
 * large). */
int wal_record_put_entry(const struct raft_entry *e, uint8_t *out, size_t cap, size_t *used);

/* The same for a hard state (cap >= WAL_RECORD_HEADER + RAFT_HARD_STATE_ENCODED_MAX). */
int wal_record_put_hard_state(const struct raft_hard_state *hs, uint8_t *out, size_t cap,
			      size_t *used);

/* The whole image of a snapshot file in one malloc'd buffer (*out, *outlen;
 * the caller frees it). Returns 0, -EINVAL (meta does not encode), -EFBIG or -ENOMEM. */
int wal_snapshot_image(const struct raft_snapshot_meta *meta, const uint8_t *data, size_t len,
		       uint8_t **out, size_t *outlen);

/* ---- Decoding ------------------------------------------------------------ */

/* Decodes the record at in[0..len) and sets *rec and *used (its whole size).
 * Returns 0, -ENODATA when the bytes end inside the record (a partial record),
 * or -EBADMSG (bad magic, type, flags, length or checksum). err (errlen bytes,
 * may be NULL) says which. */
int wal_record_decode(const uint8_t *in, size_t len, struct wal_record *rec, size_t *used,
		      char *err, size_t errlen);

/* An entry record's payload: fills *e (data points into the record). Returns 0
 * or -EBADMSG with err. */
int wal_record_entry(const struct wal_record *rec, struct raft_entry *e, char *err, size_t errlen);

/* Decodes a hard state file image: exactly one hard state record. Returns 0 or
 * -EBADMSG / -ENODATA with "offset N: reason" in err. */
int wal_hard_state_image_decode(const uint8_t *in, size_t len, struct raft_hard_state *hs,
				char *err, size_t errlen);

/* Decodes a snapshot file image: a meta record then a data record, nothing
 * after. *data points into in. Returns 0 or -EBADMSG / -ENODATA with err. */
int wal_snapshot_image_decode(const uint8_t *in, size_t len, struct raft_snapshot_meta *meta,
			      const uint8_t **data, size_t *dlen, char *err, size_t errlen);

/* ---- Scanning a segment image ---------------------------------------------------- */

/* How a segment image ends. */
enum wal_tail {
	WAL_TAIL_CLEAN = 0,   /* at a record boundary */
	WAL_TAIL_ZEROS = 1,   /* zero bytes after the last whole record */
	WAL_TAIL_TORN = 2,    /* a damaged or partial record with no whole record after it,
			       * or damage that holds a zeroed sector (see below) */
	WAL_TAIL_CORRUPT = 3, /* a damaged record followed by whole records */
};

/* Sector size for the zeroed-sector rule. */
#define WAL_SECTOR 512

/* What wal_scan_image found. */
struct wal_scan {
	size_t end;           /* bytes of whole records from the start: where a cut goes */
	size_t n_records;     /* whole records visited */
	uint8_t tail;         /* enum wal_tail */
	size_t bad_offset;    /* TORN / CORRUPT: offset of the damaged record */
	size_t dropped_valid; /* TORN: whole records found after the damage (dropped) */
	char why[160];        /* TORN / CORRUPT: what is wrong at bad_offset */
};

/* Called for each whole record, in order, with its offset in the image.
 * Returns 0, or a negative code that stops the scan (the record is valid but
 * its content is not: err says why). */
typedef int (*wal_record_visit)(void *data, const struct wal_record *rec, size_t offset,
				char *err, size_t errlen);

/*
 * Walks the records of a segment image img[0..len), visiting each whole one,
 * and classifies how the image ends (out). Returns 0, or what visit returned
 * (out->bad_offset is then that record's offset).
 *
 * The zeroed-sector rule: a batch of records is written and then fsynced once;
 * if the machine dies before the fsync, the kernel may have written back any
 * subset of that batch's pages, and a page never written reads as zeros. Such
 * damage can be followed by whole records of the same batch, none of which was
 * acknowledged. Damage that contains an aligned all-zero sector is taken for
 * this and classified TORN (like etcd's WAL); damage without one, followed by
 * whole records, is CORRUPT. Whether a TORN or ZEROS tail is acceptable depends
 * on where the segment stands (only the last segment may have one): the caller
 * decides.
 */
int wal_scan_image(const uint8_t *img, size_t len, wal_record_visit visit, void *data,
		   struct wal_scan *out, char *err, size_t errlen);

/* The name of a tail class ("clean", "zeros", "torn", "corrupt"). */
const char *wal_tail_str(uint8_t tail);

#endif
