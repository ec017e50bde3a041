/* swim_probe: failure detection (direct and indirect probes, nacks) and dissemination (piggyback, gossip). */
#include "swim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many free bytes no member update can fit any more. */
#define BCAST_MIN_ROOM 8

/* Why a cap on misses: memberlist looks at every queued update for every
 * packet, which with a thousand members joining is a thousand size checks per
 * packet on every node. Updates are looked at least-sent and newest first,
 * so after this many in a row that do not fit the packet is as good as full;
 * the rest wait for the next packet, in the same order. */
#define BCAST_MAX_MISSES 64

uint32_t swim_retransmit_limit(const struct swim *s)
{
	/* retransmit_mult * ceil(log10(N + 1)), in integers */
	uint64_t v = (uint64_t)swim_live_count(s) + 1, p = 1;
	uint32_t digits = 0;
	while (p < v) {
		p *= 10;
		digits++;
	}
	uint32_t limit = s->cfg.retransmit_mult * digits;
	return limit > SWIM_BQ_BUCKETS ? SWIM_BQ_BUCKETS : limit;
}

/* Bytes the update about m takes, from its fields (no message is built). */
static size_t update_size(const struct swim *s, const struct swim_member *m)
{
	static const uint8_t type_of[] = {
		[SWIM_ALIVE] = SWIM_MSG_ALIVE, [SWIM_SUSPECT] = SWIM_MSG_SUSPECT,
		[SWIM_DEAD] = SWIM_MSG_DEAD, [SWIM_LEFT] = SWIM_MSG_LEFT,
	};
	size_t from = 0;
	if (m->state == SWIM_SUSPECT && m->susp != NULL)
		from = strlen(m->susp->from);
	else if (m->state == SWIM_SUSPECT || m->state == SWIM_DEAD)
		from = s->self->id_len;
	return swim_proto_update_size(type_of[m->state], m->id_len, m->incarnation, &m->addr,
				      m->meta_len, from);
}

/* Adds queued member updates to w, least transmitted and newest first, as
 * long as they fit; an update too big for the room left is skipped, not a
 * reason to stop. Each update included counts one transmission. */
static void fill_broadcasts(struct swim *s, struct swim_pw *w)
{
	struct swim_bnode *taken[SWIM_PROTO_MAX_MSGS];
	size_t nt = 0, misses = 0;
	uint32_t limit = swim_retransmit_limit(s);

	for (uint32_t b = 0; b < SWIM_BQ_BUCKETS && s->bq.len > 0; b++) {
		struct swim_bnode *node, *next;
		for (node = s->bq.head[b]; node != NULL; node = next) {
			next = node->next;
			if (node->transmits >= limit) {
				/* the limit fell as members went away */
				swim_bq_remove(&s->bq, node);
				continue;
			}
			const struct swim_member *m = (const struct swim_member *)node;
			size_t room = swim_pw_room(w);
			if (room < BCAST_MIN_ROOM || w->n_msgs >= SWIM_PROTO_MAX_MSGS)
				goto full;
			if (update_size(s, m) > room) {
				if (++misses >= BCAST_MAX_MISSES)
					goto full;
				continue;
			}
			struct swim_msg msg;
			swim_member_msg(s, m, &msg);
			if (swim_pw_add(w, &msg) == 0) {
				taken[nt++] = node;
				misses = 0;
			}
		}
	}
full:
	s->stats.updates_sent += nt;
	/* Re-file after the walk, oldest first, so each lands in order. */
	while (nt > 0)
		swim_bq_sent(&s->bq, taken[--nt], limit);
}

void swim_send(struct swim *s, const struct swim_addr *to, const struct swim_msg *msgs,
	       size_t n, bool piggyback)
{
	struct swim_pw w;
	uint8_t *data;
	size_t len;

	if (swim_pw_init(&w, s->id, s->cfg.packet_budget) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (swim_pw_add(&w, &msgs[i]) != 0) {
			swim_pw_close(&w);
			s->drops[SWIM_DROP_NOMEM]++;
			return;
		}
	}
	if (piggyback)
		fill_broadcasts(s, &w);
	if (swim_pw_finish(&w, &data, &len) != 0)
		return; /* nothing to say */
	struct swim_out_packet p = {.to = *to, .data = data, .len = len};
	if (swim_fifo_push(&s->out_packets, &p) != 0) {
		free(data);
		s->drops[SWIM_DROP_NOMEM]++;
		return;
	}
	s->stats.packets_out++;
	s->stats.bytes_out += len;
}

