//! The three example jobs in plain Rust, written the way a user would write them by hand to be
//! fast: the baseline Sandmill is measured against.
//!
//! ```text
//! input files (directories walked like Sandmill: names starting with . or _ skipped)
//!   │ plan: chunks of about 4 MiB, cut at line starts (a chunk owns the lines that start in it)
//!   ▼
//! rayon pool of --threads: each chunk read with pread into its thread's buffer,
//!   │ tokenised or parsed (serde_json borrowing &str), folded into that thread's HashMap
//!   ▼
//! merge the per-thread maps into the largest one
//!   │ sort by key (in parallel), format lines (in parallel)
//!   ▼
//! output/part-00000 (sorted), then output/_SUCCESS
//! ```
//!
//! The jobs follow the plugins' rules exactly (see the plugins' `src/lib.rs` and
//! `sdk/src/text.rs`): lines are split on `\n` with one trailing `\r` removed; JSON Lines and CSV
//! skip blank lines; CSV's first line in each file is its header; tokens are the input with
//! ASCII `A`-`Z` lowercased, split on every byte that is not `[a-z0-9]`. One simplification: a CSV
//! row with more or fewer fields than its header is not rejected here, as the plugin would.

use crate::output::{push_i64, push_u64};
use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde::Deserialize;
use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The size of the chunks the input is cut into, one rayon task each.
pub const DEFAULT_CHUNK_SIZE: u64 = 4 << 20;

/// One of the example jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// `word\tcount` for every token of every line.
    WordCount,
    /// `term\tid,id,...` over the `text` of JSON Lines documents.
    InvertedIndex,
    /// `user_id\tcount\tsum_cents` over events (JSON Lines or CSV).
    RevenueByUser,
}

impl Job {
    /// Every job, in report order.
    pub const ALL: [Job; 3] = [Job::WordCount, Job::InvertedIndex, Job::RevenueByUser];

    /// The plugin's name (`wordcount`, `inverted-index`, `revenue-by-user`).
    pub fn name(self) -> &'static str {
        match self {
            Job::WordCount => "wordcount",
            Job::InvertedIndex => "inverted-index",
            Job::RevenueByUser => "revenue-by-user",
        }
    }

    /// The job named `name`, if any.
    pub fn from_name(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == name)
    }
}

/// How records are cut from the input, as `sandmill run --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One record per line.
    Lines,
    /// One JSON document per line; blank lines skipped.
    Jsonl,
    /// CSV with a header line in each file; blank lines skipped.
    Csv,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Lines => "lines",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    /// The format named `name`, if any.
    pub fn from_name(name: &str) -> Option<Format> {
        [Format::Lines, Format::Jsonl, Format::Csv]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The job.
    pub job: Job,
    /// How records are cut from the input.
    pub format: Format,
    /// Input files and directories.
    pub inputs: Vec<PathBuf>,
    /// The output directory; it must not exist unless `overwrite`.
    pub output: PathBuf,
    /// Replace `output` if it exists.
    pub overwrite: bool,
    /// Worker threads.
    pub threads: usize,
    /// Chunk size in bytes (one task each).
    pub chunk_size: u64,
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Input files read.
    pub files: usize,
    /// Input bytes.
    pub bytes: u64,
    /// Output lines written.
    pub lines: u64,
}

/// Runs a job and writes `output/part-00000` (sorted) and `output/_SUCCESS`.
///
/// # Errors
/// If the job does not support the format, an input cannot be read or parsed, or the output
/// cannot be written.
pub fn run(options: &Options) -> Result<Summary> {
    match (options.job, options.format) {
        (Job::WordCount, _) => run_job::<WordCounts>(options),
        (Job::InvertedIndex, Format::Jsonl) => run_job::<Postings>(options),
        (Job::RevenueByUser, Format::Jsonl | Format::Csv) => run_job::<Revenue>(options),
        (job, format) => bail!("{} does not read --format {}", job.name(), format.name()),
    }
}

