/* service_spec: checks and defaults of a Docker ServiceSpec, and the Endpoint with its published ports. */
#include "swarmnode/service_spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Most published ports one service may list. */
#define SERVICE_PORTS_MAX 4096

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A member, with JSON null read as absent (Go's decoder does the same). */
static json_t *get(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

/* Where the checks are: the error buffer and the path of the object at hand. */
struct chk {
	char *err;
	size_t errlen;
};

static int want_object(struct chk *c, const json_t *v, const char *path)
{
	return json_is_object(v) ? 0 : fail(c->err, c->errlen, "%s: expected an object", path);
}

static int check_string(struct chk *c, const json_t *obj, const char *key, const char *path)
{
	json_t *v = get(obj, key);
	if (v == NULL || json_is_string(v))
		return 0;
	return fail(c->err, c->errlen, "%s.%s: expected a string", path, key);
}

/* An integer member within [min, max]; *out gets it (0 when absent). */
static int check_int(struct chk *c, const json_t *obj, const char *key, const char *path, json_int_t min,
		     json_int_t max, json_int_t *out)
{
	json_t *v = get(obj, key);
	json_int_t dummy;
	if (out == NULL)
		out = &dummy;
	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return fail(c->err, c->errlen, "%s.%s: expected an integer", path, key);
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return fail(c->err, c->errlen, "%s.%s: %lld is out of range [%lld, %lld]", path, key, (long long)*out,
			    (long long)min, (long long)max);
	return 0;
}

/* A duration in nanoseconds that must not be negative; negative gets msg. */
static int check_duration(struct chk *c, const json_t *obj, const char *key, const char *path, const char *msg)
{
	json_t *v = get(obj, key);
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return fail(c->err, c->errlen, "%s.%s: expected an integer (nanoseconds)", path, key);
	if (json_integer_value(v) < 0)
		return msg ? fail(c->err, c->errlen, "%s", msg)
			   : fail(c->err, c->errlen, "%s.%s: cannot be negative", path, key);
	return 0;
}

/* A string member that is absent, "" or one of allowed (NULL-terminated). */
static int check_enum(struct chk *c, const json_t *obj, const char *key, const char *path,
		      const char *const *allowed)
{
	json_t *v = get(obj, key);
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return fail(c->err, c->errlen, "%s.%s: expected a string", path, key);
	const char *s = json_string_value(v);
	char list[128] = "";
	for (const char *const *a = allowed; *a; a++) {
		if (*s == '\0' || strcmp(s, *a) == 0)
			return 0;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
	}
	return fail(c->err, c->errlen, "%s.%s: invalid value \"%s\": expected one of %s", path, key, s, list);
}

static int check_string_array(struct chk *c, const json_t *obj, const char *key, const char *path)
{
	json_t *v = get(obj, key), *item;
	size_t i;
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return fail(c->err, c->errlen, "%s.%s: expected an array of strings", path, key);
	json_array_foreach(v, i, item)
		if (!json_is_string(item))
			return fail(c->err, c->errlen, "%s.%s[%zu]: expected a string", path, key, i);
	return 0;
}

static int check_labels(struct chk *c, const json_t *obj, const char *key, const char *path)
{
	json_t *v = get(obj, key), *item;
	const char *k;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return fail(c->err, c->errlen, "%s%s%s: expected an object of strings", path, *path ? "." : "", key);
	json_object_foreach(v, k, item)
		if (!json_is_string(item))
			return fail(c->err, c->errlen, "%s%s%s.%s: expected a string", path, *path ? "." : "", key, k);
	return 0;
}

/* A member that must be an object when present; *out gets it or NULL. */
static int child(struct chk *c, const json_t *obj, const char *key, const char *path, char *sub, size_t sublen,
		 json_t **out)
{
	*out = get(obj, key);
	snprintf(sub, sublen, "%s%s%s", path, *path ? "." : "", key);
	return *out == NULL ? 0 : want_object(c, *out, sub);
}

/* ---- names and constraints ----------------------------------------------------- */

static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* swarmkit's ^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$: alphanumerics joined by '-'
 * and '_', starting and ending with an alphanumeric. */
static bool dns_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static int check_name(struct chk *c, const json_t *spec)
{
	json_t *v = get(spec, "Name");
	if (v != NULL && !json_is_string(v))
		return fail(c->err, c->errlen, "Name: expected a string");
	const char *name = v ? json_string_value(v) : "";
	if (*name == '\0')
		return fail(c->err, c->errlen, "meta: name must be provided");
	if (!dns_name_valid(name))
		return fail(c->err, c->errlen, "name must be valid as a DNS name component");
	if (strlen(name) > SERVICE_NAME_MAX)
		return fail(c->err, c->errlen, "name must be 63 characters or fewer");
	return 0;
}

static void trim(const char *s, size_t n, const char **out, size_t *outn)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
			 s[n - 1] == '\v' || s[n - 1] == '\f'))
		n--;
	*out = s;
	*outn = n;
}

