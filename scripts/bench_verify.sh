#!/usr/bin/env bash
# `imbed verify` at scale against the real Qdrant server of ../shared/qdrant (issue 22): for
# each N (default 10,000 and 100,000) a synthetic checkpoint of N done items whose points are
# on the server, then `imbed verify --json` timed, once agreeing and once with 1% deleted.
# Usage: scripts/bench_verify.sh [N...]
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/imbed-target}"
cargo build --release --quiet --bin imbed --example synthetic-checkpoint
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
qdrant_pid=
cleanup() { [ -n "$qdrant_pid" ] && kill "$qdrant_pid" 2>/dev/null && wait "$qdrant_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

tar -xJf ../shared/qdrant/qdrant-v1.16.3-x86_64-linux-gnu.tar.xz -C "$work"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(port); grpc=$(port)
(cd "$work" && QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$http QDRANT__SERVICE__GRPC_PORT=$grpc \
    QDRANT__STORAGE__STORAGE_PATH="$work/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$work/snapshots" \
    QDRANT__TELEMETRY_DISABLED=true exec ./qdrant --disable-telemetry >"$work/qdrant.log" 2>&1) &
qdrant_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done

now() { date +%s%N; }
seconds_since() { local ns=$(( $(now) - $1 )); printf '%d.%03d' $((ns / 1000000000)) $((ns / 1000000 % 1000)); }

echo "| done items | verify, agreeing | exit, checked, points | verify, 1% missing | missing found, exit |"
echo "|---:|---:|---|---:|---|"
for n in "${sizes[@]}"; do
    curl -sf -X DELETE "http://127.0.0.1:$http/collections/images" >/dev/null || true
    ckpt="$work/verify-$n.ckpt"
    "$bin/examples/synthetic-checkpoint" --done-into "http://127.0.0.1:$grpc" "$ckpt" "$n" tests/fixtures/model \
        "$work/store" tests/fixtures/images/*.jpg >/dev/null
    start=$(now)
    code=0
    "$bin/imbed" verify --checkpoint "$ckpt" --json >"$work/agree.json" 2>/dev/null || code=$?
    agree=$(seconds_since "$start")
    counts=$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["checked"], r["points"], sep=", ")' <"$work/agree.json")
    # Delete every hundredth point through REST, then verify again.
    ids=$(python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]["points"]; print(json.dumps({"points":[p["id"] for p in r]}))' \
        < <(curl -sf -X POST "http://127.0.0.1:$http/collections/images/points/scroll" -H 'content-type: application/json' \
            -d "{\"limit\": $((n / 100)), \"with_payload\": false}"))
    curl -sf -X POST "http://127.0.0.1:$http/collections/images/points/delete?wait=true" \
        -H 'content-type: application/json' -d "$ids" >/dev/null
    start=$(now)
    differ_code=0
    "$bin/imbed" verify --checkpoint "$ckpt" --json >"$work/differ.json" 2>/dev/null || differ_code=$?
    differ=$(seconds_since "$start")
    missing=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["missing"])' <"$work/differ.json")
    echo "| $n | $agree s | $code, $counts | $differ s | $missing, $differ_code |"
done
