"""The two systems under test behind one small interface.

A system starts agents inside a namespace, joins them through node 0, lists
members with their states, kills an agent with SIGKILL and stops them all.
States are normalised to: alive, suspect, failed (Serf "failed", swarmnode
"dead"), left (Serf "left"/"leaving", swarmnode "left"), other.

Members are keyed by the agent's IP address (every agent has its own
127.0.x.y), so both systems are compared on the same identity.
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import _msgpack
from _netns import StepError, register_proc, run, stop_procs

GOSSIP_PORT = 7946
SERF_RPC_PORT = 7373
SWARM_PORT = 2377


class Unavailable(StepError):
    """The system cannot be measured at all in this run (not built, not installed...).

    str() is the full reason (printed in the report's header); .short is what
    the table cells say: n/a (short)."""

    def __init__(self, msg, short):
        super().__init__(msg)
        self.short = short


def agent_ip(i):
    # 127.0.x.y with y in 1..250: distinct loopback addresses for up to 64k agents.
    return "127.0.%d.%d" % (i // 250, i % 250 + 1)


def _host_of(addr):
    """'127.0.0.5:7946' / '127.0.0.5' / '[::1]:7946' -> host part."""
    addr = str(addr)
    if addr.startswith("["):
        return addr[1:addr.index("]")]
    if addr.count(":") == 1:
        return addr.split(":")[0]
    return addr


class Agent:
    def __init__(self, index, ip, name, proc, logfile):
        self.index = index
        self.ip = ip
        self.name = name
        self.proc = proc
        self.pid = proc.pid
        self.logfile = logfile


class System:
    name = "?"
    death_states = ("failed",)
    # TCP ports of the local control channel; kept out of the loss rule so the
    # observer's polling is not what the loss hits.
    control_tcp_ports = ()
    # Regex-free marker of a "member declared failed" line in an agent's log,
    # counted during the loss window as an exact cross-check of polling.
    log_death_marker = None
    log_suspect_marker = None
    lists_suspect = True        # does the member list show a suspect state?

    def __init__(self):
        self.agents = []
        self.ns = None
        self.workdir = None

    def check(self):
        """Raise Unavailable if the system cannot run here at all."""

    def version(self):
        return "?"

    def prepare(self, ns, n, workdir):
        self.ns, self.n, self.workdir = ns, n, workdir
        self.agents = []

    def start(self, i):
        raise NotImplementedError

    def wait_ready(self, agent, deadline):
        raise NotImplementedError

    def before_join(self, deadline):
        """Anything node 0 needs before others can join (not timed)."""

    def start_joins(self, indices):
        """Start the joins of indices through node 0, without waiting; return a handle."""
        raise NotImplementedError

    def join_errors(self, handle, wait_s=0.0):
        """(finished, [error strings]) for the joins started by start_joins."""
        raise NotImplementedError

    def members(self, i):
        """{ip: normalised state} as agent i sees the cluster."""
        raise NotImplementedError

    def state_of(self, i, target):
        """Normalised state of agent target as agent i sees it (None if unknown)."""
        return self.members(i).get(self.agents[target].ip)

    def converged(self, i):
        """(True if agent i lists every agent alive, short description of its view)."""
        view = self.members(i)
        return self.all_alive(i, view), summarize(view)

    def all_alive(self, i, view):
        alive = {ip for ip, s in view.items() if s == "alive"}
        alive.add(self.agents[i].ip)        # a node counts itself alive
        return all(a.ip in alive for a in self.agents)

    def death_view(self, i):
        """(ips agent i lists failed/dead, ips it lists suspect)."""
        view = self.members(i)
        return ({ip for ip, s in view.items() if s in self.death_states},
                {ip for ip, s in view.items() if s == "suspect"})

    def kill9(self, i):
        os.kill(self.agents[i].pid, signal.SIGKILL)
        self.agents[i].proc.wait(timeout=10)

    def stop(self):
        self.close_clients()
        stop_procs([a.proc for a in self.agents])

    def close_clients(self):
        pass

    def _check_alive(self, agent, what):
        rc = agent.proc.poll()
        if rc is not None:
            tail = _tail(agent.logfile)
            raise StepError("%s agent %d (%s) exited with status %s while %s; log tail:\n%s"
                            % (self.name, agent.index, agent.ip, rc, what, tail))


def summarize(view):
    counts = {}
    for st in view.values():
        counts[st] = counts.get(st, 0) + 1
    return "%d members %s" % (len(view), counts)


def _tail(path, lines=8):
    try:
        with open(path, "rb") as f:
            data = f.read()[-4000:].decode(errors="replace")
        return "\n".join("    " + l for l in data.splitlines()[-lines:])
    except OSError as e:
        return "    (no log: %s)" % e


# --------------------------------------------------------------------- Serf

class SerfRPC:
    """Client of Serf's msgpack RPC (what the serf CLI itself speaks)."""

    def __init__(self, ns, host, port, timeout):
        self.sock = ns.socket()
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.buf = bytearray()
        self.seq = 0
        self._call("handshake", {"Version": 1}, has_body=False)

    def _read_obj(self):
        while True:
            if self.buf:
                try:
                    obj, pos = _msgpack.unpack_from(self.buf)
                    del self.buf[:pos]
                    return obj
                except _msgpack.Incomplete:
                    pass
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionError("serf RPC connection closed")
            self.buf += data

    def _call(self, command, body=None, has_body=True):
        self.seq += 1
        seq = self.seq
        msg = _msgpack.packb({"Command": command, "Seq": seq})
        if body is not None:
            msg += _msgpack.packb(body)
        self.sock.sendall(msg)
        hdr = self._read_obj()
        if hdr.get("Seq") != seq:
            raise StepError("serf RPC: answer for seq %r, expected %d" % (hdr.get("Seq"), seq))
        resp = self._read_obj() if has_body else None
        if hdr.get("Error"):
            raise StepError("serf RPC %s: %s" % (command, hdr["Error"]))
        return resp

    def members(self, name=None):
        if name is None:
            return self._call("members")["Members"]
        return self._call("members-filtered",
                          {"Tags": {}, "Status": "", "Name": name})["Members"]

    def join(self, addrs):
        return self._call("join", {"Existing": list(addrs), "Replay": False})["Num"]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


_SERF_STATE = {"alive": "alive", "failed": "failed", "left": "left", "leaving": "left"}


def _serf_view(members):
    out = {}
    for m in members:
        addr = m.get("Addr")
        ip = socket.inet_ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr) \
            if isinstance(addr, bytes) else str(addr)
        out[ip] = _SERF_STATE.get(m.get("Status"), "other")
    return out


