/* dispatch_msg: the codec of dispatch messages between a node's agent and the manager that serves it (the body of a PEER_MSG_DISPATCH peer message). */
#ifndef SWARMNODE_DISPATCH_MSG_H
#define SWARMNODE_DISPATCH_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/ids.h"

/*
 * Every node runs an agent; every manager runs a dispatcher. An agent talks
 * to ONE manager at a time over the peer stream between them (the node id is
 * the stream's authenticated peer, never a field):
 *
 *      agent (node N)                              dispatcher (manager M)
 *           |  SESSION(session s)                        |
 *           |------------------------------------------->|  M serves N under s
 *           |  ASSIGNMENTS(s, seq 1, FULL_BEGIN|FULL_END)|
 *           |<-------------------------------------------|  every task on N
 *           |  STATUS(s, seq 1, [task state ...])        |
 *           |------------------------------------------->|  one store txn
 *           |                              ACK(s, seq 1) |  ... once applied
 *           |<-------------------------------------------|
 *           |  ASSIGNMENTS(s, seq 2, 0): changes only    |  the store changed
 *           |<-------------------------------------------|
 *
 * The body is one msgpack array whose first element is the type:
 *
 *   SESSION      [ 1, session: uint64 >= 1 ]
 *   ASSIGNMENTS  [ 2, session: uint64, seq: uint64 >= 1, flags: uint (FULL_*),
 *                  tasks: array(0..DISPATCH_TASKS_MAX) of TASK,
 *                  removed: array(0..DISPATCH_REMOVED_MAX) of id: str(25) ]
 *     TASK       [ id: str(25), version: uint64, state: uint 0..11, desired: uint 0..11,
 *                  service_id: str(0 or 25), service_name: str(0..255), slot: uint64,
 *                  spec: bin(1..DISPATCH_SPEC_MAX) (the task's Spec, Docker JSON),
 *                  ports: array(0..DISPATCH_PORTS_MAX) of PORT ]
 *     PORT       [ target: uint 1..65535, published: uint 0..65535,
 *                  protocol: uint (0 tcp, 1 udp), mode: uint (0 ingress, 1 host) ]
 *   STATUS       [ 3, session: uint64, seq: uint64 >= 1,
 *                  updates: array(1..DISPATCH_UPDATES_MAX) of UPDATE ]
 *     UPDATE     [ task: str(25), state: uint 0..11, message: str, err: str,
 *                  exited: bool, exit_code: int32, pid: uint64 < 2^63,
 *                  container_id: str(0..64), timestamp_ms: uint64,
 *                  ports: array(0..DISPATCH_PORTS_MAX) of PORT ]
 *   ACK          [ 4, session: uint64, seq: uint64, status: 0 or a negative code ]
 *   LOGS_REQUEST [ 5, request: uint64 >= 1, task: str(25), tail: uint64 (UINT64_MAX: every line),
 *                  since_ns: uint64 (0: from the first line), skip: uint64,
 *                  streams: uint 1..3 (DISPATCH_LOGS_STDOUT | DISPATCH_LOGS_STDERR) ]
 *   LOGS         [ 6, request: uint64 >= 1, flags: uint (DISPATCH_LOGS_LAST),
 *                  status: 0 or a negative code, err: str(0..DISPATCH_TEXT_MAX),
 *                  dropped: uint64, lines: array(0..DISPATCH_LOG_LINES_MAX) of LINE ]
 *     LINE       [ stream: uint 1..2 (enum runtime_log_stream), time_ns: uint64,
 *                  text: bin(0..DISPATCH_LOG_TEXT_MAX), partial: bool ]
 *
 * States are enum runtime_state's values (Docker's order). Strings are
 * printable ASCII (the encoder writes '?' for any other byte of a message or
 * err, which may quote a user's program name); message and err hold at most
 * DISPATCH_TEXT_MAX bytes.
 *
 * A session number is the agent's: a new one each time it opens a session
 * (its start, each new manager), so that an answer meant for an older
 * session is recognised and dropped. ASSIGNMENTS numbers its messages from 1
 * within a session; a gap makes the agent open a new session. A full set
 * that does not fit one message (DISPATCH_MSG_MAX) spans several: the first
 * has FULL_BEGIN, the last FULL_END; once FULL_END arrives, a task of the
 * agent's that the set did not name is no longer assigned. Between full sets
 * a message names the tasks that are new or whose version changed (tasks) and
 * those no longer assigned (removed). STATUS numbers the agent's batches; an
 * ACK covers every batch of the session up to its seq: status 0 says they are
 * in the store, a negative status (a store or MANAGER_E_* code) that they are
 * not and should be sent again.
 *
 * Logs are asked by any manager (the one serving an API client), not only
 * the agent's own, and outside sessions:
 *
 *      manager M                                   agent (node N)
 *           |  LOGS_REQUEST(request r, task t, ...)      |
 *           |------------------------------------------->|  runtime_logs(t)
 *           |  LOGS(r, lines ...)                        |
 *           |<-------------------------------------------|  as many as the lines need,
 *           |  LOGS(r, LAST, status, err, dropped, ...)  |  the last one flagged
 *           |<-------------------------------------------|
 *
 * The request number is M's, unique among its requests in flight. The agent
 * keeps the lines of both streams selected by streams, stamped since_ns or
 * later, leaving out the first skip lines stamped exactly since_ns (what a
 * follower already has), then the last tail of those. A line longer than
 * DISPATCH_LOG_TEXT_MAX travels as partial pieces. One answer carries at
 * most DISPATCH_LOGS_ANSWER_MAX bytes of text: older lines beyond that are
 * left out and counted in dropped. A refused request (unknown task, the
 * runtime failed) is one LOGS with LAST, a negative status and err naming
 * the task and the reason.
 *
 * Decoders check every type and bound and name the bad field; a longer array
 * than described is accepted (a newer version may append fields).
 */

