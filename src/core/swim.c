/* swim: SWIM + Lifeguard gossip membership as a deterministic state machine without I/O. */
#include "swim_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* --- small queues ------------------------------------------------------------- */

static void fifo_init(struct swim_fifo *f, size_t esize)
{
	memset(f, 0, sizeof(*f));
	f->esize = esize;
}

int swim_fifo_push(struct swim_fifo *f, const void *item)
{
	if (f->head + f->len == f->cap) {
		if (f->head > 0) {
			memmove(f->buf, f->buf + f->head * f->esize, f->len * f->esize);
			f->head = 0;
		}
		if (f->len == f->cap) {
			size_t ncap = f->cap ? f->cap * 2 : 16;
			uint8_t *nb = realloc(f->buf, ncap * f->esize);
			if (nb == NULL)
				return -ENOMEM;
			f->buf = nb;
			f->cap = ncap;
		}
	}
	memcpy(f->buf + (f->head + f->len) * f->esize, item, f->esize);
	f->len++;
	return 0;
}

static bool fifo_pop(struct swim_fifo *f, void *out)
{
	if (f->len == 0)
		return false;
	memcpy(out, f->buf + f->head * f->esize, f->esize);
	f->head++;
	if (--f->len == 0)
		f->head = 0;
	return true;
}

