/* raft: the core's lifecycle, raft_step's dispatch of events, and the assembly of each update. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "swarmnode/raft_codec.h"
#include "raft_internal.h"

const char *raft_strerror(int err)
{
	switch (err) {
	case RAFT_OK:
		return "success";
#define RAFT_ERR_CASE(name, val, msg) \
	case RAFT_E_##name:           \
		return msg;
		RAFT_ERRNO_MAP(RAFT_ERR_CASE)
#undef RAFT_ERR_CASE
	}
	return "unknown error";
}

const char *raft_role_str(uint8_t role)
{
	switch (role) {
	case RAFT_FOLLOWER: return "follower";
	case RAFT_PRE_CANDIDATE: return "pre-candidate";
	case RAFT_CANDIDATE: return "candidate";
	case RAFT_LEADER: return "leader";
	}
	return "unknown";
}

const char *raft_msg_type_str(uint8_t type)
{
	static const char *const names[] = {
		[RAFT_MSG_APPEND] = "append",
		[RAFT_MSG_APPEND_RESP] = "append-resp",
		[RAFT_MSG_VOTE] = "vote",
		[RAFT_MSG_VOTE_RESP] = "vote-resp",
		[RAFT_MSG_SNAPSHOT] = "snapshot",
		[RAFT_MSG_SNAPSHOT_RESP] = "snapshot-resp",
		[RAFT_MSG_HEARTBEAT] = "heartbeat",
		[RAFT_MSG_HEARTBEAT_RESP] = "heartbeat-resp",
		[RAFT_MSG_TIMEOUT_NOW] = "timeout-now",
		[RAFT_MSG_READ_INDEX] = "read-index",
		[RAFT_MSG_READ_INDEX_RESP] = "read-index-resp",
	};
	if (type >= sizeof(names) / sizeof(names[0]) || names[type] == NULL)
		return "unknown";
	return names[type];
}

/* ---- memory, randomness, trace ------------------------------------------------ */

void *raft_malloc(const struct raft *r, size_t n)
{
	return rh_malloc(r->cfg.heap, n);
}

void *raft_realloc(const struct raft *r, void *p, size_t n)
{
	return rh_realloc(r->cfg.heap, p, n);
}

void raft_free_mem(const struct raft *r, void *p)
{
	rh_free(r->cfg.heap, p);
}

/* Grows *arr (of elem-sized items, *cap of them) to hold one more. */
static bool grow(const struct raft *r, void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t nc = *cap > 0 ? *cap * 2 : 8;
	void *p = raft_realloc(r, *arr, nc * elem);
	if (p == NULL)
		return false;
	*arr = p;
	*cap = nc;
	return true;
}

uint64_t raft_rand_below(struct raft *r, uint64_t n)
{
	return rng_below64(&r->rng, n);
}

void raft_tracef(struct raft *r, const char *fmt, ...)
{
	if (r->cfg.trace == NULL)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r->cfg.trace(r->cfg.trace_data, r->now, line);
}

/* ---- configuration ------------------------------------------------------------ */

void raft_config_default(struct raft_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->election_timeout_ms = 1000;
	cfg->heartbeat_interval_ms = 100;
	cfg->max_inflight = 64;
	cfg->max_append_bytes = 1 << 20;
	cfg->max_entry_bytes = 1 << 20;
	cfg->snapshot_chunk_bytes = 512 << 10;
	cfg->snapshot_window = 4;
	cfg->max_snapshot_bytes = UINT64_C(1) << 30;
	cfg->max_catchup_rounds = 10;
	cfg->max_pending_reads = 4096;
	cfg->pre_vote = true;
	cfg->check_quorum = true;
}

static int cfg_fail(char *err, size_t len, const char *msg)
{
	if (err != NULL && len > 0)
		snprintf(err, len, "%s", msg);
	return RAFT_E_INVALID;
}

