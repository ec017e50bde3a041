/* Unit tests for the engine runtime: its decoders on bytes, a dead socket, and the task walk against a real engine (Podman's service from tests/engine/setup.sh). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <uv.h>

#include "engine_internal.h"
#include "swarmnode/curl_dl.h"
#include "swarmnode/log.h"
#include "swarmnode/runtime.h"
#include "swarmnode/runtime_engine.h"

/* Where the engine is: $SN_ENGINE_SOCKET, else the socket tests/engine/setup.sh
 * prints (run when we are root and podman is installed; $SN_ENGINE_SETUP
 * names the script, meson sets it), else whatever runtime_engine_detect
 * finds. Without one, the tests that need an engine are skipped (cmocka
 * counts them); when setup.sh fails on a machine that has podman, they fail. */

#define IMAGE "localhost/busybox:latest"
#define MAX_EVENTS 64
#define DEADLINE_MS 60000 /* a test that waits longer has failed */

static char engine_socket[512]; /* "" when there is none */
static char engine_why[256];    /* why there is none */
static bool engine_broken;      /* setup.sh failed where it should work: fail, do not skip */

struct event {
	char task_id[RUNTIME_ID_MAX + 1];
	struct runtime_status st;
};

struct fx {
	uv_loop_t loop;
	struct runtime *rt;
	char node_id[64];             /* unique per test: recover() and the leak check look only at ours */
	struct event events[MAX_EVENTS];
	int nevents;
	bool closed;
	bool close_on_terminal;       /* on_state closes the runtime at a terminal state */
	bool recovered;
	int recover_status;
	const char *wanted;           /* want_task's answer: this task id only */
	bool logs_done;
	int logs_status;
	char logs[1 << 14];           /* "<o|e> text\n" per line */
	char dead_dir[64];            /* a socket nobody listens on, "" if unused */
};

/* --- the engine ----------------------------------------------------------- */

static void find_engine(void)
{
	const char *env = getenv("SN_ENGINE_SOCKET"), *setup = getenv("SN_ENGINE_SETUP");
	if (env != NULL && env[0] != '\0') {
		snprintf(engine_socket, sizeof(engine_socket), "%s", env);
		return;
	}
	if (setup != NULL && getuid() == 0 && system("command -v podman >/dev/null 2>&1") == 0) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "sh '%s' 2>&1", setup);
		FILE *p = popen(cmd, "r");
		char line[512] = "", last[512] = "";
		while (p != NULL && fgets(line, sizeof(line), p) != NULL)
			snprintf(last, sizeof(last), "%s", line);
		int rc = p ? pclose(p) : -1;
		last[strcspn(last, "\n")] = '\0';
		if (rc == 0) {
			snprintf(engine_socket, sizeof(engine_socket), "%s", last);
			return;
		}
		snprintf(engine_why, sizeof(engine_why), "tests/engine/setup.sh failed: %s", last);
		engine_broken = true;
		return;
	}
	if (runtime_engine_detect(engine_socket, sizeof(engine_socket)) != 0) {
		engine_socket[0] = '\0';
		snprintf(engine_why, sizeof(engine_why),
			 "no engine socket (not root with podman installed, no SN_ENGINE_SOCKET, none detected)");
	}
}

/* A blocking request with the easy interface, for the test's own checks. */
static long engine_get(const char *path, char *out, size_t outlen);

/* --- fixture ------------------------------------------------------------- */

/* Every callback stops the loop's current round: an answer handled in the
 * timer phase would otherwise leave uv_run(UV_RUN_ONCE) blocked in poll
 * until the next timer, the test's deadline. */
static void on_closed(struct runtime *rt)
{
	struct fx *f = rt->data;
	f->closed = true;
	uv_stop(&f->loop);
}

static void on_state(void *data, const char *task_id, const struct runtime_status *st)
{
	struct fx *f = data;
	assert_true(f->nevents < MAX_EVENTS);
	struct event *e = &f->events[f->nevents++];
	snprintf(e->task_id, sizeof(e->task_id), "%s", task_id);
	e->st = *st;
	uv_stop(&f->loop);
	if (f->close_on_terminal && runtime_state_is_terminal(st->state)) {
		runtime_close(f->rt, on_closed);
		f->rt = NULL;
	}
}

static bool want_task(void *data, const char *task_id)
{
	struct fx *f = data;
	return f->wanted != NULL && strcmp(task_id, f->wanted) == 0;
}

static void new_runtime(struct fx *f, const char *socket)
{
	struct runtime_engine_config cfg = {.socket_path = socket, .node_id = f->node_id, .want_task = want_task};
	char err[256] = "";
	int rc = runtime_engine_new(&f->loop, &cfg, on_state, f, &f->rt, err, sizeof(err));
	if (rc != 0)
		fail_msg("runtime_engine_new: %d %s", rc, err);
	f->closed = false;
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->node_id, sizeof(f->node_id), "sntestnode%d%ld", (int)getpid(), (long)time(NULL) % 100000);
	return f;
}

static int setup_engine(void **state)
{
	log_set_min_level(LOG_ERROR);
	struct fx *f = fx_new();
	*state = f;
	if (engine_socket[0] != '\0')
		new_runtime(f, engine_socket);
	return 0;
}

static int setup_plain(void **state)
{
	log_set_min_level(LOG_ERROR);
	*state = fx_new();
	return 0;
}

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
	uv_run(&f->loop, UV_RUN_NOWAIT);
	return pred(f, arg);
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