class SerfSystem(System):
    name = "serf"
    death_states = ("failed",)
    control_tcp_ports = (SERF_RPC_PORT,)
    log_death_marker = "EventMemberFailed:"
    log_suspect_marker = "] memberlist: Suspect "
    lists_suspect = False

    def __init__(self, binary="serf", rpc_timeout=10.0):
        super().__init__()
        self.binary = binary
        self.rpc_timeout = rpc_timeout
        self.key = None
        self.poll_rpc = {}
        self.ctl_rpc = {}

    def check(self):
        path = shutil.which(self.binary)
        if not path:
            raise Unavailable("serf not found (%s); install it with: apt-get install serf"
                              % self.binary, "serf not installed")
        self.binary = path

    def version(self):
        cp = run([self.binary, "version"], check=False)
        v = cp.stdout.strip().splitlines()
        deb = run(["dpkg-query", "-W", "-f=${Version}", "serf"], check=False).stdout.strip()
        return "%s%s" % (v[0] if v else "?", " (Debian package %s)" % deb if deb else "")

    def prepare(self, ns, n, workdir):
        super().prepare(ns, n, workdir)
        self.key = run([self.binary, "keygen"]).stdout.strip()
        self.poll_rpc, self.ctl_rpc = {}, {}

    def start(self, i):
        ip = agent_ip(i)
        name = "n%04d" % i
        logfile = os.path.join(self.workdir, "%s.log" % name)
        argv = [self.binary, "agent", "-node", name,
                "-bind", "%s:%d" % (ip, GOSSIP_PORT),
                "-rpc-addr", "%s:%d" % (ip, SERF_RPC_PORT),
                "-encrypt", self.key]
        a = Agent(i, ip, name, self.ns.spawn(argv, logfile), logfile)
        self.agents.append(a)
        return a

    def wait_ready(self, agent, deadline):
        last = None
        while True:
            self._check_alive(agent, "starting")
            try:
                self.poll_rpc[agent.index] = SerfRPC(self.ns, agent.ip, SERF_RPC_PORT,
                                                     self.rpc_timeout)
                self.ctl_rpc[agent.index] = SerfRPC(self.ns, agent.ip, SERF_RPC_PORT,
                                                    self.rpc_timeout)
                return
            except (OSError, ConnectionError, StepError) as e:
                last = e
            if time.monotonic() > deadline:
                raise StepError("serf agent %d (%s): RPC %s:%d not answering before the "
                                "start timeout (%s)" % (agent.index, agent.ip, agent.ip,
                                                        SERF_RPC_PORT, last))
            time.sleep(0.05)

    def start_joins(self, indices):
        seed = "%s:%d" % (self.agents[0].ip, GOSSIP_PORT)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(indices)))
        futs = {i: pool.submit(self.ctl_rpc[i].join, [seed]) for i in indices}
        pool.shutdown(wait=False)
        return futs

    def join_errors(self, futs, wait_s=0.0):
        concurrent.futures.wait(list(futs.values()), timeout=wait_s)
        errors, done = [], True
        for i, f in futs.items():
            if not f.done():
                done = False
                continue
            try:
                num = f.result()
                if num < 1:
                    errors.append("node %d: serf join contacted 0 nodes" % i)
            except Exception as e:  # noqa: BLE001 - reported, not hidden
                errors.append("node %d: serf join: %s" % (i, e))
        return done, errors

    def members(self, i):
        return _serf_view(self.poll_rpc[i].members())

    def state_of(self, i, target):
        v = _serf_view(self.poll_rpc[i].members(name=self.agents[target].name))
        return v.get(self.agents[target].ip)

    def converged(self, i):
        # Decoding 128 full member lists per poll round in Python takes
        # longer than the poll interval, so Serf's cheap `stats` counters are
        # polled first; once they say N members, none failed or left, the
        # full member list confirms every one of them alive (timed at the
        # stats answer, which already implied it).
        st = self.poll_rpc[i]._call("stats")["serf"]
        m, f, l = int(st["members"]), int(st["failed"]), int(st["left"])
        if m != self.n or f or l:
            return False, "stats: members=%d failed=%d left=%d" % (m, f, l)
        view = self.members(i)
        return self.all_alive(i, view), summarize(view)

    def death_view(self, i):
        # Only the failed members travel: members-filtered with Status=failed.
        failed = _serf_view(self.poll_rpc[i]._call(
            "members-filtered", {"Tags": {}, "Status": "failed", "Name": ""})["Members"])
        return set(failed), set()   # Serf does not expose suspicion in its member list

    def cli_members(self, i):
        """The same view through `serf members -format json` (cross-check of the RPC client)."""
        a = self.agents[i]
        cp = self.ns.run([self.binary, "members", "-rpc-addr", "%s:%d" % (a.ip, SERF_RPC_PORT),
                          "-format", "json"], timeout=30)
        out = {}
        for m in json.loads(cp.stdout)["members"]:
            out[_host_of(m["addr"])] = _SERF_STATE.get(m["status"], "other")
        return out

    def close_clients(self):
        for c in list(self.poll_rpc.values()) + list(self.ctl_rpc.values()):
            c.close()
        self.poll_rpc, self.ctl_rpc = {}, {}


