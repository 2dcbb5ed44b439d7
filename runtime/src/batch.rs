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
    /// Output partition names, such as `date=2026-03-22`.
    pub partitions: Vec<String>,
    /// One route per record, or empty when all go to the top level.
    pub routes: Vec<u32>,
}

impl OutputBatch {
    /// The output partition of record `i`, or `None` for the top level.
    pub fn partition(&self, i: usize) -> Option<&str> {
        match self.routes.get(i) {
            Some(&r) if r > 0 => Some(&self.partitions[r as usize - 1]),
            _ => None,
        }
    }

    /// Checks the offsets, that every record has a route to a named partition, and that every
    /// partition name is a safe relative directory.
    ///
    /// # Errors
    /// A description of the first problem.
    pub fn validate(&self) -> Result<(), String> {
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
        self.partitions
            .iter()
            .try_for_each(|p| check_partition_name(p))
    }
}

/// Checks that an output partition name is a relative directory of safe segments: letters,
/// digits and `=-_.+%:`, none empty, `.`, `..`, or starting with `_` or `.` (those are hidden
/// from readers) or `part-` (the names of part files): names Sandmill writes itself cannot be
/// chosen by a plugin.
///
/// # Errors
/// What is wrong with the name.
pub fn check_partition_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("output partition {name:?} {why}"));
    if name.is_empty() || name.len() > 1024 {
        return bad("must be 1 to 1024 bytes");
    }
    for segment in name.split('/') {
        if segment.is_empty() || segment.starts_with(['.', '_']) {
            return bad("has an empty segment or one starting with `.` or `_`");
        }
        if segment.starts_with("part-") {
            return bad(&format!(
                "has a segment {segment:?} starting with `part-`: Sandmill names its part files \
                 so, and a plugin may not choose such a name"
            ));
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "=-_.+%:".contains(c))
        {
            return bad(
                "may only hold letters, digits and `=-_.+%:` in each `/`-separated segment",
            );
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

    #[test]
    fn output_routes_and_partition_names_are_checked() {
        let mut records = Flat::default();
        records.push(b"a");
        records.push(b"b");
        let ok = OutputBatch {
            records: records.clone(),
            partitions: vec!["date=2026-03-22".into(), "a=1/b=2".into()],
            routes: vec![2, 0],
        };
        assert!(ok.validate().is_ok());
        assert_eq!((ok.partition(0), ok.partition(1)), (Some("a=1/b=2"), None));
        let bad_route = OutputBatch {
            routes: vec![3, 0],
            ..ok.clone()
        };
        assert!(bad_route.validate().unwrap_err().contains("route 3"));
        let short = OutputBatch {
            routes: vec![1],
            ..ok.clone()
        };
        assert!(short.validate().is_err());
        for name in [
            "",
            "../x",
            "a//b",
            "/abs",
            "_hidden",
            ".x",
            "a b",
            "x/..",
            "ok/_tmp",
            "part-00000",
            "date=1/part-00003",
            "part-",
            "a\u{1b}[2J",
        ] {
            assert!(check_partition_name(name).is_err(), "{name:?}");
        }
        for name in [
            "date=2026-03-22",
            "a=1/b=2",
            "US",
            "v1.2+3",
            "part",
            "a/xpart-1",
            "parts",
        ] {
            assert!(check_partition_name(name).is_ok(), "{name:?}");
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