static void fifo_close(struct swim_fifo *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* --- configuration ------------------------------------------------------------ */

/* Why the suspicion timeout is a quarter of memberlist's (suspicion_mult 1
 * instead of 4, so 2 s at 100 members): a crash was seen dead by all about
 * 10 s after it (sim_swim crash-restart), like Serf, and issue 3 asks for
 * half of that. The margin memberlist's long timeout buys against a node
 * missing a refutation is bought here instead by answering stale claims and
 * by asking about a suspicion still held after two intervals; and 3
 * confirmations are expected (memberlist: mult - 2, which would be none), so
 * an unconfirmed suspicion still runs for max = 6 * min. sim_swim loss-10
 * and loss-30 declare no live node dead over hundreds of seeds (see
 * tests/sim/README.md).
 *
 * Why each update is sent 5 * ceil(log10(N+1)) times, not memberlist's 4:
 * a member that none of those random sends reached learns the news only
 * from a push-pull or when the member concerned happens to probe it, which
 * can take tens of seconds; sim_swim crash-16 saw that in 1 of 3,000 seeds
 * at 4 and in none at 5. It costs bytes only while something changes. */
void swim_config_default(struct swim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->incarnation = 1;
	cfg->max_meta = SWIM_META_DEFAULT_MAX;
	cfg->probe_interval_ms = 1000;
	cfg->probe_timeout_ms = 500;
	cfg->indirect_checks = 3;
	cfg->suspicion_mult = 1;
	cfg->suspicion_max_timeout_mult = 6;
	cfg->suspicion_confirmations = 3;
	cfg->awareness_max_mult = 8;
	cfg->retransmit_mult = 5;
	cfg->gossip_interval_ms = 200;
	cfg->gossip_nodes = 3;
	cfg->gossip_eager_gap_ms = 20;
	cfg->gossip_to_dead_ms = 30000;
	cfg->push_pull_interval_ms = 30000;
	cfg->reconnect_interval_ms = 30000;
	cfg->stream_timeout_ms = 10000;
	cfg->reap_timeout_ms = 24ull * 3600 * 1000;
	cfg->packet_budget = 1400;
	cfg->max_pushpull_bytes = 8u << 20;
	cfg->max_members = 65536;
}

static int cfg_fail(char *err, size_t len, const char *fmt, ...)
{
	if (err != NULL && len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int swim_config_check(const struct swim_config *c, char *err, size_t len)
{
#define CHECK(cond, ...) \
	do { if (!(cond)) return cfg_fail(err, len, __VA_ARGS__); } while (0)
	CHECK(c->id != NULL && swim_id_valid(c->id), "id: must be 1..%d printable ASCII bytes", SWIM_ID_MAX);
	CHECK(c->addr.family == SWIM_AF_INET4 || c->addr.family == SWIM_AF_INET6, "addr: no address family");
	CHECK(c->addr.port != 0, "addr: port 0");
	CHECK(c->max_meta <= SWIM_META_HARD_MAX, "max_meta: above %d", SWIM_META_HARD_MAX);
	CHECK(c->meta_len <= c->max_meta, "meta: %zu bytes exceeds max_meta %zu", c->meta_len, c->max_meta);
	CHECK(c->meta_len == 0 || c->meta != NULL, "meta: NULL with a length");
	CHECK(c->probe_interval_ms >= 2, "probe_interval_ms: below 2");
	CHECK(c->probe_timeout_ms >= 1 && c->probe_timeout_ms < c->probe_interval_ms,
	      "probe_timeout_ms: must be 1..probe_interval_ms-1");
	CHECK(c->indirect_checks <= SWIM_MAX_PICK, "indirect_checks: above %d", SWIM_MAX_PICK);
	CHECK(c->suspicion_mult >= 1 && c->suspicion_mult <= SWIM_SUSPICION_MAX_K + 2,
	      "suspicion_mult: must be 1..%d", SWIM_SUSPICION_MAX_K + 2);
	CHECK(c->suspicion_max_timeout_mult >= 1, "suspicion_max_timeout_mult: zero");
	CHECK(c->suspicion_confirmations <= SWIM_SUSPICION_MAX_K,
	      "suspicion_confirmations: more than %d", SWIM_SUSPICION_MAX_K);
	CHECK(c->awareness_max_mult >= 1 && c->awareness_max_mult <= 64, "awareness_max_mult: must be 1..64");
	CHECK(c->retransmit_mult >= 1 && c->retransmit_mult <= 10, "retransmit_mult: must be 1..10");
	CHECK(c->gossip_nodes <= SWIM_MAX_PICK, "gossip_nodes: above %d", SWIM_MAX_PICK);
	CHECK(c->gossip_interval_ms == 0 || c->gossip_nodes >= 1, "gossip_nodes: zero with gossip rounds on");
	CHECK(c->gossip_interval_ms == 0 || c->gossip_eager_gap_ms <= c->gossip_interval_ms,
	      "gossip_eager_gap_ms: above gossip_interval_ms");
	CHECK(c->stream_timeout_ms >= 1, "stream_timeout_ms: zero");
	CHECK(c->reap_timeout_ms >= 1, "reap_timeout_ms: zero");
	CHECK(c->packet_budget >= 256 && c->packet_budget <= 65507, "packet_budget: must be 256..65507");
	CHECK(c->max_pushpull_bytes >= 1024, "max_pushpull_bytes: below 1024");
	CHECK(c->max_members >= 1 && c->max_members <= (1u << 24), "max_members: must be 1..%u", 1u << 24);
#undef CHECK
	return 0;
}

/* --- lifecycle -------------------------------------------------------------------- */

static int add_self(struct swim *s, uint64_t now)
{
	struct swim_member *self = swim_member_new(s->id, swim_table_hash(&s->tab, s->id, strlen(s->id)));
	if (self == NULL)
		return -ENOMEM;
	if (swim_member_set_meta(self, s->cfg.meta, s->cfg.meta_len) != 0 ||
	    swim_table_add(&s->tab, self, 0) != 0) {
		swim_member_free(self);
		return -ENOMEM;
	}
	self->addr = s->cfg.addr;
	self->incarnation = s->cfg.incarnation;
	self->state_change = now;
	s->self = self;
	s->counts[SWIM_ALIVE] = 1;
	swim_bq_push(&s->bq, &self->bcast);
	return 0;
}

/* Random phase for a periodic timer, so that nodes started together do not
 * probe and gossip in lockstep. */
static uint64_t stagger(struct swim *s, uint64_t now, uint32_t interval)
{
	return now + (interval ? rng_below(&s->rng, interval) : 0);
}

int swim_new(const struct swim_config *cfg, uint64_t now, struct swim **out)
{
	int rc = swim_config_check(cfg, NULL, 0);
	if (rc != 0)
		return rc;
	struct swim *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->cfg = *cfg;
	snprintf(s->id, sizeof(s->id), "%s", cfg->id);
	s->cfg.id = s->id;
	rng_seed(&s->rng, cfg->seed);
	if (swim_table_init(&s->tab, rng_next(&s->rng)) != 0)
		goto err_after_alloc;
	swim_bq_init(&s->bq);
	swim_awareness_init(&s->aw, cfg->awareness_max_mult);
	s->lim.max_meta = cfg->max_meta;
	s->lim.max_members = cfg->max_members;
	fifo_init(&s->out_packets, sizeof(struct swim_out_packet));
	fifo_init(&s->out_streams, sizeof(struct swim_out_stream));
	fifo_init(&s->out_events, sizeof(struct swim_event));
	if (add_self(s, now) != 0)
		goto err_after_table;
	s->cfg.meta = NULL; /* the caller's buffer is not ours to keep */
	s->next_probe_at = stagger(s, now, cfg->probe_interval_ms);
	s->next_gossip_at = stagger(s, now, cfg->gossip_interval_ms);
	s->next_pushpull_at = stagger(s, now, cfg->push_pull_interval_ms) + cfg->push_pull_interval_ms;
	s->next_reconnect_at = stagger(s, now, cfg->reconnect_interval_ms) + cfg->reconnect_interval_ms;
	*out = s;
	return 0;

err_after_table:
	swim_table_close(&s->tab);
err_after_alloc:
	free(s);
	return -ENOMEM;
}

void swim_free(struct swim *s)
{
	if (s == NULL)
		return;
	struct swim_out_packet p;
	struct swim_out_stream st;
	while (fifo_pop(&s->out_packets, &p))
		free(p.data);
	while (fifo_pop(&s->out_streams, &st))
		free(st.data);
	fifo_close(&s->out_packets);
	fifo_close(&s->out_streams);
	fifo_close(&s->out_events);
	swim_table_close(&s->tab);
	free(s->pending);
	free(s);
}

uint32_t swim_live_count(const struct swim *s)
{
	return s->counts[SWIM_ALIVE] + s->counts[SWIM_SUSPECT];
}

/* --- push-pull ---------------------------------------------------------------------- */

/* Our record of m is newer than the digest entry r: a higher incarnation, or
 * the same with a later state (alive < suspect < dead < left). */
static bool newer_than(const struct swim_member *m, const struct swim_pp_member *r)
{
	return m->incarnation > r->incarnation ||
	       (m->incarnation == r->incarnation && m->state > r->state);
}

static int add_full(struct swim_ppw *w, const struct swim_member *m)
{
	struct swim_pp_member pm = {
		.incarnation = m->incarnation, .state = m->state, .addr = m->addr,
		.meta = m->meta, .meta_len = m->meta_len,
	};
	memcpy(pm.id, m->id, (size_t)m->id_len + 1);
	return swim_ppw_add(w, &pm);
}

/* Encodes our whole view. When it exceeds max_pushpull_bytes the members that
 * fit are sent: the list order is shuffled every probe round, so successive
 * exchanges cover everyone. */
static int encode_state(struct swim *s, uint8_t flags, uint8_t **out, size_t *len)
{
	struct swim_ppw w;
	int rc = swim_ppw_init(&w, s->id, flags, s->cfg.max_pushpull_bytes);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < s->tab.n; i++) {
		rc = add_full(&w, s->tab.list[i]);
		if (rc == -EMSGSIZE)
			break;
		if (rc != 0) {
			swim_ppw_close(&w);
			return rc;
		}
	}
	return swim_ppw_finish(&w, out, len);
}

/* Answers a digest request with the full records the requester lacks: those
 * we know newer, and those it did not list. */
static int encode_newer(struct swim *s, const struct swim_pushpull *req, uint8_t **out,
			size_t *len)
{
	struct swim_ppw w;
	uint8_t *listed = calloc(s->tab.n ? s->tab.n : 1, 1);
	if (listed == NULL)
		return -ENOMEM;
	int rc = swim_ppw_init(&w, s->id, SWIM_PP_RESPONSE, s->cfg.max_pushpull_bytes);
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < req->n_members && rc == 0; i++) {
		const struct swim_member *m = swim_table_find(&s->tab, req->members[i].id);
		if (m == NULL)
			continue;
		listed[m->list_idx] = 1;
		if (newer_than(m, &req->members[i]))
			rc = add_full(&w, m);
	}
	for (uint32_t i = 0; i < s->tab.n && rc == 0; i++)
		if (!listed[i])
			rc = add_full(&w, s->tab.list[i]);
	if (rc != 0 && rc != -EMSGSIZE) {
		swim_ppw_close(&w);
		goto out;
	}
	rc = swim_ppw_finish(&w, out, len);
out:
	free(listed);
	return rc;
}

/* Why the periodic sync sends a summary: a full record carries the
 * member's address and metadata (about 110 bytes from the daemon), and the
 * periodic sync found nothing new nearly every time; sending all of it both
 * ways was most of an idle node's traffic (300 of 430 bytes/s per node at
 * 100 nodes, sim_swim crash-restart). A digest is about 33 bytes per member,
 * still 4 kB per sync at 128 members, and in a settled cluster every view is
 * the same. So the periodic request carries only a fingerprint of the view;
 * a responder whose view differs syncs back with a digest, whose reply holds
 * only what the responder lacks, and which itself syncs back when it shows
 * the other side behind: both sides are repaired as before. Joins and
 * reconnects send full records: there the other side usually lacks most. */
static uint8_t stream_flags(uint8_t kind)
{
	switch (kind) {
	case SWIM_STREAM_JOIN:
		return SWIM_PP_JOIN;
	case SWIM_STREAM_PERIODIC:
		return SWIM_PP_SUMMARY;
	case SWIM_STREAM_SYNC_BACK:
		return SWIM_PP_DIGEST;
	default:
		return 0;
	}
}

/* The view's fingerprint: the XOR of a BLAKE2b-128 of (id, incarnation,
 * state) per member, so that the order of the table does not matter. */
static void view_summary(const struct swim *s, uint8_t out[SWIM_PP_SUMMARY_LEN])
{
	memset(out, 0, SWIM_PP_SUMMARY_LEN);
	for (uint32_t i = 0; i < s->tab.n; i++) {
		const struct swim_member *m = s->tab.list[i];
		uint8_t rec[8 + 1], h[SWIM_PP_SUMMARY_LEN];
		for (int b = 0; b < 8; b++)
			rec[b] = (uint8_t)(m->incarnation >> (8 * b));
		rec[8] = (uint8_t)m->state;
		crypto_generichash_state st;
		crypto_generichash_init(&st, NULL, 0, sizeof(h));
		crypto_generichash_update(&st, (const uint8_t *)m->id, (size_t)m->id_len + 1);
		crypto_generichash_update(&st, rec, sizeof(rec));
		crypto_generichash_final(&st, h, sizeof(h));
		for (size_t b = 0; b < sizeof(h); b++)
			out[b] ^= h[b];
	}
}

/* A message without members: the answer to a summary, or a summary (which
 * carries the view's fingerprint). */
static int encode_empty(struct swim *s, uint8_t flags, uint8_t **out, size_t *len)
{
	struct swim_ppw w;
	int rc = swim_ppw_init(&w, s->id, flags, s->cfg.max_pushpull_bytes);
	if (rc != 0)
		return rc;
	if (flags & SWIM_PP_SUMMARY)
		view_summary(s, w.summary);
	return swim_ppw_finish(&w, out, len);
}

/* A push-pull request of this kind: full records, digests, or the summary. */
static int encode_request(struct swim *s, uint8_t kind, uint8_t **out, size_t *len)
{
	uint8_t flags = stream_flags(kind);
	if (flags == SWIM_PP_SUMMARY)
		return encode_empty(s, flags, out, len);
	return encode_state(s, flags, out, len);
}

static int stream_start(struct swim *s, uint64_t now, const struct swim_addr *to, uint8_t kind)
{
	if (s->n_pending == s->cap_pending) {
		uint32_t ncap = s->cap_pending ? s->cap_pending * 2 : 4;
		struct swim_pending *np = realloc(s->pending, ncap * sizeof(*np));
		if (np == NULL)
			return -ENOMEM;
		s->pending = np;
		s->cap_pending = ncap;
	}
	struct swim_out_stream st = {.to = *to};
	int rc = encode_request(s, kind, &st.data, &st.len);
	if (rc != 0)
		return rc;
	if (++s->next_stream_id == 0)
		s->next_stream_id = 1;
	st.id = s->next_stream_id;
	if (swim_fifo_push(&s->out_streams, &st) != 0) {
		free(st.data);
		return -ENOMEM;
	}
	s->pending[s->n_pending++] = (struct swim_pending){
		.id = st.id, .deadline = now + s->cfg.stream_timeout_ms, .kind = kind,
	};
	return 0;
}

/* Takes the pending stream with this id out of the list; false if none. */
static bool pending_take(struct swim *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->n_pending; i++) {
		if (s->pending[i].id == id) {
			memmove(&s->pending[i], &s->pending[i + 1],
				(s->n_pending - i - 1) * sizeof(s->pending[0]));
			s->n_pending--;
			return true;
		}
	}
	return false;
}

