//! The part files of one reduce task attempt, written into its attempt directory: the top
//! level's `part-NNNNN` and one per output partition it routes records to
//! (`date=2026-03-22/part-NNNNN`). What it writes is bounded ([`OutputLimits`]), and so are
//! the files it holds open and their buffers, however many partitions the plugin routes to.
//! With `--output-format parquet` each is a Parquet file (`part-NNNNN.parquet`, see `parquet`).

use super::parquet::ParquetPart;
use crate::batch::OutputBatch;
use crate::columnar::OutputSchema;
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

/// The row group size of those first few Parquet part files, and of every later one (in
/// encoded bytes): an attempt's Parquet writers hold at most about 64 MiB in all.
const ROW_GROUP: usize = 8 << 20;
const SMALL_ROW_GROUP: usize = 512 << 10;

/// One part file of an attempt.
struct Part {
    /// Its path relative to the attempt directory: `part-00003` or `date=…/part-00003`.
    name: String,
    /// Records written to it.
    records: u64,
    /// Lines: open while it is among the most recently written.
    writer: Option<BufWriter<File>>,
    /// Parquet: the writer, from the part's first record on (its handle closed while the part
    /// is not among the most recently written).
    parquet: Option<Box<ParquetPart>>,
    /// Whether it counts as open: its writer is, or its Parquet writer's handle.
    open: bool,
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
    /// The schema of Parquet part files; `None` for lines.
    schema: Option<&'a OutputSchema>,
}

/// Why writing a batch failed.
pub(crate) enum PartsError {
    Io(PathBuf, std::io::Error),
    Limit(Limit),
}

impl<'a> Parts<'a> {
    /// No part files yet, in the attempt directory `dir`, named `name` (`part-NNNNN`, with
    /// `.parquet` after it for Parquet files of `schema`).
    pub(crate) fn new(
        dir: &'a Path,
        name: String,
        limits: OutputLimits,
        schema: Option<&'a OutputSchema>,
    ) -> Self {
        let name = match schema {
            Some(_) => format!("{name}.parquet"),
            None => name,
        };
        Parts {
            dir,
            name,
            parts: Vec::new(),
            top: None,
            named: BTreeMap::new(),
            open: 0,
            clock: 0,
            limits,
            schema,
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
            parquet: None,
            open: false,
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
            part.open = true;
            self.open += 1;
        }
        Ok(self.parts[i].writer.as_mut().expect("opened above"))
    }

    /// The Parquet writer of part `i`, created if it is new; it counts as open.
    fn parquet(&mut self, i: usize, schema: &OutputSchema) -> Result<&mut ParquetPart, PartsError> {
        self.clock += 1;
        self.parts[i].used = self.clock;
        if !self.parts[i].open {
            if self.open == MAX_OPEN_PARTS {
                self.close_least_recent()?;
            }
            if self.parts[i].parquet.is_none() {
                let path = self.dir.join(&self.parts[i].name);
                let io = |e| PartsError::Io(path.clone(), e);
                if crate::cleanup::interrupted() {
                    return Err(io(crate::cleanup::interrupted_error()));
                }
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                let row_group = if self.parts.len() <= BIG_BUFFERS {
                    ROW_GROUP
                } else {
                    SMALL_ROW_GROUP
                };
                let part = ParquetPart::create(&path, schema, row_group).map_err(io)?;
                self.parts[i].parquet = Some(Box::new(part));
                self.parts[i].created = true;
            }
            self.parts[i].open = true;
            self.open += 1;
        }
        Ok(self.parts[i].parquet.as_deref_mut().expect("created above"))
    }

    /// Flushes and closes the open writer written least recently.
    fn close_least_recent(&mut self) -> Result<(), PartsError> {
        let Some(part) = self
            .parts
            .iter_mut()
            .filter(|p| p.open)
            .min_by_key(|p| p.used)
        else {
            return Ok(());
        };
        part.open = false;
        self.open -= 1;
        if let Some(parquet) = part.parquet.as_mut() {
            return parquet
                .close_handle()
                .map_err(|e| PartsError::Io(self.dir.join(&part.name), e));
        }
        let writer = part
            .writer
            .take()
            .expect("an open part of lines has a writer");
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
        if let Some(schema) = self.schema {
            let written = self
                .parquet(i, schema)?
                .write(records)
                .map_err(|e| PartsError::Io(self.dir.join(&self.parts[i].name), e))?;
            self.parts[i].records += written;
            return Ok(());
        }
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
            match self.schema {
                // A Parquet file of no rows still has the schema.
                Some(schema) => {
                    self.parquet(i, schema)?;
                }
                None => {
                    self.writer(i)?;
                }
            }
        }
        let mut files = Vec::with_capacity(self.parts.len());
        for part in std::mem::take(&mut self.parts) {
            let path = self.dir.join(&part.name);
            let io = |e| PartsError::Io(path.clone(), e);
            let file = match (part.writer, part.parquet) {
                (_, Some(parquet)) => parquet.finish().map_err(io)?,
                (Some(writer), None) => writer.into_inner().map_err(|e| io(e.into_error()))?,
                (None, None) => OpenOptions::new().append(true).open(&path).map_err(io)?,
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
