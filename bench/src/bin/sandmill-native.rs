//! `sandmill-native`: the example jobs in native Rust, the baseline `sandmill-bench` measures
//! Sandmill against. Same input rules and output lines as the plugins; one sorted part file.
//!
//! ```text
//! sandmill-native wordcount --input data/ --output out --threads 2
//! sandmill-native revenue-by-user --input events/ --output out --format csv
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use sandmill_bench::native::{self, Format, Job, Options};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs one of Sandmill's example jobs natively (rayon, a hash map per thread, then merge).
#[derive(Debug, Parser)]
#[command(name = "sandmill-native", max_term_width = 100)]
struct Args {
    /// The job: wordcount, inverted-index or revenue-by-user.
    job: String,

    /// Input files or directories (read recursively, skipping names starting with . or _).
    #[arg(short, long, required = true, num_args = 1.., value_name = "PATH")]
    input: Vec<PathBuf>,

    /// The output directory (gets part-00000 and _SUCCESS). It must not exist, unless
    /// --overwrite is given.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,

    /// How records are cut from the input: lines, jsonl or csv.
    #[arg(long, default_value = "lines")]
    format: String,

    /// Worker threads [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    threads: Option<usize>,

    /// Input chunk size per task (bytes, or with a unit: 512KiB, 4MiB).
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = sandmill_bench::size::parse_size)]
    chunk_size: u64,

    /// Replace the output directory if it exists.
    #[arg(long)]
    overwrite: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sandmill-native: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let job = Job::from_name(&args.job).with_context(|| {
        format!(
            "unknown job {:?} (known: wordcount, inverted-index, revenue-by-user)",
            args.job
        )
    })?;
    let format = Format::from_name(&args.format)
        .with_context(|| format!("unknown format {:?} (lines, jsonl or csv)", args.format))?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    native::run(&Options {
        job,
        format,
        inputs: args.input,
        output: args.output,
        overwrite: args.overwrite,
        threads,
        chunk_size: args.chunk_size,
    })?;
    Ok(())
}
