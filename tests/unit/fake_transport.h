/* fake_transport: an http_transport for tests that keeps everything written in one string. */
#ifndef SWARMNODE_TEST_FAKE_TRANSPORT_H
#define SWARMNODE_TEST_FAKE_TRANSPORT_H

#include <stdlib.h>
#include <string.h>

#include "swarmnode/http.h"

/* What the connection wrote and how often it closed; point conn->data here. */
struct fake_output {
	char *data; /* NUL-terminated, NULL until the first write */
	size_t len;
	int closes;
};

static void fake_write(struct http_conn *conn, char *buf, size_t len)
{
	struct fake_output *o = conn->data;
	o->data = realloc(o->data, o->len + len + 1);
	memcpy(o->data + o->len, buf, len);
	o->len += len;
	o->data[o->len] = '\0';
	free(buf);
}

static void fake_close(struct http_conn *conn)
{
	struct fake_output *o = conn->data;
	o->closes++;
}

static void fake_output_reset(struct fake_output *o)
{
	free(o->data);
	o->data = NULL;
	o->len = 0;
}

static const struct http_transport fake_transport = {fake_write, fake_close};

#endif
