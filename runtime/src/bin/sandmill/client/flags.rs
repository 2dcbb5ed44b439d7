//! The `sandmill run` flags of a `sandmill submit` command line, as the strings the service
//! parses again with the same parser: only the flags given on the command line, so that the
//! server's defaults apply to the rest.

use super::http::ClientError;
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// Arguments of `submit` that are not run flags: sent in fields of their own, or used here.
const NOT_FLAGS: [&str; 6] = [
    "plugin",
    "input",
    "output",
    "server",
    "token",
    "idempotency_key",
];

/// Run flags the service decides itself (`docs/service.md`), refused before anything is sent.
const DECIDED_BY_SERVICE: [&str; 9] = [
    "executor",
    "threads",
    "temp_dir",
    "compile_cache",
    "no_compile_cache",
    "summary_json",
    "dry_run",
    "quiet",
    "overwrite",
];

/// The run flags of the `submit` subcommand of `cli` as `matches` (the whole command line's)
/// holds them: `--long=VALUE` per value given, `--long` for a flag without one, in the order of
/// `RunArgs`. A bare `--verify` is sent as `--verify=1.0`, the value it stands for.
///
/// # Errors
/// A usage error for a flag the service decides, or a value that is not UTF-8.
pub fn given(cli: &Command, matches: &ArgMatches) -> Result<Vec<String>, ClientError> {
    let (Some(submit), Some(matches)) = (
        cli.find_subcommand("submit"),
        matches.subcommand_matches("submit"),
    ) else {
        return Err(ClientError::Config(
            "internal: not a `sandmill submit` command line (a bug in Sandmill)".into(),
        ));
    };
    let mut flags = Vec::new();
    for arg in submit.get_arguments() {
        let id = arg.get_id().as_str();
        if NOT_FLAGS.contains(&id) || matches.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let long = arg.get_long().unwrap_or(id);
        if DECIDED_BY_SERVICE.contains(&id) {
            return Err(ClientError::Config(format!(
                "--{long} is decided by the job service; leave it out of `sandmill submit`"
            )));
        }
        if !arg.get_action().takes_values() {
            flags.push(format!("--{long}"));
            continue;
        }
        let values = matches.get_raw(id).into_iter().flatten();
        for value in values {
            let value = value.to_str().ok_or_else(|| {
                ClientError::Config(format!(
                    "--{long} {}: not UTF-8, which the job service cannot take",
                    value.to_string_lossy()
                ))
            })?;
            flags.push(format!("--{long}={value}"));
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Args, Command as Sub, RunArgs};
    use clap::{CommandFactory as _, FromArgMatches as _, Parser as _};

    /// The flags of a `sandmill submit ...` command line, and its parsed `RunArgs`.
    fn submit(line: &[&str]) -> (Result<Vec<String>, ClientError>, Box<RunArgs>) {
        let cli = Args::command();
        let argv = ["sandmill", "submit"].iter().chain(line);
        let matches = cli.clone().try_get_matches_from(argv).expect("parses");
        let Sub::Submit(args) = Args::from_arg_matches(&matches).unwrap().command else {
            panic!("not submit");
        };
        (given(&cli, &matches), args.run)
    }

    #[test]
    fn the_flags_given_parse_back_into_the_same_job() {
        let lines = [
            "p.wasm --input books --output counts",
            "p.wasm -i a b -o out -r 4 -p min=2 -p Name=Ada --param sep== --format csv --verify \
             --force --max-output 1GiB --call-timeout 2.5 --keep 3 --overwrite-partitions",
            "p.wasm --input=a --output=o --verify=0.25 --split-size 512KiB --memory 64MiB \
             --fuel 1000 --job-cpu 10",
            "p.wasm --input a --output o --task-cpu 0 --max-bad-records 5 --server http://h:1 \
             --token t --idempotency-key k",
        ];
        for line in lines {
            let line: Vec<&str> = line.split_whitespace().collect();
            let (flags, run) = submit(&line);
            let flags = flags.unwrap();
            // The plugin, inputs and output as the server passes them, then the flags.
            let mut argv: Vec<String> = vec!["sandmill".into(), "run".into(), "p.wasm".into()];
            argv.push("--input".into());
            argv.extend(run.input.iter().map(|i| i.display().to_string()));
            argv.push(format!("--output={}", run.output.display()));
            argv.extend(flags.iter().cloned());
            let Sub::Run(again) = Args::try_parse_from(&argv).unwrap().command else {
                panic!("not run");
            };
            assert_eq!(
                format!("{again:?}"),
                format!("{run:?}"),
                "{line:?} sent {flags:?}"
            );
        }
    }

    #[test]
    fn only_flags_on_the_command_line_are_sent() {
        let (flags, _) = submit(&[
            "p.wasm", "--input", "a", "--output", "o", "-r", "4", "-p", "k=v",
        ]);
        assert_eq!(flags.unwrap(), ["--reducers=4", "--param=k=v"]);
        let (flags, _) = submit(&["p.wasm", "--input", "a", "--output", "o"]);
        assert_eq!(flags.unwrap(), Vec::<String>::new());
    }

    #[test]
    fn flags_the_service_decides_are_refused() {
        let cases = [
            (&["--executor", "process"][..], "--executor"),
            (&["-j", "2"], "--threads"),
            (&["--temp-dir", "/tmp"], "--temp-dir"),
            (&["--compile-cache", "/c"], "--compile-cache"),
            (&["--no-compile-cache"], "--no-compile-cache"),
            (&["--summary-json", "-"], "--summary-json"),
            (&["--dry-run"], "--dry-run"),
            (&["-q"], "--quiet"),
            (&["--overwrite"], "--overwrite"),
        ];
        for (extra, name) in cases {
            let mut line = vec!["p.wasm", "--input", "a", "--output", "o"];
            line.extend_from_slice(extra);
            let err = submit(&line).0.unwrap_err();
            assert!(
                err.to_string().starts_with(&format!("{name} is decided")),
                "{err}"
            );
            assert_eq!(err.class(), sandmill::error::ExitClass::Usage);
        }
    }
}
