/* config: the daemon's settings, from defaults, a YAML file and command-line flags. */
#include "swarmnode/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

/* One row per setting: the same name is the flag (--NAME) and the YAML key. */
struct config_setting {
	const char *name;
	const char *arg;  /* placeholder in usage text */
	const char *help;
	int (*apply)(struct config *c, const char *value, char *err, size_t errlen);
};

static int copy_path(char *dst, size_t cap, const char *value, const char *what,
		     char *err, size_t errlen)
{
	size_t n = strlen(value);
	if (n == 0) {
		snprintf(err, errlen, "%s must not be empty", what);
		return -EINVAL;
	}
	if (n >= cap) {
		snprintf(err, errlen, "%s \"%s\" is too long (at most %zu bytes)", what, value, cap - 1);
		return -EINVAL;
	}
	memcpy(dst, value, n + 1);
	return 0;
}

static int apply_data_dir(struct config *c, const char *v, char *err, size_t errlen)
{
	return copy_path(c->data_dir, sizeof(c->data_dir), v, "data-dir", err, errlen);
}

static int apply_socket(struct config *c, const char *v, char *err, size_t errlen)
{
	if (strncmp(v, "unix://", 7) == 0)
		v += 7;
	return copy_path(c->socket_path, sizeof(c->socket_path), v, "socket", err, errlen);
}

static int apply_addr(struct addr *dst, const char *what, uint16_t port, const char *v,
		      char *err, size_t errlen)
{
	char why[160];
	if (addr_parse(v, port, dst, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", what, why);
		return -EINVAL;
	}
	return 0;
}

static int apply_listen_addr(struct config *c, const char *v, char *err, size_t errlen)
{
	return apply_addr(&c->listen_addr, "listen-addr", CONFIG_CLUSTER_PORT, v, err, errlen);
}

static int apply_gossip_addr(struct config *c, const char *v, char *err, size_t errlen)
{
	return apply_addr(&c->gossip_addr, "gossip-addr", CONFIG_GOSSIP_PORT, v, err, errlen);
}

static int apply_advertise_addr(struct config *c, const char *v, char *err, size_t errlen)
{
	int rc = apply_addr(&c->advertise_addr, "advertise-addr", CONFIG_CLUSTER_PORT, v, err, errlen);
	if (rc == 0)
		c->has_advertise = true;
	return rc;
}

static int apply_log_level(struct config *c, const char *v, char *err, size_t errlen)
{
	if (log_level_parse(v, &c->log_level) != 0) {
		snprintf(err, errlen, "log-level: \"%s\" is not one of debug, info, warn, error", v);
		return -EINVAL;
	}
	return 0;
}

static int apply_log_format(struct config *c, const char *v, char *err, size_t errlen)
{
	if (log_format_parse(v, &c->log_format) != 0) {
		snprintf(err, errlen, "log-format: \"%s\" is not one of logfmt, json", v);
		return -EINVAL;
	}
	return 0;
}

/* A label is "key=value" with a non-empty key of printable characters;
 * repeating --label adds another, as dockerd's does. */
static int apply_label(struct config *c, const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	if (eq == NULL || eq == v) {
		snprintf(err, errlen, "label: \"%s\" is not of the form key=value", v);
		return -EINVAL;
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == ',') {
			snprintf(err, errlen, "label: \"%s\" has a character that is not printable ASCII or is a comma", v);
			return -EINVAL;
		}
	}
	if (strlen(v) >= CONFIG_LABEL_MAX) {
		snprintf(err, errlen, "label: \"%s\" is longer than %d bytes", v, CONFIG_LABEL_MAX - 1);
		return -EINVAL;
	}
	size_t klen = (size_t)(eq - v);
	for (size_t i = 0; i < c->nlabels; i++) {
		if (strncmp(c->labels[i], v, klen + 1) == 0) { /* same key: the later one wins */
			strcpy(c->labels[i], v);
			return 0;
		}
	}
	size_t total = strlen(v);
	for (size_t i = 0; i < c->nlabels; i++)
		total += strlen(c->labels[i]);
	if (total > CONFIG_LABELS_TOTAL_MAX) {
		snprintf(err, errlen, "label: labels may take at most %d bytes in all", CONFIG_LABELS_TOTAL_MAX);
		return -EINVAL;
	}
	if (c->nlabels == CONFIG_MAX_LABELS) {
		snprintf(err, errlen, "label: at most %d labels", CONFIG_MAX_LABELS);
		return -EINVAL;
	}
	strcpy(c->labels[c->nlabels++], v);
	return 0;
}

