//! Several jobs in one process, through the library: each has its own plugin, limits, threads,
//! memory budget and CPU meter, so a hostile job cannot slow, fail or change a good one.
//! This is what a job service runs on.

use sandmill::error::{Limit, TaskError};
use sandmill::plugin::Limits;
use sandmill::{Error, JobSpec, Quiet};
use sandmill_tests::output::read_output;
use sandmill_tests::plugins::{HOSTILE, WORDCOUNT};
use std::time::Duration;

#[test]
fn a_hostile_job_and_a_good_job_share_a_process_and_the_good_one_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let attacks = dir.path().join("attacks.txt");
    std::fs::write(&attacks, "spin=300\nhost-loop\n").unwrap();
    let words = dir.path().join("words.txt");
    std::fs::write(&words, "b a\nA c b a\n".repeat(2000)).unwrap();

    let job = |plugin: &str, input: &std::path::Path, out: &str, limits: Limits| {
        JobSpec::builder(plugin)
            .input(input)
            .output(dir.path().join(out))
            .threads(1)
            .reducers(2)
            .memory(1 << 20)
            .limits(limits)
            .build()
            .unwrap()
    };
    let hostile = job(
        HOSTILE,
        &attacks,
        "hostile",
        Limits {
            call_timeout: Duration::from_secs(2),
            job_cpu: Some(Duration::from_millis(200)),
            ..Limits::default()
        },
    );
    // The good job's own budget is smaller than what the hostile job burns: it must not be
    // charged for the hostile job's CPU.
    let good = job(
        WORDCOUNT,
        &words,
        "good",
        Limits {
            job_cpu: Some(Duration::from_millis(250)),
            ..Limits::default()
        },
    );
    let (hostile, good) = std::thread::scope(|s| {
        let h = s.spawn(|| sandmill::run(&hostile, &Quiet));
        // Several good runs (each a new version) while the hostile one spins.
        let g = s.spawn(|| {
            (0..3)
                .map(|_| sandmill::run(&good, &Quiet))
                .collect::<Vec<_>>()
        });
        (h.join().unwrap(), g.join().unwrap())
    });
    match hostile {
        Err(Error::Task(TaskError::LimitExceeded {
            limit: Limit::JobCpu(d),
            ..
        })) => assert_eq!(d, Duration::from_millis(200)),
        other => panic!("the hostile job should have hit its job CPU limit: {other:?}"),
    }
    for run in good {
        run.expect("the good job is not charged for the hostile one");
    }
    assert_eq!(
        read_output(&dir.path().join("good")),
        ["a\t6000", "b\t4000", "c\t2000"]
    );
    assert!(!dir.path().join("hostile").exists());
}
