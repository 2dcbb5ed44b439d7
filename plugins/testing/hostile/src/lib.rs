//! A job for Sandmill's sandbox tests that does, on chosen records, what a hostile or careless
//! plugin would. Every other line is counted, as word count would.
//!
//! | record | what the plugin does |
//! |---|---|
//! | `sleep` | sleeps 3 s, then counts `slept=MS` with the milliseconds its clock says passed |
//! | `sleep-forever` | sleeps an hour at a time, forever |
//! | `host-loop` | calls the host (`counter-add`) forever |
//! | `spin=MS` | uses MS milliseconds of CPU time (measured by spinning), then counts `spun` |
//! | `reduce-spin=MS` | counted as a word; its reduce uses MS milliseconds of CPU time first |
//! | `recurse` | recurses without end |
//! | `exit` | calls `exit(3)` |
//! | `print=MIB` | prints MIB MiB to stdout and stderr, then counts `printed` |
//! | `probe` | tries files, environment, arguments and sockets; counts what it saw |
//! | `values=N;PADDING` | emits N values of 64 KiB under the key `hot` |
//!
//! With `--param combine=append` the job declares the native `append` merge, and its reduce
//! writes each key with the total bytes of its values: the host then buffers what the plugin
//! emits, which must stay within the job's memory budget.
//!
//! `spin` measures CPU by counting loop iterations calibrated on nothing but the plugin's own
//! work: it must not read a clock, which is virtual.

use sandmill_sdk::{Combiner, Emitter, Job, Merge, Output, Params, Record, Result, Values, codec};
use std::io::Write as _;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Hostile {
    append: bool,
}

/// Work that the optimiser cannot remove: about a nanosecond per step.
fn spin(steps: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..steps {
        x = std::hint::black_box(x.rotate_left(7) ^ i);
    }
    x
}

#[allow(
    unconditional_recursion,
    reason = "the point: a stack overflow the sandbox must contain"
)]
fn recurse(depth: u64, pad: &mut [u8; 256]) -> u64 {
    pad[depth as usize % 256] = depth as u8;
    recurse(depth + 1, std::hint::black_box(pad)) + u64::from(pad[0])
}

impl Job for Hostile {
    fn configure(&mut self, params: &Params) -> Result<()> {
        params.expect_only(&["combine"])?;
        self.append = params.get("combine") == Some("append");
        Ok(())
    }

    fn combiner(&self) -> Combiner {
        if self.append {
            Combiner::Merge(Merge::Append)
        } else {
            Combiner::None
        }
    }

    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()> {
        let line = record.text()?;
        let one = codec::i64_key(1);
        match line {
            "sleep" => {
                let start = Instant::now();
                std::thread::sleep(Duration::from_secs(3));
                out.emit(format!("slept={}", start.elapsed().as_millis()), one);
            }
            "sleep-forever" => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            "host-loop" => loop {
                sandmill_sdk::counter("spins", 1);
            },
            "recurse" => {
                let mut pad = [0; 256];
                out.emit(format!("{}", recurse(0, &mut pad)), one);
            }
            "exit" => std::process::exit(3),
            "probe" => {
                let file = std::fs::read("/etc/passwd").is_ok();
                let dir = std::fs::read_dir(".").is_ok();
                let env = std::env::vars().count();
                let args = std::env::args().count();
                let socket = std::net::TcpStream::connect("127.0.0.1:80").is_ok();
                let dns = std::net::ToSocketAddrs::to_socket_addrs("localhost:80").is_ok();
                out.emit(
                    format!("probe file={file} dir={dir} env={env} args={args} socket={socket} dns={dns}"),
                    one,
                );
            }
            _ => {
                if let Some(ms) = line.strip_prefix("spin=") {
                    let ms: u64 = ms.parse().unwrap_or(0);
                    std::hint::black_box(spin(ms * 1_000_000));
                    out.emit("spun", one);
                } else if let Some(n) = line.strip_prefix("values=") {
                    let value = vec![b'v'; 64 << 10];
                    let n = n.split(';').next().unwrap_or_default();
                    for _ in 0..n.parse::<usize>().unwrap_or(0) {
                        out.emit("hot", &value);
                    }
                } else if let Some(mib) = line.strip_prefix("print=") {
                    let mib: usize = mib.parse().unwrap_or(0);
                    let chunk = vec![b'x'; 1 << 20];
                    for _ in 0..mib {
                        let _ = std::io::stdout().write_all(&chunk);
                        let _ = std::io::stderr().write_all(&chunk);
                    }
                    out.emit("printed", one);
                } else {
                    out.emit(line, one);
                }
            }
        }
        Ok(())
    }

    fn reduce(&mut self, key: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
        if self.append {
            let mut bytes = 0;
            values.try_for_each(|v| {
                bytes += v.len() as u64;
                Ok(())
            })?;
            out.fields((key, bytes));
            return Ok(());
        }
        if let Some(ms) = key.strip_prefix(b"reduce-spin=") {
            let ms: u64 = std::str::from_utf8(ms)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(0);
            std::hint::black_box(spin(ms * 1_000_000));
        }
        let count = values.sum_i64()?;
        out.fields((key, count));
        Ok(())
    }
}

sandmill_sdk::export_job!(Hostile);
