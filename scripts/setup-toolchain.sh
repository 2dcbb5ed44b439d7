#!/usr/bin/env bash
# Installs the toolchains `sandmill build` uses for jobs in Python, JavaScript and C, from the
# package registries only (PyPI, npm, Debian, crates.io), pinned to the versions Sandmill is
# tested with. Each installs into its own directory under
#   ${SANDMILL_TOOLCHAINS:-${XDG_DATA_HOME:-$HOME/.local/share}/sandmill/toolchains}/LANG
# (where `sandmill build` looks first, before PATH); C also needs Debian packages (clang,
# lld, wasi-libc), installed with apt-get. Running it again checks and skips what is there.
#
#   ./scripts/setup-toolchain.sh [python|js|c|all]...     default: all
set -euo pipefail
cd "$(dirname "$0")/.."
export SANDMILL_TOOLCHAINS="${SANDMILL_TOOLCHAINS:-${XDG_DATA_HOME:-$HOME/.local/share}/sandmill/toolchains}"

langs=("$@")
if [ ${#langs[@]} -eq 0 ] || [ "${langs[*]}" = all ]; then
    langs=(python js c)
fi
for lang in "${langs[@]}"; do
    case "$lang" in
    python | js | c) ;;
    rust)
        echo "rust: nothing to install beyond rustup's target: rustup target add wasm32-wasip2"
        rustup target add wasm32-wasip2
        continue
        ;;
    *)
        echo "error: unknown language '$lang': give python, js, c or all" >&2
        exit 2
        ;;
    esac
    printf '\n==> %s toolchain in %s\n' "$lang" "$SANDMILL_TOOLCHAINS/$lang"
    bash "scripts/toolchains/$lang.sh" "$SANDMILL_TOOLCHAINS/$lang"
done
