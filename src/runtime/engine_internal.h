/* engine_internal: the pieces of the engine runtime shared between its files (HTTP on the loop, JSON, log frames). */
#ifndef SWARMNODE_ENGINE_INTERNAL_H
#define SWARMNODE_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/runtime.h"
#include "swarmnode/runtime_engine.h"

#define ENGINE_ID_MAX 64          /* a container id: 64 hex digits */
#define ENGINE_REPLY_MAX (4u << 20) /* any answer but logs */

/* --- engine_http.c: HTTP requests on the engine's socket, driven by the loop --- */

/* What the engine answered, valid during the callback. */
struct engine_reply {
	long status;          /* the HTTP status, 0 when there was no answer */
	const char *body;     /* NUL-terminated (the NUL not counted); never NULL */
	size_t len;
	const char *error;    /* no answer: "engine at PATH: why"; else "" */
	bool too_big;         /* no answer because it passed max_body */
};

/* A request ended: called from the loop, never from engine_http_send(). */
typedef void (*engine_reply_cb)(void *data, const struct engine_reply *r);

struct engine_http;
struct engine_call;

/* Loads libcurl and sets up a multi handle on loop for socket_path (copied).
 * Returns 0 with *out, -ELIBACC (libcurl missing) or -ENOMEM, err says why. */
int engine_http_new(uv_loop_t *loop, const char *socket_path, struct engine_http **out, char *err, size_t errlen);

/* Sends method path (starting with RUNTIME_ENGINE_API) with json (may be
 * NULL) as the body. timeout_ms 0: none (a long poll). An answer larger
 * than max_body fails the request. Returns the call, owned by the client
 * until cb has run or engine_call_cancel(); NULL when out of memory. */
struct engine_call *engine_http_send(struct engine_http *h, const char *method, const char *path, const char *json,
				     uint64_t timeout_ms, size_t max_body, engine_reply_cb cb, void *data);

/* Abandons a call: its callback will not run. */
void engine_call_cancel(struct engine_call *c);

/* Cancels every call (no callbacks), closes the handles and frees h, then
 * calls on_freed(data) from the loop (on_freed may be NULL). Safe from
 * inside a reply callback. */
void engine_http_free(struct engine_http *h, void (*on_freed)(void *data), void *data);

/* The socket's path, as given. */
const char *engine_http_socket(const struct engine_http *h);

/* GET /_ping on socket_path with the easy interface: BLOCKS up to
 * timeout_ms. 0 when the engine answered 200 "OK", -ELIBACC without
 * libcurl, else -ECONNREFUSED. */
int engine_http_ping_blocking(const char *socket_path, long timeout_ms);

/* Percent-encodes s for a query string; malloc'd, NULL when out of memory. */
char *engine_url_escape(const char *s);

/* --- engine_json.c: bodies sent and answers decoded ------------------------ */

/* The body of POST /containers/create for spec (valid). malloc'd; NULL when
 * out of memory. */
char *engine_json_create_body(const struct runtime_task_spec *spec);

/* The container name swarmnode.<service>.<slot or node>.<task id>, with
 * bytes Docker refuses in a name replaced by '_'. */
void engine_container_name(const struct runtime_task_spec *spec, char *out, size_t len);

/* Whether image is a reference the engine can be asked about in a URL
 * path; -EINVAL with err otherwise. */
int engine_image_check(const char *image, char *err, size_t errlen);

/* The engine's {"message": ...} of an error answer, or a short excerpt of
 * the body when it has none. */
void engine_json_error(const char *body, size_t len, char *out, size_t outlen);

/* {"Id": "<hex>"} of a create answer. 0 or -EINVAL with err. */
int engine_json_created(const char *body, size_t len, char id[ENGINE_ID_MAX + 1], char *err, size_t errlen);

/* {"StatusCode": N, "Error": null | {"Message": "..."}} of a wait answer.
 * 0 or -EINVAL with err; engine_err is "" unless the engine gave one. */
int engine_json_waited(const char *body, size_t len, int *code, char *engine_err, size_t engine_errlen, char *err,
		       size_t errlen);

/* What an inspect answer tells. */
struct engine_inspect {
	char id[ENGINE_ID_MAX + 1];
	char state[16];                          /* "created", "running", "exited"... (cut) */
	bool running;
	int64_t pid;                             /* 0 when not running */
	int exit_code;
	char task_id[RUNTIME_ID_MAX + 1];        /* com.docker.swarm.task.id, "" if absent */
	char service_id[RUNTIME_NAME_MAX + 1];   /* com.docker.swarm.service.id */
	char service_name[RUNTIME_NAME_MAX + 1]; /* com.docker.swarm.service.name */
	char node_id[RUNTIME_NAME_MAX + 1];      /* com.docker.swarm.node.id */
	char image[512];                         /* Config.Image (cut) */
	struct runtime_port ports[RUNTIME_PORTS_MAX]; /* NetworkSettings.Ports with a host port */
	size_t nports;
};

/* Decodes GET /containers/ID/json. 0 or -EINVAL with err naming the field. */
int engine_json_inspect(const char *body, size_t len, struct engine_inspect *out, char *err, size_t errlen);

