//! `sandmill-bench`: one command that benchmarks Sandmill against native Rust on generated data
//! and prints (and writes as Markdown) throughput, CPU time, peak memory and their ratios, a
//! run under a memory budget, and instruction counts under callgrind. See `bench/README.md`.
//!
//! ```text
//! cargo run --release -p sandmill-bench -- run --size 200MiB
//! ```

mod cluster;
mod join;
mod languages;
mod serve;
mod skew;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use sandmill_bench::generate::{self, DataSet, Spec};
use sandmill_bench::measure::{self, Measurement};
use sandmill_bench::native::{Format, Job};
use sandmill_bench::output::SortedLines;
use sandmill_bench::peers::{self, Engine, PeerRun};
use sandmill_bench::report::Table;
use sandmill_bench::size::{human, mib, parse_size, size_name};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

/// Benchmarks Sandmill against native Rust implementations of the example jobs.
#[derive(Debug, Parser)]
#[command(name = "sandmill-bench", max_term_width = 100)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build, generate data (cached), run every job through Sandmill and natively, check the
    /// outputs are identical, and report throughput, CPU, peak RSS, a run under a memory budget
    /// and instruction counts.
    Run(RunArgs),
    /// Build the example jobs in every language (with `sandmill build`), run each on the same
    /// data, check the outputs are the Rust jobs', and report component size, start-up with a
    /// cold and a warm compile cache, throughput, CPU (as a multiple of Rust's) and peak RSS.
    Languages(languages::LanguagesArgs),
    /// Start `sandmill serve`, submit many jobs from several tenants at once, and report
    /// throughput, status-request latency idle and under load, and each tenant's share of the
    /// finished jobs over time; every output is checked against a local `sandmill run`.
    Serve(serve::ServeArgs),
    /// Bring up a local Ray cluster with an S3 store (scripts/cluster.sh) for 1, 2 and 3
    /// worker nodes and run one job locally on local files, locally on s3:// and with
    /// --executor ray; check every output is the local run's, and report wall and CPU time
    /// (as multiples of the local run's), object-store bytes per input byte and start-up.
    Cluster(cluster::ClusterArgs),
    /// Issue 3's skewed word count (90 % one key) with and without `--hot-key hot --salt N`:
    /// checks the outputs are identical and reports wall and CPU time, salted over unsalted.
    Skew(skew::SkewArgs),
    /// Run a broadcast join (products as --side-input) and the reduce-side join of the same
    /// generated data with the join-products example, check they write the same lines, and
    /// report wall and CPU time and shuffle bytes of each, and their ratios.
    Join(join::JoinArgs),
    /// Only generate (or find cached) the data sets, and print where they are.
    Generate(GenerateArgs),
    /// Run one command and write its measurement to --report (what `run` times each run
    /// with: a small process, so that the child's peak RSS is its own).
    #[command(hide = true)]
    Measure(MeasureArgs),
}

#[derive(Debug, clap::Args)]
struct MeasureArgs {
    /// Where to write the measurement.
    #[arg(long)]
    report: PathBuf,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Input size of each job's data set (bytes, or with a unit: 512KiB, 200MiB, 1GiB).
    #[arg(long, default_value = "200MiB", value_parser = parse_size)]
    size: u64,

    /// Worker threads, for Sandmill (--threads) and native alike.
    #[arg(long, default_value_t = 2)]
    threads: usize,

    /// Sandmill's reduce tasks [default: --threads].
    #[arg(long)]
    reducers: Option<u32>,

    /// The jobs, comma-separated: wordcount, inverted-index, revenue-by-user,
    /// revenue-by-user-parquet (the same events, written as Parquet), revenue-by-user-csv.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "wordcount,inverted-index,revenue-by-user,revenue-by-user-parquet"
    )]
    jobs: Vec<String>,

    /// Runs of each side per job; the best wall time is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,

    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// The memory budget (`sandmill run --memory`) for the memory scenario: a word count over
    /// an input --memory-factor times larger.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    memory: u64,

    /// The memory scenario's input size, as a multiple of --memory.
    #[arg(long, default_value_t = 8)]
    memory_factor: u64,

    /// Skip the memory scenario.
    #[arg(long)]
    skip_memory: bool,

    /// Skip the throughput runs (e.g. to run only the memory scenario).
    #[arg(long)]
    skip_throughput: bool,

    /// Input size for the instruction counts under callgrind (kept small: about 50x slower).
    #[arg(long, default_value = "2MiB", value_parser = parse_size)]
    callgrind_size: u64,

    /// Skip the instruction counts.
    #[arg(long)]
    skip_callgrind: bool,

    /// Keep the job outputs (and callgrind files) in DIR instead of deleting them.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,

    /// Where data sets are cached [default: <target>/bench-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Where the Markdown report is written [default: <target>/bench-report.md].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Don't build: use the binaries and plugins already in the target directory.
    #[arg(long)]
    no_build: bool,

    /// Time this `sandmill` binary instead of `<target>/release/sandmill` (e.g. another
    /// checkout's build).
    #[arg(long, value_name = "PATH")]
    sandmill: Option<PathBuf>,

    /// An extra argument for every `sandmill run` (repeat for several), e.g.
    /// `--sandmill-arg=--split-size=16MiB`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    sandmill_arg: Vec<String>,

    /// Also run every job with these engines, taking turns with Sandmill and native, and
    /// check their outputs: duckdb, polars (comma-separated), or none. They come from the venv
    /// of scripts/setup-pydata.sh, which the benchmark runs (pinned versions from PyPI).
    #[arg(long, value_delimiter = ',', default_value = "duckdb,polars")]
    peers: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Size of each data set.
    #[arg(long, default_value = "200MiB", value_parser = parse_size)]
    size: u64,

    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Where data sets are cached [default: <target>/bench-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// A job as the benchmark runs it: which plugin, which data, which format.
#[derive(Debug, Clone, Copy)]
struct BenchJob {
    name: &'static str,
    /// The component's file name in `target/wasm32-wasip2/plugin/`, without `.wasm`.
    plugin: &'static str,
    native: Job,
    data: DataSet,
    format: Format,
    /// More `sandmill run` arguments: the output format.
    sandmill_args: &'static [&'static str],
    /// Whether Sandmill writes Parquet part files, read back as tab-separated lines to compare
    /// them with the native output.
    parquet_output: bool,
}

