/* Unit tests for wal: a real libuv loop and a temporary directory; reopen, truncation, snapshots, compaction, torn tails, corruption, group commit, write errors, and a SIGKILLed writer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <uv.h>

#include "swarmnode/log.h"
#include "swarmnode/wal.h"
#include "swarmnode/wal_record.h"

#define MAX_DONE 4096

struct fx {
	uv_loop_t loop;
	char dir[64];                 /* the temporary directory */
	struct wal *w;
	struct wal_boot boot;
	struct wal_options opt;
	uint64_t done_seq[MAX_DONE];  /* callbacks seen, in order */
	int done_status[MAX_DONE];
	size_t n_done;
	bool closed;
	atomic_int fail_op;           /* fault: 1 fails "fsync", 2 fails "write", 0 none */
	char err[512];
};

static int fault(void *data, const char *op)
{
	struct fx *f = data;
	int mode = atomic_load(&f->fail_op);
	if ((mode == 1 && strcmp(op, "fsync") == 0) || (mode == 2 && strcmp(op, "write") == 0))
		return -EIO;
	return 0;
}

static void on_done(struct wal *w, uint64_t seq, int status, void *data)
{
	struct fx *f = data;
	assert_true(f->n_done < MAX_DONE);
	f->done_seq[f->n_done] = seq;
	f->done_status[f->n_done] = status;
	f->n_done++;
}

static void on_closed(void *data)
{
	((struct fx *)data)->closed = true;
}

static int open_wal(struct fx *f)
{
	f->err[0] = '\0';
	return wal_open(&f->loop, f->dir, &f->opt, &f->w, &f->boot, f->err, sizeof(f->err));
}

static void must_open(struct fx *f)
{
	if (open_wal(f) != 0)
		fail_msg("wal_open: %s", f->err);
}

static void close_wal(struct fx *f)
{
	wal_boot_release(f->w, &f->boot);
	f->closed = false;
	wal_close(f->w, on_closed, f);
	assert_false(f->closed); /* never inside wal_close */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	f->w = NULL;
}

static void reopen(struct fx *f)
{
	close_wal(f);
	must_open(f);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_wal.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->opt.fault = fault;
	f->opt.fault_data = f;
	*state = f;
	return 0;
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->w != NULL)
		close_wal(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---------------------------------------------------------------------- */

/* Entries first..first+n-1 of term, data "i<index>t<term>" plus filler. */
static struct raft_entry *make_entries(uint64_t first, size_t n, uint64_t term, size_t filler)
{
	struct raft_entry *es = calloc(n, sizeof(*es));
	assert_non_null(es);
	for (size_t i = 0; i < n; i++) {
		char *d = malloc(64 + filler);
		assert_non_null(d);
		int len = snprintf(d, 64, "i%" PRIu64 "t%" PRIu64, first + i, term);
		memset(d + len, 'x', filler);
		es[i] = (struct raft_entry){ .index = first + i, .term = term, .type = RAFT_ENTRY_NORMAL,
					     .data = (uint8_t *)d, .len = (size_t)len + filler };
	}
	return es;
}

static void free_entries(struct raft_entry *es, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)es[i].data);
	free(es);
}

/* Checks that boot entry index has term (and the data make_entries gave it). */
static void expect_entry(const struct fx *f, uint64_t index, uint64_t term)
{
	uint64_t first = f->boot.entries[0].index;
	assert_true(index >= first && index - first < f->boot.n_entries);
	const struct raft_entry *e = &f->boot.entries[index - first];
	char want[64];
	int len = snprintf(want, sizeof(want), "i%" PRIu64 "t%" PRIu64, index, term);
	assert_int_equal(e->index, index);
	assert_int_equal(e->term, term);
	assert_true(e->len >= (size_t)len);
	assert_memory_equal(e->data, want, (size_t)len);
}

static void run_until_done(struct fx *f, size_t n_done)
{
	while (f->n_done < n_done)
		assert_int_equal(uv_run(&f->loop, UV_RUN_ONCE) >= 0, 1);
}

