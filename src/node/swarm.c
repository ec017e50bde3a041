/* swarm: this node's part in a swarm: init, join and leave, the persisted
 * identity, gossip membership, and (on managers) admitting new nodes. */
#include "swarmnode/swarm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "sn_build_info.h"
#include "swarmnode/join_payload.h"
#include "swarmnode/log.h"
#include "swarmnode/manager_msg.h"
#include "swarmnode/peer_msg.h"
#include "swarmnode/removed_nodes.h"
#include "swarmnode/store.h"
#include "swarmnode/swarm_dispatch.h"
#include "swarmnode/swarm_nodes.h"

/* How long a leave may take to spread before the node goes anyway. */
#define SWARM_LEAVE_TIMEOUT_MS 3000
#define SWARM_LEAVE_POLL_MS 50
/* Seeds are saved at most this often while membership changes. */
#define SWARM_SAVE_DELAY_MS 1000

struct swarm_join_pending {
	struct token token;
	struct addr remotes[8];
	size_t nremotes, next;
	struct addr listen;
	struct addr advertise;
	bool has_advertise;
	uint8_t node_seed[IDENTITY_SEED_LEN];
	swarm_done_fn done;
	void *data;
	char last_error[512];
};

static uint64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void random_id(char out[IDS_LEN + 1])
{
	uint8_t e[IDS_ENTROPY];
	randombytes_buf(e, sizeof(e));
	ids_format(e, out);
}

bool swarm_is_manager(const struct swarm *sw)
{
	return sw->state == SWARM_ACTIVE && sw->st.role == NODE_ROLE_MANAGER;
}

/* --- addresses -------------------------------------------------------------- */

/* The only non-loopback IPv4 address of this machine, as Docker picks one when
 * none is given; more than one is ambiguous and refused. */
static int swarm_autodetect_ip(char *out, size_t len, char *err, size_t errlen)
{
	uv_interface_address_t *ifs;
	int n, found = 0;
	char first_if[64] = "";
	if (uv_interface_addresses(&ifs, &n) != 0) {
		snprintf(err, errlen, "cannot list network interfaces: specify --advertise-addr");
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
			continue;
		if (found++ == 0) {
			uv_ip4_name(&ifs[i].address.address4, out, len);
			snprintf(first_if, sizeof(first_if), "%s", ifs[i].name);
		} else if (strcmp(first_if, ifs[i].name) != 0) {
			snprintf(err, errlen, "could not choose an IP address to advertise since this system has "
				 "multiple addresses on different interfaces (%s and %s): specify --advertise-addr",
				 first_if, ifs[i].name);
			uv_free_interface_addresses(ifs, n);
			return -EINVAL;
		}
	}
	uv_free_interface_addresses(ifs, n);
	if (found == 0) {
		snprintf(err, errlen, "could not find an address to advertise: specify --advertise-addr");
		return -EINVAL;
	}
	return 0;
}

/* Resolves where this node listens and what it advertises, from the request,
 * the daemon's flags, then the machine. */
static int swarm_addresses(struct swarm *sw, const char *listen_text, const char *advertise_text,
			   struct addr *listen, struct addr *advertise, char *err, size_t errlen)
{
	char why[256];
	*listen = sw->config->listen_addr;
	/* The docker CLI always sends its default listen address; the daemon's own
	 * --listen-addr is the operator's choice and wins over that default. */
	if (listen_text && strcmp(listen_text, "0.0.0.0:2377") == 0)
		listen_text = NULL;
	if (listen_text && *listen_text &&
	    addr_parse(listen_text, CONFIG_CLUSTER_PORT, listen, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "invalid listen address: %s", why);
		return -EINVAL;
	}
	if (advertise_text && *advertise_text) {
		if (addr_parse(advertise_text, listen->port, advertise, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "invalid advertise address: %s", why);
			return -EINVAL;
		}
	} else if (sw->config->has_advertise) {
		*advertise = sw->config->advertise_addr;
	} else if (strcmp(listen->host, "0.0.0.0") != 0 && strcmp(listen->host, "::") != 0) {
		*advertise = *listen;
	} else {
		char ip[64];
		if (swarm_autodetect_ip(ip, sizeof(ip), err, errlen) != 0)
			return -EINVAL;
		addr_parse(ip, listen->port, advertise, why, sizeof(why));
	}
	if (strcmp(advertise->host, "0.0.0.0") == 0 || strcmp(advertise->host, "::") == 0) {
		snprintf(err, errlen, "advertise address must be a non-zero IP address");
		return -EINVAL;
	}
	return 0;
}

/* --- node metadata and gossip ------------------------------------------------- */

static int swarm_meta(struct swarm *sw, uint8_t *out, size_t cap, size_t *len)
{
	struct node_meta m;
	memset(&m, 0, sizeof(m));
	m.role = sw->st.role;
	m.availability = NODE_AVAILABILITY_ACTIVE;
	snprintf(m.hostname, sizeof(m.hostname), "%s", sw->host.hostname);
	snprintf(m.cluster_addr, sizeof(m.cluster_addr), "%s", sw->st.advertise_addr);
	snprintf(m.engine_version, sizeof(m.engine_version), "%s", SN_VERSION);
	snprintf(m.os, sizeof(m.os), "%s", sw->host.os);
	snprintf(m.arch, sizeof(m.arch), "%s", sw->host.arch);
	m.ncpu = sw->host.ncpu;
	m.memory = sw->host.memory;
	m.created_at_ms = sw->st.joined_at_ms;
	for (size_t i = 0; i < sw->config->nlabels && i < NODE_META_MAX_LABELS; i++)
		snprintf(m.labels[m.nlabels++], sizeof(m.labels[0]), "%s", sw->config->labels[i]);
	return node_meta_encode(&m, out, cap, len);
}

static void swarm_save_now(struct swarm *sw)
{
	char err[512];
	if (sw->state != SWARM_ACTIVE)
		return;
	if (swarm_state_save(&sw->st, sw->datadir, err, sizeof(err)) != 0)
		log_error("swarm", err);
}

/* Remembers live members' gossip addresses to rejoin through after a restart. */
static void swarm_refresh_seeds(struct swarm *sw)
{
	struct swim_member_info mi;
	char buf[64];
	size_t n = 0, count = swim_member_count(sw->gossip.swim);
	for (size_t i = 0; i < count && n < SWARM_STATE_MAX_SEEDS; i++) {
		if (swim_member_at(sw->gossip.swim, i, &mi) != 0 || mi.is_self || mi.state != SWIM_ALIVE)
			continue;
		snprintf(sw->st.seeds[n++], sizeof(sw->st.seeds[0]), "%s", swim_addr_format(&mi.addr, buf, sizeof(buf)));
	}
	if (n > 0)
		sw->st.nseeds = n;
}

static void swarm_save_timer(uv_timer_t *t)
{
	struct swarm *sw = t->data;
	if (!sw->gossip_open)
		return;
	swarm_refresh_seeds(sw);
	swarm_save_now(sw);
}

static void swarm_on_gossip_event(struct gossip_io *g, const struct swim_event *ev)
{
	struct swarm *sw = g->data;
	if ((ev->type == SWIM_EV_JOINED || ev->type == SWIM_EV_ALIVE) && !uv_is_active((uv_handle_t *)&sw->save_timer))
		uv_timer_start(&sw->save_timer, swarm_save_timer, SWARM_SAVE_DELAY_MS, 0);
	/* Managers come and go: the peer streams follow. */
	if (sw->mesh_open)
		peer_mesh_sync(&sw->mesh);
}

