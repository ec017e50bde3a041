/* exec_log: an exec task's output as CRI log records in DATA/tasks/<id>/log, written off the loop, rotated to log.1, read back by tail. */
#include "exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "2006-01-02T15:04:05.000000000Z" */
#define TS_LEN 30

static const char *stream_name(enum runtime_log_stream s)
{
	return s == RUNTIME_LOG_STDERR ? "stderr" : "stdout";
}

void exec_log_init(struct exec_log *lg, uv_loop_t *loop, const char *dir, uint64_t max_bytes,
		   void (*on_written)(struct exec_log *lg), void *data)
{
	memset(lg, 0, sizeof(*lg));
	lg->loop = loop;
	lg->dir = dir;
	lg->max_bytes = max_bytes;
	lg->fd = -1;
	lg->on_written = on_written;
	lg->data = data;
	lg->work.data = lg;
}

static void format_time(char out[TS_LEN + 1])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char date[32];
	/* strftime, not %02d: gcc cannot bound the tm fields and warns of truncation. */
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, TS_LEN + 1, "%.19s.%09uZ", date, (unsigned)ts.tv_nsec % 1000000000u);
}

/* --- writing (thread side) ----------------------------------------------- */

/* DIR/log, or DIR/log.1 when old. */
static void log_path(const char *dir, bool old, char out[EXEC_PATH_MAX])
{
	snprintf(out, EXEC_PATH_MAX, "%s/log%s", dir, old ? ".1" : "");
}

