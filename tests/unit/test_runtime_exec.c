/* Unit tests for the exec runtime: real processes on a real libuv loop, a temporary data dir per test. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <uv.h>

#include "swarmnode/log.h"
#include "swarmnode/runtime.h"
#include "swarmnode/runtime_exec.h"

#define MAX_EVENTS 64
#define DEADLINE_MS 20000 /* a test that waits longer has failed */

struct event {
	char task_id[RUNTIME_ID_MAX + 1];
	struct runtime_status st;
};

struct fx {
	uv_loop_t loop;
	char dir[64];                 /* the data dir */
	struct runtime *rt;
	struct event events[MAX_EVENTS];
	int nevents;
	bool closed;                  /* on_closed ran */
	bool close_on_terminal;       /* on_state closes the runtime at a terminal state */
	bool recovered;               /* recover's on_done ran */
	int recover_status;
	bool logs_done;
	int logs_status;
	char logs[1 << 16];           /* "<o|e><F|P> text\n" per line */
	size_t logs_n;                /* lines */
};

static void on_closed(struct runtime *rt);

static void on_state(void *data, const char *task_id, const struct runtime_status *st)
{
	struct fx *f = data;
	assert_true(f->nevents < MAX_EVENTS);
	struct event *e = &f->events[f->nevents++];
	snprintf(e->task_id, sizeof(e->task_id), "%s", task_id);
	e->st = *st;
	if (f->close_on_terminal && runtime_state_is_terminal(st->state)) {
		runtime_close(f->rt, on_closed);
		f->rt = NULL;
	}
}

static int setup_with(void **state, uint64_t log_max)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sn-rt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	struct runtime_exec_config cfg = {.data_dir = f->dir, .log_max_bytes = log_max};
	char err[256] = "";
	int rc = runtime_exec_new(&f->loop, &cfg, on_state, f, &f->rt, err, sizeof(err));
	if (rc != 0)
		fail_msg("runtime_exec_new: %s", err);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	log_set_min_level(LOG_WARN);
	return setup_with(state, 0);
}

static int setup_small_log(void **state)
{
	log_set_min_level(LOG_WARN);
	return setup_with(state, RUNTIME_EXEC_LOG_MAX_MIN);
}

/* Runs the loop until pred holds or the deadline passes; returns pred. */
typedef bool (*pred_fn)(struct fx *f, const void *arg);

static void deadline_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static bool run_until(struct fx *f, pred_fn pred, const void *arg)
{
	uv_timer_t deadline;
	bool expired = false;
	uv_timer_init(&f->loop, &deadline);
	deadline.data = &expired;
	uv_timer_start(&deadline, deadline_cb, DEADLINE_MS, 0);
	while (!pred(f, arg) && !expired)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT); /* lets the close complete before the stack frame goes */
	return pred(f, arg);
}

static void on_closed(struct runtime *rt)
{
	struct fx *f = rt->data;
	f->closed = true;
}

static bool is_closed(struct fx *f, const void *arg)
{
	return f->closed;
}

