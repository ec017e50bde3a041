/* agent: the node side of dispatch (see agent.h and the protocol in dispatch_msg.h). */
#include "swarmnode/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_logs.h"
#include "agent_spec.h"
#include "swarmnode/dispatch_msg.h"
#include "swarmnode/log.h"

/* One task the agent knows: assigned to it, or found by the runtime's recover. */
struct agent_task {
	char id[IDS_LEN + 1];
	uint64_t version;             /* of the last assignment seen, 0 before one */
	uint8_t desired;              /* DesiredState (enum runtime_state) */
	bool in_runtime;              /* the runtime knows it (started or recovered) */
	bool stopping;                /* runtime_stop was called */
	bool removing;                /* no longer assigned: remove it once terminal */
	bool seen;                    /* named by the full set being received */
	uint64_t grace_ms;            /* its stop grace period */
	bool has_status;              /* st holds something to report */
	struct runtime_status st;     /* last known status */
	struct dispatch_port *ports;  /* its published ports, with the host port chosen */
	size_t nports;
	bool dirty;                   /* st changed since it was last sent */
	uint64_t sent_seq;            /* the batch carrying st, 0 when none awaits an ACK */
	uint64_t sent_at;             /* loop time of that batch */
};

struct agent {
	uv_loop_t *loop;
	const struct agent_ops *ops;
	void *data;
	char node_id[IDS_LEN + 1];
	char node_addr[64];
	struct runtime *rt;
	agent_runtime_ports_fn runtime_ports; /* NULL: the runtime binds the ports it is handed */
	uv_timer_t flush_timer;        /* AGENT_FLUSH_MS after a change; data = this */
	uv_timer_t tick_timer;         /* every AGENT_TICK_MS: manager choice, resends */
	bool recovered;
	char manager[IDS_LEN + 1];     /* serving manager, "" when none */
	uint64_t session;              /* current session, 0 when none */
	uint64_t next_session;
	uint64_t expect_seq;           /* next ASSIGNMENTS seq of the session */
	bool in_full;                  /* between FULL_BEGIN and FULL_END */
	bool full_set;                 /* the session's full set arrived */
	uint64_t session_at;           /* loop time the current session was opened */
	uint64_t batch_seq;            /* last STATUS seq sent */
	uint64_t batches_sent;
	uint64_t sessions;
	uint64_t bad_msgs;
	struct agent_task **tasks;
	size_t ntasks, cap;
	int closing;                   /* handles and runtime still closing */
	void (*closed)(void *data);
	void *closed_data;
};

