/* Fuzz target: the engine runtime's decoders of what an engine answers (inspect, wait, create, list, errors, log frames). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every line lies inside the buffer, in its stream's region, and the sizes add up. */
static void check_logs(const char *body, size_t len, bool timestamps)
{
	struct runtime_log_line *lines;
	size_t n;
	char *buf, err[160] = "";
	int rc = engine_logs_split(body, len, timestamps, 1, &lines, &n, &buf, err, sizeof(err));
	if (rc != 0) {
		if (rc != -EINVAL || err[0] == '\0')
			abort();
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (lines[i].text < buf || lines[i].text + lines[i].len > buf + 2 * len ||
		    lines[i].len > ENGINE_LINE_MAX || (lines[i].stream != RUNTIME_LOG_STDOUT &&
						       lines[i].stream != RUNTIME_LOG_STDERR) ||
		    lines[i].time_ns == 0)
			abort();
	}
	free(lines);
	free(buf);
}

static void check_json(const char *body, size_t len)
{
	static struct engine_inspect in;
	char id[ENGINE_ID_MAX + 1], err[256] = "", eerr[64], msg[128];
	char (*ids)[ENGINE_ID_MAX + 1];
	size_t n;
	int code;
	if (engine_json_inspect(body, len, &in, err, sizeof(err)) == 0) {
		if (in.nports > RUNTIME_PORTS_MAX || strlen(in.id) < 12)
			abort();
		for (size_t i = 0; i < in.nports; i++) {
			if (in.ports[i].target == 0 || in.ports[i].target > 65535 || in.ports[i].published == 0 ||
			    in.ports[i].published > 65535)
				abort();
		}
	} else if (err[0] == '\0') {
		abort();
	}
	if (engine_json_waited(body, len, &code, eerr, sizeof(eerr), err, sizeof(err)) == 0 && (code < 0 || code > 255))
		abort();
	if (engine_json_created(body, len, id, err, sizeof(err)) == 0 && strspn(id, "0123456789abcdef") != strlen(id))
		abort();
	if (engine_json_list(body, len, &ids, &n, err, sizeof(err)) == 0)
		free(ids);
	engine_json_error(body, len, msg, sizeof(msg));
	if (strlen(msg) >= sizeof(msg))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_logs((const char *)data, size, size > 0 && (data[0] & 1));
	check_json((const char *)data, size);
	return 0;
}
