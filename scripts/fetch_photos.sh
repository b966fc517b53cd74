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

# The draws live in one place, gpu_photos.py (also used by scripts/gpu-check); with these
# sources and its default seed it writes the same files this script always wrote.
"$PY" "$ROOT/scripts/gpu_photos.py" "$OUT" "$N" --sources "$TMP/pkg/usr/share/backgrounds"
