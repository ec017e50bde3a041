/* Unit tests for peer_auth: the authenticated peer stream, both sides, honest and attacked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>
#include <sodium.h>

#include "swarmnode/handshake.h"
#include "swarmnode/peer_auth.h"

#define NOW 1700000000000ull
#define DAY (24ull * 3600 * 1000)
#define CLUSTER_ID "1bcdqsiwk2ttt98dkhy0rhn6a"
#define OTHER_CLUSTER "9zzzqsiwk2ttt98dkhy0rhn6a"
#define MGR_ID "m0000000000000000000000a1"
#define WRK_ID "w0000000000000000000000b2"
#define MGR2_ID "m0000000000000000000000c3"

/* One side under test and what it has received. */
struct side {
	struct peer_auth *pa;
	uint64_t now;          /* the wall clock this side feeds with */
	int ups;               /* EV_UP events */
	int closes;            /* EV_CLOSED events */
	int nmsgs;             /* EV_MESSAGE events */
	uint8_t last[4096];    /* the last message (truncated copy) */
	size_t last_len;       /* its full length */
	int rc;                /* the last feed's return code */
};

struct fx {
	struct identity_keypair root, other_root; /* this cluster's root, another's */
	struct identity_keypair mgr, wrk, mgr2;   /* node keys */
	uint8_t mgr_cert[IDENTITY_CERT_MAX];      /* MGR_ID, manager, for mgr */
	size_t mgr_cert_len;
	uint8_t wrk_cert[IDENTITY_CERT_MAX];      /* WRK_ID, worker, for wrk */
	size_t wrk_cert_len;
	uint8_t mgr2_cert[IDENTITY_CERT_MAX];     /* MGR2_ID, manager, for mgr2 */
	size_t mgr2_cert_len;
	struct side d, l;                         /* dialer and listener */
};

static void keypair(struct identity_keypair *kp, uint8_t v)
{
	uint8_t seed[IDENTITY_SEED_LEN];
	memset(seed, v, sizeof(seed));
	identity_keypair_from_seed(kp, seed);
}

static void issue(uint8_t *out, size_t *len, const char *id, enum identity_role role,
		  const uint8_t *pk, const char *cluster, uint64_t from, uint64_t to,
		  const struct identity_keypair *root)
{
	struct identity_cert c;
	assert_int_equal(identity_cert_issue(&c, id, role, pk, cluster, from, to, root->sk), IDENTITY_OK);
	assert_int_equal(identity_cert_encode(&c, out, IDENTITY_CERT_MAX, len), IDENTITY_OK);
}

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	keypair(&f.root, 1);
	keypair(&f.other_root, 2);
	keypair(&f.mgr, 3);
	keypair(&f.wrk, 4);
	keypair(&f.mgr2, 5);
	issue(f.mgr_cert, &f.mgr_cert_len, MGR_ID, IDENTITY_ROLE_MANAGER, f.mgr.pk, CLUSTER_ID,
	      NOW - DAY, NOW + 90 * DAY, &f.root);
	issue(f.wrk_cert, &f.wrk_cert_len, WRK_ID, IDENTITY_ROLE_WORKER, f.wrk.pk, CLUSTER_ID,
	      NOW - DAY, NOW + 90 * DAY, &f.root);
	issue(f.mgr2_cert, &f.mgr2_cert_len, MGR2_ID, IDENTITY_ROLE_MANAGER, f.mgr2.pk, CLUSTER_ID,
	      NOW - DAY, NOW + 90 * DAY, &f.root);
	f.d.now = f.l.now = NOW;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	peer_auth_free(f->d.pa);
	peer_auth_free(f->l.pa);
	memset(&f->d, 0, sizeof(f->d));
	memset(&f->l, 0, sizeof(f->l));
	f->d.now = f->l.now = NOW;
	return 0;
}

static struct peer_auth_config config(bool dialer, const struct identity_keypair *key,
				      const uint8_t *cert, size_t cert_len, const struct identity_keypair *root,
				      const char *cluster, uint8_t seed)
{
	struct peer_auth_config c;
	memset(&c, 0, sizeof(c));
	c.dialer = dialer;
	c.node = *key;
	memcpy(c.cert, cert, cert_len);
	c.cert_len = cert_len;
	memcpy(c.root_pk, root->pk, IDENTITY_PK_LEN);
	snprintf(c.cluster_id, sizeof(c.cluster_id), "%s", cluster);
	c.accept_roles = PEER_AUTH_ROLES_ANY;
	memset(c.ephemeral_seed, seed, sizeof(c.ephemeral_seed));
	return c;
}

static struct peer_auth *start(const struct peer_auth_config *c, uint64_t now)
{
	struct peer_auth *pa = NULL;
	char err[256] = "";
	int rc = peer_auth_new(&pa, c, now, err, sizeof(err));
	if (rc != PEER_AUTH_OK) {
		print_error("peer_auth_new: %d %s\n", rc, err);
		fail();
	}
	return pa;
}

