//! Buffers a job writes into: [`Emitter`] for key/value pairs, [`Output`] for output lines.
//!
//! Both are plain Rust buffers laid out the way they cross the boundary (one byte buffer plus
//! end offsets), so emitting costs a `memcpy` and a job is unit-testable natively.

/// Collects the key/value pairs a `map` (or `combine`) emits.
#[derive(Debug, Default)]
pub struct Emitter {
    pub(crate) data: Vec<u8>,
    /// Two entries per pair: the key's end, then the value's end, as offsets into `data`.
    pub(crate) ends: Vec<u32>,
}

impl Emitter {
    /// Emits one pair. Keys are grouped and sorted by their bytes before the reduce.
    pub fn emit(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.data.extend_from_slice(key.as_ref());
        self.ends.push(self.data.len() as u32);
        self.data.extend_from_slice(value.as_ref());
        self.ends.push(self.data.len() as u32);
    }

    /// How many pairs were emitted.
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// Whether nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The pairs emitted so far, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut start = 0;
        self.ends.chunks_exact(2).map(move |e| {
            let (k, v) = (e[0] as usize, e[1] as usize);
            let pair = (&self.data[start..k], &self.data[k..v]);
            start = v;
            pair
        })
    }
}

/// Collects the output records a `reduce` writes: one line each in the output file, at the top
/// level of the output or in a named output partition (a subdirectory such as
/// `date=2026-03-22/`).
#[derive(Debug, Default)]
pub struct Output {
    pub(crate) data: Vec<u8>,
    pub(crate) ends: Vec<u32>,
    /// Partition names used so far.
    pub(crate) partitions: Vec<String>,
    /// Per record: 1 + its partition's index, or 0 for the top level; empty while every record
    /// is at the top level.
    pub(crate) routes: Vec<u32>,
}

impl Output {
    /// Writes one output record as it is. The host ends it with `\n`, so it must not contain one.
    pub fn record(&mut self, bytes: impl AsRef<[u8]>) {
        self.data.extend_from_slice(bytes.as_ref());
        self.end_record(0);
    }

    /// Writes one output record made of fields separated by a TAB, integers in plain decimal:
    /// `out.fields((word, 3u64))` writes `word\t3`.
    pub fn fields(&mut self, fields: impl Fields) {
        fields.write_fields(&mut self.data);
        self.end_record(0);
    }

    /// Like [`Output::record`], into the output partition `partition` (a relative directory
    /// such as `date=2026-03-22`; rerunning a job with `--overwrite-partitions` replaces only
    /// the partitions it writes). Build the name with [`Partition`](crate::Partition), which
    /// escapes keys and values (`city=S%C3%A3o%20Paulo%2C%20BR`), so that any value can name a
    /// partition.
    ///
    /// The host accepts a name of 1 to 1024 bytes of `/`-separated segments, each 1 to 255
    /// bytes of ASCII letters, digits, `-_.+`, `=` and `%`, none starting with `.`, `_` or
    /// `part-` (names Sandmill writes itself); see [`partition`](crate::partition). A record
    /// routed to any other name is a bad record: the job fails naming the partition and the
    /// key, unless `sandmill run --max-bad-records N` quarantines the record into
    /// `_rejects.jsonl`. More partitions per reduce task than `sandmill run --max-partitions`
    /// allows fail the task.
    pub fn record_in(&mut self, partition: impl AsRef<str>, bytes: impl AsRef<[u8]>) {
        self.data.extend_from_slice(bytes.as_ref());
        let route = self.route(partition.as_ref());
        self.end_record(route);
    }

    /// Like [`Output::fields`], into the output partition `partition` (see
    /// [`Output::record_in`]).
    pub fn fields_in(&mut self, partition: impl AsRef<str>, fields: impl Fields) {
        fields.write_fields(&mut self.data);
        let route = self.route(partition.as_ref());
        self.end_record(route);
    }

    fn route(&mut self, partition: &str) -> u32 {
        let index = match self.partitions.iter().rposition(|p| p == partition) {
            Some(i) => i,
            None => {
                self.partitions.push(partition.to_owned());
                self.partitions.len() - 1
            }
        };
        index as u32 + 1
    }

    fn end_record(&mut self, route: u32) {
        self.ends.push(self.data.len() as u32);
        if route != 0 && self.routes.is_empty() {
            // The records so far went to the top level.
            self.routes.resize(self.ends.len() - 1, 0);
        }
        if route != 0 || !self.routes.is_empty() {
            self.routes.push(route);
        }
    }

    /// The partition each record so far goes to (`None`: the top level).
    pub fn routes(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.ends.len()).map(|i| match self.routes.get(i) {
            Some(&r) if r > 0 => Some(self.partitions[r as usize - 1].as_str()),
            _ => None,
        })
    }

    /// The records written so far.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&e| {
            let r = &self.data[start..e as usize];
            start = e as usize;
            r
        })
    }
}

