/* wal_bench: fsync'd Raft log appends per second through wal.c, one at a time and with writes in flight (group commit), with latency p50/p99. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "swarmnode/wal.h"

/* One run: total writes, at most depth of them in flight. */
struct run {
	uv_loop_t *loop;
	struct wal *w;
	uint64_t total, issued, done, depth;
	uint64_t *start_ns; /* per seq */
	uint64_t *lat_ns;   /* per completion */
	uint8_t payload[256];
	int status;         /* first error */
};

static void issue(struct run *r);

static void on_done(struct wal *w, uint64_t seq, int status, void *data)
{
	struct run *r = data;
	if (status != 0 && r->status == 0)
		r->status = status;
	r->lat_ns[r->done++] = uv_hrtime() - r->start_ns[seq];
	issue(r);
}

static void issue(struct run *r)
{
	while (r->status == 0 && r->issued < r->total && r->issued - r->done < r->depth) {
		uint64_t seq = ++r->issued;
		struct raft_entry e = { .term = 1, .index = seq, .type = RAFT_ENTRY_NORMAL, .data = r->payload,
					.len = sizeof(r->payload) };
		r->start_ns[seq] = uv_hrtime();
		int rc = wal_write(r->w, seq, NULL, NULL, NULL, 0, &e, 1, on_done, r);
		if (rc != 0)
			r->status = rc;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void closed(void *data)
{
	*(int *)data = 1;
}

/* Runs total writes at depth in a fresh wal in dir; prints one table row. */
static int bench(const char *dir, uint64_t total, uint64_t depth)
{
	uv_loop_t loop;
	struct wal_boot boot;
	char err[512];
	struct run r = { .loop = &loop, .total = total, .depth = depth };
	memset(r.payload, 'p', sizeof(r.payload));
	r.start_ns = calloc(total + 1, sizeof(uint64_t));
	r.lat_ns = calloc(total, sizeof(uint64_t));
	uv_loop_init(&loop);
	if (wal_open(&loop, dir, NULL, &r.w, &boot, err, sizeof(err)) != 0) {
		fprintf(stderr, "wal_open: %s\n", err);
		return 1;
	}
	wal_boot_release(r.w, &boot);
	uint64_t t0 = uv_hrtime();
	issue(&r);
	uv_run(&loop, UV_RUN_DEFAULT);
	double secs = (double)(uv_hrtime() - t0) / 1e9;
	struct wal_stats st;
	wal_get_stats(r.w, &st);
	int is_closed = 0;
	wal_close(r.w, closed, &is_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (r.status != 0) {
		fprintf(stderr, "write failed: %s\n", uv_strerror(r.status));
		return 1;
	}
	qsort(r.lat_ns, r.done, sizeof(uint64_t), cmp_u64);
	printf("| %5" PRIu64 " | %7" PRIu64 " | %9.0f | %7" PRIu64 " | %8.1f | %8.2f | %8.2f |\n", depth, total,
	       (double)total / secs, st.fsyncs, (double)total / (double)st.batches,
	       (double)r.lat_ns[r.done / 2] / 1e6, (double)r.lat_ns[r.done * 99 / 100] / 1e6);
	free(r.start_ns);
	free(r.lat_ns);
	return 0;
}

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : "/tmp";
	uint64_t total = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000;
	static const uint64_t depths[] = { 1, 8, 64, 256 };
	printf("256-byte entries, one entry per write, in %s\n\n", base);
	printf("| depth | writes  | writes/s  | fsyncs  | writes/batch | p50 ms | p99 ms |\n");
	printf("|------:|--------:|----------:|--------:|---------:|---------:|---------:|\n");
	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/wal_bench.%d.%zu", base, (int)getpid(), i);
		uint64_t n = depths[i] == 1 ? total : total * 10;
		if (bench(dir, n, depths[i]) != 0)
			return 1;
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}
