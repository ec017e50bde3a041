/* agent_logs: the agent's answer to a LOGS_REQUEST (see agent_logs.h and the protocol in dispatch_msg.h). */
#include "agent_logs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/ids.h"
#include "swarmnode/log.h"

/* Lines read first when a filter (since, one stream) decides which lines
 * tail counts: a follower's request every second then reads the end of the
 * log, not all of it, unless the window turns out too short. */
#define AGENT_LOGS_WINDOW 1024

/* A request being read by the runtime. */
struct logs_job {
	struct runtime *rt;
	size_t window;                  /* the lines asked of the runtime, 0: every line */
	agent_logs_send_fn send;
	void *data;
	char to[IDS_LEN + 1];           /* the asking manager */
	char node_id[IDS_LEN + 1];      /* this node, for error texts */
	struct dispatch_msg req;        /* the request's scalar fields (no arrays) */
};

/* Room for the header fields of a LOGS besides its lines. */
#define LOGS_HEADER_MAX (64 + DISPATCH_TEXT_MAX)

static bool stream_selected(const struct dispatch_msg *req, enum runtime_log_stream s)
{
	return (req->streams & (s == RUNTIME_LOG_STDERR ? DISPATCH_LOGS_STDERR : DISPATCH_LOGS_STDOUT)) != 0;
}

size_t agent_logs_select(const struct runtime_log_line *lines, size_t n, const struct dispatch_msg *req,
			 size_t *keep, uint64_t *dropped)
{
	size_t kept = 0;
	uint64_t skipped = 0;
	for (size_t i = 0; i < n; i++) {
		if (!stream_selected(req, lines[i].stream) || lines[i].time_ns < req->since_ns)
			continue;
		if (req->since_ns != 0 && lines[i].time_ns == req->since_ns && skipped < req->skip) {
			skipped++;
			continue;
		}
		keep[kept++] = i;
	}
	size_t first = req->tail < kept ? kept - (size_t)req->tail : 0;
	/* The newest lines win the byte bound, as tail keeps the newest. */
	size_t bytes = 0, start = kept;
	while (start > first && bytes + lines[keep[start - 1]].len <= DISPATCH_LOGS_ANSWER_MAX)
		bytes += lines[keep[--start]].len;
	*dropped = start - first;
	memmove(keep, keep + start, (kept - start) * sizeof(*keep));
	return kept - start;
}

/* Fills LOGS messages line piece by line piece and sends each when full. */
struct logs_out {
	struct logs_job *job;
	struct dispatch_log_line *buf;  /* DISPATCH_LOG_LINES_MAX of them */
	size_t n;
	size_t size;                    /* encoded bound of the message so far */
	int rc;                         /* the first send failure */
};

static int logs_send(struct logs_job *job, struct dispatch_msg *m)
{
	size_t cap = dispatch_msg_encoded_max(m), len;
	uint8_t *body = malloc(cap);
	if (body == NULL)
		return -ENOMEM;
	int rc = dispatch_msg_encode(m, body, cap, &len);
	if (rc == 0)
		rc = job->send(job->data, job->to, body, len);
	free(body);
	return rc;
}

static void out_flush(struct logs_out *o, bool last, uint64_t dropped)
{
	struct dispatch_msg m = { .type = DISPATCH_LOGS, .request = o->job->req.request,
				  .flags = last ? DISPATCH_LOGS_LAST : 0, .dropped = dropped, .lines = o->buf,
				  .nlines = o->n };
	if (o->rc == 0)
		o->rc = logs_send(o->job, &m);
	o->n = 0;
	o->size = LOGS_HEADER_MAX;
}

static void out_add(struct logs_out *o, const struct dispatch_log_line *piece)
{
	size_t one = dispatch_log_line_encoded_max(piece);
	if (o->n == DISPATCH_LOG_LINES_MAX || o->size + one > DISPATCH_MSG_MAX)
		out_flush(o, false, 0);
	o->buf[o->n++] = *piece;
	o->size += one;
}

/* A line longer than a LINE may carry goes as partial pieces. */
static void out_add_line(struct logs_out *o, const struct runtime_log_line *l)
{
	size_t off = 0;
	do {
		size_t len = l->len - off > DISPATCH_LOG_TEXT_MAX ? DISPATCH_LOG_TEXT_MAX : l->len - off;
		struct dispatch_log_line piece = { .stream = (uint8_t)l->stream, .time_ns = l->time_ns,
						   .text = (const uint8_t *)l->text + off, .len = len,
						   .partial = off + len < l->len || l->partial };
		out_add(o, &piece);
		off += len;
	} while (off < l->len);
}

