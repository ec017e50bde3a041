/* service_progress: convergence progress and the task/port text of `service ls/ps`, from the API's JSON. */
#include "swarmnode/service_progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Docker's task states in order; a task meant to run has DesiredState at most "running". */
static const char *const task_states[] = {"new", "allocated", "pending", "assigned", "accepted", "preparing",
					  "ready", "starting", "running", "complete", "shutdown", "failed",
					  "rejected", "remove", "orphaned", NULL};
#define STATE_RUNNING 8

static int state_rank(const char *s)
{
	for (int i = 0; s != NULL && task_states[i]; i++)
		if (strcmp(task_states[i], s) == 0)
			return i;
	return -1;
}

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static bool node_down(const json_t *nodes, const char *node_id)
{
	json_t *n;
	size_t i;
	json_array_foreach(nodes, i, n)
		if (strcmp(jstr(n, "ID"), node_id) == 0)
			return strcmp(jstr(json_object_get(n, "Status"), "State"), "down") == 0;
	return false;
}

/* Parses RFC 3339 UTC ("2026-11-24T22:54:28.301877271Z") into ns; 0 when unreadable. */
static int64_t parse_time(const char *s)
{
	struct tm tm = {0};
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return 0;
	int64_t ns = (int64_t)timegm(&tm) * 1000000000;
	if (*rest == '.') {
		int64_t scale = 100000000;
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
			ns += (*rest - '0') * scale;
	}
	return ns;
}

static int64_t task_time(const json_t *task)
{
	return parse_time(jstr(json_object_get(task, "Status"), "Timestamp"));
}

/* The slot of a task ("1/3"), or its node for a global service. */
static void slot_label(const json_t *task, bool global, size_t desired, char *out, size_t len)
{
	if (global)
		snprintf(out, len, "%s", jstr(task, "NodeID"));
	else
		snprintf(out, len, "%lld/%zu", (long long)json_integer_value(json_object_get(task, "Slot")), desired);
}

static struct service_progress_slot *find_slot(struct service_progress *p, const char *label)
{
	for (size_t i = 0; i < p->nslots; i++)
		if (strcmp(p->slots[i].label, label) == 0)
			return &p->slots[i];
	return NULL;
}

/* Keeps, per slot, the newest task meant to run; best_time[i] its time. */
static int take_task(struct service_progress *p, int64_t *best_time, const json_t *task, const char *label)
{
	struct service_progress_slot *s = find_slot(p, label);
	int64_t t = task_time(task);
	if (s == NULL) {
		s = &p->slots[p->nslots];
		memset(s, 0, sizeof(*s));
		snprintf(s->label, sizeof(s->label), "%s", label);
		best_time[p->nslots++] = INT64_MIN;
	}
	size_t idx = (size_t)(s - p->slots);
	if (t < best_time[idx])
		return 0;
	best_time[idx] = t;
	json_t *status = json_object_get(task, "Status");
	snprintf(s->state, sizeof(s->state), "%s", jstr(status, "State"));
	snprintf(s->err, sizeof(s->err), "%s", jstr(status, "Err"));
	return 0;
}

static int slot_order(const void *a, const void *b)
{
	const struct service_progress_slot *x = a, *y = b;
	long sx = strtol(x->label, NULL, 10), sy = strtol(y->label, NULL, 10);
	return sx != sy ? (sx < sy ? -1 : 1) : strcmp(x->label, y->label);
}

