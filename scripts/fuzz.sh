#!/usr/bin/env bash
# Fuzz the parsers that read untrusted bytes with cargo fuzz (libFuzzer), each for a bounded time.
#
#   scripts/fuzz.sh            every target for 60 s
#   scripts/fuzz.sh 5          every target for 5 s (what scripts/test.sh runs)
#   scripts/fuzz.sh 600 header one target for 10 minutes
#
# Targets (fuzz/fuzz_targets/): header (format::header_len_from_prefix, parse_header,
# parse_whole_file), shard_index (shards::parse_shard_index), url_state (url_state::decode_query
# and its round trip through encode_query), torch_bin (torch::IndexPlan and LocatePlan on a whole
# .bin file, zip or legacy format) and torch_pickle (torch::pickle::interpret and collect_tensors
# on consecutive pickles). Seeds are in fuzz/corpus/<target>/ (real headers, real torch.save files and their pickles);
# new inputs go to target/fuzz-corpus/<target>/, crashes to fuzz/artifacts/<target>/.
#
# This toolchain is stable Rust: RUSTC_BOOTSTRAP=1 lets cargo fuzz pass its -Z flags, and
# `-s none` builds without a sanitizer (the crate forbids unsafe code, so ASan adds little).
# cargo-fuzz is installed from crates.io when missing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(header shard_index url_state torch_bin torch_pickle); fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  log "installing cargo-fuzz from crates.io (once)"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
  work="$REPO_ROOT/target/fuzz-corpus/$target"
  mkdir -p "$work"
  log "fuzzing $target for $seconds s"
  log_file="$REPO_ROOT/target/fuzz-$target.log"
  set +e
  cargo fuzz run -s none -O "$target" "$work" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 >"$log_file" 2>&1
  rc=$?
  set -e
  # libFuzzer ends with "Done N runs in S second(s)" and its final stats.
  grep -E '^(Done |stat::number_of_executed_units|stat::new_units_added|SUMMARY|==[0-9]+== ERROR)|panicked at' "$log_file" || true
  if [[ "$rc" != 0 ]]; then
    tail -n 30 "$log_file"
    die "fuzz target $target failed (exit $rc): see $log_file and fuzz/artifacts/$target/"
  fi
done
log "fuzzing done: ${targets[*]}"
