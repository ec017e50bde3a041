/* engine_jobs: the engine runtime's requests that outlive a task: remove, logs, recover after a crash, and finding an engine. */
#include "engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "swarmnode/log.h"

static struct engine_rt *rt_of(struct runtime *base)
{
	return (struct engine_rt *)base;
}

/* Sends a runtime-level request; the job counts until its callback. */
static struct engine_call *job_send(struct engine_rt *rt, const char *method, const char *path, uint64_t timeout_ms,
				    size_t max_body, engine_reply_cb cb, void *data)
{
	struct engine_call *c = engine_http_send(rt->http, method, path, NULL, timeout_ms, max_body, cb, data);
	if (c != NULL)
		rt->jobs++;
	return c;
}

static struct engine_call *send_delete(struct engine_rt *rt, const char *container, engine_reply_cb cb, void *data)
{
	char path[128];
	snprintf(path, sizeof(path), RUNTIME_ENGINE_API "/containers/%s?force=1&v=1", container);
	return job_send(rt, "DELETE", path, 60000, ENGINE_REPLY_MAX, cb, data);
}

/* --- remove ------------------------------------------------------------- */

struct remove_job {
	struct engine_rt *rt;
	char task_id[RUNTIME_ID_MAX + 1];
	char container[ENGINE_ID_MAX + 1];
};

static void remove_reply(void *data, const struct engine_reply *r)
{
	struct remove_job *job = data;
	char why[448];
	if (engine_reply_failed(r, 204, 200, why, sizeof(why)) && r->status != 404)
		log_warn("engine", "cannot remove container", LF_STR("task", job->task_id),
			 LF_STR("container", job->container), LF_STR("error", why));
	struct engine_rt *rt = job->rt;
	free(job);
	engine_rt_job_done(rt);
}

int engine_op_remove(struct runtime *base, const char *task_id)
{
	struct engine_rt *rt = rt_of(base);
	if (rt->closing)
		return -ESHUTDOWN;
	struct engine_task *t = engine_task_find(rt, task_id);
	if (t == NULL)
		return -ENOENT;
	if (t->step != ENGINE_STEP_ENDED)
		return -EBUSY;
	if (t->status.container_id[0] != '\0' && !t->container_gone) {
		struct remove_job *job = calloc(1, sizeof(*job));
		if (job == NULL)
			return -ENOMEM;
		job->rt = rt;
		snprintf(job->task_id, sizeof(job->task_id), "%s", task_id);
		snprintf(job->container, sizeof(job->container), "%s", t->status.container_id);
		if (send_delete(rt, job->container, remove_reply, job) == NULL) {
			free(job);
			return -ENOMEM;
		}
	}
	engine_task_release(t);
	return 0;
}

/* --- logs --------------------------------------------------------------- */

struct logs_job {
	struct engine_rt *rt;
	char task_id[RUNTIME_ID_MAX + 1];
	runtime_logs_cb cb;
	void *data;
};

static int logs_failure(const struct logs_job *job, const struct engine_reply *r)
{
	char why[448];
	if (!engine_reply_failed(r, 200, 200, why, sizeof(why)))
		return 0;
	log_warn("engine", "cannot read task logs", LF_STR("task", job->task_id), LF_STR("error", why));
	if (r->too_big)
		return -EFBIG;
	if (r->status == 404)
		return -ENOENT;
	return r->error[0] != '\0' ? -ECONNREFUSED : -EIO;
}

static void logs_reply(void *data, const struct engine_reply *r)
{
	struct logs_job *job = data;
	struct engine_rt *rt = job->rt;
	struct runtime_log_line *lines = NULL;
	size_t n = 0;
	char *buf = NULL, why[160];
	int rc = logs_failure(job, r);
	if (rc == 0)
		rc = engine_logs_split(r->body, r->len, true, engine_wall_ms() * 1000000u, &lines, &n, &buf, why,
				       sizeof(why));
	if (rc == -EINVAL)
		log_warn("engine", "malformed logs answer", LF_STR("task", job->task_id), LF_STR("error", why));
	if (rt->closing)
		job->cb(job->data, UV_ECANCELED, NULL, 0);
	else
		job->cb(job->data, rc, rc == 0 ? lines : NULL, rc == 0 ? n : 0);
	free(lines);
	free(buf);
	free(job);
	engine_rt_job_done(rt);
}

