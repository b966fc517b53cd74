#!/usr/bin/env python3
"""Precision and recall of `imbed dupes` on made photos and their copies (issue 25).

    bench_dupes_quality.py --imbed BIN [--sources N] [--distinct M] [--seed S] [--work DIR]
    bench_dupes_quality.py --self-test

Makes the fixture set of scripts/make_dupes_fixtures.py in a temporary folder (or --work),
indexes it with the tiny test model into an embedded store, then runs `imbed dupes` for each
method and threshold: `--method near --max-distance D` for D in --distances, `--method exact`,
`--method semantic --min-score S` for S in --scores, and the defaults. A run's groups are scored
pairwise against truth.json: every pair of files in one predicted group is a predicted pair,
every pair in one true group a true pair; precision = |predicted & true| / |predicted| (1 when
nothing is predicted), recall = |predicted & true| / |true|.

It then says which kinds of copy the defaults miss: per variant kind, the share of variants put
in one group with their source's original, and the Hamming distance between each variant's
`phash` and its original's (read back through `imbed export`).

The semantic rows use the tiny test model (tests/fixtures/model: random weights, 64
dimensions), so they say nothing of CLIP's scores; they show that the method runs and how
its groups are scored. Prints markdown, with the commands that made every number.
"""

import argparse
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_dupes_fixtures  # noqa: E402


# ---- scoring ---------------------------------------------------------------------------------


def pairs_of(groups):
    """Every unordered pair of members within each group."""
    pairs = set()
    for group in groups:
        pairs.update(frozenset(pair) for pair in itertools.combinations(sorted(set(group)), 2))
    return pairs


def true_groups(truth):
    groups = defaultdict(set)
    for path, entry in truth.items():
        groups[entry["group"]].add(path)
    return list(groups.values())


def score(predicted, truth):
    """(precision, recall, true positive pairs, predicted pairs, true pairs) of predicted groups."""
    predicted_pairs, actual = pairs_of(predicted), pairs_of(true_groups(truth))
    hits = len(predicted_pairs & actual)
    precision = hits / len(predicted_pairs) if predicted_pairs else 1.0
    recall = hits / len(actual) if actual else 1.0
    return precision, recall, hits, len(predicted_pairs), len(actual)


def variant_recall(predicted, truth):
    """Per variant kind: (variants in one group with their original, variants, missed paths)."""
    group_of = {}
    for number, group in enumerate(predicted):
        for path in group:
            group_of[path] = number
    kinds = defaultdict(lambda: [0, 0, []])
    for path, entry in sorted(truth.items()):
        if entry["variant"] in ("original", "distinct"):
            continue
        original = f"{entry['group']}-original.jpg"
        kind = "exif" if entry["variant"].startswith("exif") else entry["variant"]
        together = path in group_of and group_of[path] == group_of.get(original)
        kinds[kind][0] += together
        kinds[kind][1] += 1
        if not together:
            kinds[kind][2].append(path)
    return dict(kinds)


def false_joins(predicted, truth):
    """Pairs of true groups that a predicted group joins: ((group, family), (group, family), wrong pairs)."""
    joins = defaultdict(int)
    for group in predicted:
        for a, b in itertools.combinations(sorted(set(group)), 2):
            ga, gb = truth[a]["group"], truth[b]["group"]
            if ga != gb:
                key = tuple(sorted([(ga, truth[a].get("family", "?")), (gb, truth[b].get("family", "?"))]))
                joins[key] += 1
    return [(a, b, count) for (a, b), count in sorted(joins.items())]


def relative(key, root="images"):
    """A point's key (the path as imbed was given it) as a path relative to the fixture folder."""
    key = key.replace("\\", "/")
    marker = f"{root}/"
    return key[key.index(marker) + len(marker):] if marker in key else key


def groups_of(lines):
    """`imbed dupes` JSON lines -> a list of groups (lists of relative paths)."""
    groups = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        group = json.loads(line)
        groups.append([relative(group["keep"]["key"])] + [relative(m["key"]) for m in group["members"]])
    return groups


