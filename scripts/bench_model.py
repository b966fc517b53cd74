#!/usr/bin/env python3
"""(a) The model alone: ONNX Runtime on already preprocessed tensors of real photos.

    bench_model.py prepare --model DIR --out TENSORS.npy [--limit N] IMAGE_OR_FOLDER...
    bench_model.py run --model DIR --tensors TENSORS.npy [--threads N] [--batch-size 32] [--runs 1]
        [--device cpu|cuda[:N]] [--images N] [--batch-sizes 64,256]
    bench_model.py check --model DIR [--device cpu|cuda[:N]]

`prepare` decodes and preprocesses every photo once (Pillow, CLIP-style, as in
bench_pillow_ort.py), outside any timing. `run` loads the tensors, creates the session,
runs one warm-up batch, then times batches over all the tensors (the last one partial) and
prints images/s per run as a JSON object on the last line. `--images N` cycles through the
tensors up to N images (the model's cost does not depend on the pixels), and `--batch-sizes`
times several batch sizes with one session, reported under `by_batch`. Input tensors are host
(numpy) arrays, so on CUDA each batch includes its copy to the GPU, as in imbed.
`check` creates a session on the device and prints what ONNX Runtime offers and uses.
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


def time_batches(session, input_name, output, tensors, batch_size, runs):
    session.run([output], {input_name: tensors[:batch_size]})  # warm-up (and CUDA's kernel choice)
    seconds = []
    for _ in range(runs):
        with Timer() as timer:
            for start in range(0, len(tensors), batch_size):
                session.run([output], {input_name: tensors[start:start + batch_size]})
        seconds.append(timer.seconds)
    return seconds


def run(args):
    tensors = np.load(args.tensors)
    if args.images and args.images != len(tensors):
        tensors = np.ascontiguousarray(np.resize(tensors, (args.images, *tensors.shape[1:])))
    with Timer() as load:
        session = ort_session(args.model, args.threads, args.device)
    input_name = session.get_inputs()[0].name
    output = embedding_output(session)
    sizes = [int(s) for s in args.batch_sizes.split(",")] if args.batch_sizes else [args.batch_size]
    by_batch = {}
    for size in sizes:
        seconds = time_batches(session, input_name, output, tensors, size, args.runs)
        by_batch[str(size)] = {"seconds": seconds, "images_per_second": [len(tensors) / s for s in seconds]}
    first = by_batch[str(sizes[0])]
    print_result({
        "bench": "model",
        "images": len(tensors),
        "batch_size": sizes[0],
        "threads": args.threads,
        "device": args.device,
        "providers": session.get_providers(),
        "load_seconds": load.seconds,
        "seconds": first["seconds"],
        "images_per_second": first["images_per_second"],
        "by_batch": by_batch,
        "versions": versions("onnxruntime", "onnxruntime-gpu", "numpy", "pillow"),
    })


def check(args):
    import onnxruntime as ort

    result = {"version": ort.__version__, "file": ort.__file__, "available_providers": ort.get_available_providers()}
    session = ort_session(args.model, 1, args.device)
    result["session_providers"] = session.get_providers()
    result["versions"] = versions("onnxruntime", "onnxruntime-gpu", "numpy", "pillow", "onnx")
    print_result(result)


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
    r.add_argument("--batch-sizes", metavar="LIST", help="several batch sizes, e.g. 64,256 (overrides --batch-size)")
    r.add_argument("--runs", type=int, default=1)
    r.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    r.add_argument("--images", type=int, help="time over N images, cycling through the tensors")
    r.set_defaults(func=run)
    c = commands.add_parser("check")
    c.add_argument("--model", required=True)
    c.add_argument("--device", default="cpu")
    c.set_defaults(func=check)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
