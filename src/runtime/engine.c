/* engine: the engine runtime's tasks: image, create, start, inspect, wait and stop through the engine's API, each step a request on the loop. */
#include "engine_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "swarmnode/log.h"

#define PATH_BYTES (RUNTIME_IMAGE_MAX * 3 + 256) /* an escaped image in a query string, and the rest */
#define PULL_TIMEOUT_MS (10 * 60 * 1000)
#define PULL_REPLY_MAX (32u << 20)               /* the pull's progress stream */
#define STOP_SLACK_MS 30000                      /* the stop answers once the container is down */

uint64_t engine_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct engine_rt *rt_of(struct runtime *base)
{
	return (struct engine_rt *)base;
}

struct engine_task *engine_task_find(struct engine_rt *rt, const char *task_id)
{
	for (struct engine_task *t = rt->tasks; t != NULL; t = t->next) {
		if (strcmp(t->spec->task_id, task_id) == 0)
			return t;
	}
	return NULL;
}

bool engine_reply_failed(const struct engine_reply *r, long ok_a, long ok_b, char *out, size_t outlen)
{
	if (r->error[0] != '\0') {
		snprintf(out, outlen, "%s", r->error);
		return true;
	}
	if (r->status == ok_a || r->status == ok_b)
		return false;
	char msg[384];
	engine_json_error(r->body, r->len, msg, sizeof(msg));
	snprintf(out, outlen, "engine: %s (HTTP %ld)", msg, r->status);
	return true;
}

/* --- closing the runtime ------------------------------------------------ */

static void rt_freed(void *data)
{
	struct engine_rt *rt = data;
	if (rt->on_closed != NULL)
		rt->on_closed(&rt->base);
	free(rt->node_id);
	free(rt);
}

static void rt_maybe_closed(struct engine_rt *rt)
{
	if (!rt->closing || rt->tasks_alloc > 0 || rt->jobs > 0 || rt->http == NULL)
		return;
	struct engine_http *http = rt->http;
	rt->http = NULL;
	engine_http_free(http, rt_freed, rt);
}

void engine_rt_job_done(struct engine_rt *rt)
{
	rt->jobs--;
	rt_maybe_closed(rt);
}

/* --- task memory -------------------------------------------------------- */

static void task_maybe_free(struct engine_task *t)
{
	if (!t->released || t->in_reply || t->call != NULL || t->stop_call != NULL)
		return;
	struct engine_rt *rt = t->rt;
	free(t->ports);
	free(t->spec);
	free(t);
	rt->tasks_alloc--;
	rt_maybe_closed(rt);
}

void engine_task_release(struct engine_task *t)
{
	if (t->released)
		return; /* the owner closed the runtime from on_state, for instance */
	for (struct engine_task **p = &t->rt->tasks; *p != NULL; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->released = true;
	task_maybe_free(t);
}

struct engine_task *engine_task_new(struct engine_rt *rt, const struct runtime_task_spec *spec)
{
	struct engine_task *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->spec = runtime_task_spec_copy(spec)) == NULL) {
		free(t);
		return NULL;
	}
	t->rt = rt;
	t->status.state = RUNTIME_STATE_ACCEPTED;
	t->status.timestamp_ms = engine_wall_ms();
	rt->tasks_alloc++;
	return t;
}

void engine_task_link(struct engine_task *t)
{
	t->next = t->rt->tasks;
	t->rt->tasks = t;
}

/* --- reporting ---------------------------------------------------------- */

void engine_task_report(struct engine_task *t, enum runtime_state state, const char *message)
{
	uint64_t now = engine_wall_ms();
	t->status.state = state;
	snprintf(t->status.message, sizeof(t->status.message), "%s", message);
	t->status.timestamp_ms = now;
	if (state == RUNTIME_STATE_RUNNING)
		t->status.started_ms = now;
	if (runtime_state_is_terminal(state)) {
		t->status.finished_ms = now;
		t->step = ENGINE_STEP_ENDED;
	}
	if (!t->rt->closing)
		t->rt->base.on_state(t->rt->base.data, t->spec->task_id, &t->status);
}

/* Ends a task with err (may be NULL), then forgets it if closing. */
static void task_end(struct engine_task *t, enum runtime_state state, const char *message, const char *err)
{
	snprintf(t->status.err, sizeof(t->status.err), "%s", err ? err : "");
	if (t->stop_call != NULL) {
		engine_call_cancel(t->stop_call);
		t->stop_call = NULL;
	}
	engine_task_report(t, state, message);
	if (t->rt->closing)
		engine_task_release(t);
}

