//! How the pages write numbers and times: sizes in binary units (the CLI's), durations in s/min/h, RFC 3339
//! times shortened, and parsed to seconds for the timeline and the plots.

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

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-12-02T13:04:05Z`, with optional
/// fractional seconds and a `Z` or `±HH:MM` offset); `None` if it is not one.
pub(super) fn seconds(rfc3339: &str) -> Option<f64> {
    let s = rfc3339.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = s.get(range)?;
        digits.iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| s.get(i) != Some(&c))
        || !matches!(s.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &rfc3339[19..];
    let mut fraction = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        fraction = format!("0.{}", &after_dot[..len]).parse().ok()?;
        rest = &after_dot[len..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let d = |i: usize| i64::from(digits[i] - b'0');
            let minutes = (d(0) * 10 + d(1)) * 60 + d(2) * 10 + d(3);
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let local = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some((local - offset) as f64 + fraction)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`: eras of 400 years, with years starting in March).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
    let whole = seconds.floor() as i64;
    let (days, second_of_day) = (whole.div_euclid(86_400), whole.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The date `days` after 1970-01-01: the inverse of [`days_from_civil`] (Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Now, in seconds since the Unix epoch.
pub(super) fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
    fn rfc3339_to_seconds() {
        for (text, expected) in [
            ("1970-01-01T00:00:00Z", Some(0.0)),
            ("2026-12-02T13:04:05Z", Some(1_796_216_645.0)),
            ("2000-03-01T00:00:00Z", Some(951_868_800.0)),
            ("2026-12-02T13:04:05.250Z", Some(1_796_216_645.25)),
            ("2026-12-02T14:04:05+01:00", Some(1_796_216_645.0)),
            ("2026-12-02T13:04:05", None),
            ("2026-13-02T13:04:05Z", None),
            ("2026-12-02 13:04", None),
            ("yesterday", None),
            ("", None),
        ] {
            assert_eq!(seconds(text), expected, "{text:?}");
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
        assert_eq!(time_of_seconds(-1.0), "1969-12-31 23:59:59");
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
