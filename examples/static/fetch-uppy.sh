#!/usr/bin/env bash
# Fetches Uppy's prebuilt browser bundle (npm package `uppy`, dist/uppy.min.js, ~590 KB) into
# target/uppy, where the upload demo serves it at /vendor/uppy.min.js for its /uppy page. Not
# committed: it is Uppy's, and large. Usage: bash examples/static/fetch-uppy.sh [version]
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${1:-6.0.1}"
dest="target/uppy"
if [ -f "$dest/uppy.min.js" ] && [ -f "$dest/VERSION" ] && [ "$(cat "$dest/VERSION")" = "$version" ]; then
  echo "Uppy $version is in $dest"; exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uppy@$version" >/dev/null)
tar -xzf "$work"/uppy-"$version".tgz -C "$work" package/dist/uppy.min.js
mkdir -p "$dest"
cp "$work/package/dist/uppy.min.js" "$dest/uppy.min.js"
echo "$version" > "$dest/VERSION"
echo "Uppy $version: $dest/uppy.min.js ($(wc -c < "$dest/uppy.min.js") bytes)"
