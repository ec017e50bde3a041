/* http: one HTTP/1.1 server connection without I/O (see http.h). */
#include "swarmnode/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

/* A growable output buffer; the response is assembled in one piece so the
 * transport sees a single write per response or chunk. */
struct obuf {
	char *data;
	size_t len, cap;
};

static void obuf_reserve(struct obuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (p == NULL)
		abort(); /* out of memory: nothing sensible remains to do */
	b->data = p;
	b->cap = cap;
}

static void obuf_add(struct obuf *b, const char *data, size_t len)
{
	obuf_reserve(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void obuf_printf(struct obuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	obuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Appends to a heap buffer, growing it; used for the request's parts. */
static void grow_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 128;
		while (c < *len + n + 1)
			c *= 2;
		char *p = realloc(*buf, c);
		if (p == NULL)
			abort();
		*buf = p;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static struct http_conn *conn_of(http_parser *p)
{
	return p->data;
}

static int conn_reject(struct http_conn *conn, int status, const char *reason)
{
	conn->reject_status = status;
	conn->reject_reason = reason;
	return -1;
}

static int conn_charge_header(struct http_conn *conn, size_t len)
{
	conn->header_bytes += len;
	if (conn->header_bytes > conn->config->max_header_bytes)
		return conn_reject(conn, 431, "request header too large");
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *conn = conn_of(p);
	conn->header_bytes = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *conn = conn_of(p);
	if (conn_charge_header(conn, len) != 0)
		return -1;
	size_t cap = conn->url_len + len + 1;
	char *u = realloc(conn->url, cap);
	if (u == NULL)
		abort();
	memcpy(u + conn->url_len, at, len);
	conn->url = u;
	conn->url_len += len;
	conn->url[conn->url_len] = '\0';
	return 0;
}

static void conn_push_offset(struct http_conn *conn)
{
	if (conn->nhoffs == conn->hoffs_cap) {
		size_t c = conn->hoffs_cap ? conn->hoffs_cap * 2 : 16;
		size_t *p = realloc(conn->hoffs, c * sizeof(*p));
		if (p == NULL)
			abort();
		conn->hoffs = p;
		conn->hoffs_cap = c;
	}
	conn->hoffs[conn->nhoffs++] = conn->hbuf_len;
}

/* Header names and values arrive in pieces; a new piece starts a new string
 * only when the parser switches between name and value. */
static int on_header_piece(struct http_conn *conn, bool value, const char *at, size_t len)
{
	if (conn_charge_header(conn, len) != 0)
		return -1;
	bool starts = conn->nhoffs == 0 || conn->in_value != value;
	if (starts) {
		if (conn->nhoffs > 0)
			grow_append(&conn->hbuf, &conn->hbuf_len, &conn->hbuf_cap, "", 1);
		conn_push_offset(conn);
		conn->in_value = value;
	}
	grow_append(&conn->hbuf, &conn->hbuf_len, &conn->hbuf_cap, at, len);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	return on_header_piece(conn_of(p), false, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *conn = conn_of(p);
	/* A name with an empty value produces no value callback: record "" so
	 * names and values stay paired. */
	return on_header_piece(conn, true, at, len);
}

static void conn_collect_headers(struct http_conn *conn)
{
	/* A trailing name without a value callback gets an empty value. */
	if (conn->nhoffs % 2 == 1) {
		grow_append(&conn->hbuf, &conn->hbuf_len, &conn->hbuf_cap, "", 1);
		conn_push_offset(conn);
	}
	size_t n = conn->nhoffs / 2;
	conn->req.headers = calloc(n ? n : 1, sizeof(struct http_header));
	if (conn->req.headers == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		conn->req.headers[i].name = conn->hbuf + conn->hoffs[2 * i];
		conn->req.headers[i].value = conn->hbuf + conn->hoffs[2 * i + 1];
	}
	conn->req.nheaders = n;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *conn = conn_of(p);
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > conn->config->max_body_bytes)
		return conn_reject(conn, 413, "request body too large");
	conn_collect_headers(conn);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *conn = conn_of(p);
	if (conn->body_len + len > conn->config->max_body_bytes)
		return conn_reject(conn, 413, "request body too large");
	grow_append(&conn->body, &conn->body_len, &conn->body_cap, at, len);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *conn = conn_of(p);
	conn->message_done = true;
	/* Stop here so the request is answered before the next one is parsed. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings conn_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_conn_init(struct http_conn *conn, const struct http_config *config,
		    const struct http_transport *transport, http_handler_fn handler,
		    void *handler_data)
{
	memset(conn, 0, sizeof(*conn));
	conn->config = config;
	conn->transport = transport;
	conn->handler = handler;
	conn->handler_data = handler_data;
	http_parser_init(&conn->parser, HTTP_REQUEST);
	conn->parser.data = conn;
}

/* Forgets the request just answered, keeping buffers for the next one. */
static void conn_reset_request(struct http_conn *conn)
{
	free(conn->req.headers);
	free(conn->req.target);
	memset(&conn->req, 0, sizeof(conn->req));
	conn->url_len = 0;
	conn->hbuf_len = 0;
	conn->nhoffs = 0;
	conn->in_value = false;
	conn->body_len = 0;
	conn->header_bytes = 0;
}

void http_conn_release(struct http_conn *conn)
{
	conn_reset_request(conn);
	free(conn->url);
	free(conn->hbuf);
	free(conn->hoffs);
	free(conn->body);
	free(conn->pending);
	conn->url = conn->hbuf = conn->body = conn->pending = NULL;
	conn->hoffs = NULL;
}

static void conn_close(struct http_conn *conn)
{
	if (conn->closed)
		return;
	conn->closed = true;
	conn->transport->close(conn);
}

static void conn_output(struct http_conn *conn, struct obuf *b)
{
	if (conn->peer_gone || conn->closed) {
		free(b->data);
		return;
	}
	conn->transport->write(conn, b->data, b->len);
}

static void put_header_block(struct http_conn *conn, struct obuf *b, int status,
			     const char *content_type, const struct http_header *extra,
			     size_t nextra, bool close)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	obuf_printf(b, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
	for (size_t i = 0; i < conn->config->nalways; i++)
		obuf_printf(b, "%s: %s\r\n", conn->config->always[i].name, conn->config->always[i].value);
	obuf_printf(b, "Date: %s\r\n", date);
	if (content_type)
		obuf_printf(b, "Content-Type: %s\r\n", content_type);
	for (size_t i = 0; i < nextra; i++)
		obuf_printf(b, "%s: %s\r\n", extra[i].name, extra[i].value);
	if (close)
		obuf_printf(b, "Connection: close\r\n");
}

/* Feeds what conn_stash kept while a response was in flight. */
static void conn_feed_pending(struct http_conn *conn)
{
	char *data = conn->pending;
	size_t len = conn->pending_len;
	conn->pending = NULL;
	conn->pending_len = 0;
	http_conn_feed(conn, data, len);
	free(data);
}

/* The response has ended: go on with the next request, or close. */
static void conn_request_done(struct http_conn *conn)
{
	bool keep = conn->req.keep_alive && conn->reject_status == 0;
	conn->in_flight = false;
	conn->streaming = false;
	conn_reset_request(conn);
	if (!keep || conn->peer_gone) {
		conn_close(conn);
		return;
	}
	if (!conn->feeding && conn->pending_len > 0)
		conn_feed_pending(conn);
}

static bool conn_will_close(struct http_conn *conn)
{
	return !conn->req.keep_alive || conn->reject_status != 0;
}

void http_respond(struct http_request *req, int status, const char *content_type,
		  const struct http_header *extra, size_t nextra, const char *body, size_t len)
{
	struct http_conn *conn = req->conn;
	struct obuf b = {0};
	put_header_block(conn, &b, status, content_type, extra, nextra, conn_will_close(conn));
	if (status != 204 && status != 304)
		obuf_printf(&b, "Content-Length: %zu\r\n", len);
	obuf_add(&b, "\r\n", 2);
	if (!req->head && len > 0)
		obuf_add(&b, body, len);
	conn_output(conn, &b);
	conn_request_done(conn);
}

void http_stream_begin(struct http_request *req, int status, const char *content_type,
		       const struct http_header *extra, size_t nextra)
{
	struct http_conn *conn = req->conn;
	struct obuf b = {0};
	put_header_block(conn, &b, status, content_type, extra, nextra, conn_will_close(conn));
	if (!req->head)
		obuf_printf(&b, "Transfer-Encoding: chunked\r\n");
	obuf_add(&b, "\r\n", 2);
	conn->streaming = true;
	conn_output(conn, &b);
}

void http_stream_write(struct http_request *req, const char *data, size_t len)
{
	if (len == 0 || req->head)
		return; /* an empty chunk would end the body */
	struct obuf b = {0};
	obuf_printf(&b, "%zx\r\n", len);
	obuf_add(&b, data, len);
	obuf_add(&b, "\r\n", 2);
	conn_output(req->conn, &b);
}

void http_stream_end(struct http_request *req)
{
	struct http_conn *conn = req->conn;
	if (!req->head) {
		struct obuf b = {0};
		obuf_add(&b, "0\r\n\r\n", 5);
		conn_output(conn, &b);
	}
	conn_request_done(conn);
}

void http_respond_error(struct http_request *req, int status, const char *message)
{
	json_t *obj = json_pack("{s:s}", "message", message);
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	if (text == NULL) {
		/* message was not valid UTF-8; answer without echoing it */
		json_decref(obj);
		obj = json_pack("{s:s}", "message", http_status_text(status));
		text = json_dumps(obj, JSON_COMPACT);
	}
	size_t n = strlen(text);
	char *body = malloc(n + 2);
	if (body == NULL)
		abort();
	memcpy(body, text, n);
	body[n] = '\n';
	http_respond(req, status, "application/json", NULL, 0, body, n + 1);
	free(body);
	free(text);
	json_decref(obj);
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* Splits the target into path and query. Returns false for a target that is
 * not a URL the parser accepts. */
static bool conn_split_target(struct http_conn *conn)
{
	struct http_parser_url u;
	struct http_request *req = &conn->req;
	http_parser_url_init(&u);
	if (conn->url_len == 0 || http_parser_parse_url(conn->url, conn->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH)))
		return false;
	size_t plen = u.field_data[UF_PATH].len;
	size_t qlen = (u.field_set & (1 << UF_QUERY)) ? u.field_data[UF_QUERY].len : 0;
	/* One allocation: target \0 path \0 query \0 */
	char *s = malloc(conn->url_len + plen + qlen + 3);
	if (s == NULL)
		abort();
	memcpy(s, conn->url, conn->url_len + 1);
	req->target = s;
	req->path = s + conn->url_len + 1;
	memcpy(req->path, conn->url + u.field_data[UF_PATH].off, plen);
	req->path[plen] = '\0';
	req->query = req->path + plen + 1;
	if (qlen)
		memcpy(req->query, conn->url + u.field_data[UF_QUERY].off, qlen);
	req->query[qlen] = '\0';
	return true;
}

static void conn_dispatch(struct http_conn *conn)
{
	struct http_request *req = &conn->req;
	req->conn = conn;
	req->method = http_method_str((enum http_method)conn->parser.method);
	req->head = conn->parser.method == HTTP_HEAD;
	/* An upgrade (attach, exec) is not served: answer and close. */
	req->keep_alive = http_should_keep_alive(&conn->parser) && !conn->parser.upgrade;
	if (conn->body == NULL)
		grow_append(&conn->body, &conn->body_len, &conn->body_cap, "", 0);
	req->body = conn->body;
	req->body_len = conn->body_len;
	conn->in_flight = true;
	if (!conn_split_target(conn)) {
		conn->reject_status = 400;
		http_respond_error(req, 400, "malformed request target");
		return;
	}
	conn->handler(conn->handler_data, req);
}

/* Answers a request the parser refused, then closes. */
static void conn_fail(struct http_conn *conn, int status, const char *reason)
{
	struct http_request *req = &conn->req;
	char msg[160];
	req->conn = conn;
	req->keep_alive = false;
	conn->reject_status = status;
	conn->in_flight = true;
	if (status == 400)
		snprintf(msg, sizeof(msg), "malformed HTTP request: %s", reason);
	else
		snprintf(msg, sizeof(msg), "%s", reason);
	http_respond_error(req, status, msg);
}

static void conn_stash(struct http_conn *conn, const char *data, size_t len)
{
	size_t cap = conn->config->max_header_bytes + conn->config->max_body_bytes;
	if (conn->pending_len + len > cap) {
		/* A client pipelining more than one full request ahead is not
		 * waiting for answers; stop listening to it. */
		conn->peer_gone = true;
		return;
	}
	size_t c = conn->pending_len;
	grow_append(&conn->pending, &conn->pending_len, &c, data, len);
}

void http_conn_feed(struct http_conn *conn, const char *data, size_t len)
{
	if (conn->closed || conn->peer_gone || len == 0)
		return;
	if (conn->in_flight || conn->feeding) {
		conn_stash(conn, data, len);
		return;
	}
	conn->feeding = true;
	while (len > 0 && !conn->closed && !conn->in_flight) {
		size_t n = http_parser_execute(&conn->parser, &conn_settings, data, len);
		enum http_errno err = HTTP_PARSER_ERRNO(&conn->parser);
		data += n;
		len -= n;
		if (conn->message_done) {
			conn->message_done = false;
			http_parser_pause(&conn->parser, 0);
			conn_dispatch(conn);
			continue;
		}
		if (conn->reject_status)
			conn_fail(conn, conn->reject_status, conn->reject_reason);
		else if (err == HPE_HEADER_OVERFLOW)
			conn_fail(conn, 431, "request header too large");
		else if (err != HPE_OK)
			conn_fail(conn, 400, http_errno_description(err));
		else if (n == 0)
			break;
	}
	if (len > 0 && conn->in_flight && !conn->closed)
		conn_stash(conn, data, len);
	conn->feeding = false;
	/* A response that ended while we were parsing leaves pending bytes. */
	if (!conn->in_flight && !conn->closed && conn->pending_len > 0)
		conn_feed_pending(conn);
}

void http_conn_eof(struct http_conn *conn)
{
	conn->peer_gone = true;
	if (!conn->in_flight)
		conn_close(conn);
}

bool http_conn_busy(const struct http_conn *conn)
{
	return conn->in_flight;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_percent_decode(const char *in, size_t len, bool plus_is_space, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			int hi = i + 1 < len ? hex_value(in[i + 1]) : -1;
			int lo = i + 2 < len ? hex_value(in[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	if (cap == 0)
		return -1;
	out[n] = '\0';
	return (int)n;
}
