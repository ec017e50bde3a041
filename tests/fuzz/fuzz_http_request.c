/* Fuzz target: arbitrary bytes into a control-socket connection, through the
 * HTTP parser, the limits and the Engine API router, split at a fuzzed point
 * so partial reads are exercised too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/api.h"
#include "swarmnode/log.h"
#include "swarmnode/swarm.h"

struct sink {
	size_t bytes;
	int closes;
};

static void sink_write(struct http_conn *conn, char *buf, size_t len)
{
	struct sink *s = conn->data;
	/* The first bytes out are always a status line. */
	if (s->bytes == 0 && (len < 9 || memcmp(buf, "HTTP/1.1 ", 9) != 0))
		abort();
	s->bytes += len;
	free(buf);
}

static void sink_close(struct http_conn *conn)
{
	struct sink *s = conn->data;
	if (++s->closes > 1)
		abort(); /* close is promised exactly once */
}

static const struct http_transport sink_transport = {sink_write, sink_close};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config config;
	static struct api api;
	static struct swarm swarm; /* never started: requests that would change it are refused */
	static struct http_config http_config;
	static int ready;
	if (!ready) {
		log_configure(LOG_SILENT, LOG_FORMAT_LOGFMT, NULL);
		config_defaults(&config);
		api_init(&api, &config, &swarm, "0000000000000000000000000");
		http_config.max_header_bytes = 4096;
		http_config.max_body_bytes = 4096;
		api_configure_http(&api, &http_config);
		ready = 1;
	}
	if (size < 1)
		return 0;
	size_t split = data[0] % (size);
	data++;
	size--;
	if (split > size)
		split = size;
	struct sink s = {0};
	struct http_conn conn;
	http_conn_init(&conn, &http_config, &sink_transport, api_handle, &api);
	conn.data = &s;
	http_conn_feed(&conn, (const char *)data, split);
	http_conn_feed(&conn, (const char *)data + split, size - split);
	http_conn_eof(&conn);
	if (s.closes != 1)
		abort(); /* after eof with nothing in flight the connection must be closed */
	http_conn_release(&conn);
	/* POST /swarmnode/log-level may have changed the level: keep it quiet. */
	log_set_min_level(LOG_SILENT);
	return 0;
}
