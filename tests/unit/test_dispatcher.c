/* Unit tests for the dispatcher: a real store, writes applied when the test says, messages decoded as agents would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "swarmnode/dispatch_msg.h"
#include "swarmnode/dispatcher.h"
#include "swarmnode/log.h"
#include "swarmnode/runtime.h"

#define N1 "n1n1n1n1n1n1n1n1n1n1n1n1n"
#define N2 "n2n2n2n2n2n2n2n2n2n2n2n2n"
#define SVC "sssssssssssssssssssssssss"
#define TASK_A "aaaaaaaaaaaaaaaaaaaaaaaaa"
#define TASK_B "bbbbbbbbbbbbbbbbbbbbbbbbb"
#define TASK_C "ccccccccccccccccccccccccc"
#define MAX_SENT 64
#define MAX_WAIT 8

struct sent {
	char to[IDS_LEN + 1];
	struct dispatch_msg m;
	uint8_t *bytes;
};

/* A write or read the dispatcher asked for, answered when the test says. */
struct waiting {
	uint8_t *txn;            /* NULL: a read barrier */
	size_t len;
	manager_write_fn wdone;
	manager_read_fn rdone;
	void *data;
};

struct fx {
	struct store *store;
	uint64_t index;
	struct dispatcher *d;
	struct sent sent[MAX_SENT];
	size_t nsent, seen;
	struct waiting wait[MAX_WAIT];
	size_t nwait;
};

static int fake_send(void *data, const char *to, const uint8_t *body, size_t len)
{
	struct fx *f = data;
	char err[200];
	assert_true(f->nsent < MAX_SENT);
	struct sent *s = &f->sent[f->nsent++];
	snprintf(s->to, sizeof(s->to), "%s", to);
	s->bytes = malloc(len);
	memcpy(s->bytes, body, len);
	if (dispatch_msg_decode(s->bytes, len, &s->m, err, sizeof(err)) != 0)
		fail_msg("the dispatcher sent an undecodable message: %s", err);
	return 0;
}

static int fake_write(void *data, const uint8_t *txn, size_t len, manager_write_fn done, void *done_data)
{
	struct fx *f = data;
	assert_true(f->nwait < MAX_WAIT);
	struct waiting *w = &f->wait[f->nwait++];
	w->txn = malloc(len);
	memcpy(w->txn, txn, len);
	w->len = len;
	w->wdone = done;
	w->rdone = NULL;
	w->data = done_data;
	return 0;
}

static int fake_read(void *data, manager_read_fn done, void *done_data)
{
	struct fx *f = data;
	assert_true(f->nwait < MAX_WAIT);
	f->wait[f->nwait++] = (struct waiting){ .rdone = done, .data = done_data };
	return 0;
}

static int64_t fake_now(void *data)
{
	(void)data;
	return 1764000000000000000ll;
}

static const struct dispatcher_ops ops = { fake_send, fake_write, fake_read, fake_now };

/* Answers the oldest waiting write (applied to the store) or read. Returns
 * the write's status. */
static int complete_one(struct fx *f)
{
	struct store_result res = { 0 };
	assert_true(f->nwait > 0);
	struct waiting w = f->wait[0];
	memmove(f->wait, f->wait + 1, --f->nwait * sizeof(w));
	if (w.txn == NULL) {
		w.rdone(w.data, 0);
		return 0;
	}
	store_apply(f->store, ++f->index, w.txn, w.len, &res);
	free(w.txn);
	w.wdone(w.data, res.code, res.message, f->index);
	return res.code;
}

static void apply(struct fx *f, const char *fmt, ...)
{
	char txn[4096];
	struct store_result res;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(txn, sizeof(txn), fmt, ap);
	va_end(ap);
	if (store_apply(f->store, ++f->index, (const uint8_t *)txn, strlen(txn), &res) != 0)
		fail_msg("apply %s: %s", txn, res.message);
}

