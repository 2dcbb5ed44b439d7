"""Text helpers shared by the example jobs."""

__all__ = ["ascii_words"]

#: Each byte's lowercase form if it belongs in a word (``[A-Za-z0-9]``), otherwise a space.
_WORD_BYTES = bytes(
    (b | 0x20) if (65 <= b <= 90) else b if (97 <= b <= 122 or 48 <= b <= 57) else 0x20
    for b in range(256)
)


def ascii_words(line):
    """Splits ``line`` (bytes) into lowercase ASCII words, as the Rust SDK's
    ``text::ascii_words``: ``A``-``Z`` become ``a``-``z`` (no other byte changes), then every
    byte that is not ``[a-z0-9]`` separates words, and empty words are dropped.

    One ``bytes.translate`` and one ``split`` (both in C), so a whole batch can be tokenised at
    once: ``ascii_words(b" ".join(batch.lines()))``.

    >>> ascii_words(b"Don't STOP-me now")
    [b'don', b't', b'stop', b'me', b'now']
    """
    if isinstance(line, str):
        line = line.encode()
    return line.translate(_WORD_BYTES).split()
