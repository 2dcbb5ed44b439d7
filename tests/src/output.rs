//! Reading and checking a job's output directory, and comparing output lines readably.
//!
//! A committed output directory holds `part-00000` … `part-{R-1:05}` (each present, possibly
//! empty, each line ending in `\n`) and `_SUCCESS`. Whether the lines are right is for the
//! caller to decide, usually against [`crate::reference`].

use std::fmt::{Debug, Write as _};
use std::path::{Path, PathBuf};

/// The `part-*` files of `dir`, sorted by name.
///
/// # Panics
/// If `dir` cannot be listed.
pub fn part_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    let mut parts: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
                .path()
        })
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
        })
        .collect();
    parts.sort();
    parts
}

/// The bytes of every `part-*` file of `dir`, by file name: to compare two outputs byte for
/// byte.
///
/// # Panics
/// If `dir` cannot be listed or a file read.
pub fn part_bytes(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    part_files(dir)
        .into_iter()
        .map(|path| {
            let bytes =
                std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, bytes)
        })
        .collect()
}

/// The lines of one part file, without their `\n`.
///
/// # Panics
/// If the file cannot be read, is not UTF-8, or is not empty and does not end with `\n`.
pub fn read_part(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let text =
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", path.display()));
    if text.is_empty() {
        return Vec::new();
    }
    let Some(body) = text.strip_suffix('\n') else {
        let last = text.rsplit('\n').next().unwrap_or_default();
        panic!(
            "{} does not end with \\n; its last line is {last:?}",
            path.display()
        );
    };
    body.split('\n').map(str::to_owned).collect()
}

/// Every line of every `part-*` file in `dir`, sorted by byte order: the job's output as a set
/// of lines, whatever the number of reducers.
///
/// # Panics
/// As [`read_part`], and if `dir` cannot be listed.
pub fn read_output(dir: &Path) -> Vec<String> {
    let mut lines: Vec<String> = part_files(dir).iter().flat_map(|p| read_part(p)).collect();
    lines.sort();
    lines
}

/// Checks that `dir` is a committed output of `reducers` partitions: exactly `part-00000` …
/// `part-{reducers-1:05}` and `_SUCCESS`.
///
/// # Panics
/// If it is not, listing what is there.
pub fn assert_committed(dir: &Path, reducers: usize) {
    let want: Vec<PathBuf> = (0..reducers)
        .map(|p| dir.join(format!("part-{p:05}")))
        .collect();
    let got = part_files(dir);
    assert_eq!(got, want, "part files of {}", dir.display());
    for part in &got {
        assert!(part.is_file(), "{} is not a file", part.display());
    }
    let success = dir.join("_SUCCESS");
    assert!(success.is_file(), "{} is missing", success.display());
}

/// Checks that the lines of every part file in `dir` are in ascending order of `key(line)`
/// (equal keys allowed), and returns how many part files there were.
///
/// # Panics
/// Naming the file and the first pair of lines out of order.
pub fn part_files_sorted_by<K: Ord + Debug>(dir: &Path, key: impl Fn(&str) -> K) -> usize {
    let parts = part_files(dir);
    for part in &parts {
        let lines = read_part(part);
        for (i, pair) in lines.windows(2).enumerate() {
            let (a, b) = (key(&pair[0]), key(&pair[1]));
            assert!(
                a <= b,
                "{} is not sorted: line {} {:?} (key {a:?}) comes before line {} {:?} (key {b:?})",
                part.display(),
                i + 1,
                pair[0],
                i + 2,
                pair[1],
            );
        }
    }
    parts.len()
}

/// The first tab-separated field of a line, as bytes: the key of `wordcount` and
/// `inverted-index` output. Use with [`part_files_sorted_by`].
pub fn first_field_bytes(line: &str) -> Vec<u8> {
    line.split('\t')
        .next()
        .unwrap_or_default()
        .as_bytes()
        .to_vec()
}

/// The first tab-separated field of a line as an integer: the key of `revenue-by-user` output.
/// Use with [`part_files_sorted_by`].
///
/// # Panics
/// If the field is not an `i64`.
pub fn first_field_i64(line: &str) -> i64 {
    let field = line.split('\t').next().unwrap_or_default();
    field
        .parse()
        .unwrap_or_else(|e| panic!("{field:?} in line {line:?}: {e}"))
}

/// How many lines to show from each side of a difference.
const SHOW: usize = 10;

