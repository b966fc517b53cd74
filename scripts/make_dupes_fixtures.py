#!/usr/bin/env python3
"""Made photos and their copies, to measure and test `imbed dupes` (issue 25).

    make_dupes_fixtures.py OUT [--sources N] [--distinct M] [--seed S]

Writes OUT/images/ and OUT/truth.json. Nothing is downloaded: every picture is procedural but
photo-like (multi-scale smooth noise, sky and ground gradients, skylines, blobs, shapes,
textures, faces, each with its own palette, light, vignette and sensor grain), in six families
whose members vary in layout and colour. Each of the N source photos (`sNNN-original.jpg`,
quality 90) has these variants, made from its pixels:

    resized50   half the size (Lanczos), JPEG quality 90
    q20         JPEG quality 20
    png         re-encoded as PNG
    webp        re-encoded as WebP (quality 80)
    crop5       5% of the width and of the height cut off, split at random between the sides
    bright10    brightened by 10% (PIL.ImageEnhance.Brightness 1.1), JPEG quality 90
    exif6/exif8 the pixels rotated and an EXIF Orientation tag (6 or 8, alternately) that turns
                them upright again, so the upright image is the source's, JPEG quality 90

and the first two sources also have an exact copy (the original's bytes) under `copies/`. The
M distinct photos (`dNNN.jpg`) come from the same families with other parameters, and have no
copies. truth.json maps each file's path relative to OUT/images to
`{"group": source name, "variant": kind}`; a distinct photo is its own group (variant
`distinct`). The output is the same for the same seed, N and M (and Pillow build): each
photo draws from its own generator seeded by (seed, role, index).
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

VARIANTS = ["resized50", "q20", "png", "webp", "crop5", "bright10", "exif"]
SIZES = [(640, 480), (800, 600), (720, 480), (480, 640), (600, 600), (640, 426), (426, 640)]
FAMILIES = ["landscape", "skyline", "blobs", "shapes", "texture", "portrait"]
ORIENTATION = 0x0112


# ---- building blocks -------------------------------------------------------------------------


def smooth_noise(rng, h, w, cells):
    """One octave: a random grid of about `cells` cells across, bicubically enlarged."""
    gh, gw = max(2, int(round(cells * h / max(h, w))) + 1), max(2, int(round(cells * w / max(h, w))) + 1)
    grid = rng.random((gh, gw)).astype(np.float32)
    img = Image.fromarray(grid, "F").resize((w, h), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def fbm(rng, h, w, base=3, octaves=5, persistence=0.5):
    """Fractal noise in [0, 1]: octaves of smooth noise, each twice as fine and `persistence` as strong."""
    total = np.zeros((h, w), np.float32)
    amplitude, norm, cells = 1.0, 0.0, base
    for _ in range(octaves):
        total += amplitude * smooth_noise(rng, h, w, cells)
        norm += amplitude
        amplitude *= persistence
        cells *= 2
    total /= norm
    low, high = np.percentile(total, [1, 99])
    return np.clip((total - low) / max(high - low, 1e-6), 0, 1)


def palette(rng, n=None):
    """A few colours, in a random hue family (or two), as float RGB in [0, 255]."""
    n = n or int(rng.integers(3, 6))
    hue = rng.random()
    colours = []
    for i in range(n):
        h = (hue + rng.normal(0, 0.08) + (0.5 if rng.random() < 0.25 else 0.0)) % 1.0
        s = float(np.clip(rng.uniform(0.2, 0.9), 0, 1))
        v = float(np.clip(0.15 + 0.8 * (i / max(n - 1, 1)) + rng.normal(0, 0.08), 0.05, 1))
        colours.append(hsv_to_rgb(h, s, v))
    return np.array(colours, np.float32) * 255


def hsv_to_rgb(h, s, v):
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def colourise(field, colours):
    """Maps a field in [0, 1] through a piecewise linear palette: float RGB (h, w, 3)."""
    stops = np.linspace(0, 1, len(colours))
    return np.stack([np.interp(field, stops, colours[:, c]) for c in range(3)], -1).astype(np.float32)


def vertical_gradient(h, w, top, bottom, curve=1.0):
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] ** curve
    return np.broadcast_to(np.array(top) * (1 - t) + np.array(bottom) * t, (h, w, 3)).astype(np.float32)


def ridge(rng, w, base, amplitude, cells):
    """A skyline height per column: 1-D fractal noise."""
    line = np.zeros(w, np.float32)
    a = 1.0
    for octave in range(5):
        n = max(2, cells * 2 ** octave)
        knots = rng.random(n + 1)
        line += a * np.interp(np.linspace(0, n, w), np.arange(n + 1), knots).astype(np.float32)
        a *= 0.5
    line = (line - line.min()) / max(line.max() - line.min(), 1e-6)
    return base + amplitude * (line - 0.5)


def finish(rng, rgb):
    """Light falloff, a lens's vignette, slight blur and sensor grain: float RGB -> PIL image."""
    h, w, _ = rgb.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
    r = np.hypot((x - cx) / w, (y - cy) / h)
    light = 1.0 + rng.uniform(-0.15, 0.25) * (0.5 - r)
    vignette = 1.0 - rng.uniform(0.1, 0.45) * np.clip(np.hypot(x / w - 0.5, y / h - 0.5) * 1.6, 0, 1) ** 2
    rgb = rgb * (light * vignette)[..., None]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    grain = rng.normal(0, rng.uniform(1.5, 5.0), (h, w, 1)).astype(np.float32)
    grain = grain + rng.normal(0, 1.0, (h, w, 3)).astype(np.float32)
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + grain, 0, 255).astype(np.uint8), "RGB")


