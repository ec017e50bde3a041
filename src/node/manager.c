/* manager: the host of this node's raft core: log on disk, transport, store, forwarded writes. */
#include "swarmnode/manager.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "swarmnode/log.h"
#include "swarmnode/manager_msg.h"
#include "swarmnode/raft_codec.h"
#include "swarmnode/wal.h"

/* A write or read waiting for the raft core or the leader. */
enum wait_kind {
	WAIT_LOCAL_WRITE = 1, /* proposed here: answer done when index applies */
	WAIT_PEER_WRITE,      /* proposed here for a forwarding manager: answer with RESULT */
	WAIT_FORWARDED,       /* forwarded to the leader: answer done when its RESULT comes */
	WAIT_READ,            /* a ReadIndex request */
};

struct wait {
	struct wait *next;
	enum wait_kind kind;
	uint64_t index;          /* LOCAL_WRITE, PEER_WRITE: the proposed entry ... */
	uint64_t term;           /* ... and its term */
	uint64_t req;            /* FORWARDED, READ: our request number; PEER_WRITE: theirs */
	char peer[IDS_LEN + 1];  /* PEER_WRITE: who forwarded it */
	uint64_t deadline;       /* loop time after which it fails with MANAGER_E_TIMEDOUT */
	manager_write_fn write_done;
	manager_read_fn read_done;
	void *data;
	/* Set when it finishes, for the completion that runs after the update. */
	int status;
	uint64_t result_index;
	char message[MANAGER_MSG_TEXT_MAX + 1];
};

#define MANAGER_SEEN_MAX 16

struct manager {
	uv_loop_t *loop;
	struct manager_config cfg;
	char dir[512];
	const struct manager_ops *ops;
	void *data;
	struct wal *wal;
	struct store *store;
	struct raft *raft;
	uv_timer_t tick;       /* the raft core's deadline */
	uv_timer_t sweep;      /* timeouts, joining, snapshots: every MANAGER_SWEEP_MS */
	struct wait *waits;
	uint64_t next_req;
	uint64_t applied;      /* last entry handed to the store (any type) */
	uint64_t snap_index;   /* the latest snapshot's index */
	bool snapshotting;     /* a snapshot write is in flight */
	bool failed;           /* the disk failed: stop stepping */
	bool closing;
	int open_handles;
	char leader[IDS_LEN + 1];
	uint64_t bad_msgs;
	struct wait *later;     /* completions for the next loop iteration */
	uv_timer_t later_timer; /* runs them */
	int in_call;            /* inside manager_write/manager_read: defer completions */
	uint32_t sweeps;
	struct {
		raft_id id;
		char node[IDS_LEN + 1];
	} seen[MANAGER_SEEN_MAX];
	void (*closed)(void *data);
	void *closed_data;
	/* `init`: the first entry, kept until the core starts from it. */
	uint64_t seq_base;      /* wal seq = the core's seq + this (a bootstrap or forced write took 1) */
	struct raft_hard_state boot_hs;
	struct raft_entry boot_entry;
	uint8_t boot_buf[RAFT_CONF_ENCODED_MAX];
};

#define MANAGER_SWEEP_MS 500

/* A completion collected while an update is handled and run after it, so
 * that a callback may call back into the manager (raft_step) safely. */
struct done_list {
	struct wait *head;
};

static void manager_handle(struct manager *m, const struct raft_update *up, struct done_list *done);
static void run_done(struct manager *m, struct done_list *done);
static void defer_done(struct manager *m, struct done_list *done);

/* --- raft ids and node ids ----------------------------------------------------- */

static const struct raft_member *member_by_node(const struct manager *m, const char *node_id)
{
	const struct raft_configuration *c = raft_configuration(m->raft, NULL);
	for (uint32_t i = 0; i < c->n; i++)
		if (strcmp(c->members[i].node_id, node_id) == 0)
			return &c->members[i];
	return NULL;
}

static const char *node_of(const struct manager *m, raft_id id)
{
	const struct raft_member *mem = raft_configuration_find(raft_configuration(m->raft, NULL), id);
	if (mem != NULL && mem->node_id[0] != '\0')
		return mem->node_id;
	for (size_t i = 0; i < MANAGER_SEEN_MAX; i++)
		if (m->seen[i].id == id && id != RAFT_NONE)
			return m->seen[i].node;
	return NULL;
}

/* --- waits ------------------------------------------------------------------------ */

static struct wait *wait_new(struct manager *m, enum wait_kind kind)
{
	struct wait *w = calloc(1, sizeof(*w));
	if (w != NULL) {
		w->kind = kind;
		w->deadline = uv_now(m->loop) + MANAGER_REQUEST_TIMEOUT_MS;
	}
	return w;
}

static void wait_link(struct manager *m, struct wait *w)
{
	w->next = m->waits;
	m->waits = w;
}

/* Unlinks *link and queues it on done with its outcome. */
static void wait_finish(struct wait **link, struct done_list *done, int status, const char *message,
			uint64_t index)
{
	struct wait *w = *link;
	*link = w->next;
	w->status = status;
	w->result_index = index;
	snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
	w->next = done->head;
	done->head = w;
}

