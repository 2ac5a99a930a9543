#!/usr/bin/env bash
# Updates the vendored caniemail data the HTML check reads (src/checks/caniemail/): the npm
# package `caniemail` at the version given (default: the pinned one in VERSION), its data file
# and its licence. Review the diff of the golden files (tests/golden/html-check/) after it.
#
#   scripts/update-caniemail.sh [VERSION]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=$here/src/checks/caniemail
version=${1:-$(cat "$dest/VERSION")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "caniemail@$version" >/dev/null)
tar -xzf "$tmp/caniemail-$version.tgz" -C "$tmp"
cp "$tmp/package/data/caniemail.json" "$dest/caniemail.json"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "$version" >"$dest/VERSION"
echo "[caniemail] $version: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["data"]), "features, updated", d["last_update_date"])' "$dest/caniemail.json")"