static int swarm_start_gossip(struct swarm *sw, char *err, size_t errlen)
{
	struct swim_config cfg;
	struct addr adv;
	uint8_t meta[NODE_META_MAX];
	size_t meta_len;
	char why[160];
	swim_config_default(&cfg);
	if (addr_parse(sw->st.gossip_advertise, CONFIG_GOSSIP_PORT, &adv, why, sizeof(why)) != 0 ||
	    gossip_addr_from_addr(&adv, &cfg.addr) != 0) {
		snprintf(err, errlen, "gossip advertise address %s: %s", sw->st.gossip_advertise, why);
		return -EINVAL;
	}
	if (swarm_meta(sw, meta, sizeof(meta), &meta_len) != 0) {
		snprintf(err, errlen, "node metadata does not fit");
		return -EMSGSIZE;
	}
	cfg.id = sw->st.node_id;
	cfg.meta = meta;
	cfg.meta_len = meta_len;
	randombytes_buf(&cfg.seed, sizeof(cfg.seed));
	/* Seconds since the epoch only grow across restarts, so a restarted node
	 * outranks what the others remember of it without storing a counter. */
	cfg.incarnation = wall_ms() / 1000;
	int rc = gossip_io_start(&sw->gossip, sw->loop, &sw->config->gossip_addr, &cfg, sw->keyring,
				 swarm_on_gossip_event, sw, err, errlen);
	if (rc != 0)
		return rc;
	sw->gossip_open = true;
	return 0;
}

static int swarm_rejoin_seeds(struct swarm *sw, const char (*seeds)[64], size_t n)
{
	struct swim_addr addrs[SWARM_STATE_MAX_SEEDS];
	size_t k = 0;
	for (size_t i = 0; i < n && k < SWARM_STATE_MAX_SEEDS; i++) {
		struct addr a;
		char why[160];
		if (addr_parse(seeds[i], CONFIG_GOSSIP_PORT, &a, why, sizeof(why)) == 0 &&
		    gossip_addr_from_addr(&a, &addrs[k]) == 0)
			k++;
	}
	return k ? gossip_io_join(&sw->gossip, addrs, k) : 0;
}

/* --- managers: admitting nodes ------------------------------------------------- */

static int manager_config(void *data, struct handshake_manager_config *cfg)
{
	struct swarm *sw = data;
	if (!swarm_is_manager(sw) || !sw->st.has_manager)
		return -EPERM;
	identity_keypair_from_seed(&cfg->root, sw->st.manager.root_seed);
	cfg->node = sw->node_key;
	memcpy(cfg->cert, sw->st.cert, sw->st.cert_len);
	cfg->cert_len = sw->st.cert_len;
	memcpy(cfg->worker_secret, sw->st.manager.worker_secret, TOKEN_SECRET_LEN);
	memcpy(cfg->manager_secret, sw->st.manager.manager_secret, TOKEN_SECRET_LEN);
	return 0;
}

static int manager_issue(void *data, enum identity_role role, const uint8_t *node_pk, char node_id[IDS_LEN + 1],
			 uint8_t *payload, size_t cap, size_t *payload_len)
{
	struct swarm *sw = data;
	struct join_payload p;
	memset(&p, 0, sizeof(p));
	do /* a machine removed before joins again as a new node (as in Docker) */
		random_id(node_id);
	while (swarm_node_revoked(sw, node_id));
	if (keyring_serialize(sw->keyring, p.keyring, sizeof(p.keyring), &p.keyring_len) != 0)
		return -EIO;
	/* Seeds: this manager first, then live members it knows. */
	snprintf(p.seeds[p.nseeds++], JOIN_PAYLOAD_ADDR_MAX, "%s", sw->st.gossip_advertise);
	swarm_refresh_seeds(sw);
	for (size_t i = 0; i < sw->st.nseeds && p.nseeds < JOIN_PAYLOAD_MAX_SEEDS; i++)
		snprintf(p.seeds[p.nseeds++], JOIN_PAYLOAD_ADDR_MAX, "%s", sw->st.seeds[i]);
	p.cluster_created_at_ms = sw->st.cluster_created_at_ms;
	if (role == IDENTITY_ROLE_MANAGER) {
		p.has_manager = true;
		memcpy(p.root_seed, sw->st.manager.root_seed, sizeof(p.root_seed));
		memcpy(p.worker_secret, sw->st.manager.worker_secret, sizeof(p.worker_secret));
		memcpy(p.manager_secret, sw->st.manager.manager_secret, sizeof(p.manager_secret));
	}
	int rc = join_payload_encode(&p, payload, cap, payload_len);
	sodium_memzero(&p, sizeof(p));
	return rc;
}

static const struct join_server_ops swarm_join_ops = {
	.config = manager_config,
	.issue = manager_issue,
};

static void swarm_component_closed(struct swarm *sw);

/* --- the cluster port and the peer streams ------------------------------------------ */

static void cluster_on_join(void *data, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes, size_t len)
{
	struct swarm *sw = data;
	join_server_adopt(&sw->join_server, tcp, peer, bytes, len);
}

static void cluster_on_peer(void *data, uv_tcp_t *tcp, const char *peer, const uint8_t *bytes, size_t len)
{
	struct swarm *sw = data;
	peer_mesh_adopt(&sw->mesh, tcp, peer, bytes, len);
}

static const struct cluster_listener_ops swarm_cluster_ops = {
	.on_join = cluster_on_join,
	.on_peer = cluster_on_peer,
};

/* Managers: the join server and the listener that feeds it and the peer streams. */
static int swarm_start_listener(struct swarm *sw, char *err, size_t errlen)
{
	struct addr listen;
	char why[160];
	if (addr_parse(sw->st.listen_addr, CONFIG_CLUSTER_PORT, &listen, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "listen address %s: %s", sw->st.listen_addr, why);
		return -EINVAL;
	}
	join_server_init(&sw->join_server, sw->loop, &swarm_join_ops, sw);
	sw->join_server_open = true;
	int rc = cluster_listener_start(&sw->listener, sw->loop, &listen, &swarm_cluster_ops, sw, err, errlen);
	if (rc == 0)
		sw->listener_open = true;
	return rc;
}

/* The managers gossip sees alive or suspect, for the peer streams. */
static size_t swarm_mesh_managers(void *data, struct peer_mesh_target *out, size_t cap)
{
	struct swarm *sw = data;
	struct swim_member_info mi;
	struct node_meta meta;
	char why[128];
	size_t n = 0;
	if (!sw->gossip_open)
		return 0;
	size_t count = swim_member_count(sw->gossip.swim);
	for (size_t i = 0; i < count && n < cap; i++) {
		if (swim_member_at(sw->gossip.swim, i, &mi) != 0 || mi.is_self ||
		    (mi.state != SWIM_ALIVE && mi.state != SWIM_SUSPECT) || mi.meta == NULL ||
		    node_meta_decode(mi.meta, mi.meta_len, &meta, why, sizeof(why)) != 0 ||
		    meta.role != NODE_ROLE_MANAGER || meta.cluster_addr[0] == '\0')
			continue;
		snprintf(out[n].node_id, sizeof(out[n].node_id), "%s", mi.id);
		snprintf(out[n].addr, sizeof(out[n].addr), "%s", meta.cluster_addr);
		n++;
	}
	return n;
}

static void swarm_role_message(struct swarm *sw, const char *from, const struct manager_msg *mm);

/* A manager message addressed to the node rather than its manager part. */
static bool swarm_is_role_msg(const uint8_t *body, size_t len, struct manager_msg *mm)
{
	char why[160];
	return manager_msg_decode(body, len, mm, why, sizeof(why)) == 0 &&
	       (mm->type == MANAGER_MSG_ROLE || mm->type == MANAGER_MSG_REMOVED);
}

