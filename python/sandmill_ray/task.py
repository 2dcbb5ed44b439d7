"""One attempt of one Sandmill task on a Ray worker node: `sandmill task run --spec -`.

`attempt` is the body of the Ray task the driver submits; `run` does the work. It starts the `sandmill` binary (the
node's SANDMILL_BIN, else the `sandmill` next to this Python, else the one on PATH), writes
the task's spec to its stdin as JSON, and reads the one JSON line (a TaskResult) it prints on
stdout at the end. How it ends decides what Ray does next:

- exit code 0 with a result: `run` returns the result;
- a result saying `"retryable": true`, death by a signal, or no result at all: it raises
  `Retryable`, which the driver lists in `retry_exceptions`, so Ray runs the task again (up
  to `max_retries` times);
- a result saying `"retryable": false` (a plugin's fault, bad input): it raises `Failed`,
  which Ray does not retry, and which fails every task waiting on this one without running it.

The process is a plain child of the Ray worker: when the worker dies (a cancelled task, a lost
driver, an out-of-memory kill), Ray's per-worker process-group cleanup (on by default) kills it
too, so a lost attempt does not run on beside the next. Only `attempt` needs Ray. The driver
sends this module to the nodes by value: it imports nothing but the standard library.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

#: How many lines of the process's stderr a failure keeps.
STDERR_LINES = 20


class TaskFailure(Exception):
    """A failed attempt: one line saying what happened, the TaskResult if there was one, and
    the Ray node it ran on. (Its arguments are exactly these three, so that it pickles.)"""

    def __init__(self, message: str, result: dict[str, Any] | None, node_id: str | None) -> None:
        super().__init__(message, result, node_id)
        self.message = message
        self.result = result
        self.node_id = node_id

    def __str__(self) -> str:
        return self.message


class Retryable(TaskFailure):
    """A failure that running the task again may cure (transient, or the process was lost)."""


class Failed(TaskFailure):
    """A failure that running the task again would repeat: the job fails."""


def sandmill_binary() -> str:
    """The `sandmill` to run: $SANDMILL_BIN, else the one installed beside this Python (the
    `sandmill` package puts it there), else the one on PATH."""
    if os.environ.get("SANDMILL_BIN"):
        return os.environ["SANDMILL_BIN"]
    beside = os.path.join(os.path.dirname(sys.executable), "sandmill")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("sandmill") or "sandmill"


def _tail(stream: Any, lines: int = STDERR_LINES) -> str:
    """The last lines of a file (reading at most its last 64 KiB)."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - 65536))
    text = stream.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def _result_line(stdout: bytes) -> dict[str, Any] | None:
    """The TaskResult in the last non-empty line of stdout, if that line is one."""
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.strip():
            try:
                result = json.loads(line)
            except ValueError:
                return None
            return result if isinstance(result, dict) and "status" in result else None
    return None


def _one_line(text: str) -> str:
    """Text joined onto one line."""
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def run(task_id: str, spec: dict[str, Any], env: dict[str, str], node_id: str | None = None) -> dict[str, Any]:
    """Runs one attempt of task task_id from its spec, with env added to the process's
    environment; returns its TaskResult, or raises `Retryable` or `Failed` (see the module's
    docs). node_id names the node in the failure."""
    binary = sandmill_binary()
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(
                [binary, "task", "run", "--spec", "-"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, **env},
            )
        except OSError as e:
            raise Failed(
                f"{task_id}: cannot start {binary} on this node: {e}; install the sandmill "
                "package on every node of the cluster, or set SANDMILL_BIN there",
                None,
                node_id,
            ) from None
        try:
            stdout, _ = process.communicate(json.dumps(spec).encode())
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        code = process.returncode
        result = _result_line(stdout)
        if code == 0 and result is not None:
            return result
        tail = _one_line(_tail(stderr))
    if code < 0:
        how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    if result is None:
        message = f"{task_id}: sandmill task run {how} and printed no result"
        raise Retryable(f"{message}; stderr: {tail}" if tail else message, None, node_id)
    message = result.get("error") or f"{task_id}: sandmill task run {how}"
    if result.get("retryable"):
        raise Retryable(message, result, node_id)
    raise Failed(message, result, node_id)


def attempt(task_id: str, spec: dict[str, Any], env: dict[str, str], *after: Any) -> dict[str, Any]:
    """The body of the Ray task: runs `run` and returns {"result": TaskResult, "node_id": the
    Ray node it ran on}. after holds the results of the tasks this one waits for: unused, Ray
    passing them in is what holds this task back until they finish."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    return {"result": run(task_id, spec, env, node_id), "node_id": node_id}
