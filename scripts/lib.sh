#!/usr/bin/env bash
# Shared helpers for the poslens scripts. Source it; don't run it.
#
# It sets REPO_ROOT, puts the project's tools on PATH, and defines the log and
# version helpers that setup.sh, serve.sh, test.sh and bench.sh share.

# The repository root is the parent of this file's folder.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# The exact tool versions this project builds with.
TRUNK_VERSION="0.21.14"
WASM_TARGET="wasm32-unknown-unknown"
E2E_DIR="$REPO_ROOT/tests/e2e"
CACHE_DIR="$REPO_ROOT/.cache"

# Trunk must never try to download tools of its own: this network only reaches package registries.
export TRUNK_OFFLINE=true
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# cargo-installed tools and the npm-installed wasm-opt (binaryen) come first on PATH.
# (Debian's binaryen is too old: its wasm-opt breaks current wasm-bindgen output.)
export PATH="$E2E_DIR/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log() { printf '== %s\n' "$*" >&2; }
warn() { printf '!! %s\n' "$*" >&2; }
die() { printf '!! %s\n' "$*" >&2; exit 1; }

# Print the version of the wasm-bindgen crate that Cargo.lock pins, e.g. 0.2.130.
locked_wasm_bindgen_version() {
  local lock="$REPO_ROOT/Cargo.lock"
  [[ -f "$lock" ]] || die "Cargo.lock is missing at $lock: run 'cargo generate-lockfile' in $REPO_ROOT"
  awk '
    /^\[\[package\]\]/ { in_pkg = 1; name = ""; next }
    in_pkg && /^name = / { name = $3; gsub(/"/, "", name); next }
    in_pkg && /^version = / && name == "wasm-bindgen" { v = $3; gsub(/"/, "", v); print v; exit }
  ' "$lock"
}

# Print the version a tool reports as its second word ("trunk 0.21.14" -> 0.21.14), or nothing.
tool_version() {
  command -v "$1" >/dev/null 2>&1 || return 0
  "$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }'
}

# sha256 of a file, hex only.
sha256_of() { sha256sum "$1" | awk '{ print $1 }'; }

# Seconds since the epoch with a fraction, for step timings.
now_s() { date +%s.%N; }
elapsed_s() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }
