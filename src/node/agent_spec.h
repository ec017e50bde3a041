/* agent_spec: turns an assigned task (its Docker Spec JSON and ports) into what a runtime starts. */
#ifndef SWARMNODE_AGENT_SPEC_H
#define SWARMNODE_AGENT_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "swarmnode/dispatch_msg.h"
#include "swarmnode/runtime.h"

/*
 * From the task's Spec (Docker's TaskSpec JSON):
 *   ContainerSpec.Image            the image (exec: the program), required
 *   ContainerSpec.Command, .Args   the arguments after it, Command's first
 *                                  (the docker CLI puts `service create IMAGE
 *                                  CMD ARG...` into Args)
 *   ContainerSpec.Env              "KEY=VALUE" strings
 *   ContainerSpec.Labels           string to string
 *   ContainerSpec.StopGracePeriod  nanoseconds (0 or absent: the runtime's default)
 *   Resources.Limits.MemoryBytes, .NanoCPUs
 * Other fields are not the runtime's business and are ignored.
 *
 * Host ports: the agent picks the node's port of each published port. Host
 * mode: the PublishedPort, or the target itself when none was given (Docker
 * would pick a free port; exec tasks share the node's network, so the target
 * is the port the program binds). Ingress mode: the PublishedPort too, until
 * the routing mesh exists (a later issue) and moves ingress ports off the
 * task.
 */

/* A runtime spec built from a task; owns what its pointers point into. */
struct agent_spec {
	struct runtime_task_spec spec;
	json_t *root;                      /* the parsed Spec */
	const char **args;                 /* spec.args */
	const char **env;                  /* spec.env */
	struct runtime_label *labels;      /* spec.labels */
	struct runtime_port *ports;        /* spec.ports */
};

/* The host port the agent uses for p (see above). */
uint32_t agent_spec_host_port(const struct dispatch_port *p);

/* Builds out from t for node_id (strings borrowed from t and node_id, which
 * must outlive out). Returns 0 (release out with agent_spec_release),
 * -ENOMEM, or -EINVAL with "task spec: FIELD: what is wrong" in err. */
int agent_spec_build(const struct dispatch_task *t, const char *node_id, const char *node_addr,
		     struct agent_spec *out, char *err,
		     size_t errlen);

/* StopGracePeriod in milliseconds from a Spec (0 when absent or invalid). */
uint64_t agent_spec_grace_ms(const struct agent_spec *s);

void agent_spec_release(struct agent_spec *s);

#endif
