#!/usr/bin/env python3
"""Membership benchmark: swarmnode against HashiCorp Serf, side by side.

For each cluster size N, and for each system, in ONE fresh network namespace
per (system, N), on its loopback (agent i on 127.0.x.y, gossip port 7946):

  1. join convergence: every node joins through node 0; time from starting
     the joins until every node lists N alive members;
  2. idle resources over a window with no polling: CPU (% of one core, from
     /proc/PID/stat utime+stime), RSS (/proc/PID/status VmRSS) per node, and
     bytes/s on the namespace's lo (tx_bytes) divided by N;
  3. false deaths at uniform packet loss (iptables statistic DROP on INPUT):
     members ever reported failed/dead while every process was alive;
  4. failure detection: kill -9 one node; time until the first other node,
     and until all others, list it failed/dead.

Run as root:  python3 bench/membership.py --sizes 16,64,128
See bench/README.md for what each number means.
"""
import argparse
import concurrent.futures
import datetime
import heapq
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _netns  # noqa: E402
from _netns import Netns, StepError, log  # noqa: E402
from _systems import SerfSystem, SwarmnodeSystem, Unavailable, summarize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


# ------------------------------------------------------------------ polling

class Poller:
    """Polls agents with a small thread pool, each agent on its own schedule.

    Agent i is asked again `interval` after the previous question to it was
    sent (or as soon as its answer arrives, if that took longer), so a slow
    agent never delays the others. The time of an observation is when the
    answer arrived; the change it shows happened at most one poll gap (time
    since the previous answer from the same agent) before. Gaps are kept."""

    def __init__(self, workers):
        self.workers = workers
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        self.gaps = []

    @staticmethod
    def _call(fetch, i):
        try:
            return fetch(i), None, time.monotonic()
        except Exception as e:  # noqa: BLE001 - surfaced in timeout messages
            return None, e, time.monotonic()

    def loop(self, indices, fetch, on_answer, t0, until, interval):
        """Poll until every agent is done or `until`; on_answer(i, value, err, t)
        (gap: time since agent i's previous answer) returns True when agent i
        needs no more polling. Returns the set of
        agents not done."""
        self.gaps = []
        last = {i: t0 for i in indices}
        due = [(t0, i) for i in sorted(indices)]
        heapq.heapify(due)
        pending = set(indices)
        inflight = {}
        try:
            while pending:
                now = time.monotonic()
                if now >= until:
                    break
                while due and due[0][0] <= now and len(inflight) < self.workers:
                    _, i = heapq.heappop(due)
                    inflight[self.pool.submit(self._call, fetch, i)] = (i, now)
                wake = min(due[0][0] if due else now + interval, until)
                if not inflight:
                    time.sleep(max(0.001, wake - now))     # pacing until the next poll is due
                    continue
                finished, _ = concurrent.futures.wait(
                    list(inflight), timeout=max(0.001, wake - now),
                    return_when=concurrent.futures.FIRST_COMPLETED)
                for f in finished:
                    i, sent = inflight.pop(f)
                    val, err, t = f.result()
                    gap = t - last[i]
                    self.gaps.append(gap)
                    last[i] = t
                    if on_answer(i, val, err, t, gap):
                        pending.discard(i)
                    else:
                        heapq.heappush(due, (max(sent + interval, t), i))
        finally:
            # Answers still on their way are waited for (each call has its own
            # socket timeout), so no thread touches an agent after this step.
            concurrent.futures.wait(list(inflight))
        return pending

    def gap_stats(self):
        if not self.gaps:
            return None
        return (statistics.mean(self.gaps), max(self.gaps))

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def poll_until(poller, indices, fetch, done, t0, timeout, interval, what):
    """Poll fetch(i) for every i until done(i, value).

    Returns {i: (time first seen done, poll gap of that answer)}."""
    first, last_val, last_err = {}, {}, {}

    def on_answer(i, val, err, t, gap):
        if err is not None:
            last_err[i] = err
            return False
        last_val[i] = val
        if done(i, val):
            first[i] = (t, gap)
            return True
        return False

    pending = poller.loop(indices, fetch, on_answer, t0, t0 + timeout, interval)
    if pending:
        k = min(pending)
        detail = ("last error: %s" % last_err[k]) if k in last_err and k not in last_val \
            else "last view: %s" % _short(last_val.get(k))
        raise StepError("%s: %d of %d nodes still not there after %g s (e.g. node %d, %s)"
                        % (what, len(pending), len(indices), timeout, k, detail))
    return first


