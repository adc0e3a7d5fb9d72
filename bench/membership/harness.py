#!/usr/bin/env python3
"""Membership workloads M1-M4 and idle cost, for one gossip membership system.

    harness.py --system memberlist|pulsing --bin PATH [--workloads M1,M2,M3,M4,cost] [--quick]

Every node program takes `--port P --name nodeI [--seed 127.0.0.1:P0]` and prints one JSON
line per membership event on stdout:
    {"event": "...", "peer": "NAME", "alive": N, "t_ns": T}
with t_ns on CLOCK_MONOTONIC (time.monotonic_ns() here). Events this harness does not use
are ignored. Results go to stdout as one JSON line per workload; progress goes to stderr.

M4 and cost run in a network namespace of their own: the harness runs itself again under
`unshare -n` with --inside-netns, so that its iptables rules (10% UDP loss, byte counters)
touch nothing outside and no packet leaves the machine.

Standard library only.
"""

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

CONVERGE_TIMEOUT_S = 60.0
DETECT_TIMEOUT_S = 60.0
START_TIMEOUT_S = 10.0
TERM_GRACE_S = 3.0
SETTLE_S = 1.0           # after convergence, before failing a node (M2, M3)
IDLE_SETTLE_S = 5.0      # after convergence, before measuring idle cost
DEATH_EVENTS = ("dead",)  # events that declare a peer dead


LOG_TAG = "[harness]"


def log(*parts):
    print(LOG_TAG, *parts, file=sys.stderr, flush=True)


# Fields every JSON line carries (--keys adds "keys": true).
_every_line = {}


def emit(obj):
    print(json.dumps(dict(obj, **_every_line)), flush=True)


def now_ns():
    return time.monotonic_ns()


# --------------------------------------------------------------------------- ports

_used_ports = set()


def _port_free(port):
    """True if 127.0.0.1:port can be bound for both TCP and UDP right now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_ports(n):
    """n distinct ports below the ephemeral range, free for TCP and UDP, not used
    earlier in this process (so a run never meets the previous run's sockets)."""
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_lo = int(f.read().split()[0])
        hi = min(hi, eph_lo - 1)
    except (OSError, ValueError, IndexError):
        pass
    ports = []
    tries = 0
    while len(ports) < n:
        tries += 1
        if tries > 20000:
            raise RuntimeError("could not find %d free ports" % n)
        p = random.randint(lo, hi)
        if p in _used_ports or p in ports:
            continue
        if _port_free(p):
            ports.append(p)
    _used_ports.update(ports)
    return ports


# --------------------------------------------------------------------------- nodes

_all_children = []          # every Popen ever started, for the final sweep
_children_lock = threading.Lock()
_have_setpriv = shutil.which("setpriv") is not None


class Node:
    """One node process and the events it printed."""

    def __init__(self, index, name, port, argv, log_path=None):
        self.index = index
        self.name = name
        self.port = port
        self.events = []        # (t_ns, event, peer, alive)
        self.lock = threading.Lock()
        self.started_t = None
        self.full_t = None      # first t_ns with alive == target
        self.target = None
        self.bad_lines = 0
        cmd = list(argv)
        if _have_setpriv:
            # If the harness dies without cleaning up, the kernel kills the node.
            cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
        self.stderr_file = open(log_path, "wb") if log_path else subprocess.DEVNULL
        # With --log-dir, stdout lines are copied to <log>.events as well.
        self.events_file = open(log_path + ".events", "wb") if log_path else None
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr_file,
            start_new_session=True, close_fds=True)
        with _children_lock:
            _all_children.append(self.proc)
        self.reader = threading.Thread(target=self._read, name="read-" + name, daemon=True)
        self.reader.start()

    @property
    def pid(self):
        return self.proc.pid

    def _read(self):
        for raw in self.proc.stdout:
            if self.events_file is not None:
                self.events_file.write(raw)
            try:
                ev = json.loads(raw)
                t = int(ev["t_ns"])
                kind = str(ev["event"])
                peer = str(ev.get("peer", ""))
                alive = int(ev.get("alive", -1))
            except (ValueError, KeyError, TypeError):
                self.bad_lines += 1
                continue
            with self.lock:
                self.events.append((t, kind, peer, alive))
                if kind == "started" and self.started_t is None:
                    self.started_t = t
                if self.target is not None and self.full_t is None and alive == self.target:
                    self.full_t = t

    def set_target(self, n):
        with self.lock:
            self.target = n
            for (t, _k, _p, alive) in self.events:
                if alive == n:
                    self.full_t = t
                    break

    def events_since(self, t0, kinds=None, peer=None):
        with self.lock:
            return [e for e in self.events
                    if e[0] >= t0 and (kinds is None or e[1] in kinds)
                    and (peer is None or e[2] == peer)]

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass


