//! The order of a pipeline's stages: from the datasets each reads and writes, in waves of
//! stages that can run at the same time. Plain data in, plain data out.

use std::collections::{BTreeMap, BTreeSet};

/// Why stages cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    /// Two stages write the same dataset.
    #[error(
        "stages {first:?} and {second:?} both write the dataset {dataset:?}; give each stage an output of its own"
    )]
    TwoWriters {
        /// The dataset.
        dataset: String,
        /// The first stage writing it.
        first: String,
        /// The second.
        second: String,
    },
    /// Two stages have the same name.
    #[error("two stages are named {0:?}; stage names must differ")]
    SameName(String),
    /// A stage reads a dataset no stage writes.
    #[error("stage {stage:?} reads @{dataset}, which no stage writes (stages write: {known})")]
    Unknown {
        /// The stage.
        stage: String,
        /// The dataset it names.
        dataset: String,
        /// The datasets that stages do write.
        known: String,
    },
    /// Stages read each other's output in a cycle.
    #[error("stages read each other's output in a cycle: {}; a stage can only read what earlier stages write", .0.join(" → "))]
    Cycle(Vec<String>),
}

/// One stage as the order sees it: its name, the dataset it writes, the datasets it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The stage.
    pub name: String,
    /// The dataset it writes.
    pub writes: String,
    /// The datasets of other stages it reads.
    pub reads: Vec<String>,
}

/// Orders `nodes` into waves: every stage of a wave reads only what earlier waves write. A
/// stage runs in the earliest wave it can; stages keep their file order within a wave.
/// Returns indices into `nodes`.
///
/// # Errors
/// Duplicate names or outputs, a read of a dataset no stage writes, or a cycle (named).
pub fn waves(nodes: &[Node]) -> Result<Vec<Vec<usize>>, DagError> {
    let mut writer: BTreeMap<&str, usize> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (i, node) in nodes.iter().enumerate() {
        if !names.insert(node.name.as_str()) {
            return Err(DagError::SameName(node.name.clone()));
        }
        if let Some(&first) = writer.get(node.writes.as_str()) {
            return Err(DagError::TwoWriters {
                dataset: node.writes.clone(),
                first: nodes[first].name.clone(),
                second: node.name.clone(),
            });
        }
        writer.insert(&node.writes, i);
    }
    let mut deps: Vec<BTreeSet<usize>> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut mine = BTreeSet::new();
        for read in &node.reads {
            let Some(&w) = writer.get(read.as_str()) else {
                return Err(DagError::Unknown {
                    stage: node.name.clone(),
                    dataset: read.clone(),
                    known: writer.keys().copied().collect::<Vec<_>>().join(", "),
                });
            };
            mine.insert(w);
        }
        deps.push(mine);
    }
    let mut wave_of: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut waves: Vec<Vec<usize>> = Vec::new();
    let mut placed = 0;
    while placed < nodes.len() {
        let ready: Vec<usize> = (0..nodes.len())
            .filter(|&i| {
                wave_of[i].is_none()
                    && deps[i]
                        .iter()
                        .all(|&d| wave_of[d].is_some_and(|w| w < waves.len()))
            })
            .collect();
        if ready.is_empty() {
            return Err(DagError::Cycle(cycle(nodes, &deps, &wave_of)));
        }
        for &i in &ready {
            wave_of[i] = Some(waves.len());
        }
        placed += ready.len();
        waves.push(ready);
    }
    Ok(waves)
}

