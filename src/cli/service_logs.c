/* service_logs: the docker CLI's presentation of a service's log lines (see service_logs.h). */
#include "swarmnode/service_logs.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

int service_logs_digits(int64_t n)
{
	char buf[24];
	return snprintf(buf, sizeof(buf), "%lld", (long long)n);
}

/* The value of key in details ("k=v,k=v"), an id, into out. */
static bool detail_id(const char *details, size_t len, const char *key, char out[IDS_LEN + 1])
{
	size_t klen = strlen(key);
	for (size_t at = 0; at < len;) {
		const char *item = details + at;
		const char *comma = memchr(item, ',', len - at);
		size_t n = comma ? (size_t)(comma - item) : len - at;
		if (n == klen + 1 + IDS_LEN && memcmp(item, key, klen) == 0 && item[klen] == '=') {
			memcpy(out, item + klen + 1, IDS_LEN);
			out[IDS_LEN] = '\0';
			return ids_valid(out);
		}
		at += n + 1;
	}
	return false;
}

int service_logs_parse(const uint8_t *payload, size_t len, bool timestamps, struct service_logs_line *out, char *err,
		       size_t errlen)
{
	const char *p = (const char *)payload, *end = p + len;
	memset(out, 0, sizeof(*out));
	if (timestamps) {
		const char *sp = memchr(p, ' ', len);
		if (sp == NULL) {
			snprintf(err, errlen, "invalid context in log message: no timestamp");
			return -1;
		}
		out->time = p;
		out->time_len = (size_t)(sp - p);
		p = sp + 1;
	}
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL) {
		snprintf(err, errlen, "invalid context in log message: no details");
		return -1;
	}
	size_t dlen = (size_t)(sp - p);
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"com.docker.swarm.node.id", offsetof(struct service_logs_line, node_id)},
		{"com.docker.swarm.service.id", offsetof(struct service_logs_line, service_id)},
		{"com.docker.swarm.task.id", offsetof(struct service_logs_line, task_id)},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!detail_id(p, dlen, keys[i].key, (char *)out + keys[i].off)) {
			snprintf(err, errlen, "missing %s in details: %.*s", keys[i].key, (int)dlen, p);
			return -1;
		}
	}
	out->text = sp + 1;
	out->text_len = (size_t)(end - out->text);
	return 0;
}

void service_logs_context(const struct service_logs_format *f, const char *service, int64_t slot,
			  const char *task_id, const char *node, char *out, size_t len)
{
	char task[IDS_LEN + 2] = "";
	if (!f->no_task_ids)
		snprintf(task, sizeof(task), ".%.*s", f->no_trunc ? IDS_LEN : SERVICE_LOGS_SHORT_ID, task_id);
	int pad = f->width - service_logs_digits(slot);
	snprintf(out, len, "%s.%lld%s@%s%*s    | ", service, (long long)slot, task, node, pad > 0 ? pad : 0, "");
}
