//! The spill reader against corrupt files, with its allocations measured: every corruption of
//! a real run file (each byte of every block header, and bytes of every block's data) is an
//! `InvalidData` error naming the file, never a panic, never wrong pairs, and never an
//! allocation larger than a few blocks.
//!
//! Its own test binary, because it measures with a global allocator: one that records the
//! largest allocation each thread asks for, and refuses any over [`REFUSED`], so that a reader
//! that trusts a corrupt length fails here (the allocation fails and the test aborts) instead
//! of taking the machine's memory.
#![allow(
    unsafe_code,
    reason = "a GlobalAlloc that forwards to the system allocator, to measure it"
)]

use sandmill::shuffle::{BLOCK_BYTES, PairSink, RunFileWriter, RunReader, Segment};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// No single allocation in this binary may be larger (a reader that believes a corrupt
/// length asks for up to 4 GiB).
const REFUSED: usize = 64 << 20;

/// What reading may allocate at once: the reader's 64 KiB file buffer, a compressed block
/// (LZ4's worst case for a block is a little over [`BLOCK_BYTES`]), and the raw bytes of a
/// block plus the longest pair of the test file, each at most doubled by a `Vec`'s growth.
const BOUND: usize = 4 * BLOCK_BYTES + 2 * LONG_VALUE;

/// The value of the one pair that spans several blocks.
const LONG_VALUE: usize = 3 * BLOCK_BYTES + 100;

thread_local! {
    /// The largest allocation this thread asked for since [`largest_since`] last reset it.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, measured and capped.
struct Measured;

fn note(size: usize) -> bool {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
    size <= REFUSED
}

// SAFETY: every call is forwarded to `System` with the caller's arguments, or refused with a
// null pointer, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for Measured {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !note(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Measured = Measured;

/// Runs `f` and returns what it returned with the largest allocation it made on this thread.
fn largest_since<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The pairs of each segment of the test file: many small pairs over several blocks, one pair
/// longer than three blocks, an empty segment, and a few pairs.
fn segments() -> Vec<Pairs> {
    let mut small: Pairs = (0..3000u32)
        .map(|i| {
            let key = format!("key-{:05}", i * 7919 % 3000).into_bytes();
            let value = (0..i % 200).map(|j| (i ^ j) as u8).collect();
            (key, value)
        })
        .collect();
    small.sort();
    let long = (0..LONG_VALUE).map(|i| (i * 31 % 251) as u8).collect();
    vec![
        small,
        vec![(b"long".to_vec(), long)],
        Vec::new(),
        vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), Vec::new())],
    ]
}

/// Writes `parts` as a run file at `path`; returns its segments.
fn write(path: &Path, parts: &[Pairs]) -> Vec<Segment> {
    let mut w = RunFileWriter::create(path).unwrap();
    for part in parts {
        for (k, v) in part {
            w.push_pair(k, v).unwrap();
        }
        w.finish_segment().unwrap();
    }
    w.finish().unwrap().segments
}

fn read(path: &Path, segment: Segment) -> io::Result<Pairs> {
    let mut reader = RunReader::open(path, segment)?;
    let mut out = Vec::new();
    while let Some((k, v)) = reader.head() {
        out.push((k.to_vec(), v.to_vec()));
        reader.advance()?;
    }
    Ok(out)
}

/// Where each block starts and how long its data is, walking the headers (`raw_len:u32le
/// compressed_len:u32le crc:u32le`, then the data).
fn blocks(bytes: &[u8], segments: &[Segment]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for s in segments {
        let mut at = s.offset as usize;
        while at < (s.offset + s.len) as usize {
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            out.push((at, len));
            at += 12 + len;
        }
    }
    out
}

/// Reads every segment of the file at `path` after `change` was made to it (described by
/// `what`): at least one segment must fail as corrupt, naming the file, and the others must
/// read back exactly; nothing may allocate more than [`BOUND`] at once.
fn check_corrupt(path: &Path, segments: &[Segment], want: &[Pairs], what: &str) {
    let started = Instant::now();
    let mut failed = 0;
    for (segment, want) in segments.iter().zip(want) {
        let (got, largest) = largest_since(|| read(path, *segment));
        assert!(
            largest <= BOUND,
            "{what}: reading allocated {largest} bytes at once (at most {BOUND})"
        );
        match got {
            Ok(pairs) => assert!(&pairs == want, "{what}: a corrupt file read as other pairs"),
            Err(err) => {
                failed += 1;
                let message = err.to_string();
                assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{what}: {message}");
                assert!(
                    message.starts_with(&path.display().to_string())
                        && message.contains(" at byte ")
                        && message.contains("the spill file is corrupt"),
                    "{what}: {message}"
                );
            }
        }
    }
    assert!(failed > 0, "{what}: the corruption went unnoticed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{what}: {:?}",
        started.elapsed()
    );
}

#[test]
fn every_corrupt_header_field_and_block_is_an_error_within_a_bounded_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map-0.data");
    let want = segments();
    let segments = write(&path, &want);
    let good = std::fs::read(&path).unwrap();
    let blocks = blocks(&good, &segments);
    assert!(blocks.len() >= 8, "several blocks: {}", blocks.len());
    for (segment, want) in segments.iter().zip(&want) {
        assert_eq!(&read(&path, *segment).unwrap(), want);
    }

    let mut checked = 0;
    for &(at, len) in &blocks {
        // Every byte of the header, and the data's first, middle and last bytes.
        let positions = (at..at + 12).chain([at + 12, at + 12 + len / 2, at + 12 + len - 1]);
        for pos in positions {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[pos] ^= mask;
                std::fs::write(&path, &bytes).unwrap();
                let what = format!("byte {pos} (block at {at}) ^ {mask:#04x}");
                check_corrupt(&path, &segments, &want, &what);
                checked += 1;
            }
        }
    }
    assert!(checked > 8 * 15 * 3, "{checked}");
}

#[test]
fn a_length_of_u32_max_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map-0.data");
    let want = segments();
    let segments = write(&path, &want);
    let good = std::fs::read(&path).unwrap();
    for &(at, _) in &blocks(&good, &segments) {
        for (field, name) in [(0, "raw length"), (4, "compressed length")] {
            let mut bytes = good.clone();
            bytes[at + field..at + field + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            std::fs::write(&path, &bytes).unwrap();
            let what = format!("the {name} of the block at {at} set to u32::MAX");
            check_corrupt(&path, &segments, &want, &what);
        }
    }
}
