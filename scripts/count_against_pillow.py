#!/usr/bin/env python3
"""Per format, how many files Pillow + pillow-heif decode and how many `imbed index` stores,
over the folders given (issue 24's "every file Pillow decodes is done").

    count_against_pillow.py --imbed BIN --model MODEL_DIR DIR...

Indexes every folder into a scratch store with imbed, reads each item's state from the
checkpoint, opens each file with Pillow (`Image.open(...).load()`, pillow-heif registered),
and prints a markdown table by extension, then the files where the two disagree. A
measurement: it asserts nothing.
"""

import argparse
import collections
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = 100_000_000  # imbed's --max-pixels default


def pillow_decodes(path):
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except Exception:  # noqa: BLE001 - any refusal counts as "Pillow does not decode it"
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--imbed", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("dirs", nargs="+", type=Path)
    args = parser.parse_args()
    files = sorted(p.resolve() for d in args.dirs for p in d.rglob("*") if p.is_file() and p.suffix != ".json")
    with tempfile.TemporaryDirectory() as work:
        inputs = Path(work, "in")
        inputs.mkdir()
        links = {}
        for number, path in enumerate(files):
            # One flat folder of links, so that every file is walked whatever its extension.
            link = inputs / f"{number:05d}{path.suffix.lower()}"
            os.symlink(path, link)
            links[f"in/{link.name}"] = path
        subprocess.run([args.imbed, "index", "in", "--model", args.model, "--follow-links", "--quiet"], cwd=work,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        states = dict(sqlite3.connect(Path(work, "imbed.checkpoint")).execute(
            "SELECT key, CASE state WHEN 1 THEN 'done' WHEN 2 THEN 'failed: ' || error_class ELSE 'pending' END FROM items"))
    table = collections.defaultdict(lambda: collections.Counter())
    disagree = []
    for key, path in links.items():
        state = states.get(key, "not walked")
        pillow = pillow_decodes(path)
        row = table[path.suffix.lower() or "(none)"]
        row["files"] += 1
        row["pillow"] += pillow
        row["imbed"] += state == "done"
        row["both"] += pillow and state == "done"
        row["unclassed"] += state in ("pending", "not walked")
        if pillow != (state == "done"):
            disagree.append(f"{path}: Pillow {'decodes' if pillow else 'refuses'}, imbed {state}")
    print("| extension | files | Pillow decodes | imbed done | both | pending or unwalked |")
    print("|---|---:|---:|---:|---:|---:|")
    for extension, row in sorted(table.items()):
        print(f"| {extension} | {row['files']} | {row['pillow']} | {row['imbed']} | {row['both']} | {row['unclassed']} |")
    total = collections.Counter()
    for row in table.values():
        total.update(row)
    print(f"| all | {total['files']} | {total['pillow']} | {total['imbed']} | {total['both']} | {total['unclassed']} |")
    for line in disagree:
        print(line)


if __name__ == "__main__":
    main()