/// The Parquet row's `--output-format` and `--output-schema`.
const PARQUET_OUTPUT: &[&str] = &[
    "--output-format",
    "parquet",
    "--output-schema",
    "user_id:int64,count:int64,sum_cents:int64",
];

const JOBS: [BenchJob; 5] = [
    BenchJob {
        name: "wordcount",
        plugin: "wordcount",
        native: Job::WordCount,
        data: DataSet::Text,
        format: Format::Lines,
        sandmill_args: &[],
        parquet_output: false,
    },
    BenchJob {
        name: "inverted-index",
        plugin: "inverted_index",
        native: Job::InvertedIndex,
        data: DataSet::Documents,
        format: Format::Jsonl,
        sandmill_args: &[],
        parquet_output: false,
    },
    BenchJob {
        name: "revenue-by-user",
        plugin: "revenue_by_user",
        native: Job::RevenueByUser,
        data: DataSet::Events,
        format: Format::Jsonl,
        sandmill_args: &[],
        parquet_output: false,
    },
    BenchJob {
        name: "revenue-by-user-parquet",
        plugin: "revenue_by_user_parquet",
        native: Job::RevenueByUser,
        data: DataSet::Events,
        format: Format::Jsonl,
        sandmill_args: PARQUET_OUTPUT,
        parquet_output: true,
    },
    BenchJob {
        name: "revenue-by-user-csv",
        plugin: "revenue_by_user",
        native: Job::RevenueByUser,
        data: DataSet::EventsCsv,
        format: Format::Csv,
        sandmill_args: &[],
        parquet_output: false,
    },
];

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Cmd::Run(args) => run(&args),
        Cmd::Languages(args) => languages::run(&args),
        Cmd::Serve(args) => serve::run(&args),
        Cmd::Cluster(args) => cluster::run(&args),
        Cmd::Skew(args) => skew::run(&args),
        Cmd::Join(args) => join::run(&args),
        Cmd::Generate(args) => generate_only(&args).map(|()| true),
        Cmd::Measure(args) => measure_one(&args).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("sandmill-bench: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where things are: the workspace, its target directory, the binaries and plugins.
struct Paths {
    workspace: PathBuf,
    target: PathBuf,
    sandmill: PathBuf,
    native: PathBuf,
    plugins: PathBuf,
    /// `bench/peers/`, the DuckDB and Polars scripts.
    peer_scripts: PathBuf,
    /// The pydata venv the peers run in (set by `run` from scripts/setup-pydata.sh).
    pydata: PathBuf,
}

impl Paths {
    /// The target directory is the one this binary was built into (`<target>/<profile>/`), so
    /// a `CARGO_TARGET_DIR` elsewhere works; the binaries timed are always the release ones.
    fn find() -> Result<Paths> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let target = exe
            .parent()
            .and_then(Path::parent)
            .context("this executable is not in <target>/<profile>/")?
            .to_path_buf();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("bench/ has a parent")?
            .to_path_buf();
        Ok(Paths {
            sandmill: target.join("release/sandmill"),
            native: target.join("release/sandmill-native"),
            plugins: target.join("wasm32-wasip2/plugin"),
            peer_scripts: workspace.join("bench/peers"),
            pydata: target.join("pydata-venv"),
            workspace,
            target,
        })
    }

    /// Sandmill's compile cache for the benchmark, emptied before each job's timed runs so
    /// that its first run compiles and the later ones load the compiled plugin.
    fn compile_cache(&self) -> PathBuf {
        self.target.join("bench-compile-cache")
    }

    fn plugin(&self, job: &BenchJob) -> PathBuf {
        self.plugins.join(format!("{}.wasm", job.plugin))
    }

    fn data_dir(&self, given: Option<&Path>) -> PathBuf {
        given.map_or_else(|| self.target.join("bench-data"), Path::to_path_buf)
    }
}

fn generate_only(args: &GenerateArgs) -> Result<()> {
    let paths = Paths::find()?;
    let root = paths.data_dir(args.data_dir.as_deref());
    for kind in [
        DataSet::Text,
        DataSet::Documents,
        DataSet::Events,
        DataSet::EventsCsv,
    ] {
        let spec = Spec {
            kind,
            size: args.size,
            seed: args.seed,
        };
        let data = ensure_data(&root, &spec)?;
        println!("{}", data.input.display());
    }
    Ok(())
}

fn ensure_data(root: &Path, spec: &Spec) -> Result<generate::Generated> {
    fs::create_dir_all(root)?;
    let data = generate::ensure(root, spec)
        .with_context(|| format!("generating {} in {}", spec.dir_name(), root.display()))?;
    match data.took {
        Some(took) => eprintln!(
            "generated {} ({}) in {:.1}s",
            spec.dir_name(),
            human(data.bytes),
            took.as_secs_f64()
        ),
        None => eprintln!("using cached {}", data.input.display()),
    }
    Ok(data)
}

/// The cargo that ran us (`cargo run` sets `CARGO`), or the one on the path.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn build(paths: &Paths) -> Result<()> {
    cargo_build(
        paths,
        &[
            "build",
            "--release",
            "-p",
            "sandmill-runtime",
            "--bin",
            "sandmill",
            "-p",
            "sandmill-bench",
            "--bin",
            "sandmill-native",
        ],
    )?;
    build_plugins(paths)
}

/// Builds the example plugins into `paths.plugins`.
fn build_plugins(paths: &Paths) -> Result<()> {
    cargo_build(
        paths,
        &[
            "build",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "-p",
            "wordcount",
            "-p",
            "inverted-index",
            "-p",
            "revenue-by-user",
            "-p",
            "revenue-by-user-parquet",
        ],
    )
}

fn cargo_build(paths: &Paths, args: &[&str]) -> Result<()> {
    eprintln!("cargo {}", args.join(" "));
    let status = cargo()
        .args(args)
        .current_dir(&paths.workspace)
        .env("CARGO_TARGET_DIR", &paths.target)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Which implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Sandmill,
    Native,
    /// DuckDB or Polars, running `bench/peers/<engine>_job.py`.
    Peer(Engine),
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Sandmill => "sandmill",
            Side::Native => "native",
            Side::Peer(engine) => engine.name(),
        }
    }
}

