"""Input records as a job's ``map`` sees them: one :class:`Record` at a time, or a whole
:class:`Batch` for the batch hook."""

import csv
import enum
import json

from .errors import JobFailed, RecordError

__all__ = ["Format", "Record", "Batch", "parse_csv_row"]


class Format(enum.Enum):
    """How the host cut the input into records (``sandmill run --format``)."""

    #: One record per line.
    LINES = "lines"
    #: One JSON document per line.
    JSONL = "jsonl"
    #: One CSV row per line, with a header row.
    CSV = "csv"


def parse_csv_row(line):
    """The fields (``str``) of one CSV line without its line end, quoted as RFC 4180 (``"``
    quotes, ``""`` inside quotes), as the Rust SDK reads it. An empty line is one empty field."""
    try:
        text = line.decode() if isinstance(line, (bytes, bytearray, memoryview)) else line
    except UnicodeDecodeError as e:
        raise RecordError(f"invalid UTF-8: {e}") from None
    if not text:
        return [""]
    try:
        return next(csv.reader((text,), strict=False))
    except csv.Error as e:
        raise RecordError(f"invalid CSV row: {e}") from None


_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def _convert(name, value, kind, csv_text):
    """``value`` of the field ``name`` as ``kind`` (int, float, str, bool or a callable),
    checked as serde checks it; from CSV text, numbers are parsed (spaces around allowed)."""
    if kind is int:
        if csv_text:
            try:
                value = int(value.strip())
            except ValueError:
                raise RecordError(f"field {name!r}: {value!r} is not a valid i64") from None
        elif not isinstance(value, int) or isinstance(value, bool):
            raise RecordError(f"field {name!r}: expected an integer, got {value!r}")
        if not _I64_MIN <= value <= _I64_MAX:
            raise RecordError(f"field {name!r}: {value} is out of the 64-bit integer range")
        return value
    if kind is float:
        if csv_text:
            try:
                return float(value.strip())
            except ValueError:
                raise RecordError(f"field {name!r}: {value!r} is not a valid f64") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecordError(f"field {name!r}: expected a number, got {value!r}")
        return float(value)
    if kind is bool:
        if csv_text:
            if value.strip() in ("true", "false"):
                return value.strip() == "true"
            raise RecordError(f"field {name!r}: {value!r} is not a valid bool")
        if not isinstance(value, bool):
            raise RecordError(f"field {name!r}: expected true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise RecordError(f"field {name!r}: expected a string, got {value!r}")
        return value
    return kind(value)


class Record:
    """One input record: a line without its line end.

    ``record.bytes`` is the raw line; :meth:`text` decodes it; :meth:`parse` reads a JSON
    Lines document or a CSV row (by the header's column names)."""

    __slots__ = ("bytes", "format", "_header")

    def __init__(self, data, format, header=None):
        #: The record's bytes, without the line end.
        self.bytes = data
        #: How the input was cut into records (:class:`Format`).
        self.format = format
        self._header = header

    def __repr__(self):
        return f"Record({self.bytes!r}, {self.format})"

    def text(self):
        """The record as ``str``; a :class:`RecordError` if it is not UTF-8."""
        try:
            return self.bytes.decode()
        except UnicodeDecodeError as e:
            raise RecordError(f"invalid UTF-8: {e}") from None

    def csv_fields(self):
        """The fields of a CSV row, as ``str``, in column order."""
        return parse_csv_row(self.bytes)

    def parse(self, schema=None):
        """The record as a ``dict``: a JSON Lines document (any JSON value without ``schema``),
        or a CSV row by the header's column names (every value a ``str``).

        With ``schema``, a ``dict`` of field name to type (``int``, ``float``, ``str``, ``bool``
        or any callable), only those fields, each converted and checked as the Rust SDK's serde
        derive does: ``record.parse({"user_id": int, "amount_cents": int})`` gives the same
        numbers from ``{"user_id": 7, ...}`` and from the CSV row ``7,...``, and a
        :class:`RecordError` (which names the field) for a missing field, a wrong type, or an
        integer outside 64 bits. Other fields are ignored.
        """
        if self.format is Format.JSONL:
            try:
                value = json.loads(self.bytes)
            except ValueError as e:
                raise RecordError(f"invalid JSON: {e}") from None
            csv_text = False
            if schema is None:
                return value
            if not isinstance(value, dict):
                raise RecordError(f"expected a JSON object, got {type(value).__name__}")
        elif self.format is Format.CSV:
            if self._header is None:
                raise RecordError("CSV input has no header row")
            row = parse_csv_row(self.bytes)
            if len(row) != len(self._header):
                raise RecordError(f"CSV row has {len(row)} fields but the header has "
                                  f"{len(self._header)}")
            value = dict(zip(self._header, row))
            csv_text = True
            if schema is None:
                return value
        else:
            raise JobFailed("parse() needs --format jsonl or --format csv input")
        out = {}
        for name, kind in schema.items():
            if name not in value:
                raise RecordError(f"missing field `{name}`")
            out[name] = _convert(name, value[name], kind, csv_text)
        return out


class Batch:
    """A batch of input records from one input file, for the batch hook ``map_batch``.

    ``len(batch)`` records; :meth:`lines` gives their bytes in one list (the fast way to see
    them all); iterating gives :class:`Record` objects and keeps track of which record is being
    processed, so that an exception raised meanwhile names that record's file and line.
    """

    __slots__ = ("format", "header", "data", "ends", "index")

    def __init__(self, format, header, data, ends):
        #: How the input was cut (:class:`Format`).
        self.format = format
        #: For CSV: the header's column names (``list[str]``); otherwise ``None``.
        self.header = header
        #: All records, back to back (``bytes``).
        self.data = data
        #: The end offset of each record in :attr:`data`.
        self.ends = ends
        #: While iterating: the index of the record at hand; otherwise ``None``.
        self.index = None

    def __len__(self):
        return len(self.ends)

    def lines(self):
        """Every record's bytes, in order."""
        data, ends = self.data, self.ends
        return [data[s:e] for s, e in zip([0, *ends], ends)]

    def __iter__(self):
        fmt, header = self.format, self.header
        for i, line in enumerate(self.lines()):
            self.index = i
            yield Record(line, fmt, header)
        # Only once every record was seen: after an exception, `index` still names the record
        # it was raised on.
        self.index = None
