/* api_logs: GET /services/{id}/logs and /tasks/{id}/logs: each task's lines
 * asked of the node that ran it (log_broker.h) and written as Docker's
 * multiplexed stream (log_stream.h). Tasks are answered one after the other,
 * each in its own order; a node that does not answer in time is skipped.
 *
 * follow=1: once every task has answered, the tasks are asked again every
 * LOGS_FOLLOW_MS for the lines after the last one they sent (since and skip
 * of LOGS_REQUEST), a service's new tasks joining, until the client goes
 * away or the node stops serving. A task that sent nothing yet is asked
 * from the start of the pass that first asked it (this manager's clock). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "swarmnode/ids.h"
#include "swarmnode/log.h"
#include "swarmnode/log_broker.h"
#include "swarmnode/log_stream.h"
#include "swarmnode/manager.h"
#include "swarmnode/swarm.h"
#include "swarmnode/swarm_dispatch.h"

/* "com.docker.swarm.node.id=<25>,com.docker.swarm.service.id=<25>,com.docker.swarm.task.id=<25>" */
#define DETAILS_MAX 160
/* Nodes that fell silent during one call, remembered so that their other tasks are skipped. */
#define SILENT_MAX 64

/* How long a follower waits between two passes over the tasks. */
#define LOGS_FOLLOW_MS 1000

/* A task whose lines the call asks for. */
struct logs_task {
	char id[IDS_LEN + 1];
	char node_id[IDS_LEN + 1];
	char service_id[IDS_LEN + 1];
	int64_t slot;
	char created[64];            /* CreatedAt, for the order */
	bool asked;                  /* follow: asked in an earlier pass */
	bool has_lines;              /* follow: last_ns and skip say where the lines stopped */
	uint64_t last_ns;            /* follow: the time of the last line received */
	uint64_t skip;               /* follow: lines received stamped exactly last_ns */
	uint64_t from_ns;            /* follow: before any line, the start of the first pass that asked */
};

/* What the client asked (the query). */
struct logs_options {
	uint8_t streams;             /* DISPATCH_LOGS_STDOUT | _STDERR */
	uint64_t tail;               /* per task; UINT64_MAX: every line */
	uint64_t since_ns;           /* 0: from the first line */
	bool timestamps;
	bool details;
	bool follow;
};

/* One API call in progress: owned by itself, freed when the stream ends. */
struct logs_call {
	struct api *api;
	struct http_request *req;
	struct log_broker *broker;   /* of the request in flight (looked up each time: it may close) */
	struct logs_options opt;
	char service_id[IDS_LEN + 1]; /* follow: whose new tasks join; "" for one task's logs */
	struct logs_task *tasks;
	size_t ntasks, cap;
	size_t next;                 /* the task to ask after the current one */
	uint64_t pass_ns;            /* wall clock when the current pass started */
	uint64_t passes;             /* passes started */
	bool in_flight;              /* a broker request (or a follower's pause) is out */
	uint64_t request;
	char details[DETAILS_MAX];   /* of the task being answered */
	char silent[SILENT_MAX][IDS_LEN + 1];
	size_t nsilent;
};

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* --- the query ------------------------------------------------------------------------- */

/* Docker's since: Unix seconds with an optional fraction ("1700000000.5"). */
static bool parse_since(const char *s, uint64_t *ns)
{
	uint64_t secs = 0, frac = 0;
	int digits = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (secs > (UINT64_MAX / 1000000000u - 9) / 10)
			return false;
		secs = secs * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				frac = frac * 10 + (uint64_t)(*p - '0');
		if (digits == 0)
			return false;
		for (int d = digits; d < 9; d++)
			frac *= 10;
	}
	if (*p != '\0')
		return false;
	*ns = secs * 1000000000u + frac;
	return true;
}

static bool parse_tail(const char *s, uint64_t *tail)
{
	char *end;
	if (*s == '\0' || strcmp(s, "all") == 0) {
		*tail = UINT64_MAX;
		return true;
	}
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*tail = v;
	return true;
}