/* One write, waited for; returns its status. */
static int write_wait(struct fx *f, uint64_t seq, const struct raft_hard_state *hs,
		      const struct raft_snapshot_meta *snap, const uint8_t *sdata, size_t slen,
		      uint64_t first, size_t n, uint64_t term)
{
	struct raft_entry *es = n > 0 ? make_entries(first, n, term, seq % 13) : NULL;
	size_t before = f->n_done;
	int rc = wal_write(f->w, seq, hs, snap, sdata, slen, es, n, on_done, f);
	if (es != NULL)
		free_entries(es, n);
	if (rc != 0)
		return rc;
	run_until_done(f, before + 1);
	assert_int_equal(f->done_seq[before], seq);
	return f->done_status[before];
}

static int count_files(const struct fx *f, const char *suffix_or_prefix, bool prefix)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	int n = 0;
	size_t k = strlen(suffix_or_prefix);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (prefix ? strncmp(de->d_name, suffix_or_prefix, k) == 0
			   : len >= k && strcmp(de->d_name + len - k, suffix_or_prefix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void seg_file(const struct fx *f, uint64_t first, char *path, size_t len)
{
	snprintf(path, len, "%s/%016" PRIu64 ".seg", f->dir, first);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static struct raft_snapshot_meta snap_meta(uint64_t index, uint64_t term)
{
	struct raft_snapshot_meta m = { .index = index, .term = term, .conf = { .n = 1 } };
	m.conf.members[0] = (struct raft_member){ .id = 1, .role = RAFT_VOTER };
	return m;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_write_reopen(void **state)
{
	struct fx *f = *state;
	must_open(f);
	assert_int_equal(f->boot.n_entries, 0);
	assert_false(f->boot.has_snapshot);
	assert_int_equal(f->boot.hs.term, 0);
	struct raft_hard_state hs = { .term = 3, .vote = 2 };
	assert_int_equal(write_wait(f, 1, &hs, NULL, NULL, 0, 1, 10, 1), 0);
	assert_int_equal(write_wait(f, 2, NULL, NULL, NULL, 0, 11, 40, 2), 0);
	assert_int_equal(write_wait(f, 3, NULL, NULL, NULL, 0, 0, 0, 0), 0); /* a seq alone */
	struct wal_stats st;
	wal_get_stats(f->w, &st);
	assert_int_equal(st.writes, 3);
	assert_int_equal(st.last_index, 50);
	assert_int_equal(st.segments, 1);
	reopen(f);
	assert_int_equal(f->boot.hs.term, 3);
	assert_int_equal(f->boot.hs.vote, 2);
	assert_int_equal(f->boot.n_entries, 50);
	assert_false(f->boot.repaired);
	for (uint64_t i = 1; i <= 50; i++)
		expect_entry(f, i, i <= 10 ? 1 : 2);
	/* Appending after a reopen continues the same log. */
	assert_int_equal(write_wait(f, 4, NULL, NULL, NULL, 0, 51, 5, 2), 0);
	reopen(f);
	assert_int_equal(f->boot.n_entries, 55);
	expect_entry(f, 55, 2);
	/* Seq must grow (it starts again with each core, so with each open); a
	 * callback is required. */
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 0, 0, 0), 0);
	assert_int_equal(wal_write(f->w, 1, NULL, NULL, NULL, 0, NULL, 0, on_done, f), -EINVAL);
	assert_int_equal(wal_write(f->w, 9, NULL, NULL, NULL, 0, NULL, 0, NULL, f), -EINVAL);
}

static void test_overwrite_from_index(void **state)
{
	struct fx *f = *state;
	f->opt.segment_bytes = 160; /* a few entries per segment */
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 60, 1), 0);
	assert_true(count_files(f, ".seg", false) > 5);
	/* Within the last segment. */
	assert_int_equal(write_wait(f, 2, NULL, NULL, NULL, 0, 59, 3, 2), 0);
	/* Across segments: every later segment goes. */
	assert_int_equal(write_wait(f, 3, NULL, NULL, NULL, 0, 20, 2, 3), 0);
	struct wal_stats st;
	wal_get_stats(f->w, &st);
	assert_int_equal(st.last_index, 21);
	reopen(f);
	assert_int_equal(f->boot.n_entries, 21);
	for (uint64_t i = 1; i <= 19; i++)
		expect_entry(f, i, 1);
	expect_entry(f, 20, 3);
	expect_entry(f, 21, 3);
	/* At the first entry of the log, then growing again. */
	assert_int_equal(write_wait(f, 4, NULL, NULL, NULL, 0, 1, 1, 4), 0);
	assert_int_equal(write_wait(f, 5, NULL, NULL, NULL, 0, 2, 30, 4), 0);
	reopen(f);
	assert_int_equal(f->boot.n_entries, 31);
	for (uint64_t i = 1; i <= 31; i++)
		expect_entry(f, i, 4);
}

