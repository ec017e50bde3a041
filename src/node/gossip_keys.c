/* gossip_keys: rotating the cluster's gossip key over the peer streams (see gossip_keys.h for the protocol). */
#include "swarmnode/gossip_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "swarmnode/log.h"
#include "swarmnode/swarm.h"

static const char *const step_names[] = {"install", "use", "remove"};

void gossip_keys_fingerprint(const uint8_t key[KEYRING_KEY_LEN], char out[GOSSIP_KEYS_FINGERPRINT_LEN + 1])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, key, KEYRING_KEY_LEN);
	sodium_bin2hex(out, GOSSIP_KEYS_FINGERPRINT_LEN + 1, h, GOSSIP_KEYS_FINGERPRINT_LEN / 2);
}

static void primary_fingerprint(const struct keyring *kr, char out[GOSSIP_KEYS_FINGERPRINT_LEN + 1])
{
	uint8_t key[KEYRING_KEY_LEN];
	bool primary = false;
	snprintf(out, GOSSIP_KEYS_FINGERPRINT_LEN + 1, "%s", "none");
	for (size_t i = 0; keyring_get(kr, i, key, &primary) == 0; i++)
		if (primary)
			gossip_keys_fingerprint(key, out);
	sodium_memzero(key, sizeof(key));
}

const char *gossip_keys_step_name(const struct gossip_keys *gk)
{
	return gk->running && gk->step >= 0 ? step_names[gk->step] : NULL;
}

/* The digest of the ring this node holds. */
static void held_digest(const struct gossip_keys *gk, uint8_t digest[PEER_KEYRING_DIGEST_LEN])
{
	peer_msg_keyring_digest(gk->sw->st.keyring, gk->sw->st.keyring_len, digest);
}

/* --- every node: applying rings ------------------------------------------------ */

/* Makes ring (generation) this node's: checked, persisted, then used by
 * gossip. Returns 0, or a negative errno with the reason in err and the
 * node's ring unchanged. */
static int apply_ring(struct gossip_keys *gk, const uint8_t *ring, size_t len, uint64_t generation, char *err,
		      size_t errlen)
{
	struct swarm *sw = gk->sw;
	struct swarm_state *st = &sw->st;
	struct keyring *check = keyring_new();
	char why[160];
	if (check == NULL)
		return -ENOMEM;
	int rc = keyring_load(check, ring, len, why, sizeof(why));
	keyring_free(check);
	if (rc != 0 || len > sizeof(st->keyring)) {
		snprintf(err, errlen, "the ring does not load: %s", rc != 0 ? why : "too long");
		return -EBADMSG;
	}
	uint8_t saved[sizeof(st->keyring)];
	size_t saved_len = st->keyring_len;
	uint64_t saved_generation = st->keyring_generation;
	memcpy(saved, st->keyring, saved_len);
	memcpy(st->keyring, ring, len);
	st->keyring_len = len;
	st->keyring_generation = generation;
	rc = swarm_state_save(st, sw->datadir, err, errlen);
	if (rc == 0) {
		keyring_load(sw->keyring, ring, len, NULL, 0); /* gossip_io reads this very keyring */
	} else {
		memcpy(st->keyring, saved, saved_len);
		st->keyring_len = saved_len;
		st->keyring_generation = saved_generation;
	}
	sodium_memzero(saved, sizeof(saved));
	return rc;
}

static void send_ack(struct gossip_keys *gk, const char *to)
{
	uint8_t msg[PEER_KEYRING_MSG_MAX], digest[PEER_KEYRING_DIGEST_LEN];
	size_t len;
	held_digest(gk, digest);
	if (peer_msg_keyring_ack_encode(gk->sw->st.keyring_generation, digest, msg, sizeof(msg), &len) == 0)
		peer_mesh_send(&gk->sw->mesh, to, msg, len);
}

/* Sends the ring this node holds to one node (to != NULL) or every up stream. */
static size_t send_ring(struct gossip_keys *gk, enum peer_keyring_step step, const char *to)
{
	const struct swarm_state *st = &gk->sw->st;
	uint8_t msg[PEER_KEYRING_MSG_MAX];
	size_t len;
	if (peer_msg_keyring_ring_encode(step, st->keyring_generation, st->keyring, st->keyring_len, msg,
					 sizeof(msg), &len) != 0)
		return 0;
	if (to != NULL)
		return peer_mesh_send(&gk->sw->mesh, to, msg, len) == 0;
	return peer_mesh_broadcast(&gk->sw->mesh, PEER_AUTH_ROLES_ANY, msg, len);
}

