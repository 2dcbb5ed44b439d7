//! Flat batches: how records, pairs and key groups are laid out in memory and across the
//! plugin boundary (one byte buffer plus end offsets, never a list of small lists).

/// Items back to back in `data`; item `i` ends at `ends[i]`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flat {
    /// All items.
    pub data: Vec<u8>,
    /// Each item's end offset in `data`.
    pub ends: Vec<u32>,
}

impl Flat {
    /// The number of items.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends an item.
    ///
    /// # Panics
    /// If the data would pass 4 GiB, which the boundary's `u32` offsets cannot address. Every
    /// batch the host builds is bounded far below that (input batches by `BatchLimits`, group
    /// batches by their byte budget plus one value of at most `--max-call-data`), so this is a
    /// bug, never a silent wrap.
    pub fn push(&mut self, item: &[u8]) {
        self.data.extend_from_slice(item);
        let end = u32::try_from(self.data.len()).expect("a flat batch stays under 4 GiB");
        self.ends.push(end);
    }

    /// Item `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// Empties it, keeping its buffers.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Checks that the ends are non-decreasing and within `data`.
    ///
    /// # Errors
    /// A description of the first bad offset.
    pub fn validate(&self) -> Result<(), String> {
        let mut prev = 0;
        for &e in &self.ends {
            if e < prev || e as usize > self.data.len() {
                return Err(format!(
                    "end offset {e} is out of order or past the {} bytes of data",
                    self.data.len()
                ));
            }
            prev = e;
        }
        Ok(())
    }

    /// The items, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&e| {
            let item = &self.data[start..e as usize];
            start = e as usize;
            item
        })
    }
}

/// A batch of key groups for a reduce or combine call: group `i` has key `keys[i]` and values
/// `values[group_ends[i - 1]..group_ends[i]]`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupBatch {
    /// One key per group, ascending.
    pub keys: Flat,
    /// All groups' values.
    pub values: Flat,
    /// Each group's end index into `values`.
    pub group_ends: Vec<u32>,
    /// The last group continues: the plugin pulls the rest through the [`ValueFeed`].
    pub last_continues: bool,
}

impl GroupBatch {
    /// Empties it, keeping its buffers.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
        self.group_ends.clear();
        self.last_continues = false;
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.group_ends.len()
    }

    /// Whether it holds no group.
    pub fn is_empty(&self) -> bool {
        self.group_ends.is_empty()
    }

    /// Bytes of keys and values.
    pub fn bytes(&self) -> usize {
        self.keys.data.len() + self.values.data.len()
    }
}

/// Output records from a reduce call, each routed to the top level (route 0) or to an output
/// partition (route `i` names `partitions[i - 1]`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OutputBatch {
    /// The records.
    pub records: Flat,
    /// Output partition names, such as `date=2026-03-22`, as the plugin gave them: each is
    /// checked with [`check_partition_name`] before a record is written to it.
    pub partitions: Vec<String>,
    /// One route per record, or empty when all go to the top level.
    pub routes: Vec<u32>,
    /// One end index into `records` per group of the call's batch: group `i` wrote records
    /// `group_ends[i - 1]..group_ends[i]`.
    pub group_ends: Vec<u32>,
}

impl OutputBatch {
    /// The output partition of record `i`, or `None` for the top level.
    pub fn partition(&self, i: usize) -> Option<&str> {
        match self.routes.get(i) {
            Some(&r) if r > 0 => Some(&self.partitions[r as usize - 1]),
            _ => None,
        }
    }

    /// Moves every record below the output partition `prefix` (`--output-partition`): a
    /// top-level record into `prefix`, one routed to `p` into `prefix/p`.
    pub fn place_under(&mut self, prefix: &str) {
        self.partitions = std::iter::once(prefix.to_owned())
            .chain(self.partitions.iter().map(|p| format!("{prefix}/{p}")))
            .collect();
        if self.routes.is_empty() {
            self.routes = vec![1; self.records.len()];
        } else {
            for route in &mut self.routes {
                *route += 1;
            }
        }
    }

