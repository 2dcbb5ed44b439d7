//! Object storage: `s3://bucket/key` URLs where a path is accepted, and blocking access to the
//! objects they name, through `object_store` (S3, or anything that speaks its API: SeaweedFS,
//! MinIO, R2). Credentials, region and endpoint come from the standard `AWS_*` environment
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! and `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint).
//!
//! Errors are `io::Error`s whose message names the URL and what was being done, with the kind
//! `NotFound` or `AlreadyExists` where the store says so, so that the callers' errors (which
//! carry a path and an `io::Error`) need nothing new.
//!
//! - [`ObjectUrl`]: a parsed `s3://` URL.
//! - [`reader`]: an object read as a seekable stream of ranged GETs ([`ObjectReader`]).
//! - [`log`]: a dataset on object storage, as an append-only log of versions.

pub mod log;
pub mod reader;

pub use reader::ObjectReader;

use bytes::Bytes;
use futures_util::StreamExt as _;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The scheme Sandmill reads and writes.
const SCHEME: &str = "s3://";

/// Objects at least this big are uploaded in parts.
const MULTIPART_THRESHOLD: u64 = 32 << 20;

/// The size of each part of a multipart upload.
const PART_SIZE: usize = 16 << 20;

/// Bytes moved to and from object storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Traffic {
    /// Bytes read (GET bodies).
    pub read: u64,
    /// Bytes written (PUT bodies).
    pub written: u64,
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, other: Traffic) {
        self.read += other.read;
        self.written += other.written;
    }
}

impl Traffic {
    /// What moved since `before` (an earlier reading of [`traffic`] on this thread).
    pub fn since(self, before: Traffic) -> Traffic {
        Traffic {
            read: self.read - before.read,
            written: self.written - before.written,
        }
    }
}

thread_local! {
    static TRAFFIC: std::cell::Cell<Traffic> = const { std::cell::Cell::new(Traffic { read: 0, written: 0 }) };
}

/// The bytes this thread's calls moved so far: a task's traffic is the difference across it,
/// whatever other threads of the process do.
pub fn traffic() -> Traffic {
    TRAFFIC.with(std::cell::Cell::get)
}

fn count(read: u64, written: u64) {
    TRAFFIC.with(|t| {
        let mut now = t.get();
        now.read += read;
        now.written += written;
        t.set(now);
    });
}

/// Whether `path` is an object URL (`s3://...`) rather than a local path.
pub fn is_url(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.starts_with(SCHEME))
}

/// An object (or a prefix of objects) in a bucket: `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectUrl {
    bucket: String,
    /// Without a leading or trailing `/`; empty for the bucket's root.
    key: String,
}

impl ObjectUrl {
    /// Parses `s3://bucket/key`.
    ///
    /// # Errors
    /// If `path` is not such a URL, or names no bucket.
    pub fn parse(path: &Path) -> io::Result<ObjectUrl> {
        let text = path.to_str().unwrap_or_default();
        let rest = text.strip_prefix(SCHEME).ok_or_else(|| {
            invalid(format!(
                "{} is not an object URL: write s3://BUCKET/KEY",
                path.display()
            ))
        })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid(format!(
                "{text} names no bucket: write s3://BUCKET/KEY"
            )));
        }
        let key = key.trim_matches('/');
        if key.split('/').any(|part| part == "." || part == "..") || key.contains("//") {
            return Err(invalid(format!(
                "{text}: a key has no `.`, `..` or empty parts"
            )));
        }
        Ok(ObjectUrl {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key, without a leading `/`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The last part of the key.
    pub fn name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or_default()
    }

    /// The object `relative` (a `/`-separated path) below this one.
    pub fn join(&self, relative: &str) -> ObjectUrl {
        let relative = relative.trim_matches('/');
        let key = match (self.key.is_empty(), relative.is_empty()) {
            (_, true) => self.key.clone(),
            (true, false) => relative.to_owned(),
            (false, false) => format!("{}/{relative}", self.key),
        };
        ObjectUrl {
            bucket: self.bucket.clone(),
            key,
        }
    }

    /// The part of this URL's key below `prefix`, if it is below it.
    pub fn relative_to(&self, prefix: &ObjectUrl) -> Option<&str> {
        if self.bucket != prefix.bucket {
            return None;
        }
        if prefix.key.is_empty() {
            return Some(&self.key);
        }
        self.key.strip_prefix(&prefix.key)?.strip_prefix('/')
    }

    /// The URL as a path, which is how the rest of Sandmill carries it.
    pub fn to_path(&self) -> PathBuf {
        PathBuf::from(self.to_string())
    }

    fn object_key(&self) -> Key {
        Key::from(self.key.as_str())
    }
}

