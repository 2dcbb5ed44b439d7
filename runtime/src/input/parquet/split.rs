//! Planning the splits of Parquet files: row groups are packed into splits of about
//! `--split-size` bytes of compressed data, and a split never cuts a row group. Which row
//! groups a split's byte range owns is the reader's rule: those that start inside it.

use crate::input::{FileRange, InputSplit, SplitId};

/// Where one row group lies in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowGroupSpan {
    /// The offset of its first column chunk (its dictionary page, if it has one).
    pub start: u64,
    /// Its compressed bytes: its column chunks, pages and headers.
    pub compressed: u64,
}

/// One Parquet file to plan: its length and its row groups, in file order.
#[derive(Debug, Clone)]
pub struct ParquetLayout {
    /// The file's size in bytes.
    pub len: u64,
    /// Its row groups in the order the footer lists them (by `start`).
    pub row_groups: Vec<RowGroupSpan>,
}

/// Cuts Parquet files into splits of about `split_size` compressed bytes, taking the files in
/// the given order (`layouts[i]` is file `i`).
///
/// - A file whose row groups take at most `split_size` bytes in all is a whole-file range,
///   and such files are packed, in order, into splits that hold whole files, until adding the
///   next one would exceed `split_size` (as for other formats).
/// - A larger file is cut between row groups: each split takes the next row groups while they
///   fit into `split_size` bytes (at least one, however large). Its byte range runs from the
///   start of its first row group (0 for the file's first split) to the start of the next
///   split's first row group (the file's end for the last), so a file's ranges cover it whole
///   and a row group starts in exactly one of them.
///
/// Split ids are 0, 1, 2… in order. A `split_size` of 0 is taken as 1.
///
/// # Panics
/// If there are more than `u32::MAX` splits.
pub fn plan_row_group_splits(layouts: &[ParquetLayout], split_size: u64) -> Vec<InputSplit> {
    let split_size = split_size.max(1);
    let mut splits: Vec<Vec<FileRange>> = Vec::new();
    let mut pack: Vec<FileRange> = Vec::new();
    let mut pack_len = 0;
    for (file, layout) in layouts.iter().enumerate() {
        let total: u64 = layout.row_groups.iter().map(|g| g.compressed).sum();
        if total <= split_size {
            if !pack.is_empty() && pack_len + total > split_size {
                splits.push(std::mem::take(&mut pack));
                pack_len = 0;
            }
            pack_len += total;
            pack.push(FileRange {
                file,
                start: 0,
                end: layout.len,
            });
            continue;
        }
        if !pack.is_empty() {
            splits.push(std::mem::take(&mut pack));
            pack_len = 0;
        }
        // The index of each split's first row group.
        let mut firsts = vec![0];
        let mut taken = 0;
        for (i, group) in layout.row_groups.iter().enumerate() {
            if taken > 0 && taken + group.compressed > split_size {
                firsts.push(i);
                taken = 0;
            }
            taken += group.compressed;
        }
        for (k, &first) in firsts.iter().enumerate() {
            let start = if k == 0 {
                0
            } else {
                layout.row_groups[first].start
            };
            let end = match firsts.get(k + 1) {
                Some(&next) => layout.row_groups[next].start,
                None => layout.len,
            };
            splits.push(vec![FileRange { file, start, end }]);
        }
    }
    if !pack.is_empty() {
        splits.push(pack);
    }
    splits
        .into_iter()
        .enumerate()
        .map(|(i, ranges)| InputSplit {
            id: SplitId(u32::try_from(i).expect("more than u32::MAX input splits")),
            ranges,
        })
        .collect()
}

