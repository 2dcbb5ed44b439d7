//! `sandmill versions` and `sandmill rollback` on a dataset of the job service, shown as for a
//! local dataset (the versions module prints both).

use super::http::{Client, ClientError, segment};
use sandmill::text::inert;
use std::io::Write;

/// `GET /v1/datasets/NAME/versions` as `{"versions": [...]}`.
#[derive(serde::Deserialize)]
struct Versions {
    versions: Vec<serde_json::Value>,
}

/// The versions of the server's dataset `name`, each as `sandmill versions --json` gives it.
pub fn list(client: &Client, name: &str) -> Result<Vec<serde_json::Value>, ClientError> {
    let answer: Versions =
        client.get_json(&format!("/v1/datasets/{}/versions", segment(name)), &[])?;
    Ok(answer.versions)
}

/// `sandmill versions NAME` against the server: the local command's table or JSON.
pub fn versions(client: &Client, name: &str, json: bool) -> anyhow::Result<()> {
    crate::versions::print_listing(&list(client, name)?, json)
}

/// `POST /v1/datasets/NAME/rollback` as `{"from", "to"}`.
#[derive(serde::Deserialize)]
struct Rollback {
    from: Option<String>,
    to: String,
}

/// `sandmill rollback NAME [--to V]` against the server: prints `NAME: FROM -> TO`, as for a
/// local dataset.
pub fn rollback(
    client: &Client,
    name: &str,
    to: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let body = match to {
        Some(to) => serde_json::json!({ "to": to }),
        None => serde_json::json!({}),
    };
    let path = format!("/v1/datasets/{}/rollback", segment(name));
    let done: Rollback = client.post_json(&path, &body, &[])?;
    match done.from {
        Some(from) => writeln!(
            out,
            "{}: {} -> {}",
            inert(name),
            inert(&from),
            inert(&done.to)
        )?,
        None => writeln!(out, "{}: now {}", inert(name), inert(&done.to))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testserver::{TestServer, client_of};

    #[test]
    fn rollback_sends_the_version_and_says_what_changed() {
        let server = TestServer::start();
        server
            .state()
            .dataset("counts", "v2", &[("part-00000", "x")]);
        let mut out = Vec::new();
        rollback(&client_of(&server), "counts", Some("v1"), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "counts: v2 -> v1\n");
        let err = rollback(&client_of(&server), "nope", None, &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "no dataset nope");
    }

    #[test]
    fn versions_are_the_servers_json() {
        let server = TestServer::start();
        server
            .state()
            .dataset("counts", "v2", &[("part-00000", "x")]);
        let versions = list(&client_of(&server), "counts").unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[1]["version"], "v2");
        assert_eq!(versions[1]["current"], true);
    }
}
