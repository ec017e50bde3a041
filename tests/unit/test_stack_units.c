/* Unit tests for stack_units: compose durations, sizes, CPUs, ports and command strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/stack_units.h"

static void durations_convert_to_nanoseconds(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t ns;
	} ok[] = {
		{"0", 0},
		{"10s", 10000000000LL},
		{"1m30s", 90000000000LL},
		{"1.5h", 5400000000000LL},
		{"300ms", 300000000LL},
		{"2us", 2000LL},
		{"2\xc2\xb5s", 2000LL},
		{"7ns", 7LL},
		{".5s", 500000000LL},
		{"1h2m3s4ms", 3723004000000LL},
		{"+5s", 5000000000LL},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ns = -1;
		char err[128] = "";
		assert_int_equal(stack_parse_duration(ok[i].in, &ns, err, sizeof(err)), 0);
		assert_string_equal(err, "");
		assert_int_equal(ns, ok[i].ns);
	}
}

static void bad_durations_say_why(void **state)
{
	(void)state;
	static const struct {
		const char *in, *err;
	} bad[] = {
		{"10", "missing unit in duration \"10\" (e.g. 10s, 1m30s, 500ms)"},
		{"10 seconds", "unknown unit \" seconds\" in duration \"10 seconds\" (valid: ns, us, ms, s, m, h)"},
		{"1d", "unknown unit \"d\" in duration \"1d\" (valid: ns, us, ms, s, m, h)"},
		{"", "invalid duration \"\" (e.g. 10s, 1m30s, 500ms)"},
		{"s", "invalid duration \"s\" (e.g. 10s, 1m30s, 500ms)"},
		{".s", "invalid duration \".s\" (e.g. 10s, 1m30s, 500ms)"},
		{"-5s", "invalid duration \"-5s\": must not be negative"},
		{"9999999999h", "duration \"9999999999h\" is too large"},
		{"99999999999999999999s", "duration \"99999999999999999999s\" is too large"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns = 42;
		char err[160] = "";
		assert_int_equal(stack_parse_duration(bad[i].in, &ns, err, sizeof(err)), -1);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(ns, 42);
	}
}

static void sizes_are_binary_multiples(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t bytes;
	} ok[] = {
		{"100", 100},
		{"512M", 536870912},
		{"1gb", 1073741824},
		{"1GiB", 1073741824},
		{"1.5g", 1610612736},
		{"64k", 65536},
		{"10 KB", 10240},
		{"2t", 2199023255552LL},
		{"1p", 1125899906842624LL},
		{"7b", 7},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t b = -1;
		char err[128] = "";
		assert_int_equal(stack_parse_bytes(ok[i].in, &b, err, sizeof(err)), 0);
		assert_int_equal(b, ok[i].bytes);
	}
	static const char *const bad[] = {"", "M", "12x", "1.2.3g", "-1m", "1mm", "1 2", "99999999999p"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t b = 42;
		char err[128] = "";
		assert_int_equal(stack_parse_bytes(bad[i], &b, err, sizeof(err)), -1);
		assert_true(strstr(err, bad[i]) != NULL);
		assert_int_equal(b, 42);
	}
}

static void cpus_become_nano_cpus(void **state)
{
	(void)state;
	int64_t n;
	char err[128] = "";
	assert_int_equal(stack_parse_cpus("0.5", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 500000000);
	assert_int_equal(stack_parse_cpus("2", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2000000000);
	assert_int_equal(stack_parse_cpus("0.000000001", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(stack_parse_cpus("1.0000000010", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1000000001);
	assert_int_equal(stack_parse_cpus("0.0000000001", &n, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid CPU count \"0.0000000001\": value is too precise");
	assert_int_equal(stack_parse_cpus("-1", &n, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid CPU count \"-1\" (e.g. 0.5, 2)");
	assert_int_equal(stack_parse_cpus("half", &n, err, sizeof(err)), -1);
	assert_int_equal(stack_parse_cpus("99999999999", &n, err, sizeof(err)), -1);
	assert_string_equal(err, "CPU count \"99999999999\" is too large");
}

/* Renders ports as "proto:target:published:mode;" for compact comparison. */
static void ports_text(json_t *ports, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(ports); i++) {
		json_t *p = json_array_get(ports, i);
		used += (size_t)snprintf(out + used, len - used, "%s:%lld:%lld:%s;",
					 json_string_value(json_object_get(p, "Protocol")),
					 (long long)json_integer_value(json_object_get(p, "TargetPort")),
					 (long long)json_integer_value(json_object_get(p, "PublishedPort")),
					 json_string_value(json_object_get(p, "PublishMode")));
	}
}

