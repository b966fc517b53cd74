"""What phones and cameras write (issue 24), for make_odd_images.py's `odd` corpus: HEIC
(pillow-heif) and AVIF (Pillow >= 11), with alpha, 10 bits, orientation, several images,
EXIF for the payload, and their truncated, corrupt and oversized copies.

Each decodable file also gets Pillow's upright pixels as OUT_pillow/NAME.png, which
tests/formats.rs embeds next to it (cosine >= 0.999 through the test model).
"""

import io
import struct

import numpy as np
import pillow_heif
from PIL import Image, ImageOps

pillow_heif.register_heif_opener()

# The EXIF of a photo: taken_at with its offset, camera, lens and a GPS position (Paris).
def photo_exif():
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15 Pro"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2024:05:06 07:08:09"
    ifd[0x9011] = "+02:00"
    ifd[0xA434] = "iPhone 15 Pro back triple camera 6.765mm f/1.78"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.16)
    gps[3], gps[4] = "E", (2.0, 17.0, 40.2)
    return exif.tobytes()


def encode(img, fmt, **options):
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def heic_10bit(img):
    """10-bit HEIC from 16-bit RGB samples (pillow-heif keeps the top 10 bits)."""
    rgb16 = (np.asarray(img, dtype=np.uint16) * 257).astype("<u2")
    heif = pillow_heif.from_bytes(mode="RGB;16", size=img.size, data=rgb16.tobytes())
    buffer = io.BytesIO()
    heif.save(buffer, quality=95)
    return buffer.getvalue()


def heic_two_images(primary, other):
    """Two images, the second one primary: the decoder must pick it, not the first."""
    heif = pillow_heif.from_pillow(other)
    heif.add_from_pillow(primary)
    buffer = io.BytesIO()
    heif.save(buffer, quality=95, primary_index=1)
    return buffer.getvalue()


def with_ispe(data, width, height):
    """Every `ispe` (image spatial extents) box rewritten to say width x height."""
    data = bytearray(data)
    at = data.find(b"ispe")
    while at >= 0:
        data[at + 8 : at + 16] = struct.pack(">II", width, height)
        at = data.find(b"ispe", at + 4)
    return bytes(data)


def corrupt(data):
    """The `meta` box's contents overwritten with junk, its size kept: damaged, not cut short."""
    data = bytearray(data)
    at = data.find(b"meta") - 4
    end = at + struct.unpack(">I", data[at : at + 4])[0]
    data[at + 40 : end] = bytes((i * 37 + 11) & 0xFF for i in range(end - at - 40))
    return bytes(data)


def tiff(ifds, little=True):
    """A TIFF of hand-made IFDs, each (entries, subs): entries (tag, type, values), subs a list
    of the IFDs it points to as SubIFDs, or "sub" for an IFD only reached that way; the
    others are chained in order."""
    order = "<" if little else ">"
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 7: 1}
    out = bytearray(b"II*\0" if little else b"MM\0*") + struct.pack(order + "I", 8)

    entries_of = []
    for entries, subs in ifds:
        entries = list(entries)
        if isinstance(subs, list):
            entries.append((330, 4, ["ifd", *subs]))
        entries_of.append((sorted(entries, key=lambda e: e[0]), subs))
    positions, end = [], 8
    for entries, _ in entries_of:
        positions.append(end)
        end += 2 + 12 * len(entries) + 4
    data = bytearray()
    for n, (entries, _) in enumerate(entries_of):
        body = bytearray(struct.pack(order + "H", len(entries)))
        for tag, kind, values in entries:
            if values and values[0] == "ifd":
                values, kind = [positions[i] for i in values[1:]], 4
            raw = bytes(values) if kind in (1, 2, 7) else b"".join(struct.pack(order + ("H" if kind == 3 else "I"), v) for v in values)
            count = len(raw) // sizes[kind]
            if len(raw) <= 4:
                field = raw.ljust(4, b"\0")
            else:
                field = struct.pack(order + "I", end + len(data))
                data += raw + b"\0" * (len(raw) % 2)
            body += struct.pack(order + "HHI", tag, kind, count) + field
        nxt = positions[n + 1] if n + 1 < len(entries_of) and not entries_of[n + 1][1] == "sub" else 0
        body += struct.pack(order + "I", nxt)
        out += body
    return bytes(out + data)


