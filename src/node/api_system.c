/* api_system: /_ping, /version, /info and swarmnode's own /swarmnode/log-level. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "api_internal.h"
#include "sn_build_info.h"
#include "sn_git.h"
#include "swarmnode/log.h"

/* Reads KEY="value" from os-release into out; leaves out untouched if absent. */
static void os_release_value(const char *key, char *out, size_t len)
{
	FILE *f = fopen("/etc/os-release", "r");
	if (f == NULL)
		f = fopen("/usr/lib/os-release", "r");
	if (f == NULL)
		return;
	char line[512];
	size_t klen = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		char *v = line + klen + 1;
		v[strcspn(v, "\n")] = '\0';
		size_t n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		snprintf(out, len, "%s", v);
		break;
	}
	fclose(f);
}

/* The docker CLI prints Go's architecture names. */
static const char *go_arch(const char *machine)
{
	static const struct { const char *uname, *go; } map[] = {
		{"x86_64", "amd64"}, {"aarch64", "arm64"}, {"i686", "386"}, {"i386", "386"},
		{"armv7l", "arm"}, {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].uname, machine) == 0)
			return map[i].go;
	return machine;
}

void api_host_gather(struct api_host *host)
{
	uv_utsname_t u;
	size_t n = sizeof(host->hostname);
	memset(host, 0, sizeof(*host));
	if (uv_os_gethostname(host->hostname, &n) != 0)
		snprintf(host->hostname, sizeof(host->hostname), "unknown");
	if (uv_os_uname(&u) == 0) {
		snprintf(host->kernel, sizeof(host->kernel), "%s", u.release);
		snprintf(host->arch_uname, sizeof(host->arch_uname), "%.63s", u.machine);
		snprintf(host->arch_go, sizeof(host->arch_go), "%.31s", go_arch(u.machine));
	}
	snprintf(host->os_name, sizeof(host->os_name), "Linux");
	os_release_value("PRETTY_NAME", host->os_name, sizeof(host->os_name));
	os_release_value("VERSION_ID", host->os_version, sizeof(host->os_version));
	host->ncpu = uv_available_parallelism();
	host->mem_total = uv_get_total_memory();
}

static void h_ping(struct api *api, struct http_request *req, struct api_call *call)
{
	const struct http_header ping_headers[] = {
		{"Cache-Control", "no-cache, no-store, must-revalidate"},
		{"Pragma", "no-cache"},
		{"Swarm", api_swarm_ping_state(api)},
	};
	const char *body = req->head ? "" : "OK";
	http_respond(req, 200, "text/plain; charset=utf-8", ping_headers,
		     sizeof(ping_headers) / sizeof(ping_headers[0]), body, strlen(body));
}

static void h_version(struct api *api, struct http_request *req, struct api_call *call)
{
	(void)call;
	const struct api_host *h = &api->host;
	json_t *details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		"ApiVersion", API_VERSION, "Arch", h->arch_go, "Experimental", "false",
		"GitCommit", SN_GIT_COMMIT, "GoVersion", SN_COMPILER, "KernelVersion", h->kernel,
		"MinAPIVersion", API_MIN_VERSION, "Os", "linux");
	json_t *v = json_pack("{s:{s:s}, s:[{s:s, s:s, s:o}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		"Platform", "Name", "swarmnode",
		"Components", "Name", "Engine", "Version", SN_VERSION, "Details", details,
		"Version", SN_VERSION, "ApiVersion", API_VERSION, "MinAPIVersion", API_MIN_VERSION,
		"GitCommit", SN_GIT_COMMIT, "GoVersion", SN_COMPILER, "Os", "linux",
		"Arch", h->arch_go, "KernelVersion", h->kernel);
	api_reply_json(req, 200, v);
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream itself */
}

static void h_info(struct api *api, struct http_request *req, struct api_call *call)
{
	(void)call;
	const struct api_host *h = &api->host;
	char now[48];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	api_format_time((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, now, sizeof(now));
	json_t *swarm = api_swarm_info(api);
	/* The task runtime the daemon resolved at start (--runtime), in Docker's
	 * fields: one runtime, whose path is the engine's socket (exec: ""). */
	const char *runtime = config_runtime_name(api->config->runtime);
	json_t *runtimes = json_pack("{s:{s:s}}", runtime, "path", api->config->engine_socket);
	json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s,"
				 " s:b, s:i, s:s, s:[], s:b, s:o, s:o, s:s}",
		"ID", api->engine_id, "Name", h->hostname, "ServerVersion", SN_VERSION,
		"OperatingSystem", h->os_name, "OSVersion", h->os_version, "OSType", "linux",
		"KernelVersion", h->kernel, "Architecture", h->arch_uname,
		"DockerRootDir", api->config->data_dir,
		"NCPU", (json_int_t)h->ncpu, "MemTotal", (json_int_t)h->mem_total,
		"SystemTime", now, "IndexServerAddress", "",
		"Debug", log_min_level() == LOG_DEBUG, "NFd", count_open_fds(),
		"LoggingDriver", "", "Labels", "ExperimentalBuild", 0, "Swarm", swarm,
		"Runtimes", runtimes, "DefaultRuntime", runtime);
	/* Docker streams /info chunked; the CLI reads either framing. */
	char *text = json_dumps(info, JSON_COMPACT);
	json_decref(info);
	http_stream_begin(req, 200, "application/json", NULL, 0);
	http_stream_write(req, text, strlen(text));
	http_stream_write(req, "\n", 1);
	http_stream_end(req);
	free(text);
}

static void h_log_level_get(struct api *api, struct http_request *req, struct api_call *call)
{
	(void)api;
	(void)call;
	api_reply_json(req, 200, json_pack("{s:s}", "Level", log_level_name(log_min_level())));
}

static void h_log_level_set(struct api *api, struct http_request *req, struct api_call *call)
{
	(void)api;
	enum log_level level;
	json_t *v = call->body ? json_object_get(call->body, "Level") : NULL;
	if (!json_is_string(v)) {
		api_reply_error(req, 400, "Level is required: a string, one of debug, info, warn, error");
		return;
	}
	if (log_level_parse(json_string_value(v), &level) != 0) {
		api_reply_error(req, 400, "invalid log level \"%s\": must be one of debug, info, warn, error",
				json_string_value(v));
		return;
	}
	log_set_min_level(level);
	log_info("api", "log level changed", LF_STR("level", log_level_name(level)));
	api_reply_json(req, 200, json_pack("{s:s}", "Level", log_level_name(level)));
}

const struct api_route api_system_routes[] = {
	{"GET", "/_ping", h_ping, 0},
	{"HEAD", "/_ping", h_ping, 0},
	{"GET", "/version", h_version, 0},
	{"GET", "/info", h_info, 0},
	{"GET", "/swarmnode/log-level", h_log_level_get, 0},
	{"POST", "/swarmnode/log-level", h_log_level_set, API_JSON_BODY},
};
const size_t api_system_nroutes = sizeof(api_system_routes) / sizeof(api_system_routes[0]);
