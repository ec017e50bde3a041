/* swim: SWIM + Lifeguard gossip membership as a deterministic state machine without I/O. */
#ifndef SWARMNODE_SWIM_H
#define SWARMNODE_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/swim_proto.h"

/*
 * How a host drives a swim core (the libuv shell, the simulator, tests):
 *
 *   swim_new(cfg, now)            seed, id, address, timing
 *   swim_join(seeds)              once, with the seed addresses
 *   loop:
 *     swim_recv(now, from, bytes)          for every UDP datagram
 *     swim_pushpull_serve(now, req, &rep)  for every incoming TCP push-pull
 *     swim_pushpull_response / _failed     when an outgoing stream ends
 *     swim_tick(now)                       whenever now >= swim_next_deadline()
 *     after each call: drain swim_pop_packet, swim_pop_stream, swim_pop_event
 *   swim_leave(now), keep looping until swim_leave_done() (or a timeout)
 *   swim_free
 *
 * Time is monotonic milliseconds chosen by the host and must not go backwards.
 * The core never reads a clock, never calls rand() and never touches a socket;
 * given the same seed and the same inputs it produces the same outputs.
 *
 * Defaults follow memberlist's LAN profile except for the suspicion timeout
 * (below). Where the core differs from
 * memberlist (each has a "why" paragraph at its code):
 *  - gossip rounds and reconnects to dead members are built in (memberlist
 *    leaves reconnects to Serf), so a healed partition merges by itself;
 *  - a suspicion at a newer incarnation restarts the timer instead of
 *    confirming the old one (without a second SUSPECT event: see below);
 *  - a new suspect is probed early (alternating with round-robin);
 *  - stale suspect/dead gossip is answered with the receiver's newer view
 *    (the refutation, a newer suspicion, or the member's leave), and a
 *    member we hold dead that still sends to us is told so;
 *  - a suspicion still held two probe intervals after it began is sent to
 *    the suspect and a few members once per interval until it ends;
 *  - suspicion timeouts are shorter: suspicion_mult 1 (memberlist 4) with
 *    3 confirmations expected (memberlist mult - 2), see swim.c;
 *  - the periodic push-pull sends digests (id, incarnation, state) and
 *    gets back only what it lacks; joins and reconnects send full records;
 *  - relays send their nack at 80 % of the probe timeout (Lifeguard);
 *  - piggybacking stops after 64 updates in a row that do not fit.
 */

struct swim;

/* Configuration. swim_config_default() fills the memberlist LAN profile
 * (with a shorter suspicion timeout);
 * the host sets id and addr (and usually seed and meta). */
struct swim_config {
	const char *id;                      /* this node's id, copied; 1..SWIM_ID_MAX printable bytes */
	struct swim_addr addr;               /* the gossip address other nodes reach us at */
	uint64_t incarnation;                /* starting incarnation; a restart may pass a higher one */
	uint64_t seed;                       /* seeds the internal PRNG */
	const uint8_t *meta;                 /* initial metadata (copied), may be NULL */
	size_t meta_len;                     /* bytes at meta, <= max_meta */
	size_t max_meta;                     /* metadata bound, default 512, <= SWIM_META_HARD_MAX */
	uint32_t probe_interval_ms;          /* time between probes, default 1000 */
	uint32_t probe_timeout_ms;           /* wait for a direct ack, default 500, < probe_interval_ms */
	uint32_t indirect_checks;            /* k ping-req relays per failed probe, default 3, <= 16 */
	uint32_t suspicion_mult;             /* suspicion min = mult * max(1, log10 N) * interval, default 1 */
	uint32_t suspicion_max_timeout_mult; /* suspicion max = this * min, default 6 */
	uint32_t suspicion_confirmations;    /* Lifeguard k: confirmations that bring the timeout
					      * down from max to min, default 3, <= 16 */
	uint32_t awareness_max_mult;         /* largest health multiplier, default 8 */
	uint32_t retransmit_mult;            /* retransmit limit = mult * ceil(log10(N+1)), default 5, <= 10 */
	uint32_t gossip_interval_ms;         /* extra gossip rounds, default 200; 0 piggybacks only */
	uint32_t gossip_nodes;               /* targets per gossip round, default 3, <= 16 */
	uint32_t gossip_eager_gap_ms;        /* a new update runs a round at once when the last
					      * one is this old, default 20; 0 waits for the
					      * next interval (memberlist) */
	uint32_t gossip_to_dead_ms;          /* keep gossiping to a dead node this long, default 30000 */
	uint32_t push_pull_interval_ms;      /* periodic (digest) sync period, default 30000, times
					      * ceil(log2 N - 5) + 1 above 32 members; 0 only on join */
	uint32_t reconnect_interval_ms;      /* push-pull with a random dead member, default 30000; 0 never */
	uint32_t stream_timeout_ms;          /* give up on an unanswered push-pull, default 10000 */
	uint64_t reap_timeout_ms;            /* forget dead and left members, default 24 h */
	size_t packet_budget;                /* plaintext bytes per UDP packet, default 1400, 256..65507 */
	size_t max_pushpull_bytes;           /* bound on a push-pull message, default 8 MiB */
	size_t max_members;                  /* bound on known members, default 65536 */
};

