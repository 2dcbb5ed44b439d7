//! The service's memory: tenants, plugins, jobs, attempts, logs and usage in one SQLite
//! database (`DIR/service.db`, WAL), so that nothing accepted is lost when the server dies.
//!
//! Every write is one transaction, committed before the server answers or acts on it: a job
//! row exists before its submission is acknowledged; an attempt row before its process
//! starts. With WAL and `synchronous = NORMAL` a committed transaction survives the process
//! being killed (only a crash of the machine may lose the last ones).

use super::clock::{now, now_ms, rfc3339_ms, seconds};
use super::model::{Attempt, Job, JobState, LogLine, Progress, Usage};
use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension as _, params};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    name TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL,
    weight REAL NOT NULL,
    max_running INTEGER NOT NULL,
    max_queued INTEGER NOT NULL,
    max_memory INTEGER NOT NULL,
    max_storage INTEGER NOT NULL,
    max_task_cpu REAL NOT NULL,
    input_roots TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS plugins (
    tenant TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded TEXT NOT NULL,
    exports TEXT NOT NULL,
    PRIMARY KEY (tenant, sha256)
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    idempotency_key TEXT,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    pending_reason TEXT,
    plugin TEXT NOT NULL,
    inputs TEXT NOT NULL,
    output TEXT NOT NULL,
    flags TEXT NOT NULL,
    argv TEXT NOT NULL,
    memory INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    submitted TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    input_bytes INTEGER NOT NULL,
    progress TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    counters TEXT NOT NULL DEFAULT '{}',
    version TEXT,
    error TEXT,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant, seq);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    task TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    started TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished TEXT,
    finished_ms INTEGER,
    cpu_seconds REAL NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_job ON attempts (job, id);
CREATE TABLE IF NOT EXISTS logs (
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (job, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage (
    tenant TEXT PRIMARY KEY,
    cpu_seconds REAL NOT NULL DEFAULT 0,
    bytes_read INTEGER NOT NULL DEFAULT 0,
    bytes_written INTEGER NOT NULL DEFAULT 0,
    jobs_run INTEGER NOT NULL DEFAULT 0,
    jobs_succeeded INTEGER NOT NULL DEFAULT 0,
    jobs_failed INTEGER NOT NULL DEFAULT 0
);
";

/// A tenant's record.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Its name.
    pub name: String,
    /// SHA-256 of its token.
    pub token_hash: Vec<u8>,
    /// Its weight in the fair share.
    pub weight: f64,
    /// Jobs it may have running at once; more wait queued.
    pub max_running: u64,
    /// Jobs it may have queued; more are refused.
    pub max_queued: u64,
    /// The most memory one of its plugin instances (and shuffles) may use.
    pub max_memory: u64,
    /// The most bytes its plugins, uploads and datasets may take.
    pub max_storage: u64,
    /// The most CPU seconds one of its task attempts may spend in the plugin.
    pub max_task_cpu: f64,
    /// Directories (canonical) its jobs may read.
    pub input_roots: Vec<String>,
    /// When it was added.
    pub created: String,
}

/// A job as the scheduler needs it, beside what the API shows.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Its order of submission, over all tenants.
    pub seq: i64,
    /// Its tenant.
    pub tenant: String,
    /// What the API shows.
    pub job: Job,
    /// The `sandmill run` arguments after the subcommand: plugin, inputs, output and flags,
    /// with every path resolved.
    pub argv: Vec<String>,
    /// The memory one of its task processes may use (plugin and shuffle).
    pub memory: u64,
    /// Attempts per task.
    pub max_attempts: u32,
}

/// A new job, to be stored.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// Its tenant.
    pub tenant: &'a str,
    /// Its id.
    pub id: &'a str,
    /// The idempotency key, if the submission had one.
    pub idempotency_key: Option<&'a str>,
    /// The request, canonical JSON: a second submission with the same key must match it.
    pub request: &'a str,
    /// The plugin's SHA-256.
    pub plugin: &'a str,
    /// The inputs as submitted.
    pub inputs: &'a [String],
    /// The output dataset's name.
    pub output: &'a str,
    /// The flags as submitted.
    pub flags: &'a [String],
    /// As [`JobRow::argv`].
    pub argv: &'a [String],
    /// As [`JobRow::memory`].
    pub memory: u64,
    /// As [`JobRow::max_attempts`].
    pub max_attempts: u32,
    /// The inputs' size.
    pub input_bytes: u64,
}

