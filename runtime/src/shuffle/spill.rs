//! Sorted runs on disk. When to spill is the map task's decision; this module only writes and
//! reads the files.
//!
//! A run file holds one segment per partition, in partition order. Where each segment lies
//! ([`Segment`]) is not written in the file: the map task keeps it in memory, and in its
//! commit record for a resumed run. A segment is a sequence of blocks, each holding the next
//! at most [`BLOCK_BYTES`] of the segment's pair bytes (a larger pair spans several blocks):
//!
//! ```text
//!  segment := block*                    the blocks' raw bytes, concatenated, are pair*
//!  block   := raw_len:u32le  compressed_len:u32le  crc32(raw_len compressed_len lz4):u32le  lz4
//!  lz4     := the block's raw bytes, LZ4-compressed (1 ≤ raw_len ≤ BLOCK_BYTES)
//!  pair    := varint(key_len) varint(value_len) key value
//! ```
//!
//! A corrupt file is an error, never wrong output and never a huge allocation: the checksum
//! covers the block's lengths as well as its data, and every length read back is checked
//! against a bound before anything is allocated for it (a block's against [`BLOCK_BYTES`] and
//! its segment's end, a pair's against the bytes its segment holds, a segment's against the
//! file's size).

use super::run::PairSink;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The most raw (uncompressed) bytes in one block; a pair longer than the room left in a
/// block continues in the next.
pub const BLOCK_BYTES: usize = 64 << 10;
/// The most compressed bytes in one block: LZ4's worst case for [`BLOCK_BYTES`].
const MAX_COMPRESSED: usize = lz4_flex::block::get_maximum_output_size(BLOCK_BYTES);
/// A block's header: its raw length, its compressed length, its checksum.
const HEADER: usize = 12;
/// The longest varint of a `u64`.
const MAX_VARINT: usize = 10;

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
    /// The current block's raw bytes: never more than [`BLOCK_BYTES`].
    raw: Vec<u8>,
    compressed: Vec<u8>,
    current: Segment,
    segments: Vec<Segment>,
}

fn with_path(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// `v` as a varint: its bytes, and how many of them are used.
fn varint(mut v: u64) -> ([u8; MAX_VARINT], usize) {
    let mut out = [0u8; MAX_VARINT];
    let mut n = 0;
    while v >= 0x80 {
        out[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    (out, n + 1)
}

/// The varint at `*pos` in `buf`, moving `pos` past it; `None` if `buf` ends first or it is
/// longer than a `u64`'s.
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

/// The checksum of a block: its two lengths, then its compressed bytes.
fn block_crc(lengths: &[u8], compressed: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(lengths);
    hasher.update(compressed);
    hasher.finalize()
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
            raw: Vec::with_capacity(BLOCK_BYTES),
            compressed: vec![0; MAX_COMPRESSED],
            current: Segment::default(),
            segments: Vec::new(),
        })
    }

    /// Appends `bytes` to the segment, writing each block as it fills.
    fn put(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = BLOCK_BYTES - self.raw.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.raw.extend_from_slice(now);
            bytes = rest;
            if self.raw.len() == BLOCK_BYTES {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.raw.is_empty() {
            return Ok(());
        }
        debug_assert!(self.raw.len() <= BLOCK_BYTES);
        let n = lz4_flex::block::compress_into(&self.raw, &mut self.compressed)
            .map_err(|e| io::Error::other(format!("lz4: {e}")))?;
        // Both fit: a block is at most BLOCK_BYTES raw and MAX_COMPRESSED compressed.
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&(self.raw.len() as u32).to_le_bytes());
        header[4..8].copy_from_slice(&(n as u32).to_le_bytes());
        let crc = block_crc(&header[..8], &self.compressed[..n]);
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

    /// Flushes and syncs the file, and returns it with where its segments are.
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
        Ok(RunFile {
            path: self.path,
            segments: self.segments,
        })
    }
}

impl PairSink for RunFileWriter {
    fn push_pair(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let (klen, kn) = varint(key.len() as u64);
        let (vlen, vn) = varint(value.len() as u64);
        self.put(&klen[..kn])?;
        self.put(&vlen[..vn])?;
        self.put(key)?;
        self.put(value)?;
        self.current.pairs += 1;
        self.current.bytes += (key.len() + value.len()) as u64;
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
    /// Deletes the file.
    ///
    /// # Errors
    /// If it exists but cannot be removed.
    pub fn remove(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(&self.path)(e)),
            _ => Ok(()),
        }
    }
}

