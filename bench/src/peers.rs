//! The example jobs run by other engines users would pick instead, DuckDB and Polars, as
//! `sandmill-bench run --peers duckdb,polars` measures them: which engines, the Python venv
//! they come from (`scripts/setup-pydata.sh`, pinned versions from PyPI) and the command line
//! of one run of `bench/peers/<engine>_job.py`.
//!
//! The scripts read the same generated files with the engine's own readers and write the lines
//! `sandmill-native` writes (see `bench/peers/common.py`), so the benchmark compares their
//! output with the native one as it does Sandmill's, and times them as child processes the
//! same way.

use crate::native::{Format, Job};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An engine the example jobs are also run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// DuckDB: SQL over `read_text`, `read_json`, `read_csv`, `read_parquet`.
    DuckDb,
    /// Polars: lazy queries over `scan_lines`, `scan_ndjson`, `scan_csv`, `scan_parquet`.
    Polars,
}

impl Engine {
    /// Every engine, in report order.
    pub const ALL: [Engine; 2] = [Engine::DuckDb, Engine::Polars];

    /// The name `--peers` takes, also used for output directories and logs.
    pub fn name(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb",
            Engine::Polars => "polars",
        }
    }

    /// The script, in `bench/peers/`.
    pub fn script(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb_job.py",
            Engine::Polars => "polars_job.py",
        }
    }

    /// The Python module whose version the report names.
    fn module(self) -> &'static str {
        self.name()
    }
}

/// The engines `--peers` names: a comma-separated list of `duckdb` and `polars` (each at most
/// once; clap has split it at the commas), or `none` alone for none.
///
/// # Errors
/// An unknown or repeated name, or `none` beside another name.
pub fn parse_peers<S: AsRef<str>>(names: &[S]) -> Result<Vec<Engine>, String> {
    let names: Vec<&str> = names
        .iter()
        .map(|n| n.as_ref().trim())
        .filter(|n| !n.is_empty())
        .collect();
    if names == ["none"] {
        return Ok(Vec::new());
    }
    let mut engines = Vec::new();
    for name in names {
        let Some(engine) = Engine::ALL.into_iter().find(|e| e.name() == name) else {
            return Err(format!(
                "unknown peer {name:?}: --peers takes duckdb, polars (comma-separated) or none"
            ));
        };
        if engines.contains(&engine) {
            return Err(format!("--peers names {name} twice"));
        }
        engines.push(engine);
    }
    Ok(engines)
}

/// The venv's path from what `scripts/setup-pydata.sh` printed: its last non-empty line.
pub fn venv_from_setup_output(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(PathBuf::from)
}

/// Runs `scripts/setup-pydata.sh` of `workspace` (it installs pyarrow, DuckDB and Polars at
/// pinned versions into a venv, or finds them there, and honours `SANDMILL_PYDATA_VENV`) and
/// returns the venv. Its messages go to this process's stderr.
///
/// # Errors
/// If the script fails or prints no venv with a Python in it.
pub fn setup_venv(workspace: &Path) -> Result<PathBuf> {
    let script = workspace.join("scripts/setup-pydata.sh");
    let out = Command::new(&script)
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}); fix it or pass --peers none",
            script.display(),
            out.status
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let venv = venv_from_setup_output(&stdout)
        .with_context(|| format!("{} printed no venv path", script.display()))?;
    if !python(&venv).is_file() {
        bail!(
            "{} printed {}, which has no bin/python",
            script.display(),
            venv.display()
        );
    }
    Ok(venv)
}

/// The venv's Python.
pub fn python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

/// `DuckDB 2.0.1, Polars 2.1.0` (the engines' versions in `venv`), for the report.
///
/// # Errors
/// If the venv's Python cannot import them.
pub fn versions(venv: &Path, engines: &[Engine]) -> Result<String> {
    let mut code = String::from("import importlib.metadata as m\n");
    for e in engines {
        code += &format!("print('{}', m.version('{}'))\n", label(*e), e.module());
    }
    let out = Command::new(python(venv))
        .args(["-c", &code])
        .output()
        .with_context(|| format!("running {}", python(venv).display()))?;
    if !out.status.success() {
        bail!(
            "the venv {} lacks an engine: {}",
            venv.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .collect::<Vec<_>>()
        .join(", "))
}

/// The engine as the report names it.
pub fn label(engine: Engine) -> &'static str {
    match engine {
        Engine::DuckDb => "DuckDB",
        Engine::Polars => "Polars",
    }
}

