//! Finding a language's tools and running them, with errors that say what to install.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a build failed: a tool is missing, or it ran and failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A tool the language needs is not installed.
    #[error(
        "{tool} not found (looked in {looked}); install the {lang} toolchain with \
         `{install}`"
    )]
    Missing {
        /// The program.
        tool: String,
        /// The language it is for.
        lang: &'static str,
        /// Where it was looked for.
        looked: String,
        /// The command that installs it.
        install: String,
    },
    /// A tool ran and failed; its messages, printed above this error, say why.
    #[error("{what} failed ({status}); its messages are above")]
    Failed {
        /// What was being done, with the command.
        what: String,
        /// How the tool exited, or why it could not start.
        status: String,
    },
}

/// Where `scripts/setup-toolchain.sh` installs the toolchains of the languages that need one:
/// `$SANDMILL_TOOLCHAINS`, or `$XDG_DATA_HOME/sandmill/toolchains`, or
/// `~/.local/share/sandmill/toolchains`.
pub fn toolchains_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SANDMILL_TOOLCHAINS").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from(".local/share"));
    data.join("sandmill/toolchains")
}

/// Looks for `program`, first in the directories `extra` (a language's toolchain directory,
/// say), then on `PATH`.
pub fn find(program: &str, extra: &[PathBuf]) -> Result<PathBuf, Vec<PathBuf>> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = extra
        .iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .collect();
    for dir in &dirs {
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(dirs)
}

/// `find`, or the error that names what to install.
pub fn require(
    program: &str,
    extra: &[PathBuf],
    lang: &'static str,
    install: &str,
) -> Result<PathBuf, BuildError> {
    find(program, extra).map_err(|dirs| {
        let mut looked: Vec<String> = extra.iter().map(|d| d.display().to_string()).collect();
        if dirs.len() > extra.len() {
            looked.push("PATH".to_owned());
        }
        BuildError::Missing {
            tool: program.to_owned(),
            lang,
            looked: looked.join(", "),
            install: install.to_owned(),
        }
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The most of a tool's output a failed build shows: its end, where the error is.
const OUTPUT_TAIL: usize = 8 << 10;

/// Runs `cmd`, described as `what`. Its output is shown only when it fails: then the end of
/// it goes to stderr, above the error.
pub fn run(what: &str, cmd: &mut Command) -> Result<(), BuildError> {
    let what = format!("{what} (`{}`)", describe(cmd));
    let output = cmd.output().map_err(|e| BuildError::Failed {
        what: what.clone(),
        status: format!("it could not start: {e}"),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let text = text.trim_end();
    let start = text.len().saturating_sub(OUTPUT_TAIL);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    if start > 0 {
        eprintln!("[... {start} bytes of output left out ...]");
    }
    eprintln!("{}", &text[start..]);
    Err(BuildError::Failed {
        what,
        status: output.status.to_string(),
    })
}

/// A command as a person would type it.
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}