/* --- choosing members ----------------------------------------------------------- */

static bool pick_ok(const struct swim *s, const struct swim_member *m, int why,
		    const struct swim_member *exclude, uint64_t now)
{
	if (m == s->self || m == exclude)
		return false;
	if (why == SWIM_PICK_DEAD)
		return m->state == SWIM_DEAD;
	if (why != SWIM_PICK_GOSSIP)
		return m->state == SWIM_ALIVE;
	/* Gossip also reaches the recently dead, so that a node declared dead
	 * by mistake hears of it and refutes (memberlist's GossipToTheDeadTime). */
	return m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT ||
	       (m->state == SWIM_DEAD && now - m->state_change < s->cfg.gossip_to_dead_ms);
}

static bool picked(struct swim_member *const *out, size_t n, const struct swim_member *m)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] == m)
			return true;
	return false;
}

size_t swim_pick(struct swim *s, uint64_t now, size_t k, int why,
		 const struct swim_member *exclude, struct swim_member **out)
{
	uint32_t n = s->tab.n;
	size_t found = 0;
	if (k > SWIM_MAX_PICK)
		k = SWIM_MAX_PICK;
	if (k == 0 || n == 0)
		return 0;
	/* Random draws find k eligible members quickly when most are eligible;
	 * the bounded scan after them only runs when eligible members are rare. */
	uint64_t draws = 3ull * n < 8 * k + 32 ? 3ull * n : 8 * k + 32;
	for (uint64_t d = 0; d < draws && found < k; d++) {
		struct swim_member *m = s->tab.list[rng_below(&s->rng, n)];
		if (pick_ok(s, m, why, exclude, now) && !picked(out, found, m))
			out[found++] = m;
	}
	uint32_t start = rng_below(&s->rng, n);
	for (uint32_t i = 0; i < n && found < k; i++) {
		struct swim_member *m = s->tab.list[(start + i) % n];
		if (pick_ok(s, m, why, exclude, now) && !picked(out, found, m))
			out[found++] = m;
	}
	return found;
}

/* --- probing ----------------------------------------------------------------------- */

static void shuffle(struct swim *s)
{
	for (uint32_t i = s->tab.n; i > 1; i--)
		swim_table_swap(&s->tab, i - 1, rng_below(&s->rng, i));
}

/* Why suspects are probed early: Lifeguard tells a suspect about the
 * suspicion in the next probe of it, but in round-robin order that probe may
 * come a whole round later, long after the suspicion timed out. A node that
 * missed the suspect's refutation then declares a live member dead. Probing
 * a new suspect early lets it refute to us directly in the ack (or confirms
 * a real failure sooner). Early and round-robin probes alternate, so the
 * probe rate is unchanged and every member is still probed each other round. */
void swim_probe_soon(struct swim *s, const struct swim_member *m)
{
	if (s->n_urgent >= SWIM_MAX_URGENT || m == s->self)
		return;
	memcpy(s->urgent[s->n_urgent++], m->id, (size_t)m->id_len + 1);
}

/* The oldest queued suspect that is still suspect, or NULL. */
static struct swim_member *next_urgent(struct swim *s)
{
	while (s->n_urgent > 0) {
		struct swim_member *m = swim_table_find(&s->tab, s->urgent[0]);
		memmove(s->urgent[0], s->urgent[1], (size_t)(--s->n_urgent) * sizeof(s->urgent[0]));
		if (m != NULL && m->state == SWIM_SUSPECT)
			return m;
	}
	return NULL;
}

/* Randomized round-robin: walk the list, reshuffle it at the end of each
 * round; every other probe may go to a queued suspect instead. */
static struct swim_member *next_target(struct swim *s)
{
	struct swim_table *t = &s->tab;
	if (!s->last_urgent) {
		struct swim_member *m = next_urgent(s);
		if (m != NULL) {
			s->last_urgent = true;
			return m;
		}
	}
	s->last_urgent = false;
	for (uint32_t tries = 0; tries <= t->n; tries++) {
		if (t->probe_idx >= t->n) {
			shuffle(s);
			t->probe_idx = 0;
		}
		struct swim_member *m = t->list[t->probe_idx++];
		if (m != s->self && (m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT))
			return m;
	}
	return NULL;
}

