"""The daemon as a process: CLI, control socket limits, data dir lock, socket claims, shutdown."""
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Counter, Daemon, can_connect, read_response, request, wait_for  # noqa: E402


def with_daemon(fn):
    def wrapper():
        d = Daemon().start()
        try:
            fn(d)
            rc = d.stop()
            assert rc == 0, f"daemon exit status {rc} (leaks are reported as 23):\n{d.logs()}"
        finally:
            d.cleanup()
    wrapper.__name__ = fn.__name__
    return wrapper


@with_daemon
def cli_version_and_info(d):
    r = d.cli("version")
    assert r.returncode == 0, r.stderr
    assert "API version:    1.41 (minimum version 1.24)" in r.stdout, r.stdout
    r = d.cli("info")
    assert r.returncode == 0, r.stderr
    assert " Swarm: inactive" in r.stdout and f" Data Dir: {d.data_dir}" in r.stdout, r.stdout
    engine_id = open(os.path.join(d.data_dir, "engine-id")).read().strip()
    assert f" ID: {engine_id}" in r.stdout
    r = d.cli("system", "info")
    assert r.returncode == 0 and "Server Version:" in r.stdout


@with_daemon
def host_from_environment(d):
    env = dict(os.environ, SWARMNODE_HOST="unix://" + d.socket)
    r = subprocess.run([BIN, "version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    env = {k: v for k, v in os.environ.items() if k != "SWARMNODE_HOST"}
    env["DOCKER_HOST"] = "unix://" + d.socket
    r = subprocess.run([BIN, "info"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr


def no_daemon_message():
    path = tempfile.mktemp(prefix="sn-none-", suffix=".sock")
    r = subprocess.run([BIN, "-H", "unix://" + path, "version"], capture_output=True, text=True)
    assert r.returncode == 1, r
    assert r.stderr == f"cannot connect to swarmnode at unix://{path}: is the daemon running?\n", repr(r.stderr)
    assert r.stdout == ""


def usage_exit_codes():
    def run(*args):
        return subprocess.run([BIN] + list(args), capture_output=True, text=True)
    assert run("--help").returncode == 0
    assert "Commands:" in run("--help").stdout
    r = run("bogus")
    assert r.returncode == 2 and 'unknown command "bogus"' in r.stderr, r
    assert run("system", "--help").returncode == 0
    r = run("system", "log-level", "--help")
    assert r.returncode == 0 and "Usage: swarmnode system log-level" in r.stdout, r
    assert run("version", "extra").returncode == 2
    assert run("version", "--nope").returncode == 2
    assert run("system").returncode == 2
    assert run("-H", "tcp://1.2.3.4:2375", "version").returncode == 2
    r = run("daemon", "--help")
    assert r.returncode == 0 and "--gossip-addr" in r.stdout
    r = run("daemon", "--log-level", "loud")
    assert r.returncode == 2 and 'log-level: "loud"' in r.stderr, r


@with_daemon
def second_daemon_on_same_data_dir(d):
    other = os.path.join(d.dir, "other.sock")
    r = subprocess.run([BIN, "daemon", "--data-dir", d.data_dir, "--socket", other],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r
    assert f"data dir {d.data_dir} is in use by another swarmnode daemon (pid {d.proc.pid})" in r.stderr, r.stderr
    assert not os.path.exists(other)


@with_daemon
def second_daemon_on_same_socket(d):
    r = subprocess.run([BIN, "daemon", "--data-dir", os.path.join(d.dir, "data2"), "--socket", d.socket],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r
    assert "socket is in use by a running daemon" in r.stderr, r.stderr
    assert can_connect(d.socket), "the live daemon's socket was disturbed"


def stale_socket_is_removed():
    d = Daemon()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(d.socket)
        s.close()  # leaves the file behind, as a crashed daemon would
        d.start()
        assert "removed stale socket" in d.logs()
        assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
        assert d.cli("version").returncode == 0
        assert d.stop() == 0
        assert not os.path.exists(d.socket), "socket left behind after shutdown"
    finally:
        d.cleanup()


def socket_path_that_is_not_a_socket():
    d = Daemon()
    try:
        open(d.socket, "w").write("precious")
        d.start(wait=False)
        assert d.proc.wait(20) == 1
        assert "socket path exists and is not a socket" in d.logs()
        assert open(d.socket).read() == "precious"
    finally:
        d.cleanup()


def sigint_and_sigterm_shut_down_cleanly():
    for sig in (signal.SIGINT, signal.SIGTERM):
        d = Daemon().start()
        try:
            c = d.connect()  # an idle keep-alive client must not block shutdown
            rc = d.stop(sig)
            assert rc == 0, f"exit {rc}: {d.logs()}"
            assert "msg=stopped" in d.logs()
            c.close()
        finally:
            d.cleanup()


def config_file_and_json_logs():
    d = Daemon()
    try:
        cfg = os.path.join(d.dir, "sn.yml")
        os.makedirs(d.dir, exist_ok=True)
        with open(cfg, "w") as f:
            f.write(f"data-dir: {d.data_dir}\nsocket: {d.socket}\nlog-format: json\nlog-level: debug\n")
        d.log = open(d.log_path, "ab")
        d.proc = subprocess.Popen([BIN, "daemon", "--config", cfg], stdout=d.log, stderr=subprocess.STDOUT)
        wait_for(lambda: can_connect(d.socket), what="daemon from config file")
        assert d.cli("version").returncode == 0
        assert d.stop() == 0
        lines = [json.loads(line) for line in d.logs().splitlines()]
        started = [x for x in lines if x["msg"] == "started"]
        assert started and started[0]["data_dir"] == d.data_dir and started[0]["sub"] == "daemon"
        assert any(x["msg"] == "request" and x["level"] == "debug" for x in lines)
    finally:
        d.cleanup()


@with_daemon
def bad_requests_get_4xx_and_daemon_keeps_serving(d):
    def raw(data, expect):
        s = d.connect()
        s.sendall(data)
        status, headers, body = read_response(s)
        assert status == expect, (status, body)
        if status >= 400:
            assert "message" in json.loads(body), body
        s.close()
        return status, headers, body

    raw(b"GARBAGE\r\n\r\n", 400)
    raw(b"GET /_ping HTTP/9.9.9\r\n\r\n", 400)
    raw(b"GET /_ping HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431)
    raw(b"POST /v1.41/swarmnode/log-level HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\n\r\n{", 413)
    raw(b"GET /v1.41/nothing/here HTTP/1.1\r\n\r\n", 404)
    raw(b"POST /v1.41/swarmnode/log-level HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5\r\n\r\n{nope", 400)
    raw(b"GET /v1.99/version HTTP/1.1\r\n\r\n", 400)

    # A client that disconnects mid-request, and one mid-body.
    for partial in (b"GET /v1.41/ver", b"POST /v1.41/swarmnode/log-level HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"):
        s = d.connect()
        s.sendall(partial)
        s.close()

    # 200 concurrent keep-alive connections, all open at once.
    socks = [d.connect() for _ in range(200)]
    errors = []

    def client(s):
        try:
            for _ in range(3):
                status, headers, body = request(s, "GET", "/v1.41/version")
                assert status == 200 and json.loads(body)["ApiVersion"] == "1.41"
                assert headers["api-version"] == "1.41"
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=client, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in socks:
        s.close()
    assert not errors, errors[:3]

    # Still serving, through a fresh connection and the CLI.
    s = d.connect()
    status, headers, body = request(s, "HEAD", "/_ping")
    assert status == 200 and headers["api-version"] == "1.41" and headers["ostype"] == "linux"
    s.close()
    assert d.cli("info").returncode == 0


@with_daemon
def pipelined_requests_are_answered_in_order(d):
    s = d.connect()
    s.sendall(b"GET /_ping HTTP/1.1\r\n\r\nGET /v1.41/version HTTP/1.1\r\n\r\nGET /v1.41/nope HTTP/1.1\r\n\r\n")
    assert read_response(s)[2] == b"OK"
    assert json.loads(read_response(s)[2])["ApiVersion"] == "1.41"
    assert read_response(s)[0] == 404
    s.close()


@with_daemon
def log_level_at_runtime(d):
    r = d.cli("system", "log-level", "debug")
    assert r.returncode == 0 and r.stdout == "debug\n", r
    assert d.cli("system", "log-level").stdout == "debug\n"
    r = d.cli("system", "log-level", "loud")
    assert r.returncode == 1
    assert r.stderr.startswith("Error response from daemon: invalid log level \"loud\""), r.stderr
    wait_for(lambda: "msg=\"log level changed\" level=debug" in d.logs(), what="log line")


if __name__ == "__main__":
    sys.exit(Counter().run([
        cli_version_and_info, host_from_environment, no_daemon_message, usage_exit_codes,
        second_daemon_on_same_data_dir, second_daemon_on_same_socket, stale_socket_is_removed,
        socket_path_that_is_not_a_socket, sigint_and_sigterm_shut_down_cleanly, config_file_and_json_logs,
        bad_requests_get_4xx_and_daemon_keeps_serving, pipelined_requests_are_answered_in_order,
        log_level_at_runtime,
    ]))