int engine_op_logs(struct runtime *base, const char *task_id, size_t tail, runtime_logs_cb cb, void *data)
{
	struct engine_rt *rt = rt_of(base);
	if (rt->closing)
		return -ESHUTDOWN;
	struct engine_task *t = engine_task_find(rt, task_id);
	if (t == NULL || t->status.container_id[0] == '\0' || t->container_gone)
		return -ENOENT; /* no container: not created yet, or removed by recover() */
	char path[192], count[24] = "all";
	if (tail != RUNTIME_LOGS_ALL)
		snprintf(count, sizeof(count), "%zu", tail);
	snprintf(path, sizeof(path), RUNTIME_ENGINE_API "/containers/%s/logs?stdout=1&stderr=1&timestamps=1&tail=%s",
		 t->status.container_id, count);
	struct logs_job *job = calloc(1, sizeof(*job));
	if (job == NULL)
		return -ENOMEM;
	*job = (struct logs_job){.rt = rt, .cb = cb, .data = data};
	snprintf(job->task_id, sizeof(job->task_id), "%s", task_id);
	if (job_send(rt, "GET", path, 60000, RUNTIME_ENGINE_LOGS_MAX_BYTES, logs_reply, job) == NULL) {
		free(job);
		return -ENOMEM;
	}
	return 0;
}

/* --- recover ------------------------------------------------------------ */

/* One container at a time: inspect it, then adopt it or remove it. */
struct recover_job {
	struct engine_rt *rt;
	void (*on_done)(struct runtime *rt, int status);
	char (*ids)[ENGINE_ID_MAX + 1];  /* malloc'd */
	size_t n, next;
	int rc;                          /* the first failure, reported to on_done */
	struct engine_inspect in;        /* the container at hand */
};

static void recover_next(struct recover_job *rj);

static void recover_finish(struct recover_job *rj)
{
	struct engine_rt *rt = rj->rt;
	rt->recovering = false;
	if (!rt->closing)
		rj->on_done(&rt->base, rj->rc);
	free(rj->ids);
	free(rj);
	engine_rt_job_done(rt);
}

static void recover_fail(struct recover_job *rj, int rc, const char *what, const char *why)
{
	log_warn("engine", what, LF_STR("error", why));
	if (rj->rc == 0)
		rj->rc = rc;
}

/* A task for a container found at recovery, from its labels. */
static struct engine_task *recovered_task(struct recover_job *rj)
{
	const struct engine_inspect *in = &rj->in;
	struct runtime_task_spec spec = {
		.task_id = in->task_id,
		.service_id = in->service_id,
		.service_name = in->service_name,
		.node_id = in->node_id,
		.image = in->image,
	};
	struct engine_task *t = engine_task_new(rj->rt, &spec);
	if (t == NULL) {
		recover_fail(rj, -ENOMEM, "cannot recover task: out of memory", in->task_id);
		return NULL;
	}
	snprintf(t->status.container_id, sizeof(t->status.container_id), "%s", in->id);
	engine_task_set_inspect(t, in);
	engine_task_link(t);
	return t;
}

static void adopt(struct recover_job *rj)
{
	struct engine_task *t = recovered_task(rj);
	if (t == NULL)
		return;
	log_info("engine", "adopting container left by a previous daemon", LF_STR("task", rj->in.task_id),
		 LF_STR("container", rj->in.id));
	engine_task_report(t, RUNTIME_STATE_RUNNING, "started");
	if (t->released)
		return; /* closed from on_state */
	if (engine_task_follow(t) != 0) {
		snprintf(t->status.err, sizeof(t->status.err), "task: out of memory");
		engine_task_report(t, RUNTIME_STATE_FAILED, "started");
	}
}

