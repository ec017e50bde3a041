/* curl_dl: libcurl, loaded on first use (see curl_dl.h for why). */
#include "swarmnode/curl_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define CURL_DL_LIBRARY "libcurl.so.4"

static const struct {
	const char *symbol;
	size_t offset;
} curl_dl_symbols[] = {
	{"curl_global_init", offsetof(struct curl_dl, global_init)},
	{"curl_global_cleanup", offsetof(struct curl_dl, global_cleanup)},
	{"curl_easy_init", offsetof(struct curl_dl, easy_init)},
	{"curl_easy_cleanup", offsetof(struct curl_dl, easy_cleanup)},
	{"curl_easy_reset", offsetof(struct curl_dl, easy_reset)},
	{"curl_easy_setopt", offsetof(struct curl_dl, easy_setopt)},
	{"curl_easy_perform", offsetof(struct curl_dl, easy_perform)},
	{"curl_easy_getinfo", offsetof(struct curl_dl, easy_getinfo)},
	{"curl_easy_strerror", offsetof(struct curl_dl, easy_strerror)},
	{"curl_easy_escape", offsetof(struct curl_dl, easy_escape)},
	{"curl_slist_append", offsetof(struct curl_dl, slist_append)},
	{"curl_slist_free_all", offsetof(struct curl_dl, slist_free_all)},
	{"curl_free", offsetof(struct curl_dl, free)},
	{"curl_multi_init", offsetof(struct curl_dl, multi_init)},
	{"curl_multi_cleanup", offsetof(struct curl_dl, multi_cleanup)},
	{"curl_multi_setopt", offsetof(struct curl_dl, multi_setopt)},
	{"curl_multi_add_handle", offsetof(struct curl_dl, multi_add_handle)},
	{"curl_multi_remove_handle", offsetof(struct curl_dl, multi_remove_handle)},
	{"curl_multi_socket_action", offsetof(struct curl_dl, multi_socket_action)},
	{"curl_multi_assign", offsetof(struct curl_dl, multi_assign)},
	{"curl_multi_info_read", offsetof(struct curl_dl, multi_info_read)},
	{"curl_multi_strerror", offsetof(struct curl_dl, multi_strerror)},
};

const struct curl_dl *curl_dl_get(char *err, size_t errlen)
{
	static struct curl_dl table;
	static int loaded; /* 0 not tried, 1 loaded, -1 failed */
	static char why[256];
	if (loaded == 0) {
		void *lib = dlopen(CURL_DL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
		loaded = lib ? 1 : -1;
		if (lib == NULL)
			snprintf(why, sizeof(why), "cannot load %s (install libcurl4): %s", CURL_DL_LIBRARY, dlerror());
		for (size_t i = 0; lib && i < sizeof(curl_dl_symbols) / sizeof(curl_dl_symbols[0]); i++) {
			void *sym = dlsym(lib, curl_dl_symbols[i].symbol);
			if (sym == NULL) {
				snprintf(why, sizeof(why), "%s lacks %s", CURL_DL_LIBRARY, curl_dl_symbols[i].symbol);
				loaded = -1;
				break;
			}
			/* POSIX guarantees a data pointer from dlsym converts to a function pointer. */
			memcpy((char *)&table + curl_dl_symbols[i].offset, &sym, sizeof(sym));
		}
	}
	if (loaded < 0) {
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	return &table;
}
