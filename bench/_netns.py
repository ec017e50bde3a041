"""Network namespaces, the processes started inside them, and their cleanup.

Everything the benchmark starts is registered here, so one call to
cleanup_all() (run from a finally block and on SIGINT/SIGTERM/SIGHUP) stops
every process by its pid and deletes every namespace, whatever went wrong.
"""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_setns_lock = threading.Lock()

_live_namespaces = []   # Netns objects not yet deleted
_live_procs = []        # subprocess.Popen objects we started


def log(msg):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class StepError(Exception):
    """A benchmark step failed or timed out; the message says which and why."""


def run(argv, timeout=30, check=True):
    """Run a short command, return CompletedProcess; raise StepError on failure."""
    try:
        cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        raise StepError("%s: no answer within %g s" % (" ".join(argv), timeout))
    except FileNotFoundError as e:
        raise StepError("%s: %s" % (argv[0], e))
    if check and cp.returncode != 0:
        raise StepError("%s: exit %d: %s" % (" ".join(argv), cp.returncode,
                                             (cp.stderr or cp.stdout).strip()[:400]))
    return cp


class Netns:
    """A fresh network namespace with its loopback up."""

    def __init__(self, name):
        self.name = name
        self.path = "/run/netns/" + name
        run(["ip", "netns", "add", name])
        _live_namespaces.append(self)
        run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv, timeout=30, check=True):
        return run(self.exec_argv(argv), timeout=timeout, check=check)

    def nsenter_argv(self, argv):
        # Unlike `ip netns exec`, nsenter enters only the network namespace:
        # the mount namespace (and so /sys/fs/cgroup, which container engines
        # need) stays the host's.
        return ["nsenter", "--net=" + self.path] + list(argv)

    def spawn(self, argv, logfile, nsenter=False):
        """Start argv inside the namespace, stdout+stderr to logfile.

        `ip netns exec` (or nsenter, when asked) execs the program, so the
        returned Popen's pid is the program's own pid (what /proc and kill -9
        need)."""
        out = open(logfile, "ab")
        wrapped = self.nsenter_argv(argv) if nsenter else self.exec_argv(argv)
        try:
            p = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        finally:
            out.close()
        _live_procs.append(p)
        return p

    def socket(self, family=socket.AF_INET, type_=socket.SOCK_STREAM):
        """A socket created inside this namespace (setns on this thread, then back)."""
        with _setns_lock:
            orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            target = os.open(self.path, os.O_RDONLY)
            try:
                if _libc.setns(target, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, "setns(%s): %s" % (self.path, os.strerror(err)))
                try:
                    return socket.socket(family, type_)
                finally:
                    if _libc.setns(orig, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        # Staying in the wrong namespace would corrupt every later step.
                        raise SystemExit("fatal: cannot return to the original network "
                                         "namespace: %s" % os.strerror(err))
            finally:
                os.close(orig)
                os.close(target)

    def lo_counter(self, name):
        """/sys/class/net/lo/statistics/NAME as seen inside the namespace."""
        cp = self.run(["cat", "/sys/class/net/lo/statistics/" + name], timeout=10)
        return int(cp.stdout.strip())

    def iptables(self, *args):
        return self.run(["iptables", "-w", "5"] + list(args), timeout=20)

    def pids(self):
        cp = run(["ip", "netns", "pids", self.name], timeout=10, check=False)
        return [int(x) for x in cp.stdout.split() if x.strip().isdigit()]

    def delete(self):
        # Anything still running inside (it can only be something this run
        # started there) is stopped by pid before the namespace goes.
        for _ in range(3):
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        run(["ip", "netns", "del", self.name], check=False)
        if self in _live_namespaces:
            _live_namespaces.remove(self)


class Lan:
    """Namespaces joined by one Ethernet segment: a bridge in a hub namespace
    of its own (so the host's interfaces are never touched) and a veth pair
    per member, with a private address on the member's eth0."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.hub = Netns(prefix + "-hub")
        self.hub.run(["ip", "link", "add", "br0", "type", "bridge"])
        self.hub.run(["ip", "link", "set", "br0", "up"])
        self.members = 0

    def add(self, name, cidr):
        """A new namespace NAME on the segment, its eth0 holding cidr (e.g. 10.231.0.1/24)."""
        ns = Netns(name)
        port = "p%d" % self.members
        self.members += 1
        run(["ip", "link", "add", port, "netns", self.hub.name, "type", "veth",
             "peer", "name", "eth0", "netns", ns.name])
        self.hub.run(["ip", "link", "set", port, "master", "br0"])
        self.hub.run(["ip", "link", "set", port, "up"])
        ns.run(["ip", "addr", "add", cidr, "dev", "eth0"])
        ns.run(["ip", "link", "set", "eth0", "up"])
        return ns


def stop_procs(procs, grace=3.0):
    """SIGTERM the given processes (by pid), SIGKILL what is left after grace s."""
    for p in procs:
        if p in _live_procs:
            _live_procs.remove(p)
    procs = [p for p in procs if p.poll() is None]
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log("warning: pid %d did not exit after SIGKILL" % p.pid)


def register_proc(p):
    _live_procs.append(p)


def cleanup_all():
    """Stop every process and delete every namespace this run created."""
    if _live_procs:
        stop_procs(list(_live_procs))
    for ns in list(_live_namespaces):
        ns.delete()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def install_signal_handlers():
    # SIGINT too: a shell starting the runner in the background without job
    # control leaves SIGINT ignored, and Ctrl-C must always clean up.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _raise_interrupt)


def proc_cpu_ticks(pid):
    """utime+stime of a process (all its threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return int(fields[11]) + int(fields[12])


def proc_status_kib(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM...), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise StepError("pid %d has no %s (exited?)" % (pid, field))


def proc_rss_kib(pid):
    return proc_status_kib(pid, "VmRSS")


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


CLK_TCK = os.sysconf("SC_CLK_TCK")