/* Reads the query into opt; false after answering 400 (or 501 for follow). */
static bool logs_options_parse(struct http_request *req, struct logs_options *opt)
{
	char v[64];
	memset(opt, 0, sizeof(*opt));
	opt->streams = (api_query_bool(req, "stdout") ? DISPATCH_LOGS_STDOUT : 0) |
		       (api_query_bool(req, "stderr") ? DISPATCH_LOGS_STDERR : 0);
	if (opt->streams == 0) {
		api_reply_error(req, 400, "Bad parameters: you must choose at least one stream");
		return false;
	}
	api_query(req, "tail", v, sizeof(v));
	if (!parse_tail(v, &opt->tail)) {
		api_reply_error(req, 400, "tail value must be a positive integer or \"all\", not \"%s\"", v);
		return false;
	}
	if (api_query(req, "since", v, sizeof(v)) && v[0] != '\0' && !parse_since(v, &opt->since_ns)) {
		api_reply_error(req, 400, "invalid since \"%s\": expected Unix seconds with an optional fraction "
				"(1700000000.5)", v);
		return false;
	}
	opt->follow = api_query_bool(req, "follow");
	opt->timestamps = api_query_bool(req, "timestamps");
	opt->details = api_query_bool(req, "details");
	return true;
}

/* --- the tasks ------------------------------------------------------------------------- */

/* A task has lines somewhere when it was placed on a node that is not down. */
static bool task_reachable(const struct store *st, const json_t *task)
{
	const char *node = jstr(task, "NodeID");
	if (!ids_valid(node))
		return false;
	const json_t *n = store_get(st, STORE_KIND_NODE, node);
	return n != NULL && strcmp(jstr(json_object_get(n, "Status"), "State"), "down") != 0;
}

static void logs_task_from(struct logs_task *t, const json_t *task)
{
	snprintf(t->id, sizeof(t->id), "%s", jstr(task, "ID"));
	snprintf(t->node_id, sizeof(t->node_id), "%s", jstr(task, "NodeID"));
	snprintf(t->service_id, sizeof(t->service_id), "%s", jstr(task, "ServiceID"));
	t->slot = json_integer_value(json_object_get(task, "Slot"));
	snprintf(t->created, sizeof(t->created), "%s", jstr(task, "CreatedAt"));
}

/* Slot by slot (global tasks by node), the oldest task of a slot first. */
static int task_order(const void *a, const void *b)
{
	const struct logs_task *x = a, *y = b;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	int c = strcmp(x->node_id, y->node_id);
	return c != 0 ? c : strcmp(x->created, y->created);
}

static struct logs_task *logs_call_find(struct logs_call *c, const char *id)
{
	for (size_t i = 0; i < c->ntasks; i++)
		if (strcmp(c->tasks[i].id, id) == 0)
			return &c->tasks[i];
	return NULL;
}

/* Adds the tasks among tasks[0..n) the call does not have yet, and sorts. */
static int logs_call_add_tasks(struct logs_call *c, json_t *const *tasks, size_t n)
{
	if (c->ntasks + n > c->cap) {
		struct logs_task *t = realloc(c->tasks, (c->ntasks + n) * sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		c->tasks = t;
		c->cap = c->ntasks + n;
	}
	for (size_t i = 0; i < n; i++) {
		if (logs_call_find(c, jstr(tasks[i], "ID")) != NULL)
			continue;
		struct logs_task *t = &c->tasks[c->ntasks++];
		memset(t, 0, sizeof(*t));
		logs_task_from(t, tasks[i]);
	}
	qsort(c->tasks, c->ntasks, sizeof(*c->tasks), task_order);
	return 0;
}

/* The service's tasks in the store (new reference array, NULL-terminated
 * room), their number in *n; NULL when out of memory. */
static json_t **service_tasks(const struct store *st, const char *service_id, size_t *n)
{
	*n = store_tasks_by_service(st, service_id, NULL, 0);
	json_t **tasks = calloc(*n + 1, sizeof(*tasks));
	if (tasks != NULL)
		store_tasks_by_service(st, service_id, tasks, *n);
	return tasks;
}

/* --- the stream ------------------------------------------------------------------------ */

static void logs_call_free(struct logs_call *c)
{
	free(c->tasks);
	free(c);
}

static void logs_call_end(struct logs_call *c)
{
	if (c->in_flight)
		log_broker_cancel(c->broker, c->request);
	c->in_flight = false;
	http_stream_end(c->req);
	logs_call_free(c);
}

/* Appends the frames of lines to one buffer and writes it as one chunk. */
static void logs_write(struct logs_call *c, const struct dispatch_log_line *lines, size_t n)
{
	char time[LOG_STREAM_TIME_LEN + 1];
	const char *details = c->opt.details ? c->details : NULL;
	size_t total = 0;
	log_stream_format_time(0, time); /* every time has the same length */
	for (size_t i = 0; i < n; i++)
		total += log_stream_frame_len(c->opt.timestamps ? time : NULL, details, lines[i].len,
					      !lines[i].partial);
	uint8_t *buf = malloc(total ? total : 1), *p = buf;
	if (buf == NULL) {
		log_error("logs", "out of memory: log lines dropped", LF_UINT("lines", n));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (c->opt.timestamps)
			log_stream_format_time(lines[i].time_ns, time);
		p += log_stream_frame(lines[i].stream, c->opt.timestamps ? time : NULL, details, lines[i].text,
				      lines[i].len, !lines[i].partial, p);
	}
	http_stream_write(c->req, (const char *)buf, (size_t)(p - buf));
	free(buf);
}

static bool node_silent(const struct logs_call *c, const char *node_id)
{
	for (size_t i = 0; i < c->nsilent; i++)
		if (strcmp(c->silent[i], node_id) == 0)
			return true;
	return false;
}

static void logs_next(struct logs_call *c);

/* Where the lines of t stopped, for the next pass of a follower. */
static void task_advance(struct logs_task *t, const struct dispatch_log_line *lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (t->has_lines && lines[i].time_ns == t->last_ns) {
			t->skip++;
		} else {
			t->has_lines = true;
			t->last_ns = lines[i].time_ns;
			t->skip = 1;
		}
	}
}