static void run_streams(struct swim *s, uint64_t now)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < s->n_pending; i++) {
		if (s->pending[i].deadline <= now)
			s->stats.pushpull_failed++;
		else
			s->pending[kept++] = s->pending[i];
	}
	s->n_pending = kept;
}

/* The periodic sync slows down above 32 members, doubling the interval each
 * time the cluster doubles (memberlist's pushPullScale), so that the TCP load
 * per node stays flat as the cluster grows. */
static uint64_t pushpull_interval(const struct swim *s)
{
	uint32_t n = swim_live_count(s), mult = 1;
	for (uint64_t v = 32; v < n; v *= 2)
		mult++;
	return (uint64_t)s->cfg.push_pull_interval_ms * mult;
}

static bool stream_pending(const struct swim *s, uint8_t kind)
{
	for (uint32_t i = 0; i < s->n_pending; i++)
		if (s->pending[i].kind == kind)
			return true;
	return false;
}

/* Starts a push-pull of this kind with one member picked for `why`, unless
 * one of the kind is still out. */
static void sync_with_one(struct swim *s, uint64_t now, uint8_t kind, int why)
{
	struct swim_member *peer;
	if (stream_pending(s, kind) || swim_pick(s, now, 1, why, NULL, &peer) != 1)
		return;
	if (stream_start(s, now, &peer->addr, kind) != 0)
		s->drops[SWIM_DROP_NOMEM]++;
}

