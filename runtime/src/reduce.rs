//! One reduce task attempt: merge the partition's runs, hand key groups to the plugin in
//! bounded batches, and write what it returns as the partition's `part-NNNNN` file, at the top
//! level of the output and in each output partition (`date=2026-03-22/part-NNNNN`) it routes
//! records to. What it writes is bounded ([`OutputLimits`]), and so are the files it holds open
//! and their buffers, however many partitions the plugin routes to.

use crate::batch::{GroupBatch, OutputBatch};
use crate::commit::JobCommitter;
use crate::error::{FailureSite, Limit, TaskError};
use crate::map::{TaskCounts, batch_site, group_error, show_key, task_error};
use crate::plugin::{AttemptLog, Plugin};
use crate::quota::{JobOutput, OutputLimits};
use crate::shuffle::{GroupBatcher, Merger, RunSource};
use crate::task::{PartitionId, TaskId};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What every reduce task of a job shares.
#[derive(Debug)]
pub struct ReduceContext<'a> {
    /// The compiled plugin.
    pub plugin: &'a Plugin,
    /// The job's parameters.
    pub params: &'a [(String, String)],
    /// Where output goes.
    pub committer: &'a JobCommitter,
    /// Bytes per batch of groups.
    pub group_batch_bytes: usize,
    /// What a reduce task may write.
    pub limits: OutputLimits,
    /// What all reduce tasks wrote, against the job-wide limits.
    pub output: &'a JobOutput,
}

/// One output file a reduce task wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartFile {
    /// Its path relative to the output: `part-00003` or `date=2026-03-22/part-00003`.
    pub name: String,
    /// The records (lines) in it.
    pub records: u64,
}

/// The result of a reduce task.
#[derive(Debug)]
pub struct ReduceOutput {
    /// The task.
    pub task: TaskId,
    /// Its counts.
    pub counts: TaskCounts,
    /// The files it committed, sorted by name.
    pub files: Vec<PartFile>,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
}

/// The output file name of `partition`.
pub fn part_name(partition: PartitionId) -> String {
    format!("part-{:05}", partition.0)
}

/// Runs one attempt of the reduce task over the runs of `partition` (one per map task) and
/// writes its part files into the attempt's directory, committing nothing: returns that
/// directory and what it wrote. `verifying` marks the second run of `--verify`, whose output
/// does not count against the job's limits.
///
/// # Errors
/// The plugin's failure (naming the key), or an I/O error writing a part file.
pub fn run_reduce(
    ctx: &ReduceContext<'_>,
    partition: PartitionId,
    runs: &[RunSource],
    attempt: u32,
    verifying: bool,
) -> Result<(PathBuf, ReduceOutput), TaskError> {
    let task = TaskId::Reduce(partition);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TaskError::Io { task, path, source }
    };
    let dir = ctx
        .committer
        .attempt_dir(task, attempt)
        .map_err(io_error(&ctx.committer.version_dir()))?;
    let mut parts = Parts {
        dir: &dir,
        name: part_name(partition),
        parts: Vec::new(),
        top: None,
        named: BTreeMap::new(),
        open: 0,
        clock: 0,
        limits: ctx.limits,
    };
    if !verifying {
        // A rerun for --verify writes nothing that is kept, so it does not count.
        ctx.output.start_attempt(partition);
    }

    let (mut instance, _) = ctx
        .plugin
        .instantiate(task, ctx.params)
        .map_err(|e| task_error(task, FailureSite::Task, e))?;
    let mut counts = TaskCounts::default();
    for run in runs {
        let (pairs, bytes) = run.size();
        counts.records_in += pairs;
        counts.bytes_in += bytes;
    }
    let read_error = |source| TaskError::Shuffle { task, source };
    let parts_error = |site: FailureSite| {
        move |err| match err {
            PartsError::Io(path, source) => TaskError::Io { task, path, source },
            PartsError::Limit(limit) => TaskError::LimitExceeded { task, limit, site },
        }
    };
    let cursors = runs
        .iter()
        .map(RunSource::open)
        .collect::<std::io::Result<Vec<_>>>();
    let merger = Merger::new(cursors.map_err(read_error)?);
    let mut batcher = GroupBatcher::new(merger, ctx.group_batch_bytes);
    let mut batch = GroupBatch::default();
    while batcher.fill(&mut batch).map_err(read_error)? {
        let feed = batcher.feed(&batch);
        let output = instance
            .reduce_groups(&mut batch, feed)
            .map_err(|e| group_error(task, &batch, e))?;
        let site = batch_site(&batch);
        // Records lie back to back in `data`: a newline in it is a newline in a record.
        if let Some(pos) = memchr::memchr(b'\n', &output.records.data) {
            let i = output
                .records
                .ends
                .partition_point(|&end| end as usize <= pos);
            let record = output.records.get(i);
            let at = pos - (output.records.ends[i] as usize - record.len());
            return Err(TaskError::Contract {
                task,
                site,
                message: format!(
                    "reduce emitted an output record with a newline at byte {at}: {}; \
                     output records are lines",
                    show_key(record)
                ),
            });
        }
        // Checked before anything of the batch is written: output over a limit never reaches
        // the disk.
        let (bytes, records) = (
            output.records.data.len() as u64 + output.records.len() as u64,
            output.records.len() as u64,
        );
        let limit_error = |limit| TaskError::LimitExceeded {
            task,
            limit,
            site: site.clone(),
        };
        ctx.limits
            .check_task(counts.bytes_out + bytes, counts.records_out + records)
            .map_err(limit_error)?;
        if !verifying {
            ctx.output
                .add(partition, bytes, records)
                .map_err(limit_error)?;
        }
        parts.write(&output).map_err(parts_error(site.clone()))?;
        counts.bytes_out += bytes;
        counts.records_out += records;
    }
    let files = parts
        .finish(verifying)
        .map_err(parts_error(FailureSite::Task))?;
    Ok((
        dir,
        ReduceOutput {
            task,
            counts,
            files,
            log: instance.finish(),
        },
    ))
}

