#!/usr/bin/env bash
# Points/s that imbed's server sink writes into a real Qdrant (without and with --bulk) beside
# the loopback stand-in, for 512-dimension vectors and upsert batches of 64-256; then Python's
# qdrant-client `upload_points` into the same server, for comparison.
# Usage: scripts/bench_qdrant_upload.sh [POINTS] [DIMENSIONS]
# The server binary, as the tests find it: IMBED_TEST_QDRANT, `qdrant` on PATH, or the archive
# in ../shared/qdrant/ (unpacked into the cargo target folder).
set -euo pipefail
cd "$(dirname "$0")/.."
points=${1:-20000}
dimensions=${2:-512}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/imbed-target}"

qdrant=${IMBED_TEST_QDRANT:-$(command -v qdrant || true)}
if [ -z "$qdrant" ]; then
    archive=$(ls ../shared/qdrant/qdrant-v*-x86_64-linux-gnu.tar.xz 2>/dev/null | head -1 || true)
    [ -n "$archive" ] || { echo "no Qdrant binary: set IMBED_TEST_QDRANT or put qdrant on PATH" >&2; exit 2; }
    name=$(basename "$archive" .tar.xz)
    qdrant="$CARGO_TARGET_DIR/test-qdrant/$name/qdrant"
    if [ ! -x "$qdrant" ]; then
        mkdir -p "$CARGO_TARGET_DIR/test-qdrant/$name"
        tar -xJf "$archive" -C "$CARGO_TARGET_DIR/test-qdrant/$name"
    fi
fi

cargo build --release --quiet --example qdrant-upload-bench
scripts/setup --dev >/dev/null
.venv/bin/python -m pip install --quiet --disable-pip-version-check qdrant-client

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
grpc_port=$(free_port)
QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$http_port QDRANT__SERVICE__GRPC_PORT=$grpc_port \
    QDRANT__STORAGE__STORAGE_PATH="$work/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$work/snapshots" \
    QDRANT__TELEMETRY_DISABLED=true QDRANT__LOG_LEVEL=WARN "$qdrant" >"$work/qdrant.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null || { cat "$work/qdrant.log" >&2; exit 1; }
echo "Qdrant $("$qdrant" --version 2>/dev/null | head -1) on 127.0.0.1:$grpc_port; $(nproc) cores"
"$CARGO_TARGET_DIR/release/examples/qdrant-upload-bench" "$points" "$dimensions" "http://127.0.0.1:$grpc_port" 2>/dev/null
.venv/bin/python scripts/bench_qdrant_python.py "$grpc_port" "$points" "$dimensions" 64 128 256
