/* frame: length-prefixed messages on a byte stream (4-byte big-endian length, then the payload). */
#include "swarmnode/frame.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void frame_reader_init(struct frame_reader *fr, size_t max)
{
	memset(fr, 0, sizeof(*fr));
	fr->max = max;
}

void frame_reader_close(struct frame_reader *fr)
{
	if (fr->payload != NULL) {
		sodium_memzero(fr->payload, fr->payload_cap);
		free(fr->payload);
	}
	fr->payload = NULL;
	fr->payload_cap = 0;
}

void frame_header(uint8_t out[FRAME_HEADER_LEN], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

enum frame_step frame_reader_step(struct frame_reader *fr, const uint8_t *data, size_t len,
				  size_t *used)
{
	size_t n;
	if (fr->header_have < FRAME_HEADER_LEN) {
		n = FRAME_HEADER_LEN - fr->header_have;
		if (n > len)
			n = len;
		memcpy(fr->header + fr->header_have, data, n);
		fr->header_have += n;
		*used = n;
		if (fr->header_have < FRAME_HEADER_LEN)
			return FRAME_STEP_MORE;
		fr->payload_len = (size_t)fr->header[0] << 24 | (size_t)fr->header[1] << 16 |
				  (size_t)fr->header[2] << 8 | fr->header[3];
		fr->payload_have = 0;
		return FRAME_STEP_LENGTH;
	}
	n = fr->payload_len - fr->payload_have;
	if (n > len)
		n = len;
	if (n > 0)
		memcpy(fr->payload + fr->payload_have, data, n);
	fr->payload_have += n;
	*used = n;
	return fr->payload_have < fr->payload_len ? FRAME_STEP_MORE : FRAME_STEP_PAYLOAD;
}

int frame_reader_expect(struct frame_reader *fr)
{
	if (fr->payload_len > fr->payload_cap) {
		uint8_t *p = realloc(fr->payload, fr->payload_len);
		if (p == NULL)
			return -ENOMEM;
		fr->payload = p;
		fr->payload_cap = fr->payload_len;
	}
	return 0;
}

void frame_reader_next(struct frame_reader *fr)
{
	fr->header_have = 0;
}

int frame_reader_feed(struct frame_reader *fr, const uint8_t *data, size_t len, size_t *used,
		      uint8_t **out, size_t *out_len)
{
	size_t pos = 0, n;
	for (;;) {
		enum frame_step step = frame_reader_step(fr, data + pos, len - pos, &n);
		pos += n;
		*used = pos;
		if (step == FRAME_STEP_MORE)
			return 0;
		if (step == FRAME_STEP_LENGTH) {
			if (fr->payload_len > fr->max)
				return -EMSGSIZE;
			/* +1 so an empty frame still has a distinct allocation */
			fr->payload = malloc(fr->payload_len + 1);
			if (fr->payload == NULL)
				return -ENOMEM;
			fr->payload_cap = fr->payload_len + 1;
			continue;
		}
		/* The frame is the caller's now. */
		*out = fr->payload;
		*out_len = fr->payload_len;
		fr->payload = NULL;
		fr->payload_cap = 0;
		frame_reader_next(fr);
		return 1;
	}
}

uint8_t *frame_queue_add(struct frame_queue *q, size_t n)
{
	if (n > UINT32_MAX || n > SIZE_MAX - FRAME_HEADER_LEN - q->len)
		return NULL;
	size_t need = q->len + FRAME_HEADER_LEN + n;
	if (need > q->cap) {
		size_t cap = q->cap ? q->cap : 1024;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		uint8_t *p = realloc(q->data, cap);
		if (p == NULL)
			return NULL;
		q->data = p;
		q->cap = cap;
	}
	uint8_t *w = q->data + q->len;
	frame_header(w, (uint32_t)n);
	q->len = need;
	return w;
}

int frame_queue_push(struct frame_queue *q, const uint8_t *body, size_t n)
{
	uint8_t *w = frame_queue_add(q, n);
	if (w == NULL)
		return -ENOMEM;
	memcpy(w + FRAME_HEADER_LEN, body, n);
	return 0;
}

size_t frame_queue_pending(const struct frame_queue *q, const uint8_t **data)
{
	*data = q->data != NULL ? q->data + q->sent : NULL;
	return q->len - q->sent;
}

void frame_queue_sent(struct frame_queue *q, size_t n)
{
	if (n > q->len - q->sent)
		n = q->len - q->sent;
	q->sent += n;
	if (q->sent == q->len) {
		if (q->data != NULL)
			sodium_memzero(q->data, q->len);
		q->sent = q->len = 0;
	}
}

void frame_queue_close(struct frame_queue *q)
{
	if (q->data != NULL) {
		sodium_memzero(q->data, q->cap);
		free(q->data);
	}
	memset(q, 0, sizeof(*q));
}
