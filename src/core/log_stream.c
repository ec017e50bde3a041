/* log_stream: Docker's multiplexed log stream (see the drawing in log_stream.h). */
#include "swarmnode/log_stream.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void log_stream_format_time(uint64_t unix_ns, char out[LOG_STREAM_TIME_LEN + 1])
{
	time_t secs = (time_t)(unix_ns / 1000000000u);
	struct tm tm;
	char date[32];
	gmtime_r(&secs, &tm);
	/* strftime, not %02d: gcc cannot bound the tm fields and warns of truncation. */
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, LOG_STREAM_TIME_LEN + 1, "%.19s.%09uZ", date, (unsigned)(unix_ns % 1000000000u));
}

size_t log_stream_frame_len(const char *time, const char *details, size_t text_len, bool newline)
{
	return LOG_STREAM_HEADER_LEN + (time ? strlen(time) + 1 : 0) + (details ? strlen(details) + 1 : 0) + text_len +
	       (newline ? 1 : 0);
}

static uint8_t *put_word(uint8_t *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	p[n] = ' ';
	return p + n + 1;
}

size_t log_stream_frame(uint8_t stream, const char *time, const char *details, const uint8_t *text, size_t text_len,
			bool newline, uint8_t *out)
{
	size_t total = log_stream_frame_len(time, details, text_len, newline);
	uint32_t payload = (uint32_t)(total - LOG_STREAM_HEADER_LEN);
	uint8_t *p = out;
	*p++ = stream;
	*p++ = 0;
	*p++ = 0;
	*p++ = 0;
	*p++ = (uint8_t)(payload >> 24);
	*p++ = (uint8_t)(payload >> 16);
	*p++ = (uint8_t)(payload >> 8);
	*p++ = (uint8_t)payload;
	if (time)
		p = put_word(p, time);
	if (details)
		p = put_word(p, details);
	if (text_len > 0)
		memcpy(p, text, text_len);
	if (newline)
		p[text_len] = '\n';
	return total;
}

int log_stream_next(const uint8_t *buf, size_t len, size_t *off, uint8_t *stream, const uint8_t **payload,
		    size_t *payload_len, char *err, size_t errlen)
{
	size_t at = *off;
	if (len - at < LOG_STREAM_HEADER_LEN)
		return 0;
	const uint8_t *h = buf + at;
	if ((h[0] != 1 && h[0] != 2) || h[1] != 0 || h[2] != 0 || h[3] != 0) {
		snprintf(err, errlen, "log stream: bad frame header at byte %zu (stream %u)", at, h[0]);
		return -1;
	}
	size_t n = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
	if (n > LOG_STREAM_PAYLOAD_MAX) {
		snprintf(err, errlen, "log stream: frame at byte %zu claims %zu bytes, at most %u allowed", at, n,
			 LOG_STREAM_PAYLOAD_MAX);
		return -1;
	}
	if (n > len - at - LOG_STREAM_HEADER_LEN)
		return 0;
	*stream = h[0];
	*payload = h + LOG_STREAM_HEADER_LEN;
	*payload_len = n;
	*off = at + LOG_STREAM_HEADER_LEN + n;
	return 1;
}