/// A cycle among the stages not yet placed, as stage names, its first stage repeated last.
fn cycle(nodes: &[Node], deps: &[BTreeSet<usize>], placed: &[Option<usize>]) -> Vec<String> {
    // Every unplaced stage depends on an unplaced one; walk those edges until a stage
    // comes round again.
    let start = (0..nodes.len())
        .find(|&i| placed[i].is_none())
        .expect("a stage is left");
    let mut path = vec![start];
    loop {
        let last = *path.last().expect("not empty");
        let next = *deps[last]
            .iter()
            .find(|&&d| placed[d].is_none())
            .expect("an unplaced stage waits for another");
        if let Some(at) = path.iter().position(|&p| p == next) {
            // The walk follows "reads from"; show the direction data flows, from the stage
            // that comes first in the file.
            let mut ring: Vec<usize> = path[at..].iter().rev().copied().collect();
            let first = (0..ring.len()).min_by_key(|&i| ring[i]).unwrap_or(0);
            ring.rotate_left(first);
            let mut names: Vec<String> = ring.iter().map(|&i| nodes[i].name.clone()).collect();
            names.push(names[0].clone());
            return names;
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(name: &str, reads: &[&str]) -> Node {
        Node {
            name: name.into(),
            writes: format!("{name}-out"),
            reads: reads.iter().map(|r| format!("{r}-out")).collect(),
        }
    }

    fn names(nodes: &[Node], waves: &[Vec<usize>]) -> Vec<Vec<String>> {
        waves
            .iter()
            .map(|w| w.iter().map(|&i| nodes[i].name.clone()).collect())
            .collect()
    }

    #[test]
    fn stages_run_in_waves_after_what_they_read() {
        let nodes = [
            node("aggregate", &["join"]),
            node("parse", &[]),
            node("join", &["parse", "products"]),
            node("products", &[]),
            node("report", &["parse"]),
        ];
        let waves = waves(&nodes).unwrap();
        assert_eq!(
            names(&nodes, &waves),
            [
                vec!["parse", "products"],
                vec!["join", "report"],
                vec!["aggregate"]
            ]
        );
    }

    #[test]
    fn a_cycle_is_named() {
        let nodes = [
            node("a", &[]),
            node("b", &["a", "d"]),
            node("c", &["b"]),
            node("d", &["c"]),
        ];
        let err = waves(&nodes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stages read each other's output in a cycle: b → c → d → b; a stage can only \
             read what earlier stages write"
        );
        let err = waves(&[node("self", &["self"])]).unwrap_err();
        assert_eq!(err, DagError::Cycle(vec!["self".into(), "self".into()]));
    }

    #[test]
    fn unknown_reads_and_duplicates_are_errors() {
        let err = waves(&[node("a", &["nope"])]).unwrap_err();
        assert!(
            err.to_string()
                .contains("reads @nope-out, which no stage writes"),
            "{err}"
        );
        let err = waves(&[node("a", &[]), node("a", &[])]).unwrap_err();
        assert_eq!(err, DagError::SameName("a".into()));
        let mut b = node("b", &[]);
        b.writes = "a-out".into();
        assert!(matches!(
            waves(&[node("a", &[]), b]),
            Err(DagError::TwoWriters { .. })
        ));
    }

    proptest! {
        /// Against the definition: each stage's wave is one more than the latest wave of what
        /// it reads (0 for none), for random acyclic graphs (edges only to earlier stages,
        /// then shuffled in the file).
        #[test]
        fn waves_are_the_longest_path_depths(
            edges in proptest::collection::vec(proptest::collection::vec(any::<prop::sample::Index>(), 0..3), 1..12),
            order in any::<prop::sample::Index>(),
        ) {
            let n = edges.len();
            let mut nodes: Vec<Node> = (0..n)
                .map(|i| {
                    let reads: Vec<String> = if i == 0 {
                        Vec::new()
                    } else {
                        let mut r: Vec<String> =
                            edges[i].iter().map(|e| format!("s{}-out", e.index(i))).collect();
                        r.sort();
                        r.dedup();
                        r
                    };
                    Node { name: format!("s{i}"), writes: format!("s{i}-out"), reads }
                })
                .collect();
            let mut depth = vec![0usize; n];
            for i in 0..n {
                for r in &nodes[i].reads {
                    let d: usize = r[1..r.len() - 4].parse().unwrap();
                    depth[i] = depth[i].max(depth[d] + 1);
                }
            }
            nodes.rotate_left(order.index(n));
            let waves = waves(&nodes).unwrap();
            for (w, wave) in waves.iter().enumerate() {
                for &i in wave {
                    let original: usize = nodes[i].name[1..].parse().unwrap();
                    prop_assert_eq!(depth[original], w);
                }
            }
            prop_assert_eq!(waves.iter().map(Vec::len).sum::<usize>(), n);
        }
    }
}
