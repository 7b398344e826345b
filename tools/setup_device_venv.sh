#!/usr/bin/env bash
# The device-profile venv .venv-device: the Jetson Nano's software (CPython 3.6, torch 1.10, numpy 1.19,
# OpenCV 4.6, no ROS, no safetensors) from requirements-device-test.txt, so that `make test` runs the
# runtime's unit tests and the committed variants there (test/test_device_profile.py). Called by
# tools/setup.sh; re-created only when requirements-device-test.txt changes. Never fails the set-up:
# without a CPython 3.6 (or without the network) it says what to do and the device-profile tests skip.
# Writes nothing outside the repository except pip's cache.
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv-device"
REQ="$ROOT/requirements-device-test.txt"
LOG="$ROOT/log/setup-device.txt"
cd "$ROOT"
mkdir -p "$ROOT/log"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# A CPython 3.6: $DEVICE_PYTHON, else pyenv's (pyenv root, $PYENV_ROOT, ~/.pyenv), else python3.6 on PATH.
find_python36() {
  if [ -n "${DEVICE_PYTHON:-}" ]; then
    echo "$DEVICE_PYTHON"
    return
  fi
  local roots=() root exe
  if command -v pyenv >/dev/null 2>&1; then roots+=("$(pyenv root 2>/dev/null || true)"); fi
  roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv" "/root/.pyenv")
  for root in "${roots[@]}"; do
    [ -n "$root" ] || continue
    for exe in "$root"/versions/3.6*/bin/python3.6; do
      if [ -x "$exe" ]; then
        echo "$exe"
        return
      fi
    done
  done
  command -v python3.6 2>/dev/null || true
}

SUM=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$SUM" ]; then
  exit 0
fi
PY36=$(find_python36)
if [ -z "$PY36" ] || ! "$PY36" -c 'import sys; assert sys.version_info[:2] == (3, 6)' 2>/dev/null; then
  say "NOTE: no CPython 3.6 found, so no device-profile venv (.venv-device) and its tests skip."
  say "      Get one with: pyenv install 3.6.15 (https://github.com/pyenv/pyenv), or set DEVICE_PYTHON=/path/to/python3.6"
  exit 0
fi
say "creating the device-profile venv .venv-device on $("$PY36" -V 2>&1) (first time: 1-3 minutes, torch 1.10.2 is an 882 MB download)"
rm -rf "$VENV"
start=$(date +%s)
if ! {
  "$PY36" -m venv "$VENV" &&
    # pip 18 (Python 3.6's own) cannot read manylinux2014 wheels: first the pinned pip (21.3.1, the last for 3.6).
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$(grep -E '^pip==' "$REQ")" &&
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" &&
    "$VENV/bin/python" -m pip check &&
    # The device has no safetensors (no wheel for Python 3.6 on aarch64): the numpy reader must do.
    ! "$VENV/bin/python" -c 'import safetensors' 2>/dev/null
} >"$LOG" 2>&1; then
  grep -v "^WARNING: Location .* is ignored" "$LOG" | tail -15 || true
  rm -rf "$VENV"
  say "WARNING: could not create the device-profile venv (full log: log/setup-device.txt); its tests skip"
  exit 0
fi
echo "$SUM" >"$VENV/.requirements.sha256"
say "device-profile venv ready in $(($(date +%s) - start)) s ($(du -sh --apparent-size "$VENV" | cut -f1))"
