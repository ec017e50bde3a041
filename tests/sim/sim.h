/* sim: a deterministic discrete-event simulator that drives sans-I/O cores over a virtual network. */
#ifndef SWARMNODE_SIM_H
#define SWARMNODE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * One struct sim is one run: a virtual clock in milliseconds, a queue of events
 * ordered by (time, sequence number), N node slots and a virtual network between
 * them. Every random decision of the network is drawn from a PRNG seeded from the
 * run's seed, so the same seed and the same calls give a bit-identical run.
 *
 * The simulator knows nothing of the protocol it runs. Each node slot holds an
 * opaque pointer (usually an adapter struct that owns one core) and a table of
 * functions, struct sim_node_ops. The simulator calls deliver() when a message
 * arrives and tick() when the node's deadline is reached; after every call into a
 * node it asks next_deadline() again. The adapter hands the core's outgoing
 * messages to sim_send() from inside those calls. See tests/sim/README.md.
 *
 * Nodes are addressed by index, 0 .. sim_node_count() - 1. Errors of use (a bad
 * index, a datagram over the size limit, sending from a crashed node) fail the run
 * through sim_fail() rather than crash the process. Allocation failure aborts: this
 * is test code.
 */

/* No deadline: next_deadline() returns this when the node wants no tick. */
#define SIM_NEVER UINT64_MAX

/* The port every fake node address carries (SWIM's usual gossip port). */
#define SIM_PORT 7946

/* Room for "10.255.255.255:65535" and its NUL. */
#define SIM_ADDR_LEN 24

/* The longest text a trace line keeps; longer lines are cut. */
#define SIM_TRACE_WIDTH 240

/* Trace lines a new sim keeps (the ring's default capacity). */
#define SIM_TRACE_DEFAULT_LINES 4096

/* The largest datagram a new sim accepts (the largest UDP payload over IPv4). */
#define SIM_MAX_DATAGRAM 65507

/* The two kinds of traffic between nodes. */
enum sim_channel {
	/* UDP-like: each packet independently lost, duplicated, delayed with jitter
	 * (so packets overtake each other). */
	SIM_DATAGRAM = 0,
	/* TCP-like: a connection per pair of nodes, opened on the first send after a
	 * connect delay; in order, never lost or duplicated, but the connection breaks
	 * when the link is cut, the nodes are partitioned or either end crashes, and
	 * the sender is told of each message that will not arrive. */
	SIM_STREAM = 1,
};
#define SIM_CHANNELS 2

struct sim;

/* How the simulator calls into a node. node is the pointer given to
 * sim_add_node() or sim_restart(); buf is only valid during the call. Every
 * function may call sim_send(), sim_tracef() and sim_fail(). */
struct sim_node_ops {
	/* A message from node `from` arrived. Required. */
	void (*deliver)(void *node, struct sim *sim, uint64_t now, int from,
			const void *buf, size_t len, enum sim_channel ch);
	/* The deadline the node last reported has been reached (now >= it). May be
	 * NULL when next_deadline is NULL. */
	void (*tick)(void *node, struct sim *sim, uint64_t now);
	/* The absolute time at which the node next wants tick(), or SIM_NEVER. Asked
	 * after every call into the node; a time in the past means "now". NULL means
	 * the node never ticks. */
	uint64_t (*next_deadline)(void *node);
	/* A stream message this node sent to `to` will never arrive: the connection
	 * broke (or could not be made) before it was delivered. buf and len are the
	 * message as sent. Called in the order the messages were sent. May be NULL. */
	void (*stream_failed)(void *node, struct sim *sim, uint64_t now, int to,
			      const void *buf, size_t len);
	/* The stream connection between this node and `peer` broke. Called once per
	 * broken connection on each live end that knew of it (the opener always; the
	 * other end once the connect delay had passed), after the stream_failed calls
	 * for that connection. A graceful sim_stream_close() gives no call. May be
	 * NULL. */
	void (*stream_reset)(void *node, struct sim *sim, uint64_t now, int peer);
};

/* The properties of one directed link. */
struct sim_link {
	uint64_t latency_ms; /* base one-way delay */
	uint64_t jitter_ms;  /* extra delay drawn uniformly from 0 .. jitter_ms, per message */
	double loss;         /* probability that a datagram is lost, 0 .. 1 */
	double dup;          /* probability that a delivered datagram arrives twice, 0 .. 1 */
};

/* Traffic counters. For one node: sent, bytes_sent and the drops count the
 * messages it sent; delivered and bytes_delivered count what it received. */
