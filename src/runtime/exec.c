/* exec: the exec runtime's tasks: prepare off the loop, spawn in a new session, pipe output to the log, stop with SIGTERM then SIGKILL, exit status to task state. */
#include "exec_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "swarmnode/log.h"

/* After the program exits, how long a process that left its group may keep
 * the output pipes open before they are closed anyway. */
#define EXEC_DRAIN_MS 2000

struct exec_stream {
	uv_pipe_t pipe;               /* data = the task */
	struct exec_line_buf lines;
	bool open;                    /* until its close callback */
};

/* What the thread pool finds out before the spawn: kept apart from the
 * task because a running task no longer needs any of it. */
struct exec_prepare {
	uv_work_t work;                 /* data = this */
	struct exec_task *task;
	int rc;
	char program[4096];             /* the resolved path */
	char err[512];                  /* why it failed, when rc is not 0 */
};

struct exec_task {
	struct exec_task *next;
	struct exec_rt *rt;
	struct runtime_task_spec *spec; /* owned copy */
	char *dir;                      /* DATA/tasks/<id>, malloc'd */
	struct runtime_status status;
	struct exec_strv argv, env;     /* built at start(), freed after the spawn */
	struct exec_prepare *prepare;   /* malloc'd at start(), freed when the job is done; NULL then */
	uv_process_t proc;              /* data = this */
	bool proc_open;
	struct exec_stream out, err;
	bool paused;                    /* pipes not read: the log is behind */
	struct exec_log log;
	uv_timer_t timer;               /* the grace period, then the drain deadline; data = this */
	bool timer_open;
	bool spawned;
	bool exited;
	int64_t exit_status;
	int term_signal;
	bool stop_requested;
	char fail_err[256];             /* the runtime's own reason to fail the task, "" if none */
	bool terminal;                  /* the terminal state has been reached */
	bool released;                  /* forgotten: freed once its handles are closed */
};

uint64_t exec_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void exec_task_dir(const struct exec_rt *rt, const char *task_id, char *out, size_t len)
{
	/* Both parts are bounded (runtime_exec_new, runtime_task_id_check). */
	size_t a = strlen(rt->tasks_dir), b = strlen(task_id);
	if (a + 1 + b + 1 > len) {
		out[0] = '\0';
		return;
	}
	memcpy(out, rt->tasks_dir, a);
	out[a] = '/';
	memcpy(out + a + 1, task_id, b + 1);
}

char *exec_task_dir_new(const struct exec_rt *rt, const char *task_id)
{
	size_t len = strlen(rt->tasks_dir) + 1 + strlen(task_id) + 1;
	char *dir = malloc(len);
	if (dir != NULL)
		exec_task_dir(rt, task_id, dir, len);
	return dir;
}

struct exec_task *exec_task_find(struct exec_rt *rt, const char *task_id)
{
	for (struct exec_task *t = rt->tasks; t != NULL; t = t->next) {
		if (strcmp(t->spec->task_id, task_id) == 0)
			return t;
	}
	return NULL;
}

bool exec_task_is_terminal(const struct exec_task *t)
{
	return t->terminal;
}

static struct exec_rt *rt_of(struct runtime *base)
{
	return (struct exec_rt *)base;
}

/* --- closing the runtime ------------------------------------------------ */

static void rt_closed(uv_handle_t *h)
{
	struct exec_rt *rt = h->data;
	if (rt->on_closed != NULL)
		rt->on_closed(&rt->base);
	free(rt->path_default);
	free(rt->tasks_dir);
	free(rt);
}

static void rt_maybe_closed(struct exec_rt *rt)
{
	if (!rt->closing || rt->tasks_alloc > 0 || rt->works > 0 || uv_is_closing((uv_handle_t *)&rt->closer))
		return;
	uv_close((uv_handle_t *)&rt->closer, rt_closed);
}

void exec_rt_work_done(struct exec_rt *rt)
{
	rt->works--;
	rt_maybe_closed(rt);
}