/* Sends our digest to the sender of a request whose view differs from ours,
 * so that it answers with what it knows better (see stream_flags), unless a
 * sync of ours is still out. */
static void sync_back(struct swim *s, uint64_t now, const char *sender)
{
	const struct swim_member *peer = swim_table_find(&s->tab, sender);
	if (peer == NULL || peer->state != SWIM_ALIVE || s->leaving ||
	    stream_pending(s, SWIM_STREAM_PERIODIC) || stream_pending(s, SWIM_STREAM_SYNC_BACK))
		return;
	if (stream_start(s, now, &peer->addr, SWIM_STREAM_SYNC_BACK) != 0)
		s->drops[SWIM_DROP_NOMEM]++;
}

/* Why syncs come sooner after a join: the join's push-pull gives a node the
 * view of one member at one instant, and nodes that join at the same time
 * (a cluster started at once) reach the earlier joiners only through gossip,
 * whose queues are longest then. Syncing 1, 2, 4, ... s after the join,
 * until the gap reaches the period, repairs such a view in a round trip;
 * each sync is a 16-byte fingerprint when nothing is missing. */
#define SWIM_JOIN_SYNC_FIRST_MS 1000

static void pushpull_round(struct swim *s, uint64_t now)
{
	uint64_t gap = pushpull_interval(s);
	if (s->join_sync_gap_ms > 0 && s->join_sync_gap_ms < gap) {
		gap = s->join_sync_gap_ms;
		s->join_sync_gap_ms *= 2;
	} else {
		s->join_sync_gap_ms = 0;
	}
	s->next_pushpull_at = now + gap;
	sync_with_one(s, now, SWIM_STREAM_PERIODIC, SWIM_PICK_PUSHPULL);
}