/// What storing a job did.
#[derive(Debug)]
pub enum Inserted {
    /// A new job.
    New(Box<JobRow>),
    /// The tenant's job with the same idempotency key and the same request.
    Existing(Box<JobRow>),
    /// The tenant's job with the same idempotency key, for another request.
    Conflict(String),
    /// The tenant has this many jobs queued, its limit.
    QueueFull(u64),
}

/// The database, shared by the HTTP handlers and the scheduler's threads.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data is JSON")
}

fn from_json<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

const JOB_COLUMNS: &str = "seq, tenant, id, state, pending_reason, plugin, inputs, output, \
    flags, submitted, started, finished, input_bytes, progress, attempts, counters, version, \
    error, argv, memory, max_attempts";

fn job_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    let state: String = row.get(3)?;
    let started: Option<String> = row.get(10)?;
    let finished: Option<String> = row.get(11)?;
    Ok(JobRow {
        seq: row.get(0)?,
        tenant: row.get(1)?,
        job: Job {
            id: row.get(2)?,
            state: JobState::from_name(&state).unwrap_or(JobState::Failed),
            pending_reason: row.get(4)?,
            plugin: row.get(5)?,
            inputs: from_json(&row.get::<_, String>(6)?),
            output: row.get(7)?,
            flags: from_json(&row.get::<_, String>(8)?),
            submitted: row.get(9)?,
            duration_seconds: duration(started.as_deref(), finished.as_deref()),
            started,
            finished,
            input_bytes: row.get::<_, i64>(12)?.max(0) as u64,
            progress: from_json::<Progress>(&row.get::<_, String>(13)?),
            attempts: row.get::<_, i64>(14)?.max(0) as u64,
            counters: from_json::<BTreeMap<String, i64>>(&row.get::<_, String>(15)?),
            version: row.get(16)?,
            error: row.get(17)?,
        },
        argv: from_json(&row.get::<_, String>(18)?),
        memory: row.get::<_, i64>(19)?.max(0) as u64,
        max_attempts: u32::try_from(row.get::<_, i64>(20)?).unwrap_or(1),
    })
}

/// Seconds from `started` to `finished`, or to now.
fn duration(started: Option<&str>, finished: Option<&str>) -> Option<f64> {
    let start = seconds(started?)?;
    let end = finished.map_or(Some(now_ms() as f64 / 1000.0), seconds)?;
    Some((end - start).max(0.0).floor())
}

impl Db {
    /// Opens (creating) the database at `path`.
    ///
    /// # Errors
    /// If it cannot be opened or is not Sandmill's.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("setting up {}", path.display()))?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    // Tenants.

    /// Adds a tenant.
    ///
    /// # Errors
    /// If one of that name exists.
    pub fn add_tenant(&self, t: &Tenant) -> anyhow::Result<()> {
        let conn = self.conn();
        let exists: bool = conn
            .query_row("SELECT 1 FROM tenants WHERE name = ?1", [&t.name], |_| {
                Ok(())
            })
            .optional()?
            .is_some();
        anyhow::ensure!(
            !exists,
            "tenant {} exists already (`sandmill tenant remove {}` first)",
            t.name,
            t.name
        );
        conn.execute(
            "INSERT INTO tenants VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                t.name,
                t.token_hash,
                t.weight,
                t.max_running as i64,
                t.max_queued as i64,
                t.max_memory as i64,
                t.max_storage as i64,
                t.max_task_cpu,
                json(&t.input_roots),
                t.created
            ],
        )?;
        conn.execute(
            "INSERT OR IGNORE INTO usage (tenant) VALUES (?1)",
            [&t.name],
        )?;
        Ok(())
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> anyhow::Result<Vec<Tenant>> {
        self.tenants_named(None)
    }

    /// The tenant `name`.
    pub fn tenant(&self, name: &str) -> anyhow::Result<Option<Tenant>> {
        Ok(self.tenants_named(Some(name))?.pop())
    }

