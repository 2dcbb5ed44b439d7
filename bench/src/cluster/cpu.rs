//! The CPU time of every process in a network namespace: the sum of utime, stime, cutime and
//! cstime from `/proc/PID/stat` over the pids `ip netns pids` lists. Taken before and after a
//! job, the difference is what the cluster spent on it (Ray's own daemons and the object store
//! included), as long as every process that ended meanwhile was reaped by one still inside:
//! its time then moved into its parent's cutime and cstime.

use anyhow::{Context, Result, bail};
use std::process::Command;
use std::time::Duration;

/// The summed CPU time of the processes now in namespace `netns`. A process that ends while
/// it is read is skipped.
///
/// # Errors
/// If `ip netns pids` cannot be run or fails.
pub fn namespace(netns: &str) -> Result<Duration> {
    let out = Command::new("ip")
        .args(["netns", "pids", netns])
        .output()
        .context("running ip netns pids")?;
    if !out.status.success() {
        bail!(
            "ip netns pids {netns} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let ticks: u64 = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| stat_ticks(&stat))
        .sum();
    Ok(from_ticks(ticks))
}

/// utime + stime + cutime + cstime of one `/proc/PID/stat` line, in clock ticks; `None` if
/// the line is not that.
fn stat_ticks(stat: &str) -> Option<u64> {
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so cut at the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 to 17 of proc(5); `rest` starts at field 3, state.
    let sum = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<i64>().ok())
        .sum::<Option<i64>>()?;
    u64::try_from(sum).ok()
}

/// Clock ticks as time: Linux fixes USER_HZ at 100 for `/proc`.
fn from_ticks(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_own_and_reaped_children_time() {
        // From a real `ray::IDLE` worker: utime 120, stime 30, cutime 7, cstime 3.
        let stat = "4242 (ray::IDLE (x)) S 4100 4100 4100 0 -1 4194560 5000 0 0 0 \
                    120 30 7 3 20 0 12 0 99999 500000000 20000 18446744073709551615";
        assert_eq!(stat_ticks(stat), Some(160));
        assert_eq!(from_ticks(160), Duration::from_millis(1600));
        assert_eq!(stat_ticks("4242 (short) S 1 2"), None);
        assert_eq!(stat_ticks("no parenthesis"), None);
    }

    #[test]
    fn reads_real_stat_lines_and_refuses_a_missing_namespace() {
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(stat_ticks(&own).is_some(), "{own}");
        let err = namespace("sandmill-bench-no-such-namespace").unwrap_err();
        assert!(format!("{err:#}").contains("ip netns pids"), "{err:#}");
    }
}
