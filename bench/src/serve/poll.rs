//! The client side of the load: threads that ask the server about jobs as fast as it answers,
//! timing every answer, and the tracker that learns from the answers when each job finished.
//! A job counts as finished when a poller first sees it so, in its own status or in its
//! tenant's list; with every [`LIST_EVERY`]th request a list, that is soon after the server
//! finished it.

use super::server::Api;
use super::{Tenant, finished};
use anyhow::{Result, bail};
use sandmill_bench::generate::Rng;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Every how many requests a polling thread lists a tenant's jobs instead of one job's status.
pub const LIST_EVERY: u64 = 10;

/// A job the pollers ask about.
pub struct Target {
    /// Its id.
    pub id: String,
    /// Its tenant, as an index into the tenants.
    pub tenant: usize,
}

/// A job as it finished, as the pollers first saw it.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// Its id.
    pub id: String,
    /// Its tenant, as an index into the tenants.
    pub tenant: usize,
    /// When it was first seen finished, since the tracker's start.
    pub at: Duration,
    /// `succeeded`, `failed` or `cancelled` (empty if never seen finished).
    pub state: String,
    /// The job's error, if it gave one.
    pub error: Option<String>,
}

/// The jobs being polled and which of them have been seen finished, shared by the pollers.
pub struct Tracker {
    jobs: Vec<Target>,
    /// Job id to index into `jobs`.
    index: HashMap<String, usize>,
    /// What the times are measured from.
    start: Instant,
    /// `seen[i]`: job `i` as first seen finished.
    seen: Mutex<Vec<Option<Finish>>>,
    /// Jobs not yet seen finished.
    left: AtomicUsize,
    /// Set when a poller fails, so that the others stop.
    stop: AtomicBool,
}

impl Tracker {
    /// Tracks `jobs`, with times measured from `start`.
    pub fn new(jobs: Vec<Target>, start: Instant) -> Tracker {
        let index = jobs
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        Tracker {
            left: AtomicUsize::new(jobs.len()),
            seen: Mutex::new(vec![None; jobs.len()]),
            index,
            jobs,
            start,
            stop: AtomicBool::new(false),
        }
    }

