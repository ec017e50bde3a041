/* raft_replication: proposals, AppendEntries and heartbeats, pipelined flow control, commitment and persistence acknowledgements. */
#include <inttypes.h>
#include <string.h>

#include "raft_internal.h"

int raft_leader_append(struct raft *r, uint8_t type, const uint8_t *data, size_t len)
{
	int rc = raft_log_append(&r->log, r->term, type, data, len);
	if (rc != 0)
		return rc;
	raft_log_dirty(r, raft_log_last(&r->log));
	return 0;
}

int raft_propose(struct raft *r, const struct raft_buf *bufs, uint32_t n)
{
	if (r->role != RAFT_LEADER)
		return r->leader != RAFT_NONE ? RAFT_E_NOT_LEADER : RAFT_E_NO_LEADER;
	if (r->transferee != RAFT_NONE)
		return RAFT_E_BUSY;
	if (n == 0 || bufs == NULL)
		return RAFT_E_INVALID;
	for (uint32_t i = 0; i < n; i++) {
		if (bufs[i].len > r->cfg.max_entry_bytes)
			return RAFT_E_TOO_BIG;
		if (bufs[i].len > 0 && bufs[i].data == NULL)
			return RAFT_E_INVALID;
	}
	if (raft_log_reserve(&r->log, n) != 0)
		return RAFT_E_NOMEM;
	uint64_t first = raft_log_last(&r->log) + 1;
	for (uint32_t i = 0; i < n; i++) {
		if (raft_log_append(&r->log, r->term, RAFT_ENTRY_NORMAL, bufs[i].data, bufs[i].len) != 0) {
			raft_log_truncate(&r->log, first); /* all or nothing */
			return RAFT_E_NOMEM;
		}
	}
	raft_log_dirty(r, first);
	r->proposed_index = first;
	r->proposed_term = r->term;
	return 0;
}

void raft_commit_to(struct raft *r, uint64_t index)
{
	uint64_t last = raft_log_last(&r->log);
	if (index > last)
		index = last;
	if (index > r->commit)
		r->commit = index;
}

/* The largest index <= index whose term is <= term (or the log boundary): where
 * two logs can still agree (etcd's findConflictByTerm). */
static uint64_t find_conflict_by_term(const struct raft *r, uint64_t index, uint64_t term)
{
	uint64_t last = raft_log_last(&r->log);
	if (index > last)
		index = last;
	while (index > r->log.boundary && raft_log_term(&r->log, index) > term)
		index--;
	return index;
}

/* ---- follower ------------------------------------------------------------------ */

void raft_recv_append(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_append *a = &m->append;
	uint64_t last = raft_log_last(&r->log);
	uint64_t end = a->prev_index + a->n_entries; /* last index the message covers */
	uint64_t matched = a->prev_index;
	/* Entries up to commit are committed: they match every leader's log, and
	 * those before the boundary are gone from ours. Only what follows counts. */
	if (matched < r->commit) {
		matched = r->commit < end ? r->commit : end;
	} else if (raft_log_term(&r->log, a->prev_index) != a->prev_term) {
		struct raft_message resp = raft_msg(r, RAFT_MSG_APPEND_RESP, m->from);
		uint64_t hint = find_conflict_by_term(r, a->prev_index, a->prev_term);
		resp.append_resp.reject = true;
		resp.append_resp.index = a->prev_index;
		resp.append_resp.hint_index = hint;
		resp.append_resp.hint_term = raft_log_term(&r->log, hint);
		raft_tracef(r, "rejecting append after %" PRIu64 "/%" PRIu64 " (have %" PRIu64 "/%" PRIu64
			    ", last %" PRIu64 "): hint %" PRIu64 "/%" PRIu64, a->prev_index, a->prev_term,
			    a->prev_index, raft_log_term(&r->log, a->prev_index), last, hint,
			    resp.append_resp.hint_term);
		raft_send(r, &resp);
		return;
	}
	bool conf_changed = false;
	uint64_t first_new = 0;
	for (uint64_t idx = matched + 1; idx <= end; idx++) {
		const struct raft_entry *e = &a->entries[idx - a->prev_index - 1];
		if (idx <= raft_log_last(&r->log)) {
			uint64_t have = raft_log_term(&r->log, idx);
			if (have == e->term)
				continue;
			if (idx <= r->commit) {
				/* Only a broken peer or a broken disk gets here: keep what
				 * is committed, take nothing from this point on. */
				raft_tracef(r, "BUG: append conflicts with committed entry %" PRIu64, idx);
				end = idx - 1;
				break;
			}
			raft_tracef(r, "conflict at %" PRIu64 " (term %" PRIu64 " vs %" PRIu64
				    "): truncating %" PRIu64 "..%" PRIu64, idx, have, e->term, idx,
				    raft_log_last(&r->log));
			for (uint64_t j = idx; j <= raft_log_last(&r->log); j++)
				if (raft_log_get(&r->log, j)->type == RAFT_ENTRY_CONFIG)
					conf_changed = true;
			raft_log_truncate(&r->log, idx);
			raft_log_dirty(r, idx);
		}
		if (raft_log_append(&r->log, e->term, e->type, e->data, e->len) != 0) {
			raft_tracef(r, "out of memory appending %" PRIu64, idx);
			end = idx - 1;
			break;
		}
		if (first_new == 0)
			first_new = idx;
		if (e->type == RAFT_ENTRY_CONFIG)
			conf_changed = true;
	}
	if (first_new != 0)
		raft_log_dirty(r, first_new);
	if (conf_changed)
		raft_conf_refresh(r);
	if (end > r->ack_upto)
		r->ack_upto = end;
	if (end > r->resp_needed)
		r->resp_needed = end;
	uint64_t c = a->commit < end ? a->commit : end;
	raft_commit_to(r, c);
}

