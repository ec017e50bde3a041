/* api_internal: the route table shared by the api_*.c handler files. */
#ifndef SWARMNODE_API_INTERNAL_H
#define SWARMNODE_API_INTERNAL_H

#include "swarmnode/api.h"

typedef void (*api_handler_fn)(struct api *api, struct http_request *req, struct api_call *call);

enum api_route_flags {
	API_JSON_BODY = 1 << 0, /* the body, when present, must be JSON */
};

struct api_route {
	const char *method;
	const char *pattern;   /* "/nodes/{id}"; {x} matches one non-empty segment */
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

#endif
