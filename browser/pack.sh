#!/usr/bin/env bash
# Packs browser/extension into a zip that Chrome ("Load unpacked" after unzipping, or the Web
# Store) and Firefox (about:debugging, or AMO signing) take: manifest.json at the top.
# Usage: browser/pack.sh [OUT.zip]   (default: .build/purr-extension-VERSION.zip)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$root/browser/extension/manifest.json")"
out="${1:-$root/.build/purr-extension-$version.zip}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
mkdir -p "$(dirname "$out")"
rm -f "$out"
cd "$root/browser/extension"
python3 -m zipfile -c "$out" *
python3 -m zipfile -t "$out" >/dev/null
echo "$out"