/* The usual pair: worker dials manager. */
static void start_pair(struct fx *f)
{
	struct peer_auth_config dc = config(true, &f->wrk, f->wrk_cert, f->wrk_cert_len, &f->root,
					    CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->d.pa = start(&dc, f->d.now);
	f->l.pa = start(&lc, f->l.now);
}

/* Takes all of from's output into buf; returns its length. */
static size_t take(struct side *from, uint8_t *buf, size_t cap)
{
	const uint8_t *p;
	size_t n = peer_auth_output(from->pa, &p);
	assert_true(n <= cap);
	if (n > 0)
		memcpy(buf, p, n);
	peer_auth_output_sent(from->pa, n);
	return n;
}

/* Feeds bytes to a side, handling every event; returns the last code. */
static int feed(struct side *s, const uint8_t *p, size_t n)
{
	size_t off = 0;
	int rc = PEER_AUTH_OK;
	while (off < n) {
		size_t used = 0;
		struct peer_auth_event ev;
		rc = peer_auth_feed(s->pa, p + off, n - off, s->now, &used, &ev);
		assert_true(used <= n - off);
		off += used;
		if (ev.type == PEER_AUTH_EV_UP)
			s->ups++;
		else if (ev.type == PEER_AUTH_EV_CLOSED)
			s->closes++;
		else if (ev.type == PEER_AUTH_EV_MESSAGE) {
			s->nmsgs++;
			s->last_len = ev.len;
			memcpy(s->last, ev.data, ev.len < sizeof(s->last) ? ev.len : sizeof(s->last));
		}
		if (rc != PEER_AUTH_OK)
			break;
		if (used == 0 && ev.type == PEER_AUTH_EV_NONE)
			fail_msg("no progress");
	}
	s->rc = rc;
	return rc;
}

/* Moves from's pending output to to. */
static int pass(struct side *from, struct side *to)
{
	static uint8_t buf[1 << 21];
	size_t n = take(from, buf, sizeof(buf));
	return feed(to, buf, n);
}

/* Runs the whole authentication: HELLO, HELLO+AUTH, AUTH. */
static void authenticate(struct fx *f)
{
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_OK);
	assert_int_equal(peer_auth_state(f->l.pa), PEER_AUTH_LISTENER_WAIT_AUTH);
	assert_int_equal(pass(&f->l, &f->d), PEER_AUTH_OK);
	assert_int_equal(peer_auth_state(f->d.pa), PEER_AUTH_UP);
	assert_int_equal(f->d.ups, 1);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_OK);
	assert_int_equal(peer_auth_state(f->l.pa), PEER_AUTH_UP);
	assert_int_equal(f->l.ups, 1);
}

static void send_str(struct side *s, const char *msg)
{
	assert_int_equal(peer_auth_send(s->pa, (const uint8_t *)msg, strlen(msg)), PEER_AUTH_OK);
}

static void assert_last(const struct side *s, const char *msg)
{
	assert_int_equal(s->last_len, strlen(msg));
	assert_memory_equal(s->last, msg, strlen(msg));
}

static void assert_failed(const struct side *s, int code, const char *needle)
{
	assert_int_equal(peer_auth_state(s->pa), PEER_AUTH_FAILED);
	assert_int_equal(peer_auth_error_code(s->pa), code);
	if (strstr(peer_auth_error(s->pa), needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", peer_auth_error(s->pa), needle);
}

/* The REJECT a side queued: its reason, or 0 when none is in the output. */
static uint64_t queued_reject(struct side *s)
{
	uint8_t buf[2048];
	size_t n = take(s, buf, sizeof(buf));
	/* A REJECT is the last frame: 00 00 00 03 92 12 reason. */
	if (n < 7 || memcmp(buf + n - 7, "\x00\x00\x00\x03\x92\x12", 6) != 0)
		return 0;
	return buf[n - 1];
}

/* --- the happy path ------------------------------------------------------------ */

static void test_happy_path_both_directions(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	const struct identity_cert *dc = peer_auth_peer_cert(f->l.pa);
	const struct identity_cert *lc = peer_auth_peer_cert(f->d.pa);
	assert_non_null(dc);
	assert_non_null(lc);
	assert_string_equal(dc->node_id, WRK_ID);
	assert_int_equal(dc->role, IDENTITY_ROLE_WORKER);
	assert_memory_equal(dc->node_pk, f->wrk.pk, IDENTITY_PK_LEN);
	assert_string_equal(lc->node_id, MGR_ID);
	assert_int_equal(lc->role, IDENTITY_ROLE_MANAGER);

	send_str(&f->d, "raft append entries");
	send_str(&f->d, "second");
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_OK);
	assert_int_equal(f->l.nmsgs, 2);
	assert_last(&f->l, "second");
	send_str(&f->l, "task assignment");
	assert_int_equal(peer_auth_send(f->l.pa, NULL, 0), PEER_AUTH_OK); /* empty message */
	assert_int_equal(pass(&f->l, &f->d), PEER_AUTH_OK);
	assert_int_equal(f->d.nmsgs, 2);
	assert_int_equal(f->d.last_len, 0);

	/* Orderly close both ways; the end of the stream is then no truncation. */
	assert_int_equal(peer_auth_close(f->d.pa), PEER_AUTH_OK);
	assert_int_equal(peer_auth_close(f->d.pa), PEER_AUTH_OK); /* twice: no-op */
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_OK);
	assert_int_equal(f->l.closes, 1);
	assert_true(peer_auth_peer_closed(f->l.pa));
	send_str(&f->l, "still flowing the other way");
	assert_int_equal(peer_auth_close(f->l.pa), PEER_AUTH_OK);
	assert_int_equal(pass(&f->l, &f->d), PEER_AUTH_OK);
	assert_int_equal(f->d.nmsgs, 3);
	assert_int_equal(f->d.closes, 1);
	assert_int_equal(peer_auth_eof(f->d.pa), PEER_AUTH_OK);
	assert_int_equal(peer_auth_eof(f->l.pa), PEER_AUTH_OK);
	assert_string_equal(peer_auth_error(f->d.pa), "");
}