static void probe_start(struct swim *s, uint64_t now)
{
	uint64_t interval = swim_awareness_scale(&s->aw, s->cfg.probe_interval_ms);
	s->next_probe_at = now + interval;
	struct swim_member *m = next_target(s);
	if (m == NULL)
		return;

	struct swim_probe *p = &s->probe;
	memset(p, 0, sizeof(*p));
	p->active = true;
	p->seq = ++s->seq;
	p->ack_deadline = now + swim_awareness_scale(&s->aw, s->cfg.probe_timeout_ms);
	p->end = now + interval;
	p->target_inc = m->incarnation;
	memcpy(p->target, m->id, (size_t)m->id_len + 1);

	/* Lifeguard: a suspected member is told so in the probe itself, so
	 * that it can refute at once if it is alive. */
	struct swim_msg msgs[2];
	size_t n = 0;
	if (m->state == SWIM_SUSPECT)
		swim_member_msg(s, m, &msgs[n++]);
	memset(&msgs[n], 0, sizeof(msgs[n]));
	msgs[n].type = SWIM_MSG_PING;
	msgs[n].seq = p->seq;
	memcpy(msgs[n].id, m->id, (size_t)m->id_len + 1);
	swim_send(s, &m->addr, msgs, n + 1, true);
	s->stats.probes++;
}

static void probe_indirect(struct swim *s, uint64_t now)
{
	struct swim_probe *p = &s->probe;
	p->indirect = true;
	struct swim_member *target = swim_table_find(&s->tab, p->target);
	if (target == NULL || target->state == SWIM_DEAD || target->state == SWIM_LEFT) {
		p->active = false; /* decided meanwhile by gossip */
		return;
	}
	struct swim_member *peers[SWIM_MAX_PICK];
	size_t k = swim_pick(s, now, s->cfg.indirect_checks, SWIM_PICK_RELAY, target, peers);
	struct swim_msg req;
	memset(&req, 0, sizeof(req));
	req.type = SWIM_MSG_PING_REQ;
	req.seq = p->seq;
	req.addr = target->addr;
	memcpy(req.id, target->id, (size_t)target->id_len + 1);
	for (size_t i = 0; i < k; i++)
		swim_send(s, &peers[i]->addr, &req, 1, true);
	s->stats.indirect_probes += k;
	p->expected_nacks = (uint32_t)k;
}

static void probe_fail(struct swim *s, uint64_t now)
{
	struct swim_probe *p = &s->probe;
	p->active = false;
	s->stats.probes_failed++;
	/* Lifeguard: a relay that could not reach the target still answers
	 * with a nack; a missing nack means our own links are suspect, so
	 * each one raises our health score. With no relay at all we cannot
	 * tell and count the failure once. All nacks in: not our fault. */
	int delta = p->expected_nacks > 0 ? (int)(p->expected_nacks - p->nacks) : 1;
	swim_awareness_apply(&s->aw, delta);
	swim_apply_suspect(s, now, p->target, p->target_inc, s->id);
}

void swim_run_probe(struct swim *s, uint64_t now)
{
	struct swim_probe *p = &s->probe;
	if (p->active && !p->indirect && now >= p->ack_deadline)
		probe_indirect(s, now);
	if (p->active && now >= p->end)
		probe_fail(s, now);
	if (!p->active && !s->leaving && now >= s->next_probe_at)
		probe_start(s, now);
}

/* --- answering --------------------------------------------------------------------- */

void swim_on_ping(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	if (strcmp(m->id, s->id) != 0) {
		s->drops[SWIM_DROP_WRONG_TARGET]++;
		return;
	}
	struct swim_msg ack;
	memset(&ack, 0, sizeof(ack));
	ack.type = SWIM_MSG_ACK;
	ack.seq = m->seq;
	swim_send(s, from, &ack, 1, true);
}

/* Why 80 %: the requester stops listening at the end of its probe interval;
 * the nack must leave us before that, even though the ping-req reached us
 * only after the requester's own ack timeout. Lifeguard sends the nack at 80 %
 * of the probe timeout for this reason (memberlist waits the full timeout). */
static uint64_t nack_timeout(const struct swim *s)
{
	uint64_t t = (uint64_t)s->cfg.probe_timeout_ms * 4 / 5;
	return t ? t : 1;
}

