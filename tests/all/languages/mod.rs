//! Jobs in Python, JavaScript and C, built from source with `sandmill build` and compared byte
//! for byte with the Rust jobs on the same data; `sandmill new` and `sandmill build` as a new
//! user runs them.
//!
//! The toolchains come from `scripts/setup-toolchain.sh`, which `scripts/test.sh` runs first;
//! a test whose toolchain is missing fails with `sandmill build`'s message naming what to
//! install.

mod c;
mod js;
mod python;
mod rust;

use crate::{Run, arg, sandmill};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the project `dir` with `sandmill build` into a component under `CARGO_TARGET_TMPDIR`
/// (so that the repository's examples leave no `build/` behind) and returns its path. Each
/// project is built once per test process, however many tests ask for it.
pub fn build(dir: &Path) -> PathBuf {
    type Built = Arc<OnceLock<PathBuf>>;
    static BUILT: Mutex<BTreeMap<PathBuf, Built>> = Mutex::new(BTreeMap::new());
    let once = BUILT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(dir.to_path_buf())
        .or_default()
        .clone();
    once.get_or_init(|| {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let lang = dir.parent().unwrap().file_name().unwrap().to_string_lossy();
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("languages")
            .join(format!("{lang}-{name}.wasm"));
        let run = sandmill(["build", arg(dir), "--output", arg(&out)]);
        run.assert_success();
        assert_eq!(run.stdout.trim_end(), out.display().to_string(), "{run}");
        out
    })
    .clone()
}

/// Runs `plugin` on `input` into `out` with `args`.
pub fn run_job(plugin: &Path, input: &Path, out: &Path, args: &[&str]) -> Run {
    let mut all = vec![
        "run",
        arg(plugin),
        "--input",
        arg(input),
        "--output",
        arg(out),
    ];
    all.extend_from_slice(args);
    sandmill(all)
}

/// Every part file of `dir` (the top level and every output partition), as (path relative to
/// `dir`, contents), sorted by path.
pub fn parts(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() && !name.starts_with('.') {
                walk(root, &path, found);
            } else if name.starts_with("part-") {
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                found.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// Runs `plugin` and the Rust `reference` plugin on `input` with the same `args` and checks
/// that they write the same part files, byte for byte. Returns the plugin's run.
pub fn assert_same_output(plugin: &Path, reference: &str, input: &Path, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (got, want) = (dir.path().join("got"), dir.path().join("want"));
    let run = run_job(plugin, input, &got, args);
    run.assert_success();
    run_job(Path::new(reference), input, &want, args).assert_success();
    let (got_parts, want_parts) = (parts(&got), parts(&want));
    assert!(
        want_parts.iter().any(|(_, bytes)| !bytes.is_empty()),
        "the reference wrote nothing: the comparison would prove nothing"
    );
    let names = |p: &[(PathBuf, Vec<u8>)]| p.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got_parts), names(&want_parts), "{run}");
    for ((name, got), (_, want)) in got_parts.iter().zip(&want_parts) {
        if got != want {
            let got = String::from_utf8_lossy(got);
            let want = String::from_utf8_lossy(want);
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(g, w)| g != w)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            panic!(
                "{}: {} differs from the Rust job's at line {}: got {:?}, want {:?}\n{run}",
                plugin.display(),
                name.display(),
                first + 1,
                got.lines().nth(first),
                want.lines().nth(first),
            );
        }
    }
    run
}

/// The flags that make every key group stream through `host.next-values`: many small splits,
/// so that a word has one combined count per map task, and key-group batches of 64 bytes, so
/// that a group of more than eight values does not fit one.
pub const STREAMING: &[&str] = &["--split-size", "16KiB", "--group-batch-size", "64"];

/// Text that a word count written in another language could get wrong: every byte value
/// (invalid UTF-8, NUL, lone `\r`, tabs), non-ASCII capitals that must stay as they are, CRLF
/// and missing line ends, digits, a 64 KiB word, an empty file, and one word on 100,000 lines.
pub fn tricky_text(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = sandmill_tests::generate::Rng::new(7);
    let mut bytes = Vec::new();
    for _ in 0..3000 {
        let len = rng.below(80) as usize;
        bytes.extend((0..len).map(|_| {
            let b = rng.below(255) as u8;
            if b == b'\n' { b'\r' } else { b }
        }));
        bytes.extend_from_slice(if rng.percent(30) { b"\r\n" } else { b"\n" });
    }
    std::fs::write(dir.join("bytes.txt"), &bytes).unwrap();
    let words = "\u{c9}T\u{c9} \u{c9}t\u{e9} ete \u{130}stanbul STRASSE stra\u{df}e Stra\u{df}e \
                 x1 X1 1x 007 7 _a_ a-b a.b don't DON'T \u{1f600}smile\u{1f600} \t tab\tTAB\n";
    std::fs::write(dir.join("words.txt"), words.repeat(50)).unwrap();
    let long = format!("{} short {}", "Ab".repeat(32 << 10), "z".repeat(1000));
    std::fs::write(dir.join("long.txt"), long).unwrap();
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    std::fs::write(dir.join("hot.txt"), "The\n".repeat(100_000)).unwrap();
    dir.to_path_buf()
}

#[test]
fn every_languages_wordcount_matches_the_rust_one_on_tricky_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = tricky_text(&dir.path().join("text"));
    for lang in ["python", "js", "c"] {
        let plugin = build(&repo().join("plugins").join(lang).join("wordcount"));
        let wordcount = sandmill_tests::plugins::WORDCOUNT;
        assert_same_output(&plugin, wordcount, &text, &["--reducers", "2"]);
        assert_same_output(&plugin, wordcount, &text, STREAMING);
    }
}
