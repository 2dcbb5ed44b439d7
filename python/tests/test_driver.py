"""Tests of the Ray driver (python/sandmill_ray) on a real local cluster from scripts/cluster.sh
(two worker nodes in a network namespace), with tests/fake_sandmill.py as the `sandmill`
binary. Needs root (the namespace) and the venv of scripts/setup-cluster.sh; run with that
venv's Python:

    $VENV/bin/python -m unittest discover -s python/tests

Prints what it measures (the cluster's start-up, the cost of a Ray task, the time from a
killed node to its task running again) on stderr, in lines beginning "measured:".
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import unittest

from harness import ClusterTest, alive, fake, measured, parent, runs, starts


class DriverTest(ClusterTest):
    """The driver's protocol, barrier and retries on a cluster of two worker nodes."""

    def test_reduce_starts_only_after_its_maps_end(self) -> None:
        maps = [f"map-{i}" for i in range(3)]
        job = {
            "tasks": [{"id": "reduce-0", "spec": fake("reduce-0", self.state), "after": maps}]
            + [{"id": m, "spec": fake(m, self.state, sleep=1), "after": []} for m in maps],
            "max_retries": 3,
            "env": {},
        }
        code, lines, stderr = self.cluster.driver(job)
        self.assertDone(code, lines, stderr)
        self.assertEqual([line["id"] for line in lines[:-1]][-1], "reduce-0")
        self.assertEqual(sorted(line["id"] for line in lines[:-1]), sorted(maps + ["reduce-0"]))
        last_map_end = max(e["time"] for m in maps for e in runs(self.state, m) if e["event"] == "end")
        (reduce_start,) = starts(self.state, "reduce-0")
        self.assertGreaterEqual(reduce_start["time"], last_map_end)
        for line in lines[:-1]:
            self.assertIn(line["node"], {"node-1", "node-2"})
            self.assertEqual(line["result"]["status"], "ok")

    def test_env_reaches_the_task_process(self) -> None:
        job = {"tasks": [{"id": "map-0", "spec": fake("map-0", self.state)}], "env": {"FAKE_PROBE": "from the driver"}}
        code, lines, stderr = self.cluster.driver(job)
        self.assertDone(code, lines, stderr)
        self.assertEqual(starts(self.state, "map-0")[0]["probe"], "from the driver")

    def test_retryable_failure_is_retried(self) -> None:
        job = {"tasks": [{"id": "map-0", "spec": fake("map-0", self.state, fail_times=2, retryable=True)}], "max_retries": 3}
        code, lines, stderr = self.cluster.driver(job)
        self.assertDone(code, lines, stderr)
        self.assertEqual(len(starts(self.state, "map-0")), 3)
        self.assertEqual(lines[0]["result"]["attempt"], 3)

    def test_process_killed_by_a_signal_is_retried(self) -> None:
        job = {"tasks": [{"id": "map-0", "spec": fake("map-0", self.state, fail_times=1, crash=True)}], "max_retries": 3}
        code, lines, stderr = self.cluster.driver(job)
        self.assertDone(code, lines, stderr)
        self.assertEqual(len(starts(self.state, "map-0")), 2)

    def test_plugin_failure_fails_the_job_at_once(self) -> None:
        job = {
            "tasks": [
                {"id": "map-0", "spec": fake("map-0", self.state, fail_times=9, retryable=False, exit=1)},
                {"id": "map-1", "spec": fake("map-1", self.state, sleep=30)},
                {"id": "reduce-0", "spec": fake("reduce-0", self.state), "after": ["map-0", "map-1"]},
            ],
            "max_retries": 3,
        }
        start = time.monotonic()
        code, lines, stderr = self.cluster.driver(job)
        self.assertEqual(code, 1, f"{lines}\n{stderr[-3000:]}")
        self.assertLess(time.monotonic() - start, 20, "the driver waited for the other tasks")
        self.assertEqual(len(lines), 1, lines)
        (line,) = lines
        self.assertEqual((line["id"], line["ok"]), ("map-0", False))
        self.assertEqual(line["result"]["status"], "plugin")
        self.assertEqual(line["error"], "map-0: fake failure in run 1")
        self.assertEqual(len(starts(self.state, "map-0")), 1, "a plugin failure was retried")
        self.assertEqual(starts(self.state, "reduce-0"), [])
        # The cancelled map-1 does not run on: its process is gone soon after the driver.
        deadline = time.monotonic() + 10
        while not starts(self.state, "map-1") and time.monotonic() < deadline:
            time.sleep(0.1)
        for run in starts(self.state, "map-1"):
            while alive(run["pid"]) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertFalse(alive(run["pid"]), "a cancelled task's sandmill process still runs")

    def test_lost_ray_worker_takes_its_sandmill_process_along(self) -> None:
        # The Ray worker process running a task is SIGKILLed (as an out-of-memory killer
        # would): its `sandmill task run` must not run on beside the attempt Ray starts next.
        driver = self.cluster.start_driver({"tasks": [{"id": "map-0", "spec": fake("map-0", self.state, sleep=3)}]})
        try:
            deadline = time.monotonic() + 60
            orphan = self.wait_for_starts("map-0", deadline)[0]["pid"]
            worker = parent(orphan)
            assert worker is not None
            os.kill(worker, signal.SIGKILL)
            self.wait_for_starts("map-0", deadline, count=2, what="the task did not start again")
            time.sleep(0.5)
            # The first run would sleep on for two seconds more.
            self.assertFalse(alive(orphan), "the sandmill process outlived its Ray worker")
            stdout, stderr = driver.communicate(timeout=120)
        finally:
            if driver.poll() is None:
                driver.send_signal(signal.SIGKILL)
                driver.wait()
        lines = [json.loads(line) for line in stdout.splitlines()]
        self.assertDone(driver.returncode, lines, stderr)
        self.assertEqual(len(starts(self.state, "map-0")), 2)

    def test_lost_driver_takes_its_tasks_along(self) -> None:
        # `sandmill run` (or its driver) dies: the tasks in flight end with it, so that a
        # rerun of the job does not race the lost run's attempts for long. (Both Ray's
        # process-group cleanup and task.run's own kill on the way out see to it.)
        driver = self.cluster.start_driver({"tasks": [{"id": "map-0", "spec": fake("map-0", self.state, sleep=30)}]})
        try:
            self.wait_for_starts("map-0", time.monotonic() + 60)
        finally:
            driver.send_signal(signal.SIGKILL)
            driver.communicate()
        pid = starts(self.state, "map-0")[0]["pid"]
        killed = time.monotonic()
        while alive(pid) and time.monotonic() < killed + 20:
            time.sleep(0.1)
        self.assertFalse(alive(pid), "the task's sandmill process outlived the driver by 20 s")
        measured(f"driver killed to its task's process gone: {time.monotonic() - killed:.2f} s")

    def test_retries_run_out(self) -> None:
        job = {"tasks": [{"id": "map-0", "spec": fake("map-0", self.state, fail_times=9, retryable=True)}], "max_retries": 1}
        code, lines, stderr = self.cluster.driver(job)
        self.assertEqual(code, 1, f"{lines}\n{stderr[-3000:]}")
        self.assertEqual(len(starts(self.state, "map-0")), 2)
        self.assertEqual((lines[-1]["ok"], lines[-1]["result"]["status"]), (False, "transient"))

    def test_no_result_line_says_how_the_process_ended(self) -> None:
        job = {"tasks": [{"id": "map-0", "spec": fake("map-0", self.state, fail_times=9, crash=True)}], "max_retries": 0}
        code, lines, stderr = self.cluster.driver(job)
        self.assertEqual(code, 1, f"{lines}\n{stderr[-3000:]}")
        (line,) = lines
        self.assertIsNone(line["result"])
        self.assertIn("map-0: sandmill task run was killed by signal 9 and printed no result", line["error"])
        self.assertIn("fake sandmill: map-0 run 1", line["error"], "no stderr tail")

    def test_bad_input_is_fatal(self) -> None:
        cases = {
            "not json": "not JSON",
            json.dumps({"task": []}): '"tasks" list',
            json.dumps({"tasks": [{"id": "r", "spec": {}, "after": ["m"]}]}): "waits for m, which is not a task",
            json.dumps({"tasks": [{"id": "a", "spec": {}, "after": ["a"]}]}): "cycle",
            json.dumps({"tasks": [{"id": "a", "spec": {}}, {"id": "a", "spec": {}}]}): "appears twice",
            json.dumps({"tasks": [], "max_retries": -1}): "max_retries",
        }
        for text, expected in cases.items():
            with self.subTest(text):
                code, lines, stderr = self.cluster.driver(text)
                self.assertEqual(code, 2, stderr[-2000:])
                self.assertEqual(len(lines), 1, lines)
                self.assertIn(expected, lines[0]["fatal"])

    def test_no_ray_at_the_address_is_fatal(self) -> None:
        with socket.socket() as s:  # A port nothing listens on (inside the namespace, either).
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        start = time.monotonic()
        code, lines, _ = self.cluster.driver({"tasks": []}, address=f"127.0.0.1:{port}", timeout=60)
        self.assertEqual(code, 2)
        (line,) = lines
        self.assertIn(f"cannot connect to Ray at 127.0.0.1:{port}", line["fatal"])
        self.assertLess(time.monotonic() - start, 15)

    def test_empty_job_is_done(self) -> None:
        self.assertEqual(self.cluster.driver({"tasks": []})[:2], (0, [{"done": True}]))

    def test_task_overhead(self) -> None:
        count = 10
        chain = [{"id": f"t{i}", "spec": fake(f"t{i}", self.state), "after": [f"t{i - 1}"] if i else []} for i in range(count)]
        start = time.monotonic()
        code, lines, stderr = self.cluster.driver({"tasks": chain})
        chained = time.monotonic() - start
        self.assertDone(code, lines, stderr)
        wide = [{"id": f"w{i}", "spec": fake(f"w{i}", self.state)} for i in range(count)]
        start = time.monotonic()
        code, lines, stderr = self.cluster.driver({"tasks": wide})
        parallel = time.monotonic() - start
        self.assertDone(code, lines, stderr)
        empty = time.monotonic()
        self.cluster.driver({"tasks": []})
        empty = time.monotonic() - empty
        measured(
            f"driver with no tasks {empty:.2f} s; {count} no-op tasks in a chain {chained:.2f} s, "
            f"{count} at once on {self.workers} nodes {parallel:.2f} s: about "
            f"{(chained - empty) / count:.2f} s per Ray task end to end"
        )


