//! Running one child process and measuring it: wall time, CPU time (user + system) and peak
//! resident set size, all of that child alone (from `wait4(2)`), not of this process; and how
//! much CPU the rest of the machine used meanwhile (from `/proc/stat`), to spot noisy runs.
//!
//! A child's `ru_maxrss` is never below its parent's peak RSS when it was spawned: Linux
//! carries the address space the child started with (the parent's, with `posix_spawn`) into
//! the child's peak at `exec`. So a large process (the benchmark, after comparing outputs)
//! measures through a small one: `sandmill-bench measure`, which runs [`run`] and writes the
//! [`Measurement`] for its parent ([`Measurement::encode`], [`Measurement::decode`]).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// What one run of a child process cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// From spawn to exit.
    pub wall: Duration,
    /// CPU time in user mode, summed over the child's threads.
    pub user: Duration,
    /// CPU time in the kernel on the child's behalf.
    pub sys: Duration,
    /// Peak resident set size in bytes (`ru_maxrss`).
    pub max_rss: u64,
    /// How the child ended.
    pub status: ExitStatus,
    /// CPU time the rest of the machine (other processes, the hypervisor's steal) used while
    /// the child ran; `None` where `/proc/stat` cannot be read.
    pub others: Option<Duration>,
}

impl Measurement {
    /// One line of text that [`Measurement::decode`] reads back.
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            self.wall.as_nanos(),
            self.user.as_nanos(),
            self.sys.as_nanos(),
            self.max_rss,
            self.status.into_raw(),
            self.others.map_or(-1, |d| d.as_nanos() as i128),
        )
    }

    /// What [`Measurement::encode`] wrote, or `None` if `line` is not that.
    pub fn decode(line: &str) -> Option<Measurement> {
        let f: Vec<i128> = line
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let [wall, user, sys, max_rss, status, others] = f[..] else {
            return None;
        };
        let nanos = |n: i128| Some(Duration::from_nanos(u64::try_from(n).ok()?));
        Some(Measurement {
            wall: nanos(wall)?,
            user: nanos(user)?,
            sys: nanos(sys)?,
            max_rss: u64::try_from(max_rss).ok()?,
            status: ExitStatus::from_raw(i32::try_from(status).ok()?),
            others: if others < 0 { None } else { nanos(others) },
        })
    }

    /// User plus system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }

    /// How many CPUs, on average, other work kept busy during the run.
    pub fn other_load(&self) -> Option<f64> {
        Some(self.others?.as_secs_f64() / self.wall.as_secs_f64().max(1e-9))
    }
}

/// Busy CPU time of the whole machine since boot, summed over CPUs: the first line of
/// `/proc/stat` less idle and I/O wait. `None` where it cannot be read.
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    // In USER_HZ, which Linux fixes at 100 for this interface.
    Some(Duration::from_millis(busy * 10))
}

/// Spawns `command`, waits for it and measures it. Set up its stdin, stdout and stderr first
/// (nothing is captured here).
///
/// # Errors
/// If the command cannot be started or waited for. A child that fails is not an error: see
/// [`Measurement::status`].
pub fn run(command: &mut Command) -> io::Result<Measurement> {
    let busy_before = machine_busy();
    let started = Instant::now();
    let child = command.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let (status, usage) = wait4(pid)?;
    let wall = started.elapsed();
    let busy_after = machine_busy();
    // `child` was reaped by wait4 above; dropping a `Child` neither waits nor kills.
    drop(child);
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    let (user, sys) = (time(usage.ru_utime), time(usage.ru_stime));
    let others = match (busy_before, busy_after) {
        (Some(before), Some(after)) => {
            Some(after.saturating_sub(before).saturating_sub(user + sys))
        }
        _ => None,
    };
    Ok(Measurement {
        wall,
        user,
        sys,
        others,
        // Linux reports kilobytes.
        max_rss: (usage.ru_maxrss.max(0) as u64) * 1024,
        status: ExitStatus::from_raw(status),
    })
}

/// Waits for the child `pid` to exit and returns its raw wait status and its own resource
/// usage. `std::process::Child::wait` gives no resource usage, and
/// `getrusage(RUSAGE_CHILDREN)` sums CPU over all children and keeps the largest peak RSS of
/// any of them, so the one system call that reports a single child needs `unsafe` here.
#[expect(
    unsafe_code,
    reason = "wait4(2) has no safe wrapper; it is the only way to read one child's peak RSS"
)]
fn wait4(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers and `timeval`s, for which all-zero
    // bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers come from live, exclusively borrowed locals of the right types
        // that outlive the call; wait4 only writes through them and keeps neither.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn measures_a_child_that_uses_cpu_and_memory() {
        // The shell holds a 16 MB string: its peak RSS must show it.
        let script = "x=$(head -c 16000000 /dev/zero | tr '\\0' a); echo ${#x}";
        let m = run(Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::null()))
        .unwrap();
        assert!(m.status.success());
        assert!(m.wall > Duration::ZERO && m.cpu() > Duration::ZERO, "{m:?}");
        assert!(m.max_rss > 16_000_000, "{m:?}");
        assert_eq!(Measurement::decode(&m.encode()), Some(m));
        assert_eq!(Measurement::decode("1 2 3"), None);
    }

    #[test]
    fn reports_a_failing_child() {
        let m = run(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(m.status.code(), Some(3));
    }
}
