"""What the two peer scripts share: their command line and the input files.

    python duckdb_job.py JOB --input DIR --output FILE --threads N [--format jsonl|csv|parquet]
        [--output-format lines|parquet]

JOB is one of the example jobs, and the script writes the lines `sandmill-native` writes
(bench/src/native.rs), in any order: `word\tcount` (wordcount), `term\tid,id,...`
(inverted-index), `user_id\tcount\tsum_cents` (revenue-by-user). With `--output-format
parquet` (revenue-by-user only) FILE is a Parquet file of three int64 columns instead, as
revenue-by-user-parquet writes. Nothing here imports an engine: each script sets its thread
limit first and imports its engine after (Polars reads POLARS_MAX_THREADS at import).
"""

import argparse
import os
import sys

JOBS = ("wordcount", "inverted-index", "revenue-by-user")

# The tokens of the example jobs (sdk/src/text.rs): maximal runs of ASCII letters and digits,
# lowercased. Every other byte separates tokens; UTF-8 bytes of other characters are >= 0x80,
# so no character outside this class can join or split a token. Lowercasing the tokens (which
# are ASCII) rather than the text keeps Unicode case rules (the Kelvin sign lowercases to `k`)
# out of it.
TOKEN = "[A-Za-z0-9]+"


def parse_args(engine):
    p = argparse.ArgumentParser(
        prog=f"{engine}_job.py",
        description=f"An example job of Sandmill's benchmark, run with {engine}.",
    )
    p.add_argument("job", choices=JOBS)
    p.add_argument("--input", required=True, action="append",
                   help="input file or directory (repeatable); directories are walked, "
                        "names starting with . or _ skipped, as Sandmill does")
    p.add_argument("--output", required=True, help="the output file (replaced)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--format", choices=("lines", "jsonl", "csv", "parquet"), default=None,
                   help="how the input is read [default: lines for wordcount, else jsonl]")
    p.add_argument("--output-format", choices=("lines", "parquet"), default="lines")
    args = p.parse_args()
    if args.threads < 1:
        p.error("--threads must be at least 1")
    if args.format is None:
        args.format = "lines" if args.job == "wordcount" else "jsonl"
    allowed = {
        "wordcount": ("lines",),
        "inverted-index": ("jsonl",),
        "revenue-by-user": ("jsonl", "csv", "parquet"),
    }[args.job]
    if args.format not in allowed:
        p.error(f"{args.job} reads --format {' or '.join(allowed)}, not {args.format}")
    if args.output_format == "parquet" and args.job != "revenue-by-user":
        p.error("--output-format parquet is for revenue-by-user only")
    args.files = input_files(args.input)
    if not args.files:
        fail(f"no input files in {args.input}")
    return args


def input_files(inputs):
    """Files as given, directories walked, names starting with . or _ skipped; sorted."""
    files = []
    for given in inputs:
        if not os.path.exists(given):
            fail(f"input {given} does not exist")
        if not os.path.isdir(given):
            files.append(given)
            continue
        for root, dirs, names in os.walk(given):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            files.extend(os.path.join(root, n) for n in names if not n.startswith((".", "_")))
    return sorted(set(files))


def replace_output(path):
    """Removes an old output file, so that a failed run cannot leave the previous one."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