static uint64_t now_ms(void)
{
	uv_timeval64_t tv;
	if (uv_gettimeofday(&tv) != 0)
		return 0;
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* --- the task table ------------------------------------------------------------- */

static struct agent_task *task_find(const struct agent *a, const char *id, size_t *at)
{
	for (size_t i = 0; i < a->ntasks; i++) {
		if (strcmp(a->tasks[i]->id, id) == 0) {
			if (at)
				*at = i;
			return a->tasks[i];
		}
	}
	return NULL;
}

static struct agent_task *task_add(struct agent *a, const char *id)
{
	if (a->ntasks == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct agent_task **t = realloc(a->tasks, cap * sizeof(*t));
		if (t == NULL)
			return NULL;
		a->tasks = t;
		a->cap = cap;
	}
	struct agent_task *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	snprintf(t->id, sizeof(t->id), "%s", id);
	a->tasks[a->ntasks++] = t;
	return t;
}

static void task_forget(struct agent *a, struct agent_task *t)
{
	size_t at = 0;
	if (task_find(a, t->id, &at) != t)
		return;
	a->tasks[at] = a->tasks[--a->ntasks];
	free(t->ports);
	free(t);
}

/* --- status reporting ------------------------------------------------------------ */

static void agent_flush(uv_timer_t *timer);

/* st becomes the task's status, to be reported in the next batch. */
static void task_report(struct agent *a, struct agent_task *t, const struct runtime_status *st)
{
	t->st = *st;
	t->has_status = true;
	t->dirty = true;
	if (!uv_is_active((uv_handle_t *)&a->flush_timer) && a->closed == NULL)
		uv_timer_start(&a->flush_timer, agent_flush, AGENT_FLUSH_MS, 0);
}

/* A status the agent decides itself (accepted, rejected, lost). */
static void task_report_state(struct agent *a, struct agent_task *t, enum runtime_state state, const char *message,
			      const char *err)
{
	struct runtime_status st;
	memset(&st, 0, sizeof(st));
	st.state = state;
	snprintf(st.message, sizeof(st.message), "%s", message);
	snprintf(st.err, sizeof(st.err), "%s", err ? err : "");
	st.timestamp_ms = now_ms();
	if (runtime_state_is_terminal(state))
		st.finished_ms = st.timestamp_ms;
	task_report(a, t, &st);
}

static void update_from_task(struct dispatch_update *u, const struct agent_task *t)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->task_id, sizeof(u->task_id), "%s", t->id);
	u->state = (uint8_t)t->st.state;
	snprintf(u->message, sizeof(u->message), "%s", t->st.message);
	snprintf(u->err, sizeof(u->err), "%s", t->st.err);
	u->exited = t->st.exited;
	u->exit_code = t->st.exit_code;
	u->pid = t->st.pid > 0 ? t->st.pid : 0;
	snprintf(u->container_id, sizeof(u->container_id), "%s", t->st.container_id);
	u->timestamp_ms = t->st.timestamp_ms;
	u->ports = t->ports;
	u->nports = t->nports;
}

static int agent_send(struct agent *a, const struct dispatch_msg *m)
{
	size_t cap = dispatch_msg_encoded_max(m), len;
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	int rc = dispatch_msg_encode(m, buf, cap, &len);
	if (rc == 0)
		rc = a->ops->send(a->data, a->manager, buf, len);
	free(buf);
	return rc;
}

/* Sends one STATUS batch of dirty tasks; returns how many it carried (0 when
 * there was nothing to send or it could not be sent). */
static size_t agent_send_batch(struct agent *a, struct dispatch_update *u)
{
	size_t n = 0, size = 64;
	struct agent_task *carried[DISPATCH_UPDATES_MAX];
	for (size_t i = 0; i < a->ntasks && n < DISPATCH_UPDATES_MAX; i++) {
		struct agent_task *t = a->tasks[i];
		if (!t->dirty || !t->has_status)
			continue;
		update_from_task(&u[n], t);
		size_t one = dispatch_update_encoded_max(&u[n]);
		if (size + one > DISPATCH_MSG_MAX)
			break;
		size += one;
		carried[n++] = t;
	}
	if (n == 0)
		return 0;
	struct dispatch_msg m = { .type = DISPATCH_STATUS, .session = a->session, .seq = a->batch_seq + 1,
				  .updates = u, .nupdates = n };
	int rc = agent_send(a, &m);
	if (rc != 0) {
		log_warn("agent", "cannot send task status", LF_STR("manager", a->manager), LF_INT("error", rc));
		return 0;
	}
	a->batch_seq++;
	a->batches_sent++;
	for (size_t i = 0; i < n; i++) {
		carried[i]->dirty = false;
		carried[i]->sent_seq = a->batch_seq;
		carried[i]->sent_at = uv_now(a->loop);
	}
	return n;
}

static void agent_flush(uv_timer_t *timer)
{
	struct agent *a = timer->data;
	if (a->session == 0)
		return; /* sent when a session opens */
	struct dispatch_update *u = malloc(DISPATCH_UPDATES_MAX * sizeof(*u));
	if (u == NULL)
		return; /* the tick tries again */
	while (agent_send_batch(a, u) > 0)
		;
	free(u);
}

/* An ACK covers every batch up to its seq (the dispatcher writes them in order). */
static void agent_on_ack(struct agent *a, const struct dispatch_msg *m)
{
	for (size_t i = 0; i < a->ntasks; i++) {
		struct agent_task *t = a->tasks[i];
		if (t->sent_seq == 0 || t->sent_seq > m->seq)
			continue;
		t->sent_seq = 0;
		if (m->status != 0 && !t->dirty) {
			/* Not in the store: send it again with the next tick. */
			t->dirty = true;
		}
	}
}

