/* raft: the Raft consensus algorithm as a deterministic state machine without I/O, driven by raft_step(). */
#ifndef SWARMNODE_RAFT_H
#define SWARMNODE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarmnode/ids.h"

/*
 * How a host drives a raft core (the libuv shell, the simulator, the tests):
 *
 *   load hard state, snapshot and log from disk (or raft_bootstrap() for `init`)
 *   raft_new(cfg, boot, now)
 *   loop:
 *     raft_step(r, event, &update)     one event: a tick, a received message,
 *                                      a proposal, a persistence acknowledgement,
 *                                      a snapshot taken, a membership change,
 *                                      a leadership transfer, a read request
 *     act on the update, in this order (see "Persistence contract" below):
 *       start the write in update.persist (if persist.seq != 0)
 *       send update.messages
 *       restore update.restore, apply update.committed, answer update.reads
 *       sleep until update.deadline (then step a RAFT_EV_TICK)
 *     when a write is durable: raft_step(RAFT_EV_PERSISTED, seq)
 *   raft_free
 *
 * Time is monotonic milliseconds chosen by the host (an event whose now is
 * behind the last one counts as the last one). The core never reads a clock,
 * never calls rand() and never touches a socket or a file; its randomness
 * (election timeouts) comes from a PRNG seeded with cfg.seed. Given the same
 * seed and the same events, it produces the same updates.
 *
 * Node ids. Inside Raft a node is a raft_id, a non-zero 64-bit integer the host
 * chooses once per manager and never reuses (swarmkit's RaftID: the leader draws
 * a random one when it adds the member). Messages carry only these integers.
 * Every member of a configuration also carries its swarmnode node id (the
 * 25-character id of include/swarmnode/ids.h, or "" in tests), so the mapping
 * from raft ids to nodes is replicated with the configuration itself, in the log
 * and in snapshots: a host looks up whom to connect to in raft_configuration().
 *
 * Persistence contract
 * --------------------
 * An update whose persist.seq is non-zero carries one write. Writes are numbered
 * 1, 2, 3, ... in the order they are issued. The host makes them durable in
 * that order, each one whole, and reports the highest seq whose write (and so
 * every earlier one) is durable with RAFT_EV_PERSISTED. It may report after each
 * write or once for several. A write holds, applied in this order:
 *
 *   1. persist.hard_state, when persist.hard_state_changed: the current term and
 *      the vote in it. It must be on disk no later than the rest of the write.
 *   2. persist.snapshot, when non-NULL: a snapshot received from the leader.
 *      It replaces the whole log: the host stores the snapshot (metadata and
 *      data) and deletes every log entry it holds.
 *   3. persist.entries (persist.n_entries of them, consecutive indexes): the
 *      host deletes every stored entry whose index is >= entries[0].index, then
 *      appends these.
 *
 * A write whose three parts are empty (a seq alone) still needs its
 * acknowledgement. After a crash the core is rebuilt (raft_new) from exactly
 * what is on disk: any prefix of the issued writes may have survived, but never
 * a later write without an earlier one, and never part of an entry. Entries
 * at or below the snapshot's index are ignored then (the host may delete them
 * at any time, and may hold them with gaps); the entries after it must follow
 * it without a gap.
 *
 * Messages. Every message in update.messages may be sent at once, before, while
 * or after the write of the same update becomes durable, in any order, over any
 * channel; messages may be lost, duplicated or reordered. The core itself holds
 * back every message whose meaning depends on durable state and releases it in
 * the update of the RAFT_EV_PERSISTED that covers the write it depends on:
 *   - a granted vote (RAFT_MSG_VOTE_RESP, not pre-vote): after the term and vote;
 *   - an append acknowledgement (RAFT_MSG_APPEND_RESP without reject): it names
 *     only an index up to which the entries are durable;
 *   - a snapshot installed acknowledgement (RAFT_MSG_SNAPSHOT_RESP with done):
 *     after the snapshot.
 * A held message whose term is no longer the current term when its write
 * becomes durable is dropped. Likewise a candidate counts its own vote, and a
 * leader counts its own log for commitment, only once persisted; a leader
 * sends entries to followers before its own copy is durable (Raft thesis
 * §10.2.1). Why the core holds these back instead of asking the host to persist
 * before sending (etcd's Ready contract): a host cannot get the order wrong,
 * unrelated messages (heartbeats, appends of a leader) never wait for a disk, and
 * a follower acknowledges exactly what is durable.
 *
 * Applying. update.restore (a snapshot to load into the state machine,
 * replacing it), then update.committed in order, then update.reads, each read
 * served from the state after those entries. These are committed: applying them
 * does not wait for the write of the same update. Pointers in an update stay
 * valid until the next raft_step() or raft_free(); copy what you keep.
 *
 * Snapshots and compaction. The host takes a snapshot of its state machine at an
 * applied index, makes it durable with the metadata raft_snapshot_meta_at()
 * gives for that index, then steps RAFT_EV_SNAPSHOT with the index
 * and the bytes (copied: the core keeps the latest snapshot to send to lagging
 * followers in chunks). The core drops the log up to index - trailing and sets
 * update.compacted: the host may then delete its entries up to that index.
 */

