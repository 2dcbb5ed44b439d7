//! What the operating system says this process and thread have used: a thread's CPU time (for
//! the plugin's CPU budgets) and the process's peak resident memory (for the job summary and
//! the memory-bound tests).

use std::time::Duration;

/// The CPU time the calling thread has used.
#[allow(
    unsafe_code,
    reason = "clock_gettime is the only way to read a thread's CPU time; the call writes only \
              to the timespec it is given"
)]
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The most memory this process has held resident at once, in bytes (0 if unknown).
#[allow(
    unsafe_code,
    reason = "getrusage writes only to the rusage it is given"
)]
pub fn peak_rss() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage for the duration of the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    // Linux reports kibibytes.
    u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_and_peak_rss_with_memory() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        while thread_cpu_time() - before < Duration::from_millis(5) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(thread_cpu_time() > before);
        let low = peak_rss();
        let hog = vec![1u8; 64 << 20];
        std::hint::black_box(&hog);
        assert!(
            peak_rss() >= low.max(64 << 20),
            "{} then {}",
            low,
            peak_rss()
        );
    }
}
