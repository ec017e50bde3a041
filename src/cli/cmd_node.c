/* cmd_node: node ls, inspect, update, promote, demote and rm, as docker does them. */
#include "commands.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/curl_dl.h"
#include "swarmnode/table.h"

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static const char *jpath(json_t *obj, const char *a, const char *b)
{
	return jstr(json_object_get(obj, a), b);
}

/* "ready" -> "Ready", as the docker CLI shows states. */
static void title(const char *s, char *out, size_t len)
{
	snprintf(out, len, "%s", s);
	if (out[0])
		out[0] = (char)toupper((unsigned char)out[0]);
}

static void node_path(struct cli *cli, const char *ref, char *out, size_t len)
{
	struct client *c = cli_client(cli);
	char *esc = c->curl_fns->easy_escape(c->curl, ref, 0);
	snprintf(out, len, "/nodes/%s", esc ? esc : ref);
	c->curl_fns->free(esc);
}

static int self_id(struct cli *cli, char *out, size_t len)
{
	json_t *info;
	int rc = cli_call(cli, "GET", "/info", NULL, &info);
	if (rc == CLI_OK)
		snprintf(out, len, "%s", jpath(info, "Swarm", "NodeID"));
	json_decref(info);
	return rc;
}

static int node_order(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(jpath(x, "Description", "Hostname"), jpath(y, "Description", "Hostname"));
	return c ? c : strcmp(jstr(x, "ID"), jstr(y, "ID"));
}

static void manager_status(json_t *node, char *out, size_t len)
{
	json_t *ms = json_object_get(node, "ManagerStatus");
	if (ms == NULL)
		out[0] = '\0';
	else if (json_is_true(json_object_get(ms, "Leader")))
		snprintf(out, len, "Leader");
	else
		title(jstr(ms, "Reachability"), out, len);
}

