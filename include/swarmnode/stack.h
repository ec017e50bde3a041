/* stack: compose (v3) stack files -> the Docker Engine API v1.41 ServiceSpec
 * and network-create JSON that `docker stack deploy` would send.
 *
 * One or more files are merged in order (later ones override earlier ones,
 * as docker/cli's loader does), variables are interpolated from the given
 * environment and a .env file beside the first file, and the result is
 * validated completely before anything is returned: an invalid file yields
 * no stack, only diagnostics "FILE:LINE:COLUMN: key.path: message".
 *
 * Variables are interpolated in the services and networks sections (x-*
 * keys excepted); the merge rules are docker/cli's, spelled out at the top
 * of src/stack/stack_merge.c. The merged result is what is validated, so a
 * value a later file overrides is not checked. Keys swarm mode ignores are
 * reported as docker reports them; keys docker deploys but swarmnode does
 * not implement (volumes, secrets, configs, logging, ...) are errors. */
#ifndef SWARMNODE_STACK_H
#define SWARMNODE_STACK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define STACK_NAMESPACE_LABEL "com.docker.stack.namespace"

/* One stack file. */
struct stack_source {
	const char *path; /* the name used in messages; its directory holds .env and env_file paths */
	const char *data; /* the file's bytes, or NULL to read path from disk */
	size_t len;       /* bytes at data (ignored when data is NULL) */
};

/* What went wrong, for the caller to print. */
struct stack_diag {
	size_t count;   /* errors found */
	char *messages; /* malloc'd: every error, one per line, the first one first; NULL if none */
};

struct stack;

/* Loads files[0..n) (n >= 1) as one stack.
 * envp: "KEY=VALUE" strings, NULL-terminated, for ${VAR} interpolation
 *   (NULL for none); a .env file beside files[0] supplies variables the
 *   environment lacks.
 * stack_name: the stack's name; NULL for the files' `name:` key, else the
 *   lower-cased name of files[0]'s directory.
 * On success returns 0 and *out (free with stack_free); diag->count is 0.
 * On error returns -EINVAL (bad input) or -ENOENT/-EIO (unreadable file),
 * *out is NULL, and diag holds the messages (free with stack_diag_free). */
int stack_load(const struct stack_source *files, size_t n, const char *const *envp,
	       const char *stack_name, struct stack **out, struct stack_diag *diag);

void stack_free(struct stack *stack);
void stack_diag_free(struct stack_diag *diag);

/* The stack's name (also the services' name prefix "NAME_"). Borrowed. */
const char *stack_name(const struct stack *stack);

/* Array of ServiceSpec objects (sorted by name), borrowed: the stack owns it. */
json_t *stack_services(const struct stack *stack);

/* Array of network create requests ({"Name","Driver","Labels",...}) for the
 * networks the services use and the stack must create. Borrowed. */
json_t *stack_networks(const struct stack *stack);

/* Array of names of external networks the services use (must exist). Borrowed. */
json_t *stack_external_networks(const struct stack *stack);

/* Array of option names that swarm mode ignores and that the files use
 * (build, restart, ...), sorted. Borrowed. */
json_t *stack_ignored_options(const struct stack *stack);

/* Array of warning lines to show the user, docker's wording ("Ignoring
 * unsupported options: build, restart", unset variables, ...). Borrowed. */
json_t *stack_warnings(const struct stack *stack);

/* A new object {"Name", "Networks", "ExternalNetworks", "Services"}: what
 * `swarmnode stack config` prints. The caller owns the reference. */
json_t *stack_to_json(const struct stack *stack);

/* Whether two ServiceSpec values describe the same service: members that
 * are null, "", false, 0, [] or {} (recursively) count as absent (except a
 * Replicas of 0), numbers compare by value, object members in any order. */
bool stack_spec_equal(const json_t *a, const json_t *b);

#endif
