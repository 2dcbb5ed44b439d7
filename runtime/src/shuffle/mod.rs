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
mod policy;
mod radix;
mod range;
mod run;
mod spill;
mod writer;

pub use aggregate::HashAggregator;
pub use buffer::BufferGroups;
pub use buffer::SortBuffer;
pub use groups::{GroupBatcher, check_combined, combine_with_batches};
pub use local::{MemoryBudget, ShuffleDir, default_memory};
pub use merge::{
    Accumulator, CombineError, GroupSource, MergeError, Merger, RunCursor, copy_groups,
    merge_groups,
};
pub use partition::{Partitioner, hash};
pub use policy::MergePolicy;
pub use range::cut_points;
pub use run::{PairSink, Run};
pub use spill::{BLOCK_BYTES, RunFile, RunFileWriter, RunReader, Segment};
pub use writer::{Combine, MapOutputWriter, MapRuns, RunSource, WriteError, WriteStats};

#[cfg(test)]
mod tests {
    /// Every file of the shuffle, by module name (`mod` for this one).
    const SOURCES: &[(&str, &str)] = &[
        ("mod", include_str!("mod.rs")),
        ("aggregate", include_str!("aggregate.rs")),
        ("buffer", include_str!("buffer.rs")),
        ("groups", include_str!("groups.rs")),
        ("local", include_str!("local.rs")),
        ("merge", include_str!("merge.rs")),
        ("order", include_str!("order.rs")),
        ("partition", include_str!("partition.rs")),
        ("policy", include_str!("policy.rs")),
        ("radix", include_str!("radix.rs")),
        ("range", include_str!("range.rs")),
        ("run", include_str!("run.rs")),
        ("spill", include_str!("spill.rs")),
        ("writer", include_str!("writer.rs")),
    ];

    /// The modules above the shuffle in `lib.rs`'s graph, or beside it under `map` and
    /// `reduce`: the shuffle names none of them, not even in a test or a doc link.
    const NOT_BELOW: &[&str] = &["plugin", "map", "reduce", "schedule", "commit"];

    /// The shuffle modules `source` names (as `super::x` or `crate::shuffle::x`) outside its
    /// tests.
    fn uses(source: &str) -> std::collections::BTreeSet<&'static str> {
        let code = source
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or(source);
        SOURCES
            .iter()
            .map(|&(name, _)| name)
            .filter(|name| {
                [
                    format!("super::{name}::"),
                    format!("crate::shuffle::{name}::"),
                ]
                .iter()
                .any(|path| code.contains(path.as_str()))
            })
            .collect()
    }

    #[test]
    fn every_shuffle_file_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/shuffle");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rs"))
            .collect();
        files.sort();
        let mut listed: Vec<String> = SOURCES.iter().map(|(m, _)| format!("{m}.rs")).collect();
        listed.sort();
        assert_eq!(files, listed, "add the new file to SOURCES");
    }

    /// `lib.rs` says `{map, reduce} → shuffle`: the shuffle imports nothing above it.
    #[test]
    fn the_shuffle_depends_on_no_module_above_it() {
        for (file, source) in SOURCES {
            for module in NOT_BELOW {
                let path = format!("crate::{module}");
                assert!(
                    !source.contains(&path),
                    "shuffle/{file}.rs names {path}: the shuffle must not depend on it; move \
                     what it needs into the shuffle (as `policy::MergePolicy` was)"
                );
            }
        }
    }

    /// The shuffle's own modules depend on each other in one direction: no cycles.
    #[test]
    fn the_shuffle_modules_form_no_cycle() {
        let graph: std::collections::BTreeMap<&str, _> = SOURCES
            .iter()
            .filter(|(name, _)| *name != "mod")
            .map(|&(name, source)| (name, uses(source)))
            .collect();
        // Depth-first from each module, carrying the path: meeting a module on the path again
        // is a cycle.
        fn visit<'a>(
            graph: &std::collections::BTreeMap<&'a str, std::collections::BTreeSet<&'a str>>,
            module: &'a str,
            path: &mut Vec<&'a str>,
        ) {
            if let Some(at) = path.iter().position(|&m| m == module) {
                let mut cycle = path[at..].to_vec();
                cycle.push(module);
                panic!(
                    "the shuffle modules import in a cycle: {}",
                    cycle.join(" → ")
                );
            }
            path.push(module);
            for &next in graph.get(module).into_iter().flatten() {
                visit(graph, next, path);
            }
            path.pop();
        }
        for &module in graph.keys() {
            visit(&graph, module, &mut Vec::new());
        }
        assert!(graph["spill"].contains("run") && !graph["spill"].contains("merge"));
        assert!(graph["merge"].contains("spill"));
    }
}
