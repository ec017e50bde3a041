"""Services through the API, swarmnode's CLI and the stock docker CLI on a
single manager (127.0.0.150+): create with defaults, ls with REPLICAS and
PORTS, inspect (JSON and --pretty), update with PreviousSpec, scale,
rollback, rm; a duplicate name is 409, a stale version 409, ingress ports come
from 30000-32767 and a port another service holds is refused; filters; bad
specs are 400 naming the field. Tasks are not created until the orchestrator
lands, so waits are tested with services of 0 replicas."""
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BIN, Counter, Daemon, wait_for, ok, fails, api, get, docker, request, table,  # noqa: E402
                     DOCKER, loopback_daemon)

BASE = int(os.environ.get("SN_TEST_IP_BASE_SERVICES", "150"))


def manager(i=0):
    ip = f"127.0.0.{BASE + i}"
    d = loopback_daemon(ip)
    d.start()
    ok(d.cli("init", "--advertise-addr", ip))
    return d


def with_manager(fn):
    def wrapper():
        d = manager()
        try:
            fn(d)
        finally:
            d.stop()
            d.cleanup()
    wrapper.__name__ = fn.__name__
    return wrapper


def filters(**kw):
    return urllib.parse.quote(json.dumps({k: {v: True} for k, v in kw.items()}))


def spec(name, **extra):
    s = {"Name": name, "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}}}
    s.update(extra)
    return s


@with_manager
def create_ls_inspect_rm_with_the_cli(d):
    sid = ok(d.cli("service", "create", "-d", "--name", "web", "--replicas", "3", "-p", "8080:80", "-e", "A=1",
                   "-e", "B=2", "--constraint", "node.role==manager", "--limit-memory", "64m", "--reserve-cpu",
                   "0.5", "--restart-condition", "on-failure", "--update-parallelism", "2", "--update-delay", "10s",
                   "busybox", "sleep", "100")).strip()
    assert len(sid) == 25, sid
    rows = table(ok(d.cli("service", "ls")))
    assert rows[0] == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], rows
    assert rows[1] == [sid[:12], "web", "replicated", "0/3", "busybox", "*:8080->80/tcp"], rows
    assert ok(d.cli("service", "ls", "-q")).split() == [sid]
    [svc] = json.loads(ok(d.cli("service", "inspect", "web")))
    s = svc["Spec"]
    assert s["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1", "B=2"]
    assert s["TaskTemplate"]["ContainerSpec"]["Args"] == ["sleep", "100"]
    assert s["TaskTemplate"]["Resources"] == {"Limits": {"MemoryBytes": 64 << 20}, "Reservations": {"NanoCPUs": 500000000}}
    assert s["TaskTemplate"]["RestartPolicy"] == {"Condition": "on-failure", "Delay": 5000000000, "MaxAttempts": 0}
    assert s["UpdateConfig"]["Parallelism"] == 2 and s["UpdateConfig"]["Delay"] == 10 * 10**9
    assert s["RollbackConfig"]["Order"] == "stop-first" and s["EndpointSpec"]["Mode"] == "vip"
    assert svc["Endpoint"]["Ports"] == [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080,
                                         "PublishMode": "ingress"}], svc["Endpoint"]
    pretty = ok(d.cli("service", "inspect", "--pretty", sid[:6]))
    for want in ["Name:\t\tweb", "Service Mode:\tReplicated\n Replicas:\t3", "Constraints:\t[node.role==manager]",
                 " Delay:\t\t10s", "Env:\t\tA=1 B=2", "  Memory:\t64MiB", "PublishedPort = 8080"]:
        assert want in pretty, (want, pretty)
    assert ok(d.cli("service", "rm", "web")) == "web\n"
    assert len(table(ok(d.cli("service", "ls")))) == 1
    assert "Error: no such service: web" in fails(d.cli("service", "inspect", "web"))


@with_manager
def duplicate_names_are_a_conflict(d):
    ok(d.cli("service", "create", "-d", "--name", "web", "busybox"))
    err = fails(d.cli("service", "create", "-d", "--name", "web", "busybox"))
    assert "name conflicts with an existing object: service web already exists" in err, err
    status, body = api(d, "POST", "/services/create", spec("WEB"))
    assert status == 409, (status, body)
    status, body = api(d, "POST", "/services/create", spec(""))  # dockerd names it
    assert status == 201 and body["Warnings"] is None, body
    status, svc = api(d, "GET", "/services/" + body["ID"])
    assert "_" in svc["Spec"]["Name"], svc["Spec"]


