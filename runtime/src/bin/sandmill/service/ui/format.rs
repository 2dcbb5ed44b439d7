//! How the pages write numbers and times: sizes in binary units (the CLI's), durations in s/min/h, RFC 3339
//! times shortened, and parsed to seconds for the timeline and the plots.

use super::super::clock;
pub(super) use super::super::clock::seconds;

/// `n` bytes for a reader: `512 B`, `1.2 MiB` (as the CLI writes them).
pub(super) fn bytes(n: u64) -> String {
    crate::human_bytes(n)
}

/// `seconds` for a reader: `0.4 s`, `12.5 s`, `3 min 04 s`, `2 h 05 min`.
pub(super) fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "—".to_owned();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{} h {:02} min", whole / 3600, whole % 3600 / 60)
    }
}

/// An RFC 3339 time as a table shows it: `2026-12-02 13:04:05` (the date and the second; the
/// API's times are all UTC). Anything else is shown as it is.
pub(super) fn time(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(head) if seconds(rfc3339).is_some() => head.replacen('T', " ", 1),
        _ => rfc3339.to_owned(),
    }
}

/// `text` as a URL path: each byte but unreserved ones (`A-Z a-z 0-9 - . _ ~`) and `/` written
/// as `%XX`, so that a dataset file named `a b#c` links to itself and not to a fragment.
pub(super) fn url_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `seconds` since the epoch as a table shows a time: `2026-12-02 13:04:05` (UTC).
pub(super) fn time_of_seconds(seconds: f64) -> String {
    time(&sandmill::dataset::rfc3339_from_unix(
        seconds.max(0.0) as u64
    ))
}

/// Now, in seconds since the Unix epoch.
pub(super) fn now_seconds() -> f64 {
    clock::now_ms() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_binary_units() {
        for (n, text) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1_258_291, "1.2 MiB"),
            (5 << 30, "5.0 GiB"),
        ] {
            assert_eq!(bytes(n), text, "{n} bytes");
        }
    }

    #[test]
    fn durations_for_a_reader() {
        for (s, text) in [
            (0.44, "0.4 s"),
            (12.5, "12.5 s"),
            (184.0, "3 min 04 s"),
            (7500.0, "2 h 05 min"),
            (-1.0, "—"),
            (f64::NAN, "—"),
        ] {
            assert_eq!(duration(s), text, "{s} seconds");
        }
    }

    #[test]
    fn seconds_back_to_times() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2026-12-02T13:04:05Z",
        ] {
            let s = seconds(text).unwrap();
            assert_eq!(time_of_seconds(s), time(text), "{text}");
        }
    }

    #[test]
    fn url_paths_escaped() {
        assert_eq!(url_path("part-00000"), "part-00000");
        assert_eq!(url_path("key=a b/part#1?x%"), "key%3Da%20b/part%231%3Fx%25");
        assert_eq!(url_path("é"), "%C3%A9");
    }

    #[test]
    fn times_shortened_for_tables() {
        assert_eq!(time("2026-12-02T13:04:05.123Z"), "2026-12-02 13:04:05");
        assert_eq!(time("not a time <b>"), "not a time <b>");
    }
}
