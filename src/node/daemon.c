/* daemon: the long-running node process; wires the loop, the control socket and (later) the cluster planes. */
#include "swarmnode/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "sn_build_info.h"
#include "swarmnode/api.h"
#include "swarmnode/datadir.h"
#include "swarmnode/http_server.h"
#include "swarmnode/ids.h"
#include "swarmnode/log.h"
#include "swarmnode/runtime_engine.h"
#include "swarmnode/swarm.h"

#define DAEMON_ENGINE_ID_FILE "engine-id"
#define DAEMON_SOCKET_MODE 0660

struct daemon {
	const struct config *config;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct datadir datadir;
	struct api api;
	struct swarm swarm;
	bool swarm_started;
	struct http_server http;
	int signals_open;
	bool shutting_down;
	int exit_code;
};

/* Loads this daemon's persistent id, creating it on first start. A damaged
 * file stops the daemon rather than silently replacing its identity. */
static int daemon_engine_id(struct daemon *d, char out[IDS_LEN + 1])
{
	char buf[128];
	int n = datadir_read(&d->datadir, DAEMON_ENGINE_ID_FILE, buf, sizeof(buf));
	if (n >= 0) {
		if (!ids_valid(buf)) {
			log_error("daemon", "engine id file is corrupt; move it away to create a new one",
				  LF_STR("file", DAEMON_ENGINE_ID_FILE), LF_STR("dir", d->datadir.path));
			return -EINVAL;
		}
		memcpy(out, buf, IDS_LEN + 1);
		return 0;
	}
	if (n != -ENOENT) {
		log_error("daemon", "cannot read engine id", LF_STR("error", strerror(-n)));
		return n;
	}
	uint8_t entropy[IDS_ENTROPY];
	randombytes_buf(entropy, sizeof(entropy));
	ids_format(entropy, out);
	char line[IDS_LEN + 2];
	snprintf(line, sizeof(line), "%s\n", out);
	int rc = datadir_write(&d->datadir, DAEMON_ENGINE_ID_FILE, line, IDS_LEN + 1);
	if (rc != 0)
		log_error("daemon", "cannot write engine id", LF_STR("error", strerror(-rc)));
	return rc;
}