def decisive(first, t0, pick):
    """(time of the first or last node to get there, since t0; the poll gap of
    that node's answer, i.e. how much earlier the change may have happened)."""
    t, gap = pick(first.values(), key=lambda tg: tg[0])
    return t - t0, gap


def _short(v):
    if isinstance(v, dict):
        return summarize(v)
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str):
        return v[1]
    return repr(v)[:200]


# ------------------------------------------------------------------- trial

def run_trial(system, n, args, poller):
    """All scenarios for one system at size n. Returns a dict of metrics;
    a metric that could not be measured holds a string 'n/a (reason)'."""
    res = {}
    tag = "[%s N=%d]" % (system.name, n)
    ns = None
    workdir = tempfile.mkdtemp(prefix="swb-%s-%d-" % (system.name, n))
    step = "setup"
    try:
        ns = Netns("swb%d-%s-%d" % (os.getpid(), system.name, n))
        system.prepare(ns, n, workdir)

        step = "start"
        log("%s starting %d agents in netns %s" % (tag, n, ns.name))
        for i in range(n):
            system.start(i)
        deadline = time.monotonic() + args.start_timeout
        for a in system.agents:
            system.wait_ready(a, deadline)
        for a in system.agents:
            comm = _netns.proc_comm(a.pid)
            if comm is None:
                raise StepError("agent %d (pid %d) vanished after start" % (a.index, a.pid))
        system.before_join(time.monotonic() + args.start_timeout)
        everyone = range(n)

        def sees_all_alive(i, verdict):
            return verdict[0]

        # 1. join convergence ------------------------------------------------
        step = "join"
        log("%s joining nodes 1..%d through node 0" % (tag, n - 1))
        udp0 = udp_counters(ns)
        load0 = cpu_snapshot(system)
        t0 = time.monotonic()
        handle = system.start_joins(range(1, n))
        first = poll_until(poller, everyone, system.converged, sees_all_alive, t0,
                           args.join_timeout, args.poll_interval,
                           "join convergence (every node lists %d alive)" % n)
        res["join_s"], res["join_s_res"] = decisive(first, t0, max)
        res["join_gap"] = poller.gap_stats()
        res["udp_drops_join"] = udp_counters(ns)["RcvbufErrors"] - udp0["RcvbufErrors"]
        done, errors = system.join_errors(handle, wait_s=args.join_timeout)
        if not done:
            raise StepError("join commands still running %g s after convergence" % args.join_timeout)
        if errors:
            raise StepError("join reported errors although the cluster converged: %s"
                            % "; ".join(errors[:3]))
        log("%s converged: %.2f s (poll gap mean %.3f s, max %.3f s)"
            % (tag, res["join_s"], res["join_gap"][0], res["join_gap"][1]))
        if hasattr(system, "cli_members"):
            for i in (0, n - 1):
                cli = system.cli_members(i)
                rpc = system.members(i)
                if cli != rpc:
                    raise StepError("node %d: `serf members -format json` (%s) disagrees with "
                                    "the RPC view (%s)" % (i, _short(cli), _short(rpc)))
            log("%s cross-check: `serf members -format json` on nodes 0 and %d agrees with RPC"
                % (tag, n - 1))

        # 2. idle window -------------------------------------------------------
        step = "idle"
        log("%s idle window: %g s settle, then %g s without polling"
            % (tag, args.settle, args.idle_window))
        # The settle pause is itself measured (no polling runs in it): it
        # holds the tail of the join's dissemination, which the idle figure
        # is meant to exclude and which is reported on its own.
        txs0, s0 = ns.lo_counter("tx_bytes"), time.monotonic()
        time.sleep(args.settle)            # defines where the idle window starts
        txs1, s1 = ns.lo_counter("tx_bytes"), time.monotonic()
        res["bps_node_settle"] = (txs1 - txs0) / (s1 - s0) / n
        pids = [a.pid for a in system.agents]
        udp0 = udp_counters(ns)
        tx0 = txs1
        c0 = [_netns.proc_cpu_ticks(p) for p in pids]
        w0 = time.monotonic()
        time.sleep(args.idle_window)       # the measurement window itself
        c1 = [_netns.proc_cpu_ticks(p) for p in pids]
        w1 = time.monotonic()
        tx1 = ns.lo_counter("tx_bytes")
        res["udp_drops_idle"] = udp_counters(ns)["RcvbufErrors"] - udp0["RcvbufErrors"]
        rss = [_netns.proc_rss_kib(p) / 1024.0 for p in pids]
        win = w1 - w0
        cpu = [100.0 * (b - a) / _netns.CLK_TCK / win for a, b in zip(c0, c1)]
        res["cpu_mean"], res["cpu_max"] = statistics.mean(cpu), max(cpu)
        res["rss_mean"], res["rss_max"] = statistics.mean(rss), max(rss)
        res["bps_node"] = (tx1 - tx0) / win / n
        res["idle_window"] = win
        for a in system.agents:
            system._check_alive(a, "idle")
        log("%s idle: cpu mean %.2f%% max %.2f%%, rss mean %.1f MiB max %.1f MiB, %.0f B/s/node"
            " (settle before it: %.0f B/s/node)"
            % (tag, res["cpu_mean"], res["cpu_max"], res["rss_mean"], res["rss_max"],
               res["bps_node"], res["bps_node_settle"]))

        # 3. false deaths at packet loss ---------------------------------------
        step = "loss"
        res.update(loss_window(system, ns, n, args, poller, tag))

        step = "recovery"
        t0 = time.monotonic()
        first = poll_until(poller, everyone, system.converged, sees_all_alive, t0,
                           args.recover_timeout, args.poll_interval,
                           "recovery after the loss window (every node lists %d alive)" % n)
        res["recover_s"], res["recover_s_res"] = decisive(first, t0, max)
        log("%s all %d nodes list %d alive again %.2f s after the loss was removed"
            % (tag, n, n, res["recover_s"]))

        # 4. failure detection -------------------------------------------------
        step = "detect"
        victim = n // 2
        survivors = [i for i in everyone if i != victim]
        log("%s kill -9 node %d (%s, pid %d)" % (tag, victim, system.agents[victim].ip,
                                                  system.agents[victim].pid))
        res.update(cpu_share(load0, cpu_snapshot(system)))
        system.kill9(victim)
        t0 = time.monotonic()
        first = poll_until(poller, survivors, lambda i: system.state_of(i, victim),
                           lambda i, s: s in system.death_states, t0, args.detect_timeout,
                           args.poll_interval, "failure detection of node %d" % victim)
        res["detect_first_s"], res["detect_first_s_res"] = decisive(first, t0, min)
        res["detect_all_s"], res["detect_all_s_res"] = decisive(first, t0, max)
        res["detect_gap"] = poller.gap_stats()
        log("%s detection: first %.2f s, all %.2f s (poll gap mean %.3f s, max %.3f s)"
            % (tag, res["detect_first_s"], res["detect_all_s"], res["detect_gap"][0],
               res["detect_gap"][1]))
    except Unavailable:
        raise
    except StepError as e:
        log("%s FAILED at step %s: %s" % (tag, step, e))
        res["error"] = "%s: %s" % (step, e)
        res["error_step"] = step
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - a bug in the runner, reported with its trace
        traceback.print_exc()
        res["error"] = "%s: runner error %s: %s" % (step, type(e).__name__, e)
        res["error_step"] = step
    finally:
        log("%s stopping agents, deleting netns" % tag)
        try:
            system.stop()
        finally:
            if ns is not None:
                ns.delete()
            if args.keep_logs:
                log("%s agent logs kept in %s" % (tag, workdir))
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    return res


