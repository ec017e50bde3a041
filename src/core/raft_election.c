/* raft_election: role changes, randomized election timeouts, pre-vote, votes, check-quorum and leadership transfer. */
#include <inttypes.h>
#include <string.h>

#include "raft_internal.h"

void raft_reset_election_timer(struct raft *r)
{
	uint64_t t = r->cfg.election_timeout_ms;
	r->election_deadline = r->now + t + raft_rand_below(r, t);
}

bool raft_in_lease(const struct raft *r)
{
	if (!r->cfg.check_quorum)
		return false;
	if (r->role == RAFT_LEADER)
		return true;
	return r->leader != RAFT_NONE && r->now - r->leader_contact < r->cfg.election_timeout_ms;
}

/* Moves to a higher term: no vote yet, nothing acknowledged in it. */
static void set_term(struct raft *r, uint64_t term)
{
	r->term = term;
	r->vote = RAFT_NONE;
	r->hs_dirty = true;
	raft_write_seq(r);
	r->ack_upto = 0;
	r->acked = 0;
	r->resp_needed = 0;
}

static void clear_votes(struct raft *r)
{
	r->n_yes = 0;
	r->n_no = 0;
	r->self_vote_seq = 0;
	r->transfer_campaign = false;
}

void raft_leave_role(struct raft *r)
{
	if (r->role == RAFT_LEADER) {
		raft_reads_fail_leader(r, RAFT_E_LEADERSHIP_LOST);
		if (r->promote.id != RAFT_NONE)
			raft_promote_abort(r, RAFT_E_LEADERSHIP_LOST);
		r->transferee = RAFT_NONE;
		for (size_t i = 0; i < r->n_prs; i++)
			raft_progress_close(&r->prs[i], r->cfg.heap);
		r->n_prs = 0;
		r->read_round_needed = false;
	}
	clear_votes(r);
}

/* The known leader becomes `leader`: reads forwarded to the old one are lost. */
static void set_leader(struct raft *r, raft_id leader)
{
	if (r->leader != RAFT_NONE && r->leader != leader)
		raft_reads_fail_waiting(r, RAFT_E_LEADERSHIP_LOST);
	r->leader = leader;
	if (leader != RAFT_NONE)
		r->leader_contact = r->now;
}

void raft_become_follower(struct raft *r, uint64_t term, raft_id leader)
{
	raft_leave_role(r);
	if (term > r->term) {
		raft_reads_fail_waiting(r, RAFT_E_LEADERSHIP_LOST);
		set_term(r, term);
	}
	r->role = RAFT_FOLLOWER;
	set_leader(r, leader);
	raft_reset_election_timer(r);
}

static void send_vote_requests(struct raft *r, uint64_t term, bool pre, bool transfer)
{
	for (uint32_t i = 0; i < r->conf.n; i++) {
		const struct raft_member *mb = &r->conf.members[i];
		if (mb->role != RAFT_VOTER || mb->id == r->cfg.id)
			continue;
		struct raft_message m = raft_msg(r, RAFT_MSG_VOTE, mb->id);
		m.term = term;
		m.vote.last_index = raft_log_last(&r->log);
		m.vote.last_term = raft_last_term(r);
		m.vote.pre_vote = pre;
		m.vote.transfer = transfer;
		raft_send(r, &m);
	}
}

