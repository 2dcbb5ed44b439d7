//! Running one job through the `sandmill task` seam, each step a worker process given a slot by
//! the scheduler: plan, the tasks it lists (retried as `--max-attempts` allows), plan again,
//! and publish when plan says every task is committed. The driver keeps no state the
//! database and the dataset's work directory do not: after a restart it starts again from
//! plan, which finds every task committed so far.

use super::Service;
use super::db::JobRow;
use super::model::{JobState, Progress};
use super::process::Exit;
use super::sched::{Outcome, Step};
use sandmill::TaskResult;
use sandmill::plugin::AttemptLog;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Why a job stopped without publishing.
#[derive(Debug)]
pub enum Stop {
    /// Its tenant cancelled it.
    Cancelled,
    /// It failed: why.
    Failed(String),
}

/// What plan said to do next.
#[derive(Debug, PartialEq)]
enum Next {
    Tasks(&'static str, Vec<PathBuf>),
    Publish,
    Done(Option<String>),
}

/// Reads `sandmill task plan`'s output.
fn parse_plan(stdout: &str) -> Result<Next, String> {
    let mut tasks = Vec::new();
    let mut phase = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("published: version ") {
            return Ok(Next::Done(Some(rest.trim().to_owned())));
        }
        if line.starts_with("publish: ") {
            return Ok(Next::Publish);
        }
        if line.starts_with("unchanged: ") {
            let version = line
                .split(" since ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned);
            return Ok(Next::Done(version));
        }
        for (prefix, name) in [("map ", "map"), ("reduce ", "reduce")] {
            if let Some(path) = line.strip_prefix(prefix) {
                phase = Some(name);
                tasks.push(PathBuf::from(path));
            }
        }
    }
    match phase {
        Some(phase) => Ok(Next::Tasks(phase, tasks)),
        None => Err(format!(
            "planning said nothing Sandmill understands: {:?}",
            sandmill::text::cut(stdout.to_owned(), 200)
        )),
    }
}

/// The arguments of a step's attempt `n`, or why they cannot be made.
type StepArgs<'a> = Box<dyn Fn(u32) -> Result<Vec<String>, String> + 'a>;

/// One job being driven.
struct Run<'a> {
    svc: &'a Service,
    row: &'a JobRow,
    dir: PathBuf,
    progress: Mutex<(Progress, BTreeMap<String, i64>)>,
}