void engine_task_set_inspect(struct engine_task *t, const struct engine_inspect *in)
{
	t->status.pid = in->pid;
	struct runtime_port *ports = in->nports ? malloc(in->nports * sizeof(*ports)) : NULL;
	if (ports == NULL && in->nports > 0)
		return; /* the bindings stay unknown; the task runs all the same */
	for (size_t i = 0; i < in->nports; i++) {
		ports[i] = in->ports[i];
		for (size_t j = 0; j < t->spec->ports_len; j++) {
			if (t->spec->ports[j].target == ports[i].target && t->spec->ports[j].protocol == ports[i].protocol)
				ports[i].mode = t->spec->ports[j].mode;
		}
	}
	free(t->ports);
	t->ports = ports;
	t->nports = in->nports;
}

/* --- requests ----------------------------------------------------------- */

static void task_reply(void *data, const struct engine_reply *r);

/* Sends the request of the task's next step; false (the task failed with
 * err) when out of memory. */
static bool task_send(struct engine_task *t, enum engine_step step, const char *method, const char *json,
		      uint64_t timeout_ms, size_t max_body, const char *fmt, ...)
{
	char path[PATH_BYTES];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	t->step = step;
	if (n > 0 && (size_t)n < sizeof(path))
		t->call = engine_http_send(t->rt->http, method, path, json, timeout_ms, max_body, task_reply, t);
	return t->call != NULL;
}

static void stop_reply(void *data, const struct engine_reply *r);

static void send_stop(struct engine_task *t)
{
	char path[128];
	uint64_t secs = (t->stop_grace_ms + 999) / 1000;
	snprintf(path, sizeof(path), RUNTIME_ENGINE_API "/containers/%s/stop?t=%" PRIu64, t->status.container_id, secs);
	t->stop_call = engine_http_send(t->rt->http, "POST", path, NULL, secs * 1000 + STOP_SLACK_MS, ENGINE_REPLY_MAX,
					stop_reply, t);
	if (t->stop_call == NULL)
		log_warn("engine", "cannot send stop: out of memory", LF_STR("task", t->spec->task_id));
}

/* The wait ended the task, or the stop failed and the wait is abandoned. */
static void task_finish(struct engine_task *t, int code, const char *engine_err)
{
	char err[sizeof(t->status.err)] = "";
	t->status.exited = true;
	t->status.exit_code = code;
	if (engine_err[0] != '\0')
		snprintf(err, sizeof(err), "task: %s", engine_err);
	else if (code != 0 && !t->stop_requested)
		snprintf(err, sizeof(err), "task: non-zero exit (%d)", code);
	if (t->stop_requested && engine_err[0] == '\0')
		task_end(t, RUNTIME_STATE_SHUTDOWN, "shutdown", NULL);
	else if (err[0] == '\0')
		task_end(t, RUNTIME_STATE_COMPLETE, "finished", NULL);
	else
		task_end(t, RUNTIME_STATE_FAILED, t->status.message, err);
}

static void stop_reply(void *data, const struct engine_reply *r)
{
	struct engine_task *t = data;
	char why[448], err[512];
	t->stop_call = NULL;
	/* 304: it had stopped already; 404: it is gone. The wait tells the end. */
	if (!engine_reply_failed(r, 204, 304, why, sizeof(why)) || r->status == 404) {
		task_maybe_free(t);
		return;
	}
	log_warn("engine", "cannot stop container", LF_STR("task", t->spec->task_id),
		 LF_STR("container", t->status.container_id), LF_STR("error", why));
	if (t->call != NULL) {
		engine_call_cancel(t->call);
		t->call = NULL;
	}
	if (t->step != ENGINE_STEP_ENDED) {
		snprintf(err, sizeof(err), "stop container: %s", why);
		t->in_reply = true;
		task_finish(t, t->status.exit_code, err);
		t->in_reply = false;
	}
	task_maybe_free(t);
}

int engine_task_follow(struct engine_task *t)
{
	if (!task_send(t, ENGINE_STEP_WAIT, "POST", NULL, 0, ENGINE_REPLY_MAX, RUNTIME_ENGINE_API "/containers/%s/wait",
		       t->status.container_id))
		return -ENOMEM;
	if (t->stop_requested && t->stop_call == NULL)
		send_stop(t);
	return 0;
}