/* Containers of this test's node still on the engine. */
static int containers_left(struct fx *f)
{
	char path[512], body[1 << 16];
	snprintf(path, sizeof(path),
		 RUNTIME_ENGINE_API "/containers/json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22"
				    "com.docker.swarm.node.id%%3D%s%%22%%5D%%7D",
		 f->node_id);
	assert_int_equal(engine_get(path, body, sizeof(body)), 200);
	int n = 0;
	for (const char *p = body; (p = strstr(p, "\"Id\"")) != NULL; p++)
		n++;
	return n;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close_runtime(f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	if (engine_socket[0] != '\0' && f->node_id[0] != '\0') {
		int left = containers_left(f);
		if (left != 0)
			fail_msg("%d containers of node %s left behind", left, f->node_id);
	}
	if (f->dead_dir[0] != '\0') {
		char sock[128];
		snprintf(sock, sizeof(sock), "%s/sock", f->dead_dir);
		unlink(sock);
		rmdir(f->dead_dir);
	}
	free(f);
	return 0;
}

#define NEED_ENGINE()                                                             \
	do {                                                                      \
		if (engine_broken)                                                \
			fail_msg("engine: %s", engine_why);                       \
		if (engine_socket[0] == '\0') {                                   \
			print_message("[ SKIP     ] engine: %s\n", engine_why); \
			skip();                                                   \
		}                                                                 \
	} while (0)

/* --- helpers ------------------------------------------------------------ */

static long engine_get(const char *path, char *out, size_t outlen)
{
	char why[256], url[1024];
	const struct curl_dl *cu = curl_dl_get(why, sizeof(why));
	assert_non_null(cu);
	FILE *mem = fmemopen(out, outlen, "w");
	assert_non_null(mem);
	CURL *e = cu->easy_init();
	snprintf(url, sizeof(url), "http://engine%s", path);
	cu->easy_setopt(e, CURLOPT_URL, url);
	cu->easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, engine_socket);
	cu->easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	cu->easy_setopt(e, CURLOPT_WRITEDATA, mem);
	long status = 0;
	if (cu->easy_perform(e) == CURLE_OK)
		cu->easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	cu->easy_cleanup(e);
	fclose(mem);
	return status;
}

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

/* The states task_id went through, "preparing,starting,..." */
static void state_walk(struct fx *f, const char *task_id, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < f->nevents && used < len; i++) {
		if (strcmp(f->events[i].task_id, task_id) == 0)
			used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "," : "",
						 runtime_state_name(f->events[i].st.state));
	}
}

static void task_id_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "t%d-%s", (int)getpid(), name);
}

static struct runtime_task_spec spec_of(struct fx *f, const char *id, const char *image, const char *const *args,
					size_t nargs)
{
	return (struct runtime_task_spec){
		.task_id = id,
		.service_id = "svc0000000000000000000001",
		.service_name = "web",
		.slot = 1,
		.node_id = f->node_id,
		.image = image,
		.args = args,
		.args_len = nargs,
		.stop_grace_ms = 1000,
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
	size_t used = 0;
	f->logs_done = true;
	f->logs_status = status;
	f->logs[0] = '\0';
	uv_stop(&f->loop);
	for (size_t i = 0; i < n && used < sizeof(f->logs) - 1; i++) {
		int w = snprintf(f->logs + used, sizeof(f->logs) - used, "%c %.*s\n",
				 lines[i].stream == RUNTIME_LOG_STDERR ? 'e' : 'o', (int)lines[i].len, lines[i].text);
		used += (size_t)w < sizeof(f->logs) - used ? (size_t)w : sizeof(f->logs) - used - 1;
		assert_true(lines[i].time_ns > 1600000000ull * 1000000000ull);
	}
}

static bool logs_ready(struct fx *f, const void *arg)
{
	return f->logs_done;
}

static void remove_task(struct fx *f, const char *task_id)
{
	assert_int_equal(runtime_remove(f->rt, task_id), 0);
	struct runtime_status st;
	assert_int_equal(runtime_inspect(f->rt, task_id, &st), -ENOENT);
}

/* --- decoders, no engine needed ------------------------------------------ */

static void frame(char *out, size_t *len, int stream, const char *text)
{
	size_t n = strlen(text);
	unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
			      (unsigned char)(n >> 8), (unsigned char)n};
	memcpy(out + *len, h, 8);
	memcpy(out + *len + 8, text, n);
	*len += 8 + n;
}

