/* api: the Docker Engine API subset served on the control socket: routes,
 * API-version prefixes, JSON bodies and Docker's error format. */
#ifndef SWARMNODE_API_H
#define SWARMNODE_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "swarmnode/config.h"
#include "swarmnode/http.h"

/* The API version whose semantics we implement (the one the stock docker CLI
 * negotiates down to), and the oldest prefix we accept. */
#define API_VERSION "1.41"
#define API_MIN_VERSION "1.24"
#define API_VERSION_NUM 141
#define API_MIN_VERSION_NUM 124

/* Facts about this machine gathered once at start for /version and /info. */
struct api_host {
	char hostname[256];
	char kernel[256];
	char os_name[128];    /* PRETTY_NAME from os-release */
	char os_version[32];  /* VERSION_ID from os-release */
	char arch_go[32];     /* Go's spelling (amd64), as the docker CLI prints it */
	char arch_uname[64];  /* uname -m (x86_64) */
	unsigned ncpu;
	uint64_t mem_total;
};

struct swarm;

struct api {
	const struct config *config;  /* not owned */
	struct swarm *swarm;          /* not owned: this node's swarm membership */
	char engine_id[64];           /* this daemon's persistent identity */
	struct api_host host;
	struct http_header always[4]; /* headers on every response */
	char server_header[64];
};

/* Parameters of one API call, prepared by the router for the handler. */
struct api_call {
	unsigned version;       /* API version of the path prefix, 141 for 1.41; 0 if none */
	json_t *body;           /* the parsed JSON body (borrowed), NULL when empty */
	const char *params[4];  /* values of the {placeholders} in the route, in order */
	char *param_buf;        /* storage for params (owned by the router) */
};

/* Prepares api for serving; gathers the host facts. config and swarm must
 * outlive api. */
void api_init(struct api *api, const struct config *config, struct swarm *swarm, const char *engine_id);

/* The http_handler_fn of the control socket; data is the struct api. */
void api_handle(void *data, struct http_request *req);

/* Installs the headers every response carries into an http_config. */
void api_configure_http(struct api *api, struct http_config *config);

/* Replies: body is a JSON value whose reference the call takes; a trailing
 * newline is added as Docker does. */
void api_reply_json(struct http_request *req, int status, json_t *body);
__attribute__((format(printf, 3, 4)))
void api_reply_error(struct http_request *req, int status, const char *fmt, ...);

/* Formats a wall-clock time in ms as Docker prints times (RFC 3339, ns). */
void api_format_time(uint64_t ms, char *buf, size_t len);

/* Looks up a query parameter, percent-decoded into buf. Returns true when
 * present (with an empty value too). */
bool api_query(const struct http_request *req, const char *name, char *buf, size_t len);

/* Docker's boolean query values: anything but "", "0", "no", "false", "none". */
bool api_query_bool(const struct http_request *req, const char *name);

/* Parses "1.41" into 141; returns 0 for anything else. */
unsigned api_parse_version(const char *s, size_t len);

#endif
