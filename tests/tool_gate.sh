#!/usr/bin/env bash
# Runs a test only when the tool it needs is there; otherwise prints the line ctest reads as
# a skip (SKIP_REGULAR_EXPRESSION "SKIPPED: ") and exits 0.
# Usage: tool_gate.sh TOOL INSTALL_COMMAND PROBE -- COMMAND [ARG...]
#   PROBE: a shell snippet that succeeds when TOOL is usable.
set -uo pipefail
tool=$1 install=$2 probe=$3
shift 3
[[ "${1:-}" == "--" ]] && shift
if ! bash -c "$probe" >/dev/null 2>&1; then
    echo "SKIPPED: $tool missing; run $install"
    exit 0
fi
exec "$@"
