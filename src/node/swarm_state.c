/* swarm_state: this node's membership of a swarm as kept in the data dir. */
#include "swarmnode/swarm_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "swarmnode/node_meta.h"

#define SWARM_STATE_VERSION 1
#define SWARM_STATE_FILE "swarm-state.json"
/* The file is about 2 KiB; anything near this bound is not ours. */
#define SWARM_STATE_TEXT_MAX 65536

/* --- writing -------------------------------------------------------------- */

static json_t *json_hex(const uint8_t *bin, size_t len)
{
	char hex[2 * 128 + 1];
	sodium_bin2hex(hex, sizeof(hex), bin, len);
	return json_string(hex);
}

static json_t *json_b64(const uint8_t *bin, size_t len)
{
	char b64[sodium_base64_ENCODED_LEN(KEYRING_SERIALIZED_MAX, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof(b64), bin, len, sodium_base64_VARIANT_ORIGINAL);
	return json_string(b64);
}

static json_t *swarm_state_manager_json(const struct swarm_manager_secrets *m)
{
	/* A raft id uses all 64 bits: hex, since JSON integers are signed. */
	char raft_id[17];
	snprintf(raft_id, sizeof(raft_id), "%016" PRIx64, m->raft_id);
	return json_pack("{s:o, s:o, s:o, s:I, s:I, s:s}",
		"RootKey", json_hex(m->root_seed, sizeof(m->root_seed)),
		"WorkerSecret", json_hex(m->worker_secret, sizeof(m->worker_secret)),
		"ManagerSecret", json_hex(m->manager_secret, sizeof(m->manager_secret)),
		"Version", (json_int_t)m->version, "UpdatedAt", (json_int_t)m->updated_at_ms,
		"RaftID", raft_id);
}

static bool get_raft_id(json_t *m, uint64_t *out, char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(m, "RaftID"));
	char *end = NULL;
	if (s != NULL && strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16)
		*out = strtoull(s, &end, 16);
	if (end == NULL || *out == 0) {
		snprintf(err, errlen, "Manager.RaftID: expected 16 lowercase hex digits, not all zero");
		return false;
	}
	return true;
}

static json_t *swarm_state_json(const struct swarm_state *st)
{
	json_t *seeds = json_array();
	for (size_t i = 0; i < st->nseeds; i++)
		json_array_append_new(seeds, json_string(st->seeds[i]));
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o}",
		"Version", SWARM_STATE_VERSION, "ClusterID", st->cluster_id, "NodeID", st->node_id,
		"Role", node_role_name(st->role),
		"ClusterCreatedAt", (json_int_t)st->cluster_created_at_ms, "JoinedAt", (json_int_t)st->joined_at_ms,
		"NodeKey", json_hex(st->node_seed, sizeof(st->node_seed)),
		"NodeCert", json_b64(st->cert, st->cert_len),
		"RootPublicKey", json_hex(st->root_pk, sizeof(st->root_pk)),
		"AdvertiseAddr", st->advertise_addr, "GossipAdvertiseAddr", st->gossip_advertise,
		"ListenAddr", st->listen_addr, "Seeds", seeds,
		"Keyring", json_b64(st->keyring, st->keyring_len));
	json_object_set_new(j, "KeyringGeneration", json_integer((json_int_t)st->keyring_generation));
	if (st->has_manager)
		json_object_set_new(j, "Manager", swarm_state_manager_json(&st->manager));
	return j;
}

int swarm_state_save(const struct swarm_state *st, const struct datadir *dd, char *err, size_t errlen)
{
	json_t *j = swarm_state_json(st);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	size_t n = strlen(text);
	int rc = datadir_write(dd, SWARM_STATE_FILE, text, n);
	sodium_memzero(text, n);
	free(text);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s/%s: %s", dd->path, SWARM_STATE_FILE, strerror(-rc));
	return rc;
}

int swarm_state_remove(const struct datadir *dd)
{
	return datadir_remove(dd, SWARM_STATE_FILE);
}

void swarm_state_wipe(struct swarm_state *st)
{
	sodium_memzero(st, sizeof(*st));
}

/* --- reading -------------------------------------------------------------- */

/* Each reader names the field in err and returns false on a bad value. */
static bool get_str(json_t *j, const char *key, char *out, size_t cap, char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(j, key));
	if (s == NULL || strlen(s) >= cap) {
		snprintf(err, errlen, "%s: expected a string of at most %zu bytes", key, cap - 1);
		return false;
	}
	strcpy(out, s);
	return true;
}

static bool get_id(json_t *j, const char *key, char out[IDS_LEN + 1], char *err, size_t errlen)
{
	if (!get_str(j, key, out, IDS_LEN + 1, err, errlen) || !ids_valid(out)) {
		snprintf(err, errlen, "%s: expected a 25-character id", key);
		return false;
	}
	return true;
}

static bool get_uint(json_t *j, const char *key, uint64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(j, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(err, errlen, "%s: expected a non-negative integer", key);
		return false;
	}
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static bool get_hex(json_t *j, const char *key, uint8_t *out, size_t n, char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(j, key));
	size_t got = 0;
	if (s == NULL || strlen(s) != 2 * n || sodium_hex2bin(out, n, s, strlen(s), NULL, &got, NULL) != 0 ||
	    got != n) {
		snprintf(err, errlen, "%s: expected %zu bytes in hex", key, n);
		return false;
	}
	return true;
}

static bool get_b64(json_t *j, const char *key, uint8_t *out, size_t cap, size_t *len, char *err,
		    size_t errlen)
{
	const char *s = json_string_value(json_object_get(j, key));
	if (s == NULL || sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL,
					   sodium_base64_VARIANT_ORIGINAL) != 0) {
		snprintf(err, errlen, "%s: expected base64 of at most %zu bytes", key, cap);
		return false;
	}
	return true;
}

