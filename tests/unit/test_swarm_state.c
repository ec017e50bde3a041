/* Unit tests for swarm_state: the node's swarm membership on disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "swarmnode/node_meta.h"
#include "swarmnode/swarm_state.h"

static char dir[64];
static struct datadir dd;

static int make_dir(void **state)
{
	(void)state;
	char err[256];
	snprintf(dir, sizeof(dir), "/tmp/sn-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(datadir_open(&dd, dir, err, sizeof(err)), 0);
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	datadir_close(&dd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct swarm_state sample(bool manager)
{
	struct swarm_state st;
	memset(&st, 0, sizeof(st));
	strcpy(st.cluster_id, "ix14y88qau0ntdz9cyw3r1ofc");
	strcpy(st.node_id, "ldpj7owgrf12irfxg3hi9i3r3");
	st.role = manager ? NODE_ROLE_MANAGER : NODE_ROLE_WORKER;
	st.cluster_created_at_ms = 1795560838790ull;
	st.joined_at_ms = 1795560838799ull;
	memset(st.node_seed, 0xab, sizeof(st.node_seed));
	st.cert_len = 173;
	for (size_t i = 0; i < st.cert_len; i++)
		st.cert[i] = (uint8_t)i;
	memset(st.root_pk, 0x11, sizeof(st.root_pk));
	strcpy(st.advertise_addr, "127.0.0.1:2377");
	strcpy(st.gossip_advertise, "127.0.0.1:7946");
	strcpy(st.listen_addr, "0.0.0.0:2377");
	strcpy(st.seeds[0], "127.0.0.2:7946");
	strcpy(st.seeds[1], "127.0.0.3:7946");
	st.nseeds = 2;
	st.keyring_len = 50;
	memset(st.keyring, 0x42, st.keyring_len);
	st.keyring_generation = 7;
	st.has_manager = manager;
	if (manager) {
		memset(st.manager.root_seed, 0x33, sizeof(st.manager.root_seed));
		memset(st.manager.worker_secret, 0x44, sizeof(st.manager.worker_secret));
		memset(st.manager.manager_secret, 0x55, sizeof(st.manager.manager_secret));
		st.manager.version = 10;
		st.manager.updated_at_ms = 99;
		st.manager.raft_id = 0xfedcba9876543210ULL; /* above INT64_MAX: kept exact */
	}
	return st;
}

static void round_trip(void **state)
{
	(void)state;
	char err[256];
	for (int manager = 0; manager < 2; manager++) {
		struct swarm_state st = sample(manager), back;
		assert_int_equal(swarm_state_save(&st, &dd, err, sizeof(err)), 0);
		assert_int_equal(swarm_state_load(&back, &dd, err, sizeof(err)), 0);
		assert_memory_equal(&st, &back, sizeof(st));
	}
	char path[128];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/swarm-state.json", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600); /* it holds secrets */
}

static void absent_means_not_in_a_swarm(void **state)
{
	(void)state;
	struct swarm_state st;
	char err[256];
	assert_int_equal(swarm_state_load(&st, &dd, err, sizeof(err)), -2 /* ENOENT */);
	struct swarm_state s = sample(false);
	assert_int_equal(swarm_state_save(&s, &dd, err, sizeof(err)), 0);
	assert_int_equal(swarm_state_remove(&dd), 0);
	assert_int_equal(swarm_state_load(&st, &dd, err, sizeof(err)), -2);
}

/* Saves a good state, then rewrites one JSON token of it. */
static int load_with(const char *from, const char *to, char *err, size_t errlen)
{
	char path[128], text[8192];
	struct swarm_state st = sample(true);
	assert_int_equal(swarm_state_save(&st, &dd, err, errlen), 0);
	snprintf(path, sizeof(path), "%s/swarm-state.json", dir);
	FILE *f = fopen(path, "r");
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	char *at = strstr(text, from);
	assert_non_null(at);
	char out[8192];
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	f = fopen(path, "w");
	fputs(out, f);
	fclose(f);
	return swarm_state_load(&st, &dd, err, errlen);
}

/* A state written before key rotation existed has no generation: 0. */
static void generation_absent_is_zero(void **state)
{
	(void)state;
	char err[512];
	struct swarm_state st;
	assert_int_equal(load_with("\"KeyringGeneration\": 7,", "", err, sizeof(err)), 0);
	assert_int_equal(swarm_state_load(&st, &dd, err, sizeof(err)), 0);
	assert_int_equal(st.keyring_generation, 0);
	assert_int_equal(st.keyring_len, 50);
}

static void damage_is_named_and_refused(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(load_with("\"Role\": \"manager\"", "\"Role\": \"boss\"", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "Role: expected"));
	assert_int_equal(load_with("\"NodeID\": \"ldpj", "\"NodeID\": \"LDPJ", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "NodeID: expected a 25-character id"));
	assert_int_equal(load_with("\"RootPublicKey\": \"1111", "\"RootPublicKey\": \"zz11", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "RootPublicKey: expected 32 bytes in hex"));
	assert_int_equal(load_with("\"Version\": 1,", "\"Version\": 2,", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "Version: 2 is not supported"));
	assert_int_equal(load_with("\"WorkerSecret\": \"", "\"WorkerSecret\": \"0", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "WorkerSecret"));
	assert_int_equal(load_with("\"KeyringGeneration\": 7", "\"KeyringGeneration\": -7", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "KeyringGeneration: expected a non-negative integer"));
	assert_int_equal(load_with("\"KeyringGeneration\": 7", "\"KeyringGeneration\": \"7\"", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "KeyringGeneration"));
	assert_int_equal(load_with("{", "[", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "swarm-state.json:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(absent_means_not_in_a_swarm, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(damage_is_named_and_refused, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(generation_absent_is_zero, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