    /// The group (an index into the call's batch) that wrote record `i`.
    pub fn group_of(&self, i: usize) -> usize {
        self.group_ends.partition_point(|&end| end as usize <= i)
    }

    /// Checks the layout of a batch returned for `groups` groups: the offsets, that every
    /// record has a route to a named partition, and one group end per group, in order, ending
    /// at the last record. Partition names are not checked: a bad name is a bad record, not a
    /// broken batch.
    ///
    /// # Errors
    /// A description of the first problem.
    pub fn validate(&self, groups: usize) -> Result<(), String> {
        self.records.validate()?;
        if !self.routes.is_empty() && self.routes.len() != self.records.len() {
            return Err(format!(
                "{} routes for {} records",
                self.routes.len(),
                self.records.len()
            ));
        }
        if let Some(r) = self
            .routes
            .iter()
            .find(|&&r| r as usize > self.partitions.len())
        {
            return Err(format!("route {r} names no partition"));
        }
        if self.group_ends.len() != groups {
            return Err(format!(
                "{} group ends for a batch of {groups} groups",
                self.group_ends.len()
            ));
        }
        if self.group_ends.is_sorted()
            && self.group_ends.last().map_or(0, |&e| e as usize) == self.records.len()
        {
            Ok(())
        } else {
            Err(format!(
                "group ends are out of order or do not end at the last of the {} records",
                self.records.len()
            ))
        }
    }

    /// Drops the records `drop` marks (one flag per record), keeping the others' routes and
    /// groups.
    pub fn drop_records(&mut self, drop: &[bool]) {
        let mut kept = OutputBatch {
            partitions: std::mem::take(&mut self.partitions),
            ..OutputBatch::default()
        };
        let mut group = 0;
        for (i, &dropped) in drop.iter().enumerate().take(self.records.len()) {
            while self.group_ends.get(group).is_some_and(|&e| e as usize <= i) {
                kept.group_ends.push(kept.records.len() as u32);
                group += 1;
            }
            if !dropped {
                kept.records.push(self.records.get(i));
                if !self.routes.is_empty() {
                    kept.routes.push(self.routes[i]);
                }
            }
        }
        kept.group_ends
            .resize(self.group_ends.len(), kept.records.len() as u32);
        *self = kept;
    }
}

/// The characters besides ASCII letters and digits that a segment of an output partition name
/// may hold: what `sandmill_sdk::partition::escape` keeps (`-_.+`, its `UNESCAPED`), and the
/// `=` and `%` it and `Partition` write. A unit test holds the SDK to the same set.
pub const SEGMENT_PUNCTUATION: &str = "-_.+=%";

/// The longest output partition name, and the longest segment of one (the file name limit of
/// common filesystems).
pub const MAX_PARTITION_NAME: usize = 1024;
/// See [`MAX_PARTITION_NAME`].
pub const MAX_PARTITION_SEGMENT: usize = 255;

/// Checks that an output partition name is a relative directory of safe segments: 1 to 1024
/// bytes, each segment 1 to 255 bytes of ASCII letters, digits and `-_.+=%`
/// ([`SEGMENT_PUNCTUATION`]), none starting with `.` or `_` (those are hidden from readers) or
/// `part-` (the names of part files): names Sandmill writes itself cannot be chosen by a
/// plugin. Keys and values escaped with `sandmill_sdk::partition::escape` always pass.
///
/// # Errors
/// What is wrong with the name, to follow the name in a sentence (`holds ","; …`).
pub fn check_partition_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_PARTITION_NAME {
        return Err(format!(
            "is {} bytes long; a name is 1 to {MAX_PARTITION_NAME} bytes",
            name.len()
        ));
    }
    for segment in name.split('/') {
        if segment.is_empty() {
            return Err("has an empty segment (`//`, or `/` at an end)".into());
        }
        if segment.len() > MAX_PARTITION_SEGMENT {
            return Err(format!(
                "has a segment of {} bytes; a segment is at most {MAX_PARTITION_SEGMENT}",
                segment.len()
            ));
        }
        if let Some(c) = segment
            .chars()
            .find(|&c| !c.is_ascii_alphanumeric() && !SEGMENT_PUNCTUATION.contains(c))
        {
            return Err(format!(
                "holds {c:?}; each `/`-separated segment may only hold ASCII letters, digits \
                 and `{SEGMENT_PUNCTUATION}`"
            ));
        }
        if segment.starts_with(['.', '_']) {
            return Err(format!(
                "has a segment {segment:?} starting with `.` or `_`, which readers hide"
            ));
        }
        if segment.starts_with("part-") {
            return Err(format!(
                "has a segment {segment:?} starting with `part-`: Sandmill names its part files \
                 so, and a plugin may not choose such a name"
            ));
        }
    }
    Ok(())
}

