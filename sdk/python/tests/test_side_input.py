"""sandmill.side_input, natively: what testing.set_side_input gave, or the host's error."""

import unittest

import sandmill
from sandmill import testing


class Categories(sandmill.Job):
    """Tags each word with its category from the side input ``categories`` (``word category``
    lines)."""

    def configure(self, params):
        self.categories = dict(line.decode().split(" ", 1) for line in
                               sandmill.side_input("categories") if line)

    def map(self, record, out):
        for word in record.text().split():
            out.emit(word, self.categories.get(word, "?"))

    def reduce(self, key, values, out):
        out.fields(key, next(iter(values)).decode())


class SideInputTest(unittest.TestCase):
    def tearDown(self):
        testing.clear_side_inputs()

    def test_records_in_order_every_call_from_the_first(self):
        testing.set_side_input("p", ["a", b"", "c"])
        for _ in range(2):
            self.assertEqual(list(sandmill.side_input("p")), [b"a", b"", b"c"])
        testing.set_side_input("empty", [])
        self.assertEqual(list(sandmill.side_input("empty")), [])

    def test_a_job_reads_it_in_configure(self):
        testing.set_side_input("categories", ["apple fruit", "", "kale vegetable"])
        out = testing.run(Categories, "lines", ["apple kale", "stone"])
        self.assertEqual(out, ["apple\tfruit", "kale\tvegetable", "stone\t?"])

    def test_an_unknown_name_fails_the_job_naming_it(self):
        testing.set_side_input("other", ["x"])
        with self.assertRaises(sandmill.JobFailed) as caught:
            list(sandmill.side_input("categories"))
        message = str(caught.exception)
        self.assertIn("side_input(categories): the job has no side input named categories "
                      "(it has other)", message)
        with self.assertRaises(testing.JobError) as failed:
            testing.run(Categories, "lines", ["apple"])
        self.assertEqual(failed.exception.kind, "failed")


if __name__ == "__main__":
    unittest.main()
