/* Unit tests for http: one connection driven by bytes, with a fake transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_transport.h"

struct fixture {
	struct http_conn conn;
	struct http_config config;
	struct fake_output output;     /* what the connection wrote */
	int requests;                  /* handler calls */
	struct http_request *held;     /* a request the handler answers later */
	bool hold;                     /* handler keeps the request instead of answering */
	char last_path[256], last_query[256], last_body[256], last_ctype[64];
};

static void handler(void *data, struct http_request *req)
{
	struct fixture *f = data;
	f->requests++;
	snprintf(f->last_path, sizeof(f->last_path), "%s", req->path);
	snprintf(f->last_query, sizeof(f->last_query), "%s", req->query);
	snprintf(f->last_body, sizeof(f->last_body), "%s", req->body);
	const char *ct = http_request_header(req, "content-type");
	snprintf(f->last_ctype, sizeof(f->last_ctype), "%s", ct ? ct : "(none)");
	if (f->hold) {
		f->held = req;
		return;
	}
	char body[300];
	int n = snprintf(body, sizeof(body), "path=%s", req->path);
	http_respond(req, 200, "text/plain", NULL, 0, body, (size_t)n);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->config.max_header_bytes = 1024;
	f->config.max_body_bytes = 64;
	http_conn_init(&f->conn, &f->config, &fake_transport, handler, f);
	f->conn.data = &f->output;
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

static void feed(struct fixture *f, const char *s)
{
	http_conn_feed(&f->conn, s, strlen(s));
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void simple_get(void **state)
{
	struct fixture *f = *state;
	feed(f, "GET /v1.41/info?a=1&b=2 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(f->requests, 1);
	assert_string_equal(f->last_path, "/v1.41/info");
	assert_string_equal(f->last_query, "a=1&b=2");
	assert_non_null(strstr(f->output.data, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(f->output.data, "Content-Length: 16\r\n"));
	assert_non_null(strstr(f->output.data, "\r\n\r\npath=/v1.41/info"));
	assert_null(strstr(f->output.data, "Connection: close"));
	assert_int_equal(f->output.closes, 0);
}

static void pipelined_requests_in_one_read(void **state)
{
	struct fixture *f = *state;
	feed(f, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
	assert_int_equal(f->requests, 3);
	assert_int_equal(count(f->output.data, "HTTP/1.1 200 OK"), 3);
	assert_true(strstr(f->output.data, "path=/a") < strstr(f->output.data, "path=/b"));
	assert_true(strstr(f->output.data, "path=/b") < strstr(f->output.data, "path=/c"));
}

static void byte_by_byte(void **state)
{
	struct fixture *f = *state;
	const char *req = "POST /x HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
			  "GET /y HTTP/1.1\r\n\r\n";
	for (const char *p = req; *p; p++)
		http_conn_feed(&f->conn, p, 1);
	assert_int_equal(f->requests, 2);
	assert_string_equal(f->last_path, "/y");
	assert_non_null(strstr(f->output.data, "path=/x"));
	assert_non_null(strstr(f->output.data, "path=/y"));
}

static void body_and_headers_reach_the_handler(void **state)
{
	struct fixture *f = *state;
	feed(f, "POST /x HTTP/1.1\r\nContent-Type: application/json\r\nX-Empty:\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
	assert_string_equal(f->last_body, "{\"a\":1}");
	assert_string_equal(f->last_ctype, "application/json");
}

static void chunked_request_body(void **state)
{
	struct fixture *f = *state;
	feed(f, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
	assert_int_equal(f->requests, 1);
	assert_string_equal(f->last_body, "abcde");
}

static void head_has_no_body(void **state)
{
	struct fixture *f = *state;
	feed(f, "HEAD /_ping HTTP/1.1\r\n\r\n");
	assert_int_equal(f->requests, 1);
	assert_non_null(strstr(f->output.data, "Content-Length: 11\r\n"));
	assert_null(strstr(f->output.data, "path="));
}

static void connection_close_is_honoured(void **state)
{
	struct fixture *f = *state;
	feed(f, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	assert_int_equal(f->requests, 1);
	assert_non_null(strstr(f->output.data, "Connection: close\r\n"));
	assert_int_equal(f->output.closes, 1);
}

static void http10_closes_by_default(void **state)
{
	struct fixture *f = *state;
	feed(f, "GET /a HTTP/1.0\r\n\r\n");
	assert_int_equal(f->requests, 1);
	assert_int_equal(f->output.closes, 1);
}

static void malformed_request_line(void **state)
{
	struct fixture *f = *state;
	feed(f, "GARBAGE\r\n\r\n");
	assert_int_equal(f->requests, 0);
	assert_non_null(strstr(f->output.data, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(f->output.data, "{\"message\":\"malformed HTTP request: "));
	assert_non_null(strstr(f->output.data, "Connection: close"));
	assert_int_equal(f->output.closes, 1);
	/* nothing more is read */
	feed(f, "GET /a HTTP/1.1\r\n\r\n");
	assert_int_equal(f->requests, 0);
}

static void oversized_header(void **state)
{
	struct fixture *f = *state;
	char big[2048];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	feed(f, "GET /a HTTP/1.1\r\nX-Big: ");
	feed(f, big);
	assert_int_equal(f->requests, 0);
	assert_non_null(strstr(f->output.data, "HTTP/1.1 431 "));
	assert_int_equal(f->output.closes, 1);
}

static void oversized_url(void **state)
{
	struct fixture *f = *state;
	char big[2048];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	feed(f, "GET /");
	feed(f, big);
	assert_non_null(strstr(f->output.data, "HTTP/1.1 431 "));
	assert_int_equal(f->output.closes, 1);
}

static void oversized_body_by_length(void **state)
{
	struct fixture *f = *state;
	feed(f, "POST /a HTTP/1.1\r\nContent-Length: 65\r\n\r\n");
	assert_int_equal(f->requests, 0);
	assert_non_null(strstr(f->output.data, "HTTP/1.1 413 Payload Too Large\r\n"));
	assert_int_equal(f->output.closes, 1);
}

static void oversized_chunked_body(void **state)
{
	struct fixture *f = *state;
	feed(f, "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n");
	char chunk[0x41];
	memset(chunk, 'x', 0x40);
	chunk[0x40] = '\0';
	feed(f, chunk);
	feed(f, "\r\n1\r\ny\r\n");
	assert_int_equal(f->requests, 0);
	assert_non_null(strstr(f->output.data, "HTTP/1.1 413 "));
	assert_int_equal(f->output.closes, 1);
}

static void body_at_the_limit_is_accepted(void **state)
{
	struct fixture *f = *state;
	char req[256];
	char body[65];
	memset(body, 'b', 64);
	body[64] = '\0';
	snprintf(req, sizeof(req), "POST /a HTTP/1.1\r\nContent-Length: 64\r\n\r\n%s", body);
	feed(f, req);
	assert_int_equal(f->requests, 1);
	assert_string_equal(f->last_body, body);
}

static void eof_mid_request_closes_without_answer(void **state)
{
	struct fixture *f = *state;
	feed(f, "GET /a HTTP/1.1\r\nHost: x");
	http_conn_eof(&f->conn);
	assert_int_equal(f->requests, 0);
	assert_null(f->output.data);
	assert_int_equal(f->output.closes, 1);
}

static void async_answer_then_pipelined_request(void **state)
{
	struct fixture *f = *state;
	f->hold = true;
	feed(f, "GET /slow HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
	assert_int_equal(f->requests, 1);
	assert_true(http_conn_busy(&f->conn));
	assert_null(f->output.data);
	f->hold = false;
	http_respond(f->held, 200, "text/plain", NULL, 0, "late", 4);
	/* the pipelined request is served once the first is answered, in order */
	assert_int_equal(f->requests, 2);
	assert_true(strstr(f->output.data, "late") < strstr(f->output.data, "path=/next"));
	assert_false(http_conn_busy(&f->conn));
}

static void eof_while_answering_drops_output(void **state)
{
	struct fixture *f = *state;
	f->hold = true;
	feed(f, "GET /slow HTTP/1.1\r\n\r\n");
	http_conn_eof(&f->conn);
	assert_int_equal(f->output.closes, 0); /* the request in flight still owns the connection */
	http_respond(f->held, 200, "text/plain", NULL, 0, "late", 4);
	assert_null(f->output.data);
	assert_int_equal(f->output.closes, 1);
}

static void chunked_response(void **state)
{
	struct fixture *f = *state;
	f->hold = true;
	feed(f, "GET /stream HTTP/1.1\r\n\r\n");
	http_stream_begin(f->held, 200, "application/json", NULL, 0);
	http_stream_write(f->held, "hello", 5);
	http_stream_write(f->held, "", 0); /* ignored: it would end the body */
	http_stream_write(f->held, "world!", 6);
	http_stream_end(f->held);
	assert_non_null(strstr(f->output.data, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"));
	assert_false(http_conn_busy(&f->conn));
}

static void always_headers_and_error_body(void **state)
{
	struct fixture *f = *state;
	static const struct http_header always[] = {{"Api-Version", "1.41"}};
	f->config.always = always;
	f->config.nalways = 1;
	f->hold = true;
	feed(f, "GET /e HTTP/1.1\r\n\r\n");
	http_respond_error(f->held, 404, "no such \"thing\"");
	assert_non_null(strstr(f->output.data, "HTTP/1.1 404 Not Found\r\nApi-Version: 1.41\r\nDate: "));
	assert_non_null(strstr(f->output.data, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(f->output.data, "\r\n\r\n{\"message\":\"no such \\\"thing\\\"\"}\n"));
}

static void invalid_utf8_error_message_is_replaced(void **state)
{
	struct fixture *f = *state;
	f->hold = true;
	feed(f, "GET /e HTTP/1.1\r\n\r\n");
	http_respond_error(f->held, 400, "bad \xff name");
	assert_non_null(strstr(f->output.data, "{\"message\":\"Bad Request\"}"));
}

static void pipelining_flood_is_cut_off(void **state)
{
	struct fixture *f = *state;
	f->hold = true;
	feed(f, "GET /slow HTTP/1.1\r\n\r\n");
	char junk[512];
	memset(junk, 'j', sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\0';
	for (int i = 0; i < 10; i++)
		feed(f, junk); /* beyond header + body limits while the first is answered */
	http_respond(f->held, 200, "text/plain", NULL, 0, "x", 1);
	assert_null(f->output.data); /* the client was dropped */
	assert_int_equal(f->output.closes, 1);
}

static void percent_decoding(void **state)
{
	(void)state;
	char out[32];
	assert_int_equal(http_percent_decode("a%20b%3Ac", 9, false, out, sizeof(out)), 5);
	assert_string_equal(out, "a b:c");
	assert_int_equal(http_percent_decode("%7B%22x%22%7D+y", 15, true, out, sizeof(out)), 7);
	assert_string_equal(out, "{\"x\"} y");
	assert_int_equal(http_percent_decode("a+b", 3, false, out, sizeof(out)), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(http_percent_decode("%zz", 3, false, out, sizeof(out)), -1);
	assert_int_equal(http_percent_decode("%2", 2, false, out, sizeof(out)), -1);
	assert_int_equal(http_percent_decode("%", 1, false, out, sizeof(out)), -1);
	assert_int_equal(http_percent_decode("a%00b", 5, false, out, sizeof(out)), -1);
	assert_int_equal(http_percent_decode("abcd", 4, false, out, 4), -1); /* no room for the NUL */
	assert_int_equal(http_percent_decode("", 0, false, out, 1), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(simple_get),
		T(pipelined_requests_in_one_read),
		T(byte_by_byte),
		T(body_and_headers_reach_the_handler),
		T(chunked_request_body),
		T(head_has_no_body),
		T(connection_close_is_honoured),
		T(http10_closes_by_default),
		T(malformed_request_line),
		T(oversized_header),
		T(oversized_url),
		T(oversized_body_by_length),
		T(oversized_chunked_body),
		T(body_at_the_limit_is_accepted),
		T(eof_mid_request_closes_without_answer),
		T(async_answer_then_pipelined_request),
		T(eof_while_answering_drops_output),
		T(chunked_response),
		T(always_headers_and_error_body),
		T(invalid_utf8_error_message_is_replaced),
		T(pipelining_flood_is_cut_off),
		cmocka_unit_test(percent_decoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
