/* scheduler: chooses a node for each pending task with Docker Swarm's filters (ready, resources, placement constraints, host-mode ports) and spread, a pure function of the nodes and tasks it is shown. */
#ifndef SWARMNODE_SCHEDULER_H
#define SWARMNODE_SCHEDULER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * How a task is placed (swarmkit's manager/scheduler):
 *
 *   1. filters, in this order; a node is counted against the first it fails:
 *        ready        Status.State "ready" and Spec.Availability "active"
 *        resources    the task's Spec.Resources.Reservations (NanoCPUs,
 *                     MemoryBytes) fit in Description.Resources minus the
 *                     reservations of the tasks the node holds
 *        constraints  every Spec.Placement.Constraints expression matches
 *        host ports   no PublishMode "host" port of the task (protocol and
 *                     PublishedPort) is held by a task on the node
 *   2. spread among the nodes left: fewest tasks of the same service, then
 *      fewest tasks in all, then the smallest node id (deterministic).
 *
 * A task holds its node's resources and host ports while it is not terminal
 * (whatever its DesiredState: a task being stopped still holds its port), and
 * counts for spreading while it is also meant to run.
 *
 * Nothing fits: "no suitable node (F1; F2)" where each F names how many
 * nodes a filter refused, most refused first, e.g. "no suitable node
 * (scheduling constraints not satisfied on 2 nodes; 1 node not available for
 * new tasks)"; with no node at all, just "no suitable node".
 */

/* Longest constraint key and value kept (longer ones are refused). */
#define SCHEDULER_KEY_MAX 128
#define SCHEDULER_VALUE_MAX 256

/* Size of the message buffers the calls fill. */
#define SCHEDULER_MSG_MAX 512

/* Error codes (negative errno values). */
#define SCHEDULER_E_NO_NODE (-ENOSPC) /* no node passes the filters */
#define SCHEDULER_E_INVALID (-EINVAL) /* a malformed constraint */
#define SCHEDULER_E_NOMEM (-ENOMEM)

/* One placement constraint: key == value or key != value. The key is one of
 * node.id, node.hostname, node.role, node.platform.os, node.platform.arch,
 * node.labels.X, engine.labels.X (matched ASCII case-insensitively, values
 * too, labels' names exactly); any other key matches no node, as in Docker. */
struct scheduler_constraint {
	char key[SCHEDULER_KEY_MAX];
	char value[SCHEDULER_VALUE_MAX];
	bool equal; /* "==" (else "!=") */
};

/* Parses one expression with Docker's rules and messages: "constraint
 * expected one operator from ==, !=", "key 'k y' is invalid", "value '<x>' is
 * invalid". Returns 0 or SCHEDULER_E_INVALID with the message in err. */
int scheduler_constraint_parse(const char *expr, struct scheduler_constraint *out, char *err,
			       size_t errlen);

/* Checks a Placement.Constraints value (an array of strings, or NULL for
 * none) as the API must before storing a spec. Returns 0 or
 * SCHEDULER_E_INVALID with the message in err. */
int scheduler_constraints_check(const json_t *constraints, char *err, size_t errlen);

/* Whether the node object satisfies all n constraints. */
bool scheduler_node_matches(const struct scheduler_constraint *c, size_t n, const json_t *node);

/* Parses a Placement.Constraints array into *out (malloc'd, the caller frees
 * it; NULL when *n is 0). Returns 0, SCHEDULER_E_INVALID (err says which) or
 * SCHEDULER_E_NOMEM. */
int scheduler_constraints_parse(const json_t *constraints, struct scheduler_constraint **out, size_t *n,
				char *err, size_t errlen);

/* The nodes and the load on them for one batch of placements. */
struct scheduler;

/* An empty scheduler, or NULL when out of memory. */
struct scheduler *scheduler_new(void);

void scheduler_free(struct scheduler *s);

/* Adds a node object (borrowed: it must outlive the scheduler). Returns 0,
 * SCHEDULER_E_INVALID (no ID) or SCHEDULER_E_NOMEM. */
int scheduler_add_node(struct scheduler *s, const json_t *node);

/* Records a task already on a node (ignored when it has no NodeID, its node
 * is unknown, or it is not yet assigned or already terminal). ports is its service's Endpoint.Ports (or
 * NULL). Add every node first. Returns 0 or SCHEDULER_E_NOMEM. */
int scheduler_add_task(struct scheduler *s, const json_t *task, const json_t *ports);

/* What a task placed on a node holds there, read by the caller (the
 * orchestrator reads each stored task once, not once per pass). */
struct scheduler_load {
	const char *node_id;    /* NodeID */
	const char *service_id; /* ServiceID */
	int64_t cpu, mem;       /* Spec.Resources.Reservations NanoCPUs, MemoryBytes */
	const json_t *ports;    /* its service's Endpoint.Ports, or NULL */
	bool wants_running;     /* DesiredState running (or absent): counts for spreading */
};

/* scheduler_add_task for a task the caller has read and found assigned and
 * not terminal (ignored when its node is unknown). Strings are copied or only
 * compared; ports must outlive the scheduler. Returns 0 or SCHEDULER_E_NOMEM. */
int scheduler_add_load(struct scheduler *s, const struct scheduler_load *load);

/* Chooses a node for task (its ServiceID and Spec are read; a non-empty
 * NodeID, as global services set, is the only node tried) and records the
 * task there so that the rest of the batch spreads around it. Returns 0 with
 * *node_id pointing into the chosen node object, SCHEDULER_E_NO_NODE with
 * Docker's "no suitable node (...)" in err, or SCHEDULER_E_NOMEM. */
int scheduler_place(struct scheduler *s, const json_t *task, const json_t *ports, const char **node_id,
		    char *err, size_t errlen);

#endif
