//! `sandmill pipeline run|backfill|status FILE`: the pipeline file (TOML), its parameters, and
//! each stage's job built as `sandmill run` builds one, from the same flags.
//!
//! ```toml
//! output = "warehouse"                 # the pipeline's dataset: warehouse/<stage output>/
//! [params]
//! date = "2026-03-22"                  # ${date} anywhere below; --param date=... overrides
//!
//! [[stage]]
//! name = "parse"
//! plugin = "parse.wasm"
//! inputs = ["raw/date=${date}/"]       # paths, or @dataset[/sub/path] of another stage
//! output = "events"
//! params = { strict = "yes" }          # the plugin's --param pairs
//! run = { format = "jsonl", reducers = 4, overwrite-partitions = true }  # any run flag
//! [[stage.checks]]                     # quality gates, before the pipeline publishes
//! check = "records"
//! min = 1
//! ```

use crate::args::{PipelineRunArgs, RunArgs};
use anyhow::Context as _;
use sandmill::gate::Check;
use sandmill::pipeline::{Pipeline, PipelineObserver, Stage};
use sandmill::schedule::JobReport;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The pipeline file, after parameters are substituted.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    /// The pipeline's dataset.
    output: PathBuf,
    /// Default parameters.
    #[serde(default)]
    #[expect(dead_code, reason = "read before substitution, from the raw table")]
    params: BTreeMap<String, toml::Value>,
    /// The stages, in file order.
    #[serde(rename = "stage", default)]
    stages: Vec<StageFile>,
    /// Snapshots of the pipeline to keep; stage versions only older ones show go with them.
    #[serde(default)]
    keep: Option<usize>,
}

/// One `[[stage]]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StageFile {
    name: String,
    plugin: PathBuf,
    inputs: Vec<String>,
    output: String,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    run: BTreeMap<String, toml::Value>,
    #[serde(default)]
    checks: Vec<Check>,
}

/// Flags of `sandmill run` a stage sets with keys of its own, or that make no sense for one.
const NOT_RUN_SETTINGS: [(&str, &str); 8] = [
    ("input", "set the stage's `inputs`"),
    (
        "keep",
        "set `keep` at the top of the pipeline file: a stage's versions go when no kept \
         snapshot shows them",
    ),
    ("output", "set the stage's `output`"),
    ("param", "set the stage's `params` table"),
    ("check", "add `[[stage.checks]]` tables"),
    ("quiet", "pass --quiet to `sandmill pipeline`"),
    ("summary-json", "not available for a stage"),
    ("dry-run", "use `sandmill pipeline status`"),
];

/// `sandmill run`'s flags, parsed for a stage.
#[derive(Debug, clap::Parser)]
#[command(name = "stage", no_binary_name = true)]
struct StageRun {
    #[command(flatten)]
    run: RunArgs,
}

/// A parsed pipeline file: the pipeline, its parameters, and the file's directory (relative
/// paths are relative to it; the process works there).
pub struct Loaded {
    pipeline: Pipeline,
    /// The pipeline's output, as the file names it.
    output: PathBuf,
    checks: Vec<Vec<Check>>,
}

/// Reads `file` with `params` (over the file's own `[params]`), and changes the process's
/// directory to the file's, where its relative paths start.
///
/// # Errors
/// A file that does not parse, an unknown parameter, or a stage whose settings are wrong,
/// each named.
pub fn load(file: &Path, params: &[(String, String)]) -> anyhow::Result<Loaded> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::env::set_current_dir(dir)
        .with_context(|| format!("cannot work in {}, the pipeline's directory", dir.display()))?;
    parse(&text, params).with_context(|| format!("pipeline {}", file.display()))
}