def cpu_snapshot(system):
    """(wall time, busy ticks of the whole machine, ticks of the agents, CPU
    seconds of this runner) for cpu_share()."""
    with open("/proc/stat") as f:
        f_ = f.readline().split()[1:9]
    user, nice, sys_, idle, iowait, irq, softirq, steal = (int(x) for x in f_)
    agents = sum(_netns.proc_cpu_ticks(a.pid) for a in system.agents)
    t = os.times()
    return (time.monotonic(), user + nice + sys_ + irq + softirq + steal, agents,
            t.user + t.system)


def cpu_share(a, b):
    """Cores used between two snapshots by the agents, by the runner, and by
    everything else on the machine (other processes compete with the agents)."""
    dt = b[0] - a[0]
    busy = (b[1] - a[1]) / _netns.CLK_TCK / dt
    agents = (b[2] - a[2]) / _netns.CLK_TCK / dt
    runner = (b[3] - a[3]) / dt
    return {"cores_agents": agents, "cores_runner": runner,
            "cores_other": max(0.0, busy - agents - runner), "cores_window": dt}


def udp_counters(ns):
    """The namespace's Udp: counters from /proc/net/snmp (RcvbufErrors: datagrams
    the kernel dropped because a socket's receive buffer was full)."""
    lines = [l.split() for l in ns.run(["cat", "/proc/net/snmp"], timeout=10).stdout.splitlines()
             if l.startswith("Udp:")]
    return dict(zip(lines[0][1:], (int(x) for x in lines[1][1:])))