/// Where a plugin pulls the rest of a group's values from (`host.next-values`), when a group
/// is too large for one batch.
pub trait ValueFeed: Send {
    /// The next chunk of the current group's values, or `None` when the group has no more.
    fn next_chunk(&mut self) -> Option<Flat>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(items: &[&[u8]]) -> Flat {
        let mut flat = Flat::default();
        for item in items {
            flat.push(item);
        }
        flat
    }

    #[test]
    fn output_routes_and_group_ends_are_checked() {
        let mut records = Flat::default();
        records.push(b"a");
        records.push(b"b");
        let ok = OutputBatch {
            records: records.clone(),
            partitions: vec!["date=2026-03-22".into(), "k=a,b".into()],
            routes: vec![2, 0],
            group_ends: vec![0, 2],
        };
        assert!(ok.validate(2).is_ok(), "a bad name is not a broken batch");
        assert_eq!((ok.partition(0), ok.partition(1)), (Some("k=a,b"), None));
        assert_eq!((ok.group_of(0), ok.group_of(1)), (1, 1));
        let bad_route = OutputBatch {
            routes: vec![3, 0],
            ..ok.clone()
        };
        assert!(bad_route.validate(2).unwrap_err().contains("route 3"));
        let short = OutputBatch {
            routes: vec![1],
            ..ok.clone()
        };
        assert!(short.validate(2).is_err());
        assert!(ok.validate(3).unwrap_err().contains("2 group ends"));
        for group_ends in [vec![2, 1], vec![0, 1], vec![1, 3]] {
            let bad = OutputBatch {
                group_ends: group_ends.clone(),
                ..ok.clone()
            };
            assert!(bad.validate(2).is_err(), "{group_ends:?}");
        }
    }

    #[test]
    fn dropped_records_keep_their_neighbours_routes_and_groups() {
        let mut out = OutputBatch {
            partitions: vec!["p=1".into()],
            group_ends: vec![2, 2, 4],
            ..OutputBatch::default()
        };
        for (record, route) in [("a", 1), ("b", 0), ("c", 1), ("d", 0)] {
            out.records.push(record.as_bytes());
            out.routes.push(route);
        }
        out.drop_records(&[true, false, false, true]);
        assert_eq!(out.records.iter().collect::<Vec<_>>(), [&b"b"[..], b"c"]);
        assert_eq!(out.routes, [0, 1]);
        assert_eq!(out.group_ends, [1, 1, 2]);
        assert_eq!(out.partitions, ["p=1"]);
        assert!(out.validate(3).is_ok());
    }

    #[test]
    fn records_placed_under_a_partition_keep_their_own_below_it() {
        let mut batch = OutputBatch {
            records: flat(&[b"top", b"routed"]),
            partitions: vec!["city=Oslo".into()],
            routes: vec![0, 1],
            group_ends: vec![2],
        };
        batch.place_under("date=2026-03-22");
        assert_eq!(batch.partition(0), Some("date=2026-03-22"));
        assert_eq!(batch.partition(1), Some("date=2026-03-22/city=Oslo"));
        let mut all_top = OutputBatch {
            records: flat(&[b"a", b"b"]),
            group_ends: vec![2],
            ..OutputBatch::default()
        };
        all_top.place_under("d=1");
        assert_eq!(all_top.partition(0), Some("d=1"));
        assert_eq!(all_top.partition(1), Some("d=1"));
        assert_eq!(all_top.validate(1), Ok(()));
    }

