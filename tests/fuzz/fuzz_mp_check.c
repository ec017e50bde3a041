/* Fuzz target: mp_check against msgpack-c; what mp_check accepts, msgpack-c unpacks whole. */
#include <stdint.h>
#include <stdlib.h>

#include "src/core/mp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	if (!mp_check(data, size, "fuzz", err, sizeof(err))) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	msgpack_object o;
	size_t off = 0;
	int rc = msgpack_unpack((const char *)data, size, &off, &zone, &o);
	msgpack_zone_destroy(&zone);
	if (rc != MSGPACK_UNPACK_SUCCESS || off != size)
		abort();
	return 0;
}
