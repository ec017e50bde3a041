#!/usr/bin/env python3
"""Raft benchmark: three swarmnode managers against a three-member etcd 3.4
cluster, on loopback, on the same disk, with the same payload.

  commit latency   one client, sequential writes: p50 / p99 of the whole request
  throughput       C clients writing at once: writes per second
  failover         kill -9 of the leader until a write is accepted by another
                   member (median of R runs)

A swarmnode write is POST /services/create of a service with 0 replicas (one
Raft entry: a store transaction); an etcd write is a v3 put of the same JSON
bytes through etcd's HTTP gateway. Both go to the leader, both fsync every
commit (the default of each). Run by hand, as root:

  apt-get install etcd-server etcd-client
  ./scripts/build.sh && python3 bench/raft.py --writes 500 --clients 32 --failovers 5
"""
import argparse
import base64
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

IPS = ["127.0.0.241", "127.0.0.242", "127.0.0.243"]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def payload(i):
    return {"Name": f"bench-{i}", "Labels": {"bench": "raft", "pad": "x" * 64},
            "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Args": ["sleep", "3600"]}},
            "Mode": {"Replicated": {"Replicas": 0}}}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Cluster:
    """Three members of one system: its processes and the ids the writes use."""

    def __init__(self, binary, root):
        self.bin, self.root, self.procs = binary, root, [None] * 3
        self.counter = 0
        self.lock = threading.Lock()

    def next_id(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def kill(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def pids(self):
        return [p.pid for p in self.procs if p and p.poll() is None]

    def stop(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.terminate()
                p.wait(10)


class Swarmnode(Cluster):
    name = "swarmnode"

    def __init__(self, binary, root):
        super().__init__(binary, root)
        self.sock = [os.path.join(root, f"s{i}.sock") for i in range(3)]

    def start_member(self, i):
        data = os.path.join(self.root, f"d{i}")
        log = open(os.path.join(self.root, f"log{i}"), "ab")
        self.procs[i] = subprocess.Popen(
            [self.bin, "daemon", "--data-dir", data, "--socket", self.sock[i], "--listen-addr", f"{IPS[i]}:2377",
             "--gossip-addr", f"{IPS[i]}:7946", "--advertise-addr", IPS[i], "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.sock[i]), 10, "the daemon socket")

    def cli(self, i, *args):
        return subprocess.run([self.bin, "-H", "unix://" + self.sock[i]] + list(args), check=True,
                              capture_output=True, text=True).stdout

    def start(self):
        for i in range(3):
            self.start_member(i)
        self.cli(0, "init", "--advertise-addr", IPS[0])
        token = self.cli(0, "join-token", "-q", "manager").strip()
        for i in (1, 2):
            self.cli(i, "join", "--token", token, f"{IPS[0]}:2377")

    def info(self, i):
        c = UnixHTTPConnection(self.sock[i], timeout=2)
        c.request("GET", "/v1.41/info")
        return json.loads(c.getresponse().read())["Swarm"]

    def leader(self, alive=(0, 1, 2)):
        ids = {self.info(i)["NodeID"]: i for i in alive}
        leader = self.info(alive[0]).get("Raft", {}).get("Leader", "")
        return ids.get(leader)

    def connect(self, i):
        return UnixHTTPConnection(self.sock[i])

    def write(self, conn, i):
        body = json.dumps(payload(i))
        conn.request("POST", "/v1.41/services/create", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status == 201 or r.status == 200


class Etcd(Cluster):
    name = "etcd"

    def __init__(self, binary, root):
        super().__init__(binary, root)
        self.cluster = ",".join(f"m{i}=http://{IPS[i]}:2380" for i in range(3))

    def start_member(self, i, state="new"):
        log = open(os.path.join(self.root, f"etcd{i}.log"), "ab")
        self.procs[i] = subprocess.Popen(
            [self.bin, "--name", f"m{i}", "--data-dir", os.path.join(self.root, f"e{i}"),
             "--listen-client-urls", f"http://{IPS[i]}:2379", "--advertise-client-urls", f"http://{IPS[i]}:2379",
             "--listen-peer-urls", f"http://{IPS[i]}:2380", "--initial-advertise-peer-urls", f"http://{IPS[i]}:2380",
             "--initial-cluster", self.cluster, "--initial-cluster-state", state, "--log-level", "error"],
            stdout=log, stderr=subprocess.STDOUT)

    def start(self):
        for i in range(3):
            self.start_member(i)
        wait_for(lambda: self.leader() is not None, 30, "an etcd leader")

    def status(self, i):
        c = http.client.HTTPConnection(IPS[i], 2379, timeout=2)
        c.request("POST", "/v3/maintenance/status", "{}")
        return json.loads(c.getresponse().read())

    def leader(self, alive=(0, 1, 2)):
        for i in alive:
            st = self.status(i)
            if st.get("leader") and st["leader"] == st["header"]["member_id"]:
                return i
        return None

    def connect(self, i):
        return http.client.HTTPConnection(IPS[i], 2379, timeout=10)

    def write(self, conn, i):
        value = json.dumps(payload(i)).encode()
        body = json.dumps({"key": base64.b64encode(f"bench-{i}".encode()).decode(),
                           "value": base64.b64encode(value).decode()})
        conn.request("POST", "/v3/kv/put", body)
        r = conn.getresponse()
        r.read()
        return r.status == 200


def latency(system, writes):
    leader = system.leader()
    conn = system.connect(leader)
    times = []
    for _ in range(writes):
        t = time.monotonic()
        if not system.write(conn, system.next_id()):
            raise RuntimeError(f"{system.name}: a write failed")
        times.append((time.monotonic() - t) * 1000)
    return percentile(times, 50), percentile(times, 99)


def throughput(system, clients, per_client):
    leader = system.leader()
    errors = []

    def run():
        conn = system.connect(leader)
        for _ in range(per_client):
            if not system.write(conn, system.next_id()):
                errors.append(1)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - t
    if errors:
        raise RuntimeError(f"{system.name}: {len(errors)} writes failed")
    return clients * per_client / elapsed


def failover(system):
    leader = system.leader()
    others = [i for i in range(3) if i != leader]
    system.kill(leader)
    t = time.monotonic()
    while time.monotonic() - t < 30:
        for i in others:
            try:
                conn = system.connect(i)
                conn.timeout = 0.5
                if system.write(conn, system.next_id()):
                    took = time.monotonic() - t
                    if system.name == "etcd":
                        system.start_member(leader, "existing")
                    else:
                        system.start_member(leader)
                    wait_for(lambda: system.leader() is not None, 30, "a leader after the restart")
                    return took
            except (OSError, http.client.HTTPException):
                pass
        time.sleep(0.005)
    raise RuntimeError(f"{system.name}: no write accepted within 30 s of the kill")


def run(system, args):
    system.start()
    time.sleep(1)
    out = {}
    out["p50"], out["p99"] = latency(system, args.writes)
    out["throughput"] = throughput(system, args.clients, max(1, args.writes // args.clients * 4))
    out["rss_mb"] = statistics.mean(rss_kb(p) for p in system.pids()) / 1024
    runs = [failover(system) for _ in range(args.failovers)]
    out["failover"] = statistics.median(runs)
    out["failover_runs"] = runs
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--swarmnode", default="build/swarmnode")
    ap.add_argument("--etcd", default="etcd")
    ap.add_argument("--writes", type=int, default=500)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--failovers", type=int, default=5)
    ap.add_argument("--dir", default="/var/tmp", help="where the data dirs go (a real disk: fsync matters)")
    args = ap.parse_args()
    results = {}
    for cls, binary in ((Swarmnode, args.swarmnode), (Etcd, args.etcd)):
        if shutil.which(binary) is None and not os.path.exists(binary):
            results[cls.name] = f"n/a ({binary} not found)"
            continue
        root = tempfile.mkdtemp(prefix=f"raftbench-{cls.name}-", dir=args.dir)
        system = cls(binary, root)
        try:
            results[cls.name] = run(system, args)
        except Exception as e:  # noqa: BLE001 -- report it in the table
            results[cls.name] = f"n/a ({e})"
        finally:
            system.stop()
            shutil.rmtree(root, ignore_errors=True)
    etcd_version = subprocess.run([args.etcd, "--version"], capture_output=True, text=True).stdout.split("\n")[0] \
        if shutil.which(args.etcd) else "absent"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"# Raft: swarmnode vs etcd, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"Machine: {cpu}, {os.cpu_count()} cores, kernel {platform.release()}; {etcd_version}; "
          f"load average {os.getloadavg()[0]:.2f}; command: {' '.join(sys.argv)}\n")
    print("| | swarmnode | etcd |\n|---|---|---|")
    rows = [("commit latency p50 (ms)", "p50", "{:.2f}"), ("commit latency p99 (ms)", "p99", "{:.2f}"),
            (f"throughput, {args.clients} clients (writes/s)", "throughput", "{:.0f}"),
            ("failover: kill -9 to first accepted write (s, median)", "failover", "{:.2f}"),
            ("RSS per member (MiB)", "rss_mb", "{:.1f}")]
    for label, key, fmt in rows:
        cells = [fmt.format(r[key]) if isinstance(r, dict) else r for r in (results["swarmnode"], results["etcd"])]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    for name, r in results.items():
        if isinstance(r, dict):
            print(f"\n{name} failover runs (s): " + ", ".join(f"{x:.2f}" for x in r["failover_runs"]))


if __name__ == "__main__":
    main()