/* Fills cfg with the defaults above; id is NULL and addr unset. */
void swim_config_default(struct swim_config *cfg);

/* Checks cfg. Returns 0, or -EINVAL with "field: reason" in err (len bytes,
 * may be NULL). */
int swim_config_check(const struct swim_config *cfg, char *err, size_t len);

/* Creates a core whose only member is itself (alive). now starts the timers.
 * Returns 0 and *out (free with swim_free), -EINVAL for a config that
 * swim_config_check() rejects, or -ENOMEM. */
int swim_new(const struct swim_config *cfg, uint64_t now, struct swim **out);

/* Releases s, its members and every undrained output. NULL is accepted. */
void swim_free(struct swim *s);

/* --- inputs ----------------------------------------------------------------- */

/* Runs everything due at now: probe phases, suspicion timeouts, reaping,
 * relay nacks, gossip rounds, periodic push-pull and reconnects. Returns 0. */
int swim_tick(struct swim *s, uint64_t now);

/* Handles one received UDP datagram (plaintext). Returns 0 when it was
 * applied, or a negative code when it was dropped (and counted): -EBADMSG,
 * -EPROTONOSUPPORT, -ELOOP (it carries our own id as sender), -ENOMEM. */
int swim_recv(struct swim *s, uint64_t now, const struct swim_addr *from,
	      const uint8_t *data, size_t len);

/* Starts a join: queues one push-pull stream (flag join) per seed address,
 * skipping our own address. Returns the number of streams queued, or -ENOMEM. */
int swim_join(struct swim *s, uint64_t now, const struct swim_addr *seeds, size_t n);

/* Announces a graceful leave: marks ourselves left, gossips it at once and
 * stops probing and push-pull. The core keeps answering pings and relaying
 * gossip until freed. Returns 0, or -EALREADY. */
int swim_leave(struct swim *s, uint64_t now);

/* True once a leave was announced and its message reached its retransmit
 * limit, or no live member is left to tell. */
bool swim_leave_done(const struct swim *s);

/* Replaces our metadata and spreads it with a new incarnation. Returns 0,
 * -EMSGSIZE (longer than max_meta) or -ENOMEM. */
int swim_set_meta(struct swim *s, uint64_t now, const uint8_t *meta, size_t len);

/* Serves an incoming push-pull request: merges the peer's state and returns
 * ours in *reply (malloc'd; the caller frees it and sends it back). Returns 0,
 * or -EBADMSG / -EPROTONOSUPPORT / -EMSGSIZE / -ENOMEM with nothing to send. */
int swim_pushpull_serve(struct swim *s, uint64_t now, const struct swim_addr *from,
			const uint8_t *req, size_t len, uint8_t **reply, size_t *reply_len);

/* Delivers the reply to the stream with id stream. Returns 0, -ENOENT (no
 * such pending stream: expired or unknown), -EBADMSG, -EPROTONOSUPPORT. */
int swim_pushpull_response(struct swim *s, uint64_t now, uint32_t stream,
			   const uint8_t *data, size_t len);

/* Reports that the stream could not connect or was cut. */
void swim_pushpull_failed(struct swim *s, uint64_t now, uint32_t stream);

/* --- outputs ---------------------------------------------------------------- */

/* A UDP datagram to send. data is malloc'd and owned by the caller after pop. */
struct swim_out_packet {
	struct swim_addr to; /* destination */
	uint8_t *data;       /* plaintext packet, at most packet_budget bytes */
	size_t len;          /* bytes at data */
};

/* A push-pull stream to open: connect to `to`, send data, and report the
 * reply with swim_pushpull_response(id) or failure with swim_pushpull_failed(id). */
struct swim_out_stream {
	uint32_t id;         /* stream id to report back */
	struct swim_addr to; /* destination (TCP, same address as gossip) */
	uint8_t *data;       /* request bytes, malloc'd, owned by the caller after pop */
	size_t len;          /* bytes at data */
};

/* Membership events, in the order they happened. An event reports a change
 * of a member's state (or, UPDATED, of an alive member's address or
 * metadata), never the same state twice in a row: a newer incarnation alone
 * is no event (an alive member that refuted a suspicion we missed, or a
 * suspect suspected afresh at its newer incarnation); swim_member_find()
 * shows the current incarnation. */
enum swim_event_type {
	SWIM_EV_JOINED,  /* a member appeared: new, or back after being dead or left */
	SWIM_EV_UPDATED, /* an alive member's address or metadata changed */
	SWIM_EV_SUSPECT, /* a member is suspected of having failed */
	SWIM_EV_ALIVE,   /* a suspected member proved to be alive again */
	SWIM_EV_DEAD,    /* a member was declared dead */
	SWIM_EV_LEFT,    /* a member left gracefully */
	SWIM_EV_REAPED,  /* a dead or left member was forgotten after reap_timeout_ms */
	SWIM_EV_REFUTED, /* we refuted a claim that we are suspect or dead (id is ours) */
};