static void test_snapshot_install(void **state)
{
	struct fx *f = *state;
	f->opt.segment_bytes = 400;
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 40, 1), 0);
	struct raft_snapshot_meta m = snap_meta(30, 3);
	uint8_t data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	struct raft_hard_state hs = { .term = 3, .vote = 0 };
	assert_int_equal(write_wait(f, 2, &hs, &m, data, sizeof(data), 31, 5, 3), 0);
	assert_int_equal(count_files(f, ".seg", false), 1);
	assert_int_equal(count_files(f, "snapshot-", true), 1);
	reopen(f);
	assert_true(f->boot.has_snapshot);
	assert_int_equal(f->boot.snap.index, 30);
	assert_int_equal(f->boot.snap.term, 3);
	assert_int_equal(f->boot.snap.conf.n, 1);
	assert_int_equal(f->boot.snap_len, sizeof(data));
	assert_memory_equal(f->boot.snap_data, data, sizeof(data));
	assert_int_equal(f->boot.hs.term, 3);
	assert_int_equal(f->boot.n_entries, 5);
	for (uint64_t i = 31; i <= 35; i++)
		expect_entry(f, i, 3);
	/* A second snapshot alone (no entries): the log is empty after it, the
	 * older snapshot file is gone. */
	m = snap_meta(50, 4);
	assert_int_equal(write_wait(f, 3, NULL, &m, data, 10, 0, 0, 0), 0);
	assert_int_equal(count_files(f, "snapshot-", true), 1);
	assert_int_equal(count_files(f, ".seg", false), 0);
	reopen(f);
	assert_int_equal(f->boot.snap.index, 50);
	assert_int_equal(f->boot.n_entries, 0);
	assert_int_equal(write_wait(f, 4, NULL, NULL, NULL, 0, 51, 2, 4), 0);
	reopen(f);
	assert_int_equal(f->boot.n_entries, 2);
	expect_entry(f, 52, 4);
}

static void test_compaction(void **state)
{
	struct fx *f = *state;
	f->opt.segment_bytes = 128;
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 200, 1), 0);
	int before = count_files(f, ".seg", false);
	assert_true(before > 20);
	/* Without a snapshot, nothing is covered: nothing goes. */
	assert_int_equal(wal_compact(f->w, 150), 0);
	assert_int_equal(write_wait(f, 2, NULL, NULL, NULL, 0, 0, 0, 0), 0);
	assert_int_equal(count_files(f, ".seg", false), before);
	struct raft_snapshot_meta m = snap_meta(150, 1);
	size_t n0 = f->n_done;
	assert_int_equal(wal_save_snapshot(f->w, &m, (const uint8_t *)"state", 5, on_done, f), 0);
	/* Beyond the snapshot: clamped to it. */
	assert_int_equal(wal_compact(f->w, 190), 0);
	run_until_done(f, n0 + 1);
	assert_int_equal(f->done_seq[n0], 0);
	assert_int_equal(f->done_status[n0], 0);
	assert_int_equal(write_wait(f, 3, NULL, NULL, NULL, 0, 0, 0, 0), 0);
	int after = count_files(f, ".seg", false);
	assert_true(after < before);
	/* Every segment left holds an entry above 150. */
	reopen(f);
	assert_true(f->boot.has_snapshot);
	assert_int_equal(f->boot.snap.index, 150);
	assert_int_equal(f->boot.snap_len, 5);
	assert_int_equal(f->boot.n_entries, 50);
	expect_entry(f, 151, 1);
	expect_entry(f, 200, 1);
	struct wal_stats st;
	wal_get_stats(f->w, &st);
	assert_int_equal(st.segments, (uint32_t)after);
	/* A newer own snapshot replaces the file. */
	m = snap_meta(200, 1);
	n0 = f->n_done;
	assert_int_equal(wal_save_snapshot(f->w, &m, (const uint8_t *)"state2", 6, on_done, f), 0);
	run_until_done(f, n0 + 1);
	assert_int_equal(count_files(f, "snapshot-", true), 1);
}

