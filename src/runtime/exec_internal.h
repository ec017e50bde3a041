/* exec_internal: the pieces of the exec runtime shared between its files (argv/env, logs, process records). */
#ifndef SWARMNODE_EXEC_INTERNAL_H
#define SWARMNODE_EXEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/runtime.h"
#include "swarmnode/runtime_exec.h"

#define EXEC_PATH_MAX 4352 /* DATA (up to 4096) plus tasks/<id>/<file> */

/* --- exec_argv.c: what the process is given ------------------------------ */

/* A NULL-terminated vector of strings, each malloc'd, and the vector too. */
struct exec_strv {
	char **v;
	size_t len;
};

void exec_strv_free(struct exec_strv *sv);

/* argv: the image, then spec's args with ${PORT} references expanded.
 * Returns 0, -ENOMEM, or -EINVAL with err naming the argument. */
int exec_build_argv(const struct runtime_task_spec *spec, struct exec_strv *out, char *err, size_t errlen);

/* The environment described in runtime_exec.h; path_default is the
 * daemon's PATH (NULL: the usual default). Returns 0 or -ENOMEM. */
int exec_build_env(const struct runtime_task_spec *spec, const char *path_default, struct exec_strv *out);

/* The value of name in env, or NULL. */
const char *exec_env_get(const struct exec_strv *env, const char *name);

/* Resolves image to an executable file: as is when it holds a '/', else
 * through path (a PATH value). Blocks on the file system: call it from the
 * thread pool. Returns 0 with the path in out, or a negative errno with
 * Go's text in err ("exec: \"NAME\": executable file not found in $PATH"). */
