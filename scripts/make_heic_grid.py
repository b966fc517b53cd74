#!/usr/bin/env python3
"""Hand-assemble grid (tiled) HEIC files as iPhones write them, for issue 24.

    make_heic_grid.py OUT_DIR           # write the files below
    make_heic_grid.py OUT_DIR --check   # write them, then open them with pillow-heif

Writes into OUT_DIR:

- `grid.heic`: the primary item is an ImageGrid (`grid`, ISO/IEC 23008-12 6.6.2.3) of
  3 columns x 2 rows of 512x512 HEVC tiles (`hvc1`), output 1300x900, so the right column
  and the bottom row are cropped by the grid's output size. As on an iPhone: tiles are
  hidden items (`infe` version 2, flags 1), the grid lists them in an `iref` `dimg` box,
  the grid's 8 bytes of ImageGrid data lie in `idat` (iloc construction method 1), the
  tiles' bitstreams in `mdat`; the tiles share one `hvcC`, and `ispe` is on each tile
  (512x512) and on the grid (1300x900).
- `grid.png`: the picture the grid must decode to (1300x900), for tests to compare.
- `grid-bomb.heic`: the same structure, but the grid's ImageGrid and `ispe` say
  100000x100000: 196x196 tile references (rows*columns, as readers check), all to the one
  tile item, so the file stays small (about 120 kB). A reader that trusts it would allocate
  about 30 GB of RGB; it must fail from the header. libheif 1.15 opens it; libheif 1.23
  (pillow-heif's) refuses it at open under its default security limits (more than 1000
  iref references), so --check lifts them to read the header.

Pillow and pillow-heif cannot write grids, so the boxes are written here with struct; each
tile's HEVC bitstream and `hvcC` come from a single-image HEIC that pillow-heif encodes from
that tile's pixels (same settings for every tile, so one `hvcC` serves all; if a
pillow-heif version makes them differ, each tile gets its own). Same pillow-heif, same bytes.
"""

import argparse
import io
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

TILE = 512
COLUMNS, ROWS = 3, 2
WIDTH, HEIGHT = 1300, 900  # not multiples of TILE: the grid crops its last column and row
BOMB_SIDE = 100_000
QUALITY = 90


def box(kind, payload):
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind, version, flags, payload):
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def children(data, start=0, end=None):
    """(type, payload start, box end) of each box in data[start:end]."""
    end = len(data) if end is None else end
    while start < end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:
            size = end - start
        yield kind, start + header, start + size
        start += size


def child(data, kind, start=0, end=None):
    return next((s, e) for k, s, e in children(data, start, end) if k == kind)


def encode_tile(tile):
    """The `hvcC` box (whole) and the bitstream of a one-image HEIC pillow-heif writes."""
    import pillow_heif

    out = io.BytesIO()
    # Same quality and chroma for every tile, so the parameter sets (hvcC) come out alike.
    pillow_heif.from_pillow(tile).save(out, quality=QUALITY, chroma=420)
    data = out.getvalue()
    meta_start, meta_end = child(data, b"meta")
    meta_start += 4  # meta is a full box
    iprp = child(data, b"iprp", meta_start, meta_end)
    ipco = child(data, b"ipco", *iprp)
    hvcc = next(data[s - 8:e] for k, s, e in children(data, *ipco) if k == b"hvcC")
    # iloc: pillow-heif writes one item with one extent; read it in any version it uses.
    at, _ = child(data, b"iloc", meta_start, meta_end)
    version = data[at]
    sizes = data[at + 4] << 8 | data[at + 5]
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    at += 6
    count, at = (struct.unpack_from(">H", data, at)[0], at + 2) if version < 2 else (struct.unpack_from(">I", data, at)[0], at + 4)
    if count != 1:
        raise SystemExit(f"pillow-heif wrote {count} items; expected one")
    at += 2 if version < 2 else 4  # item_ID
    if version in (1, 2):
        if struct.unpack_from(">H", data, at)[0] & 15 != 0:
            raise SystemExit("pillow-heif's item is not in the file (construction method)")
        at += 2
    at += 2  # data_reference_index

    def read(size):
        nonlocal at
        value = int.from_bytes(data[at:at + size], "big") if size else 0
        at += size
        return value

    base = read(base_size)
    extents = read(2)
    stream = b""
    for _ in range(extents):
        read(index_size)
        offset, length = read(offset_size), read(length_size)
        stream += data[base + offset:base + offset + length]
    return hvcc, stream


