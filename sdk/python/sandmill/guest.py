"""The component's exports: what ``sandmill build`` wraps (``componentize-py componentize
sandmill.guest``). Imports the project's ``job.py``, finds its job class, and implements the
``sandmill:job/job`` world over :mod:`sandmill._core`. Not for jobs to import.

componentize-py runs this module once at build time (and keeps the initialised interpreter in
the component), so a job that does not import or defines no job class fails the build, with
the reason.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

import job as _job_module

from . import Combiner, Merge, _core, _host
from .record import Format

JOB_CLASS = _core.find_job_class(_job_module)

_FORMATS = {
    types.InputFormat.LINES: Format.LINES,
    types.InputFormat.JSONL: Format.JSONL,
    types.InputFormat.CSV: Format.CSV,
}

_COMBINERS = {
    Combiner.NONE: types.Combiner_None_(),
    Combiner.PLUGIN: types.Combiner_Plugin(),
    **{m: types.Combiner_Merge(getattr(types.MergePolicy, m.name)) for m in Merge},
}


def _job_error(err):
    """The WIT ``job-error`` for a :class:`_core.CallError`, raised as componentize-py wants."""
    if err.kind == "record":
        value = types.JobError_InvalidRecord(types.RecordError(err.index, err.message))
    elif err.kind == "params":
        value = types.JobError_InvalidParams(err.message)
    else:
        value = types.JobError_Failed(err.message)
    return Err(value)


def _groups(batch):
    return (batch.keys.data, batch.keys.ends, batch.values.data, batch.values.ends,
            batch.group_ends, batch.last_continues)


def _failed(where, exc):
    """A ``job-error`` for an exception in this adapter itself (a bug in the SDK)."""
    from .errors import describe
    return Err(types.JobError_Failed(f"internal error in the sandmill SDK ({where}), please "
                                     f"report it: {describe(exc)}"))


#: The configured job of this instance (one task attempt), set by ``configure``. Module state,
#: not the export object's: componentize-py may make a fresh one per call.
_MAPPER = None


class WitWorld(wit_world.WitWorld):
    """The ``sandmill:job/job`` exports."""

    def configure(self, params):
        global _MAPPER
        try:
            job, combiner = _core.configure(JOB_CLASS, params)
            _MAPPER = _core.Mapper(job)
            # A Python job declares no input fields: it gets every record as it is.
            return types.JobInfo(_COMBINERS[combiner], [])
        except _core.CallError as e:
            raise _job_error(e) from None
        except BaseException as e:  # noqa: BLE001
            raise _failed("configure", e) from None

    def _job(self):
        if _MAPPER is None:
            raise Err(types.JobError_Failed("internal: called before configure"))
        return _MAPPER

    def map_batch(self, batch):
        mapper = self._job()
        try:
            data, ends = mapper.map_batch(_FORMATS[batch.format], batch.header,
                                          batch.records.data, batch.records.ends)
            return types.Pairs(data, ends)
        except _core.CallError as e:
            raise _job_error(e) from None
        except BaseException as e:  # noqa: BLE001
            raise _failed("map-batch", e) from None

    def combine_groups(self, batch):
        mapper = self._job()
        try:
            data, ends = _core.combine_groups(mapper.job, _groups(batch), _host.next_values)
            return types.Pairs(data, ends)
        except _core.CallError as e:
            raise _job_error(e) from None
        except BaseException as e:  # noqa: BLE001
            raise _failed("combine-groups", e) from None

    def reduce_groups(self, batch):
        mapper = self._job()
        try:
            data, ends, partitions, routes, group_ends = _core.reduce_groups(
                mapper.job, _groups(batch), _host.next_values)
            return types.Output(types.Records(data, ends), partitions, routes, group_ends)
        except _core.CallError as e:
            raise _job_error(e) from None
        except BaseException as e:  # noqa: BLE001
            raise _failed("reduce-groups", e) from None
