//! A local test cluster from `scripts/cluster.sh` (SeaweedFS, a Ray head and worker nodes in a
//! loopback-only network namespace): bringing it up timed, running commands inside its
//! namespace with its environment, and always bringing it down again (by the script, which
//! stops its processes by pid): when the [`Cluster`] is dropped, or on Ctrl-C or SIGTERM
//! ([`down_on_interrupt`]).

use super::cpu::{self, CpuGroup};
use anyhow::{Context, Result, bail};
use sandmill_bench::measure::{self, Measurement};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// What the interrupt handler needs to bring a cluster down.
#[derive(Debug, Clone)]
struct Teardown {
    workspace: PathBuf,
    sandmill: PathBuf,
    state: PathBuf,
    /// The cluster's cgroup directory, removed after `down`.
    group: Option<PathBuf>,
}

/// The cluster being brought up or up, for the interrupt handler to bring down.
static CURRENT: Mutex<Option<Teardown>> = Mutex::new(None);

/// Installs a Ctrl-C and SIGTERM handler that brings the current cluster down and exits 130:
/// a `Drop` does not run when a signal ends the process. Call it once, before any `up`.
///
/// # Errors
/// If a handler is installed already.
pub fn down_on_interrupt() -> Result<()> {
    ctrlc::set_handler(|| {
        let current = CURRENT.lock().ok().and_then(|c| c.clone());
        if let Some(t) = current {
            eprintln!("sandmill-bench cluster: interrupted: bringing the cluster down");
            let _ = Cluster::script(&t.workspace, &t.sandmill, &t.state)
                .arg("down")
                .status();
            if let Some(group) = t.group {
                let _ = fs::remove_dir(group);
            }
        }
        std::process::exit(130);
    })
    .context("installing the Ctrl-C handler")
}

/// A running cluster; `scripts/cluster.sh down` when dropped.
pub struct Cluster {
    workspace: PathBuf,
    sandmill: PathBuf,
    /// The script's state directory (short: Ray's socket paths must fit in 107 bytes).
    pub state: PathBuf,
    /// What `up` printed as `export` lines: the store, Ray and the namespace.
    env: BTreeMap<String, String>,
    /// What bringing it up cost: `cluster.sh up` itself, and the processes it started by the
    /// time it returned.
    pub startup: Startup,
    /// The cgroup every process of the cluster is in; `None` if none could be made, and then
    /// CPU is counted by the namespace's pids (see [`cpu`]). Dropped after `down`.
    group: Option<CpuGroup>,
}

/// The cost of `cluster.sh up`.
#[derive(Debug, Clone, Copy)]
pub struct Startup {
    /// From starting the script until it printed the cluster's environment.
    pub wall: Duration,
    /// The CPU of every process of the cluster (the script's included) when it returned.
    pub cpu: Duration,
}

/// The variables `up` must print for the benchmark to use the cluster.
const NEEDED: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "RAY_ADDRESS",
    "NETNS",
    "SANDMILL_PYTHON",
];

impl Cluster {
    /// `scripts/cluster.sh` with the state directory and what the nodes need to run tasks:
    /// this `sandmill` and the Ray driver's Python package.
    fn script(workspace: &Path, sandmill: &Path, state: &Path) -> Command {
        Cluster::script_in(None, workspace, sandmill, state)
    }

    /// [`Cluster::script`], in `group` if one is given.
    fn script_in(
        group: Option<&CpuGroup>,
        workspace: &Path,
        sandmill: &Path,
        state: &Path,
    ) -> Command {
        let mut cmd = match group {
            Some(group) => cpu::in_group(&group.procs(), Path::new("bash")),
            None => Command::new("bash"),
        };
        cmd.arg(workspace.join("scripts/cluster.sh"))
            .env("SANDMILL_CLUSTER_DIR", state)
            .env("SANDMILL_BIN", sandmill)
            .env("PYTHONPATH", workspace.join("python"))
            .env_remove("RAY_ADDRESS")
            .stdin(Stdio::null());
        cmd
    }

