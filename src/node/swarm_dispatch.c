/* swarm_dispatch: this node's agent and, on a manager, its dispatcher, wired to the peer streams, the Raft manager and the task runtime (exec or engine). */
#include "swarmnode/swarm_dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/agent.h"
#include "swarmnode/dispatch_msg.h"
#include "swarmnode/dispatcher.h"
#include "swarmnode/log.h"
#include "swarmnode/log_broker.h"
#include "swarmnode/peer_msg.h"
#include "swarmnode/runtime_engine.h"
#include "swarmnode/runtime_exec.h"
#include "swarmnode/swarm.h"

/* How long after a failed store barrier the dispatcher's start is tried again. */
#define DISPATCH_BARRIER_RETRY_MS 200

/* A store barrier in flight; outlives the dispatch part if that closes first. */
struct store_barrier {
	struct swarm_dispatch *d; /* NULL once the dispatch part closed */
};

/* A message between this node's agent and its own dispatcher or log broker. */
struct loop_msg {
	struct loop_msg *next;
	bool to_agent;        /* else to the dispatcher, or the broker for LOGS */
	size_t len;
	uint8_t body[];
};

struct swarm_dispatch {
	struct swarm *sw;
	struct agent *agent;
	struct dispatcher *dispatcher;
	struct log_broker *logs;         /* this node's log requests (served on managers) */
	uv_timer_t loopback;             /* delivers the queue from the loop; data = this */
	uv_timer_t barrier_retry;        /* retries the store barrier; data = this */
	struct store_barrier *barrier;   /* in flight, NULL when none */
	struct loop_msg *head, **tail;   /* the queue */
	int closing;                     /* parts still closing */
	void (*done)(struct swarm *sw);
};

