//! A submitted job's run flags: parsed by `sandmill run`'s own parser, refused where the
//! service decides, bounded by the tenant's limits, and turned into the arguments of its
//! worker processes.

use crate::args::RunArgs;
use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _, Parser};

/// `sandmill run`'s flags alone.
#[derive(Debug, Parser)]
#[command(name = "flags", no_binary_name = true)]
struct Flags {
    #[command(flatten)]
    run: RunArgs,
}

/// Flags the service sets itself, with why.
const REFUSED: [(&str, &str); 10] = [
    ("executor", "every task runs in a worker process"),
    ("threads", "the service's slots run the tasks"),
    (
        "temp_dir",
        "map output stays in the dataset's work directory",
    ),
    ("compile_cache", "the service keeps compiled plugins"),
    ("no_compile_cache", "the service keeps compiled plugins"),
    (
        "summary_json",
        "`sandmill status --json` has the job's report",
    ),
    ("dry_run", "the service runs jobs"),
    ("quiet", "the service writes the job's log"),
    ("overwrite", "outputs are datasets of the tenant's own"),
    (
        "side_input",
        "a side input would be a path outside the tenant's uploads; give the data as an input",
    ),
];

/// The defaults the service gives a job's sandbox, within the tenant's limits.
const PLUGIN_MEMORY: u64 = 1 << 30;
const SHUFFLE_MEMORY: u64 = 256 << 20;

/// A job's checked flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The flags to pass on, with the service's own added.
    pub args: Vec<String>,
    /// The memory one of its task processes may use: plugin and shuffle.
    pub memory: u64,
    /// Attempts per task.
    pub max_attempts: u32,
}

/// The tenant's limits that bound its jobs.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Memory per plugin instance, and per shuffle.
    pub max_memory: u64,
    /// Bytes of storage left.
    pub storage_left: u64,
    /// CPU seconds one task attempt may spend in the plugin.
    pub max_task_cpu: f64,
    /// Threads to plan with (the service's slots), fixed per job so that its plan is the
    /// same after a restart.
    pub threads: u64,
}

/// Checks `flags` (as `sandmill run` takes them, without plugin, inputs and output).
pub fn check(flags: &[String], bounds: Bounds) -> Result<Checked, String> {
    let argv = ["PLUGIN", "--input", "INPUT", "--output", "OUTPUT"]
        .into_iter()
        .map(str::to_owned)
        .chain(flags.iter().cloned());
    let matches = Flags::command()
        .try_get_matches_from(argv)
        .map_err(|e| first_line(&e.to_string()))?;
    let parsed = Flags::from_arg_matches(&matches).map_err(|e| first_line(&e.to_string()))?;
    let run = parsed.run;
    if run.input.len() != 1
        || run.plugin.as_os_str() != "PLUGIN"
        || run.output.as_os_str() != "OUTPUT"
    {
        return Err(
            "give the plugin, inputs and output as the job's `plugin`, `inputs` and \
                    `output`, not as flags"
                .into(),
        );
    }
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    for (id, why) in REFUSED {
        if given(id) {
            return Err(format!(
                "--{} is not taken by the service: {why}",
                id.replace('_', "-")
            ));
        }
    }
    let over = |flag: &str, value: u64, limit: u64, what: &str| {
        (value > limit).then(|| {
            format!("{flag} {value} is over the tenant's {what} ({limit} bytes); ask for less")
        })
    };
    let mut args = flags.to_vec();
    let plugin_memory = if given("plugin_memory") {
        run.plugin_memory
    } else {
        let m = PLUGIN_MEMORY.min(bounds.max_memory);
        args.push(format!("--plugin-memory={m}"));
        m
    };
    if let Some(e) = over(
        "--plugin-memory",
        plugin_memory,
        bounds.max_memory,
        "--max-memory",
    ) {
        return Err(e);
    }
    let shuffle = match run.memory {
        Some(m) => m,
        None => {
            let m = SHUFFLE_MEMORY.min(bounds.max_memory);
            args.push(format!("--memory={m}"));
            m
        }
    };
    if let Some(e) = over("--memory", shuffle, bounds.max_memory, "--max-memory") {
        return Err(e);
    }
    if given("max_output") {
        if let Some(e) = over(
            "--max-output",
            run.max_output,
            bounds.storage_left,
            "storage left under --max-storage",
        ) {
            return Err(e);
        }
    } else {
        args.push(format!(
            "--max-output={}",
            run.max_output.min(bounds.storage_left)
        ));
    }
    if given("task_cpu") {
        if run.task_cpu == 0.0 || run.task_cpu > bounds.max_task_cpu {
            return Err(format!(
                "--task-cpu {} is over the tenant's --max-task-cpu ({} seconds; 0, no limit, \
                 is over any); ask for less",
                run.task_cpu, bounds.max_task_cpu
            ));
        }
    } else {
        args.push(format!(
            "--task-cpu={}",
            run.task_cpu.min(bounds.max_task_cpu)
        ));
    }
    args.push(format!("--threads={}", bounds.threads.max(1)));
    Ok(Checked {
        args,
        memory: plugin_memory.saturating_add(shuffle),
        max_attempts: run.max_attempts.max(1),
    })
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text);
    format!("bad flags: {}", line.trim().trim_start_matches("error: "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds {
            max_memory: 512 << 20,
            storage_left: 1 << 30,
            max_task_cpu: 60.0,
            threads: 2,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_are_parsed_bounded_and_completed() {
        let checked = check(&strings(&["--reducers=3", "--param", "k=v"]), bounds()).unwrap();
        assert_eq!(
            checked.args,
            strings(&[
                "--reducers=3",
                "--param",
                "k=v",
                "--plugin-memory=536870912",
                "--memory=268435456",
                "--max-output=1073741824",
                "--task-cpu=60",
                "--threads=2"
            ])
        );
        assert_eq!(checked.memory, (512 << 20) + (256 << 20));
        assert_eq!(checked.max_attempts, 4);
        assert_eq!(
            check(&strings(&["--max-attempts=2"]), bounds())
                .unwrap()
                .max_attempts,
            2
        );
    }

    #[test]
    fn what_the_service_decides_and_what_exceeds_a_limit_is_refused() {
        for (flags, want) in [
            (vec!["--executor=local"], "--executor is not taken"),
            (vec!["-j", "4"], "--threads is not taken"),
            (vec!["--temp-dir=/tmp"], "--temp-dir is not taken"),
            (vec!["--overwrite"], "--overwrite is not taken"),
            (
                vec!["--side-input=p=/etc/passwd"],
                "--side-input is not taken",
            ),
            (
                vec!["--plugin-memory=1GiB"],
                "over the tenant's --max-memory",
            ),
            (vec!["--memory=1GiB"], "over the tenant's --max-memory"),
            (vec!["--max-output=2GiB"], "storage left"),
            (vec!["--task-cpu=61"], "--max-task-cpu"),
            (vec!["--task-cpu=0"], "--max-task-cpu"),
            (vec!["--input=/etc"], "not as flags"),
            (vec!["/etc/passwd"], "bad flags"),
            (vec!["--reducers=x"], "bad flags"),
            (vec!["--no-such-flag"], "bad flags"),
        ] {
            let err = check(&strings(&flags), bounds()).unwrap_err();
            assert!(err.contains(want), "{flags:?}: {err}");
        }
    }
}