def self_test():
    truth = {
        "s000-original.jpg": {"group": "s000", "variant": "original"},
        "s000-q20.jpg": {"group": "s000", "variant": "q20"},
        "s000-crop5.jpg": {"group": "s000", "variant": "crop5"},
        "s001-original.jpg": {"group": "s001", "variant": "original"},
        "s001-exif6.jpg": {"group": "s001", "variant": "exif6"},
        "d000.jpg": {"group": "d000", "variant": "distinct"},
        "d001.jpg": {"group": "d001", "variant": "distinct"},
    }
    # 4 true pairs: three in s000, one in s001.
    assert score([], truth) == (1.0, 0.0, 0, 0, 4)
    perfect = [["s000-original.jpg", "s000-q20.jpg", "s000-crop5.jpg"], ["s001-exif6.jpg", "s001-original.jpg"]]
    assert score(perfect, truth) == (1.0, 1.0, 4, 4, 4)
    # The crop missed, a distinct photo joined s001: 2 of 4 true pairs; 1 + 3 predicted pairs.
    lines = [
        json.dumps({"group": 0, "keep": {"key": "x/images/s000-original.jpg"}, "members": [{"key": "x/images/s000-q20.jpg"}]}),
        json.dumps({"group": 1, "keep": {"key": "images/s001-original.jpg"},
                    "members": [{"key": "images/s001-exif6.jpg"}, {"key": "images/d000.jpg"}]}),
    ]
    groups = groups_of(lines)
    assert groups[0] == ["s000-original.jpg", "s000-q20.jpg"], groups
    precision, recall, hits, predicted, actual = score(groups, truth)
    assert (hits, predicted, actual) == (2, 4, 4) and precision == 0.5 and recall == 0.5
    kinds = variant_recall(groups, truth)
    assert kinds["q20"][:2] == [1, 1] and kinds["crop5"][:2] == [0, 1] and kinds["exif"][:2] == [1, 1], kinds
    assert kinds["crop5"][2] == ["s000-crop5.jpg"]
    # Two distinct photos joined: a false pair, no true pair.
    assert score([["d000.jpg", "d001.jpg"]], truth)[:3] == (0.0, 0.0, 0)
    # A member listed twice counts once.
    assert score([["s001-original.jpg", "s001-exif6.jpg", "s001-exif6.jpg"]], truth)[2:] == (1, 1, 4)
    assert false_joins([["d000.jpg", "s001-original.jpg", "s001-exif6.jpg"]], truth) == [
        (("d000", "?"), ("s001", "?"), 2)
    ]
    print("self-test passed")


# ---- running imbed ---------------------------------------------------------------------------


def ort_library():
    if os.environ.get("ORT_DYLIB_PATH"):
        return os.environ["ORT_DYLIB_PATH"]
    found = sorted((REPO / ".venv/lib").glob("python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*"))
    if not found:
        sys.exit("no onnxruntime in .venv: run scripts/setup --dev, or set ORT_DYLIB_PATH")
    return str(found[0])


class Imbed:
    def __init__(self, binary, work):
        self.binary, self.work = str(binary), Path(work)
        self.env = dict(os.environ, ORT_DYLIB_PATH=ort_library())
        for var in list(self.env):
            if var.startswith("IMBED_") or var == "RUST_LOG":
                del self.env[var]
        self.commands = []

    def run(self, *args, record=True):
        """Runs imbed in the work folder: (stdout, seconds)."""
        command = [self.binary, *map(str, args)]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=self.work, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"{shlex.join(command)} exited {result.returncode}:\n{result.stderr}")
        if record:
            self.commands.append(shlex.join(["imbed", *map(str, args)]))
        return result.stdout, seconds

    def help_default(self, command, flag, fallback):
        """The `[default: ...]` of `flag` in `imbed COMMAND --help`."""
        text, _ = self.run(command, "--help", record=False)
        block = None
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("-"):
                block = stripped.split()[0].rstrip(",") == flag or f" {flag}" in stripped.split("  ")[0]
            elif block:
                match = re.search(r"\[default: ([^\]]+)\]", line)
                if match:
                    return match.group(1)
        return fallback


