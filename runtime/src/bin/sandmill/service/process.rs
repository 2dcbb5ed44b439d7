//! Worker processes: the `sandmill` binary run as a child for one step of a job, with a
//! clean environment, a lower CPU priority than the server (so that the API stays responsive
//! while every core runs plugins), and killed if the server dies (`PR_SET_PDEATHSIG`, so that
//! a `kill -9` of the server leaves no worker behind to race its successor). Its output is
//! captured (bounded) and its CPU time measured (`wait4`).

use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// The most of a worker's stdout or stderr kept; the rest is read and dropped.
const MAX_OUTPUT: usize = 16 << 20;

/// How a worker process ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    /// Its exit status, or `None` if a signal killed it.
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// What it wrote to stdout (lossily decoded, at most 16 MiB).
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
    /// Its CPU time, user and system.
    pub cpu_seconds: f64,
}

impl Exit {
    /// Whether it exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// How it ended, for a message: `exited with status 4`, `was killed by signal 9`.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            (None, None) => "ended".to_owned(),
        }
    }

    /// The last line of its stderr that says `error: ...`, else its last line.
    pub fn error_line(&self) -> String {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let line = lines
            .iter()
            .rev()
            .find(|l| l.starts_with("error: "))
            .or(lines.last())
            .copied()
            .unwrap_or("");
        line.strip_prefix("error: ").unwrap_or(line).to_owned()
    }
}

/// Runs `program args` with only `env` in its environment; `started` gets its pid as soon as
/// it runs. Blocks until it exits.
///
/// # Errors
/// If it cannot be started or waited for.
pub fn run(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    started: impl FnOnce(u32),
) -> io::Result<Exit> {
    let parent = std::process::id();
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[expect(
        unsafe_code,
        reason = "pre_exec is how a child is tied to its parent's life"
    )]
    // SAFETY: the closure runs in the child between fork and exec and only makes
    // async-signal-safe system calls (prctl, setpriority, getppid, _exit); it allocates nothing
    // and touches no lock.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The server may have died before the prctl: then nobody waits for this child.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            libc::setpriority(libc::PRIO_PROCESS, 0, 10);
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let pid = child.id();
    started(pid);
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || read_bounded(&mut stderr));
    let out = read_bounded(&mut stdout);
    let err = err_reader.join().unwrap_or_default();
    let (status, cpu_seconds) = wait(pid)?;
    // The child is reaped: `Child` must not wait for it again (dropping it does not).
    drop(child);
    Ok(Exit {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        cpu_seconds,
    })
}

/// Everything `reader` gives, keeping at most [`MAX_OUTPUT`] bytes.
fn read_bounded(reader: &mut impl io::Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    kept
}

/// Waits for child `pid`: its wait status and CPU seconds.
fn wait(pid: u32) -> io::Result<(i32, f64)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status = 0;
    #[expect(
        unsafe_code,
        reason = "wait4 is the one call that reports a child's CPU time"
    )]
    // SAFETY: `rusage` is plain data that wait4 fills in; both pointers are to live locals.
    let (result, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        loop {
            let r = libc::wait4(pid, &mut status, 0, &mut usage);
            if r == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break (r, usage);
        }
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((status, seconds(usage.ru_utime) + seconds(usage.ru_stime)))
}

/// Sends SIGKILL to `pid`.
pub fn kill(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        #[expect(unsafe_code, reason = "kill(2) of a child by its pid")]
        // SAFETY: kill takes plain integers; `pid` is a child this process has not reaped yet
        // (the caller only kills running workers), so it names no other process.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_status_and_cpu_time_are_captured() {
        let mut pid = 0;
        let exit = run(
            Path::new("/bin/sh"),
            &[
                "-c".into(),
                "echo out; echo \"error: $X\" >&2; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3".into(),
            ],
            &[("X".into(), "only this".into())],
            |p| pid = p,
        )
        .unwrap();
        assert!(pid > 0);
        assert_eq!(exit.code, Some(3));
        assert_eq!(exit.stdout, "out\n");
        assert_eq!(exit.error_line(), "only this");
        assert!(exit.cpu_seconds > 0.0, "{exit:?}");
        let killed = run(
            Path::new("/bin/sh"),
            &["-c".into(), "kill -9 $$".into()],
            &[],
            |_| {},
        )
        .unwrap();
        assert_eq!((killed.code, killed.signal), (None, Some(9)));
        assert_eq!(killed.describe(), "was killed by signal 9");
    }

    #[test]
    fn the_environment_is_only_what_is_given() {
        // SAFETY of the test: HOME is set in every test environment; it must not leak through.
        let exit = run(
            Path::new("/usr/bin/env"),
            &[],
            &[("A".into(), "1".into())],
            |_| {},
        )
        .unwrap();
        assert_eq!(exit.stdout, "A=1\n");
    }
}
