#!/usr/bin/env bash
# Checkpoint at scale: a synthetic checkpoint of N pending items (default 1,000,000), then
# how long `imbed stats --json` takes and how soon `imbed resume` embeds its first batch.
# Usage: scripts/bench_checkpoint.sh [N] [MODEL_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
model=${2:-tests/fixtures/model}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/imbed-target}"
cargo build --release --quiet --bin imbed --example synthetic-checkpoint
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s%N; }
seconds_since() { local ns=$(( $(now) - $1 )); printf '%d.%03d' $((ns / 1000000000)) $((ns / 1000000 % 1000)); }

start=$(now)
"$bin/examples/synthetic-checkpoint" "$work/bench.ckpt" "$n" "$model" "$work/store" tests/fixtures/images/*.jpg
echo "create: $(seconds_since "$start") s"
ls -l "$work/bench.ckpt"

start=$(now)
"$bin/imbed" stats --checkpoint "$work/bench.ckpt" --json >/dev/null
echo "stats --json: $(seconds_since "$start") s"

log="$work/embedded.log"
start=$(now)
IMBED_DEBUG_EMBED_LOG="$log" "$bin/imbed" resume --checkpoint "$work/bench.ckpt" --quiet &
pid=$!
while [ ! -s "$log" ]; do sleep 0.01; done
echo "resume to first embedded batch: $(seconds_since "$start") s"
sleep 3
kill -INT "$pid"; wait "$pid" || true
"$bin/imbed" stats --checkpoint "$work/bench.ckpt"
