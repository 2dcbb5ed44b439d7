#!/usr/bin/env bash
# Installs what `sandmill build` needs for JavaScript jobs into DEST (normally
# $SANDMILL_TOOLCHAINS/js, see scripts/setup-toolchain.sh): componentize-js with every
# dependency pinned by sdk/js/toolchain/package-lock.json, from the npm registry. Node.js 18 or
# newer and npm come from Debian (apt-get) when they are missing. Quick when all is installed.
#
#   scripts/toolchains/js.sh DEST
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
dest=$1
pins="$(cd "$(dirname "$0")/../../sdk/js/toolchain" && pwd)"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "js: installing Node.js and npm with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "error: js: node and npm are needed; install Node.js 18 or newer (Debian: sudo apt-get install nodejs npm)" >&2
        exit 1
    fi
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "error: js: node $(node --version) is too old: componentize-js needs Node.js 18 or newer" >&2
    exit 1
fi

want=$(node -p "require('$pins/package.json').dependencies['@bytecodealliance/componentize-js']")
installed="$dest/node_modules/@bytecodealliance/componentize-js/package.json"
if [ -f "$installed" ] && cmp -s "$pins/package-lock.json" "$dest/package-lock.json" \
    && [ "$(node -p "require('$installed').version")" = "$want" ]; then
    echo "js: componentize-js $want is installed in $dest"
    exit 0
fi

echo "js: installing componentize-js $want into $dest (npm ci, pinned)"
mkdir -p "$dest"
cp "$pins/package.json" "$pins/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
echo "js: componentize-js $(node -p "require('$installed').version") is installed in $dest"
