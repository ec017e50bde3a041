/* swim_state: the membership rules: incarnations, suspicion, death, leave, refutation, merge. */
#include "swim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void swim_emit(struct swim *s, uint64_t now, uint8_t type, const struct swim_member *m)
{
	struct swim_event ev = {
		.type = type,
		.state = m->state,
		.addr = m->addr,
		.incarnation = m->incarnation,
		.at = now,
	};
	memcpy(ev.id, m->id, (size_t)m->id_len + 1);
	ev.counts.alive = s->counts[SWIM_ALIVE];
	ev.counts.suspect = s->counts[SWIM_SUSPECT];
	ev.counts.dead = s->counts[SWIM_DEAD];
	ev.counts.left = s->counts[SWIM_LEFT];
	if (swim_fifo_push(&s->out_events, &ev) != 0)
		s->drops[SWIM_DROP_NOMEM]++;
}

void swim_set_state(struct swim *s, struct swim_member *m, uint8_t state, uint64_t now)
{
	if (m->state != state) {
		s->counts[m->state]--;
		s->counts[state]++;
		m->state = state;
		m->state_change = now;
	}
	if (state != SWIM_SUSPECT) {
		free(m->susp);
		m->susp = NULL;
	}
	if (state == SWIM_ALIVE || m == s->self)
		swim_timer_clear(&s->tab, m);
	else if (state == SWIM_DEAD || state == SWIM_LEFT)
		swim_timer_set(&s->tab, m, now + s->cfg.reap_timeout_ms);
}

/* Copies a valid id (at most SWIM_ID_MAX bytes) with its NUL. */
static void copy_id(char dst[SWIM_ID_MAX + 1], const char *src)
{
	memcpy(dst, src, strnlen(src, SWIM_ID_MAX) + 1);
	dst[SWIM_ID_MAX] = '\0';
}

void swim_member_msg(const struct swim *s, const struct swim_member *m, struct swim_msg *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->id, m->id, (size_t)m->id_len + 1);
	out->incarnation = m->incarnation;
	switch (m->state) {
	case SWIM_ALIVE:
		out->type = SWIM_MSG_ALIVE;
		out->addr = m->addr;
		out->meta = m->meta;
		out->meta_len = m->meta_len;
		break;
	case SWIM_SUSPECT:
		out->type = SWIM_MSG_SUSPECT;
		copy_id(out->from, m->susp ? m->susp->from : s->id);
		break;
	case SWIM_DEAD:
		out->type = SWIM_MSG_DEAD;
		copy_id(out->from, s->id);
		break;
	default:
		out->type = SWIM_MSG_LEFT;
		break;
	}
}

static void queue_update(struct swim *s, struct swim_member *m)
{
	swim_bq_push(&s->bq, &m->bcast);
	swim_gossip_soon(s);
}

/* Raises our incarnation above a claim about us and gossips that we are alive. */
static void refute(struct swim *s, uint64_t now, uint64_t claimed)
{
	struct swim_member *self = s->self;
	self->incarnation = (claimed > self->incarnation ? claimed : self->incarnation) + 1;
	swim_awareness_apply(&s->aw, 1);
	s->stats.refutes++;
	queue_update(s, self);
	swim_emit(s, now, SWIM_EV_REFUTED, self);
}

static struct swim_member *member_add(struct swim *s, uint64_t now, const char *id, uint64_t inc,
				      const struct swim_addr *addr, const uint8_t *meta,
				      size_t meta_len)
{
	if (s->tab.n >= s->cfg.max_members) {
		s->drops[SWIM_DROP_TABLE_FULL]++;
		return NULL;
	}
	struct swim_member *m = swim_member_new(id, swim_table_hash(&s->tab, id, strlen(id)));
	if (m == NULL || swim_member_set_meta(m, meta, meta_len) != 0)
		goto err_after_alloc;
	m->addr = *addr;
	m->incarnation = inc;
	m->state_change = now;
	/* A random list position, so that a new member is not probed by every
	 * node at the same point of their rounds (memberlist does the same). */
	if (swim_table_add(&s->tab, m, rng_below(&s->rng, s->tab.n + 1)) != 0)
		goto err_after_alloc;
	s->counts[SWIM_ALIVE]++;
	return m;

err_after_alloc:
	swim_member_free(m);
	s->drops[SWIM_DROP_NOMEM]++;
	return NULL;
}

