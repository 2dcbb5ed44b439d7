//! Compiled plugins kept between runs, so that rerunning a job (the common case: the same
//! plugin over new input) skips Cranelift.
//!
//! An entry is named by a SHA-256 of the plugin's bytes, this wasmtime's compatibility hash
//! (its version and every setting that changes the machine code) and Sandmill's version, so a
//! changed plugin or an upgraded Sandmill never finds a stale entry. Loading compiled code is
//! trusting it, so an entry is used only if:
//! - the directory belongs to this user and nobody else may write to it (it is created
//!   `0700`), so only this user could have put the file there;
//! - its header checks out: without a key, the entry's own SHA-256 (`SMCWASM1`), so a torn or
//!   corrupted write is compiled again rather than run; with a key
//!   ([`CompileCache::with_key`]), an HMAC-SHA256 under that key of the entry's name and code
//!   (`SMCWASM2`), so only a holder of the key could have written it;
//! - wasmtime accepts it (it checks its version and settings once more).
//!
//! A SHA-256 proves only that the file is whole: anything running as this user can write a
//! matching one, and so plant native code that runs unsandboxed in the next job. The key closes
//! that hole for the job service, whose worker processes share its user: it alone reads the
//! key (`service.key`, `0600`) and hands it to its workers (`SANDMILL_COMPILE_KEY`), so an
//! entry that anything else wrote (an unkeyed one, another key's, a planted file) fails the
//! check, is never deserialized, and is compiled again and replaced. The HMAC covers the
//! entry's name too, so an entry cannot be passed off under another plugin's name. The key is never
//! serialized with the cache (a job's spec is written to disk).
//!
//! Entries are written to a temporary file and renamed into place, so concurrent runs race
//! harmlessly. Nothing is ever evicted: an entry is the size of the compiled plugin (a few
//! MiB), and the directory can be deleted at any time.

use hmac::{Hmac, Mac as _};
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

/// The first bytes of an entry written without a key: a SHA-256 of the code follows.
const MAGIC: &[u8; 8] = b"SMCWASM1";
/// The first bytes of an entry written with a key: an HMAC-SHA256 of its name and code follows.
const KEYED_MAGIC: &[u8; 8] = b"SMCWASM2";
/// The magic and the 32-byte digest (SHA-256 or HMAC-SHA256) before the code.
const HEADER: usize = MAGIC.len() + 32;

