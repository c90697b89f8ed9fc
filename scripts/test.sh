#!/usr/bin/env bash
# Sets up (Python reference readers, real models) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH=/opt/swift/usr/bin:$PATH
fi
scripts/setup.sh
swift build -c release --build-tests
swift test -c release --skip-build
