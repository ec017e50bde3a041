/* wal: the Raft log, hard state and snapshots on disk, written on the libuv threadpool with group commit. */
#include "swarmnode/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swarmnode/datadir.h"
#include "swarmnode/log.h"
#include "swarmnode/raft_codec.h"
#include "swarmnode/wal_record.h"

#define HARD_STATE_FILE "hardstate"
#define SEG_NAME_LEN 20   /* 16 digits + ".seg" */
#define SNAP_PREFIX "snapshot-"
#define SNAP_NAME_LEN 42  /* "snapshot-" + 16 + "-" + 16 */

/* One segment file. */
struct wal_segment {
	uint64_t first;    /* index of its first entry: its name */
	uint64_t last;     /* index of its last entry (first - 1 when empty) */
	uint64_t size;     /* bytes of whole records */
	uint64_t *offsets; /* offsets[i]: where entry first + i starts */
	size_t cap;        /* room in offsets */
};

enum wal_op_kind {
	WAL_OP_WRITE = 1,    /* a write of the persistence contract */
	WAL_OP_SNAPSHOT = 2, /* the host's own snapshot */
	WAL_OP_COMPACT = 3,  /* delete covered segments */
};

/* One queued operation; everything it needs is copied in. */
struct wal_op {
	struct wal_op *next;           /* queue link */
	uint8_t kind;                  /* enum wal_op_kind */
	uint64_t seq;                  /* WRITE: its number; 0 otherwise */
	bool has_hs;                   /* hs is to be written */
	struct raft_hard_state hs;
	uint8_t *snap_img;             /* a snapshot file image, or NULL */
	size_t snap_img_len;
	struct raft_snapshot_meta snap; /* its meta */
	uint8_t *recs;                 /* entry records back to back */
	size_t *rec_sizes;             /* size of each */
	size_t n_entries;
	uint64_t first_index;          /* index of the first entry */
	uint64_t compact_index;        /* COMPACT: delete up to here */
	wal_done_cb cb;                /* completion, or NULL (COMPACT) */
	void *cb_data;
};

struct wal {
	uv_loop_t *loop;
	struct datadir dd;              /* dd.path is the directory; used for atomic files, not locked */
	struct wal_options opt;
	/* Disk state: touched by the threadpool job while busy, by the loop thread otherwise. */
	struct wal_segment *segs;       /* sorted by first index */
	size_t n_segs, cap_segs;
	int fd;                         /* the last segment, open for writing, or -1 */
	bool fd_dirty;                  /* written since its last fdatasync */
	bool dir_dirty;                 /* a file created or deleted since the dir's last fsync */
	bool has_snap;                  /* snap is stored */
	struct raft_snapshot_meta snap; /* the stored snapshot's meta */
	uint64_t job_fsyncs, job_bytes; /* counted by the job, added to stats after it */
	int job_rc;                     /* the job's result */
	/* Loop thread. */
	uv_work_t work;                 /* the threadpool job */
	bool busy;                      /* a job is running */
	struct wal_op *head, *tail;     /* queued, not started */
	struct wal_op *batch;           /* the running job's operations */
	int failed;                     /* sticky error, 0 while healthy */
	uint64_t last_seq;              /* highest seq accepted */
	uint64_t q_last;                /* last index once every accepted operation is done */
	uint64_t q_snap;                /* snapshot index once every accepted operation is done */
	bool closing;                   /* wal_close was called */
	void (*closed)(void *data);
	void *closed_data;
	struct wal_stats stats;
	uint8_t **boot_bufs;            /* segment images the boot entries point into */
	size_t n_boot_bufs, cap_boot_bufs;
	struct raft_entry *boot_entries; /* the boot's entries array until released */
};

static void start_job(struct wal *w);

/* ---- File helpers (any thread) --------------------------------------------------- */

static int fault(struct wal *w, const char *op)
{
	return w->opt.fault != NULL ? w->opt.fault(w->opt.fault_data, op) : 0;
}

static void seg_name(char *buf, size_t len, uint64_t first)
{
	snprintf(buf, len, "%016" PRIu64 ".seg", first);
}

static void path_of(const struct wal *w, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", w->dd.path, name);
}

static void seg_path(const struct wal *w, uint64_t first, char *buf, size_t len)
{
	char name[32];
	seg_name(name, sizeof(name), first);
	path_of(w, name, buf, len);
}

static void snap_name(char *buf, size_t len, uint64_t term, uint64_t index)
{
	snprintf(buf, len, SNAP_PREFIX "%016" PRIu64 "-%016" PRIu64, term, index);
}

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Reads the whole file at path into a malloc'd buffer. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out_close;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out_close;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out_free;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	close(fd);
	return 0;
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

/* ---- Segments (threadpool while busy) -------------------------------------------- */