static void rotation_finish(struct gossip_keys *gk, int status, const char *message);
static void step_ended(uv_timer_t *t);

static void on_ring(struct gossip_keys *gk, const char *from, enum identity_role from_role,
		    const struct peer_keyring_msg *m)
{
	struct swarm_state *st = &gk->sw->st;
	uint8_t have[PEER_KEYRING_DIGEST_LEN], digest[PEER_KEYRING_DIGEST_LEN];
	char err[512], fp[GOSSIP_KEYS_FINGERPRINT_LEN + 1];
	held_digest(gk, have);
	peer_msg_keyring_digest(m->ring, m->ring_len, digest);
	switch (peer_msg_keyring_judge(from_role, st->keyring_generation, have, m->generation, digest)) {
	case PEER_KEYRING_REFUSED:
		gk->refused++;
		log_warn("keys", "keyring refused: only managers may send one", LF_STR("node", from),
			 LF_STR("role", identity_role_name(from_role)));
		return;
	case PEER_KEYRING_STALE:
		break;
	case PEER_KEYRING_ADOPT:
		if (apply_ring(gk, m->ring, m->ring_len, m->generation, err, sizeof(err)) != 0) {
			gk->bad++;
			log_error("keys", "keyring not applied", LF_STR("node", from), LF_STR("error", err));
			return; /* no ACK: the sender reports this node */
		}
		gk->applied++;
		primary_fingerprint(gk->sw->keyring, fp);
		log_info("keys", "gossip keyring updated", LF_STR("from", from),
			 LF_STR("step", peer_keyring_step_name(m->step)), LF_UINT("generation", m->generation),
			 LF_STR("primary", fp), LF_UINT("keys", keyring_count(gk->sw->keyring)));
		if (gk->running)
			rotation_finish(gk, -ESTALE, "another manager rotated the gossip key at the same time; "
						    "its ring won");
		break;
	}
	send_ack(gk, from);
}

/* --- the coordinating manager ---------------------------------------------------- */

static struct gossip_keys_node *node_find(struct gossip_keys *gk, const char *id)
{
	for (size_t i = 0; i < gk->nnodes; i++)
		if (strcmp(gk->nodes[i].node_id, id) == 0)
			return &gk->nodes[i];
	return NULL;
}

static bool node_holds_step(const struct gossip_keys *gk, const struct gossip_keys_node *n)
{
	return n->generation == gk->generation && memcmp(n->digest, gk->digest, PEER_KEYRING_DIGEST_LEN) == 0;
}

/* A node the step need not wait for any more: it holds the ring, or gossip
 * no longer sees it alive. */
static bool node_done(const struct gossip_keys *gk, const struct gossip_keys_node *n)
{
	struct swarm_node sn;
	if (node_holds_step(gk, n))
		return true;
	return swarm_node_find(gk->sw, n->node_id, &sn) != 0 || (sn.state != SWIM_ALIVE && sn.state != SWIM_SUSPECT);
}

static bool step_complete(const struct gossip_keys *gk)
{
	for (size_t i = 0; i < gk->nnodes; i++)
		if (!node_done(gk, &gk->nodes[i]))
			return false;
	return true;
}

static void on_ack(struct gossip_keys *gk, const char *from, const struct peer_keyring_msg *m)
{
	struct gossip_keys_node *n = gk->running ? node_find(gk, from) : NULL;
	if (n == NULL)
		return;
	n->generation = m->generation;
	memcpy(n->digest, m->digest, sizeof(n->digest));
	if (node_holds_step(gk, n) && step_complete(gk))
		uv_timer_start(&gk->timer, step_ended, 0, 0);
}

void gossip_keys_on_message(struct gossip_keys *gk, const char *from, enum identity_role from_role,
			    const uint8_t *body, size_t len)
{
	struct peer_keyring_msg m;
	char err[160];
	if (gk->sw->state != SWARM_ACTIVE)
		return;
	if (peer_msg_keyring_decode(body, len, &m, err, sizeof(err)) != 0) {
		gk->bad++;
		log_warn("keys", "undecodable keyring message", LF_STR("node", from), LF_STR("error", err));
		return;
	}
	if (m.op == PEER_KEYRING_ACK)
		on_ack(gk, from, &m);
	else
		on_ring(gk, from, from_role, &m);
}

