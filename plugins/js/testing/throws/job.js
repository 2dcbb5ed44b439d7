// A test job whose map and reduce throw, so that the tests can check what reaches the user.
//
// It counts words like the word count, except that map throws an Error on a line containing
// `boom` (with `--param throw=string`: a plain string, not an Error), and reduce throws a
// TypeError on the word `kaboom`.

import { asciiWords, i64Key } from "./sandmill/index.js";

const ONE = i64Key(1);

export default class Throws {
  configure(params) {
    params.expectOnly(["throw"]);
    this.throwString = params.get("throw") === "string";
  }

  map(line, out) {
    const text = line.text();
    if (text.includes("boom") && !text.includes("kaboom")) {
      if (this.throwString) throw `map refuses ${text}`;
      throw new Error(`map found boom in ${JSON.stringify(text)}`);
    }
    for (const word of asciiWords(text)) out.emit(word, ONE);
  }

  reduce(word, counts, out) {
    if (new TextDecoder().decode(word) === "kaboom") throw new TypeError("reduce cannot count kaboom");
    out.fields(word, counts.count());
  }
}
