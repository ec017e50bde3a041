/* raft_internal: the raft core's state and the functions its units share. */
#ifndef SWARMNODE_RAFT_INTERNAL_H
#define SWARMNODE_RAFT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "swarmnode/raft.h"
#include "raft_log.h"
#include "raft_progress.h"

/* Memory through the configured heap. */
void *raft_malloc(const struct raft *r, size_t n);
void *raft_realloc(const struct raft *r, void *p, size_t n);
void raft_free_mem(const struct raft *r, void *p);

/* A snapshot the core holds: the latest one taken by the host or installed
 * from the leader. data is owned (heap). */
struct raft_snap {
	struct raft_snapshot_meta meta; /* index 0: none */
	uint8_t *data;                  /* bytes, owned */
	size_t len;                     /* their length */
};

/* A snapshot being received from the leader, chunk by chunk. */
struct raft_snap_rcv {
	bool active;                    /* a transfer is under way */
	struct raft_snapshot_meta meta; /* what it stands for */
	uint64_t total;                 /* announced size */
	uint64_t received;              /* bytes received in order */
	uint8_t *buf;                   /* received bytes (heap), grows as chunks come */
	size_t cap;                     /* size of buf */
};

/* A write issued to the host and not yet acknowledged. */
struct raft_write {
	uint64_t seq;         /* its number */
	uint64_t first_index; /* lowest log index it rewrites (1 for a snapshot, UINT64_MAX if none) */
	uint64_t last_index;  /* the log's last index once it is durable */
};

/* A message held until a write is durable. */
struct raft_gated {
	uint64_t seq;             /* release once persisted >= seq */
	struct raft_message msg;  /* without pointers (VOTE_RESP, SNAPSHOT_RESP) */
};

/* A ReadIndex request on the leader. */
struct raft_read_req {
	uint64_t req_id; /* the requester's id */
	raft_id from;    /* RAFT_NONE for a local request, else the follower that forwarded it */
	uint64_t index;  /* the read index: commit when the request was taken */
	uint64_t seq;    /* heartbeat round that confirms it; 0 while the leader has not
			  * yet committed an entry of its term */
};

/* A read this node waits on as a follower (forwarded) or for an index to be applied. */
struct raft_read_wait {
	uint64_t req_id;   /* the host's id */
	uint64_t index;    /* 0 while waiting for the leader's answer */
	uint64_t deadline; /* fails with RAFT_E_TIMEDOUT at this time */
	uint64_t term;     /* term when forwarded */
};

/* The growable outputs of the current step. */
struct raft_out {
	struct raft_message *msgs;          /* messages to send */
	size_t n_msgs, cap_msgs;
	struct raft_read_result *reads;     /* read results */
	size_t n_reads, cap_reads;
	struct raft_note *notes;            /* notes */
	size_t n_notes, cap_notes;
};

struct raft {
	struct raft_config cfg;           /* copy of the configuration */
	struct rng rng;                   /* election timeouts */
	uint64_t now;                     /* time of the event being handled */

	/* Persistent state (as the core knows it; durable once acknowledged). */
	uint64_t term;                    /* current term */
	raft_id vote;                     /* vote in term */
	struct raft_log log;              /* entries after the log's boundary */
	struct raft_snap snap;            /* the latest snapshot */

	/* Membership. */
	struct raft_configuration conf;   /* latest configuration (log or snapshot) */
	uint64_t conf_index;              /* its index (0: none known) */
	struct raft_configuration base_conf; /* the configuration as of the log boundary */
	uint64_t base_conf_index;         /* its index */

	/* Volatile state. */
	uint8_t role;                     /* enum raft_role */
	raft_id leader;                   /* known leader of term */
	uint64_t commit;                  /* commit index */
	uint64_t applied;                 /* last index handed to the host to apply */
	uint64_t election_deadline;       /* follower/candidate: campaign at this time */
	uint64_t leader_contact;          /* last time we heard from the leader of term */
	bool restore_pending;             /* a received snapshot must be handed for restore */

	/* Persistence. */
	uint64_t seq_issued;              /* last write number handed out */
	uint64_t seq_persisted;           /* highest write acknowledged */
	uint64_t cur_seq;                 /* write of this step, 0 if none yet */
	bool hs_dirty;                    /* hard state changed in this step */
	uint64_t persist_from;            /* lowest log index changed in this step (UINT64_MAX none) */
	bool persist_snap;                /* this step installed a received snapshot */
	uint64_t stable;                  /* log[..stable] as in memory is durable */
	struct raft_write *writes;        /* writes not yet acknowledged, in order */
	size_t n_writes, cap_writes;
	struct raft_gated *gated;         /* messages held until a write is durable */
	size_t n_gated, cap_gated;

