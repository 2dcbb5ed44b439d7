//! Output partition names: `key=value` directories, escaped as Hive and Spark write them, so
//! that any value can name a partition and readers get the value back.
//!
//! ```
//! use sandmill_sdk::partition::{self, Partition};
//!
//! let name = Partition::new()
//!     .key("date", "2026-03-22")
//!     .key("city", "São Paulo, BR")
//!     .to_string();
//! assert_eq!(name, "date=2026-03-22/city=S%C3%A3o%20Paulo%2C%20BR");
//! assert_eq!(partition::unescape("S%C3%A3o%20Paulo%2C%20BR")?, "São Paulo, BR");
//! # Ok::<(), sandmill_sdk::Error>(())
//! ```
//!
//! # The names the host accepts
//!
//! A partition name is 1 to 1024 bytes of `/`-separated segments, each 1 to 255 bytes of ASCII
//! letters, digits and `-_.+` ([`UNESCAPED`]) plus the `=` and `%` that [`Partition`] and
//! [`escape`] write; no segment starts with `.`, `_` (hidden from readers) or `part-` (the
//! names Sandmill gives its own files). A record routed to any other name is a bad record: the
//! job fails naming it, or `sandmill run --max-bad-records N` quarantines the record into the
//! output's `_rejects.jsonl`.
//!
//! # Escaping
//!
//! [`escape`] keeps ASCII letters, digits and `-_.+` and writes every other byte of the
//! value's UTF-8 as `%XX` (uppercase hex), so its output always fits the rule above. That
//! covers every character Hive's `FileUtils.escapePathName` escapes (controls, `"#%'*/:=?\{[]^`
//! and DEL), so ASCII values get the directory names Hive and Spark write and read back. Two
//! differences: Sandmill also escapes space, `,` and the other ASCII punctuation, which Hive
//! leaves as they are (Hive and Spark unescape them all the same); and it escapes non-ASCII
//! characters byte by byte, where Hive keeps them as they are, so that directory names stay
//! ASCII. Readers that decode `%XX` as UTF-8 (pyarrow, Python's `urllib.parse.unquote`,
//! [`unescape`]) get such values back; Hive and Spark decode each `%XX` as one character
//! (`S%C3%A3o` reads as `SÃ£o`).
//!
//! A value that starts with `.` or `_`, or with `part-`, has that first character escaped too,
//! so that an escaped key or value can begin a segment.

use crate::{Error, Result};
use std::fmt::{self, Write as _};

/// The characters besides ASCII letters and digits that [`escape`] keeps as they are. The host
/// accepts exactly these, and `=` and `%`, in a partition name's segments (the runtime's tests
/// hold the two to the same set).
pub const UNESCAPED: &str = "-_.+";

/// Whether [`escape`] keeps `b` as it is (anywhere but at the start).
fn keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || UNESCAPED.as_bytes().contains(&b)
}

/// `value` escaped for a partition name: ASCII letters, digits and `-_.+` as they are, every
/// other byte of its UTF-8 as `%XX`; a leading `.` or `_`, or the `p` of a leading `part-`, is
/// escaped too. The result never contains `/` or `=`, so it is safe as a key, a value or a
/// whole segment.
///
/// ```
/// use sandmill_sdk::partition::escape;
/// assert_eq!(escape("k=a,b"), "k%3Da%2Cb");
/// assert_eq!(escape("2026-03-22"), "2026-03-22");
/// assert_eq!(escape("_tmp"), "%5Ftmp");
/// ```
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, &b) in value.as_bytes().iter().enumerate() {
        let leading = i == 0 && (b == b'.' || b == b'_' || value.starts_with("part-"));
        if keeps(b) && !leading {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `text` with every `%XX` decoded, read as UTF-8: the value [`escape`] was given. Other
/// characters are kept as they are, as Hive and Spark do.
///
/// # Errors
/// A `%` not followed by two hex digits, or decoded bytes that are not UTF-8 (both are errors
/// about the record at hand).
pub fn unescape(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let digit = |at: usize| bytes.get(at).and_then(|&d| char::from(d).to_digit(16));
        let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
            return Err(Error::msg(format!(
                "cannot unescape the partition name {text:?}: `%` at byte {i} is not followed \
                 by two hex digits"
            )));
        };
        out.push((high * 16 + low) as u8);
        i += 3;
    }
    String::from_utf8(out).map_err(|e| {
        Error::msg(format!(
            "cannot unescape the partition name {text:?}: the bytes it escapes are not UTF-8 \
             ({e})"
        ))
    })
}

