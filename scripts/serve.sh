#!/usr/bin/env bash
# Build poslens and serve it locally, installing whatever is missing first.
#
#   scripts/serve.sh                 release build, served at http://127.0.0.1:8080/
#   scripts/serve.sh --dev           debug build (faster to compile, slower SVD)
#   scripts/serve.sh --port 9000     another port (also --address 0.0.0.0 to serve on the LAN)
#   scripts/serve.sh --build-only    build a static site into dist/ for hosting, and stop
#                                    (--dist-only is the same; add --public-url /sub/path/ when
#                                    the site is hosted below the domain's root)
# Any arguments after '--' go to trunk unchanged.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="serve"
release=(--release)
address="127.0.0.1"
port="8080"
public_url=()
extra=()
while (($#)); do
  case "$1" in
    --dev) release=() ;;
    --release) release=(--release) ;;
    --build-only | --dist-only) mode="build" ;;
    --port) port="${2:?--port needs a number}"; shift ;;
    --address) address="${2:?--address needs an address}"; shift ;;
    --public-url) public_url=(--public-url "${2:?--public-url needs a path such as /poslens/}"); shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "serve.sh: unknown option '$1' (see scripts/serve.sh --help)" ;;
  esac
  shift
done

"$REPO_ROOT/scripts/setup.sh" --serve
cd "$REPO_ROOT"

profile_name="release"
if ((${#release[@]} == 0)); then profile_name="debug"; fi

if [[ "$mode" == "build" ]]; then
  log "building the static site into dist/ ($profile_name; a cold release build takes about 6 minutes)"
  trunk build "${release[@]}" --offline --dist dist "${public_url[@]}" "${extra[@]}"
  log "done: $REPO_ROOT/dist holds the site; copy it to any static host (it needs no server code)"
  log "try it: python3 -m http.server --directory dist 8080  (then open http://127.0.0.1:8080/)"
  exit 0
fi

shown_address="$address"
if [[ "$address" == "0.0.0.0" ]]; then shown_address="127.0.0.1"; fi
log "serving poslens ($profile_name) at http://$shown_address:$port/  (first build: several minutes; Ctrl-C stops)"
exec trunk serve "${release[@]}" --offline --address "$address" --port "$port" "${public_url[@]}" "${extra[@]}"