/* Why reconnects: after a partition each side holds the other dead, and
 * neither probes, gossips (past gossip_to_dead_ms) nor syncs with dead
 * members, so the halves would stay apart for good. memberlist leaves this
 * to Serf, which retries a random failed member every 30 s with probability
 * dead / alive; this core is also the Serf layer, so it does the same. The
 * exchange tells the dead member that it was declared dead, it refutes, and
 * the refutations spread through both halves. */
static void reconnect_round(struct swim *s, uint64_t now)
{
	s->next_reconnect_at = now + s->cfg.reconnect_interval_ms;
	uint32_t dead = s->counts[SWIM_DEAD], alive = s->counts[SWIM_ALIVE];
	if (dead == 0 || (dead < alive && rng_below(&s->rng, alive) >= dead))
		return;
	sync_with_one(s, now, SWIM_STREAM_RECONNECT, SWIM_PICK_DEAD);
}

static int decode_pushpull(struct swim *s, const uint8_t *data, size_t len,
			   struct swim_pushpull *pp, bool want_response)
{
	int rc = swim_proto_decode_pushpull(data, len, &s->lim, pp, s->last_error);
	if (rc != 0) {
		s->drops[rc == -ENOMEM ? SWIM_DROP_NOMEM : SWIM_DROP_PP_DECODE]++;
		return rc;
	}
	if (strcmp(pp->sender, s->id) == 0) {
		swim_proto_pushpull_free(pp);
		s->drops[SWIM_DROP_FROM_SELF]++;
		return -ELOOP;
	}
	if (((pp->flags & SWIM_PP_RESPONSE) != 0) != want_response) {
		swim_proto_pushpull_free(pp);
		snprintf(s->last_error, sizeof(s->last_error), "flags: %s where a %s was expected",
			 want_response ? "request" : "response", want_response ? "response" : "request");
		s->drops[SWIM_DROP_PP_UNEXPECTED]++;
		return -EBADMSG;
	}
	return 0;
}

int swim_pushpull_serve(struct swim *s, uint64_t now, const struct swim_addr *from,
			const uint8_t *req, size_t len, uint8_t **reply, size_t *reply_len)
{
	(void)from;
	struct swim_pushpull pp;
	int rc = decode_pushpull(s, req, len, &pp, false);
	if (rc != 0)
		return rc;
	bool behind = swim_merge(s, now, &pp);
	if (pp.flags & SWIM_PP_SUMMARY) {
		uint8_t mine[SWIM_PP_SUMMARY_LEN];
		view_summary(s, mine);
		behind = memcmp(mine, pp.summary, sizeof(mine)) != 0;
		rc = encode_empty(s, SWIM_PP_RESPONSE, reply, reply_len);
	} else if (pp.flags & SWIM_PP_DIGEST) {
		rc = encode_newer(s, &pp, reply, reply_len);
	} else {
		rc = encode_state(s, SWIM_PP_RESPONSE, reply, reply_len);
	}
	if (behind)
		sync_back(s, now, pp.sender);
	swim_proto_pushpull_free(&pp);
	if (rc == 0)
		s->stats.pushpull_ok++;
	return rc;
}

