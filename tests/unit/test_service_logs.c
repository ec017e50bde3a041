/* Unit tests for service_logs: a log frame's payload cut up and its context printed as the docker CLI does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/service_logs.h"

#define NODE "ldpj7owgrf12irfxg3hi9i3r3"
#define SVC "ph2jv20c166kwk5m4ulgdm0lg"
#define TASK "351x2ei1mkmh8fedetzxcpmdl"
#define DETAILS "com.docker.swarm.node.id=" NODE ",com.docker.swarm.service.id=" SVC ",com.docker.swarm.task.id=" TASK

static void test_parse(void **state)
{
	(void)state;
	struct service_logs_line l;
	char err[256];
	const char *p = DETAILS " hello-stderr and more\n";
	assert_int_equal(service_logs_parse((const uint8_t *)p, strlen(p), false, &l, err, sizeof(err)), 0);
	assert_string_equal(l.node_id, NODE);
	assert_string_equal(l.service_id, SVC);
	assert_string_equal(l.task_id, TASK);
	assert_null(l.time);
	assert_int_equal(l.text_len, strlen("hello-stderr and more\n"));
	assert_memory_equal(l.text, "hello-stderr and more\n", l.text_len);
	p = "2026-11-24T22:57:04.238799507Z " DETAILS " x\n";
	assert_int_equal(service_logs_parse((const uint8_t *)p, strlen(p), true, &l, err, sizeof(err)), 0);
	assert_int_equal(l.time_len, 30);
	assert_memory_equal(l.time, "2026-11-24T22:57:04.238799507Z", 30);
	assert_memory_equal(l.text, "x\n", 2);
	/* Keys in another order, and one more, are fine. */
	p = "com.docker.swarm.task.id=" TASK ",extra=1,com.docker.swarm.service.id=" SVC
	    ",com.docker.swarm.node.id=" NODE " y";
	assert_int_equal(service_logs_parse((const uint8_t *)p, strlen(p), false, &l, err, sizeof(err)), 0);
	assert_string_equal(l.task_id, TASK);
}

static void test_parse_refuses(void **state)
{
	(void)state;
	struct service_logs_line l;
	char err[256];
	static const struct {
		const char *payload;
		bool timestamps;
		const char *why;
	} cases[] = {
		{ "no-details-at-all", false, "no details" },
		{ "only-a-time", true, "no timestamp" },
		{ "com.docker.swarm.node.id=" NODE ",com.docker.swarm.service.id=" SVC " text", false,
		  "missing com.docker.swarm.task.id" },
		{ "com.docker.swarm.node.id=short,com.docker.swarm.service.id=" SVC ",com.docker.swarm.task.id=" TASK
		  " text", false, "missing com.docker.swarm.node.id" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(service_logs_parse((const uint8_t *)cases[i].payload, strlen(cases[i].payload),
						    cases[i].timestamps, &l, err, sizeof(err)),
				 -1);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
	}
}

static void test_context(void **state)
{
	(void)state;
	char out[256];
	struct service_logs_format f = { .width = 1 };
	/* The trace's line: logger.1.351x2ei1mkmh@vm    | hello-stderr */
	service_logs_context(&f, "logger", 1, TASK, "vm", out, sizeof(out));
	assert_string_equal(out, "logger.1.351x2ei1mkmh@vm    | ");
	f.width = 2; /* 10 replicas: slot 1 is padded by one */
	service_logs_context(&f, "web", 1, TASK, "vm", out, sizeof(out));
	assert_string_equal(out, "web.1.351x2ei1mkmh@vm     | ");
	service_logs_context(&f, "web", 10, TASK, "vm", out, sizeof(out));
	assert_string_equal(out, "web.10.351x2ei1mkmh@vm    | ");
	f = (struct service_logs_format){ .no_task_ids = true };
	service_logs_context(&f, "web", 3, TASK, "n1", out, sizeof(out));
	assert_string_equal(out, "web.3@n1    | ");
	f = (struct service_logs_format){ .no_trunc = true };
	service_logs_context(&f, "web", 3, TASK, "n1", out, sizeof(out));
	assert_string_equal(out, "web.3." TASK "@n1    | ");
	assert_int_equal(service_logs_digits(0), 1);
	assert_int_equal(service_logs_digits(100), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
