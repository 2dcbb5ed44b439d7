//! The service's clock and its one time format: RFC 3339 in UTC, to the second for jobs and
//! logs, to the millisecond for attempts (the timeline and the fair-share test need it).

/// Now, in RFC 3339 UTC to the second: `2026-12-02T13:04:05Z`.
pub fn now() -> String {
    sandmill::dataset::rfc3339(std::time::SystemTime::now())
}

/// `ms` since the Unix epoch as RFC 3339 UTC to the millisecond: `2026-12-02T13:04:05.123Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let seconds = sandmill::dataset::rfc3339_from_unix(u64::try_from(ms / 1000).unwrap_or(0));
    format!(
        "{}.{:03}Z",
        seconds.trim_end_matches('Z'),
        ms.rem_euclid(1000)
    )
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-12-02T13:04:05Z`, with optional
/// fractional seconds and a `Z` or `±HH:MM` offset); `None` if it is not one.
pub fn seconds(rfc3339: &str) -> Option<f64> {
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
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn written_times_read_back() {
        for s in [0u64, 86_399, 951_782_400, 1_764_680_645, 4_102_444_800] {
            let text = sandmill::dataset::rfc3339_from_unix(s);
            assert_eq!(seconds(&text), Some(s as f64), "{text}");
        }
        assert_eq!(rfc3339_ms(1_764_680_645_007), "2025-12-02T13:04:05.007Z");
        assert_eq!(
            seconds(&rfc3339_ms(1_764_680_645_007)),
            Some(1_764_680_645.007)
        );
    }
}
