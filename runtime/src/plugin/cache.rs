//! Compiled plugins kept between runs, so that rerunning a job (the common case: the same
//! plugin over new input) skips Cranelift.
//!
//! An entry is named by a SHA-256 of the plugin's bytes, this wasmtime's compatibility hash
//! (its version and every setting that changes the machine code) and Sandmill's version, so a
//! changed plugin or an upgraded Sandmill never finds a stale entry. Loading compiled code is
//! trusting it, so an entry is used only if:
//! - the directory belongs to this user and nobody else may write to it (it is created
//!   `0700`), so only this user could have put the file there;
//! - the file's own SHA-256, written in its header, matches, so a torn or corrupted write is
//!   compiled again rather than run;
//! - wasmtime accepts it (it checks its version and settings once more).
//!
//! Entries are written to a temporary file and renamed into place, so concurrent runs race
//! harmlessly. Nothing is ever evicted: an entry is the size of the compiled plugin (a few
//! MiB), and the directory can be deleted at any time.

use sha2::{Digest as _, Sha256};
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every entry.
const MAGIC: &[u8; 8] = b"SMCWASM1";
const HEADER: usize = MAGIC.len() + 32;

/// A directory of compiled plugins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompileCache {
    dir: PathBuf,
}

/// How [`CompileCache::load`] got its component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache without compiling.
    Hit,
    /// Compiled, and stored for the next run.
    Stored,
    /// Compiled, but the cache could not be used: why.
    Unusable(String),
}

impl CompileCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default directory: `$SANDMILL_CACHE_DIR`, else `$XDG_CACHE_HOME/sandmill/compiled`,
    /// else `$HOME/.cache/sandmill/compiled`; `None` if none of them is set.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("SANDMILL_CACHE_DIR").or_else(|| {
            var("XDG_CACHE_HOME")
                .or_else(|| var("HOME").map(|home| home.join(".cache")))
                .map(|cache| cache.join("sandmill").join("compiled"))
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component compiled from `wasm` for `engine`: from the cache if a trusted entry is
    /// there, otherwise compiled (by `compile`) and stored.
    ///
    /// # Errors
    /// Only what `compile` returns: a cache that cannot be read or written is reported in the
    /// outcome and otherwise ignored.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        compile: impl FnOnce() -> wasmtime::Result<Component>,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.dir.join(format!("{}.cwasm", entry_name(engine, wasm)));
        if let Err(why) = self.check_dir() {
            return Ok((compile()?, CacheOutcome::Unusable(why)));
        }
        if let Some(component) = read_entry(engine, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        let component = compile()?;
        let outcome = match component.serialize().map_err(io::Error::other) {
            Ok(code) => match write_entry(&path, &code) {
                Ok(()) => CacheOutcome::Stored,
                Err(e) => CacheOutcome::Unusable(format!("cannot write {}: {e}", path.display())),
            },
            Err(e) => CacheOutcome::Unusable(format!("cannot serialize the component: {e}")),
        };
        Ok((component, outcome))
    }

    /// Creates the directory (`0700`) if needed, and checks that only this user can write to
    /// it.
    fn check_dir(&self) -> Result<(), String> {
        let dir = &self.dir;
        let fail = |e: io::Error| format!("cannot use {}: {e}", dir.display());
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
        let meta = fs::metadata(dir).map_err(fail)?;
        if meta.uid() != effective_uid() {
            return Err(format!(
                "{} belongs to another user; remove it or pass --compile-cache with a directory \
                 of your own",
                dir.display()
            ));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(format!(
                "{} is writable by other users; `chmod go-w` it (or pass --compile-cache with \
                 another directory)",
                dir.display()
            ));
        }
        Ok(())
    }
}

/// This process's effective user id.
fn effective_uid() -> u32 {
    #[expect(unsafe_code, reason = "geteuid has no preconditions and cannot fail")]
    // SAFETY: geteuid(2) takes no arguments, touches no memory and always succeeds.
    unsafe {
        libc::geteuid()
    }
}

/// The file name of `wasm`'s entry for `engine`.
fn entry_name(engine: &Engine, wasm: &[u8]) -> String {
    /// Feeds a `Hash` into SHA-256, so that the engine's compatibility hash becomes part of
    /// a digest that is the same in every process.
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0 // Unused: the digest is read instead.
        }
    }
    let mut sha = Sha(Sha256::new());
    sha.0.update(b"sandmill ");
    sha.0.update(env!("CARGO_PKG_VERSION"));
    engine.precompile_compatibility_hash().hash(&mut sha);
    sha.0.update((wasm.len() as u64).to_le_bytes());
    sha.0.update(wasm);
    hex(&sha.0.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The component in the entry at `path`, if there is a whole, intact one that wasmtime
/// accepts. A damaged entry is removed.
fn read_entry(engine: &Engine, path: &Path) -> Option<Component> {
    let bytes = fs::read(path).ok()?;
    let intact = bytes.len() > HEADER
        && bytes.starts_with(MAGIC)
        && Sha256::digest(&bytes[HEADER..])[..] == bytes[MAGIC.len()..HEADER];
    let component = intact
        .then(|| {
            #[expect(
                unsafe_code,
                reason = "loading compiled code is the point of the cache"
            )]
            // SAFETY: `Component::deserialize` requires bytes that `Component::serialize` of a
            // compatible engine produced. The entry lies in a directory only this user can
            // write to (`check_dir`), under a name derived from the engine's compatibility
            // hash, and its SHA-256 matches what `write_entry` recorded when it stored the
            // output of `serialize`. wasmtime checks the version and settings again.
            unsafe {
                Component::deserialize(engine, &bytes[HEADER..])
            }
        })
        .and_then(Result::ok);
    if component.is_none() {
        let _ = fs::remove_file(path);
    }
    component
}

/// Stores `code` at `path`, atomically: readers see the whole entry or none.
fn write_entry(path: &Path, code: &[u8]) -> io::Result<()> {
    // One process loads one plugin once, so its pid makes the temporary name unique.
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(code))?;
        file.write_all(code)?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
