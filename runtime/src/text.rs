//! Text a plugin wrote, made safe to show: escaped so that a terminal or a log viewer never
//! interprets it, cut to a bounded size, and quoted so that a reader can tell the plugin's words
//! from Sandmill's. Where such text is shown is decided by the error types and the CLI.
//!
//! A plugin is untrusted code: its error messages, log lines, stdout, counter names and keys
//! could otherwise clear the screen (`\x1b[2J`), rewrite the line (`\r`), start a new one that
//! looks like Sandmill's (`\nsandmill: job succeeded`), or reorder what is shown (the bidi
//! overrides of "Trojan Source").

use std::borrow::Cow;
use std::fmt::Write as _;

/// The most bytes of one piece of plugin text (an error message, a reject reason) that Sandmill
/// keeps; [`cut`] drops the rest.
pub const MAX_PLUGIN_TEXT: usize = 4 << 10;

/// Whether `c` would be interpreted, not just shown, by a terminal or a text viewer: C0
/// controls (newline and tab included), DEL, C1 controls, the Unicode line and paragraph
/// separators, and the bidirectional marks, embeddings, overrides and isolates.
pub fn is_active(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Appends `c` escaped as Rust writes it (`\n`, `\t`, `\r`, else `\u{1b}`).
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `s` with every [active](is_active) character escaped, so that it prints as one inert line.
/// Borrowed when there is nothing to escape, which is the common case.
pub fn inert(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(is_active) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if is_active(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` in double quotes, [inert](inert), with `"` and `\` escaped too: where the quote ends is
/// where the plugin's words end.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if is_active(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `plugin says: "…"`: a message of the plugin's, marked as such and [`quoted`].
pub fn plugin_says(s: &str) -> String {
    format!("plugin says: {}", quoted(s))
}

/// `s` cut to at most `max` bytes (at a character boundary), with a marker saying how many
/// bytes were cut: `… (5242880 more bytes cut)`.
pub fn cut(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let more = s.len() - end;
    s.truncate(end);
    let _ = write!(s, "… ({more} more bytes cut)");
    s
}

/// A key as a flag (`--hot-key`), `--dry-run` or a manifest names it: its text when that is
/// UTF-8 with no [active](is_active) character and does not start with `hex:`, else `hex:`
/// and its bytes in lowercase hex. [`parse_key`] reads it back.
pub fn key_text(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(text) if !text.starts_with("hex:") && !text.contains(is_active) => text.to_owned(),
        _ => {
            let mut out = String::with_capacity(4 + 2 * key.len());
            out.push_str("hex:");
            for b in key {
                let _ = write!(out, "{b:02x}");
            }
            out
        }
    }
}

/// The key [`key_text`] names: `hex:` and an even number of hex digits, or the text's bytes.
///
/// # Errors
/// A `hex:` form with an odd number of digits or a character that is not one.
pub fn parse_key(text: &str) -> Result<Vec<u8>, String> {
    let Some(hex) = text.strip_prefix("hex:") else {
        return Ok(text.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{text:?} is not hex:HEX with an even number of hex digits (write a key that starts \
             with \"hex:\" itself in hex)"
        ));
    }
    Ok((0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_characters_are_escaped_and_the_rest_is_kept() {
        let cases = [
            (
                "plain words, ünïcödé, 日本語",
                "plain words, ünïcödé, 日本語",
            ),
            ("\x1b[2Jcleared", "\\u{1b}[2Jcleared"),
            ("a\nsandmill: job succeeded", "a\\nsandmill: job succeeded"),
            ("over\rwrite\ttab", "over\\rwrite\\ttab"),
            ("nul\0 del\x7f", "nul\\u{0} del\\u{7f}"),
            ("c1 \u{85} \u{9b}31m", "c1 \\u{85} \\u{9b}31m"),
            ("line\u{2028}para\u{2029}", "line\\u{2028}para\\u{2029}"),
            (
                "bidi \u{202a}\u{202b}\u{202c}\u{202d}\u{202e}",
                "bidi \\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}",
            ),
            (
                "isolates \u{2066}\u{2067}\u{2068}\u{2069} marks \u{200e}\u{200f}\u{61c}",
                "isolates \\u{2066}\\u{2067}\\u{2068}\\u{2069} marks \\u{200e}\\u{200f}\\u{61c}",
            ),
            // Quotes and backslashes are only escaped inside `quoted`.
            ("say \"hi\" \\o/", "say \"hi\" \\o/"),
        ];
        for (raw, shown) in cases {
            assert_eq!(inert(raw), shown, "{raw:?}");
            assert!(!inert(raw).chars().any(is_active), "{raw:?}");
        }
        assert!(matches!(inert("nothing to do"), Cow::Borrowed(_)));
        // Escaping what was escaped changes nothing: no double escapes in nested messages.
        let once = inert("\x1b\n\u{202e}").into_owned();
        assert_eq!(inert(&once), once);
    }

    #[test]
    fn every_control_and_bidi_character_is_active() {
        for c in (0..=0x9f_u32).filter_map(char::from_u32) {
            assert_eq!(is_active(c), c.is_control(), "{c:?}");
        }
        for c in [
            '\u{2028}', '\u{2029}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_active(c), "{c:?}");
        }
        for c in [' ', 'a', '~', '\u{a0}', '\u{2030}', '\u{2065}', '\u{206a}'] {
            assert!(!is_active(c), "{c:?}");
        }
    }

    #[test]
    fn quoted_text_cannot_end_its_own_quote() {
        assert_eq!(quoted("plain"), "\"plain\"");
        assert_eq!(
            quoted("x\" and sandmill says: \"ok\\"),
            "\"x\\\" and sandmill says: \\\"ok\\\\\""
        );
        assert_eq!(quoted("\x1b[31m\r\n"), "\"\\u{1b}[31m\\r\\n\"");
        assert_eq!(plugin_says("no"), "plugin says: \"no\"");
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary_with_a_marker() {
        assert_eq!(cut("short".into(), 10), "short");
        assert_eq!(cut("exactly10!".into(), 10), "exactly10!");
        assert_eq!(
            cut("0123456789ab".into(), 10),
            "0123456789… (2 more bytes cut)"
        );
        // `é` is two bytes: cutting at 3 would split it.
        assert_eq!(cut("abé".repeat(2), 3), "ab… (6 more bytes cut)");
        let huge = cut("x".repeat(10 << 20), MAX_PLUGIN_TEXT);
        assert!(huge.len() < MAX_PLUGIN_TEXT + 40, "{}", huge.len());
        assert!(huge.ends_with(&format!(
            "({} more bytes cut)",
            (10 << 20) - MAX_PLUGIN_TEXT
        )));
    }

    #[test]
    fn keys_are_named_as_text_or_hex_and_read_back() {
        assert_eq!(key_text(b"hot"), "hot");
        assert_eq!(key_text(b"a\tb"), "hex:610962");
        assert_eq!(key_text(b"hex:x"), "hex:6865783a78");
        assert_eq!(key_text(&[0xff, 0]), "hex:ff00");
        for key in [
            &b"hot"[..],
            b"",
            b"a\tb",
            b"hex:x",
            &[0xff, 0],
            "São".as_bytes(),
        ] {
            assert_eq!(parse_key(&key_text(key)).unwrap(), key);
        }
        assert_eq!(parse_key("hex:00FF").unwrap(), [0, 255]);
        assert!(parse_key("hex:abc").unwrap_err().contains("even number"));
        assert!(parse_key("hex:zz").is_err());
    }
}