impl fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.bucket, self.key)
    }
}

/// What the store says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Where it is.
    pub url: ObjectUrl,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, in nanoseconds since the Unix epoch.
    pub modified_ns: u128,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The runtime that drives `object_store`'s futures for the blocking calls below.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sandmill-object-io")
            .enable_all()
            .build()
            .expect("the object storage runtime starts")
    })
}

/// Runs `future` to completion on the object storage runtime, from any thread that is not
/// itself driving a tokio runtime.
fn block_on<F: Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    match tokio::runtime::Handle::try_current() {
        // Called from async code (the job service): leave its thread to it.
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| runtime().block_on(future))
                .join()
                .expect("an object storage call does not panic")
        }),
        Err(_) => runtime().block_on(future),
    }
}

type Stores = Mutex<HashMap<String, Arc<dyn ObjectStore>>>;

/// Stores set for a bucket by [`use_store`] (tests), or made from the environment.
fn stores() -> &'static Stores {
    static STORES: OnceLock<Stores> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

/// Makes `bucket` use `store` in this process instead of one configured from the
/// environment: for tests, with `object_store::memory::InMemory`.
#[doc(hidden)]
pub fn use_store(bucket: &str, store: Arc<dyn ObjectStore>) {
    stores()
        .lock()
        .expect("the store table is not poisoned")
        .insert(bucket.to_owned(), store);
}

/// The store of `url`'s bucket, configured from `AWS_*` the first time.
fn store(url: &ObjectUrl) -> io::Result<Arc<dyn ObjectStore>> {
    let mut stores = stores().lock().expect("the store table is not poisoned");
    if let Some(store) = stores.get(&url.bucket) {
        return Ok(store.clone());
    }
    let mut builder =
        object_store::aws::AmazonS3Builder::from_env().with_bucket_name(url.bucket.as_str());
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        builder = builder.with_region("us-east-1");
    }
    let store: Arc<dyn ObjectStore> = Arc::new(builder.build().map_err(|e| {
        io::Error::other(format!(
            "cannot use {url}: {e}; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION \
             and, for a store other than AWS, AWS_ENDPOINT_URL (with AWS_ALLOW_HTTP=true for \
             http://)"
        ))
    })?);
    stores.insert(url.bucket.clone(), store.clone());
    Ok(store)
}

