/* api: routes, API-version prefixes, JSON bodies and Docker's error format. */
#include "swarmnode/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_internal.h"
#include "swarmnode/manager.h"
#include "swarmnode/store.h"
#include "sn_build_info.h"
#include "swarmnode/log.h"
#include "swarmnode/swarm.h"

struct api_route_group {
	const struct api_route *routes;
	const size_t *nroutes;
};

static const struct api_route_group api_groups[] = {
	{api_system_routes, &api_system_nroutes},
	{api_swarm_routes, &api_swarm_nroutes},
	{api_services_routes, &api_services_nroutes},
	{api_logs_routes, &api_logs_nroutes},
	{api_networks_routes, &api_networks_nroutes},
};

void api_init(struct api *api, const struct config *config, struct swarm *swarm, const char *engine_id)
{
	memset(api, 0, sizeof(*api));
	api->config = config;
	api->swarm = swarm;
	snprintf(api->engine_id, sizeof(api->engine_id), "%s", engine_id);
	api_host_gather(&api->host);
	snprintf(api->server_header, sizeof(api->server_header), "swarmnode/%s (linux)", SN_VERSION);
	api->always[0] = (struct http_header){"Api-Version", API_VERSION};
	api->always[1] = (struct http_header){"Docker-Experimental", "false"};
	api->always[2] = (struct http_header){"Ostype", "linux"};
	api->always[3] = (struct http_header){"Server", api->server_header};
}

void api_configure_http(struct api *api, struct http_config *config)
{
	config->always = api->always;
	config->nalways = sizeof(api->always) / sizeof(api->always[0]);
}

void api_reply_json(struct http_request *req, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	if (text == NULL) {
		http_respond_error(req, 500, "cannot encode the response");
		return;
	}
	size_t n = strlen(text);
	text[n] = '\n'; /* json_dumps leaves room: overwrite the NUL, length n+1 */
	http_respond(req, status, "application/json", NULL, 0, text, n + 1);
	free(text);
}

void api_reply_error(struct http_request *req, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_respond_error(req, status, msg);
}

void api_format_time(uint64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09uZ", (unsigned)(ms % 1000) * 1000000u);
}

