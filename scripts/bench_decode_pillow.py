"""Pillow decode plus CLIP preprocessing, in images per second per core, with and without
Image.draft (libjpeg's reduced DCT scale, down to the smallest that keeps both sides >= the
input size).

Usage: bench_decode_pillow.py [--size 224] [--rounds 1] DIR_OR_IMAGE...

Each image is timed on its own, both ways one after the other, on one core. The last stdout
line is one JSON object: images, large_images (8 MP or more), pillow_per_core,
pillow_draft_per_core, and large_pillow_per_core, large_pillow_draft_per_core.
"""

import argparse
import json
import statistics
import time

import numpy as np
from PIL import Image, ImageOps

try:  # HEIC as Pillow users read it; Pillow itself reads AVIF.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:
    pass

from check_preprocess import image_files

LARGE_PIXELS = 8_000_000
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def preprocess(path, size, draft):
    """transformers' CLIP steps: bicubic resize of the short side (long side truncated), centre crop, normalise."""
    image = Image.open(path)
    if draft:
        image.draft("RGB", (size, size))
    image = ImageOps.exif_transpose(image).convert("RGB")
    width, height = image.size
    if width <= height:
        resized = (size, int(size * height / width))
    else:
        resized = (int(size * width / height), size)
    image = image.resize(resized, Image.BICUBIC)
    left, top = (resized[0] - size) // 2, (resized[1] - size) // 2
    pixels = np.asarray(image, dtype=np.float32)[top : top + size, left : left + size] / 255.0
    return ((pixels - MEAN) / STD).transpose(2, 0, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="the model's input size (shortest edge and crop)")
    parser.add_argument("--rounds", type=int, default=1, help="passes; each rate is the median")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()

    files = list(image_files(args.paths))
    large = []
    for path in files:
        with Image.open(path) as image:
            large.append(image.size[0] * image.size[1] >= LARGE_PIXELS)
        path.read_bytes()  # into the page cache
    rates = {key: [] for key in ("pillow", "pillow_draft", "large_pillow", "large_pillow_draft")}
    for _ in range(max(args.rounds, 1)):
        seconds = {False: [], True: []}
        for path in files:
            for draft in (False, True):
                started = time.perf_counter()
                preprocess(path, args.size, draft)
                seconds[draft].append(time.perf_counter() - started)
        for draft, key in ((False, "pillow"), (True, "pillow_draft")):
            rates[key].append(len(files) / sum(seconds[draft]))
            subset = [s for s, is_large in zip(seconds[draft], large) if is_large]
            if subset:
                rates["large_" + key].append(len(subset) / sum(subset))

    report = {"images": len(files), "large_images": sum(large), "rounds": max(args.rounds, 1)}
    for key, values in rates.items():
        if values:
            report[key + "_per_core"] = statistics.median(values)
    print(f"{len(files)} images ({sum(large)} of 8 MP or more); images/s per core, median of {report['rounds']}")
    print(f"{'':<32} {'all':>10} {'>= 8 MP':>10}")
    for name, key in (("Pillow decode+preprocess", "pillow"), ("  with Image.draft", "pillow_draft")):
        print(f"{name:<32} {report[key + '_per_core']:>10.1f} {report.get('large_' + key + '_per_core', float('nan')):>10.1f}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