static void test_managers_both_ways_round(void **state)
{
	/* A manager dialing a manager, accepting managers only on both sides. */
	struct fx *f = *state;
	struct peer_auth_config dc = config(true, &f->mgr2, f->mgr2_cert, f->mgr2_cert_len, &f->root,
					    CLUSTER_ID, 0x61);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x62);
	dc.accept_roles = lc.accept_roles = PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER);
	snprintf(dc.expect_node_id, sizeof(dc.expect_node_id), "%s", MGR_ID);
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	authenticate(f);
	assert_string_equal(peer_auth_peer_cert(f->l.pa)->node_id, MGR2_ID);
}

static void test_byte_at_a_time(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	uint8_t buf[4096];
	size_t n = take(&f->d, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(feed(&f->l, buf + i, 1), PEER_AUTH_OK);
	n = take(&f->l, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(feed(&f->d, buf + i, 1), PEER_AUTH_OK);
	send_str(&f->d, "hello in pieces");
	n = take(&f->d, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(feed(&f->l, buf + i, 1), PEER_AUTH_OK);
	assert_int_equal(f->l.ups, 1);
	assert_int_equal(f->l.nmsgs, 1);
	assert_last(&f->l, "hello in pieces");
}

static void test_first_records_ride_with_auth(void **state)
{
	/* The dialer may send right after its AUTH; the listener gets UP then the message. */
	struct fx *f = *state;
	start_pair(f);
	pass(&f->d, &f->l);
	pass(&f->l, &f->d);
	send_str(&f->d, "early");
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_OK);
	assert_int_equal(f->l.ups, 1);
	assert_int_equal(f->l.nmsgs, 1);
	assert_last(&f->l, "early");
}

static void test_largest_message_and_too_big(void **state)
{
	struct fx *f = *state;
	struct peer_auth_config dc = config(true, &f->wrk, f->wrk_cert, f->wrk_cert_len, &f->root,
					    CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	dc.max_message = lc.max_message = 3000;
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	authenticate(f);
	uint8_t big[3001];
	memset(big, 'x', sizeof(big));
	assert_int_equal(peer_auth_send(f->d.pa, big, 3001), PEER_AUTH_E_TOO_BIG);
	assert_int_equal(peer_auth_send(f->d.pa, big, 3000), PEER_AUTH_OK);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_OK);
	assert_int_equal(f->l.last_len, 3000);
}

static void test_send_before_up(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	assert_int_equal(peer_auth_send(f->d.pa, (const uint8_t *)"x", 1), PEER_AUTH_E_STATE);
	assert_int_equal(peer_auth_close(f->d.pa), PEER_AUTH_E_STATE);
	assert_null(peer_auth_peer_cert(f->d.pa));
	assert_int_equal(peer_auth_state(f->d.pa), PEER_AUTH_DIALER_WAIT_HELLO);
}

static void test_deterministic_replay(void **state)
{
	/* Same seeds, same bytes: a recorded session replays (the fuzzer relies on it). */
	struct fx *f = *state;
	uint8_t a[4096], b[4096];
	start_pair(f);
	pass(&f->d, &f->l);
	size_t na = take(&f->l, a, sizeof(a));
	teardown(state);
	f->d.now = f->l.now = NOW;
	start_pair(f);
	pass(&f->d, &f->l);
	size_t nb = take(&f->l, b, sizeof(b));
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
}

/* --- certificates refused ----------------------------------------------------------- */

static void test_wrong_cluster(void **state)
{
	struct fx *f = *state;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	/* A worker of another cluster, with that cluster's root. */
	issue(cert, &len, WRK_ID, IDENTITY_ROLE_WORKER, f->wrk.pk, OTHER_CLUSTER, NOW - DAY,
	      NOW + DAY, &f->other_root);
	struct peer_auth_config dc = config(true, &f->wrk, cert, len, &f->other_root, OTHER_CLUSTER, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_PEER_CLUSTER);
	assert_failed(&f->l, PEER_AUTH_E_PEER_CLUSTER, "peer certificate belongs to another cluster");
	assert_failed(&f->l, PEER_AUTH_E_PEER_CLUSTER, OTHER_CLUSTER);
	assert_string_equal(peer_auth_claimed_id(f->l.pa), WRK_ID);
	assert_null(peer_auth_peer_cert(f->l.pa));
	assert_int_equal(peer_auth_reject_sent(f->l.pa), PEER_AUTH_REJECT_CLUSTER);
	/* The dialer hears why. */
	assert_int_equal(pass(&f->l, &f->d), PEER_AUTH_E_REJECTED);
	assert_failed(&f->d, PEER_AUTH_E_REJECTED, "our certificate belongs to another cluster");
	/* Feeding more after a failure keeps the failure. */
	assert_int_equal(feed(&f->l, (const uint8_t *)"\0\0\0\1x", 5), PEER_AUTH_E_PEER_CLUSTER);
}

static void test_same_root_other_cluster_id(void **state)
{
	/* Signed by our root, but for another cluster id: still refused as another cluster. */
	struct fx *f = *state;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	issue(cert, &len, WRK_ID, IDENTITY_ROLE_WORKER, f->wrk.pk, OTHER_CLUSTER, NOW - DAY, NOW + DAY,
	      &f->root);
	struct peer_auth_config dc = config(true, &f->wrk, cert, len, &f->root, OTHER_CLUSTER, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_PEER_CLUSTER);
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_CLUSTER);
}

static void test_expired_dialer_cert(void **state)
{
	struct fx *f = *state;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	issue(cert, &len, WRK_ID, IDENTITY_ROLE_WORKER, f->wrk.pk, CLUSTER_ID, NOW - 10 * DAY,
	      NOW - DAY, &f->root);
	struct peer_auth_config dc = config(true, &f->wrk, cert, len, &f->root, CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	/* The dialer still believes its certificate is good (its clock is behind). */
	f->d.pa = start(&dc, NOW - 2 * DAY);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_PEER_EXPIRED);
	assert_failed(&f->l, PEER_AUTH_E_PEER_EXPIRED, "peer certificate expired");
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_EXPIRED);
}

