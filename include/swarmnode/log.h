/* log: one event per line on stderr, logfmt by default or JSON, a subsystem per module. */
#ifndef SWARMNODE_LOG_H
#define SWARMNODE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
	LOG_SILENT, /* as a minimum level: nothing is written */
};

enum log_format {
	LOG_FORMAT_LOGFMT,
	LOG_FORMAT_JSON,
};

enum log_field_type {
	LOG_FIELD_END, /* terminates the variadic field list */
	LOG_FIELD_STR,
	LOG_FIELD_INT,
	LOG_FIELD_UINT,
	LOG_FIELD_BOOL,
};

/* One key=value pair of an event. Passed by value through the variadic
 * list of log_write(); build them with the LF_* macros. */
struct log_field {
	enum log_field_type type;
	const char *key;
	union {
		const char *str; /* NULL prints as an empty string */
		int64_t i;
		uint64_t u;
		bool b;
	} v;
};

#define LF_STR(k, val)  ((struct log_field){.type = LOG_FIELD_STR, .key = (k), .v.str = (val)})
#define LF_INT(k, val)  ((struct log_field){.type = LOG_FIELD_INT, .key = (k), .v.i = (int64_t)(val)})
#define LF_UINT(k, val) ((struct log_field){.type = LOG_FIELD_UINT, .key = (k), .v.u = (uint64_t)(val)})
#define LF_BOOL(k, val) ((struct log_field){.type = LOG_FIELD_BOOL, .key = (k), .v.b = (val)})
#define LF_END          ((struct log_field){.type = LOG_FIELD_END})

/* Sets where events go and which are kept. out is not owned (stderr by default). */
void log_configure(enum log_level min, enum log_format format, FILE *out);

enum log_level log_min_level(void);
void log_set_min_level(enum log_level min);

/* Parses "debug", "info", "warn"/"warning", "error"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);
int log_format_parse(const char *s, enum log_format *out);

/* Writes one event: sub is the subsystem ("api", "daemon", "swim"...), msg a
 * short sentence, then LOG_FIELD_END-terminated fields. Use the macros below. */
void log_write(enum log_level level, const char *sub, const char *msg, ...);

#define log_at(level, sub, ...)                                   \
	do {                                                      \
		if ((level) >= log_min_level())                   \
			log_write((level), (sub), __VA_ARGS__, LF_END); \
	} while (0)

#define log_debug(sub, ...) log_at(LOG_DEBUG, sub, __VA_ARGS__)
#define log_info(sub, ...)  log_at(LOG_INFO, sub, __VA_ARGS__)
#define log_warn(sub, ...)  log_at(LOG_WARN, sub, __VA_ARGS__)
#define log_error(sub, ...) log_at(LOG_ERROR, sub, __VA_ARGS__)

#endif