/// How to run one side of one job.
struct Invocation<'a> {
    job: &'a BenchJob,
    input: &'a Path,
    output: &'a Path,
    threads: usize,
    reducers: u32,
    /// `sandmill run --memory`, if any.
    memory: Option<u64>,
    /// Whether Sandmill may use the benchmark's compile cache (`--no-compile-cache` if not).
    cached: bool,
}

/// The command line for one side, as program and arguments (so that valgrind can wrap it).
fn command_line(paths: &Paths, side: Side, inv: &Invocation<'_>, extra: &[String]) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    let mut args = match side {
        Side::Sandmill => vec![
            s(&paths.sandmill),
            "run".into(),
            s(&paths.plugin(inv.job)),
            "--input".into(),
            s(inv.input),
            "--output".into(),
            s(inv.output),
            "--threads".into(),
            inv.threads.to_string(),
            "--reducers".into(),
            inv.reducers.to_string(),
            "--format".into(),
            inv.job.format.name().into(),
            "--overwrite".into(),
            // Every repeat does the work: an unchanged job would publish nothing and take
            // no time (only the newest version is kept).
            "--force".into(),
            "--keep".into(),
            "1".into(),
        ],
        Side::Native => vec![
            s(&paths.native),
            inv.job.native.name().into(),
            "--input".into(),
            s(inv.input),
            "--output".into(),
            s(inv.output),
            "--threads".into(),
            inv.threads.to_string(),
            "--format".into(),
            inv.job.format.name().into(),
            "--overwrite".into(),
        ],
        Side::Peer(engine) => peers::command_line(
            &paths.pydata,
            &paths.peer_scripts,
            &PeerRun {
                engine,
                job: inv.job.native,
                format: inv.job.format,
                parquet_output: inv.job.parquet_output,
                input: inv.input,
                output: inv.output,
                threads: inv.threads,
            },
        ),
    };
    if side == Side::Sandmill {
        if let Some(memory) = inv.memory {
            args.extend(["--memory".into(), size_name(memory)]);
        }
        args.extend(inv.job.sandmill_args.iter().map(|a| a.to_string()));
        if inv.cached {
            args.extend(["--compile-cache".into(), s(&paths.compile_cache())]);
        } else {
            args.push("--no-compile-cache".into());
        }
        args.extend(extra.iter().cloned());
    }
    args
}

/// One measured run and what it printed.
struct Run {
    m: Measurement,
    stdout: String,
}

/// Runs `argv` measured, with stdout and stderr in files beside `log` (`log.stdout`,
/// `log.stderr`); fails with the end of stderr if the child fails.
/// `sandmill-bench measure`: runs the command (its stdio is this process's) and writes its
/// measurement.
fn measure_one(args: &MeasureArgs) -> Result<()> {
    let m = measure::run(Command::new(&args.command[0]).args(&args.command[1..]))
        .with_context(|| format!("starting {}", args.command[0]))?;
    fs::write(&args.report, m.encode())
        .with_context(|| format!("writing {}", args.report.display()))
}

fn run_measured(argv: &[String], log: &Path) -> Result<Run> {
    let out_path = log.with_extension("stdout");
    let err_path = log.with_extension("stderr");
    let report = log.with_extension("measurement");
    // Through `sandmill-bench measure`, a small process: see `measure`'s module docs.
    let helper = std::env::current_exe().context("finding this executable")?;
    let status = Command::new(&helper)
        .arg("measure")
        .arg("--report")
        .arg(&report)
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path)?)
        .stderr(fs::File::create(&err_path)?)
        .status()
        .with_context(|| format!("starting {}", helper.display()))?;
    let written = fs::read_to_string(&report).unwrap_or_default();
    let Some(m) = Measurement::decode(&written) else {
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        bail!("measuring {} failed ({status}): {stderr}", argv[0]);
    };
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    if !m.status.success() {
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{} failed ({}):\n  command: {}\n  {}",
            argv[0],
            m.status,
            argv.join(" "),
            tail.join("\n  ")
        );
    }
    Ok(Run { m, stdout })
}

/// Sandmill's own summary: job wall time and the map and reduce phases, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Phases {
    job: f64,
    map: f64,
    reduce: f64,
}

/// Reads the summary `sandmill run` prints without `--quiet`. `None` if its shape changed.
fn parse_phases(stdout: &str) -> Option<Phases> {
    let secs = |s: &str| s.strip_suffix('s')?.parse::<f64>().ok();
    let job = stdout.lines().find_map(|l| {
        let rest = l.strip_prefix("sandmill: job succeeded in ")?;
        secs(rest.split_whitespace().next()?)
    })?;
    let phase = |name: &str| {
        stdout.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == name).then_some(())?;
            secs(words.last()?)
        })
    };
    Some(Phases {
        job,
        map: phase("map")?,
        reduce: phase("reduce")?,
    })
}

/// All runs of one side of one job.
struct SideResult {
    runs: Vec<Run>,
}

impl SideResult {
    fn best(&self) -> &Run {
        self.runs
            .iter()
            .min_by_key(|r| r.m.wall)
            .expect("at least one run")
    }

    fn max_rss(&self) -> u64 {
        self.runs.iter().map(|r| r.m.max_rss).max().unwrap_or(0)
    }