/* --- task memory -------------------------------------------------------- */

static void task_maybe_free(struct exec_task *t)
{
	if (!t->released || t->timer_open || t->proc_open || t->out.open || t->err.open || t->prepare != NULL ||
	    exec_log_busy(&t->log))
		return;
	struct exec_rt *rt = t->rt;
	exec_log_close(&t->log);
	exec_line_discard(&t->out.lines);
	exec_line_discard(&t->err.lines);
	exec_strv_free(&t->argv);
	exec_strv_free(&t->env);
	free(t->dir);
	free(t->spec);
	free(t);
	rt->tasks_alloc--;
	rt_maybe_closed(rt);
}

static void timer_closed(uv_handle_t *h)
{
	struct exec_task *t = h->data;
	t->timer_open = false;
	task_maybe_free(t);
}

void exec_task_release(struct exec_task *t)
{
	struct exec_rt *rt = t->rt;
	if (t->released)
		return; /* the owner closed the runtime from on_state, for instance */
	for (struct exec_task **p = &rt->tasks; *p != NULL; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->released = true;
	uv_close((uv_handle_t *)&t->timer, timer_closed);
}

/* --- reporting ---------------------------------------------------------- */

static void task_report(struct exec_task *t, enum runtime_state state, const char *message)
{
	uint64_t now = exec_wall_ms();
	t->status.state = state;
	snprintf(t->status.message, sizeof(t->status.message), "%s", message);
	t->status.timestamp_ms = now;
	if (state == RUNTIME_STATE_RUNNING)
		t->status.started_ms = now;
	if (runtime_state_is_terminal(state)) {
		t->status.finished_ms = now;
		t->terminal = true;
	}
	if (!t->rt->closing)
		t->rt->base.on_state(t->rt->base.data, t->spec->task_id, &t->status);
}

/* Reports the end of a task that never ran, then forgets it if closing. */
static void task_end_unstarted(struct exec_task *t, enum runtime_state state, const char *message)
{
	task_report(t, state, message);
	if (t->rt->closing)
		exec_task_release(t);
}

static void task_set_exit_status(struct exec_task *t)
{
	struct runtime_status *st = &t->status;
	st->exited = true;
	st->exit_code = t->term_signal != 0 ? 128 + t->term_signal : (int)t->exit_status;
	if (t->fail_err[0] != '\0')
		snprintf(st->err, sizeof(st->err), "%s", t->fail_err);
	else if (t->stop_requested || (t->term_signal == 0 && t->exit_status == 0))
		st->err[0] = '\0';
	else if (t->term_signal != 0)
		snprintf(st->err, sizeof(st->err), "task: killed by signal %d", t->term_signal);
	else
		snprintf(st->err, sizeof(st->err), "task: non-zero exit (%lld)", (long long)t->exit_status);
}

/* The process and everything it held are gone: report how it ended. */
static void task_maybe_finish(struct exec_task *t)
{
	if (t->terminal || !t->exited || t->proc_open || t->out.open || t->err.open || exec_log_busy(&t->log))
		return;
	uv_timer_stop(&t->timer);
	exec_log_close(&t->log);
	if (t->log.error != 0)
		log_warn("exec", "task log incomplete", LF_STR("task", t->spec->task_id),
			 LF_STR("error", uv_strerror(t->log.error)));
	int rc = exec_pid_record_remove(t->dir);
	if (rc != 0)
		log_warn("exec", "cannot remove process record", LF_STR("task", t->spec->task_id),
			 LF_STR("error", strerror(-rc)));
	task_set_exit_status(t);
	if (t->fail_err[0] == '\0' && t->stop_requested)
		task_report(t, RUNTIME_STATE_SHUTDOWN, "shutdown");
	else if (t->status.err[0] == '\0')
		task_report(t, RUNTIME_STATE_COMPLETE, "finished");
	else
		task_report(t, RUNTIME_STATE_FAILED, t->status.message);
	if (t->rt->closing)
		exec_task_release(t);
}

/* --- output ------------------------------------------------------------- */

static void stream_closed(uv_handle_t *h)
{
	struct exec_task *t = h->data;
	struct exec_stream *s = (uv_pipe_t *)h == &t->out.pipe ? &t->out : &t->err;
	s->open = false;
	task_maybe_finish(t);
	task_maybe_free(t);
}

static void stream_close(struct exec_task *t, struct exec_stream *s)
{
	if (!s->open || uv_is_closing((uv_handle_t *)&s->pipe))
		return;
	exec_line_flush(&s->lines, &t->log);
	uv_close((uv_handle_t *)&s->pipe, stream_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char chunk[65536];
	/* One loop thread, and each read is consumed before the next: a shared
	 * buffer keeps idle tasks from holding one each. */
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void pipes_set_reading(struct exec_task *t, bool on);

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct exec_task *t = stream->data;
	struct exec_stream *s = (uv_pipe_t *)stream == &t->out.pipe ? &t->out : &t->err;
	if (nread < 0) {
		stream_close(t, s);
		return;
	}
	exec_line_feed(&s->lines, &t->log, buf->base, (size_t)nread);
	if (!t->paused && t->log.pending_len > EXEC_LOG_PENDING_HIGH) {
		t->paused = true;
		pipes_set_reading(t, false);
	}
}

static void pipes_set_reading(struct exec_task *t, bool on)
{
	struct exec_stream *streams[2] = {&t->out, &t->err};
	for (int i = 0; i < 2; i++) {
		uv_stream_t *p = (uv_stream_t *)&streams[i]->pipe;
		if (!streams[i]->open || uv_is_closing((uv_handle_t *)p))
			continue;
		int rc = on ? uv_read_start(p, alloc_cb, read_cb) : uv_read_stop(p);
		if (rc != 0)
			stream_close(t, streams[i]);
	}
}

static void log_written(struct exec_log *lg)
{
	struct exec_task *t = lg->data;
	if (t->paused && lg->pending_len < EXEC_LOG_PENDING_HIGH / 2) {
		t->paused = false;
		pipes_set_reading(t, true);
	}
	task_maybe_finish(t);
	task_maybe_free(t);
}

/* --- the process -------------------------------------------------------- */

static void group_signal(struct exec_task *t, int sig)
{
	/* The group may already be empty: ESRCH is the normal answer then. */
	if (kill((pid_t)-t->proc.pid, sig) != 0 && errno != ESRCH)
		log_warn("exec", "cannot signal task", LF_STR("task", t->spec->task_id), LF_INT("signal", sig),
			 LF_STR("error", strerror(errno)));
}

static void timer_cb(uv_timer_t *timer)
{
	struct exec_task *t = timer->data;
	if (!t->exited) {
		log_info("exec", "grace period over, killing task", LF_STR("task", t->spec->task_id),
			 LF_UINT("pid", (uint64_t)t->proc.pid));
		group_signal(t, SIGKILL);
		return;
	}
	/* Something that left the group holds the pipes: stop waiting for it. */
	stream_close(t, &t->out);
	stream_close(t, &t->err);
}

static void proc_closed(uv_handle_t *h)
{
	struct exec_task *t = h->data;
	t->proc_open = false;
	task_maybe_finish(t);
	task_maybe_free(t);
}

static void exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct exec_task *t = proc->data;
	t->exited = true;
	t->exit_status = exit_status;
	t->term_signal = term_signal;
	/* A container's processes die with its init; so do the program's. */
	group_signal(t, SIGKILL);
	uv_close((uv_handle_t *)proc, proc_closed);
	uv_timer_stop(&t->timer);
	uv_timer_start(&t->timer, timer_cb, EXEC_DRAIN_MS, 0);
}

static void apply_limits(struct exec_task *t)
{
	if (t->spec->memory_bytes <= 0)
		return;
	struct rlimit lim = {.rlim_cur = (rlim_t)t->spec->memory_bytes, .rlim_max = (rlim_t)t->spec->memory_bytes};
	if (prlimit(t->proc.pid, RLIMIT_AS, &lim, NULL) != 0)
		snprintf(t->fail_err, sizeof(t->fail_err), "task: cannot apply memory limit: %s", strerror(errno));
}

/* Records the process for recover(); without a record it could outlive a
 * crash of the daemon unseen, so a task that cannot be recorded is failed.
 * Written on the loop, right after the spawn, because every moment between
 * the two is a moment a crash would leak the process; without an fsync it
 * costs an open, a write and a rename. */
static void record_process(struct exec_task *t)
{
	struct exec_pid_record rec;
	int rc = exec_pid_record_fill(&rec, t->proc.pid);
	if (rc == -ESRCH)
		return; /* already gone: exit_cb follows */
	if (rc == 0)
		rc = exec_pid_record_write(t->dir, &rec);
	if (rc != 0)
		snprintf(t->fail_err, sizeof(t->fail_err), "task: cannot record process %d: %s", t->proc.pid,
			 strerror(-rc));
}

static int spawn_process(struct exec_task *t, const char *program)
{
	uv_loop_t *loop = t->rt->base.loop;
	uv_pipe_init(loop, &t->out.pipe, 0);
	uv_pipe_init(loop, &t->err.pipe, 0);
	t->out.pipe.data = t->err.pipe.data = t;
	t->out.open = t->err.open = true;
	uv_stdio_container_t stdio[3] = {
		{.flags = UV_IGNORE},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&t->out.pipe},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&t->err.pipe},
	};
	uv_process_options_t opts = {
		.exit_cb = exit_cb,
		.file = program,
		.args = t->argv.v,
		.env = t->env.v,
		.cwd = t->dir,
		.flags = UV_PROCESS_DETACHED,
		.stdio_count = 3,
		.stdio = stdio,
	};
	t->proc.data = t;
	return uv_spawn(loop, &t->proc, &opts);
}

