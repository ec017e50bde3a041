"""Authenticated peer streams between real daemons on 127.0.0.x: every node keeps
one stream to each live manager, heartbeats measure round trips, a killed worker's
stream goes down and comes back with it, and the cluster port refuses peers of
another cluster, expired certificates and garbage while joins keep working."""
import json
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, wait_for, ok, get, loopback_daemon  # noqa: E402

# Loopback addresses this file uses; other test files use other ranges.
BASE = int(os.environ.get("SN_TEST_IP_BASE_PEERS", "80"))
PROBE = os.environ.get("PEER_PROBE_BIN", os.path.join(os.path.dirname(__file__),
                                                      "../../build/tests/integration/peer_probe"))


def ip(i):
    return f"127.0.0.{BASE + i}"


def node(i):
    return loopback_daemon(ip(i))


def peers(d):
    return get(d, "/swarmnode/peers")


def streams(d):
    return {s["NodeID"]: s for s in peers(d)["Streams"]}


def node_id(d):
    return get(d, "/info")["Swarm"]["NodeID"]


def probe(*args):
    return subprocess.run([PROBE] + list(args), capture_output=True, text=True, timeout=30)


class Cluster:
    """Node 0 inits; the others join as told."""

    def __init__(self, n):
        self.nodes = [node(i).start() for i in range(n)]
        self.ids = [None] * n

    def init(self):
        ok(self.nodes[0].cli("init", "--advertise-addr", ip(0)))
        self.worker = ok(self.nodes[0].cli("join-token", "-q", "worker")).strip()
        self.manager = ok(self.nodes[0].cli("join-token", "-q", "manager")).strip()
        self.ids[0] = node_id(self.nodes[0])

    def join(self, i, manager=False):
        out = ok(self.nodes[i].cli("join", "--token", self.manager if manager else self.worker, f"{ip(0)}:2377"))
        assert out == f"This node joined a swarm as a {'manager' if manager else 'worker'}.\n", out
        self.ids[i] = node_id(self.nodes[i])

    def cleanup(self):
        for d in self.nodes:
            d.cleanup()


def expect_streams(c, expected, timeout=60):
    """expected: {node index: {peer index: direction}}; waits until every one is
    up, the dialing end with a measured round trip (the accepting end only
    answers heartbeats), and nothing else is listed."""
    def check():
        for i, want in expected.items():
            got = streams(c.nodes[i])
            if set(got) != {c.ids[k] for k in want}:
                return False
            for k, direction in want.items():
                s = got[c.ids[k]]
                if s["State"] != "up" or s["Direction"] != direction or \
                        (direction == "out" and s["RTTMicroseconds"] is None):
                    return False
        return True
    try:
        wait_for(check, timeout, "every expected stream up with a round trip measured")
    except AssertionError:
        for i in expected:
            print(f"node {i} ({c.ids[i]}):", json.dumps(peers(c.nodes[i])["Streams"], indent=1), file=sys.stderr)
        raise


def mesh_of_one_manager_two_workers_and_a_second_manager():
    c = Cluster(4)
    try:
        c.init()
        c.join(1)
        c.join(2)
        c.join(3, manager=True)
        m0, m3 = c.ids[0], c.ids[3]
        # Of two managers the smaller id dials; workers dial both managers.
        d03, d30 = ("out", "in") if m0 < m3 else ("in", "out")
        expected = {
            0: {1: "in", 2: "in", 3: d03},
            1: {0: "out", 3: "out"},
            2: {0: "out", 3: "out"},
            3: {0: d30, 1: "in", 2: "in"},
        }
        expect_streams(c, expected)
        # The figures of one stream, as the API reports them.
        wait_for(lambda: streams(c.nodes[1])[m0]["HeartbeatsAcked"] >= 1, 10, "the dialer's first heartbeat answered")
        s = streams(c.nodes[1])[m0]
        assert s["Role"] == "manager" and s["Addr"] == f"{ip(0)}:2377", s
        assert s["BytesIn"] > 0 and s["BytesOut"] > 0 and s["HeartbeatsAcked"] >= 1, s
        assert 0 < s["RTTMicroseconds"] < 1_000_000, s
        w = streams(c.nodes[0])[c.ids[1]]
        assert w["Role"] == "worker" and w["Direction"] == "in" and w["AuthFailures"] == 0, w
        p0 = peers(c.nodes[0])
        assert p0["Refused"]["Total"] == 0 and p0["Listener"]["Peers"] >= 2 and p0["Listener"]["JoinsAdmitted"] == 3, p0
        assert peers(c.nodes[1])["Listener"] is None  # workers do not listen
        print("  rtt_us worker1->manager0:", s["RTTMicroseconds"], "bytes in/out:", s["BytesIn"], s["BytesOut"])
        # Heartbeats keep flowing (the dialer sends one every 5 s): the counters grow,
        # and the accepting end only answers.
        before = streams(c.nodes[2])[m3]["HeartbeatsAcked"]
        wait_for(lambda: streams(c.nodes[2])[m3]["HeartbeatsAcked"] >= before + 2, 20, "two more heartbeats")
        assert w["HeartbeatsSent"] == 0, w

        # kill -9 worker 1: its stream goes down on both managers.
        victim = c.nodes[1]
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        for mi in (0, 3):
            wait_for(lambda mi=mi: streams(c.nodes[mi])[c.ids[1]]["State"] == "down", 20,
                     f"manager {mi} to see the killed worker's stream down")
        down = streams(c.nodes[0])[c.ids[1]]
        assert down["LastError"], down
        print("  down on manager0 because:", down["LastError"])
        assert 'msg="peer stream down"' in c.nodes[0].logs()
        # The other streams stay up.
        assert streams(c.nodes[0])[c.ids[2]]["State"] == "up"
        # Restart it: it comes back on both managers.
        victim.start()
        expect_streams(c, expected)
        back = streams(c.nodes[0])[c.ids[1]]
        assert back["Connects"] >= 2, back

        # kill -9 the second manager: the workers' streams to it go down at once
        # (they keep redialing), and once gossip declares it dead they stop.
        c.nodes[3].proc.send_signal(signal.SIGKILL)
        c.nodes[3].proc.wait()
        for wi in (1, 2):
            wait_for(lambda wi=wi: streams(c.nodes[wi])[m3]["State"] != "up", 20,
                     f"worker {wi} to see its stream to the killed manager go down")
            wait_for(lambda wi=wi: streams(c.nodes[wi])[m3]["LastError"] == "gossip no longer sees it alive", 90,
                     f"worker {wi} to stop dialing the dead manager")
            s = streams(c.nodes[wi])[m3]
            assert s["State"] == "down", s
        assert streams(c.nodes[1])[m0]["State"] == "up"
        assert 'msg="no longer dialing"' in c.nodes[1].logs()
        # Every node left shuts down cleanly (streams closed in good order).
        codes = [d.stop() for d in c.nodes[:3]]
        assert codes == [0, 0, 0], codes
    finally:
        c.cleanup()