struct sim_counters {
	uint64_t sent;              /* messages passed to sim_send() */
	uint64_t bytes_sent;        /* their payload bytes */
	uint64_t delivered;         /* messages handed to deliver(), duplicates included */
	uint64_t bytes_delivered;   /* their payload bytes */
	uint64_t duplicated;        /* extra datagram copies the network made */
	uint64_t dropped_loss;      /* datagrams lost to the loss probability */
	uint64_t dropped_partition; /* messages dropped because the ends were in different groups */
	uint64_t dropped_cut;       /* messages dropped on a cut link */
	uint64_t dropped_crash;     /* messages dropped because an end was or went down */
	uint64_t stream_failed;     /* stream messages reported through stream_failed (or lost with a crashed sender) */
	uint64_t connects;          /* stream connections opened (counted at the opener) */
};

/* ---- Lifecycle ---------------------------------------------------------- */

/* Creates an empty run with the given seed at time 0: no nodes, default link of
 * 1 ms latency, no jitter, no loss, no duplication. Free with sim_free(). */
struct sim *sim_new(uint64_t seed);

/* Frees the run and every queued message. Node pointers belong to the caller
 * and are not touched. */
void sim_free(struct sim *sim);

uint64_t sim_seed(const struct sim *sim);

/* The virtual time in milliseconds. */
uint64_t sim_now(const struct sim *sim);

/* ---- Nodes -------------------------------------------------------------- */

/* Adds a live node and returns its index (indices count up from 0). ops must
 * outlive the run. next_deadline() is asked at once. */
int sim_add_node(struct sim *sim, void *node, const struct sim_node_ops *ops);

int sim_node_count(const struct sim *sim);

/* The node pointer of slot i (still the last one after a crash). */
void *sim_node(const struct sim *sim, int i);

bool sim_node_up(const struct sim *sim, int i);

/* How many times node i has crashed: 0 for a node never crashed. */
uint32_t sim_node_epoch(const struct sim *sim, int i);

/* Crashes node i: its timer is cancelled, datagrams to and from it that are in
 * flight are dropped, its stream connections break (peers are told), and it is
 * not called again until sim_restart(). The node's memory stays the caller's:
 * the harness decides what state survives (what the core had made durable).
 * Crashing a node that is down does nothing. */
void sim_crash(struct sim *sim, int i);

/* Brings crashed node i back with a new node pointer (the harness has built a
 * fresh core, perhaps from the state that survived), same ops. Delivery and
 * ticking resume; next_deadline() is asked at once. */
void sim_restart(struct sim *sim, int i, void *node);

/* Asks node i for its deadline again. Call it after the harness has called into
 * a core directly (a client request, a local command). */
void sim_wake(struct sim *sim, int i);

/* A seed for node i's own random source, derived from the run's seed, the index
 * and the node's epoch (so a restarted node draws differently). */
uint64_t sim_node_seed(const struct sim *sim, int i);

/* ---- Sending ------------------------------------------------------------ */

/* Sends len bytes (copied) from node `from` to node `to` on channel ch. Datagrams
 * may be lost, duplicated or reordered; stream messages arrive in order or are
 * reported through the sender's stream_failed(). Sending a datagram to oneself is
 * allowed; a stream to oneself fails the run. */
void sim_send(struct sim *sim, int from, int to, enum sim_channel ch,
	      const void *buf, size_t len);

/* Closes the stream connection between a and b gracefully: messages already sent
 * are still delivered, nobody is told, and the next stream send between them
 * opens a new connection (with a new connect delay). No-op without one. */
void sim_stream_close(struct sim *sim, int a, int b);

/* True while a stream connection between a and b is open. */
bool sim_stream_open(const struct sim *sim, int a, int b);

/* ---- The virtual network -------------------------------------------------- */

/* The link every pair of nodes has unless overridden. Its loss and dup are the
 * global probabilities: they apply to every link, overridden or not. */
void sim_set_default_link(struct sim *sim, const struct sim_link *link);
struct sim_link sim_default_link(const struct sim *sim);

/* Shorthands for the default link's loss and duplication probabilities. */
void sim_set_loss(struct sim *sim, double loss);
void sim_set_dup(struct sim *sim, double dup);

/* Overrides the directed link from -> to: its latency and jitter replace the
 * default ones; its loss and dup apply on top of the global ones, independently
 * (a datagram survives with probability (1 - global) * (1 - link)). */
void sim_set_link(struct sim *sim, int from, int to, const struct sim_link *link);

/* Removes the override of from -> to. */
void sim_clear_link(struct sim *sim, int from, int to);

/* The effective properties of from -> to, global loss and dup combined in. */
struct sim_link sim_link_of(const struct sim *sim, int from, int to);

/* Cuts the directed link from -> to: everything sent on it, and everything in
 * flight on it, is dropped; a stream connection between the two breaks (TCP
 * needs both directions). sim_uncut() restores it. */