static void task_start_process(struct exec_task *t, const char *program)
{
	task_report(t, RUNTIME_STATE_STARTING, "starting");
	int rc = spawn_process(t, program);
	exec_strv_free(&t->argv);
	exec_strv_free(&t->env);
	t->proc_open = true; /* a failed uv_spawn leaves the handle to close too */
	if (rc != 0) {
		snprintf(t->status.err, sizeof(t->status.err), "exec: \"%s\": %s", t->spec->image, uv_strerror(rc));
		uv_close((uv_handle_t *)&t->proc, proc_closed);
		stream_close(t, &t->out);
		stream_close(t, &t->err);
		task_end_unstarted(t, RUNTIME_STATE_FAILED, "starting");
		return;
	}
	t->spawned = true;
	t->status.pid = t->proc.pid;
	apply_limits(t);
	record_process(t);
	if (t->fail_err[0] != '\0') {
		t->stop_requested = true;
		group_signal(t, SIGKILL);
	}
	pipes_set_reading(t, true);
	task_report(t, RUNTIME_STATE_RUNNING, "started");
}

static void prepare_work(uv_work_t *w)
{
	struct exec_prepare *job = w->data;
	struct exec_task *t = job->task;
	if (mkdir(t->dir, 0700) != 0 && errno != EEXIST) {
		job->rc = -errno;
		snprintf(job->err, sizeof(job->err), "task: cannot create %.256s: %s", t->dir, strerror(errno));
		return;
	}
	job->rc = exec_find_program(t->spec->image, exec_env_get(&t->env, "PATH"), job->program, sizeof(job->program),
				    job->err, sizeof(job->err));
}