static void close_runtime(struct fx *f)
{
	if (f->rt == NULL)
		return;
	runtime_close(f->rt, on_closed);
	assert_true(run_until(f, is_closed, NULL));
	f->rt = NULL;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close_runtime(f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* --- helpers ------------------------------------------------------------ */

static const struct event *last_event(struct fx *f, const char *task_id)
{
	for (int i = f->nevents - 1; i >= 0; i--) {
		if (strcmp(f->events[i].task_id, task_id) == 0)
			return &f->events[i];
	}
	return NULL;
}

struct want_state {
	const char *task_id;
	enum runtime_state state;
};

static bool reached(struct fx *f, const void *arg)
{
	const struct want_state *w = arg;
	const struct event *e = last_event(f, w->task_id);
	return e != NULL && (e->st.state == w->state || runtime_state_is_terminal(e->st.state));
}

/* Waits for task_id to reach state (or end); returns its last status. */
static struct runtime_status wait_state(struct fx *f, const char *task_id, enum runtime_state state)
{
	struct want_state w = {task_id, state};
	if (!run_until(f, reached, &w))
		fail_msg("task %s never reached %s", task_id, runtime_state_name(state));
	const struct event *e = last_event(f, task_id);
	if (e->st.state != state)
		fail_msg("task %s: %s (%s), wanted %s", task_id, runtime_state_name(e->st.state), e->st.err,
			 runtime_state_name(state));
	return e->st;
}

static struct runtime_task_spec spec_of(const char *id, const char *image, const char *const *args, size_t nargs)
{
	return (struct runtime_task_spec){
		.task_id = id,
		.service_id = "svc0000000000000000000001",
		.service_name = "web",
		.slot = 2,
		.node_id = "node000000000000000000001",
		.image = image,
		.args = args,
		.args_len = nargs,
		.stop_grace_ms = 10000,
	};
}

static void start_ok(struct fx *f, const struct runtime_task_spec *spec)
{
	char err[512] = "";
	int rc = runtime_start(f->rt, spec, err, sizeof(err));
	if (rc != 0)
		fail_msg("start %s: %d %s", spec->task_id, rc, err);
}

static void on_logs(void *data, int status, const struct runtime_log_line *lines, size_t n)
{
	struct fx *f = data;
	f->logs_done = true;
	f->logs_status = status;
	f->logs[0] = '\0';
	f->logs_n = n;
	size_t used = 0;
	for (size_t i = 0; i < n && used < sizeof(f->logs) - 1; i++) {
		int w = snprintf(f->logs + used, sizeof(f->logs) - used, "%c%c %.*s\n",
				 lines[i].stream == RUNTIME_LOG_STDERR ? 'e' : 'o', lines[i].partial ? 'P' : 'F',
				 (int)(lines[i].len > 200 ? 200 : lines[i].len), lines[i].text);
		used += (size_t)w < sizeof(f->logs) - used ? (size_t)w : sizeof(f->logs) - used - 1;
		assert_true(lines[i].time_ns > 1600000000ull * 1000000000ull);
	}
}

static bool logs_ready(struct fx *f, const void *arg)
{
	return f->logs_done;
}

static void read_logs(struct fx *f, const char *task_id, size_t tail)
{
	f->logs_done = false;
	assert_int_equal(runtime_logs(f->rt, task_id, tail, on_logs, f), 0);
	assert_true(run_until(f, logs_ready, NULL));
	assert_int_equal(f->logs_status, 0);
}

static int64_t file_size(struct fx *f, const char *task_id, const char *name)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/tasks/%s/%s", f->dir, task_id, name);
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* --- validation ---------------------------------------------------------- */

static void expect_invalid(const struct runtime_task_spec *spec, const char *needle)
{
	char err[512] = "";
	assert_int_equal(runtime_task_spec_validate(spec, err, sizeof(err)), -EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void validate_refuses_bad_specs(void **state)
{
	const char *args[] = {"a", NULL};
	const char *env_bad[] = {"FOO"};
	const char *env_empty_key[] = {"=x"};
	struct runtime_port dup[] = {{80, 30000, RUNTIME_PROTO_TCP, RUNTIME_PUBLISH_INGRESS},
				     {80, 30001, RUNTIME_PROTO_TCP, RUNTIME_PUBLISH_HOST}};
	struct runtime_port zero[] = {{0, 0, RUNTIME_PROTO_TCP, RUNTIME_PUBLISH_INGRESS}};
	struct runtime_port big[] = {{80, 70000, RUNTIME_PROTO_UDP, RUNTIME_PUBLISH_INGRESS}};
	struct runtime_port proto[] = {{80, 0, (enum runtime_protocol)7, RUNTIME_PUBLISH_INGRESS}};
	struct runtime_task_spec s;

	s = spec_of("t1", "", NULL, 0);
	expect_invalid(&s, "image: empty");
	s = spec_of("../etc", "/bin/true", NULL, 0);
	expect_invalid(&s, "task id \"../etc\"");
	s = spec_of("", "/bin/true", NULL, 0);
	expect_invalid(&s, "task id: empty");
	s = spec_of(".hidden", "/bin/true", NULL, 0);
	expect_invalid(&s, "starts with '.'");
	s = spec_of("t1", "/bin/true", args, RUNTIME_ARGS_MAX + 1);
	expect_invalid(&s, "args: 4097 entries");
	s = spec_of("t1", "/bin/true", args, 2);
	expect_invalid(&s, "args[1]: missing");
	s = spec_of("t1", "/bin/true", NULL, 0);
	s.env = env_bad, s.env_len = 1;
	expect_invalid(&s, "env[0]: \"FOO\" has no '='");
	s.env = env_empty_key;
	expect_invalid(&s, "env[0]: \"=x\" has an empty name");
	s = spec_of("t1", "/bin/true", NULL, 0);
	s.ports = dup, s.ports_len = 2;
	expect_invalid(&s, "ports[1]: target 80/tcp repeats ports[0]");
	s.ports = zero, s.ports_len = 1;
	expect_invalid(&s, "ports[0]: target port 0");
	s.ports = big;
	expect_invalid(&s, "published port 70000");
	s.ports = proto;
	expect_invalid(&s, "neither tcp nor udp");
	s = spec_of("t1", "/bin/true", NULL, 0);
	s.memory_bytes = 1 << 20;
	expect_invalid(&s, "Minimum memory limit allowed is 6MB");

	struct fx *f = *state;
	char err[256] = "";
	s = spec_of("t1", "/bin/true", NULL, 0);
	s.env = env_bad, s.env_len = 1;
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "has no '='"));
	assert_int_equal(f->nevents, 0);
}

static void spec_copy_is_deep(void **state)
{
	(void)state;
	char image[] = "/bin/echo";
	char arg[] = "hello";
	const char *args[] = {arg};
	const char *env[] = {"A=1", "B=2"};
	struct runtime_port ports[] = {{8080, 30080, RUNTIME_PROTO_UDP, RUNTIME_PUBLISH_HOST}};
	struct runtime_label labels[] = {{"com.example", "x"}};
	struct runtime_task_spec s = spec_of("t1", image, args, 1);
	s.env = env, s.env_len = 2, s.ports = ports, s.ports_len = 1, s.labels = labels, s.labels_len = 1;
	s.service_id = NULL;
	struct runtime_task_spec *c = runtime_task_spec_copy(&s);
	assert_non_null(c);
	image[1] = 'X';
	arg[0] = 'J';
	ports[0].target = 1;
	assert_string_equal(c->image, "/bin/echo");
	assert_string_equal(c->args[0], "hello");
	assert_string_equal(c->env[1], "B=2");
	assert_int_equal(c->ports[0].target, 8080);
	assert_int_equal(c->ports[0].published, 30080);
	assert_string_equal(c->labels[0].key, "com.example");
	assert_string_equal(c->service_id, "");
	assert_int_equal(c->slot, 2);
	free(c);
}

static void state_names_are_dockers(void **state)
{
	(void)state;
	assert_string_equal(runtime_state_name(RUNTIME_STATE_RUNNING), "running");
	assert_string_equal(runtime_state_name(RUNTIME_STATE_REJECTED), "rejected");
	assert_string_equal(runtime_state_name(RUNTIME_STATE_ORPHANED), "orphaned");
	assert_string_equal(runtime_state_name(RUNTIME_STATE__COUNT), "unknown");
	assert_false(runtime_state_is_terminal(RUNTIME_STATE_RUNNING));
	assert_true(runtime_state_is_terminal(RUNTIME_STATE_COMPLETE));
	assert_true(runtime_state_is_terminal(RUNTIME_STATE_ORPHANED));
}

/* --- running tasks ------------------------------------------------------- */

static void nonzero_exit_fails_with_logs(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"-c", "echo hi; echo oops >&2; exit 3"};
	struct runtime_task_spec s = spec_of("t-exit3", "/bin/sh", args, 2);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, "t-exit3", RUNTIME_STATE_FAILED);
	assert_int_equal(st.exit_code, 3);
	assert_true(st.exited);
	assert_string_equal(st.err, "task: non-zero exit (3)");
	assert_true(st.pid > 0);
	assert_true(st.started_ms > 0 && st.finished_ms >= st.started_ms);
	/* Every state once, in order. */
	enum runtime_state walk[] = {RUNTIME_STATE_PREPARING, RUNTIME_STATE_STARTING, RUNTIME_STATE_RUNNING,
				     RUNTIME_STATE_FAILED};
	assert_int_equal(f->nevents, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(f->events[i].st.state, walk[i]);
	read_logs(f, "t-exit3", RUNTIME_LOGS_ALL);
	assert_int_equal(f->logs_n, 2);
	assert_non_null(strstr(f->logs, "oF hi\n"));
	assert_non_null(strstr(f->logs, "eF oops\n"));
	/* The process record is gone with the process. */
	assert_int_equal(file_size(f, "t-exit3", "pid"), -1);
	struct runtime_status in;
	assert_int_equal(runtime_inspect(f->rt, "t-exit3", &in), 0);
	assert_int_equal(in.state, RUNTIME_STATE_FAILED);
}

static void zero_exit_completes(void **state)
{
	struct fx *f = *state;
	struct runtime_task_spec s = spec_of("t-true", "/bin/true", NULL, 0);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, "t-true", RUNTIME_STATE_COMPLETE);
	assert_int_equal(st.exit_code, 0);
	assert_string_equal(st.err, "");
	assert_string_equal(st.message, "finished");
	char err[256];
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EEXIST);
	read_logs(f, "t-true", RUNTIME_LOGS_ALL);
	assert_int_equal(f->logs_n, 0);
	assert_int_equal(runtime_logs(f->rt, "t-unknown", 10, on_logs, f), -ENOENT);
	assert_int_equal(runtime_inspect(f->rt, "t-unknown", &(struct runtime_status){0}), -ENOENT);
}