/// Expands inputs into files sorted by path: files as given, directories walked recursively,
/// skipping files and directories whose names start with `.` or `_` (as Sandmill does).
///
/// # Errors
/// If an input does not exist or a directory cannot be read.
pub fn resolve_inputs(inputs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(['.', '_']) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&entry.path(), files)?;
            } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
                files.push(entry.path());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for input in inputs {
        if fs::metadata(input)?.is_dir() {
            walk(input, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Maps each byte to itself lowercased if it is `[A-Za-z0-9]`, and every other byte to 0.
static WORD_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = (b as u8).to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            table[b] = c;
        }
        b += 1;
    }
    table
};

/// Lowercases `text` in place and turns every byte that cannot be part of a token into 0, so
/// that the tokens are the non-empty runs between zeros (see [`zero_separated`]).
pub fn mark_tokens(text: &mut [u8]) {
    for b in text {
        *b = WORD_BYTE[usize::from(*b)];
    }
}

/// The non-empty runs of non-zero bytes in `marked`.
pub fn zero_separated(marked: &[u8]) -> impl Iterator<Item = &[u8]> {
    marked.split(|&b| b == 0).filter(|t| !t.is_empty())
}

/// The example jobs' tokeniser on a copy of `text` in `buf`: ASCII `A`-`Z` lowercased, then
/// split on every byte that is not `[a-z0-9]`, empty tokens dropped.
pub fn tokens<'b>(text: &[u8], buf: &'b mut Vec<u8>) -> impl Iterator<Item = &'b [u8]> {
    buf.clear();
    buf.extend(text.iter().map(|&b| WORD_BYTE[usize::from(b)]));
    zero_separated(buf)
}

/// One input file, opened once and shared by the tasks that read its chunks.
struct Input {
    path: PathBuf,
    file: File,
    len: u64,
    /// For CSV: the columns of `user_id` and `amount_cents` (if present) from the header.
    csv_columns: Option<CsvColumns>,
}

#[derive(Debug, Clone, Copy)]
struct CsvColumns {
    user_id: Option<usize>,
    amount_cents: Option<usize>,
}

/// One task: the lines that start in `start..end` of input `input`.
struct Chunk {
    input: usize,
    start: u64,
    end: u64,
}

/// Where a chunk's bytes came from, for error messages and format rules.
struct ChunkContext<'a> {
    path: &'a Path,
    /// The file offset of the chunk's first byte.
    offset: u64,
    format: Format,
    csv_columns: Option<CsvColumns>,
}

impl ChunkContext<'_> {
    fn at(&self, position: usize) -> String {
        format!(
            "{} (line starting at byte {})",
            self.path.display(),
            self.offset + position as u64
        )
    }
}

/// A job's per-thread state: folds chunks into its map, merges with another thread's, and
/// writes the result.
trait Accumulator: Default + Send {
    /// Folds in the lines of one chunk. `data` may be modified (it is the thread's read buffer).
    fn chunk(&mut self, data: &mut [u8], cx: &ChunkContext<'_>) -> Result<()>;
    /// Adds `other`'s results to `self`.
    fn merge(&mut self, other: Self);
    /// How many keys there are, to pick the largest map to merge into.
    fn keys(&self) -> usize;
    /// Sorts the results and formats them as blocks of output lines, in parallel.
    fn into_blocks(self) -> Vec<Vec<u8>>;
}

/// Lines per formatting task.
const BLOCK: usize = 1 << 14;

fn run_job<A: Accumulator>(options: &Options) -> Result<Summary> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()?;
    let paths = resolve_inputs(&options.inputs).context("reading the inputs")?;
    if paths.is_empty() {
        bail!("no input files in {:?}", options.inputs);
    }
    let mut inputs = Vec::with_capacity(paths.len());
    let mut chunks = Vec::new();
    for path in paths {
        let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata()?.len();
        let csv_columns = match options.format {
            Format::Csv => {
                Some(csv_header(&file, len).with_context(|| path.display().to_string())?)
            }
            _ => None,
        };
        let mut start = 0;
        while start < len {
            let end = (start + options.chunk_size.max(1)).min(len);
            chunks.push(Chunk {
                input: inputs.len(),
                start,
                end,
            });
            start = end;
        }
        inputs.push(Input {
            path,
            file,
            len,
            csv_columns,
        });
    }