static void test_expired_listener_cert(void **state)
{
	struct fx *f = *state;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	issue(cert, &len, MGR_ID, IDENTITY_ROLE_MANAGER, f->mgr.pk, CLUSTER_ID, NOW - 10 * DAY,
	      NOW + DAY, &f->root);
	struct peer_auth_config dc = config(true, &f->wrk, f->wrk_cert, f->wrk_cert_len, &f->root,
					    CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, cert, len, &f->root, CLUSTER_ID, 0x55);
	f->l.pa = start(&lc, NOW);
	f->d.now = NOW + 2 * DAY; /* the listener's certificate expired a day ago for the dialer */
	f->d.pa = start(&dc, f->d.now);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_OK);
	assert_int_equal(pass(&f->l, &f->d), PEER_AUTH_E_PEER_EXPIRED);
	assert_failed(&f->d, PEER_AUTH_E_PEER_EXPIRED, MGR_ID);
	assert_int_equal(queued_reject(&f->d), PEER_AUTH_REJECT_EXPIRED);
}

static void test_not_yet_valid(void **state)
{
	struct fx *f = *state;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	issue(cert, &len, WRK_ID, IDENTITY_ROLE_WORKER, f->wrk.pk, CLUSTER_ID, NOW + DAY,
	      NOW + 9 * DAY, &f->root);
	struct peer_auth_config dc = config(true, &f->wrk, cert, len, &f->root, CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->d.pa = start(&dc, NOW + 2 * DAY);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_PEER_NOT_YET_VALID);
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_NOT_YET_VALID);
}

static void test_cert_signed_by_another_root(void **state)
{
	/* Claims our cluster id, but another root key signed it. */
	struct fx *f = *state;
	uint8_t cert[IDENTITY_CERT_MAX];
	size_t len;
	issue(cert, &len, WRK_ID, IDENTITY_ROLE_WORKER, f->wrk.pk, CLUSTER_ID, NOW - DAY, NOW + DAY,
	      &f->other_root);
	struct peer_auth_config dc = config(true, &f->wrk, cert, len, &f->other_root, CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_PEER_ROOT);
	assert_failed(&f->l, PEER_AUTH_E_PEER_ROOT, "not signed by this cluster's root key");
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_ROOT);
}

static void test_role_refused(void **state)
{
	struct fx *f = *state;
	struct peer_auth_config dc = config(true, &f->wrk, f->wrk_cert, f->wrk_cert_len, &f->root,
					    CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	lc.accept_roles = PEER_AUTH_ROLE_BIT(IDENTITY_ROLE_MANAGER); /* a Raft stream */
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_PEER_ROLE);
	assert_failed(&f->l, PEER_AUTH_E_PEER_ROLE, "is a worker; this stream accepts managers only");
	assert_int_equal(pass(&f->l, &f->d), PEER_AUTH_E_REJECTED);
	assert_failed(&f->d, PEER_AUTH_E_REJECTED, "our role is not accepted");
}

static void test_dialer_reaches_wrong_node(void **state)
{
	struct fx *f = *state;
	struct peer_auth_config dc = config(true, &f->wrk, f->wrk_cert, f->wrk_cert_len, &f->root,
					    CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	snprintf(dc.expect_node_id, sizeof(dc.expect_node_id), "%s", MGR2_ID); /* stale address */
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	pass(&f->d, &f->l);
	assert_int_equal(pass(&f->l, &f->d), PEER_AUTH_E_PEER_IDENTITY);
	assert_failed(&f->d, PEER_AUTH_E_PEER_IDENTITY, "dialed node " MGR2_ID ", reached node " MGR_ID);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_REJECTED);
}

static void test_node_reaches_itself(void **state)
{
	struct fx *f = *state;
	struct peer_auth_config dc = config(true, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x44);
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(pass(&f->d, &f->l), PEER_AUTH_E_SELF);
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_SELF);
}

/* --- proofs of key possession ----------------------------------------------------- */

/* Encodes a HELLO by hand. */
static size_t make_hello(uint8_t *out, size_t cap, uint64_t version, const uint8_t *cert, size_t cert_len,
			 const uint8_t eph[32])
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, PEER_AUTH_MSG_HELLO);
	msgpack_pack_uint64(&pk, version);
	msgpack_pack_bin_with_body(&pk, cert, cert_len);
	msgpack_pack_bin_with_body(&pk, eph, 32);
	assert_true(sb.size <= cap);
	memcpy(out, sb.data, sb.size);
	size_t n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static size_t frame(uint8_t *out, const uint8_t *body, size_t n)
{
	out[0] = (uint8_t)(n >> 24);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	memcpy(out + 4, body, n);
	return n + 4;
}

/* A hand-made dialer presenting cert but signing with key: runs the exchange
 * against f->l (already started) per the spec in peer_auth.h. */
