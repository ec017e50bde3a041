/* fuzz_swim_proto: libFuzzer target for the gossip packet and push-pull decoders and the swim core fed by them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/swim.h"
#include "swarmnode/swim_proto.h"

/*
 * Every input runs three ways:
 *
 * 1. The whole input through swim_proto_decode_packet and _pushpull. What
 *    decodes is encoded again and decoded again and must come back equal.
 * 2. The input as a script for a fresh swim core that already knows two
 *    peers: records of [op u8][len u16 big-endian][len bytes], where op % 4
 *    is 0 a UDP packet, 1 a push-pull request to serve, 2 the reply to the
 *    core's oldest open stream, 3 advance the clock by len ms and tick.
 *    A record cut short is delivered as a packet with what is left.
 * 3. Every packet the core sends must decode and fit the packet budget, and
 *    every push-pull reply it builds must decode.
 *
 * A violated expectation aborts, which libFuzzer reports as a crash.
 */

#define FZ_BUDGET 1400

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_swim_proto: %s\n", what);
		abort();
	}
}

static void same_msg(const struct swim_msg *a, const struct swim_msg *b)
{
	check(a->type == b->type && a->seq == b->seq && a->incarnation == b->incarnation,
	      "round trip changed type, seq or incarnation");
	check(strcmp(a->id, b->id) == 0 && strcmp(a->from, b->from) == 0, "round trip changed an id");
	check(a->addr.family == b->addr.family && swim_addr_equal(&a->addr, &b->addr),
	      "round trip changed an address");
	check(a->meta_len == b->meta_len && (a->meta_len == 0 || memcmp(a->meta, b->meta, a->meta_len) == 0),
	      "round trip changed metadata");
}

static void roundtrip_packet(const uint8_t *data, size_t size, const struct swim_proto_limits *lim)
{
	static struct swim_packet p1, p2;
	char err[SWIM_PROTO_ERR_MAX];
	if (swim_proto_decode_packet(data, size, lim, &p1, err) != 0)
		return;
	struct swim_pw w;
	uint8_t *buf;
	size_t len;
	check(swim_pw_init(&w, p1.sender, size + 1024) == 0, "encoder refused a decoded sender");
	for (size_t i = 0; i < p1.n_msgs; i++)
		check(swim_pw_add(&w, &p1.msgs[i]) == 0, "encoder refused a decoded message");
	check(swim_pw_finish(&w, &buf, &len) == 0, "encoder could not finish");
	check(len <= size, "re-encoding grew the packet");
	check(swim_proto_decode_packet(buf, len, lim, &p2, err) == 0, "re-encoded packet does not decode");
	check(strcmp(p1.sender, p2.sender) == 0 && p1.n_msgs == p2.n_msgs, "round trip changed the header");
	for (size_t i = 0; i < p1.n_msgs; i++)
		same_msg(&p1.msgs[i], &p2.msgs[i]);
	free(buf);
}

static void roundtrip_pushpull(const uint8_t *data, size_t size, const struct swim_proto_limits *lim)
{
	struct swim_pushpull a, b;
	char err[SWIM_PROTO_ERR_MAX];
	if (swim_proto_decode_pushpull(data, size, lim, &a, err) != 0)
		return;
	struct swim_ppw w;
	uint8_t *buf;
	size_t len;
	check(swim_ppw_init(&w, a.sender, a.flags, size + 1024) == 0, "pp encoder refused the header");
	memcpy(w.summary, a.summary, sizeof(w.summary));
	for (size_t i = 0; i < a.n_members; i++)
		check(swim_ppw_add(&w, &a.members[i]) == 0, "pp encoder refused a decoded member");
	check(swim_ppw_finish(&w, &buf, &len) == 0, "pp encoder could not finish");
	check(swim_proto_decode_pushpull(buf, len, lim, &b, err) == 0, "re-encoded push-pull does not decode");
	check(a.n_members == b.n_members && a.flags == b.flags && strcmp(a.sender, b.sender) == 0 &&
		      memcmp(a.summary, b.summary, sizeof(a.summary)) == 0,
	      "pp round trip changed the header");
	for (size_t i = 0; i < a.n_members; i++) {
		const struct swim_pp_member *x = &a.members[i], *y = &b.members[i];
		check(strcmp(x->id, y->id) == 0 && x->incarnation == y->incarnation && x->state == y->state &&
		      swim_addr_equal(&x->addr, &y->addr) && x->meta_len == y->meta_len,
		      "pp round trip changed a member");
	}
	swim_proto_pushpull_free(&a);
	swim_proto_pushpull_free(&b);
	free(buf);
}

static struct swim_addr fz_addr(uint8_t last)
{
	struct swim_addr a = {.family = SWIM_AF_INET4, .ip = {10, 0, 0, last}, .port = 7946};
	return a;
}