    // One accumulator and read buffer per pool thread; a task locks its own thread's, so the
    // locks are never contended.
    let workers: Vec<Mutex<(A, Vec<u8>)>> = (0..pool.current_num_threads())
        .map(|_| Mutex::new((A::default(), Vec::new())))
        .collect();
    pool.install(|| {
        chunks.par_iter().with_max_len(1).try_for_each(|chunk| {
            let me = rayon::current_thread_index().expect("running in the pool");
            let mut worker = workers[me].lock().expect("a failed task stops the job");
            let (acc, buf) = &mut *worker;
            let input = &inputs[chunk.input];
            let first = read_lines_in(&input.file, input.len, chunk.start, chunk.end, buf)
                .with_context(|| format!("reading {}", input.path.display()))?;
            let cx = ChunkContext {
                path: &input.path,
                offset: chunk.start.saturating_sub(1) + first as u64,
                format: options.format,
                csv_columns: input.csv_columns,
            };
            let data = &mut buf[first..];
            // CSV: the file's first line is its header, not a record.
            let data = match options.format {
                Format::Csv if chunk.start == 0 => {
                    let header = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
                    &mut data[header..]
                }
                _ => data,
            };
            acc.chunk(data, &cx)
        })
    })?;

    let mut accs: Vec<A> = workers
        .into_iter()
        .map(|w| w.into_inner().expect("not poisoned").0)
        .collect();
    accs.sort_by_key(|a| std::cmp::Reverse(a.keys()));
    let mut accs = accs.into_iter();
    let mut total = accs.next().unwrap_or_default();
    for acc in accs {
        total.merge(acc);
    }
    let blocks = pool.install(|| total.into_blocks());

    let output = &options.output;
    if options.overwrite && output.exists() {
        fs::remove_dir_all(output).with_context(|| format!("removing {}", output.display()))?;
    }
    fs::create_dir(output).with_context(|| format!("creating {}", output.display()))?;
    let part = output.join("part-00000");
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&part)?);
    let mut lines = 0;
    for block in &blocks {
        lines += memchr::memchr_iter(b'\n', block).count() as u64;
        out.write_all(block)?;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    File::create(output.join("_SUCCESS"))?;
    Ok(Summary {
        files: inputs.len(),
        bytes: inputs.iter().map(|i| i.len).sum(),
        lines,
    })
}

/// Reads into `buf` the lines that start in `start..end` of `file` (of length `len`), line ends
/// included, and returns where in `buf` the first of them starts (`buf` is empty if none does).
/// A line starts at 0 and after every `\n`; the last line read runs on past `end` to its `\n` or
/// the end of the file. This is the rule Sandmill's splits follow.
fn read_lines_in(
    file: &File,
    len: u64,
    start: u64,
    end: u64,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    // Read one byte before `start`: if it is `\n`, a line starts exactly at `start`.
    let from = start.saturating_sub(1);
    buf.clear();
    buf.resize((end - from) as usize, 0);
    file.read_exact_at(buf, from)?;
    let first = if start == 0 {
        0
    } else {
        match memchr::memchr(b'\n', buf) {
            Some(i) => i + 1,
            None => buf.len(),
        }
    };
    if first == buf.len() {
        buf.clear();
        return Ok(0);
    }
    let mut pos = end;
    while pos < len && buf.last() != Some(&b'\n') {
        let n = (len - pos).min(64 << 10) as usize;
        let old = buf.len();
        buf.resize(old + n, 0);
        file.read_exact_at(&mut buf[old..], pos)?;
        pos += n as u64;
        if let Some(i) = memchr::memchr(b'\n', &buf[old..]) {
            buf.truncate(old + i + 1);
        }
    }
    Ok(first)
}

/// Calls `f(position, line)` for every line of `data`, without its `\n` and one trailing `\r`.
fn for_each_line(data: &[u8], mut f: impl FnMut(usize, &[u8]) -> Result<()>) -> Result<()> {
    let strip = |line: &'_ [u8]| -> usize { line.len() - usize::from(line.ends_with(b"\r")) };
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', data) {
        let line = &data[start..end];
        f(start, &line[..strip(line)])?;
        start = end + 1;
    }
    if start < data.len() {
        let line = &data[start..];
        f(start, &line[..strip(line)])?;
    }
    Ok(())
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

