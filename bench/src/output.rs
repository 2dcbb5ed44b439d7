//! Job outputs: writing integers into output lines, reading an output directory's part files
//! back as sorted lines, and comparing two outputs with a readable report of the differences;
//! or reading them as they are ([`Parts`]) to compare two runs of Sandmill byte for byte.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

/// Part files by name: their bytes.
pub type Parts = BTreeMap<String, Vec<u8>>;

/// The `part-*` files of `dir`, by name (other files, like `_SUCCESS`, are left out).
///
/// # Errors
/// If the directory or a part file cannot be read.
pub fn read_parts(dir: &Path) -> io::Result<Parts> {
    let mut parts = Parts::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with("part-") {
            parts.insert(name.to_owned(), fs::read(&path)?);
        }
    }
    Ok(parts)
}

/// `None` if both sides have the same part files with the same bytes, else what differs.
pub fn compare_parts(want: &Parts, got: &Parts) -> Option<String> {
    if want.keys().ne(got.keys()) {
        return Some(format!(
            "part files {:?}, expected {:?}",
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        ));
    }
    want.iter()
        .find(|(name, bytes)| got[*name] != **bytes)
        .map(|(name, bytes)| {
            format!(
                "{name} has {} bytes, expected {} (or the same size, other bytes)",
                got[name].len(),
                bytes.len()
            )
        })
}

/// Appends `n` in plain decimal.
pub fn push_u64(line: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line.extend_from_slice(&digits[i..]);
}

/// Appends `n` in plain decimal, with a `-` if negative.
pub fn push_i64(line: &mut Vec<u8>, n: i64) {
    if n < 0 {
        line.push(b'-');
    }
    push_u64(line, n.unsigned_abs());
}

/// An output directory's lines: every `part-*` file concatenated, cut at `\n`, sorted by bytes.
pub struct SortedLines {
    bytes: Vec<u8>,
    /// `(start, end)` of each line in `bytes`, without its `\n`, in sorted order.
    lines: Vec<(usize, usize)>,
}

/// The `part-*` files of `dir` whose names end with `suffix` (`""` for all), sorted.
fn part_files(dir: &Path, suffix: &str) -> io::Result<Vec<std::path::PathBuf>> {
    let mut parts: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    parts.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("part-") && n.ends_with(suffix))
    });
    parts.sort();
    Ok(parts)
}

