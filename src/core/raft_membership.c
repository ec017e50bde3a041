/* raft_membership: configurations in the log, single-server changes, learner catch-up and promotion. */
#include <inttypes.h>
#include <string.h>

#include "swarmnode/raft_codec.h"
#include "raft_internal.h"

bool raft_conf_valid(const struct raft_configuration *c)
{
	if (c->n > RAFT_MAX_MEMBERS)
		return false;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_member *m = &c->members[i];
		if (m->id == RAFT_NONE || (m->role != RAFT_VOTER && m->role != RAFT_LEARNER))
			return false;
		if (memchr(m->node_id, '\0', sizeof(m->node_id)) == NULL ||
		    (m->node_id[0] != '\0' && !ids_valid(m->node_id)))
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (c->members[j].id == m->id)
				return false;
	}
	return true;
}

int raft_conf_at(const struct raft *r, uint64_t index, struct raft_configuration *out,
		 uint64_t *out_index)
{
	uint64_t last = raft_log_last(&r->log);
	if (index > last)
		index = last;
	for (uint64_t i = index; i > r->log.boundary; i--) {
		const struct raft_entry *e = raft_log_get(&r->log, i);
		if (e->type != RAFT_ENTRY_CONFIG)
			continue;
		/* Every config entry was checked when it entered the log. */
		if (raft_configuration_decode(e->data, e->len, out, NULL, 0) == 0) {
			*out_index = i;
			return 0;
		}
	}
	*out = r->base_conf;
	*out_index = r->base_conf_index;
	return 0;
}

void raft_conf_refresh(struct raft *r)
{
	struct raft_configuration c;
	uint64_t index;
	raft_conf_at(r, raft_log_last(&r->log), &c, &index);
	raft_conf_set(r, &c, index);
}

void raft_conf_set(struct raft *r, const struct raft_configuration *c, uint64_t index)
{
	bool was_voter = raft_is_voter(r, r->cfg.id);
	if (index != r->conf_index || memcmp(c, &r->conf, sizeof(*c)) != 0) {
		r->changed |= RAFT_UPDATE_CONFIG;
		raft_tracef(r, "configuration at %" PRIu64 ": %u members, %u voters", index, c->n,
			    raft_configuration_voters(c));
	}
	r->conf = *c;
	r->conf_index = index;
	if (r->role == RAFT_LEADER && !raft_progress_sync(r)) {
		raft_tracef(r, "out of memory tracking the new configuration: stepping down");
		raft_become_follower(r, r->term, RAFT_NONE);
		return;
	}
	if (!was_voter && raft_is_voter(r, r->cfg.id) && r->role != RAFT_LEADER)
		raft_reset_election_timer(r);
}

