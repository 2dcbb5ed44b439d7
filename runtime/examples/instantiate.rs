//! What starting a task costs the plugin module: the mean time of `Plugin::instantiate` (a
//! fresh store, an instance and the `configure` call), the step every task attempt pays, for
//! the plugins given. It decided the instance allocator (see `plugin::engine`).
//!
//! ```text
//! cargo run --release -p sandmill-runtime --example instantiate -- a.wasm b.wasm
//! ```

use sandmill::plugin::{Limits, Plugin};
use sandmill::task::{PartitionId, TaskId};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    const RUNS: u32 = 2000;
    for path in std::env::args().skip(1) {
        let plugin = Plugin::from_file(path.as_ref(), Limits::default(), None)?;
        let start = |i| {
            plugin
                .instantiate(TaskId::Reduce(PartitionId(i)), &[])
                .map_err(|e| anyhow::anyhow!("{path}: {e}"))
        };
        for i in 0..RUNS / 10 {
            start(i)?;
        }
        let started = Instant::now();
        for i in 0..RUNS {
            let (instance, _) = start(i)?;
            drop(instance.finish());
        }
        let each = started.elapsed() / RUNS;
        println!(
            "{path}: {:.1} µs per instantiate + configure",
            each.as_secs_f64() * 1e6
        );
    }
    Ok(())
}
