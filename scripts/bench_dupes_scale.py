#!/usr/bin/env python3
"""`imbed dupes` at scale on synthetic points (issue 25).

    bench_dupes_scale.py --imbed BIN [--points 100000,300000,1000000] [--format parquet|jsonl]
                         [--semantic-at 100000] [--semantic-timeout 900] [--work DIR]

For each N: N points with random 64-dimensional unit vectors and an imbed-like payload (`key`,
`path`, `size_bytes`, `width`, `height`, `mtime`, `content_hash`, `phash`), with planted copies:
1% of the points are exact copies of another point (its content_hash, phash and vector), and 2%
near copies (its phash with 1 to 8 bits flipped, its vector plus a little noise, a content hash
of their own). Every other phash is a random 64-bit number, so some unrelated pairs fall within
the distance by chance (about 1 in 10^8 pairs within 10 bits); real photos' hashes cluster more.

The points are written as one imbed export file (parquet by default: pyarrow writes it in
seconds and imbed reads it faster than JSON lines; `--format jsonl` for one `.jsonl` file) and
imported with `imbed import FILE --store DIR --collection c` into an embedded store. Then timed,
with peak memory (max RSS from /usr/bin/time -v, else the children's ru_maxrss):

    imbed dupes --store DIR --collection c --method exact        (reading the payloads, grouping)
    imbed dupes --store DIR --collection c --method exact,near   (plus multi-index hashing)
    imbed dupes --store DIR --collection c --method semantic     (at --semantic-at only, with a time-out)

and the planted pairs are checked: every planted exact and near pair must be in one group.
Prints a markdown table and the commands.
"""

import argparse
import itertools
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIMENSION = 64
EXACT_SHARE, NEAR_SHARE, MAX_FLIPS = 0.01, 0.02, 8


def synthetic(n, seed):
    """Columns of N points and the planted pairs: (columns, exact pairs, near pairs)."""
    rng = np.random.default_rng([seed, n])
    vectors = rng.standard_normal((n, DIMENSION), dtype=np.float32)
    phash = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(
        0, 2, n, dtype=np.int64
    ).astype(np.uint64)
    content = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    order = rng.permutation(n)
    n_exact, n_near = int(n * EXACT_SHARE), int(n * NEAR_SHARE)
    exact_copies, near_copies = order[:n_exact], order[n_exact:n_exact + n_near]
    originals = order[n_exact + n_near:]
    exact_of = rng.choice(originals, n_exact)
    near_of = rng.choice(originals, n_near)
    content[exact_copies] = content[exact_of]
    phash[exact_copies] = phash[exact_of]
    vectors[exact_copies] = vectors[exact_of]
    flips = rng.integers(1, MAX_FLIPS + 1, n_near)
    masks = np.zeros(n_near, np.uint64)
    for i, k in enumerate(flips):
        for bit in rng.choice(64, k, replace=False):
            masks[i] |= np.uint64(1) << np.uint64(bit)
    phash[near_copies] = phash[near_of] ^ masks
    vectors[near_copies] = vectors[near_of] + rng.standard_normal((n_near, DIMENSION), dtype=np.float32) * 0.08
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    ids = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    ids[:, 6] = (ids[:, 6] & 0x0F) | 0x40
    ids[:, 8] = (ids[:, 8] & 0x3F) | 0x80
    hexed = ids.tobytes().hex()
    id_text = [f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" for h in (hexed[i * 32:(i + 1) * 32] for i in range(n))]
    content_hex = content.tobytes().hex()
    keys = [f"synthetic/{i // 1000:04d}/{i:07d}.jpg" for i in range(n)]
    widths = rng.choice([640, 800, 1024, 1600, 3000, 4032], n)
    heights = (widths * rng.choice([0.5625, 0.75, 1.0, 1.333], n)).astype(np.int64)
    base = 1_600_000_000
    mtimes = base + rng.integers(0, 150_000_000, n)
    columns = {
        "id": id_text,
        "vector": vectors,
        "key": keys,
        "path": keys,
        "size_bytes": (widths * heights * rng.uniform(0.1, 0.4, n)).astype(np.int64),
        "width": widths.astype(np.int64),
        "height": heights,
        "mtime": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t))) for t in mtimes],
        "content_hash": [content_hex[i * 32:(i + 1) * 32] for i in range(n)],
        "phash": [f"{int(h):016x}" for h in phash],
    }
    exact_pairs = list(zip(exact_of.tolist(), exact_copies.tolist()))
    near_pairs = list(zip(near_of.tolist(), near_copies.tolist()))
    return columns, exact_pairs, near_pairs


