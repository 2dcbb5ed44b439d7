//! A JSON scanner over one record, read in place, left to right: [`Cursor`] reads keys,
//! strings, numbers and literals where they lie, and skips a value of any kind by its grammar
//! alone (nesting by a stack of closing brackets, not by recursion, so deep nesting cannot
//! overflow the stack). It builds no value: its callers (`project`, a job's declared fields;
//! `columnar`, a Parquet output's rows) decide what to keep and hand anything unusual to
//! `serde_json`.
//!
//! It checks the grammar, escapes and control characters of everything it reads, but not
//! that strings are UTF-8: a caller that keeps a string checks it.

use std::fmt;

/// A syntax error: what was expected, and the byte it was found at.
#[derive(Debug)]
pub(crate) struct Syntax {
    /// The byte it was found at.
    pub(crate) at: usize,
    /// What was expected.
    pub(crate) what: String,
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.what, self.at + 1)
    }
}

/// A key, as [`Cursor::key`] read it.
pub(crate) struct Key<'r> {
    /// With its quotes.
    quoted: &'r [u8],
    /// Between its quotes, escapes as written.
    raw: &'r [u8],
    /// Whether `raw` holds an escape.
    escaped: bool,
    /// Its opening quote's place in the record.
    at: usize,
}

impl Key<'_> {
    /// The key as text: decoded if it holds an escape, else as written (not checked for UTF-8
    /// here: see the module's note; an invalid byte shows as U+FFFD).
    ///
    /// # Errors
    /// An escape that is no character (a lone surrogate).
    pub(crate) fn text(&self) -> Result<std::borrow::Cow<'_, str>, Syntax> {
        if self.escaped {
            let key: String = serde_json::from_slice(self.quoted).map_err(|e| Syntax {
                at: self.at,
                what: serde_message(&e),
            })?;
            Ok(key.into())
        } else {
            Ok(String::from_utf8_lossy(self.raw))
        }
    }

    /// Which of `names` the key is.
    ///
    /// # Errors
    /// As [`Key::text`].
    pub(crate) fn find<'n>(
        &self,
        mut names: impl Iterator<Item = &'n str>,
    ) -> Result<Option<usize>, Syntax> {
        if self.escaped {
            let key = self.text()?;
            Ok(names.position(|name| name == key))
        } else {
            Ok(names.position(|name| name.as_bytes() == self.raw))
        }
    }
}

/// A place in the record.
pub(crate) struct Cursor<'r> {
    /// The record.
    pub(crate) bytes: &'r [u8],
    /// The next byte to read.
    pub(crate) at: usize,
}

impl<'r> Cursor<'r> {
    /// At the record's first byte.
    pub(crate) fn new(bytes: &'r [u8]) -> Self {
        Cursor { bytes, at: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    pub(crate) fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.at += 1;
        b
    }

    pub(crate) fn error(&self, what: &str) -> Syntax {
        let what = if self.at >= self.bytes.len() {
            format!("{what}, found the end of the record")
        } else {
            what.to_string()
        };
        Syntax { at: self.at, what }
    }

    /// An error about the byte just read by [`Cursor::next`].
    pub(crate) fn back(&mut self, what: &str) -> Syntax {
        self.at -= 1;
        self.error(what)
    }

    /// Skips JSON whitespace.
    pub(crate) fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Result<(), Syntax> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// Reads one JSON object, with nothing but whitespace around it: `member` is handed each
    /// member's key (its `:` read) and reads the member's value.
    ///
    /// # Errors
    /// A syntax error, or the first error of `member`.
    pub(crate) fn object<E: From<Syntax>>(
        &mut self,
        mut member: impl FnMut(&mut Self, Key<'r>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.space();
        if self.peek() != Some(b'{') {
            return Err(self.error("expected a JSON object").into());
        }
        self.at += 1;
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                let key = self.key()?;
                member(self, key)?;
                self.space();
                match self.next() {
                    Some(b',') => self.space(),
                    Some(b'}') => break,
                    _ => return Err(self.back("expected `,` or `}`").into()),
                }
            }
        }
        self.space();
        if self.at < self.bytes.len() {
            return Err(self.error("trailing characters").into());
        }
        Ok(())
    }

