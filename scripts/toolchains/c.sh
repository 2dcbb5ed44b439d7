#!/usr/bin/env bash
# Installs what `sandmill build` needs for jobs in C, pinned, into DEST (run by
# scripts/setup-toolchain.sh c):
#
# - Debian packages, with apt-get: clang 19, lld 19, the wasm32 compiler runtime and wasi-libc
#   (Debian 12's has only the preview-1 sysroot, so jobs are preview-1 modules wrapped into
#   components), and node/npm for jco if they are missing;
# - wit-bindgen's C generator, with cargo, into DEST/bin (only the `c` feature: the default
#   features build every generator, which took 31 minutes here; the C one alone takes about 9);
# - jco, with npm ci from scripts/toolchains/c/package-lock.json, into DEST/node_modules: `jco new` wraps the module with the preview-1 reactor
#   adapter that jco ships, so no adapter file or wasm-tools build is needed.
#
# Idempotent: what is installed at the pinned version is skipped, so a second run takes a
# second.
#
#   scripts/toolchains/c.sh DEST
set -euo pipefail

dest="${1:?usage: scripts/toolchains/c.sh DEST}"
wit_bindgen_version=0.63.0
jco_version=1.35.0
debian_packages=(clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc)

# shellcheck source=scripts/as-root.sh
source "$(dirname "$0")/../as-root.sh"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for package in "${debian_packages[@]}"; do
    installed "$package" || missing+=("$package")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        echo "error: this needs the Debian packages ${missing[*]} (or your system's clang 19 with" \
            "the wasm32 target, wasi-libc's wasm32-wasi sysroot and node); there is no apt-get here" >&2
        exit 1
    fi
    echo "c: apt-get install ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "c: Debian packages installed (${debian_packages[*]})"
fi

mkdir -p "$dest"
if [ -x "$dest/bin/wit-bindgen" ] &&
    [ "$("$dest/bin/wit-bindgen" --version 2>/dev/null)" = "wit-bindgen-cli $wit_bindgen_version" ]; then
    echo "c: wit-bindgen $wit_bindgen_version installed"
else
    echo "c: cargo install wit-bindgen-cli $wit_bindgen_version (the C generator only; several minutes)"
    start=$SECONDS
    cargo install wit-bindgen-cli --version "$wit_bindgen_version" --locked \
        --no-default-features --features c --root "$dest"
    echo "c: wit-bindgen built in $((SECONDS - start)) s"
fi

# jco and every dependency, pinned by scripts/toolchains/c/package-lock.json.
pins="$(cd "$(dirname "$0")/c" && pwd)"
jco_package="$dest/node_modules/@bytecodealliance/jco/package.json"
if [ -f "$jco_package" ] && grep -q "\"version\": \"$jco_version\"" "$jco_package" &&
    cmp -s "$pins/package-lock.json" "$dest/package-lock.json"; then
    echo "c: jco $jco_version installed"
else
    echo "c: npm ci @bytecodealliance/jco@$jco_version (pinned)"
    cp "$pins/package.json" "$pins/package-lock.json" "$dest/"
    (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "c: ready (clang-19, wit-bindgen in $dest/bin, jco in $dest/node_modules/.bin)"
