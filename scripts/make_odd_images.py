#!/usr/bin/env python3
"""Generate odd and broken image files, with the outcome imbed must give each of them.

    make_odd_images.py odd OUT          # the test corpus: every format and failure class
    make_odd_images.py seeds OUT        # tiny valid files: the fuzzer's seed corpus
    make_odd_images.py torture OUT [--photos DIR] [--count N] [--seed S]

`odd` writes a few dozen small files under OUT and OUT/expected.json, which maps each file
(relative to OUT) to {"class": "done"} or {"class": "<error class>"}. Files that must be done
also carry "size": [width, height] after EXIF orientation and "samples": [[x, y, [r, g, b]]],
pixel values after orientation and compositing over white, within "tolerance" levels.
tests/formats.rs runs it, indexes OUT, and checks both.

`torture` writes many variants (all Pillow modes and formats, EXIF orientations, truncations,
bit flips, mangled headers, bombs) derived from synthetic images and, with --photos, from
real photos; no outcome is fixed except that each file ends as done or failed, with no
crash or hang.
"""

import argparse
import io
import json
import random
import struct
import zlib
from pathlib import Path

from PIL import Image

from odd_photos import add_photos

RED, GREEN, BLUE, YELLOW, WHITE = (230, 20, 20), (20, 200, 40), (30, 40, 220), (240, 220, 30), (255, 255, 255)
W, H = 64, 48