/* Raft and manager messages come only from managers' streams. */
static void swarm_mesh_message(void *data, const char *from, enum identity_role from_role, uint64_t kind,
			       const uint8_t *body, size_t len)
{
	struct swarm *sw = data;
	struct manager_msg mm;
	if (kind == PEER_MSG_KEYRING)
		gossip_keys_on_message(&sw->keys, from, from_role, body, len);
	else if (kind == PEER_MSG_MANAGER && from_role == IDENTITY_ROLE_MANAGER && swarm_is_role_msg(body, len, &mm))
		swarm_role_message(sw, from, &mm);
	else if ((kind == PEER_MSG_RAFT || kind == PEER_MSG_MANAGER) && sw->manager != NULL &&
		 from_role == IDENTITY_ROLE_MANAGER)
		manager_receive(sw->manager, from, kind, body, len);
	else if (kind == PEER_MSG_DISPATCH && swarm_node_revoked(sw, from))
		/* A stream up when its node was removed, until the next mesh tick
		 * cuts it: its sessions and task reports are not taken. */
		log_debug("swarm", "dispatch message from a removed node dropped", LF_STR("node", from));
	else if (kind == PEER_MSG_DISPATCH)
		swarm_dispatch_message(sw, from, from_role, body, len);
	else
		sw->mesh.unknown_msgs++;
}

static void swarm_mesh_link_changed(void *data, const char *node_id, bool up)
{
	struct swarm *sw = data;
	gossip_keys_on_link(&sw->keys, node_id, up);
	if (!up && sw->manager != NULL)
		manager_link_down(sw->manager, node_id);
	swarm_dispatch_link_changed(sw, node_id, up);
}

/* A removed node's streams are refused; it is told why, so that it leaves
 * (swarm_role_message) instead of redialing forever. */
static bool swarm_mesh_allowed(void *data, const char *node_id, uint8_t *bye, size_t cap, size_t *bye_len)
{
	struct swarm *sw = data;
	if (!swarm_node_revoked(sw, node_id))
		return true;
	uint8_t body[16];
	size_t len;
	struct manager_msg mm = { .type = MANAGER_MSG_REMOVED };
	if (manager_msg_encode(&mm, body, sizeof(body), &len) != 0 ||
	    peer_msg_encode(PEER_MSG_MANAGER, body, len, bye, cap, bye_len) != 0)
		*bye_len = 0;
	return false;
}

static const struct peer_mesh_ops swarm_mesh_ops = {
	.managers = swarm_mesh_managers,
	.allowed = swarm_mesh_allowed,
	.message = swarm_mesh_message,
	.link_changed = swarm_mesh_link_changed,
};

/* --- the manager: Raft over the peer streams --------------------------------------- */

int swarm_peer_send(struct swarm *sw, const char *node_id, uint64_t kind, const uint8_t *body, size_t len)
{
	size_t cap = len + PEER_MSG_ENVELOPE_OVERHEAD, n;
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	int rc = peer_msg_encode(kind, body, len, buf, cap, &n);
	if (rc == 0)
		rc = peer_mesh_send(&sw->mesh, node_id, buf, n);
	free(buf);
	return rc;
}

static int swarm_manager_send(void *data, const char *node_id, const uint8_t *msg, size_t len)
{
	struct swarm *sw = data;
	return peer_mesh_send(&sw->mesh, node_id, msg, len);
}

static size_t swarm_manager_peers(void *data, char (*out)[IDS_LEN + 1], size_t cap)
{
	struct swarm *sw = data;
	struct peer_mesh_target t[RAFT_MAX_MEMBERS];
	size_t n = swarm_mesh_managers(sw, t, cap < RAFT_MAX_MEMBERS ? cap : RAFT_MAX_MEMBERS);
	for (size_t i = 0; i < n; i++)
		memcpy(out[i], t[i].node_id, IDS_LEN + 1);
	return n;
}

static void swarm_leader_changed(void *data, const char *leader, uint64_t term);

static const struct manager_ops swarm_manager_ops = {
	.send = swarm_manager_send,
	.managers = swarm_manager_peers,
	.leader_changed = swarm_leader_changed,
};

static void swarm_raft_dir(const struct swarm *sw, char *out, size_t len)
{
	snprintf(out, len, "%s/raft", sw->datadir->path);
}

static void swarm_manager_tick(uv_timer_t *t);
static void swarm_stop_manager(struct swarm *sw, void (*closed)(void *data));

static int swarm_start_manager(struct swarm *sw, bool force_new_cluster, char *err, size_t errlen)
{
	char dir[sizeof(sw->datadir->path) + 8];
	struct manager_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	swarm_raft_dir(sw, dir, sizeof(dir));
	cfg.dir = dir;
	memcpy(cfg.node_id, sw->st.node_id, sizeof(cfg.node_id));
	cfg.id = sw->st.manager.raft_id;
	cfg.bootstrap = sw->bootstrapping;
	cfg.force_new_cluster = force_new_cluster;
	randombytes_buf(&cfg.seed, sizeof(cfg.seed));
	int rc = manager_start(sw->loop, &cfg, &swarm_manager_ops, sw, &sw->manager, err, errlen);
	if (rc != 0)
		return rc;
	uv_timer_start(&sw->nodes_timer, swarm_manager_tick, SWARM_NODES_RECONCILE_MS, SWARM_NODES_RECONCILE_MS);
	uint64_t seed;
	randombytes_buf(&seed, sizeof(seed));
	rc = orchestrate_start(sw->loop, sw->manager, seed, &sw->orchestrate);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the orchestrator: %s", strerror(-rc));
		return rc;
	}
	/* A promoted or restarted manager serves agents too (at activation the
	 * agent starts later and this does nothing). */
	return swarm_dispatch_manager_started(sw, err, errlen);
}

static void swarm_orchestrate_closed(void *data)
{
	swarm_component_closed(data);
}

/* Stops what runs on the manager (node reconciling, the dispatcher, the
 * orchestrator), then the manager itself; closed(sw) runs once it is freed
 * and must end with swarm_component_closed(sw) (the hold taken here). Used
 * by shutdown, demotion and --force-new-cluster alike. */
static void swarm_stop_manager(struct swarm *sw, void (*closed)(void *data))
{
	if (sw->manager == NULL)
		return;
	uv_timer_stop(&sw->nodes_timer);
	swarm_dispatch_manager_stopping(sw);
	if (sw->orchestrate != NULL) {
		sw->closing++;
		orchestrate_stop(sw->orchestrate, swarm_orchestrate_closed, sw);
		sw->orchestrate = NULL;
	}
	sw->closing++;
	manager_close(sw->manager, closed, sw);
	sw->manager = NULL;
}

static void swarm_manager_closed(void *data)
{
	struct swarm *sw = data;
	swarm_component_closed(sw);
}

/* A new swarm starts with no Raft log: one left by an earlier swarm of this
 * data dir (after a leave) must not be read as this one's. */
static int swarm_wipe_raft(struct swarm *sw, char *err, size_t errlen)
{
	char dir[sizeof(sw->datadir->path) + 8];
	swarm_raft_dir(sw, dir, sizeof(dir));
	int rc = manager_wipe(dir);
	if (rc != 0)
		snprintf(err, errlen, "cannot remove the old raft log in %s: %s", dir, strerror(-rc));
	return rc;
}

/* Whether Raft has a leader and counts this manager as a voter. */
static bool swarm_raft_ready(const struct swarm *sw)
{
	struct manager_status ms;
	if (sw->manager == NULL)
		return false;
	manager_status(sw->manager, &ms);
	for (size_t i = 0; i < ms.n; i++)
		if (strcmp(ms.members[i].node_id, sw->st.node_id) == 0)
			return ms.quorum && ms.members[i].voter;
	return false;
}