def dng(preview_jpeg, thumb_jpeg, orientation):
    """A DNG as cameras and Adobe write one: an RGB thumbnail in IFD0, a JPEG preview and the
    (here one-pixel) CFA data in SubIFDs, and a smaller JPEG thumbnail in IFD1."""
    thumb = bytes([128, 128, 128] * 8 * 6)
    # Pixel data goes after the IFDs: first lay out with placeholders, then patch offsets.
    def build(offsets):
        ifd0 = [
            (254, 4, [1]), (256, 3, [8]), (257, 3, [6]), (258, 3, [8, 8, 8]), (259, 3, [1]), (262, 3, [2]),
            (271, 2, list(b"Imbed\0")), (272, 2, list(b"Test Camera\0")), (273, 4, [offsets[0]]), (274, 3, [orientation]),
            (277, 3, [3]), (278, 3, [6]), (279, 4, [len(thumb)]), (50706, 1, [1, 4, 0, 0]),
        ]
        preview = [(254, 4, [1]), (259, 3, [7]), (262, 3, [6]), (273, 4, [offsets[1]]), (279, 4, [len(preview_jpeg)])]
        cfa = [(254, 4, [0]), (256, 3, [1]), (257, 3, [1]), (258, 3, [16]), (259, 3, [1]), (262, 3, [32803]),
               (273, 4, [offsets[2]]), (279, 4, [2])]
        ifd1 = [(513, 4, [offsets[3]]), (514, 4, [len(thumb_jpeg)])]
        return tiff([(ifd0, [2, 3]), (ifd1, None), (preview, "sub"), (cfa, "sub")])
    head = build([0, 0, 0, 0])
    offsets, at = [], len(head)
    for blob in (thumb, preview_jpeg, b"\0\0", thumb_jpeg):
        offsets.append(at)
        at += len(blob)
    return build(offsets) + thumb + preview_jpeg + b"\0\0" + thumb_jpeg


def raf(jpeg):
    """A Fujifilm RAF header whose JPEG offset and length (at 84 and 88) point to `jpeg`."""
    head = b"FUJIFILMCCD-RAW 0201FF383501".ljust(84, b"\0") + struct.pack(">II", 100, len(jpeg))
    return head.ljust(100, b"\0") + jpeg


def cr3(jpeg):
    """A Canon CR3: ftyp crx, and a uuid box holding the PRVW preview."""
    prvw = struct.pack(">I", 8 + 16 + len(jpeg)) + b"PRVW" + b"\0" * 16 + jpeg
    uuid = struct.pack(">I", 8 + 16 + len(prvw)) + b"uuid" + bytes(range(16)) + prvw
    ftyp = struct.pack(">I", 24) + b"ftypcrx \0\0\0\x01crx isom"
    return ftyp + uuid


def add_raws(add, done, upright, stored_for):
    """RAW files indexed by their largest JPEG preview, with the RAW's orientation."""
    stored = stored_for(6)
    preview = encode(stored, "JPEG", quality=95)
    small = encode(stored.resize((16, 12)), "JPEG", quality=95)
    add("raw/preview.dng", dng(preview, small, 6), done(tolerance=24))
    add("raw/preview_named.nef", dng(preview, small, 6), done(tolerance=24))
    add("raw/no_preview.dng", dng(b"", b"", 1), {"class": "unsupported"})
    exif6 = Image.Exif()
    exif6[274] = 6
    add("raw/preview.raf", raf(encode(stored, "JPEG", quality=95, exif=exif6.tobytes())), done(tolerance=24))
    add("raw/preview.cr3", cr3(encode(upright, "JPEG", quality=95)), done(tolerance=24))
    truncated = dng(preview, small, 6)
    add("broken/truncated.dng", truncated[: len(truncated) - len(small) - len(preview) // 2], {"class": "truncated"})


def add_photos(out, add, done, upright, with_clear_left, stored_for, half_clear):
    """Adds the HEIC and AVIF files to the corpus, and Pillow's decode of each good one."""
    good = []

    def add_good(name, data, expected):
        add(name, data, expected)
        good.append(name)

    exif6 = Image.Exif()
    exif6[274] = 6
    for ext, fmt in [("heic", "HEIF"), ("avif", "AVIF")]:
        add_good(f"{ext}/rgb8.{ext}", encode(upright, fmt, quality=95), done(tolerance=24))
        rgba = encode(with_clear_left(upright), fmt, quality=95)
        add_good(f"{ext}/alpha.{ext}", rgba, done(half_clear, tolerance=24))
        # Written with irot (the writers turn EXIF orientation into it): libheif turns it back.
        stored = stored_for(6)
        rotated = encode(stored, fmt, quality=95, exif=exif6.tobytes())
        add_good(f"{ext}/orientation_6.{ext}", rotated, done(tolerance=24))
        add_good(f"{ext}/exif.{ext}", encode(upright, fmt, quality=95, exif=photo_exif()), done(tolerance=24))
        add(f"broken/truncated.{ext}", rgba[: len(rgba) * 2 // 3], {"class": "truncated"})
        add(f"broken/corrupt.{ext}", corrupt(rgba), {"class": "corrupt"})
        # The header says 100000 x 100000: refused from it, before any pixel is allocated.
        add(f"large/{ext}_100000x100000.{ext}", with_ispe(rgba, 100000, 100000), {"class": "too_large"})
    add_good("heic/10bit.heic", heic_10bit(upright), done(tolerance=24))
    other = Image.new("RGB", upright.size, (0, 0, 0))
    add_good("heic/second_is_primary.heic", heic_two_images(upright, other), done(tolerance=24))
    add_good("misc/heic_named.jpg", encode(upright, "HEIF", quality=95), done(tolerance=24))
    add_raws(add, done, upright, stored_for)
    add_good("exif/photo.jpg", encode(upright, "JPEG", quality=95, exif=photo_exif()), done(tolerance=24))

    for name in good:
        with Image.open(out / name) as img:
            reference = ImageOps.exif_transpose(img).convert("RGBA")
        path = out.parent / (out.name + "_pillow") / (name + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        reference.save(path)