int raft_config_check(const struct raft_config *cfg, char *err, size_t len)
{
	if (cfg->id == RAFT_NONE)
		return cfg_fail(err, len, "id: must be non-zero");
	if (cfg->election_timeout_ms < 2)
		return cfg_fail(err, len, "election_timeout_ms: must be at least 2");
	if (cfg->heartbeat_interval_ms == 0 || cfg->heartbeat_interval_ms >= cfg->election_timeout_ms)
		return cfg_fail(err, len, "heartbeat_interval_ms: must be in [1, election_timeout_ms)");
	if (cfg->max_inflight == 0 || cfg->max_inflight > 65536)
		return cfg_fail(err, len, "max_inflight: must be in [1, 65536]");
	if (cfg->max_append_bytes == 0)
		return cfg_fail(err, len, "max_append_bytes: must be non-zero");
	if (cfg->max_entry_bytes == 0)
		return cfg_fail(err, len, "max_entry_bytes: must be non-zero");
	if (cfg->snapshot_chunk_bytes == 0)
		return cfg_fail(err, len, "snapshot_chunk_bytes: must be non-zero");
	if (cfg->snapshot_window == 0 || cfg->snapshot_window > 1024)
		return cfg_fail(err, len, "snapshot_window: must be in [1, 1024]");
	if (cfg->max_snapshot_bytes == 0)
		return cfg_fail(err, len, "max_snapshot_bytes: must be non-zero");
	if (cfg->max_catchup_rounds == 0)
		return cfg_fail(err, len, "max_catchup_rounds: must be non-zero");
	if (cfg->max_pending_reads == 0)
		return cfg_fail(err, len, "max_pending_reads: must be non-zero");
	return 0;
}

const struct raft_member *raft_configuration_find(const struct raft_configuration *c, raft_id id)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

uint32_t raft_configuration_voters(const struct raft_configuration *c)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->members[i].role == RAFT_VOTER)
			n++;
	return n;
}

bool raft_is_voter(const struct raft *r, raft_id id)
{
	const struct raft_member *m = raft_configuration_find(&r->conf, id);
	return m != NULL && m->role == RAFT_VOTER;
}

uint32_t raft_quorum(const struct raft *r)
{
	return raft_configuration_voters(&r->conf) / 2 + 1;
}