/* Ends the wait of init or a manager's join once Raft counts this node. */
static void swarm_check_ready(struct swarm *sw)
{
	if (sw->ready_done == NULL)
		return;
	bool ready = swarm_raft_ready(sw);
	if (!ready && uv_now(sw->loop) < sw->ready_deadline && sw->manager != NULL)
		return;
	swarm_done_fn done = sw->ready_done;
	sw->ready_done = NULL;
	if (ready)
		done(sw->ready_data, 0, "ready");
	else
		done(sw->ready_data, -ETIMEDOUT,
		     "this node is in the swarm, but the Raft cluster has not counted it as a manager yet; "
		     "check that a majority of managers is up (docker node ls on another manager)");
}

static void swarm_wait_ready(struct swarm *sw, swarm_done_fn done, void *data)
{
	sw->ready_done = done;
	sw->ready_data = data;
	sw->ready_deadline = uv_now(sw->loop) + SWARM_READY_TIMEOUT_MS;
	swarm_check_ready(sw);
}

static void swarm_leader_changed(void *data, const char *leader, uint64_t term)
{
	swarm_check_ready(data);
}

static void swarm_manager_tick(uv_timer_t *t)
{
	struct swarm *sw = t->data;
	swarm_check_ready(sw);
	swarm_nodes_reconcile(sw);
}

/* A raft id: random, never zero. */
static uint64_t swarm_new_raft_id(void)
{
	uint64_t id = 0;
	while (id == 0)
		randombytes_buf(&id, sizeof(id));
	return id;
}

static int swarm_start_mesh(struct swarm *sw, char *err, size_t errlen)
{
	struct peer_io_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.node = sw->node_key;
	memcpy(cfg.cert, sw->st.cert, sw->st.cert_len);
	cfg.cert_len = sw->st.cert_len;
	memcpy(cfg.root_pk, sw->st.root_pk, sizeof(cfg.root_pk));
	memcpy(cfg.cluster_id, sw->st.cluster_id, sizeof(cfg.cluster_id));
	cfg.accept_roles = PEER_AUTH_ROLES_ANY;
	enum identity_role role = sw->st.role == NODE_ROLE_MANAGER ? IDENTITY_ROLE_MANAGER : IDENTITY_ROLE_WORKER;
	int rc = peer_mesh_start(&sw->mesh, sw->loop, &cfg, sw->st.node_id, role, &swarm_mesh_ops, sw, err,
				 errlen);
	sodium_memzero(&cfg, sizeof(cfg));
	if (rc == 0)
		sw->mesh_open = true;
	return rc;
}

static void swarm_stop_components(struct swarm *sw);

/* --- becoming active ------------------------------------------------------------- */

/* Derives keys from the loaded state and starts gossip (and, on a manager,
 * the cluster listener and join server) and the peer streams. On error
 * everything started is stopped again. */
static int swarm_activate(struct swarm *sw, char *err, size_t errlen)
{
	char why[256];
	identity_keypair_from_seed(&sw->node_key, sw->st.node_seed);
	sw->keyring = keyring_new();
	if (sw->keyring == NULL)
		return -ENOMEM;
	if (keyring_load(sw->keyring, sw->st.keyring, sw->st.keyring_len, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "gossip keyring: %s", why);
		goto err_after_keyring;
	}
	int rc = swarm_start_gossip(sw, err, errlen);
	if (rc != 0)
		goto err_after_keyring;
	if (sw->st.has_manager && sw->st.manager.raft_id == 0) {
		/* A state written before managers kept a Raft log. */
		sw->st.manager.raft_id = swarm_new_raft_id();
		swarm_save_now(sw);
	}
	if ((rc = swarm_start_mesh(sw, err, errlen)) != 0 ||
	    (sw->st.role == NODE_ROLE_MANAGER && (rc = swarm_start_listener(sw, err, errlen)) != 0) ||
	    (sw->st.has_manager && (rc = swarm_start_manager(sw, false, err, errlen)) != 0) ||
	    (rc = swarm_dispatch_start(sw, err, errlen)) != 0 ||
	    (rc = swarm_dispatch_manager_started(sw, err, errlen)) != 0) {
		swarm_stop_components(sw);
		goto err_after_keyring;
	}
	sw->state = SWARM_ACTIVE;
	peer_mesh_sync(&sw->mesh);
	return 0;

err_after_keyring:
	keyring_free(sw->keyring);
	sw->keyring = NULL;
	identity_keypair_wipe(&sw->node_key);
	return -EINVAL;
}

int swarm_start(struct swarm *sw, uv_loop_t *loop, const struct config *config,
		const struct datadir *datadir, const struct swarm_host *host)
{
	char err[512];
	memset(sw, 0, sizeof(*sw));
	sw->loop = loop;
	sw->config = config;
	sw->datadir = datadir;
	sw->host = *host;
	uv_timer_init(loop, &sw->save_timer);
	uv_timer_init(loop, &sw->leave_timer);
	uv_timer_init(loop, &sw->nodes_timer);
	sw->save_timer.data = sw->leave_timer.data = sw->nodes_timer.data = sw;
	gossip_keys_init(&sw->keys, loop, sw);
	int rc = swarm_state_load(&sw->st, datadir, err, sizeof(err));
	if (rc == -ENOENT)
		return 0;
	if (rc != 0) {
		log_error("swarm", "swarm state is damaged; move it away to leave the swarm", LF_STR("error", err));
		return rc;
	}
	if ((rc = swarm_activate(sw, err, sizeof(err))) != 0) {
		log_error("swarm", "cannot resume swarm membership", LF_STR("error", err));
		swarm_state_wipe(&sw->st);
		return rc;
	}
	log_info("swarm", "resumed swarm membership", LF_STR("node", sw->st.node_id),
		 LF_STR("role", node_role_name(sw->st.role)), LF_STR("cluster", sw->st.cluster_id),
		 LF_UINT("seeds", sw->st.nseeds));
	swarm_rejoin_seeds(sw, (const char (*)[64])sw->st.seeds, sw->st.nseeds);
	return 0;
}

/* --- init ----------------------------------------------------------------------- */

static void swarm_format_addrs(struct swarm_state *st, const struct addr *listen, const struct addr *advertise,
			       uint16_t gossip_port)
{
	struct addr gossip = *advertise;
	gossip.port = gossip_port;
	addr_format(listen, st->listen_addr, sizeof(st->listen_addr));
	addr_format(advertise, st->advertise_addr, sizeof(st->advertise_addr));
	addr_format(&gossip, st->gossip_advertise, sizeof(st->gossip_advertise));
}

/* Creates the cluster's keys and this node's manager identity in sw->st. */
static int swarm_create_identity(struct swarm *sw, char *err, size_t errlen)
{
	struct swarm_state *st = &sw->st;
	struct identity_keypair root, node;
	struct identity_cert cert;
	uint8_t gossip_key[KEYRING_KEY_LEN];
	uint64_t now = wall_ms();
	int rc = -EIO;
	random_id(st->cluster_id);
	random_id(st->node_id);
	st->role = NODE_ROLE_MANAGER;
	st->cluster_created_at_ms = st->joined_at_ms = now;
	randombytes_buf(st->node_seed, sizeof(st->node_seed));
	randombytes_buf(st->manager.root_seed, sizeof(st->manager.root_seed));
	randombytes_buf(st->manager.worker_secret, sizeof(st->manager.worker_secret));
	randombytes_buf(st->manager.manager_secret, sizeof(st->manager.manager_secret));
	st->has_manager = true;
	st->manager.version = 1;
	st->manager.updated_at_ms = now;
	st->manager.raft_id = swarm_new_raft_id();
	identity_keypair_from_seed(&root, st->manager.root_seed);
	identity_keypair_from_seed(&node, st->node_seed);
	memcpy(st->root_pk, root.pk, sizeof(st->root_pk));
	if (identity_cert_issue(&cert, st->node_id, IDENTITY_ROLE_MANAGER, node.pk, st->cluster_id, now,
				now + IDENTITY_CERT_LIFETIME_MS, root.sk) != 0 ||
	    identity_cert_encode(&cert, st->cert, sizeof(st->cert), &st->cert_len) != 0) {
		snprintf(err, errlen, "cannot issue this node's certificate");
		goto out;
	}
	struct keyring *kr = keyring_new();
	randombytes_buf(gossip_key, sizeof(gossip_key));
	if (kr == NULL || keyring_install(kr, gossip_key) != 0 || keyring_use(kr, gossip_key) != 0 ||
	    keyring_serialize(kr, st->keyring, sizeof(st->keyring), &st->keyring_len) != 0) {
		snprintf(err, errlen, "cannot create the gossip keyring");
		keyring_free(kr);
		goto out;
	}
	keyring_free(kr);
	rc = 0;
out:
	identity_keypair_wipe(&root);
	identity_keypair_wipe(&node);
	sodium_memzero(gossip_key, sizeof(gossip_key));
	return rc;
}