/// Reads one segment of a run file back, pair by pair, holding one block (or one pair that
/// spans blocks) in memory at a time.
#[derive(Debug)]
pub struct RunReader {
    path: PathBuf,
    file: BufReader<File>,
    /// Where the block read last starts (for messages), where the next one starts, and where
    /// the segment ends.
    block: u64,
    next_block: u64,
    end: u64,
    /// Pairs, and bytes of keys and values, that the segment holds beyond those read so far:
    /// the bound on the next pair's length, and what must be left when the blocks end.
    pairs_left: u64,
    bytes_left: u64,
    /// Raw bytes read and not yet passed: the head pair, and the start of the next.
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
    /// If the file cannot be read, is shorter than the segment, or its first block is
    /// corrupt.
    pub fn open(path: &Path, segment: Segment) -> io::Result<Self> {
        let mut file = File::open(path).map_err(with_path(path))?;
        let size = file.metadata().map_err(with_path(path))?.len();
        let end = segment
            .offset
            .checked_add(segment.len)
            .filter(|&end| end <= size);
        let Some(end) = end else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: the segment of {} bytes at byte {} runs past the end of the file \
                     ({size} bytes): the spill file is corrupt (cut short, or changed by \
                     something else)",
                    path.display(),
                    segment.len,
                    segment.offset,
                ),
            ));
        };
        file.seek(SeekFrom::Start(segment.offset))
            .map_err(with_path(path))?;
        let mut reader = Self {
            path: path.into(),
            file: BufReader::with_capacity(64 << 10, file),
            block: segment.offset,
            next_block: segment.offset,
            end,
            pairs_left: segment.pairs,
            bytes_left: segment.bytes,
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
                "{}: {what} in the block at byte {}: the spill file is corrupt (damaged on \
                 disk, or changed by something else)",
                self.path.display(),
                self.block
            ),
        )
    }

    /// Whether the segment has blocks not read yet.
    fn more_blocks(&self) -> bool {
        self.next_block < self.end
    }

    /// Moves to the next pair.
    ///
    /// # Errors
    /// If reading fails or a block is corrupt.
    pub fn advance(&mut self) -> io::Result<()> {
        self.head = None;
        // The pair's two lengths, which may continue in the next block.
        let (klen, vlen, lens_len) = loop {
            if self.pos == self.raw.len() && !self.more_blocks() {
                if self.pairs_left > 0 || self.bytes_left > 0 {
                    let missing = format!(
                        "the segment's end, {} pairs ({} bytes) short of what it holds,",
                        self.pairs_left, self.bytes_left
                    );
                    return Err(self.corrupt(&missing));
                }
                return Ok(());
            }
            let mut pos = self.pos;
            match get_varint(&self.raw, &mut pos).zip(get_varint(&self.raw, &mut pos)) {
                Some((klen, vlen)) => break (klen, vlen, pos - self.pos),
                None if self.raw.len() - self.pos < 2 * MAX_VARINT && self.more_blocks() => {
                    self.read_block()?;
                }
                None => return Err(self.corrupt("a bad pair header")),
            }
        };
        let len = klen
            .checked_add(vlen)
            .filter(|&len| len <= self.bytes_left && self.pairs_left > 0)
            .ok_or_else(|| {
                self.corrupt(&format!(
                    "a pair of {klen} + {vlen} bytes, more than the {} pairs ({} bytes) left in \
                     its segment,",
                    self.pairs_left, self.bytes_left
                ))
            })?;
        // At most `bytes_left`, which is bytes that were in memory once.
        let (klen, len) = (klen as usize, len as usize);
        while self.raw.len() - self.pos < lens_len + len {
            if !self.more_blocks() {
                return Err(self.corrupt("a pair past the end of its segment"));
            }
            self.read_block()?;
        }
        let key = self.pos + lens_len..self.pos + lens_len + klen;
        let value = key.end..self.pos + lens_len + len;
        self.pos = value.end;
        self.pairs_left -= 1;
        self.bytes_left -= len as u64;
        self.head = Some((key, value));
        Ok(())
    }

    /// Reads the next block, appending its raw bytes to what is left of `raw` (moved to its
    /// start). Each length is checked before anything is allocated for it, and the checksum
    /// before the data is used.
    fn read_block(&mut self) -> io::Result<()> {
        self.block = self.next_block;
        let room = self.end - self.next_block;
        if room < HEADER as u64 {
            return Err(self.corrupt("a block header cut off by the end of its segment"));
        }
        let mut header = [0u8; HEADER];
        self.file
            .read_exact(&mut header)
            .map_err(with_path(&self.path))?;
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let (raw_len, comp_len, crc) = (word(0) as usize, word(4) as usize, word(8));
        if raw_len == 0 || raw_len > BLOCK_BYTES {
            return Err(self.corrupt(&format!(
                "an uncompressed length of {raw_len} bytes (a block holds 1 to {BLOCK_BYTES})"
            )));
        }
        if comp_len > MAX_COMPRESSED || (HEADER + comp_len) as u64 > room {
            return Err(self.corrupt(&format!(
                "a compressed length of {comp_len} bytes (at most {MAX_COMPRESSED}, and {} \
                 left in the segment)",
                room - HEADER as u64
            )));
        }
        self.compressed.resize(comp_len, 0);
        self.file
            .read_exact(&mut self.compressed)
            .map_err(with_path(&self.path))?;
        if block_crc(&header[..8], &self.compressed) != crc {
            return Err(self.corrupt("a checksum mismatch"));
        }
        self.raw.drain(..self.pos);
        self.pos = 0;
        let kept = self.raw.len();
        self.raw.resize(kept + raw_len, 0);
        let decoded = lz4_flex::block::decompress_into(&self.compressed, &mut self.raw[kept..]);
        match decoded {
            Ok(n) if n == raw_len => {}
            Ok(_) => return Err(self.corrupt("a short block")),
            Err(_) => return Err(self.corrupt("undecodable data")),
        }
        self.next_block += (HEADER + comp_len) as u64;
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

    fn try_read_all(path: &Path, segment: Segment) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut r = RunReader::open(path, segment)?;
        let mut out = Vec::new();
        while let Some((k, v)) = r.head() {
            out.push((k.to_vec(), v.to_vec()));
            r.advance()?;
        }
        Ok(out)
    }

    fn read_all(path: &Path, segment: Segment) -> Vec<(Vec<u8>, Vec<u8>)> {
        try_read_all(path, segment).unwrap()
    }

    /// The (offset, raw length, compressed length) of each block of `segment`.
    fn blocks(bytes: &[u8], segment: Segment) -> Vec<(usize, usize, usize)> {
        let mut at = segment.offset as usize;
        let mut out = Vec::new();
        while at < (segment.offset + segment.len) as usize {
            let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
            out.push((at, word(at), word(at + 4)));
            at += HEADER + word(at + 4);
        }
        out
    }

    /// A run file of one segment holding `raw` (pairs, encoded) as one block, written by hand
    /// with a good checksum, and that segment as `pairs` pairs of `bytes` bytes.
    fn hand_written(path: &Path, raw: &[u8], pairs: u64, bytes: u64) -> Segment {
        let compressed = lz4_flex::block::compress(raw);
        let mut file = Vec::new();
        file.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        file.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        let crc = block_crc(&file, &compressed);
        file.extend_from_slice(&crc.to_le_bytes());
        file.extend_from_slice(&compressed);
        std::fs::write(path, &file).unwrap();
        Segment {
            offset: 0,
            len: file.len() as u64,
            pairs,
            bytes,
        }
    }

    fn assert_corrupt(err: &io::Error, path: &Path, what: &str) {
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let message = err.to_string();
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
        assert!(message.contains(what), "{message}");
        assert!(message.contains("the spill file is corrupt"), "{message}");
    }

    #[test]
    fn segments_round_trip_across_many_blocks_and_empty_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let huge = vec![(b"huge".to_vec(), vec![9u8; 3 * BLOCK_BYTES + 17])];
        let parts = [
            pairs(5000, 1),
            Vec::new(),
            pairs(3, 2),
            vec![(Vec::new(), Vec::new())],
            huge,
        ];
        let mut w = RunFileWriter::create(&path).unwrap();
        for part in &parts {
            for (k, v) in part {
                w.push_pair(k, v).unwrap();
            }
            w.finish_segment().unwrap();
        }
        let file = w.finish().unwrap();
        assert_eq!(file.segments.len(), 5);
        assert_eq!(file.segments[1].len, 0);
        let bytes = std::fs::read(&path).unwrap();
        for (part, segment) in parts.iter().zip(&file.segments) {
            assert_eq!(segment.pairs, part.len() as u64);
            assert_eq!(&read_all(&path, *segment), part);
            for (at, raw, compressed) in blocks(&bytes, *segment) {
                assert!((1..=BLOCK_BYTES).contains(&raw), "block at {at}: {raw}");
                assert!(compressed <= MAX_COMPRESSED, "block at {at}: {compressed}");
            }
        }
        assert!(blocks(&bytes, file.segments[0]).len() > 2, "several blocks");
        assert!(
            blocks(&bytes, file.segments[4]).len() >= 4,
            "a pair longer than a block spans blocks"
        );
        // Nothing is written beside the data file.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        file.remove().unwrap();
        assert!(!path.exists());
        file.remove().unwrap();
    }

    #[test]
    fn a_checksum_mismatch_is_detected() {
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
        assert_corrupt(&err, &path, "a checksum mismatch in the block at byte 0");
    }

    /// The checksum covers the lengths: a raw length changed to one the data still decodes
    /// into (here: shorter, the rest of the block dropped) is caught.
    #[test]
    fn a_changed_length_is_caught_by_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let raw = [b"\x01\x01ab".as_slice(), b"\x01\x01cd"].concat();
        let segment = hand_written(&path, &raw, 2, 4);
        assert_eq!(read_all(&path, segment).len(), 2);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] = 4;
        std::fs::write(&path, &bytes).unwrap();
        let err = try_read_all(&path, segment).unwrap_err();
        assert_corrupt(&err, &path, "a checksum mismatch");
    }

    /// A run file of one block with these lengths and `data`, checksummed as the writer
    /// would, so that only the bounds can refuse it.
    fn one_block(path: &Path, raw_len: u32, data: &[u8]) -> Segment {
        let mut file = Vec::new();
        file.extend_from_slice(&raw_len.to_le_bytes());
        file.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let crc = block_crc(&file, data);
        file.extend_from_slice(&crc.to_le_bytes());
        file.extend_from_slice(data);
        std::fs::write(path, &file).unwrap();
        Segment {
            offset: 0,
            len: file.len() as u64,
            pairs: 1,
            bytes: u64::from(raw_len),
        }
    }

    /// The bounds hold even where the checksum passes: a block longer than [`BLOCK_BYTES`]
    /// raw, or than LZ4's worst case for it compressed, is refused before its data is used.
    #[test]
    fn a_block_over_the_maximum_is_refused_even_with_a_good_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let raw = vec![7u8; BLOCK_BYTES + 1];
        let segment = one_block(&path, raw.len() as u32, &lz4_flex::block::compress(&raw));
        let err = RunReader::open(&path, segment).unwrap_err();
        assert_corrupt(
            &err,
            &path,
            "an uncompressed length of 65537 bytes (a block holds 1",
        );
        let segment = one_block(&path, 0, &[]);
        let err = RunReader::open(&path, segment).unwrap_err();
        assert_corrupt(&err, &path, "an uncompressed length of 0 bytes");

        let data = vec![0u8; MAX_COMPRESSED + 1];
        let segment = one_block(&path, BLOCK_BYTES as u32, &data);
        let err = RunReader::open(&path, segment).unwrap_err();
        let want = format!(
            "a compressed length of {} bytes (at most",
            MAX_COMPRESSED + 1
        );
        assert_corrupt(&err, &path, &want);
        assert!(err.to_string().contains("in the block at byte 0"), "{err}");
    }

    /// A pair's lengths are checked against the bytes its segment holds before any is read:
    /// a block with a good checksum that claims a pair of 2^62 bytes is refused at once.
    #[test]
    fn a_pair_longer_than_its_segment_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let (klen, n) = varint(1 << 62);
        let raw = [&klen[..n], b"\x00k"].concat();
        let segment = hand_written(&path, &raw, 1, 1);
        let started = std::time::Instant::now();
        let err = RunReader::open(&path, segment).unwrap_err();
        assert_corrupt(&err, &path, "a pair of 4611686018427387904 + 0 bytes");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // More pairs than the segment holds.
        let segment = hand_written(&path, b"\x01\x00a\x01\x00b", 1, 2);
        let err = try_read_all(&path, segment).unwrap_err();
        assert_corrupt(&err, &path, "more than the 0 pairs (1 bytes) left");
    }

    /// A segment cut short (its recorded length excludes its last block, or the file lost
    /// its tail) is an error, not a run missing its last pairs.
    #[test]
    fn a_segment_cut_short_is_an_error_not_fewer_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let mut w = RunFileWriter::create(&path).unwrap();
        for (k, v) in pairs(5000, 4) {
            w.push_pair(&k, &v).unwrap();
        }
        let segment = w.finish_segment().unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let &(last, _, _) = blocks(&bytes, segment).last().unwrap();
        let short = Segment {
            len: last as u64,
            ..segment
        };
        let err = try_read_all(&path, short).unwrap_err();
        assert_corrupt(&err, &path, "a pair past the end of its segment");
        // Cut at a pair's end: the count of pairs tells.
        let more = Segment {
            pairs: segment.pairs + 1,
            bytes: segment.bytes + 5,
            ..segment
        };
        let err = try_read_all(&path, more).unwrap_err();
        assert_corrupt(&err, &path, "1 pairs (5 bytes) short of what it holds");

        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = RunReader::open(&path, segment).unwrap_err();
        assert_corrupt(&err, &path, "runs past the end of the file");
        assert!(
            err.to_string()
                .contains(&format!("({} bytes)", bytes.len() - 1)),
            "{err}"
        );
    }

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let (buf, n) = varint(v);
            let mut pos = 0;
            assert_eq!(get_varint(&buf[..n], &mut pos), Some(v));
            assert_eq!(pos, n);
        }
        assert_eq!(varint(u64::MAX).1, MAX_VARINT);
        assert_eq!(get_varint(&[0x80], &mut 0), None);
        assert_eq!(get_varint(&[0xff; 11], &mut 0), None);
    }
}