/// Commits the part files an attempt wrote into `dir` to the version being built.
///
/// # Errors
/// An I/O error linking a file.
pub fn commit_parts(
    ctx: &ReduceContext<'_>,
    dir: &Path,
    out: &ReduceOutput,
) -> Result<(), TaskError> {
    for file in &out.files {
        let path = dir.join(&file.name);
        ctx.committer
            .commit_file(&path, &file.name)
            .map_err(|source| TaskError::Io {
                task: out.task,
                path,
                source,
            })?;
    }
    Ok(())
}

/// At most this many part files of one attempt are open at once; the least recently written
/// is closed (and reopened to append) to make room. So a plugin that routes records to a
/// thousand output partitions holds 64 files open, not a thousand.
const MAX_OPEN_PARTS: usize = 64;

/// The write buffer of each of an attempt's first few part files, and of every later one: many
/// partitions get small buffers, so an attempt's buffers stay near 2 MiB in all.
const BUFFER: usize = 256 << 10;
const SMALL_BUFFER: usize = 16 << 10;
const BIG_BUFFERS: usize = 4;

/// One part file of an attempt.
struct Part {
    /// Its path relative to the attempt directory: `part-00003` or `date=…/part-00003`.
    name: String,
    /// Records written to it.
    records: u64,
    /// Open while it is among the most recently written.
    writer: Option<BufWriter<File>>,
    /// Whether it exists on disk (opening it again appends).
    created: bool,
    /// When it was last written, by [`Parts::clock`].
    used: u64,
}

/// The part files of one attempt: the top level's and one per output partition.
struct Parts<'a> {
    dir: &'a Path,
    /// `part-NNNNN`.
    name: String,
    parts: Vec<Part>,
    top: Option<usize>,
    /// Output partition name → index into `parts`.
    named: BTreeMap<String, usize>,
    /// Writers open; at most [`MAX_OPEN_PARTS`].
    open: usize,
    clock: u64,
    limits: OutputLimits,
}

/// Why writing a batch failed.
enum PartsError {
    Io(PathBuf, std::io::Error),
    Limit(Limit),
}

