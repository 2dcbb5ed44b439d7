"""sandmill.groups: the reduce batch hook's view of a batch."""

import unittest

import sandmill
from sandmill import RecordError, _core, codec, testing
from sandmill.emit import Output
from sandmill.groups import Groups


def flat(items):
    data, ends = b"", []
    for i in items:
        data += i
        ends.append(len(data))
    return data, ends


def batch(groups, more=None):
    """A Groups of ``[(key, [value, ...]), ...]``; ``more``: chunks the last group pulls."""
    kd, ke = flat([k for k, _ in groups])
    vd, ve = flat([v for _, vs in groups for v in vs])
    group_ends, n = [], 0
    for _, vs in groups:
        n += len(vs)
        group_ends.append(n)
    chunks = iter([flat(c) for c in more or []])
    out = Output()
    return Groups(kd, ke, vd, ve, group_ends, more is not None, lambda: next(chunks, None),
                  out), out


class GroupsTest(unittest.TestCase):
    def test_sums_every_group_and_the_streamed_rest_of_the_last(self):
        one = codec.i64_key
        g, _ = batch([(b"a", [one(1), one(2)]), (b"b", [one(-5)]), (b"c", [one(1)])],
                     more=[[one(10)], [], [one((1 << 63) - 1)]])
        self.assertEqual(list(g.sums_i64()), [(b"a", 3), (b"b", -5), (b"c", -(1 << 63) + 10)])
        lanes = codec.i64_lanes
        g, _ = batch([(b"u", [lanes(1, 5), lanes(1, -7)]), (b"v", [lanes(1, 0)])],
                     more=[[lanes(2, 3)]])
        self.assertEqual(list(g.sums_i64(2)), [(b"u", (2, -2)), (b"v", (3, 3))])

    def test_a_value_of_another_width_is_a_record_error_of_its_group(self):
        g, _ = batch([(b"a", [codec.i64_key(1)]), (b"b", [b"short"])])
        sums = g.sums_i64()
        self.assertEqual(next(sums), (b"a", 1))
        with self.assertRaises(RecordError):
            next(sums)
        self.assertEqual((g.index, g.key), (1, b"b"))

    def test_notes_the_records_each_group_wrote(self):
        g, out = batch([(b"a", [b"1"]), (b"b", [b"2"]), (b"c", [b"3"]), (b"d", [b"4"])])
        for key, values in g:
            if key == b"b":
                continue
            out.record(key)
            if key == b"c":
                out.record(key)
            if key == b"c":
                break
        self.assertEqual(g._records_per_group(), [1, 1, 3, 3])
        with self.assertRaises(RuntimeError):
            list(g)

    def test_an_exception_in_the_hook_names_the_group_at_hand(self):
        class Fails(sandmill.Job):
            def map(self, record, out):
                out.emit(record.bytes, codec.i64_key(1))

            def reduce_batch(self, groups, out):
                for key, total in groups.sums_i64():
                    if key == b"y":
                        raise sandmill.RecordError("no y")
                    out.fields(key, total)

        with self.assertRaises(testing.JobError) as caught:
            job, _ = _core.configure(Fails, ())
            g, _ = batch([(b"x", [codec.i64_key(1)]), (b"y", [codec.i64_key(1)])])
            try:
                _core.reduce_groups(job, (g._keys_data, g._keys_ends, g._data, g._ends,
                                          g._group_ends, False), None)
            except _core.CallError as e:
                raise testing.JobError(e.kind, e.index, e.message) from None
        self.assertEqual((caught.exception.kind, caught.exception.index), ("record", 1))


if __name__ == "__main__":
    unittest.main()