static int cmd_node_ls(struct cli *cli, const struct cli_args *args)
{
	static const char *const headers[] = {"ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS",
					      "ENGINE VERSION"};
	json_t *nodes;
	char self[64];
	int rc = cli_call(cli, "GET", "/nodes", NULL, &nodes);
	if (rc != CLI_OK || (rc = self_id(cli, self, sizeof(self))) != CLI_OK) {
		json_decref(nodes);
		return rc;
	}
	size_t n = json_array_size(nodes);
	json_t **sorted = calloc(n + 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(nodes, i);
	qsort(sorted, n, sizeof(*sorted), node_order);
	struct table t;
	table_init(&t, 6, headers);
	for (size_t i = 0; i < n; i++) {
		char id[64], status[32], avail[32], mgr[32];
		const char *nid = jstr(sorted[i], "ID");
		snprintf(id, sizeof(id), "%s%s", nid, strcmp(nid, self) == 0 ? " *" : "");
		title(jpath(sorted[i], "Status", "State"), status, sizeof(status));
		title(jpath(sorted[i], "Spec", "Availability"), avail, sizeof(avail));
		manager_status(sorted[i], mgr, sizeof(mgr));
		const char *row[] = {id, jpath(sorted[i], "Description", "Hostname"), status, avail, mgr,
				     jstr(json_object_get(json_object_get(sorted[i], "Description"), "Engine"),
					  "EngineVersion")};
		table_add_row(&t, row);
	}
	if (args->value[0]) {
		table_discard(&t);
		for (size_t i = 0; i < n; i++)
			printf("%s\n", jstr(sorted[i], "ID"));
	} else {
		table_print(&t, stdout);
	}
	free(sorted);
	json_decref(nodes);
	return CLI_OK;
}

static void print_pretty(json_t *n)
{
	char state[32], avail[32], mem[32];
	json_t *desc = json_object_get(n, "Description");
	json_t *ms = json_object_get(n, "ManagerStatus");
	title(jpath(n, "Status", "State"), state, sizeof(state));
	title(jpath(n, "Spec", "Availability"), avail, sizeof(avail));
	json_int_t cpus = json_integer_value(json_object_get(json_object_get(desc, "Resources"), "NanoCPUs"));
	cli_format_bytes((double)json_integer_value(json_object_get(json_object_get(desc, "Resources"),
								      "MemoryBytes")), mem, sizeof(mem));
	printf("ID:\t\t\t%s\n", jstr(n, "ID"));
	printf("Hostname:              \t%s\n", jstr(desc, "Hostname"));
	printf("Joined at:             \t%s\n", jstr(n, "CreatedAt"));
	printf("Status:\n State:\t\t\t%s\n Availability:         \t%s\n Address:\t\t%s\n", state, avail,
	       jpath(n, "Status", "Addr"));
	if (ms)
		printf("Manager Status:\n Address:\t\t%s\n Raft Status:\t\t%s\n Leader:\t\t%s\n", jstr(ms, "Addr"),
		       json_is_true(json_object_get(ms, "Leader")) ? "Reachable"
		       : strcmp(jstr(ms, "Reachability"), "reachable") == 0 ? "Reachable" : "Unreachable",
		       json_is_true(json_object_get(ms, "Leader")) ? "Yes" : "No");
	printf("Platform:\n Operating System:\t%s\n Architecture:\t\t%s\n", jpath(desc, "Platform", "OS"),
	       jpath(desc, "Platform", "Architecture"));
	printf("Resources:\n CPUs:\t\t\t%lld\n Memory:\t\t%s\n", (long long)(cpus / 1000000000), mem);
	printf("Engine Version:\t\t%s\n", jpath(desc, "Engine", "EngineVersion"));
	printf("TLS Info:\n TrustRoot:\n%s\n Issuer Public Key:\t%s\n",
	       jpath(desc, "TLSInfo", "TrustRoot"), jpath(desc, "TLSInfo", "CertIssuerPublicKey"));
}

static int cmd_node_inspect(struct cli *cli, const struct cli_args *args)
{
	json_t *all = json_array();
	int rc = CLI_OK;
	for (int i = 0; i < args->argc; i++) {
		char id[128], path[160];
		json_t *n;
		if (strcmp(args->argv[i], "self") == 0) {
			if ((rc = self_id(cli, id, sizeof(id))) != CLI_OK)
				break;
		} else {
			snprintf(id, sizeof(id), "%s", args->argv[i]);
		}
		node_path(cli, id, path, sizeof(path));
		if ((rc = cli_call(cli, "GET", path, NULL, &n)) != CLI_OK)
			break;
		if (args->value[0]) {
			if (i > 0)
				printf("\n\n");
			print_pretty(n);
			json_decref(n);
		} else {
			json_array_append_new(all, n);
		}
	}
	if (!args->value[0] && json_array_size(all) > 0) {
		char *text = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", text);
		free(text);
	}
	json_decref(all);
	return rc;
}

/* GET the node, change its spec, POST it back with the version read: the
 * manager refuses it (409 "update out of sequence") if someone else wrote
 * the node in between, as docker node update does. */
typedef void (*spec_edit_fn)(json_t *spec, const struct cli_args *args);

static int update_node(struct cli *cli, const char *ref, spec_edit_fn edit, const struct cli_args *args)
{
	char path[192];
	json_t *node;
	node_path(cli, ref, path, sizeof(path));
	int rc = cli_call(cli, "GET", path, NULL, &node);
	if (rc != CLI_OK)
		return rc;
	json_t *spec = json_deep_copy(json_object_get(node, "Spec"));
	if (!json_is_object(json_object_get(spec, "Labels")))
		json_object_set_new(spec, "Labels", json_object());
	edit(spec, args);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/update?version=%lld",
		 (long long)json_integer_value(json_object_get(json_object_get(node, "Version"), "Index")));
	json_t *out = NULL;
	rc = cli_call(cli, "POST", path, spec, &out);
	json_decref(out);
	json_decref(spec);
	json_decref(node);
	return rc;
}

static void edit_options(json_t *spec, const struct cli_args *args)
{
	json_t *labels = json_object_get(spec, "Labels");
	if (args->value[0])
		json_object_set_new(spec, "Availability", json_string(args->value[0]));
	if (args->value[1]) {
		const char *eq = strchr(args->value[1], '=');
		char key[256];
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - args->value[1]) : (int)strlen(args->value[1]),
			 args->value[1]);
		json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
	}
	if (args->value[2])
		json_object_del(labels, args->value[2]);
}

static void edit_promote(json_t *spec, const struct cli_args *args)
{
	json_object_set_new(spec, "Role", json_string("manager"));
}