typedef int (*body_encode_fn)(const void *obj, uint8_t *out, size_t cap, size_t *len);

/* Encodes a message body right after room for the peer_msg envelope header,
 * writes the header in front of it and hands the whole envelope over: one
 * buffer per message, the body never copied (Raft appends are the hot path). */
static void send_body(struct manager *m, const char *to, uint64_t kind, size_t body_max, body_encode_fn encode,
		      const void *obj)
{
	uint8_t hdr[PEER_MSG_ENVELOPE_OVERHEAD];
	size_t len, hlen;
	uint8_t *buf = malloc(PEER_MSG_ENVELOPE_OVERHEAD + body_max);
	uint8_t *body = buf + PEER_MSG_ENVELOPE_OVERHEAD;
	if (buf != NULL && encode(obj, body, body_max, &len) == 0 &&
	    peer_msg_header_encode(kind, len, hdr, sizeof(hdr), &hlen) == 0) {
		memcpy(body - hlen, hdr, hlen);
		m->ops->send(m->data, to, body - hlen, hlen + len);
	}
	free(buf);
}

static int encode_manager_msg(const void *obj, uint8_t *out, size_t cap, size_t *len)
{
	return manager_msg_encode(obj, out, cap, len);
}

static int encode_raft_msg(const void *obj, uint8_t *out, size_t cap, size_t *len)
{
	return raft_msg_encode(obj, out, cap, len);
}

static void send_manager_msg(struct manager *m, const char *to, const struct manager_msg *mm)
{
	send_body(m, to, PEER_MSG_MANAGER, manager_msg_encoded_max(mm), encode_manager_msg, mm);
}

/* Runs the collected completions. */
static void run_done(struct manager *m, struct done_list *done)
{
	while (done->head != NULL) {
		struct wait *w = done->head;
		done->head = w->next;
		switch (w->kind) {
		case WAIT_LOCAL_WRITE:
		case WAIT_FORWARDED:
			w->write_done(w->data, w->status, w->message, w->result_index);
			break;
		case WAIT_PEER_WRITE: {
			struct manager_msg r = { .type = MANAGER_MSG_RESULT, .req = w->req, .status = w->status,
						 .index = w->result_index };
			snprintf(r.message, sizeof(r.message), "%s", w->message);
			send_manager_msg(m, w->peer, &r);
			break;
		}
		case WAIT_READ:
			w->read_done(w->data, w->status);
			break;
		}
		free(w);
	}
}

/* --- stepping the core ------------------------------------------------------------ */

static int manager_step(struct manager *m, struct raft_event *ev, struct raft_update *up_out)
{
	struct raft_update up;
	struct done_list done = { NULL };
	if (m->failed || m->raft == NULL)
		return RAFT_E_INVALID;
	ev->now = uv_now(m->loop);
	int rc = raft_step(m->raft, ev, &up);
	manager_handle(m, &up, &done);
	if (up_out != NULL)
		*up_out = up;
	if (m->in_call > 0)
		defer_done(m, &done);
	else
		run_done(m, &done);
	return rc;
}

static void manager_fail(struct manager *m, const char *why, int status)
{
	if (m->failed)
		return;
	m->failed = true;
	log_error("raft", "the raft log cannot be written; this manager stops taking part in the cluster",
		  LF_STR("error", why), LF_STR("reason", strerror(-status)));
	struct done_list done = { NULL };
	while (m->waits != NULL)
		wait_finish(&m->waits, &done, MANAGER_E_STOPPED, "this manager's raft log failed", 0);
	run_done(m, &done);
}

static void on_persisted(struct wal *wal, uint64_t seq, int status, void *data)
{
	struct manager *m = data;
	if (m->closing)
		return;
	if (status != 0) {
		manager_fail(m, "write failed", status);
		return;
	}
	if (seq <= m->seq_base)
		return; /* the forced configuration: the core did not issue it */
	struct raft_event ev = { .type = RAFT_EV_PERSISTED, .persisted = { .seq = seq - m->seq_base } };
	manager_step(m, &ev, NULL);
}

static void send_raft(struct manager *m, const struct raft_message *msg)
{
	const char *to = node_of(m, msg->to);
	if (to != NULL)
		send_body(m, to, PEER_MSG_RAFT, raft_msg_encoded_max(msg), encode_raft_msg, msg);
}

/* Finishes the writes proposed here for index, now applied with result. */
static void writes_applied(struct manager *m, const struct raft_entry *e, int status, const char *message,
			   struct done_list *done)
{
	for (struct wait **link = &m->waits; *link != NULL;) {
		struct wait *w = *link;
		if ((w->kind != WAIT_LOCAL_WRITE && w->kind != WAIT_PEER_WRITE) || w->index != e->index) {
			link = &w->next;
			continue;
		}
		if (w->term == e->term)
			wait_finish(link, done, status, message, e->index);
		else
			wait_finish(link, done, MANAGER_E_LOST,
				    "leadership changed before the write was committed; retry", 0);
	}
}

