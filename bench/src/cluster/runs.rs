//! One measured run of the job in one of the three settings, and its output read back.
//!
//! ```text
//! Local     sandmill run on local files, outside the cluster        CPU: wait4 of sandmill
//! LocalS3   sandmill run, s3:// input and output, in the namespace  CPU: wait4 of sandmill
//! Ray       sandmill run --executor ray, s3:// in and out           CPU: wait4 of sandmill
//!                                                                        + the namespace's
//! ```
//!
//! Every run also records what the namespace's processes (Ray's daemons and workers, SeaweedFS)
//! spent meanwhile. Which runs to make and what to compare is the caller's.

use super::script::{Cluster, tail};
use anyhow::{Context, Result, bail};
use sandmill_bench::measure;
use sandmill_bench::output::{Parts, read_parts};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where the job runs and where its data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The local executor on local files: the baseline.
    Local,
    /// The local executor with `s3://` input and output.
    LocalS3,
    /// `--executor ray` on the cluster, `s3://` input and output.
    Ray,
}

impl Setting {
    /// Every setting, in the order each round runs them.
    pub const ALL: [Setting; 3] = [Setting::Local, Setting::LocalS3, Setting::Ray];

    /// A short name, for file names and datasets.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Local => "local",
            Setting::LocalS3 => "local-s3",
            Setting::Ray => "ray",
        }
    }

    /// How the report describes it.
    pub fn label(self, workers: u32) -> String {
        match self {
            Setting::Local => "local executor, local files".into(),
            Setting::LocalS3 => "local executor, s3:// in and out".into(),
            Setting::Ray => format!(
                "--executor ray, {workers} worker node{}",
                if workers == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The job and the flags every run of it gets.
pub struct Job<'a> {
    /// The plugin.
    pub plugin: &'a Path,
    /// `--format`.
    pub format: &'a str,
    /// The local input directory (the baseline's `--input`).
    pub input: &'a Path,
    /// Where the input was uploaded, for the runs on object storage.
    pub s3_input: &'a str,
    /// Flags for every run: `--reducers`, `--split-size`, `--threads`, ...
    pub flags: &'a [String],
}

/// What one run cost and where its output is.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Wall time of `sandmill run`.
    pub wall: Duration,
    /// Its CPU time (wait4); for a Ray run plus the namespace's during the run.
    pub cpu: Duration,
    /// CPU time of the namespace's processes during the run (for a local run, what the idle
    /// cluster cost meanwhile).
    pub cluster_cpu: Duration,
    /// Bytes read and written on object storage (the job's summary); `None` for local files.
    pub traffic: Option<Traffic>,
    /// How many CPUs, on average, processes other than this run's and the cluster's kept busy
    /// during the run (`/proc/stat`); `None` where that cannot be read.
    pub other_load: Option<f64>,
}

/// Object-store traffic of one job, from `--summary-json`'s `object_storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Traffic {
    /// Bytes read (GET bodies).
    pub read: u64,
    /// Bytes written (PUT bodies).
    pub written: u64,
}