static void logs_split_demultiplexes_frames(void **state)
{
	char body[256], err[128] = "", *buf;
	size_t len = 0, n;
	struct runtime_log_line *lines;
	/* A stdout line cut over two frames with a stderr line between, a
	 * timestamp on each line, and a last line without a newline. */
	frame(body, &len, 1, "2026-11-25T03:36:49.500000000Z hel");
	frame(body, &len, 2, "2026-11-25T03:36:50Z oops\n");
	frame(body, &len, 1, "lo\n2026-11-25T03:36:51.25Z two\nthree");
	assert_int_equal(engine_logs_split(body, len, true, 7, &lines, &n, &buf, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(lines[0].stream, RUNTIME_LOG_STDERR);
	assert_int_equal(lines[0].len, 4);
	assert_memory_equal(lines[0].text, "oops", 4);
	assert_int_equal(lines[0].time_ns, 1795577810ull * 1000000000ull);
	assert_int_equal(lines[1].stream, RUNTIME_LOG_STDOUT);
	assert_int_equal(lines[1].len, 5);
	assert_memory_equal(lines[1].text, "hello", 5);
	assert_int_equal(lines[1].time_ns, 1795577809ull * 1000000000ull + 500000000ull);
	assert_int_equal(lines[2].len, 3);
	assert_memory_equal(lines[2].text, "two", 3);
	assert_int_equal(lines[2].time_ns, 1795577811ull * 1000000000ull + 250000000ull);
	/* "three": no newline, no timestamp: the reading time. */
	assert_int_equal(lines[3].len, 5);
	assert_memory_equal(lines[3].text, "three", 5);
	assert_int_equal(lines[3].time_ns, 7);
	free(lines);
	free(buf);
	(void)state;
}

static void logs_split_plain_and_long_lines(void **state)
{
	char err[128] = "", *buf;
	size_t n, big = ENGINE_LINE_MAX * 2 + 10;
	struct runtime_log_line *lines;
	char *body = malloc(big + 1);
	assert_non_null(body);
	memset(body, 'x', big);
	body[big] = '\0';
	/* A TTY's answer has no frames: all of it is stdout. */
	assert_int_equal(engine_logs_split(body, big, false, 42, &lines, &n, &buf, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_true(lines[0].partial && lines[1].partial && !lines[2].partial);
	assert_int_equal(lines[0].len, ENGINE_LINE_MAX);
	assert_int_equal(lines[2].len, 10);
	assert_int_equal(lines[2].time_ns, 42);
	free(lines);
	free(buf);
	free(body);
	assert_int_equal(engine_logs_split("", 0, true, 1, &lines, &n, &buf, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(lines);
	free(buf);
	(void)state;
}

static void logs_split_refuses_cut_frames(void **state)
{
	char body[64], err[128] = "", *buf = NULL;
	size_t len = 0, n = 9;
	struct runtime_log_line *lines = NULL;
	frame(body, &len, 1, "hello\n");
	/* The length claims more than is there. */
	assert_int_equal(engine_logs_split(body, len - 2, false, 0, &lines, &n, &buf, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "claims 6 bytes, 4 left"));
	assert_null(lines);
	assert_null(buf);
	assert_int_equal(n, 0);
	/* A second header that is not one. */
	memcpy(body + len, "\x01\x00\x07\x00\x00\x00\x00\x01x", 9);
	assert_int_equal(engine_logs_split(body, len + 9, false, 0, &lines, &n, &buf, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad stream frame header at byte 14"));
	/* A header cut short. */
	assert_int_equal(engine_logs_split(body, len + 3, false, 0, &lines, &n, &buf, err, sizeof(err)), -EINVAL);
	(void)state;
}

static void expect_json_error(int rc, const char *err, const char *needle)
{
	assert_int_equal(rc, -EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

#define ARGS(s) s, strlen(s)

static void json_decoders_refuse_malformed_answers(void **state)
{
	char id[ENGINE_ID_MAX + 1], err[256], eerr[64];
	int code = -1;
	struct engine_inspect *in = malloc(sizeof(*in));
	assert_non_null(in);
	const char *hex = "bd83756bd74d3914c0fe42529f140bbd008dbc6b18c2e7b0c8e3cbeff9bd19eb";
	char ok[256];
	snprintf(ok, sizeof(ok), "{\"Id\":\"%s\",\"Warnings\":[]}", hex);
	assert_int_equal(engine_json_created(ARGS(ok), id, err, sizeof(err)), 0);
	assert_string_equal(id, hex);
	expect_json_error(engine_json_created(ARGS("{\"Id\":\"../../etc\"}"), id, err, sizeof(err)), err,
			  "Id is not a container id");
	expect_json_error(engine_json_created(ARGS("{\"Id\":"), id, err, sizeof(err)), err, "create answer: not JSON");
	expect_json_error(engine_json_created(ARGS("[1]"), id, err, sizeof(err)), err, "Id is not a container id");

	assert_int_equal(engine_json_waited(ARGS("{\"StatusCode\":3,\"Error\":null}"), &code, eerr, sizeof(eerr), err,
					    sizeof(err)),
			 0);
	assert_int_equal(code, 3);
	assert_string_equal(eerr, "");
	assert_int_equal(engine_json_waited(ARGS("{\"StatusCode\":1,\"Error\":{\"Message\":\"oom\"}}"), &code, eerr,
					    sizeof(eerr), err, sizeof(err)),
			 0);
	assert_string_equal(eerr, "oom");
	expect_json_error(engine_json_waited(ARGS("{\"StatusCode\":\"3\"}"), &code, eerr, sizeof(eerr), err, sizeof(err)),
			  err, "StatusCode is not an integer");
	expect_json_error(engine_json_waited(ARGS("{\"StatusCode\":300}"), &code, eerr, sizeof(eerr), err, sizeof(err)),
			  err, "0-255");
	expect_json_error(engine_json_waited(ARGS("{\"StatusCode\":0,\"Error\":5}"), &code, eerr, sizeof(eerr), err,
					     sizeof(err)),
			  err, "Error is neither null");

	char good[1024];
	snprintf(good, sizeof(good),
		 "{\"Id\":\"%s\",\"State\":{\"Status\":\"running\",\"Running\":true,\"Pid\":11611,\"ExitCode\":0},"
		 "\"Config\":{\"Image\":\"localhost/busybox:latest\",\"Labels\":{\"com.docker.swarm.task.id\":\"t1\","
		 "\"com.docker.swarm.service.name\":\"web\"}},\"NetworkSettings\":{\"Ports\":{\"8080/tcp\":"
		 "[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"41409\"},{\"HostIp\":\"::\",\"HostPort\":\"41409\"}],"
		 "\"53/udp\":null}}}",
		 hex);
	assert_int_equal(engine_json_inspect(ARGS(good), in, err, sizeof(err)), 0);
	assert_true(in->running);
	assert_int_equal(in->pid, 11611);
	assert_string_equal(in->state, "running");
	assert_string_equal(in->task_id, "t1");
	assert_string_equal(in->service_name, "web");
	assert_string_equal(in->image, "localhost/busybox:latest");
	assert_int_equal(in->nports, 1);
	assert_int_equal(in->ports[0].target, 8080);
	assert_int_equal(in->ports[0].published, 41409);
	assert_int_equal(in->ports[0].protocol, RUNTIME_PROTO_TCP);

	char bad[1024];
	snprintf(bad, sizeof(bad), "{\"Id\":\"%s\",\"State\":{\"Running\":1,\"Pid\":1,\"ExitCode\":0},\"Config\":{}}",
		 hex);
	expect_json_error(engine_json_inspect(ARGS(bad), in, err, sizeof(err)), err, "State lacks Running");
	snprintf(bad, sizeof(bad),
		 "{\"Id\":\"%s\",\"State\":{\"Running\":false,\"Pid\":0,\"ExitCode\":0},\"Config\":{\"Labels\":[]}}",
		 hex);
	expect_json_error(engine_json_inspect(ARGS(bad), in, err, sizeof(err)), err, "Config.Labels is not an object");
	snprintf(bad, sizeof(bad),
		 "{\"Id\":\"%s\",\"State\":{\"Running\":false,\"Pid\":0,\"ExitCode\":0},\"Config\":{},"
		 "\"NetworkSettings\":{\"Ports\":{\"http\":[]}}}",
		 hex);
	expect_json_error(engine_json_inspect(ARGS(bad), in, err, sizeof(err)), err, "bad entry \"http\"");
	snprintf(bad, sizeof(bad),
		 "{\"Id\":\"%s\",\"State\":{\"Running\":false,\"Pid\":0,\"ExitCode\":0},\"Config\":{},"
		 "\"NetworkSettings\":{\"Ports\":{\"80/tcp\":[{\"HostPort\":\"99999\"}]}}}",
		 hex);
	expect_json_error(engine_json_inspect(ARGS(bad), in, err, sizeof(err)), err, "bad HostPort");
	char label[400];
	snprintf(label, sizeof(label),
		 "{\"Id\":\"%s\",\"State\":{\"Running\":false,\"Pid\":0,\"ExitCode\":0},\"Config\":{\"Labels\":"
		 "{\"com.docker.swarm.task.id\":\"%0100d\"}}}",
		 hex, 0);
	expect_json_error(engine_json_inspect(ARGS(label), in, err, sizeof(err)), err, "com.docker.swarm.task.id");
	free(in);

	char (*ids)[ENGINE_ID_MAX + 1];
	size_t n;
	snprintf(ok, sizeof(ok), "[{\"Id\":\"%s\"},{\"Id\":\"%.12s\"}]", hex, hex);
	assert_int_equal(engine_json_list(ARGS(ok), &ids, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[1], "bd83756bd74d");
	free(ids);
	expect_json_error(engine_json_list(ARGS("{}"), &ids, &n, err, sizeof(err)), err, "not an array");
	expect_json_error(engine_json_list(ARGS("[{\"Id\":\"xyz\"}]"), &ids, &n, err, sizeof(err)), err,
			  "container list[0]: Id");
	assert_null(ids);

	char msg[128];
	engine_json_error(ARGS("{\"cause\":\"x\",\"message\":\"no such container\",\"response\":404}"), msg, sizeof(msg));
	assert_string_equal(msg, "no such container");
	engine_json_error(ARGS("<html>\nbad gateway</html>"), msg, sizeof(msg));
	assert_string_equal(msg, "<html> bad gateway</html>");
	(void)state;
}

static void create_body_names_and_labels(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"sh", "-c", "echo \"hi\""};
	const char *env[] = {"A=1"};
	struct runtime_port ports[] = {{8080, 0, RUNTIME_PROTO_TCP, RUNTIME_PUBLISH_HOST},
				       {53, 30053, RUNTIME_PROTO_UDP, RUNTIME_PUBLISH_INGRESS}};
	struct runtime_label labels[] = {{"swarmnode.managed", "0"}, {"x", "y"}};
	struct runtime_task_spec s = spec_of(f, "task1", IMAGE, args, 3);
	s.env = env, s.env_len = 1, s.ports = ports, s.ports_len = 2, s.labels = labels, s.labels_len = 2;
	s.memory_bytes = 64 << 20, s.nano_cpus = 500000000, s.stop_grace_ms = 2500;
	char *body = engine_json_create_body(&s);
	assert_non_null(body);
	const char *want[] = {
		"\"Image\":\"localhost/busybox:latest\"", "\"Cmd\":[\"sh\",\"-c\",\"echo \\\"hi\\\"\"]",
		"\"Env\":[\"A=1\"]", "\"swarmnode.managed\":\"1\"", "\"x\":\"y\"", "\"com.docker.swarm.task.id\":\"task1\"",
		"\"com.docker.swarm.service.name\":\"web\"", "\"StopTimeout\":3", "\"8080/tcp\":{}",
		"\"8080/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]", "\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"30053\"}]",
		"\"Memory\":67108864", "\"NanoCpus\":500000000",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strstr(body, want[i]) == NULL)
			fail_msg("create body %s lacks %s", body, want[i]);
	}
	free(body);

	char name[128], err[128];
	engine_container_name(&s, name, sizeof(name));
	assert_string_equal(name, "swarmnode.web.1.task1");
	s.service_name = "we b/x", s.slot = 0, s.node_id = "node7";
	engine_container_name(&s, name, sizeof(name));
	assert_string_equal(name, "swarmnode.we_b_x.node7.task1");

	assert_int_equal(engine_image_check("localhost/busybox:latest", err, sizeof(err)), 0);
	assert_int_equal(engine_image_check("busybox@sha256:abc", err, sizeof(err)), 0);
	assert_int_equal(engine_image_check("busybox/../../containers/x", err, sizeof(err)), -EINVAL);
	assert_int_equal(engine_image_check("busy box", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid reference format"));
	assert_int_equal(engine_image_check("bb?x=1", err, sizeof(err)), -EINVAL);
	char *esc = engine_url_escape("{\"label\":[\"a=b\"]}");
	assert_string_equal(esc, "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
	free(esc);
}

/* A socket file nobody answers on: the task fails with the reason, nothing crashes. */
static void dead_socket_rejects_with_reason(void **state)
{
	struct fx *f = *state;
	snprintf(f->dead_dir, sizeof(f->dead_dir), "/tmp/sn-engine-dead-XXXXXX");
	assert_non_null(mkdtemp(f->dead_dir));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", f->dead_dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* the file stays, nobody listens */
	f->node_id[0] = '\0';
	new_runtime(f, sa.sun_path);

	char err[256] = "";
	struct runtime_task_spec s = spec_of(f, "dead1", IMAGE, NULL, 0);
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), 0);
	assert_int_equal(f->nevents, 0); /* never from inside start() */
	struct runtime_status st = wait_state(f, "dead1", RUNTIME_STATE_REJECTED);
	if (strstr(st.err, "engine at /tmp/sn-engine-dead-") == NULL || strstr(st.err, "/sock: ") == NULL)
		fail_msg("err \"%s\" does not name the engine socket", st.err);
	assert_int_equal(runtime_logs(f->rt, "dead1", 10, on_logs, f), -ENOENT);
	remove_task(f, "dead1");

	/* Bad input is refused by start() itself. */
	s = spec_of(f, "dead2", "busybox;rm", NULL, 0);
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid reference format"));
	struct runtime *other = NULL;
	struct runtime_engine_config cfg = {.socket_path = "/nonexistent/engine.sock"};
	assert_int_equal(runtime_engine_new(&f->loop, &cfg, on_state, f, &other, err, sizeof(err)), -ENOENT);
	size_t n = 7;
	struct runtime_port ports[1];
	assert_int_equal(runtime_engine_ports(f->rt, "nope", ports, 1, &n), -ENOENT);
}

/* --- against the engine ------------------------------------------------- */

static void nonzero_exit_fails_with_logs(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64], walk[256];
	task_id_of(id, sizeof(id), "exit3");
	const char *args[] = {"sh", "-c", "echo hi; echo err >&2; exit 3"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 3);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, id, RUNTIME_STATE_FAILED);
	assert_true(st.exited);
	assert_int_equal(st.exit_code, 3);
	assert_string_equal(st.err, "task: non-zero exit (3)");
	assert_int_equal(strlen(st.container_id), 64);
	state_walk(f, id, walk, sizeof(walk));
	assert_string_equal(walk, "preparing,starting,running,failed");

	f->logs_done = false;
	assert_int_equal(runtime_logs(f->rt, id, RUNTIME_LOGS_ALL, on_logs, f), 0);
	assert_true(run_until(f, logs_ready, NULL));
	assert_int_equal(f->logs_status, 0);
	if (strstr(f->logs, "o hi\n") == NULL || strstr(f->logs, "e err\n") == NULL)
		fail_msg("logs \"%s\" lack the task's output", f->logs);
	remove_task(f, id);
}

static void true_completes(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64];
	task_id_of(id, sizeof(id), "true");
	const char *args[] = {"true"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 1);
	s.memory_bytes = 64 << 20;
	start_ok(f, &s);
	char err[128];
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EEXIST);
	struct runtime_status st = wait_state(f, id, RUNTIME_STATE_COMPLETE);
	assert_int_equal(st.exit_code, 0);
	assert_string_equal(st.err, "");
	assert_string_equal(st.message, "finished");
	assert_true(st.started_ms > 0 && st.finished_ms >= st.started_ms);
	remove_task(f, id);
}

static void stopped_sleeper_shuts_down(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64];
	task_id_of(id, sizeof(id), "sleeper");
	const char *args[] = {"sleep", "300"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 2);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, id, RUNTIME_STATE_RUNNING);
	assert_true(st.pid > 0);
	assert_int_equal(runtime_remove(f->rt, id), -EBUSY);
	assert_int_equal(runtime_stop(f->rt, id, 1000), 0);
	st = wait_state(f, id, RUNTIME_STATE_SHUTDOWN);
	assert_string_equal(st.err, "");
	assert_true(st.exited);
	remove_task(f, id);
}

static void missing_image_is_rejected(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64], walk[128];
	task_id_of(id, sizeof(id), "noimage");
	/* localhost/: the pull tries this machine only. */
	struct runtime_task_spec s = spec_of(f, id, "localhost/sn-no-such-image:latest", NULL, 0);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, id, RUNTIME_STATE_REJECTED);
	assert_string_equal(st.err, "No such image: localhost/sn-no-such-image:latest");
	assert_string_equal(st.container_id, "");
	state_walk(f, id, walk, sizeof(walk));
	assert_string_equal(walk, "preparing,rejected");
	remove_task(f, id);
}

/* GET / on 127.0.0.1:port, retried while the server inside starts. */
static bool http_answers(uint32_t port, char *out, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = {.tv_sec = 5};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			const char req[] = "GET / HTTP/1.0\r\n\r\n";
			ssize_t got = 0, r = 0;
			if (write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1) {
				while ((r = read(fd, out + got, len - 1 - (size_t)got)) > 0)
					got += r;
			}
			close(fd);
			out[got > 0 ? got : 0] = '\0';
			if (strstr(out, "hello from busybox") != NULL)
				return true;
		} else {
			close(fd);
		}
		struct timespec pause = {.tv_nsec = 50 * 1000000};
		nanosleep(&pause, NULL); /* the server may not listen yet: bounded retries */
	}
	return false;
}