void raft_recv_heartbeat(struct raft *r, const struct raft_message *m)
{
	raft_commit_to(r, m->heartbeat.commit);
	struct raft_message resp = raft_msg(r, RAFT_MSG_HEARTBEAT_RESP, m->from);
	resp.heartbeat_resp.read_seq = m->heartbeat.read_seq;
	raft_send(r, &resp);
}

void raft_flush_ack(struct raft *r)
{
	if (r->role != RAFT_FOLLOWER || r->leader == RAFT_NONE)
		return;
	uint64_t idx = r->stable < r->ack_upto ? r->stable : r->ack_upto;
	uint64_t last = raft_log_last(&r->log);
	if (idx > last)
		idx = last;
	bool due = idx > r->acked || (r->resp_needed != 0 && idx >= r->resp_needed);
	if (!due)
		return;
	struct raft_message resp = raft_msg(r, RAFT_MSG_APPEND_RESP, r->leader);
	resp.append_resp.index = idx;
	if (!raft_send(r, &resp))
		return;
	if (idx > r->acked)
		r->acked = idx;
	if (idx >= r->resp_needed)
		r->resp_needed = 0;
}

/* ---- persistence ---------------------------------------------------------------- */

void raft_persisted(struct raft *r, uint64_t seq)
{
	if (seq <= r->seq_persisted)
		return;
	r->seq_persisted = seq;
	size_t k = 0;
	bool popped = false;
	uint64_t durable_last = 0;
	while (k < r->n_writes && r->writes[k].seq <= seq) {
		durable_last = r->writes[k].last_index;
		popped = true;
		k++;
	}
	if (k > 0) {
		memmove(r->writes, r->writes + k, (r->n_writes - k) * sizeof(*r->writes));
		r->n_writes -= k;
	}
	if (popped) {
		/* The disk now holds the log as it was when the last of these
		 * writes was issued; later writes may have rewritten part of it
		 * since, in memory only. */
		uint64_t stable = durable_last;
		for (size_t i = 0; i < r->n_writes; i++)
			if (r->writes[i].first_index != UINT64_MAX && r->writes[i].first_index - 1 < stable)
				stable = r->writes[i].first_index - 1;
		if (stable > raft_log_last(&r->log))
			stable = raft_log_last(&r->log);
		r->stable = stable;
	}
	/* Release held messages whose write is durable, if still of this term. */
	size_t w = 0;
	for (size_t i = 0; i < r->n_gated; i++) {
		struct raft_gated *g = &r->gated[i];
		if (g->seq > seq) {
			r->gated[w++] = *g;
			continue;
		}
		if (g->msg.term != r->term && !(g->msg.type == RAFT_MSG_VOTE_RESP && g->msg.vote_resp.pre_vote)) {
			raft_tracef(r, "dropping held %s to %" PRIu64 ": term %" PRIu64 " is over",
				    raft_msg_type_str(g->msg.type), g->msg.to, g->msg.term);
			continue;
		}
		raft_send(r, &g->msg);
	}
	r->n_gated = w;
	if (r->role == RAFT_CANDIDATE)
		raft_self_vote_persisted(r);
	else if (r->role == RAFT_LEADER)
		raft_maybe_commit(r);
}