static void missing_program_is_rejected(void **state)
{
	struct fx *f = *state;
	struct runtime_task_spec s = spec_of("t-nf", "no-such-program-swarmnode", NULL, 0);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, "t-nf", RUNTIME_STATE_REJECTED);
	assert_string_equal(st.err, "exec: \"no-such-program-swarmnode\": executable file not found in $PATH");
	assert_int_equal(st.pid, 0);
	s = spec_of("t-abs", "/nonexistent/prog", NULL, 0);
	start_ok(f, &s);
	st = wait_state(f, "t-abs", RUNTIME_STATE_REJECTED);
	assert_string_equal(st.err, "exec: \"/nonexistent/prog\": stat /nonexistent/prog: No such file or directory");
	s = spec_of("t-dir", "/tmp", NULL, 0);
	start_ok(f, &s);
	st = wait_state(f, "t-dir", RUNTIME_STATE_REJECTED);
	assert_string_equal(st.err, "exec: \"/tmp\": permission denied");
	s = spec_of("t-rel", "./prog", NULL, 0);
	start_ok(f, &s);
	st = wait_state(f, "t-rel", RUNTIME_STATE_REJECTED);
	assert_non_null(strstr(st.err, "not an absolute path"));
}

static bool process_gone(int64_t pid)
{
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Dead, if perhaps not yet reaped by whoever inherited it. */
static bool process_dead(int64_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	FILE *pf = fopen(path, "r");
	if (pf == NULL)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, pf);
	fclose(pf);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p != NULL && (p[2] == 'Z' || p[2] == 'X');
}

static int64_t read_pid_file(struct fx *f, const char *task_id, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/tasks/%s/%s", f->dir, task_id, name);
	FILE *pf = fopen(path, "r");
	assert_non_null(pf);
	long long pid = 0;
	assert_int_equal(fscanf(pf, "%lld", &pid), 1);
	fclose(pf);
	return pid;
}

static void exit_kills_the_rest_of_the_group(void **state)
{
	struct fx *f = *state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	const char *args[] = {"-c", "sleep 30 & echo $! > bg.pid; exit 0"};
	struct runtime_task_spec s = spec_of("t-bg", "/bin/sh", args, 2);
	start_ok(f, &s);
	wait_state(f, "t-bg", RUNTIME_STATE_COMPLETE);
	int64_t bg = read_pid_file(f, "t-bg", "bg.pid");
	assert_true(bg > 0);
	/* The orphan came to this process (a subreaper): wait for it and see how it died. */
	int status = 0;
	assert_int_equal(waitpid((pid_t)bg, &status, 0), bg);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("background process: status 0x%x, not killed by SIGKILL", status);
}

