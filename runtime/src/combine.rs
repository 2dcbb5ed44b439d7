//! One combine task attempt (`--hot-key`, `--salt`): merge one share of a hot key from the map
//! tasks' output, combine it with the job's combiner (its native merge or the plugin's
//! `combine-groups`), and write the result as a run file. The key's partition's reduce reads
//! the results of all its shares beside its other runs, so its merge makes them one group
//! again, which the plugin's reduce sees once.

use crate::error::{FailureSite, TaskError};
use crate::map::{TaskCombiner, TaskCounts};
use crate::plugin::{AttemptLog, Combiner, Plugin};
use crate::shuffle::{Combine as _, Merger, RunFile, RunFileWriter, RunSource, ShuffleDir};
use crate::task::TaskId;

/// What a combine task needs.
#[derive(Debug)]
pub struct CombineContext<'a> {
    /// The compiled plugin.
    pub plugin: &'a Plugin,
    /// The job's parameters.
    pub params: &'a [(String, String)],
    /// The job's combiner (never [`Combiner::None`]: the plan refuses to salt without one).
    pub combiner: Combiner,
    /// Bytes per batch of groups handed to a plugin combiner.
    pub group_batch_bytes: usize,
    /// Where the result goes.
    pub shuffle: &'a ShuffleDir,
}

/// The result of a combine task.
#[derive(Debug)]
pub struct CombineOutput {
    /// Its run file: one segment.
    pub file: RunFile,
    /// Its counts: pairs in, pairs out.
    pub counts: TaskCounts,
    /// The plugin's logs and counters.
    pub log: AttemptLog,
}

/// Runs attempt `attempt` of combine task `n` over `runs` (its share's segment of each map
/// task's output), into a run file of its own named after the attempt.
///
/// # Errors
/// The combiner's failure (naming the key), or an I/O error reading a run or writing the
/// result.
pub fn run_combine(
    ctx: &CombineContext<'_>,
    n: u32,
    runs: &[RunSource],
    attempt: u32,
) -> Result<CombineOutput, TaskError> {
    let task = TaskId::Combine(n);
    let io = |source| TaskError::Shuffle { task, source };
    let dir = format!("combine-{n}-attempt-{attempt}");
    ctx.shuffle.fresh_dir(&dir).map_err(io)?;
    let path = ctx.shuffle.file(&format!("{dir}/combine-{n}.data"));
    let mut counts = TaskCounts::default();
    for run in runs {
        let (pairs, bytes) = run.size();
        counts.records_in += pairs;
        counts.bytes_in += bytes;
    }
    let cursors = runs
        .iter()
        .map(RunSource::open)
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io)?;
    let mut merger = Merger::new(cursors);
    let (mut instance, _) = ctx
        .plugin
        .instantiate(task, ctx.params)
        .map_err(|e| crate::map::task_error(task, FailureSite::Task, e))?;
    let mut sink = RunFileWriter::create(&path).map_err(io)?;
    TaskCombiner::for_task(ctx.combiner, &mut instance, task, ctx.group_batch_bytes)
        .combine(&mut merger, &mut sink)?;
    let segment = sink.finish_segment().map_err(io)?;
    let file = sink.finish().map_err(io)?;
    counts.records_out = segment.pairs;
    counts.bytes_out = segment.bytes;
    counts.spilled_bytes = segment.len;
    Ok(CombineOutput {
        file,
        counts,
        log: instance.finish(),
    })
}