/* ---- leader ---------------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

void raft_maybe_commit(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	uint64_t matches[RAFT_MAX_MEMBERS + 1];
	uint32_t n = 0;
	if (raft_is_voter(r, r->cfg.id)) {
		uint64_t s = r->stable < raft_log_last(&r->log) ? r->stable : raft_log_last(&r->log);
		matches[n++] = s;
	}
	for (size_t i = 0; i < r->n_prs && n < RAFT_MAX_MEMBERS + 1; i++)
		if (r->prs[i].role == RAFT_VOTER)
			matches[n++] = r->prs[i].match;
	uint32_t q = raft_quorum(r);
	if (n < q)
		return;
	qsort(matches, n, sizeof(matches[0]), cmp_desc);
	uint64_t idx = matches[q - 1];
	if (idx <= r->commit)
		return;
	/* Only an entry of our own term is committed by counting replicas; the
	 * entries before it are committed with it (Raft §5.4.2, figure 8). */
	if (raft_log_term(&r->log, idx) != r->term)
		return;
	bool first_of_term = r->commit < r->term_start_index && idx >= r->term_start_index;
	raft_tracef(r, "commit %" PRIu64 " -> %" PRIu64, r->commit, idx);
	r->commit = idx;
	for (size_t i = 0; i < r->n_prs; i++)
		r->prs[i].want_empty = true; /* tell the followers */
	if (first_of_term)
		raft_reads_term_committed(r);
	raft_check_removed(r);
}

void raft_recv_append_resp(struct raft *r, const struct raft_message *m)
{
	struct raft_progress *pr = raft_progress_find(r, m->from);
	if (pr == NULL)
		return;
	pr->recent_active = true;
	pr->last_heard = r->now;
	const struct raft_msg_append_resp *a = &m->append_resp;
	if (a->reject) {
		if (pr->state == RAFT_PR_SNAPSHOT)
			return;
		uint64_t probe = a->hint_index;
		if (a->hint_term > 0)
			probe = find_conflict_by_term(r, a->hint_index, a->hint_term);
		bool was_replicate = pr->state == RAFT_PR_REPLICATE;
		if (raft_progress_decr(pr, a->index, probe)) {
			if (was_replicate)
				raft_progress_become_probe(pr);
			raft_tracef(r, "%" PRIu64 " rejected append after %" PRIu64 ": probing from %" PRIu64,
				    pr->id, a->index, pr->next);
		}
		return;
	}
	if (a->index > raft_log_last(&r->log)) {
		raft_tracef(r, "%" PRIu64 " acknowledged %" PRIu64 ", beyond our last %" PRIu64 ": ignored",
			    pr->id, a->index, raft_log_last(&r->log));
		return;
	}
	bool rose = raft_progress_update(pr, a->index);
	switch (pr->state) {
	case RAFT_PR_PROBE:
		if (rose)
			raft_progress_become_replicate(pr);
		break;
	case RAFT_PR_REPLICATE:
		raft_inflight_free_le(pr, a->index);
		break;
	case RAFT_PR_SNAPSHOT:
		if (pr->match >= pr->snap_index)
			raft_progress_become_probe(pr);
		break;
	}
	if (rose) {
		raft_maybe_commit(r);
		if (r->role != RAFT_LEADER)
			return;
		raft_promote_check(r);
		raft_transfer_check(r);
	}
}

void raft_recv_heartbeat_resp(struct raft *r, const struct raft_message *m)
{
	struct raft_progress *pr = raft_progress_find(r, m->from);
	if (pr == NULL)
		return;
	pr->recent_active = true;
	pr->last_heard = r->now;
	if (m->heartbeat_resp.read_seq > pr->read_ack && m->heartbeat_resp.read_seq <= r->read_seq) {
		pr->read_ack = m->heartbeat_resp.read_seq;
		raft_reads_confirm(r);
	}
	if (pr->match < raft_log_last(&r->log)) {
		/* It may have lost appends: unblock the probe or the window, and
		 * send an append even if empty so that a gap shows as a rejection. */
		pr->probe_sent = false;
		if (pr->state == RAFT_PR_REPLICATE && raft_inflight_full(pr))
			raft_inflight_free_first(pr);
		pr->want_empty = true;
	}
}

