/* Unit tests for api: the Engine API router and system endpoints over a fake connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/api.h"
#include "swarmnode/log.h"
#include "swarmnode/swarm.h"

#include "fake_transport.h"

struct fixture {
	struct config config;
	struct swarm swarm; /* never started: this node is in no swarm */
	struct api api;
	struct http_config http_config;
	struct http_conn conn;
	struct fake_output output;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	config_defaults(&f->config);
	snprintf(f->config.data_dir, sizeof(f->config.data_dir), "/srv/test-data");
	api_init(&f->api, &f->config, &f->swarm, "2aub0zn8p2ddq69kofu7b69sr");
	f->http_config.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
	f->http_config.max_body_bytes = HTTP_DEFAULT_MAX_BODY_BYTES;
	api_configure_http(&f->api, &f->http_config);
	http_conn_init(&f->conn, &f->http_config, &fake_transport, api_handle, &f->api);
	f->conn.data = &f->output;
	log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	http_conn_release(&f->conn);
	fake_output_reset(&f->output);
	free(f);
	return 0;
}

/* Sends one request and returns the response body parsed as JSON (NULL if none). */
static json_t *call(struct fixture *f, const char *request)
{
	fake_output_reset(&f->output);
	http_conn_feed(&f->conn, request, strlen(request));
	assert_non_null(f->output.data);
	const char *body = strstr(f->output.data, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	if (strstr(f->output.data, "Transfer-Encoding: chunked")) {
		/* one data chunk then the terminator, as h_info writes it */
		char *copy = strdup(body), *w = copy;
		const char *p = body;
		for (;;) {
			size_t n = strtoul(p, NULL, 16);
			p = strstr(p, "\r\n") + 2;
			if (n == 0)
				break;
			memcpy(w, p, n);
			w += n;
			p += n + 2;
		}
		*w = '\0';
		json_t *j = json_loads(copy, 0, NULL);
		free(copy);
		return j;
	}
	return *body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
}

static int status_of(struct fixture *f)
{
	int status = 0;
	sscanf(f->output.data, "HTTP/1.1 %d", &status);
	return status;
}

static void assert_error(struct fixture *f, json_t *j, int status, const char *message_part)
{
	assert_int_equal(status_of(f), status);
	assert_non_null(j);
	const char *m = json_string_value(json_object_get(j, "message"));
	assert_non_null(m);
	if (strstr(m, message_part) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", m, message_part);
	json_decref(j);
}

static void ping_head_and_get(void **state)
{
	struct fixture *f = *state;
	json_t *j = call(f, "HEAD /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n");
	assert_null(j);
	assert_int_equal(status_of(f), 200);
	assert_non_null(strstr(f->output.data, "Api-Version: 1.41\r\n"));
	assert_non_null(strstr(f->output.data, "Ostype: linux\r\n"));
	assert_non_null(strstr(f->output.data, "Docker-Experimental: false\r\n"));
	assert_non_null(strstr(f->output.data, "Swarm: inactive\r\n"));
	assert_non_null(strstr(f->output.data, "Content-Length: 0\r\n"));
	call(f, "GET /_ping HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(f->output.data, "\r\n\r\nOK"));
}

static void version_with_prefix(void **state)
{
	struct fixture *f = *state;
	json_t *j = call(f, "GET /v1.41/version HTTP/1.1\r\n\r\n");
	assert_int_equal(status_of(f), 200);
	assert_string_equal(json_string_value(json_object_get(j, "ApiVersion")), "1.41");
	assert_string_equal(json_string_value(json_object_get(j, "MinAPIVersion")), "1.24");
	assert_string_equal(json_string_value(json_object_get(j, "Os")), "linux");
	json_t *engine = json_array_get(json_object_get(j, "Components"), 0);
	assert_string_equal(json_string_value(json_object_get(engine, "Name")), "Engine");
	assert_string_equal(json_string_value(json_object_get(json_object_get(engine, "Details"), "ApiVersion")),
			    "1.41");
	json_decref(j);
	/* without a prefix too */
	j = call(f, "GET /version HTTP/1.1\r\n\r\n");
	assert_int_equal(status_of(f), 200);
	json_decref(j);
}

static void info_reports_this_daemon(void **state)
{
	struct fixture *f = *state;
	json_t *j = call(f, "GET /v1.41/info HTTP/1.1\r\n\r\n");
	assert_int_equal(status_of(f), 200);
	assert_string_equal(json_string_value(json_object_get(j, "ID")), "2aub0zn8p2ddq69kofu7b69sr");
	assert_string_equal(json_string_value(json_object_get(j, "DockerRootDir")), "/srv/test-data");
	assert_true(json_integer_value(json_object_get(j, "NCPU")) >= 1);
	assert_true(json_integer_value(json_object_get(j, "MemTotal")) > 0);
	json_t *swarm = json_object_get(j, "Swarm");
	assert_string_equal(json_string_value(json_object_get(swarm, "LocalNodeState")), "inactive");
	assert_true(json_is_false(json_object_get(swarm, "ControlAvailable")));
	json_decref(j);
}

static void version_too_new_or_old(void **state)
{
	struct fixture *f = *state;
	assert_error(f, call(f, "GET /v1.50/version HTTP/1.1\r\n\r\n"), 400,
		     "client version 1.50 is too new. Maximum supported API version is 1.41");
	assert_error(f, call(f, "GET /v1.12/version HTTP/1.1\r\n\r\n"), 400, "is too old");
}

static void unknown_route_and_method(void **state)
{
	struct fixture *f = *state;
	assert_error(f, call(f, "GET /v1.41/nope HTTP/1.1\r\n\r\n"), 404, "page not found");
	assert_error(f, call(f, "GET /vx/version HTTP/1.1\r\n\r\n"), 404, "page not found");
	assert_error(f, call(f, "DELETE /v1.41/info HTTP/1.1\r\n\r\n"), 405, "method DELETE is not allowed on /info");
}

static void json_body_checks(void **state)
{
	struct fixture *f = *state;
	assert_error(f, call(f, "POST /v1.41/swarmnode/log-level HTTP/1.1\r\nContent-Type: application/json\r\n"
				"Content-Length: 9\r\n\r\n{\"Level\":"), 400, "invalid JSON");
	assert_error(f, call(f, "POST /v1.41/swarmnode/log-level HTTP/1.1\r\nContent-Type: text/plain\r\n"
				"Content-Length: 17\r\n\r\n{\"Level\":\"info\"}\n"), 400,
		     "unsupported Content-Type header (text/plain)");
	assert_error(f, call(f, "POST /v1.41/swarmnode/log-level HTTP/1.1\r\nContent-Type: application/json\r\n"
				"Content-Length: 17\r\n\r\n{\"Level\":\"loud\"}\n"), 400, "invalid log level \"loud\"");
	assert_error(f, call(f, "POST /v1.41/swarmnode/log-level HTTP/1.1\r\nContent-Type: application/json\r\n"
				"Content-Length: 2\r\n\r\n{}"), 400, "Level is required");
	assert_int_equal(log_min_level(), LOG_ERROR); /* nothing changed */
}

static void log_level_changes(void **state)
{
	struct fixture *f = *state;
	json_t *j = call(f, "POST /v1.41/swarmnode/log-level HTTP/1.1\r\n"
			    "Content-Type: application/json; charset=utf-8\r\n"
			    "Content-Length: 16\r\n\r\n{\"Level\":\"warn\"}");
	assert_int_equal(status_of(f), 200);
	assert_string_equal(json_string_value(json_object_get(j, "Level")), "warn");
	assert_int_equal(log_min_level(), LOG_WARN);
	json_decref(j);
	j = call(f, "GET /swarmnode/log-level HTTP/1.1\r\n\r\n");
	assert_string_equal(json_string_value(json_object_get(j, "Level")), "warn");
	json_decref(j);
}

static void query_parameters(void **state)
{
	struct fixture *f = *state;
	/* /swarm/leave answers from the query: force=1 vs absent, decoded per Go's rules */
	json_t *j = call(f, "POST /v1.41/swarm/leave?force=false HTTP/1.1\r\n\r\n");
	assert_error(f, j, 503, "not part of a swarm");
	struct http_request req = {.query = "a=1&force=true&f%20g=x%2By&empty&bad=%zz"};
	char v[32];
	assert_true(api_query_bool(&req, "force"));
	assert_true(api_query(&req, "a", v, sizeof(v)));
	assert_string_equal(v, "1");
	assert_true(api_query(&req, "f%20g", v, sizeof(v)));
	assert_string_equal(v, "x+y");
	assert_true(api_query(&req, "empty", v, sizeof(v)));
	assert_string_equal(v, "");
	assert_false(api_query_bool(&req, "empty"));
	assert_true(api_query(&req, "bad", v, sizeof(v)));
	assert_string_equal(v, "");
	assert_false(api_query(&req, "missing", v, sizeof(v)));
	struct http_request no = {.query = "force=0"};
	assert_false(api_query_bool(&no, "force"));
	struct http_request yes = {.query = "force=1"};
	assert_true(api_query_bool(&yes, "force"));
}

static void swarm_routes_when_not_in_a_swarm(void **state)
{
	struct fixture *f = *state;
	assert_error(f, call(f, "GET /v1.41/nodes HTTP/1.1\r\n\r\n"), 503, "This node is not a swarm manager. Use");
	assert_error(f, call(f, "GET /v1.41/nodes/some%20node HTTP/1.1\r\n\r\n"), 503, "not a swarm manager");
	assert_error(f, call(f, "GET /v1.41/swarm HTTP/1.1\r\n\r\n"), 503, "not a swarm manager");
	assert_error(f, call(f, "GET /v1.41/swarmnode/members HTTP/1.1\r\n\r\n"), 503, "not part of a swarm");
	assert_error(f, call(f, "POST /v1.41/swarm/join HTTP/1.1\r\nContent-Type: application/json\r\n"
				"Content-Length: 2\r\n\r\n{}"), 400, "RemoteAddrs");
	assert_error(f, call(f, "POST /v1.41/swarm/join HTTP/1.1\r\nContent-Type: application/json\r\n"
				"Content-Length: 52\r\n\r\n{\"RemoteAddrs\":[\"10.0.0.1:2377\"],\"JoinToken\":\"nope\"}"),
		     400, "invalid join token");
	call(f, "HEAD /_ping HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(f->output.data, "Swarm: inactive\r\n"));
}

/* {name*} takes every segment up to the route's tail: image names hold slashes. */
static void multi_segment_placeholders(void **state)
{
	struct fixture *f = *state;
	assert_error(f, call(f, "GET /v1.41/distribution/python3/json HTTP/1.1\r\n\r\n"), 404,
		     "swarmnode does not contact registries: image python3 is not pinned");
	assert_error(f, call(f, "GET /v1.41/distribution/ghcr.io/a/b:1/json HTTP/1.1\r\n\r\n"), 404,
		     "image ghcr.io/a/b:1 is not pinned");
	assert_error(f, call(f, "GET /v1.41/distribution//bin/sh/json HTTP/1.1\r\n\r\n"), 404, "image /bin/sh is");
	assert_error(f, call(f, "GET /v1.41/distribution/json HTTP/1.1\r\n\r\n"), 404, "page not found");
	assert_error(f, call(f, "GET /v1.41/distribution/x/jsonx HTTP/1.1\r\n\r\n"), 404, "page not found");
	assert_error(f, call(f, "GET /v1.41/networks HTTP/1.1\r\n\r\n"), 503, "not a swarm manager");
	assert_error(f, call(f, "GET /v1.41/secrets HTTP/1.1\r\n\r\n"), 503, "not a swarm manager");
}

static void version_parse(void **state)
{
	(void)state;
	assert_int_equal(api_parse_version("1.41", 4), 141);
	assert_int_equal(api_parse_version("1.4", 3), 104);
	assert_int_equal(api_parse_version("1.", 2), 0);
	assert_int_equal(api_parse_version(".41", 3), 0);
	assert_int_equal(api_parse_version("1.41x", 5), 0);
	assert_int_equal(api_parse_version("1.411", 5), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(ping_head_and_get),
		T(version_with_prefix),
		T(info_reports_this_daemon),
		T(version_too_new_or_old),
		T(unknown_route_and_method),
		T(json_body_checks),
		T(log_level_changes),
		T(query_parameters),
		T(swarm_routes_when_not_in_a_swarm),
		T(multi_segment_placeholders),
		cmocka_unit_test(version_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