def draw_rgb(rgb, draw_fn):
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    draw_fn(ImageDraw.Draw(img), img)
    return np.asarray(img, np.float32)


# ---- families --------------------------------------------------------------------------------


def landscape(rng, w, h):
    """Sky gradient, clouds, one to three mountain ridges, textured ground, maybe a sun or a lake."""
    sky = palette(rng, 3)
    rgb = vertical_gradient(h, w, sky[2], sky[0] * 0.6 + sky[1] * 0.4, rng.uniform(0.6, 1.6))
    clouds = fbm(rng, h, w, base=int(rng.integers(2, 5)), octaves=5) ** rng.uniform(1.5, 3.5)
    rgb = rgb * (1 - 0.6 * clouds[..., None]) + 255 * 0.6 * clouds[..., None] * rng.uniform(0.6, 1.0)
    if rng.random() < 0.5:
        sx, sy, sr = rng.uniform(0.1, 0.9) * w, rng.uniform(0.05, 0.4) * h, rng.uniform(0.03, 0.08) * w
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        glow = np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * sr**2))
        rgb = rgb + glow[..., None] * np.array([255, 230, 180], np.float32) * 0.8
    y = np.arange(h, dtype=np.float32)[:, None]
    ground = palette(rng, 4)
    layers = int(rng.integers(1, 4))
    horizon = rng.uniform(0.35, 0.7)
    for layer in range(layers):
        top = ridge(rng, w, h * (horizon - 0.15 * (layers - 1 - layer)), h * rng.uniform(0.1, 0.35), int(rng.integers(2, 6)))
        mask = (y > top[None, :]).astype(np.float32)
        texture = fbm(rng, h, w, base=int(rng.integers(4, 12)), octaves=4)
        shade = colourise(texture, ground[layer % len(ground):][:2] if layer < 3 else ground[:2]) * (0.55 + 0.2 * layer)
        rgb = rgb * (1 - mask[..., None]) + shade * mask[..., None]
    if rng.random() < 0.4:
        lake = h * rng.uniform(0.75, 0.9)
        mask = (y > lake).astype(np.float32)[..., None]
        rgb = rgb * (1 - mask) + (rgb[::-1] * 0.7 + np.array(sky[1]) * 0.3) * mask
    return rgb


