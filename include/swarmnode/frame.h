/* frame: length-prefixed messages on a byte stream (4-byte big-endian length, then the payload). */
#ifndef SWARMNODE_FRAME_H
#define SWARMNODE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 4

/* Reassembles frames from reads of any size. */
struct frame_reader {
	size_t max;                       /* largest payload frame_reader_feed accepts */
	uint8_t header[FRAME_HEADER_LEN]; /* the length being read */
	size_t header_have;               /* bytes of it received */
	uint8_t *payload;                 /* the frame being read, malloc'd */
	size_t payload_len, payload_have; /* its announced length, and bytes received */
	size_t payload_cap;               /* allocated size of payload */
};

void frame_reader_init(struct frame_reader *fr, size_t max);

/* Wipes and frees the frame being read. */
void frame_reader_close(struct frame_reader *fr);

/* Consumes bytes from data. Returns 1 when a whole frame is ready (*out and
 * *out_len receive it; the caller owns and frees it), 0 when more bytes are
 * needed, or -EMSGSIZE when the peer announced a frame larger than max (the
 * stream is then unusable). *used tells how many bytes were consumed: call
 * again with the rest after a frame. */
int frame_reader_feed(struct frame_reader *fr, const uint8_t *data, size_t len, size_t *used,
		      uint8_t **out, size_t *out_len);

/* Step reading, for protocols that judge each length themselves and reuse one
 * payload buffer (handshake, peer_auth); frame_reader_feed is built on it. A
 * zeroed struct frame_reader is ready for it, and max goes unused. */
enum frame_step {
	FRAME_STEP_MORE,    /* every byte given was used and the frame goes on */
	FRAME_STEP_LENGTH,  /* a header is complete and payload_len holds its length: judge
			     * it, then frame_reader_expect() before stepping on */
	FRAME_STEP_PAYLOAD, /* payload[0..payload_len) is a whole frame: frame_reader_next()
			     * once done with it */
};

/* Consumes bytes from data up to the next step; *used tells how many. */
enum frame_step frame_reader_step(struct frame_reader *fr, const uint8_t *data, size_t len,
				  size_t *used);

/* Makes room for the announced payload, keeping a larger buffer from an
 * earlier frame. Returns 0 or -ENOMEM. */
int frame_reader_expect(struct frame_reader *fr);

/* Starts on the next frame's header; the payload buffer is kept for it. */
void frame_reader_next(struct frame_reader *fr);

/* Writes the 4-byte header for a payload of len bytes. */
void frame_header(uint8_t out[FRAME_HEADER_LEN], uint32_t len);

/* Frames a sans-I/O protocol queues for its host to send (handshake,
 * peer_auth). Embed it zeroed; frame_queue_close() releases it. The bytes are
 * wiped once sent and on close: they may hold keys or plaintext. */
struct frame_queue {
	uint8_t *data; /* queued bytes (owned) */
	size_t len;    /* bytes queued, sent ones included */
	size_t sent;   /* bytes already handed to the host and sent */
	size_t cap;    /* allocated size of data */
};

/* Appends a frame of n payload bytes and returns where it starts: its header
 * is written, the payload after it is the caller's to fill. NULL when out of
 * memory, with nothing queued. */
uint8_t *frame_queue_add(struct frame_queue *q, size_t n);

/* Appends a frame holding a copy of body[0..n). Returns 0 or -ENOMEM. */
int frame_queue_push(struct frame_queue *q, const uint8_t *body, size_t n);

/* Points *data at the bytes not yet sent (NULL before the first frame) and
 * returns how many there are. */
size_t frame_queue_pending(const struct frame_queue *q, const uint8_t **data);

/* The host sent the first n pending bytes (more than are pending counts as all). */
void frame_queue_sent(struct frame_queue *q, size_t n);

/* Wipes and frees the queued bytes. */
void frame_queue_close(struct frame_queue *q);

#endif
