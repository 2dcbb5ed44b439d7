"""Output partition names: ``key=value`` directories, escaped as Hive and Spark write them, so
that any value can name a partition and readers get the value back.

    >>> from sandmill.partition import Partition, unescape
    >>> str(Partition().key("date", "2026-03-22").key("city", "São Paulo, BR"))
    'date=2026-03-22/city=S%C3%A3o%20Paulo%2C%20BR'
    >>> unescape("S%C3%A3o%20Paulo%2C%20BR")
    'São Paulo, BR'

The host accepts a name of 1 to 1024 bytes of ``/``-separated segments, each 1 to 255 bytes of
ASCII letters, digits, ``-_.+``, ``=`` and ``%``, none starting with ``.``, ``_`` or ``part-``.
:func:`escape` keeps ASCII letters, digits and ``-_.+`` and writes every other byte of the
value's UTF-8 as ``%XX``; a leading ``.`` or ``_``, or the ``p`` of a leading ``part-``, is
escaped too. Exactly the Rust SDK's ``partition`` module.
"""

from .errors import RecordError

__all__ = ["UNESCAPED", "escape", "unescape", "Partition"]

#: The characters besides ASCII letters and digits that :func:`escape` keeps as they are.
UNESCAPED = "-_.+"

_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + b"-_.+")


def escape(value):
    """``value`` (str) escaped for a partition name; never contains ``/`` or ``=``.

    >>> escape("k=a,b"), escape("_tmp"), escape("part-0")
    ('k%3Da%2Cb', '%5Ftmp', '%70art-0')
    """
    raw = value.encode()
    part = value.startswith("part-")
    out = []
    for i, b in enumerate(raw):
        leading = i == 0 and (b in b"._" or part)
        out.append(chr(b) if b in _KEEP and not leading else f"%{b:02X}")
    return "".join(out)


def unescape(text):
    """``text`` with every ``%XX`` decoded, read as UTF-8: the value :func:`escape` was given.
    Other characters are kept as they are. A :class:`RecordError` for a ``%`` without two hex
    digits, or bytes that are not UTF-8."""
    raw = text.encode()
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] != 0x25:
            out.append(raw[i])
            i += 1
            continue
        digits = raw[i + 1:i + 3]
        if len(digits) != 2 or not all(d in b"0123456789abcdefABCDEF" for d in digits):
            raise RecordError(f"cannot unescape the partition name {text!r}: `%` at byte {i} "
                              "is not followed by two hex digits")
        out.append(int(digits, 16))
        i += 3
    try:
        return out.decode()
    except UnicodeDecodeError as e:
        raise RecordError(f"cannot unescape the partition name {text!r}: the bytes it escapes "
                          f"are not UTF-8 ({e})") from None


class Partition:
    """A partition name built from ``key=value`` pieces, each key and value escaped: one
    directory level per :meth:`key`. Pass it (or its ``str``) to ``Output.record_in`` or
    ``Output.fields_in``."""

    __slots__ = ("_name",)

    def __init__(self):
        self._name = ""

    def key(self, key, value):
        """Adds the directory level ``key=value``, both escaped; returns ``self``."""
        piece = f"{escape(str(key))}={escape(str(value))}"
        self._name = f"{self._name}/{piece}" if self._name else piece
        return self

    def __str__(self):
        return self._name

    def __repr__(self):
        return f"Partition({self._name!r})"

    def __eq__(self, other):
        return isinstance(other, Partition) and other._name == self._name

    def __hash__(self):
        return hash(self._name)

    @staticmethod
    def parse(name):
        """The ``(key, value)`` pairs of a name such as ``date=2026-03-22/city=Lima``,
        unescaped; a :class:`RecordError` for a segment without ``=``."""
        pairs = []
        for segment in name.split("/"):
            key, eq, value = segment.partition("=")
            if not eq:
                raise RecordError(f"the partition segment {segment!r} is not of the form "
                                  "key=value")
            pairs.append((unescape(key), unescape(value)))
        return pairs
