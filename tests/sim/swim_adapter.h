/* swim_adapter: runs one swim core per simulator node and keeps a compact view of what every node believes. */
#ifndef SWARMNODE_SIM_SWIM_ADAPTER_H
#define SWARMNODE_SIM_SWIM_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"
#include "swarmnode/swim.h"

/*
 * A swim_sim is one cluster of swim cores inside one struct sim: node i of the
 * simulator runs a core with id "node<i, 6 digits><15 hex digits>" (25
 * characters, like a Docker node id) at sim_node_addr(i), realistic node
 * metadata (node_meta) and its random seed from sim_node_seed().
 *
 * Traffic: every packet the core pops is a SIM_DATAGRAM; every push-pull is a
 * SIM_STREAM request answered on the same connection:
 *
 *   +------+---------------------+---------------------------------------+
 *   | kind | stream id, u32 BE   | push-pull message (swim_proto.h)       |
 *   +------+---------------------+---------------------------------------+
 *     'Q' request: the receiver calls swim_pushpull_serve() and answers 'R'
 *     'R' response: the requester calls swim_pushpull_response(id)
 *
 * A request that cannot be delivered (stream_failed) or whose connection
 * breaks before the answer (stream_reset) is reported with
 * swim_pushpull_failed(); the requester closes the connection once it has its
 * answer, as the libuv shell does. The simulator's datagram limit is set to the
 * cores' packet budget, so a packet over budget fails the run.
 *
 * The view: for every pair (observer o, member m) the adapter keeps the state
 * and incarnation that o's membership events last reported about m (a byte and
 * a u64: 9 MB for 1,000 nodes), plus counters per member and state so that
 * scenario predicates are O(1) per event. No event log is kept; events go to
 * the trace ring (joins only for clusters of at most 200 nodes).
 *
 * Checked on every event (a failure names seed, time, observer and member):
 *   - events are consistent with the view: JOINED only for an unknown, dead or
 *     left member, ALIVE only after SUSPECT, SUSPECT only after ALIVE, and so
 *     on, each with the state its type implies;
 *   - incarnations never decrease in any node's view of a member;
 *   - no node reports itself suspect or dead (only REFUTED is about oneself),
 *     and its own incarnation never decreases;
 *   - no node declares a member dead while that member is up and the claim is
 *     about its current life (incarnation >= the one it booted with), unless
 *     the scenario's dead_ok() allows it (a partition);
 *   - every datagram decodes, every push-pull is served and answered without
 *     an error, no core addresses a node that does not exist.
 * Checked after every event by swim_sim_check() (install it with
 * sim_set_check, or call it from the scenario's own check): the current node's
 * own record is neither suspect nor dead, and its incarnation never decreased.
 */

/* A view entry for a member the observer does not know. */
#define SWIM_SIM_UNKNOWN 0xff

struct swim_sim;

/* Called for every event a core emits, after the adapter's own checks and
 * view update; `prev` is the observer's view of the member before it. */
typedef void (*swim_sim_event_fn)(struct swim_sim *c, int observer, int member,
				  const struct swim_event *ev, uint8_t prev, void *data);

/* Decides whether observer o may declare the up member m dead (a partition
 * separates them). NULL: never. */
typedef bool (*swim_sim_dead_ok_fn)(struct swim_sim *c, int observer, int member, void *data);

/* Creates n nodes in sim (which must have none yet), each with a core built
 * from base (NULL: swim_config_default) at sim_now(). Nodes do not join by
 * themselves: see swim_sim_join_at(). Free with swim_sim_free() before the sim. */
struct swim_sim *swim_sim_new(struct sim *sim, int n, const struct swim_config *base);

/* Frees every core and the view. */
void swim_sim_free(struct swim_sim *c);

struct sim *swim_sim_sim(const struct swim_sim *c);
int swim_sim_n(const struct swim_sim *c);

/* Node i's core (NULL while crashed), id and boot incarnation. */
struct swim *swim_sim_core(const struct swim_sim *c, int i);
const char *swim_sim_id(const struct swim_sim *c, int i);
uint64_t swim_sim_boot_inc(const struct swim_sim *c, int i);

