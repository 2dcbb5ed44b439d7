"""What the tests share: a cluster from scripts/cluster.sh for a test class (torn down, and
checked to leave nothing running, when the class ends), the driver run inside its namespace,
and the events of tests/fake_sandmill.py, which stands in for the `sandmill` binary.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).with_name("fake_sandmill.py")
CLUSTER = ROOT / "scripts" / "cluster.sh"


def measured(text: str) -> None:
    """Reports a measurement."""
    print(f"measured: {text}", file=sys.stderr, flush=True)


def alive(pid: int) -> bool:
    """Whether process pid is running (a zombie is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def parent(pid: int) -> int | None:
    """The parent of process pid, if it is running."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class Cluster:
    """A cluster from `scripts/cluster.sh up`, in a state directory of its own."""

    def __init__(self, workers: int) -> None:
        self.dir = tempfile.mkdtemp(prefix="smt-", dir="/tmp")
        # The nodes get no PYTHONPATH: the driver sends sandmill_ray's task code along with
        # the tasks, so a node needs only Ray and the `sandmill` binary.
        self.base_env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            "SANDMILL_CLUSTER_DIR": self.dir,
            "SANDMILL_BIN": str(FAKE),
        }
        start = time.monotonic()
        up = subprocess.run(
            [str(CLUSTER), "up", "--workers", str(workers)],
            env=self.base_env, stdout=subprocess.PIPE, text=True, timeout=300,
        )
        self.up_seconds = time.monotonic() - start
        if up.returncode != 0:
            self.down()
            raise RuntimeError(f"cluster.sh up failed with exit code {up.returncode} (its stderr is above)")
        self.env: dict[str, str] = {}
        for line in up.stdout.splitlines():
            words = shlex.split(line)
            if len(words) != 2 or words[0] != "export" or "=" not in words[1]:
                raise RuntimeError(f"cluster.sh up printed a line that is not an export: {line!r}")
            name, value = words[1].split("=", 1)
            self.env[name] = value
        self.netns = self.env["NETNS"]

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Runs scripts/cluster.sh with args for this cluster."""
        return subprocess.run(
            [str(CLUSTER), *args], env=self.base_env, capture_output=True, text=True, timeout=120
        )

    def start_driver(self, job: Any, address: str | None = None) -> subprocess.Popen[str]:
        """Starts the driver in the namespace with job (JSON-encoded unless a str) on stdin."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, self.env["SANDMILL_PYTHON"], "-m", "sandmill_ray.driver",
             "--address", address or self.env["RAY_ADDRESS"]],
            env={**self.base_env, **self.env, "PYTHONPATH": str(ROOT / "python")},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        assert process.stdin is not None
        process.stdin.write(job if isinstance(job, str) else json.dumps(job))
        process.stdin.close()
        process.stdin = None  # So that communicate() does not flush it.
        return process

    def driver(self, job: Any, address: str | None = None, timeout: float = 120) -> tuple[int, list[dict[str, Any]], str]:
        """Runs the driver to its end: its exit code, its stdout lines parsed, its stderr."""
        process = self.start_driver(job, address)
        stdout, stderr = process.communicate(timeout=timeout)
        return process.returncode, [json.loads(line) for line in stdout.splitlines()], stderr

    def pids(self) -> list[int]:
        """Every process in the cluster's namespace."""
        out = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def node_sid(self, k: int) -> int:
        """The session (the recorded pid) of worker node k."""
        return int(Path(self.dir, "pids", f"node-{k}").read_text())

    def node_processes(self, k: int) -> list[int]:
        """Worker node k's `ray start` and its children (its raylet, log monitor, agents)."""
        leader = self.node_sid(k)
        children = [p for p in self.pids() if parent(p) == leader]
        return [leader, *children]

    def down(self) -> list[int]:
        """Runs `cluster.sh down`; returns the pids of the namespace's processes still running."""
        before = self.pids() if hasattr(self, "netns") else []
        down = self.script("down")
        sys.stderr.write(down.stderr)
        return [p for p in before if alive(p)]


def fake(task_id: str, state: str, **behaviour: Any) -> dict[str, Any]:
    """A task spec for the fake sandmill."""
    return {"task": task_id, "fake": {"state_dir": state, **behaviour}}


def runs(state: str, task_id: str) -> list[dict[str, Any]]:
    """The fake's events for a task: one "start" per run, and an "end" for each that ended."""
    path = Path(state, f"{task_id}.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def starts(state: str, task_id: str) -> list[dict[str, Any]]:
    """The start events of a task's runs."""
    return [e for e in runs(state, task_id) if e["event"] == "start"]


class ClusterTest(unittest.TestCase):
    """A test class with a cluster of its own, checked to leave nothing running when it goes."""

    workers = 2
    cluster: Cluster

    @classmethod
    def setUpClass(cls) -> None:
        cls.cluster = Cluster(cls.workers)
        measured(f"cluster.sh up --workers {cls.workers}: {cls.cluster.up_seconds:.1f} s")

    @classmethod
    def tearDownClass(cls) -> None:
        left = cls.cluster.down()
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        assert not left, f"cluster.sh down left processes running: {left}"
        assert cls.cluster.netns not in netns, f"cluster.sh down left network namespace {cls.cluster.netns}"
        assert not Path(cls.cluster.dir).exists(), f"cluster.sh down left {cls.cluster.dir}"

    def setUp(self) -> None:
        self.state = tempfile.mkdtemp(prefix="sandmill-fake-")
        self.addCleanup(shutil.rmtree, self.state, ignore_errors=True)

    def wait_for_starts(
        self,
        task_id: str,
        deadline: float,
        count: int = 1,
        what: str = "the task did not start",
        driver: subprocess.Popen[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Waits until `task_id` has started `count` runs (failing with `what` at `deadline`,
        a time.monotonic(), or if `driver` ends first); returns the start events."""
        while len(found := starts(self.state, task_id)) < count:
            self.assertLess(time.monotonic(), deadline, what)
            if driver is not None:
                self.assertIsNone(driver.poll(), "the driver ended before the task started")
            time.sleep(0.05)
        return found

    def assertDone(self, code: int, lines: list[dict[str, Any]], stderr: str) -> None:
        """The driver ran every task and said so."""
        self.assertEqual(code, 0, f"driver failed: {lines}\n{stderr[-3000:]}")
        self.assertEqual(lines[-1], {"done": True})
        for line in lines[:-1]:
            self.assertTrue(line["ok"], line)
