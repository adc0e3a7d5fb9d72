#!/usr/bin/python3
"""The chaos suite's driver (tests/chaos/README.md): real `pulsing node` processes, each in a
network namespace of its own on a bridge, a workload of chaos_worker processes, and faults on a
schedule drawn from a seed. It writes a run directory that checker.py reads:

  faults.jsonl    what was done when: {"t", "scenario", "action", ...}
  members.jsonl   what each node said of the cluster, polled: {"t", "observer", "members": {name: state}}
  names.jsonl     name checks at quiet points: {"t", "scenario", "node", "name", "expect", "outcome"}
  rss.jsonl       each process's resident memory, polled: {"t", "process", "rss_mb"}
  w*.jsonl        each worker's calls and membership events (chaos_worker.cpp)
  *.log           each process's stderr

It must run as root inside a network namespace of its own (run.sh enters one with `unshare -n`):
every address it uses is on its own bridge, and nothing it sends can leave the machine.

  chaos.py --cli PATH --worker PATH --run-dir DIR [--seed N] [--long] [--scenario NAME]...
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

SUBNET = "10.77.0"
BRIDGE_IP = SUBNET + ".1"
NODE_PORT = 7000
WORKER_PORT = 7100
HOSTS = 5
WORKER_HOSTS = (1, 2, 3)
POLL_S = 0.5
CONVERGE_BOUND_S = 30.0
# How long a killed node stays down: past checker.py's bound on its detection (10 s).
DEAD_WAIT_S = 12.0


def now_ms():
    return int(time.time() * 1000)


def log(text):
    print("[chaos] " + text, file=sys.stderr, flush=True)


def sh(*argv, check=True, timeout=30):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()))
    return r


class Journal:
    """Appends JSON lines to a file of the run directory, from any thread."""

    def __init__(self, path):
        self.file = open(path, "a")
        self.lock = threading.Lock()

    def write(self, record):
        record.setdefault("t", now_ms())
        with self.lock:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()


class Host:
    """A network namespace (held by a sleeping process) on the bridge, with one address."""

    def __init__(self, k):
        self.k = k
        self.ip = "%s.%d" % (SUBNET, 10 + k)
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
        time.sleep(0.05)
        veth = "vh%d" % k
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth%d" % k)
        sh("ip", "link", "set", veth, "master", "br0", "up")
        sh("ip", "link", "set", "eth%d" % k, "netns", str(self.holder.pid))
        self.run("ip", "link", "set", "lo", "up")
        self.run("ip", "link", "set", "eth%d" % k, "name", "eth0")
        self.run("ip", "addr", "add", self.ip + "/24", "dev", "eth0")
        self.run("ip", "link", "set", "eth0", "up")

    def argv(self, *argv):
        return ["nsenter", "-t", str(self.holder.pid), "-n", "--"] + list(argv)

    def run(self, *argv, check=True):
        return sh(*self.argv(*argv), check=check)

    def iptables(self, *rule):
        self.run("iptables", "-w", "5", *rule)

    def close(self):
        self.holder.kill()
        self.holder.wait()


class Process:
    """A program started in a host's namespace; its stderr goes to a log of the run."""

    def __init__(self, host, name, argv, run_dir):
        self.host, self.name, self.argv, self.run_dir = host, name, argv, run_dir
        self.popen = None

    def start(self):
        err = open(os.path.join(self.run_dir, self.name + ".log"), "a")
        self.popen = subprocess.Popen(self.host.argv(*self.argv), stdout=subprocess.DEVNULL, stderr=err,
                                      start_new_session=True)

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.popen.pid, sig)

    def stop(self, grace=10):
        if not self.alive():
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def kill(self):
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def rss_mb(self):
        # nsenter execs the program in its place: the pid is the program's.
        try:
            with open("/proc/%d/status" % self.popen.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except (OSError, ValueError):
            return None
        return None


class Cluster:
    def __init__(self, args):
        self.args = args
        self.cli = args.cli
        self.worker_bin = args.worker
        self.key = os.path.join(args.run_dir, "cluster.key")
        self.faults = Journal(os.path.join(args.run_dir, "faults.jsonl"))
        self.members = Journal(os.path.join(args.run_dir, "members.jsonl"))
        self.names = Journal(os.path.join(args.run_dir, "names.jsonl"))
        self.rss = Journal(os.path.join(args.run_dir, "rss.jsonl"))
        self.hosts = []
        self.nodes = {}
        self.workers = {}
        self.stop_polling = threading.Event()

    # ---------------------------------------------------------------- set-up

    def setup(self):
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", "br0", "type", "bridge")
        sh("ip", "addr", "add", BRIDGE_IP + "/24", "dev", "br0")
        sh("ip", "link", "set", "br0", "up")
        sh(self.cli, "keygen", self.key)
        self.hosts = [Host(k) for k in range(1, HOSTS + 1)]
        seeds = ",".join("%s:%d" % (h.ip, NODE_PORT) for h in self.hosts[:3])
        for h in self.hosts:
            self.nodes[h.k] = Process(h, "h%d" % h.k, [
                self.cli, "node", "--name", "h%d" % h.k, "--listen", "%s:%d" % (h.ip, NODE_PORT),
                "--seeds", seeds, "--cluster-key-file", self.key, "--services", "echo-h%d=echo" % h.k,
                "--workers", "1", "--log-level", "warn"], self.args.run_dir)
        workers = ["w%d" % k for k in WORKER_HOSTS]
        for k in WORKER_HOSTS:
            h = self.hosts[k - 1]
            self.workers[k] = Process(h, "w%d" % k, [
                self.worker_bin, "--name", "w%d" % k, "--listen", "%s:%d" % (h.ip, WORKER_PORT),
                "--seeds", seeds, "--cluster-key-file", self.key,
                "--peers", ",".join(w for w in workers if w != "w%d" % k),
                "--log", os.path.join(self.args.run_dir, "w%d.jsonl" % k)], self.args.run_dir)

    def start(self):
        """The nodes, then (once they see each other) the workers: a worker that joined through
        seeds not listening yet would report them dead before any fault."""
        for p in self.nodes.values():
            p.start()
        deadline = time.monotonic() + CONVERGE_BOUND_S
        while time.monotonic() < deadline:
            views = [self.members_of(k) for k in self.nodes]
            if all(v is not None and sum(1 for n, s in v.items() if s == "alive") == len(self.nodes) for v in views):
                break
            time.sleep(POLL_S)
        for p in self.workers.values():
            p.start()
        threading.Thread(target=self.poll_members, daemon=True).start()
        threading.Thread(target=self.poll_rss, daemon=True).start()

    def close(self):
        self.stop_polling.set()
        for p in list(self.workers.values()) + list(self.nodes.values()):
            p.stop()
        for h in self.hosts:
            h.close()

    # ---------------------------------------------------------------- observation

    def members_of(self, k, timeout="1s"):
        """What node k says of the cluster: {name: state}, or None when it does not answer."""
        h = self.hosts[k - 1]
        r = subprocess.run([self.cli, "members", "--json", "--node", "%s:%d" % (h.ip, NODE_PORT),
                            "--key-file", self.key, "--timeout", timeout],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            return None
        try:
            listed = json.loads(r.stdout)
        except ValueError:
            return None
        return {m["name"]: m["state"] for m in listed}

    def poll_members(self):
        while not self.stop_polling.is_set():
            started = time.monotonic()
            results = {}

            def one(k):
                results[k] = self.members_of(k) if self.nodes[k].alive() else None

            threads = [threading.Thread(target=one, args=(k,)) for k in self.nodes]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for k, members in results.items():
                if members is not None:
                    self.members.write({"observer": "h%d" % k, "members": members})
            self.stop_polling.wait(max(0.0, POLL_S - (time.monotonic() - started)))

    def poll_rss(self):
        while not self.stop_polling.is_set():
            for p in list(self.nodes.values()) + list(self.workers.values()):
                if p.alive():
                    mb = p.rss_mb()
                    if mb is not None:
                        self.rss.write({"process": p.name, "rss_mb": round(mb, 1)})
            self.stop_polling.wait(1.0)

    def converged(self, live):
        """Whether every node in `live` sees exactly the members alive that run: those nodes and
        the workers. (A worker's own view is not asked: it serves no `pulsing members`.)"""
        want = {"h%d" % k for k in live} | {"w%d" % k for k in self.workers}
        for members in [self.members_of(k) for k in live]:
            if members is None:
                return False
            if {n for n, s in members.items() if s == "alive"} != want:
                return False
        return True

    def wait_converged(self, live, scenario, bound=CONVERGE_BOUND_S):
        started = time.monotonic()
        while time.monotonic() - started < bound:
            if self.converged(live):
                took = time.monotonic() - started
                self.faults.write({"scenario": scenario, "action": "converged", "seconds": round(took, 2),
                                   "live": sorted(live)})
                return True
            time.sleep(POLL_S)
        self.faults.write({"scenario": scenario, "action": "not_converged", "seconds": bound, "live": sorted(live)})
        return False

    def check_names(self, scenario, live):
        """From every live node: each live node's service resolves; a long-stopped worker name
        does not."""
        for k in live:
            h = self.hosts[k - 1]
            expect = [("echo-h%d" % j, "found") for j in live] + [("w%d-0" % w, "not_found") for w in WORKER_HOSTS]
            for name, want in expect:
                r = subprocess.run([self.cli, "resolve", name, "--node", "%s:%d" % (h.ip, NODE_PORT),
                                    "--key-file", self.key, "--timeout", "2s"],
                                   capture_output=True, text=True, timeout=15)
                outcome = {0: "found", 3: "not_found"}.get(r.returncode, "error %d" % r.returncode)
                self.names.write({"scenario": scenario, "node": "h%d" % k, "name": name, "expect": want,
                                  "outcome": outcome})

    # ---------------------------------------------------------------- faults

    def note(self, scenario, action, **fields):
        log("%s: %s %s" % (scenario, action, " ".join("%s=%s" % kv for kv in fields.items())))
        self.faults.write(dict({"scenario": scenario, "action": action}, **fields))

    def partition(self, side_a, side_b, both_ways=True):
        for a in side_a:
            for b in side_b:
                self.hosts[a - 1].iptables("-I", "INPUT", "-s", self.hosts[b - 1].ip, "-j", "DROP")
                if both_ways:
                    self.hosts[b - 1].iptables("-I", "INPUT", "-s", self.hosts[a - 1].ip, "-j", "DROP")

    def loss(self, probability):
        for h in self.hosts:
            # Not from the bridge: the observer's own calls keep their view of the cluster.
            h.iptables("-I", "INPUT", "!", "-s", BRIDGE_IP, "-m", "statistic", "--mode", "random",
                       "--probability", "%.2f" % probability, "-j", "DROP")

    def heal(self):
        for h in self.hosts:
            h.iptables("-F", "INPUT")


# -------------------------------------------------------------------- scenarios
# Each returns the set of hosts whose nodes run at its end; every scenario ends healed and
# converged, with a name check.

def kill_one(c, rnd, long_run):
    victim = rnd.choice([4, 5])
    c.note("kill-one", "kill9", node="h%d" % victim)
    c.nodes[victim].kill()
    c.note("kill-one", "killed", node="h%d" % victim)
    time.sleep(DEAD_WAIT_S)
    c.nodes[victim].start()
    c.note("kill-one", "restarted", node="h%d" % victim)


def fast_restart(c, rnd, long_run):
    # Back before anyone declared them dead: each returns as a new run with an empty shard, and
    # no member saw it go. Two at once (three with --long), seeds among them or not.
    victims = sorted(rnd.sample([1, 2, 3, 4, 5], 3 if long_run else 2))
    for v in victims:
        c.nodes[v].kill()
    c.note("fast-restart", "killed_and_restarting", nodes=["h%d" % v for v in victims])
    time.sleep(0.5)
    for v in victims:
        c.nodes[v].start()
    c.note("fast-restart", "restarted", nodes=["h%d" % v for v in victims])


def kill_minority(c, rnd, long_run):
    victims = rnd.sample([2, 3, 4, 5], 2)
    for v in victims:
        c.nodes[v].kill()
    c.note("kill-minority", "killed", nodes=["h%d" % v for v in victims])
    time.sleep(DEAD_WAIT_S)
    for v in victims:
        c.nodes[v].start()
    c.note("kill-minority", "restarted", nodes=["h%d" % v for v in victims])


def partition_halves(c, rnd, long_run):
    ks = list(range(1, HOSTS + 1))
    rnd.shuffle(ks)
    side_a, side_b = sorted(ks[:2]), sorted(ks[2:])
    c.partition(side_a, side_b)
    c.note("partition", "partitioned", side_a=["h%d" % k for k in side_a], side_b=["h%d" % k for k in side_b])
    time.sleep(20 if long_run else 12)
    c.heal()
    c.note("partition", "healed")


def partition_asymmetric(c, rnd, long_run):
    a, b = rnd.sample(range(1, HOSTS + 1), 2)
    c.partition([b], [a], both_ways=False)  # b drops what a sends: a hears b, b does not hear a
    c.note("asymmetric", "partitioned", deaf="h%d" % b, unheard="h%d" % a)
    time.sleep(15 if long_run else 10)
    c.heal()
    c.note("asymmetric", "healed")


def loss(probability, seconds_short, seconds_long, name):
    def scenario(c, rnd, long_run):
        c.loss(probability)
        c.note(name, "loss_on", probability=probability)
        time.sleep(seconds_long if long_run else seconds_short)
        c.heal()
        c.note(name, "loss_off")
    return scenario


def pause(seconds, name):
    def scenario(c, rnd, long_run):
        victim = rnd.choice([4, 5])
        c.nodes[victim].signal(signal.SIGSTOP)
        c.note(name, "stopped", node="h%d" % victim, seconds=seconds)
        time.sleep(seconds)
        c.nodes[victim].signal(signal.SIGCONT)
        c.note(name, "continued", node="h%d" % victim)
    return scenario


def mass_restart(c, rnd, long_run):
    for p in c.nodes.values():
        p.kill()
    c.note("mass-restart", "killed", nodes=["h%d" % k for k in c.nodes])
    time.sleep(1)
    for p in c.nodes.values():
        p.start()
    c.note("mass-restart", "restarted", nodes=["h%d" % k for k in c.nodes])


def rolling_restart(c, rnd, long_run):
    for k, p in sorted(c.nodes.items()):
        p.stop()
        p.start()
        c.note("rolling-restart", "restarted", node="h%d" % k)
        c.wait_converged(set(c.nodes), "rolling-restart")


SCENARIOS = {
    "kill-one": (kill_one, False),
    "partition": (partition_halves, False),
    "loss-10": (loss(0.10, 30, 60, "loss-10"), False),
    "pause-short": (pause(1.5, "pause-short"), False),
    "pause-long": (pause(12, "pause-long"), False),
    "fast-restart": (fast_restart, False),
    "mass-restart": (mass_restart, False),
    # The long schedule (--long) adds these.
    "kill-minority": (kill_minority, True),
    "asymmetric": (partition_asymmetric, True),
    "loss-30": (loss(0.30, 30, 60, "loss-30"), True),
    "rolling-restart": (rolling_restart, True),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True, help="the pulsing program")
    ap.add_argument("--worker", required=True, help="the chaos_worker program")
    ap.add_argument("--run-dir", required=True, help="where the logs go (made if missing)")
    ap.add_argument("--seed", type=int, default=None, help="the schedule's seed (default: drawn, and printed)")
    ap.add_argument("--long", action="store_true", help="every scenario, held longer")
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="only these, in order")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("chaos.py: must run as root, inside a network namespace of its own (tests/chaos/run.sh)")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    os.makedirs(args.run_dir, exist_ok=True)
    names = args.scenario or [n for n, (_, long_only) in SCENARIOS.items() if args.long or not long_only]
    rnd = random.Random(seed)
    if not args.scenario:
        rnd.shuffle(names)
    log("seed %d, scenarios %s (repeat with --seed %d%s)" % (seed, ",".join(names), seed,
                                                               " --long" if args.long else ""))
    with open(os.path.join(args.run_dir, "schedule.json"), "w") as f:
        json.dump({"seed": seed, "long": args.long, "scenarios": names}, f)

    c = Cluster(args)
    ok = True
    try:
        c.setup()
        c.start()
        everyone = set(range(1, HOSTS + 1))
        ok = c.wait_converged(everyone, "start")
        time.sleep(3)  # the workers spawn their first names
        for name in names:
            c.note(name, "begin")
            SCENARIOS[name][0](c, rnd, args.long)
            ok = c.wait_converged(everyone, name) and ok
            time.sleep(2)  # names re-announced, old ones dropped
            c.check_names(name, everyone)
            c.note(name, "end")
    finally:
        c.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
