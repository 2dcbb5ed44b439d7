//! `sandmill put LOCAL_PATH... --as NAME`: which local files an upload holds and under which
//! paths, and sending them through a staging area that the server turns into the upload at
//! once (`docs/service.md`, "Uploads").
//!
//! A directory given alone becomes the upload's root: `put books/ --as books` uploads
//! `books/a.txt` as `a.txt`. Given with other paths, a directory goes under its own name, as
//! with `cp -r` (`books/a.txt` as `books/a.txt`), and a file under its file name. Every file
//! is uploaded, hidden ones too, and symbolic links are followed; anything that is not a file
//! or a directory stops the upload before it starts, naming it, and so does a name two paths
//! would share. Empty directories cannot be part of an upload (it holds files), and are
//! named on stderr.

use super::LocalError;
use super::http::{Client, ClientError, path_segments, segment};
use sandmill::text::inert;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it is.
    pub local: PathBuf,
    /// Its path in the upload: relative, `/`-separated, no `.` or `..`.
    pub path: String,
    /// Its size when it was listed.
    pub bytes: u64,
}

/// What an upload of some local paths holds.
#[derive(Debug, Default)]
pub struct Plan {
    /// The files, sorted by their path in the upload (no two alike).
    pub files: Vec<Entry>,
    /// Directories with no file in them, which the upload cannot hold.
    pub empty_dirs: Vec<PathBuf>,
}

/// The files an upload of `paths` holds (see the module docs).
///
/// # Errors
/// A path that cannot be read, is neither a file nor a directory, has a name that is not
/// UTF-8 or that two paths would both upload; or no file at all.
pub fn plan(paths: &[PathBuf]) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let alone = paths.len() == 1;
    for path in paths {
        let meta = metadata(path)?;
        if meta.is_dir() {
            let prefix = if alone {
                String::new()
            } else {
                format!("{}/", own_name(path)?)
            };
            walk(path, &prefix, &mut Vec::new(), &mut plan)?;
        } else if meta.is_file() {
            plan.files.push(Entry {
                local: path.clone(),
                path: own_name(path)?,
                bytes: meta.len(),
            });
        } else {
            return Err(not_a_file(path));
        }
    }
    plan.files.sort_by(|a, b| a.path.cmp(&b.path));
    for pair in plan.files.windows(2) {
        if pair[0].path == pair[1].path {
            anyhow::bail!(
                "{} and {} would both be uploaded as {}; put them in different uploads, or \
                 rename one",
                pair[0].local.display(),
                pair[1].local.display(),
                inert(&pair[0].path)
            );
        }
    }
    if plan.files.is_empty() {
        let paths: Vec<_> = paths.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!("nothing to upload: {} holds no file", paths.join(" "));
    }
    Ok(plan)
}

/// Adds the files under the directory `dir` to `plan`, their paths after `prefix`. `above`
/// holds the directories being walked (resolved), to stop at a link back up the tree.
fn walk(dir: &Path, prefix: &str, above: &mut Vec<PathBuf>, plan: &mut Plan) -> anyhow::Result<()> {
    let resolved = std::fs::canonicalize(dir)
        .map_err(|e| LocalError::new(format!("reading {}", dir.display()), e))?;
    if above.contains(&resolved) {
        anyhow::bail!(
            "{} links back to {}, which holds it: an upload would be endless",
            dir.display(),
            resolved.display()
        );
    }
    above.push(resolved);
    let reading = |e| LocalError::new(format!("reading the directory {}", dir.display()), e);
    let mut entries = std::fs::read_dir(dir)
        .map_err(reading)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(reading)?;
    entries.sort_by_key(|e| e.file_name());
    let files_before = plan.files.len();
    for entry in entries {
        let local = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            anyhow::bail!(
                "{}: the name is not UTF-8, which an upload path must be; rename it",
                local.display()
            );
        };
        let path = format!("{prefix}{name}");
        let meta = metadata(&local)?;
        if meta.is_dir() {
            walk(&local, &format!("{path}/"), above, plan)?;
        } else if meta.is_file() {
            plan.files.push(Entry {
                local,
                path,
                bytes: meta.len(),
            });
        } else {
            return Err(not_a_file(&local));
        }
    }
    if plan.files.len() == files_before {
        plan.empty_dirs.push(dir.to_path_buf());
    }
    above.pop();
    Ok(())
}