static void edit_demote(json_t *spec, const struct cli_args *args)
{
	json_object_set_new(spec, "Role", json_string("worker"));
}

static int cmd_node_update(struct cli *cli, const struct cli_args *args)
{
	int rc = update_node(cli, args->argv[0], edit_options, args);
	if (rc == CLI_OK)
		printf("%s\n", args->argv[0]);
	return rc;
}

static int cmd_node_promote(struct cli *cli, const struct cli_args *args)
{
	int rc = CLI_OK;
	for (int i = 0; i < args->argc && rc == CLI_OK; i++)
		if ((rc = update_node(cli, args->argv[i], edit_promote, args)) == CLI_OK)
			printf("Node %s promoted to a manager in the swarm.\n", args->argv[i]);
	return rc;
}

static int cmd_node_demote(struct cli *cli, const struct cli_args *args)
{
	int rc = CLI_OK;
	for (int i = 0; i < args->argc && rc == CLI_OK; i++)
		if ((rc = update_node(cli, args->argv[i], edit_demote, args)) == CLI_OK)
			printf("Manager %s demoted in the swarm.\n", args->argv[i]);
	return rc;
}

static int cmd_node_rm(struct cli *cli, const struct cli_args *args)
{
	int rc = CLI_OK;
	for (int i = 0; i < args->argc && rc == CLI_OK; i++) {
		char path[192];
		json_t *out = NULL;
		node_path(cli, args->argv[i], path, sizeof(path));
		if (args->value[0])
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "?force=1");
		if ((rc = cli_call(cli, "DELETE", path, NULL, &out)) == CLI_OK)
			printf("%s\n", args->argv[i]);
		json_decref(out);
	}
	return rc;
}

static const struct cli_option rm_options[] = {
	{"force", 'f', NULL, "remove a node that is not down (it is told to leave)"},
	{0},
};

static const struct cli_option update_options[] = {
	{"availability", 0, "active|pause|drain", "availability of the node"},
	{"label-add", 0, "KEY=VALUE", "add or change a node label"},
	{"label-rm", 0, "KEY", "remove a node label"},
	{0},
};

static const struct cli_option ls_options[] = {
	{"quiet", 'q', NULL, "only print node ids"},
	{0},
};

static const struct cli_option inspect_options[] = {
	{"pretty", 0, NULL, "print a human-readable summary instead of JSON"},
	{0},
};

static const struct cli_command cmd_node_ls_def = {
	.name = "ls", .args = "", .summary = "List the nodes of the swarm", .max_args = 0,
	.options = ls_options, .run = cmd_node_ls,
};

static const struct cli_command cmd_node_inspect_def = {
	.name = "inspect", .args = "self|NODE [NODE...]", .summary = "Show details of one or more nodes",
	.min_args = 1, .max_args = -1, .options = inspect_options, .run = cmd_node_inspect,
};

static const struct cli_command cmd_node_update_def = {
	.name = "update", .args = "NODE", .summary = "Update a node's availability or labels",
	.min_args = 1, .max_args = 1, .options = update_options, .run = cmd_node_update,
};

static const struct cli_command cmd_node_promote_def = {
	.name = "promote", .args = "NODE [NODE...]", .summary = "Promote one or more nodes to manager",
	.min_args = 1, .max_args = -1, .run = cmd_node_promote,
};

static const struct cli_command cmd_node_demote_def = {
	.name = "demote", .args = "NODE [NODE...]", .summary = "Demote one or more managers to worker",
	.min_args = 1, .max_args = -1, .run = cmd_node_demote,
};

static const struct cli_command cmd_node_rm_def = {
	.name = "rm", .args = "NODE [NODE...]", .summary = "Remove one or more nodes from the swarm",
	.min_args = 1, .max_args = -1, .options = rm_options, .run = cmd_node_rm,
};

static const struct cli_command *const node_commands[] = {
	&cmd_node_ls_def,
	&cmd_node_inspect_def,
	&cmd_node_update_def,
	&cmd_node_promote_def,
	&cmd_node_demote_def,
	&cmd_node_rm_def,
	NULL,
};

const struct cli_command cmd_node_def = {
	.name = "node", .summary = "Manage the swarm's nodes", .sub = node_commands,
};
