/* cmd_service: service create, ls, ps, inspect, rm, scale, update, rollback and logs, as docker does them. */
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "swarmnode/curl_dl.h"
#include "swarmnode/log_stream.h"
#include "swarmnode/service_logs.h"
#include "swarmnode/service_progress.h"
#include "swarmnode/table.h"

/* docker's CLI polls a converging service this often. */
#define POLL_INTERVAL_MS 200
/* A verification window when the service gives none (swarmkit's default Monitor). */
#define DEFAULT_MONITOR_NS 5000000000LL
/* A restart delay when the service gives none (swarmkit's default). */
#define DEFAULT_RESTART_DELAY_NS 5000000000LL
/* docker's ps shortens errors to this many characters. */
#define PS_ERR_MAX 30

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static json_t *jobj(json_t *parent, const char *key)
{
	json_t *v = json_object_get(parent, key);
	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(parent, key, v);
	}
	return v;
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "/services/<ref escaped><suffix>". */
static void object_path(struct cli *cli, const char *kind, const char *ref, const char *suffix, char *out,
			size_t len)
{
	struct client *c = cli_client(cli);
	char *esc = c->curl_fns->easy_escape(c->curl, ref, 0);
	snprintf(out, len, "/%s/%s%s", kind, esc ? esc : ref, suffix);
	c->curl_fns->free(esc);
}

/* Appends ?filters=<escaped JSON> to path. */
static void filter_query(struct cli *cli, char *path, size_t len, json_t *filters)
{
	struct client *c = cli_client(cli);
	char *text = json_dumps(filters, JSON_COMPACT);
	char *esc = text ? c->curl_fns->easy_escape(c->curl, text, 0) : NULL;
	size_t used = strlen(path);
	snprintf(path + used, len - used, "%sfilters=%s", strchr(path, '?') ? "&" : "?", esc ? esc : "");
	c->curl_fns->free(esc);
	free(text);
}

static int get_service(struct cli *cli, const char *ref, bool defaults, json_t **out)
{
	char path[512];
	object_path(cli, "services", ref, defaults ? "?insertDefaults=true" : "?insertDefaults=false", path,
		    sizeof(path));
	return cli_call(cli, "GET", path, NULL, out);
}

static int usage_error(const char *flag, const char *value, const char *why)
{
	cli_errorf("invalid argument \"%s\" for \"%s\" flag: %s", value, flag, why);
	return CLI_USAGE;
}

/* ---- flag values --------------------------------------------------------------------- */

/* Go's time.ParseDuration: "1h30m", "10s", "250ms", "0". */
static int parse_duration(const char *s, int64_t *out)
{
	static const struct { const char *unit; double ns; } units[] = {
		{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	double total = 0;
	const char *p = s;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*p == '\0')
		return -EINVAL;
	while (*p) {
		char *end;
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -EINVAL;
		double v = strtod(p, &end);
		if (end == p)
			return -EINVAL;
		size_t best = 0, best_len = 0;
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			size_t n = strlen(units[u].unit);
			if (strncmp(end, units[u].unit, n) == 0 && n > best_len) {
				best = u;
				best_len = n;
			}
		}
		if (best_len == 0)
			return -EINVAL;
		total += v * units[best].ns;
		p = end + best_len;
	}
	if (total > 9.2e18)
		return -ERANGE;
	*out = (int64_t)(total + 0.5); /* total >= 0: every part is */
	return 0;
}

/* docker's RAMInBytes: "512m", "1g", "1.5GiB", "4096" (binary multiples). */
static int parse_bytes(const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0 || !isdigit((unsigned char)*s))
		return -EINVAL;
	while (*end == ' ')
		end++;
	static const char units[] = "bkmgtp";
	const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
	double mult = 1;
	if (*end) {
		if (u == NULL)
			return -EINVAL;
		for (const char *k = units; k < u; k++)
			mult *= 1024;
		end++;
		if (u != units && (*end == 'i' || *end == 'I'))
			end++;
		if (u != units && (*end == 'b' || *end == 'B'))
			end++;
	}
	if (*end != '\0' || v * mult > 9.2e18)
		return -EINVAL;
	*out = (int64_t)(v * mult);
	return 0;
}

/* "0.5" CPUs into nano CPUs. */
static int parse_cpus(const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || v < 0 || v > 1e9 || !isdigit((unsigned char)*s))
		return -EINVAL;
	*out = (int64_t)(v * 1e9 + 0.5); /* v >= 0 */
	return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_port_number(const char *s, size_t n, json_int_t *out)
{
	char buf[16];
	uint64_t v;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (parse_uint(buf, 65535, &v) != 0)
		return -EINVAL;
	*out = (json_int_t)v;
	return 0;
}

/* Long syntax: "mode=host,target=80,published=8080,protocol=udp". */
static int parse_publish_long(const char *s, json_t *port, char *why, size_t whylen)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		json_int_t n;
		if (eq == NULL)
			return snprintf(why, whylen, "invalid field \"%s\": expected key=value", kv), -EINVAL;
		*eq++ = '\0';
		if (strcmp(kv, "mode") == 0 && (strcmp(eq, "host") == 0 || strcmp(eq, "ingress") == 0))
			json_object_set_new(port, "PublishMode", json_string(eq));
		else if (strcmp(kv, "protocol") == 0 && (!strcmp(eq, "tcp") || !strcmp(eq, "udp") || !strcmp(eq, "sctp")))
			json_object_set_new(port, "Protocol", json_string(eq));
		else if ((strcmp(kv, "target") == 0 || strcmp(kv, "published") == 0) &&
			 parse_port_number(eq, strlen(eq), &n) == 0)
			json_object_set_new(port, strcmp(kv, "target") == 0 ? "TargetPort" : "PublishedPort",
					    json_integer(n));
		else
			return snprintf(why, whylen, "invalid value \"%s\" for %s", eq, kv), -EINVAL;
	}
	if (json_integer_value(json_object_get(port, "TargetPort")) == 0)
		return snprintf(why, whylen, "missing target port"), -EINVAL;
	return 0;
}

