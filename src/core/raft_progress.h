/* raft_progress: what a leader knows of each follower's log, and the flow control of its appends. */
#ifndef SWARMNODE_RAFT_PROGRESS_H
#define SWARMNODE_RAFT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/raft.h"

/*
 * A follower is in one of three states (as in etcd's raft):
 *   PROBE      the leader does not know where the logs match: one append at a
 *              time, the next one after an answer (or a heartbeat answer);
 *   REPLICATE  the logs match up to match: appends are pipelined, next moves
 *              ahead optimistically, at most max_inflight messages unanswered;
 *   SNAPSHOT   next lies before the leader's log: the snapshot is sent in chunks.
 */
enum raft_progress_state {
	RAFT_PR_PROBE = 0,
	RAFT_PR_REPLICATE = 1,
	RAFT_PR_SNAPSHOT = 2,
};

struct raft_progress {
	raft_id id;            /* the member */
	uint8_t role;          /* RAFT_VOTER or RAFT_LEARNER */
	uint8_t state;         /* enum raft_progress_state */
	uint64_t match;        /* highest index known durable and matching there */
	uint64_t next;         /* next index to send */
	bool probe_sent;       /* PROBE: an append is unanswered */
	bool want_empty;       /* send an append even without entries (commit, probe) */
	bool recent_active;    /* heard from since the last check-quorum */
	uint64_t last_heard;   /* when we last heard from it (0: never) */
	uint64_t read_ack;     /* highest ReadIndex round it acknowledged in term */

	/* Inflight appends (REPLICATE): a ring of the last index each carried. */
	uint64_t *inflight;    /* max_inflight slots, heap */
	uint32_t in_cap;       /* slots */
	uint32_t in_start;     /* oldest */
	uint32_t in_count;     /* in use */

	/* SNAPSHOT state. */
	uint64_t snap_index;   /* index of the snapshot being sent */
	uint64_t snap_sent;    /* bytes sent so far (next offset to send) */
	uint64_t snap_acked;   /* bytes the follower confirmed in order */
	bool snap_heard;       /* a chunk answer came since the last heartbeat */
	bool snap_done_sent;   /* the last chunk has been sent */
};

/* Sets up pr for member id with next = next; allocates the inflight ring of
 * cap slots. Returns false on NOMEM. */
bool raft_progress_init(struct raft_progress *pr, const struct raft_heap *heap, raft_id id,
			uint8_t role, uint64_t next, uint32_t cap);
void raft_progress_close(struct raft_progress *pr, const struct raft_heap *heap);

void raft_progress_become_probe(struct raft_progress *pr);
void raft_progress_become_replicate(struct raft_progress *pr);
void raft_progress_become_snapshot(struct raft_progress *pr, uint64_t snap_index);

/* Resends the snapshot from offset (what the follower has in order). */
void raft_progress_snap_rewind(struct raft_progress *pr, uint64_t offset);

/* An acknowledgement of index: raises match and next. True if match rose. */
bool raft_progress_update(struct raft_progress *pr, uint64_t index);

/* A rejection of prev_index `rejected` with the follower's hint `probe` (the
 * next index to try is probe + 1). Returns false for a stale rejection. */
bool raft_progress_decr(struct raft_progress *pr, uint64_t rejected, uint64_t probe);

bool raft_inflight_full(const struct raft_progress *pr);
void raft_inflight_add(struct raft_progress *pr, uint64_t last);
/* Frees every inflight message whose last index is <= index. */
void raft_inflight_free_le(struct raft_progress *pr, uint64_t index);
void raft_inflight_free_first(struct raft_progress *pr);
void raft_inflight_reset(struct raft_progress *pr);

const char *raft_progress_state_str(uint8_t s);

#endif