void gossip_keys_on_link(struct gossip_keys *gk, const char *node_id, bool up)
{
	/* A node that missed rotations (down, restarted, new) catches up from
	 * every manager it reaches; it ignores what is not newer. */
	if (up && swarm_is_manager(gk->sw) && gk->sw->st.keyring_generation > 0)
		send_ring(gk, PEER_KEYRING_SYNC, node_id);
}

/* Moves the nodes still missing to the front; returns how many. */
static size_t partition_missing(struct gossip_keys *gk)
{
	size_t nmissing = 0;
	for (size_t i = 0; i < gk->nnodes; i++) {
		if (node_holds_step(gk, &gk->nodes[i]))
			continue;
		struct gossip_keys_node t = gk->nodes[nmissing];
		gk->nodes[nmissing++] = gk->nodes[i];
		gk->nodes[i] = t;
	}
	return nmissing;
}

static void rotation_finish(struct gossip_keys *gk, int status, const char *message)
{
	struct gossip_keys_result r;
	memset(&r, 0, sizeof(r));
	uv_timer_stop(&gk->timer);
	gk->running = false;
	r.status = status;
	r.message = message;
	r.generation = gk->generation;
	primary_fingerprint(gk->sw->keyring, r.fingerprint);
	r.nmissing = partition_missing(gk);
	r.missing = gk->nodes;
	r.expected = gk->nnodes + 1; /* this node holds its own ring */
	r.confirmed = r.expected - r.nmissing;
	for (size_t i = 0; i < sizeof(gk->rings) / sizeof(gk->rings[0]); i++)
		sodium_memzero(&gk->rings[i], sizeof(gk->rings[i]));
	if (status == 0)
		log_info("keys", "gossip key rotated", LF_UINT("generation", r.generation),
			 LF_STR("primary", r.fingerprint), LF_UINT("confirmed", r.confirmed),
			 LF_UINT("nodes", r.expected));
	else
		log_warn("keys", "gossip key rotation ended early", LF_STR("reason", message),
			 LF_UINT("generation", r.generation));
	for (size_t i = 0; i < r.nmissing; i++)
		log_warn("keys", "node did not confirm the gossip keyring", LF_STR("node", gk->nodes[i].node_id),
			 LF_UINT("its_generation", gk->nodes[i].generation));
	gossip_keys_done_fn done = gk->done;
	gk->done = NULL;
	if (done)
		done(gk->done_data, &r);
	free(gk->nodes);
	gk->nodes = NULL;
	gk->nnodes = 0;
}

/* Applies rings[i] here, sends it everywhere and waits for the ACKs. */
static void step_start(struct gossip_keys *gk, int i)
{
	char err[512];
	struct swarm_state *st = &gk->sw->st;
	gk->step = i;
	if (apply_ring(gk, gk->rings[i].bytes, gk->rings[i].len, st->keyring_generation + 1, err, sizeof(err)) != 0) {
		log_error("keys", "cannot persist the new gossip keyring", LF_STR("error", err));
		rotation_finish(gk, -EIO, "cannot persist the new gossip keyring on this manager");
		return;
	}
	gk->generation = st->keyring_generation;
	held_digest(gk, gk->digest);
	size_t sent = send_ring(gk, (enum peer_keyring_step)(PEER_KEYRING_INSTALL + i), NULL);
	log_info("keys", "gossip key rotation step", LF_STR("step", step_names[i]),
		 LF_UINT("generation", gk->generation), LF_UINT("streams", sent), LF_UINT("waiting_for", gk->nnodes));
	uv_timer_start(&gk->timer, step_ended, step_complete(gk) ? 0 : GOSSIP_KEYS_STEP_TIMEOUT_MS, 0);
}

static void step_ended(uv_timer_t *t)
{
	struct gossip_keys *gk = t->data;
	if (!gk->running)
		return;
	if (gk->step < 0) {
		step_start(gk, 0);
		return;
	}
	if (!step_complete(gk))
		log_warn("keys", "gossip key rotation step timed out", LF_STR("step", step_names[gk->step]),
			 LF_UINT("missing", partition_missing(gk)));
	if ((size_t)gk->step + 1 < gk->nsteps)
		step_start(gk, gk->step + 1);
	else
		rotation_finish(gk, 0, NULL);
}