int swim_pushpull_response(struct swim *s, uint64_t now, uint32_t stream,
			   const uint8_t *data, size_t len)
{
	if (!pending_take(s, stream)) {
		s->drops[SWIM_DROP_PP_UNEXPECTED]++;
		return -ENOENT;
	}
	struct swim_pushpull pp;
	int rc = decode_pushpull(s, data, len, &pp, true);
	if (rc != 0) {
		s->stats.pushpull_failed++;
		return rc;
	}
	swim_merge(s, now, &pp);
	swim_proto_pushpull_free(&pp);
	s->stats.pushpull_ok++;
	return 0;
}

void swim_pushpull_failed(struct swim *s, uint64_t now, uint32_t stream)
{
	(void)now;
	if (pending_take(s, stream))
		s->stats.pushpull_failed++;
}

/* --- inputs ---------------------------------------------------------------------------- */

int swim_join(struct swim *s, uint64_t now, const struct swim_addr *seeds, size_t n)
{
	int started = 0;
	for (size_t i = 0; i < n; i++) {
		if (swim_addr_equal(&seeds[i], &s->self->addr))
			continue;
		int rc = stream_start(s, now, &seeds[i], SWIM_STREAM_JOIN);
		if (rc != 0)
			return rc;
		started++;
	}
	if (started > 0 && s->cfg.push_pull_interval_ms > SWIM_JOIN_SYNC_FIRST_MS) {
		s->join_sync_gap_ms = SWIM_JOIN_SYNC_FIRST_MS;
		s->next_pushpull_at = now + SWIM_JOIN_SYNC_FIRST_MS;
	}
	return started;
}

int swim_leave(struct swim *s, uint64_t now)
{
	if (s->leaving)
		return -EALREADY;
	s->leaving = true;
	s->probe.active = false;
	swim_set_state(s, s->self, SWIM_LEFT, now);
	swim_bq_push(&s->bq, &s->self->bcast);
	/* Tell a few members now rather than at the next gossip round. */
	struct swim_member *peers[SWIM_MAX_PICK];
	size_t k = swim_pick(s, now, s->cfg.gossip_nodes ? s->cfg.gossip_nodes : 3,
			     SWIM_PICK_GOSSIP, NULL, peers);
	for (size_t i = 0; i < k; i++)
		swim_send(s, &peers[i]->addr, NULL, 0, true);
	return 0;
}

bool swim_leave_done(const struct swim *s)
{
	if (!s->leaving)
		return false;
	return !s->self->bcast.queued || swim_live_count(s) == 0;
}

int swim_set_meta(struct swim *s, uint64_t now, const uint8_t *meta, size_t len)
{
	(void)now;
	if (len > s->cfg.max_meta)
		return -EMSGSIZE;
	if (len > 0 && meta == NULL)
		return -EINVAL;
	if (swim_member_set_meta(s->self, meta, len) != 0)
		return -ENOMEM;
	s->self->incarnation++;
	swim_bq_push(&s->bq, &s->self->bcast);
	swim_gossip_soon(s);
	return 0;
}

/* Why this is not in the paper: a node we hold dead that still sends us
 * packets is alive and does not know it was declared dead (it restarted with
 * an incarnation that is too low, or it was cut off while the cluster gave up
 * on it). Telling it directly lets it refute within one round trip instead of
 * waiting for a push-pull to carry the news. */
static void tell_dead_sender(struct swim *s, const struct swim_addr *from, const char *sender)
{
	struct swim_member *m = swim_table_find(&s->tab, sender);
	if (m == NULL || m->state != SWIM_DEAD)
		return;
	struct swim_msg msg;
	swim_member_msg(s, m, &msg);
	swim_send(s, from, &msg, 1, false);
}

/* The member whose record answers a stale suspect or dead claim, or NULL:
 * one we hold alive or suspect at a newer incarnation (it refuted, and may be
 * suspected afresh), or one we hold left at the claim's incarnation or newer. */
