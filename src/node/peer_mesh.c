/* peer_mesh: this node's authenticated streams to the managers it knows from gossip, kept up and measured with heartbeats. */
#include "swarmnode/peer_mesh.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "swarmnode/log.h"
#include "swarmnode/peer_msg.h"

#define PEER_MESH_MAX_TARGETS 64

static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* The monotonic clock heartbeats are stamped with. */
static uint64_t mono_us(void)
{
	return uv_hrtime() / 1000;
}

static struct peer_link *link_find(struct peer_mesh *m, const char *id)
{
	for (size_t i = 0; i < m->nlinks; i++)
		if (strcmp(m->links[i].node_id, id) == 0)
			return &m->links[i];
	return NULL;
}

static struct peer_link *link_of_conn(struct peer_mesh *m, const struct peer_conn *c)
{
	for (size_t i = 0; i < m->nlinks; i++)
		if (m->links[i].conn == c)
			return &m->links[i];
	return NULL;
}

static struct peer_link *link_add(struct peer_mesh *m, const char *id)
{
	if (m->nlinks == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct peer_link *p = realloc(m->links, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		m->links = p;
		m->cap = cap;
	}
	struct peer_link *l = &m->links[m->nlinks++];
	memset(l, 0, sizeof(*l));
	snprintf(l->node_id, sizeof(l->node_id), "%s", id);
	l->rtt_us = -1;
	l->state = PEER_CONN_DOWN;
	l->changed_at_ms = wall_ms();
	return l;
}

static void link_remove(struct peer_mesh *m, struct peer_link *l)
{
	size_t i = (size_t)(l - m->links);
	m->links[i] = m->links[--m->nlinks];
}

static void link_set_state(struct peer_link *l, enum peer_conn_state s)
{
	if (l->state != s)
		l->changed_at_ms = wall_ms();
	l->state = s;
}

/* Keeps the counters of an accepted stream that is going away. */
static void link_fold(struct peer_link *l)
{
	struct peer_conn_info info;
	if (l->conn == NULL)
		return;
	peer_conn_info(l->conn, &info);
	l->old_bytes_in += info.bytes_in;
	l->old_bytes_out += info.bytes_out;
	l->old_msgs_in += info.msgs_in;
	l->old_msgs_out += info.msgs_out;
	l->old_connects += info.connects;
}

static bool link_is_up(const struct peer_link *l)
{
	return l->conn != NULL && l->state == PEER_CONN_UP;
}

/* Tells the owner a link went up or down; was_up: before the change. */
static void link_report(struct peer_mesh *m, struct peer_link *l, bool was_up, bool new_stream)
{
	bool up = link_is_up(l);
	if (m->ops->link_changed == NULL || (up == was_up && !(up && new_stream)))
		return;
	char id[IDS_LEN + 1];
	snprintf(id, sizeof(id), "%s", l->node_id); /* the owner may send: l may not outlive the call */
	m->ops->link_changed(m->data, id, up);
}

static void link_heartbeat(struct peer_mesh *m, struct peer_link *l)
{
	uint8_t buf[PEER_MSG_HEARTBEAT_MAX];
	size_t len;
	if (peer_msg_heartbeat_encode(PEER_MSG_HEARTBEAT, l->hb_seq + 1, mono_us(), buf, sizeof(buf), &len) != 0)
		return;
	int rc = peer_send(l->conn, buf, len);
	if (rc == 0) {
		l->hb_seq++;
		l->hb_sent_at = uv_now(m->loop);
		l->heartbeats_sent++;
	} else {
		log_debug("peer", "heartbeat not sent", LF_STR("node", l->node_id), LF_STR("error", strerror(-rc)));
	}
}

/* Whether node_id's refusal was logged already; remembers it if not. */
static bool refusal_logged(struct peer_mesh *m, const char *node_id)
{
	for (size_t i = 0; i < PEER_MESH_REFUSED_LOGGED; i++)
		if (strcmp(m->refused_logged[i], node_id) == 0)
			return true;
	snprintf(m->refused_logged[m->refused_logged_next], IDS_LEN + 1, "%s", node_id);
	m->refused_logged_next = (m->refused_logged_next + 1) % PEER_MESH_REFUSED_LOGGED;
	return false;
}

/* Asks the owner whether node_id may keep stream c. If not: counts and logs
 * it, queues the owner's farewell on c (closing c flushes it) and returns
 * false; the caller ends the stream. */
static bool mesh_allowed(struct peer_mesh *m, struct peer_conn *c, const char *node_id)
{
	uint8_t bye[PEER_MESH_BYE_MAX];
	size_t bye_len = 0;
	if (m->ops->allowed == NULL || m->ops->allowed(m->data, node_id, bye, sizeof(bye), &bye_len))
		return true;
	m->refused_removed++;
	if (!refusal_logged(m, node_id))
		log_warn("peer", "refused a removed node's stream", LF_STR("node", node_id));
	if (bye_len > 0 && bye_len <= sizeof(bye))
		peer_send(c, bye, bye_len);
	return false;
}

/* --- peer_io callbacks ----------------------------------------------------------- */

static void mesh_on_state(struct peer_io *pio, struct peer_conn *c, enum peer_conn_state state,
			  const char *why)
{
	struct peer_mesh *m = pio->data;
	struct peer_conn_info info;
	peer_conn_info(c, &info);
	struct peer_link *l = link_of_conn(m, c);
	bool was_up = false;
	if (l == NULL && info.dir == PEER_CONN_IN && state == PEER_CONN_UP) {
		if (!mesh_allowed(m, c, info.node_id)) {
			peer_conn_close(c); /* before it replaces a stream or reaches the owner */
			return;
		}
		/* A new accepted stream: one per pair of nodes. */
		l = link_find(m, info.node_id);
		if (l != NULL && l->conn != NULL && l->dir == PEER_CONN_OUT &&
		    strcmp(m->self_id, info.node_id) < 0) {
			/* This node is the rightful dialer of the pair: keep ours. */
			m->duplicates++;
			log_info("peer", "duplicate stream closed", LF_STR("node", info.node_id),
				 LF_STR("reason", "this node dials it"));
			peer_conn_close(c);
			return;
		}
		if (l != NULL && l->conn != NULL) {
			/* A reconnect from a restarted node, or the peer is the rightful
			 * dialer: the new stream replaces the old one. */
			was_up = link_is_up(l);
			if (l->dir == PEER_CONN_IN)
				link_fold(l);
			else
				m->duplicates++;
			peer_conn_close(l->conn);
			l->conn = NULL;
		}
		if (l == NULL && (l = link_add(m, info.node_id)) == NULL) {
			peer_conn_close(c);
			return;
		}
		l->conn = c;
		l->dir = PEER_CONN_IN;
		l->dial = false;
		snprintf(l->addr, sizeof(l->addr), "%s", info.addr);
	}
	if (l == NULL)
		return;
	if (l->conn == c)
		was_up = was_up || l->state == PEER_CONN_UP;
	link_set_state(l, state);
	if (info.role_known)
		l->role = info.role;
	if (state == PEER_CONN_UP) {
		l->last_heard = uv_now(m->loop);
		l->last_error[0] = '\0';
		if (l->dir == PEER_CONN_OUT)
			link_heartbeat(m, l); /* the first round trip at once */
	} else if (state == PEER_CONN_DOWN) {
		snprintf(l->last_error, sizeof(l->last_error), "%s", why);
		if (l->dir == PEER_CONN_IN) {
			link_fold(l); /* peer_io releases an accepted stream after this returns */
			l->conn = NULL;
		}
	}
	link_report(m, l, was_up, state == PEER_CONN_UP);
}

/* Hands an envelope to the owner with the role the peer's certificate proves. */
static void mesh_deliver(struct peer_mesh *m, const struct peer_link *l, const struct peer_conn *c,
			 const struct peer_msg *pm)
{
	const struct identity_cert *cert = peer_conn_cert(c);
	if (m->ops->message == NULL || cert == NULL) {
		m->unknown_msgs++;
		return;
	}
	char id[IDS_LEN + 1];
	snprintf(id, sizeof(id), "%s", l->node_id); /* the owner may send: l may not outlive the call */
	m->ops->message(m->data, id, cert->role, pm->kind, pm->body, pm->body_len);
}

static void mesh_on_message(struct peer_io *pio, struct peer_conn *c, const uint8_t *msg, size_t len)
{
	struct peer_mesh *m = pio->data;
	struct peer_link *l = link_of_conn(m, c);
	struct peer_msg pm;
	char err[160];
	if (l == NULL)
		return;
	l->last_heard = uv_now(m->loop);
	int rc = peer_msg_decode(msg, len, &pm, err, sizeof(err));
	if (rc != 0) {
		m->bad_msgs++;
		log_warn("peer", "undecodable message", LF_STR("node", l->node_id), LF_STR("error", err));
		return;
	}
	if (pm.kind >= PEER_MSG_FIRST_ENVELOPE) {
		mesh_deliver(m, l, c, &pm);
		return;
	}
	if (pm.kind == PEER_MSG_HEARTBEAT) {
		uint8_t buf[PEER_MSG_HEARTBEAT_MAX];
		size_t n;
		if (peer_msg_heartbeat_encode(PEER_MSG_HEARTBEAT_ACK, pm.seq, pm.stamp, buf, sizeof(buf), &n) == 0)
			peer_send(c, buf, n);
		return;
	}
	/* An ACK: the stamp is ours, echoed; only the latest heartbeat counts. */
	uint64_t now = mono_us();
	if (pm.seq != l->hb_seq || pm.stamp > now)
		return;
	l->heartbeats_acked++;
	l->rtt_us = (int64_t)(now - pm.stamp);
	l->rtt_at_ms = wall_ms();
}

static const struct peer_io_ops mesh_io_ops = {
	.on_state = mesh_on_state,
	.on_message = mesh_on_message,
};

/* --- membership ----------------------------------------------------------------- */

static bool should_dial(const struct peer_mesh *m, const char *id)
{
	return m->self_role == IDENTITY_ROLE_WORKER || strcmp(m->self_id, id) < 0;
}

void peer_mesh_sync(struct peer_mesh *m)
{
	struct peer_mesh_target t[PEER_MESH_MAX_TARGETS];
	if (m->closing)
		return;
	size_t n = m->ops->managers(m->data, t, PEER_MESH_MAX_TARGETS);
	/* Stop dialing what is gone, or moved. */
	for (size_t i = 0; i < m->nlinks; i++) {
		struct peer_link *l = &m->links[i];
		const struct peer_mesh_target *want = NULL;
		for (size_t k = 0; k < n; k++)
			if (strcmp(t[k].node_id, l->node_id) == 0)
				want = &t[k];
		if (l->dial && (want == NULL || strcmp(want->addr, l->addr) != 0)) {
			log_info("peer", "no longer dialing", LF_STR("node", l->node_id), LF_STR("addr", l->addr),
				 LF_STR("reason", want ? "its address changed" : "gossip no longer sees it alive"));
			bool was_up = link_is_up(l);
			peer_conn_close(l->conn);
			l->conn = NULL;
			l->dial = false;
			link_set_state(l, PEER_CONN_DOWN);
			snprintf(l->last_error, sizeof(l->last_error), "%s",
				 want ? "its address changed" : "gossip no longer sees it alive");
			link_report(m, l, was_up, false);
		}
	}
	for (size_t k = 0; k < n; k++) {
		if (strcmp(t[k].node_id, m->self_id) == 0 || !should_dial(m, t[k].node_id))
			continue;
		struct peer_link *l = link_find(m, t[k].node_id);
		if (l != NULL && (l->dial || (l->conn != NULL && l->state == PEER_CONN_UP)))
			continue; /* dialing already, or the peer's stream is up */
		struct addr a;
		char why[160];
		if (addr_parse(t[k].addr, 2377, &a, why, sizeof(why)) != 0)
			continue;
		if (l == NULL && (l = link_add(m, t[k].node_id)) == NULL)
			return;
		struct peer_conn *c;
		if (peer_dial(&m->io, t[k].node_id, &a, PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER), &c) != 0)
			continue;
		l->conn = c;
		l->dial = true;
		l->dir = PEER_CONN_OUT;
		l->role = IDENTITY_ROLE_MANAGER;
		l->hb_seq = 0;
		snprintf(l->addr, sizeof(l->addr), "%s", t[k].addr);
		link_set_state(l, PEER_CONN_CONNECTING);
		log_info("peer", "dialing manager", LF_STR("node", l->node_id), LF_STR("addr", l->addr));
	}
	/* Links without a stream are shown as down for a while, then forgotten. */
	uint64_t now = wall_ms();
	for (size_t i = 0; i < m->nlinks;) {
		struct peer_link *l = &m->links[i];
		if (l->conn == NULL && !l->dial && now - l->changed_at_ms > PEER_MESH_FORGET_MS) {
			link_remove(m, l);
			continue;
		}
		i++;
	}
}