def skyline(rng, w, h):
    """A dusk or day sky over buildings with rows of lit windows."""
    sky = palette(rng, 3)
    rgb = vertical_gradient(h, w, sky[0], sky[2], rng.uniform(0.5, 2.0))
    base = h * rng.uniform(0.75, 0.95)
    x = 0
    buildings = []
    while x < w:
        bw = int(rng.integers(w // 20, w // 6))
        bh = int(rng.uniform(0.15, 0.7) * h)
        buildings.append((x, int(base - bh), x + bw, h))
        x += bw + int(rng.integers(-bw // 3, bw // 4 + 1))
    body = palette(rng, 3)
    lit = rng.uniform(0.1, 0.6)

    def draw(d, img):
        for i, (x0, y0, x1, y1) in enumerate(buildings):
            c = body[i % len(body)] * rng.uniform(0.3, 0.8)
            d.rectangle([x0, y0, x1, y1], fill=tuple(int(v) for v in c))
            step = int(rng.integers(6, 14))
            for wy in range(y0 + step, y1 - step, step):
                for wx in range(x0 + step // 2, x1 - step // 2, step):
                    if rng.random() < lit:
                        d.rectangle([wx, wy, wx + step // 3, wy + step // 2], fill=(250, 220, 140))

    rgb = draw_rgb(rgb, draw)
    haze = fbm(rng, h, w, base=3, octaves=3)[..., None]
    return rgb * (0.85 + 0.3 * haze)


def blobs(rng, w, h):
    """Soft coloured blobs over a smooth field, like defocused lights or a macro shot."""
    rgb = colourise(fbm(rng, h, w, base=int(rng.integers(2, 5)), octaves=5), palette(rng))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    colours = palette(rng)
    for _ in range(int(rng.integers(4, 25))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        sx, sy = rng.uniform(0.02, 0.25) * w, rng.uniform(0.02, 0.25) * h
        a = rng.uniform(0.3, 0.9) * np.exp(-(((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2) / 2)
        rgb = rgb * (1 - a[..., None]) + colours[int(rng.integers(len(colours)))] * a[..., None]
    return rgb


def shapes(rng, w, h):
    """A still life: a table edge, a wall, shapes with shadows."""
    wall, table = palette(rng, 3), palette(rng, 3)
    edge = int(h * rng.uniform(0.4, 0.75))
    rgb = np.concatenate(
        [
            colourise(fbm(rng, edge, w, base=3, octaves=4) * 0.5 + 0.25, wall),
            colourise(fbm(rng, h - edge, w, base=8, octaves=4), table),
        ]
    )
    colours = palette(rng)
    items = []
    for _ in range(int(rng.integers(2, 9))):
        s = int(rng.uniform(0.06, 0.3) * min(w, h))
        cx, cy = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.35, 0.95) * h)
        items.append((int(rng.integers(3)), cx, cy, s, colours[int(rng.integers(len(colours)))]))

    def draw(d, img):
        for kind, cx, cy, s, c in sorted(items, key=lambda item: item[2]):
            shadow = (cx + s // 5, cy + s // 6)
            d.ellipse([shadow[0] - s // 2, shadow[1] - s // 4, shadow[0] + s // 2, shadow[1] + s // 4], fill=(30, 25, 20))
            fill = tuple(int(v) for v in c)
            box = [cx - s // 2, cy - s, cx + s // 2, cy]
            if kind == 0:
                d.ellipse(box, fill=fill)
            elif kind == 1:
                d.rectangle(box, fill=fill)
            else:
                d.polygon([(cx, cy - s), (cx - s // 2, cy), (cx + s // 2, cy)], fill=fill)

    return draw_rgb(rgb, draw)


def texture(rng, w, h):
    """Wood, marble or water: stripes warped by fractal noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    frequency = rng.uniform(0.01, 0.06)
    warp = fbm(rng, h, w, base=int(rng.integers(2, 6)), octaves=5) * rng.uniform(4, 20)
    field = np.sin((x * np.cos(angle) + y * np.sin(angle)) * frequency + warp) * 0.5 + 0.5
    field = field * rng.uniform(0.5, 0.9) + fbm(rng, h, w, base=3, octaves=3) * 0.4
    return colourise(np.clip(field, 0, 1), palette(rng))


def portrait(rng, w, h):
    """A defocused background, a head and shoulders."""
    rgb = colourise(fbm(rng, h, w, base=3, octaves=3), palette(rng)) * rng.uniform(0.5, 1.0)
    skin = np.array(hsv_to_rgb(rng.uniform(0.02, 0.1), rng.uniform(0.2, 0.6), rng.uniform(0.35, 0.95))) * 255
    cloth, hair = palette(rng, 2)[1], palette(rng, 2)[0] * 0.5
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.3, 0.45)
    hr = min(w, h) * rng.uniform(0.14, 0.22)

    def draw(d, img):
        d.ellipse([cx - 2.2 * hr, cy + 1.2 * hr, cx + 2.2 * hr, h + 2 * hr], fill=tuple(int(v) for v in cloth))
        d.ellipse([cx - 1.08 * hr, cy - 1.45 * hr, cx + 1.08 * hr, cy + 0.9 * hr], fill=tuple(int(v) for v in hair))
        d.ellipse([cx - 0.85 * hr, cy - 1.1 * hr, cx + 0.85 * hr, cy + 1.2 * hr], fill=tuple(int(v) for v in skin))
        for side in (-1, 1):
            ex = cx + side * 0.35 * hr
            d.ellipse([ex - 0.1 * hr, cy - 0.2 * hr, ex + 0.1 * hr, cy - 0.05 * hr], fill=(40, 30, 30))
        d.arc([cx - 0.35 * hr, cy + 0.3 * hr, cx + 0.35 * hr, cy + 0.7 * hr], 20, 160, fill=(120, 40, 40), width=3)

    return draw_rgb(rgb, draw)


GENERATORS = {name: globals()[name] for name in FAMILIES}


def photo(seed, role, index):
    """One photo: its family by index (so sources and distinct photos share the families), its
    size, parameters and colours from its own generator."""
    rng = np.random.default_rng([seed, {"source": 1, "distinct": 2}[role], index])
    family = FAMILIES[(index + (0 if role == "source" else 3)) % len(FAMILIES)]
    w, h = SIZES[int(rng.integers(len(SIZES)))]
    if family == "portrait" and w > h:
        w, h = h, w
    return family, finish(rng, GENERATORS[family](rng, w, h))


# ---- variants --------------------------------------------------------------------------------


def save_jpeg(img, path, quality=90, exif=None):
    options = {"quality": quality}
    if exif is not None:
        options["exif"] = exif
    img.save(path, "JPEG", **options)


def crop5(rng, img):
    w, h = img.size
    cut_w, cut_h = round(w * 0.05), round(h * 0.05)
    left, top = int(rng.integers(0, cut_w + 1)), int(rng.integers(0, cut_h + 1))
    return img.crop((left, top, w - (cut_w - left), h - (cut_h - top)))


def exif_rotated(img, orientation):
    """Stored pixels that Orientation `orientation` turns back into `img`: 6 means the viewer
    rotates 90 degrees clockwise, so the stored pixels are turned counter-clockwise; 8 the other way."""
    stored = img.transpose(Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return stored, exif.tobytes()


def write_source(out, name, img, rng, index):
    """The original and its variants under `out`; returns {relative path: variant}."""
    files = {}
    original = f"{name}-original.jpg"
    save_jpeg(img, out / original)
    files[original] = "original"
    for variant in VARIANTS:
        if variant == "resized50":
            w, h = img.size
            relative = f"{name}-resized50.jpg"
            save_jpeg(img.resize((w // 2, h // 2), Image.LANCZOS), out / relative)
        elif variant == "q20":
            relative = f"{name}-q20.jpg"
            save_jpeg(img, out / relative, quality=20)
        elif variant == "png":
            relative = f"{name}-png.png"
            img.save(out / relative, "PNG")
        elif variant == "webp":
            relative = f"{name}-webp.webp"
            img.save(out / relative, "WEBP", quality=80, method=4)
        elif variant == "crop5":
            relative = f"{name}-crop5.jpg"
            save_jpeg(crop5(rng, img), out / relative)
        elif variant == "bright10":
            relative = f"{name}-bright10.jpg"
            save_jpeg(ImageEnhance.Brightness(img).enhance(1.1), out / relative)
        elif variant == "exif":
            orientation = 6 if index % 2 == 0 else 8
            variant = f"exif{orientation}"
            relative = f"{name}-exif{orientation}.jpg"
            stored, exif = exif_rotated(img, orientation)
            save_jpeg(stored, out / relative, exif=exif)
        files[relative] = variant
    return files


def make(out, sources, distinct, seed, copies=2):
    out = Path(out)
    images = out / "images"
    if images.exists():
        shutil.rmtree(images)
    (images / "copies").mkdir(parents=True)
    truth = {}
    families = {}
    for index in range(sources):
        name = f"s{index:03d}"
        family, img = photo(seed, "source", index)
        families[name] = family
        rng = np.random.default_rng([seed, 3, index])
        for relative, variant in write_source(images, name, img, rng, index).items():
            truth[relative] = {"group": name, "variant": variant}
        if index < copies:
            relative = f"copies/{name}.jpg"
            shutil.copyfile(images / f"{name}-original.jpg", images / relative)
            truth[relative] = {"group": name, "variant": "copy"}
    for index in range(distinct):
        name = f"d{index:03d}"
        family, img = photo(seed, "distinct", index)
        families[name] = family
        save_jpeg(img, images / f"{name}.jpg")
        truth[f"{name}.jpg"] = {"group": name, "variant": "distinct"}
    for entry in truth.values():
        entry["family"] = families[entry["group"]]
    meta = {"seed": seed, "sources": sources, "distinct": distinct, "files": len(truth)}
    (out / "truth.json").write_text(json.dumps({"meta": meta, "files": truth}, indent=1, sort_keys=True) + "\n")
    return truth


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--sources", type=int, default=30, help="source photos, each with its variants (30)")
    parser.add_argument("--distinct", type=int, default=150, help="distinct photos without copies (150)")
    parser.add_argument("--seed", type=int, default=25)
    args = parser.parse_args()
    truth = make(args.out, args.sources, args.distinct, args.seed)
    size = sum(p.stat().st_size for p in (args.out / "images").rglob("*") if p.is_file())
    print(f"{len(truth)} files ({args.sources} sources with variants, {args.distinct} distinct), "
          f"{size / 2**20:.1f} MiB under {args.out / 'images'}; truth in {args.out / 'truth.json'}")


if __name__ == "__main__":
    main()
