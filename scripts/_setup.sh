# Shared by scripts/run and scripts/test: a virtualenv in .venv with the
# requirements installed, re-installed only when a requirements file changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {  # apt_install PACKAGE...: quiet, shows apt's output only when it fails
  command -v apt-get >/dev/null || { echo "Please install: $*" >&2; return 1; }
  local log; log=$(mktemp)
  if as_root apt-get update -qq >"$log" 2>&1 &&
     as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1; then
    rm -f "$log"
  else
    cat "$log" >&2; rm -f "$log"; return 1
  fi
}

on_ci() { case "${CI:-}" in ""|0|false|False|FALSE) return 1 ;; *) return 0 ;; esac; }

# The browser tests drive Debian's chromium through Playwright (which downloads
# nothing). Installed once, when missing; on CI a browser that cannot be
# installed stops the run, elsewhere the browser tests are skipped.
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
ensure_chromium() {
  [ -x "$CHROMIUM_PATH" ] && return 0
  echo "Installing chromium for the browser tests ..."
  if apt_install chromium fonts-liberation && [ -x "$CHROMIUM_PATH" ]; then
    return 0
  fi
  if on_ci; then
    echo "No browser at $CHROMIUM_PATH and it could not be installed: the browser tests cannot run." >&2
    exit 1
  fi
  echo "No browser at $CHROMIUM_PATH (Debian: apt-get install chromium): the browser tests will be skipped." >&2
}

ensure_python() {
  PYTHON=${PYTHON:-python3}
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "ChronoFlow needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))." >&2
    exit 1
  fi
}

ensure_venv() {  # ensure_venv REQUIREMENTS_FILE
  ensure_python
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv 2>/dev/null || { apt_install python3-venv && rm -rf .venv && "$PYTHON" -m venv .venv; }
  fi
  local stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$1")"
  if [ ! -f "$stamp" ]; then
    echo "Installing Python packages from $1 ..."
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$1"
    touch "$stamp"
  fi
  export PATH="$PWD/.venv/bin:$PATH" FLASK_APP=app
}