/* An alive claim about ourselves: ignore it when it matches what we are,
 * refute it when it is as new or newer but different (a previous run of this
 * node with other metadata, or an old address). */
static void alive_about_self(struct swim *s, uint64_t now, uint64_t inc,
			     const struct swim_addr *addr, const uint8_t *meta, size_t meta_len)
{
	struct swim_member *self = s->self;
	if (s->leaving || inc < self->incarnation)
		return;
	if (inc == self->incarnation && swim_addr_equal(addr, &self->addr) &&
	    swim_member_meta_equal(self, meta, meta_len))
		return;
	refute(s, now, inc);
}

void swim_apply_alive(struct swim *s, uint64_t now, const char *id, uint64_t inc,
		      const struct swim_addr *addr, const uint8_t *meta, size_t meta_len)
{
	struct swim_member *m = swim_table_find(&s->tab, id);
	if (m == s->self) {
		alive_about_self(s, now, inc, addr, meta, meta_len);
		return;
	}
	if (m == NULL) {
		m = member_add(s, now, id, inc, addr, meta, meta_len);
		if (m != NULL) {
			queue_update(s, m);
			swim_emit(s, now, SWIM_EV_JOINED, m);
		}
		return;
	}
	if (inc <= m->incarnation)
		return;
	bool changed = !swim_addr_equal(addr, &m->addr) ||
		       !swim_member_meta_equal(m, meta, meta_len);
	if (changed && swim_member_set_meta(m, meta, meta_len) != 0) {
		s->drops[SWIM_DROP_NOMEM]++;
		return;
	}
	uint8_t prev = m->state;
	m->addr = *addr;
	m->incarnation = inc;
	swim_set_state(s, m, SWIM_ALIVE, now);
	queue_update(s, m);
	if (prev == SWIM_SUSPECT)
		swim_emit(s, now, SWIM_EV_ALIVE, m);
	else if (prev != SWIM_ALIVE)
		swim_emit(s, now, SWIM_EV_JOINED, m);
	else if (changed)
		swim_emit(s, now, SWIM_EV_UPDATED, m);
}

/* When a suspect member's timer must fire: for its next ask or its death. */
static uint64_t suspicion_timer(const struct swim_suspicion *susp)
{
	uint64_t d = swim_suspicion_deadline(susp);
	return susp->next_ask < d ? susp->next_ask : d;
}

/* A further node suspects m: count it once, and gossip the confirmation so
 * that the others' timers shrink as well (Lifeguard). */
static void confirm_suspicion(struct swim *s, struct swim_member *m, const char *from)
{
	uint64_t h = swim_table_hash(&s->tab, from, strlen(from));
	if (!swim_suspicion_confirm(m->susp, h))
		return;
	copy_id(m->susp->from, from);
	swim_timer_set(&s->tab, m, suspicion_timer(m->susp));
	queue_update(s, m);
}

/* Starts suspecting m on the word of `from`: m is alive, or suspect at an
 * older incarnation (the suspicion is renewed: the state does not change, so
 * no event; see the event contract in swim.h). */
static void start_suspicion(struct swim *s, uint64_t now, struct swim_member *m, uint64_t inc,
			    const char *from)
{
	bool renew = m->state == SWIM_SUSPECT;
	struct swim_suspicion *susp = m->susp ? m->susp : malloc(sizeof(*susp));
	m->susp = NULL;
	if (susp == NULL) {
		s->drops[SWIM_DROP_NOMEM]++;
		return;
	}
	/* k confirmations are expected from the other members; the accuser
	 * and the suspect cannot confirm, so small clusters expect none.
	 * memberlist ties k to suspicion_mult - 2; here it is its own knob so
	 * that a short timeout can still demand several confirmations. */
	uint32_t n = swim_live_count(s);
	uint32_t k = s->cfg.suspicion_confirmations;
	if (n < k + 2)
		k = 0;
	uint64_t min = swim_suspicion_min(s->cfg.suspicion_mult, n, s->cfg.probe_interval_ms);
	uint64_t max = min * s->cfg.suspicion_max_timeout_mult;
	swim_suspicion_init(susp, now, k, min, max, swim_table_hash(&s->tab, from, strlen(from)), from);
	susp->next_ask = now + 2 * (uint64_t)s->cfg.probe_interval_ms;

	m->incarnation = inc;
	swim_set_state(s, m, SWIM_SUSPECT, now);
	m->susp = susp;
	swim_timer_set(&s->tab, m, suspicion_timer(susp));
	queue_update(s, m);
	swim_probe_soon(s, m);
	if (!renew)
		swim_emit(s, now, SWIM_EV_SUSPECT, m);
}