/* Saves the new state and starts; a node that cannot start forgets it again. */
static int swarm_commit(struct swarm *sw, char *err, size_t errlen)
{
	int rc = swarm_state_save(&sw->st, sw->datadir, err, errlen);
	if (rc == 0 && (rc = swarm_activate(sw, err, errlen)) != 0)
		swarm_state_remove(sw->datadir);
	if (rc != 0)
		swarm_state_wipe(&sw->st);
	return rc;
}

int swarm_init(struct swarm *sw, const char *listen_addr, const char *advertise_addr,
	       char node_id[IDS_LEN + 1], swarm_done_fn done, void *data, char *err, size_t errlen)
{
	struct addr listen, advertise;
	if (sw->state != SWARM_INACTIVE) {
		snprintf(err, errlen, "This node is already part of a swarm. Use \"docker swarm leave\" to leave "
			 "this swarm and join another one.");
		return -EALREADY;
	}
	int rc = swarm_addresses(sw, listen_addr, advertise_addr, &listen, &advertise, err, errlen);
	if (rc != 0)
		return rc;
	memset(&sw->st, 0, sizeof(sw->st));
	swarm_format_addrs(&sw->st, &listen, &advertise, sw->config->gossip_addr.port);
	if ((rc = swarm_create_identity(sw, err, errlen)) != 0 || (rc = swarm_wipe_raft(sw, err, errlen)) != 0)
		return rc;
	sw->bootstrapping = true;
	rc = swarm_commit(sw, err, errlen);
	sw->bootstrapping = false;
	if (rc != 0)
		return rc;
	memcpy(node_id, sw->st.node_id, IDS_LEN + 1);
	log_info("swarm", "swarm initialized", LF_STR("cluster", sw->st.cluster_id), LF_STR("node", node_id),
		 LF_STR("advertise", sw->st.advertise_addr), LF_STR("gossip", sw->st.gossip_advertise));
	swarm_wait_ready(sw, done, data);
	return 0;
}

/* --- role changes: node promote / demote, node rm --force --------------------------- */

static void swarm_stop_listener(struct swarm *sw);

/* Issues this node's certificate for role with the cluster's root key (which
 * a manager holds, and a promoted node has just received). */
static int swarm_issue_own_cert(struct swarm *sw, enum identity_role role, char *err, size_t errlen)
{
	struct identity_keypair root;
	struct identity_cert cert;
	uint64_t now = wall_ms();
	int rc = 0;
	identity_keypair_from_seed(&root, sw->st.manager.root_seed);
	if (sodium_memcmp(root.pk, sw->st.root_pk, sizeof(root.pk)) != 0) {
		snprintf(err, errlen, "the root key sent with the promotion is not this cluster's");
		rc = -EPERM;
	} else if (identity_cert_issue(&cert, sw->st.node_id, role, sw->node_key.pk, sw->st.cluster_id, now,
				       now + IDENTITY_CERT_LIFETIME_MS, root.sk) != 0 ||
		   identity_cert_encode(&cert, sw->st.cert, sizeof(sw->st.cert), &sw->st.cert_len) != 0) {
		snprintf(err, errlen, "cannot issue this node's certificate");
		rc = -EIO;
	}
	identity_keypair_wipe(&root);
	return rc;
}

static void swarm_mesh_restarted(struct peer_mesh *mesh)
{
	struct swarm *sw = mesh->data;
	char err[512];
	if (!sw->shutting_down && sw->state == SWARM_ACTIVE) {
		if (swarm_start_mesh(sw, err, sizeof(err)) != 0)
			log_error("swarm", "cannot restart the peer streams after a role change", LF_STR("error", err));
		else
			peer_mesh_sync(&sw->mesh); /* dial now, not at the next heartbeat */
	}
	swarm_component_closed(sw);
}

/* Peers authenticated the old certificate: every stream starts again with the new one. */
static void swarm_restart_mesh(struct swarm *sw)
{
	if (!sw->mesh_open)
		return;
	sw->mesh_open = false;
	sw->closing++;
	peer_mesh_close(&sw->mesh, swarm_mesh_restarted);
}

static void swarm_publish_meta(struct swarm *sw)
{
	uint8_t meta[NODE_META_MAX];
	size_t len;
	if (sw->gossip_open && swarm_meta(sw, meta, sizeof(meta), &len) == 0)
		gossip_io_set_meta(&sw->gossip, meta, len);
}

static void swarm_become_manager(struct swarm *sw, const uint8_t secrets[MANAGER_MSG_SECRETS_LEN])
{
	char err[512];
	struct swarm_state saved = sw->st;
	memcpy(sw->st.manager.root_seed, secrets, IDENTITY_SEED_LEN);
	memcpy(sw->st.manager.worker_secret, secrets + IDENTITY_SEED_LEN, TOKEN_SECRET_LEN);
	memcpy(sw->st.manager.manager_secret, secrets + IDENTITY_SEED_LEN + TOKEN_SECRET_LEN, TOKEN_SECRET_LEN);
	sw->st.manager.version = 1;
	sw->st.manager.updated_at_ms = wall_ms();
	sw->st.manager.raft_id = swarm_new_raft_id();
	int rc = swarm_issue_own_cert(sw, IDENTITY_ROLE_MANAGER, err, sizeof(err));
	if (rc == 0) {
		sw->st.role = NODE_ROLE_MANAGER;
		sw->st.has_manager = true;
		rc = swarm_wipe_raft(sw, err, sizeof(err));
	}
	if (rc == 0)
		rc = swarm_state_save(&sw->st, sw->datadir, err, sizeof(err));
	if (rc != 0) {
		sw->st = saved;
		log_error("swarm", "cannot become a manager", LF_STR("error", err));
		swarm_state_wipe(&saved);
		return;
	}
	swarm_state_wipe(&saved);
	log_info("swarm", "promoted: this node is now a manager", LF_STR("node", sw->st.node_id));
	if (swarm_start_listener(sw, err, sizeof(err)) != 0 || swarm_start_manager(sw, false, err, sizeof(err)) != 0)
		log_error("swarm", "cannot start the manager after a promotion", LF_STR("error", err));
	swarm_publish_meta(sw);
	swarm_restart_mesh(sw);
}

static void swarm_demoted_manager_closed(void *data)
{
	struct swarm *sw = data;
	char err[512];
	if (swarm_wipe_raft(sw, err, sizeof(err)) != 0)
		log_warn("swarm", "cannot remove the raft log after a demotion", LF_STR("error", err));
	swarm_component_closed(sw);
}