/* swarmkit's key pattern ^(?i)[a-z_][a-z0-9\-_.]+$ */
static bool constraint_key_valid(const char *k, size_t n)
{
	if (n < 2 || !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(k[i]) && k[i] != '-' && k[i] != '_' && k[i] != '.')
			return false;
	return true;
}

/* swarmkit's value pattern ^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$ */
static bool constraint_value_valid(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(v[i]) && strchr(":-_ \t\n\r\v\f.*()?+[]\\^$|/", v[i]) == NULL)
			return false;
	return true;
}

/* The keys the scheduler evaluates; anything else would leave tasks pending forever. */
static bool constraint_key_known(const char *k, size_t n)
{
	static const char *const exact[] = {"node.id", "node.hostname", "node.role", "node.platform.os",
					    "node.platform.arch", NULL};
	static const char *const prefixes[] = {"node.labels.", "engine.labels.", NULL};
	for (const char *const *e = exact; *e; e++)
		if (n == strlen(*e) && strncasecmp(k, *e, n) == 0)
			return true;
	for (const char *const *p = prefixes; *p; p++)
		if (n > strlen(*p) && strncasecmp(k, *p, strlen(*p)) == 0)
			return true;
	return false;
}

int service_constraint_check(const char *expr, char *err, size_t errlen)
{
	const char *op = strstr(expr, "==");
	if (op == NULL)
		op = strstr(expr, "!=");
	if (op == NULL)
		return fail(err, errlen, "constraint expected one operator from ==, !=");
	const char *key, *value;
	size_t keyn, valuen;
	trim(expr, (size_t)(op - expr), &key, &keyn);
	trim(op + 2, strlen(op + 2), &value, &valuen);
	if (!constraint_key_valid(key, keyn))
		return fail(err, errlen, "key '%.*s' is invalid", (int)keyn, key);
	if (!constraint_value_valid(value, valuen))
		return fail(err, errlen, "value '%.*s' is invalid", (int)valuen, value);
	if (!constraint_key_known(key, keyn))
		return fail(err, errlen,
			    "key '%.*s' is invalid: expected node.id, node.hostname, node.role, node.platform.os, "
			    "node.platform.arch, node.labels.<name> or engine.labels.<name>",
			    (int)keyn, key);
	return 0;
}

/* ---- the task template ------------------------------------------------------------ */

static int check_healthcheck(struct chk *c, const json_t *cs)
{
	static const char *const p = "TaskTemplate.ContainerSpec.Healthcheck";
	json_t *hc = get(cs, "Healthcheck");
	if (hc == NULL)
		return 0;
	int rc = want_object(c, hc, p);
	if (rc == 0)
		rc = check_string_array(c, hc, "Test", p);
	static const char *const durations[] = {"Interval", "Timeout", "StartPeriod"};
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		json_int_t d;
		rc = check_int(c, hc, durations[i], p, 0, INT64_MAX, &d);
		if (rc == 0 && d != 0 && d < 1000000)
			rc = fail(c->err, c->errlen, "ContainerSpec: %s in HealthConfig cannot be less than 1ms",
				  durations[i]);
	}
	if (rc == 0 && check_int(c, hc, "Retries", p, 0, INT64_MAX, NULL) != 0)
		rc = fail(c->err, c->errlen, "ContainerSpec: Retries in HealthConfig cannot be negative");
	return rc;
}