int raft_bootstrap(const struct raft_configuration *conf, struct raft_hard_state *hs,
		   struct raft_entry *entry, uint8_t *buf, size_t cap)
{
	if (!raft_conf_valid(conf) || raft_configuration_voters(conf) == 0)
		return RAFT_E_INVALID;
	size_t len;
	int rc = raft_configuration_encode(conf, buf, cap, &len);
	if (rc != 0)
		return rc;
	hs->term = 1;
	hs->vote = RAFT_NONE;
	entry->term = 1;
	entry->index = 1;
	entry->type = RAFT_ENTRY_CONFIG;
	entry->data = buf;
	entry->len = len;
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int boot_fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int boot_fail(char *err, size_t len, const char *fmt, ...)
{
	if (err != NULL && len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return RAFT_E_CORRUPT;
}

/* Checks the persisted state and decides which entries to keep: those after
 * the snapshot, if they can follow it (see below). Entries at or below the
 * snapshot's index are ignored: a host may hold some of them, with gaps (a
 * snapshot of its own can become durable before the write of the entries
 * just below it did). */
static int boot_check(const struct raft_boot *b, size_t *skip, size_t *keep, char *err,
		      size_t len)
{
	uint64_t snap_index = 0, snap_term = 0;
	if (b->snap != NULL && b->snap->index > 0) {
		snap_index = b->snap->index;
		snap_term = b->snap->term;
		if (snap_term == 0)
			return boot_fail(err, len, "snapshot: index %" PRIu64 " with term 0", snap_index);
		if (!raft_conf_valid(&b->snap->conf))
			return boot_fail(err, len, "snapshot: invalid configuration");
	}
	/* A host snapshot can become durable before the write that raised the
	 * term (entries are applied as soon as they are known committed), so
	 * its term may be above the hard state's; boot then takes its term. */
	uint64_t term = b->hs.term > snap_term ? b->hs.term : snap_term;
	*skip = 0;
	while (*skip < b->n_entries && b->entries[*skip].index <= snap_index)
		(*skip)++;
	*keep = b->n_entries - *skip;
	for (size_t i = 0; i < b->n_entries; i++) {
		const struct raft_entry *e = &b->entries[i];
		if (e->index == 0 || e->term == 0)
			return boot_fail(err, len, "entry %zu: index or term 0", i);
		if (i > 0 && e->index <= b->entries[i - 1].index)
			return boot_fail(err, len, "entry %zu: index %" PRIu64 " after %" PRIu64, i, e->index,
					 b->entries[i - 1].index);
		if (i > *skip && e->index != b->entries[i - 1].index + 1)
			return boot_fail(err, len, "entry %zu: index %" PRIu64 " after %" PRIu64, i, e->index,
					 b->entries[i - 1].index);
		if (i > *skip && e->term < b->entries[i - 1].term)
			return boot_fail(err, len, "entry %" PRIu64 ": term %" PRIu64 " after %" PRIu64,
					 e->index, e->term, b->entries[i - 1].term);
		if (e->term > term && i >= *skip)
			return boot_fail(err, len, "entry %" PRIu64 ": term %" PRIu64
					 " above the hard state's %" PRIu64, e->index, e->term, term);
		if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP)
			return boot_fail(err, len, "entry %" PRIu64 ": type %u", e->index, e->type);
		if (e->len > 0 && e->data == NULL)
			return boot_fail(err, len, "entry %" PRIu64 ": no data", e->index);
		if (e->type == RAFT_ENTRY_CONFIG && i >= *skip) {
			struct raft_configuration c;
			char why[RAFT_CODEC_ERR_MAX] = "";
			if (raft_configuration_decode(e->data, e->len, &c, why, sizeof(why)) != 0 ||
			    !raft_conf_valid(&c))
				return boot_fail(err, len, "entry %" PRIu64 ": bad configuration: %s",
						 e->index, why);
		}
	}
	if (*keep == 0)
		return 0;
	uint64_t first = b->entries[*skip].index;
	if (first != snap_index + 1) {
		if (snap_index == 0)
			return boot_fail(err, len, "log starts at %" PRIu64 " without a snapshot", first);
		return boot_fail(err, len, "log resumes at %" PRIu64 ", after the snapshot at %" PRIu64,
				 first, snap_index);
	}
	/*
	 * Which log follows the snapshot? Not decided by the entry at the
	 * snapshot's index: the host never rewrites entries below the first
	 * index of a write, so a stale entry of an older term can stay there
	 * under newer entries that follow the snapshot (found by the simulator:
	 * discarding those lost committed entries). An entry after the
	 * snapshot of a lower term than the snapshot's is stale, and so is the
	 * rest of that log: drop it. A leftover at the snapshot's index of a
	 * higher term than the snapshot's cannot exist in a correct run.
	 */
	const struct raft_entry *at = *skip > 0 ? &b->entries[*skip - 1] : NULL;
	if (at != NULL && at->index == snap_index && at->term > snap_term)
		return boot_fail(err, len, "entry %" PRIu64 ": term %" PRIu64 " above the snapshot's %" PRIu64,
				 at->index, at->term, snap_term);
	if (b->entries[*skip].term < snap_term) {
		*skip = b->n_entries;
		*keep = 0;
	}
	return 0;
}

int raft_new(const struct raft_config *cfg, const struct raft_boot *boot, uint64_t now,
	     struct raft **out, char *err, size_t errlen)
{
	int rc = raft_config_check(cfg, err, errlen);
	if (rc != 0)
		return rc;
	size_t skip, keep;
	rc = boot_check(boot, &skip, &keep, err, errlen);
	if (rc != 0)
		return rc;
	struct raft *r = rh_malloc(cfg->heap, sizeof(*r));
	if (r == NULL)
		return RAFT_E_NOMEM;
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	rng_seed(&r->rng, cfg->seed);
	r->now = now;
	r->term = boot->hs.term;
	r->vote = boot->hs.vote;
	if (boot->snap != NULL && boot->snap->term > r->term) {
		/* Our vote in the snapshot's term, if any, was never sent: it
		 * would have been held until durable. */
		r->term = boot->snap->term;
		r->vote = RAFT_NONE;
	}
	raft_log_init(&r->log, cfg->heap);
	if (boot->snap != NULL && boot->snap->index > 0) {
		r->snap.meta = *boot->snap;
		if (boot->snap_len > 0) {
			r->snap.data = raft_malloc(r, boot->snap_len);
			if (r->snap.data == NULL)
				goto err_after_alloc;
			memcpy(r->snap.data, boot->snap_data, boot->snap_len);
		}
		r->snap.len = boot->snap_len;
		raft_log_reset(&r->log, boot->snap->index, boot->snap->term);
		r->base_conf = boot->snap->conf;
		r->base_conf_index = boot->snap->index;
	}
	if (raft_log_reserve(&r->log, keep) != 0)
		goto err_after_alloc;
	for (size_t i = skip; i < skip + keep; i++) {
		const struct raft_entry *e = &boot->entries[i];
		if (raft_log_append(&r->log, e->term, e->type, e->data, e->len) != 0)
			goto err_after_alloc;
	}
	raft_conf_refresh(r);
	r->commit = r->applied = r->log.boundary;
	r->stable = raft_log_last(&r->log);
	r->role = RAFT_FOLLOWER;
	r->persist_from = UINT64_MAX;
	raft_reset_election_timer(r);
	raft_tracef(r, "start: term %" PRIu64 " vote %" PRIu64 " log %" PRIu64 "..%" PRIu64
		    " snapshot %" PRIu64 " voters %u", r->term, r->vote, r->log.boundary + 1,
		    raft_log_last(&r->log), r->snap.meta.index, raft_configuration_voters(&r->conf));
	*out = r;
	return 0;

err_after_alloc:
	raft_free(r);
	return RAFT_E_NOMEM;
}

void raft_free(struct raft *r)
{
	if (r == NULL)
		return;
	raft_log_close(&r->log);
	raft_free_mem(r, r->snap.data);
	raft_free_mem(r, r->rcv.buf);
	for (size_t i = 0; i < r->n_prs; i++)
		raft_progress_close(&r->prs[i], r->cfg.heap);
	raft_free_mem(r, r->prs);
	raft_free_mem(r, r->writes);
	raft_free_mem(r, r->gated);
	raft_free_mem(r, r->rreqs);
	raft_free_mem(r, r->rwaits);
	raft_free_mem(r, r->out.msgs);
	raft_free_mem(r, r->out.reads);
	raft_free_mem(r, r->out.notes);
	raft_free_mem(r, r);
}

/* ---- outputs ------------------------------------------------------------------------ */

struct raft_message raft_msg(const struct raft *r, uint8_t type, raft_id to)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.term = r->term;
	m.from = r->cfg.id;
	m.to = to;
	return m;
}

