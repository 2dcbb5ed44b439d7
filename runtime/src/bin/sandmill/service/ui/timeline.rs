//! A job's task attempts as an inline SVG timeline: one row per task, one bar per attempt from
//! its start to its end (or to now, while it runs), colored by how it ended.

use super::format;
use super::model::Attempt;
use maud::{Markup, html};
use std::collections::HashMap;

/// The drawing's width in SVG units (it is scaled to the page's width).
const WIDTH: f64 = 1000.0;
/// The task names' column, when rows are tall enough to label.
const LABELS: f64 = 90.0;
/// The time axis under the rows.
const AXIS: f64 = 22.0;

/// The color of an attempt in `state`, and the legend's word for it.
const STATES: &[(&str, &str, &str)] = &[
    ("ok", "#2e7d32", "committed"),
    ("running", "#1565c0", "running"),
    ("failed", "#c62828", "failed"),
    ("lost", "#ef6c00", "lost (its process died)"),
];

/// The fill of an attempt in `state` (grey for a state this page does not know).
fn color(state: &str) -> &'static str {
    STATES
        .iter()
        .find(|(s, _, _)| *s == state)
        .map_or("#616161", |&(_, c, _)| c)
}

/// `#timeline`: `attempts` (in start order) drawn against the time from the first start to
/// the last end, where an attempt still running ends at `now` (seconds since the epoch).
pub(super) fn timeline(attempts: &[Attempt], now: f64) -> Markup {
    let mut rows: Vec<&str> = Vec::new();
    let mut row_of: HashMap<&str, usize> = HashMap::new();
    let mut bars = Vec::with_capacity(attempts.len());
    let mut unreadable = 0;
    for a in attempts {
        let Some(start) = format::seconds(&a.started) else {
            unreadable += 1;
            continue;
        };
        let end = a
            .finished
            .as_deref()
            .and_then(format::seconds)
            .unwrap_or(now)
            .max(start);
        let row = *row_of.entry(&a.task).or_insert_with(|| {
            rows.push(&a.task);
            rows.len() - 1
        });
        bars.push((a, row, start, end));
    }
    let t0 = bars.iter().map(|b| b.2).fold(f64::INFINITY, f64::min);
    let t1 = bars.iter().map(|b| b.3).fold(f64::NEG_INFINITY, f64::max);
    let span = (t1 - t0).max(1.0);
    // Tall enough rows to read and label while there are few tasks; for thousands, rows a
    // unit high (the page scrolls the drawing within a screen's height: `#timeline` in
    // `sandmill.css`).
    let row_height = if rows.len() <= 40 {
        16.0
    } else {
        (640.0 / rows.len() as f64).max(1.0)
    };
    let labelled = row_height >= 10.0;
    // A unit between rows while they are tall enough to spare it.
    let gap = if row_height >= 4.0 { 1.0 } else { 0.0 };
    let left = if labelled { LABELS } else { 4.0 };
    let plot_width = WIDTH - left - 8.0;
    let height = rows.len() as f64 * row_height + AXIS;
    let x = |t: f64| left + (t - t0) / span * plot_width;
    html! {
        div #timeline {
            @if bars.is_empty() {
                p.muted { "No task attempts yet." }
            } @else {
                div.scroll { svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (num(height)) }
                    role="img" aria-label={ (bars.len()) " task attempts over " (format::duration(t1 - t0)) } {
                    @if labelled {
                        @for (i, task) in rows.iter().enumerate() {
                            text x="4" y=(num((i as f64 + 0.75) * row_height)) font-size="11"
                                fill="#5c6577" { (task) }
                        }
                    }
                    @for &(a, row, start, end) in &bars {
                        rect.attempt.(format!("attempt-{}", a.state))
                            x=(num(x(start))) y=(num(row as f64 * row_height + gap))
                            width=(num((x(end) - x(start)).max(1.5)))
                            height=(num(row_height - 2.0 * gap)) fill=(color(&a.state)) {
                            title { (tooltip(a, end - start)) }
                        }
                    }
                    @for i in 0..=4 {
                        @let t = t0 + span * f64::from(i) / 4.0;
                        @let anchor = match i { 0 => "start", 4 => "end", _ => "middle" };
                        text x=(num(x(t))) y=(num(height - 6.0)) font-size="11" fill="#5c6577"
                            text-anchor=(anchor) { "+" (format::duration(t - t0)) }
                    }
                } }
                p.legend.muted {
                    @for &(_, c, word) in STATES {
                        span { i style={ "background:" (c) } {} (word) }
                    }
                    @if unreadable > 0 {
                        span.error { (unreadable) " attempts have no readable start time" }
                    }
                }
            }
        }
    }
}