/// A partition name built from `key=value` pieces, each key and value [escaped](escape): one
/// directory level per [`key`](Partition::key), as Hive and Spark lay out partitioned tables.
/// Pass it to [`Output::record_in`](crate::Output::record_in) or
/// [`Output::fields_in`](crate::Output::fields_in).
///
/// ```
/// use sandmill_sdk::partition::Partition;
/// let p = Partition::new().key("k", "a,b").key("part-id", "7");
/// assert_eq!(p.as_str(), "k=a%2Cb/%70art-id=7");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Partition {
    /// `key=value` segments joined by `/`, each key and value escaped.
    name: String,
}

impl Partition {
    /// A partition of no keys yet (an empty name, which the host does not accept: add a key).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the directory level `key=value`, both escaped.
    pub fn key(mut self, key: &str, value: &str) -> Self {
        if !self.name.is_empty() {
            self.name.push('/');
        }
        self.name.push_str(&escape(key));
        self.name.push('=');
        self.name.push_str(&escape(value));
        self
    }

    /// The partition name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The `(key, value)` pairs of a partition name such as `date=2026-03-22/city=Lima`,
    /// unescaped: what a reader of the output gets back.
    ///
    /// # Errors
    /// A segment without `=`, or a key or value that does not [unescape].
    pub fn parse(name: &str) -> Result<Vec<(String, String)>> {
        name.split('/')
            .map(|segment| {
                let (key, value) = segment.split_once('=').ok_or_else(|| {
                    Error::msg(format!(
                        "the partition segment {segment:?} is not of the form key=value"
                    ))
                })?;
                Ok((unescape(key)?, unescape(value)?))
            })
            .collect()
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<str> for Partition {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl From<Partition> for String {
    fn from(p: Partition) -> String {
        p.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_as_hive_does_and_more() {
        for (value, escaped) in [
            ("2026-03-22", "2026-03-22"),
            ("São Paulo, BR", "S%C3%A3o%20Paulo%2C%20BR"),
            ("a,b", "a%2Cb"),
            ("k=v/w", "k%3Dv%2Fw"),
            ("100%", "100%25"),
            ("10:30", "10%3A30"),
            ("\"#'*?\\{[]^", "%22%23%27%2A%3F%5C%7B%5B%5D%5E"),
            ("tab\there\n", "tab%09here%0A"),
            ("\u{7f}", "%7F"),
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
        ] {
            assert_eq!(escape(value), escaped, "{value:?}");
            assert_eq!(unescape(escaped).unwrap(), value, "{escaped:?}");
        }
    }

    #[test]
    fn unescape_keeps_other_characters_and_rejects_broken_escapes() {
        assert_eq!(unescape("a b,c").unwrap(), "a b,c");
        assert_eq!(unescape("%c3%a3").unwrap(), "ã", "lowercase hex too");
        for bad in ["%", "%4", "%zz", "a%2", "%+1", "%C3", "%FF"] {
            let err = unescape(bad).unwrap_err();
            assert!(err.message().contains("cannot unescape"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn partitions_join_escaped_keys_and_values() {
        let p = Partition::new()
            .key("date", "2026-03-22")
            .key("city", "São Paulo, BR");
        assert_eq!(
            p.to_string(),
            "date=2026-03-22/city=S%C3%A3o%20Paulo%2C%20BR"
        );
        assert_eq!(
            Partition::parse(p.as_str()).unwrap(),
            [
                ("date".to_owned(), "2026-03-22".to_owned()),
                ("city".to_owned(), "São Paulo, BR".to_owned())
            ]
        );
        assert_eq!(Partition::new().key("a/b", "=").as_str(), "a%2Fb=%3D");
        assert!(Partition::parse("no-equals").is_err());
        assert_eq!(String::from(Partition::new().key("k", "v")), "k=v");
    }

    proptest! {
        #[test]
        fn unescape_undoes_escape(s in any::<String>()) {
            prop_assert_eq!(unescape(&escape(&s)).unwrap(), s);
        }

        #[test]
        fn escaped_text_holds_only_safe_characters(s in any::<String>()) {
            let e = escape(&s);
            prop_assert!(e.bytes().all(|b| keeps(b) || b == b'%'), "{e:?}");
            prop_assert!(!e.starts_with(['.', '_']) && !e.starts_with("part-"), "{e:?}");
        }

        #[test]
        fn parse_undoes_partition(pairs in prop::collection::vec((any::<String>(), any::<String>()), 1..4)) {
            let p = pairs
                .iter()
                .fold(Partition::new(), |p, (k, v)| p.key(k, v));
            prop_assert_eq!(Partition::parse(p.as_str()).unwrap(), pairs);
        }
    }
}
