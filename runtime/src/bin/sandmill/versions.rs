//! `sandmill versions DATASET [--json]`: each version with when it was published, what it
//! holds and how it was made, as a table for people or a JSON array for scripts.

use sandmill::dataset::{Dataset, InputFingerprint, PluginDigest, VersionInfo, rfc3339_from_unix};
use sandmill::text::inert;
use std::fmt::Write as _;

/// Inputs named on a version's `inputs:` line; `--json` lists them all.
const INPUTS_SHOWN: usize = 3;

/// Prints the versions of the dataset at `path`, newest last.
pub fn print(path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let versions = Dataset::open(path)?.versions()?;
    let list: Vec<serde_json::Value> = versions.iter().map(json_of).collect();
    print_listing(&list, json)
}

/// Prints the versions of the dataset at the `s3://` URL `path`, as [`print`] does.
pub fn print_object(path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let dataset = sandmill::object::log::ObjectDataset::new(path)?;
    let versions = dataset.versions()?;
    if versions.is_empty() {
        return Err(sandmill::dataset::DatasetError::NotFound { path: path.into() }.into());
    }
    let list: Vec<serde_json::Value> = versions
        .into_iter()
        .map(|v| {
            json_of(&VersionInfo {
                id: v.entry.version,
                path: path.to_path_buf(),
                current: v.current,
                files: v.entry.manifest.files.len(),
                bytes: v.entry.manifest.files.iter().map(|f| f.bytes).sum(),
                published: Some(v.entry.created),
                manifest: Some(v.entry.manifest),
            })
        })
        .collect();
    print_listing(&list, json)
}

/// Prints versions given as `--json` lists them (a local dataset's, or the job service's,
/// which answers the same JSON): as that JSON array, or as the table.
///
/// # Errors
/// If a version is not in that form, or stdout cannot be written.
pub fn print_listing(list: &[serde_json::Value], json: bool) -> anyhow::Result<()> {
    let text = listing_text(list, json)?;
    // Not `print!`, which panics when the reader has gone (`sandmill versions D | head`).
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

/// The text [`print_listing`] prints.
fn listing_text(list: &[serde_json::Value], json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(list)? + "\n");
    }
    let rows = list
        .iter()
        .map(|v| serde_json::from_value::<Listed>(v.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow::anyhow!("a version listing not in the form of `sandmill versions --json`: {e}")
        })?;
    Ok(table(&rows))
}

/// One version as the table needs it, read from its JSON ([`json_of`]): the same for a local
/// dataset and the job service's.
#[derive(Debug, serde::Deserialize)]
struct Listed {
    version: String,
    current: bool,
    published: Option<String>,
    files: usize,
    records: Option<u64>,
    bytes: u64,
    /// `None` when the version has no manifest.
    plugin: Option<PluginDigest>,
    params: Option<Vec<ListedParam>>,
    inputs: Option<Vec<ListedInput>>,
}

/// A `--param` of a version.
#[derive(Debug, serde::Deserialize)]
struct ListedParam {
    key: String,
    value: String,
}

/// An input of a version.
#[derive(Debug, serde::Deserialize)]
struct ListedInput {
    path: String,
    bytes: u64,
    /// Its modification time, RFC 3339 to the second.
    modified: String,
    #[serde(default)]
    partitions: Vec<String>,
}

/// The records of a version, by its manifest.
fn records(v: &VersionInfo) -> Option<u64> {
    v.manifest
        .as_ref()
        .map(|m| m.files.iter().map(|f| f.records).sum())
}

/// An input's modification time to the second.
fn modified(input: &InputFingerprint) -> String {
    rfc3339_from_unix(u64::try_from(input.modified_ns / 1_000_000_000).unwrap_or(u64::MAX))
}

