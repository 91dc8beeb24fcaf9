#!/usr/bin/env bash
# The whole test suite: provides Node 24, installs dependencies, starts the local services, type-checks, compiles the
# apps (the end-to-end tests run the bundles with plain node), runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
npx tsc -p tsconfig.json
npm run build --silent
npx vitest run "$@"