/* Nobody: no vote, no known leader. */
#define RAFT_NONE 0

/* Most members (voters and learners) of one configuration. */
#define RAFT_MAX_MEMBERS 32

/* A raft id: non-zero, chosen by the host, never reused. */
typedef uint64_t raft_id;

/* Error codes, all negative; raft_strerror names them. */
#define RAFT_ERRNO_MAP(X)                                                                   \
	X(NOMEM, -1, "out of memory")                                                       \
	X(INVALID, -2, "invalid argument")                                                  \
	X(NOT_LEADER, -3, "this node is not the leader")                                    \
	X(NO_LEADER, -4, "no leader is known")                                              \
	X(BUSY, -5, "a leadership transfer or membership change is already in progress")   \
	X(CORRUPT, -6, "persisted raft state is inconsistent")                              \
	X(NOT_FOUND, -7, "no such member")                                                  \
	X(EXISTS, -8, "the member already exists")                                          \
	X(TOO_BIG, -9, "entry larger than the configured maximum")                          \
	X(TIMEDOUT, -10, "the request timed out")                                           \
	X(LEADERSHIP_LOST, -11, "leadership changed before the request completed")          \
	X(STALE, -12, "the message is stale or not addressed to this node")                 \
	X(NOT_CAUGHT_UP, -13, "the learner did not catch up with the leader's log")         \
	X(FULL, -14, "the configuration has no room for another member")                    \
	X(LAST_VOTER, -15, "the change would leave the cluster without a voter")             \
	X(MALFORMED, -16, "malformed raft message or record")

enum raft_err {
	RAFT_OK = 0,
#define RAFT_ERR_ENUM(name, val, msg) RAFT_E_##name = (val),
	RAFT_ERRNO_MAP(RAFT_ERR_ENUM)
#undef RAFT_ERR_ENUM
};

/* The message of a RAFT_* code ("unknown error" for anything else). */
const char *raft_strerror(int err);

/* ---- Configuration (membership) ------------------------------------------ */

/* A member's role in a configuration. */
enum raft_member_role {
	RAFT_VOTER = 1,   /* votes and counts for commitment */
	RAFT_LEARNER = 2, /* receives the log, never votes or campaigns */
};

/* One member of a configuration. */
struct raft_member {
	raft_id id;                 /* non-zero raft id */
	uint8_t role;               /* enum raft_member_role */
	char node_id[IDS_LEN + 1];  /* swarmnode node id, or "" */
};

/* A configuration: the set of members, in no particular order. */
struct raft_configuration {
	uint32_t n;                                     /* members[0..n) are used */
	struct raft_member members[RAFT_MAX_MEMBERS];   /* distinct ids */
};

/* The member with this id, or NULL. */
const struct raft_member *raft_configuration_find(const struct raft_configuration *c, raft_id id);

/* Voters in c. */
uint32_t raft_configuration_voters(const struct raft_configuration *c);