static void swarm_become_worker(struct swarm *sw)
{
	char err[512];
	struct swarm_state saved = sw->st;
	int rc = swarm_issue_own_cert(sw, IDENTITY_ROLE_WORKER, err, sizeof(err));
	if (rc == 0) {
		sw->st.role = NODE_ROLE_WORKER;
		sw->st.has_manager = false;
		sodium_memzero(&sw->st.manager, sizeof(sw->st.manager));
		rc = swarm_state_save(&sw->st, sw->datadir, err, sizeof(err));
	}
	if (rc != 0) {
		sw->st = saved;
		swarm_state_wipe(&saved);
		log_error("swarm", "cannot become a worker", LF_STR("error", err));
		return;
	}
	swarm_state_wipe(&saved);
	log_info("swarm", "demoted: this node is now a worker", LF_STR("node", sw->st.node_id));
	swarm_stop_manager(sw, swarm_demoted_manager_closed);
	swarm_stop_listener(sw);
	swarm_publish_meta(sw);
	swarm_restart_mesh(sw);
}

int swarm_send_manager_msg(struct swarm *sw, const char *node_id, const struct manager_msg *mm)
{
	uint8_t buf[1024];
	size_t len;
	if (manager_msg_encoded_max(mm) > sizeof(buf) || manager_msg_encode(mm, buf, sizeof(buf), &len) != 0)
		return -EINVAL;
	return swarm_peer_send(sw, node_id, PEER_MSG_MANAGER, buf, len);
}

bool swarm_node_revoked(const struct swarm *sw, const char *node_id)
{
	if (sw->manager == NULL)
		return false;
	const json_t *cluster = store_at(manager_store(sw->manager), STORE_KIND_CLUSTER, 0);
	return removed_nodes_contains(cluster, node_id, (int64_t)wall_ms() * 1000000);
}

int swarm_revoke_node(const struct swarm *sw, struct store_txn *txn, const char *node_id, char *err,
		      size_t errlen)
{
	if (sw->manager == NULL) {
		snprintf(err, errlen, "this node is not a manager");
		return STORE_E_INVALID;
	}
	json_t *cluster = store_at(manager_store(sw->manager), STORE_KIND_CLUSTER, 0), *next;
	int64_t now = (int64_t)wall_ms() * 1000000;
	int rc = removed_nodes_add(cluster, sw->st.cluster_id, node_id, now,
				   now + (int64_t)IDENTITY_CERT_LIFETIME_MS * 1000000, &next);
	if (rc != 0) {
		snprintf(err, errlen, "cannot list node %s as removed: %s", node_id,
			 rc == -ENOSPC ? "the cluster's list of removed nodes is full" : strerror(-rc));
		return rc == -ENOMEM ? STORE_E_NOMEM : STORE_E_INVALID;
	}
	/* The version read here makes a concurrent removal's write conflict
	 * (409) instead of one list overwriting the other. */
	const char *id = json_string_value(json_object_get(cluster, "ID"));
	uint64_t version = (uint64_t)json_integer_value(json_object_get(json_object_get(cluster, "Version"), "Index"));
	rc = cluster == NULL ? store_txn_create(txn, STORE_KIND_CLUSTER, next, err, errlen)
			     : store_txn_update(txn, STORE_KIND_CLUSTER, id, version, next, err, errlen);
	json_decref(next);
	return rc;
}

/* ROLE and REMOVED come from a manager's stream (the caller checked). */
static void swarm_role_message(struct swarm *sw, const char *from, const struct manager_msg *mm)
{
	if (sw->state != SWARM_ACTIVE)
		return;
	if (mm->type == MANAGER_MSG_REMOVED) {
		log_warn("swarm", "this node was removed from the swarm by a manager; leaving", LF_STR("by", from));
		if (swarm_leave(sw, true, NULL, NULL) != 0)
			log_error("swarm", "cannot leave after being removed");
		return;
	}
	if (mm->role == NODE_ROLE_MANAGER && sw->st.role != NODE_ROLE_MANAGER)
		swarm_become_manager(sw, mm->secrets);
	else if (mm->role == NODE_ROLE_WORKER && sw->st.role == NODE_ROLE_MANAGER)
		swarm_become_worker(sw);
}

/* --force-new-cluster: the manager restarts from its own log as the only voter. */
static void swarm_forced_restart(void *data)
{
	struct swarm *sw = data;
	char err[512];
	swarm_done_fn done = sw->forcing_done;
	sw->forcing_done = NULL;
	if (sw->shutting_down || sw->state != SWARM_ACTIVE) {
		done(sw->forcing_data, -ECANCELED, "the node stopped before the new cluster started");
	} else if (swarm_start_manager(sw, true, err, sizeof(err)) != 0) {
		log_error("swarm", "cannot force a new cluster", LF_STR("error", err));
		done(sw->forcing_data, -EIO, err);
	} else {
		swarm_wait_ready(sw, done, sw->forcing_data);
	}
	swarm_component_closed(sw); /* the hold swarm_force_new_cluster took */
}

int swarm_force_new_cluster(struct swarm *sw, char node_id[IDS_LEN + 1], swarm_done_fn done, void *data,
			    char *err, size_t errlen)
{
	if (sw->manager == NULL || !sw->st.has_manager) {
		snprintf(err, errlen, "--force-new-cluster recovers a manager of an existing swarm; this node is not one");
		return -EPERM;
	}
	if (sw->ready_done != NULL || sw->forcing_done != NULL) {
		snprintf(err, errlen, "this manager is still starting; try again in a few seconds");
		return -EBUSY;
	}
	memcpy(node_id, sw->st.node_id, IDS_LEN + 1);
	sw->forcing_done = done;
	sw->forcing_data = data;
	swarm_stop_manager(sw, swarm_forced_restart); /* swarm_close waits for the restart to settle */
	return 0;
}

/* --- join ---------------------------------------------------------------------- */

static int swarm_join_next(struct swarm *sw);

/* Turns the finished handshake into this node's state and starts it. */
static int swarm_join_accept(struct swarm *sw, char *err, size_t errlen)
{
	struct swarm_join_pending *jp = sw->join;
	const struct handshake *hs = join_client_handshake(sw->join_client);
	const struct identity_cert *cert = handshake_issued_cert(hs);
	size_t cert_len, payload_len;
	const uint8_t *cert_bytes = handshake_issued_cert_bytes(hs, &cert_len);
	const uint8_t *payload = handshake_payload(hs, &payload_len);
	struct join_payload p;
	char why[256];
	if (join_payload_decode(payload, payload_len, &p, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "the manager's welcome is malformed: %s", why);
		return -EPROTO;
	}
	struct swarm_state *st = &sw->st;
	memset(st, 0, sizeof(*st));
	memcpy(st->cluster_id, cert->cluster_id, sizeof(st->cluster_id));
	memcpy(st->node_id, cert->node_id, sizeof(st->node_id));
	st->role = cert->role == IDENTITY_ROLE_MANAGER ? NODE_ROLE_MANAGER : NODE_ROLE_WORKER;
	st->cluster_created_at_ms = p.cluster_created_at_ms;
	st->joined_at_ms = wall_ms();
	memcpy(st->node_seed, jp->node_seed, sizeof(st->node_seed));
	memcpy(st->cert, cert_bytes, cert_len);
	st->cert_len = cert_len;
	memcpy(st->root_pk, handshake_root_pk(hs), sizeof(st->root_pk));
	swarm_format_addrs(st, &jp->listen, &jp->advertise, sw->config->gossip_addr.port);
	memcpy(st->keyring, p.keyring, p.keyring_len);
	st->keyring_len = p.keyring_len;
	for (size_t i = 0; i < p.nseeds && i < SWARM_STATE_MAX_SEEDS; i++)
		memcpy(st->seeds[st->nseeds++], p.seeds[i], sizeof(st->seeds[0]));
	if (p.has_manager && st->role == NODE_ROLE_MANAGER) {
		st->has_manager = true;
		memcpy(st->manager.root_seed, p.root_seed, sizeof(p.root_seed));
		memcpy(st->manager.worker_secret, p.worker_secret, sizeof(p.worker_secret));
		memcpy(st->manager.manager_secret, p.manager_secret, sizeof(p.manager_secret));
		st->manager.version = 1;
		st->manager.updated_at_ms = st->joined_at_ms;
		st->manager.raft_id = swarm_new_raft_id();
	}
	sodium_memzero(&p, sizeof(p));
	int rc = swarm_wipe_raft(sw, err, errlen);
	if (rc == 0)
		rc = swarm_commit(sw, err, errlen);
	if (rc == 0)
		swarm_rejoin_seeds(sw, (const char (*)[64])sw->st.seeds, sw->st.nseeds);
	return rc;
}

