/* Fuzz target: raft_msg_decode on arbitrary bytes; what decodes re-encodes canonically and is stepped into a follower and a leader core, whose outputs must stay well formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* encode(decode(x)) is a fixed point of decode-then-encode. */
static void check_roundtrip(const struct raft_message *m)
{
	size_t cap = raft_msg_encoded_max(m), n1, n2;
	uint8_t *a = malloc(cap);
	if (a == NULL || raft_msg_encode(m, a, cap, &n1) != 0)
		abort();
	struct raft_msg_decoded d;
	if (raft_msg_decode(a, n1, &d, NULL, 0) != 0)
		abort();
	size_t cap2 = raft_msg_encoded_max(&d.msg);
	uint8_t *b = malloc(cap2);
	if (b == NULL || raft_msg_encode(&d.msg, b, cap2, &n2) != 0 || n1 != n2 || memcmp(a, b, n1) != 0)
		abort();
	raft_msg_decoded_release(&d);
	free(a);
	free(b);
}

/* Every message a core emits encodes and decodes; commit never passes the log. */
static void check_update(struct raft *r, const struct raft_update *up)
{
	for (size_t i = 0; i < up->n_messages; i++) {
		const struct raft_message *m = &up->messages[i];
		if (m->from != FZR_SELF || m->to == FZR_SELF || m->term == 0)
			abort();
		check_roundtrip(m);
	}
	if (up->commit > raft_last_index(r) && raft_last_index(r) > 0)
		abort();
	for (size_t i = 1; i < up->n_committed; i++)
		if (up->committed[i].index != up->committed[i - 1].index + 1)
			abort();
}

static void feed(struct raft *r, uint64_t *now, struct raft_message *m)
{
	if (r == NULL)
		return;
	m->to = FZR_SELF;
	if (m->from == FZR_SELF)
		m->from = 2;
	struct raft_update up;
	struct raft_event ev = { .type = RAFT_EV_RECEIVE, .now = *now };
	ev.receive.msg = m;
	fzr_step(r, &ev, &up);
	check_update(r, &up);
	*now += 40;
	struct raft_event tick = { .type = RAFT_EV_TICK, .now = *now };
	fzr_step(r, &tick, &up);
	check_update(r, &up);
	/* Exercise the other inputs now and then. */
	uint8_t cmd[3] = { 1, 2, 3 };
	struct raft_buf b = { .data = cmd, .len = sizeof(cmd) };
	struct raft_event prop = { .type = RAFT_EV_PROPOSE, .now = *now };
	prop.propose.bufs = &b;
	prop.propose.n = 1;
	fzr_step(r, &prop, &up);
	check_update(r, &up);
	struct raft_event read = { .type = RAFT_EV_READ, .now = *now };
	read.read.req_id = *now;
	fzr_step(r, &read, &up);
	check_update(r, &up);
}

static void step_both(struct raft *f, uint64_t *fnow, struct raft *l, uint64_t *lnow,
		      const uint8_t *p, size_t n)
{
	struct raft_msg_decoded d;
	char err[RAFT_CODEC_ERR_MAX] = "";
	if (raft_msg_decode(p, n, &d, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort(); /* a refusal always says why */
		return;
	}
	check_roundtrip(&d.msg);
	struct raft_message m = d.msg;
	feed(f, fnow, &m);
	m = d.msg;
	feed(l, lnow, &m);
	raft_msg_decoded_release(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t fnow, lnow;
	struct raft *f = fzr_core(false, &fnow);
	struct raft *l = fzr_core(true, &lnow);
	if (f == NULL || l == NULL)
		abort();
	step_both(f, &fnow, l, &lnow, data, size);
	while (size >= 2) {
		size_t n = ((size_t)data[0] << 8) | data[1];
		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		step_both(f, &fnow, l, &lnow, data, n);
		data += n;
		size -= n;
	}
	raft_free(f);
	raft_free(l);
	return 0;
}
