//! Text helpers shared by the example jobs.

/// Splits `line` into lowercase ASCII words: `A`-`Z` become `a`-`z` (no other byte changes),
/// then every byte that is not `[a-z0-9]` separates words, and empty words are dropped.
///
/// `buf` is scratch space reused between calls, so tokenising allocates nothing once warm.
///
/// ```
/// let mut buf = Vec::new();
/// let words: Vec<&[u8]> = sandmill_sdk::text::ascii_words(b"Don't STOP-me now", &mut buf).collect();
/// assert_eq!(words, [&b"don"[..], b"t", b"stop", b"me", b"now"]);
/// ```
pub fn ascii_words<'b>(line: &[u8], buf: &'b mut Vec<u8>) -> impl Iterator<Item = &'b [u8]> {
    buf.clear();
    buf.extend(line.iter().map(u8::to_ascii_lowercase));
    buf.split(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit()))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::ascii_words;

    #[test]
    fn tokenising_follows_the_example_job_rules() {
        let cases: &[(&[u8], &[&str])] = &[
            (b"", &[]),
            (b"   ", &[]),
            (b"Hello, World!", &["hello", "world"]),
            (b"Don't", &["don", "t"]),
            (b"a1b2 C3", &["a1b2", "c3"]),
            (b"tab\tsep\r", &["tab", "sep"]),
            // Non-ASCII bytes separate words and are not lowercased.
            ("caf\u{e9} \u{c9}T\u{c9}".as_bytes(), &["caf", "t"]),
            (b"__x__", &["x"]),
        ];
        let mut buf = Vec::new();
        for (line, want) in cases {
            let got: Vec<String> = ascii_words(line, &mut buf)
                .map(|w| String::from_utf8(w.to_vec()).unwrap())
                .collect();
            assert_eq!(got, *want, "line {:?}", String::from_utf8_lossy(line));
        }
    }
}
