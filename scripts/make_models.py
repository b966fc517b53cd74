#!/usr/bin/env python3
"""Generate deterministic ONNX image encoders for imbed's tests and benchmarks.

    make_models.py tiny  [--out tests/fixtures/model] [--static-out tests/fixtures/model-static]
    make_models.py bench [--out bench/model]

`tiny` writes a cheap CLIP-style encoder (input `pixel_values` [batch,3,224,224];
outputs `last_hidden_state` [batch,49,48] and `image_embeds` [batch,64]) plus a
copy with a static batch of 4. `bench` writes a seeded random-weight model with
the graph shape and FLOPs of CLIP ViT-B/32 vision + projection (`image_embeds`
[batch,512]). Every model directory also gets CLIP's preprocessor_config.json.
Only onnx and numpy are needed; output is byte-identical across runs.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
PRODUCER = "imbed/scripts/make_models.py"

CLIP_PREPROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}


class Graph:
    """Small helper that accumulates nodes and initializers with unique names."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        self.n += 1
        out = out or f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"n{self.n}_{op_type}", **attrs))
        return out

    def model(self, name, inputs, outputs):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=PRODUCER,
            producer_version="1",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def f32(x):
    return np.asarray(x, dtype=np.float32)


def i64(x):
    return np.asarray(x, dtype=np.int64)


def write_dir(out, model):
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.onnx"
    path.write_bytes(model.SerializeToString())
    (out / "preprocessor_config.json").write_text(json.dumps(CLIP_PREPROCESSOR, indent=2) + "\n")
    return path


def param_count(model):
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == TensorProto.FLOAT)


TINY_WIDTH, TINY_DIM = 48, 64


def tiny_model(batch):
    """Patch conv -> quick_gelu -> residual token MLP -> [mean pool ++ 4x4 colour layout] -> LN -> projection."""
    rng = np.random.default_rng(20240611)
    c, grid = TINY_WIDTH, 7
    g = Graph()
    x = "pixel_values"
    w_patch = g.const("patch.weight", f32(rng.normal(0, 1 / np.sqrt(3 * 32 * 32), (c, 3, 32, 32))))
    b_patch = g.const("patch.bias", f32(rng.normal(0, 0.1, c)))
    h = g.op("Conv", [x, w_patch, b_patch], kernel_shape=[32, 32], strides=[32, 32])
    h = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, g.const("gelu.k", f32(1.702))])])])
    h = g.op("Reshape", [h, g.const("shape.tokens_t", i64([0, c, grid * grid]))])
    tokens = g.op("Transpose", [h], perm=[0, 2, 1])
    w_mix = g.const("mix.weight", f32(rng.normal(0, 1 / np.sqrt(c), (c, c))))
    b_mix = g.const("mix.bias", f32(np.zeros(c)))
    mixed = g.op("Relu", [g.op("Add", [g.op("MatMul", [tokens, w_mix]), b_mix])])
    hidden = g.op("Add", [tokens, mixed], out="last_hidden_state")
    pooled = g.op("ReduceMean", [hidden], axes=[1], keepdims=0)
    layout = g.op("AveragePool", [x], kernel_shape=[56, 56], strides=[56, 56])
    layout = g.op("Flatten", [layout], axis=1)
    feats = g.op("Concat", [pooled, layout], axis=1)
    n_feats = c + 3 * 4 * 4
    ln_g = g.const("ln.weight", f32(np.ones(n_feats)))
    ln_b = g.const("ln.bias", f32(np.zeros(n_feats)))
    feats = g.op("LayerNormalization", [feats, ln_g, ln_b], axis=-1, epsilon=1e-5)
    w_proj = g.const("proj.weight", f32(rng.normal(0, 1 / np.sqrt(n_feats), (n_feats, TINY_DIM))))
    g.op("MatMul", [feats, w_proj], out="image_embeds")
    return g.model(
        "imbed_tiny_clip",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [batch, 3, 224, 224])],
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [batch, grid * grid, c]),
            helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, [batch, TINY_DIM]),
        ],
    )