    fn walls(&self) -> String {
        let walls: Vec<String> = self
            .runs
            .iter()
            .map(|r| format!("{:.2}", r.m.wall.as_secs_f64()))
            .collect();
        walls.join(", ")
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn mib_per_sec(bytes: u64, d: Duration) -> f64 {
    mib(bytes) / d.as_secs_f64().max(1e-9)
}

/// The whole `run` command. `Ok(false)` means it finished but an output differed or a target
/// scenario failed to run.
fn run(args: &RunArgs) -> Result<bool> {
    let mut paths = Paths::find()?;
    if let Some(sandmill) = &args.sandmill {
        paths.sandmill = sandmill.clone();
    }
    let jobs: Vec<BenchJob> = args
        .jobs
        .iter()
        .map(|name| {
            JOBS.iter()
                .find(|j| j.name == name.trim())
                .copied()
                .with_context(|| format!("unknown job {name:?}"))
        })
        .collect::<Result<_>>()?;
    if args.repeat == 0 || args.threads == 0 {
        bail!("--repeat and --threads must be at least 1");
    }
    let engines = peers::parse_peers(&args.peers).map_err(anyhow::Error::msg)?;
    if !args.no_build {
        build(&paths)?;
    }
    let engines = if args.skip_throughput {
        Vec::new()
    } else {
        engines
    };
    let mut peer_note = None;
    if !engines.is_empty() {
        paths.pydata = peers::setup_venv(&paths.workspace)?;
        peer_note = Some(format!(
            "Peers: {} (venv `{}`, from scripts/setup-pydata.sh).\n",
            peers::versions(&paths.pydata, &engines)?,
            paths.pydata.display()
        ));
    }
    for (what, path) in [
        ("sandmill", &paths.sandmill),
        ("sandmill-native", &paths.native),
    ] {
        if !path.is_file() {
            bail!(
                "no {what} at {} (build it, or drop --no-build)",
                path.display()
            );
        }
    }
    let data_root = paths.data_dir(args.data_dir.as_deref());
    // One directory per run, so that two benchmarks started at once cannot delete each
    // other's outputs.
    let work = match &args.keep {
        Some(dir) => dir.clone(),
        None => paths
            .target
            .join("bench-out")
            .join(format!("run-{}", std::process::id())),
    };
    fs::create_dir_all(&work)?;
    let reducers = args.reducers.unwrap_or(args.threads as u32);
    let mut ok = true;
    let mut md = header(&paths, args, reducers);
    md += peer_note.as_deref().unwrap_or_default();
    let mut text = String::new();

    // 1. Throughput.
    let Throughput {
        main,
        phases,
        start_up,
        peers,
        busiest,
        identical,
    } = throughput(&paths, args, &jobs, &engines, &data_root, &work, reducers)?;
    ok &= identical;
    if main.is_empty() {
        note_line(&mut text, &mut md, "Throughput: skipped.");
    } else {
        let title = format!(
            "Throughput: {} threads, best of {} runs; MiB/s is input MiB per wall second",
            args.threads, args.repeat
        );
        section(&mut text, &mut md, &title, &main);
        section(
            &mut text,
            &mut md,
            "Where Sandmill's wall time goes (its own summary, best run)",
            &phases,
        );
        let note = "throughput S/N = native wall / sandmill wall (target: at least 0.5x); \
                CPU N/S = native CPU / sandmill CPU; peak RSS is the child's ru_maxrss; \
                other load = CPUs kept busy by other processes during the run (/proc/stat); \
                each job's first Sandmill run (the first of \"sandmill runs\") compiles the plugin, \
                the later ones load it from the compile cache, as a rerun does.\n";
        text += note;
        md += &format!("\n{note}");
        let title = format!(
            "Start-up: Sandmill on a 4 KiB input with a warm compile cache, {WARM_RUNS} runs \
             after one more (target: under {} ms)",
            WARM_START_TARGET.as_millis()
        );
        section(&mut text, &mut md, &title, &start_up);
        text += START_UP_NOTE;
        md += &format!("\n{START_UP_NOTE}");
        if !peers.is_empty() {
            let title = format!(
                "Side by side: Sandmill, DuckDB and Polars against native, {} threads, best of {} runs",
                args.threads, args.repeat
            );
            section(&mut text, &mut md, &title, &peers);
            text += PEERS_NOTE;
            md += &format!("\n{PEERS_NOTE}");
        }
    }
    if busiest > 0.2 {
        let warning = format!(
            "WARNING: other work kept up to {busiest:.2} CPUs busy during some runs: wall \
             times are disturbed; rerun on a quiet machine or trust the instruction counts.\n"
        );
        text += &warning;
        md += &format!("\n{warning}");
    }

    // 2. The memory scenario.
    if args.skip_memory {
        note_line(
            &mut text,
            &mut md,
            "Memory budget: skipped (--skip-memory).",
        );
    } else {
        match memory_scenario(&paths, args, &data_root, &work, reducers)? {
            Scenario::Table(table, passed) => {
                let title = format!(
                    "Memory budget: wordcount over {}x --memory {}",
                    args.memory_factor,
                    size_name(args.memory)
                );
                section(&mut text, &mut md, &title, &table);
                ok &= passed;
            }
            Scenario::Skipped(why) => note_line(&mut text, &mut md, &why),
        }
    }

    // 3. Instruction counts.
    if args.skip_callgrind {
        note_line(
            &mut text,
            &mut md,
            "Instruction counts: skipped (--skip-callgrind).",
        );
    } else {
        match instruction_counts(&paths, args, &jobs, &data_root, &work)? {
            Scenario::Table(table, _) => {
                let title = format!(
                    "Instruction counts (callgrind, 1 thread, {} input and a 4 KiB input for the fixed cost)",
                    size_name(args.callgrind_size)
                );
                section(&mut text, &mut md, &title, &table);
                let note = "per input byte = (instructions on the input - instructions on 4 KiB) / \
                            (difference in bytes): the marginal cost, without startup and \
                            plugin compilation. Repeatable, unlike wall times.\n";
                text += note;
                md += &format!("\n{note}");
            }
            Scenario::Skipped(why) => note_line(&mut text, &mut md, &why),
        }
    }

    if args.keep.is_none() {
        let _ = fs::remove_dir_all(&work);
    }
    println!("{text}");
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| paths.target.join("bench-report.md"));
    fs::write(&report, &md).with_context(|| format!("writing {}", report.display()))?;
    eprintln!("report written to {}", report.display());
    if !ok {
        eprintln!("sandmill-bench: some outputs differed or a scenario failed (see above)");
    }
    Ok(ok)
}

/// How to read the peers' table.
const PEERS_NOTE: &str = "CPU N/x = native CPU / that row's CPU, as CPU N/S above (higher is \
    better; 1.00x is the native job's CPU). start-up = one run of the engine's script on a \
    4 KiB input of the same kind (Python, importing the engine, planning the query, writing): \
    its fixed cost, which \"less start-up\" takes off the row's CPU before the ratio (Sandmill's \
    start-up is the median of the table above). The peers \
    read the same files with their own readers (DuckDB read_csv of lines/read_json/read_csv, Polars \
    scan_lines/scan_ndjson/scan_csv) and write the native job's lines; revenue-by-user-parquet \
    writes Parquet (int64 user_id, count, sum_cents), read back to compare.\n";

/// What the throughput runs found.
struct Throughput {
    main: Table,
    phases: Table,
    /// Sandmill's start-up on a tiny input with a warm compile cache, per job.
    start_up: Table,
    /// Sandmill and each peer against native; empty without peers.
    peers: Table,
    /// The most CPUs other work kept busy during any run.
    busiest: f64,
    /// Whether every job's two outputs were identical.
    identical: bool,
}

/// Every job, both sides, `repeat` times, taking turns; the outputs compared.
fn throughput(
    paths: &Paths,
    args: &RunArgs,
    jobs: &[BenchJob],
    engines: &[Engine],
    data_root: &Path,
    work: &Path,
    reducers: u32,
) -> Result<Throughput> {
    let mut identical = true;
    let mut main = Table::new([
        "job",
        "input MiB",
        "sandmill wall s",
        "CPU s",
        "MiB/s",
        "peak RSS MiB",
        "native wall s",
        "CPU s",
        "MiB/s",
        "peak RSS MiB",
        "throughput S/N",
        "CPU N/S",
        "output",
    ]);
    let mut phases = Table::new([
        "job",
        "sandmill runs (wall s)",
        "native runs (wall s)",
        "sandmill job s",
        "map s",
        "reduce s",
        "compile+plan+commit s",
        "process start/exit s",
        "other load (CPUs)",
    ]);
    let mut start_up = Table::new([
        "job",
        "median wall ms",
        "runs (wall ms)",
        "median CPU ms",
        "under 50 ms",
    ]);
    let mut peer_table = Table::new([
        "job",
        "engine",
        "wall s",
        "CPU s",
        "CPU N/x",
        "peak RSS MiB",
        "start-up wall s",
        "start-up CPU s",
        "CPU N/x less start-up",
        "runs (wall s)",
        "output",
    ]);
    let mut busiest: f64 = 0.0;
    let timed: &[BenchJob] = if args.skip_throughput { &[] } else { jobs };
    for job in timed {
        let spec = Spec {
            kind: job.data,
            size: args.size,
            seed: args.seed,
        };
        let data = ensure_data(data_root, &spec)?;
        let dir = work.join(job.name);
        fs::create_dir_all(&dir)?;
        match fs::remove_dir_all(paths.compile_cache()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e)?,
            _ => {}
        }
        let mut results = Vec::new();
        let peer_sides = engines.iter().map(|&e| Side::Peer(e));
        for side in [Side::Sandmill, Side::Native].into_iter().chain(peer_sides) {
            results.push((side, SideResult { runs: Vec::new() }));
        }
        let startups = peer_startups(paths, args, job, engines, data_root, &dir)?;
        for rep in 0..args.repeat {
            for (side, result) in &mut results {
                let output = dir.join(side.name());
                if let Side::Peer(_) = side {
                    // The script writes one file in it.
                    fs::create_dir_all(&output)?;
                }
                let inv = Invocation {
                    job,
                    input: &data.input,
                    output: &output,
                    threads: args.threads,
                    reducers,
                    memory: None,
                    cached: true,
                };
                let argv = command_line(paths, *side, &inv, &args.sandmill_arg);
                let run = run_measured(&argv, &dir.join(format!("{}.log", side.name())))?;
                eprintln!(
                    "{} {} run {}/{}: {:.2}s wall, {:.2}s CPU, {:.0} MiB peak RSS, other load {:.2} CPUs",
                    job.name,
                    side.name(),
                    rep + 1,
                    args.repeat,
                    run.m.wall.as_secs_f64(),
                    run.m.cpu().as_secs_f64(),
                    mib(run.m.max_rss),
                    run.m.other_load().unwrap_or(f64::NAN)
                );
                result.runs.push(run);
            }
        }
        // The timed runs left the compile cache warm.
        let warm = warm_start_up(paths, args, job, data_root, &dir, reducers)?;
        let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1e3);
        let warm_wall = median(warm.iter().map(|m| m.wall));
        let warm_cpu = median(warm.iter().map(Measurement::cpu));
        start_up.row([
            job.name.to_string(),
            ms(warm_wall),
            warm.iter()
                .map(|m| ms(m.wall))
                .collect::<Vec<_>>()
                .join(", "),
            ms(warm_cpu),
            if warm_wall < WARM_START_TARGET {
                "yes"
            } else {
                "NO"
            }
            .to_string(),
        ]);
        let verdict = compare(job, &dir.join("sandmill"), &dir.join("native"))?;
        let same = verdict.is_none();
        if let Some(diff) = &verdict {
            eprintln!("{}: {diff}", job.name);
            identical = false;
        }
        let (s, n) = (&results[0].1, &results[1].1);
        let (sb, nb) = (s.best(), n.best());
        main.row([
            job.name.to_string(),
            format!("{:.1}", mib(data.bytes)),
            secs(sb.m.wall),
            secs(sb.m.cpu()),
            format!("{:.1}", mib_per_sec(data.bytes, sb.m.wall)),
            format!("{:.0}", mib(s.max_rss())),
            secs(nb.m.wall),
            secs(nb.m.cpu()),
            format!("{:.1}", mib_per_sec(data.bytes, nb.m.wall)),
            format!("{:.0}", mib(n.max_rss())),
            format!("{:.2}x", nb.m.wall.as_secs_f64() / sb.m.wall.as_secs_f64()),
            format!(
                "{:.2}x",
                nb.m.cpu().as_secs_f64() / sb.m.cpu().as_secs_f64().max(1e-9)
            ),
            if same { "identical" } else { "DIFFERENT" }.to_string(),
        ]);
        let p = parse_phases(&sb.stdout);
        let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"));
        phases.row([
            job.name.to_string(),
            s.walls(),
            n.walls(),
            f(p.map(|p| p.job)),
            f(p.map(|p| p.map)),
            f(p.map(|p| p.reduce)),
            f(p.map(|p| (p.job - p.map - p.reduce).max(0.0))),
            f(p.map(|p| (sb.m.wall.as_secs_f64() - p.job).max(0.0))),
            f(sb.m.other_load()),
        ]);
        if !engines.is_empty() {
            let native_cpu = nb.m.cpu().as_secs_f64();
            let ratio = |cpu: f64| {
                if cpu > 0.0 {
                    format!("{:.2}x", native_cpu / cpu)
                } else {
                    "n/a".to_string()
                }
            };
            peer_table.row([
                job.name.to_string(),
                "sandmill".into(),
                secs(sb.m.wall),
                secs(sb.m.cpu()),
                ratio(sb.m.cpu().as_secs_f64()),
                format!("{:.0}", mib(s.max_rss())),
                secs(warm_wall),
                secs(warm_cpu),
                ratio(sb.m.cpu().as_secs_f64() - warm_cpu.as_secs_f64()),
                s.walls(),
                if same { "identical" } else { "DIFFERENT" }.to_string(),
            ]);
            for ((side, result), startup) in results[2..].iter().zip(&startups) {
                let Side::Peer(engine) = side else {
                    continue;
                };
                let verdict = compare_named(
                    job,
                    &dir.join(side.name()),
                    side.name(),
                    &dir.join("native"),
                )?;
                if let Some(diff) = &verdict {
                    eprintln!("{} ({}): {diff}", job.name, peers::label(*engine));
                    identical = false;
                }
                let best = result.best();
                let cpu = best.m.cpu().as_secs_f64();
                peer_table.row([
                    job.name.to_string(),
                    peers::label(*engine).to_string(),
                    secs(best.m.wall),
                    secs(best.m.cpu()),
                    ratio(cpu),
                    format!("{:.0}", mib(result.max_rss())),
                    secs(startup.wall),
                    secs(startup.cpu()),
                    ratio(cpu - startup.cpu().as_secs_f64()),
                    result.walls(),
                    if verdict.is_none() {
                        "identical"
                    } else {
                        "DIFFERENT"
                    }
                    .to_string(),
                ]);
            }
        }
        for (_, result) in &results {
            for r in &result.runs {
                busiest = busiest.max(r.m.other_load().unwrap_or(0.0));
            }
        }
        if args.keep.is_none() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
    Ok(Throughput {
        main,
        phases,
        start_up,
        peers: peer_table,
        busiest,
        identical,
    })
}