static void prepare_done(uv_work_t *w, int status)
{
	struct exec_prepare *job = w->data;
	struct exec_task *t = job->task;
	t->prepare = NULL;
	task_report(t, RUNTIME_STATE_PREPARING, "preparing");
	if (status != 0 && job->rc == 0) {
		job->rc = status;
		snprintf(job->err, sizeof(job->err), "task: preparation cancelled");
	}
	if (t->stop_requested) {
		task_end_unstarted(t, RUNTIME_STATE_SHUTDOWN, "shutdown");
	} else if (job->rc != 0) {
		snprintf(t->status.err, sizeof(t->status.err), "%s", job->err);
		task_end_unstarted(t, RUNTIME_STATE_REJECTED, "preparing");
	} else {
		task_start_process(t, job->program);
	}
	free(job);
	task_maybe_free(t);
}

/* --- operations --------------------------------------------------------- */

static struct exec_task *task_new(struct exec_rt *rt, const struct runtime_task_spec *spec, char *err, size_t errlen,
				  int *rc)
{
	struct exec_task *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->spec = runtime_task_spec_copy(spec)) == NULL ||
	    (t->dir = exec_task_dir_new(rt, spec->task_id)) == NULL ||
	    (t->prepare = calloc(1, sizeof(*t->prepare))) == NULL) {
		*rc = -ENOMEM;
		goto err_after_alloc;
	}
	if ((*rc = exec_build_argv(spec, &t->argv, err, errlen)) != 0 ||
	    (*rc = exec_build_env(spec, rt->path_default, &t->env)) != 0)
		goto err_after_alloc;
	t->rt = rt;
	t->prepare->work.data = t->prepare;
	t->prepare->task = t;
	uint64_t log_max = rt->log_max_bytes;
	exec_log_init(&t->log, rt->base.loop, t->dir, log_max, log_written, t);
	t->out.lines.stream = RUNTIME_LOG_STDOUT;
	t->err.lines.stream = RUNTIME_LOG_STDERR;
	t->status.state = RUNTIME_STATE_ACCEPTED;
	t->status.timestamp_ms = exec_wall_ms();
	uv_timer_init(rt->base.loop, &t->timer);
	t->timer.data = t;
	t->timer_open = true;
	rt->tasks_alloc++;
	return t;
