//! Reference implementations of the example jobs: what the runtime and plugins must output.
//!
//! Written for obviousness, not speed, and on purpose without the SDK: whole files in memory,
//! `serde_json::Value` for JSON, a small hand-written CSV splitter, `BTreeMap`s for grouping.
//! Each job returns its expected output lines (without `\n`) sorted by byte order, the order
//! [`crate::output::read_output`] returns.
//!
//! # Panics
//! Every function here panics, naming the file and line, on input it cannot read: the inputs
//! are generated, so that is a bug in the generator or the test.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The records of a file: `(line number from 1, line)` for each line, split on `\n` with one
/// trailing `\r` removed. A last line without `\n` counts; the empty piece after a final `\n`
/// is not a line.
pub fn lines(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .collect()
}

/// Lines that JSON Lines and CSV input skip: empty or ASCII whitespace only.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The example jobs' tokeniser: lowercase ASCII `A`-`Z`, then split on every byte that is not
/// `[a-z0-9]`, dropping empty tokens.
pub fn tokens(text: &[u8]) -> Vec<Vec<u8>> {
    let mut tokens = Vec::new();
    let mut current = Vec::new();
    for &b in text {
        let b = b.to_ascii_lowercase();
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            current.push(b);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Token bytes as text: tokens are ASCII by construction.
fn ascii(token: &[u8]) -> &str {
    std::str::from_utf8(token).expect("tokens are ASCII")
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

/// `wordcount`: `word\tcount` for every token of every line of `files`.
pub fn wordcount(files: &[impl AsRef<Path>]) -> Vec<String> {
    let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for file in files {
        let bytes = read(file.as_ref());
        for (_, line) in lines(&bytes) {
            for token in tokens(line) {
                *counts.entry(token).or_default() += 1;
            }
        }
    }
    sorted(
        counts
            .iter()
            .map(|(word, n)| format!("{}\t{n}", ascii(word)))
            .collect(),
    )
}

/// Parses a JSON Lines record, naming the file and line if it is not JSON.
fn json(path: &Path, number: usize, line: &[u8]) -> Value {
    serde_json::from_slice(line).unwrap_or_else(|e| panic!("{} line {number}: {e}", path.display()))
}

/// An integer field of a JSON object.
fn json_i64(path: &Path, number: usize, doc: &Value, field: &str) -> i64 {
    doc.get(field)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{} line {number}: no integer {field:?}", path.display()))
}

/// `inverted-index`: `term\tid,id,...` over the `text` of JSON Lines documents, each id once
/// per term, ids ascending.
pub fn inverted_index(files: &[impl AsRef<Path>]) -> Vec<String> {
    let mut index: BTreeMap<Vec<u8>, BTreeSet<i64>> = BTreeMap::new();
    for file in files {
        let path = file.as_ref();
        let bytes = read(path);
        for (number, line) in lines(&bytes) {
            if is_blank(line) {
                continue;
            }
            let doc = json(path, number, line);
            let id = json_i64(path, number, &doc, "doc_id");
            let text = doc
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{} line {number}: no string \"text\"", path.display()));
            for token in tokens(text.as_bytes()) {
                index.entry(token).or_default().insert(id);
            }
        }
    }
    sorted(
        index
            .iter()
            .map(|(term, ids)| {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!("{}\t{}", ascii(term), ids.join(","))
            })
            .collect(),
    )
}

/// Per user: (events, sum of `amount_cents`).
type Revenue = BTreeMap<i64, (i64, i64)>;

fn revenue_lines(revenue: &Revenue) -> Vec<String> {
    sorted(
        revenue
            .iter()
            .map(|(user, (count, sum))| format!("{user}\t{count}\t{sum}"))
            .collect(),
    )
}

/// `revenue-by-user` on JSON Lines events: `user_id\tcount\tsum_cents`.
pub fn revenue_by_user_jsonl(files: &[impl AsRef<Path>]) -> Vec<String> {
    let mut revenue = Revenue::new();
    for file in files {
        let path = file.as_ref();
        let bytes = read(path);
        for (number, line) in lines(&bytes) {
            if is_blank(line) {
                continue;
            }
            let event = json(path, number, line);
            let user = json_i64(path, number, &event, "user_id");
            let amount = json_i64(path, number, &event, "amount_cents");
            let entry = revenue.entry(user).or_default();
            *entry = (entry.0 + 1, entry.1 + amount);
        }
    }
    revenue_lines(&revenue)
}

/// `revenue-by-user` on CSV events: the first line of each file is its header, which says
/// which columns hold `user_id` and `amount_cents`.
pub fn revenue_by_user_csv(files: &[impl AsRef<Path>]) -> Vec<String> {
    let mut revenue = Revenue::new();
    for file in files {
        let path = file.as_ref();
        let bytes = read(path);
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("{}: not UTF-8: {e}", path.display()));
        let lines = lines(text.as_bytes());
        let Some(((_, header), rows)) = lines.split_first() else {
            continue;
        };
        let header = split_csv_row(std::str::from_utf8(header).expect("checked above"));
        let column = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{}: no {name:?} column", path.display()))
        };
        let (user_col, amount_col) = (column("user_id"), column("amount_cents"));
        for &(number, row) in rows {
            if is_blank(row) {
                continue;
            }
            let fields = split_csv_row(std::str::from_utf8(row).expect("checked above"));
            assert_eq!(
                fields.len(),
                header.len(),
                "{} line {number}",
                path.display()
            );
            let int = |col: usize| -> i64 {
                fields[col].trim().parse().unwrap_or_else(|e| {
                    panic!("{} line {number}: {:?}: {e}", path.display(), fields[col])
                })
            };
            let entry = revenue.entry(int(user_col)).or_default();
            *entry = (entry.0 + 1, entry.1 + int(amount_col));
        }
    }
    revenue_lines(&revenue)
}