def refusals_are_logged_and_counted_and_joins_still_work():
    c = Cluster(3)
    other = node(5).start()
    try:
        c.init()
        c.join(1)
        expect_streams(c, {0: {1: "in"}, 1: {0: "out"}})
        ok(other.cli("init", "--advertise-addr", ip(5)))
        target = f"{ip(0)}:2377"
        m = c.nodes[0]

        # A node of another cluster.
        r = probe(other.data_dir, target)
        assert r.returncode == 1 and "our certificate belongs to another cluster" in r.stdout, r
        wait_for(lambda: peers(m)["Refused"]["Cluster"] == 1, 10, "the foreign peer to be counted")
        assert "peer certificate belongs to another cluster" in m.logs(), m.logs()[-2000:]
        assert 'msg="peer refused"' in m.logs()

        # A certificate of this cluster, signed by its root, expired yesterday.
        r = probe("--expired", m.data_dir, target)
        assert r.returncode == 1 and "our certificate has expired" in r.stdout, r
        wait_for(lambda: peers(m)["Refused"]["Expired"] == 1, 10, "the expired peer to be counted")
        assert "peer certificate expired" in m.logs()

        # Garbage: not a peer HELLO, so the join server gets it and refuses it.
        before = peers(m)["Listener"]["JoinsRefused"]
        t = socket.create_connection((ip(0), 2377), timeout=5)
        t.sendall(b"\x00\x00\x00\x10" + os.urandom(16))
        t.settimeout(5)
        t.recv(64)  # the join server's REJECT, then the close
        t.close()
        wait_for(lambda: peers(m)["Listener"]["JoinsRefused"] == before + 1, 10, "the garbage to be refused")
        # A peer HELLO of the wrong shape: [16, 1, nil].
        t = socket.create_connection((ip(0), 2377), timeout=5)
        t.sendall(b"\x00\x00\x00\x04\x93\x10\x01\xc0")
        t.settimeout(5)
        reply = t.recv(64)
        t.close()
        assert reply == b"\x00\x00\x00\x03\x92\x12\x02", reply  # REJECT, malformed
        wait_for(lambda: peers(m)["Refused"]["Malformed"] == 1, 10, "the malformed HELLO to be counted")
        # A connection that says nothing and hangs up.
        socket.create_connection((ip(0), 2377), timeout=5).close()
        wait_for(lambda: peers(m)["Listener"]["Dropped"] >= 1, 10, "the silent connection to be dropped")

        # The real thing from outside the daemon: the worker's own identity.
        r = probe(c.nodes[1].data_dir, target)
        assert r.returncode == 0 and r.stdout.startswith(f"up {c.ids[0]} rtt_us="), r
        assert "closed=orderly" in r.stdout, r
        # ...which replaced the worker's stream; the worker reconnects.
        expect_streams(c, {0: {1: "in"}, 1: {0: "out"}})

        # None of this hurt the join protocol on the same port.
        c.join(2)
        expect_streams(c, {0: {1: "in", 2: "in"}, 1: {0: "out"}, 2: {0: "out"}})
        p = peers(m)
        assert p["Refused"]["Total"] == 3, p["Refused"]
        assert p["Listener"]["JoinsAdmitted"] == 2, p["Listener"]
        print("  refused:", p["Refused"], "listener:", p["Listener"])
        assert [d.stop() for d in c.nodes] == [0, 0, 0]
        assert other.stop() == 0
    finally:
        c.cleanup()
        other.cleanup()


if __name__ == "__main__":
    sys.exit(Counter().run([
        mesh_of_one_manager_two_workers_and_a_second_manager,
        refusals_are_logged_and_counted_and_joins_still_work,
    ]))
