"""Write Sandmill map/reduce jobs in Python.

A job is a class deriving :class:`Job`, in the project's ``job.py``, with ``map`` and
``reduce`` (and optionally ``configure``, a ``combiner``, ``combine`` and the batch hook
``map_batch``)::

    import sandmill
    from sandmill import codec, text

    class WordCount(sandmill.Job):
        combiner = sandmill.Merge.SUM          # the host adds counts natively

        def map(self, record, out):
            for word in text.ascii_words(record.bytes):
                out.emit(word, codec.i64_key(1))

        def reduce(self, word, counts, out):
            out.fields(word, counts.sum_i64())

``sandmill build`` turns the project into a WebAssembly component (componentize-py, with this
package's WIT); ``sandmill.testing.run`` runs the same class in plain CPython.
"""

import enum

from . import _host, codec, partition, text
from .emit import Emitter, Output
from .errors import JobFailed, ParamsError, RecordError
from .groups import Groups
from .params import Params
from .partition import Partition
from .record import Batch, Format, Record
from .values import Values

__all__ = [
    "Job", "Combiner", "Merge", "LogLevel", "log", "counter", "side_input",
    "Emitter", "Output", "Params", "Partition", "Batch", "Format", "Record", "Values", "Groups",
    "RecordError", "ParamsError", "JobFailed", "codec", "partition", "text",
]


class Merge(enum.Enum):
    """A merge the host runs natively to combine the values of one key, without calling the
    job. It may run zero or more times on any subset of a key's values, so ``reduce`` must give
    the same answer for combined and uncombined values."""

    #: Lane-wise sum of values in the :func:`codec.i64_lanes` encoding.
    SUM = "sum"
    #: The smallest value in byte order.
    MIN = "min"
    #: The largest value in byte order.
    MAX = "max"
    #: Sum of one-lane :func:`codec.i64_key` counts.
    COUNT = "count"
    #: The first value in byte order.
    FIRST = "first"
    #: The last value in byte order.
    LAST = "last"
    #: All values concatenated, in byte order.
    APPEND = "append"


class Combiner(enum.Enum):
    """How the values of one key may be combined before ``reduce``, besides a :class:`Merge`."""

    #: Never combine (the default).
    NONE = "none"
    #: Call :meth:`Job.combine`.
    PLUGIN = "plugin"


class LogLevel(enum.Enum):
    """How serious a :func:`log` message is."""

    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


def log(level, message):
    """Writes ``message`` to the job's log at ``level`` (a :class:`LogLevel`). Bounded by the
    host; dropped if the task attempt fails."""
    _host.log(LogLevel(level).value, str(message))


def counter(name, delta=1):
    """Adds ``delta`` (a 64-bit integer) to the counter ``name``, summed over all tasks and
    shown in the job summary."""
    if not -(1 << 63) <= delta < (1 << 63):
        raise ValueError(f"counter({name!r}, {delta}): the delta is out of the 64-bit range")
    _host.counter_add(str(name), int(delta))


def side_input(name):
    """Yields the records (``bytes``, one per line, without line ends) of the job's side input
    ``name`` (``sandmill run --side-input NAME=PATH``), in file order, pulling batches of about
    1 MiB from the host. Usable from ``configure``, ``map``, ``combine`` and ``reduce``; every
    call starts again from the first record. Raises :class:`JobFailed` if the job has no side
    input ``name``. In tests, ``sandmill.testing.set_side_input`` provides one."""
    batch = 0
    while True:
        try:
            got = _host.side_input(str(name), batch)
        except _host.SideInputMissing as e:
            raise JobFailed(f"side_input({name}): {e}") from None
        if got is None:
            return
        data, ends = got
        start = 0
        for end in ends:
            yield bytes(data[start:end])
            start = end
        batch += 1


class Job:
    """A map/reduce job. Derive from it in ``job.py``; ``sandmill build`` finds the class.

    One instance serves one task attempt: the host makes a fresh instance (and calls
    :meth:`configure`) for every task, so nothing carries over between tasks and ``self`` is
    free to hold scratch state.
    """

    #: How map output may be combined: a :class:`Merge` (fast, native), ``Combiner.PLUGIN``
    #: (calls :meth:`combine`) or ``Combiner.NONE``. A class attribute, or set it in
    #: :meth:`configure`.
    combiner = Combiner.NONE

    def configure(self, params):
        """Reads the job's ``--param k=v`` pairs (:class:`Params`). The default accepts none.
        Raise :class:`ParamsError` for a bad one: the job does not start."""
        params.expect_only()

    def map(self, record, out):
        """Maps one input :class:`Record` to any number of pairs, emitted into ``out`` (an
        :class:`Emitter`). An exception names the record's file and line and stops the job."""
        raise NotImplementedError(f"{type(self).__name__} has no map(self, record, out)")

    def map_batch(self, batch, out):
        """The batch hook: maps a whole :class:`Batch` of records at once. The default calls
        :meth:`map` on each record; override it to do the work once per batch (tokenise every
        line in one call and count words in a ``dict``, say), which is much faster in Python."""
        map_one = self.map
        for record in batch:
            map_one(record, out)

    def combine(self, key, values, out):
        """Combines some of the :class:`Values` of ``key`` into fewer values, emitted under the
        same key into ``out`` (an :class:`Emitter`). Called only when :attr:`combiner` is
        ``Combiner.PLUGIN``. Emit at least one pair, and only under ``key``."""
        raise JobFailed("the job's combiner is Combiner.PLUGIN but it has no "
                        "combine(self, key, values, out)")

    def reduce(self, key, values, out):
        """Reduces all :class:`Values` of ``key`` (bytes) to output records written into
        ``out`` (an :class:`Output`). An exception names the key and stops the job."""
        raise NotImplementedError(f"{type(self).__name__} has no reduce(self, key, values, out)")

    def reduce_batch(self, groups, out):
        """The reduce batch hook: reduces a whole batch of :class:`Groups` at once. The default
        calls :meth:`reduce` for each ``(key, values)``; override it to skip the per-group
        overhead, e.g. ``for key, total in groups.sums_i64(): out.fields(key, total)``."""
        reduce = self.reduce
        for key, values in groups:
            reduce(key, values, out)
