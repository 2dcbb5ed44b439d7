//! Bounds on how much a plugin may write: output bytes and records per reduce task and per job,
//! output partitions per reduce task, and the pairs each map task emits. A plugin is untrusted,
//! and a six-byte input must not become a terabyte of output. The map and reduce tasks count and
//! check; this module holds the limits and the job-wide counts that reduce tasks share.

use crate::error::Limit;
use crate::task::PartitionId;
use std::sync::atomic::{AtomicU64, Ordering};

/// How much plugins may write. Each limit is checked before the output that would exceed it
/// is written, and exceeding one fails the job: it is the plugin's doing, so it is not retried.
/// `u64::MAX` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputLimits {
    /// Bytes of output one reduce task may write: its records and their newlines, the size
    /// of its part files (`--max-task-output`).
    pub task_bytes: u64,
    /// Bytes of output all reduce tasks of the job may write together (`--max-output`).
    pub job_bytes: u64,
    /// Output records one reduce task may write (`--max-task-output-records`).
    pub task_records: u64,
    /// Output records all reduce tasks of the job may write together
    /// (`--max-output-records`).
    pub job_records: u64,
    /// Output partitions one reduce task may write into (`--max-partitions`); the top level
    /// does not count.
    pub partitions: u64,
    /// Bytes of pairs one map task may emit, before combining: keys, values and 8 bytes per
    /// pair, the size of the `pairs` the plugin returns (`--max-map-output`).
    pub map_bytes: u64,
    /// Pairs one map task may emit, before combining (`--max-map-output-pairs`).
    pub map_pairs: u64,
}

impl Default for OutputLimits {
    /// Far above what an honest job writes from the input it is given, and far below what
    /// fills a disk: 10 GiB per task and 100 GiB per job, 1000 output partitions per reduce
    /// task. Records and pairs are not limited: every record costs at least a byte (its
    /// newline) and every pair 8, so the byte limits bound them too.
    fn default() -> Self {
        Self {
            task_bytes: 10 << 30,
            job_bytes: 100 << 30,
            task_records: u64::MAX,
            job_records: u64::MAX,
            partitions: 1000,
            map_bytes: 10 << 30,
            map_pairs: u64::MAX,
        }
    }
}

impl OutputLimits {
    /// The bytes that `pairs` pairs whose keys and values hold `data` bytes count for against
    /// [`OutputLimits::map_bytes`].
    pub fn map_cost(data: usize, pairs: usize) -> u64 {
        data as u64 + 8 * pairs as u64
    }

    /// Checks a map task's running totals of emitted bytes ([`OutputLimits::map_cost`]) and
    /// pairs.
    ///
    /// # Errors
    /// The limit they exceed.
    pub fn check_map(&self, bytes: u64, pairs: u64) -> Result<(), Limit> {
        if bytes > self.map_bytes {
            return Err(Limit::MapOutput(self.map_bytes));
        }
        if pairs > self.map_pairs {
            return Err(Limit::MapOutputPairs(self.map_pairs));
        }
        Ok(())
    }

    /// Checks a reduce task's running totals of output bytes and records.
    ///
    /// # Errors
    /// The limit they exceed.
    pub fn check_task(&self, bytes: u64, records: u64) -> Result<(), Limit> {
        if bytes > self.task_bytes {
            return Err(Limit::TaskOutput(self.task_bytes));
        }
        if records > self.task_records {
            return Err(Limit::TaskOutputRecords(self.task_records));
        }
        Ok(())
    }

    /// Checks the whole job's totals of output bytes and records.
    ///
    /// # Errors
    /// The limit they exceed.
    pub fn check_job(&self, bytes: u64, records: u64) -> Result<(), Limit> {
        if bytes > self.job_bytes {
            return Err(Limit::JobOutput(self.job_bytes));
        }
        if records > self.job_records {
            return Err(Limit::JobOutputRecords(self.job_records));
        }
        Ok(())
    }

    /// Checks the number of output partitions a reduce task writes into.
    ///
    /// # Errors
    /// [`Limit::Partitions`] if there are too many.
    pub fn check_partitions(&self, partitions: u64) -> Result<(), Limit> {
        if partitions > self.partitions {
            return Err(Limit::Partitions(self.partitions));
        }
        Ok(())
    }
}

/// The output the reduce tasks of one job have written so far, counted against the job-wide
/// limits. Shared by every reduce task; attempts of one task run one at a time.
#[derive(Debug)]
pub struct JobOutput {
    limits: OutputLimits,
    /// Bytes and records of all tasks: always the sum of `tasks`, plus what earlier runs
    /// committed.
    total: [AtomicU64; 2],
    /// Bytes and records of each reduce task's latest attempt, so that a retry is not counted
    /// twice.
    tasks: Vec<[AtomicU64; 2]>,
}

impl JobOutput {
    /// No output yet, for a job with `reducers` reduce tasks.
    pub fn new(limits: OutputLimits, reducers: u32) -> Self {
        Self {
            limits,
            total: Default::default(),
            tasks: (0..reducers).map(|_| Default::default()).collect(),
        }
    }

