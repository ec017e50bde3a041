"""Three daemons in three network namespaces joined by a bridge: iptables DROP
rules cut one node off, both sides must see the other dead; removing them must
heal the cluster. Then 10 % random loss on every node for 60 s must not make
anyone declare anyone dead.

Needs root and `ip netns` (CI runs as root). Without them the test FAILS: a
skip would hide a broken environment. It only sends traffic to 10.77.0.0/24
inside namespaces it creates, and deletes them (and stops its daemons) however
it ends: assertion, exception, SIGINT, SIGTERM or SIGHUP. Should the test
itself be killed with SIGKILL, its daemons die too (parent-death signal) but
its snp-<pid>-* namespaces stay until `ip netns del`.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, Daemon, request, ok  # noqa: E402

PID = os.getpid()
NAMES = "abc"
SUBNET = "10.77.0"
SWITCH = f"snp-{PID}-sw"

# Bounds, with headroom over what was measured. SWIM defaults: probe every
# 1 s; with 3 nodes no confirmation is expected, so suspicion is a flat 4 s;
# Lifeguard slows the isolated node's probes (up to 8x) as its own probes
# fail. Healing: dead members are gossiped to for 30 s, but only while there
# are updates left to spread, which lasts seconds; after that, a node with
# dead members tries a push-pull with one of them every 30 s (reconnect):
# C always does (2 dead >= 1 alive), A and B each with probability 1/2.
DETECT_MAJORITY_S = 30   # A and B see C dead (measured 5-7 s)
DETECT_MINORITY_S = 60   # C sees A and B dead (measured 5-25 s)
HEAL_S = 90              # three reconnect intervals (measured 0.2-22 s)
GOSSIP_TO_DEAD_S = 30    # swim's gossip_to_dead_ms default
LOSS_S = 60              # duration of the 10 % loss scenario
POLL_S = 0.2


def ns(x):
    return f"snp-{PID}-{x}"


def ip_of(x):
    return f"{SUBNET}.{NAMES.index(x) + 1}"


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def in_ns(x, *args, check=True):
    return sh("ip", "netns", "exec", ns(x), *args, check=check)


def iptables(x, *args):
    return in_ns(x, "iptables", "-w", *args)


# --- the network and the daemons, torn down however the run ends -------------

class World:
    def __init__(self):
        self.namespaces = []
        self.daemons = {}
        self.ids = {}
        self.dir = None

    def preflight(self):
        """Fails (never skips) when this machine cannot run the test."""
        if os.geteuid() != 0:
            raise SystemExit("FAIL test_partition: needs root for ip netns and iptables (euid "
                             f"{os.geteuid()}); CI runs it as root, a skip would hide a broken environment")
        for tool in ("ip", "iptables", "setpriv"):
            if shutil.which(tool) is None:
                raise SystemExit(f"FAIL test_partition: `{tool}` not found in PATH (install iproute2, iptables, "
                                 "util-linux)")
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"FAIL test_partition: `ip netns` is unavailable: {r.stderr.strip()}")

    def add_ns(self, name):
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def build(self):
        """A bridge in a switch namespace, one veth from it to each node namespace."""
        self.add_ns(SWITCH)
        sh("ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", SWITCH, "link", "set", "br0", "up")
        for x in NAMES:
            self.add_ns(ns(x))
            sh("ip", "-n", SWITCH, "link", "add", f"v{x}", "type", "veth", "peer", "name", "eth0",
               "netns", ns(x))
            sh("ip", "-n", SWITCH, "link", "set", f"v{x}", "master", "br0", "up")
            sh("ip", "-n", ns(x), "addr", "add", f"{ip_of(x)}/24", "dev", "eth0")
            sh("ip", "-n", ns(x), "link", "set", "eth0", "up")
        # Carrier comes up asynchronously: wait for it rather than for time.
        wait(lambda: all("state UP" in sh("ip", "-n", ns(x), "-o", "link", "show", "eth0").stdout for x in NAMES),
             10, "the veth links to come up")

    def start_daemons(self):
        self.dir = tempfile.mkdtemp(prefix="sn-part-")
        for x in NAMES:
            d = Daemon(workdir=os.path.join(self.dir, x),
                       prefix=["ip", "netns", "exec", ns(x), "setpriv", "--pdeathsig", "KILL", "--"],
                       extra_args=["--listen-addr", f"{ip_of(x)}:2377", "--gossip-addr", f"{ip_of(x)}:7946",
                                   "--advertise-addr", ip_of(x)])
            os.makedirs(d.dir)
            self.daemons[x] = d
            d.start()

    def teardown(self):
        # A second Ctrl-C or SIGTERM must not cut the cleanup short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for d in self.daemons.values():
            try:
                d.stop(timeout=10)
            except Exception:  # noqa: BLE001 -- a hung daemon is killed below
                pass
            d.cleanup()
        self.daemons = {}
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.namespaces = []
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


WORLD = World()


def _on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


# --- observing --------------------------------------------------------------

def wait(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def view(x):
    """{member letter: state} as daemon x sees it, from /swarmnode/members."""
    s = WORLD.daemons[x].connect()
    try:
        status, _, body = request(s, "GET", "/v1.41/swarmnode/members")
    finally:
        s.close()
    assert status == 200, body
    letter = {v: k for k, v in WORLD.ids.items()}
    return {letter.get(m["ID"], m["ID"]): m["State"] for m in json.loads(body)}


def views():
    return {x: view(x) for x in NAMES}


def all_alive(v):
    return all(v[x].get(y) == "alive" for x in NAMES for y in NAMES)


class Recorder:
    """Polls every view every POLL_S and remembers every (observer, member, state)
    seen and when each first appeared, relative to t0."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.seen = {}  # (observer, member, state) -> first time seen, seconds since t0
        self.polls = 0

    def poll(self):
        v = views()
        now = time.monotonic() - self.t0
        self.polls += 1
        for x, members in v.items():
            for y, state in members.items():
                self.seen.setdefault((x, y, state), now)
        return v

    def until(self, pred, timeout, what):
        deadline = self.t0 + timeout
        while True:
            v = self.poll()
            if pred(v):
                return time.monotonic() - self.t0
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; last views {v}")
            time.sleep(POLL_S)

    def first(self, x, y, state):
        return self.seen.get((x, y, state))

    def states(self, x, y):
        return sorted(s for (o, m, s) in self.seen if (o, m) == (x, y))