/// The row groups of `layout` that the byte range `start..end` owns: those that start in it.
pub fn owned_row_groups(row_groups: &[RowGroupSpan], start: u64, end: u64) -> Vec<usize> {
    (0..row_groups.len())
        .filter(|&i| (start..end).contains(&row_groups[i].start))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A file of row groups of the given compressed sizes, laid out back to back after the
    /// 4-byte magic, with an 8-byte footer.
    fn layout(sizes: &[u64]) -> ParquetLayout {
        let mut start = 4;
        let row_groups = sizes
            .iter()
            .map(|&compressed| {
                let g = RowGroupSpan { start, compressed };
                start += compressed;
                g
            })
            .collect();
        ParquetLayout {
            len: start + 8,
            row_groups,
        }
    }

    fn plan(layouts: &[ParquetLayout], split_size: u64) -> Vec<Vec<(usize, u64, u64)>> {
        plan_row_group_splits(layouts, split_size)
            .iter()
            .map(|s| s.ranges.iter().map(|r| (r.file, r.start, r.end)).collect())
            .collect()
    }

    #[test]
    fn row_groups_are_packed_and_never_cut() {
        // Row groups of 40 bytes at 4, 44, 84, 124; the file is 172 bytes.
        let file = layout(&[40, 40, 40, 40]);
        assert_eq!(plan(std::slice::from_ref(&file), 1000), [[(0, 0, 172)]]);
        assert_eq!(plan(std::slice::from_ref(&file), 160), [[(0, 0, 172)]]);
        assert_eq!(
            plan(std::slice::from_ref(&file), 80),
            [[(0, 0, 84)], [(0, 84, 172)]]
        );
        assert_eq!(
            plan(std::slice::from_ref(&file), 100),
            [[(0, 0, 84)], [(0, 84, 172)]]
        );
        // A row group larger than the split size is one split, not cut.
        assert_eq!(
            plan(&[file], 10),
            [[(0, 0, 44)], [(0, 44, 84)], [(0, 84, 124)], [(0, 124, 172)]]
        );
        let uneven = layout(&[10, 500, 10, 10]);
        assert_eq!(
            plan(&[uneven], 100),
            [[(0, 0, 14)], [(0, 14, 514)], [(0, 514, 542)]]
        );
    }

    #[test]
    fn small_files_are_packed_whole_and_empty_files_too() {
        let small = layout(&[30]);
        let empty = layout(&[]);
        let big = layout(&[60, 60]);
        assert_eq!(
            plan(
                &[
                    small.clone(),
                    empty.clone(),
                    small.clone(),
                    big,
                    small.clone()
                ],
                70
            ),
            vec![
                vec![(0, 0, 42), (1, 0, 12), (2, 0, 42)],
                vec![(3, 0, 64)],
                vec![(3, 64, 132)],
                vec![(4, 0, 42)],
            ]
        );
        assert!(plan(&[], 10).is_empty());
    }

    proptest! {
        /// Every row group is owned by exactly one split, in file order, and splits take at
        /// most the split size unless they hold a single row group or whole small files.
        #[test]
        fn each_row_group_is_read_once(
            files in proptest::collection::vec(proptest::collection::vec(1u64..200, 0..12), 1..5),
            split_size in 1u64..600,
        ) {
            let layouts: Vec<ParquetLayout> = files.iter().map(|f| layout(f)).collect();
            let splits = plan_row_group_splits(&layouts, split_size);
            let mut owned: Vec<(usize, usize)> = Vec::new();
            for (i, split) in splits.iter().enumerate() {
                prop_assert_eq!(split.id, SplitId(i as u32));
                prop_assert!(!split.ranges.is_empty());
                let mut bytes = 0;
                let mut groups = 0;
                for r in &split.ranges {
                    for g in owned_row_groups(&layouts[r.file].row_groups, r.start, r.end) {
                        owned.push((r.file, g));
                        bytes += layouts[r.file].row_groups[g].compressed;
                        groups += 1;
                    }
                }
                prop_assert!(bytes <= split_size || groups == 1, "{:?}", split);
            }
            let all: Vec<(usize, usize)> = layouts
                .iter()
                .enumerate()
                .flat_map(|(f, l)| (0..l.row_groups.len()).map(move |g| (f, g)))
                .collect();
            prop_assert_eq!(owned, all);
            // A file's ranges cover it whole, so the splits add up to the input.
            let total: u64 = splits.iter().map(InputSplit::len).sum();
            prop_assert_eq!(total, layouts.iter().map(|l| l.len).sum::<u64>());
        }
    }
}