void swim_on_ping_req(struct swim *s, uint64_t now, const struct swim_addr *from,
		      const struct swim_msg *m)
{
	if (strcmp(m->id, s->id) == 0) {
		s->drops[SWIM_DROP_WRONG_TARGET]++;
		return;
	}
	if (s->n_relays >= SWIM_MAX_RELAYS) {
		s->drops[SWIM_DROP_RELAY_FULL]++;
		return;
	}
	struct swim_relay *r = &s->relays[s->n_relays++];
	r->local_seq = ++s->seq;
	r->orig_seq = m->seq;
	r->deadline = now + nack_timeout(s);
	r->requester = *from;

	struct swim_msg ping;
	memset(&ping, 0, sizeof(ping));
	ping.type = SWIM_MSG_PING;
	ping.seq = r->local_seq;
	memcpy(ping.id, m->id, sizeof(ping.id));
	swim_send(s, &m->addr, &ping, 1, true);
}

/* Answers a relay's requester with an ack or nack carrying its seq. */
static void relay_reply(struct swim *s, uint32_t i, uint8_t type)
{
	struct swim_relay r = s->relays[i];
	s->relays[i] = s->relays[--s->n_relays];
	struct swim_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	msg.seq = r.orig_seq;
	swim_send(s, &r.requester, &msg, 1, true);
	if (type == SWIM_MSG_NACK)
		s->stats.nacks_sent++;
}

void swim_on_ack(struct swim *s, const struct swim_msg *m)
{
	struct swim_probe *p = &s->probe;
	if (p->active && p->seq == m->seq) {
		p->active = false;
		swim_awareness_apply(&s->aw, -1);
		return;
	}
	for (uint32_t i = 0; i < s->n_relays; i++) {
		if (s->relays[i].local_seq == m->seq) {
			relay_reply(s, i, SWIM_MSG_ACK);
			return;
		}
	}
	s->drops[SWIM_DROP_STALE_ACK]++;
}

void swim_on_nack(struct swim *s, const struct swim_msg *m)
{
	struct swim_probe *p = &s->probe;
	if (p->active && p->indirect && p->seq == m->seq && p->nacks < p->expected_nacks) {
		p->nacks++;
		return;
	}
	s->drops[SWIM_DROP_STALE_ACK]++;
}

void swim_run_relays(struct swim *s, uint64_t now)
{
	for (uint32_t i = 0; i < s->n_relays;) {
		if (s->relays[i].deadline <= now)
			relay_reply(s, i, SWIM_MSG_NACK); /* moves the last entry into i */
		else
			i++;
	}
}

/* --- gossip ------------------------------------------------------------------------- */

/* Why gossip rounds besides piggybacking: the SWIM paper spreads updates
 * only on probe traffic, about one packet per node per second; memberlist
 * adds a packet of pending updates to a few random members every 200 ms,
 * which is what makes its convergence fast. Setting gossip_interval_ms to 0
 * gives the paper's behaviour. */
/* Why this is not in the paper: an update waits on average half a gossip
 * interval at every hop, which is most of a join's convergence time in a
 * small cluster. A new update brings the next round forward to
 * gossip_eager_gap_ms after the last one, so news travels at network speed
 * while a burst of updates still shares packets. Idle traffic is unchanged:
 * rounds send nothing without updates. */
void swim_gossip_soon(struct swim *s)
{
	if (s->cfg.gossip_interval_ms == 0 || s->cfg.gossip_eager_gap_ms == 0)
		return;
	uint64_t soon = s->last_gossip_at + s->cfg.gossip_eager_gap_ms;
	if (soon < s->next_gossip_at)
		s->next_gossip_at = soon;
}

void swim_gossip_round(struct swim *s, uint64_t now)
{
	s->next_gossip_at = now + s->cfg.gossip_interval_ms;
	s->last_gossip_at = now;
	if (s->bq.len == 0)
		return;
	struct swim_member *peers[SWIM_MAX_PICK];
	size_t k = swim_pick(s, now, s->cfg.gossip_nodes, SWIM_PICK_GOSSIP, NULL, peers);
	for (size_t i = 0; i < k && s->bq.len > 0; i++)
		swim_send(s, &peers[i]->addr, NULL, 0, true);
}