def log_marks():
    return {x: os.path.getsize(WORLD.daemons[x].log_path) for x in NAMES}


def log_lines_since(marks, x, needle):
    with open(WORLD.daemons[x].log_path, "rb") as f:
        f.seek(marks[x])
        return [line for line in f.read().decode(errors="replace").splitlines() if needle in line]


def show_logs_on_failure(test):
    """Prints each daemon's last log lines when the test fails: they are gone after teardown."""
    def run():
        try:
            test()
        except BaseException:
            for x, d in WORLD.daemons.items():
                with open(d.log_path, "rb") as f:
                    tail = f.read().decode(errors="replace").splitlines()[-25:]
                print(f"---- daemon {x} ({WORLD.ids.get(x, '?')}), last lines of its log:\n" + "\n".join(tail))
            raise
    run.__name__ = test.__name__
    return run


# --- scenarios ------------------------------------------------------------------

def cluster_forms():
    a, b, c = (WORLD.daemons[x] for x in NAMES)
    out = ok(a.cli("init", "--advertise-addr", ip_of("a")))
    assert "Swarm initialized: current node (" in out, out
    token = ok(a.cli("join-token", "-q", "worker")).strip()
    for d in (b, c):
        assert ok(d.cli("join", "--token", token, f"{ip_of('a')}:2377")) == \
            "This node joined a swarm as a worker.\n"
    for x in NAMES:
        s = WORLD.daemons[x].connect()
        _, _, body = request(s, "GET", "/v1.41/info")
        s.close()
        WORLD.ids[x] = json.loads(body)["Swarm"]["NodeID"]
    t = Recorder().until(all_alive, 30, "all three to see three alive")
    print(f"     formed: all three see three alive {t:.1f}s after the joins", flush=True)


def formed():
    assert len(WORLD.ids) == 3, "the cluster did not form"


