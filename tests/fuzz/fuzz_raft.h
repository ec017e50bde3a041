/* fuzz_raft: the raft cores and the input framing that fuzz_raft_msg and its seeds share. */
#ifndef SWARMNODE_FUZZ_RAFT_H
#define SWARMNODE_FUZZ_RAFT_H

#include <stdlib.h>
#include <string.h>

#include "swarmnode/raft.h"
#include "swarmnode/raft_codec.h"

/*
 * Input: the whole buffer is first decoded as one message; then it is read as
 * frames, each a big-endian u16 length and that many bytes (the last frame
 * may be short), every frame decoded as a message. Each message that decodes
 * is stepped into two cores of a three-voter cluster (ids 1, 2, 3) as if sent
 * to node 1: a fresh follower and a leader of term 2. Time moves 40 ms per
 * frame; every write is acknowledged at once.
 */

#define FZR_SELF 1

/* Acknowledges the write of up, if any, and returns the next update's rc. */
static inline int fzr_step(struct raft *r, const struct raft_event *ev, struct raft_update *up)
{
	int rc = raft_step(r, ev, up);
	if (up->persist.seq != 0) {
		struct raft_event ack = { .type = RAFT_EV_PERSISTED, .now = ev->now };
		ack.persisted.seq = up->persist.seq;
		raft_step(r, &ack, up);
	}
	return rc;
}

/* A core of id 1 in a bootstrapped cluster of voters 1, 2, 3; made leader of
 * term 2 with node 2's (pre-)votes when leader is true. NULL on failure. */
static inline struct raft *fzr_core(bool leader, uint64_t *now)
{
	struct raft_configuration conf = { .n = 3 };
	for (uint32_t i = 0; i < 3; i++)
		conf.members[i] = (struct raft_member){ .id = i + 1, .role = RAFT_VOTER };
	uint8_t buf[RAFT_CONF_ENCODED_MAX];
	struct raft_entry e;
	struct raft_boot boot = { 0 };
	if (raft_bootstrap(&conf, &boot.hs, &e, buf, sizeof(buf)) != 0)
		return NULL;
	boot.entries = &e;
	boot.n_entries = 1;
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = FZR_SELF;
	cfg.seed = 42;
	cfg.election_timeout_ms = 300;
	cfg.heartbeat_interval_ms = 30;
	cfg.snapshot_chunk_bytes = 64;
	cfg.max_snapshot_bytes = 1 << 20;
	struct raft *r;
	if (raft_new(&cfg, &boot, 0, &r, NULL, 0) != 0)
		return NULL;
	*now = 0;
	if (!leader)
		return r;
	struct raft_update up;
	*now = 700; /* past any election timeout: pre-vote */
	struct raft_event tick = { .type = RAFT_EV_TICK, .now = *now };
	fzr_step(r, &tick, &up);
	struct raft_message m = { .type = RAFT_MSG_VOTE_RESP, .term = 2, .from = 2, .to = FZR_SELF };
	m.vote_resp.granted = true;
	m.vote_resp.pre_vote = true;
	struct raft_event ev = { .type = RAFT_EV_RECEIVE, .now = *now };
	ev.receive.msg = &m;
	fzr_step(r, &ev, &up);
	m.vote_resp.pre_vote = false;
	fzr_step(r, &ev, &up);
	if (raft_role(r) != RAFT_LEADER) {
		raft_free(r);
		return NULL;
	}
	return r;
}

#endif