def write_parquet(columns, path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = columns["vector"]
    arrays, names = [], []
    for name, values in columns.items():
        if name == "vector":
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), DIMENSION))
        elif isinstance(values, np.ndarray):
            arrays.append(pa.array(values, pa.int64()))
        else:
            arrays.append(pa.array(values, pa.string()))
        names.append(name)
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path, row_group_size=65536)


def write_jsonl(columns, path):
    n = len(columns["id"])
    fields = [name for name in columns if name not in ("id", "vector")]
    with open(path, "w") as out:
        for i in range(n):
            payload = {name: (int(columns[name][i]) if isinstance(columns[name], np.ndarray) else columns[name][i])
                       for name in fields}
            out.write(json.dumps({"id": columns["id"][i], "vector": [float(f"{x:.7g}") for x in columns["vector"][i]],
                                  "payload": payload}, separators=(",", ":")) + "\n")


def ort_library(repo):
    if os.environ.get("ORT_DYLIB_PATH"):
        return os.environ["ORT_DYLIB_PATH"]
    found = sorted((repo / ".venv/lib").glob("python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*"))
    return str(found[0]) if found else None


class Runner:
    def __init__(self, binary, work):
        self.binary, self.work = str(binary), Path(work)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IMBED_") and k != "RUST_LOG"}
        library = ort_library(Path(__file__).resolve().parent.parent)
        if library:
            self.env["ORT_DYLIB_PATH"] = library
        self.time = shutil.which("time", path="/usr/bin")
        self.commands = []

    def run(self, args, stdout_to, timeout=None):
        """(seconds, max RSS in MiB, exit code or 'timeout') of `imbed ARGS`, stdout into a file."""
        command = [self.binary, *map(str, args)]
        self.commands.append(shlex.join(["imbed", *map(str, args)]))
        report = self.work / "time.txt"
        wrapped = [self.time, "-v", "-o", str(report), *command] if self.time else command
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        with open(stdout_to, "w") as out, open(self.work / "stderr.txt", "w") as err:
            try:
                code = subprocess.run(wrapped, cwd=self.work, env=self.env, stdout=out, stderr=err, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                return time.perf_counter() - started, None, "timeout"
        seconds = time.perf_counter() - started
        rss = None
        if self.time and report.exists():
            match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())
            rss = int(match.group(1)) / 1024 if match else None
        if rss is None:
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rss = after / 1024 if after > before else None
        if code != 0:
            print(f"{shlex.join(command)} exited {code}: {(self.work / 'stderr.txt').read_text()[-2000:]}", file=sys.stderr)
        return seconds, rss, code


def groups_of(path):
    groups = []
    with open(path) as lines:
        for line in lines:
            if line.strip():
                group = json.loads(line)
                groups.append([group["keep"]["id"]] + [member["id"] for member in group["members"]])
    return groups


def planted_found(groups, ids, pairs):
    group_of = {}
    for number, group in enumerate(groups):
        for point in group:
            group_of[point] = number
    found = sum(1 for a, b in pairs if ids[a] in group_of and group_of[ids[a]] == group_of.get(ids[b]))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imbed", type=Path, required=True)
    parser.add_argument("--points", default="100000,300000,1000000")
    parser.add_argument("--format", choices=["parquet", "jsonl"], default="parquet")
    parser.add_argument("--semantic-at", default="100000", help="sizes (comma list) at which semantic is timed too")
    parser.add_argument("--semantic-timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--work", type=Path, help="a folder to work in (kept) instead of a temporary one")
    args = parser.parse_args()
    sizes = [int(n) for n in args.points.split(",")]
    semantic_at = {int(n) for n in args.semantic_at.split(",") if n}
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        bench(args, sizes, semantic_at, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="imbed-dupes-scale-") as work:
            bench(args, sizes, semantic_at, Path(work))