static uint64_t wall_ms(void)
{
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* --- the loopback ---------------------------------------------------------------- */

static void loopback_deliver(uv_timer_t *t)
{
	struct swarm_dispatch *d = t->data;
	struct loop_msg *m;
	const char *self = d->sw->st.node_id;
	while ((m = d->head) != NULL) {
		d->head = m->next;
		if (d->head == NULL)
			d->tail = &d->head;
		if (m->to_agent && d->agent)
			agent_receive(d->agent, self, m->body, m->len);
		else if (!m->to_agent && dispatch_msg_peek_type(m->body, m->len) == DISPATCH_LOGS && d->logs)
			log_broker_receive(d->logs, self, m->body, m->len);
		else if (!m->to_agent && d->dispatcher)
			dispatcher_receive(d->dispatcher, self, m->body, m->len);
		free(m);
	}
}

static int loopback_send(struct swarm_dispatch *d, bool to_agent, const uint8_t *body, size_t len)
{
	struct loop_msg *m = malloc(sizeof(*m) + len);
	if (m == NULL)
		return -ENOMEM;
	m->next = NULL;
	m->to_agent = to_agent;
	m->len = len;
	memcpy(m->body, body, len);
	*d->tail = m;
	d->tail = &m->next;
	if (!uv_is_active((uv_handle_t *)&d->loopback))
		uv_timer_start(&d->loopback, loopback_deliver, 0, 0);
	return 0;
}

/* --- the agent's transport ------------------------------------------------------------ */

static int agent_send(void *data, const char *manager_id, const uint8_t *body, size_t len)
{
	struct swarm_dispatch *d = data;
	bool logs = dispatch_msg_peek_type(body, len) == DISPATCH_LOGS;
	if (strcmp(manager_id, d->sw->st.node_id) == 0)
		return d->dispatcher || logs ? loopback_send(d, false, body, len) : -ENOTCONN;
	return swarm_peer_send(d->sw, manager_id, PEER_MSG_DISPATCH, body, len);
}

/* A manager's agent is served by its own dispatcher; a worker's by the
 * managers it has an up stream to. */
static size_t agent_managers(void *data, char (*out)[IDS_LEN + 1], size_t cap)
{
	struct swarm_dispatch *d = data;
	struct peer_link_view v;
	size_t n = 0;
	if (cap == 0)
		return 0;
	if (d->dispatcher != NULL) {
		snprintf(out[0], IDS_LEN + 1, "%s", d->sw->st.node_id);
		return 1;
	}
	if (!d->sw->mesh_open)
		return 0;
	for (size_t i = 0; n < cap && peer_mesh_view(&d->sw->mesh, i, &v) == 0; i++) {
		if (v.link->role == IDENTITY_ROLE_MANAGER && peer_mesh_is_up(&d->sw->mesh, v.link->node_id))
			snprintf(out[n++], IDS_LEN + 1, "%s", v.link->node_id);
	}
	return n;
}

static const struct agent_ops swarm_agent_ops = {
	.send = agent_send,
	.managers = agent_managers,
};

/* The engine's recover asks before the agent has heard from any manager:
 * every running container of this node is adopted, and the agent removes
 * those the first full assignment set does not name (agent.h). */
static bool engine_adopt_all(void *data, const char *task_id)
{
	(void)data;
	(void)task_id;
	return true;
}

/* The daemon resolved --runtime before the loop started (daemon.c): the
 * config says exec or engine, and the engine's socket. */
static int task_runtime_new(void *data, uv_loop_t *loop, runtime_state_cb on_state, void *cb_data,
			    struct runtime **out, char *err, size_t errlen)
{
	struct swarm_dispatch *d = data;
	const struct config *c = d->sw->config;
	if (c->runtime == CONFIG_RUNTIME_ENGINE) {
		struct runtime_engine_config cfg = { .socket_path = c->engine_socket, .node_id = d->sw->st.node_id,
						     .want_task = engine_adopt_all };
		return runtime_engine_new(loop, &cfg, on_state, cb_data, out, err, errlen);
	}
	struct runtime_exec_config cfg = { .data_dir = d->sw->datadir->path };
	return runtime_exec_new(loop, &cfg, on_state, cb_data, out, err, errlen);
}

/* --- the dispatcher's transport and writes ----------------------------------------------- */

static int dispatcher_send(void *data, const char *node_id, const uint8_t *body, size_t len)
{
	struct swarm_dispatch *d = data;
	if (strcmp(node_id, d->sw->st.node_id) == 0)
		return loopback_send(d, true, body, len);
	return swarm_peer_send(d->sw, node_id, PEER_MSG_DISPATCH, body, len);
}

static int dispatcher_write(void *data, const uint8_t *txn, size_t len, manager_write_fn done, void *done_data)
{
	struct swarm_dispatch *d = data;
	return d->sw->manager ? manager_write(d->sw->manager, txn, len, done, done_data) : MANAGER_E_STOPPED;
}

static int dispatcher_read(void *data, manager_read_fn done, void *done_data)
{
	struct swarm_dispatch *d = data;
	return d->sw->manager ? manager_read(d->sw->manager, done, done_data) : MANAGER_E_STOPPED;
}

static int64_t dispatcher_now_ns(void *data)
{
	(void)data;
	return (int64_t)wall_ms() * 1000000;
}

static const struct dispatcher_ops swarm_dispatcher_ops = {
	.send = dispatcher_send,
	.write = dispatcher_write,
	.read = dispatcher_read,
	.now_ns = dispatcher_now_ns,
};

/* --- the log broker's transport ------------------------------------------------------------ */

/* A LOGS_REQUEST goes to the node's agent, this node's own through the loopback. */
static int logs_send(void *data, const char *node_id, const uint8_t *body, size_t len)
{
	struct swarm_dispatch *d = data;
	if (strcmp(node_id, d->sw->st.node_id) == 0)
		return loopback_send(d, true, body, len);
	return swarm_peer_send(d->sw, node_id, PEER_MSG_DISPATCH, body, len);
}

static const struct log_broker_ops swarm_log_broker_ops = {
	.send = logs_send,
};

/* --- life cycle ------------------------------------------------------------------------ */

int swarm_dispatch_start(struct swarm *sw, char *err, size_t errlen)
{
	struct swarm_dispatch *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "dispatch: out of memory");
		return -ENOMEM;
	}
	d->sw = sw;
	d->tail = &d->head;
	struct addr advertised;
	char why[128];
	const char *node_addr = addr_parse(sw->st.advertise_addr, CONFIG_CLUSTER_PORT, &advertised, why,
					   sizeof(why)) == 0 ? advertised.host : NULL;
	bool engine = sw->config->runtime == CONFIG_RUNTIME_ENGINE;
	struct agent_config cfg = { .node_id = sw->st.node_id, .node_addr = node_addr, .first_session = wall_ms(),
				    .runtime_new = task_runtime_new, .runtime_data = d,
				    .runtime_ports = engine ? runtime_engine_ports : NULL };
	int rc = log_broker_new(sw->loop, &swarm_log_broker_ops, d, &d->logs);
	if (rc != 0) {
		snprintf(err, errlen, "dispatch: out of memory");
		free(d);
		return rc;
	}
	rc = agent_start(sw->loop, &cfg, &swarm_agent_ops, d, &d->agent, err, errlen);
	if (rc != 0) {
		log_broker_close(d->logs, free, d);
		return rc;
	}
	uv_timer_init(sw->loop, &d->loopback);
	uv_timer_init(sw->loop, &d->barrier_retry);
	d->loopback.data = d->barrier_retry.data = d;
	sw->dispatch = d;
	return 0;
}

