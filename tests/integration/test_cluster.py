"""Real multi-process clusters on 127.0.0.x: init, joins, gossip convergence,
kill -9 detection, restart on the same data dir, leave, and refused joins."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, get, request, wait_for, ok, loopback_daemon  # noqa: E402

# Loopback addresses this file uses; other test files use other ranges.
BASE = int(os.environ.get("SN_TEST_IP_BASE", "40"))


def ip(i):
    return f"127.0.0.{BASE + i}"


def node(i, extra=(), **kw):
    return loopback_daemon(ip(i), extra, **kw)


def members(d):
    s = d.connect()
    status, _, body = request(s, "GET", "/v1.41/swarmnode/members")
    s.close()
    assert status == 200, body
    return {m["ID"]: m for m in json.loads(body)}


def states(d):
    return {k: v["State"] for k, v in members(d).items()}


def node_id(d):
    s = d.connect()
    status, _, body = request(s, "GET", "/v1.41/info")
    s.close()
    return json.loads(body)["Swarm"]["NodeID"]


class Cluster:
    def __init__(self, n):
        self.nodes = [node(i).start() for i in range(n)]

    def init(self):
        out = ok(self.nodes[0].cli("init", "--advertise-addr", ip(0)))
        assert "Swarm initialized: current node (" in out, out
        self.worker = ok(self.nodes[0].cli("join-token", "-q", "worker")).strip()
        self.manager = ok(self.nodes[0].cli("join-token", "-q", "manager")).strip()

    def join(self, i, token=None):
        return self.nodes[i].cli("join", "--token", token or self.worker, f"{ip(0)}:2377")

    def all_see(self, n_alive, nodes=None, timeout=60):
        nodes = nodes if nodes is not None else self.nodes
        wait_for(lambda: all(list(states(d).values()).count("alive") == n_alive for d in nodes),
                 timeout, f"every node to see {n_alive} alive")

    def stop(self):
        codes = [d.stop() for d in self.nodes]
        for d in self.nodes:
            d.cleanup()
        return codes


def twenty_nodes_converge_detect_and_rejoin():
    c = Cluster(20)
    try:
        c.init()
        for i in range(1, 20):
            out = ok(c.join(i))
            assert out == "This node joined a swarm as a worker.\n", out
        c.all_see(20)
        # kill -9 one worker: everyone else sees it dead
        victim = c.nodes[7]
        vid = node_id(victim)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        others = [d for d in c.nodes if d is not victim]
        wait_for(lambda: all(states(d).get(vid) == "dead" for d in others), 90, "all to mark the killed node dead")
        assert "member dead" in c.nodes[0].logs() and f"node={vid}" in c.nodes[0].logs()
        # restart on the same data dir: alive again everywhere, same id
        victim.start()
        assert node_id(victim) == vid
        c.all_see(20, timeout=60)
        # node ls on the manager lists all 20, the restarted one Ready once
        # the leader has written what gossip says (every second)
        def all_ready():
            out = ok(c.nodes[0].cli("node", "ls")).strip().splitlines()
            return len(out) == 21 and all(" Ready " in line for line in out[1:])
        wait_for(all_ready, 10, "node ls to show 20 Ready nodes")
        codes = c.stop()
        assert codes == [0] * 20, codes
    finally:
        for d in c.nodes:
            d.cleanup()


def refused_joins_join_nothing():
    c = Cluster(3)
    other = node(5).start()
    try:
        c.init()
        ok(other.cli("init", "--advertise-addr", ip(5)))
        foreign = ok(other.cli("join-token", "-q", "worker")).strip()
        d = c.nodes[1]

        def refused(token, addr, expect):
            r = d.cli("join", "--token", token, addr)
            assert r.returncode == 1, r
            assert expect in r.stderr, r.stderr
            info = ok(d.cli("info"))
            assert " Swarm: inactive" in info, info
            assert not os.path.exists(os.path.join(d.data_dir, "swarm-state.json"))

        wrong = c.worker[:-5] + ("00000" if not c.worker.endswith("00000") else "11111")
        refused(wrong, f"{ip(0)}:2377", "invalid join token secret")
        refused(foreign, f"{ip(0)}:2377", "token does not match this cluster")
        refused("SWMTKN-1-nonsense", f"{ip(0)}:2377", "invalid join token")
        refused(c.worker, f"{ip(9)}:2377", f"cannot reach manager at {ip(9)}:2377")
        old = c.worker
        out = ok(c.nodes[0].cli("join-token", "--rotate", "worker"))
        assert "Successfully rotated worker join token." in out
        refused(old, f"{ip(0)}:2377", "invalid join token secret")
        # the new token works, and the manager token makes a manager
        new = ok(c.nodes[0].cli("join-token", "-q", "worker")).strip()
        assert ok(c.join(1, new)) == "This node joined a swarm as a worker.\n"
        assert ok(c.join(2, c.manager)) == "This node joined a swarm as a manager.\n"
        c.all_see(3, timeout=30)
        ls = ok(c.nodes[2].cli("node", "ls"))
        assert ls.count("Leader") == 1 and ls.count("Reachable") == 1, ls
        r = c.nodes[1].cli("node", "ls")
        assert r.returncode == 1 and "Worker nodes can't be used" in r.stderr
        # joining twice is refused with Docker's message
        r = c.join(1, new)
        assert r.returncode == 1 and "already part of a swarm" in r.stderr
        # leave: a worker leaves, the others see it left; a manager needs --force
        wid = node_id(c.nodes[1])
        assert ok(c.nodes[1].cli("leave")) == "Node left the swarm.\n"
        wait_for(lambda: states(c.nodes[0]).get(wid) == "left", 20, "the manager to see the worker left")
        r = c.nodes[2].cli("leave")
        assert r.returncode == 1 and "Use `--force`" in r.stderr
        assert ok(c.nodes[2].cli("leave", "--force")) == "Node left the swarm.\n"
        r = c.nodes[2].cli("leave")
        assert r.returncode == 1 and "not part of a swarm" in r.stderr
        assert c.stop() == [0, 0, 0]
        assert other.stop() == 0
    finally:
        for d in c.nodes + [other]:
            d.cleanup()


def gossip_counters(d):
    s = d.connect()
    status, _, body = request(s, "GET", "/v1.41/swarmnode/gossip")
    s.close()
    assert status == 200, body
    return json.loads(body)


def forged_packets_are_dropped_and_counted():
    """Garbage, unknown keys and forged tags on the gossip and join ports are
    dropped and counted; the cluster keeps working."""
    import base64
    import hashlib
    import socket as so
    c = Cluster(2)
    try:
        c.init()
        ok(c.join(1))
        c.all_see(2, timeout=30)
        target = c.nodes[0]
        state = json.load(open(os.path.join(target.data_dir, "swarm-state.json")))
        keyring = base64.b64decode(state["Keyring"])
        key = keyring[keyring.index(b"\xc4\x20") + 2:][:32]  # the first bin(32) is the key
        key_id = hashlib.blake2b(b"swarmnode-gossip-key-id" + key, digest_size=32).digest()[:4]
        u = so.socket(so.AF_INET, so.SOCK_DGRAM)
        dest = (ip(0), 7946)
        for _ in range(5):
            u.sendto(b"\x01", dest)                                           # too short
            u.sendto(b"\x09" + os.urandom(80), dest)                          # unknown version
            u.sendto(b"\x01" + b"\xee\xee\xee\xee" + os.urandom(80), dest)   # unknown key
            u.sendto(b"\x01" + key_id + os.urandom(80), dest)                 # forged tag
        u.close()
        for port in (7946, 2377):  # garbage on the push-pull and join streams
            t = so.create_connection((ip(0), port), timeout=5)
            t.sendall(b"\xff\xff\xff\xff" + os.urandom(64))
            t.close()

        def counted():
            d = gossip_counters(target)["Dropped"]
            return d["Envelope"] >= 10 and d["UnknownKey"] >= 5 and d["Authentication"] >= 5 and d["Oversize"] >= 1
        wait_for(counted, 10, "the forged packets to be counted")
        wait_for(lambda: "msg=\"join refused\"" in target.logs(), 10, "the join server to refuse the garbage")
        assert list(states(target).values()).count("alive") == 2
        wait_for(lambda: ok(c.nodes[0].cli("node", "ls")).count(" Ready ") == 2, 10, "two Ready nodes")
        assert c.stop() == [0, 0]
    finally:
        for d in c.nodes:
            d.cleanup()


def engine_labels_travel_in_gossip():
    m = node(0).start()
    w = node(1, extra=["--label", "zone=b", "--label", "disk=ssd"]).start()
    try:
        ok(m.cli("init", "--advertise-addr", ip(0)))
        token = ok(m.cli("join-token", "-q", "worker")).strip()
        ok(w.cli("join", "--token", token, f"{ip(0)}:2377"))
        wid = node_id(w)
        out = ok(m.cli("node", "inspect", wid))
        labels = json.loads(out)[0]["Description"]["Engine"]["Labels"]
        assert labels == {"zone": "b", "disk": "ssd"}, labels
        assert json.loads(ok(m.cli("node", "inspect", "self")))[0]["Description"]["Engine"]["Labels"] == {}
        assert m.stop() == 0 and w.stop() == 0
    finally:
        m.cleanup()
        w.cleanup()


def node_ls_status(d, nid):
    """The STATUS cell of nid's row in d's node ls, or None when it is not listed."""
    for line in ok(d.cli("node", "ls")).splitlines()[1:]:
        if line.startswith(nid):
            return next((s for s in ("Ready", "Down", "Unknown", "Disconnected") if f" {s} " in line), "?")
    return None


def removed_node_stays_removed():
    """node rm of a down worker revokes its identity on the managers: restarted
    on its old data dir it is told it was removed and leaves, the manager never
    lists its old id again, and the machine may join again as a new node."""
    m = node(0, extra=["--runtime", "exec"]).start()
    w = node(1, extra=["--runtime", "exec"]).start()
    try:
        ok(m.cli("init", "--advertise-addr", ip(0)))
        token = ok(m.cli("join-token", "-q", "worker")).strip()
        ok(w.cli("join", "--token", token, f"{ip(0)}:2377"))
        wid = node_id(w)
        wait_for(lambda: node_ls_status(m, wid) == "Ready", 20, "the worker to be Ready")
        w.proc.send_signal(signal.SIGKILL)
        w.proc.wait()
        wait_for(lambda: node_ls_status(m, wid) == "Down", 90, "node ls to show the killed worker Down")
        assert ok(m.cli("node", "rm", wid)) == f"{wid}\n"
        assert node_ls_status(m, wid) is None
        # the manager restarts (nothing held in memory survives), then the
        # worker comes back on its old data dir with its still-valid certificate
        assert m.stop() == 0
        m.start()
        wait_for(lambda: m.cli("node", "ls").returncode == 0, 30, "the restarted manager to lead again")
        w.start()
        wait_for(lambda: " Swarm: inactive" in ok(w.cli("info")), 30, "the removed worker to be told and leave")
        assert "this node was removed from the swarm by a manager; leaving" in w.logs(), w.logs()
        refusals = [line for line in m.logs().splitlines() if "refused a removed node's stream" in line]
        assert refusals and f"node={wid}" in refusals[0] and "level=warn" in refusals[0], refusals
        assert len([r for r in refusals if f"node={wid}" in r]) == 1, refusals  # logged once per node
        assert get(m, "/swarmnode/peers")["Refused"]["RemovedNode"] >= 1
        # the leader reconciles every second: several rounds must not bring the old id back
        until = time.monotonic() + 5
        while time.monotonic() < until:
            assert node_ls_status(m, wid) is None, ok(m.cli("node", "ls"))
            assert wid not in [x["ID"] for x in get(m, "/nodes")]
        # the same machine joins again with the token: a new node, Ready
        ok(w.cli("join", "--token", token, f"{ip(0)}:2377"))
        nid = node_id(w)
        assert nid != wid
        wait_for(lambda: node_ls_status(m, nid) == "Ready", 20, "the rejoined worker to be Ready under its new id")
        assert node_ls_status(m, wid) is None
        assert m.stop() == 0 and w.stop() == 0
    finally:
        m.cleanup()
        w.cleanup()


if __name__ == "__main__":
    sys.exit(Counter().run([refused_joins_join_nothing, forged_packets_are_dropped_and_counted,
                            engine_labels_travel_in_gossip, removed_node_stays_removed,
                            twenty_nodes_converge_detect_and_rejoin]))