class KillWorkerTest(ClusterTest):
    """A worker node SIGKILLed mid-task by `cluster.sh kill-worker`: Ray runs the task again on
    the other node, and the rest of the cluster is untouched."""

    def test_task_of_a_killed_node_finishes_on_the_other(self) -> None:
        driver = self.cluster.start_driver({"tasks": [{"id": "map-0", "spec": fake("map-0", self.state, sleep=3)}]})
        try:
            first = self.wait_for_starts("map-0", time.monotonic() + 60, driver=driver)[0]
            k = next(k for k in (1, 2) if self.cluster.node_sid(k) == first["sid"])
            other = 3 - k
            others = self.cluster.node_processes(other)
            killed_at = time.time()
            kill = self.cluster.script("kill-worker", str(k))
            self.assertEqual(kill.returncode, 0, kill.stderr)
            self.assertIn(f"killing worker node node-{k}", kill.stderr)
            stdout, stderr = driver.communicate(timeout=120)
        finally:
            if driver.poll() is None:
                driver.send_signal(signal.SIGKILL)
                driver.wait()
        lines = [json.loads(line) for line in stdout.splitlines()]
        self.assertDone(driver.returncode, lines, stderr)
        self.assertEqual(lines[0]["node"], f"node-{other}")
        first, second = starts(self.state, "map-0")
        self.assertEqual(second["sid"], self.cluster.node_sid(other))
        self.assertFalse(alive(first["pid"]), "the killed node's task process still runs")
        self.assertFalse(alive(self.cluster.node_sid(k)), "the killed node's ray start still runs")
        self.assertGreater(len(others), 2)
        self.assertEqual([p for p in others if not alive(p)], [], "kill-worker killed processes of the other node")
        measured(f"kill-worker to the task running again on the other node: {second['time'] - killed_at:.2f} s")


if __name__ == "__main__":
    unittest.main()