bool api_query(const struct http_request *req, const char *name, char *buf, size_t len)
{
	size_t nlen = strlen(name);
	for (const char *p = req->query; *p;) {
		const char *end = p + strcspn(p, "&");
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *kend = eq ? eq : end;
		if ((size_t)(kend - p) == nlen && strncmp(p, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : end;
			if (http_percent_decode(v, (size_t)(end - v), true, buf, len) < 0 && len)
				buf[0] = '\0';
			return true;
		}
		p = *end ? end + 1 : end;
	}
	if (len)
		buf[0] = '\0';
	return false;
}

bool api_query_bool(const struct http_request *req, const char *name)
{
	char v[16];
	if (!api_query(req, name, v, sizeof(v)))
		return false;
	return !(v[0] == '\0' || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
		 strcasecmp(v, "none") == 0);
}

unsigned api_parse_version(const char *s, size_t len)
{
	unsigned major = 0, minor = 0;
	size_t i = 0, digits = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9' && digits < 3; i++, digits++)
		major = major * 10 + (unsigned)(s[i] - '0');
	if (digits == 0 || i >= len || s[i] != '.')
		return 0;
	i++;
	digits = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9' && digits < 2; i++, digits++)
		minor = minor * 10 + (unsigned)(s[i] - '0');
	if (digits == 0 || i != len)
		return 0;
	return major * 100 + minor;
}

/* Strips a "/vX.YZ" prefix. Returns the path without it, or NULL after
 * answering a version we do not serve. */
static const char *api_strip_version(struct http_request *req, unsigned *version)
{
	const char *path = req->path;
	*version = 0;
	if (strncmp(path, "/v", 2) != 0)
		return path;
	const char *end = strchr(path + 2, '/');
	size_t len = end ? (size_t)(end - (path + 2)) : strlen(path + 2);
	unsigned v = api_parse_version(path + 2, len);
	if (v == 0)
		return path; /* not a version prefix; routing will decide */
	if (v > API_VERSION_NUM) {
		api_reply_error(req, 400, "client version %.*s is too new. Maximum supported API version is %s",
				(int)len, path + 2, API_VERSION);
		return NULL;
	}
	if (v < API_MIN_VERSION_NUM) {
		api_reply_error(req, 400, "client version %.*s is too old. Minimum supported API version is %s, "
				"please upgrade your client to a newer version", (int)len, path + 2, API_MIN_VERSION);
		return NULL;
	}
	*version = v;
	return end ? end : "/";
}

/* Where a placeholder's value ends in s: at the next '/', or for a
 * "{name*}" placeholder (image names hold slashes) where the rest of the
 * pattern, tail, begins at the end of s; s itself when tail does not fit. */
static const char *api_placeholder_end(const char *s, const char *pend, const char *tail)
{
	if (pend[-1] != '*')
		return s + strcspn(s, "/");
	size_t slen = strlen(s), tlen = strlen(tail);
	return slen > tlen && strcmp(s + slen - tlen, tail) == 0 ? s + slen - tlen : s;
}

/* Matches path against pattern, filling call->params with the decoded
 * placeholders. Returns true on a match. */
static bool api_match(const char *pattern, const char *path, struct api_call *call)
{
	char buf[2048];
	size_t used = 0, nparams = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *pend = strchr(p, '}');
			size_t n = pend ? (size_t)(api_placeholder_end(s, pend, pend + 1) - s) : 0;
			if (n == 0 || pend == NULL || nparams == 4 || used + n + 1 > sizeof(buf))
				return false;
			memcpy(buf + used, s, n);
			buf[used + n] = '\0';
			used += n + 1;
			nparams++;
			p = pend + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (*p || *s)
		return false;
	free(call->param_buf);
	call->param_buf = malloc(used ? used : 1);
	if (call->param_buf == NULL)
		abort();
	/* Placeholders are percent-decoded: a name may carry ':' or spaces. Decoding
	 * never lengthens a string, so each fits where its encoded form was. */
	size_t off = 0;
	for (size_t i = 0; i < nparams; i++) {
		size_t enc = strlen(buf + off);
		if (http_percent_decode(buf + off, enc, false, call->param_buf + off, enc + 1) < 0)
			return false;
		call->params[i] = call->param_buf + off;
		off += enc + 1;
	}
	return true;
}

/* Docker checks the media type before decoding a body (CheckForJSON). */
static bool api_is_json(const char *content_type)
{
	if (content_type == NULL)
		return false;
	size_t n = strcspn(content_type, ";");
	while (n > 0 && content_type[n - 1] == ' ')
		n--;
	return n == 16 && strncasecmp(content_type, "application/json", 16) == 0;
}

static bool api_decode_body(struct http_request *req, struct api_call *call)
{
	if (req->body_len == 0)
		return true;
	const char *ct = http_request_header(req, "Content-Type");
	if (!api_is_json(ct)) {
		api_reply_error(req, 400, "unsupported Content-Type header (%s): must be 'application/json'",
				ct ? ct : "");
		return false;
	}
	json_error_t jerr;
	call->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (call->body == NULL) {
		api_reply_error(req, 400, "invalid JSON: %s at line %d column %d", jerr.text, jerr.line,
				jerr.column);
		return false;
	}
	return true;
}

static void api_route(struct api *api, struct http_request *req, struct api_call *call)
{
	const char *path = api_strip_version(req, &call->version);
	if (path == NULL)
		return;
	const char *allowed = NULL;
	for (size_t g = 0; g < sizeof(api_groups) / sizeof(api_groups[0]); g++) {
		for (size_t i = 0; i < *api_groups[g].nroutes; i++) {
			const struct api_route *r = &api_groups[g].routes[i];
			if (!api_match(r->pattern, path, call))
				continue;
			if (strcmp(r->method, req->method) != 0) {
				allowed = r->method;
				continue;
			}
			if ((r->flags & API_JSON_BODY) && !api_decode_body(req, call))
				return;
			r->handler(api, req, call);
			return;
		}
	}
	if (allowed)
		api_reply_error(req, 405, "method %s is not allowed on %s", req->method, path);
	else
		api_reply_error(req, 404, "page not found");
}

void api_handle(void *data, struct http_request *req)
{
	struct api *api = data;
	struct api_call call = {0};
	log_debug("api", "request", LF_STR("method", req->method), LF_STR("target", req->target));
	api_route(api, req, &call);
	json_decref(call.body);
	free(call.param_buf);
}

int api_write_status(int status)
{
	switch (status) {
	case STORE_E_CONFLICT:
	case STORE_E_NAME_CONFLICT:
	case STORE_E_EXISTS:
		return 409;
	case STORE_E_NOT_FOUND:
		return 404;
	case STORE_E_MALFORMED:
	case STORE_E_INVALID:
	case STORE_E_TOO_BIG:
	case STORE_E_AMBIGUOUS:
		return 400;
	case MANAGER_E_NO_LEADER:
	case MANAGER_E_TIMEDOUT:
	case MANAGER_E_LOST:
	case MANAGER_E_STOPPED:
		return 503;
	default:
		return 500;
	}
}

/* --- shared by the handlers that read or write the cluster store --------------------- */

/* Docker's words for a node that cannot answer cluster questions. */
#define MSG_NOT_MANAGER_INACTIVE                                                                       \
	"This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect " \
	"this node to swarm and try again."
#define MSG_NOT_MANAGER_WORKER                                                                         \
	"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. "  \
	"Please run this command on a manager node or promote the current node to a manager."

bool api_require_manager(struct api *api, struct http_request *req)
{
	if (swarm_is_manager(api->swarm))
		return true;
	http_respond_error(req, 503, api->swarm->state == SWARM_ACTIVE ? MSG_NOT_MANAGER_WORKER
									: MSG_NOT_MANAGER_INACTIVE);
	return false;
}

struct read_wait {
	struct api *api;
	struct http_request *req;
	api_read_fn then;
	json_t *body;      /* the request's body, kept for the handler */
	char ref[256];     /* the {id} of the route */
};

static void read_ready(void *data, int status)
{
	struct read_wait *w = data;
	if (status == 0)
		w->then(w->api, w->req, w->body, w->ref);
	else
		api_reply_error(w->req, 503, "%s", MANAGER_MSG_NO_LEADER);
	json_decref(w->body);
	free(w);
}

void api_after_read_barrier(struct api *api, struct http_request *req, struct api_call *call, api_read_fn then)
{
	if (!api_require_manager(api, req))
		return;
	struct read_wait *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		api_reply_error(req, 500, "out of memory");
		return;
	}
	*w = (struct read_wait){ .api = api, .req = req, .then = then, .body = json_incref(call->body) };
	snprintf(w->ref, sizeof(w->ref), "%s", call->params[0] ? call->params[0] : "");
	int rc = api->swarm->manager ? manager_read(api->swarm->manager, read_ready, w) : MANAGER_E_STOPPED;
	if (rc != 0) {
		json_decref(w->body);
		free(w);
		api_reply_error(req, 503, "%s", MANAGER_MSG_NO_LEADER);
	}
}