int service_progress_compute(const json_t *service, const json_t *tasks, const json_t *nodes,
			     struct service_progress *out)
{
	json_t *mode = json_object_get(json_object_get(service, "Spec"), "Mode"), *task;
	size_t i, n = json_array_size(tasks);
	memset(out, 0, sizeof(*out));
	out->global = json_object_get(mode, "Global") != NULL;
	if (!out->global)
		out->desired = (size_t)json_integer_value(json_object_get(json_object_get(mode, "Replicated"), "Replicas"));
	out->slots = calloc(n + 1, sizeof(*out->slots));
	int64_t *best = calloc(n + 1, sizeof(*best));
	if (out->slots == NULL || best == NULL) {
		free(best);
		service_progress_release(out);
		return -ENOMEM;
	}
	json_array_foreach(tasks, i, task) {
		int desired = state_rank(jstr(task, "DesiredState"));
		if (desired < 0 || desired > STATE_RUNNING || node_down(nodes, jstr(task, "NodeID")))
			continue;
		if (!out->global && json_integer_value(json_object_get(task, "Slot")) > (json_int_t)out->desired)
			continue; /* a slot being scaled away */
		char label[80];
		slot_label(task, out->global, out->desired, label, sizeof(label));
		take_task(out, best, task, label);
	}
	free(best);
	qsort(out->slots, out->nslots, sizeof(*out->slots), slot_order);
	if (out->global)
		out->desired = out->nslots;
	for (i = 0; i < out->nslots; i++) {
		out->running += strcmp(out->slots[i].state, "running") == 0;
		out->failed += strcmp(out->slots[i].state, "failed") == 0 || strcmp(out->slots[i].state, "rejected") == 0;
	}
	return 0;
}

void service_progress_release(struct service_progress *p)
{
	free(p->slots);
	memset(p, 0, sizeof(*p));
}

bool service_progress_converged(const struct service_progress *p)
{
	return p->running >= p->desired && (p->desired > 0 || !p->global);
}

/* docker's jsonmessage bar: state rank out of "running", 50 columns. */
static void render_bar(const char *state, FILE *out)
{
	int rank = state_rank(state);
	if (rank < 0 || rank > STATE_RUNNING)
		return;
	int filled = (int)((double)(rank + 1) / (STATE_RUNNING + 1) * 100) / 2;
	if (filled > SERVICE_PROGRESS_BAR_WIDTH)
		filled = SERVICE_PROGRESS_BAR_WIDTH;
	fputc('[', out);
	for (int i = 0; i < filled; i++)
		fputc('=', out);
	fputc('>', out);
	for (int i = filled; i < SERVICE_PROGRESS_BAR_WIDTH; i++)
		fputc(' ', out);
	fputs("] ", out);
}

void service_progress_render(const struct service_progress *p, bool bars, FILE *out)
{
	fprintf(out, "overall progress: %zu out of %zu tasks\n", p->running, p->desired);
	for (size_t i = 0; i < p->nslots; i++) {
		const struct service_progress_slot *s = &p->slots[i];
		fprintf(out, "%s: ", s->label);
		if (s->err[0] != '\0') {
			fprintf(out, "%s\n", s->err);
			continue;
		}
		fprintf(out, "%-*s ", SERVICE_PROGRESS_STATE_WIDTH, s->state);
		if (bars)
			render_bar(s->state, out);
		fputc('\n', out);
	}
	/* Slots with no task yet, as docker lists them ("2/3:  "). */
	for (size_t slot = 1; !p->global && slot <= p->desired && p->nslots < p->desired; slot++) {
		char label[80];
		snprintf(label, sizeof(label), "%zu/%zu", slot, p->desired);
		bool seen = false;
		for (size_t i = 0; i < p->nslots && !seen; i++)
			seen = strcmp(p->slots[i].label, label) == 0;
		if (!seen)
			fprintf(out, "%s:  \n", label);
	}
}