def picture():
    """A smooth gradient with shapes across tile seams, so a misplaced tile shows."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    rgb = np.stack(
        [255 * x / (WIDTH - 1), 255 * y / (HEIGHT - 1), 255 * (1 - x / (WIDTH - 1)) * (1 - 0.5 * y / (HEIGHT - 1))],
        axis=-1,
    )
    image = Image.fromarray(np.round(rgb).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((380, 300, 700, 620), fill=(250, 240, 40), outline=(20, 20, 20), width=8)
    draw.rectangle((900, 80, 1250, 420), fill=(230, 30, 30))
    draw.polygon([(150, 850), (420, 560), (640, 860)], fill=(20, 160, 60))
    draw.line((0, 0, WIDTH - 1, HEIGHT - 1), fill=(255, 255, 255), width=10)
    draw.rectangle((1100, 600, 1299, 899), fill=(40, 40, 200))  # touches the cropped corner
    return image


def tiles_of(image):
    """TILE-square tiles, row by row; past the output size the edge pixels repeat, so the
    encoder sees no hard edge where the grid crops."""
    pixels = np.asarray(image)
    padded = np.pad(pixels, ((0, ROWS * TILE - HEIGHT), (0, COLUMNS * TILE - WIDTH), (0, 0)), mode="edge")
    return [
        Image.fromarray(padded[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE])
        for r in range(ROWS)
        for c in range(COLUMNS)
    ]


def heic(hvccs, streams, references, rows, columns, width, height):
    """A grid HEIC: tile items 1..n (one per stream, hvccs[i] its hvcC), the grid item n+1,
    `references` the tile item IDs the grid lists, row by row."""
    n = len(streams)
    grid_id = n + 1
    ftyp = box(b"ftyp", b"heic" + struct.pack(">I", 0) + b"mif1MiHEMiPrmiafMiHBheic")
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I", 0) + b"pict" + bytes(12) + b"\0")
    pitm = full_box(b"pitm", 0, 0, struct.pack(">H", grid_id))
    infes = [full_box(b"infe", 2, 1, struct.pack(">HH", i, 0) + b"hvc1" + b"\0") for i in range(1, n + 1)]
    infes.append(full_box(b"infe", 2, 0, struct.pack(">HH", grid_id, 0) + b"grid" + b"\0"))
    iinf = full_box(b"iinf", 0, 0, struct.pack(">H", len(infes)) + b"".join(infes))
    dimg = box(b"dimg", struct.pack(">HH", grid_id, len(references)) + struct.pack(f">{len(references)}H", *references))
    iref = full_box(b"iref", 0, 0, dimg)
    # ImageGrid: 16-bit output size unless it needs 32 bits (flags bit 0).
    wide = width > 0xFFFF or height > 0xFFFF
    grid = struct.pack(">BBBB", 0, 1 if wide else 0, rows - 1, columns - 1)
    grid += struct.pack(">II" if wide else ">HH", width, height)
    idat = box(b"idat", grid)

    # ipco: the distinct hvcCs, then one ispe for the tiles, colr and pixi for all, the grid's ispe.
    distinct = list(dict.fromkeys(hvccs))
    properties = distinct + [
        full_box(b"ispe", 0, 0, struct.pack(">II", TILE, TILE)),
        # nclx as pillow-heif writes it (BT.709 primaries, sRGB transfer, BT.601 matrix,
        # full range), on the grid too: libheif converts a grid with the grid's colr.
        box(b"colr", b"nclx" + struct.pack(">HHHB", 1, 13, 6, 0x80)),
        full_box(b"pixi", 0, 0, bytes([3, 8, 8, 8])),
        full_box(b"ispe", 0, 0, struct.pack(">II", width, height)),
    ]
    ispe_tile, colr, pixi, ispe_grid = (len(distinct) + k for k in range(1, 5))
    ipco = box(b"ipco", b"".join(properties))
    essential = 0x80
    entries = []
    for i in range(1, n + 1):
        hvcc = distinct.index(hvccs[i - 1]) + 1
        associations = [essential | hvcc, ispe_tile, colr, pixi]
        entries.append(struct.pack(">HB", i, len(associations)) + bytes(associations))
    associations = [ispe_grid, colr, pixi]
    entries.append(struct.pack(">HB", grid_id, len(associations)) + bytes(associations))
    ipma = full_box(b"ipma", 0, 0, struct.pack(">I", len(entries)) + b"".join(entries))
    iprp = box(b"iprp", ipco + ipma)

    def meta(mdat_data_start):
        # iloc version 1: 4-byte offsets and lengths, no base offset; the grid's data in idat.
        items = []
        at = mdat_data_start
        for i, stream in enumerate(streams, 1):
            items.append(struct.pack(">HHHH", i, 0, 0, 1) + struct.pack(">II", at, len(stream)))
            at += len(stream)
        items.append(struct.pack(">HHHH", grid_id, 1, 0, 1) + struct.pack(">II", 0, len(grid)))
        iloc = full_box(b"iloc", 1, 0, struct.pack(">BBH", 0x44, 0x00, len(items)) + b"".join(items))
        return full_box(b"meta", 0, 0, hdlr + pitm + iloc + iinf + iref + iprp + idat)

    # Fixed-width fields: the meta box's size does not depend on the offsets in it.
    start = len(ftyp) + len(meta(0)) + 8
    mdat = box(b"mdat", b"".join(streams))
    return ftyp + meta(start) + mdat


def write(out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    image = picture()
    image.save(out_dir / "grid.png", optimize=False)
    encoded = [encode_tile(tile) for tile in tiles_of(image)]
    hvccs = [hvcc for hvcc, _ in encoded]
    streams = [stream for _, stream in encoded]
    if len(set(hvccs)) > 1:
        print(f"note: the tiles' hvcC differ ({len(set(hvccs))} kinds); each tile gets its own", file=sys.stderr)
    (out_dir / "grid.heic").write_bytes(
        heic(hvccs, streams, list(range(1, len(streams) + 1)), ROWS, COLUMNS, WIDTH, HEIGHT)
    )
    # The bomb: one real tile, referenced once per grid cell: readers check that there are
    # rows*columns references, not that they differ, and 38416 distinct items would exceed
    # libheif's item limits and add 38416 infe boxes.
    side = -(-BOMB_SIDE // TILE)
    (out_dir / "grid-bomb.heic").write_bytes(
        heic(hvccs[:1], streams[:1], [1] * side * side, side, side, BOMB_SIDE, BOMB_SIDE)
    )


def check(out_dir):
    """Opens both files with pillow-heif: grid.heic must decode to grid.png within lossy
    HEVC's error; grid-bomb.heic must say 100000x100000 without being decoded."""
    import pillow_heif

    expected = np.asarray(Image.open(out_dir / "grid.png").convert("RGB"), dtype=np.int16)
    heif = pillow_heif.open_heif(out_dir / "grid.heic")
    decoded = np.asarray(heif, dtype=np.int16)
    ok = heif.size == (WIDTH, HEIGHT) and decoded.shape == expected.shape
    print(f"grid.heic: size {heif.size[0]}x{heif.size[1]} (expected {WIDTH}x{HEIGHT})")
    if ok:
        diff = np.abs(decoded - expected)
        print(f"grid.heic: mean abs diff {diff.mean():.2f}, 99th percentile {np.percentile(diff, 99):.0f}")
        for r in range(ROWS):
            cells = [diff[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE].mean() for c in range(COLUMNS)]
            print(f"  row {r} per-tile mean abs diff: " + ", ".join(f"{m:.2f}" for m in cells))
        ok = diff.mean() < 3
    try:
        pillow_heif.open_heif(out_dir / "grid-bomb.heic")
        print("grid-bomb.heic: opens under pillow-heif's default limits")
    except ValueError as error:
        print(f"grid-bomb.heic: refused under pillow-heif's default limits: {error}")
    # Lifted only to read the header, never to decode.
    pillow_heif.options.DISABLE_SECURITY_LIMITS = True
    try:
        bomb = pillow_heif.open_heif(out_dir / "grid-bomb.heic")
        print(f"grid-bomb.heic: header size {bomb.size[0]}x{bomb.size[1]} "
              f"({(out_dir / 'grid-bomb.heic').stat().st_size} bytes), not decoded")
        ok = ok and bomb.size == (BOMB_SIDE, BOMB_SIDE)
    finally:
        pillow_heif.options.DISABLE_SECURITY_LIMITS = False
    print("check:", "ok" if ok else "FAILED")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="open the files with pillow-heif afterwards")
    args = parser.parse_args()
    write(args.out_dir)
    if args.check and not check(args.out_dir):
        sys.exit(1)


if __name__ == "__main__":
    main()