/// One field of an output record: text or bytes as they are, integers in decimal.
pub trait Field {
    /// Appends the field's text to `out`.
    fn write_field(&self, out: &mut Vec<u8>);
}

impl<T: Field + ?Sized> Field for &T {
    fn write_field(&self, out: &mut Vec<u8>) {
        (**self).write_field(out)
    }
}

impl Field for [u8] {
    fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self)
    }
}

impl<const N: usize> Field for [u8; N] {
    fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self)
    }
}

impl Field for Vec<u8> {
    fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self)
    }
}

impl Field for str {
    fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes())
    }
}

impl Field for String {
    fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes())
    }
}

macro_rules! integer_fields {
    ($($ty:ty),*) => {$(
        impl Field for $ty {
            fn write_field(&self, out: &mut Vec<u8>) {
                use std::io::Write as _;
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
integer_fields!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

/// Several [`Field`]s: a tuple of up to six (of any field types), or an array, a `Vec` or a
/// slice of one field type, or a reference to any of these. A row whose length is known only
/// at run time is a `Vec` or a slice:
///
/// ```
/// # let mut out = sandmill_sdk::Output::default();
/// let columns: Vec<&[u8]> = b"a,b,c".split(|&b| b == b',').collect();
/// out.fields(&columns); // a\tb\tc
/// out.fields(columns.as_slice());
/// out.fields(vec![String::from("x"), String::from("y")]);
/// out.fields(("key", columns.len(), "-")); // key\t3\t-
/// # let got: Vec<&[u8]> = out.records().collect();
/// # assert_eq!(got, [&b"a\tb\tc"[..], b"a\tb\tc", b"x\ty", b"key\t3\t-"]);
/// ```
pub trait Fields {
    /// Appends the fields to `out`, separated by TAB.
    fn write_fields(&self, out: &mut Vec<u8>);
}

macro_rules! tuple_fields {
    ($first:ident $(, $rest:ident)*) => {
        impl<$first: Field, $($rest: Field),*> Fields for ($first, $($rest,)*) {
            #[allow(non_snake_case, reason = "the type parameters name the fields")]
            fn write_fields(&self, out: &mut Vec<u8>) {
                let ($first, $($rest,)*) = self;
                $first.write_field(out);
                $(out.push(b'\t'); $rest.write_field(out);)*
            }
        }
    };
}
tuple_fields!(A);
tuple_fields!(A, B);
tuple_fields!(A, B, C);
tuple_fields!(A, B, C, D);
tuple_fields!(A, B, C, D, E);
tuple_fields!(A, B, C, D, E, F);

impl<T: Field> Fields for [T] {
    fn write_fields(&self, out: &mut Vec<u8>) {
        for (i, f) in self.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            f.write_field(out);
        }
    }
}

impl<T: Field, const N: usize> Fields for [T; N] {
    fn write_fields(&self, out: &mut Vec<u8>) {
        self[..].write_fields(out)
    }
}

impl<T: Field> Fields for Vec<T> {
    fn write_fields(&self, out: &mut Vec<u8>) {
        self[..].write_fields(out)
    }
}

/// A reference to fields: `out.fields(&row)` for a `row: Vec<String>` built at run time, or
/// `out.fields(row.as_slice())` for a `&[&[u8]]`.
impl<T: Fields + ?Sized> Fields for &T {
    fn write_fields(&self, out: &mut Vec<u8>) {
        (**self).write_fields(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emitter_keeps_pairs_in_order() {
        let mut out = Emitter::default();
        out.emit("a", [1u8]);
        out.emit(b"", b"");
        out.emit(vec![9u8, 9], "zz");
        let got: Vec<_> = out.pairs().collect();
        assert_eq!(got, [(&b"a"[..], &[1u8][..]), (b"", b""), (&[9, 9], b"zz")]);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn fields_are_tab_separated_with_decimal_integers() {
        let mut out = Output::default();
        out.fields((b"word".as_slice(), 12u64));
        out.fields(("user", -3i64, 0usize));
        out.fields(["x", "y"]);
        out.record("as-is");
        let got: Vec<_> = out.records().collect();
        assert_eq!(got, [&b"word\t12"[..], b"user\t-3\t0", b"x\ty", b"as-is"]);
        assert!(
            out.routes.is_empty(),
            "no routes while everything is at the top level"
        );
    }

    #[test]
    fn records_can_be_routed_to_partitions() {
        let mut out = Output::default();
        out.record("top");
        out.fields_in("date=2026-03-22", ("a", 1u64));
        out.record_in("date=2026-03-23", "b");
        out.record_in("date=2026-03-22", "c");
        out.record("top again");
        let routes: Vec<_> = out.routes().collect();
        assert_eq!(
            routes,
            [
                None,
                Some("date=2026-03-22"),
                Some("date=2026-03-23"),
                Some("date=2026-03-22"),
                None
            ]
        );
        assert_eq!(out.routes, [0, 1, 2, 1, 0]);
    }
}