/// An attempt's tooltip: task, attempt, state, times, CPU and error.
fn tooltip(a: &Attempt, seconds: f64) -> String {
    let mut text = format!(
        "{}, attempt {}: {}\n{} → {} ({}), CPU {}",
        a.task,
        a.attempt,
        a.state,
        format::time(&a.started),
        a.finished.as_deref().map_or("now".to_owned(), format::time),
        format::duration(seconds),
        format::duration(a.cpu_seconds),
    );
    if let Some(error) = &a.error {
        text.push('\n');
        text.push_str(error);
    }
    text
}

/// A coordinate, to a tenth of a unit.
fn num(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{attempt, attempts};
    use super::*;

    /// 13:00:10, two seconds after the running reduce started.
    const NOW: f64 = 1_796_216_410.0;

    #[test]
    fn one_rect_per_attempt_one_row_per_task() {
        let html = timeline(&attempts(), NOW).into_string();
        assert_eq!(html.matches("<rect").count(), 6, "{html}");
        for task in ["plan", "map-0", "map-1", "map-2", "reduce-0"] {
            assert_eq!(
                html.matches(&format!(">{task}</text>")).count(),
                1,
                "{task}: {html}"
            );
        }
        assert!(
            html.contains(r##"class="attempt attempt-lost" x="##),
            "{html}"
        );
        assert!(
            html.contains("<title>map-1, attempt 2: ok\n2026-12-02 13:00:04"),
            "{html}"
        );
        assert!(
            html.contains("→ now (2.0 s)"),
            "the running reduce ends now: {html}"
        );
        assert!(html.contains("plugin trapped: unreachable"), "{html}");
    }

    #[test]
    fn bars_in_time_order() {
        // plan runs 13:00:01–02 of a span 13:00:01–10: it starts at the left edge and is a
        // ninth of the plot wide.
        let html = timeline(&attempts(), NOW).into_string();
        let width = (WIDTH - LABELS - 8.0) / 9.0;
        let plan = format!(r#"x="{LABELS:.1}" y="1.0" width="{width:.1}""#);
        assert!(html.contains(&plan), "{plan}: {html}");
    }

    #[test]
    fn thousands_of_tasks_in_thin_unlabelled_rows() {
        let many: Vec<Attempt> = (0..3000)
            .map(|i| attempt(&format!("map-{i}"), 1, "ok", i % 50, Some(i % 50 + 5)))
            .collect();
        let html = timeline(&many, NOW).into_string();
        assert_eq!(html.matches("<rect").count(), 3000);
        assert!(
            !html.contains(">map-0</text>"),
            "no labels at 2 units a row"
        );
        assert!(
            html.contains(r#"viewBox="0 0 1000 3022.0""#),
            "{}",
            &html[..300]
        );
    }

    #[test]
    fn escapes_task_names_and_errors() {
        let mut evil = attempt("<script>x</script>", 1, "failed", 0, Some(1));
        evil.error = Some("</title><script>alert(1)</script>".into());
        let html = timeline(&[evil], NOW).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;/title&gt;&lt;script&gt;alert(1)"),
            "{html}"
        );
    }

    #[test]
    fn says_so_when_nothing_ran() {
        let html = timeline(&[], NOW).into_string();
        assert!(html.contains("No task attempts yet."), "{html}");
        assert!(!html.contains("<svg"), "{html}");
    }
}
