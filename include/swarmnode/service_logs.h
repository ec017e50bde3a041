/* service_logs: what `service logs` prints for each frame of the daemon's log stream, as the docker CLI does ("web.1.abcdef012345@node1    | line"); no I/O. */
#ifndef SWARMNODE_SERVICE_LOGS_H
#define SWARMNODE_SERVICE_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/ids.h"

/* The docker CLI's short task id. */
#define SERVICE_LOGS_SHORT_ID 12

/* One frame's payload requested with details=1 (log_stream.h), cut up. */
struct service_logs_line {
	const char *time;           /* with timestamps: the TIME word, else NULL */
	size_t time_len;
	char node_id[IDS_LEN + 1];
	char service_id[IDS_LEN + 1];
	char task_id[IDS_LEN + 1];
	const char *text;           /* the rest, its newline included (points into the payload) */
	size_t text_len;
};

/* Cuts payload (len bytes) into out. Returns 0, or -1 with err naming what
 * is missing (no details word, a detail without its id). */
int service_logs_parse(const uint8_t *payload, size_t len, bool timestamps, struct service_logs_line *out, char *err,
		       size_t errlen);

/* How the context is printed. */
struct service_logs_format {
	bool no_task_ids;  /* "web.1@node1" */
	bool no_trunc;     /* the whole task id */
	int width;         /* digits of the largest slot (the replicas): shorter slots are padded */
};

/* Docker's context of a line: "<service>.<slot>[.<task id>]@<node>" padded to
 * the slot width, followed by "    | ". */
void service_logs_context(const struct service_logs_format *f, const char *service, int64_t slot,
			  const char *task_id, const char *node, char *out, size_t len);

/* Digits of n in decimal, as the padding counts them. */
int service_logs_digits(int64_t n);

#endif