void swim_apply_suspect(struct swim *s, uint64_t now, const char *id, uint64_t inc,
			const char *from)
{
	struct swim_member *m = swim_table_find(&s->tab, id);
	if (m == NULL || inc < m->incarnation)
		return;
	if (m == s->self) {
		if (!s->leaving)
			refute(s, now, inc);
		return;
	}
	/* Why a newer incarnation restarts the suspicion: m can only have
	 * reached it by refuting the suspicion we hold, so that one is over and
	 * this is a new one with its own full timeout. memberlist counts it as
	 * a confirmation of the old suspicion instead, which under heavy loss
	 * let an old timer declare a member dead moments after it refuted. */
	if (m->state == SWIM_SUSPECT && inc == m->incarnation)
		confirm_suspicion(s, m, from);
	else if (m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT)
		start_suspicion(s, now, m, inc, from);
}

void swim_apply_dead(struct swim *s, uint64_t now, const char *id, uint64_t inc, bool left)
{
	struct swim_member *m = swim_table_find(&s->tab, id);
	if (m == NULL || inc < m->incarnation)
		return;
	if (m == s->self) {
		if (!s->leaving)
			refute(s, now, inc);
		return;
	}
	/* A member already dead may still be reported as having left (it said
	 * goodbye while cut off); anything else about a dead one is old news. */
	if (m->state == SWIM_LEFT || (m->state == SWIM_DEAD && !left))
		return;
	m->incarnation = inc;
	swim_set_state(s, m, left ? SWIM_LEFT : SWIM_DEAD, now);
	queue_update(s, m);
	swim_emit(s, now, left ? SWIM_EV_LEFT : SWIM_EV_DEAD, m);
}

void swim_apply_msg(struct swim *s, uint64_t now, const struct swim_msg *m)
{
	switch (m->type) {
	case SWIM_MSG_ALIVE:
		swim_apply_alive(s, now, m->id, m->incarnation, &m->addr, m->meta, m->meta_len);
		break;
	case SWIM_MSG_SUSPECT:
		swim_apply_suspect(s, now, m->id, m->incarnation, m->from);
		break;
	case SWIM_MSG_DEAD:
		swim_apply_dead(s, now, m->id, m->incarnation, false);
		break;
	case SWIM_MSG_LEFT:
		swim_apply_dead(s, now, m->id, m->incarnation, true);
		break;
	default:
		break;
	}
}

/* An alive digest entry (SWIM_PP_DIGEST): nothing to apply without the
 * address and metadata, so it returns true when it is news to us and the
 * caller must ask the sender for the full record. A newer life of ourselves
 * is refuted at once. */
static bool merge_alive_digest(struct swim *s, uint64_t now, const struct swim_pp_member *r)
{
	struct swim_member *m = swim_table_find(&s->tab, r->id);
	if (m != s->self)
		return m == NULL || r->incarnation > m->incarnation;
	if (r->incarnation > m->incarnation && !s->leaving)
		refute(s, now, r->incarnation);
	return false;
}

/* Why a remote suspect or dead record about a member we hold alive at the
 * same incarnation is passed on to that member instead of starting our own
 * suspicion: the record is one node's view, maybe a minute old, while our
 * own probes say the member is fine; only the member can settle it, by
 * refuting. When a partition heals, every node of one half merges the other
 * half's "dead" records about its own half's live members at once; as
 * suspicions, their many accusers counted as confirmations, the timeout fell
 * to its minimum (1.7 s with 50 live members) and a node declared a live
 * member of its own half dead before the refutation reached it (sim_swim
 * partition seed 11). A member that really failed is still found by our
 * probes and its death gossiped. Returns true when the record was passed on. */