def stop_nodes(nodes, grace=TERM_GRACE_S):
    """SIGCONT + SIGTERM every node, SIGKILL what is left after the grace period."""
    for n in nodes:
        n.signal(signal.SIGCONT)
        n.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for n in nodes:
        left = deadline - time.monotonic()
        try:
            n.proc.wait(timeout=max(left, 0.01))
        except subprocess.TimeoutExpired:
            pass
    for n in nodes:
        if n.proc.poll() is None:
            n.signal(signal.SIGKILL)
    for n in nodes:
        try:
            n.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log("warning: node %s (pid %d) did not die after SIGKILL" % (n.name, n.pid))
        n.reader.join(timeout=2)
        if n.stderr_file is not subprocess.DEVNULL:
            n.stderr_file.close()
        if n.events_file is not None:
            n.events_file.close()


def kill_all_children():
    with _children_lock:
        procs = list(_all_children)
    for p in procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class Cluster:
    """N nodes on 127.0.0.1: node 0 alone, the others seeded with node 0."""

    run_counter = 0

    def __init__(self, args, n):
        self.args = args
        self.n = n
        self.nodes = []
        self.t0 = None
        Cluster.run_counter += 1
        self.run_id = Cluster.run_counter

    def _argv(self, i, port, seed_port):
        argv = [self.args.bin, "--port", str(port), "--name", "node%d" % i]
        if self.args.key:
            argv += ["--key", self.args.key]  # the same for every node of the run
        if seed_port is not None:
            argv += ["--seed", "127.0.0.1:%d" % seed_port]
        return argv

    def _log_path(self, i):
        if not self.args.log_dir:
            return None
        os.makedirs(self.args.log_dir, exist_ok=True)
        return os.path.join(self.args.log_dir, "%s-run%03d-node%02d.log"
                            % (self.args.system, self.run_id, i))

    def start(self):
        """Starts node 0, waits for its "started" line, then starts the others back to back.
        Returns False if node 0 did not start in time."""
        ports = pick_ports(self.n)
        self.t0 = now_ns()
        n0 = Node(0, "node0", ports[0], self._argv(0, ports[0], None), self._log_path(0))
        self.nodes.append(n0)
        deadline = time.monotonic() + START_TIMEOUT_S
        while n0.started_t is None:
            if time.monotonic() > deadline or not n0.alive():
                log("node0 did not print 'started' (exit %s)" % n0.proc.poll())
                return False
            time.sleep(0.002)
        for i in range(1, self.n):
            self.nodes.append(Node(i, "node%d" % i, ports[i],
                                   self._argv(i, ports[i], ports[0]), self._log_path(i)))
        for nd in self.nodes:
            nd.set_target(self.n)
        return True

    def wait_converged(self, timeout=CONVERGE_TIMEOUT_S):
        """Seconds from the first start until the last node first printed alive == N,
        or None after `timeout` seconds (or if a node exited)."""
        deadline = time.monotonic() + timeout
        while True:
            fulls = [nd.full_t for nd in self.nodes]
            if all(f is not None for f in fulls):
                return (max(fulls) - self.t0) / 1e9
            if time.monotonic() > deadline:
                return None
            dead = [nd.name for nd in self.nodes if not nd.alive()]
            if dead:
                log("nodes exited during convergence: %s" % ",".join(dead))
                return None
            time.sleep(0.01)

    def stop(self):
        stop_nodes(self.nodes)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# --------------------------------------------------------------------------- helpers

def median_or_none(values):
    """Median where a failed run (None) counts as worse than any number; None if the
    median itself falls on a failed run."""
    if not values:
        return None
    xs = sorted(float("inf") if v is None else v for v in values)
    m = statistics.median(xs)
    return None if m == float("inf") or m != m else round(m, 4)


def rnd(x, k=4):
    return None if x is None else round(x, k)


def proc_cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return int(fields[11]) + int(fields[12])


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return None


def victim_index(n):
    return random.randint(1, n - 1)


def is_death(kind, system):
    if kind in DEATH_EVENTS:
        return True
    # memberlist reports a death and a leave alike (NotifyLeave); its node program prints
    # "dead", but count "left" too should a build manage to tell them apart.
    return system == "memberlist" and kind == "left"


