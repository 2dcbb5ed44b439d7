//! Encodings for keys and values whose byte order is their natural order.
//!
//! The host sorts keys (and the values of each key) by their bytes. These encodings make that
//! order the numeric one, so a job that keys by user id gets its output in id order:
//!
//! ```
//! use sandmill_sdk::codec;
//! assert!(codec::i64_key(-5) < codec::i64_key(3));
//! assert!(codec::u64_key(9) < codec::u64_key(10));
//! assert_eq!(codec::decode_i64(&codec::i64_key(-5)).unwrap(), -5);
//! ```
//!
//! The host's native `sum` and `count` merges read values in the [`i64_key`] encoding, one
//! 8-byte lane per number ([`i64_lanes`]).

use crate::{Error, Result};
use serde::{Serialize, de::DeserializeOwned};

const SIGN: u64 = 1 << 63;

/// Encodes `v` as 8 big-endian bytes: byte order is numeric order.
pub fn u64_key(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// Decodes [`u64_key`].
///
/// # Errors
/// If `bytes` is not 8 bytes long.
pub fn decode_u64(bytes: &[u8]) -> Result<u64> {
    Ok(u64::from_be_bytes(eight(bytes)?))
}

/// Encodes `v` as 8 big-endian bytes with the sign bit flipped: byte order is numeric order,
/// negative numbers first.
pub fn i64_key(v: i64) -> [u8; 8] {
    ((v as u64) ^ SIGN).to_be_bytes()
}

/// Decodes [`i64_key`].
///
/// # Errors
/// If `bytes` is not 8 bytes long.
pub fn decode_i64(bytes: &[u8]) -> Result<i64> {
    Ok((u64::from_be_bytes(eight(bytes)?) ^ SIGN) as i64)
}

/// Encodes several numbers, each as [`i64_key`], back to back: the value layout the host's
/// native `sum` merge adds lane by lane. The bytes are held inline (no allocation), as a
/// [`Lanes`], which is a `&[u8]` wherever one is wanted.
pub fn i64_lanes<const N: usize>(values: [i64; N]) -> Lanes<N> {
    Lanes(values.map(i64_key))
}

/// `N` numbers in the [`i64_lanes`] encoding: `8 * N` bytes, without an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lanes<const N: usize>([[u8; 8]; N]);

impl<const N: usize> std::ops::Deref for Lanes<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.0.as_flattened()
    }
}

impl<const N: usize> AsRef<[u8]> for Lanes<N> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Decodes [`i64_lanes`].
///
/// # Errors
/// If `bytes` is not `8 * N` bytes long.
pub fn decode_i64_lanes<const N: usize>(bytes: &[u8]) -> Result<[i64; N]> {
    if bytes.len() != 8 * N {
        return Err(Error::failed(format_args!(
            "expected {N} 8-byte numbers ({} bytes), got {} bytes",
            8 * N,
            bytes.len()
        )));
    }
    let mut out = [0i64; N];
    for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        *slot = decode_i64(chunk)?;
    }
    Ok(out)
}

/// Serializes `value` as JSON.
///
/// # Errors
/// If `value` cannot be represented as JSON (a map with non-string keys, say).
pub fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::failed(format_args!("cannot encode JSON: {e}")))
}

/// Deserializes JSON bytes.
///
/// # Errors
/// If `bytes` is not valid JSON for `T`.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(serde_json::from_slice(bytes)?)
}

fn eight(bytes: &[u8]) -> Result<[u8; 8]> {
    bytes.try_into().map_err(|_| {
        Error::failed(format_args!(
            "expected an 8-byte number, got {} bytes",
            bytes.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_sort_numerically() {
        let nums = [
            i64::MIN,
            -1_000_000,
            -2,
            -1,
            0,
            1,
            2,
            255,
            256,
            1 << 40,
            i64::MAX,
        ];
        for pair in nums.windows(2) {
            assert!(i64_key(pair[0]) < i64_key(pair[1]), "{pair:?}");
            assert_eq!(decode_i64(&i64_key(pair[0])).unwrap(), pair[0]);
        }
        let unums = [0u64, 1, 255, 256, 65_535, 1 << 40, u64::MAX];
        for pair in unums.windows(2) {
            assert!(u64_key(pair[0]) < u64_key(pair[1]), "{pair:?}");
            assert_eq!(decode_u64(&u64_key(pair[1])).unwrap(), pair[1]);
        }
    }

    #[test]
    fn lanes_round_trip_and_reject_bad_lengths() {
        let bytes = i64_lanes([3, -7]);
        assert_eq!(bytes.len(), 16);
        assert_eq!(bytes.as_ref(), [i64_key(3), i64_key(-7)].concat());
        assert_eq!(decode_i64_lanes::<2>(&bytes).unwrap(), [3, -7]);
        assert!(decode_i64_lanes::<2>(&bytes[..15]).is_err());
        assert!(decode_i64(&[1, 2, 3]).is_err());
    }
}