static void apply_entry(struct manager *m, const struct raft_entry *e, struct done_list *done)
{
	m->applied = e->index;
	if (e->type != RAFT_ENTRY_NORMAL) {
		writes_applied(m, e, MANAGER_E_LOST, "leadership changed before the write was committed; retry",
			       done);
		return;
	}
	struct store_result res;
	store_apply(m->store, e->index, e->data, e->len, &res);
	writes_applied(m, e, res.code, res.message, done);
}

static void answer_reads(struct manager *m, const struct raft_update *up, struct done_list *done)
{
	for (size_t i = 0; i < up->n_reads; i++) {
		const struct raft_read_result *rr = &up->reads[i];
		for (struct wait **link = &m->waits; *link != NULL; link = &(*link)->next) {
			if ((*link)->kind != WAIT_READ || (*link)->req != rr->req_id)
				continue;
			int status = rr->status == 0 ? 0 : rr->status == RAFT_E_NO_LEADER ? MANAGER_E_NO_LEADER
											 : MANAGER_E_LOST;
			wait_finish(link, done, status, NULL, rr->index);
			break;
		}
	}
}

static void persist(struct manager *m, const struct raft_update *up)
{
	if (up->persist.seq == 0)
		return;
	int rc = wal_write(m->wal, m->seq_base + up->persist.seq, up->persist.hard_state_changed ? &up->persist.hard_state : NULL,
			   up->persist.snapshot, up->persist.snapshot_data, up->persist.snapshot_len,
			   up->persist.entries, up->persist.n_entries, on_persisted, m);
	if (rc != 0)
		manager_fail(m, "write refused", rc);
}

static void restore(struct manager *m, const struct raft_update *up)
{
	char why[256];
	if (up->restore == NULL)
		return;
	int rc = store_restore(m->store, up->restore_data, up->restore_len, why, sizeof(why));
	if (rc != 0) {
		/* The leader's snapshot was checked by its CRC on our disk; a store that
		 * refuses it cannot follow the log any more. */
		manager_fail(m, why, rc);
		return;
	}
	m->applied = up->restore->index;
	log_info("raft", "installed a snapshot from the leader", LF_UINT("index", up->restore->index),
		 LF_UINT("bytes", up->restore_len));
}

static void log_notes(const struct raft_update *up)
{
	for (size_t i = 0; i < up->n_notes; i++) {
		const struct raft_note *n = &up->notes[i];
		switch (n->kind) {
		case RAFT_NOTE_PROMOTING:
			log_info("raft", "a manager caught up and is being promoted to voter", LF_UINT("raft_id", n->id));
			break;
		case RAFT_NOTE_PROMOTE_FAILED:
			log_warn("raft", "promotion failed; it is retried", LF_UINT("raft_id", n->id),
				 LF_STR("reason", raft_strerror(n->status)));
			break;
		case RAFT_NOTE_TRANSFER_FAILED:
			log_warn("raft", "leadership transfer failed", LF_UINT("raft_id", n->id));
			break;
		case RAFT_NOTE_QUORUM_LOST:
			log_warn("raft", "lost contact with a majority of managers; stepping down");
			break;
		}
	}
}

static void leader_update(struct manager *m, const struct raft_update *up)
{
	if (!(up->changed & (RAFT_UPDATE_LEADER | RAFT_UPDATE_ROLE)))
		return;
	const char *node = up->leader != RAFT_NONE ? node_of(m, up->leader) : NULL;
	snprintf(m->leader, sizeof(m->leader), "%s", node ? node : "");
	if (up->changed & RAFT_UPDATE_ROLE)
		log_info("raft", "role changed", LF_STR("role", raft_role_str(up->role)), LF_UINT("term", up->term),
			 LF_STR("leader", m->leader));
	else
		log_info("raft", "leader changed", LF_STR("leader", m->leader), LF_UINT("term", up->term));
	if (m->ops->leader_changed != NULL)
		m->ops->leader_changed(m->data, m->leader, up->term);
}

static void on_tick(uv_timer_t *t)
{
	struct manager *m = t->data;
	struct raft_event ev = { .type = RAFT_EV_TICK };
	manager_step(m, &ev, NULL);
}

static void manager_handle(struct manager *m, const struct raft_update *up, struct done_list *done)
{
	persist(m, up);
	if (up->compacted > 0)
		wal_compact(m->wal, up->compacted);
	for (size_t i = 0; i < up->n_messages; i++)
		send_raft(m, &up->messages[i]);
	restore(m, up);
	for (size_t i = 0; i < up->n_committed; i++)
		apply_entry(m, &up->committed[i], done);
	answer_reads(m, up, done);
	log_notes(up);
	leader_update(m, up);
	if (m->closing || m->failed)
		return;
	uint64_t now = uv_now(m->loop);
	if (up->deadline == UINT64_MAX)
		uv_timer_stop(&m->tick);
	else
		uv_timer_start(&m->tick, on_tick, up->deadline > now ? up->deadline - now : 0, 0);
}

/* --- receiving ---------------------------------------------------------------------- */

/* Raft ids of managers heard from that the configuration does not name yet
 * (a joining manager hears from the leader before its log holds any
 * configuration, and must answer it). */