static bool get_role(json_t *j, uint8_t *role, char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(j, "Role"));
	if (s && strcmp(s, "manager") == 0)
		*role = NODE_ROLE_MANAGER;
	else if (s && strcmp(s, "worker") == 0)
		*role = NODE_ROLE_WORKER;
	else {
		snprintf(err, errlen, "Role: expected \"manager\" or \"worker\"");
		return false;
	}
	return true;
}

static bool get_seeds(json_t *j, struct swarm_state *st, char *err, size_t errlen)
{
	json_t *a = json_object_get(j, "Seeds");
	if (!json_is_array(a) || json_array_size(a) > SWARM_STATE_MAX_SEEDS) {
		snprintf(err, errlen, "Seeds: expected an array of at most %d addresses", SWARM_STATE_MAX_SEEDS);
		return false;
	}
	st->nseeds = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s == NULL || strlen(s) >= sizeof(st->seeds[0])) {
			snprintf(err, errlen, "Seeds[%zu]: expected an address", i);
			return false;
		}
		strcpy(st->seeds[st->nseeds++], s);
	}
	return true;
}

static bool get_manager(json_t *j, struct swarm_state *st, char *err, size_t errlen)
{
	json_t *m = json_object_get(j, "Manager");
	st->has_manager = m != NULL;
	if (m == NULL)
		return true;
	struct swarm_manager_secrets *s = &st->manager;
	if (!json_is_object(m)) {
		snprintf(err, errlen, "Manager: expected an object");
		return false;
	}
	return get_hex(m, "RootKey", s->root_seed, sizeof(s->root_seed), err, errlen) &&
	       get_hex(m, "WorkerSecret", s->worker_secret, sizeof(s->worker_secret), err, errlen) &&
	       get_hex(m, "ManagerSecret", s->manager_secret, sizeof(s->manager_secret), err, errlen) &&
	       get_uint(m, "Version", &s->version, err, errlen) &&
	       get_uint(m, "UpdatedAt", &s->updated_at_ms, err, errlen) &&
	       get_raft_id(m, &s->raft_id, err, errlen);
}

/* Absent in states written before key rotation existed: generation 0. */
static bool get_generation(json_t *j, struct swarm_state *st, char *err, size_t errlen)
{
	st->keyring_generation = 0;
	return json_object_get(j, "KeyringGeneration") == NULL ||
	       get_uint(j, "KeyringGeneration", &st->keyring_generation, err, errlen);
}

static bool swarm_state_from_json(json_t *j, struct swarm_state *st, char *err, size_t errlen)
{
	uint64_t version;
	if (!json_is_object(j)) {
		snprintf(err, errlen, "expected a JSON object");
		return false;
	}
	if (!get_uint(j, "Version", &version, err, errlen))
		return false;
	if (version != SWARM_STATE_VERSION) {
		snprintf(err, errlen, "Version: %llu is not supported by this swarmnode", (unsigned long long)version);
		return false;
	}
	return get_id(j, "ClusterID", st->cluster_id, err, errlen) && get_id(j, "NodeID", st->node_id, err, errlen) &&
	       get_role(j, &st->role, err, errlen) &&
	       get_uint(j, "ClusterCreatedAt", &st->cluster_created_at_ms, err, errlen) &&
	       get_uint(j, "JoinedAt", &st->joined_at_ms, err, errlen) &&
	       get_hex(j, "NodeKey", st->node_seed, sizeof(st->node_seed), err, errlen) &&
	       get_b64(j, "NodeCert", st->cert, sizeof(st->cert), &st->cert_len, err, errlen) &&
	       get_hex(j, "RootPublicKey", st->root_pk, sizeof(st->root_pk), err, errlen) &&
	       get_str(j, "AdvertiseAddr", st->advertise_addr, sizeof(st->advertise_addr), err, errlen) &&
	       get_str(j, "GossipAdvertiseAddr", st->gossip_advertise, sizeof(st->gossip_advertise), err, errlen) &&
	       get_str(j, "ListenAddr", st->listen_addr, sizeof(st->listen_addr), err, errlen) &&
	       get_seeds(j, st, err, errlen) &&
	       get_b64(j, "Keyring", st->keyring, sizeof(st->keyring), &st->keyring_len, err, errlen) &&
	       get_generation(j, st, err, errlen) && get_manager(j, st, err, errlen);
}

int swarm_state_load(struct swarm_state *st, const struct datadir *dd, char *err, size_t errlen)
{
	char text[SWARM_STATE_TEXT_MAX], why[256];
	json_error_t jerr;
	memset(st, 0, sizeof(*st));
	int n = datadir_read(dd, SWARM_STATE_FILE, text, sizeof(text));
	if (n == -ENOENT)
		return -ENOENT;
	if (n < 0) {
		snprintf(err, errlen, "%s/%s: %s", dd->path, SWARM_STATE_FILE, strerror(-n));
		return n;
	}
	json_t *j = json_loadb(text, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	sodium_memzero(text, sizeof(text));
	if (j == NULL) {
		snprintf(err, errlen, "%s/%s:%d:%d: %s", dd->path, SWARM_STATE_FILE, jerr.line, jerr.column,
			 jerr.text);
		return -EINVAL;
	}
	bool ok = swarm_state_from_json(j, st, why, sizeof(why));
	json_decref(j);
	if (!ok) {
		swarm_state_wipe(st);
		snprintf(err, errlen, "%s/%s: %s", dd->path, SWARM_STATE_FILE, why);
		return -EINVAL;
	}
	return 0;
}
