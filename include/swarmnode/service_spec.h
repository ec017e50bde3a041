/* service_spec: checks a Docker ServiceSpec (JSON), fills the defaults dockerd fills, and builds a service's Endpoint (ingress ports allocated, conflicts refused); sans-I/O. */
#ifndef SWARMNODE_SERVICE_SPEC_H
#define SWARMNODE_SERVICE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * A ServiceSpec is the Engine API v1.41 JSON object (Name, Labels,
 * TaskTemplate, Mode, UpdateConfig, RollbackConfig, EndpointSpec). As in Go's
 * decoder, a JSON null counts as absent and unknown keys are kept and ignored:
 * the stock docker CLI sends fields older daemons do not know. Durations are
 * integers of nanoseconds, sizes integers of bytes.
 *
 * Errors name the field: "TaskTemplate.ContainerSpec.Env[2]: expected a
 * string". Where dockerd has a sentence of its own (swarmkit's controlapi:
 * "TaskSpec: restart-delay cannot be negative", "EndpointSpec: duplicate
 * published ports provided", "port '8080' is already in use by service 'web'
 * (ID) as an ingress port"), that sentence is used.
 */

/* Size of the err buffers the calls fill. */
#define SERVICE_SPEC_ERR_MAX 512

/* Longest service name (a DNS label, as swarmkit requires). */
#define SERVICE_NAME_MAX 63

/* Most replicas one service may ask for: far above what a cluster runs, low
 * enough that a typo cannot make the orchestrator plan billions of tasks. */
#define SERVICE_REPLICAS_MAX 100000

/* Ingress ports with PublishedPort 0 get one from this range (Docker's). */
#define SERVICE_DYNAMIC_PORT_FIRST 30000
#define SERVICE_DYNAMIC_PORT_LAST 32767

/* Defaults dockerd applies (swarmkit api/defaults), in nanoseconds. */
#define SERVICE_DEFAULT_RESTART_DELAY_NS 5000000000LL
#define SERVICE_DEFAULT_MONITOR_NS 5000000000LL
#define SERVICE_DEFAULT_STOP_GRACE_NS 10000000000LL

/* Checks spec. Returns 0, or -EINVAL with the reason in err (errlen bytes). */
int service_spec_check(const json_t *spec, char *err, size_t errlen);

/* Checks one placement constraint ("node.role==manager") as swarmkit parses
 * it, and that its key is one the scheduler knows. Returns 0 or -EINVAL. */
int service_constraint_check(const char *expr, char *err, size_t errlen);

/* A deep copy of a checked spec with every default filled in: Mode
 * Replicated{Replicas 1}, Labels {}, RestartPolicy {any, 5s, 0},
 * UpdateConfig and RollbackConfig {1, pause, 5s monitor, 0, stop-first},
 * StopGracePeriod 10s, ForceUpdate 0, EndpointSpec Mode vip and each port's
 * Protocol tcp and PublishMode ingress. Fields already present are kept. NULL
 * when out of memory. The caller owns the result. */
json_t *service_spec_with_defaults(const json_t *spec);

/* True when a checked spec is Mode.Global. */
bool service_spec_is_global(const json_t *spec);

/* Writes a generated name ("eager_turing") chosen by r into out, as dockerd
 * names a service created without one. */
void service_spec_random_name(uint32_t r, char out[SERVICE_NAME_MAX + 1]);

/* ---- Published ports ------------------------------------------------------------ */

enum service_proto {
	SERVICE_PROTO_TCP,
	SERVICE_PROTO_UDP,
	SERVICE_PROTO_SCTP,
	SERVICE_PROTO_COUNT
};

/* Ingress ports taken cluster-wide, one bit per protocol and port. */
struct service_port_set {
	uint8_t bits[SERVICE_PROTO_COUNT][65536 / 8];
};

void service_port_set_clear(struct service_port_set *set);

/* Marks the non-zero ingress published ports of a stored service (its
 * Spec.EndpointSpec.Ports and Endpoint.Ports). */
void service_port_set_add_service(struct service_port_set *set, const json_t *service);

bool service_port_set_has(const struct service_port_set *set, enum service_proto proto, uint32_t port);

/* Refuses spec's published ports that another stored service holds, with
 * swarmkit's rules (an ingress port is exclusive; host-mode ports may be
 * shared between host-mode services) and its message. Returns 0 or
 * -EADDRINUSE with the message in err. */
int service_ports_conflict(const json_t *spec, const json_t *other, char *err, size_t errlen);

/* Builds the Endpoint of a service whose defaulted spec is spec:
 * {"Spec": EndpointSpec, "Ports": [...]}, each ingress port with
 * PublishedPort 0 given the one it had in old_endpoint (the service's
 * Endpoint before an update, may be NULL) or else the lowest port of the
 * dynamic range that is neither in used nor published by spec itself.
 * Returns 0 and *out (the caller owns it), -ENOSPC when the range is full, or
 * -ENOMEM, with the reason in err. */
int service_endpoint_build(const json_t *spec, const json_t *old_endpoint, const struct service_port_set *used,
			   json_t **out, char *err, size_t errlen);

#endif
