#!/usr/bin/env bash
# `imbed export` at scale (issue 25): for each N (default 10,000 and 100,000) an embedded
# collection of N synthetic points (512 dimensions, an imbed-like payload), then each format
# exported, timed, with the peak memory (max RSS from /usr/bin/time -v) and the output size.
# Peak memory must not grow with N. Usage: [PROFILE=dev] scripts/bench_export.sh [N...]
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/imbed-target}"
profile="${PROFILE:-release}"
cargo build --profile "$profile" --quiet --bin imbed --example synthetic-store
bin="$CARGO_TARGET_DIR/$([ "$profile" = dev ] && echo debug || echo "$profile")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "| points | format | seconds | max RSS (MiB) | output (MiB) | import seconds | import max RSS (MiB) |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    "$bin/examples/synthetic-store" "$work/store" "bench$n" "$n" 512 >/dev/null
    for format in jsonl parquet clip-retrieval; do
        out="$work/out-$n-$format"
        /usr/bin/time -v "$bin/imbed" export --store "$work/store" --collection "bench$n" --format "$format" \
            --rows-per-file 50000 -o "$out" --quiet 2>"$work/time.txt"
        seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
        rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/time.txt")
        size=$(du -sm "$out" | cut -f1)
        /usr/bin/time -v "$bin/imbed" import "$out" --store "$work/store" --collection "copy$n$format" \
            --quiet 2>"$work/time.txt"
        import_seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
        import_rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/time.txt")
        echo "| $n | $format | $seconds | $rss | $size | $import_seconds | $import_rss |"
        rm -rf "$out" "$work/store/copy$n$format" "$work/store/copy$n$format.imbed.json"
    done
done
