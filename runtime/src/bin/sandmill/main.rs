//! The `sandmill` command line.

mod args;
mod client;
mod pipeline;
mod project;
mod service;
mod versions;

use anyhow::Context as _;
use args::{Args, Command, Format, PipelineCommand, RunArgs, TaskCommand};
use clap::{CommandFactory as _, FromArgMatches as _};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sandmill::TaskResult;
use sandmill::dataset::{Dataset, VersionId};
use sandmill::error::ExitClass;
use sandmill::plan::TaskSpec;
use sandmill::plugin::{AttemptLog, CacheOutcome, CompileCache, Limits, Plugin};
use sandmill::quota::OutputLimits;
use sandmill::schedule::{JobReport, NextTasks, Observer, Phase};
use sandmill::task::TaskId;
use sandmill::text::inert;
use sandmill::{InputFormat, JobSpec};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

fn main() -> ExitCode {
    // A usage error exits with 2 (clap's status, and `ExitClass::Usage`). The matches are
    // kept beside `Args`: `sandmill submit` sends on only the flags given on the command line.
    let mut cli = Args::command();
    let matches = cli.get_matches_mut();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cli).exit());
    // A panic is a bug in Sandmill, whichever thread it happens on: say so, and exit with the
    // status that means it rather than unwinding into a half-finished job.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: sandmill panicked: {}; this is a bug in Sandmill, please report it",
            inert(&info.to_string())
        );
        sandmill::cleanup::interrupt();
        std::process::exit(i32::from(ExitClass::Bug.code()));
    }));
    // Ctrl-C, SIGTERM or SIGHUP: remove the files of uncommitted attempts, say what is
    // committed for a rerun to reuse, then exit as an interrupted process does. (Drop-based
    // cleanup does not run on a signal.) A client command runs no task: it removes its
    // partial downloads and exits without a word, as `logs --follow` is meant to be left. The
    // server stops on SIGTERM by itself, letting its running tasks finish.
    let client_command = matches!(
        args.command,
        Command::Submit(_)
            | Command::Status { .. }
            | Command::Jobs { .. }
            | Command::Logs { .. }
            | Command::Cancel { .. }
            | Command::Put { .. }
            | Command::Get { .. }
    );
    let serving = matches!(args.command, Command::Serve(_));
    let _ = (!serving).then(|| {
        ctrlc::set_handler(move || {
            if client_command {
                sandmill::cleanup::remove_all();
            } else {
                let interruption = sandmill::cleanup::interrupt();
                eprintln!("\n{interruption}");
            }
            std::process::exit(130);
        })
    });
    let result = match args.command {
        Command::Run(run_args) => run(*run_args),
        Command::Pipeline(PipelineCommand::Run(args)) => pipeline::run(&args),
        Command::Pipeline(PipelineCommand::Backfill(args)) => pipeline::backfill(&args),
        Command::Pipeline(PipelineCommand::Status(args)) => pipeline::status(&args),
        Command::Inspect { plugin } => inspect(&plugin),
        Command::Versions {
            dataset,
            json,
            server,
        } => {
            // An s3:// dataset is read directly, whatever SANDMILL_SERVER says.
            if sandmill::object::is_url(&dataset) {
                versions::print_object(&dataset, json)
            } else if client::is_remote(&server) {
                client::versions(&server, &dataset, json)
            } else {
                versions::print(&dataset, json)
            }
        }
        Command::Rollback {
            dataset,
            to,
            server,
        } => {
            if sandmill::object::is_url(&dataset) {
                rollback_object(&dataset, to.as_deref())
            } else if client::is_remote(&server) {
                client::rollback(&server, &dataset, to.as_deref())
            } else {
                rollback(&dataset, to.as_deref())
            }
        }
        Command::New { dir, lang } => project::new(&dir, lang),
        Command::Build { dir, output } => project::build(&dir, output.as_deref()).map(|wasm| {
            println!("{}", wasm.display());
        }),
        Command::Task(TaskCommand::Run { spec }) => return task_run(&spec),
        Command::Task(TaskCommand::Plan { run, specs }) => task_plan(*run, &specs),
        Command::Task(TaskCommand::Check {
            plugin,
            compile_cache,
        }) => task_check(&plugin, compile_cache),
        Command::Serve(serve) => service::cli::serve(*serve),
        Command::Tenant(command) => service::cli::tenant(command),
        Command::Submit(submit) => client::flags::given(&cli, &matches)
            .map_err(anyhow::Error::from)
            .and_then(|flags| client::submit(&submit, flags)),
        Command::Status { job, json, server } => client::status(&server, &job, json),
        Command::Jobs {
            state,
            limit,
            json,
            server,
        } => client::jobs(&server, state.as_deref(), limit, json),
        Command::Logs {
            job,
            follow,
            server,
        } => client::logs(&server, &job, follow),
        Command::Cancel { job, server } => client::cancel(&server, &job),
        Command::Put {
            paths,
            name,
            server: _,
        } if sandmill::object::is_url(std::path::Path::new(&name)) => {
            client::put_objects(&paths, &name)
        }
        Command::Put {
            paths,
            name,
            server,
        } => client::put(&server, &paths, &name),
        Command::Get {
            dataset,
            to,
            version,
            server: _,
        } if sandmill::object::is_url(std::path::Path::new(&dataset)) => {
            get_object(&dataset, &to, version.as_deref())
        }
        Command::Get {
            dataset,
            to,
            version,
            server,
        } => client::get(&server, &dataset, &to, version.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(class_of(&err).code())
        }
    }
}

