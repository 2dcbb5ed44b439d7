"""sandmill.codec: order-preserving integers, lanes, JSON."""

import unittest

from sandmill import RecordError, codec


class CodecTest(unittest.TestCase):
    def test_integer_keys_sort_numerically_and_round_trip(self):
        nums = [-(1 << 63), -1_000_000, -2, -1, 0, 1, 2, 255, 256, 1 << 40, (1 << 63) - 1]
        for a, b in zip(nums, nums[1:]):
            self.assertLess(codec.i64_key(a), codec.i64_key(b), (a, b))
            self.assertEqual(codec.decode_i64(codec.i64_key(a)), a)
        unums = [0, 1, 255, 256, 65_535, 1 << 40, (1 << 64) - 1]
        for a, b in zip(unums, unums[1:]):
            self.assertLess(codec.u64_key(a), codec.u64_key(b))
            self.assertEqual(codec.decode_u64(codec.u64_key(b)), b)

    def test_the_encoding_is_the_rust_sdks(self):
        # Big-endian, sign bit flipped: what codec::i64_key writes.
        self.assertEqual(codec.i64_key(1), bytes.fromhex("8000000000000001"))
        self.assertEqual(codec.i64_key(-1), bytes.fromhex("7fffffffffffffff"))
        self.assertEqual(codec.i64_key(-(1 << 63)), bytes(8))

    def test_lanes_round_trip_and_reject_bad_lengths(self):
        b = codec.i64_lanes(3, -7)
        self.assertEqual(len(b), 16)
        self.assertEqual(codec.decode_i64_lanes(b, 2), (3, -7))
        with self.assertRaises(RecordError):
            codec.decode_i64_lanes(b[:15], 2)
        with self.assertRaises(RecordError):
            codec.decode_i64(b"\x01\x02\x03")

    def test_out_of_range_numbers_are_refused(self):
        for bad in (1 << 63, -(1 << 63) - 1):
            with self.assertRaises(ValueError):
                codec.i64_key(bad)
        with self.assertRaises(ValueError):
            codec.u64_key(-1)
        self.assertEqual(codec.wrap_i64((1 << 63)), -(1 << 63))

    def test_json(self):
        self.assertEqual(codec.to_json({"a": [1, "é"]}), '{"a":[1,"é"]}'.encode())
        self.assertEqual(codec.from_json(b'{"a": 1}'), {"a": 1})
        with self.assertRaises(RecordError) as caught:
            codec.from_json(b"{")
        self.assertTrue(str(caught.exception).startswith("invalid JSON"))


if __name__ == "__main__":
    unittest.main()
