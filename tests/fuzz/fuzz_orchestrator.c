/* Fuzz target: orchestrator passes over a store built from arbitrary transactions; every pass's transaction must apply to the store it was computed from. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/orchestrator.h"

#include "fuzz_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input: transactions separated by '\n', applied (accepted or refused) in
 * turn to the preloaded store of fuzz_store.h; then up to four passes, each
 * applied before the next, three seconds apart. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *s = fzs_store();
	if (s == NULL)
		return 0;
	uint64_t index = 2;
	for (size_t start = 0; start < size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		store_apply(s, index++, data + start, end - start, NULL);
		start = end + 1;
	}
	struct orchestrator o;
	orchestrator_init(&o, size);
	int64_t now = FZS_TIME + INT64_C(1000000000);
	for (int i = 0; i < 4; i++, now += INT64_C(3000000000)) {
		struct orchestrator_pass out;
		char err[ORCHESTRATOR_MSG_MAX];
		if (orchestrator_run(&o, s, now, 64, &out, err, sizeof(err)) != 0)
			abort();
		if (out.txn == NULL)
			break;
		uint8_t *bytes;
		size_t len;
		int rc = store_txn_encode(out.txn, &bytes, &len);
		store_txn_free(out.txn);
		if (rc == STORE_E_TOO_BIG)
			break; /* the driver halves its batch then */
		struct store_result res;
		if (rc != 0 || store_apply(s, index++, bytes, len, &res) != 0) {
			fprintf(stderr, "the orchestrator's write was refused: %d %s\n", rc, rc == 0 ? res.message : "");
			abort();
		}
		free(bytes);
	}
	orchestrator_close(&o);
	store_free(s);
	return 0;
}
