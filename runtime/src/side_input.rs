//! Side inputs (`--side-input NAME=PATH`): small datasets every map, combine and reduce call of
//! a job may read whole, as a broadcast join's lookup table.
//!
//! ```text
//! --side-input products=products/
//!   └─ resolve ─► SideInputFiles { name, files } (the files, as `--input` finds them)
//!        └─ load ─► SideInputs: each input's lines in batches of about 1 MiB, in memory,
//!                   shared by every task of the job (`Arc`), bounded in total
//!             └─ batch(name, i) ─► what the guest's `side-input(name, i)` returns
//! ```
//!
//! A side input is read once per job run, not per task: the plugin asks for batch after batch
//! by index, so a batch can be handed out again (to every task, and to the same task twice)
//! without the host keeping a cursor per instance. The files are fixed when the job is
//! planned (their sizes and modification times are part of its fingerprint); reading one that
//! changed since fails, as an `--input` file does.

use crate::batch::Flat;
use crate::error::Error;
use crate::input::{
    BatchLimits, FileRange, InputError, InputFile, InputFormat, InputSplit, RecordBatch, SplitId,
    SplitReader, resolve_inputs,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The default of `--max-side-input-bytes`: the bytes of records all side inputs of a job may
/// hold in memory together.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// About how many bytes of records one batch holds (a batch always holds at least one
/// record, and never splits one).
pub const BATCH_BYTES: usize = 1 << 20;

/// One `--side-input NAME=PATH` argument.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SideInputArg {
    /// The name the plugin asks for.
    pub name: String,
    /// A file, directory, glob or dataset, read as `--input` is.
    pub path: PathBuf,
}

impl std::str::FromStr for SideInputArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, path) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: give the side input as NAME=PATH"))?;
        check_name(name)?;
        if path.is_empty() {
            return Err(format!("{s:?}: the side input {name:?} needs a PATH"));
        }
        Ok(SideInputArg {
            name: name.to_owned(),
            path: path.into(),
        })
    }
}