/// Our `io::Error` for a failed store call on `url`.
fn error(url: &ObjectUrl, doing: &str, err: object_store::Error) -> io::Error {
    let kind = match &err {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            io::ErrorKind::AlreadyExists
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    let hint = match kind {
        io::ErrorKind::PermissionDenied => "; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        io::ErrorKind::Other => "; check AWS_ENDPOINT_URL and that the store is up",
        _ => "",
    };
    // object_store's messages repeat the whole error chain; the first line says it.
    let text = err.to_string();
    let text = crate::text::cut(text.lines().next().unwrap_or("").to_owned(), 400);
    io::Error::new(kind, format!("{url}: cannot {doing}: {text}{hint}"))
}

fn meta(url: &ObjectUrl, m: object_store::ObjectMeta) -> ObjectMeta {
    let modified_ns = m
        .last_modified
        .timestamp_nanos_opt()
        .map_or(0, |ns| ns.max(0) as u128);
    ObjectMeta {
        url: ObjectUrl {
            bucket: url.bucket.clone(),
            key: m.location.to_string(),
        },
        size: m.size,
        modified_ns,
    }
}

/// The object at `url`'s size and time.
///
/// # Errors
/// `NotFound` if there is none; what the store said otherwise.
pub fn head(url: &ObjectUrl) -> io::Result<ObjectMeta> {
    let store = store(url)?;
    let m = block_on(store.head(&url.object_key())).map_err(|e| error(url, "read", e))?;
    Ok(meta(url, m))
}

/// Every object below `prefix` (`prefix/...`, not `prefix` itself), sorted by key.
///
/// # Errors
/// What the store said.
pub fn list(prefix: &ObjectUrl) -> io::Result<Vec<ObjectMeta>> {
    let store = store(prefix)?;
    let key = (!prefix.key.is_empty()).then(|| prefix.object_key());
    let found: Vec<_> = block_on(store.list(key.as_ref()).collect::<Vec<_>>());
    let mut out = Vec::with_capacity(found.len());
    for m in found {
        out.push(meta(prefix, m.map_err(|e| error(prefix, "list", e))?));
    }
    out.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(out)
}

/// The names directly below `prefix`: its objects' and its sub-prefixes' last parts (a
/// sub-prefix with a trailing `/`), sorted. One request, however many objects lie deeper.
///
/// # Errors
/// What the store said.
pub fn list_top(prefix: &ObjectUrl) -> io::Result<Vec<String>> {
    let store = store(prefix)?;
    let key = (!prefix.key.is_empty()).then(|| prefix.object_key());
    let listed =
        block_on(store.list_with_delimiter(key.as_ref())).map_err(|e| error(prefix, "list", e))?;
    let last = |p: &Key| p.filename().unwrap_or_default().to_owned();
    let mut names: Vec<String> = listed
        .common_prefixes
        .iter()
        .map(|p| format!("{}/", last(p)))
        .chain(listed.objects.iter().map(|m| last(&m.location)))
        .collect();
    names.sort();
    Ok(names)
}

/// The whole object at `url`.
///
/// # Errors
/// `NotFound` if there is none; what the store said otherwise.
pub fn get(url: &ObjectUrl) -> io::Result<Bytes> {
    let store = store(url)?;
    let bytes = block_on(async {
        let got = store.get(&url.object_key()).await?;
        got.bytes().await
    })
    .map_err(|e| error(url, "read", e))?;
    count(bytes.len() as u64, 0);
    Ok(bytes)
}

/// Bytes `range` of the object at `url` (a ranged GET).
///
/// # Errors
/// What the store said.
pub fn get_range(url: &ObjectUrl, range: Range<u64>) -> io::Result<Bytes> {
    if range.is_empty() {
        return Ok(Bytes::new());
    }
    let store = store(url)?;
    let what = format!("read bytes {}..{}", range.start, range.end);
    let bytes =
        block_on(store.get_range(&url.object_key(), range)).map_err(|e| error(url, &what, e))?;
    count(bytes.len() as u64, 0);
    Ok(bytes)
}

/// Writes `bytes` to `url`, replacing what is there.
///
/// # Errors
/// What the store said.
pub fn put(url: &ObjectUrl, bytes: Bytes) -> io::Result<()> {
    let store = store(url)?;
    let len = bytes.len() as u64;
    block_on(store.put(&url.object_key(), PutPayload::from(bytes)))
        .map_err(|e| error(url, "write", e))?;
    count(0, len);
    Ok(())
}

/// Writes `bytes` to `url` only if nothing is there (a conditional put, `If-None-Match: *`):
/// `Ok(true)` if this call created it, `Ok(false)` if an object was there first.
///
/// # Errors
/// What the store said otherwise.
pub fn create(url: &ObjectUrl, bytes: Bytes) -> io::Result<bool> {
    let store = store(url)?;
    let options = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    let len = bytes.len() as u64;
    match block_on(store.put_opts(&url.object_key(), PutPayload::from(bytes), options)) {
        Ok(_) => {
            count(0, len);
            Ok(true)
        }
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => Ok(false),
        Err(e) => Err(error(url, "create", e)),
    }
}

/// Uploads the local file `path` to `url` (in parts if it is large).
///
/// # Errors
/// If the file cannot be read or the store refuses it.
pub fn upload(path: &Path, url: &ObjectUrl) -> io::Result<()> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let len = file.metadata()?.len();
    if len < MULTIPART_THRESHOLD {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)?;
        return put(url, Bytes::from(bytes));
    }
    let store = store(url)?;
    block_on(async {
        let upload = store
            .put_multipart(&url.object_key())
            .await
            .map_err(|e| error(url, "start an upload", e))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0; PART_SIZE];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(4)
                .await
                .map_err(|e| error(url, "upload", e))?;
            writer.write(&buf[..n]);
        }
        writer
            .finish()
            .await
            .map(drop)
            .map_err(|e| error(url, "finish an upload", e))
    })?;
    count(0, len);
    Ok(())
}

