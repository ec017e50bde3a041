/* loop_wait: runs a test's libuv loop until a condition holds (or fails the test), and removes a test's temporary directory. */
#ifndef SWARMNODE_TEST_LOOP_WAIT_H
#define SWARMNODE_TEST_LOOP_WAIT_H

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>

#include <uv.h>

/* A test that waits longer than this for something has failed. */
#define LOOP_WAIT_DEADLINE_MS 20000

static void loop_wait_wake(uv_timer_t *t)
{
	(void)t; /* only makes uv_run return, so that the condition is looked at */
}

/* Runs loop until done(ctx, arg); wake is an initialised timer of loop that
 * the wait uses to look at the condition every 20 ms. */
static void loop_wait_until(uv_loop_t *loop, uv_timer_t *wake, bool (*done)(void *ctx, const void *arg), void *ctx,
			    const void *arg, const char *what)
{
	uint64_t deadline = uv_now(loop) + LOOP_WAIT_DEADLINE_MS;
	uv_timer_start(wake, loop_wait_wake, 20, 20);
	while (!done(ctx, arg)) {
		if (uv_now(loop) > deadline)
			fail_msg("timed out waiting for %s", what);
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_timer_stop(wake);
}

static int loop_wait_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything under it. */
static void loop_wait_rm_tree(const char *dir)
{
	nftw(dir, loop_wait_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