# ---------------------------------------------------------------- swarmnode

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


_SN_STATE = {"alive": "alive", "suspect": "suspect", "dead": "failed", "left": "left"}


def _field(obj, key):
    if key in obj:
        return obj[key]
    for k, v in obj.items():
        if k.lower() == key.lower():
            return v
    return None


class SwarmnodeSystem(System):
    name = "swarmnode"
    death_states = ("failed",)
    control_tcp_ports = ()          # the control channel is a Unix socket

    def __init__(self, binary, http_timeout=10.0):
        super().__init__()
        self.binary = binary
        self.http_timeout = http_timeout
        self.conns = {}
        self.token = None
        self.daemon_version = None

    def check(self):
        if not os.path.isfile(self.binary):
            raise Unavailable("swarmnode binary not found at %s (not built yet? build with "
                              "./scripts/build.sh or pass --swarmnode BIN)" % self.binary,
                              "not built")
        if not os.access(self.binary, os.X_OK):
            raise Unavailable("%s is not executable" % self.binary, "binary not executable")

    def version(self):
        # `swarmnode version` needs a running daemon; the daemons' GET /version
        # answer is kept from the first trial that started one.
        if self.daemon_version:
            return "%s, daemon version %s" % (self.binary, self.daemon_version)
        return "%s (version unknown: no daemon of this run answered GET /version)" % self.binary

    def _sock(self, i):
        return os.path.join(self.workdir, "n%04d" % i, "s.sock")

    def _cli(self, i, args, timeout=30):
        # Inside the namespace too, in case the CLI itself ever opens a cluster connection.
        return self.ns.run([self.binary, "-H", "unix://" + self._sock(i)] + list(args),
                           timeout=timeout, check=False)

    def prepare(self, ns, n, workdir):
        super().prepare(ns, n, workdir)
        self.conns = {}
        self.token = None

    def start(self, i):
        ip = agent_ip(i)
        name = "n%04d" % i
        d = os.path.join(self.workdir, name)
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        logfile = os.path.join(self.workdir, "%s.log" % name)
        argv = [self.binary, "daemon", "--data-dir", os.path.join(d, "data"),
                "--socket", self._sock(i),
                "--listen-addr", "%s:%d" % (ip, SWARM_PORT),
                "--gossip-addr", "%s:%d" % (ip, GOSSIP_PORT),
                "--advertise-addr", ip]
        a = Agent(i, ip, name, self.ns.spawn(argv, logfile), logfile)
        self.agents.append(a)
        return a

    def _get(self, i, path):
        """GET path on agent i's control socket -> (status, parsed JSON or text)."""
        for attempt in (0, 1):
            conn = self.conns.get(i)
            if conn is None:
                conn = self.conns[i] = UnixHTTPConnection(self._sock(i), self.http_timeout)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self.conns.pop(i, None)
                if attempt:
                    raise
        try:
            return resp.status, json.loads(body) if body else None
        except ValueError:
            return resp.status, body.decode(errors="replace")

    def wait_ready(self, agent, deadline):
        last = None
        while True:
            self._check_alive(agent, "starting")
            try:
                status, _ = self._get(agent.index, "/_ping")
                if status == 200:
                    return
                last = "HTTP %d" % status
            except (OSError, http.client.HTTPException) as e:
                last = e
            if time.monotonic() > deadline:
                raise StepError("swarmnode daemon %d: control socket %s not answering /_ping "
                                "before the start timeout (%s)" % (agent.index,
                                                                   self._sock(agent.index), last))
            time.sleep(0.05)

    def before_join(self, deadline):
        a0 = self.agents[0]
        try:
            status, body = self._get(0, "/version")
            if status == 200 and isinstance(body, dict):
                self.daemon_version = "%s (git %s)" % (body.get("Version", "?"),
                                                      body.get("GitCommit", "?"))
        except (OSError, http.client.HTTPException):
            pass
        cp = self._cli(0, ["init", "--advertise-addr", a0.ip])
        if cp.returncode != 0:
            msg = (cp.stderr or cp.stdout).strip().splitlines()
            raise Unavailable("`swarmnode init` failed (exit %d: %s)"
                              % (cp.returncode, " ".join(msg) if msg else "no output"),
                              "`swarmnode init` failed")
        cp = self._cli(0, ["join-token", "-q", "worker"])
        tok = cp.stdout.strip()
        if cp.returncode != 0 or not tok.startswith("SWMTKN-"):
            msg = (cp.stderr or cp.stdout).strip().splitlines()
            raise Unavailable("`swarmnode join-token -q worker` failed (exit %d: %s)"
                              % (cp.returncode, " ".join(msg) if msg else "no output"),
                              "`swarmnode join-token` failed")
        self.token = tok
        status, body = self._get(0, "/swarmnode/members")
        if status != 200 or not isinstance(body, list):
            raise Unavailable("GET /swarmnode/members on node 0 answered HTTP %d: %s"
                              % (status, str(body)[:200]), "no /swarmnode/members")

    def start_joins(self, indices):
        """POST /swarm/join on each node's control socket from this runner, all
        at once (what `swarmnode join` sends), as Serf's joins go over its RPC
        from the runner: neither side pays for starting a client process."""
        seed = "%s:%d" % (self.agents[0].ip, SWARM_PORT)
        body = json.dumps({"ListenAddr": "", "AdvertiseAddr": "", "RemoteAddrs": [seed],
                           "JoinToken": self.token})
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(indices)))
        futures = {i: pool.submit(self._post_join, i, body) for i in indices}
        pool.shutdown(wait=False)
        return futures

    def _post_join(self, i, body):
        conn = UnixHTTPConnection(self._sock(i), 300)
        try:
            conn.request("POST", "/v1.41/swarm/join", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def join_errors(self, futures, wait_s=0.0):
        concurrent.futures.wait(list(futures.values()), timeout=wait_s)
        errors, done = [], True
        for i, f in futures.items():
            if not f.done():
                done = False
                continue
            try:
                status, text = f.result()
            except (OSError, http.client.HTTPException) as e:
                errors.append("node %d: POST /swarm/join failed: %s" % (i, e))
                continue
            if status != 200:
                errors.append("node %d: POST /swarm/join answered HTTP %d: %s"
                              % (i, status, text.strip()[:200]))
        return done, errors

    def converged(self, i):
        # As for Serf: the cheap counters of GET /swarmnode/gossip are polled
        # first, and once they say every member alive (and none suspect,
        # dead or left) the full member list confirms each of them.
        status, body = self._get(i, "/swarmnode/gossip")
        if status != 200 or not isinstance(body, dict):
            raise StepError("GET /swarmnode/gossip on node %d: HTTP %d %s"
                            % (i, status, str(body)[:200]))
        c = body.get("Members") or {}          # Alive counts the node itself
        if c.get("Alive") != self.n or c.get("Suspect") or c.get("Dead") or c.get("Left"):
            return False, "counts: alive=%s suspect=%s dead=%s left=%s" % (
                c.get("Alive"), c.get("Suspect"), c.get("Dead"), c.get("Left"))
        view = self.members(i)
        return self.all_alive(i, view), summarize(view)

    def members(self, i):
        status, body = self._get(i, "/swarmnode/members")
        if status != 200 or not isinstance(body, list):
            raise StepError("GET /swarmnode/members on node %d: HTTP %d %s"
                            % (i, status, str(body)[:200]))
        out = {}
        for m in body:
            addr = _field(m, "Addr")
            state = str(_field(m, "State") or "").lower()
            if addr is None:
                continue
            out[_host_of(addr)] = _SN_STATE.get(state, "other")
        return out

    def close_clients(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}