struct raft_progress *raft_progress_find(struct raft *r, raft_id id)
{
	for (size_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

bool raft_progress_sync(struct raft *r)
{
	struct raft_progress *nprs = raft_malloc(r, RAFT_MAX_MEMBERS * sizeof(*nprs));
	if (nprs == NULL)
		return false;
	size_t n = 0;
	uint64_t next = raft_log_last(&r->log) + 1;
	for (uint32_t i = 0; i < r->conf.n; i++) {
		const struct raft_member *mb = &r->conf.members[i];
		if (mb->id == r->cfg.id)
			continue;
		struct raft_progress *old = raft_progress_find(r, mb->id);
		if (old != NULL) {
			nprs[n] = *old;
			old->inflight = NULL; /* moved */
		} else if (!raft_progress_init(&nprs[n], r->cfg.heap, mb->id, mb->role, next,
					       r->cfg.max_inflight)) {
			/* Undo: give the moved rings back. */
			for (size_t j = 0; j < n; j++) {
				struct raft_progress *o = raft_progress_find(r, nprs[j].id);
				if (o != NULL && o->inflight == NULL)
					o->inflight = nprs[j].inflight;
				else
					raft_progress_close(&nprs[j], r->cfg.heap);
			}
			raft_free_mem(r, nprs);
			return false;
		}
		nprs[n].role = mb->role;
		n++;
	}
	for (size_t i = 0; i < r->n_prs; i++)
		raft_progress_close(&r->prs[i], r->cfg.heap);
	raft_free_mem(r, r->prs);
	r->prs = nprs;
	r->n_prs = n;
	if (r->transferee != RAFT_NONE && !raft_is_voter(r, r->transferee))
		r->transferee = RAFT_NONE;
	return true;
}

/* Appends c as a configuration entry; it takes effect at once. */
static int append_conf(struct raft *r, const struct raft_configuration *c)
{
	uint8_t buf[RAFT_CONF_ENCODED_MAX];
	size_t len;
	int rc = raft_configuration_encode(c, buf, sizeof(buf), &len);
	if (rc != 0)
		return rc;
	rc = raft_leader_append(r, RAFT_ENTRY_CONFIG, buf, len);
	if (rc != 0)
		return rc;
	raft_conf_set(r, c, raft_log_last(&r->log));
	raft_maybe_commit(r);
	return 0;
}

static bool node_id_ok(const char *s)
{
	return s == NULL || s[0] == '\0' || ids_valid(s);
}

int raft_change(struct raft *r, uint8_t kind, raft_id id, const char *node_id)
{
	if (r->role != RAFT_LEADER)
		return r->leader != RAFT_NONE ? RAFT_E_NOT_LEADER : RAFT_E_NO_LEADER;
	if (id == RAFT_NONE)
		return RAFT_E_INVALID;
	/* One change at a time, and only once an entry of our term is committed:
	 * a new leader may hold an uncommitted change of an earlier term
	 * (Ongaro's fix to single-server changes, raft-dev 2015). */
	if (r->conf_index > r->commit || r->commit < r->term_start_index ||
	    r->promote.id != RAFT_NONE || r->transferee != RAFT_NONE)
		return RAFT_E_BUSY;
	struct raft_configuration c = r->conf;
	struct raft_member *m = NULL;
	uint32_t pos = 0;
	for (uint32_t i = 0; i < c.n; i++) {
		if (c.members[i].id == id) {
			m = &c.members[i];
			pos = i;
		}
	}
	uint32_t voters = raft_configuration_voters(&c);
	switch (kind) {
	case RAFT_CHANGE_ADD_LEARNER:
		if (m != NULL)
			return RAFT_E_EXISTS;
		if (c.n >= RAFT_MAX_MEMBERS)
			return RAFT_E_FULL;
		if (!node_id_ok(node_id))
			return RAFT_E_INVALID;
		memset(&c.members[c.n], 0, sizeof(c.members[c.n]));
		c.members[c.n].id = id;
		c.members[c.n].role = RAFT_LEARNER;
		if (node_id != NULL)
			memcpy(c.members[c.n].node_id, node_id, strlen(node_id));
		c.n++;
		raft_tracef(r, "adding %" PRIu64 " as a learner", id);
		return append_conf(r, &c);
	case RAFT_CHANGE_PROMOTE:
		if (m == NULL)
			return RAFT_E_NOT_FOUND;
		if (m->role == RAFT_VOTER)
			return RAFT_E_EXISTS;
		r->promote.id = id;
		r->promote.round = 1;
		r->promote.round_index = raft_log_last(&r->log);
		r->promote.round_start = r->now;
		r->promote.started = r->now;
		raft_tracef(r, "promoting %" PRIu64 ": catch-up round 1 to %" PRIu64, id,
			    r->promote.round_index);
		raft_promote_check(r);
		return 0;
	case RAFT_CHANGE_DEMOTE:
		if (m == NULL)
			return RAFT_E_NOT_FOUND;
		if (m->role != RAFT_VOTER)
			return RAFT_E_INVALID;
		if (voters == 1)
			return RAFT_E_LAST_VOTER;
		m->role = RAFT_LEARNER;
		raft_tracef(r, "demoting %" PRIu64 " to learner", id);
		return append_conf(r, &c);
	case RAFT_CHANGE_REMOVE:
		if (m == NULL)
			return RAFT_E_NOT_FOUND;
		if (m->role == RAFT_VOTER && voters == 1)
			return RAFT_E_LAST_VOTER;
		c.members[pos] = c.members[c.n - 1];
		c.n--;
		raft_tracef(r, "removing %" PRIu64, id);
		return append_conf(r, &c);
	}
	return RAFT_E_INVALID;
}

void raft_promote_abort(struct raft *r, int status)
{
	raft_tracef(r, "promotion of %" PRIu64 " failed: %s", r->promote.id, raft_strerror(status));
	raft_note(r, RAFT_NOTE_PROMOTE_FAILED, r->promote.id, 0, status);
	memset(&r->promote, 0, sizeof(r->promote));
}

void raft_promote_check(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->promote.id == RAFT_NONE)
		return;
	struct raft_progress *pr = raft_progress_find(r, r->promote.id);
	if (pr == NULL || pr->role != RAFT_LEARNER) {
		raft_promote_abort(r, RAFT_E_NOT_FOUND);
		return;
	}
	uint64_t t = r->cfg.election_timeout_ms;
	if (pr->match < r->promote.round_index) {
		if (r->now - r->promote.started > t * r->cfg.max_catchup_rounds)
			raft_promote_abort(r, RAFT_E_NOT_CAUGHT_UP);
		return;
	}
	/* A round that took less than an election timeout means the learner is
	 * close enough that adding its vote will not stall commitment (thesis
	 * §4.2.1). */
	if (r->now - r->promote.round_start > t) {
		if (++r->promote.round > r->cfg.max_catchup_rounds) {
			raft_promote_abort(r, RAFT_E_NOT_CAUGHT_UP);
			return;
		}
		r->promote.round_index = raft_log_last(&r->log);
		r->promote.round_start = r->now;
		raft_tracef(r, "promoting %" PRIu64 ": catch-up round %u to %" PRIu64, pr->id,
			    r->promote.round, r->promote.round_index);
		return;
	}
	raft_id id = r->promote.id;
	memset(&r->promote, 0, sizeof(r->promote));
	struct raft_configuration c = r->conf;
	for (uint32_t i = 0; i < c.n; i++)
		if (c.members[i].id == id)
			c.members[i].role = RAFT_VOTER;
	raft_tracef(r, "learner %" PRIu64 " caught up at %" PRIu64 ": promoting to voter", id, pr->match);
	int rc = append_conf(r, &c);
	if (rc != 0) {
		r->promote.id = id;
		raft_promote_abort(r, rc);
		return;
	}
	raft_note(r, RAFT_NOTE_PROMOTING, id, r->conf_index, 0);
}

void raft_check_removed(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->commit < r->conf_index || raft_is_voter(r, r->cfg.id))
		return;
	raft_tracef(r, "no longer a voter as of committed configuration %" PRIu64 ": stepping down",
		    r->conf_index);
	raft_become_follower(r, r->term, RAFT_NONE);
}