bool raft_send(struct raft *r, const struct raft_message *m)
{
	if (!grow(r, (void **)&r->out.msgs, &r->out.cap_msgs, r->out.n_msgs, sizeof(*m))) {
		raft_tracef(r, "out of memory: dropped %s to %" PRIu64, raft_msg_type_str(m->type), m->to);
		return false;
	}
	r->out.msgs[r->out.n_msgs++] = *m;
	return true;
}

bool raft_note(struct raft *r, uint8_t kind, raft_id id, uint64_t index, int status)
{
	if (!grow(r, (void **)&r->out.notes, &r->out.cap_notes, r->out.n_notes, sizeof(struct raft_note)))
		return false;
	r->out.notes[r->out.n_notes++] = (struct raft_note){ .kind = kind, .id = id, .index = index,
							      .status = status };
	return true;
}

bool raft_read_done(struct raft *r, uint64_t req_id, uint64_t index, int status)
{
	if (!grow(r, (void **)&r->out.reads, &r->out.cap_reads, r->out.n_reads,
		  sizeof(struct raft_read_result)))
		return false;
	r->out.reads[r->out.n_reads++] = (struct raft_read_result){ .req_id = req_id, .index = index,
								    .status = status };
	return true;
}

uint64_t raft_write_seq(struct raft *r)
{
	if (r->cur_seq == 0)
		r->cur_seq = ++r->seq_issued;
	return r->cur_seq;
}

