#!/usr/bin/env python3
"""Generate small deterministic sample images in many formats under tests/fixtures/images.

    make_fixture_images.py [--out tests/fixtures/images]

Content is synthetic (gradients, shapes, noise, plasma) from a seeded RNG; output
is byte-identical across runs with the same Pillow build.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def gradient(w, h, c0, c1, vertical=False):
    t = np.linspace(0, 1, h if vertical else w, dtype=np.float32)
    t = t[:, None] if vertical else t[None, :]
    t = np.broadcast_to(t, (h, w))[..., None]
    return Image.fromarray((np.array(c0) * (1 - t) + np.array(c1) * t).astype(np.uint8), "RGB")


def shapes(img, rng, n):
    d = ImageDraw.Draw(img)
    w, h = img.size
    for _ in range(n):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(min(w, h) // 10, min(w, h) // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        box = [x0 - s // 2, y0 - s // 2, x0 + s // 2, y0 + s // 2]
        if kind == 0:
            d.ellipse(box, fill=fill)
        elif kind == 1:
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(x0, y0 - s // 2), (x0 - s // 2, y0 + s // 2), (x0 + s // 2, y0 + s // 2)], fill=fill)
    return img


def noise_texture(w, h, rng, scale):
    small = rng.integers(0, 256, (max(1, h // scale), max(1, w // scale), 3), dtype=np.uint8)
    img = Image.fromarray(small, "RGB").resize((w, h), Image.BICUBIC)
    return img.filter(ImageFilter.GaussianBlur(1))


def plasma(w, h, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ch = []
    for _ in range(3):
        fx, fy, ph = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6.28)
        ch.append(np.sin(x * fx + ph) + np.sin(y * fy + ph * 0.5) + np.sin((x + y) * fx * 0.5))
    arr = (np.stack(ch, -1) + 3) / 6 * 255
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def stripes(w, h, period, c0, c1):
    x = np.arange(w)[None, :] + np.arange(h)[:, None]
    mask = ((x // period) % 2).astype(bool)[..., None]
    return Image.fromarray(np.where(mask, np.array(c0, np.uint8), np.array(c1, np.uint8)), "RGB")


def checker(w, h, cell, rng):
    y, x = np.mgrid[0:h, 0:w]
    cells = rng.integers(0, 256, (h // cell + 1, w // cell + 1, 3), dtype=np.uint8)
    return Image.fromarray(cells[y // cell, x // cell], "RGB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/images"))
    out = ap.parse_args().out
    (out / "nested").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)

    alpha = shapes(gradient(128, 128, (0, 90, 200), (250, 220, 40), vertical=True), rng, 6).convert("RGBA")
    a = np.array(alpha)
    yy, xx = np.mgrid[0:128, 0:128]
    a[..., 3] = np.clip(255 - np.hypot(xx - 64, yy - 64) * 3, 0, 255).astype(np.uint8)

    gray = Image.fromarray(np.array(noise_texture(100, 150, rng, 12).convert("L")), "L")
    gray = shapes(gray.convert("RGB"), rng, 4).convert("L")

    images = [
        ("landscape_gradient.jpg", shapes(gradient(640, 480, (20, 40, 120), (240, 170, 60)), rng, 12),
         dict(quality=85)),
        ("portrait_shapes.jpg", shapes(gradient(240, 320, (200, 230, 255), (30, 120, 40), vertical=True), rng, 8),
         dict(quality=90)),
        ("nested/noise_texture.jpg", noise_texture(300, 200, rng, 8), dict(quality=80, progressive=True)),
        ("UPPER_PLASMA.JPG", plasma(320, 240, rng), dict(quality=85)),
        ("alpha_vignette.png", Image.fromarray(a, "RGBA"), dict(optimize=True)),
        ("grayscale_portrait.png", gray, dict(optimize=True)),
        ("checker.webp", checker(200, 150, 25, rng), dict(quality=80, method=4)),
        ("palette_shapes.gif", shapes(Image.new("RGB", (96, 96), (255, 255, 255)), rng, 5).convert(
            "P", palette=Image.ADAPTIVE, colors=16), {}),
        ("small_stripes.bmp", stripes(64, 48, 6, (220, 30, 30), (20, 20, 20)), {}),
        ("plasma_lzw.tif", plasma(160, 120, rng), dict(compression="tiff_lzw")),
    ]
    total = 0
    for name, img, opts in images:
        path = out / name
        img.save(path, **opts)
        total += path.stat().st_size
        print(f"{path}: {img.size[0]}x{img.size[1]} {img.mode} {path.stat().st_size} bytes")
    print(f"{len(images)} images, {total / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
