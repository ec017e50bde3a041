/* cmd_swarm: init, join, join-token and leave, also spelled `swarm init` etc. as Docker does. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* The address a joining node dials: this manager's cluster address. */
static int manager_addr(struct cli *cli, char *out, size_t len)
{
	json_t *info, *node;
	char path[128];
	int rc = cli_call(cli, "GET", "/info", NULL, &info);
	if (rc != CLI_OK)
		return rc;
	snprintf(path, sizeof(path), "/nodes/%s", jstr(json_object_get(info, "Swarm"), "NodeID"));
	json_decref(info);
	if ((rc = cli_call(cli, "GET", path, NULL, &node)) != CLI_OK)
		return rc;
	snprintf(out, len, "%s", jstr(json_object_get(node, "ManagerStatus"), "Addr"));
	json_decref(node);
	return CLI_OK;
}

static int print_join_command(struct cli *cli, const char *role, const char *token)
{
	char addr[96];
	int rc = manager_addr(cli, addr, sizeof(addr));
	if (rc != CLI_OK)
		return rc;
	printf("To add a %s to this swarm, run the following command:\n\n    swarmnode join --token %s %s\n\n", role,
	       token, addr);
	return CLI_OK;
}

static int cmd_init(struct cli *cli, const struct cli_args *args)
{
	json_t *id, *swarm;
	const char *listen = args->value[1] ? args->value[1] : "";
	json_t *body = json_pack("{s:s, s:s, s:b, s:{}}", "ListenAddr", listen, "AdvertiseAddr",
				 args->value[0] ? args->value[0] : "", "ForceNewCluster", args->value[2] != NULL, "Spec");
	int rc = cli_call(cli, "POST", "/swarm/init", body, &id);
	json_decref(body);
	if (rc != CLI_OK)
		return rc;
	printf("Swarm initialized: current node (%s) is now a manager.\n\n", json_string_value(id));
	json_decref(id);
	if ((rc = cli_call(cli, "GET", "/swarm", NULL, &swarm)) != CLI_OK)
		return rc;
	rc = print_join_command(cli, "worker", jstr(json_object_get(swarm, "JoinTokens"), "Worker"));
	json_decref(swarm);
	if (rc == CLI_OK)
		printf("To add a manager to this swarm, run 'swarmnode join-token manager' and follow the instructions.\n\n");
	return rc;
}

static int cmd_join(struct cli *cli, const struct cli_args *args)
{
	json_t *info;
	if (args->value[0] == NULL) {
		cli_errorf("a join token is required: swarmnode join --token TOKEN HOST:PORT");
		return CLI_USAGE;
	}
	json_t *body = json_pack("{s:s, s:s, s:[s], s:s}", "ListenAddr", args->value[2] ? args->value[2] : "",
				 "AdvertiseAddr", args->value[1] ? args->value[1] : "", "RemoteAddrs",
				 args->argv[0], "JoinToken", args->value[0]);
	int rc = cli_call(cli, "POST", "/swarm/join", body, NULL);
	json_decref(body);
	if (rc != CLI_OK)
		return rc;
	if ((rc = cli_call(cli, "GET", "/info", NULL, &info)) != CLI_OK)
		return rc;
	bool manager = json_is_true(json_object_get(json_object_get(info, "Swarm"), "ControlAvailable"));
	printf("This node joined a swarm as a %s.\n", manager ? "manager" : "worker");
	json_decref(info);
	return CLI_OK;
}

static int cmd_join_token(struct cli *cli, const struct cli_args *args)
{
	json_t *swarm;
	const char *role = args->argv[0];
	if (strcmp(role, "worker") != 0 && strcmp(role, "manager") != 0) {
		cli_errorf("unknown role %s: use worker or manager", role);
		return CLI_USAGE;
	}
	bool worker = strcmp(role, "worker") == 0;
	int rc = cli_call(cli, "GET", "/swarm", NULL, &swarm);
	if (rc != CLI_OK)
		return rc;
	if (args->value[1]) {
		char path[160];
		snprintf(path, sizeof(path), "/swarm/update?rotateWorkerToken=%s&rotateManagerToken=%s&version=%lld",
			 worker ? "true" : "false", worker ? "false" : "true",
			 (long long)json_integer_value(json_object_get(json_object_get(swarm, "Version"), "Index")));
		rc = cli_call(cli, "POST", path, json_object_get(swarm, "Spec"), NULL);
		json_decref(swarm);
		if (rc != CLI_OK || (rc = cli_call(cli, "GET", "/swarm", NULL, &swarm)) != CLI_OK)
			return rc;
		if (!args->value[0])
			printf("Successfully rotated %s join token.\n\n", role);
	}
	const char *token = jstr(json_object_get(swarm, "JoinTokens"), worker ? "Worker" : "Manager");
	if (args->value[0])
		printf("%s\n", token);
	else
		rc = print_join_command(cli, role, token);
	json_decref(swarm);
	return rc;
}