/* ---- Log entries, hard state, snapshots ------------------------------------ */

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1, /* a client command (opaque bytes) */
	RAFT_ENTRY_CONFIG = 2, /* a new configuration (raft_configuration_encode bytes) */
	RAFT_ENTRY_NOOP = 3,   /* appended by a new leader; nothing to apply */
};

/* A log entry. data is owned by whoever produced the struct (the core for
 * entries in an update; the host for entries it passes in). */
struct raft_entry {
	uint64_t term;        /* term in which a leader created it, >= 1 */
	uint64_t index;       /* position in the log, >= 1 */
	uint8_t type;         /* enum raft_entry_type */
	const uint8_t *data;  /* payload; NULL when len is 0 */
	size_t len;           /* bytes at data */
};

/* What must survive a restart besides the log. */
struct raft_hard_state {
	uint64_t term;  /* the current term */
	raft_id vote;   /* whom we voted for in term, or RAFT_NONE */
};

/* What a snapshot stands for. */
struct raft_snapshot_meta {
	uint64_t index;                  /* last log index the snapshot covers (0: no snapshot) */
	uint64_t term;                   /* term of that entry */
	struct raft_configuration conf;  /* the configuration as of index */
};

/* ---- Messages ---------------------------------------------------------------- */

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,          /* leader -> follower: entries after (prev_index, prev_term) */
	RAFT_MSG_APPEND_RESP = 2,     /* follower -> leader: match index, or a rejection with a hint */
	RAFT_MSG_VOTE = 3,            /* candidate -> all: vote (or pre-vote) request */
	RAFT_MSG_VOTE_RESP = 4,       /* the answer */
	RAFT_MSG_SNAPSHOT = 5,        /* leader -> follower: one chunk of InstallSnapshot */
	RAFT_MSG_SNAPSHOT_RESP = 6,   /* follower -> leader: next offset wanted, or installed */
	RAFT_MSG_HEARTBEAT = 7,       /* leader -> all: I am leader; commit; ReadIndex round */
	RAFT_MSG_HEARTBEAT_RESP = 8,  /* the answer, echoing the ReadIndex round */
	RAFT_MSG_TIMEOUT_NOW = 9,     /* leader -> transferee: campaign now (leadership transfer) */
	RAFT_MSG_READ_INDEX = 10,     /* follower -> leader: a forwarded ReadIndex request */
	RAFT_MSG_READ_INDEX_RESP = 11,/* leader -> follower: the read index, or a refusal */
};
#define RAFT_MSG_TYPE_MAX 11

/* The name of a message type ("unknown" otherwise). */
const char *raft_msg_type_str(uint8_t type);

struct raft_msg_append {
	uint64_t prev_index;              /* index of the entry before entries[0] */
	uint64_t prev_term;               /* its term */
	uint64_t commit;                  /* leader's commit index */
	uint32_t n_entries;               /* entries that follow prev_index */
	const struct raft_entry *entries; /* entries[i].index == prev_index + 1 + i */
};

struct raft_msg_append_resp {
	bool reject;         /* prev_index/prev_term did not match */
	uint64_t index;      /* accepted: entries up to here are durable and match;
			      * rejected: the prev_index that did not match */
	uint64_t hint_index; /* rejected: the follower's guess of the last match ... */
	uint64_t hint_term;  /* ... and the term it has there (fast back-off) */
};

struct raft_msg_vote {
	uint64_t last_index; /* candidate's last log index */
	uint64_t last_term;  /* and its term */
	bool pre_vote;       /* a pre-vote: would you vote for me at this term? */
	bool transfer;       /* caused by leadership transfer: ignore the leader lease */
};

struct raft_msg_vote_resp {
	bool granted;   /* vote given */
	bool pre_vote;  /* answers a pre-vote */
};

struct raft_msg_snapshot {
	const struct raft_snapshot_meta *meta; /* index, term, configuration */
	uint64_t total;                        /* size of the whole snapshot in bytes */
	uint64_t offset;                       /* where this chunk starts */
	const uint8_t *data;                   /* chunk bytes */
	size_t len;                            /* chunk length */
	bool done;                             /* the last chunk */
};

