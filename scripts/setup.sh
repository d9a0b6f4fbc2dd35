#!/usr/bin/env bash
# Install whatever poslens needs that is missing; skip what is present at the right version.
#
#   scripts/setup.sh            everything the tests need (the default)
#   scripts/setup.sh --serve    only what building and serving the app needs
#   scripts/setup.sh --test     everything the tests need
#
# Idempotent and quick when everything is there: it checks versions and installs nothing.
# Only package registries are used (rustup, crates.io, npm, Debian, PyPI). Works with CI=true.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

profile="test"
for arg in "$@"; do
  case "$arg" in
    --serve) profile="serve" ;;
    --test) profile="test" ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "setup.sh: unknown option '$arg' (use --serve or --test)" ;;
  esac
done

command -v cargo >/dev/null || die "cargo is not on PATH: install Rust with rustup first"
command -v node >/dev/null || die "node is not on PATH: install Node.js 20 or newer"
mkdir -p "$CACHE_DIR"

# One set-up at a time on this machine (serve.sh and test.sh may start together).
exec 9>"$CACHE_DIR/setup.lock"
if ! flock -n 9; then
  log "another set-up is running; waiting for it"
  flock 9
fi

# Wait while someone else's 'cargo install CRATE' runs, so that we never build the same tool twice at once.
wait_for_other_cargo_install() {
  local crate="$1" waited=0
  while pgrep -f "cargo install ${crate}( |$)" >/dev/null 2>&1; do
    if ((waited == 0)); then log "a 'cargo install ${crate}' is already running; waiting for it to finish"; fi
    sleep 10
    waited=$((waited + 10))
  done
}

ensure_wasm_target() {
  if rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
    log "ok: rust target $WASM_TARGET"
  else
    log "installing rust target $WASM_TARGET (rustup, under a minute)"
    rustup target add "$WASM_TARGET"
  fi
}

ensure_rust_components() {
  local comp
  for comp in rustfmt clippy; do
    if cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
      log "ok: cargo ${comp/rustfmt/fmt}"
    else
      log "installing rustup component $comp"
      rustup component add "$comp"
    fi
  done
}

ensure_trunk() {
  wait_for_other_cargo_install trunk
  local have
  have="$(tool_version trunk)"
  if [[ "$have" == "$TRUNK_VERSION" ]]; then
    log "ok: trunk $have"
    return
  fi
  log "installing trunk $TRUNK_VERSION (10-15 min, once)${have:+; found $have}"
  cargo install trunk --version "$TRUNK_VERSION" --locked
  [[ "$(tool_version trunk)" == "$TRUNK_VERSION" ]] || die "trunk $TRUNK_VERSION was installed but 'trunk --version' disagrees; check PATH"
}

ensure_wasm_bindgen_cli() {
  local want have
  want="$(locked_wasm_bindgen_version)"
  [[ -n "$want" ]] || die "Cargo.lock pins no wasm-bindgen: build once for wasm32 to lock it"
  wait_for_other_cargo_install wasm-bindgen-cli
  have="$(tool_version wasm-bindgen)"
  if [[ "$have" == "$want" ]]; then
    log "ok: wasm-bindgen-cli $have (matches Cargo.lock)"
    return
  fi
  # Not --locked: the registry lacks one of its locked dependencies.
  log "installing wasm-bindgen-cli $want to match Cargo.lock (about 7 min, once)${have:+; found $have}"
  cargo install wasm-bindgen-cli --version "$want"
  [[ "$(tool_version wasm-bindgen)" == "$want" ]] || die "wasm-bindgen-cli $want was installed but 'wasm-bindgen --version' disagrees; check PATH"
}

# playwright-core and binaryen (wasm-opt) from tests/e2e/package-lock.json.
ensure_node_packages() {
  local stamp_file="$E2E_DIR/node_modules/.poslens-lock-stamp" want have=""
  want="$(sha256_of "$E2E_DIR/package-lock.json") node-$(node --version)"
  [[ -f "$stamp_file" ]] && have="$(cat "$stamp_file")"
  if [[ "$have" == "$want" && -x "$E2E_DIR/node_modules/.bin/wasm-opt" ]]; then
    log "ok: node packages in tests/e2e (wasm-opt $(wasm-opt --version | awk '{ print $3 }'))"
    return
  fi
  log "installing node packages in tests/e2e (npm ci: playwright-core, binaryen)"
  (cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp_file"
}

ensure_chromium() {
  if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    log "ok: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
    return
  fi
  log "installing chromium and chromium-driver (apt-get, a few minutes, once)"
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo apt-get install -y chromium chromium-driver
}

ensure_numpy() {
  if python3 -c 'import numpy' >/dev/null 2>&1; then
    log "ok: numpy $(python3 -c 'import numpy; print(numpy.__version__)')"
  else
    log "installing numpy (pip)"
    python3 -m pip install --quiet numpy
  fi
}

# huggingface_hub and safetensors run the "Copy as Python" snippet in tests/export_check.py.
ensure_snippet_packages() {
  if python3 -c 'import huggingface_hub, safetensors' >/dev/null 2>&1; then
    log "ok: huggingface_hub $(python3 -c 'import huggingface_hub; print(huggingface_hub.__version__)'), safetensors $(python3 -c 'import safetensors; print(safetensors.__version__)')"
  else
    log "installing huggingface_hub and safetensors (pip)"
    python3 -m pip install --quiet huggingface_hub safetensors
  fi
}

start="$(now_s)"
ensure_wasm_target
ensure_trunk
ensure_wasm_bindgen_cli
ensure_node_packages
if [[ "$profile" == "test" ]]; then
  ensure_rust_components
  ensure_chromium
  ensure_numpy
  ensure_snippet_packages
fi
log "set-up ($profile) done in $(elapsed_s "$start") s"