/// Downloads the object at `url` (or bytes `range` of it) into a new local file at `path`.
///
/// # Errors
/// If it cannot be read or the file written.
pub fn download(url: &ObjectUrl, range: Option<Range<u64>>, path: &Path) -> io::Result<()> {
    use std::io::Write as _;
    let store = store(url)?;
    let mut file = std::fs::File::create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    block_on(async {
        let options = object_store::GetOptions {
            range: range.map(Into::into),
            ..Default::default()
        };
        let got = store
            .get_opts(&url.object_key(), options)
            .await
            .map_err(|e| error(url, "read", e))?;
        let mut stream = got.into_stream();
        let mut read = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| error(url, "read", e))?;
            read += chunk.len() as u64;
            file.write_all(&chunk)?;
        }
        Ok::<_, io::Error>(read)
    })
    .map(|read| count(read, 0))?;
    file.sync_all()
}

/// The object at `url`, whose SHA-256 is `sha256`, as a local file in `dir` named by its
/// digest: downloaded once (beside its name, then renamed, so that concurrent callers never
/// read half) and checked; a file already there with that digest is used as is.
///
/// # Errors
/// If it cannot be downloaded, or is not the object with that digest.
pub fn fetch_verified(url: &ObjectUrl, sha256: &str, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(format!(
        "{sha256}.{}",
        url.name().rsplit('.').next().unwrap_or("bin")
    ));
    if crate::dataset::sha256_file(&path).is_ok_and(|got| got == sha256) {
        return Ok(path);
    }
    let local = |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| local(e, dir))?;
    let tmp = path.with_extension(format!("tmp-{}-{}", std::process::id(), unique()));
    download(url, None, &tmp)?;
    let got = crate::dataset::sha256_file(&tmp).map_err(|e| local(e, &tmp))?;
    if got != sha256 {
        let _ = std::fs::remove_file(&tmp);
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{url} has sha256 {got}, not the {sha256} expected"),
        ));
    }
    std::fs::rename(&tmp, &path).map_err(|e| local(e, &path))?;
    Ok(path)
}

