/* orchestrator_json: the few reads of Docker's service, task and node documents that the orchestrator and the scheduler share. */
#ifndef SWARMNODE_ORCHESTRATOR_JSON_H
#define SWARMNODE_ORCHESTRATOR_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Task states in Docker's order (the same order as runtime.h's, kept here
 * because the cores do not link the runtimes). */
enum orch_state {
	ORCH_STATE_NEW,
	ORCH_STATE_PENDING,
	ORCH_STATE_ASSIGNED,
	ORCH_STATE_ACCEPTED,
	ORCH_STATE_PREPARING,
	ORCH_STATE_STARTING,
	ORCH_STATE_RUNNING,
	ORCH_STATE_COMPLETE,
	ORCH_STATE_SHUTDOWN,
	ORCH_STATE_FAILED,
	ORCH_STATE_REJECTED,
	ORCH_STATE_ORPHANED,
	ORCH_STATE_COUNT
};

/* The member at a path of object keys ending with NULL, or NULL when any
 * step is missing or not an object. */
json_t *orch_jget(const json_t *obj, ...);

/* String at a path, or "" (never NULL). */
const char *orch_jstr(const json_t *obj, ...);

/* Integer at a path, or 0. */
int64_t orch_jint(const json_t *obj, ...);

/* Docker's name of a state ("running") and its parse; an unknown or missing
 * name reads as ORCH_STATE_NEW, the state that commits to nothing. */
const char *orch_state_name(enum orch_state s);
enum orch_state orch_task_state(const json_t *task);

/* complete, shutdown, failed, rejected, orphaned: the task holds nothing. */
bool orch_state_terminal(enum orch_state s);

/* Whether the task is meant to run (DesiredState running, or absent). */
bool orch_task_wants_running(const json_t *task);

/* The object's Version.Index (0 when absent). */
uint64_t orch_version(const json_t *obj);

/* Nanoseconds since the epoch of a Docker time at a path, or 0 when absent
 * or malformed. */
int64_t orch_jtime(const json_t *obj, ...);

#endif
