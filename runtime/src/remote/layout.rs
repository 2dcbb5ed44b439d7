//! Where a job on object storage keeps its work, and how its tasks commit there.
//!
//! ```text
//! <dataset>/_plugins/<sha256>.wasm                    plugins, by digest, for every node
//! <work>/<job run>/commit/map-3.json                  a task's commit record (first writer wins)
//! <work>/<job run>/runs/map-3/<attempt>.run           a map attempt's sorted run, all partitions
//! <dataset>/data/<job run>/reduce-0/<attempt>/part-00000   a reduce attempt's files
//! ```
//!
//! `<work>` is `--temp-dir` (an `s3://` prefix) or `<dataset>/_work`; `<job run>` is the
//! plan's fingerprint; `<attempt>` a token unique to one attempt, so that attempts of the same
//! task (a retry, a duplicate that Ray started on another node) never write the same object.
//! An attempt writes everything it produced under its token, then commits by creating the
//! task's record with a conditional put: the first attempt to create it wins, and a later one
//! reads the winner's record, removes its own objects and reports the winner's result. What
//! the records name is then the job's output; everything else is removed after the job.

use crate::dataset::OutputFile;
use crate::object::{self, ObjectUrl};
use crate::spec::JobSpec;
use crate::task::TaskId;
use crate::worker::TaskRecord;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

/// A committed task, as its record on object storage says.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Commit {
    /// The attempt that committed.
    pub token: String,
    /// Its record; a map task's run file is named by its URL.
    pub record: TaskRecord,
    /// A reduce task's files: their paths in the version, sizes and digests.
    pub files: Vec<OutputFile>,
    /// The CPU time the plugin used in the attempt, in nanoseconds.
    #[serde(default)]
    pub plugin_cpu_ns: u64,
    /// What the attempt moved to and from object storage (input, runs, output, plugin).
    #[serde(default)]
    pub traffic: object::Traffic,
}

/// The object storage of one job run.
#[derive(Debug, Clone)]
pub struct Work {
    dataset: ObjectUrl,
    fingerprint: String,
    /// `<work>/<job run>`.
    run: ObjectUrl,
}

/// Parses `path` as an object URL, as an error of `what` for the user.
pub fn url(path: &Path, what: &str) -> Result<ObjectUrl, crate::Error> {
    ObjectUrl::parse(path).map_err(|e| crate::Error::Spec(format!("{what}: {e}")))
}

