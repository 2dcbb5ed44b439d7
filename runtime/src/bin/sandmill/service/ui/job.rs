//! `/ui/jobs/ID`: one job: its state, inputs and flags, progress per phase, a timeline of its
//! task attempts, counters, the tail of its log and its output files. Reloads itself every
//! 2 seconds until the job has finished.

use super::format;
use super::layout::Page;
use super::model::{Attempt, DatasetFile, Job, LogLine, PhaseProgress};
use super::parts::{self, phase_count, state_badge};
use super::timeline::timeline;
use maud::{Markup, PreEscaped, html};

/// At most this many log lines are shown: the last ones.
const LOG_TAIL: usize = 500;

/// The job page of `job`, with its `attempts` (in start order), its `log` (in order; the
/// last [`LOG_TAIL`] lines are shown) and its output `files` (of the version it published).
pub fn job_page(
    tenant: &str,
    job: &Job,
    attempts: &[Attempt],
    log: &[LogLine],
    files: &[DatasetFile],
) -> Markup {
    job_page_at(format::now_seconds(), tenant, job, attempts, log, files)
}

/// [`job_page`] as it looks at `now` (seconds since the epoch): attempts still running end at
/// `now` on the timeline.
fn job_page_at(
    now: f64,
    tenant: &str,
    job: &Job,
    attempts: &[Attempt],
    log: &[LogLine],
    files: &[DatasetFile],
) -> Markup {
    let title = format!("Job {}", job.id);
    let page = Page {
        title: &title,
        tenant: Some(tenant),
        head: html! {},
        refresh: !job.state.is_finished(),
    };
    let dataset = format!("/ui/datasets/{}", format::url_path(&job.output));
    page.render(html! {
        h1 { "Job " span.mono { (job.id) } " " span #job-state { (state_badge(job.state)) } }
        @if let Some(reason) = &job.pending_reason {
            p #pending-reason { "Waiting: " (reason) }
        }
        @if let Some(error) = &job.error {
            pre.error #job-error { (error) }
        }
        table.facts #job-facts {
            tr { th { "Plugin" } td.mono { (job.plugin) } }
            tr { th { "Inputs" } td.mono {
                @for (i, input) in job.inputs.iter().enumerate() {
                    @if i > 0 { br; }
                    (input)
                }
            } }
            tr { th { "Output" } td { a href=(dataset) { (job.output) }
                @if let Some(version) = &job.version { " " span.muted { (version) } } } }
            tr { th { "Flags" } td.mono {
                @if job.flags.is_empty() { span.muted { "none" } } @else { (job.flags.join(" ")) }
            } }
            tr { th { "Submitted" } td { (format::time(&job.submitted)) } }
            @if let Some(started) = &job.started {
                tr { th { "Started" } td { (format::time(started)) } }
            }
            @if let Some(finished) = &job.finished {
                tr { th { "Finished" } td { (format::time(finished)) } }
            }
            @if let Some(seconds) = job.duration_seconds {
                tr { th { "Duration" } td { (format::duration(seconds)) } }
            }
            tr { th { "Input" } td { (format::bytes(job.input_bytes)) ", "
                (format::bytes(job.progress.bytes_read)) " read so far" } }
            tr { th { "Attempts" } td { (job.attempts) } }
        }

        h2 { "Progress"
            @if let Some(phase) = &job.progress.phase { " " span.muted #phase { "(" (phase) ")" } } }
        (phase_bar("map", job.progress.map))
        (phase_bar("reduce", job.progress.reduce))

        h2 { "Task attempts" }
        (timeline(attempts, now))

        h2 { "Counters" }
        table.facts #counters {
            @for (name, value) in &job.counters {
                tr { th.mono { (name) } td.num { (value) } }
            }
            @if job.counters.is_empty() {
                tr { td.muted { "none yet" } }
            }
        }

        h2 { "Log" @if log.len() > LOG_TAIL { " " span.muted { "(the last " (LOG_TAIL) " lines)" } } }
        pre #log {
            @for line in &log[log.len().saturating_sub(LOG_TAIL)..] {
                span.muted { (format::time(&line.time)) } " "
                span.(format!("src-{}", line.source)) { (line.source) } " "
                (line.text) "\n"
            }
        }
        // The log is a tail: show its end (the page reloads while the job runs).
        script { (PreEscaped("document.getElementById('log').scrollTop = 1e9;")) }

        h2 { "Output files" }
        (parts::files_table(&job.output, job.version.as_deref(), files, "None yet."))
    })
}