err_after_alloc:
	if (t != NULL) {
		exec_strv_free(&t->argv);
		free(t->prepare);
		free(t->dir);
		free(t->spec);
		free(t);
	}
	return NULL;
}

static int exec_op_start(struct runtime *base, const struct runtime_task_spec *spec, char *err, size_t errlen)
{
	struct exec_rt *rt = rt_of(base);
	int rc;
	if (rt->closing) {
		snprintf(err, errlen, "exec runtime: closing");
		return -ESHUTDOWN;
	}
	if (rt->recovering) {
		snprintf(err, errlen, "exec runtime: recovering the previous run's tasks");
		return -EBUSY;
	}
	if ((rc = runtime_task_spec_validate(spec, err, errlen)) != 0)
		return rc;
	if (exec_task_find(rt, spec->task_id) != NULL) {
		snprintf(err, errlen, "task %s: already started", spec->task_id);
		return -EEXIST;
	}
	struct exec_task *t = task_new(rt, spec, err, errlen, &rc);
	if (t == NULL) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "task %s: out of memory", spec->task_id);
		return rc;
	}
	rc = uv_queue_work(base->loop, &t->prepare->work, prepare_work, prepare_done);
	if (rc != 0) {
		snprintf(err, errlen, "task %s: %s", spec->task_id, uv_strerror(rc));
		free(t->prepare);
		t->prepare = NULL;
		t->released = true;
		uv_close((uv_handle_t *)&t->timer, timer_closed);
		return rc;
	}
	t->next = rt->tasks;
	rt->tasks = t;
	rt->started = true;
	return 0;
}

static void task_stop(struct exec_task *t, uint64_t grace_ms)
{
	if (t->terminal || t->stop_requested)
		return;
	t->stop_requested = true;
	if (!t->spawned || t->exited)
		return; /* prepare_done or task_maybe_finish sees the flag */
	group_signal(t, SIGTERM);
	uv_timer_start(&t->timer, timer_cb, grace_ms, 0);
}