/// Describes how two lists of lines differ, or `None` if they are equal.
///
/// Both are compared as sorted multisets (the order part files are concatenated in does not
/// matter): the description gives the line counts, the first position where the sorted lists
/// differ with a little context, and the first lines missing from `got` and unexpected in it.
pub fn lines_diff(expected: &[String], got: &[String]) -> Option<String> {
    let (mut want, mut have) = (expected.to_vec(), got.to_vec());
    want.sort();
    have.sort();
    if want == have {
        return None;
    }
    let mut out = format!("expected {} lines, got {}\n", want.len(), have.len());
    let first = want
        .iter()
        .zip(&have)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(have.len()));
    let from = first.saturating_sub(2);
    writeln!(out, "first difference at sorted line {}:", first + 1).unwrap();
    for (label, lines) in [("expected", &want), ("got     ", &have)] {
        for (i, line) in lines.iter().enumerate().skip(from).take(first - from + 3) {
            let mark = if i == first { ">" } else { " " };
            writeln!(out, "  {mark} {label} {:>6}: {line:?}", i + 1).unwrap();
        }
    }
    // Walk both sorted lists together to find what is on one side only.
    let (mut missing, mut unexpected) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < want.len() || j < have.len() {
        match (want.get(i), have.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                missing.push(a);
                i += 1;
            }
            (Some(a), None) => {
                missing.push(a);
                i += 1;
            }
            (_, Some(b)) => {
                unexpected.push(b);
                j += 1;
            }
            (None, None) => unreachable!("the loop condition"),
        }
    }
    for (label, lines) in [
        ("missing from output", &missing),
        ("unexpected in output", &unexpected),
    ] {
        if !lines.is_empty() {
            let shown = lines.len().min(SHOW);
            writeln!(out, "{label} ({} lines, first {shown}):", lines.len()).unwrap();
            for line in &lines[..shown] {
                writeln!(out, "    {line:?}").unwrap();
            }
        }
    }
    Some(out)
}

/// Asserts that two lists of lines are equal as sorted multisets, and on failure shows how they
/// differ (see [`output::lines_diff`](crate::output::lines_diff)) instead of two huge `Debug`
/// dumps. An optional format string and arguments say what was compared.
///
/// ```ignore
/// assert_lines_eq!(reference::wordcount(&files), output::read_output(&out), "reducers={r}");
/// ```
#[macro_export]
macro_rules! assert_lines_eq {
    ($expected:expr, $got:expr $(,)?) => {
        $crate::assert_lines_eq!($expected, $got, "lines differ")
    };
    ($expected:expr, $got:expr, $($what:tt)+) => {
        if let Some(diff) = $crate::output::lines_diff(&$expected, &$got) {
            panic!("{}\n{}", format_args!($($what)+), diff);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    fn output_dir(parts: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, contents) in parts.iter().enumerate() {
            std::fs::write(dir.path().join(format!("part-{p:05}")), contents).unwrap();
        }
        std::fs::write(dir.path().join("_SUCCESS"), "").unwrap();
        dir
    }

    #[test]
    fn read_output_concatenates_and_sorts_parts() {
        let dir = output_dir(&["b\t1\nd\t2\n", "", "a\t3\nc\t1\n"]);
        assert_eq!(read_output(dir.path()), ["a\t3", "b\t1", "c\t1", "d\t2"]);
        assert_committed(dir.path(), 3);
        assert_eq!(part_files_sorted_by(dir.path(), first_field_bytes), 3);
    }

    #[test]
    #[should_panic(expected = "does not end with \\n")]
    fn a_part_without_a_final_newline_is_rejected() {
        read_output(output_dir(&["a\t1\nb\t2"]).path());
    }

    #[test]
    #[should_panic(expected = "part files of")]
    fn a_missing_part_is_rejected() {
        assert_committed(output_dir(&["a\t1\n"]).path(), 2);
    }

    #[test]
    fn sorted_by_uses_the_given_key() {
        // Numeric order, not byte order.
        let dir = output_dir(&["-10\t1\t1\n-2\t1\t1\n3\t1\t1\n20\t1\t1\n"]);
        part_files_sorted_by(dir.path(), first_field_i64);
        let unsorted = std::panic::catch_unwind(|| {
            part_files_sorted_by(dir.path(), first_field_bytes);
        });
        let message = *unsorted.unwrap_err().downcast::<String>().unwrap();
        // "3" sorts after "20" as bytes.
        assert!(
            message.contains("line 3 \"3\\t1\\t1\" (key [51])"),
            "{message}"
        );
    }

    #[test]
    fn lines_diff_shows_what_is_missing_and_unexpected() {
        let want = strings(&["a\t1", "b\t2", "c\t3", "d\t4"]);
        assert_eq!(
            lines_diff(&want, &strings(&["d\t4", "c\t3", "b\t2", "a\t1"])),
            None
        );
        let diff = lines_diff(&want, &strings(&["a\t1", "b\t20", "c\t3", "d\t4", "e\t5"])).unwrap();
        assert!(diff.starts_with("expected 4 lines, got 5\n"), "{diff}");
        assert!(diff.contains("first difference at sorted line 2"), "{diff}");
        assert!(
            diff.contains("missing from output (1 lines, first 1):\n    \"b\\t2\""),
            "{diff}"
        );
        assert!(
            diff.contains("unexpected in output (2 lines, first 2):"),
            "{diff}"
        );
        assert!(
            diff.contains("\"b\\t20\"") && diff.contains("\"e\\t5\""),
            "{diff}"
        );
        // Duplicates count.
        assert!(lines_diff(&strings(&["a"]), &strings(&["a", "a"])).is_some());
    }

    #[test]
    fn assert_lines_eq_passes_on_equal_and_panics_with_the_diff() {
        crate::assert_lines_eq!(strings(&["x", "y"]), strings(&["y", "x"]));
        let failed = std::panic::catch_unwind(|| {
            crate::assert_lines_eq!(strings(&["x"]), strings(&["z"]), "run {}", 3);
        });
        let message = *failed.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.starts_with("run 3\nexpected 1 lines, got 1\n"),
            "{message}"
        );
    }
}
