//! The report's tables: a summary, request latencies idle and under load, and each tenant's
//! finished jobs over the run. The arithmetic is `sandmill_bench::load`'s.

use super::poll::{Kind, Sample};
use super::{Measured, Tenant};
use sandmill_bench::load::{Percentiles, finished_by, longest_gap};
use sandmill_bench::report::Table;
use std::time::Duration;

/// The points of the run, as fractions of its wall time, at which finished jobs are counted.
const FRACTIONS: [f64; 4] = [0.25, 0.5, 0.75, 1.0];

/// The tables for what was measured; `identical` outputs were checked, the server exited with
/// `exit`, and every answer under load should take less than `target`.
pub fn tables(
    m: &Measured,
    tenants: &[Tenant],
    identical: usize,
    exit: &str,
    target: Duration,
) -> Vec<Table> {
    vec![
        summary(m, identical, exit, target),
        latency(m),
        fairness(m, tenants),
    ]
}

/// The wall time: from the first submission until the last job was seen finished.
fn wall(m: &Measured) -> Duration {
    m.finishes.iter().map(|f| f.at).max().unwrap_or_default()
}

fn summary(m: &Measured, identical: usize, exit: &str, target: Duration) -> Table {
    let jobs = m.finishes.len();
    let wall = wall(m);
    let succeeded = m.finishes.iter().filter(|f| f.state == "succeeded").count();
    let slowest = m.load.iter().map(|s| s.latency).max();
    let arrivals: Vec<Duration> = m.load.iter().map(|s| s.at).collect();
    let mut t = Table::new(["figure", "value"]);
    t.row([
        "wall time, first submission to last job finished s".to_owned(),
        format!("{:.2}", wall.as_secs_f64()),
    ]);
    t.row([
        "jobs/s".to_owned(),
        format!("{:.2}", jobs as f64 / wall.as_secs_f64().max(1e-3)),
    ]);
    t.row(["jobs succeeded".to_owned(), format!("{succeeded}/{jobs}")]);
    t.row([
        "outputs identical to a local `sandmill run`".to_owned(),
        format!("{identical}/{jobs}"),
    ]);
    t.row([
        "submitting every job took s".to_owned(),
        format!("{:.2}", m.submitting.as_secs_f64()),
    ]);
    t.row([
        "status and list requests under load".to_owned(),
        m.load.len().to_string(),
    ]);
    t.row([
        "longest gap between answers under load ms".to_owned(),
        longest_gap(&arrivals).map_or_else(
            || "n/a".to_owned(),
            |(at, gap)| format!("{:.1} (at {:.1} s)", ms(gap), at.as_secs_f64()),
        ),
    ]);
    t.row([
        format!("every answer under load in under {:.0} ms", ms(target)),
        match slowest {
            Some(s) if s < target => "yes".to_owned(),
            Some(_) => "NO".to_owned(),
            None => "n/a".to_owned(),
        },
    ]);
    t.row(["server exit status on SIGTERM", exit]);
    t
}

fn latency(m: &Measured) -> Table {
    let of = |samples: &[Sample], kind: Kind| -> Option<Percentiles> {
        let latencies: Vec<Duration> = samples
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.latency)
            .collect();
        Percentiles::of(&latencies)
    };
    let idle = of(&m.idle, Kind::Status);
    let load = of(&m.load, Kind::Status);
    let mut t = Table::new([
        "request", "server", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms",
    ]);
    let mut row = |request: &str, when: &str, p: Option<Percentiles>| {
        let cell = |pick: fn(&Percentiles) -> Duration| {
            p.as_ref()
                .map_or_else(|| "n/a".to_owned(), |p| format!("{:.1}", ms(pick(p))))
        };
        t.row([
            request.to_owned(),
            when.to_owned(),
            p.map_or(0, |p| p.count).to_string(),
            cell(|p| p.p50),
            cell(|p| p.p95),
            cell(|p| p.p99),
            cell(|p| p.max),
        ]);
    };
    row("POST /v1/jobs", "submitting", Percentiles::of(&m.submits));
    row("GET /v1/jobs/ID", "idle", idle);
    row("GET /v1/jobs/ID", "under load", load);
    row(
        "GET /v1/jobs?limit=100",
        "under load",
        of(&m.load, Kind::List),
    );
    if let (Some(i), Some(l)) = (idle, load) {
        let ratio = |l: Duration, i: Duration| format!("{:.1}x", ms(l) / ms(i).max(1e-3));
        t.row([
            "GET /v1/jobs/ID".to_owned(),
            "under load / idle".to_owned(),
            "-".to_owned(),
            ratio(l.p50, i.p50),
            ratio(l.p95, i.p95),
            ratio(l.p99, i.p99),
            ratio(l.max, i.max),
        ]);
    }
    t
}

fn fairness(m: &Measured, tenants: &[Tenant]) -> Table {
    let done: Vec<(usize, Duration)> = m.finishes.iter().map(|f| (f.tenant, f.at)).collect();
    let counts = finished_by(&done, tenants.len(), wall(m), &FRACTIONS);
    let mut t = Table::new([
        "tenant",
        "jobs",
        "finished by 25 %",
        "50 %",
        "75 %",
        "100 %",
    ]);
    for (i, (tenant, row)) in tenants.iter().zip(&counts).enumerate() {
        let jobs = done.iter().filter(|d| d.0 == i).count();
        t.row(
            [tenant.name.clone(), jobs.to_string()]
                .into_iter()
                .chain(row.iter().map(usize::to_string)),
        );
    }
    let spread = (0..FRACTIONS.len()).map(|i| {
        let column = || counts.iter().map(|row| row[i]);
        let (lo, hi) = (column().min().unwrap_or(0), column().max().unwrap_or(0));
        (hi - lo).to_string()
    });
    t.row(
        ["spread (most - fewest)".to_owned(), "-".to_owned()]
            .into_iter()
            .chain(spread),
    );
    t
}

/// Milliseconds, for the tables.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