static void mesh_tick(uv_timer_t *t)
{
	struct peer_mesh *m = t->data;
	uint64_t now = uv_now(m->loop);
	peer_mesh_sync(m);
	for (size_t i = 0; i < m->nlinks; i++) {
		struct peer_link *l = &m->links[i];
		if (l->conn == NULL || l->state != PEER_CONN_UP)
			continue;
		/* Certificates are checked when a stream opens; one that expires
		 * while the stream is up ends it (the redial is then refused). */
		const struct identity_cert *cert = peer_conn_cert(l->conn);
		if (cert != NULL && wall_ms() >= cert->expires_at_ms) {
			peer_conn_reset(l->conn, "peer certificate expired while the stream was up");
			continue;
		}
		/* A node removed while its stream was up (or one this node dialed):
		 * told, then cut; a dialed stream's redials meet the same answer. */
		if (!mesh_allowed(m, l->conn, l->node_id)) {
			peer_conn_reset(l->conn, "the peer was removed from the swarm");
			continue;
		}
		if (now - l->last_heard > PEER_MESH_SILENCE_MS) {
			char why[96];
			snprintf(why, sizeof(why), "nothing heard for %llu ms",
				 (unsigned long long)(now - l->last_heard));
			peer_conn_reset(l->conn, why); /* reports DOWN at once: l may change */
			continue;
		}
		if (l->dir == PEER_CONN_OUT && now - l->hb_sent_at >= PEER_MESH_HEARTBEAT_MS)
			link_heartbeat(m, l);
	}
}

