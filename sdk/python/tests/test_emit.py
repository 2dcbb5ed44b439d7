"""sandmill.emit: pairs, output fields formatted as the Rust SDK's Fields, partitions."""

import unittest

from sandmill import Emitter, Output, Partition, codec


class EmitterTest(unittest.TestCase):
    def test_emitter_keeps_pairs_in_order_and_flattens_them(self):
        out = Emitter()
        out.emit("a", b"\x01")
        out.emit(b"", b"")
        out.emit(bytearray(b"\t\t"), memoryview(b"zz"))
        self.assertEqual(out.pairs(), [(b"a", b"\x01"), (b"", b""), (b"\t\t", b"zz")])
        self.assertEqual(len(out), 3)
        self.assertEqual(out._take(), (b"a\x01\t\tzz", [1, 2, 2, 2, 4, 6]))
        self.assertEqual(len(out), 0)

    def test_emit_counts_encodes_each_count(self):
        out = Emitter()
        out.emit_counts({b"x": 2, b"y": -1})
        self.assertEqual(out.pairs(), [(b"x", codec.i64_key(2)), (b"y", codec.i64_key(-1))])

    def test_keys_of_another_type_are_refused_by_name(self):
        out = Emitter()
        out.emit(3, b"v")
        with self.assertRaises(TypeError) as caught:
            out._take()
        self.assertIn("bytes or str, not int", str(caught.exception))


class OutputTest(unittest.TestCase):
    def test_fields_are_tab_separated_with_decimal_integers(self):
        out = Output()
        out.fields(b"word", 12)
        out.fields("user", -3, 0)
        out.fields("x", "y")
        out.record("as-is")
        out.fields()
        self.assertEqual(out.records(), [b"word\t12", b"user\t-3\t0", b"x\ty", b"as-is", b""])
        self.assertEqual(out._take()[3], [], "no routes while everything is at the top level")

    def test_fields_refuse_what_rust_cannot_write(self):
        for bad in (1.5, True, None, [1]):
            with self.assertRaises(TypeError):
                Output().fields("k", bad)

    def test_records_can_be_routed_to_partitions(self):
        out = Output()
        out.record("top")
        out.fields_in("date=2026-03-22", "a", 1)
        out.record_in(Partition().key("date", "2026-03-23"), "b")
        out.record_in("date=2026-03-22", "c")
        out.record("top again")
        self.assertEqual(out.routes(), [None, "date=2026-03-22", "date=2026-03-23",
                                        "date=2026-03-22", None])
        data, ends, partitions, routes = out._take()
        self.assertEqual(routes, [0, 1, 2, 1, 0])
        self.assertEqual(partitions, ["date=2026-03-22", "date=2026-03-23"])
        self.assertEqual(data, b"topa\t1bctop again")
        self.assertEqual(ends, [3, 6, 7, 8, 17])


if __name__ == "__main__":
    unittest.main()
