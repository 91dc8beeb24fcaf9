#!/usr/bin/env bash
# The whole test suite: provides Node 24, installs dependencies, starts the local services, type-checks, runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
npx tsc -p tsconfig.json
npx vitest run "$@"
