"""Encodings for keys and values whose byte order is their natural order.

The host sorts keys (and the values of each key) by their bytes. These encodings make that order
the numeric one, so a job that keys by user id gets its output in id order::

    >>> from sandmill import codec
    >>> codec.i64_key(-5) < codec.i64_key(3)
    True
    >>> codec.decode_i64(codec.i64_key(-5))
    -5

The host's native ``Merge.SUM`` and ``Merge.COUNT`` read values in the :func:`i64_key`
encoding, one 8-byte lane per number (:func:`i64_lanes`).
"""

import json
import struct

from .errors import RecordError

__all__ = ["u64_key", "decode_u64", "i64_key", "decode_i64", "i64_lanes", "decode_i64_lanes",
           "to_json", "from_json", "wrap_i64"]

SIGN = 1 << 63
_U64 = (1 << 64) - 1
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1

#: ``i64_key`` of small counts, which word counts emit millions of times.
_SMALL = [((v ^ SIGN) & _U64).to_bytes(8, "big") for v in range(256)]


def wrap_i64(v):
    """``v`` wrapped to a signed 64-bit integer, as the host's sum wraps."""
    v &= _U64
    return v - (1 << 64) if v & SIGN else v


def u64_key(v):
    """``v`` (0 to 2**64 - 1) as 8 big-endian bytes: byte order is numeric order."""
    if not 0 <= v <= _U64:
        raise ValueError(f"u64_key({v}): out of the range 0 to 2**64 - 1")
    return v.to_bytes(8, "big")


def decode_u64(b):
    """Decodes :func:`u64_key`; a :class:`RecordError` unless ``b`` is 8 bytes."""
    if len(b) != 8:
        raise RecordError(f"expected an 8-byte number, got {len(b)} bytes")
    return int.from_bytes(b, "big")


def i64_key(v):
    """``v`` (-2**63 to 2**63 - 1) as 8 big-endian bytes with the sign bit flipped: byte order
    is numeric order, negative numbers first."""
    if 0 <= v < 256:
        return _SMALL[v]
    if not _I64_MIN <= v <= _I64_MAX:
        raise ValueError(f"i64_key({v}): out of the 64-bit range -2**63 to 2**63 - 1")
    return ((v ^ SIGN) & _U64).to_bytes(8, "big")


def decode_i64(b):
    """Decodes :func:`i64_key`; a :class:`RecordError` unless ``b`` is 8 bytes."""
    if len(b) != 8:
        raise RecordError(f"expected an 8-byte number, got {len(b)} bytes")
    return int.from_bytes(b, "big") - SIGN


def i64_lanes(*values):
    """Several numbers, each as :func:`i64_key`, back to back: the value layout the host's
    native sum merge adds lane by lane. ``i64_lanes(1, amount)``."""
    return b"".join(i64_key(v) for v in values)


def decode_i64_lanes(b, lanes):
    """Decodes :func:`i64_lanes` of ``lanes`` numbers into a tuple; a :class:`RecordError`
    unless ``b`` is ``8 * lanes`` bytes."""
    if len(b) != 8 * lanes:
        raise RecordError(f"expected {lanes} 8-byte numbers ({8 * lanes} bytes), "
                          f"got {len(b)} bytes")
    return tuple(u - SIGN for u in struct.unpack(f">{lanes}Q", b))


def to_json(value):
    """``value`` as compact JSON bytes (UTF-8, no spaces), as the Rust SDK writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def from_json(b):
    """Parses JSON bytes; a :class:`RecordError` if they are not JSON."""
    try:
        return json.loads(b)
    except ValueError as e:
        raise RecordError(f"invalid JSON: {e}") from None
