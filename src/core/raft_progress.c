/* raft_progress: what a leader knows of each follower's log, and the flow control of its appends. */
#include "raft_progress.h"

#include <string.h>

#include "raft_log.h"

bool raft_progress_init(struct raft_progress *pr, const struct raft_heap *heap, raft_id id,
			uint8_t role, uint64_t next, uint32_t cap)
{
	memset(pr, 0, sizeof(*pr));
	pr->inflight = rh_malloc(heap, (size_t)cap * sizeof(*pr->inflight));
	if (pr->inflight == NULL)
		return false;
	pr->in_cap = cap;
	pr->id = id;
	pr->role = role;
	pr->state = RAFT_PR_PROBE;
	pr->next = next > 0 ? next : 1;
	return true;
}

void raft_progress_close(struct raft_progress *pr, const struct raft_heap *heap)
{
	rh_free(heap, pr->inflight);
	pr->inflight = NULL;
}

void raft_inflight_reset(struct raft_progress *pr)
{
	pr->in_start = 0;
	pr->in_count = 0;
}

void raft_progress_become_probe(struct raft_progress *pr)
{
	/* Coming back from a snapshot, the follower holds at least the snapshot. */
	if (pr->state == RAFT_PR_SNAPSHOT) {
		uint64_t s = pr->snap_index;
		pr->next = (pr->match > s ? pr->match : s) + 1;
	} else {
		pr->next = pr->match + 1;
	}
	pr->state = RAFT_PR_PROBE;
	pr->probe_sent = false;
	pr->snap_index = 0;
	raft_inflight_reset(pr);
}

void raft_progress_become_replicate(struct raft_progress *pr)
{
	pr->state = RAFT_PR_REPLICATE;
	pr->next = pr->match + 1;
	pr->probe_sent = false;
	raft_inflight_reset(pr);
}

void raft_progress_become_snapshot(struct raft_progress *pr, uint64_t snap_index)
{
	pr->state = RAFT_PR_SNAPSHOT;
	pr->snap_index = snap_index;
	pr->snap_sent = 0;
	pr->snap_acked = 0;
	pr->snap_heard = false;
	pr->snap_done_sent = false;
	pr->probe_sent = false;
	raft_inflight_reset(pr);
}

void raft_progress_snap_rewind(struct raft_progress *pr, uint64_t offset)
{
	pr->snap_acked = offset;
	pr->snap_sent = offset;
	pr->snap_done_sent = false;
}

bool raft_progress_update(struct raft_progress *pr, uint64_t index)
{
	bool rose = false;
	if (index > pr->match) {
		pr->match = index;
		rose = true;
	}
	if (pr->next < index + 1)
		pr->next = index + 1;
	pr->probe_sent = false;
	return rose;
}

bool raft_progress_decr(struct raft_progress *pr, uint64_t rejected, uint64_t probe)
{
	if (pr->state == RAFT_PR_REPLICATE) {
		/* A rejection of an index we know matches is stale. Otherwise the
		 * pipeline lost something: restart from the known match. */
		if (rejected <= pr->match)
			return false;
		pr->next = pr->match + 1;
		return true;
	}
	/* PROBE: only the answer to the probe in flight counts. */
	if (pr->next == 0 || pr->next - 1 != rejected)
		return false;
	uint64_t next = rejected < probe + 1 ? rejected : probe + 1;
	if (next < pr->match + 1)
		next = pr->match + 1;
	if (next < 1)
		next = 1;
	pr->next = next;
	pr->probe_sent = false;
	return true;
}

bool raft_inflight_full(const struct raft_progress *pr)
{
	return pr->in_count >= pr->in_cap;
}

void raft_inflight_add(struct raft_progress *pr, uint64_t last)
{
	if (raft_inflight_full(pr))
		return;
	pr->inflight[(pr->in_start + pr->in_count) % pr->in_cap] = last;
	pr->in_count++;
}

void raft_inflight_free_le(struct raft_progress *pr, uint64_t index)
{
	while (pr->in_count > 0 && pr->inflight[pr->in_start] <= index) {
		pr->in_start = (pr->in_start + 1) % pr->in_cap;
		pr->in_count--;
	}
	if (pr->in_count == 0)
		pr->in_start = 0;
}

void raft_inflight_free_first(struct raft_progress *pr)
{
	if (pr->in_count == 0)
		return;
	pr->in_start = (pr->in_start + 1) % pr->in_cap;
	pr->in_count--;
}

const char *raft_progress_state_str(uint8_t s)
{
	switch (s) {
	case RAFT_PR_PROBE: return "probe";
	case RAFT_PR_REPLICATE: return "replicate";
	case RAFT_PR_SNAPSHOT: return "snapshot";
	}
	return "unknown";
}
