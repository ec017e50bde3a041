/* ids: object identifiers in Docker Swarm's format (25 characters of base 36). */
#include "swarmnode/ids.h"

#include <string.h>

static const char ids_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

void ids_format(const uint8_t entropy[IDS_ENTROPY], char out[IDS_LEN + 1])
{
	/* Long division of the 128-bit big-endian number by 36, one digit per pass;
	 * 36^25 > 2^128 so 25 digits always suffice. */
	uint8_t num[IDS_ENTROPY];
	memcpy(num, entropy, sizeof(num));
	for (int pos = IDS_LEN - 1; pos >= 0; pos--) {
		unsigned rem = 0;
		for (size_t i = 0; i < sizeof(num); i++) {
			unsigned cur = (rem << 8) | num[i];
			num[i] = (uint8_t)(cur / 36);
			rem = cur % 36;
		}
		out[pos] = ids_alphabet[rem];
	}
	out[IDS_LEN] = '\0';
}

bool ids_valid(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= IDS_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
			return false;
	}
	return n == IDS_LEN;
}

bool ids_has_prefix(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);
	return n > 0 && strncmp(id, prefix, n) == 0;
}
