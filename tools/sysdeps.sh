#!/usr/bin/env bash
# Install the Debian packages named as arguments when missing (root), or say which are missing.
# With --optional first (the inspector's browser test and offline reports: chromium, npm), a non-root machine without
# them goes on with a note, unless CI (CI=1/true) or VQNB_REQUIRE_BROWSER=1 asks for the browser test.
set -euo pipefail
optional=0
[ "${1:-}" = "--optional" ] && { optional=1; shift; }
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif [ $optional -eq 1 ] && [ -z "${VQNB_REQUIRE_BROWSER:-}" ] && [ "${CI:-}" != "true" ] && [ "${CI:-}" != "1" ]; then
  echo "note: without the Debian packages ${missing[*]} the inspector's browser test reports itself skipped and run" >&2
  echo "      reports load their widget JavaScript from CDNs (sudo apt-get install ${missing[*]} for both)" >&2
else
  echo "vqnb needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