/* --- sessions ------------------------------------------------------------------- */

/* Where this node starts looking among n managers: spread by node id. */
static size_t agent_manager_start(const struct agent *a, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = a->node_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (size_t)(h % n);
}

static void agent_open_session(struct agent *a, const char *manager)
{
	snprintf(a->manager, sizeof(a->manager), "%s", manager);
	a->session = a->next_session++;
	a->expect_seq = 1;
	a->in_full = false;
	a->full_set = false;
	struct dispatch_msg m = { .type = DISPATCH_SESSION, .session = a->session };
	int rc = agent_send(a, &m);
	if (rc != 0) {
		log_warn("agent", "cannot open a session", LF_STR("manager", manager), LF_INT("error", rc));
		a->manager[0] = '\0';
		a->session = 0;
		return;
	}
	a->sessions++;
	a->session_at = uv_now(a->loop);
	log_info("agent", "session opened", LF_STR("manager", manager), LF_UINT("session", a->session));
	/* The new manager hears the last known status of every task. */
	for (size_t i = 0; i < a->ntasks; i++)
		if (a->tasks[i]->has_status) {
			a->tasks[i]->dirty = true;
			a->tasks[i]->sent_seq = 0;
		}
	agent_flush(&a->flush_timer);
}

static void agent_drop_session(struct agent *a)
{
	a->manager[0] = '\0';
	a->session = 0;
	a->in_full = false;
	a->full_set = false;
}

/* Keeps the current manager while it is reachable, else picks one. */
static void agent_choose_manager(struct agent *a)
{
	char up[AGENT_MANAGERS_MAX][IDS_LEN + 1];
	if (!a->recovered || a->closed != NULL)
		return;
	size_t n = a->ops->managers(a->data, up, AGENT_MANAGERS_MAX);
	for (size_t i = 0; i < n && a->manager[0]; i++)
		if (strcmp(up[i], a->manager) == 0)
			return;
	agent_drop_session(a);
	if (n > 0)
		agent_open_session(a, up[agent_manager_start(a, n)]);
}

static void agent_resend_due(struct agent *a)
{
	uint64_t now = uv_now(a->loop);
	bool any = false;
	for (size_t i = 0; i < a->ntasks; i++) {
		struct agent_task *t = a->tasks[i];
		if (t->sent_seq != 0 && now - t->sent_at >= AGENT_RESEND_MS) {
			t->sent_seq = 0;
			t->dirty = true;
		}
		any |= t->dirty && t->has_status;
	}
	if (any)
		agent_flush(&a->flush_timer);
}

/* A SESSION can be lost (the manager's dispatcher was not serving yet: it
 * starts once its store has caught up): without a full set after
 * AGENT_SESSION_RETRY_MS, the agent opens a new session. */
#define AGENT_SESSION_RETRY_MS 2000

static void agent_tick(uv_timer_t *timer)
{
	struct agent *a = timer->data;
	if (a->session != 0 && !a->full_set && uv_now(a->loop) - a->session_at >= AGENT_SESSION_RETRY_MS) {
		log_info("agent", "no assignments from the manager yet; opening a new session",
			 LF_STR("manager", a->manager), LF_UINT("session", a->session));
		agent_drop_session(a);
	}
	agent_choose_manager(a);
	agent_resend_due(a);
}

/* --- assignments ---------------------------------------------------------------- */

/* Whether the runtime picks this port's host port (it is read back later). */
static bool runtime_picks_port(const struct agent *a, const struct dispatch_port *p)
{
	return a->runtime_ports != NULL && p->mode == RUNTIME_PUBLISH_HOST && p->published == 0;
}