    /// Notes a `JOB` from an answer that arrived `at`.
    fn note(&self, job: &Value, at: Duration) {
        let (Some(id), Some(state)) = (job["id"].as_str(), job["state"].as_str()) else {
            return;
        };
        let Some(&i) = self.index.get(id) else {
            return;
        };
        if !finished(state) {
            return;
        }
        let mut seen = self.seen.lock().expect("a poller panicked");
        if seen[i].is_none() {
            seen[i] = Some(Finish {
                id: id.to_owned(),
                tenant: self.jobs[i].tenant,
                at,
                state: state.to_owned(),
                error: job["error"].as_str().map(str::to_owned),
            });
            self.left.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Every job as it finished, in the order given; one not seen finished has an empty state.
    pub fn finishes(&self) -> Vec<Finish> {
        let seen = self.seen.lock().expect("a poller panicked");
        self.jobs
            .iter()
            .zip(seen.iter())
            .map(|(job, seen)| {
                seen.clone().unwrap_or_else(|| Finish {
                    id: job.id.clone(),
                    tenant: job.tenant,
                    ..Finish::default()
                })
            })
            .collect()
    }
}

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /v1/jobs/ID`.
    Status,
    /// `GET /v1/jobs?limit=100`.
    List,
}

/// One answered request.
pub struct Sample {
    /// What it asked.
    pub kind: Kind,
    /// When the answer arrived, since the tracker's start.
    pub at: Duration,
    /// From sending the request to having read the whole answer.
    pub latency: Duration,
}

/// When the pollers stop.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this many requests each, all of them status requests (the idle baseline).
    Requests(usize),
    /// When every tracked job has been seen finished; failing at the deadline.
    AllFinished(Instant),
}

/// Polls from `pollers` threads until `until`; every sample. The first poller to fail stops
/// the others, and its error is returned.
pub fn poll_all(
    api: &Api,
    tenants: &[Tenant],
    tracker: &Tracker,
    until: Until,
    pollers: usize,
    seed: u64,
) -> Result<Vec<Sample>> {
    let results: Vec<Result<Vec<Sample>>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..pollers)
            .map(|thread| {
                let seed = seed ^ ((thread as u64 + 1) << 40);
                scope.spawn(move || {
                    let result = poll(api, tenants, tracker, until, thread, seed);
                    if result.is_err() {
                        tracker.stop.store(true, Ordering::SeqCst);
                    }
                    result
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a poller panicked"))
            .collect()
    });
    let mut samples = Vec::new();
    for result in results {
        samples.extend(result?);
    }
    Ok(samples)
}

/// One polling thread: status of random tracked jobs, and under load every
/// [`LIST_EVERY`]th request a list of one tenant's jobs (the tenants in turn).
fn poll(
    api: &Api,
    tenants: &[Tenant],
    tracker: &Tracker,
    until: Until,
    thread: usize,
    seed: u64,
) -> Result<Vec<Sample>> {
    let mut rng = Rng::new(seed);
    let mut samples = Vec::new();
    for n in 1u64.. {
        if tracker.stop.load(Ordering::SeqCst) {
            break;
        }
        match until {
            Until::Requests(count) if samples.len() >= count => break,
            Until::AllFinished(_) if tracker.left.load(Ordering::SeqCst) == 0 => break,
            Until::AllFinished(deadline) if Instant::now() > deadline => {
                bail!(
                    "{} of {} jobs had not finished at the deadline (see --timeout)",
                    tracker.left.load(Ordering::SeqCst),
                    tracker.jobs.len()
                );
            }
            _ => {}
        }
        let list = matches!(until, Until::AllFinished(_)) && n % LIST_EVERY == 0;
        let (kind, tenant, path) = if list {
            let tenant = (n / LIST_EVERY) as usize % tenants.len();
            (Kind::List, tenant, "/v1/jobs?limit=100".to_owned())
        } else {
            let job = &tracker.jobs[rng.below(tracker.jobs.len() as u64) as usize];
            (Kind::Status, job.tenant, format!("/v1/jobs/{}", job.id))
        };
        let sent = Instant::now();
        let answer = api.get(&tenants[tenant].token, &path)?;
        let latency = sent.elapsed();
        let at = tracker.start.elapsed();
        let answer = answer.expect(
            &[200],
            &format!("GET {path} of {} (poller {thread})", tenants[tenant].name),
        )?;
        let body = answer.json();
        match kind {
            Kind::Status => tracker.note(&body, at),
            Kind::List => {
                for job in body["jobs"].as_array().into_iter().flatten() {
                    tracker.note(job, at);
                }
            }
        }
        samples.push(Sample { kind, at, latency });
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_tracker_counts_each_job_once_when_first_seen_finished() {
        let jobs = ["j-1", "j-2"]
            .iter()
            .map(|id| Target {
                id: (*id).to_owned(),
                tenant: 0,
            })
            .collect();
        let tracker = Tracker::new(jobs, Instant::now());
        let s = Duration::from_secs;
        tracker.note(&json!({"id": "j-1", "state": "running"}), s(1));
        tracker.note(&json!({"id": "j-1", "state": "succeeded"}), s(2));
        tracker.note(&json!({"id": "j-1", "state": "succeeded"}), s(3));
        tracker.note(&json!({"id": "j-9", "state": "failed"}), s(3));
        assert_eq!(tracker.left.load(Ordering::SeqCst), 1);
        tracker.note(
            &json!({"id": "j-2", "state": "failed", "error": "boom"}),
            s(4),
        );
        assert_eq!(tracker.left.load(Ordering::SeqCst), 0);
        let f = tracker.finishes();
        assert_eq!((f[0].at, f[0].state.as_str()), (s(2), "succeeded"));
        assert_eq!((f[1].at, f[1].error.as_deref()), (s(4), Some("boom")));
    }
}