static void test_gap_below_snapshot(void **state)
{
	/* The host's snapshot became durable before the entries just below it
	 * (crash): the log resumes after the snapshot. */
	struct fx *f = *state;
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 10, 1), 0);
	struct raft_snapshot_meta m = snap_meta(12, 1);
	size_t n0 = f->n_done;
	assert_int_equal(wal_save_snapshot(f->w, &m, (const uint8_t *)"s", 1, on_done, f), 0);
	run_until_done(f, n0 + 1);
	reopen(f);
	assert_int_equal(f->boot.n_entries, 0);
	/* Neither after the log nor after the snapshot: refused. */
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 15, 1, 1), -EINVAL);
	/* An older snapshot than the stored one: refused. */
	m = snap_meta(11, 1);
	assert_int_equal(wal_save_snapshot(f->w, &m, (const uint8_t *)"s", 1, on_done, f), -EINVAL);
	assert_int_equal(write_wait(f, 2, NULL, NULL, NULL, 0, 13, 3, 1), 0);
	reopen(f);
	assert_int_equal(f->boot.n_entries, 3);
	expect_entry(f, 13, 1);
}

/* Writes entries 1..5 and returns the segment's path, size and last record's offset. */
static void five_entries(struct fx *f, char *path, size_t plen, off_t *size, off_t *last_off)
{
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 4, 1), 0);
	seg_file(f, 1, path, plen);
	*last_off = file_size(path);
	assert_int_equal(write_wait(f, 2, NULL, NULL, NULL, 0, 5, 1, 1), 0);
	*size = file_size(path);
	close_wal(f);
}

static uint8_t *slurp(const char *path, off_t size)
{
	uint8_t *buf = malloc((size_t)size);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, (size_t)size), size);
	close(fd);
	return buf;
}

static void put_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void test_torn_tail_every_offset(void **state)
{
	struct fx *f = *state;
	char path[128];
	off_t size, last;
	five_entries(f, path, sizeof(path), &size, &last);
	uint8_t *img = slurp(path, size);
	log_set_min_level(LOG_SILENT);
	for (off_t k = last + 1; k < size; k++) {
		put_file(path, img, (size_t)k);
		must_open(f);
		assert_true(f->boot.repaired);
		assert_non_null(strstr(f->boot.note, path));
		assert_int_equal(f->boot.n_entries, 4);
		expect_entry(f, 4, 1);
		close_wal(f);
		assert_int_equal(file_size(path), last);
	}
	/* A bad CRC in the last record. */
	img[size - 1] ^= 1;
	put_file(path, img, (size_t)size);
	must_open(f);
	assert_true(f->boot.repaired);
	assert_non_null(strstr(f->boot.note, "CRC mismatch"));
	assert_int_equal(f->boot.n_entries, 4);
	close_wal(f);
	img[size - 1] ^= 1;
	/* Trailing zeros: cut, nothing lost. */
	uint8_t *z = calloc(1, (size_t)size + 700);
	memcpy(z, img, (size_t)size);
	put_file(path, z, (size_t)size + 700);
	must_open(f);
	assert_true(f->boot.repaired);
	assert_int_equal(f->boot.n_entries, 5);
	log_set_min_level(LOG_INFO);
	/* And the log takes writes after the cut. */
	assert_int_equal(write_wait(f, 3, NULL, NULL, NULL, 0, 6, 1, 1), 0);
	reopen(f);
	assert_false(f->boot.repaired);
	assert_int_equal(f->boot.n_entries, 6);
	free(z);
	free(img);
}