/* "[published:]target[/protocol]" or the long syntax, into a PortConfig (new reference). */
static json_t *parse_publish(const char *s, char *why, size_t whylen)
{
	json_t *port = json_pack("{s:s, s:i, s:i, s:s}", "Protocol", "tcp", "TargetPort", 0, "PublishedPort", 0,
				 "PublishMode", "ingress");
	json_int_t target, published = 0;
	int rc;
	if (strchr(s, '=') != NULL) {
		rc = parse_publish_long(s, port, why, whylen);
	} else {
		const char *slash = strchr(s, '/'), *colon = strchr(s, ':');
		size_t end = slash ? (size_t)(slash - s) : strlen(s);
		if (slash && strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp") && strcmp(slash + 1, "sctp"))
			return snprintf(why, whylen, "invalid protocol \"%s\"", slash + 1), json_decref(port), NULL;
		if (slash)
			json_object_set_new(port, "Protocol", json_string(slash + 1));
		rc = colon && (size_t)(colon - s) < end
			     ? parse_port_number(s, (size_t)(colon - s), &published) |
				       parse_port_number(colon + 1, end - (size_t)(colon - s) - 1, &target)
			     : parse_port_number(s, end, &target);
		if (rc != 0 || target == 0)
			snprintf(why, whylen, "expected [published:]target[/protocol] with ports 1-65535 (ranges and "
				 "host addresses are not supported)");
		else {
			json_object_set_new(port, "TargetPort", json_integer(target));
			json_object_set_new(port, "PublishedPort", json_integer(published));
		}
		rc = rc != 0 || target == 0 ? -EINVAL : 0;
	}
	if (rc != 0) {
		json_decref(port);
		return NULL;
	}
	return port;
}

/* ---- options shared by create and update --------------------------------------------- */

/* Where the shared settings sit in a command's option table (-1: not there). */
struct setting_index {
	int replicas, restart_cond, restart_delay, restart_max, restart_window, upd_par, upd_delay, upd_fail,
	    upd_monitor, upd_order, limit_cpu, limit_mem, res_cpu, res_mem, stop_grace, workdir, user, hostname;
};

/* A duration option into obj[key]. */
static int set_duration(const struct cli_args *a, int idx, const char *flag, json_t *obj, const char *key)
{
	int64_t ns;
	if (idx < 0 || a->value[idx] == NULL)
		return 0;
	if (parse_duration(a->value[idx], &ns) != 0)
		return usage_error(flag, a->value[idx], "expected a duration such as 10s, 1m30s or 500ms");
	json_object_set_new(obj, key, json_integer(ns));
	return 0;
}

static int set_resource(const struct cli_args *a, int idx, const char *flag, json_t *tt, const char *part,
			bool cpu)
{
	int64_t v;
	if (idx < 0 || a->value[idx] == NULL)
		return 0;
	if ((cpu ? parse_cpus(a->value[idx], &v) : parse_bytes(a->value[idx], &v)) != 0)
		return usage_error(flag, a->value[idx], cpu ? "expected a number of CPUs such as 0.5"
							    : "expected a size such as 512m or 1g");
	json_object_set_new(jobj(jobj(tt, "Resources"), part), cpu ? "NanoCPUs" : "MemoryBytes", json_integer(v));
	return 0;
}

static int set_string(const struct cli_args *a, int idx, json_t *obj, const char *key)
{
	if (idx >= 0 && a->value[idx] != NULL)
		json_object_set_new(obj, key, json_string(a->value[idx]));
	return 0;
}

static int set_uint(const struct cli_args *a, int idx, const char *flag, json_t *obj, const char *key)
{
	uint64_t v;
	if (idx < 0 || a->value[idx] == NULL)
		return 0;
	if (parse_uint(a->value[idx], INT64_MAX, &v) != 0)
		return usage_error(flag, a->value[idx], "expected a non-negative integer");
	json_object_set_new(obj, key, json_integer((json_int_t)v));
	return 0;
}

/* Applies every shared setting the user gave to spec. Returns CLI_OK or CLI_USAGE. */
static int apply_settings(const struct cli_args *a, const struct setting_index *ix, json_t *spec)
{
	json_t *tt = jobj(spec, "TaskTemplate"), *cs = jobj(tt, "ContainerSpec");
	int rc = 0;
	if (ix->replicas >= 0 && a->value[ix->replicas] != NULL) {
		if (json_object_get(json_object_get(spec, "Mode"), "Global"))
			return cli_errorf("replicas can only be used with replicated mode"), CLI_USAGE;
		rc |= set_uint(a, ix->replicas, "--replicas", jobj(jobj(spec, "Mode"), "Replicated"), "Replicas");
	}
	if (ix->restart_cond >= 0 && a->value[ix->restart_cond] != NULL) {
		const char *c = a->value[ix->restart_cond];
		if (strcmp(c, "none") && strcmp(c, "on-failure") && strcmp(c, "any"))
			return usage_error("--restart-condition", c, "expected none, on-failure or any");
		json_object_set_new(jobj(tt, "RestartPolicy"), "Condition", json_string(c));
	}
	rc |= set_duration(a, ix->restart_delay, "--restart-delay", jobj(tt, "RestartPolicy"), "Delay");
	rc |= set_uint(a, ix->restart_max, "--restart-max-attempts", jobj(tt, "RestartPolicy"), "MaxAttempts");
	rc |= set_duration(a, ix->restart_window, "--restart-window", jobj(tt, "RestartPolicy"), "Window");
	rc |= set_uint(a, ix->upd_par, "--update-parallelism", jobj(spec, "UpdateConfig"), "Parallelism");
	rc |= set_duration(a, ix->upd_delay, "--update-delay", jobj(spec, "UpdateConfig"), "Delay");
	rc |= set_string(a, ix->upd_fail, jobj(spec, "UpdateConfig"), "FailureAction");
	rc |= set_duration(a, ix->upd_monitor, "--update-monitor", jobj(spec, "UpdateConfig"), "Monitor");
	rc |= set_string(a, ix->upd_order, jobj(spec, "UpdateConfig"), "Order");
	rc |= set_resource(a, ix->limit_cpu, "--limit-cpu", tt, "Limits", true);
	rc |= set_resource(a, ix->limit_mem, "--limit-memory", tt, "Limits", false);
	rc |= set_resource(a, ix->res_cpu, "--reserve-cpu", tt, "Reservations", true);
	rc |= set_resource(a, ix->res_mem, "--reserve-memory", tt, "Reservations", false);
	rc |= set_duration(a, ix->stop_grace, "--stop-grace-period", cs, "StopGracePeriod");
	rc |= set_string(a, ix->workdir, cs, "Dir") | set_string(a, ix->user, cs, "User") |
	      set_string(a, ix->hostname, cs, "Hostname");
	/* Sections no flag touched stay absent: the daemon fills their defaults. */
	if (json_object_size(json_object_get(spec, "UpdateConfig")) == 0)
		json_object_del(spec, "UpdateConfig");
	if (json_object_size(json_object_get(tt, "RestartPolicy")) == 0)
		json_object_del(tt, "RestartPolicy");
	return rc ? CLI_USAGE : CLI_OK;
}

/* "KEY=VALUE" items (repeatable option) into an object. */
static void set_labels(json_t *labels, const char *const *items)
{
	for (; items && *items; items++) {
		const char *eq = strchr(*items, '=');
		char key[256];
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - *items) : (int)strlen(*items), *items);
		json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
	}
}

static json_t *string_array(const char *const *items)
{
	json_t *a = json_array();
	for (; items && *items; items++)
		json_array_append_new(a, json_string(*items));
	return a;
}

static int add_ports(json_t *spec, const char *const *items, const char *flag)
{
	char why[256];
	json_t *ports = json_object_get(jobj(spec, "EndpointSpec"), "Ports");
	if (!json_is_array(ports)) {
		ports = json_array();
		json_object_set_new(json_object_get(spec, "EndpointSpec"), "Ports", ports);
	}
	for (; items && *items; items++) {
		json_t *p = parse_publish(*items, why, sizeof(why));
		if (p == NULL)
			return usage_error(flag, *items, why);
		json_array_append_new(ports, p);
	}
	return CLI_OK;
}

/* ---- progress ------------------------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t spec_ns(const json_t *service, const char *section, const char *sub, const char *key, int64_t dflt)
{
	json_t *obj = json_object_get(json_object_get(service, "Spec"), section);
	if (sub)
		obj = json_object_get(obj, sub);
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* Draws the poll's text: redrawn in place on a terminal, printed when it changed otherwise. */
struct screen {
	bool tty;
	int lines;       /* lines drawn last time (tty) */
	char *last;      /* text printed last time (not a tty) */
};

static void screen_show(struct screen *s, const char *text)
{
	if (s->tty) {
		for (int i = 0; i < s->lines; i++)
			fputs("\033[1A\033[2K", stdout);
		fputs(text, stdout);
		s->lines = 0;
		for (const char *p = text; *p; p++)
			s->lines += *p == '\n';
	} else if (s->last == NULL || strcmp(s->last, text) != 0) {
		fputs(text, stdout);
		free(s->last);
		s->last = strdup(text);
	}
	fflush(stdout);
}

/* One poll: the service, its up-to-date tasks, the nodes. */
static int poll_once(struct cli *cli, const char *ref, json_t **service, json_t **tasks, json_t **nodes)
{
	char path[1024];
	*tasks = *nodes = NULL;
	int rc = get_service(cli, ref, false, service);
	if (rc != CLI_OK)
		return rc;
	json_t *filters = json_pack("{s:{s:b}, s:{s:b}}", "_up-to-date", "true", 1, "service", jstr(*service, "ID"), 1);
	snprintf(path, sizeof(path), "/tasks");
	filter_query(cli, path, sizeof(path), filters);
	json_decref(filters);
	if ((rc = cli_call(cli, "GET", path, NULL, tasks)) == CLI_OK)
		rc = cli_call(cli, "GET", "/nodes", NULL, nodes);
	return rc;
}

/* An update the orchestrator paused ends the wait with its message. */
static int update_paused(const json_t *service)
{
	json_t *us = json_object_get(service, "UpdateStatus");
	const char *state = jstr(us, "State");
	if (strcmp(state, "paused") == 0)
		return fprintf(stderr, "service update paused: %s\n", jstr(us, "Message")), 1;
	if (strcmp(state, "rollback_paused") == 0)
		return fprintf(stderr, "service rollback paused: %s\n", jstr(us, "Message")), 1;
	return 0;
}

/* How the wait stands after one poll. */
struct wait_state {
	int64_t stable_since;  /* monotonic ns since every slot runs, -1 if not */
	int64_t failing_since; /* since no slot can progress (all failed or running), -1 if not */
};

