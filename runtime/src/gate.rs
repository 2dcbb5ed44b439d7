//! Quality gates: checks a job's output must pass before it is published.
//!
//! A job (or a pipeline stage) declares [`Check`]s. Once every reduce task has committed, and
//! before the version switch, [`evaluate`] runs them all over the staged version's files, in
//! one pass for the checks that read records, and returns a [`CheckOutcome`](crate::dataset::CheckOutcome) per check: what was
//! measured and, for a failure, by how much it missed. A single failure stops the publish:
//! the previous version stays current, and the rejected attempt is kept with a manifest that
//! lists the outcomes (see `publish`).
//!
//! A record's key, for the key checks, is a JSON field of the record when the check names one
//! (`key = "user_id"`), and otherwise the text before the record's first tab, the key of the
//! `key\tvalue` lines the example jobs write. A custom check is a plugin, run as a job over
//! the output by whoever calls [`evaluate`] ([`PluginCheck`]), which writes one record:
//! `{"pass": true}` or `{"pass": false, "reason": "..."}`.
//!
//! The records of Parquet part files (`--output-format parquet`) are their rows, each the JSON
//! object of its columns (`columnar`), so the field checks read JSON and Parquet outputs alike.
//!
//! Plain Rust: reads files, knows nothing of plugins or scheduling.

use crate::dataset::{CheckOutcome as Outcome, OutputFile, VersionId};
use crate::error::Error;
use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};

/// One check on a job's output, as a pipeline file declares it (`check = "records"`, ...).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// The number of records is within `min..=max` (either bound may be left out).
    Records {
        /// The fewest records allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u64>,
        /// The most records allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u64>,
    },
    /// The number of records differs from the current version's by at most `max_percent`
    /// per cent of it. Passes when there is no current version.
    RecordsChange {
        /// The largest change allowed, in per cent of the current version's count.
        max_percent: f64,
    },
    /// No record has an empty (or missing) key.
    NoEmptyKeys {
        /// The JSON field holding the key; without it, the text before the first tab.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// No two records have the same key.
    UniqueKeys {
        /// The JSON field holding the key; without it, the text before the first tab.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// At most a share `max` (0 to 1) of the records have `field` null or missing. Records
    /// are JSON objects.
    NullShare {
        /// The JSON field.
        field: String,
        /// The largest share of nulls allowed, from 0 to 1.
        max: f64,
    },
    /// A plugin decides: it is run as a job over the output (one reduce task) and writes one
    /// record, `{"pass": bool, "reason": "..."}`.
    Plugin {
        /// The check's `.wasm` (a component of the `sandmill:job` world).
        plugin: PathBuf,
        /// Its `--param` pairs.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        params: BTreeMap<String, String>,
        /// A name for the summary; the plugin's file name by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl Check {
    /// Checks the bounds a check declares, before anything runs.
    ///
    /// # Errors
    /// A message saying what is wrong and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Check::Records {
                min: Some(min),
                max: Some(max),
            } if min > max => Err(format!("check {self}: min {min} is larger than max {max}")),
            Check::Records {
                min: None,
                max: None,
            } => Err("check records needs min, max or both".into()),
            Check::RecordsChange { max_percent } if max_percent.is_nan() || *max_percent < 0.0 => {
                Err(format!(
                    "check records-change: max_percent must be 0 or more, not {max_percent}"
                ))
            }
            Check::NullShare { max, .. } if !(0.0..=1.0).contains(max) => Err(format!(
                "check {self}: max is a share from 0 to 1 (0.05 for 5 %), not {max}"
            )),
            Check::NoEmptyKeys { key: Some(k) }
            | Check::UniqueKeys { key: Some(k) }
            | Check::NullShare { field: k, .. }
                if k.is_empty() =>
            {
                Err(format!("check {self}: the field name is empty"))
            }
            _ => Ok(()),
        }
    }

    /// Whether the check reads every record (the others need only the counts).
    fn reads_records(&self) -> bool {
        matches!(
            self,
            Check::NoEmptyKeys { .. } | Check::UniqueKeys { .. } | Check::NullShare { .. }
        )
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = |k: &Option<String>| k.as_ref().map_or(String::new(), |k| format!("({k})"));
        match self {
            Check::Records { min, max } => {
                let bound = |b: &Option<u64>| b.map_or(String::new(), |b| b.to_string());
                write!(f, "records {}..{}", bound(min), bound(max))
            }
            Check::RecordsChange { max_percent } => write!(f, "records-change ±{max_percent}%"),
            Check::NoEmptyKeys { key: k } => write!(f, "no-empty-keys{}", key(k)),
            Check::UniqueKeys { key: k } => write!(f, "unique-keys{}", key(k)),
            Check::NullShare { field, max } => write!(f, "null-share({field}) ≤ {max}"),
            Check::Plugin { plugin, name, .. } => match name {
                Some(name) => write!(f, "plugin {name}"),
                None => write!(
                    f,
                    "plugin {}",
                    plugin.file_name().unwrap_or_default().to_string_lossy()
                ),
            },
        }
    }
}