static void published_port_is_bound_and_read_back(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64], page[4096];
	task_id_of(id, sizeof(id), "httpd");
	const char *args[] = {"httpd", "-f", "-p", "8080", "-h", "/www"};
	struct runtime_port ports[] = {{8080, 0, RUNTIME_PROTO_TCP, RUNTIME_PUBLISH_HOST}};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 6);
	s.ports = ports, s.ports_len = 1;
	start_ok(f, &s);
	wait_state(f, id, RUNTIME_STATE_RUNNING);
	struct runtime_port bound[4];
	size_t n = 0;
	assert_int_equal(runtime_engine_ports(f->rt, id, bound, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bound[0].target, 8080);
	assert_int_equal(bound[0].mode, RUNTIME_PUBLISH_HOST);
	assert_true(bound[0].published > 0);
	if (!http_answers(bound[0].published, page, sizeof(page)))
		fail_msg("nothing answered on 127.0.0.1:%u: \"%s\"", bound[0].published, page);
	assert_int_equal(runtime_stop(f->rt, id, 1000), 0);
	wait_state(f, id, RUNTIME_STATE_SHUTDOWN);
	remove_task(f, id);
}

/* A daemon that dies with two containers running: the child process plays
 * it (its runtime is never closed), then the test recovers, wanting one
 * task. The child reports by exit status only: cmocka's checks belong to
 * the parent. */