static void remember_sender(struct manager *m, raft_id id, const char *node)
{
	size_t free_slot = MANAGER_SEEN_MAX;
	for (size_t i = 0; i < MANAGER_SEEN_MAX; i++) {
		if (m->seen[i].id == id) {
			snprintf(m->seen[i].node, sizeof(m->seen[i].node), "%s", node);
			return;
		}
		if (m->seen[i].id == RAFT_NONE && free_slot == MANAGER_SEEN_MAX)
			free_slot = i;
	}
	if (free_slot == MANAGER_SEEN_MAX)
		free_slot = (size_t)(id % MANAGER_SEEN_MAX);
	m->seen[free_slot].id = id;
	snprintf(m->seen[free_slot].node, sizeof(m->seen[free_slot].node), "%s", node);
}

static void receive_raft(struct manager *m, const char *from, const uint8_t *body, size_t len)
{
	struct raft_msg_decoded d;
	char why[RAFT_CODEC_ERR_MAX];
	if (raft_msg_decode(body, len, &d, why, sizeof(why)) != 0) {
		m->bad_msgs++;
		log_debug("raft", "dropped an undecodable raft message", LF_STR("from", from), LF_STR("error", why));
		return;
	}
	/* The stream authenticated the node; the raft id it claims must be its own. */
	const char *known = node_of(m, d.msg.from);
	if (d.msg.to != m->cfg.id || (known != NULL && strcmp(known, from) != 0)) {
		m->bad_msgs++;
		log_debug("raft", "dropped a raft message with a foreign sender or receiver", LF_STR("from", from),
			  LF_UINT("raft_from", d.msg.from), LF_UINT("raft_to", d.msg.to));
		raft_msg_decoded_release(&d);
		return;
	}
	remember_sender(m, d.msg.from, from);
	struct raft_event ev = { .type = RAFT_EV_RECEIVE, .receive = { .msg = &d.msg } };
	manager_step(m, &ev, NULL);
	raft_msg_decoded_release(&d);
}

static void propose_for_peer(struct manager *m, const char *from, const struct manager_msg *mm)
{
	struct raft_buf buf = { .data = mm->txn, .len = mm->txn_len };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose = { .bufs = &buf, .n = 1 } };
	struct raft_update up;
	int rc = manager_step(m, &ev, &up);
	struct wait *w = rc == 0 ? wait_new(m, WAIT_PEER_WRITE) : NULL;
	if (w == NULL) {
		struct manager_msg r = { .type = MANAGER_MSG_RESULT, .req = mm->req, .status = MANAGER_E_NO_LEADER };
		snprintf(r.message, sizeof(r.message), "%s", rc == 0 ? "out of memory" : MANAGER_MSG_NO_LEADER);
		send_manager_msg(m, from, &r);
		return;
	}
	w->index = up.proposed_index;
	w->term = up.proposed_term;
	w->req = mm->req;
	snprintf(w->peer, sizeof(w->peer), "%s", from);
	wait_link(m, w);
}

static void forwarded_result(struct manager *m, const struct manager_msg *mm)
{
	struct done_list done = { NULL };
	for (struct wait **link = &m->waits; *link != NULL; link = &(*link)->next) {
		if ((*link)->kind == WAIT_FORWARDED && (*link)->req == mm->req) {
			wait_finish(link, &done, (int)mm->status, mm->message, mm->index);
			break;
		}
	}
	run_done(m, &done);
}

/* On the leader: a manager asks to be a member under raft id. Each step
 * answers one request; the joiner repeats JOIN until it is a voter. */
static void join_request(struct manager *m, const char *from, raft_id id)
{
	const struct raft_member *mem = member_by_node(m, from);
	struct raft_event ev = { .type = RAFT_EV_CHANGE, .change = { .id = id, .node_id = from } };
	if (mem != NULL && mem->id == id && mem->role == RAFT_VOTER)
		return;
	if (mem != NULL && mem->id != id) {
		/* The node lost its data and came back under a new raft id. */
		ev.change.kind = RAFT_CHANGE_REMOVE;
		ev.change.id = mem->id;
	} else {
		ev.change.kind = mem == NULL ? RAFT_CHANGE_ADD_LEARNER : RAFT_CHANGE_PROMOTE;
	}
	int rc = manager_step(m, &ev, NULL);
	if (rc == 0)
		log_info("raft", ev.change.kind == RAFT_CHANGE_ADD_LEARNER ? "adding a manager as a learner"
				 : ev.change.kind == RAFT_CHANGE_PROMOTE ? "promoting a learner once caught up"
									 : "removing a manager's old raft id",
			 LF_STR("node", from), LF_UINT("raft_id", ev.change.id));
}

static void receive_manager(struct manager *m, const char *from, const uint8_t *body, size_t len)
{
	struct manager_msg mm;
	char why[160];
	if (manager_msg_decode(body, len, &mm, why, sizeof(why)) != 0) {
		m->bad_msgs++;
		log_debug("raft", "dropped an undecodable manager message", LF_STR("from", from), LF_STR("error", why));
		return;
	}
	bool leader = raft_role(m->raft) == RAFT_LEADER;
	switch (mm.type) {
	case MANAGER_MSG_FORWARD:
		if (leader) {
			propose_for_peer(m, from, &mm);
		} else {
			struct manager_msg r = { .type = MANAGER_MSG_RESULT, .req = mm.req,
						 .status = MANAGER_E_NO_LEADER };
			snprintf(r.message, sizeof(r.message), "%s", "this manager is no longer the leader; retry");
			send_manager_msg(m, from, &r);
		}
		break;
	case MANAGER_MSG_RESULT:
		forwarded_result(m, &mm);
		break;
	case MANAGER_MSG_JOIN:
		if (leader)
			join_request(m, from, mm.raft_id);
		break;
	}
}