static int mkdir_for_socket(const char *path)
{
	char dir[CONFIG_SOCKET_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file left by a crashed daemon is removed; one a live daemon
 * answers on is refused, as is any path that is not a socket. */
static int daemon_claim_socket(const char *path)
{
	struct stat st;
	int rc = mkdir_for_socket(path);
	if (rc != 0) {
		log_error("daemon", "cannot create the socket's directory", LF_STR("socket", path),
			  LF_STR("error", strerror(-rc)));
		return rc;
	}
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("daemon", "socket path exists and is not a socket", LF_STR("socket", path));
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int why = errno;
	close(fd);
	if (rc == 0) {
		log_error("daemon", "socket is in use by a running daemon", LF_STR("socket", path));
		return -EADDRINUSE;
	}
	if (why != ECONNREFUSED) {
		log_error("daemon", "cannot check socket", LF_STR("socket", path), LF_STR("error", strerror(why)));
		return -why;
	}
	if (unlink(path) != 0) {
		log_error("daemon", "cannot remove stale socket", LF_STR("socket", path),
			  LF_STR("error", strerror(errno)));
		return -errno;
	}
	log_info("daemon", "removed stale socket", LF_STR("socket", path));
	return 0;
}

static void daemon_signal_closed(uv_handle_t *h)
{
	struct daemon *d = h->data;
	d->signals_open--;
}

static void daemon_http_closed(struct http_server *srv)
{
	struct daemon *d = (struct daemon *)((char *)srv - offsetof(struct daemon, http));
	d->sigint.data = d->sigterm.data = d;
	uv_close((uv_handle_t *)&d->sigint, daemon_signal_closed);
	uv_close((uv_handle_t *)&d->sigterm, daemon_signal_closed);
}

/* The swarm answers API calls it had in flight (a join, a leave) as it
 * closes, so the control socket closes after it. */
static void daemon_swarm_closed(struct swarm *sw)
{
	struct daemon *d = (struct daemon *)((char *)sw - offsetof(struct daemon, swarm));
	http_server_close(&d->http, daemon_http_closed);
}

static void daemon_on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	if (d->shutting_down)
		return;
	log_info("daemon", "shutting down", LF_STR("signal", signum == SIGINT ? "SIGINT" : "SIGTERM"));
	uv_signal_stop(&d->sigint);
	uv_signal_stop(&d->sigterm);
	d->shutting_down = true;
	swarm_close(&d->swarm, daemon_swarm_closed);
}

static const char *detect_failure(int rc)
{
	return rc == -ELIBACC ? "libcurl cannot be loaded" : rc == -ENOENT ? "no engine detected" : uv_strerror(rc);
}

/* An engine named by --engine-socket must answer: the user asked for it. */
static int daemon_check_engine(const struct config *c)
{
	int rc = runtime_engine_ping(c->engine_socket);
	if (rc == 0)
		return 0;
	const char *why = rc == -ENOENT ? "no socket there" : rc == -ELIBACC ? "libcurl cannot be loaded"
									   : "no engine answers on it";
	log_error("daemon", "engine runtime: the engine socket does not answer", LF_STR("engine_socket", c->engine_socket),
		  LF_STR("error", why));
	return rc;
}

/* Resolves --runtime auto into exec or engine before the loop serves
 * anything: detection blocks (up to a second per candidate socket), which
 * only a daemon that is not serving yet can afford. On return c->runtime is
 * EXEC or ENGINE, and engine_socket is the engine's socket for ENGINE, ""
 * for EXEC. */
static int daemon_choose_runtime(struct config *c)
{
	const char *how = "--engine-socket";
	if (c->runtime == CONFIG_RUNTIME_EXEC) {
		c->engine_socket[0] = '\0';
		how = "--runtime exec";
	} else if (c->engine_socket[0] != '\0') {
		int rc = daemon_check_engine(c);
		if (rc != 0)
			return rc;
		c->runtime = CONFIG_RUNTIME_ENGINE;
	} else {
		int rc = runtime_engine_detect(c->engine_socket, sizeof(c->engine_socket));
		if (rc != 0 && c->runtime == CONFIG_RUNTIME_ENGINE) {
			log_error("daemon", "--runtime engine: no engine answers on $DOCKER_HOST, /var/run/docker.sock, "
				  "/run/podman/podman.sock or $XDG_RUNTIME_DIR/podman/podman.sock; name one with "
				  "--engine-socket", LF_STR("error", detect_failure(rc)));
			return rc;
		}
		c->runtime = rc == 0 ? CONFIG_RUNTIME_ENGINE : CONFIG_RUNTIME_EXEC;
		if (rc != 0)
			c->engine_socket[0] = '\0';
		how = rc == 0 ? "detected" : detect_failure(rc);
	}
	log_info("daemon", "task runtime", LF_STR("runtime", config_runtime_name(c->runtime)),
		 LF_STR("engine_socket", c->engine_socket), LF_STR("chosen_by", how));
	return 0;
}

static int daemon_start(struct daemon *d)
{
	char err[512];
	char engine_id[IDS_LEN + 1];
	int rc = datadir_open(&d->datadir, d->config->data_dir, err, sizeof(err));
	if (rc != 0) {
		log_error("daemon", err);
		return rc;
	}
	if ((rc = daemon_engine_id(d, engine_id)) != 0)
		return rc;
	if ((rc = daemon_claim_socket(d->config->socket_path)) != 0)
		return rc;
	api_init(&d->api, d->config, &d->swarm, engine_id);
	const struct swarm_host host = {
		.hostname = d->api.host.hostname, .os = "linux", .arch = d->api.host.arch_uname,
		.ncpu = d->api.host.ncpu, .memory = d->api.host.mem_total,
	};
	if ((rc = swarm_start(&d->swarm, &d->loop, d->config, &d->datadir, &host)) != 0)
		return rc;
	d->swarm_started = true;
	http_server_init(&d->http, &d->loop, api_handle, &d->api);
	api_configure_http(&d->api, &d->http.config);
	rc = http_server_listen(&d->http, d->config->socket_path, DAEMON_SOCKET_MODE);
	if (rc != 0) {
		log_error("daemon", "cannot listen on the control socket", LF_STR("socket", d->config->socket_path),
			  LF_STR("error", uv_strerror(rc)));
		return rc;
	}
	return 0;
}

int daemon_run(const struct config *asked)
{
	struct config resolved = *asked;
	const struct config *config = &resolved;
	struct daemon d = {.config = config, .exit_code = 0};
	d.datadir.lock_fd = -1;
	log_configure(config->log_level, config->log_format, NULL);
	if (daemon_choose_runtime(&resolved) != 0)
		return 1;
	if (sodium_init() < 0) {
		log_error("daemon", "libsodium failed to initialise");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&d.loop);
	uv_signal_init(&d.loop, &d.sigint);
	uv_signal_init(&d.loop, &d.sigterm);
	d.sigint.data = d.sigterm.data = &d;
	d.signals_open = 2;
	uv_signal_start(&d.sigint, daemon_on_signal, SIGINT);
	uv_signal_start(&d.sigterm, daemon_on_signal, SIGTERM);

	if (daemon_start(&d) != 0) {
		d.exit_code = 1;
		d.shutting_down = true;
		if (d.swarm_started)
			swarm_close(&d.swarm, NULL);
		uv_close((uv_handle_t *)&d.sigint, daemon_signal_closed);
		uv_close((uv_handle_t *)&d.sigterm, daemon_signal_closed);
	} else {
		char listen[96], gossip[96];
		addr_format(&config->listen_addr, listen, sizeof(listen));
		addr_format(&config->gossip_addr, gossip, sizeof(gossip));
		log_info("daemon", "started", LF_STR("version", SN_VERSION), LF_UINT("pid", getpid()),
			 LF_STR("data_dir", config->data_dir), LF_STR("socket", config->socket_path),
			 LF_STR("listen_addr", listen), LF_STR("gossip_addr", gossip),
			 LF_STR("engine_id", d.api.engine_id));
	}
	uv_run(&d.loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&d.loop);
	if (rc != 0)
		log_warn("daemon", "handles left open at exit", LF_STR("error", uv_strerror(rc)));
	datadir_close(&d.datadir);
	if (d.exit_code == 0)
		log_info("daemon", "stopped");
	return d.exit_code;
}