/* --- the walk ----------------------------------------------------------- */

static void step_create(struct engine_task *t)
{
	char name[RUNTIME_NAME_MAX * 2 + RUNTIME_ID_MAX + 64];
	char *body = engine_json_create_body(t->spec);
	engine_container_name(t->spec, name, sizeof(name));
	bool sent = body != NULL && task_send(t, ENGINE_STEP_CREATE, "POST", body, 60000, ENGINE_REPLY_MAX,
					      RUNTIME_ENGINE_API "/containers/create?name=%s", name);
	free(body);
	if (!sent)
		task_end(t, RUNTIME_STATE_REJECTED, "preparing", "task: out of memory");
}

static void on_image(struct engine_task *t, const struct engine_reply *r)
{
	char why[448], err[512];
	engine_task_report(t, RUNTIME_STATE_PREPARING, "preparing");
	if (t->stop_requested) {
		task_end(t, RUNTIME_STATE_SHUTDOWN, "shutdown", NULL);
		return;
	}
	if (!engine_reply_failed(r, 200, 200, why, sizeof(why))) {
		step_create(t);
		return;
	}
	if (r->status != 404) {
		snprintf(err, sizeof(err), "task: image %.128s: %.360s", t->spec->image, why);
		task_end(t, RUNTIME_STATE_REJECTED, "preparing", err);
		return;
	}
	char *from = engine_url_escape(t->spec->image);
	bool sent = from != NULL && task_send(t, ENGINE_STEP_PULL, "POST", NULL, PULL_TIMEOUT_MS, PULL_REPLY_MAX,
					      RUNTIME_ENGINE_API "/images/create?fromImage=%s", from);
	free(from);
	if (!sent)
		task_end(t, RUNTIME_STATE_REJECTED, "preparing", "task: out of memory");
}

/* Whatever the pull said (its errors come inside a 200 stream), the image
 * is there or not. */
static void on_pulled(struct engine_task *t, const struct engine_reply *r)
{
	char err[512];
	if (t->stop_requested) {
		task_end(t, RUNTIME_STATE_SHUTDOWN, "shutdown", NULL);
		return;
	}
	if (r->error[0] != '\0') {
		snprintf(err, sizeof(err), "task: pull %.128s: %.360s", t->spec->image, r->error);
		task_end(t, RUNTIME_STATE_REJECTED, "preparing", err);
		return;
	}
	if (!task_send(t, ENGINE_STEP_IMAGE_AGAIN, "GET", NULL, 30000, ENGINE_REPLY_MAX,
		       RUNTIME_ENGINE_API "/images/%s/json", t->spec->image))
		task_end(t, RUNTIME_STATE_REJECTED, "preparing", "task: out of memory");
}

static void on_image_again(struct engine_task *t, const struct engine_reply *r)
{
	char why[448], err[512];
	if (t->stop_requested) {
		task_end(t, RUNTIME_STATE_SHUTDOWN, "shutdown", NULL);
		return;
	}
	if (!engine_reply_failed(r, 200, 200, why, sizeof(why))) {
		step_create(t);
		return;
	}
	if (r->status == 404)
		snprintf(err, sizeof(err), "No such image: %.256s", t->spec->image);
	else
		snprintf(err, sizeof(err), "task: image %.128s: %.360s", t->spec->image, why);
	task_end(t, RUNTIME_STATE_REJECTED, "preparing", err);
}

static void on_created(struct engine_task *t, const struct engine_reply *r)
{
	char why[448], err[512];
	if (engine_reply_failed(r, 201, 200, why, sizeof(why)) ||
	    engine_json_created(r->body, r->len, t->status.container_id, why, sizeof(why)) != 0) {
		snprintf(err, sizeof(err), "task: create container: %s", why);
		task_end(t, RUNTIME_STATE_REJECTED, "preparing", err);
		return;
	}
	engine_task_report(t, RUNTIME_STATE_STARTING, "starting");
	if (t->stop_requested) {
		task_end(t, RUNTIME_STATE_SHUTDOWN, "shutdown", NULL);
		return;
	}
	if (!task_send(t, ENGINE_STEP_START, "POST", NULL, 60000, ENGINE_REPLY_MAX,
		       RUNTIME_ENGINE_API "/containers/%s/start", t->status.container_id))
		task_end(t, RUNTIME_STATE_FAILED, "starting", "task: out of memory");
}