static int forged_dialer(struct fx *f, const uint8_t *cert, size_t cert_len,
			 const struct identity_keypair *key)
{
	uint8_t eph_pk[32], eph_sk[32], seed[32], hello[512], buf[2048];
	memset(seed, 0x77, sizeof(seed));
	crypto_kx_seed_keypair(eph_pk, eph_sk, seed);
	size_t hn = make_hello(hello, sizeof(hello), PEER_AUTH_VERSION, cert, cert_len, eph_pk);
	size_t n = frame(buf, hello, hn);
	assert_int_equal(feed(&f->l, buf, n), PEER_AUTH_OK);
	/* The listener's HELLO is the first frame of its answer. */
	n = take(&f->l, buf, sizeof(buf));
	size_t ln = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
	assert_true(4 + ln < n);
	crypto_generichash_state st;
	uint8_t t[32], len[4];
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"swarmnode-peer-v1", 17);
	len[0] = len[1] = 0, len[2] = (uint8_t)(hn >> 8), len[3] = (uint8_t)hn;
	crypto_generichash_update(&st, len, 4);
	crypto_generichash_update(&st, hello, hn);
	crypto_generichash_update(&st, buf, 4 + ln); /* its length prefix, then its body */
	crypto_generichash_final(&st, t, 32);
	uint8_t msg[64], sig[64];
	memcpy(msg, "swarmnode-peer-v1 dialer", 24);
	memcpy(msg + 24, t, 32);
	crypto_sign_detached(sig, NULL, msg, 56, key->sk);
	uint8_t auth[80] = {0x92, PEER_AUTH_MSG_AUTH, 0xc4, 64};
	memcpy(auth + 4, sig, 64);
	n = frame(buf, auth, 68);
	return feed(&f->l, buf, n);
}

static void test_forged_dialer_with_right_key_is_accepted(void **state)
{
	/* The control for the next test: the spec as written in the header works. */
	struct fx *f = *state;
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(forged_dialer(f, f->wrk_cert, f->wrk_cert_len, &f->wrk), PEER_AUTH_OK);
	assert_int_equal(peer_auth_state(f->l.pa), PEER_AUTH_UP);
}

static void test_peer_signs_with_another_key(void **state)
{
	/* A stolen certificate: the worker's, but signed with another node's key. */
	struct fx *f = *state;
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(forged_dialer(f, f->wrk_cert, f->wrk_cert_len, &f->mgr2),
			 PEER_AUTH_E_PEER_PROOF);
	assert_failed(&f->l, PEER_AUTH_E_PEER_PROOF, "peer failed to prove its node key");
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_PROOF);
	assert_null(peer_auth_peer_cert(f->l.pa));
}

static void test_listener_signs_with_another_key(void **state)
{
	/* A listener that holds the manager's certificate but another key: swap its
	 * HELLO's certificate for the manager's (same length) and re-sign nothing. */
	struct fx *f = *state;
	start_pair(f);
	struct peer_auth_config lc = config(false, &f->mgr2, f->mgr2_cert, f->mgr2_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	peer_auth_free(f->l.pa);
	f->l.pa = start(&lc, NOW);
	pass(&f->d, &f->l);
	uint8_t buf[2048];
	size_t n = take(&f->l, buf, sizeof(buf));
	uint8_t *at = memmem(buf, n, f->mgr2_cert, f->mgr2_cert_len);
	assert_non_null(at);
	assert_int_equal(f->mgr_cert_len, f->mgr2_cert_len);
	memcpy(at, f->mgr_cert, f->mgr_cert_len);
	assert_int_equal(feed(&f->d, buf, n), PEER_AUTH_E_PEER_PROOF);
	assert_failed(&f->d, PEER_AUTH_E_PEER_PROOF, MGR_ID);
}

static void test_reflected_auth(void **state)
{
	/* The listener's own AUTH sent back to it as the dialer's: the domains differ. */
	struct fx *f = *state;
	start_pair(f);
	pass(&f->d, &f->l);
	uint8_t buf[2048];
	size_t n = take(&f->l, buf, sizeof(buf));
	size_t ln = (size_t)buf[2] << 8 | buf[3];
	size_t auth_off = 4 + ln;
	assert_int_equal(feed(&f->l, buf + auth_off, n - auth_off), PEER_AUTH_E_PEER_PROOF);
}

static void test_auth_from_another_session(void **state)
{
	/* Record the dialer's AUTH in session 1, replay it into session 2. */
	struct fx *f = *state;
	start_pair(f);
	pass(&f->d, &f->l);
	pass(&f->l, &f->d);
	uint8_t old_auth[256];
	size_t on = take(&f->d, old_auth, sizeof(old_auth));
	teardown(state);
	struct peer_auth_config dc = config(true, &f->wrk, f->wrk_cert, f->wrk_cert_len, &f->root,
					    CLUSTER_ID, 0x45); /* fresh ephemeral keys */
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x56);
	f->d.pa = start(&dc, NOW);
	f->l.pa = start(&lc, NOW);
	f->d.now = f->l.now = NOW;
	pass(&f->d, &f->l);
	assert_int_equal(feed(&f->l, old_auth, on), PEER_AUTH_E_PEER_PROOF);
}

static void test_tampered_hello(void **state)
{
	/* A man in the middle changes the listener's ephemeral key: the signature fails. */
	struct fx *f = *state;
	start_pair(f);
	pass(&f->d, &f->l);
	uint8_t buf[2048];
	size_t n = take(&f->l, buf, sizeof(buf));
	size_t ln = (size_t)buf[2] << 8 | buf[3];
	buf[4 + ln - 1] ^= 0x01; /* last byte of the HELLO: the ephemeral key */
	assert_int_equal(feed(&f->d, buf, n), PEER_AUTH_E_PEER_PROOF);
}

static void test_version_mismatch(void **state)
{
	struct fx *f = *state;
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->l.pa = start(&lc, NOW);
	uint8_t eph[32] = {9}, hello[512], buf[600];
	size_t hn = make_hello(hello, sizeof(hello), 2, f->wrk_cert, f->wrk_cert_len, eph);
	assert_int_equal(feed(&f->l, buf, frame(buf, hello, hn)), PEER_AUTH_E_VERSION);
	assert_failed(&f->l, PEER_AUTH_E_VERSION, "version 2");
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_VERSION);
}