/// `path`'s metadata, through symbolic links.
fn metadata(path: &Path) -> anyhow::Result<std::fs::Metadata> {
    std::fs::metadata(path).map_err(|e| {
        let what = if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) {
            format!("{}: a symbolic link to nothing readable", path.display())
        } else {
            format!("reading {}", path.display())
        };
        LocalError::new(what, e).into()
    })
}

/// The error for something that is neither a file nor a directory.
fn not_a_file(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} is not a file or a directory (a socket, FIFO or device?); only files can be \
         uploaded: leave it out",
        path.display()
    )
}

/// The name a path given on the command line is uploaded under: its last component (of the
/// resolved path for `.` and `..`).
fn own_name(path: &Path) -> anyhow::Result<String> {
    let resolved;
    let name = match path.file_name() {
        Some(name) => name,
        None => {
            resolved = std::fs::canonicalize(path)
                .map_err(|e| LocalError::new(format!("reading {}", path.display()), e))?;
            resolved.file_name().ok_or_else(|| {
                anyhow::anyhow!(
                    "{} has no name to upload it under; give the paths inside it instead",
                    path.display()
                )
            })?
        }
    };
    name.to_str().map(str::to_owned).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the name is not UTF-8, which an upload path must be; rename it",
            path.display()
        )
    })
}

/// Whether a job reading the upload skips the file at `path`: a part of it starts with `.` or
/// `_`.
fn is_hidden(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with(['.', '_']))
}

/// `POST .../staging` as `{"staging": "ID"}`.
#[derive(serde::Deserialize)]
struct Staging {
    staging: String,
}

/// `POST .../commit` as `{"name", "files", "bytes"}`.
#[derive(serde::Deserialize)]
struct Committed {
    name: String,
    files: u64,
    bytes: u64,
}