void manager_receive(struct manager *m, const char *from, uint64_t kind, const uint8_t *body, size_t len)
{
	if (m->closing || m->failed || m->raft == NULL)
		return;
	if (kind == PEER_MSG_RAFT)
		receive_raft(m, from, body, len);
	else if (kind == PEER_MSG_MANAGER)
		receive_manager(m, from, body, len);
}

void manager_link_down(struct manager *m, const char *node_id)
{
	if (m->closing || m->failed || m->raft == NULL)
		return;
	const struct raft_member *mem = member_by_node(m, node_id);
	if (mem == NULL || mem->id == m->cfg.id)
		return;
	struct raft_event ev = { .type = RAFT_EV_UNREACHABLE, .unreachable = { .peer = mem->id } };
	manager_step(m, &ev, NULL);
}

/* --- writes and reads ----------------------------------------------------------- */

/* Completions that must not run inside the caller's call (manager_write and
 * manager_read promise never to call back before they return) run from
 * m->later on the next loop iteration. */
static void on_later(uv_timer_t *t)
{
	struct manager *m = t->data;
	struct done_list done = { NULL };
	/* Oldest first: the list was built by pushing at the head. */
	while (m->later != NULL) {
		struct wait *w = m->later;
		m->later = w->next;
		w->next = done.head;
		done.head = w;
	}
	run_done(m, &done);
}

static void defer_done(struct manager *m, struct done_list *done)
{
	while (done->head != NULL) {
		struct wait *w = done->head;
		done->head = w->next;
		w->next = m->later;
		m->later = w;
	}
	uv_timer_start(&m->later_timer, on_later, 0, 0);
}

static void finish_later(struct manager *m, struct wait *w, int status, const char *message)
{
	struct done_list done = { NULL };
	w->next = NULL;
	struct wait *link = w;
	wait_finish(&link, &done, status, message, 0);
	defer_done(m, &done);
}

int manager_write(struct manager *m, const uint8_t *txn, size_t len, manager_write_fn done, void *data)
{
	if (m->closing || m->failed || m->raft == NULL)
		return MANAGER_E_STOPPED;
	if (len == 0 || len > MANAGER_MSG_TXN_MAX)
		return STORE_E_TOO_BIG;
	struct wait *w = wait_new(m, WAIT_LOCAL_WRITE);
	if (w == NULL)
		return -ENOMEM;
	w->write_done = done;
	w->data = data;
	if (raft_role(m->raft) == RAFT_LEADER) {
		struct raft_buf buf = { .data = txn, .len = len };
		struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose = { .bufs = &buf, .n = 1 } };
		struct raft_update up;
		m->in_call++;
		int rc = manager_step(m, &ev, &up);
		m->in_call--;
		if (rc != 0) {
			finish_later(m, w, rc == RAFT_E_BUSY ? MANAGER_E_LOST : MANAGER_E_NO_LEADER,
				     rc == RAFT_E_BUSY ? "leadership is being transferred; retry" : raft_strerror(rc));
			return 0;
		}
		w->index = up.proposed_index;
		w->term = up.proposed_term;
		wait_link(m, w);
		return 0;
	}
	if (m->leader[0] == '\0') {
		finish_later(m, w, MANAGER_E_NO_LEADER, MANAGER_MSG_NO_LEADER);
		return 0;
	}
	w->kind = WAIT_FORWARDED;
	w->req = ++m->next_req;
	struct manager_msg mm = { .type = MANAGER_MSG_FORWARD, .req = w->req, .txn = txn, .txn_len = len };
	wait_link(m, w);
	send_manager_msg(m, m->leader, &mm);
	return 0;
}

int manager_read(struct manager *m, manager_read_fn done, void *data)
{
	if (m->closing || m->failed || m->raft == NULL)
		return MANAGER_E_STOPPED;
	struct wait *w = wait_new(m, WAIT_READ);
	if (w == NULL)
		return -ENOMEM;
	w->read_done = done;
	w->data = data;
	w->req = ++m->next_req;
	/* Linked before the step: a leader alone may answer in the same update. */
	wait_link(m, w);
	struct raft_event ev = { .type = RAFT_EV_READ, .read = { .req_id = w->req } };
	m->in_call++;
	manager_step(m, &ev, NULL);
	m->in_call--;
	return 0;
}

/* --- the sweep: timeouts, joining, snapshots ---------------------------------------- */

static void expire_waits(struct manager *m)
{
	struct done_list done = { NULL };
	uint64_t now = uv_now(m->loop);
	for (struct wait **link = &m->waits; *link != NULL;) {
		if ((*link)->deadline > now) {
			link = &(*link)->next;
			continue;
		}
		wait_finish(link, &done, MANAGER_E_TIMEDOUT,
			    "the managers did not answer in time; the write may or may not have applied", 0);
	}
	run_done(m, &done);
}

