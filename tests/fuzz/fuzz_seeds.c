/* fuzz_seeds: writes seed corpora of valid inputs for every fuzz target into a directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "swarmnode/keyring.h"
#include "swarmnode/peer_msg.h"
#include "swarmnode/wal_record.h"
#include "fuzz_fixture.h"
#include "fuzz_raft.h"
#include "swarmnode/manager_msg.h"
#include "swarmnode/dispatch_msg.h"
#include "fuzz_store.h"

static const char *root_dir;

static void put(const char *target, const char *name, const uint8_t *a, size_t an,
		const uint8_t *b, size_t bn)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root_dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root_dir, target, name);
	FILE *fp = fopen(path, "wb");
	if (fp == NULL || fwrite(a, 1, an, fp) != an || (bn > 0 && fwrite(b, 1, bn, fp) != bn) ||
	    fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

/* Takes hs's pending output into buf at *len. */
static void take(struct handshake *hs, uint8_t *buf, size_t *len)
{
	const uint8_t *p;
	size_t n = handshake_output(hs, &p);
	memcpy(buf + *len, p, n);
	*len += n;
	handshake_output_sent(hs, n);
}

static void feed(struct handshake *hs, const uint8_t *p, size_t n)
{
	size_t used;
	handshake_feed(hs, p, n, FZ_NOW, &used);
}

/* The same for a peer stream. */
static void ptake(struct peer_auth *pa, uint8_t *buf, size_t *len)
{
	const uint8_t *p;
	size_t n = peer_auth_output(pa, &p);
	memcpy(buf + *len, p, n);
	*len += n;
	peer_auth_output_sent(pa, n);
}

static void pfeed(struct peer_auth *pa, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		size_t used = 0;
		struct peer_auth_event ev;
		if (peer_auth_feed(pa, p + off, n - off, FZ_NOW, &used, &ev) != 0)
			return;
		off += used;
	}
}

/* Appends m to buf at *len as a frame: big-endian u16 length, then the bytes. */
static void raft_frame(const struct raft_message *m, uint8_t *buf, size_t *len, size_t cap)
{
	size_t n;
	if (raft_msg_encode(m, buf + *len + 2, cap - *len - 2, &n) != 0) {
		fprintf(stderr, "raft seed: encode failed\n");
		exit(1);
	}
	buf[*len] = (uint8_t)(n >> 8);
	buf[*len + 1] = (uint8_t)n;
	*len += 2 + n;
}

/* Seeds for fuzz_raft_msg: single messages of each type, and a session of
 * frames (a leader of term 3 appending, a snapshot in chunks, reads). */