@with_manager
def ingress_ports_are_allocated_and_conflicts_refused(d):
    a = ok(d.cli("service", "create", "-d", "--name", "a", "-p", "80", "busybox")).strip()
    b = ok(d.cli("service", "create", "-d", "--name", "b", "-p", "81", "-p", "published=8081,target=81,protocol=udp",
                 "busybox")).strip()
    ports = lambda sid: [(p["PublishedPort"], p["TargetPort"], p["Protocol"])  # noqa: E731
                         for p in api(d, "GET", "/services/" + sid)[1]["Endpoint"]["Ports"]]
    assert ports(a) == [(30000, 80, "tcp")], ports(a)
    assert ports(b) == [(30001, 81, "tcp"), (8081, 81, "udp")], ports(b)
    err = fails(d.cli("service", "create", "-d", "--name", "c", "-p", "30000:90", "busybox"))
    assert f"port '30000' is already in use by service 'a' ({a}) as an ingress port" in err, err
    ok(d.cli("service", "create", "-d", "--name", "c", "-p", "30000:90/udp", "busybox"))  # other protocol
    # An update keeps the dynamic port it had and adds the new one.
    ok(d.cli("service", "update", "-d", "--publish-add", "8088:88", "a"))
    assert ports(a) == [(30000, 80, "tcp"), (8088, 88, "tcp")], ports(a)
    ok(d.cli("service", "update", "-d", "--publish-rm", "80", "a"))
    assert ports(a) == [(8088, 88, "tcp")], ports(a)
    rows = table(ok(d.cli("service", "ls")))
    assert rows[2][5] == "*:30001->81/tcp, *:8081->81/udp", rows
    status, body = api(d, "POST", "/services/create", spec("d", EndpointSpec={"Ports": [
        {"TargetPort": 1, "PublishedPort": 8088}]}))
    assert status == 400 and "already in use by service 'a'" in body["message"], body


@with_manager
def update_scale_rollback_and_stale_versions(d):
    sid = ok(d.cli("service", "create", "-d", "--name", "web", "--replicas", "2", "-e", "A=1", "busybox")).strip()
    assert ok(d.cli("service", "update", "-d", "--env-add", "B=2", "--env-rm", "A", "--image", "busybox:2",
                    "--label-add", "tier=front", "web")) == "web\n"
    svc = api(d, "GET", "/services/web")[1]
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["B=2"], svc["Spec"]
    assert svc["Spec"]["Labels"] == {"tier": "front"}
    assert svc["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1"], svc["PreviousSpec"]
    # A write with the version read before someone else's write is refused.
    stale = svc["Version"]["Index"]
    assert ok(d.cli("service", "scale", "-d", "web=5")) == "web scaled to 5\n"
    status, body = api(d, "POST", f"/services/{sid}/update?version={stale}", svc["Spec"])
    assert status == 409 and body["message"] == "update out of sequence", (status, body)
    assert api(d, "GET", "/services/web")[1]["Spec"]["Mode"]["Replicated"]["Replicas"] == 5
    assert ok(d.cli("service", "rollback", "-d", "web")) == "web\n"
    svc = api(d, "GET", "/services/web")[1]
    assert svc["Spec"]["Mode"]["Replicated"]["Replicas"] == 2, svc["Spec"]
    assert svc["PreviousSpec"]["Mode"]["Replicated"]["Replicas"] == 5
    # The leader may already have finished the rollback when this read comes
    # (a fresh-clone run saw it completed 15 ms after it started): either
    # state is right here, each with its own message.
    status_now = svc["UpdateStatus"]
    assert (status_now["State"], status_now["Message"]) in (
        ("rollback_started", "manually requested rollback"),
        ("rollback_completed", "rollback completed")), status_now
    # Mode changes and renames are refused as dockerd refuses them.
    v = svc["Version"]["Index"]
    status, body = api(d, "POST", f"/services/{sid}/update?version={v}", spec("web", Mode={"Global": {}}))
    assert status == 501 and body["message"] == "service mode change is not allowed", body
    status, body = api(d, "POST", f"/services/{sid}/update?version={v}", spec("other"))
    assert status == 501 and body["message"] == "renaming services is not supported", body
    ok(d.cli("service", "create", "-d", "--name", "g", "--mode", "global", "busybox"))
    assert "scale can only be used with replicated mode" in fails(d.cli("service", "scale", "-d", "g=2"))
    # Without --detach the CLI waits for convergence: 0 replicas converge after the monitor window.
    out = ok(d.cli("service", "scale", "web=0"))
    assert "overall progress: 0 out of 0 tasks" in out and "verify: Service web converged" in out, out