impl Run<'_> {
    fn log(&self, source: &str, lines: &[String]) {
        let _ = self.svc.db.append_log(
            &self.row.job.id,
            source,
            lines,
            self.svc.config.max_log_lines,
        );
    }

    fn save_progress(&self) {
        let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.svc.db.set_progress(&self.row.job.id, &p.0, &p.1);
    }

    fn set_phase(&self, phase: &str) {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .phase = Some(phase.to_owned());
        self.save_progress();
    }

    /// Runs steps (`(task, args)`) in slots, all at once as slots allow; `done` sees each
    /// process that exited and says whether it failed for good (`Err`) or may run again
    /// (`Ok(false)`), or committed (`Ok(true)`). Retries as the job's `--max-attempts` allows.
    fn run_steps(
        &self,
        steps: Vec<(String, StepArgs<'_>)>,
        done: impl Fn(&str, &Ended) -> Result<bool, String>,
    ) -> Result<(), Stop> {
        let job = &self.row.job.id;
        let (tx, rx) = mpsc::channel();
        let attempts: Arc<Mutex<HashMap<usize, (u32, i64)>>> = Arc::default();
        let mut current: Vec<u32> = Vec::with_capacity(steps.len());
        let names: Vec<String> = steps.iter().map(|(n, _)| n.clone()).collect();
        let submit = |index: usize, attempt: u32| -> Result<(), Stop> {
            let args = (steps[index].1)(attempt).map_err(Stop::Failed)?;
            let db = self.svc.db.clone();
            let (job_id, task) = (job.clone(), names[index].clone());
            let attempts = Arc::clone(&attempts);
            let on_start = Arc::new(move |i: usize, _pid: u32| {
                if let Ok(row) = db.start_attempt(&job_id, &task, attempt) {
                    attempts
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(i, (attempt, row));
                }
            });
            self.svc.sched.submit(
                Step {
                    job: job.clone(),
                    job_seq: self.row.seq,
                    tenant: self.row.tenant.clone(),
                    weight: self.svc.weight(&self.row.tenant),
                    index,
                    memory: self.row.memory,
                    args,
                    on_start,
                },
                tx.clone(),
            );
            Ok(())
        };
        for (index, (name, _)) in steps.iter().enumerate() {
            let attempt = self.svc.db.next_attempt(job, name).unwrap_or(1);
            current.push(attempt);
            submit(index, attempt)?;
        }
        let mut left = steps.len();
        let mut failure: Option<Stop> = None;
        while left > 0 {
            let Ok((index, outcome)) = rx.recv() else {
                break;
            };
            // Recorded (or about to be) by the end of this turn: a stopping server waits
            // for it.
            let _ack = Ack(&self.svc.sched);
            let name = &names[index];
            let started = attempts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&index);
            let finish = |state: &str, exit: Option<&Exit>, error: Option<&str>, bytes| {
                if let Some((_, row)) = started {
                    let cpu = exit.map_or(0.0, |e| e.cpu_seconds);
                    let _ =
                        self.svc
                            .db
                            .finish_attempt(row, &self.row.tenant, state, cpu, error, bytes);
                }
            };
            match outcome {
                Outcome::Cancelled => {
                    finish("failed", None, Some("cancelled"), (0, 0));
                    left -= 1;
                    failure.get_or_insert(Stop::Cancelled);
                }
                Outcome::Failed(why) => {
                    finish("failed", None, Some(&why), (0, 0));
                    left -= 1;
                    failure.get_or_insert(Stop::Failed(why));
                    self.svc.sched.cancel(job);
                }
                Outcome::Ran(exit) => {
                    let ended = Ended::new(exit);
                    let exit = &ended.exit;
                    let bytes = ended.bytes();
                    let attempt = current[index];
                    match done(name, &ended) {
                        Ok(true) => {
                            finish("ok", Some(exit), None, bytes);
                            left -= 1;
                        }
                        Ok(false) if attempt < self.row.max_attempts && failure.is_none() => {
                            let why = ended.failure();
                            finish("failed", Some(exit), Some(&why), bytes);
                            self.log(
                                "service",
                                &[format!(
                                    "{name} attempt {attempt} failed ({why}); trying again"
                                )],
                            );
                            current[index] = self
                                .svc
                                .db
                                .next_attempt(job, name)
                                .unwrap_or(attempt + 1)
                                .max(attempt + 1);
                            submit(index, current[index])?;
                        }
                        verdict => {
                            let why = match verdict {
                                Err(why) => why,
                                _ => format!("{} after {attempt} attempts", ended.failure()),
                            };
                            finish("failed", Some(exit), Some(&why), bytes);
                            left -= 1;
                            if failure.is_none() {
                                failure = Some(Stop::Failed(format!("{name}: {why}")));
                                // The job fails: what else runs is wasted.
                                self.svc.sched.cancel(job);
                            }
                        }
                    }
                }
            }
        }
        match failure {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }

    /// Runs one step that is not a task (plan or publish) until its process succeeds.
    fn run_one(&self, task: &str, args: Vec<String>) -> Result<Exit, Stop> {
        let out: Mutex<Option<Exit>> = Mutex::new(None);
        let args = args.clone();
        self.run_steps(
            vec![(task.to_owned(), Box::new(move |_| Ok(args.clone())))],
            |_, ended| {
                if ended.exit.success() {
                    *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(ended.exit.clone());
                    Ok(true)
                } else if ended.retryable() {
                    Ok(false)
                } else {
                    Err(ended.failure())
                }
            },
        )?;
        out.into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .ok_or_else(|| Stop::Failed(format!("{task} ended without a result")))
    }

    /// Runs the tasks of one phase, from their spec files.
    fn run_tasks(&self, phase: &str, specs: &[PathBuf]) -> Result<(), Stop> {
        // Every task plan does not list is committed: of this job's attempts, or of an
        // earlier run's (the total is then known from the progress saved before).
        let listed = specs.len() as u64;
        let committed = {
            let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            let recorded = self
                .svc
                .db
                .committed_tasks(&self.row.job.id, &format!("{phase}-"))
                .unwrap_or(0);
            p.0.phase = Some(phase.to_owned());
            let phase_progress = if phase == "map" {
                &mut p.0.map
            } else {
                &mut p.0.reduce
            };
            phase_progress.tasks = phase_progress.tasks.max(recorded + listed);
            phase_progress.done = phase_progress.tasks - listed;
            phase_progress.done
        };
        self.save_progress();
        self.log(
            "service",
            &[format!(
                "{phase}: {} tasks to run{}",
                specs.len(),
                if committed > 0 {
                    format!(" ({committed} committed before)")
                } else {
                    String::new()
                }
            )],
        );
        let steps = specs
            .iter()
            .map(|spec| {
                let name = spec
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let spec = spec.clone();
                let dir = self.dir.clone();
                let task = name.clone();
                let build: StepArgs<'_> = Box::new(move |attempt| {
                    let file = attempt_spec(&spec, &dir, &task, attempt)?;
                    Ok(vec![
                        "task".into(),
                        "run".into(),
                        "--spec".into(),
                        file.display().to_string(),
                    ])
                });
                (name, build)
            })
            .collect();
        self.run_steps(steps, |task, ended| {
            let log = ended.result.as_ref().and_then(|r| r.log.as_ref());
            if let Some(log) = log {
                self.record_plugin_log(task, log);
            }
            if ended.result.is_some() && ended.succeeded() {
                let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
                for (name, value) in log.map(|l| &l.counters).into_iter().flatten() {
                    *p.1.entry(name.clone()).or_default() += value;
                }
                p.0.bytes_read += ended.bytes().0;
                if task.starts_with("map-") {
                    p.0.map.done += 1;
                } else {
                    p.0.reduce.done += 1;
                }
                drop(p);
                self.save_progress();
                return Ok(true);
            }
            if ended.retryable() {
                Ok(false)
            } else {
                Err(ended.failure())
            }
        })
    }

    /// Puts what a task's plugin logged into the job's log.
    fn record_plugin_log(&self, task: &str, log: &AttemptLog) {
        let mut lines: Vec<String> = log
            .messages
            .iter()
            .map(|(level, message)| {
                format!(
                    "[{task}] {}: {message}",
                    format!("{level:?}").to_ascii_lowercase()
                )
            })
            .collect();
        for (stream, text) in [("stdout", &log.stdout), ("stderr", &log.stderr)] {
            lines.extend(
                text.lines()
                    .map(|line| format!("[{task}] {stream}: {line}")),
            );
        }
        self.log("plugin", &lines);
    }
}

