//! Planning input splits: which byte ranges of which files each map task reads. Finding the
//! record boundaries inside a range is left to the `read` module, which applies Hadoop's rule
//! (a split owns the lines whose first byte lies in its range).

use std::fmt;

use super::{Compression, InputFile};

/// Identifies one input split, and so one map task. Splits of a job are numbered 0, 1, 2… in
/// the order [`plan_splits`] returns them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SplitId(pub u32);

impl fmt::Display for SplitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "split {}", self.0)
    }
}

/// A byte range `start..end` of one file. For gzip it is always the whole file, `0..len`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileRange {
    /// Index of the file in the slice given to [`plan_splits`].
    pub file: usize,
    /// First byte of the range. The split owns every line whose first byte is in the range.
    pub start: u64,
    /// One past the last byte of the range; always `>= start`. The line that crosses `end` is
    /// read to its end.
    pub end: u64,
}

impl FileRange {
    /// Bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range holds no bytes (an empty file).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// The input of one map task: one piece of a large file, or several whole small files packed
/// together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputSplit {
    /// The split's number, unique within the job.
    pub id: SplitId,
    /// The ranges to read, in order; never empty. Each file appears at most once.
    pub ranges: Vec<FileRange>,
}

impl InputSplit {
    /// Total bytes of its ranges (compressed bytes for gzip).
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(FileRange::len).sum()
    }

    /// Whether its ranges hold no bytes at all (it packs only empty files).
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(FileRange::is_empty)
    }
}

/// Cuts `files` into splits of about `split_size` bytes, taking the files in the given order.
///
/// - A gzip file cannot be cut: it gets one split of its own, covering the whole file.
/// - A file larger than `split_size` is cut into pieces of `split_size` bytes, except that the
///   last piece absorbs a remainder smaller than 10% of `split_size` (Hadoop's `SPLIT_SLOP` of
///   1.1), so no task is left with a sliver.
/// - Files of at most `split_size` bytes are packed, in order, into splits that hold whole
///   files, until adding the next file would exceed `split_size`. Empty files are packed too;
///   they yield no records.
///
/// Split ids are 0, 1, 2… in order. No files give no splits. A `split_size` of 0 is taken as 1.
///
/// # Panics
///
/// If there are more than `u32::MAX` splits.
pub fn plan_splits(files: &[InputFile], split_size: u64) -> Vec<InputSplit> {
    let split_size = split_size.max(1);
    let mut planner = Planner {
        splits: Vec::new(),
        pack: Vec::new(),
        pack_len: 0,
    };
    for (index, file) in files.iter().enumerate() {
        let whole = FileRange {
            file: index,
            start: 0,
            end: file.len,
        };
        if file.compression == Compression::Gzip {
            planner.flush_pack();
            planner.push(vec![whole]);
        } else if file.len > split_size {
            planner.flush_pack();
            let mut start = 0;
            // Cut while the remainder would still be at least 1.1 pieces.
            while u128::from(file.len - start) * 10 >= u128::from(split_size) * 11 {
                planner.push(vec![FileRange {
                    file: index,
                    start,
                    end: start + split_size,
                }]);
                start += split_size;
            }
            planner.push(vec![FileRange {
                file: index,
                start,
                end: file.len,
            }]);
        } else {
            if !planner.pack.is_empty() && planner.pack_len + file.len > split_size {
                planner.flush_pack();
            }
            planner.pack_len += file.len;
            planner.pack.push(whole);
        }
    }
    planner.flush_pack();
    planner.splits
}

struct Planner {
    splits: Vec<InputSplit>,
    /// Whole small files waiting to be packed into the next split.
    pack: Vec<FileRange>,
    /// Total length of `pack`; at most the split size.
    pack_len: u64,
}

impl Planner {
    fn push(&mut self, ranges: Vec<FileRange>) {
        let id = u32::try_from(self.splits.len()).expect("more than u32::MAX input splits");
        self.splits.push(InputSplit {
            id: SplitId(id),
            ranges,
        });
    }

