/* exec_disk: the exec runtime's jobs on task directories in the thread pool: remove, read logs, recover after a crash. */
#include "exec_internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swarmnode/log.h"

/* What every job starts with. */
struct disk_job {
	uv_work_t work;                  /* data = this */
	struct exec_rt *rt;
	char task_id[RUNTIME_ID_MAX + 1];
	char dir[EXEC_PATH_MAX];         /* the task's directory */
	int rc;
};

static struct exec_rt *rt_of(struct runtime *base)
{
	return (struct exec_rt *)base;
}

/* Queues job (malloc'd, freed by done) as a runtime-level job. */
static int job_queue(struct exec_rt *rt, struct disk_job *job, uv_work_cb work, uv_after_work_cb done)
{
	job->rt = rt;
	job->work.data = job;
	int rc = uv_queue_work(rt->base.loop, &job->work, work, done);
	if (rc != 0)
		return rc;
	rt->works++;
	return 0;
}

/* A task the runtime may act on: in memory, or a directory left on disk
 * (a task of an earlier run of the daemon). */
static int task_known(struct exec_rt *rt, const char *task_id, char *dir, size_t len)
{
	char err[160];
	struct stat st;
	if (runtime_task_id_check(task_id, err, sizeof(err)) != 0)
		return -EINVAL;
	exec_task_dir(rt, task_id, dir, len);
	if (exec_task_find(rt, task_id) != NULL)
		return 0;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -ENOENT;
}

/* --- remove ------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	/* A positive errno stops the walk and becomes nftw's result. */
	return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : errno;
}

static void remove_work(uv_work_t *w)
{
	struct disk_job *job = w->data;
	/* The task's working directory: the program may have left anything in it. */
	int rc = nftw(job->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc == -1)
		job->rc = errno == ENOENT ? 0 : -errno;
	else
		job->rc = -rc;
}

static void remove_done(uv_work_t *w, int status)
{
	struct disk_job *job = w->data;
	int rc = status != 0 ? status : job->rc;
	if (rc != 0)
		log_warn("exec", "cannot remove task directory", LF_STR("task", job->task_id),
			 LF_STR("dir", job->dir), LF_STR("error", strerror(-rc)));
	struct exec_rt *rt = job->rt;
	free(job);
	exec_rt_work_done(rt);
}

int exec_op_remove(struct runtime *base, const char *task_id)
{
	struct exec_rt *rt = rt_of(base);
	if (rt->closing)
		return -ESHUTDOWN;
	struct disk_job *job = calloc(1, sizeof(*job));
	if (job == NULL)
		return -ENOMEM;
	int rc = task_known(rt, task_id, job->dir, sizeof(job->dir));
	struct exec_task *t = rc == 0 ? exec_task_find(rt, task_id) : NULL;
	if (rc == 0 && t != NULL && !exec_task_is_terminal(t))
		rc = -EBUSY;
	snprintf(job->task_id, sizeof(job->task_id), "%s", task_id);
	if (rc == 0)
		rc = job_queue(rt, job, remove_work, remove_done);
	if (rc != 0) {
		free(job);
		return rc;
	}
	if (t != NULL)
		exec_task_release(t);
	return 0;
}

/* --- logs --------------------------------------------------------------- */

struct logs_job {
	struct disk_job job;             /* first */
	size_t tail;
	runtime_logs_cb cb;
	void *data;
	struct runtime_log_line *lines;  /* point into buf */
	size_t n;
	char *buf;
};

static void logs_work(uv_work_t *w)
{
	struct logs_job *lj = w->data;
	lj->job.rc = exec_log_read_tail(lj->job.dir, lj->tail, &lj->lines, &lj->n, &lj->buf);
	if (lj->job.rc == -ENOENT)
		lj->job.rc = 0; /* the task wrote nothing yet */
}

static void logs_done(uv_work_t *w, int status)
{
	struct logs_job *lj = w->data;
	struct exec_rt *rt = lj->job.rt;
	int rc = status != 0 ? status : lj->job.rc;
	if (rt->closing)
		lj->cb(lj->data, UV_ECANCELED, NULL, 0);
	else if (rc != 0)
		lj->cb(lj->data, rc, NULL, 0);
	else
		lj->cb(lj->data, 0, lj->lines, lj->n);
	free(lj->lines);
	free(lj->buf);
	free(lj);
	exec_rt_work_done(rt);
}

int exec_op_logs(struct runtime *base, const char *task_id, size_t tail, runtime_logs_cb cb, void *data)
{
	struct exec_rt *rt = rt_of(base);
	if (rt->closing)
		return -ESHUTDOWN;
	struct logs_job *lj = calloc(1, sizeof(*lj));
	if (lj == NULL)
		return -ENOMEM;
	int rc = task_known(rt, task_id, lj->job.dir, sizeof(lj->job.dir));
	snprintf(lj->job.task_id, sizeof(lj->job.task_id), "%s", task_id);
	lj->tail = tail;
	lj->cb = cb;
	lj->data = data;
	if (rc == 0)
		rc = job_queue(rt, &lj->job, logs_work, logs_done);
	if (rc != 0)
		free(lj);
	return rc;
}