struct raft_msg_snapshot_resp {
	uint64_t index;   /* the snapshot's index this answers */
	uint64_t offset;  /* next offset wanted (bytes received in order so far) */
	bool done;        /* installed and durable, or already covered by the log */
	bool reject;      /* this snapshot is being dropped: start again at offset */
};

struct raft_msg_heartbeat {
	uint64_t commit;   /* min(leader's commit, follower's match) */
	uint64_t read_seq; /* ReadIndex round to acknowledge (0: none) */
};

struct raft_msg_heartbeat_resp {
	uint64_t read_seq; /* the round acknowledged */
};

struct raft_msg_read_index {
	uint64_t req_id; /* the follower's request id, echoed back */
};

struct raft_msg_read_index_resp {
	uint64_t req_id; /* as sent */
	uint64_t index;  /* read index (0 with a refusal) */
	bool reject;     /* the receiver was not (or no longer) leader */
};

/* One message. from and to are raft ids; the host checks that from is the
 * authenticated peer before stepping it. */
struct raft_message {
	uint8_t type;     /* enum raft_msg_type */
	uint64_t term;    /* sender's term (for VOTE with pre_vote: the term it would take) */
	raft_id from;     /* sender */
	raft_id to;       /* receiver */
	union {
		struct raft_msg_append append;
		struct raft_msg_append_resp append_resp;
		struct raft_msg_vote vote;
		struct raft_msg_vote_resp vote_resp;
		struct raft_msg_snapshot snapshot;
		struct raft_msg_snapshot_resp snapshot_resp;
		struct raft_msg_heartbeat heartbeat;
		struct raft_msg_heartbeat_resp heartbeat_resp;
		struct raft_msg_read_index read_index;
		struct raft_msg_read_index_resp read_index_resp;
	}; /* by type; TIMEOUT_NOW has no body */
};

/* ---- The core ----------------------------------------------------------------- */

struct raft;

/* An allocator for the core (tests make allocations fail one by one). NULL
 * functions mean malloc/realloc/free. */
struct raft_heap {
	void *data;                                           /* passed to each function */
	void *(*malloc)(void *data, size_t size);             /* like malloc */
	void *(*realloc)(void *data, void *ptr, size_t size); /* like realloc */
	void (*free)(void *data, void *ptr);                  /* like free */
};

/* Configuration. raft_config_default() fills the defaults; the host sets id and
 * seed. All nodes of a cluster should use the same timing. */
struct raft_config {
	raft_id id;                        /* this node's raft id, non-zero */
	uint64_t seed;                     /* seeds the PRNG of election timeouts */
	uint32_t election_timeout_ms;      /* base election timeout T, default 1000; each
					    * follower waits a random time in [T, 2T) */
	uint32_t heartbeat_interval_ms;    /* leader heartbeats, default 100; < T */
	uint32_t max_inflight;             /* append messages in flight per follower, default 64 */
	size_t max_append_bytes;           /* entry bytes per append message, default 1 MiB
					    * (one larger entry still goes alone) */
	size_t max_entry_bytes;            /* largest proposal, default 1 MiB */
	size_t snapshot_chunk_bytes;       /* InstallSnapshot chunk size, default 512 KiB */
	uint32_t snapshot_window;          /* snapshot chunks in flight, default 4 */
	uint64_t max_snapshot_bytes;       /* largest snapshot accepted, default 1 GiB */
	uint32_t max_catchup_rounds;       /* learner catch-up rounds before a promotion
					    * fails, default 10 */
	uint32_t max_pending_reads;        /* ReadIndex requests waiting, default 4096 */
	bool pre_vote;                     /* pre-vote before elections, default true */
	bool check_quorum;                 /* leader steps down without a quorum, and the
					    * leader lease guards votes; default true */
	const struct raft_heap *heap;      /* allocator, NULL for libc (must outlive the core) */
	/* Trace sink: one line per decision ("term 3 > 2, stepping down"), or NULL.
	 * line is valid during the call only. */
	void (*trace)(void *data, uint64_t now, const char *line);
	void *trace_data;                  /* passed to trace */
};

