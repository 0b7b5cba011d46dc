#!/usr/bin/env bash
# Lints every bash script of the project with shellcheck: most of them (gpu-check,
# gpu-deps, deps-arm64) run on machines CI never sees, so this is where a slip
# in them shows first. Exit 77 (ctest: skipped) where shellcheck is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null; then
  echo "shellcheck is not installed (Debian package shellcheck): scripts not linted"
  exit 77
fi
mapfile -t scripts < <(grep -rlE '^#!/usr/bin/env bash|^# shellcheck shell=bash' scripts .ci tests/*.sh | sort)
echo "shellcheck: ${#scripts[@]} scripts"
shellcheck -x "${scripts[@]}"
