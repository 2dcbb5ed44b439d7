//! Side inputs: small datasets the job reads whole (`sandmill run --side-input NAME=PATH`).

use crate::{Error, Result};

/// The records of the job's side input `name` (`--side-input NAME=PATH`), in file order: one
/// per line, without the line end. Usable from `configure`, `map`, `combine` and `reduce`.
///
/// The iterator asks the host for one batch of about 1 MiB at a time, so reading a side input
/// holds one batch in the plugin's memory at once (plus whatever the job keeps of it, such
/// as a lookup table built in `configure`). Every call starts again from the first record.
///
/// If the job has no side input `name`, the first item is an error saying so (and the
/// iterator ends after it): `?` fails the call.
///
/// ```
/// use sandmill_sdk::{side_input, testing};
///
/// testing::set_side_input("products", &["p1 books", "p2 toys"]);
/// let products: Vec<Vec<u8>> = side_input("products").collect::<Result<_, _>>().unwrap();
/// assert_eq!(products, [b"p1 books".to_vec(), b"p2 toys".to_vec()]);
/// assert!(side_input("users").next().unwrap().is_err());
/// ```
pub fn side_input(name: &str) -> SideInput {
    SideInput {
        name: name.to_owned(),
        next_batch: 0,
        batch: Batch::default(),
        done: false,
    }
}

/// One batch from the host: records `data[ends[i - 1]..ends[i]]`.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) data: Vec<u8>,
    pub(crate) ends: Vec<u32>,
    /// The next record to hand out.
    next: usize,
}

/// An iterator over a side input's records: see [`side_input`].
#[derive(Debug)]
pub struct SideInput {
    name: String,
    next_batch: u32,
    batch: Batch,
    done: bool,
}

impl Iterator for SideInput {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Result<Vec<u8>>> {
        while !self.done {
            let Batch { data, ends, next } = &mut self.batch;
            if let Some(&end) = ends.get(*next) {
                let start = if *next == 0 { 0 } else { ends[*next - 1] };
                *next += 1;
                return Some(Ok(data[start as usize..end as usize].to_vec()));
            }
            match host::side_input(&self.name, self.next_batch) {
                Ok(Some(batch)) => {
                    self.batch = batch;
                    self.next_batch += 1;
                }
                Ok(None) => self.done = true,
                Err(message) => {
                    self.done = true;
                    return Some(Err(Error::failed(format!(
                        "side_input({}): {message}",
                        self.name
                    ))));
                }
            }
        }
        None
    }
}

mod host {
    use super::Batch;

    #[cfg(target_arch = "wasm32")]
    pub(super) fn side_input(name: &str, batch: u32) -> Result<Option<Batch>, String> {
        let records = crate::__private::bindings::sandmill::job::host::side_input(name, batch)?;
        Ok(records.map(|r| Batch {
            data: r.data,
            ends: r.ends,
            next: 0,
        }))
    }

    /// Natively, the side inputs [`crate::testing::set_side_input`] gave, each as one batch.
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn side_input(name: &str, batch: u32) -> Result<Option<Batch>, String> {
        let records = crate::testing::side_input_records(name)?;
        if batch > 0 {
            return Ok(None);
        }
        let mut out = Batch::default();
        for record in records {
            out.data.extend_from_slice(&record);
            out.ends.push(out.data.len() as u32);
        }
        Ok((!out.ends.is_empty()).then_some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn every_call_starts_again_and_an_unknown_name_fails_once() {
        testing::clear_side_inputs();
        testing::set_side_input("p", &["a", "", "c"]);
        for _ in 0..2 {
            let records: Vec<Vec<u8>> = side_input("p").map(|r| r.unwrap()).collect();
            assert_eq!(records, [b"a".to_vec(), Vec::new(), b"c".to_vec()]);
        }
        testing::set_side_input("empty", &[]);
        assert_eq!(side_input("empty").count(), 0);
        let mut missing = side_input("q");
        let err = missing.next().unwrap().unwrap_err();
        assert!(err.message().starts_with("side_input(q): "), "{err:?}");
        assert!(
            err.message()
                .contains("no side input named q (it has empty, p)"),
            "{err:?}"
        );
        assert!(missing.next().is_none());
        testing::clear_side_inputs();
        assert!(side_input("p").next().unwrap().is_err());
    }
}
