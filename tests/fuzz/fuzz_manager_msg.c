/* Fuzz target: arbitrary bytes as a manager message body; what decodes must encode back to an equal message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/manager_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manager_msg m, again;
	char err[160];
	if (manager_msg_decode(data, size, &m, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort(); /* every refusal names what is wrong */
		return 0;
	}
	size_t cap = manager_msg_encoded_max(&m), len;
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return 0;
	if (manager_msg_encode(&m, buf, cap, &len) != 0 || manager_msg_decode(buf, len, &again, err, sizeof(err)) != 0)
		abort();
	if (again.type != m.type || again.req != m.req || again.status != m.status || again.index != m.index ||
	    again.raft_id != m.raft_id || again.txn_len != m.txn_len || strcmp(again.message, m.message) != 0 ||
	    again.role != m.role || again.has_secrets != m.has_secrets ||
	    memcmp(again.secrets, m.secrets, sizeof(m.secrets)) != 0 ||
	    (m.txn_len > 0 && memcmp(again.txn, m.txn, m.txn_len) != 0))
		abort();
	free(buf);
	return 0;
}
