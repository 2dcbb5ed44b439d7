"""sandmill.text: the same words as the Rust SDK's text::ascii_words."""

import unittest

from sandmill import text


class AsciiWordsTest(unittest.TestCase):
    def test_tokenising_follows_the_example_job_rules(self):
        cases = [
            (b"", []),
            (b"   ", []),
            (b"Hello, World!", ["hello", "world"]),
            (b"Don't", ["don", "t"]),
            (b"a1b2 C3", ["a1b2", "c3"]),
            (b"tab\tsep\r", ["tab", "sep"]),
            # Non-ASCII bytes separate words and are not lowercased.
            ("caf\u00e9 \u00c9T\u00c9".encode(), ["caf", "t"]),
            (b"__x__", ["x"]),
            (b"a\x00b\x0bc\x0cd\x7fe\xffF", ["a", "b", "c", "d", "e", "f"]),
            (b"[Z]`@{", ["z"]),
        ]
        for line, want in cases:
            self.assertEqual(text.ascii_words(line), [w.encode() for w in want], line)

    def test_every_byte_is_a_word_byte_or_a_separator_as_in_rust(self):
        for b in range(256):
            c = chr(b).lower() if b < 128 else None
            word = c is not None and (c.isascii() and (c.isdigit() or "a" <= c <= "z"))
            got = text.ascii_words(bytes([b]))
            self.assertEqual(got, [c.encode()] if word else [], b)

    def test_str_is_read_as_utf8(self):
        self.assertEqual(text.ascii_words("Ünï CODE"), [b"n", b"code"])


if __name__ == "__main__":
    unittest.main()
