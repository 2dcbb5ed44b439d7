//! `sandmill-bench cluster`: one job on a Ray cluster against local runs of it (issue 13).
//!
//! For each worker count it brings up a local test cluster (`scripts/cluster.sh up`: SeaweedFS,
//! a Ray head and N worker nodes of one CPU each, in a loopback-only network namespace), timing
//! the start-up; uploads the generated input once (`sandmill put DIR --as s3://sandmill/in`);
//! then runs the job `--repeat` times in each setting, taking turns: the local executor on
//! local files (the baseline), the local executor with `s3://` input and output, and
//! `--executor ray`. Every output must equal the first local run's, part file by part file and
//! byte for byte, or the benchmark stops with an error. The cluster is always brought down
//! (by its guard), also when a run fails.
//!
//! ```text
//! mod.rs      the steps, in order          runs.rs    one measured run, its output read back
//! script.rs   cluster.sh up/down, the ns   cpu.rs     CPU time of a namespace's processes
//! report.rs   the tables
//! ```

mod cpu;
mod report;
mod runs;
mod script;

use super::{JOBS, Paths, build_plugins, cargo_build, ensure_data};
use anyhow::{Context, Result, bail};
use report::Round;
use runs::{Job, Setting};
use sandmill_bench::generate::Spec;
use sandmill_bench::output::{Parts, compare_parts};
use sandmill_bench::size::{human, parse_size, size_name};
use script::Cluster;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Input size (bytes, or with a unit: 512KiB, 64MiB, 1GiB).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    size: u64,

    /// Worker node counts, comma-separated (1 to 8 each): one cluster for each, in turn.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    workers: Vec<u32>,

    /// The job: wordcount, inverted-index or revenue-by-user.
    #[arg(long, default_value = "wordcount")]
    job: String,

    /// Runs of each setting per cluster; the best wall time is reported.
    #[arg(long, default_value_t = 2)]
    repeat: usize,

    /// Reduce tasks of every run (`--reducers`).
    #[arg(long, default_value_t = 4)]
    reducers: u32,

    /// Split size of every run (`--split-size`): the map tasks the cluster can spread.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    split_size: u64,

    /// Threads of the local runs (`--threads`).
    #[arg(long, default_value_t = 2)]
    threads: usize,

    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Don't build: use the binary and plugins already in the target directory.
    #[arg(long)]
    no_build: bool,

    /// The `sandmill` binary, for the client and on every node (then it is not built)
    /// [default: <target>/release/sandmill; with --no-build the debug one if there is no
    /// release one].
    #[arg(long, value_name = "PATH")]
    sandmill: Option<PathBuf>,

    /// Where the Markdown report is written [default: <target>/bench-cluster.md].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Keep the runs' logs, summaries and outputs (<target>/bench-out/cluster-PID) even if
    /// all went well.
    #[arg(long)]
    keep: bool,
}

