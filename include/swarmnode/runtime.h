/* runtime: the interface every task runtime implements (exec: processes, engine: containers through a Docker Engine API socket). */
#ifndef SWARMNODE_RUNTIME_H
#define SWARMNODE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* A worker's agent hands each task assigned to its node to one runtime and
 * forwards the states the runtime reports to the managers. Every operation
 * is asynchronous on the runtime's libuv loop: a call validates, records
 * and returns; what happens to the task afterwards arrives through the
 * owner's on_state callback, always from the loop, never inside a call the
 * owner made. Per task the states only move forward, in Docker's order:
 *
 *   PREPARING -> STARTING -> RUNNING -> COMPLETE | FAILED | SHUTDOWN
 *   PREPARING -> REJECTED   (the program or image is missing, for instance)
 *
 * A terminal state is reported once, after the task has released every
 * process and file it held (its logs are complete by then). */

/* Docker's task states, in Docker's order (a later state never precedes an
 * earlier one). The states before PREPARING are the managers' and are here
 * so the whole cluster shares one enum. */
enum runtime_state {
	RUNTIME_STATE_NEW,
	RUNTIME_STATE_PENDING,
	RUNTIME_STATE_ASSIGNED,
	RUNTIME_STATE_ACCEPTED,
	RUNTIME_STATE_PREPARING,
	RUNTIME_STATE_STARTING,
	RUNTIME_STATE_RUNNING,
	RUNTIME_STATE_COMPLETE,
	RUNTIME_STATE_SHUTDOWN,
	RUNTIME_STATE_FAILED,
	RUNTIME_STATE_REJECTED,
	RUNTIME_STATE_ORPHANED,
	RUNTIME_STATE__COUNT,
};

/* Docker's lowercase name ("running"), or "unknown". */
const char *runtime_state_name(enum runtime_state s);

/* COMPLETE and after: the task will not change again. */
bool runtime_state_is_terminal(enum runtime_state s);

enum runtime_protocol {
	RUNTIME_PROTO_TCP,
	RUNTIME_PROTO_UDP,
};

enum runtime_publish_mode {
	RUNTIME_PUBLISH_INGRESS, /* the routing mesh forwards to the task */
	RUNTIME_PUBLISH_HOST,    /* the task's port is the node's port */
};

const char *runtime_protocol_name(enum runtime_protocol p);        /* "tcp", "udp" */
const char *runtime_publish_mode_name(enum runtime_publish_mode m); /* "ingress", "host" */

struct runtime_port {
	uint32_t target;                /* the port the service spec names, 1-65535 */
	uint32_t published;             /* the host port the node allocated for this task, 0 if none */
	enum runtime_protocol protocol;
	enum runtime_publish_mode mode;
};

struct runtime_label {
	const char *key;   /* non-empty */
	const char *value; /* may be empty, not NULL */
};

/* Bounds runtime_task_spec_validate enforces. */
#define RUNTIME_ID_MAX 64                  /* task id: [A-Za-z0-9_.-], no leading dot */
#define RUNTIME_NAME_MAX 255               /* service id and name, node id */
#define RUNTIME_IMAGE_MAX 4096             /* bytes of the image (exec: the program) */
#define RUNTIME_ARGS_MAX 4096              /* arguments after the program */
#define RUNTIME_ENV_MAX 4096               /* environment entries */
#define RUNTIME_STRINGS_BYTES_MAX (1u << 20) /* args and env together, as the kernel's ARG_MAX */
#define RUNTIME_PORTS_MAX 256
#define RUNTIME_LABELS_MAX 1024
#define RUNTIME_MEMORY_MIN (6ll << 20)     /* Docker's smallest memory limit */
#define RUNTIME_STOP_GRACE_DEFAULT_MS 10000 /* Docker's default stop grace period */

/* What a runtime needs to run one task. The caller owns it: start() copies
 * everything it keeps, so the spec may be freed when start() returns. */
struct runtime_task_spec {
	const char *task_id;                /* names the task's directory; see RUNTIME_ID_MAX */
	const char *service_id;             /* may be NULL or empty */
	const char *service_name;           /* may be NULL or empty */
	uint64_t slot;                      /* replicated: 1..N; global: 0 */
	const char *node_id;                /* may be NULL or empty */
	const char *node_addr;              /* the node's advertised IP (tasks bind it when nodes share
					     * a host, as on loopback); may be NULL or empty */
	const char *image;                  /* exec: a program (absolute path or name in PATH); engine: an image */
	const char *const *args;            /* arguments after the program, args_len of them */
	size_t args_len;
	const char *const *env;             /* "KEY=VALUE" entries, env_len of them; later ones win */
	size_t env_len;
	const struct runtime_port *ports;   /* ports_len of them; no two with the same target and protocol */
	size_t ports_len;
	uint64_t stop_grace_ms;             /* SIGTERM to SIGKILL; 0: RUNTIME_STOP_GRACE_DEFAULT_MS */
	int64_t memory_bytes;               /* memory limit, 0: none; else at least RUNTIME_MEMORY_MIN */
	int64_t nano_cpus;                  /* CPU limit in 1e-9 CPUs, 0: none */
	const struct runtime_label *labels; /* labels_len of them */
	size_t labels_len;
};

/* Checks every field of spec against the bounds above. Returns 0, or -EINVAL with err
 * naming the field and what is wrong ("env[2]: \"FOO\" has no '='"). */
int runtime_task_spec_validate(const struct runtime_task_spec *spec, char *err, size_t errlen);

/* Checks a task id alone (it names a directory): 0 or -EINVAL with err. */
int runtime_task_id_check(const char *task_id, char *err, size_t errlen);

/* A deep copy of a valid spec in one allocation (free() releases it); NULL
 * when out of memory. Absent optional strings become "". */
