//! A Parquet file's bytes, local or on object storage, as the `parquet` crate reads them
//! ([`ChunkReader`]): a local file through its handle, an object through ranged GETs, so that a
//! map task fetches only its footer and its row groups' column chunks.

use crate::input::InputFile;
use crate::object::{ObjectReader, ObjectUrl};
use bytes::Bytes;
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// Where a Parquet file's bytes come from.
#[derive(Debug)]
pub(crate) enum ParquetSource {
    /// A local file.
    File(File),
    /// An object of `len` bytes.
    Object {
        /// Its URL.
        url: ObjectUrl,
        /// Its size when planned.
        len: u64,
    },
}

impl ParquetSource {
    /// Opens `file`.
    ///
    /// # Errors
    /// If it cannot be opened, or its URL is not a valid `s3://` URL.
    pub(crate) fn open(file: &InputFile) -> io::Result<ParquetSource> {
        if crate::object::is_url(&file.path) {
            let url = ObjectUrl::parse(&file.path)?;
            Ok(ParquetSource::Object { url, len: file.len })
        } else {
            File::open(&file.path).map(ParquetSource::File)
        }
    }

    /// Another handle on the same bytes (a reader of one row group takes its own).
    ///
    /// # Errors
    /// If the file handle cannot be duplicated.
    pub(crate) fn try_clone(&self) -> io::Result<ParquetSource> {
        Ok(match self {
            ParquetSource::File(f) => ParquetSource::File(f.try_clone()?),
            ParquetSource::Object { url, len } => ParquetSource::Object {
                url: url.clone(),
                len: *len,
            },
        })
    }
}

/// A stream of a [`ParquetSource`] from some offset.
pub(crate) enum SourceRead {
    File(BufReader<File>),
    Object(ObjectReader),
}

impl Read for SourceRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SourceRead::File(f) => f.read(buf),
            SourceRead::Object(o) => o.read(buf),
        }
    }
}

impl Length for ParquetSource {
    fn len(&self) -> u64 {
        match self {
            ParquetSource::File(f) => Length::len(f),
            ParquetSource::Object { len, .. } => *len,
        }
    }
}

impl ChunkReader for ParquetSource {
    type T = SourceRead;

    fn get_read(&self, start: u64) -> Result<SourceRead> {
        match self {
            ParquetSource::File(f) => Ok(SourceRead::File(f.get_read(start)?)),
            ParquetSource::Object { url, len } => {
                let mut reader = ObjectReader::new(url.clone(), *len, *len);
                reader.seek(SeekFrom::Start(start))?;
                Ok(SourceRead::Object(reader))
            }
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        match self {
            ParquetSource::File(f) => f.get_bytes(start, length),
            ParquetSource::Object { url, .. } => {
                let end = start + length as u64;
                let bytes = crate::object::get_range(url, start..end)?;
                if bytes.len() != length {
                    return Err(ParquetError::EOF(format!(
                        "expected {length} bytes at byte {start}, got {}",
                        bytes.len()
                    )));
                }
                Ok(bytes)
            }
        }
    }
}
