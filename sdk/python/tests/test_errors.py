"""Every exception a job raises becomes the job-error the host shows: which kind, and a
message with the exception, the record or key, and the traceback, bounded."""

import unittest

import sandmill
from sandmill import codec, testing
from sandmill.errors import MAX_MESSAGE


class Raises(sandmill.Job):
    """Raises on purpose, by record content."""

    def map(self, record, out):
        if record.bytes == b"value":
            int("not a number")  # ValueError, a bug of the job
        if record.bytes == b"bad":
            raise sandmill.RecordError("this record is bad")
        if record.bytes == b"memory":
            raise MemoryError()
        if record.bytes == b"deep":
            self.recurse(0)
        if record.bytes == b"long":
            raise ValueError("x" * 10_000)
        out.emit(record.bytes, codec.i64_key(1))

    def recurse(self, n):
        # Two functions in turn: Python's traceback cannot fold the frames into one line.
        return self.recurse_again(n + 1)

    def recurse_again(self, n):
        return self.recurse(n + 1)

    def reduce(self, key, values, out):
        if key == b"reduce-bug":
            {}["missing"]
        if key == b"reduce-bad":
            raise sandmill.RecordError(f"key {key!r} is bad")
        out.fields(key, values.sum_i64())


class BatchRaises(sandmill.Job):
    def map_batch(self, batch, out):
        for record in batch:
            record.parse({"n": int})
        raise RuntimeError("after the loop")

    def reduce(self, key, values, out):
        pass


class NeedsParams(sandmill.Job):
    def configure(self, params):
        params.expect_only("min")
        self.min = params.parse_or("min", 2)

    def reduce(self, key, values, out):
        pass


def error(job, format, records, **kw):
    try:
        testing.run(job, format, records, **kw)
    except testing.JobError as e:
        return e
    raise AssertionError("the job did not fail")


class ErrorTest(unittest.TestCase):
    def test_an_exception_in_map_fails_with_its_record_and_traceback(self):
        e = error(Raises, "lines", ["ok", "value"])
        self.assertEqual(e.kind, "failed")
        lines = e.message.splitlines()
        self.assertEqual(lines[0], "ValueError: invalid literal for int() with base 10: "
                                   "'not a number'")
        self.assertEqual(lines[1], "(raised on record 1 of the batch: b'value')")
        self.assertEqual(lines[2], "Traceback (most recent call last):")
        self.assertIn("test_errors.py", e.message)
        self.assertIn("in map", e.message)
        self.assertNotIn("_core.py", e.message, "the SDK's own frames are left out")

    def test_a_record_error_names_the_record_by_index(self):
        e = error(Raises, "lines", ["ok", "ok", "bad"])
        self.assertEqual((e.kind, e.index), ("record", 2))
        self.assertTrue(e.message.startswith("this record is bad (at "), e.message)
        self.assertIn("test_errors.py", e.message)

    def test_memory_and_recursion_errors_fail_the_job_bounded(self):
        e = error(Raises, "lines", ["memory"])
        self.assertEqual(e.kind, "failed")
        self.assertTrue(e.message.startswith("MemoryError"), e.message)
        e = error(Raises, "lines", ["deep"])
        self.assertEqual(e.kind, "failed")
        self.assertTrue(e.message.startswith("RecursionError: maximum recursion depth"))
        self.assertLessEqual(len(e.message.encode()), MAX_MESSAGE)
        self.assertIn("frames left out ...]", e.message)
        self.assertIn("in map", e.message, "the frame where the job was entered is kept")
        self.assertIn("in recurse", e.message.splitlines()[-3])
        e = error(Raises, "lines", ["long"])
        self.assertLessEqual(len(e.message.encode()), MAX_MESSAGE)
        self.assertTrue(e.message.startswith("ValueError: xxx"))
        self.assertIn("...\n(raised on record 0 of the batch: b'long')\nTraceback", e.message)

    def test_an_exception_in_reduce_names_the_key(self):
        e = error(Raises, "lines", ["a", "reduce-bug"])
        self.assertEqual(e.kind, "failed")
        self.assertTrue(e.message.startswith("KeyError: 'missing'\n(raised on the reduce of key "
                                             "b'reduce-bug')"), e.message)
        e = error(Raises, "lines", ["reduce-bad"])
        self.assertEqual((e.kind, e.index), ("record", 0))

    def test_the_batch_hook_names_the_record_it_was_on(self):
        e = error(BatchRaises, "jsonl", ['{"n": 1}', '{"n": "x"}'])
        self.assertEqual((e.kind, e.index), ("record", 1))
        e = error(BatchRaises, "jsonl", ['{"n": 1}'])
        self.assertEqual(e.kind, "failed", "after the loop no record is to blame")
        self.assertTrue(e.message.startswith("RuntimeError: after the loop\nTraceback"))

    def test_params(self):
        e = error(NeedsParams, "lines", [], params=[("max", "1")])
        self.assertEqual(e.kind, "params")
        self.assertEqual(e.message, "unknown parameter 'max': this job takes min")
        e = error(NeedsParams, "lines", [], params=[("min", "x")])
        self.assertEqual(e.kind, "params")
        self.assertIn("--param min=x: invalid literal", e.message)
        e = error(Raises, "lines", [], params=[("a", "1")])
        self.assertEqual(e.message, "unknown parameter 'a': this job takes none")

    def test_a_bad_combiner_fails_at_configure(self):
        class Bad(sandmill.Job):
            combiner = "sum"

        e = error(Bad, "lines", [])
        self.assertEqual(e.kind, "failed")
        self.assertIn("use a sandmill.Merge", e.message)

        class NoCombine(sandmill.Job):
            combiner = sandmill.Combiner.PLUGIN

        self.assertIn("has no combine", error(NoCombine, "lines", []).message)


if __name__ == "__main__":
    unittest.main()