void sim_cut(struct sim *sim, int from, int to);
void sim_uncut(struct sim *sim, int from, int to);
bool sim_is_cut(const struct sim *sim, int from, int to);

/* Partitions: each node belongs to a group (0 for all at first); traffic between
 * different groups is dropped, in flight too, and stream connections across
 * groups break. sim_partition() assigns groups[i] to node i for i < n (nodes from
 * n on go to group 0) in one atomic change; sim_set_group() moves one node;
 * sim_heal() puts every node back in group 0. */
void sim_partition(struct sim *sim, const int *groups, int n);
void sim_set_group(struct sim *sim, int node, int group);
void sim_heal(struct sim *sim);
int sim_group(const struct sim *sim, int node);

/* Stream timing. The connect delay is the link's round trip (latency both ways)
 * plus connect_extra_ms; messages sent while connecting wait for it. A sender
 * learns of a broken connection (stream_failed, stream_reset) fail_ms after the
 * break. Defaults: 0 and 200. */
void sim_set_stream_timing(struct sim *sim, uint64_t connect_extra_ms, uint64_t fail_ms);

/* Datagrams longer than this fail the run (a core that overflows its packet
 * budget is a bug). Default SIM_MAX_DATAGRAM. */
void sim_set_max_datagram(struct sim *sim, size_t max);

/* ---- Fake addresses ------------------------------------------------------- */

/* Node i is 10.a.b.c with a.b.c = i + 1 as a 24-bit number, port SIM_PORT, so
 * node 0 is 10.0.0.1:7946. Adapters use these where a core wants addresses. */
uint32_t sim_node_ip(int node);      /* the IPv4 address in host byte order */
int sim_ip_node(uint32_t ip);        /* the node of an address, or -1 */
void sim_node_addr(int node, char out[SIM_ADDR_LEN]); /* "10.0.0.1:7946" */
int sim_addr_node(const char *addr); /* parses "10.a.b.c" or "10.a.b.c:7946"; -1 if not a node's */

/* ---- Randomness ----------------------------------------------------------- */

/* xoshiro256**, seeded through splitmix64. Plain data: copy it to fork a stream. */
struct sim_rng {
	uint64_t s[4]; /* the generator state; never all zero */
};

void sim_rng_seed(struct sim_rng *rng, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *rng);
/* Uniform in 0 .. n - 1 without modulo bias; n must be > 0. */
uint64_t sim_rng_below(struct sim_rng *rng, uint64_t n);
/* Uniform in [0, 1). */
double sim_rng_double(struct sim_rng *rng);

/* The harness's own random stream, seeded from the run's seed and separate from
 * the network's, so a scenario drawing more numbers does not change which packets
 * are lost. */
uint64_t sim_rand(struct sim *sim);
uint64_t sim_rand_below(struct sim *sim, uint64_t n);
double sim_rand_double(struct sim *sim);

/* ---- Running -------------------------------------------------------------- */

/* Processes the next event (time jumps to it). False when nothing is queued or the
 * run has failed; sim_failed() tells which. */
bool sim_step(struct sim *sim);

/* Processes every event up to and including time t, then sets the clock to t
 * (if it is behind). False if the run failed. */
bool sim_run_until(struct sim *sim, uint64_t t);

/* sim_run_until(sim, sim_now(sim) + ms). */
bool sim_run_for(struct sim *sim, uint64_t ms);

/* Runs until pred(sim, data) is true (it is checked first, then after every
 * event; keep it cheap) or until the next event lies after `deadline`, in which
 * case the clock is set to deadline. True only if pred became true; false on
 * timeout or failure (sim_failed() tells which). */
bool sim_run_until_pred(struct sim *sim, bool (*pred)(struct sim *sim, void *data),
			void *data, uint64_t deadline);

/* Calls fn(sim, data) at time t (now, if t is past), ordered with the other events
 * of that time by when it was scheduled. For scripting a scenario: crash node 3 at
 * 10 s, heal at 70 s. */
void sim_at(struct sim *sim, uint64_t t, void (*fn)(struct sim *sim, void *data), void *data);

/* Events processed so far, and events queued now. */
uint64_t sim_events(const struct sim *sim);
size_t sim_pending(const struct sim *sim);

/* The node the event being (or last) processed was for, -1 for none. Lets an
 * invariant check look only at the node that changed. */
int sim_current_node(const struct sim *sim);

/* More than `limit` events in a row at one virtual time fails the run ("time
 * stalled"), catching a node whose deadline never moves or a zero-latency storm.
 * Default 1,000,000; 0 turns the check off. */
void sim_set_stall_limit(struct sim *sim, uint64_t limit);