int peer_mesh_start(struct peer_mesh *m, uv_loop_t *loop, const struct peer_io_config *cfg,
		    const char *self_id, enum identity_role self_role, const struct peer_mesh_ops *ops,
		    void *data, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->loop = loop;
	m->ops = ops;
	m->data = data;
	snprintf(m->self_id, sizeof(m->self_id), "%s", self_id);
	m->self_role = self_role;
	struct peer_io_config c = *cfg;
	c.accept_roles = PEER_AUTH_ROLES_ANY;
	int rc = peer_io_start(&m->io, loop, &c, &mesh_io_ops, m);
	sodium_memzero(&c, sizeof(c));
	if (rc != 0) {
		snprintf(err, errlen, "peer streams: no usable credentials");
		return rc;
	}
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	uv_timer_start(&m->timer, mesh_tick, PEER_MESH_TICK_MS, PEER_MESH_TICK_MS);
	return 0;
}

static void mesh_part_closed(struct peer_mesh *m)
{
	if (--m->closing_parts == 0) {
		free(m->links);
		m->links = NULL;
		m->nlinks = m->cap = 0;
		if (m->on_closed)
			m->on_closed(m);
	}
}

static void mesh_io_closed(struct peer_io *pio)
{
	mesh_part_closed(pio->data);
}