/* Once the task runs, the host ports the runtime bound replace the asked ones. */
static void task_read_ports(struct agent *a, struct agent_task *t)
{
	struct runtime_port bound[RUNTIME_PORTS_MAX];
	size_t n = 0;
	if (a->runtime_ports == NULL || t->nports == 0 || a->runtime_ports(a->rt, t->id, bound, RUNTIME_PORTS_MAX, &n) != 0)
		return;
	for (size_t i = 0; i < t->nports; i++)
		for (size_t j = 0; j < n; j++)
			if (bound[j].target == t->ports[i].target && bound[j].protocol == t->ports[i].protocol)
				t->ports[i].published = bound[j].published;
}

static int task_set_ports(struct agent *a, struct agent_task *t, const struct dispatch_task *d)
{
	struct dispatch_port *p = NULL;
	if (d->nports > 0 && (p = calloc(d->nports, sizeof(*p))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < d->nports; i++) {
		p[i] = d->ports[i];
		p[i].published = runtime_picks_port(a, &d->ports[i]) ? 0 : agent_spec_host_port(&d->ports[i]);
	}
	free(t->ports);
	t->ports = p;
	t->nports = d->nports;
	return 0;
}

/* Gives a newly assigned task to the runtime. */
static void task_run(struct agent *a, struct agent_task *t, const struct dispatch_task *d)
{
	struct agent_spec s;
	char err[512];
	task_report_state(a, t, RUNTIME_STATE_ACCEPTED, "accepted", NULL);
	int rc = agent_spec_build(d, a->node_id, a->node_addr, &s, err, sizeof(err));
	if (rc == 0) {
		for (size_t i = 0; i < d->nports; i++)
			if (runtime_picks_port(a, &d->ports[i]))
				s.ports[i].published = 0;
		t->grace_ms = agent_spec_grace_ms(&s);
		rc = runtime_start(a->rt, &s.spec, err, sizeof(err));
		agent_spec_release(&s);
		if (rc != 0 && rc != -EINVAL)
			snprintf(err, sizeof(err), "%s runtime: cannot start the task: %s", a->rt->name,
				 uv_strerror(rc));
	}
	if (rc != 0) {
		task_report_state(a, t, RUNTIME_STATE_REJECTED, "rejected", err);
		return;
	}
	t->in_runtime = true;
}

static void task_stop(struct agent *a, struct agent_task *t)
{
	if (!t->in_runtime || t->stopping || (t->has_status && runtime_state_is_terminal(t->st.state)))
		return;
	t->stopping = true;
	int rc = runtime_stop(a->rt, t->id, t->grace_ms);
	if (rc != 0)
		log_warn("agent", "cannot stop a task", LF_STR("task", t->id), LF_INT("error", rc));
}

/* A task the agent did not know. */
static void task_first_seen(struct agent *a, struct agent_task *t, const struct dispatch_task *d)
{
	if (runtime_state_is_terminal(d->state))
		return; /* history: nothing to run, nothing to say */
	if (d->desired > RUNTIME_STATE_RUNNING)
		task_report_state(a, t, RUNTIME_STATE_SHUTDOWN, "shutdown", NULL);
	else if (d->state > RUNTIME_STATE_ASSIGNED)
		task_report_state(a, t, RUNTIME_STATE_FAILED, "lost",
				  "task: this node lost the task (its data dir was wiped, or the task was never "
				  "started here)");
	else
		task_run(a, t, d);
}

static void agent_apply_task(struct agent *a, const struct dispatch_task *d)
{
	struct agent_task *t = task_find(a, d->id, NULL);
	bool known = t != NULL;
	if (!known && (t = task_add(a, d->id)) == NULL) {
		log_error("agent", "out of memory: task assignment dropped", LF_STR("task", d->id));
		return;
	}
	t->seen = true;
	t->removing = false;
	if (known && t->version == d->version)
		return;
	t->version = d->version;
	t->desired = d->desired;
	if (task_set_ports(a, t, d) != 0)
		log_error("agent", "out of memory: task ports not kept", LF_STR("task", d->id));
	else if (t->has_status && t->st.state == RUNTIME_STATE_RUNNING)
		task_read_ports(a, t); /* adopted by recover before its assignment came */
	if (!known && !t->has_status)
		task_first_seen(a, t, d);
	else if (d->desired > RUNTIME_STATE_RUNNING)
		task_stop(a, t);
}

/* The task is no longer assigned to this node. */
static void agent_unassign(struct agent *a, struct agent_task *t)
{
	if (!t->in_runtime) {
		/* A task that ended before this daemon started may have left
		 * files the runtime can still delete; -ENOENT when not. */
		runtime_remove(a->rt, t->id);
		task_forget(a, t);
		return;
	}
	t->removing = true;
	if (t->has_status && runtime_state_is_terminal(t->st.state)) {
		runtime_remove(a->rt, t->id);
		task_forget(a, t);
	} else {
		task_stop(a, t);
	}
}

static void agent_on_assignments(struct agent *a, const struct dispatch_msg *m)
{
	if (m->seq != a->expect_seq) {
		log_warn("agent", "assignments out of sequence: new session", LF_UINT("seq", m->seq),
			 LF_UINT("expected", a->expect_seq));
		agent_open_session(a, a->manager);
		return;
	}
	a->expect_seq++;
	if (m->flags & DISPATCH_FULL_BEGIN) {
		a->in_full = true;
		for (size_t i = 0; i < a->ntasks; i++)
			a->tasks[i]->seen = false;
	}
	for (size_t i = 0; i < m->ntasks; i++)
		agent_apply_task(a, &m->tasks[i]);
	for (size_t i = 0; i < m->nremoved; i++) {
		struct agent_task *t = task_find(a, m->removed[i], NULL);
		if (t)
			agent_unassign(a, t);
	}
	if ((m->flags & DISPATCH_FULL_END) && a->in_full) {
		a->in_full = false;
		a->full_set = true;
		for (size_t i = a->ntasks; i-- > 0;)
			if (i < a->ntasks && !a->tasks[i]->seen)
				agent_unassign(a, a->tasks[i]);
	}
	/* What the agent decided (accepted, rejected) goes out in one batch now;
	 * the runtime's states that follow are batched by the flush timer. */
	agent_flush(&a->flush_timer);
}

void agent_receive(struct agent *a, const char *from, const uint8_t *body, size_t len)
{
	struct dispatch_msg m;
	char err[256];
	if (dispatch_msg_decode(body, len, &m, err, sizeof(err)) != 0) {
		a->bad_msgs++;
		log_warn("agent", "bad dispatch message", LF_STR("from", from), LF_STR("error", err));
		return;
	}
	if (m.type == DISPATCH_LOGS_REQUEST) {
		/* Any manager may ask, in or out of a session. */
		if (a->closed == NULL)
			agent_logs_answer(a->rt, a->node_id, from, &m, a->ops->send, a->data);
	} else if (a->session == 0 || strcmp(from, a->manager) != 0 || m.session != a->session) {
		a->bad_msgs++; /* an older session's, or not from our manager */
	} else if (m.type == DISPATCH_ASSIGNMENTS) {
		agent_on_assignments(a, &m);
	} else if (m.type == DISPATCH_ACK) {
		agent_on_ack(a, &m);
	} else {
		a->bad_msgs++;
	}
	dispatch_msg_release(&m);
}

void agent_link_changed(struct agent *a, const char *node_id, bool up)
{
	if (up && a->manager[0] == '\0') {
		agent_choose_manager(a);
	} else if (!up && strcmp(node_id, a->manager) == 0) {
		log_info("agent", "lost the manager's stream", LF_STR("manager", node_id));
		agent_drop_session(a);
		agent_choose_manager(a);
	}
}

/* --- the runtime ----------------------------------------------------------------- */

static void agent_on_state(void *data, const char *task_id, const struct runtime_status *st)
{
	struct agent *a = data;
	struct agent_task *t = task_find(a, task_id, NULL);
	if (t == NULL) {
		/* A task of an earlier run, reported by recover. */
		if ((t = task_add(a, task_id)) == NULL)
			return;
		t->in_runtime = true;
		t->desired = RUNTIME_STATE_RUNNING;
	}
	if (t->has_status && st->state < t->st.state)
		return; /* the agent's own verdict came first; states never go back */
	if (st->state == RUNTIME_STATE_RUNNING)
		task_read_ports(a, t);
	task_report(a, t, st);
	if (t->removing && runtime_state_is_terminal(st->state)) {
		runtime_remove(a->rt, t->id);
		task_forget(a, t);
	}
}

static void agent_recovered(struct runtime *rt, int status)
{
	struct agent *a = rt->data;
	if (status != 0)
		log_warn("agent", "the runtime's recover failed", LF_STR("error", uv_strerror(status)));
	a->recovered = true;
	/* Recovered tasks wait for the first full set: removed if it does not name them. */
	agent_choose_manager(a);
}

int agent_start(uv_loop_t *loop, const struct agent_config *cfg, const struct agent_ops *ops, void *data,
		struct agent **out, char *err, size_t errlen)
{
	struct agent *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, errlen, "agent: out of memory");
		return -ENOMEM;
	}
	a->loop = loop;
	a->ops = ops;
	a->data = data;
	snprintf(a->node_id, sizeof(a->node_id), "%s", cfg->node_id);
	snprintf(a->node_addr, sizeof(a->node_addr), "%s", cfg->node_addr ? cfg->node_addr : "");
	a->next_session = cfg->first_session ? cfg->first_session : 1;
	a->runtime_ports = cfg->runtime_ports;
	int rc = cfg->runtime_new(cfg->runtime_data, loop, agent_on_state, a, &a->rt, err, errlen);
	if (rc != 0) {
		free(a);
		return rc;
	}
	if ((rc = runtime_recover(a->rt, agent_recovered)) != 0) {
		snprintf(err, errlen, "%s runtime: recover: %s", a->rt->name, uv_strerror(rc));
		runtime_close(a->rt, NULL);
		free(a);
		return rc;
	}
	uv_timer_init(loop, &a->flush_timer);
	uv_timer_init(loop, &a->tick_timer);
	a->flush_timer.data = a->tick_timer.data = a;
	uv_timer_start(&a->tick_timer, agent_tick, AGENT_TICK_MS, AGENT_TICK_MS);
	*out = a;
	return 0;
}

