/* client: the CLI's connection to the daemon's control socket (libcurl over a Unix socket). */
#ifndef SWARMNODE_CLIENT_H
#define SWARMNODE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Results of client_call beyond HTTP statuses. */
enum client_error {
	CLIENT_OK = 0,
	CLIENT_ECONNECT = -1, /* no daemon listening on the socket */
	CLIENT_ETRANSFER = -2, /* the connection broke or the answer was not HTTP */
	CLIENT_EDECODE = -3,  /* the daemon's answer was not the JSON expected */
};

struct curl_dl;

struct client {
	const struct curl_dl *curl_fns; /* libcurl, loaded on first use */
	void *curl;                   /* CURL easy handle, reused: one keep-alive connection */
	char socket_path[108];
	char error[256];              /* what went wrong, for the user */
};

/* Prepares a client for the socket; connects lazily on the first call.
 * Returns 0, or -1 with the reason in c->error (e.g. libcurl missing). */
int client_init(struct client *c, const char *socket_path);
void client_close(struct client *c);

/* One request: path without the version prefix ("/info"), an optional JSON
 * body (borrowed). On a 2xx answer *out (if not NULL) receives the decoded
 * JSON (the caller owns it; NULL for an empty body) and the call returns the
 * status. On a 4xx/5xx answer the status is returned and c->error holds the
 * daemon's message. Negative client_error otherwise, with c->error set. */
long client_call(struct client *c, const char *method, const char *path, json_t *body, json_t **out);

/* The bytes of a streamed answer as they arrive; a non-zero return ends the transfer. */
typedef int (*client_stream_fn)(void *data, const char *bytes, size_t len);

/* The same for an answer that is not JSON and may last (a log stream): the
 * bytes of a 2xx answer go to fn as they arrive; the result is as
 * client_call's (a transfer fn ended counts as complete). */
long client_call_stream(struct client *c, const char *method, const char *path, client_stream_fn fn, void *data);

#endif
