/* raft_snapshot: snapshots taken by the host, log compaction, and InstallSnapshot in chunks both ways. */
#include <inttypes.h>
#include <string.h>

#include "raft_internal.h"

int raft_snapshot_meta_at(const struct raft *r, uint64_t index, struct raft_snapshot_meta *out)
{
	if (index != 0 && index == r->snap.meta.index) {
		*out = r->snap.meta;
		return 0;
	}
	if (index <= r->log.boundary || index > r->applied)
		return RAFT_E_INVALID;
	uint64_t conf_index;
	out->index = index;
	out->term = raft_log_term(&r->log, index);
	raft_conf_at(r, index, &out->conf, &conf_index);
	return 0;
}

int raft_take_snapshot(struct raft *r, uint64_t index, const uint8_t *data, size_t len,
		       uint64_t trailing)
{
	if (index <= r->snap.meta.index || index > r->applied || index <= r->log.boundary ||
	    (len > 0 && data == NULL))
		return RAFT_E_INVALID;
	struct raft_snapshot_meta meta;
	uint64_t conf_index;
	meta.index = index;
	meta.term = raft_log_term(&r->log, index);
	if (meta.term == 0)
		return RAFT_E_INVALID;
	raft_conf_at(r, index, &meta.conf, &conf_index);
	uint8_t *copy = NULL;
	if (len > 0) {
		copy = raft_malloc(r, len);
		if (copy == NULL)
			return RAFT_E_NOMEM;
		memcpy(copy, data, len);
	}
	raft_free_mem(r, r->snap.data);
	r->snap.meta = meta;
	r->snap.data = copy;
	r->snap.len = len;
	uint64_t upto = index > trailing ? index - trailing : 0;
	if (upto > r->log.boundary) {
		raft_conf_at(r, upto, &r->base_conf, &r->base_conf_index);
		raft_log_compact(&r->log, upto);
		r->compacted = upto;
	}
	raft_tracef(r, "snapshot at %" PRIu64 "/%" PRIu64 " (%zu bytes), log compacted to %" PRIu64, index,
		    meta.term, len, r->log.boundary);
	/* Followers being sent the old snapshot start over with this one. */
	for (size_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].state == RAFT_PR_SNAPSHOT)
			raft_progress_become_snapshot(&r->prs[i], index);
	return 0;
}

void raft_send_snapshot_chunks(struct raft *r, struct raft_progress *pr)
{
	if (r->snap.meta.index == 0) {
		raft_progress_become_probe(pr);
		return;
	}
	if (pr->snap_index != r->snap.meta.index)
		raft_progress_become_snapshot(pr, r->snap.meta.index);
	uint64_t total = r->snap.len;
	uint64_t chunk = r->cfg.snapshot_chunk_bytes;
	uint64_t window = chunk * r->cfg.snapshot_window;
	while (!pr->snap_done_sent && pr->snap_sent - pr->snap_acked < window) {
		uint64_t len = total - pr->snap_sent;
		if (len > chunk)
			len = chunk;
		struct raft_message m = raft_msg(r, RAFT_MSG_SNAPSHOT, pr->id);
		m.snapshot.meta = &r->snap.meta;
		m.snapshot.total = total;
		m.snapshot.offset = pr->snap_sent;
		m.snapshot.data = len > 0 ? r->snap.data + pr->snap_sent : NULL;
		m.snapshot.len = (size_t)len;
		m.snapshot.done = pr->snap_sent + len == total;
		if (!raft_send(r, &m))
			return;
		pr->snap_sent += len;
		if (m.snapshot.done)
			pr->snap_done_sent = true;
	}
}

void raft_snap_rcv_reset(struct raft *r)
{
	raft_free_mem(r, r->rcv.buf);
	memset(&r->rcv, 0, sizeof(r->rcv));
}

static void snap_resp(struct raft *r, raft_id to, uint64_t index, uint64_t offset, bool reject)
{
	struct raft_message m = raft_msg(r, RAFT_MSG_SNAPSHOT_RESP, to);
	m.snapshot_resp.index = index;
	m.snapshot_resp.offset = offset;
	m.snapshot_resp.reject = reject;
	raft_send(r, &m);
}

/* The whole snapshot is here: it replaces our log and state machine (Raft §7). */
static void install(struct raft *r, raft_id from)
{
	struct raft_snap_rcv *rcv = &r->rcv;
	raft_free_mem(r, r->snap.data);
	r->snap.meta = rcv->meta;
	r->snap.data = rcv->buf;
	r->snap.len = (size_t)rcv->total;
	rcv->buf = NULL;
	raft_snap_rcv_reset(r);

	uint64_t index = r->snap.meta.index;
	raft_log_reset(&r->log, index, r->snap.meta.term);
	r->base_conf = r->snap.meta.conf;
	r->base_conf_index = index;
	raft_conf_refresh(r);
	r->commit = index;
	r->restore_pending = true;
	r->persist_snap = true;
	uint64_t seq = raft_write_seq(r);
	r->stable = 0; /* nothing of the new log is durable until the write is */
	if (r->ack_upto < index)
		r->ack_upto = index;
	raft_tracef(r, "installing snapshot %" PRIu64 "/%" PRIu64 " (%zu bytes) from %" PRIu64, index,
		    r->snap.meta.term, r->snap.len, from);
	struct raft_message m = raft_msg(r, RAFT_MSG_SNAPSHOT_RESP, from);
	m.snapshot_resp.index = index;
	m.snapshot_resp.offset = r->snap.len;
	m.snapshot_resp.done = true;
	raft_gate(r, seq, &m);
}

