#!/usr/bin/env python3
"""Services benchmark (issue 5): swarmnode's services against Docker Swarm,
same machine, same run, same engine (a dockerd) and the same image.

Systems (each on fresh namespaces joined by a private 10.231.0.0/24 segment):
  swarmnode-exec    swarmnode daemons, --runtime exec (tasks are plain processes)
  swarmnode-engine  swarmnode daemons, --runtime engine, each against its own
                    dockerd that is NOT in swarm mode (same flags as below)
  docker-swarm      dockerd in swarm mode (--iptables=false --bridge=none
                    --storage-driver=vfs), one per node

Scenarios:
  1. create a 50-replica service: time until 50 tasks run (poll /tasks every 50 ms)
  2. scale it 50 -> 200: time until 200 run
  3. daemon RSS with 100 tasks running: on a fresh node, and on the node of
     scenario 2 scaled down to 100, then after --churn-cycles of 100 -> 200 -> 100
  4. reschedule: 1 manager + 2 workers, a fresh N-replica service per run,
     kill -9 of a worker's daemon, time until N run on the two others
     (--repeats runs: median, min, max)
Scenarios 1-3 run on a single node. Services are created and scaled through
the Docker Engine API (POST /services/create, /services/ID/update) and
observed through GET /tasks, on both systems, with the same client.

Run as root (namespaces, dockerd):  python3 bench/services.py [--quick]
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _netns  # noqa: E402
from _netns import Lan, StepError, log, proc_status_kib, run  # noqa: E402
from membership import machine_info  # noqa: E402
from raft import UnixHTTPConnection  # noqa: E402

IMAGE = "localhost/busybox:latest"
API = "/v1.41"
SUBNET = "10.231.0.%d"
SWARM_PORT = 2377
TERMINAL = {"complete", "shutdown", "failed", "rejected", "remove", "orphaned"}
SYSTEMS = ("swarmnode-exec", "swarmnode-engine", "docker-swarm")


# ------------------------------------------------------------------ the API client

class Api:
    """The Docker Engine API on a unix socket (swarmnode's control socket or a dockerd's)."""

    def __init__(self, path):
        self.path = path

    def call(self, method, path, body=None, timeout=30, raw=None, ctype="application/json"):
        conn = UnixHTTPConnection(self.path, timeout=timeout)
        try:
            data = raw if raw is not None else (json.dumps(body) if body is not None else None)
            conn.request(method, API + path, data, {"Content-Type": ctype} if data is not None else {})
            r = conn.getresponse()
            text = r.read()
        except (OSError, http.client.HTTPException) as e:
            raise StepError("%s %s on %s: %s" % (method, path, self.path, e))
        finally:
            conn.close()
        try:
            obj = json.loads(text) if text.strip() and ctype == "application/json" else text
        except ValueError:
            obj = text.decode(errors="replace")
        if r.status >= 300:
            raise StepError("%s %s on %s: HTTP %d: %s" % (method, path, self.path, r.status, str(obj)[:300]))
        return obj

    def get(self, path, timeout=30):
        return self.call("GET", path, timeout=timeout)

    def answers(self):
        try:
            self.call("GET", "/_ping", timeout=2, ctype="text/plain")
            return True
        except StepError:
            return False


def wait_until(pred, timeout, what, interval=0.1):
    """Polls pred until it returns a true value; StepError naming what otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except StepError as e:
            last = e
        time.sleep(interval)
    raise StepError("timed out after %g s waiting for %s%s" % (timeout, what, " (last error: %s)" % last if last else ""))


def tasks_filter(service, desired_running=True):
    f = {"service": [service]}
    if desired_running:
        f["desired-state"] = ["running"]
    return "/tasks?filters=" + urllib.parse.quote(json.dumps(f))


def running_by_node(api, service):
    """{node id: running tasks} over the service's tasks desired running."""
    out = {}
    for t in api.get(tasks_filter(service)):
        if t.get("Status", {}).get("State") == "running":
            out[t.get("NodeID", "")] = out.get(t.get("NodeID", ""), 0) + 1
    return out


def state_summary(api, service):
    """Histogram of the service's task states and the first task error, for failure messages."""
    counts, err = {}, ""
    for t in api.get(tasks_filter(service, desired_running=False)):
        key = "%s->%s" % (t.get("Status", {}).get("State"), t.get("DesiredState"))
        counts[key] = counts.get(key, 0) + 1
        err = err or t.get("Status", {}).get("Err") or ""
    return "%s%s" % (counts, "; first error: %s" % err if err else "")


def settled(api, service):
    """True once no task of service is on its way up or down (each running or terminal)."""
    for t in api.get(tasks_filter(service, desired_running=False)):
        state = t.get("Status", {}).get("State")
        if t.get("DesiredState") == "running" and state != "running":
            return False
        if t.get("DesiredState") != "running" and state not in TERMINAL:
            return False
    return True