/* A manager that is not yet a voter asks every manager it knows to add it. */
static void ask_to_join(struct manager *m)
{
	const struct raft_member *self = member_by_node(m, m->cfg.node_id);
	if (self != NULL && self->id == m->cfg.id && self->role == RAFT_VOTER)
		return;
	char peers[RAFT_MAX_MEMBERS][IDS_LEN + 1];
	size_t n = m->ops->managers(m->data, peers, RAFT_MAX_MEMBERS);
	struct manager_msg mm = { .type = MANAGER_MSG_JOIN, .raft_id = m->cfg.id };
	for (size_t i = 0; i < n; i++)
		send_manager_msg(m, peers[i], &mm);
}

struct snapshot_job {
	struct manager *m;
	uint64_t index;
	uint8_t *data;
	size_t len;
};

static void on_snapshot_saved(struct wal *wal, uint64_t seq, int status, void *data)
{
	struct snapshot_job *job = data;
	struct manager *m = job->m;
	m->snapshotting = false;
	if (status == 0 && !m->closing && !m->failed) {
		struct raft_event ev = { .type = RAFT_EV_SNAPSHOT,
					 .snapshot = { .index = job->index, .data = job->data, .len = job->len,
						       .trailing = MANAGER_SNAPSHOT_EVERY / 4 } };
		if (manager_step(m, &ev, NULL) == 0) {
			m->snap_index = job->index;
			log_info("raft", "took a snapshot of the store", LF_UINT("index", job->index),
				 LF_UINT("bytes", job->len));
		}
	} else if (status != 0) {
		log_warn("raft", "could not write a snapshot; the log keeps growing until the next try",
			 LF_STR("error", strerror(-status)));
	}
	free(job->data);
	free(job);
}

static void maybe_snapshot(struct manager *m)
{
	if (m->snapshotting || m->applied < m->snap_index + MANAGER_SNAPSHOT_EVERY)
		return;
	struct raft_snapshot_meta meta;
	struct snapshot_job *job = calloc(1, sizeof(*job));
	if (job == NULL || raft_snapshot_meta_at(m->raft, m->applied, &meta) != 0 ||
	    store_snapshot(m->store, &job->data, &job->len) != 0) {
		free(job);
		return;
	}
	job->m = m;
	job->index = m->applied;
	if (wal_save_snapshot(m->wal, &meta, job->data, job->len, on_snapshot_saved, job) != 0) {
		free(job->data);
		free(job);
		return;
	}
	m->snapshotting = true;
}

static void on_sweep(uv_timer_t *t)
{
	struct manager *m = t->data;
	if (m->closing || m->failed || m->raft == NULL)
		return;
	expire_waits(m);
	if (++m->sweeps % 2 == 0)
		ask_to_join(m);
	maybe_snapshot(m);
}

/* --- start and stop ---------------------------------------------------------------- */

static int start_core(struct manager *m, const struct wal_boot *boot, char *err, size_t errlen)
{
	struct raft_config rc;
	char why[256];
	raft_config_default(&rc);
	rc.id = m->cfg.id;
	rc.seed = m->cfg.seed;
	if (m->cfg.election_timeout_ms != 0)
		rc.election_timeout_ms = m->cfg.election_timeout_ms;
	if (m->cfg.heartbeat_interval_ms != 0)
		rc.heartbeat_interval_ms = m->cfg.heartbeat_interval_ms;
	if (boot->has_snapshot) {
		int r = store_restore(m->store, boot->snap_data, boot->snap_len, why, sizeof(why));
		if (r != 0) {
			snprintf(err, errlen, "%s: snapshot at index %" PRIu64 ": %s", m->dir, boot->snap.index, why);
			return r;
		}
		m->applied = m->snap_index = boot->snap.index;
	}
	struct raft_boot rb = { .hs = boot->hs,
				.snap = boot->has_snapshot ? &boot->snap : NULL,
				.snap_data = boot->snap_data,
				.snap_len = boot->snap_len,
				.entries = boot->entries,
				.n_entries = boot->n_entries };
	int r = raft_new(&rc, &rb, uv_now(m->loop), &m->raft, why, sizeof(why));
	if (r != 0) {
		snprintf(err, errlen, "%s: %s: %s", m->dir, raft_strerror(r), why);
		return r == RAFT_E_NOMEM ? -ENOMEM : -EINVAL;
	}
	log_info("raft", "manager started", LF_UINT("raft_id", m->cfg.id), LF_UINT("term", boot->hs.term),
		 LF_UINT("snapshot", boot->has_snapshot ? boot->snap.index : 0), LF_UINT("entries", boot->n_entries));
	struct raft_event ev = { .type = RAFT_EV_TICK };
	manager_step(m, &ev, NULL);
	return 0;
}