static void raft_seeds(void)
{
	static uint8_t buf[16384];
	uint8_t cbuf[RAFT_CONF_ENCODED_MAX];
	size_t clen;
	struct raft_configuration conf = { .n = 3 };
	for (uint32_t i = 0; i < 3; i++)
		conf.members[i] = (struct raft_member){ .id = i + 1, .role = RAFT_VOTER };
	raft_configuration_encode(&conf, cbuf, sizeof(cbuf), &clen);
	struct raft_entry es[3] = {
		{ .term = 3, .index = 2, .type = RAFT_ENTRY_NOOP },
		{ .term = 3, .index = 3, .type = RAFT_ENTRY_NORMAL, .data = (const uint8_t *)"set x=1", .len = 7 },
		{ .term = 3, .index = 4, .type = RAFT_ENTRY_CONFIG, .data = cbuf, .len = clen },
	};
	struct raft_snapshot_meta meta = { .index = 9, .term = 3, .conf = conf };
	static const uint8_t snap[100] = { 9 };
	struct raft_message ms[12];
	memset(ms, 0, sizeof(ms));
	for (int i = 0; i < 12; i++) {
		ms[i].term = 3;
		ms[i].from = 2;
		ms[i].to = 1;
	}
	ms[0].type = RAFT_MSG_APPEND;
	ms[0].append = (struct raft_msg_append){ .prev_index = 1, .prev_term = 1, .commit = 1, .n_entries = 3,
						 .entries = es };
	ms[1].type = RAFT_MSG_HEARTBEAT;
	ms[1].heartbeat = (struct raft_msg_heartbeat){ .commit = 4, .read_seq = 1 };
	ms[2].type = RAFT_MSG_VOTE;
	ms[2].vote = (struct raft_msg_vote){ .last_index = 4, .last_term = 3, .pre_vote = true };
	ms[3].type = RAFT_MSG_SNAPSHOT;
	ms[3].snapshot = (struct raft_msg_snapshot){ .meta = &meta, .total = 100, .offset = 0, .data = snap,
						     .len = 64 };
	ms[4].type = RAFT_MSG_SNAPSHOT;
	ms[4].snapshot = (struct raft_msg_snapshot){ .meta = &meta, .total = 100, .offset = 64,
						     .data = snap + 64, .len = 36, .done = true };
	ms[5].type = RAFT_MSG_APPEND_RESP;
	ms[5].append_resp = (struct raft_msg_append_resp){ .index = 2 };
	ms[6].type = RAFT_MSG_VOTE_RESP;
	ms[6].vote_resp = (struct raft_msg_vote_resp){ .granted = true };
	ms[7].type = RAFT_MSG_SNAPSHOT_RESP;
	ms[7].snapshot_resp = (struct raft_msg_snapshot_resp){ .index = 9, .offset = 64 };
	ms[8].type = RAFT_MSG_HEARTBEAT_RESP;
	ms[8].heartbeat_resp.read_seq = 1;
	ms[9].type = RAFT_MSG_TIMEOUT_NOW;
	ms[10].type = RAFT_MSG_READ_INDEX;
	ms[10].read_index.req_id = 7;
	ms[11].type = RAFT_MSG_READ_INDEX_RESP;
	ms[11].read_index_resp = (struct raft_msg_read_index_resp){ .req_id = 7, .index = 4 };
	size_t all = 0;
	for (int i = 0; i < 12; i++) {
		size_t n;
		char name[32];
		if (raft_msg_encode(&ms[i], buf, sizeof(buf), &n) != 0) {
			fprintf(stderr, "raft seed %d: encode failed\n", i);
			exit(1);
		}
		snprintf(name, sizeof(name), "%s", raft_msg_type_str(ms[i].type));
		if (i == 4)
			snprintf(name, sizeof(name), "snapshot-last");
		put("fuzz_raft_msg", name, buf, n, NULL, 0);
		put("fuzz_mp_check", name, buf, n, NULL, 0);
	}
	/* A session: node 2 leads term 3, appends, installs a snapshot, reads. */
	static const int order[] = { 0, 1, 3, 4, 1, 11, 9 };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		raft_frame(&ms[order[i]], buf, &all, sizeof(buf));
	put("fuzz_raft_msg", "session-follower", buf, all, NULL, 0);
	/* For the leader of term 2: answers from its followers. */
	all = 0;
	static const int lorder[] = { 5, 8, 7, 2 };
	for (size_t i = 0; i < sizeof(lorder) / sizeof(lorder[0]); i++) {
		ms[lorder[i]].term = 2;
		raft_frame(&ms[lorder[i]], buf, &all, sizeof(buf));
	}
	put("fuzz_raft_msg", "session-leader", buf, all, NULL, 0);
}

/* Seeds for fuzz_manager_msg: one message of each type. */
static void manager_seeds(void)
{
	static const uint8_t txn[] = "{\"ops\":[]}";
	struct manager_msg ms[3] = {
		{ .type = MANAGER_MSG_FORWARD, .req = 1, .txn = txn, .txn_len = sizeof(txn) - 1 },
		{ .type = MANAGER_MSG_RESULT, .req = 1, .status = -16, .index = 42, .message = "update out of sequence" },
		{ .type = MANAGER_MSG_JOIN, .raft_id = 0x1234567890abcdefULL },
	};
	static const char *const names[] = { "forward", "result", "join" };
	for (int i = 0; i < 3; i++) {
		uint8_t buf[256];
		size_t n;
		if (manager_msg_encode(&ms[i], buf, sizeof(buf), &n) != 0) {
			fprintf(stderr, "manager seed %d: encode failed\n", i);
			exit(1);
		}
		put("fuzz_manager_msg", names[i], buf, n, NULL, 0);
	}
}

