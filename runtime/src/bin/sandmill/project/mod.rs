//! `sandmill new` and `sandmill build`: job projects in Rust, Python, JavaScript and C.
//!
//! A project is a directory whose language is told by the one file that marks it (`Cargo.toml`,
//! `job.py`, `job.js`, `job.c`). `sandmill new` writes the word count of `plugins/wordcount` in
//! that language, with a README and a test; the Python, JavaScript and C projects get their own
//! copy of the SDK in `sandmill/` (embedded in this binary, so the copy always matches the
//! contract this `sandmill` runs), which makes the project testable with nothing but the
//! language's own interpreter or compiler. `sandmill build` runs the language's toolchain and
//! writes the component to `build/NAME.wasm`; a toolchain that is missing is named, with the
//! command that installs it.

mod c;
mod js;
mod python;
mod rust;
mod toolchain;

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

pub use toolchain::BuildError;

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with sandmill-sdk (cargo and the wasm32-wasip2 target).
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript (ES modules), with componentize-js.
    Js,
    /// C, with clang, wasi-libc and wit-bindgen's C generator.
    C,
}

impl Lang {
    const ALL: [Lang; 4] = [Lang::Rust, Lang::Python, Lang::Js, Lang::C];

    /// The file that marks a project of this language.
    fn marker(self) -> &'static str {
        match self {
            Lang::Rust => rust::MARKER,
            Lang::Python => python::MARKER,
            Lang::Js => js::MARKER,
            Lang::C => c::MARKER,
        }
    }

    /// The files `sandmill new` writes, paths relative to the project, for a project `name`.
    fn template(self, name: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
        match self {
            Lang::Rust => rust::template(name),
            Lang::Python => python::template(name),
            Lang::Js => js::template(name),
            Lang::C => c::template(name),
        }
    }

    /// Builds `project` into the component `out`.
    fn build(self, project: &Project, out: &Path) -> anyhow::Result<()> {
        match self {
            Lang::Rust => rust::build(project, out),
            Lang::Python => python::build(project, out),
            Lang::Js => js::build(project, out),
            Lang::C => c::build(project, out),
        }
    }

    fn display(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
            Lang::C => "C",
        }
    }
}

/// A job project on disk.
#[derive(Debug)]
pub struct Project {
    /// Its directory.
    pub dir: PathBuf,
    /// Its name: the directory's name, which names the component too.
    pub name: String,
    /// Its language.
    pub lang: Lang,
}

impl Project {
    /// The project in `dir`, its language told by the file that marks it.
    fn open(dir: &Path) -> anyhow::Result<Self> {
        if !dir.is_dir() {
            bail!(
                "{} is not a directory; pass a job project's directory (make one with `sandmill \
                 new DIR --lang rust|python|js|c`)",
                dir.display()
            );
        }
        let found: Vec<Lang> = Lang::ALL
            .into_iter()
            .filter(|lang| dir.join(lang.marker()).is_file())
            .collect();
        let lang = match found[..] {
            [lang] => lang,
            [] => bail!(
                "{} is not a job project: it has none of {}; make one with `sandmill new DIR \
                 --lang rust|python|js|c`",
                dir.display(),
                Lang::ALL.map(Lang::marker).join(", ")
            ),
            _ => bail!(
                "{} has {}: a project is in one language; keep only one of them",
                dir.display(),
                found
                    .iter()
                    .map(|l| l.marker())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        };
        let name = project_name(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            name,
            lang,
        })
    }
}

/// A project's name from its directory: its last component, which must be usable as a crate,
/// package and file name.
fn project_name(dir: &Path) -> anyhow::Result<String> {
    let absolute =
        std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let name = absolute
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s),
            _ => None,
        })
        .next_back()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "{name:?} (from {}) cannot name a job: use a directory name of ASCII letters, digits, \
             `-` and `_`, starting with a letter",
            dir.display()
        );
    }
    Ok(name)
}

