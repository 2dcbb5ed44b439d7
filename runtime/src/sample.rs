//! The plan's sample of map output keys for `--partitioner range` (TeraSort's method): the
//! plugin's map, in its sandbox and under its limits, over the first records of evenly spaced
//! splits, at most `--sample-size` input bytes in all. The same input, plugin and parameters
//! always give the same sample, and so the same cut points.

use crate::batch::Flat;
use crate::error::{Error, FailureSite, TaskError};
use crate::input::{InputFile, InputSplit, RecordBatch, SplitReader};
use crate::map::{Declared, field_failure, task_error};
use crate::plugin::{BatchFormat, Plugin};
use crate::quota::OutputLimits;
use crate::spec::JobSpec;
use crate::task::TaskId;

/// The most splits sampled: enough to see the input's start, middle and end, few enough that
/// each gets a useful share of `--sample-size`.
pub const MAX_SAMPLED_SPLITS: usize = 16;

/// Which of `count` splits are sampled: up to [`MAX_SAMPLED_SPLITS`], evenly spaced, the first
/// always among them.
pub fn sampled_splits(count: usize) -> Vec<usize> {
    let take = count.min(MAX_SAMPLED_SPLITS);
    (0..take).map(|i| i * count / take).collect()
}

/// The keys the plugin's map emits for the sampled records of `splits` (which index `files`).
///
/// # Errors
/// As the map task of the sampled split would fail: unreadable input, or the plugin's failure
/// on a record (unless `--max-bad-records` allows bad records: they are left out of the
/// sample, as the map task quarantines them).
pub fn sample_keys(
    spec: &JobSpec,
    plugin: &Plugin,
    files: &[InputFile],
    splits: &[InputSplit],
) -> Result<Vec<Vec<u8>>, Error> {
    let chosen = sampled_splits(splits.len());
    let Some(share) = spec.sample_size().checked_div(chosen.len() as u64) else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for &i in &chosen {
        sample_split(spec, plugin, files, &splits[i], share.max(1), &mut keys)?;
    }
    Ok(keys)
}

/// Adds to `keys` those of the first records of `split`, up to `budget` bytes of them (and
/// at least one record).
fn sample_split(
    spec: &JobSpec,
    plugin: &Plugin,
    files: &[InputFile],
    split: &InputSplit,
    budget: u64,
    keys: &mut Vec<Vec<u8>>,
) -> Result<(), Error> {
    // The map task's own identity: the same seed for its deterministic random numbers.
    let task = TaskId::Map(split.id);
    let start = || {
        plugin
            .instantiate(task, spec.params())
            .map_err(|e| task_error(task, FailureSite::Task, e))
    };
    let (mut instance, info) = start()?;
    let mut declared = Declared::new(spec.format(), info.fields);
    let format = match declared {
        Some(_) => BatchFormat::Fields,
        None => BatchFormat::Input(spec.format()),
    };
    let mut reader = SplitReader::open_columns(
        split,
        files,
        spec.format(),
        spec.batch_limits(),
        spec.columns(),
    )
    .map_err(|source| TaskError::Input { task, source })?;
    let mut batch = RecordBatch::default();
    let (mut taken, mut emitted) = (0u64, (0u64, 0u64));
    let limits: OutputLimits = spec.output_limits();
    while taken < budget
        && reader
            .next_batch(&mut batch)
            .map_err(|source| TaskError::Input { task, source })?
    {
        let header = batch.header.clone();
        let header = header.as_deref().unwrap_or(&[]);
        let location = |offset| crate::error::RecordLocation {
            path: files[batch.file].path.clone(),
            line: None,
            offset,
            row_group: batch
                .row_group
                .map(|g| Box::new((g.index, offset - g.first_row))),
        };
        let read = match &mut declared {
            None => &batch,
            Some(declared) => {
                // Records that do not fit are left out as the map task quarantines them, or
                // fail the plan as they would fail the task.
                declared.project(&batch, |i, why| match i {
                    Some(_) if spec.max_bad_records() > 0 => Ok(()),
                    i => {
                        let at = i.map_or(0, |i| batch.offsets[i]);
                        let site = FailureSite::Record(location(at));
                        Err(field_failure(task, site, i, &why))
                    }
                })?;
                declared.records()
            }
        };
        let mut records = Flat::default();
        for record in read.records() {
            if taken >= budget {
                break;
            }
            taken += record.len() as u64 + 1;
            records.push(record);
        }
        let pairs = match instance.map_batch(format, header, &mut records) {
            Ok(pairs) => vec![pairs],
            // Bad records are allowed: map the records one by one and leave out those that
            // fail, as the map task quarantines them.
            Err(_) if spec.max_bad_records() > 0 => {
                let mut each = Vec::new();
                for i in 0..records.len() {
                    let mut one = Flat::default();
                    one.push(records.get(i));
                    match instance.map_batch(format, header, &mut one) {
                        Ok(pairs) => each.push(pairs),
                        // A trapped instance cannot be entered again.
                        Err(_) => instance = start()?.0,
                    }
                }
                each
            }
            Err(e) => {
                let site = FailureSite::Records {
                    first: location(read.offsets.first().copied().unwrap_or(0)),
                    count: records.len(),
                };
                return Err(task_error(task, site, e).into());
            }
        };
        for pairs in pairs {
            let n = pairs.len() / 2;
            emitted.0 += OutputLimits::map_cost(pairs.data.len(), n);
            emitted.1 += n as u64;
            limits
                .check_map(emitted.0, emitted.1)
                .map_err(|limit| TaskError::LimitExceeded {
                    task,
                    limit,
                    site: FailureSite::Task,
                })?;
            keys.extend((0..n).map(|i| pairs.get(2 * i).to_vec()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_splits_are_evenly_spaced_and_bounded() {
        assert_eq!(sampled_splits(0), Vec::<usize>::new());
        assert_eq!(sampled_splits(1), [0]);
        assert_eq!(sampled_splits(3), [0, 1, 2]);
        let many = sampled_splits(160);
        assert_eq!(many.len(), MAX_SAMPLED_SPLITS);
        assert_eq!(many[..3], [0, 10, 20]);
        assert_eq!(*many.last().unwrap(), 150);
        assert!(sampled_splits(17).windows(2).all(|w| w[0] < w[1]));
    }
}
