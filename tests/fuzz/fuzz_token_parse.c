/* Fuzz target: token_parse on arbitrary strings; whatever parses formats back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct token t;
	char err[256];
	if (token_parse(s, &t, err, sizeof(err)) == TOKEN_OK) {
		/* The parser accepts only the canonical form. */
		char again[TOKEN_STR_LEN + 1];
		token_format(&t, again);
		if (strcmp(again, s) != 0)
			abort();
	} else if (err[0] == '\0') {
		abort(); /* every refusal says why */
	}
	free(s);
	return 0;
}