/* Fills cfg with the defaults above; id, seed and trace are zero. */
void raft_config_default(struct raft_config *cfg);

/* Checks cfg. Returns 0, or RAFT_E_INVALID with "field: reason" in err (len
 * bytes, may be NULL). */
int raft_config_check(const struct raft_config *cfg, char *err, size_t len);

/* What the host read from disk. Everything is copied by raft_new. */
struct raft_boot {
	struct raft_hard_state hs;               /* term and vote ({0, 0} when new) */
	const struct raft_snapshot_meta *snap;   /* the latest snapshot, or NULL */
	const uint8_t *snap_data;                /* its bytes */
	size_t snap_len;                         /* their length */
	const struct raft_entry *entries;        /* the log after the snapshot, consecutive */
	size_t n_entries;                        /* how many */
};

/* The first record of a new cluster (`init`): fills *hs and *entry (the
 * configuration conf as entry 1 of term 1, its encoding written into buf of cap
 * bytes) for the host to write to disk; then raft_new() with them as boot state.
 * Every node that bootstraps the same cluster must use the same conf. Returns 0,
 * RAFT_E_INVALID (conf has no voter, a zero or repeated id, a bad node id) or
 * RAFT_E_TOO_BIG (cap too small). */
int raft_bootstrap(const struct raft_configuration *conf, struct raft_hard_state *hs,
		   struct raft_entry *entry, uint8_t *buf, size_t cap);

/* Creates a core from its persisted state at time now. A node with no
 * configuration anywhere in its log or snapshot (a new manager waiting to be
 * added) stays a follower and never campaigns until the leader's log reaches
 * it. Returns 0 and *out (free with raft_free), RAFT_E_INVALID (bad cfg),
 * RAFT_E_CORRUPT (non-consecutive entries, terms going down, a term above the
 * hard state's, an undecodable configuration entry; err says which), or
 * RAFT_E_NOMEM. */
int raft_new(const struct raft_config *cfg, const struct raft_boot *boot, uint64_t now,
	     struct raft **out, char *err, size_t errlen);

/* Releases r and every output. NULL is accepted. */
void raft_free(struct raft *r);

/* ---- Events (inputs) ---------------------------------------------------------- */

enum raft_event_type {
	RAFT_EV_TICK = 1,      /* time passed: do what is due at now */
	RAFT_EV_RECEIVE = 2,   /* a message arrived */
	RAFT_EV_PROPOSE = 3,   /* the leader appends client commands */
	RAFT_EV_PERSISTED = 4, /* the writes up to seq are durable */
	RAFT_EV_SNAPSHOT = 5,  /* the host took a durable snapshot at index */
	RAFT_EV_CHANGE = 6,    /* a membership change, on the leader */
	RAFT_EV_TRANSFER = 7,  /* hand leadership to another voter */
	RAFT_EV_READ = 8,      /* a linearizable read (ReadIndex) */
	RAFT_EV_UNREACHABLE = 9, /* messages to peer were lost (the stream broke) */
};

/* Kinds of membership change. */
enum raft_change_kind {
	RAFT_CHANGE_ADD_LEARNER = 1, /* add a new member as a learner */
	RAFT_CHANGE_PROMOTE = 2,     /* make a learner a voter once it has caught up */
	RAFT_CHANGE_DEMOTE = 3,      /* make a voter a learner */
	RAFT_CHANGE_REMOVE = 4,      /* remove a member */
};

/* A client command to propose. */
struct raft_buf {
	const uint8_t *data; /* bytes (copied) */
	size_t len;          /* at most cfg.max_entry_bytes */
};