type Map<K, V> = foldhash::HashMap<K, V>;

/// `wordcount`: a count per token.
#[derive(Default)]
struct WordCounts {
    counts: Map<Box<[u8]>, u64>,
}

impl Accumulator for WordCounts {
    fn chunk(&mut self, data: &mut [u8], cx: &ChunkContext<'_>) -> Result<()> {
        // `\n` and `\r` separate tokens anyway, and blank lines (skipped by JSON Lines and
        // CSV) hold none, so the whole chunk is tokenised at once, whatever the format.
        let _ = cx;
        mark_tokens(data);
        for word in zero_separated(data) {
            match self.counts.get_mut(word) {
                Some(n) => *n += 1,
                None => {
                    self.counts.insert(word.into(), 1);
                }
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        for (word, n) in other.counts {
            *self.counts.entry(word).or_default() += n;
        }
    }

    fn keys(&self) -> usize {
        self.counts.len()
    }

    fn into_blocks(self) -> Vec<Vec<u8>> {
        let mut counts: Vec<(Box<[u8]>, u64)> = self.counts.into_iter().collect();
        counts.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        counts
            .par_chunks(BLOCK)
            .map(|block| {
                let mut out = Vec::with_capacity(block.len() * 16);
                for (word, n) in block {
                    out.extend_from_slice(word);
                    out.push(b'\t');
                    push_u64(&mut out, *n);
                    out.push(b'\n');
                }
                out
            })
            .collect()
    }
}

/// `inverted-index`: the documents each term occurs in.
#[derive(Default)]
struct Postings {
    ids: Map<Box<[u8]>, Vec<i64>>,
    /// Scratch: the lowercased text of one document, and its tokens as ranges.
    text: Vec<u8>,
    terms: Vec<(u32, u32)>,
}

#[derive(Deserialize)]
struct Document<'a> {
    doc_id: i64,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

impl Accumulator for Postings {
    fn chunk(&mut self, data: &mut [u8], cx: &ChunkContext<'_>) -> Result<()> {
        let Postings { ids, text, terms } = self;
        for_each_line(data, |at, line| {
            if is_blank(line) {
                return Ok(());
            }
            let doc: Document<'_> = serde_json::from_slice(line).with_context(|| cx.at(at))?;
            text.clear();
            text.extend_from_slice(doc.text.as_bytes());
            mark_tokens(text);
            // Each document once per term: sort its tokens and drop repeats.
            terms.clear();
            let mut start = 0;
            for (i, &b) in text.iter().chain(&[0]).enumerate() {
                if b == 0 {
                    if i > start {
                        terms.push((start as u32, i as u32));
                    }
                    start = i + 1;
                }
            }
            let term = |r: &(u32, u32)| &text[r.0 as usize..r.1 as usize];
            terms.sort_unstable_by(|a, b| term(a).cmp(term(b)));
            terms.dedup_by(|a, b| term(a) == term(b));
            for r in terms.iter() {
                match ids.get_mut(term(r)) {
                    Some(list) => list.push(doc.doc_id),
                    None => {
                        ids.insert(term(r).into(), vec![doc.doc_id]);
                    }
                }
            }
            Ok(())
        })
    }

    fn merge(&mut self, other: Self) {
        for (term, list) in other.ids {
            self.ids.entry(term).or_default().extend(list);
        }
    }

    fn keys(&self) -> usize {
        self.ids.len()
    }

    fn into_blocks(self) -> Vec<Vec<u8>> {
        let mut ids: Vec<(Box<[u8]>, Vec<i64>)> = self.ids.into_iter().collect();
        ids.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        ids.par_chunks_mut(BLOCK)
            .map(|block| {
                let mut out = Vec::new();
                for (term, list) in block {
                    // Chunks ran in any order: sort, and a document repeated in the input
                    // still counts once.
                    list.sort_unstable();
                    list.dedup();
                    out.extend_from_slice(term);
                    out.push(b'\t');
                    for (i, &id) in list.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        push_i64(&mut out, id);
                    }
                    out.push(b'\n');
                }
                out
            })
            .collect()
    }
}

/// `revenue-by-user`: per user, (events, sum of `amount_cents`).
#[derive(Default)]
struct Revenue {
    users: Map<i64, [i64; 2]>,
}

#[derive(Deserialize)]
struct Event {
    user_id: i64,
    amount_cents: i64,
}

impl Accumulator for Revenue {
    fn chunk(&mut self, data: &mut [u8], cx: &ChunkContext<'_>) -> Result<()> {
        let users = &mut self.users;
        for_each_line(data, |at, line| {
            if is_blank(line) {
                return Ok(());
            }
            let (user, amount) = match (cx.format, cx.csv_columns) {
                (Format::Csv, Some(columns)) => {
                    let (Some(u), Some(a)) = (columns.user_id, columns.amount_cents) else {
                        bail!(
                            "{}: the CSV header has no user_id or amount_cents",
                            cx.at(0)
                        );
                    };
                    let user = csv_i64(line, u).with_context(|| cx.at(at))?;
                    let amount = csv_i64(line, a).with_context(|| cx.at(at))?;
                    (user, amount)
                }
                _ => {
                    let e: Event = serde_json::from_slice(line).with_context(|| cx.at(at))?;
                    (e.user_id, e.amount_cents)
                }
            };
            let sums = users.entry(user).or_default();
            sums[0] += 1;
            sums[1] += amount;
            Ok(())
        })
    }

