"""Points into a local Qdrant from Python (qdrant-client's local mode, no server), as
the Python peers in the benchmark write them: one upsert per batch, a `path` payload."""

import uuid


class LocalQdrant:
    def __init__(self, path, dim, collection="images"):
        from qdrant_client import QdrantClient, models

        self.models = models
        self.collection = collection
        self.client = QdrantClient(path=str(path))
        self.client.create_collection(
            collection, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
        )

    def upsert(self, paths, vectors):
        points = [
            self.models.PointStruct(id=str(uuid.uuid5(uuid.NAMESPACE_URL, str(p))), vector=v.tolist(),
                                    payload={"path": str(p)})
            for p, v in zip(paths, vectors)
        ]
        self.client.upsert(self.collection, points=points, wait=True)

    def close(self):
        count = self.client.count(self.collection).count
        self.client.close()
        return count