/* ---- Invariants and failure --------------------------------------------------- */

/* Installs fn, called after every event. It returns false (after calling
 * sim_fail() with the details, or not) to stop the run. NULL removes it. */
void sim_set_check(struct sim *sim, bool (*fn)(struct sim *sim, void *data), void *data);

/* Fails the run: the first failure is kept, as "seed S t=T node=N: message";
 * sim_step() and the run functions stop. node is -1 when no node is to blame. */
void sim_fail(struct sim *sim, int node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

bool sim_failed(const struct sim *sim);

/* The failure message with seed, time and node, or NULL if the run has not failed. */
const char *sim_failure(const struct sim *sim);

/* Prints "seed S: FAIL t=T node=N: message" to out, then the trace if with_trace,
 * when the run has failed; prints nothing otherwise. */
void sim_report(const struct sim *sim, FILE *out, bool with_trace);

/* ---- Trace ------------------------------------------------------------------ */

/* Appends a line for node (-1: the simulator itself) at the current time to the
 * trace ring. The oldest lines are dropped once the ring is full. */
void sim_tracef(struct sim *sim, int node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets how many lines the ring keeps (the current lines are discarded); 0 keeps
 * none. Default SIM_TRACE_DEFAULT_LINES. */
void sim_set_trace_capacity(struct sim *sim, size_t lines);

/* Also prints every trace line to out as it is written (--verbose); NULL stops. */
void sim_set_trace_echo(struct sim *sim, FILE *out);

/* Also traces the network's own decisions: every dropped or duplicated message,
 * every stream connect. Off by default (crashes, partitions, cuts and broken
 * connections are always traced). */
void sim_set_trace_net(struct sim *sim, bool on);

/* Lines in the ring, and line i of them (0 is the oldest kept); time and node
 * may be NULL. */
size_t sim_trace_count(const struct sim *sim);
const char *sim_trace_line(const struct sim *sim, size_t i, uint64_t *time, int *node);

/* Lines written in the whole run, including those the ring has dropped. */
uint64_t sim_trace_total(const struct sim *sim);

/* Prints the ring, oldest first, one "     12345 ms  n3    text" line each. */
void sim_trace_dump(const struct sim *sim, FILE *out);

/* A running 64-bit hash of every event handed to a node: its kind, time, node,
 * peer, channel and bytes. Equal for runs that behaved identically. */
uint64_t sim_trace_hash(const struct sim *sim);

/* ---- Counters --------------------------------------------------------------- */

/* Counters for one node (-1: the whole network) and one channel (-1: both). */
struct sim_counters sim_counters(const struct sim *sim, int node, int ch);

/* ---- Runner for scenario executables ------------------------------------------ */

/* A scenario runs one seed: it builds its nodes in the fresh sim it is given,
 * runs, checks, and frees its nodes before returning (the runner frees the sim).
 * It fails through sim_fail(). */
struct sim_scenario {
	const char *name;                          /* for --only and the summary */
	void (*run)(struct sim *sim, void *data);  /* one seed */
	void *data;                                /* passed to run */
	uint64_t seeds;                            /* seeds the test command runs (0: 100) */
};

/* Options of a scenario executable, as sim_runner_parse() fills them. */
struct sim_runner_opts {
	uint64_t first;     /* first seed (--first S, or S of --seed S); default 1 */
	uint64_t seeds;     /* seeds per scenario (--seeds N, else $SIM_SEEDS); 0: each scenario's own */
	bool one;           /* --seed S: run that seed only */
	bool verbose;       /* --verbose: echo every trace line as it is written */
	const char *only;   /* --only NAME: run that scenario only */
	size_t max_dumps;   /* failures per scenario whose trace is printed (default 3) */
};

/* Parses argv: --seeds N, --seed S, --first S, --only NAME, --verbose (-v),
 * --help (-h). Reads $SIM_SEEDS when --seeds is absent. Returns 0 to run, 1 when
 * help was printed, -1 on a usage error (printed to err). */
int sim_runner_parse(int argc, char **argv, struct sim_runner_opts *opts, FILE *err);

/* Runs every selected scenario over its seeds. Prints "seed S: FAIL ..." with the
 * trace and a line to reproduce it for each failure, and a summary line per
 * scenario, to out. Returns the number of failed runs. */
uint64_t sim_runner_run(const struct sim_runner_opts *opts, const struct sim_scenario *scenarios,
			size_t count, const char *prog, FILE *out);

/* main() of a scenario executable: parse, run, print to stdout. Returns 0 when
 * every seed passed, 1 on a failure, 2 on a usage error. */
int sim_main(int argc, char **argv, const struct sim_scenario *scenarios, size_t count);

#endif