static void test_malformed_hellos(void **state)
{
	struct fx *f = *state;
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	static const struct {
		const char *bytes;
		size_t n;
		int code;
		const char *needle;
	} cases[] = {
		{"\xc1", 1, PEER_AUTH_E_MALFORMED, "message"},                      /* reserved byte */
		{"\x91\x10", 2, PEER_AUTH_E_MALFORMED, "no version"},
		{"\x92\x10\xa1x", 4, PEER_AUTH_E_MALFORMED, "hello version"},
		{"\x93\x10\x01\xc4\x00", 5, PEER_AUTH_E_MALFORMED, "hello"},        /* 3 elements */
		{"\x94\x10\x01\xc4\x01x\xc4\x00", 8, PEER_AUTH_E_MALFORMED, "ephemeral key"},
		{"\x92\x11\xc4\x00", 4, PEER_AUTH_E_UNEXPECTED, "message type 17"}, /* AUTH first */
		{"\xdd\xff\xff\xff\xff", 5, PEER_AUTH_E_MALFORMED, "message"},      /* huge array */
		{"\x90", 1, PEER_AUTH_E_MALFORMED, "message"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[64];
		f->l.pa = start(&lc, NOW);
		size_t n = frame(buf, (const uint8_t *)cases[i].bytes, cases[i].n);
		assert_int_equal(feed(&f->l, buf, n), cases[i].code);
		assert_failed(&f->l, cases[i].code, cases[i].needle);
		peer_auth_free(f->l.pa);
		f->l.pa = NULL;
	}
	/* A certificate that does not decode. */
	uint8_t zero[32] = {0}, hello[512], buf[600], eph[32] = {9};
	f->l.pa = start(&lc, NOW);
	size_t bn = make_hello(hello, sizeof(hello), 1, (const uint8_t *)"\x93\x01\x02\x03", 4, eph);
	assert_int_equal(feed(&f->l, buf, frame(buf, hello, bn)), PEER_AUTH_E_MALFORMED);
	assert_failed(&f->l, PEER_AUTH_E_MALFORMED, "hello certificate");
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_MALFORMED);
	peer_auth_free(f->l.pa);
	/* A valid eph key of all zeros is a low-order point: refused. */
	f->l.pa = start(&lc, NOW);
	size_t hn = make_hello(hello, sizeof(hello), 1, f->wrk_cert, f->wrk_cert_len, zero);
	assert_int_equal(feed(&f->l, buf, frame(buf, hello, hn)), PEER_AUTH_E_MALFORMED);
	assert_failed(&f->l, PEER_AUTH_E_MALFORMED, "not a usable X25519");
}

static void test_malformed_reject(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	uint8_t buf[16];
	size_t n = frame(buf, (const uint8_t *)"\x92\x12\xa1x", 4);
	assert_int_equal(feed(&f->d, buf, n), PEER_AUTH_E_MALFORMED);
	assert_failed(&f->d, PEER_AUTH_E_MALFORMED, "reject reason");
	assert_int_equal(queued_reject(&f->d), 0); /* the HELLO only: no REJECT for a REJECT */
}

/* --- records attacked -------------------------------------------------------------- */

static void test_tampered_record(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	send_str(&f->d, "a perfectly good message");
	uint8_t buf[256];
	size_t n = take(&f->d, buf, sizeof(buf));
	buf[10] ^= 0x40;
	assert_int_equal(feed(&f->l, buf, n), PEER_AUTH_E_AUTH);
	assert_failed(&f->l, PEER_AUTH_E_AUTH, "message failed authentication");
	assert_int_equal(f->l.nmsgs, 0);
	/* Nothing may be sent on a failed stream, and no REJECT goes out once up. */
	assert_int_equal(peer_auth_send(f->l.pa, (const uint8_t *)"x", 1), PEER_AUTH_E_STATE);
	assert_int_equal(queued_reject(&f->l), 0);
	/* Whom it was with is still known. */
	assert_non_null(peer_auth_peer_cert(f->l.pa));
}

static void test_tampered_tag_and_length(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	send_str(&f->d, "abc");
	uint8_t buf[256];
	size_t n = take(&f->d, buf, sizeof(buf));
	buf[n - 1] ^= 1; /* the tag */
	assert_int_equal(feed(&f->l, buf, n), PEER_AUTH_E_AUTH);
	teardown(state);
	f->d.now = f->l.now = NOW;
	start_pair(f);
	authenticate(f);
	send_str(&f->d, "abcdef");
	n = take(&f->d, buf, sizeof(buf));
	buf[3] -= 1; /* one byte shorter: the tag and the associated data no longer match */
	assert_int_equal(feed(&f->l, buf, n - 1), PEER_AUTH_E_AUTH);
}

static void test_reordered_records(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	uint8_t a[128], b[128];
	send_str(&f->d, "first");
	size_t na = take(&f->d, a, sizeof(a));
	send_str(&f->d, "second");
	size_t nb = take(&f->d, b, sizeof(b));
	assert_int_equal(feed(&f->l, b, nb), PEER_AUTH_E_AUTH);
	assert_failed(&f->l, PEER_AUTH_E_AUTH, "record 0");
	(void)na;
	(void)a;
}

static void test_replayed_record(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	uint8_t a[128];
	send_str(&f->d, "pay 10");
	size_t na = take(&f->d, a, sizeof(a));
	assert_int_equal(feed(&f->l, a, na), PEER_AUTH_OK);
	assert_int_equal(f->l.nmsgs, 1);
	assert_int_equal(feed(&f->l, a, na), PEER_AUTH_E_AUTH);
	assert_int_equal(f->l.nmsgs, 1);
}

