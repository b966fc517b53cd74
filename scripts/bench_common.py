"""Shared pieces of the benchmark scripts (scripts/bench runs them): image listing, a plain
CLIP-style preprocessing with Pillow and numpy, ONNX Runtime sessions, result lines.

Every bench_*.py script prints its result as one JSON object on its last stdout line.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def image_files(arguments, limit=None):
    """Files named, and image files under folders named, in sorted order."""
    files = []
    for argument in map(Path, arguments):
        if argument.is_dir():
            files.extend(sorted(p for p in argument.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file()))
        else:
            files.append(argument)
    return files[:limit] if limit else files


def batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class ClipPreprocess:
    """What a service's worker writes by hand from preprocessor_config.json: resize the
    shortest side with Pillow (the configured filter, bicubic for CLIP), centre crop,
    rescale and normalise with numpy, HWC -> CHW."""

    def __init__(self, model_dir):
        config = json.loads((Path(model_dir) / "preprocessor_config.json").read_text())
        size = config.get("size", {})
        crop = config.get("crop_size", {})
        self.shortest = int(size["shortest_edge"]) if isinstance(size, dict) else int(size)
        self.crop_h = int(crop.get("height", self.shortest)) if isinstance(crop, dict) else int(crop)
        self.crop_w = int(crop.get("width", self.shortest)) if isinstance(crop, dict) else int(crop)
        self.resample = int(config.get("resample", 3))
        self.scale = np.float32(config.get("rescale_factor", 1 / 255))
        self.mean = np.asarray(config.get("image_mean", [0.0, 0.0, 0.0]), dtype=np.float32)
        self.std = np.asarray(config.get("image_std", [1.0, 1.0, 1.0]), dtype=np.float32)

    def __call__(self, image):
        """A PIL RGB image -> float32 [3, crop_h, crop_w]."""
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.shortest * long / short)
        size = (self.shortest, new_long) if width <= height else (new_long, self.shortest)
        image = image.resize(size, resample=self.resample)
        left = (size[0] - self.crop_w) // 2
        top = (size[1] - self.crop_h) // 2
        image = image.crop((left, top, left + self.crop_w, top + self.crop_h))
        pixels = np.asarray(image, dtype=np.float32) * self.scale
        pixels = (pixels - self.mean) / self.std
        return pixels.transpose(2, 0, 1)


def load_rgb(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def ort_session(model_dir, threads, device="cpu"):
    """A session on `device`: cpu, cuda or cuda:N. ONNX Runtime's Python API falls back to the
    CPU when the CUDA provider does not load; here that is an error (SystemExit 2) instead."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    model = Path(model_dir)
    model = model / "model.onnx" if model.is_dir() else model
    if device == "cpu":
        return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    if device != "cuda" and not device.startswith("cuda:"):
        raise SystemExit(f"invalid device {device!r}: expected cpu, cuda or cuda:N")
    device_id = int(device.partition(":")[2] or 0)
    providers = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
    session = ort.InferenceSession(str(model), sess_options=options, providers=providers)
    if session.get_providers()[0] != "CUDAExecutionProvider":
        print(f"error: the CUDA provider of onnxruntime {ort.__version__} did not load on {device} "
              f"(session providers {session.get_providers()}); see ONNX Runtime's messages above",
              file=sys.stderr)
        raise SystemExit(2)
    return session


def embedding_output(session):
    """The output imbed picks by default: image_embeds (or embeddings, pooler_output), else
    the only 2-D output."""
    outputs = session.get_outputs()
    names = [o.name for o in outputs]
    for name in ("image_embeds", "embeddings", "pooler_output"):
        if name in names:
            return name
    two_d = [o.name for o in outputs if len(o.shape) == 2]
    return two_d[0] if len(two_d) == 1 else names[0]


def normalize(vectors):
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def print_vectors(paths, vectors):
    """One JSON line per image, as `imbed embed` prints them."""
    for path, vector in zip(paths, normalize(vectors)):
        print(json.dumps({"path": str(path), "vector": [float(x) for x in vector]}))


def print_result(result):
    print(json.dumps(result), flush=True)


def versions(*distributions):
    """Installed versions of these PyPI distributions (and Python's)."""
    from importlib import metadata

    found = {"python": sys.version.split()[0]}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
