//! The part files of one reduce task attempt, written into its attempt directory: the top
//! level's `part-NNNNN` and one per output partition it routes records to
//! (`date=2026-03-22/part-NNNNN`). What it writes is bounded ([`OutputLimits`]), and so are
//! the files it holds open and their buffers, however many partitions the plugin routes to.

use crate::batch::OutputBatch;
use crate::error::Limit;
use crate::quota::OutputLimits;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// One output file a reduce task wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartFile {
    /// Its path relative to the output: `part-00003` or `date=2026-03-22/part-00003`.
    pub name: String,
    /// The records (lines) in it.
    pub records: u64,
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
pub(crate) struct Parts<'a> {
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
pub(crate) enum PartsError {
    Io(PathBuf, std::io::Error),
    Limit(Limit),
}

impl<'a> Parts<'a> {
    /// No part files yet, in the attempt directory `dir`, named `name` (`part-NNNNN`).
    pub(crate) fn new(dir: &'a Path, name: String, limits: OutputLimits) -> Self {
        Parts {
            dir,
            name,
            parts: Vec::new(),
            top: None,
            named: BTreeMap::new(),
            open: 0,
            clock: 0,
            limits,
        }
    }

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
    pub(crate) fn write(&mut self, output: &OutputBatch) -> Result<(), PartsError> {
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

    /// Flushes and syncs every part file, and lists them by name. If the attempt wrote no
    /// record at all, an empty top-level part file is created if `empty_part` says so: a
    /// plain job's reducers each leave a part file, even an empty one, as Hadoop's do. A job
    /// with `--overwrite-partitions` writes partitions, and an empty `part-NNNNN` beside them
    /// would be noise (Hadoop's `LazyOutputFormat` leaves it out too).
    pub(crate) fn finish(
        mut self,
        verifying: bool,
        empty_part: bool,
    ) -> Result<Vec<PartFile>, PartsError> {
        if self.parts.is_empty() && empty_part {
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
