//! `sandmill-bench languages`: what a job costs in each language Sandmill has an SDK for.
//!
//! The example jobs of `plugins/` in Rust, Python, JavaScript and C run on the same generated
//! data through the same release `sandmill`, and each non-Rust output must be the Rust one's,
//! line for line. Per language and job it reports the component's size; the start-up of a run
//! on a 4 KiB input with a cold compile cache (the component is compiled with Cranelift) and a
//! warm one (its machine code is loaded); and the best of `--repeat` warm runs on the whole
//! input: wall, CPU and peak RSS, with the CPU as a multiple of the Rust job's.

use super::{Paths, build, build_plugins, ensure_data, run_measured};
use anyhow::{Context, Result, bail};
use sandmill_bench::generate::{DataSet, Spec};
use sandmill_bench::measure::Measurement;
use sandmill_bench::output::SortedLines;
use sandmill_bench::report::Table;
use sandmill_bench::size::{human, mib, parse_size};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `sandmill-bench languages`.
#[derive(Debug, clap::Args)]
pub struct LanguagesArgs {
    /// Input size of each job's data set.
    #[arg(long, default_value = "20MiB", value_parser = parse_size)]
    size: u64,

    /// The languages besides Rust, comma-separated: python, js, c (none: "").
    #[arg(long, value_delimiter = ',', default_value = "python,js,c")]
    langs: Vec<String>,

    /// Warm runs of each job on the whole input; the best wall time is reported.
    #[arg(long, default_value_t = 2)]
    repeat: usize,

    /// Worker threads (`sandmill run --threads`, and as many reducers).
    #[arg(long, default_value_t = 2)]
    threads: usize,

    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Don't build: use the `sandmill`, plugins and components already built.
    #[arg(long)]
    no_build: bool,

    /// Time this `sandmill` binary instead of `<target>/release/sandmill` (which is then not
    /// built), e.g. a debug build: the ratios to Rust are what this benchmark is for.
    #[arg(long, value_name = "PATH")]
    sandmill: Option<PathBuf>,