static void test_unsynced_batch_hole(void **state)
{
	/* Power lost before a batch's fsync: one page of it never reached the
	 * disk (zeros), later pages did. Cut from the hole on, as a torn tail. */
	struct fx *f = *state;
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 5, 1), 0);
	char path[128];
	seg_file(f, 1, path, sizeof(path));
	off_t synced = file_size(path);
	assert_int_equal(write_wait(f, 2, NULL, NULL, NULL, 0, 6, 400, 1), 0);
	close_wal(f);
	off_t size = file_size(path);
	uint8_t *img = slurp(path, size);
	off_t hole = (synced + 2 * WAL_SECTOR) / WAL_SECTOR * WAL_SECTOR;
	assert_true(hole + WAL_SECTOR < size);
	memset(img + hole, 0, WAL_SECTOR);
	put_file(path, img, (size_t)size);
	log_set_min_level(LOG_SILENT);
	must_open(f);
	log_set_min_level(LOG_INFO);
	assert_true(f->boot.repaired);
	assert_non_null(strstr(f->boot.note, "unsynced batch"));
	assert_true(f->boot.n_entries >= 5);
	expect_entry(f, f->boot.n_entries, 1);
	assert_true(file_size(path) <= hole);
	free(img);
}

static void test_middle_corruption_refused(void **state)
{
	struct fx *f = *state;
	char path[128];
	off_t size, last;
	five_entries(f, path, sizeof(path), &size, &last);
	uint8_t *img = slurp(path, size);
	img[30] ^= 0x20; /* inside record 2 of 5 */
	put_file(path, img, (size_t)size);
	assert_int_equal(open_wal(f), -EBADMSG);
	assert_null(f->w);
	char want[200];
	snprintf(want, sizeof(want), "raft log corrupt at %s offset ", path);
	if (strstr(f->err, want) == NULL || strstr(f->err, "refusing to start") == NULL)
		fail_msg("unexpected message: %s", f->err);
	/* The file was not touched. */
	assert_int_equal(file_size(path), size);
	free(img);
}

static void test_closed_segment_damage_refused(void **state)
{
	struct fx *f = *state;
	f->opt.segment_bytes = 200;
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 20, 1), 0);
	close_wal(f);
	char path[128];
	seg_file(f, 1, path, sizeof(path));
	off_t size = file_size(path);
	/* A torn tail in a segment that is not the last: refused, not cut. */
	assert_int_equal(truncate(path, size - 3), 0);
	assert_int_equal(open_wal(f), -EBADMSG);
	assert_non_null(strstr(f->err, "0000000000000001.seg"));
	/* A broken hard state file is refused too. */
	assert_int_equal(truncate(path, 0), 0);
	unlink(path);
	char hs[128];
	snprintf(hs, sizeof(hs), "%s/hardstate", f->dir);
	put_file(hs, (const uint8_t *)"WL\x02\x00\x03\x00\x00\x00garbage", 15);
	assert_int_equal(open_wal(f), -EBADMSG);
	assert_non_null(strstr(f->err, "hard state"));
}

static void test_log_must_follow_snapshot(void **state)
{
	struct fx *f = *state;
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 5, 1), 0);
	close_wal(f);
	char from[128], to[128];
	seg_file(f, 1, from, sizeof(from));
	seg_file(f, 7, to, sizeof(to));
	assert_int_equal(rename(from, to), 0);
	/* Named 7, holding 1..5: the first record is not the name's. */
	assert_int_equal(open_wal(f), -EBADMSG);
	assert_non_null(strstr(f->err, "entry index 1 where 7 was expected"));
}

static void test_group_commit(void **state)
{
	struct fx *f = *state;
	must_open(f);
	/* One at a time: at least one fsync each. */
	for (uint64_t s = 1; s <= 50; s++)
		assert_int_equal(write_wait(f, s, NULL, NULL, NULL, 0, s, 1, 1), 0);
	struct wal_stats a;
	wal_get_stats(f->w, &a);
	assert_true(a.fsyncs >= 50);
	/* 500 queued at once: a handful of fsyncs. */
	size_t n0 = f->n_done;
	for (uint64_t s = 51; s <= 550; s++) {
		struct raft_entry *e = make_entries(s, 1, 1, 100);
		assert_int_equal(wal_write(f->w, s, NULL, NULL, NULL, 0, e, 1, on_done, f), 0);
		free_entries(e, 1);
	}
	run_until_done(f, n0 + 500);
	struct wal_stats b;
	wal_get_stats(f->w, &b);
	for (size_t i = 0; i < 500; i++) {
		assert_int_equal(f->done_seq[n0 + i], 51 + i);
		assert_int_equal(f->done_status[n0 + i], 0);
	}
	print_message("group commit: 50 sequential writes %" PRIu64 " fsyncs; 500 queued writes %" PRIu64
		      " fsyncs in %" PRIu64 " batches\n", a.fsyncs, b.fsyncs - a.fsyncs, b.batches - a.batches);
	assert_true(b.batches - a.batches <= 3);
	assert_true(b.fsyncs - a.fsyncs <= 6);
	reopen(f);
	assert_int_equal(f->boot.n_entries, 550);
}

