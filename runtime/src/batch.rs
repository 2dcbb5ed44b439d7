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
    pub fn push(&mut self, item: &[u8]) {
        self.data.extend_from_slice(item);
        self.ends.push(self.data.len() as u32);
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