def bench(args, sizes, semantic_at, work):
    runner = Runner(args.imbed.resolve(), work)
    rows = []
    for n in sizes:
        folder = work / f"n{n}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        started = time.perf_counter()
        columns, exact_pairs, near_pairs = synthetic(n, args.seed)
        file = folder / f"points.{args.format}"
        (write_parquet if args.format == "parquet" else write_jsonl)(columns, file)
        made = time.perf_counter() - started
        ids = columns["id"]
        del columns
        store = folder / "store"
        size_mib = file.stat().st_size / 2**20
        seconds, rss, code = runner.run(["import", file, "--store", store, "--collection", "c", "--quiet"], folder / "import.out")
        rows.append((n, f"import ({args.format}, {size_mib:.0f} MiB, made in {made:.0f}s)", seconds, rss, code, ""))
        print(f"[{n}] import: {seconds:.1f}s, {rss} MiB, exit {code}", file=sys.stderr, flush=True)
        if code != 0:
            continue
        runs = [("exact", None), ("exact,near", None)]
        if n in semantic_at:
            runs.append(("semantic", args.semantic_timeout))
        for method, timeout in runs:
            out = folder / f"dupes-{method}.jsonl"
            seconds, rss, code = runner.run(
                ["dupes", "--store", store, "--collection", "c", "--method", method], out, timeout=timeout
            )
            note = ""
            if code == 0:
                groups = groups_of(out)
                members = sum(len(g) - 1 for g in groups)
                note = f"{len(groups)} groups, {members} duplicates"
                if "exact" in method:
                    note += f"; planted exact pairs found {planted_found(groups, ids, exact_pairs)}/{len(exact_pairs)}"
                if "near" in method:
                    note += f", near {planted_found(groups, ids, near_pairs)}/{len(near_pairs)}"
                if method == "semantic":
                    note += (f"; planted pairs found: exact {planted_found(groups, ids, exact_pairs)}/{len(exact_pairs)}, "
                             f"near (cosine about 0.997) {planted_found(groups, ids, near_pairs)}/{len(near_pairs)}")
            elif code == "timeout":
                note = f"stopped after {args.semantic_timeout:.0f}s"
            rows.append((n, f"dupes --method {method}", seconds, rss, code, note))
            print(f"[{n}] {method}: {seconds:.1f}s, {rss} MiB, exit {code}; {note}", file=sys.stderr, flush=True)
        shutil.rmtree(folder)

    print(f"\n# `imbed dupes` at scale\n")
    print(f"Synthetic points: {DIMENSION}-d random unit vectors, random 64-bit phash, {EXACT_SHARE:.0%} planted exact "
          f"copies, {NEAR_SHARE:.0%} planted near copies (1-{MAX_FLIPS} bits flipped), embedded store, "
          f"{os.cpu_count()} CPU cores. Max RSS includes the store's memory-mapped files.\n")
    print("| points | step | seconds | max RSS (MiB) | exit | result |")
    print("|---:|---|---:|---:|---|---|")
    for n, step, seconds, rss, code, note in rows:
        rss_text = f"{rss:.0f}" if rss else "-"
        print(f"| {n} | {step} | {seconds:.1f} | {rss_text} | {code} | {note} |")
    print("\nCommands (DIR a fresh folder per size):\n\n```sh")
    for command in dict.fromkeys(re.sub(r"\S*/n\d+/", "DIR/", c) for c in runner.commands):
        print(command)
    print("```")
    print(f"\nReproduce: scripts/bench_dupes_scale.py --imbed BIN --points {args.points} --format {args.format} "
          f"--semantic-at {args.semantic_at}")


if __name__ == "__main__":
    main()