/// The listing for people: a line per version, then its parameters and inputs. Everything a
/// manifest or a record says is shown inert: they are files anyone can edit.
fn table(versions: &[Listed]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<2}{:<9} {:<20} {:>6} {:>10} {:>10}  plugin",
        "", "version", "published", "files", "records", "bytes"
    );
    for v in versions {
        let mark = if v.current { "*" } else { "" };
        let published = v.published.as_deref().unwrap_or("-");
        let records = v.records.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let plugin = v.plugin.as_ref().map_or_else(
            || "(no manifest)".to_owned(),
            |p| {
                let name = std::path::Path::new(&p.path)
                    .file_name()
                    .map_or_else(|| p.path.clone(), |n| n.to_string_lossy().into_owned());
                format!("{name} sha256:{}", p.short_sha256())
            },
        );
        let _ = writeln!(
            out,
            "{mark:<2}{:<9} {:<20} {:>6} {:>10} {:>10}  {}",
            inert(&v.version),
            inert(published),
            v.files,
            records,
            crate::human_bytes(v.bytes),
            inert(&plugin)
        );
        if v.plugin.is_none() {
            continue;
        }
        let indent = " ".repeat(12);
        let params: Vec<String> = v
            .params
            .iter()
            .flatten()
            .map(|ListedParam { key: k, value: v }| {
                // Quoted when a space or nothing would make the line ambiguous.
                if v.is_empty() || v.contains(char::is_whitespace) {
                    format!("{}={v:?}", inert(k))
                } else {
                    format!("{}={}", inert(k), inert(v))
                }
            })
            .collect();
        let params = if params.is_empty() {
            "(none)".to_owned()
        } else {
            params.join(" ")
        };
        let _ = writeln!(out, "{indent}params: {params}");
        let inputs = v.inputs.as_deref().unwrap_or_default();
        let total: u64 = inputs.iter().map(|i| i.bytes).sum();
        let mut line = format!(
            "{indent}inputs: {} file{}, {}",
            inputs.len(),
            crate::plural(inputs.len()),
            crate::human_bytes(total)
        );
        for (i, input) in inputs.iter().take(INPUTS_SHOWN).enumerate() {
            line.push_str(if i == 0 { ": " } else { ", " });
            let mut about = format!(
                "{}, modified {}",
                crate::human_bytes(input.bytes),
                input.modified
            );
            if !input.partitions.is_empty() {
                about.push_str("; ");
                about.push_str(&input.partitions.join(" "));
            }
            let _ = write!(line, "{} ({})", inert(&input.path), inert(&about));
        }
        if inputs.len() > INPUTS_SHOWN {
            let _ = write!(
                line,
                " and {} more (--json lists them)",
                inputs.len() - INPUTS_SHOWN
            );
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

/// One version as JSON. JSON escapes control characters, so nothing needs making inert.
pub(crate) fn json_of(v: &VersionInfo) -> serde_json::Value {
    let manifest = v.manifest.as_ref();
    serde_json::json!({
        "version": v.id.to_string(),
        "current": v.current,
        "published": v.published,
        "files": v.files,
        "records": records(v),
        "bytes": v.bytes,
        "path": v.path,
        "plugin": manifest.map(|m| &m.plugin),
        "params": manifest.map(|m| m.params.iter().map(|(k, v)| {
            serde_json::json!({ "key": k, "value": v })
        }).collect::<Vec<_>>()),
        "format": manifest.map(|m| &m.format),
        "reducers": manifest.map(|m| m.reducers),
        "inputs": manifest.map(|m| m.inputs.iter().map(|i| {
            let mut input = serde_json::json!({
                "path": i.path,
                "bytes": i.bytes,
                "modified_ns": i.modified_ns,
                "modified": modified(i),
            });
            if !i.partitions.is_empty() {
                input["partitions"] = serde_json::json!(i.partitions);
            }
            input
        }).collect::<Vec<_>>()),
        "job_digest": manifest.map(|m| &m.job_digest).filter(|d| !d.is_empty()),
        "sandmill_version": manifest.map(|m| &m.sandmill_version),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_in_json_prints_as_the_table() {
        let version = serde_json::json!({
            "version": "v2", "current": true, "published": "2026-12-02T13:04:05Z",
            "files": 4, "records": 12, "bytes": 2048, "path": "/srv/x",
            "plugin": {"path": "/srv/p/wc.wasm", "sha256": "ab".repeat(32), "bytes": 5},
            "params": [{"key": "min", "value": "2"}, {"key": "sep", "value": " "}],
            "format": "lines", "reducers": 4,
            "inputs": [{"path": "/srv/u/a.txt", "bytes": 7, "modified_ns": 0,
                        "modified": "1970-01-01T00:00:00Z", "partitions": ["date=1"]}],
            "job_digest": "d", "sandmill_version": "0.1.0",
        });
        let bare = serde_json::json!({
            "version": "v1", "current": false, "published": null, "files": 0,
            "records": null, "bytes": 0, "path": "/srv/y", "plugin": null, "params": null,
            "format": null, "reducers": null, "inputs": null, "job_digest": null,
            "sandmill_version": null,
        });
        let text = listing_text(&[bare, version], false).unwrap();
        let want = "  version   published             files    records      bytes  plugin
  v1        -                         0          -        0 B  (no manifest)
* v2        2026-12-02T13:04:05Z      4         12    2.0 KiB  wc.wasm sha256:abababababab
            params: min=2 sep=\" \"
            inputs: 1 file, 7 B: /srv/u/a.txt (7 B, modified 1970-01-01T00:00:00Z; date=1)
";
        assert_eq!(text, want);
        assert!(listing_text(&[serde_json::json!({"version": 1})], false).is_err());
    }
}
