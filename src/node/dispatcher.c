/* dispatcher: the manager side of dispatch (see dispatcher.h and the protocol in dispatch_msg.h). */
#include "swarmnode/dispatcher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/dispatch_msg.h"
#include "swarmnode/log.h"
#include "swarmnode/runtime.h"

/* A task as the agent last heard of it. */
struct sent_task {
	char id[IDS_LEN + 1];
	int desired; /* the DesiredState sent */
};

/* A reported status the dispatcher holds until it is written: owns its ports. */
struct held_status {
	struct dispatch_update u;
	struct dispatch_port *ports;
};

struct write_ctx;

/* One agent served. */
struct session {
	char node_id[IDS_LEN + 1];
	uint64_t session;              /* the agent's number */
	uint64_t seq;                  /* last ASSIGNMENTS seq sent */
	struct sent_task *sent;        /* the tasks the agent has */
	size_t nsent, sent_cap;
	struct held_status *pending;   /* reported, not yet in a write */
	size_t npending, pending_cap;
	uint64_t pending_seq;          /* the last STATUS seq merged into pending */
	struct write_ctx *inflight;    /* the write in flight, or NULL */
};

/* A transaction in flight for one session. */
struct write_ctx {
	struct dispatcher *d;          /* NULL once the dispatcher closed */
	struct write_ctx *next;        /* in d->writes */
	char node_id[IDS_LEN + 1];
	uint64_t session;
	uint64_t ack_seq;              /* acknowledged when this write is the last one needed */
	struct held_status *st;        /* what it writes (owned) */
	size_t n;
	int attempts;
	size_t written;                /* updates the transaction carried */
};

struct dispatcher {
	struct store *store;
	const struct dispatcher_ops *ops;
	void *data;
	struct session **sessions;
	size_t nsessions, cap;
	struct write_ctx *writes;      /* every write in flight */
	struct dispatcher_info info;
};

int dispatcher_state_parse(const char *name)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "remove") == 0)
		return RUNTIME_STATE_SHUTDOWN;
	for (int s = 0; s < RUNTIME_STATE__COUNT; s++)
		if (strcmp(name, runtime_state_name((enum runtime_state)s)) == 0)
			return s;
	return -1;
}

static const char *json_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static int task_state(const json_t *task)
{
	return dispatcher_state_parse(json_string_value(json_object_get(json_object_get(task, "Status"), "State")));
}

/* The task belongs to node_id's agent: its node, and scheduled there. */
static bool task_on_node(const json_t *task, const char *node_id)
{
	return task != NULL && strcmp(json_str(task, "NodeID"), node_id) == 0 &&
	       task_state(task) >= RUNTIME_STATE_ASSIGNED;
}

static int task_desired(const json_t *task)
{
	int s = dispatcher_state_parse(json_string_value(json_object_get(task, "DesiredState")));
	return s < 0 ? RUNTIME_STATE_SHUTDOWN : s; /* unknown: do not run it */
}

/* --- sessions ------------------------------------------------------------------- */

static struct session *session_find(const struct dispatcher *d, const char *node_id, size_t *at)
{
	for (size_t i = 0; i < d->nsessions; i++) {
		if (strcmp(d->sessions[i]->node_id, node_id) == 0) {
			if (at)
				*at = i;
			return d->sessions[i];
		}
	}
	return NULL;
}

static void held_free(struct held_status *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].ports);
	free(h);
}

static void session_free(struct session *s)
{
	if (s->inflight)
		s->inflight->session = 0; /* its ACK has no session to go to */
	held_free(s->pending, s->npending);
	free(s->sent);
	free(s);
}

