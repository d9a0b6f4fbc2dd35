#!/usr/bin/env bash
# Render the app icons (static/icons/*.png) from their SVG sources with headless Chromium.
# The PNGs are committed; run this only after changing icon.svg or icon-maskable.svg.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../static/icons"
render() { # SVG PNG SIZE
  local page
  page="$(mktemp --suffix=.html)"
  printf '<html><body style="margin:0"><img src="file://%s/%s" width="%s" height="%s" style="display:block"></body></html>\n' \
    "$PWD" "$1" "$3" "$3" >"$page"
  /usr/bin/chromium --headless --no-sandbox --disable-gpu --default-background-color=00000000 --hide-scrollbars \
    --screenshot="$PWD/$2" --window-size="$3,$3" "file://$page" 2>/dev/null
  rm -f "$page"
}
render icon.svg icon-512.png 512
render icon.svg icon-192.png 192
render icon.svg favicon-32.png 32
render icon-maskable.svg icon-maskable-512.png 512