static void on_lines(void *data, const struct dispatch_log_line *lines, size_t n)
{
	struct logs_call *c = data;
	if (c->req->conn->peer_gone) {
		logs_call_end(c); /* the client went away: cancels the request */
		return;
	}
	task_advance(&c->tasks[c->next - 1], lines, n);
	logs_write(c, lines, n);
}

static void on_done(void *data, int status, const char *err, uint64_t dropped)
{
	struct logs_call *c = data;
	const struct logs_task *t = &c->tasks[c->next - 1];
	c->in_flight = false;
	if (status == -ETIMEDOUT && c->nsilent < SILENT_MAX)
		snprintf(c->silent[c->nsilent++], IDS_LEN + 1, "%s", t->node_id);
	if (status == -ECANCELED) {
		logs_call_end(c);
		return;
	}
	if (status == -ENOENT)
		log_debug("logs", "task has no logs on its node", LF_STR("task", t->id), LF_STR("error", err));
	else if (status != 0)
		log_warn("logs", "task logs skipped", LF_STR("task", t->id), LF_STR("node", t->node_id),
			 LF_STR("error", err));
	if (dropped > 0)
		log_warn("logs", "the oldest lines of a task were left out of the answer", LF_STR("task", t->id),
			 LF_UINT("lines", dropped), LF_UINT("bound_bytes", DISPATCH_LOGS_ANSWER_MAX));
	logs_next(c);
}

/* The request for t in this pass: the client's at first, then where t's lines stopped. */
static void task_query(const struct logs_call *c, struct logs_task *t, struct log_broker_query *q)
{
	*q = (struct log_broker_query){ .node_id = t->node_id, .task_id = t->id, .tail = c->opt.tail,
					.since_ns = c->opt.since_ns, .streams = c->opt.streams };
	if (!t->asked) {
		/* A task that starts while the client follows shows all it wrote. */
		if (c->passes > 1)
			q->tail = UINT64_MAX;
		t->asked = true;
		t->from_ns = c->pass_ns;
		return;
	}
	q->tail = UINT64_MAX;
	q->since_ns = t->has_lines ? t->last_ns : t->from_ns > c->opt.since_ns ? t->from_ns : c->opt.since_ns;
	q->skip = t->has_lines ? t->skip : 0;
}

static void logs_pass_done(struct logs_call *c);

/* Asks for the next task's lines; after the last, ends the stream or waits for the next pass. */
static void logs_next(struct logs_call *c)
{
	const struct store *st = c->api->swarm->manager ? manager_store(c->api->swarm->manager) : NULL;
	while (c->next < c->ntasks && !c->req->conn->peer_gone && st != NULL) {
		struct logs_task *t = &c->tasks[c->next++];
		const json_t *task = store_get(st, STORE_KIND_TASK, t->id);
		if (node_silent(c, t->node_id) || task == NULL || !task_reachable(st, task))
			continue;
		struct log_broker_query q;
		task_query(c, t, &q);
		snprintf(c->details, sizeof(c->details),
			 "com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,com.docker.swarm.task.id=%s",
			 t->node_id, t->service_id, t->id);
		c->broker = swarm_dispatch_logs(c->api->swarm);
		int rc = c->broker ? log_broker_fetch(c->broker, &q, on_lines, on_done, c, &c->request) : -ESHUTDOWN;
		if (rc == 0) {
			c->in_flight = true;
			return;
		}
		if (rc == -ESHUTDOWN)
			break;
		log_warn("logs", "cannot ask a node for task logs", LF_STR("task", t->id), LF_STR("node", t->node_id),
			 LF_STR("error", uv_strerror(rc)));
	}
	logs_pass_done(c);
}