# --------------------------------------------------------------------------- M1

def run_m1(args, n, runs, target_s):
    name = "M1-%d" % n
    values = []
    for r in range(runs):
        log("%s %s run %d/%d" % (name, args.system, r + 1, runs))
        with Cluster(args, n) as c:
            v = c.wait_converged() if c.start() else None
        log("  -> %s" % ("FAILED (no convergence in %.0f s)" % CONVERGE_TIMEOUT_S
                         if v is None else "%.3f s" % v))
        values.append(rnd(v))
    ok = [v for v in values if v is not None]
    out = {"workload": name, "system": args.system, "value": median_or_none(values),
           "unit": "s", "runs": values, "max": max(ok) if len(ok) == len(values) and ok else None,
           "met": sum(1 for v in ok if v <= target_s), "of": len(values),
           "failed": len(values) - len(ok), "target_s": target_s, "nodes": n}
    if n >= 48:
        m = out["value"]
        out["median_met"] = m is not None and m <= target_s
    emit(out)


# --------------------------------------------------------------------------- M2

def run_m2(args, n, runs):
    firsts, alls, details = [], [], []
    for r in range(runs):
        log("M2 %s run %d/%d" % (args.system, r + 1, runs))
        first = every = None
        with Cluster(args, n) as c:
            conv = c.wait_converged() if c.start() else None
            if conv is None:
                log("  -> FAILED: no convergence")
            else:
                time.sleep(SETTLE_S)
                vi = victim_index(n)
                victim = c.nodes[vi]
                survivors = [nd for nd in c.nodes if nd is not victim]
                t_kill = now_ns()
                victim.signal(signal.SIGKILL)
                deadline = time.monotonic() + DETECT_TIMEOUT_S
                seen = {}
                while time.monotonic() < deadline:
                    for nd in survivors:
                        if nd.name in seen:
                            continue
                        evs = [e for e in nd.events_since(t_kill, peer=victim.name)
                               if is_death(e[1], args.system)]
                        if evs:
                            seen[nd.name] = evs[0][0]
                    if len(seen) == len(survivors):
                        break
                    time.sleep(0.01)
                if seen:
                    first = (min(seen.values()) - t_kill) / 1e9
                if len(seen) == len(survivors):
                    every = (max(seen.values()) - t_kill) / 1e9
                log("  -> killed node%d; first %s s, all %s s (%d/%d survivors)"
                    % (vi, rnd(first, 3), rnd(every, 3), len(seen), len(survivors)))
                details.append({"victim": vi, "first": rnd(first), "all": rnd(every),
                                "detected_by": len(seen), "survivors": len(survivors)})
        firsts.append(rnd(first))
        alls.append(rnd(every))
    ok = [v for v in alls if v is not None]
    emit({"workload": "M2", "system": args.system, "value": median_or_none(alls), "unit": "s",
          "measure": "all survivors marked the killed node dead",
          "first": median_or_none(firsts), "runs": alls, "first_runs": firsts,
          "met": sum(1 for v in ok if v <= 5.0), "of": len(alls),
          "failed": len(alls) - len(ok), "target_median_s": 5.0, "nodes": n, "detail": details})


# --------------------------------------------------------------------------- M3

def run_m3(args, n, runs, pause_s=3.0, after_s=10.0):
    counts, details = [], []
    for r in range(runs):
        log("M3 %s run %d/%d" % (args.system, r + 1, runs))
        with Cluster(args, n) as c:
            conv = c.wait_converged() if c.start() else None
            if conv is None:
                log("  -> FAILED: no convergence")
                counts.append(None)
                continue
            time.sleep(SETTLE_S)
            vi = victim_index(n)
            victim = c.nodes[vi]
            survivors = [nd for nd in c.nodes if nd is not victim]
            t_stop = now_ns()
            victim.signal(signal.SIGSTOP)
            time.sleep(pause_s)
            victim.signal(signal.SIGCONT)
            time.sleep(after_s)
            false_dead = sum(1 for nd in survivors
                             if any(is_death(e[1], args.system)
                                    for e in nd.events_since(t_stop, peer=victim.name)))
            suspected = sum(1 for nd in survivors
                            if nd.events_since(t_stop, kinds=("suspect",), peer=victim.name))
            # Deaths of anyone else, by anyone (the paused node included): also false.
            other_dead = sum(1 for nd in c.nodes for e in nd.events_since(t_stop)
                             if is_death(e[1], args.system) and e[2] != victim.name)
            still_alive = victim.alive()
            log("  -> paused node%d; %d survivors declared it dead, %d suspected it; "
                "%d other deaths" % (vi, false_dead, suspected, other_dead))
            counts.append(false_dead)
            details.append({"victim": vi, "false_dead": false_dead, "suspected": suspected,
                            "other_dead": other_dead, "victim_running": still_alive})
    ok = [v for v in counts if v is not None]
    emit({"workload": "M3", "system": args.system, "value": sum(ok), "unit": "false deaths",
          "measure": "survivors that declared the paused node dead, summed over runs",
          "runs": counts, "met": sum(1 for v in ok if v == 0), "of": len(counts),
          "failed": len(counts) - len(ok), "pause_s": pause_s, "after_s": after_s,
          "nodes": n, "detail": details})