/// Tells the scheduler an outcome was handled, when dropped.
struct Ack<'a>(&'a super::sched::Scheduler);

impl Drop for Ack<'_> {
    fn drop(&mut self) {
        self.0.ack();
    }
}

/// How a step's process ended, with its result line read once (`sandmill task run` prints
/// one line of JSON; plan and publish print none).
struct Ended {
    exit: Exit,
    result: Option<TaskResult>,
}

impl Ended {
    fn new(exit: Exit) -> Ended {
        let result = exit
            .stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok());
        Ended { exit, result }
    }

    /// Whether it committed its task (or, for plan and publish, did its work).
    fn succeeded(&self) -> bool {
        self.exit.success() && self.result.as_ref().is_none_or(|r| r.status == "ok")
    }

    /// The bytes a committed task read and wrote.
    fn bytes(&self) -> (u64, u64) {
        match &self.result {
            Some(TaskResult {
                status,
                task,
                counts: Some(counts),
                ..
            }) if status == "ok" => {
                if task.starts_with("map-") {
                    (counts.bytes_in, 0)
                } else {
                    (0, counts.bytes_out)
                }
            }
            _ => (0, 0),
        }
    }

    /// Whether another attempt may pass: the process was killed (a crash, an out-of-memory
    /// kill, an operator's `kill`), or it says so.
    fn retryable(&self) -> bool {
        if self.exit.signal.is_some() {
            return true;
        }
        match &self.result {
            Some(r) => r.retryable,
            // Plan and publish print no result: only a transient error (5) may pass again.
            None => self.exit.code == Some(5),
        }
    }

    /// Why it failed, on one line.
    fn failure(&self) -> String {
        if let Some(error) = self.result.as_ref().and_then(|r| r.error.clone()) {
            return error;
        }
        let exit = &self.exit;
        let line = exit.error_line();
        if exit.signal.is_some() || line.is_empty() {
            format!(
                "its worker process {}{}",
                exit.describe(),
                if line.is_empty() {
                    String::new()
                } else {
                    format!(": {line}")
                }
            )
        } else {
            line
        }
    }
}

/// The spec file of one attempt: the planned spec with its attempt number set.
fn attempt_spec(spec: &Path, dir: &Path, task: &str, attempt: u32) -> Result<PathBuf, String> {
    let text = std::fs::read(spec).map_err(|e| format!("reading {}: {e}", spec.display()))?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("reading {}: {e}", spec.display()))?;
    value["attempt"] = serde_json::Value::from(attempt);
    let file = dir.join(format!("{task}.attempt-{attempt}.json"));
    std::fs::write(&file, serde_json::to_vec(&value).unwrap_or_default())
        .map_err(|e| format!("writing {}: {e}", file.display()))?;
    Ok(file)
}