static int send_lines(struct logs_job *job, const struct runtime_log_line *lines, size_t n)
{
	size_t *keep = n ? malloc(n * sizeof(*keep)) : NULL;
	struct logs_out o = { .job = job, .buf = malloc(DISPATCH_LOG_LINES_MAX * sizeof(*o.buf)),
			      .size = LOGS_HEADER_MAX };
	uint64_t dropped = 0;
	if ((n && keep == NULL) || o.buf == NULL) {
		free(keep);
		free(o.buf);
		return -ENOMEM;
	}
	size_t kept = agent_logs_select(lines, n, &job->req, keep, &dropped);
	for (size_t i = 0; i < kept; i++)
		out_add_line(&o, &lines[keep[i]]);
	out_flush(&o, true, dropped);
	free(keep);
	free(o.buf);
	return o.rc;
}

static void send_error(struct logs_job *job, int status)
{
	struct dispatch_msg m = { .type = DISPATCH_LOGS, .request = job->req.request, .flags = DISPATCH_LOGS_LAST,
				  .status = status };
	if (status == -ENOENT)
		snprintf(m.err, sizeof(m.err), "task %s: no such task on node %s", job->req.task_id, job->node_id);
	else
		snprintf(m.err, sizeof(m.err), "task %s: cannot read its logs on node %s: %s", job->req.task_id,
			 job->node_id, uv_strerror(status));
	int rc = logs_send(job, &m);
	if (rc != 0)
		log_warn("agent", "cannot answer a logs request", LF_STR("manager", job->to), LF_INT("error", rc));
}

/* Whether the last window lines of the log select what the whole log would:
 * they are the whole log, reach back before since, or hold tail lines. */
static bool window_enough(const struct logs_job *job, const struct runtime_log_line *lines, size_t n)
{
	const struct dispatch_msg *req = &job->req;
	if (n < job->window)
		return true;
	if (req->since_ns != 0)
		return lines[0].time_ns < req->since_ns;
	size_t kept = 0;
	for (size_t i = 0; i < n && kept < req->tail; i++)
		kept += stream_selected(req, lines[i].stream);
	return kept >= req->tail;
}

static void logs_read(void *data, int status, const struct runtime_log_line *lines, size_t n)
{
	struct logs_job *job = data;
	if (status == UV_ECANCELED) {
		free(job);
		return; /* the agent is closing: the manager's wait ends it */
	}
	if (status == 0 && job->window != 0 && !window_enough(job, lines, n)) {
		job->window = 0;
		int rc = runtime_logs(job->rt, job->req.task_id, RUNTIME_LOGS_ALL, logs_read, job);
		if (rc != 0) {
			send_error(job, rc);
			free(job);
		}
		return;
	}
	int rc = status == 0 ? send_lines(job, lines, n) : 0;
	if (status != 0 || rc == -ENOMEM)
		send_error(job, status != 0 ? status : rc);
	else if (rc != 0)
		log_warn("agent", "cannot send task logs", LF_STR("manager", job->to), LF_STR("task", job->req.task_id),
			 LF_INT("error", rc));
	free(job);
}

void agent_logs_answer(struct runtime *rt, const char *node_id, const char *to, const struct dispatch_msg *req,
		       agent_logs_send_fn send, void *data)
{
	struct logs_job *job = calloc(1, sizeof(*job));
	if (job == NULL) {
		log_error("agent", "out of memory: logs request dropped", LF_STR("task", req->task_id));
		return;
	}
	job->rt = rt;
	job->send = send;
	job->data = data;
	snprintf(job->to, sizeof(job->to), "%s", to);
	snprintf(job->node_id, sizeof(job->node_id), "%s", node_id);
	job->req = *req;
	job->req.lines = NULL;
	job->req.port_store = NULL;
	/* The filters change which lines count for tail: a window first, every line if it is too short. */
	bool filtered = req->since_ns != 0 || req->streams != (DISPATCH_LOGS_STDOUT | DISPATCH_LOGS_STDERR);
	size_t tail = req->tail >= RUNTIME_LOGS_ALL ? RUNTIME_LOGS_ALL : (size_t)req->tail;
	if (filtered)
		tail = job->window = AGENT_LOGS_WINDOW;
	int rc = runtime_logs(rt, req->task_id, tail, logs_read, job);
	if (rc != 0) {
		send_error(job, rc);
		free(job);
	}
}
