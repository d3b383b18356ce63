#!/usr/bin/env bash
# Make sure a Chromium for the report's browser test is there (tests/test_report.py).
# Idempotent; on Debian/Ubuntu as root it installs the chromium package, elsewhere it says how.
# Installing prints one line with its time; apt's output goes to a log (CHURN_SETUP_LOG, default
# ${TMPDIR:-/tmp}/churn-setup.log, appended to), whose end is shown when it fails.
set -euo pipefail
for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null; then
        echo "ensure-chromium: $(command -v "$candidate")"
        exit 0
    fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say() { echo "ensure-chromium: $*"; }
    log="${CHURN_SETUP_LOG:-${TMPDIR:-/tmp}/churn-setup.log}"
    install_chromium() { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
    # shellcheck source=docker/stage.sh
    source "$(cd "$(dirname "$0")/.." && pwd)/docker/stage.sh"
    stage "installing chromium" "installed chromium, its log in $log" install_chromium
    exit 0
fi
echo "ensure-chromium: no Chromium found; install it (Debian: apt-get install chromium) or set CHURN_CHROMIUM" >&2
exit 1