# What exif_transpose does for each EXIF orientation; the stored image is its inverse.
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
INVERSE = {**{o: t for o, t in TRANSPOSE.items()}, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def quadrants(w=W, h=H, colours=(RED, GREEN, BLUE, YELLOW)):
    """Four flat quadrants: top left, top right, bottom left, bottom right."""
    img = Image.new("RGB", (w, h))
    for i, colour in enumerate(colours):
        x, y = (i % 2) * (w // 2), (i // 2) * (h // 2)
        img.paste(colour, (x, y, x + w // 2, y + h // 2))
    return img


def quadrant_samples(colours=(RED, GREEN, BLUE, YELLOW), w=W, h=H):
    points = [(w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4), (3 * w // 4, 3 * h // 4)]
    return [[x, y, list(c)] for (x, y), c in zip(points, colours)]


def gray(c):
    """Pillow's RGB to L (ITU-R 601-2 luma)."""
    return round((c[0] * 299 + c[1] * 587 + c[2] * 114) / 1000)


def exif_with_orientation(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, depth, colour_type, raw_rows, extra=b"", compress_level=6):
    """A PNG written by hand, for what Pillow cannot write (16-bit RGB(A), lying headers)."""
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + extra + chunk(b"IDAT", zlib.compress(raw_rows, compress_level)) + chunk(
        b"IEND", b""
    )


def png16(img, alpha=None):
    """16-bit RGB (or RGBA with `alpha` 0-255 per pixel) PNG of an 8-bit RGB image."""
    rows = bytearray()
    for y in range(img.height):
        rows.append(0)
        for x in range(img.width):
            channels = list(img.getpixel((x, y))) + ([alpha(x, y)] if alpha else [])
            for c in channels:
                rows += struct.pack(">H", c * 257)
    return png(img.width, img.height, 16, 6 if alpha else 2, bytes(rows))


def png_bomb(side):
    """A 1-bit grayscale PNG of side x side zero pixels: about 100 KB for 30000 x 30000."""
    row = b"\0" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def gif_bomb():
    """A GIF whose logical screen is 65535 x 65535, holding one 1x1 frame."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b"\x3b"


def jpeg_with_size(jpeg, width, height):
    """The JPEG with its frame header (SOF0/SOF2) claiming another size."""
    data = bytearray(jpeg)
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        at += 2 + length
    raise ValueError("no SOF marker")


def webp_lossless_header(width, height):
    """A VP8L (lossless WebP) header claiming width x height, followed by junk."""
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + struct.pack("<I", bits) + b"\0" * 31
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tiff_header(width, height):
    """A little-endian TIFF whose one IFD claims width x height RGB, with one tiny strip."""
    entries = [
        (256, 4, 1, width),  # ImageWidth
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample (one value for brevity)
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8),  # StripOffsets
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd_at = 8 + 16
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        )
    ifd += struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", ifd_at) + b"\0" * 16 + ifd


def iso_media(brand, compatible):
    """The first box of a HEIF/AVIF file (the rest is junk): enough to be sniffed."""
    ftyp = brand + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(ftyp)) + b"ftyp" + ftyp + b"\0\0\0\x10meta" + b"\0" * 200


def encode(img, fmt, **options):
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def odd(out):
    files = {}

    def add(name, data, expected):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[name] = expected

    def done(samples=None, size=(W, H), tolerance=12):
        return {"class": "done", "size": list(size), "samples": samples or quadrant_samples(), "tolerance": tolerance}

    upright = quadrants()
    grays = [(gray(c),) * 3 for c in (RED, GREEN, BLUE, YELLOW)]
    # Left half transparent: composited over white.
    half_clear = [WHITE, GREEN, WHITE, YELLOW]

    def with_clear_left(img):
        rgba = img.convert("RGBA")
        rgba.paste((0, 0, 0, 0), (0, 0, W // 2, H))
        return rgba

    # JPEG: lossy, so a looser tolerance at quadrant centres.
    baseline = encode(upright, "JPEG", quality=95)
    add("jpeg/baseline.jpg", baseline, done(tolerance=24))
    add("jpeg/progressive.jpg", encode(upright, "JPEG", quality=95, progressive=True), done(tolerance=24))
    add("jpeg/optimized_444.jpg", encode(upright, "JPEG", quality=95, optimize=True, subsampling=0), done(tolerance=24))
    add("jpeg/cmyk.jpg", encode(upright.convert("CMYK"), "JPEG", quality=95), done(tolerance=24))
    add("jpeg/grayscale.jpg", encode(upright.convert("L"), "JPEG", quality=95), done(quadrant_samples(grays), tolerance=24))
    for orientation in range(1, 9):
        stored = upright.transpose(INVERSE[orientation]) if orientation > 1 else upright
        data = encode(stored, "JPEG", quality=95, exif=exif_with_orientation(orientation))
        add(f"jpeg/orientation_{orientation}.jpg", data, done(tolerance=24))
    # Content sniffing, not the extension, picks the decoder.
    add("misc/png_named.jpg", encode(upright, "PNG"), done())
    add("misc/jpeg_named.gif", baseline, done(tolerance=24))
    add("misc/UPPER_CASE.JPEG", baseline, done(tolerance=24))

    # PNG
    add("png/rgb8.png", encode(upright, "PNG"), done())
    add("png/rgb16.png", png16(upright), done())
    add("png/rgba16.png", png16(upright, alpha=lambda x, y: 0 if x < W // 2 else 255), done(quadrant_samples(half_clear)))
    add("png/rgba.png", encode(with_clear_left(upright), "PNG"), done(quadrant_samples(half_clear)))
    add("png/gray8.png", encode(upright.convert("L"), "PNG"), done(quadrant_samples(grays), tolerance=1))
    luma = upright.convert("L").tobytes()
    gray16 = Image.frombytes("I;16", upright.size, b"".join(struct.pack("<H", v * 257) for v in luma))
    add("png/gray16.png", encode(gray16, "PNG"), done(quadrant_samples(grays), tolerance=1))
    la = upright.convert("LA")
    la.paste((0, 0), (0, 0, W // 2, H))
    add("png/gray_alpha.png", encode(la, "PNG"), done(quadrant_samples([WHITE, grays[1], WHITE, grays[3]]), tolerance=1))
    add("png/palette.png", encode(upright.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "PNG"), done(tolerance=1))
    palette = upright.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    add(
        "png/palette_transparent.png",
        encode(palette, "PNG", transparency=palette.getpixel((0, 0))),
        done(quadrant_samples([WHITE, GREEN, BLUE, YELLOW]), tolerance=1),
    )
    bilevel = Image.new("1", (W, H), 0)
    bilevel.paste(1, (W // 2, 0, W, H))
    black_white = [(0, 0, 0), WHITE, (0, 0, 0), WHITE]
    add("png/bilevel.png", encode(bilevel, "PNG"), done(quadrant_samples(black_white), tolerance=0))
    stored = upright.transpose(INVERSE[6])
    add("png/orientation_6.png", encode(stored, "PNG", exif=exif_with_orientation(6)), done())

    # WebP
    add("webp/lossy.webp", encode(upright, "WEBP", quality=95), done(tolerance=24))
    add("webp/lossless.webp", encode(upright, "WEBP", lossless=True), done(tolerance=0))
    add("webp/alpha_lossless.webp", encode(with_clear_left(upright), "WEBP", lossless=True), done(quadrant_samples(half_clear), tolerance=0))
    add("webp/alpha_lossy.webp", encode(with_clear_left(upright), "WEBP", quality=95), done(quadrant_samples(half_clear), tolerance=24))
    stored = upright.transpose(INVERSE[3])
    add("webp/orientation_3.webp", encode(stored, "WEBP", lossless=True, exif=exif_with_orientation(3)), done(tolerance=0))
    frames = [quadrants(), quadrants(colours=(BLUE, BLUE, BLUE, BLUE))]
    add("webp/animated.webp", encode(frames[0], "WEBP", lossless=True, save_all=True, append_images=frames[1:], duration=100), done(tolerance=0))

    # GIF: palette, transparency, animation (the first frame counts).
    add("gif/palette.gif", encode(upright, "GIF"), done(tolerance=0))
    gif_palette = upright.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    add(
        "gif/transparent.gif",
        encode(gif_palette, "GIF", transparency=gif_palette.getpixel((0, 0))),
        done(quadrant_samples([WHITE, GREEN, BLUE, YELLOW]), tolerance=0),
    )
    add("gif/animated.gif", encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100), done(tolerance=0))

    # BMP
    add("bmp/rgb24.bmp", encode(upright, "BMP"), done(tolerance=0))
    add("bmp/palette8.bmp", encode(upright.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "BMP"), done(tolerance=0))
    add("bmp/gray8.bmp", encode(upright.convert("L"), "BMP"), done(quadrant_samples(grays), tolerance=1))

    # TIFF
    add("tiff/lzw.tif", encode(upright, "TIFF", compression="tiff_lzw"), done(tolerance=0))
    add("tiff/deflate.tiff", encode(upright, "TIFF", compression="tiff_adobe_deflate"), done(tolerance=0))
    add("tiff/packbits.tif", encode(upright, "TIFF", compression="packbits"), done(tolerance=0))
    add("tiff/cmyk.tif", encode(upright.convert("CMYK"), "TIFF"), done(tolerance=2))
    add("tiff/gray16.tif", encode(gray16, "TIFF"), done(quadrant_samples(grays), tolerance=1))
    add("tiff/rgba.tif", encode(with_clear_left(upright), "TIFF"), done(quadrant_samples(half_clear), tolerance=0))
    stored = upright.transpose(INVERSE[8])
    add("tiff/orientation_8.tif", encode(stored, "TIFF", tiffinfo={274: 8}), done(tolerance=0))

    # HEIC, AVIF and EXIF for the payload (scripts/odd_photos.py).
    add_photos(out, add, done, upright, with_clear_left, lambda o: upright.transpose(INVERSE[o]), quadrant_samples(half_clear))
    # A HEIF box and junk after it.
    add("broken/junk_after_ftyp.heic", iso_media(b"heic", [b"mif1", b"heic"]), {"class": "corrupt"})

    # Formats imbed does not decode, and files that are no image at all.
    add("other/photo.jxl", b"\xff\x0a" + b"\0" * 64, {"class": "unsupported"})
    add("other/saved_page.jpg", b"<!DOCTYPE html>\n<html><head><title>404</title></head></html>\n", {"class": "unsupported"})
    add("other/document.png", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", {"class": "unsupported"})
    add("other/qoi.png", b"qoif\0\0\0\x10\0\0\0\x10\x03\0" + b"\0" * 32, {"class": "unsupported"})
    add("other/random.jpg", bytes(random.Random(5).randrange(256) for _ in range(300)), {"class": "unsupported"})

    # Empty, truncated and corrupt files.
    add("broken/empty.jpg", b"", {"class": "empty"})
    progressive = encode(upright, "JPEG", quality=95, progressive=True)
    add("broken/truncated.jpg", baseline[: len(baseline) // 2], {"class": "truncated"})
    add("broken/truncated_progressive.jpg", progressive[: len(progressive) // 2], {"class": "truncated"})
    add("broken/truncated_header.jpg", baseline[:40], {"class": "truncated"})
    noisy = Image.effect_noise((W, H), 64).convert("RGB")
    for name, data in [
        ("png", encode(noisy, "PNG")),
        ("gif", encode(noisy, "GIF")),
        ("webp", encode(noisy, "WEBP", lossless=True)),
        ("bmp", encode(noisy, "BMP")),
        ("tif", encode(noisy, "TIFF")),
    ]:
        add(f"broken/truncated.{name}", data[: len(data) * 2 // 3], {"class": "truncated"})
    bad = bytearray(encode(upright, "PNG"))
    bad[40:60] = b"\x55" * 20
    add("broken/bad_checksum.png", bytes(bad), {"class": "corrupt"})
    add("broken/zero_size.png", png(0, 0, 8, 2, b""), {"class": "corrupt"})
    add("broken/garbage_after_soi.jpg", b"\xff\xd8\xff\xdb\x00\x05\x55" + b"\x13\x37" * 200, {"class": "corrupt"})
    add("broken/segment_past_the_end.jpg", b"\xff\xd8\xff\xe0\x13\x37" + b"\0" * 200, {"class": "truncated"})

    # Bombs: the header says more than --max-pixels; refused before any pixel is allocated.
    add("large/png_30000x30000.png", png_bomb(30000), {"class": "too_large"})
    add("large/gif_65535x65535.gif", gif_bomb(), {"class": "too_large"})
    add("large/jpeg_60000x60000.jpg", jpeg_with_size(baseline, 60000, 60000), {"class": "too_large"})
    add("large/webp_12000x12000.webp", webp_lossless_header(12000, 12000), {"class": "too_large"})
    add("large/tiff_50000x50000.tif", tiff_header(50000, 50000), {"class": "too_large"})

    (out / "expected.json").write_text(json.dumps(files, indent=1, sort_keys=True) + "\n")
    print(f"{len(files)} files in {out}")


def os2_v2_bmp(bmp):
    """A BMP's 40-byte BITMAPINFOHEADER as the 64-byte OS/2 2.x header, its pixels moved along."""
    size, offset = struct.unpack("<I", bmp[2:6])[0], struct.unpack("<I", bmp[10:14])[0]
    info = struct.pack("<I", 64) + bmp[18:54] + b"\0" * 24
    return b"BM" + struct.pack("<IHHI", size + 24, 0, 0, offset + 24) + info + bmp[54:]


def seeds(out):
    """Tiny valid files of every kind the decoder handles: the fuzzer's seed corpus."""
    small = quadrants(16, 12)
    alpha = small.convert("RGBA")
    alpha.paste((0, 0, 0, 0), (0, 0, 8, 12))
    luma = small.convert("L").tobytes()
    gray16 = Image.frombytes("I;16", small.size, b"".join(struct.pack("<H", v * 257) for v in luma))
    variants = {
        "baseline.jpg": encode(small, "JPEG", quality=90),
        "progressive.jpg": encode(small, "JPEG", quality=90, progressive=True),
        "cmyk.jpg": encode(small.convert("CMYK"), "JPEG", quality=90),
        "gray.jpg": encode(small.convert("L"), "JPEG", quality=90),
        "exif6.jpg": encode(small, "JPEG", quality=90, exif=exif_with_orientation(6)),
        "rgb.png": encode(small, "PNG"),
        "rgba.png": encode(alpha, "PNG"),
        "rgb16.png": png16(small),
        "gray16.png": encode(gray16, "PNG"),
        "palette.png": encode(small.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "PNG", transparency=0),
        "exif3.png": encode(small, "PNG", exif=exif_with_orientation(3)),
        "lossy.webp": encode(alpha, "WEBP", quality=80),
        "lossless.webp": encode(alpha, "WEBP", lossless=True),
        "exif8.webp": encode(small, "WEBP", lossless=True, exif=exif_with_orientation(8)),
        "animated.gif": encode(small, "GIF", save_all=True, append_images=[small.rotate(90)], duration=50),
        "transparent.gif": encode(small.convert("P"), "GIF", transparency=0),
        "rgb.bmp": encode(small, "BMP"),
        "palette.bmp": encode(small.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "BMP"),
        "lzw.tif": encode(small, "TIFF", compression="tiff_lzw"),
        "cmyk.tif": encode(small.convert("CMYK"), "TIFF"),
        "rgba.tif": encode(alpha, "TIFF", compression="tiff_adobe_deflate"),
        "gray16.tif": encode(gray16, "TIFF"),
        # Through libtiff (the image crate refuses them), and an OS/2 2.x header.
        "palette.tif": encode(small.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "TIFF"),
        "gray_alpha.tif": encode(alpha.convert("LA"), "TIFF"),
        "ycbcr_jpeg.tif": encode(small.convert("YCbCr"), "TIFF", compression="jpeg"),
        "float_gray.tif": encode(small.convert("F"), "TIFF"),
        "os2v2.bmp": os2_v2_bmp(encode(small, "BMP")),
    }
    for name, data in variants.items():
        (out / name).write_bytes(data)
    print(f"{len(variants)} seeds in {out}")


def mutations(data, rng):
    """Truncations, bit flips and overwritten spans of one encoded file."""
    n = len(data)
    yield "cut", data[: rng.randrange(1, max(2, n))]
    flipped = bytearray(data)
    for _ in range(rng.choice([1, 4, 32])):
        at = rng.randrange(n)
        flipped[at] ^= 1 << rng.randrange(8)
    yield "flip", bytes(flipped)
    spanned = bytearray(data)
    at = rng.randrange(min(n, 64))
    spanned[at : at + 8] = bytes(rng.randrange(256) for _ in range(8))
    yield "header", bytes(spanned)


def torture(out, photos, count, seed):
    rng = random.Random(seed)
    sources = [quadrants(), Image.effect_noise((300, 200), 80).convert("RGB"), quadrants(1200, 900)]
    if photos:
        paths = sorted(p for p in Path(photos).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
        sources += [Image.open(p) for p in rng.sample(paths, min(len(paths), count // 8))]
    modes = ["RGB", "RGBA", "L", "LA", "P", "1", "CMYK", "I;16", "I", "F"]
    formats = {
        "JPEG": ("jpg", ["RGB", "L", "CMYK"], [{"quality": 90}, {"quality": 70, "progressive": True}]),
        "PNG": ("png", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "I"], [{}, {"optimize": True}]),
        "WEBP": ("webp", ["RGB", "RGBA"], [{"quality": 80}, {"lossless": True}]),
        "GIF": ("gif", ["P", "L", "RGB"], [{}]),
        "BMP": ("bmp", ["RGB", "L", "P", "1"], [{}]),
        "TIFF": ("tif", ["RGB", "RGBA", "L", "CMYK", "I;16", "F", "1"], [{}, {"compression": "tiff_lzw"}]),
    }
    written = 0
    index = 0
    while written < count:
        source = sources[index % len(sources)]
        index += 1
        fmt = rng.choice(list(formats))
        extension, allowed, option_sets = formats[fmt]
        mode = rng.choice([m for m in modes if m in allowed])
        options = dict(rng.choice(option_sets))
        img = source.convert("RGB")
        if max(img.size) > 2000:
            img.thumbnail((2000, 2000))
        img = img.convert(mode)
        orientation = rng.randrange(1, 9)
        if fmt in ("JPEG", "PNG", "WEBP") and orientation > 1:
            options["exif"] = exif_with_orientation(orientation)
        try:
            data = encode(img, fmt, **options)
        except (OSError, ValueError) as error:
            print(f"skipped {fmt} {mode}: {error}")
            continue
        stem = f"{written:05d}_{fmt.lower()}_{mode.replace(';', '')}_o{orientation}"
        (out / f"{stem}.{extension}").write_bytes(data)
        written += 1
        for kind, broken in mutations(data, rng):
            if written >= count:
                break
            # Some keep the right extension, some get another one: sniffing must not care.
            ext = extension if rng.random() < 0.7 else rng.choice(["jpg", "png", "webp", "gif", "tif"])
            (out / f"{stem}_{kind}.{ext}").write_bytes(broken)
            written += 1
    bombs = [("bomb.png", png_bomb(30000)), ("bomb.gif", gif_bomb()), ("bomb.webp", webp_lossless_header(12000, 12000))]
    for name, data in bombs + [("empty.jpg", b""), ("page.jpg", b"<html><body>gone</body></html>")]:
        (out / name).write_bytes(data)
    print(f"{written + len(bombs) + 2} files in {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    odd_parser = sub.add_parser("odd")
    odd_parser.add_argument("out", type=Path)
    sub.add_parser("seeds").add_argument("out", type=Path)
    torture_parser = sub.add_parser("torture")
    torture_parser.add_argument("out", type=Path)
    torture_parser.add_argument("--photos", type=Path)
    torture_parser.add_argument("--count", type=int, default=600)
    torture_parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "odd":
        odd(args.out)
    elif args.command == "seeds":
        seeds(args.out)
    else:
        torture(args.out, args.photos, args.count, args.seed)


if __name__ == "__main__":
    main()