/* Seeds for fuzz_dispatch_msg: one message of each type. */
static void dispatch_seeds(void)
{
	static const uint8_t spec[] = "{\"ContainerSpec\":{\"Image\":\"/bin/sleep\",\"Args\":[\"60\"]}}";
	struct dispatch_port port = { 80, 30080, 0, 1 };
	struct dispatch_task task = { .id = "aaaaaaaaaaaaaaaaaaaaaaaaa", .version = 9, .state = 2, .desired = 6,
				      .service_id = "sssssssssssssssssssssssss", .service_name = "web", .slot = 1,
				      .spec = spec, .spec_len = sizeof(spec) - 1, .ports = &port, .nports = 1 };
	struct dispatch_update upd = { .task_id = "aaaaaaaaaaaaaaaaaaaaaaaaa", .state = 9, .message = "finished",
				       .err = "task: non-zero exit (3)", .exited = true, .exit_code = 3, .pid = 77,
				       .timestamp_ms = 1764000000000ull, .ports = &port, .nports = 1 };
	char removed[1][IDS_LEN + 1] = { "bbbbbbbbbbbbbbbbbbbbbbbbb" };
	struct dispatch_log_line lines[2] = {
		{ .stream = 1, .time_ns = 1764000000000000001ull, .text = (const uint8_t *)"hello from 1", .len = 12 },
		{ .stream = 2, .time_ns = 1764000000000000002ull, .text = (const uint8_t *)"oops", .len = 4,
		  .partial = true },
	};
	struct dispatch_msg ms[7] = {
		{ .type = DISPATCH_SESSION, .session = 1 },
		{ .type = DISPATCH_ASSIGNMENTS, .session = 1, .seq = 1, .flags = DISPATCH_FULL_BEGIN | DISPATCH_FULL_END,
		  .tasks = &task, .ntasks = 1, .removed = removed, .nremoved = 1 },
		{ .type = DISPATCH_STATUS, .session = 1, .seq = 1, .updates = &upd, .nupdates = 1 },
		{ .type = DISPATCH_ACK, .session = 1, .seq = 1, .status = -110 },
		{ .type = DISPATCH_LOGS_REQUEST, .request = 1, .task_id = "aaaaaaaaaaaaaaaaaaaaaaaaa", .tail = 10,
		  .since_ns = 1764000000000000000ull, .skip = 1, .streams = DISPATCH_LOGS_STDOUT | DISPATCH_LOGS_STDERR },
		{ .type = DISPATCH_LOGS, .request = 1, .lines = lines, .nlines = 2 },
		{ .type = DISPATCH_LOGS, .request = 2, .flags = DISPATCH_LOGS_LAST, .status = -2,
		  .err = "task aaaaaaaaaaaaaaaaaaaaaaaaa: no such task on node bbbbbbbbbbbbbbbbbbbbbbbbb", .dropped = 3 },
	};
	static const char *const names[] = { "session", "assignments", "status", "ack", "logs_request", "logs",
					     "logs_error" };
	for (int i = 0; i < 7; i++) {
		uint8_t buf[1024];
		size_t n;
		if (dispatch_msg_encode(&ms[i], buf, sizeof(buf), &n) != 0) {
			fprintf(stderr, "dispatch seed %d: encode failed\n", i);
			exit(1);
		}
		put("fuzz_dispatch_msg", names[i], buf, n, NULL, 0);
	}
}

/* fuzz_store_txn: the preload itself, a session of transactions against the
 * preloaded store (accepted and refused ones), and its snapshot. */
