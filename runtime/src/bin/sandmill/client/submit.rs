//! `sandmill submit`: upload the plugin, submit the job with an idempotency key, and retry a
//! submission whose answer was lost with that same key, so that a job never starts twice.
//! Which flags are sent is decided by the flags module.

use super::http::{Client, ClientError};
use super::retry::Retry;
use crate::args::SubmitArgs;
use crate::service::model::Job;
use sha2::Digest as _;

/// The plugin as `POST /v1/plugins` answers it (what the client needs of it).
#[derive(Debug, serde::Deserialize)]
struct PluginAnswer {
    /// Its SHA-256, by which a job names it.
    sha256: String,
}

/// `sandmill submit`: prints the job's id alone on stdout.
pub fn submit(args: &SubmitArgs, flags: Vec<String>) -> anyhow::Result<()> {
    let client = Client::new(&args.server)?;
    let key = args
        .idempotency_key
        .clone()
        .unwrap_or_else(new_idempotency_key);
    let job = submit_job(&client, Retry::DEFAULT, args, flags, &key)?;
    println!("{}", job.id);
    Ok(())
}

/// A random 128-bit key, as 32 hex digits.
pub fn new_idempotency_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Uploads the plugin and submits the job as `key`: the job the server made (or had made for
/// `key` already).
fn submit_job(
    client: &Client,
    retry: Retry,
    args: &SubmitArgs,
    flags: Vec<String>,
    key: &str,
) -> anyhow::Result<Job> {
    let run = &args.run;
    let wasm = std::fs::read(&run.plugin).map_err(|e| {
        super::LocalError::new(format!("reading the plugin {}", run.plugin.display()), e)
    })?;
    let sha256 = format!("{:x}", sha2::Sha256::digest(&wasm));
    // Uploading is idempotent too: the server keeps plugins by their SHA-256.
    let plugin: PluginAnswer = retry.run("POST /v1/plugins", || client.post_plugin(&wasm))?;
    if plugin.sha256 != sha256 {
        return Err(ClientError::Protocol {
            what: "POST /v1/plugins".into(),
            server: client.server().into(),
            why: format!(
                "it stored the plugin as sha256 {}, but {} has sha256 {sha256}",
                plugin.sha256,
                run.plugin.display()
            ),
        }
        .into());
    }
    let text = |p: &std::path::Path, flag: &str| {
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Config(format!("{flag} {}: not UTF-8", p.display())))
    };
    let inputs = run
        .input
        .iter()
        .map(|i| text(i, "--input"))
        .collect::<Result<Vec<_>, _>>()?;
    let body = serde_json::json!({
        "plugin": sha256,
        "inputs": inputs,
        "output": text(&run.output, "--output")?,
        "flags": flags,
        "idempotency_key": key,
    });
    let job = retry.run("POST /v1/jobs", || {
        client.post_json("/v1/jobs", &body, &[("Idempotency-Key", key)])
    })?;
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testserver::{TestServer, client_of};
    use std::time::Duration;

    #[test]
    fn keys_are_128_random_bits() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_submission_whose_answer_is_lost_makes_one_job() {
        let server = TestServer::start();
        // The server stores the first submission, then its answer is lost twice.
        server.state().lose_job_answers = 2;
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("p.wasm");
        std::fs::write(&plugin, b"\0asm component").unwrap();
        let args = SubmitArgs {
            run: crate::client::testserver::run_args(&plugin, &["books"], "counts"),
            idempotency_key: None,
            server: Default::default(),
        };
        let retry = Retry {
            attempts: 4,
            first_wait: Duration::from_millis(5),
        };
        let flags = vec!["--reducers=4".to_owned()];
        let job = submit_job(&client_of(&server), retry, &args, flags, "k1").unwrap();
        let state = server.state();
        assert_eq!(state.jobs.len(), 1, "one job for three tries");
        assert_eq!(state.job_posts, 3);
        assert_eq!(job.id, state.jobs[0].id);
        assert_eq!(state.jobs[0].flags, ["--reducers=4"]);
        assert_eq!(state.jobs[0].inputs, ["books"]);
        assert_eq!(state.plugins.len(), 1);
    }
}