    #[test]
    fn partition_names_are_checked() {
        let long_segment = format!("k={}", "v".repeat(254));
        let long_name = ["k=v"; 300].join("/");
        for (name, why) in [
            ("", "1 to 1024 bytes"),
            (&long_name, "1 to 1024 bytes"),
            ("../x", "starting with `.`"),
            ("a//b", "empty segment"),
            ("/abs", "empty segment"),
            ("a/", "empty segment"),
            ("_hidden", "starting with `.` or `_`"),
            (".x", "starting with `.` or `_`"),
            ("x/..", "starting with `.`"),
            ("ok/_tmp", "starting with `.` or `_`"),
            ("part-00000", "`part-`"),
            ("date=1/part-00003", "`part-`"),
            ("part-", "`part-`"),
            ("a b", "holds ' '"),
            ("k=a,b", "holds ','"),
            ("time=10:30", "holds ':'"),
            ("city=São", "holds 'ã'"),
            ("a\u{1b}[2J", "holds '\\u{1b}'"),
            (&long_segment, "segment of 256 bytes"),
        ] {
            let err = check_partition_name(name).unwrap_err();
            assert!(err.contains(why), "{name:?}: {err}");
        }
        for name in [
            "date=2026-03-22",
            "a=1/b=2",
            "US",
            "v1.2+3",
            "part",
            "a/xpart-1",
            "parts",
            "city=S%C3%A3o%20Paulo%2C%20BR",
            "=",
            &format!("k={}", "v".repeat(253)),
        ] {
            assert_eq!(check_partition_name(name), Ok(()), "{name:?}");
        }
    }

    /// The SDK's `partition` module escapes for this module's rule: it keeps exactly the
    /// characters a segment may hold (but the `=` and `%` it writes itself), and whatever it
    /// builds passes the check.
    mod sdk_escaping {
        use super::super::{MAX_PARTITION_SEGMENT, check_partition_name};
        use proptest::prelude::*;
        use sandmill_sdk::partition::{Partition, escape};

        #[test]
        fn escape_keeps_exactly_what_a_segment_may_hold() {
            let chars = (0..=0x7f)
                .filter_map(char::from_u32)
                .chain(['ã', '€', '\u{202e}']);
            for c in chars {
                let text = format!("k{c}");
                let allowed = check_partition_name(&text).is_ok();
                let kept = escape(&text) == text;
                assert_eq!(allowed, kept || c == '=' || c == '%', "{c:?}");
            }
        }

        proptest! {
            #[test]
            fn every_escaped_partition_passes(
                // At most 8 characters of 4 bytes, escaped to 12 each: every segment fits in
                // 255 bytes and the name in 1024, so only the characters decide.
                pairs in prop::collection::vec((".{0,8}", ".{0,8}"), 1..4)
            ) {
                let p = pairs.iter().fold(Partition::new(), |p, (k, v)| p.key(k, v));
                prop_assert_eq!(check_partition_name(p.as_str()), Ok(()), "{:?}", pairs);
            }

            #[test]
            fn every_escaped_text_is_a_segment(s in ".{1,21}") {
                prop_assert!(escape(&s).len() <= MAX_PARTITION_SEGMENT);
                prop_assert_eq!(check_partition_name(&escape(&s)), Ok(()), "{:?}", s);
            }
        }
    }

    #[test]
    fn flat_push_get_iter_and_validate() {
        let mut f = Flat::default();
        for item in [&b"ab"[..], b"", b"c"] {
            f.push(item);
        }
        assert_eq!(f.len(), 3);
        assert_eq!(f.get(0), b"ab");
        assert_eq!(f.get(1), b"");
        assert_eq!(f.iter().collect::<Vec<_>>(), [&b"ab"[..], b"", b"c"]);
        assert!(f.validate().is_ok());
        let bad = Flat {
            data: b"abc".to_vec(),
            ends: vec![2, 1],
        };
        assert!(bad.validate().unwrap_err().contains("out of order"));
        let past = Flat {
            data: b"abc".to_vec(),
            ends: vec![4],
        };
        assert!(past.validate().is_err());
    }
}
