/* service_progress: what `service create/update/scale` show while a service converges (per-slot states, overall progress) and the text `service ls/ps` print for tasks and ports, from the API's JSON; no I/O. */
#ifndef SWARMNODE_SERVICE_PROGRESS_H
#define SWARMNODE_SERVICE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Width of the state column and of the bar, as docker's jsonmessage draws them. */
#define SERVICE_PROGRESS_STATE_WIDTH 9
#define SERVICE_PROGRESS_BAR_WIDTH 50

/* One slot (replicated) or node (global) of the service. */
struct service_progress_slot {
	char label[80];  /* "1/3", or a node id for a global service */
	char state[16];  /* the newest task's Status.State, "" when there is none yet */
	char err[160];   /* its Status.Err */
};

/* One poll of a converging service. */
struct service_progress {
	size_t desired;                       /* replicas, or nodes meant to run a global task */
	size_t running;                       /* slots whose task is running */
	size_t failed;                        /* slots whose task failed or was rejected */
	bool global;
	size_t nslots;
	struct service_progress_slot *slots;  /* nslots entries, malloc'd: free with service_progress_release */
};

/*
 * Computes progress as docker's CLI does (cli/command/service/progress):
 * tasks (GET /tasks?filters={"_up-to-date"...,"service"...}) are grouped by
 * Slot, or NodeID for a global service; tasks on nodes whose Status.State is
 * "down" (nodes from GET /nodes, may be NULL) are ignored; per slot the task
 * meant to run (DesiredState new..running) with the newest Status.Timestamp
 * counts. Returns 0, or -ENOMEM (out is then empty).
 */
int service_progress_compute(const json_t *service, const json_t *tasks, const json_t *nodes,
			     struct service_progress *out);

void service_progress_release(struct service_progress *p);

/* True when every desired slot runs (a service of 0 replicas is converged). */
bool service_progress_converged(const struct service_progress *p);

/* Prints "overall progress: R out of D tasks" and one line per slot,
 * "1/3: running   [==================================================>] ",
 * the bar only when bars is set (docker draws it on wide terminals). */
void service_progress_render(const struct service_progress *p, bool bars, FILE *out);

/* ---- text for ls and ps ------------------------------------------------------------ */

/* Go's units.HumanDuration: "Less than a second", "5 seconds", "About a minute", "3 hours", ... */
void service_human_duration(int64_t ns, char *out, size_t len);

/* `service ps` CURRENT STATE: "Running 5 seconds ago" from a task's Status
 * (its State and RFC 3339 Timestamp) at now_ns. */
void service_task_current_state(const json_t *status, int64_t now_ns, char *out, size_t len);

/* `service ls` PORTS: the service's ingress Endpoint.Ports as
 * "*:8080->80/tcp, *:30000-30001->81-82/udp" (consecutive ports merged). */
void service_ports_text(const json_t *service, char *out, size_t len);

/* `service ps` PORTS: a task's Status.PortStatus.Ports as "*:8080->80/tcp". */
void service_task_ports_text(const json_t *task, char *out, size_t len);

#endif