/// `sandmill put`: uploads `paths` as the upload `name`, replacing what it held, and prints
/// what it holds now.
pub fn put(
    client: &Client,
    paths: &[PathBuf],
    name: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let plan = plan(paths)?;
    for dir in &plan.empty_dirs {
        eprintln!(
            "sandmill: {} holds no file and is not uploaded (an upload holds files only)",
            dir.display()
        );
    }
    let hidden = plan.files.iter().filter(|f| is_hidden(&f.path)).count();
    if hidden > 0 {
        eprintln!(
            "sandmill: {hidden} file{} with a name starting with `.` or `_` uploaded too; a job \
             reading the upload skips them, as `sandmill run` does in a directory",
            crate::plural(hidden)
        );
    }
    let upload = format!("/v1/uploads/{}/staging", segment(name));
    let staging: Staging = client.post_json(&upload, &serde_json::json!({}), &[])?;
    let staging = format!("{upload}/{}", segment(&staging.staging));
    for file in &plan.files {
        let opened = std::fs::File::open(&file.local)
            .map_err(|e| LocalError::new(format!("reading {}", file.local.display()), e))?;
        client
            .put_file(&format!("{staging}/{}", path_segments(&file.path)), &opened)
            .map_err(|e| {
                anyhow::Error::from(e).context(format!("uploading {}", file.local.display()))
            })?;
    }
    let committed: Committed =
        client.post_json(&format!("{staging}/commit"), &serde_json::json!({}), &[])?;
    let sent = plan.files.len() as u64;
    if committed.files != sent {
        return Err(ClientError::Protocol {
            what: format!("POST {staging}/commit"),
            server: client.server().into(),
            why: format!("it holds {} files, {sent} were sent", committed.files),
        }
        .into());
    }
    writeln!(
        out,
        "{}: {} file{}, {}",
        inert(&committed.name),
        committed.files,
        crate::plural(committed.files as usize),
        crate::human_bytes(committed.bytes)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testserver::{TestServer, client_of};

    /// A tree of files in a temporary directory: `(relative path, contents)`.
    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn paths(plan: &Plan) -> Vec<&str> {
        plan.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn a_directory_alone_is_the_root_and_with_others_goes_under_its_name() {
        let dir = tree(&[
            ("books/a.txt", "a"),
            ("books/sub/b.txt", "bb"),
            ("books/.hidden", ""),
            ("notes.txt", "n"),
        ]);
        let books = dir.path().join("books");
        let alone = plan(std::slice::from_ref(&books)).unwrap();
        assert_eq!(paths(&alone), [".hidden", "a.txt", "sub/b.txt"]);
        assert_eq!(alone.files[2].bytes, 2);
        let with_slash = plan(&[PathBuf::from(format!("{}/", books.display()))]).unwrap();
        assert_eq!(paths(&with_slash), paths(&alone));
        let both = plan(&[books.clone(), dir.path().join("notes.txt")]).unwrap();
        assert_eq!(
            paths(&both),
            [
                "books/.hidden",
                "books/a.txt",
                "books/sub/b.txt",
                "notes.txt"
            ]
        );
        let file = plan(&[dir.path().join("books/sub/b.txt")]).unwrap();
        assert_eq!(paths(&file), ["b.txt"]);
        let hidden: Vec<_> = ["a.txt", ".a", "_SUCCESS", "d/_x/a", "d.e/a_b"]
            .into_iter()
            .map(is_hidden)
            .collect();
        assert_eq!(hidden, [false, true, true, true, false]);
    }

    #[test]
    fn nothing_is_skipped_silently() {
        let dir = tree(&[("a/x.txt", "1"), ("b/x.txt", "2")]);
        std::fs::create_dir_all(dir.path().join("a/empty")).unwrap();
        let empty = plan(&[dir.path().join("a")]).unwrap();
        assert_eq!(empty.empty_dirs, [dir.path().join("a/empty")]);
        // Two files that would have the same name.
        let err = plan(&[dir.path().join("a/x.txt"), dir.path().join("b/x.txt")]).unwrap_err();
        assert!(
            err.to_string().contains("would both be uploaded as x.txt"),
            "{err}"
        );
        // A link to nothing, a link back up the tree, a missing path, no file at all.
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("b/dangling")).unwrap();
        let err = plan(&[dir.path().join("b")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("a symbolic link to nothing readable"),
            "{err:#}"
        );
        std::fs::remove_file(dir.path().join("b/dangling")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("b/up")).unwrap();
        let err = plan(&[dir.path().join("b")]).unwrap_err();
        assert!(err.to_string().contains("links back to"), "{err:#}");
        let err = plan(&[dir.path().join("missing")]).unwrap_err();
        assert_eq!(
            err.downcast_ref::<LocalError>().unwrap().class(),
            sandmill::error::ExitClass::BadInput
        );
        let err = plan(&[dir.path().join("a/empty")]).unwrap_err();
        assert!(err.to_string().starts_with("nothing to upload"), "{err}");
    }

    #[test]
    fn a_fifo_is_named_not_skipped() {
        let dir = tree(&[("d/a.txt", "a")]);
        let fifo = dir.path().join("d/pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // No mkfifo here: the other cases still run.
        }
        let err = plan(&[dir.path().join("d")]).unwrap_err();
        assert!(
            err.to_string().contains("is not a file or a directory"),
            "{err}"
        );
    }

    #[test]
    fn put_stages_every_file_then_commits() {
        let server = TestServer::start();
        let dir = tree(&[("books/a.txt", "alpha"), ("books/sub/b c.txt", "beta")]);
        let mut out = Vec::new();
        put(
            &client_of(&server),
            &[dir.path().join("books")],
            "books",
            &mut out,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "books: 2 files, 9 B\n");
        let state = server.state();
        let upload = &state.uploads["books"];
        assert_eq!(upload["a.txt"], b"alpha");
        assert_eq!(upload["sub/b c.txt"], b"beta");
    }
}
