"""A test job whose exceptions must reach the user: map raises on a record containing
``boom``, reduce on the word ``bang``, and a record containing ``hog`` asks for 2 GiB (a
MemoryError, which Python raises when the host refuses the memory). Otherwise a word count, one record at a time."""

import sandmill
from sandmill import codec, text


def check(line):
    if b"boom" in line:
        raise ValueError(f"boom in record {line.decode()!r}")
    if b"hog" in line:
        return bytearray((1 << 31) - 1)
    return None


class Raise(sandmill.Job):
    def map(self, record, out):
        check(record.bytes)
        for word in text.ascii_words(record.bytes):
            out.emit(word, codec.i64_key(1))

    def reduce(self, word, counts, out):
        if word == b"bang":
            raise RuntimeError("reduce blew up on bang")
        out.fields(word, counts.sum_i64())