/* `init`: the first entry of a new cluster, written before the core starts. */
static void on_bootstrapped(struct wal *wal, uint64_t seq, int status, void *data)
{
	struct manager *m = data;
	char err[512];
	if (m->closing)
		return;
	if (status != 0) {
		manager_fail(m, "bootstrap write failed", status);
		return;
	}
	struct wal_boot boot;
	memset(&boot, 0, sizeof(boot));
	boot.hs = m->boot_hs;
	boot.entries = &m->boot_entry;
	boot.n_entries = 1;
	if (start_core(m, &boot, err, sizeof(err)) != 0)
		manager_fail(m, err, -EINVAL);
}

static int bootstrap(struct manager *m, char *err, size_t errlen)
{
	struct raft_configuration conf = { .n = 1 };
	conf.members[0].id = m->cfg.id;
	conf.members[0].role = RAFT_VOTER;
	snprintf(conf.members[0].node_id, sizeof(conf.members[0].node_id), "%s", m->cfg.node_id);
	int rc = raft_bootstrap(&conf, &m->boot_hs, &m->boot_entry, m->boot_buf, sizeof(m->boot_buf));
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot make the first raft entry: %s", m->dir, raft_strerror(rc));
		return -EINVAL;
	}
	rc = wal_write(m->wal, 1, &m->boot_hs, NULL, NULL, 0, &m->boot_entry, 1, on_bootstrapped, m);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot write the first raft entry: %s", m->dir, strerror(-rc));
		return rc;
	}
	m->seq_base = 1;
	return 0;
}

static bool boot_is_empty(const struct wal_boot *b)
{
	return b->hs.term == 0 && !b->has_snapshot && b->n_entries == 0;
}

/* `init --force-new-cluster` (Docker's recovery from a lost quorum): the log
 * stays, and a configuration of this node alone is appended in a new term,
 * with the vote for itself. The core starts at once from the log plus that
 * entry: its own writes are numbered after this one and the wal completes
 * writes in order, so nothing it acknowledges can be durable without it. */
static int force_new_cluster(struct manager *m, struct wal_boot *boot, char *err, size_t errlen)
{
	struct raft_configuration conf = { .n = 1 };
	conf.members[0].id = m->cfg.id;
	conf.members[0].role = RAFT_VOTER;
	snprintf(conf.members[0].node_id, sizeof(conf.members[0].node_id), "%s", m->cfg.node_id);
	size_t len;
	uint64_t last_index = boot->has_snapshot ? boot->snap.index : 0, last_term = boot->hs.term;
	if (boot->n_entries > 0) {
		last_index = boot->entries[boot->n_entries - 1].index;
		if (boot->entries[boot->n_entries - 1].term > last_term)
			last_term = boot->entries[boot->n_entries - 1].term;
	}
	if (raft_configuration_encode(&conf, m->boot_buf, sizeof(m->boot_buf), &len) != 0)
		return snprintf(err, errlen, "cannot encode the new configuration"), -EINVAL;
	m->boot_hs = (struct raft_hard_state){ .term = last_term + 1, .vote = m->cfg.id };
	m->boot_entry = (struct raft_entry){ .term = last_term + 1, .index = last_index + 1,
					     .type = RAFT_ENTRY_CONFIG, .data = m->boot_buf, .len = len };
	struct raft_entry *all = malloc((boot->n_entries + 1) * sizeof(*all));
	if (all == NULL)
		return -ENOMEM;
	memcpy(all, boot->entries, boot->n_entries * sizeof(*all));
	all[boot->n_entries] = m->boot_entry;
	int rc = wal_write(m->wal, 1, &m->boot_hs, NULL, NULL, 0, &m->boot_entry, 1, on_persisted, m);
	if (rc != 0) {
		free(all);
		return snprintf(err, errlen, "%s: cannot write the new configuration: %s", m->dir, strerror(-rc)), rc;
	}
	m->seq_base = 1;
	struct wal_boot forced = *boot;
	forced.hs = m->boot_hs;
	forced.entries = all;
	forced.n_entries = boot->n_entries + 1;
	log_warn("raft", "forcing a new cluster: this manager is now the only voter; other managers must join again",
		 LF_UINT("term", m->boot_hs.term), LF_UINT("index", m->boot_entry.index));
	rc = start_core(m, &forced, err, errlen);
	free(all);
	return rc;
}

int manager_start(uv_loop_t *loop, const struct manager_config *cfg, const struct manager_ops *ops, void *data,
		  struct manager **out, char *err, size_t errlen)
{
	struct manager *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->loop = loop;
	m->cfg = *cfg;
	snprintf(m->dir, sizeof(m->dir), "%s", cfg->dir);
	m->cfg.dir = m->dir;
	m->ops = ops;
	m->data = data;
	m->store = store_new();
	if (m->store == NULL) {
		free(m);
		return -ENOMEM;
	}
	struct wal_boot boot;
	int rc = wal_open(loop, m->dir, NULL, &m->wal, &boot, err, errlen);
	if (rc != 0) {
		store_free(m->store);
		free(m);
		return rc;
	}
	if (boot.repaired)
		log_warn("raft", "the raft log had a torn tail (a crash during a write); it was cut",
			 LF_STR("repair", boot.note));
	uv_timer_init(loop, &m->tick);
	uv_timer_init(loop, &m->sweep);
	uv_timer_init(loop, &m->later_timer);
	m->tick.data = m->sweep.data = m->later_timer.data = m;
	if (cfg->bootstrap && boot_is_empty(&boot))
		rc = bootstrap(m, err, errlen);
	else if (cfg->force_new_cluster && !boot_is_empty(&boot))
		rc = force_new_cluster(m, &boot, err, errlen);
	else
		rc = start_core(m, &boot, err, errlen);
	wal_boot_release(m->wal, &boot);
	if (rc != 0) {
		manager_close(m, NULL, NULL);
		return rc;
	}
	uv_timer_start(&m->sweep, on_sweep, MANAGER_SWEEP_MS, MANAGER_SWEEP_MS);
	*out = m;
	return 0;
}