static bool both_running(struct fx *f, const void *arg)
{
	const char *const *ids = arg;
	for (int i = 0; i < 2; i++) {
		const struct event *e = last_event(f, ids[i]);
		if (e == NULL || e->st.state != RUNTIME_STATE_RUNNING)
			return false;
	}
	return true;
}

static void crashing_daemon(struct fx *parent, const char *keep, const char *drop)
{
	struct fx *f = fx_new();
	char err[256];
	snprintf(f->node_id, sizeof(f->node_id), "%s", parent->node_id);
	struct runtime_engine_config cfg = {.socket_path = engine_socket, .node_id = f->node_id};
	const char *args[] = {"sleep", "300"};
	const char *ids[] = {keep, drop};
	struct runtime_task_spec a = spec_of(f, keep, IMAGE, args, 2), b = spec_of(f, drop, IMAGE, args, 2);
	if (runtime_engine_new(&f->loop, &cfg, on_state, f, &f->rt, err, sizeof(err)) != 0 ||
	    runtime_start(f->rt, &a, err, sizeof(err)) != 0 || runtime_start(f->rt, &b, err, sizeof(err)) != 0)
		_exit(2);
	_exit(run_until(f, both_running, ids) ? 0 : 3);
}

static void on_recovered(struct runtime *rt, int status)
{
	struct fx *f = rt->data;
	f->recovered = true;
	f->recover_status = status;
	uv_stop(&f->loop);
}