@with_manager
def bad_specs_are_refused_naming_the_field(d):
    cases = [
        ({"Name": "web"}, "ContainerSpec: image reference must be provided"),
        (spec("web", Mode={"Replicated": {"Replicas": -1}}), "Number of replicas must be non-negative"),
        (spec("bad name"), "name must be valid as a DNS name component"),
        (spec("web", TaskTemplate={"ContainerSpec": {"Image": "b", "Env": ["A=1", 5]}}),
         "TaskTemplate.ContainerSpec.Env[1]: expected a string"),
        (spec("web", TaskTemplate={"ContainerSpec": {"Image": "b"}, "Placement": {"Constraints": ["node.role=x"]}}),
         "TaskTemplate.Placement.Constraints[0] \"node.role=x\": constraint expected one operator from ==, !="),
        (spec("web", EndpointSpec={"Ports": [{"TargetPort": 80, "Protocol": "icmp"}]}),
         "EndpointSpec.Ports[0].Protocol: invalid value \"icmp\": expected one of tcp, udp, sctp"),
        (spec("web", UpdateConfig={"Delay": -1}), "TaskSpec: update-delay cannot be negative"),
    ]
    for body, msg in cases:
        status, answer = api(d, "POST", "/services/create", body)
        assert status == 400 and answer["message"] == msg, (body, status, answer)
    err = fails(d.cli("service", "create", "-d", "--constraint", "node.colour==red", "busybox"))
    assert "key 'node.colour' is invalid" in err, err
    err = fails(d.cli("service", "create", "-d", "-p", "80:x", "busybox"), code=2)
    assert "invalid argument \"80:x\" for \"-p, --publish\" flag" in err, err
    status, body = api(d, "POST", "/services/nope/update?version=1", spec("nope"))
    assert status == 404 and body["message"] == "service nope not found", body
    assert api(d, "GET", "/services")[1] == []


@with_manager
def filters_tasks_and_logs(d):
    w = ok(d.cli("service", "create", "-d", "--name", "web", "-l", "tier=front", "busybox")).strip()
    ok(d.cli("service", "create", "-d", "--name", "worker", "--mode", "global", "busybox"))
    names = lambda q: sorted(s["Spec"]["Name"] for s in api(d, "GET", "/services?filters=" + q)[1])  # noqa: E731
    assert names(filters(name="w")) == ["web", "worker"]
    assert names(filters(name="wor")) == ["worker"]
    assert names(filters(id=w[:5])) == ["web"]
    assert names(filters(label="tier=front")) == ["web"] and names(filters(label="tier")) == ["web"]
    assert names(filters(mode="global")) == ["worker"]
    status, body = api(d, "GET", "/services?filters=" + filters(color="red"))
    assert status == 400 and body["message"] == "invalid filter 'color'", body
    [s] = api(d, "GET", "/services?status=true&filters=" + filters(name="web"))[1]
    assert s["ServiceStatus"]["DesiredTasks"] == 1 and s["ServiceStatus"]["CompletedTasks"] == 0, s
    # the orchestrator has made web's task by now: the filter returns it and only it
    wait_for(lambda: len(api(d, "GET", "/tasks?filters=" + filters(service="web"))[1]) >= 1, 10, "web's task")
    status, tasks = api(d, "GET", "/tasks?filters=" + filters(service="web"))
    assert status == 200 and all(t["ServiceID"] == w for t in tasks), tasks
    status, body = api(d, "GET", "/tasks?filters=" + filters(service="nope"))
    assert status == 404 and body["message"] == "service nope not found", body
    status, body = api(d, "GET", "/tasks?filters=" + filters(**{"desired-state": "sleeping"}))
    assert status == 400, body
    assert api(d, "GET", "/tasks/abc")[0] == 404
    rows = table(ok(d.cli("service", "ps", "web")))
    assert rows[0] == ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"], rows
    assert rows[1][1] == "web.1", rows
    status, body = api(d, "GET", "/services/web/logs")
    assert status == 400 and body["message"] == "Bad parameters: you must choose at least one stream", body
    status, body = api(d, "GET", "/services/nope/logs?stdout=1")
    assert status == 404 and body["message"] == "service nope not found", body
    status, body = api(d, "GET", "/services/web/logs?stdout=1&tail=-1")
    assert status == 400 and "tail value must be" in body["message"], body
    assert "no such task or service: nope" in fails(d.cli("service", "logs", "nope"))


