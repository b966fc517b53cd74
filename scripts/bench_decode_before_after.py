#!/usr/bin/env python3
"""Two builds of examples/decode-bench.rs on the same folders, one after the other in
alternating order: imbed's decode plus preprocessing per core, new over old, with the `image`
crate's full decode (which neither build changes) as the control.

    bench_decode_before_after.py OLD_DECODE_BENCH NEW_DECODE_BENCH ROUNDS DIR...

Prints a markdown table of geometric means. A benchmark: it asserts nothing.
"""

import json
import math
import subprocess
import sys


def rates(binary, folder):
    out = subprocess.run([binary, "--json", "--rounds", "1", folder], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    old, new, rounds, folders = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    ratios = {folder: {"fast": [], "image_crate": []} for folder in folders}
    for round_ in range(rounds):
        for folder in folders:
            order = [("old", old), ("new", new)] if round_ % 2 == 0 else [("new", new), ("old", old)]
            got = {name: rates(binary, folder) for name, binary in order}
            for way in ratios[folder]:
                ratios[folder][way].append(got["new"][f"{way}_per_core"] / got["old"][f"{way}_per_core"])
    mean = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))
    print(f"| files | imbed new/old (geometric mean of {rounds}) | min..max | image crate new/old (control) |")
    print("|---|---:|---:|---:|")
    for folder in folders:
        fast, control = ratios[folder]["fast"], ratios[folder]["image_crate"]
        print(f"| {folder} | {mean(fast):.3f} | {min(fast):.3f}..{max(fast):.3f} | {mean(control):.3f} |")


if __name__ == "__main__":
    main()
