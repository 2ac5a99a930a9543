#!/usr/bin/env bash
# Renders every icon Tauri and the tray use from the SVG sources here. Needs rsvg-convert
# (Debian: librsvg2-bin) and python3. The outputs are committed; rerun after editing an SVG.
set -euo pipefail
cd "$(dirname "$0")"
render() { rsvg-convert --width "$2" --height "$2" "$1" -o "$3"; }

render icon.svg 32 32x32.png
render icon.svg 128 128x128.png
render icon.svg 256 128x128@2x.png
render icon.svg 512 icon.png
for size in 16 24 48 64 256 1024; do render icon.svg "$size" "tmp-$size.png"; done
render tray.svg 64 tray.png
render tray-unread.svg 64 tray-unread.png

# ICO and ICNS are containers of PNG images; packing them needs no image library.
python3 - <<'PY'
import struct
def png(size):
    name = {32: "32x32.png", 128: "128x128.png", 256: "128x128@2x.png", 512: "icon.png"}.get(size, f"tmp-{size}.png")
    return open(name, "rb").read()

sizes = [16, 24, 32, 48, 64, 256]
images = [png(s) for s in sizes]
header = struct.pack("<HHH", 0, 1, len(sizes))
offset = 6 + 16 * len(sizes)
entries = b""
for s, data in zip(sizes, images):
    dim = 0 if s >= 256 else s  # 0 means 256 in an ICO directory entry
    entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
    offset += len(data)
open("icon.ico", "wb").write(header + entries + b"".join(images))

# ICNS types holding PNG data: ic07 128, ic08 256, ic09 512, ic10 1024 (512@2x).
chunks = b""
for kind, size in [(b"ic07", 128), (b"ic08", 256), (b"ic09", 512), (b"ic10", 1024)]:
    data = png(size)
    chunks += kind + struct.pack(">I", 8 + len(data)) + data
open("icon.icns", "wb").write(b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks)
PY
rm -f tmp-*.png