static void swarm_join_finish(struct swarm *sw, int status, const char *message)
{
	struct swarm_join_pending *jp = sw->join;
	sw->join = NULL;
	if (sw->join_client) {
		join_client_free(sw->join_client);
		sw->join_client = NULL;
	}
	if (status == 0)
		log_info("swarm", "joined the swarm", LF_STR("node", sw->st.node_id),
			 LF_STR("role", node_role_name(sw->st.role)), LF_STR("cluster", sw->st.cluster_id));
	else
		log_warn("swarm", "join failed", LF_STR("error", message));
	sodium_memzero(jp->node_seed, sizeof(jp->node_seed));
	if (status == 0 && sw->manager != NULL)
		swarm_wait_ready(sw, jp->done, jp->data);
	else
		jp->done(jp->data, status, message);
	free(jp);
}

static void swarm_join_done(struct join_client *jc, int status, const char *message, void *data)
{
	struct swarm *sw = data;
	struct swarm_join_pending *jp = sw->join;
	char err[512];
	if (status == 0) {
		int rc = swarm_join_accept(sw, err, sizeof(err));
		sw->state = rc == 0 ? SWARM_ACTIVE : SWARM_INACTIVE;
		swarm_join_finish(sw, rc, rc == 0 ? "joined" : err);
		return;
	}
	snprintf(jp->last_error, sizeof(jp->last_error), "%s", message);
	join_client_free(jc);
	sw->join_client = NULL;
	/* Refusals are final; an unreachable manager lets the next one try. */
	if (status == -EHOSTUNREACH || status == -ETIMEDOUT) {
		if (swarm_join_next(sw) == 0)
			return;
	}
	sw->state = SWARM_INACTIVE;
	swarm_join_finish(sw, status, jp->last_error);
}

/* Starts the handshake with the next manager address. Returns -ENOENT when
 * none is left. */
static int swarm_join_next(struct swarm *sw)
{
	struct swarm_join_pending *jp = sw->join;
	struct handshake_joiner_config cfg;
	while (jp->next < jp->nremotes) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.token = jp->token;
		identity_keypair_from_seed(&cfg.node, jp->node_seed);
		randombytes_buf(cfg.ephemeral_seed, sizeof(cfg.ephemeral_seed));
		const struct addr *to = &jp->remotes[jp->next++];
		int rc = join_client_start(&sw->join_client, sw->loop, to, &cfg, swarm_join_done, sw);
		sodium_memzero(&cfg, sizeof(cfg));
		if (rc == 0)
			return 0;
		snprintf(jp->last_error, sizeof(jp->last_error), "cannot reach manager at %s: %s", to->host,
			 uv_strerror(rc));
	}
	return -ENOENT;
}

static int swarm_join_prepare(struct swarm *sw, struct swarm_join_pending *jp, const char *token,
			      const char *const *remotes, size_t nremotes, const char *listen_addr,
			      const char *advertise_addr, char *err, size_t errlen)
{
	char why[256];
	if (token == NULL || token_parse(token, &jp->token, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "invalid join token: %s", token ? why : "a join token is required");
		return -EINVAL;
	}
	if (nremotes == 0 || nremotes > sizeof(jp->remotes) / sizeof(jp->remotes[0])) {
		snprintf(err, errlen, "give between 1 and 8 manager addresses to join through");
		return -EINVAL;
	}
	for (size_t i = 0; i < nremotes; i++) {
		if (addr_parse(remotes[i], CONFIG_CLUSTER_PORT, &jp->remotes[i], why, sizeof(why)) != 0) {
			snprintf(err, errlen, "invalid manager address: %s", why);
			return -EINVAL;
		}
	}
	jp->nremotes = nremotes;
	return swarm_addresses(sw, listen_addr, advertise_addr, &jp->listen, &jp->advertise, err, errlen);
}

int swarm_join(struct swarm *sw, const char *token, const char *const *remotes, size_t nremotes,
	       const char *listen_addr, const char *advertise_addr, swarm_done_fn done, void *data,
	       char *err, size_t errlen)
{
	if (sw->state != SWARM_INACTIVE) {
		snprintf(err, errlen, "This node is already part of a swarm. Use \"docker swarm leave\" to leave "
			 "this swarm and join another one.");
		return -EALREADY;
	}
	struct swarm_join_pending *jp = calloc(1, sizeof(*jp));
	if (jp == NULL)
		return -ENOMEM;
	int rc = swarm_join_prepare(sw, jp, token, remotes, nremotes, listen_addr, advertise_addr, err, errlen);
	if (rc == 0 && sw->loop == NULL) {
		snprintf(err, errlen, "the swarm layer is not running");
		rc = -ENOTCONN;
	}
	if (rc != 0) {
		free(jp);
		return rc;
	}
	randombytes_buf(jp->node_seed, sizeof(jp->node_seed));
	jp->done = done;
	jp->data = data;
	sw->join = jp;
	sw->state = SWARM_PENDING;
	if (swarm_join_next(sw) != 0) {
		snprintf(err, errlen, "%s", jp->last_error);
		sw->join = NULL;
		sw->state = SWARM_INACTIVE;
		free(jp);
		return -EHOSTUNREACH;
	}
	return 0;
}

/* --- leave and shutdown ------------------------------------------------------------ */

static void swarm_component_closed(struct swarm *sw)
{
	if (--sw->closing == 0 && sw->on_closed) {
		void (*cb)(struct swarm *) = sw->on_closed;
		sw->on_closed = NULL;
		cb(sw);
	}
}

static void swarm_gossip_closed(struct gossip_io *g)
{
	swarm_component_closed(g->data);
}

static void swarm_join_server_closed(struct join_server *js)
{
	swarm_component_closed(js->data);
}

static void swarm_listener_closed(struct cluster_listener *cl)
{
	swarm_component_closed(cl->data);
}

static void swarm_mesh_closed(struct peer_mesh *m)
{
	swarm_component_closed(m->data);
}

static void swarm_timer_closed(uv_handle_t *h)
{
	swarm_component_closed(h->data);
}

static void swarm_keys_closed(struct gossip_keys *gk)
{
	swarm_component_closed(gk->sw);
}

static void swarm_dispatch_closed(struct swarm *sw)
{
	swarm_component_closed(sw);
}

/* Managers: stops the cluster port and the join server. */
static void swarm_stop_listener(struct swarm *sw)
{
	if (sw->listener_open) {
		sw->closing++;
		sw->listener_open = false;
		cluster_listener_close(&sw->listener, swarm_listener_closed);
	}
	if (sw->join_server_open) {
		sw->closing++;
		sw->join_server_open = false;
		join_server_close(&sw->join_server, swarm_join_server_closed);
	}
}

/* Stops the agent (and its tasks), the dispatcher, gossip, the cluster
 * listener, the join server and the peer streams. */
