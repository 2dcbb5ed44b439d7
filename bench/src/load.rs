//! What a load test measured, summarised: latency percentiles, the longest time without an
//! answer, and how many jobs each tenant had finished at points of the run. Plain arithmetic on
//! samples; taking the samples is `sandmill-bench serve`'s job.

use std::time::Duration;

/// A set of latencies summarised: count, nearest-rank percentiles and the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    /// How many samples.
    pub count: usize,
    /// The median (nearest rank).
    pub p50: Duration,
    /// The 95th percentile (nearest rank).
    pub p95: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
    /// The largest sample.
    pub max: Duration,
}

impl Percentiles {
    /// Summarises `samples` (in any order); `None` if there are none.
    pub fn of(samples: &[Duration]) -> Option<Percentiles> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Percentiles {
            count: sorted.len(),
            p50: nearest_rank(&sorted, 50.0)?,
            p95: nearest_rank(&sorted, 95.0)?,
            p99: nearest_rank(&sorted, 99.0)?,
            max: *sorted.last()?,
        })
    }
}

/// The `p`th percentile (0 < `p` ≤ 100) of `sorted` by the nearest-rank method: the smallest
/// sample that at least `p` % of the samples are less than or equal to. `None` if empty.
pub fn nearest_rank(sorted: &[Duration], p: f64) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    // ceil(p/100 * n) as a 1-based rank, kept in 1..=n against rounding at the ends.
    let rank = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n);
    Some(sorted[rank - 1])
}

/// The longest time between two consecutive answers, given when each arrived (in any order):
/// `(start, length)` of that gap. `None` with fewer than two answers.
pub fn longest_gap(arrivals: &[Duration]) -> Option<(Duration, Duration)> {
    let mut sorted = arrivals.to_vec();
    sorted.sort_unstable();
    sorted
        .windows(2)
        .map(|w| (w[0], w[1] - w[0]))
        .max_by_key(|&(_, gap)| gap)
}

/// How many jobs each of `tenants` tenants had finished by each of `fractions` of `wall`:
/// `table[tenant][i]` counts the jobs of `finishes` (tenant index, when it finished) that
/// finished at or before `fractions[i] * wall`.
///
/// # Panics
/// If a tenant index in `finishes` is not below `tenants`.
pub fn finished_by(
    finishes: &[(usize, Duration)],
    tenants: usize,
    wall: Duration,
    fractions: &[f64],
) -> Vec<Vec<usize>> {
    let mut table = vec![vec![0; fractions.len()]; tenants];
    for &(tenant, at) in finishes {
        for (i, &f) in fractions.iter().enumerate() {
            if at <= wall.mul_f64(f) {
                table[tenant][i] += 1;
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        // 100 samples, given out of order: the pth percentile is the pth sample.
        let samples: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let p = Percentiles::of(&samples).unwrap();
        assert_eq!(
            p,
            Percentiles {
                count: 100,
                p50: ms(50),
                p95: ms(95),
                p99: ms(99),
                max: ms(100)
            }
        );
        // Ten samples: ceil(0.99 * 10) = 10, so p99 is the largest; p50 is the 5th.
        let ten: Vec<Duration> = (1..=10).map(ms).collect();
        let p = Percentiles::of(&ten).unwrap();
        assert_eq!((p.p50, p.p95, p.p99), (ms(5), ms(10), ms(10)));
        // A rank between two samples is rounded up: 91 % of 10 is 9.1, so the 10th.
        assert_eq!(nearest_rank(&ten, 91.0), Some(ms(10)));
        assert_eq!(nearest_rank(&ten[..3], 50.0), Some(ms(2)));
        // One sample is every percentile; none has none.
        assert_eq!(nearest_rank(&[ms(7)], 50.0), Some(ms(7)));
        assert_eq!(nearest_rank(&[ms(7)], 0.1), Some(ms(7)));
        assert_eq!(Percentiles::of(&[]), None);
    }

    #[test]
    fn longest_gap_between_answers() {
        let arrivals = [ms(10), ms(400), ms(20), ms(30), ms(35)];
        assert_eq!(longest_gap(&arrivals), Some((ms(35), ms(365))));
        assert_eq!(longest_gap(&[ms(5)]), None);
    }

    #[test]
    fn jobs_finished_per_tenant_by_fractions_of_the_wall_time() {
        // Tenant 0 finishes early, tenant 1 evenly, tenant 2 only at the end.
        let finishes = [
            (0, ms(100)),
            (0, ms(200)),
            (1, ms(250)),
            (1, ms(500)),
            (1, ms(750)),
            (2, ms(1000)),
        ];
        let table = finished_by(&finishes, 3, ms(1000), &[0.25, 0.5, 0.75, 1.0]);
        assert_eq!(
            table,
            vec![vec![2, 2, 2, 2], vec![1, 2, 3, 3], vec![0, 0, 0, 1]]
        );
        // A tenant with no jobs has a row of zeros.
        assert_eq!(finished_by(&[], 2, ms(10), &[0.5]), vec![vec![0], vec![0]]);
    }
}
