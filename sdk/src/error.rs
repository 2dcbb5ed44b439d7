//! The error type a job returns, and how it maps onto the WIT `job-error`.

use std::any::Any;
use std::fmt;

/// What went wrong in a job, for a person to read.
///
/// Errors returned from [`Job::map`](crate::Job::map) or [`Job::reduce`](crate::Job::reduce) are
/// reported by the host with the file and line (or key) that caused them. They are not retried:
/// the same input fails the same way again.
///
/// `?` converts any `std::error::Error + Send + Sync + 'static` into an error about the record,
/// the same kind as [`Error::msg`]. The message is the error's `Display` followed by its
/// [`source`](std::error::Error::source) chain, joined with `": "` (a source whose text already
/// ends the message, because the error prints it itself, is not repeated):
///
/// ```
/// fn port(text: &str) -> sandmill_sdk::Result<u16> {
///     Ok(text.parse()?) // a `ParseIntError`
/// }
/// assert_eq!(port("http").unwrap_err().message(), "invalid digit found in string");
/// ```
///
/// Errors from `serde_json`, `csv` and UTF-8 decoding say what was being read: `invalid JSON: `,
/// `invalid CSV row: `, `invalid UTF-8: `. A `Box<dyn std::error::Error + Send + Sync>` is not
/// itself a `std::error::Error`, so `?` cannot convert it: `.map_err(Error::msg)` keeps its
/// message (not its source chain).
///
/// Like `anyhow::Error`, and for the same reason, `Error` does not itself implement
/// `std::error::Error` (that would make the conversion above conflict with `From<T> for T`).
/// It converts into a `Box<dyn std::error::Error + Send + Sync>` where one is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The record or group at hand is bad (the default for errors from `map` and `reduce`).
    Record,
    /// The job's parameters are unusable.
    Params,
    /// The job itself failed, not because of one record.
    Failed,
}

impl Error {
    /// An error about the record (or key group) being processed.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Record,
            message: message.to_string(),
        }
    }

    /// An error about the job's `--param` values.
    pub fn params(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Params,
            message: message.to_string(),
        }
    }

    /// An error that is not the fault of one record: the whole job should stop.
    pub fn failed(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Failed,
            message: message.to_string(),
        }
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E> From<E> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        let any: &dyn Any = &err;
        let what = if any.is::<serde_json::Error>() {
            Some("invalid JSON")
        } else if any.is::<csv::Error>() {
            Some("invalid CSV row")
        } else if any.is::<std::str::Utf8Error>() {
            Some("invalid UTF-8")
        } else {
            None
        };
        Self::msg(chain(what, &err))
    }
}

/// `what: ` (if any), then `err` and each of its sources, joined with `": "`. A source whose
/// text already ends the message (an error that prints its source itself) is not repeated.
fn chain(what: Option<&str>, err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = what.map(|w| format!("{w}: ")).unwrap_or_default();
    message.push_str(&err.to_string());
    let mut source = err.source();
    while let Some(err) = source {
        let text = err.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = err.source();
    }
    message
}

/// The error behind the `Box<dyn std::error::Error>` an [`Error`] converts into.
#[derive(Debug)]
struct BoxedError(Error);

impl fmt::Display for BoxedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BoxedError {}

impl From<Error> for Box<dyn std::error::Error + Send + Sync> {
    fn from(err: Error) -> Self {
        Box::new(BoxedError(err))
    }
}

impl From<Error> for Box<dyn std::error::Error> {
    fn from(err: Error) -> Self {
        Box::new(BoxedError(err))
    }
}

/// `Result<T, sandmill_sdk::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::{Error, ErrorKind, Result};
    use std::fmt;

    /// `?` on `err` in a function returning the SDK's `Result`.
    fn question_mark<E>(err: E) -> Result<()>
    where
        Error: From<E>,
    {
        Err(err)?
    }

    fn record_error(result: Result<()>) -> String {
        let err = result.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Record, "{err}");
        err.message
    }

    #[test]
    fn question_mark_converts_a_parse_int_error() {
        let err = "x1".parse::<i64>().unwrap_err();
        assert_eq!(
            record_error(question_mark(err)),
            "invalid digit found in string"
        );
    }

    #[test]
    fn question_mark_converts_an_io_error() {
        let err = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad block");
        assert_eq!(record_error(question_mark(err)), "bad block");
    }

    #[derive(Debug)]
    struct Wrapped {
        context: &'static str,
        /// Whether `Display` prints the source too (as csv's and many thiserror errors do).
        prints_source: bool,
        source: Box<dyn std::error::Error + Send + Sync>,
    }

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.context)?;
            if self.prints_source {
                write!(f, ": {}", self.source)?;
            }
            Ok(())
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.source)
        }
    }

    fn wrap(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Wrapped {
        Wrapped {
            context,
            prints_source: false,
            source: Box::new(source),
        }
    }

    #[test]
    fn the_message_shows_the_source_chain() {
        let parse = "".parse::<u8>().unwrap_err();
        let err = wrap("reading settings", wrap("line 3", parse));
        assert_eq!(
            record_error(question_mark(err)),
            "reading settings: line 3: cannot parse integer from empty string"
        );
    }

    #[test]
    fn a_source_the_error_already_prints_is_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let err = Wrapped {
            prints_source: true,
            ..wrap("saving", wrap("part 7", io))
        };
        assert_eq!(
            record_error(question_mark(err)),
            "saving: part 7: disk on fire"
        );
    }

    #[test]
    fn a_boxed_error_converts_with_map_err() {
        fn boxed() -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
            Err("no such column".into())
        }
        assert_eq!(record_error(boxed().map_err(Error::msg)), "no such column");
    }

    #[test]
    fn errors_from_the_sdks_parsers_say_what_was_read() {
        let not_utf8 = vec![b'a', 0xff];
        let utf8 = std::str::from_utf8(&not_utf8).unwrap_err();
        assert_eq!(
            record_error(question_mark(utf8)),
            format!("invalid UTF-8: {utf8}")
        );
        let json = serde_json::from_str::<i64>("{").unwrap_err();
        let expected = format!("invalid JSON: {json}");
        assert_eq!(record_error(question_mark(json)), expected);
        // The message is what `From<csv::Error>` made before `?` took any error.
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&b"a,\xff\n"[..])
            .records()
            .next()
            .unwrap()
            .unwrap_err();
        let expected = format!("invalid CSV row: {csv}");
        assert_eq!(record_error(question_mark(csv)), expected);
    }

    #[test]
    fn an_error_converts_into_a_boxed_std_error() {
        fn boxed() -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
            Err(Error::params("--param n: not a number"))?
        }
        assert_eq!(boxed().unwrap_err().to_string(), "--param n: not a number");
        fn unsync() -> std::result::Result<(), Box<dyn std::error::Error>> {
            Err(Error::failed("out of room"))?
        }
        assert_eq!(unsync().unwrap_err().to_string(), "out of room");
    }
}