void raft_send_heartbeats(struct raft *r)
{
	for (size_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		struct raft_message m = raft_msg(r, RAFT_MSG_HEARTBEAT, pr->id);
		m.heartbeat.commit = pr->match < r->commit ? pr->match : r->commit;
		m.heartbeat.read_seq = r->read_seq;
		raft_send(r, &m);
		if (pr->state == RAFT_PR_SNAPSHOT) {
			/* No chunk answered for a heartbeat interval: resend from
			 * what the follower confirmed. */
			if (!pr->snap_heard)
				raft_progress_snap_rewind(pr, pr->snap_acked);
			pr->snap_heard = false;
		}
	}
	raft_promote_check(r);
	if (r->transferee != RAFT_NONE) {
		r->timeout_now_sent = false; /* resend it in case it was lost */
		raft_transfer_check(r);
	}
}

void raft_flush_appends(struct raft *r)
{
	uint64_t last = raft_log_last(&r->log);
	for (size_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		for (uint32_t rounds = 0; rounds <= r->cfg.max_inflight; rounds++) {
			if (pr->state == RAFT_PR_SNAPSHOT) {
				raft_send_snapshot_chunks(r, pr);
				break;
			}
			if (pr->state == RAFT_PR_PROBE && pr->probe_sent)
				break;
			if (pr->state == RAFT_PR_REPLICATE && raft_inflight_full(pr))
				break;
			if (pr->next > last + 1)
				pr->next = last + 1;
			uint64_t prev = pr->next - 1;
			if (prev < r->log.boundary) {
				if (r->snap.meta.index == 0) {
					raft_tracef(r, "BUG: %" PRIu64 " needs compacted entries and there is no snapshot",
						    pr->id);
					break;
				}
				raft_tracef(r, "%" PRIu64 " needs %" PRIu64 ", compacted: sending snapshot %" PRIu64,
					    pr->id, pr->next, r->snap.meta.index);
				raft_progress_become_snapshot(pr, r->snap.meta.index);
				raft_send_snapshot_chunks(r, pr);
				break;
			}
			uint64_t count = 0;
			size_t bytes = 0;
			for (uint64_t idx = pr->next; idx <= last; idx++) {
				const struct raft_entry *e = raft_log_get(&r->log, idx);
				if (count > 0 && bytes + e->len > r->cfg.max_append_bytes)
					break;
				bytes += e->len;
				count++;
			}
			if (count == 0 && !pr->want_empty)
				break;
			struct raft_message m = raft_msg(r, RAFT_MSG_APPEND, pr->id);
			m.append.prev_index = prev;
			m.append.prev_term = raft_log_term(&r->log, prev);
			m.append.commit = r->commit;
			m.append.n_entries = (uint32_t)count;
			m.append.entries = count > 0 ? raft_log_get(&r->log, pr->next) : NULL;
			if (!raft_send(r, &m))
				break;
			pr->want_empty = false;
			if (pr->state == RAFT_PR_PROBE) {
				pr->probe_sent = true;
				break;
			}
			if (count == 0)
				break;
			pr->next += count;
			raft_inflight_add(pr, pr->next - 1);
		}
	}
}

void raft_unreachable(struct raft *r, raft_id peer)
{
	if (r->role != RAFT_LEADER)
		return;
	struct raft_progress *pr = raft_progress_find(r, peer);
	if (pr == NULL)
		return;
	/* Pipelined appends were probably lost: probe once from the match. In
	 * PROBE and SNAPSHOT nothing more happens here (a transport that fails
	 * at once would otherwise loop); the next heartbeat answer resumes the
	 * probe, and a snapshot without answers is resent from the heartbeat. */
	if (pr->state == RAFT_PR_REPLICATE) {
		raft_tracef(r, "%" PRIu64 " unreachable: probing from %" PRIu64, pr->id, pr->match + 1);
		raft_progress_become_probe(pr);
	}
}