void raft_log_dirty(struct raft *r, uint64_t from)
{
	raft_write_seq(r);
	if (from < r->persist_from)
		r->persist_from = from;
	if (from == 0)
		from = 1;
	if (r->stable > from - 1)
		r->stable = from - 1;
}

void raft_gate(struct raft *r, uint64_t seq, const struct raft_message *m)
{
	if (seq <= r->seq_persisted) {
		raft_send(r, m);
		return;
	}
	if (!grow(r, (void **)&r->gated, &r->cap_gated, r->n_gated, sizeof(struct raft_gated))) {
		raft_tracef(r, "out of memory: dropped held %s to %" PRIu64, raft_msg_type_str(m->type),
			    m->to);
		return;
	}
	r->gated[r->n_gated++] = (struct raft_gated){ .seq = seq, .msg = *m };
}

uint64_t raft_last_term(const struct raft *r)
{
	return raft_log_term(&r->log, raft_log_last(&r->log));
}

/* ---- receiving -------------------------------------------------------------------------- */

/* Checks what the core relies on in a message; the codec has checked the
 * encoding, but a host may build messages itself. */
static int check_message(const struct raft *r, const struct raft_message *m)
{
	if (m->to != r->cfg.id || m->from == RAFT_NONE || m->from == r->cfg.id)
		return RAFT_E_STALE;
	if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX || m->term == 0)
		return RAFT_E_INVALID;
	if (m->type == RAFT_MSG_APPEND) {
		const struct raft_msg_append *a = &m->append;
		if ((a->prev_index == 0) != (a->prev_term == 0) || a->prev_term > m->term)
			return RAFT_E_INVALID;
		if (a->n_entries > 0 && a->entries == NULL)
			return RAFT_E_INVALID;
		uint64_t t = a->prev_term;
		for (uint32_t i = 0; i < a->n_entries; i++) {
			const struct raft_entry *e = &a->entries[i];
			if (e->index != a->prev_index + 1 + i || e->term < t || e->term > m->term ||
			    e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP ||
			    (e->len > 0 && e->data == NULL))
				return RAFT_E_INVALID;
			t = e->term;
			if (e->type == RAFT_ENTRY_CONFIG) {
				struct raft_configuration c;
				if (raft_configuration_decode(e->data, e->len, &c, NULL, 0) != 0 ||
				    !raft_conf_valid(&c))
					return RAFT_E_INVALID;
			}
		}
	}
	if (m->type == RAFT_MSG_SNAPSHOT) {
		const struct raft_msg_snapshot *s = &m->snapshot;
		if (s->meta == NULL || s->meta->index == 0 || s->meta->term == 0 ||
		    s->meta->term > m->term || !raft_conf_valid(&s->meta->conf))
			return RAFT_E_INVALID;
		if (s->offset > s->total || s->len > s->total - s->offset ||
		    s->done != (s->offset + s->len == s->total) || (s->len > 0 && s->data == NULL))
			return RAFT_E_INVALID;
	}
	return 0;
}

