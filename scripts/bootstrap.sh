#!/usr/bin/env bash
# Set up Yeji on a fresh Debian/Ubuntu machine: the system packages the PDFs need,
# then .venv from the locked, hash-pinned requirements. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SYSTEM_PACKAGES=(fonts-noto-cjk poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> Installing system packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" = none ]; then
    echo "    Cannot install them (not root, no sudo). Please run: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$PYTHON" - <<'PY' || { echo "Yeji needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> Installing locked dependencies into .venv (requirements.lock)"
# --no-deps: the lock is complete and hash-pinned; nothing is resolved at install time.
# (Some machines' pip config points at extra local indexes that do not exist: hide that noise.)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements.lock 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
.venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check; exit 1; }
touch .venv/.installed
echo "==> Ready: .venv/bin/yeji"