	/* Follower: acknowledging appends. */
	uint64_t ack_upto;                /* log[..ack_upto] matches the leader of term */
	uint64_t acked;                   /* highest index acknowledged in term */
	uint64_t resp_needed;             /* an append up to here awaits an answer (0: none) */
	struct raft_snap_rcv rcv;         /* snapshot being received */

	/* Candidate. */
	raft_id yes[RAFT_MAX_MEMBERS];    /* voters that granted */
	uint32_t n_yes;
	raft_id no[RAFT_MAX_MEMBERS];     /* voters that refused */
	uint32_t n_no;
	uint64_t self_vote_seq;           /* our own vote counts once this write is durable */
	bool transfer_campaign;           /* campaigning because of TimeoutNow */

	/* Leader. */
	struct raft_progress *prs;        /* one per other member of conf */
	size_t n_prs;
	uint64_t heartbeat_deadline;      /* next heartbeat round */
	uint64_t quorum_deadline;         /* next check-quorum */
	uint64_t term_start_index;        /* index of our no-op: committed => our term committed */
	raft_id transferee;               /* leadership transfer target, or RAFT_NONE */
	uint64_t transfer_deadline;       /* abort the transfer then */
	bool timeout_now_sent;            /* TimeoutNow already sent in this transfer */
	struct {
		raft_id id;               /* learner being caught up, or RAFT_NONE */
		uint32_t round;           /* current round, from 1 */
		uint64_t round_index;     /* the round ends when the learner reaches this */
		uint64_t round_start;     /* when the round started */
		uint64_t started;         /* when the promotion started */
	} promote;
	uint64_t read_seq;                /* last ReadIndex round issued */
	bool read_round_needed;           /* a heartbeat round must go out in this step */
	struct raft_read_req *rreqs;      /* pending ReadIndex requests, by seq */
	size_t n_rreqs, cap_rreqs;

	/* Reads waiting on this node (forwarded, or for an index to apply). */
	struct raft_read_wait *rwaits;
	size_t n_rwaits, cap_rwaits;

	/* Outputs of the current step. */
	struct raft_out out;
	uint64_t compacted;               /* compacted in this step (0: no) */
	uint64_t proposed_index, proposed_term;
	uint32_t changed;                 /* RAFT_UPDATE_* flags */
	uint8_t prev_role;                /* role at the start of the step */
	raft_id prev_leader;              /* leader at the start of the step */
	uint64_t prev_term;               /* term at the start of the step */
};

/* ---- raft.c --------------------------------------------------------------- */