static void escaped_process_does_not_hold_the_task(void **state)
{
	struct fx *f = *state;
	/* setsid leaves the group and keeps the output pipes open. */
	const char *args[] = {"-c", "setsid sh -c 'echo $$ > escaped.pid; exec sleep 30' & "
				    "while [ ! -s escaped.pid ]; do :; done; exit 0"};
	struct runtime_task_spec s = spec_of("t-esc", "/bin/sh", args, 2);
	uv_update_time(&f->loop);
	uint64_t t0 = uv_now(&f->loop);
	start_ok(f, &s);
	wait_state(f, "t-esc", RUNTIME_STATE_COMPLETE);
	uv_update_time(&f->loop);
	assert_true(uv_now(&f->loop) - t0 >= 2000); /* the drain deadline */
	int64_t escaped = read_pid_file(f, "t-esc", "escaped.pid");
	assert_false(process_dead(escaped)); /* exec is not a container */
	assert_int_equal(kill((pid_t)escaped, SIGKILL), 0);
}

static void fast_producer_loses_nothing_recent(void **state)
{
	struct fx *f = *state;
	/* 8 MB as fast as the pipe takes it: the log falls behind, reading pauses. */
	const char *args[] = {"-c", "head -c 8000000 /dev/zero | tr '\\0' x | fold -w 99; echo; echo last"};
	struct runtime_task_spec s = spec_of("t-fast", "/bin/sh", args, 2);
	start_ok(f, &s);
	wait_state(f, "t-fast", RUNTIME_STATE_COMPLETE);
	assert_true(file_size(f, "t-fast", "log") <= RUNTIME_EXEC_LOG_MAX_MIN);
	assert_true(file_size(f, "t-fast", "log.1") <= RUNTIME_EXEC_LOG_MAX_MIN);
	read_logs(f, "t-fast", 2);
	assert_int_equal(f->logs_n, 2);
	assert_memory_equal(f->logs, "oF xxxx", 7);
	if (strstr(f->logs, "\noF last\n") == NULL)
		fail_msg("last lines:\n%s", f->logs);
}

static void stopped_sleeper_shuts_down_before_grace(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"30"};
	struct runtime_task_spec s = spec_of("t-sleep", "sleep", args, 1); /* found through PATH */
	s.memory_bytes = 256ll << 20;
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, "t-sleep", RUNTIME_STATE_RUNNING);
	assert_true(st.pid > 0);
	assert_true(file_size(f, "t-sleep", "pid") > 0);
	assert_int_equal(runtime_remove(f->rt, "t-sleep"), -EBUSY);

	/* The memory limit is the address space limit of the running process. */
	char path[64], limits[4096];
	snprintf(path, sizeof(path), "/proc/%lld/limits", (long long)st.pid);
	FILE *lf = fopen(path, "r");
	assert_non_null(lf);
	size_t n = fread(limits, 1, sizeof(limits) - 1, lf);
	fclose(lf);
	limits[n] = '\0';
	const char *as = strstr(limits, "Max address space");
	assert_non_null(as);
	assert_non_null(strstr(as, "268435456"));

	uint64_t t0 = uv_now(&f->loop);
	assert_int_equal(runtime_stop(f->rt, "t-sleep", 10000), 0);
	st = wait_state(f, "t-sleep", RUNTIME_STATE_SHUTDOWN);
	uv_update_time(&f->loop);
	uint64_t took = uv_now(&f->loop) - t0;
	if (took >= 10000)
		fail_msg("stop took %llu ms, grace was 10000", (unsigned long long)took);
	assert_int_equal(st.exit_code, 128 + SIGTERM);
	assert_string_equal(st.err, "");
	assert_string_equal(st.message, "shutdown");
	assert_true(process_gone(st.pid));
	assert_int_equal(runtime_stop(f->rt, "t-sleep", 10000), 0); /* again: nothing */
	assert_int_equal(runtime_stop(f->rt, "nope", 10000), -ENOENT);
}

/* A FIFO the child writes to once it is ready; the test reads it on the loop. */
struct ready_pipe {
	uv_pipe_t pipe;
	int wfd;            /* held open so the reader sees no EOF before the child writes */
	bool ready;
};

static void ready_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char b[64];
	*buf = uv_buf_init(b, sizeof(b));
}

static void ready_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ready_pipe *rp = s->data;
	if (nread > 0)
		rp->ready = true;
}

static void ready_open(struct fx *f, struct ready_pipe *rp, const char *path)
{
	assert_int_equal(mkfifo(path, 0600), 0);
	int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rfd >= 0);
	rp->wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rp->wfd >= 0);
	rp->ready = false;
	assert_int_equal(uv_pipe_init(&f->loop, &rp->pipe, 0), 0);
	assert_int_equal(uv_pipe_open(&rp->pipe, rfd), 0);
	rp->pipe.data = rp;
	assert_int_equal(uv_read_start((uv_stream_t *)&rp->pipe, ready_alloc, ready_read), 0);
}

static void ready_close(struct ready_pipe *rp)
{
	uv_close((uv_handle_t *)&rp->pipe, NULL);
	close(rp->wfd);
}

static bool child_ready(struct fx *f, const void *arg)
{
	return ((const struct ready_pipe *)arg)->ready;
}