void service_human_duration(int64_t ns, char *out, size_t len)
{
	int64_t secs = ns / 1000000000, mins = secs / 60;
	int64_t hours = (ns + 1800LL * 1000000000) / (3600LL * 1000000000); /* rounded, as Go's math.Round */
	if (secs < 1)
		snprintf(out, len, "Less than a second");
	else if (secs == 1)
		snprintf(out, len, "1 second");
	else if (secs < 60)
		snprintf(out, len, "%lld seconds", (long long)secs);
	else if (mins == 1)
		snprintf(out, len, "About a minute");
	else if (mins < 60)
		snprintf(out, len, "%lld minutes", (long long)mins);
	else if (hours == 1)
		snprintf(out, len, "About an hour");
	else if (hours < 48)
		snprintf(out, len, "%lld hours", (long long)hours);
	else if (hours < 24 * 7 * 2)
		snprintf(out, len, "%lld days", (long long)(hours / 24));
	else if (hours < 24 * 30 * 2)
		snprintf(out, len, "%lld weeks", (long long)(hours / 24 / 7));
	else if (hours < 24 * 365 * 2)
		snprintf(out, len, "%lld months", (long long)(hours / 24 / 30));
	else
		snprintf(out, len, "%lld years", (long long)(hours / 24 / 365));
}

void service_task_current_state(const json_t *status, int64_t now_ns, char *out, size_t len)
{
	char state[32], ago[48];
	snprintf(state, sizeof(state), "%s", jstr(status, "State"));
	if (state[0] >= 'a' && state[0] <= 'z')
		state[0] = (char)(state[0] - 'a' + 'A');
	int64_t at = parse_time(jstr(status, "Timestamp"));
	if (at == 0) {
		snprintf(out, len, "%s", state);
		return;
	}
	service_human_duration(now_ns > at ? now_ns - at : 0, ago, sizeof(ago));
	snprintf(out, len, "%s %s ago", state, ago);
}

/* A published port as ls/ps show it. */
struct port_item {
	const char *proto;
	json_int_t published, target;
};

static int port_order(const void *a, const void *b)
{
	const struct port_item *x = a, *y = b;
	int c = strcmp(x->proto, y->proto);
	if (c != 0)
		return c;
	return x->published < y->published ? -1 : x->published > y->published;
}

static void append(char *out, size_t len, const char *fmt, long long a, long long b, long long c, long long d,
		   const char *proto)
{
	size_t used = strlen(out);
	if (used >= len)
		return;
	if (a == b)
		snprintf(out + used, len - used, "%s*:%lld->%lld/%s", used ? ", " : "", a, c, proto);
	else
		snprintf(out + used, len - used, fmt, used ? ", " : "", a, b, c, d, proto);
}

/* Prints ports merging runs where published and target both step by one. */
static void ports_text(const json_t *ports, bool ingress_only, char *out, size_t len)
{
	size_t n = json_array_size(ports), k = 0, i;
	json_t *p;
	out[0] = '\0';
	struct port_item *items = calloc(n + 1, sizeof(*items));
	if (items == NULL)
		return;
	json_array_foreach(ports, i, p) {
		if (ingress_only && strcmp(jstr(p, "PublishMode"), "host") == 0)
			continue;
		items[k++] = (struct port_item){*jstr(p, "Protocol") ? jstr(p, "Protocol") : "tcp",
						json_integer_value(json_object_get(p, "PublishedPort")),
						json_integer_value(json_object_get(p, "TargetPort"))};
	}
	qsort(items, k, sizeof(*items), port_order);
	for (i = 0; i < k;) {
		size_t j = i + 1;
		while (j < k && strcmp(items[j].proto, items[i].proto) == 0 &&
		       items[j].published == items[j - 1].published + 1 && items[j].target == items[j - 1].target + 1)
			j++;
		append(out, len, "%s*:%lld-%lld->%lld-%lld/%s", items[i].published, items[j - 1].published,
		       items[i].target, items[j - 1].target, items[i].proto);
		i = j;
	}
	free(items);
}

void service_ports_text(const json_t *service, char *out, size_t len)
{
	ports_text(json_object_get(json_object_get(service, "Endpoint"), "Ports"), true, out, len);
}

void service_task_ports_text(const json_t *task, char *out, size_t len)
{
	ports_text(json_object_get(json_object_get(json_object_get(task, "Status"), "PortStatus"), "Ports"), false,
		   out, len);
}