static int log_open(struct exec_log *lg)
{
	char path[EXEC_PATH_MAX];
	struct stat st;
	log_path(lg->dir, false, path);
	lg->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (lg->fd < 0)
		return -errno;
	lg->size = fstat(lg->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static int log_rotate(struct exec_log *lg)
{
	char path[EXEC_PATH_MAX], path1[EXEC_PATH_MAX];
	close(lg->fd);
	lg->fd = -1;
	log_path(lg->dir, false, path);
	log_path(lg->dir, true, path1);
	if (rename(path, path1) != 0)
		return -errno;
	return log_open(lg);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The longest prefix of whole records of p[0..n) that fits in room; at
 * least one record when allow_one (a file of its own for a huge one). */
static size_t fitting_records(const char *p, size_t n, uint64_t room, bool allow_one)
{
	size_t fit = 0;
	while (fit < n) {
		const char *nl = memchr(p + fit, '\n', n - fit);
		size_t end = nl ? (size_t)(nl - p) + 1 : n;
		if (end > room && !(allow_one && fit == 0))
			break;
		fit = end;
	}
	return fit;
}

static int log_write_records(struct exec_log *lg, const char *p, size_t n)
{
	int rc;
	if (lg->fd < 0 && (rc = log_open(lg)) != 0)
		return rc;
	while (n > 0) {
		uint64_t room = lg->size < lg->max_bytes ? lg->max_bytes - lg->size : 0;
		size_t fit = fitting_records(p, n, room, lg->size == 0);
		if (fit == 0) {
			if ((rc = log_rotate(lg)) != 0)
				return rc;
			continue;
		}
		if ((rc = write_all(lg->fd, p, fit)) != 0)
			return rc;
		lg->size += fit;
		p += fit;
		n -= fit;
	}
	return 0;
}

static void log_work(uv_work_t *w)
{
	struct exec_log *lg = w->data;
	int rc = log_write_records(lg, lg->inflight, lg->inflight_len);
	if (rc != 0 && lg->error == 0)
		lg->error = rc;
}

/* --- writing (loop side) ------------------------------------------------- */

static void log_kick(struct exec_log *lg);

static void log_work_done(uv_work_t *w, int status)
{
	struct exec_log *lg = w->data;
	free(lg->inflight);
	lg->inflight = NULL;
	lg->inflight_len = 0;
	lg->busy = false;
	if (status != 0 && lg->error == 0)
		lg->error = status;
	log_kick(lg);
	lg->on_written(lg);
}

static void log_kick(struct exec_log *lg)
{
	if (lg->busy || lg->pending_len == 0)
		return;
	lg->inflight = lg->pending;
	lg->inflight_len = lg->pending_len;
	lg->pending = NULL;
	lg->pending_len = lg->pending_cap = 0;
	int rc = uv_queue_work(lg->loop, &lg->work, log_work, log_work_done);
	if (rc != 0) {
		/* Only when the loop is unusable: the records are lost. */
		free(lg->inflight);
		lg->inflight = NULL;
		lg->inflight_len = 0;
		if (lg->error == 0)
			lg->error = rc;
		return;
	}
	lg->busy = true;
}

static int pending_reserve(struct exec_log *lg, size_t more)
{
	if (lg->pending_len + more <= lg->pending_cap)
		return 0;
	size_t cap = lg->pending_cap ? lg->pending_cap : 4096;
	while (cap < lg->pending_len + more)
		cap *= 2;
	char *p = realloc(lg->pending, cap);
	if (p == NULL)
		return -ENOMEM;
	lg->pending = p;
	lg->pending_cap = cap;
	return 0;
}

/* Appends one record (text without newline) whose text is start then rest,
 * so that a line begun in an earlier read is not copied together first,
 * and starts a write if none is in flight. Returns 0 or -ENOMEM (the
 * record is dropped). */
static int log_append_parts(struct exec_log *lg, enum runtime_log_stream stream, const char *start, size_t start_len,
			    const char *rest, size_t rest_len, bool partial)
{
	char head[TS_LEN + 16];
	char ts[TS_LEN + 1];
	format_time(ts);
	int hl = snprintf(head, sizeof(head), "%s %s %c ", ts, stream_name(stream), partial ? 'P' : 'F');
	if (pending_reserve(lg, (size_t)hl + start_len + rest_len + 1) != 0)
		return -ENOMEM;
	char *p = lg->pending + lg->pending_len;
	memcpy(p, head, (size_t)hl);
	p += hl;
	if (start_len > 0)
		memcpy(p, start, start_len);
	if (rest_len > 0)
		memcpy(p + start_len, rest, rest_len);
	lg->pending_len += (size_t)hl + start_len + rest_len;
	lg->pending[lg->pending_len++] = '\n';
	log_kick(lg);
	return 0;
}

bool exec_log_busy(const struct exec_log *lg)
{
	return lg->busy || lg->pending_len > 0;
}

void exec_log_close(struct exec_log *lg)
{
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = -1;
	free(lg->pending);
	lg->pending = NULL;
	lg->pending_len = lg->pending_cap = 0;
}

/* --- lines --------------------------------------------------------------- */

/* Writes the kept start of the line then rest as one record, and forgets
 * the start. Out of memory drops the record; the task goes on. */
static void line_emit(struct exec_line_buf *lb, struct exec_log *lg, const char *rest, size_t rest_len, bool partial)
{
	(void)log_append_parts(lg, lb->stream, lb->line, lb->len, rest, rest_len, partial);
	exec_line_discard(lb);
}

/* Keeps bytes as more of the unfinished line (the total stays below
 * RUNTIME_EXEC_LINE_MAX). Without the memory for it, what there is goes
 * out as a partial record instead, so that nothing is lost for lack of a
 * buffer. */
static void line_keep(struct exec_line_buf *lb, struct exec_log *lg, const char *bytes, size_t len)
{
	char *p = realloc(lb->line, lb->len + len);
	if (p == NULL) {
		line_emit(lb, lg, bytes, len, true);
		return;
	}
	memcpy(p + lb->len, bytes, len);
	lb->line = p;
	lb->len += len;
}

void exec_line_feed(struct exec_line_buf *lb, struct exec_log *lg, const char *bytes, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(bytes, '\n', len);
		size_t take = nl ? (size_t)(nl - bytes) : len;
		size_t room = RUNTIME_EXEC_LINE_MAX - lb->len;
		if (take > room)
			take = room;
		if (take < len && bytes[take] == '\n') {
			line_emit(lb, lg, bytes, take, false);
			take++;
		} else if (take == room) {
			line_emit(lb, lg, bytes, take, true);
		} else {
			line_keep(lb, lg, bytes, take);
		}
		bytes += take;
		len -= take;
	}
}

void exec_line_flush(struct exec_line_buf *lb, struct exec_log *lg)
{
	if (lb->len > 0)
		line_emit(lb, lg, NULL, 0, false);
}

void exec_line_discard(struct exec_line_buf *lb)
{
	free(lb->line);
	lb->line = NULL;
	lb->len = 0;
}

/* --- reading (thread side) ----------------------------------------------- */

/* Parses "2006-01-02T15:04:05.000000000Z" into Unix ns. */
static bool parse_time(const char *s, uint64_t *ns)
{
	struct tm tm = {0};
	long frac = 0;
	char z = 0;
	int used = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%9ld%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &frac, &z, &used) != 8 ||
	    used != TS_LEN || z != 'Z' || frac < 0)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t < 0)
		return false;
	*ns = (uint64_t)t * 1000000000ull + (uint64_t)frac;
	return true;
}