/// The output to check: the staged version's directory and its files (from the reduce
/// tasks' records), and the current version's record count, if there is one.
#[derive(Debug)]
pub struct Staged<'a> {
    /// The version's directory.
    pub dir: &'a Path,
    /// Its data files (quarantined records excluded), with their record counts.
    pub files: &'a [OutputFile],
    /// The dataset's current version and its record count.
    pub current: Option<(VersionId, u64)>,
}

/// What a check plugin decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Whether the output passes.
    pub pass: bool,
    /// Why, for a person.
    #[serde(default)]
    pub reason: String,
}

/// Runs a check plugin over output files: implemented by the scheduler, which can run jobs.
pub trait PluginCheck {
    /// Runs `check` (a [`Check::Plugin`]) over `files`, and returns what its one output record
    /// ([`read_verdict`]) says.
    ///
    /// # Errors
    /// If the check's job fails, or writes no verdict.
    fn run(&self, check: &Check, files: &[PathBuf]) -> Result<Verdict, Error>;
}

/// A [`PluginCheck`] for jobs that declare no plugin check.
#[derive(Debug, Clone, Copy)]
pub struct NoPluginChecks;

impl PluginCheck for NoPluginChecks {
    fn run(&self, check: &Check, _: &[PathBuf]) -> Result<Verdict, Error> {
        Err(Error::Spec(format!(
            "check {check} needs a plugin run, which this kind of job cannot do"
        )))
    }
}

/// Runs `checks` over `staged`, in order, and returns one outcome each.
///
/// # Errors
/// An output file that cannot be read, or a plugin check that cannot run: no verdict, which
/// is not the same as a failed check.
pub fn evaluate(
    checks: &[Check],
    staged: &Staged<'_>,
    plugins: &dyn PluginCheck,
) -> Result<Vec<Outcome>, Error> {
    let records: u64 = staged.files.iter().map(|f| f.records).sum();
    let mut scans: Vec<(usize, Scan)> = checks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.reads_records())
        .map(|(i, c)| (i, Scan::new(c)))
        .collect();
    if !scans.is_empty() {
        scan(staged, &mut scans)?;
    }
    let mut scanned = scans.into_iter().map(|(i, s)| (i, s.finish(records)));
    let mut next_scanned = scanned.next();
    let mut outcomes = Vec::with_capacity(checks.len());
    for (i, check) in checks.iter().enumerate() {
        let (passed, detail) = match check {
            Check::Records { min, max } => records_within(records, *min, *max),
            Check::RecordsChange { max_percent } => {
                records_change(records, staged.current, *max_percent)
            }
            Check::Plugin { .. } => {
                let files: Vec<PathBuf> = staged
                    .files
                    .iter()
                    .map(|f| staged.dir.join(&f.path))
                    .collect();
                let verdict = plugins.run(check, &files)?;
                let reason = if verdict.reason.is_empty() {
                    if verdict.pass {
                        "passed"
                    } else {
                        "failed, giving no reason"
                    }
                    .to_owned()
                } else {
                    verdict.reason
                };
                (verdict.pass, reason)
            }
            _ => match next_scanned.take() {
                Some((j, outcome)) if j == i => {
                    next_scanned = scanned.next();
                    outcome
                }
                _ => return Err(Error::Bug(format!("check {check} was not scanned"))),
            },
        };
        outcomes.push(Outcome {
            check: check.to_string(),
            passed,
            detail,
        });
    }
    Ok(outcomes)
}

