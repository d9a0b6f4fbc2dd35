#!/usr/bin/env bash
# Run every poslens test, installing whatever is missing first. Fails fast, with a summary.
#
#   scripts/test.sh             everything: set-up, test data, fmt, the layer rules, clippy and rustdoc (native and
#                               wasm32), cargo test, a short fuzz run of each parser, the release
#                               build into dist/, and the browser suite
#   scripts/test.sh --no-e2e    everything but the browser suite (no Chromium needed)
#   scripts/test.sh --quick     fmt, layer rules, clippy, rustdoc, cargo test and the export check only (inner loop)
#
# Logs of each step are kept in target/test-logs/. CI runs it through .ci/run with CI=true.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_build=1
run_e2e=1
for arg in "$@"; do
  case "$arg" in
    --no-e2e) run_e2e=0 ;;
    --quick) run_e2e=0; run_build=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "test.sh: unknown option '$arg' (see scripts/test.sh --help)" ;;
  esac
done

cd "$REPO_ROOT"
LOG_DIR="$REPO_ROOT/target/test-logs"
mkdir -p "$LOG_DIR"
total_start="$(now_s)"
results=()   # "name|seconds|ok|detail"
tests_passed=0
tests_failed=0
counted=""

print_summary() {
  local row name secs status detail
  printf '\n== summary (%s s in all)\n' "$(elapsed_s "$total_start")"
  for row in "${results[@]}"; do
    IFS='|' read -r name secs status detail <<<"$row"
    printf '   %-8s %-34s %7s s  %s\n' "$status" "$name" "$secs" "$detail"
  done
}

# Add up the "N passed; M failed" lines of cargo test and the "# pass N" lines of node --test;
# adds them to the totals and leaves this step's count in $counted.
count_tests() {
  local logfile="$1" p f
  # awk alone (no grep): a log without such lines must not trip 'set -e'.
  p="$(awk '/^test result: / { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^passed;/) s += $i } /^# pass [0-9]+/ { s += $3 } END { print s + 0 }' "$logfile")"
  f="$(awk '/^test result: / { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^failed;/) s += $i } /^# fail [0-9]+/ { s += $3 } END { print s + 0 }' "$logfile")"
  tests_passed=$((tests_passed + p))
  tests_failed=$((tests_failed + f))
  counted="$p passed, $f failed"
}

# step NAME COUNTS(0|1) COMMAND...: run one step, time it, keep its log, stop at the first failure.
step() {
  local name="$1" counts="$2"
  shift 2
  local slug logfile start rc detail=""
  slug="$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '-' | tr -s '-')"
  logfile="$LOG_DIR/${slug%-}.log"
  printf '\n== %s\n' "$name"
  start="$(now_s)"
  set +e
  "$@" 2>&1 | tee "$logfile"
  rc="${PIPESTATUS[0]}"
  set -e
  if [[ "$counts" == 1 ]]; then
    count_tests "$logfile" # not in a subshell: it adds to the totals
    detail="$counted"
  fi
  if [[ "$rc" != 0 ]]; then
    results+=("$name|$(elapsed_s "$start")|FAILED|exit $rc ${detail:+($detail) }log: ${logfile#"$REPO_ROOT"/}")
    print_summary
    printf '\n!! FAILED at step "%s" (exit %s); its log is %s\n' "$name" "$rc" "$logfile"
    printf 'tests: %s passed, %s failed\n' "$tests_passed" "$((tests_failed > 0 ? tests_failed : 1))"
    exit "$rc"
  fi
  results+=("$name|$(elapsed_s "$start")|ok|$detail")
  printf '== %s: ok in %s s\n' "$name" "$(elapsed_s "$start")"
}

setup_profile="--test"
if ((run_e2e == 0)); then setup_profile="--serve"; fi
step "set-up" 0 scripts/setup.sh "$setup_profile"
if ((run_e2e == 0)); then
  # numpy and rustfmt/clippy are still needed without the browser suite.
  step "set-up (numpy, fmt, clippy)" 0 bash -c 'python3 -c "import numpy" 2>/dev/null || python3 -m pip install --quiet numpy; python3 -c "import huggingface_hub, safetensors" 2>/dev/null || python3 -m pip install --quiet huggingface_hub safetensors; for c in rustfmt clippy; do rustup component list --installed | grep -q "^$c" || rustup component add "$c"; done'
fi
step "fetch test data" 0 scripts/fetch-test-data.sh
step "cargo fmt --check" 0 cargo fmt --all -- --check
step "layer rules (scripts/check_layers.py)" 0 python3 scripts/check_layers.py
step "clippy (native)" 0 cargo clippy --all-targets -- -D warnings
step "clippy (wasm32)" 0 cargo clippy --target "$WASM_TARGET" --all-targets -- -D warnings
step "cargo doc (native, wasm32)" 0 env RUSTDOCFLAGS="-D warnings" bash -c 'cargo doc --no-deps --lib --quiet && cargo doc --no-deps --lib --quiet --target "$0"' "$WASM_TARGET"
step "cargo test" 1 cargo test --no-fail-fast
# numpy loads the .npy/.npz files that tests/export_files.rs wrote, and the Python snippet runs
# against the real MiniLM file served by a local Hub stand-in.
step "export files (numpy, snippet)" 0 python3 tests/export_check.py
if ((run_build == 1)); then
  step "fuzz (cargo fuzz, 5 s per target)" 0 scripts/fuzz.sh 5
fi
if ((run_build == 1)); then
  step "trunk build --release" 0 trunk build --release --offline --dist dist
fi
if ((run_e2e == 1)); then
  step "e2e data (make_gpt2_like.py)" 0 python3 tests/e2e/make_gpt2_like.py
  step "e2e (node --test, chromium)" 1 node --test --test-concurrency=1 --test-reporter=tap tests/e2e/*.test.mjs
fi

print_summary
printf '\n== all steps passed\n'
printf 'tests: %s passed, %s failed\n' "$tests_passed" "$tests_failed"