static void on_started(struct engine_task *t, const struct engine_reply *r)
{
	char why[448], err[512];
	if (engine_reply_failed(r, 204, 304, why, sizeof(why))) {
		snprintf(err, sizeof(err), "task: start container: %s", why);
		task_end(t, RUNTIME_STATE_FAILED, "starting", err);
		return;
	}
	if (!task_send(t, ENGINE_STEP_INSPECT, "GET", NULL, 30000, ENGINE_REPLY_MAX,
		       RUNTIME_ENGINE_API "/containers/%s/json", t->status.container_id))
		task_end(t, RUNTIME_STATE_FAILED, "starting", "task: out of memory");
}

/* The container runs (or ran): what inspect tells is a bonus, the wait
 * decides the task's end either way. */
static void on_inspected(struct engine_task *t, const struct engine_reply *r)
{
	char why[448];
	struct engine_inspect *in = malloc(sizeof(*in));
	if (in != NULL && !engine_reply_failed(r, 200, 200, why, sizeof(why)) &&
	    engine_json_inspect(r->body, r->len, in, why, sizeof(why)) == 0)
		engine_task_set_inspect(t, in);
	else
		log_warn("engine", "cannot inspect started container", LF_STR("task", t->spec->task_id),
			 LF_STR("error", in ? why : "out of memory"));
	free(in);
	engine_task_report(t, RUNTIME_STATE_RUNNING, "started");
	if (t->step == ENGINE_STEP_ENDED || t->released)
		return; /* the owner closed the runtime from on_state */
	if (engine_task_follow(t) != 0)
		task_end(t, RUNTIME_STATE_FAILED, "started", "task: out of memory");
}

static void on_waited(struct engine_task *t, const struct engine_reply *r)
{
	char why[448], err[512], engine_err[256];
	int code = 0;
	if (engine_reply_failed(r, 200, 200, why, sizeof(why)) ||
	    engine_json_waited(r->body, r->len, &code, engine_err, sizeof(engine_err), why, sizeof(why)) != 0) {
		snprintf(err, sizeof(err), "task: wait for container: %s", why);
		task_end(t, RUNTIME_STATE_FAILED, t->status.message, err);
		return;
	}
	task_finish(t, code, engine_err);
}

static void task_reply(void *data, const struct engine_reply *r)
{
	struct engine_task *t = data;
	t->call = NULL;
	t->in_reply = true;
	switch (t->step) {
	case ENGINE_STEP_IMAGE: on_image(t, r); break;
	case ENGINE_STEP_PULL: on_pulled(t, r); break;
	case ENGINE_STEP_IMAGE_AGAIN: on_image_again(t, r); break;
	case ENGINE_STEP_CREATE: on_created(t, r); break;
	case ENGINE_STEP_START: on_started(t, r); break;
	case ENGINE_STEP_INSPECT: on_inspected(t, r); break;
	case ENGINE_STEP_WAIT: on_waited(t, r); break;
	case ENGINE_STEP_ENDED: break;
	}
	t->in_reply = false;
	task_maybe_free(t);
}

/* --- operations --------------------------------------------------------- */

static int engine_op_start(struct runtime *base, const struct runtime_task_spec *spec, char *err, size_t errlen)
{
	struct engine_rt *rt = rt_of(base);
	int rc;
	if (rt->closing) {
		snprintf(err, errlen, "engine runtime: closing");
		return -ESHUTDOWN;
	}
	if (rt->recovering) {
		snprintf(err, errlen, "engine runtime: recovering the previous run's containers");
		return -EBUSY;
	}
	if ((rc = runtime_task_spec_validate(spec, err, errlen)) != 0 ||
	    (rc = engine_image_check(spec->image, err, errlen)) != 0)
		return rc;
	if (engine_task_find(rt, spec->task_id) != NULL) {
		snprintf(err, errlen, "task %s: already started", spec->task_id);
		return -EEXIST;
	}
	struct engine_task *t = engine_task_new(rt, spec);
	if (t == NULL || !task_send(t, ENGINE_STEP_IMAGE, "GET", NULL, 30000, ENGINE_REPLY_MAX,
				    RUNTIME_ENGINE_API "/images/%s/json", spec->image)) {
		if (t != NULL) {
			t->released = true;
			task_maybe_free(t);
		}
		snprintf(err, errlen, "task %s: out of memory", spec->task_id);
		return -ENOMEM;
	}
	engine_task_link(t);
	rt->started = true;
	return 0;
}

