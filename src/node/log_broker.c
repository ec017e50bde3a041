/* log_broker: a manager's log requests to agents (see log_broker.h). */
#include "swarmnode/log_broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/ids.h"
#include "swarmnode/log.h"

/* How often the silence of requests in flight is checked. */
#define LOG_BROKER_TICK_MS 250

struct log_request {
	struct log_request *next;
	uint64_t id;
	char node_id[IDS_LEN + 1];      /* only this node's answers count; "" for a wait */
	uint64_t wait_until;            /* a wait: the loop time it ends */
	uint64_t heard_at;              /* loop time of the request or of its last message */
	log_broker_lines_fn on_lines;
	log_broker_done_fn on_done;
	void *data;
};

struct log_broker {
	uv_loop_t *loop;
	const struct log_broker_ops *ops;
	void *data;
	uv_timer_t tick;                /* runs while requests are in flight; data = this */
	struct log_request *pending;    /* in flight, newest first */
	uint64_t next_id;
	bool closing;                   /* log_broker_close was called: no new request */
	void (*closed)(void *data);
	void *closed_data;
};

static struct log_request **request_slot(struct log_broker *b, uint64_t id)
{
	struct log_request **p = &b->pending;
	while (*p != NULL && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

/* Unlinks r, then tells its owner (which may start another request). */
static void request_finish(struct log_broker *b, struct log_request *r, int status, const char *err,
			   uint64_t dropped)
{
	struct log_request **p = request_slot(b, r->id);
	if (*p == r)
		*p = r->next;
	r->on_done(r->data, status, err, dropped);
	free(r);
}

static void broker_tick(uv_timer_t *t)
{
	struct log_broker *b = t->data;
	uint64_t now = uv_now(b->loop);
	struct log_request *r = b->pending;
	while (r != NULL) {
		struct log_request *next = r->next;
		if (r->node_id[0] == '\0') {
			if (now >= r->wait_until) {
				request_finish(b, r, 0, "", 0);
				next = b->pending;
			}
		} else if (now - r->heard_at >= LOG_BROKER_SILENCE_MS) {
			log_warn("logs", "a node did not answer a logs request in time", LF_STR("node", r->node_id),
				 LF_UINT("timeout_ms", LOG_BROKER_SILENCE_MS));
			request_finish(b, r, -ETIMEDOUT, "the node did not answer in time", 0);
			next = b->pending; /* the owner may have changed the list */
		}
		r = next;
	}
	if (b->pending == NULL)
		uv_timer_stop(&b->tick);
}

int log_broker_new(uv_loop_t *loop, const struct log_broker_ops *ops, void *data, struct log_broker **out)
{
	struct log_broker *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->loop = loop;
	b->ops = ops;
	b->data = data;
	b->next_id = 1;
	uv_timer_init(loop, &b->tick);
	b->tick.data = b;
	*out = b;
	return 0;
}

/* Links r in and makes sure the tick runs. */
static void request_add(struct log_broker *b, struct log_request *r, uint64_t *request)
{
	r->next = b->pending;
	r->id = b->next_id++;
	b->pending = r;
	if (!uv_is_active((uv_handle_t *)&b->tick))
		uv_timer_start(&b->tick, broker_tick, LOG_BROKER_TICK_MS, LOG_BROKER_TICK_MS);
	*request = r->id;
}

int log_broker_wait(struct log_broker *b, uint64_t ms, log_broker_done_fn on_done, void *data, uint64_t *request)
{
	if (b->closing)
		return -ESHUTDOWN;
	struct log_request *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->wait_until = uv_now(b->loop) + ms;
	r->on_done = on_done;
	r->data = data;
	request_add(b, r, request);
	return 0;
}

int log_broker_fetch(struct log_broker *b, const struct log_broker_query *q, log_broker_lines_fn on_lines,
		     log_broker_done_fn on_done, void *data, uint64_t *request)
{
	struct dispatch_msg m = { .type = DISPATCH_LOGS_REQUEST, .request = b->next_id, .tail = q->tail,
				  .since_ns = q->since_ns, .skip = q->skip, .streams = q->streams };
	uint8_t body[128];
	size_t len;
	if (b->closing)
		return -ESHUTDOWN;
	if (!ids_valid(q->node_id) || !ids_valid(q->task_id))
		return -EINVAL;
	snprintf(m.task_id, sizeof(m.task_id), "%s", q->task_id);
	int rc = dispatch_msg_encode(&m, body, sizeof(body), &len);
	struct log_request *r = rc == 0 ? calloc(1, sizeof(*r)) : NULL;
	if (rc == 0 && r == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = b->ops->send(b->data, q->node_id, body, len);
	if (rc != 0) {
		free(r);
		return rc;
	}
	*r = (struct log_request){ .heard_at = uv_now(b->loop), .on_lines = on_lines, .on_done = on_done, .data = data };
	snprintf(r->node_id, sizeof(r->node_id), "%s", q->node_id);
	request_add(b, r, request);
	return 0;
}

void log_broker_cancel(struct log_broker *b, uint64_t request)
{
	struct log_request **p = request_slot(b, request);
	struct log_request *r = *p;
	if (r == NULL)
		return;
	*p = r->next;
	free(r);
}

bool log_broker_receive(struct log_broker *b, const char *from, const uint8_t *body, size_t len)
{
	struct dispatch_msg m;
	char err[256];
	if (dispatch_msg_decode(body, len, &m, err, sizeof(err)) != 0) {
		log_warn("logs", "bad logs answer", LF_STR("from", from), LF_STR("error", err));
		return false;
	}
	struct log_request *r = m.type == DISPATCH_LOGS ? *request_slot(b, m.request) : NULL;
	bool ok = r != NULL && r->node_id[0] != '\0' && strcmp(r->node_id, from) == 0;
	if (ok) {
		r->heard_at = uv_now(b->loop);
		if (m.nlines > 0)
			r->on_lines(r->data, m.lines, m.nlines);
		/* on_lines may have cancelled it. */
		if ((m.flags & DISPATCH_LOGS_LAST) && *request_slot(b, m.request) == r)
			request_finish(b, r, (int)m.status, m.err, m.dropped);
	}
	dispatch_msg_release(&m);
	return ok;
}

static void broker_timer_closed(uv_handle_t *h)
{
	struct log_broker *b = h->data;
	void (*closed)(void *) = b->closed;
	void *closed_data = b->closed_data;
	free(b);
	if (closed)
		closed(closed_data);
}

void log_broker_close(struct log_broker *b, void (*closed)(void *data), void *data)
{
	b->closing = true;
	while (b->pending != NULL)
		request_finish(b, b->pending, -ECANCELED, "the node is shutting down", 0);
	b->closed = closed;
	b->closed_data = data;
	uv_close((uv_handle_t *)&b->tick, broker_timer_closed);
}
