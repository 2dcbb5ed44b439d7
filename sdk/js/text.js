// Text helpers: UTF-8 and the word splitting the example jobs share with the Rust SDK.

import { RecordError } from "./errors.js";

const lossy = new TextDecoder();
const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** The runs of ASCII letters and digits: the words, before lowercasing. */
const WORD = /[A-Za-z0-9]+/g;

/**
 * Each byte's lowercase form if it belongs in a word (`[A-Za-z0-9]`), otherwise 0: the table of
 * the Rust SDK's `ascii_words`, for `Emitter.emitAsciiWords`.
 */
export const WORD_BYTE = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const c = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) WORD_BYTE[b] = c;
}

/**
 * The lowercase ASCII words of `line` (a Uint8Array or a string), exactly as the Rust SDK's
 * `text::ascii_words`: `A`-`Z` become `a`-`z` (nothing else changes), every byte that is not
 * `[a-z0-9]` separates words (so does every non-ASCII character), and empty words are dropped.
 *
 *     asciiWords("Don't STOP-me now") // ["don", "t", "stop", "me", "now"]
 */
export function asciiWords(line) {
  // Decoding lossily is exact here: every byte of a non-ASCII character (and every invalid
  // byte, which becomes U+FFFD) is a separator either way, and ASCII bytes decode as themselves.
  const text = typeof line === "string" ? line : lossy.decode(line);
  const words = text.match(WORD);
  if (words === null) return [];
  for (let i = 0; i < words.length; i++) words[i] = words[i].toLowerCase();
  return words;
}

/** `bytes` decoded as UTF-8; invalid UTF-8 is a {@link RecordError}. */
export function utf8(bytes) {
  try {
    return strict.decode(bytes);
  } catch (e) {
    throw new RecordError(`invalid UTF-8: ${e.message}`);
  }
}

/** `text` encoded as UTF-8. */
export function encodeUtf8(text) {
  return encoder.encode(text);
}

/**
 * Whether `value` is a byte array: a Uint8Array of this realm or of the component's bindings
 * (whose typed arrays come from another global, so `instanceof Uint8Array` is false for them).
 */
export function isBytes(value) {
  return value instanceof Uint8Array || (ArrayBuffer.isView(value) && value.BYTES_PER_ELEMENT === 1);
}