fn records_within(records: u64, min: Option<u64>, max: Option<u64>) -> (bool, String) {
    match (min, max) {
        (Some(min), _) if records < min => (
            false,
            format!(
                "{records} records, {} fewer than the minimum {min}",
                min - records
            ),
        ),
        (_, Some(max)) if records > max => (
            false,
            format!(
                "{records} records, {} more than the maximum {max}",
                records - max
            ),
        ),
        _ => (true, format!("{records} records")),
    }
}

fn records_change(
    records: u64,
    current: Option<(VersionId, u64)>,
    max_percent: f64,
) -> (bool, String) {
    let Some((version, before)) = current else {
        return (
            true,
            format!("{records} records; no current version to compare with"),
        );
    };
    let change = if before == 0 {
        if records == 0 { 0.0 } else { f64::INFINITY }
    } else {
        (records as f64 - before as f64) / before as f64 * 100.0
    };
    let direction = if change < 0.0 { "fewer" } else { "more" };
    let detail = format!(
        "{records} records, {:.1}% {direction} than {version}'s {before} (at most {max_percent}%)",
        change.abs()
    );
    (change.abs() <= max_percent, detail)
}

/// One record-reading check's state.
enum Scan {
    EmptyKeys {
        key: Option<String>,
        empty: u64,
        first: Option<String>,
    },
    Unique {
        key: Option<String>,
        seen: std::collections::HashSet<u128>,
        duplicates: u64,
        first: Option<String>,
    },
    Nulls {
        field: String,
        max: f64,
        nulls: u64,
        not_json: Option<String>,
    },
}

impl Scan {
    fn new(check: &Check) -> Scan {
        match check {
            Check::NoEmptyKeys { key } => Scan::EmptyKeys {
                key: key.clone(),
                empty: 0,
                first: None,
            },
            Check::UniqueKeys { key } => Scan::Unique {
                key: key.clone(),
                seen: std::collections::HashSet::new(),
                duplicates: 0,
                first: None,
            },
            Check::NullShare { field, max } => Scan::Nulls {
                field: field.clone(),
                max: *max,
                nulls: 0,
                not_json: None,
            },
            _ => unreachable!("only record-reading checks are scanned"),
        }
    }

    fn add(&mut self, record: &[u8], json: &mut Lazy, at: &dyn Fn() -> String) {
        match self {
            Scan::EmptyKeys { key, empty, first } => match key_of(record, key.as_deref(), json) {
                Some(k) if !k.is_empty() => {}
                _ => {
                    *empty += 1;
                    first.get_or_insert_with(at);
                }
            },
            Scan::Unique {
                key,
                seen,
                duplicates,
                first,
            } => {
                let k = key_of(record, key.as_deref(), json).unwrap_or_default();
                if !seen.insert(hash128(k.as_bytes())) {
                    *duplicates += 1;
                    first.get_or_insert_with(|| format!("{} at {}", quoted(&k), at()));
                }
            }
            Scan::Nulls {
                field,
                nulls,
                not_json,
                ..
            } => match json.get(record) {
                Some(serde_json::Value::Object(map)) => {
                    if map
                        .get(field.as_str())
                        .is_none_or(serde_json::Value::is_null)
                    {
                        *nulls += 1;
                    }
                }
                _ => {
                    *nulls += 1;
                    not_json.get_or_insert_with(at);
                }
            },
        }
    }

