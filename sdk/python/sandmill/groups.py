"""A batch of key groups, as the reduce batch hook ``Job.reduce_batch`` sees it: iterate it
for ``(key, Values)``, or sum every group's values at once with :meth:`Groups.sums_i64`.

Whichever way a hook goes through the groups, the batch notes the records each group wrote
(the host names a bad record's key by them) and which group is at hand when an exception is
raised."""

import struct

from . import codec
from .values import Values

__all__ = ["Groups"]

_SIGN = codec.SIGN
_U64 = (1 << 64) - 1


class Groups:
    """The groups of one ``reduce-groups`` call, in key order: ``len(groups)`` of them. Go
    through them once, in order."""

    __slots__ = ("_keys_data", "_keys_ends", "_data", "_ends", "_group_ends", "_continues",
                 "_pull", "_out", "_written", "_used", "index")

    def __init__(self, keys_data, keys_ends, data, ends, group_ends, continues, pull, out):
        self._keys_data, self._keys_ends = keys_data, keys_ends
        self._data, self._ends, self._group_ends = data, ends, group_ends
        # Whether the last group has more values than the batch, pulled with `pull`.
        self._continues, self._pull = continues, pull
        self._out = out
        # For each group seen and done: how many records `out` held after it.
        self._written = []
        self._used = False
        #: The index of the group at hand, or None.
        self.index = None

    def __len__(self):
        return len(self._group_ends)

    @property
    def key(self):
        """The key of the group at hand, or None."""
        if self.index is None:
            return None
        i, ends = self.index, self._keys_ends
        return self._keys_data[ends[i - 1] if i else 0:ends[i]]

    def _done(self, i):
        """Notes that every group before ``i`` is done (called as group ``i`` starts)."""
        written, n = self._written, len(self._out)
        while len(written) < i:
            written.append(n)

    def _keys(self):
        if self._used:
            raise RuntimeError("the groups of a batch can be gone through once")
        self._used = True
        data, ends = self._keys_data, self._keys_ends
        return [data[s:e] for s, e in zip([0, *ends], ends)]

    def __iter__(self):
        """``(key, Values)`` for each group; the last one's values stream in from the host when
        it has more than the batch holds."""
        data, ends, pull = self._data, self._ends, self._pull
        for key, first, end, continues in self._spans():
            yield key, Values(data, ends, first, end, pull if continues else None)

    def _spans(self):
        """``(key, first, end, continues)`` for each group: its values are items
        ``first..end``, and pulls follow when ``continues``. Notes, as each group starts, the
        records the one before wrote, and keeps :attr:`index` on the group at hand."""
        group_ends = self._group_ends
        last = len(group_ends) - 1
        first = 0
        written, out_len = self._written, self._out.__len__
        for i, key in enumerate(self._keys()):
            if i:
                written.append(out_len())
            self.index = i
            end = group_ends[i]
            yield key, first, end, self._continues and i == last
            first = end
        self.index = None

    def sums_i64(self, lanes=1):
        """``(key, total)`` for each group: the lane-wise wrapping sum of its
        :func:`~sandmill.codec.i64_lanes` values (a number for one lane, else a tuple), as
        ``Values.sum_i64_lanes`` gives it, but decoding the whole batch in one
        ``struct.unpack``. A :class:`~sandmill.errors.RecordError` for a group whose values
        have another length."""
        data, ends = self._data, self._ends
        width = 8 * lanes
        if ends != list(range(width, width * len(ends) + 1, width)) or self._used:
            # Some value has another width: let each group's Values find it (and name it).
            for key, values in self:
                total = values.sum_i64_lanes(lanes)
                yield key, total[0] if lanes == 1 else total
            return
        numbers = struct.unpack(f">{len(ends) * lanes}Q", data)
        for key, first, end, continues in self._spans():
            count = end - first
            more = None
            if continues:
                more = Values(b"", [], 0, 0, self._pull).sum_i64_lanes(lanes)
            if lanes == 1:
                total = sum(numbers[first:end]) - count * _SIGN + (more[0] if more else 0)
                total &= _U64
                yield key, total - (1 << 64) if total & _SIGN else total
            else:
                totals = []
                for lane in range(lanes):
                    t = sum(numbers[first * lanes + lane:end * lanes:lanes]) - count * _SIGN
                    totals.append(codec.wrap_i64(t + (more[lane] if more else 0)))
                yield key, tuple(totals)

    def _records_per_group(self):
        """For each group, the number of records written once it was done (the WIT's
        ``group-ends``); groups the hook never reached wrote nothing."""
        self._done(len(self._group_ends))
        self.index = None
        return self._written
