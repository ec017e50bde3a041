/* log_stream: Docker's multiplexed log stream (the body of GET /services/{id}/logs for a task without a TTY): frames written by the API, read back by the CLI. */
#ifndef SWARMNODE_LOG_STREAM_H
#define SWARMNODE_LOG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One frame per line, as dockerd writes them:
 *
 *   +--------+---+---+---+-------------------------+---------------------+
 *   | stream | 0 | 0 | 0 | payload length (uint32, | payload             |
 *   | 1 or 2 |   |   |   | big-endian)             |                     |
 *   +--------+---+---+---+-------------------------+---------------------+
 *
 *   payload = [TIME " "] [DETAILS " "] TEXT ["\n"]
 *
 * TIME (with ?timestamps=1) is RFC 3339 with nine fraction digits
 * ("2026-11-24T22:57:04.238799507Z", Docker's RFC3339NanoFixed); DETAILS
 * (with ?details=1) is "com.docker.swarm.node.id=N,com.docker.swarm.service.id=S,
 * com.docker.swarm.task.id=T"; the newline ends a whole line and is left
 * off a partial piece of a longer one. Stream 1 is stdout, 2 stderr.
 */

#define LOG_STREAM_HEADER_LEN 8
/* "2006-01-02T15:04:05.000000000Z" */
#define LOG_STREAM_TIME_LEN 30
/* Largest payload a reader accepts. */
#define LOG_STREAM_PAYLOAD_MAX (1u << 20)

/* Formats Unix nanoseconds as TIME into out (LOG_STREAM_TIME_LEN + 1 bytes). */
void log_stream_format_time(uint64_t unix_ns, char out[LOG_STREAM_TIME_LEN + 1]);

/* The frame's size for these parts (time and details may be NULL: left out). */
size_t log_stream_frame_len(const char *time, const char *details, size_t text_len, bool newline);

/* Writes one frame into out, which has room for log_stream_frame_len bytes;
 * returns that length. stream is 1 or 2. */
size_t log_stream_frame(uint8_t stream, const char *time, const char *details, const uint8_t *text, size_t text_len,
			bool newline, uint8_t *out);

/* Reads the frame at *off of buf (len bytes, *off <= len): 1 with its
 * stream and payload (pointing into buf) and *off moved past it, 0 when buf
 * ends before the frame does (*off unchanged: more bytes are needed, or the
 * stream was cut if none will come), or -1 for a malformed header with err
 * saying which byte and why. */
int log_stream_next(const uint8_t *buf, size_t len, size_t *off, uint8_t *stream, const uint8_t **payload,
		    size_t *payload_len, char *err, size_t errlen);

#endif