/* Renders p and the verify line; returns 1 when converged long enough, -1 when failed, 0 to go on. */
static int judge(const json_t *service, const struct service_progress *p, struct wait_state *w, bool bars,
		 const char *ref, FILE *out)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);
	service_progress_render(p, bars, out);
	if (!service_progress_converged(p)) {
		w->stable_since = -1;
		bool stuck = p->failed > 0 && p->failed + p->running >= p->desired;
		w->failing_since = stuck ? (w->failing_since < 0 ? now : w->failing_since) : -1;
		bool no_restart = strcmp(jstr(json_object_get(json_object_get(json_object_get(service, "Spec"),
			"TaskTemplate"), "RestartPolicy"), "Condition"), "none") == 0;
		int64_t grace = no_restart ? 0 : spec_ns(service, "TaskTemplate", "RestartPolicy", "Delay",
							 DEFAULT_RESTART_DELAY_NS) + DEFAULT_MONITOR_NS;
		return stuck && now - w->failing_since >= grace ? -1 : 0;
	}
	w->failing_since = -1;
	if (w->stable_since < 0)
		w->stable_since = now;
	int64_t left = spec_ns(service, "UpdateConfig", NULL, "Monitor", DEFAULT_MONITOR_NS) - (now - w->stable_since);
	if (left <= 0) {
		fprintf(out, "verify: Service %s converged\n", ref);
		return 1;
	}
	fprintf(out, "verify: Waiting %lld seconds to verify that tasks are stable...\n",
		(long long)((left + 999999999) / 1000000000));
	return 0;
}

/* Polls until the service converges (0), its tasks fail or an update pauses (1). */
static int wait_converged(struct cli *cli, const char *ref, bool quiet)
{
	struct screen scr = {.tty = isatty(STDOUT_FILENO) != 0};
	struct wait_state w = {-1, -1};
	int verdict = 0, rc;
	while (verdict == 0) {
		json_t *service = NULL, *tasks = NULL, *nodes = NULL;
		struct service_progress p;
		char *text = NULL;
		size_t len = 0;
		if ((rc = poll_once(cli, ref, &service, &tasks, &nodes)) != CLI_OK || (rc = update_paused(service)) != 0 ||
		    service_progress_compute(service, tasks, nodes, &p) != 0) {
			json_decref(service);
			json_decref(tasks);
			json_decref(nodes);
			free(scr.last);
			return rc ? rc : CLI_ERROR;
		}
		FILE *mem = open_memstream(&text, &len);
		verdict = judge(service, &p, &w, scr.tty, ref, mem);
		if (verdict < 0)
			fprintf(mem, "%zu of %zu tasks failed: %s\n", p.failed, p.desired, p.nslots ? p.slots[0].err : "");
		fclose(mem);
		if (!quiet)
			screen_show(&scr, text);
		free(text);
		service_progress_release(&p);
		json_decref(service);
		json_decref(tasks);
		json_decref(nodes);
		if (verdict == 0)
			sleep_ms(POLL_INTERVAL_MS);
	}
	free(scr.last);
	return verdict > 0 ? CLI_OK : CLI_ERROR;
}

/* ---- create ------------------------------------------------------------------------------ */

enum {
	C_NAME, C_REPLICAS, C_MODE, C_PUBLISH, C_ENV, C_LABEL, C_CONTAINER_LABEL, C_CONSTRAINT, C_RESTART_COND,
	C_RESTART_DELAY, C_RESTART_MAX, C_RESTART_WINDOW, C_UPD_PAR, C_UPD_DELAY, C_UPD_FAIL, C_UPD_MONITOR,
	C_UPD_ORDER, C_LIMIT_CPU, C_LIMIT_MEM, C_RES_CPU, C_RES_MEM, C_STOP_GRACE, C_WORKDIR, C_USER, C_HOSTNAME,
	C_ENDPOINT_MODE, C_DETACH, C_QUIET,
};

static const struct cli_option create_options[] = {
	[C_NAME] = {"name", 0, "string", "service name"},
	[C_REPLICAS] = {"replicas", 0, "uint", "number of tasks"},
	[C_MODE] = {"mode", 0, "string", "service mode: replicated or global (default replicated)"},
	[C_PUBLISH] = {"publish", 'p', "port", "publish a port: [published:]target[/proto] or mode=host,target=80,..."},
	[C_ENV] = {"env", 'e', "list", "set an environment variable (NAME=VALUE)"},
	[C_LABEL] = {"label", 'l', "list", "service label (KEY=VALUE)"},
	[C_CONTAINER_LABEL] = {"container-label", 0, "list", "task label (KEY=VALUE)"},
	[C_CONSTRAINT] = {"constraint", 0, "list", "placement constraint (node.role==manager)"},
	[C_RESTART_COND] = {"restart-condition", 0, "string", "restart when: none, on-failure or any"},
	[C_RESTART_DELAY] = {"restart-delay", 0, "duration", "delay between restart attempts"},
	[C_RESTART_MAX] = {"restart-max-attempts", 0, "uint", "maximum number of restarts before giving up"},
	[C_RESTART_WINDOW] = {"restart-window", 0, "duration", "window used to evaluate the restart policy"},
	[C_UPD_PAR] = {"update-parallelism", 0, "uint", "tasks updated at once (0 for all)"},
	[C_UPD_DELAY] = {"update-delay", 0, "duration", "delay between updates"},
	[C_UPD_FAIL] = {"update-failure-action", 0, "string", "pause, continue or rollback"},
	[C_UPD_MONITOR] = {"update-monitor", 0, "duration", "time to watch each updated task for failure"},
	[C_UPD_ORDER] = {"update-order", 0, "string", "stop-first or start-first"},
	[C_LIMIT_CPU] = {"limit-cpu", 0, "decimal", "limit CPUs"},
	[C_LIMIT_MEM] = {"limit-memory", 0, "bytes", "limit memory"},
	[C_RES_CPU] = {"reserve-cpu", 0, "decimal", "reserve CPUs"},
	[C_RES_MEM] = {"reserve-memory", 0, "bytes", "reserve memory"},
	[C_STOP_GRACE] = {"stop-grace-period", 0, "duration", "time to wait before killing a task"},
	[C_WORKDIR] = {"workdir", 'w', "string", "working directory of the task"},
	[C_USER] = {"user", 'u', "string", "user of the task"},
	[C_HOSTNAME] = {"hostname", 0, "string", "hostname of the task"},
	[C_ENDPOINT_MODE] = {"endpoint-mode", 0, "string", "vip or dnsrr (default vip)"},
	[C_DETACH] = {"detach", 'd', NULL, "exit immediately instead of waiting for the service to converge"},
	[C_QUIET] = {"quiet", 'q', NULL, "suppress progress output"},
	{0},
};

static const struct setting_index create_settings = {
	C_REPLICAS, C_RESTART_COND, C_RESTART_DELAY, C_RESTART_MAX, C_RESTART_WINDOW, C_UPD_PAR, C_UPD_DELAY,
	C_UPD_FAIL, C_UPD_MONITOR, C_UPD_ORDER, C_LIMIT_CPU, C_LIMIT_MEM, C_RES_CPU, C_RES_MEM, C_STOP_GRACE,
	C_WORKDIR, C_USER, C_HOSTNAME,
};

/* The ServiceSpec docker's CLI would send for these flags. */
static int create_spec(const struct cli_args *a, json_t **out)
{
	const char *mode = a->value[C_MODE] ? a->value[C_MODE] : "replicated";
	json_t *spec = json_pack("{s:s, s:o, s:{s:{s:s, s:o}, s:{}, s:{s:o}, s:i}, s:{}, s:{s:s}}",
		"Name", a->value[C_NAME] ? a->value[C_NAME] : "", "Labels", json_object(),
		"TaskTemplate", "ContainerSpec", "Image", a->argv[0], "Labels", json_object(), "Resources",
		"Placement", "Constraints", string_array(a->values[C_CONSTRAINT]), "ForceUpdate", 0, "Mode",
		"EndpointSpec", "Mode", a->value[C_ENDPOINT_MODE] ? a->value[C_ENDPOINT_MODE] : "vip");
	json_t *cs = json_object_get(json_object_get(spec, "TaskTemplate"), "ContainerSpec");
	*out = spec;
	if (strcmp(mode, "global") == 0)
		json_object_set_new(json_object_get(spec, "Mode"), "Global", json_object());
	else if (strcmp(mode, "replicated") == 0)
		json_object_set_new(json_object_get(spec, "Mode"), "Replicated", json_object());
	else
		return usage_error("--mode", mode, "expected replicated or global");
	if (a->argc > 1)
		json_object_set_new(cs, "Args", string_array((const char *const *)a->argv + 1));
	if (a->values[C_ENV])
		json_object_set_new(cs, "Env", string_array(a->values[C_ENV]));
	set_labels(json_object_get(spec, "Labels"), a->values[C_LABEL]);
	set_labels(json_object_get(cs, "Labels"), a->values[C_CONTAINER_LABEL]);
	int rc = add_ports(spec, a->values[C_PUBLISH], "-p, --publish");
	return rc != CLI_OK ? rc : apply_settings(a, &create_settings, spec);
}

