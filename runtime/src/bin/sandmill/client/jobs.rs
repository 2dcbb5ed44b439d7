//! `sandmill status`, `jobs`, `logs` and `cancel`: a tenant's jobs on the job service, shown
//! for people (or as the server's JSON). Everything the server says is shown inert.

use super::http::{Client, ClientError, segment};
use super::retry::Retry;
use crate::service::model::{Job, LogLine};
use sandmill::text::inert;
use std::fmt::Write as _;
use std::io::Write;

/// How long one `logs --follow` request waits for a new line, in seconds.
const FOLLOW_WAIT: u64 = 10;

/// `sandmill status`: the job for people, or the server's JSON with `json`.
pub fn status(client: &Client, job: &str, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = format!("/v1/jobs/{}", segment(job));
    let text = client.get_json_text(&path, &[])?;
    if json {
        writeln!(out, "{}", text.trim_end())?;
        return Ok(());
    }
    let job: Job = serde_json::from_str(&text).map_err(|e| ClientError::Protocol {
        what: format!("GET {path}"),
        server: client.server().into(),
        why: e.to_string(),
    })?;
    out.write_all(describe(&job).as_bytes())?;
    Ok(())
}

/// A job for people: a line with its state, then what is known of it.
pub fn describe(job: &Job) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "job {}: {}", inert(&job.id), job.state.name());
    let mut line = |label: &str, text: &str| {
        let _ = writeln!(s, "  {:<10} {text}", format!("{label}:"));
    };
    if let Some(reason) = &job.pending_reason {
        line("waiting", &inert(reason));
    }
    let p = &job.progress;
    let mut progress = format!(
        "map {}/{} tasks, reduce {}/{} tasks, {} of {} read",
        p.map.done,
        p.map.tasks,
        p.reduce.done,
        p.reduce.tasks,
        crate::human_bytes(p.bytes_read),
        crate::human_bytes(job.input_bytes)
    );
    if let Some(phase) = &p.phase {
        let _ = write!(progress, " (phase {})", inert(phase));
    }
    line("progress", &progress);
    let version = job
        .version
        .as_deref()
        .map_or_else(String::new, |v| format!(" (version {})", inert(v)));
    line("output", &format!("{}{version}", inert(&job.output)));
    let inputs: Vec<_> = job.inputs.iter().map(|i| inert(i).into_owned()).collect();
    line("inputs", &inputs.join(" "));
    line("plugin", &format!("sha256:{}", inert(short(&job.plugin))));
    if !job.flags.is_empty() {
        let flags: Vec<_> = job.flags.iter().map(|f| inert(f).into_owned()).collect();
        line("flags", &flags.join(" "));
    }
    let mut times = format!("submitted {}", inert(&job.submitted));
    if let Some(t) = &job.started {
        let _ = write!(times, ", started {}", inert(t));
    }
    if let Some(t) = &job.finished {
        let _ = write!(times, ", finished {}", inert(t));
    }
    if let Some(d) = job.duration_seconds {
        let _ = write!(times, "; {d:.1}s");
    }
    line("times", &times);
    line("attempts", &job.attempts.to_string());
    if !job.counters.is_empty() {
        let counters: Vec<_> = job
            .counters
            .iter()
            .map(|(k, v)| format!("{}={v}", inert(k)))
            .collect();
        line("counters", &counters.join(" "));
    }
    if let Some(error) = &job.error {
        line("error", &inert(error));
    }
    s
}

/// The first 12 characters of a SHA-256, enough to tell plugins apart.
fn short(sha256: &str) -> &str {
    sha256
        .char_indices()
        .nth(12)
        .map_or(sha256, |(end, _)| &sha256[..end])
}

/// `GET /v1/jobs` as `{"jobs": [...]}`.
#[derive(serde::Deserialize)]
struct JobList {
    jobs: Vec<Job>,
}

/// `sandmill jobs`: the tenant's newest `limit` jobs (in `state`), as a table or JSON.
pub fn jobs(
    client: &Client,
    state: Option<&str>,
    limit: u32,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut query = vec![("limit", limit.to_string())];
    if let Some(state) = state {
        query.push(("state", state.to_owned()));
    }
    let text = client.get_json_text("/v1/jobs", &query)?;
    if json {
        writeln!(out, "{}", text.trim_end())?;
        return Ok(());
    }
    let list: JobList = serde_json::from_str(&text).map_err(|e| ClientError::Protocol {
        what: "GET /v1/jobs".into(),
        server: client.server().into(),
        why: e.to_string(),
    })?;
    out.write_all(table(&list.jobs).as_bytes())?;
    if list.jobs.len() == limit as usize {
        eprintln!("sandmill: the newest {limit} jobs shown; --limit shows more (up to 1000)");
    }
    Ok(())
}

/// The job table: a line per job, with what it waits for, how far it is, what it published
/// or why it failed.
pub fn table(jobs: &[Job]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<16} {:<10} {:<20} {:>9}  {:<16} about",
        "id", "state", "submitted", "duration", "output"
    );
    for job in jobs {
        let p = &job.progress;
        let about = if let Some(reason) = &job.pending_reason {
            format!("waiting: {reason}")
        } else if let Some(error) = &job.error {
            error.clone()
        } else if let Some(phase) = &p.phase {
            format!(
                "{phase}: map {}/{}, reduce {}/{}",
                p.map.done, p.map.tasks, p.reduce.done, p.reduce.tasks
            )
        } else if let Some(version) = &job.version {
            format!("version {version}")
        } else {
            String::new()
        };
        let about: String = inert(&about).chars().take(80).collect();
        let duration = job
            .duration_seconds
            .map_or_else(|| "-".to_owned(), |d| format!("{d:.1}s"));
        let _ = writeln!(
            s,
            "{:<16} {:<10} {:<20} {:>9}  {:<16} {about}",
            inert(&job.id),
            job.state.name(),
            inert(&job.submitted),
            duration,
            inert(&job.output)
        );
    }
    s
}

