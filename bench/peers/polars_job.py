"""Sandmill's example jobs as Polars lazy queries, for the benchmark (see common.py for the
command line). Polars reads the files itself (scan_lines, scan_ndjson, scan_csv, scan_parquet)
and writes the output with sink_csv/sink_parquet; nothing passes through Python but the plan."""

import os

import common

args = common.parse_args("polars")
# Read once, when polars is imported.
os.environ["POLARS_MAX_THREADS"] = str(args.threads)

import polars as pl  # noqa: E402

files = args.files


def tokens(column):
    """The column's tokens, one row each (rows without any dropped), lowercased."""
    return pl.col(column).str.extract_all(common.TOKEN)


if args.job == "wordcount":
    query = (
        pl.scan_lines(files, name="line")
        .select(tokens("line").alias("word"))
        .explode("word")
        .drop_nulls("word")
        .select(pl.col("word").str.to_lowercase())
        .group_by("word")
        .agg(pl.len().alias("n"))
    )
elif args.job == "inverted-index":
    # Each document once per term, ids ascending: the plugin's order.
    query = (
        pl.scan_ndjson(files, schema={"doc_id": pl.Int64, "text": pl.String})
        .select("doc_id", tokens("text").alias("term"))
        .explode("term")
        .drop_nulls("term")
        .with_columns(pl.col("term").str.to_lowercase())
        .unique(["term", "doc_id"])
        .group_by("term")
        .agg(pl.col("doc_id").sort().cast(pl.String).str.join(",").alias("ids"))
    )
else:
    schema = {"user_id": pl.Int64, "amount_cents": pl.Int64}
    if args.format == "jsonl":
        source = pl.scan_ndjson(files, schema=schema)
    elif args.format == "csv":
        # A blank line is a row of nulls to Polars; the plugin skips it. (So would a row of
        # empty fields be skipped here, where the plugin rejects it: the data has none.)
        source = pl.scan_csv(files, schema_overrides=schema).filter(
            pl.col("user_id").is_not_null() | pl.col("amount_cents").is_not_null()
        )
    else:
        source = pl.scan_parquet(files)
    query = source.group_by("user_id").agg(
        pl.len().cast(pl.Int64).alias("count"),
        pl.col("amount_cents").sum().cast(pl.Int64).alias("sum_cents"),
    )

common.replace_output(args.output)
try:
    if args.output_format == "parquet":
        query.sink_parquet(args.output, compression="snappy")
    else:
        # Tab-separated; no field holds a tab, a quote or a newline.
        query.sink_csv(args.output, separator="\t", include_header=False, quote_style="never")
except pl.exceptions.PolarsError as e:
    # No partial output.
    common.replace_output(args.output)
    common.fail(f"{args.job} over {args.files[0]} and others: {e}")