static int cmd_service_create(struct cli *cli, const struct cli_args *args)
{
	json_t *spec, *created = NULL;
	int rc = create_spec(args, &spec);
	if (rc == CLI_OK)
		rc = cli_call(cli, "POST", "/services/create", spec, &created);
	json_decref(spec);
	if (rc != CLI_OK)
		return rc;
	char id[64];
	snprintf(id, sizeof(id), "%s", jstr(created, "ID"));
	json_decref(created);
	printf("%s\n", id);
	fflush(stdout);
	return args->value[C_DETACH] ? CLI_OK : wait_converged(cli, id, args->value[C_QUIET] != NULL);
}

/* ---- update, rollback, scale --------------------------------------------------------------- */

enum {
	U_IMAGE, U_ARGS, U_REPLICAS, U_PUBLISH_ADD, U_PUBLISH_RM, U_ENV_ADD, U_ENV_RM, U_LABEL_ADD, U_LABEL_RM,
	U_CONSTRAINT_ADD, U_CONSTRAINT_RM, U_RESTART_COND, U_RESTART_DELAY, U_RESTART_MAX, U_RESTART_WINDOW,
	U_UPD_PAR, U_UPD_DELAY, U_UPD_FAIL, U_UPD_MONITOR, U_UPD_ORDER, U_LIMIT_CPU, U_LIMIT_MEM, U_RES_CPU,
	U_RES_MEM, U_STOP_GRACE, U_WORKDIR, U_USER, U_HOSTNAME, U_FORCE, U_ROLLBACK, U_DETACH, U_QUIET,
};

static const struct cli_option update_options[] = {
	[U_IMAGE] = {"image", 0, "string", "service image tag (or program)"},
	[U_ARGS] = {"args", 0, "command", "service command args, split on spaces"},
	[U_REPLICAS] = {"replicas", 0, "uint", "number of tasks"},
	[U_PUBLISH_ADD] = {"publish-add", 0, "port", "add or update a published port"},
	[U_PUBLISH_RM] = {"publish-rm", 0, "port", "remove a published port by its target port ([published:]target[/proto])"},
	[U_ENV_ADD] = {"env-add", 0, "list", "add or update an environment variable"},
	[U_ENV_RM] = {"env-rm", 0, "list", "remove an environment variable"},
	[U_LABEL_ADD] = {"label-add", 0, "list", "add or update a service label"},
	[U_LABEL_RM] = {"label-rm", 0, "list", "remove a label by its key"},
	[U_CONSTRAINT_ADD] = {"constraint-add", 0, "list", "add or update a placement constraint"},
	[U_CONSTRAINT_RM] = {"constraint-rm", 0, "list", "remove a constraint"},
	[U_RESTART_COND] = {"restart-condition", 0, "string", "restart when: none, on-failure or any"},
	[U_RESTART_DELAY] = {"restart-delay", 0, "duration", "delay between restart attempts"},
	[U_RESTART_MAX] = {"restart-max-attempts", 0, "uint", "maximum number of restarts before giving up"},
	[U_RESTART_WINDOW] = {"restart-window", 0, "duration", "window used to evaluate the restart policy"},
	[U_UPD_PAR] = {"update-parallelism", 0, "uint", "tasks updated at once (0 for all)"},
	[U_UPD_DELAY] = {"update-delay", 0, "duration", "delay between updates"},
	[U_UPD_FAIL] = {"update-failure-action", 0, "string", "pause, continue or rollback"},
	[U_UPD_MONITOR] = {"update-monitor", 0, "duration", "time to watch each updated task for failure"},
	[U_UPD_ORDER] = {"update-order", 0, "string", "stop-first or start-first"},
	[U_LIMIT_CPU] = {"limit-cpu", 0, "decimal", "limit CPUs"},
	[U_LIMIT_MEM] = {"limit-memory", 0, "bytes", "limit memory"},
	[U_RES_CPU] = {"reserve-cpu", 0, "decimal", "reserve CPUs"},
	[U_RES_MEM] = {"reserve-memory", 0, "bytes", "reserve memory"},
	[U_STOP_GRACE] = {"stop-grace-period", 0, "duration", "time to wait before killing a task"},
	[U_WORKDIR] = {"workdir", 'w', "string", "working directory of the task"},
	[U_USER] = {"user", 'u', "string", "user of the task"},
	[U_HOSTNAME] = {"hostname", 0, "string", "hostname of the task"},
	[U_FORCE] = {"force", 0, NULL, "replace the tasks even if nothing changed"},
	[U_ROLLBACK] = {"rollback", 0, NULL, "roll back to the previous specification"},
	[U_DETACH] = {"detach", 'd', NULL, "exit immediately instead of waiting for the service to converge"},
	[U_QUIET] = {"quiet", 'q', NULL, "suppress progress output"},
	{0},
};

static const struct setting_index update_settings = {
	U_REPLICAS, U_RESTART_COND, U_RESTART_DELAY, U_RESTART_MAX, U_RESTART_WINDOW, U_UPD_PAR, U_UPD_DELAY,
	U_UPD_FAIL, U_UPD_MONITOR, U_UPD_ORDER, U_LIMIT_CPU, U_LIMIT_MEM, U_RES_CPU, U_RES_MEM, U_STOP_GRACE,
	U_WORKDIR, U_USER, U_HOSTNAME,
};

/* Length of the key of "KEY=VALUE" (or of the whole item). */
static size_t key_len(const char *item)
{
	return strcspn(item, "=");
}

/* Removes from array the strings whose key (up to '=') or whole text matches one of rm. */
static void remove_by_key(json_t *array, const char *const *rm, bool whole)
{
	for (; rm && *rm; rm++)
		for (size_t i = json_array_size(array); i-- > 0;) {
			const char *s = json_string_value(json_array_get(array, i));
			bool hit = whole ? strcmp(s ? s : "", *rm) == 0
					 : s && key_len(s) == key_len(*rm) && strncmp(s, *rm, key_len(*rm)) == 0;
			if (hit)
				json_array_remove(array, i);
		}
}

/* Environment additions replace a variable of the same name. */
static void env_add(json_t *cs, const char *const *items)
{
	json_t *env = json_object_get(cs, "Env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cs, "Env", env);
	}
	for (; items && *items; items++) {
		const char *one[] = {*items, NULL};
		remove_by_key(env, one, false);
		json_array_append_new(env, json_string(*items));
	}
}

static bool same_port(const json_t *a, const json_t *b, bool by_published)
{
	if (json_integer_value(json_object_get(a, "TargetPort")) != json_integer_value(json_object_get(b, "TargetPort")) ||
	    strcmp(jstr(a, "Protocol"), jstr(b, "Protocol")) != 0)
		return false;
	return !by_published || json_integer_value(json_object_get(a, "PublishedPort")) ==
					json_integer_value(json_object_get(b, "PublishedPort"));
}

/* --publish-rm by target port (and published port when given), then --publish-add. */
static int update_ports(json_t *spec, const struct cli_args *a)
{
	char why[256];
	json_t *ports = json_object_get(jobj(spec, "EndpointSpec"), "Ports");
	for (const char *const *rm = a->values[U_PUBLISH_RM]; rm && *rm; rm++) {
		json_t *gone = parse_publish(*rm, why, sizeof(why));
		if (gone == NULL)
			return usage_error("--publish-rm", *rm, why);
		bool by_published = json_integer_value(json_object_get(gone, "PublishedPort")) != 0;
		for (size_t i = json_array_size(ports); i-- > 0;)
			if (same_port(json_array_get(ports, i), gone, by_published))
				json_array_remove(ports, i);
		json_decref(gone);
	}
	return add_ports(spec, a->values[U_PUBLISH_ADD], "--publish-add");
}

