#!/usr/bin/python3
"""checker.py's own tests: run directories written by hand, one violation each, and a clean one.
Each violation must fail its invariant (exit 1, a FAIL line naming it); the clean run passes.

  checker_test.py      (ctest: chaos/checker)
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checker.py")
T0 = 1_800_000_000_000  # wall-clock ms


def write(run_dir, name, records):
    with open(os.path.join(run_dir, name), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def alive(*names):
    return {n: "alive" for n in names}


class Run:
    """A clean run of one scenario: a kill of h3 at T0+10 s, seen dead by h1 and h2 at +14 s,
    restarted at +22 s and converged at +23 s; a worker whose name w1-0 lives throughout, and
    w1-1 stopped at +5 s."""

    def __init__(self, scenario="kill-one"):
        self.scenario = scenario
        self.faults = [
            {"t": T0, "scenario": "start", "action": "converged", "seconds": 0.5},
            {"t": T0 + 9_000, "scenario": scenario, "action": "begin"},
            {"t": T0 + 10_000, "scenario": scenario, "action": "killed", "node": "h3"},
            {"t": T0 + 22_000, "scenario": scenario, "action": "restarted", "node": "h3"},
            {"t": T0 + 23_000, "scenario": scenario, "action": "converged", "seconds": 1.0},
            {"t": T0 + 30_000, "scenario": scenario, "action": "end"},
        ]
        self.members = []
        for t in range(0, 30_000, 1_000):
            gone = 14_000 <= t < 23_000
            for o in ("h1", "h2"):
                view = alive("h1", "h2", "h3")
                if gone:
                    view["h3"] = "dead"
                self.members.append({"t": T0 + t, "observer": o, "members": view})
        self.names = [{"t": T0 + 29_000, "scenario": scenario, "node": "h1", "name": "echo-h3", "expect": "found",
                       "outcome": "found"}]
        self.rss = [{"t": T0 + 1_000, "process": "h1", "rss_mb": 12.0}]
        self.calls = [
            {"t": T0 - 3_000, "w": "w1", "op": "spawn", "name": "w1-0", "outcome": "ok"},
            {"t": T0 - 2_000, "w": "w1", "op": "spawn", "name": "w1-1", "outcome": "ok"},
            {"t": T0 + 5_000, "w": "w1", "op": "stop", "name": "w1-1", "outcome": "ok"},
            {"t": T0 + 26_000, "w": "w1", "op": "resolve", "name": "w1-0", "outcome": "ok", "ms": 1.0,
             "deadline_ms": 2000},
            {"t": T0 + 26_001, "w": "w1", "op": "ask", "name": "w1-0", "outcome": "ok", "ms": 1.0,
             "deadline_ms": 2000},
            {"t": T0 + 26_002, "w": "w1", "op": "resolve", "name": "w1-1", "outcome": "actor_not_found", "ms": 1.0,
             "deadline_ms": 2000},
        ]

    def check(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "faults.jsonl", self.faults)
            write(d, "members.jsonl", self.members)
            write(d, "names.jsonl", self.names)
            write(d, "rss.jsonl", self.rss)
            write(d, "w1.jsonl", self.calls)
            r = subprocess.run([sys.executable, CHECKER, d], capture_output=True, text=True, timeout=60)
            return r.returncode, r.stdout


class CheckerTest(unittest.TestCase):
    def assert_fails(self, run, invariant):
        status, out = run.check()
        self.assertEqual(status, 1, out)
        self.assertIn("/ %s:" % invariant, out)

    def test_a_clean_run_passes(self):
        status, out = Run().check()
        self.assertEqual(status, 0, out)
        self.assertIn("kill-one", out)

    def test_a_call_that_never_completed_is_a_hang(self):
        run = Run()
        run.calls.append({"t": T0 + 27_000, "w": "w1", "op": "hang", "name": "w1-0", "started": T0 + 24_000})
        self.assert_fails(run, "no-hang")

    def test_an_ask_past_its_deadline_is_a_hang(self):
        run = Run()
        run.calls.append({"t": T0 + 27_000, "w": "w1", "op": "ask", "name": "w1-0", "outcome": "timeout",
                          "ms": 3500.0, "deadline_ms": 2000})
        self.assert_fails(run, "no-hang")

    def test_a_live_name_unresolvable_after_the_heal_fails(self):
        run = Run()
        run.calls.append({"t": T0 + 27_000, "w": "w1", "op": "resolve", "name": "w1-0", "outcome": "actor_not_found",
                          "ms": 1.0, "deadline_ms": 2000})
        self.assert_fails(run, "names")

    def test_a_name_stopped_long_ago_that_still_resolves_fails(self):
        run = Run()
        run.calls.append({"t": T0 + 27_000, "w": "w1", "op": "resolve", "name": "w1-1", "outcome": "ok", "ms": 1.0,
                          "deadline_ms": 2000})
        self.assert_fails(run, "names")

    def test_a_service_check_that_failed_fails(self):
        run = Run()
        run.names[0]["outcome"] = "not_found"
        self.assert_fails(run, "names")

    def test_a_death_under_loss_is_a_false_death(self):
        run = Run("loss-10")
        run.faults = [f for f in run.faults if f["action"] not in ("killed", "restarted")]
        self.assert_fails(run, "no-false-death")  # the views still say h3 dead from +14 s

    def test_a_killed_node_still_alive_past_the_bound_fails_detection(self):
        run = Run()
        for m in run.members:
            m["members"]["h3"] = "alive"
        self.assert_fails(run, "detection")

    def test_a_cluster_that_never_converged_fails_detection(self):
        run = Run()
        run.faults.insert(4, {"t": T0 + 53_000, "scenario": "kill-one", "action": "not_converged", "seconds": 30})
        self.assert_fails(run, "detection")

    def test_a_process_over_its_memory_bound_fails(self):
        run = Run()
        run.rss.append({"t": T0 + 12_000, "process": "h2", "rss_mb": 900.0})
        self.assert_fails(run, "memory")


if __name__ == "__main__":
    unittest.main()
