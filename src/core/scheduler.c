/* scheduler: Docker Swarm's filters and spread over the store's node objects. */
#include "swarmnode/scheduler.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "swarmnode/ids.h"

#include "orchestrator_json.h"

/* Filters in swarmkit's pipeline order; a node counts against the first it fails. */
enum filter {
	FILTER_READY,
	FILTER_RESOURCES,
	FILTER_CONSTRAINTS,
	FILTER_HOST_PORTS,
	FILTER_COUNT,
	FILTER_NONE = -1,
};

/* How many tasks of one service a node holds. */
struct service_count {
	char service[IDS_LEN + 1];
	size_t n;
};

/* A host-mode port a task holds on a node. */
struct host_port {
	int64_t port;
	char protocol[8]; /* tcp, udp or sctp */
};

struct sched_node {
	const json_t *obj;               /* the store's node object (borrowed) */
	const char *id;                  /* its ID */
	bool available;                  /* ready and active: takes new tasks */
	int64_t cpu_free, mem_free;      /* Description.Resources minus reservations held */
	size_t active;                   /* tasks meant to run, all services */
	struct service_count *services;  /* tasks meant to run, per service */
	size_t n_services, cap_services;
	size_t last_service;             /* the services entry found last: callers add tasks service by service */
	struct host_port *ports;         /* host-mode ports held */
	size_t n_ports, cap_ports;
};

struct scheduler {
	struct sched_node *nodes; /* sorted by id once `sorted` */
	size_t n, cap;
	bool sorted;
};

/* What one task asks of a node. */
struct task_needs {
	const char *service;
	int64_t cpu, mem;
	const json_t *ports;
	struct scheduler_constraint *constraints;
	size_t n_constraints;
	bool constraints_bad; /* a stored constraint does not parse: no node satisfies it */
};

/* ---- constraints --------------------------------------------------------------- */

static void trim(const char *s, size_t len, const char **out, size_t *out_len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	*out = s;
	*out_len = len;
}

/* swarmkit's key pattern: [a-z_][a-z0-9-_.]+, case-insensitive. */
static bool key_valid(const char *k, size_t len)
{
	if (len < 2 || !(isalpha((unsigned char)k[0]) || k[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)k[i]) || k[i] == '-' || k[i] == '_' || k[i] == '.'))
			return false;
	return true;
}

/* swarmkit's value pattern: letters, digits, whitespace and :-_.*()?+[]\^$|/ */
static bool value_valid(const char *v, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!(isalnum(c) || isspace(c) || (c != '\0' && strchr(":-_.*()?+[]\\^$|/", c) != NULL)))
			return false;
	}
	return true;
}

int scheduler_constraint_parse(const char *expr, struct scheduler_constraint *out, char *err,
			       size_t errlen)
{
	static const char *const ops[] = {"==", "!="};
	for (size_t i = 0; i < 2; i++) {
		const char *at = strstr(expr, ops[i]);
		if (at == NULL)
			continue;
		const char *key, *value;
		size_t klen, vlen;
		trim(expr, (size_t)(at - expr), &key, &klen);
		trim(at + 2, strlen(at + 2), &value, &vlen);
		if (!key_valid(key, klen) || klen >= sizeof(out->key)) {
			snprintf(err, errlen, "key '%.*s' is invalid", (int)klen, key);
			return SCHEDULER_E_INVALID;
		}
		if (!value_valid(value, vlen) || vlen >= sizeof(out->value)) {
			snprintf(err, errlen, "value '%.*s' is invalid", (int)vlen, value);
			return SCHEDULER_E_INVALID;
		}
		memcpy(out->key, key, klen);
		out->key[klen] = '\0';
		memcpy(out->value, value, vlen);
		out->value[vlen] = '\0';
		out->equal = i == 0;
		return 0;
	}
	snprintf(err, errlen, "constraint expected one operator from ==, !=");
	return SCHEDULER_E_INVALID;
}

