//! `sandmill-bench serve`: the job service under load.
//!
//! It starts a real `sandmill serve` on a loopback port with a fresh data directory, adds
//! tenants, and gives each the wordcount plugin and its own generated text. With the server
//! idle it times status requests for a baseline; then it submits `--jobs` jobs round-robin
//! over the tenants as fast as it can and, until every job has finished, polls the status of
//! random jobs from `--pollers` client threads (every 10th request a list of the tenant's
//! jobs), keeping every latency with the time it arrived. It reports throughput, latency
//! percentiles idle and under load, the longest time without an answer, and how many jobs each
//! tenant had finished at a quarter, half and three quarters of the run (fair share keeps them
//! close). It fails if a job fails, if an output differs from a local `sandmill run` of the same
//! job, if an answer under load took a second or more, or if the server does not exit 0 on
//! SIGTERM.
//!
//! ```text
//! mod.rs      the steps, in order            poll.rs     client threads, the job tracker
//! server.rs   the child process, HTTP        outputs.rs  part files against a local run
//! report.rs   the tables (figures from sandmill_bench::load)
//! ```

mod outputs;
mod poll;
mod report;
mod server;

use super::{Paths, ensure_data};
use anyhow::{Context, Result, bail};
use poll::{Finish, Sample, Target, Tracker, Until, poll_all};
use sandmill_bench::generate::{DataSet, Spec};
use sandmill_bench::report::Table;
use sandmill_bench::size::{human, parse_size};
use serde_json::{Value, json};
use server::{Api, Server};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Jobs to submit, round-robin over the tenants.
    #[arg(long, default_value_t = 200)]
    jobs: usize,

    /// Tenants (each with the default `--max-running 4`, so most of their jobs queue).
    #[arg(long, default_value_t = 4)]
    tenants: usize,

    /// The server's worker slots (`sandmill serve --slots`).
    #[arg(long, default_value_t = 2)]
    slots: u64,

    /// Generated text per tenant (each tenant its own seed).
    #[arg(long, default_value = "256KiB", value_parser = parse_size)]
    size: u64,

    /// Reduce tasks of every job (`--reducers`).
    #[arg(long, default_value_t = 2)]
    reducers: u32,

    /// Client threads polling status, idle and under load.
    #[arg(long, default_value_t = 2)]
    pollers: usize,

    /// Status requests for the idle baseline, shared by the polling threads.
    #[arg(long, default_value_t = 200)]
    idle_requests: usize,

    /// Seed of the generated text (tenant N uses seed + N - 1) and of the polling.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Fail if the jobs have not all finished after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    timeout: u64,

    /// The `sandmill` binary [default: <target>/release/sandmill if it exists, else
    /// <target>/debug/sandmill].
    #[arg(long, value_name = "PATH")]
    sandmill: Option<PathBuf>,

    /// The plugin every job runs [default: <target>/wasm32-wasip2/plugin/wordcount.wasm].
    #[arg(long, value_name = "PATH")]
    plugin: Option<PathBuf>,

    /// Where the Markdown report is written [default: <target>/bench-serve.md].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Keep the server's data directory (<target>/bench-out/serve-PID) even if all went well.
    #[arg(long)]
    keep: bool,
}

/// The largest answer under load that still meets the issue's target ("well under a second").
const TARGET: Duration = Duration::from_secs(1);

/// How long the server may take to exit after SIGTERM (it has nothing left to run by then).
const STOP_PATIENCE: Duration = Duration::from_secs(60);

