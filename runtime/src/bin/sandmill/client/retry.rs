//! Sending a request again when its answer was lost (a broken connection, a timeout, a
//! server error), with growing waits. Which requests may be sent again is the caller's call:
//! a `GET`, or a `POST` that carries an idempotency key.

use super::http::ClientError;
use std::time::Duration;

/// How often, and after how long, a request whose answer was lost is sent again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Tries in all, the first included; at least 1.
    pub attempts: u32,
    /// The wait before the second try; it doubles for each one after.
    pub first_wait: Duration,
}

impl Retry {
    /// Five tries over about eight seconds: enough for a server restart.
    pub const DEFAULT: Retry = Retry {
        attempts: 5,
        first_wait: Duration::from_millis(500),
    };

    /// `call`'s answer, calling it again with growing waits while its answer is lost
    /// ([`ClientError::is_lost_answer`]), and saying so on stderr.
    pub fn run<T>(
        self,
        what: &str,
        mut call: impl FnMut() -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut wait = self.first_wait;
        let mut attempt = 1;
        loop {
            match call() {
                Err(err) if err.is_lost_answer() && attempt < self.attempts => {
                    eprintln!(
                        "sandmill: {what}: {err}; trying again in {:.1}s ({} of {} tries)",
                        wait.as_secs_f64(),
                        attempt + 1,
                        self.attempts
                    );
                    std::thread::sleep(wait);
                    wait *= 2;
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_answer_is_retried_and_others_are_not() {
        let fast = Retry {
            attempts: 3,
            first_wait: Duration::from_millis(1),
        };
        let status = |status| ClientError::Status {
            status,
            message: "m".into(),
        };
        let mut calls = 0;
        let answer = fast.run("x", || {
            calls += 1;
            if calls < 3 {
                Err(status(503))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(answer.unwrap(), 3);
        let mut calls = 0;
        let answer: Result<(), _> = fast.run("x", || {
            calls += 1;
            Err(status(500))
        });
        assert!(answer.is_err());
        assert_eq!(calls, 3, "gives up after its attempts");
        for refused in [400, 409, 429] {
            let mut calls = 0;
            let _ = fast.run("x", || -> Result<(), _> {
                calls += 1;
                Err(status(refused))
            });
            assert_eq!(calls, 1, "{refused} is an answer, not a lost one");
        }
    }
}
