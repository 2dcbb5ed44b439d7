//! Sorted runs on disk. When to spill is the map task's decision; this module only writes and
//! reads the files.
//!
//! A run file holds one segment per partition, in partition order; the index (kept in memory,
//! and written beside the data as `<name>.index`) says where each segment is. A segment is a
//! sequence of blocks of about [`BLOCK_BYTES`] of pairs:
//!
//! ```text
//!  block  := raw_len:u32le  compressed_len:u32le  crc32(compressed):u32le  lz4(raw)
//!  raw    := pair*
//!  pair   := varint(key_len) varint(value_len) key value
//! ```
//!
//! Blocks are checksummed, so a corrupt file is an error, never wrong output.

use super::run::PairSink;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Raw bytes per block before compression (a larger pair makes a larger block).
pub const BLOCK_BYTES: usize = 64 << 10;
const HEADER: usize = 12;
const INDEX_MAGIC: &[u8; 8] = b"SMIDX001";

/// Where one partition's run lies in a run file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// Its first byte in the file.
    pub offset: u64,
    /// Its length in the file (compressed).
    pub len: u64,
    /// The pairs it holds.
    pub pairs: u64,
    /// Bytes of keys and values it holds, uncompressed.
    pub bytes: u64,
}

/// Writes one segment per partition into a run file.
#[derive(Debug)]
pub struct RunFileWriter {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes written to `out` so far.
    written: u64,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    current: Segment,
    segments: Vec<Segment>,
}

fn with_path(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

impl RunFileWriter {
    /// Creates the file.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path).map_err(with_path(path))?;
        Ok(Self {
            path: path.into(),
            out: BufWriter::with_capacity(256 << 10, file),
            written: 0,
            raw: Vec::with_capacity(BLOCK_BYTES + 64),
            compressed: Vec::new(),
            current: Segment::default(),
            segments: Vec::new(),
        })
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.raw.is_empty() {
            return Ok(());
        }
        self.compressed
            .resize(lz4_flex::block::get_maximum_output_size(self.raw.len()), 0);
        let n = lz4_flex::block::compress_into(&self.raw, &mut self.compressed)
            .map_err(|e| io::Error::other(format!("lz4: {e}")))?;
        let too_big = || io::Error::other("a block of pairs over 4 GiB");
        let raw_len = u32::try_from(self.raw.len()).map_err(|_| too_big())?;
        let comp_len = u32::try_from(n).map_err(|_| too_big())?;
        let crc = crc32fast::hash(&self.compressed[..n]);
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&raw_len.to_le_bytes());
        header[4..8].copy_from_slice(&comp_len.to_le_bytes());
        header[8..].copy_from_slice(&crc.to_le_bytes());
        self.out.write_all(&header).map_err(with_path(&self.path))?;
        self.out
            .write_all(&self.compressed[..n])
            .map_err(with_path(&self.path))?;
        self.written += (HEADER + n) as u64;
        self.raw.clear();
        Ok(())
    }

    /// Ends the current partition's segment; the next pairs belong to the next partition.
    ///
    /// # Errors
    /// If writing fails.
    pub fn finish_segment(&mut self) -> io::Result<Segment> {
        self.flush_block()?;
        let mut segment = std::mem::take(&mut self.current);
        segment.len = self.written - segment.offset;
        self.current.offset = self.written;
        self.segments.push(segment);
        Ok(segment)
    }

    /// Flushes and syncs the file, writes its index beside it, and returns both.
    ///
    /// # Errors
    /// If writing fails.
    pub fn finish(mut self) -> io::Result<RunFile> {
        self.flush_block()?;
        crate::failpoint::hit("spill-write").map_err(with_path(&self.path))?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| with_path(&self.path)(e.into_error()))?;
        file.sync_data().map_err(with_path(&self.path))?;
        let run_file = RunFile {
            path: self.path,
            segments: self.segments,
        };
        run_file.write_index()?;
        Ok(run_file)
    }
}