/// A side input's name: 1 to 128 bytes of ASCII letters, digits, `-`, `_` and `.`.
///
/// # Errors
/// What is wrong with it.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 128 || !name.chars().all(ok) {
        return Err(format!(
            "side input name {name:?}: use 1 to 128 ASCII letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// The files of one side input, as found when the job was planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SideInputFiles {
    /// Its name.
    pub name: String,
    /// Its files, sorted by path.
    pub files: Vec<InputFile>,
}

/// Finds the files of every side input, in the order given.
///
/// # Errors
/// A side input named twice, or one whose path yields no files.
pub fn resolve(args: &[SideInputArg]) -> Result<Vec<SideInputFiles>, Error> {
    for (i, arg) in args.iter().enumerate() {
        if args[..i].iter().any(|a| a.name == arg.name) {
            return Err(Error::Spec(format!(
                "--side-input {}: the name is given twice; give each side input one name",
                arg.name
            )));
        }
    }
    let mut found: Vec<SideInputFiles> = Vec::with_capacity(args.len());
    for arg in args {
        let files = resolve_inputs(std::slice::from_ref(&arg.path))
            .map_err(|e| side_error(&arg.name, e))?;
        found.push(SideInputFiles {
            name: arg.name.clone(),
            files,
        });
    }
    Ok(found)
}

/// One side input, loaded.
#[derive(Debug, Default)]
struct Loaded {
    batches: Vec<Flat>,
}

/// The side inputs of a job, loaded into memory; shared by all of its tasks.
#[derive(Debug, Default)]
pub struct SideInputs {
    files: Vec<SideInputFiles>,
    inputs: BTreeMap<String, Loaded>,
    bytes: u64,
}

impl SideInputs {
    /// No side inputs.
    pub fn none() -> Arc<SideInputs> {
        Arc::new(SideInputs::default())
    }

    /// Reads the side inputs' files into batches of about [`BATCH_BYTES`], holding at most
    /// `max_bytes` in all. A side input's size is the bytes of its lines, counting one line end
    /// each: for files with `\n` line ends, their (decompressed) size.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the side input that takes the total past `max_bytes`, its size
    /// and `--max-side-input-bytes`; [`Error::Input`] for a file that cannot be read or
    /// changed since it was planned.
    pub fn load(inputs: &[SideInputFiles], max_bytes: u64) -> Result<Arc<SideInputs>, Error> {
        // Refuse before reading when the sizes of the uncompressed files say so; then count
        // what is read.
        let mut total = 0u64;
        for input in inputs {
            let plain: u64 = input
                .files
                .iter()
                .filter(|f| f.compression == crate::input::Compression::None)
                .map(|f| f.len)
                .sum();
            if total.saturating_add(plain) > max_bytes {
                return Err(too_large(&input.name, plain, total, max_bytes, "is"));
            }
            total += plain;
        }
        let mut side = SideInputs {
            files: inputs.to_vec(),
            ..SideInputs::default()
        };
        for input in inputs {
            let loaded = read(input, max_bytes, side.bytes)?;
            side.bytes += loaded.1;
            side.inputs.insert(input.name.clone(), loaded.0);
        }
        Ok(Arc::new(side))
    }

    /// Whether the job has no side inputs.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The files read, side input by side input, in the order given.
    pub fn files(&self) -> &[SideInputFiles] {
        &self.files
    }

    /// The size of all side inputs: the bytes of their lines, one line end each.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Batch `batch` of the side input `name`, or `None` past its last batch.
    ///
    /// # Errors
    /// If the job has no side input `name`: a message for the plugin, naming those it has.
    pub(crate) fn batch(&self, name: &str, batch: u32) -> Result<Option<&Flat>, String> {
        let Some(input) = self.inputs.get(name) else {
            let known: Vec<&str> = self.inputs.keys().map(String::as_str).collect();
            return Err(format!(
                "the job has no side input named {name} ({}); run it with --side-input {name}=PATH",
                if known.is_empty() {
                    "it has none".to_owned()
                } else {
                    format!("it has {}", known.join(", "))
                }
            ));
        };
        Ok(usize::try_from(batch)
            .ok()
            .and_then(|i| input.batches.get(i)))
    }
}

/// The error for side input `name` of `bytes` (`is` or `is at least`) on top of `before` bytes
/// of the side inputs before it.
fn too_large(name: &str, bytes: u64, before: u64, max: u64, is: &str) -> Error {
    let others = if before > 0 {
        format!(" (with {before} bytes of the side inputs before it)")
    } else {
        String::new()
    };
    Error::Spec(format!(
        "side input {name} {is} {bytes} bytes{others}, over --max-side-input-bytes {max} (the \
         total over all side inputs, held in memory by every process that runs the job's \
         tasks); raise --max-side-input-bytes, or join it as an --input instead (a \
         reduce-side join)"
    ))
}

/// Reads one side input's files into batches, failing once `before` plus its bytes pass
/// `max_bytes`; returns it with its bytes.
fn read(input: &SideInputFiles, max_bytes: u64, before: u64) -> Result<(Loaded, u64), Error> {
    let limits = BatchLimits {
        max_bytes: BATCH_BYTES,
        max_records: usize::MAX,
        ..BatchLimits::default()
    };
    let mut loaded = Loaded::default();
    let mut bytes = 0u64;
    let mut current = Flat::default();
    let mut batch = RecordBatch::default();
    for (index, file) in input.files.iter().enumerate() {
        let split = InputSplit {
            id: SplitId(0),
            ranges: vec![FileRange {
                file: index,
                start: 0,
                end: file.len,
            }],
        };
        let mut reader = SplitReader::open(&split, &input.files, InputFormat::Lines, limits)
            .map_err(|e| side_error(&input.name, e))?;
        while reader
            .next_batch(&mut batch)
            .map_err(|e| side_error(&input.name, e))?
        {
            for record in batch.records() {
                bytes += record.len() as u64 + 1;
                if before + bytes > max_bytes {
                    return Err(too_large(
                        &input.name,
                        bytes,
                        before,
                        max_bytes,
                        "is at least",
                    ));
                }
                if !current.is_empty() && current.data.len() + record.len() > BATCH_BYTES {
                    loaded.batches.push(std::mem::take(&mut current));
                }
                current.push(record);
            }
        }
    }
    if !current.is_empty() {
        loaded.batches.push(current);
    }
    Ok((loaded, bytes))
}

/// An input error while finding or reading side input `name`.
fn side_error(name: &str, error: InputError) -> Error {
    Error::SideInput {
        name: name.to_owned(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` under a fresh directory and resolves it as side input `name`.
    fn side_input(name: &str, files: &[(&str, &[u8])]) -> (tempfile::TempDir, SideInputFiles) {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        let arg = SideInputArg {
            name: name.into(),
            path: dir.path().into(),
        };
        let mut found = resolve(&[arg]).unwrap();
        (dir, found.remove(0))
    }

    /// Every record of side input `name`, batch after batch, and the number of batches.
    fn records(side: &SideInputs, name: &str) -> (Vec<Vec<u8>>, u32) {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(batch) = side.batch(name, i).unwrap() {
            let mut start = 0;
            for &end in &batch.ends {
                out.push(batch.data[start..end as usize].to_vec());
                start = end as usize;
            }
            i += 1;
        }
        (out, i)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn records_come_in_file_order_without_line_ends_hidden_files_skipped_gzip_read() {
        let gz = gzip(b"c1\nc2\n");
        let (_dir, files) = side_input(
            "p",
            &[
                ("b.txt", b"b1\r\nb2"),
                ("a.txt", b"a1\n\na3\n"),
                ("c.txt.gz", &gz),
                ("_SUCCESS", b""),
                ("_MANIFEST.json", b"{}"),
                (".hidden", b"x\n"),
            ],
        );
        let side = SideInputs::load(&[files], DEFAULT_MAX_BYTES).unwrap();
        let (records, batches) = records(&side, "p");
        let expected: Vec<&[u8]> = vec![b"a1", b"", b"a3", b"b1", b"b2", b"c1", b"c2"];
        assert_eq!(records, expected);
        assert_eq!(batches, 1);
        assert_eq!(side.bytes(), 12 + 7, "the records and a line end each");
        // The same call returns the same batch; past the end, none.
        assert_eq!(side.batch("p", 0).unwrap(), side.batch("p", 0).unwrap());
        assert!(side.batch("p", 1).unwrap().is_none());
        assert!(side.batch("p", u32::MAX).unwrap().is_none());
    }

    #[test]
    fn batches_are_about_a_mebibyte_and_never_split_a_record() {
        let line = vec![b'x'; 1000];
        let mut text = Vec::new();
        for _ in 0..3000 {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        // One record longer than a batch gets a batch of its own.
        text.extend_from_slice(&vec![b'y'; BATCH_BYTES + 10]);
        text.push(b'\n');
        text.extend_from_slice(b"last\n");
        let (_dir, files) = side_input("big", &[("a", &text)]);
        let side = SideInputs::load(&[files], DEFAULT_MAX_BYTES).unwrap();
        let mut sizes = Vec::new();
        let mut i = 0;
        while let Some(batch) = side.batch("big", i).unwrap() {
            sizes.push((batch.data.len(), batch.len()));
            i += 1;
        }
        let per_batch = BATCH_BYTES / 1000;
        assert_eq!(
            sizes,
            [
                (per_batch * 1000, per_batch),
                (per_batch * 1000, per_batch),
                ((3000 - 2 * per_batch) * 1000, 3000 - 2 * per_batch),
                (BATCH_BYTES + 10, 1),
                (4, 1),
            ]
        );
        let (records, _) = records(&side, "big");
        assert_eq!(records.len(), 3002);
        assert!(records[..3000].iter().all(|r| *r == line));
    }

    #[test]
    fn over_the_bound_fails_naming_the_side_input_its_size_and_the_flag() {
        let (_a, small) = side_input("small", &[("a", b"1234\n")]);
        let (_b, big) = side_input("big", &[("b", b"123456789\n")]);
        let both = [small.clone(), big.clone()];
        assert_eq!(SideInputs::load(&both, 15).unwrap().bytes(), 15);
        let err = SideInputs::load(&both, 14).unwrap_err().to_string();
        assert!(
            err.contains("side input big is 10 bytes (with 5 bytes of the side inputs before it)"),
            "{err}"
        );
        assert!(err.contains("over --max-side-input-bytes 14"), "{err}");
        // A gzip file's size says nothing of its records: counted while read.
        let gz = gzip(&b"0123456789\n".repeat(100));
        let (_c, packed) = side_input("packed", &[("c.gz", &gz)]);
        let err = SideInputs::load(&[packed], 500).unwrap_err().to_string();
        assert!(
            err.contains(
                "side input packed is at least 506 bytes, over --max-side-input-bytes 500"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_name_is_refused_naming_those_there_are() {
        let (_a, files) = side_input("products", &[("a", b"x\n")]);
        let side = SideInputs::load(&[files], DEFAULT_MAX_BYTES).unwrap();
        let err = side.batch("users", 0).unwrap_err();
        assert!(
            err.contains("no side input named users (it has products)"),
            "{err}"
        );
        assert!(err.contains("--side-input users=PATH"), "{err}");
        let err = SideInputs::none().batch("users", 0).unwrap_err();
        assert!(err.contains("(it has none)"), "{err}");
    }

    #[test]
    fn arguments_parse_and_bad_ones_say_what_to_write() {
        let arg: SideInputArg = "products=data/p.jsonl".parse().unwrap();
        assert_eq!(arg.name, "products");
        assert_eq!(arg.path, PathBuf::from("data/p.jsonl"));
        let a: SideInputArg = "a=b=c".parse().unwrap();
        assert_eq!(a.path, PathBuf::from("b=c"));
        for (bad, says) in [
            ("products", "NAME=PATH"),
            ("=x", "side input name"),
            ("a b=x", "side input name"),
            ("p=", "needs a PATH"),
        ] {
            let err = bad.parse::<SideInputArg>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let twice = [arg.clone(), arg];
        let err = resolve(&twice).unwrap_err().to_string();
        assert!(err.contains("given twice"), "{err}");
    }

    #[test]
    fn a_file_changed_since_it_was_planned_fails_the_load() {
        let (dir, files) = side_input("p", &[("a", b"one\n")]);
        std::fs::write(dir.path().join("a"), b"one\ntwo\n").unwrap();
        let err = SideInputs::load(&[files], DEFAULT_MAX_BYTES)
            .unwrap_err()
            .to_string();
        assert!(err.contains("side input p"), "{err}");
    }
}