/* Applies the term rules of Raft (§5.1) with pre-vote and the leader lease
 * (thesis §9.6, §4.2.3). Returns false when the message is to be dropped. */
static bool receive_term(struct raft *r, const struct raft_message *m)
{
	if (m->term > r->term) {
		if (m->type == RAFT_MSG_VOTE && !m->vote.transfer && raft_in_lease(r)) {
			raft_tracef(r, "ignoring %svote from %" PRIu64 " at term %" PRIu64
				    ": heard from leader %" PRIu64 " within the election timeout",
				    m->vote.pre_vote ? "pre-" : "", m->from, m->term, r->leader);
			return false;
		}
		if (m->type == RAFT_MSG_VOTE && m->vote.pre_vote)
			return true; /* a pre-vote does not change our term */
		if (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.pre_vote && m->vote_resp.granted)
			return true; /* the term we would take: counted by the pre-candidate */
		raft_id leader = RAFT_NONE;
		if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
		    m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW)
			leader = m->from;
		raft_tracef(r, "term %" PRIu64 " > %" PRIu64 " in %s from %" PRIu64 ", becoming follower",
			    m->term, r->term, raft_msg_type_str(m->type), m->from);
		raft_become_follower(r, m->term, leader);
		return true;
	}
	if (m->term < r->term) {
		if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
		    m->type == RAFT_MSG_SNAPSHOT) {
			/* Tell a deposed leader about the new term so that it steps
			 * down (it may not hear of it otherwise: the lease makes us
			 * ignore its votes). */
			struct raft_message resp = raft_msg(r, RAFT_MSG_APPEND_RESP, m->from);
			resp.append_resp.reject = true;
			raft_send(r, &resp);
		} else if (m->type == RAFT_MSG_VOTE && m->vote.pre_vote) {
			struct raft_message resp = raft_msg(r, RAFT_MSG_VOTE_RESP, m->from);
			resp.vote_resp.pre_vote = true;
			raft_send(r, &resp);
		}
		return false;
	}
	return true;
}

/* A message of the current term from the leader: remember it as leader. */
static void heard_from_leader(struct raft *r, raft_id from)
{
	if (r->role == RAFT_LEADER) {
		raft_tracef(r, "BUG: %" PRIu64 " claims leadership of our term %" PRIu64, from, r->term);
		return;
	}
	if (r->role != RAFT_FOLLOWER)
		raft_become_follower(r, r->term, from);
	if (r->leader != from) {
		raft_tracef(r, "leader is %" PRIu64 " in term %" PRIu64, from, r->term);
		r->leader = from;
	}
	r->leader_contact = r->now;
	raft_reset_election_timer(r);
}

static int receive(struct raft *r, const struct raft_message *m)
{
	int rc = check_message(r, m);
	if (rc != 0)
		return rc;
	if (!receive_term(r, m))
		return 0;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		heard_from_leader(r, m->from);
		if (r->role == RAFT_FOLLOWER)
			raft_recv_append(r, m);
		break;
	case RAFT_MSG_HEARTBEAT:
		heard_from_leader(r, m->from);
		if (r->role == RAFT_FOLLOWER)
			raft_recv_heartbeat(r, m);
		break;
	case RAFT_MSG_SNAPSHOT:
		heard_from_leader(r, m->from);
		if (r->role == RAFT_FOLLOWER)
			raft_recv_snapshot(r, m);
		break;
	case RAFT_MSG_APPEND_RESP:
		if (r->role == RAFT_LEADER)
			raft_recv_append_resp(r, m);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		if (r->role == RAFT_LEADER)
			raft_recv_heartbeat_resp(r, m);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		if (r->role == RAFT_LEADER)
			raft_recv_snapshot_resp(r, m);
		break;
	case RAFT_MSG_VOTE:
		raft_recv_vote(r, m);
		break;
	case RAFT_MSG_VOTE_RESP:
		raft_recv_vote_resp(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		raft_recv_timeout_now(r, m);
		break;
	case RAFT_MSG_READ_INDEX:
		raft_recv_read_index(r, m);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		raft_recv_read_index_resp(r, m);
		break;
	}
	return 0;
}

