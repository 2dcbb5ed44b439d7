//! Seeded, deterministic input generators: the same seed always writes the same bytes.
//!
//! Each generator takes `(dir, seed, approx_bytes)`, writes a set of files into `dir` and returns
//! their paths, sorted. The sets are built to hit the input edge cases:
//!
//! - one file holds about half of `approx_bytes`, so any smaller `--split-size` cuts it, and a
//!   few of its lines are longer than 2500 bytes (longer than a small split);
//! - one file has CRLF line ends, one has a last line without `\n`, one has blank and
//!   whitespace-only lines, and one is empty (for CSV: a header and no rows).
//!
//! What the files contain is checked by nothing here: [`crate::reference`] computes the expected
//! output from the files themselves.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A tiny deterministic PRNG (splitmix64). Not for anything but test data.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    ///
    /// # Panics
    /// If `n` is zero.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Multiply-shift: unbiased enough for test data, and no loop.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index into a collection of `len` items.
    ///
    /// # Panics
    /// If `len` is zero.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A number in `lo..=hi`.
    ///
    /// # Panics
    /// If `lo > hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "Rng::between({lo}, {hi})");
        let span = (i128::from(hi) - i128::from(lo) + 1) as u128;
        let offset = (u128::from(self.next_u64()) * span) >> 64;
        (i128::from(lo) + offset as i128) as i64
    }

    /// True with a probability of `percent` in 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    ///
    /// # Panics
    /// If `items` is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index into `len` items where low indices come far more often than high ones, so that
    /// some words are common and most are rare, roughly as in real text.
    pub fn skewed(&mut self, len: usize) -> usize {
        let u = self.below(1 << 20) as f64 / f64::from(1 << 20);
        ((u * u * u) * len as f64) as usize
    }
}

/// How one file of a set is laid out. Every generator writes the same five shapes.
struct Layout {
    /// The file name without its extension.
    stem: &'static str,
    /// Its share of `approx_bytes`, in percent.
    percent: usize,
    /// Lines end with `\r\n` instead of `\n`.
    crlf: bool,
    /// The last line ends with a line end (otherwise it is a non-empty line without one).
    final_newline: bool,
    /// Blank and whitespace-only lines are mixed in between records.
    blank_lines: bool,
}

const LAYOUTS: [Layout; 5] = [
    Layout {
        stem: "0-large",
        percent: 50,
        crlf: false,
        final_newline: true,
        blank_lines: false,
    },
    Layout {
        stem: "1-crlf",
        percent: 15,
        crlf: true,
        final_newline: true,
        blank_lines: false,
    },
    Layout {
        stem: "2-no-final-newline",
        percent: 10,
        crlf: false,
        final_newline: false,
        blank_lines: false,
    },
    Layout {
        stem: "3-blank-lines",
        percent: 25,
        crlf: false,
        final_newline: true,
        blank_lines: true,
    },
    Layout {
        stem: "4-empty",
        percent: 0,
        crlf: false,
        final_newline: true,
        blank_lines: false,
    },
];

/// Lines that hold no record: skipped by JSON Lines and CSV, and word-free for text.
const BLANKS: [&str; 4] = ["", " ", "\t", "  \t "];

/// Joins `lines` with the layout's line end; the last line gets one only if the layout says so.
fn assemble(lines: &[String], layout: &Layout) -> Vec<u8> {
    let end = if layout.crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        if i + 1 < lines.len() || layout.final_newline {
            out.push_str(end);
        }
    }
    out.into_bytes()
}

/// Writes `bytes` to `dir/name` and returns the path.
///
/// # Panics
/// If the file cannot be written.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// Builds the lines of one file: calls `record` until the lines hold about `budget` bytes, with
/// blank lines mixed in if the layout asks for them. The last line is always a record.
fn fill(
    rng: &mut Rng,
    layout: &Layout,
    budget: usize,
    mut record: impl FnMut(&mut Rng) -> String,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut bytes = 0;
    while bytes < budget {
        if layout.blank_lines && rng.percent(12) {
            lines.push(rng.pick(&BLANKS).to_string());
        }
        let line = record(rng);
        bytes += line.len() + 1;
        lines.push(line);
    }
    if !layout.final_newline && lines.last().is_none_or(|l| l.trim().is_empty()) {
        lines.push(record(rng));
    }
    lines
}