impl SortedLines {
    /// Reads the `part-*` files of `dir`.
    ///
    /// # Errors
    /// If the directory or a part file cannot be read, or a part file does not end with `\n`
    /// (every output line must).
    pub fn read(dir: &Path) -> io::Result<SortedLines> {
        let parts = part_files(dir, "")?;
        let mut bytes = Vec::new();
        for part in &parts {
            let start = bytes.len();
            bytes.extend_from_slice(&fs::read(part)?);
            if bytes.len() > start && bytes.last() != Some(&b'\n') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} does not end with a newline", part.display()),
                ));
            }
        }
        Ok(SortedLines::from_bytes(bytes))
    }

    /// The lines of `bytes`, each ended by `\n`, sorted.
    fn from_bytes(bytes: Vec<u8>) -> SortedLines {
        let mut lines = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &bytes) {
            lines.push((start, end));
            start = end + 1;
        }
        let mut sorted = SortedLines { bytes, lines };
        let SortedLines { bytes, lines } = &mut sorted;
        lines.sort_unstable_by(|a, b| bytes[a.0..a.1].cmp(&bytes[b.0..b.1]));
        sorted
    }

    /// Reads the `part-*.parquet` files of `dir` as lines: each row its columns' values,
    /// tab-separated, as the native jobs write them. Only integer columns are read (those of
    /// revenue-by-user-parquet).
    ///
    /// # Errors
    /// If a file cannot be read, is not Parquet, or has a column of another type.
    pub fn read_parquet(dir: &Path) -> io::Result<SortedLines> {
        use arrow_array::Array as _;
        use arrow_array::cast::AsArray;
        use arrow_array::types::Int64Type;
        use std::io::Write as _;
        let bad =
            |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
        let parts = part_files(dir, ".parquet")?;
        let mut bytes = Vec::new();
        for part in &parts {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                fs::File::open(part)?,
            )
            .and_then(|b| b.build())
            .map_err(|e| bad(&e))?;
            for batch in reader {
                let batch = batch.map_err(|e| bad(&e))?;
                let columns: Vec<_> = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        c.as_primitive_opt::<Int64Type>().ok_or_else(|| {
                            bad(&format!("{}: a column is not int64", part.display()))
                        })
                    })
                    .collect::<io::Result<_>>()?;
                for row in 0..batch.num_rows() {
                    for (i, column) in columns.iter().enumerate() {
                        let sep = if i == 0 { "" } else { "\t" };
                        if column.is_null(row) {
                            write!(bytes, "{sep}")?;
                        } else {
                            write!(bytes, "{sep}{}", column.value(row))?;
                        }
                    }
                    bytes.push(b'\n');
                }
            }
        }
        Ok(SortedLines::from_bytes(bytes))
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The total size of the part files, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Line `i` in sorted order, without its `\n`.
    pub fn line(&self, i: usize) -> &[u8] {
        let (start, end) = self.lines[i];
        &self.bytes[start..end]
    }

    /// `None` if `self` and `other` hold the same lines; otherwise a report of the first few
    /// lines found in only one of them, labelled with `names`.
    pub fn diff(&self, other: &SortedLines, names: [&str; 2]) -> Option<String> {
        const SHOW: usize = 10;
        let (mut i, mut j) = (0, 0);
        let mut only = [Vec::new(), Vec::new()];
        let mut counts = [0usize; 2];
        while i < self.len() || j < other.len() {
            let order = match (i < self.len(), j < other.len()) {
                (true, true) => self.line(i).cmp(other.line(j)),
                (true, false) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
                std::cmp::Ordering::Less => {
                    counts[0] += 1;
                    if only[0].len() < SHOW {
                        only[0].push(String::from_utf8_lossy(self.line(i)).into_owned());
                    }
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    counts[1] += 1;
                    if only[1].len() < SHOW {
                        only[1].push(String::from_utf8_lossy(other.line(j)).into_owned());
                    }
                    j += 1;
                }
            }
        }
        if counts == [0, 0] {
            return None;
        }
        let mut report = format!(
            "outputs differ: {} has {} lines, {} has {}\n",
            names[0],
            self.len(),
            names[1],
            other.len()
        );
        for side in 0..2 {
            report += &format!(
                "  {} lines only in {} (first {}):\n",
                counts[side],
                names[side],
                only[side].len()
            );
            for line in &only[side] {
                report += &format!("    {line:?}\n");
            }
        }
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_plain_decimal() {
        let mut line = Vec::new();
        for n in [0, 7, -7, 1234567890, i64::MIN, i64::MAX] {
            line.clear();
            push_i64(&mut line, n);
            assert_eq!(line, n.to_string().as_bytes());
        }
    }

    #[test]
    fn part_files_are_read_as_sorted_lines_and_compared() {
        let a = tempfile::tempdir().unwrap();
        fs::write(a.path().join("part-00000"), "b\t2\nd\t1\n").unwrap();
        fs::write(a.path().join("part-00001"), "a\t1\n").unwrap();
        fs::write(a.path().join("_SUCCESS"), "").unwrap();
        let b = tempfile::tempdir().unwrap();
        fs::write(b.path().join("part-00000"), "a\t1\nb\t2\nd\t1\n").unwrap();
        let (la, lb) = (
            SortedLines::read(a.path()).unwrap(),
            SortedLines::read(b.path()).unwrap(),
        );
        assert_eq!(
            (0..la.len()).map(|i| la.line(i)).collect::<Vec<_>>(),
            [&b"a\t1"[..], b"b\t2", b"d\t1"]
        );
        assert_eq!(la.diff(&lb, ["a", "b"]), None);

        fs::write(b.path().join("part-00000"), "a\t1\nb\t3\nd\t1\n").unwrap();
        let lb = SortedLines::read(b.path()).unwrap();
        let report = la.diff(&lb, ["sandmill", "native"]).unwrap();
        assert!(report.contains("1 lines only in sandmill"), "{report}");
        assert!(report.contains("\"b\\t3\""), "{report}");

        fs::write(b.path().join("part-00000"), "a\t1").unwrap();
        assert!(SortedLines::read(b.path()).is_err());
    }

    #[test]
    fn part_files_are_read_and_compared_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("part-00000"), "a\t1\n").unwrap();
        fs::write(dir.path().join("part-00001"), "b\t2\n").unwrap();
        fs::write(dir.path().join("_SUCCESS"), "").unwrap();
        let want = read_parts(dir.path()).unwrap();
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            ["part-00000", "part-00001"]
        );
        assert_eq!(compare_parts(&want, &want.clone()), None);
        let mut other = want.clone();
        other.insert("part-00001".into(), b"b\t3\n".to_vec());
        assert!(
            compare_parts(&want, &other)
                .unwrap()
                .starts_with("part-00001")
        );
        other.remove("part-00001");
        assert!(compare_parts(&want, &other).unwrap().contains("expected"));
    }
}
