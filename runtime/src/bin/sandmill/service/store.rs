//! Where the service keeps things on disk (`docs/service.md`, "Data directory"), the names
//! tenants may use, and which paths a tenant's job may read: its own uploads and datasets, and
//! what lies under the input roots the operator granted it. Nothing else on the server's disk
//! is reachable through a name.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The layout of a service's data directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Checks a tenant, upload or dataset name: 1 to 64 of `a-z 0-9 - _`, starting with a letter
/// or digit.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name {:?} is not 1 to 64 characters of a-z, 0-9, - and _, starting with a \
             letter or digit",
            sandmill::text::inert(name)
        ))
    }
}

/// Checks a relative file path inside an upload: `/`-separated names, none empty, `.` or
/// `..`, none starting with `.` or `_` (which jobs would skip).
pub fn check_relative(path: &str) -> Result<PathBuf, String> {
    let bad = || {
        format!(
            "file path {:?} must be relative, /-separated names without `..`, none starting \
             with `.` or `_`",
            sandmill::text::inert(path)
        )
    };
    if path.is_empty() || path.len() > 1024 || path.contains('\0') || path.contains('\\') {
        return Err(bad());
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        if part.is_empty() || part.starts_with('.') || part.starts_with('_') {
            return Err(bad());
        }
        out.push(part);
    }
    Ok(out)
}

/// What a job input name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The path the job reads.
    pub path: PathBuf,
    /// Its size now (the files under it).
    pub bytes: u64,
}

impl Store {
    /// The layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.root.join("service.db")
    }

    /// The compile cache key's file.
    pub fn key_file(&self) -> PathBuf {
        self.root.join("service.key")
    }

    /// The compile cache.
    pub fn compiled(&self) -> PathBuf {
        self.root.join("compiled")
    }

    /// A tenant's space.
    pub fn tenant(&self, tenant: &str) -> PathBuf {
        self.root.join("tenants").join(tenant)
    }

    /// A tenant's plugin, by SHA-256.
    pub fn plugin(&self, tenant: &str, sha256: &str) -> PathBuf {
        self.tenant(tenant)
            .join("plugins")
            .join(format!("{sha256}.wasm"))
    }

    /// A tenant's uploads.
    pub fn uploads(&self, tenant: &str) -> PathBuf {
        self.tenant(tenant).join("uploads")
    }

    /// A tenant's datasets.
    pub fn datasets(&self, tenant: &str) -> PathBuf {
        self.tenant(tenant).join("datasets")
    }

    /// A job's working files (task specs, the publish summary).
    pub fn job_dir(&self, tenant: &str, job: &str) -> PathBuf {
        self.tenant(tenant).join("jobs").join(job)
    }

    /// Where a new upload is assembled before it replaces the named one.
    pub fn staging(&self, tenant: &str, id: &str) -> PathBuf {
        self.tenant(tenant).join("staging").join(id)
    }

    /// Resolves a job input: one of the tenant's uploads or datasets by name, or an absolute
    /// path under one of `roots` (canonical directories), after resolving symbolic links.
    pub fn resolve_input(
        &self,
        tenant: &str,
        roots: &[String],
        input: &str,
    ) -> Result<Resolved, String> {
        if input.starts_with('/') {
            let canonical = fs::canonicalize(input)
                .map_err(|e| format!("input {}: {e}", sandmill::text::inert(input)))?;
            let granted = roots.iter().any(|root| canonical.starts_with(root));
            if !granted {
                return Err(format!(
                    "input {} is not under an input root granted to tenant {tenant} ({}); the \
                     operator grants roots with `sandmill tenant add --input-root`",
                    sandmill::text::inert(input),
                    if roots.is_empty() {
                        "it has none".to_owned()
                    } else {
                        roots.join(", ")
                    }
                ));
            }
            let bytes = input_size(&canonical);
            return Ok(Resolved {
                path: canonical,
                bytes,
            });
        }
        check_name("input", input)?;
        for dir in [self.uploads(tenant), self.datasets(tenant)] {
            let path = dir.join(input);
            if path.exists() {
                let bytes = input_size(&path);
                return Ok(Resolved { path, bytes });
            }
        }
        Err(format!(
            "input {input} is neither an upload nor a dataset of tenant {tenant}: `sandmill put \
             FILES --as {input}` uploads one, or name a granted path"
        ))
    }

    /// The bytes a tenant's space takes on disk: plugins, uploads, datasets (every version).
    pub fn storage(&self, tenant: &str) -> u64 {
        size_of(&self.tenant(tenant).join("plugins"))
            + size_of(&self.uploads(tenant))
            + size_of(&self.datasets(tenant))
    }
}

