"""Calls to the host. Inside a component they go to ``sandmill:job/host``; in plain CPython
(a job's own tests) logs and counters are recorded for ``sandmill.testing`` to check."""

import sys

#: Whether this runs inside a component built by componentize-py.
IN_COMPONENT = sys.platform == "wasi"

#: Recorded natively: ``(level name, message)`` pairs and counter totals.
LOGS = []
COUNTERS = {}
#: Natively: the side inputs ``sandmill.testing.set_side_input`` gave, name to records.
SIDE_INPUTS = {}


class SideInputMissing(Exception):
    """The job has no side input of the name asked for (the host's message)."""

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

    def side_input(name, batch):
        from componentize_py_types import Err

        try:
            records = _wit_host.side_input(name, batch)
        except Err as e:
            raise SideInputMissing(e.value) from None
        return None if records is None else (records.data, records.ends)

else:

    def log(level, message):
        LOGS.append((level, message))

    def counter_add(name, delta):
        COUNTERS[name] = COUNTERS.get(name, 0) + delta

    def next_values():
        return None

    def side_input(name, batch):
        if name not in SIDE_INPUTS:
            known = ", ".join(sorted(SIDE_INPUTS)) or "none"
            raise SideInputMissing(
                f"the job has no side input named {name} (it has {known}); run it with "
                f"--side-input {name}=PATH (in tests: testing.set_side_input)")
        if batch > 0 or not SIDE_INPUTS[name]:
            return None
        data, ends = bytearray(), []
        for record in SIDE_INPUTS[name]:
            data += record
            ends.append(len(data))
        return bytes(data), ends