enum dispatch_msg_type {
	DISPATCH_SESSION = 1,
	DISPATCH_ASSIGNMENTS = 2,
	DISPATCH_STATUS = 3,
	DISPATCH_ACK = 4,
	DISPATCH_LOGS_REQUEST = 5,
	DISPATCH_LOGS = 6,
};

/* ASSIGNMENTS flags. */
#define DISPATCH_FULL_BEGIN 1u /* a full set starts: forget nothing yet */
#define DISPATCH_FULL_END 2u   /* the full set is complete */

/* LOGS_REQUEST streams. */
#define DISPATCH_LOGS_STDOUT 1u
#define DISPATCH_LOGS_STDERR 2u
/* LOGS flags. */
#define DISPATCH_LOGS_LAST 1u /* the answer is complete */

/* Largest body (the peer stream's 1 MiB message less the envelope, with room). */
#define DISPATCH_MSG_MAX (960u << 10)
/* Largest task Spec. */
#define DISPATCH_SPEC_MAX (64u << 10)
#define DISPATCH_TASKS_MAX 1024
#define DISPATCH_REMOVED_MAX 8192
#define DISPATCH_UPDATES_MAX 1024
#define DISPATCH_PORTS_MAX 256
#define DISPATCH_TEXT_MAX 511
#define DISPATCH_NAME_MAX 255
#define DISPATCH_CONTAINER_ID_MAX 64
#define DISPATCH_LOG_LINES_MAX 16384
#define DISPATCH_LOG_TEXT_MAX (16u << 10)
/* Text bytes of one whole LOGS answer (under the peer stream's send queue). */
#define DISPATCH_LOGS_ANSWER_MAX (4u << 20)
/* The largest enum runtime_state value. */
#define DISPATCH_STATE_MAX 11

struct dispatch_port {
	uint32_t target;    /* 1..65535 */
	uint32_t published; /* 0..65535, 0: none */
	uint8_t protocol;   /* enum runtime_protocol */
	uint8_t mode;       /* enum runtime_publish_mode */
};

/* One task of an ASSIGNMENTS. */
struct dispatch_task {
	char id[IDS_LEN + 1];
	uint64_t version;                    /* the task's Version.Index */
	uint8_t state;                       /* Status.State in the store */
	uint8_t desired;                     /* DesiredState */
	char service_id[IDS_LEN + 1];        /* "" when none */
	char service_name[DISPATCH_NAME_MAX + 1];
	uint64_t slot;                       /* 0: global */
	const uint8_t *spec;                 /* JSON; decoded: points into the input */
	size_t spec_len;
	const struct dispatch_port *ports;   /* nports of them */
	size_t nports;
};

