//! The job's `--param k=v` pairs.

use crate::{Error, Result};
use std::str::FromStr;

/// The job's parameters, as given with `sandmill run --param key=value`.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parameters from `(key, value)` pairs (later duplicates win).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` parsed as `T`, or `default` if not given.
    ///
    /// # Errors
    /// [`Error::params`] naming the key if the value does not parse.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| Error::params(format_args!("--param {key}={v}: {e}"))),
        }
    }

    /// Fails if any parameter other than `known` was given, so typos do not pass silently.
    ///
    /// # Errors
    /// [`Error::params`] naming the unknown key and listing the known ones.
    pub fn expect_only(&self, known: &[&str]) -> Result<()> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) if known.is_empty() => Err(Error::params(format_args!(
                "unknown parameter {k:?}: this job takes none"
            ))),
            Some((k, _)) => Err(Error::params(format_args!(
                "unknown parameter {k:?}: this job takes {}",
                known.join(", ")
            ))),
        }
    }

    /// All pairs, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn lookup_parse_and_unknown_keys() {
        let p = params(&[("min", "2"), ("min", "3"), ("name", "x")]);
        assert_eq!(p.get("min"), Some("3"));
        assert_eq!(p.parse_or("min", 0u32).unwrap(), 3);
        assert_eq!(p.parse_or("absent", 7u32).unwrap(), 7);
        let err = p.parse_or::<u32>("name", 0).unwrap_err();
        assert!(err.message().contains("--param name=x"), "{err}");
        assert!(p.expect_only(&["min", "name"]).is_ok());
        let err = p.expect_only(&["min"]).unwrap_err();
        assert!(err.message().contains("\"name\"") && err.message().contains("takes min"));
        assert!(
            params(&[("a", "1")])
                .expect_only(&[])
                .unwrap_err()
                .message()
                .contains("none")
        );
    }
}