static void store_seeds(void)
{
	static const uint8_t txn_mode[] = { 0 }, snap_mode[] = { 1 };
	uint8_t *buf;
	size_t len;
	if (fzs_preload_txn(&buf, &len) != 0) {
		fprintf(stderr, "store seed: preload failed\n");
		exit(1);
	}
	put("fuzz_store_txn", "preload", txn_mode, 1, buf, len);
	free(buf);
#define FZS_TXN(t, ops) "{\"v\":1,\"time\":\"2026-11-24T22:54:" t "Z\",\"ops\":[" ops "]}\n"
	static const char session[] =
		FZS_TXN("26", "{\"op\":\"create\",\"kind\":\"task\",\"object\":{\"ID\":\"t400000000000000000000000\","
			      "\"ServiceID\":\"" FZS_S2 "\",\"NodeID\":\"" FZS_N1 "\",\"Slot\":2}},"
			      "{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" FZS_T1 "\",\"expect\":1,"
			      "\"object\":{\"ID\":\"" FZS_T1 "\",\"ServiceID\":\"" FZS_S1 "\",\"NodeID\":\"" FZS_N2 "\"}}")
		FZS_TXN("27", "{\"op\":\"update\",\"kind\":\"service\",\"id\":\"" FZS_S2 "\",\"expect\":1,"
			      "\"object\":{\"ID\":\"" FZS_S2 "\",\"Spec\":{\"Name\":\"WEB\"}}}")
		FZS_TXN("28.5", "{\"op\":\"update\",\"kind\":\"service\",\"id\":\"" FZS_S1 "\",\"expect\":1,"
				"\"object\":{\"ID\":\"" FZS_S1 "\",\"Spec\":{\"Name\":\"front\"}}},"
				"{\"op\":\"update\",\"kind\":\"service\",\"id\":\"" FZS_S2 "\",\"expect\":1,"
				"\"object\":{\"ID\":\"" FZS_S2 "\",\"Spec\":{\"Name\":\"web\"}}}")
		FZS_TXN("29", "{\"op\":\"delete\",\"kind\":\"task\",\"id\":\"" FZS_T3 "\",\"expect\":0},"
			      "{\"op\":\"delete\",\"kind\":\"node\",\"id\":\"" FZS_N2 "\",\"expect\":7}")
		FZS_TXN("30", "{\"op\":\"update\",\"kind\":\"cluster\",\"id\":\"" FZS_C1 "\",\"expect\":1,"
			      "\"object\":{\"ID\":\"" FZS_C1 "\",\"Spec\":{\"Name\":\"default\",\"Labels\":{\"a\":\"b\"}},"
			      "\"RemovedNodes\":[{\"ID\":\"" FZS_N2 "\",\"Expiry\":\"2046-11-19T22:54:30Z\"}]}}")
		FZS_TXN("31", "{\"op\":\"delete\",\"kind\":\"service\",\"id\":\"s900000000000000000000000\",\"expect\":0}");
	/* fuzz_orchestrator: nodes come up, a global service and a replicated one
	 * with constraints, reservations, host ports, restart and update configs. */
	static const char orchestrator_session[] =
		FZS_TXN("26", "{\"op\":\"update\",\"kind\":\"node\",\"id\":\"" FZS_N1 "\",\"expect\":1,"
			      "\"object\":{\"ID\":\"" FZS_N1 "\",\"Spec\":{\"Role\":\"manager\",\"Availability\":\"active\","
			      "\"Labels\":{\"zone\":\"eu\"}},\"Description\":{\"Hostname\":\"host1\",\"Resources\":"
			      "{\"NanoCPUs\":2000000000,\"MemoryBytes\":1073741824}},\"Status\":{\"State\":\"ready\"}}},"
			      "{\"op\":\"update\",\"kind\":\"node\",\"id\":\"" FZS_N2 "\",\"expect\":1,"
			      "\"object\":{\"ID\":\"" FZS_N2 "\",\"Spec\":{\"Role\":\"worker\",\"Availability\":\"drain\"},"
			      "\"Description\":{\"Hostname\":\"host2\"},\"Status\":{\"State\":\"down\"}}}")
		FZS_TXN("27", "{\"op\":\"create\",\"kind\":\"service\",\"object\":{\"ID\":\"s300000000000000000000000\","
			      "\"Spec\":{\"Name\":\"mon\",\"Mode\":{\"Global\":{}},\"TaskTemplate\":{\"ContainerSpec\":"
			      "{\"Image\":\"agent\"},\"Placement\":{\"Constraints\":[\"node.labels.zone==eu\"]}}}}},"
			      "{\"op\":\"update\",\"kind\":\"service\",\"id\":\"" FZS_S1 "\",\"expect\":1,"
			      "\"object\":{\"ID\":\"" FZS_S1 "\",\"Spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":"
			      "{\"Replicas\":4}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"v2\"},\"Resources\":"
			      "{\"Reservations\":{\"NanoCPUs\":500000000}},\"RestartPolicy\":{\"Condition\":\"on-failure\","
			      "\"Delay\":0,\"MaxAttempts\":2,\"Window\":60000000000}},\"UpdateConfig\":{\"Parallelism\":2,"
			      "\"Order\":\"start-first\",\"FailureAction\":\"rollback\",\"Monitor\":1000000000},"
			      "\"EndpointSpec\":{\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
			      "\"PublishMode\":\"host\"}]}},\"PreviousSpec\":{\"Name\":\"web\"},"
			      "\"UpdateStatus\":{\"State\":\"updating\",\"StartedAt\":\"2026-11-24T22:54:27Z\"}}}")
		FZS_TXN("28", "{\"op\":\"update\",\"kind\":\"task\",\"id\":\"" FZS_T1 "\",\"expect\":1,"
			      "\"object\":{\"ID\":\"" FZS_T1 "\",\"ServiceID\":\"" FZS_S1 "\",\"NodeID\":\"" FZS_N1 "\","
			      "\"Slot\":1,\"DesiredState\":\"running\",\"Status\":{\"State\":\"failed\","
			      "\"Timestamp\":\"2026-11-24T22:54:28Z\"}}}");
#undef FZS_TXN
	put("fuzz_store_txn", "session", txn_mode, 1, (const uint8_t *)session, sizeof(session) - 1);
	put("fuzz_orchestrator", "session", (const uint8_t *)session, sizeof(session) - 1, NULL, 0);
	put("fuzz_orchestrator", "services", (const uint8_t *)orchestrator_session,
	    sizeof(orchestrator_session) - 1, NULL, 0);
	struct store *s = fzs_store();
	if (s == NULL || store_snapshot(s, &buf, &len) != 0) {
		fprintf(stderr, "store seed: snapshot failed\n");
		exit(1);
	}
	put("fuzz_store_txn", "snapshot", snap_mode, 1, buf, len);
	free(buf);
	store_free(s);
}