def partition_detected_and_heals():
    """C's namespace drops everything from and to A and B: both sides see the
    other dead, A and B never lose each other. The cut then stays past
    gossip_to_dead_ms after the last death, so that nothing crosses any more
    when it ends: only the periodic reconnect can heal it, and must."""
    formed()
    Recorder().until(all_alive, 30, "all three alive before the partition")
    marks = log_marks()
    for peer in ("a", "b"):
        iptables("c", "-A", "INPUT", "-s", ip_of(peer), "-j", "DROP")
        iptables("c", "-A", "OUTPUT", "-d", ip_of(peer), "-j", "DROP")
    rec = Recorder()
    try:
        def detected(v):
            return v["a"].get("c") == "dead" and v["b"].get("c") == "dead" and \
                v["c"].get("a") == "dead" and v["c"].get("b") == "dead"
        rec.until(detected, max(DETECT_MAJORITY_S, DETECT_MINORITY_S), "both sides of the partition to see the other dead")
        majority = max(rec.first("a", "c", "dead"), rec.first("b", "c", "dead"))
        minority = max(rec.first("c", "a", "dead"), rec.first("c", "b", "dead"))
        print(f"     detection: A sees C dead after {rec.first('a', 'c', 'dead'):.1f}s, "
              f"B after {rec.first('b', 'c', 'dead'):.1f}s; C sees A dead after {rec.first('c', 'a', 'dead'):.1f}s, "
              f"B after {rec.first('c', 'b', 'dead'):.1f}s", flush=True)
        assert majority <= DETECT_MAJORITY_S, f"A and B took {majority:.1f}s to see C dead (bound {DETECT_MAJORITY_S}s)"
        assert minority <= DETECT_MINORITY_S, f"C took {minority:.1f}s to see A and B dead (bound {DETECT_MINORITY_S}s)"
        # The partition lasts a chosen time; it is watched, not slept through:
        # every view is polled and must stay as it is.
        hold_until = time.monotonic() + GOSSIP_TO_DEAD_S + 3
        while time.monotonic() < hold_until:
            v = rec.poll()
            assert detected(v), f"the partition view changed while C was still cut off: {v}"
            time.sleep(POLL_S)
    finally:
        # Heal: the rules go whatever happened above, so the next scenario starts clean.
        iptables("c", "-F", "INPUT")
        iptables("c", "-F", "OUTPUT")
    held = time.monotonic() - rec.t0
    # The majority never lost each other.
    for x, y in (("a", "b"), ("b", "a")):
        assert rec.states(x, y) == ["alive"], f"{x} saw {y} as {rec.states(x, y)} during the partition"
        dead = [ln for ln in log_lines_since(marks, x, "member dead") if f"node={WORLD.ids[y]}" in ln]
        assert not dead, f"{x} logged {y} dead: {dead}"
    heal = Recorder()
    took = heal.until(all_alive, HEAL_S, "all three to see three alive after the rules were removed")
    print(f"     heal: partition held {held:.1f}s; all three see three alive {took:.1f}s after the rules "
          f"were removed", flush=True)
    assert took <= HEAL_S, f"healing took {took:.1f}s (bound {HEAL_S}s)"


def no_false_deaths_at_10_percent_loss():
    formed()
    Recorder().until(all_alive, 30, "all three alive before the loss starts")
    marks = log_marks()
    for x in NAMES:
        iptables(x, "-A", "INPUT", "-s", f"{SUBNET}.0/24", "-m", "statistic", "--mode", "random",
                 "--probability", "0.1", "-j", "DROP")
    rec = Recorder()
    try:
        while time.monotonic() - rec.t0 < LOSS_S:
            rec.poll()
            time.sleep(POLL_S)
        counters = {x: iptables(x, "-L", "INPUT", "-v", "-n", "-x").stdout.splitlines()[2].split()[:2]
                    for x in NAMES}
    finally:
        for x in NAMES:
            iptables(x, "-F", "INPUT")
    suspects = {x: len(log_lines_since(marks, x, "member suspect")) for x in NAMES}
    print(f"     loss: {rec.polls} polls over {LOSS_S}s; packets/bytes dropped per node {counters}; "
          f"suspicions logged {suspects}; states seen "
          + ", ".join(f"{x}->{y}:{'/'.join(rec.states(x, y))}" for x in NAMES for y in NAMES if x != y), flush=True)
    dead_seen = sorted((x, y) for (x, y, s) in rec.seen if s == "dead")
    assert not dead_seen, f"declared dead under 10 % loss (observer, member): {dead_seen}"
    for x in NAMES:
        dead = log_lines_since(marks, x, "member dead")
        assert not dead, f"{x} logged deaths under 10 % loss: {dead}"
    assert all_alive(views())


def main():
    WORLD.preflight()
    atexit.register(WORLD.teardown)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    started = time.monotonic()
    try:
        WORLD.build()
        WORLD.start_daemons()
        rc = Counter().run([show_logs_on_failure(t) for t in
                            (cluster_forms, partition_detected_and_heals, no_false_deaths_at_10_percent_loss)])
    finally:
        WORLD.teardown()
    print(f"wall time {time.monotonic() - started:.0f}s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