static void test_dropped_record(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	uint8_t a[128];
	send_str(&f->d, "lost");
	take(&f->d, a, sizeof(a));
	send_str(&f->d, "next");
	size_t n = take(&f->d, a, sizeof(a));
	assert_int_equal(feed(&f->l, a, n), PEER_AUTH_E_AUTH);
}

static void test_record_of_other_direction(void **state)
{
	/* A record the listener sealed, reflected back to it: other key. */
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	uint8_t a[128];
	send_str(&f->l, "to the dialer");
	size_t n = take(&f->l, a, sizeof(a));
	assert_int_equal(feed(&f->l, a, n), PEER_AUTH_E_AUTH);
}

static void test_truncated_streams(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	uint8_t a[1024];
	send_str(&f->d, "cut in the middle");
	size_t n = take(&f->d, a, sizeof(a));
	assert_int_equal(feed(&f->l, a, n - 5), PEER_AUTH_OK);
	assert_int_equal(peer_auth_eof(f->l.pa), PEER_AUTH_E_TRUNCATED);
	assert_failed(&f->l, PEER_AUTH_E_TRUNCATED, "cut inside record 0");
	assert_int_equal(peer_auth_eof(f->l.pa), PEER_AUTH_E_TRUNCATED); /* sticks */

	/* Ended cleanly between records but without a close record. */
	teardown(state);
	f->d.now = f->l.now = NOW;
	start_pair(f);
	authenticate(f);
	send_str(&f->d, "one");
	pass(&f->d, &f->l);
	assert_int_equal(peer_auth_eof(f->l.pa), PEER_AUTH_E_TRUNCATED);
	assert_failed(&f->l, PEER_AUTH_E_TRUNCATED, "after 1 records");

	/* During authentication: cut inside the HELLO, and before anything. */
	teardown(state);
	start_pair(f);
	n = take(&f->d, a, sizeof(a));
	assert_int_equal(feed(&f->l, a, 10), PEER_AUTH_OK);
	assert_int_equal(peer_auth_eof(f->l.pa), PEER_AUTH_E_CLOSED);
	assert_failed(&f->l, PEER_AUTH_E_CLOSED, "cut short (6 of");
	assert_int_equal(peer_auth_eof(f->d.pa), PEER_AUTH_E_CLOSED);
	assert_failed(&f->d, PEER_AUTH_E_CLOSED, "waiting for the listener's hello");
}

static void test_oversized_frames(void **state)
{
	struct fx *f = *state;
	/* During authentication: 513 bytes announced. */
	struct peer_auth_config lc = config(false, &f->mgr, f->mgr_cert, f->mgr_cert_len, &f->root,
					    CLUSTER_ID, 0x55);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(feed(&f->l, (const uint8_t *)"\x00\x00\x02\x01", 4), PEER_AUTH_E_FRAME);
	assert_failed(&f->l, PEER_AUTH_E_FRAME, "513 bytes");
	assert_int_equal(queued_reject(&f->l), PEER_AUTH_REJECT_MALFORMED);
	peer_auth_free(f->l.pa);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(feed(&f->l, (const uint8_t *)"\xff\xff\xff\xff", 4), PEER_AUTH_E_FRAME);
	peer_auth_free(f->l.pa);
	f->l.pa = start(&lc, NOW);
	assert_int_equal(feed(&f->l, (const uint8_t *)"\x00\x00\x00\x00", 4), PEER_AUTH_E_FRAME);
	peer_auth_free(f->l.pa);
	f->l.pa = NULL;

	/* Once up: beyond the largest message, and shorter than a tag. */
	start_pair(f);
	authenticate(f);
	uint8_t hdr[4];
	size_t max = PEER_AUTH_DEFAULT_MAX_MESSAGE + PEER_AUTH_RECORD_OVERHEAD + 1;
	hdr[0] = (uint8_t)(max >> 24), hdr[1] = (uint8_t)(max >> 16), hdr[2] = (uint8_t)(max >> 8),
	hdr[3] = (uint8_t)max;
	assert_int_equal(feed(&f->l, hdr, 4), PEER_AUTH_E_FRAME);
	assert_failed(&f->l, PEER_AUTH_E_FRAME, "record of");
	assert_int_equal(feed(&f->d, (const uint8_t *)"\x00\x00\x00\x10", 4), PEER_AUTH_E_FRAME);
}

static void test_messages_after_close(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	authenticate(f);
	assert_int_equal(peer_auth_close(f->d.pa), PEER_AUTH_OK);
	assert_true(peer_auth_sent_close(f->d.pa));
	assert_int_equal(peer_auth_send(f->d.pa, (const uint8_t *)"late", 4), PEER_AUTH_E_AFTER_CLOSE);
	uint8_t closebuf[64];
	size_t cn = take(&f->d, closebuf, sizeof(closebuf));
	/* A record after the close: crafted by a dialer that ignores its own close. */
	assert_int_equal(feed(&f->l, closebuf, cn), PEER_AUTH_OK);
	assert_int_equal(f->l.closes, 1);
	assert_int_equal(feed(&f->l, (const uint8_t *)"\x00", 1), PEER_AUTH_E_AFTER_CLOSE);
	assert_failed(&f->l, PEER_AUTH_E_AFTER_CLOSE, "after its close");

	/* The close record replayed: also a record after close. */
	teardown(state);
	f->d.now = f->l.now = NOW;
	start_pair(f);
	authenticate(f);
	peer_auth_close(f->d.pa);
	cn = take(&f->d, closebuf, sizeof(closebuf));
	uint8_t two[128];
	memcpy(two, closebuf, cn);
	memcpy(two + cn, closebuf, cn);
	assert_int_equal(feed(&f->l, two, 2 * cn), PEER_AUTH_E_AFTER_CLOSE);
	assert_int_equal(f->l.closes, 1);
}

