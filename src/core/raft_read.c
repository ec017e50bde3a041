/* raft_read: ReadIndex, linearizable reads confirmed by a heartbeat round of the leader (thesis §6.4). */
#include <inttypes.h>
#include <string.h>

#include "raft_internal.h"

static bool push_wait(struct raft *r, const struct raft_read_wait *w)
{
	if (r->n_rwaits == r->cap_rwaits) {
		size_t nc = r->cap_rwaits > 0 ? r->cap_rwaits * 2 : 8;
		void *p = raft_realloc(r, r->rwaits, nc * sizeof(*r->rwaits));
		if (p == NULL)
			return false;
		r->rwaits = p;
		r->cap_rwaits = nc;
	}
	r->rwaits[r->n_rwaits++] = *w;
	return true;
}

static void read_index_resp(struct raft *r, raft_id to, uint64_t req_id, uint64_t index, bool reject)
{
	struct raft_message m = raft_msg(r, RAFT_MSG_READ_INDEX_RESP, to);
	m.read_index_resp.req_id = req_id;
	m.read_index_resp.index = index;
	m.read_index_resp.reject = reject;
	raft_send(r, &m);
}

/* A confirmed read: hand it to whoever asked. */
static void deliver(struct raft *r, const struct raft_read_req *q)
{
	if (q->from != RAFT_NONE) {
		read_index_resp(r, q->from, q->req_id, q->index, false);
		return;
	}
	struct raft_read_wait w = { .req_id = q->req_id, .index = q->index, .deadline = UINT64_MAX,
				    .term = r->term };
	if (!push_wait(r, &w))
		raft_read_done(r, q->req_id, 0, RAFT_E_NOMEM);
}

static void refuse(struct raft *r, uint64_t req_id, raft_id from, int status)
{
	if (from == RAFT_NONE)
		raft_read_done(r, req_id, 0, status);
	else
		read_index_resp(r, from, req_id, 0, true);
}

static void leader_read(struct raft *r, uint64_t req_id, raft_id from)
{
	if (r->n_rreqs >= r->cfg.max_pending_reads) {
		refuse(r, req_id, from, RAFT_E_BUSY);
		return;
	}
	if (r->n_rreqs == r->cap_rreqs) {
		size_t nc = r->cap_rreqs > 0 ? r->cap_rreqs * 2 : 8;
		void *p = raft_realloc(r, r->rreqs, nc * sizeof(*r->rreqs));
		if (p == NULL) {
			refuse(r, req_id, from, RAFT_E_NOMEM);
			return;
		}
		r->rreqs = p;
		r->cap_rreqs = nc;
	}
	struct raft_read_req q = { .req_id = req_id, .from = from, .index = r->commit, .seq = 0 };
	/* Until an entry of our term is committed we may not know the latest
	 * commit index (thesis §6.4 step 1): the read waits. */
	if (r->commit >= r->term_start_index) {
		q.seq = r->read_seq + 1;
		r->read_round_needed = true;
	}
	r->rreqs[r->n_rreqs++] = q;
}

void raft_read(struct raft *r, uint64_t req_id)
{
	if (r->role == RAFT_LEADER) {
		leader_read(r, req_id, RAFT_NONE);
		return;
	}
	if (r->leader == RAFT_NONE) {
		raft_read_done(r, req_id, 0, RAFT_E_NO_LEADER);
		return;
	}
	if (r->n_rwaits >= r->cfg.max_pending_reads) {
		raft_read_done(r, req_id, 0, RAFT_E_BUSY);
		return;
	}
	struct raft_read_wait w = { .req_id = req_id, .index = 0,
				    .deadline = r->now + 2 * (uint64_t)r->cfg.election_timeout_ms,
				    .term = r->term };
	if (!push_wait(r, &w)) {
		raft_read_done(r, req_id, 0, RAFT_E_NOMEM);
		return;
	}
	struct raft_message m = raft_msg(r, RAFT_MSG_READ_INDEX, r->leader);
	m.read_index.req_id = req_id;
	raft_send(r, &m);
}

void raft_recv_read_index(struct raft *r, const struct raft_message *m)
{
	if (r->role != RAFT_LEADER) {
		read_index_resp(r, m->from, m->read_index.req_id, 0, true);
		return;
	}
	leader_read(r, m->read_index.req_id, m->from);
}

