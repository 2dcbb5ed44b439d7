//! `/ui/history`: how long a tenant's past jobs took and how fast they read their input,
//! plotted by uPlot in the browser, with the numbers in a table under the plots.

use super::format;
use super::layout::Page;
use super::model::{Job, JobState};
use super::parts::state_badge;
use maud::{Markup, PreEscaped, html};

/// One plotted job: what `history.js` reads from `#history-data`.
#[derive(Debug, serde::Serialize)]
struct Point<'a> {
    /// The job's id.
    id: &'a str,
    /// When it finished, in seconds since the epoch (uPlot's time axis).
    finished: f64,
    /// How long it ran, in seconds.
    duration: f64,
    /// Its input size over its duration; `None` for a job that took no time.
    mib_per_s: Option<f64>,
    /// Its input size.
    #[serde(skip)]
    input_bytes: u64,
    /// Its state (always succeeded: only those are plotted).
    #[serde(skip)]
    state: JobState,
}

/// The history page of `jobs` (the tenant's jobs, in any order). Only succeeded jobs with a
/// finish time and a duration are plotted: a failed job's duration says nothing about speed.
pub fn history_page(tenant: &str, jobs: &[Job]) -> Markup {
    let mut points: Vec<Point> = jobs
        .iter()
        .filter(|j| j.state == JobState::Succeeded)
        .filter_map(|j| {
            let finished = format::seconds(j.finished.as_deref()?)?;
            let duration = j.duration_seconds?;
            Some(Point {
                id: &j.id,
                finished,
                duration,
                mib_per_s: (duration > 0.0)
                    .then(|| j.input_bytes as f64 / f64::from(1 << 20) / duration),
                input_bytes: j.input_bytes,
                state: j.state,
            })
        })
        .collect();
    // uPlot needs its x values in ascending order.
    points.sort_by(|a, b| a.finished.total_cmp(&b.finished));
    let page = Page {
        title: "History",
        tenant: Some(tenant),
        head: html! { link rel="stylesheet" href="/ui/static/uPlot.min.css"; },
        refresh: false,
    };
    page.render(html! {
        h1 { "History" }
        @if points.is_empty() {
            p #no-history { "No succeeded jobs yet: the plots appear once one has finished." }
        } @else {
            p.summary { (points.len()) " succeeded jobs, by the time they finished (UTC)." }
            div.plot #plot-duration {}
            div.plot #plot-throughput {}
            script #history-data type="application/json" { (PreEscaped(script_json(&points))) }
            script src="/ui/static/uPlot.iife.min.js" {}
            script src="/ui/static/history.js" {}
            table #history {
                thead { tr {
                    th { "Job" } th { "State" } th { "Finished" } th.num { "Duration" }
                    th.num { "Input" } th.num { "Throughput" }
                } }
                tbody {
                    @for p in points.iter().rev() {
                        tr {
                            td.mono { a href={ "/ui/jobs/" (format::url_path(p.id)) } { (p.id) } }
                            td { (state_badge(p.state)) }
                            td.nowrap { (format::time_of_seconds(p.finished)) }
                            td.num { (format::duration(p.duration)) }
                            td.num { (format::bytes(p.input_bytes)) }
                            td.num { @if let Some(t) = p.mib_per_s { (format!("{t:.1} MiB/s")) } }
                        }
                    }
                }
            }
        }
    })
}

/// `points` as JSON that is safe inside `<script>`: `<`, `>` and `&` (which JSON has only
/// inside strings) written as `\u00XX`, so no text can close the element.
fn script_json(points: &[Point]) -> String {
    serde_json::to_string(points)
        .expect("plain structs serialize")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::job;
    use super::*;

    #[test]
    fn plots_succeeded_jobs_oldest_first() {
        let mut older = job("j-000000000001", JobState::Succeeded);
        older.finished = Some("2026-12-01T10:00:00Z".into());
        older.duration_seconds = Some(2.0);
        older.input_bytes = 4 << 20;
        let newer = job("j-000000000002", JobState::Succeeded);
        let failed = job("j-000000000003", JobState::Failed);
        let html = history_page("alice", &[newer, failed, older]).into_string();
        let data = r#"[{"id":"j-000000000001","finished":1796119200.0,"duration":2.0,"mib_per_s":2.0},{"id":"j-000000000002","finished":1796216413.0,"duration":12.5,"mib_per_s":0.0959"#;
        assert!(html.contains(data), "{html}");
        assert!(
            !html.contains("j-000000000003"),
            "failed jobs are not plotted: {html}"
        );
        for id in [
            "plot-duration",
            "plot-throughput",
            "history-data",
            "history",
        ] {
            assert!(html.contains(&format!(r#"id="{id}""#)), "#{id}: {html}");
        }
        assert!(
            html.contains(r#"<script src="/ui/static/uPlot.iife.min.js"></script>"#),
            "{html}"
        );
        assert!(html.contains("2.0 MiB/s"), "{html}");
    }

    #[test]
    fn job_ids_cannot_close_the_script() {
        let evil = job("j-</script><script>alert(1)</script>", JobState::Succeeded);
        let html = history_page("alice", &[evil]).into_string();
        assert!(!html.contains("</script><script>alert"), "{html}");
        assert!(
            html.contains(r#""id":"j-\u003c/script\u003e\u003cscript\u003ealert(1)"#),
            "{html}"
        );
    }

    #[test]
    fn says_so_when_empty() {
        let html = history_page("alice", &[job("j-1", JobState::Running)]).into_string();
        assert!(html.contains(r#"id="no-history""#), "{html}");
        assert!(!html.contains("<script"), "{html}");
    }
}
