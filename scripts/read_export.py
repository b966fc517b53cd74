"""Reads an `imbed export` folder with the ecosystem's own readers (pyarrow, numpy) and prints
one JSON object: {"points": {id: {"vector": [...], "payload": {...}}}, "types": {column: type}}.
tests/export.rs compares it with the collection. Usage: read_export.py FORMAT DIR"""

import glob
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def rows(table):
    return table.to_pylist()


def main(fmt, folder):
    points, types = {}, {}
    if fmt == "jsonl":
        for name in sorted(glob.glob(os.path.join(folder, "points_*.jsonl"))):
            with open(name) as lines:
                for line in lines:
                    row = json.loads(line)
                    points[row["id"]] = {"vector": row["vector"], "payload": row["payload"]}
    elif fmt == "parquet":
        # The folder as one dataset, as users read it: the manifest and temporary files are skipped.
        table = pq.read_table(folder)
        vector = table.schema.field("vector").type
        assert pa.types.is_fixed_size_list(vector) and vector.value_type == pa.float32(), vector
        types = {field.name: str(field.type) for field in table.schema}
        for row in rows(table):
            vector = row.pop("vector")
            points[row.pop("id")] = {"vector": vector, "payload": {k: v for k, v in row.items() if v is not None}}
    else:
        embeddings = sorted(glob.glob(os.path.join(folder, "img_emb", "img_emb_*.npy")))
        metadata = sorted(glob.glob(os.path.join(folder, "metadata", "metadata_*.parquet")))
        assert len(embeddings) == len(metadata) and embeddings, (embeddings, metadata)
        for npy, meta in zip(embeddings, metadata):
            array = np.load(npy)
            table = pq.read_table(meta)
            assert array.ndim == 2 and array.shape[0] == table.num_rows, (array.shape, table.num_rows)
            types = {field.name: str(field.type) for field in table.schema}
            types["dtype"] = str(array.dtype)
            for vector, row in zip(array, rows(table)):
                points[row.pop("id")] = {
                    "vector": [float(x) for x in vector],
                    "payload": {k: v for k, v in row.items() if v is not None},
                }
    json.dump({"points": points, "types": types}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