/* Reports a container that was removed (removed: true) or could not be
 * (why says why). */
static void report_removed(struct recover_job *rj, bool removed, const char *why)
{
	const struct engine_inspect *in = &rj->in;
	char err[512] = "";
	enum runtime_state state = RUNTIME_STATE_FAILED;
	if (!removed)
		snprintf(err, sizeof(err), "task: cannot remove container %.64s left by the previous daemon: %.380s", in->id,
			 why);
	else if (strcmp(in->state, "exited") != 0)
		snprintf(err, sizeof(err), "task: removed at daemon restart (container was %s)", in->state);
	else if (in->exit_code != 0)
		snprintf(err, sizeof(err), "task: non-zero exit (%d)", in->exit_code);
	else
		state = RUNTIME_STATE_COMPLETE;
	log_info("engine", "container left by a previous daemon", LF_STR("task", in->task_id),
		 LF_STR("container", in->id), LF_STR("state", in->state), LF_BOOL("removed", removed));
	char bad_id[160];
	if (runtime_task_id_check(in->task_id, bad_id, sizeof(bad_id)) != 0 || engine_task_find(rj->rt, in->task_id) != NULL)
		return; /* no task to tell about, or one already told */
	struct engine_task *t = recovered_task(rj);
	if (t == NULL)
		return;
	t->container_gone = removed;
	t->status.exited = strcmp(in->state, "exited") == 0;
	t->status.exit_code = in->exit_code;
	snprintf(t->status.err, sizeof(t->status.err), "%s", err);
	engine_task_report(t, state, "recovered");
}

static void recover_removed(void *data, const struct engine_reply *r)
{
	struct recover_job *rj = data;
	char why[448];
	bool failed = engine_reply_failed(r, 204, 200, why, sizeof(why)) && r->status != 404;
	engine_rt_job_done(rj->rt);
	if (rj->rt->closing) {
		recover_finish(rj);
		return;
	}
	if (failed)
		recover_fail(rj, -EIO, "cannot remove container left by a previous daemon", why);
	report_removed(rj, !failed, why);
	recover_next(rj);
}

static void recover_inspected(void *data, const struct engine_reply *r)
{
	struct recover_job *rj = data;
	struct engine_rt *rt = rj->rt;
	char why[448];
	engine_rt_job_done(rt);
	if (rt->closing) {
		recover_finish(rj);
		return;
	}
	if (r->status == 404) { /* gone meanwhile */
		recover_next(rj);
		return;
	}
	if (engine_reply_failed(r, 200, 200, why, sizeof(why)) ||
	    engine_json_inspect(r->body, r->len, &rj->in, why, sizeof(why)) != 0) {
		recover_fail(rj, -EIO, "cannot inspect container left by a previous daemon", why);
		recover_next(rj);
		return;
	}
	bool valid = runtime_task_id_check(rj->in.task_id, why, sizeof(why)) == 0;
	if (rj->in.running && valid && engine_task_find(rt, rj->in.task_id) == NULL && rt->want_task != NULL &&
	    rt->want_task(rt->base.data, rj->in.task_id)) {
		adopt(rj);
		recover_next(rj);
		return;
	}
	if (send_delete(rt, rj->in.id, recover_removed, rj) == NULL) {
		recover_fail(rj, -ENOMEM, "cannot remove container: out of memory", rj->in.id);
		recover_finish(rj);
	}
}

static void recover_next(struct recover_job *rj)
{
	char path[128];
	if (rj->next == rj->n) {
		recover_finish(rj);
		return;
	}
	snprintf(path, sizeof(path), RUNTIME_ENGINE_API "/containers/%s/json", rj->ids[rj->next++]);
	if (job_send(rj->rt, "GET", path, 30000, ENGINE_REPLY_MAX, recover_inspected, rj) == NULL) {
		recover_fail(rj, -ENOMEM, "cannot inspect container: out of memory", path);
		recover_finish(rj);
	}
}

