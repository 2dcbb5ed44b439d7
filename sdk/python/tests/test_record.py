"""sandmill.record: CSV rows by header name, JSON Lines, typed fields, batches."""

import unittest

from sandmill import Format, JobFailed, RecordError, testing
from sandmill.record import Batch, parse_csv_row

EVENT = {"user_id": int, "event": str, "amount_cents": int}


class CsvTest(unittest.TestCase):
    def test_csv_rows_split_on_commas_and_honour_quotes(self):
        for line, want in [
            (b"a,b,c", ["a", "b", "c"]),
            (b"", [""]),
            (b"1,,3", ["1", "", "3"]),
            (b'"x,y",2', ["x,y", "2"]),
            (b'"say ""hi""",z', ['say "hi"', "z"]),
            (b"a,", ["a", ""]),
            ('caf\u00e9,"\u2615"'.encode(), ["caf\u00e9", "\u2615"]),
        ]:
            self.assertEqual(parse_csv_row(line), want, line)

    def test_csv_rows_parse_by_header_name_in_any_column_order(self):
        r = testing.record("csv", "buy,-250,42,ignored", header="event,amount_cents,user_id,extra")
        self.assertEqual(r.parse(EVENT), {"user_id": 42, "event": "buy", "amount_cents": -250})
        self.assertEqual(r.parse()["extra"], "ignored")
        spaced = testing.record("csv", " 7 ,x", header="user_id,event")
        self.assertEqual(spaced.parse({"user_id": int}), {"user_id": 7})

    def test_bad_structured_records_are_record_errors(self):
        header = "user_id,event,amount_cents"
        cases = [
            (testing.record("csv", "x,buy,1", header=header), "'x' is not a valid i64"),
            (testing.record("csv", "1,buy", header=header), "2 fields but the header has 3"),
            (testing.record("jsonl", '{"user_id": 1,'), "invalid JSON"),
            (testing.record("jsonl", '{"user_id": 1, "event": "e"}'), "missing field `amount_cents`"),
            (testing.record("jsonl", '{"user_id": 1.5, "event": "e", "amount_cents": 1}'),
             "expected an integer"),
            (testing.record("jsonl", '{"user_id": true, "event": "e", "amount_cents": 1}'),
             "expected an integer"),
            (testing.record("jsonl", '{"user_id": 9223372036854775808, "event": "e", '
                                     '"amount_cents": 1}'), "out of the 64-bit integer range"),
            (testing.record("jsonl", "[1]"), "expected a JSON object"),
            (testing.record("csv", b"\xff,a,1", header=header), "invalid UTF-8"),
        ]
        for record, message in cases:
            with self.assertRaises(RecordError, msg=record) as caught:
                record.parse(EVENT)
            self.assertIn(message, str(caught.exception), record)
        with self.assertRaises(JobFailed):
            testing.record("lines", "1").parse()

    def test_text_decodes_utf8(self):
        self.assertEqual(testing.record("lines", "caf\u00e9").text(), "caf\u00e9")
        with self.assertRaises(RecordError):
            testing.record("lines", b"\xff").text()


class BatchTest(unittest.TestCase):
    def test_a_batch_gives_its_lines_and_tracks_the_record_at_hand(self):
        batch = Batch(Format.LINES, None, b"abcdef", [1, 1, 3, 6])
        self.assertEqual(batch.lines(), [b"a", b"", b"bc", b"def"])
        self.assertEqual(len(batch), 4)
        seen = []
        for record in batch:
            seen.append((batch.index, record.bytes))
        self.assertEqual(seen, [(0, b"a"), (1, b""), (2, b"bc"), (3, b"def")])
        self.assertIsNone(batch.index, "no record is at hand once all were seen")


if __name__ == "__main__":
    unittest.main()
