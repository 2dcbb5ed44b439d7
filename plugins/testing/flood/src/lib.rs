//! A hostile job for Sandmill's own tests: it counts lines, with a combiner that adds the
//! counts up, unless an attack is chosen, by `--param attack=NAME` for every record and key, or
//! else by a record (and so a key) equal to the attack's name:
//!
//! | attack | what it does |
//! |---|---|
//! | `amplify` | the reduce writes `copies` records of `bytes` bytes for each key (100 × 1 MiB) |
//! | `amplify-map` | the map emits `copies` pairs with values of `bytes` bytes for each record |
//! | `partitions` | the reduce writes one record into each of `copies` output partitions `p=N` |
//! | `part-name` | the reduce writes into the output partition `part-00000`, a part file's name |
//! | `huge-error` | the map fails with a message of `bytes` bytes (10 MiB) |
//! | `reject` | the map rejects the record with a message of `bytes` bytes (10 MiB) |
//! | `escapes` | logs, prints and counts terminal escapes and a forged `sandmill: job succeeded` |
//! | `escape-error` | the map emits a key full of escapes and the reduce fails on it, with more |
//! | `escape-panic` | the map panics with escapes and a forged line in the message |
//! | `lying-combiner` | the combiner files the group's values under the next group's key |
//! | `drop-group` | the combiner returns nothing for the group |
//!
//! `--param copies=N` and `--param bytes=N` size the floods, so tests can stay small.

use sandmill_sdk::{
    Combiner, Emitter, Error, Job, LogLevel, Output, Params, Record, Result, Values, codec,
};

/// A line made to look like Sandmill's own, after escapes that clear the screen, move the
/// cursor home and return the carriage; then a bidi override.
pub const FORGED: &str = "\x1b[2J\x1b[H\rsandmill: job succeeded in 0.01s -> /tmp/out (version \
                          v1)\nsandmill: job succeeded\u{202e}\u{2028}\u{9b}31m";

/// The key `escape-error` makes the reduce fail on.
pub const ESCAPE_KEY: &str = "\x1b[31mred\x1b[0m\u{202e}\nsandmill: job succeeded";

/// The counter `escapes` adds to.
pub const ESCAPE_COUNTER: &str = "\x1b[31mforged\nsandmill: job succeeded\u{202e}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    Amplify,
    AmplifyMap,
    Partitions,
    PartName,
    HugeError,
    Reject,
    Escapes,
    EscapeError,
    EscapePanic,
    LyingCombiner,
    DropGroup,
}

impl Attack {
    const ALL: [(&'static str, Attack); 11] = [
        ("amplify", Attack::Amplify),
        ("amplify-map", Attack::AmplifyMap),
        ("partitions", Attack::Partitions),
        ("part-name", Attack::PartName),
        ("huge-error", Attack::HugeError),
        ("reject", Attack::Reject),
        ("escapes", Attack::Escapes),
        ("escape-error", Attack::EscapeError),
        ("escape-panic", Attack::EscapePanic),
        ("lying-combiner", Attack::LyingCombiner),
        ("drop-group", Attack::DropGroup),
    ];

    fn named(name: &[u8]) -> Option<Attack> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|&(_, a)| a)
    }
}

struct Flood {
    /// `--param attack`: the attack on every record and key.
    attack: Option<Attack>,
    /// How many records, pairs or partitions a flood makes per record or key.
    copies: usize,
    /// How large each flooded record or value is (1 MiB), or message (10 MiB).
    bytes: Option<usize>,
    /// `lying-combiner`: the count of a group, to be filed under the next group's key.
    stolen: i64,
}

impl Default for Flood {
    fn default() -> Self {
        Self {
            attack: None,
            copies: 100,
            bytes: None,
            stolen: 0,
        }
    }
}

