/* datadir: the daemon's state directory: creation, the exclusive lock, small files written atomically. */
#ifndef SWARMNODE_DATADIR_H
#define SWARMNODE_DATADIR_H

#include <stddef.h>

struct datadir {
	char path[4096];
	int lock_fd; /* holds an flock for the daemon's lifetime; -1 when not locked */
};

/* Creates path (mode 0700, parents as needed) and takes its lock. Returns 0,
 * -EBUSY when another live process holds it (err names its pid), or another
 * negative errno with the reason in err. */
int datadir_open(struct datadir *dd, const char *path, char *err, size_t errlen);

/* Releases the lock. */
void datadir_close(struct datadir *dd);

/* Reads DIR/name into buf (NUL-terminated, trailing newline removed).
 * Returns the length, -ENOENT if absent, -EFBIG if it does not fit. */
int datadir_read(const struct datadir *dd, const char *name, char *buf, size_t len);

/* Writes DIR/name atomically: temporary file, fsync, rename, fsync of the dir. */
int datadir_write(const struct datadir *dd, const char *name, const char *data, size_t len);

/* Removes DIR/name; an absent file is not an error. */
int datadir_remove(const struct datadir *dd, const char *name);

#endif