def loss_window(system, ns, n, args, poller, tag):
    """Uniform loss on every packet the namespace receives, except the local
    control channel the runner polls through; count false deaths."""
    res = {}
    exempt = len(system.control_tcp_ports) * 2
    for port in system.control_tcp_ports:
        ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "ACCEPT")
        ns.iptables("-A", "INPUT", "-p", "tcp", "--sport", str(port), "-j", "ACCEPT")
    udp0 = udp_counters(ns)
    log_offsets = {}
    if system.log_death_marker:
        for a in system.agents:
            log_offsets[a.index] = os.path.getsize(a.logfile)
    # A rule without a target only counts: every packet the DROP rule judges.
    ns.iptables("-A", "INPUT")
    ns.iptables("-A", "INPUT", "-m", "statistic", "--mode", "random",
                "--probability", "%.4f" % args.loss, "-j", "DROP")
    log("%s %.0f %% loss on INPUT for %g s, polling every node"
        % (tag, args.loss * 100, args.loss_window))
    dead_seen = {}          # member ip -> set of observer indices
    suspect_seen = {}
    errors = 0
    def on_answer(i, view, err, t, gap):
        nonlocal errors
        if err is not None:
            errors += 1
            return False
        dead, suspect = view
        for ip in dead:
            dead_seen.setdefault(ip, set()).add(i)
        for ip in suspect:
            suspect_seen.setdefault(ip, set()).add(i)
        return False

    try:
        t0 = time.monotonic()
        poller.loop(range(n), system.death_view, on_answer, t0, t0 + args.loss_window,
                    args.poll_interval)
        res["loss_gap"] = poller.gap_stats()
        for a in system.agents:
            system._check_alive(a, "under packet loss")
    finally:
        counters = ns.iptables("-L", "INPUT", "-v", "-x", "-n").stdout
        ns.iptables("-F", "INPUT")
    rules = [l.split() for l in counters.splitlines()[2:] if l.strip()]
    judged = int(rules[exempt][0])
    dropped = int(rules[exempt + 1][0])
    res["loss_observed"] = dropped / judged if judged > 0 else None
    res["loss_judged_packets"] = judged
    res["udp_drops_loss"] = udp_counters(ns)["RcvbufErrors"] - udp0["RcvbufErrors"]
    res["false_dead_members"] = len(dead_seen)
    res["false_dead_reports"] = sum(len(v) for v in dead_seen.values())
    res["suspect_members"] = len(suspect_seen) if system.lists_suspect \
        else "not listed by %s" % system.name
    res["loss_poll_errors"] = errors
    if system.log_death_marker:
        failed_lines, suspect_lines = 0, 0
        for a in system.agents:
            with open(a.logfile, "rb") as f:
                f.seek(log_offsets[a.index])
                chunk = f.read().decode(errors="replace")
            failed_lines += chunk.count(system.log_death_marker)
            suspect_lines += chunk.count(system.log_suspect_marker)
        res["log_failed_events"] = failed_lines
        res["log_suspect_events"] = suspect_lines
    log("%s loss: observed drop %.1f %%, %d members reported %s by %d observer-polls%s"
        % (tag, 100 * (res["loss_observed"] or 0), res["false_dead_members"],
           "/".join(system.death_states), res["false_dead_reports"],
           (", agent logs: %d failed events, %d suspicions"
            % (res["log_failed_events"], res["log_suspect_events"]))
           if "log_failed_events" in res else ""))
    return res