/* The node an id names, or -1. */
int swim_sim_node_of(const struct swim_sim *c, const char *id);

/* Node i joins through node seed now. */
void swim_sim_join(struct swim_sim *c, int i, int seed);

/* Schedules node i to join through node seed at time t (one pending join per
 * node: a second call before the first one ran replaces its seed). */
void swim_sim_join_at(struct swim_sim *c, int i, int seed, uint64_t t);

/* Crashes node i (sim_crash) and frees its core; its row of the view is
 * cleared (a crashed node believes nothing). Its last incarnation is kept. */
void swim_sim_crash(struct swim_sim *c, int i);

/* The incarnation node i's core had when it last crashed or left, else 0. */
uint64_t swim_sim_last_inc(const struct swim_sim *c, int i);

/* Restarts crashed node i with a new core: same id and address, a new seed,
 * the given starting incarnation. It does not join by itself. */
void swim_sim_restart(struct swim_sim *c, int i, uint64_t incarnation);

/* Node i announces a graceful leave (swim_leave). Returns its result. */
int swim_sim_leave(struct swim_sim *c, int i);

/* True once node i has left and its leave message is out (swim_leave_done). */
bool swim_sim_leave_done(const struct swim_sim *c, int i);

/* True when node i called swim_sim_leave in its current life. */
bool swim_sim_leaving(const struct swim_sim *c, int i);

/* Hooks. */
void swim_sim_on_event(struct swim_sim *c, swim_sim_event_fn fn, void *data);
void swim_sim_set_dead_ok(struct swim_sim *c, swim_sim_dead_ok_fn fn, void *data);

/* Observer o's view of member m: enum swim_state or SWIM_SIM_UNKNOWN. */
uint8_t swim_sim_view(const struct swim_sim *c, int o, int m);
uint64_t swim_sim_view_inc(const struct swim_sim *c, int o, int m);

/* Observers other than m whose view of m is in `state` (enum swim_state). */
uint32_t swim_sim_views(const struct swim_sim *c, int m, uint8_t state);

/* The sum of swim_sim_views() over every member. */
uint64_t swim_sim_total_views(const struct swim_sim *c, uint8_t state);

/* Sets the member counts (self included) that make a node "settled", and
 * returns how many up nodes are settled now. A node's counts are taken from
 * its core after every call into it. */
uint32_t swim_sim_want(struct swim_sim *c, const struct swim_counts *want);

/* Up nodes whose counts equal the wanted ones. */
uint32_t swim_sim_settled(const struct swim_sim *c);

/* Up nodes. */
uint32_t swim_sim_up(const struct swim_sim *c);

/* sim_run_until_pred() predicate: every up node is settled. data: the swim_sim. */
bool swim_sim_all_settled(struct sim *sim, void *data);

/* The per-event invariant for sim_set_check(); data: the swim_sim. */
bool swim_sim_check(struct sim *sim, void *data);

/* A full sweep, O(N^2): every up node's member table agrees with the view
 * built from its events (same members, same states, incarnations at least
 * the viewed ones) and no core counted a drop that cannot happen on the
 * simulated network (decode errors, table full, out of memory). Fails the run
 * and returns false on the first disagreement. */
bool swim_sim_sweep(struct swim_sim *c);

/* Events of each type emitted by every core so far (index: enum swim_event_type). */
uint64_t swim_sim_events(const struct swim_sim *c, uint8_t type);

/* Adds every up core's swim_stats into out (zeroed first). */
void swim_sim_stats(const struct swim_sim *c, struct swim_stats *out);

/* What every core has handed to the network since swim_sim_new, lost or
 * not, crashed cores included: the core's plaintext, without the daemon's
 * AEAD envelope (45 bytes per datagram or frame) and IP/UDP/TCP headers. */
struct swim_sim_traffic {
	uint64_t udp_packets;  /* datagrams */
	uint64_t udp_bytes;    /* their bytes */
	uint64_t streams;      /* push-pull requests opened */
	uint64_t stream_bytes; /* push-pull request and reply bytes */
};
void swim_sim_traffic(const struct swim_sim *c, struct swim_sim_traffic *out);

/* The largest datagram any core has sent. */
size_t swim_sim_max_packet(const struct swim_sim *c);

#endif