/// Runs the job once in `setting` (run number `n`, which names its output) with logs in
/// `dir`, and reads its part files back (downloading them for an `s3://` output).
///
/// # Errors
/// If the run fails (with the end of its stderr), reports no work done, or its output cannot
/// be read.
pub fn run(
    sandmill: &Path,
    cluster: &Cluster,
    job: &Job<'_>,
    setting: Setting,
    n: usize,
    dir: &Path,
) -> Result<(Sample, Parts)> {
    let name = format!("{}-{n}", setting.name());
    let summary = dir.join(format!("{name}.summary.json"));
    let local_out = dir.join(format!("{name}.out"));
    let dataset = format!("s3://sandmill/out/{name}");
    let (input, output) = match setting {
        Setting::Local => (
            job.input.display().to_string(),
            local_out.display().to_string(),
        ),
        Setting::LocalS3 | Setting::Ray => (job.s3_input.to_owned(), dataset.clone()),
    };
    let mut args: Vec<String> = vec![
        "run".into(),
        job.plugin.display().to_string(),
        "--input".into(),
        input,
        "--output".into(),
        output,
        "--format".into(),
        job.format.into(),
        "--summary-json".into(),
        summary.display().to_string(),
    ];
    args.extend(job.flags.iter().cloned());
    if setting == Setting::Ray {
        args.extend(["--executor".into(), "ray".into()]);
    }
    let mut cmd = match setting {
        Setting::Local => {
            let mut cmd = Command::new(sandmill);
            cmd.args(&args).stdin(Stdio::null());
            cmd
        }
        Setting::LocalS3 | Setting::Ray => cluster.sandmill(&args),
    };
    let log = dir.join(format!("{name}.log"));
    cmd.stdout(fs::File::create(dir.join(format!("{name}.stdout")))?)
        .stderr(fs::File::create(&log)?);
    let before = cluster.cpu()?;
    let m = measure::run(&mut cmd).with_context(|| format!("starting {}", sandmill.display()))?;
    let cluster_cpu = cluster.cpu()?.saturating_sub(before);
    if !m.status.success() {
        bail!(
            "the {name} run failed ({}):\n  command: sandmill {}\n  the end of {}:\n{}",
            m.status,
            args.join(" "),
            log.display(),
            tail(&log, 20)
        );
    }
    let traffic = read_summary(&summary)?;
    let sample = Sample {
        wall: m.wall,
        cpu: m.cpu()
            + match setting {
                Setting::Ray => cluster_cpu,
                Setting::Local | Setting::LocalS3 => Duration::ZERO,
            },
        cluster_cpu,
        traffic,
        other_load: m.others.map(|others| {
            others.saturating_sub(cluster_cpu).as_secs_f64() / m.wall.as_secs_f64().max(1e-9)
        }),
    };
    let parts = match setting {
        Setting::Local => read_parts(&local_out),
        Setting::LocalS3 | Setting::Ray => {
            let to = dir.join(format!("{name}.got"));
            download(cluster, &dataset, &to, dir)?;
            read_parts(&to)
        }
    }
    .with_context(|| format!("reading the output of the {name} run"))?;
    Ok((sample, parts))
}

/// The object-store traffic in a `--summary-json` file.
fn read_summary(path: &Path) -> Result<Option<Traffic>> {
    let text = fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (does this sandmill have --summary-json?)",
            path.display()
        )
    })?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if summary["unchanged"].as_bool() == Some(true) {
        bail!(
            "{}: the job published nothing (its output was unchanged), so it measured nothing",
            path.display()
        );
    }
    serde_json::from_value(summary["object_storage"].clone()).with_context(|| {
        format!(
            "{}: object_storage is not {{\"read\": N, \"written\": N}} or null",
            path.display()
        )
    })
}

/// `sandmill get DATASET --to TO` inside the namespace.
fn download(cluster: &Cluster, dataset: &str, to: &Path, dir: &Path) -> Result<()> {
    let log = dir.join("get.log");
    let args = [
        "get".to_owned(),
        dataset.to_owned(),
        "--to".to_owned(),
        to.display().to_string(),
    ];
    let status = cluster
        .sandmill(&args)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log)?)
        .status()
        .context("running sandmill get")?;
    if !status.success() {
        bail!(
            "sandmill get {dataset} failed ({status}):\n{}",
            tail(&log, 10)
        );
    }
    Ok(())
}

/// `sandmill put DIR --as PREFIX` inside the namespace; its wall time.
///
/// # Errors
/// If the upload fails.
pub fn upload(cluster: &Cluster, dir: &Path, prefix: &str, log: &Path) -> Result<Duration> {
    let args = [
        "put".to_owned(),
        dir.display().to_string(),
        "--as".to_owned(),
        prefix.to_owned(),
    ];
    let m = measure::run(
        cluster
            .sandmill(&args)
            .stdout(Stdio::null())
            .stderr(fs::File::create(log)?),
    )
    .context("running sandmill put")?;
    if !m.status.success() {
        bail!(
            "sandmill put {} --as {prefix} failed ({}):\n{}",
            dir.display(),
            m.status,
            tail(log, 10)
        );
    }
    Ok(m.wall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_traffic_of_a_summary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(
            &path,
            r#"{"unchanged": false, "object_storage": {"read": 10, "written": 3}}"#,
        )
        .unwrap();
        assert_eq!(
            read_summary(&path).unwrap(),
            Some(Traffic {
                read: 10,
                written: 3
            })
        );
        fs::write(&path, r#"{"unchanged": false, "object_storage": null}"#).unwrap();
        assert_eq!(read_summary(&path).unwrap(), None);
        fs::write(&path, r#"{"unchanged": true, "object_storage": null}"#).unwrap();
        let err = read_summary(&path).unwrap_err();
        assert!(format!("{err:#}").contains("unchanged"), "{err:#}");
        fs::write(&path, r#"{"object_storage": {"read": "x"}}"#).unwrap();
        assert!(read_summary(&path).is_err());
    }
}