void raft_recv_read_index_resp(struct raft *r, const struct raft_message *m)
{
	for (size_t i = 0; i < r->n_rwaits; i++) {
		struct raft_read_wait *w = &r->rwaits[i];
		if (w->req_id != m->read_index_resp.req_id || w->index != 0 || w->term != m->term)
			continue;
		if (m->read_index_resp.reject || m->read_index_resp.index == 0) {
			raft_read_done(r, w->req_id, 0, RAFT_E_LEADERSHIP_LOST);
			r->rwaits[i] = r->rwaits[--r->n_rwaits];
			return;
		}
		w->index = m->read_index_resp.index;
		return;
	}
}

/* The highest round a quorum of voters has acknowledged (ourselves included). */
static uint64_t quorum_read_seq(const struct raft *r)
{
	uint64_t acks[RAFT_MAX_MEMBERS + 1];
	uint32_t n = 0;
	if (raft_is_voter(r, r->cfg.id))
		acks[n++] = r->read_seq;
	for (size_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].role == RAFT_VOTER)
			acks[n++] = r->prs[i].read_ack;
	uint32_t q = raft_quorum(r);
	if (n < q)
		return 0;
	/* q-th largest: partial selection sort, n is small. */
	for (uint32_t i = 0; i < q; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (acks[j] > acks[i]) {
				uint64_t t = acks[i];
				acks[i] = acks[j];
				acks[j] = t;
			}
	return acks[q - 1];
}

void raft_reads_confirm(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->n_rreqs == 0)
		return;
	uint64_t acked = quorum_read_seq(r);
	size_t k = 0;
	while (k < r->n_rreqs && r->rreqs[k].seq != 0 && r->rreqs[k].seq <= acked)
		deliver(r, &r->rreqs[k++]);
	if (k > 0) {
		memmove(r->rreqs, r->rreqs + k, (r->n_rreqs - k) * sizeof(*r->rreqs));
		r->n_rreqs -= k;
	}
}

/* Sends the ReadIndex round that reads taken in this step wait for. */
static void read_round(struct raft *r)
{
	r->read_round_needed = false;
	r->read_seq++;
	for (size_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->role != RAFT_VOTER)
			continue;
		struct raft_message m = raft_msg(r, RAFT_MSG_HEARTBEAT, pr->id);
		m.heartbeat.commit = pr->match < r->commit ? pr->match : r->commit;
		m.heartbeat.read_seq = r->read_seq;
		raft_send(r, &m);
	}
	raft_reads_confirm(r);
}

void raft_reads_term_committed(struct raft *r)
{
	bool any = false;
	for (size_t i = 0; i < r->n_rreqs; i++) {
		if (r->rreqs[i].seq == 0) {
			r->rreqs[i].index = r->commit;
			r->rreqs[i].seq = r->read_seq + 1;
			any = true;
		}
	}
	if (any)
		r->read_round_needed = true;
}

void raft_reads_fail_leader(struct raft *r, int status)
{
	for (size_t i = 0; i < r->n_rreqs; i++)
		refuse(r, r->rreqs[i].req_id, r->rreqs[i].from, status);
	r->n_rreqs = 0;
}

void raft_reads_fail_waiting(struct raft *r, int status)
{
	size_t w = 0;
	for (size_t i = 0; i < r->n_rwaits; i++) {
		if (r->rwaits[i].index == 0)
			raft_read_done(r, r->rwaits[i].req_id, 0, status);
		else
			r->rwaits[w++] = r->rwaits[i];
	}
	r->n_rwaits = w;
}

void raft_reads_flush(struct raft *r)
{
	if (r->role == RAFT_LEADER && r->read_round_needed)
		read_round(r);
	size_t w = 0;
	for (size_t i = 0; i < r->n_rwaits; i++) {
		struct raft_read_wait *x = &r->rwaits[i];
		if (x->index != 0 && x->index <= r->applied) {
			raft_read_done(r, x->req_id, x->index, 0);
		} else if (r->now >= x->deadline) {
			raft_tracef(r, "read %" PRIu64 " timed out", x->req_id);
			raft_read_done(r, x->req_id, 0, RAFT_E_TIMEDOUT);
		} else {
			r->rwaits[w++] = *x;
		}
	}
	r->n_rwaits = w;
}

uint64_t raft_reads_deadline(const struct raft *r)
{
	uint64_t d = UINT64_MAX;
	for (size_t i = 0; i < r->n_rwaits; i++)
		if (r->rwaits[i].deadline < d)
			d = r->rwaits[i].deadline;
	return d;
}
