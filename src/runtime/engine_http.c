/* engine_http: HTTP requests on the engine's Unix socket with libcurl's multi interface, its sockets and timer driven by the libuv loop. */
#include "engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/curl_dl.h"
#include "swarmnode/log.h"

/* libcurl tells which sockets to watch (socket_cb) and when to call it
 * back (timer_cb); each socket gets a uv_poll_t, the deadline one uv_timer_t,
 * and both feed curl_multi_socket_action. Finished transfers are collected
 * with curl_multi_info_read after every action (curl's multi-uv example).
 * libcurl forbids calling the multi handle from its own callbacks, so reply
 * callbacks run only from dispatch(), after socket_action has returned. */

struct engine_sock {
	uv_poll_t poll;               /* data = this */
	curl_socket_t fd;
	struct engine_http *h;
	struct engine_sock *next, *prev;
};

struct engine_call {
	struct engine_http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *body;                   /* the request body (owned), NULL if none */
	char *in;                     /* the answer so far (malloc'd) */
	size_t in_len, in_cap, in_max;
	bool too_big;
	engine_reply_cb cb;
	void *data;
	struct engine_call *next, *prev;
	char url[];                   /* http://engine/... */
};

struct engine_http {
	const struct curl_dl *curl;
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;             /* libcurl's deadline; data = this */
	struct engine_sock *socks;    /* watched sockets */
	struct engine_call *calls;    /* in flight */
	int handles_open;             /* uv handles not yet closed (the timer and polls) */
	bool dispatching;             /* inside dispatch(): freeing waits for its end */
	bool freeing;
	void (*on_freed)(void *data);
	void *freed_data;
	char socket_path[];
};

const char *engine_http_socket(const struct engine_http *h)
{
	return h->socket_path;
}

/* --- teardown ------------------------------------------------------------ */

static void handle_closed(uv_handle_t *hd)
{
	struct engine_http *h = hd->data;
	if ((uv_timer_t *)hd != &h->timer)
		free(hd); /* an engine_sock: the poll handle is its first member */
	if (--h->handles_open > 0)
		return;
	void (*on_freed)(void *) = h->on_freed;
	void *data = h->freed_data;
	free(h);
	if (on_freed != NULL)
		on_freed(data);
}

static void sock_close(struct engine_sock *s)
{
	struct engine_http *h = s->h;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->poll.data = h;
	uv_close((uv_handle_t *)&s->poll, handle_closed);
}

static void call_unlink_free(struct engine_call *c)
{
	struct engine_http *h = c->h;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	h->curl->multi_remove_handle(h->multi, c->easy);
	h->curl->easy_cleanup(c->easy);
	h->curl->slist_free_all(c->headers);
	free(c->body);
	free(c->in);
	free(c);
}

void engine_call_cancel(struct engine_call *c)
{
	call_unlink_free(c);
}

static void http_teardown(struct engine_http *h)
{
	while (h->calls != NULL)
		call_unlink_free(h->calls);
	/* The polls stop watching before libcurl closes the sockets of its
	 * cached connections, and libcurl must not call back into them. */
	while (h->socks != NULL)
		sock_close(h->socks);
	h->curl->multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, NULL);
	h->curl->multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, NULL);
	h->curl->multi_cleanup(h->multi);
	uv_close((uv_handle_t *)&h->timer, handle_closed);
}

void engine_http_free(struct engine_http *h, void (*on_freed)(void *data), void *data)
{
	if (h->freeing)
		return;
	h->freeing = true;
	h->on_freed = on_freed;
	h->freed_data = data;
	if (!h->dispatching)
		http_teardown(h);
}

/* --- finished transfers -------------------------------------------------- */

static void call_finish(struct engine_call *c, CURLcode result)
{
	struct engine_http *h = c->h;
	char error[512] = "";
	struct engine_reply r = {.status = 0, .body = "", .len = 0, .error = error};
	if (result == CURLE_OK) {
		h->curl->easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.body = c->in != NULL ? c->in : "";
		r.len = c->in_len;
	} else if (c->too_big) {
		r.too_big = true;
		snprintf(error, sizeof(error), "engine at %s: answer larger than %zu bytes", h->socket_path, c->in_max);
	} else {
		snprintf(error, sizeof(error), "engine at %s: %s", h->socket_path, h->curl->easy_strerror(result));
	}
	engine_reply_cb cb = c->cb;
	void *data = c->data;
	/* The answer stays alive through the callback; the call is unlinked
	 * first so that the callback may cancel others or free the client. */
	char *in = c->in;
	c->in = NULL;
	call_unlink_free(c);
	cb(data, &r);
	free(in);
}

