/* swim_internal: the swim core's state, shared by swim.c, swim_state.c and swim_probe.c. */
#ifndef SWARMNODE_SWIM_INTERNAL_H
#define SWARMNODE_SWIM_INTERNAL_H

#include "swarmnode/swim.h"

#include "swim_awareness.h"
#include "swim_broadcast.h"
#include "swim_members.h"
#include "rng.h"
#include "swim_suspicion.h"

/* Indirect probes we relay at once for other nodes; more are dropped. */
#define SWIM_MAX_RELAYS 64

/* Suspects waiting for an early probe; more wait for their round-robin turn. */
#define SWIM_MAX_URGENT 16

/* Most relays or gossip targets picked at once (indirect_checks, gossip_nodes). */
#define SWIM_MAX_PICK 16

/* A first-in first-out queue of fixed-size items. */
struct swim_fifo {
	uint8_t *buf; /* cap items of esize bytes */
	size_t esize; /* bytes per item */
	size_t head;  /* index of the oldest item */
	size_t len;   /* items queued */
	size_t cap;   /* items allocated */
};

/* The probe in flight (at most one, as in the paper's protocol period). */
struct swim_probe {
	bool active;                  /* a probe is running */
	bool indirect;                /* the ack timeout passed and ping-reqs went out */
	uint32_t seq;                 /* sequence number of its ping and ping-reqs */
	uint64_t ack_deadline;        /* when to fall back to indirect probes */
	uint64_t end;                 /* when the probe fails without an ack */
	uint32_t expected_nacks;      /* relays asked */
	uint32_t nacks;               /* nacks received from them */
	uint64_t target_inc;          /* the target's incarnation when the probe began */
	char target[SWIM_ID_MAX + 1]; /* the target's id (looked up again later) */
};

/* An indirect probe we run for another node. */
struct swim_relay {
	uint32_t local_seq;         /* seq of our ping to the target */
	uint32_t orig_seq;          /* the requester's seq, echoed in the ack or nack */
	uint64_t deadline;          /* when to send the nack */
	struct swim_addr requester; /* where the ack or nack goes */
};

/* Why an outgoing push-pull was started. */
enum swim_stream_kind {
	SWIM_STREAM_JOIN,      /* swim_join, one per seed */
	SWIM_STREAM_PERIODIC,  /* every push_pull_interval_ms with a live member: a summary */
	SWIM_STREAM_SYNC_BACK, /* a digest, to repair a view that differs from a peer's */
	SWIM_STREAM_RECONNECT, /* every reconnect_interval_ms, maybe, with a dead member */
};

/* An outgoing push-pull stream awaiting its reply. */
struct swim_pending {
	uint32_t id;       /* stream id handed to the host */
	uint64_t deadline; /* when it is given up */
	uint8_t kind;      /* enum swim_stream_kind */
};

