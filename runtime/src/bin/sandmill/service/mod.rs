//! `sandmill serve`: the multi-tenant job service (`docs/service.md`), and `sandmill tenant`.
//!
//! One process: the HTTP API and pages (`api`, `web`) on a tokio runtime; the worker slots
//! (`sched`) on threads of their own, each running one worker process at a time; a driver
//! thread per admitted job (`driver`). Everything that must outlive the process is in the
//! database (`db`) and the data directory (`store`).

pub mod api;
pub mod cli;
pub mod clock;
pub mod db;
pub mod driver;
pub mod fair;
pub mod flags;
pub mod model;
pub mod process;
pub mod sched;
pub mod store;
pub mod tenant;
pub mod ui;
pub mod web;

use db::{Db, JobRow};
use model::JobState;
use sched::Scheduler;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use store::Store;

/// The server's settings (`sandmill serve` flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker slots.
    pub slots: u64,
    /// Worker memory, shared by the slots.
    pub memory: u64,
    /// The largest plugin accepted.
    pub max_plugin_size: u64,
    /// The largest uploaded file accepted.
    pub max_upload_size: u64,
    /// Log lines kept per job.
    pub max_log_lines: u64,
}

/// The running service, shared by the HTTP handlers, the slots and the job drivers.
pub struct Service {
    /// The database.
    pub db: Db,
    /// The data directory.
    pub store: Store,
    /// The worker slots.
    pub sched: Arc<Scheduler>,
    /// Settings.
    pub config: Config,
    /// The `sandmill` binary the workers run.
    pub program: PathBuf,
    /// The environment of every worker.
    pub worker_env: Vec<(String, String)>,
    /// Jobs being driven: id → (tenant, output).
    driven: Mutex<HashMap<String, (String, String)>>,
    /// Jobs their tenant cancelled.
    cancels: Mutex<HashSet<String>>,
    /// Held while admitting, so that a job is admitted once.
    admitting: Mutex<()>,
    /// Held while a worker checks an uploaded plugin: one compiles at a time, so that uploads
    /// cannot take the machine from the running jobs.
    pub checking: Mutex<()>,
    stopping: AtomicBool,
    me: Weak<Service>,
}

