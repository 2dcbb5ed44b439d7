"""Running a job in plain CPython, without building a component: for a job's own tests.

:func:`run` does what the host does, in one process: configure, map (through the batch hook),
sort by key and value, combine (the native :class:`~sandmill.Merge` as the host runs it, or the
job's ``combine``) and reduce, with the same adapter code the component runs. Logs and counters
are recorded: :func:`take_logs`, :func:`take_counters`.

    >>> from sandmill import testing
    >>> testing.run(WordCount, "lines", ["a B a", "b."])   # doctest: +SKIP
    ['a\\t2', 'b\\t2']
"""

from itertools import accumulate

from . import Combiner, Merge, _core, _host, codec
from .errors import JobFailed
from .record import Format, Record, parse_csv_row
from .values import Values

__all__ = ["run", "run_output", "map", "values", "record", "JobError", "take_logs",
           "take_counters", "set_side_input", "clear_side_inputs"]


class JobError(Exception):
    """What the host would report: ``kind`` is ``"record"`` (record or group ``index`` of the
    batch), ``"params"`` or ``"failed"``; ``message`` is the job's text, traceback included."""

    def __init__(self, kind, index, message):
        super().__init__(f"{kind} error" + (f" at item {index}" if kind == "record" else "")
                         + f": {message}")
        self.kind, self.index, self.message = kind, index, message


def _format(format):
    return format if isinstance(format, Format) else Format(format)


def _as_bytes(r):
    return r.encode() if isinstance(r, str) else bytes(r)


def _flat(items):
    items = [_as_bytes(i) for i in items]
    # Not map(): this module's map() shadows the builtin.
    return b"".join(items), list(accumulate(len(i) for i in items))


def _call(f, *args):
    try:
        return f(*args)
    except _core.CallError as e:
        raise JobError(e.kind, e.index, e.message) from None


def _configure(job, params):
    """``(job, combiner)`` from a job class (instantiated here, as the host does) or an
    instance, configured with ``params``."""
    make = job if isinstance(job, type) else (lambda: job)
    return _call(_core.configure, make, params)


def record(format, line, header=None):
    """A :class:`~sandmill.Record` for calling a job's ``map`` directly; ``header`` is the CSV
    header line."""
    header = parse_csv_row(_as_bytes(header)) if header is not None else None
    return Record(_as_bytes(line), _format(format), header)


def values(items):
    """:class:`~sandmill.Values` of ``items`` (bytes or str), for calling ``reduce`` directly."""
    data, ends = _flat(items)
    return Values(data, ends, 0, len(ends))


def map(job, format, records, header=None, params=()):
    """The pairs ``job`` (a class or an instance, configured here) emits for ``records`` (str or bytes, one
    batch), as ``(key, value)`` bytes, in emission order."""
    job, _ = _configure(job, params)
    data, ends = _flat(records)
    mapper = _core.Mapper(job)
    head = _as_bytes(header) if header is not None else b""
    out_data, out_ends = _call(mapper.map_batch, _format(format), head, data, ends)
    return _pairs(out_data, out_ends)


def _pairs(data, ends):
    starts = [0, *ends]
    return [(data[starts[i]:ends[i]], data[ends[i]:ends[i + 1]]) for i in range(0, len(ends), 2)]


def _merge(policy, vals):
    """The host's native merge, as a plain reference."""
    if policy in (Merge.SUM, Merge.COUNT):
        lanes = len(vals[0]) // 8
        if any(len(v) != 8 * lanes for v in vals):
            raise JobFailed("sum merge: values have different lengths")
        totals = [0] * lanes
        for v in vals:
            for i, x in enumerate(codec.decode_i64_lanes(v, lanes)):
                totals[i] += x
        return codec.i64_lanes(*(codec.wrap_i64(t) for t in totals))
    if policy in (Merge.MIN, Merge.FIRST):
        return min(vals)
    if policy in (Merge.MAX, Merge.LAST):
        return max(vals)
    return b"".join(vals)


def _group(pairs):
    groups = []
    for k, v in sorted(pairs):
        if groups and groups[-1][0] == k:
            groups[-1][1].append(v)
        else:
            groups.append((k, [v]))
    return groups