impl Flood {
    /// The attack on a record or key: the parameter's, else the one it names.
    fn attack_on(&self, item: &[u8]) -> Option<Attack> {
        if item == ESCAPE_KEY.as_bytes() {
            return Some(Attack::EscapeError);
        }
        self.attack.or_else(|| Attack::named(item))
    }
}

/// A count of one value: the combined count if it is one, else 1.
fn count(value: &[u8]) -> i64 {
    codec::decode_i64(value).unwrap_or(1)
}

impl Job for Flood {
    fn configure(&mut self, params: &Params) -> Result<()> {
        params.expect_only(&["attack", "copies", "bytes"])?;
        if let Some(name) = params.get("attack") {
            let attack = Attack::named(name.as_bytes()).ok_or_else(|| {
                let names: Vec<&str> = Attack::ALL.iter().map(|(n, _)| *n).collect();
                Error::params(format_args!(
                    "unknown attack {name:?}; choose one of {}",
                    names.join(", ")
                ))
            })?;
            self.attack = Some(attack);
        }
        self.copies = params.parse_or("copies", self.copies)?;
        if params.get("bytes").is_some() {
            self.bytes = Some(params.parse_or("bytes", 0)?);
        }
        Ok(())
    }

    fn combiner(&self) -> Combiner {
        Combiner::Plugin
    }

    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()> {
        let line = record.bytes();
        match self.attack_on(line) {
            Some(Attack::AmplifyMap) => {
                let value = vec![b'v'; self.bytes.unwrap_or(1 << 20)];
                for i in 0..self.copies {
                    out.emit(format!("{i}"), &value);
                }
                return Ok(());
            }
            Some(Attack::HugeError) => {
                let filler = "x".repeat(self.bytes.unwrap_or(10 << 20));
                return Err(Error::failed(format!("{FORGED} {filler}")));
            }
            Some(Attack::Reject) => {
                let filler = "r".repeat(self.bytes.unwrap_or(10 << 20));
                return Err(Error::msg(format!("{FORGED} {filler}")));
            }
            Some(Attack::Escapes) => {
                sandmill_sdk::log(LogLevel::Warn, FORGED);
                println!("{FORGED}");
                eprintln!("{FORGED}");
                sandmill_sdk::counter(ESCAPE_COUNTER, 1);
            }
            Some(Attack::EscapeError) => {
                out.emit(ESCAPE_KEY.as_bytes(), codec::i64_key(1));
                return Ok(());
            }
            Some(Attack::EscapePanic) => panic!("{FORGED}"),
            _ => {}
        }
        out.emit(line, codec::i64_key(1));
        Ok(())
    }

    fn combine(&mut self, key: &[u8], values: &mut Values<'_>, out: &mut Emitter) -> Result<()> {
        let mut total = 0i64;
        values.try_for_each(|v| {
            total += count(v);
            Ok(())
        })?;
        match self.attack_on(key) {
            Some(Attack::LyingCombiner) => self.stolen += total,
            Some(Attack::DropGroup) => {}
            _ => {
                out.emit(
                    key,
                    codec::i64_key(total + std::mem::take(&mut self.stolen)),
                );
            }
        }
        Ok(())
    }

    fn reduce(&mut self, key: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
        let mut total = 0i64;
        values.try_for_each(|v| {
            total += count(v);
            Ok(())
        })?;
        match self.attack_on(key) {
            Some(Attack::Amplify) => {
                let record = vec![b'o'; self.bytes.unwrap_or(1 << 20)];
                for _ in 0..self.copies {
                    out.record(&record);
                }
            }
            Some(Attack::Partitions) => {
                for p in 0..self.copies {
                    out.fields_in(format!("p={p}"), (key, total));
                }
            }
            Some(Attack::PartName) => out.fields_in("part-00000", (key, total)),
            Some(Attack::EscapeError) => return Err(Error::failed(FORGED)),
            _ => out.fields((key, total)),
        }
        Ok(())
    }
}

sandmill_sdk::export_job!(Flood);