/// `#progress-PHASE`: a bar and `done/tasks`.
fn phase_bar(name: &str, phase: PhaseProgress) -> Markup {
    html! {
        div.phase id={ "progress-" (name) } {
            span.label { (name) }
            progress value=(phase.done) max=(phase.tasks.max(1))
                aria-label={ (name) " tasks committed" } {}
            span.count { (phase_count(phase)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{attempts, files, job, log};
    use super::*;
    use crate::service::model::JobState;

    /// 13:00:10, two seconds after the running reduce started.
    const NOW: f64 = 1_796_216_410.0;

    #[test]
    fn shows_state_progress_counters_log_and_files() {
        let job = job("j-0123456789ab", JobState::Succeeded);
        let html = job_page_at(NOW, "alice", &job, &attempts(), &log(3), &files()).into_string();
        for id in [
            "job-state",
            "progress-map",
            "progress-reduce",
            "timeline",
            "log",
            "counters",
        ] {
            assert!(html.contains(&format!(r#"id="{id}""#)), "#{id}: {html}");
        }
        assert!(
            html.contains(
                r#"<span id="job-state"><span class="badge state-succeeded">succeeded</span>"#
            ),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<progress value="5" max="12" aria-label="map tasks committed"></progress><span class="count">5/12</span>"#
            ),
            "{html}"
        );
        assert!(
            html.contains(r#"<th class="mono">words</th><td class="num">1200</td>"#),
            "{html}"
        );
        assert!(html.contains("line 3\n"), "{html}");
        assert!(
            html.contains(r#"href="/v1/datasets/counts/files/part-00001?version=v3""#),
            "{html}"
        );
        assert!(html.contains("--reducers=4 --format=jsonl"), "{html}");
        assert_eq!(html.matches("<rect").count(), attempts().len(), "{html}");
        assert!(
            !html.contains("http-equiv"),
            "a finished job does not reload: {html}"
        );
    }

    #[test]
    fn reloads_while_running() {
        for state in [JobState::Queued, JobState::Running] {
            let html = job_page_at(NOW, "alice", &job("j-1", state), &[], &[], &[]).into_string();
            assert!(
                html.contains(r#"<meta http-equiv="refresh" content="2">"#),
                "{state:?}: {html}"
            );
        }
        let html =
            job_page_at(NOW, "alice", &job("j-1", JobState::Queued), &[], &[], &[]).into_string();
        assert!(html.contains("Waiting: tenant at max-running 1"), "{html}");
    }

    #[test]
    fn escapes_errors_log_lines_and_counters() {
        let mut evil = job("j-0123456789ab", JobState::Failed);
        evil.error = Some("map-3: <script>alert('error')</script>".into());
        evil.counters
            .insert("<img src=x onerror=alert(1)>".into(), 1);
        evil.flags = vec!["--param=x=<b>".into()];
        let mut lines = log(1);
        lines[0].text = "</pre><script>alert('log')</script>".into();
        lines[0].source = "plugin\" onclick=\"x".into();
        let mut file = files();
        file[0].path = "a\"><script>alert('file')</script>".into();
        let html = job_page_at(NOW, "alice", &evil, &[], &lines, &file).into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the log-scrolling one: {html}"
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("map-3: &lt;script&gt;alert('error')&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;/pre&gt;&lt;script&gt;alert('log')"),
            "{html}"
        );
        assert!(html.contains("--param=x=&lt;b&gt;"), "{html}");
        assert!(!html.contains("onclick=\"x"), "{html}");
    }

    #[test]
    fn shows_the_tail_of_a_long_log() {
        let job = job("j-0123456789ab", JobState::Running);
        let html = job_page_at(NOW, "alice", &job, &[], &log(2000), &[]).into_string();
        assert!(html.contains("line 2000\n"), "the last line");
        assert!(html.contains("line 1501\n"), "the first line shown");
        assert!(!html.contains("line 1500\n"), "one line too early");
        assert!(html.contains("(the last 500 lines)"));
    }
}
