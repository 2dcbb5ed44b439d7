"""Native tests of revenue by user: ``python3 -m unittest`` in this directory."""

import unittest

from sandmill import Emitter, Format, testing

from job import RevenueByUser

WANT = ["-4\t1\t0", "2\t1\t-30", "10\t2\t150"]


class RevenueByUserTest(unittest.TestCase):
    def test_json_lines(self):
        events = [
            '{"user_id":10,"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":100}',
            '{"user_id":2,"ts":"2026-03-22T10:00:01Z","event":"refund","amount_cents":-30}',
            '{"user_id":10,"ts":"2026-03-22T10:00:02Z","event":"buy","amount_cents":50}',
            '{"user_id":-4,"ts":"2026-03-22T10:00:03Z","event":"view","amount_cents":0}',
        ]
        self.assertEqual(testing.run(RevenueByUser, Format.JSONL, events), WANT)

    def test_csv_gives_the_same_answer(self):
        header = "user_id,ts,event,amount_cents"
        rows = [
            "10,2026-03-22T10:00:00Z,buy,100",
            "2,2026-03-22T10:00:01Z,refund,-30",
            '10,2026-03-22T10:00:02Z,"buy, again",50',
            "-4,2026-03-22T10:00:03Z,view,0",
        ]
        self.assertEqual(testing.run(RevenueByUser, Format.CSV, rows, header=header), WANT)

    def test_streamed_values_give_the_same_answer(self):
        events = [f'{{"user_id": {u % 3 - 1}, "amount_cents": {u}}}' for u in range(40)]
        self.assertEqual(testing.run(RevenueByUser, "jsonl", events, chunk=3),
                         testing.run(RevenueByUser, "jsonl", events))
        self.assertEqual(testing.run(RevenueByUser, "jsonl", events),
                         ["-1\t14\t273", "0\t13\t247", "1\t13\t260"])

    def test_map_one_record_at_a_time_agrees(self):
        job, out = RevenueByUser(), Emitter()
        job.map(testing.record("jsonl", '{"user_id": 7, "amount_cents": -3}'), out)
        job.map(testing.record("csv", "-3,7", header="amount_cents,user_id"), out)
        self.assertEqual(out.pairs()[0], out.pairs()[1])

    def test_a_bad_event_names_its_record(self):
        events = ['{"user_id":1,"amount_cents":5}', '{"user_id":"x","amount_cents":5}']
        with self.assertRaises(testing.JobError) as caught:
            testing.run(RevenueByUser, "jsonl", events)
        self.assertEqual((caught.exception.kind, caught.exception.index), ("record", 1))
        self.assertIn("field 'user_id': expected an integer, got 'x'", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