/// The output file's name inside the run's output directory, so that the directory reads back
/// like a Sandmill output (`part-*` lines, or `part-*.parquet`).
pub fn output_file_name(parquet_output: bool) -> &'static str {
    if parquet_output {
        "part-00000.parquet"
    } else {
        "part-00000"
    }
}

/// One run of a peer: the job and how it reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct PeerRun<'a> {
    /// Which engine.
    pub engine: Engine,
    /// The example job.
    pub job: Job,
    /// The input's format (as `sandmill run --format`).
    pub format: Format,
    /// Whether to write Parquet (revenue-by-user-parquet) instead of lines.
    pub parquet_output: bool,
    /// The input directory.
    pub input: &'a Path,
    /// The output directory; the script writes [`output_file_name`] in it, which must exist.
    pub output: &'a Path,
    /// The engine's thread limit.
    pub threads: usize,
}

/// The command line of `run`: `python bench/peers/<engine>_job.py JOB --input … --output …
/// --threads N --format F [--output-format parquet]`, with the venv's Python.
pub fn command_line(venv: &Path, scripts: &Path, run: &PeerRun<'_>) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    let mut argv = vec![
        s(&python(venv)),
        s(&scripts.join(run.engine.script())),
        run.job.name().into(),
        "--input".into(),
        s(run.input),
        "--output".into(),
        s(&run.output.join(output_file_name(run.parquet_output))),
        "--threads".into(),
        run.threads.to_string(),
        "--format".into(),
        run.format.name().into(),
    ];
    if run.parquet_output {
        argv.extend(["--output-format".into(), "parquet".into()]);
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_named_once_each_or_none() {
        assert_eq!(
            parse_peers(&["duckdb", "polars"]),
            Ok(vec![Engine::DuckDb, Engine::Polars])
        );
        assert_eq!(parse_peers(&[" polars "]), Ok(vec![Engine::Polars]));
        assert_eq!(parse_peers(&["none"]), Ok(vec![]));
        assert!(
            parse_peers(&["duckdb", "duckdb"])
                .unwrap_err()
                .contains("twice")
        );
        let err = parse_peers(&["spark"]).unwrap_err();
        assert!(err.contains("\"spark\"") && err.contains("none"), "{err}");
        assert!(parse_peers(&["none", "duckdb"]).is_err());
    }

    #[test]
    fn the_venv_is_the_setup_scripts_last_line() {
        assert_eq!(
            venv_from_setup_output("pydata: installing\n/x/target/pydata-venv\n\n"),
            Some(PathBuf::from("/x/target/pydata-venv"))
        );
        assert_eq!(venv_from_setup_output(" \n"), None);
    }

    #[test]
    fn command_lines_name_the_job_its_format_and_output_file() {
        let run = PeerRun {
            engine: Engine::Polars,
            job: Job::RevenueByUser,
            format: Format::Csv,
            parquet_output: false,
            input: Path::new("/d/in"),
            output: Path::new("/o/polars"),
            threads: 2,
        };
        let argv = command_line(Path::new("/v"), Path::new("/b/peers"), &run);
        assert_eq!(
            argv,
            [
                "/v/bin/python",
                "/b/peers/polars_job.py",
                "revenue-by-user",
                "--input",
                "/d/in",
                "--output",
                "/o/polars/part-00000",
                "--threads",
                "2",
                "--format",
                "csv"
            ]
        );
        let parquet = PeerRun {
            engine: Engine::DuckDb,
            format: Format::Jsonl,
            parquet_output: true,
            ..run
        };
        let argv = command_line(Path::new("/v"), Path::new("/b/peers"), &parquet);
        assert_eq!(argv[1], "/b/peers/duckdb_job.py");
        assert_eq!(argv[6], "/o/polars/part-00000.parquet");
        assert_eq!(
            argv[9..],
            ["--format", "jsonl", "--output-format", "parquet"]
        );
    }
}
