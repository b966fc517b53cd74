#!/usr/bin/env python3
"""Benchmark photos of realistic sizes, made in parallel on every core (scripts/gpu-check).

    gpu_photos.py OUTDIR N [--sources DIR] [--jobs J] [--seed 2024]

scripts/fetch_photos.sh calls this with Debian's mate-backgrounds photos as sources (the
bench photos); scripts/gpu-check calls it with either. Each photo is a random crop of a source
image, scaled to 0.3-12 MP (30% of them under 2 MP; PNG and WebP up to 4 MP) at one of seven
aspect ratios, flipped, brightness and colour jittered, and re-encoded: ~80% JPEG q80-95 (a
quarter progressive, all optimised), ~10% PNG, ~10% WebP q80-90, split over album_NN/
folders of 50. The sources are the JPEGs under --sources (fetch_photos.sh's mate-backgrounds
photos, the largest of each name) or else synthetic 12 MP scenes: colour fields at four
scales plus grain, so that JPEGs come out at about the bytes per pixel of real photos (0.09,
against 0.08 for fetch_photos.sh's 300) and cost about as much to decode.

Deterministic for a given seed, Pillow and numpy. The last stdout line is a JSON summary.
"""

import argparse
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

ASPECTS = [(4, 3), (3, 2), (16, 9), (1, 1), (3, 4), (2, 3), (9, 16)]
SCENES = 6  # synthetic sources
SCENE_SIZE = (4000, 3000)


def synthetic_scene(index, seed):
    """A 12 MP RGB scene: smooth colour fields at four scales, then grain (sigma 2)."""
    rng = np.random.default_rng([seed, 7, index])
    width, height = SCENE_SIZE
    total = np.zeros((height, width, 3), dtype=np.float32)
    for grid, weight in ((8, 0.6), (40, 0.25), (200, 0.12), (1000, 0.03)):
        cells = rng.integers(0, 256, (max(2, grid * height // width), grid, 3), dtype=np.uint8)
        layer = Image.fromarray(cells, "RGB").resize((width, height), Image.BICUBIC)
        total += np.asarray(layer, dtype=np.float32) * np.float32(weight)
    total += rng.standard_normal((height, width, 3), dtype=np.float32) * np.float32(2.0)
    return Image.fromarray(np.clip(total, 0, 255).astype(np.uint8), "RGB")


def real_sources(folder):
    """The largest JPEG of each name under folder (mate-backgrounds ships several sizes)."""
    largest = {}
    for path in Path(folder).rglob("*.jpg"):
        key = path.stem.split("_")[0]
        if key not in largest or path.stat().st_size > largest[key].stat().st_size:
            largest[key] = path
    return [str(largest[k]) for k in sorted(largest)]


_cache = {}


def source_image(source, seed):
    if source not in _cache:
        _cache.clear()
        _cache[source] = (synthetic_scene(source, seed) if isinstance(source, int)
                          else Image.open(source).convert("RGB"))
    return _cache[source]


def draw(i, seed, n_sources):
    """Photo i's parameters (fetch_photos.sh's draws, in its order)."""
    rng = np.random.default_rng([seed, i])
    source = int(rng.integers(n_sources))
    kind = str(rng.choice(["jpg", "png", "webp"], p=[0.8, 0.1, 0.1]))
    hi = 12.0 if kind == "jpg" else 4.0
    mp = float(np.exp(rng.uniform(np.log(0.3), np.log(2.0)))) if rng.random() < 0.3 else float(rng.uniform(2.0, hi))
    return rng, source, kind, mp


def make_photo(task):
    i, seed, sources, out = task
    rng, source_index, kind, mp = draw(i, seed, len(sources))
    src = source_image(sources[source_index], seed)
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
    path = Path(out) / f"album_{i // 50:02d}" / f"photo_{i:04d}.{kind}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "jpg":
        im.save(path, quality=int(rng.integers(80, 96)), progressive=bool(rng.random() < 0.25), optimize=True)
    elif kind == "png":
        im.save(path, compress_level=6)
    else:
        im.save(path, quality=int(rng.integers(80, 91)), method=4)
    return kind, w * h / 1e6, path.stat().st_size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("n", type=int)
    parser.add_argument("--sources", type=Path, help="folder of source JPEGs (default: synthetic scenes)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    if args.sources:
        sources = real_sources(args.sources)
        if not sources:
            sys.exit(f"gpu_photos.py: no .jpg files under {args.sources}")
    else:
        sources = list(range(SCENES))
    started = time.perf_counter()
    # Photos of one source next to each other, so that each worker decodes (or makes) a source
    # once per run of photos instead of once per photo.
    order = sorted(range(args.n), key=lambda i: (draw(i, args.seed, len(sources))[1], i))
    tasks = [(i, args.seed, sources, str(args.out)) for i in order]
    args.out.mkdir(parents=True, exist_ok=True)
    with Pool(max(1, args.jobs)) as pool:
        stats = list(pool.imap_unordered(make_photo, tasks, chunksize=max(1, min(16, args.n // (4 * args.jobs) or 1))))
    mps = [s[1] for s in stats]
    summary = {
        "photos": len(stats),
        "out": str(args.out),
        "source": str(args.sources) if args.sources else "synthetic",
        "megabytes": sum(s[2] for s in stats) / 1e6,
        "formats": {k: sum(1 for s in stats if s[0] == k) for k in ("jpg", "png", "webp")},
        "megapixels": {"min": min(mps), "median": float(np.median(mps)), "max": max(mps)},
        "jpeg_bytes_per_pixel": (sum(s[2] for s in stats if s[0] == "jpg")
                                 / max(1.0, sum(s[1] * 1e6 for s in stats if s[0] == "jpg"))),
        "jobs": args.jobs,
        "seconds": time.perf_counter() - started,
    }
    print(f"{summary['photos']} photos in {args.out}: {summary['megabytes']:.1f} MB, "
          f"{summary['megapixels']['min']:.2f}-{summary['megapixels']['max']:.2f} MP "
          f"(median {summary['megapixels']['median']:.2f}), "
          + ", ".join(f"{v} {k}" for k, v in summary["formats"].items())
          + f"; {summary['seconds']:.1f} s on {args.jobs} processes")
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