/// Runs the benchmark; `Ok(false)` if it ran to the end but a check failed.
pub fn run(args: &ServeArgs) -> Result<bool> {
    if args.jobs == 0 || args.tenants == 0 || args.pollers == 0 || args.slots == 0 {
        bail!("--jobs, --tenants, --pollers and --slots must be at least 1");
    }
    let paths = Paths::find()?;
    let sandmill = match &args.sandmill {
        Some(path) => std::path::absolute(path)?,
        None if paths.sandmill.is_file() => paths.sandmill.clone(),
        None => paths.target.join("debug/sandmill"),
    };
    if !sandmill.is_file() {
        bail!(
            "no {}: build it with `cargo build -p sandmill-runtime --bin sandmill` (add \
             --release for the release one), or pass --sandmill PATH",
            sandmill.display()
        );
    }
    let plugin = args
        .plugin
        .clone()
        .unwrap_or_else(|| paths.plugins.join("wordcount.wasm"));
    if !plugin.is_file() {
        bail!(
            "no {}: build it with `cargo build --profile plugin --target wasm32-wasip2 -p \
             wordcount`, or pass --plugin PATH",
            plugin.display()
        );
    }
    let work = paths
        .target
        .join("bench-out")
        .join(format!("serve-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let inputs: Vec<PathBuf> = (0..args.tenants)
        .map(|i| {
            let spec = Spec {
                kind: DataSet::Text,
                size: args.size,
                seed: args.seed + i as u64,
            };
            Ok(ensure_data(&paths.target.join("bench-data"), &spec)?.input)
        })
        .collect::<Result<_>>()?;

    let data = work.join("data");
    let mut server = Server::start(&sandmill, &data, args.slots, &work.join("serve.log"))?;
    eprintln!("sandmill serve is listening on {}", server.url);
    let outcome = match bench(args, &sandmill, &plugin, &inputs, &work, &mut server) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!(
                "sandmill-bench serve: kept the server's log {} and data directory {}",
                server.log.display(),
                data.display()
            );
            return Err(err);
        }
    };

    let title = format!(
        "sandmill serve under load: {} jobs ({} on {} per tenant) from {} tenants with \
         --max-running 4, {} slots, {} polling threads; {}",
        args.jobs,
        plugin.file_name().unwrap_or_default().to_string_lossy(),
        human(args.size),
        args.tenants,
        args.slots,
        args.pollers,
        sandmill.display()
    );
    let join = |f: fn(&Table) -> String| outcome.tables.iter().map(f).collect::<Vec<_>>();
    println!("{title}\n\n{}", join(Table::to_text).join("\n"));
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| paths.target.join("bench-serve.md"));
    let markdown = join(Table::to_markdown).join("\n");
    fs::write(&report, format!("## {title}\n\n{markdown}"))
        .with_context(|| format!("writing {}", report.display()))?;
    eprintln!("report written to {}", report.display());
    for problem in &outcome.problems {
        eprintln!("sandmill-bench serve: {problem}");
    }
    if outcome.problems.is_empty() && !args.keep {
        let _ = fs::remove_dir_all(&work);
    } else {
        eprintln!(
            "sandmill-bench serve: kept {} (the server's data and log)",
            work.display()
        );
    }
    Ok(outcome.problems.is_empty())
}

/// What a finished benchmark found: its tables, and every check that failed.
struct Outcome {
    tables: Vec<Table>,
    problems: Vec<String>,
}

/// What the client saw: the idle baseline, the submissions and the load.
struct Measured {
    /// Status requests with the server idle.
    idle: Vec<Sample>,
    /// The latency of each submission.
    submits: Vec<Duration>,
    /// From the first submission to the last one's answer.
    submitting: Duration,
    /// Every request under load, timed from the first submission.
    load: Vec<Sample>,
    /// Every job as it finished, in submission order (job `k` wrote `out-k`).
    finishes: Vec<Finish>,
}