static bool pass_claim_on(struct swim *s, const struct swim_pp_member *r, const char *sender)
{
	const struct swim_member *m = swim_table_find(&s->tab, r->id);
	if (m == NULL || m == s->self || m->state != SWIM_ALIVE || r->incarnation != m->incarnation)
		return false;
	struct swim_msg claim = {.type = SWIM_MSG_SUSPECT, .incarnation = r->incarnation};
	memcpy(claim.id, m->id, (size_t)m->id_len + 1);
	copy_id(claim.from, sender);
	swim_send(s, &m->addr, &claim, 1, false);
	return true;
}

bool swim_merge(struct swim *s, uint64_t now, const struct swim_pushpull *pp)
{
	bool digest = (pp->flags & SWIM_PP_DIGEST) != 0, behind = false;
	for (size_t i = 0; i < pp->n_members; i++) {
		const struct swim_pp_member *r = &pp->members[i];
		switch (r->state) {
		case SWIM_ALIVE:
			if (digest)
				behind |= merge_alive_digest(s, now, r);
			else
				swim_apply_alive(s, now, r->id, r->incarnation, &r->addr, r->meta,
						 r->meta_len);
			break;
		case SWIM_LEFT:
			swim_apply_dead(s, now, r->id, r->incarnation, true);
			break;
		default:
			/* Why suspect and not dead: a full state can be old and
			 * comes from one node's view, so a remote "dead" only
			 * starts our own suspicion, which the member can refute
			 * and which our own probes confirm or clear (memberlist's
			 * mergeState does the same). */
			if (!pass_claim_on(s, r, pp->sender))
				swim_apply_suspect(s, now, r->id, r->incarnation, pp->sender);
			break;
		}
	}
	return behind;
}

/* Forgets a dead or left member. */
static void reap(struct swim *s, uint64_t now, struct swim_member *m)
{
	swim_bq_remove(&s->bq, &m->bcast);
	s->counts[m->state]--;
	swim_table_del(&s->tab, m);
	swim_emit(s, now, SWIM_EV_REAPED, m);
	swim_member_free(m);
}

/* Why this is not in the paper: a suspicion still held two probe intervals
 * after it began means that the refutation missed us, or that the suspect
 * never heard of the suspicion; a live suspect refutes within a round trip
 * of hearing it, and its refutation reaches nearly everyone within a second.
 * Once the update has been gossiped retransmit-limit times nothing else
 * tells us otherwise until the deadline: at 30 % loss a node now and then
 * missed the refutation and every answer to its own gossip, and declared a
 * live member dead when its (unconfirmed, 24 s) timer ran out (sim_swim
 * loss-30 seed 3 with suspicion_mult 2). So, once per probe interval until
 * the deadline, we send our suspicion to the suspect (Lifeguard's buddy
 * system, not only when we happen to probe it) and to indirect_checks
 * random alive members: the suspect refutes, a member that knows better
 * answers with the refutation (correct_stale_sender in swim.c), and one
 * that agrees counts us as a confirmation. A member that really failed
 * costs each node a few small packets before it is declared dead. */
static void ask_about_suspect(struct swim *s, uint64_t now, struct swim_member *m)
{
	struct swim_member *peers[SWIM_MAX_PICK];
	size_t k = swim_pick(s, now, s->cfg.indirect_checks, SWIM_PICK_RELAY, m, peers);
	struct swim_msg msg;
	swim_member_msg(s, m, &msg);
	swim_send(s, &m->addr, &msg, 1, false);
	for (size_t i = 0; i < k; i++)
		swim_send(s, &peers[i]->addr, &msg, 1, false);
	m->susp->next_ask = now + s->cfg.probe_interval_ms;
	swim_timer_set(&s->tab, m, suspicion_timer(m->susp));
}

void swim_run_member_timers(struct swim *s, uint64_t now)
{
	struct swim_member *m;
	while ((m = swim_timer_min(&s->tab)) != NULL && m->timer_at <= now) {
		if (m->state == SWIM_SUSPECT && m->susp != NULL && now < swim_suspicion_deadline(m->susp))
			ask_about_suspect(s, now, m);
		else if (m->state == SWIM_SUSPECT)
			swim_apply_dead(s, now, m->id, m->incarnation, false);
		else if (m->state == SWIM_DEAD || m->state == SWIM_LEFT)
			reap(s, now, m);
		else
			swim_timer_clear(&s->tab, m);
	}
}
