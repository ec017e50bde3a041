/* orchestrate: runs the orchestrator (orchestrator.h) on the Raft leader: a pass after store changes and at the times a pass asks for, its transaction written through the manager, one at a time. */
#ifndef SWARMNODE_ORCHESTRATE_H
#define SWARMNODE_ORCHESTRATE_H

#include <stdint.h>

#include <uv.h>

#include "swarmnode/manager.h"

/*
 * Every manager runs one; it acts only while its manager leads (the store a
 * leader has applied is current enough to decide from: a decision taken on a
 * stale read is refused by the versions its transaction expects, and redone).
 *
 *   store change   a pass ORCHESTRATE_COALESCE_MS later (a burst of task
 *                  state reports costs one pass: a pass reads every task)
 *   pass's wake    a pass at the time the orchestrator asked for (restart and
 *                  update delays, monitor periods)
 *   heartbeat      every ORCHESTRATE_HEARTBEAT_MS: a pass if this manager has
 *                  just become the leader, or a write was refused
 *
 * One write is in flight at a time; a refused write (a user's update raced
 * it, leadership moved) is not retried as it was: the next pass recomputes it
 * from the store as it then is.
 */

#define ORCHESTRATE_HEARTBEAT_MS 1000
#define ORCHESTRATE_COALESCE_MS 10

struct orchestrate;

/* Starts watching m's store; seed drives the ids of new tasks. Returns 0 and
 * *out, or a negative errno (-ENOMEM). */
int orchestrate_start(uv_loop_t *loop, struct manager *m, uint64_t seed, struct orchestrate **out);

/* Stops at once (call it before manager_close: the store is unwatched here);
 * closed(data) runs once the timer is closed and a write in flight has been
 * answered, after which o is freed. closed may be NULL. */
void orchestrate_stop(struct orchestrate *o, void (*closed)(void *data), void *data);

#endif
