//! `--partitioner range` end to end (TeraSort's method): cut points from a sample of the map
//! output keys give even partitions whose part files, concatenated in order, are sorted and
//! hold what the hashed run holds; the cuts are in the plan, the manifest and the digest.

use crate::{Run, arg, sandmill};
use sandmill_tests::generate::Rng;
use sandmill_tests::output::{part_bytes, part_files, read_part};
use sandmill_tests::plugins::WORDCOUNT;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn job(input: &Path, out: &Path, extra: &[&str]) -> Run {
    let args = [
        "run",
        WORDCOUNT,
        "--input",
        arg(input),
        "--output",
        arg(out),
    ];
    sandmill(args.iter().chain(extra))
}

/// About 1.4 MB of words `w00000` … `w19999` drawn evenly: no key is hot.
fn even_words(dir: &Path) -> PathBuf {
    let path = dir.join("words.txt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut rng = Rng::new(14);
    for _ in 0..20_000 {
        let words: Vec<String> = (0..10)
            .map(|_| format!("w{:05}", rng.below(20_000)))
            .collect();
        writeln!(file, "{}", words.join(" ")).unwrap();
    }
    drop(file);
    path
}

/// The summary's `max/mean` of pairs per partition.
pub fn skew(run: &Run) -> f64 {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("partitions:"))
        .unwrap_or_default();
    line.rsplit("max/mean ")
        .next()
        .and_then(|s| s.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no max/mean in the summary\n{run}"))
}

/// The lines of the part files of `out`, concatenated in part order.
fn concatenated(out: &Path) -> Vec<String> {
    part_files(out).iter().flat_map(|p| read_part(p)).collect()
}

fn key(line: &str) -> &str {
    line.split('\t').next().unwrap()
}

const SPLIT: [&str; 4] = ["--reducers", "4", "--split-size", "256KiB"];

#[test]
fn range_partitions_are_even_and_their_parts_concatenate_to_the_sorted_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = even_words(dir.path());
    let (hashed, ranged) = (dir.path().join("hashed"), dir.path().join("ranged"));
    job(&input, &hashed, &SPLIT).assert_success();
    let range = [&SPLIT[..], &["--partitioner", "range"]].concat();
    let run = job(&input, &ranged, &range);
    run.assert_success();
    let skew = skew(&run);
    assert!(
        skew < 1.15,
        "range partitions are even: max/mean {skew}\n{run}"
    );

    let lines = concatenated(&ranged);
    assert!(
        lines.windows(2).all(|w| key(&w[0]) < key(&w[1])),
        "the part files in order are sorted by key"
    );
    let mut expected = concatenated(&hashed);
    expected.sort();
    assert_eq!(lines.len(), expected.len());
    assert!(lines == expected, "the same lines as the hashed run");
    // Every partition got a share: four non-empty part files.
    let parts = part_files(&ranged);
    assert_eq!(parts.len(), 4);
    assert!(parts.iter().all(|p| !read_part(p).is_empty()));

    // The cuts are in the manifest, as text.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ranged.join("_MANIFEST.json")).unwrap()).unwrap();
    let cuts = manifest["range_cuts"].as_array().expect("range_cuts");
    assert_eq!(cuts.len(), 3, "{manifest}");
    assert!(cuts.iter().all(|c| c.as_str().unwrap().starts_with('w')));
    let hashed_manifest = std::fs::read_to_string(hashed.join("_MANIFEST.json")).unwrap();
    assert!(!hashed_manifest.contains("range_cuts"));

    // The same job again is unchanged (its digest holds the same cuts) ...
    let bytes = part_bytes(&ranged);
    let again = job(&input, &ranged, &range);
    again.assert_success();
    assert!(again.stdout.contains("unchanged"), "{again}");
    // ... and forced, it writes the same bytes, in a process per task as on threads.
    let forced = [&range[..], &["--force", "--executor", "process"]].concat();
    job(&input, &ranged, &forced).assert_success();
    assert_eq!(part_bytes(&ranged), bytes);
    // The hashed job over the same output is another job.
    let hashed_again = job(&input, &ranged, &SPLIT);
    hashed_again.assert_success();
    assert!(!hashed_again.stdout.contains("unchanged"), "{hashed_again}");
}

#[test]
fn a_dry_run_shows_the_cut_points() {
    let dir = tempfile::tempdir().unwrap();
    let input = even_words(dir.path());
    let out = dir.path().join("out");
    let run = job(
        &input,
        &out,
        &[&SPLIT[..], &["--partitioner", "range", "--dry-run"]].concat(),
    );
    run.assert_success();
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("ranges:"))
        .unwrap_or_else(|| panic!("no ranges line\n{run}"));
    assert!(line.contains("3 cut points"), "{line}");
    assert!(line.contains("\"w"), "{line}");
    assert!(!out.exists());
    // The sample is deterministic: the same cuts every time.
    let again = job(
        &input,
        &out,
        &[&SPLIT[..], &["--partitioner", "range", "--dry-run"]].concat(),
    );
    assert!(again.stdout.contains(line), "{again}");
}

#[test]
fn few_distinct_keys_and_one_reducer_are_fine_and_an_unknown_partitioner_names_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "b a b\nb b a\n").unwrap();
    // Two distinct keys for eight partitions: one cut, the other partitions empty.
    let out = dir.path().join("few");
    let run = job(&input, &out, &["--partitioner", "range", "--reducers", "8"]);
    run.assert_success();
    assert_eq!(concatenated(&out), ["a\t2", "b\t4"]);
    assert_eq!(read_part(&out.join("part-00000")), ["a\t2"]);
    assert_eq!(read_part(&out.join("part-00001")), ["b\t4"]);
    // One reducer: no cut at all, and no sample.
    let one = dir.path().join("one");
    let run = job(&input, &one, &["--partitioner", "range", "--reducers", "1"]);
    run.assert_success();
    assert_eq!(concatenated(&one), ["a\t2", "b\t4"]);
    let manifest = std::fs::read_to_string(one.join("_MANIFEST.json")).unwrap();
    assert!(manifest.contains("\"range_cuts\": []"), "{manifest}");

    let bad = job(
        &input,
        &dir.path().join("bad"),
        &["--partitioner", "sorted"],
    );
    assert!(!bad.status.success());
    assert!(
        bad.stderr.contains("hash") && bad.stderr.contains("range"),
        "{bad}"
    );
    let zero = job(
        &input,
        &dir.path().join("zero"),
        &["--partitioner", "range", "--sample-size", "0"],
    );
    assert!(zero.assert_error().contains("--sample-size"), "{zero}");
}
