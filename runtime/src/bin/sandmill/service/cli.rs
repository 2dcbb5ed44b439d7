//! `sandmill serve` and `sandmill tenant`: their flags, and the server's life from start to a
//! clean stop on SIGTERM or SIGINT.

use super::db::{Db, Tenant};
use super::store::Store;
use super::{Config, Service};
use crate::args::parse_size;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

/// `sandmill serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service's data directory: its database, plugins, uploads and datasets.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8480")]
    pub listen: String,
    /// Worker slots: how many worker processes run at once [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub slots: Option<u64>,
    /// Memory the worker processes share; a task is started only when its job's memory
    /// (`--plugin-memory` plus `--memory`) is free [default: half the machine's RAM].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub worker_memory: Option<u64>,
    /// The largest plugin accepted.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_plugin_size: u64,
    /// The largest file accepted by one upload request.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub max_upload_size: u64,
    /// Log lines kept per job.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_log_lines: u64,
    /// On SIGTERM or SIGINT, how long running tasks may take to finish before the server
    /// exits anyway (their jobs resume on the next start).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub shutdown_grace: f64,
}

/// `sandmill tenant`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Add a tenant, and print its API token on stdout, once: only a hash of it is kept.
    ///
    /// Example:
    ///   sandmill tenant add alice --data-dir /srv/sandmill --max-running 2
    Add {
        /// Its name: 1 to 64 of a-z, 0-9, - and _.
        name: String,
        /// The service's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Its weight in the fair share of worker slots and memory.
        #[arg(long, value_name = "W", default_value_t = 1.0)]
        weight: f64,
        /// Jobs it may run at once; more wait queued (with the reason).
        #[arg(long, value_name = "N", default_value_t = 4)]
        max_running: u64,
        /// Jobs it may have queued; a submission beyond is refused (HTTP 429).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        max_queued: u64,
        /// The most memory one of its plugin instances, and one of its shuffles, may use.
        #[arg(long, value_name = "SIZE", default_value = "2GiB", value_parser = parse_size)]
        max_memory: u64,
        /// The most its plugins, uploads and datasets (every version) may take on disk.
        #[arg(long, value_name = "SIZE", default_value = "100GiB", value_parser = parse_size)]
        max_storage: u64,
        /// The most CPU seconds one task attempt of its jobs may spend in the plugin: it
        /// bounds their --task-cpu.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600.0)]
        max_task_cpu: f64,
        /// A directory its jobs may read as input (by absolute path). Repeat for several.
        #[arg(long, value_name = "PATH")]
        input_root: Vec<PathBuf>,
    },
    /// List the tenants and their limits.
    List {
        /// The service's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Remove a tenant: its token stops working at once. Its files stay, unless --purge.
    Remove {
        /// The tenant.
        name: String,
        /// The service's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Also delete its plugins, uploads, datasets and job files.
        #[arg(long)]
        purge: bool,
    },
}

/// The key that authenticates compiled plugins, as hex: read from `DIR/service.key`, made
/// (random, `0600`) on first use.
pub fn compile_key(store: &Store) -> anyhow::Result<String> {
    let path = store.key_file();
    match std::fs::read_to_string(&path) {
        Ok(key) if key.trim().len() == 64 => return Ok(key.trim().to_owned()),
        Ok(_) => anyhow::bail!(
            "{} is not a key Sandmill wrote; remove it to make a new one (compiled plugins are \
             then compiled again)",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let key = super::tenant::hex(&super::tenant::random_bytes(32)?);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(key.as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

fn open_db(data_dir: &std::path::Path) -> anyhow::Result<Db> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    Db::open(&Store::new(data_dir).db())
}

/// `sandmill tenant ...`.
pub fn tenant(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Add {
            name,
            data_dir,
            weight,
            max_running,
            max_queued,
            max_memory,
            max_storage,
            max_task_cpu,
            input_root,
        } => {
            let db = open_db(&data_dir)?;
            let token = super::tenant::add(
                &db,
                Tenant {
                    name,
                    token_hash: Vec::new(),
                    weight,
                    max_running,
                    max_queued,
                    max_memory,
                    max_storage,
                    max_task_cpu,
                    input_roots: input_root.iter().map(|p| p.display().to_string()).collect(),
                    created: super::clock::now(),
                },
            )?;
            println!("{token}");
        }
        TenantCommand::List { data_dir } => {
            let db = open_db(&data_dir)?;
            println!(
                "{:<20} {:>6} {:>8} {:>8} {:>12} {:>14} {:>9}  input roots",
                "tenant", "weight", "running", "queued", "memory", "storage", "task cpu"
            );
            for t in db.tenants()? {
                println!(
                    "{:<20} {:>6} {:>8} {:>8} {:>12} {:>14} {:>8}s  {}",
                    t.name,
                    t.weight,
                    t.max_running,
                    t.max_queued,
                    t.max_memory,
                    t.max_storage,
                    t.max_task_cpu,
                    t.input_roots.join(", ")
                );
            }
        }
        TenantCommand::Remove {
            name,
            data_dir,
            purge,
        } => {
            let db = open_db(&data_dir)?;
            let active = db
                .jobs_in(&[
                    super::model::JobState::Queued,
                    super::model::JobState::Running,
                ])?
                .into_iter()
                .filter(|r| r.tenant == name)
                .count();
            anyhow::ensure!(
                active == 0,
                "tenant {name} has {active} queued or running jobs; cancel them first \
                 (`sandmill cancel JOB` with its token)"
            );
            anyhow::ensure!(db.remove_tenant(&name)?, "no tenant {name}");
            if purge {
                let dir = Store::new(&data_dir).tenant(&name);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("removing {}", dir.display()))?;
                }
            }
            println!("removed tenant {name}");
        }
    }
    Ok(())
}

/// The machine's RAM, from /proc/meminfo.
fn machine_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map_or(8 << 30, |kib| kib << 10)
}

/// `sandmill serve`: runs until SIGTERM or SIGINT.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let slots = args
        .slots
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() as u64));
    anyhow::ensure!(slots > 0, "--slots must be at least 1");
    let config = Config {
        slots,
        memory: args.worker_memory.unwrap_or_else(|| machine_memory() / 2),
        max_plugin_size: args.max_plugin_size,
        max_upload_size: args.max_upload_size,
        max_log_lines: args.max_log_lines.max(10),
    };
    anyhow::ensure!(
        args.shutdown_grace >= 0.0 && args.shutdown_grace.is_finite(),
        "--shutdown-grace must be a number of seconds"
    );
    let program = std::env::current_exe().context("finding the sandmill binary")?;
    let svc = Service::start(args.data_dir.clone(), config, program)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("sandmill-http")
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "sandmill serve: listening on http://{addr} ({slots} slots), data in {}",
            args.data_dir.display()
        );
        let app = super::api::router(svc.clone());
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        anyhow::Ok(())
    })?;
    eprintln!("sandmill serve: stopping; letting running tasks finish");
    let grace = Duration::from_secs_f64(args.shutdown_grace);
    let left = svc.stop(grace);
    if left > 0 {
        eprintln!(
            "sandmill serve: {left} tasks still running after {grace:?}; they stop with the \
             server and run again on the next start"
        );
    }
    eprintln!("sandmill serve: stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