static bool recovered(struct fx *f, const void *arg)
{
	return f->recovered;
}

static void recover_adopts_or_removes_after_a_crash(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char keep[64], drop[64];
	task_id_of(keep, sizeof(keep), "keep");
	task_id_of(drop, sizeof(drop), "drop");
	close_runtime(f); /* the child uses its own */
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		crashing_daemon(f, keep, drop);
	int wstatus;
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	assert_int_equal(containers_left(f), 2);

	new_runtime(f, engine_socket);
	f->wanted = keep;
	assert_int_equal(runtime_recover(f->rt, on_recovered), 0);
	char err[128];
	struct runtime_task_spec s = spec_of(f, "late", IMAGE, NULL, 0);
	assert_int_equal(runtime_start(f->rt, &s, err, sizeof(err)), -EBUSY);
	assert_true(run_until(f, recovered, NULL));
	assert_int_equal(f->recover_status, 0);

	const struct event *k = last_event(f, keep), *d = last_event(f, drop);
	assert_non_null(k);
	assert_non_null(d);
	assert_int_equal(k->st.state, RUNTIME_STATE_RUNNING);
	assert_true(k->st.pid > 0);
	assert_int_equal(strlen(k->st.container_id), 64);
	assert_int_equal(d->st.state, RUNTIME_STATE_FAILED);
	assert_string_equal(d->st.err, "task: removed at daemon restart (container was running)");
	assert_int_equal(containers_left(f), 1);
	assert_int_equal(runtime_recover(f->rt, on_recovered), -EBUSY);

	/* The adopted task is a task like any other. */
	assert_int_equal(runtime_stop(f->rt, keep, 1000), 0);
	wait_state(f, keep, RUNTIME_STATE_SHUTDOWN);
	remove_task(f, keep);
	remove_task(f, drop);
	close_runtime(f); /* waits for the removals */
	assert_int_equal(containers_left(f), 0);
}