static void task_stop(struct engine_task *t, uint64_t grace_ms)
{
	if (t->step == ENGINE_STEP_ENDED || t->stop_requested)
		return;
	t->stop_requested = true;
	t->stop_grace_ms = grace_ms;
	if (t->step == ENGINE_STEP_WAIT)
		send_stop(t);
	/* Earlier steps see the flag when their answer comes. */
}

static int engine_op_stop(struct runtime *base, const char *task_id, uint64_t grace_ms)
{
	struct engine_task *t = engine_task_find(rt_of(base), task_id);
	if (t == NULL)
		return -ENOENT;
	task_stop(t, grace_ms);
	return 0;
}

static int engine_op_inspect(struct runtime *base, const char *task_id, struct runtime_status *out)
{
	struct engine_task *t = engine_task_find(rt_of(base), task_id);
	if (t == NULL)
		return -ENOENT;
	*out = t->status;
	return 0;
}

static void engine_op_close(struct runtime *base, void (*on_closed)(struct runtime *rt))
{
	struct engine_rt *rt = rt_of(base);
	if (rt->closing)
		return;
	rt->closing = true;
	rt->on_closed = on_closed;
	for (struct engine_task *t = rt->tasks, *next; t != NULL; t = next) {
		next = t->next;
		if (t->step == ENGINE_STEP_ENDED) {
			engine_task_release(t);
		} else if (t->step <= ENGINE_STEP_IMAGE_AGAIN && t->call != NULL) {
			/* No container yet: nothing to stop, no need to wait for a pull. */
			engine_call_cancel(t->call);
			t->call = NULL;
			engine_task_release(t);
		} else {
			task_stop(t, t->spec->stop_grace_ms ? t->spec->stop_grace_ms : RUNTIME_STOP_GRACE_DEFAULT_MS);
		}
	}
	rt_maybe_closed(rt);
}

static const struct runtime_ops engine_ops = {
	.start = engine_op_start,
	.stop = engine_op_stop,
	.remove = engine_op_remove,
	.logs = engine_op_logs,
	.inspect = engine_op_inspect,
	.recover = engine_op_recover,
	.close = engine_op_close,
};

int runtime_engine_ports(struct runtime *base, const char *task_id, struct runtime_port *out, size_t cap, size_t *n)
{
	if (base->ops != &engine_ops)
		return -EINVAL;
	struct engine_task *t = engine_task_find(rt_of(base), task_id);
	if (t == NULL)
		return -ENOENT;
	*n = t->nports < cap ? t->nports : cap;
	if (*n > 0)
		memcpy(out, t->ports, *n * sizeof(*out));
	return 0;
}

int runtime_engine_new(uv_loop_t *loop, const struct runtime_engine_config *cfg, runtime_state_cb on_state, void *data,
		       struct runtime **out, char *err, size_t errlen)
{
	struct stat st;
	if (cfg->socket_path == NULL || cfg->socket_path[0] == '\0' || on_state == NULL) {
		snprintf(err, errlen, "engine runtime: no socket path or no state callback");
		return -EINVAL;
	}
	if (stat(cfg->socket_path, &st) != 0) {
		int rc = errno == ENOTDIR ? -ENOENT : -errno;
		snprintf(err, errlen, "engine runtime: %s: %s", cfg->socket_path, strerror(errno));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "engine runtime: %s is not a socket", cfg->socket_path);
		return -ENOTSOCK;
	}
	struct engine_rt *rt = calloc(1, sizeof(*rt));
	if (rt == NULL || (rt->node_id = strdup(cfg->node_id ? cfg->node_id : "")) == NULL) {
		free(rt);
		snprintf(err, errlen, "engine runtime: out of memory");
		return -ENOMEM;
	}
	int rc = engine_http_new(loop, cfg->socket_path, &rt->http, err, errlen);
	if (rc != 0) {
		free(rt->node_id);
		free(rt);
		return rc;
	}
	rt->base = (struct runtime){.ops = &engine_ops, .name = "engine", .loop = loop, .on_state = on_state, .data = data};
	rt->want_task = cfg->want_task;
	*out = &rt->base;
	return 0;
}