/* Applies the update flags to a copy of the service's spec. */
static int update_spec(const void *data, json_t *spec)
{
	const struct cli_args *a = data;
	json_t *tt = jobj(spec, "TaskTemplate"), *cs = jobj(tt, "ContainerSpec");
	set_string(a, U_IMAGE, cs, "Image");
	if (a->value[U_ARGS]) {
		json_t *list = json_array();
		char *copy = strdup(a->value[U_ARGS]);
		for (char *save, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
			json_array_append_new(list, json_string(w));
		free(copy);
		json_object_set_new(cs, "Args", list);
	}
	remove_by_key(json_object_get(cs, "Env"), a->values[U_ENV_RM], false);
	env_add(cs, a->values[U_ENV_ADD]);
	for (const char *const *k = a->values[U_LABEL_RM]; k && *k; k++)
		json_object_del(jobj(spec, "Labels"), *k);
	set_labels(jobj(spec, "Labels"), a->values[U_LABEL_ADD]);
	json_t *constraints = json_object_get(jobj(tt, "Placement"), "Constraints");
	if (!json_is_array(constraints)) {
		constraints = json_array();
		json_object_set_new(json_object_get(tt, "Placement"), "Constraints", constraints);
	}
	remove_by_key(constraints, a->values[U_CONSTRAINT_RM], true);
	remove_by_key(constraints, a->values[U_CONSTRAINT_ADD], true);
	for (const char *const *c = a->values[U_CONSTRAINT_ADD]; c && *c; c++)
		json_array_append_new(constraints, json_string(*c));
	if (a->value[U_FORCE])
		json_object_set_new(tt, "ForceUpdate", json_integer(json_integer_value(json_object_get(tt, "ForceUpdate")) + 1));
	int rc = update_ports(spec, a);
	return rc != CLI_OK ? rc : apply_settings(a, &update_settings, spec);
}

/* GET the service, change its spec with change(), POST it back with the
 * version read. A 409 "update out of sequence" means someone wrote the
 * service in between (often the orchestrator recording an update's
 * progress): the change is a delta, so it is read and applied again, a few
 * times, before the error is shown. */
#define UPDATE_TRIES 5

static int post_update(struct cli *cli, const char *ref, bool rollback, int (*change)(const void *data, json_t *spec),
		       const void *data)
{
	json_t *service = NULL, *answer = NULL, *spec = NULL, *w;
	char path[512], query[96];
	size_t i;
	int rc = CLI_OK;
	for (int attempt = 1; attempt <= UPDATE_TRIES; attempt++) {
		json_decref(service);
		json_decref(spec);
		json_decref(answer);
		service = spec = answer = NULL;
		if ((rc = get_service(cli, ref, false, &service)) != CLI_OK)
			return rc;
		spec = json_deep_copy(json_object_get(service, "Spec"));
		if (change != NULL && (rc = change(data, spec)) != CLI_OK)
			break;
		snprintf(query, sizeof(query), "/update?version=%lld%s",
			 (long long)json_integer_value(json_object_get(json_object_get(service, "Version"), "Index")),
			 rollback ? "&rollback=previous" : "");
		object_path(cli, "services", jstr(service, "ID"), query, path, sizeof(path));
		long status = client_call(cli_client(cli), "POST", path, spec, &answer);
		if (status != 409 || attempt == UPDATE_TRIES) {
			rc = cli_report(cli, status);
			break;
		}
	}
	json_array_foreach(json_object_get(answer, "Warnings"), i, w)
		fprintf(stderr, "%s\n", json_string_value(w));
	json_decref(answer);
	json_decref(spec);
	json_decref(service);
	return rc;
}

static int cmd_service_update(struct cli *cli, const struct cli_args *args)
{
	const char *ref = args->argv[0];
	int rc = post_update(cli, ref, args->value[U_ROLLBACK] != NULL, args->value[U_ROLLBACK] ? NULL : update_spec,
			     args);
	if (rc != CLI_OK)
		return rc;
	printf("%s\n", ref);
	fflush(stdout);
	return args->value[U_DETACH] ? CLI_OK : wait_converged(cli, ref, args->value[U_QUIET] != NULL);
}

enum { R_DETACH, R_QUIET };

static const struct cli_option rollback_options[] = {
	[R_DETACH] = {"detach", 'd', NULL, "exit immediately instead of waiting for the service to converge"},
	[R_QUIET] = {"quiet", 'q', NULL, "suppress progress output"},
	{0},
};

static int cmd_service_rollback(struct cli *cli, const struct cli_args *args)
{
	int rc = post_update(cli, args->argv[0], true, NULL, NULL);
	if (rc != CLI_OK)
		return rc;
	printf("%s\n", args->argv[0]);
	fflush(stdout);
	return args->value[R_DETACH] ? CLI_OK : wait_converged(cli, args->argv[0], args->value[R_QUIET] != NULL);
}

/* "web=3" into ref and replicas. */
static int scale_arg(const char *arg, char *ref, size_t reflen, uint64_t *replicas)
{
	const char *eq = strchr(arg, '=');
	if (eq == NULL || eq == arg) {
		cli_errorf("invalid scale specifier '%s': expected SERVICE=REPLICAS", arg);
		return CLI_USAGE;
	}
	if (parse_uint(eq + 1, INT64_MAX, replicas) != 0) {
		cli_errorf("invalid replicas value %s: expected a non-negative integer", eq + 1);
		return CLI_USAGE;
	}
	snprintf(ref, reflen, "%.*s", (int)(eq - arg), arg);
	return CLI_OK;
}

/* Sets Mode.Replicated.Replicas to *(const uint64_t *)data. */
static int set_replicas(const void *data, json_t *spec)
{
	uint64_t replicas = *(const uint64_t *)data;
	if (json_object_get(json_object_get(spec, "Mode"), "Replicated") == NULL) {
		cli_errorf("scale can only be used with replicated mode");
		return CLI_ERROR;
	}
	json_object_set_new(jobj(jobj(spec, "Mode"), "Replicated"), "Replicas", json_integer((json_int_t)replicas));
	return CLI_OK;
}

static int cmd_service_scale(struct cli *cli, const struct cli_args *args)
{
	char ref[256];
	uint64_t replicas;
	int rc = CLI_OK;
	for (int i = 0; i < args->argc; i++)
		if ((rc = scale_arg(args->argv[i], ref, sizeof(ref), &replicas)) != CLI_OK)
			return rc;
	bool *scaled = calloc((size_t)args->argc, sizeof(*scaled));
	if (scaled == NULL)
		abort();
	for (int i = 0; i < args->argc; i++) {
		scale_arg(args->argv[i], ref, sizeof(ref), &replicas);
		int one = post_update(cli, ref, false, set_replicas, &replicas);
		if (one == CLI_OK) {
			printf("%s scaled to %" PRIu64 "\n", ref, replicas);
			scaled[i] = true;
		}
		rc = one != CLI_OK ? CLI_ERROR : rc;
	}
	fflush(stdout);
	for (int i = 0; i < args->argc && !args->value[R_DETACH]; i++) {
		if (!scaled[i])
			continue;
		scale_arg(args->argv[i], ref, sizeof(ref), &replicas);
		if (wait_converged(cli, ref, args->value[R_QUIET] != NULL) != CLI_OK)
			rc = CLI_ERROR;
	}
	free(scaled);
	return rc;
}

/* ---- rm, logs --------------------------------------------------------------------------------- */

static int cmd_service_rm(struct cli *cli, const struct cli_args *args)
{
	int rc = CLI_OK;
	for (int i = 0; i < args->argc; i++) {
		char path[512];
		object_path(cli, "services", args->argv[i], "", path, sizeof(path));
		if (cli_call(cli, "DELETE", path, NULL, NULL) == CLI_OK)
			printf("%s\n", args->argv[i]);
		else
			rc = CLI_ERROR;
	}
	return rc;
}

enum { G_TAIL, G_TIMESTAMPS, G_NO_TASK_IDS, G_NO_TRUNC, G_RAW, G_FOLLOW };

static const struct cli_option logs_options[] = {
	[G_TAIL] = {"tail", 'n', "N", "number of lines to show from the end of each task's logs (default \"all\")"},
	[G_TIMESTAMPS] = {"timestamps", 't', NULL, "show timestamps"},
	[G_NO_TASK_IDS] = {"no-task-ids", 0, NULL, "do not include task ids in the output"},
	[G_NO_TRUNC] = {"no-trunc", 0, NULL, "do not truncate the task ids"},
	[G_RAW] = {"raw", 0, NULL, "do not neatly format logs"},
	[G_FOLLOW] = {"follow", 'f', NULL, "follow log output"},
	{0},
};

/* What printing a stream needs: the options and the names already resolved. */
struct logs_printer {
	struct cli *cli;
	const struct cli_args *args;
	struct client lookup;  /* a second connection for names while the stream is open, as docker does */
	bool lookup_ready;
	struct service_logs_format format;
	json_t *names;         /* "node:<id>", "service:<id>" -> name; "task:<id>" -> slot */
	bool midline[3];       /* per stream: the last frame was a partial line */
	uint8_t *buf;          /* bytes received and not printed yet (a frame cut by the transfer) */
	size_t len, cap;
	int rc;                /* CLI_ERROR once a frame could not be printed */
};

/* The client for look-ups, connected on first use; NULL when it cannot be. */
static struct client *logs_lookup(struct logs_printer *p)
{
	if (!p->lookup_ready && client_init(&p->lookup, p->cli->socket_path) == 0)
		p->lookup_ready = true;
	return p->lookup_ready ? &p->lookup : NULL;
}

/* The name docker prints for an id: a node's hostname, a service's name,
 * the id itself when the daemon does not know it. */
static const char *resolve_name(struct logs_printer *p, const char *kind, const char *id)
{
	char key[64], path[128];
	snprintf(key, sizeof(key), "%s:%s", kind, id);
	json_t *have = json_object_get(p->names, key), *obj = NULL;
	if (have)
		return json_string_value(have);
	snprintf(path, sizeof(path), "/%ss/%s", kind, id);
	const char *name = NULL;
	struct client *c = logs_lookup(p);
	if (c != NULL && client_call(c, "GET", path, NULL, &obj) == 200) {
		json_t *spec = json_object_get(obj, "Spec");
		name = strcmp(kind, "node") == 0 ? jstr(json_object_get(obj, "Description"), "Hostname")
						 : jstr(spec, "Name");
		if (*jstr(spec, "Name") != '\0')
			name = jstr(spec, "Name");
	}
	json_object_set_new(p->names, key, json_string(name && *name ? name : id));
	json_decref(obj);
	return json_string_value(json_object_get(p->names, key));
}

static int64_t resolve_slot(struct logs_printer *p, const char *task_id)
{
	char key[64], path[128];
	snprintf(key, sizeof(key), "task:%s", task_id);
	json_t *have = json_object_get(p->names, key), *obj = NULL;
	if (have)
		return json_integer_value(have);
	snprintf(path, sizeof(path), "/tasks/%s", task_id);
	json_int_t slot = 0;
	struct client *c = logs_lookup(p);
	if (c != NULL && client_call(c, "GET", path, NULL, &obj) == 200)
		slot = json_integer_value(json_object_get(obj, "Slot"));
	json_object_set_new(p->names, key, json_integer(slot));
	json_decref(obj);
	return slot;
}

static int logs_print_frame(struct logs_printer *p, uint8_t stream, const uint8_t *payload, size_t len)
{
	FILE *out = stream == 2 ? stderr : stdout;
	struct service_logs_line l;
	char err[256], context[256];
	bool partial = len == 0 || payload[len - 1] != '\n';
	if (p->args->value[G_RAW] != NULL) {
		fwrite(payload, 1, len, out);
		return CLI_OK;
	}
	if (service_logs_parse(payload, len, p->args->value[G_TIMESTAMPS] != NULL, &l, err, sizeof(err)) != 0) {
		cli_errorf("%s", err);
		return CLI_ERROR;
	}
	/* The rest of a long line continues without a new context. */
	if (!p->midline[stream]) {
		service_logs_context(&p->format, resolve_name(p, "service", l.service_id), resolve_slot(p, l.task_id),
				     l.task_id, resolve_name(p, "node", l.node_id), context, sizeof(context));
		if (l.time)
			fprintf(out, "%.*s ", (int)l.time_len, l.time);
		fputs(context, out);
	}
	fwrite(l.text, 1, l.text_len, out);
	p->midline[stream] = partial;
	return CLI_OK;
}

/* docker's width of the slot column: the replicas of a replicated service,
 * the task's own slot for a task. NOT_FOUND: neither exists. */
static long logs_target(struct cli *cli, const char *ref, const char **kind, int *width)
{
	char path[512];
	json_t *obj = NULL;
	object_path(cli, "services", ref, "?insertDefaults=false", path, sizeof(path));
	long rc = client_call(cli_client(cli), "GET", path, NULL, &obj);
	*kind = "services";
	if (rc == 200) {
		json_t *replicated = json_object_get(json_object_get(json_object_get(obj, "Spec"), "Mode"), "Replicated");
		json_t *replicas = json_object_get(replicated, "Replicas");
		*width = json_is_integer(replicas) ? service_logs_digits(json_integer_value(replicas)) : 0;
	} else if (rc == 404) {
		json_decref(obj);
		obj = NULL;
		object_path(cli, "tasks", ref, "", path, sizeof(path));
		rc = client_call(cli_client(cli), "GET", path, NULL, &obj);
		*kind = "tasks";
		*width = rc == 200 ? service_logs_digits(json_integer_value(json_object_get(obj, "Slot"))) : 0;
		if (rc == 404)
			snprintf(cli_client(cli)->error, sizeof(cli_client(cli)->error), "no such task or service: %s",
				 ref);
	}
	json_decref(obj);
	return rc;
}

/* Bytes of the stream as they arrive: every whole frame is printed. */
static int logs_received(void *data, const char *bytes, size_t len)
{
	struct logs_printer *p = data;
	if (p->len + len > p->cap) {
		size_t cap = (p->len + len) * 2;
		uint8_t *b = realloc(p->buf, cap);
		if (b == NULL) {
			cli_errorf("out of memory");
			return p->rc = CLI_ERROR;
		}
		p->buf = b;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, bytes, len);
	p->len += len;
	size_t off = 0, plen;
	uint8_t stream;
	const uint8_t *payload;
	char err[256];
	int more;
	while ((more = log_stream_next(p->buf, p->len, &off, &stream, &payload, &plen, err, sizeof(err))) > 0)
		if (logs_print_frame(p, stream, payload, plen) != CLI_OK)
			return p->rc = CLI_ERROR;
	if (more < 0) {
		cli_errorf("%s", err);
		return p->rc = CLI_ERROR;
	}
	memmove(p->buf, p->buf + off, p->len - off);
	p->len -= off;
	fflush(stdout);
	fflush(stderr);
	return 0;
}

static int cmd_service_logs(struct cli *cli, const struct cli_args *args)
{
	char path[512], query[160];
	const char *kind, *tail = args->value[G_TAIL] ? args->value[G_TAIL] : "all";
	struct logs_printer p = { .cli = cli, .args = args };
	if (strcmp(tail, "all") != 0 && (tail[0] == '\0' || strspn(tail, "0123456789") != strlen(tail))) {
		cli_errorf("invalid argument \"%s\" for \"-n, --tail\" flag: a number of lines or \"all\"", tail);
		return CLI_USAGE;
	}
	long rc = logs_target(cli, args->argv[0], &kind, &p.format.width);
	if (rc != 200)
		return cli_report(cli, rc);
	snprintf(query, sizeof(query), "/logs?stdout=1&stderr=1&tail=%s%s%s%s", tail,
		 args->value[G_TIMESTAMPS] ? "&timestamps=1" : "", args->value[G_RAW] ? "" : "&details=1",
		 args->value[G_FOLLOW] ? "&follow=1" : "");
	object_path(cli, kind, args->argv[0], query, path, sizeof(path));
	p.format.no_task_ids = args->value[G_NO_TASK_IDS] != NULL;
	p.format.no_trunc = args->value[G_NO_TRUNC] != NULL;
	p.names = json_object();
	rc = client_call_stream(cli_client(cli), "GET", path, logs_received, &p);
	int result = p.rc != CLI_OK ? p.rc : cli_report(cli, rc);
	if (result == CLI_OK && p.len > 0) {
		cli_errorf("the log stream ended inside a frame (%zu bytes left)", p.len);
		result = CLI_ERROR;
	}
	json_decref(p.names);
	free(p.buf);
	if (p.lookup_ready)
		client_close(&p.lookup);
	fflush(stdout);
	return result;
}

/* ---- ls --------------------------------------------------------------------------------------- */

/* The image without its digest, as docker's ls and ps print it. */
static void image_text(const json_t *task_spec, char *out, size_t len)
{
	const char *image = jstr(json_object_get(task_spec, "ContainerSpec"), "Image");
	snprintf(out, len, "%.*s", (int)strcspn(image, "@"), image);
}

static int name_order(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(jstr(json_object_get(x, "Spec"), "Name"), jstr(json_object_get(y, "Spec"), "Name"));
}

/* --filter KEY=VALUE items into Docker's filters JSON, appended to path. */
static int add_filters(struct cli *cli, const char *const *items, char *path, size_t len)
{
	if (items == NULL)
		return CLI_OK;
	json_t *filters = json_object();
	for (; *items; items++) {
		const char *eq = strchr(*items, '=');
		if (eq == NULL) {
			json_decref(filters);
			return usage_error("-f, --filter", *items, "expected KEY=VALUE");
		}
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - *items), *items);
		json_object_set_new(jobj(filters, key), eq + 1, json_true());
	}
	filter_query(cli, path, len, filters);
	json_decref(filters);
	return CLI_OK;
}

