"""Shared helpers for multi-process tests: start real daemons, talk HTTP on their sockets."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("SWARMNODE_BIN", os.path.join(os.path.dirname(__file__), "../../build/swarmnode"))


def wait_for(predicate, timeout=10.0, what="condition"):
    """Polls predicate until true; raises naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Daemon:
    """One swarmnode daemon in its own temporary directory."""

    def __init__(self, workdir=None, extra_args=(), data_dir=None, socket_path=None, prefix=()):
        self.prefix = list(prefix)  # e.g. ["ip", "netns", "exec", NS]: it must exec, so proc is the daemon
        self.dir = workdir or tempfile.mkdtemp(prefix="sn-it-")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.socket = socket_path or os.path.join(self.dir, "sn.sock")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.extra_args = list(extra_args)
        self.proc = None

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.prefix + [BIN, "daemon", "--data-dir", self.data_dir, "--socket", self.socket] + self.extra_args,
            stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            wait_for(lambda: can_connect(self.socket) or self.proc.poll() is not None,
                     what=f"daemon socket {self.socket}")
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}: {self.logs()}")
        return self

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.log.close()
        return rc

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args, env=None):
        e = dict(os.environ)
        e.pop("DOCKER_HOST", None)
        e.pop("SWARMNODE_HOST", None)
        if env:
            e.update(env)
        return subprocess.run([BIN, "-H", "unix://" + self.socket] + list(args),
                              capture_output=True, text=True, env=e, timeout=30)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.socket)
        return BufferedSocket(s)


class BufferedSocket:
    """A socket with a read buffer, so pipelined responses are not lost between reads."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed; unread: {self.buf[:200]!r}")
        self.buf += chunk

    def read_until(self, sep):
        while sep not in self.buf:
            self.fill()
        out, self.buf = self.buf.split(sep, 1)
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def read_response(conn):
    """Reads one HTTP response (Content-Length or chunked); returns (status, headers, body)."""
    if not isinstance(conn, BufferedSocket):
        conn = BufferedSocket(conn)
    lines = conn.read_until(b"\r\n\r\n").decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        return status, headers, conn.read_exact(int(headers["content-length"]))
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int(conn.read_until(b"\r\n"), 16)
            body += conn.read_exact(size)
            conn.read_exact(2)
            if size == 0:
                return status, headers, body
    return status, headers, b""


def request(sock, method, path, body=None, headers=None):
    h = {"Host": "api.moby.localhost"}
    if body is not None:
        h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    raw = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    sock.sendall(raw.encode() + (body or b""))
    return read_response(sock)


class Counter:
    """Counts results so each test file ends with 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, tests):
        for t in tests:
            try:
                t()
                self.passed += 1
                print(f"ok   {t.__name__}", flush=True)
            except Exception as e:  # noqa: BLE001 -- report every failure and go on
                self.failed += 1
                print(f"FAIL {t.__name__}: {type(e).__name__}: {e}", flush=True)
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


# --- helpers the test files share -----------------------------------------------

DOCKER = shutil.which("docker")


def loopback_daemon(ip, extra=(), **kw):
    """A daemon whose cluster, gossip and advertised addresses are ip (a 127.0.0.x)."""
    return Daemon(extra_args=["--listen-addr", f"{ip}:2377", "--gossip-addr", f"{ip}:7946",
                              "--advertise-addr", ip] + list(extra), **kw)


def ok(r):
    """The stdout of a command that must succeed."""
    assert r.returncode == 0, f"exit {r.returncode}: {r.stdout}{r.stderr}"
    return r.stdout


def fails(r, code=1):
    """The stderr of a command that must fail with code."""
    assert r.returncode == code, f"expected exit {code}, got {r.returncode}: {r.stdout}{r.stderr}"
    return r.stderr


def api(d, method, path, body=None):
    """One API call on d's socket under /v1.41: (status, decoded JSON or None)."""
    s = d.connect()
    try:
        status, _, data = request(s, method, "/v1.41" + path,
                                  json.dumps(body).encode() if body is not None else None,
                                  {"Content-Type": "application/json"} if body is not None else None)
    finally:
        s.close()
    return status, json.loads(data) if data and data.strip() else None


def get(d, path):
    """GET that must answer 200: the decoded body."""
    status, body = api(d, "GET", path)
    assert status == 200, (status, body)
    return body


def table(out):
    """Rows of a docker-style table as lists of cells (split on runs of 3+ spaces)."""
    return [re.split(r"\s{3,}", line.rstrip()) for line in out.splitlines()]


def docker(d, *args):
    """The stock docker CLI against d's socket, with a private config dir (no user contexts or helpers)."""
    env = dict(os.environ, DOCKER_HOST="unix://" + d.socket, DOCKER_CONFIG=os.path.join(d.dir, "docker-config"))
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run([DOCKER] + list(args), capture_output=True, text=True, env=env, timeout=60)
