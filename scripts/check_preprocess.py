"""Compare imbed's embeddings with the same ONNX model fed by transformers' CLIPImageProcessor.

Usage: check_preprocess.py --imbed BIN --model DIR [--min-cosine 0.999] IMAGE_OR_FOLDER...

Both sides get the same upright RGB image (EXIF orientation applied, alpha over white), so the
check isolates resizing, cropping and normalisation. Exits 1 if any cosine is below the bound.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def reference_processor(model_dir):
    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor
    return Processor.from_pretrained(model_dir)


def upright_rgb(path):
    image = ImageOps.exif_transpose(Image.open(path))
    if image.mode in ("RGBA", "LA", "P") and (image.mode != "P" or "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def image_files(arguments):
    for argument in map(Path, arguments):
        if argument.is_dir():
            yield from sorted(p for p in argument.rglob("*") if p.suffix.lower() in EXTENSIONS)
        else:
            yield argument


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imbed", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--min-cosine", type=float, default=0.999)
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()

    files = list(image_files(args.images))
    output = subprocess.run(
        [args.imbed, "embed", "--model", args.model, *map(str, files)],
        check=True, capture_output=True, text=True,
    ).stdout
    ours = {line["path"]: np.asarray(line["vector"]) for line in map(json.loads, output.splitlines())}

    processor = reference_processor(args.model)
    session = ort.InferenceSession(str(Path(args.model) / "model.onnx"), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    cosines = []
    for path in files:
        pixels = processor(images=upright_rgb(path), return_tensors="np")["pixel_values"].astype(np.float32)
        reference = session.run(["image_embeds"], {input_name: pixels})[0][0]
        reference = reference / np.linalg.norm(reference)
        cosine = float(np.dot(ours[str(path)], reference))
        cosines.append(cosine)
        if cosine < args.min_cosine:
            print(f"BELOW {args.min_cosine}: {path}: cosine {cosine:.6f}")
    cosines = np.asarray(cosines)
    print(f"{len(cosines)} images: cosine min {cosines.min():.6f}, mean {cosines.mean():.6f}, bound {args.min_cosine}")
    sys.exit(0 if cosines.min() >= args.min_cosine else 1)


if __name__ == "__main__":
    main()
