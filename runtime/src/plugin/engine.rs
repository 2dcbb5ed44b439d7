//! The wasmtime engine: every setting that decides what a plugin may contain and how it runs,
//! in one place, each with the reason for it.
//!
//! One engine per process and fuel setting (fuel is an engine-wide switch). Settings are the
//! same for every job, so jobs that share a process share nothing through the engine but its
//! compiled-code caches and its epoch counter.

use std::sync::OnceLock;
use wasmtime::{Config, Engine, WasmFeatures};

/// How often the epoch ticks: the granularity of every time and CPU limit.
pub(super) const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(50);

/// The largest stack a plugin's WebAssembly code may use (wasmtime's own stack, not the
/// plugin's shadow stack in linear memory).
pub(super) const MAX_WASM_STACK: usize = 1 << 20;

/// The shared engine for `fuel` on or off, with a thread that advances its epoch so that a
/// call's deadline and the CPU budgets can interrupt a plugin that never returns.
pub(super) fn engine(fuel: bool) -> &'static Engine {
    static ENGINES: [OnceLock<Engine>; 2] = [OnceLock::new(), OnceLock::new()];
    ENGINES[usize::from(fuel)].get_or_init(|| {
        let engine = Engine::new(&config(fuel)).expect("a valid wasmtime configuration");
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("sandmill-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .expect("spawning the epoch thread");
        engine
    })
}

/// The engine's configuration.
fn config(fuel: bool) -> Config {
    let mut config = Config::new();
    config
        // On by default since wasmtime 43; it makes every synchronous call dearer, and
        // Sandmill calls plugins synchronously from its own threads.
        .concurrency_support(false)
        // Time and CPU limits: a store's epoch deadline runs our callback every tick.
        .epoch_interruption(true)
        // Optional deterministic budget (`--fuel`); it costs 15-35% of plugin speed.
        .consume_fuel(fuel)
        .max_wasm_stack(MAX_WASM_STACK)
        // Instances are allocated on demand, not from wasmtime's pooling allocator: pooling
        // made instantiate + configure 43 instead of 77 us for word count (44 / 88 for the
        // inverted index, 70 / 68 for revenue by user; `examples/instantiate.rs`, dev
        // profile), under 1% of the smallest task (a 1 MiB split takes milliseconds), while
        // it caps how many instances every job in a process may hold at once and reserves
        // their memory up front. So the feature is not compiled in.
        // Determinism: the same input gives the same bits on every machine.
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true);
    refuse_unsupported_proposals(&mut config);
    config
}

/// Turns off every WebAssembly proposal Sandmill does not run, so that a component using one
/// fails to load with a validation error instead of reaching code that cannot run it safely.
///
/// What stays on is WebAssembly 3.0's core without GC, exceptions and 64-bit memories:
/// bulk memory, reference types, multi-value, SIMD (with deterministic relaxed SIMD),
/// extended constants, tail calls and multiple memories, which the toolchains Sandmill
/// supports (Rust, componentize-py, componentize-js, clang with wasi-libc) emit.
fn refuse_unsupported_proposals(config: &mut Config) {
    let refused = [
        // GC: this wasmtime is built without its `gc` feature, yet would still accept GC
        // function subtypes, and a `call_indirect` or `ref.test` that must check one reaches a
        // run-time stub that aborts the process (GHSA-rc4p-x33f-vpr2). Typed function
        // references are GC's prerequisite, and no supported toolchain emits them.
        WasmFeatures::GC,
        WasmFeatures::FUNCTION_REFERENCES,
        // Exceptions need GC in this wasmtime; the legacy encoding goes with them.
        WasmFeatures::EXCEPTIONS,
        WasmFeatures::LEGACY_EXCEPTIONS,
        // Threads: a task is one thread by design; shared memory would let a plugin's state
        // outlive its calls' deadlines, and races would make output nondeterministic.
        WasmFeatures::THREADS,
        WasmFeatures::SHARED_EVERYTHING_THREADS,
        // Stack switching: not supported by Cranelift here, and no guest needs it.
        WasmFeatures::STACK_SWITCHING,
        // 64-bit memories and custom page sizes: the memory limit and guard regions are
        // planned for 32-bit memories of 64 KiB pages.
        WasmFeatures::MEMORY64,
        WasmFeatures::CUSTOM_PAGE_SIZES,
        // Component-model extensions: async and threading need a concurrent host; GC and
        // 64-bit variants the proposals above; the rest are unfinished.
        WasmFeatures::CM_ASYNC,
        WasmFeatures::CM_ASYNC_STACKFUL,
        WasmFeatures::CM_MORE_ASYNC_BUILTINS,
        WasmFeatures::CM_THREADING,
        WasmFeatures::CM_ERROR_CONTEXT,
        WasmFeatures::CM_GC,
        WasmFeatures::CM64,
        WasmFeatures::CM_MAP,
        WasmFeatures::CM_FIXED_LENGTH_LISTS,
        WasmFeatures::CM_IMPLEMENTS,
    ];
    for feature in refused {
        config.wasm_features(feature, false);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, Plugin};
    use std::path::Path;

    /// The error loading the component `wat` gives.
    fn load_error(wat: &str) -> String {
        let bytes = wat::parse_str(wat).expect("valid WAT");
        Plugin::from_bytes(Path::new("hostile.wasm"), &bytes, Limits::default(), None)
            .expect_err("a component that is not a job never loads")
            .to_string()
    }

    #[test]
    fn components_using_proposals_sandmill_does_not_run_are_refused_at_load() {
        let cases = [
            (
                "GC subtypes checked by call_indirect (the process-aborting case)",
                r#"(component (core module
                    (type $a (sub (func)))
                    (type $b (sub $a (func)))
                    (table 1 funcref)
                    (func (export "f") (call_indirect (type $b) (i32.const 0)))))"#,
            ),
            (
                "shared memory",
                "(component (core module (memory 1 1 shared)))",
            ),
            (
                "atomics",
                "(component (core module (memory 1 1)
                    (func (drop (i32.atomic.load (i32.const 0))))))",
            ),
            (
                "exceptions",
                "(component (core module (tag $e) (func (throw $e))))",
            ),
            ("64-bit memory", "(component (core module (memory i64 1)))"),
            (
                "typed function references",
                "(component (core module (type $f (func)) (func (param (ref $f)))))",
            ),
            (
                "custom page sizes",
                "(component (core module (memory 1 (pagesize 1))))",
            ),
            (
                "stack switching",
                "(component (core module (type $f (func)) (type $c (cont $f))))",
            ),
        ];
        let accepted: Vec<String> = cases
            .iter()
            .map(|(name, wat)| (name, load_error(wat)))
            .filter(|(_, err)| !err.contains("it is not a valid component"))
            .map(|(name, err)| format!("{name}: {err}"))
            .collect();
        assert!(
            accepted.is_empty(),
            "not refused by validation:\n{accepted:#?}"
        );
    }

    #[test]
    fn the_proposals_sandmill_keeps_still_validate() {
        // SIMD, two memories, tail calls, bulk memory and reference types: refused only for not
        // being a job, after validation.
        let err = load_error(
            r#"(component (core module
                (memory 1) (memory 1)
                (table 1 funcref)
                (func $f (result v128) (v128.const i64x2 0 0))
                (func (export "g") (return_call $h))
                (func $h (memory.fill 1 (i32.const 0) (i32.const 0) (i32.const 0))
                    (drop (ref.null func)))))"#,
        );
        assert!(err.contains("does not implement"), "{err}");
    }
}