static void short_ports_follow_docker(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"80", "tcp:80:0:ingress;"},
		{"8080:80", "tcp:80:8080:ingress;"},
		{"8080:80/udp", "udp:80:8080:ingress;"},
		{"53:53/UDP", "udp:53:53:ingress;"},
		{"9000-9002:80-82", "tcp:80:9000:ingress;tcp:81:9001:ingress;tcp:82:9002:ingress;"},
		{"8000-8002:80", "tcp:80:8000:ingress;tcp:80:8001:ingress;tcp:80:8002:ingress;"},
		{"80-81", "tcp:80:0:ingress;tcp:81:0:ingress;"},
		{"0.0.0.0:8080:80/sctp", "sctp:80:8080:ingress;"},
		{"[::1]:8080:80", "tcp:80:8080:ingress;"},
		{"::1:8080:80", "tcp:80:8080:ingress;"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		json_t *ports = json_array();
		char warn[200], err[200] = "", text[512];
		assert_int_equal(stack_parse_port(ok[i].in, ports, warn, sizeof(warn), err, sizeof(err)), 0);
		ports_text(ports, text, sizeof(text));
		assert_string_equal(text, ok[i].out);
		json_decref(ports);
	}
	json_t *ports = json_array();
	char warn[200], err[200];
	assert_int_equal(stack_parse_port("127.0.0.1:8080:80", ports, warn, sizeof(warn), err, sizeof(err)), 0);
	assert_string_equal(warn, "ignoring IP-address (127.0.0.1:8080:80/tcp) service will listen on '0.0.0.0'");
	json_decref(ports);
}

static void bad_ports_are_refused(void **state)
{
	(void)state;
	static const struct {
		const char *in, *err;
	} bad[] = {
		{"", "invalid port \"\": no container port"},
		{"8080:", "invalid port \"8080:\": no container port"},
		{"http", "invalid port \"http\": invalid container port http"},
		{"0", "invalid port \"0\": invalid container port 0"},
		{"70000", "invalid port \"70000\": invalid container port 70000"},
		{"82-80", "invalid port \"82-80\": invalid container port 82-80"},
		{"x:80", "invalid port \"x:80\": invalid published port x"},
		{"80:80/icmp", "invalid port \"80:80/icmp\": invalid protocol icmp (tcp, udp or sctp)"},
		{"9000-9001:80-82", "invalid port \"9000-9001:80-82\": the container and published ranges differ in length"},
		{"1.2.3:80:80", "invalid port \"1.2.3:80:80\": invalid IP address 1.2.3"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *ports = json_array();
		char err[200] = "";
		assert_int_equal(stack_parse_port(bad[i].in, ports, NULL, 0, err, sizeof(err)), -1);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(json_array_size(ports), 0);
		json_decref(ports);
	}
}

static void split(const char *in, const char *expect_json)
{
	json_t *argv = json_array();
	char err[128] = "";
	assert_int_equal(stack_split_command(in, argv, err, sizeof(err)), 0);
	char *text = json_dumps(argv, JSON_COMPACT);
	assert_string_equal(text, expect_json);
	free(text);
	json_decref(argv);
}

static void commands_split_like_shlex(void **state)
{
	(void)state;
	split("nginx -g 'daemon off;'", "[\"nginx\",\"-g\",\"daemon off;\"]");
	split("  echo  \"a \\\"b\\\" c\" d\\ e  ", "[\"echo\",\"a \\\"b\\\" c\",\"d e\"]");
	split("sh -c 'echo $HOME' # a comment", "[\"sh\",\"-c\",\"echo $HOME\"]");
	split("a#b ''", "[\"a#b\",\"\"]");
	split("", "[]");
	json_t *argv = json_array();
	char err[128];
	assert_int_equal(stack_split_command("echo 'open", argv, err, sizeof(err)), -1);
	assert_string_equal(err, "EOF found when expecting closing quote");
	assert_int_equal(stack_split_command("echo \\", argv, err, sizeof(err)), -1);
	assert_string_equal(err, "EOF found after escape character");
	assert_int_equal(json_array_size(argv), 0);
	json_decref(argv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations_convert_to_nanoseconds),
		cmocka_unit_test(bad_durations_say_why),
		cmocka_unit_test(sizes_are_binary_multiples),
		cmocka_unit_test(cpus_become_nano_cpus),
		cmocka_unit_test(short_ports_follow_docker),
		cmocka_unit_test(bad_ports_are_refused),
		cmocka_unit_test(commands_split_like_shlex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
