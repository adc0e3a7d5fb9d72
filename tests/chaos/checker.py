#!/usr/bin/python3
"""The chaos suite's checker (tests/chaos/README.md): reads a run directory that chaos.py wrote
and holds the invariants below, printing a table of scenario x invariant. Exit 0 when every
invariant holds, 1 when one does not, 2 when the run directory cannot be read.

  checker.py RUN_DIR

Invariants (and the bounds they hold):
  no-hang     every call completes (answer or error) within its deadline + 1 s; a resolve within
              RESOLVE_BOUND_S
  names       after a fault heals and membership converged, every live node's service resolves
              from every node, and a name stopped long ago from none; in those quiet times every
              worker's resolve of a live name succeeds, and of a name stopped more than
              STALE_AFTER_S before fails
  no-false-death   no node is declared dead under 10% loss, nor under a pause shorter than the
              suspicion timeout
  detection   a killed node is declared dead by every survivor within DEAD_BOUND_S; after a
              partition heals (or a restart), the cluster is one view again within
              CONVERGE_BOUND_S
  memory      no process's resident memory exceeds RSS_BOUND_MB
"""
import json
import os
import sys

HANG_SLACK_MS = 1000
RESOLVE_BOUND_S = 6.0
DEAD_BOUND_S = 10.0
CONVERGE_BOUND_S = 30.0
RSS_BOUND_MB = 200.0
# After a heal or restart, how long before the cluster is quiet (names re-announced).
QUIET_AFTER_S = 2.0
# A name spawned this long before a resolve counts as live; one stopped longer ago than the
# registry's cache lifetime (5 s) and a second as gone.
LIVE_AFTER_S = 1.0
STALE_AFTER_S = 6.0
INVARIANTS = ["no-hang", "names", "no-false-death", "detection", "memory"]
# Scenarios where no node may be declared dead (nothing failed for longer than the suspicion
# timeout).
NO_DEATH_SCENARIOS = {"loss-10", "pause-short"}


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line cut short by a kill
    return out


