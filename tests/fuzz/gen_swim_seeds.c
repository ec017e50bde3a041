/* gen_swim_seeds: writes a seed corpus for fuzz_swim_proto (valid packets, push-pulls and scripts) into a directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/swim_proto.h"

static struct swim_addr addr(uint8_t last)
{
	struct swim_addr a = {.family = SWIM_AF_INET4, .ip = {10, 0, 0, last}, .port = 7946};
	return a;
}

static void put(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static size_t packet(const struct swim_msg *msgs, size_t n, const char *sender, uint8_t *out)
{
	struct swim_pw w;
	uint8_t *buf;
	size_t len;
	if (swim_pw_init(&w, sender, 1400) != 0)
		exit(1);
	for (size_t i = 0; i < n; i++)
		if (swim_pw_add(&w, &msgs[i]) != 0)
			exit(1);
	if (swim_pw_finish(&w, &buf, &len) != 0)
		exit(1);
	memcpy(out, buf, len);
	free(buf);
	return len;
}

static size_t pushpull(uint8_t flags, uint8_t *out)
{
	static const uint8_t meta[] = "role=worker";
	struct swim_ppw w;
	uint8_t *buf;
	size_t len;
	if (swim_ppw_init(&w, "peer-a", flags, 1 << 16) != 0)
		exit(1);
	const char *ids[] = {"peer-a", "peer-b", "fz", "peer-c"};
	for (int i = 0; i < 4 && !(flags & SWIM_PP_SUMMARY); i++) {
		struct swim_pp_member m = {.incarnation = 2, .state = (uint8_t)i, .addr = addr((uint8_t)(i + 2)),
					   .meta = meta, .meta_len = sizeof(meta) - 1};
		strcpy(m.id, ids[i]);
		if (swim_ppw_add(&w, &m) != 0)
			exit(1);
	}
	memset(w.summary, 0x5a, sizeof(w.summary));
	if (swim_ppw_finish(&w, &buf, &len) != 0)
		exit(1);
	memcpy(out, buf, len);
	free(buf);
	return len;
}

/* Appends a script record [op][len16][bytes]. */
static size_t record(uint8_t *out, size_t pos, uint8_t op, const uint8_t *data, size_t len)
{
	out[pos] = op;
	out[pos + 1] = (uint8_t)(len >> 8);
	out[pos + 2] = (uint8_t)len;
	if (data != NULL)
		memcpy(out + pos + 3, data, len);
	return pos + 3 + (data != NULL ? len : 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	static uint8_t a[65536], b[65536], script[1 << 17];
	struct swim_msg m[8];
	memset(m, 0, sizeof(m));
	m[0] = (struct swim_msg){.type = SWIM_MSG_PING, .seq = 1};
	strcpy(m[0].id, "fz");
	m[1] = (struct swim_msg){.type = SWIM_MSG_ACK, .seq = 1};
	m[2] = (struct swim_msg){.type = SWIM_MSG_PING_REQ, .seq = 2, .addr = addr(3)};
	strcpy(m[2].id, "peer-b");
	m[3] = (struct swim_msg){.type = SWIM_MSG_NACK, .seq = 2};
	m[4] = (struct swim_msg){.type = SWIM_MSG_ALIVE, .incarnation = 3, .addr = addr(9),
				 .meta = (const uint8_t *)"labels", .meta_len = 6};
	strcpy(m[4].id, "peer-z");
	m[5] = (struct swim_msg){.type = SWIM_MSG_SUSPECT, .incarnation = 1};
	strcpy(m[5].id, "peer-b");
	strcpy(m[5].from, "peer-a");
	m[6] = (struct swim_msg){.type = SWIM_MSG_DEAD, .incarnation = 1};
	strcpy(m[6].id, "fz");
	strcpy(m[6].from, "peer-a");
	m[7] = (struct swim_msg){.type = SWIM_MSG_LEFT, .incarnation = 1};
	strcpy(m[7].id, "peer-a");

	size_t n;
	char name[32];
	for (int i = 0; i < 8; i++) {
		n = packet(&m[i], 1, "peer-a", a);
		snprintf(name, sizeof(name), "msg-%s", swim_msg_type_str(m[i].type));
		put(argv[1], name, a, n);
	}
	n = packet(m, 8, "peer-a", a);
	put(argv[1], "packet-all", a, n);
	n = pushpull(0, a);
	put(argv[1], "pushpull-request", a, n);
	n = pushpull(SWIM_PP_RESPONSE, a);
	put(argv[1], "pushpull-response", a, n);
	n = pushpull(SWIM_PP_DIGEST, a);
	put(argv[1], "pushpull-digest", a, n);
	n = pushpull(SWIM_PP_SUMMARY, a);
	put(argv[1], "pushpull-summary", a, n);

	/* a script: gossip, time, a relay request, a push-pull, more time */
	size_t pos = 0;
	n = packet(&m[4], 1, "peer-a", a);
	pos = record(script, pos, 0, a, n);
	pos = record(script, pos, 3, NULL, 1000);
	n = packet(&m[2], 1, "peer-a", a);
	pos = record(script, pos, 0, a, n);
	n = pushpull(0, b);
	pos = record(script, pos, 1, b, n);
	n = pushpull(SWIM_PP_DIGEST, b);
	pos = record(script, pos, 1, b, n);
	n = packet(&m[5], 1, "peer-c", a);
	pos = record(script, pos, 0, a, n);
	pos = record(script, pos, 3, NULL, 5000);
	n = packet(&m[6], 2, "peer-a", a);
	pos = record(script, pos, 0, a, n);
	put(argv[1], "script", script, pos);
	return 0;
}
