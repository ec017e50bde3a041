/* config: the daemon's settings, from defaults, a YAML file and command-line flags. */
#ifndef SWARMNODE_CONFIG_H
#define SWARMNODE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "swarmnode/addr.h"
#include "swarmnode/log.h"

#define CONFIG_CLUSTER_PORT 2377
#define CONFIG_GOSSIP_PORT 7946
/* sizeof(struct sockaddr_un.sun_path) on Linux, including the NUL. */
#define CONFIG_SOCKET_MAX 108
/* Engine labels (--label k=v): a few short ones, as they travel in gossip. */
#define CONFIG_MAX_LABELS 8
#define CONFIG_LABEL_MAX 64
#define CONFIG_LABELS_TOTAL_MAX 192

/* Which runtime the agent runs tasks with (--runtime). */
enum config_runtime {
	CONFIG_RUNTIME_AUTO,   /* engine when --engine-socket is given or one is detected, else exec */
	CONFIG_RUNTIME_EXEC,   /* processes, whatever engine exists */
	CONFIG_RUNTIME_ENGINE, /* containers; the daemon refuses to start without an engine */
};

/* "auto", "exec", "engine". */
const char *config_runtime_name(enum config_runtime r);

struct config {
	char data_dir[PATH_MAX];             /* state, lock file, logs */
	char socket_path[CONFIG_SOCKET_MAX]; /* the control socket (Engine API) */
	struct addr listen_addr;             /* cluster TCP: raft, dispatch, join */
	struct addr gossip_addr;             /* SWIM over UDP (+ TCP push-pull) */
	struct addr advertise_addr;          /* what other nodes dial; unset if !has_advertise */
	bool has_advertise;
	enum log_level log_level;
	enum log_format log_format;
	char labels[CONFIG_MAX_LABELS][CONFIG_LABEL_MAX]; /* "key=value", as given */
	size_t nlabels;
	enum config_runtime runtime;                /* as asked; the daemon resolves AUTO at start */
	char engine_socket[CONFIG_SOCKET_MAX];      /* the engine's Unix socket, "" when not given */
};

/* Fills the defaults: /var/lib/swarmnode and /run/swarmnode/swarmnode.sock for
 * root, XDG locations for other users. */
void config_defaults(struct config *c);

/* The default control socket path for this user, as config_defaults sets it. */
void config_default_socket(char *buf, size_t len);

/* Applies one setting by its flag name without dashes ("data-dir"). Returns 0,
 * -ENOENT for an unknown name, or -EINVAL with the reason in err. */
int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen);

/* Loads a YAML mapping of the same names ("data-dir: /srv/sn"). Errors name
 * FILE:LINE:COLUMN. Returns 0 or a negative errno. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* Parses `swarmnode daemon` arguments (argv[0] is "daemon"): --config is read
 * first, then flags override it. Returns 0, 1 when --help was asked (usage
 * printed to stdout), or -EINVAL with the reason in err. */
int config_from_args(struct config *c, int argc, char **argv, char *err, size_t errlen);

/* Prints the daemon's flags, generated from the settings table. */
void config_usage(FILE *out);

#endif