impl Service {
    /// Opens the data directory, and resumes every job that was running when the server
    /// last stopped.
    ///
    /// # Errors
    /// If the data directory or its database cannot be used.
    pub fn start(root: PathBuf, config: Config, program: PathBuf) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&root)?;
        // Workers and task specs name absolute paths, whatever directory they run in.
        let store = Store::new(std::fs::canonicalize(&root)?);
        let db = Db::open(&store.db())?;
        let key = cli::compile_key(&store)?;
        let mut worker_env = vec![
            ("SANDMILL_COMPILE_KEY".to_owned(), key),
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
        ];
        // Sandmill's own fault tests arm failpoints in workers (a no-op in release builds).
        if let Ok(v) = std::env::var("SANDMILL_FAILPOINTS") {
            worker_env.push(("SANDMILL_FAILPOINTS".to_owned(), v));
        }
        let sched = Scheduler::start(
            fair::Capacity {
                slots: config.slots,
                memory: config.memory,
            },
            program.clone(),
            worker_env.clone(),
        );
        let svc = Arc::new_cyclic(|me| Service {
            db,
            store,
            sched,
            config,
            program,
            worker_env,
            driven: Mutex::default(),
            cancels: Mutex::default(),
            admitting: Mutex::default(),
            checking: Mutex::default(),
            stopping: AtomicBool::new(false),
            me: me.clone(),
        });
        let lost = svc.db.lose_running_attempts()?;
        for row in svc.db.jobs_in(&[JobState::Running])? {
            let _ = svc.db.append_log(
                &row.job.id,
                "service",
                &[format!(
                    "the server restarted ({lost} attempts it was running are lost); planning \
                     again, keeping every committed task"
                )],
                svc.config.max_log_lines,
            );
            svc.drive(row);
        }
        svc.admit();
        Ok(svc)
    }

    fn lock_driven(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, String)>> {
        self.driven.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a driver thread for an admitted job.
    fn drive(&self, row: JobRow) {
        self.lock_driven().insert(
            row.job.id.clone(),
            (row.tenant.clone(), row.job.output.clone()),
        );
        let Some(svc) = self.me.upgrade() else {
            return;
        };
        let name = format!("sandmill-job-{}", row.job.id);
        let spawned = std::thread::Builder::new()
            .name(name)
            .spawn(move || driver::drive(svc, row));
        if let Err(e) = spawned {
            eprintln!("sandmill serve: cannot start a job driver thread: {e}");
        }
    }

    /// Admits queued jobs, oldest first, as their tenants' `--max-running` and their outputs
    /// allow; records why the others wait.
    pub fn admit(&self) {
        if self.stopping() {
            return;
        }
        let _admitting = self.admitting.lock().unwrap_or_else(|e| e.into_inner());
        let (Ok(queued), Ok(tenants)) = (self.db.jobs_in(&[JobState::Queued]), self.db.tenants())
        else {
            return;
        };
        let tenants: HashMap<String, db::Tenant> =
            tenants.into_iter().map(|t| (t.name.clone(), t)).collect();
        for row in queued {
            let Some(tenant) = tenants.get(&row.tenant) else {
                continue;
            };
            let reason = {
                let driven = self.lock_driven();
                let running: Vec<&String> = driven
                    .iter()
                    .filter(|(_, (t, _))| *t == row.tenant)
                    .map(|(id, _)| id)
                    .collect();
                let writer = driven
                    .iter()
                    .find(|(_, (t, o))| *t == row.tenant && *o == row.job.output);
                if running.len() as u64 >= tenant.max_running {
                    Some(format!(
                        "tenant at max-running {} ({} running)",
                        tenant.max_running,
                        running.len()
                    ))
                } else {
                    writer.map(|(id, _)| {
                        format!("output {} is being written by job {id}", row.job.output)
                    })
                }
            };
            match reason {
                Some(reason) => {
                    let _ = self.db.set_pending(&row.job.id, Some(&reason));
                }
                None => {
                    if self.db.admit_job(&row.job.id).unwrap_or(false) {
                        let _ = self.db.append_log(
                            &row.job.id,
                            "service",
                            &["admitted".to_owned()],
                            self.config.max_log_lines,
                        );
                        self.drive(row);
                    }
                }
            }
        }
    }

    /// A driver's job ended.
    pub fn finished(&self, job: &str) {
        self.lock_driven().remove(job);
        self.cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(job);
        self.admit();
    }

    /// Cancels a tenant's job: a queued one at once, a running one by stopping its workers.
    /// `false` if it had ended.
    pub fn cancel(&self, row: &JobRow) -> anyhow::Result<bool> {
        match row.job.state {
            JobState::Queued => {
                self.db.set_state(
                    &row.job.id,
                    JobState::Cancelled,
                    Some("cancelled by its tenant before it started"),
                    None,
                )?;
                self.db.append_log(
                    &row.job.id,
                    "service",
                    &["job cancelled while queued".to_owned()],
                    self.config.max_log_lines,
                )?;
                Ok(true)
            }
            JobState::Running => {
                self.cancels
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(row.job.id.clone());
                self.sched.cancel(&row.job.id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Whether the job's tenant cancelled it.
    pub fn cancel_requested(&self, job: &str) -> bool {
        self.cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(job)
    }

    /// What a tenant used, with the storage its space takes now.
    pub fn usage(&self, tenant: &str) -> anyhow::Result<model::Usage> {
        Ok(model::Usage {
            storage_bytes: self.store.storage(tenant),
            ..self.db.usage(tenant)?
        })
    }

    /// A tenant's weight now.
    pub fn weight(&self, tenant: &str) -> f64 {
        self.db
            .tenant(tenant)
            .ok()
            .flatten()
            .map_or(1.0, |t| t.weight)
    }

    /// Whether the server is shutting down.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops: no job is admitted and no step started from now on; waits up to `grace` for the
    /// running steps. Jobs stay `running` in the database and resume on the next start.
    pub fn stop(&self, grace: std::time::Duration) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        self.sched.stop(grace)
    }

    /// Why a job waits now, if it does: stored for a queued job; for a running one, whether
    /// its steps wait for a slot.
    pub fn pending_reason(&self, row: &JobRow) -> Option<String> {
        match row.job.state {
            JobState::Queued => row.job.pending_reason.clone(),
            JobState::Running => {
                let snap = self.sched.snapshot();
                let waiting = snap.tenants.get(&row.tenant).map_or(0, |t| t.1);
                (!snap.running_jobs.contains(&row.job.id) && waiting > 0).then(|| {
                    format!(
                        "waiting for a worker slot ({} of {} busy; slots go to the tenant with \
                         the smallest share)",
                        snap.busy, snap.slots
                    )
                })
            }
            _ => None,
        }
    }
}
