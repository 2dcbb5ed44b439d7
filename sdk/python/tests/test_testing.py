"""sandmill.testing: the native runner does what the host does."""

import unittest

import sandmill
from sandmill import codec, testing


class Lengths(sandmill.Job):
    """Per first letter: the lengths of its words, combined by the job into a total."""

    combiner = sandmill.Combiner.PLUGIN

    def configure(self, params):
        params.expect_only("min")
        self.min = params.parse_or("min", 1)

    def map(self, record, out):
        for word in record.text().split():
            if len(word) >= self.min:
                out.emit(word[0], codec.i64_key(len(word)))
                sandmill.counter("words")

    def combine(self, key, values, out):
        out.emit(key, codec.i64_key(values.sum_i64()))

    def reduce(self, key, values, out):
        total = values.sum_i64()
        sandmill.log(sandmill.LogLevel.INFO, f"{key.decode()}: {total}")
        out.fields_in(sandmill.Partition().key("letter", key.decode()), key, total)


class Appends(sandmill.Job):
    combiner = sandmill.Merge.APPEND

    def map(self, record, out):
        out.emit(b"k", record.bytes)

    def reduce(self, key, values, out):
        out.record(b"".join(values))


class TestingTest(unittest.TestCase):
    def setUp(self):
        testing.take_logs()
        testing.take_counters()

    def test_runs_map_combine_and_reduce_with_params_logs_and_counters(self):
        out = testing.run_output(Lengths, "lines", ["ab abc b", "a"], params=[("min", "2")])
        self.assertEqual(out, [("letter=a", "a\t5")])
        self.assertEqual(testing.take_counters(), {"words": 2})
        self.assertEqual(testing.take_logs(), [("info", "a: 5")])

    def test_streamed_values_give_the_same_answer(self):
        lines = [" ".join(f"w{i}" for i in range(j)) for j in range(30)]
        self.assertEqual(testing.run(Lengths, "lines", lines, chunk=2),
                         testing.run(Lengths, "lines", lines))

    def test_native_merges_run_as_the_host_runs_them(self):
        self.assertEqual(testing.run(Appends, "lines", ["b", "a", "c"]), ["abc"])


if __name__ == "__main__":
    unittest.main()