/* One task's status in a STATUS. */
struct dispatch_update {
	char task_id[IDS_LEN + 1];
	uint8_t state;
	char message[DISPATCH_TEXT_MAX + 1];
	char err[DISPATCH_TEXT_MAX + 1];
	bool exited;
	int32_t exit_code;
	int64_t pid;                          /* >= 0, 0: none */
	char container_id[DISPATCH_CONTAINER_ID_MAX + 1];
	uint64_t timestamp_ms;                /* wall clock of the change */
	const struct dispatch_port *ports;    /* nports of them: the host ports in use */
	size_t nports;
};

/* One line of a LOGS. */
struct dispatch_log_line {
	uint8_t stream;                       /* enum runtime_log_stream: 1 stdout, 2 stderr */
	uint64_t time_ns;                     /* wall clock (Unix ns) the runtime stamped */
	const uint8_t *text;                  /* without its newline; decoded: points into the input */
	size_t len;
	bool partial;                         /* a piece of a longer line, the rest follows */
};

/* A message. Encoders read the fields of its type; the decoder fills them,
 * allocating the arrays (release with dispatch_msg_release). */
struct dispatch_msg {
	uint8_t type;                        /* enum dispatch_msg_type */
	uint64_t session;
	uint64_t seq;                        /* ASSIGNMENTS, STATUS, ACK */
	uint32_t flags;                      /* ASSIGNMENTS */
	struct dispatch_task *tasks;         /* ASSIGNMENTS: ntasks */
	size_t ntasks;
	char (*removed)[IDS_LEN + 1];        /* ASSIGNMENTS: nremoved ids */
	size_t nremoved;
	struct dispatch_update *updates;     /* STATUS: nupdates */
	size_t nupdates;
	int64_t status;                      /* ACK, LOGS */
	uint64_t request;                    /* LOGS_REQUEST, LOGS: the asking manager's number */
	char task_id[IDS_LEN + 1];           /* LOGS_REQUEST */
	uint64_t tail;                       /* LOGS_REQUEST: UINT64_MAX for every line */
	uint64_t since_ns;                   /* LOGS_REQUEST */
	uint64_t skip;                       /* LOGS_REQUEST */
	uint8_t streams;                     /* LOGS_REQUEST: DISPATCH_LOGS_STDOUT | _STDERR */
	char err[DISPATCH_TEXT_MAX + 1];     /* LOGS: why status is negative */
	uint64_t dropped;                    /* LOGS: older lines left out of the answer */
	struct dispatch_log_line *lines;     /* LOGS: nlines */
	size_t nlines;
	struct dispatch_port *port_store;    /* decoded: the ports every task or update points into */
};

/* Upper bounds of the encoded size of one TASK, one UPDATE and a message
 * (including its arrays), so that a sender can fill a message up to
 * DISPATCH_MSG_MAX. */
size_t dispatch_task_encoded_max(const struct dispatch_task *t);
size_t dispatch_update_encoded_max(const struct dispatch_update *u);
size_t dispatch_log_line_encoded_max(const struct dispatch_log_line *l);
size_t dispatch_msg_encoded_max(const struct dispatch_msg *m);

/* Encodes m into out (cap bytes). Returns 0, -EMSGSIZE (does not fit cap, or
 * over DISPATCH_MSG_MAX), or -EINVAL naming nothing: a field out of its
 * bounds (an unknown type, session or request 0, a bad id, too many tasks,
 * a log line longer than DISPATCH_LOG_TEXT_MAX ...). */
int dispatch_msg_encode(const struct dispatch_msg *m, uint8_t *out, size_t cap, size_t *len);

/* Decodes in (len bytes, at most DISPATCH_MSG_MAX) into *m: specs point into
 * in, and so does each log line's text; the arrays are allocated. Returns 0 (release m), -ENOMEM, or -EBADMSG
 * with the bad field named in err (nothing to release). */
int dispatch_msg_decode(const uint8_t *in, size_t len, struct dispatch_msg *m, char *err, size_t errlen);

/* Frees the arrays the decoder allocated. Safe on a zeroed message. */
void dispatch_msg_release(struct dispatch_msg *m);

/* The type of an encoded body without decoding it, so that a node routes
 * SESSION and STATUS to its dispatcher, LOGS to whoever asked, and the rest to its agent: the
 * encoder always starts a body with a fixarray and the type as a positive
 * fixint. Returns the type (1..6), or 0 for any other start (the receiver's
 * decoder then says what is wrong). */
uint8_t dispatch_msg_peek_type(const uint8_t *body, size_t len);

/* "session", "assignments", "status", "ack", "logs_request", "logs"; "unknown". */
const char *dispatch_msg_type_name(uint64_t type);

#endif