/// The bytes of the files under `path` (not following symbolic links, so that a dataset's
/// versions are counted once).
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.file_type().is_symlink() {
        // A dataset's link: count what it points to when it is the path asked about.
        return fs::metadata(path).map_or(0, |m| if m.is_dir() { dir_size(path) } else { m.len() });
    }
    if meta.is_dir() {
        dir_size(path)
    } else {
        meta.len()
    }
}

/// The bytes of the files a job reads under `path`: as [`size_of`], but skipping the names
/// a job skips (starting with `.` or `_`, such as a dataset's `_MANIFEST.json`).
pub fn input_size(path: &Path) -> u64 {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => list_files(path)
            .map(|files| {
                files
                    .iter()
                    .filter(|(p, _)| !p.split('/').any(|n| n.starts_with('_')))
                    .map(|(_, b)| b)
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// The names in `dir` that do not start with `.`, sorted (none if it cannot be read).
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The files under `dir`, as `/`-separated relative paths with their sizes, sorted; names
/// starting with `.` are skipped.
pub fn list_files(dir: &Path) -> io::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let meta = fs::metadata(&path)?;
            if meta.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let rel: Vec<String> = rel
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect();
                out.push((rel.join("/"), meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_relative_paths() {
        for good in ["a", "books-2026", "x_1", "9"] {
            assert!(check_name("dataset", good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "_a", "A", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(check_name("dataset", bad).is_err(), "{bad}");
        }
        assert_eq!(check_relative("a/b.txt").unwrap(), PathBuf::from("a/b.txt"));
        for bad in [
            "", "/a", "a//b", "../a", "a/..", "a/./b", ".hidden", "a/_x", "a\\b",
        ] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inputs_resolve_only_inside_the_tenants_space_and_its_roots() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("data"));
        fs::create_dir_all(store.uploads("a").join("books")).unwrap();
        fs::write(store.uploads("a").join("books/x.txt"), "hello").unwrap();
        fs::create_dir_all(store.uploads("b").join("secret")).unwrap();
        let granted = dir.path().join("granted");
        fs::create_dir_all(&granted).unwrap();
        fs::write(granted.join("g.txt"), "12").unwrap();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, "no").unwrap();
        // A link inside a granted root that leads out of it.
        std::os::unix::fs::symlink(&outside, granted.join("escape")).unwrap();
        let roots = vec![fs::canonicalize(&granted).unwrap().display().to_string()];

        fs::write(store.uploads("a").join("books/_SUCCESS"), "skipped").unwrap();
        let books = store.resolve_input("a", &roots, "books").unwrap();
        assert_eq!(books.bytes, 5);
        assert_eq!(size_of(&store.uploads("a")), 12);
        assert!(store.resolve_input("a", &roots, "secret").is_err());
        assert!(
            store
                .resolve_input("a", &roots, "../b/uploads/secret")
                .is_err()
        );
        let g = store
            .resolve_input("a", &roots, &granted.join("g.txt").display().to_string())
            .unwrap();
        assert_eq!(g.bytes, 2);
        for bad in [
            outside.display().to_string(),
            granted.join("escape").display().to_string(),
            granted.join("../outside.txt").display().to_string(),
        ] {
            let err = store.resolve_input("a", &roots, &bad).unwrap_err();
            assert!(err.contains("not under an input root"), "{bad}: {err}");
        }
        assert!(store.resolve_input("b", &[], "books").is_err());
    }
}