    /// The tenants named `name`, or all of them.
    fn tenants_named(&self, name: Option<&str>) -> anyhow::Result<Vec<Tenant>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, token_hash, weight, max_running, max_queued, max_memory, \
             max_storage, max_task_cpu, input_roots, created FROM tenants \
             WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([name], |r| {
            Ok(Tenant {
                name: r.get(0)?,
                token_hash: r.get(1)?,
                weight: r.get(2)?,
                max_running: r.get::<_, i64>(3)?.max(0) as u64,
                max_queued: r.get::<_, i64>(4)?.max(0) as u64,
                max_memory: r.get::<_, i64>(5)?.max(0) as u64,
                max_storage: r.get::<_, i64>(6)?.max(0) as u64,
                max_task_cpu: r.get(7)?,
                input_roots: from_json(&r.get::<_, String>(8)?),
                created: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a tenant's record (its token stops working at once); `false` if there was none.
    pub fn remove_tenant(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM tenants WHERE name = ?1", [name])?
            > 0)
    }

    // Plugins.

    /// Records a tenant's plugin; `false` if it was recorded already.
    pub fn add_plugin(
        &self,
        tenant: &str,
        sha256: &str,
        size: u64,
        exports: &[String],
    ) -> anyhow::Result<bool> {
        Ok(self.conn().execute(
            "INSERT OR IGNORE INTO plugins VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tenant, sha256, size as i64, now(), json(&exports)],
        )? > 0)
    }

    /// A tenant's plugins (`sha256` set: only that one), as the API shows them.
    pub fn plugins(
        &self,
        tenant: &str,
        sha256: Option<&str>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT sha256, size, uploaded, exports FROM plugins WHERE tenant = ?1 \
             AND (?2 IS NULL OR sha256 = ?2) ORDER BY uploaded, sha256",
        )?;
        let rows = stmt.query_map(params![tenant, sha256], |r| {
            Ok(serde_json::json!({
                "sha256": r.get::<_, String>(0)?,
                "size": r.get::<_, i64>(1)?,
                "uploaded": r.get::<_, String>(2)?,
                "exports": from_json::<Vec<String>>(&r.get::<_, String>(3)?),
            }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // Jobs.

    /// Stores a new job, unless the tenant has one with the same idempotency key or its
    /// queue is full: one transaction, so two racing submissions with one key make one job.
    pub fn insert_job(&self, new: &NewJob<'_>, max_queued: u64) -> anyhow::Result<Inserted> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(key) = new.idempotency_key {
            let existing = tx
                .query_row(
                    &format!(
                        "SELECT {JOB_COLUMNS}, request FROM jobs \
                         WHERE tenant = ?1 AND idempotency_key = ?2"
                    ),
                    params![new.tenant, key],
                    |r| Ok((job_row(r)?, r.get::<_, String>(21)?)),
                )
                .optional()?;
            if let Some((row, request)) = existing {
                return Ok(if request == new.request {
                    Inserted::Existing(Box::new(row))
                } else {
                    Inserted::Conflict(row.job.id)
                });
            }
        }
        let queued: i64 = tx.query_row(
            "SELECT COUNT(*) FROM jobs WHERE tenant = ?1 AND state = 'queued'",
            [new.tenant],
            |r| r.get(0),
        )?;
        if queued as u64 >= max_queued {
            return Ok(Inserted::QueueFull(queued as u64));
        }
        tx.execute(
            "INSERT INTO jobs (id, tenant, idempotency_key, request, state, plugin, inputs, \
             output, flags, argv, memory, max_attempts, submitted, input_bytes, progress) \
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                new.id,
                new.tenant,
                new.idempotency_key,
                new.request,
                new.plugin,
                json(&new.inputs),
                new.output,
                json(&new.flags),
                json(&new.argv),
                new.memory as i64,
                i64::from(new.max_attempts),
                now(),
                new.input_bytes as i64,
                json(&Progress::default()),
            ],
        )?;
        let row = tx.query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            [new.id],
            job_row,
        )?;
        tx.commit()?;
        Ok(Inserted::New(Box::new(row)))
    }

    /// The job `id` (of `tenant`, if given: another tenant's job is `None`).
    pub fn job(&self, tenant: Option<&str>, id: &str) -> anyhow::Result<Option<JobRow>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
                ),
                params![id, tenant],
                job_row,
            )
            .optional()?)
    }