/* Removes the oldest key that is not primary; false when there is none. */
static bool drop_oldest(struct keyring *kr)
{
	uint8_t key[KEYRING_KEY_LEN];
	bool primary = false, dropped = false;
	for (size_t i = 0; !dropped && keyring_get(kr, i, key, &primary) == 0; i++)
		dropped = !primary && keyring_remove(kr, key) == 0;
	sodium_memzero(key, sizeof(key));
	return dropped;
}

static int ring_store(const struct keyring *kr, struct gossip_keys_ring *out)
{
	return keyring_serialize(kr, out->bytes, sizeof(out->bytes), &out->len) == 0 ? 0 : -EIO;
}

/* The rings of the three steps, around a fresh random key. */
static int build_rings(struct gossip_keys *gk)
{
	uint8_t key[KEYRING_KEY_LEN];
	struct keyring *kr = keyring_new();
	int rc = -EIO;
	if (kr == NULL || keyring_load(kr, gk->sw->st.keyring, gk->sw->st.keyring_len, NULL, 0) != 0)
		goto out;
	while (keyring_count(kr) >= KEYRING_MAX_KEYS && drop_oldest(kr))
		;
	randombytes_buf(key, sizeof(key));
	if (keyring_install(kr, key) != 0 || ring_store(kr, &gk->rings[0]) != 0 || keyring_use(kr, key) != 0 ||
	    ring_store(kr, &gk->rings[1]) != 0)
		goto out;
	bool dropped = false;
	while (keyring_count(kr) > 1 + GOSSIP_KEYS_KEEP_OLDER && drop_oldest(kr))
		dropped = true;
	gk->nsteps = dropped ? 3 : 2;
	rc = dropped ? ring_store(kr, &gk->rings[2]) : 0;
out:
	sodium_memzero(key, sizeof(key));
	keyring_free(kr);
	return rc;
}

/* The nodes to wait for: every other member gossip sees alive or suspect. */
static int collect_nodes(struct gossip_keys *gk)
{
	struct swarm_node n;
	gk->nodes = calloc(GOSSIP_KEYS_MAX_NODES, sizeof(*gk->nodes));
	if (gk->nodes == NULL)
		return -ENOMEM;
	gk->nnodes = 0;
	for (size_t i = 0; swarm_node_at(gk->sw, i, &n) == 0 && gk->nnodes < GOSSIP_KEYS_MAX_NODES; i++)
		if (!n.self && (n.state == SWIM_ALIVE || n.state == SWIM_SUSPECT))
			snprintf(gk->nodes[gk->nnodes++].node_id, IDS_LEN + 1, "%s", n.id);
	return 0;
}

int gossip_keys_rotate(struct gossip_keys *gk, gossip_keys_done_fn done, void *data, char *err, size_t errlen)
{
	struct swarm *sw = gk->sw;
	if (!swarm_is_manager(sw) || !sw->mesh_open || !sw->gossip_open) {
		snprintf(err, errlen, "only an active manager can rotate the gossip key");
		return -EPERM;
	}
	if (gk->running) {
		snprintf(err, errlen, "a gossip key rotation is already running on this manager");
		return -EBUSY;
	}
	if (build_rings(gk) != 0 || collect_nodes(gk) != 0) {
		snprintf(err, errlen, "cannot make the new gossip keyring");
		free(gk->nodes);
		gk->nodes = NULL;
		return -EIO;
	}
	gk->running = true;
	gk->done = done;
	gk->done_data = data;
	gk->rotations++;
	gk->generation = 0;
	/* From the timer, so that done never runs inside this call. */
	gk->step = -1;
	uv_timer_start(&gk->timer, step_ended, 0, 0);
	return 0;
}

/* --- lifetime --------------------------------------------------------------------- */

void gossip_keys_init(struct gossip_keys *gk, uv_loop_t *loop, struct swarm *sw)
{
	memset(gk, 0, sizeof(*gk));
	gk->sw = sw;
	uv_timer_init(loop, &gk->timer);
	gk->timer.data = gk;
}

void gossip_keys_abort(struct gossip_keys *gk, const char *why)
{
	if (gk->running)
		rotation_finish(gk, -ECANCELED, why);
}

static void timer_closed(uv_handle_t *h)
{
	struct gossip_keys *gk = h->data;
	if (gk->on_closed)
		gk->on_closed(gk);
}

void gossip_keys_close(struct gossip_keys *gk, void (*on_closed)(struct gossip_keys *gk))
{
	gossip_keys_abort(gk, "the daemon is shutting down");
	gk->on_closed = on_closed;
	uv_close((uv_handle_t *)&gk->timer, timer_closed);
}
