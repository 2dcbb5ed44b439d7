"""sandmill.values: a group's values, pulled from the host past the batch."""

import unittest

from sandmill import RecordError, codec
from sandmill.values import Values


def flat(items):
    data, ends = b"", []
    for i in items:
        data += i
        ends.append(len(data))
    return data, ends


class ValuesTest(unittest.TestCase):
    def test_reads_the_batch_part_then_pulls_chunks_until_none(self):
        data, ends = flat([b"skip", b"a", b"bb"])
        chunks = iter([flat([]), flat([b"ccc", b""]), flat([b"d"])])
        values = Values(data, ends, 1, 3, lambda: next(chunks, None))
        self.assertEqual(list(values), [b"a", b"bb", b"ccc", b"", b"d"])
        with self.assertRaises(RuntimeError):
            list(values)

    def test_sums_lanes_across_chunks_and_wraps(self):
        v1, v2 = codec.i64_lanes(1, -10), codec.i64_lanes(2, 4)
        big = codec.i64_lanes(1, (1 << 63) - 1)
        data, ends = flat([b"x", v1, v2])
        chunks = iter([flat([big])])
        values = Values(data, ends, 1, 3, lambda: next(chunks, None))
        self.assertEqual(values.sum_i64_lanes(2), (4, -6 + (1 << 63) - 1))
        data, ends = flat([codec.i64_key((1 << 63) - 1), codec.i64_key(1)])
        self.assertEqual(Values(data, ends, 0, 2).sum_i64(), -(1 << 63))

    def test_malformed_values_are_record_errors(self):
        data, ends = flat([codec.i64_lanes(1, 2)])
        with self.assertRaises(RecordError) as caught:
            Values(data, ends, 0, 1).sum_i64()
        self.assertIn("got a value of 16 bytes", str(caught.exception))
        data, ends = flat([b"", codec.i64_key(1) * 2])
        with self.assertRaises(RecordError):
            Values(data, ends, 0, 2).sum_i64()

    def test_count_and_decode(self):
        data, ends = flat([codec.i64_key(5), codec.i64_key(-2)])
        self.assertEqual(list(Values(data, ends, 0, 2).decode(codec.decode_i64)), [5, -2])
        chunks = iter([flat([b"a", b"b"])])
        self.assertEqual(Values(data, ends, 1, 2, lambda: next(chunks, None)).count(), 3)


if __name__ == "__main__":
    unittest.main()
