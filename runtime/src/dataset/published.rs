//! When each version was published: `home/published/<id>`, one line holding the UTC time to
//! the second in RFC 3339 (`2026-03-22T10:04:05Z`).
//!
//! The time is kept beside the version, not in its `_MANIFEST.json`: a manifest holds no
//! time, so that a rerun of the same job writes the same bytes. Writing and deleting the
//! records is the guard's business (publish, retention); this module owns their format.

use std::time::{SystemTime, UNIX_EPOCH};

/// The home's subdirectory holding one record per published version.
pub(super) const DIR: &str = "published";

/// `time` in UTC as RFC 3339 to the second: `2026-03-22T10:04:05Z`. A time before the Unix
/// epoch is shown as the epoch.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339_from_unix(seconds)
}

/// `seconds` since the Unix epoch in UTC as RFC 3339: `2026-03-22T10:04:05Z`.
pub fn rfc3339_from_unix(seconds: u64) -> String {
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, by Howard Hinnant's
/// `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>): eras of 400
/// years, each starting on March 1st so that the leap day ends the year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 0 is March, 11 is February.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The time recorded in a version's record, if `text` holds one as [`rfc3339`] writes it:
/// a record is a file anyone can edit, so anything else is taken as no time.
pub(super) fn parse_record(text: &str) -> Option<String> {
    let time = text.trim();
    // `-`, `:`, `T` and `Z` where RFC 3339 has them, and digits everywhere else.
    let pattern = b"dddd-dd-ddTdd:dd:ddZ";
    let well_formed = time.len() == pattern.len()
        && time.bytes().zip(pattern).all(|(b, &p)| match p {
            b'd' => b.is_ascii_digit(),
            _ => b == p,
        });
    well_formed.then(|| time.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_utc_to_the_second() {
        for (seconds, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (86_399, "1970-01-01T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (951_868_800, "2000-03-01T00:00:00Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (1_774_173_845, "2026-03-22T10:04:05Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339_from_unix(seconds), want, "{seconds}");
        }
        let time = UNIX_EPOCH + Duration::from_millis(1_774_173_845_999);
        assert_eq!(rfc3339(time), "2026-03-22T10:04:05Z", "cut, not rounded");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn every_day_follows_the_one_before() {
        // Over 1970..2400 (a full 400-year cycle and then some): the date advances by one day
        // at each step, months and years roll over, and February has 29 days in leap years.
        let mut previous = civil_from_days(0);
        assert_eq!(previous, (1970, 1, 1));
        for days in 1..157_000 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let leap = py % 4 == 0 && (py % 100 != 0 || py % 400 == 0);
            let month_days = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            if pd < month_days[pm as usize - 1] {
                assert_eq!((y, m, d), (py, pm, pd + 1), "day {days}");
            } else if pm < 12 {
                assert_eq!((y, m, d), (py, pm + 1, 1), "day {days}");
            } else {
                assert_eq!((y, m, d), (py + 1, 1, 1), "day {days}");
            }
            previous = (y, m, d);
        }
    }

    #[test]
    fn a_record_is_read_only_if_it_is_a_time() {
        assert_eq!(
            parse_record("2026-03-22T10:04:05Z\n").as_deref(),
            Some("2026-03-22T10:04:05Z")
        );
        for bad in [
            "",
            "yesterday",
            "2026-03-22 10:04:05Z",
            "2026-03-22T10:04:05",
            "2026-03-22T10:04:05+01:00",
            "2026-03-22T10:04:05Z\u{1b}[2J",
            "2026-03-22T10:04:0éZ",
            "é026-03-22T10:04:05Z",
            "2026é3-22T10:04:05Z",
        ] {
            assert_eq!(parse_record(bad), None, "{bad:?}");
        }
    }
}
