#!/usr/bin/env python3
"""A stand-in for `sandmill task run --spec -` in the driver's tests: reads a spec on stdin and
behaves as its "fake" object says, printing a TaskResult line as the real binary does.

    {"task": "map-0", "fake": {"state_dir": DIR, "sleep": 0.5, "fail_times": 1,
                               "exit": 1, "retryable": true, "crash": false}}

Each run appends to DIR/TASK.jsonl a line {"event": "start", "time", "pid", "sid", "probe"}
(probe: $FAKE_PROBE, to see the driver's "env" arrive) and, unless it crashes, one
{"event": "end", "time"}. It sleeps `sleep` seconds; its first `fail_times` runs fail: with
SIGKILL of itself when `crash`, else printing a result with status "transient" (retryable)
or "plugin" (not) and exiting with `exit`. Later runs succeed.
"""

import json
import os
import signal
import sys
import time


def main() -> int:
    """Runs the fake task."""
    if sys.argv[1:] != ["task", "run", "--spec", "-"]:
        print(f"fake sandmill: unexpected arguments {sys.argv[1:]}", file=sys.stderr)
        return 2
    spec = json.load(sys.stdin)
    task, fake = spec["task"], spec["fake"]
    log = os.path.join(fake["state_dir"], f"{task}.jsonl")
    run = 1
    if os.path.exists(log):
        with open(log, encoding="utf-8") as f:
            run += sum(1 for line in f if '"start"' in line)

    def record(event: dict) -> None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")

    record({"event": "start", "time": time.time(), "pid": os.getpid(), "sid": os.getsid(0),
            "probe": os.environ.get("FAKE_PROBE")})
    time.sleep(fake.get("sleep", 0))
    print(f"fake sandmill: {task} run {run}", file=sys.stderr)
    failing = run <= fake.get("fail_times", 0)
    if failing and fake.get("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    retryable = bool(fake.get("retryable", True))
    result = {
        "task": task,
        "attempt": run,
        "status": ("transient" if retryable else "plugin") if failing else "ok",
        "retryable": retryable if failing else False,
        "error": f"{task}: fake failure in run {run}" if failing else None,
        "counts": None if failing else {"records": 1},
        "log": None,
    }
    record({"event": "end", "time": time.time()})
    print(json.dumps(result))
    return fake.get("exit", 1) if failing else 0


if __name__ == "__main__":
    sys.exit(main())