    fn finish(self, records: u64) -> (bool, String) {
        match self {
            Scan::EmptyKeys { empty: 0, .. } => (true, format!("{records} records, no empty key")),
            Scan::EmptyKeys { empty, first, .. } => (
                false,
                format!(
                    "{empty} of {records} records have an empty key, the first at {}",
                    first.unwrap_or_default()
                ),
            ),
            Scan::Unique { duplicates: 0, .. } => {
                (true, format!("{records} records, every key once"))
            }
            Scan::Unique {
                duplicates, first, ..
            } => (
                false,
                format!(
                    "{duplicates} of {records} records repeat a key, the first {}",
                    first.unwrap_or_default()
                ),
            ),
            Scan::Nulls {
                field,
                max,
                nulls,
                not_json,
            } => {
                let share = if records == 0 {
                    0.0
                } else {
                    nulls as f64 / records as f64
                };
                let mut detail = format!(
                    "{nulls} of {records} records ({:.2}%) have {field} null or missing \
                     (at most {:.2}%)",
                    share * 100.0,
                    max * 100.0
                );
                if let Some(at) = not_json {
                    detail.push_str(&format!(
                        "; records that are not JSON objects count as null, the first at {at}"
                    ));
                }
                (share <= max, detail)
            }
        }
    }
}

/// A record parsed as JSON at most once, however many checks look at it.
#[derive(Default)]
struct Lazy {
    parsed: Option<Option<serde_json::Value>>,
}

impl Lazy {
    fn get(&mut self, record: &[u8]) -> Option<&serde_json::Value> {
        self.parsed
            .get_or_insert_with(|| serde_json::from_slice(record).ok())
            .as_ref()
    }
}

/// A record's key: the JSON field `field` as text (a string's contents, any other value as
/// JSON; `None` if missing, null or not JSON), or without a field the text before the first tab.
fn key_of(record: &[u8], field: Option<&str>, json: &mut Lazy) -> Option<String> {
    match field {
        None => {
            let end = memchr::memchr(b'\t', record).unwrap_or(record.len());
            Some(String::from_utf8_lossy(&record[..end]).into_owned())
        }
        Some(field) => match json.get(record)?.get(field)? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        },
    }
}

/// A 128-bit hash of a key: what the uniqueness check remembers (16 bytes a key, however
/// long the keys; two different keys collide with odds of about n² / 2¹²⁹).
fn hash128(bytes: &[u8]) -> u128 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    u128::from_le_bytes(digest[..16].try_into().expect("16 bytes"))
}

fn quoted(key: &str) -> String {
    let shown: String = key.chars().take(80).collect();
    format!("{shown:?}")
}

/// Reads every record of `staged`'s files once, handing each to every scan.
fn scan(staged: &Staged<'_>, scans: &mut [(usize, Scan)]) -> Result<(), Error> {
    let mut line = Vec::new();
    for file in staged.files {
        let path = staged.dir.join(&file.path);
        let error = |source| Error::Output {
            path: path.clone(),
            source,
        };
        let opened = std::fs::File::open(&path).map_err(error)?;
        if file.path.ends_with(".parquet") {
            scan_parquet(opened, &file.path, scans).map_err(|e| error(std::io::Error::other(e)))?;
            continue;
        }
        let mut reader = std::io::BufReader::new(opened);
        let mut number = 0u64;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(error)? == 0 {
                break;
            }
            number += 1;
            let record = line.strip_suffix(b"\n").unwrap_or(&line);
            let at = || format!("{} line {number}", file.path);
            let mut json = Lazy::default();
            for (_, scan) in scans.iter_mut() {
                scan.add(record, &mut json, &at);
            }
        }
    }
    Ok(())
}

/// Hands each row of a Parquet part file (`--output-format parquet`) to every scan as the JSON
/// object of its columns, as a plugin reading it would see it; rows are named by number.
fn scan_parquet(
    file: std::fs::File,
    name: &str,
    scans: &mut [(usize, Scan)],
) -> Result<(), String> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let (mut number, mut record) = (0u64, Vec::new());
    for batch in reader {
        let batch = batch.map_err(|e| format!("row {}: {e}", number + 1))?;
        for row in 0..batch.num_rows() {
            number += 1;
            record.clear();
            crate::columnar::write_row(&batch, row, &mut record)?;
            let at = || format!("{name} row {number}");
            let mut json = Lazy::default();
            for (_, scan) in scans.iter_mut() {
                scan.add(&record, &mut json, &at);
            }
        }
    }
    Ok(())
}

