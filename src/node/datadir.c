/* datadir: the daemon's state directory: creation, the exclusive lock, small files written atomically. */
#include "swarmnode/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATADIR_LOCK "swarmnode.lock"

static int mkdir_parents(const char *path, mode_t mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int datadir_open(struct datadir *dd, const char *path, char *err, size_t errlen)
{
	char lock_path[4200];
	struct stat st;
	int rc;
	dd->lock_fd = -1;
	if (snprintf(dd->path, sizeof(dd->path), "%s", path) >= (int)sizeof(dd->path)) {
		snprintf(err, errlen, "data dir %s: path too long", path);
		return -ENAMETOOLONG;
	}
	if ((rc = mkdir_parents(path, 0700)) != 0) {
		snprintf(err, errlen, "cannot create data dir %s: %s", path, strerror(-rc));
		return rc;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data dir %s is not a directory", path);
		return -ENOTDIR;
	}
	snprintf(lock_path, sizeof(lock_path), "%s/%s", path, DATADIR_LOCK);
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", lock_path, strerror(errno));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		char pid[32] = "unknown";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[strcspn(pid, "\n")] = '\0';
		if (rc == -EBUSY)
			snprintf(err, errlen, "data dir %s is in use by another swarmnode daemon (pid %s)", path, pid);
		else
			snprintf(err, errlen, "cannot lock %s: %s", lock_path, strerror(-rc));
		close(fd);
		return rc;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", lock_path, strerror(errno));
		close(fd);
		return rc;
	}
	dd->lock_fd = fd;
	return 0;
}

void datadir_close(struct datadir *dd)
{
	if (dd->lock_fd >= 0) {
		/* Leave the file: removing it would race with a daemon starting now. */
		if (ftruncate(dd->lock_fd, 0) != 0) {
			/* nothing to do: the lock itself is released by close */
		}
		close(dd->lock_fd);
		dd->lock_fd = -1;
	}
}

int datadir_read(const struct datadir *dd, const char *name, char *buf, size_t len)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dd->path, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len);
	int rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc != 0)
		return rc;
	if ((size_t)n == len)
		return -EFBIG;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return (int)n;
}

int datadir_write(const struct datadir *dd, const char *name, const char *data, size_t len)
{
	char tmp[4200], path[4200];
	int rc = 0;
	snprintf(path, sizeof(path), "%s/%s", dd->path, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dd->path, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	int dfd = open(dd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0)
			rc = -errno;
		close(dfd);
	}
	return rc;
}

int datadir_remove(const struct datadir *dd, const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dd->path, name);
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}
