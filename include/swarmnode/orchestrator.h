/* orchestrator: turns services into tasks on the leader (replicated slots, global nodes, restart policy, node loss, rolling updates and rollbacks, task history), one deterministic reconciling pass at a time. */
#ifndef SWARMNODE_ORCHESTRATOR_H
#define SWARMNODE_ORCHESTRATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/store.h"

/*
 * A pass reads the store (services, tasks, nodes as Docker JSON, see
 * briefs/issue5-shapes.md) and returns one transaction that moves it towards
 * what the services ask for, plus the time it wants to run again even if the
 * store does not change (a restart delay, an update delay, a monitor period
 * ending). It keeps no memory between passes besides its random state and
 * a cache that only saves parsing, so a new leader carries on where the old
 * one stopped. The host applies the transaction (through Raft), then runs
 * the next pass; a refused one is simply recomputed.
 *
 * What a pass does, per service (slots are 1..Replicas for replicated
 * services and one per eligible node for global ones; a slot's task is its
 * newest with DesiredState "running"):
 *
 *   scale        empty slots get a new task from Spec.TaskTemplate, "pending"
 *                then placed by the scheduler in the same pass ("assigned",
 *                NodeID) or left pending with the scheduler's Err; slots
 *                above Replicas have their tasks set DesiredState "shutdown".
 *                A slot is refilled only once its old task has stopped
 *                (unless that task sits on a drained node).
 *   global       eligible node: not down, not drained, constraints met (new
 *                tasks only on ready, active nodes); tasks on other nodes are
 *                shut down.
 *   node loss    a task not yet terminal on a node that is "down" (or no
 *                longer in the store) gets State "orphaned" and DesiredState
 *                "shutdown" at once, and its slot a replacement elsewhere;
 *                nobody else will ever report on it. A drained node's tasks
 *                get DesiredState "shutdown" (its agent stops them) and
 *                replacements at once. A task that already ended on a lost
 *                or drained node also gets DesiredState "shutdown"; if it
 *                ended on its own and may not restart (below), it still
 *                holds its slot, which stays empty (swarmkit's
 *                UpdatableTasksInSlot).
 *   restart      a slot's task that ended (complete, failed, rejected, or
 *                stopped on its own) is replaced after RestartPolicy.Delay
 *                (default 5 s) when Condition allows (any; on-failure: not
 *                after complete; none: never) and the slot's failures of that
 *                spec within Window before the last one are at most
 *                MaxAttempts (0: no limit). Counting reads the retained
 *                history, so MaxAttempts above the history limit with no
 *                Window never stops restarting.
 *   update       tasks whose Spec differs from Spec.TaskTemplate are replaced
 *                Parallelism slots at a time (0: all): stop-first shuts the
 *                old task down and fills the slot when it has stopped;
 *                start-first starts the new one and shuts the old one down
 *                once the new one runs. A replaced slot stays busy until its
 *                new task has run for Delay. Failed or rejected new tasks
 *                over MaxFailureRatio of the slots trigger FailureAction:
 *                pause ("paused"), continue, or rollback (Spec = PreviousSpec,
 *                "rollback_started"). The update completes once every slot
 *                runs the template and the new tasks have run for Monitor.
 *                UpdateStatus follows Docker: "updating" "update in
 *                progress", "completed" "update completed", "paused" "update
 *                paused due to failure or early termination of task ID",
 *                "rollback_started" (set by the API for `service rollback`,
 *                or here), "rollback_paused", "rollback_completed" "rollback
 *                completed". A paused update stays paused until the API
 *                changes UpdateStatus (it clears it on a new spec).
 *   history      at most ORCHESTRATOR_HISTORY_LIMIT terminal tasks not meant
 *                to run are kept per slot; older ones are deleted.
 *   removal      tasks of a service no longer in the store get DesiredState
 *                "shutdown" and are deleted once terminal (at once when they
 *                never reached a node).
 */

/* Docker's TaskHistoryRetentionLimit default. */
#define ORCHESTRATOR_HISTORY_LIMIT 5

/* Default cap on the operations of one pass's transaction. */
#define ORCHESTRATOR_BATCH 256

/* Size of the err buffer of orchestrator_run. */
#define ORCHESTRATOR_MSG_MAX 256

struct orch_cache;

/* Random state for new task ids, and a cache of what passes parsed of stored
 * tasks (kept between passes because parsing 2,000 tasks' JSON every pass
 * cost 40 ms; it changes no decision). Embed it, seed it with
 * orchestrator_init, release it with orchestrator_close. */
struct orchestrator {
	uint64_t rng;            /* splitmix64 state */
	struct orch_cache *cache; /* NULL until the first pass; owned */
};

void orchestrator_init(struct orchestrator *o, uint64_t seed);

/* Frees the cache (and its references on stored objects); o may be
 * initialised again afterwards. */
void orchestrator_close(struct orchestrator *o);

/* What one pass decided. */
struct orchestrator_pass {
	struct store_txn *txn; /* NULL when the store is as it should be; else the caller frees it */
	int64_t wake_ns;       /* run again at this time even without store changes; 0: no need */
	bool more;             /* the batch limit cut the pass short: run again once txn applied */
	size_t created;        /* tasks created */
	size_t updated;        /* objects updated */
	size_t deleted;        /* tasks deleted */
};

/* One reconciling pass over store s at wall-clock time now_ns (nanoseconds
 * since the epoch, the time new objects are stamped with), with at most
 * max_ops operations (0: ORCHESTRATOR_BATCH). Deterministic given the store,
 * now_ns and o's state. Returns 0 and *out, or a negative errno (-ENOMEM)
 * with the reason in err; out->txn is then NULL. */
int orchestrator_run(struct orchestrator *o, const struct store *s, int64_t now_ns, size_t max_ops,
		     struct orchestrator_pass *out, char *err, size_t errlen);

#endif