static void dispatch(struct engine_http *h)
{
	CURLMsg *msg;
	int left;
	h->dispatching = true;
	while (!h->freeing && (msg = h->curl->multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct engine_call *c = NULL;
		h->curl->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		call_finish(c, msg->data.result);
	}
	h->dispatching = false;
	if (h->freeing)
		http_teardown(h);
}

static void socket_action(struct engine_http *h, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode mc = h->curl->multi_socket_action(h->multi, fd, flags, &running);
	if (mc != CURLM_OK)
		log_warn("engine", "curl_multi_socket_action failed", LF_STR("error", h->curl->multi_strerror(mc)));
	dispatch(h);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct engine_sock *s = p->data;
	int flags = 0;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	socket_action(s->h, s->fd, flags);
}

static void timer_fired(uv_timer_t *t)
{
	socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the deadline; 0 means "as soon as
 * possible", which must not be now (socket_action cannot be called from
 * here). */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct engine_http *h = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, timer_fired, (uint64_t)timeout_ms, 0);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching s. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct engine_http *h = userp;
	struct engine_sock *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			uv_poll_stop(&s->poll);
			h->curl->multi_assign(h->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL || uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
			free(s);
			return -1; /* libcurl fails the transfer */
		}
		s->fd = fd;
		s->h = h;
		s->poll.data = s;
		s->next = h->socks;
		if (h->socks != NULL)
			h->socks->prev = s;
		h->socks = s;
		h->handles_open++;
		h->curl->multi_assign(h->multi, fd, s);
	}
	int events = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&s->poll, events, poll_cb) != 0) {
		h->curl->multi_assign(h->multi, fd, NULL);
		sock_close(s);
		return -1;
	}
	return 0;
}

/* --- requests ------------------------------------------------------------ */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct engine_call *c = userdata;
	size_t n = size * nmemb;
	if (n > c->in_max - c->in_len) {
		c->too_big = true;
		return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (c->in_len + n + 1 > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 1024;
		while (cap < c->in_len + n + 1)
			cap *= 2;
		char *in = realloc(c->in, cap);
		if (in == NULL)
			return 0;
		c->in = in;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, ptr, n);
	c->in_len += n;
	c->in[c->in_len] = '\0';
	return n;
}

static int call_setup(struct engine_call *c, const char *method, const char *json, uint64_t timeout_ms)
{
	const struct curl_dl *cu = c->h->curl;
	CURL *e = c->easy;
	int bad = 0;
	bad |= cu->easy_setopt(e, CURLOPT_URL, c->url);
	bad |= cu->easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->h->socket_path);
	bad |= cu->easy_setopt(e, CURLOPT_PROXY, ""); /* no http_proxy from the environment */
	bad |= cu->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= cu->easy_setopt(e, CURLOPT_PRIVATE, (char *)c);
	bad |= cu->easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	bad |= cu->easy_setopt(e, CURLOPT_WRITEDATA, c);
	bad |= cu->easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	bad |= cu->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* Go's HTTP server answers Expect: 100-continue, but nothing is gained by waiting for it. */
	c->headers = cu->slist_append(NULL, "Expect:");
	if (c->headers != NULL && json != NULL) {
		struct curl_slist *l = cu->slist_append(c->headers, "Content-Type: application/json");
		c->headers = l != NULL ? l : c->headers;
		bad |= l == NULL;
	}
	bad |= c->headers == NULL;
	bad |= cu->easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	if (strcmp(method, "POST") == 0) {
		bad |= cu->easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(c->body ? strlen(c->body) : 0));
		bad |= cu->easy_setopt(e, CURLOPT_POSTFIELDS, c->body ? c->body : "");
	} else if (strcmp(method, "GET") != 0) {
		bad |= cu->easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	return bad ? -ENOMEM : 0;
}