/* Drains the core, checking what it produced; returns the oldest stream id. */
static uint32_t drain(struct swim *s, const struct swim_proto_limits *lim, uint32_t *stream)
{
	static struct swim_packet p;
	char err[SWIM_PROTO_ERR_MAX];
	struct swim_out_packet op;
	struct swim_out_stream os;
	struct swim_event ev;
	while (swim_pop_packet(s, &op)) {
		check(op.len <= FZ_BUDGET, "core exceeded its packet budget");
		check(swim_proto_decode_packet(op.data, op.len, lim, &p, err) == 0, "core sent an undecodable packet");
		free(op.data);
	}
	while (swim_pop_stream(s, &os)) {
		struct swim_pushpull pp;
		check(swim_proto_decode_pushpull(os.data, os.len, lim, &pp, err) == 0,
		      "core opened a stream with an undecodable request");
		swim_proto_pushpull_free(&pp);
		if (*stream == 0)
			*stream = os.id;
		free(os.data);
	}
	while (swim_pop_event(s, &ev))
		check(ev.state <= SWIM_LEFT, "event with a bad state");
	return *stream;
}

static struct swim *fresh_core(const struct swim_proto_limits *lim, uint64_t now)
{
	struct swim_config cfg;
	struct swim *s;
	uint32_t stream = 0;
	swim_config_default(&cfg);
	cfg.id = "fz";
	cfg.addr = fz_addr(1);
	cfg.seed = 1;
	check(swim_new(&cfg, now, &s) == 0, "swim_new failed");
	/* two peers, so that probes, relays and gossip have somewhere to go */
	struct swim_pw w;
	uint8_t *buf;
	size_t len;
	check(swim_pw_init(&w, "peer-a", FZ_BUDGET) == 0, "seed packet");
	struct swim_msg m = {.type = SWIM_MSG_ALIVE, .incarnation = 1, .addr = fz_addr(2)};
	strcpy(m.id, "peer-a");
	check(swim_pw_add(&w, &m) == 0, "seed packet");
	m.addr = fz_addr(3);
	strcpy(m.id, "peer-b");
	check(swim_pw_add(&w, &m) == 0, "seed packet");
	check(swim_pw_finish(&w, &buf, &len) == 0, "seed packet");
	struct swim_addr from = fz_addr(2);
	check(swim_recv(s, now, &from, buf, len) == 0, "seed packet rejected");
	free(buf);
	drain(s, lim, &stream);
	return s;
}

static void run_script(const uint8_t *data, size_t size, const struct swim_proto_limits *lim)
{
	uint64_t now = 1000000;
	uint32_t stream = 0;
	struct swim *s = fresh_core(lim, now);
	struct swim_addr from = fz_addr(2);
	size_t pos = 0;
	char err[SWIM_PROTO_ERR_MAX];

	while (pos < size) {
		uint8_t op = data[pos] % 4;
		if (size - pos < 3) {
			swim_recv(s, now, &from, data + pos, size - pos);
			drain(s, lim, &stream);
			break;
		}
		size_t len = ((size_t)data[pos + 1] << 8) | data[pos + 2];
		pos += 3;
		if (op == 3) {
			/* a tick record carries no payload: len is the time step */
			now += len;
			check(swim_next_deadline(s) != 0, "deadline in the distant past");
			swim_tick(s, now);
			drain(s, lim, &stream);
			continue;
		}
		if (len > size - pos) {
			swim_recv(s, now, &from, data + pos - 3, size - pos + 3);
			drain(s, lim, &stream);
			break;
		}
		const uint8_t *rec = data + pos;
		pos += len;
		if (op == 0) {
			swim_recv(s, now, &from, rec, len);
		} else if (op == 1) {
			uint8_t *reply = NULL;
			size_t rlen = 0;
			if (swim_pushpull_serve(s, now, &from, rec, len, &reply, &rlen) == 0) {
				struct swim_pushpull pp;
				check(swim_proto_decode_pushpull(reply, rlen, lim, &pp, err) == 0,
				      "core built an undecodable push-pull reply");
				swim_proto_pushpull_free(&pp);
			}
			free(reply);
		} else {
			swim_pushpull_response(s, now, stream, rec, len);
			stream = 0;
		}
		drain(s, lim, &stream);
	}
	/* a few more deadlines: probes go indirect and fail, relays nack,
	 * suspicions expire, streams time out */
	for (int i = 0; i < 6; i++) {
		uint64_t d = swim_next_deadline(s);
		if (d == UINT64_MAX)
			break;
		now = d > now ? d : now;
		swim_tick(s, now);
		drain(s, lim, &stream);
	}
	swim_tick(s, now + 120000);
	drain(s, lim, &stream);
	swim_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct swim_proto_limits lim;
	swim_proto_limits_default(&lim);
	roundtrip_packet(data, size, &lim);
	roundtrip_pushpull(data, size, &lim);
	run_script(data, size, &lim);
	return 0;
}