static const char *const config_runtime_names[] = {
	[CONFIG_RUNTIME_AUTO] = "auto",
	[CONFIG_RUNTIME_EXEC] = "exec",
	[CONFIG_RUNTIME_ENGINE] = "engine",
};

const char *config_runtime_name(enum config_runtime r)
{
	return (unsigned)r < sizeof(config_runtime_names) / sizeof(config_runtime_names[0]) ? config_runtime_names[r]
											       : "unknown";
}

static int apply_runtime(struct config *c, const char *v, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(config_runtime_names) / sizeof(config_runtime_names[0]); i++) {
		if (strcmp(v, config_runtime_names[i]) == 0) {
			c->runtime = (enum config_runtime)i;
			return 0;
		}
	}
	snprintf(err, errlen, "runtime: \"%s\" is not one of exec, engine, auto", v);
	return -EINVAL;
}

/* Docker's own notation (unix:///run/docker.sock) is accepted too; a relative
 * path would change meaning with the daemon's working directory. */
static int apply_engine_socket(struct config *c, const char *v, char *err, size_t errlen)
{
	if (strncmp(v, "unix://", 7) == 0)
		v += 7;
	if (*v != '\0' && *v != '/') {
		snprintf(err, errlen, "engine-socket: \"%s\" is not an absolute path", v);
		return -EINVAL;
	}
	return copy_path(c->engine_socket, sizeof(c->engine_socket), v, "engine-socket", err, errlen);
}

static const struct config_setting config_settings[] = {
	{"data-dir", "DIR", "state directory (default /var/lib/swarmnode as root)", apply_data_dir},
	{"socket", "PATH", "control socket (default /run/swarmnode/swarmnode.sock as root)", apply_socket},
	{"listen-addr", "ADDR[:PORT]", "cluster TCP address (default 0.0.0.0:2377)", apply_listen_addr},
	{"gossip-addr", "ADDR[:PORT]", "gossip UDP/TCP address (default 0.0.0.0:7946)", apply_gossip_addr},
	{"advertise-addr", "ADDR[:PORT]", "address other nodes use to reach this one", apply_advertise_addr},
	{"log-level", "LEVEL", "debug, info, warn or error (default info)", apply_log_level},
	{"log-format", "FORMAT", "logfmt or json (default logfmt)", apply_log_format},
	{"label", "KEY=VALUE", "engine label shown in node inspect (repeatable)", apply_label},
	{"runtime", "RUNTIME", "task runtime: exec, engine or auto (default auto: engine if one answers)",
	 apply_runtime},
	{"engine-socket", "PATH", "Docker Engine API socket for the engine runtime (default: detected)",
	 apply_engine_socket},
};

#define CONFIG_NSETTINGS (sizeof(config_settings) / sizeof(config_settings[0]))

void config_default_socket(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0)
		snprintf(buf, len, "/run/swarmnode/swarmnode.sock");
	else if (xdg && *xdg)
		snprintf(buf, len, "%s/swarmnode.sock", xdg);
	else
		snprintf(buf, len, "/tmp/swarmnode-%u/swarmnode.sock", (unsigned)geteuid());
}

void config_defaults(struct config *c)
{
	char err[64];
	memset(c, 0, sizeof(*c));
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	if (geteuid() == 0)
		snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/swarmnode");
	else if (xdg && *xdg)
		snprintf(c->data_dir, sizeof(c->data_dir), "%s/swarmnode", xdg);
	else
		snprintf(c->data_dir, sizeof(c->data_dir), "%s/.local/share/swarmnode", home ? home : ".");
	config_default_socket(c->socket_path, sizeof(c->socket_path));
	addr_parse("0.0.0.0", CONFIG_CLUSTER_PORT, &c->listen_addr, err, sizeof(err));
	addr_parse("0.0.0.0", CONFIG_GOSSIP_PORT, &c->gossip_addr, err, sizeof(err));
	c->log_level = LOG_INFO;
	c->log_format = LOG_FORMAT_LOGFMT;
}

int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < CONFIG_NSETTINGS; i++)
		if (strcmp(config_settings[i].name, name) == 0)
			return config_settings[i].apply(c, value, err, errlen);
	return -ENOENT;
}