/// What a check plugin's job wrote: exactly one record in the files of its output version.
///
/// # Errors
/// No record, more than one, or one that is not a verdict: the message says what a check
/// plugin must write.
pub fn read_verdict(check: &Check, files: &[PathBuf]) -> Result<Verdict, Error> {
    let mut records = Vec::new();
    for path in files {
        let text = std::fs::read(path).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })?;
        records.extend(
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let bad = |what: String| {
        Error::Spec(format!(
            "check {check}: {what}; a check plugin writes exactly one record, \
             {{\"pass\": true}} or {{\"pass\": false, \"reason\": \"...\"}}"
        ))
    };
    match records.as_slice() {
        [one] => serde_json::from_slice(one).map_err(|e| {
            bad(format!(
                "its record {} is not a verdict ({e})",
                quoted(&String::from_utf8_lossy(one))
            ))
        }),
        [] => Err(bad("it wrote no record".into())),
        many => Err(bad(format!("it wrote {} records", many.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_files(dir: &Path, parts: &[&[&str]]) -> Vec<OutputFile> {
        parts
            .iter()
            .enumerate()
            .map(|(i, lines)| {
                let name = format!("part-{i:05}");
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                std::fs::write(dir.join(&name), text).unwrap();
                OutputFile::from_file(dir, &name, lines.len() as u64).unwrap()
            })
            .collect()
    }

    fn run(checks: &[Check], parts: &[&[&str]], current: Option<u64>) -> Vec<Outcome> {
        let dir = tempfile::tempdir().unwrap();
        let files = staged_files(dir.path(), parts);
        let staged = Staged {
            dir: dir.path(),
            files: &files,
            current: current.map(|n| (VersionId(3), n)),
        };
        evaluate(checks, &staged, &NoPluginChecks).unwrap()
    }

    fn one(check: Check, parts: &[&[&str]], current: Option<u64>) -> (bool, String) {
        let outcome = run(&[check], parts, current).remove(0);
        (outcome.passed, outcome.detail)
    }

    #[test]
    fn record_counts_are_checked_against_both_bounds_and_say_by_how_much() {
        let parts: &[&[&str]] = &[&["a\t1", "b\t2"], &["c\t3"]];
        let within = Check::Records {
            min: Some(3),
            max: Some(3),
        };
        assert_eq!(one(within, parts, None), (true, "3 records".into()));
        let (passed, detail) = one(
            Check::Records {
                min: Some(5),
                max: None,
            },
            parts,
            None,
        );
        assert!(!passed);
        assert_eq!(detail, "3 records, 2 fewer than the minimum 5");
        let (passed, detail) = one(
            Check::Records {
                min: None,
                max: Some(1),
            },
            parts,
            None,
        );
        assert!(!passed);
        assert_eq!(detail, "3 records, 2 more than the maximum 1");
    }

    #[test]
    fn the_change_in_records_is_a_share_of_the_current_version() {
        let parts: &[&[&str]] = &[&["a", "b", "c", "d", "e", "f"]];
        let check = Check::RecordsChange { max_percent: 20.0 };
        let (passed, detail) = one(check.clone(), parts, Some(5));
        assert!(passed, "{detail}");
        assert_eq!(
            detail,
            "6 records, 20.0% more than v000003's 5 (at most 20%)"
        );
        let (passed, detail) = one(check.clone(), parts, Some(10));
        assert!(!passed);
        assert_eq!(
            detail,
            "6 records, 40.0% fewer than v000003's 10 (at most 20%)"
        );
        assert!(
            one(check.clone(), parts, None).0,
            "no version to compare with"
        );
        assert!(!one(check, parts, Some(0)).0, "from none to some");
    }

    #[test]
    fn keys_are_a_json_field_or_the_text_before_the_first_tab() {
        let lines: &[&[&str]] = &[&["a\t1", "\t2"], &["a\t3"]];
        let (passed, detail) = one(Check::NoEmptyKeys { key: None }, lines, None);
        assert!(!passed);
        assert_eq!(
            detail,
            "1 of 3 records have an empty key, the first at part-00000 line 2"
        );
        let (passed, detail) = one(Check::UniqueKeys { key: None }, lines, None);
        assert!(!passed);
        assert_eq!(
            detail,
            "1 of 3 records repeat a key, the first \"a\" at part-00001 line 1"
        );
        let json: &[&[&str]] = &[&[
            r#"{"id":1,"v":"a"}"#,
            r#"{"id":2,"v":"a"}"#,
            r#"{"id":"","v":"b"}"#,
        ]];
        let id = || Some("id".to_string());
        assert!(one(Check::UniqueKeys { key: id() }, json, None).0);
        let (passed, _) = one(
            Check::UniqueKeys {
                key: Some("v".into()),
            },
            json,
            None,
        );
        assert!(!passed);
        let (passed, detail) = one(Check::NoEmptyKeys { key: id() }, json, None);
        assert!(!passed, "{detail}");
        let (passed, detail) = one(
            Check::NoEmptyKeys {
                key: Some("x".into()),
            },
            json,
            None,
        );
        assert!(!passed, "a missing field is an empty key: {detail}");
        assert!(detail.starts_with("3 of 3"), "{detail}");
    }

    #[test]
    fn the_null_share_counts_null_and_missing_fields() {
        let json: &[&[&str]] = &[&[
            r#"{"c":"x"}"#,
            r#"{"c":null}"#,
            r#"{"d":1}"#,
            r#"{"c":"y"}"#,
        ]];
        let check = |max| Check::NullShare {
            field: "c".into(),
            max,
        };
        let (passed, detail) = one(check(0.5), json, None);
        assert!(passed, "{detail}");
        assert_eq!(
            detail,
            "2 of 4 records (50.00%) have c null or missing (at most 50.00%)"
        );
        assert!(!one(check(0.49), json, None).0);
        let (passed, detail) = one(check(0.9), &[&["not json"]], None);
        assert!(!passed);
        assert!(
            detail.contains("not JSON objects count as null, the first at part-00000 line 1"),
            "{detail}"
        );
    }

    #[test]
    fn every_check_gets_one_outcome_in_order() {
        let checks = [
            Check::UniqueKeys { key: None },
            Check::Records {
                min: Some(1),
                max: None,
            },
            Check::NoEmptyKeys { key: None },
        ];
        let outcomes = run(&checks, &[&["a\t1", "b\t2"]], None);
        let names: Vec<&str> = outcomes.iter().map(|o| o.check.as_str()).collect();
        assert_eq!(names, ["unique-keys", "records 1..", "no-empty-keys"]);
        assert!(outcomes.iter().all(|o| o.passed), "{outcomes:?}");
    }

    #[test]
    fn checks_parse_from_a_pipeline_file_s_tables_and_bad_bounds_are_refused() {
        let check: Check =
            serde_json::from_str(r#"{"check":"null-share","field":"c","max":0.1}"#).unwrap();
        assert_eq!(
            check,
            Check::NullShare {
                field: "c".into(),
                max: 0.1
            }
        );
        assert!(serde_json::from_str::<Check>(r#"{"check":"records","mni":1}"#).is_err());
        let bad = Check::Records {
            min: Some(5),
            max: Some(1),
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("min 5 is larger than max 1")
        );
        let bad = Check::NullShare {
            field: "c".into(),
            max: 5.0,
        };
        assert!(bad.validate().unwrap_err().contains("share from 0 to 1"));
        assert!(
            Check::RecordsChange {
                max_percent: f64::NAN
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn a_check_plugin_writes_exactly_one_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let check = Check::Plugin {
            plugin: "c.wasm".into(),
            params: BTreeMap::new(),
            name: None,
        };
        let write = |text: &str| {
            let path = dir.path().join("part-00000");
            std::fs::write(&path, text).unwrap();
            vec![path]
        };
        let verdict = read_verdict(&check, &write("{\"pass\":false,\"reason\":\"r\"}\n")).unwrap();
        assert_eq!(
            verdict,
            Verdict {
                pass: false,
                reason: "r".into()
            }
        );
        for (text, want) in [
            ("", "it wrote no record"),
            ("{\"pass\":true}\n{\"pass\":true}\n", "it wrote 2 records"),
            ("yes\n", "is not a verdict"),
        ] {
            let err = read_verdict(&check, &write(text)).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
            assert!(err.contains("exactly one record"), "{err}");
        }
    }
}
