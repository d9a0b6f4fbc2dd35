#!/usr/bin/env bash
# Benchmark the app's analysis in headless Chromium against numpy, for every W_pos shape of the
# README's performance table, and report the gzipped wasm sizes.
#
#   scripts/bench.sh                           release build, 3 page loads per shape, numpy median of 3
#   scripts/bench.sh --no-build                use the dist/ that is there
#   scripts/bench.sh --runs 5                  more page loads (other options go to tests/e2e/bench.mjs)
#   scripts/bench.sh --shapes 1024x768         only some shapes (1024x768,1024x1600,2048x2560,2050x9216)
# Prints one markdown table (also written to target/bench.md). Not a test: it asserts nothing about speed.
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
