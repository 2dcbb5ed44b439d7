"""The adapter between the flat batches of the ``sandmill:job`` contract and a :class:`Job`:
what the component's exports (``sandmill.guest``) and ``sandmill.testing`` both call, on plain
``bytes`` and ``list[int]``, so that a job's native tests run the code its component runs.

Every exception a job raises comes out as a :class:`CallError`; ``sandmill.guest`` turns that
into the WIT ``job-error``.
"""

import inspect

from . import Combiner, Job, Merge
from .emit import Emitter, Output
from .groups import Groups
from .errors import ParamsError, RecordError, describe, is_about_a_record
from .params import Params
from .record import Batch, Format, parse_csv_row
from .values import Values


class CallError(Exception):
    """A job's call failed: ``kind`` is ``"record"`` (item ``index`` of the batch is bad),
    ``"params"`` or ``"failed"``; ``message`` says why, with the traceback."""

    def __init__(self, kind, index, message):
        super().__init__(message)
        self.kind, self.index, self.message = kind, index, message


def _error(exc, index=None, item=None):
    """The :class:`CallError` for ``exc``, raised while processing item ``index`` of the batch
    (or none), described as ``item()`` (for a failure the host does not place itself)."""
    if isinstance(exc, CallError):
        return exc
    if isinstance(exc, ParamsError):
        return CallError("params", 0, describe(exc))
    if index is not None and is_about_a_record(exc):
        return CallError("record", index, describe(exc))
    context = None
    if index is not None and item is not None:
        try:
            context = f"raised on {item(index)}"
        except BaseException:  # noqa: BLE001 - the message without it, then
            pass
    return CallError("failed", 0, describe(exc, context))


def _shown(b):
    """``b`` as a person reads it, cut to about 200 characters."""
    text = repr(bytes(b[:200]))
    return text + " (cut)" if len(b) > 200 else text


def find_job_class(module):
    """The job class of ``module`` (the project's ``job.py``): its ``JOB`` attribute, or else
    the one subclass of :class:`Job` it defines. A ``TypeError`` that says what to write if
    there is none, or several."""
    explicit = getattr(module, "JOB", None)
    if explicit is not None:
        if not (inspect.isclass(explicit) and issubclass(explicit, Job)):
            raise TypeError(f"{module.__name__}.JOB = {explicit!r} is not a class deriving "
                            "sandmill.Job")
        return explicit
    found = [c for c in vars(module).values()
             if inspect.isclass(c) and issubclass(c, Job) and c is not Job
             and c.__module__ == module.__name__]
    if len(found) == 1:
        return found[0]
    if not found:
        raise TypeError(f"{module.__file__} defines no job: write a class deriving sandmill.Job "
                        "(class WordCount(sandmill.Job): ...)")
    names = ", ".join(c.__name__ for c in found)
    raise TypeError(f"{module.__file__} defines several jobs ({names}): say which one with "
                    "JOB = TheJob at the end of the file")


def configure(make_job, pairs):
    """The job ``make_job()`` (its class, say) configured with the ``--param`` ``pairs``:
    ``(job, combiner)``, the combiner a :class:`Combiner` or :class:`Merge`."""
    try:
        job = make_job()
        job_class = type(job)
        job.configure(Params(pairs))
        combiner = job.combiner
        if not isinstance(combiner, (Combiner, Merge)):
            raise TypeError(f"{job_class.__name__}.combiner is {combiner!r}: use a "
                            "sandmill.Merge (Merge.SUM, ...), Combiner.PLUGIN or Combiner.NONE")
        if combiner is Combiner.PLUGIN and type(job).combine is Job.combine:
            raise TypeError(f"{job_class.__name__}.combiner is Combiner.PLUGIN but it has no "
                            "combine(self, key, values, out)")
        return job, combiner
    except BaseException as e:  # noqa: BLE001 - every exception becomes a job-error
        raise _error(e) from None


class Mapper:
    """Calls a job's map on batches, remembering the last CSV header it parsed (every batch of
    a CSV file carries the same one)."""

    def __init__(self, job):
        self.job = job
        self._header = (None, None)
        # The default batch hook calls map per record: done here, so that an exception names
        # its record without the batch's help.
        self._per_record = type(job).map_batch is Job.map_batch

    def header(self, raw):
        if self._header[0] != raw:
            try:
                self._header = (raw, parse_csv_row(raw))
            except BaseException as e:  # noqa: BLE001
                raise CallError("failed", 0, f"the CSV header row {raw[:200]!r}: {describe(e)}") \
                    from None
        return self._header[1]

    def map_batch(self, format, header, data, ends):
        """Maps the records ``(data, ends)``: the pairs as ``(data, ends)``."""
        header = self.header(header) if format is Format.CSV else None
        batch = Batch(format, header, data, ends)
        out = Emitter()
        index = None
        try:
            if self._per_record:
                map_one = self.job.map
                for index, record in enumerate(batch):
                    map_one(record, out)
                index = None
            else:
                self.job.map_batch(batch, out)
            return out._take()
        except BaseException as e:  # noqa: BLE001
            at = index if self._per_record else batch.index
            raise _error(e, at, lambda i: f"record {i} of the batch: {_shown(batch.lines()[i])}") \
                from None


def combine_groups(job, groups, pull):
    """Calls ``job.combine`` on every group of ``groups`` (the batch as ``(keys data, keys
    ends, values data, values ends, group ends, last continues)``): the combined pairs as
    ``(data, ends)``."""
    out = Emitter()
    batch = Groups(*groups, pull, out)
    try:
        for key, values in batch:
            job.combine(key, values, out)
        return out._take()
    except BaseException as e:  # noqa: BLE001
        key = batch.key
        raise _error(e, batch.index, lambda _: f"the combine of key {_shown(key)}") from None


def reduce_groups(job, groups, pull):
    """Calls ``job.reduce_batch`` (by default ``job.reduce`` per group) on the groups:
    ``(data, ends, partitions, routes, group_ends)``."""
    out = Output()
    batch = Groups(*groups, pull, out)
    try:
        job.reduce_batch(batch, out)
        group_ends = batch._records_per_group()
        return (*out._take(), group_ends)
    except BaseException as e:  # noqa: BLE001
        key = batch.key
        raise _error(e, batch.index, lambda _: f"the reduce of key {_shown(key)}") from None


__all__ = ["CallError", "find_job_class", "configure", "Mapper", "combine_groups",
           "reduce_groups", "RecordError"]
