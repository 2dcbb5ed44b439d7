//! The worker slots: a fixed number of threads, each running one worker process at a time,
//! and the queues of steps waiting for them, one per tenant. A free slot takes the first step
//! (FIFO: by job, then by the order the job asked) of the tenant [`fair::pick`] chooses.
//!
//! The slot threads live as long as the server, so the workers they start die with the server
//! (`PR_SET_PDEATHSIG` fires when the thread that forked exits), and no wasm ever runs on the
//! async runtime's threads.

use super::fair::{self, Capacity, Load};
use super::process::{self, Exit};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One step of a job, run as one worker process.
#[derive(Clone)]
pub struct Step {
    /// The job.
    pub job: String,
    /// The job's submission order: FIFO within a tenant.
    pub job_seq: i64,
    /// The job's tenant.
    pub tenant: String,
    /// The tenant's weight.
    pub weight: f64,
    /// What the job calls it: an index it gets back with the outcome.
    pub index: usize,
    /// The memory its process may use.
    pub memory: u64,
    /// The `sandmill` arguments.
    pub args: Vec<String>,
    /// Called when its process starts, with the pid (in the slot's thread).
    pub on_start: Arc<dyn Fn(usize, u32) + Send + Sync>,
}

/// How a step ended.
#[derive(Debug)]
pub enum Outcome {
    /// Its process ran and exited (or was killed).
    Ran(Exit),
    /// Its job was cancelled before or while it ran.
    Cancelled,
    /// Its process could not be started.
    Failed(String),
}

/// Where a step's outcome goes: its job's driver, with the step's index.
pub type Done = Sender<(usize, Outcome)>;

#[derive(Default)]
struct TenantQueue {
    weight: f64,
    slots: u64,
    memory: u64,
    served: u64,
    /// Waiting steps by (job order, arrival).
    waiting: BTreeMap<(i64, u64), (Step, Done)>,
}

#[derive(Default)]
struct State {
    tenants: BTreeMap<String, TenantQueue>,
    /// Running steps: id → (job, pid once started).
    running: HashMap<u64, (String, Option<u32>)>,
    cancelled: HashSet<String>,
    arrivals: u64,
    served: u64,
    stopping: bool,
    /// Outcomes sent that their driver has not recorded yet ([`Scheduler::ack`]).
    unacked: u64,
}

/// The slots and their queues.
pub struct Scheduler {
    state: Mutex<State>,
    changed: Condvar,
    capacity: Capacity,
    program: PathBuf,
    env: Vec<(String, String)>,
}

/// What the scheduler is doing, for pending reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Slots in use.
    pub busy: u64,
    /// All slots.
    pub slots: u64,
    /// Each tenant's slots in use and steps waiting.
    pub tenants: BTreeMap<String, (u64, usize)>,
    /// Jobs with a step running.
    pub running_jobs: HashSet<String>,
}