static void term_ignoring_task_is_killed_after_grace(void **state)
{
	struct fx *f = *state;
	char fifo[128], env_ready[160];
	snprintf(fifo, sizeof(fifo), "%s/ready", f->dir);
	snprintf(env_ready, sizeof(env_ready), "READY=%s", fifo);
	struct ready_pipe rp;
	ready_open(f, &rp, fifo);
	const char *args[] = {"-c", "trap '' TERM; echo ready > \"$READY\"; exec sleep 30"};
	const char *env[] = {env_ready};
	struct runtime_task_spec s = spec_of("t-trap", "/bin/sh", args, 2);
	s.env = env, s.env_len = 1;
	start_ok(f, &s);
	wait_state(f, "t-trap", RUNTIME_STATE_RUNNING);
	assert_true(run_until(f, child_ready, &rp));
	ready_close(&rp); /* now: the loop runs below finish the close while rp lives */

	uv_update_time(&f->loop);
	uint64_t t0 = uv_now(&f->loop);
	assert_int_equal(runtime_stop(f->rt, "t-trap", 300), 0);
	struct runtime_status st = wait_state(f, "t-trap", RUNTIME_STATE_SHUTDOWN);
	uv_update_time(&f->loop);
	uint64_t took = uv_now(&f->loop) - t0;
	if (took < 300)
		fail_msg("killed after %llu ms, before the 300 ms grace", (unsigned long long)took);
	assert_int_equal(st.exit_code, 128 + SIGKILL);
	assert_true(process_gone(st.pid));
}

static void unfinished_line_is_written_when_stopped(void **state)
{
	struct fx *f = *state;
	char fifo[128], env_ready[160];
	snprintf(fifo, sizeof(fifo), "%s/ready", f->dir);
	snprintf(env_ready, sizeof(env_ready), "READY=%s", fifo);
	struct ready_pipe rp;
	ready_open(f, &rp, fifo);
	const char *args[] = {"-c", "printf 'half a line'; echo ready > \"$READY\"; exec sleep 30"};
	const char *env[] = {env_ready};
	struct runtime_task_spec s = spec_of("t-half", "/bin/sh", args, 2);
	s.env = env, s.env_len = 1;
	start_ok(f, &s);
	wait_state(f, "t-half", RUNTIME_STATE_RUNNING);
	assert_true(run_until(f, child_ready, &rp));
	ready_close(&rp); /* now: the loop runs below finish the close while rp lives */
	assert_int_equal(runtime_stop(f->rt, "t-half", 10000), 0);
	wait_state(f, "t-half", RUNTIME_STATE_SHUTDOWN);
	read_logs(f, "t-half", RUNTIME_LOGS_ALL);
	assert_string_equal(f->logs, "oF half a line\n");
}

static void ports_and_env_reach_the_child(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"-c", "echo \"args=$0|$1|$2|$3|$4\"; env; pwd", "${PORT}", "x${PORT_53}y", "$${PORT}",
			      "${HOME}", "${SWARMNODE_NODE_ADDR}:${PORT}"};
	const char *env[] = {"FOO=bar", "PORT=1", "FOO=baz"};
	struct runtime_port ports[] = {{80, 30080, RUNTIME_PROTO_TCP, RUNTIME_PUBLISH_INGRESS},
				       {53, 0, RUNTIME_PROTO_UDP, RUNTIME_PUBLISH_HOST}};
	struct runtime_task_spec s = spec_of("t-env", "/bin/sh", args, 7);
	s.env = env, s.env_len = 3, s.ports = ports, s.ports_len = 2;
	s.node_addr = "127.0.0.7";
	start_ok(f, &s);
	wait_state(f, "t-env", RUNTIME_STATE_COMPLETE);
	read_logs(f, "t-env", RUNTIME_LOGS_ALL);
	const char *expect[] = {
		"oF args=30080|x53y|${PORT}|${HOME}|127.0.0.7:30080\n",
		"oF SWARMNODE_NODE_ADDR=127.0.0.7\n",
		"oF PORT=30080\n",
		"oF PORT_80=30080\n",
		"oF PORT_53=53\n",
		"oF FOO=baz\n",
		"oF SWARMNODE_TASK_ID=t-env\n",
		"oF SWARMNODE_SERVICE_NAME=web\n",
		"oF SWARMNODE_SERVICE_ID=svc0000000000000000000001\n",
		"oF SWARMNODE_SLOT=2\n",
		"oF SWARMNODE_NODE_ID=node000000000000000000001\n",
		"oF PATH=",
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (strstr(f->logs, expect[i]) == NULL)
			fail_msg("logs lack \"%s\":\n%s", expect[i], f->logs);
	}
	assert_null(strstr(f->logs, "FOO=bar"));
	char cwd[160];
	snprintf(cwd, sizeof(cwd), "oF %s/tasks/t-env\n", f->dir);
	assert_non_null(strstr(f->logs, cwd));

	/* A reference the ports cannot satisfy is refused at start. */
	const char *bad[] = {"${PORT_99}"};
	s = spec_of("t-env2", "/bin/echo", bad, 1);
	s.ports = ports, s.ports_len = 2;
	char err[256] = "";
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "args[0]: ${PORT_99}: no published port has that target");
	const char *bad2[] = {"--port=${PORT}"};
	s = spec_of("t-env3", "/bin/echo", bad2, 1);
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "args[0]: ${PORT}: the service publishes no port");
}