/// `GET /v1/jobs/ID/logs` as `{"lines": [...], "next": SEQ, "done": bool}`.
#[derive(serde::Deserialize)]
struct LogPage {
    lines: Vec<LogLine>,
    next: u64,
    done: bool,
}

/// `sandmill logs`: the `text` of every line of the job's log; with `follow`, long-polling
/// for new lines until the job has ended and every line is read. A reader that goes away
/// (`| head`) ends it quietly.
pub fn logs(client: &Client, job: &str, follow: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = format!("/v1/jobs/{}/logs", segment(job));
    let wait = if follow { FOLLOW_WAIT } else { 0 };
    let mut after = 0;
    loop {
        let query = [("after", after.to_string()), ("wait", wait.to_string())];
        // A follower outlives a restart of the server.
        let page: LogPage = if follow {
            Retry::DEFAULT.run(&format!("GET {path}"), || client.get_json(&path, &query))?
        } else {
            client.get_json(&path, &query)?
        };
        let mut text = String::new();
        for line in &page.lines {
            text.push_str(&inert(&line.text));
            text.push('\n');
        }
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            written => written?,
        }
        // A server that does not move on would make this loop forever.
        if page.next < after || (page.next == after && !page.lines.is_empty()) {
            return Err(ClientError::Protocol {
                what: format!("GET {path}"),
                server: client.server().into(),
                why: format!("`next` went from {after} to {}", page.next),
            }
            .into());
        }
        after = page.next;
        if page.done || (!follow && page.lines.is_empty()) {
            return Ok(());
        }
    }
}

/// `sandmill cancel`: prints the job's id and its new state.
pub fn cancel(client: &Client, job: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = format!("/v1/jobs/{}/cancel", segment(job));
    let job: Job = client.post_json(&path, &serde_json::json!({}), &[])?;
    writeln!(out, "{}: {}", inert(&job.id), job.state.name())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testserver::{TestServer, client_of, job, log_line};
    use crate::service::model::JobState;

    #[test]
    fn status_shows_a_failed_job_without_failing() {
        let server = TestServer::start();
        let mut failed = job("j-000000000001", JobState::Failed);
        failed.error = Some("plugin trapped on map-3\u{1b}[2J".into());
        failed.progress.map.tasks = 4;
        failed.progress.map.done = 3;
        server.state().jobs.push(failed);
        let mut out = Vec::new();
        status(&client_of(&server), "j-000000000001", false, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("job j-000000000001: failed\n"), "{out}");
        assert!(out.contains("map 3/4 tasks"), "{out}");
        assert!(out.contains("error:     plugin trapped on map-3"), "{out}");
        assert!(
            !out.contains('\u{1b}'),
            "the server's text is shown inert: {out}"
        );

        let mut out = Vec::new();
        status(&client_of(&server), "j-000000000001", true, &mut out).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["state"], "failed");
    }

    #[test]
    fn an_unknown_job_is_a_usage_error_with_the_servers_message() {
        let server = TestServer::start();
        let err = status(&client_of(&server), "j-nope", false, &mut Vec::new()).unwrap_err();
        let client = err.downcast_ref::<ClientError>().unwrap();
        assert_eq!(client.class(), sandmill::error::ExitClass::Usage);
        assert_eq!(err.to_string(), "no job j-nope");
    }

    #[test]
    fn jobs_lists_the_states_asked_for() {
        let server = TestServer::start();
        let mut queued = job("j-000000000002", JobState::Queued);
        queued.pending_reason = Some("tenant at max-running 1".into());
        server
            .state()
            .jobs
            .push(job("j-000000000001", JobState::Succeeded));
        server.state().jobs.push(queued);
        let mut out = Vec::new();
        jobs(&client_of(&server), Some("queued"), 100, false, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[1].starts_with("j-000000000002   queued"), "{out}");
        assert!(
            lines[1].ends_with("waiting: tenant at max-running 1"),
            "{out}"
        );
    }

    #[test]
    fn logs_read_every_page_and_follow_until_the_job_ends() {
        let server = TestServer::start();
        server
            .state()
            .jobs
            .push(job("j-000000000001", JobState::Running));
        for text in ["one", "two", "three"] {
            server.state().log("j-000000000001", log_line(text));
        }
        // Without --follow: what is there now, over several pages, while the job runs on.
        let mut out = Vec::new();
        logs(&client_of(&server), "j-000000000001", false, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "one\ntwo\nthree\n");
        // With it: on until the job ends, which it does after a few more polls, through a
        // restart of the server.
        server.state().finish_after_polls = Some(3);
        server.state().lose_log_answers = 1;
        let mut out = Vec::new();
        logs(&client_of(&server), "j-000000000001", true, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "one\ntwo\nthree\njob succeeded\n"
        );
    }

    #[test]
    fn cancel_says_the_new_state_and_refuses_a_finished_job() {
        let server = TestServer::start();
        server
            .state()
            .jobs
            .push(job("j-000000000001", JobState::Running));
        let mut out = Vec::new();
        cancel(&client_of(&server), "j-000000000001", &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "j-000000000001: cancelled\n"
        );
        let err = cancel(&client_of(&server), "j-000000000001", &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("finished already"), "{err}");
    }
}
