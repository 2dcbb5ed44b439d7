//! `sandmill-bench measure` reports the child's own peak RSS even when the process that starts
//! it is large (as the benchmark is, once it has compared two outputs): a child spawned
//! directly would report at least its parent's peak.

use sandmill_bench::measure::Measurement;
use std::process::{Command, Stdio};

#[test]
fn a_large_parent_does_not_inflate_the_measured_peak_rss() {
    // This process holds 256 MiB, every page touched.
    let hog = vec![1u8; 256 << 20];
    std::hint::black_box(&hog);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("m");
    // The child holds a 16 MB string.
    let script = "x=$(head -c 16000000 /dev/zero | tr '\\0' a); echo ${#x}";
    let status = Command::new(env!("CARGO_BIN_EXE_sandmill-bench"))
        .args([
            "measure",
            "--report",
            report.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let m = Measurement::decode(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(m.status.success(), "{m:?}");
    assert!(
        m.max_rss > 16_000_000 && m.max_rss < 128 << 20,
        "peak RSS {} should be the child's (about 16 MB), not this process's 256 MiB",
        m.max_rss
    );
    drop(hog);
}
