/* log: one event per line on stderr, logfmt by default or JSON, a subsystem per module. */
#include "swarmnode/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

static struct {
	enum log_level min;
	enum log_format format;
	FILE *out; /* NULL means stderr, resolved at write time */
} log_state = {LOG_INFO, LOG_FORMAT_LOGFMT, NULL};

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void log_configure(enum log_level min, enum log_format format, FILE *out)
{
	log_state.min = min;
	log_state.format = format;
	log_state.out = out;
}

enum log_level log_min_level(void)
{
	return log_state.min;
}

void log_set_min_level(enum log_level min)
{
	log_state.min = min;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? log_level_names[level] : "unknown";
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

/* RFC 3339 UTC with milliseconds; wall-clock time is what a reader of logs wants. */
static void log_timestamp(char buf[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static bool logfmt_needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

static void logfmt_value(FILE *out, const char *s)
{
	if (s == NULL)
		s = "";
	if (!logfmt_needs_quotes(s)) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (c < ' ' || c == 0x7f)
				fprintf(out, "\\x%02x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

static void logfmt_field(FILE *out, const struct log_field *f)
{
	fprintf(out, " %s=", f->key);
	switch (f->type) {
	case LOG_FIELD_STR: logfmt_value(out, f->v.str); break;
	case LOG_FIELD_INT: fprintf(out, "%" PRId64, f->v.i); break;
	case LOG_FIELD_UINT: fprintf(out, "%" PRIu64, f->v.u); break;
	case LOG_FIELD_BOOL: fputs(f->v.b ? "true" : "false", out); break;
	case LOG_FIELD_END: break;
	}
}

static json_t *json_field_value(const struct log_field *f)
{
	switch (f->type) {
	case LOG_FIELD_STR: return json_string(f->v.str ? f->v.str : "");
	case LOG_FIELD_INT: return json_integer(f->v.i);
	case LOG_FIELD_UINT: return json_integer((json_int_t)f->v.u);
	case LOG_FIELD_BOOL: return json_boolean(f->v.b);
	case LOG_FIELD_END: break;
	}
	return json_null();
}

static void log_write_json(FILE *out, const char *ts, enum log_level level, const char *sub,
			   const char *msg, va_list ap)
{
	json_t *obj = json_object();
	json_object_set_new(obj, "ts", json_string(ts));
	json_object_set_new(obj, "level", json_string(log_level_name(level)));
	json_object_set_new(obj, "sub", json_string(sub));
	/* json_string refuses invalid UTF-8; keep the event rather than lose it. */
	json_t *m = json_string(msg);
	json_object_set_new(obj, "msg", m ? m : json_string("(invalid utf-8)"));
	for (;;) {
		struct log_field f = va_arg(ap, struct log_field);
		if (f.type == LOG_FIELD_END)
			break;
		json_t *v = json_field_value(&f);
		json_object_set_new(obj, f.key, v ? v : json_string("(invalid utf-8)"));
	}
	char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		fputs(line, out);
		fputc('\n', out);
		free(line);
	}
	json_decref(obj);
}

void log_write(enum log_level level, const char *sub, const char *msg, ...)
{
	FILE *out = log_state.out ? log_state.out : stderr;
	char ts[32];
	log_timestamp(ts);
	va_list ap;
	va_start(ap, msg);
	if (log_state.format == LOG_FORMAT_JSON) {
		log_write_json(out, ts, level, sub, msg, ap);
	} else {
		flockfile(out);
		fprintf(out, "ts=%s level=%s sub=%s msg=", ts, log_level_name(level), sub);
		logfmt_value(out, msg);
		for (;;) {
			struct log_field f = va_arg(ap, struct log_field);
			if (f.type == LOG_FIELD_END)
				break;
			logfmt_field(out, &f);
		}
		fputc('\n', out);
		funlockfile(out);
	}
	va_end(ap);
	fflush(out);
}