static void test_write_error_sticky(void **state)
{
	struct fx *f = *state;
	must_open(f);
	assert_int_equal(write_wait(f, 1, NULL, NULL, NULL, 0, 1, 3, 1), 0);
	log_set_min_level(LOG_SILENT);
	atomic_store(&f->fail_op, 1);
	size_t n0 = f->n_done;
	struct raft_entry *e = make_entries(4, 2, 1, 0);
	assert_int_equal(wal_write(f->w, 2, NULL, NULL, NULL, 0, e, 2, on_done, f), 0);
	assert_int_equal(wal_write(f->w, 3, NULL, NULL, NULL, 0, NULL, 0, on_done, f), 0);
	assert_int_equal(wal_write(f->w, 4, NULL, NULL, NULL, 0, NULL, 0, on_done, f), 0);
	run_until_done(f, n0 + 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(f->done_seq[n0 + i], 2 + i);
		assert_int_equal(f->done_status[n0 + i], -EIO);
	}
	/* Healed disk or not, the wal refuses from now on. */
	atomic_store(&f->fail_op, 0);
	assert_int_equal(wal_write(f->w, 5, NULL, NULL, NULL, 0, e, 2, on_done, f), -EIO);
	struct raft_snapshot_meta m = snap_meta(3, 1);
	assert_int_equal(wal_save_snapshot(f->w, &m, NULL, 0, on_done, f), -EIO);
	assert_int_equal(wal_compact(f->w, 2), -EIO);
	free_entries(e, 2);
	log_set_min_level(LOG_INFO);
	reopen(f);
	/* Only what was acknowledged is promised; the failed writes never were. */
	assert_true(f->boot.n_entries >= 3);
}

static void test_write_error_on_write(void **state)
{
	struct fx *f = *state;
	must_open(f);
	log_set_min_level(LOG_SILENT);
	atomic_store(&f->fail_op, 2);
	struct raft_hard_state hs = { 1, 1 };
	assert_int_equal(write_wait(f, 1, &hs, NULL, NULL, 0, 1, 3, 1), -EIO);
	atomic_store(&f->fail_op, 0);
	assert_int_equal(wal_write(f->w, 2, NULL, NULL, NULL, 0, NULL, 0, on_done, f), -EIO);
	log_set_min_level(LOG_INFO);
}

/* ---- crash consistency ----------------------------------------------------------------- */

/* The deterministic workload: write s appends, or (every 7th) overwrites the
 * last two entries with a higher term; the term is raised in the hard state. */
struct model {
	uint64_t last, term;
};

static void model_step(struct model *m, uint64_t s, uint64_t *first, size_t *n, bool *hs)
{
	*hs = false;
	if (s % 7 == 0 && m->last >= 3) {
		m->term++;
		*hs = true;
		*first = m->last - 1;
		*n = 3;
	} else {
		*first = m->last + 1;
		*n = 1 + s % 4;
	}
	if (m->term == 0) {
		m->term = 1;
		*hs = true;
	}
	m->last = *first + *n - 1;
}

struct child {
	struct fx *f;
	int pipe;
	struct model m;
	uint64_t seq;
};

static void child_write(struct child *c);

static void child_done(struct wal *w, uint64_t seq, int status, void *data)
{
	struct child *c = data;
	if (status != 0)
		_exit(3);
	if (write(c->pipe, &seq, sizeof(seq)) != sizeof(seq))
		_exit(4);
	/* Keep a few writes queued so that batches form. */
	if (seq % 4 == 0)
		for (int i = 0; i < 4; i++)
			child_write(c);
}

