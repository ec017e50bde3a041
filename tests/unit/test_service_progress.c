/* Unit tests for service_progress: slots from canned task lists, the rendered lines, durations and ports as docker prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/service_progress.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

/* A task of slot (0: global, on node) in state, meant to be desired, at second t. */
static json_t *task(int slot, const char *node, const char *state, const char *desired, int t, const char *err)
{
	char ts[64];
	snprintf(ts, sizeof(ts), "2026-11-24T22:54:%02d.5Z", t);
	json_t *j = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:s}", "ID", "t", "NodeID", node, "Status", "State", state,
			      "Timestamp", ts, "Err", err, "DesiredState", desired);
	if (slot > 0)
		json_object_set_new(j, "Slot", json_integer(slot));
	return j;
}

static char *render(const struct service_progress *p, bool bars)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	service_progress_render(p, bars, f);
	fclose(f);
	return text;
}

static void replicated_slots_take_the_newest_task_meant_to_run(void **state)
{
	(void)state;
	json_t *service = parse("{\"Spec\":{\"Mode\":{\"Replicated\":{\"Replicas\":3}}}}");
	json_t *nodes = parse("[{\"ID\":\"n1\",\"Status\":{\"State\":\"ready\"}},{\"ID\":\"n2\",\"Status\":{\"State\":\"down\"}}]");
	json_t *tasks = json_array();
	json_array_append_new(tasks, task(1, "n1", "failed", "shutdown", 1, "exit 1"));  /* old: not meant to run */
	json_array_append_new(tasks, task(1, "n1", "running", "running", 2, ""));
	json_array_append_new(tasks, task(2, "n1", "preparing", "running", 3, ""));
	json_array_append_new(tasks, task(2, "n1", "starting", "running", 4, ""));      /* newer wins */
	json_array_append_new(tasks, task(3, "n2", "running", "running", 5, ""));       /* on a down node */
	json_array_append_new(tasks, task(4, "n1", "running", "running", 5, ""));       /* being scaled away */
	struct service_progress p;
	assert_int_equal(service_progress_compute(service, tasks, nodes, &p), 0);
	assert_int_equal(p.desired, 3);
	assert_int_equal(p.running, 1);
	assert_int_equal(p.failed, 0);
	assert_false(service_progress_converged(&p));
	char *text = render(&p, true);
	assert_string_equal(text, "overall progress: 1 out of 3 tasks\n"
			    "1/3: running   [==================================================>] \n"
			    "2/3: starting  [============================================>      ] \n"
			    "3/3:  \n");
	free(text);
	text = render(&p, false);
	assert_string_equal(text, "overall progress: 1 out of 3 tasks\n1/3: running   \n2/3: starting  \n3/3:  \n");
	free(text);
	service_progress_release(&p);
	json_decref(tasks);
	json_decref(nodes);
	json_decref(service);
}

static void errors_failures_and_convergence(void **state)
{
	(void)state;
	json_t *service = parse("{\"Spec\":{\"Mode\":{\"Replicated\":{\"Replicas\":2}}}}");
	json_t *tasks = json_array();
	json_array_append_new(tasks, task(1, "", "pending", "running", 1, "no suitable node (scheduling constraints "
					   "not satisfied on 3 nodes)"));
	json_array_append_new(tasks, task(2, "n1", "rejected", "running", 1, "executable file not found"));
	struct service_progress p;
	assert_int_equal(service_progress_compute(service, tasks, NULL, &p), 0);
	assert_int_equal(p.failed, 1);
	char *text = render(&p, true);
	assert_string_equal(text, "overall progress: 0 out of 2 tasks\n"
			    "1/2: no suitable node (scheduling constraints not satisfied on 3 nodes)\n"
			    "2/2: executable file not found\n");
	free(text);
	service_progress_release(&p);
	json_decref(tasks);
	tasks = parse("[]");
	json_decref(service);
	service = parse("{\"Spec\":{\"Mode\":{\"Replicated\":{\"Replicas\":0}}}}");
	assert_int_equal(service_progress_compute(service, tasks, NULL, &p), 0);
	assert_true(service_progress_converged(&p));
	service_progress_release(&p);
	json_decref(tasks);
	json_decref(service);
}