def _batch(groups, chunk):
    """The ``groups`` as one host batch (tuple for ``_core``) and a pull function. With
    ``chunk``, the last group holds only ``chunk`` values in the batch and streams the rest
    through the pull in chunks of ``chunk`` values, as ``host.next-values`` does."""
    keys_data, keys_ends = _flat([k for k, _ in groups])
    vals, group_ends, rest = [], [], []
    for i, (_, vs) in enumerate(groups):
        if chunk and i + 1 == len(groups) and len(vs) > chunk:
            vs, rest = vs[:chunk], vs[chunk:]
        vals += vs
        group_ends.append(len(vals))
    values_data, values_ends = _flat(vals)
    chunks = [_flat(rest[i:i + chunk]) for i in range(0, len(rest), chunk)] if rest else []
    pulls = iter(chunks)

    def pull():
        return next(pulls, None)

    batch = (keys_data, keys_ends, values_data, values_ends, group_ends, bool(rest))
    return batch, pull


def run_output(job, format, records, header=None, params=(), chunk=None):
    """Like :func:`run`, but every output record with its partition: ``(partition or None,
    line as str)``."""
    job, combiner = _configure(job, params)
    head = _as_bytes(header) if header is not None else b""
    mapper = _core.Mapper(job)
    records = list(records)
    size = chunk or max(len(records), 1)
    pairs = []
    for i in range(0, len(records), size):
        data, ends = _flat(records[i:i + size])
        pairs += _pairs(*_call(mapper.map_batch, _format(format), head, data, ends))
    groups = _group(pairs)
    if chunk:
        # A combiner may run zero times: skipping it leaves every value to stream.
        combiner = Combiner.NONE
    if isinstance(combiner, Merge):
        groups = [(k, [_merge(combiner, vs)]) for k, vs in groups]
    elif combiner is Combiner.PLUGIN and groups:
        combined = []
        for g in groups:
            batch, pull = _batch([g], chunk)
            combined += _pairs(*_call(_core.combine_groups, job, batch, pull))
        groups = _group(combined)
    out = []
    for g in groups:
        # One group per batch, so that with `chunk` every group streams its values.
        batch, pull = _batch([g], chunk)
        data, ends, partitions, routes, _ = _call(_core.reduce_groups, job, batch, pull)
        starts = [0, *ends]
        for i, end in enumerate(ends):
            route = routes[i] if routes else 0
            out.append((partitions[route - 1] if route else None,
                        data[starts[i]:end].decode()))
    return out


def run(job, format, records, header=None, params=(), chunk=None):
    """Runs ``job`` (its class, or an instance) on ``records`` (str or bytes, as the host cuts them: one line
    each, without the line end) and returns the output lines as ``str``, in key order.

    ``format`` is a :class:`~sandmill.Format` or ``"lines"``, ``"jsonl"``, ``"csv"``;
    ``header`` the CSV header line; ``params`` the ``--param`` pairs. With ``chunk``, the
    records are mapped in batches of ``chunk``, nothing is combined (a combiner may run zero
    times), and each group's values beyond the first ``chunk`` stream in through the pull of
    ``next-values``, as a large group's do in a component: the output must not change. Raises :class:`JobError` with what the host would
    report."""
    return [line for _, line in run_output(job, format, records, header, params, chunk)]


def take_logs():
    """The ``(level, message)`` pairs logged so far (level names: ``"info"``, ...), clearing
    them."""
    logs = list(_host.LOGS)
    _host.LOGS.clear()
    return logs


def take_counters():
    """The counter totals so far, as a ``dict``, clearing them."""
    counters = dict(_host.COUNTERS)
    _host.COUNTERS.clear()
    return counters


def set_side_input(name, records):
    """Gives the job a side input ``name`` holding ``records`` (``str`` or ``bytes``, one line
    each), as ``--side-input name=PATH`` would: :func:`sandmill.side_input` then yields them."""
    _host.SIDE_INPUTS[str(name)] = [_as_bytes(r) for r in records]


def clear_side_inputs():
    """Removes every side input :func:`set_side_input` gave."""
    _host.SIDE_INPUTS.clear()