struct raft_event {
	uint8_t type;  /* enum raft_event_type */
	uint64_t now;  /* monotonic milliseconds */
	union {
		struct {
			const struct raft_message *msg; /* decoded message (raft_codec.h) */
		} receive;
		struct {
			const struct raft_buf *bufs; /* commands, appended in order */
			uint32_t n;                  /* how many, >= 1 */
		} propose;
		struct {
			uint64_t seq; /* every write with seq <= this is durable */
		} persisted;
		struct {
			uint64_t index;      /* applied index the snapshot stands for */
			const uint8_t *data; /* its bytes (copied) */
			size_t len;          /* their length */
			uint64_t trailing;   /* entries to keep before index for slow followers */
		} snapshot;
		struct {
			uint8_t kind;            /* enum raft_change_kind */
			raft_id id;              /* the member */
			const char *node_id;     /* ADD_LEARNER: its swarmnode id, or NULL */
		} change;
		struct {
			raft_id to; /* target voter, or RAFT_NONE for the most up-to-date one */
		} transfer;
		struct {
			uint64_t req_id; /* host's id for the request, echoed in the result */
		} read;
		struct {
			raft_id peer; /* the peer whose messages were lost */
		} unreachable;
	};
};

/* ---- Updates (outputs) --------------------------------------------------------- */

/* The roles of a node. */
enum raft_role {
	RAFT_FOLLOWER = 0,
	RAFT_PRE_CANDIDATE = 1, /* asking for pre-votes, term unchanged */
	RAFT_CANDIDATE = 2,
	RAFT_LEADER = 3,
};

/* The name of a role. */
const char *raft_role_str(uint8_t role);

/* The outcome of a ReadIndex request: when status is 0, serve the read from the
 * state machine once the entries of this update are applied (index is then
 * applied); otherwise the read failed (RAFT_E_NO_LEADER, RAFT_E_LEADERSHIP_LOST,
 * RAFT_E_TIMEDOUT, RAFT_E_BUSY for too many waiting reads, RAFT_E_NOMEM) and
 * may be retried. */
struct raft_read_result {
	uint64_t req_id;  /* the request */
	uint64_t index;   /* the read index */
	int status;       /* 0 or a RAFT_E_* code */
};

/* Things a host may want to log or act on, besides role changes. */
enum raft_note_kind {
	RAFT_NOTE_PROMOTING = 1,       /* a promotion's catch-up finished; its config entry is at index */
	RAFT_NOTE_PROMOTE_FAILED = 2,  /* the learner id did not catch up (status NOT_CAUGHT_UP) or
					* leadership was lost (LEADERSHIP_LOST) */
	RAFT_NOTE_TRANSFER_FAILED = 3, /* the transfer to id did not happen within an election timeout */
	RAFT_NOTE_QUORUM_LOST = 4,     /* the leader heard from no quorum and stepped down */
};

struct raft_note {
	uint8_t kind;    /* enum raft_note_kind */
	raft_id id;      /* the member concerned */
	uint64_t index;  /* PROMOTING: the config entry's index */
	int status;      /* a RAFT_E_* code for failures */
};

/* Flags of update.changed. */
#define RAFT_UPDATE_ROLE 0x1u    /* role changed */
#define RAFT_UPDATE_LEADER 0x2u  /* the known leader changed */
#define RAFT_UPDATE_TERM 0x4u    /* term changed */
#define RAFT_UPDATE_CONFIG 0x8u  /* the latest configuration changed (appended, truncated, restored) */

/* Everything one raft_step() produced. Filled completely by every call. */
struct raft_update {
	struct {
		uint64_t seq;                   /* 0: nothing to write; else write number seq */
		bool hard_state_changed;        /* hard_state must be written */
		struct raft_hard_state hard_state;
		const struct raft_snapshot_meta *snapshot; /* a received snapshot to store, or NULL */
		const uint8_t *snapshot_data;   /* its bytes */
		size_t snapshot_len;
		const struct raft_entry *entries; /* entries to store (replacing index >= entries[0].index) */
		size_t n_entries;
	} persist;
	uint64_t compacted;                 /* the host may delete entries with index <= this (0: none) */

	const struct raft_message *messages; /* to send, each to messages[i].to */
	size_t n_messages;

	const struct raft_snapshot_meta *restore; /* load this snapshot into the state machine first */
	const uint8_t *restore_data;
	size_t restore_len;
	const struct raft_entry *committed; /* then apply these, in order */
	size_t n_committed;
	const struct raft_read_result *reads; /* then answer these */
	size_t n_reads;
	const struct raft_note *notes;      /* events to log or act on */
	size_t n_notes;