enum { L_QUIET, L_FILTER };

static const struct cli_option ls_options[] = {
	[L_QUIET] = {"quiet", 'q', NULL, "only print service ids"},
	[L_FILTER] = {"filter", 'f', "filter", "filter output (id=, name=, label=, mode=)"},
	{0},
};

static int cmd_service_ls(struct cli *cli, const struct cli_args *args)
{
	static const char *const headers[] = {"ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"};
	char path[2048] = "/services?status=true";
	json_t *list;
	int rc = add_filters(cli, args->values[L_FILTER], path, sizeof(path));
	if (rc != CLI_OK || (rc = cli_call(cli, "GET", path, NULL, &list)) != CLI_OK)
		return rc;
	size_t n = json_array_size(list);
	json_t **sorted = calloc(n + 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(list, i);
	qsort(sorted, n, sizeof(*sorted), name_order);
	struct table t;
	table_init(&t, 6, headers);
	for (size_t i = 0; i < n; i++) {
		json_t *s = sorted[i], *spec = json_object_get(s, "Spec"), *st = json_object_get(s, "ServiceStatus");
		char id[13], replicas[48], image[256], ports[512];
		snprintf(id, sizeof(id), "%s", jstr(s, "ID"));
		snprintf(replicas, sizeof(replicas), "%lld/%lld",
			 (long long)json_integer_value(json_object_get(st, "RunningTasks")),
			 (long long)json_integer_value(json_object_get(st, "DesiredTasks")));
		image_text(json_object_get(spec, "TaskTemplate"), image, sizeof(image));
		service_ports_text(s, ports, sizeof(ports));
		const char *row[] = {id, jstr(spec, "Name"),
				     json_object_get(json_object_get(spec, "Mode"), "Global") ? "global" : "replicated",
				     replicas, image, ports};
		if (args->value[L_QUIET])
			printf("%s\n", jstr(s, "ID"));
		else
			table_add_row(&t, row);
	}
	if (args->value[L_QUIET])
		table_discard(&t);
	else
		table_print(&t, stdout);
	free(sorted);
	json_decref(list);
	return CLI_OK;
}

/* ---- ps --------------------------------------------------------------------------------------- */

enum { P_QUIET, P_NO_TRUNC };

static const struct cli_option ps_options[] = {
	[P_QUIET] = {"quiet", 'q', NULL, "only print task ids"},
	[P_NO_TRUNC] = {"no-trunc", 0, NULL, "do not truncate ids and errors"},
	{0},
};

/* Orders tasks by slot (or node), the newest first within one. */
static int task_order(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(jstr(x, "ServiceID"), jstr(y, "ServiceID"));
	json_int_t sx = json_integer_value(json_object_get(x, "Slot")), sy = json_integer_value(json_object_get(y, "Slot"));
	if (c == 0 && sx != sy)
		c = sx < sy ? -1 : 1;
	if (c == 0)
		c = strcmp(jstr(x, "NodeID"), jstr(y, "NodeID"));
	if (c == 0)
		c = -strcmp(jstr(json_object_get(x, "Status"), "Timestamp"), jstr(json_object_get(y, "Status"), "Timestamp"));
	return c;
}

static void task_row(const json_t *t, const json_t *prev, const char *service_name, const json_t *nodes, bool trunc,
		     int64_t now, struct table *tab)
{
	char id[32], name[320], image[256], desired[32], current[96], err[256], ports[256];
	const char *node = "";
	json_t *n, *status = json_object_get(t, "Status");
	size_t i;
	snprintf(id, sizeof(id), "%.*s", trunc ? 12 : (int)sizeof(id) - 1, jstr(t, "ID"));
	bool history = prev != NULL && json_integer_value(json_object_get(prev, "Slot")) ==
					       json_integer_value(json_object_get(t, "Slot")) &&
		       strcmp(jstr(prev, "NodeID"), jstr(t, "NodeID")) == 0 &&
		       strcmp(jstr(prev, "ServiceID"), jstr(t, "ServiceID")) == 0;
	json_int_t slot = json_integer_value(json_object_get(t, "Slot"));
	if (slot > 0)
		snprintf(name, sizeof(name), "%s%s.%lld", history ? " \\_ " : "", service_name, (long long)slot);
	else
		snprintf(name, sizeof(name), "%s%s.%s", history ? " \\_ " : "", service_name, jstr(t, "NodeID"));
	image_text(json_object_get(t, "Spec"), image, sizeof(image));
	json_array_foreach(nodes, i, n)
		if (strcmp(jstr(n, "ID"), jstr(t, "NodeID")) == 0)
			node = jstr(json_object_get(n, "Description"), "Hostname");
	snprintf(desired, sizeof(desired), "%s", jstr(t, "DesiredState"));
	desired[0] = (char)toupper((unsigned char)desired[0]);
	service_task_current_state(status, now, current, sizeof(current));
	const char *e = jstr(status, "Err");
	if (*e == '\0')
		err[0] = '\0';
	else if (trunc && strlen(e) > PS_ERR_MAX)
		snprintf(err, sizeof(err), "\"%.*s…\"", PS_ERR_MAX - 1, e);
	else
		snprintf(err, sizeof(err), "\"%s\"", e);
	service_task_ports_text(t, ports, sizeof(ports));
	const char *row[] = {id, name, image, node, desired, current, err, ports};
	table_add_row(tab, row);
}

static int cmd_service_ps(struct cli *cli, const struct cli_args *args)
{
	static const char *const headers[] = {"ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE",
					      "ERROR", "PORTS"};
	json_t *filters = json_object(), *services = json_object(), *tasks = NULL, *nodes = NULL;
	char path[4096] = "/tasks";
	int rc = CLI_OK;
	for (int i = 0; i < args->argc && rc == CLI_OK; i++) {
		json_t *s;
		if ((rc = get_service(cli, args->argv[i], false, &s)) != CLI_OK)
			break;
		json_object_set_new(jobj(filters, "service"), jstr(s, "ID"), json_true());
		json_object_set(services, jstr(s, "ID"), json_object_get(json_object_get(s, "Spec"), "Name"));
		json_decref(s);
	}
	if (rc == CLI_OK) {
		filter_query(cli, path, sizeof(path), filters);
		if ((rc = cli_call(cli, "GET", path, NULL, &tasks)) == CLI_OK)
			rc = cli_call(cli, "GET", "/nodes", NULL, &nodes);
	}
	if (rc == CLI_OK) {
		size_t n = json_array_size(tasks);
		json_t **sorted = calloc(n + 1, sizeof(*sorted));
		for (size_t i = 0; i < n; i++)
			sorted[i] = json_array_get(tasks, i);
		qsort(sorted, n, sizeof(*sorted), task_order);
		struct table t;
		table_init(&t, 8, headers);
		int64_t now = clock_ns(CLOCK_REALTIME);
		for (size_t i = 0; i < n; i++) {
			if (args->value[P_QUIET])
				printf("%s\n", jstr(sorted[i], "ID"));
			else
				task_row(sorted[i], i ? sorted[i - 1] : NULL,
					 json_string_value(json_object_get(services, jstr(sorted[i], "ServiceID"))), nodes,
					 args->value[P_NO_TRUNC] == NULL, now, &t);
		}
		if (args->value[P_QUIET])
			table_discard(&t);
		else
			table_print(&t, stdout);
		free(sorted);
	}
	json_decref(filters);
	json_decref(services);
	json_decref(tasks);
	json_decref(nodes);
	return rc;
}

/* ---- inspect ---------------------------------------------------------------------------------- */

static void print_duration(const char *label, int64_t ns)
{
	char buf[64] = "";
	int64_t h = ns / 3600000000000LL, m = ns / 60000000000LL % 60;
	double s = (double)(ns % 60000000000LL) / 1e9;
	size_t n = 0;
	if (h)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%lldh", (long long)h);
	if (h || m)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%lldm", (long long)m);
	snprintf(buf + n, sizeof(buf) - n, "%gs", s);
	printf("%s%s\n", label, buf);
}

static void print_update_config(const json_t *uc, const char *order_label)
{
	json_int_t delay = json_integer_value(json_object_get(uc, "Delay"));
	printf(" Parallelism:\t%lld\n", (long long)json_integer_value(json_object_get(uc, "Parallelism")));
	if (delay > 0)
		print_duration(" Delay:\t\t", delay);
	printf(" On failure:\t%s\n", jstr(uc, "FailureAction"));
	print_duration(" Monitoring Period: ", json_integer_value(json_object_get(uc, "Monitor")));
	printf(" Max failure ratio: %g\n", json_number_value(json_object_get(uc, "MaxFailureRatio")));
	printf(" %s order:%*s%s\n", order_label, strcmp(order_label, "Update") == 0 ? 6 : 4, "", jstr(uc, "Order"));
}

static void print_words(const char *label, const json_t *array)
{
	json_t *v;
	size_t i;
	if (json_array_size(array) == 0)
		return;
	printf("%s", label);
	json_array_foreach(array, i, v)
		printf("%s ", json_string_value(v));
	printf("\n");
}

static void print_resources(const json_t *res)
{
	static const char *const parts[] = {"Reservations", "Limits"};
	printf("Resources:\n");
	for (int i = 0; i < 2; i++) {
		json_t *p = json_object_get(res, parts[i]);
		json_int_t cpu = json_integer_value(json_object_get(p, "NanoCPUs"));
		json_int_t mem = json_integer_value(json_object_get(p, "MemoryBytes"));
		char size[32];
		if (cpu == 0 && mem == 0)
			continue;
		printf(" %s:\n", parts[i]);
		if (cpu)
			printf("  CPU:\t\t%g\n", (double)cpu / 1e9);
		if (mem) {
			cli_format_bytes((double)mem, size, sizeof(size));
			printf("  Memory:\t%s\n", size);
		}
	}
}

static void print_pretty(const json_t *s)
{
	json_t *spec = json_object_get(s, "Spec"), *tt = json_object_get(spec, "TaskTemplate");
	json_t *cs = json_object_get(tt, "ContainerSpec"), *labels = json_object_get(spec, "Labels"), *v, *p;
	json_t *constraints = json_object_get(json_object_get(tt, "Placement"), "Constraints");
	const char *key;
	size_t i;
	printf("\nID:\t\t%s\nName:\t\t%s\n", jstr(s, "ID"), jstr(spec, "Name"));
	if (json_object_size(labels) > 0) {
		printf("Labels:\n");
		json_object_foreach(labels, key, v)
			printf(" %s=%s\n", key, json_string_value(v));
	}
	json_t *rep = json_object_get(json_object_get(spec, "Mode"), "Replicated");
	if (rep)
		printf("Service Mode:\tReplicated\n Replicas:\t%lld\n",
		       (long long)json_integer_value(json_object_get(rep, "Replicas")));
	else
		printf("Service Mode:\tGlobal\n");
	json_t *us = json_object_get(s, "UpdateStatus");
	if (us)
		printf("UpdateStatus:\n State:\t\t%s\n Started:\t%s\n Message:\t%s\n", jstr(us, "State"),
		       jstr(us, "StartedAt"), jstr(us, "Message"));
	printf("Placement:\n");
	if (json_array_size(constraints) > 0) {
		printf(" Constraints:\t[");
		json_array_foreach(constraints, i, v)
			printf("%s%s", i ? " " : "", json_string_value(v));
		printf("]\n");
	}
	printf("UpdateConfig:\n");
	print_update_config(json_object_get(spec, "UpdateConfig"), "Update");
	printf("RollbackConfig:\n");
	print_update_config(json_object_get(spec, "RollbackConfig"), "Rollback");
	printf("ContainerSpec:\n Image:\t\t%s\n", jstr(cs, "Image"));
	print_words(" Command:\t", json_object_get(cs, "Command"));
	print_words(" Args:\t\t", json_object_get(cs, "Args"));
	print_words(" Env:\t\t", json_object_get(cs, "Env"));
	if (*jstr(cs, "Dir"))
		printf(" Dir:\t\t%s\n", jstr(cs, "Dir"));
	if (*jstr(cs, "User"))
		printf(" User:\t\t%s\n", jstr(cs, "User"));
	printf(" Init:\t\tfalse\n");
	print_resources(json_object_get(tt, "Resources"));
	printf("Endpoint Mode:\t%s\n", jstr(json_object_get(spec, "EndpointSpec"), "Mode"));
	json_t *ports = json_object_get(json_object_get(s, "Endpoint"), "Ports");
	if (json_array_size(ports) > 0) {
		printf("Ports:\n");
		json_array_foreach(ports, i, p)
			printf(" PublishedPort = %lld\n  Protocol = %s\n  TargetPort = %lld\n  PublishMode = %s \n",
			       (long long)json_integer_value(json_object_get(p, "PublishedPort")), jstr(p, "Protocol"),
			       (long long)json_integer_value(json_object_get(p, "TargetPort")), jstr(p, "PublishMode"));
	}
	printf("\n");
}

enum { I_PRETTY };

static const struct cli_option inspect_options[] = {
	[I_PRETTY] = {"pretty", 0, NULL, "print a human-readable summary instead of JSON"},
	{0},
};

static int cmd_service_inspect(struct cli *cli, const struct cli_args *args)
{
	json_t *all = json_array(), *missing = json_array();
	int rc = CLI_OK;
	for (int i = 0; i < args->argc; i++) {
		char path[512];
		json_t *s;
		object_path(cli, "services", args->argv[i], "?insertDefaults=true", path, sizeof(path));
		struct client *c = cli_client(cli);
		long status = client_call(c, "GET", path, NULL, &s);
		if (status == 404) {
			json_array_append_new(missing, json_string(args->argv[i]));
			continue;
		}
		if (status < 0 || status >= 400) {
			fprintf(stderr, status < 0 ? "%s\n" : "Error response from daemon: %s\n", c->error);
			rc = CLI_ERROR;
			break;
		}
		if (args->value[I_PRETTY]) {
			print_pretty(s);
			json_decref(s);
		} else {
			json_array_append_new(all, s);
		}
	}
	if (rc == CLI_OK && !args->value[I_PRETTY]) {
		char *text = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", text);
		free(text);
	}
	json_t *m;
	size_t i;
	json_array_foreach(missing, i, m)
		fprintf(stderr, "Error: no such service: %s\n", json_string_value(m));
	if (json_array_size(missing) > 0)
		rc = CLI_ERROR;
	json_decref(all);
	json_decref(missing);
	return rc;
}

/* ---- the table ---------------------------------------------------------------------------------- */

static const struct cli_command cmd_service_create_def = {
	.name = "create", .args = "IMAGE [COMMAND] [ARG...]", .summary = "Create a new service",
	.min_args = 1, .max_args = -1, .options = create_options, .options_first = true, .run = cmd_service_create,
};

static const struct cli_command cmd_service_ls_def = {
	.name = "ls", .args = "", .summary = "List services", .max_args = 0, .options = ls_options,
	.run = cmd_service_ls,
};

static const struct cli_command cmd_service_ps_def = {
	.name = "ps", .args = "SERVICE [SERVICE...]", .summary = "List the tasks of one or more services",
	.min_args = 1, .max_args = -1, .options = ps_options, .run = cmd_service_ps,
};

static const struct cli_command cmd_service_inspect_def = {
	.name = "inspect", .args = "SERVICE [SERVICE...]", .summary = "Display detailed information on one or more services",
	.min_args = 1, .max_args = -1, .options = inspect_options, .run = cmd_service_inspect,
};

static const struct cli_command cmd_service_rm_def = {
	.name = "rm", .args = "SERVICE [SERVICE...]", .summary = "Remove one or more services",
	.min_args = 1, .max_args = -1, .run = cmd_service_rm,
};

static const struct cli_command cmd_service_scale_def = {
	.name = "scale", .args = "SERVICE=REPLICAS [SERVICE=REPLICAS...]", .summary = "Scale one or more replicated services",
	.min_args = 1, .max_args = -1, .options = rollback_options, .run = cmd_service_scale,
};

static const struct cli_command cmd_service_update_def = {
	.name = "update", .args = "SERVICE", .summary = "Update a service", .min_args = 1, .max_args = 1,
	.options = update_options, .run = cmd_service_update,
};

static const struct cli_command cmd_service_rollback_def = {
	.name = "rollback", .args = "SERVICE", .summary = "Revert changes to a service's configuration",
	.min_args = 1, .max_args = 1, .options = rollback_options, .run = cmd_service_rollback,
};

static const struct cli_command cmd_service_logs_def = {
	.name = "logs", .args = "SERVICE|TASK", .summary = "Fetch the logs of a service or task", .min_args = 1,
	.max_args = 1, .options = logs_options, .run = cmd_service_logs,
};

static const struct cli_command *const service_commands[] = {
	&cmd_service_create_def, &cmd_service_inspect_def, &cmd_service_logs_def, &cmd_service_ls_def,
	&cmd_service_ps_def, &cmd_service_rm_def, &cmd_service_rollback_def, &cmd_service_scale_def,
	&cmd_service_update_def, NULL,
};

const struct cli_command cmd_service_def = {
	.name = "service", .summary = "Manage services", .sub = service_commands,
};
