/* Unit tests for config: defaults, the YAML file, flags, and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "swarmnode/config.h"

static char tmpfile_path[64];

static const char *write_file(const char *text)
{
	snprintf(tmpfile_path, sizeof(tmpfile_path), "/tmp/sn-config-XXXXXX");
	int fd = mkstemp(tmpfile_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmpfile_path;
}

static int cleanup(void **state)
{
	(void)state;
	if (tmpfile_path[0])
		unlink(tmpfile_path);
	tmpfile_path[0] = '\0';
	return 0;
}

static int parse(struct config *c, char *err, size_t errlen, int argc, ...)
{
	char *argv[16];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = strdup(va_arg(ap, const char *));
	va_end(ap);
	argv[argc] = NULL;
	config_defaults(c);
	err[0] = '\0';
	int rc = config_from_args(c, argc, argv, err, errlen);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

static void defaults(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	assert_int_equal(c.listen_addr.port, 2377);
	assert_string_equal(c.listen_addr.host, "0.0.0.0");
	assert_int_equal(c.gossip_addr.port, 7946);
	assert_false(c.has_advertise);
	assert_int_equal(c.log_level, LOG_INFO);
	if (geteuid() == 0) {
		assert_string_equal(c.data_dir, "/var/lib/swarmnode");
		assert_string_equal(c.socket_path, "/run/swarmnode/swarmnode.sock");
	}
}

static void flags(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(parse(&c, err, sizeof(err), 9, "daemon", "--data-dir", "/srv/a", "--socket=unix:///tmp/x.sock",
			       "--advertise-addr", "10.1.2.3", "--log-level", "debug", "--gossip-addr=:8000"), 0);
	assert_string_equal(c.data_dir, "/srv/a");
	assert_string_equal(c.socket_path, "/tmp/x.sock");
	assert_true(c.has_advertise);
	assert_string_equal(c.advertise_addr.host, "10.1.2.3");
	assert_int_equal(c.advertise_addr.port, 2377);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.gossip_addr.port, 8000);
}

static void flag_errors(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--log-level", "loud"), -22);
	assert_non_null(strstr(err, "log-level: \"loud\""));
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--listen-addr", "1.2.3.4:99999"), -22);
	assert_non_null(strstr(err, "listen-addr: invalid port"));
	assert_int_equal(parse(&c, err, sizeof(err), 2, "daemon", "--bogus"), -22);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(&c, err, sizeof(err), 2, "daemon", "extra"), -22);
	assert_non_null(strstr(err, "unexpected argument"));
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--log-format", "xml"), -22);
	char longpath[200];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--socket", longpath), -22);
	assert_non_null(strstr(err, "too long"));
}

static void labels(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(parse(&c, err, sizeof(err), 7, "daemon", "--label", "zone=a", "--label", "disk=ssd", "--label",
			       "zone=b"), 0);
	assert_int_equal(c.nlabels, 2);
	assert_string_equal(c.labels[0], "zone=b"); /* the same key again replaces it */
	assert_string_equal(c.labels[1], "disk=ssd");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--label", "novalue"), -22);
	assert_non_null(strstr(err, "not of the form key=value"));
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--label", "=x"), -22);
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--label", "a=b,c=d"), -22);
	const char *path = write_file("label:\n  - rack=r1\n  - gpu=none\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), 0);
	assert_int_equal(c.nlabels, 2);
	assert_string_equal(c.labels[1], "gpu=none");
	cleanup(NULL);
	path = write_file("label:\n  - rack=r1\n  - [x]\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), -22);
	char expect[128];
	snprintf(expect, sizeof(expect), "%s:3:5: label: expected key=value strings", path);
	assert_string_equal(err, expect);
	/* what would not fit in gossip is refused up front */
	char big[80];
	memset(big, 'k', 60);
	big[1] = '=';
	big[60] = '\0';
	char a[96], b[96], d[96], e[96];
	snprintf(a, sizeof(a), "a%s", big);
	snprintf(b, sizeof(b), "b%s", big);
	snprintf(d, sizeof(d), "d%s", big);
	snprintf(e, sizeof(e), "e%s", big);
	assert_int_equal(parse(&c, err, sizeof(err), 9, "daemon", "--label", a, "--label", b, "--label", d, "--label", e),
			 -22);
	assert_non_null(strstr(err, "at most 192 bytes in all"));
}

static void runtime_and_engine_socket(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	config_defaults(&c);
	assert_int_equal(c.runtime, CONFIG_RUNTIME_AUTO);
	assert_string_equal(c.engine_socket, "");
	assert_int_equal(parse(&c, err, sizeof(err), 5, "daemon", "--runtime", "engine", "--engine-socket",
			       "unix:///run/podman/podman.sock"), 0);
	assert_int_equal(c.runtime, CONFIG_RUNTIME_ENGINE);
	assert_string_equal(c.engine_socket, "/run/podman/podman.sock");
	assert_string_equal(config_runtime_name(c.runtime), "engine");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--runtime", "runc"), -22);
	assert_string_equal(err, "runtime: \"runc\" is not one of exec, engine, auto");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--engine-socket", "docker.sock"), -22);
	assert_string_equal(err, "engine-socket: \"docker.sock\" is not an absolute path");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--engine-socket", ""), -22);
	assert_string_equal(err, "engine-socket must not be empty");
	const char *path = write_file("runtime: exec\nengine-socket: /var/run/docker.sock\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), 0);
	assert_int_equal(c.runtime, CONFIG_RUNTIME_EXEC);
	assert_string_equal(c.engine_socket, "/var/run/docker.sock");
}

static void file_then_flags_override(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	const char *path = write_file("# settings\ndata-dir: /srv/from-file\nlog-level: warn\nlog-format: json\n");
	assert_int_equal(parse(&c, err, sizeof(err), 5, "daemon", "--log-level", "error", "--config", path), 0);
	assert_string_equal(c.data_dir, "/srv/from-file");
	assert_int_equal(c.log_level, LOG_ERROR); /* the flag wins, wherever it is */
	assert_int_equal(c.log_format, LOG_FORMAT_JSON);
}

static void file_errors_name_line_and_column(void **state)
{
	(void)state;
	struct config c;
	char err[512], expect[128];
	const char *path = write_file("data-dir: /srv\nlisten-adr: 1.2.3.4\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), -22);
	snprintf(expect, sizeof(expect), "%s:2:1: unknown setting \"listen-adr\"", path);
	assert_string_equal(err, expect);
	cleanup(NULL);

	path = write_file("data-dir: /srv\nlog-level: [a, b]\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), -22);
	snprintf(expect, sizeof(expect), "%s:2:12: log-level: expected a single value", path);
	assert_string_equal(err, expect);
	cleanup(NULL);

	path = write_file("gossip-addr: \"10.0.0.1:x\"\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), -22);
	snprintf(expect, sizeof(expect), "%s:1:14: gossip-addr: invalid port", path);
	assert_memory_equal(err, expect, strlen(expect));
	cleanup(NULL);

	path = write_file("data-dir: /srv\n  bad: : indent\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), -22);
	snprintf(expect, sizeof(expect), "%s:2:", path);
	assert_memory_equal(err, expect, strlen(expect));
	cleanup(NULL);

	path = write_file("- a\n- b\n");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), -22);
	assert_non_null(strstr(err, ":1:1: expected a mapping of settings"));

	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", "/nonexistent/sn.yml"), -22);
	assert_string_equal(err, "/nonexistent/sn.yml: No such file or directory");
}

static void empty_file_sets_nothing(void **state)
{
	(void)state;
	struct config c, d;
	char err[256];
	const char *path = write_file("");
	assert_int_equal(parse(&c, err, sizeof(err), 3, "daemon", "--config", path), 0);
	config_defaults(&d);
	assert_string_equal(c.data_dir, d.data_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(flags),
		cmocka_unit_test(flag_errors),
		cmocka_unit_test_teardown(labels, cleanup),
		cmocka_unit_test_teardown(runtime_and_engine_socket, cleanup),
		cmocka_unit_test_teardown(file_then_flags_override, cleanup),
		cmocka_unit_test_teardown(file_errors_name_line_and_column, cleanup),
		cmocka_unit_test_teardown(empty_file_sets_nothing, cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
