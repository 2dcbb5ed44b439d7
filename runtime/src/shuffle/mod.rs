//! The shuffle: partitioning map output, sorting it into runs, combining, and merging runs
//! into key groups for the reduce. Plain Rust: it never sees a plugin.
//!
//! ```text
//!  map task ─► SortBuffer ─finish─► Run per partition ─combine─► Run ┐
//!  map task ─► SortBuffer ─finish─► Run per partition ─combine─► Run ├─► Merger ─► groups ─► reduce
//!  ...                                                               ┘   (one per partition)
//! ```
//!
//! Runs are sorted by key, then value, so a reduce sees each key's values in byte order and
//! the output does not depend on which map task finished first.

mod buffer;
mod groups;
mod merge;
mod partition;

pub use buffer::SortBuffer;
pub use groups::{CombineError, GroupBatcher, combine_with_batches};
pub use merge::{Accumulator, GroupSource, MergeError, Merger, Run, merge_groups};
pub use partition::{Partitioner, hash};
