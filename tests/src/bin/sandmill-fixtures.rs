//! Sample data and plugin paths for the demo (`scripts/demo.sh`) and for trying things by hand.
//!
//! ```text
//! sandmill-fixtures gen text|documents|events DIR [--bytes SIZE] [--seed N]
//! sandmill-fixtures plugin wordcount|inverted-index|revenue-by-user|fail-on-record
//! ```

use sandmill_tests::{generate, plugins};
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage:\n  sandmill-fixtures gen text|documents|events DIR [--bytes SIZE] [--seed N]\n  \
                     sandmill-fixtures plugin wordcount|inverted-index|revenue-by-user|fail-on-record";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, name] if cmd == "plugin" => {
            let path = match name.as_str() {
                "wordcount" => plugins::WORDCOUNT,
                "inverted-index" => plugins::INVERTED_INDEX,
                "revenue-by-user" => plugins::REVENUE_BY_USER,
                "fail-on-record" => plugins::FAIL_ON_RECORD,
                other => return Err(format!("no plugin named {other:?}")),
            };
            println!("{path}");
            Ok(())
        }
        [cmd, kind, dir, rest @ ..] if cmd == "gen" => {
            let (mut bytes, mut seed) = (20usize << 20, 1u64);
            let mut flags = rest.iter();
            while let Some(flag) = flags.next() {
                let value = flags
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--bytes" => bytes = parse_size(value)?,
                    "--seed" => seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
                    other => return Err(format!("unknown flag {other}")),
                }
            }
            let dir = Path::new(dir);
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let files = match kind.as_str() {
                "text" => generate::text(dir, seed, bytes),
                "documents" => generate::documents(dir, seed, bytes),
                "events" => {
                    let events = generate::events(dir, seed, bytes);
                    events.jsonl.into_iter().chain(events.csv).collect()
                }
                other => return Err(format!("no generator named {other:?}")),
            };
            eprintln!("wrote {} files to {}", files.len(), dir.display());
            Ok(())
        }
        _ => Err("unknown command".into()),
    }
}

/// `4096`, `512KiB`, `20MiB`, `1GiB`.
fn parse_size(s: &str) -> Result<usize, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: usize = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 20MiB"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        other => return Err(format!("unknown unit {other:?}")),
    };
    Ok(n << shift)
}
