/* Unit tests for log: logfmt quoting, JSON lines, level filtering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "swarmnode/log.h"

struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static void capture_begin(struct capture *c, enum log_level min, enum log_format fmt)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	log_configure(min, fmt, c->f);
}

static void capture_end(struct capture *c)
{
	fclose(c->f);
	log_configure(LOG_INFO, LOG_FORMAT_LOGFMT, NULL);
}

static void logfmt_line(void **state)
{
	(void)state;
	struct capture c;
	capture_begin(&c, LOG_INFO, LOG_FORMAT_LOGFMT);
	log_info("swim", "member joined", LF_STR("node", "abc"), LF_UINT("alive", 3), LF_INT("delta", -1),
		 LF_BOOL("manager", true), LF_STR("addr", "10.0.0.1:7946"));
	capture_end(&c);
	assert_memory_equal(c.buf, "ts=", 3);
	const char *rest = strstr(c.buf, " level=info sub=swim msg=\"member joined\" node=abc alive=3 delta=-1 "
					  "manager=true addr=10.0.0.1:7946\n");
	assert_non_null(rest);
	free(c.buf);
}

static void logfmt_quotes_and_escapes(void **state)
{
	(void)state;
	struct capture c;
	capture_begin(&c, LOG_DEBUG, LOG_FORMAT_LOGFMT);
	log_warn("api", "x", LF_STR("a", "two words"), LF_STR("b", "q\"uote"), LF_STR("c", "line\nbreak"),
		 LF_STR("d", ""), LF_STR("e", NULL), LF_STR("f", "k=v"), LF_STR("g", "\x01"));
	capture_end(&c);
	assert_non_null(strstr(c.buf, " msg=x a=\"two words\" b=\"q\\\"uote\" c=\"line\\nbreak\" d=\"\" e=\"\" "
				      "f=\"k=v\" g=\"\\x01\"\n"));
	free(c.buf);
}

static void level_filter(void **state)
{
	(void)state;
	struct capture c;
	capture_begin(&c, LOG_WARN, LOG_FORMAT_LOGFMT);
	log_info("x", "hidden");
	log_debug("x", "hidden too");
	log_error("x", "shown");
	capture_end(&c);
	assert_null(strstr(c.buf, "hidden"));
	assert_non_null(strstr(c.buf, "level=error sub=x msg=shown\n"));
	free(c.buf);
}

static void json_line(void **state)
{
	(void)state;
	struct capture c;
	capture_begin(&c, LOG_INFO, LOG_FORMAT_JSON);
	log_info("raft", "leader \"elected\"", LF_UINT("term", 7), LF_BOOL("ok", false), LF_STR("bad", "\xff"));
	capture_end(&c);
	json_error_t e;
	json_t *j = json_loads(c.buf, 0, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
	assert_string_equal(json_string_value(json_object_get(j, "sub")), "raft");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "leader \"elected\"");
	assert_int_equal(json_integer_value(json_object_get(j, "term")), 7);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "bad")), "(invalid utf-8)");
	assert_non_null(json_object_get(j, "ts"));
	json_decref(j);
	free(c.buf);
}

static void parse_names(void **state)
{
	(void)state;
	enum log_level l;
	enum log_format f;
	assert_int_equal(log_level_parse("DEBUG", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("loud", &l), -22);
	assert_int_equal(log_format_parse("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("JSON", &f), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(logfmt_line),
		cmocka_unit_test(logfmt_quotes_and_escapes),
		cmocka_unit_test(level_filter),
		cmocka_unit_test(json_line),
		cmocka_unit_test(parse_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