fn section(text: &mut String, md: &mut String, title: &str, table: &Table) {
    let _ = write!(text, "\n{title}\n\n{}", table.to_text());
    let _ = write!(md, "\n## {title}\n\n{}", table.to_markdown());
}

fn note_line(text: &mut String, md: &mut String, line: &str) {
    let _ = writeln!(text, "\n{line}");
    let _ = writeln!(md, "\n{line}");
}

/// The report's opening: what ran, where, on what.
fn header(paths: &Paths, args: &RunArgs, reducers: u32) -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| {
                    l.strip_prefix("model name")?
                        .split(':')
                        .nth(1)
                        .map(str::trim)
                })
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = |args: &[&str]| git(&paths.workspace, args);
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    format!(
        "# Sandmill vs native Rust\n\n\
         Commit {commit}{}; {cpus} CPUs ({cpu}); input {} per job (seed {}); \
         --threads {} --reducers {reducers}; {} runs per side.\n\
         Sandmill binary: `{}` ({} `run --memory`).\n\
         Command: `sandmill-bench {}`\n",
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        size_name(args.size),
        args.seed,
        args.threads,
        args.repeat,
        paths.sandmill.display(),
        if has_memory_flag(paths).unwrap_or(false) {
            "with"
        } else {
            "without"
        },
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    )
}