/* --- recover ------------------------------------------------------------ */

/* A task a previous run of the daemon left a process record for. */
struct leftover {
	char task_id[RUNTIME_ID_MAX + 1];
	int64_t pid;                     /* 0 when the record was unreadable */
	int killed;                      /* processes killed, or a negative errno */
	char err[384];                   /* the task's Err as reported */
};

struct recover_job {
	struct disk_job job;             /* first; dir is DATA/tasks */
	void (*on_done)(struct runtime *rt, int status);
	struct leftover *found;          /* malloc'd */
	size_t n, cap;
};

static struct leftover *leftover_add(struct recover_job *rj, const char *task_id)
{
	if (rj->n == rj->cap) {
		size_t cap = rj->cap ? rj->cap * 2 : 16;
		struct leftover *f = realloc(rj->found, cap * sizeof(*f));
		if (f == NULL)
			return NULL;
		rj->found = f;
		rj->cap = cap;
	}
	struct leftover *l = &rj->found[rj->n++];
	memset(l, 0, sizeof(*l));
	snprintf(l->task_id, sizeof(l->task_id), "%s", task_id);
	return l;
}

/* Deals with one task directory: -ENOMEM stops the scan. */
static int recover_one(struct recover_job *rj, const char *task_id)
{
	char dir[EXEC_PATH_MAX], why[256];
	struct exec_pid_record rec;
	exec_task_dir(rj->job.rt, task_id, dir, sizeof(dir));
	int rc = exec_pid_record_read(dir, &rec, why, sizeof(why));
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0; /* it ended while the daemon ran: nothing left */
	struct leftover *l = leftover_add(rj, task_id);
	if (l == NULL)
		return -ENOMEM;
	if (rc != 0) {
		snprintf(l->err, sizeof(l->err), "task: unreadable process record: %s",
			 rc == -EINVAL ? why : strerror(-rc));
		exec_pid_record_remove(dir);
		return 0;
	}
	l->pid = rec.pid;
	l->killed = exec_kill_leftover(task_id, &rec);
	if (l->killed < 0) {
		snprintf(l->err, sizeof(l->err), "task: cannot kill process %lld left by the previous daemon: %s",
			 (long long)rec.pid, strerror(-l->killed));
		return 0; /* the record stays for the next attempt */
	}
	if (l->killed > 0)
		snprintf(l->err, sizeof(l->err),
			 "task: killed at daemon restart (the exec runtime cannot adopt process %lld)",
			 (long long)rec.pid);
	else
		snprintf(l->err, sizeof(l->err), "task: exited while the daemon was down");
	exec_pid_record_remove(dir);
	return 0;
}

static void recover_work(uv_work_t *w)
{
	struct recover_job *rj = w->data;
	char why[160];
	DIR *d = opendir(rj->job.dir);
	if (d == NULL) {
		rj->job.rc = -errno;
		return;
	}
	struct dirent *e;
	while (rj->job.rc == 0 && (e = readdir(d)) != NULL) {
		if (runtime_task_id_check(e->d_name, why, sizeof(why)) == 0)
			rj->job.rc = recover_one(rj, e->d_name);
	}
	closedir(d);
}

static void report_leftover(struct exec_rt *rt, const struct leftover *l)
{
	struct runtime_status st = {.state = RUNTIME_STATE_FAILED, .pid = l->pid};
	snprintf(st.message, sizeof(st.message), "recovered");
	snprintf(st.err, sizeof(st.err), "%s", l->err);
	st.timestamp_ms = st.finished_ms = exec_wall_ms();
	log_info("exec", "task left by a previous daemon", LF_STR("task", l->task_id), LF_INT("pid", l->pid),
		 LF_INT("killed", l->killed), LF_STR("err", l->err));
	rt->base.on_state(rt->base.data, l->task_id, &st);
}

static void recover_done(uv_work_t *w, int status)
{
	struct recover_job *rj = w->data;
	struct exec_rt *rt = rj->job.rt;
	int rc = status != 0 ? status : rj->job.rc;
	rt->recovering = false;
	if (!rt->closing) {
		for (size_t i = 0; i < rj->n; i++)
			report_leftover(rt, &rj->found[i]);
		rj->on_done(&rt->base, rc);
	}
	free(rj->found);
	free(rj);
	exec_rt_work_done(rt);
}

int exec_op_recover(struct runtime *base, void (*on_done)(struct runtime *rt, int status))
{
	struct exec_rt *rt = rt_of(base);
	if (rt->closing)
		return -ESHUTDOWN;
	if (rt->started || rt->recovering)
		return -EBUSY;
	struct recover_job *rj = calloc(1, sizeof(*rj));
	if (rj == NULL)
		return -ENOMEM;
	snprintf(rj->job.dir, sizeof(rj->job.dir), "%s", rt->tasks_dir);
	rj->on_done = on_done;
	int rc = job_queue(rt, &rj->job, recover_work, recover_done);
	if (rc != 0) {
		free(rj);
		return rc;
	}
	rt->recovering = true;
	return 0;
}
