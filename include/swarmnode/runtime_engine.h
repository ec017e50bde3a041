/* runtime_engine: the engine runtime: each task is a container of a Docker Engine API socket (Docker, or Podman's compatible service). */
#ifndef SWARMNODE_RUNTIME_ENGINE_H
#define SWARMNODE_RUNTIME_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/runtime.h"

/* How the engine runtime runs a task (see runtime.h for the interface).
 *
 * Transport: HTTP/1.1 on the engine's Unix socket, API version 1.41 (which
 * Docker and Podman's compatible service both answer), through libcurl's
 * multi interface driven by the runtime's libuv loop: no call ever blocks
 * the loop. libcurl is loaded with dlopen (curl_dl.h) when the first engine
 * runtime is created, so a daemon running only exec tasks never maps it.
 *
 * Image: GET /images/NAME/json; when the engine lacks it, one pull (POST
 * /images/create?fromImage=NAME), then the check again: still missing makes
 * the task REJECTED "No such image: NAME". An image name holding anything
 * but letters, digits and . _ - / : @ is refused by start() (-EINVAL).
 *
 * Container: created as swarmnode.<service name>.<slot, or node id for a
 * global task>.<task id> with the labels com.docker.swarm.task.id,
 * com.docker.swarm.service.id, com.docker.swarm.service.name,
 * com.docker.swarm.node.id and swarmnode.managed=1 (over the spec's labels
 * of those names), the spec's env, the spec's args as Cmd (the image's
 * entrypoint stays), each port bound on the host (PortBindings: the
 * published port, or one the engine picks when it is 0; the bindings the
 * engine made are read back, see runtime_engine_ports), the memory and CPU
 * limits, and the stop grace period as StopTimeout. Then it is started,
 * inspected (pid, ports) and RUNNING, and POST /containers/ID/wait follows
 * it to its end: exit 0 COMPLETE, another FAILED "task: non-zero exit (N)"
 * (N is 128 + signal for a killed process), SHUTDOWN after stop() whatever
 * the code. PREPARING covers the image and the create, STARTING the start.
 *
 * Errors: an engine answer of 400 and up is reported with its "message"
 * ("task: engine: conflict: container name already in use (HTTP 409)");
 * a socket that stops answering fails the operations that needed it with
 * "task: engine at PATH: <reason>", a running task included (its wait is
 * lost); nothing crashes and remove() still deletes the container later.
 *
 * Stop: POST /containers/ID/stop?t=<grace in s, rounded up>; the engine
 * sends the image's stop signal, then SIGKILL. Remove: DELETE
 * /containers/ID?force=1&v=1 in the background (the task is forgotten at
 * once). Logs: GET /containers/ID/logs (stdout, stderr, tail, timestamps),
 * Docker's 8-byte stream frames demultiplexed, each line stamped with the
 * engine's time.
 *
 * Crash safety: recover() lists the containers labelled swarmnode.managed=1
 * (and, when the config names a node, com.docker.swarm.node.id=NODE) and
 * inspects each. A running one whose task want_task() still wants is
 * adopted: reported RUNNING with its container id and pid, followed by a
 * new wait, and from then on a task like any other. Every other one is
 * removed (force), then reported: an exited container as it ended
 * (COMPLETE, or FAILED "task: non-zero exit (N)"), a running or never
 * started one FAILED "task: removed at daemon restart" (FAILED rather than
 * SHUTDOWN so that restart policy on-failure replaces it). Reported tasks
 * stay known (inspect, remove) until remove(); their logs went with the
 * container. A container that cannot be removed makes on_done's status
 * negative and is reported FAILED with the reason; nothing is left behind
 * silently.
 *
 * Close: every task is stopped with its grace period (Docker without
 * live-restore does the same); the containers stay until remove() or the
 * next recover(). */

struct runtime_engine_config {
	const char *socket_path;  /* the engine's Unix socket (copied); see runtime_engine_detect */
	const char *node_id;      /* may be NULL or empty: recover() then considers every managed container */
	/* recover() asks, for each running container it finds, whether the agent
	 * still wants its task: true adopts it, false removes it. NULL removes
	 * every container. Called with the runtime's data. */
	bool (*want_task)(void *data, const char *task_id);
};

/* recover() may run once, before any start(): a second call is -EBUSY. */
#define RUNTIME_ENGINE_API "/v1.41"               /* the API version every path starts with */
#define RUNTIME_ENGINE_LOGS_MAX_BYTES (32u << 20) /* a larger logs answer fails with -EFBIG */

/* Creates an engine runtime on loop for the socket cfg names (which must
 * exist; the engine is first asked at start()). on_state receives every
 * state change with data. Returns 0 with *out set (release it with
 * runtime_close), or a negative errno with the reason in err (-ENOENT: no
 * such socket, -ELIBACC: libcurl cannot be loaded). */
int runtime_engine_new(uv_loop_t *loop, const struct runtime_engine_config *cfg, runtime_state_cb on_state, void *data,
		       struct runtime **out, char *err, size_t errlen);

/* Finds an engine: $DOCKER_HOST when it is unix://PATH, /var/run/docker.sock,
 * /run/podman/podman.sock, $XDG_RUNTIME_DIR/podman/podman.sock, in that
 * order; the first whose GET /_ping answers OK is written to out. BLOCKS (up
 * to a second per candidate): call it before the loop runs, or from the
 * thread pool. Returns 0, -ENOENT (none answered), -ENAMETOOLONG or
 * -ELIBACC (no libcurl). */
int runtime_engine_detect(char *out, size_t len);

/* Asks the engine at socket_path for GET /_ping, as detect does for each
 * candidate. BLOCKS (up to a second), like runtime_engine_detect. Returns 0
 * (it answered OK), -ENOENT (no socket there), -ECONNREFUSED (no engine
 * answers on it) or -ELIBACC (no libcurl). */
int runtime_engine_ping(const char *socket_path);

/* The host ports the engine bound for a running task, as read back from
 * its container (NetworkSettings.Ports), for the endpoint table: up to cap
 * entries in out, their number in *n (0 before the task runs). Returns 0,
 * -ENOENT (no such task) or -EINVAL (rt is not an engine runtime). */
int runtime_engine_ports(struct runtime *rt, const char *task_id, struct runtime_port *out, size_t cap, size_t *n);

#endif
