//! The command line, as clap sees it: raw values only. `main.rs` turns them into a `JobSpec`,
//! which does the checking.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Sandmill runs map/reduce jobs written as WebAssembly components.
///
/// A job is a plugin (a .wasm component built with sandmill-sdk, or any language that targets
/// the sandmill:job WIT world). Sandmill cuts the input into splits, runs the plugin's map on
/// every split in parallel, sorts and groups the pairs it emits by key, runs its reduce on each
/// group, and writes sorted part files. The output directory appears only when the whole job
/// has succeeded. Plugins run sandboxed: no files, network, clock or environment.
#[derive(Debug, Parser)]
#[command(name = "sandmill", version, max_term_width = 100, after_help = EXIT_STATUS)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit statuses, a stable contract (see `sandmill::error::ExitClass`).
const EXIT_STATUS: &str = "\
Exit status:
  0    success
  2    usage: bad flags or values, parameters the plugin rejects, an output that is not a
       dataset, a project `sandmill new`/`build` cannot use, a toolchain that is not installed;
       a request the job service refuses (bad, unknown, conflicting, too large, bad token)
  3    bad input: missing, unreadable, changed while the job ran, too many bad records
  4    the plugin's fault: it does not load, traps, breaks the contract, exceeds a limit;
       for `sandmill build`, the job does not compile
  5    transient: an I/O error or a dataset busy with another run; a job service that cannot
       be reached, fails (5xx) or has your queue full; the same command may pass
  6    the output failed a quality gate (--check, a pipeline stage's checks): nothing was
       published
  70   a bug in Sandmill; please report it
  130  interrupted (SIGINT, SIGTERM or SIGHUP); partial output removed, committed tasks kept";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a job and commit its output.
    ///
    /// Example:
    ///   sandmill run wordcount.wasm --input books/ --output counts --reducers 4
    Run(Box<RunArgs>),
    /// Run or inspect a pipeline: stages of jobs in a TOML file, each reading files or the
    /// datasets of earlier stages, published together.
    ///
    /// Example:
    ///   sandmill pipeline run daily.toml --param date=2026-03-22
    #[command(subcommand)]
    Pipeline(PipelineCommand),
    /// Show a plugin's world, imports, exports and size.
    Inspect {
        /// The plugin (.wasm component).
        plugin: PathBuf,
    },
    /// List a dataset's versions, newest last; `*` marks the current one. Each shows when it
    /// was published (UTC), its files, records and bytes, the plugin (name and SHA-256), the
    /// parameters and the inputs (with their sizes and modification times).
    ///
    /// With --server (or SANDMILL_SERVER), the versions of the server's dataset DATASET.
    Versions {
        /// The dataset (the --output of `sandmill run`), or with --server the name of one of
        /// your datasets on the server.
        dataset: PathBuf,
        /// Print the versions as a JSON array instead, for scripts: each with its id,
        /// `current`, `published`, files, records, bytes, plugin, params, inputs and
        /// job_digest.
        #[arg(long)]
        json: bool,
        /// The job service, for a dataset on the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Make another version of a dataset current (atomically): by default the one that was
    /// current before the last switch (so a second rollback undoes the first), or any
    /// version, older or newer, with --to.
    ///
    /// With --server (or SANDMILL_SERVER), rolls back the server's dataset DATASET.
    Rollback {
        /// The dataset (the --output of `sandmill run`), or with --server the name of one of
        /// your datasets on the server.
        dataset: PathBuf,
        /// The version to make current, like v3 [default: the one current before the last
        /// publish or rollback].
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// The job service, for a dataset on the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Create a job project in a new directory: the word count, with a README and a test,
    /// ready to build. Python, JavaScript and C projects get their own copy of the SDK in
    /// `sandmill/`.
    ///
    /// Example:
    ///   sandmill new wordfreq --lang python && sandmill build wordfreq
    New {
        /// The directory to create; its name names the job.
        dir: PathBuf,
        /// The language of the job.
        #[arg(long, value_enum)]
        lang: crate::project::Lang,
    },
    /// Build a job project into a component with its language's toolchain, and print the
    /// component's path. The language is told by the project's `Cargo.toml`, `job.py`,
    /// `job.js` or `job.c`; a missing toolchain is named with the command that installs it.
    Build {
        /// The project's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the component [default: DIR/build/NAME.wasm].
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Work with single tasks of a job, as a scheduler does.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Run the multi-tenant job service: a JSON API under /v1 and web pages under /ui
    /// (docs/service.md). Every task runs in a worker process; jobs, logs and usage are kept in
    /// DIR/service.db and survive a restart.
    ///
    /// Example:
    ///   sandmill serve --data-dir /srv/sandmill --listen 127.0.0.1:8480
    Serve(Box<crate::service::cli::ServeArgs>),
    /// Manage the job service's tenants (while it runs, too).
    #[command(subcommand)]
    Tenant(crate::service::cli::TenantCommand),
    /// Submit a job to the job service (`sandmill serve`): upload the plugin, submit the job
    /// with the flags of `sandmill run` given here, and print the job's id alone on stdout.
    /// The inputs and the output are names of your uploads and datasets on the server (or
    /// paths the operator granted you). The service decides --executor, --threads,
    /// --temp-dir, --compile-cache, --no-compile-cache, --summary-json, --dry-run, --quiet
    /// and --overwrite itself; they are refused here.
    ///
    /// A lost answer (a broken connection, a timeout, a server error) is retried with the
    /// same idempotency key, so the job is never submitted twice.
    ///
    /// Example:
    ///   sandmill submit wordcount.wasm --input books --output counts --reducers 4
    Submit(Box<SubmitArgs>),
    /// Show a job of the job service: its state, why it waits, its progress and its error.
    /// A job that failed is shown like any other (exit status 0).
    Status {
        /// The job's id, as `sandmill submit` printed it.
        job: String,
        /// Print the server's JSON for the job as it is, for scripts.
        #[arg(long)]
        json: bool,
        /// The job service.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List your jobs on the job service, newest first.
    Jobs {
        /// Only the jobs in this state.
        #[arg(long, value_name = "STATE", value_parser = ["queued", "running", "succeeded", "failed", "cancelled"])]
        state: Option<String>,
        /// The most jobs to list (at most 1000).
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print the server's JSON as it is, for scripts.
        #[arg(long)]
        json: bool,
        /// The job service.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print a job's log: the service's, the plugin's and the worker processes' lines.
    Logs {
        /// The job's id.
        job: String,
        /// Keep printing new lines until the job has ended.
        #[arg(long, short)]
        follow: bool,
        /// The job service.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Cancel a job: its worker processes are stopped. The tasks it committed are kept, for a
    /// later job with the same output and flags to reuse.
    Cancel {
        /// The job's id.
        job: String,
        /// The job service.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Upload files and directories to the job service as the upload NAME, a job input,
    /// replacing what NAME held, at once. Directories are uploaded whole (hidden files too),
    /// keeping their relative paths: a directory given alone becomes the upload's root
    /// (`put books/ --as books` uploads books/a.txt as a.txt); given with other paths it goes
    /// under its own name, as with `cp -r` (books/a.txt as books/a.txt), and a file goes under
    /// its file name. Symbolic links are followed. With `--as s3://BUCKET/PREFIX`, the same
    /// files go to object storage instead (credentials from AWS_*).
    ///
    /// Example:
    ///   sandmill put books/ --as books
    Put {
        /// The files and directories to upload.
        #[arg(required = true, value_name = "LOCAL_PATH")]
        paths: Vec<PathBuf>,
        /// The upload's name: 1 to 64 of a-z, 0-9, - and _, starting with a letter or digit;
        /// or an s3:// prefix to upload the files to object storage (no server needed).
        #[arg(long = "as", value_name = "NAME")]
        name: String,
        /// The job service.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Download the files of a dataset version from the job service into a directory
    /// (created if missing). Each file is written under a temporary name and renamed when
    /// complete; files already in the directory with other names are left alone.
    ///
    /// Example:
    ///   sandmill get counts --to ./counts
    Get {
        /// The dataset's name on the server, or an s3:// dataset (no server needed).
        dataset: String,
        /// The directory to write the files into.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// The version to download, like v3 [default: the current one].
        #[arg(long, value_name = "VERSION")]
        version: Option<String>,
        /// The job service.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Where the job service is and who you are, for the client commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// The job service's URL, like http://127.0.0.1:8480.
    #[arg(long, env = "SANDMILL_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Your tenant's token, as `sandmill tenant add` printed it.
    #[arg(
        long,
        env = "SANDMILL_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// `sandmill submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The job, as for `sandmill run`.
    #[command(flatten)]
    pub run: Box<RunArgs>,
    /// A key that makes the submission idempotent: submitting the same key again answers the
    /// job the first submission made [default: a random one, kept for the retries].
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// The job service.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `sandmill task`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Plan a job (the flags of `sandmill run`) and write the specs of its tasks left to run
    /// into a directory, one JSON file per task: the map tasks no run has committed, or once
    /// they all are, the reduce tasks. Run each with `sandmill task run`, plan again, and when
    /// it says `publish`, `sandmill run` with the same flags publishes the version.
    ///
    /// Example:
    ///   sandmill task plan wordcount.wasm --input books/ --output counts --specs specs/
    Plan {
        /// The job, as for `sandmill run`.
        #[command(flatten)]
        run: Box<RunArgs>,
        /// Where to write the task specs.
        #[arg(long, value_name = "DIR")]
        specs: PathBuf,
    },
    /// Run one task from its spec (JSON, as `sandmill run --executor process` writes them)
    /// and commit it to its job run's work directory. Prints one line of JSON: the task,
    /// attempt, status (`ok` or the failure class), whether a retry may help, the error, and
    /// the committed task's counts and plugin log (its messages, counters, stdout and
    /// stderr). Exits with the status of its failure class (see `sandmill --help`).
    Run {
        /// The task spec file, or `-` to read it from stdin.
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
    },
    /// Check that a plugin loads: validate and compile it (keeping its machine code in the
    /// compile cache, for the jobs that run it), without running any of its code. Prints one
    /// line of JSON: its sha256, size, world, exports and imports. Exits with the status of
    /// the failure class (4: not a component Sandmill can run). With SANDMILL_COMPILE_KEY set
    /// (the job service sets it), compiled plugins are authenticated with that key, as in
    /// every command that runs a job.
    ///
    /// Example:
    ///   sandmill task check --plugin wordcount.wasm
    Check {
        /// The plugin (.wasm component).
        #[arg(long, value_name = "FILE")]
        plugin: PathBuf,
        /// Where compiled plugins are kept [default: as for `sandmill run`].
        #[arg(long, value_name = "DIR")]
        compile_cache: Option<PathBuf>,
    },
}

/// `sandmill run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job plugin: a WebAssembly component implementing sandmill:job/job.
    pub plugin: PathBuf,

    /// Input files, directories or glob patterns (quote globs). Directories are read
    /// recursively, skipping names that start with `.` or `_`. Files ending in .gz are
    /// decompressed.
    #[arg(short, long, required = true, num_args = 1.., value_name = "PATH")]
    pub input: Vec<PathBuf>,

    /// A side input NAME, read whole by every map, combine and reduce call (a broadcast
    /// join's lookup table): a file, directory, glob or dataset, read as --input is, once
    /// per run, held in memory. The plugin reads it with side_input(NAME). Repeatable.
    #[arg(long, value_name = "NAME=PATH", value_parser = parse_side_input)]
    pub side_input: Vec<sandmill::side_input::SideInputArg>,

    /// The most bytes of records all side inputs may hold in memory together; over it, the
    /// job fails before any task runs.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub max_side_input_bytes: u64,

    /// The output dataset. Each successful run publishes a new immutable version and switches
    /// this path (a link) to it atomically; `sandmill versions` and `sandmill rollback` manage
    /// them. Running the same command again after a crash resumes the job.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Run every task twice (or a share of them, --verify=0.1) before committing it, and
    /// fail, naming the task, if the two runs write different output: nothing of such a task
    /// is committed.
    #[arg(long, value_name = "FRACTION", num_args = 0..=1, default_missing_value = "1.0", require_equals = true)]
    pub verify: Option<f64>,

    /// Replace only the output partitions (such as date=2026-03-22/) this run writes; the new
    /// version keeps every other partition of the current one. Rerunning one day is then
    /// idempotent.
    #[arg(long)]
    pub overwrite_partitions: bool,

    /// Keep at most N versions of the dataset, deleting the oldest (never the current one).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,

    /// Write every record below this output partition (date=2026-03-22/): with
    /// --overwrite-partitions, a rerun replaces that partition only.
    #[arg(long, value_name = "DIR")]
    pub output_partition: Option<String>,

    /// A quality gate the output must pass before it is published (repeatable); a failed one
    /// publishes nothing, keeps the current version and exits with 6. CHECK is a kind with
    /// settings: records:min=10,max=5000; records-change:max_percent=20 (against the current
    /// version); no-empty-keys[:key=FIELD]; unique-keys[:key=FIELD] (a JSON field, else the
    /// text before the first tab); null-share:field=F,max=0.05 (JSON records);
    /// plugin:plugin=check.wasm[,param.K=V] (a job that writes {"pass":..,"reason":..}).
    #[arg(long = "check", value_name = "CHECK", value_parser = parse_check)]
    pub checks: Vec<sandmill::gate::Check>,

    /// Publish a new version even if the dataset's current version was made by this same job
    /// (the same plugin, parameters, inputs by size and modification time, format, reducers
    /// and --overwrite-partitions). Without it such a run runs no task, publishes nothing and
    /// says the output is unchanged.
    #[arg(long)]
    pub force: bool,

    /// How records are cut from the input.
    #[arg(long, value_enum, default_value_t = Format::Lines)]
    pub format: Format,

    /// The number of reduce tasks, and so of part files [default: 8, on every machine, so that
    /// the same command writes the same output everywhere].
    #[arg(short, long, value_name = "N")]
    pub reducers: Option<u32>,

    /// How keys are assigned to reduce partitions: hash (a stable hash of the key, in no
    /// order) or range (key ranges cut at a sorted sample of the map output keys, as TeraSort
    /// does: even partitions, and the part files concatenated in order are sorted by key).
    #[arg(long, value_enum, default_value_t = Partitioner::Hash)]
    pub partitioner: Partitioner,

    /// With --partitioner range: the most input bytes the plugin's map reads, before the job,
    /// to sample the keys (the first records of up to 16 evenly spaced splits). The same
    /// input always gives the same sample, and so the same partitions.
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_size)]
    pub sample_size: u64,

    /// A key that holds a large share of the pairs (repeat for several): its pairs are spread
    /// over --salt combine tasks, each combining its share, whose results its partition's
    /// reduce merges into the one group the plugin's reduce sees. The output is the same; the
    /// job needs a combiner. KEY is the key's text, or hex:HEX for any bytes.
    #[arg(long = "hot-key", value_name = "KEY", value_parser = parse_hot_key)]
    pub hot_keys: Vec<KeyArg>,

    /// The combine tasks each --hot-key is spread over.
    #[arg(long, value_name = "N", default_value_t = sandmill::spec::DEFAULT_SALT)]
    pub salt: u32,

    /// Worker threads [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// A parameter for the plugin, as key=value. Repeat for several.
    #[arg(short, long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,

    /// Cut input files into splits of at most this size (bytes, or with a unit: 512KiB,
    /// 64MiB). A smaller input is cut finer, into about four splits per thread (but none
    /// under 1 MiB), so that every thread has work: --dry-run shows the size chosen and why.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub split_size: u64,

    /// The most bytes of key groups (keys and values) in one call to the plugin's
    /// reduce-groups or combine-groups. A group with more values than fit is streamed: the
    /// plugin pulls the rest with next-values. Output does not depend on it; a small value
    /// tests that a plugin streams large groups correctly.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub group_batch_size: u64,

    /// Replace --output if it exists and is not a Sandmill dataset (a plain directory or file;
    /// it stays whole until the new version is complete).
    #[arg(long)]
    pub overwrite: bool,

    /// Memory for the shuffle: map output is sorted in memory up to this budget and spilled to
    /// disk beyond it [default: a quarter of the machine's RAM].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,

    /// Where map output and spill files go, removed when the job ends or is interrupted
    /// [default: the dataset's work directory, beside the output, where a rerun after an
    /// interruption finds the committed map tasks' output and reuses it].
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,

    /// Where compiled plugins are kept between runs, so that a rerun skips compiling
    /// [default: $SANDMILL_CACHE_DIR, else $XDG_CACHE_HOME/sandmill/compiled, else
    /// ~/.cache/sandmill/compiled].
    #[arg(long, value_name = "DIR", conflicts_with = "no_compile_cache")]
    pub compile_cache: Option<PathBuf>,

    /// Compile the plugin on every run; keep no compiled code.
    #[arg(long)]
    pub no_compile_cache: bool,

    /// Who runs the tasks: threads of this process (local), one `sandmill task run`
    /// process per task attempt (process), so that a plugin that crashes its process costs
    /// one attempt, or a Ray cluster (ray: a Ray task per task, each `sandmill task run` on a
    /// node; needs an s3:// --output). The output is the same.
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,

    /// The Ray cluster for --executor ray, as HOST:PORT of its head [default: RAY_ADDRESS].
    #[arg(long, value_name = "HOST:PORT")]
    pub ray_address: Option<String>,

    /// Attempts per task: a task that fails in a way that can pass on a second try (an I/O
    /// error, a timeout) is run again, with growing waits. A plugin's error or trap on a record
    /// is not retried: it would fail the same way.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_attempts: u32,

    /// Quarantine up to N records that the plugin rejects or traps on into `_rejects.jsonl` in
    /// the output (with the file, line and error) instead of failing the job; and output
    /// records a reduce routes to an unsafe partition name (with the key and the partition).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_bad_records: u64,

    /// The most output one reduce task may write (its part files' bytes). Going over fails the
    /// job, naming the task: a plugin must not fill the disk.
    #[arg(long, value_name = "SIZE", default_value = "10GiB", value_parser = parse_size)]
    pub max_task_output: u64,

    /// The most output the whole job may write, all reduce tasks together.
    #[arg(long, value_name = "SIZE", default_value = "100GiB", value_parser = parse_size)]
    pub max_output: u64,

    /// The most output records (lines) one reduce task may write [default: no limit; every
    /// record takes at least a byte of --max-task-output].
    #[arg(long, value_name = "N")]
    pub max_task_output_records: Option<u64>,

    /// The most output records the whole job may write [default: no limit; every record takes
    /// at least a byte of --max-output].
    #[arg(long, value_name = "N")]
    pub max_output_records: Option<u64>,

    /// The most output partitions (subdirectories such as date=2026-03-22/) one reduce task
    /// may write into.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_partitions: u64,

    /// The most one map task may emit before combining: keys and values, plus 8 bytes per
    /// pair. Catches a map that turns a small input into a flood.
    #[arg(long, value_name = "SIZE", default_value = "10GiB", value_parser = parse_size)]
    pub max_map_output: u64,

    /// The most pairs one map task may emit before combining [default: no limit; every pair
    /// takes 8 bytes of --max-map-output].
    #[arg(long, value_name = "N")]
    pub max_map_output_pairs: Option<u64>,

    /// The longest input record (line) a job accepts; a longer one fails the job, naming its
    /// file and byte.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_record_size: u64,

    /// The most memory one plugin instance may use: all its linear memories and tables
    /// together.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub plugin_memory: u64,

    /// The most wall-clock time one call into the plugin may take, in seconds. A plugin that
    /// reaches a time, CPU or memory limit is not retried: it would reach it again. So an
    /// endless loop fails the job within this time.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub call_timeout: f64,

    /// The most CPU time one task attempt may spend in the plugin, in seconds (0: no limit).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600.0)]
    pub task_cpu: f64,

    /// The most CPU time the whole job may spend in the plugin, over all tasks and attempts,
    /// in seconds [default: no limit].
    #[arg(long, value_name = "SECONDS")]
    pub job_cpu: Option<f64>,

    /// The most data the plugin may hand the host in one call: what one map, combine or reduce
    /// call returns, or one host call's arguments.
    #[arg(long, value_name = "SIZE", default_value = "128MiB", value_parser = parse_size)]
    pub max_call_data: u64,

    /// Give each task attempt this much fuel (a deterministic instruction budget). Off by
    /// default: it costs 15-35% of plugin speed.
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,

    /// Print no progress and no summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Also write the job's summary as JSON to FILE (`-`: stdout), for scripts: the
    /// version, each phase's tasks, counts and wall time, partitions, counters, rejects,
    /// plugin CPU and peak memory.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Show what the job would do (its input files, the split size and why, the map tasks
    /// and their byte ranges, the reduce partitions, the version it would publish) and stop.
    /// The plugin is loaded and configured, to check it and its parameters, but runs no task,
    /// and nothing is written to the output. With --summary-json, the plan as JSON.
    #[arg(long)]
    pub dry_run: bool,

    /// With --format parquet: read only these columns (comma-separated top-level names), as
    /// in --columns user_id,amount_cents [default: all].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,

    /// What the part files hold: lines (the records as the plugin emits them, one per line;
    /// jsonl is the same), or parquet (part-NNNNN.parquet files of --output-schema, each
    /// record a JSON object with its fields).
    #[arg(long, value_enum, default_value_t = OutputFormatArg::Lines)]
    pub output_format: OutputFormatArg,

    /// With --output-format parquet: the columns, as name:type[?],… with types int64, int32,
    /// float64, bool, string; ? after the type lets the field be null or missing. For
    /// example user_id:int64,count:int64,sum_cents:int64.
    #[arg(long, value_name = "SCHEMA")]
    pub output_schema: Option<String>,
}

/// `--output-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormatArg {
    /// The records, one per line.
    Lines,
    /// The same as lines: records are written as given.
    Jsonl,
    /// Parquet files of --output-schema.
    Parquet,
}

/// `sandmill pipeline`.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Run a pipeline: every stage whose inputs, plugin, parameters or settings changed
    /// (the others are unchanged and skipped), independent stages at the same time, then
    /// publish all the stages' datasets together as one version of the pipeline's output.
    /// After a crash or a failed stage, the same command resumes.
    Run(PipelineRunArgs),
    /// Run a pipeline once per value of a range parameter, in order, each run its own
    /// version: --param date=2026-03-01..2026-03-31 (days, inclusive) or n=1..10.
    Backfill(PipelineRunArgs),
    /// Show the pipeline's stages in the order they run (the DAG), what each reads and
    /// writes, its checks, and its dataset's current version.
    Status(PipelineRunArgs),
}

/// The arguments of `sandmill pipeline run|backfill|status`.
#[derive(Debug, clap::Args)]
pub struct PipelineRunArgs {
    /// The pipeline file (TOML). Relative paths in it are relative to its directory.
    pub file: PathBuf,

    /// A pipeline parameter, as key=value, substituted for ${key} in the file (overriding
    /// the file's [params]). Repeat for several.
    #[arg(short, long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,

    /// Print no progress and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One record per line.
    Lines,
    /// One JSON document per line.
    Jsonl,
    /// CSV with a header row; one record per line.
    Csv,
    /// Parquet files: each row is a record, given to the plugin as a JSON object (as jsonl).
    Parquet,
}

/// Parses `--check kind[:key=value,...]` into the check a pipeline file's table would give:
/// numbers are numbers, `param.K=V` goes into a plugin check's parameters.
pub fn parse_check(s: &str) -> Result<sandmill::gate::Check, String> {
    let (kind, settings) = s.split_once(':').unwrap_or((s, ""));
    let mut table = serde_json::Map::new();
    table.insert("check".into(), kind.trim().into());
    let mut params = serde_json::Map::new();
    for setting in settings.split(',').filter(|s| !s.trim().is_empty()) {
        let (k, v) = setting
            .split_once('=')
            .ok_or_else(|| format!("{setting:?} in --check {s:?} is not key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        if let Some(param) = k.strip_prefix("param.") {
            params.insert(param.into(), v.into());
            continue;
        }
        let value = if let Ok(n) = v.parse::<u64>() {
            n.into()
        } else if let Ok(x) = v.parse::<f64>() {
            x.into()
        } else {
            v.into()
        };
        table.insert(k.into(), value);
    }
    if !params.is_empty() {
        table.insert("params".into(), params.into());
    }
    let check: sandmill::gate::Check = serde_json::from_value(table.into()).map_err(|e| {
        format!(
            "--check {s:?}: {e}; checks are records:min=N,max=N, \
             records-change:max_percent=P, no-empty-keys[:key=F], unique-keys[:key=F], \
             null-share:field=F,max=S, plugin:plugin=PATH[,param.K=V]"
        )
    })?;
    check.validate()?;
    Ok(check)
}

/// A key given as a flag: text, or `hex:HEX`.
#[derive(Debug, Clone)]
pub struct KeyArg(pub Vec<u8>);

fn parse_hot_key(s: &str) -> Result<KeyArg, String> {
    sandmill::text::parse_key(s).map(KeyArg)
}

fn parse_side_input(s: &str) -> Result<sandmill::side_input::SideInputArg, String> {
    s.parse()
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not key=value")),
    }
}

/// Parses `4096`, `64KiB`, `64k`, `1.5GiB`, ... (units are powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 4096 or 64MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB, GiB)")),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_params() {
        let cases = [
            ("4096", 4096),
            ("1k", 1024),
            ("64MiB", 64 << 20),
            ("1.5GiB", 3 << 29),
            ("2 MB", 2 << 20),
        ];
        for (s, want) in cases {
            assert_eq!(parse_size(s), Ok(want), "{s}");
        }
        assert!(parse_size("x").is_err());
        assert!(parse_size("3 parsecs").is_err());
        assert_eq!(parse_param("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_param("=v").is_err());
        assert!(parse_param("novalue").is_err());
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}

/// `--partitioner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Partitioner {
    /// A stable hash of the key.
    Hash,
    /// Key ranges cut at a sample of the map output keys.
    Range,
}

/// `--executor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// Threads of this process.
    Local,
    /// A process per task attempt.
    Process,
    /// A Ray task per task, on a Ray cluster.
    Ray,
}