static void child_write(struct child *c)
{
	uint64_t first;
	size_t n;
	bool hs;
	c->seq++;
	model_step(&c->m, c->seq, &first, &n, &hs);
	struct raft_entry *es = make_entries(first, n, c->m.term, c->seq % 50);
	struct raft_hard_state h = { .term = c->m.term, .vote = 1 };
	if (wal_write(c->f->w, c->seq, hs ? &h : NULL, NULL, NULL, 0, es, n, child_done, c) != 0)
		_exit(5);
	free_entries(es, n);
}

static void run_child(struct fx *f, int fd)
{
	struct child c = { .f = f, .pipe = fd };
	/* A loop of its own: the parent's shares its epoll and eventfd. */
	if (uv_loop_init(&f->loop) != 0 || open_wal(f) != 0)
		_exit(2);
	for (int i = 0; i < 4; i++)
		child_write(&c);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	_exit(6);
}

/* The log after writes 1..k: for each index, the term of the write that last wrote it. */
static uint64_t *model_log(uint64_t k, uint64_t *last, uint64_t *first_of_k)
{
	struct model m = { 0 };
	uint64_t *terms = calloc(8 * k + 8, sizeof(*terms));
	for (uint64_t s = 1; s <= k; s++) {
		uint64_t first;
		size_t n;
		bool hs;
		model_step(&m, s, &first, &n, &hs);
		for (size_t i = 0; i < n; i++)
			terms[first + i] = m.term;
		*first_of_k = first;
	}
	*last = m.last;
	return terms;
}

static void crash_once(struct fx *f, unsigned seed)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		run_child(f, p[1]);
	}
	close(p[1]);
	/* Kill after a random number of acknowledgements: at a random point of
	 * whatever the child is doing then. */
	uint64_t want = 20 + seed % 400, acked = 0, seq;
	size_t n_acks = 0;
	while (n_acks < want && read(p[0], &seq, sizeof(seq)) == sizeof(seq)) {
		assert_int_equal(seq, acked + 1);
		acked = seq;
		n_acks++;
	}
	kill(pid, SIGKILL);
	while (read(p[0], &seq, sizeof(seq)) == sizeof(seq))
		acked = seq; /* acknowledged before the kill landed */
	close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));

	log_set_min_level(LOG_SILENT);
	must_open(f);
	log_set_min_level(LOG_INFO);
	/* The disk holds writes 1..k for some k >= acked, write k possibly in
	 * part: everything below write k's first index complete, then a prefix. */
	uint64_t n = f->boot.n_entries, k_last = 0;
	assert_true(n > 0);
	uint64_t hs_term = f->boot.hs.term;
	bool matched = false;
	for (uint64_t k = acked; k <= acked + 64 && !matched; k++) {
		uint64_t last = 0, first_k = 0;
		uint64_t *terms = model_log(k, &last, &first_k);
		bool ok = n >= first_k - 1 && n <= last;
		for (uint64_t i = 1; ok && i <= n; i++)
			ok = f->boot.entries[i - 1].index == i && f->boot.entries[i - 1].term == terms[i];
		free(terms);
		if (ok && hs_term >= f->boot.entries[n - 1].term) {
			matched = true;
			k_last = k;
		}
	}
	if (!matched)
		fail_msg("seed %u: acked %" PRIu64 ", disk has %" PRIu64 " entries (last term %" PRIu64
			 ", hs term %" PRIu64 "): no prefix of the writes matches", seed, acked, n,
			 f->boot.entries[n - 1].term, hs_term);
	print_message("crash %u: %" PRIu64 " writes acknowledged, disk holds writes up to %" PRIu64 "%s\n",
		      seed, acked, k_last, f->boot.repaired ? " (torn tail cut)" : "");
	close_wal(f);
	rm_rf(f->dir);
	assert_int_equal(mkdir(f->dir, 0700), 0);
}

static void test_crash_consistency(void **state)
{
	struct fx *f = *state;
	f->opt.segment_bytes = 4096;
	f->opt.fault = NULL;
	for (unsigned seed = 1; seed <= 12; seed++)
		crash_once(f, seed * 2654435761u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_from_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_below_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsynced_batch_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_middle_corruption_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_segment_damage_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_must_follow_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_sticky, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_on_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_consistency, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
