/* exec_proc: the record of an exec task's live process (DATA/tasks/<id>/pid), and killing what a crashed daemon left. */
#include "exec_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_small_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int rc = n < 0 ? -errno : (int)n;
	close(fd);
	if (rc >= 0)
		buf[rc] = '\0';
	return rc;
}

static void boot_id(char *out, size_t len)
{
	char buf[64];
	if (read_small_file("/proc/sys/kernel/random/boot_id", buf, sizeof(buf)) <= 0) {
		snprintf(out, len, "-");
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(out, len, "%.36s", buf); /* a UUID */
}

/* The process group (field 5) and start time (field 22) of /proc/PID/stat.
 * -ESRCH when there is no such process (or it is a zombie: already dead). */
static int proc_stat(int64_t pid, int64_t *pgid, uint64_t *start_time)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%" PRId64 "/stat", pid);
	int n = read_small_file(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : n;
	/* The command name (field 2) may hold spaces and parentheses. */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -EINVAL;
	char state = 0;
	long long pg = 0;
	unsigned long long st = 0;
	/* Fields 3 (state) to 22 (starttime); 6-21 are skipped. */
	if (sscanf(p + 1, " %c %*d %lld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &state,
		   &pg, &st) != 3)
		return -EINVAL;
	if (state == 'Z' || state == 'X')
		return -ESRCH;
	*pgid = pg;
	*start_time = st;
	return 0;
}

int exec_pid_record_fill(struct exec_pid_record *r, int64_t pid)
{
	memset(r, 0, sizeof(*r));
	boot_id(r->boot_id, sizeof(r->boot_id));
	r->pid = pid;
	return proc_stat(pid, &r->pgid, &r->start_time);
}

int exec_pid_record_write(const char *dir, const struct exec_pid_record *r)
{
	char tmp[EXEC_PATH_MAX], path[EXEC_PATH_MAX], text[160];
	snprintf(tmp, sizeof(tmp), "%s/.pid.tmp", dir);
	snprintf(path, sizeof(path), "%s/pid", dir);
	int n = snprintf(text, sizeof(text), "%s %" PRId64 " %" PRIu64 " %" PRId64 "\n", r->boot_id, r->pid,
			 r->start_time, r->pgid);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, text, (size_t)n) == n ? 0 : (errno ? -errno : -EIO);
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int exec_pid_record_read(const char *dir, struct exec_pid_record *r, char *err, size_t errlen)
{
	char path[EXEC_PATH_MAX], text[160];
	snprintf(path, sizeof(path), "%s/pid", dir);
	int n = read_small_file(path, text, sizeof(text));
	if (n < 0)
		return n;
	long long pid = 0, pgid = 0;
	unsigned long long st = 0;
	int used = 0;
	memset(r, 0, sizeof(*r));
	if (sscanf(text, "%39s %lld %llu %lld%n", r->boot_id, &pid, &st, &pgid, &used) != 4 ||
	    (text[used] != '\n' && text[used] != '\0')) {
		snprintf(err, errlen, "%s: not \"BOOT_ID PID START_TIME PGID\"", path);
		return -EINVAL;
	}
	if (pid <= 1 || pgid <= 1 || pid > INT32_MAX || pgid > INT32_MAX) {
		snprintf(err, errlen, "%s: pid %lld or group %lld out of range", path, pid, pgid);
		return -EINVAL;
	}
	r->pid = pid;
	r->pgid = pgid;
	r->start_time = st;
	return 0;
}

int exec_pid_record_remove(const char *dir)
{
	char path[EXEC_PATH_MAX];
	snprintf(path, sizeof(path), "%s/pid", dir);
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Whether process pid's environment holds marker (a "KEY=VALUE" entry). */
static bool environ_has(const char *pid, const char *marker)
{
	char path[300];
	snprintf(path, sizeof(path), "/proc/%s/environ", pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return false;
	char entry[512];
	size_t len = 0;
	bool found = false;
	int c;
	while (!found && (c = fgetc(f)) != EOF) {
		if (c != '\0') {
			if (len < sizeof(entry) - 1)
				entry[len++] = (char)c;
			continue;
		}
		entry[len] = '\0';
		found = strcmp(entry, marker) == 0;
		len = 0;
	}
	fclose(f);
	return found;
}

/* The leader is gone; its group may not be: kill the members that carry
 * the task's marker (a group id alone could be a new, unrelated group). */
static int kill_marked_members(const char *task_id, int64_t pgid)
{
	char marker[128];
	snprintf(marker, sizeof(marker), "SWARMNODE_TASK_ID=%s", task_id);
	DIR *d = opendir("/proc");
	if (d == NULL)
		return -errno;
	int killed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long long pid = strtoll(e->d_name, &end, 10);
		int64_t pg;
		uint64_t st;
		if (*end != '\0' || pid <= 1 || proc_stat(pid, &pg, &st) != 0 || pg != pgid)
			continue;
		if (environ_has(e->d_name, marker) && kill((pid_t)pid, SIGKILL) == 0)
			killed++;
	}
	closedir(d);
	return killed;
}

int exec_kill_leftover(const char *task_id, const struct exec_pid_record *r)
{
	char now_boot[40];
	boot_id(now_boot, sizeof(now_boot));
	if (strcmp(now_boot, r->boot_id) != 0)
		return 0; /* the machine restarted since: nothing of it runs */
	int64_t pgid;
	uint64_t start;
	if (proc_stat(r->pid, &pgid, &start) == 0 && start == r->start_time) {
		if (kill((pid_t)-r->pgid, SIGKILL) != 0)
			return errno == ESRCH ? 0 : -errno;
		return 1;
	}
	return kill_marked_members(task_id, r->pgid);
}
