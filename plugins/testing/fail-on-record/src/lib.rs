//! A job for Sandmill's own tests: counts lines, except that a line equal to the `fail`
//! parameter returns an error, `panic` panics (a trap), `loop` never ends, `grow` allocates
//! until memory runs out, `log` logs and counts, and `time` and `random` count a line named
//! after what the sandbox's clock and random numbers say (which must be the same every run).
//! A line `PARTITION/WORD` is counted as `WORD` in the output partition `PARTITION`, as it is,
//! and a line `@KEY=VALUE/WORD` in the partition `KEY=VALUE` escaped by the SDK's `Partition`.

use sandmill_sdk::{
    Emitter, Error, Job, LogLevel, Output, Params, Partition, Record, Result, Values, codec,
};

#[derive(Default)]
struct FailOnRecord {
    fail: Option<String>,
}

impl Job for FailOnRecord {
    fn configure(&mut self, params: &Params) -> Result<()> {
        params.expect_only(&["fail"])?;
        self.fail = params.get("fail").map(str::to_owned);
        Ok(())
    }

    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()> {
        let line = record.bytes();
        if self.fail.as_deref().map(str::as_bytes) == Some(line) {
            return Err(Error::msg("this record was chosen to fail"));
        }
        match line {
            b"panic" => panic!("this record was chosen to panic"),
            b"loop" => loop {
                std::hint::black_box(&line);
            },
            b"grow" => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hog);
                }
            }
            b"time" => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                let secs = now.map(|d| d.as_secs()).unwrap_or(u64::MAX);
                out.emit(format!("time={secs}"), codec::i64_key(1));
                return Ok(());
            }
            b"random" => {
                // std's HashMap seeds itself from wasi:random.
                use std::hash::{BuildHasher, RandomState};
                let seed = RandomState::new().hash_one(0u8);
                out.emit(format!("random={seed}"), codec::i64_key(1));
                return Ok(());
            }
            b"log" => {
                sandmill_sdk::log(LogLevel::Info, "saw a log line");
                sandmill_sdk::counter("log-lines", 1);
            }
            _ => {}
        }
        out.emit(line, codec::i64_key(1));
        Ok(())
    }

    fn reduce(&mut self, line: &[u8], counts: &mut Values<'_>, out: &mut Output) -> Result<()> {
        let count = counts.sum_i64()?;
        let text = std::str::from_utf8(line).unwrap_or("");
        match text.rsplit_once('/') {
            Some((partition, word)) => {
                match partition.strip_prefix('@').and_then(|p| p.split_once('=')) {
                    Some((key, value)) => {
                        out.fields_in(Partition::new().key(key, value), (word, count))
                    }
                    None => out.fields_in(partition, (word, count)),
                }
            }
            None => out.fields((line, count)),
        }
        Ok(())
    }
}

sandmill_sdk::export_job!(FailOnRecord);
