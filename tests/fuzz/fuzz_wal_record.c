/* Fuzz target: arbitrary bytes as a segment, hard state and snapshot file image through the wal_record decoders; cutting where the scan says leaves a clean image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/wal_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Entries of a segment must be consecutive; counts what decodes. */
struct fz_seg {
	uint64_t next;  /* expected index, 0 before the first */
	size_t entries; /* entry records that decoded */
};

static int visit(void *data, const struct wal_record *rec, size_t offset, char *err, size_t errlen)
{
	struct fz_seg *s = data;
	struct raft_entry e;
	int rc = wal_record_entry(rec, &e, err, errlen);
	if (rc != 0)
		return rc;
	if (s->next != 0 && e.index != s->next)
		return -1;
	if (e.len > rec->length)
		abort();
	s->next = e.index + 1;
	s->entries++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[200];
	struct fz_seg seg = { 0 };
	struct wal_scan scan, again;
	int rc = wal_scan_image(data, size, visit, &seg, &scan, err, sizeof(err));
	if (scan.end > size || scan.tail > WAL_TAIL_CORRUPT)
		abort();
	if (rc == 0) {
		if (scan.tail == WAL_TAIL_CLEAN && scan.end != size)
			abort();
		/* What open keeps after cutting a torn tail scans clean, unchanged. */
		if (wal_scan_image(data, scan.end, NULL, NULL, &again, err, sizeof(err)) != 0 ||
		    again.tail != WAL_TAIL_CLEAN || again.n_records != scan.n_records)
			abort();
	}

	struct raft_hard_state hs;
	wal_hard_state_image_decode(data, size, &hs, err, sizeof(err));

	struct raft_snapshot_meta meta;
	const uint8_t *sd;
	size_t slen;
	if (wal_snapshot_image_decode(data, size, &meta, &sd, &slen, err, sizeof(err)) == 0) {
		/* Re-encoding what decoded gives a decodable image of the same data. */
		uint8_t *img;
		size_t ilen;
		if (wal_snapshot_image(&meta, sd, slen, &img, &ilen) != 0)
			abort();
		struct raft_snapshot_meta m2;
		const uint8_t *d2;
		size_t l2;
		if (wal_snapshot_image_decode(img, ilen, &m2, &d2, &l2, err, sizeof(err)) != 0 || l2 != slen ||
		    (slen > 0 && memcmp(d2, sd, slen) != 0) || m2.index != meta.index || m2.term != meta.term)
			abort();
		free(img);
	}
	return 0;
}