/// Splits one CSV line (no line end) into its fields: commas separate fields, and a field that
/// starts with `"` runs to the next lone `"`, with `""` standing for one `"`.
pub fn split_csv_row(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut at_field_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
                continue;
            }
            '"' if at_field_start => quoted = true,
            c => field.push(c),
        }
        at_field_start = false;
    }
    fields.push(field);
    fields
}

/// A string field of a JSON object.
fn json_str<'a>(path: &Path, number: usize, doc: &'a Value, field: &str) -> &'a str {
    doc.get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{} line {number}: no string {field:?}", path.display()))
}

/// `join-products`: each event (JSON Lines in `events`) joined with its product's category
/// (JSON Lines in the files `products`; the smallest category of a product listed twice),
/// one line per event, `{"event_id":..,"user_id":..,"product_id":..,"category":..,
/// "amount_cents":..}` with `"category":null` for an unknown product. Sorted.
pub fn join_products(events: &[impl AsRef<Path>], products: &[impl AsRef<Path>]) -> Vec<String> {
    let mut categories: BTreeMap<String, String> = BTreeMap::new();
    for file in products {
        let path = file.as_ref();
        let bytes = read(path);
        for (number, line) in lines(&bytes) {
            if is_blank(line) {
                continue;
            }
            let product = json(path, number, line);
            let id = json_str(path, number, &product, "product_id").to_owned();
            let category = json_str(path, number, &product, "category").to_owned();
            let entry = categories.entry(id).or_insert_with(|| category.clone());
            if category < *entry {
                *entry = category;
            }
        }
    }
    let quote = |s: &str| serde_json::to_string(s).expect("a string is JSON");
    let mut out = Vec::new();
    for file in events {
        let path = file.as_ref();
        let bytes = read(path);
        for (number, line) in lines(&bytes) {
            if is_blank(line) {
                continue;
            }
            let event = json(path, number, line);
            let product = json_str(path, number, &event, "product_id");
            let category = categories
                .get(product)
                .map_or("null".to_owned(), |c| quote(c));
            out.push(format!(
                r#"{{"event_id":{},"user_id":{},"product_id":{},"category":{category},"amount_cents":{}}}"#,
                quote(json_str(path, number, &event, "event_id")),
                json_i64(path, number, &event, "user_id"),
                quote(product),
                json_i64(path, number, &event, "amount_cents"),
            ));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, contents: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn lines_strip_line_ends_and_keep_a_last_line_without_one() {
        type Case<'a> = (&'a [u8], &'a [(usize, &'a [u8])]);
        let cases: &[Case<'_>] = &[
            (b"", &[]),
            (b"\n", &[(1, b"")]),
            (b"a\nb\n", &[(1, b"a"), (2, b"b")]),
            (b"a\r\nb", &[(1, b"a"), (2, b"b")]),
            (b"a\r\r\n\n\rb\r", &[(1, b"a\r"), (2, b""), (3, b"\rb")]),
        ];
        for (bytes, want) in cases {
            assert_eq!(lines(bytes), *want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn tokens_follow_the_example_job_rules() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("Don't STOP-me now", &["don", "t", "stop", "me", "now"]),
            ("a1b2 C3\ttab\r", &["a1b2", "c3", "tab"]),
            ("caf\u{e9} \u{c9}T\u{c9}", &["caf", "t"]),
            ("__x__", &["x"]),
        ];
        for (text, want) in cases {
            let got: Vec<Vec<u8>> = tokens(text.as_bytes());
            let want: Vec<Vec<u8>> = want.iter().map(|w| w.as_bytes().to_vec()).collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn csv_rows_split_on_commas_and_honour_quotes() {
        let cases: &[(&str, &[&str])] = &[
            ("a,b,c", &["a", "b", "c"]),
            ("", &[""]),
            ("1,,3", &["1", "", "3"]),
            ("a,", &["a", ""]),
            (r#""""#, &[""]),
            (r#""x,y",2"#, &["x,y", "2"]),
            (r#""say ""hi""",z"#, &[r#"say "hi""#, "z"]),
            (r#"a"b,c"#, &[r#"a"b"#, "c"]),
            (
                r#"1,"2026-03-22T10:00:00Z","buy, again",-50"#,
                &["1", "2026-03-22T10:00:00Z", "buy, again", "-50"],
            ),
        ];
        for (line, want) in cases {
            assert_eq!(split_csv_row(line), *want, "{line:?}");
        }
    }

    // The same cases as the plugins' own unit tests: the two implementations must agree.

    #[test]
    fn wordcount_counts_lowercased_words() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(&dir, "in.txt", "Don't stop\r\nDON'T, don't!\n\nx1 x1\tX1");
        assert_eq!(wordcount(&[f]), ["don\t3", "stop\t1", "t\t3", "x1\t3"]);
    }

    #[test]
    fn inverted_index_lists_each_document_once_per_term() {
        let dir = tempfile::tempdir().unwrap();
        let a = file(&dir, "a.jsonl", "{\"doc_id\": 10, \"text\": \"b a\"}\n  \n");
        let b = file(
            &dir,
            "b.jsonl",
            concat!(
                r#"{"text": "A a \"quoted\"", "doc_id": 9}"#,
                "\r\n",
                r#"{"doc_id": -1, "text": "b\nb"}"#,
                "\n",
                r#"{"doc_id": 10, "text": "c \u00e9\u0041"}"#,
            ),
        );
        assert_eq!(
            inverted_index(&[a, b]),
            ["a\t9,10", "b\t-1,10", "c\t10", "quoted\t9"]
        );
    }

    #[test]
    fn revenue_by_user_gives_the_same_answer_for_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let json = file(
            &dir,
            "e.jsonl",
            concat!(
                r#"{"user_id":10,"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":100}"#,
                "\n\n",
                r#"{"user_id":2,"ts":"2026-03-22T10:00:01Z","event":"refund","amount_cents":-30}"#,
                "\n",
                r#"{"user_id":10,"ts":"2026-03-22T10:00:02Z","event":"buy","amount_cents":50}"#,
                "\n",
                r#"{"user_id":-4,"ts":"2026-03-22T10:00:03Z","event":"view","amount_cents":0}"#,
            ),
        );
        let csv = file(
            &dir,
            "e.csv",
            concat!(
                "user_id,ts,event,amount_cents\r\n",
                "10,2026-03-22T10:00:00Z,buy,100\r\n",
                "2,2026-03-22T10:00:01Z,refund,-30\r\n",
                " \r\n",
                "10,2026-03-22T10:00:02Z,\"buy, again\",50\r\n",
                "-4,2026-03-22T10:00:03Z,view,\"0\"\r\n",
            ),
        );
        let header_only = file(&dir, "h.csv", "amount_cents,user_id\n");
        let want = ["-4\t1\t0", "10\t2\t150", "2\t1\t-30"];
        assert_eq!(revenue_by_user_jsonl(&[json]), want);
        assert_eq!(revenue_by_user_csv(&[csv, header_only]), want);
    }
}
