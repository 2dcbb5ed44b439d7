"""The values of one key group, as ``reduce`` and ``combine`` see them: an iterator of
``bytes`` in byte order, which pulls more from the host (``host.next-values``) when the group
is larger than the batch it arrived in."""

import struct

from . import codec
from .errors import RecordError

__all__ = ["Values"]

_SIGN = codec.SIGN


class Values:
    """The values of one key, in byte order: iterate it (``for v in values``) or use a helper.

    It can be read once: a key with a hundred million values streams through in chunks and is
    never held whole."""

    __slots__ = ("_chunk", "_pull", "_done")

    def __init__(self, data, ends, first, end, pull=None):
        # The part of the batch holding this group: items first..end of (data, ends).
        self._chunk = (data, ends, first, end)
        # Called for the next chunk as a (data, ends) pair, or None when there is no more.
        self._pull = pull
        self._done = False

    def _chunks(self):
        """Each chunk of values as ``(data, ends, first, end)``: the batch's, then pulled ones."""
        if self._done:
            raise RuntimeError("the values of a group can be read once; keep what you need "
                               "(list(values)) to read them again")
        self._done = True
        yield self._chunk
        pull = self._pull
        while pull is not None:
            nxt = pull()
            if nxt is None:
                return
            data, ends = nxt
            if ends:
                yield data, ends, 0, len(ends)

    def __iter__(self):
        for data, ends, first, end in self._chunks():
            start = ends[first - 1] if first else 0
            for e in ends[first:end]:
                yield data[start:e]
                start = e

    def count(self):
        """How many values there are (reading them all)."""
        return sum(end - first for _, _, first, end in self._chunks())

    def sum_i64(self):
        """The wrapping sum of one-lane :func:`~sandmill.codec.i64_key` values (word counts)."""
        return self.sum_i64_lanes(1)[0]

    def sum_i64_lanes(self, lanes):
        """The lane-wise wrapping sum of :func:`~sandmill.codec.i64_lanes` values of ``lanes``
        numbers, as a tuple. A :class:`~sandmill.errors.RecordError` if a value has another
        length. Each chunk is decoded with one ``struct.unpack``."""
        width = 8 * lanes
        totals = [0] * lanes
        n = 0
        for data, ends, first, end in self._chunks():
            start = ends[first - 1] if first else 0
            count = end - first
            if ends[first:end] != list(range(start + width, start + width * count + 1, width)):
                bad = next(e - s for s, e in zip([start, *ends[first:end]], ends[first:end])
                           if e - s != width)
                raise RecordError(f"expected {lanes} 8-byte numbers ({width} bytes) per value, "
                                  f"got a value of {bad} bytes")
            numbers = struct.unpack(f">{lanes * count}Q", data[start:start + width * count])
            for lane in range(lanes):
                totals[lane] += sum(numbers[lane::lanes])
            n += count
        return tuple(codec.wrap_i64(t - n * _SIGN) for t in totals)

    def decode(self, decode):
        """Each value passed through ``decode`` (``codec.decode_i64``, say), lazily."""
        return (decode(v) for v in self)