/// A directory of compiled plugins.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompileCache {
    dir: PathBuf,
    /// The key that authenticates entries, if any. Never serialized: a cache is part of a job's
    /// spec, which is written to disk; a process that runs a spec is handed the key another
    /// way (the `sandmill` binary reads `SANDMILL_COMPILE_KEY`).
    #[serde(skip)]
    key: Option<[u8; 32]>,
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the key itself: a `Debug` of a spec may end up in a log.
        f.debug_struct("CompileCache")
            .field("dir", &self.dir)
            .field("keyed", &self.key.is_some())
            .finish()
    }
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
    /// A cache in `dir` (created when first written) whose entries carry a SHA-256: it trusts
    /// whatever this user wrote there.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            key: None,
        }
    }

    /// A cache in `dir` whose entries are authenticated with `key`: an entry is loaded only if
    /// its HMAC-SHA256 under `key` verifies; any other entry is compiled again and replaced.
    pub fn with_key(dir: impl Into<PathBuf>, key: [u8; 32]) -> Self {
        Self {
            dir: dir.into(),
            key: Some(key),
        }
    }

    /// Whether entries are authenticated with a key.
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
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
        let name = entry_name(engine, wasm);
        let path = self.dir.join(format!("{name}.cwasm"));
        if let Err(why) = self.check_dir() {
            return Ok((compile()?, CacheOutcome::Unusable(why)));
        }
        if let Some(component) = self.read_entry(engine, &name, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        let component = compile()?;
        let outcome = match component.serialize().map_err(io::Error::other) {
            Ok(code) => match write_entry(&path, &self.header(&name, &code), &code) {
                Ok(()) => CacheOutcome::Stored,
                Err(e) => CacheOutcome::Unusable(format!("cannot write {}: {e}", path.display())),
            },
            Err(e) => CacheOutcome::Unusable(format!("cannot serialize the component: {e}")),
        };
        Ok((component, outcome))
    }

    /// The header of the entry `name` holding `code`: the magic, then the SHA-256 of `code`
    /// or, with a key, the HMAC of `name` and `code`.
    fn header(&self, name: &str, code: &[u8]) -> [u8; HEADER] {
        let mut header = [0; HEADER];
        let (magic, digest) = header.split_at_mut(MAGIC.len());
        match &self.key {
            None => {
                magic.copy_from_slice(MAGIC);
                digest.copy_from_slice(&Sha256::digest(code));
            }
            Some(key) => {
                magic.copy_from_slice(KEYED_MAGIC);
                digest.copy_from_slice(&mac(key, name, code).finalize().into_bytes());
            }
        }
        header
    }

    /// Whether `bytes` (a whole entry file) is an intact entry `name` this cache may trust:
    /// the right magic, and a digest that matches (an HMAC compared in constant time).
    fn trusted(&self, name: &str, bytes: &[u8]) -> bool {
        if bytes.len() <= HEADER {
            return false;
        }
        let (header, code) = bytes.split_at(HEADER);
        let (magic, digest) = header.split_at(MAGIC.len());
        match &self.key {
            None => magic == MAGIC && Sha256::digest(code)[..] == *digest,
            Some(key) => magic == KEYED_MAGIC && mac(key, name, code).verify_slice(digest).is_ok(),
        }
    }

    /// The component in the entry `name` at `path`, if there is a whole, trusted one that
    /// wasmtime accepts. Any other entry is removed.
    fn read_entry(&self, engine: &Engine, name: &str, path: &Path) -> Option<Component> {
        let bytes = fs::read(path).ok()?;
        let component = self
            .trusted(name, &bytes)
            .then(|| {
                #[expect(
                    unsafe_code,
                    reason = "loading compiled code is the point of the cache"
                )]
                // SAFETY: `Component::deserialize` requires bytes that `Component::serialize`
                // of a compatible engine produced. The entry lies in a directory only this user
                // can write to (`check_dir`), under a name derived from the engine's
                // compatibility hash, and its header matches what `write_entry` recorded when
                // it stored the output of `serialize`: its SHA-256, or with a key an HMAC under
                // the key that only this cache's owner holds, over the name and the code, so
                // nobody without the key wrote it. wasmtime checks the version and settings
                // again.
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

/// The HMAC-SHA256 under `key` of an entry's name and code. The name is fixed-length hex, so
/// the two cannot run into each other.
fn mac(key: &[u8; 32], name: &str, code: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(name.as_bytes());
    mac.update(code);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores `header` and `code` at `path`, atomically: readers see the whole entry or none.
fn write_entry(path: &Path, header: &[u8], code: &[u8]) -> io::Result<()> {
    // One process loads one plugin once, so its pid makes the temporary name unique.
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(header)?;
        file.write_all(code)?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A component with no code to speak of: compiling it is quick, and its entry is real.
    const WAT: &str = r#"(component (core module (func (export "f") (result i32) i32.const 7)))"#;
    const KEY: [u8; 32] = [7; 32];
    const OTHER_KEY: [u8; 32] = [8; 32];

    fn engine() -> &'static Engine {
        super::super::engine::engine(false)
    }

    /// Loads `wasm` through `cache`: the outcome, and whether it was compiled.
    fn load(cache: &CompileCache, wasm: &[u8]) -> (CacheOutcome, bool) {
        let compiled = Cell::new(false);
        let (_, outcome) = cache
            .load(engine(), wasm, || {
                compiled.set(true);
                Component::new(engine(), wasm)
            })
            .expect("the component compiles");
        (outcome, compiled.get())
    }

    /// The path of `wasm`'s entry in `cache`.
    fn entry(cache: &CompileCache, wasm: &[u8]) -> PathBuf {
        cache
            .dir()
            .join(format!("{}.cwasm", entry_name(engine(), wasm)))
    }

    fn setup() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("compiled");
        (tmp, dir, wat::parse_str(WAT).unwrap())
    }

    #[test]
    fn an_entry_stored_with_a_key_loads_with_that_key_without_compiling() {
        let (_tmp, dir, wasm) = setup();
        let cache = CompileCache::with_key(&dir, KEY);
        assert_eq!(load(&cache, &wasm), (CacheOutcome::Stored, true));
        let bytes = fs::read(entry(&cache, &wasm)).unwrap();
        assert!(bytes.starts_with(KEYED_MAGIC));
        assert_eq!(load(&cache, &wasm), (CacheOutcome::Hit, false));
        // Without a key, as before.
        let plain = CompileCache::new(dir.with_file_name("plain"));
        assert_eq!(load(&plain, &wasm), (CacheOutcome::Stored, true));
        assert!(fs::read(entry(&plain, &wasm)).unwrap().starts_with(MAGIC));
        assert_eq!(load(&plain, &wasm), (CacheOutcome::Hit, false));
    }

    #[test]
    fn an_entry_of_another_key_or_of_no_key_is_compiled_again_and_replaced() {
        for key in [None, Some(OTHER_KEY)] {
            let (_tmp, dir, wasm) = setup();
            let writer = CompileCache {
                dir: dir.clone(),
                key,
            };
            assert_eq!(load(&writer, &wasm), (CacheOutcome::Stored, true));
            let theirs = fs::read(entry(&writer, &wasm)).unwrap();

            let cache = CompileCache::with_key(&dir, KEY);
            assert_eq!(
                load(&cache, &wasm),
                (CacheOutcome::Stored, true),
                "{writer:?}'s entry"
            );
            let ours = fs::read(entry(&cache, &wasm)).unwrap();
            assert_ne!(ours[..HEADER], theirs[..HEADER], "the entry was replaced");
            assert!(cache.trusted(&entry_name(engine(), &wasm), &ours));
            assert_eq!(load(&cache, &wasm), (CacheOutcome::Hit, false));
        }
    }

    #[test]
    fn a_planted_entry_with_a_correct_sha256_is_refused_when_there_is_a_key() {
        let (_tmp, dir, wasm) = setup();
        // Code that would run if loaded: another component's, under this plugin's name.
        let planted = wat::parse_str("(component (core module (func (export \"g\"))))").unwrap();
        let code = Component::new(engine(), &planted)
            .unwrap()
            .serialize()
            .unwrap();
        let cache = CompileCache::with_key(&dir, KEY);
        for magic in [MAGIC, KEYED_MAGIC] {
            fs::create_dir_all(&dir).unwrap();
            let path = entry(&cache, &wasm);
            let file = [&magic[..], &Sha256::digest(&code), &code].concat();
            fs::write(&path, &file).unwrap();
            assert_eq!(load(&cache, &wasm), (CacheOutcome::Stored, true));
            assert_ne!(
                fs::read(&path).unwrap(),
                file,
                "the planted file was replaced"
            );
        }
    }

    #[test]
    fn a_keyed_entry_with_one_byte_changed_is_refused() {
        let (_tmp, dir, wasm) = setup();
        let cache = CompileCache::with_key(&dir, KEY);
        load(&cache, &wasm);
        let path = entry(&cache, &wasm);
        let good = fs::read(&path).unwrap();
        // In the magic, the HMAC, the first byte of the code and the last.
        for at in [0, MAGIC.len() + 5, HEADER, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            fs::write(&path, &bad).unwrap();
            assert_eq!(
                load(&cache, &wasm),
                (CacheOutcome::Stored, true),
                "byte {at} changed"
            );
            assert_eq!(fs::read(&path).unwrap(), good, "rewritten whole");
        }
        // The same code under another plugin's name is not trusted either.
        assert!(!cache.trusted(&entry_name(engine(), b"another plugin"), &good));
    }

    #[test]
    fn the_key_is_never_serialized_or_shown() {
        let cache = CompileCache::with_key("/cache", KEY);
        let json = serde_json::to_string(&cache).unwrap();
        assert_eq!(json, r#"{"dir":"/cache"}"#);
        let back: CompileCache = serde_json::from_str(&json).unwrap();
        assert!(!back.is_keyed());
        let debug = format!("{cache:?}");
        assert!(
            !debug.contains("7,") && debug.contains("keyed: true"),
            "{debug}"
        );
    }
}
