"""Sandmill's Ray executor: the driver that `sandmill run --executor ray` starts.

`sandmill_ray.driver` reads a job's tasks as JSON on stdin, submits each as a Ray task (a
reduce task waits on its map tasks' results, so Ray enforces the barrier) and reports each
task as it finishes, one JSON line on stdout. `sandmill_ray.task` is what runs on a worker
node: one `sandmill task run --spec -` process per attempt. Both modules must be importable
on every node (install the `sandmill` package there, or put this directory on PYTHONPATH).
"""