/* ---- the step ------------------------------------------------------------------------------- */

static void begin_step(struct raft *r, uint64_t now)
{
	if (now > r->now)
		r->now = now;
	r->out.n_msgs = 0;
	r->out.n_reads = 0;
	r->out.n_notes = 0;
	r->cur_seq = 0;
	r->hs_dirty = false;
	r->persist_from = UINT64_MAX;
	r->persist_snap = false;
	r->compacted = 0;
	r->proposed_index = r->proposed_term = 0;
	r->changed = 0;
	r->prev_role = r->role;
	r->prev_leader = r->leader;
	r->prev_term = r->term;
}

uint64_t raft_deadline(const struct raft *r)
{
	uint64_t d = UINT64_MAX;
	if (r->role == RAFT_LEADER) {
		d = r->heartbeat_deadline;
		if (r->cfg.check_quorum && r->quorum_deadline < d)
			d = r->quorum_deadline;
		if (r->transferee != RAFT_NONE && r->transfer_deadline < d)
			d = r->transfer_deadline;
	} else if (raft_is_voter(r, r->cfg.id)) {
		d = r->election_deadline;
	}
	uint64_t rd = raft_reads_deadline(r);
	return rd < d ? rd : d;
}

static void finalize(struct raft *r, struct raft_update *up)
{
	if (r->role == RAFT_LEADER)
		raft_flush_appends(r);
	else
		raft_flush_ack(r);

	memset(up, 0, sizeof(*up));
	/* What to apply. */
	if (r->restore_pending) {
		up->restore = &r->snap.meta;
		up->restore_data = r->snap.data;
		up->restore_len = r->snap.len;
		r->applied = r->snap.meta.index;
		r->restore_pending = false;
	}
	if (r->commit > r->applied) {
		const struct raft_entry *e = raft_log_get(&r->log, r->applied + 1);
		if (e != NULL && raft_log_get(&r->log, r->commit) != NULL) {
			up->committed = e;
			up->n_committed = (size_t)(r->commit - r->applied);
			r->applied = r->commit;
		} else {
			raft_tracef(r, "BUG: committed %" PRIu64 "..%" PRIu64 " not in the log %" PRIu64
				    "..%" PRIu64, r->applied + 1, r->commit, r->log.boundary + 1,
				    raft_log_last(&r->log));
		}
	}
	raft_reads_flush(r);

	/* What to write. */
	if (r->cur_seq != 0) {
		uint64_t last = raft_log_last(&r->log);
		uint64_t first = r->persist_snap ? 1 : r->persist_from;
		struct raft_write w = { .seq = r->cur_seq, .first_index = first, .last_index = last };
		if (grow(r, (void **)&r->writes, &r->cap_writes, r->n_writes, sizeof(w))) {
			r->writes[r->n_writes++] = w;
		} else {
			/* Without the record the acknowledgement cannot raise stable
			 * past this write: keep stable where it is, which only delays
			 * acknowledgements until a later write is acknowledged. */
			raft_tracef(r, "out of memory: write %" PRIu64 " untracked", r->cur_seq);
		}
		up->persist.seq = r->cur_seq;
		up->persist.hard_state_changed = r->hs_dirty;
		up->persist.hard_state.term = r->term;
		up->persist.hard_state.vote = r->vote;
		if (r->persist_snap) {
			up->persist.snapshot = &r->snap.meta;
			up->persist.snapshot_data = r->snap.data;
			up->persist.snapshot_len = r->snap.len;
		}
		uint64_t from = r->persist_from;
		if (from <= r->log.boundary)
			from = r->log.boundary + 1;
		if (from <= last) {
			up->persist.entries = raft_log_get(&r->log, from);
			up->persist.n_entries = (size_t)(last - from + 1);
		}
	}
	up->compacted = r->compacted;
	up->messages = r->out.msgs;
	up->n_messages = r->out.n_msgs;
	up->reads = r->out.reads;
	up->n_reads = r->out.n_reads;
	up->notes = r->out.notes;
	up->n_notes = r->out.n_notes;
	up->proposed_index = r->proposed_index;
	up->proposed_term = r->proposed_term;
	if (r->role != r->prev_role)
		r->changed |= RAFT_UPDATE_ROLE;
	if (r->leader != r->prev_leader)
		r->changed |= RAFT_UPDATE_LEADER;
	if (r->term != r->prev_term)
		r->changed |= RAFT_UPDATE_TERM;
	up->changed = r->changed;
	up->role = r->role;
	up->term = r->term;
	up->leader = r->leader;
	up->commit = r->commit;
	up->deadline = raft_deadline(r);
}