/// One of `items`: [`Rng::pick`] for string tables, without the double reference.
fn one_of(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.index(items.len())]
}

/// Words for text and documents, most common first. Mixed case, apostrophes, digits,
/// punctuation and non-ASCII letters: tokenising must lowercase ASCII only and split on
/// everything else.
const WORDS: &[&str] = &[
    "the",
    "The",
    "of",
    "and",
    "map",
    "THE",
    "reduce",
    "Reduce",
    "a",
    "don't",
    "Don't",
    "it's",
    "shuffle",
    "x1",
    "X1",
    "2026",
    "007",
    "split,",
    "key.",
    "value;",
    "(sorted)",
    "\"quoted\"",
    "'single'",
    "e-mail",
    "v2.0",
    "foo_bar",
    "C++",
    "100%",
    "yes!",
    "what?",
    "a/b",
    "o'clock",
    "rock'n'roll",
    "café",
    "naïve",
    "Ärger",
    "über",
    "São",
    "ΑΒΓ",
    "日本語",
    "smörgåsbord",
    "--",
    "...",
    "#tag",
    "user@example",
    "12:30",
    "3.14",
    "MiXeD",
    "ZZZ",
    "zz9",
];

/// Separators between words on a line.
const SEPARATORS: &[&str] = &[" ", " ", " ", " ", "  ", "\t", ", ", " - ", "; ", " \t "];

/// A word: usually from [`WORDS`], sometimes random letters and digits for a long tail of rare
/// words.
fn word(rng: &mut Rng) -> String {
    if rng.percent(15) {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let len = rng.between(1, 7) as usize;
        (0..len).map(|_| char::from(*rng.pick(CHARS))).collect()
    } else {
        WORDS[rng.skewed(WORDS.len())].to_string()
    }
}

/// A line of up to `max_words` words.
fn words_line(rng: &mut Rng, max_words: i64) -> String {
    let mut line = String::new();
    if rng.percent(5) {
        line.push_str(one_of(rng, SEPARATORS));
    }
    for i in 0..rng.between(0, max_words) {
        if i > 0 {
            line.push_str(one_of(rng, SEPARATORS));
        }
        line.push_str(&word(rng));
    }
    line
}

/// A line of at least `min_bytes` bytes.
fn long_line(rng: &mut Rng, min_bytes: usize) -> String {
    let mut line = String::new();
    while line.len() < min_bytes {
        line.push_str(&word(rng));
        line.push_str(one_of(rng, SEPARATORS));
    }
    line.push_str("end");
    line
}

/// Writes text files for word count; see the module docs for the shapes. Besides the five
/// shared layouts there are `blank-lines.txt` (whitespace only, no words) and `tail.txt` (one
/// word, no line end). Creates `dir` if need be.
pub fn text(dir: &Path, seed: u64, approx_bytes: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let mut rng = Rng::new(seed);
    let mut paths = Vec::new();
    for layout in &LAYOUTS {
        let budget = approx_bytes * layout.percent / 100;
        let lines = if budget == 0 {
            Vec::new()
        } else {
            let mut lines = fill(&mut rng, layout, budget, |rng| {
                if rng.percent(4) {
                    String::new()
                } else {
                    words_line(rng, 16)
                }
            });
            if layout.stem == "0-large" {
                // Lines longer than a small split, so that some splits own no line start.
                for at in [lines.len() / 3, 2 * lines.len() / 3] {
                    let line = long_line(&mut rng, 2500);
                    lines.insert(at, line);
                }
            }
            if layout.crlf {
                // A lone `\r` inside a line is not a line end.
                lines.insert(lines.len() / 2, "mid\rline Carriage\rReturn".to_string());
            }
            lines
        };
        let bytes = if lines.is_empty() {
            Vec::new()
        } else {
            assemble(&lines, layout)
        };
        paths.push(write(dir, &format!("{}.txt", layout.stem), &bytes));
    }
    paths.push(write(dir, "blank-lines.txt", b"\n \n\t\n\r\n   \n"));
    paths.push(write(dir, "tail.txt", b"Tail"));
    paths.sort();
    paths
}