def phash_distances(imbed, truth, collection):
    """Per variant kind, the Hamming distances between each variant's phash and its original's."""
    out = imbed.work / "export.jsonl.d"
    imbed.run("export", "--collection", collection, "--format", "jsonl", "-o", out)
    hashes = {}
    for file in sorted(out.glob("*.jsonl")):
        for line in file.read_text().splitlines():
            point = json.loads(line)
            payload = point["payload"]
            key = payload.get("key") or payload.get("path")
            if payload.get("phash") is not None:
                hashes[relative(key)] = int(payload["phash"], 16)
    kinds = defaultdict(list)
    for path, entry in truth.items():
        if entry["variant"] in ("original", "distinct"):
            continue
        original = f"{entry['group']}-original.jpg"
        kind = "exif" if entry["variant"].startswith("exif") else entry["variant"]
        if path in hashes and original in hashes:
            kinds[kind].append(bin(hashes[path] ^ hashes[original]).count("1"))
    originals = [hashes[p] for p, e in truth.items() if e["variant"] in ("original", "distinct") and p in hashes]
    unrelated = [bin(a ^ b).count("1") for a, b in itertools.combinations(originals, 2)]
    return dict(kinds), unrelated, len(hashes)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imbed", type=Path, help="the imbed binary")
    parser.add_argument("--sources", type=int, default=40)
    parser.add_argument("--distinct", type=int, default=200)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--model", type=Path, default=REPO / "tests/fixtures/model")
    parser.add_argument("--distances", default="0-16", help="near thresholds: A-B or a comma list (0-16)")
    parser.add_argument("--scores", default="0.9,0.95,0.97,0.98,0.99,0.995,0.999")
    parser.add_argument("--work", type=Path, help="keep the fixtures and store here instead of a temporary folder")
    parser.add_argument("--self-test", action="store_true", help="check the scoring on made group outputs and exit")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if not args.imbed:
        parser.error("--imbed BIN is required")
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        return bench(args, args.work)
    with tempfile.TemporaryDirectory(prefix="imbed-dupes-") as work:
        return bench(args, Path(work))


def thresholds(text):
    if "-" in text and "," not in text:
        low, high = map(int, text.split("-"))
        return list(range(low, high + 1))
    return [int(part) for part in text.split(",")]