    fn merge(&mut self, other: Self) {
        for (user, [count, sum]) in other.users {
            let sums = self.users.entry(user).or_default();
            sums[0] += count;
            sums[1] += sum;
        }
    }

    fn keys(&self) -> usize {
        self.users.len()
    }

    fn into_blocks(self) -> Vec<Vec<u8>> {
        let mut users: Vec<(i64, [i64; 2])> = self.users.into_iter().collect();
        users.par_sort_unstable_by_key(|u| u.0);
        users
            .par_chunks(BLOCK)
            .map(|block| {
                let mut out = Vec::with_capacity(block.len() * 24);
                for &(user, [count, sum]) in block {
                    push_i64(&mut out, user);
                    out.push(b'\t');
                    push_i64(&mut out, count);
                    out.push(b'\t');
                    push_i64(&mut out, sum);
                    out.push(b'\n');
                }
                out
            })
            .collect()
    }
}

/// Reads a CSV file's header line and finds the columns the revenue job needs.
fn csv_header(file: &File, len: u64) -> Result<CsvColumns> {
    let mut buf = Vec::new();
    let first = read_lines_in(file, len, 0, len.min(1), &mut buf)?;
    let line = &buf[first..];
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut names = Vec::new();
    let mut rest = Some(line);
    while let Some(r) = rest {
        let (name, next) = csv_field(r);
        names.push(name.into_owned());
        rest = next;
    }
    let column = |want: &[u8]| names.iter().position(|n| n == want);
    Ok(CsvColumns {
        user_id: column(b"user_id"),
        amount_cents: column(b"amount_cents"),
    })
}

/// The first field of `line` (RFC 4180: a field starting with `"` runs to the next lone `"`,
/// `""` standing for `"`), and what follows its comma, if there is one. Only quoted fields
/// (rare) are copied.
fn csv_field(line: &[u8]) -> (Cow<'_, [u8]>, Option<&[u8]>) {
    if line.first() != Some(&b'"') {
        return match memchr::memchr(b',', line) {
            Some(i) => (Cow::Borrowed(&line[..i]), Some(&line[i + 1..])),
            None => (Cow::Borrowed(line), None),
        };
    }
    let mut field = Vec::new();
    let mut i = 1;
    let mut quoted = true;
    while i < line.len() {
        let b = line[i];
        match (quoted, b) {
            (true, b'"') if line.get(i + 1) == Some(&b'"') => {
                field.push(b'"');
                i += 1;
            }
            (true, b'"') => quoted = false,
            (false, b',') => return (Cow::Owned(field), Some(&line[i + 1..])),
            _ => field.push(b),
        }
        i += 1;
    }
    (Cow::Owned(field), None)
}

/// Field `column` of a CSV row as an integer (surrounding whitespace allowed, as the SDK does).
fn csv_i64(line: &[u8], column: usize) -> Result<i64> {
    let mut rest = Some(line);
    for i in 0.. {
        let Some(r) = rest else {
            bail!("the row has no column {}", column + 1);
        };
        if i == column {
            let (field, _) = csv_field(r);
            let text = std::str::from_utf8(&field)?;
            return text
                .trim()
                .parse()
                .with_context(|| format!("{text:?} is not an integer"));
        }
        // Skip a field without copying it when it is not quoted (the common case).
        rest = match r.first() {
            Some(b'"') => csv_field(r).1,
            _ => memchr::memchr(b',', r).map(|i| &r[i + 1..]),
        };
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &[u8]) -> Vec<String> {
        let mut buf = Vec::new();
        tokens(text, &mut buf)
            .map(|t| String::from_utf8(t.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn tokens_follow_the_example_job_rules() {
        // The cases of sdk/src/text.rs, plus some.
        let cases: &[(&[u8], &[&str])] = &[
            (b"", &[]),
            (b"   ", &[]),
            (b"Hello, World!", &["hello", "world"]),
            (b"Don't", &["don", "t"]),
            (b"a1b2 C3", &["a1b2", "c3"]),
            (b"tab\tsep\r", &["tab", "sep"]),
            ("caf\u{e9} \u{c9}T\u{c9}".as_bytes(), &["caf", "t"]),
            (b"__x__", &["x"]),
            (b"\0a\0\xffZ9\n", &["a", "z9"]),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{",
                &["abcdefghijklmnopqrstuvwxyz"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(toks(text), *want, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn chunks_own_the_lines_that_start_in_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let text = b"ab\ncd\r\n\nefg\nh";
        fs::write(&path, text).unwrap();
        let file = File::open(&path).unwrap();
        let len = text.len() as u64;
        // Every way of cutting the file into two or three chunks gives back every line once.
        for a in 0..=len {
            for b in a..=len {
                let mut all = Vec::new();
                let mut buf = Vec::new();
                for (start, end) in [(0, a), (a, b), (b, len)] {
                    if start == end {
                        continue;
                    }
                    let first = read_lines_in(&file, len, start, end, &mut buf).unwrap();
                    all.extend_from_slice(&buf[first..]);
                }
                assert_eq!(all, text, "cut at {a}, {b}");
            }
        }
    }

    #[test]
    fn lines_lose_one_trailing_cr() {
        let mut lines = Vec::new();
        for_each_line(b"a\r\r\n\n\rb\r", |at, l| {
            lines.push((at, l.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            lines,
            [
                (0, b"a\r".to_vec()),
                (4, b"".to_vec()),
                (5, b"\rb".to_vec())
            ]
        );
    }

    #[test]
    fn csv_fields_honour_quotes() {
        let row = br#"1,"x,""y""",  -3 ,"4""#;
        let got: Vec<i64> = [0, 2, 3]
            .iter()
            .map(|&c| csv_i64(row, c).unwrap())
            .collect();
        assert_eq!(got, [1, -3, 4]);
        let (field, rest) = csv_field(br#""x,""y""",z"#);
        assert_eq!((&*field, rest), (&br#"x,"y""#[..], Some(&b"z"[..])));
        assert!(csv_i64(row, 1).is_err());
        assert!(csv_i64(row, 4).is_err());
    }

    /// Runs `job` on files with the given contents (written into one input directory, plus a
    /// hidden file and an `_` directory that must be skipped) and returns the output.
    fn run_on(job: Job, format: Format, files: &[&str], chunk_size: u64) -> String {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        fs::create_dir_all(input.join("_skipped")).unwrap();
        fs::write(input.join(".hidden"), "Hidden hidden\n").unwrap();
        fs::write(input.join("_skipped/x"), "Hidden hidden\n").unwrap();
        for (i, contents) in files.iter().enumerate() {
            fs::write(input.join(format!("f{i}")), contents).unwrap();
        }
        let output = dir.path().join("out");
        let summary = run(&Options {
            job,
            format,
            inputs: vec![input],
            output: output.clone(),
            overwrite: false,
            threads: 2,
            chunk_size,
        })
        .unwrap();
        assert_eq!(summary.files, files.len());
        assert!(output.join("_SUCCESS").exists());
        fs::read_to_string(output.join("part-00000")).unwrap()
    }

    // The hand-computed cases of the plugins' own tests and tests/src/reference.rs, run with
    // chunks small enough that lines fall across chunk boundaries.

    #[test]
    fn wordcount_by_hand() {
        for chunk in [1, 3, 7, DEFAULT_CHUNK_SIZE] {
            let out = run_on(
                Job::WordCount,
                Format::Lines,
                &["Don't stop\r\nDON'T, don't!\n\nx1 x1\tX1", "stop"],
                chunk,
            );
            assert_eq!(out, "don\t3\nstop\t2\nt\t3\nx1\t3\n", "chunk {chunk}");
        }
    }

    #[test]
    fn inverted_index_by_hand() {
        let a = "{\"doc_id\": 10, \"text\": \"b a\"}\n  \n";
        let b = concat!(
            r#"{"text": "A a \"quoted\"", "doc_id": 9}"#,
            "\r\n",
            r#"{"doc_id": -1, "text": "b\nb"}"#,
            "\n",
            r#"{"doc_id": 10, "text": "c \u00e9\u0041"}"#,
            "\n",
            r#"{"doc_id": 100, "text": "a"}"#,
        );
        for chunk in [1, 5, 17, DEFAULT_CHUNK_SIZE] {
            let out = run_on(Job::InvertedIndex, Format::Jsonl, &[a, b], chunk);
            assert_eq!(
                out, "a\t9,10,100\nb\t-1,10\nc\t10\nquoted\t9\n",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn revenue_by_user_by_hand_in_both_formats() {
        let json = concat!(
            r#"{"user_id":10,"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":100}"#,
            "\n\n",
            r#"{"user_id":2,"ts":"2026-03-22T10:00:01Z","event":"refund","amount_cents":-30}"#,
            "\n",
            r#"{"user_id":10,"ts":"2026-03-22T10:00:02Z","event":"buy","amount_cents":50}"#,
            "\n",
            r#"{"user_id":-4,"ts":"2026-03-22T10:00:03Z","event":"view","amount_cents":0}"#,
        );
        let csv = concat!(
            "user_id,ts,event,amount_cents\r\n",
            "10,2026-03-22T10:00:00Z,buy,100\r\n",
            "2,2026-03-22T10:00:01Z,refund,-30\r\n",
            " \r\n",
            "10,2026-03-22T10:00:02Z,\"buy, again\",50\r\n",
            "-4,2026-03-22T10:00:03Z,view,\"0\"\r\n",
        );
        let reordered = "amount_cents,user_id\n7,2\n";
        let want = "-4\t1\t0\n2\t1\t-30\n10\t2\t150\n";
        for chunk in [1, 9, DEFAULT_CHUNK_SIZE] {
            let out = run_on(Job::RevenueByUser, Format::Jsonl, &[json], chunk);
            assert_eq!(out, want, "chunk {chunk}");
            let out = run_on(Job::RevenueByUser, Format::Csv, &[csv], chunk);
            assert_eq!(out, want, "chunk {chunk}");
        }
        let out = run_on(Job::RevenueByUser, Format::Csv, &[csv, reordered], 4);
        assert_eq!(out, "-4\t1\t0\n2\t2\t-23\n10\t2\t150\n");
    }

    #[test]
    fn bad_input_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("bad.jsonl"), "{\"doc_id\": 1}\n").unwrap();
        let err = run(&Options {
            job: Job::InvertedIndex,
            format: Format::Jsonl,
            inputs: vec![dir.path().to_owned()],
            output: dir.path().join("out"),
            overwrite: false,
            threads: 1,
            chunk_size: DEFAULT_CHUNK_SIZE,
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("bad.jsonl"), "{err:#}");
    }
}