/// `None` if the two output directories hold the same lines, else a report of the difference.
fn compare(job: &BenchJob, sandmill: &Path, native: &Path) -> Result<Option<String>> {
    compare_named(job, sandmill, "sandmill", native)
}

/// As [`compare`], for the output of side `name` (Sandmill or a peer: Parquet for the Parquet
/// row) against the native output.
fn compare_named(job: &BenchJob, side: &Path, name: &str, native: &Path) -> Result<Option<String>> {
    let a = if job.parquet_output {
        SortedLines::read_parquet(side)
    } else {
        SortedLines::read(side)
    }
    .with_context(|| format!("reading {}", side.display()))?;
    let b = SortedLines::read(native).with_context(|| format!("reading {}", native.display()))?;
    Ok(a.diff(&b, [name, "native"]))
}

/// Each peer's fixed cost for `job`: one measured run on a tiny input of the job's kind.
/// Runs of Sandmill's start-up: one warm-up, then [`WARM_RUNS`] measured.
const WARM_RUNS: usize = 5;

/// Issue 15's target for a job's start with a warm compile cache.
const WARM_START_TARGET: Duration = Duration::from_millis(50);

const START_UP_NOTE: &str = "start-up = the whole `sandmill run` process (spawn to exit: \
    loading the compiled plugin from the compile cache, planning, the map and reduce tasks, the \
    commit) on the job's 4 KiB input, with the threads and reducers of the timed runs; the \
    side-by-side table takes its median CPU off Sandmill's row as it does the peers'.\n";

/// Sandmill on the tiny input of `job`'s kind with the benchmark's compile cache, which must
/// be warm: [`WARM_RUNS`] measured runs after one that is not.
fn warm_start_up(
    paths: &Paths,
    args: &RunArgs,
    job: &BenchJob,
    data_root: &Path,
    dir: &Path,
    reducers: u32,
) -> Result<Vec<Measurement>> {
    let spec = Spec {
        kind: job.data,
        size: TINY,
        seed: args.seed,
    };
    let tiny = ensure_data(data_root, &spec)?;
    let output = dir.join("sandmill-start-up");
    let inv = Invocation {
        job,
        input: &tiny.input,
        output: &output,
        threads: args.threads,
        reducers,
        memory: None,
        cached: true,
    };
    let argv = command_line(paths, Side::Sandmill, &inv, &args.sandmill_arg);
    let log = dir.join("sandmill-start-up.log");
    run_measured(&argv, &log)?;
    let mut runs = Vec::new();
    for _ in 0..WARM_RUNS {
        runs.push(run_measured(&argv, &log)?.m);
    }
    eprintln!(
        "{} sandmill start-up (4 KiB, warm compile cache): median {:.0} ms wall",
        job.name,
        median(runs.iter().map(|m| m.wall)).as_secs_f64() * 1e3
    );
    Ok(runs)
}

/// The middle of `values` (the lower middle of an even count); zero if there are none.
fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut values: Vec<Duration> = values.collect();
    values.sort_unstable();
    match values.len() {
        0 => Duration::ZERO,
        n => values[(n - 1) / 2],
    }
}