/* --- configuration and classification ------------------------------------------- */

static void test_bad_configurations(void **state)
{
	struct fx *f = *state;
	struct peer_auth *pa = NULL;
	char err[256];
	struct peer_auth_config c = config(true, &f->wrk, f->wrk_cert, f->wrk_cert_len, &f->root,
					   CLUSTER_ID, 0x44);
	/* Certificate for another key. */
	c.node = f->mgr;
	assert_int_equal(peer_auth_new(&pa, &c, NOW, err, sizeof(err)), PEER_AUTH_E_CONFIG);
	assert_non_null(strstr(err, "not for this node's key"));
	c.node = f->wrk;
	/* Own certificate expired. */
	assert_int_equal(peer_auth_new(&pa, &c, NOW + 100 * DAY, err, sizeof(err)), PEER_AUTH_E_CONFIG);
	assert_non_null(strstr(err, "expired"));
	/* Another cluster configured than the certificate's. */
	snprintf(c.cluster_id, sizeof(c.cluster_id), "%s", OTHER_CLUSTER);
	assert_int_equal(peer_auth_new(&pa, &c, NOW, err, sizeof(err)), PEER_AUTH_E_CONFIG);
	snprintf(c.cluster_id, sizeof(c.cluster_id), "%s", CLUSTER_ID);
	c.accept_roles = 0;
	assert_int_equal(peer_auth_new(&pa, &c, NOW, err, sizeof(err)), PEER_AUTH_E_CONFIG);
	c.accept_roles = PEER_AUTH_ROLES_ANY;
	c.max_message = PEER_AUTH_MAX_MESSAGE + 1;
	assert_int_equal(peer_auth_new(&pa, &c, NOW, err, sizeof(err)), PEER_AUTH_E_CONFIG);
	c.max_message = 0;
	snprintf(c.expect_node_id, sizeof(c.expect_node_id), "NOT-AN-ID");
	assert_int_equal(peer_auth_new(&pa, &c, NOW, err, sizeof(err)), PEER_AUTH_E_CONFIG);
	c.expect_node_id[0] = '\0';
	c.cert_len = 3;
	assert_int_equal(peer_auth_new(&pa, &c, NOW, NULL, 0), PEER_AUTH_E_CONFIG);
	assert_null(pa);
}

static void test_classify_first_frame(void **state)
{
	struct fx *f = *state;
	start_pair(f);
	uint8_t buf[1024];
	size_t n = take(&f->d, buf, sizeof(buf));
	assert_true(peer_auth_is_hello(buf + 4, n - 4));
	/* A join HELLO is not a peer HELLO. */
	struct handshake_joiner_config jc;
	memset(&jc, 0, sizeof(jc));
	token_make(&jc.token, f->root.pk, (const uint8_t *)"0123456789abcdef");
	jc.node = f->wrk;
	struct handshake *hs = NULL;
	assert_int_equal(handshake_joiner_new(&hs, &jc), HANDSHAKE_OK);
	const uint8_t *p;
	n = handshake_output(hs, &p);
	assert_false(peer_auth_is_hello(p + 4, n - 4));
	handshake_free(hs);
	assert_false(peer_auth_is_hello((const uint8_t *)"\x91\x11", 2));
	assert_false(peer_auth_is_hello((const uint8_t *)"\x10", 1));
	assert_false(peer_auth_is_hello((const uint8_t *)"\xdd\xff\xff\xff\xff", 5));
	assert_false(peer_auth_is_hello((const uint8_t *)"", 0));
	assert_true(peer_auth_is_hello((const uint8_t *)"\x91\x10", 2));
}

static void test_strings(void **state)
{
	(void)state;
	assert_string_equal(peer_auth_strerror(PEER_AUTH_E_PEER_CLUSTER),
			    "peer certificate belongs to another cluster");
	assert_string_equal(peer_auth_strerror(PEER_AUTH_E_PEER_EXPIRED), "peer certificate expired");
	assert_string_equal(peer_auth_strerror(PEER_AUTH_E_PEER_PROOF), "peer failed to prove its node key");
	assert_string_equal(peer_auth_strerror(PEER_AUTH_E_AUTH), "message failed authentication");
	assert_string_equal(peer_auth_strerror(-999), "unknown error");
	assert_string_equal(peer_auth_reject_text(99), "unknown reason");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		T(test_happy_path_both_directions),
		T(test_managers_both_ways_round),
		T(test_byte_at_a_time),
		T(test_first_records_ride_with_auth),
		T(test_largest_message_and_too_big),
		T(test_send_before_up),
		T(test_deterministic_replay),
		T(test_wrong_cluster),
		T(test_same_root_other_cluster_id),
		T(test_expired_dialer_cert),
		T(test_expired_listener_cert),
		T(test_not_yet_valid),
		T(test_cert_signed_by_another_root),
		T(test_role_refused),
		T(test_dialer_reaches_wrong_node),
		T(test_node_reaches_itself),
		T(test_forged_dialer_with_right_key_is_accepted),
		T(test_peer_signs_with_another_key),
		T(test_listener_signs_with_another_key),
		T(test_reflected_auth),
		T(test_auth_from_another_session),
		T(test_tampered_hello),
		T(test_version_mismatch),
		T(test_malformed_hellos),
		T(test_malformed_reject),
		T(test_tampered_record),
		T(test_tampered_tag_and_length),
		T(test_reordered_records),
		T(test_replayed_record),
		T(test_dropped_record),
		T(test_record_of_other_direction),
		T(test_truncated_streams),
		T(test_oversized_frames),
		T(test_messages_after_close),
		T(test_bad_configurations),
		T(test_classify_first_frame),
		T(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