def time_until_running(api, service, want, t0, timeout, interval, exclude_node=None):
    """Polls /tasks every interval from t0 until want tasks run (on nodes other
    than exclude_node). Returns (seconds, poll gap at result, polls)."""
    polls, last = 0, t0
    while True:
        by_node = running_by_node(api, service)
        now = time.monotonic()
        polls += 1
        gap, last = now - last, now
        n = sum(v for k, v in by_node.items() if k != exclude_node)
        if n >= want:
            return {"s": now - t0, "gap": gap, "polls": polls}
        if now - t0 > timeout:
            raise StepError("%d of %d tasks of %s running %g s after the start; %s"
                            % (n, want, service, timeout, state_summary(api, service)))
        time.sleep(max(0.0, t0 + polls * interval - time.monotonic()))


# ------------------------------------------------------------------ dockerd

def busybox_tarball(workdir):
    """The image: busybox-static with the applets the tasks use, as a tar (like tests/engine/setup.sh)."""
    root = os.path.join(workdir, "rootfs")
    for d in ("bin", "tmp", "etc"):
        os.makedirs(os.path.join(root, d))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for applet in ("sh", "sleep", "true"):
        os.symlink("busybox", os.path.join(root, "bin", applet))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/:/bin/sh\n")
    tar = os.path.join(workdir, "busybox.tar")
    run(["tar", "-C", root, "-cf", tar, "."])
    shutil.rmtree(root)
    return tar


class Dockerd:
    """One dockerd inside a namespace, with everything under root."""

    def __init__(self, ns, root, logdir, tag):
        self.ns, self.root, self.tag = ns, root, tag
        self.sock = os.path.join(root, "d.sock")
        self.log = os.path.join(logdir, tag + "-dockerd.log")
        self.api = Api(self.sock)
        self.proc = None
        conf = os.path.join(root, "daemon.json")
        os.makedirs(root, exist_ok=True)
        with open(conf, "w") as f:
            f.write("{}\n")
        self.argv = ["dockerd", "--config-file", conf, "--data-root", os.path.join(root, "data"),
                     "--exec-root", os.path.join(root, "exec"), "--pidfile", os.path.join(root, "dockerd.pid"),
                     "-H", "unix://" + self.sock, "--iptables=false", "--bridge=none", "--storage-driver=vfs"]

    def start(self, timeout=90):
        if os.path.exists(self.sock) and not self.api.answers():
            os.unlink(self.sock)
        self.proc = self.ns.spawn(self.argv, self.log, nsenter=True)
        wait_until(lambda: self.proc.poll() is not None or self.api.answers(), timeout, "dockerd " + self.tag)
        if self.proc.poll() is not None:
            raise StepError("dockerd %s exited with %s (log %s)" % (self.tag, self.proc.returncode, self.log))

    def import_image(self, tarball):
        with open(tarball, "rb") as f:
            data = f.read()
        repo, tag = IMAGE.rsplit(":", 1)
        self.api.call("POST", "/images/create?fromSrc=-&repo=%s&tag=%s" % (repo, tag), raw=data,
                      ctype="application/x-tar", timeout=120)
        self.api.get("/images/%s/json" % IMAGE)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def containerd_pid(self):
        for pid in _child_pids(self.proc.pid):
            if _netns.proc_comm(pid) == "containerd":
                return pid
        return None

    def teardown(self):
        """Every container removed, dockerd stopped, then anything of ours left
        (containerd, shims, container processes) killed by pid, mounts undone."""
        if self.proc is not None and self.proc.poll() is None and self.api.answers():
            try:
                self.api.call("POST", "/swarm/leave?force=1", timeout=30)
            except StepError:
                pass  # not in a swarm
            try:
                ids = [c["Id"] for c in self.api.get("/containers/json?all=1", timeout=60)]
                with concurrent.futures.ThreadPoolExecutor(8) as ex:
                    list(ex.map(lambda i: _ignore(self.api.call, "DELETE", "/containers/%s?force=1&v=1" % i,
                                                  timeout=60), ids))
            except StepError as e:
                log("%s: could not remove its containers through the API: %s" % (self.tag, e))
        if self.proc is not None:
            _netns.stop_procs([self.proc], grace=20)
        kill_leftovers(self.root)