static void mesh_timer_closed(uv_handle_t *h)
{
	mesh_part_closed(h->data);
}

void peer_mesh_close(struct peer_mesh *m, void (*on_closed)(struct peer_mesh *m))
{
	if (m->closing)
		return;
	m->closing = true;
	m->on_closed = on_closed;
	m->closing_parts = 2;
	for (size_t i = 0; i < m->nlinks; i++)
		m->links[i].conn = NULL; /* peer_io_close closes them all */
	uv_timer_stop(&m->timer);
	uv_close((uv_handle_t *)&m->timer, mesh_timer_closed);
	peer_io_close(&m->io, mesh_io_closed);
}

void peer_mesh_adopt(struct peer_mesh *m, uv_tcp_t *tcp, const char *peer_addr, const uint8_t *bytes,
		     size_t len)
{
	peer_io_adopt(&m->io, tcp, peer_addr, bytes, len);
}

static const struct peer_link *link_find_const(const struct peer_mesh *m, const char *id)
{
	return link_find((struct peer_mesh *)m, id);
}

int peer_mesh_send(struct peer_mesh *m, const char *node_id, const uint8_t *msg, size_t len)
{
	struct peer_link *l = link_find(m, node_id);
	if (m->closing || l == NULL || !link_is_up(l))
		return -ENOTCONN;
	return peer_send(l->conn, msg, len);
}

