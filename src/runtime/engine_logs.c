/* engine_logs: a logs answer cut into lines: Docker's 8-byte stream frames demultiplexed, engine timestamps read. */
#include "engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Docker's stream framing (stdcopy), one frame per write of the container:
 *
 *   0        1        4                8
 *   +--------+--------+----------------+------------------+
 *   | stream | 0 0 0  | length (BE 32) | length bytes ... |
 *   +--------+--------+----------------+------------------+
 *
 * stream 1 is stdout, 2 stderr (0 stdin, unused here). A line may span
 * frames, and a frame may hold several lines; each stream keeps its own
 * partial line. A TTY container's answer is raw bytes, without frames. */

#define FRAME_HEADER 8

struct splitter {
	struct runtime_log_line *lines;
	size_t n, cap;
	char *buf;                 /* the lines' text: stdout's region, then stderr's, each as large as the body */
	char *region[3];           /* per stream (1, 2): where its bytes go, contiguous */
	size_t used[3];            /* bytes in each region */
	size_t line_start[3];      /* where each stream's unfinished line starts */
	bool continuing[3];        /* the unfinished line follows a partial piece */
	bool timestamps;
	uint64_t now_ns;
};

/* "2026-11-25T03:36:49.751732370Z " -> ns since the epoch; 0 when not one. */
static uint64_t parse_timestamp(const char *s, size_t len, size_t *used)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *sp = memchr(s, ' ', len < 40 ? len : 40);
	if (sp == NULL)
		return 0;
	char tmp[41];
	memcpy(tmp, s, (size_t)(sp - s));
	tmp[sp - s] = '\0';
	const char *rest = strptime(tmp, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return 0;
	uint64_t frac = 0, scale = 1000000000;
	if (*rest == '.') {
		for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*rest - '0') * scale;
			}
		}
	}
	if (strcmp(rest, "Z") != 0)
		return 0;
	time_t secs = timegm(&tm);
	if (secs < 0)
		return 0;
	*used = (size_t)(sp - s) + 1;
	return (uint64_t)secs * 1000000000u + frac;
}

static int line_add(struct splitter *sp, int stream, bool partial)
{
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct runtime_log_line *l = realloc(sp->lines, cap * sizeof(*l));
		if (l == NULL)
			return -ENOMEM;
		sp->lines = l;
		sp->cap = cap;
	}
	const char *text = sp->region[stream] + sp->line_start[stream];
	size_t len = sp->used[stream] - sp->line_start[stream];
	uint64_t t = 0;
	size_t skip = 0;
	/* Only a line's first piece carries the engine's time. */
	if (sp->timestamps && !sp->continuing[stream])
		t = parse_timestamp(text, len, &skip);
	sp->lines[sp->n++] = (struct runtime_log_line){
		.stream = (enum runtime_log_stream)stream,
		.time_ns = t != 0 ? t : sp->now_ns,
		.text = text + skip,
		.len = len - skip,
		.partial = partial,
	};
	sp->line_start[stream] = sp->used[stream];
	sp->continuing[stream] = partial;
	return 0;
}

/* Appends bytes of one stream to its region, emitting each finished line
 * (and the pieces of an overlong one). */
static int stream_feed(struct splitter *sp, int stream, const char *bytes, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int rc = 0;
		if (bytes[i] == '\n') {
			rc = line_add(sp, stream, false);
		} else {
			sp->region[stream][sp->used[stream]++] = bytes[i];
			if (sp->used[stream] - sp->line_start[stream] == ENGINE_LINE_MAX)
				rc = line_add(sp, stream, true);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int stream_flush(struct splitter *sp, int stream)
{
	if (sp->used[stream] == sp->line_start[stream])
		return 0;
	return line_add(sp, stream, false);
}

static bool frame_header(const unsigned char *p)
{
	return p[0] <= 2 && p[1] == 0 && p[2] == 0 && p[3] == 0;
}

static int split_frames(struct splitter *sp, const char *body, size_t len, char *err, size_t errlen)
{
	size_t off = 0;
	while (off < len) {
		const unsigned char *h = (const unsigned char *)body + off;
		if (len - off < FRAME_HEADER || !frame_header(h)) {
			snprintf(err, errlen, "logs: bad stream frame header at byte %zu", off);
			return -EINVAL;
		}
		size_t flen = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
		if (flen > len - off - FRAME_HEADER) {
			snprintf(err, errlen, "logs: frame at byte %zu claims %zu bytes, %zu left", off, flen,
				 len - off - FRAME_HEADER);
			return -EINVAL;
		}
		int stream = h[0] == 2 ? RUNTIME_LOG_STDERR : RUNTIME_LOG_STDOUT;
		int rc = stream_feed(sp, stream, body + off + FRAME_HEADER, flen);
		if (rc != 0)
			return rc;
		off += FRAME_HEADER + flen;
	}
	return 0;
}

int engine_logs_split(const char *body, size_t len, bool timestamps, uint64_t now_ns, struct runtime_log_line **lines,
		      size_t *n, char **buf, char *err, size_t errlen)
{
	struct splitter sp = {.timestamps = timestamps, .now_ns = now_ns};
	*lines = NULL;
	*n = 0;
	*buf = NULL;
	/* Neither stream's text outgrows the body. */
	sp.buf = malloc(len * 2 + 1);
	if (sp.buf == NULL)
		return -ENOMEM;
	sp.region[RUNTIME_LOG_STDOUT] = sp.buf;
	sp.region[RUNTIME_LOG_STDERR] = sp.buf + len;
	int rc;
	bool framed = len >= FRAME_HEADER && frame_header((const unsigned char *)body);
	if (framed)
		rc = split_frames(&sp, body, len, err, errlen);
	else
		rc = stream_feed(&sp, RUNTIME_LOG_STDOUT, body, len);
	if (rc == 0)
		rc = stream_flush(&sp, RUNTIME_LOG_STDOUT);
	if (rc == 0)
		rc = stream_flush(&sp, RUNTIME_LOG_STDERR);
	if (rc != 0) {
		free(sp.lines);
		free(sp.buf);
		if (rc == -ENOMEM)
			snprintf(err, errlen, "logs: out of memory");
		return rc;
	}
	*lines = sp.lines;
	*n = sp.n;
	*buf = sp.buf;
	return 0;
}