/// A number no other call in this process gets.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Twelve hex digits no other writer of the same store gets (from the host, the process, the
/// time and a counter): to name an object only one writer writes, such as an attempt's.
pub fn unique_token() -> String {
    use sha2::Digest as _;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let seed = format!("{host}/{}/{now}/{}", std::process::id(), unique());
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Uploads the local file `path` to `url` unless an object is there already (as the plugin
/// of a job is, kept by digest): `Ok(true)` if this call wrote it.
///
/// # Errors
/// If the file cannot be read or the store refuses it.
pub fn create_from_file(path: &Path, url: &ObjectUrl) -> io::Result<bool> {
    let bytes = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    create(url, Bytes::from(bytes))
}

/// Deletes the object at `url`; nothing there is no error.
///
/// # Errors
/// What the store said otherwise.
pub fn delete(url: &ObjectUrl) -> io::Result<()> {
    let store = store(url)?;
    match block_on(store.delete(&url.object_key())) {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(error(url, "delete", e)),
    }
}

/// Deletes every object below `prefix`; returns how many.
///
/// # Errors
/// What the store said.
pub fn delete_below(prefix: &ObjectUrl) -> io::Result<usize> {
    let found = list(prefix)?;
    for m in &found {
        delete(&m.url)?;
    }
    Ok(found.len())
}

#[cfg(test)]
pub(crate) mod testing {
    //! An in-memory bucket per test.

    use super::*;

    /// A fresh in-memory bucket with a unique name, and its root URL.
    pub(crate) fn bucket() -> ObjectUrl {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        use_store(&name, Arc::new(object_store::memory::InMemory::new()));
        ObjectUrl::parse(Path::new(&format!("s3://{name}"))).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_join_and_print() {
        let url = ObjectUrl::parse(Path::new("s3://b/data/x/")).unwrap();
        assert_eq!((url.bucket(), url.key()), ("b", "data/x"));
        assert_eq!(
            url.join("part-00000").to_string(),
            "s3://b/data/x/part-00000"
        );
        assert_eq!(url.join("y").relative_to(&url), Some("y"));
        assert_eq!(url.relative_to(&url.join("y")), None);
        let root = ObjectUrl::parse(Path::new("s3://b")).unwrap();
        assert_eq!(root.join("k").to_string(), "s3://b/k");
        assert_eq!(url.join("p/q").name(), "q");
        for bad in [
            "s3://",
            "s3:///k",
            "s3://b/a/../c",
            "/local/path",
            "s3://b/a//c",
        ] {
            let err = ObjectUrl::parse(Path::new(bad)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
        assert!(is_url(Path::new("s3://b/k")) && !is_url(Path::new("b/k")));
    }

    #[test]
    fn objects_are_fetched_once_and_checked_by_digest() {
        use sha2::Digest as _;
        let root = testing::bucket();
        let dir = tempfile::tempdir().unwrap();
        let url = root.join("_plugins/p.wasm");
        put(&url, Bytes::from_static(b"plugin")).unwrap();
        let sha = format!("{:x}", sha2::Sha256::digest(b"plugin"));
        let path = fetch_verified(&url, &sha, dir.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"plugin");
        // Cached: a second fetch reads nothing.
        let before = traffic();
        assert_eq!(fetch_verified(&url, &sha, dir.path()).unwrap(), path);
        assert_eq!(traffic().since(before).read, 0);
        let err = fetch_verified(&url, &"0".repeat(64), dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no file is left of it"
        );
    }

    #[test]
    fn create_is_first_writer_wins() {
        let root = testing::bucket();
        let url = root.join("commit/map-0");
        assert!(create(&url, Bytes::from_static(b"first")).unwrap());
        assert!(!create(&url, Bytes::from_static(b"second")).unwrap());
        assert_eq!(&get(&url).unwrap()[..], b"first");
    }

    #[test]
    fn list_head_range_delete() {
        let root = testing::bucket();
        put(&root.join("d/a"), Bytes::from_static(b"0123456789")).unwrap();
        put(&root.join("d/b/c"), Bytes::from_static(b"x")).unwrap();
        put(&root.join("e"), Bytes::from_static(b"y")).unwrap();
        let names: Vec<String> = list(&root.join("d"))
            .unwrap()
            .into_iter()
            .map(|m| m.url.to_string())
            .collect();
        assert_eq!(
            names,
            [root.join("d/a").to_string(), root.join("d/b/c").to_string()]
        );
        assert_eq!(list_top(&root).unwrap(), ["d/", "e"]);
        assert_eq!(list_top(&root.join("d")).unwrap(), ["a", "b/"]);
        assert_eq!(head(&root.join("d/a")).unwrap().size, 10);
        assert_eq!(&get_range(&root.join("d/a"), 3..6).unwrap()[..], b"345");
        assert_eq!(
            head(&root.join("nothing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(delete_below(&root.join("d")).unwrap(), 2);
        assert_eq!(list(&root).unwrap().len(), 1);
        delete(&root.join("e")).unwrap();
        delete(&root.join("e")).unwrap();
    }

    #[test]
    fn files_upload_and_download_whole_or_in_part() {
        let root = testing::bucket();
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        std::fs::write(dir.path().join("in"), &data).unwrap();
        upload(&dir.path().join("in"), &root.join("f")).unwrap();
        download(&root.join("f"), None, &dir.path().join("out")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("out")).unwrap(), data);
        download(&root.join("f"), Some(1000..1010), &dir.path().join("part")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("part")).unwrap(),
            &data[1000..1010]
        );
    }
}
