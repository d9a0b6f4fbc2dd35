#!/usr/bin/env bash
# Benchmark the app's SVD in headless Chromium against numpy, and report the gzipped wasm size.
#
#   scripts/bench.sh                 release build, 5 page loads, numpy median of 5
#   scripts/bench.sh --no-build      use the dist/ that is there
#   scripts/bench.sh --runs 10       more page loads (other options go to tests/e2e/bench.mjs)
# Prints a markdown table (also written to target/bench.md). Not a test: it asserts nothing about speed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=1
args=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done

"$REPO_ROOT/scripts/setup.sh" --test
"$REPO_ROOT/scripts/fetch-test-data.sh"
cd "$REPO_ROOT"
if ((build == 1)); then
  log "building the release app into dist/"
  trunk build --release --offline --dist dist
fi
python3 tests/e2e/make_gpt2_like.py
log "benchmarking (a few minutes)"
node tests/e2e/bench.mjs "${args[@]}"