static void recover_listed(void *data, const struct engine_reply *r)
{
	struct recover_job *rj = data;
	char why[448];
	engine_rt_job_done(rj->rt);
	if (rj->rt->closing) {
		recover_finish(rj);
		return;
	}
	int rc = -EIO;
	if (engine_reply_failed(r, 200, 200, why, sizeof(why)) ||
	    (rc = engine_json_list(r->body, r->len, &rj->ids, &rj->n, why, sizeof(why))) != 0) {
		recover_fail(rj, rc, "cannot list containers left by a previous daemon", why);
		recover_finish(rj);
		return;
	}
	recover_next(rj);
}

/* GET /containers/json?all=1&filters={"label":[managed, node]}. malloc'd. */
static char *list_path(const struct engine_rt *rt)
{
	json_t *labels = json_pack("[s]", "swarmnode.managed=1");
	char node[RUNTIME_NAME_MAX + 32];
	snprintf(node, sizeof(node), "com.docker.swarm.node.id=%s", rt->node_id);
	if (labels != NULL && rt->node_id[0] != '\0' && json_array_append_new(labels, json_string(node)) != 0) {
		json_decref(labels);
		return NULL;
	}
	json_t *filters = labels ? json_pack("{s:o}", "label", labels) : NULL;
	char *json = filters ? json_dumps(filters, JSON_COMPACT) : NULL;
	char *escaped = json ? engine_url_escape(json) : NULL;
	char *path = escaped ? malloc(strlen(escaped) + 64) : NULL;
	if (path != NULL)
		sprintf(path, RUNTIME_ENGINE_API "/containers/json?all=1&filters=%s", escaped);
	json_decref(filters);
	free(json);
	free(escaped);
	return path;
}

int engine_op_recover(struct runtime *base, void (*on_done)(struct runtime *rt, int status))
{
	struct engine_rt *rt = rt_of(base);
	if (rt->closing)
		return -ESHUTDOWN;
	if (rt->started || rt->recovering || rt->recovered)
		return -EBUSY;
	struct recover_job *rj = calloc(1, sizeof(*rj));
	char *path = list_path(rt);
	if (rj != NULL) {
		rj->rt = rt;
		rj->on_done = on_done;
	}
	if (rj == NULL || path == NULL ||
	    job_send(rt, "GET", path, 30000, ENGINE_REPLY_MAX, recover_listed, rj) == NULL) {
		free(rj);
		free(path);
		return -ENOMEM;
	}
	free(path);
	rt->recovering = rt->recovered = true;
	rt->jobs++; /* the job itself, beside its requests: ends in recover_finish */
	return 0;
}

/* --- finding an engine -------------------------------------------------- */

static bool is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int runtime_engine_ping(const char *socket_path)
{
	if (!is_socket(socket_path))
		return -ENOENT;
	return engine_http_ping_blocking(socket_path, 1000);
}

int runtime_engine_detect(char *out, size_t len)
{
	const char *candidates[4];
	char xdg[4096];
	size_t n = 0;
	const char *host = getenv("DOCKER_HOST"), *runtime_dir = getenv("XDG_RUNTIME_DIR");
	if (host != NULL && strncmp(host, "unix://", 7) == 0)
		candidates[n++] = host + 7;
	candidates[n++] = "/var/run/docker.sock";
	candidates[n++] = "/run/podman/podman.sock";
	if (runtime_dir != NULL && runtime_dir[0] != '\0' &&
	    (size_t)snprintf(xdg, sizeof(xdg), "%s/podman/podman.sock", runtime_dir) < sizeof(xdg))
		candidates[n++] = xdg;
	for (size_t i = 0; i < n; i++) {
		if (!is_socket(candidates[i]))
			continue;
		int rc = engine_http_ping_blocking(candidates[i], 1000);
		if (rc == -ELIBACC)
			return rc;
		if (rc != 0)
			continue;
		if (strlen(candidates[i]) >= len)
			return -ENAMETOOLONG;
		snprintf(out, len, "%s", candidates[i]);
		return 0;
	}
	return -ENOENT;
}
