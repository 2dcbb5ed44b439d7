// CSV rows (RFC 4180 quoting), one line each, as the Rust SDK reads them with csv-core.

/**
 * The fields of one CSV line (without its line end): split on `,`; a field that starts with `"`
 * is quoted, `""` inside it is one `"`, and text after its closing quote is kept as it is. An
 * empty line is one empty field.
 */
export function parseCsvRow(line) {
  if (line.indexOf('"') < 0) return line.split(",");
  const fields = [];
  let field = "";
  let i = 0;
  const n = line.length;
  for (;;) {
    if (line[i] === '"') {
      // A quoted field: up to the closing quote, `""` standing for `"`.
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          field += line.slice(i);
          i = n;
          break;
        }
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    }
    // Unquoted text (or what follows a closing quote), up to the next comma.
    const comma = line.indexOf(",", i);
    if (comma < 0) {
      fields.push(field + line.slice(i));
      return fields;
    }
    fields.push(field + line.slice(i, comma));
    field = "";
    i = comma + 1;
  }
}
