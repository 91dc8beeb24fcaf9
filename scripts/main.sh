#!/usr/bin/env bash
# The main job: provides Node 24, installs dependencies, starts the local services, then ingests a generated
# large file end to end through the producer, a worker and the janitor, and prints the result and the time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
npx tsx scripts/demo.ts "$@"
