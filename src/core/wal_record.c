/* wal_record: the checksummed record format of the Raft log on disk, without I/O. */
#include "swarmnode/wal_record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/raft_codec.h"

/* CRC32C (Castagnoli, reflected polynomial 0x82f63b78), one byte per step. */
static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t wal_crc32c(uint32_t crc, const void *p, size_t len)
{
	const uint8_t *b = p;
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = crc32c_table[(crc ^ b[i]) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t record_crc(const uint8_t *rec, size_t length)
{
	return wal_crc32c(wal_crc32c(0, rec, 8), rec + WAL_RECORD_HEADER, length);
}

/* ---- Encoding ------------------------------------------------------------ */

void wal_record_seal(uint8_t *rec, uint8_t type, size_t length)
{
	rec[0] = WAL_RECORD_MAGIC0;
	rec[1] = WAL_RECORD_MAGIC1;
	rec[2] = type;
	rec[3] = 0;
	put_le32(rec + 4, (uint32_t)length);
	put_le32(rec + 8, record_crc(rec, length));
}

size_t wal_record_entry_max(const struct raft_entry *e)
{
	return WAL_RECORD_HEADER + raft_entry_encoded_size(e);
}

/* Maps a raft_codec encoder's result to an errno-style code. */
static int codec_rc(int rc)
{
	if (rc == 0)
		return 0;
	return rc == RAFT_E_TOO_BIG ? -ENOBUFS : -EINVAL;
}

int wal_record_put_entry(const struct raft_entry *e, uint8_t *out, size_t cap, size_t *used)
{
	size_t n;
	if (cap < WAL_RECORD_HEADER)
		return -ENOBUFS;
	if (e->len > WAL_RECORD_MAX_PAYLOAD - 64)
		return -EINVAL;
	int rc = codec_rc(raft_entry_encode(e, out + WAL_RECORD_HEADER, cap - WAL_RECORD_HEADER, &n));
	if (rc != 0)
		return rc;
	wal_record_seal(out, WAL_REC_ENTRY, n);
	*used = WAL_RECORD_HEADER + n;
	return 0;
}

int wal_record_put_hard_state(const struct raft_hard_state *hs, uint8_t *out, size_t cap,
			      size_t *used)
{
	size_t n;
	if (cap < WAL_RECORD_HEADER)
		return -ENOBUFS;
	int rc = codec_rc(raft_hard_state_encode(hs, out + WAL_RECORD_HEADER, cap - WAL_RECORD_HEADER, &n));
	if (rc != 0)
		return rc;
	wal_record_seal(out, WAL_REC_HARD_STATE, n);
	*used = WAL_RECORD_HEADER + n;
	return 0;
}

int wal_snapshot_image(const struct raft_snapshot_meta *meta, const uint8_t *data, size_t len,
		       uint8_t **out, size_t *outlen)
{
	size_t n;
	if (len > WAL_RECORD_MAX_PAYLOAD)
		return -EFBIG;
	if (len > 0 && data == NULL)
		return -EINVAL;
	size_t cap = 2 * WAL_RECORD_HEADER + RAFT_SNAPSHOT_META_ENCODED_MAX + len;
	uint8_t *img = malloc(cap);
	if (img == NULL)
		return -ENOMEM;
	int rc = codec_rc(raft_snapshot_meta_encode(meta, img + WAL_RECORD_HEADER,
						    RAFT_SNAPSHOT_META_ENCODED_MAX, &n));
	if (rc != 0) {
		free(img);
		return -EINVAL;
	}
	wal_record_seal(img, WAL_REC_SNAPSHOT_META, n);
	uint8_t *rec = img + WAL_RECORD_HEADER + n;
	if (len > 0)
		memcpy(rec + WAL_RECORD_HEADER, data, len);
	wal_record_seal(rec, WAL_REC_SNAPSHOT_DATA, len);
	*out = img;
	*outlen = 2 * WAL_RECORD_HEADER + n + len;
	return 0;
}

/* ---- Decoding ------------------------------------------------------------ */

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int wal_record_decode(const uint8_t *in, size_t len, struct wal_record *rec, size_t *used,
		      char *err, size_t errlen)
{
	if (len == 0)
		return fail(-ENODATA, err, errlen, "no bytes where a record was expected");
	if (in[0] != WAL_RECORD_MAGIC0 || (len >= 2 && in[1] != WAL_RECORD_MAGIC1))
		return fail(-EBADMSG, err, errlen, "bad magic 0x%02x%02x", in[0], len >= 2 ? in[1] : 0);
	if (len < WAL_RECORD_HEADER)
		return fail(-ENODATA, err, errlen, "partial header: %zu of %d bytes", len, WAL_RECORD_HEADER);
	uint8_t type = in[2];
	uint32_t length = get_le32(in + 4);
	if (type < WAL_REC_ENTRY || type > WAL_REC_SNAPSHOT_DATA)
		return fail(-EBADMSG, err, errlen, "unknown record type %u", type);
	if (in[3] != 0)
		return fail(-EBADMSG, err, errlen, "flags 0x%02x, expected 0", in[3]);
	if (length > WAL_RECORD_MAX_PAYLOAD)
		return fail(-EBADMSG, err, errlen, "length %u above the maximum %u", length,
			    WAL_RECORD_MAX_PAYLOAD);
	if (len - WAL_RECORD_HEADER < length)
		return fail(-ENODATA, err, errlen, "partial record: length %u, %zu bytes present", length,
			    len - WAL_RECORD_HEADER);
	uint32_t want = get_le32(in + 8), have = record_crc(in, length);
	if (want != have)
		return fail(-EBADMSG, err, errlen, "CRC mismatch (stored 0x%08x, computed 0x%08x)", want, have);
	rec->type = type;
	rec->payload = in + WAL_RECORD_HEADER;
	rec->length = length;
	*used = WAL_RECORD_HEADER + (size_t)length;
	return 0;
}

int wal_record_entry(const struct wal_record *rec, struct raft_entry *e, char *err, size_t errlen)
{
	char why[RAFT_CODEC_ERR_MAX] = "";
	if (rec->type != WAL_REC_ENTRY)
		return fail(-EBADMSG, err, errlen, "record type %u where an entry was expected", rec->type);
	if (raft_entry_decode(rec->payload, rec->length, e, why, sizeof(why)) != 0)
		return fail(-EBADMSG, err, errlen, "entry: %s", why);
	return 0;
}

/* Decodes the record at in[*off..len) and checks its type; advances *off. */
static int take(const uint8_t *in, size_t len, size_t *off, uint8_t type, const char *what,
		struct wal_record *rec, char *err, size_t errlen)
{
	char why[128] = "";
	size_t used;
	int rc = wal_record_decode(in + *off, len - *off, rec, &used, why, sizeof(why));
	if (rc != 0)
		return fail(rc, err, errlen, "offset %zu: %s: %s", *off, what, why);
	if (rec->type != type)
		return fail(-EBADMSG, err, errlen, "offset %zu: record type %u where the %s was expected",
			    *off, rec->type, what);
	*off += used;
	return 0;
}

static int nothing_after(size_t off, size_t len, char *err, size_t errlen)
{
	if (off != len)
		return fail(-EBADMSG, err, errlen, "offset %zu: %zu unexpected bytes after the last record",
			    off, len - off);
	return 0;
}

int wal_hard_state_image_decode(const uint8_t *in, size_t len, struct raft_hard_state *hs,
				char *err, size_t errlen)
{
	struct wal_record rec;
	char why[RAFT_CODEC_ERR_MAX] = "";
	size_t off = 0;
	int rc = take(in, len, &off, WAL_REC_HARD_STATE, "hard state", &rec, err, errlen);
	if (rc != 0)
		return rc;
	if (raft_hard_state_decode(rec.payload, rec.length, hs, why, sizeof(why)) != 0)
		return fail(-EBADMSG, err, errlen, "offset 0: hard state: %s", why);
	return nothing_after(off, len, err, errlen);
}

int wal_snapshot_image_decode(const uint8_t *in, size_t len, struct raft_snapshot_meta *meta,
			      const uint8_t **data, size_t *dlen, char *err, size_t errlen)
{
	struct wal_record rec;
	char why[RAFT_CODEC_ERR_MAX] = "";
	size_t off = 0;
	int rc = take(in, len, &off, WAL_REC_SNAPSHOT_META, "snapshot meta", &rec, err, errlen);
	if (rc != 0)
		return rc;
	if (raft_snapshot_meta_decode(rec.payload, rec.length, meta, why, sizeof(why)) != 0)
		return fail(-EBADMSG, err, errlen, "offset 0: snapshot meta: %s", why);
	if (meta->index == 0 || meta->term == 0)
		return fail(-EBADMSG, err, errlen, "offset 0: snapshot meta: index %" PRIu64 " term %" PRIu64
			    ", both must be >= 1", meta->index, meta->term);
	rc = take(in, len, &off, WAL_REC_SNAPSHOT_DATA, "snapshot data", &rec, err, errlen);
	if (rc != 0)
		return rc;
	*data = rec.payload;
	*dlen = rec.length;
	return nothing_after(off, len, err, errlen);
}

/* ---- Scanning a segment image ---------------------------------------------------- */

const char *wal_tail_str(uint8_t tail)
{
	static const char *const names[] = { "clean", "zeros", "torn", "corrupt" };
	return tail <= WAL_TAIL_CORRUPT ? names[tail] : "unknown";
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* The offset of the first whole record after from, or len if there is none. */
static size_t next_whole_record(const uint8_t *img, size_t len, size_t from)
{
	struct wal_record rec;
	size_t used;
	for (size_t p = from; p + WAL_RECORD_HEADER <= len; p++) {
		if (img[p] != WAL_RECORD_MAGIC0 || img[p + 1] != WAL_RECORD_MAGIC1)
			continue;
		if (wal_record_decode(img + p, len - p, &rec, &used, NULL, 0) == 0)
			return p;
	}
	return len;
}

/* Whether img[from..to) holds a whole, aligned, all-zero sector. */
static bool holds_zero_sector(const uint8_t *img, size_t from, size_t to)
{
	size_t s = (from + WAL_SECTOR - 1) / WAL_SECTOR * WAL_SECTOR;
	for (; s + WAL_SECTOR <= to; s += WAL_SECTOR)
		if (all_zero(img + s, WAL_SECTOR))
			return true;
	return false;
}

/* Classifies the damage at out->end (why says what it is). */
static void classify_damage(const uint8_t *img, size_t len, struct wal_scan *out)
{
	size_t off = out->end;
	out->bad_offset = off;
	size_t next = next_whole_record(img, len, off + 1);
	if (next == len) {
		out->tail = WAL_TAIL_TORN;
		return;
	}
	if (!holds_zero_sector(img, off, next)) {
		out->tail = WAL_TAIL_CORRUPT;
		return;
	}
	out->tail = WAL_TAIL_TORN;
	for (size_t p = next; p < len; p = next_whole_record(img, len, p + 1))
		out->dropped_valid++;
}

int wal_scan_image(const uint8_t *img, size_t len, wal_record_visit visit, void *data,
		   struct wal_scan *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	while (out->end < len) {
		size_t off = out->end, used;
		struct wal_record rec;
		if (img[off] == 0 && all_zero(img + off, len - off)) {
			out->tail = WAL_TAIL_ZEROS;
			return 0;
		}
		if (wal_record_decode(img + off, len - off, &rec, &used, out->why, sizeof(out->why)) != 0) {
			classify_damage(img, len, out);
			return 0;
		}
		if (visit != NULL) {
			int rc = visit(data, &rec, off, err, errlen);
			if (rc != 0) {
				out->bad_offset = off;
				return rc;
			}
		}
		out->n_records++;
		out->end += used;
	}
	out->tail = WAL_TAIL_CLEAN;
	return 0;
}