static void chatty_task_log_is_capped(void **state)
{
	struct fx *f = *state;
	/* About 100 bytes a record, 5,000 records: eight times the 64 KiB cap. */
	const char *args[] = {"-c", "i=0; while [ $i -lt 5000 ]; do echo \"line $i "
				    "....................................\"; i=$((i+1)); done"};
	struct runtime_task_spec s = spec_of("t-chatty", "/bin/sh", args, 2);
	start_ok(f, &s);
	wait_state(f, "t-chatty", RUNTIME_STATE_COMPLETE);
	int64_t cur = file_size(f, "t-chatty", "log"), old = file_size(f, "t-chatty", "log.1");
	if (cur <= 0 || cur > RUNTIME_EXEC_LOG_MAX_MIN || old <= 0 || old > RUNTIME_EXEC_LOG_MAX_MIN)
		fail_msg("log %lld bytes, log.1 %lld bytes, cap %u", (long long)cur, (long long)old,
			 RUNTIME_EXEC_LOG_MAX_MIN);
	read_logs(f, "t-chatty", 3);
	assert_int_equal(f->logs_n, 3);
	assert_non_null(strstr(f->logs, "oF line 4997 ....................................\n"
					"oF line 4998 ....................................\n"
					"oF line 4999 ....................................\n"));
	/* Every line still on disk, across both files, in order, none torn. */
	read_logs(f, "t-chatty", RUNTIME_LOGS_ALL);
	assert_true(f->logs_n > 600 && f->logs_n < 5000);
	size_t first = 5000 - f->logs_n;
	char want[64];
	snprintf(want, sizeof(want), "oF line %zu ....", first);
	assert_memory_equal(f->logs, want, strlen(want));
}

static void long_lines_are_split(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; printf tail"};
	struct runtime_task_spec s = spec_of("t-long", "/bin/sh", args, 2);
	start_ok(f, &s);
	wait_state(f, "t-long", RUNTIME_STATE_COMPLETE);
	read_logs(f, "t-long", RUNTIME_LOGS_ALL);
	/* 16384 + 16384 + 7232 bytes, then "tail" without a newline. */
	assert_int_equal(f->logs_n, 4);
	const char *p = f->logs;
	assert_memory_equal(p, "oP aaaa", 7);
	p = strchr(p, '\n') + 1;
	assert_memory_equal(p, "oP aaaa", 7);
	p = strchr(p, '\n') + 1;
	assert_memory_equal(p, "oF aaaa", 7);
	p = strchr(p, '\n') + 1;
	assert_string_equal(p, "oF tail\n");
}

/* A record's bytes on disk besides its text: time, stream, tag, spaces, newline. */
#define RECORD_OVERHEAD (30 + 1 + 6 + 1 + 1 + 1 + 1)

static void line_below_the_limit_is_whole_one_past_is_split(void **state)
{
	struct fx *f = *state;
	/* 16383 a's and a newline, then 16385 b's and a newline. (A line of
	 * exactly 16384 bytes is one record or a P and an empty F, as its
	 * newline comes in the same read or the next: not testable here.) */
	const char *args[] = {"-c", "head -c 16383 /dev/zero | tr '\\0' a; echo; head -c 16385 /dev/zero | tr '\\0' b; echo"};
	struct runtime_task_spec s = spec_of("t-edge", "/bin/sh", args, 2);
	start_ok(f, &s);
	wait_state(f, "t-edge", RUNTIME_STATE_COMPLETE);
	read_logs(f, "t-edge", RUNTIME_LOGS_ALL);
	assert_int_equal(f->logs_n, 3);
	const char *p = f->logs;
	assert_memory_equal(p, "oF aaaa", 7);
	p = strchr(p, '\n') + 1;
	assert_memory_equal(p, "oP bbbb", 7);
	p = strchr(p, '\n') + 1;
	assert_string_equal(p, "oF b\n");
	/* The texts are 16383, 16384 and 1 bytes long. */
	assert_int_equal(file_size(f, "t-edge", "log"), 3 * RECORD_OVERHEAD + 16383 + 16384 + 1);
}

static void lines_written_in_pieces_are_joined(void **state)
{
	struct fx *f = *state;
	/* The pauses make the pieces arrive in separate reads (the records are
	 * the same if they do not); each stream keeps its own unfinished line. */
	const char *args[] = {"-c", "printf abc; printf 'x' >&2; sleep 0.1; printf 'def\\nghi'; sleep 0.1; echo jkl; "
				    "echo y >&2; printf 'no newline'"};
	struct runtime_task_spec s = spec_of("t-pieces", "/bin/sh", args, 2);
	start_ok(f, &s);
	wait_state(f, "t-pieces", RUNTIME_STATE_COMPLETE);
	read_logs(f, "t-pieces", RUNTIME_LOGS_ALL);
	assert_int_equal(f->logs_n, 4);
	assert_non_null(strstr(f->logs, "oF abcdef\noF ghijkl\n"));
	assert_non_null(strstr(f->logs, "eF xy\n"));
	assert_non_null(strstr(f->logs, "oF no newline\n"));
}

static void silent_task_has_no_log(void **state)
{
	struct fx *f = *state;
	struct runtime_task_spec s = spec_of("t-quiet", "/bin/true", NULL, 0);
	start_ok(f, &s);
	wait_state(f, "t-quiet", RUNTIME_STATE_COMPLETE);
	read_logs(f, "t-quiet", RUNTIME_LOGS_ALL);
	assert_int_equal(f->logs_n, 0);
	assert_true(file_size(f, "t-quiet", "") >= 0);
	assert_int_equal(file_size(f, "t-quiet", "log"), -1);
}

static void stop_before_start_never_runs(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"30"};
	struct runtime_task_spec s = spec_of("t-early", "/bin/sleep", args, 1);
	start_ok(f, &s);
	assert_int_equal(runtime_stop(f->rt, "t-early", 1000), 0);
	struct runtime_status st = wait_state(f, "t-early", RUNTIME_STATE_SHUTDOWN);
	assert_int_equal(st.pid, 0);
	for (int i = 0; i < f->nevents; i++)
		assert_int_not_equal(f->events[i].st.state, RUNTIME_STATE_RUNNING);
}

