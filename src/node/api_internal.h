/* api_internal: the route table shared by the api_*.c handler files. */
#ifndef SWARMNODE_API_INTERNAL_H
#define SWARMNODE_API_INTERNAL_H

#include "swarmnode/api.h"
#include "swarmnode/store.h"

typedef void (*api_handler_fn)(struct api *api, struct http_request *req, struct api_call *call);

enum api_route_flags {
	API_JSON_BODY = 1 << 0, /* the body, when present, must be JSON */
};

struct api_route {
	const char *method;
	const char *pattern;   /* "/nodes/{id}"; {x} matches one non-empty segment, {x*} one or more */
	api_handler_fn handler;
	unsigned flags;
};

/* api_system.c */
extern const struct api_route api_system_routes[];
extern const size_t api_system_nroutes;
void api_host_gather(struct api_host *host);

/* api_swarm.c */
extern const struct api_route api_swarm_routes[];
extern const size_t api_swarm_nroutes;
/* The "Swarm" object of GET /info, and the value of the Swarm header of /_ping. */
json_t *api_swarm_info(struct api *api);

/* The HTTP status for a failed write: the store's refusals (409 for a stale
 * version or a name taken, 404, 400) and the manager's (503: no leader,
 * timed out, leadership lost, stopping). */
int api_write_status(int status);
const char *api_swarm_ping_state(struct api *api);

/* api_services.c: /services, /tasks */
extern const struct api_route api_services_routes[];
extern const size_t api_services_nroutes;

/* api_logs.c: /services/{id}/logs and /tasks/{id}/logs */
extern const struct api_route api_logs_routes[];
extern const size_t api_logs_nroutes;

/* api_networks.c: /networks in the store; /secrets, /configs and
 * /distribution as far as stack deploy and rm need them. */
extern const struct api_route api_networks_routes[];
extern const size_t api_networks_nroutes;

/* Replaces each TaskTemplate.Networks[].Target of a checked task template
 * (an id, a name or an id prefix) by the network's full id, as dockerd
 * resolves a service's networks at create and update. Call it after the read
 * barrier. Returns 0, STORE_E_NOT_FOUND ("network demo_default not found"),
 * STORE_E_AMBIGUOUS or STORE_E_NOMEM, with the message in err. */
int api_networks_resolve(struct api *api, json_t *task_template, char *err, size_t errlen);

/* api_networks_resolve on a ServiceSpec's TaskTemplate; false after
 * answering the error (404 for a network that does not exist). */
bool api_networks_resolve_spec(struct api *api, struct http_request *req, json_t *spec);

/* api.c: what the handlers of the cluster store share. */

/* Answers 503 with Docker's words unless this node is an active manager. */
bool api_require_manager(struct api *api, struct http_request *req);

/* What a handler does once the read barrier passed: body is the request's
 * JSON body (borrowed, may be NULL), ref the route's first {placeholder}. */
typedef void (*api_read_fn)(struct api *api, struct http_request *req, json_t *body, const char *ref);

/* Runs then once this manager's store holds every write acknowledged before
 * the call (a ReadIndex barrier), or answers 503 without a leader. */
void api_after_read_barrier(struct api *api, struct http_request *req, struct api_call *call, api_read_fn then);

/* The wall-clock time in nanoseconds, for store_txn_new. */
int64_t api_now_ns(void);

/* Encodes txn (still the caller's) and proposes it. Once applied the reply is
 * ok_status with ok_body (taken; NULL for an empty body); a refusal is
 * answered with api_write_status and the store's sentence. */
void api_propose(struct api *api, struct http_request *req, struct store_txn *txn, int ok_status, json_t *ok_body);

#endif