	uint64_t proposed_index;  /* PROPOSE: index of the first appended command (0 on error) */
	uint64_t proposed_term;   /* and the term: it committed iff the applied entry at that
				   * index has this term */
	uint32_t changed;         /* RAFT_UPDATE_* flags */
	uint8_t role;             /* current role */
	uint64_t term;            /* current term */
	raft_id leader;           /* known leader, or RAFT_NONE */
	uint64_t commit;          /* commit index */
	uint64_t deadline;        /* step a RAFT_EV_TICK at this time (UINT64_MAX: never) */
};

/*
 * Handles one event and fills *up. Returns 0, or a negative code with the event
 * refused (the update is still filled and must be acted on: other outputs may be
 * pending):
 *   RECEIVE:     RAFT_E_STALE (not for us / from ourselves), RAFT_E_INVALID
 *                (unknown type, inconsistent fields), RAFT_E_NOMEM (dropped)
 *   PROPOSE:     RAFT_E_NOT_LEADER, RAFT_E_BUSY (leadership transfer), RAFT_E_TOO_BIG,
 *                RAFT_E_INVALID (n == 0), RAFT_E_NOMEM
 *   PERSISTED:   RAFT_E_INVALID (seq never issued)
 *   SNAPSHOT:    RAFT_E_INVALID (index beyond what was handed for applying, or
 *                not after the current snapshot), RAFT_E_NOMEM
 *   CHANGE:      RAFT_E_NOT_LEADER, RAFT_E_BUSY (a change not yet committed, or the
 *                leader has not committed an entry of its term), RAFT_E_NOT_FOUND,
 *                RAFT_E_EXISTS, RAFT_E_FULL, RAFT_E_LAST_VOTER, RAFT_E_INVALID
 *   TRANSFER:    RAFT_E_NOT_LEADER, RAFT_E_BUSY, RAFT_E_NOT_FOUND (not a voter)
 *   READ:        never fails here: failures come back as a raft_read_result
 * A membership change takes effect when its entry is appended. ADD_LEARNER,
 * DEMOTE and REMOVE append at once; PROMOTE first runs catch-up rounds (Raft
 * thesis §4.2.1) and appends when the learner is within one round of the
 * leader's log, then notes RAFT_NOTE_PROMOTING (or RAFT_NOTE_PROMOTE_FAILED).
 */
int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *up);

/* ---- Queries ---------------------------------------------------------------------- */

raft_id raft_self(const struct raft *r);
uint8_t raft_role(const struct raft *r);
uint64_t raft_term(const struct raft *r);
raft_id raft_leader(const struct raft *r);
uint64_t raft_commit_index(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
/* The term of entry index (the snapshot's term at its index), 0 if unknown. */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
/* The latest configuration (possibly not yet committed) and its index. */
const struct raft_configuration *raft_configuration(const struct raft *r, uint64_t *index);
/* The earliest time the core wants a RAFT_EV_TICK, or UINT64_MAX. */
uint64_t raft_deadline(const struct raft *r);

/* The metadata a host stores with a snapshot of its state machine taken at
 * index (an index already handed out for applying, after the compacted
 * boundary): the term of that entry and the configuration in effect there,
 * which may differ from the latest one. Returns 0 or RAFT_E_INVALID. */
int raft_snapshot_meta_at(const struct raft *r, uint64_t index, struct raft_snapshot_meta *out);

/* What a leader knows of one member (for `node ls` MANAGER STATUS). */
struct raft_peer_status {
	raft_id id;          /* member */
	uint8_t role;        /* enum raft_member_role */
	uint64_t match;      /* highest index known replicated there */
	uint64_t next;       /* next index to send */
	uint64_t last_heard; /* when the leader last heard from it (ms), 0 never */
	bool reachable;      /* heard from within an election timeout */
};

/* On a leader, fills out[0..n) with the status of each other member and returns
 * how many there are (at most cap are filled); 0 on other roles. */
size_t raft_peers(const struct raft *r, struct raft_peer_status *out, size_t cap);

#endif