    /// Brings up a cluster of `workers` worker nodes with its state in `state`, in a cgroup
    /// named `group` if one can be made; its log (the script's stderr) goes to `log`.
    ///
    /// # Errors
    /// If the script fails (the end of its log is in the error) or prints no environment.
    pub fn up(
        workspace: &Path,
        sandmill: &Path,
        state: &Path,
        workers: u32,
        group: &str,
        log: &Path,
    ) -> Result<Cluster> {
        let stdout = log.with_extension("env");
        let group = match CpuGroup::create(group) {
            Ok(group) => Some(group),
            Err(err) => {
                eprintln!(
                    "sandmill-bench cluster: warning: {err:#}; counting the CPU of the \
                     namespace's processes instead, which misses the Ray tasks' (see the report)"
                );
                None
            }
        };
        if let Ok(mut current) = CURRENT.lock() {
            *current = Some(Teardown {
                workspace: workspace.to_path_buf(),
                sandmill: sandmill.to_path_buf(),
                state: state.to_path_buf(),
                group: group.as_ref().map(|g| g.dir().to_path_buf()),
            });
        }
        let mut cmd = Cluster::script_in(group.as_ref(), workspace, sandmill, state);
        cmd.args(["up", "--workers", &workers.to_string()])
            .stdout(fs::File::create(&stdout)?)
            .stderr(fs::File::create(log)?);
        let m: Measurement = measure::run(&mut cmd).context("running scripts/cluster.sh up")?;
        // From here on the guard brings it down, whatever happens.
        let mut cluster = Cluster {
            workspace: workspace.to_path_buf(),
            sandmill: sandmill.to_path_buf(),
            state: state.to_path_buf(),
            env: BTreeMap::new(),
            startup: Startup {
                wall: m.wall,
                cpu: m.cpu(),
            },
            group,
        };
        if !m.status.success() {
            bail!(
                "scripts/cluster.sh up --workers {workers} failed ({}); the end of its log {}:\n{}",
                m.status,
                log.display(),
                tail(log, 15)
            );
        }
        cluster.env = parse_exports(&fs::read_to_string(&stdout)?);
        if let Some(missing) = NEEDED.iter().find(|k| !cluster.env.contains_key(**k)) {
            bail!(
                "scripts/cluster.sh up printed no {missing} (in {}); its log is {}",
                stdout.display(),
                log.display()
            );
        }
        cluster.startup.cpu = match &cluster.group {
            // The script ran in the group: its CPU is in there.
            Some(group) => group.usage()?,
            None => cluster.startup.cpu + cluster.cpu()?,
        };
        Ok(cluster)
    }

    /// The network namespace everything runs in.
    pub fn netns(&self) -> &str {
        &self.env["NETNS"]
    }

    /// CPU used so far by the cluster's processes: all that ever ran in its cgroup, else
    /// those now in its namespace (with the children they waited for).
    ///
    /// # Errors
    /// If the cgroup's `cpu.stat` cannot be read or `ip netns pids` fails.
    pub fn cpu(&self) -> Result<Duration> {
        match &self.group {
            Some(group) => group.usage(),
            None => cpu::namespace(self.netns()),
        }
    }

    /// How [`Cluster::cpu`] counts, for the report.
    pub fn accounting(&self) -> &'static str {
        match self.group {
            Some(_) => "a cgroup holding every process of the cluster (cpu.stat usage_usec)",
            None => {
                "the processes in the namespace (/proc/PID/stat; misses the Ray tasks, reaped \
                 by a raylet that ignores SIGCHLD: their CPU is undercounted)"
            }
        }
    }

    /// `sandmill ARGS` inside the namespace with the cluster's environment (the store's
    /// endpoint and keys, Ray's address, the driver's Python).
    pub fn sandmill(&self, args: &[String]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.netns()])
            .arg(&self.sandmill)
            .args(args)
            .envs(&self.env)
            .env("PYTHONPATH", self.workspace.join("python"))
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(mut current) = CURRENT.lock() {
            *current = None;
        }
        let down = Cluster::script(&self.workspace, &self.sandmill, &self.state)
            .arg("down")
            .stdout(Stdio::null())
            .status();
        if !matches!(down, Ok(s) if s.success()) {
            eprintln!(
                "sandmill-bench cluster: scripts/cluster.sh down failed ({down:?}); stop the \
                 cluster with: SANDMILL_CLUSTER_DIR={} scripts/cluster.sh down",
                self.state.display()
            );
        }
    }
}

/// The `export KEY=VALUE` lines of `up`'s output, quotes removed.
fn parse_exports(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.trim_matches('\'').trim_matches('"').to_owned(),
            )
        })
        .collect()
}

/// The last `n` lines of the file at `path`, indented (or why it cannot be read).
pub fn tail(path: &Path, n: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(n);
            lines[from..]
                .iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(err) => format!("  ({}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_export_lines_of_up() {
        let out = "cluster: up in 20 s\n\
                   export AWS_ENDPOINT_URL=http://127.0.0.1:4000\n\
                   export NETNS='sandmill-0a1b'\n\
                   export RAY_ADDRESS=\"127.0.0.1:5000\"\n";
        let env = parse_exports(out);
        assert_eq!(env.len(), 3, "{env:?}");
        assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4000");
        assert_eq!(env["NETNS"], "sandmill-0a1b");
        assert_eq!(env["RAY_ADDRESS"], "127.0.0.1:5000");
    }
}
