#!/usr/bin/env bash
# Full-scale benchmark (default 67.5 M events, one month): see scripts/benchmark.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/benchmark.py --events "${1:-67500000}" "${@:2}"
