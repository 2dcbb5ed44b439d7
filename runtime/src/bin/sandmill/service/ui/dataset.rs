//! `/ui/datasets/NAME`: a dataset's versions (as `sandmill versions --json` lists them) and
//! the files of its current version.

use super::format;
use super::layout::Page;
use super::model::DatasetFile;
use super::parts;
use maud::{Markup, html};
use serde_json::Value;

/// The dataset page of `name`: `versions` is the answer of `GET /v1/datasets/NAME/versions`
/// (`{"versions": [...]}`) or its array alone; `files` are the current version's.
pub fn dataset_page(tenant: &str, name: &str, versions: &Value, files: &[DatasetFile]) -> Markup {
    let versions: &[Value] = versions
        .get("versions")
        .unwrap_or(versions)
        .as_array()
        .map_or(&[], Vec::as_slice);
    let current = versions
        .iter()
        .find(|v| v["current"] == Value::Bool(true))
        .and_then(|v| v["version"].as_str());
    let title = format!("Dataset {name}");
    let page = Page {
        title: &title,
        tenant: Some(tenant),
        head: html! {},
        refresh: false,
    };
    page.render(html! {
        h1 { "Dataset " span.mono { (name) } }
        h2 { "Versions" }
        @if versions.is_empty() {
            p.muted #versions { "No versions: no job has published this dataset yet." }
        } @else {
            table #versions {
                thead { tr {
                    th { "Version" } th { "Published" } th.num { "Files" } th.num { "Records" }
                    th.num { "Size" } th { "Format" } th.num { "Reducers" } th { "Plugin" }
                } }
                tbody {
                    @for v in versions {
                        tr {
                            td.mono { (text(&v["version"]))
                                @if v["current"] == Value::Bool(true) { " " span.badge.state-succeeded { "current" } } }
                            td.nowrap { (v["published"].as_str().map_or_else(|| text(&v["published"]), format::time)) }
                            td.num { (text(&v["files"])) }
                            td.num { (text(&v["records"])) }
                            td.num { @if let Some(n) = v["bytes"].as_u64() { (format::bytes(n)) } }
                            td { (text(&v["format"])) }
                            td.num { (text(&v["reducers"])) }
                            td.mono { (short_sha(&v["plugin"])) }
                        }
                    }
                }
            }
        }
        h2 { "Files" @if let Some(version) = current { " of " span.mono { (version) } } }
        (parts::files_table(name, None, files, "No files."))
    })
}

/// A JSON value as a cell: strings as they are, `null` empty, anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A plugin's SHA-256, its first 12 digits (the whole one is in the version's manifest).
fn short_sha(value: &Value) -> String {
    let sha = text(value);
    sha.get(..12).map_or(sha.clone(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::files;
    use super::*;

    fn versions() -> Value {
        serde_json::json!({"versions": [
            {"version": "v1", "current": false, "published": "2026-12-01T09:00:00Z", "files": 4,
             "records": 100, "bytes": 2048, "format": "lines", "reducers": 4, "plugin": "ab".repeat(32)},
            {"version": "v2", "current": true, "published": "2026-12-02T09:00:00Z", "files": 2,
             "records": null, "bytes": 1_258_291, "format": "jsonl", "reducers": 2, "plugin": null},
        ]})
    }

    #[test]
    fn lists_versions_and_current_files() {
        let html = dataset_page("alice", "counts", &versions(), &files()).into_string();
        assert_eq!(
            html.matches("<tr>").count(),
            3 + 3,
            "versions and files with headers: {html}"
        );
        assert!(
            html.contains(r#"v2 <span class="badge state-succeeded">current</span>"#),
            "{html}"
        );
        assert!(html.contains("2026-12-02 09:00:00"), "{html}");
        assert!(html.contains(">abababababab<"), "{html}");
        assert!(html.contains("1.2 MiB"), "{html}");
        assert!(
            html.contains(r#"Files of <span class="mono">v2</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/v1/datasets/counts/files/part-00000""#),
            "{html}"
        );
        let bare = dataset_page("alice", "counts", &versions()["versions"], &files()).into_string();
        assert_eq!(bare, html, "the array alone reads the same");
    }

    #[test]
    fn escapes_names_and_values() {
        let evil = serde_json::json!([{"version": "<script>v</script>", "format": "<b>"}]);
        let html = dataset_page("alice", "<i>x</i>", &evil, &[]).into_string();
        assert!(!html.contains("<script>v"), "{html}");
        assert!(html.contains("<td>&lt;b&gt;</td>"), "{html}");
        assert!(html.contains("&lt;i&gt;x&lt;/i&gt;"), "{html}");
    }

    #[test]
    fn says_so_when_empty() {
        let html = dataset_page("alice", "counts", &serde_json::json!({}), &[]).into_string();
        assert!(html.contains("No versions"), "{html}");
        assert!(html.contains("No files."), "{html}");
    }
}
