//! The CPU time of a cluster's processes, all of them, also those that ended.
//!
//! The precise way is a cgroup (v2) of our own that `cluster.sh up` is started in, so that
//! every daemon, Ray worker and task process it leads to is in it: its `cpu.stat` counts the
//! CPU of every process that ever ran in it ([`CpuGroup`]).
//!
//! Where no cgroup can be made (no cgroup2 mount, not root), the fallback sums utime, stime,
//! cutime and cstime of `/proc/PID/stat` over the pids `ip netns pids` lists ([`namespace`]).
//! That misses the CPU of every process that ended and was not waited for: Ray's raylet
//! ignores SIGCHLD, so its workers, and the `sandmill task run` processes they started, are
//! reaped by the kernel and their time is added to no one's cutime. On a Ray run it counted
//! SeaweedFS and the daemons but almost none of the tasks, so the report says which was used.

use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A cgroup made for one cluster, removed (once empty) when dropped.
#[derive(Debug)]
pub struct CpuGroup {
    dir: PathBuf,
}

impl CpuGroup {
    /// Makes a cgroup named `name` below this process's own in the cgroup2 hierarchy.
    ///
    /// # Errors
    /// If there is no cgroup2 mount or the cgroup cannot be made (needs root).
    pub fn create(name: &str) -> Result<CpuGroup> {
        let mounts =
            fs::read_to_string("/proc/self/mounts").context("reading /proc/self/mounts")?;
        let root = cgroup2_mount(&mounts).context("no cgroup2 file system is mounted")?;
        let own = fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup")?;
        let own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .context("/proc/self/cgroup has no cgroup2 entry")?;
        let dir = root.join(own.trim_start_matches('/')).join(name);
        fs::create_dir(&dir).with_context(|| format!("creating the cgroup {}", dir.display()))?;
        let group = CpuGroup { dir };
        group.usage()?;
        Ok(group)
    }

    /// The group's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file whose writer joins the group: write a pid to it.
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// The CPU time of every process that has run in the group.
    ///
    /// # Errors
    /// If its `cpu.stat` cannot be read or has no `usage_usec`.
    pub fn usage(&self) -> Result<Duration> {
        let path = self.dir.join("cpu.stat");
        let stat =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        usage_usec(&stat)
            .map(Duration::from_micros)
            .with_context(|| format!("{} has no usage_usec line", path.display()))
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        // The last processes may take a moment to leave after the cluster is down.
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "sandmill-bench cluster: could not remove the cgroup {} (processes left in it: \
             see its cgroup.procs); remove it with: rmdir {}",
            self.dir.display(),
            self.dir.display()
        );
    }
}

/// Where the cgroup2 hierarchy is mounted, from `/proc/self/mounts`.
fn cgroup2_mount(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
    })
}

/// The `usage_usec` of a `cpu.stat`.
fn usage_usec(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse().ok())
}

/// The command that runs `program` in `group`: a shell that joins the group, then execs it.
pub fn in_group(group: &Path, program: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo $$ > \"$0\" && exec \"$@\""])
        .arg(group)
        .arg(program);
    cmd
}

/// The summed CPU time of the processes now in namespace `netns` (the fallback: see the
/// module docs for what it misses). A process that ends while it is read is skipped.
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
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
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
        let own = fs::read_to_string("/proc/self/stat").unwrap();
        assert!(stat_ticks(&own).is_some(), "{own}");
        let err = namespace("sandmill-bench-no-such-namespace").unwrap_err();
        assert!(format!("{err:#}").contains("ip netns pids"), "{err:#}");
    }

    #[test]
    fn finds_the_cgroup2_mount_and_its_usage() {
        let mounts = "proc /proc proc rw 0 0\n\
                      cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
        assert_eq!(
            cgroup2_mount(mounts),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(cgroup2_mount("proc /proc proc rw 0 0\n"), None);
        let stat = "usage_usec 289094\nuser_usec 285079\nsystem_usec 4015\n";
        assert_eq!(usage_usec(stat), Some(289094));
        assert_eq!(usage_usec("user_usec 1\n"), None);
    }

    /// Where cgroups can be made (root, a cgroup2 mount), a process that has ended still counts.
    #[test]
    fn a_group_counts_processes_that_ended() {
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let root = status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        let cgroup2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .iter()
            .any(|d| Path::new(d).join("cgroup.controllers").exists());
        if !(root && cgroup2) {
            eprintln!("not root, or no cgroup2 mount: skipped");
            return;
        }
        let group = CpuGroup::create(&format!("smbench-test-{}", std::process::id())).unwrap();
        let status = in_group(&group.procs(), Path::new("sh"))
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let used = group.usage().unwrap();
        assert!(used > Duration::from_millis(50), "{used:?}");
        let dir = group.dir.clone();
        drop(group);
        assert!(!dir.exists());
    }
}