def _ignore(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except StepError:
        return None


def _child_pids(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            if int(st[st.rindex(")") + 2:].split()[1]) == ppid:
                out.append(int(d))
    return out


def kill_leftovers(root):
    """SIGKILL, by pid, every process whose command line names root (containerd,
    its shims) or whose cgroup names one of root's containers; then unmount
    whatever is still mounted under root."""
    cdir = os.path.join(root, "data", "containers")
    ids = os.listdir(cdir) if os.path.isdir(cdir) else []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().decode(errors="replace")
            with open("/proc/%s/cgroup" % d) as f:
                cg = f.read()
        except OSError:
            continue
        if root in cmd or any(i in cg for i in ids):
            try:
                os.kill(int(d), signal.SIGKILL)
            except ProcessLookupError:
                pass
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for mp in sorted((p for p in points if p.startswith(root + "/")), key=len, reverse=True):
        run(["umount", "-l", mp], check=False)


# ------------------------------------------------------------------ the nodes of one system

class Node:
    def __init__(self, index, ns, ip, root):
        self.index, self.ns, self.ip, self.root = index, ns, ip, root
        self.dockerd = None
        self.daemon = None      # swarmnode daemon Popen
        self.sock = None        # the API the runner polls
        self.node_id = None


class Cluster:
    """n nodes of one system on a fresh segment: node 0 the only manager."""

    def __init__(self, system, n, args, workdir, tarball, tag):
        self.system, self.n, self.args = system, n, args
        self.workdir, self.tarball, self.tag = workdir, tarball, tag
        self.lan = None
        self.nodes = []

    def api(self, i=0):
        return Api(self.nodes[i].sock)

    def start(self):
        prefix = "bsvc%d%s" % (os.getpid() % 100000, self.tag)
        self.lan = Lan(prefix)
        for i in range(self.n):
            ip = SUBNET % (i + 1)
            ns = self.lan.add("%s-n%d" % (prefix, i), ip + "/24")
            node = Node(i, ns, ip, os.path.join(self.workdir, "%s-%s-n%d" % (self.system, self.tag, i)))
            os.makedirs(node.root)
            self.nodes.append(node)
        # The dockerds start one after another (each takes a few seconds of CPU).
        for node in self.nodes:
            if self.system != "swarmnode-exec":
                node.dockerd = Dockerd(node.ns, node.root, self.args.logdir,
                                       "%s-%s-n%d" % (self.system, self.tag, node.index))
                node.dockerd.start()
                node.dockerd.import_image(self.tarball)
            if self.system.startswith("swarmnode"):
                self._start_swarmnode(node)
            else:
                node.sock = node.dockerd.sock
        self._form_swarm()
        wait_until(lambda: self.ready_nodes() == self.n, 60, "%d ready nodes" % self.n)

    def _swarmnode_argv(self, node):
        argv = [self.args.swarmnode, "daemon", "--data-dir", os.path.join(node.root, "sn-data"),
                "--socket", node.sock, "--listen-addr", "%s:%d" % (node.ip, SWARM_PORT),
                "--gossip-addr", "%s:7946" % node.ip, "--advertise-addr", node.ip]
        if self.system == "swarmnode-engine":
            return argv + ["--runtime", "engine", "--engine-socket", node.dockerd.sock]
        return argv + ["--runtime", "exec"]

    def _start_swarmnode(self, node):
        node.sock = os.path.join(node.root, "sn.sock")
        if os.path.exists(node.sock):
            os.unlink(node.sock)
        logfile = os.path.join(self.args.logdir, "%s-%s-n%d-swarmnode.log" % (self.system, self.tag, node.index))
        node.daemon = node.ns.spawn(self._swarmnode_argv(node), logfile, nsenter=True)
        wait_until(lambda: node.daemon.poll() is not None or Api(node.sock).answers(), 30,
                   "swarmnode daemon %d" % node.index)
        if node.daemon.poll() is not None:
            raise StepError("swarmnode daemon %d exited with %s; log %s"
                            % (node.index, node.daemon.returncode, logfile))

    def _form_swarm(self):
        m = self.nodes[0]
        if self.system.startswith("swarmnode"):
            run(m.ns.nsenter_argv([self.args.swarmnode, "-H", "unix://" + m.sock, "init",
                                   "--advertise-addr", m.ip]), timeout=60)
            token = run([self.args.swarmnode, "-H", "unix://" + m.sock, "join-token", "-q", "worker"]).stdout.strip()
            for node in self.nodes[1:]:
                run(node.ns.nsenter_argv([self.args.swarmnode, "-H", "unix://" + node.sock, "join", "--token",
                                          token, "%s:%d" % (m.ip, SWARM_PORT)]), timeout=60)
        else:
            addr = "%s:%d" % (m.ip, SWARM_PORT)
            self.api(0).call("POST", "/swarm/init", {"ListenAddr": addr, "AdvertiseAddr": m.ip}, timeout=60)
            token = self.api(0).get("/swarm")["JoinTokens"]["Worker"]
            for node in self.nodes[1:]:
                self.api(node.index).call("POST", "/swarm/join", {
                    "ListenAddr": "%s:%d" % (node.ip, SWARM_PORT), "AdvertiseAddr": node.ip,
                    "RemoteAddrs": [addr], "JoinToken": token}, timeout=60)
        for node in self.nodes:
            node.node_id = self.api(node.index).get("/info")["Swarm"]["NodeID"]

    def ready_nodes(self):
        return sum(1 for n in self.api(0).get("/nodes") if n.get("Status", {}).get("State") == "ready")

    def daemon_pid(self, i):
        node = self.nodes[i]
        return (node.daemon or node.dockerd.proc).pid

    def kill9(self, i):
        node = self.nodes[i]
        if node.daemon is not None:
            node.daemon.send_signal(signal.SIGKILL)
            node.daemon.wait(10)
        else:
            node.dockerd.kill9()

    def restart(self, i):
        node = self.nodes[i]
        if node.daemon is not None:
            self._start_swarmnode(node)
        else:
            node.dockerd.start()

    def task_spec(self):
        if self.system == "swarmnode-exec":
            return {"ContainerSpec": {"Image": "/bin/sleep", "Args": ["3600"]}}
        return {"ContainerSpec": {"Image": IMAGE, "Args": ["sleep", "3600"]}}

    def create(self, name, replicas):
        """POSTs the service; returns the monotonic time just before the request."""
        spec = {"Name": name, "TaskTemplate": self.task_spec(), "Mode": {"Replicated": {"Replicas": replicas}}}
        t0 = time.monotonic()
        self.api(0).call("POST", "/services/create", spec)
        return t0

    def scale(self, name, replicas):
        svc = self.api(0).get("/services/" + name)
        spec = svc["Spec"]
        spec["Mode"]["Replicated"]["Replicas"] = replicas
        t0 = time.monotonic()
        self.api(0).call("POST", "/services/%s/update?version=%d" % (svc["ID"], svc["Version"]["Index"]), spec)
        return t0

    def remove(self, name):
        self.api(0).call("DELETE", "/services/" + name)

    def teardown(self):
        for node in self.nodes:
            if node.daemon is not None:
                _netns.stop_procs([node.daemon], grace=10)
        for node in self.nodes:
            if node.dockerd is not None:
                node.dockerd.teardown()
        _netns.cleanup_all()
        for node in self.nodes:
            kill_leftovers(node.root)
            shutil.rmtree(node.root, ignore_errors=True)


# ------------------------------------------------------------------ scenarios

def on_fresh_cluster(system, n, tag, what, args, workdir, tarball, steps, res):
    """Runs steps(cluster, manager api, res) on a fresh n-node cluster of system.
    A failed step leaves its message in res["error"]; the cluster always goes."""
    c = Cluster(system, n, args, workdir, tarball, tag)
    try:
        log("[%s] %s: starting %d node(s)" % (system, what, n))
        c.start()
        steps(c, c.api(0), res)
    except StepError as e:
        res["error"] = str(e)
        log("[%s] %s failed: %s" % (system, what, e))
    finally:
        c.teardown()
    return res


def single_node(system, args, workdir, tarball):
    """Scenarios 1-3 on one node: create 50, scale to 200, RSS at 100."""
    def steps(c, api, res):
        t0 = c.create("bench", args.create)
        res["create"] = time_until_running(api, "bench", args.create, t0, args.timeout, args.poll_interval)
        log("[%s] %d running %.2f s after create" % (system, args.create, res["create"]["s"]))
        wait_until(lambda: settled(api, "bench"), args.timeout, "the service to settle")
        t0 = c.scale("bench", args.scale)
        res["scale"] = time_until_running(api, "bench", args.scale, t0, args.timeout, args.poll_interval)
        log("[%s] %d running %.2f s after scale" % (system, args.scale, res["scale"]["s"]))
        res["rss"] = scale_and_measure(c, api, args.rss_tasks)
        log("[%s] RSS with %d tasks: %s" % (system, args.rss_tasks, res["rss"]))
        res["churn"] = []
        for cycle in range(args.churn_cycles):
            scale_and_measure(c, api, args.scale)
            res["churn"].append(scale_and_measure(c, api, args.rss_tasks))
            log("[%s] churn cycle %d: %s" % (system, cycle + 1, res["churn"][-1]))

    def scale_and_measure(c, api, replicas):
        """Scales to replicas, waits until they run and nothing else is in flight,
        then reads the daemons' memory and counts the tasks the manager keeps."""
        c.scale("bench", replicas)
        wait_until(lambda: sum(running_by_node(api, "bench").values()) == replicas and settled(api, "bench"),
                   args.timeout, "%d running tasks and nothing else in flight" % replicas)
        time.sleep(args.settle)     # the measurement window itself, not a synchronisation
        out = rss_of(c, 0)
        out["tasks"] = sum(running_by_node(api, "bench").values())
        out["tasks_kept"] = len(api.get(tasks_filter("bench", desired_running=False)))
        return out
    return on_fresh_cluster(system, 1, "s", "single node", args, workdir, tarball, steps, {})


def rss_of(c, i):
    """VmRSS (and peak VmHWM) of node i's daemons, in KiB."""
    node = c.nodes[i]
    pids = {}
    if node.daemon is not None:
        pids["swarmnode"] = node.daemon.pid
    if node.dockerd is not None:
        pids["dockerd"] = node.dockerd.proc.pid
        pids["containerd"] = node.dockerd.containerd_pid()
    out = {}
    for name, pid in pids.items():
        if pid:
            out[name + "_kib"] = proc_status_kib(pid, "VmRSS")
            out[name + "_hwm_kib"] = proc_status_kib(pid, "VmHWM")
    return out


def rss_fresh(system, args, workdir, tarball):
    """RSS on a fresh node whose first and only service has args.rss_tasks replicas
    (no earlier peak of 200 tasks in the daemon's heap), and before that service."""
    def steps(c, api, res):
        time.sleep(args.settle)     # the measurement window itself, not a synchronisation
        res.update({"idle_" + k: v for k, v in rss_of(c, 0).items()})
        t0 = c.create("mem", args.rss_tasks)
        res["create"] = time_until_running(api, "mem", args.rss_tasks, t0, args.timeout, args.poll_interval)
        res["s"] = res["create"]["s"]
        wait_until(lambda: settled(api, "mem"), args.timeout, "the service to settle")
        time.sleep(args.settle)     # the measurement window itself, not a synchronisation
        res.update(rss_of(c, 0))
        res["tasks"] = sum(running_by_node(api, "mem").values())
        log("[%s] RSS with %d tasks on a fresh node: %s" % (system, args.rss_tasks, res))
    return on_fresh_cluster(system, 1, "m", "fresh node for RSS", args, workdir, tarball, steps, {})


def engine_floor(args, workdir, tarball):
    """The engine alone, for reference: a dockerd (not in swarm mode) asked directly
    to create and start args.create containers, all requests at once, then
    args.scale - args.create more (what scenarios 1 and 2 ask of the engine, with
    no orchestrator; not a lower bound: another concurrency may be faster)."""
    res, d = {}, None
    root = os.path.join(workdir, "engine-floor")
    try:
        log("[engine alone] starting a dockerd")
        lan = Lan("bsvc%dfloor" % (os.getpid() % 100000))
        ns = lan.add("bsvc%dfloor-n0" % (os.getpid() % 100000), SUBNET % 1 + "/24")
        d = Dockerd(ns, root, args.logdir, "engine-floor")
        d.start()
        d.import_image(tarball)
        res["create"] = {"s": start_containers(d.api, range(args.create))}
        res["scale"] = {"s": start_containers(d.api, range(args.create, args.scale))}
        log("[engine alone] %d containers in %.2f s, %d more in %.2f s"
            % (args.create, res["create"]["s"], args.scale - args.create, res["scale"]["s"]))
    except StepError as e:
        res["error"] = str(e)
        log("[engine alone] failed: %s" % e)
    finally:
        if d is not None:
            d.teardown()
        _netns.cleanup_all()
        shutil.rmtree(root, ignore_errors=True)
    return res


def start_containers(api, indices):
    """Creates and starts one container per index, every request at once; the seconds it took."""
    def one(i):
        c = api.call("POST", "/containers/create?name=floor%d" % i, {"Image": IMAGE, "Cmd": ["sleep", "3600"]},
                     timeout=300)
        api.call("POST", "/containers/%s/start" % c["Id"], timeout=300)
    indices = list(indices)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(indices)) as ex:
        list(ex.map(one, indices))
    return time.monotonic() - t0


def reschedule(system, args, workdir, tarball):
    """Scenario 4: 1 manager + 2 workers, kill -9 of a worker, R times."""
    def steps(c, api, res):
        for r in range(args.repeats):
            res["runs"].append(kill_and_wait(c, api, r))

    def kill_and_wait(c, api, r):
        name = "resched%d" % r
        t0 = c.create(name, args.resched_replicas)
        time_until_running(api, name, args.resched_replicas, t0, args.timeout, args.poll_interval)
        spread = running_by_node(api, name)
        workers = [n for n in c.nodes[1:] if spread.get(n.node_id)]
        if not workers:
            raise StepError("no task of %s on a worker: %s" % (name, spread))
        victim = workers[r % len(workers)]
        log("[%s] run %d: spread %s, killing node %d (%d tasks)"
            % (system, r + 1, sorted(spread.values()), victim.index, spread[victim.node_id]))
        c.kill9(victim.index)
        t0 = time.monotonic()
        got = time_until_running(api, name, args.resched_replicas, t0, args.timeout, args.poll_interval,
                                 exclude_node=victim.node_id)
        got["moved"] = spread[victim.node_id]
        log("[%s] run %d: %d tasks running elsewhere %.2f s after kill -9"
            % (system, r + 1, args.resched_replicas, got["s"]))
        c.restart(victim.index)
        wait_until(lambda: c.ready_nodes() == 3, args.timeout, "node %d ready again" % victim.index)
        c.remove(name)
        return got
    res = {"runs": [], "topology": "1 manager + 2 workers", "replicas": args.resched_replicas}
    return on_fresh_cluster(system, 3, "r", "reschedule", args, workdir, tarball, steps, res)


# ------------------------------------------------------------------ report

def fmt_s(v):
    return "%.2f s" % v


def median_cell(runs):
    xs = [r["s"] for r in runs]
    if not xs:
        return None
    if len(xs) == 1:
        return fmt_s(xs[0])
    return "%s [%.2f–%.2f]" % (fmt_s(statistics.median(xs)), min(xs), max(xs))


def na(sysres, partres):
    if "unavailable" in sysres:
        return "n/a (%s)" % sysres["unavailable"]
    if "error" in partres:
        return "n/a (step failed, see Failures)"
    return "n/a (not measured)"


def churn_cell(sysres, k, proc):
    """Cycle k's reading (k = -1: the memory reading before the cycles), or why there is none."""
    readings = [sysres.get("rss", {})] + list(sysres.get("churn") or [])
    r = readings[k + 1] if k + 1 < len(readings) else {}
    if proc + "_kib" in r and "tasks_kept" in r:
        return "%.1f MB, %d" % (r[proc + "_kib"] * 1024 / 1e6, r["tasks_kept"])
    return na(sysres, {"error": sysres["single_error"]} if "single_error" in sysres else {})


def memory_cell(results, system, part, proc, key):
    v = value(results, system, part, key % proc if "%" in key else proc + key)
    if v is not None:
        return "%.1f MiB (%.1f MB)" % (v / 1024, v * 1024 / 1e6)
    if system == "swarmnode-exec" and proc != "swarmnode":
        return "— (no engine)"
    if system == "docker-swarm" and proc == "swarmnode":
        return "— (no swarmnode)"
    return na(results.get(system, {}), results.get(system, {}).get(part, {}))


def value(results, system, part, key):
    r = results.get(system, {}).get(part, {})
    return r.get(key) if isinstance(r, dict) else None


def ratio_cell(a, b):
    return "%.2f" % (a / b) if a is not None and b else "n/a"


def render(results, args, meta):
    L = []
    m = meta["machine"]
    L.append("# Services: swarmnode against Docker Swarm (issue 5)\n")
    L.append("- date: %s" % meta["date"])
    L.append("- machine: %s, %d cores, %.1f GiB RAM, kernel %s" % (m["cpu"], m["cores"], m["ram_gib"], m["kernel"]))
    for k, v in meta["versions"].items():
        L.append("- %s: %s" % (k, v))
    L.append("- command: `%s`" % meta["command"])
    L.append("- load average (1/5/15 min) at start: %s, at end: %s"
             % (" ".join(meta["loadavg_start"]), " ".join(meta["loadavg_end"])))
    L.append("- tasks: swarmnode-exec runs `/bin/sleep 3600`; swarmnode-engine and docker-swarm run `%s` "
             "with args `sleep 3600` (busybox-static imported into each dockerd); no networks, no ports "
             "(container NetworkMode `default`, which with `--bridge=none` is a network namespace with only lo, "
             "for both)" % IMAGE)
    L.append("- dockerd flags (both systems): `--iptables=false --bridge=none --storage-driver=vfs`, "
             "each in its own network namespace (nsenter), its own data/exec root; swarmnode-engine's dockerd is "
             "not in swarm mode, one per swarmnode node")
    L.append("- observation: GET /tasks?filters={service, desired-state=running} on the manager every %g s "
             "from the request; a time is when the answer with the full count arrived ('gap' = time since the "
             "previous answer, the resolution)\n" % args.poll_interval)

    def cell(system, part, key="s"):
        r = results.get(system, {})
        v = value(results, system, part, key)
        return (fmt_s(v), v) if v is not None else (na(r, r.get(part, {})), None)

    L.append("## Create and scale (single node)\n")
    L.append("| scenario | swarmnode exec | swarmnode engine | Docker Swarm | engine / docker | exec / docker | target |")
    L.append("|---|---|---|---|---|---|---|")
    for part, label, target in (("create", "create %d replicas until all running" % args.create,
                                 "engine ≤ 0.20 of Docker's"),
                                ("scale", "scale %d -> %d until all running" % (args.create, args.scale),
                                 "(none)")):
        ex, ex_v = cell("swarmnode-exec", part)
        en, en_v = cell("swarmnode-engine", part)
        dk, dk_v = cell("docker-swarm", part)
        L.append("| %s | %s | %s | %s | %s | %s | %s |" % (label, ex, en, dk, ratio_cell(en_v, dk_v),
                                                            ratio_cell(ex_v, dk_v), target))
    ex, ex_v = cell("swarmnode-exec", "rss_fresh")
    en, en_v = cell("swarmnode-engine", "rss_fresh")
    dk, dk_v = cell("docker-swarm", "rss_fresh")
    L.append("| create %d replicas on a fresh node (the memory scenario's) | %s | %s | %s | %s | %s | |"
             % (args.rss_tasks, ex, en, dk, ratio_cell(en_v, dk_v), ratio_cell(ex_v, dk_v)))
    floor = results.get("engine-alone", {})
    for part, label in (("create", "dockerd alone: create + start %d containers, all requests at once" % args.create),
                        ("scale", "dockerd alone: %d more containers the same way" % (args.scale - args.create))):
        v = value(results, "engine-alone", part, "s")
        L.append("| %s | | %s | | | | (reference: the engine's own time) |"
                 % (label, fmt_s(v) if v is not None else na(floor, floor)))
    gaps = ["%s %s %.3f s" % (s, p, value(results, s, p, "gap")) for s in SYSTEMS for p in ("create", "scale")
            if value(results, s, p, "gap") is not None]
    if gaps:
        L.append("\nPoll gap at result: " + ", ".join(gaps) + ".\n")

    L.append("## Reschedule after kill -9 of a worker (1 manager + 2 workers, %d replicas)\n"
             % args.resched_replicas)
    L.append("| | swarmnode exec | swarmnode engine | Docker Swarm | engine / docker | exec / docker | target |")
    L.append("|---|---|---|---|---|---|---|")
    cells, meds = [], {}
    for s in SYSTEMS:
        r = results.get(s, {}).get("resched", {})
        runs = r.get("runs", [])
        meds[s] = statistics.median([x["s"] for x in runs]) if runs and "error" not in r else None
        cells.append(median_cell(runs) if meds[s] is not None else na(results.get(s, {}), r))
    L.append("| kill -9 to all replicas running on the other nodes, median [min–max] of %d | %s | %s | %s | %s | %s "
             "| ≤ 5 s median |" % (args.repeats, cells[0], cells[1], cells[2],
                                   ratio_cell(meds["swarmnode-engine"], meds["docker-swarm"]),
                                   ratio_cell(meds["swarmnode-exec"], meds["docker-swarm"])))
    for s in SYSTEMS:
        runs = results.get(s, {}).get("resched", {}).get("runs", [])
        if runs:
            L.append("\n%s runs: %s" % (s, ", ".join("%.2f s (%d tasks moved, gap %.2f)"
                                                     % (x["s"], x["moved"], x["gap"]) for x in runs)))
    L.append("\n## Daemon memory with %d tasks running (single node)\n" % args.rss_tasks)
    L.append("'fresh': a new node whose only service was created with %d replicas; 'after %d': the node of the "
             "scale scenario, scaled down from %d to %d (what the heap kept from the peak shows here). "
             "MB = 10^6 bytes, the target's unit.\n" % (args.rss_tasks, args.scale, args.scale, args.rss_tasks))
    L.append("| VmRSS | swarmnode exec | swarmnode engine | Docker Swarm | target |")
    L.append("|---|---|---|---|---|")
    for proc, label in (("swarmnode", "swarmnode daemon"), ("dockerd", "dockerd"),
                        ("containerd", "containerd (dockerd's)")):
        after = "after %d" % args.scale
        for part, when, key in (("rss_fresh", "fresh, before the service", "idle_%s_kib"),
                                ("rss_fresh", "fresh", "_kib"), ("rss", after, "_kib"),
                                ("rss", after + ", peak (VmHWM)", "_hwm_kib")):
            row = [memory_cell(results, s, part, proc, key) for s in SYSTEMS]
            target = "exec ≤ 8 MB" if proc == "swarmnode" and key == "_kib" and part == "rss_fresh" else ""
            L.append("| %s, %s | %s | %s | %s | %s |" % (label, when, row[0], row[1], row[2], target))
    L.append("\nContainer shims (one containerd-shim per container) and the tasks themselves are not counted.")
    if args.churn_cycles:
        L.append("\n## Memory under task churn (single node)\n")
        L.append("The node of the scale scenario, after each further cycle of %d -> %d -> %d tasks (%d running at "
                 "each reading); 'tasks kept' is what GET /tasks lists for the service on the manager.\n"
                 % (args.rss_tasks, args.scale, args.rss_tasks, args.rss_tasks))
        L.append("| after cycle | swarmnode exec: daemon VmRSS, tasks kept | swarmnode engine: daemon VmRSS, "
                 "tasks kept | Docker Swarm: dockerd VmRSS, tasks kept |")
        L.append("|---|---|---|---|")
        for k in range(-1, args.churn_cycles):
            row = [churn_cell(results.get(s, {}), k, "dockerd" if s == "docker-swarm" else "swarmnode")
                   for s in SYSTEMS]
            L.append("| %s | %s | %s | %s |" % ("0 (the memory reading above)" if k < 0 else k + 1, *row))
    fails = []
    for s in SYSTEMS:
        r = results.get(s, {})
        if "unavailable" in r and not r["unavailable"].startswith("not run"):
            fails.append("- %s: unavailable: %s" % (s, r["unavailable"]))
        for part in ("single_error", "rss_fresh", "resched"):
            err = r.get(part) if part == "single_error" else r.get(part, {}).get("error")
            if err:
                fails.append("- %s, %s: %s" % (s, part.replace("_error", ""), err))
    if "error" in results.get("engine-alone", {}):
        fails.append("- dockerd alone: %s" % results["engine-alone"]["error"])
    if fails:
        L.append("\n## Failures\n")
        L.extend(fails)
    return "\n".join(L) + "\n"


def flatten(res):
    """The single-node results under their scenario names, next to rss_fresh and resched;
    a scenario the single-node run did not reach holds its error."""
    single = res.pop("single")
    for part in ("create", "scale", "rss"):
        res[part] = single.get(part) or {"error": single.get("error", "not reached")}
    res["churn"] = single.get("churn", [])
    if "error" in single:
        res["single_error"] = single["error"]
    return res


# ------------------------------------------------------------------ main

def versions(args):
    out = {}
    here = os.path.dirname(os.path.abspath(__file__))
    git = run(["git", "-C", here, "describe", "--always", "--dirty"], check=False).stdout.strip()
    with open(os.path.join(here, "..", "meson.build")) as f:
        declared = re.search(r"version\s*:\s*'([^']+)'", f.read())
    out["swarmnode"] = "%s (git %s), %s" % (declared.group(1) if declared else "version unknown", git,
                                            args.swarmnode)
    out["dockerd"] = run(["dockerd", "--version"], check=False).stdout.strip()
    return out


def check(system, args):
    """None if the system can run here, else why not."""
    if system.startswith("swarmnode") and not os.access(args.swarmnode, os.X_OK):
        return "%s not built" % args.swarmnode
    if system != "swarmnode-exec" and not shutil.which("dockerd"):
        return "dockerd not installed (apt-get install docker.io)"
    return None


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--system", default="all", choices=("all",) + SYSTEMS)
    ap.add_argument("--swarmnode", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "..", "build", "swarmnode"))
    ap.add_argument("--repeats", type=int, default=5, help="reschedule runs per system")
    ap.add_argument("--quick", action="store_true", help="10 -> 40 replicas, RSS at 20, 2 reschedule runs")
    ap.add_argument("--poll-interval", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=300, help="limit of every wait")
    ap.add_argument("--settle", type=float, default=3, help="pause before reading RSS")
    ap.add_argument("--resched-replicas", type=int, default=6)
    ap.add_argument("--churn-cycles", type=int, default=3,
                    help="after the memory reading, cycles of scaling up to the scale count and back")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    args.create, args.scale, args.rss_tasks = 50, 200, 100
    if args.quick:
        args.create, args.scale, args.rss_tasks = 10, 40, 20
        args.repeats = min(args.repeats, 2)
    args.swarmnode = os.path.abspath(args.swarmnode)
    return args


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("services.py needs root (namespaces, dockerd)", file=sys.stderr)
        return 2
    _netns.install_signal_handlers()
    systems = SYSTEMS if args.system == "all" else (args.system,)
    results = {s: {"unavailable": "not run: --system %s" % args.system} for s in SYSTEMS if s not in systems}
    meta = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "machine": machine_info(), "versions": versions(args),
            "command": " ".join(["python3", os.path.relpath(__file__, os.getcwd())] + argv),
            "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    workdir = tempfile.mkdtemp(prefix="bsvc-", dir="/var/tmp")
    args.logdir = tempfile.mkdtemp(prefix="bsvc-logs-", dir="/var/tmp")
    t_start = time.monotonic()
    try:
        tarball = busybox_tarball(workdir)
        if "swarmnode-engine" in systems or "docker-swarm" in systems:
            results["engine-alone"] = engine_floor(args, workdir, tarball)
        for s in systems:
            why = check(s, args)
            if why:
                results[s] = {"unavailable": why}
                continue
            res = {"single": single_node(s, args, workdir, tarball),
                   "rss_fresh": rss_fresh(s, args, workdir, tarball),
                   "resched": reschedule(s, args, workdir, tarball)}
            results[s] = flatten(res)
    except KeyboardInterrupt:
        log("interrupted: stopping every daemon and deleting every namespace")
        return 130
    finally:
        _netns.cleanup_all()
        kill_leftovers(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        if args.keep_logs:
            log("logs kept in %s" % args.logdir)
        else:
            shutil.rmtree(args.logdir, ignore_errors=True)
    meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    report = render(results, args, meta)
    print(report)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "services-%s.md" % datetime.datetime.now().strftime("%Y-%m-%d-%H%M"))
    with open(path, "w") as f:
        f.write(report)
    with open(path[:-3] + ".json", "w") as f:
        json.dump({"meta": meta, "args": vars(args), "results": results}, f, indent=1, default=str)
        f.write("\n")
    log("wrote %s (and .json) in %.0f s" % (path, time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