    fn flush_pack(&mut self) {
        if !self.pack.is_empty() {
            let ranges = std::mem::take(&mut self.pack);
            self.pack_len = 0;
            self.push(ranges);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(len: u64) -> InputFile {
        InputFile {
            path: format!("f{len}").into(),
            len,
            compression: Compression::None,
            modified_ns: 0,
        }
    }

    fn gzip(len: u64) -> InputFile {
        InputFile {
            path: format!("f{len}.gz").into(),
            len,
            compression: Compression::Gzip,
            modified_ns: 0,
        }
    }

    /// Each split's ranges as `(file, start, end)`.
    type Plan = Vec<Vec<(usize, u64, u64)>>;

    /// Splits as `[(file, start, end)]` lists, checking the ids on the way.
    fn plan(files: &[InputFile], split_size: u64) -> Plan {
        let splits = plan_splits(files, split_size);
        for (i, split) in splits.iter().enumerate() {
            assert_eq!(split.id, SplitId(i as u32));
            assert!(!split.ranges.is_empty());
        }
        splits
            .iter()
            .map(|s| s.ranges.iter().map(|r| (r.file, r.start, r.end)).collect())
            .collect()
    }

    #[test]
    fn large_files_are_cut_with_ten_percent_slop() {
        // (file length, split size, pieces)
        type Case = (u64, u64, &'static [(u64, u64)]);
        let cases: &[Case] = &[
            (100, 100, &[(0, 100)]),
            (101, 100, &[(0, 101)]),
            (109, 100, &[(0, 109)]),
            // A remainder of exactly 10% is not "smaller than 10%": it gets its own piece.
            (110, 100, &[(0, 100), (100, 110)]),
            (111, 100, &[(0, 100), (100, 111)]),
            (200, 100, &[(0, 100), (100, 200)]),
            (205, 100, &[(0, 100), (100, 205)]),
            (215, 100, &[(0, 100), (100, 200), (200, 215)]),
            (3, 1, &[(0, 1), (1, 2), (2, 3)]),
            (3, 0, &[(0, 1), (1, 2), (2, 3)]),
            (20, 10, &[(0, 10), (10, 20)]),
            (21, 10, &[(0, 10), (10, 20), (20, 21)]),
            (22, 10, &[(0, 10), (10, 20), (20, 22)]),
        ];
        for &(len, split_size, pieces) in cases {
            let want: Plan = pieces.iter().map(|&(s, e)| vec![(0, s, e)]).collect();
            assert_eq!(
                plan(&[plain(len)], split_size),
                want,
                "len {len}, split size {split_size}"
            );
        }
    }

    #[test]
    fn small_files_are_packed_in_order() {
        let files = [
            plain(30),
            plain(50),
            plain(20),
            plain(1),
            plain(0),
            plain(60),
            plain(40),
        ];
        assert_eq!(
            plan(&files, 100),
            [
                vec![(0, 0, 30), (1, 0, 50), (2, 0, 20)],
                vec![(3, 0, 1), (4, 0, 0), (5, 0, 60)],
                vec![(6, 0, 40)],
            ]
        );
    }

    #[test]
    fn gzip_and_large_files_interrupt_packing() {
        let files = [
            plain(10),
            gzip(500),
            plain(10),
            plain(250),
            plain(10),
            gzip(5),
            plain(0),
        ];
        assert_eq!(
            plan(&files, 100),
            [
                vec![(0, 0, 10)],
                vec![(1, 0, 500)],
                vec![(2, 0, 10)],
                vec![(3, 0, 100)],
                vec![(3, 100, 200)],
                vec![(3, 200, 250)],
                vec![(4, 0, 10)],
                vec![(5, 0, 5)],
                vec![(6, 0, 0)],
            ]
        );
    }

    #[test]
    fn edge_cases() {
        assert!(plan_splits(&[], 100).is_empty());
        // Only empty files: one split of nothing, which is allowed and reads nothing.
        let splits = plan_splits(&[plain(0), plain(0)], 100);
        assert_eq!(splits.len(), 1);
        assert_eq!(splits[0].len(), 0);
        assert!(splits[0].is_empty());
        // Huge sizes don't overflow.
        let splits = plan_splits(&[plain(u64::MAX)], u64::MAX / 2);
        assert_eq!(splits.len(), 2);
        assert_eq!(splits[1].ranges[0].end, u64::MAX);
    }

    #[test]
    fn pieces_cover_each_file_exactly() {
        for len in 0..60 {
            for split_size in 0..25 {
                let files = [plain(len), plain(len / 2), gzip(len)];
                let splits = plan_splits(&files, split_size);
                for (index, file) in files.iter().enumerate() {
                    let mut next = 0;
                    for range in splits
                        .iter()
                        .flat_map(|s| &s.ranges)
                        .filter(|r| r.file == index)
                    {
                        assert_eq!(range.start, next, "len {len} split size {split_size}");
                        next = range.end;
                    }
                    assert_eq!(next, file.len);
                }
                for split in &splits {
                    // Packed splits stay within the size; single pieces stay under 1.1 sizes.
                    let size = split_size.max(1);
                    let first = &files[split.ranges[0].file];
                    if first.compression == Compression::Gzip {
                        assert_eq!(split.ranges.len(), 1);
                    } else if split.ranges.len() == 1 {
                        assert!(split.len() * 10 < size * 11, "{split:?}");
                    } else {
                        assert!(split.len() <= size, "{split:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn split_lengths_and_display() {
        let split = InputSplit {
            id: SplitId(7),
            ranges: vec![
                FileRange {
                    file: 0,
                    start: 10,
                    end: 25,
                },
                FileRange {
                    file: 1,
                    start: 0,
                    end: 5,
                },
            ],
        };
        assert_eq!(split.len(), 20);
        assert!(!split.is_empty());
        assert_eq!(split.id.to_string(), "split 7");
        assert!(SplitId(2) < SplitId(10));
    }
}