int scheduler_constraints_parse(const json_t *constraints, struct scheduler_constraint **out, size_t *n,
				char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	if (constraints == NULL || json_is_null(constraints))
		return 0;
	if (!json_is_array(constraints)) {
		snprintf(err, errlen, "Placement.Constraints: not an array of strings");
		return SCHEDULER_E_INVALID;
	}
	size_t count = json_array_size(constraints);
	if (count == 0)
		return 0;
	struct scheduler_constraint *c = calloc(count, sizeof(*c));
	if (c == NULL)
		return SCHEDULER_E_NOMEM;
	for (size_t i = 0; i < count; i++) {
		const json_t *e = json_array_get(constraints, i);
		int rc = json_is_string(e) ? scheduler_constraint_parse(json_string_value(e), &c[i], err, errlen)
					   : SCHEDULER_E_INVALID;
		if (rc != 0) {
			if (!json_is_string(e))
				snprintf(err, errlen, "Placement.Constraints[%zu]: not a string", i);
			free(c);
			return rc;
		}
	}
	*out = c;
	*n = count;
	return 0;
}

int scheduler_constraints_check(const json_t *constraints, char *err, size_t errlen)
{
	struct scheduler_constraint *c;
	size_t n;
	int rc = scheduler_constraints_parse(constraints, &c, &n, err, errlen);
	free(c);
	return rc;
}

static bool prefixed(const char *key, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	if (strlen(key) <= n || strncasecmp(key, prefix, n) != 0)
		return false;
	*rest = key + n;
	return true;
}

/* The node's value for a constraint key; false for a key Docker does not know. */
static bool node_value(const char *key, const json_t *node, const char **value)
{
	const char *label;
	if (strcasecmp(key, "node.id") == 0)
		*value = orch_jstr(node, "ID", NULL);
	else if (strcasecmp(key, "node.hostname") == 0)
		*value = orch_jstr(node, "Description", "Hostname", NULL);
	else if (strcasecmp(key, "node.role") == 0)
		*value = orch_jstr(node, "Spec", "Role", NULL);
	else if (strcasecmp(key, "node.platform.os") == 0)
		*value = orch_jstr(node, "Description", "Platform", "OS", NULL);
	else if (strcasecmp(key, "node.platform.arch") == 0)
		*value = orch_jstr(node, "Description", "Platform", "Architecture", NULL);
	else if (prefixed(key, "node.labels.", &label))
		*value = orch_jstr(node, "Spec", "Labels", label, NULL);
	else if (prefixed(key, "engine.labels.", &label))
		*value = orch_jstr(node, "Description", "Engine", "Labels", label, NULL);
	else
		return false;
	return true;
}

bool scheduler_node_matches(const struct scheduler_constraint *c, size_t n, const json_t *node)
{
	for (size_t i = 0; i < n; i++) {
		const char *value;
		if (!node_value(c[i].key, node, &value))
			return false;
		if ((strcasecmp(value, c[i].value) == 0) != c[i].equal)
			return false;
	}
	return true;
}

/* ---- nodes and the load on them --------------------------------------------------------- */

struct scheduler *scheduler_new(void)
{
	return calloc(1, sizeof(struct scheduler));
}

void scheduler_free(struct scheduler *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->nodes[i].services);
		free(s->nodes[i].ports);
	}
	free(s->nodes);
	free(s);
}

/* Makes room for one more element in *arr (of *cap elements of size bytes). */
static int reserve_one(void **arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return 0;
	size_t next = *cap ? *cap * 2 : 4;
	void *grown = realloc(*arr, next * size);
	if (grown == NULL)
		return SCHEDULER_E_NOMEM;
	*arr = grown;
	*cap = next;
	return 0;
}

int scheduler_add_node(struct scheduler *s, const json_t *node)
{
	const char *id = orch_jstr(node, "ID", NULL);
	if (id[0] == '\0')
		return SCHEDULER_E_INVALID;
	if (reserve_one((void **)&s->nodes, s->n, &s->cap, sizeof(*s->nodes)) != 0)
		return SCHEDULER_E_NOMEM;
	struct sched_node *n = &s->nodes[s->n++];
	memset(n, 0, sizeof(*n));
	n->obj = node;
	n->id = id;
	n->available = strcmp(orch_jstr(node, "Status", "State", NULL), "ready") == 0 &&
		       strcmp(orch_jstr(node, "Spec", "Availability", NULL), "active") == 0;
	n->cpu_free = orch_jint(node, "Description", "Resources", "NanoCPUs", NULL);
	n->mem_free = orch_jint(node, "Description", "Resources", "MemoryBytes", NULL);
	s->sorted = false;
	return 0;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sched_node *)a)->id, ((const struct sched_node *)b)->id);
}

static struct sched_node *find_node(struct scheduler *s, const char *id)
{
	if (!s->sorted) {
		if (s->n > 1)
			qsort(s->nodes, s->n, sizeof(*s->nodes), node_cmp);
		s->sorted = true;
	}
	struct sched_node key = {.id = id};
	return s->n ? bsearch(&key, s->nodes, s->n, sizeof(*s->nodes), node_cmp) : NULL;
}

