"""Native tests of the word count: ``python3 -m unittest`` in this directory."""

import unittest

from sandmill import Emitter, Format, codec, testing

from job import WordCount


class WordCountTest(unittest.TestCase):
    def test_counts_lowercased_words(self):
        lines = ["Don't stop", "DON'T, don't!", "", "x1 x1\tX1"]
        out = testing.run(WordCount, Format.LINES, lines)
        self.assertEqual(out, ["don\t3", "stop\t1", "t\t3", "x1\t3"])

    def test_the_batch_hook_sends_one_pair_per_distinct_word(self):
        lines = ["a b a", "B-b", "caf\u00e9 \u00c9T\u00c9", "__x__"]
        pairs = testing.map(WordCount, "lines", lines)
        self.assertEqual(sorted(pairs), [
            (b"a", codec.i64_key(2)), (b"b", codec.i64_key(3)), (b"caf", codec.i64_key(1)),
            (b"t", codec.i64_key(1)), (b"x", codec.i64_key(1)),
        ])
        # map, one record at a time, emits one pair per word; the output is the same.
        job, one_by_one = WordCount(), Emitter()
        for line in lines:
            job.map(testing.record("lines", line), one_by_one)
        self.assertEqual(len(one_by_one), 8)
        self.assertEqual(testing.run(WordCount, "lines", lines),
                         ["a\t2", "b\t3", "caf\t1", "t\t1", "x\t1"])

    def test_counts_stream_through_next_values(self):
        lines = ["w"] * 50
        out = testing.run(WordCount, "lines", lines, chunk=3)
        self.assertEqual(out, ["w\t50"])


if __name__ == "__main__":
    unittest.main()
