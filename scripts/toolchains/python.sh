#!/usr/bin/env bash
# Installs the Python toolchain of `sandmill build` into DEST: a virtual environment holding
# componentize-py (from PyPI, pinned), which bundles CPython for WebAssembly and the wasm
# tooling it needs. Needs python3 (3.10 or newer) with its `venv` module; on Debian,
# `apt-get install python3-venv` provides that module if it is missing. Quick when it is all
# there already.
#
#   scripts/toolchains/python.sh DEST
set -euo pipefail

COMPONENTIZE_PY=0.25.1
dest="${1:?usage: python.sh DEST}"

if [ -x "$dest/bin/componentize-py" ] &&
    [ "$("$dest/bin/componentize-py" --version 2>/dev/null | awk '{print $2}')" = "$COMPONENTIZE_PY" ]; then
    echo "python: componentize-py $COMPONENTIZE_PY is installed in $dest"
    exit 0
fi

# shellcheck source=scripts/python-venv.sh
source "$(dirname "$0")/../python-venv.sh"
find_python python "componentize-py"

echo "python: installing componentize-py $COMPONENTIZE_PY into $dest"
mkdir -p "$(dirname "$dest")"
"$python" -m venv "$dest"
"$dest/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY"
"$dest/bin/componentize-py" --version