struct engine_call *engine_http_send(struct engine_http *h, const char *method, const char *path, const char *json,
				     uint64_t timeout_ms, size_t max_body, engine_reply_cb cb, void *data)
{
	static const char origin[] = "http://engine";
	size_t url_len = sizeof(origin) + strlen(path);
	struct engine_call *c = calloc(1, sizeof(*c) + url_len);
	if (c == NULL)
		return NULL;
	snprintf(c->url, url_len, "%s%s", origin, path);
	c->h = h;
	c->cb = cb;
	c->data = data;
	c->in_max = max_body;
	c->easy = h->curl->easy_init();
	if (c->easy == NULL || (json != NULL && (c->body = strdup(json)) == NULL) ||
	    call_setup(c, method, json, timeout_ms) != 0 || h->curl->multi_add_handle(h->multi, c->easy) != CURLM_OK)
		goto err_after_alloc;
	c->next = h->calls;
	if (h->calls != NULL)
		h->calls->prev = c;
	h->calls = c;
	return c;
err_after_alloc:
	if (c->easy != NULL)
		h->curl->easy_cleanup(c->easy);
	if (c->headers != NULL)
		h->curl->slist_free_all(c->headers);
	free(c->body);
	free(c);
	return NULL;
}

char *engine_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *p = out;
	if (out == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~", ch) != NULL) {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

static const struct curl_dl *curl_loaded(char *err, size_t errlen);

static size_t ping_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	char *got = userdata;
	size_t n = size * nmemb, have = strlen(got);
	if (have + n >= 8)
		return 0; /* not the "OK" of a ping */
	memcpy(got + have, ptr, n);
	got[have + n] = '\0';
	return n;
}

int engine_http_ping_blocking(const char *socket_path, long timeout_ms)
{
	char why[256], got[8] = "";
	long status = 0;
	const struct curl_dl *cu = curl_loaded(why, sizeof(why));
	if (cu == NULL)
		return -ELIBACC;
	CURL *e = cu->easy_init();
	if (e == NULL)
		return -ENOMEM;
	int bad = 0;
	bad |= cu->easy_setopt(e, CURLOPT_URL, "http://engine/_ping");
	bad |= cu->easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	bad |= cu->easy_setopt(e, CURLOPT_PROXY, "");
	bad |= cu->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= cu->easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	bad |= cu->easy_setopt(e, CURLOPT_WRITEFUNCTION, ping_write);
	bad |= cu->easy_setopt(e, CURLOPT_WRITEDATA, got);
	if (bad == 0 && cu->easy_perform(e) == CURLE_OK)
		cu->easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	cu->easy_cleanup(e);
	return status == 200 && strcmp(got, "OK") == 0 ? 0 : -ECONNREFUSED;
}

/* --- the client ---------------------------------------------------------- */

static const struct curl_dl *curl_loaded(char *err, size_t errlen)
{
	static bool initialised;
	const struct curl_dl *cu = curl_dl_get(err, errlen);
	if (cu != NULL && !initialised) {
		/* Once per process, before any thread could race it. */
		if (cu->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "curl_global_init failed");
			return NULL;
		}
		initialised = true;
	}
	return cu;
}

int engine_http_new(uv_loop_t *loop, const char *socket_path, struct engine_http **out, char *err, size_t errlen)
{
	char why[256] = "";
	const struct curl_dl *cu = curl_loaded(why, sizeof(why));
	if (cu == NULL) {
		snprintf(err, errlen, "engine runtime: %s", why);
		return -ELIBACC;
	}
	size_t len = strlen(socket_path) + 1;
	struct engine_http *h = calloc(1, sizeof(*h) + len);
	if (h == NULL || (h->multi = cu->multi_init()) == NULL) {
		free(h);
		snprintf(err, errlen, "engine runtime: out of memory");
		return -ENOMEM;
	}
	memcpy(h->socket_path, socket_path, len);
	h->curl = cu;
	h->loop = loop;
	cu->multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	cu->multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	cu->multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	cu->multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	h->handles_open = 1;
	*out = h;
	return 0;
}