static void remove_deletes_the_task_directory(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"-c", "echo x > junk; mkdir sub; echo y > sub/more; echo done"};
	struct runtime_task_spec s = spec_of("t-rm", "/bin/sh", args, 2);
	start_ok(f, &s);
	wait_state(f, "t-rm", RUNTIME_STATE_COMPLETE);
	assert_true(file_size(f, "t-rm", "junk") > 0);
	assert_int_equal(runtime_remove(f->rt, "t-rm"), 0);
	assert_int_equal(runtime_inspect(f->rt, "t-rm", &(struct runtime_status){0}), -ENOENT);
	assert_int_equal(runtime_remove(f->rt, "never-was"), -ENOENT);
	assert_int_equal(runtime_remove(f->rt, "../x"), -EINVAL);
	close_runtime(f); /* waits for the removal job */
	assert_int_equal(file_size(f, "t-rm", ""), -1);
}

static void close_stops_running_tasks(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"30"};
	struct runtime_task_spec s = spec_of("t-close", "/bin/sleep", args, 1);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, "t-close", RUNTIME_STATE_RUNNING);
	int before = f->nevents;
	close_runtime(f);
	assert_int_equal(f->nevents, before); /* no callback after close */
	assert_true(process_gone(st.pid));
	assert_int_equal(file_size(f, "t-close", "pid"), -1);
}

static void write_file(struct fx *f, const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/tasks/%s", f->dir, rel);
	FILE *wf = fopen(path, "w");
	assert_non_null(wf);
	fputs(text, wf);
	fclose(wf);
}

static void malformed_log_records_are_skipped(void **state)
{
	struct fx *f = *state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/tasks/t-disk", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(f, "t-disk/log.1",
		   "2024-05-01T10:00:00.000000001Z stdout F one\n"
		   "2024-05-01T10:00:00.000000002Z stdin F bad stream\n"
		   "2024-05-01T10:00:00.000000003Z stdout X bad tag\n"
		   "2024-13-01T10:00:00Z stdout F short time\n"
		   "not a record at all\n"
		   "\n"
		   "2024-05-01T10:00:00.000000004Z stderr P tw");
	write_file(f, "t-disk/log",
		   "2024-05-01T10:00:01.000000000Z stderr F two\n"
		   "2024-05-01T10:00:02.000000000Z stdout F \n"
		   "2024-05-01T10:00:03.000000000Z stdout P thr");
	read_logs(f, "t-disk", RUNTIME_LOGS_ALL);
	assert_int_equal(f->logs_n, 3);
	assert_string_equal(f->logs, "oF one\neF two\noF \n");
	read_logs(f, "t-disk", 1);
	assert_string_equal(f->logs, "oF \n");
	read_logs(f, "t-disk", 0);
	assert_int_equal(f->logs_n, 0);
}

static void close_from_the_state_callback(void **state)
{
	struct fx *f = *state;
	f->close_on_terminal = true;
	const char *args[] = {"-c", "echo bye"};
	struct runtime_task_spec s = spec_of("t-cb", "/bin/sh", args, 2);
	start_ok(f, &s);
	assert_true(run_until(f, is_closed, NULL));
	assert_int_equal(f->nevents, 4);
	assert_int_equal(f->events[3].st.state, RUNTIME_STATE_COMPLETE);
	assert_null(f->rt);
}

/* --- crash and recovery -------------------------------------------------- */

static void child_on_state(void *data, const char *task_id, const struct runtime_status *st)
{
	*(struct runtime_status *)data = *st;
}

/* In a forked child: runs a sleeper task, tells the parent its pid, waits to be killed. */
static void crashing_daemon(const char *dir, const char *env_ready, int out_fd)
{
	uv_loop_t loop;
	struct runtime *rt;
	struct runtime_status st = {0};
	char err[256];
	struct runtime_exec_config cfg = {.data_dir = dir};
	if (uv_loop_init(&loop) != 0 || runtime_exec_new(&loop, &cfg, child_on_state, &st, &rt, err, sizeof(err)) != 0)
		_exit(2);
	/* A group of two, the second started by the first. */
	const char *args[] = {"-c", "sleep 60 & echo ready > \"$READY\"; exec sleep 61"};
	const char *env[] = {env_ready};
	struct runtime_task_spec s = spec_of("t-crash", "/bin/sh", args, 2);
	s.env = env, s.env_len = 1;
	if (runtime_start(rt, &s, err, sizeof(err)) != 0)
		_exit(3);
	while (st.state != RUNTIME_STATE_RUNNING && !runtime_state_is_terminal(st.state))
		uv_run(&loop, UV_RUN_ONCE);
	int64_t pid = st.state == RUNTIME_STATE_RUNNING ? st.pid : -1;
	if (write(out_fd, &pid, sizeof(pid)) != sizeof(pid))
		_exit(4);
	for (;;)
		pause();
}

static void recover_done(struct runtime *rt, int status)
{
	struct fx *f = rt->data;
	f->recovered = true;
	f->recover_status = status;
}

static bool is_recovered(struct fx *f, const void *arg)
{
	return f->recovered;
}