/// Parses a pipeline file's text (see the module docs).
fn parse(text: &str, given: &[(String, String)]) -> anyhow::Result<Loaded> {
    let mut table: toml::Table = toml::from_str(text).context("not a valid TOML file")?;
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    if let Some(defaults) = table.get("params") {
        let defaults = defaults
            .as_table()
            .context("[params] must be a table of name = \"value\"")?;
        for (k, v) in defaults {
            params.insert(
                k.clone(),
                scalar(v).with_context(|| format!("[params] {k}"))?,
            );
        }
    }
    for (k, v) in given {
        params.insert(k.clone(), v.clone());
    }
    for (k, v) in &params {
        anyhow::ensure!(
            !v.contains("${"),
            "parameter {k} = {v:?} holds ${{...}}; parameters are not substituted into each other"
        );
    }
    // Substituted everywhere but in [params] itself.
    for (key, value) in table.iter_mut().filter(|(k, _)| *k != "params") {
        substitute(value, &params).with_context(|| format!("in {key}"))?;
    }
    let file: PipelineFile = table.try_into().context("not a pipeline file")?;
    anyhow::ensure!(
        file.keep != Some(0),
        "keep must be at least 1: the current snapshot is always kept"
    );
    anyhow::ensure!(
        !file.stages.is_empty(),
        "it has no stage; add [[stage]] tables with name, plugin, inputs and output"
    );
    let mut stages = Vec::with_capacity(file.stages.len());
    let mut checks = Vec::with_capacity(file.stages.len());
    for stage in &file.stages {
        let built = build_stage(&file.output, stage, &file.stages)
            .with_context(|| format!("stage {:?}", stage.name))?;
        checks.push(stage.checks.clone());
        stages.push(built);
    }
    let pipeline = Pipeline {
        output: file.output.clone(),
        params: params.into_iter().collect(),
        stages,
        keep: file.keep,
    };
    pipeline.waves()?;
    Ok(Loaded {
        pipeline,
        output: file.output,
        checks,
    })
}

/// A parameter's or setting's value as text: a string as it is, a number or boolean as TOML
/// writes it.
fn scalar(value: &toml::Value) -> anyhow::Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => anyhow::bail!("a {} is not a string, number or boolean", other.type_str()),
    })
}

