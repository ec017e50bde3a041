/* Fuzz target: keyring_open on arbitrary packets, and keyring_load on arbitrary stored keyrings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed ring: keys 0x01.. and 0x02.., the second primary. */
static struct keyring *fixed_ring(void)
{
	static struct keyring *kr;
	if (kr == NULL) {
		uint8_t k[KEYRING_KEY_LEN];
		kr = keyring_new();
		memset(k, 1, sizeof(k));
		keyring_install(kr, k);
		memset(k, 2, sizeof(k));
		keyring_install(kr, k);
		keyring_use(kr, k);
	}
	return kr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	const struct keyring *kr = fixed_ring();
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	if (data[0] & 1) {
		/* A stored keyring: load it; if it loads, it serialises back identically. */
		struct keyring *dst = keyring_new();
		char err[256] = "";
		if (keyring_load(dst, in, n, err, sizeof(err)) == KEYRING_OK) {
			uint8_t again[KEYRING_SERIALIZED_MAX];
			size_t len = 0;
			if (keyring_serialize(dst, again, sizeof(again), &len) != KEYRING_OK ||
			    len != n || memcmp(again, in, n) != 0)
				abort();
		} else if (err[0] == '\0') {
			abort();
		}
		keyring_free(dst);
		return 0;
	}
	/* A packet: open it into an exact-size buffer, so ASan sees any overrun. */
	size_t cap = n >= KEYRING_OVERHEAD ? n - KEYRING_OVERHEAD : 0;
	uint8_t *out = malloc(cap > 0 ? cap : 1);
	size_t out_len = 0;
	int rc = keyring_open(kr, in, n, out, cap, &out_len);
	if (rc == KEYRING_OK && out_len != cap)
		abort();
	/* Re-seal the input bytes as a plaintext and open it again. */
	uint8_t nonce[KEYRING_NONCE_LEN] = {0};
	size_t sealed_cap = n + KEYRING_OVERHEAD, sealed_len = 0, back_len = 0;
	uint8_t *sealed = malloc(sealed_cap);
	uint8_t *back = malloc(n > 0 ? n : 1);
	if (keyring_seal(kr, nonce, in, n, sealed, sealed_cap, &sealed_len) != KEYRING_OK ||
	    keyring_open(kr, sealed, sealed_len, back, n, &back_len) != KEYRING_OK ||
	    back_len != n || (n > 0 && memcmp(back, in, n) != 0))
		abort();
	free(back);
	free(sealed);
	free(out);
	return 0;
}
