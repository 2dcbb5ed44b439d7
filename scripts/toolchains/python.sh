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

python=$(command -v python3 || true)
if [ -z "$python" ]; then
    echo "error: python3 not found: install Python 3.10 or newer (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "error: $python is $("$python" --version 2>&1); componentize-py needs Python 3.10 or newer" >&2
    exit 1
fi
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "python: installing python3-venv with apt-get"
        apt-get update -qq && apt-get install -y -qq python3-venv
    else
        echo "error: $python has no venv module: install it (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

echo "python: installing componentize-py $COMPONENTIZE_PY into $dest"
mkdir -p "$(dirname "$dest")"
"$python" -m venv "$dest"
"$dest/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY"
"$dest/bin/componentize-py" --version