/// Replaces `${name}` in every string below `value` with the parameter's value (`$$` is a
/// `$`).
fn substitute(value: &mut toml::Value, params: &BTreeMap<String, String>) -> anyhow::Result<()> {
    match value {
        toml::Value::String(s) => *s = substitute_str(s, params)?,
        toml::Value::Array(items) => {
            for item in items {
                substitute(item, params)?;
            }
        }
        toml::Value::Table(table) => {
            for (_, item) in table.iter_mut() {
                substitute(item, params)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn substitute_str(s: &str, params: &BTreeMap<String, String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .with_context(|| format!("{s:?} has a ${{ without its }}"))?;
            let name = &body[..end];
            let value = params.get(name).with_context(|| {
                format!(
                    "{s:?} names the parameter {name:?}, which is not given; give it with \
                     --param {name}=VALUE or in [params] (known: {})",
                    params.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?;
            out.push_str(value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The stage's job, built from the flags `sandmill run` takes: its plugin, inputs (an
/// `@dataset` through that stage's output link), output, parameters, run settings, checks.
fn build_stage(output: &Path, stage: &StageFile, all: &[StageFile]) -> anyhow::Result<Stage> {
    let stage_output = Pipeline::stage_output(output, &stage.output)?;
    let mut argv: Vec<String> = vec![stage.plugin.to_string_lossy().into_owned()];
    argv.push("--output".into());
    argv.push(stage_output.to_string_lossy().into_owned());
    let mut reads = Vec::new();
    anyhow::ensure!(
        !stage.inputs.is_empty(),
        "inputs is empty; name at least one"
    );
    for input in &stage.inputs {
        argv.push("--input".into());
        match input.strip_prefix('@') {
            Some(reference) => {
                let (dataset, sub) = reference.split_once('/').unwrap_or((reference, ""));
                anyhow::ensure!(
                    all.iter().any(|s| s.output == dataset),
                    "input {input:?} names no stage's output (outputs: {})",
                    all.iter()
                        .map(|s| s.output.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                reads.push(dataset.to_owned());
                let mut path = Pipeline::stage_output(output, dataset)?;
                if !sub.is_empty() {
                    path = path.join(sub);
                }
                argv.push(path.to_string_lossy().into_owned());
            }
            None => argv.push(input.clone()),
        }
    }
    for (k, v) in &stage.params {
        argv.push("--param".into());
        argv.push(format!(
            "{k}={}",
            scalar(v).with_context(|| format!("params.{k}"))?
        ));
    }
    for (key, value) in &stage.run {
        if let Some((_, instead)) = NOT_RUN_SETTINGS.iter().find(|(k, _)| k == key) {
            anyhow::bail!("run.{key} is not a run setting here: {instead}");
        }
        let flag = format!("--{key}");
        match value {
            toml::Value::Boolean(true) => argv.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for item in items {
                    argv.push(flag.clone());
                    argv.push(scalar(item).with_context(|| format!("run.{key}"))?);
                }
            }
            other => {
                argv.push(flag);
                argv.push(scalar(other).with_context(|| format!("run.{key}"))?);
            }
        }
    }
    let parsed = <StageRun as clap::Parser>::try_parse_from(&argv).map_err(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or_default().trim_start_matches("error: ");
        anyhow::anyhow!("its run settings: {first} (a setting of [stage.run] is a `sandmill run` flag without its dashes)")
    })?;
    let mut run = parsed.run;
    run.checks.extend(stage.checks.iter().cloned());
    reads.sort();
    reads.dedup();
    Ok(Stage {
        name: stage.name.clone(),
        dataset: stage.output.clone(),
        reads,
        spec: crate::job_spec(run)?,
    })
}

/// Prints each stage as it finishes.
struct Printer {
    quiet: bool,
    width: usize,
    lock: Mutex<()>,
}

impl PipelineObserver for Printer {
    fn stage_finished(&self, stage: &Stage, report: &JobReport) {
        if self.quiet {
            return;
        }
        let _lock = self.lock.lock();
        let name = &stage.name;
        let width = self.width;
        if report.unchanged {
            println!("  {name:width$}  unchanged ({})", report.version);
        } else {
            println!(
                "  {name:width$}  {}: {} records in, {} out, {} tasks, {:.1} s",
                report.version,
                report.map.counts.records_in,
                report.reduce.counts.records_out,
                report.map.tasks + report.reduce.tasks,
                report.wall.as_secs_f64()
            );
        }
        for check in &report.checks {
            println!("  {:width$}    check {}: {}", "", check.check, check.detail);
        }
    }
}

/// `sandmill pipeline run FILE`.
pub fn run(args: &PipelineRunArgs) -> anyhow::Result<()> {
    let loaded = load(&args.file, &args.params)?;
    run_loaded(&loaded, args.quiet)
}

fn run_loaded(loaded: &Loaded, quiet: bool) -> anyhow::Result<()> {
    let pipeline = &loaded.pipeline;
    let printer = Printer {
        quiet,
        width: pipeline
            .stages
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0),
        lock: Mutex::new(()),
    };
    if !quiet {
        let params: Vec<String> = pipeline
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "pipeline {} ({} stages{}{})",
            loaded.output.display(),
            pipeline.stages.len(),
            if params.is_empty() { "" } else { ", " },
            params.join(" ")
        );
    }
    let report = sandmill::pipeline::run(pipeline, &printer)?;
    if !quiet {
        let versions: Vec<String> = pipeline
            .stages
            .iter()
            .zip(&report.stages)
            .map(|(s, r)| format!("{} {}", s.dataset, r.version))
            .collect();
        if report.published {
            println!(
                "{}: {} published ({})",
                loaded.output.display(),
                report.version,
                versions.join(", ")
            );
        } else {
            println!(
                "{}: unchanged, {} shows every stage already ({})",
                loaded.output.display(),
                report.version,
                versions.join(", ")
            );
        }
        let retained = &report.retained;
        if !retained.snapshots.is_empty() || !retained.stages.is_empty() {
            let ids = |ids: &[sandmill::dataset::VersionId]| {
                ids.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let mut deleted = Vec::new();
            if !retained.snapshots.is_empty() {
                deleted.push(format!("snapshots {}", ids(&retained.snapshots)));
            }
            deleted.extend(
                retained
                    .stages
                    .iter()
                    .map(|(name, versions)| format!("{name} {}", ids(versions))),
            );
            println!("  deleted (keep): {}", deleted.join("; "));
        }
    }
    Ok(())
}

/// `sandmill pipeline backfill FILE --param date=FROM..TO`.
pub fn backfill(args: &PipelineRunArgs) -> anyhow::Result<()> {
    let ranges: Vec<usize> = (0..args.params.len())
        .filter(|&i| args.params[i].1.contains(".."))
        .collect();
    let [at] = ranges[..] else {
        anyhow::bail!(
            "backfill needs exactly one range parameter, such as --param \
             date=2026-03-01..2026-03-31 or --param n=1..10 (given {})",
            ranges.len()
        );
    };
    let (name, range) = &args.params[at];
    let values = expand(range).with_context(|| format!("--param {name}={range}"))?;
    let file = std::fs::canonicalize(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    for value in values {
        let mut params = args.params.clone();
        params[at].1 = value.clone();
        if !args.quiet {
            println!("{name}={value}");
        }
        let loaded = load(&file, &params)?;
        run_loaded(&loaded, args.quiet).with_context(|| {
            format!("backfill stopped at {name}={value}; the days before it are published, and the same command resumes here")
        })?;
    }
    Ok(())
}

/// The values of `from..to`, inclusive: days (`2026-03-01..2026-03-31`) or integers.
fn expand(range: &str) -> anyhow::Result<Vec<String>> {
    let (from, to) = range.split_once("..").context("not FROM..TO")?;
    if let (Ok(a), Ok(b)) = (from.parse::<i64>(), to.parse::<i64>()) {
        anyhow::ensure!(a <= b, "the range ends before it starts");
        anyhow::ensure!(b - a < 100_000, "the range has more than 100000 values");
        return Ok((a..=b).map(|n| n.to_string()).collect());
    }
    let (a, b) = (day_number(from)?, day_number(to)?);
    anyhow::ensure!(a <= b, "the range ends before it starts");
    anyhow::ensure!(b - a < 100_000, "the range has more than 100000 days");
    Ok((a..=b).map(day_text).collect())
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (the proleptic Gregorian calendar).
fn day_number(date: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("{date:?} is neither a number nor a date YYYY-MM-DD");
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let days = crate::service::clock::days_from_civil(y, m, d);
    anyhow::ensure!(
        (1..=12).contains(&m) && day_text(days) == date,
        "{date:?} is not a date of the calendar"
    );
    Ok(days)
}

fn day_text(days: i64) -> String {
    let seconds = u64::try_from(days * 86_400).unwrap_or(0);
    sandmill::dataset::rfc3339_from_unix(seconds)[..10].to_owned()
}

/// `sandmill pipeline status FILE`.
pub fn status(args: &PipelineRunArgs) -> anyhow::Result<()> {
    let loaded = load(&args.file, &args.params)?;
    let pipeline = &loaded.pipeline;
    let status = pipeline.status()?;
    let root = sandmill::dataset::Dataset::open_or_create(&pipeline.output, false)?;
    match root.current()? {
        Some(v) => println!("pipeline {}: {v} current", loaded.output.display()),
        None => println!("pipeline {}: not published yet", loaded.output.display()),
    }
    let waves = pipeline.waves()?;
    let width = pipeline
        .stages
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    for (w, wave) in waves.iter().enumerate() {
        println!(
            "wave {}{}",
            w + 1,
            if wave.len() > 1 {
                " (at the same time)"
            } else {
                ""
            }
        );
        for &i in wave {
            let stage = &pipeline.stages[i];
            let state = &status[i];
            let show = |v: Option<sandmill::dataset::VersionId>| {
                v.map_or("none".to_string(), |v| v.to_string())
            };
            let pending = if state.current != state.published {
                ", newer version not published yet"
            } else {
                ""
            };
            let reads: Vec<String> = stage
                .spec
                .inputs()
                .iter()
                .map(|p| {
                    stage
                        .reads
                        .iter()
                        .find_map(|d| {
                            let link = Pipeline::stage_output(&pipeline.output, d).ok()?;
                            let rest = p.strip_prefix(&link).ok()?;
                            Some(if rest.as_os_str().is_empty() {
                                format!("@{d}")
                            } else {
                                format!("@{d}/{}", rest.display())
                            })
                        })
                        .unwrap_or_else(|| p.display().to_string())
                })
                .collect();
            println!(
                "  {:width$}  {} → {}  (dataset {}, published {}{pending})",
                stage.name,
                reads.join(" "),
                stage.dataset,
                show(state.current),
                show(state.published),
            );
            for check in &loaded.checks[i] {
                println!("  {:width$}    check {check}", "");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameters_are_substituted_and_unknown_ones_named() {
        let p = params(&[("date", "2026-03-22"), ("n", "3")]);
        assert_eq!(
            substitute_str("raw/date=${date}/part-${n}", &p).unwrap(),
            "raw/date=2026-03-22/part-3"
        );
        assert_eq!(substitute_str("cost $$5 $x", &p).unwrap(), "cost $5 $x");
        let err = substitute_str("d=${day}", &p).unwrap_err().to_string();
        assert!(err.contains("\"day\", which is not given"), "{err}");
        assert!(err.contains("known: date, n"), "{err}");
        assert!(substitute_str("${date", &p).is_err());
    }

    #[test]
    fn ranges_expand_to_days_or_numbers_inclusive() {
        assert_eq!(
            expand("2026-02-27..2026-03-02").unwrap(),
            ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
        );
        assert_eq!(
            expand("2024-02-28..2024-03-01").unwrap().len(),
            3,
            "a leap year"
        );
        assert_eq!(expand("8..11").unwrap(), ["8", "9", "10", "11"]);
        assert!(expand("2026-03-02..2026-03-01").is_err());
        assert!(expand("2026-02-30..2026-03-01").is_err());
        assert!(expand("monday..friday").is_err());
    }

    #[test]
    fn days_count_from_the_epoch() {
        assert_eq!(day_number("1970-01-01").unwrap(), 0);
        assert_eq!(day_number("2000-03-01").unwrap(), 11_017);
        assert_eq!(day_text(11_017), "2000-03-01");
    }
}
