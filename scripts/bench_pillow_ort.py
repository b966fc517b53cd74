#!/usr/bin/env python3
"""(e) A plain Pillow + onnxruntime loop with batch inference, as a service's worker runs it.

    bench_pillow_ort.py --model DIR [--threads N] [--batch-size 32] [--qdrant DIR] IMAGE_OR_FOLDER...
    bench_pillow_ort.py --model DIR --vectors IMAGE...

For each batch: Pillow open, convert to RGB, CLIP preprocessing (shortest side to 224 with
the configured filter, centre crop, normalise with numpy), one session.run. One thread
decodes, ONNX Runtime gets N intra-op threads. It writes nothing unless --qdrant DIR, then
each batch is upserted into a local Qdrant (qdrant-client's local mode) at DIR. Timing starts
after the session (and collection) is created and covers decode + preprocess + inference (+ writes).
`--vectors` prints one normalised vector per image as JSON lines instead (the cosine check).
"""

import argparse
import os

import numpy as np

from bench_common import (ClipPreprocess, Timer, batches, embedding_output, image_files, load_rgb, normalize,
                          ort_session, print_result, print_vectors, versions)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--qdrant", metavar="DIR", help="also upsert the points into a local Qdrant at DIR")
    parser.add_argument("--vectors", action="store_true", help="print the vectors as JSON lines, no timing")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()

    files = image_files(args.images, args.limit)
    with Timer() as load:
        session = ort_session(args.model, args.threads)
        preprocess = ClipPreprocess(args.model)
    input_name = session.get_inputs()[0].name
    output = embedding_output(session)

    def embed(paths):
        pixels = np.stack([preprocess(load_rgb(path)) for path in paths])
        return session.run([output], {input_name: pixels})[0]

    if args.vectors:
        for chunk in batches(files, args.batch_size):
            print_vectors(chunk, embed(chunk))
        return

    sink = None
    if args.qdrant:
        from bench_qdrant_local import LocalQdrant

        dim = session.get_outputs()[[o.name for o in session.get_outputs()].index(output)].shape[-1]
        sink = LocalQdrant(args.qdrant, dim)
    with Timer() as timer:
        for chunk in batches(files, args.batch_size):
            vectors = embed(chunk)
            if sink:
                sink.upsert(chunk, normalize(vectors))
        points = sink.close() if sink else None
    print_result({
        "bench": "pillow_ort",
        "images": len(files),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "writes": "local qdrant" if sink else "none",
        "points": points,
        "load_seconds": load.seconds,
        "seconds": timer.seconds,
        "images_per_second": len(files) / timer.seconds,
        "versions": versions("onnxruntime", "numpy", "pillow", "qdrant-client"),
    })


if __name__ == "__main__":
    main()