/* Docker's images are references; swarmnode's exec runtime also takes a
 * program path as the image, so only what neither can hold is refused. */
static int check_image(struct chk *c, const json_t *cs)
{
	json_t *v = get(cs, "Image");
	if (v != NULL && !json_is_string(v))
		return fail(c->err, c->errlen, "TaskTemplate.ContainerSpec.Image: expected a string");
	const char *image = v ? json_string_value(v) : "";
	if (*image == '\0')
		return fail(c->err, c->errlen, "ContainerSpec: image reference must be provided");
	for (const unsigned char *p = (const unsigned char *)image; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return fail(c->err, c->errlen, "ContainerSpec: \"%s\" is not a valid repository/tag", image);
	if (strlen(image) > 4096)
		return fail(c->err, c->errlen, "ContainerSpec: image reference longer than 4096 bytes");
	return 0;
}

static int check_env(struct chk *c, const json_t *cs)
{
	json_t *env = get(cs, "Env"), *item;
	size_t i;
	int rc = check_string_array(c, cs, "Env", "TaskTemplate.ContainerSpec");
	if (rc != 0 || env == NULL)
		return rc;
	json_array_foreach(env, i, item) {
		const char *s = json_string_value(item);
		if (*s == '\0' || *s == '=')
			return fail(c->err, c->errlen, "TaskTemplate.ContainerSpec.Env[%zu]: invalid environment "
				    "variable \"%s\": expected NAME=VALUE", i, s);
	}
	return 0;
}

static int check_container(struct chk *c, const json_t *tt)
{
	static const char *const p = "TaskTemplate.ContainerSpec";
	char sub[64];
	json_t *cs;
	int rc = child(c, tt, "ContainerSpec", "TaskTemplate", sub, sizeof(sub), &cs);
	if (rc != 0)
		return rc;
	if (cs == NULL)
		return fail(c->err, c->errlen, "ContainerSpec: image reference must be provided");
	if ((rc = check_image(c, cs)) || (rc = check_string_array(c, cs, "Command", p)) ||
	    (rc = check_string_array(c, cs, "Args", p)) || (rc = check_env(c, cs)) ||
	    (rc = check_string(c, cs, "Dir", p)) || (rc = check_string(c, cs, "User", p)) ||
	    (rc = check_string(c, cs, "Hostname", p)) || (rc = check_labels(c, cs, "Labels", p)) ||
	    (rc = check_duration(c, cs, "StopGracePeriod", p, NULL)))
		return rc;
	return check_healthcheck(c, cs);
}

static int check_resources_part(struct chk *c, const json_t *res, const char *key)
{
	char p[64];
	json_t *r;
	json_int_t cpus, mem;
	int rc = child(c, res, key, "TaskTemplate.Resources", p, sizeof(p), &r);
	if (rc != 0 || r == NULL)
		return rc;
	if ((rc = check_int(c, r, "NanoCPUs", p, 0, INT64_MAX, &cpus)) ||
	    (rc = check_int(c, r, "MemoryBytes", p, 0, INT64_MAX, &mem)))
		return rc;
	if (cpus != 0 && cpus < 1000000)
		return fail(c->err, c->errlen, "invalid cpu value %g: Must be at least %g", (double)cpus / 1e9, 0.001);
	if (mem != 0 && mem < 4 * 1024 * 1024)
		return fail(c->err, c->errlen, "invalid memory value %lld: Must be at least 4MiB", (long long)mem);
	return 0;
}

static int check_restart(struct chk *c, const json_t *tt)
{
	static const char *const conditions[] = {"none", "on-failure", "any", NULL};
	char p[64];
	json_t *rp;
	int rc = child(c, tt, "RestartPolicy", "TaskTemplate", p, sizeof(p), &rp);
	if (rc != 0 || rp == NULL)
		return rc;
	if ((rc = check_enum(c, rp, "Condition", p, conditions)) ||
	    (rc = check_duration(c, rp, "Delay", p, "TaskSpec: restart-delay cannot be negative")) ||
	    (rc = check_int(c, rp, "MaxAttempts", p, 0, INT64_MAX, NULL)))
		return rc;
	return check_duration(c, rp, "Window", p, "TaskSpec: restart-window cannot be negative");
}

static int check_placement(struct chk *c, const json_t *tt)
{
	static const char *const p = "TaskTemplate.Placement";
	char sub[64], why[SERVICE_SPEC_ERR_MAX];
	json_t *pl, *item;
	size_t i;
	int rc = child(c, tt, "Placement", "TaskTemplate", sub, sizeof(sub), &pl);
	if (rc != 0 || pl == NULL)
		return rc;
	if ((rc = check_string_array(c, pl, "Constraints", p)) || (rc = check_int(c, pl, "MaxReplicas", p, 0,
										    INT64_MAX, NULL)))
		return rc;
	json_array_foreach(get(pl, "Constraints"), i, item)
		if (service_constraint_check(json_string_value(item), why, sizeof(why)) != 0)
			return fail(c->err, c->errlen, "%s.Constraints[%zu] \"%s\": %s", p, i, json_string_value(item),
				    why);
	return 0;
}

static int check_networks(struct chk *c, const json_t *tt)
{
	json_t *nets = get(tt, "Networks"), *n;
	size_t i;
	char p[64];
	if (nets == NULL)
		return 0;
	if (!json_is_array(nets))
		return fail(c->err, c->errlen, "TaskTemplate.Networks: expected an array");
	json_array_foreach(nets, i, n) {
		snprintf(p, sizeof(p), "TaskTemplate.Networks[%zu]", i);
		int rc = want_object(c, n, p);
		if (rc == 0 && !json_is_string(get(n, "Target")))
			rc = fail(c->err, c->errlen, "%s.Target: expected a string", p);
		if (rc == 0)
			rc = check_string_array(c, n, "Aliases", p);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int check_task_template(struct chk *c, const json_t *spec)
{
	char p[32];
	json_t *tt, *res;
	int rc = child(c, spec, "TaskTemplate", "", p, sizeof(p), &tt);
	if (rc != 0)
		return rc;
	if (tt == NULL)
		return fail(c->err, c->errlen, "ContainerSpec: image reference must be provided");
	if ((rc = check_container(c, tt)) || (rc = child(c, tt, "Resources", "TaskTemplate", p, sizeof(p), &res)))
		return rc;
	if (res != NULL && ((rc = check_resources_part(c, res, "Limits")) ||
			    (rc = check_resources_part(c, res, "Reservations"))))
		return rc;
	if ((rc = check_restart(c, tt)) || (rc = check_placement(c, tt)) || (rc = check_networks(c, tt)))
		return rc;
	return check_int(c, tt, "ForceUpdate", "TaskTemplate", 0, INT64_MAX, NULL);
}

/* ---- mode, update configs, endpoint ------------------------------------------------ */

static int check_mode(struct chk *c, const json_t *spec)
{
	char p[32];
	json_t *mode, *rep, *global;
	int rc = child(c, spec, "Mode", "", p, sizeof(p), &mode);
	if (rc != 0 || mode == NULL)
		return rc;
	if (get(mode, "ReplicatedJob") || get(mode, "GlobalJob"))
		return fail(c->err, c->errlen, "Mode: jobs (ReplicatedJob, GlobalJob) are not supported");
	if ((rc = child(c, mode, "Replicated", "Mode", p, sizeof(p), &rep)) ||
	    (rc = child(c, mode, "Global", "Mode", p, sizeof(p), &global)))
		return rc;
	if (rep != NULL && global != NULL)
		return fail(c->err, c->errlen, "Mode: either Replicated or Global, not both");
	if (rep != NULL && json_is_integer(get(rep, "Replicas")) && json_integer_value(get(rep, "Replicas")) < 0)
		return fail(c->err, c->errlen, "Number of replicas must be non-negative");
	return rep ? check_int(c, rep, "Replicas", "Mode.Replicated", 0, SERVICE_REPLICAS_MAX, NULL) : 0;
}

static int check_update_config(struct chk *c, const json_t *spec, const char *key, bool rollback)
{
	static const char *const update_actions[] = {"pause", "continue", "rollback", NULL};
	static const char *const rollback_actions[] = {"pause", "continue", NULL};
	static const char *const orders[] = {"stop-first", "start-first", NULL};
	char p[32];
	json_t *uc;
	int rc = child(c, spec, key, "", p, sizeof(p), &uc);
	if (rc != 0 || uc == NULL)
		return rc;
	if ((rc = check_int(c, uc, "Parallelism", p, 0, INT64_MAX, NULL)) ||
	    (rc = check_duration(c, uc, "Delay", p, "TaskSpec: update-delay cannot be negative")) ||
	    (rc = check_enum(c, uc, "FailureAction", p, rollback ? rollback_actions : update_actions)) ||
	    (rc = check_duration(c, uc, "Monitor", p, "TaskSpec: update-monitor cannot be negative")) ||
	    (rc = check_enum(c, uc, "Order", p, orders)))
		return rc;
	json_t *ratio = get(uc, "MaxFailureRatio");
	if (ratio != NULL && !json_is_number(ratio))
		return fail(c->err, c->errlen, "%s.MaxFailureRatio: expected a number", p);
	if (ratio != NULL && (json_number_value(ratio) < 0 || json_number_value(ratio) > 1))
		return fail(c->err, c->errlen,
			    "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1");
	return 0;
}

static int proto_parse(const char *s, enum service_proto *out)
{
	static const char *const names[SERVICE_PROTO_COUNT] = {"tcp", "udp", "sctp"};
	if (s == NULL || *s == '\0') {
		*out = SERVICE_PROTO_TCP;
		return 0;
	}
	for (int i = 0; i < SERVICE_PROTO_COUNT; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum service_proto)i;
			return 0;
		}
	return -EINVAL;
}

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(get(obj, key));
	return s ? s : "";
}

static bool port_is_host(const json_t *port)
{
	return strcmp(str(port, "PublishMode"), "host") == 0;
}

static int check_port(struct chk *c, const json_t *port, const char *p, bool dnsrr)
{
	static const char *const protos[] = {"tcp", "udp", "sctp", NULL};
	static const char *const modes[] = {"ingress", "host", NULL};
	json_int_t target;
	int rc = want_object(c, port, p);
	if (rc || (rc = check_string(c, port, "Name", p)) || (rc = check_enum(c, port, "Protocol", p, protos)) ||
	    (rc = check_enum(c, port, "PublishMode", p, modes)) ||
	    (rc = check_int(c, port, "TargetPort", p, 0, 65535, &target)) ||
	    (rc = check_int(c, port, "PublishedPort", p, 0, 65535, NULL)))
		return rc;
	if (target == 0)
		return fail(c->err, c->errlen, "%s.TargetPort: a target port between 1 and 65535 is required", p);
	if (dnsrr && !port_is_host(port))
		return fail(c->err, c->errlen,
			    "EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
	return 0;
}

static json_int_t published(const json_t *port)
{
	return json_integer_value(get(port, "PublishedPort"));
}

static enum service_proto proto_of(const json_t *port)
{
	enum service_proto pr = SERVICE_PROTO_TCP;
	proto_parse(json_string_value(get(port, "Protocol")), &pr);
	return pr;
}

static int check_endpoint(struct chk *c, const json_t *spec)
{
	static const char *const modes[] = {"vip", "dnsrr", NULL};
	char p[48];
	json_t *es, *ports, *port;
	size_t i;
	int rc = child(c, spec, "EndpointSpec", "", p, sizeof(p), &es);
	if (rc != 0 || es == NULL || (rc = check_enum(c, es, "Mode", p, modes)) != 0)
		return rc;
	if ((ports = get(es, "Ports")) == NULL)
		return 0;
	if (!json_is_array(ports))
		return fail(c->err, c->errlen, "EndpointSpec.Ports: expected an array");
	if (json_array_size(ports) > SERVICE_PORTS_MAX)
		return fail(c->err, c->errlen, "EndpointSpec.Ports: more than %d ports", SERVICE_PORTS_MAX);
	bool dnsrr = strcmp(str(es, "Mode"), "dnsrr") == 0;
	json_array_foreach(ports, i, port) {
		snprintf(p, sizeof(p), "EndpointSpec.Ports[%zu]", i);
		if ((rc = check_port(c, port, p, dnsrr)) != 0)
			return rc;
		for (size_t j = 0; j < i && published(port) != 0; j++) {
			json_t *other = json_array_get(ports, j);
			if (published(other) == published(port) && proto_of(other) == proto_of(port))
				return fail(c->err, c->errlen, "EndpointSpec: duplicate published ports provided");
		}
	}
	return 0;
}

int service_spec_check(const json_t *spec, char *err, size_t errlen)
{
	struct chk c = {err, errlen};
	int rc;
	if (!json_is_object(spec))
		return fail(err, errlen, "the service spec must be a JSON object");
	if ((rc = check_name(&c, spec)) || (rc = check_labels(&c, spec, "Labels", "")) ||
	    (rc = check_task_template(&c, spec)) || (rc = check_mode(&c, spec)) ||
	    (rc = check_update_config(&c, spec, "UpdateConfig", false)) ||
	    (rc = check_update_config(&c, spec, "RollbackConfig", true)))
		return rc;
	return check_endpoint(&c, spec);
}

bool service_spec_is_global(const json_t *spec)
{
	return get(get(spec, "Mode"), "Global") != NULL;
}

/* ---- defaults ------------------------------------------------------------------------ */

/* obj[key], made an empty object when absent or null. NULL when out of memory. */
static json_t *ensure_object(json_t *obj, const char *key)
{
	json_t *v = get(obj, key);
	if (v != NULL)
		return v;
	v = json_object();
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		return NULL;
	return v;
}

/* Sets obj[key] = v (taken) unless present and not null or "". Returns the
 * number of failures (0, or 1 out of memory) so that callers can add them up
 * and still release every value they made. */
static int set_default(json_t *obj, const char *key, json_t *v)
{
	json_t *cur = get(obj, key);
	if (cur != NULL && !(json_is_string(cur) && *json_string_value(cur) == '\0')) {
		json_decref(v);
		return 0;
	}
	return v == NULL || json_object_set_new(obj, key, v) != 0;
}

static bool update_defaults(json_t *uc)
{
	if (uc == NULL)
		return false;
	int failed = set_default(uc, "Parallelism", json_integer(1));
	failed += set_default(uc, "FailureAction", json_string("pause"));
	failed += set_default(uc, "Monitor", json_integer(SERVICE_DEFAULT_MONITOR_NS));
	failed += set_default(uc, "MaxFailureRatio", json_integer(0));
	failed += set_default(uc, "Order", json_string("stop-first"));
	return failed == 0;
}

static bool task_defaults(json_t *tt)
{
	json_t *cs = ensure_object(tt, "ContainerSpec");
	json_t *rp = ensure_object(tt, "RestartPolicy");
	if (cs == NULL || rp == NULL)
		return false;
	int failed = set_default(cs, "StopGracePeriod", json_integer(SERVICE_DEFAULT_STOP_GRACE_NS));
	failed += set_default(rp, "Condition", json_string("any"));
	failed += set_default(rp, "Delay", json_integer(SERVICE_DEFAULT_RESTART_DELAY_NS));
	failed += set_default(rp, "MaxAttempts", json_integer(0));
	failed += set_default(tt, "ForceUpdate", json_integer(0));
	return failed == 0;
}

static bool endpoint_defaults(json_t *es)
{
	json_t *port;
	size_t i;
	if (es == NULL)
		return false;
	int failed = set_default(es, "Mode", json_string("vip"));
	json_array_foreach(get(es, "Ports"), i, port) {
		failed += set_default(port, "Protocol", json_string("tcp"));
		failed += set_default(port, "PublishMode", json_string("ingress"));
	}
	return failed == 0;
}

json_t *service_spec_with_defaults(const json_t *spec)
{
	json_t *out = json_deep_copy(spec);
	if (out == NULL)
		return NULL;
	json_t *mode = ensure_object(out, "Mode");
	bool ok = mode != NULL && set_default(out, "Labels", json_object()) == 0;
	if (ok && get(mode, "Global") == NULL) {
		json_t *rep = ensure_object(mode, "Replicated");
		ok = rep != NULL && set_default(rep, "Replicas", json_integer(1)) == 0;
	}
	json_t *tt = ensure_object(out, "TaskTemplate");
	ok = ok && tt != NULL && task_defaults(tt);
	ok = ok && update_defaults(ensure_object(out, "UpdateConfig"));
	ok = ok && update_defaults(ensure_object(out, "RollbackConfig"));
	ok = ok && endpoint_defaults(ensure_object(out, "EndpointSpec"));
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

void service_spec_random_name(uint32_t r, char out[SERVICE_NAME_MAX + 1])
{
	static const char *const adjectives[] = {
		"admiring", "brave", "busy", "clever", "determined", "eager", "elated", "epic", "focused", "gallant",
		"happy", "hopeful", "jolly", "keen", "laughing", "loving", "modest", "nifty", "optimistic", "peaceful",
		"quirky", "relaxed", "serene", "sharp", "stoic", "tender", "upbeat", "vibrant", "wizardly", "zealous",
	};
	static const char *const names[] = {
		"agnesi", "babbage", "bohr", "cerf", "curie", "dijkstra", "einstein", "euler", "faraday", "galois",
		"hamilton", "hopper", "hypatia", "knuth", "kowalevski", "lamport", "liskov", "lovelace", "mccarthy",
		"meitner", "noether", "pascal", "ritchie", "shannon", "thompson", "torvalds", "turing", "wozniak",
		"yonath", "zuse",
	};
	size_t na = sizeof(adjectives) / sizeof(adjectives[0]), nn = sizeof(names) / sizeof(names[0]);
	snprintf(out, SERVICE_NAME_MAX + 1, "%s_%s", adjectives[r % na], names[(r / na) % nn]);
}

/* ---- ports --------------------------------------------------------------------------- */

void service_port_set_clear(struct service_port_set *set)
{
	memset(set, 0, sizeof(*set));
}

static void port_set_add(struct service_port_set *set, enum service_proto pr, json_int_t port)
{
	if (port > 0 && port < 65536)
		set->bits[pr][port / 8] |= (uint8_t)(1u << (port % 8));
}

bool service_port_set_has(const struct service_port_set *set, enum service_proto proto, uint32_t port)
{
	return proto < SERVICE_PROTO_COUNT && port < 65536 && (set->bits[proto][port / 8] & (1u << (port % 8)));
}

/* Calls fn on every port of a stored service: its spec's and its endpoint's. */
static int foreach_port(const json_t *service, int (*fn)(void *data, const json_t *port), void *data)
{
	const json_t *lists[2] = {get(get(get(service, "Spec"), "EndpointSpec"), "Ports"),
				  get(get(service, "Endpoint"), "Ports")};
	json_t *port;
	size_t i;
	for (int l = 0; l < 2; l++)
		json_array_foreach(lists[l], i, port) {
			int rc = json_is_object(port) ? fn(data, port) : 0;
			if (rc != 0)
				return rc;
		}
	return 0;
}

static int mark_port(void *data, const json_t *port)
{
	port_set_add(data, proto_of(port), published(port));
	return 0;
}

void service_port_set_add_service(struct service_port_set *set, const json_t *service)
{
	foreach_port(service, mark_port, set);
}

struct conflict_ctx {
	const json_t *spec_ports;
	const json_t *other;
	char *err;
	size_t errlen;
};

/* swarmkit's checkPortConflicts for one port of the other service. */
static int port_in_use(void *data, const json_t *theirs)
{
	struct conflict_ctx *c = data;
	json_t *mine;
	size_t i;
	if (published(theirs) == 0)
		return 0;
	json_array_foreach(c->spec_ports, i, mine) {
		if (published(mine) != published(theirs) || proto_of(mine) != proto_of(theirs))
			continue;
		bool theirs_host = port_is_host(theirs);
		if (theirs_host && port_is_host(mine))
			continue; /* host-mode ports may be shared: the scheduler keeps them apart */
		snprintf(c->err, c->errlen, "port '%lld' is already in use by service '%s' (%s) as %s",
			 (long long)published(theirs), str(get(c->other, "Spec"), "Name"), str(c->other, "ID"),
			 theirs_host ? "a host-published port" : "an ingress port");
		return -EADDRINUSE;
	}
	return 0;
}

int service_ports_conflict(const json_t *spec, const json_t *other, char *err, size_t errlen)
{
	char dummy[1];
	struct conflict_ctx c = {get(get(spec, "EndpointSpec"), "Ports"), other, err ? err : dummy,
				 err ? errlen : sizeof(dummy)};
	if (!json_is_array(c.spec_ports) || json_array_size(c.spec_ports) == 0)
		return 0;
	return foreach_port(other, port_in_use, &c);
}

/* True when port (proto) is published by the spec's ports or already given in built. */
static bool taken_here(const json_t *spec_ports, const json_t *built, enum service_proto pr, json_int_t port)
{
	const json_t *lists[2] = {spec_ports, built};
	json_t *p;
	size_t i;
	for (int l = 0; l < 2; l++)
		json_array_foreach(lists[l], i, p)
			if (published(p) == port && proto_of(p) == pr)
				return true;
	return false;
}

/* The dynamic port the old endpoint gave this target, or 0. */
static json_int_t previous_port(const json_t *old_endpoint, const json_t *port)
{
	json_t *p;
	size_t i;
	json_array_foreach(get(old_endpoint, "Ports"), i, p) {
		json_int_t pub = published(p);
		if (json_integer_value(get(p, "TargetPort")) == json_integer_value(get(port, "TargetPort")) &&
		    proto_of(p) == proto_of(port) && !port_is_host(p) && pub >= SERVICE_DYNAMIC_PORT_FIRST &&
		    pub <= SERVICE_DYNAMIC_PORT_LAST)
			return pub;
	}
	return 0;
}

static json_int_t pick_port(const json_t *spec_ports, const json_t *built, const json_t *old_endpoint,
			    const json_t *port, const struct service_port_set *used)
{
	enum service_proto pr = proto_of(port);
	json_int_t prev = previous_port(old_endpoint, port);
	if (prev != 0 && !service_port_set_has(used, pr, (uint32_t)prev) && !taken_here(spec_ports, built, pr, prev))
		return prev;
	for (json_int_t p = SERVICE_DYNAMIC_PORT_FIRST; p <= SERVICE_DYNAMIC_PORT_LAST; p++)
		if (!service_port_set_has(used, pr, (uint32_t)p) && !taken_here(spec_ports, built, pr, p))
			return p;
	return 0;
}

int service_endpoint_build(const json_t *spec, const json_t *old_endpoint, const struct service_port_set *used,
			   json_t **out, char *err, size_t errlen)
{
	json_t *es = get(spec, "EndpointSpec"), *port;
	json_t *spec_ports = get(es, "Ports");
	size_t i;
	*out = NULL;
	json_t *endpoint = json_pack("{s:o}", "Spec", es ? json_deep_copy(es) : json_object());
	json_t *ports = json_array();
	if (endpoint == NULL || ports == NULL)
		goto nomem;
	json_array_foreach(spec_ports, i, port) {
		json_t *copy = json_deep_copy(port);
		if (copy == NULL || json_array_append_new(ports, copy) != 0)
			goto nomem;
		if (port_is_host(port) || published(port) != 0)
			continue;
		json_int_t chosen = pick_port(spec_ports, ports, old_endpoint, port, used);
		if (chosen == 0) {
			json_decref(ports);
			json_decref(endpoint);
			snprintf(err, errlen, "could not find an available port in the dynamic range %d-%d for "
				 "EndpointSpec.Ports[%zu]", SERVICE_DYNAMIC_PORT_FIRST, SERVICE_DYNAMIC_PORT_LAST, i);
			return -ENOSPC;
		}
		if (json_object_set_new(copy, "PublishedPort", json_integer(chosen)) != 0)
			goto nomem;
	}
	if (json_array_size(ports) > 0) {
		if (json_object_set_new(endpoint, "Ports", ports) != 0)
			goto nomem_ports_taken;
	} else {
		json_decref(ports);
	}
	*out = endpoint;
	return 0;
nomem:
	json_decref(ports);
nomem_ports_taken:
	json_decref(endpoint);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}