#define TXN(ops) "{\"v\":1,\"time\":\"2026-11-25T00:00:00Z\",\"ops\":[" ops "]}"
#define TASK_JSON(id, node, state, desired)                                                                 \
	"{\"ID\":\"" id "\",\"ServiceID\":\"" SVC "\",\"NodeID\":\"" node "\",\"Slot\":1,"                    \
	"\"Spec\":{\"ContainerSpec\":{\"Image\":\"/bin/true\"}},\"Status\":{\"State\":\"" state "\","       \
	"\"Message\":\"x\"},\"DesiredState\":\"" desired "\",\"ServiceAnnotations\":{\"Name\":\"web\"}}"

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[200];
	log_set_min_level(LOG_ERROR);
	assert_non_null(f);
	f->store = store_new();
	assert_non_null(f->store);
	apply(f, TXN("{\"op\":\"create\",\"kind\":\"service\",\"object\":{\"ID\":\"" SVC "\",\"Spec\":{\"Name\":\"web\"},"
		     "\"Endpoint\":{\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":30080,"
		     "\"PublishMode\":\"ingress\"},{\"Protocol\":\"udp\",\"TargetPort\":53,\"PublishedPort\":53,"
		     "\"PublishMode\":\"host\"}]}}}"));
	apply(f, TXN("{\"op\":\"create\",\"kind\":\"task\",\"object\":" TASK_JSON(TASK_A, N1, "assigned", "running") "},"
		     "{\"op\":\"create\",\"kind\":\"task\",\"object\":" TASK_JSON(TASK_B, N2, "assigned", "running") "},"
		     "{\"op\":\"create\",\"kind\":\"task\",\"object\":" TASK_JSON(TASK_C, N1, "pending", "running") "}"));
	assert_int_equal(dispatcher_start(f->store, &ops, f, &f->d, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	dispatcher_close(f->d);
	/* Writes the dispatcher forgot still complete without harm. */
	while (f->nwait > 0)
		complete_one(f);
	store_free(f->store);
	for (size_t i = 0; i < f->nsent; i++) {
		dispatch_msg_release(&f->sent[i].m);
		free(f->sent[i].bytes);
	}
	free(f);
	return 0;
}

static void deliver(struct fx *f, const char *from, const struct dispatch_msg *m)
{
	size_t cap = dispatch_msg_encoded_max(m), len;
	uint8_t *buf = malloc(cap);
	assert_int_equal(dispatch_msg_encode(m, buf, cap, &len), 0);
	dispatcher_receive(f->d, from, buf, len);
	free(buf);
}

static struct sent *next_sent(struct fx *f, uint8_t type, const char *to)
{
	if (f->seen >= f->nsent)
		fail_msg("no %s message was sent", dispatch_msg_type_name(type));
	struct sent *s = &f->sent[f->seen++];
	assert_int_equal(s->m.type, type);
	assert_string_equal(s->to, to);
	return s;
}

static void no_more_sent(struct fx *f)
{
	if (f->seen != f->nsent)
		fail_msg("an unexpected %s message was sent", dispatch_msg_type_name(f->sent[f->seen].m.type));
}

static void open_session(struct fx *f, const char *node, uint64_t session)
{
	struct dispatch_msg m = { .type = DISPATCH_SESSION, .session = session };
	deliver(f, node, &m);
}

static void status(struct fx *f, const char *node, uint64_t session, uint64_t seq, const char *task, uint8_t state,
		   int64_t pid)
{
	struct dispatch_port port = { 53, 53, 1, 1 };
	struct dispatch_update u = { .state = state, .pid = pid, .timestamp_ms = 1764000000500ull, .ports = &port,
				     .nports = 1 };
	snprintf(u.task_id, sizeof(u.task_id), "%s", task);
	snprintf(u.message, sizeof(u.message), "%s", runtime_state_name(state));
	struct dispatch_msg m = { .type = DISPATCH_STATUS, .session = session, .seq = seq, .updates = &u, .nupdates = 1 };
	deliver(f, node, &m);
}

static const char *stored_state(struct fx *f, const char *task)
{
	return json_string_value(json_object_get(json_object_get(store_get(f->store, STORE_KIND_TASK, task), "Status"),
						 "State"));
}

static void full_set_then_changes(void **state)
{
	struct fx *f = *state;
	open_session(f, N1, 7);
	struct sent *s = next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	assert_int_equal(s->m.session, 7);
	assert_int_equal(s->m.seq, 1);
	assert_int_equal(s->m.flags, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END);
	assert_int_equal(s->m.ntasks, 1); /* C is pending, B on another node */
	const struct dispatch_task *t = &s->m.tasks[0];
	assert_string_equal(t->id, TASK_A);
	assert_int_equal(t->state, RUNTIME_STATE_ASSIGNED);
	assert_int_equal(t->desired, RUNTIME_STATE_RUNNING);
	assert_string_equal(t->service_id, SVC);
	assert_string_equal(t->service_name, "web");
	assert_int_equal(t->slot, 1);
	assert_int_equal(t->version, 2);
	assert_int_equal(t->spec_len, strlen("{\"ContainerSpec\":{\"Image\":\"/bin/true\"}}"));
	assert_memory_equal(t->spec, "{\"ContainerSpec\":{\"Image\":\"/bin/true\"}}", t->spec_len);
	assert_int_equal(t->nports, 2);
	assert_int_equal(t->ports[0].target, 80);
	assert_int_equal(t->ports[0].published, 30080);
	assert_int_equal(t->ports[0].mode, RUNTIME_PUBLISH_INGRESS);
	assert_int_equal(t->ports[1].protocol, RUNTIME_PROTO_UDP);
	assert_int_equal(t->ports[1].mode, RUNTIME_PUBLISH_HOST);
	no_more_sent(f);

	/* The scheduler assigns C: it goes out alone. */
	apply(f, TXN("{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" TASK_C "\",\"expect\":2,\"object\":"
		     TASK_JSON(TASK_C, N1, "assigned", "running") "}"));
	s = next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	assert_int_equal(s->m.seq, 2);
	assert_int_equal(s->m.flags, 0);
	assert_int_equal(s->m.ntasks, 1);
	assert_string_equal(s->m.tasks[0].id, TASK_C);
	no_more_sent(f);

	/* A status change of A is the agent's own news: nothing to send. */
	apply(f, TXN("{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" TASK_A "\",\"expect\":2,\"object\":"
		     TASK_JSON(TASK_A, N1, "running", "running") "}"));
	no_more_sent(f);

	/* The orchestrator shuts A down, and deletes C. */
	apply(f, TXN("{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" TASK_A "\",\"expect\":4,\"object\":"
		     TASK_JSON(TASK_A, N1, "running", "shutdown") "},"
		     "{\"op\":\"delete\",\"kind\":\"task\",\"id\":\"" TASK_C "\",\"expect\":0}"));
	s = next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	assert_int_equal(s->m.seq, 3);
	assert_int_equal(s->m.ntasks, 1);
	assert_string_equal(s->m.tasks[0].id, TASK_A);
	assert_int_equal(s->m.tasks[0].desired, RUNTIME_STATE_SHUTDOWN);
	assert_int_equal(s->m.nremoved, 1);
	assert_string_equal(s->m.removed[0], TASK_C);
	no_more_sent(f);

	/* A moved to N2 (a node with no session) leaves N1's set. */
	apply(f, TXN("{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" TASK_A "\",\"expect\":5,\"object\":"
		     TASK_JSON(TASK_A, N2, "assigned", "running") "}"));
	s = next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	assert_int_equal(s->m.ntasks, 0);
	assert_int_equal(s->m.nremoved, 1);
	no_more_sent(f);

	/* A new session starts over with the full set. */
	open_session(f, N1, 8);
	s = next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	assert_int_equal(s->m.session, 8);
	assert_int_equal(s->m.seq, 1);
	assert_int_equal(s->m.ntasks, 0);
	assert_int_equal(s->m.flags, DISPATCH_FULL_BEGIN | DISPATCH_FULL_END);
}

static void status_becomes_a_txn_then_ack(void **state)
{
	struct fx *f = *state;
	open_session(f, N1, 7);
	next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	status(f, N1, 7, 1, TASK_A, RUNTIME_STATE_RUNNING, 4242);
	assert_int_equal(f->nwait, 1);
	no_more_sent(f); /* no ACK before the write applied */
	assert_int_equal(complete_one(f), 0);
	struct sent *s = next_sent(f, DISPATCH_ACK, N1);
	assert_int_equal(s->m.seq, 1);
	assert_int_equal(s->m.status, 0);
	json_t *st = json_object_get(store_get(f->store, STORE_KIND_TASK, TASK_A), "Status");
	assert_string_equal(json_string_value(json_object_get(st, "State")), "running");
	assert_string_equal(json_string_value(json_object_get(st, "Message")), "running");
	assert_string_equal(json_string_value(json_object_get(st, "Timestamp")), "2025-11-24T16:00:00.5Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "ContainerStatus"), "PID")), 4242);
	json_t *port = json_array_get(json_object_get(json_object_get(st, "PortStatus"), "Ports"), 0);
	assert_int_equal(json_integer_value(json_object_get(port, "PublishedPort")), 53);
	assert_string_equal(json_string_value(json_object_get(port, "Protocol")), "udp");

	/* Backwards, or another node's task: nothing is written, the ACK comes at once. */
	status(f, N1, 7, 2, TASK_A, RUNTIME_STATE_STARTING, 4242);
	status(f, N1, 7, 3, TASK_B, RUNTIME_STATE_RUNNING, 1);
	assert_int_equal(f->nwait, 0);
	assert_int_equal(next_sent(f, DISPATCH_ACK, N1)->m.seq, 2);
	assert_int_equal(next_sent(f, DISPATCH_ACK, N1)->m.seq, 3);
	assert_string_equal(stored_state(f, TASK_A), "running");
	assert_string_equal(stored_state(f, TASK_B), "assigned");
	struct dispatcher_info info;
	dispatcher_get_info(f->d, &info);
	assert_int_equal(info.updates_written, 1);
	assert_int_equal(info.updates_dropped, 2);
	/* A stale session's batch is dropped. */
	status(f, N1, 6, 4, TASK_A, RUNTIME_STATE_FAILED, 4242);
	no_more_sent(f);
	assert_int_equal(f->nwait, 0);
}

static void conflict_is_retried_and_batches_merge(void **state)
{
	struct fx *f = *state;
	open_session(f, N1, 7);
	next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	status(f, N1, 7, 1, TASK_A, RUNTIME_STATE_STARTING, 10);
	/* Two more batches while the first write is in flight: merged. */
	status(f, N1, 7, 2, TASK_A, RUNTIME_STATE_RUNNING, 10);
	status(f, N1, 7, 3, TASK_A, RUNTIME_STATE_COMPLETE, 10);
	assert_int_equal(f->nwait, 1);
	/* Another write changes A first (the orchestrator): the first write conflicts. */
	apply(f, TXN("{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" TASK_A "\",\"expect\":2,\"object\":"
		     TASK_JSON(TASK_A, N1, "assigned", "shutdown") "}"));
	next_sent(f, DISPATCH_ASSIGNMENTS, N1); /* the desired state change */
	assert_int_equal(complete_one(f), STORE_E_CONFLICT);
	no_more_sent(f);
	assert_int_equal(f->nwait, 1);   /* a read barrier, then the write again */
	assert_int_equal(complete_one(f), 0);
	assert_int_equal(f->nwait, 1);
	assert_int_equal(complete_one(f), 0);
	assert_string_equal(stored_state(f, TASK_A), "starting");
	assert_int_equal(next_sent(f, DISPATCH_ACK, N1)->m.seq, 1);
	/* The merged batches follow in one write, then the ACK of both. */
	no_more_sent(f);
	assert_int_equal(f->nwait, 1);
	assert_int_equal(complete_one(f), 0);
	assert_string_equal(stored_state(f, TASK_A), "complete");
	struct sent *s = next_sent(f, DISPATCH_ACK, N1);
	assert_int_equal(s->m.seq, 3);
	assert_int_equal(s->m.status, 0);
	assert_string_equal(json_string_value(json_object_get(store_get(f->store, STORE_KIND_TASK, TASK_A),
							      "DesiredState")),
			    "shutdown");
	struct dispatcher_info info;
	dispatcher_get_info(f->d, &info);
	assert_int_equal(info.conflicts, 1);
}

static void link_down_ends_the_session(void **state)
{
	struct fx *f = *state;
	open_session(f, N1, 7);
	next_sent(f, DISPATCH_ASSIGNMENTS, N1);
	status(f, N1, 7, 1, TASK_A, RUNTIME_STATE_RUNNING, 10);
	dispatcher_link_down(f->d, N1);
	struct dispatcher_info info;
	dispatcher_get_info(f->d, &info);
	assert_int_equal(info.sessions, 0);
	/* The write in flight still applies; nobody is told. */
	assert_int_equal(complete_one(f), 0);
	no_more_sent(f);
	status(f, N1, 7, 2, TASK_A, RUNTIME_STATE_COMPLETE, 10);
	apply(f, TXN("{\"op\":\"delete\",\"kind\":\"task\",\"id\":\"" TASK_A "\",\"expect\":0}"));
	no_more_sent(f);
	static const uint8_t junk[] = { 0x91, 0xc0 };
	dispatcher_receive(f->d, N1, junk, sizeof(junk));
	dispatcher_get_info(f->d, &info);
	assert_int_equal(info.bad_msgs, 2);
}

static void state_names_parse(void **state)
{
	(void)state;
	assert_int_equal(dispatcher_state_parse("running"), RUNTIME_STATE_RUNNING);
	assert_int_equal(dispatcher_state_parse("remove"), RUNTIME_STATE_SHUTDOWN);
	assert_int_equal(dispatcher_state_parse("orphaned"), RUNTIME_STATE_ORPHANED);
	assert_int_equal(dispatcher_state_parse("Running"), -1);
	assert_int_equal(dispatcher_state_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(full_set_then_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(status_becomes_a_txn_then_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(conflict_is_retried_and_batches_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(link_down_ends_the_session, setup, teardown),
		cmocka_unit_test(state_names_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