static const struct swim_member *stale_claim(const struct swim *s, const struct swim_msg *claim)
{
	if (claim->type != SWIM_MSG_SUSPECT && claim->type != SWIM_MSG_DEAD)
		return NULL;
	const struct swim_member *mem = swim_table_find(&s->tab, claim->id);
	if (mem == NULL)
		return NULL;
	if (mem->state == SWIM_ALIVE || mem->state == SWIM_SUSPECT)
		return claim->incarnation < mem->incarnation ? mem : NULL;
	return mem->state == SWIM_LEFT && claim->incarnation <= mem->incarnation ? mem : NULL;
}

/* Why this is not in the paper: under heavy loss a node can miss a
 * refutation that everyone else heard, keep gossiping the old suspicion and,
 * when its timer runs out, declare a live member dead. Every node that knows
 * better sees that stale gossip arrive, so it answers the sender with what it
 * knows; one packet per stale packet, and the sender is corrected within a
 * few gossip rounds instead of never. A newer suspicion is an answer too: it
 * restarts the sender's timer, which would otherwise run out early. Likewise
 * a node that missed a leave suspects the leaver once its probes go
 * unanswered; whoever holds the member left tells it so, and it is recorded
 * as left instead of dead. */
static void correct_stale_sender(struct swim *s, const struct swim_addr *from,
				 const struct swim_packet *pkt)
{
	struct swim_msg fixes[8];
	size_t n = 0;
	for (size_t i = 0; i < pkt->n_msgs && n < 8; i++) {
		const struct swim_member *mem = stale_claim(s, &pkt->msgs[i]);
		if (mem != NULL)
			swim_member_msg(s, mem, &fixes[n++]);
	}
	if (n > 0) {
		swim_send(s, from, fixes, n, false);
		s->stats.corrections++;
	}
}

static void handle_msg(struct swim *s, uint64_t now, const struct swim_addr *from,
		       const struct swim_msg *m)
{
	switch (m->type) {
	case SWIM_MSG_PING:
		swim_on_ping(s, from, m);
		break;
	case SWIM_MSG_PING_REQ:
		swim_on_ping_req(s, now, from, m);
		break;
	case SWIM_MSG_ACK:
		swim_on_ack(s, m);
		break;
	case SWIM_MSG_NACK:
		swim_on_nack(s, m);
		break;
	default:
		swim_apply_msg(s, now, m);
		break;
	}
}

int swim_recv(struct swim *s, uint64_t now, const struct swim_addr *from,
	      const uint8_t *data, size_t len)
{
	struct swim_packet pkt;
	s->stats.packets_in++;
	int rc = swim_proto_decode_packet(data, len, &s->lim, &pkt, s->last_error);
	if (rc != 0) {
		s->drops[rc == -EPROTONOSUPPORT ? SWIM_DROP_VERSION :
			 rc == -ENOMEM ? SWIM_DROP_NOMEM : SWIM_DROP_DECODE]++;
		return rc;
	}
	if (strcmp(pkt.sender, s->id) == 0) {
		s->drops[SWIM_DROP_FROM_SELF]++;
		return -ELOOP;
	}
	correct_stale_sender(s, from, &pkt);
	for (size_t i = 0; i < pkt.n_msgs; i++)
		handle_msg(s, now, from, &pkt.msgs[i]);
	tell_dead_sender(s, from, pkt.sender);
	return 0;
}

int swim_tick(struct swim *s, uint64_t now)
{
	swim_run_member_timers(s, now);
	swim_run_relays(s, now);
	run_streams(s, now);
	swim_run_probe(s, now);
	if (s->cfg.gossip_interval_ms > 0 && now >= s->next_gossip_at)
		swim_gossip_round(s, now);
	if (s->cfg.push_pull_interval_ms > 0 && !s->leaving && now >= s->next_pushpull_at)
		pushpull_round(s, now);
	if (s->cfg.reconnect_interval_ms > 0 && !s->leaving && now >= s->next_reconnect_at)
		reconnect_round(s, now);
	return 0;
}

/* --- outputs ------------------------------------------------------------------------------ */

bool swim_pop_packet(struct swim *s, struct swim_out_packet *out)
{
	return fifo_pop(&s->out_packets, out);
}

bool swim_pop_stream(struct swim *s, struct swim_out_stream *out)
{
	return fifo_pop(&s->out_streams, out);
}

