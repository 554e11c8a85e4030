#!/usr/bin/env bash
# Fetch the JavaScript that draws saved widgets in an exported notebook (require.js, the widget renderer
# @jupyter-widgets/html-manager, anywidget for plotly's FigureWidget) from the npm registry, pinned, into DEST
# (default .cache/widget-js, git-ignored). vqnb.runner.offline_html_exporter points nbconvert at these copies.
set -euo pipefail
dest=${1:-.cache/widget-js}
pins=(requirejs@2.3.8 @jupyter-widgets/html-manager@1.0.15 anywidget@0.11.0)
dirs=(requirejs html-manager anywidget)
stamp="$dest/.complete"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pins[*]}" ] && exit 0
if ! command -v npm >/dev/null; then
  echo "no npm (Debian package npm) to fetch the widget JavaScript: run reports will load it from CDNs" >&2
  if [ -n "${VQNB_REQUIRE_BROWSER:-}" ] || [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then exit 1; fi
  exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "${pins[@]}" >/dev/null)
mkdir -p "$tmp/out"
for i in "${!pins[@]}"; do
  name=${pins[$i]%@*}; name=${name#@}; name=${name//\//-}; ver=${pins[$i]##*@}
  mkdir -p "$tmp/out/${dirs[$i]}"
  tar xzf "$tmp/$name-$ver.tgz" -C "$tmp/out/${dirs[$i]}" --strip-components=1
done
echo "${pins[*]}" > "$tmp/out/.complete"
mkdir -p "$(dirname "$dest")"; rm -rf "$dest"; mv "$tmp/out" "$dest"
echo "widget JavaScript for offline reports in $dest: ${pins[*]}"
