//! `sandmill-bench skew`: issue 3's skewed word count (90 % of the records one key, `hot`) with
//! and without `--hot-key hot --salt N`, taking turns; checks the two outputs are byte for byte
//! the same and reports each one's best wall time and CPU, and salted over unsalted as ratios
//! measured in the same run.

use anyhow::{Context, Result, bail};
use sandmill_bench::measure::{self, Measurement};
use sandmill_bench::output::{compare_parts, read_parts};
use sandmill_bench::report::Table;
use sandmill_bench::size::{human, parse_size, size_name};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, clap::Args)]
pub struct SkewArgs {
    /// Input size (bytes, or with a unit: 64MiB).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    size: u64,
    /// Worker threads (`sandmill run --threads`).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Reduce tasks.
    #[arg(long, default_value_t = 4)]
    reducers: u32,
    /// Combine tasks the hot key is spread over (`--salt`).
    #[arg(long, default_value_t = 4)]
    salt: u32,
    /// `--split-size` of both runs: smaller splits give the hot key more partials to merge.
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    split_size: u64,
    /// Runs of each side; the best wall time is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Don't build: use the binary and plugin already in the target directory.
    #[arg(long)]
    no_build: bool,
}

/// Writes the skewed input (`size` bytes, about) to `path`, unless it is there.
fn ensure_input(path: &Path, size: u64) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().context("input has a parent")?)?;
    let partial = path.with_extension("partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    let (mut written, mut i) = (0u64, 0u64);
    while written < size {
        let line = match i % 10 {
            0 => format!("k{}\n", i % 1000),
            _ => "hot\n".to_owned(),
        };
        file.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

pub fn run(args: &SkewArgs) -> Result<bool> {
    let paths = super::Paths::find()?;
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if !args.no_build {
        super::cargo_build(
            &paths,
            &[
                "build",
                "--release",
                "-p",
                "sandmill-runtime",
                "--bin",
                "sandmill",
            ],
        )?;
        super::build_plugins(&paths)?;
    }
    let input = paths.target.join(format!(
        "bench-data/skew-{}/input/in.txt",
        size_name(args.size)
    ));
    ensure_input(&input, args.size)?;
    let plugin = paths.plugins.join("wordcount.wasm");
    let work = tempfile_dir(&paths.target)?;
    let salt = args.salt.to_string();
    let sides: [(&str, Vec<&str>); 2] = [
        ("unsalted", Vec::new()),
        ("salted", vec!["--hot-key", "hot", "--salt", &salt]),
    ];
    let mut best: Vec<Option<Measurement>> = vec![None; sides.len()];
    let mut outputs = Vec::new();
    for round in 0..args.repeat {
        for (i, (name, extra)) in sides.iter().enumerate() {
            let out = work.join(name);
            let mut command = Command::new(&paths.sandmill);
            command
                .arg("run")
                .arg(&plugin)
                .arg("--input")
                .arg(&input)
                .arg("--output")
                .arg(&out)
                .args(["--threads", &args.threads.to_string()])
                .args(["--reducers", &args.reducers.to_string()])
                .args(["--split-size", &args.split_size.to_string()])
                .args(["--force", "--keep", "1", "--quiet", "--no-compile-cache"])
                .args(extra)
                .stdout(Stdio::null());
            let m = measure::run(&mut command).context("running sandmill")?;
            if !m.status.success() {
                bail!("sandmill run ({name}) failed: {}", m.status);
            }
            eprintln!("{name} run {}: {:.2}s", round + 1, m.wall.as_secs_f64());
            if best[i].is_none_or(|b| m.wall < b.wall) {
                best[i] = Some(m);
            }
            if round == 0 {
                outputs.push(read_parts(&out).context("reading the output")?);
            }
        }
    }
    let same = compare_parts(&outputs[0], &outputs[1]);
    let mut table = Table::new(["run", "best wall (s)", "CPU (s)", "wall ratio", "CPU ratio"]);
    let base = best[0].expect("measured");
    for ((name, _), m) in sides.iter().zip(&best) {
        let m = m.expect("measured");
        let cpu = |m: &Measurement| (m.user + m.sys).as_secs_f64();
        table.row([
            name.to_string(),
            format!("{:.2}", m.wall.as_secs_f64()),
            format!("{:.2}", cpu(&m)),
            format!("{:.2}", m.wall.as_secs_f64() / base.wall.as_secs_f64()),
            format!("{:.2}", cpu(&m) / cpu(&base)),
        ]);
    }
    println!(
        "skewed word count: {} of input, 90% one key; --reducers {}, --threads {}, --split-size \
         {}, --salt {}; best of {}",
        human(args.size),
        args.reducers,
        args.threads,
        human(args.split_size),
        args.salt,
        args.repeat
    );
    print!("{}", table.to_text());
    let _ = std::fs::remove_dir_all(&work);
    match same {
        None => {
            println!("outputs: identical, byte for byte");
            Ok(true)
        }
        Some(diff) => {
            println!("outputs differ: {diff}");
            Ok(false)
        }
    }
}

/// A fresh scratch directory under the target directory.
fn tempfile_dir(target: &Path) -> Result<PathBuf> {
    let dir = target.join(format!("bench-skew-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
