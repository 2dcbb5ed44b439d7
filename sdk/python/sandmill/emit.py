"""Buffers a job writes into: :class:`Emitter` for key/value pairs, :class:`Output` for output
lines.

Both keep the pieces in a list and join them once per batch: ``b"".join`` for the bytes and
``itertools.accumulate`` for the end offsets, both loops in C. Keys, values and records are
``bytes``, ``bytearray``, ``memoryview`` or ``str`` (written as UTF-8).
"""

from itertools import accumulate

from . import codec
from .errors import JobFailed

__all__ = ["Emitter", "Output", "format_fields"]

_BYTES = (bytes, bytearray, memoryview)


def _as_bytes(piece, what):
    if isinstance(piece, _BYTES):
        return bytes(piece)
    if isinstance(piece, str):
        return piece.encode()
    raise TypeError(f"{what} must be bytes or str, not {type(piece).__name__} ({piece!r:.80})")


def _flatten(pieces, what):
    """``(data, ends)`` of ``pieces``: their bytes back to back and each one's end offset."""
    try:
        data = b"".join(pieces)
    except TypeError:
        pieces = [_as_bytes(p, what) for p in pieces]
        data = b"".join(pieces)
    if len(data) > 0xFFFF_FFFF:
        raise JobFailed(f"one batch produced {len(data)} bytes of output, more than the "
                          "4 GiB a batch may hold")
    return data, list(accumulate(map(len, pieces)))


def _field(f):
    if isinstance(f, _BYTES):
        return bytes(f)
    if isinstance(f, str):
        return f.encode()
    if isinstance(f, int) and not isinstance(f, bool):
        return str(f).encode()
    raise TypeError(f"an output field is bytes, str or int, not {type(f).__name__} ({f!r:.80}); "
                    "format it yourself, e.g. f'{x:.2f}'")


def format_fields(fields):
    """``fields`` joined by TAB, integers in decimal: what ``Output.fields`` writes, as the Rust
    SDK's ``Fields`` does (``("word", 3)`` becomes ``b"word\\t3"``)."""
    parts = []
    for f in fields:
        # The common types first, by exact type: this runs once per output field.
        t = type(f)
        if t is bytes:
            parts.append(f)
        elif t is int:
            parts.append(b"%d" % f)
        elif t is str:
            parts.append(f.encode())
        else:
            parts.append(_field(f))
    return b"\t".join(parts)


class Emitter:
    """Collects the key/value pairs a ``map`` (or ``combine``) emits."""

    __slots__ = ("_pieces",)

    def __init__(self):
        self._pieces = []

    def emit(self, key, value):
        """Emits one pair. Keys are grouped and sorted by their bytes before the reduce."""
        self._pieces += (key, value)

    def emit_counts(self, counts):
        """Emits each ``key: n`` of the mapping ``counts`` as ``(key, codec.i64_key(n))``: the
        pairs ``Merge.SUM`` adds up. Counting a batch's words in a ``dict`` or
        ``collections.Counter`` first sends far fewer pairs to the host than one per word, with
        the same output (the host sums them anyway)."""
        key = codec.i64_key
        pieces = self._pieces
        for k, n in counts.items():
            pieces += (k, key(n))

    def __len__(self):
        return len(self._pieces) // 2

    def pairs(self):
        """The pairs emitted so far, as ``(key, value)`` bytes, in order."""
        p = [_as_bytes(x, "a key or value") for x in self._pieces]
        return list(zip(p[0::2], p[1::2]))

    def _take(self):
        """``(data, ends)`` for the host, emptying the emitter."""
        pieces, self._pieces = self._pieces, []
        return _flatten(pieces, "a key or value")


class Output:
    """Collects the output records a ``reduce`` writes: one line each in the output, at the top
    level or in a named output partition (a subdirectory such as ``date=2026-03-22/``)."""

    __slots__ = ("_pieces", "_partitions", "_index", "_routes")

    def __init__(self):
        self._pieces = []
        self._partitions = []
        self._index = {}
        # Per record: 1 + its partition's index, or 0 for the top level; empty while every
        # record is at the top level.
        self._routes = []

    def record(self, line):
        """Writes one output record as it is (bytes or str). The host ends it with ``\\n``."""
        self._pieces.append(line)
        if self._routes:
            self._routes.append(0)

    def fields(self, *fields):
        """Writes one record of fields separated by TAB: bytes and str as they are, integers in
        decimal. ``out.fields(word, 3)`` writes ``word\\t3``."""
        self._pieces.append(format_fields(fields))
        if self._routes:
            self._routes.append(0)

    def record_in(self, partition, line):
        """Like :meth:`record`, into the output partition ``partition`` (a
        :class:`~sandmill.partition.Partition` or its name, such as ``date=2026-03-22``)."""
        self._route(str(partition))
        self._pieces.append(line)

    def fields_in(self, partition, *fields):
        """Like :meth:`fields`, into the output partition ``partition``."""
        self._route(str(partition))
        self._pieces.append(format_fields(fields))

    def _route(self, name):
        index = self._index.get(name)
        if index is None:
            self._partitions.append(name)
            index = self._index[name] = len(self._partitions)
        if not self._routes:
            self._routes = [0] * len(self._pieces)
        self._routes.append(index)

    def __len__(self):
        return len(self._pieces)

    def records(self):
        """The records written so far, as bytes."""
        return [_as_bytes(p, "an output record") for p in self._pieces]

    def routes(self):
        """The partition each record so far goes to (``None``: the top level)."""
        if not self._routes:
            return [None] * len(self._pieces)
        return [self._partitions[r - 1] if r else None for r in self._routes]

    def _take(self):
        """``(data, ends, partitions, routes)`` for the host."""
        data, ends = _flatten(self._pieces, "an output record")
        return data, ends, list(self._partitions), list(self._routes)
