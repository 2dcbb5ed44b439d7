#!/usr/bin/env bash
# Installs the Python data tools the Parquet tests read Sandmill's Parquet output with
# (tests/all/parquet.rs) and write Parquet input with: pyarrow, DuckDB and Polars, from PyPI,
# pinned to the versions Sandmill is tested with, in a virtual environment at
#   ${SANDMILL_PYDATA_VENV:-target/pydata-venv}   (relative to the repository)
# Needs python3 (3.10 or newer) with its `venv` module (see scripts/python-venv.sh). Running it
# again checks and skips what is there. Prints the venv's path on its last line; give it to the
# tests as SANDMILL_PYDATA_VENV (scripts/test.sh does), or leave the default.
#
#   ./scripts/setup-pydata.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYARROW=26.0.1
DUCKDB=2.0.1
POLARS=2.1.0
venv="${SANDMILL_PYDATA_VENV:-$PWD/target/pydata-venv}"

# Whether $venv holds exactly the pinned versions (asked of pip's metadata, without importing
# them).
installed() {
    [ -x "$venv/bin/python" ] &&
        "$venv/bin/python" - "$PYARROW" "$DUCKDB" "$POLARS" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(version("pyarrow") != sys.argv[1] or version("duckdb") != sys.argv[2]
         or version("polars") != sys.argv[3])
PY
}

if installed; then
    echo "pydata: pyarrow $PYARROW, duckdb $DUCKDB and polars $POLARS are installed in $venv" >&2
    echo "$venv"
    exit 0
fi

# shellcheck source=scripts/python-venv.sh
source scripts/python-venv.sh
find_python pydata "pyarrow $PYARROW"

echo "pydata: installing pyarrow $PYARROW, duckdb $DUCKDB and polars $POLARS into $venv" >&2
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "pyarrow==$PYARROW" \
    "duckdb==$DUCKDB" "polars==$POLARS" >&2
if ! installed; then
    echo "error: the install into $venv did not leave pyarrow $PYARROW, duckdb $DUCKDB and polars $POLARS; remove $venv and run $0 again" >&2
    exit 1
fi
echo "pydata: installed pyarrow $PYARROW, duckdb $DUCKDB and polars $POLARS" >&2
echo "$venv"