/// The whole chain of causes on one line, newlines folded. The errors quote what a plugin said
/// inertly already; `inert` here also covers everything else (a path).
fn one_line(err: &anyhow::Error) -> String {
    let message = format!("{err:#}");
    let message: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    inert(&message.join(" ")).into_owned()
}

/// The exit class of an error: Sandmill's own errors say; anything else is the command line's
/// checks (`--reducers must be at least 1`), a usage error.
fn class_of(err: &anyhow::Error) -> ExitClass {
    err.chain()
        .find_map(|e| {
            if let Some(class) = client::class_of(e) {
                Some(class)
            } else if let Some(e) = e.downcast_ref::<sandmill::Error>() {
                Some(e.class())
            } else if let Some(e) = e.downcast_ref::<project::BuildError>() {
                Some(match e {
                    project::BuildError::Missing { .. } => ExitClass::Usage,
                    project::BuildError::Failed { .. } => ExitClass::Plugin,
                })
            } else if let Some(e) = e.downcast_ref::<sandmill::dataset::DatasetError>() {
                Some(e.class())
            } else {
                e.downcast_ref::<sandmill::input::InputError>()
                    .map(sandmill::input::InputError::class)
            }
        })
        .unwrap_or(ExitClass::Usage)
}

/// The environment variable that holds the key authenticating compiled plugins (64 hex
/// digits): the job service sets it for every worker process it starts.
const COMPILE_KEY_VAR: &str = "SANDMILL_COMPILE_KEY";

/// The compile cache key in [`COMPILE_KEY_VAR`], if it is set.
///
/// # Errors
/// A usage error naming the variable if it is set but not 64 hex digits.
fn compile_key() -> anyhow::Result<Option<[u8; 32]>> {
    let Some(value) = std::env::var_os(COMPILE_KEY_VAR) else {
        return Ok(None);
    };
    // The value is a secret: the message gives its length, never its contents.
    let hex = value.as_encoded_bytes();
    anyhow::ensure!(
        hex.len() == 64 && hex.iter().all(u8::is_ascii_hexdigit),
        "{COMPILE_KEY_VAR} is set but is not 64 hex digits (a 32-byte key; it holds {} bytes); \
         set it to the key in the job service's service.key, or unset it",
        hex.len()
    );
    let digit = |d: u8| (d as char).to_digit(16).expect("checked to be a hex digit") as u8;
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (digit(pair[0]) << 4) | digit(pair[1]);
    }
    Ok(Some(key))
}

/// A compile cache in `dir`, authenticated with `key` if there is one.
fn compile_cache(dir: std::path::PathBuf, key: Option<[u8; 32]>) -> CompileCache {
    match key {
        Some(key) => CompileCache::with_key(dir, key),
        None => CompileCache::new(dir),
    }
}