@with_manager
def the_stock_docker_cli(d):
    assert DOCKER, "no docker CLI on PATH"
    sid = ok(docker(d, "service", "create", "-d", "--name", "nginx1", "-p", "8080:80", "--replicas", "2",
                    "busybox:local", "/bin/httpd", "-f", "-p", "80")).strip().splitlines()[-1]
    rows = table(ok(docker(d, "service", "ls")))
    assert rows[1] == [sid[:12], "nginx1", "replicated", "0/2", "busybox:local", "*:8080->80/tcp"], rows
    pretty = ok(docker(d, "service", "inspect", "--pretty", "nginx1"))
    assert "Replicas:\t2" in pretty and "PublishedPort = 8080" in pretty and "Args:\t\t/bin/httpd -f -p 80" in pretty
    assert ok(docker(d, "service", "scale", "-d", "nginx1=3")).startswith("nginx1 scaled to 3")
    ok(docker(d, "service", "update", "-d", "--publish-rm", "8080:80", "--publish-add", "8088:80", "--env-add",
              "A=1", "nginx1"))
    [svc] = json.loads(ok(docker(d, "service", "inspect", "nginx1")))
    assert svc["Spec"]["Mode"]["Replicated"]["Replicas"] == 3
    assert [p["PublishedPort"] for p in svc["Endpoint"]["Ports"]] == [8088], svc["Endpoint"]
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1"]
    assert svc["PreviousSpec"]["EndpointSpec"]["Ports"][0]["PublishedPort"] == 8080
    assert ok(docker(d, "service", "ps", "nginx1")).startswith("ID")
    err = fails(docker(d, "service", "create", "-d", "--name", "nginx1", "busybox:local"))
    assert "name conflicts with an existing object: service nginx1 already exists" in err, err
    assert "no such service: nope" in fails(docker(d, "service", "inspect", "nope"))
    assert ok(docker(d, "service", "rm", "nginx1")) == "nginx1\n"
    assert len(table(ok(docker(d, "service", "ls")))) == 1


def frames(d, path):
    """The (stream, payload) frames of a log stream GET under /v1.41."""
    s = d.connect()
    try:
        status, headers, body = request(s, "GET", "/v1.41" + path)
    finally:
        s.close()
    assert status == 200, (status, body)
    assert "content-type" not in headers, headers
    out = []
    while body:
        stream, n = struct.unpack(">B3xI", body[:8])
        out.append((stream, body[8:8 + n].decode()))
        body = body[8 + n:]
    return out


