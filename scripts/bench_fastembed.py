#!/usr/bin/env python3
"""(d) fastembed's ImageEmbedding on the bench model folder, points into a local Qdrant.

    bench_fastembed.py --model DIR --qdrant DIR [--threads N] [--batch-size 32] [--parallel P] IMAGE_OR_FOLDER...
    bench_fastembed.py --model DIR --vectors IMAGE...

The model folder is loaded offline as fastembed's `Qdrant/clip-ViT-B-32-vision` with
`specific_model_path=DIR`: fastembed reads its model.onnx and builds its preprocessing from its
preprocessor_config.json. `threads` sets the session's intra-op threads; `--parallel P` uses
fastembed's data-parallel workers instead (default: none, one session). The points, each with
a `path` payload, are upserted batch by batch into qdrant-client's local mode at the --qdrant
folder. Timing starts once the model is loaded and the collection exists, and covers decode +
preprocess + inference + writes. `--vectors` prints the vectors as JSON lines instead.
"""

import argparse
import os
import tempfile

from bench_common import Timer, batches, image_files, print_result, print_vectors, versions

MODEL_NAME = "Qdrant/clip-ViT-B-32-vision"  # what the bench model stands in for


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--parallel", type=int, help="fastembed data-parallel workers (0: one per core)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--qdrant", metavar="DIR", help="local Qdrant folder (default: a temporary one)")
    parser.add_argument("--vectors", action="store_true", help="print the vectors as JSON lines, no timing")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()

    from fastembed import ImageEmbedding

    files = [str(p) for p in image_files(args.images, args.limit)]
    scratch = tempfile.TemporaryDirectory(prefix="bench-fastembed-")
    with Timer() as load:
        embedding = ImageEmbedding(MODEL_NAME, cache_dir=scratch.name, threads=args.threads, cuda=False,
                                   specific_model_path=os.path.abspath(args.model))
    if args.vectors:
        print_vectors(files, list(embedding.embed(files, batch_size=args.batch_size)))
        return

    from bench_qdrant_local import LocalQdrant

    sink = LocalQdrant(args.qdrant or os.path.join(scratch.name, "qdrant"), embedding.embedding_size)
    vectors = embedding.embed(files, batch_size=args.batch_size, parallel=args.parallel)
    with Timer() as timer:
        for chunk in batches(files, args.batch_size):
            sink.upsert(chunk, [next(vectors) for _ in chunk])
        points = sink.close()
    print_result({
        "bench": "fastembed",
        "images": len(files),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "parallel": args.parallel,
        "writes": "local qdrant",
        "points": points,
        "load_seconds": load.seconds,
        "seconds": timer.seconds,
        "images_per_second": len(files) / timer.seconds,
        "versions": versions("fastembed", "qdrant-client", "onnxruntime", "numpy", "pillow"),
    })


if __name__ == "__main__":
    main()