static void global_services_count_nodes(void **state)
{
	(void)state;
	json_t *service = parse("{\"Spec\":{\"Mode\":{\"Global\":{}}}}");
	json_t *tasks = json_array();
	json_array_append_new(tasks, task(0, "nodeb", "running", "running", 1, ""));
	json_array_append_new(tasks, task(0, "nodea", "running", "running", 1, ""));
	json_array_append_new(tasks, task(0, "nodec", "complete", "shutdown", 1, ""));
	struct service_progress p;
	assert_int_equal(service_progress_compute(service, tasks, NULL, &p), 0);
	assert_true(p.global);
	assert_int_equal(p.desired, 2);
	assert_true(service_progress_converged(&p));
	char *text = render(&p, false);
	assert_string_equal(text, "overall progress: 2 out of 2 tasks\nnodea: running   \nnodeb: running   \n");
	free(text);
	service_progress_release(&p);
	json_decref(tasks);
	/* A global service without any task yet is not converged. */
	tasks = parse("[]");
	assert_int_equal(service_progress_compute(service, tasks, NULL, &p), 0);
	assert_false(service_progress_converged(&p));
	service_progress_release(&p);
	json_decref(tasks);
	json_decref(service);
}

static void durations_read_as_docker_prints_them(void **state)
{
	(void)state;
	static const struct { long long secs; const char *text; } cases[] = {
		{0, "Less than a second"}, {1, "1 second"}, {5, "5 seconds"}, {59, "59 seconds"}, {60, "About a minute"},
		{119, "About a minute"}, {120, "2 minutes"}, {3599, "59 minutes"}, {3600, "About an hour"},
		{5399, "About an hour"}, {5400, "2 hours"}, {47 * 3600, "47 hours"}, {48 * 3600, "2 days"},
		{14 * 86400, "2 weeks"}, {60 * 86400, "2 months"}, {730 * 86400, "2 years"},
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		service_human_duration(cases[i].secs * 1000000000LL, buf, sizeof(buf));
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%lld s: want \"%s\", got \"%s\"", cases[i].secs, cases[i].text, buf);
	}
	json_t *status = parse("{\"State\":\"running\",\"Timestamp\":\"2026-11-24T22:54:28.301877271Z\"}");
	/* 2026-11-24T22:54:28Z is 1795560868 s after the epoch. */
	service_task_current_state(status, 1795560868301877271LL + 5000000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "Running 5 seconds ago");
	json_decref(status);
}

static void ports_merge_runs_and_skip_host_mode(void **state)
{
	(void)state;
	json_t *s = parse("{\"Endpoint\":{\"Ports\":[{\"Protocol\":\"udp\",\"TargetPort\":53,\"PublishedPort\":53,"
			  "\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\",\"TargetPort\":82,\"PublishedPort\":30001,"
			  "\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\",\"TargetPort\":81,\"PublishedPort\":30000,"
			  "\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
			  "\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\",\"TargetPort\":9,\"PublishedPort\":9,"
			  "\"PublishMode\":\"host\"}]}}");
	char buf[256];
	service_ports_text(s, buf, sizeof(buf));
	assert_string_equal(buf, "*:8080->80/tcp, *:30000-30001->81-82/tcp, *:53->53/udp");
	json_decref(s);
	json_t *t = parse("{\"Status\":{\"PortStatus\":{\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,"
			  "\"PublishedPort\":30000,\"PublishMode\":\"host\"}]}}}");
	service_task_ports_text(t, buf, sizeof(buf));
	assert_string_equal(buf, "*:30000->80/tcp");
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replicated_slots_take_the_newest_task_meant_to_run),
		cmocka_unit_test(errors_failures_and_convergence),
		cmocka_unit_test(global_services_count_nodes),
		cmocka_unit_test(durations_read_as_docker_prints_them),
		cmocka_unit_test(ports_merge_runs_and_skip_host_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