static int cmd_leave(struct cli *cli, const struct cli_args *args)
{
	int rc = cli_call(cli, "POST", args->value[0] ? "/swarm/leave?force=1" : "/swarm/leave", NULL, NULL);
	if (rc == CLI_OK)
		printf("Node left the swarm.\n");
	return rc;
}

/* Waits for the whole rotation (up to three steps of ten seconds). */
static int cmd_rotate_gossip_key(struct cli *cli, const struct cli_args *args)
{
	json_t *r;
	int rc = cli_call(cli, "POST", "/swarmnode/gossip/rotate", NULL, &r);
	if (rc != CLI_OK)
		return rc;
	json_t *missing = json_object_get(r, "Unconfirmed");
	printf("Gossip key rotated: %lld of %lld nodes confirmed (generation %lld, primary key %s)\n",
	       (long long)json_integer_value(json_object_get(r, "Confirmed")),
	       (long long)json_integer_value(json_object_get(r, "Nodes")),
	       (long long)json_integer_value(json_object_get(r, "Generation")), jstr(r, "Fingerprint"));
	if (json_array_size(missing) > 0) {
		cli_errorf("%zu node(s) did not confirm; each gets the new keyring when its stream to a manager "
			   "comes up again:", json_array_size(missing));
		for (size_t i = 0; i < json_array_size(missing); i++)
			fprintf(stderr, "  %s\n", json_string_value(json_array_get(missing, i)));
		rc = CLI_ERROR;
	}
	json_decref(r);
	return rc;
}

static const struct cli_option init_options[] = {
	{"advertise-addr", 0, "ADDR[:PORT]", "address other nodes use to reach this one"},
	{"listen-addr", 0, "ADDR[:PORT]", "cluster address to listen on (default: the daemon's --listen-addr)"},
	{"force-new-cluster", 0, NULL, "on a manager that lost its quorum: start a new cluster from its state"},
	{0},
};

static const struct cli_option join_options[] = {
	{"token", 0, "TOKEN", "the join token printed by `swarmnode join-token`"},
	{"advertise-addr", 0, "ADDR[:PORT]", "address other nodes use to reach this one"},
	{"listen-addr", 0, "ADDR[:PORT]", "cluster address to listen on (default: the daemon's --listen-addr)"},
	{0},
};

static const struct cli_option join_token_options[] = {
	{"quiet", 'q', NULL, "only print the token"},
	{"rotate", 0, NULL, "rotate the token: the old one admits no new node"},
	{0},
};

static const struct cli_option leave_options[] = {
	{"force", 'f', NULL, "leave even as a manager"},
	{0},
};

const struct cli_command cmd_init_def = {
	.name = "init", .args = "", .summary = "Initialize a swarm with this node as its first manager",
	.max_args = 0, .options = init_options, .run = cmd_init,
};

const struct cli_command cmd_join_def = {
	.name = "join", .args = "HOST:PORT", .summary = "Join a swarm as a worker or manager, as the token says",
	.min_args = 1, .max_args = 1, .options = join_options, .run = cmd_join,
};

const struct cli_command cmd_join_token_def = {
	.name = "join-token", .args = "(worker|manager)", .summary = "Show or rotate the join token of a role",
	.min_args = 1, .max_args = 1, .options = join_token_options, .run = cmd_join_token,
};

const struct cli_command cmd_leave_def = {
	.name = "leave", .args = "", .summary = "Leave the swarm",
	.max_args = 0, .options = leave_options, .run = cmd_leave,
};

static const struct cli_command cmd_rotate_gossip_key_def = {
	.name = "rotate-gossip-key", .args = "",
	.summary = "Replace the cluster's gossip key on every node (the two previous keys stay accepted)",
	.max_args = 0, .run = cmd_rotate_gossip_key,
};

static const struct cli_command *const swarm_commands[] = {
	&cmd_init_def,
	&cmd_join_def,
	&cmd_join_token_def,
	&cmd_leave_def,
	&cmd_rotate_gossip_key_def,
	NULL,
};

const struct cli_command cmd_swarm_def = {
	.name = "swarm", .summary = "Manage the swarm (the same commands as at the top level)", .sub = swarm_commands,
};
