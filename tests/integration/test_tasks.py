"""Services become tasks that run, as real processes on 127.0.0.x with the exec
runtime: 3 managers + 2 workers, a 6-replica service spread over all 5 nodes;
a global web server answering HTTP on each node's address; kill -9 a worker and
the service returns to 6 running on the 4 others; scale, rolling update, a
missing program and service rm (its processes end)."""
import json
import os
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, wait_for, ok, get, loopback_daemon  # noqa: E402

BASE = int(os.environ.get("SN_TEST_IP_BASE_TASKS", "120"))


def ip(i):
    return f"127.0.0.{BASE + i}"


def node(i):
    return loopback_daemon(ip(i))


def node_id(d):
    return get(d, "/info")["Swarm"]["NodeID"]


def running(d, service):
    """Tasks of service desired running and running, by node id."""
    tasks = get(d, "/tasks?filters=" + urllib.request.quote(json.dumps({"service": [service]})))
    out = {}
    for t in tasks:
        if t["DesiredState"] == "running" and t["Status"]["State"] == "running":
            out.setdefault(t["NodeID"], []).append(t)
    return out


def count(d, service):
    return sum(len(v) for v in running(d, service).values())


def http_ok(addr):
    try:
        with urllib.request.urlopen(f"http://{addr}/", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Cluster:
    def __init__(self):
        self.nodes = [node(i).start() for i in range(5)]
        m = self.nodes[0]
        ok(m.cli("init", "--advertise-addr", ip(0)))
        mt = ok(m.cli("join-token", "-q", "manager")).strip()
        wt = ok(m.cli("join-token", "-q", "worker")).strip()
        for i in (1, 2):
            assert ok(self.nodes[i].cli("join", "--token", mt, f"{ip(0)}:2377")) == \
                "This node joined a swarm as a manager.\n"
        for i in (3, 4):
            assert ok(self.nodes[i].cli("join", "--token", wt, f"{ip(0)}:2377")) == \
                "This node joined a swarm as a worker.\n"
        self.ids = [node_id(d) for d in self.nodes]
        wait_for(lambda: ok(m.cli("node", "ls")).count(" Ready ") == 5, 30, "five ready nodes")

    def stop(self):
        for d in self.nodes:
            d.stop()
        for d in self.nodes:
            d.cleanup()


def six_replicas_spread_and_rescheduled_after_kill():  # noqa: C901
    c = Cluster()
    try:
        m = c.nodes[0]
        out = ok(m.cli("service", "create", "--name", "sleeper", "--replicas", "6", "/bin/sh", "-c",
                       "while :; do sleep 1; done"))
        assert "verify: Service" in out and "converged" in out, out
        spread = running(m, "sleeper")
        assert sum(len(v) for v in spread.values()) == 6, spread
        assert set(spread) == set(c.ids), f"not on all 5 nodes: {sorted(spread)}"
        assert "6/6" in ok(m.cli("service", "ls")), ok(m.cli("service", "ls"))
        # a global web server, one per node on its own address (the nodes share this host)
        ok(m.cli("service", "create", "-d", "--name", "web", "--mode", "global", "-p",
                 "published=8090,target=8000,mode=host", "python3", "-m", "http.server", "--bind",
                 "${SWARMNODE_NODE_ADDR}", "${PORT}"))
        for i in range(5):
            wait_for(lambda i=i: http_ok(f"{ip(i)}:8090"), 30, f"HTTP on {ip(i)}:8090")
        # kill -9 a worker: its sleeper task is replaced on the others
        victim = 4
        orphans = [t["Status"]["ContainerStatus"]["PID"] for ts in running(m, "sleeper").values() for t in ts
                   if t["NodeID"] == c.ids[victim]] + \
                  [t["Status"]["ContainerStatus"]["PID"] for t in running(m, "web").get(c.ids[victim], [])]
        assert orphans and all(pid > 0 for pid in orphans), orphans
        c.nodes[victim].proc.send_signal(signal.SIGKILL)
        c.nodes[victim].proc.wait()
        killed = time.monotonic()
        wait_for(lambda: count(m, "sleeper") == 6 and c.ids[victim] not in running(m, "sleeper"), 60,
                 "6 running tasks again, none on the killed node")
        print(f"     rescheduled: 6 running again {time.monotonic() - killed:.1f} s after kill -9 of a worker")
        assert count(m, "web") == 4, running(m, "web")
        # the killed daemon's processes outlive it (as containers outlive a killed dockerd);
        # restarted on its data dir, it ends them and its node serves again
        c.nodes[victim].start()
        wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in orphans), 30,
                 "the restarted node to end the processes its killed daemon left")
        wait_for(lambda: http_ok(f"{ip(victim)}:8090"), 60, "the global web server back on the restarted node")
        # scale down and up
        ok(m.cli("service", "scale", "sleeper=3"))
        wait_for(lambda: count(m, "sleeper") == 3, 30, "3 running after scale")
        # a rolling update reaches every task
        ok(m.cli("service", "update", "--env-add", "A=1", "sleeper"))
        tasks = get(m, "/tasks?filters=" + urllib.request.quote(json.dumps({"service": ["sleeper"],
                                                                              "desired-state": ["running"]})))
        assert len(tasks) == 3 and all("A=1" in t["Spec"]["ContainerSpec"].get("Env", []) for t in tasks), tasks
        # a program that does not exist: rejected with exec's message
        r = m.cli("service", "create", "--detach", "--name", "ghost", "no-such-program-swarmnode")
        ok(r)
        wait_for(lambda: any("executable file not found" in (t["Status"].get("Err") or "")
                             for t in get(m, "/tasks?filters=" + urllib.request.quote(
                                 json.dumps({"service": ["ghost"]})))), 30, "the ghost task rejected")
        # service rm: every process ends
        ok(m.cli("service", "rm", "web", "ghost", "sleeper"))
        wait_for(lambda: not any(http_ok(f"{ip(i)}:8090") for i in range(4)), 30, "the web servers to stop")
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(Counter().run([six_replicas_spread_and_rescheduled_after_kill]))