impl Parts<'_> {
    /// The index of the part file of `partition` (`None`: the top level), added if new.
    fn part(&mut self, partition: Option<&str>) -> Result<usize, Limit> {
        let found = match partition {
            None => self.top,
            Some(p) => self.named.get(p).copied(),
        };
        if let Some(i) = found {
            return Ok(i);
        }
        let name = match partition {
            Some(p) => {
                self.limits.check_partitions(self.named.len() as u64 + 1)?;
                format!("{p}/{}", self.name)
            }
            None => self.name.clone(),
        };
        let i = self.parts.len();
        self.parts.push(Part {
            name,
            records: 0,
            writer: None,
            created: false,
            used: 0,
        });
        match partition {
            None => self.top = Some(i),
            Some(p) => {
                self.named.insert(p.to_owned(), i);
            }
        }
        Ok(i)
    }

    /// The open writer of part `i`, opened (and, if it is new, created) if it is not.
    fn writer(&mut self, i: usize) -> Result<&mut BufWriter<File>, PartsError> {
        self.clock += 1;
        self.parts[i].used = self.clock;
        if self.parts[i].writer.is_none() {
            if self.open == MAX_OPEN_PARTS {
                self.close_least_recent()?;
            }
            let path = self.dir.join(&self.parts[i].name);
            let io = |e| PartsError::Io(path.clone(), e);
            let file = if self.parts[i].created {
                OpenOptions::new().append(true).open(&path).map_err(io)?
            } else {
                if crate::cleanup::interrupted() {
                    return Err(io(crate::cleanup::interrupted_error()));
                }
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                File::create(&path).map_err(io)?
            };
            let capacity = if self.parts.len() <= BIG_BUFFERS {
                BUFFER
            } else {
                SMALL_BUFFER
            };
            let part = &mut self.parts[i];
            part.created = true;
            part.writer = Some(BufWriter::with_capacity(capacity, file));
            self.open += 1;
        }
        Ok(self.parts[i].writer.as_mut().expect("opened above"))
    }

    /// Flushes and closes the open writer written least recently.
    fn close_least_recent(&mut self) -> Result<(), PartsError> {
        let Some(part) = self
            .parts
            .iter_mut()
            .filter(|p| p.writer.is_some())
            .min_by_key(|p| p.used)
        else {
            return Ok(());
        };
        let writer = part.writer.take().expect("filtered on open writers");
        self.open -= 1;
        writer
            .into_inner()
            .map(drop)
            .map_err(|e| PartsError::Io(self.dir.join(&part.name), e.into_error()))
    }

    /// Writes `records`, each with its `\n`, to part `i`.
    fn append<'r>(
        &mut self,
        i: usize,
        records: impl Iterator<Item = &'r [u8]>,
    ) -> Result<(), PartsError> {
        let out = self.writer(i)?;
        let mut written = 0;
        for record in records {
            if let Err(e) = out.write_all(record).and_then(|()| out.write_all(b"\n")) {
                return Err(PartsError::Io(self.dir.join(&self.parts[i].name), e));
            }
            written += 1;
        }
        self.parts[i].records += written;
        Ok(())
    }

    /// Writes the records of `output`, each with its `\n`, to their part files, in order
    /// within each part file. Records are written partition by partition, so a batch opens each
    /// part file at most once.
    fn write(&mut self, output: &OutputBatch) -> Result<(), PartsError> {
        let records = &output.records;
        if output.routes.is_empty() {
            let i = self.part(None).map_err(PartsError::Limit)?;
            return self.append(i, records.iter());
        }
        // Part indices of the batch's routes, looked up once per route used.
        let mut parts: Vec<Option<usize>> = vec![None; output.partitions.len() + 1];
        let mut order: Vec<u32> = (0..records.len() as u32).collect();
        order.sort_by_key(|&r| output.routes[r as usize]);
        let mut at = 0;
        while at < order.len() {
            let route = output.routes[order[at] as usize] as usize;
            let run = order[at..]
                .iter()
                .take_while(|&&r| output.routes[r as usize] as usize == route)
                .count();
            let i = match parts[route] {
                Some(i) => i,
                None => {
                    let i = self
                        .part(output.partition(order[at] as usize))
                        .map_err(PartsError::Limit)?;
                    parts[route] = Some(i);
                    i
                }
            };
            self.append(
                i,
                order[at..at + run].iter().map(|&r| records.get(r as usize)),
            )?;
            at += run;
        }
        Ok(())
    }

    /// Flushes and syncs every part file (creating the top level's if there is none: every
    /// reducer leaves a part file, even an empty one), and lists them by name.
    fn finish(mut self, verifying: bool) -> Result<Vec<PartFile>, PartsError> {
        if self.parts.is_empty() {
            let i = self.part(None).map_err(PartsError::Limit)?;
            self.writer(i)?;
        }
        let mut files = Vec::with_capacity(self.parts.len());
        for part in std::mem::take(&mut self.parts) {
            let path = self.dir.join(&part.name);
            let io = |e| PartsError::Io(path.clone(), e);
            let file = match part.writer {
                Some(writer) => writer.into_inner().map_err(|e| io(e.into_error()))?,
                None => OpenOptions::new().append(true).open(&path).map_err(io)?,
            };
            crate::failpoint::hit("part-write")
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            if verifying && crate::failpoint::hit("nondeterminism-reduce").is_err() {
                // For testing --verify: the second run writes one more byte.
                (&file).write_all(b"!").map_err(io)?;
            }
            files.push(PartFile {
                name: part.name,
                records: part.records,
            });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }
}
