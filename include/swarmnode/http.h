/* http: one HTTP/1.1 server connection without I/O: bytes in, requests to a
 * handler, responses out through a small transport table (see http_server.h
 * for the libuv transport). Parsing is libhttp-parser's. */
#ifndef SWARMNODE_HTTP_H
#define SWARMNODE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

struct http_header {
	const char *name;
	const char *value;
};

/* Server-wide settings shared by every connection; not copied. */
struct http_config {
	size_t max_header_bytes;            /* request line + headers; 431 beyond */
	size_t max_body_bytes;              /* 413 beyond */
	const struct http_header *always;   /* sent on every response (Api-Version...) */
	size_t nalways;
};

#define HTTP_DEFAULT_MAX_HEADER_BYTES (16 * 1024)
#define HTTP_DEFAULT_MAX_BODY_BYTES (4 * 1024 * 1024)

struct http_conn;

/* A parsed request. It lives inside its connection until the response ends;
 * strings are NUL-terminated and owned by the connection. */
struct http_request {
	struct http_conn *conn;
	const char *method;  /* "GET", "HEAD", "POST"... */
	bool head;           /* HEAD: the response carries no body */
	char *target;        /* the request target as sent: path and query */
	char *path;          /* the path, not percent-decoded */
	char *query;         /* the query string without '?', "" if none */
	char *body;          /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	struct http_header *headers;
	size_t nheaders;
	bool keep_alive;     /* the client allows another request on this connection */
};

/* Case-insensitive header lookup; NULL when absent. */
const char *http_request_header(const struct http_request *req, const char *name);

/* The transport underneath a connection. Buffers passed to write are heap
 * memory whose ownership moves to the transport (it frees them when sent).
 * close is called exactly once, after the last write, when the connection is
 * over; the transport then frees the connection when its own teardown ends. */
struct http_transport {
	void (*write)(struct http_conn *conn, char *buf, size_t len);
	void (*close)(struct http_conn *conn);
};

/* Called once per request. The handler must end the response with
 * http_respond() or http_stream_end(), now or later; until then the
 * connection reads no further request. */
typedef void (*http_handler_fn)(void *data, struct http_request *req);

struct http_conn {
	http_parser parser;
	const struct http_config *config;
	const struct http_transport *transport;
	http_handler_fn handler;
	void *handler_data;
	void *data;               /* for the transport: its own connection object */

	struct http_request req;  /* the request being read or answered */
	char *url;                /* accumulated request target */
	size_t url_len;
	char *hbuf;               /* header names and values, NUL-separated */
	size_t hbuf_len, hbuf_cap;
	size_t *hoffs;            /* offsets of name, value pairs in hbuf */
	size_t nhoffs, hoffs_cap;
	bool in_value;            /* last header callback was a value */
	size_t header_bytes;      /* budget used by the request line and headers */
	char *body;
	size_t body_len, body_cap;
	int reject_status;        /* set by a callback that refuses the request */
	const char *reject_reason;

	char *pending;            /* bytes received while a request is answered */
	size_t pending_len;
	bool message_done;        /* the parser completed a request (paused) */
	bool in_flight;           /* handler called, response not ended */
	bool streaming;           /* chunked response begun */
	bool feeding;             /* inside http_conn_feed: no re-entry */
	bool peer_gone;           /* read side ended: drop output, close when idle */
	bool closed;              /* transport->close was called */
};

/* Initialises conn in place; it owns nothing yet. */
void http_conn_init(struct http_conn *conn, const struct http_config *config,
		    const struct http_transport *transport, http_handler_fn handler,
		    void *handler_data);

/* Releases what the connection owns. The transport calls it from its teardown. */
void http_conn_release(struct http_conn *conn);

/* Bytes from the peer. May call the handler and the transport. */
void http_conn_feed(struct http_conn *conn, const char *data, size_t len);

/* The peer closed or the read failed: the connection ends once the request in
 * flight, if any, has been answered (its output is dropped). */
void http_conn_eof(struct http_conn *conn);

/* True while a request is being answered (the transport stops its idle timer). */
bool http_conn_busy(const struct http_conn *conn);

/* Complete response with a body of len bytes (copied). extra may be NULL. */
void http_respond(struct http_request *req, int status, const char *content_type,
		  const struct http_header *extra, size_t nextra, const char *body, size_t len);

/* A response in Transfer-Encoding: chunked, for bodies produced over time. */
void http_stream_begin(struct http_request *req, int status, const char *content_type,
		       const struct http_header *extra, size_t nextra);
void http_stream_write(struct http_request *req, const char *data, size_t len);
void http_stream_end(struct http_request *req);

/* Convenience: {"message": "..."} with a JSON content type, as Docker answers errors. */
void http_respond_error(struct http_request *req, int status, const char *message);

const char *http_status_text(int status);

/* Decodes %XX escapes (and, when plus_is_space, '+' as in query strings) of
 * in[0..len) into out (cap bytes, NUL-terminated). Returns the decoded length,
 * or -1 for a malformed escape, an escaped NUL, or too little room. */
int http_percent_decode(const char *in, size_t len, bool plus_is_space, char *out, size_t cap);

#endif
