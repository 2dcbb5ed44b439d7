//! `sandmill get DATASET --to DIR [--version V]`: list a version's files, check that every
//! path the server names stays inside DIR, then download each under a temporary name and
//! rename it into place once it is whole.

use super::LocalError;
use super::http::{Client, ClientError, path_segments, segment};
use crate::service::model::DatasetFile;
use sandmill::text::inert;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `GET /v1/datasets/NAME/files` as `{"version", "files"}`.
#[derive(serde::Deserialize)]
struct Listing {
    version: String,
    files: Vec<DatasetFile>,
}

/// Where a file the server lists goes under `dir`, or why it may not go anywhere: a path
/// must be relative, `/`-separated, with no empty, `.` or `..` component, backslash or NUL,
/// so that no answer can write outside `dir`.
pub fn local_path(dir: &Path, path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("an empty path".into());
    }
    if path.starts_with('/') {
        return Err(format!("{:?} is absolute", inert(path)));
    }
    if path.contains(['\\', '\0']) {
        return Err(format!("{:?} holds a backslash or NUL", inert(path)));
    }
    let mut local = dir.to_path_buf();
    for part in path.split('/') {
        if matches!(part, "" | "." | "..") {
            return Err(format!("{:?} has a {:?} component", inert(path), part));
        }
        local.push(part);
    }
    Ok(local)
}

/// `sandmill get`: downloads the files of `version` (the current one by default) of
/// `dataset` into `dir`, and prints what it wrote.
pub fn get(
    client: &Client,
    dataset: &str,
    dir: &Path,
    version: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let files_path = format!("/v1/datasets/{}/files", segment(dataset));
    let query: Vec<_> = version
        .map(|v| ("version", v.to_owned()))
        .into_iter()
        .collect();
    let listing: Listing = client.get_json(&files_path, &query)?;
    // Every path is checked before anything is written.
    let mut targets = Vec::with_capacity(listing.files.len());
    for file in &listing.files {
        let local = local_path(dir, &file.path).map_err(|why| ClientError::Protocol {
            what: format!("GET {files_path}"),
            server: client.server().into(),
            why: format!("it lists a file outside the dataset: {why}; nothing was written"),
        })?;
        targets.push((file, local));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| LocalError::new(format!("creating {}", dir.display()), e))?;
    let partial = Partial::create(dir)?;
    // Each file of the version listed, not of whichever is current by the time it is read.
    let query = [("version", listing.version.clone())];
    let mut bytes = 0;
    for (i, (file, local)) in targets.iter().enumerate() {
        let body = client.get_reader(
            &format!("{files_path}/{}", path_segments(&file.path)),
            &query,
        )?;
        bytes += download(body, &partial.dir.join(i.to_string()), local, file.bytes)?;
    }
    writeln!(
        out,
        "{} {}: {} file{}, {} written to {}",
        inert(dataset),
        inert(&listing.version),
        targets.len(),
        crate::plural(targets.len()),
        crate::human_bytes(bytes),
        dir.display()
    )?;
    Ok(())
}

/// The directory files are downloaded into before they are renamed into place: inside the
/// target directory (so that a rename moves them), removed when dropped, and on Ctrl-C by the
/// cleanup registry, so that no partial file is left behind.
struct Partial {
    dir: PathBuf,
}

impl Partial {
    /// Creates `.sandmill-get-PID` in `under`.
    fn create(under: &Path) -> Result<Partial, LocalError> {
        let dir = under.join(format!(".sandmill-get-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| LocalError::new(format!("creating {}", dir.display()), e))?;
        sandmill::cleanup::register(&dir);
        Ok(Partial { dir })
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        sandmill::cleanup::unregister(&self.dir);
    }
}

/// Writes `body` to `temp`, checks that it has the `expected` size, and renames it to
/// `target`: the bytes written.
fn download(
    mut body: impl std::io::Read,
    temp: &Path,
    target: &Path,
    expected: u64,
) -> anyhow::Result<u64> {
    let parent = target.parent().expect("a file under the directory");
    std::fs::create_dir_all(parent)
        .map_err(|e| LocalError::new(format!("creating {}", parent.display()), e))?;
    let mut file = std::fs::File::create(temp)
        .map_err(|e| LocalError::new(format!("creating {}", temp.display()), e))?;
    let n = std::io::copy(&mut body, &mut file)
        .map_err(|e| LocalError::new(format!("downloading {}", target.display()), e))?;
    anyhow::ensure!(
        n == expected,
        "downloading {}: got {n} bytes, the listing said {expected}; run `sandmill get` again",
        target.display()
    );
    file.sync_all()
        .map_err(|e| LocalError::new(format!("writing {}", temp.display()), e))?;
    std::fs::rename(temp, target)
        .map_err(|e| LocalError::new(format!("renaming into {}", target.display()), e))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testserver::{TestServer, client_of};

    #[test]
    fn paths_outside_the_directory_are_refused() {
        let dir = Path::new("/d");
        assert_eq!(
            local_path(dir, "part-00000"),
            Ok(PathBuf::from("/d/part-00000"))
        );
        assert_eq!(
            local_path(dir, "date=2026-03-22/part-00001"),
            Ok(PathBuf::from("/d/date=2026-03-22/part-00001"))
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "..",
            "a\\b",
            "a\0b",
        ] {
            assert!(local_path(dir, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn get_writes_every_file_of_the_version_listed() {
        let server = TestServer::start();
        server.state().dataset(
            "counts",
            "v2",
            &[
                ("part-00000", "a\t1\n"),
                ("date=2026-03-22/part-00001", "b\t2\n"),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("out");
        let mut out = Vec::new();
        get(&client_of(&server), "counts", &to, None, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("counts v2: 2 files, 8 B written to"),
            "{out}"
        );
        assert_eq!(
            std::fs::read_to_string(to.join("part-00000")).unwrap(),
            "a\t1\n"
        );
        assert_eq!(
            std::fs::read_to_string(to.join("date=2026-03-22/part-00001")).unwrap(),
            "b\t2\n"
        );
        let names: Vec<_> = std::fs::read_dir(&to)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_listing_that_escapes_writes_nothing() {
        let server = TestServer::start();
        server
            .state()
            .dataset("evil", "v1", &[("a", "1"), ("../escaped", "2")]);
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("out");
        let err = get(&client_of(&server), "evil", &to, None, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("outside the dataset"), "{err}");
        assert!(!to.exists() && !dir.path().join("escaped").exists());
    }

    #[test]
    fn a_short_download_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("part-00000");
        {
            let partial = Partial::create(dir.path()).unwrap();
            let temp = partial.dir.join("0");
            let err = download(&b"abc"[..], &temp, &target, 4).unwrap_err();
            assert!(err.to_string().contains("got 3 bytes"), "{err}");
            assert!(!target.exists());
            download(&b"abcd"[..], &temp, &target, 4).unwrap();
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["part-00000"], "the partial directory is gone");
    }
}
