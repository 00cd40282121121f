#!/usr/bin/env bash
# Creates ./.venv with the project's pinned dependencies and the sparklocal dbt
# adapter plugin. Idempotent: a second run only re-installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"

java_major() {
  java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

# Spark 4 needs Java 17 or newer.
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  echo "setup: Java 17+ is required by Spark 4 and was not found on PATH." >&2
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "setup: installing openjdk-17-jre-headless with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless
  else
    echo "setup: install a Java 17+ runtime (e.g. 'apt-get install openjdk-17-jre-headless') and re-run." >&2
    exit 1
  fi
fi

# Headless Chromium draws the visual report in its browser test (Debian's
# `chromium`): only the tests need it, so only `scripts/setup.sh --browser`
# (`make test`) installs it, when missing and this is a Debian machine we may change.
if [ "${1:-}" = "--browser" ]; then
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
      echo "setup: installing chromium (for the report's browser test) with apt-get" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
    else
      echo "setup: chromium not found; the report's browser test needs it ('apt-get install chromium')." >&2
    fi
  fi
  exit 0
fi

"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  echo "setup: Python 3.11 is required (found $("$python_bin" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
}

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# The project (ml + datagen packages, editable) with dev tools, and the adapter
# plugin (a regular install: dbt discovers it under dbt.adapters.sparklocal).
.venv/bin/pip install --quiet -e ".[dev]"
.venv/bin/pip install --quiet --force-reinstall --no-deps ./adapter
.venv/bin/dbt --version | head -n 5