# ------------------------------------------------------------------ report

def machine_info():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "ram_gib": mem_kib / 1024 / 1024,
            "kernel": platform.release(), "python": platform.python_version()}


def fmt_num(v, kind, unit=True):
    if isinstance(v, str):
        return v
    if v is None:
        return "—"
    txt = {"s": "%.2f", "pct": "%.2f", "mib": "%.1f", "bps": "%.0f", "int": "%d", "cores": "%.2f",
           "ratio": "%.1f"}.get(kind, "%s") % (100 * v if kind == "ratio" else v)
    if unit:
        txt += {"s": " s", "pct": " %", "mib": " MiB", "bps": " B/s", "ratio": " %"}.get(kind, "")
    return txt


def _numbers(trials, key):
    return [t[key] for t in trials
            if isinstance(t.get(key), (int, float)) and not isinstance(t.get(key), bool)]


def central(results, system, n, key):
    vals = _numbers(results.get((system, n)) or [], key)
    return statistics.median(vals) if vals else None


def cell(results, system, n, key, kind):
    """One table cell: the value of a single run; over several runs the median
    and [min–max] (counts: the total and each run's count)."""
    trials = results.get((system, n))
    if trials is None:
        return "not run"
    for t in trials:
        if "unavailable" in t:
            return "n/a (%s)" % t["short"]
    vals = _numbers(trials, key)
    errs = [t["error_step"] for t in trials if "error" in t and key not in t]
    if not vals:
        for t in trials:
            if isinstance(t.get(key), str):
                return t[key]
        if errs:
            return "n/a (step %s failed, see Failures)" % errs[0]
        return "—"
    if len(vals) == 1:
        txt = fmt_num(vals[0], kind)
        if kind == "ratio":
            txt += " of %d" % _numbers(trials, "loss_judged_packets")[0]
    elif kind == "int":
        txt = "%d (%s)" % (sum(vals), " + ".join("%d" % v for v in vals))
    else:
        txt = "%s [%s–%s]" % (fmt_num(statistics.median(vals), kind),
                              fmt_num(min(vals), kind, False), fmt_num(max(vals), kind, False))
    if errs:
        txt += " (%d of %d runs failed, see Failures)" % (len(errs), len(trials))
    return txt


def gap_cell(results, system, n, key):
    """Poll gaps over a step, mean / max, pooled over runs."""
    gaps = [t[key] for t in results.get((system, n)) or [] if isinstance(t.get(key), tuple)]
    if not gaps:
        return "—"
    return "%.0f / %.0f ms" % (1000 * statistics.mean(g[0] for g in gaps),
                               1000 * max(g[1] for g in gaps))


def res_cell(results, system, n, key):
    """Poll gap of the answer that decided a timed result (largest over runs)."""
    vals = _numbers(results.get((system, n)) or [], key + "_res")
    return "%.0f ms" % (1000 * max(vals)) if vals else "—"


def ratio(results, n, key, kind):
    if kind in ("ratio", "int"):
        return "—"
    a = central(results, "swarmnode", n, key)
    b = central(results, "serf", n, key)
    if a is not None and b:
        return "%.2f" % (a / b)
    return "—"


