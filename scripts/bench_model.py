#!/usr/bin/env python3
"""(a) The model alone: ONNX Runtime on already preprocessed tensors of real photos.

    bench_model.py prepare --model DIR --out TENSORS.npy IMAGE_OR_FOLDER...
    bench_model.py run --model DIR --tensors TENSORS.npy [--threads N] [--batch-size 32] [--runs 1]

`prepare` decodes and preprocesses every photo once (Pillow, CLIP-style, as in
bench_pillow_ort.py), outside any timing. `run` loads the tensors, creates the session,
runs one warm-up batch, then times batches over all the tensors (the last one partial) and
prints images/s per run as a JSON object on the last line.
"""

import argparse
import os

import numpy as np

from bench_common import ClipPreprocess, Timer, embedding_output, image_files, load_rgb, ort_session, print_result, versions


def prepare(args):
    preprocess = ClipPreprocess(args.model)
    files = image_files(args.images, args.limit)
    tensors = np.stack([preprocess(load_rgb(path)) for path in files]).astype(np.float32)
    np.save(args.out, tensors)
    print_result({"images": len(files), "shape": list(tensors.shape), "out": str(args.out)})


def run(args):
    tensors = np.load(args.tensors)
    with Timer() as load:
        session = ort_session(args.model, args.threads)
    input_name = session.get_inputs()[0].name
    output = embedding_output(session)
    session.run([output], {input_name: tensors[:args.batch_size]})  # warm-up
    seconds = []
    for _ in range(args.runs):
        with Timer() as timer:
            for start in range(0, len(tensors), args.batch_size):
                session.run([output], {input_name: tensors[start:start + args.batch_size]})
        seconds.append(timer.seconds)
    print_result({
        "bench": "model",
        "images": len(tensors),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "load_seconds": load.seconds,
        "seconds": seconds,
        "images_per_second": [len(tensors) / s for s in seconds],
        "versions": versions("onnxruntime", "numpy", "pillow"),
    })


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("images", nargs="+")
    p.set_defaults(func=prepare)
    r = commands.add_parser("run")
    r.add_argument("--model", required=True)
    r.add_argument("--tensors", required=True)
    r.add_argument("--threads", type=int, default=os.cpu_count())
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--runs", type=int, default=1)
    r.set_defaults(func=run)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
