//! The native merges: how the host combines one key's values without calling the plugin.
//!
//! The plugin names one in its `configure` answer (the WIT `merge-policy`); `plugin` turns
//! that binding value into a [`MergePolicy`], so the shuffle, which runs the merge, never
//! depends on the plugin module. The merges themselves are in [`super::merge`]
//! ([`super::Accumulator`]) and, for the order-free ones, in [`super::HashAggregator`].

/// A merge the host runs natively on the values of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergePolicy {
    /// Lane-wise sum of 8-byte order-preserving `i64`s.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum of one-lane counts.
    Count,
    /// First value.
    First,
    /// Last value.
    Last,
    /// All values concatenated.
    Append,
}
