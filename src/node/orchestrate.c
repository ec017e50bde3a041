/* orchestrate: the orchestrator's passes on the leader, driven by store changes and a timer. */
#include "swarmnode/orchestrate.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "swarmnode/log.h"
#include "swarmnode/orchestrator.h"

struct orchestrate {
	uv_loop_t *loop;
	struct manager *m;             /* not owned; NULL once stopping */
	struct orchestrator core;      /* the passes' random state and cache */
	uv_timer_t timer;              /* the next pass; data = this */
	uint64_t timer_due;            /* loop time the timer fires at, 0 when idle */
	int64_t wake_ns;               /* wall-clock time a pass asked to run at, 0 none */
	size_t batch;                  /* operations per pass: halved while passes are too big to write */
	bool writing;                  /* a pass's transaction is in flight */
	bool dirty;                    /* the store changed (or a write failed) since the last pass */
	bool leading;                  /* this manager led at the last look */
	bool timer_closed;
	void (*closed)(void *data);
	void *closed_data;
};

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_timer(uv_timer_t *t);

/* Arms the timer for delay_ms unless it already fires sooner. */
static void kick(struct orchestrate *o, uint64_t delay_ms)
{
	if (o->m == NULL)
		return;
	uint64_t due = uv_now(o->loop) + delay_ms;
	if (o->timer_due != 0 && o->timer_due <= due)
		return;
	o->timer_due = due;
	uv_timer_start(&o->timer, on_timer, delay_ms, 0);
}

static void maybe_free(struct orchestrate *o)
{
	if (o->m != NULL || !o->timer_closed || o->writing)
		return;
	void (*closed)(void *) = o->closed;
	void *data = o->closed_data;
	orchestrator_close(&o->core);
	free(o);
	if (closed)
		closed(data);
}

static void on_store_change(void *data, const struct store_event *ev)
{
	struct orchestrate *o = data;
	(void)ev;
	o->dirty = true;
	kick(o, ORCHESTRATE_COALESCE_MS);
}

static void write_done(void *data, int status, const char *message, uint64_t index)
{
	struct orchestrate *o = data;
	o->writing = false;
	if (o->m == NULL) {
		maybe_free(o);
		return;
	}
	if (status != 0) {
		log_debug("orchestrator", "write not applied; recomputed next pass", LF_INT("status", status),
			  LF_STR("error", message));
		o->dirty = true;
		kick(o, 100);
		return;
	}
	(void)index;
	kick(o, 0);
}

static void propose(struct orchestrate *o, const struct orchestrator_pass *out)
{
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc = store_txn_encode(out->txn, &bytes, &len);
	if (rc == 0)
		rc = manager_write(o->m, bytes, len, write_done, o);
	free(bytes);
	if (rc == STORE_E_TOO_BIG && o->batch > 1) {
		o->batch /= 2; /* large specs: fewer tasks per transaction */
		o->dirty = true;
		kick(o, 0);
		return;
	}
	if (rc != 0) {
		log_warn("orchestrator", "cannot propose a pass", LF_INT("status", rc), LF_UINT("batch", o->batch));
		o->dirty = true;
		return;
	}
	o->writing = true;
	if (o->batch < ORCHESTRATOR_BATCH)
		o->batch *= 2;
	if (out->created || out->deleted)
		log_info("orchestrator", "reconciling", LF_UINT("created", out->created),
			 LF_UINT("updated", out->updated), LF_UINT("deleted", out->deleted));
}

static bool leads(struct orchestrate *o)
{
	struct manager_status ms;
	manager_status(o->m, &ms);
	bool now_leading = ms.role == RAFT_LEADER;
	if (now_leading && !o->leading)
		o->dirty = true; /* a new leader looks at everything once */
	o->leading = now_leading;
	return now_leading;
}

static void run_pass(struct orchestrate *o)
{
	char err[ORCHESTRATOR_MSG_MAX];
	struct orchestrator_pass out;
	int64_t now = wall_ns();
	bool due = o->wake_ns != 0 && now >= o->wake_ns;
	if (!leads(o) || o->writing || !(o->dirty || due))
		return;
	o->dirty = false;
	int rc = orchestrator_run(&o->core, manager_store(o->m), now, o->batch, &out, err, sizeof(err));
	if (rc != 0) {
		log_error("orchestrator", "pass failed", LF_STR("error", err));
		o->dirty = true;
		return;
	}
	o->wake_ns = out.wake_ns;
	if (out.txn != NULL)
		propose(o, &out);
	store_txn_free(out.txn);
}

static void on_timer(uv_timer_t *t)
{
	struct orchestrate *o = t->data;
	o->timer_due = 0;
	run_pass(o);
	uint64_t next = ORCHESTRATE_HEARTBEAT_MS;
	if (o->wake_ns != 0) {
		int64_t ms = (o->wake_ns - wall_ns()) / 1000000 + 1;
		if (ms < (int64_t)next)
			next = ms > 0 ? (uint64_t)ms : 1;
	}
	kick(o, next);
}

int orchestrate_start(uv_loop_t *loop, struct manager *m, uint64_t seed, struct orchestrate **out)
{
	struct orchestrate *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	o->loop = loop;
	o->m = m;
	orchestrator_init(&o->core, seed);
	o->batch = ORCHESTRATOR_BATCH;
	int rc = store_watch(manager_store_watchable(m), on_store_change, o);
	if (rc != 0) {
		orchestrator_close(&o->core);
		free(o);
		return rc == STORE_E_NOMEM ? -ENOMEM : -EINVAL;
	}
	uv_timer_init(loop, &o->timer);
	o->timer.data = o;
	o->dirty = true;
	kick(o, ORCHESTRATE_HEARTBEAT_MS);
	*out = o;
	return 0;
}

static void timer_closed(uv_handle_t *h)
{
	struct orchestrate *o = h->data;
	o->timer_closed = true;
	maybe_free(o);
}

void orchestrate_stop(struct orchestrate *o, void (*closed)(void *data), void *data)
{
	store_unwatch(manager_store_watchable(o->m), on_store_change, o);
	o->m = NULL;
	o->closed = closed;
	o->closed_data = data;
	uv_close((uv_handle_t *)&o->timer, timer_closed);
}
