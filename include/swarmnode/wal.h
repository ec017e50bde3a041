/* wal: the Raft log, hard state and snapshots on disk (DATA/raft/), written on the libuv threadpool with group commit. */
#ifndef SWARMNODE_WAL_H
#define SWARMNODE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/raft.h"

/*
 * Files in the wal's directory (record format: wal_record.h):
 *
 *   0000000000000001.seg, ...   log segments named by the index of their first
 *                               entry; a new one starts past opt.segment_bytes
 *   hardstate                   the term and vote, replaced atomically
 *   snapshot-<term>-<index>     the latest snapshot (meta, then data)
 *
 * Why the hard state has its own file rather than records in the log: the log
 * is truncated in place when a leader overwrites uncommitted entries, and
 * segments are deleted by compaction and snapshot installs; a vote kept in
 * the log could be cut or deleted with them, and a node that forgets its vote
 * can vote twice in a term. A separate file is never touched by either. It
 * costs a temporary file, an fsync, a rename and an fsync of the directory,
 * but only when the term or vote changes (elections), not per entry.
 *
 * How a write becomes durable, in seq order, on the threadpool:
 *   1. hard state: earlier writes of the batch are fsynced first (so a later
 *      write never lands without an earlier one), then the file is replaced;
 *   2. a received snapshot: the snapshot file is written atomically, then
 *      every segment is deleted (the last first) and the directory fsynced;
 *   3. entries: segments after entries[0].index are deleted and the segment
 *      holding it truncated there, both made durable before anything is
 *      appended (so an append never mixes with bytes it replaced); then the
 *      records are appended.
 * Writes queued while a batch is on the disk form the next batch: one
 * fdatasync covers all of them (group commit). Callbacks run on the loop
 * thread in seq order once their batch is durable.
 *
 * Compaction (wal_compact) deletes whole segments, never the last one, and
 * never an entry the stored snapshot does not cover.
 */

/* Default size past which a new segment starts. */
#define WAL_SEGMENT_BYTES (8u << 20)

struct wal;

struct wal_options {
	uint64_t segment_bytes; /* start a new segment past this size; 0: WAL_SEGMENT_BYTES */
	/* Fault injection for tests, NULL otherwise: called on a threadpool thread
	 * before each file operation ("write", "fsync", "truncate", "create",
	 * "unlink", "hardstate", "snapshot"); a negative return makes that
	 * operation fail with that code. */
	int (*fault)(void *data, const char *op);
	void *fault_data; /* passed to fault */
};

/* What was on disk at open. Owned by the wal until wal_boot_release. */
struct wal_boot {
	struct raft_hard_state hs;      /* {0, 0} when there was none */
	bool has_snapshot;              /* snap, snap_data are set */
	struct raft_snapshot_meta snap; /* the latest snapshot's meta */
	uint8_t *snap_data;             /* its bytes */
	size_t snap_len;
	struct raft_entry *entries;     /* the log after the snapshot, consecutive */
	size_t n_entries;
	bool repaired;                  /* a torn tail was cut: note says where */
	char note[384];                 /* what open repaired, "" if nothing */
};

/* Counters, for tests and the bench. */
struct wal_stats {
	uint64_t writes;      /* wal_write calls completed */
	uint64_t batches;     /* threadpool jobs run */
	uint64_t fsyncs;      /* fsync/fdatasync calls made */
	uint64_t bytes;       /* record bytes appended to segments */
	uint32_t segments;    /* segment files now */
	uint64_t last_index;  /* last entry index written (0: none) */
};

/* Completion of one write or snapshot (seq is 0 for wal_save_snapshot): status
 * is 0 once durable, or a negative errno; after an error every later
 * operation fails with that same error. */
typedef void (*wal_done_cb)(struct wal *w, uint64_t seq, int status, void *data);

/*
 * Opens (creating it if needed) the wal in dir and reads it into *boot,
 * synchronously (before the node serves anything). A torn tail of the last
 * segment is cut (boot->note and a warning in the log say where); damage
 * anywhere else fails with -EBADMSG and err naming the file and offset. Returns
 * 0 and *out, or a negative errno with err (errlen bytes).
 */
int wal_open(uv_loop_t *loop, const char *dir, const struct wal_options *opt, struct wal **out,
	     struct wal_boot *boot, char *err, size_t errlen);

/* Frees what boot points to; boot is zeroed. */
void wal_boot_release(struct wal *w, struct wal_boot *boot);

/*
 * Queues write seq of the Raft persistence contract (raft.h): hs (NULL if
 * unchanged), a received snapshot (NULL if none; snap_data copied), entries
 * (n of them, consecutive; copied). seq must be above every earlier one.
 * Returns 0 (cb will run), -EINVAL (bad arguments: no callback), -ECANCELED
 * after wal_close, -ENOMEM, or the sticky error of an earlier failed write.
 */
int wal_write(struct wal *w, uint64_t seq, const struct raft_hard_state *hs,
	      const struct raft_snapshot_meta *snap, const uint8_t *snap_data, size_t snap_len,
	      const struct raft_entry *entries, size_t n, wal_done_cb cb, void *data);

/* Queues the host's own snapshot (meta from raft_snapshot_meta_at; data copied);
 * older snapshots are deleted once it is durable. Returns as wal_write. */
int wal_save_snapshot(struct wal *w, const struct raft_snapshot_meta *meta, const uint8_t *data,
		      size_t len, wal_done_cb cb, void *data_cb);

/* Queues the deletion of segments holding only entries <= index (and covered
 * by the stored snapshot). Returns 0, -ECANCELED, -ENOMEM or the sticky error. */
int wal_compact(struct wal *w, uint64_t index);

/* Counters. */
void wal_get_stats(const struct wal *w, struct wal_stats *out);

/* Lets queued operations finish (their callbacks run), closes the files, frees
 * w and then calls closed(data) (closed may be NULL). */
void wal_close(struct wal *w, void (*closed)(void *data), void *data);

#endif