fn peer_startups(
    paths: &Paths,
    args: &RunArgs,
    job: &BenchJob,
    engines: &[Engine],
    data_root: &Path,
    dir: &Path,
) -> Result<Vec<Measurement>> {
    if engines.is_empty() {
        return Ok(Vec::new());
    }
    let spec = Spec {
        kind: job.data,
        size: TINY,
        seed: args.seed,
    };
    let tiny = ensure_data(data_root, &spec)?;
    let mut startups = Vec::new();
    for &engine in engines {
        let name = format!("{}-start-up", engine.name());
        let output = dir.join(&name);
        fs::create_dir_all(&output)?;
        let inv = Invocation {
            job,
            input: &tiny.input,
            output: &output,
            threads: args.threads,
            reducers: 1,
            memory: None,
            cached: true,
        };
        let argv = command_line(paths, Side::Peer(engine), &inv, &[]);
        let run = run_measured(&argv, &dir.join(format!("{name}.log")))?;
        eprintln!(
            "{} {} start-up (4 KiB): {:.2}s wall, {:.2}s CPU",
            job.name,
            engine.name(),
            run.m.wall.as_secs_f64(),
            run.m.cpu().as_secs_f64()
        );
        startups.push(run.m);
    }
    Ok(startups)
}

/// The tiny input of the fixed costs: the instruction counts' and the peers' start-up.
const TINY: u64 = 4 << 10;

enum Scenario {
    /// The result, and whether it met its target.
    Table(Table, bool),
    /// Why it did not run.
    Skipped(String),
}

/// Whether this `sandmill` has `run --memory`.
fn has_memory_flag(paths: &Paths) -> Result<bool> {
    let help = Command::new(&paths.sandmill)
        .args(["run", "--help"])
        .output()
        .context("running sandmill run --help")?;
    let help = String::from_utf8_lossy(&help.stdout);
    Ok(help.match_indices("--memory").any(|(i, m)| {
        matches!(
            help[i + m.len()..].chars().next(),
            Some(' ' | '<' | '=' | '\n')
        )
    }))
}

/// A word count over `memory_factor x memory` of text: in memory, with `--memory`, and
/// natively; the outputs must agree, and the budgeted run's peak RSS should stay within
/// `memory + 256 MiB`.
fn memory_scenario(
    paths: &Paths,
    args: &RunArgs,
    data_root: &Path,
    work: &Path,
    reducers: u32,
) -> Result<Scenario> {
    if !has_memory_flag(paths)? {
        return Ok(Scenario::Skipped(format!(
            "Memory budget: SKIPPED: {} has no `run --memory` flag yet (the spilling shuffle \
             is not in this build). Rerun when it has.",
            paths.sandmill.display()
        )));
    }
    let job = &JOBS[0];
    let spec = Spec {
        kind: job.data,
        size: args.memory * args.memory_factor,
        seed: args.seed,
    };
    let data = ensure_data(data_root, &spec)?;
    let dir = work.join("memory");
    fs::create_dir_all(&dir)?;
    let limit = args.memory + (256 << 20);
    let mut table = Table::new([
        "run",
        "--memory",
        "input MiB",
        "wall s",
        "CPU s",
        "MiB/s",
        "peak RSS MiB",
        "limit MiB",
        "within limit",
        "output",
        "other load (CPUs)",
    ]);
    let runs = [
        (Side::Sandmill, None, "sandmill in memory"),
        (Side::Sandmill, Some(args.memory), "sandmill with --memory"),
        (Side::Native, None, "native"),
    ];
    let mut passed = true;
    let mut results = Vec::new();
    for (i, (side, memory, label)) in runs.into_iter().enumerate() {
        let output = dir.join(format!("out-{i}"));
        let inv = Invocation {
            job,
            input: &data.input,
            output: &output,
            threads: args.threads,
            reducers,
            memory,
            cached: true,
        };
        let argv = command_line(paths, side, &inv, &args.sandmill_arg);
        let run = run_measured(&argv, &dir.join(format!("run-{i}.log")))?;
        eprintln!(
            "memory scenario, {label}: {:.2}s wall, {:.0} MiB peak RSS",
            run.m.wall.as_secs_f64(),
            mib(run.m.max_rss)
        );
        results.push((label, memory, output, run));
    }
    let reference = &results[0].2;
    for (label, memory, output, run) in &results {
        let same = if output == reference {
            "reference".to_string()
        } else {
            match compare(job, reference, output)? {
                None => "identical".to_string(),
                Some(diff) => {
                    eprintln!("memory scenario, {label}: {diff}");
                    passed = false;
                    "DIFFERENT".to_string()
                }
            }
        };
        let within = match memory {
            Some(_) if run.m.max_rss <= limit => "yes",
            Some(_) => {
                passed = false;
                "NO"
            }
            None => "-",
        };
        table.row([
            label.to_string(),
            memory.map_or_else(|| "-".to_string(), size_name),
            format!("{:.1}", mib(data.bytes)),
            secs(run.m.wall),
            secs(run.m.cpu()),
            format!("{:.1}", mib_per_sec(data.bytes, run.m.wall)),
            format!("{:.0}", mib(run.m.max_rss)),
            memory.map_or_else(|| "-".to_string(), |_| format!("{:.0}", mib(limit))),
            within.to_string(),
            same,
            run.m
                .other_load()
                .map_or_else(|| "n/a".to_string(), |l| format!("{l:.2}")),
        ]);
    }
    if args.keep.is_none() {
        let _ = fs::remove_dir_all(&dir);
    }
    Ok(Scenario::Table(table, passed))
}

