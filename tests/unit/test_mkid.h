/* test_mkid: object ids that read in test output, for the orchestrator's and scheduler's tests. */
#ifndef SWARMNODE_TEST_MKID_H
#define SWARMNODE_TEST_MKID_H

#include <string.h>

#include "swarmnode/ids.h"

/* The tag, then zeros up to 25 characters; valid until 32 more calls. */
static inline const char *mkid(const char *tag)
{
	static char ring[32][IDS_LEN + 1];
	static unsigned next;
	char *out = ring[next++ % 32];
	size_t n = strlen(tag);
	memcpy(out, tag, n);
	memset(out + n, '0', IDS_LEN - n);
	out[IDS_LEN] = '\0';
	return out;
}

#endif