/// `sandmill task run --spec FILE`: one line of JSON on stdout, the error on stderr too.
fn task_run(path: &std::path::Path) -> ExitCode {
    let read = if path == std::path::Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    let spec = read
        .map_err(|e| {
            sandmill::Error::Spec(format!("cannot read task spec {}: {e}", path.display()))
        })
        .and_then(|bytes| TaskSpec::from_json(&bytes, path))
        .map_err(anyhow::Error::from);
    let (task, attempt) = spec.as_ref().map_or((String::new(), 0), |spec| {
        (spec.task().name(), spec.attempt)
    });
    let result = spec.and_then(|spec| {
        // The spec names the cache's directory; its key never leaves the service but by the
        // environment.
        let key = compile_key()?;
        // On a thread named after the task (`map-3`), so that `ps -L` and `top -H` on a node
        // show which task a process runs; with the stack wasm and Cranelift want.
        let name = spec.task().name();
        let run = std::thread::Builder::new()
            .name(name.clone())
            .stack_size(16 << 20)
            .spawn(move || sandmill::run_task_alone(&spec, key))
            .with_context(|| format!("cannot start a thread for {name}"))?;
        let done = run
            .join()
            .map_err(|_| anyhow::anyhow!("{name} panicked; see the message above"))?;
        Ok(done?)
    });
    let (report, code) = match result {
        Ok(done) => (
            TaskResult {
                task,
                attempt,
                status: "ok".into(),
                retryable: false,
                error: None,
                counts: Some(done.record.counts),
                log: Some(done.record.log),
            },
            0,
        ),
        Err(err) => {
            let retryable = err
                .downcast_ref::<sandmill::Error>()
                .is_some_and(sandmill::Error::is_retryable);
            let (class, message) = (class_of(&err), one_line(&err));
            eprintln!("error: {message}");
            (
                TaskResult {
                    task,
                    attempt,
                    status: class.name().into(),
                    retryable,
                    error: Some(message),
                    counts: None,
                    log: None,
                },
                class.code(),
            )
        }
    };
    println!(
        "{}",
        serde_json::to_string(&report).expect("a task result is JSON")
    );
    ExitCode::from(code)
}

/// What `sandmill task check` prints: what `sandmill inspect` shows but the combiner (which
/// takes running the plugin's `configure`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct PluginCheck {
    /// The SHA-256 of the file's bytes, in hex.
    sha256: String,
    /// The file's size in bytes.
    size: u64,
    /// The WIT world it implements ([`sandmill::plugin::WORLD`]).
    world: String,
    /// Its exported interfaces and functions.
    exports: Vec<String>,
    /// Its imported interfaces and functions.
    imports: Vec<String>,
}

/// `sandmill task check --plugin FILE`: validates and compiles the plugin (into the compile
/// cache) without instantiating it, and prints a [`PluginCheck`] as one line of JSON.
fn task_check(path: &std::path::Path, cache_dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let key = compile_key()?;
    let cache = cache_dir
        .or_else(CompileCache::default_dir)
        .map(|dir| compile_cache(dir, key));
    // Read once: the digest is of the very bytes that were checked.
    let bytes = std::fs::read(path).map_err(|e| sandmill::Error::PluginLoad {
        path: path.into(),
        reason: format!("{e}; check the path"),
    })?;
    let plugin = Plugin::from_bytes(path, &bytes, Limits::default(), cache.as_ref())?;
    let description = plugin.describe();
    let check = PluginCheck {
        sha256: format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        size: plugin.size(),
        world: sandmill::plugin::WORLD.to_owned(),
        exports: description.exports,
        imports: description.imports,
    };
    println!("{}", serde_json::to_string(&check)?);
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let quiet = args.quiet;
    let summary_json = args.summary_json.clone();
    let dry_run = args.dry_run;
    let spec = job_spec(args)?;
    if dry_run {
        let plan = sandmill::explain::explain(&spec)?;
        if !quiet {
            print_plan(&plan);
        }
        if let Some(path) = summary_json {
            write_json(&path, &serde_json::to_value(&plan)?)?;
        }
        return Ok(());
    }
    let progress = Progress::new(quiet);
    let report = sandmill::run(&spec, &progress)?;
    progress.clear();
    if let Some(CacheOutcome::Unusable(why)) = &report.compiled.cache {
        eprintln!(
            "sandmill: warning: compiled plugin not cached: {why} (--no-compile-cache turns \
             the cache off)"
        );
    }
    if report.unchanged {
        if !quiet {
            println!(
                "sandmill: {}: unchanged since {} (same plugin, parameters and inputs); nothing \
                 published (--force to publish anyway)",
                report.output.display(),
                report.version
            );
        }
    } else if !quiet {
        print_summary(&spec, &report);
    }
    if let Some(path) = summary_json {
        write_json(&path, &summary_json_of(&report))?;
    }
    Ok(())
}