static struct service_count *service_slot(struct sched_node *n, const char *service)
{
	if (n->last_service < n->n_services && strcmp(n->services[n->last_service].service, service) == 0)
		return &n->services[n->last_service];
	for (size_t i = 0; i < n->n_services; i++)
		if (strcmp(n->services[i].service, service) == 0) {
			n->last_service = i;
			return &n->services[i];
		}
	return NULL;
}

static size_t service_tasks(struct sched_node *n, const char *service)
{
	struct service_count *c = service_slot(n, service);
	return c ? c->n : 0;
}

static bool host_port_of(const json_t *p, struct host_port *out)
{
	if (strcmp(orch_jstr(p, "PublishMode", NULL), "host") != 0)
		return false;
	out->port = orch_jint(p, "PublishedPort", NULL);
	const char *proto = orch_jstr(p, "Protocol", NULL);
	snprintf(out->protocol, sizeof(out->protocol), "%s", proto[0] ? proto : "tcp");
	return out->port != 0;
}

static bool port_held(const struct sched_node *n, const struct host_port *hp)
{
	for (size_t i = 0; i < n->n_ports; i++)
		if (n->ports[i].port == hp->port && strcmp(n->ports[i].protocol, hp->protocol) == 0)
			return true;
	return false;
}

static void needs_of(const json_t *task, const json_t *ports, struct task_needs *need)
{
	memset(need, 0, sizeof(*need));
	need->service = orch_jstr(task, "ServiceID", NULL);
	need->cpu = orch_jint(task, "Spec", "Resources", "Reservations", "NanoCPUs", NULL);
	need->mem = orch_jint(task, "Spec", "Resources", "Reservations", "MemoryBytes", NULL);
	need->ports = ports;
}

static int record(struct sched_node *n, bool wants_running, const struct task_needs *need)
{
	n->cpu_free -= need->cpu;
	n->mem_free -= need->mem;
	size_t i;
	const json_t *p;
	json_array_foreach(need->ports, i, p) {
		struct host_port hp;
		if (!host_port_of(p, &hp) || port_held(n, &hp))
			continue;
		if (reserve_one((void **)&n->ports, n->n_ports, &n->cap_ports, sizeof(*n->ports)) != 0)
			return SCHEDULER_E_NOMEM;
		n->ports[n->n_ports++] = hp;
	}
	if (!wants_running)
		return 0;
	n->active++;
	struct service_count *c = service_slot(n, need->service);
	if (c == NULL) {
		if (reserve_one((void **)&n->services, n->n_services, &n->cap_services, sizeof(*n->services)) != 0)
			return SCHEDULER_E_NOMEM;
		c = &n->services[n->n_services++];
		size_t len = strnlen(need->service, IDS_LEN); /* as snprintf would truncate, without its cost */
		memcpy(c->service, need->service, len);
		c->service[len] = '\0';
		c->n = 0;
		n->last_service = n->n_services - 1;
	}
	c->n++;
	return 0;
}

int scheduler_add_load(struct scheduler *s, const struct scheduler_load *load)
{
	struct sched_node *n = find_node(s, load->node_id);
	if (n == NULL)
		return 0;
	struct task_needs need = {
		.service = load->service_id, .cpu = load->cpu, .mem = load->mem, .ports = load->ports};
	return record(n, load->wants_running, &need);
}

int scheduler_add_task(struct scheduler *s, const json_t *task, const json_t *ports)
{
	const char *node_id = orch_jstr(task, "NodeID", NULL);
	enum orch_state st = orch_task_state(task);
	if (node_id[0] == '\0' || st < ORCH_STATE_ASSIGNED || orch_state_terminal(st))
		return 0;
	struct task_needs need;
	needs_of(task, ports, &need);
	struct scheduler_load load = {.node_id = node_id, .service_id = need.service, .cpu = need.cpu,
				      .mem = need.mem, .ports = ports, .wants_running = orch_task_wants_running(task)};
	return scheduler_add_load(s, &load);
}

/* ---- placing ----------------------------------------------------------------------------- */

