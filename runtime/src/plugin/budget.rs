//! Time a plugin may use: wall time per call, CPU time per task attempt, and CPU time per job,
//! all enforced without fuel. Every epoch tick (50 ms) a running call stops at its next loop
//! head or function entry and [`Budget::check`] charges the CPU the calling thread used since
//! the last check to the attempt and to the job; past a limit the call traps.
//!
//! CPU time is the thread's own (`CLOCK_THREAD_CPUTIME_ID`), so a plugin is charged for what
//! it ran, not for time its thread waited for a core on a loaded machine. Host calls the
//! plugin makes (logging, pulling values) are charged to it too.

use crate::error::Limit;
use crate::usage::thread_cpu_time;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// CPU time all task attempts of one job have used, against the job's limit.
#[derive(Debug)]
pub struct JobCpu {
    limit: Option<Duration>,
    used_ns: AtomicU64,
}

impl JobCpu {
    /// A meter for a job that may use `limit` of CPU in its plugin (`None`: no limit).
    pub fn new(limit: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used_ns: AtomicU64::new(0),
        })
    }

    /// CPU time used so far, by every attempt of every task.
    pub fn used(&self) -> Duration {
        Duration::from_nanos(self.used_ns.load(Ordering::Relaxed))
    }

    /// Adds `ns` and says whether the job is now over its limit.
    fn charge(&self, ns: u64) -> bool {
        let used = self.used_ns.fetch_add(ns, Ordering::Relaxed) + ns;
        self.limit
            .is_some_and(|limit| u128::from(used) > limit.as_nanos())
    }
}

/// The typed error a check returns when a limit is reached; [`super::sandbox::classify`]
/// turns it into a [`Limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the plugin exceeded its {0}")]
pub(super) struct OverBudget(pub(super) Limit);

/// The time budget of one task attempt.
#[derive(Debug)]
pub(super) struct Budget {
    call_timeout: Duration,
    task_cpu: Option<Duration>,
    job: Arc<JobCpu>,
    used: Duration,
    call_started: Instant,
    last_cpu: Duration,
}

impl Budget {
    pub(super) fn new(
        call_timeout: Duration,
        task_cpu: Option<Duration>,
        job: Arc<JobCpu>,
    ) -> Self {
        Self {
            call_timeout,
            task_cpu,
            job,
            used: Duration::ZERO,
            call_started: Instant::now(),
            last_cpu: thread_cpu_time(),
        }
    }

    /// A call into the plugin starts on this thread.
    pub(super) fn start_call(&mut self) {
        self.call_started = Instant::now();
        self.last_cpu = thread_cpu_time();
    }

    /// Charges the CPU used since the last check, then checks every limit.
    ///
    /// # Errors
    /// The limit that was reached.
    pub(super) fn check(&mut self) -> Result<(), OverBudget> {
        let now = thread_cpu_time();
        let spent = now.saturating_sub(self.last_cpu);
        self.last_cpu = now;
        self.used += spent;
        let job_over = self
            .job
            .charge(u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX));
        if self.task_cpu.is_some_and(|limit| self.used > limit) {
            return Err(OverBudget(Limit::TaskCpu(
                self.task_cpu.unwrap_or_default(),
            )));
        }
        if job_over {
            return Err(OverBudget(Limit::JobCpu(
                self.job.limit.unwrap_or_default(),
            )));
        }
        if self.call_started.elapsed() > self.call_timeout {
            return Err(OverBudget(Limit::Time(self.call_timeout)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(d: Duration) {
        let start = thread_cpu_time();
        while thread_cpu_time() - start < d {
            std::hint::black_box(0);
        }
    }

    #[test]
    fn cpu_is_charged_to_the_attempt_and_the_job_until_a_limit() {
        let job = JobCpu::new(Some(Duration::from_millis(60)));
        let mut a = Budget::new(
            Duration::from_secs(60),
            Some(Duration::from_millis(30)),
            job.clone(),
        );
        a.start_call();
        spin(Duration::from_millis(10));
        assert_eq!(a.check(), Ok(()));
        assert!(job.used() >= Duration::from_millis(10));
        spin(Duration::from_millis(25));
        assert_eq!(
            a.check(),
            Err(OverBudget(Limit::TaskCpu(Duration::from_millis(30))))
        );

        // A second attempt starts with its own task budget but shares the job's.
        let mut b = Budget::new(
            Duration::from_secs(60),
            Some(Duration::from_millis(30)),
            job.clone(),
        );
        b.start_call();
        spin(Duration::from_millis(28));
        assert_eq!(
            b.check(),
            Err(OverBudget(Limit::JobCpu(Duration::from_millis(60))))
        );
        assert!(job.used() >= Duration::from_millis(60));
    }

    #[test]
    fn a_call_past_its_wall_time_is_stopped_even_when_idle() {
        let mut budget = Budget::new(Duration::from_millis(20), None, JobCpu::new(None));
        budget.start_call();
        assert_eq!(budget.check(), Ok(()));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            budget.check(),
            Err(OverBudget(Limit::Time(Duration::from_millis(20))))
        );
        // The next call gets its full time again.
        budget.start_call();
        assert_eq!(budget.check(), Ok(()));
    }
}
