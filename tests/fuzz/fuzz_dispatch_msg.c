/* Fuzz target: arbitrary bytes as a dispatch message body; what decodes must encode back to the same message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/dispatch_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ports_equal(const struct dispatch_port *a, size_t na, const struct dispatch_port *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].target != b[i].target || a[i].published != b[i].published ||
		    a[i].protocol != b[i].protocol || a[i].mode != b[i].mode)
			return false;
	return true;
}

static bool tasks_equal(const struct dispatch_task *a, const struct dispatch_task *b)
{
	return strcmp(a->id, b->id) == 0 && a->version == b->version && a->state == b->state &&
	       a->desired == b->desired && strcmp(a->service_id, b->service_id) == 0 &&
	       strcmp(a->service_name, b->service_name) == 0 && a->slot == b->slot && a->spec_len == b->spec_len &&
	       memcmp(a->spec, b->spec, a->spec_len) == 0 && ports_equal(a->ports, a->nports, b->ports, b->nports);
}

static bool updates_equal(const struct dispatch_update *a, const struct dispatch_update *b)
{
	return strcmp(a->task_id, b->task_id) == 0 && a->state == b->state && strcmp(a->message, b->message) == 0 &&
	       strcmp(a->err, b->err) == 0 && a->exited == b->exited && a->exit_code == b->exit_code &&
	       a->pid == b->pid && strcmp(a->container_id, b->container_id) == 0 &&
	       a->timestamp_ms == b->timestamp_ms && ports_equal(a->ports, a->nports, b->ports, b->nports);
}

static bool lines_equal(const struct dispatch_log_line *a, const struct dispatch_log_line *b)
{
	return a->stream == b->stream && a->time_ns == b->time_ns && a->len == b->len && a->partial == b->partial &&
	       (a->len == 0 || memcmp(a->text, b->text, a->len) == 0);
}

static bool msgs_equal(const struct dispatch_msg *a, const struct dispatch_msg *b)
{
	if (a->type != b->type || a->session != b->session || a->seq != b->seq || a->flags != b->flags ||
	    a->status != b->status || a->ntasks != b->ntasks || a->nremoved != b->nremoved ||
	    a->nupdates != b->nupdates || a->request != b->request || strcmp(a->task_id, b->task_id) != 0 ||
	    a->tail != b->tail || a->since_ns != b->since_ns || a->skip != b->skip || a->streams != b->streams ||
	    strcmp(a->err, b->err) != 0 || a->dropped != b->dropped || a->nlines != b->nlines)
		return false;
	for (size_t i = 0; i < a->nlines; i++)
		if (!lines_equal(&a->lines[i], &b->lines[i]))
			return false;
	for (size_t i = 0; i < a->ntasks; i++)
		if (!tasks_equal(&a->tasks[i], &b->tasks[i]))
			return false;
	for (size_t i = 0; i < a->nremoved; i++)
		if (strcmp(a->removed[i], b->removed[i]) != 0)
			return false;
	for (size_t i = 0; i < a->nupdates; i++)
		if (!updates_equal(&a->updates[i], &b->updates[i]))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dispatch_msg m, again;
	char err[200] = "";
	int rc = dispatch_msg_decode(data, size, &m, err, sizeof(err));
	if (rc != 0) {
		if (err[0] == '\0')
			abort(); /* every refusal names what is wrong */
		return 0;
	}
	size_t cap = dispatch_msg_encoded_max(&m), len;
	uint8_t *buf = malloc(cap);
	if (buf == NULL) {
		dispatch_msg_release(&m);
		return 0;
	}
	/* A longer array than this version knows re-encodes shorter, and may
	 * then be the only reason it fit; anything else must come back equal. */
	if (dispatch_msg_encode(&m, buf, cap, &len) != 0 || len > size ||
	    dispatch_msg_decode(buf, len, &again, err, sizeof(err)) != 0)
		abort();
	if (!msgs_equal(&m, &again))
		abort();
	dispatch_msg_release(&again);
	dispatch_msg_release(&m);
	free(buf);
	return 0;
}