int64_t api_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct propose_wait {
	struct http_request *req;
	int ok_status;
	json_t *ok_body; /* NULL: an empty body */
};

static void propose_done(void *data, int status, const char *message, uint64_t index)
{
	struct propose_wait *w = data;
	(void)index;
	if (status != 0) {
		api_reply_error(w->req, api_write_status(status), "%s", message);
		json_decref(w->ok_body);
	} else if (w->ok_body != NULL) {
		api_reply_json(w->req, w->ok_status, w->ok_body);
	} else {
		http_respond(w->req, w->ok_status, "application/json", NULL, 0, "", 0);
	}
	free(w);
}

void api_propose(struct api *api, struct http_request *req, struct store_txn *txn, int ok_status, json_t *ok_body)
{
	uint8_t *bytes = NULL;
	size_t len;
	struct propose_wait *w = malloc(sizeof(*w));
	int rc = w == NULL ? -ENOMEM : store_txn_encode(txn, &bytes, &len);
	if (rc == 0) {
		*w = (struct propose_wait){ .req = req, .ok_status = ok_status, .ok_body = ok_body };
		rc = manager_write(api->swarm->manager, bytes, len, propose_done, w);
	}
	free(bytes);
	if (rc == 0)
		return;
	free(w);
	json_decref(ok_body);
	api_reply_error(req, rc == -ENOMEM ? 500 : api_write_status(rc), "%s",
			rc == MANAGER_E_STOPPED ? "this manager is stopping"
			: rc == STORE_E_TOO_BIG ? "the change is larger than a store transaction may be"
						: "cannot propose the change");
}