SCENARIOS = [
    ("Join convergence",
     "Every node joins through node 0 at once; time from starting the joins until every "
     "node lists all N members alive. Last row: datagrams the kernel dropped in the "
     "namespace because an agent's UDP receive buffer was full (/proc/net/snmp "
     "RcvbufErrors), a sign of agents starved of CPU.",
     [("join_s", "convergence", "s", "≤ 0.50"),
      ("udp_drops_join", "UDP datagrams dropped, full socket buffer", "int", "")],
     "join_gap"),
    ("Failure detection",
     "kill -9 of node N/2; time until the first other node, and until every other node, "
     "lists it failed (Serf) / dead (swarmnode).",
     [("detect_first_s", "first node sees it", "s", "≤ 0.50"),
      ("detect_all_s", "all nodes see it", "s", "≤ 0.50")],
     "detect_gap"),
    ("Idle CPU and memory per node",
     "Window with no polling after convergence. CPU: utime+stime from /proc/PID/stat, % of "
     "one core. RSS: VmRSS from /proc/PID/status at the end of the window.",
     [("cpu_mean", "CPU mean", "pct", ""), ("cpu_max", "CPU max", "pct", ""),
      ("rss_mean", "RSS mean", "mib", "≤ 0.25"), ("rss_max", "RSS max", "mib", "≤ 0.25")],
     None),
    ("Idle network per node",
     "Bytes sent on the namespace's lo (tx_bytes; each packet counted once), divided by the "
     "window and by N: in the idle window, and in the settle pause before it (the tail of "
     "the join's dissemination; no polling runs in either).",
     [("bps_node", "bytes/s per node, idle", "bps", "≤ 1.00"),
      ("bps_node_settle", "bytes/s per node, settle after the join", "bps", ""),
      ("udp_drops_idle", "UDP datagrams dropped, full socket buffer", "int", "")],
     None),
    ("False deaths under packet loss",
     "Uniform random drop of every packet the namespace receives (iptables statistic on "
     "INPUT; the runner's own control port is exempt) while all processes stay alive. "
     "Counted: distinct members any node ever listed failed/dead at a poll, and (observer, "
     "member) pairs; for Serf also EventMemberFailed lines in the agents' logs (exact, "
     "catches a death a poll could miss).",
     [("false_dead_members", "members listed failed/dead", "int", "0"),
      ("false_dead_reports", "(observer, member) pairs", "int", "0"),
      ("log_failed_events", "failed events in agent logs", "int", "0"),
      ("suspect_members", "members listed suspect", "int", ""),
      ("log_suspect_events", "suspicions in agent logs", "int", ""),
      ("loss_observed", "measured drop rate (of packets judged)", "ratio", ""),
      ("udp_drops_loss", "UDP datagrams dropped, full socket buffer", "int", ""),
      ("recover_s", "all alive again after loss removed", "s", "")],
     "loss_gap"),
]