/// Everything between starting the server and the report.
fn bench(
    args: &ServeArgs,
    sandmill: &Path,
    plugin: &Path,
    inputs: &[PathBuf],
    work: &Path,
    server: &mut Server,
) -> Result<Outcome> {
    let api = Api::new(&server.url);
    let tenants = add_tenants(&api, sandmill, &server.data, plugin, inputs)?;
    let flags = vec![format!("--reducers={}", args.reducers)];
    let measured = measure(args, &api, &tenants, &flags)?;

    let mut problems = Vec::new();
    let failed: Vec<String> = measured
        .finishes
        .iter()
        .filter(|f| f.state != "succeeded")
        .map(|f| {
            format!(
                "job {} of {} {}: {} (its log: GET /v1/jobs/{}/logs)",
                f.id,
                tenants[f.tenant].name,
                f.state,
                f.error.as_deref().unwrap_or("no error given"),
                f.id
            )
        })
        .collect();
    problems.extend(first_few(failed, "jobs did not succeed"));
    if let Some(slowest) = measured.load.iter().map(|s| s.latency).max()
        && slowest >= TARGET
    {
        problems.push(format!(
            "an answer under load took {:.0} ms, not under the {:.0} ms target",
            slowest.as_secs_f64() * 1e3,
            TARGET.as_secs_f64() * 1e3
        ));
    }

    // Every output against a local run of the same job on the same input. A local run that
    // fails is a problem like a job that fails, and leaves its tenant's outputs unchecked.
    let cache = work.join("compile-cache");
    let mut references = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let out = work.join(format!("reference-t{}", i + 1));
        match outputs::local_run(sandmill, plugin, input, &out, &cache, args.reducers) {
            Ok(parts) => references.push(Some(parts)),
            Err(err) => {
                problems.push(format!("{err:#}"));
                references.push(None);
            }
        }
    }
    let mut identical = 0;
    let mut differ = Vec::new();
    for (k, f) in measured.finishes.iter().enumerate() {
        let Some(reference) = &references[f.tenant] else {
            continue;
        };
        if f.state != "succeeded" {
            continue;
        }
        let tenant = &tenants[f.tenant];
        let got = outputs::server_parts(&api, &tenant.token, &format!("out-{k}"))?;
        match outputs::compare_parts(reference, &got) {
            None => identical += 1,
            Some(why) => differ.push(format!(
                "job {} (out-{k} of {}) differs from a local `sandmill run`: {why}",
                f.id, tenant.name
            )),
        }
    }
    problems.extend(first_few(differ, "outputs differ"));

    let status = server.terminate(STOP_PATIENCE)?;
    if !status.success() {
        problems.push(format!(
            "the server exited with {status} on SIGTERM, not 0; its log is {}",
            server.log.display()
        ));
    }
    let exit = status
        .code()
        .map_or_else(|| status.to_string(), |c| c.to_string());
    let tables = report::tables(&measured, &tenants, identical, &exit, TARGET);
    Ok(Outcome { tables, problems })
}

/// The first five of `lines`, and a line saying how many more `what` if there are.
fn first_few(mut lines: Vec<String>, what: &str) -> Vec<String> {
    const FEW: usize = 5;
    if lines.len() > FEW {
        let more = lines.len() - FEW;
        lines.truncate(FEW);
        lines.push(format!("and {more} more {what}"));
    }
    lines
}

/// Adds a tenant per input (`t1`, `t2`, ...), each with its copy of the plugin and its input
/// as upload `text`.
fn add_tenants(
    api: &Api,
    sandmill: &Path,
    data: &Path,
    plugin: &Path,
    inputs: &[PathBuf],
) -> Result<Vec<Tenant>> {
    let wasm = fs::read(plugin).with_context(|| format!("reading {}", plugin.display()))?;
    let mut tenants = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let name = format!("t{}", i + 1);
        let token = add_tenant(sandmill, data, &name)?;
        let sha = api
            .send("POST", &token, "/v1/plugins", "application/wasm", &wasm)?
            .expect(&[200, 201], &format!("uploading {}", plugin.display()))?
            .json()["sha256"]
            .as_str()
            .context("the plugin's answer has no sha256")?
            .to_owned();
        put_dir(api, &token, "text", input)?;
        tenants.push(Tenant { name, token, sha });
    }
    Ok(tenants)
}

/// The idle baseline on a finished warm-up job, then the load: every submission as fast as one
/// client can, then polling until every job has finished.
fn measure(args: &ServeArgs, api: &Api, tenants: &[Tenant], flags: &[String]) -> Result<Measured> {
    let timeout = Duration::from_secs(args.timeout);
    let (warmup, _) = submit(api, &tenants[0], "warmup", flags)?;
    let job = wait_finished(api, &tenants[0].token, &warmup, Instant::now() + timeout)?;
    if job["state"] != "succeeded" {
        bail!(
            "the warm-up job {warmup} {}: {}",
            job["state"].as_str().unwrap_or("did not succeed"),
            job["error"].as_str().unwrap_or("no error given")
        );
    }
    let only_warmup = Tracker::new(
        vec![Target {
            id: warmup,
            tenant: 0,
        }],
        Instant::now(),
    );
    let each = Until::Requests(args.idle_requests.div_ceil(args.pollers));
    let idle = poll_all(api, tenants, &only_warmup, each, args.pollers, args.seed)?;
    eprintln!("idle baseline: {} status requests", idle.len());

    let start = Instant::now();
    let mut submits = Vec::new();
    let mut targets = Vec::new();
    for k in 0..args.jobs {
        let tenant = k % tenants.len();
        let sent = Instant::now();
        let (id, _) = submit(api, &tenants[tenant], &format!("out-{k}"), flags)?;
        submits.push(sent.elapsed());
        targets.push(Target { id, tenant });
    }
    let submitting = start.elapsed();
    eprintln!(
        "submitted {} jobs in {:.2}s; polling until they have finished",
        args.jobs,
        submitting.as_secs_f64()
    );
    let tracker = Tracker::new(targets, start);
    let until = Until::AllFinished(start + timeout);
    let load = poll_all(api, tenants, &tracker, until, args.pollers, args.seed)?;
    Ok(Measured {
        idle,
        submits,
        submitting,
        load,
        finishes: tracker.finishes(),
    })
}