static struct wal_segment *last_seg(struct wal *w)
{
	return w->n_segs > 0 ? &w->segs[w->n_segs - 1] : NULL;
}

static uint64_t last_index(const struct wal *w)
{
	for (size_t i = w->n_segs; i > 0; i--)
		if (w->segs[i - 1].last >= w->segs[i - 1].first)
			return w->segs[i - 1].last;
	return w->has_snap ? w->snap.index : 0;
}

static int seg_note_entry(struct wal_segment *s, uint64_t offset)
{
	size_t n = (size_t)(s->last + 1 - s->first);
	if (n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint64_t *o = realloc(s->offsets, cap * sizeof(*o));
		if (o == NULL)
			return -ENOMEM;
		s->offsets = o;
		s->cap = cap;
	}
	s->offsets[n] = offset;
	s->last++;
	return 0;
}

static struct wal_segment *push_seg(struct wal *w, uint64_t first)
{
	if (w->n_segs == w->cap_segs) {
		size_t cap = w->cap_segs ? w->cap_segs * 2 : 16;
		struct wal_segment *s = realloc(w->segs, cap * sizeof(*s));
		if (s == NULL)
			return NULL;
		w->segs = s;
		w->cap_segs = cap;
	}
	struct wal_segment *s = &w->segs[w->n_segs++];
	memset(s, 0, sizeof(*s));
	s->first = first;
	s->last = first - 1;
	return s;
}

static void close_fd(struct wal *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->fd_dirty = false;
}

static int do_fsync(struct wal *w, int fd, bool data_only)
{
	int rc = fault(w, "fsync");
	if (rc != 0)
		return rc;
	w->job_fsyncs++;
	if ((data_only ? fdatasync(fd) : fsync(fd)) != 0)
		return -errno;
	return 0;
}

