/* cmd_stack: stacks from compose files as docker's stack commands handle
 * them: config (no daemon), deploy (and the top-level `deploy FILE [NAME]`),
 * ls, services, ps and rm. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/curl_dl.h"
#include "swarmnode/service_spec.h"
#include "swarmnode/stack.h"
#include "swarmnode/table.h"

extern char **environ;

#define STACK_MAX_FILES 32

static void stack_config_usage(FILE *out)
{
	fputs("Usage: swarmnode stack config -c FILE [-c FILE...] [NAME]\n\n"
	      "Print the service specs and networks a stack would deploy (no daemon needed).\n"
	      "Later files override earlier ones; NAME defaults to the files' name: key,\n"
	      "else the first file's folder name.\n\n"
	      "Options:\n"
	      "  -c, --compose-file FILE      a stack file (repeat to merge several)\n"
	      "  -h, --help                   print this help\n",
	      out);
}

/* Options and positionals; returns CLI_OK, CLI_USAGE, or -1 after --help. */
static int stack_config_args(int argc, char **argv, struct stack_source *files, size_t *n, const char **name)
{
	*n = 0;
	*name = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *file = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			stack_config_usage(stdout);
			return -1;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--compose-file") == 0) {
			if (i + 1 >= argc) {
				cli_errorf("flag needs an argument: %s", a);
				return CLI_USAGE;
			}
			file = argv[++i];
		} else if (strncmp(a, "--compose-file=", 15) == 0) {
			file = a + 15;
		} else if (a[0] == '-' && a[1] != '\0') {
			cli_errorf("unknown flag: %s", a);
			return CLI_USAGE;
		} else if (*name == NULL) {
			*name = a;
		} else {
			cli_errorf("\"config\" requires at most 1 argument");
			return CLI_USAGE;
		}
		if (file && *n == STACK_MAX_FILES) {
			cli_errorf("at most %d stack files", STACK_MAX_FILES);
			return CLI_USAGE;
		}
		if (file)
			files[(*n)++] = (struct stack_source){.path = file};
	}
	if (*n == 0) {
		cli_errorf("please specify a stack file (-c FILE)");
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* Loads and validates the stack, printing its diagnostics or its warnings
 * (docker's "Ignoring unsupported options: ..."); *out is the caller's. */
static int load_stack(const struct stack_source *files, size_t n, const char *name, struct stack **out)
{
	struct stack_diag diag;
	if (stack_load(files, n, (const char *const *)environ, name, out, &diag) != 0) {
		fputs(diag.messages ? diag.messages : "swarmnode: cannot load the stack\n", stderr);
		stack_diag_free(&diag);
		return CLI_ERROR;
	}
	json_t *warnings = stack_warnings(*out);
	for (size_t i = 0; i < json_array_size(warnings); i++)
		fprintf(stderr, "%s\n\n", json_string_value(json_array_get(warnings, i)));
	return CLI_OK;
}

static int cmd_stack_config(struct cli *cli, int argc, char **argv)
{
	struct stack_source files[STACK_MAX_FILES];
	size_t n;
	const char *name;
	struct stack *stack;
	(void)cli;
	int rc = stack_config_args(argc, argv, files, &n, &name);
	if (rc != CLI_OK) {
		if (rc == CLI_USAGE)
			fputs("See 'swarmnode stack config --help'.\n", stderr);
		return rc < 0 ? CLI_OK : rc;
	}
	if (load_stack(files, n, name, &stack) != CLI_OK)
		return CLI_ERROR;
	json_t *doc = stack_to_json(stack);
	char *text = json_dumps(doc, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(doc);
	stack_free(stack);
	return text ? CLI_OK : CLI_ERROR;
}

/* ---- talking to the daemon -------------------------------------------------------------- */

/* "/<kind>/<ref escaped><suffix>". */
static void ref_path(struct cli *cli, const char *kind, const char *ref, const char *suffix, char *out, size_t len)
{
	struct client *c = cli_client(cli);
	char *esc = c->curl_fns->easy_escape(c->curl, ref, 0);
	snprintf(out, len, "/%s/%s%s", kind, esc ? esc : ref, suffix);
	c->curl_fns->free(esc);
}

/* GET /<kind>?filters={"label":{"<label>":true}}[&<extra>]: the objects
 * carrying a stack label ("com.docker.stack.namespace=demo", or the bare key
 * for every stack), as docker's stack commands find them. */
static int list_labelled(struct cli *cli, const char *kind, const char *label, const char *extra, json_t **out)
{
	struct client *c = cli_client(cli);
	json_t *filters = json_pack("{s:{s:b}}", "label", label, 1);
	char *text = json_dumps(filters, JSON_COMPACT), path[1024];
	char *esc = text ? c->curl_fns->easy_escape(c->curl, text, 0) : NULL;
	json_decref(filters);
	free(text);
	if (esc == NULL) {
		cli_errorf("out of memory");
		return CLI_ERROR;
	}
	snprintf(path, sizeof(path), "/%s?filters=%s%s%s", kind, esc, extra ? "&" : "", extra ? extra : "");
	c->curl_fns->free(esc);
	return cli_call(cli, "GET", path, NULL, out);
}

static int list_stack(struct cli *cli, const char *kind, const char *stack, json_t **out)
{
	char label[512];
	snprintf(label, sizeof(label), "%s=%s", STACK_NAMESPACE_LABEL, stack);
	return list_labelled(cli, kind, label, NULL, out);
}

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* A service's Spec.Name, a network's Name. */
static const char *object_name(const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "Spec");
	return spec ? jstr(spec, "Name") : jstr(obj, "Name");
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(object_name(*(json_t *const *)a), object_name(*(json_t *const *)b));
}

/* The array's elements sorted by name, in a malloc'd array of borrowed
 * references (n + 1 slots, so that an empty array is not NULL). */
static json_t **sorted_by_name(const json_t *array, size_t *n)
{
	*n = json_array_size(array);
	json_t **v = calloc(*n + 1, sizeof(*v));
	if (v == NULL) {
		cli_errorf("out of memory");
		exit(CLI_ERROR);
	}
	for (size_t i = 0; i < *n; i++)
		v[i] = json_array_get(array, i);
	qsort(v, *n, sizeof(*v), by_name);
	return v;
}

/* ---- deploy ---------------------------------------------------------------------------------- */

/* One deployment: what the stack asks for and what the cluster has. */
struct deploy {
	struct cli *cli;
	struct stack *stack;
	bool prune;
	json_t *network_ids; /* network name -> id: the stack's networks and its external ones */
	json_t *services;    /* service name -> the stack's service as GET /services shows it */
};

/* Checks every service spec as the daemon will, so that a spec it would
 * refuse stops the deployment before anything changed. */
static int check_specs(const struct deploy *d)
{
	char err[SERVICE_SPEC_ERR_MAX];
	json_t *spec;
	size_t i;
	json_array_foreach(stack_services(d->stack), i, spec) {
		if (service_spec_check(spec, err, sizeof(err)) != 0) {
			cli_errorf("service %s: %s", jstr(spec, "Name"), err);
			return CLI_ERROR;
		}
	}
	return CLI_OK;
}

/* The external networks must exist before anything is deployed (docker's message). */
static int check_external_networks(struct deploy *d)
{
	json_t *name, *found;
	size_t i;
	char path[512];
	json_array_foreach(stack_external_networks(d->stack), i, name) {
		ref_path(d->cli, "networks", json_string_value(name), "", path, sizeof(path));
		struct client *c = cli_client(d->cli);
		long status = client_call(c, "GET", path, NULL, &found);
		if (status == 404)
			fprintf(stderr, "network \"%s\" is declared as external, but could not be found. You need to "
				"create a swarm-scoped network before the stack is deployed\n", json_string_value(name));
		else if (status != 200)
			fprintf(stderr, "%s%s\n", status > 0 ? "Error response from daemon: " : "swarmnode: ", c->error);
		if (status != 200)
			return CLI_ERROR;
		json_object_set(d->network_ids, json_string_value(name), json_object_get(found, "Id"));
		json_decref(found);
	}
	return CLI_OK;
}

/* Reads the stack's networks and services as they are now. */
static int read_current(struct deploy *d)
{
	json_t *networks, *services, *v;
	size_t i;
	const char *name = stack_name(d->stack);
	if (list_stack(d->cli, "networks", name, &networks) != CLI_OK)
		return CLI_ERROR;
	json_array_foreach(networks, i, v)
		json_object_set(d->network_ids, jstr(v, "Name"), json_object_get(v, "Id"));
	json_decref(networks);
	if (list_stack(d->cli, "services", name, &services) != CLI_OK)
		return CLI_ERROR;
	json_array_foreach(services, i, v)
		json_object_set(d->services, object_name(v), v);
	json_decref(services);
	return CLI_OK;
}

/* With --prune, the stack's services the files no longer name go first, as with docker. */
static int prune_services(struct deploy *d)
{
	const char *name;
	json_t *service;
	char path[512];
	void *tmp;
	json_t *wanted = json_object(), *spec;
	size_t i;
	json_array_foreach(stack_services(d->stack), i, spec)
		json_object_set(wanted, jstr(spec, "Name"), json_true());
	int rc = CLI_OK;
	json_object_foreach_safe(d->services, tmp, name, service) {
		if (json_object_get(wanted, name) != NULL)
			continue;
		printf("Removing service %s\n", name);
		ref_path(d->cli, "services", jstr(service, "ID"), "", path, sizeof(path));
		if ((rc = cli_call(d->cli, "DELETE", path, NULL, NULL)) != CLI_OK)
			break;
		json_object_del(d->services, name);
	}
	json_decref(wanted);
	return rc;
}

static int create_networks(struct deploy *d)
{
	json_t *request, *created;
	size_t i;
	json_array_foreach(stack_networks(d->stack), i, request) {
		const char *name = jstr(request, "Name");
		if (json_object_get(d->network_ids, name) != NULL)
			continue;
		printf("Creating network %s\n", name);
		json_t *body = json_deep_copy(request);
		json_object_set_new(body, "CheckDuplicate", json_true());
		int rc = cli_call(d->cli, "POST", "/networks/create", body, &created);
		json_decref(body);
		if (rc != CLI_OK)
			return rc;
		json_object_set(d->network_ids, name, json_object_get(created, "Id"));
		json_decref(created);
	}
	return CLI_OK;
}

/* spec as the daemon stores it (dockerd's defaults, network names as ids),
 * to compare with a service's current Spec. A new reference. */
static json_t *as_stored(const struct deploy *d, const json_t *spec)
{
	json_t *full = service_spec_with_defaults(spec), *att;
	size_t i;
	if (full == NULL) {
		cli_errorf("out of memory");
		exit(CLI_ERROR);
	}
	json_array_foreach(json_object_get(json_object_get(full, "TaskTemplate"), "Networks"), i, att) {
		json_t *id = json_object_get(d->network_ids, jstr(att, "Target"));
		if (id != NULL)
			json_object_set(att, "Target", id);
	}
	return full;
}

/* Creates the services the cluster lacks and updates those whose spec
 * changed; a service whose spec is unchanged is left alone. */
static int deploy_services(struct deploy *d)
{
	json_t *spec;
	size_t i;
	char path[512], query[64];
	json_array_foreach(stack_services(d->stack), i, spec) {
		const char *name = jstr(spec, "Name");
		json_t *current = json_object_get(d->services, name);
		int rc;
		if (current == NULL) {
			printf("Creating service %s\n", name);
			rc = cli_call(d->cli, "POST", "/services/create", spec, NULL);
		} else {
			json_t *wanted = as_stored(d, spec);
			bool same = stack_spec_equal(wanted, json_object_get(current, "Spec"));
			json_decref(wanted);
			if (same)
				continue;
			printf("Updating service %s (id: %s)\n", name, jstr(current, "ID"));
			snprintf(query, sizeof(query), "/update?version=%lld",
				 (long long)json_integer_value(json_object_get(json_object_get(current, "Version"), "Index")));
			ref_path(d->cli, "services", jstr(current, "ID"), query, path, sizeof(path));
			rc = cli_call(d->cli, "POST", path, spec, NULL);
		}
		fflush(stdout);
		if (rc != CLI_OK)
			return rc;
	}
	return CLI_OK;
}

/* Validates everything first (files, specs, external networks), then
 * prunes, creates networks and creates or updates services. */
static int deploy_stack(struct cli *cli, const struct stack_source *files, size_t n, const char *name, bool prune)
{
	struct deploy d = {.cli = cli, .prune = prune};
	if (load_stack(files, n, name, &d.stack) != CLI_OK)
		return CLI_ERROR;
	d.network_ids = json_object();
	d.services = json_object();
	int rc = check_specs(&d);
	if (rc == CLI_OK)
		rc = check_external_networks(&d);
	if (rc == CLI_OK)
		rc = read_current(&d);
	if (rc == CLI_OK && d.prune)
		rc = prune_services(&d);
	if (rc == CLI_OK)
		rc = create_networks(&d);
	if (rc == CLI_OK)
		rc = deploy_services(&d);
	json_decref(d.network_ids);
	json_decref(d.services);
	stack_free(d.stack);
	return rc;
}

#define PRUNE_OPTION {"prune", 0, NULL, "remove the stack's services that the files no longer name"}
#define DETACH_OPTION {"detach", 'd', NULL, "do not wait for the services to converge (the only mode so far)"}

enum { D_COMPOSE_FILE, D_PRUNE, D_DETACH };

static const struct cli_option deploy_options[] = {
	[D_COMPOSE_FILE] = {"compose-file", 'c', "file", "a stack file (repeat to merge several, later ones win)"},
	[D_PRUNE] = PRUNE_OPTION,
	[D_DETACH] = DETACH_OPTION,
	{0},
};

enum { F_PRUNE, F_DETACH };

static const struct cli_option deploy_file_options[] = {
	[F_PRUNE] = PRUNE_OPTION,
	[F_DETACH] = DETACH_OPTION,
	{0},
};

static int cmd_stack_deploy(struct cli *cli, const struct cli_args *args)
{
	struct stack_source files[STACK_MAX_FILES];
	size_t n = args->nvalues[D_COMPOSE_FILE];
	if (n == 0 || n > STACK_MAX_FILES) {
		cli_errorf(n ? "at most %d stack files" : "please specify a stack file (-c FILE)", STACK_MAX_FILES);
		return CLI_USAGE;
	}
	for (size_t i = 0; i < n; i++)
		files[i] = (struct stack_source){.path = args->values[D_COMPOSE_FILE][i]};
	return deploy_stack(cli, files, n, args->argv[0], args->value[D_PRUNE] != NULL);
}

/* `swarmnode deploy FILE [NAME]`: the name from the file's name: key, else its folder. */
static int cmd_deploy(struct cli *cli, const struct cli_args *args)
{
	struct stack_source file = {.path = args->argv[0]};
	return deploy_stack(cli, &file, 1, args->argc > 1 ? args->argv[1] : NULL, args->value[F_PRUNE] != NULL);
}

/* ---- ls, services, ps ------------------------------------------------------------------------- */

static int cmd_stack_ls(struct cli *cli, const struct cli_args *args)
{
	static const char *const headers[] = {"NAME", "SERVICES"};
	json_t *services, *counts = json_object(), *v;
	size_t i;
	(void)args;
	if (list_labelled(cli, "services", STACK_NAMESPACE_LABEL, NULL, &services) != CLI_OK) {
		json_decref(counts);
		return CLI_ERROR;
	}
	json_array_foreach(services, i, v) {
		const char *stack = jstr(json_object_get(json_object_get(v, "Spec"), "Labels"), STACK_NAMESPACE_LABEL);
		json_object_set_new(counts, stack, json_integer(json_integer_value(json_object_get(counts, stack)) + 1));
	}
	const char *stack, **names = calloc(json_object_size(counts) + 1, sizeof(*names));
	size_t n = 0;
	if (names == NULL)
		return cli_errorf("out of memory"), CLI_ERROR;
	json_object_foreach(counts, stack, v)
		names[n++] = stack;
	qsort(names, n, sizeof(*names), by_string);
	struct table t;
	table_init(&t, 2, headers);
	for (i = 0; i < n; i++) {
		char count[32];
		snprintf(count, sizeof(count), "%lld", (long long)json_integer_value(json_object_get(counts, names[i])));
		const char *row[] = {names[i], count};
		table_add_row(&t, row);
	}
	table_print(&t, stdout);
	free(names);
	json_decref(counts);
	json_decref(services);
	return CLI_OK;
}

/* The stack's services, or NULL after an error or, when there are none,
 * after docker's "Nothing found in stack" (*rc says which). */
static json_t *stack_services_or_nothing(struct cli *cli, const char *stack, int *rc)
{
	json_t *services;
	*rc = list_stack(cli, "services", stack, &services);
	if (*rc == CLI_OK && json_array_size(services) == 0) {
		fprintf(stderr, "Nothing found in stack: %s\n", stack);
		json_decref(services);
		return NULL;
	}
	return *rc == CLI_OK ? services : NULL;
}

/* An option for run_service_command: its values, NULL-terminated ("" for a
 * flag that is set), or NULL when not given. */
struct service_opt {
	const char *name;
	const char **values;
};

/* Runs `service <sub>` with these options and positionals: `stack services`
 * and `stack ps` are `service ls` and `service ps` over the stack's services. */
static int run_service_command(struct cli *cli, const char *sub, const struct service_opt *opts, size_t nopts,
			       int argc, char **argv)
{
	const struct cli_command *cmd = NULL;
	struct cli_args args = {.argc = argc, .argv = argv};
	for (const struct cli_command *const *c = cmd_service_def.sub; *c && cmd == NULL; c++)
		if (strcmp((*c)->name, sub) == 0)
			cmd = *c;
	if (cmd == NULL) {
		cli_errorf("service %s is missing from this build", sub);
		return CLI_ERROR;
	}
	for (size_t i = 0; i < nopts; i++) {
		for (int o = 0; opts[i].values != NULL && cmd->options && cmd->options[o].name != NULL; o++) {
			if (strcmp(cmd->options[o].name, opts[i].name) != 0)
				continue;
			args.values[o] = opts[i].values;
			while (opts[i].values[args.nvalues[o]] != NULL)
				args.value[o] = opts[i].values[args.nvalues[o]++];
		}
	}
	return cmd->run(cli, &args);
}

static const char *set_flag[] = {"", NULL};

enum { S_QUIET, S_FILTER };

static const struct cli_option services_options[] = {
	[S_QUIET] = {"quiet", 'q', NULL, "only print service ids"},
	[S_FILTER] = {"filter", 'f', "filter", "filter output (id=, name=, label=, mode=)"},
	{0},
};

static int cmd_stack_services(struct cli *cli, const struct cli_args *args)
{
	char label[512];
	int rc;
	json_t *services = stack_services_or_nothing(cli, args->argv[0], &rc);
	if (services == NULL)
		return rc;
	json_decref(services);
	size_t n = args->nvalues[S_FILTER];
	const char **filters = calloc(n + 2, sizeof(*filters));
	if (filters == NULL)
		return cli_errorf("out of memory"), CLI_ERROR;
	snprintf(label, sizeof(label), "label=%s=%s", STACK_NAMESPACE_LABEL, args->argv[0]);
	filters[0] = label;
	for (size_t i = 0; i < n; i++)
		filters[i + 1] = args->values[S_FILTER][i];
	const struct service_opt opts[] = {{"quiet", args->value[S_QUIET] ? set_flag : NULL}, {"filter", filters}};
	rc = run_service_command(cli, "ls", opts, 2, 0, NULL);
	free(filters);
	return rc;
}

enum { P_QUIET, P_NO_TRUNC };

static const struct cli_option ps_options[] = {
	[P_QUIET] = {"quiet", 'q', NULL, "only print task ids"},
	[P_NO_TRUNC] = {"no-trunc", 0, NULL, "do not truncate ids and errors"},
	{0},
};

static int cmd_stack_ps(struct cli *cli, const struct cli_args *args)
{
	int rc;
	json_t *services = stack_services_or_nothing(cli, args->argv[0], &rc);
	if (services == NULL)
		return rc;
	size_t n;
	json_t **sorted = sorted_by_name(services, &n);
	char **ids = calloc(n + 1, sizeof(*ids));
	if (ids == NULL)
		return cli_errorf("out of memory"), CLI_ERROR;
	for (size_t i = 0; i < n; i++)
		ids[i] = (char *)jstr(sorted[i], "ID");
	const struct service_opt opts[] = {{"quiet", args->value[P_QUIET] ? set_flag : NULL},
					   {"no-trunc", args->value[P_NO_TRUNC] ? set_flag : NULL}};
	rc = run_service_command(cli, "ps", opts, 2, (int)n, ids);
	free(ids);
	free(sorted);
	json_decref(services);
	return rc;
}

/* ---- rm --------------------------------------------------------------------------------------- */

/* Deletes each object ("service" or "network") by id, printing docker's
 * line first; returns how many deletions failed. */
static int remove_all(struct cli *cli, const char *what, const json_t *objects)
{
	size_t n;
	int failed = 0;
	char kind[32], path[512];
	json_t **sorted = sorted_by_name(objects, &n);
	snprintf(kind, sizeof(kind), "%ss", what);
	for (size_t i = 0; i < n; i++) {
		const char *id = jstr(sorted[i], strcmp(what, "network") == 0 ? "Id" : "ID");
		printf("Removing %s %s\n", what, object_name(sorted[i]));
		fflush(stdout);
		ref_path(cli, kind, id, "", path, sizeof(path));
		failed += cli_call(cli, "DELETE", path, NULL, NULL) != CLI_OK;
	}
	free(sorted);
	return failed;
}

/* Services first: a network in use by a service cannot go. */
static int remove_stack(struct cli *cli, const char *stack)
{
	json_t *services = NULL, *networks = NULL;
	int rc = list_stack(cli, "services", stack, &services);
	if (rc == CLI_OK)
		rc = list_stack(cli, "networks", stack, &networks);
	if (rc == CLI_OK && json_array_size(services) + json_array_size(networks) == 0)
		fprintf(stderr, "Nothing found in stack: %s\n", stack);
	else if (rc == CLI_OK && remove_all(cli, "service", services) + remove_all(cli, "network", networks) > 0) {
		fprintf(stderr, "Failed to remove some resources from stack: %s\n", stack);
		rc = CLI_ERROR;
	}
	json_decref(services);
	json_decref(networks);
	return rc;
}

enum { R_DETACH };

static const struct cli_option rm_options[] = {
	[R_DETACH] = {"detach", 'd', NULL, "do not wait for the stack's tasks to stop (the only mode so far)"},
	{0},
};

static int cmd_stack_rm(struct cli *cli, const struct cli_args *args)
{
	int rc = CLI_OK;
	for (int i = 0; i < args->argc; i++)
		if (remove_stack(cli, args->argv[i]) != CLI_OK)
			rc = CLI_ERROR;
	return rc;
}

/* ---- the tables -------------------------------------------------------------------------------- */

static const struct cli_command cmd_stack_config_def = {
	.name = "config", .args = "", .summary = "Print the service specs a stack file would deploy",
	.run_raw = cmd_stack_config,
};

static const struct cli_command cmd_stack_deploy_def = {
	.name = "deploy", .args = "STACK", .summary = "Deploy a new stack or update an existing stack",
	.min_args = 1, .max_args = 1, .options = deploy_options, .run = cmd_stack_deploy,
};

static const struct cli_command cmd_stack_ls_def = {
	.name = "ls", .args = "", .summary = "List stacks", .max_args = 0, .run = cmd_stack_ls,
};

static const struct cli_command cmd_stack_services_def = {
	.name = "services", .args = "STACK", .summary = "List the services in the stack", .min_args = 1,
	.max_args = 1, .options = services_options, .run = cmd_stack_services,
};

static const struct cli_command cmd_stack_ps_def = {
	.name = "ps", .args = "STACK", .summary = "List the tasks in the stack", .min_args = 1, .max_args = 1,
	.options = ps_options, .run = cmd_stack_ps,
};

static const struct cli_command cmd_stack_rm_def = {
	.name = "rm", .args = "STACK [STACK...]", .summary = "Remove one or more stacks", .min_args = 1,
	.max_args = -1, .options = rm_options, .run = cmd_stack_rm,
};

static const struct cli_command *const stack_commands[] = {
	&cmd_stack_config_def,
	&cmd_stack_deploy_def,
	&cmd_stack_ls_def,
	&cmd_stack_ps_def,
	&cmd_stack_rm_def,
	&cmd_stack_services_def,
	NULL,
};

const struct cli_command cmd_stack_def = {
	.name = "stack", .summary = "Manage stacks of services from compose files", .sub = stack_commands,
};

const struct cli_command cmd_deploy_def = {
	.name = "deploy", .args = "FILE [NAME]",
	.summary = "Deploy a stack file (NAME: the file's name: key, else its folder's name)", .min_args = 1,
	.max_args = 2, .options = deploy_file_options, .run = cmd_deploy,
};
