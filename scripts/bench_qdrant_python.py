"""Points/s that Python's qdrant-client `upload_points` writes over gRPC into a Qdrant server,
with the points of examples/qdrant-upload-bench.rs (random unit vectors, a 4-field payload).
Run by scripts/bench_qdrant_upload.sh beside imbed's rates.

    python scripts/bench_qdrant_python.py GRPC_PORT POINTS DIMENSIONS BATCH..."""

import statistics
import sys
import time
import uuid

import numpy as np
from qdrant_client import QdrantClient, models

RUNS = 3


def main():
    port, count, dimension = (int(arg) for arg in sys.argv[1:4])
    batches = [int(arg) for arg in sys.argv[4:]] or [64, 128, 256]
    rng = np.random.default_rng(7)
    vectors = rng.random((count, dimension), dtype=np.float32) - 0.5
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    points = []
    for i, vector in enumerate(vectors):
        key = f"photos/{i // 1000:03}/img_{i:06}.jpg"
        payload = {"path": key, "width": 4000, "height": 3000, "bytes": 2_400_000}
        points.append(models.PointStruct(id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)), vector=vector.tolist(),
                                         payload=payload))
    client = QdrantClient(host="127.0.0.1", grpc_port=port, prefer_grpc=True, check_compatibility=False)
    print(f"{'target':>12} {'upsert-batch':>12} {'parallel':>9} {'median points/s':>16} {'best points/s':>14}")
    for batch in batches:
        rates = []
        for run in range(RUNS):
            name = f"python-bench-{batch}-{run}"
            client.create_collection(name, vectors_config=models.VectorParams(size=dimension,
                                                                              distance=models.Distance.COSINE))
            started = time.perf_counter()
            client.upload_points(name, points, batch_size=batch, parallel=1, wait=True)
            rates.append(count / (time.perf_counter() - started))
            assert client.count(name, exact=True).count == count, "every point landed"
            client.delete_collection(name)
        print(f"{'python':>12} {batch:>12} {1:>9} {statistics.median(rates):>16.0f} {max(rates):>14.0f}")


if __name__ == "__main__":
    main()
