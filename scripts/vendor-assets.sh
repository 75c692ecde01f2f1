#!/usr/bin/env bash
# Refreshes the third-party front-end files under static/vendor/ from the npm registry.
#
# The results are committed, so a plain `cargo build` works offline and the binary
# embeds exactly what was reviewed. Run this only to change a version (edit the pins
# below), then review the diff and commit. Needs node's `npm` and network access to the
# npm registry; nothing is installed globally and no package scripts run.
set -euo pipefail

TABLER_CORE=1.6.1      # CSS only: no Tabler/Bootstrap JS is used
ALPINE_CSP=3.17.4      # the CSP build: no eval, so the page's CSP needs no 'unsafe-eval'
TABLER_ICONS=3.54.0    # outline icons, packed into one SVG sprite
AXE_CORE=4.14.1        # tests only: the browser tests' accessibility audit (not embedded)
# The icons the templates use (`<use href=".../icons.svg#i-NAME">`).
ICONS=(plus player-play player-stop refresh shield-check edit terminal-2 qrcode copy
  external-link sun moon alert-triangle dots git-branch file-text x player-pause
  arrow-down-bar eraser adjustments-horizontal cpu search check cloud-off folder
  circle-plus message-plus download)

cd "$(dirname "$0")/.."
out=static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # fetch NAME VERSION → $work/NAME/package
  local dir="$work/${1//\//_}"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent --ignore-scripts "$1@$2" >/dev/null && tar xzf ./*.tgz)
  echo "$dir/package"
}

core=$(fetch @tabler/core "$TABLER_CORE")
alpine=$(fetch @alpinejs/csp "$ALPINE_CSP")
icons=$(fetch @tabler/icons "$TABLER_ICONS")
axe=$(fetch axe-core "$AXE_CORE")

mkdir -p "$out"
cp "$core/dist/css/tabler.min.css" "$out/tabler.min.css"
cp "$alpine/dist/cdn.min.js" "$out/alpine-csp.min.js"

# One sprite of <symbol>s; the presentation attributes move from each icon's <svg> to
# its <symbol> so `<use>` inherits currentColor.
{
  echo '<svg xmlns="http://www.w3.org/2000/svg">'
  for name in "${ICONS[@]}"; do
    file="$icons/icons/outline/$name.svg"
    [[ -f $file ]] || { echo "no such icon: $name" >&2; exit 1; }
    body=$(sed -n '/^>$/,/^<\/svg>/p' "$file" | sed '1d;$d' | grep -v 'stroke="none" d="M0 0h24v24H0z"' | sed 's/^ *//' | tr -d '\n')
    printf '<symbol id="i-%s" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">%s</symbol>\n' "$name" "$body"
  done
  echo '</svg>'
} >"$out/icons.svg"

licence() { # licence NAME VERSION DIR
  printf '## %s %s\n\n' "$1" "$2"
  if [[ -f $3/LICENSE ]]; then cat "$3/LICENSE"; return; fi
  # Packages that ship no LICENSE file: the MIT text their package.json declares, with
  # its author as the copyright holder.
  local author
  author=$(node -p "const j = require('$3/package.json'); if (j.license !== 'MIT') process.exit(1); j.author.name || j.author")
  printf 'MIT License\n\nCopyright (c) %s\n\n' "$author"
  sed -n '/^Permission is hereby granted/,$p' "$icons/LICENSE"
  printf '\n\n'
}
{
  echo "Third-party files embedded in clauster. Refreshed by scripts/vendor-assets.sh;"
  echo "do not edit by hand."
  echo
  echo "| file | package | version | licence | sha256 |"
  echo "|---|---|---|---|---|"
  row() { printf '| %s | %s | %s | MIT | %s |\n' "$1" "$2" "$3" "$(sha256sum "$out/$1" | cut -c1-16)"; }
  row tabler.min.css @tabler/core "$TABLER_CORE"
  row alpine-csp.min.js @alpinejs/csp "$ALPINE_CSP"
  row icons.svg "@tabler/icons (${#ICONS[@]} outline icons)" "$TABLER_ICONS"
} >"$out/README.md"
{
  licence @tabler/core "$TABLER_CORE" "$core"
  licence @alpinejs/csp "$ALPINE_CSP" "$alpine"
  licence @tabler/icons "$TABLER_ICONS" "$icons"
} >"$out/LICENSES.txt"
# axe-core runs only in the browser tests; it lives beside them, not in the binary.
tests=tests/it/browser/vendor
mkdir -p "$tests"
cp "$axe/axe.min.js" "$tests/axe.min.js"
{ printf 'axe-core %s (MPL-2.0), used only by the browser tests; from scripts/vendor-assets.sh.\n\n' "$AXE_CORE"; cat "$axe/LICENSE"; } >"$tests/LICENSE-axe-core.txt"

echo "vendored into $out and $tests:"; ls -l "$out" "$tests"