int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *up)
{
	begin_step(r, ev->now);
	int rc = 0;
	switch (ev->type) {
	case RAFT_EV_TICK:
		raft_tick(r);
		break;
	case RAFT_EV_RECEIVE:
		rc = ev->receive.msg != NULL ? receive(r, ev->receive.msg) : RAFT_E_INVALID;
		break;
	case RAFT_EV_PROPOSE:
		rc = raft_propose(r, ev->propose.bufs, ev->propose.n);
		break;
	case RAFT_EV_PERSISTED:
		if (ev->persisted.seq > r->seq_issued)
			rc = RAFT_E_INVALID;
		else
			raft_persisted(r, ev->persisted.seq);
		break;
	case RAFT_EV_SNAPSHOT:
		rc = raft_take_snapshot(r, ev->snapshot.index, ev->snapshot.data, ev->snapshot.len,
					ev->snapshot.trailing);
		break;
	case RAFT_EV_CHANGE:
		rc = raft_change(r, ev->change.kind, ev->change.id, ev->change.node_id);
		break;
	case RAFT_EV_TRANSFER:
		rc = raft_transfer(r, ev->transfer.to);
		break;
	case RAFT_EV_READ:
		raft_read(r, ev->read.req_id);
		break;
	case RAFT_EV_UNREACHABLE:
		raft_unreachable(r, ev->unreachable.peer);
		break;
	default:
		rc = RAFT_E_INVALID;
		break;
	}
	finalize(r, up);
	return rc;
}

/* ---- queries ------------------------------------------------------------------------------------- */

raft_id raft_self(const struct raft *r)
{
	return r->cfg.id;
}

uint8_t raft_role(const struct raft *r)
{
	return r->role;
}

uint64_t raft_term(const struct raft *r)
{
	return r->term;
}

raft_id raft_leader(const struct raft *r)
{
	return r->leader;
}

uint64_t raft_commit_index(const struct raft *r)
{
	return r->commit;
}

uint64_t raft_last_index(const struct raft *r)
{
	return raft_log_last(&r->log);
}

uint64_t raft_term_at(const struct raft *r, uint64_t index)
{
	return raft_log_term(&r->log, index);
}

const struct raft_configuration *raft_configuration(const struct raft *r, uint64_t *index)
{
	if (index != NULL)
		*index = r->conf_index;
	return &r->conf;
}

size_t raft_peers(const struct raft *r, struct raft_peer_status *out, size_t cap)
{
	if (r->role != RAFT_LEADER)
		return 0;
	for (size_t i = 0; i < r->n_prs && i < cap; i++) {
		const struct raft_progress *pr = &r->prs[i];
		out[i] = (struct raft_peer_status){
			.id = pr->id,
			.role = pr->role,
			.match = pr->match,
			.next = pr->next,
			.last_heard = pr->last_heard,
			.reachable = pr->last_heard > 0 &&
				     r->now - pr->last_heard < r->cfg.election_timeout_ms,
		};
	}
	return r->n_prs;
}
