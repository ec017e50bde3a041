"""Tasks as containers: a single-node swarm (127.0.0.190) whose daemon runs the
engine runtime against the Podman service tests/engine/setup.sh starts. The
daemon reports its runtime choice (log, /info, `swarmnode info`) and refuses to
start when --runtime engine finds no engine; a web service with a published
port answers HTTP from its container, a host-mode port the engine picks reaches
the task's PortStatus, a 2-replica service runs 2 labelled containers,
`service rm` removes the containers, a daemon killed with -9 adopts its
running container when it restarts, and a missing image is a rejected task
whose error says "No such image".

Skipped (exit 77) only when no engine can exist here: not root, or podman not
installed. A setup that fails with podman installed is a failure. Only the
containers of this test's node are touched (other tests may share the Podman
service); the service itself is left running, as setup.sh intends."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import BufferedSocket, Counter, Daemon, request, wait_for, ok  # noqa: E402

IP = f"127.0.0.{int(os.environ.get('SN_TEST_IP_BASE_ENGINE', '190'))}"
SETUP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "setup.sh")
IMAGE = "localhost/busybox:latest"
WEB_PORT = int(os.environ.get("SN_TEST_ENGINE_WEB_PORT", "18190"))
SKIP = 77  # meson's exit status for a skipped test


def engine_socket():
    """The Podman service's socket, or exits 77 when no engine can run here."""
    if os.geteuid() != 0:
        print("skip: needs root (Podman's rootful service)")
        sys.exit(SKIP)
    if shutil.which("podman") is None:
        print("skip: podman is not installed (scripts/deps.sh --test)")
        sys.exit(SKIP)
    r = subprocess.run(["sh", SETUP], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print(f"FAIL engine setup: podman is installed but {SETUP} failed ({r.returncode}): {r.stderr}{r.stdout}")
        sys.exit(1)
    return r.stdout.strip().splitlines()[-1]


SOCK = None  # set in main


def call(path, sock_path, method="GET"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    conn = BufferedSocket(s)
    try:
        status, _, body = request(conn, method, "/v1.41" + path)
    finally:
        conn.close()
    return status, json.loads(body) if body.strip() else None


def api(d, path):
    status, body = call(path, d.socket)
    assert status == 200, (status, body)
    return body


def node_id(d):
    return api(d, "/info")["Swarm"]["NodeID"]


def containers(nid, **labels):
    """This node's managed containers in the engine (running or not), with more label filters."""
    want = ["swarmnode.managed=1", f"com.docker.swarm.node.id={nid}"] + [f"{k}={v}" for k, v in labels.items()]
    q = urllib.parse.quote(json.dumps({"label": want}))
    status, body = call(f"/containers/json?all=1&filters={q}", SOCK)
    assert status == 200, (status, body)
    return body


def remove_containers(nid):
    for c in containers(nid):
        call(f"/containers/{c['Id']}?force=1&v=1", SOCK, "DELETE")


def remove_stale_holders_of(port):
    """A run of this test killed before its cleanup leaves its web container
    behind, still publishing WEB_PORT; the engine (Podman with CNI) accepts a
    second container on the same host port and the old one keeps receiving
    the traffic. Those leftovers, and only they, are removed first."""
    q = urllib.parse.quote(json.dumps({"label": ["swarmnode.managed=1"]}))
    status, body = call(f"/containers/json?all=1&filters={q}", SOCK)
    assert status == 200, (status, body)
    for c in body:
        if any(p.get("PublicPort") == port for p in c.get("Ports") or []):
            print(f"removing container {c['Id'][:12]} left by an earlier run on port {port}")
            call(f"/containers/{c['Id']}?force=1&v=1", SOCK, "DELETE")


def tasks(d, service):
    q = urllib.parse.quote(json.dumps({"service": [service]}))
    return api(d, f"/tasks?filters={q}")


def running(d, service):
    return [t for t in tasks(d, service) if t["DesiredState"] == "running" and t["Status"]["State"] == "running"]


def http_body(addr):
    try:
        with urllib.request.urlopen(f"http://{addr}/", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def daemon(*args):
    return Daemon(extra_args=["--listen-addr", f"{IP}:2377", "--gossip-addr", f"{IP}:7946",
                              "--advertise-addr", IP] + list(args))


def with_engine_swarm(fn):
    def wrapper():
        d = daemon("--engine-socket", SOCK).start()
        nid = None
        try:
            ok(d.cli("init", "--advertise-addr", IP))
            nid = node_id(d)
            fn(d, nid)
        finally:
            d.stop()
            if nid:
                remove_containers(nid)
            d.cleanup()
    wrapper.__name__ = fn.__name__
    return wrapper


def the_daemon_reports_its_runtime_choice():
    d = daemon("--engine-socket", SOCK).start()
    try:
        info = api(d, "/info")
        assert info["DefaultRuntime"] == "engine", info.get("DefaultRuntime")
        assert info["Runtimes"] == {"engine": {"path": SOCK}}, info.get("Runtimes")
        out = ok(d.cli("info"))
        assert " Default Runtime: engine\n" in out and f" Engine Socket: {SOCK}\n" in out, out
        assert f"runtime=engine engine_socket={SOCK} chosen_by=--engine-socket" in d.logs(), d.logs()
    finally:
        d.stop()
        d.cleanup()
    d = daemon("--runtime", "exec", "--engine-socket", SOCK).start()
    try:
        info = api(d, "/info")
        assert info["DefaultRuntime"] == "exec" and info["Runtimes"] == {"exec": {"path": ""}}, info
        assert "Engine Socket" not in ok(d.cli("info"))
    finally:
        d.stop()
        d.cleanup()


def an_engine_that_does_not_answer_stops_the_daemon():
    for args in (["--runtime", "engine", "--engine-socket", "/nonexistent/engine.sock"],
                 ["--engine-socket", "/nonexistent/engine.sock"]):
        d = daemon(*args)
        try:
            d.start(wait=False)
            assert d.proc.wait(30) == 1, d.logs()
            logs = d.logs()
            assert "engine runtime: the engine socket does not answer" in logs, logs
            assert "engine_socket=/nonexistent/engine.sock error=\"no socket there\"" in logs, logs
            assert not os.path.exists(d.socket), "the daemon served before choosing its runtime"
        finally:
            d.cleanup()


@with_engine_swarm
def web_and_replicas_run_as_containers(d, nid):
    out = ok(d.cli("service", "create", "--name", "web", "-p", f"{WEB_PORT}:80", IMAGE,
                   "httpd", "-f", "-p", "80", "-h", "/www"))
    assert "converged" in out, out
    ok(d.cli("service", "create", "--name", "sleepers", "--replicas", "2", IMAGE, "sleep", "3600"))
    wait_for(lambda: len(running(d, "sleepers")) == 2, 60, "2 running sleepers")
    [web] = running(d, "web")
    cs = containers(nid, **{"com.docker.swarm.service.name": "web"})
    assert len(cs) == 1 and cs[0]["State"] == "running", cs
    labels = cs[0]["Labels"]
    assert labels["com.docker.swarm.task.id"] == web["ID"], labels
    assert labels["com.docker.swarm.service.id"] == web["ServiceID"], labels
    assert cs[0]["Id"] == web["Status"]["ContainerStatus"]["ContainerID"], (cs[0]["Id"], web["Status"])
    sleepers = containers(nid, **{"com.docker.swarm.service.name": "sleepers"})
    assert sorted(c["Labels"]["com.docker.swarm.task.id"] for c in sleepers) == \
        sorted(t["ID"] for t in running(d, "sleepers")), sleepers
    wait_for(lambda: http_body(f"127.0.0.1:{WEB_PORT}") == "hello from busybox\n", 30,
             f"HTTP from the container on port {WEB_PORT}")
    assert "1/1" in ok(d.cli("service", "ls")), ok(d.cli("service", "ls"))
    # service rm: every container of the services goes
    ok(d.cli("service", "rm", "web", "sleepers"))
    wait_for(lambda: containers(nid) == [], 60, "no managed container left after service rm")
    assert http_body(f"127.0.0.1:{WEB_PORT}") is None


@with_engine_swarm
def a_host_port_the_engine_picks_reaches_port_status(d, nid):
    ok(d.cli("service", "create", "--name", "picked", "-p", "mode=host,target=80", IMAGE,
             "httpd", "-f", "-p", "80", "-h", "/www"))
    [t] = running(d, "picked")
    wait_for(lambda: running(d, "picked") and running(d, "picked")[0]["Status"].get("PortStatus"), 30,
             "PortStatus of the running task")
    [port] = running(d, "picked")[0]["Status"]["PortStatus"]["Ports"]
    assert port["TargetPort"] == 80 and port["PublishMode"] == "host", port
    assert port["PublishedPort"] not in (0, 80), port
    [c] = containers(nid, **{"com.docker.swarm.task.id": t["ID"]})
    bound = [int(p["PublicPort"]) for p in c["Ports"] if p.get("PublicPort")]
    assert bound == [port["PublishedPort"]], (bound, port)
    wait_for(lambda: http_body(f"127.0.0.1:{port['PublishedPort']}") == "hello from busybox\n", 30,
             f"HTTP on the picked port {port['PublishedPort']}")
    out = ok(d.cli("service", "ps", "picked"))
    assert f"*:{port['PublishedPort']}->80/tcp" in out, out
    ok(d.cli("service", "rm", "picked"))
    wait_for(lambda: containers(nid) == [], 60, "no managed container left after service rm")


@with_engine_swarm
def a_crashed_daemon_adopts_its_running_containers(d, nid):
    ok(d.cli("service", "create", "--name", "survivor", IMAGE, "sleep", "3600"))
    [before] = running(d, "survivor")
    container = before["Status"]["ContainerStatus"]["ContainerID"]
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.log.close()
    [c] = containers(nid)
    assert c["Id"] == container and c["State"] == "running", c
    d.start()
    wait_for(lambda: "adopting container left by a previous daemon" in d.logs(), 30, "the container adopted")
    wait_for(lambda: call("/tasks", d.socket)[0] == 200, 30, "a leader again")
    wait_for(lambda: len(running(d, "survivor")) == 1, 30, "the task running again")
    [after] = running(d, "survivor")
    assert after["ID"] == before["ID"], (before["ID"], after["ID"])
    assert after["Status"]["ContainerStatus"]["ContainerID"] == container, after["Status"]
    [c] = containers(nid)
    assert c["Id"] == container and c["State"] == "running", c
    ok(d.cli("service", "rm", "survivor"))
    wait_for(lambda: containers(nid) == [], 60, "no managed container left after service rm")


@with_engine_swarm
def a_missing_image_is_a_rejected_task(d, nid):
    ok(d.cli("service", "create", "-d", "--name", "ghost", "localhost/sn-no-such-image:latest"))

    def rejected():
        return [t for t in tasks(d, "ghost") if t["Status"]["State"] == "rejected"]
    wait_for(lambda: rejected(), 60, "a rejected ghost task")
    err = rejected()[0]["Status"].get("Err", "")
    assert "No such image: localhost/sn-no-such-image:latest" in err, rejected()[0]["Status"]
    out = ok(d.cli("service", "ps", "--no-trunc", "ghost"))
    assert "Rejected" in out and "No such image: localhost/sn-no-such-image:latest" in out, out
    ok(d.cli("service", "rm", "ghost"))
    wait_for(lambda: containers(nid) == [], 60, "no managed container left after service rm")


if __name__ == "__main__":
    SOCK = engine_socket()
    remove_stale_holders_of(WEB_PORT)
    sys.exit(Counter().run([
        the_daemon_reports_its_runtime_choice,
        an_engine_that_does_not_answer_stops_the_daemon,
        web_and_replicas_run_as_containers,
        a_host_port_the_engine_picks_reaches_port_status,
        a_crashed_daemon_adopts_its_running_containers,
        a_missing_image_is_a_rejected_task,
    ]))
