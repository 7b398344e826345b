#!/usr/bin/env bash
# A picture of a session report as a browser shows it (the README's docs/session_report.png):
#   tools/report_screenshot.sh SESSION_FOLDER_OR_REPORT_HTML OUT.png [WIDTHxHEIGHT]
# Headless Chromium (Debian's chromium package; make setup-test installs it when root), network off.
set -eo pipefail
SRC=${1:?usage: tools/report_screenshot.sh SESSION_FOLDER_OR_REPORT_HTML OUT.png [WIDTHxHEIGHT]}
OUT=${2:?usage: tools/report_screenshot.sh SESSION_FOLDER_OR_REPORT_HTML OUT.png [WIDTHxHEIGHT]}
SIZE=${3:-900x1900}
[ -d "$SRC" ] && SRC="$SRC/report.html"
[ -f "$SRC" ] || { echo "report_screenshot: $SRC: no such report (facecoach report SESSION writes it)" >&2; exit 2; }
BROWSER=$(command -v chromium || command -v chromium-browser || true)
[ -n "$BROWSER" ] || { echo "report_screenshot: no chromium (sudo apt-get install chromium)" >&2; exit 2; }
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
"$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$PROFILE" \
  --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" --window-size="${SIZE/x/,}" \
  --screenshot="$(realpath -m "$OUT")" "file://$(realpath "$SRC")" >/dev/null 2>&1
echo "report_screenshot: $OUT ($(stat -c %s "$OUT") bytes)"
