/* http_server: serves http_conn connections on a Unix socket with libuv. */
#ifndef SWARMNODE_HTTP_SERVER_H
#define SWARMNODE_HTTP_SERVER_H

#include <stddef.h>

#include <uv.h>

#include "swarmnode/http.h"

#define HTTP_SERVER_MAX_CONNS 1024
#define HTTP_SERVER_IDLE_TIMEOUT_MS 60000

struct http_server_conn;

struct http_server {
	uv_loop_t *loop;
	uv_pipe_t listener;
	struct http_config config;        /* limits and headers for every connection */
	http_handler_fn handler;
	void *handler_data;
	struct http_server_conn *conns;   /* doubly linked list of open connections */
	size_t nconns;
	size_t max_conns;                 /* beyond this, new connections are closed at once */
	uint64_t idle_timeout_ms;         /* close a connection silent this long between requests */
	uint64_t accepted, refused;       /* counters */
	void (*on_closed)(struct http_server *srv);
	int closing;                      /* handles still closing during shutdown */
	char path[108];
};

/* Fills srv with defaults: the caller may then adjust config and limits
 * before http_server_listen. */
void http_server_init(struct http_server *srv, uv_loop_t *loop, http_handler_fn handler,
		      void *handler_data);

/* Binds path (which must not exist), sets its mode, and starts accepting.
 * Returns 0 or a negative libuv error. */
int http_server_listen(struct http_server *srv, const char *path, int mode);

/* Stops accepting, closes every connection (flushing what was already
 * written) and calls on_closed when the last handle is closed. Removes the
 * socket file. */
void http_server_close(struct http_server *srv, void (*on_closed)(struct http_server *srv));

#endif
