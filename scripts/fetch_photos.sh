#!/usr/bin/env bash
# Derive N (default 300) realistic benchmark photos (0.3-12 MP) into OUTDIR from the
# JPEG photos in Debian's mate-backgrounds package: random crops, rescales and re-encodes
# (~80% JPEG q80-95, some progressive; ~10% PNG; ~10% WebP), split over
# album_NN/ subfolders. Deterministic for a given package and Pillow build.
#
#   scripts/fetch_photos.sh OUTDIR [N]
#
# Needs apt-get/dpkg (run as root) and a python with Pillow + numpy
# ($PYTHON, default .venv/bin/python of this repo).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 OUTDIR [N]" >&2
    exit 2
fi
N=${2:-300}
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
download() { apt-get -q -o APT::Sandbox::User=root download mate-backgrounds; }
download || { apt-get -q update && download; }
dpkg -x mate-backgrounds_*.deb pkg

"$PY" - "$TMP/pkg/usr/share/backgrounds" "$OUT" "$N" <<'EOF'
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

src_dir, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
largest = {}
for p in src_dir.rglob("*.jpg"):
    key = p.stem.split("_")[0]
    if key not in largest or p.stat().st_size > largest[key].stat().st_size:
        largest[key] = p
sources = [largest[k] for k in sorted(largest)]
if not sources:
    sys.exit(f"no images found under {src_dir}")
ASPECTS = [(4, 3), (3, 2), (16, 9), (1, 1), (3, 4), (2, 3), (9, 16)]

cache, stats = {}, []
for i in range(n):
    rng = np.random.default_rng([2024, i])
    src_path = sources[int(rng.integers(len(sources)))]
    if src_path not in cache:
        cache.clear()
        cache[src_path] = Image.open(src_path).convert("RGB")
    src = cache[src_path]
    kind = rng.choice(["jpg", "png", "webp"], p=[0.8, 0.1, 0.1])
    hi = 12.0 if kind == "jpg" else 4.0
    mp = float(np.exp(rng.uniform(np.log(0.3), np.log(2.0)))) if rng.random() < 0.3 else float(rng.uniform(2.0, hi))
    aw, ah = ASPECTS[int(rng.integers(len(ASPECTS)))]
    w = int(round((mp * 1e6 * aw / ah) ** 0.5))
    h = int(round(w * ah / aw))
    sw, sh = src.size
    scale = min(sw / aw, sh / ah) * rng.uniform(0.45, 1.0)
    cw, ch = int(aw * scale), int(ah * scale)
    x0, y0 = int(rng.integers(0, sw - cw + 1)), int(rng.integers(0, sh - ch + 1))
    im = src.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BICUBIC)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.85, 1.15))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.8, 1.2))
    path = out / f"album_{i // 50:02d}" / f"photo_{i:04d}.{kind}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "jpg":
        im.save(path, quality=int(rng.integers(80, 96)), progressive=bool(rng.random() < 0.25), optimize=True)
    elif kind == "png":
        im.save(path, compress_level=6)
    else:
        im.save(path, quality=int(rng.integers(80, 91)), method=4)
    stats.append((kind, w * h / 1e6, path.stat().st_size))

kinds = {k: sum(1 for s in stats if s[0] == k) for k in ("jpg", "png", "webp")}
mps = [s[1] for s in stats]
print(f"{len(stats)} photos in {out}: {sum(s[2] for s in stats) / 1e6:.1f} MB, "
      f"{min(mps):.2f}-{max(mps):.2f} MP (median {float(np.median(mps)):.2f}), "
      + ", ".join(f"{v} {k}" for k, v in kinds.items()))
EOF