static void recover_kills_what_a_crashed_daemon_left(void **state)
{
	struct fx *f = *state;
	/* Orphans of the killed daemon come to this process, which can then
	 * wait for them and see how they died. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	char fifo[128], env_ready[160];
	snprintf(fifo, sizeof(fifo), "%s/ready", f->dir);
	snprintf(env_ready, sizeof(env_ready), "READY=%s", fifo);
	struct ready_pipe rp;
	ready_open(f, &rp, fifo);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t daemon = fork();
	assert_true(daemon >= 0);
	if (daemon == 0) {
		close(fds[0]);
		crashing_daemon(f->dir, env_ready, fds[1]);
	}
	close(fds[1]);
	int64_t pid = 0;
	assert_int_equal(read(fds[0], &pid, sizeof(pid)), sizeof(pid));
	close(fds[0]);
	assert_true(pid > 0);
	assert_true(run_until(f, child_ready, &rp));
	ready_close(&rp);
	assert_int_equal(kill(daemon, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(daemon, &status, 0), daemon);
	assert_false(process_gone(pid)); /* the task outlived its daemon */
	assert_true(file_size(f, "t-crash", "pid") > 0);

	assert_int_equal(runtime_recover(f->rt, recover_done), 0);
	assert_int_equal(runtime_recover(f->rt, recover_done), -EBUSY);
	char err[256];
	struct runtime_task_spec s = spec_of("t-other", "/bin/true", NULL, 0);
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EBUSY);
	assert_true(run_until(f, is_recovered, NULL));
	assert_int_equal(f->recover_status, 0);
	const struct event *e = last_event(f, "t-crash");
	assert_non_null(e);
	assert_int_equal(e->st.state, RUNTIME_STATE_FAILED);
	assert_int_equal(e->st.pid, pid);
	assert_non_null(strstr(e->st.err, "task: killed at daemon restart"));
	assert_int_equal(file_size(f, "t-crash", "pid"), -1);

	/* Both processes of the group died of SIGKILL. */
	for (int i = 0; i < 2; i++) {
		pid_t got = waitpid(-1, &status, 0);
		if (got <= 0)
			fail_msg("waitpid #%d: %s", i, strerror(errno));
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("process %d: status 0x%x, not killed by SIGKILL", (int)got, status);
	}
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);

	/* The leftover's logs and directory are still there for logs and remove. */
	read_logs(f, "t-crash", RUNTIME_LOGS_ALL);
	assert_int_equal(runtime_remove(f->rt, "t-crash"), 0);
	/* A second recovery finds nothing. */
	f->recovered = false;
	int before = f->nevents;
	assert_int_equal(runtime_recover(f->rt, recover_done), 0);
	assert_true(run_until(f, is_recovered, NULL));
	assert_int_equal(f->nevents, before);
}

static void recover_reports_a_task_that_died_meanwhile(void **state)
{
	struct fx *f = *state;
	char dir[128], path[160];
	snprintf(dir, sizeof(dir), "%s/tasks/t-gone", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* A record of a process that no longer runs (pid 2^22-ish with a start time it never had). */
	snprintf(path, sizeof(path), "%s/pid", dir);
	FILE *pf = fopen(path, "w");
	assert_non_null(pf);
	fprintf(pf, "00000000-0000-0000-0000-000000000000 4000000 1 4000000\n");
	fclose(pf);
	snprintf(dir, sizeof(dir), "%s/tasks/t-torn", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/pid", dir);
	pf = fopen(path, "w");
	assert_non_null(pf);
	fprintf(pf, "garbage");
	fclose(pf);
	assert_int_equal(runtime_recover(f->rt, recover_done), 0);
	assert_true(run_until(f, is_recovered, NULL));
	const struct event *e = last_event(f, "t-gone");
	assert_non_null(e);
	assert_int_equal(e->st.state, RUNTIME_STATE_FAILED);
	assert_string_equal(e->st.err, "task: exited while the daemon was down");
	e = last_event(f, "t-torn");
	assert_non_null(e);
	assert_non_null(strstr(e->st.err, "task: unreadable process record"));
	assert_int_equal(file_size(f, "t-torn", "pid"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_names_are_dockers),
		cmocka_unit_test(spec_copy_is_deep),
		cmocka_unit_test_setup_teardown(validate_refuses_bad_specs, setup, teardown),
		cmocka_unit_test_setup_teardown(nonzero_exit_fails_with_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(zero_exit_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_program_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(stopped_sleeper_shuts_down_before_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(term_ignoring_task_is_killed_after_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(ports_and_env_reach_the_child, setup, teardown),
		cmocka_unit_test_setup_teardown(chatty_task_log_is_capped, setup_small_log, teardown),
		cmocka_unit_test_setup_teardown(long_lines_are_split, setup, teardown),
		cmocka_unit_test_setup_teardown(line_below_the_limit_is_whole_one_past_is_split, setup, teardown),
		cmocka_unit_test_setup_teardown(lines_written_in_pieces_are_joined, setup, teardown),
		cmocka_unit_test_setup_teardown(unfinished_line_is_written_when_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(silent_task_has_no_log, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_before_start_never_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(exit_kills_the_rest_of_the_group, setup, teardown),
		cmocka_unit_test_setup_teardown(escaped_process_does_not_hold_the_task, setup, teardown),
		cmocka_unit_test_setup_teardown(fast_producer_loses_nothing_recent, setup_small_log, teardown),
		cmocka_unit_test_setup_teardown(remove_deletes_the_task_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(close_stops_running_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(close_from_the_state_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_log_records_are_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(recover_kills_what_a_crashed_daemon_left, setup, teardown),
		cmocka_unit_test_setup_teardown(recover_reports_a_task_that_died_meanwhile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