static bool recorded(const raft_id *ids, uint32_t n, raft_id id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Counts the votes recorded so far: wins, loses or waits. */
static void tally(struct raft *r)
{
	uint32_t voters = raft_configuration_voters(&r->conf);
	uint32_t q = raft_quorum(r);
	if (r->n_yes >= q) {
		if (r->role == RAFT_PRE_CANDIDATE) {
			raft_tracef(r, "pre-vote won with %u of %u voters", r->n_yes, voters);
			raft_become_candidate(r, false);
		} else {
			raft_tracef(r, "election won with %u of %u voters in term %" PRIu64, r->n_yes,
				    voters, r->term);
			raft_become_leader(r);
		}
	} else if (voters - r->n_no < q) {
		raft_tracef(r, "%s lost: %u of %u voters refused", r->role == RAFT_PRE_CANDIDATE ?
			    "pre-vote" : "election", r->n_no, voters);
		raft_become_follower(r, r->term, RAFT_NONE);
	}
}

static void record_vote(struct raft *r, raft_id id, bool granted)
{
	if (!raft_is_voter(r, id) || recorded(r->yes, r->n_yes, id) || recorded(r->no, r->n_no, id))
		return;
	if (granted && r->n_yes < RAFT_MAX_MEMBERS)
		r->yes[r->n_yes++] = id;
	else if (!granted && r->n_no < RAFT_MAX_MEMBERS)
		r->no[r->n_no++] = id;
}

void raft_become_pre_candidate(struct raft *r)
{
	raft_leave_role(r);
	r->role = RAFT_PRE_CANDIDATE;
	set_leader(r, RAFT_NONE);
	raft_reset_election_timer(r);
	raft_tracef(r, "election timeout: pre-vote for term %" PRIu64 " (last %" PRIu64 "/%" PRIu64 ")",
		    r->term + 1, raft_log_last(&r->log), raft_last_term(r));
	record_vote(r, r->cfg.id, true);
	send_vote_requests(r, r->term + 1, true, false);
	tally(r);
}

void raft_become_candidate(struct raft *r, bool transfer)
{
	raft_leave_role(r);
	raft_reads_fail_waiting(r, RAFT_E_LEADERSHIP_LOST);
	set_term(r, r->term + 1);
	r->vote = r->cfg.id;
	r->role = RAFT_CANDIDATE;
	set_leader(r, RAFT_NONE);
	r->transfer_campaign = transfer;
	/* Our own vote counts once it is durable: a restart must not let us vote
	 * for someone else in this term. */
	r->self_vote_seq = raft_write_seq(r);
	raft_reset_election_timer(r);
	raft_tracef(r, "campaigning in term %" PRIu64 "%s (last %" PRIu64 "/%" PRIu64 ")", r->term,
		    transfer ? " (leadership transfer)" : "", raft_log_last(&r->log), raft_last_term(r));
	send_vote_requests(r, r->term, false, transfer);
}

void raft_self_vote_persisted(struct raft *r)
{
	if (r->role != RAFT_CANDIDATE || r->self_vote_seq == 0 || r->self_vote_seq > r->seq_persisted)
		return;
	r->self_vote_seq = 0;
	record_vote(r, r->cfg.id, true);
	tally(r);
}

void raft_become_leader(struct raft *r)
{
	raft_leave_role(r);
	r->role = RAFT_LEADER;
	set_leader(r, r->cfg.id);
	r->read_seq = 0;
	r->n_rreqs = 0;
	r->transferee = RAFT_NONE;
	memset(&r->promote, 0, sizeof(r->promote));
	r->heartbeat_deadline = r->now + r->cfg.heartbeat_interval_ms;
	r->quorum_deadline = r->now + r->cfg.election_timeout_ms;
	/* Followers start in PROBE at our last index + 1; the no-op follows. */
	if (!raft_progress_sync(r) ||
	    raft_leader_append(r, RAFT_ENTRY_NOOP, NULL, 0) != 0) {
		raft_tracef(r, "out of memory becoming leader: stepping down");
		raft_become_follower(r, r->term, RAFT_NONE);
		return;
	}
	r->term_start_index = raft_log_last(&r->log);
	raft_tracef(r, "leader of term %" PRIu64 ", no-op at %" PRIu64, r->term, r->term_start_index);
	raft_maybe_commit(r);
}

/* Leader: did a quorum of voters talk to us since the last check? */
static void check_quorum(struct raft *r)
{
	uint32_t active = raft_is_voter(r, r->cfg.id) ? 1 : 0;
	for (size_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->role == RAFT_VOTER && pr->recent_active)
			active++;
		pr->recent_active = false;
	}
	if (active < raft_quorum(r)) {
		raft_tracef(r, "check-quorum: heard from %u of %u voters in %u ms, stepping down", active,
			    raft_configuration_voters(&r->conf), r->cfg.election_timeout_ms);
		raft_note(r, RAFT_NOTE_QUORUM_LOST, r->cfg.id, 0, 0);
		raft_become_follower(r, r->term, RAFT_NONE);
	}
}

void raft_tick(struct raft *r)
{
	if (r->role == RAFT_LEADER) {
		if (r->now >= r->heartbeat_deadline) {
			r->heartbeat_deadline = r->now + r->cfg.heartbeat_interval_ms;
			raft_send_heartbeats(r);
		}
		if (r->cfg.check_quorum && r->now >= r->quorum_deadline) {
			r->quorum_deadline = r->now + r->cfg.election_timeout_ms;
			check_quorum(r);
			if (r->role != RAFT_LEADER)
				return;
		}
		if (r->transferee != RAFT_NONE && r->now >= r->transfer_deadline) {
			raft_tracef(r, "leadership transfer to %" PRIu64 " timed out", r->transferee);
			raft_note(r, RAFT_NOTE_TRANSFER_FAILED, r->transferee, 0, RAFT_E_TIMEDOUT);
			r->transferee = RAFT_NONE;
		}
		return;
	}
	if (r->now < r->election_deadline)
		return;
	if (!raft_is_voter(r, r->cfg.id)) {
		raft_reset_election_timer(r);
		return;
	}
	if (r->cfg.pre_vote)
		raft_become_pre_candidate(r);
	else
		raft_become_candidate(r, false);
}

