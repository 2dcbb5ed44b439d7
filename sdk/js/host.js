// What the host offers a running job: log lines and counters. In a component they go to the
// host (`sandmill:job/host`, installed by the adapter); natively (in tests) they are recorded
// for `testing.takeLogs()` and `testing.takeCounters()`.

/** How serious a log message is. */
export const LogLevel = Object.freeze({ debug: "debug", info: "info", warn: "warn", error: "error" });

const LEVELS = new Set(Object.values(LogLevel));

/** The native stand-in: records what a test can inspect. */
const recorded = { logs: [], counters: new Map() };

let backend = {
  log(level, message) {
    recorded.logs.push([level, message]);
  },
  counterAdd(name, delta) {
    recorded.counters.set(name, BigInt.asIntN(64, (recorded.counters.get(name) ?? 0n) + delta));
  },
};

/** Sends host calls to `host` (the component's `sandmill:job/host` import). */
export function useHost(host) {
  backend = host;
}

/** Writes `message` to the job's log at `level` ("debug", "info", "warn" or "error"). */
export function log(level, message) {
  if (!LEVELS.has(level)) throw new TypeError(`log level ${JSON.stringify(level)}: use debug, info, warn or error`);
  backend.log(level, String(message));
}

/** Adds `delta` (an integer number or a bigint) to the counter `name`, summed over all tasks. */
export function counter(name, delta = 1n) {
  const d = typeof delta === "bigint" ? delta : BigInt(delta);
  backend.counterAdd(String(name), BigInt.asIntN(64, d));
}

/** Takes the messages logged natively so far, as `[level, message]`. */
export function takeLogs() {
  return recorded.logs.splice(0);
}

/** Takes the counters added natively so far, as a Map from name to bigint. */
export function takeCounters() {
  const out = recorded.counters;
  recorded.counters = new Map();
  return out;
}