int exec_find_program(const char *image, const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* --- exec_log.c: the task's log file ------------------------------------ */

/* Writes records of a task's output to its log through the thread pool,
 * rotating it to log.1 at max_bytes. Lives on the loop; one write in
 * flight at a time. The file names are built from dir when needed: a task
 * that never writes holds no path and no buffer. */
struct exec_log {
	uv_loop_t *loop;
	const char *dir;            /* DATA/tasks/<id>, borrowed: the owner keeps it until close */
	uint64_t max_bytes;         /* rotation threshold */
	char *pending;              /* records waiting (loop side), malloc'd */
	size_t pending_len, pending_cap;
	char *inflight;             /* records being written (thread side) */
	size_t inflight_len;
	int fd;                     /* the open log, -1 before the first write */
	uint64_t size;              /* bytes in the open log */
	int error;                  /* first write error, 0 if none */
	bool busy;                  /* a write is queued or running */
	uv_work_t work;             /* data = this */
	void (*on_written)(struct exec_log *lg); /* after each write returns to the loop */
	void *data;                 /* for the owner */
};

/* More than this waiting and the owner should stop reading the pipes. */
#define EXEC_LOG_PENDING_HIGH (1u << 20)

void exec_log_init(struct exec_log *lg, uv_loop_t *loop, const char *dir, uint64_t max_bytes,
		   void (*on_written)(struct exec_log *lg), void *data);

/* True while a write is in flight or records wait. */
bool exec_log_busy(const struct exec_log *lg);

/* Closes the file; call only when exec_log_busy() is false. */
void exec_log_close(struct exec_log *lg);

/* One stream of the process's output cut into lines for the log. Whole
 * lines go from the bytes read straight to the log; only the start of a
 * line still waiting for its newline is kept, in a buffer of its length
 * (less than RUNTIME_EXEC_LINE_MAX), which exists only while that lasts. */
struct exec_line_buf {
	enum runtime_log_stream stream;
	char *line;                 /* the unfinished line, malloc'd; NULL when len is 0 */
	size_t len;
};

/* Feeds bytes read from the stream; full lines (and pieces of overlong
 * ones) become records. */
void exec_line_feed(struct exec_line_buf *lb, struct exec_log *lg, const char *bytes, size_t len);

/* The stream ended: a last line without newline becomes a record, and the
 * buffer is released. */
void exec_line_flush(struct exec_line_buf *lb, struct exec_log *lg);

/* Releases the buffer without writing it (the log is gone). */
void exec_line_discard(struct exec_line_buf *lb);

/* The last tail lines of DIR/log.1 and DIR/log, in order. Blocks: call it
 * from the thread pool. On success *lines (malloc'd) points into *buf
 * (malloc'd); the caller frees both. Malformed records (a torn write at a
 * crash) are skipped. Returns 0, -ENOENT (no log at all) or -ENOMEM. */
int exec_log_read_tail(const char *dir, size_t tail, struct runtime_log_line **lines, size_t *n, char **buf);

/* --- exec_proc.c: the record of a live process, and recovery ---------------- */

struct exec_pid_record {
	char boot_id[40];        /* /proc/sys/kernel/random/boot_id, "-" if unreadable */
	int64_t pid;             /* the task's process */
	uint64_t start_time;     /* field 22 of /proc/PID/stat: tells a reused pid */
	int64_t pgid;            /* its process group */
};

/* Fills r for a process that just started (reads /proc). -ESRCH if gone. */
int exec_pid_record_fill(struct exec_pid_record *r, int64_t pid);

/* Writes DIR/pid atomically (temporary file, rename). */
int exec_pid_record_write(const char *dir, const struct exec_pid_record *r);

/* Reads and checks DIR/pid. -ENOENT if absent, -EINVAL (err says why). */
int exec_pid_record_read(const char *dir, struct exec_pid_record *r, char *err, size_t errlen);

/* Removes DIR/pid; absent is fine. */
int exec_pid_record_remove(const char *dir);

/* Kills what is left of the process a record names (see runtime_exec.h).
 * Returns how many processes were signalled (0: none left), or a negative
 * errno. */
int exec_kill_leftover(const char *task_id, const struct exec_pid_record *r);

/* --- exec.c and exec_disk.c: the runtime and its tasks -------------------- */

struct exec_task;

struct exec_rt {
	struct runtime base;          /* first: what the owner holds */
	char *tasks_dir;              /* DATA/tasks, malloc'd */
	uint64_t log_max_bytes;
	char *path_default;           /* the daemon's PATH (malloc'd), NULL if unset */
	struct exec_task *tasks;      /* every task started in this run and not removed */
	size_t tasks_alloc;           /* tasks in memory, released ones included until freed */
	int works;                    /* runtime-level thread pool jobs in flight */
	bool started;                 /* start() accepted a task: recover() is too late */
	bool recovering;
	bool closing;
	uv_timer_t closer;            /* never started: its close callback ends close() */
	void (*on_closed)(struct runtime *rt);
};

/* Where task_id's files live. */
void exec_task_dir(const struct exec_rt *rt, const char *task_id, char *out, size_t len);

/* The same as a malloc'd string of its length, or NULL (out of memory). */
char *exec_task_dir_new(const struct exec_rt *rt, const char *task_id);

/* The in-memory task of that id, or NULL. */
struct exec_task *exec_task_find(struct exec_rt *rt, const char *task_id);

/* Whether a known task has reached a terminal state. */
bool exec_task_is_terminal(const struct exec_task *t);

/* Forgets a terminal task; its memory goes once its handles are closed. */
void exec_task_release(struct exec_task *t);

/* A runtime-level job finished: lets close() complete when it was the last. */
void exec_rt_work_done(struct exec_rt *rt);

/* The operations in exec_disk.c. */
int exec_op_remove(struct runtime *base, const char *task_id);
int exec_op_logs(struct runtime *base, const char *task_id, size_t tail, runtime_logs_cb cb, void *data);
int exec_op_recover(struct runtime *base, void (*on_done)(struct runtime *rt, int status));

/* Wall clock in Unix ms. */
uint64_t exec_wall_ms(void);

#endif