/* Member counts per state, ourselves included. */
struct swim_counts {
	uint32_t alive;   /* alive members */
	uint32_t suspect; /* suspected members */
	uint32_t dead;    /* dead, not yet reaped */
	uint32_t left;    /* left, not yet reaped */
};

/* One membership event. */
struct swim_event {
	uint8_t type;                 /* enum swim_event_type */
	uint8_t state;                /* the member's state after the event (enum swim_state) */
	char id[SWIM_ID_MAX + 1];     /* the member */
	struct swim_addr addr;        /* its address */
	uint64_t incarnation;         /* its incarnation after the event */
	uint64_t at;                  /* time of the event (the input's now) */
	struct swim_counts counts;    /* counts right after the event */
};

/* Each pop returns false when its queue is empty. */
bool swim_pop_packet(struct swim *s, struct swim_out_packet *out);
bool swim_pop_stream(struct swim *s, struct swim_out_stream *out);
bool swim_pop_event(struct swim *s, struct swim_event *out);

/* The earliest time swim_tick has something to do, or UINT64_MAX. */
uint64_t swim_next_deadline(const struct swim *s);

/* --- queries ---------------------------------------------------------------- */

/* A view of one member; pointers stay valid until the next input call. */
struct swim_member_info {
	const char *id;               /* member id */
	struct swim_addr addr;        /* gossip address */
	uint8_t state;                /* enum swim_state */
	uint64_t incarnation;         /* current incarnation */
	const uint8_t *meta;          /* metadata, NULL when empty */
	size_t meta_len;              /* bytes at meta */
	uint64_t state_change_ms;     /* when the state last changed */
	uint64_t suspect_deadline_ms; /* when a suspect member will be declared dead, else 0 */
	bool is_self;                 /* this is us */
};

/* Members known, ourselves and unreaped dead/left ones included. */
size_t swim_member_count(const struct swim *s);

/* The i-th member (0 <= i < count) in an order that is stable between inputs.
 * Returns 0 or -ENOENT. */
int swim_member_at(const struct swim *s, size_t i, struct swim_member_info *out);

/* Looks a member up by id. Returns 0 or -ENOENT. */
int swim_member_find(const struct swim *s, const char *id, struct swim_member_info *out);

/* Counts per state. */
void swim_counts(const struct swim *s, struct swim_counts *out);

/* Our id and current incarnation. */
const char *swim_self_id(const struct swim *s);
uint64_t swim_self_incarnation(const struct swim *s);

/* Lifeguard local health score, 0 (healthy) .. awareness_max_mult - 1. */
uint32_t swim_health_score(const struct swim *s);

/* Why something received was dropped. Message-level reasons count single
 * messages inside an otherwise applied packet. */
enum swim_drop {
	SWIM_DROP_DECODE,        /* malformed packet */
	SWIM_DROP_VERSION,       /* unsupported protocol version */
	SWIM_DROP_FROM_SELF,     /* the packet carries our own id as sender */
	SWIM_DROP_WRONG_TARGET,  /* a ping or ping-req names a node that is not us (message) */
	SWIM_DROP_STALE_ACK,     /* an ack or nack matches no probe or relay in flight (message) */
	SWIM_DROP_RELAY_FULL,    /* too many indirect probes in flight (message) */
	SWIM_DROP_TABLE_FULL,    /* max_members reached, a new member was ignored (message) */
	SWIM_DROP_PP_DECODE,     /* malformed push-pull message */
	SWIM_DROP_PP_UNEXPECTED, /* push-pull reply for no pending stream, or wrong direction */
	SWIM_DROP_NOMEM,         /* out of memory while handling input */
	SWIM_DROP__COUNT
};

/* Drops counted for a reason since swim_new. */
uint64_t swim_dropped(const struct swim *s, enum swim_drop why);

/* Traffic and protocol counters. */
struct swim_stats {
	uint64_t packets_in;       /* datagrams passed to swim_recv */
	uint64_t packets_out;      /* datagrams queued for sending */
	uint64_t bytes_out;        /* their bytes */
	uint64_t updates_sent;     /* piggybacked member updates, counting each copy */
	uint64_t probes;           /* probes started */
	uint64_t probes_failed;    /* probes that ended without an ack */
	uint64_t indirect_probes;  /* ping-req messages sent */
	uint64_t nacks_sent;       /* nacks sent as a relay */
	uint64_t refutes;          /* times we refuted a claim about ourselves */
	uint64_t corrections;      /* packets sent to correct a sender's stale suspect/dead gossip */
	uint64_t pushpull_ok;      /* push-pull exchanges completed (either side) */
	uint64_t pushpull_failed;  /* outgoing push-pulls failed or timed out */
};
void swim_stats(const struct swim *s, struct swim_stats *out);

/* The last decode error ("msgs[2].meta: 600 bytes exceeds the limit of 512"), or "". */
const char *swim_last_error(const struct swim *s);

/* Names for logs: "alive", "joined", "decode", ... */
const char *swim_state_str(uint8_t state);
const char *swim_event_str(uint8_t type);
const char *swim_drop_str(enum swim_drop why);

#endif