def bench(args, work):
    started = time.perf_counter()
    truth = make_dupes_fixtures.make(work, args.sources, args.distinct, args.seed)
    made = time.perf_counter() - started
    imbed = Imbed(args.imbed.resolve(), work)
    collection = "dupes"
    # A fresh store and checkpoint, so that a kept --work folder is indexed again from scratch.
    for stale in ["imbed-store", "export.jsonl.d"]:
        shutil.rmtree(work / stale, ignore_errors=True)
    for stale in work.glob("imbed.checkpoint*"):
        stale.unlink()
    _, index_seconds = imbed.run("index", "images", "--model", args.model.resolve(), "--collection", collection, "--json")
    default_distance = int(imbed.help_default("dupes", "--max-distance", "10"))
    default_score = float(imbed.help_default("dupes", "--min-score", "0.97"))

    rows, outputs = [], {}

    def measure(label, threshold, *flags):
        stdout, seconds = imbed.run("dupes", "--collection", collection, *flags)
        groups = groups_of(stdout.splitlines())
        precision, recall, hits, predicted, actual = score(groups, truth)
        rows.append((label, threshold, precision, recall, len(groups), hits, predicted, actual, seconds))
        outputs[(label, threshold)] = groups
        return groups

    measure("exact", "", "--method", "exact")
    for distance in thresholds(args.distances):
        measure("near", str(distance), "--method", "near", "--max-distance", distance)
    measure("exact,near", f"{default_distance} (default)", "--method", "exact,near")
    for min_score in [float(s) for s in args.scores.split(",")]:
        measure("semantic", f"{min_score:g}", "--method", "semantic", "--min-score", min_score)
    measure("exact,near,semantic", f"{default_distance}, {default_score:g} (defaults)")
    distances, unrelated, hashed = phash_distances(imbed, truth, collection)

    sources = args.sources
    files = len(truth)
    print(f"# `imbed dupes`: precision and recall on made photos\n")
    print(f"{files} files: {sources} source photos, each with {len(make_dupes_fixtures.VARIANTS)} variants "
          f"(resized 50%, JPEG q20, PNG, WebP, 5% crop, +10% brightness, EXIF-rotated), "
          f"{min(2, sources)} exact byte copies, and {args.distinct} distinct photos "
          f"(scripts/make_dupes_fixtures.py, seed {args.seed}; made in {made:.0f}s). "
          f"Indexed with the tiny test model in {index_seconds:.1f}s. "
          f"Pairs are counted within groups: {rows[0][7]} true pairs.\n")
    print("The semantic rows use the tiny random-weight test model (tests/fixtures/model), not CLIP: "
          "they show the method and its scoring, not what CLIP's cosine would give.\n")
    print("| method | threshold | precision | recall | groups | true pairs found | predicted pairs | seconds |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, threshold, precision, recall, groups, hits, predicted, actual, seconds in rows:
        print(f"| {label} | {threshold} | {precision:.3f} | {recall:.3f} | {groups} | {hits} | {predicted} | {seconds:.2f} |")

    print(f"\n## Which copies the defaults miss\n")
    print("Per variant kind: the share of variants put in one group with their source's original, and the "
          "Hamming distance between the variant's `phash` and its original's (min / median / max).\n")
    near_default = outputs[("near", str(default_distance))] if ("near", str(default_distance)) in outputs else None
    semantic_key = ("semantic", f"{default_score:g}")
    columns = [("exact", outputs[("exact", "")])]
    if near_default is not None:
        columns.append((f"near {default_distance}", near_default))
    if semantic_key in outputs:
        columns.append((f"semantic {default_score:g} (tiny model)", outputs[semantic_key]))
    columns.append(("all defaults", outputs[rows[-1][0], rows[-1][1]]))
    recalls = [variant_recall(groups, truth) for _, groups in columns]
    print("| variant | " + " | ".join(name for name, _ in columns) + " | phash distance min / median / max |")
    print("|---|" + "---:|" * len(columns) + "---|")
    for kind in sorted(recalls[0]):
        cells = [f"{r[kind][0]}/{r[kind][1]}" for r in recalls]
        ds = sorted(distances.get(kind, []))
        spread = f"{ds[0]} / {ds[len(ds) // 2]} / {ds[-1]}" if ds else "-"
        print(f"| {kind} | " + " | ".join(cells) + f" | {spread} |")
    if near_default is not None:
        missed = sorted(p for r in [recalls[1]] for kind in r for p in r[kind][2])
        if missed:
            print(f"\nMissed by near at {default_distance}: " + ", ".join(missed))
    if near_default is not None:
        joins = false_joins(near_default, truth)
        if joins:
            print(f"\nFalse joins by near at {default_distance} (files of different photos in one group, with their "
                  "families; one wrong link between groups of a and b files makes a x b wrong pairs):\n")
            for (a, fa), (b, fb), count in joins:
                print(f"- {a} ({fa}) with {b} ({fb}): {count} wrong pairs")
            by_family = defaultdict(int)
            for (_, fa), (_, fb), count in joins:
                by_family[fa if fa == fb else f"{fa}/{fb}"] += count
            print("\nWrong pairs by family: " + ", ".join(f"{f} {n}" for f, n in sorted(by_family.items())) + ".")
    close = sorted(unrelated)
    histogram = defaultdict(int)
    for d in close:
        if d <= 16:
            histogram[d] += 1
    print(f"\nAmong the {len(close)} pairs of unrelated photos (originals and distinct photos), the closest phash "
          f"distances: {close[:10]}; pairs at each distance up to 16: "
          + (", ".join(f"{d}: {n}" for d, n in sorted(histogram.items())) or "none") + ".")
    dist_all = sorted(d for ds in distances.values() for d in ds)
    if dist_all:
        odd = sum(d % 2 for d in dist_all + close)
        print(f"{odd} of {len(dist_all) + len(close)} distances are odd" +
              (" (the Median hash sets 32 of 64 bits, so distances come in even steps)." if odd == 0 else "."))
    print(f"\n{hashed} of {files} points have a phash.")
    print("\nCommands (in the work folder; the fixtures from "
          f"`scripts/make_dupes_fixtures.py DIR --sources {sources} --distinct {args.distinct} --seed {args.seed}`):\n")
    print("```sh")
    print(f"ORT_DYLIB_PATH=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*)")
    seen = set()
    for command in imbed.commands:
        short = command.replace(str(args.model.resolve()), "tests/fixtures/model")
        if short not in seen:
            seen.add(short)
            print(short)
    print("```")
    print(f"\nReproduce: scripts/bench_dupes_quality.py --imbed BIN --sources {sources} --distinct {args.distinct} "
          f"--seed {args.seed}  (total {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