    /// Where the Markdown report is written [default: <target>/bench-languages.md].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// One job as each language's example implements it.
struct LangJob {
    /// The example's directory name under `plugins/<lang>/`.
    name: &'static str,
    /// The Rust component's file stem in the plugin directory.
    rust: &'static str,
    data: DataSet,
    format: &'static str,
    /// The row label.
    label: &'static str,
}

const JOBS: [LangJob; 3] = [
    LangJob {
        name: "wordcount",
        rust: "wordcount",
        data: DataSet::Text,
        format: "lines",
        label: "wordcount",
    },
    LangJob {
        name: "revenue-by-user",
        rust: "revenue_by_user",
        data: DataSet::Events,
        format: "jsonl",
        label: "revenue-by-user (JSON Lines)",
    },
    LangJob {
        name: "revenue-by-user",
        rust: "revenue_by_user",
        data: DataSet::EventsCsv,
        format: "csv",
        label: "revenue-by-user (CSV)",
    },
];

/// Where `sandmill build` puts the benchmark's components.
fn component(paths: &Paths, lang: &str, job: &LangJob) -> PathBuf {
    if lang == "rust" {
        paths.plugins.join(format!("{}.wasm", job.rust))
    } else {
        paths
            .target
            .join("bench-components")
            .join(format!("{lang}-{}.wasm", job.name))
    }
}

/// Builds every language's examples with the release `sandmill build`.
fn build_components(paths: &Paths, langs: &[String]) -> Result<()> {
    for lang in langs {
        for job in JOBS.iter().filter(|j| j.format != "csv") {
            let dir = paths.workspace.join("plugins").join(lang).join(job.name);
            let out = component(paths, lang, job);
            eprintln!("sandmill build {} -o {}", dir.display(), out.display());
            let status = std::process::Command::new(&paths.sandmill)
                .arg("build")
                .arg(&dir)
                .arg("--output")
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .status()
                .context("running sandmill build")?;
            if !status.success() {
                bail!(
                    "sandmill build {} failed ({status}); the {lang} toolchain comes from \
                     ./scripts/setup-toolchain.sh {lang}",
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

/// The best (by wall time) of `runs`.
fn best(runs: &[Measurement]) -> &Measurement {
    runs.iter()
        .min_by_key(|m| m.wall)
        .expect("at least one run")
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// Runs the languages benchmark; `Ok(false)` if an output differed from Rust's.
pub fn run(args: &LanguagesArgs) -> Result<bool> {
    let mut paths = Paths::find()?;
    if let Some(sandmill) = &args.sandmill {
        paths.sandmill = std::path::absolute(sandmill)?;
    }
    if args.repeat == 0 || args.threads == 0 {
        bail!("--repeat and --threads must be at least 1");
    }
    let chosen: Vec<String> = args
        .langs
        .iter()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    for lang in &chosen {
        if !["python", "js", "c"].contains(&lang.as_str()) {
            bail!("unknown language {lang:?}: give python, js or c");
        }
    }
    if !args.no_build {
        if args.sandmill.is_some() {
            build_plugins(&paths)?;
        } else {
            build(&paths)?;
        }
        build_components(&paths, &chosen)?;
    }
    let langs: Vec<&str> = std::iter::once("rust")
        .chain(chosen.iter().map(String::as_str))
        .collect();
    let work = paths
        .target
        .join("bench-out")
        .join(format!("languages-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let data_root = paths.target.join("bench-data");
    let threads = args.threads.to_string();

    let mut table = Table::new([
        "job",
        "language",
        "component MiB",
        "start cold s",
        "start warm s",
        "wall s",
        "CPU s",
        "MiB/s",
        "peak RSS MiB",
        "CPU vs Rust",
        "output",
    ]);
    let mut identical = true;
    for job in &JOBS {
        let spec = Spec {
            kind: job.data,
            size: args.size,
            seed: args.seed,
        };
        let data = ensure_data(&data_root, &spec)?;
        let tiny = tiny_input(&data.input, &work.join(format!("tiny-{}", job.format)))?;
        let mut rust_cpu = None;
        let rust_out = work.join(format!("{}-{}-rust", job.name, job.format));
        for lang in &langs {
            let plugin = component(&paths, lang, job);
            if !plugin.is_file() {
                bail!("no {} (build it, or drop --no-build)", plugin.display());
            }
            let cache = work.join(format!("cache-{lang}-{}", job.name));
            let _ = fs::remove_dir_all(&cache);
            let out = work.join(format!("{}-{}-{lang}", job.name, job.format));
            let argv = |input: &Path, out: &Path| -> Vec<String> {
                let s = |p: &Path| p.display().to_string();
                [
                    s(&paths.sandmill),
                    "run".into(),
                    s(&plugin),
                    "--input".into(),
                    s(input),
                    "--output".into(),
                    s(out),
                    "--format".into(),
                    job.format.into(),
                    "--threads".into(),
                    threads.clone(),
                    "--reducers".into(),
                    threads.clone(),
                    "--compile-cache".into(),
                    s(&cache),
                    "--overwrite".into(),
                ]
                .into()
            };
            let log = work.join(format!("{lang}-{}-{}", job.name, job.format));
            // Every run writes a new dataset: into an existing one, an unchanged job would
            // publish nothing and take no time.
            let fresh = |input: &Path, out: &Path| -> Result<Measurement> {
                remove_dataset(out)?;
                Ok(run_measured(&argv(input, out), &log)?.m)
            };
            let tiny_out = work.join("tiny-out");
            let cold = fresh(&tiny, &tiny_out)?;
            let warm = fresh(&tiny, &tiny_out)?;
            let runs: Vec<Measurement> = (0..args.repeat)
                .map(|_| fresh(&data.input, &out))
                .collect::<Result<_>>()?;
            let best = best(&runs);
            let cpu = best.cpu();
            let verdict = if *lang == "rust" {
                rust_cpu = Some(cpu);
                fs::rename(&out, &rust_out)?;
                "reference".to_owned()
            } else {
                let got = SortedLines::read(&out)?;
                let want = SortedLines::read(&rust_out)?;
                match want.diff(&got, ["rust", lang]) {
                    None => "identical".to_owned(),
                    Some(diff) => {
                        identical = false;
                        eprintln!("{} in {lang} differs from Rust:\n{diff}", job.label);
                        "DIFFERS".to_owned()
                    }
                }
            };
            let ratio = rust_cpu.map_or_else(String::new, |r| {
                format!("{:.1}x", cpu.as_secs_f64() / r.as_secs_f64().max(1e-3))
            });
            table.row([
                job.label.to_owned(),
                (*lang).to_owned(),
                format!("{:.1}", mib(fs::metadata(&plugin)?.len())),
                secs(cold.wall),
                secs(warm.wall),
                secs(best.wall),
                secs(cpu),
                format!("{:.1}", mib(data.bytes) / best.wall.as_secs_f64().max(1e-3)),
                format!("{:.0}", mib(best.max_rss)),
                ratio,
                verdict,
            ]);
        }
    }
    let _ = fs::remove_dir_all(&work);
    let title = format!(
        "Languages: {} of input per job, {} threads, best of {} warm runs; start-up on 4 KiB \
         with a cold and a warm compile cache",
        human(args.size),
        args.threads,
        args.repeat
    );
    println!("{title}\n\n{}", table.to_text());
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| paths.target.join("bench-languages.md"));
    fs::write(&report, format!("## {title}\n\n{}", table.to_markdown()))
        .with_context(|| format!("writing {}", report.display()))?;
    eprintln!("report written to {}", report.display());
    Ok(identical)
}

/// Removes the dataset `out`: its link or directory and its `.NAME.sandmill` beside it.
fn remove_dataset(out: &Path) -> Result<()> {
    let name = out.file_name().context("an output name")?.to_string_lossy();
    let state = out.with_file_name(format!(".{name}.sandmill"));
    for path in [out, state.as_path()] {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(path)?,
            Ok(_) => fs::remove_file(path)?,
            Err(_) => {}
        }
    }
    Ok(())
}

/// A directory holding the first 4 KiB (whole lines, and the CSV header with them) of the
/// first file in `input`, for timing start-up.
fn tiny_input(input: &Path, dir: &Path) -> Result<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(input)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.sort();
    let first = files.first().context("an empty data set")?;
    let bytes = fs::read(first)?;
    let cut = bytes[..bytes.len().min(4096)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(bytes.len().min(4096), |i| i + 1);
    fs::create_dir_all(dir)?;
    let name = first.file_name().context("a file name")?;
    fs::write(dir.join(name), &bytes[..cut])?;
    Ok(dir.to_path_buf())
}
