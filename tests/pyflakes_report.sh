#!/usr/bin/env bash
# Lints the Python side of `bitlab report` (harness/report) with pyflakes: an
# unused import or an undefined name there shows only when a report takes that
# path. Exit 77 (ctest: skipped) where pyflakes is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3  # Debian's, where python3-pyflakes installs it
if ! "$python" -m pyflakes --version >/dev/null 2>&1; then
  echo "pyflakes is not installed (Debian package python3-pyflakes): harness/report not linted"
  exit 77
fi
"$python" -m pyflakes harness/report
echo "pyflakes: harness/report clean"