static int exec_op_stop(struct runtime *base, const char *task_id, uint64_t grace_ms)
{
	struct exec_task *t = exec_task_find(rt_of(base), task_id);
	if (t == NULL)
		return -ENOENT;
	task_stop(t, grace_ms);
	return 0;
}

static int exec_op_inspect(struct runtime *base, const char *task_id, struct runtime_status *out)
{
	struct exec_task *t = exec_task_find(rt_of(base), task_id);
	if (t == NULL)
		return -ENOENT;
	*out = t->status;
	return 0;
}

static void exec_op_close(struct runtime *base, void (*on_closed)(struct runtime *rt))
{
	struct exec_rt *rt = rt_of(base);
	if (rt->closing)
		return;
	rt->closing = true;
	rt->on_closed = on_closed;
	for (struct exec_task *t = rt->tasks, *next; t != NULL; t = next) {
		next = t->next;
		if (t->terminal)
			exec_task_release(t);
		else
			task_stop(t, t->spec->stop_grace_ms ? t->spec->stop_grace_ms : RUNTIME_STOP_GRACE_DEFAULT_MS);
	}
	rt_maybe_closed(rt);
}

static const struct runtime_ops exec_ops = {
	.start = exec_op_start,
	.stop = exec_op_stop,
	.remove = exec_op_remove,
	.logs = exec_op_logs,
	.inspect = exec_op_inspect,
	.recover = exec_op_recover,
	.close = exec_op_close,
};

static int make_dir(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return rc;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", path);
		return -ENOTDIR;
	}
	return 0;
}

int runtime_exec_new(uv_loop_t *loop, const struct runtime_exec_config *cfg, runtime_state_cb on_state, void *data,
		     struct runtime **out, char *err, size_t errlen)
{
	if (cfg->data_dir == NULL || cfg->data_dir[0] == '\0' || on_state == NULL) {
		snprintf(err, errlen, "exec runtime: no data dir or no state callback");
		return -EINVAL;
	}
	if (cfg->log_max_bytes != 0 && cfg->log_max_bytes < RUNTIME_EXEC_LOG_MAX_MIN) {
		snprintf(err, errlen, "exec runtime: log size %llu below %u bytes", (unsigned long long)cfg->log_max_bytes,
			 RUNTIME_EXEC_LOG_MAX_MIN);
		return -EINVAL;
	}
	if (strlen(cfg->data_dir) > 4096) {
		snprintf(err, errlen, "exec runtime: data dir path too long");
		return -ENAMETOOLONG;
	}
	struct exec_rt *rt = calloc(1, sizeof(*rt));
	if (rt == NULL) {
		snprintf(err, errlen, "exec runtime: out of memory");
		return -ENOMEM;
	}
	size_t dir_len = strlen(cfg->data_dir) + sizeof("/tasks");
	int rc = 0;
	if ((rt->tasks_dir = malloc(dir_len)) == NULL) {
		snprintf(err, errlen, "exec runtime: out of memory");
		rc = -ENOMEM;
	} else {
		snprintf(rt->tasks_dir, dir_len, "%s/tasks", cfg->data_dir);
		rc = make_dir(rt->tasks_dir, err, errlen);
	}
	const char *path = getenv("PATH");
	if (rc == 0 && path != NULL && (rt->path_default = strdup(path)) == NULL) {
		snprintf(err, errlen, "exec runtime: out of memory");
		rc = -ENOMEM;
	}
	if (rc != 0) {
		free(rt->tasks_dir);
		free(rt);
		return rc;
	}
	rt->base = (struct runtime){.ops = &exec_ops, .name = "exec", .loop = loop, .on_state = on_state, .data = data};
	rt->log_max_bytes = cfg->log_max_bytes ? cfg->log_max_bytes : RUNTIME_EXEC_LOG_MAX_DEFAULT;
	uv_timer_init(loop, &rt->closer);
	rt->closer.data = rt;
	*out = &rt->base;
	return 0;
}