void raft_tracef(struct raft *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A random duration in [0, n). */
uint64_t raft_rand_below(struct raft *r, uint64_t n);
/* Queues a message for sending in this step. Returns false when out of memory
 * (the message is lost, which Raft tolerates). */
bool raft_send(struct raft *r, const struct raft_message *m);
bool raft_note(struct raft *r, uint8_t kind, raft_id id, uint64_t index, int status);
bool raft_read_done(struct raft *r, uint64_t req_id, uint64_t index, int status);
/* The write of this step, allocated on first use. */
uint64_t raft_write_seq(struct raft *r);
/* Marks log indexes >= from as rewritten in this step. */
void raft_log_dirty(struct raft *r, uint64_t from);
/* Holds m until write seq is durable (sends it now if it already is). */
void raft_gate(struct raft *r, uint64_t seq, const struct raft_message *m);
/* A message of type to `to` with our term and id, body zeroed. */
struct raft_message raft_msg(const struct raft *r, uint8_t type, raft_id to);
uint64_t raft_last_term(const struct raft *r);
bool raft_is_voter(const struct raft *r, raft_id id);
/* Majority of the voters of conf. */
uint32_t raft_quorum(const struct raft *r);

/* ---- raft_election.c -------------------------------------------------------- */

void raft_reset_election_timer(struct raft *r);
void raft_become_follower(struct raft *r, uint64_t term, raft_id leader);
void raft_become_pre_candidate(struct raft *r);
void raft_become_candidate(struct raft *r, bool transfer);
void raft_become_leader(struct raft *r);
/* Does whatever timers are due at r->now. */
void raft_tick(struct raft *r);
bool raft_in_lease(const struct raft *r);
void raft_recv_vote(struct raft *r, const struct raft_message *m);
void raft_recv_vote_resp(struct raft *r, const struct raft_message *m);
void raft_recv_timeout_now(struct raft *r, const struct raft_message *m);
/* A candidate's own vote became durable: count it. */
void raft_self_vote_persisted(struct raft *r);
int raft_transfer(struct raft *r, raft_id to);
/* Leader: sends TimeoutNow if the transferee has caught up. */
void raft_transfer_check(struct raft *r);
/* Leaves the leader (or candidate) role: fails what needs a leader. */
void raft_leave_role(struct raft *r);

/* ---- raft_replication.c ------------------------------------------------------ */

int raft_propose(struct raft *r, const struct raft_buf *bufs, uint32_t n);
/* Appends one entry of our term to the leader's log (copying data). */
int raft_leader_append(struct raft *r, uint8_t type, const uint8_t *data, size_t len);
void raft_recv_append(struct raft *r, const struct raft_message *m);
void raft_recv_append_resp(struct raft *r, const struct raft_message *m);
void raft_recv_heartbeat(struct raft *r, const struct raft_message *m);
void raft_recv_heartbeat_resp(struct raft *r, const struct raft_message *m);
void raft_send_heartbeats(struct raft *r);
void raft_persisted(struct raft *r, uint64_t seq);
/* Leader: advances commit if a quorum has a current-term entry. */
void raft_maybe_commit(struct raft *r);
/* Follower: commit up to index (clamped to the log). */
void raft_commit_to(struct raft *r, uint64_t index);
/* Leader: sends appends and snapshot chunks to every peer as flow control allows. */
void raft_flush_appends(struct raft *r);
/* Follower: sends the append acknowledgement that is due, if any. */
void raft_flush_ack(struct raft *r);
void raft_unreachable(struct raft *r, raft_id peer);

/* ---- raft_snapshot.c ------------------------------------------------------------ */

int raft_take_snapshot(struct raft *r, uint64_t index, const uint8_t *data, size_t len,
		       uint64_t trailing);
void raft_recv_snapshot(struct raft *r, const struct raft_message *m);
void raft_recv_snapshot_resp(struct raft *r, const struct raft_message *m);
/* Leader: sends snapshot chunks to pr as the window allows. */
void raft_send_snapshot_chunks(struct raft *r, struct raft_progress *pr);
void raft_snap_rcv_reset(struct raft *r);

/* ---- raft_membership.c ------------------------------------------------------------ */

/* Checks a configuration: ids non-zero and distinct, roles valid, node ids valid. */
bool raft_conf_valid(const struct raft_configuration *c);
/* The configuration in effect at index (the latest config entry <= index). */
int raft_conf_at(const struct raft *r, uint64_t index, struct raft_configuration *out,
		 uint64_t *out_index);
/* Re-reads the latest configuration after the log changed. */
void raft_conf_refresh(struct raft *r);
/* Sets the latest configuration (appended or restored). */
void raft_conf_set(struct raft *r, const struct raft_configuration *c, uint64_t index);
/* Leader: rebuilds the progress table from conf. Returns false on NOMEM. */
bool raft_progress_sync(struct raft *r);
struct raft_progress *raft_progress_find(struct raft *r, raft_id id);
int raft_change(struct raft *r, uint8_t kind, raft_id id, const char *node_id);
/* Leader: checks the catch-up round of a learner being promoted. */
void raft_promote_check(struct raft *r);
void raft_promote_abort(struct raft *r, int status);
/* Leader: steps down if a committed configuration no longer has us as a voter. */
void raft_check_removed(struct raft *r);

/* ---- raft_read.c -------------------------------------------------------------------- */

void raft_read(struct raft *r, uint64_t req_id);
void raft_recv_read_index(struct raft *r, const struct raft_message *m);
void raft_recv_read_index_resp(struct raft *r, const struct raft_message *m);
/* Leader: the quorum acknowledged round seq; confirm the reads it covers. */
void raft_reads_confirm(struct raft *r);
/* Leader: the first entry of the term committed: start the reads that waited. */
void raft_reads_term_committed(struct raft *r);
/* Fails every pending read that needs the leader (on losing leadership). */
void raft_reads_fail_leader(struct raft *r, int status);
/* Fails forwarded reads still waiting for the leader's answer. */
void raft_reads_fail_waiting(struct raft *r, int status);
/* Emits results for reads whose index is now applied, and times out others. */
void raft_reads_flush(struct raft *r);
uint64_t raft_reads_deadline(const struct raft *r);

#endif