impl Work {
    /// The work of the run `fingerprint` of `job`, whose output must be an `s3://` dataset.
    ///
    /// # Errors
    /// If the output or `--temp-dir` is not an object URL.
    pub fn new(job: &JobSpec, fingerprint: &str) -> Result<Work, crate::Error> {
        let dataset = url(job.output(), "--output")?;
        let root = match job.temp_dir_given() {
            Some(dir) => url(dir, "--temp-dir")?,
            None => dataset.join("_work"),
        };
        Ok(Work {
            run: root.join(fingerprint),
            fingerprint: fingerprint.to_owned(),
            dataset,
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> &ObjectUrl {
        &self.dataset
    }

    /// Where the plugin with this digest is kept for the nodes.
    pub fn plugin(&self, sha256: &str) -> ObjectUrl {
        self.dataset.join(&format!("_plugins/{sha256}.wasm"))
    }

    fn commit_url(&self, task: TaskId) -> ObjectUrl {
        self.run.join(&format!("commit/{}.json", task.name()))
    }

    /// Where a map attempt puts its run.
    pub fn run_url(&self, task: TaskId, token: &str) -> ObjectUrl {
        self.run.join(&format!("runs/{}/{token}.run", task.name()))
    }

    /// The key (below the dataset) where a reduce attempt puts the file `path`.
    pub fn data_key(&self, task: TaskId, token: &str, path: &str) -> String {
        format!("data/{}/{}/{token}/{path}", self.fingerprint, task.name())
    }

    /// The record of `task`, if it committed.
    ///
    /// # Errors
    /// If it cannot be read, or is not a record.
    pub fn committed(&self, task: TaskId) -> io::Result<Option<Commit>> {
        let url = self.commit_url(task);
        match object::get(&url) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{url} is not a commit record: {e}"),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every committed task's record, by task name (`map-3`).
    ///
    /// # Errors
    /// If they cannot be listed or read.
    pub fn commits(&self) -> io::Result<BTreeMap<String, Commit>> {
        let mut out = BTreeMap::new();
        for m in object::list(&self.run.join("commit"))? {
            let bytes = object::get(&m.url)?;
            let commit: Commit = serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a commit record: {e}", m.url),
                )
            })?;
            let name = m.url.name().trim_end_matches(".json").to_owned();
            out.insert(name, commit);
        }
        Ok(out)
    }

    /// Commits `task` with `commit` unless an attempt did first: `Ok(true)` if this one won.
    ///
    /// # Errors
    /// What the store said.
    pub fn commit(&self, task: TaskId, commit: &Commit) -> io::Result<bool> {
        let json = serde_json::to_vec(commit).expect("a commit record is JSON");
        object::create(&self.commit_url(task), Bytes::from(json))
    }

    /// Removes the job run's work (records and runs), and every reduce attempt's files but
    /// those of `kept` (the attempt tokens the published version names). Returns the objects
    /// removed.
    ///
    /// # Errors
    /// What the store said.
    pub fn collect_garbage(&self, kept: &BTreeSet<String>) -> io::Result<usize> {
        let mut removed = object::delete_below(&self.run)?;
        let data = self.dataset.join(&format!("data/{}", self.fingerprint));
        for m in object::list(&data)? {
            // data/<run>/<task>/<token>/<path>
            let token = m
                .url
                .relative_to(&data)
                .and_then(|rest| rest.split('/').nth(1));
            if token.is_none_or(|t| !kept.contains(t)) {
                object::delete(&m.url)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A token for one attempt, unique across processes and machines.
pub fn attempt_token(attempt: u32) -> String {
    format!("attempt-{attempt}-{}", object::unique_token())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::testing;

    fn work() -> Work {
        let root = testing::bucket();
        let job = JobSpec::builder("p.wasm")
            .input("in")
            .output(root.join("ds").to_path())
            .build()
            .unwrap();
        Work::new(&job, "fp").unwrap()
    }

    #[test]
    fn the_first_commit_wins_and_garbage_goes() {
        let work = work();
        let task = TaskId::Reduce(crate::task::PartitionId(0));
        let (a, b) = (attempt_token(1), attempt_token(1));
        assert_ne!(a, b);
        for token in [&a, &b] {
            let key = work.data_key(task, token, "part-00000");
            object::put(&work.dataset().join(&key), Bytes::from_static(b"x")).unwrap();
        }
        object::put(
            &work.run_url(TaskId::Map(crate::input::SplitId(0)), &a),
            Bytes::new(),
        )
        .unwrap();
        let commit = |token: &str| Commit {
            token: token.to_owned(),
            record: TaskRecord::default(),
            files: Vec::new(),
            plugin_cpu_ns: 0,
            traffic: object::Traffic::default(),
        };
        assert!(work.commit(task, &commit(&a)).unwrap());
        assert!(!work.commit(task, &commit(&b)).unwrap());
        assert_eq!(work.committed(task).unwrap().unwrap().token, a);
        assert_eq!(
            work.commits().unwrap().keys().collect::<Vec<_>>(),
            ["reduce-0"]
        );
        let removed = work.collect_garbage(&BTreeSet::from([a.clone()])).unwrap();
        assert_eq!(
            removed, 3,
            "the record, the run and the losing attempt's file"
        );
        let left: Vec<String> = object::list(work.dataset())
            .unwrap()
            .into_iter()
            .map(|m| m.url.to_string())
            .collect();
        assert_eq!(
            left,
            [work
                .dataset()
                .join(&work.data_key(task, &a, "part-00000"))
                .to_string()]
        );
        assert!(work.committed(task).unwrap().is_none());
    }
}