# --------------------------------------------------------------------------- netns tools

class Iptables:
    """iptables inside our own network namespace; nft backend first, legacy second."""

    def __init__(self):
        self.cmd = None
        self.error = None
        errors = []
        for cand in ("iptables", "iptables-legacy"):
            if shutil.which(cand) is None:
                errors.append("%s: not installed" % cand)
                continue
            r = subprocess.run([cand, "-w", "5", "-L", "-n"], capture_output=True,
                               text=True, timeout=30)
            if r.returncode == 0:
                self.cmd = cand
                return
            errors.append("%s: %s" % (cand, (r.stderr or r.stdout).strip()))
        self.error = "; ".join(errors)

    def run(self, *rule):
        r = subprocess.run([self.cmd, "-w", "5"] + list(rule), capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("%s %s: %s" % (self.cmd, " ".join(rule), r.stderr.strip()))
        return r.stdout

    def counters(self, chain):
        """[(pkts, bytes)] of the chain's rules, in order."""
        out = self.run("-L", chain, "-v", "-x", "-n")
        rows = []
        for line in out.splitlines()[2:]:
            parts = line.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                rows.append((int(parts[0]), int(parts[1])))
        return rows


def bring_lo_up():
    r = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("ip link set lo up: %s" % r.stderr.strip())


def udp_loss_selftest(count=2000):
    """Sends `count` datagrams through lo and returns the fraction that did not arrive."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got = 0
    try:
        for i in range(count):
            tx.sendto(b"x" * 32, rx.getsockname())
            if i % 100 == 99:
                time.sleep(0.001)
        while True:
            try:
                rx.recv(64)
                got += 1
            except socket.timeout:
                break
    finally:
        rx.close()
        tx.close()
    return 1.0 - got / count


def in_netns_or_reexec(args, workload):
    """Outside: runs this script again under `unshare -n` for one workload and relays its
    output. Returns True if the caller should run the workload itself (we are inside)."""
    if args.inside_netns:
        return True
    if shutil.which("unshare") is None:
        emit({"workload": workload, "system": args.system, "value": None,
              "error": "unshare not found (util-linux)"})
        return False
    argv = ["unshare", "-n", "--", sys.executable, os.path.abspath(__file__), "--inside-netns",
            "--system", args.system, "--bin", args.bin, "--workloads", workload,
            "--m4-seconds", str(args.m4_seconds), "--cost-seconds", str(args.cost_seconds),
            "--nodes", str(args.nodes), "--seed-rng", str(args.seed_rng + 1000)]
    if args.log_dir:
        argv += ["--log-dir", args.log_dir]
    if args.keys:
        argv += ["--keys"]
    budget = CONVERGE_TIMEOUT_S + max(args.m4_seconds, args.cost_seconds) + 120
    log("%s: entering a new network namespace (unshare -n)" % workload)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    with _children_lock:
        _all_children.append(p)
    try:
        rc = p.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        log("%s: inner harness over its %.0f s budget; stopping it" % (workload, budget))
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
        emit({"workload": workload, "system": args.system, "value": None,
              "error": "timed out after %.0f s" % budget})
        return False
    if rc != 0:
        if rc == 1 and os.geteuid() != 0:
            hint = " (unshare -n needs root or CAP_SYS_ADMIN)"
        else:
            hint = ""
        log("%s: inner harness exited with %d%s" % (workload, rc, hint))
    return False


def netns_setup(args, workload):
    """Inside the namespace: lo up and a working iptables, or None after reporting why."""
    try:
        bring_lo_up()
    except (RuntimeError, OSError) as e:
        emit({"workload": workload, "system": args.system, "value": None, "error": str(e)})
        return None
    ipt = Iptables()
    if ipt.cmd is None:
        emit({"workload": workload, "system": args.system, "value": None,
              "error": "iptables does not work in the namespace: %s" % ipt.error})
        return None
    log("%s: using %s" % (workload, ipt.cmd))
    return ipt


# --------------------------------------------------------------------------- M4

def run_m4(args, n, seconds, loss=0.10):
    if not in_netns_or_reexec(args, "M4"):
        return
    ipt = netns_setup(args, "M4")
    if ipt is None:
        return
    try:
        # Rule 1 counts every UDP datagram arriving on lo, rule 2 drops 10% of them.
        ipt.run("-A", "INPUT", "-i", "lo", "-p", "udp")
        ipt.run("-A", "INPUT", "-i", "lo", "-p", "udp", "-m", "statistic", "--mode", "random",
                "--probability", "%.2f" % loss, "-j", "DROP")
    except RuntimeError as e:
        emit({"workload": "M4", "system": args.system, "value": None,
              "error": "cannot add the loss rule (%s). Is xt_statistic available?" % e})
        return
    selftest = udp_loss_selftest()
    log("M4: self-test loss %.3f (want about %.2f)" % (selftest, loss))
    if selftest < loss / 3:
        emit({"workload": "M4", "system": args.system, "value": None,
              "error": "the loss rule does not drop packets (self-test loss %.3f)" % selftest})
        return
    base = ipt.counters("INPUT")
    log("M4 %s: %d nodes, %d s at %.0f%% UDP loss" % (args.system, n, seconds, loss * 100))
    with Cluster(args, n) as c:
        if not c.start():
            emit({"workload": "M4", "system": args.system, "value": None, "nodes": n,
                  "error": "node 0 did not start"})
            return
        conv = c.wait_converged()
        if conv is None:
            # Still worth watching: false deaths count whether or not every view is full.
            log("M4: NOT converged after %.0f s under loss; watching for %d s anyway"
                % (CONVERGE_TIMEOUT_S, seconds))
        else:
            log("M4: converged in %.3f s; watching for %d s" % (conv, seconds))
        t_conv = now_ns()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            gone = [nd.name for nd in c.nodes if not nd.alive()]
            if gone:
                log("M4: nodes exited: %s" % ",".join(gone))
                break
        after = ipt.counters("INPUT")
        deaths_all = [(nd.name, e[2]) for nd in c.nodes for e in nd.events_since(c.t0)
                      if is_death(e[1], args.system)]
        deaths_conv = [(nd.name, e[2]) for nd in c.nodes for e in nd.events_since(t_conv)
                       if is_death(e[1], args.system)]
        suspects = sum(len(nd.events_since(t_conv, kinds=("suspect",))) for nd in c.nodes)
        running = sum(1 for nd in c.nodes if nd.alive())
    total = after[0][0] - base[0][0]
    dropped = after[1][0] - base[1][0]
    emit({"workload": "M4", "system": args.system, "value": len(deaths_all),
          "unit": "false deaths", "measure": "death events while no node failed, from start",
          "after_convergence": len(deaths_conv), "suspect_events": suspects,
          "met": 1 if not deaths_all else 0, "of": 1, "seconds": seconds, "nodes": n,
          "converge_s": rnd(conv), "converged": conv is not None, "udp_in_pkts": total,
          "observed_loss": rnd(dropped / total if total else None),
          "selftest_loss": rnd(selftest), "iptables": ipt.cmd, "nodes_running_at_end": running,
          "deaths": ["%s saw %s" % d for d in deaths_all[:50]]})


# --------------------------------------------------------------------------- cost

def run_cost(args, n, seconds):
    if not in_netns_or_reexec(args, "cost"):
        return
    ipt = netns_setup(args, "cost")
    if ipt is None:
        return
    ipt.run("-A", "OUTPUT", "-o", "lo", "-p", "udp")
    ipt.run("-A", "OUTPUT", "-o", "lo", "-p", "tcp")
    hz = os.sysconf("SC_CLK_TCK")
    log("cost %s: %d idle nodes for %d s" % (args.system, n, seconds))
    with Cluster(args, n) as c:
        conv = c.wait_converged() if c.start() else None
        if conv is None:
            emit({"workload": "cost-cpu", "system": args.system, "value": None,
                  "error": "no convergence"})
            return
        time.sleep(IDLE_SETTLE_S)
        cpu0 = [proc_cpu_ticks(nd.pid) for nd in c.nodes]
        net0 = ipt.counters("OUTPUT")
        t0 = time.monotonic()
        time.sleep(seconds)
        cpu1 = [proc_cpu_ticks(nd.pid) for nd in c.nodes]
        net1 = ipt.counters("OUTPUT")
        dt = time.monotonic() - t0
        running = sum(1 for nd in c.nodes if nd.alive())
        deaths = sum(1 for nd in c.nodes for e in nd.events_since(c.t0)
                     if is_death(e[1], args.system))
    if any(a is None or b is None for a, b in zip(cpu0, cpu1)):
        emit({"workload": "cost-cpu", "system": args.system, "value": None,
              "error": "a node exited during the measurement"})
        return
    cpu_s = sum(b - a for a, b in zip(cpu0, cpu1)) / hz
    udp_pkts = net1[0][0] - net0[0][0]
    udp_bytes = net1[0][1] - net0[0][1]
    tcp_bytes = net1[1][1] - net0[1][1]
    common = {"nodes": n, "seconds": rnd(dt, 2),
              "nodes_running": running, "deaths": deaths, "loadavg": loadavg()}
    emit(dict({"workload": "cost-cpu", "system": args.system, "value": rnd(cpu_s / dt, 4), "unit": "cores",
               "cpu_s": rnd(cpu_s, 3)}, **common))
    emit(dict({"workload": "cost-udp", "system": args.system, "value": rnd(udp_bytes / dt / 1000, 3),
               "unit": "KB/s", "measure": "UDP bytes sent on lo by all nodes, IP headers included",
               "udp_pkts_per_s": rnd(udp_pkts / dt, 1),
               "udp_payload_kb_per_s": rnd((udp_bytes - 28 * udp_pkts) / dt / 1000, 3),
               "tcp_kb_per_s": rnd(tcp_bytes / dt / 1000, 3)}, **common))


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--system", required=True, choices=("memberlist", "pulsing"))
    ap.add_argument("--bin", required=True, help="node program")
    ap.add_argument("--workloads", default="M1,M2,M3,M4,cost",
                    help="comma-separated subset of M1,M1-16,M1-48,M2,M3,M4,cost")
    ap.add_argument("--quick", action="store_true", help="runs=2, M4 20 s, cost 10 s")
    ap.add_argument("--runs", type=int, help="runs for every workload (overrides defaults)")
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--m4-seconds", type=int)
    ap.add_argument("--cost-seconds", type=int)
    ap.add_argument("--log-dir", help="keep every node's stderr here")
    ap.add_argument("--seed-rng", type=int, default=1, help="seed for victims and ports")
    ap.add_argument("--inside-netns", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--keys", action="store_true",
                    help="gossip encrypted: pulsing sealed with a cluster key, memberlist with its keyring "
                         "(SecretKey, AES-256-GCM); one random key per harness run")
    args = ap.parse_args()
    args.key = secrets.token_hex(32) if args.keys else None
    if args.keys:
        _every_line["keys"] = True

    if args.inside_netns:
        global LOG_TAG
        LOG_TAG = "[harness/netns]"
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        ap.error("not an executable: %s" % args.bin)
    if args.log_dir:
        args.log_dir = os.path.abspath(args.log_dir)
    if args.m4_seconds is None:
        args.m4_seconds = 20 if args.quick else 120
    if args.cost_seconds is None:
        args.cost_seconds = 10 if args.quick else 30
    random.seed(args.seed_rng)

    def runs(default):
        if args.runs:
            return args.runs
        return 2 if args.quick else default

    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    known = {"M1", "M1-16", "M1-48", "M2", "M3", "M4", "cost"}
    bad = [w for w in wanted if w not in known]
    if bad:
        ap.error("unknown workload(s): %s" % ",".join(bad))

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    n = args.nodes
    log("system %s, bin %s, load average %s" % (args.system, args.bin, loadavg()))
    try:
        for w in wanted:
            t = time.monotonic()
            if w in ("M1", "M1-16"):
                run_m1(args, n, runs(10), 1.0)
            if w in ("M1", "M1-48"):
                run_m1(args, 48, runs(3), 3.0)
            if w == "M2":
                run_m2(args, n, runs(5))
            if w == "M3":
                run_m3(args, n, runs(10))
            if w == "M4":
                run_m4(args, n, args.m4_seconds)
            if w == "cost":
                run_cost(args, n, args.cost_seconds)
            log("%s done in %.0f s" % (w, time.monotonic() - t))
    finally:
        kill_all_children()
    return 0


if __name__ == "__main__":
    sys.exit(main())
