//! Fixtures shared by the input module's tests.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;

use super::InputFile;

/// Writes `contents` to `path`, creating its parent directories, and returns the path.
pub(super) fn write_file(path: &Path, contents: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, contents).unwrap();
    path.to_owned()
}

/// The [`InputFile`] for an existing file.
pub(super) fn input_file(path: &Path) -> InputFile {
    InputFile::from_path(path).unwrap()
}

/// `data` as one gzip member.
pub(super) fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}
