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
    // One table lookup per byte both lowercases and marks separators as 0 (a 0 byte in the
    // input is a separator too), so splitting compares against a constant.
    buf.extend(line.iter().map(|&b| WORD_BYTE[usize::from(b)]));
    buf.split(|&b| b == 0).filter(|w| !w.is_empty())
}

/// Each byte's lowercase form if it belongs in a word (`[A-Za-z0-9]`), otherwise 0.
static WORD_BYTE: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = (b as u8).to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            table[b] = c;
        }
        b += 1;
    }
    table
};

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