/* A follower's next pass: the service's new tasks join, every task is asked again. */
static void logs_poll(void *data, int status, const char *err, uint64_t dropped)
{
	struct logs_call *c = data;
	struct swarm *sw = c->api->swarm;
	(void)err;
	(void)dropped;
	c->in_flight = false;
	if (status != 0 || c->req->conn->peer_gone || sw->manager == NULL || swarm_dispatch_logs(sw) == NULL) {
		logs_call_end(c);
		return;
	}
	size_t n;
	json_t **tasks = c->service_id[0] ? service_tasks(manager_store(sw->manager), c->service_id, &n) : NULL;
	if (tasks != NULL && logs_call_add_tasks(c, tasks, n) != 0)
		log_error("logs", "out of memory: new tasks not followed", LF_STR("service", c->service_id));
	free(tasks);
	c->next = 0;
	c->nsilent = 0;
	c->pass_ns = (uint64_t)api_now_ns();
	c->passes++;
	logs_next(c);
}

static void logs_pass_done(struct logs_call *c)
{
	c->broker = swarm_dispatch_logs(c->api->swarm);
	if (!c->opt.follow || c->req->conn->peer_gone || c->broker == NULL ||
	    log_broker_wait(c->broker, LOGS_FOLLOW_MS, logs_poll, c, &c->request) != 0)
		logs_call_end(c);
	else
		c->in_flight = true;
}

/* Starts the stream for tasks[0..n) (store objects, borrowed); service_id
 * is whose new tasks a follower sees ("" for one task). */
static void logs_start(struct api *api, struct http_request *req, const struct logs_options *opt,
		       const char *service_id, json_t *const *tasks, size_t n)
{
	if (swarm_dispatch_logs(api->swarm) == NULL) {
		api_reply_error(req, 503, "this manager's agent is not running: no logs can be fetched");
		return;
	}
	struct logs_call *c = calloc(1, sizeof(*c));
	if (c == NULL || logs_call_add_tasks(c, tasks, n) != 0) {
		if (c)
			free(c->tasks);
		free(c);
		api_reply_error(req, 500, "out of memory");
		return;
	}
	c->api = api;
	c->req = req;
	c->opt = *opt;
	snprintf(c->service_id, sizeof(c->service_id), "%s", service_id);
	c->pass_ns = (uint64_t)api_now_ns();
	c->passes = 1;
	/* Docker sends no Content-Type for a stream without a TTY. */
	http_stream_begin(req, 200, NULL, NULL, 0);
	logs_next(c);
}

/* --- the handlers ---------------------------------------------------------------------- */

static void service_logs(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	const struct store *st = manager_store(api->swarm->manager);
	struct logs_options opt;
	char err[STORE_MSG_MAX];
	json_t *service;
	(void)body;
	if (!logs_options_parse(req, &opt))
		return;
	int rc = store_resolve(st, STORE_KIND_SERVICE, ref, &service, err, sizeof(err));
	if (rc != 0) {
		api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
		return;
	}
	size_t n;
	json_t **tasks = service_tasks(st, jstr(service, "ID"), &n);
	if (tasks == NULL) {
		api_reply_error(req, 500, "out of memory");
		return;
	}
	logs_start(api, req, &opt, jstr(service, "ID"), tasks, n);
	free(tasks);
}

static void h_service_logs(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, service_logs);
}

static void task_logs(struct api *api, struct http_request *req, json_t *body, const char *ref)
{
	struct logs_options opt;
	char err[STORE_MSG_MAX];
	json_t *task;
	(void)body;
	if (!logs_options_parse(req, &opt))
		return;
	int rc = store_resolve(manager_store(api->swarm->manager), STORE_KIND_TASK, ref, &task, err, sizeof(err));
	if (rc != 0) {
		api_reply_error(req, rc == STORE_E_AMBIGUOUS ? 400 : 404, "%s", err);
		return;
	}
	logs_start(api, req, &opt, "", &task, 1);
}

static void h_task_logs(struct api *api, struct http_request *req, struct api_call *call)
{
	api_after_read_barrier(api, req, call, task_logs);
}

const struct api_route api_logs_routes[] = {
	{"GET", "/services/{id}/logs", h_service_logs, 0},
	{"GET", "/tasks/{id}/logs", h_task_logs, 0},
};
const size_t api_logs_nroutes = sizeof(api_logs_routes) / sizeof(api_logs_routes[0]);