impl Scheduler {
    /// Starts `capacity.slots` slot threads running `program` with `env`.
    pub fn start(capacity: Capacity, program: PathBuf, env: Vec<(String, String)>) -> Arc<Self> {
        let scheduler = Arc::new(Scheduler {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            capacity,
            program,
            env,
        });
        for i in 0..capacity.slots {
            let s = Arc::clone(&scheduler);
            std::thread::Builder::new()
                .name(format!("sandmill-slot-{i}"))
                .spawn(move || s.slot())
                .expect("a slot thread starts");
        }
        scheduler
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a step; its outcome goes to `done` with its index.
    pub fn submit(&self, step: Step, done: Done) {
        let mut state = self.lock();
        if state.cancelled.contains(&step.job) {
            state.unacked += 1;
            let _ = done.send((step.index, Outcome::Cancelled));
            return;
        }
        state.arrivals += 1;
        let arrival = state.arrivals;
        let queue = state.tenants.entry(step.tenant.clone()).or_default();
        queue.weight = step.weight;
        queue.waiting.insert((step.job_seq, arrival), (step, done));
        drop(state);
        self.changed.notify_all();
    }

    /// Cancels a job: its waiting steps end as cancelled, its running processes are killed,
    /// and steps it submits from now on are cancelled at once.
    pub fn cancel(&self, job: &str) {
        let mut state = self.lock();
        state.cancelled.insert(job.to_owned());
        let mut state_unacked = 0;
        for queue in state.tenants.values_mut() {
            let gone: Vec<_> = queue
                .waiting
                .iter()
                .filter(|(_, (s, _))| s.job == job)
                .map(|(k, _)| *k)
                .collect();
            for key in gone {
                if let Some((step, done)) = queue.waiting.remove(&key) {
                    state_unacked += 1;
                    let _ = done.send((step.index, Outcome::Cancelled));
                }
            }
        }
        state.unacked += state_unacked;
        for (j, pid) in state.running.values() {
            if j == job
                && let Some(pid) = pid
            {
                process::kill(*pid);
            }
        }
    }

    /// A driver has recorded an outcome it was sent.
    pub fn ack(&self) {
        let mut state = self.lock();
        state.unacked = state.unacked.saturating_sub(1);
        drop(state);
        self.changed.notify_all();
    }

    /// Forgets a finished job's cancellation.
    pub fn forget(&self, job: &str) {
        self.lock().cancelled.remove(job);
    }

    /// What is running and waiting.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        Snapshot {
            busy: state.running.len() as u64,
            slots: self.capacity.slots,
            tenants: state
                .tenants
                .iter()
                .map(|(t, q)| (t.clone(), (q.slots, q.waiting.len())))
                .collect(),
            running_jobs: state.running.values().map(|(j, _)| j.clone()).collect(),
        }
    }

    /// Stops starting steps and waits up to `grace` for the running ones to end and their
    /// drivers to record how; returns how many were still running.
    pub fn stop(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        let mut state = self.lock();
        state.stopping = true;
        self.changed.notify_all();
        while !state.running.is_empty() || state.unacked > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, left.min(Duration::from_millis(200)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state.running.len()
    }

    /// The next step a free slot runs, taken off its queue and counted as running.
    fn next(&self, state: &mut State) -> Option<(u64, Step, Done)> {
        if state.stopping {
            return None;
        }
        let names: Vec<String> = state.tenants.keys().cloned().collect();
        let loads: Vec<Load> = names
            .iter()
            .map(|n| {
                let q = &state.tenants[n];
                Load {
                    weight: q.weight.max(1e-9),
                    slots: q.slots,
                    memory: q.memory,
                    next: q.waiting.values().next().map(|(s, _)| s.memory),
                    served: q.served,
                }
            })
            .collect();
        let i = fair::pick(&loads, self.capacity)?;
        state.served += 1;
        let served = state.served;
        let queue = state.tenants.get_mut(&names[i])?;
        let key = *queue.waiting.keys().next()?;
        let (step, done) = queue.waiting.remove(&key)?;
        queue.slots += 1;
        queue.memory += step.memory;
        queue.served = served;
        state.arrivals += 1;
        let id = state.arrivals;
        state.running.insert(id, (step.job.clone(), None));
        Some((id, step, done))
    }

    /// A slot thread: runs steps, one at a time, forever.
    fn slot(&self) {
        loop {
            let (id, step, done) = {
                let mut state = self.lock();
                loop {
                    if let Some(next) = self.next(&mut state) {
                        break next;
                    }
                    state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            };
            let outcome = match process::run(&self.program, &step.args, &self.env, |pid| {
                let mut state = self.lock();
                let cancelled = state.cancelled.contains(&step.job);
                if let Some(entry) = state.running.get_mut(&id) {
                    entry.1 = Some(pid);
                }
                drop(state);
                if cancelled {
                    process::kill(pid);
                }
                (step.on_start)(step.index, pid);
            }) {
                Ok(exit) => Outcome::Ran(exit),
                Err(e) => Outcome::Failed(format!(
                    "cannot start a worker ({}): {e}",
                    self.program.display()
                )),
            };
            let mut state = self.lock();
            state.running.remove(&id);
            state.unacked += 1;
            let cancelled = state.cancelled.contains(&step.job);
            if let Some(queue) = state.tenants.get_mut(&step.tenant) {
                queue.slots -= 1;
                queue.memory -= step.memory;
            }
            drop(state);
            self.changed.notify_all();
            let outcome = if cancelled {
                Outcome::Cancelled
            } else {
                outcome
            };
            let _ = done.send((step.index, outcome));
        }
    }
}
