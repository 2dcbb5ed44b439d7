"""Sandmill's example jobs as DuckDB SQL, for the benchmark (see common.py for the command
line). DuckDB reads the files itself (read_csv, read_json, read_parquet) and writes the output
with COPY; nothing passes through Python but the query text."""

import common

args = common.parse_args("duckdb")

import duckdb  # noqa: E402  (after the arguments: a usage error should not pay for the import)


def sql_string(s):
    return "'" + s.replace("'", "''") + "'"


files = "[" + ", ".join(sql_string(f) for f in args.files) + "]"

if args.job == "wordcount":
    # Lines as one column: a delimiter text does not hold (\x01), no quoting, and no strict
    # mode, which rejects a \r that does not end a line (the data mixes \r\n and \n; \r
    # separates tokens anyway). Without strict mode a line holding the delimiter would lose its
    # rest silently, so a second column catches that and the query fails instead. (read_text,
    # each file one string, was tried: regexp_extract_all over a 32 MiB string took minutes.)
    source = (f"read_csv({files}, columns = {{'line': 'VARCHAR', 'rest': 'VARCHAR'}}, "
              "header = false, auto_detect = false, delim = '\x01', quote = '', escape = '', "
              "strict_mode = false, null_padding = true)")
    line = ("CASE WHEN rest IS NULL THEN line "
            "ELSE error('a line holds a \\x01 byte, which this script reads as a delimiter') END")
    query = f"""
        SELECT lower(token) AS word, count(*) AS n
        FROM (SELECT unnest(regexp_extract_all({line}, '{common.TOKEN}')) AS token FROM {source})
        GROUP BY word"""
elif args.job == "inverted-index":
    source = (f"read_json({files}, format = 'newline_delimited', "
              "columns = {'doc_id': 'BIGINT', 'text': 'VARCHAR'})")
    # Each document once per term, ids ascending: the plugin's order.
    query = f"""
        SELECT term, string_agg(CAST(doc_id AS VARCHAR), ',' ORDER BY doc_id) AS ids
        FROM (SELECT DISTINCT lower(token) AS term, doc_id
              FROM (SELECT doc_id, unnest(regexp_extract_all(text, '{common.TOKEN}')) AS token
                    FROM {source}))
        GROUP BY term"""
else:
    columns = "{'user_id': 'BIGINT', 'amount_cents': 'BIGINT'}"
    source = {
        "jsonl": f"read_json({files}, format = 'newline_delimited', columns = {columns})",
        "csv": f"read_csv({files}, header = true, types = {columns})",
        "parquet": f"read_parquet({files})",
    }[args.format]
    query = f"""
        SELECT user_id, count(*) AS count, CAST(sum(amount_cents) AS BIGINT) AS sum_cents
        FROM {source}
        GROUP BY user_id"""

con = duckdb.connect()
con.execute(f"SET threads = {args.threads}")
# The output is compared as sorted lines; any row order will do.
con.execute("SET preserve_insertion_order = false")
common.replace_output(args.output)
if args.output_format == "parquet":
    options = "FORMAT parquet, COMPRESSION snappy"
else:
    # Tab-separated; no field holds a tab, a quote or a newline, so none is quoted.
    options = "FORMAT csv, DELIMITER '\t', HEADER false"
try:
    con.execute(f"COPY ({query}) TO {sql_string(args.output)} ({options})")
except duckdb.Error as e:
    # No partial output.
    common.replace_output(args.output)
    common.fail(f"{args.job} over {args.files[0]} and others: {e}")
