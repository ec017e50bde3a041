/* stack_internal: the YAML node tree, diagnostics and the passes shared by src/stack/. */
#ifndef SWARMNODE_STACK_INTERNAL_H
#define SWARMNODE_STACK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "swarmnode/stack.h"

/* Limits on what one stack file may expand to: they bound the work an
 * adversarial file (alias bombs, deep nesting) can cause. */
#define STACK_MAX_FILE_BYTES (8u << 20)
#define STACK_MAX_NODES 200000u
#define STACK_MAX_DEPTH 64u
#define STACK_MAX_ENTRIES 4096u         /* in one list or mapping: keeps key checks cheap */
#define STACK_MAX_BYTES (64u << 20)     /* of values, once aliases and variables are expanded */
#define STACK_MAX_PORTS 65536u          /* EndpointSpec.Ports of one service (ranges expand) */

enum snode_kind {
	SNODE_SCALAR,
	SNODE_SEQ,
	SNODE_MAP,
};

/* A YAML node with its position, aliases expanded into copies, so that
 * every node has exactly one owner: its parent (or the stack tree root). */
struct snode {
	enum snode_kind kind;
	char *text;          /* scalar: its text (after interpolation); NULL otherwise */
	bool plain;          /* scalar written unquoted and not interpolated: may be null, a number or a bool */
	const char *file;    /* the file it came from (borrowed from stack_source) */
	unsigned line, col;  /* 1-based position of the node */
	size_t len;          /* seq: items; map: key/value pairs */
	size_t cap;
	struct snode **items; /* seq: len items; map: 2*len entries, key then value */
};

/* Every error and warning of one stack_load call. */
struct stack_report {
	struct stack_diag *diag; /* errors go here (may be NULL: counted only) */
	size_t errors;
	json_t *warnings;        /* array of strings, in the order found */
	json_t *warned;          /* the same as a set, so that each is said once */
	size_t value_bytes;      /* of values made so far, against STACK_MAX_BYTES */
};

/* Appends "FILE:LINE:COL: PATH: message" for node n (PATH omitted if NULL or empty). */
__attribute__((format(printf, 4, 5)))
void stack_error_at(struct stack_report *r, const struct snode *n, const char *path, const char *fmt, ...);

/* Appends a message with no position ("FILE: message"). */
__attribute__((format(printf, 3, 4)))
void stack_error_file(struct stack_report *r, const char *file, const char *fmt, ...);

__attribute__((format(printf, 2, 3)))
void stack_warn(struct stack_report *r, const char *fmt, ...);

/* Aborts on allocation failure: a stack file is small and the CLI has no
 * sensible way to continue without memory. */
void *stack_xalloc(size_t size);
char *stack_xstrdup(const char *s);
char *stack_xstrndup(const char *s, size_t n);

/* Reads a regular file of at most STACK_MAX_FILE_BYTES whole (opened
 * non-blocking, so a FIFO or device cannot stall the load). Returns 0 with
 * *data malloc'd (NUL-terminated) and *len set, or a negative errno with
 * the reason in err. */
int stack_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen);

/* --- tree (stack_tree.c) --- */

/* Parses one YAML document into *out (owned by the caller, snode_free).
 * Returns 0, or -1 with the error reported. */
int snode_parse(const char *file, const char *data, size_t len, struct snode **out, struct stack_report *r);
void snode_free(struct snode *n);
struct snode *snode_new(enum snode_kind kind, const struct snode *pos);
void snode_append(struct snode *parent, struct snode *item);
/* Map lookup; NULL if absent. */
struct snode *snode_get(const struct snode *map, const char *key);
/* Index of key in map, or -1. */
long snode_index(const struct snode *map, const char *key);
/* A plain scalar YAML 1.1 reads as null (empty, ~, null). */
bool snode_is_null(const struct snode *n);
/* "a mapping", "a list", "null" or the quoted scalar, for messages. */
void snode_describe(const struct snode *n, char *out, size_t len);
/* path + "." + key, or path + "[i]", into out. */
void stack_path_key(char *out, size_t len, const char *path, const char *key);
void stack_path_index(char *out, size_t len, const char *path, size_t index);

/* --- interpolation (stack_interp.c) --- */

struct stack_env {
	const char *const *environ; /* "K=V" strings, NULL-terminated; may be NULL */
	json_t *dotenv;             /* object of the .env file's variables; may be NULL */
};

/* Reads a variable: the environment first, then the .env file. */
const char *stack_env_lookup(const struct stack_env *env, const char *name);

