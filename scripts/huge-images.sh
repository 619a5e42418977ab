#!/bin/bash
# Peak memory and time of `hspsam predict` on a huge synthetic frame (default 20000 x 20000) in PNG, JPEG and TIFF:
# the measurement behind docs/usage.md's memory bound. Writes the images (~0.1-1 GB) under a temporary folder.
#   bash scripts/huge-images.sh [WIDTH HEIGHT]
set -euo pipefail
cd "$(dirname "$0")/.."
width=${1:-20000} height=${2:-20000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swift build -c release --product hspsam >/dev/null
cc -O2 -o "$work/make_huge_images" scripts/fixtures/make_huge_images.c -ljpeg -lpng16 -ltiff
"$work/make_huge_images" "$width" "$height" "$work/frame"
for format in png jpg tif; do
  size=$(du -h "$work/frame.$format" | cut -f1)
  /usr/bin/time -f "%M %e" -o "$work/time" .build/release/hspsam predict "$work/frame.$format" --output "$work/out-$format" \
    --prob --max-pixels $((width * height)) >/dev/null
  read -r peak seconds < "$work/time"
  mask=$(python3 -c 'import struct, sys; print("%dx%d" % struct.unpack(">II", open(sys.argv[1], "rb").read(24)[16:24]))' \
    "$work/out-$format/frame.png")
  printf '%s %dx%d (%s on disk): peak RSS %.0f MB, %.1f s; mask %s\n' "$format" "$width" "$height" "$size" \
    "$(echo "$peak / 1024" | bc -l)" "$seconds" "$mask"
done