/* Decodes GET /containers/json into the ids (malloc'd array of n). 0,
 * -ENOMEM, or -EINVAL with err. */
int engine_json_list(const char *body, size_t len, char (**ids)[ENGINE_ID_MAX + 1], size_t *n, char *err,
		     size_t errlen);

/* --- engine_logs.c: Docker's multiplexed log stream ------------------------ */

/* Splits a logs answer into lines: Docker's frames ([stream, 0, 0, 0,
 * big-endian length] then the bytes), or plain bytes when the answer does
 * not start with a frame header (a TTY). With timestamps, each line's
 * leading RFC 3339 time becomes its time_ns (now_ns when absent). Lines
 * longer than RUNTIME_EXEC_LINE_MAX-like ENGINE_LINE_MAX come in partial
 * pieces. On success *lines (malloc'd) points into *buf (malloc'd); the
 * caller frees both. Returns 0, -ENOMEM, or -EINVAL with err (a frame cut
 * short). */
#define ENGINE_LINE_MAX (16u << 10)
int engine_logs_split(const char *body, size_t len, bool timestamps, uint64_t now_ns, struct runtime_log_line **lines,
		      size_t *n, char **buf, char *err, size_t errlen);

/* --- engine.c and engine_jobs.c: the runtime and its tasks ---------------- */

/* Where a task is in its walk; each step has at most one request in flight. */
enum engine_step {
	ENGINE_STEP_IMAGE,        /* GET /images/NAME/json */
	ENGINE_STEP_PULL,         /* POST /images/create */
	ENGINE_STEP_IMAGE_AGAIN,  /* GET /images/NAME/json after the pull */
	ENGINE_STEP_CREATE,       /* POST /containers/create */
	ENGINE_STEP_START,        /* POST /containers/ID/start */
	ENGINE_STEP_INSPECT,      /* GET /containers/ID/json */
	ENGINE_STEP_WAIT,         /* POST /containers/ID/wait, while RUNNING */
	ENGINE_STEP_ENDED,        /* terminal */
};

struct engine_rt;

struct engine_task {
	struct engine_task *next;
	struct engine_rt *rt;
	struct runtime_task_spec *spec;   /* owned copy */
	struct runtime_status status;
	enum engine_step step;
	struct engine_call *call;         /* the step's request, NULL if none */
	struct engine_call *stop_call;    /* POST stop, beside the wait */
	struct runtime_port *ports;       /* read back from inspect (malloc'd), nports of them */
	size_t nports;
	uint64_t stop_grace_ms;
	bool stop_requested;
	bool container_gone;              /* recover() removed it already */
	bool in_reply;                    /* inside its own reply callback: freeing waits */
	bool released;                    /* forgotten: freed once no call is in flight */
};

struct engine_rt {
	struct runtime base;              /* first: what the owner holds */
	struct engine_http *http;
	char *node_id;                    /* malloc'd, "" for none */
	bool (*want_task)(void *data, const char *task_id);
	struct engine_task *tasks;        /* known tasks, not removed */
	size_t tasks_alloc;               /* task structs in memory, released ones included */
	int jobs;                         /* runtime-level requests in flight (logs, remove, recover) */
	bool started;                     /* start() accepted a task: recover() is too late */
	bool recovering;
	bool recovered;                   /* recover() ran: a second one would remove adopted containers */
	bool closing;
	void (*on_closed)(struct runtime *rt);
};

struct engine_task *engine_task_find(struct engine_rt *rt, const char *task_id);

/* A task struct with a copy of spec (not yet in rt->tasks); NULL when out of memory. */
struct engine_task *engine_task_new(struct engine_rt *rt, const struct runtime_task_spec *spec);

/* Links t into rt->tasks. */
void engine_task_link(struct engine_task *t);

/* Records state (and the time) and tells the owner unless closing. */
void engine_task_report(struct engine_task *t, enum runtime_state state, const char *message);

/* Follows a running container: sends its wait. Returns 0 or -ENOMEM. */
int engine_task_follow(struct engine_task *t);

/* Forgets a task; its memory goes once no request of it is in flight. */
void engine_task_release(struct engine_task *t);

/* Copies what an inspect told (pid, ports) into the task. */
void engine_task_set_inspect(struct engine_task *t, const struct engine_inspect *in);

/* A runtime-level request finished: lets close() complete when it was the last. */
void engine_rt_job_done(struct engine_rt *rt);

/* Why an answer is a failure ("engine: <message> (HTTP N)" or the transport
 * error), into out; false when the answer is one of ok_a, ok_b. */
bool engine_reply_failed(const struct engine_reply *r, long ok_a, long ok_b, char *out, size_t outlen);

/* The operations in engine_jobs.c. */
int engine_op_remove(struct runtime *base, const char *task_id);
int engine_op_logs(struct runtime *base, const char *task_id, size_t tail, runtime_logs_cb cb, void *data);
int engine_op_recover(struct runtime *base, void (*on_done)(struct runtime *rt, int status));

/* Wall clock in Unix ms. */
uint64_t engine_wall_ms(void);

#endif
