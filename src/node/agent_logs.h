/* agent_logs: the agent's answer to a LOGS_REQUEST: a task's lines read from its runtime, selected and sent back as LOGS messages. */
#ifndef SWARMNODE_AGENT_LOGS_H
#define SWARMNODE_AGENT_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include "swarmnode/dispatch_msg.h"
#include "swarmnode/runtime.h"

/* Sends one LOGS body to the manager to; 0 or a negative errno. */
typedef int (*agent_logs_send_fn)(void *data, const char *to, const uint8_t *body, size_t len);

/* Answers req (a decoded LOGS_REQUEST, borrowed) from the manager to: asks
 * rt for the task's lines and, from the loop, sends the answer (dispatch_msg.h
 * says what it holds) through send(data, ...). A task rt does not know, or a
 * runtime that fails, is answered with an error naming the task and node_id.
 * Nothing is sent when the runtime closes first (UV_ECANCELED): data must
 * then stay valid until the runtime's close completes, as the agent does. */
void agent_logs_answer(struct runtime *rt, const char *node_id, const char *to, const struct dispatch_msg *req,
		       agent_logs_send_fn send, void *data);

/* The selection alone, for tests: of lines (n of them, in order) keeps
 * those of req's streams stamped since_ns or later less the first skip
 * stamped exactly since_ns, then the last req->tail, then the newest that
 * fit DISPATCH_LOGS_ANSWER_MAX bytes of text. Writes their indexes into keep
 * (room for n) and returns how many; *dropped counts those left out by the
 * byte bound. */
size_t agent_logs_select(const struct runtime_log_line *lines, size_t n, const struct dispatch_msg *req,
			 size_t *keep, uint64_t *dropped);

#endif
