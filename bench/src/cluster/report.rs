//! The cluster benchmark's tables: per worker count and setting the best run's wall and CPU
//! time, both as a multiple of the local baseline of the same round, the object-store bytes
//! per input byte and the cluster's start-up; then the start-ups and uploads on their own.

use super::runs::{Sample, Setting};
use super::script::Startup;
use sandmill_bench::report::Table;
use sandmill_bench::size::mib;
use std::time::Duration;

/// One worker count's cluster and every run made on it.
pub struct Round {
    /// Worker nodes.
    pub workers: u32,
    /// How the cluster's CPU was counted ([`super::script::Cluster::accounting`]).
    pub accounting: &'static str,
    /// What `cluster.sh up` cost.
    pub startup: Startup,
    /// Wall time of `sandmill put` of the input.
    pub upload: Duration,
    /// The runs of each setting, in [`Setting::ALL`] order; each has at least one.
    pub runs: Vec<(Setting, Vec<Sample>)>,
}

impl Round {
    /// The run of `setting` with the shortest wall time.
    fn best(&self, setting: Setting) -> Option<&Sample> {
        self.runs
            .iter()
            .find(|(s, _)| *s == setting)
            .and_then(|(_, runs)| runs.iter().min_by_key(|r| r.wall))
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".into()
    } else {
        format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
    }
}

/// The main table: one row per round and setting.
pub fn settings_table(rounds: &[Round], input_bytes: u64) -> Table {
    let mut table = Table::new([
        "workers",
        "run",
        "wall s",
        "all walls s",
        "CPU s",
        "cluster CPU s",
        "wall / local",
        "CPU / local",
        "read / input B",
        "written / input B",
        "cluster start-up s",
        "other load (CPUs)",
    ]);
    let per_input = |n: u64| format!("{:.2}", n as f64 / input_bytes.max(1) as f64);
    for round in rounds {
        let Some(local) = round.best(Setting::Local) else {
            continue;
        };
        for (setting, runs) in &round.runs {
            let Some(best) = round.best(*setting) else {
                continue;
            };
            let walls: Vec<String> = runs.iter().map(|r| secs(r.wall)).collect();
            table.row([
                round.workers.to_string(),
                setting.label(round.workers),
                secs(best.wall),
                walls.join(", "),
                secs(best.cpu),
                secs(best.cluster_cpu),
                ratio(best.wall, local.wall),
                ratio(best.cpu, local.cpu),
                best.traffic.map_or("-".into(), |t| per_input(t.read)),
                best.traffic.map_or("-".into(), |t| per_input(t.written)),
                if *setting == Setting::Ray {
                    secs(round.startup.wall)
                } else {
                    "-".into()
                },
                best.other_load.map_or("n/a".into(), |l| format!("{l:.2}")),
            ]);
        }
    }
    table
}

/// Each round's cluster start-up and upload of the input.
pub fn startup_table(rounds: &[Round], input_bytes: u64) -> Table {
    let mut table = Table::new([
        "workers",
        "up wall s",
        "up CPU s",
        "upload wall s",
        "upload MiB/s",
    ]);
    for round in rounds {
        table.row([
            round.workers.to_string(),
            secs(round.startup.wall),
            secs(round.startup.cpu),
            secs(round.upload),
            format!(
                "{:.1}",
                mib(input_bytes) / round.upload.as_secs_f64().max(1e-9)
            ),
        ]);
    }
    table
}

/// What the columns mean.
pub const NOTES: &str = "wall s and CPU s are the best run's (shortest wall) of each setting; \
all walls s lists every run in order (the first may compile the plugin). CPU s of a local run \
is `sandmill run`'s own (wait4, its children included); CPU s of a Ray run is the client's plus \
that of every process of the cluster during the run (the tasks, and also Ray's own daemons: \
GCS, raylets, workers, and SeaweedFS). cluster CPU s is that cluster figure alone, for every \
run: for the local runs it is what the idle cluster and the object store cost meanwhile. Ratios are to the local-files baseline of the same round \
(cluster up, same load). read / written per input B are the object-store bytes of the job \
(--summary-json object_storage) per byte of input. up CPU s is the CPU of cluster.sh up and \
of every process it started, by the time it returned. other load is how many CPUs the rest of \
the machine (other users, builds) kept busy during the best run: where it differs between \
rounds, so do their baselines.";

#[cfg(test)]
mod tests {
    use super::super::runs::Traffic;
    use super::*;

    fn sample(wall: u64, cpu: u64, traffic: Option<Traffic>) -> Sample {
        Sample {
            wall: Duration::from_secs(wall),
            cpu: Duration::from_secs(cpu),
            cluster_cpu: Duration::from_secs(1),
            traffic,
            other_load: Some(0.25),
        }
    }

    #[test]
    fn ratios_are_to_the_best_local_run_of_the_round() {
        let traffic = Some(Traffic {
            read: 300,
            written: 50,
        });
        let round = Round {
            workers: 2,
            accounting: "a test",
            startup: Startup {
                wall: Duration::from_secs(20),
                cpu: Duration::from_secs(30),
            },
            upload: Duration::from_secs(2),
            runs: vec![
                (
                    Setting::Local,
                    vec![sample(12, 20, None), sample(10, 18, None)],
                ),
                (Setting::LocalS3, vec![sample(15, 22, traffic)]),
                (
                    Setting::Ray,
                    vec![sample(25, 45, traffic), sample(20, 36, traffic)],
                ),
            ],
        };
        let md = settings_table(&[round], 100).to_markdown();
        let rows: Vec<&str> = md.lines().skip(2).collect();
        assert_eq!(
            rows[0],
            "| 2 | local executor, local files | 10.00 | 12.00, 10.00 | 18.00 | 1.00 | 1.00x \
             | 1.00x | - | - | - | 0.25 |"
        );
        assert_eq!(
            rows[2],
            "| 2 | --executor ray, 2 worker nodes | 20.00 | 25.00, 20.00 | 36.00 | 1.00 | 2.00x \
             | 2.00x | 3.00 | 0.50 | 20.00 | 0.25 |"
        );
        assert!(
            rows[1].contains("| 1.50x | 1.22x | 3.00 | 0.50 | - |"),
            "{}",
            rows[1]
        );
    }
}
