/* client: the CLI's connection to the daemon's control socket (libcurl over a Unix socket). */
#include "swarmnode/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/curl_dl.h"

#include "sn_build_info.h"
#include "swarmnode/api.h"

struct client_buf {
	char *data;
	size_t len;
};

static size_t client_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct client_buf *b = userdata;
	size_t n = size * nmemb;
	char *p = realloc(b->data, b->len + n + 1);
	if (p == NULL)
		return 0; /* makes curl fail the transfer */
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int client_init(struct client *c, const char *socket_path)
{
	memset(c, 0, sizeof(*c));
	if (strlen(socket_path) >= sizeof(c->socket_path)) {
		snprintf(c->error, sizeof(c->error), "socket path too long: %s", socket_path);
		return -1;
	}
	strcpy(c->socket_path, socket_path);
	c->curl_fns = curl_dl_get(c->error, sizeof(c->error));
	if (c->curl_fns == NULL)
		return -1;
	c->curl_fns->global_init(CURL_GLOBAL_DEFAULT);
	c->curl = c->curl_fns->easy_init();
	if (c->curl == NULL) {
		snprintf(c->error, sizeof(c->error), "cannot create an HTTP client");
		return -1;
	}
	return 0;
}

void client_close(struct client *c)
{
	if (c->curl_fns == NULL)
		return;
	if (c->curl)
		c->curl_fns->easy_cleanup(c->curl);
	c->curl = NULL;
	c->curl_fns->global_cleanup();
}

/* Takes the daemon's {"message": ...} into c->error, or the raw text. */
static void client_take_error(struct client *c, long status, const struct client_buf *b)
{
	json_t *j = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
	if (msg)
		snprintf(c->error, sizeof(c->error), "%s", msg);
	else if (b->len > 0)
		snprintf(c->error, sizeof(c->error), "%.*s", (int)strcspn(b->data, "\n"), b->data);
	else
		snprintf(c->error, sizeof(c->error), "HTTP status %ld", status);
	json_decref(j);
}

static long client_result(struct client *c, CURLcode cc, struct client_buf *b, json_t **out)
{
	long status = 0;
	if (cc == CURLE_COULDNT_CONNECT) {
		snprintf(c->error, sizeof(c->error),
			 "cannot connect to swarmnode at unix://%s: is the daemon running?", c->socket_path);
		return CLIENT_ECONNECT;
	}
	if (cc != CURLE_OK) {
		snprintf(c->error, sizeof(c->error), "request to swarmnode at unix://%s failed: %s",
			 c->socket_path, c->curl_fns->easy_strerror(cc));
		return CLIENT_ETRANSFER;
	}
	c->curl_fns->easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 400) {
		client_take_error(c, status, b);
		return status;
	}
	if (out && b->len > 0) {
		json_error_t jerr;
		*out = json_loadb(b->data, b->len, JSON_DECODE_ANY, &jerr);
		if (*out == NULL) {
			snprintf(c->error, sizeof(c->error), "invalid answer from the daemon: %s", jerr.text);
			return CLIENT_EDECODE;
		}
	}
	return status;
}

/* Sends one request and collects the answer's bytes into resp. */
static CURLcode client_perform(struct client *c, const char *method, const char *path, json_t *body,
			       size_t (*write)(char *, size_t, size_t, void *), void *write_data)
{
	char url[2048];
	struct curl_slist *headers = NULL;
	char *payload = NULL;
	snprintf(url, sizeof(url), "http://localhost/v%s%s", API_VERSION, path);
	const struct curl_dl *cu = c->curl_fns;
	CURL *h = c->curl;
	cu->easy_reset(h);
	cu->easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	cu->easy_setopt(h, CURLOPT_URL, url);
	cu->easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	cu->easy_setopt(h, CURLOPT_USERAGENT, "swarmnode-cli/" SN_VERSION);
	cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, write);
	cu->easy_setopt(h, CURLOPT_WRITEDATA, write_data);
	cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "HEAD") == 0)
		cu->easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		headers = cu->slist_append(headers, "Content-Type: application/json");
		cu->easy_setopt(h, CURLOPT_POSTFIELDS, payload);
	} else if (strcmp(method, "POST") == 0) {
		cu->easy_setopt(h, CURLOPT_POSTFIELDS, "");
	}
	cu->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	CURLcode cc = cu->easy_perform(h);
	cu->slist_free_all(headers);
	free(payload);
	return cc;
}

long client_call(struct client *c, const char *method, const char *path, json_t *body, json_t **out)
{
	struct client_buf resp = {0};
	if (out)
		*out = NULL;
	CURLcode cc = client_perform(c, method, path, body, client_collect, &resp);
	long rc = client_result(c, cc, &resp, out);
	free(resp.data);
	return rc;
}

/* A stream's transfer: a 2xx answer's bytes go to fn, any other is kept for its error. */
struct client_stream {
	struct client *c;
	client_stream_fn fn;
	void *data;
	struct client_buf error;   /* the body of a 4xx/5xx answer */
	bool stopped;              /* fn asked to stop */
};

static size_t client_stream_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct client_stream *st = userdata;
	long status = 0;
	st->c->curl_fns->easy_getinfo(st->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300)
		return client_collect(ptr, size, nmemb, &st->error);
	if (st->fn(st->data, ptr, size * nmemb) != 0) {
		st->stopped = true;
		return 0; /* makes curl end the transfer */
	}
	return size * nmemb;
}

long client_call_stream(struct client *c, const char *method, const char *path, client_stream_fn fn, void *data)
{
	struct client_stream st = { .c = c, .fn = fn, .data = data };
	CURLcode cc = client_perform(c, method, path, NULL, client_stream_write, &st);
	if (st.stopped)
		cc = CURLE_OK;
	long rc = client_result(c, cc, &st.error, NULL);
	free(st.error.data);
	return rc;
}