    /// Counts output an earlier, interrupted run of the job committed.
    pub fn add_committed(&self, bytes: u64, records: u64) {
        self.total[0].fetch_add(bytes, Ordering::Relaxed);
        self.total[1].fetch_add(records, Ordering::Relaxed);
    }

    /// Starts an attempt of the reduce task of `partition`: what its earlier attempts wrote is
    /// thrown away, so it no longer counts.
    pub fn start_attempt(&self, partition: PartitionId) {
        if let Some(task) = self.tasks.get(partition.0 as usize) {
            for (count, total) in task.iter().zip(&self.total) {
                total.fetch_sub(count.swap(0, Ordering::Relaxed), Ordering::Relaxed);
            }
        }
    }

    /// Counts `bytes` and `records` more output of the reduce task of `partition`, unless they
    /// would take the job over a limit.
    ///
    /// # Errors
    /// The job-wide limit they would exceed; they are then not counted.
    pub fn add(&self, partition: PartitionId, bytes: u64, records: u64) -> Result<(), Limit> {
        let limits = [
            (
                bytes,
                self.limits.job_bytes,
                Limit::JobOutput(self.limits.job_bytes),
            ),
            (
                records,
                self.limits.job_records,
                Limit::JobOutputRecords(self.limits.job_records),
            ),
        ];
        for (i, &(n, max, limit)) in limits.iter().enumerate() {
            let before = self.total[i].fetch_add(n, Ordering::Relaxed);
            if before.saturating_add(n) > max {
                for (j, &(n, ..)) in limits.iter().enumerate().take(i + 1) {
                    self.total[j].fetch_sub(n, Ordering::Relaxed);
                }
                return Err(limit);
            }
        }
        if let Some(task) = self.tasks.get(partition.0 as usize) {
            task[0].fetch_add(bytes, Ordering::Relaxed);
            task[1].fetch_add(records, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Bytes and records counted so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.total[0].load(Ordering::Relaxed),
            self.total[1].load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> OutputLimits {
        OutputLimits {
            task_bytes: 100,
            job_bytes: 250,
            task_records: 10,
            job_records: 25,
            partitions: 3,
            map_bytes: 1000,
            map_pairs: 50,
        }
    }

    #[test]
    fn task_and_map_limits_name_the_limit_exceeded() {
        let l = limits();
        assert_eq!(l.check_task(100, 10), Ok(()));
        assert_eq!(l.check_task(101, 1), Err(Limit::TaskOutput(100)));
        assert_eq!(l.check_task(1, 11), Err(Limit::TaskOutputRecords(10)));
        assert_eq!(l.check_job(250, 25), Ok(()));
        assert_eq!(l.check_job(251, 1), Err(Limit::JobOutput(250)));
        assert_eq!(l.check_job(1, 26), Err(Limit::JobOutputRecords(25)));
        assert_eq!(l.check_partitions(3), Ok(()));
        assert_eq!(l.check_partitions(4), Err(Limit::Partitions(3)));
        assert_eq!(OutputLimits::map_cost(10, 2), 26);
        assert_eq!(l.check_map(1000, 50), Ok(()));
        assert_eq!(l.check_map(1001, 0), Err(Limit::MapOutput(1000)));
        assert_eq!(l.check_map(0, 51), Err(Limit::MapOutputPairs(50)));
        let none = OutputLimits {
            task_records: u64::MAX,
            ..OutputLimits::default()
        };
        assert_eq!(none.check_task(0, u64::MAX), Ok(()));
    }

    #[test]
    fn the_job_limit_is_shared_and_a_retried_attempt_counts_once() {
        let job = JobOutput::new(limits(), 3);
        let (p0, p1) = (PartitionId(0), PartitionId(1));
        job.add(p0, 100, 10).unwrap();
        job.add(p1, 100, 10).unwrap();
        // Partition 1 fails after writing and is tried again: its first attempt's output is
        // forgotten, not counted twice.
        job.start_attempt(p1);
        assert_eq!(job.totals(), (100, 10));
        job.add(p1, 100, 10).unwrap();
        assert_eq!(job.add(PartitionId(2), 51, 1), Err(Limit::JobOutput(250)));
        assert_eq!(
            job.add(PartitionId(2), 1, 6),
            Err(Limit::JobOutputRecords(25))
        );
        assert_eq!(job.totals(), (200, 20), "refused output is not counted");
        job.add(PartitionId(2), 50, 5).unwrap();
        assert_eq!(job.totals(), (250, 25));

        let resumed = JobOutput::new(limits(), 1);
        resumed.add_committed(250, 0);
        assert_eq!(resumed.add(p0, 1, 0), Err(Limit::JobOutput(250)));
    }

    #[test]
    fn concurrent_tasks_never_take_the_job_over_its_limit() {
        let job = JobOutput::new(limits(), 8);
        let accepted = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for p in 0..8 {
                let (job, accepted) = (&job, &accepted);
                scope.spawn(move || {
                    for _ in 0..100 {
                        if job.add(PartitionId(p), 1, 0).is_ok() {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(accepted.into_inner(), 250);
        assert_eq!(job.totals(), (250, 0));
    }
}
