#!/usr/bin/env bash
# Sizes of the release binaries built by `make cross-aarch64` / `make
# cross-armv7`, as a Markdown table: each file as built and after
# `<triple>-strip --strip-all` of a copy (equal while the release profile has
# strip = true), against the 3 MiB target. Exits 1 when one is over.
#
#   bash cross/sizes.sh aarch64-unknown-linux-gnu:aarch64-linux-gnu armv7-unknown-linux-gnueabihf:arm-linux-gnueabihf
set -euo pipefail
cd "$(dirname "$0")/.."

limit=$((3 * 1024 * 1024))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
over=0
commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
echo "| target | binary | as built (bytes) | stripped (bytes) | stripped (MiB) | under 3 MiB |"
echo "|---|---|--:|--:|--:|---|"
for pair in "$@"; do
  target=${pair%%:*} gnu=${pair#*:}
  for bin in peercall peercall-registry; do
    f=target/$target/release/$bin
    [ -f "$f" ] || { echo "sizes: $f not built (make cross-...)" >&2; exit 1; }
    cp "$f" "$tmp/$bin"
    "$gnu-strip" --strip-all "$tmp/$bin"
    built=$(stat -c %s "$f") stripped=$(stat -c %s "$tmp/$bin")
    ok=yes; [ "$stripped" -lt "$limit" ] || { ok=NO; over=1; }
    printf "| %s | %s | %s | %s | %s | %s |\n" "$target" "$bin" "$(commas "$built")" "$(commas "$stripped")" \
      "$(awk -v b="$stripped" 'BEGIN { printf "%.2f", b / 1048576 }')" "$ok"
  done
done
exit $over
