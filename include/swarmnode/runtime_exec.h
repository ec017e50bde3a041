/* runtime_exec: the exec runtime: each task is a process (the image names the program) in its own process group. */
#ifndef SWARMNODE_RUNTIME_EXEC_H
#define SWARMNODE_RUNTIME_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "swarmnode/runtime.h"

/* How the exec runtime runs a task (see runtime.h for the interface).
 *
 * Program: the image is an absolute path, or a name looked up in the task's
 * PATH; one that is missing or not executable makes the task REJECTED with
 * Go's text, as runc reports it: exec: "NAME": executable file not found in
 * $PATH. argv[0] is the image as given, then the spec's args.
 *
 * Arguments: "${PORT}" becomes the task's PORT and "${PORT_<target>}" the
 * host port for that target (below), "${SWARMNODE_NODE_ADDR}" the node's
 * advertised IP (when known); "$${" stands for a literal "${". Any
 * other "${...}" is left as it is (the program may want it); a ${PORT}
 * reference the spec's ports cannot satisfy is an -EINVAL from start().
 *
 * Environment: PATH (the daemon's, or the usual default), then the spec's
 * env, then what the runtime sets and the spec cannot override: PORT (the
 * first port's published port, or its target when none was allocated),
 * PORT_<target>=<that port> for each port, SWARMNODE_NODE_ADDR (the node's advertised IP), SWARMNODE_TASK_ID,
 * SWARMNODE_SERVICE_ID, SWARMNODE_SERVICE_NAME, SWARMNODE_SLOT,
 * SWARMNODE_NODE_ID. A later entry with the same name replaces an earlier.
 *
 * Process: started in a new session (so its own process group), working
 * directory DATA/tasks/<task id>/, stdin /dev/null, stdout and stderr piped
 * into one log. When the program exits, what is left of its process group
 * is killed (a container's processes die with its init). A process that
 * leaves the group (setsid) escapes: exec is not a container.
 *
 * Limits: a memory limit is applied as RLIMIT_AS (address space, not RSS,
 * so set it well above the working set) with prlimit() right after the
 * program starts; CPU limits are not applied by exec.
 *
 * Logs: DATA/tasks/<id>/log, one record per line in the CRI log format
 * ("<RFC 3339 ns time> stdout|stderr F|P <text>"), lines longer than 16 KiB
 * split into P(artial) records. When the file would pass log_max_bytes it
 * is renamed log.1 (replacing the previous one) and a new one started, so
 * a task keeps at most twice log_max_bytes. Writes go through the libuv
 * thread pool; while more than 1 MiB waits to be written, the pipes are
 * not read, which slows the program down instead of the daemon.
 *
 * Stop: SIGTERM to the process group, SIGKILL to it after the grace period;
 * SHUTDOWN whatever the exit status. Otherwise exit 0 is COMPLETE, another
 * status FAILED "task: non-zero exit (N)", a signal FAILED "task: killed by
 * signal N".
 *
 * Crash safety: once a task's process runs, DATA/tasks/<id>/pid holds the
 * boot id, its pid, its start time (field 22 of /proc/PID/stat) and its
 * process group, written atomically (rename; no fsync: a machine crash ends
 * the processes too, and the boot id tells). recover() kills, for each
 * record a crashed daemon left: the group whose leader still runs with that
 * start time, or, when the leader is gone, each process still in that group
 * whose environment carries the task's SWARMNODE_TASK_ID. A process that is
 * not our child cannot be waited for, so exec does not adopt: each such
 * task is reported FAILED ("task: killed at daemon restart" or "task:
 * exited while the daemon was down"), FAILED rather than SHUTDOWN so that
 * restart policy on-failure replaces it. The window between the spawn and
 * the record's rename is not covered.
 *
 * Close: every task is stopped with its grace period (Docker without
 * live-restore does the same); logs stay on disk until remove(). */

struct runtime_exec_config {
	const char *data_dir;     /* DATA (copied); tasks live in DATA/tasks/ */
	uint64_t log_max_bytes;   /* per log file before rotation; 0: 10 MiB; at least 64 KiB */
};

#define RUNTIME_EXEC_LOG_MAX_DEFAULT (10u << 20)
#define RUNTIME_EXEC_LOG_MAX_MIN (64u << 10)
#define RUNTIME_EXEC_LINE_MAX (16u << 10) /* longer lines are split */

/* Creates an exec runtime on loop, creating DATA/tasks if needed. on_state
 * receives every state change with data. Returns 0 with *out set (release
 * it with runtime_close), or a negative errno with the reason in err. */
int runtime_exec_new(uv_loop_t *loop, const struct runtime_exec_config *cfg, runtime_state_cb on_state, void *data,
		     struct runtime **out, char *err, size_t errlen);

#endif
