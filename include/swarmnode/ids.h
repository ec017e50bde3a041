/* ids: object identifiers in Docker Swarm's format (25 characters of base 36). */
#ifndef SWARMNODE_IDS_H
#define SWARMNODE_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of an id without its terminating NUL. */
#define IDS_LEN 25

/* Random bytes an id is made from: 128 bits, as swarmkit's identity package. */
#define IDS_ENTROPY 16

/* Formats 16 random bytes as a 25-character base-36 id, zero-padded on the left,
 * into out (IDS_LEN + 1 bytes). The caller supplies the randomness so that the
 * cores stay deterministic under the simulator. */
void ids_format(const uint8_t entropy[IDS_ENTROPY], char out[IDS_LEN + 1]);

/* True when s is exactly IDS_LEN characters of [0-9a-z]. */
bool ids_valid(const char *s);

/* True when prefix is a non-empty prefix of id (Docker accepts unique id
 * prefixes wherever an id is expected). */
bool ids_has_prefix(const char *id, const char *prefix);

#endif