/// Encodes `s` as a JSON string literal, choosing at random among the equivalent escapes
/// (`\t` or `\u0009`, `/` or `\/`, raw UTF-8 or `\uXXXX` with surrogate pairs) so that a reader
/// must decode all of them.
pub fn json_string(rng: &mut Rng, s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if rng.percent(50) => out.push_str("\\t"),
            '/' if rng.percent(50) => out.push_str("\\/"),
            c if u32::from(c) < 0x20 => write!(out, "\\u{:04x}", u32::from(c)).unwrap(),
            c if (!c.is_ascii() && rng.percent(40))
                || (c.is_ascii_alphabetic() && rng.percent(3)) =>
            {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    if rng.percent(50) {
                        write!(out, "\\u{unit:04x}").unwrap();
                    } else {
                        write!(out, "\\u{unit:04X}").unwrap();
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a document: words with spaces, tabs and newlines between them, and now and then a
/// character that JSON must escape.
fn document_text(rng: &mut Rng, max_words: i64) -> String {
    const EXTRAS: &[&str] = &[
        "\"",
        "\\",
        "\n",
        "\t",
        "/",
        "\u{e9}",
        "\u{1f600}",
        "\u{1}",
        "\r",
        "\u{2028}",
    ];
    let mut text = String::new();
    for i in 0..rng.between(0, max_words) {
        if i > 0 {
            text.push_str(if rng.percent(10) {
                "\n"
            } else {
                one_of(rng, SEPARATORS)
            });
        }
        if rng.percent(8) {
            text.push_str(one_of(rng, EXTRAS));
        }
        text.push_str(&word(rng));
    }
    text
}

/// Writes JSON Lines documents `{"doc_id": <int>, "text": "..."}` for the inverted index; see
/// the module docs for the shapes. Ids mostly grow, but about one in ten repeats an earlier id
/// and some are negative; `i64::MIN` and `i64::MAX` appear once each. Keys come in either order,
/// with or without spaces.
pub fn documents(dir: &Path, seed: u64, approx_bytes: usize) -> Vec<PathBuf> {
    let mut rng = Rng::new(seed);
    let mut next_id = 0i64;
    let mut ids = Vec::new();
    let mut paths = Vec::new();
    for layout in &LAYOUTS {
        let budget = approx_bytes * layout.percent / 100;
        let mut doc = |rng: &mut Rng, text: String| {
            let id = if !ids.is_empty() && rng.percent(10) {
                *rng.pick(&ids)
            } else if rng.percent(5) {
                -rng.between(1, 1000)
            } else {
                next_id += rng.between(1, 3);
                next_id
            };
            ids.push(id);
            let text = json_string(rng, &text);
            match rng.below(4) {
                0 => format!(r#"{{"text":{text},"doc_id":{id}}}"#),
                1 => format!(r#"{{ "doc_id" : {id} , "text" : {text} }}"#),
                2 => format!("\t{{\"doc_id\": {id}, \"text\": {text}}} "),
                _ => format!(r#"{{"doc_id":{id},"text":{text}}}"#),
            }
        };
        let mut lines = if budget == 0 {
            Vec::new()
        } else {
            fill(&mut rng, layout, budget, |rng| {
                let text = document_text(rng, 30);
                doc(rng, text)
            })
        };
        if layout.stem == "0-large" {
            let long = long_line(&mut rng, 3000);
            let extremes = [
                format!(r#"{{"doc_id":{},"text":"Smallest id"}}"#, i64::MIN),
                format!(r#"{{"doc_id":{},"text":"largest ID \u0041BC"}}"#, i64::MAX),
                r#"{"doc_id":0,"text":""}"#.to_string(),
                doc(&mut rng, long),
            ];
            for (i, line) in extremes.into_iter().enumerate() {
                let at = lines.len() * (i + 1) / 5;
                lines.insert(at, line);
            }
        }
        let bytes = if lines.is_empty() {
            Vec::new()
        } else {
            assemble(&lines, layout)
        };
        paths.push(write(dir, &format!("{}.jsonl", layout.stem), &bytes));
    }
    paths.sort();
    paths
}

/// Where [`events`] wrote the same rows in both formats.
#[derive(Debug, Clone)]
pub struct EventFiles {
    /// `dir/jsonl/*.jsonl`, sorted.
    pub jsonl: Vec<PathBuf>,
    /// `dir/csv/*.csv`, sorted; each starts with the header `user_id,ts,event,amount_cents`.
    pub csv: Vec<PathBuf>,
}

/// One generated event.
struct Event {
    user_id: i64,
    ts: String,
    event: &'static str,
    amount_cents: i64,
}

/// Event kinds and their amount ranges. Some need CSV quoting or JSON escapes.
const EVENT_KINDS: &[(&str, i64, i64)] = &[
    ("view", 0, 0),
    ("buy", 1, 50_000),
    ("refund", -20_000, -1),
    ("buy, again", 1, 1_000),
    ("say \"hi\"", 0, 0),
    ("caf\u{e9} \u{2615}", -5, 5),
    ("adjust", -100, 100),
];

fn event(rng: &mut Rng, seq: u64) -> Event {
    let user_id = if rng.percent(15) {
        -rng.between(1, 50)
    } else {
        1 + rng.skewed(300) as i64
    };
    let (event, lo, hi) = *rng.pick(EVENT_KINDS);
    let secs = seq * 7;
    let ts = format!(
        "2026-03-{:02}T{:02}:{:02}:{:02}Z",
        22 + secs / 86_400 % 7,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    );
    Event {
        user_id,
        ts,
        event,
        amount_cents: rng.between(lo, hi),
    }
}

fn event_json(rng: &mut Rng, e: &Event) -> String {
    let ts = json_string(rng, &e.ts);
    let name = json_string(rng, e.event);
    let (user, amount) = (e.user_id, e.amount_cents);
    match rng.below(3) {
        0 => format!(
            r#"{{"amount_cents": {amount}, "event": {name}, "ts": {ts}, "user_id": {user}}}"#
        ),
        1 => format!(
            r#"{{ "user_id" : {user} , "ts" : {ts} , "event" : {name} , "amount_cents" : {amount} }}"#
        ),
        _ => format!(r#"{{"user_id":{user},"ts":{ts},"event":{name},"amount_cents":{amount}}}"#),
    }
}

/// One CSV field, quoted when it must be and now and then when it need not be.
fn csv_field(rng: &mut Rng, field: &str) -> String {
    if field.contains([',', '"']) || rng.percent(5) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn event_csv(rng: &mut Rng, e: &Event) -> String {
    [
        e.user_id.to_string(),
        e.ts.clone(),
        e.event.to_string(),
        e.amount_cents.to_string(),
    ]
    .iter()
    .map(|f| csv_field(rng, f))
    .collect::<Vec<_>>()
    .join(",")
}

/// The CSV header the revenue-by-user job expects.
pub const EVENTS_CSV_HEADER: &str = "user_id,ts,event,amount_cents";

/// Writes the same events as JSON Lines into `dir/jsonl/` and as CSV into `dir/csv/`; see the
/// module docs for the shapes (the empty CSV file has the header and no rows). Both formats get
/// the same blank lines and line ends. About one user in seven is negative, and `i64::MIN` and
/// `i64::MAX` are users too. `approx_bytes` counts the JSON Lines.
pub fn events(dir: &Path, seed: u64, approx_bytes: usize) -> EventFiles {
    let mut rng = Rng::new(seed);
    let (jsonl_dir, csv_dir) = (dir.join("jsonl"), dir.join("csv"));
    for d in [&jsonl_dir, &csv_dir] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
    }
    let mut seq = 0;
    let mut files = EventFiles {
        jsonl: Vec::new(),
        csv: Vec::new(),
    };
    for layout in &LAYOUTS {
        let budget = approx_bytes * layout.percent / 100;
        // The same lines in both formats: (JSON Lines, CSV), blanks included.
        let mut lines: Vec<(String, String)> = Vec::new();
        let mut json_bytes = 0;
        let render = |rng: &mut Rng, e: &Event| (event_json(rng, e), event_csv(rng, e));
        while json_bytes < budget {
            if layout.blank_lines && rng.percent(12) {
                let blank = rng.pick(&BLANKS).to_string();
                lines.push((blank.clone(), blank));
            }
            let e = event(&mut rng, seq);
            seq += 1;
            let line = render(&mut rng, &e);
            json_bytes += line.0.len() + 1;
            lines.push(line);
        }
        if layout.stem == "0-large" {
            for (i, user_id) in [i64::MIN, i64::MAX].into_iter().enumerate() {
                let e = Event {
                    user_id,
                    ..event(&mut rng, seq)
                };
                seq += 1;
                let line = render(&mut rng, &e);
                lines.insert(lines.len() * (i + 1) / 3, line);
            }
        }
        let (json_lines, rows): (Vec<String>, Vec<String>) = lines.into_iter().unzip();
        let json = if json_lines.is_empty() {
            Vec::new()
        } else {
            assemble(&json_lines, layout)
        };
        let csv_lines: Vec<String> = [EVENTS_CSV_HEADER.to_string()]
            .into_iter()
            .chain(rows)
            .collect();
        let name = layout.stem;
        files
            .jsonl
            .push(write(&jsonl_dir, &format!("events-{name}.jsonl"), &json));
        files.csv.push(write(
            &csv_dir,
            &format!("events-{name}.csv"),
            &assemble(&csv_lines, layout),
        ));
    }
    files.jsonl.sort();
    files.csv.sort();
    files
}

/// Where [`join`] wrote the events and the products of the join-products job.
#[derive(Debug, Clone)]
pub struct JoinFiles {
    /// `dir/events/*.jsonl`, sorted: events `{"event_id","user_id","product_id","ts",
    /// "amount_cents"}`, their keys in varying order and spacing.
    pub events: Vec<PathBuf>,
    /// `dir/products/`: `products-*.jsonl` (`{"product_id","category","name"}`) and a
    /// `_SUCCESS` marker, as a dataset holds; read it as a directory.
    pub products: PathBuf,
}

/// Product categories; some need JSON escapes or are not ASCII.
const CATEGORIES: &[&str] = &[
    "books",
    "toys",
    "garden",
    "kitchen",
    "music \"live\"",
    "caf\u{e9}",
    "tools/hardware",
];

/// The id of product `n`.
fn product_id(n: u64) -> String {
    format!("p{n:05}")
}

/// Writes `events` events over `products` products for the join-products job into
/// `dir/events/` and `dir/products/`. About one event in ten names a product id that is not
/// among the products, and about one product in forty is listed twice (with another
/// category). The products are in two files, one with CRLF line ends and blank lines; the
/// events in three, one of them gzip-free but without a final newline.
pub fn join(dir: &Path, seed: u64, events: u64, products: u64) -> JoinFiles {
    let mut rng = Rng::new(seed);
    let (events_dir, products_dir) = (dir.join("events"), dir.join("products"));
    for d in [&events_dir, &products_dir] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
    }
    let mut product_lines: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for n in 0..products {
        let copies = if rng.percent(2) { 2 } else { 1 };
        for _ in 0..copies {
            let file = rng.index(2);
            if file == 1 && rng.percent(10) {
                product_lines[1].push(rng.pick(&BLANKS).to_string());
            }
            let id = json_string(&mut rng, &product_id(n));
            let category = one_of(&mut rng, CATEGORIES);
            let category = json_string(&mut rng, category);
            let name = words_line(&mut rng, 4);
            let name = json_string(&mut rng, &name);
            product_lines[file].push(if rng.percent(50) {
                format!(r#"{{"product_id":{id},"category":{category},"name":{name}}}"#)
            } else {
                format!(r#"{{ "name" : {name}, "category" : {category}, "product_id" : {id} }}"#)
            });
        }
    }
    let [plain, crlf] = &product_lines;
    write(
        &products_dir,
        "products-0.jsonl",
        &assemble(plain, &LAYOUTS[0]),
    );
    write(
        &products_dir,
        "products-1.jsonl",
        &assemble(crlf, &LAYOUTS[1]),
    );
    write(&products_dir, "_SUCCESS", b"");
    let mut event_lines: [Vec<String>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for seq in 0..events {
        let product = if rng.percent(10) {
            products + rng.below(50)
        } else {
            rng.skewed(products.max(1) as usize) as u64
        };
        let event_id = format!("e{seq:07}");
        let product = json_string(&mut rng, &product_id(product));
        let user = 1 + rng.skewed(500);
        let amount = rng.between(-2_000, 50_000);
        let secs = seq * 11;
        let ts = format!(
            "2026-03-{:02}T{:02}:{:02}:{:02}Z",
            22 + secs / 86_400 % 7,
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60
        );
        let line = if rng.percent(50) {
            format!(
                r#"{{"event_id":"{event_id}","user_id":{user},"product_id":{product},"ts":"{ts}","amount_cents":{amount}}}"#
            )
        } else {
            format!(
                r#"{{"amount_cents": {amount}, "ts": "{ts}", "product_id": {product}, "user_id": {user}, "event_id": "{event_id}"}}"#
            )
        };
        event_lines[rng.index(3)].push(line);
    }
    let mut paths = Vec::new();
    for (i, (lines, layout)) in event_lines.iter().zip([0, 2, 3]).enumerate() {
        let name = format!("events-{i}.jsonl");
        paths.push(write(
            &events_dir,
            &name,
            &assemble(lines, &LAYOUTS[layout]),
        ));
    }
    paths.sort();
    JoinFiles {
        events: paths,
        products: products_dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn read_all(paths: &[PathBuf]) -> BTreeMap<String, Vec<u8>> {
        paths
            .iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(p).unwrap())
            })
            .collect()
    }

    fn total(files: &BTreeMap<String, Vec<u8>>) -> usize {
        files.values().map(Vec::len).sum()
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let draws = |seed| {
            let mut rng = Rng::new(seed);
            (0..1000).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            assert!((-3..=3).contains(&rng.between(-3, 3)));
            assert!(rng.below(10) < 10);
            assert!(rng.skewed(5) < 5);
            assert!(!rng.percent(0) && rng.percent(100));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        assert_eq!(Rng::new(0).between(i64::MIN, i64::MIN), i64::MIN);
        assert_eq!(Rng::new(0).between(i64::MAX, i64::MAX), i64::MAX);
    }

    #[test]
    fn generators_are_deterministic() {
        type Generator = fn(&Path, u64, usize) -> Vec<PathBuf>;
        let event_files: Generator = |dir, seed, bytes| {
            let files = events(dir, seed, bytes);
            files.jsonl.into_iter().chain(files.csv).collect()
        };
        for (name, generate) in [
            ("text", text as Generator),
            ("documents", documents),
            ("events", event_files),
        ] {
            let [a, b, c] = [(); 3].map(|()| tempfile::tempdir().unwrap());
            let one = read_all(&generate(a.path(), 42, 20_000));
            let again = read_all(&generate(b.path(), 42, 20_000));
            let other = read_all(&generate(c.path(), 43, 20_000));
            assert_eq!(one, again, "{name}: same seed, different files");
            assert_ne!(one, other, "{name}: different seeds, same files");
        }
    }

    /// Checks the shapes every set shares: one file with at least half the bytes, an empty (or
    /// header-only) file, CRLF, a last line without `\n`, blank lines.
    fn assert_shared_layouts(files: &BTreeMap<String, Vec<u8>>, approx: usize, empty: &[u8]) {
        let sum = total(files);
        assert!(
            sum >= approx * 9 / 10 && sum <= approx * 13 / 10,
            "{sum} bytes for {approx}"
        );
        let largest = files.values().map(Vec::len).max().unwrap();
        assert!(largest >= approx / 2, "largest file has {largest} bytes");
        let find = |part: &str| {
            let (_, bytes) = files.iter().find(|(name, _)| name.contains(part)).unwrap();
            bytes
        };
        assert_eq!(find("4-empty"), empty);
        let crlf = find("1-crlf");
        assert!(crlf.ends_with(b"\r\n"));
        assert_eq!(
            crlf.windows(2).filter(|w| w == b"\r\n").count(),
            crlf.iter().filter(|&&b| b == b'\n').count(),
            "every line of the CRLF file ends with CRLF"
        );
        let last = find("2-no-final-newline");
        assert!(!last.ends_with(b"\n"));
        let last_line = last.rsplit(|&b| b == b'\n').next().unwrap();
        assert!(!last_line.trim_ascii().is_empty());
        let blanks = find("3-blank-lines");
        assert!(
            blanks
                .split(|&b| b == b'\n')
                .any(|l| l.trim_ascii().is_empty())
        );
    }

    #[test]
    fn text_covers_the_edge_cases() {
        let dir = tempfile::tempdir().unwrap();
        let approx = 60_000;
        let files = read_all(&text(dir.path(), 1, approx));
        assert_shared_layouts(&files, approx, b"");
        assert_eq!(files["tail.txt"], b"Tail");
        let all: Vec<u8> = files.values().flatten().copied().collect();
        let has = |pred: fn(&u8) -> bool| all.iter().any(pred);
        assert!(has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase));
        assert!(has(u8::is_ascii_digit) && has(u8::is_ascii_punctuation));
        assert!(has(|&b| b == b'\t') && has(|&b| b == b'\'') && has(|&b| b >= 0x80));
        assert!(
            std::str::from_utf8(&all).is_ok(),
            "non-ASCII bytes are valid UTF-8"
        );
        let longest = all.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
        assert!(longest > 2500, "longest line has {longest} bytes");
    }

    #[test]
    fn documents_cover_the_edge_cases() {
        let dir = tempfile::tempdir().unwrap();
        let approx = 60_000;
        let files = read_all(&documents(dir.path(), 2, approx));
        assert_shared_layouts(&files, approx, b"");
        let mut ids = Vec::new();
        for (name, bytes) in &files {
            for line in bytes.split(|&b| b == b'\n') {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                let doc: serde_json::Value = serde_json::from_slice(line)
                    .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(line)));
                ids.push(doc["doc_id"].as_i64().unwrap());
                assert!(doc["text"].is_string());
            }
        }
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert!(distinct.len() < ids.len(), "some ids repeat");
        assert!(ids.iter().any(|&id| id < 0), "some ids are negative");
        assert!(ids.contains(&i64::MIN) && ids.contains(&i64::MAX));
        let all = String::from_utf8(files.values().flatten().copied().collect()).unwrap();
        for escape in [
            r#"\""#, r"\n", r"\t", r"\u0009", r"\\", r"\/", r"\u00e9", r"\ud83d",
        ] {
            assert!(
                all.to_lowercase().contains(escape),
                "no {escape} in the documents"
            );
        }
        assert!(all.contains("é"), "raw UTF-8 too");
    }

    #[test]
    fn events_are_the_same_rows_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let approx = 60_000;
        let files = events(dir.path(), 3, approx);
        assert_eq!(files.jsonl.len(), files.csv.len());
        let jsonl = read_all(&files.jsonl);
        let header = format!("{EVENTS_CSV_HEADER}\n");
        assert_shared_layouts(&jsonl, approx, b"");
        for bytes in read_all(&files.csv).values() {
            assert!(bytes.starts_with(EVENTS_CSV_HEADER.as_bytes()));
        }
        let csv = read_all(&files.csv);
        assert_eq!(csv["events-4-empty.csv"], header.as_bytes());
        let all_csv = String::from_utf8(csv.values().flatten().copied().collect()).unwrap();
        assert!(all_csv.contains(r#","buy, again","#));
        assert!(all_csv.contains(r#","say ""hi""","#));
        assert!(all_csv.contains(&format!("\n{},", i64::MIN)));

        use crate::reference::{revenue_by_user_csv, revenue_by_user_jsonl};
        let from_json = revenue_by_user_jsonl(&files.jsonl);
        assert_eq!(from_json, revenue_by_user_csv(&files.csv));
        assert!(from_json.len() > 100, "{} users", from_json.len());
        assert!(
            from_json.iter().any(|l| l.starts_with('-')),
            "negative user ids"
        );
        assert!(from_json.iter().any(|l| l.contains("\t-")), "negative sums");
    }

    #[test]
    fn json_strings_decode_to_the_original() {
        let mut rng = Rng::new(9);
        let cases = [
            "",
            "plain",
            "a\"b\\c/d",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}",
            "é☕😀\u{2028}",
        ];
        for case in cases {
            for _ in 0..20 {
                let json = json_string(&mut rng, case);
                let back: String = serde_json::from_str(&json).unwrap();
                assert_eq!(back, case, "{json}");
            }
        }
    }
}