void config_usage(FILE *out)
{
	fprintf(out, "Usage: swarmnode daemon [OPTIONS]\n\n"
		     "Run the swarmnode daemon: the control socket, gossip and (once in a swarm) the cluster.\n\n"
		     "Options:\n"
		     "      --config FILE                  YAML file with any of the settings below\n");
	for (size_t i = 0; i < CONFIG_NSETTINGS; i++) {
		char lhs[48];
		snprintf(lhs, sizeof(lhs), "--%s %s", config_settings[i].name, config_settings[i].arg);
		fprintf(out, "      %-30s %s\n", lhs, config_settings[i].help);
	}
	fprintf(out, "  -h, --help                         print this help\n\n"
		     "Flags override the file; the file overrides the defaults.\n");
}

/* "label: [a=b, c=d]": the one setting that takes a list. */
static int config_apply_sequence(struct config *c, const char *path, yaml_document_t *doc, yaml_node_t *seq,
				 char *err, size_t errlen)
{
	char why[256];
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(doc, *it);
		int rc = -EINVAL;
		if (item->type == YAML_SCALAR_NODE)
			rc = apply_label(c, (const char *)item->data.scalar.value, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "label: expected key=value strings");
		if (rc != 0) {
			snprintf(err, errlen, "%s:%zu:%zu: %s", path, item->start_mark.line + 1,
				 item->start_mark.column + 1, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* Applies one key: value pair of the config file's mapping. */
static int config_apply_node(struct config *c, const char *path, yaml_document_t *doc,
			     yaml_node_pair_t *pair, char *err, size_t errlen)
{
	yaml_node_t *key = yaml_document_get_node(doc, pair->key);
	yaml_node_t *val = yaml_document_get_node(doc, pair->value);
	char why[256];
	if (key->type != YAML_SCALAR_NODE) {
		snprintf(err, errlen, "%s:%zu:%zu: keys must be plain names", path,
			 key->start_mark.line + 1, key->start_mark.column + 1);
		return -EINVAL;
	}
	const char *name = (const char *)key->data.scalar.value;
	if (val->type == YAML_SEQUENCE_NODE && strcmp(name, "label") == 0)
		return config_apply_sequence(c, path, doc, val, err, errlen);
	if (val->type != YAML_SCALAR_NODE) {
		snprintf(err, errlen, "%s:%zu:%zu: %s: expected a single value", path,
			 val->start_mark.line + 1, val->start_mark.column + 1, name);
		return -EINVAL;
	}
	int rc = config_set(c, name, (const char *)val->data.scalar.value, why, sizeof(why));
	if (rc == -ENOENT)
		snprintf(err, errlen, "%s:%zu:%zu: unknown setting \"%s\"", path,
			 key->start_mark.line + 1, key->start_mark.column + 1, name);
	else if (rc != 0)
		snprintf(err, errlen, "%s:%zu:%zu: %s", path, val->start_mark.line + 1,
			 val->start_mark.column + 1, why);
	return rc == 0 ? 0 : -EINVAL;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML");
		rc = -EINVAL;
		goto err_after_parser;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root == NULL)
		goto out_doc; /* an empty file sets nothing */
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s:%zu:%zu: expected a mapping of settings", path,
			 root->start_mark.line + 1, root->start_mark.column + 1);
		rc = -EINVAL;
		goto out_doc;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++)
		if ((rc = config_apply_node(c, path, &doc, p, err, errlen)) != 0)
			break;
out_doc:
	yaml_document_delete(&doc);
err_after_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

enum { OPT_CONFIG = 1000, OPT_SETTING = 2000 };

int config_from_args(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct option opts[CONFIG_NSETTINGS + 3];
	size_t n = 0;
	opts[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	for (size_t i = 0; i < CONFIG_NSETTINGS; i++)
		opts[n++] = (struct option){config_settings[i].name, required_argument, NULL, OPT_SETTING + (int)i};
	opts[n] = (struct option){0};

	/* Two passes: the file first, so that flags given anywhere override it. */
	for (int pass = 0; pass < 2; pass++) {
		int opt;
		optind = 0;
		opterr = 0;
		while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
			if (opt == 'h') {
				config_usage(stdout);
				return 1;
			}
			if (opt == '?' || opt == ':') {
				snprintf(err, errlen, "unknown flag or missing value: %s", argv[optind - 1]);
				return -EINVAL;
			}
			int rc = 0;
			if (opt == OPT_CONFIG && pass == 0)
				rc = config_load_file(c, optarg, err, errlen);
			else if (opt >= OPT_SETTING && pass == 1)
				rc = config_settings[opt - OPT_SETTING].apply(c, optarg, err, errlen);
			if (rc != 0)
				return -EINVAL;
		}
		if (optind < argc) {
			snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
			return -EINVAL;
		}
	}
	return 0;
}
