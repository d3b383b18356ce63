#!/usr/bin/env bash
# Make sure a Chromium for the report's browser test is there (tests/test_report.py).
# Idempotent; on Debian/Ubuntu as root it installs the chromium package, elsewhere it says how.
set -euo pipefail
for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null; then
        echo "ensure-chromium: $(command -v "$candidate")"
        exit 0
    fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "ensure-chromium: installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
fi
echo "ensure-chromium: no Chromium found; install it (Debian: apt-get install chromium) or set CHURN_CHROMIUM" >&2
exit 1
