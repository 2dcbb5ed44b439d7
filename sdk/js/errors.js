// Errors a job throws, and how every thrown value becomes a WIT `job-error`.

/** The most UTF-8 bytes of a thrown value's message kept in a `job-error`. */
const MAX_MESSAGE = 1024;
/** The most UTF-8 bytes of a whole `job-error` message (the host keeps 4 KiB of plugin text). */
const MAX_TEXT = 3072;

/**
 * An error about the record (or key group) at hand: the host reports it with the record's file
 * and line (or the key), and `sandmill run --max-bad-records N` can quarantine it.
 */
export class RecordError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = "RecordError";
  }
}

/** An error about the job's `--param` values: the job does not start. */
export class ParamsError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = "ParamsError";
  }
}

/** Text for any value, even one whose `toString` throws. */
function show(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  try {
    if (value !== null && typeof value === "object") {
      const json = JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
      if (json !== undefined) return json;
    }
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * `s` cut to at most about `max` bytes of UTF-8 (never inside a character), saying how much was
 * left out.
 */
function cut(s, max) {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? 4 : c >= 0xdc00 && c < 0xe000 ? 0 : 3;
    if (bytes + n > max) {
      const end = c >= 0xdc00 && c < 0xe000 ? i - 1 : i;
      return `${s.slice(0, end)}[... ${s.length - end} characters left out]`;
    }
    bytes += n;
  }
  return s;
}

/** The UTF-8 length of `s`. */
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? 4 : c >= 0xdc00 && c < 0xe000 ? 0 : 3;
  }
  return n;
}

/** The frames of `error.stack` (SpiderMonkey's `fn@file:line:col` or V8's `    at ...`). */
function frames(error) {
  let stack;
  try {
    stack = error.stack;
  } catch {
    return [];
  }
  if (typeof stack !== "string") return [];
  // V8 starts the stack with the error's own `Name: message` line; SpiderMonkey does not.
  for (const header of [`${error.name}: ${error.message}`, `${error.name}`]) {
    if (stack.startsWith(`${header}\n`)) {
      stack = stack.slice(header.length);
      break;
    }
  }
  return stack.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/**
 * A message for a person about `thrown`, whatever it is: `Name: message` for an `Error` (with
 * its `cause`), `thrown value: ...` for anything else, then `where`, then as many stack frames as
 * fit in about 3 KiB.
 */
export function describe(thrown, where) {
  let head;
  if (thrown instanceof Error) {
    let message;
    try {
      message = String(thrown.message);
    } catch {
      message = "(its message cannot be read)";
    }
    head = `${thrown.name || "Error"}: ${cut(message, MAX_MESSAGE)}`;
    if (thrown.cause !== undefined) {
      const cause = thrown.cause instanceof Error ? `${thrown.cause.name}: ${thrown.cause.message}` : show(thrown.cause);
      head += ` (caused by ${cut(cause, MAX_MESSAGE / 2)})`;
    }
  } else {
    head = `thrown value (not an Error, so it has no stack): ${cut(show(thrown), MAX_MESSAGE)}`;
  }
  let text = where ? `${head} [${where}]` : head;
  const stack = thrown instanceof Error ? frames(thrown) : [];
  if (stack.length > 0) {
    text += "\nstack:";
    let size = utf8Length(text);
    for (let i = 0; i < stack.length; i++) {
      const line = `\n  ${cut(stack[i], 300)}`;
      const n = utf8Length(line);
      if (size + n > MAX_TEXT - 40) {
        text += `\n  [... ${stack.length - i} more frames]`;
        break;
      }
      text += line;
      size += n;
    }
  }
  return cut(text, MAX_TEXT);
}

/**
 * The WIT `job-error` for `thrown` during the call `where` about item `index` of the batch:
 * `invalid-record` for a {@link RecordError}, `invalid-params` for a {@link ParamsError},
 * `failed` (with the stack) for anything else.
 */
export function jobError(thrown, index, where) {
  if (thrown instanceof RecordError) {
    return { tag: "invalid-record", val: { index, message: cut(String(thrown.message), MAX_TEXT) } };
  }
  if (thrown instanceof ParamsError) {
    return { tag: "invalid-params", val: cut(String(thrown.message), MAX_TEXT) };
  }
  return { tag: "failed", val: describe(thrown, where) };
}