/* Seeds for fuzz_wal_record: a segment of each entry type, the same torn
 * and with a zero tail, a hard state and a snapshot file image. */
static void wal_seeds(void)
{
	static uint8_t seg[4096];
	uint8_t cbuf[RAFT_CONF_ENCODED_MAX];
	size_t clen, n = 0, used;
	struct raft_configuration conf = { .n = 2 };
	conf.members[0] = (struct raft_member){ .id = 1, .role = RAFT_VOTER };
	conf.members[1] = (struct raft_member){ .id = 2, .role = RAFT_LEARNER };
	raft_configuration_encode(&conf, cbuf, sizeof(cbuf), &clen);
	struct raft_entry es[4] = {
		{ .term = 1, .index = 7, .type = RAFT_ENTRY_CONFIG, .data = cbuf, .len = clen },
		{ .term = 2, .index = 8, .type = RAFT_ENTRY_NOOP },
		{ .term = 2, .index = 9, .type = RAFT_ENTRY_NORMAL, .data = (const uint8_t *)"set x=1", .len = 7 },
		{ .term = 2, .index = 10, .type = RAFT_ENTRY_NORMAL, .data = (const uint8_t *)"set y=2", .len = 7 },
	};
	for (int i = 0; i < 4; i++) {
		if (wal_record_put_entry(&es[i], seg + n, sizeof(seg) - n, &used) != 0) {
			fprintf(stderr, "wal seed: entry encode failed\n");
			exit(1);
		}
		n += used;
	}
	put("fuzz_wal_record", "segment", seg, n, NULL, 0);
	put("fuzz_wal_record", "segment-torn", seg, n - 5, NULL, 0);
	memset(seg + n, 0, 600);
	put("fuzz_wal_record", "segment-zero-tail", seg, n + 600, NULL, 0);
	struct raft_hard_state hs = { .term = 5, .vote = 2 };
	wal_record_put_hard_state(&hs, seg, sizeof(seg), &used);
	put("fuzz_wal_record", "hardstate", seg, used, NULL, 0);
	struct raft_snapshot_meta meta = { .index = 6, .term = 1, .conf = conf };
	uint8_t *img;
	size_t ilen;
	if (wal_snapshot_image(&meta, (const uint8_t *)"state machine bytes", 19, &img, &ilen) != 0) {
		fprintf(stderr, "wal seed: snapshot image failed\n");
		exit(1);
	}
	put("fuzz_wal_record", "snapshot", img, ilen, NULL, 0);
	free(img);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	root_dir = argv[1];
	if (mkdir(root_dir, 0755) != 0 && errno != EEXIST) {
		perror(root_dir);
		return 1;
	}
	struct fz f;
	fz_init(&f);

	/* Tokens. */
	char tok[TOKEN_STR_LEN + 1];
	token_format(&f.jcfg.token, tok);
	put("fuzz_token_parse", "worker", (const uint8_t *)tok, strlen(tok), NULL, 0);

	/* A certificate. */
	put("fuzz_identity_decode", "manager", f.mcfg.cert, f.mcfg.cert_len, NULL, 0);
	put("fuzz_mp_check", "cert", f.mcfg.cert, f.mcfg.cert_len, NULL, 0);

	/* A sealed packet and a stored keyring, under the target's fixed ring. */
	struct keyring *kr = keyring_new();
	uint8_t k[KEYRING_KEY_LEN], nonce[KEYRING_NONCE_LEN] = {7};
	memset(k, 1, sizeof(k));
	keyring_install(kr, k);
	memset(k, 2, sizeof(k));
	keyring_install(kr, k);
	keyring_use(kr, k);
	uint8_t pkt[256], ring[KEYRING_SERIALIZED_MAX];
	size_t pkt_len = 0, ring_len = 0;
	static const char msg[] = "ping seq=1 from=ldpj7owgrf12irfxg3hi9i3r3";
	keyring_seal(kr, nonce, (const uint8_t *)msg, sizeof(msg) - 1, pkt, sizeof(pkt), &pkt_len);
	keyring_serialize(kr, ring, sizeof(ring), &ring_len);
	put("fuzz_keyring_open", "packet", (const uint8_t[]){0}, 1, pkt, pkt_len);
	put("fuzz_keyring_open", "ring", (const uint8_t[]){1}, 1, ring, ring_len);
	put("fuzz_mp_check", "ring", ring, ring_len, NULL, 0);
	keyring_free(kr);

	/* Peer stream messages: a heartbeat, a keyring RING and its ACK. */
	uint8_t pm[PEER_KEYRING_MSG_MAX], digest[PEER_KEYRING_DIGEST_LEN];
	size_t pm_len = 0;
	peer_msg_heartbeat_encode(PEER_MSG_HEARTBEAT, 3, 123456789, pm, sizeof(pm), &pm_len);
	put("fuzz_peer_msg", "heartbeat", pm, pm_len, NULL, 0);
	peer_msg_keyring_ring_encode(PEER_KEYRING_USE, 2, ring, ring_len, pm, sizeof(pm), &pm_len);
	put("fuzz_peer_msg", "keyring-ring", pm, pm_len, NULL, 0);
	peer_msg_keyring_digest(ring, ring_len, digest);
	peer_msg_keyring_ack_encode(2, digest, pm, sizeof(pm), &pm_len);
	put("fuzz_peer_msg", "keyring-ack", pm, pm_len, NULL, 0);

	/* A recorded session: HELLO, CHALLENGE, PROOF, WELCOME. */
	struct handshake *m, *j;
	handshake_manager_new(&m, &f.mcfg, FZ_NOW, NULL, 0);
	handshake_joiner_new(&j, &f.jcfg);
	static uint8_t hello[1024], challenge[1024], proof[1024], welcome[4096];
	size_t hn = 0, cn = 0, pn = 0, wn = 0;
	take(j, hello, &hn);
	feed(m, hello, hn);
	take(m, challenge, &cn);
	feed(j, challenge, cn);
	take(j, proof, &pn);
	feed(m, proof, pn);
	handshake_manager_issue(m, "j0000000000000000000000b2", FZ_NOW, FZ_NOW + FZ_DAY,
				(const uint8_t *)"payload", 7);
	take(m, welcome, &wn);
	feed(j, welcome, wn);
	if (handshake_state(j) != HANDSHAKE_DONE) {
		fprintf(stderr, "recorded session did not complete: %s\n", handshake_error(j));
		return 1;
	}
	put("fuzz_mp_check", "hello", hello + 4, hn - 4, NULL, 0);
	static uint8_t buf[8192];
	memcpy(buf, hello, hn);
	memcpy(buf + hn, proof, pn);
	put("fuzz_handshake", "mode0-hello-proof", (const uint8_t[]){0, 0}, 2, buf, hn + pn);
	put("fuzz_handshake", "mode0-bytewise", (const uint8_t[]){0, 1}, 2, buf, hn + pn);
	memcpy(buf, challenge, cn);
	memcpy(buf + cn, welcome, wn);
	put("fuzz_handshake", "mode1-challenge-welcome", (const uint8_t[]){1, 0}, 2, buf, cn + wn);
	put("fuzz_handshake", "mode1-chunks", (const uint8_t[]){1, 7}, 2, buf, cn + wn);
	put("fuzz_handshake", "mode2-proof", (const uint8_t[]){2, 0}, 2, proof, pn);
	put("fuzz_handshake", "mode3-welcome", (const uint8_t[]){3, 0}, 2, welcome, wn);
	put("fuzz_handshake", "mode3-reject", (const uint8_t[]){3, 0, 0, 0, 0, 3, 0x92, 5, 1}, 9,
	    NULL, 0);
	handshake_free(m);
	handshake_free(j);

	/* A recorded peer stream: HELLO, HELLO+AUTH, AUTH, then records both ways. */
	struct fz_peer fp;
	fz_peer_init(&fp, &f);
	struct peer_auth *pd, *pl;
	if (peer_auth_new(&pd, &fp.dialer, FZ_NOW, NULL, 0) != 0 ||
	    peer_auth_new(&pl, &fp.listener, FZ_NOW, NULL, 0) != 0) {
		fprintf(stderr, "peer stream fixture does not start\n");
		return 1;
	}
	static uint8_t dh[1024], lh[2048], da[1024], drec[1024], lrec[1024];
	size_t dhn = 0, lhn = 0, dan = 0, drn = 0, lrn = 0;
	ptake(pd, dh, &dhn);
	pfeed(pl, dh, dhn);
	ptake(pl, lh, &lhn);
	pfeed(pd, lh, lhn);
	ptake(pd, da, &dan);
	pfeed(pl, da, dan);
	if (peer_auth_state(pl) != PEER_AUTH_UP) {
		fprintf(stderr, "recorded peer stream did not come up: %s\n", peer_auth_error(pl));
		return 1;
	}
	peer_auth_send(pd, (const uint8_t *)"heartbeat", 9);
	peer_auth_send(pd, NULL, 0);
	peer_auth_close(pd);
	ptake(pd, drec, &drn);
	peer_auth_send(pl, (const uint8_t *)"assignment", 10);
	peer_auth_close(pl);
	ptake(pl, lrec, &lrn);
	memcpy(buf, dh, dhn);
	memcpy(buf + dhn, da, dan);
	memcpy(buf + dhn + dan, drec, drn);
	put("fuzz_peer_auth", "mode0-session", (const uint8_t[]){0, 0}, 2, buf, dhn + dan + drn);
	put("fuzz_peer_auth", "mode0-chunks", (const uint8_t[]){0, 5}, 2, buf, dhn + dan + drn);
	memcpy(buf, lh, lhn);
	memcpy(buf + lhn, lrec, lrn);
	put("fuzz_peer_auth", "mode1-session", (const uint8_t[]){1, 0}, 2, buf, lhn + lrn);
	memcpy(buf, da, dan);
	memcpy(buf + dan, drec, drn);
	put("fuzz_peer_auth", "mode2-auth-records", (const uint8_t[]){2, 0}, 2, buf, dan + drn);
	put("fuzz_peer_auth", "mode3-records", (const uint8_t[]){3, 0}, 2, lrec, lrn);
	put("fuzz_peer_auth", "mode4-records", (const uint8_t[]){4, 0}, 2, drec, drn);
	put("fuzz_peer_auth", "mode1-reject", (const uint8_t[]){1, 0, 0, 0, 0, 3, 0x92, 0x12, 3}, 9,
	    NULL, 0);
	put("fuzz_mp_check", "peer-hello", dh + 4, dhn - 4, NULL, 0);
	peer_auth_free(pd);
	peer_auth_free(pl);
	raft_seeds();
	manager_seeds();
	dispatch_seeds();
	store_seeds();
	wal_seeds();
	printf("seed corpora written under %s\n", root_dir);
	return 0;
}