    /// A tenant's jobs, newest first: at most `limit`, submitted before job `before`, in
    /// state `state`.
    pub fn jobs(
        &self,
        tenant: &str,
        state: Option<JobState>,
        before: Option<&str>,
        limit: u64,
    ) -> anyhow::Result<Vec<Job>> {
        let conn = self.conn();
        let before_seq: i64 = match before {
            None => i64::MAX,
            Some(id) => conn
                .query_row(
                    "SELECT seq FROM jobs WHERE id = ?1 AND tenant = ?2",
                    params![id, tenant],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(i64::MAX),
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ?1 AND seq < ?2 \
             AND (?3 IS NULL OR state = ?3) ORDER BY seq DESC LIMIT ?4"
        ))?;
        let rows = stmt.query_map(
            params![tenant, before_seq, state.map(JobState::name), limit as i64],
            |r| job_row(r).map(|row| row.job),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every job in `states`, in submission order (the scheduler's view).
    pub fn jobs_in(&self, states: &[JobState]) -> anyhow::Result<Vec<JobRow>> {
        let conn = self.conn();
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.name()))
            .collect::<Vec<_>>()
            .join(",");
        let mut stmt = conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ({list}) ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], job_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a job's state (and its start or end time with it), pending reason and error.
    pub fn set_state(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
        version: Option<&str>,
    ) -> anyhow::Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE jobs SET state = ?2, pending_reason = NULL, error = COALESCE(?3, error), \
             version = COALESCE(?4, version), \
             started = CASE WHEN ?2 = 'running' THEN COALESCE(started, ?5) ELSE started END, \
             finished = CASE WHEN ?2 IN ('succeeded', 'failed', 'cancelled') THEN ?5 \
                        ELSE finished END \
             WHERE id = ?1",
            params![id, state.name(), error, version, now()],
        )?;
        Ok(())
    }

    /// Makes a queued job running; `false` if it was not queued any more (cancelled).
    pub fn admit_job(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.conn().execute(
            "UPDATE jobs SET state = 'running', pending_reason = NULL, \
             started = COALESCE(started, ?2) WHERE id = ?1 AND state = 'queued'",
            params![id, now()],
        )? > 0)
    }

    /// Sets why a job waits (`None`: it does not).
    pub fn set_pending(&self, id: &str, reason: Option<&str>) -> anyhow::Result<()> {
        self.conn().execute(
            "UPDATE jobs SET pending_reason = ?2 WHERE id = ?1 AND pending_reason IS NOT ?2",
            params![id, reason],
        )?;
        Ok(())
    }

    /// Records a job's progress and counters.
    pub fn set_progress(
        &self,
        id: &str,
        progress: &Progress,
        counters: &BTreeMap<String, i64>,
    ) -> anyhow::Result<()> {
        self.conn().execute(
            "UPDATE jobs SET progress = ?2, counters = ?3 WHERE id = ?1",
            params![id, json(progress), json(counters)],
        )?;
        Ok(())
    }

    // Attempts.

    /// Records that an attempt starts; its row id.
    pub fn start_attempt(&self, job: &str, task: &str, attempt: u32) -> anyhow::Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO attempts (job, task, attempt, state, started, started_ms) \
             VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
            params![job, task, i64::from(attempt), now(), now_ms()],
        )?;
        let id = conn.last_insert_rowid();
        conn.execute(
            "UPDATE jobs SET attempts = attempts + 1 WHERE id = ?1",
            [job],
        )?;
        Ok(id)
    }

    /// Records how an attempt ended, and what its tenant used.
    pub fn finish_attempt(
        &self,
        id: i64,
        tenant: &str,
        state: &str,
        cpu_seconds: f64,
        error: Option<&str>,
        bytes: (u64, u64),
    ) -> anyhow::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE attempts SET state = ?2, finished = ?3, finished_ms = ?4, \
             cpu_seconds = ?5, error = ?6 WHERE id = ?1",
            params![id, state, now(), now_ms(), cpu_seconds, error],
        )?;
        tx.execute(
            "UPDATE usage SET cpu_seconds = cpu_seconds + ?2, bytes_read = bytes_read + ?3, \
             bytes_written = bytes_written + ?4 WHERE tenant = ?1",
            params![tenant, cpu_seconds, bytes.0 as i64, bytes.1 as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Marks attempts left `running` by a server that died as `lost`.
    pub fn lose_running_attempts(&self) -> anyhow::Result<usize> {
        Ok(self.conn().execute(
            "UPDATE attempts SET state = 'lost', finished = ?1, finished_ms = ?2, \
             error = 'the server stopped while it ran' WHERE state = 'running'",
            params![now(), now_ms()],
        )?)
    }

    /// The next attempt number of a job's task: one past every attempt recorded.
    pub fn next_attempt(&self, job: &str, task: &str) -> anyhow::Result<u32> {
        let last: Option<i64> = self.conn().query_row(
            "SELECT MAX(attempt) FROM attempts WHERE job = ?1 AND task = ?2",
            params![job, task],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(last.unwrap_or(0) + 1).unwrap_or(u32::MAX))
    }

    /// Tasks of a job with a committed (`ok`) attempt whose name starts with `prefix`.
    pub fn committed_tasks(&self, job: &str, prefix: &str) -> anyhow::Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(DISTINCT task) FROM attempts WHERE job = ?1 AND state = 'ok' \
             AND task LIKE ?2 || '%'",
            params![job, prefix],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    /// A job's attempts, in start order.
    pub fn attempts(&self, job: &str) -> anyhow::Result<Vec<Attempt>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT task, attempt, state, started_ms, finished_ms, cpu_seconds, error \
             FROM attempts WHERE job = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([job], |r| {
            Ok(Attempt {
                task: r.get(0)?,
                attempt: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                state: r.get(2)?,
                started: rfc3339_ms(r.get(3)?),
                finished: r.get::<_, Option<i64>>(4)?.map(rfc3339_ms),
                cpu_seconds: r.get(5)?,
                error: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // Logs.

    /// Appends lines to a job's log, keeping at most `max_lines`; past that, one line says
    /// how many were dropped (and is kept up to date).
    pub fn append_log(
        &self,
        job: &str,
        source: &str,
        lines: &[String],
        max_lines: u64,
    ) -> anyhow::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let last: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM logs WHERE job = ?1",
            [job],
            |r| r.get(0),
        )?;
        let time = now();
        let mut seq = last;
        let mut dropped = 0u64;
        for line in lines {
            if seq as u64 + 1 >= max_lines {
                dropped += 1;
                continue;
            }
            seq += 1;
            tx.execute(
                "INSERT INTO logs VALUES (?1, ?2, ?3, ?4, ?5)",
                params![job, seq, time, source, sandmill::text::inert(line)],
            )?;
        }
        if dropped > 0 {
            let before: u64 = tx
                .query_row(
                    "SELECT text FROM logs WHERE job = ?1 AND seq = ?2",
                    params![job, max_lines as i64],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .and_then(|t| t.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            tx.execute(
                "INSERT OR REPLACE INTO logs VALUES (?1, ?2, ?3, 'service', ?4)",
                params![
                    job,
                    max_lines as i64,
                    time,
                    format!(
                        "{} more lines dropped: the log keeps {max_lines} lines",
                        before + dropped
                    )
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A job's log lines after `after`, at most `limit`.
    pub fn log(&self, job: &str, after: u64, limit: u64) -> anyhow::Result<Vec<LogLine>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT seq, time, source, text FROM logs WHERE job = ?1 AND seq > ?2 \
             ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![job, after as i64, limit as i64], |r| {
            Ok(LogLine {
                seq: r.get::<_, i64>(0)?.max(0) as u64,
                time: r.get(1)?,
                source: r.get(2)?,
                text: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last `n` lines of a job's log, in order.
    pub fn log_tail(&self, job: &str, n: u64) -> anyhow::Result<Vec<LogLine>> {
        let last: i64 = self.conn().query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM logs WHERE job = ?1",
            [job],
            |r| r.get(0),
        )?;
        self.log(job, (last as u64).saturating_sub(n), n)
    }

    // Usage.

    /// Counts a job that ended after it had started.
    pub fn count_job(&self, tenant: &str, state: JobState) -> anyhow::Result<()> {
        self.conn().execute(
            "UPDATE usage SET jobs_run = jobs_run + 1, \
             jobs_succeeded = jobs_succeeded + (?2 = 'succeeded'), \
             jobs_failed = jobs_failed + (?2 = 'failed') WHERE tenant = ?1",
            params![tenant, state.name()],
        )?;
        Ok(())
    }

    /// A tenant's usage (without its storage, which is on disk).
    pub fn usage(&self, tenant: &str) -> anyhow::Result<Usage> {
        let usage = self
            .conn()
            .query_row(
                "SELECT cpu_seconds, bytes_read, bytes_written, jobs_run, jobs_succeeded, \
                 jobs_failed FROM usage WHERE tenant = ?1",
                [tenant],
                |r| {
                    Ok(Usage {
                        tenant: tenant.to_owned(),
                        cpu_seconds: r.get(0)?,
                        bytes_read: r.get::<_, i64>(1)?.max(0) as u64,
                        bytes_written: r.get::<_, i64>(2)?.max(0) as u64,
                        jobs_run: r.get::<_, i64>(3)?.max(0) as u64,
                        jobs_succeeded: r.get::<_, i64>(4)?.max(0) as u64,
                        jobs_failed: r.get::<_, i64>(5)?.max(0) as u64,
                        storage_bytes: 0,
                    })
                },
            )
            .optional()?;
        Ok(usage.unwrap_or_else(|| Usage {
            tenant: tenant.to_owned(),
            ..Usage::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_job<'a>(
        tenant: &'a str,
        id: &'a str,
        key: Option<&'a str>,
        request: &'a str,
    ) -> NewJob<'a> {
        NewJob {
            tenant,
            id,
            idempotency_key: key,
            request,
            plugin: "abc",
            inputs: &[],
            output: "out",
            flags: &[],
            argv: &[],
            memory: 1,
            max_attempts: 2,
            input_bytes: 3,
        }
    }

    #[test]
    fn one_key_one_job_and_full_queues_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db")).unwrap();
        let first = db
            .insert_job(&new_job("a", "j-1", Some("k"), "r1"), 10)
            .unwrap();
        assert!(matches!(first, Inserted::New(_)), "{first:?}");
        let again = db
            .insert_job(&new_job("a", "j-2", Some("k"), "r1"), 10)
            .unwrap();
        assert!(
            matches!(&again, Inserted::Existing(row) if row.job.id == "j-1"),
            "{again:?}"
        );
        let other = db
            .insert_job(&new_job("a", "j-3", Some("k"), "r2"), 10)
            .unwrap();
        assert!(
            matches!(&other, Inserted::Conflict(id) if id == "j-1"),
            "{other:?}"
        );
        // Keys are the tenant's own.
        let b = db
            .insert_job(&new_job("b", "j-4", Some("k"), "r1"), 10)
            .unwrap();
        assert!(matches!(b, Inserted::New(_)), "{b:?}");
        let full = db.insert_job(&new_job("a", "j-5", None, "r3"), 1).unwrap();
        assert!(matches!(full, Inserted::QueueFull(1)), "{full:?}");
        assert!(db.job(Some("b"), "j-1").unwrap().is_none());
        assert_eq!(
            db.job(Some("a"), "j-1").unwrap().unwrap().job.input_bytes,
            3
        );
    }

    #[test]
    fn logs_are_capped_with_a_count_of_what_was_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db")).unwrap();
        let lines: Vec<String> = (0..8).map(|i| format!("line {i}\x1b[31m")).collect();
        db.append_log("j", "plugin", &lines, 5).unwrap();
        db.append_log("j", "plugin", &lines[..2], 5).unwrap();
        let log = db.log("j", 0, 100).unwrap();
        assert_eq!(log.len(), 5, "{log:?}");
        assert_eq!(log[0].text, "line 0\\u{1b}[31m");
        assert_eq!(log[4].text, "6 more lines dropped: the log keeps 5 lines");
        assert_eq!(db.log_tail("j", 2).unwrap()[1].seq, 5);
    }
}
