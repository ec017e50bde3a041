/* Unit tests for node_meta: gossip metadata of a node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include "swarmnode/node_meta.h"

static struct node_meta sample(void)
{
	struct node_meta m = {.role = NODE_ROLE_MANAGER, .availability = NODE_AVAILABILITY_ACTIVE,
			      .ncpu = 2, .memory = 25276026880ull, .created_at_ms = 1795560838790ull};
	strcpy(m.hostname, "vm");
	strcpy(m.cluster_addr, "10.0.0.1:2377");
	strcpy(m.engine_version, "0.1.0");
	strcpy(m.os, "linux");
	strcpy(m.arch, "x86_64");
	strcpy(m.labels[0], "zone=a");
	strcpy(m.labels[1], "disk=ssd");
	m.nlabels = 2;
	return m;
}

static void round_trip(void **state)
{
	(void)state;
	struct node_meta m = sample(), d;
	uint8_t buf[NODE_META_MAX];
	size_t len;
	char err[128];
	assert_int_equal(node_meta_encode(&m, buf, sizeof(buf), &len), 0);
	assert_true(len < 100);
	assert_int_equal(node_meta_decode(buf, len, &d, err, sizeof(err)), 0);
	assert_memory_equal(&m, &d, sizeof(m));
}

static void longest_fields_fit_the_bound(void **state)
{
	(void)state;
	struct node_meta m = sample();
	memset(m.hostname, 'h', 63);
	memset(m.cluster_addr, 'a', 63);
	memset(m.engine_version, 'v', 31);
	memset(m.os, 'o', 15);
	memset(m.arch, 'r', 31);
	m.memory = UINT64_MAX;
	m.created_at_ms = UINT64_MAX;
	/* what the daemon allows: 192 bytes of labels in all */
	m.nlabels = 3;
	for (int i = 0; i < 3; i++)
		memset(m.labels[i], 'l', 63), m.labels[i][1] = '=';
	uint8_t buf[NODE_META_MAX];
	size_t len;
	assert_int_equal(node_meta_encode(&m, buf, sizeof(buf), &len), 0);
	assert_int_equal(node_meta_encode(&m, buf, 50, &len), -90 /* EMSGSIZE */);
	/* eight long labels do not fit the gossip bound: refused, not cut */
	m.nlabels = 8;
	for (int i = 0; i < 8; i++)
		memset(m.labels[i], 'l', 63), m.labels[i][1] = '=';
	assert_int_equal(node_meta_encode(&m, buf, sizeof(buf), &len), -90);
}

/* Re-encodes sample() with field i replaced by a bad value. */
static size_t corrupt(uint8_t *buf, size_t cap, int field, int kind)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 11);
	const char *strs[] = {"vm", "10.0.0.1:2377", "0.1.0", "linux", "x86_64"};
	for (int i = 0; i < 11; i++) {
		if (i == field) {
			if (kind == 0)
				msgpack_pack_str(&pk, 3), msgpack_pack_str_body(&pk, "bad", 3);
			else if (kind == 1)
				msgpack_pack_uint8(&pk, 7);
			else
				msgpack_pack_str(&pk, 3), msgpack_pack_str_body(&pk, "a\nb", 3);
			continue;
		}
		if (i == 0)
			msgpack_pack_uint8(&pk, 1);
		else if (i <= 2)
			msgpack_pack_uint8(&pk, 0);
		else if (i <= 7)
			msgpack_pack_str(&pk, strlen(strs[i - 3])), msgpack_pack_str_body(&pk, strs[i - 3], strlen(strs[i - 3]));
		else
			msgpack_pack_uint64(&pk, 5);
	}
	size_t n = sb.size < cap ? sb.size : cap;
	memcpy(buf, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static void malformed_cases_name_the_field(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct node_meta d;
	char err[128];
	size_t n = corrupt(buf, sizeof(buf), 0, 1);
	assert_int_equal(node_meta_decode(buf, n, &d, err, sizeof(err)), -74 /* EBADMSG */);
	assert_non_null(strstr(err, "meta.version"));
	n = corrupt(buf, sizeof(buf), 1, 1);
	assert_int_equal(node_meta_decode(buf, n, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "meta.role"));
	n = corrupt(buf, sizeof(buf), 3, 1);
	assert_int_equal(node_meta_decode(buf, n, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "meta.hostname: expected a string"));
	n = corrupt(buf, sizeof(buf), 4, 2);
	assert_int_equal(node_meta_decode(buf, n, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "meta.cluster_addr: byte 1 is not printable"));
	n = corrupt(buf, sizeof(buf), 9, 0);
	assert_int_equal(node_meta_decode(buf, n, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "meta.memory"));
	n = corrupt(buf, sizeof(buf), -1, 0);
	assert_int_equal(node_meta_decode(buf, n - 1, &d, err, sizeof(err)), -74); /* truncated */
	assert_int_equal(node_meta_decode((const uint8_t *)"\x93\x01\x00\x00", 4, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "meta: expected 11 to 64 elements, got 3"));
	/* labels: not an array, too many, a non-string */
	struct node_meta m = sample();
	m.nlabels = 0;
	size_t len;
	assert_int_equal(node_meta_encode(&m, buf, sizeof(buf), &len), 0);
	buf[len - 1] = 0xc0; /* nil where the labels array belongs */
	assert_int_equal(node_meta_decode(buf, len, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "meta.labels"));
	buf[len - 1] = 0x91; /* an array of one ... */
	buf[len] = 0x05;     /* ... integer */
	assert_int_equal(node_meta_decode(buf, len + 1, &d, err, sizeof(err)), -74);
	assert_non_null(strstr(err, "meta.labels[]"));
	assert_int_equal(node_meta_decode((const uint8_t *)"\xdd\xff\xff\xff\xff", 5, &d, err, sizeof(err)), -74);
}

static void older_and_newer_versions_are_accepted(void **state)
{
	(void)state;
	struct node_meta m = sample(), d;
	uint8_t buf[NODE_META_MAX + 1];
	size_t len;
	char err[128];
	assert_int_equal(node_meta_encode(&m, buf, NODE_META_MAX, &len), 0);
	/* the first release wrote 11 fields: no labels */
	uint8_t old[NODE_META_MAX];
	m.nlabels = 0;
	size_t olen;
	assert_int_equal(node_meta_encode(&m, old, sizeof(old), &olen), 0);
	assert_int_equal(old[0], 0x9c);
	assert_int_equal(old[olen - 1], 0x90); /* the empty labels array, last */
	old[0] = 0x9b;
	assert_int_equal(node_meta_decode(old, olen - 1, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nlabels, 0);
	assert_string_equal(d.hostname, "vm");
	/* a newer version appends fields: ignored */
	buf[0] = 0x9d;
	buf[len] = 0xc0;
	assert_int_equal(node_meta_decode(buf, len + 1, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nlabels, 2);
	assert_string_equal(d.labels[1], "disk=ssd");
	/* a count that does not match what follows is refused */
	buf[0] = 0x9e;
	assert_int_equal(node_meta_decode(buf, len + 1, &d, err, sizeof(err)), -74);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(longest_fields_fit_the_bound),
		cmocka_unit_test(malformed_cases_name_the_field),
		cmocka_unit_test(older_and_newer_versions_are_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
