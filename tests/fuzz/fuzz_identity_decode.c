/* Fuzz target: identity_cert_decode; whatever decodes re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct identity_keypair root;
	static int ready;
	if (!ready) {
		uint8_t seed[IDENTITY_SEED_LEN];
		memset(seed, 1, sizeof(seed));
		identity_keypair_from_seed(&root, seed);
		ready = 1;
	}
	struct identity_cert c;
	char err[256] = "";
	if (identity_cert_decode(&c, data, size, err, sizeof(err)) != IDENTITY_OK) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	uint8_t again[IDENTITY_CERT_MAX];
	size_t len = 0;
	if (identity_cert_encode(&c, again, sizeof(again), &len) != IDENTITY_OK || len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	identity_cert_verify(&c, root.pk, NULL, 1700000000000ull, err, sizeof(err));
	identity_cert_verify(&c, root.pk, "1bcdqsiwk2ttt98dkhy0rhn6a", 0, err, sizeof(err));
	return 0;
}
