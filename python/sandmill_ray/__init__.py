"""Sandmill's Ray executor: the driver that `sandmill run --executor ray` starts.

`sandmill_ray.driver` reads a job's tasks as JSON on stdin, submits each as a Ray task (a
reduce task waits on its map tasks' results, so Ray enforces the barrier) and reports each
task as it finishes, one JSON line on stdout. `sandmill_ray.task` is what runs on a worker
node: one `sandmill task run --spec -` process per attempt. The driver sends that module to
the nodes with the tasks (pickled by value), so a node needs only Ray and the `sandmill`
binary, and always runs the task code of the driver's version.
"""
