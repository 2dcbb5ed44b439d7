//! Byte sizes as people write them (`4096`, `64MiB`, `1.5GiB`) and as the report prints them.

/// Parses `4096`, `64KiB`, `64k`, `1.5GiB`, ... Units are powers of 1024, as in `sandmill`'s own
/// flags.
///
/// # Errors
/// If `s` is not a number followed by an optional known unit.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 4096 or 64MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB, GiB)")),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > (1u64 << 50) as f64 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes as u64)
}

/// The shortest exact name for `n` bytes (`64MiB`, `1536KiB`, `1000`), used in cache
/// directory names and on `sandmill` command lines.
pub fn size_name(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n != 0 && n.trailing_zeros() >= shift {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// `n` bytes for people: `812 B`, `4.0 KiB`, `200.0 MiB`, `1.5 GiB`.
pub fn human(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..0x10_0000 => format!("{:.1} KiB", n as f64 / 1024.0),
        0x10_0000..0x4000_0000 => format!("{:.1} MiB", mib(n)),
        _ => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
    }
}

/// `n` bytes in MiB, for tables.
pub fn mib(n: u64) -> f64 {
    n as f64 / (1u64 << 20) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip() {
        let cases = [
            ("4096", 4096, "4KiB"),
            ("1000", 1000, "1000"),
            ("64MiB", 64 << 20, "64MiB"),
            ("1.5GiB", 3 << 29, "1536MiB"),
            ("2 mb", 2 << 20, "2MiB"),
        ];
        for (text, bytes, name) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
            assert_eq!(size_name(bytes), name);
        }
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(human(812), "812 B");
        assert_eq!(human(4096), "4.0 KiB");
        assert_eq!(human(200 << 20), "200.0 MiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
        assert!(parse_size("").is_err());
    }
}
