"""The driver `sandmill run --executor ray` starts: runs a job's tasks on a Ray cluster.

    python -m sandmill_ray.driver --address HOST:PORT     (default: $RAY_ADDRESS)

It reads ONE JSON object on stdin:

    {"tasks": [{"id": "map-0", "spec": {...}, "after": []},
               {"id": "reduce-0", "spec": {...}, "after": ["map-0", "map-1"]}],
     "max_retries": 3, "env": {"AWS_REGION": "...", ...}}

submits every task at once as a Ray task (one CPU each; a task gets the results of the tasks
in its "after" as arguments, so Ray holds it back until they finish), and prints one JSON line
on stdout per task as it finishes, in finishing order:

    {"id": "map-0", "ok": true, "result": {TaskResult}, "error": null, "node": "node-1",
     "attempts": null}

("result" is null when no TaskResult came back, "error" says why it failed on one line, and
"attempts" is always null: Ray does not tell a task's attempt number without its dashboard).
After the last it prints {"done": true} and exits 0. The first task that fails for good (a
failure that is not retryable, or a retryable one after max_retries retries) gets its line, the
rest are cancelled, and the driver exits 1. Bad input or no Ray at the address: one line
{"fatal": "..."} and exit 2. Nothing else is written to stdout; Ray's own logs go to stderr.
The "env" entries are added to each `sandmill task run` process's environment (by the task
itself, not through a Ray runtime_env, which would make Ray start a worker for it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from sandmill_ray import task

#: Exit codes: every task done, one task failed, the job could not start.
EXIT_DONE, EXIT_FAILED, EXIT_FATAL = 0, 1, 2
#: How long connecting to Ray may take before the driver gives up.
CONNECT_SECONDS = 60.0
#: The shape of the input, for error messages.
INPUT_SHAPE = '{"tasks": [{"id": ..., "spec": {...}, "after": [...]}, ...], "max_retries": N, "env": {...}}'


class InputError(Exception):
    """The input on stdin is not a job the driver can run."""


@dataclass
class Task:
    """One task of the job: its id, its spec (passed to `sandmill task run` as is) and the ids
    of the tasks it waits for."""

    id: str
    spec: dict[str, Any]
    after: list[str]


@dataclass
class Job:
    """The job read from stdin, its tasks in an order where each comes after those it waits for."""

    tasks: list[Task]
    max_retries: int
    env: dict[str, str]


def parse_job(text: str) -> Job:
    """Reads and checks the job, ordering its tasks; raises InputError saying what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise InputError(f"not JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise InputError('not an object with a "tasks" list')
    max_retries = data.get("max_retries", 3)
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise InputError(f'"max_retries" must be a whole number >= 0, not {max_retries!r}')
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise InputError('"env" must be an object of strings')
    tasks: dict[str, Task] = {}
    for i, raw in enumerate(data["tasks"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise InputError(f'task {i} has no "id" string')
        if not isinstance(raw.get("spec"), dict):
            raise InputError(f'task {raw["id"]} has no "spec" object')
        after = raw.get("after", [])
        if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
            raise InputError(f'task {raw["id"]}: "after" must be a list of task ids')
        if raw["id"] in tasks:
            raise InputError(f"task id {raw['id']} appears twice")
        tasks[raw["id"]] = Task(raw["id"], raw["spec"], after)
    return Job(_ordered(tasks), max_retries, env)


def _ordered(tasks: dict[str, Task]) -> list[Task]:
    """The tasks, each after those it waits for (keeping the input's order otherwise)."""
    done: dict[str, Task] = {}
    visiting: set[str] = set()

    def visit(t: Task) -> None:
        if t.id in done:
            return
        if t.id in visiting:
            raise InputError(f"task {t.id} waits for itself (a cycle in \"after\")")
        visiting.add(t.id)
        for dep in t.after:
            if dep not in tasks:
                raise InputError(f"task {t.id} waits for {dep}, which is not a task of the job")
            visit(tasks[dep])
        visiting.discard(t.id)
        done[t.id] = t

    for t in tasks.values():
        visit(t)
    return list(done.values())


def emit(out: TextIO, line: dict[str, Any]) -> None:
    """Writes one protocol line and flushes it."""
    out.write(json.dumps(line, separators=(",", ":")) + "\n")
    out.flush()


def _one_line(text: str, limit: int = 2000) -> str:
    """Text on one line, at most limit characters."""
    line = " | ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def connect(address: str, out: TextIO) -> None:
    """Connects to the Ray cluster at address. Exits with a fatal line when nothing listens
    there, or when connecting takes longer than CONNECT_SECONDS (ray.init would wait forever)."""
    import ray

    host, sep, port = address.rpartition(":")
    if sep and host and port.isdigit() and "://" not in address:
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as e:
            raise ConnectionError(f"no Ray cluster at {address} ({e})") from None

    def give_up() -> None:
        emit(out, {"fatal": f"connecting to the Ray cluster at {address} took over {CONNECT_SECONDS:.0f} s; "
                            "check that it is the head node's GCS address (ray start --head --port)"})
        os._exit(EXIT_FATAL)

    timer = threading.Timer(CONNECT_SECONDS, give_up)
    timer.daemon = True
    timer.start()
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    finally:
        timer.cancel()


class Nodes:
    """Ray node ids to the names a person knows them by (--node-name, else the address)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def name(self, node_id: str | None) -> str | None:
        """The node's name (asking Ray again when it is new), or None when unknown."""
        import ray

        if node_id is None:
            return None
        if node_id not in self.names:
            self.names = {n["NodeID"]: n.get("NodeName") or n["NodeManagerAddress"] for n in ray.nodes()}
        return self.names.get(node_id, node_id)


def finished(task_id: str, ref: Any, nodes: Nodes) -> dict[str, Any]:
    """The protocol line for a finished Ray task."""
    import ray

    line: dict[str, Any] = {"id": task_id, "ok": False, "result": None, "error": None, "node": None, "attempts": None}
    try:
        value = ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, task.TaskFailure):
            line.update(result=cause.result, error=_one_line(cause.message), node=nodes.name(cause.node_id))
        elif cause is not None:
            line["error"] = _one_line(f"{task_id}: the Ray task raised {type(cause).__name__}: {cause}")
        else:
            line["error"] = _one_line(f"{task_id}: {e}")
        return line
    except ray.exceptions.RayError as e:
        line["error"] = _one_line(f"{task_id}: {type(e).__name__}: {e}")
        return line
    line.update(ok=True, result=value["result"], node=nodes.name(value["node_id"]))
    return line


def run(job: Job, out: TextIO) -> int:
    """Submits every task, reports each as it finishes; returns the exit code."""
    import ray

    # The task module travels with the tasks, by value: a node needs only Ray and the
    # `sandmill` binary, and always runs the task code of this driver's version.
    ray.cloudpickle.register_pickle_by_value(task)
    remote = ray.remote(task.attempt)
    refs: dict[str, Any] = {}
    ids: dict[Any, str] = {}
    for t in job.tasks:
        ref = remote.options(
            name=t.id, num_cpus=1, max_retries=job.max_retries, retry_exceptions=[task.Retryable]
        ).remote(t.id, t.spec, job.env, *(refs[d] for d in t.after))
        refs[t.id] = ref
        ids[ref] = t.id
    nodes = Nodes()
    pending = list(refs.values())
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            line = finished(ids[ref], ref, nodes)
            emit(out, line)
            if not line["ok"]:
                for other in pending:
                    ray.cancel(other, force=True)
                return EXIT_FAILED
    emit(out, {"done": True})
    return EXIT_DONE


def main(argv: list[str] | None = None) -> int:
    """Runs the driver: parses arguments and stdin, connects, runs the job."""
    # Protocol lines go to the real stdout; anything else that writes there (Ray, a library)
    # goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    parser = argparse.ArgumentParser(prog="python -m sandmill_ray.driver", description=__doc__.split("\n")[0])
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                        help="the Ray cluster's GCS address, HOST:PORT (default: $RAY_ADDRESS)")
    args = parser.parse_args(argv)
    if not args.address:
        emit(out, {"fatal": "no Ray address: give --address HOST:PORT (the head node's GCS port) or set RAY_ADDRESS"})
        return EXIT_FATAL
    try:
        job = parse_job(sys.stdin.read())
    except InputError as e:
        emit(out, {"fatal": f"bad input on stdin: {e}; the driver reads one JSON object {INPUT_SHAPE}, "
                            "as `sandmill run --executor ray` writes it"})
        return EXIT_FATAL
    try:
        connect(args.address, out)
    except ImportError as e:
        emit(out, {"fatal": f"cannot import ray ({e}): install it (pip install ray==2.60.0) into {sys.executable}'s environment"})
        return EXIT_FATAL
    except Exception as e:  # ray.init raises ConnectionError, RuntimeError and others.
        emit(out, {"fatal": _one_line(f"cannot connect to Ray at {args.address}: {e}; start a cluster "
                                      "(ray start --head) or give its address with --ray-address or RAY_ADDRESS")})
        return EXIT_FATAL
    try:
        return run(job, out)
    except Exception as e:  # Losing the cluster mid-job, say: the job can be run again.
        emit(out, {"fatal": _one_line(f"the Ray cluster at {args.address} failed the job: "
                                      f"{type(e).__name__}: {e}; run the job again to resume it")})
        return EXIT_FATAL


if __name__ == "__main__":
    sys.exit(main())