/* One record line (without its newline) into out; false if malformed. */
static bool parse_record(char *p, size_t len, struct runtime_log_line *out)
{
	if (len < TS_LEN + 10 || p[TS_LEN] != ' ')
		return false;
	char save = p[TS_LEN];
	p[TS_LEN] = '\0';
	bool ok = parse_time(p, &out->time_ns);
	p[TS_LEN] = save;
	if (!ok)
		return false;
	const char *s = p + TS_LEN + 1;
	if (memcmp(s, "stdout ", 7) == 0)
		out->stream = RUNTIME_LOG_STDOUT;
	else if (memcmp(s, "stderr ", 7) == 0)
		out->stream = RUNTIME_LOG_STDERR;
	else
		return false;
	if ((s[7] != 'F' && s[7] != 'P') || s[8] != ' ')
		return false;
	out->partial = s[7] == 'P';
	out->text = s + 9;
	out->len = len - (TS_LEN + 10);
	return true;
}

/* Reads the last part of path holding at least want newlines (all of it
 * when shorter) into a malloc'd *buf. -ENOENT if absent. */
static int read_tail_bytes(const char *path, size_t want, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? 0 : -errno;
	off_t start = rc == 0 ? st.st_size : 0;
	size_t lines = 0;
	char chunk[65536];
	/* Count newlines backwards chunk by chunk: a record per newline. */
	while (rc == 0 && start > 0 && lines <= want) {
		size_t n = start < (off_t)sizeof(chunk) ? (size_t)start : sizeof(chunk);
		start -= (off_t)n;
		if (pread(fd, chunk, n, start) != (ssize_t)n) {
			rc = -EIO;
			break;
		}
		for (size_t i = n; i-- > 0 && lines <= want;) {
			if (chunk[i] == '\n' && ++lines > want)
				start += (off_t)i + 1;
		}
	}
	size_t size = rc == 0 ? (size_t)(st.st_size - start) : 0;
	char *b = rc == 0 ? malloc(size + 1) : NULL;
	if (rc == 0 && b == NULL)
		rc = -ENOMEM;
	if (rc == 0 && pread(fd, b, size, start) != (ssize_t)size)
		rc = -EIO;
	close(fd);
	if (rc != 0) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = size;
	return 0;
}

/* Appends the records of buf (len bytes) to lines. */
static int collect_records(char *buf, size_t len, struct runtime_log_line **lines, size_t *n, size_t *cap)
{
	for (char *p = buf; p < buf + len;) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (nl == NULL)
			break; /* a torn last record */
		struct runtime_log_line line;
		if (parse_record(p, (size_t)(nl - p), &line)) {
			if (*n == *cap) {
				size_t c = *cap ? *cap * 2 : 64;
				struct runtime_log_line *l = realloc(*lines, c * sizeof(*l));
				if (l == NULL)
					return -ENOMEM;
				*lines = l;
				*cap = c;
			}
			(*lines)[(*n)++] = line;
		}
		p = nl + 1;
	}
	return 0;
}

int exec_log_read_tail(const char *dir, size_t tail, struct runtime_log_line **lines, size_t *n, char **buf)
{
	char path[EXEC_PATH_MAX], path1[EXEC_PATH_MAX];
	log_path(dir, false, path);
	log_path(dir, true, path1);
	char *cur = NULL, *old = NULL;
	size_t cur_len = 0, old_len = 0, cap = 0;
	*lines = NULL;
	*n = 0;
	*buf = NULL;
	int rc = read_tail_bytes(path, tail, &cur, &cur_len);
	int rc1 = read_tail_bytes(path1, tail, &old, &old_len);
	if (rc == -ENOENT && rc1 == -ENOENT)
		return -ENOENT;
	if ((rc != 0 && rc != -ENOENT) || (rc1 != 0 && rc1 != -ENOENT)) {
		rc = rc != 0 && rc != -ENOENT ? rc : rc1;
		goto err_after_read;
	}
	/* One buffer, old then current, so every line points into it. */
	char *all = malloc(old_len + cur_len + 1);
	if (all == NULL) {
		rc = -ENOMEM;
		goto err_after_read;
	}
	if (old_len > 0)
		memcpy(all, old, old_len);
	if (cur_len > 0)
		memcpy(all + old_len, cur, cur_len);
	free(cur);
	free(old);
	/* A torn record at the end of log.1 must not swallow log's first. */
	if (old_len > 0 && all[old_len - 1] != '\n') {
		char *nl = memrchr(all, '\n', old_len);
		size_t keep = nl ? (size_t)(nl - all) + 1 : 0;
		memmove(all + keep, all + old_len, cur_len);
		old_len = keep;
	}
	rc = collect_records(all, old_len + cur_len, lines, n, &cap);
	if (rc != 0) {
		free(*lines);
		free(all);
		*lines = NULL;
		*n = 0;
		return rc;
	}
	if (*n > tail) {
		memmove(*lines, *lines + (*n - tail), tail * sizeof(**lines));
		*n = tail;
	}
	*buf = all;
	return 0;
err_after_read:
	free(cur);
	free(old);
	return rc;
}
