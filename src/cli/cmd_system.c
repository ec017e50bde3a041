/* cmd_system: version, info and log-level: the daemon's own facts. */
#include "commands.h"

#include <string.h>

#include <uv.h>

#include "sn_build_info.h"
#include "sn_git.h"
#include "swarmnode/api.h"

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static int cmd_version(struct cli *cli, const struct cli_args *args)
{
	json_t *v;
	int rc = cli_call(cli, "GET", "/version", NULL, &v);
	if (rc != CLI_OK)
		return rc;
	uv_utsname_t u;
	const char *arch = uv_os_uname(&u) == 0 ? u.machine : "unknown";
	printf("Client:\n"
	       " Version:        %s\n"
	       " API version:    %s\n"
	       " Git commit:     %s\n"
	       " Built with:     %s\n"
	       " OS/Arch:        linux/%s\n"
	       "\n", SN_VERSION, API_VERSION, SN_GIT_COMMIT, SN_COMPILER, arch);
	printf("Server:\n"
	       " Version:        %s\n"
	       " API version:    %s (minimum version %s)\n"
	       " Git commit:     %s\n"
	       " Built with:     %s\n"
	       " OS/Arch:        %s/%s\n"
	       " Kernel:         %s\n",
	       jstr(v, "Version"), jstr(v, "ApiVersion"), jstr(v, "MinAPIVersion"), jstr(v, "GitCommit"),
	       jstr(v, "GoVersion"), jstr(v, "Os"), jstr(v, "Arch"), jstr(v, "KernelVersion"));
	json_decref(v);
	return CLI_OK;
}

static void print_raft(json_t *raft)
{
	if (!json_is_object(raft))
		return;
	const char *leader = jstr(raft, "Leader");
	printf("  Raft:\n");
	printf("   Leader: %s\n", *leader ? leader : "(none)");
	printf("   Quorum: %s\n", json_is_true(json_object_get(raft, "Quorum")) ? "yes" : "no (writes are refused)");
	printf("   Voters: %lld of %lld members\n", (long long)json_integer_value(json_object_get(raft, "Voters")),
	       (long long)json_integer_value(json_object_get(raft, "Members")));
	printf("   Term: %lld, Commit: %lld, Applied: %lld\n", (long long)json_integer_value(json_object_get(raft, "Term")),
	       (long long)json_integer_value(json_object_get(raft, "Commit")),
	       (long long)json_integer_value(json_object_get(raft, "Applied")));
}

static void print_swarm(json_t *swarm)
{
	const char *state = jstr(swarm, "LocalNodeState");
	printf(" Swarm: %s\n", *state ? state : "inactive");
	if (strcmp(state, "active") != 0)
		return;
	bool manager = json_is_true(json_object_get(swarm, "ControlAvailable"));
	printf("  NodeID: %s\n", jstr(swarm, "NodeID"));
	printf("  Is Manager: %s\n", manager ? "true" : "false");
	if (manager) {
		printf("  ClusterID: %s\n", jstr(json_object_get(swarm, "Cluster"), "ID"));
		printf("  Managers: %lld\n", (long long)json_integer_value(json_object_get(swarm, "Managers")));
		printf("  Nodes: %lld\n", (long long)json_integer_value(json_object_get(swarm, "Nodes")));
		print_raft(json_object_get(swarm, "Raft"));
	}
	printf("  Node Address: %s\n", jstr(swarm, "NodeAddr"));
	json_t *remotes = json_object_get(swarm, "RemoteManagers");
	printf("  Manager Addresses:\n");
	for (size_t i = 0; i < json_array_size(remotes); i++)
		printf("   %s\n", jstr(json_array_get(remotes, i), "Addr"));
	json_t *ring = json_object_get(swarm, "GossipKeyring");
	json_t *keys = json_object_get(ring, "Keys");
	printf("  Gossip Keyring: generation %lld\n", (long long)json_integer_value(json_object_get(ring, "Generation")));
	for (size_t i = 0; i < json_array_size(keys); i++)
		printf("   %s%s\n", jstr(json_array_get(keys, i), "Fingerprint"),
		       json_is_true(json_object_get(json_array_get(keys, i), "Primary")) ? " (primary)" : "");
}

static int cmd_info(struct cli *cli, const struct cli_args *args)
{
	json_t *i;
	int rc = cli_call(cli, "GET", "/info", NULL, &i);
	if (rc != CLI_OK)
		return rc;
	char mem[32];
	cli_format_bytes((double)json_integer_value(json_object_get(i, "MemTotal")), mem, sizeof(mem));
	printf("Server:\n");
	printf(" Server Version: %s\n", jstr(i, "ServerVersion"));
	print_swarm(json_object_get(i, "Swarm"));
	printf(" Name: %s\n", jstr(i, "Name"));
	printf(" ID: %s\n", jstr(i, "ID"));
	printf(" Data Dir: %s\n", jstr(i, "DockerRootDir"));
	printf(" Operating System: %s\n", jstr(i, "OperatingSystem"));
	printf(" Kernel Version: %s\n", jstr(i, "KernelVersion"));
	printf(" Architecture: %s\n", jstr(i, "Architecture"));
	printf(" CPUs: %lld\n", (long long)json_integer_value(json_object_get(i, "NCPU")));
	printf(" Total Memory: %s\n", mem);
	const char *runtime = jstr(i, "DefaultRuntime");
	const char *engine = jstr(json_object_get(json_object_get(i, "Runtimes"), runtime), "path");
	printf(" Default Runtime: %s\n", *runtime ? runtime : "exec");
	if (*engine)
		printf(" Engine Socket: %s\n", engine);
	printf(" Debug Mode: %s\n", json_is_true(json_object_get(i, "Debug")) ? "true" : "false");
	json_decref(i);
	return CLI_OK;
}

static int cmd_log_level(struct cli *cli, const struct cli_args *args)
{
	json_t *out, *body = NULL;
	int rc;
	if (args->argc == 1) {
		body = json_pack("{s:s}", "Level", args->argv[0]);
		rc = cli_call(cli, "POST", "/swarmnode/log-level", body, &out);
		json_decref(body);
	} else {
		rc = cli_call(cli, "GET", "/swarmnode/log-level", NULL, &out);
	}
	if (rc != CLI_OK)
		return rc;
	printf("%s\n", jstr(out, "Level"));
	json_decref(out);
	return CLI_OK;
}

const struct cli_command cmd_version_def = {
	.name = "version", .args = "", .summary = "Show the swarmnode version information",
	.max_args = 0, .run = cmd_version,
};

const struct cli_command cmd_info_def = {
	.name = "info", .args = "", .summary = "Display system-wide information",
	.max_args = 0, .run = cmd_info,
};

const struct cli_command cmd_log_level_def = {
	.name = "log-level", .args = "[LEVEL]",
	.summary = "Show the daemon's log level, or set it (debug, info, warn, error) without a restart",
	.max_args = 1, .run = cmd_log_level,
};

static const struct cli_command *const system_commands[] = {
	&cmd_info_def,
	&cmd_version_def,
	&cmd_log_level_def,
	NULL,
};

const struct cli_command cmd_system_def = {
	.name = "system", .summary = "Manage the local daemon", .sub = system_commands,
};