bool swim_pop_event(struct swim *s, struct swim_event *out)
{
	return fifo_pop(&s->out_events, out);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t swim_next_deadline(const struct swim *s)
{
	uint64_t d = UINT64_MAX;
	const struct swim_member *m = swim_timer_min(&s->tab);
	if (m != NULL)
		d = m->timer_at;
	for (uint32_t i = 0; i < s->n_relays; i++)
		d = min_u64(d, s->relays[i].deadline);
	for (uint32_t i = 0; i < s->n_pending; i++)
		d = min_u64(d, s->pending[i].deadline);
	if (s->probe.active)
		d = min_u64(d, s->probe.indirect ? s->probe.end : s->probe.ack_deadline);
	else if (!s->leaving)
		d = min_u64(d, s->next_probe_at);
	if (s->cfg.gossip_interval_ms > 0 && s->bq.len > 0)
		d = min_u64(d, s->next_gossip_at);
	if (s->cfg.push_pull_interval_ms > 0 && !s->leaving)
		d = min_u64(d, s->next_pushpull_at);
	if (s->cfg.reconnect_interval_ms > 0 && !s->leaving && s->counts[SWIM_DEAD] > 0)
		d = min_u64(d, s->next_reconnect_at);
	return d;
}

/* --- queries ------------------------------------------------------------------------------- */

static void member_info(const struct swim *s, const struct swim_member *m,
			struct swim_member_info *out)
{
	out->id = m->id;
	out->addr = m->addr;
	out->state = m->state;
	out->incarnation = m->incarnation;
	out->meta = m->meta;
	out->meta_len = m->meta_len;
	out->state_change_ms = m->state_change;
	/* not timer_at: a suspect's timer also fires to ask about it */
	out->suspect_deadline_ms = m->state == SWIM_SUSPECT && m->susp != NULL ?
				   swim_suspicion_deadline(m->susp) : 0;
	out->is_self = m == s->self;
}

size_t swim_member_count(const struct swim *s)
{
	return s->tab.n;
}

int swim_member_at(const struct swim *s, size_t i, struct swim_member_info *out)
{
	if (i >= s->tab.n)
		return -ENOENT;
	member_info(s, s->tab.list[i], out);
	return 0;
}

int swim_member_find(const struct swim *s, const char *id, struct swim_member_info *out)
{
	const struct swim_member *m = swim_table_find(&s->tab, id);
	if (m == NULL)
		return -ENOENT;
	member_info(s, m, out);
	return 0;
}

void swim_counts(const struct swim *s, struct swim_counts *out)
{
	out->alive = s->counts[SWIM_ALIVE];
	out->suspect = s->counts[SWIM_SUSPECT];
	out->dead = s->counts[SWIM_DEAD];
	out->left = s->counts[SWIM_LEFT];
}

const char *swim_self_id(const struct swim *s)
{
	return s->id;
}

uint64_t swim_self_incarnation(const struct swim *s)
{
	return s->self->incarnation;
}

uint32_t swim_health_score(const struct swim *s)
{
	return s->aw.score;
}

uint64_t swim_dropped(const struct swim *s, enum swim_drop why)
{
	return (unsigned)why < SWIM_DROP__COUNT ? s->drops[why] : 0;
}

void swim_stats(const struct swim *s, struct swim_stats *out)
{
	*out = s->stats;
}

const char *swim_last_error(const struct swim *s)
{
	return s->last_error;
}

const char *swim_state_str(uint8_t state)
{
	static const char *const names[] = {"alive", "suspect", "dead", "left"};
	return state < 4 ? names[state] : "unknown";
}

const char *swim_event_str(uint8_t type)
{
	static const char *const names[] = {
		[SWIM_EV_JOINED] = "joined", [SWIM_EV_UPDATED] = "updated",
		[SWIM_EV_SUSPECT] = "suspect", [SWIM_EV_ALIVE] = "alive",
		[SWIM_EV_DEAD] = "dead", [SWIM_EV_LEFT] = "left",
		[SWIM_EV_REAPED] = "reaped", [SWIM_EV_REFUTED] = "refuted",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

/* One row per drop reason: the enum order, the name used in logs and metrics. */
#define SWIM_DROP_MAP(X)                        \
	X(SWIM_DROP_DECODE, "decode")             \
	X(SWIM_DROP_VERSION, "version")           \
	X(SWIM_DROP_FROM_SELF, "from_self")       \
	X(SWIM_DROP_WRONG_TARGET, "wrong_target") \
	X(SWIM_DROP_STALE_ACK, "stale_ack")       \
	X(SWIM_DROP_RELAY_FULL, "relay_full")     \
	X(SWIM_DROP_TABLE_FULL, "table_full")     \
	X(SWIM_DROP_PP_DECODE, "pushpull_decode") \
	X(SWIM_DROP_PP_UNEXPECTED, "pushpull_unexpected") \
	X(SWIM_DROP_NOMEM, "nomem")

const char *swim_drop_str(enum swim_drop why)
{
#define X(code, name) [code] = name,
	static const char *const names[SWIM_DROP__COUNT] = {SWIM_DROP_MAP(X)};
#undef X
	return (unsigned)why < SWIM_DROP__COUNT ? names[why] : "unknown";
}