static int sync_dir(struct wal *w)
{
	if (!w->dir_dirty)
		return 0;
	int dfd = open(w->dd.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = do_fsync(w, dfd, false);
	close(dfd);
	if (rc == 0)
		w->dir_dirty = false;
	return rc;
}

/* Makes everything written so far durable. */
static int sync_pending(struct wal *w)
{
	if (w->fd_dirty) {
		int rc = do_fsync(w, w->fd, true);
		if (rc != 0)
			return rc;
		w->fd_dirty = false;
	}
	return sync_dir(w);
}

/* Deletes the last segment file and forgets it. */
static int pop_seg(struct wal *w)
{
	char path[4200];
	struct wal_segment *s = last_seg(w);
	int rc = fault(w, "unlink");
	if (rc != 0)
		return rc;
	close_fd(w);
	seg_path(w, s->first, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	free(s->offsets);
	w->n_segs--;
	w->dir_dirty = true;
	return 0;
}

/* Deletes every entry >= index, durably, before anything else is appended:
 * the later segments (the last first), then the tail of the one holding index. */
static int truncate_from(struct wal *w, uint64_t index)
{
	int rc;
	while (w->n_segs > 0 && last_seg(w)->first >= index)
		if ((rc = pop_seg(w)) != 0)
			return rc;
	if ((rc = sync_pending(w)) != 0)
		return rc;
	struct wal_segment *s = last_seg(w);
	if (s == NULL || s->last < index)
		return 0;
	uint64_t off = s->offsets[index - s->first];
	char path[4200];
	seg_path(w, s->first, path, sizeof(path));
	if ((rc = fault(w, "truncate")) != 0)
		return rc;
	if (w->fd < 0 && (w->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (ftruncate(w->fd, (off_t)off) != 0)
		return -errno;
	s->size = off;
	s->last = index - 1;
	w->fd_dirty = true;
	return sync_pending(w);
}

/* Deletes every segment (a received snapshot replaces the log), durably. */
static int drop_all_segments(struct wal *w)
{
	int rc;
	while (w->n_segs > 0)
		if ((rc = pop_seg(w)) != 0)
			return rc;
	return sync_dir(w);
}

/* Starts a new segment whose first entry will be index. */
static int new_segment(struct wal *w, uint64_t index)
{
	char path[4200];
	int rc = sync_pending(w);
	if (rc != 0)
		return rc;
	close_fd(w);
	if ((rc = fault(w, "create")) != 0)
		return rc;
	seg_path(w, index, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (push_seg(w, index) == NULL) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	w->fd = fd;
	w->dir_dirty = true;
	return 0;
}

/* Makes the last segment the place for entry index: opens it, or starts a new
 * one when there is none, it is full, or index does not follow it (a gap the
 * snapshot covers). */
static int segment_for(struct wal *w, uint64_t index, size_t rec_size)
{
	struct wal_segment *s = last_seg(w);
	bool has_entries = s != NULL && s->last >= s->first;
	if (s == NULL || s->last + 1 != index ||
	    (has_entries && s->size + rec_size > w->opt.segment_bytes))
		return new_segment(w, index);
	if (w->fd < 0) {
		char path[4200];
		seg_path(w, s->first, path, sizeof(path));
		if ((w->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			return -errno;
	}
	return 0;
}

/* Appends the entry records of op, one pwrite per segment touched. */
static int append_entries(struct wal *w, const struct wal_op *op)
{
	size_t i = 0, off = 0;
	while (i < op->n_entries) {
		int rc = segment_for(w, op->first_index + i, op->rec_sizes[i]);
		if (rc != 0)
			return rc;
		struct wal_segment *s = last_seg(w);
		size_t start = off, j = i;
		uint64_t pos = s->size;
		do {
			if ((rc = seg_note_entry(s, pos)) != 0)
				return rc;
			pos += op->rec_sizes[j];
			off += op->rec_sizes[j];
			j++;
		} while (j < op->n_entries && pos + op->rec_sizes[j] <= w->opt.segment_bytes);
		if ((rc = fault(w, "write")) != 0 ||
		    (rc = write_all(w->fd, op->recs + start, off - start, s->size)) != 0) {
			s->last = op->first_index + i - 1;
			return rc;
		}
		s->size = pos;
		w->fd_dirty = true;
		w->job_bytes += off - start;
		i = j;
	}
	return 0;
}

/* Writes an atomic file (temporary, fsync, rename, fsync of the dir). */
static int atomic_file(struct wal *w, const char *what, const char *name, const uint8_t *data,
		       size_t len)
{
	int rc = fault(w, what);
	if (rc != 0)
		return rc;
	w->job_fsyncs += 2;
	return datadir_write(&w->dd, name, (const char *)data, len);
}

static int write_hard_state(struct wal *w, const struct raft_hard_state *hs)
{
	uint8_t buf[WAL_RECORD_HEADER + RAFT_HARD_STATE_ENCODED_MAX];
	size_t len;
	int rc = wal_record_put_hard_state(hs, buf, sizeof(buf), &len);
	if (rc != 0)
		return rc;
	/* Earlier writes first: the hard state must not land without them. */
	if ((rc = sync_pending(w)) != 0)
		return rc;
	return atomic_file(w, "hardstate", HARD_STATE_FILE, buf, len);
}

/* Stores a snapshot and deletes the one it replaces. */
static int store_snapshot(struct wal *w, const struct wal_op *op)
{
	char name[64], old[64];
	snap_name(name, sizeof(name), op->snap.term, op->snap.index);
	int rc = atomic_file(w, "snapshot", name, op->snap_img, op->snap_img_len);
	if (rc != 0)
		return rc;
	if (w->has_snap) {
		snap_name(old, sizeof(old), w->snap.term, w->snap.index);
		/* A leftover is removed again at the next open: no fsync needed. */
		if (strcmp(old, name) != 0 && datadir_remove(&w->dd, old) == 0)
			w->dir_dirty = true;
	}
	w->snap = op->snap;
	w->has_snap = true;
	return 0;
}

static int do_write(struct wal *w, const struct wal_op *op)
{
	int rc;
	if (op->has_hs && (rc = write_hard_state(w, &op->hs)) != 0)
		return rc;
	if (op->snap_img != NULL) {
		if ((rc = sync_pending(w)) != 0 || (rc = store_snapshot(w, op)) != 0 ||
		    (rc = drop_all_segments(w)) != 0)
			return rc;
	}
	if (op->n_entries == 0)
		return 0;
	struct wal_segment *s = last_seg(w);
	if (s != NULL && op->first_index <= s->last && (rc = truncate_from(w, op->first_index)) != 0)
		return rc;
	return append_entries(w, op);
}

/* Deletes leading segments whose entries are all <= limit, never the last. */
static int do_compact(struct wal *w, uint64_t index)
{
	if (!w->has_snap)
		return 0;
	uint64_t limit = w->snap.index < index ? w->snap.index : index;
	size_t n = 0;
	while (n + 1 < w->n_segs && w->segs[n].last <= limit) {
		char path[4200];
		int rc = fault(w, "unlink");
		if (rc != 0)
			return rc;
		seg_path(w, w->segs[n].first, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT)
			return -errno;
		free(w->segs[n].offsets);
		n++;
	}
	if (n > 0)
		memmove(w->segs, w->segs + n, (w->n_segs - n) * sizeof(*w->segs));
	w->n_segs -= n;
	return 0;
}

static int run_op(struct wal *w, const struct wal_op *op)
{
	switch (op->kind) {
	case WAL_OP_WRITE:
		return do_write(w, op);
	case WAL_OP_SNAPSHOT:
		return store_snapshot(w, op);
	case WAL_OP_COMPACT:
		return do_compact(w, op->compact_index);
	}
	return -EINVAL;
}

/* The threadpool job: every operation of the batch in order, then one sync. */
static void job_work(uv_work_t *req)
{
	struct wal *w = req->data;
	int rc = 0;
	w->job_fsyncs = 0;
	w->job_bytes = 0;
	for (struct wal_op *op = w->batch; op != NULL && rc == 0; op = op->next)
		rc = run_op(w, op);
	if (rc == 0)
		rc = sync_pending(w);
	w->job_rc = rc;
}

/* ---- Operations (loop thread) ------------------------------------------------------ */

static void op_free(struct wal_op *op)
{
	free(op->snap_img);
	free(op->recs);
	free(op->rec_sizes);
	free(op);
}

/* Runs the callbacks of ops with status, in order, and frees them. */
static void complete(struct wal *w, struct wal_op *ops, int status)
{
	while (ops != NULL) {
		struct wal_op *next = ops->next;
		if (ops->kind == WAL_OP_WRITE && status == 0)
			w->stats.writes++;
		if (ops->cb != NULL)
			ops->cb(w, ops->seq, status, ops->cb_data);
		op_free(ops);
		ops = next;
	}
}

static void free_wal(struct wal *w)
{
	for (size_t i = 0; i < w->n_segs; i++)
		free(w->segs[i].offsets);
	free(w->segs);
	for (size_t i = 0; i < w->n_boot_bufs; i++)
		free(w->boot_bufs[i]);
	free(w->boot_bufs);
	free(w->boot_entries);
	free(w);
}

static void close_work(uv_work_t *req)
{
	close_fd(req->data);
}

static void close_done(uv_work_t *req, int status)
{
	struct wal *w = req->data;
	void (*closed)(void *) = w->closed;
	void *data = w->closed_data;
	free_wal(w);
	if (closed != NULL)
		closed(data);
}

/* Closes the file on the threadpool, so closed() never runs inside wal_close. */
static void start_close(struct wal *w)
{
	w->busy = true;
	w->work.data = w;
	if (uv_queue_work(w->loop, &w->work, close_work, close_done) != 0) {
		close_work(&w->work);
		close_done(&w->work, 0);
	}
}

/* What runs when the loop is idle again: the next batch, or the close. */
static void next_step(struct wal *w)
{
	if (w->busy)
		return;
	if (w->head != NULL && w->failed != 0) {
		struct wal_op *ops = w->head;
		w->head = w->tail = NULL;
		complete(w, ops, w->failed);
	}
	if (w->head != NULL)
		start_job(w);
	else if (w->closing)
		start_close(w);
}

static void job_done(uv_work_t *req, int status)
{
	struct wal *w = req->data;
	struct wal_op *ops = w->batch;
	int rc = status != 0 ? status : w->job_rc;
	w->batch = NULL;
	w->busy = false;
	w->stats.batches++;
	w->stats.fsyncs += w->job_fsyncs;
	w->stats.bytes += w->job_bytes;
	w->stats.segments = (uint32_t)w->n_segs;
	w->stats.last_index = last_index(w);
	if (rc != 0 && w->failed == 0) {
		w->failed = rc;
		log_error("wal", "raft log write failed; refusing further writes",
			  LF_STR("dir", w->dd.path), LF_STR("error", strerror(-rc)));
	}
	/* Callbacks may queue more (and close): the next job starts after them. */
	w->busy = true;
	complete(w, ops, rc);
	w->busy = false;
	next_step(w);
}

static void start_job(struct wal *w)
{
	w->batch = w->head;
	w->head = w->tail = NULL;
	w->busy = true;
	w->work.data = w;
	int rc = uv_queue_work(w->loop, &w->work, job_work, job_done);
	if (rc != 0) {
		/* Only for a bad loop or callback: fail as a write error would. */
		struct wal_op *ops = w->batch;
		w->batch = NULL;
		w->busy = false;
		w->failed = rc;
		complete(w, ops, rc);
	}
}

static int enqueue(struct wal *w, struct wal_op *op)
{
	op->next = NULL;
	if (w->tail != NULL)
		w->tail->next = op;
	else
		w->head = op;
	w->tail = op;
	next_step(w);
	return 0;
}

/* Refuses an operation on a failed or closing wal. */
static int refused(const struct wal *w)
{
	if (w->failed != 0)
		return w->failed;
	return w->closing ? -ECANCELED : 0;
}

/* Encodes entries into op->recs (back to back) and op->rec_sizes. */
static int encode_entries(struct wal_op *op, const struct raft_entry *entries, size_t n)
{
	size_t cap = 0, off = 0;
	for (size_t i = 0; i < n; i++)
		cap += wal_record_entry_max(&entries[i]);
	op->recs = malloc(cap > 0 ? cap : 1);
	op->rec_sizes = malloc(n * sizeof(*op->rec_sizes));
	if (op->recs == NULL || op->rec_sizes == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (entries[i].index != entries[0].index + i)
			return -EINVAL;
		int rc = wal_record_put_entry(&entries[i], op->recs + off, cap - off, &op->rec_sizes[i]);
		if (rc != 0)
			return rc;
		off += op->rec_sizes[i];
	}
	op->n_entries = n;
	op->first_index = entries[0].index;
	return 0;
}

static struct wal_op *op_new(uint8_t kind, wal_done_cb cb, void *data)
{
	struct wal_op *op = calloc(1, sizeof(*op));
	if (op != NULL) {
		op->kind = kind;
		op->cb = cb;
		op->cb_data = data;
	}
	return op;
}

int wal_write(struct wal *w, uint64_t seq, const struct raft_hard_state *hs,
	      const struct raft_snapshot_meta *snap, const uint8_t *snap_data, size_t snap_len,
	      const struct raft_entry *entries, size_t n, wal_done_cb cb, void *data)
{
	int rc = refused(w);
	if (rc != 0)
		return rc;
	if (cb == NULL || seq <= w->last_seq || (n > 0 && entries == NULL) ||
	    (snap != NULL && snap->index < w->q_snap))
		return -EINVAL;
	uint64_t base = snap != NULL ? snap->index : w->q_snap;
	uint64_t last = snap != NULL ? snap->index : w->q_last;
	/* Entries continue the log, or start right after a snapshot. */
	if (n > 0 && (entries[0].index == 0 || (entries[0].index > last + 1 && entries[0].index != base + 1)))
		return -EINVAL;
	struct wal_op *op = op_new(WAL_OP_WRITE, cb, data);
	if (op == NULL)
		return -ENOMEM;
	op->seq = seq;
	if (hs != NULL) {
		op->has_hs = true;
		op->hs = *hs;
	}
	if (snap != NULL) {
		op->snap = *snap;
		if (snap->index == 0 || snap->term == 0)
			rc = -EINVAL;
		else
			rc = wal_snapshot_image(snap, snap_data, snap_len, &op->snap_img, &op->snap_img_len);
	}
	if (rc == 0 && n > 0)
		rc = encode_entries(op, entries, n);
	if (rc != 0) {
		op_free(op);
		return rc;
	}
	w->last_seq = seq;
	w->q_snap = base;
	w->q_last = n > 0 ? entries[n - 1].index : last;
	return enqueue(w, op);
}

int wal_save_snapshot(struct wal *w, const struct raft_snapshot_meta *meta, const uint8_t *data,
		      size_t len, wal_done_cb cb, void *data_cb)
{
	int rc = refused(w);
	if (rc != 0)
		return rc;
	if (cb == NULL || meta->index == 0 || meta->term == 0 || meta->index < w->q_snap)
		return -EINVAL;
	struct wal_op *op = op_new(WAL_OP_SNAPSHOT, cb, data_cb);
	if (op == NULL)
		return -ENOMEM;
	op->snap = *meta;
	if ((rc = wal_snapshot_image(meta, data, len, &op->snap_img, &op->snap_img_len)) != 0) {
		op_free(op);
		return rc;
	}
	w->q_snap = meta->index;
	return enqueue(w, op);
}

int wal_compact(struct wal *w, uint64_t index)
{
	int rc = refused(w);
	if (rc != 0)
		return rc;
	struct wal_op *op = op_new(WAL_OP_COMPACT, NULL, NULL);
	if (op == NULL)
		return -ENOMEM;
	op->compact_index = index;
	return enqueue(w, op);
}

void wal_get_stats(const struct wal *w, struct wal_stats *out)
{
	*out = w->stats;
}

void wal_close(struct wal *w, void (*closed)(void *data), void *data)
{
	w->closing = true;
	w->closed = closed;
	w->closed_data = data;
	next_step(w);
}

/* ---- Open (synchronous) ------------------------------------------------------------- */

/* What the directory holds. */
struct wal_listing {
	uint64_t *segs;  /* first indexes of the segment files */
	size_t n_segs, cap_segs;
	struct raft_snapshot_meta *snaps; /* term and index of each snapshot file */
	size_t n_snaps, cap_snaps;
};

/* Growable arrays, for open only. */
static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	void *q = realloc(*p, c * size);
	if (q == NULL)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* Parses exactly 16 decimal digits. */
static bool parse_index(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static int list_entry(struct wal *w, struct wal_listing *l, const char *name)
{
	size_t len = strlen(name);
	uint64_t a, b;
	if (len == SEG_NAME_LEN && strcmp(name + 16, ".seg") == 0 && parse_index(name, &a) && a > 0) {
		if (grow((void **)&l->segs, &l->cap_segs, l->n_segs, sizeof(*l->segs)) != 0)
			return -ENOMEM;
		l->segs[l->n_segs++] = a;
	} else if (len == SNAP_NAME_LEN && strncmp(name, SNAP_PREFIX, 9) == 0 && parse_index(name + 9, &a) &&
		   name[25] == '-' && parse_index(name + 26, &b)) {
		if (grow((void **)&l->snaps, &l->cap_snaps, l->n_snaps, sizeof(*l->snaps)) != 0)
			return -ENOMEM;
		l->snaps[l->n_snaps++] = (struct raft_snapshot_meta){ .term = a, .index = b };
	} else if (name[0] == '.' && len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
		/* An atomic write that never reached its rename. */
		datadir_remove(&w->dd, name);
	}
	return 0;
}

static int list_dir(struct wal *w, struct wal_listing *l, char *err, size_t errlen)
{
	DIR *d = opendir(w->dd.path);
	if (d == NULL) {
		int rc = -errno;
		snprintf(err, errlen, "cannot read raft dir %s: %s", w->dd.path, strerror(errno));
		return rc;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL)
		rc = list_entry(w, l, de->d_name);
	closedir(d);
	if (rc != 0)
		snprintf(err, errlen, "reading raft dir %s: %s", w->dd.path, strerror(-rc));
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Keeps an image alive until wal_boot_release. */
static int keep_buf(struct wal *w, uint8_t *buf)
{
	if (grow((void **)&w->boot_bufs, &w->cap_boot_bufs, w->n_boot_bufs, sizeof(*w->boot_bufs)) != 0) {
		free(buf);
		return -ENOMEM;
	}
	w->boot_bufs[w->n_boot_bufs++] = buf;
	return 0;
}

/* Reads a whole file and keeps it until wal_boot_release (boot data points into it). */
static int read_kept(struct wal *w, const char *path, uint8_t **img, size_t *len, char *err,
		     size_t errlen)
{
	int rc = read_file(path, img, len);
	if (rc != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	if ((rc = keep_buf(w, *img)) != 0)
		snprintf(err, errlen, "reading %s: out of memory", path);
	return rc;
}

static int load_hard_state(struct wal *w, struct wal_boot *boot, char *err, size_t errlen)
{
	char path[4200], why[200] = "";
	uint8_t *img;
	size_t len;
	path_of(w, HARD_STATE_FILE, path, sizeof(path));
	int rc = read_file(path, &img, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = wal_hard_state_image_decode(img, len, &boot->hs, why, sizeof(why));
	free(img);
	if (rc != 0) {
		snprintf(err, errlen, "raft hard state %s corrupt at %s; refusing to start", path, why);
		return -EBADMSG;
	}
	return 0;
}

static int cmp_snap(const void *a, const void *b)
{
	const struct raft_snapshot_meta *x = a, *y = b;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->term < y->term ? -1 : x->term > y->term;
}

/* Loads the latest snapshot and deletes the older ones. */
static int load_snapshot(struct wal *w, struct wal_listing *l, struct wal_boot *boot, char *err,
			 size_t errlen)
{
	char name[64], path[4200], why[200] = "";
	if (l->n_snaps == 0)
		return 0;
	qsort(l->snaps, l->n_snaps, sizeof(*l->snaps), cmp_snap);
	const struct raft_snapshot_meta *latest = &l->snaps[l->n_snaps - 1];
	snap_name(name, sizeof(name), latest->term, latest->index);
	path_of(w, name, path, sizeof(path));
	uint8_t *img;
	const uint8_t *data;
	size_t len;
	int rc = read_kept(w, path, &img, &len, err, errlen);
	if (rc != 0)
		return rc;
	rc = wal_snapshot_image_decode(img, len, &boot->snap, &data, &boot->snap_len, why, sizeof(why));
	if (rc == 0 && (boot->snap.index != latest->index || boot->snap.term != latest->term)) {
		snprintf(why, sizeof(why), "offset 0: meta says term %" PRIu64 " index %" PRIu64 ", not the name's",
			 boot->snap.term, boot->snap.index);
		rc = -EBADMSG;
	}
	if (rc != 0) {
		snprintf(err, errlen, "raft snapshot %s corrupt at %s; refusing to start", path, why);
		return -EBADMSG;
	}
	boot->has_snapshot = true;
	boot->snap_data = (uint8_t *)data;
	w->has_snap = true;
	w->snap = boot->snap;
	for (size_t i = 0; i + 1 < l->n_snaps; i++) {
		snap_name(name, sizeof(name), l->snaps[i].term, l->snaps[i].index);
		datadir_remove(&w->dd, name);
	}
	return 0;
}

/* Entries read at open, data pointing into the segment images. */
struct entry_vec {
	struct raft_entry *v;
	size_t n, cap;
};

struct seg_visit {
	struct wal_segment *seg;
	struct entry_vec *entries;
};

static int visit_entry(void *data, const struct wal_record *rec, size_t offset, char *err, size_t errlen)
{
	struct seg_visit *sv = data;
	struct raft_entry e;
	int rc = wal_record_entry(rec, &e, err, errlen);
	if (rc != 0)
		return rc;
	if (e.index != sv->seg->last + 1) {
		snprintf(err, errlen, "entry index %" PRIu64 " where %" PRIu64 " was expected", e.index,
			 sv->seg->last + 1);
		return -EBADMSG;
	}
	if (grow((void **)&sv->entries->v, &sv->entries->cap, sv->entries->n, sizeof(e)) != 0 ||
	    seg_note_entry(sv->seg, offset) != 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sv->entries->v[sv->entries->n++] = e;
	return 0;
}

static int corrupt(char *err, size_t errlen, const char *path, size_t offset, const char *why)
{
	snprintf(err, errlen, "raft log corrupt at %s offset %zu: %s; refusing to start", path, offset, why);
	return -EBADMSG;
}

/* Cuts the torn tail of the last segment at scan->end, durably, and says so. */
static int cut_tail(const char *path, const struct wal_scan *scan, size_t len, struct wal_boot *boot,
		    char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)scan->end) != 0 || fsync(fd) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "cannot cut the torn tail of %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	boot->repaired = true;
	size_t cap = sizeof(boot->note);
	if (snprintf(boot->note, cap,
		 "cut the %s tail of %s at offset %zu (%zu bytes%s%s%s)", wal_tail_str(scan->tail), path,
		 scan->end, len - scan->end, scan->tail == WAL_TAIL_TORN ? ": " : "",
		 scan->tail == WAL_TAIL_TORN ? scan->why : "",
		 scan->dropped_valid > 0 ? ", with records of an unsynced batch after it" : "") >= (int)cap)
		memcpy(boot->note + cap - 4, "...", 4);
	log_warn("wal", "raft log: torn tail cut", LF_STR("file", path), LF_UINT("offset", scan->end),
		 LF_UINT("bytes", len - scan->end), LF_STR("tail", wal_tail_str(scan->tail)),
		 LF_STR("why", scan->why), LF_UINT("dropped_records", scan->dropped_valid));
	return 0;
}

/* Reads one segment, its entries into ev; the last one may have its tail cut. */
static int load_segment(struct wal *w, uint64_t first, bool is_last, struct entry_vec *ev,
			struct wal_boot *boot, char *err, size_t errlen)
{
	char path[4200], why[200] = "";
	uint8_t *img;
	size_t len;
	seg_path(w, first, path, sizeof(path));
	int rc = read_kept(w, path, &img, &len, err, errlen);
	if (rc != 0)
		return rc;
	struct wal_segment *s = push_seg(w, first);
	if (s == NULL)
		return -ENOMEM;
	struct seg_visit sv = { .seg = s, .entries = ev };
	struct wal_scan scan;
	rc = wal_scan_image(img, len, visit_entry, &sv, &scan, why, sizeof(why));
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0)
		return corrupt(err, errlen, path, scan.bad_offset, why);
	if (scan.tail == WAL_TAIL_CORRUPT || (!is_last && scan.tail != WAL_TAIL_CLEAN))
		return corrupt(err, errlen, path, scan.end,
			       scan.tail == WAL_TAIL_ZEROS ? "zeros after the last record of a closed segment"
							   : scan.why);
	if (scan.tail != WAL_TAIL_CLEAN && (rc = cut_tail(path, &scan, len, boot, err, errlen)) != 0)
		return rc;
	s->size = scan.end;
	if (scan.n_records > 0)
		return 0;
	if (!is_last)
		return corrupt(err, errlen, path, 0, "a closed segment without entries");
	free(s->offsets);
	w->n_segs--;
	if (unlink(path) != 0) {
		snprintf(err, errlen, "cannot remove the empty segment %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Checks that segment k follows segment k - 1 (a gap only below the snapshot). */
static int check_follows(struct wal *w, size_t k, char *err, size_t errlen)
{
	char path[4200], why[160];
	const struct wal_segment *prev = &w->segs[k - 1], *s = &w->segs[k];
	uint64_t snap_index = w->has_snap ? w->snap.index : 0;
	if (s->first == prev->last + 1 || (s->first > prev->last && s->first - 1 <= snap_index))
		return 0;
	seg_path(w, s->first, path, sizeof(path));
	snprintf(why, sizeof(why), "the previous segment ends at index %" PRIu64 ", this one starts at %" PRIu64,
		 prev->last, s->first);
	return corrupt(err, errlen, path, 0, why);
}

/* Deletes leading segments the snapshot covers entirely. */
static void drop_covered(struct wal *w)
{
	size_t n = 0;
	char path[4200];
	while (w->has_snap && n < w->n_segs && w->segs[n].last <= w->snap.index) {
		seg_path(w, w->segs[n].first, path, sizeof(path));
		if (unlink(path) != 0)
			break;
		free(w->segs[n].offsets);
		n++;
	}
	if (n > 0)
		memmove(w->segs, w->segs + n, (w->n_segs - n) * sizeof(*w->segs));
	w->n_segs -= n;
}

/* Hands the entries after the snapshot to boot (they must follow it). */
static int boot_entries(struct wal *w, struct entry_vec *ev, struct wal_boot *boot, char *err,
			size_t errlen)
{
	uint64_t snap_index = w->has_snap ? w->snap.index : 0;
	size_t skip = 0;
	while (skip < ev->n && ev->v[skip].index <= snap_index)
		skip++;
	if (skip < ev->n && ev->v[skip].index != snap_index + 1) {
		snprintf(err, errlen, "raft log in %s resumes at index %" PRIu64 " after the snapshot at %" PRIu64
			 "; refusing to start", w->dd.path, ev->v[skip].index, snap_index);
		return -EBADMSG;
	}
	boot->n_entries = ev->n - skip;
	if (skip > 0)
		memmove(ev->v, ev->v + skip, boot->n_entries * sizeof(*ev->v));
	boot->entries = ev->v;
	ev->v = NULL;
	return 0;
}

static int load_segments(struct wal *w, struct wal_listing *l, struct wal_boot *boot, char *err,
			 size_t errlen)
{
	struct entry_vec ev = { 0 };
	int rc = 0;
	if (l->n_segs > 0)
		qsort(l->segs, l->n_segs, sizeof(*l->segs), cmp_u64);
	for (size_t k = 0; k < l->n_segs && rc == 0; k++) {
		size_t before = w->n_segs;
		rc = load_segment(w, l->segs[k], k + 1 == l->n_segs, &ev, boot, err, errlen);
		if (rc == 0 && w->n_segs > before && before > 0)
			rc = check_follows(w, w->n_segs - 1, err, errlen);
	}
	if (rc == 0)
		rc = boot_entries(w, &ev, boot, err, errlen);
	free(ev.v);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "reading the raft log in %s: out of memory", w->dd.path);
	if (rc == 0)
		drop_covered(w);
	return rc;
}

int wal_open(uv_loop_t *loop, const char *dir, const struct wal_options *opt, struct wal **out,
	     struct wal_boot *boot, char *err, size_t errlen)
{
	memset(boot, 0, sizeof(*boot));
	struct wal *w = calloc(1, sizeof(*w));
	struct wal_listing l = { 0 };
	if (w == NULL) {
		snprintf(err, errlen, "opening the raft log: out of memory");
		return -ENOMEM;
	}
	w->loop = loop;
	w->fd = -1;
	w->dd.lock_fd = -1;
	if (opt != NULL)
		w->opt = *opt;
	if (w->opt.segment_bytes == 0)
		w->opt.segment_bytes = WAL_SEGMENT_BYTES;
	int rc = -ENAMETOOLONG;
	if (snprintf(w->dd.path, sizeof(w->dd.path), "%s", dir) >= (int)sizeof(w->dd.path) - 64) {
		snprintf(err, errlen, "raft dir %s: path too long", dir);
		goto err_after_alloc;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create raft dir %s: %s", dir, strerror(errno));
		goto err_after_alloc;
	}
	if ((rc = list_dir(w, &l, err, errlen)) != 0 || (rc = load_hard_state(w, boot, err, errlen)) != 0 ||
	    (rc = load_snapshot(w, &l, boot, err, errlen)) != 0 ||
	    (rc = load_segments(w, &l, boot, err, errlen)) != 0)
		goto err_after_alloc;
	free(l.segs);
	free(l.snaps);
	w->stats.segments = (uint32_t)w->n_segs;
	w->stats.last_index = last_index(w);
	w->q_last = last_index(w);
	w->q_snap = w->has_snap ? w->snap.index : 0;
	w->boot_entries = boot->entries;
	*out = w;
	return 0;
err_after_alloc:
	free(l.segs);
	free(l.snaps);
	free(boot->entries);
	memset(boot, 0, sizeof(*boot));
	free_wal(w);
	return rc;
}

void wal_boot_release(struct wal *w, struct wal_boot *boot)
{
	free(w->boot_entries);
	w->boot_entries = NULL;
	for (size_t i = 0; i < w->n_boot_bufs; i++)
		free(w->boot_bufs[i]);
	free(w->boot_bufs);
	w->boot_bufs = NULL;
	w->n_boot_bufs = w->cap_boot_bufs = 0;
	memset(boot, 0, sizeof(*boot));
}
