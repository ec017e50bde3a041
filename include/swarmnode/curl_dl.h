/* curl_dl: libcurl, loaded on first use. Linking it would map libcurl and the
 * thirty libraries it depends on into every process, the daemon included, for
 * about 6 MB of resident memory per node; only HTTP clients (the CLI, and an
 * engine runtime talking to a container engine) pay for it this way. */
#ifndef SWARMNODE_CURL_DL_H
#define SWARMNODE_CURL_DL_H

#include <stddef.h>

#include <curl/curl.h>

/* The libcurl functions swarmnode uses, with libcurl's own signatures. */
struct curl_dl {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	char *(*easy_escape)(CURL *h, const char *s, int len);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
	void (*free)(void *p);
	/* The multi interface, for callers that drive transfers from an event loop. */
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *m);
	CURLMcode (*multi_setopt)(CURLM *m, CURLMoption opt, ...);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t s, int ev_bitmask, int *running_handles);
	CURLMcode (*multi_assign)(CURLM *m, curl_socket_t s, void *sockp);
	CURLMsg *(*multi_info_read)(CURLM *m, int *msgs_in_queue);
	const char *(*multi_strerror)(CURLMcode code);
};

/* Loads libcurl.so.4 once and returns its function table, or NULL with the
 * reason in err (e.g. the library is not installed). The table stays valid
 * until the process exits. */
const struct curl_dl *curl_dl_get(char *err, size_t errlen);

#endif
