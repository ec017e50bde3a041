/* frame: length-prefixed messages on a byte stream (4-byte big-endian length, then the payload). */
#include "swarmnode/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void frame_reader_init(struct frame_reader *fr, size_t max)
{
	memset(fr, 0, sizeof(*fr));
	fr->max = max;
}

void frame_reader_close(struct frame_reader *fr)
{
	free(fr->payload);
	fr->payload = NULL;
}

void frame_header(uint8_t out[FRAME_HEADER_LEN], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

int frame_reader_feed(struct frame_reader *fr, const uint8_t *data, size_t len, size_t *used,
		      uint8_t **out, size_t *out_len)
{
	size_t pos = 0;
	*used = 0;
	if (fr->header_have < FRAME_HEADER_LEN) {
		size_t n = FRAME_HEADER_LEN - fr->header_have;
		if (n > len)
			n = len;
		memcpy(fr->header + fr->header_have, data, n);
		fr->header_have += n;
		pos += n;
		if (fr->header_have < FRAME_HEADER_LEN) {
			*used = pos;
			return 0;
		}
		uint32_t flen = (uint32_t)fr->header[0] << 24 | (uint32_t)fr->header[1] << 16 |
				(uint32_t)fr->header[2] << 8 | fr->header[3];
		if (flen > fr->max) {
			*used = pos;
			return -EMSGSIZE;
		}
		/* +1 so an empty frame still has a distinct allocation */
		fr->payload = malloc((size_t)flen + 1);
		if (fr->payload == NULL)
			return -ENOMEM;
		fr->payload_len = flen;
		fr->payload_have = 0;
	}
	size_t n = fr->payload_len - fr->payload_have;
	if (n > len - pos)
		n = len - pos;
	memcpy(fr->payload + fr->payload_have, data + pos, n);
	fr->payload_have += n;
	pos += n;
	*used = pos;
	if (fr->payload_have < fr->payload_len)
		return 0;
	*out = fr->payload;
	*out_len = fr->payload_len;
	fr->payload = NULL;
	fr->header_have = 0;
	return 1;
}
