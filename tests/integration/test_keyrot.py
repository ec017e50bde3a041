"""Gossip key rotation across real daemons on 127.0.0.200-220: every node gets the
new key, gossip keeps detecting failures under it, a node stopped during the
rotation catches up when it comes back, and only managers may send a keyring."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, wait_for, ok, get, loopback_daemon  # noqa: E402

BASE = int(os.environ.get("SN_KEYROT_IP_BASE", "200"))
PROBE = os.environ.get("PEER_PROBE_BIN", os.path.join(os.path.dirname(__file__),
                                                      "../../build/tests/integration/peer_probe"))


def ip(i):
    return f"127.0.0.{BASE + i}"


def node(i):
    return loopback_daemon(ip(i))


def keyring(d):
    return get(d, "/swarmnode/gossip")["Keyring"]


def primary(d):
    return next(k["Fingerprint"] for k in keyring(d)["Keys"] if k["Primary"])


def fingerprints(d):
    return {k["Fingerprint"] for k in keyring(d)["Keys"]}


def states(d):
    return {m["ID"]: m["State"] for m in get(d, "/swarmnode/members")}


def node_id(d):
    return get(d, "/info")["Swarm"]["NodeID"]


def all_see(nodes, n_alive, timeout=60):
    wait_for(lambda: all(list(states(d).values()).count("alive") == n_alive for d in nodes),
             timeout, f"every node to see {n_alive} alive")


def cluster(n, managers):
    """Node 0 inits; nodes 1..managers-1 join as managers, the rest as workers."""
    nodes = [node(i).start() for i in range(n)]
    ok(nodes[0].cli("init", "--advertise-addr", ip(0)))
    tokens = {r: ok(nodes[0].cli("join-token", "-q", r)).strip() for r in ("worker", "manager")}
    for i in range(1, n):
        ok(nodes[i].cli("join", "--token", tokens["manager" if i < managers else "worker"], f"{ip(0)}:2377"))
    all_see(nodes, n)
    return nodes


def rotation_reaches_every_node_and_gossip_keeps_working():
    nodes = []
    try:
        nodes = cluster(5, managers=2)
        first = primary(nodes[0])
        assert all(keyring(d)["Generation"] == 0 and primary(d) == first for d in nodes)

        # Node 4 is stopped during the rotation: the command names it and exits 1.
        late = nodes[4]
        late_id = node_id(late)
        assert late.stop() == 0
        r = nodes[0].cli("swarm", "rotate-gossip-key")
        assert r.returncode == 1, f"exit {r.returncode}: {r.stdout}{r.stderr}"
        assert "Gossip key rotated: 4 of 5 nodes confirmed" in r.stdout, r.stdout
        assert late_id in r.stderr, r.stderr
        new = primary(nodes[0])
        assert new != first
        for d in nodes[:4]:
            ring = keyring(d)
            assert ring["Generation"] == 2 and primary(d) == new, ring
            assert fingerprints(d) == {first, new}, ring  # the old key is still accepted
        info = ok(nodes[2].cli("info"))
        assert "Gossip Keyring: generation 2" in info and f"{new} (primary)" in info, info

        # It comes back with its old ring and gets the new one from a manager.
        late.start()
        wait_for(lambda: keyring(late)["Generation"] == 2 and primary(late) == new, 60,
                 "the node stopped during the rotation to get the new ring")
        all_see(nodes, 5)
        assert "gossip keyring updated" in late.logs()

        # Gossip under the new key still detects a kill -9, and takes the node back.
        victim = nodes[3]
        vid = node_id(victim)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        others = [d for d in nodes if d is not victim]
        wait_for(lambda: all(states(d).get(vid) == "dead" for d in others), 90, "the killed node seen dead")
        victim.start()
        assert node_id(victim) == vid and primary(victim) == new
        all_see(nodes, 5)

        # Two more rotations, from the other manager, with every node up: the
        # third drops the first key (the two previous ones stay accepted).
        for generation in (4, 7):
            out = ok(nodes[1].cli("swarm", "rotate-gossip-key"))
            assert "Gossip key rotated: 5 of 5 nodes confirmed" in out, out
            assert all(keyring(d)["Generation"] == generation for d in nodes)
        last = primary(nodes[1])
        for d in nodes:
            fps = fingerprints(d)
            assert primary(d) == last and len(fps) == 3 and first not in fps and new in fps, keyring(d)
        all_see(nodes, 5)
        # The rings are on disk: a restarted manager comes back with generation 7.
        assert nodes[0].stop() == 0
        nodes[0].start()
        assert keyring(nodes[0])["Generation"] == 7 and primary(nodes[0]) == last
        all_see(nodes, 5)
        assert [d.stop() for d in nodes] == [0] * 5
    finally:
        for d in nodes:
            d.cleanup()


def probe(*args):
    return subprocess.run([PROBE] + list(args), capture_output=True, text=True, timeout=30)


def only_managers_may_send_a_keyring():
    nodes = []
    try:
        nodes = cluster(3, managers=2)
        m0, m1, worker = nodes
        before = primary(m0)
        # Only a manager coordinates a rotation.
        r = worker.cli("swarm", "rotate-gossip-key")
        assert r.returncode == 1 and "not a swarm manager" in r.stderr, r.stdout + r.stderr
        # The probe speaks with the worker's identity: stopped, so that its own
        # stream does not replace the probe's.
        assert worker.stop() == 0
        # A worker's authenticated stream sends a keyring: refused, no ACK, counted.
        out = probe("--forge-keyring", worker.data_dir, f"{ip(0)}:2377")
        assert out.returncode == 0 and "keyring: no ack" in out.stdout, out.stdout + out.stderr
        ring = keyring(m0)
        assert ring["Generation"] == 0 and primary(m0) == before, ring
        assert ring["Messages"]["Refused"] == 1, ring
        assert "keyring refused: only managers may send one" in m0.logs()
        # The same message over a manager's stream is adopted: the check is the
        # role. Of two managers the smaller id dials, so the probe speaks as that
        # one (stopped) to the other.
        dialer, target, target_ip = (m0, m1, ip(1)) if node_id(m0) < node_id(m1) else (m1, m0, ip(0))
        assert dialer.stop() == 0
        out = probe("--forge-keyring", dialer.data_dir, f"{target_ip}:2377")
        assert out.returncode == 0 and "keyring: acked generation=100" in out.stdout, out.stdout + out.stderr
        assert keyring(target)["Generation"] == 100 and primary(target) != before
        assert target.stop() == 0
    finally:
        for d in nodes:
            d.cleanup()


if __name__ == "__main__":
    only = sys.argv[1:]
    tests = [only_managers_may_send_a_keyring, rotation_reaches_every_node_and_gossip_keeps_working]
    sys.exit(Counter().run([t for t in tests if not only or t.__name__ in only]))