def render(results, sizes, systems, args, meta):
    L = []
    L.append("# Membership benchmark: swarmnode vs HashiCorp Serf")
    L.append("")
    L.append("- date: %s" % meta["date"])
    L.append("- machine: %s, %d cores, %.1f GiB RAM, Linux %s, Python %s"
             % (meta["machine"]["cpu"], meta["machine"]["cores"], meta["machine"]["ram_gib"],
                meta["machine"]["kernel"], meta["machine"]["python"]))
    for s in systems:
        L.append("- %s: %s" % (s.name, meta["versions"].get(s.name, "?")))
    L.append("- command: `%s`" % meta["command"])
    L.append("- load average (1/5/15 min) at start %s, at end %s (the machine may be shared: "
             "other processes compete for the same cores)"
             % ("/".join(meta["loadavg_start"]), "/".join(meta["loadavg_end"])))
    L.append("- parameters: sizes %s; %d run(s) each; poll interval %g ms (%d poll threads); idle window %g s "
             "after %g s settle; loss %.0f %% for %g s; timeouts: start %g s, join %g s, "
             "recover %g s, detect %g s"
             % (",".join(map(str, sizes)), args.repeats, args.poll_interval * 1000, args.poll_workers,
                args.idle_window, args.settle, args.loss * 100, args.loss_window,
                args.start_timeout, args.join_timeout, args.recover_timeout,
                args.detect_timeout))
    L.append("- setup: one fresh network namespace per (system, N); agent i on 127.0.x.y, "
             "gossip port 7946; Serf default LAN profile with -encrypt (keygen per run); "
             "Serf polled over its msgpack RPC (cross-checked against `serf members -format "
             "json`), swarmnode over GET /swarmnode/members on its Unix socket; while joining, "
             "each is polled for its cheap counters first (Serf `stats`, swarmnode GET "
             "/swarmnode/gossip) and its full member list only once those say all alive")
    L.append("- poll gap: time between two answers from the same node; a timed result can be "
             "late by at most the poll gap of the answer that decided it (shown per row)")
    L.append("- several runs: median [min–max]; counts: total (per run)")
    L.append("")
    names = [s.name for s in systems]
    for title, desc, metrics, gapkey in SCENARIOS:
        L.append("## %s" % title)
        L.append("")
        L.append(desc)
        L.append("")
        head = ["N", "metric", "serf", "swarmnode", "swarmnode/serf", "target"]
        if gapkey:
            head.append("poll gap at result: serf · swarmnode")
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "|".join(["---"] * len(head)) + "|")
        for n in sizes:
            for k, (key, label, kind, target) in enumerate(metrics):
                row = [str(n), label]
                for name in ("serf", "swarmnode"):
                    row.append(cell(results, name, n, key, kind) if name in names
                               else "not run (--system)")
                row.append(ratio(results, n, key, kind))
                row.append(target)
                if gapkey:
                    row.append("%s · %s" % (res_cell(results, "serf", n, key),
                                            res_cell(results, "swarmnode", n, key))
                               if kind == "s" else "")
                L.append("| " + " | ".join(row) + " |")
        L.append("")
        if gapkey:
            L.append("Poll gaps during this step, mean / max: " + "; ".join(
                "N=%d serf %s, swarmnode %s" % (n, gap_cell(results, "serf", n, gapkey),
                                               gap_cell(results, "swarmnode", n, gapkey))
                for n in sizes) + ".")
            L.append("")
    L.append("## Machine load during the trials")
    L.append("")
    L.append("Cores in use (of %d) from the start of the joins to the kill, mean over that "
             "span: the agents, this runner (polling), and every other process on the machine."
             % meta["machine"]["cores"])
    L.append("")
    L.append("| N | metric | serf | swarmnode |")
    L.append("|---|---|---|---|")
    for n in sizes:
        for key, label in (("cores_agents", "agents"), ("cores_runner", "runner"),
                           ("cores_other", "other processes")):
            L.append("| %d | %s | %s | %s |" % (
                n, label,
                *(cell(results, name, n, key, "cores") if name in names else "not run (--system)"
                  for name in ("serf", "swarmnode"))))
    L.append("")
    failures = [(name, n, r + 1, t["error"]) for (name, n), trials in sorted(results.items())
                for r, t in enumerate(trials) if "error" in t]
    if failures:
        L.append("## Failures")
        L.append("")
        for name, n, run_no, err in failures:
            L.append("- %s N=%d run %d: %s" % (name, n, run_no, err.replace("\n", " ")))
        L.append("")
    L.append("Targets (issue 3) are on swarmnode/serf: convergence and detection at most half of "
             "Serf's, no more bytes/s per node, RSS at most a quarter; zero false deaths at 10 % "
             "loss.")
    L.append("")
    return "\n".join(L)


