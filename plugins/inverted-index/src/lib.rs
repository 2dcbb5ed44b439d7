//! Inverted index: `term\tid,id,...` for every term in the `text` of JSON Lines documents
//! `{"doc_id": <int>, "text": "..."}`, each document once per term, ids ascending.

use sandmill_sdk::{
    Emitter, FieldType, InputField, Job, Output, Record, Result, Values, codec, text,
};
use std::io::Write as _;

#[derive(Default)]
struct InvertedIndex {
    buf: Vec<u8>,
    ids: Vec<u8>,
}

impl Job for InvertedIndex {
    fn fields(&self) -> Vec<InputField> {
        // Parsed by Sandmill on the host, escapes and all: the job runs no JSON parser.
        vec![
            InputField::new("doc_id", FieldType::I64),
            InputField::new("text", FieldType::Str),
        ]
    }

    fn map(&mut self, doc: Record<'_>, out: &mut Emitter) -> Result<()> {
        let (doc_id, doc_text) = (doc.i64(0)?, doc.str(1)?);
        // One pair per distinct term of the document. Sorting finds the repeats; each term
        // goes with its first 8 bytes as a number, so that most comparisons are of integers.
        let mut terms: Vec<(u64, &[u8])> = text::ascii_words(doc_text.as_bytes(), &mut self.buf)
            .map(|term| (head(term), term))
            .collect();
        terms.sort_unstable();
        terms.dedup();
        let id = codec::i64_key(doc_id);
        for (_, term) in terms {
            out.emit(term, id);
        }
        Ok(())
    }

    fn reduce(&mut self, term: &[u8], ids: &mut Values<'_>, out: &mut Output) -> Result<()> {
        // Values arrive in byte order, which `i64_key` makes numeric order: dedup as we go.
        self.ids.clear();
        let mut last = None;
        while let Some(v) = ids.next() {
            let id = codec::decode_i64(v)?;
            if last != Some(id) {
                if last.is_some() {
                    self.ids.push(b',');
                }
                write!(self.ids, "{id}").expect("writing to a Vec cannot fail");
                last = Some(id);
            }
        }
        out.fields((term, &self.ids));
        Ok(())
    }
}

/// The first 8 bytes of `term`, zero-padded, as a big-endian number: numbers compare as the
/// terms' first bytes do, and the terms decide ties.
fn head(term: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = term.len().min(8);
    bytes[..n].copy_from_slice(&term[..n]);
    u64::from_be_bytes(bytes)
}

sandmill_sdk::export_job!(InvertedIndex);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    #[test]
    fn lists_each_document_once_per_term_in_numeric_order() {
        let docs = [
            r#"{"doc_id": 10, "text": "b a"}"#,
            r#"{"text": "A a \"quoted\"", "doc_id": 9}"#,
            r#"{"doc_id": -1, "text": "b\nb"}"#,
            r#"{"doc_id": 10, "text": "c"}"#,
        ];
        let out = testing::run(InvertedIndex::default(), Format::JsonLines, None, &docs).unwrap();
        assert_eq!(out, ["a\t9,10", "b\t-1,10", "c\t10", "quoted\t9"]);
    }

    #[test]
    fn a_malformed_document_is_an_error() {
        let err = testing::run(
            InvertedIndex::default(),
            Format::JsonLines,
            None,
            &[r#"{"doc_id":"#],
        )
        .unwrap_err();
        assert!(err.message().starts_with("invalid JSON"), "{err}");
    }
}