class Check:
    def __init__(self, run_dir):
        self.faults = read_jsonl(os.path.join(run_dir, "faults.jsonl"))
        self.members = read_jsonl(os.path.join(run_dir, "members.jsonl"))
        self.names = read_jsonl(os.path.join(run_dir, "names.jsonl"))
        self.rss = read_jsonl(os.path.join(run_dir, "rss.jsonl"))
        self.calls = []
        for f in sorted(os.listdir(run_dir)):
            if f.startswith("w") and f.endswith(".jsonl"):
                self.calls += read_jsonl(os.path.join(run_dir, f))
        # Each scenario's time span: from its "begin" to its "end".
        self.spans = {}
        for e in self.faults:
            s = e.get("scenario")
            if e.get("action") == "begin":
                self.spans[s] = [e["t"], None]
            elif e.get("action") == "end" and s in self.spans:
                self.spans[s][1] = e["t"]
        self.results = {s: {} for s in self.spans}
        self.problems = []

    def scenario_at(self, t):
        for s, (begin, end) in self.spans.items():
            if begin <= t and (end is None or t <= end):
                return s
        return None

    def fail(self, scenario, invariant, text):
        self.results.setdefault(scenario or "(between)", {})[invariant] = "FAIL"
        self.problems.append("%s / %s: %s" % (scenario or "(between scenarios)", invariant, text))

    def passed(self, scenario, invariant):
        self.results.setdefault(scenario, {}).setdefault(invariant, "ok")

    # ---------------------------------------------------------------- invariants

    def no_hang(self):
        for c in self.calls:
            s = self.scenario_at(c["t"])
            if c["op"] == "hang":
                self.fail(s, "no-hang", "%s: a call of %s never completed" % (c["w"], c["name"]))
            elif c["op"] == "ask" and c["ms"] > c["deadline_ms"] + HANG_SLACK_MS:
                self.fail(s, "no-hang", "%s: ask %s took %.0f ms (deadline %d)" % (c["w"], c["name"], c["ms"],
                                                                                  c["deadline_ms"]))
            elif c["op"] == "resolve" and c["ms"] > RESOLVE_BOUND_S * 1000:
                self.fail(s, "no-hang", "%s: resolve %s took %.0f ms" % (c["w"], c["name"], c["ms"]))
        asks = sum(1 for c in self.calls if c["op"] == "ask")
        if asks == 0:
            self.fail(None, "no-hang", "no ask was made at all: the workload did not run")
        for s in self.spans:
            self.passed(s, "no-hang")

    def quiet_windows(self):
        """[(scenario, begin, end)]: from each convergence (plus QUIET_AFTER_S) to the scenario's end
        or the next one's beginning (after the last, the suite tears the cluster down)."""
        windows = []
        converged = None
        for e in self.faults:
            if e.get("action") == "converged":
                converged = (e["scenario"], e["t"] + QUIET_AFTER_S * 1000)
            elif e.get("action") in ("begin", "end", "not_converged") and converged:
                windows.append((converged[0], converged[1], e["t"]))
                converged = None
        return windows

    def lifetimes(self):
        """name -> (spawned at, stopped at or None), from the workers' logs."""
        spans = {}
        for c in self.calls:
            if c["op"] == "spawn" and c["outcome"] == "ok":
                spans[c["name"]] = [c["t"], None]
            elif c["op"] == "stop" and c["outcome"] == "ok" and c["name"] in spans:
                spans[c["name"]][1] = c["t"]
        return spans

    def worker_resolves(self):
        lifetimes = self.lifetimes()
        for scenario, begin, end in self.quiet_windows():
            for c in self.calls:
                if c["op"] != "resolve" or c["name"] not in lifetimes:
                    continue
                started, finished = c["t"] - c["ms"], c["t"]
                if started < begin or finished > end:
                    continue
                spawned, stopped = lifetimes[c["name"]]
                live = spawned <= started - LIVE_AFTER_S * 1000 and (stopped is None or stopped >= finished + 1000)
                gone = stopped is not None and stopped <= started - STALE_AFTER_S * 1000
                if live and c["outcome"] != "ok":
                    self.fail(scenario, "names", "%s: resolve of live %s: %s" % (c["w"], c["name"], c["outcome"]))
                elif gone and c["outcome"] == "ok":
                    self.fail(scenario, "names", "%s: %s resolved %.1f s after it stopped" % (
                        c["w"], c["name"], (started - stopped) / 1000.0))

    def names_check(self):
        self.worker_resolves()
        for n in self.names:
            if n["outcome"] != n["expect"]:
                self.fail(n["scenario"], "names", "from %s, %s: %s (expected %s)" % (n["node"], n["name"], n["outcome"],
                                                                                     n["expect"]))
        for s in self.spans:
            if any(n["scenario"] == s for n in self.names):
                self.passed(s, "names")

    def deaths_in(self, begin, end):
        """(observer, member) pairs that some node reported dead within [begin, end]."""
        seen = set()
        for m in self.members:
            if begin <= m["t"] <= end:
                for name, state in m["members"].items():
                    if state == "dead":
                        seen.add((m["observer"], name))
        for c in self.calls:
            if c["op"] == "member" and c["kind"] == "dead" and begin <= c["t"] <= end:
                seen.add((c["w"], c["member"]))
        return seen

    def no_false_death(self):
        for s, (begin, end) in self.spans.items():
            if s not in NO_DEATH_SCENARIOS:
                continue
            deaths = self.deaths_in(begin, end if end is not None else begin)
            if deaths:
                self.fail(s, "no-false-death", "declared dead: %s" % ", ".join("%s by %s" % (m, o)
                                                                                for o, m in sorted(deaths)))
            else:
                self.passed(s, "no-false-death")
        # Outside any fault, nobody dies either (the quiet start).
        start_end = min((b for b, _ in self.spans.values()), default=None)
        if start_end is not None:
            deaths = self.deaths_in(0, start_end)
            if deaths:
                self.fail("start", "no-false-death", "declared dead before any fault: %s" % sorted(deaths))

    def detection(self):
        for e in self.faults:
            s = e.get("scenario")
            if e.get("action") == "not_converged":
                self.fail(s, "detection", "not one view again within %.0f s" % e["seconds"])
            elif e.get("action") == "converged" and s in self.spans:
                if e["seconds"] > CONVERGE_BOUND_S:
                    self.fail(s, "detection", "one view again only after %.1f s" % e["seconds"])
            if e.get("action") == "killed" and s in ("kill-one", "kill-minority"):
                for victim in e.get("nodes", [e.get("node")]):
                    self.dead_everywhere(s, victim, e["t"])
        for s in self.spans:
            self.passed(s, "detection")

    def dead_everywhere(self, scenario, victim, killed_at):
        """Every node polled alive within DEAD_BOUND_S of the kill reported `victim` dead in it."""
        until = killed_at + DEAD_BOUND_S * 1000
        observers = {m["observer"] for m in self.members if killed_at <= m["t"] <= until and m["observer"] != victim}
        late = []
        for o in sorted(observers):
            saw = [m for m in self.members if m["observer"] == o and killed_at <= m["t"] <= until
                   and m["members"].get(victim) in ("dead", "left", None)]
            if not saw:
                late.append(o)
        if late:
            self.fail(scenario, "detection", "%s not declared dead within %.0f s by %s" % (victim, DEAD_BOUND_S,
                                                                                        ", ".join(late)))

    def memory(self):
        worst = {}
        for r in self.rss:
            worst[r["process"]] = max(worst.get(r["process"], 0.0), r["rss_mb"])
            if r["rss_mb"] > RSS_BOUND_MB:
                self.fail(self.scenario_at(r["t"]), "memory", "%s at %.0f MB" % (r["process"], r["rss_mb"]))
        for s in self.spans:
            self.passed(s, "memory")
        return worst

    # ---------------------------------------------------------------- report

    def report(self):
        self.no_hang()
        self.names_check()
        self.no_false_death()
        self.detection()
        worst = self.memory()
        width = max([len(s) for s in self.results] + [10])
        print("%-*s  %s" % (width, "scenario", "  ".join("%-14s" % i for i in INVARIANTS)))
        for s in self.results:
            print("%-*s  %s" % (width, s, "  ".join("%-14s" % self.results[s].get(i, "-") for i in INVARIANTS)))
        calls = [c for c in self.calls if c["op"] in ("ask", "resolve")]
        ok = sum(1 for c in calls if c["outcome"] == "ok")
        print("calls: %d (%d ok, %d failed within their bounds); peak RSS: %s" % (
            len(calls), ok, len(calls) - ok,
            ", ".join("%s %.0f MB" % (p, mb) for p, mb in sorted(worst.items()))))
        for p in self.problems:
            print("FAIL " + p)
        return 1 if self.problems else 0


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print("usage: checker.py RUN_DIR", file=sys.stderr)
        return 2
    return Check(sys.argv[1]).report()


if __name__ == "__main__":
    sys.exit(main())