size_t peer_mesh_broadcast(struct peer_mesh *m, unsigned roles, const uint8_t *msg, size_t len)
{
	size_t sent = 0;
	for (size_t i = 0; i < m->nlinks && !m->closing; i++) {
		struct peer_link *l = &m->links[i];
		if (link_is_up(l) && (roles & PEER_AUTH_ROLE_BIT(l->role)) && peer_send(l->conn, msg, len) == 0)
			sent++;
	}
	return sent;
}

bool peer_mesh_is_up(const struct peer_mesh *m, const char *node_id)
{
	const struct peer_link *l = link_find_const(m, node_id);
	return l != NULL && link_is_up(l);
}

size_t peer_mesh_count(const struct peer_mesh *m)
{
	return m->nlinks;
}

int peer_mesh_view(const struct peer_mesh *m, size_t i, struct peer_link_view *out)
{
	if (i >= m->nlinks)
		return -ENOENT;
	const struct peer_link *l = &m->links[i];
	memset(out, 0, sizeof(*out));
	out->link = l;
	out->bytes_in = l->old_bytes_in;
	out->bytes_out = l->old_bytes_out;
	out->msgs_in = l->old_msgs_in;
	out->msgs_out = l->old_msgs_out;
	out->connects = l->old_connects;
	out->last_error = l->last_error;
	if (l->conn != NULL) {
		static struct peer_conn_info info; /* the view points into it until the next call */
		peer_conn_info(l->conn, &info);
		out->bytes_in += info.bytes_in;
		out->bytes_out += info.bytes_out;
		out->msgs_in += info.msgs_in;
		out->msgs_out += info.msgs_out;
		out->connects += info.connects;
		out->auth_failures = info.auth_failures;
		if (l->last_error[0] == '\0' && info.last_error[0] != '\0' && l->state != PEER_CONN_UP) {
			static char last[256];
			snprintf(last, sizeof(last), "%s", info.last_error);
			out->last_error = last;
		}
	}
	return 0;
}