/// Runs the benchmark. An output that differs is an error, so `Ok` means every check passed.
pub fn run(args: &ClusterArgs) -> Result<bool> {
    if args.repeat == 0 || args.threads == 0 || args.reducers == 0 {
        bail!("--repeat, --threads and --reducers must be at least 1");
    }
    if args.workers.is_empty() || args.workers.iter().any(|w| !(1..=8).contains(w)) {
        bail!(
            "--workers must list worker counts of 1 to 8, not {:?}",
            args.workers
        );
    }
    let job = JOBS
        .iter()
        .find(|j| j.name == args.job && j.name != "revenue-by-user-csv")
        .with_context(|| {
            format!(
                "unknown --job {:?}: give wordcount, inverted-index or revenue-by-user",
                args.job
            )
        })?;
    let paths = Paths::find()?;
    let sandmill = sandmill_binary(args, &paths)?;
    let plugin = paths.plugin(job);
    if !plugin.is_file() {
        bail!(
            "no {}: build it with `cargo build --profile plugin --target wasm32-wasip2 -p {}`, \
             or drop --no-build",
            plugin.display(),
            job.name
        );
    }
    let spec = Spec {
        kind: job.data,
        size: args.size,
        seed: args.seed,
    };
    let data = ensure_data(&paths.data_dir(None), &spec)?;
    script::down_on_interrupt()?;
    let work = paths
        .target
        .join("bench-out")
        .join(format!("cluster-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;

    let flags = vec![
        "--reducers".to_owned(),
        args.reducers.to_string(),
        "--split-size".to_owned(),
        size_name(args.split_size),
        "--threads".to_owned(),
        args.threads.to_string(),
    ];
    let job_run = Job {
        plugin: &plugin,
        format: job.format.name(),
        input: &data.input,
        s3_input: "s3://sandmill/in",
        flags: &flags,
    };
    let mut reference: Option<Parts> = None;
    let mut rounds = Vec::new();
    for &workers in &args.workers {
        let dir = work.join(format!("workers-{workers}"));
        fs::create_dir_all(&dir)?;
        let round = one_round(
            &paths,
            &sandmill,
            &job_run,
            workers,
            args.repeat,
            &dir,
            &mut reference,
        )
        .with_context(|| {
            format!(
                "with {workers} worker node{} (logs in {})",
                if workers == 1 { "" } else { "s" },
                dir.display()
            )
        })?;
        rounds.push(round);
    }

    let title = format!(
        "{} on {} ({}), local against Ray clusters of {} worker node(s)",
        job.name,
        human(data.bytes),
        size_name(args.size),
        args.workers
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let main = report::settings_table(&rounds, data.bytes);
    let startup = report::startup_table(&rounds, data.bytes);
    let mut md = header(&paths, &sandmill, args);
    let mut accounting: Vec<&str> = rounds.iter().map(|r| r.accounting).collect();
    accounting.dedup();
    let _ = writeln!(md, "Cluster CPU counted by: {}.", accounting.join("; "));
    let _ = write!(
        md,
        "\n## {title}\n\n{}\n{}\n\n## Cluster start-up and upload of the input\n\n{}",
        main.to_markdown(),
        report::NOTES,
        startup.to_markdown()
    );
    println!(
        "{title}\n\n{}\n{}\nCluster CPU counted by: {}.\n\nCluster start-up and upload of \
         the input\n\n{}",
        main.to_text(),
        report::NOTES,
        accounting.join("; "),
        startup.to_text()
    );
    let path = args
        .report
        .clone()
        .unwrap_or_else(|| paths.target.join("bench-cluster.md"));
    fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    if args.keep {
        eprintln!("kept the runs' logs and outputs in {}", work.display());
    } else {
        let _ = fs::remove_dir_all(&work);
    }
    Ok(true)
}

/// The `sandmill` to run, built first unless --no-build or --sandmill; and the plugins.
fn sandmill_binary(args: &ClusterArgs, paths: &Paths) -> Result<PathBuf> {
    if !args.no_build {
        if args.sandmill.is_none() {
            cargo_build(
                paths,
                &[
                    "build",
                    "--release",
                    "-p",
                    "sandmill-runtime",
                    "--bin",
                    "sandmill",
                ],
            )?;
        }
        build_plugins(paths)?;
    }
    let sandmill = match &args.sandmill {
        Some(path) => std::path::absolute(path)?,
        None if args.no_build && !paths.sandmill.is_file() => paths.target.join("debug/sandmill"),
        None => paths.sandmill.clone(),
    };
    if !sandmill.is_file() {
        bail!(
            "no {}: build it with `cargo build -p sandmill-runtime --bin sandmill` (add \
             --release for the release one), drop --no-build, or pass --sandmill PATH",
            sandmill.display()
        );
    }
    Ok(sandmill)
}

/// One cluster of `workers` nodes: up, upload, every setting `repeat` times, down.
fn one_round(
    paths: &Paths,
    sandmill: &Path,
    job: &Job<'_>,
    workers: u32,
    repeat: usize,
    dir: &Path,
    reference: &mut Option<Parts>,
) -> Result<Round> {
    // Short: Ray's unix socket paths under it must fit in 107 bytes.
    let state = PathBuf::from(format!("/tmp/smbench-{}-{workers}", std::process::id()));
    eprintln!(
        "bringing up a cluster of {workers} worker node(s) in {} (if this benchmark is killed, \
         stop it with: SANDMILL_CLUSTER_DIR={} scripts/cluster.sh down)",
        state.display(),
        state.display()
    );
    let cluster = Cluster::up(
        &paths.workspace,
        sandmill,
        &state,
        workers,
        &format!("smbench-{}-{workers}", std::process::id()),
        &dir.join("cluster-up.log"),
    )?;
    eprintln!(
        "cluster up in {:.1}s ({:.1} CPU s)",
        cluster.startup.wall.as_secs_f64(),
        cluster.startup.cpu.as_secs_f64()
    );
    let upload = runs::upload(&cluster, job.input, job.s3_input, &dir.join("put.log"))?;
    eprintln!("uploaded the input in {:.1}s", upload.as_secs_f64());
    let mut round = Round {
        workers,
        accounting: cluster.accounting(),
        startup: cluster.startup,
        upload,
        runs: Setting::ALL.iter().map(|s| (*s, Vec::new())).collect(),
    };
    for n in 0..repeat {
        for (setting, samples) in &mut round.runs {
            let (sample, parts) = runs::run(sandmill, &cluster, job, *setting, n, dir)?;
            eprintln!(
                "{workers} worker(s), {} #{}: {:.2}s wall, {:.2} CPU s",
                setting.name(),
                n + 1,
                sample.wall.as_secs_f64(),
                sample.cpu.as_secs_f64()
            );
            match reference {
                None => *reference = Some(parts),
                Some(want) => {
                    if let Some(why) = compare_parts(want, &parts) {
                        bail!(
                            "the output of the {} run #{} differs from the first local run's: \
                             {why}",
                            setting.name(),
                            n + 1
                        );
                    }
                }
            }
            samples.push(sample);
        }
    }
    Ok(round)
}

/// The report's opening: what ran, where, with which binary.
fn header(paths: &Paths, sandmill: &Path, args: &ClusterArgs) -> String {
    let git = |args: &[&str]| super::git(&paths.workspace, args);
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "# Sandmill on a Ray cluster against local runs\n\n\
         Commit {commit}; {cpus} CPUs; every node, SeaweedFS and the client on this machine \
         (each worker node has --num-cpus 1). Flags of every run: --reducers {} --split-size {} \
         --threads {}; {} runs per setting and cluster.\n\
         Sandmill binary: `{}`.\n\
         Command: `sandmill-bench {}`\n",
        args.reducers,
        size_name(args.split_size),
        args.threads,
        args.repeat,
        sandmill.display(),
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    )
}
