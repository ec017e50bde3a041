/* log_broker: a manager's log requests to the agents that ran the tasks (LOGS_REQUEST out, LOGS back, dispatch_msg.h), each bounded by a silence timeout. */
#ifndef SWARMNODE_LOG_BROKER_H
#define SWARMNODE_LOG_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/dispatch_msg.h"

/* An answer that falls silent this long (before its first message or
 * between two) ends with -ETIMEDOUT. */
#define LOG_BROKER_SILENCE_MS 5000

struct log_broker_ops {
	/* Sends a dispatch message body to node_id (this node's own agent
	 * included). Returns 0 or a negative errno. Must not call back into
	 * the broker. */
	int (*send)(void *data, const char *node_id, const uint8_t *body, size_t len);
};

/* What to ask: the fields of a LOGS_REQUEST and the node to ask. */
struct log_broker_query {
	const char *node_id;
	const char *task_id;
	uint64_t tail;     /* UINT64_MAX: every line */
	uint64_t since_ns; /* 0: from the first line */
	uint64_t skip;     /* lines stamped exactly since_ns to leave out */
	uint8_t streams;   /* DISPATCH_LOGS_STDOUT | DISPATCH_LOGS_STDERR */
};

/* Lines of the answer, in order (borrowed during the call). */
typedef void (*log_broker_lines_fn)(void *data, const struct dispatch_log_line *lines, size_t n);
/* The answer ended: status 0, the agent's negative code with its err,
 * -ETIMEDOUT, or -ECANCELED (the broker closed); dropped counts the older
 * lines the agent left out. */
typedef void (*log_broker_done_fn)(void *data, int status, const char *err, uint64_t dropped);

struct log_broker;

/* Creates a broker on loop. Returns 0 with *out, or -ENOMEM. */
int log_broker_new(uv_loop_t *loop, const struct log_broker_ops *ops, void *data, struct log_broker **out);

/* Sends the request: on_lines then runs for each LOGS received and on_done
 * once at the end (never inside this call). Returns 0 with *request (for
 * log_broker_cancel), or a negative errno (the send failed, -EINVAL for a
 * bad query, -ESHUTDOWN once closing; neither callback will run). */
int log_broker_fetch(struct log_broker *b, const struct log_broker_query *q, log_broker_lines_fn on_lines,
		     log_broker_done_fn on_done, void *data, uint64_t *request);

/* A pause that ends with the broker: on_done(data, 0, "", 0) after ms (to
 * within a quarter of a second), or with -ECANCELED when the broker closes
 * first, so that a follower between two passes ends with the node's
 * dispatch, before the control socket closes. Returns 0 with *request (for
 * log_broker_cancel), -ESHUTDOWN once closing, or -ENOMEM. */
int log_broker_wait(struct log_broker *b, uint64_t ms, log_broker_done_fn on_done, void *data, uint64_t *request);

/* Forgets a request in flight: no callback runs for it any more. */
void log_broker_cancel(struct log_broker *b, uint64_t request);

/* A LOGS body from from_node (authenticated by its stream). Returns false
 * when it was dropped (undecodable, unknown request, wrong sender). */
bool log_broker_receive(struct log_broker *b, const char *from_node, const uint8_t *body, size_t len);

/* Ends every request in flight with -ECANCELED and frees the broker (its
 * timer closes from the loop; closed(data) runs then, may be NULL). */
void log_broker_close(struct log_broker *b, void (*closed)(void *data), void *data);

#endif