struct runtime_task_spec *runtime_task_spec_copy(const struct runtime_task_spec *spec);

/* Docker's task Status, as far as a runtime knows it. */
struct runtime_status {
	enum runtime_state state;
	char message[64];        /* Docker's Status.Message: "preparing", "starting", "started", "finished", "shutdown" */
	char err[512];           /* Docker's Status.Err ("task: non-zero exit (3)"); "" when none */
	bool exited;             /* the process ended and exit_code is its status */
	int exit_code;           /* exit status, or 128 + signal when a signal killed it (Docker's ExitCode) */
	int64_t pid;             /* the task's process (exec) or the container's init (engine); 0 if none */
	char container_id[65];   /* engine: the container; exec: "" */
	uint64_t timestamp_ms;   /* wall clock (Unix ms) of the last state change */
	uint64_t started_ms;     /* when it became RUNNING, 0 if it never did */
	uint64_t finished_ms;    /* when it reached a terminal state, 0 before */
};

/* A task changed state: st is its whole status (valid during the call). */
typedef void (*runtime_state_cb)(void *data, const char *task_id, const struct runtime_status *st);

enum runtime_log_stream {
	RUNTIME_LOG_STDOUT = 1,
	RUNTIME_LOG_STDERR = 2,
};

/* One line of a task's output. */
struct runtime_log_line {
	enum runtime_log_stream stream;
	uint64_t time_ns;        /* wall clock (Unix ns) when the runtime read it */
	const char *text;        /* without its newline; not NUL-terminated */
	size_t len;
	bool partial;            /* a piece of a longer line, the rest follows */
};

#define RUNTIME_LOGS_ALL SIZE_MAX /* as tail: every line kept */

/* The answer to logs(): status 0 and the last lines in order (borrowed
 * during the call), or a negative errno (UV_ECANCELED when the runtime
 * closed first). */
typedef void (*runtime_logs_cb)(void *data, int status, const struct runtime_log_line *lines, size_t n);

struct runtime;

/* The operations a runtime implements. Each returns 0 or a negative errno;
 * task_id always names a task given to start() (or found by recover()). */
struct runtime_ops {
	/* Takes a task to run: validates and copies spec, then prepares and
	 * starts it in the background, reporting PREPARING, STARTING, RUNNING
	 * and how it ends (REJECTED when it cannot be prepared). Returns
	 * -EINVAL (err says why; the task does not exist for the runtime and
	 * the agent reports it REJECTED with err), -EEXIST (task id known),
	 * -ESHUTDOWN (closing) or -ENOMEM. */
	int (*start)(struct runtime *rt, const struct runtime_task_spec *spec, char *err, size_t errlen);
	/* Asks a task to stop: SIGTERM (or the engine's stop), after grace_ms
	 * SIGKILL; it ends SHUTDOWN whatever its exit code. A task not started
	 * yet is not started. Stopping a stopped task does nothing. -ENOENT. */
	int (*stop)(struct runtime *rt, const char *task_id, uint64_t grace_ms);
	/* Forgets a task in a terminal state and deletes what it left on disk
	 * (logs included), in the background; also takes a task of an earlier
	 * run that recover() reported. -ENOENT, -EBUSY (not terminal: stop it
	 * first). */
	int (*remove)(struct runtime *rt, const char *task_id);
	/* Reads the last tail lines of both streams, in order, into cb; works
	 * for a task of an earlier run whose files are still there. Following
	 * a live log is not part of the interface yet. -ENOENT. */
	int (*logs)(struct runtime *rt, const char *task_id, size_t tail, runtime_logs_cb cb, void *data);
	/* Copies the task's current status into out. -ENOENT. */
	int (*inspect)(struct runtime *rt, const char *task_id, struct runtime_status *out);
	/* At daemon start, before any start(): deals with the tasks a previous
	 * run of the daemon left behind (each runtime documents how), reports
	 * each through on_state, then calls on_done with 0 or a negative errno.
	 * -EBUSY when tasks were already started. */
	int (*recover)(struct runtime *rt, void (*on_done)(struct runtime *rt, int status));
	/* Stops every task (each with its own grace period), without further
	 * on_state calls, then calls on_closed (may be NULL), after which the
	 * runtime's memory is released. */
	void (*close)(struct runtime *rt, void (*on_closed)(struct runtime *rt));
};

/* The part every runtime shares; each implementation embeds it first. */
struct runtime {
	const struct runtime_ops *ops;
	const char *name;         /* "exec", "engine" */
	uv_loop_t *loop;
	runtime_state_cb on_state;
	void *data;               /* for the owner, passed to on_state */
};

static inline int runtime_start(struct runtime *rt, const struct runtime_task_spec *spec, char *err, size_t errlen)
{
	return rt->ops->start(rt, spec, err, errlen);
}

static inline int runtime_stop(struct runtime *rt, const char *task_id, uint64_t grace_ms)
{
	return rt->ops->stop(rt, task_id, grace_ms);
}

static inline int runtime_remove(struct runtime *rt, const char *task_id)
{
	return rt->ops->remove(rt, task_id);
}

static inline int runtime_logs(struct runtime *rt, const char *task_id, size_t tail, runtime_logs_cb cb, void *data)
{
	return rt->ops->logs(rt, task_id, tail, cb, data);
}

static inline int runtime_inspect(struct runtime *rt, const char *task_id, struct runtime_status *out)
{
	return rt->ops->inspect(rt, task_id, out);
}

static inline int runtime_recover(struct runtime *rt, void (*on_done)(struct runtime *rt, int status))
{
	return rt->ops->recover(rt, on_done);
}

static inline void runtime_close(struct runtime *rt, void (*on_closed)(struct runtime *rt))
{
	rt->ops->close(rt, on_closed);
}

#endif
