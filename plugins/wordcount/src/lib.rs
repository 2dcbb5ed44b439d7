//! Word count: `word\tcount` for every word in the input text lines.
//!
//! Words are the input lowercased (ASCII `A`-`Z` only) and split on every byte that is not
//! `[a-z0-9]` (see `sandmill_sdk::text::ascii_words`).

use sandmill_sdk::{Combiner, Emitter, Job, Merge, Output, Record, Result, Values, codec, text};

#[derive(Default)]
struct WordCount {
    buf: Vec<u8>,
}

impl Job for WordCount {
    fn combiner(&self) -> Combiner {
        Combiner::Merge(Merge::Sum)
    }

    fn map(&mut self, line: Record<'_>, out: &mut Emitter) -> Result<()> {
        for word in text::ascii_words(line.bytes(), &mut self.buf) {
            out.emit(word, codec::i64_key(1));
        }
        Ok(())
    }

    fn reduce(&mut self, word: &[u8], counts: &mut Values<'_>, out: &mut Output) -> Result<()> {
        out.fields((word, counts.sum_i64()?));
        Ok(())
    }
}

sandmill_sdk::export_job!(WordCount);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    #[test]
    fn counts_lowercased_words() {
        let lines = ["Don't stop", "DON'T, don't!", "", "x1 x1\tX1"];
        let out = testing::run(WordCount::default(), Format::Lines, None, &lines).unwrap();
        assert_eq!(out, ["don\t3", "stop\t1", "t\t3", "x1\t3"]);
    }
}