void raft_recv_snapshot(struct raft *r, const struct raft_message *m)
{
	const struct raft_msg_snapshot *s = &m->snapshot;
	const struct raft_snapshot_meta *meta = s->meta;
	/* Our log already covers it: acknowledge through the append path (once
	 * durable) instead of replacing anything. */
	if (meta->index <= r->commit || raft_log_term(&r->log, meta->index) == meta->term) {
		uint64_t upto = r->commit;
		if (raft_log_term(&r->log, meta->index) == meta->term && meta->index > upto) {
			upto = meta->index;
			raft_commit_to(r, meta->index);
		}
		if (upto > r->ack_upto)
			r->ack_upto = upto;
		if (upto > r->resp_needed)
			r->resp_needed = upto;
		if (r->rcv.active)
			raft_snap_rcv_reset(r);
		return;
	}
	struct raft_snap_rcv *rcv = &r->rcv;
	if (!rcv->active || rcv->meta.index != meta->index || rcv->meta.term != meta->term ||
	    rcv->total != s->total) {
		if (s->offset != 0) {
			snap_resp(r, m->from, meta->index, 0, true);
			return;
		}
		if (s->total > r->cfg.max_snapshot_bytes) {
			raft_tracef(r, "snapshot %" PRIu64 " of %" PRIu64 " bytes exceeds max_snapshot_bytes",
				    meta->index, s->total);
			return;
		}
		raft_snap_rcv_reset(r);
		rcv->active = true;
		rcv->meta = *meta;
		rcv->total = s->total;
		raft_tracef(r, "receiving snapshot %" PRIu64 "/%" PRIu64 " (%" PRIu64 " bytes) from %" PRIu64,
			    meta->index, meta->term, s->total, m->from);
	}
	if (s->offset > rcv->received) {
		snap_resp(r, m->from, meta->index, rcv->received, true);
		return;
	}
	if (s->offset + s->len > rcv->received) {
		uint64_t skip = rcv->received - s->offset;
		uint64_t need = s->offset + s->len;
		if (need > rcv->cap) {
			uint64_t cap = rcv->cap > 0 ? rcv->cap : 4096;
			while (cap < need)
				cap *= 2;
			if (cap > rcv->total)
				cap = rcv->total;
			uint8_t *nb = raft_realloc(r, rcv->buf, (size_t)cap);
			if (nb == NULL) {
				raft_tracef(r, "out of memory receiving snapshot: dropping chunk");
				return;
			}
			rcv->buf = nb;
			rcv->cap = (size_t)cap;
		}
		memcpy(rcv->buf + rcv->received, s->data + skip, (size_t)(s->len - skip));
		rcv->received = need;
	}
	if (rcv->received == rcv->total) {
		install(r, m->from);
		return;
	}
	snap_resp(r, m->from, meta->index, rcv->received, false);
}

void raft_recv_snapshot_resp(struct raft *r, const struct raft_message *m)
{
	struct raft_progress *pr = raft_progress_find(r, m->from);
	if (pr == NULL)
		return;
	pr->recent_active = true;
	pr->last_heard = r->now;
	const struct raft_msg_snapshot_resp *s = &m->snapshot_resp;
	if (s->done) {
		if (s->index > raft_log_last(&r->log))
			return;
		bool rose = raft_progress_update(pr, s->index);
		if (pr->state == RAFT_PR_SNAPSHOT && pr->match >= pr->snap_index) {
			raft_tracef(r, "%" PRIu64 " installed snapshot %" PRIu64, pr->id, s->index);
			raft_progress_become_probe(pr);
		}
		if (rose) {
			raft_maybe_commit(r);
			if (r->role != RAFT_LEADER)
				return;
			raft_promote_check(r);
			raft_transfer_check(r);
		}
		return;
	}
	if (pr->state != RAFT_PR_SNAPSHOT || s->index != pr->snap_index)
		return;
	pr->snap_heard = true;
	uint64_t off = s->offset < r->snap.len ? s->offset : r->snap.len;
	if (s->reject || off < pr->snap_acked) {
		/* A gap, a restart, or an unknown snapshot: resend from there. */
		raft_progress_snap_rewind(pr, off);
		return;
	}
	pr->snap_acked = off;
	if (pr->snap_sent < off)
		pr->snap_sent = off;
}