/// `--output-format` with `--output-schema`, which Parquet needs and lines do not take.
fn output_format(
    format: args::OutputFormatArg,
    schema: Option<String>,
) -> anyhow::Result<sandmill::spec::OutputFormat> {
    use args::OutputFormatArg as F;
    match (format, schema) {
        (F::Lines | F::Jsonl, None) => Ok(sandmill::spec::OutputFormat::Lines),
        (F::Lines | F::Jsonl, Some(_)) => anyhow::bail!(
            "--output-schema describes Parquet output; give --output-format parquet too"
        ),
        (F::Parquet, None) => anyhow::bail!(
            "--output-format parquet needs --output-schema, as in \
             --output-schema user_id:int64,count:int64"
        ),
        (F::Parquet, Some(text)) => sandmill::columnar::OutputSchema::parse(&text)
            .map(sandmill::spec::OutputFormat::Parquet)
            .map_err(|e| anyhow::anyhow!("--output-schema {text:?}: {e}")),
    }
}

/// The `s` of a plural: `format!("{n} file{}", plural(n))`.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Writes `value` as pretty JSON to `path`, or to stdout for `-`.
fn write_json(path: &std::path::Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(value)? + "\n";
    if path.as_os_str() == "-" {
        print!("{json}");
    } else {
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `min A, median B, max C; max/mean D` of `sizes`.
fn spread(sizes: impl Iterator<Item = u64>) -> String {
    let mut sizes: Vec<u64> = sizes.collect();
    sizes.sort_unstable();
    let (Some(&min), Some(&max)) = (sizes.first(), sizes.last()) else {
        return "none".to_owned();
    };
    let mean = sizes.iter().sum::<u64>() as f64 / sizes.len() as f64;
    let skew = if mean > 0.0 { max as f64 / mean } else { 1.0 };
    format!(
        "min {min}, median {}, max {max}; max/mean {skew:.2}",
        sizes[sizes.len() / 2]
    )
}

/// A cut point of `--partitioner range`, as a person reads it: quoted, inert, cut at 40 chars.
fn quoted_key(key: &str) -> String {
    let cut: String = key.chars().take(40).collect();
    let more = if cut.len() < key.len() { "…" } else { "" };
    format!("{}{more}", sandmill::text::quoted(&cut))
}

/// `sandmill run --dry-run`: the plan, for a person.
fn print_plan(plan: &sandmill::explain::Explain) {
    /// Map tasks listed one by one; the rest are counted.
    const SHOWN: usize = 20;
    println!("sandmill: dry run: no task runs and nothing is written");
    println!(
        "  plugin:   {} (sha256:{}, {}); combiner: {}",
        inert(&plan.plugin.path),
        plan.plugin.short_sha256(),
        human_bytes(plan.plugin.bytes),
        plan.combiner
    );
    println!(
        "  input:    {} file{}, {}",
        plan.files,
        plural(plan.files),
        human_bytes(plan.input_bytes)
    );
    println!("  splits:   {}", plan.split_size);
    println!(
        "  map:      {} task{}, {} at a time",
        plan.map_tasks.len(),
        plural(plan.map_tasks.len()),
        plan.threads
    );
    for task in plan.map_tasks.iter().take(SHOWN) {
        let ranges: Vec<String> = task
            .ranges
            .iter()
            .map(|r| {
                format!(
                    "{} [{}, {})",
                    inert(&r.path.to_string_lossy()),
                    r.start,
                    r.end
                )
            })
            .collect();
        println!(
            "    {:<10} {:>10}  {}",
            task.task,
            human_bytes(task.bytes),
            ranges.join(", ")
        );
    }
    if plan.map_tasks.len() > SHOWN {
        println!("    … and {} more", plan.map_tasks.len() - SHOWN);
    }
    println!(
        "  reduce:   {} task{} (--reducers), writing part-00000 … part-{:05}",
        plan.reducers,
        plural(plan.reducers as usize),
        plan.reducers.saturating_sub(1)
    );
    if let Some(cuts) = &plan.range_cuts {
        // Keys are the plugin's: shown inert, and cut.
        let shown: Vec<String> = cuts.iter().take(8).map(|c| quoted_key(c)).collect();
        let more = match cuts.len() {
            n if n > 8 => format!(", … and {} more", n - 8),
            _ => String::new(),
        };
        println!(
            "  ranges:   {} cut point{} from a sample of the map output keys (--partitioner \
             range): {}{more}",
            cuts.len(),
            plural(cuts.len()),
            shown.join(", ")
        );
    }
    for side in &plan.side_inputs {
        println!(
            "  side:     {} (--side-input): {} file{}, {}, read by every task that asks",
            side.name,
            side.files,
            plural(side.files),
            human_bytes(side.bytes)
        );
    }
    if let Some(salt) = plan.salt {
        let keys: Vec<String> = plan.hot_keys.iter().map(|k| quoted_key(k)).collect();
        println!(
            "  salting:  hot key{} {} (--hot-key), each over {salt} combine tasks (--salt)",
            plural(keys.len()),
            keys.join(", ")
        );
    }
    match &plan.current_version {
        Some(current) => println!(
            "  output:   {} is at {current}; a run would publish {}",
            plan.output.display(),
            plan.next_version
        ),
        None => println!(
            "  output:   {} has no version yet; a run would publish {}",
            plan.output.display(),
            plan.next_version
        ),
    }
}

/// The job report as JSON: `--summary-json`. Durations are in seconds, sizes in bytes.
fn summary_json_of(report: &JobReport) -> serde_json::Value {
    let phase = |p: &sandmill::schedule::PhaseReport| {
        serde_json::json!({
            "tasks": p.tasks,
            "counts": p.counts,
            "wall_seconds": p.wall.as_secs_f64(),
        })
    };
    serde_json::json!({
        "output": report.output,
        "version": report.version.to_string(),
        "unchanged": report.unchanged,
        "resumed_tasks": report.resumed_tasks,
        "files": report.files,
        "map": phase(&report.map),
        "reduce": phase(&report.reduce),
        "partitions": report.partitions.iter().map(|p| serde_json::json!({
            "pairs": p.pairs, "bytes": p.bytes, "records_out": p.records_out,
        })).collect::<Vec<_>>(),
        "counters": report.counters,
        "rejected": report.rejected,
        "verified_tasks": report.verified_tasks,
        "combined": report.combined,
        "dropped_log_messages": report.dropped_log_messages,
        "dropped_stdio_bytes": report.dropped_stdio_bytes,
        "plugin_cpu_seconds": report.plugin_cpu.as_secs_f64(),
        "object_storage": report.object_storage,
        "checks": report.checks,
        "peak_rss_bytes": report.peak_rss,
        "wall_seconds": report.wall.as_secs_f64(),
        "compile_seconds": report.compiled.took.as_secs_f64(),
    })
}

/// `sandmill task plan`: writes the specs of the tasks left to run into `dir`, one file per
/// task, and prints what to do next.
fn task_plan(args: RunArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let spec = job_spec(args)?;
    let next = sandmill::schedule::next_tasks(&spec)?;
    let (phase, tasks) = match next {
        NextTasks::Map(tasks) => ("map", tasks),
        NextTasks::Reduce(tasks) => ("reduce", tasks),
        NextTasks::Publish => {
            println!(
                "publish: every task is committed; `sandmill run` with the same flags publishes"
            );
            return Ok(());
        }
        NextTasks::Published(version) => {
            println!("published: version {version}");
            return Ok(());
        }
        NextTasks::Unchanged(version) => {
            println!(
                "unchanged: {} is unchanged since {version} (same plugin, parameters and \
                 inputs); nothing to run (--force to publish anyway)",
                spec.output().display()
            );
            return Ok(());
        }
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for task in &tasks {
        let path = dir.join(format!("{}.json", task.task().name()));
        std::fs::write(&path, task.to_json())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{phase} {}", path.display());
    }
    Ok(())
}

/// The job `sandmill run` (or `task plan`) describes.
fn job_spec(args: RunArgs) -> anyhow::Result<JobSpec> {
    let seconds = |flag: &str, value: f64| -> anyhow::Result<Duration> {
        anyhow::ensure!(
            value > 0.0 && value.is_finite() && value < 1e12,
            "{flag} must be a positive number of seconds"
        );
        Ok(Duration::from_secs_f64(value))
    };
    let limits = Limits {
        memory: args.plugin_memory,
        call_timeout: seconds("--call-timeout", args.call_timeout)?,
        task_cpu: match args.task_cpu {
            0.0 => None,
            s => Some(seconds("--task-cpu", s)?),
        },
        job_cpu: args.job_cpu.map(|s| seconds("--job-cpu", s)).transpose()?,
        call_data: usize::try_from(args.max_call_data)
            .ok()
            .filter(|&b| b >= 1 << 20)
            .context("--max-call-data must be at least 1MiB")?,
        fuel: args.fuel,
        ..Limits::default()
    };
    let mut spec = JobSpec::builder(&args.plugin)
        .inputs(args.input)
        .output(&args.output)
        .format(match args.format {
            Format::Lines => InputFormat::Lines,
            Format::Jsonl => InputFormat::JsonLines,
            Format::Csv => InputFormat::Csv,
            Format::Parquet => InputFormat::Parquet,
        })
        .split_size(args.split_size)
        .group_batch_bytes(usize::try_from(args.group_batch_size).unwrap_or(usize::MAX))
        .batch_limits(sandmill::input::BatchLimits {
            max_record_bytes: usize::try_from(args.max_record_size)
                .ok()
                .filter(|&b| b > 0 && b < 1 << 32)
                .context("--max-record-size must be between 1 byte and 4GiB")?,
            ..Default::default()
        })
        .overwrite(args.overwrite)
        .limits(limits);
    if let Some(r) = args.reducers {
        anyhow::ensure!(r > 0, "--reducers must be at least 1");
        spec = spec.reducers(r);
    }
    if let Some(t) = args.threads {
        anyhow::ensure!(t > 0, "--threads must be at least 1");
        spec = spec.threads(t);
    }
    for (k, v) in args.params {
        spec = spec.param(k, v);
    }
    anyhow::ensure!(args.max_attempts > 0, "--max-attempts must be at least 1");
    spec = spec.retry(sandmill::spec::RetryPolicy {
        max_attempts: args.max_attempts,
        ..Default::default()
    });
    spec = spec.max_bad_records(args.max_bad_records);
    for side in args.side_input {
        spec = spec.side_input(side.name, side.path);
    }
    spec = spec.max_side_input_bytes(args.max_side_input_bytes);
    spec = spec.executor(match args.executor {
        args::Executor::Local => sandmill::spec::ExecutorKind::Local,
        args::Executor::Process => sandmill::spec::ExecutorKind::Process,
        args::Executor::Ray => sandmill::spec::ExecutorKind::Ray,
    });
    spec = spec.ray_address(args.ray_address);
    spec = spec.partitioner(match args.partitioner {
        args::Partitioner::Hash => sandmill::spec::PartitionerKind::Hash,
        args::Partitioner::Range => sandmill::spec::PartitionerKind::Range,
    });
    spec = spec.sample_size(args.sample_size);
    for key in args.hot_keys {
        spec = spec.hot_key(key.0);
    }
    spec = spec.salt(args.salt);
    spec = spec.output_limits(OutputLimits {
        task_bytes: args.max_task_output,
        job_bytes: args.max_output,
        task_records: args.max_task_output_records.unwrap_or(u64::MAX),
        job_records: args.max_output_records.unwrap_or(u64::MAX),
        partitions: args.max_partitions,
        map_bytes: args.max_map_output,
        map_pairs: args.max_map_output_pairs.unwrap_or(u64::MAX),
    });
    if let Some(fraction) = args.verify {
        spec = spec.verify(fraction);
    }
    spec = spec.overwrite_partitions(args.overwrite_partitions);
    spec = spec.output_partition(args.output_partition);
    for check in args.checks {
        spec = spec.check(check);
    }
    if let Some(columns) = args.columns {
        spec = spec.columns(columns);
    }
    spec = spec.output_format(output_format(args.output_format, args.output_schema)?);
    spec = spec.force(args.force);
    if let Some(keep) = args.keep {
        spec = spec.keep(keep);
    }
    if let Some(memory) = args.memory {
        spec = spec.memory(memory);
    }
    if let Some(dir) = args.temp_dir {
        spec = spec.temp_dir(dir);
    }
    // Checked even without a cache: a malformed key is a mistake to report, not to skip.
    let key = compile_key()?;
    if !args.no_compile_cache {
        spec = spec.compile_cache(
            args.compile_cache
                .or_else(CompileCache::default_dir)
                .map(|dir| compile_cache(dir, key)),
        );
    }
    Ok(spec.build()?)
}

fn rollback(path: &std::path::Path, to: Option<&str>) -> anyhow::Result<()> {
    let dataset = Dataset::open(path)?;
    let to = to
        .map(|v| v.parse::<VersionId>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    // Fails at once (a `Busy` error) while a job writes the dataset, as a second job does.
    let dataset = dataset.lock()?;
    let before = dataset.current()?;
    let now = dataset.rollback(to)?;
    match before {
        Some(before) => println!("{}: {before} -> {now}", path.display()),
        None => println!("{}: now {now}", path.display()),
    }
    Ok(())
}

/// `sandmill rollback s3://...`: an entry in the dataset's log.
fn rollback_object(path: &std::path::Path, to: Option<&str>) -> anyhow::Result<()> {
    let dataset = sandmill::object::log::ObjectDataset::new(path)?;
    let to = to
        .map(|v| v.parse::<VersionId>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let before = dataset.current()?.map(|e| e.version);
    let now = dataset.rollback(to)?;
    match before {
        Some(before) => println!("{}: {before} -> {now}", path.display()),
        None => println!("{}: now {now}", path.display()),
    }
    Ok(())
}

/// `sandmill get s3://... --to DIR`: a version's files, checked against its manifest.
fn get_object(dataset: &str, to: &std::path::Path, version: Option<&str>) -> anyhow::Result<()> {
    let dataset = sandmill::object::log::ObjectDataset::new(std::path::Path::new(dataset))?;
    let version = version
        .map(|v| v.parse::<VersionId>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--version: {e}"))?;
    let entry = dataset.download(version, to)?;
    let bytes: u64 = entry.manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "{} {}: {} files, {} to {}",
        dataset.url(),
        entry.version,
        entry.manifest.files.len(),
        human_bytes(bytes),
        to.display()
    );
    Ok(())
}

fn inspect(path: &std::path::Path) -> anyhow::Result<()> {
    let plugin = Plugin::from_file(path, Limits::default(), None)?;
    let description = plugin.describe();
    println!("plugin:  {}", path.display());
    println!("size:    {}", human_bytes(plugin.size()));
    println!("world:   {} (implemented)", sandmill::plugin::WORLD);
    println!("exports:");
    for e in &description.exports {
        println!("  {e}");
    }
    println!("imports:");
    for i in &description.imports {
        println!("  {i}");
    }
    let (_, info) = plugin
        .instantiate(TaskId::Reduce(sandmill::task::PartitionId(0)), &[])
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("configuring the plugin with no parameters")?;
    println!("combiner: {:?}", info.combiner);
    Ok(())
}

/// Progress bars on stderr (hidden when stderr is not a terminal) and plugin logs.
struct Progress {
    multi: MultiProgress,
    bars: Mutex<Vec<(Phase, ProgressBar)>>,
    quiet: bool,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(Vec::new()),
            quiet,
        }
    }

    fn bar(&self, phase: Phase) -> Option<ProgressBar> {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, b)| b.clone())
    }

    fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl Observer for Progress {
    fn phase_started(&self, phase: Phase, tasks: usize, units: u64) {
        let (name, template) = match phase {
            Phase::Map => (
                "map",
                "{prefix:>6} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}, \
                 {elapsed} so far, about {eta} to go; {msg}",
            ),
            Phase::Combine => (
                "combine",
                "{prefix:>6} [{bar:30}] {human_pos}/{human_len} pairs, {elapsed} so far, \
                 about {eta} to go; {msg}",
            ),
            Phase::Reduce => (
                "reduce",
                "{prefix:>6} [{bar:30}] {human_pos}/{human_len} pairs, {elapsed} so far, \
                 about {eta} to go; {msg}",
            ),
        };
        let bar = self.multi.add(ProgressBar::new(units));
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid progress template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name);
        bar.set_message(format!("{tasks} tasks"));
        self.bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((phase, bar));
    }

    fn progress(&self, phase: Phase, units: u64) {
        if let Some(bar) = self.bar(phase) {
            bar.inc(units);
        }
    }

    fn task_committed(&self, task: TaskId, log: &AttemptLog) {
        if self.quiet {
            return;
        }
        // What the plugin wrote is shown inert, after a prefix of ours: it can neither
        // control the terminal nor start a line that looks like Sandmill's.
        let mut lines = Vec::new();
        for (level, message) in &log.messages {
            lines.push(format!("[{task}] {level:?}: {}", inert(message)));
        }
        for (stream, text) in [("stdout", &log.stdout), ("stderr", &log.stderr)] {
            for line in text.lines() {
                lines.push(format!("[{task}] {stream}: {}", inert(line)));
            }
        }
        for line in lines {
            let _ = self.multi.println(&line);
            if self.multi.is_hidden() {
                eprintln!("{line}");
            }
        }
    }

    fn phase_finished(&self, phase: Phase) {
        if let Some(bar) = self.bar(phase) {
            bar.finish();
        }
    }
}

fn print_summary(spec: &JobSpec, report: &JobReport) {
    let secs = |d: Duration| format!("{:.2}s", d.as_secs_f64());
    println!(
        "sandmill: job succeeded in {} -> {} (version {})",
        secs(report.wall),
        report.output.display(),
        report.version
    );
    let compiled = &report.compiled;
    match compiled.cache {
        Some(CacheOutcome::Hit) => println!(
            "  plugin: loaded from the compile cache in {}",
            secs(compiled.took)
        ),
        Some(CacheOutcome::Stored) => println!(
            "  plugin: compiled in {} (kept in the compile cache)",
            secs(compiled.took)
        ),
        _ => println!("  plugin: compiled in {}", secs(compiled.took)),
    }
    if report.resumed_tasks > 0 {
        println!(
            "  resumed: {} tasks committed by an earlier, interrupted run were not run again",
            report.resumed_tasks
        );
    }
    println!(
        "  {:<7} {:>6} {:>13} {:>11} {:>13} {:>11} {:>8}",
        "phase", "tasks", "records in", "bytes in", "records out", "bytes out", "wall"
    );
    for (name, phase) in [("map", &report.map), ("reduce", &report.reduce)] {
        let c = phase.counts;
        println!(
            "  {:<7} {:>6} {:>13} {:>11} {:>13} {:>11} {:>8}",
            name,
            phase.tasks,
            c.records_in,
            human_bytes(c.bytes_in),
            c.records_out,
            human_bytes(c.bytes_out),
            secs(phase.wall)
        );
    }
    let map = report.map.counts;
    println!(
        "  plugin CPU: {}; peak memory (RSS): {}",
        secs(report.plugin_cpu),
        human_bytes(report.peak_rss)
    );
    println!(
        "  input: {} file{}, format {:?}; map emitted {} pairs{}",
        report.files,
        plural(report.files),
        spec.format(),
        map.emitted,
        if report.combined {
            format!(", {} after combining", map.records_out)
        } else {
            " (no combiner)".to_owned()
        }
    );
    if let Some(fraction) = spec.verify() {
        let tasks = report.map.tasks + report.partitions.len();
        println!(
            "  verify: {} of {tasks} tasks run twice before commit (--verify={fraction}); \
             each wrote the same output both times",
            report.verified_tasks
        );
    }
    println!(
        "  shuffle: memory budget {}; {} spills, {} written to disk",
        human_bytes(spec.memory()),
        map.spills,
        human_bytes(map.spilled_bytes)
    );
    if let Some(traffic) = report.object_storage {
        let per_input = |n: u64| match map.bytes_in {
            0 => String::new(),
            input => format!(" ({:.2} per input byte)", n as f64 / input as f64),
        };
        println!(
            "  object storage: {} read{}, {} written{}",
            human_bytes(traffic.read),
            per_input(traffic.read),
            human_bytes(traffic.written),
            per_input(traffic.written)
        );
    }
    let mut pairs: Vec<u64> = report.partitions.iter().map(|p| p.pairs).collect();
    pairs.sort_unstable();
    if let (Some(min), Some(max)) = (pairs.first(), pairs.last()) {
        let mean = pairs.iter().sum::<u64>() as f64 / pairs.len() as f64;
        let skew = if mean > 0.0 { *max as f64 / mean } else { 1.0 };
        // With a combiner, the map output records (before combining) show the skew a hot key
        // makes, which combining hides in the pairs.
        let records = match report.combined {
            true => format!(
                "; map output records per partition: {}",
                spread(report.partitions.iter().map(|p| p.records))
            ),
            false => String::new(),
        };
        println!(
            "  partitions: {} (pairs per partition: min {min}, median {}, max {max}; max/mean \
             {skew:.2}{records})",
            pairs.len(),
            pairs[pairs.len() / 2]
        );
    }
    if !report.hot_shares.is_empty() {
        println!(
            "  hot keys: {} combine task{} (--hot-key, --salt {}); map output records per \
             task: {}",
            report.hot_shares.len(),
            plural(report.hot_shares.len()),
            spec.salt(),
            spread(report.hot_shares.iter().map(|p| p.records))
        );
    }
    if !report.counters.is_empty() {
        println!("  counters:");
        for (name, value) in &report.counters {
            // The plugin named them.
            println!("    {:<30} {value}", inert(name));
        }
    }
    for check in &report.checks {
        println!("  check {}: {}", check.check, check.detail);
    }
    if report.rejected > 0 {
        println!(
            "  bad records quarantined: {} (see {}/{})",
            report.rejected,
            report.output.display(),
            sandmill::schedule::REJECTS
        );
    }
    if report.dropped_log_messages > 0 {
        println!(
            "  plugin log messages dropped (over the limit): {}",
            report.dropped_log_messages
        );
    }
    if report.dropped_stdio_bytes > 0 {
        println!(
            "  plugin stdio dropped (over the limit): {} bytes",
            report.dropped_stdio_bytes
        );
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
