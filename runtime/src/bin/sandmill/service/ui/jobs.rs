//! `/ui`: a tenant's jobs, newest first, one page of them, with its usage.

use super::format;
use super::layout::Page;
use super::model::{Job, Usage};
use super::parts::{phase_count, state_badge};
use maud::{Markup, html};

/// The jobs page: `jobs` (one page of the tenant's jobs, newest first, as the server read
/// them), a line of `usage`, and a link to the older ones (`/ui?before=ID`) when
/// `next_before` is set. One table row per job and no scripts, so thousands stay fast.
pub fn jobs_page(tenant: &str, usage: &Usage, jobs: &[Job], next_before: Option<&str>) -> Markup {
    let page = Page {
        title: "Jobs",
        tenant: Some(tenant),
        head: html! {},
        refresh: false,
    };
    page.render(html! {
        h1 { "Jobs" }
        p.summary #usage {
            (usage.jobs_run) " jobs run (" (usage.jobs_succeeded) " succeeded, "
            (usage.jobs_failed) " failed), " (format::duration(usage.cpu_seconds)) " of CPU, "
            (format::bytes(usage.bytes_read)) " read, " (format::bytes(usage.bytes_written))
            " written, " (format::bytes(usage.storage_bytes)) " stored"
        }
        @if jobs.is_empty() {
            p #no-jobs {
                "No jobs here. Submit one with "
                code { "sandmill submit PLUGIN.wasm --input NAME --output NAME" } "."
            }
        } @else {
            table #jobs {
                thead {
                    tr {
                        th { "Job" } th { "State" } th { "Waiting for" } th { "Submitted" }
                        th.num { "Duration" } th.num { "Input" } th { "Output" }
                        th.num { "Map" } th.num { "Reduce" }
                    }
                }
                tbody {
                    @for job in jobs { (row(job)) }
                }
            }
        }
        @if let Some(before) = next_before {
            p.pager {
                a #older href={ "/ui?before=" (format::url_path(before)) } { "older →" }
            }
        }
    })
}

/// One job's row. No classes on the cells: `sandmill.css` styles `#jobs` by column.
fn row(job: &Job) -> Markup {
    html! {
        tr {
            td { a href={ "/ui/jobs/" (format::url_path(&job.id)) } { (job.id) } }
            td { (state_badge(job.state)) }
            td { @if let Some(reason) = &job.pending_reason { (reason) } }
            td { (format::time(&job.submitted)) }
            td { @if let Some(s) = job.duration_seconds { (format::duration(s)) } }
            td { (format::bytes(job.input_bytes)) }
            td { a href={ "/ui/datasets/" (format::url_path(&job.output)) } { (job.output) } }
            td { (phase_count(job.progress.map)) }
            td { (phase_count(job.progress.reduce)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{job, usage};
    use super::*;
    use crate::service::model::JobState;

    #[test]
    fn one_row_per_job_with_links() {
        let jobs = [
            job("j-000000000002", JobState::Running),
            job("j-000000000001", JobState::Succeeded),
        ];
        let html = jobs_page("alice", &usage(), &jobs, Some("j-000000000001")).into_string();
        assert_eq!(
            html.matches("<tr>").count(),
            3,
            "a header and two rows: {html}"
        );
        assert!(html.contains(r#"href="/ui/jobs/j-000000000002""#), "{html}");
        assert!(html.contains(r#"href="/ui/datasets/counts""#), "{html}");
        assert!(html.contains(r#"class="badge state-running""#), "{html}");
        assert!(
            html.contains(r#"href="/ui?before=j-000000000001""#),
            "{html}"
        );
        assert!(html.contains(r#"href="/ui/history""#), "{html}");
        assert!(html.contains("1.2 MiB"), "input size: {html}");
        assert!(html.contains("5/12"), "map progress: {html}");
        assert!(
            html.contains("3 jobs run (2 succeeded, 1 failed)"),
            "{html}"
        );
        let html = jobs_page("alice", &usage(), &jobs, None).into_string();
        assert!(!html.contains("older"), "no older page: {html}");
    }

    #[test]
    fn escapes_what_the_tenant_wrote() {
        let mut evil = job("j-000000000003", JobState::Queued);
        evil.pending_reason = Some("<script>alert(1)</script>".into());
        evil.output = "a\"><b>".into();
        let html = jobs_page("<i>t</i>", &usage(), &[evil], None).into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/ui/datasets/a%22%3E%3Cb%3E""#),
            "{html}"
        );
        assert!(html.contains("&lt;i&gt;t&lt;/i&gt;"), "{html}");
    }

    #[test]
    fn says_how_to_start_when_empty() {
        let html = jobs_page("alice", &usage(), &[], None).into_string();
        assert!(html.contains("sandmill submit"), "{html}");
        assert!(!html.contains("<table"), "{html}");
    }

    #[test]
    fn five_thousand_jobs() {
        let jobs: Vec<Job> = (0..5000)
            .map(|i| job(&format!("j-{i:012x}"), JobState::Succeeded))
            .collect();
        let start = std::time::Instant::now();
        let html = jobs_page("alice", &usage(), &jobs, Some("j-000000000000")).into_string();
        let took = start.elapsed();
        println!(
            "jobs_page of 5,000 jobs: {took:?}, {} KiB of HTML",
            html.len() / 1024
        );
        assert_eq!(html.matches("<tr>").count(), 5001);
    }
}
