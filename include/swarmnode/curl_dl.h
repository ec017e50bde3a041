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
};

/* Loads libcurl.so.4 once and returns its function table, or NULL with the
 * reason in err (e.g. the library is not installed). The table stays valid
 * until the process exits. */
const struct curl_dl *curl_dl_get(char *err, size_t errlen);

#endif
