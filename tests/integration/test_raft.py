"""Managers on Raft, as real processes on 127.0.0.x: three managers elect a
leader; writes (node updates) commit and are refused when stale; kill -9 of
the leader elects another that accepts writes, and the old one returns as a
follower with every acknowledged write; kill -9 during a burst of writes
loses none that was acknowledged; without a majority, writes get Docker's
no-leader error, and init --force-new-cluster on the survivor recovers."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, wait_for, ok, api, loopback_daemon  # noqa: E402

BASE = int(os.environ.get("SN_TEST_IP_BASE_RAFT", "100"))


def ip(i):
    return f"127.0.0.{BASE + i}"


def node(i, data_dir=None, workdir=None):
    return loopback_daemon(ip(i), data_dir=data_dir, workdir=workdir)


def raft(d):
    status, info = api(d, "GET", "/info")
    assert status == 200, info
    return info["Swarm"].get("Raft", {})


def node_id(d):
    return api(d, "GET", "/info")[1]["Swarm"]["NodeID"]


def registered(d, nid):
    """The leader has written the node object (a node it has not is shown from gossip as "unknown")."""
    status, n = api(d, "GET", f"/nodes/{nid}")
    return status == 200 and n["Status"]["State"] == "ready"


def labels_of(d, nid):
    status, n = api(d, "GET", f"/nodes/{nid}")
    assert status == 200, n
    return n["Spec"].get("Labels") or {}


class Managers:
    """Three managers: node 0 inits, 1 and 2 join with the manager token."""

    def __init__(self, n=3):
        self.nodes = [node(i).start() for i in range(n)]
        out = ok(self.nodes[0].cli("init", "--advertise-addr", ip(0)))
        assert "Swarm initialized: current node (" in out, out
        token = ok(self.nodes[0].cli("join-token", "-q", "manager")).strip()
        for i in range(1, n):
            out = ok(self.nodes[i].cli("join", "--token", token, f"{ip(0)}:2377"))
            assert out == "This node joined a swarm as a manager.\n", out
        self.ids = [node_id(d) for d in self.nodes]

    def leader(self, among=None):
        """The index of the node every live one names as leader, once they agree."""
        among = among if among is not None else range(len(self.nodes))
        names = {raft(self.nodes[i]).get("Leader", "") for i in among}
        if len(names) == 1 and "" not in names and names.pop() in [self.ids[i] for i in among]:
            return self.ids.index(raft(self.nodes[list(among)[0]])["Leader"])
        return None

    def restart(self, i):
        d = self.nodes[i]
        self.nodes[i] = node(i, data_dir=d.data_dir, workdir=d.dir).start()

    def stop(self):
        for d in self.nodes:
            d.stop()
        for d in self.nodes:
            d.cleanup()


def add_label(d, target, key, value):
    """One write through the CLI (GET the node, POST its spec with the version read)."""
    return d.cli("node", "update", "--label-add", f"{key}={value}", target)


def three_managers_elect_one_leader_and_replicate_writes():
    c = Managers()
    try:
        wait_for(lambda: c.leader() is not None, 20, "the three managers to agree on a leader")
        info = raft(c.nodes[0])
        assert info["Voters"] == 3 and info["Quorum"], info
        # node ls: one Leader, two Reachable managers
        out = ok(c.nodes[1].cli("node", "ls"))
        assert out.count("Leader") == 1 and out.count("Reachable") == 2, out
        # a write through a follower commits everywhere
        follower = next(i for i in range(3) if i != c.leader())
        target = c.ids[0]
        wait_for(lambda: registered(c.nodes[follower], target), 20, "the node object")
        r = None
        for _ in range(20):  # the leader's own node writes may race ours: retry a stale version
            r = add_label(c.nodes[follower], target, "zone", "a")
            if r.returncode == 0:
                break
            assert "update out of sequence" in r.stderr, r.stderr
        ok(r)
        for d in c.nodes:
            wait_for(lambda d=d: labels_of(d, target).get("zone") == "a", 10, "the label on every manager")
        # a stale version is refused with Docker's message and changes nothing
        status, n = api(c.nodes[0], "GET", f"/nodes/{target}")
        spec = dict(n["Spec"], Labels={"zone": "stale"})
        version = n["Version"]["Index"]
        ok(add_label(c.nodes[0], target, "zone", "b"))
        status, body = api(c.nodes[0], "POST", f"/nodes/{target}/update?version={version}", spec)
        assert status == 409 and "update out of sequence" in body["message"], (status, body)
        assert labels_of(c.nodes[0], target)["zone"] == "b"
    finally:
        c.stop()


def killed_leader_is_replaced_and_returns_as_follower():
    c = Managers()
    try:
        wait_for(lambda: c.leader() is not None, 20, "a leader")
        old = c.leader()
        others = [i for i in range(3) if i != old]
        target = c.ids[others[0]]
        wait_for(lambda: registered(c.nodes[others[0]], target), 20,
                 "the node object")
        acked = []
        for k in range(5):
            if add_label(c.nodes[others[0]], target, f"before{k}", "1").returncode == 0:
                acked.append(f"before{k}")
        c.nodes[old].stop(signal.SIGKILL)
        killed_at = time.monotonic()
        # the first write another manager accepts
        accepted_after = None
        while time.monotonic() - killed_at < 30:
            if add_label(c.nodes[others[1]], target, "after", "1").returncode == 0:
                accepted_after = time.monotonic() - killed_at
                acked.append("after")
                break
        assert accepted_after is not None, "no write accepted within 30 s of killing the leader"
        print(f"     failover: first write accepted {accepted_after:.2f} s after kill -9 of the leader")
        new = c.leader(others)
        assert new is not None and new != old, new
        c.restart(old)
        wait_for(lambda: raft(c.nodes[old]).get("Leader") == c.ids[new] and raft(c.nodes[old])["Role"] == "follower",
                 20, "the old leader to follow the new one")
        got = labels_of(c.nodes[old], target)
        missing = [k for k in acked if k not in got]
        assert not missing, f"acknowledged writes missing on the old leader: {missing}"
    finally:
        c.stop()


def kill_during_write_burst_loses_no_acknowledged_write():
    c = Managers()
    try:
        wait_for(lambda: c.leader() is not None, 20, "a leader")
        leader = c.leader()
        writer = next(i for i in range(3) if i != leader)
        target = c.ids[writer]
        wait_for(lambda: registered(c.nodes[writer], target), 20,
                 "the node object")
        acked = []
        for k in range(40):
            if k == 15:
                c.nodes[leader].stop(signal.SIGKILL)
            if add_label(c.nodes[writer], target, f"k{k}", "1").returncode == 0:
                acked.append(f"k{k}")
        c.restart(leader)
        wait_for(lambda: c.leader() is not None, 20, "a leader after the restart")
        for d in c.nodes:
            wait_for(lambda d=d: all(k in labels_of(d, target) for k in acked), 20,
                     "every acknowledged write on every manager")
        assert len(acked) >= 20, f"only {len(acked)} of 40 writes were acknowledged"
    finally:
        c.stop()


def writes_without_a_majority_get_no_leader_error():
    c = Managers()
    try:
        wait_for(lambda: c.leader() is not None, 20, "a leader")
        survivor = 0
        wait_for(lambda: registered(c.nodes[0], c.ids[0]), 20,
                 "the node object")
        for _ in range(20):
            if add_label(c.nodes[survivor], c.ids[survivor], "before", "1").returncode == 0:
                break
        for i in (1, 2):
            c.nodes[i].stop(signal.SIGKILL)
        wait_for(lambda: not raft(c.nodes[survivor])["Quorum"], 20, "the survivor to see no quorum")
        r = add_label(c.nodes[survivor], c.ids[survivor], "x", "1")
        assert r.returncode != 0 and "does not have a leader" in r.stderr, r
        assert "no (writes are refused)" in ok(c.nodes[survivor].cli("info"))
        # Docker's recovery: the survivor starts a new cluster from its own state
        out = ok(c.nodes[survivor].cli("init", "--force-new-cluster"))
        assert f"current node ({c.ids[survivor]}) is now a manager" in out, out
        info = raft(c.nodes[survivor])
        assert info["Leader"] == c.ids[survivor] and info["Voters"] == 1 and info["Quorum"], info
        ok(add_label(c.nodes[survivor], c.ids[survivor], "recovered", "1"))
        got = labels_of(c.nodes[survivor], c.ids[survivor])
        assert got.get("before") == "1" and got.get("recovered") == "1", got
    finally:
        c.stop()


def promote_demote_and_remove_nodes():
    d = [node(i).start() for i in range(3)]
    try:
        ok(d[0].cli("init", "--advertise-addr", ip(0)))
        token = ok(d[0].cli("join-token", "-q", "worker")).strip()
        for i in (1, 2):
            ok(d[i].cli("join", "--token", token, f"{ip(0)}:2377"))
        ids = [node_id(x) for x in d]
        wait_for(lambda: all(registered(d[0], i) for i in ids), 20, "node objects")
        out = ok(d[0].cli("node", "promote", ids[1], ids[2]))
        assert out == f"Node {ids[1]} promoted to a manager in the swarm.\nNode {ids[2]} promoted to a manager in the swarm.\n", out
        wait_for(lambda: raft(d[0]).get("Voters") == 3, 30, "three voters after the promotions")
        wait_for(lambda: raft(d[2]).get("Leader") == ids[0], 20, "the promoted node to follow the leader")
        # demoting the leader hands leadership over first
        out = ok(d[1].cli("node", "demote", ids[0]))
        assert out == f"Manager {ids[0]} demoted in the swarm.\n", out
        wait_for(lambda: raft(d[1]).get("Voters") == 2 and raft(d[1]).get("Leader") in ids[1:], 30,
                 "two voters and a new leader")
        wait_for(lambda: d[0].cli("node", "ls").returncode == 1, 20, "the demoted node to be a worker")
        r = d[0].cli("node", "ls")
        assert "Worker nodes can't be used" in r.stderr, r
        # the last manager cannot be demoted
        ok(d[1].cli("node", "demote", ids[2]))
        wait_for(lambda: raft(d[1]).get("Voters") == 1, 30, "one voter")
        r = d[1].cli("node", "demote", ids[1])
        assert r.returncode == 1 and "attempting to demote the last manager of the swarm" in r.stderr, r
        # a manager must be demoted before removal; a live node needs --force
        r = d[1].cli("node", "rm", ids[1])
        assert r.returncode == 1 and "must be demoted to worker before removal" in r.stderr, r
        wait_for(lambda: d[2].cli("node", "ls").returncode == 1, 20, "the second demoted node to be a worker")
        r = d[1].cli("node", "rm", ids[2])
        assert r.returncode == 1 and "is not down and can't be removed" in r.stderr, r
        assert ok(d[1].cli("node", "rm", "--force", ids[2])) == f"{ids[2]}\n"
        wait_for(lambda: " Swarm: inactive" in ok(d[2].cli("info")), 20, "the removed node to leave")
        wait_for(lambda: ids[2] not in ok(d[1].cli("node", "ls")), 20, "node ls without the removed node")
    finally:
        for x in d:
            x.stop()
            x.cleanup()


if __name__ == "__main__":
    sys.exit(Counter().run([
        three_managers_elect_one_leader_and_replicate_writes,
        killed_leader_is_replaced_and_returns_as_follower,
        kill_during_write_burst_loses_no_acknowledged_write,
        writes_without_a_majority_get_no_leader_error,
        promote_demote_and_remove_nodes,
    ]))