static void swarm_stop_components(struct swarm *sw)
{
	if (swarm_dispatch_stop(sw, swarm_dispatch_closed))
		sw->closing++;
	if (sw->gossip_open) {
		sw->closing++;
		sw->gossip_open = false;
		gossip_io_close(&sw->gossip, swarm_gossip_closed);
	}
	swarm_stop_listener(sw);
	if (sw->mesh_open) {
		sw->closing++;
		sw->mesh_open = false;
		peer_mesh_close(&sw->mesh, swarm_mesh_closed);
	}
	if (sw->ready_done != NULL) {
		swarm_done_fn done = sw->ready_done;
		sw->ready_done = NULL;
		done(sw->ready_data, -ECANCELED, "the node stopped before the Raft cluster counted it as a manager");
	}
	swarm_stop_manager(sw, swarm_manager_closed);
}

/* Stops every component; the keys are wiped. */
static void swarm_deactivate(struct swarm *sw)
{
	uv_timer_stop(&sw->save_timer);
	gossip_keys_abort(&sw->keys, "this node left the swarm");
	swarm_stop_components(sw);
	keyring_free(sw->keyring);
	sw->keyring = NULL;
	identity_keypair_wipe(&sw->node_key);
}

static void swarm_leave_finish(struct swarm *sw, const char *how)
{
	uv_timer_stop(&sw->leave_timer);
	log_info("swarm", "left the swarm", LF_STR("node", sw->st.node_id), LF_STR("how", how));
	swarm_deactivate(sw);
	int rc = swarm_state_remove(sw->datadir);
	if (rc != 0)
		log_error("swarm", "cannot remove the swarm state", LF_STR("error", strerror(-rc)));
	swarm_state_wipe(&sw->st);
	sw->state = SWARM_INACTIVE;
	swarm_done_fn done = sw->leave_done;
	sw->leave_done = NULL;
	if (done)
		done(sw->leave_data, rc, rc == 0 ? "left" : "cannot remove the swarm state");
}

static void swarm_leave_poll(uv_timer_t *t)
{
	struct swarm *sw = t->data;
	if (swim_leave_done(sw->gossip.swim))
		swarm_leave_finish(sw, "announced");
	else if (uv_now(sw->loop) >= sw->leave_deadline)
		swarm_leave_finish(sw, "timed out announcing");
}

int swarm_leave(struct swarm *sw, bool force, swarm_done_fn done, void *data)
{
	if (sw->state != SWARM_ACTIVE)
		return -ENOTCONN;
	if (sw->st.role == NODE_ROLE_MANAGER && !force)
		return -EPERM;
	sw->state = SWARM_LEAVING;
	sw->leave_done = done;
	sw->leave_data = data;
	gossip_io_leave(&sw->gossip);
	/* swim has no "leave spread" event: look at it until done or the deadline. */
	sw->leave_deadline = uv_now(sw->loop) + SWARM_LEAVE_TIMEOUT_MS;
	uv_timer_start(&sw->leave_timer, swarm_leave_poll, 0, SWARM_LEAVE_POLL_MS);
	return 0;
}

void swarm_close(struct swarm *sw, void (*on_closed)(struct swarm *sw))
{
	sw->on_closed = on_closed;
	sw->shutting_down = true;
	sw->closing++; /* held until everything below is under way */
	if (sw->join_client) {
		join_client_free(sw->join_client); /* answers the waiting API call */
		sw->join_client = NULL;
	}
	if (sw->state == SWARM_LEAVING)
		swarm_leave_finish(sw, "interrupted by shutdown");
	if (sw->gossip_open) {
		swarm_refresh_seeds(sw);
		swarm_save_now(sw);
	}
	sw->closing++;
	gossip_keys_close(&sw->keys, swarm_keys_closed);
	swarm_deactivate(sw);
	swarm_state_wipe(&sw->st);
	sw->closing += 3;
	uv_close((uv_handle_t *)&sw->save_timer, swarm_timer_closed);
	uv_close((uv_handle_t *)&sw->leave_timer, swarm_timer_closed);
	uv_close((uv_handle_t *)&sw->nodes_timer, swarm_timer_closed);
	swarm_component_closed(sw);
}

/* --- tokens ---------------------------------------------------------------------- */

int swarm_rotate_tokens(struct swarm *sw, bool worker, bool manager)
{
	char err[512];
	if (!swarm_is_manager(sw) || !sw->st.has_manager)
		return -EPERM;
	if (!worker && !manager)
		return 0;
	struct swarm_manager_secrets saved = sw->st.manager;
	if (worker)
		randombytes_buf(sw->st.manager.worker_secret, TOKEN_SECRET_LEN);
	if (manager)
		randombytes_buf(sw->st.manager.manager_secret, TOKEN_SECRET_LEN);
	sw->st.manager.version++;
	sw->st.manager.updated_at_ms = wall_ms();
	int rc = swarm_state_save(&sw->st, sw->datadir, err, sizeof(err));
	if (rc != 0) {
		/* Not durable: keep the tokens users already have. */
		sw->st.manager = saved;
		log_error("swarm", "cannot rotate join tokens", LF_STR("error", err));
	} else {
		log_info("swarm", "join tokens rotated", LF_BOOL("worker", worker), LF_BOOL("manager", manager));
	}
	sodium_memzero(&saved, sizeof(saved));
	return rc;
}

int swarm_tokens(const struct swarm *sw, char worker[TOKEN_STR_LEN + 1], char manager[TOKEN_STR_LEN + 1])
{
	struct token t;
	if (!swarm_is_manager(sw) || !sw->st.has_manager)
		return -EPERM;
	token_make(&t, sw->st.root_pk, sw->st.manager.worker_secret);
	token_format(&t, worker);
	token_make(&t, sw->st.root_pk, sw->st.manager.manager_secret);
	token_format(&t, manager);
	sodium_memzero(&t, sizeof(t));
	return 0;
}

/* --- nodes ----------------------------------------------------------------------- */

size_t swarm_node_count(const struct swarm *sw)
{
	return sw->gossip_open ? swim_member_count(sw->gossip.swim) : 0;
}

static void swarm_node_from_member(const struct swarm *sw, const struct swim_member_info *mi,
				   struct swarm_node *out)
{
	char why[128];
	memset(out, 0, sizeof(*out));
	out->id = mi->id;
	out->self = mi->is_self;
	out->state = mi->state;
	out->incarnation = mi->incarnation;
	out->has_meta = mi->meta && node_meta_decode(mi->meta, mi->meta_len, &out->meta, why, sizeof(why)) == 0;
	swim_addr_format(&mi->addr, out->gossip_addr, sizeof(out->gossip_addr));
	uint64_t now = uv_now(sw->loop);
	uint64_t ago = now > mi->state_change_ms ? now - mi->state_change_ms : 0;
	out->changed_at_ms = wall_ms() - ago;
}

int swarm_node_at(const struct swarm *sw, size_t i, struct swarm_node *out)
{
	struct swim_member_info mi;
	if (!sw->gossip_open || swim_member_at(sw->gossip.swim, i, &mi) != 0)
		return -ENOENT;
	swarm_node_from_member(sw, &mi, out);
	return 0;
}

/* Docker accepts a full id, a unique id prefix or a hostname. */
int swarm_node_find(const struct swarm *sw, const char *key, struct swarm_node *out)
{
	struct swarm_node n;
	size_t matches = 0;
	if (!sw->gossip_open || *key == '\0')
		return -ENOENT;
	for (size_t i = 0; swarm_node_at(sw, i, &n) == 0; i++) {
		if (strcmp(n.id, key) == 0) {
			*out = n;
			return 0;
		}
		if (ids_has_prefix(n.id, key) || (n.has_meta && strcmp(n.meta.hostname, key) == 0)) {
			*out = n;
			matches++;
		}
	}
	return matches == 1 ? 0 : matches == 0 ? -ENOENT : -EEXIST;
}