static void dispatch_start_dispatcher(struct swarm_dispatch *d)
{
	char err[256];
	struct swarm *sw = d->sw;
	int rc = dispatcher_start(manager_store_watchable(sw->manager), &swarm_dispatcher_ops, d, &d->dispatcher, err,
				  sizeof(err));
	if (rc != 0) {
		log_error("dispatch", "cannot start the dispatcher", LF_STR("error", err));
		return;
	}
	agent_link_changed(d->agent, sw->st.node_id, true); /* its own dispatcher is up */
}

static void dispatch_barrier_try(struct swarm_dispatch *d);

static void dispatch_barrier_retry_fire(uv_timer_t *t)
{
	dispatch_barrier_try(t->data);
}

static void dispatch_barrier_retry_later(struct swarm_dispatch *d)
{
	uv_timer_start(&d->barrier_retry, dispatch_barrier_retry_fire, DISPATCH_BARRIER_RETRY_MS, 0);
}

static void dispatch_barrier_done(void *data, int status)
{
	struct store_barrier *b = data;
	struct swarm_dispatch *d = b->d;
	free(b);
	if (d == NULL)
		return; /* the dispatch part closed meanwhile */
	d->barrier = NULL;
	if (d->sw->manager == NULL || d->dispatcher != NULL)
		return;
	if (status == 0)
		dispatch_start_dispatcher(d);
	else
		dispatch_barrier_retry_later(d);
}

/* A restarted manager's store holds only what it has applied so far; the
 * full assignment set sent from it would miss tasks still running here (the
 * agent would then remove the containers it just adopted, and restart the
 * tasks as the log replays). A read barrier makes the store current first;
 * it is retried while it fails (no leader yet, the log not open yet) and
 * the node is still a manager. */
static void dispatch_barrier_try(struct swarm_dispatch *d)
{
	if (d->barrier != NULL || d->dispatcher != NULL || d->sw->manager == NULL)
		return;
	struct store_barrier *b = malloc(sizeof(*b));
	if (b == NULL) {
		dispatch_barrier_retry_later(d);
		return;
	}
	b->d = d;
	/* -ESHUTDOWN too: a manager opens its log after it starts. */
	int rc = manager_read(d->sw->manager, dispatch_barrier_done, b);
	if (rc != 0) {
		free(b);
		dispatch_barrier_retry_later(d);
		return;
	}
	d->barrier = b;
}