/* Substitutes ${VAR} forms in every scalar of the services and networks
 * sections of root, skipping x-* keys. Returns 0 or -1 (errors reported). */
int stack_interpolate(struct snode *root, const struct stack_env *env, struct stack_report *r);

/* Interpolates one string; *out is malloc'd. On error returns -1 and writes
 * the reason to err. Unset-variable warnings go to r. */
int stack_interpolate_text(const char *in, const struct stack_env *env, struct stack_report *r, char **out,
			   char *err, size_t errlen);

/* Parses KEY=VALUE lines (a .env or env_file) into obj (string values,
 * or null for a bare KEY). quotes: strip matching quotes around values
 * (.env files), as compose does. Returns 0 or -1 with err set. */
int stack_parse_env_lines(const char *text, size_t len, bool quotes, json_t *obj, char *err, size_t errlen);

/* --- merge (stack_merge.c) --- */

/* Brings the list-or-mapping fields of every service of root into their
 * mapping form (environment, labels, deploy.labels, networks), so that the
 * merge and the conversion see one shape. Returns 0 or -1 (errors reported). */
int stack_normalize(struct snode *root, struct stack_report *r);

/* Merges override into base following docker/cli's rules; takes override. */
void stack_merge(struct snode *base, struct snode *override);

/* --- typed reads of snodes (stack_read.c): each reports its error and returns -1 --- */

struct stack_walk;
/* Handles one known key of a mapping; target is the walker's. */
typedef int (*stack_key_fn)(struct stack_walk *w, const struct snode *value, const char *path, void *target);

struct stack_key_rule {
	const char *key;
	stack_key_fn fn; /* NULL: accepted and skipped (docker ignores it silently) */
};

/* What a walk over a mapping does with keys it has no rule for. Returns 0
 * if the key was accepted (ignored with a warning), -1 if reported. */
typedef int (*stack_unknown_fn)(struct stack_walk *w, const struct snode *key, const char *path);

struct stack_walk {
	struct stack_report *r;
	void *data; /* the converter's state */
};

/* Calls the rule of every key of map (x-* keys skipped); unknown keys go
 * to unknown (NULL: an "unknown key" error). Returns -1 if any failed. */
int stack_walk_map(struct stack_walk *w, const struct snode *map, const char *path,
		   const struct stack_key_rule *rules, stack_unknown_fn unknown, void *target);

/* Reports "expected X, got Y" for n. */
int stack_expected(struct stack_walk *w, const struct snode *n, const char *path, const char *what);

int stack_read_string(struct stack_walk *w, const struct snode *n, const char *path, const char **out);
int stack_read_int(struct stack_walk *w, const struct snode *n, const char *path, int64_t min, int64_t max,
		   int64_t *out);
int stack_read_bool(struct stack_walk *w, const struct snode *n, const char *path, bool *out);
int stack_read_float(struct stack_walk *w, const struct snode *n, const char *path, double min, double max,
		     double *out);
int stack_read_duration(struct stack_walk *w, const struct snode *n, const char *path, int64_t *ns);
int stack_read_bytes(struct stack_walk *w, const struct snode *n, const char *path, int64_t *bytes);
/* Appends the strings of a list to arr. */
int stack_read_string_list(struct stack_walk *w, const struct snode *n, const char *path, json_t *arr);
/* A list of strings, or one string split like a shell command line. */
int stack_read_command(struct stack_walk *w, const struct snode *n, const char *path, json_t *arr);
/* A mapping of scalars into obj as strings (null values: "" or JSON null). */
int stack_read_string_map(struct stack_walk *w, const struct snode *n, const char *path, bool null_as_json_null,
			  json_t *obj);
/* One of the NULL-terminated choices. */
int stack_read_choice(struct stack_walk *w, const struct snode *n, const char *path, const char *const *choices,
		      const char **out);

/* --- conversion (stack_convert.c) --- */

struct stack_convert_in {
	const struct snode *root;   /* the merged tree */
	const char *stack_name;
	const char *workdir;        /* directory env_file paths are relative to */
	const struct stack_env *env;
};

struct stack_convert_out {
	json_t *services;           /* array of ServiceSpec objects, by service name */
	json_t *networks;           /* array of network create requests */
	json_t *external_networks;  /* array of names */
	json_t *ignored;            /* unsupported option names that were skipped */
};

/* Validates and converts; returns 0 with out filled (caller owns the
 * arrays), or -1 with the errors reported and out untouched. */
int stack_convert(const struct stack_convert_in *in, struct stack_convert_out *out, struct stack_report *r);

#endif