/// Runs a job to its end: `Ok` with the version it published (or found unchanged).
pub fn run(svc: &Service, row: &JobRow) -> Result<Option<String>, Stop> {
    let dir = svc.store.job_dir(&row.tenant, &row.job.id);
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs)
        .map_err(|e| Stop::Failed(format!("creating {}: {e}", specs.display())))?;
    let run = Run {
        svc,
        row,
        dir: dir.clone(),
        progress: Mutex::new((row.job.progress.clone(), row.job.counters.clone())),
    };
    let mut rounds = 0;
    loop {
        rounds += 1;
        if rounds > 8 {
            return Err(Stop::Failed(
                "planning keeps listing tasks that were committed; the job's work directory \
                 may be damaged"
                    .into(),
            ));
        }
        run.set_phase("plan");
        // Each plan writes its specs afresh.
        let _ = std::fs::remove_dir_all(&specs);
        let mut args = vec!["task".to_owned(), "plan".to_owned()];
        args.extend(row.argv.iter().cloned());
        args.extend(["--specs".to_owned(), specs.display().to_string()]);
        let plan = run.run_one("plan", args)?;
        match parse_plan(&plan.stdout).map_err(Stop::Failed)? {
            Next::Tasks(phase, paths) => run.run_tasks(phase, &paths)?,
            Next::Done(version) => {
                run.log(
                    "service",
                    &["every task was committed and published already".into()],
                );
                finish_progress(&run);
                return Ok(version);
            }
            Next::Publish => {
                run.set_phase("publish");
                let summary = dir.join("summary.json");
                let mut args = vec!["run".to_owned()];
                args.extend(row.argv.iter().cloned());
                args.extend([
                    "--quiet".to_owned(),
                    "--summary-json".to_owned(),
                    summary.display().to_string(),
                ]);
                run.run_one("publish", args)?;
                let report: serde_json::Value = std::fs::read(&summary)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                if let Some(counters) = report["counters"].as_object() {
                    let mut p = run.progress.lock().unwrap_or_else(|e| e.into_inner());
                    p.1 = counters
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                        .collect();
                }
                finish_progress(&run);
                let version = report["version"].as_str().map(str::to_owned);
                run.log(
                    "service",
                    &[format!(
                        "published {} version {}",
                        row.job.output,
                        version.as_deref().unwrap_or("?")
                    )],
                );
                return Ok(version);
            }
        }
    }
}

fn finish_progress(run: &Run<'_>) {
    run.progress
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .phase = None;
    run.save_progress();
}

/// Drives an admitted job in this thread until it ends, records how, and lets the next
/// queued jobs in.
pub fn drive(svc: Arc<Service>, row: JobRow) {
    let id = row.job.id.clone();
    let result = run(&svc, &row);
    if svc.stopping() {
        // The server is shutting down: the job stays `running`, and resumes on restart.
        return;
    }
    let (state, error, version) = match result {
        _ if svc.cancel_requested(&id) => (
            JobState::Cancelled,
            Some("cancelled by its tenant".to_owned()),
            None,
        ),
        Ok(version) => (JobState::Succeeded, None, version),
        Err(Stop::Cancelled) => (JobState::Cancelled, Some("cancelled".to_owned()), None),
        Err(Stop::Failed(why)) => (JobState::Failed, Some(why), None),
    };
    let _ = svc
        .db
        .set_state(&id, state, error.as_deref(), version.as_deref());
    let _ = svc.db.count_job(&row.tenant, state);
    let line = match &error {
        Some(e) => format!("job {}: {e}", state.name()),
        None => format!("job {}", state.name()),
    };
    let _ = svc
        .db
        .append_log(&id, "service", &[line], svc.config.max_log_lines);
    // Its task specs and summary served their purpose; what it committed is in the dataset.
    let _ = std::fs::remove_dir_all(svc.store.job_dir(&row.tenant, &id));
    svc.sched.forget(&id);
    svc.finished(&id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_output_is_read() {
        assert_eq!(
            parse_plan("map /w/map-0.json\nmap /w/map-1.json\n"),
            Ok(Next::Tasks(
                "map",
                vec!["/w/map-0.json".into(), "/w/map-1.json".into()]
            ))
        );
        assert_eq!(
            parse_plan("reduce /w/reduce-3.json\n"),
            Ok(Next::Tasks("reduce", vec!["/w/reduce-3.json".into()]))
        );
        assert_eq!(
            parse_plan("publish: every task is committed; ...\n"),
            Ok(Next::Publish)
        );
        assert_eq!(
            parse_plan("published: version v000002\n"),
            Ok(Next::Done(Some("v000002".into())))
        );
        assert_eq!(
            parse_plan("unchanged: /d/out is unchanged since v000001 (same plugin)\n"),
            Ok(Next::Done(Some("v000001".into())))
        );
        assert!(parse_plan("").is_err());
    }
}
