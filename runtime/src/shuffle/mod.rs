//! The shuffle: partitioning map output, sorting it into runs, combining, and merging runs
//! into key groups for the reduce. Plain Rust: it never sees a plugin.
//!
//! ```text
//!  map task ─► MapOutputWriter (sort, combine, spill) ─► runs: in memory or map-N.data ┐
//!  map task ─► MapOutputWriter                        ─► runs                          ├─► Merger ─► groups ─► reduce
//!  ...                                                                                 ┘   (one per partition)
//! ```
//!
//! Runs are sorted by key, then value, so a reduce sees each key's values in byte order and
//! the output does not depend on which map task finished first.

mod aggregate;
mod buffer;
mod groups;
mod local;
mod merge;
mod order;
mod partition;
mod spill;
mod writer;

pub use aggregate::HashAggregator;
pub use buffer::BufferGroups;
pub use buffer::SortBuffer;
pub use groups::{GroupBatcher, check_combined, combine_with_batches};
pub use local::{MemoryBudget, ShuffleDir, default_memory};
pub use merge::{
    Accumulator, CombineError, GroupSource, MergeError, Merger, Run, RunCursor, copy_groups,
    merge_groups,
};
pub use partition::{Partitioner, hash};
pub use spill::{BLOCK_BYTES, PairSink, RunFile, RunFileWriter, RunReader, Segment};
pub use writer::{Combine, MapOutputWriter, MapRuns, RunSource, WriteError, WriteStats};
