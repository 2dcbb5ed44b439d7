#!/usr/bin/env bash
# Installs the headless browser the web-page tests drive (tests/all/service/webdriver.rs):
# Debian's `chromium` and `chromium-driver` (chromedriver speaks W3C WebDriver to it), with
# apt-get. Idempotent: does nothing when `chromedriver --version` works already.
#
#   ./scripts/setup-browser.sh
set -euo pipefail

if chromedriver --version >/dev/null 2>&1; then
    chromedriver --version
    exit 0
fi

# shellcheck source=scripts/as-root.sh
source "$(dirname "$0")/as-root.sh"

if ! command -v apt-get >/dev/null; then
    echo "error: the browser tests need chromium and its chromedriver (the same major version)" \
        "on PATH; there is no apt-get here: install them with your system's package manager" >&2
    exit 1
fi
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver
chromedriver --version