def bench_model(std=0.02, qk_std=0.1):
    """CLIP ViT-B/32 vision tower + visual projection with seeded random weights.

    Query/key weights get a larger std than the rest so attention depends on content;
    with std 0.02 everywhere the CLS output barely varies between images.
    """
    rng = np.random.default_rng(32)
    width, heads, layers, mlp, patch, tokens, dim = 768, 12, 12, 3072, 32, 50, 512
    head_dim = width // heads
    g = Graph()

    def normal(shape, scale=std):
        return f32(rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))

    def layernorm(x, prefix):
        gamma = g.const(f"{prefix}.weight", f32(np.ones(width)))
        beta = g.const(f"{prefix}.bias", f32(np.zeros(width)))
        return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)

    def linear(x, prefix, n_in, n_out, w_std=std):
        w = g.const(f"{prefix}.weight", normal((n_in, n_out), w_std))
        b = g.const(f"{prefix}.bias", f32(np.zeros(n_out)))
        return g.op("Add", [g.op("MatMul", [x, w]), b])

    split_heads = g.const("shape.split_heads", i64([0, tokens, heads, head_dim]))
    merge_heads = g.const("shape.merge_heads", i64([0, tokens, width]))
    scale = g.const("attn.scale", f32(head_dim**-0.5))
    gelu_k = g.const("quick_gelu.k", f32(1.702))

    x = g.op("Conv", ["pixel_values", g.const("embeddings.patch.weight", normal((width, 3, patch, patch)))],
             kernel_shape=[patch, patch], strides=[patch, patch])
    x = g.op("Reshape", [x, g.const("shape.patches", i64([0, width, tokens - 1]))])
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    cls = g.const("embeddings.class", normal((1, 1, width)))
    batch = g.op("Slice", [g.op("Shape", ["pixel_values"]), g.const("slice.start", i64([0])), g.const("slice.end", i64([1]))])
    cls = g.op("Expand", [cls, g.op("Concat", [batch, g.const("shape.cls_tail", i64([1, width]))], axis=0)])
    x = g.op("Concat", [cls, x], axis=1)
    x = g.op("Add", [x, g.const("embeddings.position", normal((1, tokens, width)))])
    x = layernorm(x, "pre_layrnorm")

    for i in range(layers):
        p = f"layers.{i}"
        h = layernorm(x, f"{p}.ln1")
        q, k, v = (
            g.op("Transpose", [g.op("Reshape", [linear(h, f"{p}.attn.{n}", width, width, w_std), split_heads])],
                 perm=perm)
            for n, perm, w_std in (
                ("q", [0, 2, 1, 3], qk_std), ("k", [0, 2, 3, 1], qk_std), ("v", [0, 2, 1, 3], std)
            )
        )
        att = g.op("Softmax", [g.op("Mul", [g.op("MatMul", [q, k]), scale])], axis=-1)
        h = g.op("Transpose", [g.op("MatMul", [att, v])], perm=[0, 2, 1, 3])
        h = linear(g.op("Reshape", [h, merge_heads]), f"{p}.attn.out", width, width)
        x = g.op("Add", [x, h])
        h = linear(layernorm(x, f"{p}.ln2"), f"{p}.mlp.fc1", width, mlp)
        h = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, gelu_k])])])
        x = g.op("Add", [x, linear(h, f"{p}.mlp.fc2", mlp, width)])

    cls_out = g.op("Gather", [x, g.const("cls_index", i64(0))], axis=1)
    cls_out = layernorm(cls_out, "post_layernorm")
    g.op("MatMul", [cls_out, g.const("visual_projection.weight", normal((width, dim), width**-0.5))],
         out="image_embeds")
    return g.model(
        "imbed_bench_clip_vit_b32",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch", dim])],
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["tiny", "bench"])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--static-out", type=Path, help="tiny only: where the static batch-4 copy goes")
    args = ap.parse_args()
    if args.kind == "tiny":
        out = args.out or Path("tests/fixtures/model")
        static_out = args.static_out or out.parent / "model-static"
        for d, m in ((out, tiny_model("batch")), (static_out, tiny_model(4))):
            path = write_dir(d, m)
            print(f"{path}: {path.stat().st_size} bytes, {param_count(m)} params")
    else:
        model = bench_model()
        path = write_dir(args.out or Path("bench/model"), model)
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {param_count(model):,} params")


if __name__ == "__main__":
    main()