static struct session *session_add(struct dispatcher *d, const char *node_id)
{
	if (d->nsessions == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct session **p = realloc(d->sessions, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		d->sessions = p;
		d->cap = cap;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	snprintf(s->node_id, sizeof(s->node_id), "%s", node_id);
	d->sessions[d->nsessions++] = s;
	return s;
}

static struct sent_task *sent_find(struct session *s, const char *id)
{
	for (size_t i = 0; i < s->nsent; i++)
		if (strcmp(s->sent[i].id, id) == 0)
			return &s->sent[i];
	return NULL;
}

static int sent_put(struct session *s, const char *id, int desired)
{
	struct sent_task *t = sent_find(s, id);
	if (t == NULL) {
		if (s->nsent == s->sent_cap) {
			size_t cap = s->sent_cap ? s->sent_cap * 2 : 16;
			struct sent_task *p = realloc(s->sent, cap * sizeof(*p));
			if (p == NULL)
				return -ENOMEM;
			s->sent = p;
			s->sent_cap = cap;
		}
		t = &s->sent[s->nsent++];
		snprintf(t->id, sizeof(t->id), "%s", id);
	}
	t->desired = desired;
	return 0;
}

static void sent_remove(struct session *s, const char *id)
{
	struct sent_task *t = sent_find(s, id);
	if (t != NULL)
		*t = s->sent[--s->nsent];
}

/* --- assignments ---------------------------------------------------------------- */

/* An ASSIGNMENTS message being filled; it owns the specs and ports of its tasks. */
struct outbox {
	struct dispatcher *d;
	struct session *s;
	uint32_t flags;                /* FULL_BEGIN still to send on the first message */
	struct dispatch_task *tasks;
	char **specs;                  /* tasks[i].spec, malloc'd */
	struct dispatch_port **ports;  /* tasks[i].ports, malloc'd */
	size_t ntasks;
	char (*removed)[IDS_LEN + 1];
	size_t nremoved;
	size_t size;                   /* encoded size bound so far */
	bool sent_any;
};

static int outbox_init(struct outbox *o, struct dispatcher *d, struct session *s, uint32_t flags)
{
	memset(o, 0, sizeof(*o));
	o->d = d;
	o->s = s;
	o->flags = flags;
	o->size = 64;
	o->tasks = calloc(DISPATCH_TASKS_MAX, sizeof(*o->tasks));
	o->specs = calloc(DISPATCH_TASKS_MAX, sizeof(*o->specs));
	o->ports = calloc(DISPATCH_TASKS_MAX, sizeof(*o->ports));
	o->removed = calloc(DISPATCH_REMOVED_MAX, sizeof(*o->removed));
	if (o->tasks == NULL || o->specs == NULL || o->ports == NULL || o->removed == NULL)
		return -ENOMEM;
	return 0;
}

static void outbox_clear(struct outbox *o)
{
	for (size_t i = 0; i < o->ntasks; i++) {
		free(o->specs[i]);
		free(o->ports[i]);
	}
	o->ntasks = o->nremoved = 0;
	o->size = 64;
}

static void outbox_free(struct outbox *o)
{
	outbox_clear(o);
	free(o->tasks);
	free(o->specs);
	free(o->ports);
	free(o->removed);
}

/* Sends what the outbox holds (with FULL_END when last and a full set). */
static void outbox_send(struct outbox *o, bool last)
{
	struct dispatch_msg m = { .type = DISPATCH_ASSIGNMENTS, .session = o->s->session, .seq = o->s->seq + 1,
				  .tasks = o->tasks, .ntasks = o->ntasks, .removed = o->removed,
				  .nremoved = o->nremoved };
	bool full = (o->flags & DISPATCH_FULL_END) != 0;
	if (!last && o->ntasks == 0 && o->nremoved == 0)
		return;
	if (last && !full && o->ntasks == 0 && o->nremoved == 0)
		return; /* no change to tell */
	m.flags = (o->sent_any ? 0 : (o->flags & DISPATCH_FULL_BEGIN)) | (last && full ? DISPATCH_FULL_END : 0);
	size_t cap = dispatch_msg_encoded_max(&m), len;
	uint8_t *buf = malloc(cap);
	int rc = buf ? dispatch_msg_encode(&m, buf, cap, &len) : -ENOMEM;
	if (rc == 0)
		rc = o->d->ops->send(o->d->data, o->s->node_id, buf, len);
	free(buf);
	/* The sequence moves on even when sending failed: the agent sees the
	 * gap and opens a new session, which resends everything. */
	o->s->seq++;
	o->sent_any = true;
	if (rc != 0)
		log_warn("dispatcher", "cannot send assignments", LF_STR("node", o->s->node_id), LF_INT("error", rc));
	outbox_clear(o);
}

/* The ports a task publishes: its service's allocated ones, else its spec's. */
static json_t *service_ports(const struct dispatcher *d, const json_t *task)
{
	json_t *svc = store_get(d->store, STORE_KIND_SERVICE, json_str(task, "ServiceID"));
	json_t *ports = json_object_get(json_object_get(svc, "Endpoint"), "Ports");
	if (!json_is_array(ports))
		ports = json_object_get(json_object_get(json_object_get(svc, "Spec"), "EndpointSpec"), "Ports");
	return json_is_array(ports) ? ports : NULL;
}

static size_t task_ports(const struct dispatcher *d, const json_t *task, struct dispatch_port **out)
{
	json_t *ports = service_ports(d, task), *p;
	size_t i, n = 0;
	*out = NULL;
	if (ports == NULL || json_array_size(ports) == 0 ||
	    (*out = calloc(json_array_size(ports), sizeof(**out))) == NULL)
		return 0;
	json_array_foreach(ports, i, p) {
		json_int_t target = json_integer_value(json_object_get(p, "TargetPort"));
		json_int_t published = json_integer_value(json_object_get(p, "PublishedPort"));
		if (target < 1 || target > 65535 || published < 0 || published > 65535 || n == DISPATCH_PORTS_MAX)
			continue; /* the API validated it; not a port we can give */
		(*out)[n].target = (uint32_t)target;
		(*out)[n].published = (uint32_t)published;
		(*out)[n].protocol = strcmp(json_str(p, "Protocol"), "udp") == 0 ? RUNTIME_PROTO_UDP : RUNTIME_PROTO_TCP;
		(*out)[n].mode = strcmp(json_str(p, "PublishMode"), "host") == 0 ? RUNTIME_PUBLISH_HOST
										 : RUNTIME_PUBLISH_INGRESS;
		n++;
	}
	return n;
}

static const char *task_service_name(const struct dispatcher *d, const json_t *task)
{
	const char *name = json_str(json_object_get(task, "ServiceAnnotations"), "Name");
	if (*name == '\0')
		name = json_str(json_object_get(store_get(d->store, STORE_KIND_SERVICE, json_str(task, "ServiceID")),
						"Spec"),
				"Name");
	return name;
}

/* Fills tasks[o->ntasks] from a store task. Returns 0, or -EINVAL for a task
 * that cannot be sent (logged; its agent never hears of it). */
static int outbox_fill_task(struct outbox *o, const json_t *task)
{
	struct dispatch_task *t = &o->tasks[o->ntasks];
	const char *service_id = json_str(task, "ServiceID");
	json_t *spec = json_object_get(task, "Spec");
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", json_str(task, "ID"));
	snprintf(t->service_id, sizeof(t->service_id), "%s", ids_valid(service_id) ? service_id : "");
	snprintf(t->service_name, sizeof(t->service_name), "%s", task_service_name(o->d, task));
	t->version = (uint64_t)json_integer_value(json_object_get(json_object_get(task, "Version"), "Index"));
	t->state = (uint8_t)task_state(task);
	t->desired = (uint8_t)task_desired(task);
	json_int_t slot = json_integer_value(json_object_get(task, "Slot"));
	t->slot = slot > 0 ? (uint64_t)slot : 0;
	char *dump = json_is_object(spec) ? json_dumps(spec, JSON_COMPACT) : NULL;
	if (dump == NULL || strlen(dump) > DISPATCH_SPEC_MAX) {
		log_warn("dispatcher", "task spec missing or too large to dispatch", LF_STR("task", t->id));
		free(dump);
		return -EINVAL;
	}
	o->specs[o->ntasks] = dump;
	t->spec = (const uint8_t *)dump;
	t->spec_len = strlen(dump);
	t->nports = task_ports(o->d, task, &o->ports[o->ntasks]);
	t->ports = o->ports[o->ntasks];
	return 0;
}

static void outbox_add_task(struct outbox *o, const json_t *task)
{
	if (outbox_fill_task(o, task) != 0)
		return;
	size_t one = dispatch_task_encoded_max(&o->tasks[o->ntasks]);
	if (o->size + one > DISPATCH_MSG_MAX) {
		/* Send what is there first; this task then starts the next message. */
		free(o->specs[o->ntasks]);
		free(o->ports[o->ntasks]);
		outbox_send(o, false);
		if (outbox_fill_task(o, task) != 0)
			return;
	}
	o->ntasks++;
	o->size += one;
	if (sent_put(o->s, json_str(task, "ID"), task_desired(task)) != 0)
		log_error("dispatcher", "out of memory: assignment not remembered", LF_STR("node", o->s->node_id));
	if (o->ntasks == DISPATCH_TASKS_MAX)
		outbox_send(o, false);
}

static void outbox_add_removed(struct outbox *o, const char *id)
{
	if (o->size + 1 + IDS_LEN > DISPATCH_MSG_MAX || o->nremoved == DISPATCH_REMOVED_MAX)
		outbox_send(o, false);
	snprintf(o->removed[o->nremoved++], IDS_LEN + 1, "%s", id);
	o->size += 1 + IDS_LEN;
	sent_remove(o->s, id);
}

/* Sends the whole set of s's tasks, forgetting what was sent before. */
static void session_send_full(struct dispatcher *d, struct session *s)
{
	struct outbox o;
	s->nsent = 0;
	if (outbox_init(&o, d, s, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END) != 0) {
		log_error("dispatcher", "out of memory: no assignments sent", LF_STR("node", s->node_id));
		outbox_free(&o);
		return;
	}
	size_t n = store_tasks_by_node(d->store, s->node_id, NULL, 0);
	json_t **tasks = n ? malloc(n * sizeof(*tasks)) : NULL;
	if (n && tasks == NULL) {
		log_error("dispatcher", "out of memory: no assignments sent", LF_STR("node", s->node_id));
		outbox_free(&o);
		return;
	}
	store_tasks_by_node(d->store, s->node_id, tasks, n);
	for (size_t i = 0; i < n; i++)
		if (task_on_node(tasks[i], s->node_id))
			outbox_add_task(&o, tasks[i]);
	free(tasks);
	outbox_send(&o, true);
	outbox_free(&o);
}

/* What one session must hear of a store event. */
static void session_send_changes(struct dispatcher *d, struct session *s, const struct store_event *ev)
{
	struct outbox o;
	bool ready = false;
	for (size_t i = 0; i < ev->n_changes; i++) {
		const struct store_change *c = &ev->changes[i];
		if (c->kind != STORE_KIND_TASK)
			continue;
		const json_t *obj = c->new_obj ? c->new_obj : c->old_obj;
		const char *id = json_str(obj, "ID");
		bool wanted = task_on_node(c->new_obj, s->node_id);
		struct sent_task *had = sent_find(s, id);
		if ((wanted && had && had->desired == task_desired(c->new_obj)) || (!wanted && !had))
			continue;
		if (!ready) {
			if (outbox_init(&o, d, s, 0) != 0) {
				outbox_free(&o);
				log_error("dispatcher", "out of memory: resending everything", LF_STR("node", s->node_id));
				session_send_full(d, s);
				return;
			}
			ready = true;
		}
		if (wanted)
			outbox_add_task(&o, c->new_obj);
		else
			outbox_add_removed(&o, id);
	}
	if (ready) {
		outbox_send(&o, true);
		outbox_free(&o);
	}
}

static void dispatcher_on_store(void *data, const struct store_event *ev)
{
	struct dispatcher *d = data;
	for (size_t i = 0; i < d->nsessions; i++) {
		if (ev->restored)
			session_send_full(d, d->sessions[i]);
		else
			session_send_changes(d, d->sessions[i], ev);
	}
}

/* --- status ----------------------------------------------------------------------- */

static void send_ack(struct dispatcher *d, const char *node_id, uint64_t session, uint64_t seq, int status)
{
	uint8_t buf[64];
	size_t len;
	struct dispatch_msg m = { .type = DISPATCH_ACK, .session = session, .seq = seq,
				  .status = status < -4095 ? -EIO : status };
	if (dispatch_msg_encode(&m, buf, sizeof(buf), &len) == 0)
		d->ops->send(d->data, node_id, buf, len);
}

/* The Status object an update becomes. */
static json_t *status_json(const struct dispatch_update *u)
{
	char ts[STORE_TIME_MAX];
	json_t *st = json_object();
	/* Nanoseconds in an int64 end in 2262; a later time is the agent's bug. */
	uint64_t ms = u->timestamp_ms < INT64_MAX / 1000000 ? u->timestamp_ms : INT64_MAX / 1000000;
	if (st == NULL || store_time_format((int64_t)ms * 1000000, ts) != 0) {
		json_decref(st);
		return NULL;
	}
	json_object_set_new(st, "Timestamp", json_string(ts));
	json_object_set_new(st, "State", json_string(runtime_state_name((enum runtime_state)u->state)));
	json_object_set_new(st, "Message", json_string(u->message));
	if (u->err[0])
		json_object_set_new(st, "Err", json_string(u->err));
	if (u->pid > 0 || u->exited || u->container_id[0]) {
		json_object_set_new(st, "ContainerStatus",
				    json_pack("{s:s, s:I, s:i}", "ContainerID", u->container_id, "PID",
					      (json_int_t)u->pid, "ExitCode", (int)u->exit_code));
	}
	json_t *ports = json_array();
	for (size_t i = 0; i < u->nports && ports; i++) {
		const struct dispatch_port *p = &u->ports[i];
		if (p->mode != RUNTIME_PUBLISH_HOST)
			continue; /* Docker lists the host-mode ports a task bound */
		json_array_append_new(ports, json_pack("{s:s, s:i, s:i, s:s}", "Protocol",
						       runtime_protocol_name(p->protocol), "TargetPort", (int)p->target,
						       "PublishedPort", (int)p->published, "PublishMode", "host"));
	}
	if (json_array_size(ports) > 0)
		json_object_set_new(st, "PortStatus", json_pack("{s:O}", "Ports", ports));
	json_decref(ports);
	return st;
}

/* Whether u says something the stored status does not. */
static bool status_news(const json_t *task, const struct dispatch_update *u)
{
	const json_t *cur = json_object_get(task, "Status");
	int state = task_state(task);
	if (u->state != state)
		return u->state > state;
	json_t *want = status_json(u);
	bool differs = want == NULL || !json_equal(want, (json_t *)cur);
	json_decref(want);
	return differs;
}

/* Adds the update of one task to txn; false when it is dropped. */
static bool txn_add_status(struct dispatcher *d, struct store_txn *txn, const char *node_id,
			   const struct dispatch_update *u)
{
	char err[STORE_MSG_MAX];
	json_t *task = store_get(d->store, STORE_KIND_TASK, u->task_id);
	if (task == NULL || strcmp(json_str(task, "NodeID"), node_id) != 0 || !status_news(task, u))
		return false;
	json_t *copy = json_deep_copy(task), *st = status_json(u);
	bool ok = copy && st && json_object_set_new(copy, "Status", st) == 0;
	if (!ok && copy == NULL)
		json_decref(st);
	uint64_t version = (uint64_t)json_integer_value(json_object_get(json_object_get(task, "Version"), "Index"));
	ok = ok && store_txn_update(txn, STORE_KIND_TASK, u->task_id, version, copy, err, sizeof(err)) == 0;
	json_decref(copy);
	return ok;
}

static void write_start(struct dispatcher *d, struct write_ctx *w);

static void write_ctx_free(struct write_ctx *w)
{
	struct dispatcher *d = w->d;
	if (d != NULL) {
		for (struct write_ctx **p = &d->writes; *p; p = &(*p)->next) {
			if (*p == w) {
				*p = w->next;
				break;
			}
		}
	}
	held_free(w->st, w->n);
	free(w);
}

/* Starts the next write of s if it has pending updates and none in flight;
 * ACKs at once when the pending updates change nothing. */
static void session_write_next(struct dispatcher *d, struct session *s)
{
	if (s->inflight != NULL || s->npending == 0)
		return;
	struct write_ctx *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		log_error("dispatcher", "out of memory: status not written", LF_STR("node", s->node_id));
		return; /* the agent sends it again */
	}
	size_t n = s->npending < DISPATCHER_TXN_TASKS ? s->npending : DISPATCHER_TXN_TASKS;
	w->st = malloc(n * sizeof(*w->st));
	if (w->st == NULL) {
		free(w);
		return;
	}
	memcpy(w->st, s->pending, n * sizeof(*w->st));
	memmove(s->pending, s->pending + n, (s->npending - n) * sizeof(*s->pending));
	s->npending -= n;
	w->n = n;
	w->d = d;
	snprintf(w->node_id, sizeof(w->node_id), "%s", s->node_id);
	w->session = s->session;
	w->ack_seq = s->npending == 0 ? s->pending_seq : 0;
	w->next = d->writes;
	d->writes = w;
	s->inflight = w;
	write_start(d, w);
}

/* The write ended: ACK, and start the next one. */
static void write_finish(struct dispatcher *d, struct write_ctx *w, int status)
{
	size_t at;
	struct session *s = session_find(d, w->node_id, &at);
	if (s != NULL && s->inflight == w)
		s->inflight = NULL;
	else
		s = NULL; /* the session ended or restarted meanwhile */
	if (s != NULL && w->session == s->session && (w->ack_seq != 0 || status != 0))
		send_ack(d, w->node_id, w->session, w->ack_seq ? w->ack_seq : s->pending_seq, status);
	if (status != 0 && s != NULL)
		s->npending = (held_free(s->pending, s->npending), s->pending = NULL, s->pending_cap = 0, 0);
	write_ctx_free(w);
	if (s != NULL)
		session_write_next(d, s);
}

static void write_on_read(void *data, int status)
{
	struct write_ctx *w = data;
	if (w->d == NULL) {
		write_ctx_free(w);
		return;
	}
	if (status != 0)
		write_finish(w->d, w, status);
	else
		write_start(w->d, w);
}

static void write_done(void *data, int status, const char *message, uint64_t index)
{
	struct write_ctx *w = data;
	struct dispatcher *d = w->d;
	if (d == NULL) {
		write_ctx_free(w);
		return;
	}
	if (status == STORE_E_CONFLICT && ++w->attempts < DISPATCHER_RETRIES) {
		/* Another write changed a task first: read it, then build again. */
		d->info.conflicts++;
		int rc = d->ops->read(d->data, write_on_read, w);
		if (rc == 0)
			return;
		status = rc;
	}
	if (status == 0)
		d->info.updates_written += w->written;
	else
		log_warn("dispatcher", "task status not written", LF_STR("node", w->node_id), LF_INT("code", status),
			 LF_STR("error", message));
	write_finish(d, w, status);
}

static void write_start(struct dispatcher *d, struct write_ctx *w)
{
	struct store_txn *txn = store_txn_new(d->ops->now_ns(d->data));
	uint8_t *bytes = NULL;
	size_t len;
	int rc = txn ? 0 : -ENOMEM;
	w->written = 0;
	for (size_t i = 0; rc == 0 && i < w->n; i++) {
		if (txn_add_status(d, txn, w->node_id, &w->st[i].u))
			w->written++;
		else if (w->attempts == 0)
			d->info.updates_dropped++;
	}
	if (rc == 0 && w->written == 0) {
		store_txn_free(txn);
		write_finish(d, w, 0); /* nothing new: the batch is as good as written */
		return;
	}
	if (rc == 0 && (rc = store_txn_encode(txn, &bytes, &len)) == 0 &&
	    (rc = d->ops->write(d->data, bytes, len, write_done, w)) == 0)
		d->info.writes++;
	store_txn_free(txn);
	free(bytes);
	if (rc != 0)
		write_finish(d, w, rc);
}

/* Merges u into the session's pending updates (the latest per task wins). */
static int pending_merge(struct session *s, const struct dispatch_update *u)
{
	struct held_status *h = NULL;
	for (size_t i = 0; i < s->npending && h == NULL; i++)
		if (strcmp(s->pending[i].u.task_id, u->task_id) == 0)
			h = &s->pending[i];
	if (h == NULL) {
		if (s->npending == s->pending_cap) {
			size_t cap = s->pending_cap ? s->pending_cap * 2 : 16;
			struct held_status *p = realloc(s->pending, cap * sizeof(*p));
			if (p == NULL)
				return -ENOMEM;
			s->pending = p;
			s->pending_cap = cap;
		}
		h = &s->pending[s->npending++];
		h->ports = NULL;
	}
	struct dispatch_port *ports = u->nports ? malloc(u->nports * sizeof(*ports)) : NULL;
	if (u->nports && ports == NULL)
		return -ENOMEM;
	if (u->nports)
		memcpy(ports, u->ports, u->nports * sizeof(*ports));
	free(h->ports);
	h->u = *u;
	h->ports = ports;
	h->u.ports = ports;
	return 0;
}

static void dispatcher_on_status(struct dispatcher *d, struct session *s, const struct dispatch_msg *m)
{
	for (size_t i = 0; i < m->nupdates; i++) {
		if (pending_merge(s, &m->updates[i]) != 0) {
			log_error("dispatcher", "out of memory: status batch refused", LF_STR("node", s->node_id));
			send_ack(d, s->node_id, s->session, m->seq, -ENOMEM);
			return;
		}
	}
	s->pending_seq = m->seq;
	session_write_next(d, s);
}

/* --- messages ------------------------------------------------------------------- */

static void dispatcher_on_session(struct dispatcher *d, const char *from, uint64_t session)
{
	struct session *s = session_find(d, from, NULL);
	if (s == NULL && (s = session_add(d, from)) == NULL) {
		log_error("dispatcher", "out of memory: session refused", LF_STR("node", from));
		return;
	}
	if (s->inflight)
		s->inflight->session = 0; /* answers the old session: nobody to tell */
	s->inflight = NULL;
	held_free(s->pending, s->npending);
	s->pending = NULL;
	s->npending = s->pending_cap = 0;
	s->session = session;
	s->seq = 0;
	log_info("dispatcher", "agent session", LF_STR("node", from), LF_UINT("session", session));
	session_send_full(d, s);
}

void dispatcher_receive(struct dispatcher *d, const char *from, const uint8_t *body, size_t len)
{
	struct dispatch_msg m;
	char err[256];
	if (dispatch_msg_decode(body, len, &m, err, sizeof(err)) != 0) {
		d->info.bad_msgs++;
		log_warn("dispatcher", "bad dispatch message", LF_STR("from", from), LF_STR("error", err));
		return;
	}
	struct session *s = session_find(d, from, NULL);
	if (m.type == DISPATCH_SESSION)
		dispatcher_on_session(d, from, m.session);
	else if (m.type == DISPATCH_STATUS && s != NULL && s->session == m.session)
		dispatcher_on_status(d, s, &m);
	else
		d->info.bad_msgs++;
	dispatch_msg_release(&m);
}

void dispatcher_link_down(struct dispatcher *d, const char *node_id)
{
	size_t at;
	struct session *s = session_find(d, node_id, &at);
	if (s == NULL)
		return;
	if (s->inflight)
		s->inflight->session = 0;
	session_free(s);
	d->sessions[at] = d->sessions[--d->nsessions];
}

int dispatcher_start(struct store *store, const struct dispatcher_ops *ops, void *data, struct dispatcher **out,
		     char *err, size_t errlen)
{
	struct dispatcher *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "dispatcher: out of memory");
		return -ENOMEM;
	}
	d->store = store;
	d->ops = ops;
	d->data = data;
	int rc = store_watch(store, dispatcher_on_store, d);
	if (rc != 0) {
		snprintf(err, errlen, "dispatcher: cannot watch the store: %s", store_strerror(rc));
		free(d);
		return rc == STORE_E_NOMEM ? -ENOMEM : -EBUSY;
	}
	*out = d;
	return 0;
}

void dispatcher_close(struct dispatcher *d)
{
	store_unwatch(d->store, dispatcher_on_store, d);
	for (struct write_ctx *w = d->writes; w; w = w->next)
		w->d = NULL;
	for (size_t i = 0; i < d->nsessions; i++) {
		d->sessions[i]->inflight = NULL;
		session_free(d->sessions[i]);
	}
	free(d->sessions);
	free(d);
}

void dispatcher_get_info(const struct dispatcher *d, struct dispatcher_info *out)
{
	*out = d->info;
	out->sessions = d->nsessions;
}