# -------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", default="16,64,128", help="comma-separated cluster sizes")
    p.add_argument("--system", choices=("serf", "swarmnode", "both"), default="both")
    p.add_argument("--swarmnode", default=os.path.join(REPO, "build", "swarmnode"),
                   metavar="BIN", help="swarmnode binary")
    p.add_argument("--serf", default="serf", metavar="BIN", help="serf binary")
    p.add_argument("--repeats", type=int, default=1, metavar="R",
                   help="fresh clusters per (system, N); tables show median [min-max]")
    p.add_argument("--quick", action="store_true",
                   help="N=16 with short windows (idle 10 s, loss 15 s): about a minute")
    p.add_argument("--poll-interval", type=float, default=0.1, metavar="S")
    p.add_argument("--poll-workers", type=int, default=8, metavar="K")
    p.add_argument("--settle", type=float, default=30.0, metavar="S",
                   help="pause after convergence before the idle window (measured on its own: "
                        "it holds the join's retransmission tail)")
    p.add_argument("--idle-window", type=float, default=30.0, metavar="S")
    p.add_argument("--loss", type=float, default=0.10, metavar="P", help="drop probability")
    p.add_argument("--loss-window", type=float, default=60.0, metavar="S")
    p.add_argument("--start-timeout", type=float, default=60.0, metavar="S")
    p.add_argument("--join-timeout", type=float, default=300.0, metavar="S")
    p.add_argument("--recover-timeout", type=float, default=120.0, metavar="S")
    p.add_argument("--detect-timeout", type=float, default=120.0, metavar="S")
    p.add_argument("--out", default=os.path.join(HERE, "results"), metavar="DIR",
                   help="where membership-<date>.md (and .json) are written")
    p.add_argument("--keep-logs", action="store_true", help="keep agent logs (path printed)")
    a = p.parse_args(argv)
    if a.quick:
        given = set(x.split("=")[0] for x in argv if x.startswith("--"))
        if "--sizes" not in given:
            a.sizes = "16"
        if "--idle-window" not in given:
            a.idle_window = 10.0
        if "--loss-window" not in given:
            a.loss_window = 15.0
        if "--settle" not in given:
            a.settle = 2.0
    try:
        a.sizes_list = [int(x) for x in a.sizes.split(",") if x.strip()]
    except ValueError:
        p.error("--sizes: expected comma-separated integers, got %r" % a.sizes)
    if not a.sizes_list or min(a.sizes_list) < 2:
        p.error("--sizes: every size must be at least 2")
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    if not 0 < a.loss < 1:
        p.error("--loss must be between 0 and 1")
    a.swarmnode = os.path.abspath(a.swarmnode)
    return a


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("membership.py needs root (network namespaces, iptables): "
              "sudo python3 %s ..." % os.path.relpath(__file__), file=sys.stderr)
        return 2
    for tool in ("ip", "iptables"):
        if not shutil.which(tool):
            print("missing %s (apt-get install iproute2 iptables)" % tool, file=sys.stderr)
            return 2
    _netns.install_signal_handlers()

    systems = []
    if args.system in ("serf", "both"):
        systems.append(SerfSystem(args.serf))
    if args.system in ("swarmnode", "both"):
        systems.append(SwarmnodeSystem(args.swarmnode))

    meta = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "machine": machine_info(), "versions": {},
            "command": " ".join(["python3", os.path.relpath(__file__, os.getcwd())] + argv),
            "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    unavailable = {}
    for s in systems:
        try:
            s.check()
        except Unavailable as e:
            unavailable[s.name] = {"unavailable": str(e), "short": e.short}
            log("%s: %s — its cells will read n/a" % (s.name, e))

    results = {}
    poller = Poller(args.poll_workers)
    t_start = time.monotonic()
    try:
        for n in args.sizes_list:
            for rep in range(args.repeats):
                for s in systems:
                    trials = results.setdefault((s.name, n), [])
                    if s.name in unavailable:
                        if not trials:
                            trials.append(unavailable[s.name])
                        continue
                    if args.repeats > 1:
                        log("[%s N=%d] run %d of %d" % (s.name, n, rep + 1, args.repeats))
                    try:
                        trials.append(run_trial(s, n, args, poller))
                    except Unavailable as e:
                        log("%s: %s — its cells will read n/a" % (s.name, e))
                        unavailable[s.name] = {"unavailable": str(e), "short": e.short}
                        trials[:] = [unavailable[s.name]]
    except KeyboardInterrupt:
        log("interrupted: stopping every agent and deleting every namespace")
        _netns.cleanup_all()
        return 130
    finally:
        poller.close()
        _netns.cleanup_all()

    for s in systems:
        try:
            v = s.version()
        except StepError as e:
            v = "version unknown (%s)" % e
        if s.name in unavailable:
            v += "; n/a: %s" % unavailable[s.name]["unavailable"]
        meta["versions"][s.name] = v
    meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    report = render(results, args.sizes_list, systems, args, meta)
    print(report)
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    path = os.path.join(args.out, "membership-%s.md" % stamp)
    with open(path, "w") as f:
        f.write(report)
    raw = {"meta": meta, "args": {k: v for k, v in vars(args).items()},
           "results": [{"system": k[0], "n": k[1], "run": r + 1, **v}
                       for k, runs in sorted(results.items()) for r, v in enumerate(runs)]}
    with open(path[:-3] + ".json", "w") as f:
        json.dump(raw, f, indent=1, default=str)
        f.write("\n")
    log("wrote %s (and .json) in %.0f s" % (path, time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