/// A tenant as the benchmark uses it.
struct Tenant {
    name: String,
    token: String,
    /// The SHA-256 of its copy of the plugin.
    sha: String,
}

/// `sandmill tenant add NAME --data-dir DATA`: its token.
fn add_tenant(sandmill: &Path, data: &Path, name: &str) -> Result<String> {
    let out = Command::new(sandmill)
        .args(["tenant", "add", name, "--data-dir"])
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} tenant add", sandmill.display()))?;
    if !out.status.success() {
        bail!(
            "sandmill tenant add {name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let token = String::from_utf8(out.stdout)
        .context("sandmill tenant add printed a token that is not UTF-8")?;
    Ok(token.trim().to_owned())
}

/// Uploads the files of `dir` as the tenant's upload `name`.
fn put_dir(api: &Api, token: &str, name: &str, dir: &Path) -> Result<()> {
    let staging = api
        .send(
            "POST",
            token,
            &format!("/v1/uploads/{name}/staging"),
            "application/json",
            b"{}",
        )?
        .expect(&[201], "starting an upload")?
        .json()["staging"]
        .as_str()
        .context("the staging answer has no id")?
        .to_owned();
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.sort();
    for file in &files {
        let file_name = file.file_name().context("a file name")?.to_string_lossy();
        let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let path = format!("/v1/uploads/{name}/staging/{staging}/{file_name}");
        api.send("PUT", token, &path, "application/octet-stream", &bytes)?
            .expect(&[204], &format!("uploading {}", file.display()))?;
    }
    let commit = format!("/v1/uploads/{name}/staging/{staging}/commit");
    api.send("POST", token, &commit, "application/json", b"{}")?
        .expect(&[200], "committing an upload")?;
    Ok(())
}

/// Submits the tenant's plugin on its upload `text` to `output`: the job's id and the answer.
fn submit(api: &Api, tenant: &Tenant, output: &str, flags: &[String]) -> Result<(String, Value)> {
    let body = json!({
        "plugin": tenant.sha,
        "inputs": ["text"],
        "output": output,
        "flags": flags,
    });
    let job = api
        .send(
            "POST",
            &tenant.token,
            "/v1/jobs",
            "application/json",
            body.to_string().as_bytes(),
        )?
        .expect(
            &[201],
            &format!("submitting a job of {} to {output}", tenant.name),
        )?
        .json();
    let id = job["id"].as_str().context("the job has no id")?.to_owned();
    Ok((id, job))
}

/// Whether a job in `state` has finished.
fn finished(state: &str) -> bool {
    ["succeeded", "failed", "cancelled"].contains(&state)
}

/// Polls job `id` until it has finished; the job.
fn wait_finished(api: &Api, token: &str, id: &str, deadline: Instant) -> Result<Value> {
    loop {
        let job = api
            .get(token, &format!("/v1/jobs/{id}"))?
            .expect(&[200], &format!("the status of job {id}"))?
            .json();
        if finished(job["state"].as_str().unwrap_or("")) {
            return Ok(job);
        }
        if Instant::now() > deadline {
            bail!("job {id} has not finished in time (see --timeout): {job:#}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_few_says_how_many_more() {
        let lines = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(first_few(lines(5), "x"), lines(5));
        let mut want = lines(5);
        want.push("and 2 more jobs failed".to_owned());
        assert_eq!(first_few(lines(7), "jobs failed"), want);
    }
}