static enum filter first_failing(const struct sched_node *n, const struct task_needs *need)
{
	if (!n->available)
		return FILTER_READY;
	if ((need->cpu > 0 || need->mem > 0) && (need->cpu > n->cpu_free || need->mem > n->mem_free))
		return FILTER_RESOURCES;
	if (need->constraints_bad || !scheduler_node_matches(need->constraints, need->n_constraints, n->obj))
		return FILTER_CONSTRAINTS;
	size_t i;
	const json_t *p;
	json_array_foreach(need->ports, i, p) {
		struct host_port hp;
		if (host_port_of(p, &hp) && port_held(n, &hp))
			return FILTER_HOST_PORTS;
	}
	return FILTER_NONE;
}

/* Spread: fewer tasks of the service, then fewer tasks, then the smaller id. */
static bool better(struct sched_node *a, struct sched_node *b, const char *service)
{
	if (b == NULL)
		return true;
	size_t sa = service_tasks(a, service), sb = service_tasks(b, service);
	if (sa != sb)
		return sa < sb;
	if (a->active != b->active)
		return a->active < b->active;
	return strcmp(a->id, b->id) < 0;
}

static void explain_one(enum filter f, size_t nodes, char *out, size_t len)
{
	static const char *const what[FILTER_COUNT][2] = {
		[FILTER_READY] = {"1 node not available for new tasks", "%zu nodes not available for new tasks"},
		[FILTER_RESOURCES] = {"insufficient resources on 1 node", "insufficient resources on %zu nodes"},
		[FILTER_CONSTRAINTS] = {"scheduling constraints not satisfied on 1 node",
					"scheduling constraints not satisfied on %zu nodes"},
		[FILTER_HOST_PORTS] = {"host-mode port already in use on 1 node",
				       "host-mode port already in use on %zu nodes"},
	};
	if (nodes == 1)
		snprintf(out, len, "%s", what[f][0]);
	else
		snprintf(out, len, what[f][1], nodes);
}

/* Docker's "no suitable node (...)", the filters that refused most first. */
static void explain(const size_t failures[FILTER_COUNT], char *err, size_t errlen)
{
	enum filter order[FILTER_COUNT] = {FILTER_READY, FILTER_RESOURCES, FILTER_CONSTRAINTS, FILTER_HOST_PORTS};
	for (int i = 1; i < FILTER_COUNT; i++) /* stable: ties keep the pipeline's order */
		for (int j = i; j > 0 && failures[order[j]] > failures[order[j - 1]]; j--) {
			enum filter t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	char parts[FILTER_COUNT * 64] = "";
	size_t used = 0;
	for (int i = 0; i < FILTER_COUNT && failures[order[i]] > 0; i++) {
		char one[64];
		explain_one(order[i], failures[order[i]], one, sizeof(one));
		used += (size_t)snprintf(parts + used, sizeof(parts) - used, "%s%s", used ? "; " : "", one);
	}
	if (used == 0)
		snprintf(err, errlen, "no suitable node");
	else
		snprintf(err, errlen, "no suitable node (%s)", parts);
}

static void consider(struct sched_node *n, const struct task_needs *need, size_t failures[FILTER_COUNT],
		     struct sched_node **best)
{
	enum filter f = first_failing(n, need);
	if (f != FILTER_NONE)
		failures[f]++;
	else if (better(n, *best, need->service))
		*best = n;
}

int scheduler_place(struct scheduler *s, const json_t *task, const json_t *ports, const char **node_id,
		    char *err, size_t errlen)
{
	struct task_needs need;
	char why[SCHEDULER_MSG_MAX];
	needs_of(task, ports, &need);
	int rc = scheduler_constraints_parse(orch_jget(task, "Spec", "Placement", "Constraints", NULL),
					     &need.constraints, &need.n_constraints, why, sizeof(why));
	if (rc == SCHEDULER_E_NOMEM)
		return rc;
	need.constraints_bad = rc != 0;
	size_t failures[FILTER_COUNT] = {0};
	struct sched_node *best = NULL;
	const char *only = orch_jstr(task, "NodeID", NULL);
	if (only[0] != '\0') {
		struct sched_node *n = find_node(s, only);
		if (n != NULL)
			consider(n, &need, failures, &best);
	} else {
		find_node(s, ""); /* sorts, so that ties go to the smallest id */
		for (size_t i = 0; i < s->n; i++)
			consider(&s->nodes[i], &need, failures, &best);
	}
	free(need.constraints);
	if (best == NULL) {
		explain(failures, err, errlen);
		return SCHEDULER_E_NO_NODE;
	}
	rc = record(best, orch_task_wants_running(task), &need);
	if (rc != 0)
		return rc;
	*node_id = best->id;
	return 0;
}