int swarm_dispatch_manager_started(struct swarm *sw, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct swarm_dispatch *d = sw->dispatch;
	if (d != NULL && sw->manager != NULL && d->dispatcher == NULL)
		dispatch_barrier_try(d);
	return 0;
}

void swarm_dispatch_manager_stopping(struct swarm *sw)
{
	struct swarm_dispatch *d = sw->dispatch;
	if (d == NULL || d->dispatcher == NULL)
		return;
	dispatcher_close(d->dispatcher);
	d->dispatcher = NULL;
	agent_link_changed(d->agent, sw->st.node_id, false); /* its own dispatcher is gone */
}

void swarm_dispatch_message(struct swarm *sw, const char *from, enum identity_role from_role, const uint8_t *body,
			    size_t len)
{
	struct swarm_dispatch *d = sw->dispatch;
	uint8_t type = dispatch_msg_peek_type(body, len);
	if (type == DISPATCH_LOGS) {
		if (d == NULL || d->logs == NULL || !log_broker_receive(d->logs, from, body, len))
			sw->mesh.unknown_msgs++;
		return;
	}
	bool for_dispatcher = type == DISPATCH_SESSION || type == DISPATCH_STATUS ||
			      (type == 0 && from_role != IDENTITY_ROLE_MANAGER);
	if (d != NULL && for_dispatcher && d->dispatcher != NULL)
		dispatcher_receive(d->dispatcher, from, body, len);
	else if (d != NULL && !for_dispatcher && d->agent != NULL && from_role == IDENTITY_ROLE_MANAGER)
		agent_receive(d->agent, from, body, len);
	else
		sw->mesh.unknown_msgs++;
}

void swarm_dispatch_link_changed(struct swarm *sw, const char *node_id, bool up)
{
	struct swarm_dispatch *d = sw->dispatch;
	if (d == NULL)
		return;
	if (d->agent)
		agent_link_changed(d->agent, node_id, up);
	if (!up && d->dispatcher)
		dispatcher_link_down(d->dispatcher, node_id);
}

static void dispatch_part_closed(struct swarm_dispatch *d)
{
	if (--d->closing > 0)
		return;
	struct swarm *sw = d->sw;
	void (*done)(struct swarm *) = d->done;
	while (d->head) {
		struct loop_msg *m = d->head;
		d->head = m->next;
		free(m);
	}
	free(d);
	done(sw);
}

static void dispatch_agent_closed(void *data)
{
	dispatch_part_closed(data);
}

static void dispatch_timer_closed(uv_handle_t *h)
{
	dispatch_part_closed(h->data);
}

static void dispatch_logs_closed(void *data)
{
	dispatch_part_closed(data);
}

struct log_broker *swarm_dispatch_logs(struct swarm *sw)
{
	return sw->dispatch ? sw->dispatch->logs : NULL;
}

bool swarm_dispatch_stop(struct swarm *sw, void (*done)(struct swarm *sw))
{
	struct swarm_dispatch *d = sw->dispatch;
	if (d == NULL)
		return false;
	sw->dispatch = NULL;
	if (d->dispatcher) {
		dispatcher_close(d->dispatcher);
		d->dispatcher = NULL;
	}
	struct agent *a = d->agent;
	d->agent = NULL;
	d->done = done;
	if (d->barrier != NULL)
		d->barrier->d = NULL; /* its answer frees it */
	d->closing = 4;
	/* Requests in flight end now: their API answers finish before the control socket closes. */
	log_broker_close(d->logs, dispatch_logs_closed, d);
	d->logs = NULL;
	uv_close((uv_handle_t *)&d->loopback, dispatch_timer_closed);
	uv_close((uv_handle_t *)&d->barrier_retry, dispatch_timer_closed);
	agent_close(a, dispatch_agent_closed, d);
	return true;
}