static void agent_part_closed(struct agent *a)
{
	if (--a->closing > 0)
		return;
	while (a->ntasks > 0)
		task_forget(a, a->tasks[a->ntasks - 1]);
	free(a->tasks);
	void (*closed)(void *) = a->closed;
	void *closed_data = a->closed_data;
	free(a);
	closed(closed_data);
}

static void agent_timer_closed(uv_handle_t *h)
{
	agent_part_closed(h->data);
}

static void agent_runtime_closed(struct runtime *rt)
{
	agent_part_closed(rt->data);
}

static void agent_noop_closed(void *data)
{
	(void)data;
}

void agent_close(struct agent *a, void (*closed)(void *data), void *data)
{
	a->closed = closed ? closed : agent_noop_closed;
	a->closed_data = data;
	a->closing = 3;
	uv_close((uv_handle_t *)&a->flush_timer, agent_timer_closed);
	uv_close((uv_handle_t *)&a->tick_timer, agent_timer_closed);
	runtime_close(a->rt, agent_runtime_closed);
}

void agent_get_info(const struct agent *a, struct agent_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->manager, sizeof(out->manager), "%s", a->manager);
	out->session = a->session;
	out->recovered = a->recovered;
	out->full_set = a->full_set;
	out->tasks = a->ntasks;
	for (size_t i = 0; i < a->ntasks; i++)
		out->unacked += a->tasks[i]->has_status && (a->tasks[i]->dirty || a->tasks[i]->sent_seq != 0);
	out->batches_sent = a->batches_sent;
	out->sessions = a->sessions;
	out->bad_msgs = a->bad_msgs;
}

struct runtime *agent_runtime(struct agent *a)
{
	return a->rt;
}