struct swim {
	struct swim_config cfg;          /* copy of the configuration; cfg.id points at id */
	char id[SWIM_ID_MAX + 1];        /* our id */
	struct swim_member *self;        /* our own record (in tab) */
	struct swim_table tab;           /* every known member */
	struct swim_bq bq;               /* updates waiting to be piggybacked */
	struct rng rng;             /* all randomness */
	struct swim_awareness aw;        /* Lifeguard local health */
	struct swim_proto_limits lim;    /* decoder bounds */
	uint32_t counts[4];              /* members per enum swim_state */
	uint32_t seq;                    /* last ping sequence number used */
	struct swim_probe probe;         /* the probe in flight */
	char urgent[SWIM_MAX_URGENT][SWIM_ID_MAX + 1]; /* suspects to probe early, oldest first */
	uint32_t n_urgent;               /* entries in urgent */
	bool last_urgent;                /* the last probe was an early one */
	uint64_t next_probe_at;          /* when the next probe starts */
	uint64_t next_gossip_at;         /* when the next gossip round runs */
	uint64_t last_gossip_at;         /* when the last one ran */
	uint64_t next_pushpull_at;       /* when the next periodic push-pull starts */
	uint64_t join_sync_gap_ms;       /* after a join: gap to the next sync, doubling; 0 once at the period */
	uint64_t next_reconnect_at;      /* when to consider reconnecting to a dead member */
	struct swim_relay relays[SWIM_MAX_RELAYS]; /* indirect probes we relay */
	uint32_t n_relays;               /* entries used in relays */
	struct swim_pending *pending;    /* outgoing push-pulls awaiting replies */
	uint32_t n_pending;              /* entries in pending */
	uint32_t cap_pending;            /* entries allocated */
	uint32_t next_stream_id;         /* last stream id handed out */
	bool leaving;                    /* swim_leave was called */
	struct swim_fifo out_packets;    /* struct swim_out_packet */
	struct swim_fifo out_streams;    /* struct swim_out_stream */
	struct swim_fifo out_events;     /* struct swim_event */
	uint64_t drops[SWIM_DROP__COUNT]; /* drop counters by reason */
	struct swim_stats stats;         /* traffic counters */
	char last_error[SWIM_PROTO_ERR_MAX]; /* last decode error */
};

/* swim.c */
int swim_fifo_push(struct swim_fifo *f, const void *item);
uint32_t swim_live_count(const struct swim *s);

/* swim_state.c: membership rules */
void swim_emit(struct swim *s, uint64_t now, uint8_t type, const struct swim_member *m);
void swim_apply_alive(struct swim *s, uint64_t now, const char *id, uint64_t inc,
		      const struct swim_addr *addr, const uint8_t *meta, size_t meta_len);
void swim_apply_suspect(struct swim *s, uint64_t now, const char *id, uint64_t inc,
			const char *from);
void swim_apply_dead(struct swim *s, uint64_t now, const char *id, uint64_t inc, bool left);
void swim_apply_msg(struct swim *s, uint64_t now, const struct swim_msg *m);
/* Applies a push-pull message. Returns true when it is a digest
 * (SWIM_PP_DIGEST) naming an alive member we do not know or know at an
 * older incarnation: only a full record can update us. */
bool swim_merge(struct swim *s, uint64_t now, const struct swim_pushpull *pp);
void swim_set_state(struct swim *s, struct swim_member *m, uint8_t state, uint64_t now);
void swim_run_member_timers(struct swim *s, uint64_t now);
void swim_member_msg(const struct swim *s, const struct swim_member *m, struct swim_msg *out);

/* swim_probe.c: probing, relays, gossip, packets */
void swim_send(struct swim *s, const struct swim_addr *to, const struct swim_msg *msgs,
	       size_t n, bool piggyback);
uint32_t swim_retransmit_limit(const struct swim *s);
void swim_run_probe(struct swim *s, uint64_t now);
void swim_run_relays(struct swim *s, uint64_t now);
void swim_gossip_round(struct swim *s, uint64_t now);
void swim_gossip_soon(struct swim *s);
void swim_on_ping(struct swim *s, const struct swim_addr *from, const struct swim_msg *m);
void swim_on_ping_req(struct swim *s, uint64_t now, const struct swim_addr *from,
		      const struct swim_msg *m);
void swim_on_ack(struct swim *s, const struct swim_msg *m);
void swim_on_nack(struct swim *s, const struct swim_msg *m);
void swim_probe_soon(struct swim *s, const struct swim_member *m);
size_t swim_pick(struct swim *s, uint64_t now, size_t k, int why,
		 const struct swim_member *exclude, struct swim_member **out);

/* Reasons for swim_pick. */
enum swim_pick_why {
	SWIM_PICK_RELAY,    /* alive members to relay an indirect probe */
	SWIM_PICK_GOSSIP,   /* alive, suspect, or recently dead members to gossip to */
	SWIM_PICK_PUSHPULL, /* alive members to sync with */
	SWIM_PICK_DEAD,     /* dead members to try to reconnect to */
};

#endif