void raft_recv_vote(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_vote *v = &m->vote;
	uint64_t li = raft_log_last(&r->log), lt = raft_last_term(r);
	bool up_to_date = v->last_term > lt || (v->last_term == lt && v->last_index >= li);
	bool can_vote = r->vote == m->from || (r->vote == RAFT_NONE && r->leader == RAFT_NONE) ||
			(v->pre_vote && m->term > r->term);
	struct raft_message resp = raft_msg(r, RAFT_MSG_VOTE_RESP, m->from);
	resp.vote_resp.pre_vote = v->pre_vote;
	if (can_vote && up_to_date) {
		resp.vote_resp.granted = true;
		if (v->pre_vote) {
			resp.term = m->term;
			raft_tracef(r, "pre-vote for %" PRIu64 " at term %" PRIu64, m->from, m->term);
			raft_send(r, &resp);
			return;
		}
		if (r->vote != m->from) {
			r->vote = m->from;
			r->hs_dirty = true;
			raft_write_seq(r);
		}
		raft_reset_election_timer(r);
		raft_tracef(r, "vote for %" PRIu64 " in term %" PRIu64 " (its last %" PRIu64 "/%" PRIu64
			    ", ours %" PRIu64 "/%" PRIu64 ")", m->from, r->term, v->last_index,
			    v->last_term, li, lt);
		/* Sent once the vote is durable: it is in this step's write, or (a
		 * repeated request) in one already issued. */
		raft_gate(r, r->cur_seq != 0 ? r->cur_seq : r->seq_issued, &resp);
		return;
	}
	raft_tracef(r, "refusing %svote to %" PRIu64 " at term %" PRIu64 ": %s", v->pre_vote ? "pre-" : "",
		    m->from, m->term, !up_to_date ? "its log is behind ours" : "already voted or have a leader");
	raft_send(r, &resp);
}

void raft_recv_vote_resp(struct raft *r, const struct raft_message *m)
{
	if (m->vote_resp.pre_vote) {
		if (r->role != RAFT_PRE_CANDIDATE)
			return;
		if (m->vote_resp.granted ? m->term != r->term + 1 : m->term != r->term)
			return;
	} else {
		if (r->role != RAFT_CANDIDATE || m->term != r->term)
			return;
	}
	raft_tracef(r, "%svote %s by %" PRIu64, m->vote_resp.pre_vote ? "pre-" : "",
		    m->vote_resp.granted ? "granted" : "refused", m->from);
	record_vote(r, m->from, m->vote_resp.granted);
	tally(r);
}

void raft_recv_timeout_now(struct raft *r, const struct raft_message *m)
{
	if (r->role != RAFT_FOLLOWER || !raft_is_voter(r, r->cfg.id))
		return;
	raft_tracef(r, "timeout-now from leader %" PRIu64 ": campaigning at once", m->from);
	raft_become_candidate(r, true);
}

int raft_transfer(struct raft *r, raft_id to)
{
	if (r->role != RAFT_LEADER)
		return RAFT_E_NOT_LEADER;
	if (r->transferee != RAFT_NONE)
		return RAFT_E_BUSY;
	if (to == RAFT_NONE) {
		uint64_t best = 0;
		for (size_t i = 0; i < r->n_prs; i++) {
			const struct raft_progress *pr = &r->prs[i];
			if (pr->role == RAFT_VOTER && (to == RAFT_NONE || pr->match > best)) {
				to = pr->id;
				best = pr->match;
			}
		}
		if (to == RAFT_NONE)
			return RAFT_E_NOT_FOUND;
	}
	if (to == r->cfg.id)
		return 0;
	if (!raft_is_voter(r, to) || raft_progress_find(r, to) == NULL)
		return RAFT_E_NOT_FOUND;
	r->transferee = to;
	r->transfer_deadline = r->now + r->cfg.election_timeout_ms;
	r->timeout_now_sent = false;
	raft_tracef(r, "transferring leadership to %" PRIu64, to);
	raft_transfer_check(r);
	return 0;
}

void raft_transfer_check(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->transferee == RAFT_NONE || r->timeout_now_sent)
		return;
	struct raft_progress *pr = raft_progress_find(r, r->transferee);
	if (pr == NULL) {
		r->transferee = RAFT_NONE;
		return;
	}
	if (pr->match != raft_log_last(&r->log))
		return;
	struct raft_message m = raft_msg(r, RAFT_MSG_TIMEOUT_NOW, pr->id);
	raft_tracef(r, "transferee %" PRIu64 " caught up at %" PRIu64 ": timeout-now", pr->id, pr->match);
	raft_send(r, &m);
	r->timeout_now_sent = true;
}