static void manager_free(struct manager *m)
{
	raft_free(m->raft);
	store_free(m->store);
	if (m->closed != NULL)
		m->closed(m->closed_data);
	free(m);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct manager *m = h->data;
	if (--m->open_handles == 0 && m->wal == NULL)
		manager_free(m);
}

static void on_wal_closed(void *data)
{
	struct manager *m = data;
	m->wal = NULL;
	if (m->open_handles == 0)
		manager_free(m);
}

void manager_close(struct manager *m, void (*closed)(void *data), void *data)
{
	m->closing = true;
	m->closed = closed;
	m->closed_data = data;
	struct done_list done = { NULL };
	while (m->waits != NULL)
		wait_finish(&m->waits, &done, MANAGER_E_STOPPED, "this manager is shutting down", 0);
	while (m->later != NULL) {
		struct wait *w = m->later;
		m->later = w->next;
		w->next = done.head;
		done.head = w;
	}
	run_done(m, &done);
	uv_handle_t *handles[] = { (uv_handle_t *)&m->tick, (uv_handle_t *)&m->sweep,
				   (uv_handle_t *)&m->later_timer };
	for (size_t i = 0; i < 3; i++) {
		m->open_handles++;
		uv_close(handles[i], on_handle_closed);
	}
	wal_close(m->wal, on_wal_closed, m);
}

/* --- membership changes the node asks for -------------------------------------------- */

int manager_transfer(struct manager *m)
{
	if (m->closing || m->failed || m->raft == NULL)
		return RAFT_E_NOT_LEADER;
	struct raft_event ev = { .type = RAFT_EV_TRANSFER, .transfer = { .to = RAFT_NONE } };
	int rc = manager_step(m, &ev, NULL);
	if (rc == 0)
		log_info("raft", "handing leadership to another manager");
	return rc;
}

int manager_remove(struct manager *m, const char *node_id)
{
	if (m->closing || m->failed || m->raft == NULL)
		return RAFT_E_NOT_LEADER;
	const struct raft_member *mem = member_by_node(m, node_id);
	if (mem == NULL)
		return RAFT_E_NOT_FOUND;
	struct raft_event ev = { .type = RAFT_EV_CHANGE,
				 .change = { .kind = RAFT_CHANGE_REMOVE, .id = mem->id } };
	int rc = manager_step(m, &ev, NULL);
	if (rc == 0)
		log_info("raft", "removing a manager from the configuration", LF_STR("node", node_id),
			 LF_UINT("raft_id", ev.change.id));
	return rc;
}

/* --- queries ------------------------------------------------------------------------- */

const struct store *manager_store(const struct manager *m)
{
	return m->store;
}

struct store *manager_store_watchable(struct manager *m)
{
	return m->store;
}

void manager_status(const struct manager *m, struct manager_status *out)
{
	memset(out, 0, sizeof(*out));
	out->applied = m->applied;
	out->bad_msgs = m->bad_msgs;
	snprintf(out->leader, sizeof(out->leader), "%s", m->leader);
	out->quorum = m->leader[0] != '\0';
	if (m->raft == NULL)
		return;
	out->role = raft_role(m->raft);
	out->term = raft_term(m->raft);
	out->commit = raft_commit_index(m->raft);
	struct raft_peer_status peers[RAFT_MAX_MEMBERS];
	size_t np = raft_peers(m->raft, peers, RAFT_MAX_MEMBERS);
	const struct raft_configuration *c = raft_configuration(m->raft, NULL);
	raft_id leader = raft_leader(m->raft);
	for (uint32_t i = 0; i < c->n && out->n < RAFT_MAX_MEMBERS; i++) {
		struct manager_member *mm = &out->members[out->n++];
		mm->id = c->members[i].id;
		snprintf(mm->node_id, sizeof(mm->node_id), "%s", c->members[i].node_id);
		mm->voter = c->members[i].role == RAFT_VOTER;
		mm->leader = mm->id == leader;
		/* Only a leader hears from everyone; elsewhere assume reachable. */
		mm->reachable = mm->id == m->cfg.id || mm->leader || np == 0;
		for (size_t k = 0; k < np; k++)
			if (peers[k].id == mm->id)
				mm->reachable = peers[k].reachable;
	}
}

int manager_wipe(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	char path[4096 + 256];
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0 && errno != ENOENT)
			rc = -errno;
	}
	closedir(d);
	if (rc == 0 && rmdir(dir) != 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}
