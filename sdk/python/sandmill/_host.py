"""Calls to the host. Inside a component they go to ``sandmill:job/host``; in plain CPython
(a job's own tests) logs and counters are recorded for ``sandmill.testing`` to check."""

import sys

#: Whether this runs inside a component built by componentize-py.
IN_COMPONENT = sys.platform == "wasi"

#: Recorded natively: ``(level name, message)`` pairs and counter totals.
LOGS = []
COUNTERS = {}

if IN_COMPONENT:
    from wit_world.imports import host as _wit_host
    from wit_world.imports import types as _wit_types

    _LEVELS = {
        "debug": _wit_types.LogLevel.DEBUG,
        "info": _wit_types.LogLevel.INFO,
        "warn": _wit_types.LogLevel.WARN,
        "error": _wit_types.LogLevel.ERROR,
    }

    def log(level, message):
        _wit_host.log(_LEVELS[level], message)

    def counter_add(name, delta):
        _wit_host.counter_add(name, delta)

    def next_values():
        chunk = _wit_host.next_values()
        return None if chunk is None else (chunk.data, chunk.ends)

else:

    def log(level, message):
        LOGS.append((level, message))

    def counter_add(name, delta):
        COUNTERS[name] = COUNTERS.get(name, 0) + delta

    def next_values():
        return None