    /// Reads a key and its `:` (and the whitespace around it).
    pub(crate) fn key(&mut self) -> Result<Key<'r>, Syntax> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key in quotes"));
        }
        let begin = self.at;
        let (raw, escaped) = self.string()?;
        let key = Key {
            quoted: &self.bytes[begin..self.at],
            raw,
            escaped,
            at: begin,
        };
        self.space();
        if self.next() != Some(b':') {
            return Err(self.back("expected `:`"));
        }
        self.space();
        Ok(key)
    }

    /// Reads a string (at its opening quote): its bytes between the quotes, and whether they
    /// hold an escape. Escapes are checked for their form; raw control characters are refused.
    pub(crate) fn string(&mut self) -> Result<(&'r [u8], bool), Syntax> {
        self.at += 1;
        let begin = self.at;
        let mut escaped = false;
        loop {
            self.at = special(self.bytes, self.at);
            match self.next() {
                Some(b'"') => return Ok((&self.bytes[begin..self.at - 1], escaped)),
                Some(b'\\') => {
                    escaped = true;
                    match self.next() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u') => {
                            let hex = self.bytes.get(self.at..self.at + 4);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("invalid \\u escape"));
                            }
                            self.at += 4;
                        }
                        _ => return Err(self.back("invalid escape")),
                    }
                }
                Some(_) => return Err(self.back("control character in a string")),
                None => return Err(self.back("unterminated string")),
            }
        }
    }

    /// Reads a number; returns its value if it is a plain integer that surely fits `i64`
    /// (at most 18 digits, no fraction or exponent, not `-0`), else `None`.
    pub(crate) fn number(&mut self) -> Result<Option<i64>, Syntax> {
        let begin = self.at;
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        let digits = self.at;
        let mut value: i64 = 0;
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    value = value.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
                    self.at += 1;
                }
            }
            _ => return Err(self.error("invalid number")),
        }
        let whole = self.at - digits;
        let mut plain = whole <= 18 && !(negative && value == 0);
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
            plain = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
            plain = false;
        }
        if let Some(b'0'..=b'9') = self.peek() {
            // Only `0` may start with `0`.
            self.at = begin;
            return Err(self.error("invalid number"));
        }
        Ok(plain.then(|| if negative { -value } else { value }))
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), Syntax> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("invalid number"));
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        Ok(())
    }

    /// Skips one value of any kind, arrays and objects by a stack of their closing brackets.
    pub(crate) fn skip_value(&mut self, nesting: &mut Vec<u8>) -> Result<(), Syntax> {
        nesting.clear();
        loop {
            // At a value.
            match self.peek() {
                Some(b'"') => drop(self.string()?),
                Some(b'-' | b'0'..=b'9') => drop(self.number()?),
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(open @ (b'[' | b'{')) => {
                    self.at += 1;
                    self.space();
                    let close = if open == b'[' { b']' } else { b'}' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                    } else {
                        nesting.push(close);
                        if close == b'}' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                _ => return Err(self.error("expected a value")),
            }
            // After a value: close what it ends, or go on to the next.
            loop {
                let Some(&close) = nesting.last() else {
                    return Ok(());
                };
                self.space();
                match self.next() {
                    Some(b',') => {
                        self.space();
                        if close == b'}' {
                            self.key()?;
                        }
                        break;
                    }
                    Some(b) if b == close => drop(nesting.pop()),
                    _ => {
                        let what = if close == b'}' {
                            "expected `,` or `}`"
                        } else {
                            "expected `,` or `]`"
                        };
                        return Err(self.back(what));
                    }
                }
            }
        }
    }
}

/// The first byte at or after `at` that is a quote, a backslash or a control character (or
/// the end), eight bytes at a time.
fn special(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let v = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A borrow can only mark a byte above one truly marked, so the lowest mark is right.
        let marks = (zero_byte(v ^ (ONES * u64::from(b'"')))
            | zero_byte(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v))
            & HIGH;
        if marks != 0 {
            return at + (marks.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if matches!(b, b'"' | b'\\' | 0..0x20) {
            break;
        }
        at += 1;
    }
    at
}

/// A `serde_json` error's words, without its place (which is the value's, not the record's).
pub(crate) fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}