def logs_from_a_manager_and_a_worker():  # noqa: C901
    """service logs over 2 nodes (127.0.0.160-161, exec runtime): each task's lines with docker's prefixes,
    --tail, stderr frames, timestamps, task logs, the docker CLI, and a frozen node skipped."""
    m, w = loopback_daemon(f"127.0.0.{BASE + 10}"), loopback_daemon(f"127.0.0.{BASE + 11}")
    try:
        m.start()
        w.start()
        ok(m.cli("init", "--advertise-addr", f"127.0.0.{BASE + 10}"))
        token = ok(m.cli("join-token", "-q", "worker")).strip()
        ok(w.cli("join", "--token", token, f"127.0.0.{BASE + 10}:2377"))
        wait_for(lambda: ok(m.cli("node", "ls")).count(" Ready ") == 2, 30, "two ready nodes")
        ok(m.cli("service", "create", "--name", "greeter", "--replicas", "2", "/bin/sh", "-c",
                 "echo hello from $SWARMNODE_SLOT; echo oops $SWARMNODE_SLOT >&2; sleep 1; "
                 "echo bye $SWARMNODE_SLOT; exec sleep 3600"))
        tasks = {t["Slot"]: t for t in get(m, "/tasks?filters=" + filters(service="greeter"))}
        assert sorted(tasks) == [1, 2] and len({t["NodeID"] for t in tasks.values()}) == 2, tasks
        host = {t["NodeID"]: get(m, "/nodes/" + t["NodeID"])["Description"]["Hostname"] for t in tasks.values()}
        prefix = {s: f"greeter.{s}.{t['ID'][:12]}@{host[t['NodeID']]}    | " for s, t in tasks.items()}
        wait_for(lambda: ok(m.cli("service", "logs", "greeter")).count("bye") == 2, 15, "both tasks' lines")
        r = m.cli("service", "logs", "greeter")
        for s in (1, 2):
            assert f"{prefix[s]}hello from {s}\n{prefix[s]}bye {s}\n" in ok(r), (s, r.stdout)
            assert f"{prefix[s]}oops {s}\n" in r.stderr, (s, r.stderr)
        assert "oops" not in r.stdout and "hello" not in r.stderr, r
        # --tail counts per task (the task writes "bye" a second after the rest); --no-task-ids drops the id
        r = m.cli("service", "logs", "--tail", "1", "--no-task-ids", "greeter")
        assert sorted(ok(r).splitlines()) == [f"greeter.{s}@{host[tasks[s]['NodeID']]}    | bye {s}"
                                              for s in (1, 2)], r.stdout
        assert r.stderr == "", r.stderr
        # the wire: stderr lines in stream 2 frames, docker's details, timestamps before them
        got = frames(m, "/services/greeter/logs?stdout=1&stderr=1&details=1&tail=all")
        t1 = tasks[1]
        details = (f"com.docker.swarm.node.id={t1['NodeID']},com.docker.swarm.service.id={t1['ServiceID']},"
                   f"com.docker.swarm.task.id={t1['ID']}")
        assert (2, f"{details} oops 1\n") in got and (1, f"{details} hello from 1\n") in got, got
        assert [p for _, p in frames(m, "/services/greeter/logs?stderr=1")] == ["oops 1\n", "oops 2\n"]
        stamped = frames(m, f"/tasks/{t1['ID']}/logs?stdout=1&timestamps=1")
        assert [p[31:] for _, p in stamped] == ["hello from 1\n", "bye 1\n"], stamped
        assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", p) for _, p in stamped), stamped
        assert ok(m.cli("service", "logs", "-t", t1["ID"][:10])).count(" greeter.1.") == 2
        if DOCKER:
            r = docker(m, "service", "logs", "greeter")
            for s in (1, 2):
                assert f"{prefix[s]}hello from {s}" in ok(r) and f"{prefix[s]}oops {s}" in r.stderr, (r.stdout,
                                                                                                         r.stderr)
            r = docker(m, "service", "logs", "--tail", "1", t1["ID"])
            assert ok(r) == f"{prefix[1]}bye 1\n", r.stdout
        # --follow: what the tasks write next, a new task's lines too, until the client goes away
        follower = subprocess.Popen([BIN, "-H", "unix://" + m.socket, "service", "logs", "-f", "--tail", "1",
                                     "greeter"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        seen = []
        reader = threading.Thread(target=lambda: seen.extend(iter(follower.stdout.readline, "")), daemon=True)
        reader.start()
        try:
            wait_for(lambda: sum("| bye" in x for x in seen) == 2, 15, "the follower's first lines")
            ok(m.cli("service", "scale", "-d", "greeter=3"))
            wait_for(lambda: any("| bye 3" in x for x in seen), 20, "the new task's lines in the follower's output")
            assert any(x.startswith("greeter.3.") and "| hello from 3" in x for x in seen), seen
            assert sum("| bye 1" in x for x in seen) == 1 and follower.poll() is None, seen
        finally:
            follower.kill()
            follower.wait()
        ok(m.cli("service", "scale", "greeter=2"))
        # a frozen worker: its task is skipped after the broker's wait, the manager's lines still come
        worker_slot = next(s for s, t in tasks.items() if t["NodeID"] != get(m, "/info")["Swarm"]["NodeID"])
        w.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            out = ok(m.cli("service", "logs", "greeter"))
            took = time.monotonic() - started
        finally:
            w.proc.send_signal(signal.SIGCONT)
        assert f"bye {3 - worker_slot}" in out and f"bye {worker_slot}" not in out, out
        assert took < 12, took
        print(f"     a frozen node's task skipped after {took:.1f} s")
        # a follower's stream ends properly (the last chunk) when the daemon stops
        s = m.connect()
        s.sendall(b"GET /v1.41/services/greeter/logs?stdout=1&follow=1&tail=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200"), "the follow stream did not start"
        assert m.stop() == 0
        while s.read_until(b"\r\n") != b"0":
            pass
        s.close()
    finally:
        for d in (w, m):
            d.stop()
            d.cleanup()


def outside_a_swarm_services_are_503():
    d = Daemon().start()
    try:
        status, body = api(d, "GET", "/services")
        assert status == 503 and "not a swarm manager" in body["message"], body
        assert api(d, "POST", "/services/create", spec("web"))[0] == 503
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    sys.exit(Counter().run([
        create_ls_inspect_rm_with_the_cli,
        duplicate_names_are_a_conflict,
        ingress_ports_are_allocated_and_conflicts_refused,
        update_scale_rollback_and_stale_versions,
        bad_specs_are_refused_naming_the_field,
        filters_tasks_and_logs,
        the_stock_docker_cli,
        logs_from_a_manager_and_a_worker,
        outside_a_swarm_services_are_503,
    ]))