static void close_from_the_state_callback(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64];
	task_id_of(id, sizeof(id), "closecb");
	const char *args[] = {"true"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 1);
	start_ok(f, &s);
	f->close_on_terminal = true;
	wait_state(f, id, RUNTIME_STATE_COMPLETE);
	assert_true(run_until(f, is_closed, NULL));
	/* The container stays until remove() or the next recover(): that one cleans up. */
	new_runtime(f, engine_socket);
	f->close_on_terminal = false;
	f->recovered = false;
	assert_int_equal(runtime_recover(f->rt, on_recovered), 0);
	assert_true(run_until(f, recovered, NULL));
	assert_int_equal(f->recover_status, 0);
	const struct event *e = last_event(f, id);
	assert_int_equal(e->st.state, RUNTIME_STATE_COMPLETE);
	assert_string_equal(e->st.message, "recovered");
}

static void stop_before_start_never_runs(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64], walk[128];
	task_id_of(id, sizeof(id), "early");
	const char *args[] = {"sleep", "300"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 2);
	start_ok(f, &s);
	assert_int_equal(runtime_stop(f->rt, id, 1000), 0);
	assert_int_equal(runtime_stop(f->rt, id, 1000), 0); /* twice: nothing more */
	struct runtime_status st = wait_state(f, id, RUNTIME_STATE_SHUTDOWN);
	assert_int_equal(st.started_ms, 0);
	state_walk(f, id, walk, sizeof(walk));
	assert_string_equal(walk, "preparing,shutdown");
	assert_int_equal(runtime_stop(f->rt, "nope", 1000), -ENOENT);
	remove_task(f, id);
}

/* Two runtimes give the engine the same container name: the second task is
 * rejected with the engine's own message and HTTP status. */
static void engine_errors_are_reported_with_their_message(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64];
	task_id_of(id, sizeof(id), "twin");
	const char *args[] = {"sleep", "300"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 2);
	start_ok(f, &s);
	wait_state(f, id, RUNTIME_STATE_RUNNING);

	struct fx *g = fx_new();
	snprintf(g->node_id, sizeof(g->node_id), "%s", f->node_id);
	struct runtime_engine_config cfg = {.socket_path = engine_socket, .node_id = g->node_id};
	char err[256];
	assert_int_equal(runtime_engine_new(&f->loop, &cfg, on_state, g, &g->rt, err, sizeof(err)), 0);
	assert_int_equal(runtime_start(g->rt, &s, err, sizeof(err)), 0);
	/* g's events arrive on f's loop: wait there for g's task. */
	struct want_state w = {id, RUNTIME_STATE_REJECTED};
	uv_timer_t deadline;
	bool expired = false;
	uv_timer_init(&f->loop, &deadline);
	deadline.data = &expired;
	uv_timer_start(&deadline, deadline_cb, DEADLINE_MS, 0);
	while (!reached(g, &w) && !expired)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&deadline, NULL);
	const struct event *e = last_event(g, id);
	assert_non_null(e);
	assert_int_equal(e->st.state, RUNTIME_STATE_REJECTED);
	/* Docker answers 409, Podman 500; both say the name is in use. */
	if (strstr(e->st.err, "task: create container: engine: ") == NULL || strstr(e->st.err, "(HTTP ") == NULL ||
	    strstr(e->st.err, "already in use") == NULL)
		fail_msg("err \"%s\" is not the engine's conflict", e->st.err);
	runtime_close(g->rt, NULL);
	g->rt = NULL;
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&g->loop), 0);
	free(g);

	assert_int_equal(runtime_stop(f->rt, id, 1000), 0);
	wait_state(f, id, RUNTIME_STATE_SHUTDOWN);
	remove_task(f, id);
}

static void close_stops_running_tasks(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	char id[64], body[4096], path[256];
	task_id_of(id, sizeof(id), "closed");
	const char *args[] = {"sleep", "300"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 2);
	start_ok(f, &s);
	struct runtime_status st = wait_state(f, id, RUNTIME_STATE_RUNNING);
	int before = f->nevents;
	close_runtime(f);
	assert_int_equal(f->nevents, before); /* no on_state while closing */
	snprintf(path, sizeof(path), RUNTIME_ENGINE_API "/containers/%s/json", st.container_id);
	assert_int_equal(engine_get(path, body, sizeof(body)), 200);
	if (strstr(body, "\"Running\":false") == NULL)
		fail_msg("container still runs after close: %.300s", body);
	/* Stopped, not removed: the next daemon's recover() removes it. */
	new_runtime(f, engine_socket);
	f->recovered = false;
	assert_int_equal(runtime_recover(f->rt, on_recovered), 0);
	assert_true(run_until(f, recovered, NULL));
	assert_int_equal(last_event(f, id)->st.state, RUNTIME_STATE_FAILED);
}

/* --- an engine socket that vanishes -------------------------------------- */

/* A Unix socket that forwards each connection to the engine, until killed. */
struct proxy_conn {
	uv_pipe_t client, upstream;   /* data = this */
	uv_connect_t connect;
	struct proxy *px;
	int open;                     /* handles not closed yet */
	struct proxy_conn *next;
};

struct proxy {
	uv_pipe_t server;
	struct proxy_conn *conns;
	char path[108];
};

static void proxy_conn_closed(uv_handle_t *h)
{
	struct proxy_conn *c = h->data;
	if (--c->open == 0)
		free(c);
}

static void proxy_conn_close(struct proxy_conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->client))
		uv_close((uv_handle_t *)&c->client, proxy_conn_closed);
	if (!uv_is_closing((uv_handle_t *)&c->upstream))
		uv_close((uv_handle_t *)&c->upstream, proxy_conn_closed);
}

