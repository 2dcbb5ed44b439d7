//! `sandmill versions DATASET [--json]`: each version with when it was published, what it
//! holds and how it was made, as a table for people or a JSON array for scripts.

use sandmill::dataset::{Dataset, InputFingerprint, VersionInfo, rfc3339_from_unix};
use sandmill::text::inert;
use std::fmt::Write as _;

/// Inputs named on a version's `inputs:` line; `--json` lists them all.
const INPUTS_SHOWN: usize = 3;

/// Prints the versions of the dataset at `path`, newest last.
pub fn print(path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let versions = Dataset::open(path)?.versions()?;
    let text = if json {
        let list: Vec<serde_json::Value> = versions.iter().map(json_of).collect();
        serde_json::to_string_pretty(&list)? + "\n"
    } else {
        table(&versions)
    };
    // Not `print!`, which panics when the reader has gone (`sandmill versions D | head`).
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
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
fn table(versions: &[VersionInfo]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<2}{:<9} {:<20} {:>6} {:>10} {:>10}  plugin",
        "", "version", "published", "files", "records", "bytes"
    );
    for v in versions {
        let mark = if v.current { "*" } else { "" };
        let published = v.published.as_deref().unwrap_or("-");
        let records = records(v).map_or_else(|| "-".to_owned(), |n| n.to_string());
        let plugin = v.manifest.as_ref().map_or_else(
            || "(no manifest)".to_owned(),
            |m| {
                let name = std::path::Path::new(&m.plugin.path)
                    .file_name()
                    .map_or_else(
                        || m.plugin.path.clone(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                format!("{name} sha256:{}", m.plugin.short_sha256())
            },
        );
        let _ = writeln!(
            out,
            "{mark:<2}{:<9} {:<20} {:>6} {:>10} {:>10}  {}",
            v.id,
            inert(published),
            v.files,
            records,
            crate::human_bytes(v.bytes),
            inert(&plugin)
        );
        let Some(manifest) = &v.manifest else {
            continue;
        };
        let indent = " ".repeat(12);
        let params: Vec<String> = manifest
            .params
            .iter()
            .map(|(k, v)| {
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
        let inputs = &manifest.inputs;
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
                modified(input)
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
