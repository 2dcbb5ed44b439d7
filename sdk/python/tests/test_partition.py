"""sandmill.partition: the Rust SDK's escaping, case for case."""

import random
import unittest

from sandmill import RecordError
from sandmill.partition import Partition, escape, unescape


class PartitionTest(unittest.TestCase):
    def test_escapes_as_hive_does_and_more(self):
        for value, escaped in [
            ("2026-03-22", "2026-03-22"),
            ("São Paulo, BR", "S%C3%A3o%20Paulo%2C%20BR"),
            ("a,b", "a%2Cb"),
            ("k=v/w", "k%3Dv%2Fw"),
            ("100%", "100%25"),
            ("10:30", "10%3A30"),
            ("\"#'*?\\{[]^", "%22%23%27%2A%3F%5C%7B%5B%5D%5E"),
            ("tab\there\n", "tab%09here%0A"),
            ("\x7f", "%7F"),
            ("v1.2+3_x-y", "v1.2+3_x-y"),
            ("", ""),
            (".", "%2E"),
            ("..", "%2E."),
            ("_hidden", "%5Fhidden"),
            ("a_b.c", "a_b.c"),
            ("part-00000", "%70art-00000"),
            ("parts", "parts"),
            ("part", "part"),
            ("€", "%E2%82%AC"),
        ]:
            self.assertEqual(escape(value), escaped, value)
            self.assertEqual(unescape(escaped), value, escaped)

    def test_unescape_keeps_other_characters_and_rejects_broken_escapes(self):
        self.assertEqual(unescape("a b,c"), "a b,c")
        self.assertEqual(unescape("%c3%a3"), "ã")
        for bad in ["%", "%4", "%zz", "a%2", "%+1", "%C3", "%FF"]:
            with self.assertRaises(RecordError) as caught:
                unescape(bad)
            self.assertIn("cannot unescape", str(caught.exception))

    def test_partitions_join_escaped_keys_and_values(self):
        p = Partition().key("date", "2026-03-22").key("city", "São Paulo, BR")
        self.assertEqual(str(p), "date=2026-03-22/city=S%C3%A3o%20Paulo%2C%20BR")
        self.assertEqual(Partition.parse(str(p)),
                         [("date", "2026-03-22"), ("city", "São Paulo, BR")])
        self.assertEqual(str(Partition().key("a/b", "=")), "a%2Fb=%3D")
        self.assertEqual(str(Partition().key("k", "a,b").key("part-id", 7)), "k=a%2Cb/%70art-id=7")
        with self.assertRaises(RecordError):
            Partition.parse("no-equals")

    def test_unescape_undoes_escape_on_random_text(self):
        rng = random.Random(7)
        alphabet = "az09-_.+=%/ ,é€\U0001F600\t"
        for _ in range(500):
            s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
            e = escape(s)
            self.assertEqual(unescape(e), s)
            self.assertTrue(all(c.isascii() and (c.isalnum() or c in "-_.+%") for c in e), e)
            self.assertFalse(e.startswith((".", "_", "part-")), e)


if __name__ == "__main__":
    unittest.main()