static void proxy_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	buf->base = malloc(65536);
	buf->len = buf->base ? 65536 : 0;
}

static void proxy_written(uv_write_t *req, int status)
{
	free(req->data);
	free(req);
}

static void proxy_read(uv_stream_t *from, ssize_t nread, const uv_buf_t *buf)
{
	struct proxy_conn *c = from->data;
	uv_stream_t *to = from == (uv_stream_t *)&c->client ? (uv_stream_t *)&c->upstream : (uv_stream_t *)&c->client;
	if (nread < 0) {
		free(buf->base);
		proxy_conn_close(c);
		return;
	}
	uv_write_t *req = malloc(sizeof(*req));
	uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
	req->data = buf->base;
	if (uv_write(req, to, &out, 1, proxy_written) != 0) {
		free(buf->base);
		free(req);
		proxy_conn_close(c);
	}
}

static void proxy_upstream_connected(uv_connect_t *req, int status)
{
	struct proxy_conn *c = req->data;
	if (status != 0 || uv_is_closing((uv_handle_t *)&c->client)) {
		proxy_conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->client, proxy_alloc, proxy_read);
	uv_read_start((uv_stream_t *)&c->upstream, proxy_alloc, proxy_read);
}

static void proxy_accept(uv_stream_t *server, int status)
{
	struct proxy *px = server->data;
	struct proxy_conn *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->px = px;
	uv_pipe_init(server->loop, &c->client, 0);
	uv_pipe_init(server->loop, &c->upstream, 0);
	c->client.data = c->upstream.data = c->connect.data = c;
	c->open = 2;
	c->next = px->conns;
	px->conns = c;
	if (status != 0 || uv_accept(server, (uv_stream_t *)&c->client) != 0) {
		proxy_conn_close(c);
		return;
	}
	uv_pipe_connect(&c->connect, &c->upstream, engine_socket, proxy_upstream_connected);
}

static void proxy_start(struct fx *f, struct proxy *px)
{
	memset(px, 0, sizeof(*px));
	snprintf(px->path, sizeof(px->path), "%s/sock", f->dead_dir);
	assert_int_equal(uv_pipe_init(&f->loop, &px->server, 0), 0);
	px->server.data = px;
	assert_int_equal(uv_pipe_bind(&px->server, px->path), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&px->server, 16, proxy_accept), 0);
}

/* Closes the socket and every connection through it, and removes the file. */
static void proxy_kill(struct proxy *px)
{
	uv_close((uv_handle_t *)&px->server, NULL);
	for (struct proxy_conn *c = px->conns; c != NULL; c = c->next) {
		if (c->open == 2 && !uv_is_closing((uv_handle_t *)&c->client))
			proxy_conn_close(c);
	}
	unlink(px->path);
}

static void vanishing_socket_fails_the_running_task(void **state)
{
	NEED_ENGINE();
	struct fx *f = *state;
	struct proxy px;
	char id[64];
	snprintf(f->dead_dir, sizeof(f->dead_dir), "/tmp/sn-engine-proxy-XXXXXX");
	assert_non_null(mkdtemp(f->dead_dir));
	close_runtime(f);
	proxy_start(f, &px);
	new_runtime(f, px.path);
	task_id_of(id, sizeof(id), "orphan");
	const char *args[] = {"sleep", "300"};
	struct runtime_task_spec s = spec_of(f, id, IMAGE, args, 2);
	start_ok(f, &s);
	wait_state(f, id, RUNTIME_STATE_RUNNING);
	proxy_kill(&px); /* the wait in flight loses its connection */
	struct runtime_status st = wait_state(f, id, RUNTIME_STATE_FAILED);
	if (strstr(st.err, "task: wait for container: engine at /tmp/sn-engine-proxy-") == NULL)
		fail_msg("err \"%s\" does not say the engine went away", st.err);
	/* remove() cannot reach the engine either; it logs and forgets. */
	remove_task(f, id);
	close_runtime(f);
	/* The container still runs; the next daemon's recover() removes it. */
	assert_int_equal(containers_left(f), 1);
	new_runtime(f, engine_socket);
	f->recovered = false;
	assert_int_equal(runtime_recover(f->rt, on_recovered), 0);
	assert_true(run_until(f, recovered, NULL));
	assert_int_equal(f->recover_status, 0);
	assert_int_equal(containers_left(f), 0);
}

int main(void)
{
	find_engine();
	if (engine_socket[0] != '\0')
		printf("engine socket: %s\n", engine_socket);
	else
		printf("no engine: %s\n", engine_why);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(logs_split_demultiplexes_frames),
		cmocka_unit_test(logs_split_plain_and_long_lines),
		cmocka_unit_test(logs_split_refuses_cut_frames),
		cmocka_unit_test(json_decoders_refuse_malformed_answers),
		cmocka_unit_test_setup_teardown(create_body_names_and_labels, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(dead_socket_rejects_with_reason, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(nonzero_exit_fails_with_logs, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(true_completes, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(stopped_sleeper_shuts_down, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(missing_image_is_rejected, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(published_port_is_bound_and_read_back, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(recover_adopts_or_removes_after_a_crash, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(close_from_the_state_callback, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(stop_before_start_never_runs, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(engine_errors_are_reported_with_their_message, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(close_stops_running_tasks, setup_engine, teardown),
		cmocka_unit_test_setup_teardown(vanishing_socket_fails_the_running_task, setup_engine, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
