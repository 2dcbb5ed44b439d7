//! Names for the units of work: tasks, partitions, attempts.

use crate::input::SplitId;
use std::fmt;

/// One reduce partition: the keys that hash to it and the `part-NNNNN` file it becomes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct PartitionId(pub u32);

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partition {}", self.0)
    }
}

/// A task: a map task reads one split, a reduce task writes one partition.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum TaskId {
    /// Maps one input split.
    Map(SplitId),
    /// Reduces one partition.
    Reduce(PartitionId),
    /// Combines one share of a hot key's pairs (`--hot-key`, `--salt`) for its partition's
    /// reduce: share `n % salt` of hot key `n / salt`.
    Combine(u32),
}

impl TaskId {
    /// The name its files and records go by: `map-3`, `reduce-0`.
    pub fn name(self) -> String {
        match self {
            TaskId::Map(s) => format!("map-{}", s.0),
            TaskId::Reduce(p) => format!("reduce-{}", p.0),
            TaskId::Combine(n) => format!("combine-{n}"),
        }
    }

    /// A stable number for the task, used to seed its deterministic random numbers.
    pub fn seed(self) -> u64 {
        match self {
            TaskId::Map(s) => u64::from(s.0),
            TaskId::Reduce(p) => (1 << 32) | u64::from(p.0),
            TaskId::Combine(n) => (2 << 32) | u64::from(n),
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskId::Map(split) => write!(f, "map task {} ({split})", split.0),
            TaskId::Reduce(partition) => write!(f, "reduce task {} ({partition})", partition.0),
            TaskId::Combine(n) => write!(f, "combine task {n} (a share of a hot key)"),
        }
    }
}