impl PairSink for RunFileWriter {
    fn push_pair(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        put_varint(&mut self.raw, key.len() as u64);
        put_varint(&mut self.raw, value.len() as u64);
        self.raw.extend_from_slice(key);
        self.raw.extend_from_slice(value);
        self.current.pairs += 1;
        self.current.bytes += (key.len() + value.len()) as u64;
        if self.raw.len() >= BLOCK_BYTES {
            self.flush_block()?;
        }
        Ok(())
    }
}

/// A finished run file and where each partition's segment is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunFile {
    /// The data file.
    pub path: PathBuf,
    /// One segment per partition, in partition order.
    pub segments: Vec<Segment>,
}

impl RunFile {
    /// The index file beside the data file.
    pub fn index_path(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".index");
        PathBuf::from(name)
    }

    fn write_index(&self) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(8 + 8 + self.segments.len() * 32 + 4);
        bytes.extend_from_slice(INDEX_MAGIC);
        bytes.extend_from_slice(&(self.segments.len() as u64).to_le_bytes());
        for s in &self.segments {
            for v in [s.offset, s.len, s.pairs, s.bytes] {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        let path = Self::index_path(&self.path);
        std::fs::write(&path, bytes).map_err(with_path(&path))
    }

    /// Reads the index of the run file at `path`.
    ///
    /// # Errors
    /// If it cannot be read or is corrupt.
    pub fn open(path: &Path) -> io::Result<Self> {
        let index = Self::index_path(path);
        let bytes = std::fs::read(&index).map_err(with_path(&index))?;
        let corrupt = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: corrupt index", index.display()),
            )
        };
        let (body, crc) = bytes
            .split_at_checked(bytes.len().wrapping_sub(4))
            .ok_or_else(corrupt)?;
        if body.len() < 16
            || &body[..8] != INDEX_MAGIC
            || crc32fast::hash(body).to_le_bytes() != crc
        {
            return Err(corrupt());
        }
        let n = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes")) as usize;
        if body.len() != 16 + n * 32 {
            return Err(corrupt());
        }
        let words: Vec<u64> = body[16..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let segments = words
            .chunks_exact(4)
            .map(|w| Segment {
                offset: w[0],
                len: w[1],
                pairs: w[2],
                bytes: w[3],
            })
            .collect();
        Ok(Self {
            path: path.into(),
            segments,
        })
    }

    /// Deletes the data and index files.
    ///
    /// # Errors
    /// If a file exists but cannot be removed.
    pub fn remove(&self) -> io::Result<()> {
        for path in [self.path.clone(), Self::index_path(&self.path)] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(with_path(&path)(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Reads one segment of a run file back, pair by pair, one block in memory at a time.
#[derive(Debug)]
pub struct RunReader {
    path: PathBuf,
    file: BufReader<File>,
    /// Where the next block starts, and the segment's end.
    next_block: u64,
    end: u64,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    /// The current pair, as ranges of `raw`; `None` once the segment is read.
    head: Option<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    /// Where the pair after the head starts in `raw`.
    pos: usize,
}

impl RunReader {
    /// Opens `segment` of the run file at `path`, positioned on its first pair.
    ///
    /// # Errors
    /// If the file cannot be read or its first block is corrupt.
    pub fn open(path: &Path, segment: Segment) -> io::Result<Self> {
        let mut file = File::open(path).map_err(with_path(path))?;
        file.seek(SeekFrom::Start(segment.offset))
            .map_err(with_path(path))?;
        let mut reader = Self {
            path: path.into(),
            file: BufReader::with_capacity(64 << 10, file),
            next_block: segment.offset,
            end: segment.offset + segment.len,
            raw: Vec::new(),
            compressed: Vec::new(),
            head: None,
            pos: 0,
        };
        reader.advance()?;
        Ok(reader)
    }

    /// The current pair, or `None` at the end of the segment.
    pub fn head(&self) -> Option<(&[u8], &[u8])> {
        self.head.clone().map(|(k, v)| (&self.raw[k], &self.raw[v]))
    }

    fn corrupt(&self, what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: {what} in the block at byte {}: the spill file is corrupt",
                self.path.display(),
                self.next_block
            ),
        )
    }

    /// Moves to the next pair.
    ///
    /// # Errors
    /// If reading fails or a block is corrupt.
    pub fn advance(&mut self) -> io::Result<()> {
        if self.pos >= self.raw.len() {
            if self.next_block >= self.end {
                self.head = None;
                return Ok(());
            }
            self.read_block()?;
        }
        let mut pos = self.pos;
        let lens = get_varint(&self.raw, &mut pos).zip(get_varint(&self.raw, &mut pos));
        let Some((klen, vlen)) = lens else {
            return Err(self.corrupt("a bad pair header"));
        };
        let key = pos..pos + klen as usize;
        let value = key.end..key.end + vlen as usize;
        if value.end > self.raw.len() {
            return Err(self.corrupt("a pair past the end of its block"));
        }
        self.pos = value.end;
        self.head = Some((key, value));
        Ok(())
    }

    fn read_block(&mut self) -> io::Result<()> {
        let mut header = [0u8; HEADER];
        self.file
            .read_exact(&mut header)
            .map_err(with_path(&self.path))?;
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let (raw_len, comp_len, crc) = (word(0) as usize, word(4) as usize, word(8));
        if self.next_block + (HEADER + comp_len) as u64 > self.end {
            return Err(self.corrupt("a block longer than its segment"));
        }
        self.compressed.resize(comp_len, 0);
        self.file
            .read_exact(&mut self.compressed)
            .map_err(with_path(&self.path))?;
        if crc32fast::hash(&self.compressed) != crc {
            return Err(self.corrupt("a checksum mismatch"));
        }
        self.raw.resize(raw_len, 0);
        let n = lz4_flex::block::decompress_into(&self.compressed, &mut self.raw)
            .map_err(|_| self.corrupt("undecodable data"))?;
        if n != raw_len {
            return Err(self.corrupt("a short block"));
        }
        self.next_block += (HEADER + comp_len) as u64;
        self.pos = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize, seed: u8) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
            .map(|i| {
                (
                    format!("key-{:06}", i * 7 % 1000).into_bytes(),
                    vec![seed; i % 300],
                )
            })
            .collect();
        v.sort();
        v
    }

    fn read_all(path: &Path, segment: Segment) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut r = RunReader::open(path, segment).unwrap();
        let mut out = Vec::new();
        while let Some((k, v)) = r.head() {
            out.push((k.to_vec(), v.to_vec()));
            r.advance().unwrap();
        }
        out
    }

    #[test]
    fn segments_round_trip_across_many_blocks_and_empty_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let parts = [
            pairs(5000, 1),
            Vec::new(),
            pairs(3, 2),
            vec![(Vec::new(), Vec::new())],
        ];
        let mut w = RunFileWriter::create(&path).unwrap();
        for part in &parts {
            for (k, v) in part {
                w.push_pair(k, v).unwrap();
            }
            w.finish_segment().unwrap();
        }
        let file = w.finish().unwrap();
        assert_eq!(file.segments.len(), 4);
        assert!(
            file.segments[0].len > BLOCK_BYTES as u64 / 4,
            "several blocks"
        );
        assert_eq!(file.segments[1].len, 0);
        assert_eq!(RunFile::open(&path).unwrap(), file);
        for (part, segment) in parts.iter().zip(&file.segments) {
            assert_eq!(segment.pairs, part.len() as u64);
            assert_eq!(&read_all(&path, *segment), part);
        }
        file.remove().unwrap();
        assert!(!path.exists() && !RunFile::index_path(&path).exists());
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let mut w = RunFileWriter::create(&path).unwrap();
        for (k, v) in pairs(100, 3) {
            w.push_pair(&k, &v).unwrap();
        }
        let segment = w.finish_segment().unwrap();
        w.finish().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let err = RunReader::open(&path, segment).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("checksum mismatch"), "{err}");

        let index = RunFile::index_path(&path);
        let mut bytes = std::fs::read(&index).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&index, &bytes).unwrap();
        assert!(
            RunFile::open(&path)
                .unwrap_err()
                .to_string()
                .contains("corrupt index")
        );
    }

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut pos = 0;
            assert_eq!(get_varint(&buf, &mut pos), Some(v));
            assert_eq!(pos, buf.len());
        }
        assert_eq!(get_varint(&[0x80], &mut 0), None);
    }
}