/// `sandmill new DIR --lang LANG`.
pub fn new(dir: &Path, lang: Lang) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        bail!(
            "{} exists and is not empty; `sandmill new` makes a new directory (pick another \
             name, or remove it first)",
            dir.display()
        );
    }
    let name = project_name(dir)?;
    let files = lang.template(&name)?;
    for (path, contents) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "created {} job `{name}` in {} ({} files): the word count; see its README.md",
        lang.display(),
        dir.display(),
        files.len()
    );
    println!("build it with: sandmill build {}", dir.display());
    Ok(())
}

/// `sandmill build [DIR] [--output FILE]`: returns the component's path.
pub fn build(dir: &Path, output: Option<&Path>) -> anyhow::Result<PathBuf> {
    let project = Project::open(dir)?;
    let out = match output {
        Some(out) => out.to_path_buf(),
        None => project
            .dir
            .join("build")
            .join(format!("{}.wasm", project.name)),
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let out =
        std::path::absolute(&out).with_context(|| format!("cannot resolve {}", out.display()))?;
    eprintln!(
        "building {} job `{}` in {}",
        project.lang.display(),
        project.name,
        project.dir.display()
    );
    project.lang.build(&project, &out)?;
    Ok(out)
}

/// Files embedded in this binary, as `(path in the project, contents)`.
type Embedded = &'static [(&'static str, &'static str)];

/// The files of an example project (`plugins/LANG/wordcount`) as a new project `name` gets
/// them: where the example says its own name (its README's title, its component's path,
/// `package.json`'s name), the project's.
fn example(embedded: Embedded, name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let renames = [
        ("# wordcount\n", format!("# {name}\n")),
        ("build/wordcount.", format!("build/{name}.")),
        ("\"name\": \"wordcount\"", format!("\"name\": \"{name}\"")),
    ];
    files("", embedded, name)
        .into_iter()
        .map(|(path, contents)| {
            let mut text = String::from_utf8(contents).expect("embedded as text");
            for (from, to) in &renames {
                text = text.replace(from, to);
            }
            (path, text.into_bytes())
        })
        .collect()
}

/// The files of `embedded` under `prefix`, with `{{name}}` replaced by `name`.
fn files(prefix: &str, embedded: Embedded, name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    embedded
        .iter()
        .map(|(path, contents)| {
            (
                Path::new(prefix).join(path),
                contents.replace("{{name}}", name).into_bytes(),
            )
        })
        .collect()
}

/// For the language modules' tests: that every file of the SDK and the example is embedded.
#[cfg(test)]
mod testutil {
    use super::Embedded;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The files under `dir`, relative to it and `/`-separated, leaving out symlinks (an
    /// example's link to the SDK), `__pycache__`, and the relative paths in `skip`.
    pub fn listed(dir: &Path, skip: &[&str]) -> BTreeSet<String> {
        fn walk(root: &Path, dir: &Path, skip: &[&str], found: &mut BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let kind = entry.file_type().unwrap();
                if kind.is_symlink()
                    || entry.file_name() == "__pycache__"
                    || skip.contains(&relative.as_str())
                {
                    continue;
                }
                if kind.is_dir() {
                    walk(root, &path, skip, found);
                } else {
                    found.insert(relative);
                }
            }
        }
        let mut found = BTreeSet::new();
        walk(dir, dir, skip, &mut found);
        found
    }

    /// The paths of `files`.
    pub fn embedded(files: Embedded) -> BTreeSet<String> {
        files.iter().map(|(path, _)| (*path).to_owned()).collect()
    }

    /// The text of the file `path` among a template's `files`.
    pub fn text(files: &[(std::path::PathBuf, Vec<u8>)], path: &str) -> String {
        let (_, contents) = files
            .iter()
            .find(|(p, _)| p == Path::new(path))
            .unwrap_or_else(|| panic!("{path} is not in the template"));
        String::from_utf8(contents.clone()).unwrap()
    }

    /// The repository's root.
    pub fn repo() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }
}