/// Instructions executed by `argv` under callgrind, or why that could not be counted.
fn callgrind(argv: &[String], out_file: &Path, log: &Path) -> Result<u64, String> {
    let mut full = vec![
        "valgrind".to_string(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", out_file.display()),
        // wasmtime writes machine code at run time into anonymous memory; valgrind must
        // notice (this is also its default on x86, made explicit).
        "--smc-check=all-non-file".into(),
        "--".into(),
    ];
    full.extend(argv.iter().cloned());
    let run = run_measured(&full, log).map_err(|e| format!("{e:#}"))?;
    drop(run);
    let stderr = fs::read_to_string(log.with_extension("stderr")).map_err(|e| e.to_string())?;
    stderr
        .lines()
        .find_map(|l| {
            let count = l.split("Collected :").nth(1)?;
            count.trim().replace(',', "").parse().ok()
        })
        .ok_or_else(|| "no \"Collected :\" line in valgrind's output".to_string())
}

fn valgrind_version() -> Option<String> {
    let out = Command::new("valgrind").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Each job on a small input and on a 4 KiB one, both sides, one thread, under callgrind.
fn instruction_counts(
    paths: &Paths,
    args: &RunArgs,
    jobs: &[BenchJob],
    data_root: &Path,
    work: &Path,
) -> Result<Scenario> {
    let Some(version) = valgrind_version() else {
        return Ok(Scenario::Skipped(
            "Instruction counts: SKIPPED: valgrind is not installed (apt-get install valgrind)."
                .into(),
        ));
    };
    eprintln!("counting instructions with {version} (slow: callgrind runs about 50x slower)");
    let dir = work.join("callgrind");
    fs::create_dir_all(&dir)?;
    let mut table = Table::new([
        "job",
        "input",
        "sandmill instr",
        "native instr",
        "sandmill fixed",
        "native fixed",
        "sandmill per byte",
        "native per byte",
        "ratio S/N per byte",
    ]);
    for job in jobs {
        let mut counts = Vec::new();
        let mut sizes = Vec::new();
        for size in [args.callgrind_size, TINY] {
            let spec = Spec {
                kind: job.data,
                size,
                seed: args.seed,
            };
            let data = ensure_data(data_root, &spec)?;
            sizes.push(data.bytes);
            for side in [Side::Sandmill, Side::Native] {
                let name = format!("{}.{}.{}", job.name, side.name(), size_name(size));
                let output = dir.join(format!("{name}.out"));
                let inv = Invocation {
                    job,
                    input: &data.input,
                    output: &output,
                    threads: 1,
                    reducers: 1,
                    memory: None,
                    // Both sizes compile, so the difference is the marginal cost. (valgrind's
                    // CPU has other features, so the throughput runs' entries would not fit.)
                    cached: false,
                };
                let argv = command_line(paths, side, &inv, &args.sandmill_arg);
                let result = callgrind(
                    &argv,
                    &dir.join(format!("callgrind.out.{name}")),
                    &dir.join(format!("{name}.log")),
                );
                match &result {
                    Ok(n) => eprintln!("{name}: {n} instructions"),
                    Err(e) => eprintln!("{name}: callgrind failed: {e}"),
                }
                counts.push(result);
            }
        }
        let cell = |r: &Result<u64, String>| match r {
            Ok(n) => format!("{:.3e}", *n as f64),
            Err(_) => "failed".to_string(),
        };
        let per_byte = |big: &Result<u64, String>, tiny: &Result<u64, String>| match (big, tiny) {
            (Ok(b), Ok(t)) => Some((*b as f64 - *t as f64) / (sizes[0] as f64 - sizes[1] as f64)),
            _ => None,
        };
        let (s, n) = (
            per_byte(&counts[0], &counts[2]),
            per_byte(&counts[1], &counts[3]),
        );
        let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.1}"));
        table.row([
            job.name.to_string(),
            human(sizes[0]),
            cell(&counts[0]),
            cell(&counts[1]),
            cell(&counts[2]),
            cell(&counts[3]),
            f(s),
            f(n),
            match (s, n) {
                (Some(s), Some(n)) if n > 0.0 => format!("{:.2}x", s / n),
                _ => "n/a".to_string(),
            },
        ]);
    }
    if args.keep.is_none() {
        let _ = fs::remove_dir_all(&dir);
    } else {
        eprintln!(
            "callgrind files kept in {}; try `callgrind_annotate <file> | head -40`",
            dir.display()
        );
    }
    Ok(Scenario::Table(table, true))
}

/// What `git ARGS` prints in `workspace`, trimmed; `None` if it fails (no git, not a checkout).
fn git(workspace: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .current_dir(workspace)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sandmill_summary() {
        let out = "sandmill: job succeeded in 3.21s -> /tmp/out\n\
                   \x20 phase    tasks    records in    bytes in   records out   bytes out     wall\n\
                   \x20 map          4       1000000   100.0 MiB        123456     2.0 MiB    2.90s\n\
                   \x20 reduce       2        123456     2.0 MiB        100000     1.5 MiB    0.20s\n";
        assert_eq!(
            parse_phases(out),
            Some(Phases {
                job: 3.21,
                map: 2.90,
                reduce: 0.20
            })
        );
        assert_eq!(parse_phases("something else"), None);
    }

    #[test]
    fn median_is_the_middle_run() {
        let ms = |v: &[u64]| median(v.iter().map(|&m| Duration::from_millis(m)));
        assert_eq!(ms(&[40, 10, 30, 20, 50]), Duration::from_millis(30));
        assert_eq!(ms(&[40, 10, 30, 20]), Duration::from_millis(20));
        assert_eq!(ms(&[7]), Duration::from_millis(7));
        assert_eq!(ms(&[]), Duration::ZERO);
    }

    /// A repeat into the same output must run the job again, not find it unchanged.
    #[test]
    fn every_sandmill_run_is_forced_to_do_the_work() {
        let p = PathBuf::from;
        let paths = Paths {
            workspace: p("w"),
            target: p("t"),
            sandmill: p("sandmill"),
            native: p("native"),
            plugins: p("plugins"),
            peer_scripts: p("peers"),
            pydata: p("venv"),
        };
        for job in &JOBS {
            let inv = Invocation {
                job,
                input: Path::new("in"),
                output: Path::new("out"),
                threads: 2,
                reducers: 2,
                memory: None,
                cached: true,
            };
            let argv = command_line(&paths, Side::Sandmill, &inv, &[]);
            assert!(argv.iter().any(|a| a == "--force"), "{argv:?}");
        }
    }

    #[test]
    fn job_names_match_the_plugins_and_native_jobs() {
        for job in &JOBS {
            assert!(job.name.starts_with(job.native.name()));
            let plugin = job.native.name().replace('-', "_");
            // The Parquet row's plugin is the job's variant that writes Parquet.
            let plugin = match job.parquet_output {
                true => format!("{plugin}_parquet"),
                false => plugin,
            };
            assert_eq!(job.plugin, plugin);
        }
    }
}
