#!/usr/bin/env bash
# How long a nightly run with nothing new takes over a big tree, against the walk alone.
# Builds DIR/tree with N empty .jpg files (1000 per folder), indexes it once (every file fails
# as `empty`, which a no-op run skips exactly like a stored one), then times:
#   walk alone:  find's readdir + stat of every file
#   no-op index: imbed index over the same tree with the finished checkpoint
#
#   scripts/bench_noop.sh [N] [DIR]      (defaults: 1000000 /tmp/imbed-noop)
# Needs a release build (IMBED, default $CARGO_TARGET_DIR/release/imbed) and ORT_DYLIB_PATH.
set -euo pipefail
N=${1:-1000000}
DIR=${2:-/tmp/imbed-noop}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMBED=${IMBED:-${CARGO_TARGET_DIR:-$ROOT/target}/release/imbed}
mkdir -p "$DIR"
cd "$DIR"
if [[ ! -f tree.done || $(cat tree.done) != "$N" ]]; then
    rm -rf tree imbed.checkpoint* imbed-store
    python3 - "$N" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    folder = f"tree/d{i // 1000:04}"
    if i % 1000 == 0:
        os.makedirs(folder, exist_ok=True)
    open(f"{folder}/f{i % 1000:04}.jpg", "wb").close()
PY
    echo "$N" > tree.done
fi
summary() { python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); r = s["run"]
print("  items", s["items"]["total"], "| planned", r["planned"], "| unchanged", r["unchanged"], "| deleted", r["deleted"])' "$1"; }
index() { /usr/bin/time -f "  %e s, %M KiB peak" "$IMBED" index tree --model "$ROOT/tests/fixtures/model" --quiet --json "$@" > run.json || true; summary run.json; }
if [[ ! -f imbed.checkpoint ]]; then
    echo "first run (indexes $N files):"
    index
fi
for i in 1 2 3; do
    echo "walk alone (find, readdir + stat), run $i:"
    /usr/bin/time -f "  %e s" find tree -type f -name '*.jpg' -printf '%s %T@\n' > /dev/null
    echo "no-op index, run $i:"
    index
done
